/* model: what the fit loop (trainer.c), its setup (fit_setup.c) and its progress display
 * (progress.c) share. */
#ifndef DC_FIT_H
#define DC_FIT_H

#include "dataset.h"
#include "history.h"
#include "step.h"

#include <stdio.h>

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
    /* a fit on datasets: the training and validation rows, shape-only tensors that describe
     * them (x, y, vxs and vy point at these), the feed of training batches and the model's own
     * staging buffers, set aside while the feed's are staged */
    dc_dataset *ds, *vds;
    dc_tensor like[DC_DATASET_MAX_PARTS], vlike[DC_DATASET_MAX_PARTS];
    dc_feed *feed;
    int64_t ask; /* the first row of the epoch's order not yet asked of the feed */
    dc_staged_bufs keep;
} fit_run;

/* Where a fit's time goes, per step (DEEPC_DIST_STATS=1 prints it). */
typedef struct fit_clock {
    double step, wait, reduce;
    int64_t steps;
} fit_clock;


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

void dc_progress_init(progress *p, const fit_run *f);
void dc_progress_epoch_begin(progress *p, int ep, int epochs);
void dc_progress_batch(progress *p, const dc_model *m, int64_t done, const dc_acc *a);
void dc_progress_epoch_end(progress *p, const dc_model *m, int ep, int epochs, int64_t done, double secs, const double *tr,
                           const double *va, double lr);
void dc_progress_abort(progress *p);

/* Checks the arguments and prepares f (after the callbacks' on_train_begin, which may restore a
 * checkpoint); on this rank only. */
dc_status dc_fit_setup(dc_model *m, int nx, const dc_tensor *const *xs, const dc_tensor *y, const dc_fit_opts *opts, fit_run *f);
/* Every rank's fit must walk the same epochs and batches: their counts agree, or all stop. */
dc_status dc_fit_check_ranks(const fit_run *f);
/* Synchronised batch statistics need a row of every batch on each rank. */
dc_status dc_fit_check_sync_bn(const dc_model *m, fit_run *f);

#endif
