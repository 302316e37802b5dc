/*
 * deepc/dist.h - floor dist (src/dist): data-parallel training over MPI.
 */
#ifndef DEEPC_DIST_H
#define DEEPC_DIST_H

#include "deepc/base.h"

#ifdef __cplusplus
extern "C" {
#endif

/* What follows is deepc's public API, exported by libdeepc.so (whose other symbols are hidden). */
#if defined(__GNUC__)
#pragma GCC visibility push(default)
#endif

/* Data-parallel training, built in when CMake finds MPI (Debian: libopenmpi-dev). Launch the
 * same program on every rank (mpirun -np 2 ./prog) and call dc_dist_init first: from then on
 * dc_model_fit and dc_model_evaluate are collective calls that every rank makes with the same
 * data, and they split the work:
 *  - fit broadcasts rank 0's parameters and state to every rank at its start; every rank draws
 *    the same shuffled order (same seed), and of each global batch of batch_size rows rank r
 *    takes the contiguous slice [r*n/size, (r+1)*n/size) (n rows in the batch: a remainder, or a
 *    last batch smaller than batch_size, gives some ranks one row more; a rank with no rows adds
 *    nothing). Gradients are summed over the ranks weighted by each rank's rows, which equals the
 *    one-process gradient of the whole batch up to the order of float additions; every rank then
 *    takes the same optimiser step, so the ranks' parameters stay identical.
 *  - loss and metrics are summed over the ranks: the history and progress line are those of the
 *    whole batch; only rank 0 prints and, through dc_checkpoint_callback and
 *    dc_best_model_callback (dc_callback_is_writer), writes files (a resuming checkpoint callback
 *    reads the checkpoint on every rank, so it must be on a file system they all see).
 *  - dropout draws a different stream on each rank. BatchNormalization uses each rank's own batch
 *    statistics in training, unless synchronised (dc_layer_set_synchronized,
 *    dc_model_set_sync_batch_norm): then they are the whole global batch's, and every batch,
 *    the last one too, must hold a row per rank (DC_ERR_ARG at the start of fit otherwise).
 *    After every epoch rank 0's running statistics are broadcast to all (as PyTorch's
 *    DistributedDataParallel does), so evaluation and saved models see one model.
 *  - evaluate scores a contiguous part of the rows on each rank and sums the results, which every
 *    rank receives. predict and train_step stay local to the calling rank.
 *  - if any rank fails (a bad argument, a non-finite loss, a checkpoint it cannot write), every
 *    rank returns that rank's status with the message "fit: rank 1 failed: ..." instead of
 *    waiting for it.
 *  - with DEEPC_DIST_STATS=1 in the environment, fit prints to stderr (rank 0) the mean step
 *    time and the time spent in the gradient all-reduce and waiting for the slowest rank.
 * Built without MPI, these functions report one rank and fit runs as always.
 *
 * Initialises MPI (unless the program already did) and learns this process's rank. When ranks
 * share a host and DEEPC_THREADS is not set, each uses cores / (ranks on the host) threads.
 * argc and argv may be NULL. Without MPI: DC_OK and one rank, or DC_ERR_STATE if a launcher
 * (mpirun, srun) started several ranks, which would each train alone. DC_ERR_IO if MPI fails. */
dc_status dc_dist_init(int *argc, char ***argv);
/* This process's rank, from 0, and the number of ranks (0 and 1 before dc_dist_init). */
int dc_dist_rank(void);
int dc_dist_size(void);
/* True when deepc was built with MPI. */
bool dc_dist_available(void);
/* active false: fit and evaluate run on this process alone, as without MPI (for work one rank
 * does by itself, or a one-process reference run); true (the default) spreads them again. */
void dc_dist_set_active(bool active);
/* Finalises MPI if dc_dist_init initialised it; call once, after the last collective. */
void dc_dist_finalize(void);

#if defined(__GNUC__)
#pragma GCC visibility pop
#endif

#ifdef __cplusplus
}
#endif
#endif /* DEEPC_DIST_H */
