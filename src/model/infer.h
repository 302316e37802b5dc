/* model: inference shared with the trainer (validation is an evaluation). */
#ifndef DC_INFER_H
#define DC_INFER_H

#include "objective.h"
#include "staging.h"

/* Rank r's contiguous part [lo, hi) of rows [r0, r1): every rank's part when a communicator is
 * installed, else all of them. */
void dc_my_part(int64_t r0, int64_t r1, int64_t *lo, int64_t *hi);
/* The sums of a over every rank, into a on every rank. */
dc_status dc_reduce_acc(const dc_model *m, dc_acc *a);
/* Loss and metrics over rows [r0, r1) in inference mode into results[1 + nmetrics]. A
 * collective call: who names the caller in the message of a rank's failure. */
dc_status dc_eval_rows(dc_model *m, const dc_inputs *x, const dc_tensor *y, int64_t r0, int64_t r1, int64_t batch,
                       double *results, const char *who);
/* The same over rows of a dataset ds (NULL: of the tensors x and y), whose inputs and targets
 * x and y describe (shape-only tensors, dc_dataset_likes). */
dc_status dc_eval_rows_ds(dc_model *m, dc_dataset *ds, const dc_inputs *x, const dc_tensor *y, int64_t r0, int64_t r1, int64_t batch,
                          double *results, const char *who);
/* The model's staging buffers, set aside while a dataset's feed lends its own: dc_stage_keep
 * notes them, dc_stage_borrow stages the feed's buffers (inputs, then the targets when with_y)
 * in their place, dc_stage_restore puts them back. */
typedef struct dc_staged_bufs {
    float *x[DC_MODEL_MAX_INPUTS], *y;
} dc_staged_bufs;
void dc_stage_keep(const dc_model *m, dc_staged_bufs *keep);
void dc_stage_borrow(dc_model *m, int nx, float *const *bufs, bool with_y);
void dc_stage_restore(dc_model *m, const dc_staged_bufs *keep);
/* Shape-only tensors of a dataset's inputs and targets (nx + 1 parts) in like[], the inputs in
 * *x, checked against the model as fit and evaluate check tensors (shapes only). */
dc_status dc_fit_dataset_inputs(const dc_model *m, dc_dataset *ds, dc_tensor *like, dc_inputs *x, const char *who);

#endif
