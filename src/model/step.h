/* model: the training step, shared by train_step and the fit loop. */
#ifndef DC_STEP_H
#define DC_STEP_H

#include "infer.h"

/* A training step's results that outlive its forward pass (until the next dc_ctx_reset). */
typedef struct step_out {
    float loss;
    dc_tensor *out, *yb; /* outputs (logits when fused) and targets, for the metrics */
} step_out;

/* Forward and backward on n rows already staged in xbuf/ybuf: the mean loss of those rows and its
 * gradient in gbuf. sync: the communicator of layers that synchronise across ranks inside the step
 * (NULL when none do), this rank weighing w of the global batch. */
dc_status dc_step_grad(dc_model *m, const dc_inputs *x, const dc_tensor *y, int64_t n, step_out *so, const dc_comm *sync, float w);
/* The optimiser step on the gradient in gbuf, then the metrics of the step's n rows (none if so
 * is NULL or n is 0). */
dc_status dc_step_update(dc_model *m, const step_out *so, int64_t n, dc_acc *a);

#endif
