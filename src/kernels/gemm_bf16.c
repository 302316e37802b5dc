/* Mixed-precision GEMM: both operands rounded to bfloat16 (round to nearest even), products
 * summed in float32, C kept in float32. On a CPU with AVX512-BF16 a packed 8x32 micro-kernel
 * built on VDPBF16PS (two bf16 products added to a float32 lane per instruction) runs it;
 * elsewhere, or with DEEPC_BF16_KERNEL=off, the call is a float32 SGEMM, and so is a product
 * too small to gain (dc_k_gemm_bf16_applies). The vector conversion reads float32 subnormals
 * (below 1.2e-38) as zero; the scalar one (dc_k_f32_to_bf16) keeps them.
 *
 * Packing: op(A) becomes row blocks of MR rows, op(B) column blocks of NR columns; inside a
 * block, k runs in pairs and each 32-bit word holds the pair (k even in the low half):
 *   Ap[block][kp][MR], Bp[block][kp][NR], kp = 0 .. ceil(K/2) - 1, zero beyond the edges.
 * Each C element is summed by one thread in a fixed order, so results do not depend on the
 * thread count. */
#include "kernels.h"

#include <stdlib.h>
#include <string.h>

#define MR 8
#define NR 32

/* float -> bf16, round to nearest even; NaN stays NaN (quiet). */
static inline uint32_t bf16_bits(float f) {
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (u >> 16) | 0x40u;
    u += 0x7fffu + ((u >> 16) & 1u);
    return u >> 16;
}

DC_CLONES void dc_k_f32_to_bf16(const float *x, uint16_t *y, int64_t n) {
#pragma omp simd
    for (int64_t i = 0; i < n; i++) y[i] = (uint16_t)bf16_bits(x[i]);
}

DC_CLONES void dc_k_bf16_to_f32(const uint16_t *x, float *y, int64_t n) {
#pragma omp simd
    for (int64_t i = 0; i < n; i++) {
        uint32_t u = (uint32_t)x[i] << 16;
        memcpy(&y[i], &u, sizeof u);
    }
}

static int kernel_state = -1; /* -1 undecided, 0 float32 fallback, 1 AVX512-BF16 */

bool dc_k_bf16_available(void) {
    int s = __atomic_load_n(&kernel_state, __ATOMIC_RELAXED);
    if (s < 0) {
        const char *e = getenv("DEEPC_BF16_KERNEL");
        bool off = e && (!strcmp(e, "off") || !strcmp(e, "0"));
#if defined(__x86_64__) && defined(__GNUC__)
        __builtin_cpu_init();
        s = !off && dc_k_avx512_usable() && __builtin_cpu_supports("avx512bf16");
#else
        s = 0;
        (void)off;
#endif
        __atomic_store_n(&kernel_state, s, __ATOMIC_RELAXED);
    }
    return s == 1;
}

void dc_k_bf16_force_fallback(bool on) {
    if (on)
        __atomic_store_n(&kernel_state, 0, __ATOMIC_RELAXED);
    else
        __atomic_store_n(&kernel_state, -1, __ATOMIC_RELAXED);
}

#if defined(__x86_64__) && defined(__GNUC__)
static inline bool in_parallel(void) {
#ifdef _OPENMP
    return omp_in_parallel();
#else
    return false;
#endif
}
#endif

static inline int64_t nblocks(int64_t n, int64_t b) { return (n + b - 1) / b; }
static inline int64_t round64(int64_t bytes) { return (bytes + 63) & ~(int64_t)63; }

/* A thin product (a layer on a batch: one side of C at most DC_GEMM_THIN long) is split
 * into one slice of C per thread, columns (rows when C has more rows than columns) in whole
 * blocks; each thread packs the whole of the short side's operand and its slice of the other,
 * then multiplies its tiles, so nothing one thread packed is read by another and there is no
 * join inside. Sharing the packing (one region, then a second one for the tiles) made the
 * MLP's bf16 epoch at 2 threads slower than at 1. The tiles are the same as unsplit: the same
 * bits. */
#define PAR_MIN_MACS ((int64_t)1 << 18)

/* Threads for a split of C (1: none) and its direction; without regard to being inside a
 * parallel region (the scratch is sized before). */
static int split_plan(int64_t M, int64_t N, int64_t K, bool rows, bool *by_cols) {
    *by_cols = !rows && N >= M;
    const int T = dc_max_threads();
    if (T < 2 || M * N * K <= PAR_MIN_MACS || (M < N ? M : N) > DC_GEMM_THIN) return 1;
    const int64_t blocks = *by_cols ? nblocks(N, NR) : nblocks(M, MR);
    return blocks < 2 ? 1 : blocks < T ? (int)blocks : T;
}

size_t dc_k_gemm_bf16_scratch(int64_t M, int64_t N, int64_t K) {
    int64_t KP = (K + 1) / 2;
    const int64_t ap = round64(nblocks(M, MR) * MR * KP * 4), bp = round64(nblocks(N, NR) * NR * KP * 4);
    /* a split keeps one copy of the short side's pack per thread: room for either direction */
    size_t most = 0;
    for (int rows = 0; rows < 2; rows++) {
        bool by_cols;
        const int nt = split_plan(M, N, K, rows, &by_cols);
        size_t need = (size_t)((by_cols ? nt : 1) * ap + (by_cols ? 1 : nt) * bp + 64);
        if (need > most) most = need;
    }
    return most;
}


#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>

#include "avx512.h"
#define BF16_TARGET __attribute__((target("avx512bf16,avx512f,avx512bw,avx512vl,avx512dq")))

/* 16 pairs (lo[c], hi[c]) as bf16 words, lo in the low half: VCVTNEPS2BF16 rounds to nearest
 * even (and reads float32 subnormals as zero). */
BF16_TARGET static inline __m512i pairs16_avx512(__m512 lo, __m512 hi) {
    __m512i l = _mm512_cvtepu16_epi32((__m256i)_mm512_cvtneps_pbh(lo));
    __m512i h = _mm512_cvtepu16_epi32((__m256i)_mm512_cvtneps_pbh(hi));
    return _mm512_or_si512(l, _mm512_slli_epi32(h, 16));
}

/* A block of `width` (8 or 32) columns j0.. of a matrix whose columns are contiguous
 * (element (k, j) at X[k*ld + j]) into P[KP][width]. */
BF16_TARGET static void pack_cols_avx512(const float *X, int64_t ld, int64_t j0, int64_t N, int64_t K, int width, uint32_t *P) {
    const int64_t cols = N - j0 < width ? N - j0 : width, KP = (K + 1) / 2;
    for (int64_t kp = 0; kp < KP; kp++) {
        const float *x0 = X + 2 * kp * ld + j0, *x1 = x0 + ld;
        bool odd = 2 * kp + 1 >= K;
        uint32_t *o = P + kp * width;
        for (int c = 0; c < width; c += 16) {
            int64_t left = cols - c;
            __mmask16 m = left >= 16 ? 0xffff : left <= 0 ? 0 : (__mmask16)((1u << left) - 1);
            __m512 lo = _mm512_maskz_loadu_ps(m, x0 + c), hi = odd ? _mm512_setzero_ps() : _mm512_maskz_loadu_ps(m, x1 + c);
            __m512i v = pairs16_avx512(lo, hi);
            if (width - c >= 16)
                _mm512_storeu_si512(o + c, v);
            else
                _mm256_storeu_si256((__m256i *)(o + c), _mm512_castsi512_si256(v));
        }
    }
}

/* A block of `width` (8 or 32) rows i0.. of a matrix whose rows are contiguous (element (i, k)
 * at X[i*ld + k]) into P[KP][width]: 16 rows at a time, 32 values of k from each (masked at
 * the end of k: an odd K's last pair gets a zero high half) converted to 16 pairs, the 16x16
 * block of pairs transposed in registers and stored as 16 runs along the block's rows; rows
 * past M are zero. */
BF16_TARGET static void pack_rows_avx512(const float *X, int64_t ld, int64_t i0, int64_t M, int64_t K, int width, uint32_t *P) {
    const int64_t rows = M - i0 < width ? M - i0 : width;
    for (int r0 = 0; r0 < width; r0 += 16) {
        const int64_t nr = rows - r0;
        const int lanes = width - r0 < 16 ? width - r0 : 16;
        for (int64_t k = 0; k < K; k += 32) {
            const int64_t left = K - k;
            const __mmask16 ma = left >= 16 ? 0xffff : (__mmask16)((1u << left) - 1),
                            mb = left >= 32 ? 0xffff : left <= 16 ? 0 : (__mmask16)((1u << (left - 16)) - 1);
            __m512i v[16];
            for (int i = 0; i < 16; i++) {
                if (i < nr) {
                    const float *x = X + (i0 + r0 + i) * ld + k;
                    /* even k to the low halves: pairs (x0,x1), (x2,x3) ... become adjacent words */
                    v[i] = (__m512i)_mm512_cvtne2ps_pbh(_mm512_maskz_loadu_ps(mb, x + 16), _mm512_maskz_loadu_ps(ma, x));
                } else {
                    v[i] = _mm512_setzero_si512();
                }
            }
            __m512 f[16];
            for (int i = 0; i < 16; i++) f[i] = _mm512_castsi512_ps(v[i]);
            dc_transpose16_avx512(f);
            for (int i = 0; i < 16; i++) v[i] = _mm512_castps_si512(f[i]);
            const int64_t pairs = left >= 32 ? 16 : (left + 1) / 2;
            uint32_t *o = P + (k / 2) * width + r0;
            for (int64_t q = 0; q < pairs; q++) {
                if (lanes == 16)
                    _mm512_storeu_si512(o + q * width, v[q]);
                else
                    _mm256_storeu_si256((__m256i *)(o + q * width), _mm512_castsi512_si256(v[q]));
            }
        }
    }
}

/* Block b of op(A) into its place in Ap: op(A)[i][k] = ta ? A[k*lda + i] (columns contiguous)
 * : A[i*lda + k] (rows contiguous). */
BF16_TARGET static inline void pack_a_block_avx512(bool ta, int64_t M, int64_t K, const float *A, int64_t lda, uint32_t *Ap, int64_t b) {
    uint32_t *P = Ap + b * MR * ((K + 1) / 2);
    if (ta)
        pack_cols_avx512(A, lda, b * MR, M, K, MR, P);
    else
        pack_rows_avx512(A, lda, b * MR, M, K, MR, P);
}

/* Block b of op(B) into its place in Bp: op(B)[k][j] = tb ? B[j*ldb + k] (rows of B are columns
 * of op(B)) : B[k*ldb + j]. */
BF16_TARGET static inline void pack_b_block_avx512(bool tb, int64_t N, int64_t K, const float *B, int64_t ldb, uint32_t *Bp, int64_t b) {
    uint32_t *P = Bp + b * NR * ((K + 1) / 2);
    if (tb)
        pack_rows_avx512(B, ldb, b * NR, N, K, NR, P);
    else
        pack_cols_avx512(B, ldb, b * NR, N, K, NR, P);
}

/* Packs blocks b0..b1 of op(A) and c0..c1 of op(B). */
BF16_TARGET static void pack_range_avx512(bool ta, bool tb, int64_t M, int64_t N, int64_t K, const float *A, int64_t lda,
                                     const float *B, int64_t ldb, uint32_t *Ap, uint32_t *Bp, int64_t b0, int64_t b1,
                                     int64_t c0, int64_t c1) {
    for (int64_t b = b0; b < b1; b++) pack_a_block_avx512(ta, M, K, A, lda, Ap, b);
    for (int64_t b = c0; b < c1; b++) pack_b_block_avx512(tb, N, K, B, ldb, Bp, b);
}

/* Packs op(A) and op(B) (threads over blocks when par). */
BF16_TARGET static void pack_all_avx512(bool ta, bool tb, int64_t M, int64_t N, int64_t K, const float *A, int64_t lda, const float *B,
                       int64_t ldb, uint32_t *Ap, uint32_t *Bp, bool par) {
    const int64_t nmb = nblocks(M, MR), nnb = nblocks(N, NR);
    if (!par || !dc_par_ok()) { /* no region for one thread (dc_par_ok) */
        for (int64_t b = 0; b < nmb; b++) pack_a_block_avx512(ta, M, K, A, lda, Ap, b);
        for (int64_t b = 0; b < nnb; b++) pack_b_block_avx512(tb, N, K, B, ldb, Bp, b);
        return;
    }
#pragma omp parallel
    {
#pragma omp for schedule(static) nowait
        for (int64_t b = 0; b < nmb; b++) pack_a_block_avx512(ta, M, K, A, lda, Ap, b);
#pragma omp for schedule(static)
        for (int64_t b = 0; b < nnb; b++) pack_b_block_avx512(tb, N, K, B, ldb, Bp, b);
    }
}
#endif

#if defined(__x86_64__) && defined(__GNUC__)
/* C[mr, nr] = alpha * Ap . Bp + beta * C, mr <= MR, nr <= NR, over KP pairs. */
BF16_TARGET static void micro_8x32_avx512(int64_t KP, const uint32_t *Ap, const uint32_t *Bp, float *C, int64_t ldc, int mr, int nr,
                                   float alpha, float beta) {
    __m512 c0[MR], c1[MR];
#pragma GCC unroll 8
    for (int r = 0; r < MR; r++) c0[r] = c1[r] = _mm512_setzero_ps();
    for (int64_t kp = 0; kp < KP; kp++) {
        __m512bh b0 = (__m512bh)_mm512_load_si512(Bp + kp * NR), b1 = (__m512bh)_mm512_load_si512(Bp + kp * NR + 16);
        const uint32_t *a = Ap + kp * MR;
#pragma GCC unroll 8
        for (int r = 0; r < MR; r++) {
            __m512bh av = (__m512bh)_mm512_set1_epi32((int)a[r]);
            c0[r] = _mm512_dpbf16_ps(c0[r], av, b0);
            c1[r] = _mm512_dpbf16_ps(c1[r], av, b1);
        }
    }
    const __m512 va = _mm512_set1_ps(alpha), vb = _mm512_set1_ps(beta);
    const __mmask16 m0 = nr >= 16 ? 0xffff : (__mmask16)((1u << nr) - 1),
                    m1 = nr >= 32 ? 0xffff : nr <= 16 ? 0 : (__mmask16)((1u << (nr - 16)) - 1);
    for (int r = 0; r < mr; r++) {
        float *cr = C + r * ldc;
        __m512 y0 = _mm512_mul_ps(va, c0[r]), y1 = _mm512_mul_ps(va, c1[r]);
        if (beta != 0) {
            y0 = _mm512_fmadd_ps(vb, _mm512_maskz_loadu_ps(m0, cr), y0);
            y1 = _mm512_fmadd_ps(vb, _mm512_maskz_loadu_ps(m1, cr + 16), y1);
        }
        _mm512_mask_storeu_ps(cr, m0, y0);
        _mm512_mask_storeu_ps(cr + 16, m1, y1);
    }
}

/* Tile (ib, jb) of C: row block ib of Ap against column block jb of Bp. */
static inline void tile_avx512(int64_t M, int64_t N, int64_t KP, const uint32_t *Ap, const uint32_t *Bp, float alpha, float beta,
                        float *C, int64_t ldc, int64_t ib, int64_t jb) {
    int64_t i0 = ib * MR, j0 = jb * NR;
    int mr = (int)(M - i0 < MR ? M - i0 : MR), nr = (int)(N - j0 < NR ? N - j0 : NR);
    micro_8x32_avx512(KP, Ap + ib * MR * KP, Bp + jb * NR * KP, C + i0 * ldc + j0, ldc, mr, nr, alpha, beta);
}

static void run_tiles_avx512(int64_t M, int64_t N, int64_t KP, const uint32_t *Ap, const uint32_t *Bp, float alpha, float beta,
                      float *C, int64_t ldc, bool par) {
    const int64_t nmb = nblocks(M, MR), nnb = nblocks(N, NR), tiles = nmb * nnb;
    /* column block outer, so consecutive tiles of a thread share their packed B block */
    DC_PAR_FOR(par, t, tiles, tile_avx512(M, N, KP, Ap, Bp, alpha, beta, C, ldc, t % nmb, t / nmb););
}

/* Tiles of row blocks ib0..ib1 and column blocks jb0..jb1 of C. */
static void tiles_range_avx512(int64_t M, int64_t N, int64_t KP, const uint32_t *Ap, const uint32_t *Bp, float alpha, float beta,
                        float *C, int64_t ldc, int64_t ib0, int64_t ib1, int64_t jb0, int64_t jb1) {
    for (int64_t jb = jb0; jb < jb1; jb++)
        for (int64_t ib = ib0; ib < ib1; ib++) tile_avx512(M, N, KP, Ap, Bp, alpha, beta, C, ldc, ib, jb);
}
#endif

bool dc_k_gemm_bf16_applies(int64_t M, int64_t N, int64_t K) {
    /* below these, packing costs more than the faster products save (a 3x3 convolution of one
     * channel has K = 9; its weight gradient N = 9) */
    return M > 0 && N >= 16 && K >= 32 && dc_k_bf16_available();
}

void dc_k_gemm_bf16(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const float *A, int64_t lda,
                    const float *B, int64_t ldb, float beta, float *C, int64_t ldc, void *scratch) {
    dc_k_gemm_bf16_ex(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, scratch, false);
}

void dc_k_gemm_bf16_ex(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const float *A, int64_t lda,
                       const float *B, int64_t ldb, float beta, float *C, int64_t ldc, void *scratch, bool split_rows) {
#if defined(__x86_64__) && defined(__GNUC__)
    if (scratch && dc_k_gemm_bf16_applies(M, N, K)) {
        const int64_t KP = (K + 1) / 2;
        uint32_t *Ap = (uint32_t *)(((uintptr_t)scratch + 63) & ~(uintptr_t)63);
        uint32_t *Bp = Ap + round64(nblocks(M, MR) * MR * KP * 4) / 4;
        /* threads only outside a parallel region (conv calls this per image from its own team) */
        bool par = dc_max_threads() > 1 && !in_parallel() && M * N * K > PAR_MIN_MACS;
        bool by_cols;
        const int nt = par ? split_plan(M, N, K, split_rows, &by_cols) : 1;
        if (nt > 1) {
            const int64_t nmb = nblocks(M, MR), nnb = nblocks(N, NR);
            const int64_t apw = round64(nmb * MR * KP * 4) / 4, bpw = round64(nnb * NR * KP * 4) / 4;
            uint32_t *Bp0 = Ap + (by_cols ? nt : 1) * apw;
#pragma omp parallel num_threads(nt)
            {
                const int t = omp_get_thread_num(), n = omp_get_num_threads();
                if (by_cols) {
                    const int64_t jb0 = nnb * t / n, jb1 = nnb * (t + 1) / n;
                    uint32_t *At = Ap + t * apw;
                    pack_range_avx512(ta, tb, M, N, K, A, lda, B, ldb, At, Bp0, 0, nmb, jb0, jb1);
                    tiles_range_avx512(M, N, KP, At, Bp0, alpha, beta, C, ldc, 0, nmb, jb0, jb1);
                } else {
                    /* in groups of 4 blocks, 32 rows: the cuts of dc_part_range */
                    const int64_t ng = (nmb + 3) / 4, g0 = ng * t / n * 4, g1 = ng * (t + 1) / n * 4;
                    const int64_t ib0 = g0 < nmb ? g0 : nmb, ib1 = t == n - 1 || g1 > nmb ? nmb : g1;
                    uint32_t *Bt = Bp0 + t * bpw;
                    pack_range_avx512(ta, tb, M, N, K, A, lda, B, ldb, Ap, Bt, ib0, ib1, 0, nnb);
                    tiles_range_avx512(M, N, KP, Ap, Bt, alpha, beta, C, ldc, ib0, ib1, 0, nnb);
                }
            }
            return;
        }
        pack_all_avx512(ta, tb, M, N, K, A, lda, B, ldb, Ap, Bp, par);
        run_tiles_avx512(M, N, KP, Ap, Bp, alpha, beta, C, ldc, par);
        return;
    }
#endif
    dc_k_gemm(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}
