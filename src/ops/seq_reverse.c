/* Sequences read backwards within their own lengths: the order a bidirectional layer's backward
 * recurrence reads. A permutation of the steps that is its own inverse, so backward applies the
 * same permutation to the gradient. */
#include "ops.h"

#include <string.h>

static void reverse_backward(dc_ctx *c, dc_node *nd) {
    float *gx = dc_grad_buf(c, nd->in[0]);
    if (!gx) return;
    const int64_t *src = nd->saved; /* y's step r came from x's step src[r] */
    const dc_tensor *y = nd->out;
    int64_t rows = y->shape[0] * y->shape[1], W = rows ? y->numel / rows : 0;
    const float *gy = y->grad->data;
    DC_FOR_ROWS(r, rows, rows * W, {
        float *dst = gx + src[r] * W;
        const float *g = gy + r * W;
        for (int64_t j = 0; j < W; j++) dst[j] += g[j];
    });
}

dc_tensor *dc_reverse_sequence(dc_ctx *c, dc_tensor *x, const uint8_t *mask) {
    DC_CHECK_ARGS(c, "reverse_sequence", x);
    if (x->ndim < 2) return dc_error_null(DC_ERR_SHAPE, "reverse_sequence: expected a sequence batch [N, T, ...], got %s", dc_tshape(x, 0));
    if (!(x = dc_contig(c, x))) return NULL;
    int64_t N = x->shape[0], T = x->shape[1], rows = N * T, W = rows ? x->numel / rows : 0;
    dc_tensor *y = dc_out(c, x->ndim, x->shape);
    int64_t *src = dc_scratch(c, (size_t)(rows > 0 ? rows : 1) * sizeof *src);
    if (!y || !src) return NULL;
    /* each row's real steps, first to last, meet their mirror from the other end; a padded step
     * is skipped by both ends and stays where it is */
    for (int64_t n = 0; n < N; n++) {
        const uint8_t *m = mask ? mask + n * T : NULL;
        int64_t *s = src + n * T;
        for (int64_t t = 0; t < T; t++) s[t] = n * T + t;
        for (int64_t a = 0, b = T - 1;; a++, b--) {
            while (m && a < T && !m[a]) a++;
            while (m && b >= 0 && !m[b]) b--;
            if (a >= b) break;
            s[a] = n * T + b;
            s[b] = n * T + a;
        }
    }
    DC_FOR_ROWS(r, rows, rows * W, memcpy(y->data + r * W, x->data + src[r] * W, (size_t)W * sizeof(float)););
    if (!DC_NEEDS1(c, x)) return y;
    dc_node *nd = DC_RECORD1(c, "reverse_sequence", reverse_backward, y, x);
    if (!nd) return NULL;
    nd->saved = src;
    return y;
}
