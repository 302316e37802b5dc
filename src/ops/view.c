/* Views (reshape, permute, slice) share storage; their backward adds the output gradient
 * into the matching positions of the input gradient. */
#include "ops.h"

#include <string.h>

/* dst (contiguous strides of `like`, viewed through shape/stride/offset) += src (contiguous) */
DC_INLINE void acc_through_view(float *dst, int nd, const int64_t *shape, const int64_t *stride,
                             const float *src, int64_t numel) {
    int64_t idx[DC_MAX_DIMS] = {0};
    int64_t inner = shape[nd - 1], is = stride[nd - 1];
    int64_t outer = inner ? numel / inner : 0;
    for (int64_t o = 0; o < outer; o++) {
        int64_t off = 0;
        for (int d = 0; d < nd - 1; d++) off += idx[d] * stride[d];
        for (int64_t j = 0; j < inner; j++) dst[off + j * is] += src[j];
        src += inner;
        for (int d = nd - 2; d >= 0 && ++idx[d] == shape[d]; d--) idx[d] = 0;
    }
}

/* The view's shape and strides expressed on the input's contiguous gradient buffer are
 * saved in node->saved as [ndim shape..., strides..., offset]. */
typedef struct view_map {
    int ndim;
    int64_t shape[DC_MAX_DIMS], stride[DC_MAX_DIMS], offset;
} view_map;

DC_CLONES static void view_backward(dc_ctx *c, dc_node *n) {
    float *gx = dc_grad_buf(c, n->in[0]);
    if (!gx) return;
    view_map *m = n->saved;
    acc_through_view(gx + m->offset, m->ndim, m->shape, m->stride, n->out->grad->data, n->out->numel);
}

/* Records the view y of x: y's element i sits at grad-buffer offset `offset` + sum i_k gstride_k. */
static dc_tensor *record_view(dc_ctx *c, const char *op, dc_tensor *x, dc_tensor *y,
                              const int64_t *gstride, int64_t goffset) {
    if (!DC_NEEDS1(c, x)) return y;
    view_map *m = dc_scratch(c, sizeof *m);
    if (!m || !DC_RECORD1(c, op, view_backward, y, x)) return NULL;
    m->ndim = y->ndim;
    memcpy(m->shape, y->shape, sizeof m->shape);
    memcpy(m->stride, gstride, (size_t)y->ndim * sizeof *gstride);
    m->offset = goffset;
    y->node->saved = m;
    return y;
}

static void contig_strides(int nd, const int64_t *shape, int64_t *st) {
    int64_t s = 1;
    for (int i = nd - 1; i >= 0; i--) {
        st[i] = s;
        s *= shape[i];
    }
}

DC_CLONES static void copy_backward(dc_ctx *c, dc_node *n) {
    float *gx = dc_grad_buf(c, n->in[0]);
    if (!gx) return;
    const float *g = n->out->grad->data;
    for (int64_t i = 0; i < n->out->numel; i++) gx[i] += g[i];
}

dc_tensor *dc_contiguous(dc_ctx *c, dc_tensor *x) {
    DC_CHECK_ARGS(c, "contiguous", x);
    if (dc_tensor_is_contiguous(x)) return x;
    dc_tensor *y = dc_out(c, x->ndim, x->shape);
    if (!y) return NULL;
    dc_copy_strided(y->data, x);
    /* y's logical order equals x's, and x's grad buffer is contiguous: a plain add */
    if (DC_NEEDS1(c, x) && !DC_RECORD1(c, "contiguous", copy_backward, y, x)) return NULL;
    return y;
}

dc_tensor *dc_contig(dc_ctx *c, dc_tensor *x) { return dc_contiguous(c, x); }

dc_tensor *dc_reshape(dc_ctx *c, dc_tensor *x, int ndim, const int64_t *shape) {
    DC_CHECK_ARGS(c, "reshape", x);
    if (ndim <= 0 || ndim > DC_MAX_DIMS || !shape)
        return dc_error_null(DC_ERR_SHAPE, "reshape: rank %d is outside 1..%d", ndim, DC_MAX_DIMS);
    int64_t sh[DC_MAX_DIMS], known = 1;
    int infer = -1;
    for (int i = 0; i < ndim; i++) {
        sh[i] = shape[i];
        if (sh[i] == -1) {
            if (infer >= 0) return dc_error_null(DC_ERR_SHAPE, "reshape: more than one -1 in the new shape");
            infer = i;
        } else if (sh[i] < 0) {
            return dc_error_null(DC_ERR_SHAPE, "reshape: dimension %d is negative (%lld)", i, (long long)sh[i]);
        } else if (__builtin_mul_overflow(known, sh[i], &known)) {
            return dc_error_null(DC_ERR_SHAPE, "reshape: new shape overflows");
        }
    }
    if (infer >= 0) {
        if (known == 0 || x->numel % known)
            return dc_error_null(DC_ERR_SHAPE, "reshape: cannot infer -1 to turn %s (%lld elements) into that shape",
                                 dc_tshape(x, 0), (long long)x->numel);
        sh[infer] = x->numel / known;
        known = x->numel;
    }
    if (known != x->numel) {
        char b[160];
        return dc_error_null(DC_ERR_SHAPE, "reshape: cannot view %s (%lld elements) as %s (%lld elements)",
                             dc_tshape(x, 0), (long long)x->numel, dc_shape_str(ndim, sh, b, sizeof b),
                             (long long)known);
    }
    x = dc_contig(c, x);
    if (!x) return NULL;
    dc_tensor *y = dc_tensor_arena_view(&c->arena, x->data, ndim, sh, NULL);
    if (!y) return NULL;
    return record_view(c, "reshape", x, y, y->stride, 0);
}

dc_tensor *dc_permute(dc_ctx *c, dc_tensor *x, const int *perm) {
    DC_CHECK_ARGS(c, "permute", x);
    if (!perm) return dc_error_null(DC_ERR_ARG, "permute: perm is NULL");
    int nd = x->ndim;
    bool seen[DC_MAX_DIMS] = {0};
    int64_t sh[DC_MAX_DIMS], st[DC_MAX_DIMS], gst[DC_MAX_DIMS], xg[DC_MAX_DIMS];
    contig_strides(nd, x->shape, xg);
    for (int i = 0; i < nd; i++) {
        int p = perm[i];
        if (p < 0 || p >= nd || seen[p])
            return dc_error_null(DC_ERR_ARG, "permute: perm is not a permutation of 0..%d for %s", nd - 1, dc_tshape(x, 0));
        seen[p] = true;
        sh[i] = x->shape[p];
        st[i] = x->stride[p];
        gst[i] = xg[p];
    }
    dc_tensor *y = dc_tensor_arena_view(&c->arena, x->data, nd, sh, st);
    if (!y) return NULL;
    return record_view(c, "permute", x, y, gst, 0);
}

dc_tensor *dc_transpose(dc_ctx *c, dc_tensor *x, int a, int b) {
    DC_CHECK_ARGS(c, "transpose", x);
    int aa = dc_axis(a, x->ndim), bb = dc_axis(b, x->ndim);
    if (aa < 0 || bb < 0)
        return dc_error_null(DC_ERR_ARG, "transpose: axes %d and %d do not both exist in %s", a, b, dc_tshape(x, 0));
    int perm[DC_MAX_DIMS];
    for (int i = 0; i < x->ndim; i++) perm[i] = i;
    perm[aa] = bb;
    perm[bb] = aa;
    return dc_permute(c, x, perm);
}

dc_tensor *dc_slice(dc_ctx *c, dc_tensor *x, int axis, int64_t start, int64_t stop) {
    DC_CHECK_ARGS(c, "slice", x);
    int ax = dc_axis(axis, x->ndim);
    if (ax < 0) return dc_error_null(DC_ERR_ARG, "slice: axis %d does not exist in %s", axis, dc_tshape(x, 0));
    if (start < 0 || stop > x->shape[ax] || start > stop)
        return dc_error_null(DC_ERR_ARG, "slice: range [%lld, %lld) is outside axis %d of %s", (long long)start,
                             (long long)stop, ax, dc_tshape(x, 0));
    int64_t sh[DC_MAX_DIMS], xg[DC_MAX_DIMS];
    memcpy(sh, x->shape, sizeof sh);
    sh[ax] = stop - start;
    contig_strides(x->ndim, x->shape, xg);
    dc_tensor *y = dc_tensor_arena_view(&c->arena, x->data + start * x->stride[ax], x->ndim, sh, x->stride);
    if (!y) return NULL;
    return record_view(c, "slice", x, y, xg, start * xg[ax]);
}
