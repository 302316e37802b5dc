/* The trainer: the fit loop over epochs and batches with validation, its progress display, the
 * learning-rate schedule's epoch end and the callbacks' hooks. The step itself (forward, loss,
 * backward, the optimiser's update) is step.c's. In a data-parallel run each rank takes its part
 * of every batch and the gradients are summed through the communicator. */
#include "history.h"
#include "step.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

dc_fit_opts dc_fit_defaults(void) {
    dc_fit_opts o;
    memset(&o, 0, sizeof o);
    o.epochs = 1;
    o.batch_size = 32;
    o.shuffle = true;
    o.seed = 42;
    o.verbose = 1;
    o.initial_epoch = -1; /* continue after the epochs the model has done */
    return o;
}

bool dc_callback_is_writer(void) {
    const dc_comm *comm = dc_comm_active();
    return !comm || comm->rank == 0;
}

void dc_callback_free(dc_callback *cb) {
    if (cb && cb->free) cb->free(cb);
}

const dc_history *dc_model_history(const dc_model *m) { return m ? m->hist : NULL; }
int dc_model_epoch(const dc_model *m) { return m ? m->epoch : 0; }

/* One fit's data and settings, decided before its first step. */
typedef struct fit_run {
    dc_fit_opts o;
    dc_inputs x, vxs;
    const dc_tensor *y, *vy;
    FILE *log;
    int64_t N, nval, ntr, batch;
    int64_t steps; /* batches per epoch */
    bool has_val;
    int start;     /* the first epoch this fit trains (0-based) */
    uint64_t seed;
    int64_t *idx; /* the epoch's order of the training rows */
    const dc_comm *comm; /* the data-parallel run's communicator, NULL in one process */
    bool sync;    /* distributed, with layers that synchronise across ranks (BatchNormalization) */
    int batch_cbs; /* callbacks with an on_batch_end hook */
} fit_run;

/* Where a fit's time goes, per step (DEEPC_DIST_STATS=1 prints it). */
typedef struct fit_clock {
    double step, wait, reduce;
    int64_t steps;
} fit_clock;

/* The shuffle and dropout streams of epoch ep: functions of the seed, the epoch and the rank only,
 * so a resumed or continued run draws what an uninterrupted one would have. Every rank shuffles
 * alike; each draws its own dropout masks (rank 0 those of a one-process run). */
static void epoch_rngs(uint64_t seed, int ep, int rank, dc_rng *shuf, dc_rng *drop) {
    dc_rng_seed(shuf, seed + 0x9e3779b97f4a7c15ull * (uint64_t)(ep + 1));
    dc_rng_seed(drop, (seed ^ 0x5eedd40f0ull) + 0xd1b54a32d192ed03ull * (uint64_t)(ep + 1) + 0x2545f4914f6cdd1dull * (uint64_t)rank);
}

/* ---- progress ------------------------------------------------------------------------- */

/* How fit shows its progress: nothing (verbose 0, or not the writer rank), Keras's bar rewritten
 * in place (verbose 1 on a terminal), or one line per epoch (verbose 2, or 1 elsewhere). */
typedef enum show_mode { SHOW_NONE, SHOW_BAR, SHOW_LINE } show_mode;

typedef struct progress {
    show_mode mode;
    FILE *f;
    int64_t steps; /* batches per epoch */
    double t0;     /* the epoch's start */
    double drawn;  /* when the bar was last drawn, < 0 when not yet this epoch */
    int len;       /* characters of the bar's last drawing, which a shorter one must blank */
} progress;

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

static void progress_init(progress *p, const fit_run *f) {
    memset(p, 0, sizeof *p);
    p->f = f->log;
    p->steps = f->steps;
    if (!f->o.verbose || !dc_callback_is_writer()) p->mode = SHOW_NONE;
    else p->mode = f->o.verbose == 1 && is_terminal(f->log) ? SHOW_BAR : SHOW_LINE;
}

static void progress_epoch_begin(progress *p, int ep, int epochs) {
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
static void progress_batch(progress *p, const dc_model *m, int64_t done, const dc_acc *a) {
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
static void progress_epoch_end(progress *p, const dc_model *m, int ep, int epochs, int64_t done, double secs, const double *tr,
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
static void progress_abort(progress *p) {
    if (p->mode == SHOW_BAR && p->len > 0) bar_write(p, "", 0, "\n");
}

#undef PUT

/* ---- history and callbacks -------------------------------------------------------------- */

static dc_status record(dc_history *h, int ep, const dc_model *m, const double *tr, const double *va, double lr, double secs) {
    char key[64];
    dc_status s = dc_history_record(h, ep, "loss", tr[0]);
    for (int i = 0; !s && i < m->nmetrics; i++) s = dc_history_record(h, ep, dc_metric_name(m->metrics[i]), tr[1 + i]);
    if (va) {
        if (!s) s = dc_history_record(h, ep, "val_loss", va[0]);
        for (int i = 0; !s && i < m->nmetrics; i++) {
            snprintf(key, sizeof key, "val_%s", dc_metric_name(m->metrics[i]));
            s = dc_history_record(h, ep, key, va[1 + i]);
        }
    }
    if (!s) s = dc_history_record(h, ep, "lr", lr);
    if (!s) s = dc_history_record(h, ep, "seconds", secs);
    return s;
}

/* The model's history cut to its first k epochs (none: no history) and its epoch count set to
 * k, for a fit that starts after epoch k. */
static dc_status keep_epochs(dc_model *m, int k) {
    m->epoch = k;
    if (!m->hist) return DC_OK;
    if (k == 0) {
        dc_history_free(m->hist);
        m->hist = NULL;
        return DC_OK;
    }
    if (dc_history_epochs(m->hist) <= k) return DC_OK;
    dc_history *h = dc_history_new();
    if (!h) return DC_ERR_NOMEM;
    for (int i = 0; i < dc_history_num_series(m->hist); i++) {
        const char *name = dc_history_series_name(m->hist, i);
        const double *v = dc_history_get(m->hist, name);
        for (int e = 0; e < k; e++)
            if ((e == 0 || !isnan(v[e])) && dc_history_record(h, e, name, v[e])) {
                dc_history_free(h);
                return DC_ERR_NOMEM;
            }
    }
    dc_history_free(m->hist);
    m->hist = h;
    return DC_OK;
}

/* The callbacks' hooks, in the order given; the first error stops the rest. */
static dc_status batch_end(dc_model *m, const fit_run *f, int ep, int64_t b, double loss, bool *stop) {
    for (int i = 0; i < f->o.ncallbacks; i++) {
        dc_callback *cb = f->o.callbacks[i];
        dc_status s = cb && cb->on_batch_end ? cb->on_batch_end(cb, m, &f->o, ep, b, loss, stop) : DC_OK;
        if (s) return s;
    }
    return DC_OK;
}

static dc_status epoch_end(dc_model *m, const fit_run *f, int ep, bool *stop) {
    for (int i = 0; i < f->o.ncallbacks; i++) {
        dc_callback *cb = f->o.callbacks[i];
        dc_status s = cb && cb->on_epoch_end ? cb->on_epoch_end(cb, m, &f->o, ep, stop) : DC_OK;
        if (s) return s;
    }
    return DC_OK;
}

static dc_status train_end(dc_model *m, const fit_run *f) {
    for (int i = 0; i < f->o.ncallbacks; i++) {
        dc_callback *cb = f->o.callbacks[i];
        dc_status s = cb && cb->on_train_end ? cb->on_train_end(cb, m, &f->o) : DC_OK;
        if (s) return s;
    }
    return DC_OK;
}

/* A stop asked on any rank stops every rank (a collective call in a data-parallel fit). */
static dc_status agree_stop(const dc_comm *comm, bool *stop) {
    if (!comm) return DC_OK;
    int64_t v = *stop, lo, hi;
    dc_status s = comm->minmax(&v, 1, &lo, &hi);
    if (!s) *stop = hi != 0;
    return s;
}

/* ---- setup -------------------------------------------------------------------------------- */

/* Where this fit starts (f->start, f->seed), after the callbacks' on_train_begin, which may have
 * restored a checkpoint. */
static dc_status fit_start(dc_model *m, fit_run *f) {
    const dc_fit_opts *o = &f->o;
    bool resumed = m->resuming && o->initial_epoch == -1;
    f->seed = o->seed;
    if (resumed) {
        if (m->fit_rows != f->ntr || m->fit_batch != f->batch)
            return dc_error(DC_ERR_ARG, "fit: the checkpoint was written by a fit on %lld rows in batches of %lld; this one has %lld rows "
                            "in batches of %lld", (long long)m->fit_rows, (long long)m->fit_batch, (long long)f->ntr, (long long)f->batch);
        f->seed = m->fit_seed; /* the run being continued decides its random streams */
        f->start = m->epoch;
    } else if (o->initial_epoch == -1) {
        /* continue after the model's epochs (0 before any fit), training `epochs` more: a loop
         * of fit(epochs = 1) calls trains one epoch each and the history grows */
        f->start = m->epoch;
        if (f->o.epochs > INT32_MAX - f->start)
            return dc_error(DC_ERR_ARG, "fit: %d epochs after the model's %d overflow the epoch count", f->o.epochs, f->start);
        f->o.epochs += f->start;
    } else {
        f->start = o->initial_epoch;
    }
    /* a resumed run that had reached its epochs has nothing left to do: rerunning a finished
     * job is not an error. With an explicit initial_epoch, epochs is the epoch to reach. */
    if (o->epochs <= f->start && !resumed)
        return dc_error(DC_ERR_ARG, "fit: epochs %d is not beyond initial_epoch %d: nothing to train (with initial_epoch, epochs is the "
                        "epoch to reach, as Keras's)", o->epochs, o->initial_epoch);
    return o->initial_epoch >= 0 ? keep_epochs(m, f->start) : DC_OK;
}

/* The fit's sample weights (one finite value >= 0 per row of y) and class weights (one per
 * class of the output's last axis), which the objective then applies. */
static dc_status check_weights(const dc_model *m, const dc_fit_opts *o, const dc_tensor *y) {
    const dc_tensor *sw = o->sample_weight, *cw = o->class_weight;
    int64_t classes = dc_obj_classes(m);
    if (sw && (sw->ndim != 1 || sw->shape[0] != y->shape[0] || !dc_tensor_is_contiguous(sw)))
        return dc_error(DC_ERR_SHAPE, "fit: sample_weight must be a contiguous [%lld] tensor, one weight per row of y, got %s",
                        (long long)y->shape[0], dc_tshape(sw, 0));
    if (cw && (cw->ndim != 1 || cw->shape[0] != classes || !dc_tensor_is_contiguous(cw)))
        return dc_error(DC_ERR_SHAPE, "fit: class_weight must be a contiguous [%lld] tensor, one weight per class, got %s",
                        (long long)classes, dc_tshape(cw, 0));
    for (int k = 0; k < 2; k++) {
        const dc_tensor *t = k ? cw : sw;
        for (int64_t i = 0; t && i < t->numel; i++)
            if (!(t->data[i] >= 0) || !isfinite(t->data[i]))
                return dc_error(DC_ERR_ARG, "fit: %s[%lld] is %g; weights must be finite and >= 0", k ? "class_weight" : "sample_weight",
                                (long long)i, (double)t->data[i]);
    }
    if ((sw || cw) && m->user_loss) return dc_error(DC_ERR_ARG, "fit: sample and class weights need a built-in loss, not a user loss");
    return DC_OK;
}

/* Checks the arguments and prepares f (after the callbacks' on_train_begin, which may restore a
 * checkpoint); on this rank only. */
static dc_status fit_setup(dc_model *m, int nx, const dc_tensor *const *xs, const dc_tensor *y, const dc_fit_opts *opts, fit_run *f) {
    if (!xs) return dc_error(DC_ERR_ARG, "fit: x is NULL");
    f->o = opts ? *opts : dc_fit_defaults();
    dc_fit_opts *o = &f->o;
    f->x = dc_make_inputs(nx, xs);
    f->y = y;
    dc_status s = dc_check_xy(m, &f->x, y, "fit");
    if (s || (s = check_weights(m, o, y))) return s;
    if (o->epochs <= 0) return dc_error(DC_ERR_ARG, "fit: epochs must be positive, got %d", o->epochs);
    if (o->batch_size <= 0) return dc_error(DC_ERR_ARG, "fit: batch_size must be positive, got %lld", (long long)o->batch_size);
    if (o->verbose < 0 || o->verbose > 2)
        return dc_error(DC_ERR_ARG, "fit: verbose must be 0 (silent), 1 (a progress bar, or a line per epoch when the log is not a "
                        "terminal) or 2 (a line per epoch), got %d", o->verbose);
    if (o->initial_epoch < -1)
        return dc_error(DC_ERR_ARG, "fit: initial_epoch must be -1 (continue after the model's epochs) or an epoch >= 0, got %d",
                        o->initial_epoch);
    if (!(o->validation_split >= 0 && o->validation_split < 1))
        return dc_error(DC_ERR_ARG, "fit: validation_split %g is outside [0, 1)", (double)o->validation_split);
    const dc_tensor *const *val_x = o->val_xs ? o->val_xs : o->val_x ? &o->val_x : NULL;
    if ((val_x == NULL) != (o->val_y == NULL)) return dc_error(DC_ERR_ARG, "fit: give both val_x (or val_xs) and val_y, or neither");
    if (val_x) f->vxs = dc_make_inputs(nx, val_x);
    if (o->ncallbacks < 0 || (o->ncallbacks > 0 && !o->callbacks))
        return dc_error(DC_ERR_ARG, "fit: %d callbacks given%s", o->ncallbacks, o->ncallbacks > 0 ? " but the array is NULL" : "");
    if (val_x && (s = dc_check_xy(m, &f->vxs, o->val_y, "fit (validation data)"))) return s;
    f->log = o->log ? o->log : stdout;
    f->N = y->shape[0];
    f->vy = o->val_y;
    if (!val_x && o->validation_split > 0) {
        f->nval = (int64_t)((double)f->N * o->validation_split);
        if (f->nval == 0 || f->nval == f->N)
            return dc_error(DC_ERR_ARG, "fit: validation_split %g of %lld rows leaves an empty part", (double)o->validation_split,
                            (long long)f->N);
    }
    f->has_val = val_x || f->nval;
    f->ntr = f->N - f->nval;
    f->batch = DC_MIN(o->batch_size, f->ntr);
    f->steps = (f->ntr + f->batch - 1) / f->batch;
    for (int i = 0; i < o->ncallbacks; i++) {
        dc_callback *cb = o->callbacks[i];
        f->batch_cbs += cb && cb->on_batch_end;
        if (cb && cb->on_train_begin && (s = cb->on_train_begin(cb, m, o))) return s;
    }
    if ((s = fit_start(m, f))) return s;
    if ((s = dc_ensure_staging(m, &f->x, y, f->batch))) return s;
    f->idx = dc_alloc((size_t)f->ntr * sizeof *f->idx);
    if (!m->hist) m->hist = dc_history_new();
    if (!f->idx || !m->hist) return DC_ERR_NOMEM;
    m->resuming = false;
    m->fit_seed = f->seed;
    m->fit_rows = f->ntr;
    m->fit_batch = f->batch;
    return DC_OK;
}

/* Every rank's fit must walk the same epochs and batches: their counts agree, or all stop. */
static dc_status check_ranks_agree(const fit_run *f) {
    if (!f->comm) return DC_OK;
    const char *what[] = {"the training rows", "the batch size", "the epochs", "the first epoch (resumed, continued or initial_epoch)",
                          "the seed", "the validation rows", "shuffle", "the callbacks with an on_batch_end hook"};
    int64_t v[] = {f->ntr, f->batch, f->o.epochs, f->start, (int64_t)(f->seed & 0x7fffffffffffffffull),
                   f->vy ? f->vy->shape[0] : f->nval, f->o.shuffle, f->batch_cbs};
    int64_t lo[DC_ARRAY_LEN(v)], hi[DC_ARRAY_LEN(v)];
    dc_status s = f->comm->minmax(v, (int)DC_ARRAY_LEN(v), lo, hi);
    for (size_t i = 0; !s && i < DC_ARRAY_LEN(v); i++)
        if (lo[i] != hi[i])
            s = dc_error(DC_ERR_ARG, "fit: the ranks disagree on %s (from %lld to %lld); every rank must pass the same data and options",
                         what[i], (long long)lo[i], (long long)hi[i]);
    return s;
}

/* Synchronised batch statistics are collectives inside every step's forward and backward: every
 * rank must take a step on rows of its own, so each batch, the last one too, needs a row per rank. */
static dc_status check_sync_bn(const dc_model *m, fit_run *f) {
    for (int i = 0; i < m->nlayers && f->comm; i++) { /* layers whose type has the option, switched on */
        const dc_layer_type *t = m->layers[i]->type;
        double on = 0;
        if (dc_field_find(t->fields, t->nfields, "synchronized") && dc_layer_get_field(m->layers[i], "synchronized", &on) == 1)
            f->sync |= on != 0;
    }
    if (!f->sync) return DC_OK;
    int64_t last = f->ntr % f->batch ? f->ntr % f->batch : f->batch, least = DC_MIN(f->batch, last), R = f->comm->size;
    if (least < R)
        return dc_error(DC_ERR_ARG, "fit: synchronised BatchNormalization needs a row of every batch on each of the %lld ranks, but %s "
                        "has %lld row%s (%lld training rows in batches of %lld); change batch_size or the training rows",
                        (long long)R, least == f->batch ? "each batch" : "the last batch", (long long)least, least == 1 ? "" : "s",
                        (long long)f->ntr, (long long)f->batch);
    return DC_OK;
}

/* ---- the loop ----------------------------------------------------------------------------- */

/* The message of a failed step names where training stopped. */
static dc_status step_error(dc_status s, int ep, int64_t b) {
    if (s == DC_ERR_NUMERIC) {
        char why[256];
        snprintf(why, sizeof why, "%s", dc_last_error());
        dc_error(DC_ERR_NUMERIC, "fit: %s at epoch %d, batch %lld; training stopped (lower the learning rate or check the data)", why,
                 ep + 1, (long long)b + 1);
    } else if (s) {
        dc_error_prefix("fit: epoch %d, batch %lld", ep + 1, (long long)b + 1);
    }
    return s;
}

/* One epoch of optimisation steps, its loss and metrics summed into a and the steps taken in
 * *done (fewer than the epoch's when a batch callback sets *stop). Of every global batch of n
 * rows this rank takes its contiguous part (all of it in one process), weighs its mean gradient
 * by its share of the rows, and the sum over the ranks is the gradient of the whole batch. A
 * collective call: a rank's failure reaches all at the next step's check point. */
static dc_status train_epoch(dc_model *m, fit_run *f, int ep, dc_acc *a, fit_clock *clk, progress *pg, bool *stop, int64_t *done) {
    dc_rng shuf;
    epoch_rngs(f->seed, ep, f->comm ? f->comm->rank : 0, &shuf, &m->rng);
    for (int64_t i = 0; i < f->ntr; i++) f->idx[i] = i;
    if (f->o.shuffle) dc_rng_shuffle(&shuf, f->idx, f->ntr);
    dc_status s = DC_OK;
    *done = 0;
    for (int64_t r = 0, b = 0; r < f->ntr && !*stop; r += f->batch, b++) {
        double t0 = dc_now();
        int64_t n = DC_MIN(f->batch, f->ntr - r), lo, hi;
        dc_my_part(r, r + n, &lo, &hi);
        int64_t nr = hi - lo;
        step_out so = {0};
        if (!s && nr > 0) {
            dc_gather_all(m, &f->x, f->y, f->idx, lo, nr);
            s = dc_step_grad(m, &f->x, f->y, nr, &so, f->sync ? f->comm : NULL, (float)nr / (float)n);
            if (!s && nr != n) {
                float w = (float)nr / (float)n;
                for (int64_t i = 0; i < m->ptotal; i++) m->gbuf[i] *= w;
            }
            step_error(s, ep, b);
        } else if (!s) {
            memset(m->gbuf, 0, (size_t)m->ptotal * sizeof(float));
        }
        double t1 = dc_now();
        if ((s = dc_comm_agree(f->comm, s, "fit"))) return s;
        double t2 = dc_now();
        s = dc_comm_sum_f(f->comm, m->gbuf, m->ptotal);
        double t3 = dc_now();
        if (!s) s = dc_step_update(m, nr ? &so : NULL, nr, a);
        step_error(s, ep, b);
        clk->wait += t2 - t1;
        clk->reduce += t3 - t2;
        clk->step += dc_now() - t0;
        clk->steps++;
        if (!s) *done = b + 1;
        if (f->batch_cbs) { /* every rank calls them: the stop is agreed after each */
            if (!s && (s = batch_end(m, f, ep, b, nr ? (double)so.loss : NAN, stop)))
                dc_error_prefix("fit: epoch %d, batch %lld", ep + 1, (long long)b + 1);
            dc_status e = agree_stop(f->comm, stop);
            if (!s) s = e;
        }
        if (!s) progress_batch(pg, m, b + 1, a);
    }
    return dc_comm_agree(f->comm, s, "fit");
}

static void print_clock(const dc_model *m, const fit_clock *k) {
    if (!k->steps || !dc_callback_is_writer()) return;
    const char *e = getenv("DEEPC_DIST_STATS");
    if (!e || !*e || strcmp(e, "0") == 0) return;
    double n = (double)k->steps, step = 1e3 * k->step / n;
    fprintf(stderr,
            "dist: ranks=%d steps=%lld step_ms=%.3f allreduce_ms=%.3f allreduce_pct=%.1f wait_ms=%.3f wait_pct=%.1f grad_mb=%.2f\n",
            dc_comm_active() ? dc_comm_active()->size : 1, (long long)k->steps, step, 1e3 * k->reduce / n, 100 * k->reduce / k->step,
            1e3 * k->wait / n, 100 * k->wait / k->step, (double)m->ptotal * 4 / 1048576.0);
}

dc_status dc_model_fit_n(dc_model *m, int nx, const dc_tensor *const *xs, const dc_tensor *y, const dc_fit_opts *opts,
                         dc_history **history) {
    if (history) *history = NULL;
    fit_run f;
    memset(&f, 0, sizeof f);
    f.comm = dc_comm_active();
    dc_status s = dc_comm_agree(f.comm, fit_setup(m, nx, xs, y, opts, &f), "fit");
    if (!s) s = check_ranks_agree(&f);
    if (!s) s = check_sync_bn(m, &f);
    /* every rank starts from rank 0's weights */
    if (!s && f.comm && !(s = f.comm->bcast_f(m->pbuf, m->ptotal))) s = f.comm->bcast_f(m->sbuf, m->stotal);
    if (s) {
        dc_free(f.idx);
        return s;
    }
    /* the weights reach the objective through the model for this fit: the sample weights follow
     * the rows of y wherever they are staged, the class weights weigh training steps only */
    m->sample_weight = f.o.sample_weight;
    m->sw_y = y;
    m->class_weight = f.o.class_weight;
    double tr[1 + DC_MAX_METRICS], va[1 + DC_MAX_METRICS];
    fit_clock clk = {0};
    progress pg;
    progress_init(&pg, &f);
    bool stop = false;
    for (int ep = f.start; ep < f.o.epochs && !s && !stop; ep++) {
        double t0 = dc_now();
        dc_acc a;
        memset(&a, 0, sizeof a);
        int64_t done = 0;
        progress_epoch_begin(&pg, ep, f.o.epochs);
        if ((s = train_epoch(m, &f, ep, &a, &clk, &pg, &stop, &done)) || (s = dc_reduce_acc(m, &a))) break;
        tr[0] = a.loss / (double)a.rows;
        for (int i = 0; i < m->nmetrics; i++) tr[1 + i] = dc_obj_metric_value(m, &a, i);
        /* batch norm's running statistics: rank 0's on every rank */
        if (f.comm && m->stotal && (s = f.comm->bcast_f(m->sbuf, m->stotal))) break;
        if (f.vy) s = dc_eval_rows(m, &f.vxs, f.vy, 0, f.vy->shape[0], f.o.batch_size, va, "fit");
        else if (f.nval) s = dc_eval_rows(m, &f.x, f.y, f.ntr, f.N, f.o.batch_size, va, "fit");
        if (s) break;
        double secs = dc_now() - t0, lr = dc_optimizer_current_lr(m->opt);
        progress_epoch_end(&pg, m, ep, f.o.epochs, done, secs, tr, f.has_val ? va : NULL, dc_optimizer_schedule(m->opt) ? lr : NAN);
        s = record(m->hist, ep, m, tr, f.has_val ? va : NULL, lr, secs);
        /* the schedule's epoch end (ReduceLROnPlateau) before the callbacks, so that a checkpoint
         * written by one holds the schedule's state after this epoch */
        if (!s) s = dc_optimizer_epoch_end(m->opt, f.has_val ? va[0] : tr[0]);
        if (!s) {
            m->epoch = ep + 1;
            s = epoch_end(m, &f, ep, &stop);
        }
        if (!(s = dc_comm_agree(f.comm, s, "fit"))) s = agree_stop(f.comm, &stop);
    }
    if (s) progress_abort(&pg);
    else s = dc_comm_agree(f.comm, train_end(m, &f), "fit");
    print_clock(m, &clk);
    dc_free(f.idx);
    m->sample_weight = m->sw_y = m->class_weight = NULL;
    m->batch_weighted = false;
    if (history && !(*history = dc_history_clone(m->hist)) && !s) s = DC_ERR_NOMEM;
    return s;
}

dc_status dc_model_fit(dc_model *m, const dc_tensor *x, const dc_tensor *y, const dc_fit_opts *opts, dc_history **history) {
    return dc_model_fit_n(m, 1, &x, y, opts, history);
}
