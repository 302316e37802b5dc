/* Joining and indexing: concat along an axis, gather rows. */
#include "ops.h"

#include <string.h>

DC_CLONES static void concat_backward(dc_ctx *c, dc_node *n) {
    int64_t ax = n->i[0], outer = n->i[1], inner = n->i[2];
    int64_t total = n->out->shape[ax];
    const float *g = n->out->grad->data;
    int64_t off = 0;
    for (int k = 0; k < n->nin; k++) {
        dc_tensor *x = n->in[k];
        int64_t len = x->shape[ax];
        float *gx = dc_grad_buf(c, x);
        if (gx)
            for (int64_t o = 0; o < outer; o++) {
                const float *src = g + (o * total + off) * inner;
                float *dst = gx + o * len * inner;
                for (int64_t j = 0; j < len * inner; j++) dst[j] += src[j];
            }
        off += len;
    }
}

/* Concatenation of more than DC_NODE_MAX_IN inputs is done as a chain of concats. */
DC_CLONES dc_tensor *dc_concat(dc_ctx *c, dc_tensor *const *xs, int n, int axis) {
    if (!c || !xs || n <= 0) return dc_error_null(DC_ERR_ARG, "concat: needs a context and at least one tensor");
    for (int k = 0; k < n; k++)
        if (!xs[k]) {
            /* as DC_CHECK_ARGS: a NULL from an earlier failure keeps that failure's message */
            if (dc_last_status() != DC_OK) return NULL;
            return dc_error_null(DC_ERR_ARG, "concat: input %d is NULL", k);
        }
    if (n > DC_NODE_MAX_IN) {
        dc_tensor *head = dc_concat(c, xs, DC_NODE_MAX_IN, axis);
        if (!head) return NULL;
        dc_tensor *rest[DC_NODE_MAX_IN];
        int m = 0;
        rest[m++] = head;
        for (int k = DC_NODE_MAX_IN; k < n; k += DC_NODE_MAX_IN - 1) {
            int take = DC_MIN(DC_NODE_MAX_IN - 1, n - k);
            m = 1;
            rest[0] = head;
            for (int j = 0; j < take; j++) rest[m++] = xs[k + j];
            head = dc_concat(c, rest, m, axis);
            if (!head) return NULL;
        }
        return head;
    }
    int nd = xs[0]->ndim, ax = dc_axis(axis, nd);
    if (ax < 0) return dc_error_null(DC_ERR_ARG, "concat: axis %d does not exist in %s", axis, dc_tshape(xs[0], 0));
    int64_t sh[DC_MAX_DIMS];
    memcpy(sh, xs[0]->shape, sizeof sh);
    sh[ax] = 0;
    dc_tensor *in[DC_NODE_MAX_IN];
    for (int k = 0; k < n; k++) {
        dc_tensor *x = xs[k];
        bool ok = x->ndim == nd;
        for (int d = 0; ok && d < nd; d++) ok = d == ax || x->shape[d] == xs[0]->shape[d];
        if (!ok)
            return dc_error_null(DC_ERR_SHAPE, "concat: input %d has shape %s, which does not match %s except on axis %d", k,
                                 dc_tshape(x, 0), dc_tshape(xs[0], 1), ax);
        if (!(in[k] = dc_contig(c, x))) return NULL;
        sh[ax] += x->shape[ax];
    }
    dc_tensor *y = dc_out(c, nd, sh);
    if (!y) return NULL;
    int64_t outer = 1, inner = 1;
    for (int d = 0; d < ax; d++) outer *= sh[d];
    for (int d = ax + 1; d < nd; d++) inner *= sh[d];
    int64_t off = 0;
    for (int k = 0; k < n; k++) {
        int64_t len = in[k]->shape[ax];
        for (int64_t o = 0; o < outer; o++)
            memcpy(y->data + (o * sh[ax] + off) * inner, in[k]->data + o * len * inner, (size_t)(len * inner) * sizeof(float));
        off += len;
    }
    if (dc_needs_grad(c, n, in)) {
        dc_node *node = dc_record(c, "concat", concat_backward, y, n, in);
        if (!node) return NULL;
        node->i[0] = ax;
        node->i[1] = outer;
        node->i[2] = inner;
    }
    return y;
}

DC_CLONES static void gather_backward(dc_ctx *c, dc_node *n) {
    float *gx = dc_grad_buf(c, n->in[0]);
    if (!gx) return;
    const int64_t *idx = n->saved;
    int64_t rows = n->i[0], w = n->i[1];
    const float *g = n->out->grad->data;
    for (int64_t r = 0; r < rows; r++)
        for (int64_t j = 0; j < w; j++) gx[idx[r] * w + j] += g[r * w + j];
}

DC_CLONES dc_tensor *dc_gather_rows(dc_ctx *c, dc_tensor *x, const int64_t *idx, int64_t n) {
    DC_CHECK_ARGS(c, "gather_rows", x);
    if (!idx && n > 0) return dc_error_null(DC_ERR_ARG, "gather_rows: index array is NULL");
    if (n < 0) return dc_error_null(DC_ERR_ARG, "gather_rows: negative count %lld", (long long)n);
    for (int64_t r = 0; r < n; r++)
        if (idx[r] < 0 || idx[r] >= x->shape[0])
            return dc_error_null(DC_ERR_ARG, "gather_rows: index %lld at position %lld is outside [0, %lld)",
                                 (long long)idx[r], (long long)r, (long long)x->shape[0]);
    if (!(x = dc_contig(c, x))) return NULL;
    int64_t sh[DC_MAX_DIMS];
    memcpy(sh, x->shape, sizeof sh);
    sh[0] = n;
    dc_tensor *y = dc_out(c, x->ndim, sh);
    if (!y) return NULL;
    int64_t w = x->shape[0] ? x->numel / x->shape[0] : 0;
    for (int64_t r = 0; r < n; r++) memcpy(y->data + r * w, x->data + idx[r] * w, (size_t)w * sizeof(float));
    if (DC_NEEDS1(c, x)) {
        int64_t *saved = dc_scratch(c, (size_t)(n ? n : 1) * sizeof *saved);
        dc_node *node = saved ? DC_RECORD1(c, "gather_rows", gather_backward, y, x) : NULL;
        if (!node) return NULL;
        memcpy(saved, idx, (size_t)n * sizeof *saved);
        node->saved = saved;
        node->i[0] = n;
        node->i[1] = w;
    }
    return y;
}
