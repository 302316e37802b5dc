/* Embedding lookup (gather forward, scatter-add backward), the padding mask of token ids and the
 * last step of a sequence. */
#include "ops.h"

#include <math.h>
#include <string.h>

DC_CLONES static void embedding_backward(dc_ctx *c, dc_node *n) {
    float *gt = dc_grad_buf(c, n->in[1]);
    if (!gt) return;
    const float *ids = n->in[0]->data, *g = n->out->grad->data;
    int64_t rows = n->in[0]->numel, D = n->in[1]->shape[1], pad = n->i[0];
    for (int64_t r = 0; r < rows; r++) {
        int64_t id = (int64_t)ids[r];
        if (id == pad) continue;
        float *dst = gt + id * D;
        const float *src = g + r * D;
        for (int64_t j = 0; j < D; j++) dst[j] += src[j];
    }
}

DC_CLONES dc_tensor *dc_embedding(dc_ctx *c, dc_tensor *ids, dc_tensor *table, int64_t padding_idx) {
    DC_CHECK_ARGS(c, "embedding", ids, table);
    if (table->ndim != 2) return dc_error_null(DC_ERR_SHAPE, "embedding: table must be [vocabulary, dim], got %s", dc_tshape(table, 0));
    if (ids->ndim != 2) return dc_error_null(DC_ERR_SHAPE, "embedding: expected token ids [N, T], got %s", dc_tshape(ids, 0));
    if (!(ids = dc_contig(c, ids)) || !(table = dc_contig(c, table))) return NULL;
    int64_t V = table->shape[0], D = table->shape[1], N = ids->shape[0], T = ids->shape[1];
    for (int64_t r = 0; r < ids->numel; r++) {
        float v = ids->data[r];
        if (!(v >= 0 && v < (float)V) || v != floorf(v))
            return dc_error_null(DC_ERR_ARG, "embedding: token id %g at [%lld, %lld] is outside the vocabulary [0, %lld)", (double)v,
                                 (long long)(r / (T ? T : 1)), (long long)(r % (T ? T : 1)), (long long)V);
    }
    dc_tensor *y = dc_out(c, 3, (int64_t[]){N, T, D});
    if (!y) return NULL;
    for (int64_t r = 0; r < ids->numel; r++)
        memcpy(y->data + r * D, table->data + (int64_t)ids->data[r] * D, (size_t)D * sizeof(float));
    if (DC_NEEDS1(c, table)) {
        dc_node *n = DC_RECORD2(c, "embedding", embedding_backward, y, ids, table);
        if (!n) return NULL;
        n->i[0] = padding_idx;
    }
    return y;
}

const uint8_t *dc_padding_mask(dc_ctx *c, const dc_tensor *ids) {
    if (!c) return dc_error_null(DC_ERR_ARG, "dc_padding_mask: context is NULL");
    if (!ids) {
        /* a NULL that an earlier failure produced keeps that failure's message */
        if (dc_last_status() != DC_OK) return NULL;
        return dc_error_null(DC_ERR_ARG, "dc_padding_mask: ids is NULL");
    }
    if (ids->ndim != 2)
        return dc_error_null(DC_ERR_SHAPE, "dc_padding_mask: expected token ids [N, T], got %s", dc_tshape(ids, 0));
    int64_t N = ids->shape[0], T = ids->shape[1];
    uint8_t *m = dc_scratch(c, (size_t)(N * T > 0 ? N * T : 1));
    if (!m) return dc_error_null(DC_ERR_NOMEM, "dc_padding_mask: out of memory for a [%lld, %lld] mask", (long long)N, (long long)T);
    /* read through the strides: ids may be a view */
    for (int64_t n = 0; n < N; n++)
        for (int64_t t = 0; t < T; t++) m[n * T + t] = ids->data[n * ids->stride[0] + t * ids->stride[1]] != 0;
    return m;
}

DC_CLONES static void last_backward(dc_ctx *c, dc_node *n) {
    float *gx = dc_grad_buf(c, n->in[0]);
    if (!gx) return;
    int64_t N = n->in[0]->shape[0], T = n->in[0]->shape[1], H = n->in[0]->shape[2];
    const float *g = n->out->grad->data;
    for (int64_t i = 0; i < N; i++)
        for (int64_t j = 0; j < H; j++) gx[(i * T + T - 1) * H + j] += g[i * H + j];
}

dc_tensor *dc_last_step(dc_ctx *c, dc_tensor *x) {
    DC_CHECK_ARGS(c, "last_step", x);
    if (x->ndim != 3 || x->shape[1] == 0)
        return dc_error_null(DC_ERR_SHAPE, "last_step: expected a sequence batch [N, T > 0, H], got %s", dc_tshape(x, 0));
    if (!(x = dc_contig(c, x))) return NULL;
    int64_t N = x->shape[0], T = x->shape[1], H = x->shape[2];
    dc_tensor *y = dc_out(c, 2, (int64_t[]){N, H});
    if (!y) return NULL;
    for (int64_t i = 0; i < N; i++) memcpy(y->data + i * H, x->data + (i * T + T - 1) * H, (size_t)H * sizeof(float));
    if (DC_NEEDS1(c, x) && !DC_RECORD1(c, "last_step", last_backward, y, x)) return NULL;
    return y;
}
