/* Float32 GEMM: deepc's own AVX-512 kernel where it is the faster (sgemm_avx512.c,
 * dc_k_sgemm_own_applies: products of layers on a batch), else OpenBLAS (cblas); split over
 * threads by deepc.
 *
 * OpenBLAS runs on one thread; deepc cuts C into pieces itself: contiguous slices of columns
 * (of rows, when C has more rows than columns or the caller asks for rows), cut at multiples of
 * 32 so no two threads write one cache line, and at the rows dc_part_range gives each thread,
 * and each piece is one OpenBLAS call. The number of pieces follows from the shape and the
 * configured thread count alone, never from the team that runs them or from being inside
 * another parallel region (there the pieces run one after another): OpenBLAS's edge kernels
 * round some elements differently when a product is cut elsewhere, so this is what keeps a
 * product's bits the same on every team size an adaptive thread count chooses. Thin products,
 * those of a layer on a batch, also run faster so than under OpenBLAS's own threads (the
 * measurements are in docs/performance.md). DEEPC_GEMM_SPLIT=off leaves the threading to
 * OpenBLAS (as many threads as the team; results then depend on the team's size). */
#include "kernels.h"

#include <cblas.h>
#include <stdlib.h>
#include <string.h>

static void sgemm(bool own, bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const float *A, int64_t lda,
                  const float *B, int64_t ldb, float beta, float *C, int64_t ldc, const float *bias) {
    if (own) {
        dc_k_sgemm_own(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, bias);
        return;
    }
    if (bias) { /* OpenBLAS adds to C: the bias rows first */
        for (int64_t i = 0; i < M; i++) {
            float *ci = C + i * ldc;
            if (beta == 0)
                memcpy(ci, bias, (size_t)N * sizeof(float));
            else
                for (int64_t j = 0; j < N; j++) ci[j] = beta * ci[j] + bias[j];
        }
        beta = 1;
    }
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

/* below this many multiply-adds a product is one piece (OpenBLAS's own cut is 2^18) */
#define SPLIT_MIN_MACS ((int64_t)1 << 19)

/* The number of pieces C is cut into: 1 for one OpenBLAS call. */
static int split_pieces(int64_t M, int64_t N, int64_t K) {
    const int P = dc_get_threads();
    if (P < 2 || M * N * K < SPLIT_MIN_MACS || !split_enabled()) return 1;
    const int64_t longer = M < N ? N : M;
    int64_t t = longer / 32; /* slices of at least 32 */
    return t < 2 ? 1 : t < P ? (int)t : P;
}

void dc_k_gemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const float *A,
               int64_t lda, const float *B, int64_t ldb, float beta, float *C, int64_t ldc) {
    dc_k_gemm_bias(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, NULL, false);
}

void dc_k_gemm_ex(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const float *A, int64_t lda,
                  const float *B, int64_t ldb, float beta, float *C, int64_t ldc, bool split_rows) {
    dc_k_gemm_bias(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, NULL, split_rows);
}

void dc_k_gemm_bias(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const float *A, int64_t lda,
                    const float *B, int64_t ldb, float beta, float *C, int64_t ldc, const float *bias, bool split_rows) {
    if (M == 0 || N == 0) return;
    if (K == 0) {
        for (int64_t i = 0; i < M; i++)
            for (int64_t j = 0; j < N; j++) C[i * ldc + j] = (beta == 0 ? 0 : beta * C[i * ldc + j]) + (bias ? bias[j] : 0);
        return;
    }
    /* the path by the whole product's shape: every piece of a split takes the same one */
    const bool own = dc_k_sgemm_own_applies(ta, M, N, K);
    const int np = split_pieces(M, N, K);
    if (np < 2) {
        sgemm(own, ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, bias);
        return;
    }
    const bool by_cols = !split_rows && N >= M;
    const int64_t D = by_cols ? N : M, units = (D + 31) / 32; /* the cuts of dc_part_range */
    DC_PAR_FOR(true, p, np, {
        const int64_t lo = units * p / np * 32, hi0 = units * (p + 1) / np * 32, hi = hi0 < D ? hi0 : D;
        if (hi > lo) {
            if (by_cols) /* columns lo..hi of op(B) and of C */
                sgemm(own, ta, tb, M, hi - lo, K, alpha, A, lda, tb ? B + lo * ldb : B + lo, ldb, beta, C + lo, ldc,
                      bias ? bias + lo : NULL);
            else /* rows lo..hi of op(A) and of C */
                sgemm(own, ta, tb, hi - lo, N, K, alpha, ta ? A + lo : A + lo * lda, lda, B, ldb, beta, C + lo * ldc, ldc, bias);
        }
    });
}

/* y[r, :] = row for r < R, rows W floats long (kernels.h). */
void dc_k_fill_rows(float *y, const float *row, int64_t R, int64_t W) {
    if (R <= 0 || W <= 0) return;
    memcpy(y, row, (size_t)W * sizeof(float));
    /* copies of the rows written so far, doubling: log2(R) calls instead of R */
    for (int64_t r = 1; r < R; r *= 2) memcpy(y + r * W, y, (size_t)((R - r < r ? R - r : r) * W) * sizeof(float));
}
