/* Direct convolution for layers with few taps per output (C * kh * kw <= DC_CONV_DIRECT_TAPS,
 * stride 1): a network's first layer on 1- or 3-channel images. There the im2col + GEMM path
 * does little arithmetic per byte it moves (a 9-long dot product per output), and its copies,
 * the bias fill and a separate activation and pooling pass over the convolution's output cost
 * more than the products. Here each output vector (16 columns of a row) is summed in registers,
 * bias first, then one FMA per tap in (c, ky, kx) order, from a zero-padded copy of the image.
 *
 * The convolution fused with a 2x2 stride-2 max pool sums the same FMAs in the same order, over
 * the image's columns split by parity, so each pooled vector's four window elements are whole
 * vectors: its outputs are bit for bit those of the plain convolution followed by the pool.
 * ReLU and leaky ReLU are applied before the pool in registers, by act.c's rule (x > 0 ? x :
 * alpha x), and the pool keeps dc_k_maxpool_plane's rule (a later element of the window wins if
 * greater or NaN: the first maximum, or the last NaN), so the argmax indices agree too.
 *
 * The weight gradient of the fused op, when the input needs none: each pooled position routes
 * its gradient to one convolution output, so dW[f] is the sum over the pooled positions of
 * g * (the patch under its maximum): a quarter of the dense product's work, with each patch a
 * vector read from a patch-major copy of the image. */
#include "ops.h"

#include <stdlib.h>
#include <string.h>

/* -1: not read yet; else whether the direct kernels may run (DEEPC_CONV_DIRECT=off: never, for
 * A/B timings against the im2col path; dc_conv_direct_enable: the tests of both paths) */
static int enabled = -1;

void dc_conv_direct_enable(bool on) { __atomic_store_n(&enabled, on ? 1 : 0, __ATOMIC_RELAXED); }

static inline bool direct_enabled(void) {
    int e = __atomic_load_n(&enabled, __ATOMIC_RELAXED);
    if (e < 0) {
        const char *v = getenv("DEEPC_CONV_DIRECT");
        e = !(v && !strcmp(v, "off"));
        __atomic_store_n(&enabled, e, __ATOMIC_RELAXED);
    }
    return e == 1;
}

/* stride 1 on a CPU with the kernels, the direct path not switched off */
static bool direct_usable(const dc_conv_geom *g) {
#if defined(DC_HAVE_AVX512_KERNELS)
    return direct_enabled() && g->sh == 1 && g->sw == 1 && g->OH * g->OW <= INT32_MAX && dc_k_avx512_usable();
#else
    (void)g;
    return false;
#endif
}

bool dc_conv_direct_taps(const dc_conv_geom *g) { return g->C * g->kh * g->kw <= DC_CONV_DIRECT_TAPS && direct_usable(g); }

/* A 1 x 1 kernel's im2col columns are the image itself (no copy is larger than the input), and
 * its products run faster than the direct kernels at every shape measured (bench/sweep, 1 x 1
 * convolutions of 1-128 channels to 1-32 filters on 28x28 and 32x32: 0.31-0.79x the time). */
static bool beyond_1x1(const dc_conv_geom *g) { return g->kh * g->kw > 1; }

bool dc_conv_direct_applies(const dc_conv_geom *g, int64_t F) {
    return (g->C * g->kh * g->kw <= DC_CONV_DIRECT_TAPS || F <= DC_CONV_DIRECT_FILTERS) && beyond_1x1(g) && direct_usable(g);
}

bool dc_conv_direct_pool_applies(const dc_conv_geom *g, dc_activation act, float alpha, int pkh, int pkw, int psh, int psw) {
    return pkh == 2 && pkw == 2 && psh == 2 && psw == 2 &&
           (act == DC_ACT_NONE || act == DC_ACT_RELU || (act == DC_ACT_LEAKY_RELU && alpha >= 0)) && dc_conv_direct_taps(g);
}

/* The input gradient is the convolution of the output gradient (F channels) with the kernel
 * flipped and its channel axes swapped, padded by kh - 1 - pt and kw - 1 - pl: few taps when F x
 * kh x kw is small. */
static dc_conv_geom adjoint_geom(const dc_conv_geom *g, int64_t F) {
    return (dc_conv_geom){F, g->OH, g->OW, g->kh, g->kw, 1, 1, g->kh - 1 - g->pt, g->kw - 1 - g->pl, g->H, g->W};
}

bool dc_conv_direct_backward_applies(const dc_conv_geom *g, int64_t F) {
    return F * g->kh * g->kw <= DC_CONV_DIRECT_TAPS && beyond_1x1(g) && g->pt <= g->kh - 1 && g->pl <= g->kw - 1 && g->pt >= 0 && g->pl >= 0 &&
           direct_usable(g);
}

/* the padded image: OH + kh + 2 rows (spares for the last rows of a block of 2 or 4) of pitch
 * columns */
static int64_t pad_rows(const dc_conv_geom *g) { return g->OH + g->kh + 2; }
static int64_t pad_pitch(const dc_conv_geom *g) { return (g->OW + g->kw - 1 + 15 + 15) / 16 * 16; }
/* the parity-split image: rows, kw + 1 shifts, pooled columns rounded up to whole vectors */
static int64_t split_pitch(const dc_conv_geom *g) { return (g->OW / 2 + 15) / 16 * 16; }
/* patch-major copy for the weight gradient: one vector (or two) of taps per output */
static int64_t patch_pitch(const dc_conv_geom *g) { return g->C * g->kh * g->kw <= 16 ? 16 : 32; }

size_t dc_conv_direct_backward_scratch(const dc_conv_geom *g, int64_t F) {
    const dc_conv_geom a = adjoint_geom(g, F);
    const int64_t x = g->C * pad_rows(g) * pad_pitch(g), y = F * pad_rows(&a) * pad_pitch(&a) + g->C * F * g->kh * g->kw;
    return (size_t)((x > y ? x : y) + 32) * sizeof(float);
}

size_t dc_conv_direct_scratch(const dc_conv_geom *g) {
    const int64_t a = g->C * pad_rows(g) * pad_pitch(g), b = g->C * pad_rows(g) * (g->kw + 1) * split_pitch(g);
    const int64_t p = a + g->OH * g->OW * patch_pitch(g); /* the padded image and the patches */
    int64_t m = a > b ? a : b;
    m = m > p ? m : p;
    return (size_t)(m + 16) * sizeof(float);
}

/* xp[c][r][q] = x[c][r - pt][q - pl], zero outside the image */
static void pad_image(const dc_conv_geom *g, const float *x, float *xp) {
    const int64_t R = pad_rows(g), P = pad_pitch(g);
    memset(xp, 0, (size_t)(g->C * R * P) * sizeof(float));
    for (int64_t c = 0; c < g->C; c++)
        for (int64_t r = 0; r < R; r++) {
            const int64_t iy = r - g->pt;
            if (iy < 0 || iy >= g->H) continue;
            /* columns q with 0 <= q - pl < W and q < P */
            int64_t q0 = g->pl > 0 ? g->pl : 0, q1 = g->pl + g->W < P ? g->pl + g->W : P;
            if (q1 > q0) memcpy(xp + (c * R + r) * P + q0, x + (c * g->H + iy) * g->W + (q0 - g->pl), (size_t)(q1 - q0) * sizeof(float));
        }
}

#if defined(DC_HAVE_AVX512_KERNELS)
#include "kernels/avx512.h"

/* The plain convolution of one image into z[F, OH, OW] (added to z when acc, with no bias): per
 * block of 16 columns, 4 filters x 2 rows at a time (the last filters and row repeat their
 * neighbours and are not stored), or, under 4 filters, one filter x 4 rows. */
DC_TARGET_AVX512 static void direct_image_avx512(const dc_conv_geom *g, int64_t F, const float *x, const float *w, const float *b,
                                          float *z, float *xp, bool acc) {
    const int64_t C = g->C, kh = g->kh, kw = g->kw, OH = g->OH, OW = g->OW, R = pad_rows(g), P = pad_pitch(g), K = C * kh * kw;
    pad_image(g, x, xp);
    if (F < 4) {
        for (int64_t f = 0; f < F; f++)
            for (int64_t oy = 0; oy < OH; oy += 4)
                for (int64_t ox = 0; ox < OW; ox += 16) {
                    const __mmask16 m = dc_lanes16(OW - ox);
                    const int rows = OH - oy < 4 ? (int)(OH - oy) : 4;
                    float *zr = z + f * OH * OW + oy * OW + ox;
                    __m512 a[4];
#pragma GCC unroll 4
                    for (int i = 0; i < 4; i++)
                        a[i] = acc ? (i < rows ? _mm512_maskz_loadu_ps(m, zr + i * OW) : _mm512_setzero_ps())
                                   : b ? _mm512_set1_ps(b[f]) : _mm512_setzero_ps();
                    for (int64_t c = 0, k = 0; c < C; c++)
                        for (int64_t ky = 0; ky < kh; ky++) {
                            /* rows oy + ky .. oy + ky + 3 exist: the padded image has kh + 3 spare */
                            const float *r = xp + (c * R + oy + ky) * P + ox;
                            for (int64_t kx = 0; kx < kw; kx++, k++) {
                                const __m512 wv = _mm512_set1_ps(w[f * K + k]);
#pragma GCC unroll 4
                                for (int i = 0; i < 4; i++) a[i] = _mm512_fmadd_ps(wv, _mm512_loadu_ps(r + i * P + kx), a[i]);
                            }
                        }
#pragma GCC unroll 4
                    for (int i = 0; i < 4; i++)
                        if (i < rows) _mm512_mask_storeu_ps(zr + i * OW, m, a[i]);
                }
        return;
    }
    for (int64_t oy = 0; oy < OH; oy += 2) {
        const bool two = oy + 1 < OH;
        for (int64_t ox = 0; ox < OW; ox += 16) {
            const __mmask16 m = dc_lanes16(OW - ox);
            for (int64_t f = 0; f < F; f += 4) {
                const float *wf[4];
                __m512 a0[4], a1[4];
#pragma GCC unroll 4
                for (int i = 0; i < 4; i++) {
                    const int64_t fi = f + i < F ? f + i : F - 1;
                    float *zr = z + fi * OH * OW + oy * OW + ox;
                    wf[i] = w + fi * K;
                    a0[i] = acc ? _mm512_maskz_loadu_ps(m, zr) : b ? _mm512_set1_ps(b[fi]) : _mm512_setzero_ps();
                    a1[i] = acc ? (two ? _mm512_maskz_loadu_ps(m, zr + OW) : _mm512_setzero_ps()) : a0[i];
                }
                for (int64_t c = 0, k = 0; c < C; c++)
                    for (int64_t ky = 0; ky < kh; ky++) {
                        const float *r = xp + (c * R + oy + ky) * P + ox;
                        for (int64_t kx = 0; kx < kw; kx++, k++) {
                            const __m512 x0 = _mm512_loadu_ps(r + kx), x1 = _mm512_loadu_ps(r + P + kx);
#pragma GCC unroll 4
                            for (int i = 0; i < 4; i++) {
                                const __m512 wv = _mm512_set1_ps(wf[i][k]);
                                a0[i] = _mm512_fmadd_ps(wv, x0, a0[i]);
                                a1[i] = _mm512_fmadd_ps(wv, x1, a1[i]);
                            }
                        }
                    }
#pragma GCC unroll 4
                for (int i = 0; i < 4; i++) {
                    if (f + i >= F) break;
                    float *zr = z + (f + i) * OH * OW + oy * OW + ox;
                    _mm512_mask_storeu_ps(zr, m, a0[i]);
                    if (two) _mm512_mask_storeu_ps(zr + OW, m, a1[i]);
                }
            }
        }
    }
}

/* The weight gradient of one image, gw[F, C*kh*kw] += sum over outputs of gy[f, oy, ox] x
 * xpad[c, oy + ky, ox + kx]: four taps at a time against each gradient vector, from the padded
 * image (no im2col). */
DC_TARGET_AVX512 static void direct_wgrad_avx512(const dc_conv_geom *g, int64_t F, const float *x, const float *gy, float *gw, float *xp) {
    const int64_t C = g->C, kh = g->kh, kw = g->kw, OH = g->OH, OW = g->OW, R = pad_rows(g), P = pad_pitch(g), K = C * kh * kw;
    pad_image(g, x, xp);
    for (int64_t f = 0; f < F; f++)
        for (int64_t k0 = 0; k0 < K; k0 += 4) {
            int64_t off[4];
#pragma GCC unroll 4
            for (int u = 0; u < 4; u++) {
                const int64_t k = k0 + u < K ? k0 + u : K - 1, c = k / (kh * kw), ky = k / kw % kh, kx = k % kw;
                off[u] = (c * R + ky) * P + kx;
            }
            __m512 a[4] = {_mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps()};
            for (int64_t oy = 0; oy < OH; oy++)
                for (int64_t ox = 0; ox < OW; ox += 16) {
                    const __m512 gv = _mm512_maskz_loadu_ps(dc_lanes16(OW - ox), gy + (f * OH + oy) * OW + ox);
                    const float *r = xp + oy * P + ox;
#pragma GCC unroll 4
                    for (int u = 0; u < 4; u++) a[u] = _mm512_fmadd_ps(gv, _mm512_loadu_ps(r + off[u]), a[u]);
                }
            for (int u = 0; u < 4 && k0 + u < K; u++) gw[f * K + k0 + u] += _mm512_reduce_add_ps(a[u]);
        }
}

/* x > 0 ? x : alpha x for leaky ReLU, x > 0 ? x : 0 for ReLU; unchanged without an activation */
DC_TARGET_AVX512 static inline __m512 act_vec_avx512(dc_activation act, __m512 alpha, __m512 v) {
    if (act == DC_ACT_NONE) return v;
    const __mmask16 pos = _mm512_cmp_ps_mask(v, _mm512_setzero_ps(), _CMP_GT_OQ);
    if (act == DC_ACT_RELU) return _mm512_maskz_mov_ps(pos, v); /* +0, not 0 * v (-0 for v < 0) */
    return _mm512_mask_blend_ps(pos, _mm512_mul_ps(alpha, v), v);
}

/* b wins over a when greater or NaN */
DC_TARGET_AVX512 static inline __mmask16 later_wins_avx512(__m512 a, __m512 b) {
    return _mm512_cmp_ps_mask(b, a, _CMP_GT_OQ) | _mm512_cmp_ps_mask(b, b, _CMP_UNORD_Q);
}

/* The sums of four filters over the 2x2 windows of one block of 16 pooled columns of pooled row
 * py: a[h][dy * 2 + dx] for filter w4[h]. Inlined with constant kh and kw (3x3) so that the taps
 * unroll and the accumulators stay in registers. */
DC_TARGET_AVX512 static inline __attribute__((always_inline)) void pool_sums_avx512(const float *sp, int64_t C, int64_t R, int64_t S,
                                                                             int64_t Q, int64_t py, int64_t i0, const int64_t kh,
                                                                             const int64_t kw, const float *const *w4, const float *b4,
                                                                             __m512 a[4][4]) {
#pragma GCC unroll 4
    for (int h = 0; h < 4; h++)
#pragma GCC unroll 4
        for (int e = 0; e < 4; e++) a[h][e] = b4 ? _mm512_set1_ps(b4[h]) : _mm512_setzero_ps();
    for (int64_t c = 0, k = 0; c < C; c++)
        for (int64_t ky = 0; ky < kh; ky++) {
            const float *r0 = sp + ((c * R + 2 * py + ky) * S) * Q + i0, *r1 = r0 + S * Q;
            for (int64_t kx = 0; kx < kw; kx++, k++) {
                const __m512 d00 = _mm512_loadu_ps(r0 + kx * Q), d01 = _mm512_loadu_ps(r0 + (kx + 1) * Q);
                const __m512 d10 = _mm512_loadu_ps(r1 + kx * Q), d11 = _mm512_loadu_ps(r1 + (kx + 1) * Q);
#pragma GCC unroll 4
                for (int h = 0; h < 4; h++) {
                    const __m512 v = _mm512_set1_ps(w4[h][k]);
                    a[h][0] = _mm512_fmadd_ps(v, d00, a[h][0]);
                    a[h][1] = _mm512_fmadd_ps(v, d01, a[h][1]);
                    a[h][2] = _mm512_fmadd_ps(v, d10, a[h][2]);
                    a[h][3] = _mm512_fmadd_ps(v, d11, a[h][3]);
                }
            }
        }
}

/* The convolution, activation and 2x2 stride-2 max pool of one image into y[F, PH, PW] (and
 * arg, when not NULL: each maximum's index in the convolution's OH x OW plane). sp[c][r][s][i] =
 * xpad[c][r][2 i + s], s = 0 .. kw: the window element (dy, dx) of pooled column i under tap
 * (ky, kx) is sp[c][2 py + dy + ky][dx + kx][i]. Four filters at a time (the last ones repeat
 * their neighbour and are not stored). */
DC_TARGET_AVX512 static void direct_pool_image_avx512(const dc_conv_geom *g, int64_t F, const float *x, const float *w, const float *b,
                                               dc_activation act, float alpha, int64_t PH, int64_t PW, float *y, int32_t *arg,
                                               float *sp) {
    const int64_t C = g->C, kh = g->kh, kw = g->kw, OW = g->OW, R = pad_rows(g), S = kw + 1, Q = split_pitch(g),
                  K = C * kh * kw;
    memset(sp, 0, (size_t)(C * R * S * Q) * sizeof(float));
    for (int64_t c = 0; c < C; c++)
        for (int64_t r = 0; r < R; r++) {
            const int64_t iy = r - g->pt;
            if (iy < 0 || iy >= g->H) continue;
            const float *xr = x + (c * g->H + iy) * g->W;
            for (int64_t s = 0; s < S; s++) {
                /* d[i] = xr[2 i + s - pl] for the i < PW whose column is inside the image */
                float *d = sp + ((c * R + r) * S + s) * Q;
                int64_t lo = g->pl - s > 0 ? (g->pl - s + 1) / 2 : 0, hi = (g->W - 1 + g->pl - s) / 2 + 1;
                if (g->W - 1 + g->pl - s < 0) hi = 0;
                if (hi > PW) hi = PW;
                for (int64_t i = lo; i < hi; i++) d[i] = xr[2 * i + s - g->pl];
            }
        }
    const __m512 al = _mm512_set1_ps(act == DC_ACT_LEAKY_RELU ? alpha : 0.0f);
    const __m512i two_i = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30), one = _mm512_set1_epi32(1),
                  row = _mm512_set1_epi32((int32_t)OW);
    const bool k33 = kh == 3 && kw == 3;
    for (int64_t py = 0; py < PH; py++)
        for (int64_t i0 = 0; i0 < PW; i0 += 16) {
            const __mmask16 m = dc_lanes16(PW - i0);
            for (int64_t f = 0; f < F; f += 4) {
                const float *w4[4];
                float b4[4];
                for (int h = 0; h < 4; h++) {
                    const int64_t fh = f + h < F ? f + h : F - 1;
                    w4[h] = w + fh * K;
                    b4[h] = b ? b[fh] : 0.0f;
                }
                __m512 a[4][4]; /* [filter][dy * 2 + dx] */
                if (k33)
                    pool_sums_avx512(sp, C, R, S, Q, py, i0, 3, 3, w4, b ? b4 : NULL, a);
                else
                    pool_sums_avx512(sp, C, R, S, Q, py, i0, kh, kw, w4, b ? b4 : NULL, a);
#pragma GCC unroll 4
                for (int h = 0; h < 4; h++) {
                    if (f + h >= F) break;
                    const __m512 p = act_vec_avx512(act, al, a[h][0]), q = act_vec_avx512(act, al, a[h][1]);
                    const __m512 s = act_vec_avx512(act, al, a[h][2]), t = act_vec_avx512(act, al, a[h][3]);
                    const __mmask16 tb = later_wins_avx512(p, q), td = later_wins_avx512(s, t);
                    const __m512 top = _mm512_mask_blend_ps(tb, p, q), bot = _mm512_mask_blend_ps(td, s, t);
                    const __mmask16 tw = later_wins_avx512(top, bot);
                    const int64_t o = (f + h) * PH * PW + py * PW + i0;
                    _mm512_mask_storeu_ps(y + o, m, _mm512_mask_blend_ps(tw, top, bot));
                    if (arg) {
                        const __m512i ia = _mm512_add_epi32(_mm512_set1_epi32((int32_t)(2 * py * OW + 2 * i0)), two_i);
                        const __m512i it = _mm512_mask_add_epi32(ia, tb, ia, one), ib0 = _mm512_add_epi32(ia, row);
                        const __m512i ib = _mm512_mask_add_epi32(ib0, td, ib0, one);
                        _mm512_mask_storeu_epi32(arg + o, m, _mm512_mask_blend_epi32(tw, it, ib));
                    }
                }
            }
        }
}

/* gw[F, K] += the weight gradient of one image: pt[p][0 .. K) is the patch under output p, and
 * each pooled gradient ga[f, j] goes to the patch under its maximum arg[f, j]. Four partial sums
 * per filter (j mod 4) keep the FMAs independent. */
DC_TARGET_AVX512 static void direct_pool_wgrad_avx512(const dc_conv_geom *g, int64_t F, int64_t PHW, const float *x, const float *ga,
                                               const int32_t *arg, float *gw, float *xp) {
    const int64_t C = g->C, kh = g->kh, kw = g->kw, OH = g->OH, OW = g->OW, R = pad_rows(g), P = pad_pitch(g), K = C * kh * kw,
                  T = patch_pitch(g);
    pad_image(g, x, xp);
    float *pt = xp + C * R * P;
    int32_t off[DC_CONV_DIRECT_TAPS]; /* tap k's offset from its output's corner in xp */
    for (int64_t c = 0, k = 0; c < C; c++)
        for (int64_t ky = 0; ky < kh; ky++)
            for (int64_t kx = 0; kx < kw; kx++) off[k++] = (int32_t)((c * R + ky) * P + kx);
    const __mmask16 m0 = dc_lanes16(K), m1 = dc_lanes16(K - 16);
    const __m512i o0 = _mm512_maskz_loadu_epi32(m0, off), o1 = _mm512_maskz_loadu_epi32(m1, off + 16);
    for (int64_t oy = 0; oy < OH; oy++)
        for (int64_t ox = 0; ox < OW; ox++) {
            const float *corner = xp + oy * P + ox;
            float *q = pt + (oy * OW + ox) * T;
            _mm512_store_ps(q, _mm512_mask_i32gather_ps(_mm512_setzero_ps(), m0, o0, corner, 4));
            if (T == 32) _mm512_store_ps(q + 16, _mm512_mask_i32gather_ps(_mm512_setzero_ps(), m1, o1, corner, 4));
        }
    for (int64_t f = 0; f < F; f++) {
        const float *gf = ga + f * PHW;
        const int32_t *af = arg + f * PHW;
        __m512 s0[4], s1[4];
        for (int u = 0; u < 4; u++) s0[u] = s1[u] = _mm512_setzero_ps();
        int64_t j = 0;
        if (T == 16) {
            for (; j + 4 <= PHW; j += 4)
                for (int u = 0; u < 4; u++)
                    s0[u] = _mm512_fmadd_ps(_mm512_set1_ps(gf[j + u]), _mm512_load_ps(pt + (int64_t)af[j + u] * 16), s0[u]);
            for (; j < PHW; j++) s0[0] = _mm512_fmadd_ps(_mm512_set1_ps(gf[j]), _mm512_load_ps(pt + (int64_t)af[j] * 16), s0[0]);
        } else {
            for (; j + 4 <= PHW; j += 4)
                for (int u = 0; u < 4; u++) {
                    const __m512 v = _mm512_set1_ps(gf[j + u]);
                    const float *q = pt + (int64_t)af[j + u] * 32;
                    s0[u] = _mm512_fmadd_ps(v, _mm512_load_ps(q), s0[u]);
                    s1[u] = _mm512_fmadd_ps(v, _mm512_load_ps(q + 16), s1[u]);
                }
            for (; j < PHW; j++) {
                const __m512 v = _mm512_set1_ps(gf[j]);
                const float *q = pt + (int64_t)af[j] * 32;
                s0[0] = _mm512_fmadd_ps(v, _mm512_load_ps(q), s0[0]);
                s1[0] = _mm512_fmadd_ps(v, _mm512_load_ps(q + 16), s1[0]);
            }
        }
        const __m512 t0 = _mm512_add_ps(_mm512_add_ps(s0[0], s0[1]), _mm512_add_ps(s0[2], s0[3]));
        float *gr = gw + f * K;
        _mm512_mask_storeu_ps(gr, m0, _mm512_add_ps(_mm512_maskz_loadu_ps(m0, gr), t0));
        if (K > 16) {
            const __m512 t1 = _mm512_add_ps(_mm512_add_ps(s1[0], s1[1]), _mm512_add_ps(s1[2], s1[3]));
            _mm512_mask_storeu_ps(gr + 16, m1, _mm512_add_ps(_mm512_maskz_loadu_ps(m1, gr + 16), t1));
        }
    }
}
#endif

void dc_conv_direct_image(const dc_conv_geom *g, int64_t F, const float *x, const float *w, const float *b, float *z, void *scratch) {
#if defined(DC_HAVE_AVX512_KERNELS)
    direct_image_avx512(g, F, x, w, b, z, dc_conv_direct_align(scratch), false);
#else
    (void)g, (void)F, (void)x, (void)w, (void)b, (void)z, (void)scratch;
#endif
}

void dc_conv_direct_pool_image(const dc_conv_geom *g, int64_t F, const float *x, const float *w, const float *b, dc_activation act,
                               float alpha, int64_t PH, int64_t PW, float *y, int32_t *arg, void *scratch) {
#if defined(DC_HAVE_AVX512_KERNELS)
    direct_pool_image_avx512(g, F, x, w, b, act, alpha, PH, PW, y, arg, dc_conv_direct_align(scratch));
#else
    (void)g, (void)F, (void)x, (void)w, (void)b, (void)act, (void)alpha, (void)PH, (void)PW, (void)y, (void)arg, (void)scratch;
#endif
}

void dc_conv_direct_pool_wgrad(const dc_conv_geom *g, int64_t F, int64_t PHW, const float *x, const float *ga, const int32_t *arg,
                               float *gw, void *scratch) {
#if defined(DC_HAVE_AVX512_KERNELS)
    direct_pool_wgrad_avx512(g, F, PHW, x, ga, arg, gw, dc_conv_direct_align(scratch));
#else
    (void)g, (void)F, (void)PHW, (void)x, (void)ga, (void)arg, (void)gw, (void)scratch;
#endif
}

void dc_conv_direct_backward_image(const dc_conv_geom *g, int64_t F, const float *x, const float *gy, const float *w, float *gx,
                                   float *gw, void *scratch) {
#if defined(DC_HAVE_AVX512_KERNELS)
    float *sp = dc_conv_direct_align(scratch);
    if (gw) direct_wgrad_avx512(g, F, x, gy, gw, sp);
    if (gx) {
        const dc_conv_geom a = adjoint_geom(g, F);
        const int64_t C = g->C, kh = g->kh, kw = g->kw;
        /* wa[c][f][ky][kx] = w[f][c][kh-1-ky][kw-1-kx], after the padded gradient */
        float *wa = sp + F * pad_rows(&a) * pad_pitch(&a);
        for (int64_t c = 0; c < C; c++)
            for (int64_t f = 0; f < F; f++)
                for (int64_t ky = 0; ky < kh; ky++)
                    for (int64_t kx = 0; kx < kw; kx++)
                        wa[((c * F + f) * kh + ky) * kw + kx] = w[((f * C + c) * kh + kh - 1 - ky) * kw + kw - 1 - kx];
        direct_image_avx512(&a, C, gy, wa, NULL, gx, sp, true);
    }
#else
    (void)g, (void)F, (void)x, (void)gy, (void)w, (void)gx, (void)gw, (void)scratch;
#endif
}
