/* Pooling over NCHW: max and average (no padding, as Keras's 'valid'), global average,
 * and nearest-neighbour up-sampling. */
#include "ops.h"

#include <math.h>
#include <string.h>

static bool pool_check(const char *op, const dc_tensor *x, int kh, int kw, int sh, int sw) {
    if (x->ndim != 4) {
        dc_error(DC_ERR_SHAPE, "%s: expected input [N, C, H, W], got %s", op, dc_tshape(x, 0));
        return false;
    }
    if (kh <= 0 || kw <= 0 || sh <= 0 || sw <= 0) {
        dc_error(DC_ERR_ARG, "%s: pool size (%d, %d) and stride (%d, %d) must be positive", op, kh, kw, sh, sw);
        return false;
    }
    if (x->shape[2] < kh || x->shape[3] < kw) {
        dc_error(DC_ERR_SHAPE, "%s: pool %dx%d is larger than the input %lldx%lld (input %s)", op, kh, kw,
                 (long long)x->shape[2], (long long)x->shape[3], dc_tshape(x, 0));
        return false;
    }
    return true;
}

/* Checks the window, makes *x contiguous and returns the [N, C, OH, OW] output (NULL on error). */
static dc_tensor *pool_out(dc_ctx *c, const char *op, dc_tensor **x, int kh, int kw, int sh, int sw) {
    if (!pool_check(op, *x, kh, kw, sh, sw) || !(*x = dc_contig(c, *x))) return NULL;
    const int64_t *d = (*x)->shape;
    return dc_out(c, 4, (int64_t[]){d[0], d[1], (d[2] - kh) / sh + 1, (d[3] - kw) / sw + 1});
}

DC_CLONES static void maxpool_backward(dc_ctx *c, dc_node *n) {
    float *gx = dc_grad_buf(c, n->in[0]);
    if (!gx) return;
    const int32_t *arg = n->saved;
    const float *gy = n->out->grad->data;
    int64_t planes = n->out->shape[0] * n->out->shape[1], ohw = n->out->shape[2] * n->out->shape[3];
    int64_t hw = n->in[0]->shape[2] * n->in[0]->shape[3];
    DC_PAR_FOR(planes * ohw > DC_PAR_MIN, p, planes,
        for (int64_t j = 0; j < ohw; j++) gx[p * hw + arg[p * ohw + j]] += gy[p * ohw + j];);
}

/* The common 2x2 window with horizontal stride 2, one output row, branch-free so it
 * vectorises; a NaN wins, as in the general loop. */
static void max2x2_row(const float *r0, int64_t W, int64_t OW, int32_t base, float *y, int32_t *arg) {
    const float *r1 = r0 + W;
#pragma omp simd
    for (int64_t ox = 0; ox < OW; ox++) {
        float a = r0[2 * ox], b = r0[2 * ox + 1], c = r1[2 * ox], d = r1[2 * ox + 1];
        int32_t ia = 0;
        float m = a;
        bool tb = b > m || b != b;
        m = tb ? b : m;
        ia = tb ? 1 : ia;
        bool tc = c > m || c != c;
        m = tc ? c : m;
        ia = tc ? (int32_t)W : ia;
        bool td = d > m || d != d;
        m = td ? d : m;
        ia = td ? (int32_t)W + 1 : ia;
        y[ox] = m;
        if (arg) arg[ox] = base + (int32_t)(2 * ox) + ia;
    }
}

/* The 2x2 window with stride 2 over a whole plane of even width W whose pooled rows fit in
 * PLANE_MAX values: first the max of each horizontal pair of the 2 OH rows, which is one long
 * unit-stride loop over the plane because W is even (pairs never straddle rows), then of each
 * vertical pair of those. A pooled row of a small image (13 outputs at 26x26) is too short for the
 * vectors on its own. The rule "a later element wins if greater or NaN" applied to the pairs in
 * this order picks what max2x2_row picks over a, b, c, d: the first maximum, or the last NaN. */
#define PLANE_MAX 4096
static void max2x2_plane(const float *xp, int64_t W, int64_t OH, float *y, int32_t *arg) {
    float h[PLANE_MAX];
    int32_t hi[PLANE_MAX];
    const int64_t OW = W / 2, n = 2 * OH * OW;
#pragma omp simd
    for (int64_t k = 0; k < n; k++) {
        float a = xp[2 * k], b = xp[2 * k + 1];
        bool t = b > a || b != b;
        h[k] = t ? b : a;
        hi[k] = (int32_t)(2 * k) + (t ? 1 : 0);
    }
    for (int64_t oy = 0; oy < OH; oy++) {
        const float *t0 = h + 2 * oy * OW, *t1 = t0 + OW;
        const int32_t *i0 = hi + 2 * oy * OW, *i1 = i0 + OW;
        float *yr = y + oy * OW;
        int32_t *ar = arg ? arg + oy * OW : NULL;
#pragma omp simd
        for (int64_t ox = 0; ox < OW; ox++) {
            bool w = t1[ox] > t0[ox] || t1[ox] != t1[ox];
            yr[ox] = w ? t1[ox] : t0[ox];
            if (ar) ar[ox] = w ? i1[ox] : i0[ox];
        }
    }
}

#if defined(DC_HAVE_AVX512_KERNELS)
#include <immintrin.h>
/* The 2x2 window with stride 2 over a plane, one pooled row at a time, 16 outputs per step with
 * masks at the row's end (a 13-wide row is one step), by max2x2_plane's rule: the later of each
 * horizontal pair wins if greater or NaN, then the lower of the two pair maxima does. Masked
 * loads never read past the row's last pair (fault-free), so an odd W is fine. Only on a CPU
 * with AVX-512 (dc_k_avx512_usable). */
DC_TARGET_AVX512 static void max2x2_rows_avx512(const float *xp, int64_t W, int64_t OH, int64_t OW, float *yp, int32_t *ap) {
    for (int64_t oy = 0; oy < OH; oy++) {
        const float *r0 = xp + 2 * oy * W, *r1 = r0 + W;
        const int32_t base = (int32_t)(2 * oy * W);
        float *y = yp + oy * OW;
        int32_t *arg = ap ? ap + oy * OW : NULL;
        const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
        const __m512i odd = _mm512_add_epi32(even, _mm512_set1_epi32(1)), w = _mm512_set1_epi32((int32_t)W);
        for (int64_t ox = 0; ox < OW; ox += 16) {
            int64_t n = OW - ox < 16 ? OW - ox : 16, e = 2 * n;
            __mmask16 m = (__mmask16)((1u << n) - 1), mlo = e >= 16 ? 0xffff : (__mmask16)((1u << e) - 1),
                      mhi = e <= 16 ? 0 : (__mmask16)((1u << (e - 16)) - 1);
            const float *p = r0 + 2 * ox, *q = r1 + 2 * ox;
            __m512 p0 = _mm512_maskz_loadu_ps(mlo, p), p1 = _mm512_maskz_loadu_ps(mhi, p + 16);
            __m512 q0 = _mm512_maskz_loadu_ps(mlo, q), q1 = _mm512_maskz_loadu_ps(mhi, q + 16);
            __m512 a = _mm512_permutex2var_ps(p0, even, p1), b = _mm512_permutex2var_ps(p0, odd, p1);
            __m512 c = _mm512_permutex2var_ps(q0, even, q1), d = _mm512_permutex2var_ps(q0, odd, q1);
            __mmask16 tb = _mm512_cmp_ps_mask(b, a, _CMP_GT_OQ) | _mm512_cmp_ps_mask(b, b, _CMP_UNORD_Q);
            __mmask16 td = _mm512_cmp_ps_mask(d, c, _CMP_GT_OQ) | _mm512_cmp_ps_mask(d, d, _CMP_UNORD_Q);
            __m512 top = _mm512_mask_blend_ps(tb, a, b), bot = _mm512_mask_blend_ps(td, c, d);
            __mmask16 tw = _mm512_cmp_ps_mask(bot, top, _CMP_GT_OQ) | _mm512_cmp_ps_mask(bot, bot, _CMP_UNORD_Q);
            _mm512_mask_storeu_ps(y + ox, m, _mm512_mask_blend_ps(tw, top, bot));
            if (arg) {
                __m512i ia = _mm512_add_epi32(_mm512_set1_epi32(base + (int32_t)(2 * ox)), even);
                __m512i it = _mm512_mask_add_epi32(ia, tb, ia, _mm512_set1_epi32(1));
                __m512i ib = _mm512_mask_add_epi32(_mm512_add_epi32(ia, w), td, _mm512_add_epi32(ia, w), _mm512_set1_epi32(1));
                _mm512_mask_storeu_epi32(arg + ox, m, _mm512_mask_blend_epi32(tw, it, ib));
            }
        }
    }
}
#endif

/* One plane of width W max-pooled into [OH, OW] (window kh x kw, stride sh x sw, no padding); ap,
 * when not NULL, gets each maximum's index in the plane. A later element of the window (row-major
 * order) wins when greater or NaN: the first maximum, or the last NaN. */
DC_CLONES void dc_k_maxpool_plane(const float *xp, int64_t W, int kh, int kw, int sh, int sw, int64_t OH, int64_t OW,
                                  float *yp, int32_t *ap) {
#if defined(DC_HAVE_AVX512_KERNELS)
    if (kh == 2 && kw == 2 && sh == 2 && sw == 2 && dc_k_avx512_usable()) {
        max2x2_rows_avx512(xp, W, OH, OW, yp, ap);
        return;
    }
#endif
    if (kh == 2 && kw == 2 && sh == 2 && sw == 2 && W % 2 == 0 && OH * W <= PLANE_MAX) {
        max2x2_plane(xp, W, OH, yp, ap);
        return;
    }
    for (int64_t oy = 0; oy < OH; oy++) {
        if (kh == 2 && kw == 2 && sw == 2) {
            max2x2_row(xp + oy * sh * W, W, OW, (int32_t)(oy * sh * W), yp + oy * OW, ap ? ap + oy * OW : NULL);
            continue;
        }
        for (int64_t ox = 0; ox < OW; ox++) {
            int64_t best = oy * sh * W + ox * sw;
            float m = xp[best];
            for (int64_t ky = 0; ky < kh; ky++) {
                const float *r = xp + (oy * sh + ky) * W + ox * sw;
                for (int64_t kx = 0; kx < kw; kx++)
                    if (r[kx] > m || isnan(r[kx])) {
                        m = r[kx];
                        best = (oy * sh + ky) * W + ox * sw + kx;
                    }
            }
            yp[oy * OW + ox] = m;
            if (ap) ap[oy * OW + ox] = (int32_t)best;
        }
    }
}

dc_tensor *dc_max_pool2d(dc_ctx *c, dc_tensor *x, int kh, int kw, int sh, int sw) {
    DC_CHECK_ARGS(c, "max_pool2d", x);
    dc_tensor *y = pool_out(c, "max_pool2d", &x, kh, kw, sh, sw);
    if (!y) return NULL;
    int64_t N = x->shape[0], C = x->shape[1], H = x->shape[2], W = x->shape[3], OH = y->shape[2], OW = y->shape[3];
    bool need = DC_NEEDS1(c, x);
    int32_t *arg = need ? dc_scratch(c, (size_t)y->numel * sizeof *arg) : NULL;
    if (need && !arg) return NULL;
    if (H * W > INT32_MAX) return dc_error_null(DC_ERR_SHAPE, "max_pool2d: plane %lldx%lld too large", (long long)H, (long long)W);
    const float *X = x->data;
    float *Y = y->data;
    DC_PAR_FOR(y->numel > DC_PAR_MIN / 4, p, N * C,
        dc_k_maxpool_plane(X + p * H * W, W, kh, kw, sh, sw, OH, OW, Y + p * OH * OW, arg ? arg + p * OH * OW : NULL););
    if (need) {
        dc_node *n = DC_RECORD1(c, "max_pool2d", maxpool_backward, y, x);
        if (!n) return NULL;
        n->saved = arg;
    }
    return y;
}

/* One plane's average pool: each output the sum of its window in row-major order (from 0, so a
 * window of -0 gives +0 on every path), times s = 1 / (kh kw). The 2x2 window of stride 2 has
 * its own loop over the row, which vectorises. */
DC_INLINE void avg_plane(const float *xp, int64_t W, int64_t kh, int64_t kw, int64_t sh, int64_t sw, int64_t OH, int64_t OW, float s,
                         float *yp) {
    for (int64_t oy = 0; oy < OH; oy++) {
        float *y = yp + oy * OW;
        if (kh == 2 && kw == 2 && sh == 2 && sw == 2) {
            const float *r0 = xp + 2 * oy * W, *r1 = r0 + W;
#pragma omp simd
            for (int64_t ox = 0; ox < OW; ox++) y[ox] = ((((0.0f + r0[2 * ox]) + r0[2 * ox + 1]) + r1[2 * ox]) + r1[2 * ox + 1]) * s;
            continue;
        }
        for (int64_t ox = 0; ox < OW; ox++) {
            float acc = 0;
            for (int64_t ky = 0; ky < kh; ky++)
                for (int64_t kx = 0; kx < kw; kx++) acc += xp[(oy * sh + ky) * W + ox * sw + kx];
            y[ox] = acc * s;
        }
    }
}

/* One plane's input gradient: each output's gradient times s added to its window's elements
 * (in output order; windows of stride 2 and size 2 do not overlap, and their loop vectorises). */
DC_INLINE void avg_plane_backward(const float *gyp, int64_t W, int64_t kh, int64_t kw, int64_t sh, int64_t sw, int64_t OH, int64_t OW,
                                  float s, float *gp) {
    for (int64_t oy = 0; oy < OH; oy++) {
        const float *gr = gyp + oy * OW;
        if (kh == 2 && kw == 2 && sh == 2 && sw == 2) {
            float *g0 = gp + 2 * oy * W, *g1 = g0 + W;
#pragma omp simd
            for (int64_t ox = 0; ox < OW; ox++) {
                const float g = gr[ox] * s;
                g0[2 * ox] += g;
                g0[2 * ox + 1] += g;
                g1[2 * ox] += g;
                g1[2 * ox + 1] += g;
            }
            continue;
        }
        for (int64_t ox = 0; ox < OW; ox++) {
            const float g = gr[ox] * s;
            for (int64_t ky = 0; ky < kh; ky++)
                for (int64_t kx = 0; kx < kw; kx++) gp[(oy * sh + ky) * W + ox * sw + kx] += g;
        }
    }
}

DC_CLONES static void avgpool_backward(dc_ctx *c, dc_node *n) {
    float *gx = dc_grad_buf(c, n->in[0]);
    if (!gx) return;
    const int64_t kh = n->i[0], kw = n->i[1], sh = n->i[2], sw = n->i[3];
    const int64_t planes = n->out->shape[0] * n->out->shape[1], OH = n->out->shape[2], OW = n->out->shape[3];
    const int64_t H = n->in[0]->shape[2], W = n->in[0]->shape[3];
    const float s = 1.0f / (float)(kh * kw);
    const float *gy = n->out->grad->data;
    /* planes are disjoint: any split over threads gives the same result */
    DC_PAR_FOR(n->in[0]->numel > DC_PAR_MIN / 4, p, planes,
               avg_plane_backward(gy + p * OH * OW, W, kh, kw, sh, sw, OH, OW, s, gx + p * H * W););
}

DC_CLONES dc_tensor *dc_avg_pool2d(dc_ctx *c, dc_tensor *x, int kh, int kw, int sh, int sw) {
    DC_CHECK_ARGS(c, "avg_pool2d", x);
    dc_tensor *y = pool_out(c, "avg_pool2d", &x, kh, kw, sh, sw);
    if (!y) return NULL;
    const int64_t N = x->shape[0], C = x->shape[1], H = x->shape[2], W = x->shape[3], OH = y->shape[2], OW = y->shape[3];
    const float s = 1.0f / (float)(kh * kw);
    const float *X = x->data;
    float *Y = y->data;
    DC_PAR_FOR(y->numel > DC_PAR_MIN / 4, p, N * C, avg_plane(X + p * H * W, W, kh, kw, sh, sw, OH, OW, s, Y + p * OH * OW););
    if (DC_NEEDS1(c, x)) {
        dc_node *n = DC_RECORD1(c, "avg_pool2d", avgpool_backward, y, x);
        if (!n) return NULL;
        n->i[0] = kh;
        n->i[1] = kw;
        n->i[2] = sh;
        n->i[3] = sw;
    }
    return y;
}

dc_tensor *dc_global_avg_pool2d(dc_ctx *c, dc_tensor *x) {
    DC_CHECK_ARGS(c, "global_avg_pool2d", x);
    if (x->ndim != 4) return dc_error_null(DC_ERR_SHAPE, "global_avg_pool2d: expected input [N, C, H, W], got %s", dc_tshape(x, 0));
    return dc_mean_axis(c, dc_reshape(c, x, 3, (int64_t[]){x->shape[0], x->shape[1], -1}), 2, false);
}

DC_CLONES static void upsample_backward(dc_ctx *c, dc_node *n) {
    float *gx = dc_grad_buf(c, n->in[0]);
    if (!gx) return;
    int64_t fh = n->i[0], fw = n->i[1];
    int64_t planes = n->in[0]->shape[0] * n->in[0]->shape[1], H = n->in[0]->shape[2], W = n->in[0]->shape[3];
    const float *gy = n->out->grad->data;
    for (int64_t p = 0; p < planes; p++)
        for (int64_t y = 0; y < H * fh; y++)
            for (int64_t x = 0; x < W * fw; x++) gx[(p * H + y / fh) * W + x / fw] += gy[(p * H * fh + y) * W * fw + x];
}

DC_CLONES dc_tensor *dc_upsample2d(dc_ctx *c, dc_tensor *x, int fh, int fw) {
    DC_CHECK_ARGS(c, "upsample2d", x);
    if (x->ndim != 4) return dc_error_null(DC_ERR_SHAPE, "upsample2d: expected input [N, C, H, W], got %s", dc_tshape(x, 0));
    if (fh <= 0 || fw <= 0) return dc_error_null(DC_ERR_ARG, "upsample2d: factors (%d, %d) must be positive", fh, fw);
    if (!(x = dc_contig(c, x))) return NULL;
    int64_t planes = x->shape[0] * x->shape[1], H = x->shape[2], W = x->shape[3];
    dc_tensor *y = dc_out(c, 4, (int64_t[]){x->shape[0], x->shape[1], H * fh, W * fw});
    if (!y) return NULL;
    for (int64_t p = 0; p < planes; p++)
        for (int64_t r = 0; r < H * fh; r++)
            for (int64_t q = 0; q < W * fw; q++) y->data[(p * H * fh + r) * W * fw + q] = x->data[(p * H + r / fh) * W + q / fw];
    if (DC_NEEDS1(c, x)) {
        dc_node *n = DC_RECORD1(c, "upsample2d", upsample_backward, y, x);
        if (!n) return NULL;
        n->i[0] = fh;
        n->i[1] = fw;
    }
    return y;
}
