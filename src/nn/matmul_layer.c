/* MatMul: the matrix products of two graph values, [N, ..., M, K] . [N, ..., K, P] ->
 * [N, ..., M, P], one per leading index (ONNX's MatMul of two computed values: attention's
 * q k^T and its weights times v). */
#include "layer.h"

#include <string.h>

static dc_status matmul_build(dc_layer *l) {
    char a[160], b[160];
    int na = l->xin_ndim[0], nb = l->nin > 1 ? l->xin_ndim[1] : 0;
    const int64_t *sa = l->xin_shape[0], *sb = l->xin_shape[1];
    bool ok = l->nin == 2 && na >= 2 && na == nb && sa[na - 1] == sb[nb - 2];
    for (int i = 0; ok && i < na - 2; i++) ok = sa[i] == sb[i];
    if (!ok)
        return dc_error(DC_ERR_SHAPE, "%s: cannot multiply %s by %s (two inputs [..., M, K] and [..., K, P] with the same leading axes)",
                        l->name, dc_layer_shape_str(na, sa, a, sizeof a), l->nin > 1 ? dc_layer_shape_str(nb, sb, b, sizeof b) : "nothing");
    l->out_ndim = na;
    memcpy(l->out_shape, sa, (size_t)na * sizeof *sa);
    l->out_shape[na - 1] = sb[nb - 1];
    return DC_OK;
}

static dc_tensor *matmul_forward(dc_layer *l, dc_fwd *f, dc_tensor *const *x, int n) {
    int nd = l->out_ndim;
    const int64_t *sa = l->xin_shape[0], *sb = l->xin_shape[1];
    /* the batch and the leading axes as one axis of matrices */
    dc_tensor *a = dc_reshape(f->ctx, x[0], 3, (int64_t[]){-1, sa[nd - 2], sa[nd - 1]});
    dc_tensor *b = dc_reshape(f->ctx, x[1], 3, (int64_t[]){-1, sb[nd - 2], sb[nd - 1]});
    int64_t sh[DC_MAX_DIMS];
    sh[0] = x[0]->shape[0];
    memcpy(sh + 1, l->out_shape, (size_t)nd * sizeof *sh);
    return dc_reshape(f->ctx, dc_matmul(f->ctx, a, b), nd + 1, sh);
}

const dc_layer_type dc_matmul_type = {
    .name = "MatMul", .stem = "matmul", .build = matmul_build, .forward = matmul_forward, .max_inputs = 2,
};
DC_REGISTER_LAYER(dc_matmul_type);

dc_layer *dc_matmul_layer(void) { return dc_layer_create(&dc_matmul_type); }
