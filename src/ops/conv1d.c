/* 1-D convolution and pooling over the steps of x [N, T, C] (channels last, the layout of the
 * recurrent layers). The convolution copies each output step's window of a sample into one row
 * (im2col along time: k runs of C contiguous values) and multiplies the sample's rows by the
 * kernel in one GEMM; backward is two GEMMs per sample and the scatter of the rows back onto the
 * steps (the rows made again, not kept). */
#include "ops.h"

#include <math.h>
#include <string.h>

/* The geometry of one convolution or pooling: To output steps from T input steps, window k
 * spread by dilation d, stride s, pl steps of padding before the first. */
typedef struct c1_geom {
    int64_t N, T, C, F, k, s, d, pl, To;
} c1_geom;

/* rows[t, j C + c] = x[t s + j d - pl, c] of one sample (x [T, C]), 0 outside [0, T). */
static void im2row(const c1_geom *g, const float *x, float *rows) {
    const int64_t C = g->C, kC = g->k * C;
    for (int64_t t = 0; t < g->To; t++) {
        float *dst = rows + t * kC;
        for (int64_t j = 0; j < g->k; j++) {
            int64_t ti = t * g->s + j * g->d - g->pl;
            if (ti < 0 || ti >= g->T) memset(dst + j * C, 0, (size_t)C * sizeof(float));
            else memcpy(dst + j * C, x + ti * C, (size_t)C * sizeof(float));
        }
    }
}

/* gx[t s + j d - pl, :] += grows[t, j C ...] for one sample. */
static void row2im(const c1_geom *g, const float *grows, float *gx) {
    const int64_t C = g->C, kC = g->k * C;
    for (int64_t t = 0; t < g->To; t++) {
        const float *src = grows + t * kC;
        for (int64_t j = 0; j < g->k; j++) {
            int64_t ti = t * g->s + j * g->d - g->pl;
            if (ti < 0 || ti >= g->T) continue;
            float *dst = gx + ti * C;
            for (int64_t c = 0; c < C; c++) dst[c] += src[j * C + c];
        }
    }
}

/* A pointwise kernel over every step (k 1, stride 1, no padding) reads x's steps as its rows. */
static bool pointwise(const c1_geom *g) { return g->k == 1 && g->s == 1 && g->pl == 0 && g->To == g->T; }

typedef struct conv1d_saved {
    c1_geom g;
    float *wt; /* the kernel in the rows' order: wt[f, j C + c] = w[f, c, j] */
} conv1d_saved;

/* Samples run in parallel when there are at least as many as threads, each with its own rows
 * buffer and a single-threaded GEMM (the buffer stays in cache); fewer run one by one with the
 * GEMM's own threads. */
static bool par_samples(int64_t N) { return N >= dc_max_threads() && dc_max_threads() > 1; }

static void conv1d_backward(dc_ctx *c, dc_node *nd) {
    const conv1d_saved *s = nd->saved;
    const c1_geom *g = &s->g;
    dc_tensor *x = nd->in[0], *w = nd->in[1], *b = nd->in[2];
    const int64_t N = g->N, To = g->To, F = g->F, C = g->C, k = g->k, kC = k * C;
    const float *gy = nd->out->grad->data; /* [N, To, F] */
    float *gx = dc_grad_buf(c, x), *gw = dc_grad_buf(c, w), *gb = b ? dc_grad_buf(c, b) : NULL;
    if (gb)
        for (int64_t r = 0; r < N * To; r++)
            for (int64_t f = 0; f < F; f++) gb[f] += gy[r * F + f];
    if (!gx && !gw) return;
    /* nb parts of the batch, each with its own rows buffer and partial dwt, added in order */
    const int nb = dc_sum_parts(N);
    const bool par = nb > 1, direct = pointwise(g);
    size_t wsz = dc_k_gemm_bf16_scratch(F, kC, To), wsx = dc_k_gemm_bf16_scratch(To, kC, F);
    if (wsx > wsz) wsz = wsx;
    char *ws = dc_op_gemm_scratch(c, nb, wsz);
    /* per thread: a rows buffer (x's windows, then their gradient) and, in parallel, its own dwt */
    float *rows = dc_scratch(c, (size_t)(nb * To * kC) * sizeof(float));
    float *gwt = gw ? dc_scratch(c, (size_t)(nb * F * kC) * sizeof(float)) : NULL;
    if (!rows || (gw && !gwt)) {
        c->oom = true;
        return;
    }
    if (gwt) memset(gwt, 0, (size_t)(nb * F * kC) * sizeof(float));
    DC_PAR_FOR(par, t, nb,
        for (int64_t n = N * t / nb; n < N * (t + 1) / nb; n++) {
            float *r = rows + t * To * kC;
            const float *xn = x->data + n * g->T * C, *gyn = gy + n * To * F;
            char *wst = ws ? ws + t * wsz : NULL;
            if (gw) { /* dwt[F, kC] += gy_n^T . rows_n */
                const float *rn = direct ? xn : (im2row(g, xn, r), r);
                dc_k_gemm_bf16(true, false, F, kC, To, 1, gyn, F, rn, kC, 1, gwt + t * F * kC, kC, wst);
            }
            if (gx) { /* drows = gy_n . wt, back onto the steps */
                if (direct) {
                    dc_k_gemm_bf16(false, false, To, C, F, 1, gyn, F, s->wt, kC, 1, gx + n * g->T * C, C, wst);
                } else {
                    dc_k_gemm_bf16(false, false, To, kC, F, 1, gyn, F, s->wt, kC, 0, r, kC, wst);
                    row2im(g, r, gx + n * g->T * C);
                }
            }
        });
    for (int t = 0; gw && t < nb; t++)
        for (int64_t f = 0; f < F; f++)
            for (int64_t ch = 0; ch < C; ch++)
                for (int64_t j = 0; j < k; j++) gw[(f * C + ch) * k + j] += gwt[(t * F + f) * kC + j * C + ch];
}

dc_tensor *dc_conv1d(dc_ctx *c, dc_tensor *x, dc_tensor *w, dc_tensor *b, int stride, int dilation, int pad_left, int pad_right) {
    DC_CHECK_ARGS(c, "conv1d", x, w);
    if (x->ndim != 3) return dc_error_null(DC_ERR_SHAPE, "conv1d: expected input [N, T, C], got %s", dc_tshape(x, 0));
    if (w->ndim != 3 || w->shape[1] != x->shape[2] || w->shape[2] < 1)
        return dc_error_null(DC_ERR_SHAPE, "conv1d: kernel must be [F, C, k] with C = %lld (the input's channels, input %s), got %s",
                             (long long)x->shape[2], dc_tshape(x, 0), dc_tshape(w, 1));
    if (b && b->numel != w->shape[0])
        return dc_error_null(DC_ERR_SHAPE, "conv1d: bias has %lld elements for %lld filters", (long long)b->numel,
                             (long long)w->shape[0]);
    if (stride < 1 || dilation < 1 || pad_left < 0 || pad_right < 0)
        return dc_error_null(DC_ERR_ARG, "conv1d: stride %d and dilation %d must be positive, padding (%d, %d) not negative", stride,
                             dilation, pad_left, pad_right);
    c1_geom g = {x->shape[0], x->shape[1], x->shape[2], w->shape[0], w->shape[2], stride, dilation, pad_left, 0};
    int64_t span = (g.k - 1) * g.d + 1, padded = g.T + pad_left + pad_right;
    if (padded < span)
        return dc_error_null(DC_ERR_SHAPE, "conv1d: the kernel spans %lld steps (size %lld, dilation %d), more than the %lld padded steps of %s",
                             (long long)span, (long long)g.k, dilation, (long long)padded, dc_tshape(x, 0));
    g.To = (padded - span) / g.s + 1;
    if (!(x = dc_contig(c, x)) || !(w = dc_contig(c, w)) || (b && !(b = dc_contig(c, b)))) return NULL;
    const int64_t N = g.N, To = g.To, F = g.F, kC = g.k * g.C;
    dc_tensor *y = dc_out(c, 3, (int64_t[]){N, To, F});
    float *wt = dc_scratch(c, (size_t)(F * kC) * sizeof(float));
    if (!y || !wt) return NULL;
    for (int64_t f = 0; f < F; f++)
        for (int64_t ch = 0; ch < g.C; ch++)
            for (int64_t j = 0; j < g.k; j++) wt[f * kC + j * g.C + ch] = w->data[(f * g.C + ch) * g.k + j];
    bool par = par_samples(N), direct = pointwise(&g);
    int nb = par ? dc_max_threads() : 1;
    size_t wsz = dc_k_gemm_bf16_scratch(To, F, kC);
    char *ws = dc_op_gemm_scratch(c, nb, wsz);
    float *rows = direct ? NULL : dc_scratch(c, (size_t)(nb * To * kC) * sizeof(float));
    if (!direct && !rows) return NULL;
    DC_PAR_FOR(par, n, N, { /* y_n[To, F] = rows_n[To, kC] . wt^T + b */
        int t = par ? dc_thread_id() : 0;
        const float *xn = x->data + n * g.T * g.C;
        float *yn = y->data + n * To * F, *r = direct ? NULL : rows + t * To * kC;
        if (r) im2row(&g, xn, r);
        if (b)
            dc_k_fill_rows(yn, b->data, To, F);
        dc_k_gemm_bf16(false, true, To, F, kC, 1, r ? r : xn, kC, wt, kC, b ? 1.0f : 0.0f, yn, F, ws ? ws + t * wsz : NULL);
    });
    dc_tensor *in3[3] = {x, w, b};
    if (!dc_needs_grad(c, 3, in3)) return y;
    conv1d_saved *s = dc_scratch(c, sizeof *s);
    dc_node *nd = s ? dc_record(c, "conv1d", conv1d_backward, y, 3, in3) : NULL;
    if (!nd) return NULL;
    *s = (conv1d_saved){g, wt};
    nd->saved = s;
    return y;
}

/* ---- pooling over windows of steps ---- */

typedef struct pool1d_saved {
    c1_geom g;
    int32_t *arg; /* max: the step of each output's maximum */
} pool1d_saved;

static void maxpool1d_backward(dc_ctx *c, dc_node *nd) {
    float *gx = dc_grad_buf(c, nd->in[0]);
    if (!gx) return;
    const pool1d_saved *s = nd->saved;
    const c1_geom *g = &s->g;
    const float *gy = nd->out->grad->data;
    for (int64_t n = 0; n < g->N; n++)
        for (int64_t t = 0; t < g->To; t++)
            for (int64_t ch = 0; ch < g->C; ch++) {
                int64_t o = (n * g->To + t) * g->C + ch;
                gx[(n * g->T + s->arg[o]) * g->C + ch] += gy[o];
            }
}

/* The steps [*lo, *hi) of input that output step t's window covers. */
static void window(const c1_geom *g, int64_t t, int64_t *lo, int64_t *hi) {
    int64_t a = t * g->s - g->pl, e = a + g->k;
    *lo = a < 0 ? 0 : a;
    *hi = e > g->T ? g->T : e;
}

static void avgpool1d_backward(dc_ctx *c, dc_node *nd) {
    float *gx = dc_grad_buf(c, nd->in[0]);
    if (!gx) return;
    const c1_geom *g = &((const pool1d_saved *)nd->saved)->g;
    const float *gy = nd->out->grad->data;
    for (int64_t n = 0; n < g->N; n++)
        for (int64_t t = 0; t < g->To; t++) {
            int64_t lo, hi;
            window(g, t, &lo, &hi);
            float inv = 1.0f / (float)(hi - lo);
            const float *gr = gy + (n * g->To + t) * g->C;
            for (int64_t ti = lo; ti < hi; ti++) {
                float *dst = gx + (n * g->T + ti) * g->C;
                for (int64_t ch = 0; ch < g->C; ch++) dst[ch] += gr[ch] * inv;
            }
        }
}

static dc_tensor *pool1d(dc_ctx *c, dc_tensor *x, bool max, int pool, int stride, int pad_left, int pad_right) {
    const char *op = max ? "max_pool1d" : "avg_pool1d";
    DC_CHECK_ARGS(c, op, x);
    if (x->ndim != 3) return dc_error_null(DC_ERR_SHAPE, "%s: expected input [N, T, C], got %s", op, dc_tshape(x, 0));
    if (pool < 1 || stride < 1 || pad_left < 0 || pad_right < 0)
        return dc_error_null(DC_ERR_ARG, "%s: pool %d and stride %d must be positive, padding (%d, %d) not negative", op, pool, stride,
                             pad_left, pad_right);
    c1_geom g = {x->shape[0], x->shape[1], x->shape[2], x->shape[2], pool, stride, 1, pad_left, 0};
    int64_t padded = g.T + pad_left + pad_right;
    if (padded < pool)
        return dc_error_null(DC_ERR_SHAPE, "%s: pool %d is longer than the %lld padded steps of %s", op, pool, (long long)padded,
                             dc_tshape(x, 0));
    g.To = (padded - pool) / stride + 1;
    /* every window must reach a real step: its first one starts before T, its last ends after 0 */
    if (pad_left >= pool || (g.To - 1) * g.s - g.pl >= g.T)
        return dc_error_null(DC_ERR_ARG, "%s: padding (%d, %d) leaves a window of pool %d with no step of %s", op, pad_left, pad_right,
                             pool, dc_tshape(x, 0));
    if (!(x = dc_contig(c, x))) return NULL;
    const int64_t C = g.C;
    dc_tensor *y = dc_out(c, 3, (int64_t[]){g.N, g.To, C});
    int32_t *arg = max ? dc_scratch(c, (size_t)(g.N * g.To * C) * sizeof(int32_t)) : NULL;
    if (!y || (max && !arg)) return NULL;
    DC_FOR_ROWS(r, g.N * g.To, g.N * g.To * C * g.k, {
        int64_t n = r / g.To, t = r % g.To, lo, hi;
        window(&g, t, &lo, &hi);
        float *yr = y->data + r * C;
        const float *xr = x->data + (n * g.T + lo) * C;
        if (max) {
            int32_t *ar = arg + r * C;
            for (int64_t ch = 0; ch < C; ch++) yr[ch] = xr[ch], ar[ch] = (int32_t)lo;
            for (int64_t ti = lo + 1; ti < hi; ti++) {
                xr += C;
                for (int64_t ch = 0; ch < C; ch++)
                    if (xr[ch] > yr[ch]) yr[ch] = xr[ch], ar[ch] = (int32_t)ti;
            }
        } else {
            memset(yr, 0, (size_t)C * sizeof(float));
            for (int64_t ti = lo; ti < hi; ti++, xr += C)
                for (int64_t ch = 0; ch < C; ch++) yr[ch] += xr[ch];
            float inv = 1.0f / (float)(hi - lo);
            for (int64_t ch = 0; ch < C; ch++) yr[ch] *= inv;
        }
    });
    if (!DC_NEEDS1(c, x)) return y;
    pool1d_saved *s = dc_scratch(c, sizeof *s);
    dc_node *nd = s ? DC_RECORD1(c, op, max ? maxpool1d_backward : avgpool1d_backward, y, x) : NULL;
    if (!nd) return NULL;
    *s = (pool1d_saved){g, arg};
    nd->saved = s;
    return y;
}

dc_tensor *dc_max_pool1d(dc_ctx *c, dc_tensor *x, int pool, int stride, int pad_left, int pad_right) {
    return pool1d(c, x, true, pool, stride, pad_left, pad_right);
}

dc_tensor *dc_avg_pool1d(dc_ctx *c, dc_tensor *x, int pool, int stride, int pad_left, int pad_right) {
    return pool1d(c, x, false, pool, stride, pad_left, pad_right);
}

/* ---- the maximum over every (real) step ---- */

static void gmax1d_backward(dc_ctx *c, dc_node *nd) {
    float *gx = dc_grad_buf(c, nd->in[0]);
    if (!gx) return;
    const int32_t *arg = nd->saved;
    int64_t N = nd->in[0]->shape[0], T = nd->in[0]->shape[1], C = nd->in[0]->shape[2];
    const float *gy = nd->out->grad->data;
    for (int64_t n = 0; n < N; n++)
        for (int64_t ch = 0; ch < C; ch++)
            if (arg[n * C + ch] >= 0) gx[(n * T + arg[n * C + ch]) * C + ch] += gy[n * C + ch];
}

dc_tensor *dc_global_max_pool1d(dc_ctx *c, dc_tensor *x, const uint8_t *mask) {
    DC_CHECK_ARGS(c, "global_max_pool1d", x);
    if (x->ndim != 3) return dc_error_null(DC_ERR_SHAPE, "global_max_pool1d: expected input [N, T, C], got %s", dc_tshape(x, 0));
    if (!(x = dc_contig(c, x))) return NULL;
    int64_t N = x->shape[0], T = x->shape[1], C = x->shape[2];
    dc_tensor *y = dc_out(c, 2, (int64_t[]){N, C});
    int32_t *arg = dc_scratch(c, (size_t)(N * C > 0 ? N * C : 1) * sizeof(int32_t));
    if (!y || !arg) return NULL;
    for (int64_t n = 0; n < N; n++) {
        float *yr = y->data + n * C;
        int32_t *ar = arg + n * C;
        for (int64_t ch = 0; ch < C; ch++) yr[ch] = 0, ar[ch] = -1; /* a row without a real step: 0 */
        for (int64_t t = 0; t < T; t++) {
            if (mask && !mask[n * T + t]) continue;
            const float *xr = x->data + (n * T + t) * C;
            for (int64_t ch = 0; ch < C; ch++)
                if (ar[ch] < 0 || xr[ch] > yr[ch]) yr[ch] = xr[ch], ar[ch] = (int32_t)t;
        }
    }
    if (!DC_NEEDS1(c, x)) return y;
    dc_node *nd = DC_RECORD1(c, "global_max_pool1d", gmax1d_backward, y, x);
    if (!nd) return NULL;
    nd->saved = arg;
    return y;
}
