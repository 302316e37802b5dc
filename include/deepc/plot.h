/*
 * deepc/plot.h - floor plot (src/plot): SVG charts of learning curves and series.
 */
#ifndef DEEPC_PLOT_H
#define DEEPC_PLOT_H

#include "deepc/model.h"

#ifdef __cplusplus
extern "C" {
#endif

/* What follows is deepc's public API, exported by libdeepc.so (whose other symbols are hidden). */
#if defined(__GNUC__)
#pragma GCC visibility push(default)
#endif

/* Learning curves: one SVG with two panels, loss/val_loss and (if recorded) the first
 * metric and its val_ counterpart against epoch. */
dc_status dc_plot_history_svg(const dc_history *h, const char *path, const char *title);
/* Line chart of up to 4 series sharing an x axis of n points (x may be NULL: 0..n-1). */
typedef struct dc_series {
    const char *label;
    const double *y;
} dc_series;
dc_status dc_plot_lines_svg(const char *path, const char *title, const char *xlabel,
                            const char *ylabel, const double *x, int64_t n,
                            const dc_series *series, int nseries);

#if defined(__GNUC__)
#pragma GCC visibility pop
#endif

#ifdef __cplusplus
}
#endif
#endif /* DEEPC_PLOT_H */
