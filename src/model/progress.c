/* Fit's progress display: Keras's progress bar on a terminal, one line per epoch elsewhere. */
#include "fit.h"

#include <math.h>
#include <string.h>
#include <unistd.h>

/* ---- progress ------------------------------------------------------------------------- */


/* The bar is redrawn at most once per this many seconds (Keras's progress bar: ten a second), so
 * that a fast loop does not spend its time writing to the terminal. */
#define BAR_INTERVAL 0.1
#define BAR_WIDTH 30

/* A bounded append to a text of cap bytes at *k (which stays below cap). */
#define PUT(buf, cap, k, ...)                                                         \
    do {                                                                              \
        int n_ = snprintf((buf) + *(k), (cap) - *(k), __VA_ARGS__);                   \
        *(k) = n_ < 0 ? *(k) : DC_MIN(*(k) + (size_t)n_, (cap) - 1);                  \
    } while (0)

/* " - loss: 0.4100 - accuracy: 0.8700": tr (the loss, then the metrics), then va's "val_" twins
 * when va is not NULL, then the learning rate unless lr is NaN. */
static void values_text(char *buf, size_t cap, size_t *k, const dc_model *m, const double *tr, const double *va, double lr) {
    PUT(buf, cap, k, " - loss: %.4f", tr[0]);
    for (int i = 0; i < m->nmetrics; i++) PUT(buf, cap, k, " - %s: %.4f", dc_metric_name(m->metrics[i]), tr[1 + i]);
    if (va) {
        PUT(buf, cap, k, " - val_loss: %.4f", va[0]);
        for (int i = 0; i < m->nmetrics; i++) PUT(buf, cap, k, " - val_%s: %.4f", dc_metric_name(m->metrics[i]), va[1 + i]);
    }
    if (!isnan(lr)) PUT(buf, cap, k, " - lr: %.4g", lr);
}

/* "1200/1688 [====================>.........]": Keras's bar, done of the epoch's steps. */
static void bar_text(char *buf, size_t cap, size_t *k, const progress *p, int64_t done) {
    int digits = snprintf(NULL, 0, "%lld", (long long)p->steps);
    int width = (int)(BAR_WIDTH * done / p->steps);
    PUT(buf, cap, k, "%*lld/%lld [", digits, (long long)done, (long long)p->steps);
    for (int i = 0; i < BAR_WIDTH; i++) PUT(buf, cap, k, "%c", i < width - 1 ? '=' : i == width - 1 ? (done < p->steps ? '>' : '=') : '.');
    PUT(buf, cap, k, "]");
}

/* A remaining time as Keras writes it: "42s", "3:05", "1:02:09". */
static void eta_text(char *buf, size_t cap, size_t *k, double secs) {
    long t = (long)(secs + 0.5);
    if (t >= 3600) PUT(buf, cap, k, " - ETA: %ld:%02ld:%02ld", t / 3600, t / 60 % 60, t % 60);
    else if (t >= 60) PUT(buf, cap, k, " - ETA: %ld:%02ld", t / 60, t % 60);
    else PUT(buf, cap, k, " - ETA: %lds", t);
}

static bool is_terminal(FILE *f) {
    int fd = fileno(f);
    return fd >= 0 && isatty(fd);
}

void dc_progress_init(progress *p, const fit_run *f) {
    memset(p, 0, sizeof *p);
    p->f = f->log;
    p->steps = f->steps;
    if (!f->o.verbose || !dc_callback_is_writer()) p->mode = SHOW_NONE;
    else p->mode = f->o.verbose == 1 && is_terminal(f->log) ? SHOW_BAR : SHOW_LINE;
}

void dc_progress_epoch_begin(progress *p, int ep, int epochs) {
    p->t0 = dc_now();
    p->drawn = -1;
    p->len = 0;
    if (p->mode != SHOW_BAR) return;
    fprintf(p->f, "Epoch %d/%d\n", ep + 1, epochs);
    fflush(p->f);
}

/* Writes text over the bar's line: a carriage return, the text, blanks over what a longer
 * earlier drawing left, and end ("" or "\n"). */
static void bar_write(progress *p, const char *text, size_t len, const char *end) {
    int pad = p->len > (int)len ? p->len - (int)len : 0;
    fprintf(p->f, "\r%s%*s%s", text, pad, "", end);
    fflush(p->f);
    p->len = *end ? 0 : (int)len;
}

/* The bar after `done` steps of the epoch, a its running sums (this rank's rows): drawn at the
 * first and last step and otherwise at most once per BAR_INTERVAL. */
void dc_progress_batch(progress *p, const dc_model *m, int64_t done, const dc_acc *a) {
    if (p->mode != SHOW_BAR) return;
    double now = dc_now();
    if (p->drawn >= 0 && now - p->drawn < BAR_INTERVAL && done < p->steps) return;
    p->drawn = now;
    char buf[1024];
    size_t k = 0;
    bar_text(buf, sizeof buf, &k, p, done);
    eta_text(buf, sizeof buf, &k, (now - p->t0) / (double)done * (double)(p->steps - done));
    if (a->rows > 0) {
        double tr[1 + DC_MAX_METRICS];
        tr[0] = a->loss / (double)a->rows;
        for (int i = 0; i < m->nmetrics; i++) tr[1 + i] = dc_obj_metric_value(m, a, i);
        values_text(buf, sizeof buf, &k, m, tr, NULL, NAN);
    }
    bar_write(p, buf, k, "");
}

/* The epoch's final report: the bar's last form ("1688/1688 [===...] - 5s 3ms/step - loss: ...")
 * or its line ("Epoch 3/10 - 5.12s - loss: ..."). done: the steps taken (fewer than the epoch's
 * when a callback stopped training in it). */
void dc_progress_epoch_end(progress *p, const dc_model *m, int ep, int epochs, int64_t done, double secs, const double *tr,
                               const double *va, double lr) {
    if (p->mode == SHOW_NONE) return;
    char buf[1024];
    size_t k = 0;
    if (p->mode == SHOW_BAR) {
        double per = secs / (double)DC_MAX(done, 1);
        bar_text(buf, sizeof buf, &k, p, done);
        PUT(buf, sizeof buf, &k, " - %.0fs", secs);
        if (per >= 1) PUT(buf, sizeof buf, &k, " %.0fs/step", per);
        else if (per >= 1e-3) PUT(buf, sizeof buf, &k, " %.0fms/step", per * 1e3);
        else PUT(buf, sizeof buf, &k, " %.0fus/step", per * 1e6);
        values_text(buf, sizeof buf, &k, m, tr, va, lr);
        bar_write(p, buf, k, "\n");
        return;
    }
    PUT(buf, sizeof buf, &k, "Epoch %d/%d - %.2fs", ep + 1, epochs, secs);
    values_text(buf, sizeof buf, &k, m, tr, va, lr);
    if (done < p->steps) PUT(buf, sizeof buf, &k, " - stopped after batch %lld/%lld", (long long)done, (long long)p->steps);
    fprintf(p->f, "%s\n", buf);
    fflush(p->f);
}

/* Ends a bar left mid-line when training fails, so that what is printed next starts a line. */
void dc_progress_abort(progress *p) {
    if (p->mode == SHOW_BAR && p->len > 0) bar_write(p, "", 0, "\n");
}

#undef PUT

/* ---- history and callbacks -------------------------------------------------------------- */

