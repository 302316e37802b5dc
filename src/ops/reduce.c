/* Reductions: sum and mean of all elements, sum/mean/max along one axis. */
#include "ops.h"

#include <math.h>

DC_CLONES static void sum_all_backward(dc_ctx *c, dc_node *n) {
    float *gx = dc_grad_buf(c, n->in[0]);
    if (!gx) return;
    float g = n->out->grad->data[0] * n->f[0];
    DC_FOR(i, n->in[0]->numel, gx[i] += g;);
}

DC_CLONES static dc_tensor *reduce_all(dc_ctx *c, dc_tensor *x, bool mean) {
    DC_CHECK_ARGS(c, mean ? "mean" : "sum", x);
    x = dc_contig(c, x);
    if (!x) return NULL;
    if (mean && x->numel == 0) return dc_error_null(DC_ERR_SHAPE, "mean: tensor %s is empty", dc_tshape(x, 0));
    dc_tensor *y = dc_out(c, 1, (int64_t[]){1});
    if (!y) return NULL;
    double s = 0;
    const float *X = x->data;
    int64_t N = x->numel;
    if (N > DC_PAR_MIN) {
        /* fixed chunks summed in a fixed order, unlike an OpenMP reduction, whose partial sums
         * combine in the order threads finish: the same bits at any thread count, every run */
        enum { CHUNKS = 64 };
        double part[CHUNKS];
        const int64_t len = (N + CHUNKS - 1) / CHUNKS;
#pragma omp parallel for schedule(static)
        for (int ch = 0; ch < CHUNKS; ch++) {
            const int64_t i0 = ch * len, i1 = i0 + len < N ? i0 + len : N;
            double p = 0;
#pragma omp simd reduction(+ : p)
            for (int64_t i = i0; i < i1; i++) p += X[i];
            part[ch] = p;
        }
        for (int ch = 0; ch < CHUNKS; ch++) s += part[ch];
    } else {
#pragma omp simd reduction(+ : s)
        for (int64_t i = 0; i < N; i++) s += X[i];
    }
    float scale = mean ? 1.0f / (float)x->numel : 1.0f;
    y->data[0] = (float)(s * scale);
    if (DC_NEEDS1(c, x)) {
        dc_node *n = DC_RECORD1(c, mean ? "mean" : "sum", sum_all_backward, y, x);
        if (!n) return NULL;
        n->f[0] = scale;
    }
    return y;
}

dc_tensor *dc_sum(dc_ctx *c, dc_tensor *x) { return reduce_all(c, x, false); }
dc_tensor *dc_mean(dc_ctx *c, dc_tensor *x) { return reduce_all(c, x, true); }

/* x viewed as [outer, len, inner] with the reduced axis in the middle. */
static void split3(const dc_tensor *x, int ax, int64_t *outer, int64_t *len, int64_t *inner) {
    *outer = 1;
    *inner = 1;
    for (int i = 0; i < ax; i++) *outer *= x->shape[i];
    for (int i = ax + 1; i < x->ndim; i++) *inner *= x->shape[i];
    *len = x->shape[ax];
}

enum { R_SUM, R_MEAN, R_MAX };
static const char *const r_names[] = {"sum_axis", "mean_axis", "max_axis"};

DC_CLONES static void axis_backward(dc_ctx *c, dc_node *n) {
    float *gx = dc_grad_buf(c, n->in[0]);
    if (!gx) return;
    int64_t outer = n->i[1], len = n->i[2], inner = n->i[3];
    const float *g = n->out->grad->data;
    if (n->i[0] == R_MAX) {
        const int64_t *arg = n->saved;
        for (int64_t o = 0; o < outer; o++)
            for (int64_t k = 0; k < inner; k++) gx[(o * len + arg[o * inner + k]) * inner + k] += g[o * inner + k];
        return;
    }
    float s = n->f[0];
    for (int64_t o = 0; o < outer; o++)
        for (int64_t l = 0; l < len; l++)
            for (int64_t k = 0; k < inner; k++) gx[(o * len + l) * inner + k] += g[o * inner + k] * s;
}

DC_CLONES static dc_tensor *reduce_axis(dc_ctx *c, int kind, dc_tensor *x, int axis, bool keepdim) {
    DC_CHECK_ARGS(c, r_names[kind], x);
    int ax = dc_axis(axis, x->ndim);
    if (ax < 0) return dc_error_null(DC_ERR_ARG, "%s: axis %d does not exist in %s", r_names[kind], axis, dc_tshape(x, 0));
    x = dc_contig(c, x);
    if (!x) return NULL;
    int64_t outer, len, inner;
    split3(x, ax, &outer, &len, &inner);
    if (kind != R_SUM && len == 0)
        return dc_error_null(DC_ERR_SHAPE, "%s: axis %d of %s is empty", r_names[kind], ax, dc_tshape(x, 0));
    int64_t sh[DC_MAX_DIMS];
    int nd = 0;
    for (int i = 0; i < x->ndim; i++) {
        if (i == ax) {
            if (keepdim) sh[nd++] = 1;
        } else {
            sh[nd++] = x->shape[i];
        }
    }
    if (nd == 0) sh[nd++] = 1;
    dc_tensor *y = dc_out(c, nd, sh);
    if (!y) return NULL;
    bool need = DC_NEEDS1(c, x);
    int64_t *arg = NULL;
    if (kind == R_MAX && need && !(arg = dc_scratch(c, (size_t)(outer * inner) * sizeof *arg))) return NULL;
    float scale = kind == R_MEAN ? 1.0f / (float)len : 1.0f;
    for (int64_t o = 0; o < outer; o++)
        for (int64_t k = 0; k < inner; k++) {
            const float *p = x->data + o * len * inner + k;
            if (kind == R_MAX) {
                int64_t best = 0;
                for (int64_t l = 1; l < len; l++)
                    if (p[l * inner] > p[best * inner]) best = l;
                y->data[o * inner + k] = p[best * inner];
                if (arg) arg[o * inner + k] = best;
            } else {
                double s = 0;
                for (int64_t l = 0; l < len; l++) s += p[l * inner];
                y->data[o * inner + k] = (float)(s * scale);
            }
        }
    if (need) {
        dc_node *n = DC_RECORD1(c, r_names[kind], axis_backward, y, x);
        if (!n) return NULL;
        n->i[0] = kind;
        n->i[1] = outer;
        n->i[2] = len;
        n->i[3] = inner;
        n->f[0] = scale;
        n->saved = arg;
    }
    return y;
}

dc_tensor *dc_sum_axis(dc_ctx *c, dc_tensor *x, int axis, bool keepdim) { return reduce_axis(c, R_SUM, x, axis, keepdim); }
dc_tensor *dc_mean_axis(dc_ctx *c, dc_tensor *x, int axis, bool keepdim) { return reduce_axis(c, R_MEAN, x, axis, keepdim); }
dc_tensor *dc_max_axis(dc_ctx *c, dc_tensor *x, int axis, bool keepdim) { return reduce_axis(c, R_MAX, x, axis, keepdim); }
