/* Inverted dropout: y = x * m / (1 - rate), m ~ Bernoulli(1 - rate); identity in inference. */
#include "ops.h"

DC_CLONES static void dropout_backward(dc_ctx *c, dc_node *n) {
    bool fresh;
    float *gx = dc_grad_buf_w(c, n->in[0], &fresh);
    if (!gx) return;
    const float *m = n->saved, *g = n->out->grad->data;
    if (fresh) DC_FOR(i, n->out->numel, gx[i] = g[i] * m[i];);
    else DC_FOR(i, n->out->numel, gx[i] += g[i] * m[i];);
}

DC_CLONES dc_tensor *dc_dropout(dc_ctx *c, dc_tensor *x, float rate, bool training, dc_rng *rng) {
    DC_CHECK_ARGS(c, "dropout", x);
    if (!(rate >= 0 && rate < 1)) return dc_error_null(DC_ERR_ARG, "dropout: rate %g is outside [0, 1)", (double)rate);
    if (!training || rate == 0) return x;
    if (!rng) return dc_error_null(DC_ERR_ARG, "dropout: training needs an rng");
    if (!(x = dc_contig(c, x))) return NULL;
    dc_tensor *y = dc_out(c, x->ndim, x->shape);
    float *m = y ? dc_scratch(c, (size_t)x->numel * sizeof(float)) : NULL;
    if (!m) return NULL;
    /* one draw from rng per call seeds a counter-based stream (the same on every platform and
     * at any thread count) */
    dc_k_dropout_mask(m, x->numel, dc_rng_next(rng), rate, x->data, y->data);
    if (DC_NEEDS1(c, x)) {
        dc_node *n = DC_RECORD1(c, "dropout", dropout_backward, y, x);
        if (!n) return NULL;
        n->saved = m;
    }
    return y;
}
