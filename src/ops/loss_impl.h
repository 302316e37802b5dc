/* ops: what the two loss files share. loss.c checks the arguments, runs a loss row by row,
 * reduces and records the node; it holds the element-wise losses. loss_class.c holds the losses
 * over the class axis (a term per position, a vector of K values along the last axis).
 *
 * A row function computes l_n, the loss of row n (sample_weight[n] applied), and, when asked,
 * the row's slice of the local Jacobians d(w_n l_n)/d pred and d(w_n l_n)/d target. They are
 * computed in forward, so backward needs neither the target nor the weights: it multiplies them
 * by the upstream gradient of each row. */
#ifndef DC_OPS_LOSS_IMPL_H
#define DC_OPS_LOSS_IMPL_H

#include "ops.h"

typedef struct dc_loss_job {
    dc_loss kind;
    bool logits;           /* from_logits */
    bool hinge01;          /* hinge: the targets are {0, 1} labels, converted to 2 y - 1 */
    float smooth;          /* label smoothing eps */
    float delta, gamma, alpha;
    int64_t N;             /* rows: pred's first axis */
    int64_t row_len;       /* pred elements per row */
    int64_t K;             /* pred's last axis (1 for a 1-D pred) */
    const float *P;        /* pred, contiguous */
    const float *Y;        /* dense target, contiguous (NULL for labels) */
    const int32_t *lab;    /* class indices, one per position (sparse CCE, NLL), else NULL */
    const float *sw, *cw;  /* sample weights [N], class weights [K], or NULL */
    float *jp, *jt;        /* Jacobians w.r.t. pred and target, numel each, or NULL: not wanted */
    double *row;           /* [N] w_n l_n */
} dc_loss_job;

/* Row n of a class-axis loss (CCE, sparse CCE, NLL, KL divergence, cosine): loss_class.c. */
void dc_loss_class_row(const dc_loss_job *j, int64_t n);

/* p clamped to [lo, hi] */
static inline float dc_loss_clamp(float p, float lo, float hi) { return p < lo ? lo : p > hi ? hi : p; }

#endif
