/* GEMM through OpenBLAS (cblas).
 *
 * Thin products, those of a layer on a batch (one side 32-64 rows), gain little from
 * OpenBLAS's own threads: with 2 threads, the CNN's Dense forward (32x128x5408) took 290 us
 * against 340 us on one. For such a product deepc splits C itself: one contiguous slice of
 * columns per thread (of rows, when C has more rows than columns), cut at multiples of 32 so no
 * two threads write one cache line (and at the rows dc_part_range gives each thread), and each thread runs OpenBLAS on its slice (OpenBLAS's
 * OpenMP build runs one thread inside a parallel region). The same forward then takes 200 us.
 * Every element of C is still one full-K dot product of one call; which thread computes it
 * depends on the thread count only. DEEPC_GEMM_SPLIT=off leaves the threading to OpenBLAS. */
#include "kernels.h"

#include <cblas.h>
#include <stdlib.h>
#include <string.h>

static void sgemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const float *A, int64_t lda,
                  const float *B, int64_t ldb, float beta, float *C, int64_t ldc) {
    cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, (blasint)M, (blasint)N,
                (blasint)K, alpha, A, (blasint)lda, B, (blasint)ldb, beta, C, (blasint)ldc);
}

static int split_state = -1; /* -1 undecided, 0 off, 1 on */

static bool split_enabled(void) {
    int s = __atomic_load_n(&split_state, __ATOMIC_RELAXED);
    if (s < 0) {
        const char *e = getenv("DEEPC_GEMM_SPLIT");
        s = !(e && (!strcmp(e, "off") || !strcmp(e, "0")));
        __atomic_store_n(&split_state, s, __ATOMIC_RELAXED);
    }
    return s == 1;
}

/* below this many multiply-adds a product runs on one thread (OpenBLAS's own cut is 2^18) */
#define SPLIT_MIN_MACS ((int64_t)1 << 19)

/* The number of threads to split C over, 1 to leave it to OpenBLAS. */
static int split_threads(int64_t M, int64_t N, int64_t K) {
#ifdef _OPENMP
    const int T = omp_get_max_threads();
    if (T < 2 || omp_in_parallel() || M * N * K < SPLIT_MIN_MACS) return 1;
    const int64_t shorter = M < N ? M : N, longer = M < N ? N : M;
    if (shorter > DC_GEMM_THIN || !split_enabled()) return 1;
    int64_t t = longer / 32; /* slices of at least 32 */
    return t < 2 ? 1 : t < T ? (int)t : T;
#else
    (void)M, (void)N, (void)K;
    return 1;
#endif
}

void dc_k_gemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const float *A,
               int64_t lda, const float *B, int64_t ldb, float beta, float *C, int64_t ldc) {
    dc_k_gemm_ex(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, false);
}

void dc_k_gemm_ex(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const float *A, int64_t lda,
                  const float *B, int64_t ldb, float beta, float *C, int64_t ldc, bool split_rows) {
    if (M == 0 || N == 0) return;
    if (K == 0) {
        for (int64_t i = 0; i < M; i++)
            for (int64_t j = 0; j < N; j++) C[i * ldc + j] = beta == 0 ? 0 : beta * C[i * ldc + j];
        return;
    }
    const int nt = split_threads(M, N, K);
    if (nt < 2) {
        sgemm(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
        return;
    }
    const bool by_cols = !split_rows && N >= M;
    const int64_t D = by_cols ? N : M, units = (D + 31) / 32; /* the cuts of dc_part_range */
#pragma omp parallel num_threads(nt)
    {
        const int t = omp_get_thread_num(), n = omp_get_num_threads();
        const int64_t lo = units * t / n * 32, hi0 = units * (t + 1) / n * 32, hi = hi0 < D ? hi0 : D;
        if (hi > lo) {
            if (by_cols) /* columns lo..hi of op(B) and of C */
                sgemm(ta, tb, M, hi - lo, K, alpha, A, lda, tb ? B + lo * ldb : B + lo, ldb, beta, C + lo, ldc);
            else /* rows lo..hi of op(A) and of C */
                sgemm(ta, tb, hi - lo, N, K, alpha, ta ? A + lo : A + lo * lda, lda, B, ldb, beta, C + lo * ldc, ldc);
        }
    }
}
