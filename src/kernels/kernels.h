/* kernels: raw compute on pointers and sizes. No tensors, no graph, no allocation. */
#ifndef DC_KERNELS_H
#define DC_KERNELS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "deepc/base.h"
#include "deepc/kernels.h"

#ifdef _OPENMP
#include <omp.h>
#endif

/* DC_CLONES on a function with hot loops: GCC compiles it three times, for x86-64-v4 (AVX-512),
 * x86-64-v3 (AVX2, FMA) and the build's baseline (plain x86-64 by default), and the dynamic
 * loader binds the best one the CPU runs, once, through an ifunc: one binary for any x86-64,
 * with the vector code of a -march=native build where the CPU has it. The OpenMP regions inside
 * the function are compiled per clone too. Inlined static helpers take the clone's target;
 * a clone is never inlined itself, so it goes on the outermost function of a hot loop, not on
 * small helpers called per row.
 * Off (the baseline only) without GCC 11+ on glibc x86-64: on other CPUs, under clang (whose
 * resolver for arch= clones tests the CPU's vendor rather than its features, and whose OpenMP
 * regions do not take the target), and in -march=native builds (DC_NO_CLONES), whose baseline
 * already is the building CPU. The bodies then compile for the baseline, unchanged. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 11 && defined(__linux__) &&                 \
    defined(__GLIBC__) && !defined(DC_NO_CLONES)
#define DC_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define DC_CLONES
#endif
/* A static helper with a hot loop called from DC_CLONES functions: inlined into each clone and
 * compiled for its target (a helper left out of line would be compiled for the baseline). */
#define DC_INLINE static inline __attribute__((always_inline))
/* The explicit AVX-512 kernels (pool.c, gemm_bf16.c): compiled with this target on any x86-64
 * with GCC or clang and run only when dc_k_avx512_usable() (or dc_k_bf16_available()) says so;
 * their names end in _avx512, which scripts/check_isa.sh relies on. */
#if defined(__x86_64__) && defined(__GNUC__)
#define DC_HAVE_AVX512_KERNELS 1
#define DC_TARGET_AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq")))
#endif
/* True when the CPU (and the OS) run AVX-512 F, BW, VL and DQ: checked once. */
bool dc_k_avx512_usable(void);

/* A product with a side of C at most this long is thin (a layer on a batch): dc_k_gemm and
 * dc_k_gemm_bf16 split it over threads themselves, one slice of C per thread. Longer on both
 * sides, OpenBLAS's threads (float32) and shared packing (bf16), are the better split. */
#define DC_GEMM_THIN 512

/* y[r, :] = row[0 .. W) for each of the R rows of y [R, W] (a bias before a product adds to it). */
void dc_k_fill_rows(float *y, const float *row, int64_t R, int64_t W);

/* Row-major C[M,N] = alpha op(A) op(B) + beta C through OpenBLAS; op = transpose if tX. */
void dc_k_gemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const float *A,
               int64_t lda, const float *B, int64_t ldb, float beta, float *C, int64_t ldc);

/* deepc's own float32 GEMM for AVX-512 (sgemm_avx512.c; call only where dc_k_avx512_usable()):
 * C = alpha op(A) op(B) + beta C, plus bias[j] on every row when bias is not NULL (beta 0 and
 * a bias: a Dense layer's output in one pass). Each element is summed in one order whatever
 * piece of C a call computes. dc_k_gemm takes it where dc_k_sgemm_own_applies (by the whole
 * product's shape, so that every piece of a split takes the same path); DEEPC_SGEMM=openblas
 * (or off, or 0) turns it off. */
void dc_k_sgemm_own(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const float *A, int64_t lda, const float *B,
                    int64_t ldb, float beta, float *C, int64_t ldc, const float *bias);
bool dc_k_sgemm_own_applies(bool ta, int64_t M, int64_t N, int64_t K);
/* A B used many times as op(B) = B^T (B [N, K] row-major): packed once into P
 * (dc_k_sgemm_packed_size(N, K) bytes, 64-byte aligned), then dc_k_sgemm_packed computes
 * columns j0 .. j0 + nc - 1 of C = alpha op(A) op(B) + beta C (+ bias), j0 a multiple of 32. */
size_t dc_k_sgemm_packed_size(int64_t N, int64_t K);
void dc_k_sgemm_pack_b(int64_t N, int64_t K, const float *B, int64_t ldb, float *P);
void dc_k_sgemm_packed(bool ta, int64_t M, int64_t K, float alpha, const float *A, int64_t lda, const float *P, int64_t j0,
                       int64_t nc, float beta, float *C, int64_t ldc, const float *bias);
/* dc_k_gemm_ex plus bias[j] added to every row of C (NULL: none). */
void dc_k_gemm_bias(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const float *A, int64_t lda,
                    const float *B, int64_t ldb, float beta, float *C, int64_t ldc, const float *bias, bool split_rows);
/* Mixed precision (gemm_bf16.c): the same product with op(A) and op(B) rounded to bfloat16
 * (round to nearest even) and summed in float32; C stays float32. Runs the AVX512-BF16 kernel
 * when dc_k_gemm_bf16_applies(M, N, K), else (or when scratch is NULL) it is dc_k_gemm. scratch holds
 * dc_k_gemm_bf16_scratch(M, N, K) bytes (any alignment); threads are used only when called
 * outside a parallel region. Each C element is summed by one thread in a fixed order. */
void dc_k_gemm_bf16(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const float *A,
                    int64_t lda, const float *B, int64_t ldb, float beta, float *C, int64_t ldc, void *scratch);
size_t dc_k_gemm_bf16_scratch(int64_t M, int64_t N, int64_t K);
/* dc_k_gemm and dc_k_gemm_bf16, with split_rows: a thin product split over threads gives each
 * thread a slice of C's rows even when C has more columns than rows. A weight gradient
 * [out, in] is made so: each thread writes the rows of the weight that its slice of the
 * forward's columns read and that the optimiser updates on it (dc_part_range), so no cache line
 * of a weight or its gradient moves between cores in a step. */
void dc_k_gemm_ex(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const float *A, int64_t lda,
                  const float *B, int64_t ldb, float beta, float *C, int64_t ldc, bool split_rows);
void dc_k_gemm_bf16_ex(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const float *A, int64_t lda,
                       const float *B, int64_t ldb, float beta, float *C, int64_t ldc, void *scratch, bool split_rows);
/* True when dc_k_gemm_bf16 takes the bf16 path for this shape: the kernel is available and
 * the product is big enough to gain (N >= 16, K >= 32); smaller ones stay float32. */
bool dc_k_gemm_bf16_applies(int64_t M, int64_t N, int64_t K);
/* True when the CPU reports AVX512-BF16 and DEEPC_BF16_KERNEL is not "off" (checked once). */
bool dc_k_bf16_available(void);
/* Tests: on = use the float32 fallback from now on; off = decide again from CPU and env. */
void dc_k_bf16_force_fallback(bool on);
/* float32 <-> bfloat16 bits (round to nearest even; NaN stays NaN). */
void dc_k_f32_to_bf16(const float *x, uint16_t *y, int64_t n);
void dc_k_bf16_to_f32(const uint16_t *x, float *y, int64_t n);

/* y = f(x) element-wise for the element-wise activations (not softmax). */
void dc_k_act_forward(dc_activation a, float alpha, const float *x, float *y, int64_t n);
/* gx += gy * f'(x) when acc, else gx = gy * f'(x) (gx not yet written), in terms of y = f(x)
 * (and x where needed). */
void dc_k_act_backward(dc_activation a, float alpha, const float *x, const float *y,
                       const float *gy, float *gx, int64_t n, bool acc);

/* gz = gy * f'(x) written (not accumulated), from y = f(x) alone: valid for the element-wise
 * activations up to ELU, since leaky ReLU and ELU outputs have their input's sign. Not for
 * GELU (not invertible: its derivative needs x); callers apply GELU as a separate op. */
void dc_k_act_grad_from_output(dc_activation a, float alpha, const float *y, const float *gy, float *gz, int64_t n);

/* Row-wise over [rows, cols]: y = softmax(x) or log_softmax(x), stable. */
void dc_k_softmax_rows(const float *x, float *y, int64_t rows, int64_t cols, bool log);
/* gx += y * (gy - sum(gy * y)) (softmax) or gy - exp(y) * sum(gy) (log-softmax). */
void dc_k_softmax_rows_backward(const float *y, const float *gy, float *gx, int64_t rows,
                                int64_t cols, bool log);

/* Geometry of a 2-D convolution over one image: input [C, H, W], kernel [kh, kw], stride,
 * zero padding (top, left; bottom/right are implied by OH/OW), dilation 1, output [OH, OW]. */
typedef struct dc_conv_geom {
    int64_t C, H, W, kh, kw, sh, sw, pt, pl, OH, OW;
} dc_conv_geom;
/* col[C*kh*kw, OH*OW] from one image x[C, H, W]. */
void dc_k_im2col(const dc_conv_geom *g, const float *x, float *col);
/* x[C, H, W] += col2im(col[C*kh*kw, OH*OW]). */
void dc_k_col2im(const dc_conv_geom *g, const float *col, float *x);
/* The same with col's rows ld apart (ld >= OH*OW): one image's columns inside the col matrix of
 * several images side by side, [C*kh*kw, images * OH*OW]. */
void dc_k_im2col_ld(const dc_conv_geom *g, const float *x, float *col, int64_t ld);
void dc_k_col2im_ld(const dc_conv_geom *g, const float *col, int64_t ld, float *x);

/* e^x in float, branch-free so loops over it vectorise (libm's expf does not without
 * -ffast-math): Cephes's polynomial on x - n ln2, scaled by 2^n; relative error about 2e-7. */
static inline float dc_fast_expf(float x) {
    x = x < -87.3f ? -87.3f : x > 88.3f ? 88.3f : x;
    float n = __builtin_floorf(x * 1.44269504089f + 0.5f);
    float r = x - n * 0.693145751953125f - n * 1.428606765330187e-06f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * r * r + r + 1.0f;
    /* NaN passes through the clamp: it stays NaN through r and p, and the exponent is taken
     * from 0 instead (a float-to-int conversion of NaN is undefined) */
    n = n == n ? n : 0.0f;
    union {
        int32_t i;
        float f;
    } u = {((int32_t)n + 127) << 23};
    return p * u.f;
}
/* 1 / (1 + e^-x) */
static inline float dc_fast_sigmoid(float x) { return 1.0f / (1.0f + dc_fast_expf(-x)); }
/* tanh x, branch-free (both forms computed, one chosen) so loops over it vectorise: Cephes's
 * odd polynomial x + x^3 P(x^2) for |x| < 0.625, where 1 - 2 / (e^2x + 1) would cancel, and
 * that form beyond (exact limits at both ends); relative error a few 1e-7 throughout. */
static inline float dc_fast_tanh(float x) {
    const float z = x * x;
    const float p = ((((-5.70498872745e-3f * z + 2.06390887954e-2f) * z - 5.37397155531e-2f) * z + 1.33314422036e-1f) * z -
                     3.33332819422e-1f) * z * x + x;
    const float e = 1.0f - 2.0f / (dc_fast_expf(2.0f * x) + 1.0f);
    return z < 0.390625f ? p : e; /* 0.625^2 */
}

/* The size of the next parallel region's team, and this thread's number inside one (1 and 0
 * without OpenMP): per-thread scratch is sized and indexed with these. */
static inline int dc_max_threads(void) {
#ifdef _OPENMP
    return omp_get_max_threads();
#else
    return 1;
#endif
}
/* The number of parts a parallel loop over n items cuts its partial sums into (a weight's
 * gradient summed over a batch's images): the configured thread count, not the team's size,
 * so the sums come out the same whatever team an adaptive count runs them on; 1 when there
 * are fewer items than parts. */
static inline int dc_sum_parts(int64_t n) {
    int P = dc_get_threads();
    return P > 1 && n >= P ? P : 1;
}
static inline int dc_team_size(void) {
#ifdef _OPENMP
    return omp_get_num_threads();
#else
    return 1;
#endif
}
static inline int dc_thread_id(void) {
#ifdef _OPENMP
    return omp_get_thread_num();
#else
    return 0;
#endif
}

/* Below this many elements a loop runs on one thread. */
#define DC_PAR_MIN 32768

/* Whether a loop may open a parallel region: more than one thread configured, and not inside an
 * active region already (a nested region would have one thread). A region of one thread is not
 * free: libgomp ends it with a barrier whose wake-up is a system call, so a loop that runs on
 * one thread runs outside any region. */
static inline bool dc_par_ok(void) {
#ifdef _OPENMP
    return omp_get_max_threads() > 1 && !omp_in_parallel();
#else
    return false;
#endif
}

/* for (i = 0; i < n; i++) BODY: split statically over a team when par and dc_par_ok(), else a
 * plain loop outside any region. BODY may hold no #pragma; per-thread scratch indexed by
 * dc_thread_id() must be indexed by 0 when par is false. */
#define DC_PAR_FOR(par, i, n, ...)                                                                 \
    do {                                                                                           \
        const int64_t n_##i = (n);                                                                 \
        if ((par) && dc_par_ok()) {                                                                \
            _Pragma("omp parallel for schedule(static)") for (int64_t i = 0; i < n_##i; i++) {     \
                __VA_ARGS__                                                                        \
            }                                                                                      \
        } else {                                                                                   \
            for (int64_t i = 0; i < n_##i; i++) { __VA_ARGS__ }                                    \
        }                                                                                          \
    } while (0)

/* for (i = 0; i < n; i++) BODY, split across threads only when n > DC_PAR_MIN: a small loop
 * never enters OpenMP, since even a one-thread team costs more than a small layer's work.
 * DC_FOR vectorises the body (element-wise loops); DC_FOR_ROWS does not (row loops). */
#define DC_FOR(i, n, ...)                                                                          \
    do {                                                                                           \
        const int64_t n_##i = (n);                                                                 \
        if (n_##i > DC_PAR_MIN && dc_par_ok()) {                                                   \
            _Pragma("omp parallel for simd") for (int64_t i = 0; i < n_##i; i++) { __VA_ARGS__ }   \
        } else {                                                                                   \
            _Pragma("omp simd") for (int64_t i = 0; i < n_##i; i++) { __VA_ARGS__ }                \
        }                                                                                          \
    } while (0)
#define DC_FOR_ROWS(i, n, work, ...)                                                              \
    do {                                                                                           \
        const int64_t n_##i = (n);                                                                 \
        if ((work) > DC_PAR_MIN && dc_par_ok()) {                                                  \
            _Pragma("omp parallel for") for (int64_t i = 0; i < n_##i; i++) { __VA_ARGS__ }        \
        } else {                                                                                   \
            for (int64_t i = 0; i < n_##i; i++) { __VA_ARGS__ }                                    \
        }                                                                                          \
    } while (0)

/* A flat buffer of tensors (a model's parameters, or their gradients) split over threads the
 * way the layers' GEMMs split those tensors, so that what a thread's slice of a GEMM writes or
 * reads, the optimiser updates on the same thread: on this 2-core machine a cache line that
 * moves between cores costs about 190 ns, and a step that zeroed, updated and multiplied each
 * weight on different threads spent more time moving lines than computing. Segment: elements
 * [off, off + len) holding a matrix of `rows` rows of `cols` (the alignment padding after it
 * included), or a flat run (rows 0). */
typedef struct dc_part_seg {
    int64_t off, len, rows, cols;
} dc_part_seg;

/* Thread t of T's elements [*lo, *hi) of segment s: a matrix of 64 rows or more in groups of
 * 32 rows (the cuts of a thin GEMM split over a weight's rows: a Dense forward's output columns,
 * its weight gradient's rows), anything else in 16-element units; the last thread takes the tail. */
static inline void dc_part_range(const dc_part_seg *s, int t, int T, int64_t *lo, int64_t *hi) {
    const int64_t unit = s->rows >= 64 ? 32 * s->cols : 16, units = (s->len + unit - 1) / unit;
    int64_t a = units * t / T * unit, b = t == T - 1 ? s->len : units * (t + 1) / T * unit;
    *lo = s->off + (a < s->len ? a : s->len);
    *hi = s->off + (b < s->len ? b : s->len);
}

/* DC_FOR over [0, n) split by the nseg segments of part (which cover [0, n) in order); with
 * part NULL, or a loop too small to split, it is DC_FOR. Element-wise bodies only: the result
 * does not depend on the split. */
#define DC_FOR_PART(i, n, part, nseg, ...)                                                         \
    do {                                                                                           \
        const int64_t np_##i = (n);                                                                \
        const dc_part_seg *ps_##i = (part);                                                        \
        const int ns_##i = (nseg);                                                                 \
        if (!ps_##i || np_##i <= DC_PAR_MIN || dc_max_threads() < 2) {                             \
            DC_FOR(i, np_##i, __VA_ARGS__);                                                        \
        } else {                                                                                   \
            _Pragma("omp parallel") {                                                              \
                const int t_##i = dc_thread_id(), T_##i = dc_team_size();                         \
                for (int s_##i = 0; s_##i < ns_##i; s_##i++) {                                     \
                    int64_t lo_##i, hi_##i;                                                        \
                    dc_part_range(&ps_##i[s_##i], t_##i, T_##i, &lo_##i, &hi_##i);                 \
                    _Pragma("omp simd") for (int64_t i = lo_##i; i < hi_##i; i++) { __VA_ARGS__ }  \
                }                                                                                  \
            }                                                                                      \
        }                                                                                          \
    } while (0)

/* SplitMix64's finaliser: a well-mixed 64-bit hash of z. */
static inline uint64_t dc_mix64(uint64_t z) {
    z ^= z >> 30;
    z *= 0xbf58476d1ce4e5b9ull;
    z ^= z >> 27;
    z *= 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* Element j's draw of the stream keyed by s: (low half of s) + j * golden ratio, xor the high
 * half, through a 32-bit bijective mixer (lowbias32's constants): distinct j below 2^32 give
 * distinct draws. */
static inline uint32_t dc_dropout_hash(uint64_t s, uint32_t j) {
    uint32_t x = ((uint32_t)s + j * 0x9E3779B9u) ^ (uint32_t)(s >> 32);
    x ^= x >> 16;
    x *= 0x7feb352du;
    x ^= x >> 15;
    x *= 0x846ca68bu;
    return x ^ (x >> 16);
}

/* Dropout streams are cut into blocks of 2^DC_DROP_BLOCK_BITS elements, each keyed by its own
 * 64-bit seed: element i's draw is dc_dropout_hash(dc_dropout_block_key(seed, i), i mod 2^30). */
#define DC_DROP_BLOCK_BITS 30
static inline uint64_t dc_dropout_block_key(uint64_t seed, uint64_t i) {
    const uint64_t b = i >> DC_DROP_BLOCK_BITS;
    return b ? dc_mix64(seed + b * 0x9e3779b97f4a7c15ull) : seed;
}

/* Dropout multipliers: m[i] = 1 / (1 - rate) if the top 24 bits of hash(seed, i) are at least
 * rate * 2^24, else 0. A counter-based stream: element i's draw depends only on (seed, i), so
 * the loop vectorises and splits across threads with the same result at any thread count.
 * The hash is 32-bit (dc_dropout_hash, sixteen lanes to a vector, two multiplies), over
 * blocks of 2^30 elements each keyed by its own 64-bit seed. With x (not NULL) also
 * y[i] = x[i] m[i], in the same pass. */
void dc_k_dropout_mask(float *m, int64_t n, uint64_t seed, float rate, const float *x, float *y); /* cpu.c */
/* m[r, j] = multiplier (g0 + r) * cols + j of dc_k_dropout_mask's stream of seed, for rows
 * r < rows of cols each: a row-wise dropout (attention's probabilities) computes any block of
 * rows on its own and gets the values of the whole. */
void dc_k_dropout_mask_rows(float *m, int64_t rows, int64_t cols, uint64_t seed, uint64_t g0, float rate); /* cpu.c */
#ifdef DC_HAVE_AVX512_KERNELS
/* Bit j (j < n <= 64): whether element i0 + j of dc_k_dropout_mask's stream of seed is kept
 * (its multiplier is 1 / (1 - rate), not 0). For fused kernels that apply dropout under a lane
 * mask instead of storing multipliers. AVX-512 only (cpu.c). */
uint64_t dc_k_dropout_keep_bits_avx512(uint64_t seed, uint64_t i0, int n, float rate);
#endif

#endif
