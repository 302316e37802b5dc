/* Float32 GEMM of deepc's own for AVX-512 (kernels.h: dc_k_sgemm_own, dc_k_sgemm_pack_b,
 * dc_k_sgemm_packed):
 *   C[M, N] = alpha op(A) op(B) + beta C (+ bias[j] on every row), op = transpose if tX.
 *
 * A 12 x 32 tile of C is held in 24 vector registers; each step of k broadcasts 12 values of
 * op(A) and loads 32 of op(B). Neither operand is copied when it can be read in place: op(A)'s
 * 12 values of a step are 12 rows of A (A) or 12 neighbours in one row (A^T), and op(B)'s 32
 * are one run of a row of B. Only a transposed B (B^T, a Dense layer's weight [out, in]) is
 * packed, 32 columns at a time through 16 x 16 register transposes; a caller that multiplies
 * by the same B many times (a recurrent layer's step weight) packs it once
 * (dc_k_sgemm_pack_b). k runs in blocks of SG_KC (128), so a block of op(B)'s columns stays in the
 * first-level cache while the rows of A go by (a B^T is packed a block at a time, on the
 * stack).
 *
 * Each element of C is summed in one fixed order (k ascending, blocks of SG_KC, the
 * epilogue after the first block), so a product cut into pieces of C (blas.c's thread split)
 * gives the same bits as uncut. */
#include "kernels.h"

#include <stdlib.h>
#include <string.h>

#define SG_MR 12
#define SG_MRN 24 /* the narrow tile's rows */
#define SG_NR 32
#define SG_KC 128
#define SG_BN_SPAN ((int64_t)1 << 18) /* floats of B's rows: 1 MB */

static inline int64_t sg_min(int64_t a, int64_t b) { return a < b ? a : b; }

#if defined(DC_HAVE_AVX512_KERNELS)
#include "avx512.h"

/* Tile: C[mr, up to 16 nv columns (masks m0, m1)] from op(A) element (r, k) at A[r * ars + k *
 * aks] and op(B) row k at B + k * bks. nv (a constant where inlined): 2 for the wide tile (mr <=
 * 12, 32 columns), 1 for the narrow one (mr <= 24, 16 columns: a panel of op(B) at most 16 wide,
 * where the wide tile would spend half its multiply-adds on columns that do not exist). Both
 * sum in one order and share the epilogue, so an element's bits do not depend on the tile.
 * first: the block of k that starts at 0, which applies alpha, beta and the bias; a later block
 * adds alpha times its sum to C. */
DC_TARGET_AVX512 static inline __attribute__((always_inline)) void sg_tile_avx512(
    int mr, int nv, int64_t K, const float *A, int64_t ars, int64_t aks, const float *B, int64_t bks, float *C, int64_t ldc,
    __mmask16 m0, __mmask16 m1, float alpha, float beta, const float *bias, bool first) {
    __m512 c0[SG_MRN], c1[SG_MRN];
#pragma GCC unroll 24
    for (int r = 0; r < mr; r++) c0[r] = c1[r] = _mm512_setzero_ps();
    for (int64_t k = 0; k < K; k++) {
        const __m512 b0 = _mm512_maskz_loadu_ps(m0, B + k * bks);
        const __m512 b1 = nv == 2 ? _mm512_maskz_loadu_ps(m1, B + k * bks + 16) : _mm512_setzero_ps();
        const float *a = A + k * aks;
#pragma GCC unroll 24
        for (int r = 0; r < mr; r++) {
            const __m512 av = _mm512_set1_ps(a[r * ars]);
            c0[r] = _mm512_fmadd_ps(av, b0, c0[r]);
            if (nv == 2) c1[r] = _mm512_fmadd_ps(av, b1, c1[r]);
        }
    }
    const __m512 va = _mm512_set1_ps(alpha);
    __m512 add0 = _mm512_setzero_ps(), add1 = _mm512_setzero_ps();
    if (first && bias) {
        add0 = _mm512_maskz_loadu_ps(m0, bias);
        if (nv == 2) add1 = _mm512_maskz_loadu_ps(m1, bias + 16);
    }
    const bool load = !first || beta != 0;
    const __m512 vb = _mm512_set1_ps(first ? beta : 1.0f);
#pragma GCC unroll 24
    for (int r = 0; r < mr; r++) {
        float *cr = C + r * ldc;
        __m512 y0 = _mm512_fmadd_ps(va, c0[r], add0);
        if (load) y0 = _mm512_fmadd_ps(vb, _mm512_maskz_loadu_ps(m0, cr), y0);
        _mm512_mask_storeu_ps(cr, m0, y0);
        if (nv == 2) {
            __m512 y1 = _mm512_fmadd_ps(va, c1[r], add1);
            if (load) y1 = _mm512_fmadd_ps(vb, _mm512_maskz_loadu_ps(m1, cr + 16), y1);
            _mm512_mask_storeu_ps(cr + 16, m1, y1);
        }
    }
}

/* One function per tile height and per op(A) (ta: A^T, whose 12 values of a step are
 * neighbours, at constant offsets), so the row offsets are constants where they can be. */
typedef void (*sg_tile_fn)(int64_t, const float *, int64_t, const float *, int64_t, float *, int64_t, __mmask16, __mmask16,
                           float, float, const float *, bool);
#define SG_TILE(n)                                                                                                       \
    DC_TARGET_AVX512 static void sg_tile##n##_avx512(int64_t K, const float *A, int64_t lda, const float *B, int64_t bks,  \
                                                      float *C, int64_t ldc, __mmask16 m0, __mmask16 m1, float alpha,    \
                                                      float beta, const float *bias, bool first) {                       \
        sg_tile_avx512(n, 2, K, A, lda, 1, B, bks, C, ldc, m0, m1, alpha, beta, bias, first);                                \
    }                                                                                                                    \
    DC_TARGET_AVX512 static void sg_tile##n##t_avx512(int64_t K, const float *A, int64_t lda, const float *B, int64_t bks, \
                                                       float *C, int64_t ldc, __mmask16 m0, __mmask16 m1, float alpha,   \
                                                       float beta, const float *bias, bool first) {                      \
        sg_tile_avx512(n, 2, K, A, 1, lda, B, bks, C, ldc, m0, m1, alpha, beta, bias, first);                                \
    }
SG_TILE(1)
SG_TILE(2)
SG_TILE(3)
SG_TILE(4)
SG_TILE(5)
SG_TILE(6)
SG_TILE(7)
SG_TILE(8)
SG_TILE(9)
SG_TILE(10)
SG_TILE(11)
SG_TILE(12)
static const sg_tile_fn sg_tiles[2][SG_MR + 1] = {
    {NULL, sg_tile1_avx512, sg_tile2_avx512, sg_tile3_avx512, sg_tile4_avx512, sg_tile5_avx512, sg_tile6_avx512,
     sg_tile7_avx512, sg_tile8_avx512, sg_tile9_avx512, sg_tile10_avx512, sg_tile11_avx512, sg_tile12_avx512},
    {NULL, sg_tile1t_avx512, sg_tile2t_avx512, sg_tile3t_avx512, sg_tile4t_avx512, sg_tile5t_avx512, sg_tile6t_avx512,
     sg_tile7t_avx512, sg_tile8t_avx512, sg_tile9t_avx512, sg_tile10t_avx512, sg_tile11t_avx512, sg_tile12t_avx512}};

/* The narrow tile's functions, as the wide tile's (op(B)'s second 16 columns absent). */
typedef void (*sg_ntile_fn)(int64_t, const float *, int64_t, const float *, int64_t, float *, int64_t, __mmask16, float, float,
                            const float *, bool);
#define SG_NTILE(n)                                                                                                        \
    DC_TARGET_AVX512 static void sg_ntile##n##_avx512(int64_t K, const float *A, int64_t lda, const float *B, int64_t bks,   \
                                                       float *C, int64_t ldc, __mmask16 m0, float alpha, float beta,       \
                                                       const float *bias, bool first) {                                    \
        sg_tile_avx512(n, 1, K, A, lda, 1, B, bks, C, ldc, m0, 0, alpha, beta, bias, first);                                    \
    }                                                                                                                      \
    DC_TARGET_AVX512 static void sg_ntile##n##t_avx512(int64_t K, const float *A, int64_t lda, const float *B, int64_t bks,  \
                                                        float *C, int64_t ldc, __mmask16 m0, float alpha, float beta,      \
                                                        const float *bias, bool first) {                                   \
        sg_tile_avx512(n, 1, K, A, 1, lda, B, bks, C, ldc, m0, 0, alpha, beta, bias, first);                                    \
    }
SG_NTILE(1)
SG_NTILE(2)
SG_NTILE(3)
SG_NTILE(4)
SG_NTILE(5)
SG_NTILE(6)
SG_NTILE(7)
SG_NTILE(8)
SG_NTILE(9)
SG_NTILE(10)
SG_NTILE(11)
SG_NTILE(12)
SG_NTILE(13)
SG_NTILE(14)
SG_NTILE(15)
SG_NTILE(16)
SG_NTILE(17)
SG_NTILE(18)
SG_NTILE(19)
SG_NTILE(20)
SG_NTILE(21)
SG_NTILE(22)
SG_NTILE(23)
SG_NTILE(24)
#define SG_NT2(n) {sg_ntile##n##_avx512, sg_ntile##n##t_avx512}
static const sg_ntile_fn sg_ntiles[SG_MRN + 1][2] = {
    {NULL, NULL},  SG_NT2(1),  SG_NT2(2),  SG_NT2(3),  SG_NT2(4),  SG_NT2(5),  SG_NT2(6),  SG_NT2(7),  SG_NT2(8),
    SG_NT2(9),     SG_NT2(10), SG_NT2(11), SG_NT2(12), SG_NT2(13), SG_NT2(14), SG_NT2(15), SG_NT2(16), SG_NT2(17),
    SG_NT2(18),    SG_NT2(19), SG_NT2(20), SG_NT2(21), SG_NT2(22), SG_NT2(23), SG_NT2(24)};

/* Columns j0 .. j0 + 31 of op(B) = B^T (B [N, K] row-major, op(B)[k][j] = B[j * ldb + k]) for
 * k in k0 .. k0 + kc - 1 into P[kc][32]; columns past N are zero (up to 16 when there are 16
 * or fewer, the second half then left as it was). */
DC_TARGET_AVX512 static void sg_pack_bt_avx512(const float *B, int64_t ldb, int64_t j0, int64_t N, int64_t k0, int64_t kc,
                                               float *P) {
    const int64_t cols = sg_min(N - j0, SG_NR);
    /* a panel of 16 columns or fewer is read by the narrow tile, which never reads P[k][16..32) */
    for (int h = 0; h < (cols > 16 ? SG_NR : 16); h += 16)
        for (int64_t k = 0; k < kc; k += 16) {
            const __mmask16 mk = dc_lanes16(kc - k);
            __m512 v[16];
            for (int i = 0; i < 16; i++)
                v[i] = h + i < cols ? _mm512_maskz_loadu_ps(mk, B + (j0 + h + i) * ldb + k0 + k) : _mm512_setzero_ps();
            dc_transpose16_avx512(v);
            const int64_t n = sg_min(kc - k, 16);
            for (int64_t q = 0; q < n; q++) _mm512_store_ps(P + (k + q) * SG_NR + h, v[q]);
        }
}

/* Rows k0 .. k0 + kc - 1 of B's columns j0 .. j0 + nr - 1 (B read in place, rows ldb apart)
 * into P[kc][32], columns past nr zero; the next panel's lines (the columns from j0 + 32) are
 * asked for on the way, so that a B from beyond the caches streams in while this one is used. */
DC_TARGET_AVX512 static void sg_pack_bn_avx512(const float *B, int64_t ldb, int64_t nr, int64_t next, int64_t kc, float *P) {
    const __mmask16 m0 = dc_lanes16(nr), m1 = dc_lanes16(nr - 16);
    for (int64_t k = 0; k < kc; k++) {
        const float *b = B + k * ldb;
        if (next > 0) {
            _mm_prefetch((const char *)(b + SG_NR), _MM_HINT_T0);
            if (next > 16) _mm_prefetch((const char *)(b + SG_NR + 16), _MM_HINT_T0);
        }
        _mm512_store_ps(P + k * SG_NR, _mm512_maskz_loadu_ps(m0, b));
        _mm512_store_ps(P + k * SG_NR + 16, _mm512_maskz_loadu_ps(m1, b + 16));
    }
}

/* The product. op(B) is read in place (B, tb false), packed here a block of SG_KC x 32 at a
 * time (B^T, tb true), or was packed whole by dc_k_sgemm_pack_b (P not NULL: block jb at
 * P + jb * K * 32). */
DC_TARGET_AVX512 static void sg_run_avx512(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const float *A,
                                           int64_t lda, const float *B, int64_t ldb, const float *P, float beta, float *C,
                                           int64_t ldc, const float *bias) {
    const int64_t ars = ta ? 1 : lda, aks = ta ? lda : 1;
    /* rows in tiles of even height (64 rows: 10 or 11 each, not five of 12 and one of 4) */
    const int64_t nti = (M + SG_MR - 1) / SG_MR, ntn = (M + SG_MRN - 1) / SG_MRN;
    float pack[SG_KC * SG_NR] __attribute__((aligned(64)));
    /* a B read in place whose rows span more than the second-level cache (or lie 8 KB or more
     * apart, where they share first-level cache sets) is copied a panel at a time, prefetching
     * the next panel: read in place from beyond the caches, its 32-float runs of scattered rows
     * came in at a third of the rate */
    const bool pack_bn = !tb && !P && (K * ldb >= SG_BN_SPAN || ldb >= 2048);
    for (int64_t k0 = 0; k0 < K; k0 += SG_KC) {
        const int64_t kc = sg_min(K - k0, SG_KC);
        for (int64_t j0 = 0; j0 < N; j0 += SG_NR) {
            const int64_t nr = sg_min(N - j0, SG_NR);
            const __mmask16 m0 = dc_lanes16(nr), m1 = dc_lanes16(nr - 16);
            const float *Bk;
            int64_t bks;
            if (P) {
                Bk = P + (j0 / SG_NR) * K * SG_NR + k0 * SG_NR;
                bks = SG_NR;
            } else if (tb) {
                sg_pack_bt_avx512(B, ldb, j0, N, k0, kc, pack);
                Bk = pack;
                bks = SG_NR;
            } else if (pack_bn) {
                sg_pack_bn_avx512(B + k0 * ldb + j0, ldb, nr, N - j0 - SG_NR, kc, pack);
                Bk = pack;
                bks = SG_NR;
            } else {
                Bk = B + k0 * ldb + j0;
                bks = ldb;
            }
            if (nr <= 16) {
                for (int64_t t = 0; t < ntn; t++) {
                    const int64_t i0 = M * t / ntn;
                    const int mr = (int)(M * (t + 1) / ntn - i0);
                    sg_ntiles[mr][ta](kc, A + i0 * ars + k0 * aks, lda, Bk, bks, C + i0 * ldc + j0, ldc, m0, alpha, beta,
                                      bias ? bias + j0 : NULL, k0 == 0);
                }
                continue;
            }
            for (int64_t t = 0; t < nti; t++) {
                const int64_t i0 = M * t / nti;
                const int mr = (int)(M * (t + 1) / nti - i0);
                sg_tiles[ta][mr](kc, A + i0 * ars + k0 * aks, lda, Bk, bks, C + i0 * ldc + j0, ldc, m0, m1, alpha, beta,
                                 bias ? bias + j0 : NULL, k0 == 0);
            }
        }
    }
}
#endif

size_t dc_k_sgemm_packed_size(int64_t N, int64_t K) { return (size_t)((N + SG_NR - 1) / SG_NR * SG_NR * K) * sizeof(float); }

void dc_k_sgemm_pack_b(int64_t N, int64_t K, const float *B, int64_t ldb, float *P) {
#if defined(DC_HAVE_AVX512_KERNELS)
    for (int64_t j0 = 0; j0 < N; j0 += SG_NR) sg_pack_bt_avx512(B, ldb, j0, N, 0, K, P + (j0 / SG_NR) * K * SG_NR);
#else
    (void)N, (void)K, (void)B, (void)ldb, (void)P;
#endif
}

void dc_k_sgemm_packed(bool ta, int64_t M, int64_t K, float alpha, const float *A, int64_t lda, const float *P, int64_t j0,
                       int64_t nc, float beta, float *C, int64_t ldc, const float *bias) {
#if defined(DC_HAVE_AVX512_KERNELS)
    sg_run_avx512(ta, true, M, nc, K, alpha, A, lda, NULL, 0, P + (j0 / SG_NR) * K * SG_NR, beta, C + j0, ldc,
                  bias ? bias + j0 : NULL);
#else
    (void)ta, (void)M, (void)K, (void)alpha, (void)A, (void)lda, (void)P, (void)j0, (void)nc, (void)beta, (void)C, (void)ldc,
        (void)bias;
#endif
}

void dc_k_sgemm_own(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const float *A, int64_t lda, const float *B,
                    int64_t ldb, float beta, float *C, int64_t ldc, const float *bias) {
#if defined(DC_HAVE_AVX512_KERNELS)
    sg_run_avx512(ta, tb, M, N, K, alpha, A, lda, B, ldb, NULL, beta, C, ldc, bias);
#else
    (void)ta, (void)tb, (void)M, (void)N, (void)K, (void)alpha, (void)A, (void)lda, (void)B, (void)ldb, (void)beta, (void)C,
        (void)ldc, (void)bias;
#endif
}

/* Where the own kernel beats OpenBLAS's (1 thread, measured over the shapes of layers on a
 * batch, docs/performance.md): C at least 16 x 16, K at least 16, from 2^16 to 2^25
 * multiply-adds, and not A^T over a long K and many rows. Smaller products (an attention
 * head's) ran no faster through it in a network. Larger ones, whose operands come from beyond
 * the second-level cache, gain from OpenBLAS's packing and cache blocking: a Dense 1024 -> 1024
 * on 128 rows, 2^27, took 1.15x OpenBLAS's time in a layer's step. */
bool dc_k_sgemm_own_applies(bool ta, int64_t M, int64_t N, int64_t K) {
    static int state = -1; /* -1 undecided, 0 off (DEEPC_SGEMM=openblas, off or 0, or no AVX-512), 1 on */
    int s = __atomic_load_n(&state, __ATOMIC_RELAXED);
    if (s < 0) {
        const char *e = getenv("DEEPC_SGEMM");
        s = dc_k_avx512_usable() && !(e && (!strcmp(e, "openblas") || !strcmp(e, "off") || !strcmp(e, "0")));
        __atomic_store_n(&state, s, __ATOMIC_RELAXED);
    }
    if (!s || M < 16 || N < 16 || K < 16) return false;
    const int64_t macs = M * N * K;
    if (macs < ((int64_t)1 << 16) || macs > ((int64_t)1 << 25)) return false;
    /* op(A) = A^T read in place steps a row of A per k: over a long K and many rows of C,
     * OpenBLAS's packed copy of A is the faster */
    return !(ta && K > 512 && M > 256);
}
