/* SVG line charts in the style of matplotlib: learning curves of a dc_history and plain
 * line plots. The files are self-contained and open in any browser. */
#include "deepc/plot.h"

#include "../base/atomic_file.h"

#include <math.h>
#include <string.h>

#define MAX_SERIES 4
#define MAX_TICKS 16
#define MAX_PANELS 2
/* More points than this and circles would hide the line. */
#define MARKER_MAX_POINTS 100

#define PANEL_W 500.0
#define PANEL_H 400.0
#define CHAR_W 7.5 /* generous average glyph width of 12px sans-serif text, for layout */

/* matplotlib's tab10: blue for training, orange for validation, then green and red. */
static const char *const palette[MAX_SERIES] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728"};

typedef struct axis {
    double lo, hi; /* the shown range */
    int nticks;
    double ticks[MAX_TICKS];
    char labels[MAX_TICKS][32];
} axis;

typedef struct panel {
    const char *title, *xlabel, *ylabel;
    const double *x; /* NULL: point i is at x0 + i */
    double x0;
    int64_t n;
    int nseries;
    dc_series series[MAX_SERIES];
    const char *colour[MAX_SERIES];
    bool integer_x;
} panel;

typedef struct chart {
    const char *title;
    int npanels;
    panel panels[MAX_PANELS];
} chart;

typedef struct rect {
    double l, t, w, h;
} rect;

/* Values too large to subtract safely are skipped like NaN. */
static bool plottable(double v) { return isfinite(v) && fabs(v) < 1e300; }

static double xval(const panel *p, int64_t i) { return p->x ? p->x[i] : p->x0 + (double)i; }

/* ---- axis ranges and nice ticks ---------------------------------------------------- */

/* 1, 2 or 5 times a power of ten, near raw. */
static double nice_step(double raw) {
    double p = pow(10.0, floor(log10(raw)));
    double f = raw / p;
    return (f < 1.5 ? 1.0 : f < 3.0 ? 2.0 : f < 7.0 ? 5.0 : 10.0) * p;
}

static void format_tick(char *buf, size_t cap, double v, double step, double mag) {
    if (fabs(v) < step * 1e-6) v = 0.0; /* no "-0" or "1e-17" from rounding */
    if (mag >= 1e6 || step < 1e-4) {
        int sig = (int)ceil(log10(mag / step)) + 1;
        snprintf(buf, cap, "%.*g", sig < 1 ? 1 : sig > 15 ? 15 : sig, v);
    } else {
        int dec = step >= 1.0 ? 0 : (int)ceil(-log10(step) - 1e-9);
        snprintf(buf, cap, "%.*f", dec, v);
    }
}

/* Pads [lo, hi] by 5% like matplotlib's margins and puts ticks on round values inside.
 * A constant (or empty) range is widened so the scale never divides by zero. */
static void make_axis(axis *a, double lo, double hi, bool have, bool integer) {
    if (!have) lo = hi = 0.0;
    double mag = fmax(fabs(lo), fabs(hi));
    double span = hi - lo;
    if (span <= 1e-9 * mag || mag < 1e-200) {
        double pad = integer ? 0.5 : mag < 1e-200 ? 0.5 : 0.05 * mag;
        lo -= pad;
        hi += pad;
    } else {
        lo -= 0.05 * span;
        hi += 0.05 * span;
    }
    a->lo = lo;
    a->hi = hi;
    double step = nice_step((hi - lo) / 5.0);
    if (integer && step < 1.0) step = 1.0;
    mag = fmax(fabs(lo), fabs(hi));
    a->nticks = 0;
    for (double k = ceil(lo / step - 1e-9); k * step <= hi + 1e-9 * step && a->nticks < MAX_TICKS; k++) {
        double v = k * step;
        a->ticks[a->nticks] = v;
        format_tick(a->labels[a->nticks], sizeof a->labels[0], v, step, mag);
        a->nticks++;
    }
}

static void panel_axes(const panel *p, axis *ax, axis *ay) {
    double xlo = INFINITY, xhi = -INFINITY, ylo = INFINITY, yhi = -INFINITY;
    for (int64_t i = 0; i < p->n; i++) {
        double x = xval(p, i);
        if (!plottable(x)) continue;
        xlo = fmin(xlo, x);
        xhi = fmax(xhi, x);
        for (int s = 0; s < p->nseries; s++) {
            double y = p->series[s].y[i];
            if (!plottable(y)) continue;
            ylo = fmin(ylo, y);
            yhi = fmax(yhi, y);
        }
    }
    make_axis(ax, xlo, xhi, xlo <= xhi, p->integer_x);
    make_axis(ay, ylo, yhi, ylo <= yhi, false);
}

/* ---- SVG output ---------------------------------------------------------------------- */

/* Text content with XML's special characters escaped; control characters, which XML 1.0
 * forbids, become spaces. */
static void put_text(FILE *f, const char *s) {
    for (; *s; s++) {
        switch (*s) {
        case '&': fputs("&amp;", f); break;
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '"': fputs("&quot;", f); break;
        default: fputc((unsigned char)*s < 0x20 ? ' ' : *s, f);
        }
    }
}

static void text_el(FILE *f, double x, double y, const char *anchor, int size, const char *extra, const char *s) {
    fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"%s\" font-size=\"%d\"%s>", x, y, anchor, size, extra);
    put_text(f, s);
    fputs("</text>\n", f);
}

static double sx(const rect *r, const axis *a, double v) { return r->l + (v - a->lo) / (a->hi - a->lo) * r->w; }
static double sy(const rect *r, const axis *a, double v) { return r->t + r->h - (v - a->lo) / (a->hi - a->lo) * r->h; }

static void draw_axes(FILE *f, const rect *r, const axis *ax, const axis *ay) {
    fputs("<g stroke=\"#e6e6e6\" stroke-width=\"1\">\n", f);
    for (int i = 0; i < ax->nticks; i++) {
        double x = sx(r, ax, ax->ticks[i]);
        fprintf(f, "<line x1=\"%.2f\" y1=\"%.2f\" x2=\"%.2f\" y2=\"%.2f\"/>\n", x, r->t, x, r->t + r->h);
    }
    for (int i = 0; i < ay->nticks; i++) {
        double y = sy(r, ay, ay->ticks[i]);
        fprintf(f, "<line x1=\"%.2f\" y1=\"%.2f\" x2=\"%.2f\" y2=\"%.2f\"/>\n", r->l, y, r->l + r->w, y);
    }
    fputs("</g>\n<g stroke=\"black\" stroke-width=\"1\">\n", f);
    for (int i = 0; i < ax->nticks; i++) {
        double x = sx(r, ax, ax->ticks[i]);
        fprintf(f, "<line x1=\"%.2f\" y1=\"%.2f\" x2=\"%.2f\" y2=\"%.2f\"/>\n", x, r->t + r->h, x, r->t + r->h + 5);
    }
    for (int i = 0; i < ay->nticks; i++) {
        double y = sy(r, ay, ay->ticks[i]);
        fprintf(f, "<line x1=\"%.2f\" y1=\"%.2f\" x2=\"%.2f\" y2=\"%.2f\"/>\n", r->l - 5, y, r->l, y);
    }
    fprintf(f, "<rect x=\"%.2f\" y=\"%.2f\" width=\"%.2f\" height=\"%.2f\" fill=\"none\"/>\n</g>\n",
            r->l, r->t, r->w, r->h);
    for (int i = 0; i < ax->nticks; i++)
        text_el(f, sx(r, ax, ax->ticks[i]), r->t + r->h + 19, "middle", 12, "", ax->labels[i]);
    for (int i = 0; i < ay->nticks; i++)
        text_el(f, r->l - 8, sy(r, ay, ay->ticks[i]) + 4, "end", 12, "", ay->labels[i]);
}

/* One path per run of plottable points, so a NaN leaves a gap as in matplotlib. */
static void draw_series(FILE *f, const panel *p, int s, const rect *r, const axis *ax, const axis *ay) {
    const double *y = p->series[s].y;
    fprintf(f, "<path fill=\"none\" stroke=\"%s\" stroke-width=\"2\" stroke-linejoin=\"round\" d=\"", p->colour[s]);
    bool pen_down = false;
    for (int64_t i = 0; i < p->n; i++) {
        double x = xval(p, i);
        if (!plottable(x) || !plottable(y[i])) {
            pen_down = false;
            continue;
        }
        fprintf(f, "%c%.2f %.2f ", pen_down ? 'L' : 'M', sx(r, ax, x), sy(r, ay, y[i]));
        pen_down = true;
    }
    fputs("\"/>\n", f);
    if (p->n > MARKER_MAX_POINTS) return;
    fprintf(f, "<g fill=\"%s\">\n", p->colour[s]);
    for (int64_t i = 0; i < p->n; i++) {
        double x = xval(p, i);
        if (plottable(x) && plottable(y[i]))
            fprintf(f, "<circle cx=\"%.2f\" cy=\"%.2f\" r=\"3\"/>\n", sx(r, ax, x), sy(r, ay, y[i]));
    }
    fputs("</g>\n", f);
}

static const char *series_label(const panel *p, int s, char *buf, size_t cap) {
    if (p->series[s].label) return p->series[s].label;
    snprintf(buf, cap, "series %d", s + 1);
    return buf;
}

/* Data points under a legend box at box; fewer is better. */
static int64_t points_under(const panel *p, const rect *r, const axis *ax, const axis *ay, const rect *box) {
    int64_t count = 0;
    for (int64_t i = 0; i < p->n; i++) {
        double x = xval(p, i);
        if (!plottable(x)) continue;
        double px = sx(r, ax, x);
        for (int s = 0; s < p->nseries; s++) {
            if (!plottable(p->series[s].y[i])) continue;
            double py = sy(r, ay, p->series[s].y[i]);
            count += px >= box->l && px <= box->l + box->w && py >= box->t && py <= box->t + box->h;
        }
    }
    return count;
}

/* Like matplotlib's loc="best": the corner that covers the fewest points, upper right
 * first on a tie. */
static rect legend_box(const panel *p, const rect *r, const axis *ax, const axis *ay) {
    size_t longest = 0;
    char buf[32];
    for (int s = 0; s < p->nseries; s++) longest = DC_MAX(longest, strlen(series_label(p, s, buf, sizeof buf)));
    double w = 48 + CHAR_W * (double)longest, h = 10 + 20 * p->nseries, m = 8;
    const double corners[4][2] = {
        {r->l + r->w - w - m, r->t + m}, {r->l + r->w - w - m, r->t + r->h - h - m},
        {r->l + m, r->t + m}, {r->l + m, r->t + r->h - h - m},
    };
    rect best = {corners[0][0], corners[0][1], w, h};
    int64_t best_count = -1;
    for (int c = 0; c < 4; c++) {
        rect box = {corners[c][0], corners[c][1], w, h};
        int64_t count = points_under(p, r, ax, ay, &box);
        if (best_count < 0 || count < best_count) {
            best = box;
            best_count = count;
        }
    }
    return best;
}

static void draw_legend(FILE *f, const panel *p, const rect *r, const axis *ax, const axis *ay) {
    rect b = legend_box(p, r, ax, ay);
    fprintf(f, "<rect x=\"%.2f\" y=\"%.2f\" width=\"%.2f\" height=\"%.2f\" rx=\"3\" fill=\"white\" "
               "fill-opacity=\"0.85\" stroke=\"#cccccc\"/>\n", b.l, b.t, b.w, b.h);
    char buf[32];
    for (int s = 0; s < p->nseries; s++) {
        double y = b.t + 15 + 20 * s;
        fprintf(f, "<line x1=\"%.2f\" y1=\"%.2f\" x2=\"%.2f\" y2=\"%.2f\" stroke=\"%s\" stroke-width=\"2\"/>\n",
                b.l + 8, y, b.l + 32, y, p->colour[s]);
        if (p->n <= MARKER_MAX_POINTS)
            fprintf(f, "<circle cx=\"%.2f\" cy=\"%.2f\" r=\"3\" fill=\"%s\"/>\n", b.l + 20, y, p->colour[s]);
        text_el(f, b.l + 38, y + 4, "start", 12, "", series_label(p, s, buf, sizeof buf));
    }
}

/* The panel occupies PANEL_W x PANEL_H at (ox, oy); the plot area leaves room on the left
 * for the widest y tick label. */
static void draw_panel(FILE *f, const panel *p, double ox, double oy) {
    axis ax, ay;
    panel_axes(p, &ax, &ay);
    size_t widest = 1;
    for (int i = 0; i < ay.nticks; i++) widest = DC_MAX(widest, strlen(ay.labels[i]));
    double left = 40 + CHAR_W * (double)widest;
    rect r = {ox + left, oy + 34, PANEL_W - left - 20, PANEL_H - 34 - 56};
    if (p->title) text_el(f, r.l + r.w / 2, oy + 22, "middle", 14, "", p->title);
    draw_axes(f, &r, &ax, &ay);
    if (p->xlabel) text_el(f, r.l + r.w / 2, r.t + r.h + 42, "middle", 13, "", p->xlabel);
    if (p->ylabel) {
        double x = ox + 18, y = r.t + r.h / 2;
        char rot[64];
        snprintf(rot, sizeof rot, " transform=\"rotate(-90 %.1f %.1f)\"", x, y);
        text_el(f, x, y, "middle", 13, rot, p->ylabel);
    }
    for (int s = 0; s < p->nseries; s++) draw_series(f, p, s, &r, &ax, &ay);
    draw_legend(f, p, &r, &ax, &ay);
}

static dc_status write_chart(FILE *f, void *arg) {
    const chart *c = arg;
    bool titled = c->title && *c->title;
    double top = titled ? 40 : 8;
    double w = PANEL_W * c->npanels, h = top + PANEL_H;
    fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"no\"?>\n"
               "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" viewBox=\"0 0 %.0f %.0f\" "
               "font-family=\"DejaVu Sans, Verdana, Arial, sans-serif\">\n"
               "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n", w, h, w, h);
    if (titled) text_el(f, w / 2, 28, "middle", 16, " font-weight=\"bold\"", c->title);
    for (int i = 0; i < c->npanels; i++) draw_panel(f, &c->panels[i], PANEL_W * i, top);
    fputs("</svg>\n", f);
    return DC_OK;
}

/* ---- learning curves ----------------------------------------------------------------- */

static bool is_val(const char *name) { return strncmp(name, "val_", 4) == 0; }

/* The first series worth a panel of its own: not the loss, not bookkeeping (seconds,
 * learning rate), not a validation twin. */
static const char *first_metric(const dc_history *h) {
    for (int i = 0; i < dc_history_num_series(h); i++) {
        const char *name = dc_history_series_name(h, i);
        if (strcmp(name, "loss") && strcmp(name, "seconds") && strcmp(name, "lr") && !is_val(name)) return name;
    }
    return NULL;
}

/* "val_<name>", found without building the string. */
static const char *val_twin(const dc_history *h, const char *name) {
    for (int i = 0; i < dc_history_num_series(h); i++) {
        const char *s = dc_history_series_name(h, i);
        if (is_val(s) && strcmp(s + 4, name) == 0) return s;
    }
    return NULL;
}

static void add_history_series(panel *p, const dc_history *h, const char *name, int colour) {
    const double *y = name ? dc_history_get(h, name) : NULL;
    if (!y) return;
    p->series[p->nseries] = (dc_series){name, y};
    p->colour[p->nseries++] = palette[colour];
}

/* A panel of `name` and its validation twin; false if neither was recorded. */
static bool history_panel(panel *p, const dc_history *h, const char *name) {
    *p = (panel){.title = name, .xlabel = "epoch", .ylabel = name, .x0 = 1,
                 .n = dc_history_epochs(h), .integer_x = true};
    add_history_series(p, h, name, 0);
    add_history_series(p, h, val_twin(h, name), 1);
    return p->nseries > 0;
}

dc_status dc_plot_history_svg(const dc_history *h, const char *path, const char *title) {
    if (!h) return dc_error(DC_ERR_ARG, "dc_plot_history_svg: history is NULL");
    if (!path || !*path) return dc_error(DC_ERR_ARG, "dc_plot_history_svg: path is NULL or empty");
    if (dc_history_epochs(h) < 1)
        return dc_error(DC_ERR_ARG, "dc_plot_history_svg: history for '%s' has no epochs", path);
    chart c = {.title = title};
    if (history_panel(&c.panels[c.npanels], h, "loss")) c.npanels++;
    const char *metric = first_metric(h);
    if (metric && history_panel(&c.panels[c.npanels], h, metric)) c.npanels++;
    if (c.npanels == 0)
        return dc_error(DC_ERR_ARG, "dc_plot_history_svg: history for '%s' has no loss or metric series", path);
    return dc_write_file_atomic(path, write_chart, &c);
}

/* ---- generic line chart -------------------------------------------------------------- */

dc_status dc_plot_lines_svg(const char *path, const char *title, const char *xlabel,
                            const char *ylabel, const double *x, int64_t n,
                            const dc_series *series, int nseries) {
    if (!path || !*path) return dc_error(DC_ERR_ARG, "dc_plot_lines_svg: path is NULL or empty");
    if (n < 1) return dc_error(DC_ERR_ARG, "dc_plot_lines_svg: '%s': n = %lld, need at least 1 point", path, (long long)n);
    if (!series) return dc_error(DC_ERR_ARG, "dc_plot_lines_svg: '%s': series is NULL", path);
    if (nseries < 1 || nseries > MAX_SERIES)
        return dc_error(DC_ERR_ARG, "dc_plot_lines_svg: '%s': nseries = %d, must be 1..%d", path, nseries, MAX_SERIES);
    chart c = {.title = title, .npanels = 1};
    panel *p = &c.panels[0];
    *p = (panel){.xlabel = xlabel, .ylabel = ylabel, .x = x, .n = n, .nseries = nseries, .integer_x = !x};
    for (int s = 0; s < nseries; s++) {
        if (!series[s].y)
            return dc_error(DC_ERR_ARG, "dc_plot_lines_svg: '%s': series %d (%s) has NULL y", path, s,
                            series[s].label ? series[s].label : "unlabelled");
        p->series[s] = series[s];
        p->colour[s] = palette[s];
    }
    return dc_write_file_atomic(path, write_chart, &c);
}
