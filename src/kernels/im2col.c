/* im2col / col2im for convolutions: rows are (channel, ky, kx), columns output positions. */
#include "kernels.h"

#include <string.h>

/* Whether tap (ky, kx) reads whole input rows, consecutive ones for consecutive output rows:
 * unit strides, the output as wide as the input and the tap on the column of no offset (a 1x1
 * convolution's only tap, the centre column of a "same" kernel). If so, the output rows
 * y0 .. y1 - 1 are those that fall inside the input, and the plane is one run of memory. */
static inline bool whole_rows(const dc_conv_geom *g, int64_t ky, int64_t kx, int64_t *y0, int64_t *y1) {
    if (g->sh != 1 || g->sw != 1 || g->OW != g->W || kx != g->pl) return false;
    const int64_t off = ky - g->pt; /* iy = oy + off */
    int64_t lo = off < 0 ? -off : 0, hi = g->H - off < g->OH ? g->H - off : g->OH;
    if (hi < lo) hi = lo;
    *y0 = lo;
    *y1 = hi;
    return true;
}

#if defined(DC_HAVE_AVX512_KERNELS)
#include "avx512.h"

/* lanes l of 16 with lo <= l < hi */
static inline __mmask16 lanes_between(int64_t lo, int64_t hi) { return dc_lanes16(hi) & (__mmask16)~dc_lanes16(lo); }

/* One tap's plane into dst[OH, OW], 16 outputs at a time: one load of the lanes inside the
 * input row (zero in the padding) and one store per run, where the generic path spends a call to
 * memcpy and two scalar loops on every row (most of the time of small "same" images, 7x7 to
 * 32x32, whose rows are short). With column stride 2 (s2; rows of 16 outputs or more) a run is
 * the even lanes of two such loads, one permute. Masked-off lanes are not read, so the runs may
 * start before the row or end after it. Unit column stride: only taps that reach into the left
 * or right padding come here (a row wholly inside the input is one memcpy, which moves a short
 * row's tail faster than a masked vector). Stride 2: the generic path reads element by element,
 * which stays the faster for rows shorter than 16 (7x7 outputs: 1.15x the time with the masked
 * vectors). */
DC_TARGET_AVX512 static void im2col_tap_avx512(const dc_conv_geom *g, const float *src, int64_t ky, int64_t kx, float *dst, bool s2) {
    const int64_t OH = g->OH, OW = g->OW, H = g->H, W = g->W, ix0 = kx - g->pl;
    const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    for (int64_t oy = 0; oy < OH; oy++) {
        const int64_t iy = oy * g->sh - g->pt + ky;
        const bool inside = iy >= 0 && iy < H;
        const float *s = src + (inside ? iy * W : 0);
        float *d = dst + oy * OW;
        for (int64_t ox = 0; ox < OW; ox += 16) {
            const int64_t b = ix0 + (s2 ? 2 : 1) * ox; /* the input column of output ox */
            const __mmask16 in = inside ? lanes_between(-b, W - b) : 0;
            __m512 v;
            if (s2) {
                const __mmask16 in1 = inside ? lanes_between(-b - 16, W - b - 16) : 0;
                v = _mm512_permutex2var_ps(_mm512_maskz_loadu_ps(in, s + b), even, _mm512_maskz_loadu_ps(in1, s + b + 16));
            } else { /* whole vectors where they can be: partial masks cost more than plain moves */
                v = in == 0xffff ? _mm512_loadu_ps(s + b) : _mm512_maskz_loadu_ps(in, s + b);
            }
            if (ox + 16 <= OW)
                _mm512_storeu_ps(d + ox, v);
            else
                _mm512_mask_storeu_ps(d + ox, dc_lanes16(OW - ox), v);
        }
    }
}

/* col2im's counterpart: the tap's plane added into the image, 16 outputs at a time, the same
 * single addition per element as the generic path. With column stride 2 the outputs are spread
 * to the even lanes of two vectors and added to the row there (the odd lanes not stored). */
DC_TARGET_AVX512 static void col2im_tap_avx512(const dc_conv_geom *g, const float *src, int64_t ky, int64_t kx, float *dst, bool s2) {
    const int64_t OH = g->OH, OW = g->OW, H = g->H, W = g->W, ix0 = kx - g->pl;
    const __m512i lo = _mm512_setr_epi32(0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7),
                  hi = _mm512_add_epi32(lo, _mm512_set1_epi32(8));
    for (int64_t oy = 0; oy < OH; oy++) {
        const int64_t iy = oy * g->sh - g->pt + ky;
        if (iy < 0 || iy >= H) continue;
        const float *s = src + oy * OW;
        float *d = dst + iy * W;
        for (int64_t ox = 0; ox < OW; ox += 16) {
            if (!s2) {
                const int64_t b = ix0 + ox;
                const __mmask16 in = lanes_between(-b, W - b) & dc_lanes16(OW - ox);
                if (in == 0xffff)
                    _mm512_storeu_ps(d + b, _mm512_add_ps(_mm512_loadu_ps(d + b), _mm512_loadu_ps(s + ox)));
                else
                    _mm512_mask_storeu_ps(d + b, in, _mm512_add_ps(_mm512_maskz_loadu_ps(in, d + b), _mm512_maskz_loadu_ps(in, s + ox)));
                continue;
            }
            const int64_t b = ix0 + 2 * ox, n2 = 2 * (OW - ox); /* lanes of the outputs left, doubled */
            const __m512 sv = _mm512_maskz_loadu_ps(dc_lanes16(OW - ox), s + ox);
            const __mmask16 m0 = (__mmask16)(0x5555 & lanes_between(-b, W - b) & dc_lanes16(n2)),
                            m1 = (__mmask16)(0x5555 & lanes_between(-b - 16, W - b - 16) & dc_lanes16(n2 - 16));
            _mm512_mask_storeu_ps(d + b, m0, _mm512_add_ps(_mm512_maskz_loadu_ps(m0, d + b), _mm512_permutexvar_ps(lo, sv)));
            _mm512_mask_storeu_ps(d + b + 16, m1,
                                  _mm512_add_ps(_mm512_maskz_loadu_ps(m1, d + b + 16), _mm512_permutexvar_ps(hi, sv)));
        }
    }
}

/* Small planes of a unit-stride convolution whose output is the input's size ("same"): a tap
 * (dy, dx) reads the input plane shifted by dy W + dx as one flat run, with the positions whose
 * row or column falls into the padding masked off. So one tap of one channel is a masked load
 * and a store per 16 outputs, whatever the rows' length: on 7x7 planes the row by row path
 * spent seven short runs per tap. FLAT_MAX bounds the plane (16 vectors of masks). */
#define FLAT_MAX 256

static inline bool flat_planes(const dc_conv_geom *g) {
    return g->sh == 1 && g->sw == 1 && g->OH == g->H && g->OW == g->W && g->W < 16 && g->H * g->W <= FLAT_MAX &&
           dc_k_avx512_usable();
}

/* The masks of tap (ky, kx) over the plane's nq chunks of 16 positions: the position p (row
 * p / W, column p % W) reads the input at row + dy, column + dx, inside the plane. */
DC_TARGET_AVX512 static void flat_masks_avx512(const dc_conv_geom *g, int64_t ky, int64_t kx, __mmask16 *m) {
    const int64_t HW = g->H * g->W, dy = ky - g->pt, dx = kx - g->pl;
    for (int64_t q = 0; q * 16 < HW; q++) m[q] = 0;
    /* (y, x): the row and column of position p, counted (no divisions: this runs per call) */
    for (int64_t p = 0, y = 0, x = 0; p < HW; p++) {
        if (y + dy >= 0 && y + dy < g->H && x + dx >= 0 && x + dx < g->W) m[p >> 4] |= (__mmask16)(1u << (p & 15));
        if (++x == g->W) x = 0, y++;
    }
}

/* im2col (to_col) or col2im over such planes, taps outer so that each tap's masks serve every
 * channel. col2im adds each tap's run into the shifted plane, the taps of a channel in the order
 * of the row by row path, so each element sums in the same order. */
DC_TARGET_AVX512 static void flat_avx512(const dc_conv_geom *g, float *x, float *col, int64_t ld, bool to_col) {
    const int64_t HW = g->H * g->W, nq = (HW + 15) / 16;
    __mmask16 m[FLAT_MAX / 16];
    for (int64_t ky = 0; ky < g->kh; ky++)
        for (int64_t kx = 0; kx < g->kw; kx++) {
            flat_masks_avx512(g, ky, kx, m);
            const int64_t shift = (ky - g->pt) * g->W + (kx - g->pl);
            for (int64_t c = 0; c < g->C; c++) {
                float *plane = x + c * HW + shift, *run = col + ((c * g->kh + ky) * g->kw + kx) * ld;
                for (int64_t q = 0; q < nq; q++) {
                    if (!to_col) {
                        _mm512_mask_storeu_ps(plane + 16 * q, m[q],
                                              _mm512_add_ps(_mm512_maskz_loadu_ps(m[q], plane + 16 * q), _mm512_maskz_loadu_ps(m[q], run + 16 * q)));
                        continue;
                    }
                    const __m512 v = _mm512_maskz_loadu_ps(m[q], plane + 16 * q);
                    if (16 * q + 16 <= HW)
                        _mm512_storeu_ps(run + 16 * q, v);
                    else
                        _mm512_mask_storeu_ps(run + 16 * q, dc_lanes16(HW - 16 * q), v);
                }
            }
        }
}
#endif

/* Whether tap column kx takes a vector path (at stride vec, from tap_vector): at column stride
 * 1 a tap that reaches into the left or right padding, at stride 2 rows of 16 outputs or more. */
static inline bool vector_tap(const dc_conv_geom *g, int vec, int64_t kx) {
    const int64_t ix0 = kx - g->pl;
    return (vec == 1 && (ix0 < 0 || g->W - ix0 < g->OW)) || (vec == 2 && g->OW >= 16);
}

/* the column stride (1 or 2) whose taps may take a vector path, else 0 */
static inline int tap_vector(const dc_conv_geom *g) {
#if defined(DC_HAVE_AVX512_KERNELS)
    return (g->sw == 1 || g->sw == 2) && dc_k_avx512_usable() ? (int)g->sw : 0;
#else
    (void)g;
    return 0;
#endif
}

DC_CLONES void dc_k_im2col_ld(const dc_conv_geom *g, const float *x, float *col, int64_t ld) {
    const int64_t OH = g->OH, OW = g->OW, H = g->H, W = g->W;
    const int vec = tap_vector(g);
    (void)vec;
#if defined(DC_HAVE_AVX512_KERNELS)
    if (flat_planes(g)) {
        flat_avx512(g, (float *)x, col, ld, true); /* x is only read */
        return;
    }
#endif
    for (int64_t c = 0; c < g->C; c++)
        for (int64_t ky = 0; ky < g->kh; ky++)
            for (int64_t kx = 0; kx < g->kw; kx++) {
                float *dst = col + ((c * g->kh + ky) * g->kw + kx) * ld;
                const float *src = x + c * H * W;
                int64_t y0, y1;
                if (whole_rows(g, ky, kx, &y0, &y1)) {
                    /* the tap's rows are whole input rows, one after another: one copy */
                    memset(dst, 0, (size_t)(y0 * OW) * sizeof(float));
                    memcpy(dst + y0 * OW, src + (y0 - g->pt + ky) * W, (size_t)((y1 - y0) * OW) * sizeof(float));
                    memset(dst + y1 * OW, 0, (size_t)((OH - y1) * OW) * sizeof(float));
                    continue;
                }
#if defined(DC_HAVE_AVX512_KERNELS)
                if (vector_tap(g, vec, kx)) {
                    im2col_tap_avx512(g, src, ky, kx, dst, vec == 2);
                    continue;
                }
#endif
                for (int64_t oy = 0; oy < OH; oy++) {
                    int64_t iy = oy * g->sh - g->pt + ky;
                    float *d = dst + oy * OW;
                    if (iy < 0 || iy >= H) {
                        memset(d, 0, (size_t)OW * sizeof(float));
                        continue;
                    }
                    const float *s = src + iy * W;
                    int64_t ix0 = kx - g->pl;
                    if (g->sw == 1) {
                        /* contiguous run; zero the parts that fall in the padding */
                        int64_t lo = ix0 < 0 ? -ix0 : 0, hi = W - ix0 < OW ? W - ix0 : OW;
                        if (hi < lo) hi = lo;
                        for (int64_t ox = 0; ox < lo; ox++) d[ox] = 0;
                        memcpy(d + lo, s + ix0 + lo, (size_t)(hi - lo) * sizeof(float));
                        for (int64_t ox = hi; ox < OW; ox++) d[ox] = 0;
                    } else {
                        for (int64_t ox = 0; ox < OW; ox++) {
                            int64_t ix = ox * g->sw + ix0;
                            d[ox] = (ix >= 0 && ix < W) ? s[ix] : 0;
                        }
                    }
                }
            }
}

DC_CLONES void dc_k_col2im_ld(const dc_conv_geom *g, const float *col, int64_t ld, float *x) {
    const int64_t OH = g->OH, OW = g->OW, H = g->H, W = g->W;
    const int vec = tap_vector(g);
    (void)vec;
#if defined(DC_HAVE_AVX512_KERNELS)
    if (flat_planes(g)) {
        flat_avx512(g, x, (float *)col, ld, false); /* col is only read */
        return;
    }
#endif
    for (int64_t c = 0; c < g->C; c++)
        for (int64_t ky = 0; ky < g->kh; ky++)
            for (int64_t kx = 0; kx < g->kw; kx++) {
                const float *src = col + ((c * g->kh + ky) * g->kw + kx) * ld;
                float *dst = x + c * H * W;
                int64_t y0, y1;
                if (whole_rows(g, ky, kx, &y0, &y1)) {
                    const float *s = src + y0 * OW;
                    float *d = dst + (y0 - g->pt + ky) * W;
                    for (int64_t i = 0; i < (y1 - y0) * OW; i++) d[i] += s[i];
                    continue;
                }
#if defined(DC_HAVE_AVX512_KERNELS)
                if (vector_tap(g, vec, kx)) {
                    col2im_tap_avx512(g, src, ky, kx, dst, vec == 2);
                    continue;
                }
#endif
                for (int64_t oy = 0; oy < OH; oy++) {
                    int64_t iy = oy * g->sh - g->pt + ky;
                    if (iy < 0 || iy >= H) continue;
                    const float *s = src + oy * OW;
                    float *d = dst + iy * W;
                    int64_t ix0 = kx - g->pl;
                    if (g->sw == 1) {
                        /* the run of ox whose ix = ox + ix0 falls inside the row */
                        int64_t lo = ix0 < 0 ? -ix0 : 0, hi = W - ix0 < OW ? W - ix0 : OW;
                        for (int64_t ox = lo; ox < hi; ox++) d[ox + ix0] += s[ox];
                        continue;
                    }
                    for (int64_t ox = 0; ox < OW; ox++) {
                        int64_t ix = ox * g->sw + ix0;
                        if (ix >= 0 && ix < W) d[ix] += s[ox];
                    }
                }
            }
}

void dc_k_im2col(const dc_conv_geom *g, const float *x, float *col) { dc_k_im2col_ld(g, x, col, g->OH * g->OW); }

void dc_k_col2im(const dc_conv_geom *g, const float *col, float *x) { dc_k_col2im_ld(g, col, g->OH * g->OW, x); }
