/* Scaled dot-product attention, fused: y = dropout(softmax(q k^T scale + mask)) v per (batch,
 * head). The scale, the key-padding and causal masks and the softmax are one pass over each row
 * of logits, which q k^T (OpenBLAS) writes already scaled. Work items are blocks of ATT_BLOCK
 * query rows of one (b, h), run in parallel with single-threaded GEMMs inside.
 *
 * With a gradient to compute, the probabilities P [B, H, Tq, Tk] are kept for backward. Without
 * one (grad mode off, or no input requiring grad) each block's logits live in a per-thread
 * scratch of ATT_BLOCK x Tk floats, so the extra memory is O(threads x ATT_BLOCK x Tk).
 *
 * Dropout draws one number from the caller's rng per call; query row g (flattened over B, H, Tq)
 * then takes its keep/drop decisions from its own stream seeded with that number and g, so the
 * result does not depend on the thread count or the path, and backward regenerates the mask
 * instead of storing it. */
#include "ops.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define ATT_BLOCK 64

/* Where the matrices of pair bh = (b, h) live: row t of q is q + b qb + h qh + t ldq (likewise
 * k, v and y). Separate [B, H, T, d] tensors have qb = H T d, qh = T d, ldq = d; a packed
 * projection [B, T, 3 D] has qb = 3 T D, qh = d, ldq = 3 D, so no head is ever copied out. */
typedef struct att_layout {
    int64_t qb, qh, ldq, kb, kh, ldk, vb, vh, ldv, yb, yh, ldy;
} att_layout;

typedef struct att_geom {
    att_layout L;
    int64_t B, H, Tq, Tk, d, dv;
    float scale, rate, keep; /* dropout rate and 1 / (1 - rate) */
    uint64_t seed;           /* dropout streams */
    bool fused;              /* the forward runs fused_fwd_avx512 (decided once per call) */
} att_geom;

/* The dropout multipliers (0 or keep) of query rows g .. g + rows - 1 over Tk keys, into
 * m[rows, Tk]. */
static void drop_rows(const att_geom *a, int64_t g, int64_t rows, float *m) {
    dc_k_dropout_mask_rows(m, rows, a->Tk, a->seed, (uint64_t)g, a->rate);
}

/* In place on the scaled logits s[Tk] of one row: probabilities over the keys j < lim with
 * km[j] != 0 (km NULL: all), 0 elsewhere; a row with no such key becomes all zeros. */
DC_INLINE void masked_softmax_row(float *s, int64_t Tk, int64_t lim, const uint8_t *km) {
    float m = -INFINITY;
    if (km) {
        for (int64_t j = 0; j < lim; j++) {
            float v = km[j] ? s[j] : -INFINITY;
            m = v > m ? v : m;
        }
    } else {
        for (int64_t j = 0; j < lim; j++) m = s[j] > m ? s[j] : m;
    }
    if (m == -INFINITY) {
        memset(s, 0, (size_t)Tk * sizeof(float));
        return;
    }
    float sum = 0;
    if (km) {
#pragma omp simd reduction(+ : sum)
        for (int64_t j = 0; j < lim; j++) {
            float e = km[j] ? dc_fast_expf(s[j] - m) : 0.0f;
            s[j] = e;
            sum += e;
        }
    } else {
#pragma omp simd reduction(+ : sum)
        for (int64_t j = 0; j < lim; j++) {
            float e = dc_fast_expf(s[j] - m);
            s[j] = e;
            sum += e;
        }
    }
    float inv = 1.0f / sum;
#pragma omp simd
    for (int64_t j = 0; j < lim; j++) s[j] *= inv;
    if (lim < Tk) memset(s + lim, 0, (size_t)(Tk - lim) * sizeof(float));
}

#ifdef DC_HAVE_AVX512_KERNELS
#include "kernels/avx512.h"

/* dc_fast_expf on 16 lanes (the same polynomial and clamp; NaN stays NaN). */
DC_TARGET_AVX512 static inline __attribute__((always_inline)) __m512 exp16_avx512(__m512 x) {
    x = _mm512_min_ps(_mm512_set1_ps(88.3f), _mm512_max_ps(_mm512_set1_ps(-87.3f), x)); /* NaN: the second operand */
    __m512 n = _mm512_roundscale_ps(_mm512_fmadd_ps(x, _mm512_set1_ps(1.44269504089f), _mm512_set1_ps(0.5f)),
                                    _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693145751953125f), x);
    r = _mm512_fnmadd_ps(n, _mm512_set1_ps(1.428606765330187e-06f), r);
    __m512 p = _mm512_set1_ps(1.9875691500e-4f);
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.3981999507e-3f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(8.3334519073e-3f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(4.1665795894e-2f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.6666665459e-1f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(5.0000001201e-1f));
    p = _mm512_add_ps(_mm512_fmadd_ps(_mm512_mul_ps(p, r), r, r), _mm512_set1_ps(1.0f));
    /* NaN lanes: n's conversion gives some exponent, and p (NaN) keeps the lane NaN */
    __m512i e = _mm512_slli_epi32(_mm512_add_epi32(_mm512_cvttps_epi32(n), _mm512_set1_epi32(127)), 23);
    return _mm512_mul_ps(p, _mm512_castsi512_ps(e));
}

/* The lanes j0 .. j0 + 15 that are keys of the row: j < lim and km[j] != 0 (km NULL: all). */
DC_TARGET_AVX512 static inline __attribute__((always_inline)) __mmask16 key_lanes_avx512(int64_t j0, int64_t lim,
                                                                                        const uint8_t *km) {
    __mmask16 in = dc_lanes16(lim - j0);
    if (km && in) in = _mm_mask_test_epi8_mask(in, _mm_maskz_loadu_epi8(in, km + j0), _mm_set1_epi8(-1));
    return in;
}

/* masked_softmax_row on rows S[u * Tk ..] (u < nr <= 4, row u's keys below lim[u]), 16 lanes at
 * a time with the tails under masks; the rows are interleaved so that their horizontal
 * reductions overlap. */
DC_TARGET_AVX512 static void softmax_rows4_avx512(float *S, int nr, int64_t Tk, const int64_t *lim, const uint8_t *km) {
    __m512 mx[4], sum[4];
    for (int u = 0; u < 4; u++) mx[u] = _mm512_set1_ps(-INFINITY), sum[u] = _mm512_setzero_ps();
    for (int64_t j = 0; j < Tk; j += 16)
        for (int u = 0; u < nr; u++) /* max(v, mx) keeps mx where v is NaN, as the scalar loop */
            mx[u] = _mm512_max_ps(_mm512_mask_loadu_ps(mx[u], key_lanes_avx512(j, lim[u], km), S + u * Tk + j), mx[u]);
    float m[4];
    for (int u = 0; u < nr; u++) {
        m[u] = _mm512_reduce_max_ps(mx[u]);
        mx[u] = _mm512_set1_ps(m[u]);
    }
    for (int64_t j = 0; j < Tk; j += 16) {
        const __mmask16 st = dc_lanes16(Tk - j);
        for (int u = 0; u < nr; u++) {
            if (m[u] == -INFINITY) continue; /* no key: the row becomes zeros below */
            const __mmask16 k = key_lanes_avx512(j, lim[u], km);
            __m512 e = _mm512_maskz_mov_ps(k, exp16_avx512(_mm512_sub_ps(_mm512_maskz_loadu_ps(k, S + u * Tk + j), mx[u])));
            _mm512_mask_storeu_ps(S + u * Tk + j, st, e);
            sum[u] = _mm512_add_ps(sum[u], e);
        }
    }
    __m512 inv[4];
    for (int u = 0; u < nr; u++) inv[u] = _mm512_set1_ps(m[u] == -INFINITY ? 0.0f : 1.0f / _mm512_reduce_add_ps(sum[u]));
    for (int64_t j = 0; j < Tk; j += 16) {
        const __mmask16 st = dc_lanes16(Tk - j);
        for (int u = 0; u < nr; u++) /* a row with no key: 0 * whatever was there, stored as zeros */
            _mm512_mask_storeu_ps(S + u * Tk + j, st,
                                  m[u] == -INFINITY ? _mm512_setzero_ps() : _mm512_mul_ps(_mm512_maskz_loadu_ps(st, S + u * Tk + j), inv[u]));
    }
}

/* The softmax's backward on rows dP[u * Tk ..] (u < nr <= 4), in place (dP times the dropout
 * multipliers M when not NULL): dr = pr (dr - sum(dr pr)) scale, the rows interleaved. */
DC_TARGET_AVX512 static void dsoftmax_rows4_avx512(float *dP, const float *P, const float *M, int nr, int64_t Tk, float scale) {
    __m512 sum[4];
    for (int u = 0; u < 4; u++) sum[u] = _mm512_setzero_ps();
    for (int64_t j = 0; j < Tk; j += 16) {
        const __mmask16 k = dc_lanes16(Tk - j);
        for (int u = 0; u < nr; u++) {
            __m512 d = _mm512_maskz_loadu_ps(k, dP + u * Tk + j);
            if (M) {
                d = _mm512_mul_ps(d, _mm512_maskz_loadu_ps(k, M + u * Tk + j));
                _mm512_mask_storeu_ps(dP + u * Tk + j, k, d);
            }
            sum[u] = _mm512_fmadd_ps(d, _mm512_maskz_loadu_ps(k, P + u * Tk + j), sum[u]);
        }
    }
    for (int u = 0; u < nr; u++) sum[u] = _mm512_set1_ps(_mm512_reduce_add_ps(sum[u]));
    const __m512 vc = _mm512_set1_ps(scale);
    for (int64_t j = 0; j < Tk; j += 16) {
        const __mmask16 k = dc_lanes16(Tk - j);
        for (int u = 0; u < nr; u++) {
            __m512 d = _mm512_sub_ps(_mm512_maskz_loadu_ps(k, dP + u * Tk + j), sum[u]);
            _mm512_mask_storeu_ps(dP + u * Tk + j, k, _mm512_mul_ps(_mm512_mul_ps(_mm512_maskz_loadu_ps(k, P + u * Tk + j), d), vc));
        }
    }
}

/* The forward pass over short keys, fused (on AVX-512, up to 64 keys, heads up to 64 wide and
 * Tk max(d, dv) under 2048: fused_applies): a pair's products are then a few thousand
 * multiply-adds each, too small for two GEMM calls, a softmax pass and a dropout pass over
 * memory to pay for themselves. Instead q k^T, the masks, the softmax, dropout (lane masks from
 * the same stream as the general path's multipliers, so the same entries are dropped) and the
 * product with v run 4 query rows at a time in registers: a row's keys across the lanes of NV
 * vectors (1-4), v's width across ND vectors (1, 2 or 4; 3 runs as 4 under masks), constants in
 * each instance, so that the sums stay in registers. The last group of a block repeats its last
 * row, which is not stored. The backward pass stays on GEMMs: a fused version measured no
 * faster at these sizes and slower beyond. */
#define FUSED_MAX 64

static int fused_state = -1; /* -1 undecided, 0 off (DEEPC_ATTENTION_FUSED=off or the test hook), 1 on */

void dc_attention_force_general(bool on) { __atomic_store_n(&fused_state, on ? 0 : -1, __ATOMIC_RELAXED); }

static bool fused_applies(const att_geom *a) {
    int s = __atomic_load_n(&fused_state, __ATOMIC_RELAXED);
    if (s < 0) {
        const char *e = getenv("DEEPC_ATTENTION_FUSED");
        s = !(e && (!strcmp(e, "off") || !strcmp(e, "0")));
        __atomic_store_n(&fused_state, s, __ATOMIC_RELAXED);
    }
    /* from Tk max(d, dv) = 2048 on (64 keys of heads 32 wide, 48 of 48) the GEMMs were as fast
     * or faster (docs/performance.md) */
    const int64_t w = a->d > a->dv ? a->d : a->dv;
    return s == 1 && a->Tk >= 1 && a->Tk <= FUSED_MAX && a->d >= 1 && a->dv >= 1 && w <= FUSED_MAX && a->Tk * w < 2048 &&
           dc_k_avx512_usable();
}

/* 1, 2 or 4 vectors of 16 lanes for n <= 64 values */
static int fused_vecs(int64_t n) { return n <= 16 ? 1 : n <= 32 ? 2 : 4; }

/* x [rows, cols] (row r at x + r ld) transposed into t [cols][ldt], zero past rows (ldt a
 * multiple of 16, rows <= ldt): 16x16 blocks through registers. */
DC_TARGET_AVX512 static void fused_transpose_avx512(const float *x, int64_t ld, int64_t rows, int64_t cols, float *t, int64_t ldt) {
    for (int64_t j0 = 0; j0 < ldt; j0 += 16)
        for (int64_t c0 = 0; c0 < cols; c0 += 16) {
            __m512 r[16];
            const __mmask16 k = dc_lanes16(cols - c0);
            for (int i = 0; i < 16; i++) r[i] = j0 + i < rows ? _mm512_maskz_loadu_ps(k, x + (j0 + i) * ld + c0) : _mm512_setzero_ps();
            dc_transpose16_avx512(r);
            for (int64_t c = c0; c < cols && c < c0 + 16; c++) _mm512_store_ps(t + c * ldt + j0, r[c - c0]);
        }
}

/* The maxima (max) or sums of the 16 lanes of each of x[0..3], in lanes 0..3 of every 128-bit
 * quarter of the result: the four rows' reductions share their shuffles. */
DC_TARGET_AVX512 static inline __attribute__((always_inline)) __m512 fused_op(__m512 a, __m512 b, bool max) {
    return max ? _mm512_max_ps(a, b) : _mm512_add_ps(a, b);
}

DC_TARGET_AVX512 static inline __attribute__((always_inline)) __m512 fused_reduce4(const __m512 *x, bool max) {
    const __m512 a = fused_op(_mm512_unpacklo_ps(x[0], x[1]), _mm512_unpackhi_ps(x[0], x[1]), max);
    const __m512 b = fused_op(_mm512_unpacklo_ps(x[2], x[3]), _mm512_unpackhi_ps(x[2], x[3]), max);
    const __m512 c = fused_op(_mm512_shuffle_ps(a, b, 0x44), _mm512_shuffle_ps(a, b, 0xee), max);
    const __m512 e = fused_op(c, _mm512_shuffle_f32x4(c, c, 0x4e), max);
    return fused_op(e, _mm512_shuffle_f32x4(e, e, 0xb1), max);
}

/* Lane u of every quarter of x (a result of fused_reduce4) in all 16 lanes. */
#define FUSED_LANE(x, u) _mm512_permutexvar_ps(_mm512_set1_epi32(u), (x))

/* The dropout's keep masks of query row g (flattened over B, H, Tq): its Tk draws are elements
 * g Tk .. of the stream, as the multipliers of drop_rows. */
DC_TARGET_AVX512 static inline __attribute__((always_inline)) void fused_keep(__mmask16 *kept, const att_geom *a, int64_t g, int NV,
                                                                             uint32_t thr) {
    const uint64_t i0 = (uint64_t)g * (uint64_t)a->Tk, low = ((uint64_t)1 << DC_DROP_BLOCK_BITS) - 1;
    if ((i0 >> DC_DROP_BLOCK_BITS) != ((i0 + (uint64_t)a->Tk - 1) >> DC_DROP_BLOCK_BITS)) { /* across two blocks */
        const uint64_t bits = dc_k_dropout_keep_bits_avx512(a->seed, i0, (int)a->Tk, a->rate);
        for (int w = 0; w < NV; w++) kept[w] = (__mmask16)(bits >> (16 * w));
        return;
    }
    const uint64_t key = dc_dropout_block_key(a->seed, i0);
    for (int w = 0; w < NV; w++) kept[w] = dc_dropout_keep16_avx512(key, (uint32_t)((i0 & low) + 16 * (uint64_t)w), thr);
}

/* The lanes of the keys of query row `row` (of Tq) over NV vectors: key j < Tk, kept by the
 * key mask (km, NULL: all) and, when causal, j <= row + Tk - Tq. */
DC_TARGET_AVX512 static inline __attribute__((always_inline)) void fused_key_lanes(__mmask16 *out, const __mmask16 *keym, int NV,
                                                                                  int64_t row, int64_t Tq, int64_t Tk,
                                                                                  bool causal) {
    int64_t lim = causal ? row + (Tk - Tq) + 1 : Tk;
    lim = lim < 0 ? 0 : lim < Tk ? lim : Tk;
    for (int v = 0; v < NV; v++) out[v] = keym[v] & dc_lanes16(lim - 16 * v);
}

/* Forward of query rows [i0, i1) of pair bh; S (NULL: not kept) receives their probabilities
 * before dropout, [i1 - i0, Tk]. */
DC_TARGET_AVX512 static inline __attribute__((always_inline)) void fused_fwd_body(const att_geom *a, int64_t bh, int64_t i0, int64_t i1,
                                                                                 const float *Q, const float *K, const float *V,
                                                                                 const uint8_t *key_mask, bool causal, float *S,
                                                                                 float *Y, const int NV, const int ND) {
    const att_layout *L = &a->L;
    const int64_t Tq = a->Tq, Tk = a->Tk, d = a->d, dv = a->dv, ldt = 16 * NV;
    const int64_t b = bh / a->H, h = bh % a->H;
    const float *q = Q + b * L->qb + h * L->qh, *v = V + b * L->vb + h * L->vh;
    float *y = Y + b * L->yb + h * L->yh;
    const uint8_t *km = key_mask ? key_mask + b * Tk : NULL;
    float kt[FUSED_MAX * FUSED_MAX] __attribute__((aligned(64)));
    float pb[4][FUSED_MAX] __attribute__((aligned(64)));
    fused_transpose_avx512(K + b * L->kb + h * L->kh, L->ldk, Tk, d, kt, ldt);
    __mmask16 keym[4];
    for (int w = 0; w < NV; w++) keym[w] = key_lanes_avx512(16 * w, Tk, km);
    const __m512 vscale = _mm512_set1_ps(a->scale), vkeep = _mm512_set1_ps(a->keep);
    const uint32_t thr = (uint32_t)((double)a->rate * 16777216.0);
    for (int64_t r = i0; r < i1; r += 4) {
        const int nr = i1 - r < 4 ? (int)(i1 - r) : 4;
        const float *qr[4];
        for (int u = 0; u < 4; u++) qr[u] = q + (r + (u < nr ? u : nr - 1)) * L->ldq;
        /* s[u] = q row u . K^T, odd c in a second set of sums when a row is one vector (8
         * chains of multiply-adds in flight) */
        __m512 s[4][4], odd[4];
        for (int u = 0; u < 4; u++) {
            odd[u] = _mm512_setzero_ps();
            for (int w = 0; w < NV; w++) s[u][w] = _mm512_setzero_ps();
        }
        int64_t c = 0;
        if (NV == 1)
            for (; c + 1 < d; c += 2) {
                const __m512 t0 = _mm512_load_ps(kt + c * ldt), t1 = _mm512_load_ps(kt + (c + 1) * ldt);
                for (int u = 0; u < 4; u++) {
                    s[u][0] = _mm512_fmadd_ps(_mm512_set1_ps(qr[u][c]), t0, s[u][0]);
                    odd[u] = _mm512_fmadd_ps(_mm512_set1_ps(qr[u][c + 1]), t1, odd[u]);
                }
            }
        for (; c < d; c++) {
            __m512 t[4];
            for (int w = 0; w < NV; w++) t[w] = _mm512_load_ps(kt + c * ldt + 16 * w);
            for (int u = 0; u < 4; u++) {
                const __m512 qb = _mm512_set1_ps(qr[u][c]);
                for (int w = 0; w < NV; w++) s[u][w] = _mm512_fmadd_ps(qb, t[w], s[u][w]);
            }
        }
        if (NV == 1)
            for (int u = 0; u < 4; u++) s[u][0] = _mm512_add_ps(s[u][0], odd[u]);
        /* the softmax of the 4 rows, their reductions together; max(v, mx) keeps mx where v is
         * NaN, as the general path, so a row with no key keeps the maximum -inf and becomes zeros */
        __mmask16 lanes[4][4];
        __m512 mx[4], sum[4];
        for (int u = 0; u < 4; u++) {
            fused_key_lanes(lanes[u], keym, NV, r + (u < nr ? u : nr - 1), Tq, Tk, causal);
            mx[u] = _mm512_set1_ps(-INFINITY);
            for (int w = 0; w < NV; w++) {
                s[u][w] = _mm512_mul_ps(s[u][w], vscale);
                mx[u] = _mm512_mask_max_ps(mx[u], lanes[u][w], s[u][w], mx[u]);
            }
        }
        const __m512 m4 = fused_reduce4(mx, true);
        const __mmask16 some = _mm512_cmp_ps_mask(m4, _mm512_set1_ps(-INFINITY), _CMP_NEQ_UQ); /* lane u: row u has a key */
        for (int u = 0; u < 4; u++) {
            const __m512 m = FUSED_LANE(m4, u);
            sum[u] = _mm512_setzero_ps();
            for (int w = 0; w < NV; w++) {
                s[u][w] = _mm512_maskz_mov_ps(lanes[u][w], exp16_avx512(_mm512_sub_ps(s[u][w], m)));
                sum[u] = _mm512_add_ps(sum[u], s[u][w]);
            }
        }
        const __m512 inv4 = _mm512_div_ps(_mm512_set1_ps(1.0f), fused_reduce4(sum, false));
        for (int u = 0; u < 4; u++) {
            const int64_t row = r + (u < nr ? u : nr - 1);
            const __m512 inv = FUSED_LANE(inv4, u);
            const __mmask16 keys = (some >> u) & 1 ? 0xffff : 0;
            __mmask16 kept[4] = {0xffff, 0xffff, 0xffff, 0xffff};
            if (a->rate > 0) fused_keep(kept, a, bh * Tq + row, NV, thr);
            for (int w = 0; w < NV; w++) {
                s[u][w] = _mm512_maskz_mul_ps(keys, s[u][w], inv);
                if (S && u < nr) _mm512_mask_storeu_ps(S + (row - i0) * Tk + 16 * w, dc_lanes16(Tk - 16 * w), s[u][w]);
                _mm512_store_ps(pb[u] + 16 * w, a->rate > 0 ? _mm512_maskz_mul_ps(kept[w], s[u][w], vkeep) : s[u][w]);
            }
        }
        /* y rows = pb rows . v, odd keys in a second set of sums when v is at most two vectors
         * wide */
        __m512 acc[4][4], acc2[4][4];
        for (int u = 0; u < 4; u++)
            for (int w = 0; w < ND; w++) acc[u][w] = acc2[u][w] = _mm512_setzero_ps();
        __mmask16 vl[4];
        for (int w = 0; w < ND; w++) vl[w] = dc_lanes16(dv - 16 * w);
        int64_t j = 0;
        if (ND <= 2)
            for (; j + 1 < Tk; j += 2) {
                __m512 x0[2], x1[2];
                for (int w = 0; w < ND; w++) {
                    x0[w] = _mm512_maskz_loadu_ps(vl[w], v + j * L->ldv + 16 * w);
                    x1[w] = _mm512_maskz_loadu_ps(vl[w], v + (j + 1) * L->ldv + 16 * w);
                }
                for (int u = 0; u < 4; u++) {
                    const __m512 b0 = _mm512_set1_ps(pb[u][j]), b1 = _mm512_set1_ps(pb[u][j + 1]);
                    for (int w = 0; w < ND; w++) {
                        acc[u][w] = _mm512_fmadd_ps(b0, x0[w], acc[u][w]);
                        acc2[u][w] = _mm512_fmadd_ps(b1, x1[w], acc2[u][w]);
                    }
                }
            }
        for (; j < Tk; j++) {
            __m512 x[4];
            for (int w = 0; w < ND; w++) x[w] = _mm512_maskz_loadu_ps(vl[w], v + j * L->ldv + 16 * w);
            for (int u = 0; u < 4; u++) {
                const __m512 pj = _mm512_set1_ps(pb[u][j]);
                for (int w = 0; w < ND; w++) acc[u][w] = _mm512_fmadd_ps(pj, x[w], acc[u][w]);
            }
        }
        for (int u = 0; u < 4; u++)
            if (u < nr)
                for (int w = 0; w < ND; w++)
                    _mm512_mask_storeu_ps(y + (r + u) * L->ldy + 16 * w, vl[w], ND <= 2 ? _mm512_add_ps(acc[u][w], acc2[u][w]) : acc[u][w]);
    }
}

/* CALL(NV, ND) with constants: NV 1-4, ND 1, 2 or 4 */
#define FUSED_DISPATCH_ND(NV_, ND, CALL)                                                               \
    do {                                                                                               \
        if ((ND) == 1) CALL(NV_, 1);                                                                   \
        else if ((ND) == 2) CALL(NV_, 2);                                                              \
        else CALL(NV_, 4);                                                                             \
    } while (0)
#define FUSED_DISPATCH(NV, ND, CALL)                                                                   \
    do {                                                                                               \
        if ((NV) == 1) FUSED_DISPATCH_ND(1, ND, CALL);                                                 \
        else if ((NV) == 2) FUSED_DISPATCH_ND(2, ND, CALL);                                            \
        else if ((NV) == 3) FUSED_DISPATCH_ND(3, ND, CALL);                                            \
        else FUSED_DISPATCH_ND(4, ND, CALL);                                                           \
    } while (0)

DC_TARGET_AVX512 static void fused_fwd_avx512(const att_geom *a, int64_t bh, int64_t i0, int64_t i1, const float *Q, const float *K,
                                              const float *V, const uint8_t *key_mask, bool causal, float *S, float *Y) {
    const int nv = (int)((a->Tk + 15) / 16), nd = fused_vecs(a->dv);
#define FWD_CALL(NV_, ND_) fused_fwd_body(a, bh, i0, i1, Q, K, V, key_mask, causal, S, Y, NV_, ND_)
    FUSED_DISPATCH(nv, nd, FWD_CALL);
#undef FWD_CALL
}

#endif

/* One work item: query rows [i0, i1) of pair bh. S [i1 - i0, Tk] receives the probabilities
 * (the kept P, or scratch); D [i1 - i0, Tk] is scratch for the dropped-out copy (rate > 0). */
DC_CLONES static void att_block(const att_geom *a, int64_t bh, int64_t i0, int64_t i1, const float *Q, const float *K,
                                const float *V, const uint8_t *key_mask, bool causal, float *S, float *D, float *Y) {
    const int64_t Tq = a->Tq, Tk = a->Tk, d = a->d, dv = a->dv, rows = i1 - i0;
    const att_layout *L = &a->L;
    const int64_t b = bh / a->H, h = bh % a->H;
    const float *q = Q + b * L->qb + h * L->qh + i0 * L->ldq, *k = K + b * L->kb + h * L->kh, *v = V + b * L->vb + h * L->vh;
    const uint8_t *km = key_mask ? key_mask + b * Tk : NULL;
#ifdef DC_HAVE_AVX512_KERNELS
    if (a->fused) {
        fused_fwd_avx512(a, bh, i0, i1, Q, K, V, key_mask, causal, S, Y);
        return;
    }
#endif
    dc_k_gemm(false, true, rows, Tk, d, a->scale, q, L->ldq, k, L->ldk, 0, S, Tk);
    int64_t lim[ATT_BLOCK]; /* row r's keys are j < lim[r] */
    for (int64_t r = 0; r < rows; r++) {
        int64_t l = causal ? i0 + r + (Tk - Tq) + 1 : Tk;
        lim[r] = l < 0 ? 0 : l < Tk ? l : Tk;
    }
#ifdef DC_HAVE_AVX512_KERNELS
    if (dc_k_avx512_usable()) {
        for (int64_t r = 0; r < rows; r += 4) softmax_rows4_avx512(S + r * Tk, rows - r < 4 ? (int)(rows - r) : 4, Tk, lim + r, km);
    } else
#endif
    {
        for (int64_t r = 0; r < rows; r++) masked_softmax_row(S + r * Tk, Tk, lim[r], km);
    }
    const float *P = S;
    if (a->rate > 0) {
        drop_rows(a, bh * Tq + i0, rows, D);
#pragma omp simd
        for (int64_t e = 0; e < rows * Tk; e++) D[e] *= S[e];
        P = D;
    }
    dc_k_gemm(false, false, rows, dv, Tk, 1, P, Tk, v, L->ldv, 0, Y + b * L->yb + h * L->yh + i0 * L->ldy, L->ldy);
}

/* Where q, k and v come from: inputs src[0..3) of the node (the same tensor may serve several,
 * as the packed projections do), starting at column off[] of each row. */
typedef struct att_src {
    int src[3];
    int64_t off[3];
} att_src;

typedef struct att_saved {
    att_geom g;
    float *P;  /* [B, H, Tq, Tk] probabilities before dropout */
    att_src w; /* which inputs q, k, v are */
} att_saved;

/* The softmax's backward on rows dP[Tq, Tk] in place (times the dropout multipliers M when not
 * NULL): dr = pr (dr - sum(dr pr)) scale. */
DC_INLINE void dsoftmax_rows(float *dP, const float *P, const float *M, int64_t Tq, int64_t Tk, float scale) {
    for (int64_t i = 0; i < Tq; i++) {
        float *dr = dP + i * Tk;
        const float *pr = P + i * Tk;
        if (M) {
            const float *mr = M + i * Tk;
#pragma omp simd
            for (int64_t j = 0; j < Tk; j++) dr[j] *= mr[j];
        }
        float sum = 0;
#pragma omp simd reduction(+ : sum)
        for (int64_t j = 0; j < Tk; j++) sum += dr[j] * pr[j];
#pragma omp simd
        for (int64_t j = 0; j < Tk; j++) dr[j] = pr[j] * (dr[j] - sum) * scale;
    }
}

DC_CLONES static void att_backward(dc_ctx *c, dc_node *n) {
    const att_saved *s = n->saved;
    const att_geom *a = &s->g;
    const att_layout *L = &a->L;
    const int64_t BH = a->B * a->H, Tq = a->Tq, Tk = a->Tk, d = a->d, dv = a->dv;
    const float *X[3];
    float *G[3];
    /* An input whose gradient is new and which the roles it serves (q, k, v) cover exactly once
     * (one role over the whole tensor, or the packed projections' disjoint column ranges) has
     * each element written by one product below: stored (beta 0), not zeroed and added to. */
    const int64_t rows[3] = {a->Tq, a->Tk, a->Tk}, width[3] = {d, d, dv};
    float beta[3];
    for (int i = 0; i < 3; i++) {
        dc_tensor *t = n->in[s->w.src[i]];
        int64_t cover = 0;
        bool distinct = true;
        for (int j = 0; j < 3; j++)
            if (s->w.src[j] == s->w.src[i]) {
                cover += a->B * a->H * rows[j] * width[j];
                if (j != i && s->w.off[j] == s->w.off[i]) distinct = false;
            }
        bool fresh = false;
        float *g = distinct && cover == t->numel ? dc_grad_buf_w(c, t, &fresh) : dc_grad_buf(c, t);
        X[i] = t->data + s->w.off[i];
        G[i] = g ? g + s->w.off[i] : NULL;
        beta[i] = fresh ? 0.0f : 1.0f;
    }
    /* a role sharing its input with an earlier one sees the gradient as no longer new */
    for (int i = 1; i < 3; i++)
        for (int j = 0; j < i; j++)
            if (s->w.src[j] == s->w.src[i] && beta[j] == 0.0f) beta[i] = 0.0f;
    const float *Q = X[0], *K = X[1], *V = X[2];
    float *gq = G[0], *gk = G[1], *gv = G[2];
    const float *gy = n->out->grad->data;
    int T = dc_max_threads();
    bool par = BH >= T && T > 1;
    int nb = par ? T : 1;
    bool drop = a->rate > 0, avx = dc_k_avx512_usable();
    (void)avx;

    /* per thread: dP [Tq, Tk], and the dropout multipliers [Tq, Tk] when there is dropout */
    size_t per = (size_t)(Tq * Tk) * (drop ? 2 : 1);
    float *buf = dc_scratch(c, (per ? per : 1) * (size_t)nb * sizeof(float));
    if (!buf) {
        c->oom = true;
        return;
    }
    DC_PAR_FOR(par, bh, BH, {
        float *dP = buf + (size_t)(par ? dc_thread_id() : 0) * per, *M = drop ? dP + Tq * Tk : NULL;
        const int64_t b = bh / a->H, h = bh % a->H;
        const int64_t qo = b * L->qb + h * L->qh, ko = b * L->kb + h * L->kh, vo = b * L->vb + h * L->vh;
        const float *P = s->P + bh * Tq * Tk, *dO = gy + b * L->yb + h * L->yh;
        const float *Qb = Q + qo, *Kb = K + ko, *Vb = V + vo;
        const float *Pd = P;
        if (drop) {
            drop_rows(a, bh * Tq, Tq, M);
            /* dP doubles as the dropped-out P for dV */
            for (int64_t e = 0; e < Tq * Tk; e++) dP[e] = P[e] * M[e];
            Pd = dP;
        }
        /* dV [Tk, dv] += Pd^T dO */
        if (gv) dc_k_gemm(true, false, Tk, dv, Tq, 1, Pd, Tk, dO, L->ldy, beta[2], gv + vo, L->ldv);
        if (!gq && !gk) continue;
        /* dP = (dO V^T) * mask; dS = P (dP - rowsum(dP P)) scale */
        dc_k_gemm(false, true, Tq, Tk, dv, 1, dO, L->ldy, Vb, L->ldv, 0, dP, Tk);
#ifdef DC_HAVE_AVX512_KERNELS
        if (avx) {
            for (int64_t i = 0; i < Tq; i += 4)
                dsoftmax_rows4_avx512(dP + i * Tk, P + i * Tk, drop ? M + i * Tk : NULL, Tq - i < 4 ? (int)(Tq - i) : 4, Tk, a->scale);
        }
#endif
        if (!avx) dsoftmax_rows(dP, P, drop ? M : NULL, Tq, Tk, a->scale);
        /* dQ [Tq, d] += dS K; dK [Tk, d] += dS^T Q */
        if (gq) dc_k_gemm(false, false, Tq, d, Tk, 1, dP, Tk, Kb, L->ldk, beta[0], gq + qo, L->ldq);
        if (gk) dc_k_gemm(true, false, Tk, d, Tq, 1, dP, Tk, Qb, L->ldq, beta[1], gk + ko, L->ldk);
    });
}

/* The work of both entry points: geometry *g (layout and sizes set) on Q, K, V into y, recording
 * the node over the nin inputs in. */
static dc_tensor *att_run(dc_ctx *c, const att_geom *g, dc_tensor *y, dc_tensor **in, int nin, const att_src *w,
                         const uint8_t *key_mask, bool causal, float scale, float dropout, bool training, dc_rng *rng) {
    const float *Q = in[w->src[0]]->data + w->off[0], *K = in[w->src[1]]->data + w->off[1], *V = in[w->src[2]]->data + w->off[2];
    att_geom a = *g;
    bool drop = training && dropout > 0;
    a.scale = scale;
    if (!(scale > 0)) a.scale = a.d > 0 ? (float)(1.0 / sqrt((double)a.d)) : 1.0f;
    if (drop) {
        a.rate = dropout;
        a.keep = 1.0f / (1.0f - dropout);
        a.seed = dc_rng_next(rng);
    }
    const int64_t BH = a.B * a.H, Tq = a.Tq, Tk = a.Tk;
    bool need = dc_needs_grad(c, nin, in);
    const int64_t nblk = (Tq + ATT_BLOCK - 1) / ATT_BLOCK, items = BH * nblk;
    int T = dc_max_threads();
    double work = (double)BH * (double)Tq * (double)Tk * (double)(a.d + a.dv);
    bool par = T > 1 && items > 1 && work > DC_PAR_MIN;
    int nb = par ? T : 1;
    att_saved *s = NULL;
    if (need) {
        s = dc_scratch(c, sizeof *s);
        float *P = s ? dc_scratch(c, (size_t)(BH * Tq * Tk > 0 ? BH * Tq * Tk : 1) * sizeof(float)) : NULL;
        if (!P) return NULL;
        s->P = P;
    }
    /* per thread: the block's logits (unless kept in P) and the dropped-out copy; the fused
     * kernel keeps both in registers */
    int64_t blk = Tq < ATT_BLOCK ? Tq : ATT_BLOCK;
    size_t per = (size_t)(blk * Tk) * ((need ? 0 : 1) + (drop ? 1 : 0));
#ifdef DC_HAVE_AVX512_KERNELS
    a.fused = fused_applies(&a);
    if (a.fused) per = 0;
#endif
    float *scr = per ? dc_scratch(c, per * (size_t)nb * sizeof(float)) : NULL;
    if (per && !scr) return NULL;
    float *Y = y->data, *P = s ? s->P : NULL;
    DC_PAR_FOR(par, it, items, {
        int64_t bh = it / nblk, i0 = (it % nblk) * ATT_BLOCK, i1 = i0 + ATT_BLOCK < Tq ? i0 + ATT_BLOCK : Tq;
        float *mine = scr ? scr + (size_t)(par ? dc_thread_id() : 0) * per : NULL;
        float *S = P ? P + (bh * Tq + i0) * Tk : mine;
        float *D = drop ? (P ? mine : mine + blk * Tk) : NULL;
        att_block(&a, bh, i0, i1, Q, K, V, key_mask, causal, S, D, Y);
    });
    if (need) {
        dc_node *n = dc_record(c, "attention", att_backward, y, nin, in);
        if (!n) return NULL;
        s->g = a;
        s->w = *w;
        n->saved = s;
    }
    return y;
}

dc_tensor *dc_attention(dc_ctx *c, dc_tensor *q, dc_tensor *k, dc_tensor *v, const uint8_t *key_mask, bool causal,
                        float scale, float dropout, bool training, dc_rng *rng) {
    DC_CHECK_ARGS(c, "attention", q, k, v);
    if (q->ndim != 4 || k->ndim != 4 || v->ndim != 4)
        return dc_error_null(DC_ERR_SHAPE, "attention: q, k and v must be [B, H, T, d], got q %s, k %s, v %s",
                             dc_tshape(q, 0), dc_tshape(k, 1), dc_tshape(v, 2));
    const int64_t *qs = q->shape, *ks = k->shape, *vs = v->shape;
    static const char *const axis[2] = {"batch B", "heads H"};
    for (int ax = 0; ax < 2; ax++) {
        if (qs[ax] != ks[ax])
            return dc_error_null(DC_ERR_SHAPE, "attention: q %s and k %s differ in %s (%lld vs %lld)", dc_tshape(q, 0),
                                 dc_tshape(k, 1), axis[ax], (long long)qs[ax], (long long)ks[ax]);
        if (qs[ax] != vs[ax])
            return dc_error_null(DC_ERR_SHAPE, "attention: q %s and v %s differ in %s (%lld vs %lld)", dc_tshape(q, 0),
                                 dc_tshape(v, 1), axis[ax], (long long)qs[ax], (long long)vs[ax]);
    }
    if (qs[3] != ks[3])
        return dc_error_null(DC_ERR_SHAPE, "attention: q %s and k %s differ in d (%lld vs %lld)", dc_tshape(q, 0),
                             dc_tshape(k, 1), (long long)qs[3], (long long)ks[3]);
    if (ks[2] != vs[2])
        return dc_error_null(DC_ERR_SHAPE, "attention: k %s and v %s differ in the number of keys Tk (%lld vs %lld)",
                             dc_tshape(k, 0), dc_tshape(v, 1), (long long)ks[2], (long long)vs[2]);
    if (!(dropout >= 0 && dropout < 1))
        return dc_error_null(DC_ERR_ARG, "attention: dropout %g is outside [0, 1)", (double)dropout);
    bool drop = training && dropout > 0;
    if (drop && !rng) return dc_error_null(DC_ERR_ARG, "attention: dropout in training needs an rng");
    if (!(q = dc_contig(c, q)) || !(k = dc_contig(c, k)) || !(v = dc_contig(c, v))) return NULL;
    att_geom a = {{qs[1] * qs[2] * qs[3], qs[2] * qs[3], qs[3], ks[1] * ks[2] * ks[3], ks[2] * ks[3], ks[3],
                   vs[1] * vs[2] * vs[3], vs[2] * vs[3], vs[3], qs[1] * qs[2] * vs[3], qs[2] * vs[3], vs[3]},
                  qs[0], qs[1], qs[2], ks[2], qs[3], vs[3], 0, 0, 1, 0, false};
    dc_tensor *y = dc_out(c, 4, (int64_t[]){a.B, a.H, a.Tq, a.dv});
    dc_tensor *in3[3] = {q, k, v};
    const att_src w = {{0, 1, 2}, {0, 0, 0}};
    return y ? att_run(c, &a, y, in3, 3, &w, key_mask, causal, scale, dropout, training, rng) : NULL;
}

dc_tensor *dc_attention_packed(dc_ctx *c, dc_tensor *qkv, int heads, const uint8_t *key_mask, bool causal, float scale,
                               float dropout, bool training, dc_rng *rng) {
    DC_CHECK_ARGS(c, "attention", qkv);
    if (qkv->ndim != 3 || heads <= 0 || qkv->shape[2] % (3 * (int64_t)heads))
        return dc_error_null(DC_ERR_SHAPE, "attention: packed qkv must be [B, T, 3 D] with D a multiple of %d heads, got %s", heads,
                             dc_tshape(qkv, 0));
    if (!(dropout >= 0 && dropout < 1))
        return dc_error_null(DC_ERR_ARG, "attention: dropout %g is outside [0, 1)", (double)dropout);
    if (training && dropout > 0 && !rng) return dc_error_null(DC_ERR_ARG, "attention: dropout in training needs an rng");
    if (!(qkv = dc_contig(c, qkv))) return NULL;
    const int64_t B = qkv->shape[0], T = qkv->shape[1], D = qkv->shape[2] / 3, H = heads, dh = D / H;
    att_geom a = {{T * 3 * D, dh, 3 * D, T * 3 * D, dh, 3 * D, T * 3 * D, dh, 3 * D, T * D, dh, D}, B, H, T, T, dh, dh, 0, 0, 1, 0, false};
    dc_tensor *y = dc_out(c, 3, (int64_t[]){B, T, D});
    const att_src w = {{0, 0, 0}, {0, D, 2 * D}};
    return y ? att_run(c, &a, y, &qkv, 1, &w, key_mask, causal, scale, dropout, training, rng) : NULL;
}

/* q [B, Tq, D], k and v [B, Tk, *] from column off[] of their rows, each D = H dh wide with the
 * heads side by side; y [B, Tq, D]. */
static dc_tensor *att_merged(dc_ctx *c, dc_tensor **in, int nin, const att_src *w, int heads, const uint8_t *key_mask,
                             bool causal, float scale, float dropout, bool training, dc_rng *rng) {
    dc_tensor *q = in[w->src[0]], *k = in[w->src[1]];
    const int64_t B = q->shape[0], Tq = q->shape[1], Tk = k->shape[1], D = q->shape[2];
    const int64_t lq = q->shape[2], lk = k->shape[2], lv = in[w->src[2]]->shape[2], H = heads, dh = D / H;
    att_geom a = {{Tq * lq, dh, lq, Tk * lk, dh, lk, Tk * lv, dh, lv, Tq * D, dh, D}, B, H, Tq, Tk, dh, dh, 0, 0, 1, 0, false};
    dc_tensor *y = dc_out(c, 3, (int64_t[]){B, Tq, D});
    return y ? att_run(c, &a, y, in, nin, w, key_mask, causal, scale, dropout, training, rng) : NULL;
}

static dc_status att_args(const char *who, float dropout, bool training, dc_rng *rng) {
    if (!(dropout >= 0 && dropout < 1)) return dc_error(DC_ERR_ARG, "%s: dropout %g is outside [0, 1)", who, (double)dropout);
    if (training && dropout > 0 && !rng) return dc_error(DC_ERR_ARG, "%s: dropout in training needs an rng", who);
    return DC_OK;
}

dc_tensor *dc_attention_heads(dc_ctx *c, dc_tensor *q, dc_tensor *k, dc_tensor *v, int heads, const uint8_t *key_mask, bool causal,
                              float scale, float dropout, bool training, dc_rng *rng) {
    DC_CHECK_ARGS(c, "attention", q, k, v);
    if (q->ndim != 3 || k->ndim != 3 || v->ndim != 3 || heads <= 0 || q->shape[2] % heads || q->shape[2] != k->shape[2] ||
        q->shape[2] != v->shape[2] || q->shape[0] != k->shape[0] || q->shape[0] != v->shape[0] || k->shape[1] != v->shape[1])
        return dc_error_null(DC_ERR_SHAPE, "attention: q [B, Tq, D], k and v [B, Tk, D] with D a multiple of %d heads expected, "
                             "got q %s, k %s, v %s", heads, dc_tshape(q, 0), dc_tshape(k, 1), dc_tshape(v, 2));
    if (att_args("attention", dropout, training, rng)) return NULL;
    if (!(q = dc_contig(c, q)) || !(k = dc_contig(c, k)) || !(v = dc_contig(c, v))) return NULL;
    dc_tensor *in[3] = {q, k, v};
    const att_src w = {{0, 1, 2}, {0, 0, 0}};
    return att_merged(c, in, 3, &w, heads, key_mask, causal, scale, dropout, training, rng);
}

dc_tensor *dc_attention_cross(dc_ctx *c, dc_tensor *q, dc_tensor *kv, int heads, const uint8_t *key_mask, bool causal, float scale,
                              float dropout, bool training, dc_rng *rng) {
    DC_CHECK_ARGS(c, "attention", q, kv);
    if (q->ndim != 3 || kv->ndim != 3 || heads <= 0 || q->shape[2] % heads || kv->shape[2] != 2 * q->shape[2] ||
        q->shape[0] != kv->shape[0])
        return dc_error_null(DC_ERR_SHAPE, "attention: q [B, Tq, D] and packed kv [B, Tk, 2 D] with D a multiple of %d heads "
                             "expected, got q %s, kv %s", heads, dc_tshape(q, 0), dc_tshape(kv, 1));
    if (att_args("attention", dropout, training, rng)) return NULL;
    if (!(q = dc_contig(c, q)) || !(kv = dc_contig(c, kv))) return NULL;
    dc_tensor *in[2] = {q, kv};
    const att_src w = {{0, 1, 1}, {0, 0, q->shape[2]}};
    return att_merged(c, in, 2, &w, heads, key_mask, causal, scale, dropout, training, rng);
}
