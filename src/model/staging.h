/* model: checking the data handed to fit, evaluate and predict, and staging batches of it. */
#ifndef DC_STAGING_H
#define DC_STAGING_H

#include "model.h"

/* A model's data: one tensor per input. */
typedef struct dc_inputs {
    int n;
    const dc_tensor *t[DC_MODEL_MAX_INPUTS];
} dc_inputs;

dc_inputs dc_make_inputs(int n, const dc_tensor *const *x);
int64_t dc_row_elems(const dc_tensor *t);
/* nx tensors, one per input, with the same number of rows and the right shapes; who names the caller. */
dc_status dc_check_inputs(const dc_model *m, int nx, const dc_tensor *const *x, const char *who);
/* The inputs and targets of fit and evaluate: shapes, labels, finiteness. */
dc_status dc_check_xy(const dc_model *m, const dc_inputs *x, const dc_tensor *y, const char *who);
/* Staging buffers for batches of `batch` rows. */
dc_status dc_ensure_staging(dc_model *m, const dc_inputs *x, const dc_tensor *y, int64_t batch);
/* Stages rows (idx[start..start+n) or start..start+n) of every input and of y. */
void dc_gather_all(dc_model *m, const dc_inputs *x, const dc_tensor *y, const int64_t *idx, int64_t start, int64_t n);
/* Step views of the staged rows shaped like `like`, and of every input into xb[]. */
dc_tensor *dc_stage_view(dc_model *m, float *buf, const dc_tensor *like, int64_t rows);
dc_status dc_stage_inputs(dc_model *m, const dc_inputs *x, int64_t n, dc_tensor **xb);

#endif
