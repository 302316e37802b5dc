/* Mixed precision and threads: the bf16 GEMM against a double reference of bf16-rounded
 * operands and against float32 (odd sizes, transposes, alpha/beta, strides), bf16 rounding,
 * dense and conv forward+backward in bf16 against float32, the forced float32 fallback,
 * bit-identical training twice (dropout, 2 threads, float32 and bf16), DEEPC_THREADS parsing,
 * and the float32 GEMM deepc splits over threads itself. */
#include <stdlib.h>
#include <unistd.h>

#include "check.h"
#include "kernels/kernels.h"
#include "optim/optim.h"

static float bf16_round(float f) {
    uint16_t h;
    dc_k_f32_to_bf16(&f, &h, 1);
    dc_k_bf16_to_f32(&h, &f, 1);
    return f;
}

static void fill(float *x, int64_t n, dc_rng *r) {
    for (int64_t i = 0; i < n; i++) x[i] = dc_rng_normal(r);
}

static void test_rounding(void) {
    CHECK(bf16_round(1.0f) == 1.0f);
    CHECK(bf16_round(1.0f + 0x1p-8f) == 1.0f);                /* tie: to even (down) */
    CHECK(bf16_round(1.0f + 3 * 0x1p-8f) == 1.0f + 0x1p-6f);  /* tie: to even (up) */
    CHECK(bf16_round(1.0f + 0x1p-8f + 0x1p-20f) == 1.0f + 0x1p-7f);
    CHECK(bf16_round(-2.5f) == -2.5f);
    CHECK(isinf(bf16_round(INFINITY)) && bf16_round(-INFINITY) < 0);
    CHECK(isnan(bf16_round(NAN)));
    CHECK(isinf(bf16_round(3.4e38f))); /* rounds past the largest bf16 */
    CHECK(bf16_round(1e-30f) > 0.9e-30f && bf16_round(1e-30f) < 1.1e-30f); /* float32's range */
}

/* One GEMM case: the result against a double-precision product of the bf16-rounded operands
 * (only float32 summation error allowed) and against the float32 GEMM (bf16 rounding error). */
static void gemm_case(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, float beta, dc_rng *r) {
    const int64_t pad = 3;
    int64_t ar = ta ? K : M, ac = ta ? M : K, br = tb ? N : K, bc = tb ? K : N;
    int64_t lda = ac + pad, ldb = bc + pad, ldc = N + pad;
    float *A = malloc((size_t)(ar * lda) * 4), *B = malloc((size_t)(br * ldb) * 4);
    float *C = malloc((size_t)(M * ldc) * 4), *C32 = malloc((size_t)(M * ldc) * 4), *C0 = malloc((size_t)(M * ldc) * 4);
    void *ws = malloc(dc_k_gemm_bf16_scratch(M, N, K));
    fill(A, ar * lda, r);
    fill(B, br * ldb, r);
    fill(C0, M * ldc, r);
    memcpy(C, C0, (size_t)(M * ldc) * 4);
    memcpy(C32, C0, (size_t)(M * ldc) * 4);
    dc_k_gemm_bf16(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, ws);
    dc_k_gemm(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C32, ldc);
    bool kernel = dc_k_gemm_bf16_applies(M, N, K);
    double worst_exact = 0, worst_f32 = 0;
    for (int64_t i = 0; i < M; i++)
        for (int64_t j = 0; j < N; j++) {
            double s = 0, sa = 0;
            for (int64_t k = 0; k < K; k++) {
                float a = ta ? A[k * lda + i] : A[i * lda + k], b = tb ? B[j * ldb + k] : B[k * ldb + j];
                s += (double)bf16_round(a) * bf16_round(b);
                sa += fabs((double)a * b);
            }
            double ref = alpha * s + (beta != 0 ? beta * (double)C0[i * ldc + j] : 0);
            double scale = fabs(alpha) * sa + fabs(beta * C0[i * ldc + j]) + 1e-30;
            double e_exact = fabs(C[i * ldc + j] - ref) / scale, e_f32 = fabs(C[i * ldc + j] - C32[i * ldc + j]) / scale;
            if (e_exact > worst_exact) worst_exact = e_exact;
            if (e_f32 > worst_f32) worst_f32 = e_f32;
        }
    /* padding columns of C untouched */
    int untouched = 1;
    for (int64_t i = 0; i < M; i++)
        for (int64_t j = N; j < ldc; j++) untouched &= C[i * ldc + j] == C0[i * ldc + j];
    CHECK(untouched);
    if (kernel) CHECK(worst_exact < 1e-5);
    CHECK(worst_f32 < (kernel ? 1.6e-2 : 1e-6)); /* two roundings of 2^-9 each, relative */
    if ((kernel && worst_exact >= 1e-5) || worst_f32 >= (kernel ? 1.6e-2 : 1e-6))
        fprintf(stderr, "  case ta=%d tb=%d M=%lld N=%lld K=%lld: %.3g %.3g\n", ta, tb, (long long)M, (long long)N,
                (long long)K, worst_exact, worst_f32);
    free(A);
    free(B);
    free(C);
    free(C32);
    free(C0);
    free(ws);
}

static void test_gemm(void) {
    dc_rng r;
    dc_rng_seed(&r, 7);
    const int64_t sz[][3] = {{1, 1, 1}, {1, 40, 3}, {9, 1, 17}, {7, 33, 5}, {8, 32, 2}, {1, 16, 32}, {3, 17, 33},
                             {19, 70, 129}, {33, 65, 64}, {64, 96, 301}, {9, 40, 1000}};
    for (size_t s = 0; s < sizeof sz / sizeof sz[0]; s++)
        for (int t = 0; t < 4; t++) gemm_case(t & 1, t & 2, sz[s][0], sz[s][1], sz[s][2], 0.7f, t == 3 ? 0.5f : 0.0f, &r);
    gemm_case(false, true, 200, 300, 257, 1.0f, 1.0f, &r); /* large enough to use threads */
    /* NaN in C with beta = 0 must not leak through */
    float A[4] = {1, 2, 3, 4}, B[4] = {1, 0, 0, 1}, C[4] = {NAN, NAN, NAN, NAN};
    char ws[512];
    CHECK(dc_k_gemm_bf16_scratch(2, 2, 2) <= sizeof ws);
    dc_k_gemm_bf16(false, false, 2, 2, 2, 1, A, 2, B, 2, 0, C, 2, ws);
    CHECK(C[0] == 1 && C[1] == 2 && C[2] == 3 && C[3] == 4);
    if (dc_k_bf16_available()) CHECK(dc_k_gemm_bf16_applies(1, 16, 32) && !dc_k_gemm_bf16_applies(64, 15, 64) && !dc_k_gemm_bf16_applies(64, 64, 31));
}

/* The worst error of C = alpha op(A) op(B) + beta C0 (+ bias) against a double reference,
 * relative to the sum of the terms' magnitudes; NaN counts as the worst. */
static double gemm_err(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, float beta, const float *A, int64_t lda,
                      const float *B, int64_t ldb, const float *C0, const float *C, int64_t ldc, const float *bias) {
    double worst = 0;
    for (int64_t i = 0; i < M; i++)
        for (int64_t j = 0; j < N; j++) {
            double s = 0, sa = 0;
            for (int64_t k = 0; k < K; k++) {
                double a = ta ? A[k * lda + i] : A[i * lda + k], b = tb ? B[j * ldb + k] : B[k * ldb + j];
                s += a * b;
                sa += fabs(a * b);
            }
            double c0 = beta != 0 ? beta * (double)C0[i * ldc + j] : 0, bj = bias ? bias[j] : 0;
            double ref = alpha * s + c0 + bj;
            double e = fabs(C[i * ldc + j] - ref) / (fabs(alpha) * sa + fabs(c0) + fabs(bj) + 1e-30);
            if (!(e <= worst)) worst = e;
        }
    return worst;
}

/* The float32 GEMM that deepc splits over threads itself (thin products, blas.c): against a
 * double reference, at 1, 2 and 3 threads (slices of uneven length), by columns and by rows,
 * every transpose, strides, alpha and beta; C's padding untouched; the same bits when repeated. */
static void split_case(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, float beta, dc_rng *r, bool rows) {
    const int64_t pad = 5;
    int64_t ar = ta ? K : M, ac = ta ? M : K, br = tb ? N : K, bc = tb ? K : N;
    int64_t lda = ac + pad, ldb = bc + pad, ldc = N + pad;
    float *A = malloc((size_t)(ar * lda) * 4), *B = malloc((size_t)(br * ldb) * 4);
    float *C = malloc((size_t)(M * ldc) * 4), *C2 = malloc((size_t)(M * ldc) * 4), *C0 = malloc((size_t)(M * ldc) * 4);
    fill(A, ar * lda, r);
    fill(B, br * ldb, r);
    fill(C0, M * ldc, r);
    for (int threads = 1; threads <= 3; threads++) {
        dc_set_threads(threads);
        memcpy(C, C0, (size_t)(M * ldc) * 4);
        memcpy(C2, C0, (size_t)(M * ldc) * 4);
        dc_k_gemm_ex(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, rows);
        dc_k_gemm_ex(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C2, ldc, rows);
        CHECK(memcmp(C, C2, (size_t)(M * ldc) * 4) == 0);
        double worst = gemm_err(ta, tb, M, N, K, alpha, beta, A, lda, B, ldb, C0, C, ldc, NULL);
        int untouched = 1;
        for (int64_t i = 0; i < M; i++)
            for (int64_t j = N; j < ldc; j++) untouched &= C[i * ldc + j] == C0[i * ldc + j];
        CHECK(untouched);
        CHECK(worst < 1e-5);
        if (worst >= 1e-5)
            fprintf(stderr, "  split case ta=%d tb=%d M=%lld N=%lld K=%lld threads=%d rows=%d: %.3g\n", ta, tb, (long long)M,
                    (long long)N, (long long)K, threads, rows, worst);
    }
    dc_set_threads(0);
    free(A);
    free(B);
    free(C);
    free(C2);
    free(C0);
}

static void test_gemm_split(void) {
    dc_rng r;
    dc_rng_seed(&r, 9);
    /* thin: split by columns (N >= M), by rows (M > N); N and M not multiples of 16; one
     * just above the size cut (2^19 multiply-adds); one too wide to split (both sides > 512) */
    const int64_t sz[][3] = {{32, 601, 300}, {700, 40, 200}, {20, 130, 220}, {33, 47, 400}, {520, 530, 4}};
    for (size_t s = 0; s < sizeof sz / sizeof sz[0]; s++)
        for (int t = 0; t < 4; t++) split_case(t & 1, t & 2, sz[s][0], sz[s][1], sz[s][2], 0.7f, t == 3 ? 0.5f : 0.0f, &r, false);
    split_case(false, true, 64, 256, 784, 1.0f, 1.0f, &r, false); /* the MLP's first layer */
    /* by rows although C is wider than tall: a weight gradient (linear's backward) */
    split_case(true, false, 256, 784, 64, 1.0f, 1.0f, &r, true);
    split_case(true, false, 100, 601, 40, 0.7f, 0.0f, &r, true);
}

/* deepc's own AVX-512 float32 GEMM (sgemm_avx512.c): random shapes (edges of its 12 x 32 tile,
 * K past its 128-long blocks), every transpose, B's rows near and far apart, alpha, beta (0 with NaN in C, which must not
 * reach the result), a bias row, padded strides, against a double reference; C's padding
 * untouched; a product cut into pieces of columns or rows has the bits of the whole; the
 * prepacked B gives the bits of the unpacked one; dc_k_gemm_bias the same bits at 1, 2 and 3
 * threads. */
static void test_sgemm_own(void) {
    if (!dc_k_avx512_usable()) {
        printf("own float32 GEMM: skipped (no AVX-512)\n");
        return;
    }
    dc_rng r;
    dc_rng_seed(&r, 23);
    const float alphas[] = {1.0f, 0.7f, -1.3f}, betas[] = {0.0f, 1.0f, 0.5f};
    for (int t = 0; t < 48; t++) {
        const bool ta = t & 1, tb = t & 2, with_bias = t & 4;
        const int64_t M = 1 + (int64_t)dc_rng_below(&r, 70), N = 1 + (int64_t)dc_rng_below(&r, 100),
                      K = t % 8 == 7 ? 129 + (int64_t)dc_rng_below(&r, 400) : 1 + (int64_t)dc_rng_below(&r, 200);
        const float alpha = alphas[t % 3], beta = betas[(t / 3) % 3];
        /* every fourth B read in place has rows 2048+ floats apart: the kernel copies its panels */
        const int64_t pad = !tb && t % 4 == 0 ? 2048 + t % 5 : 1 + t % 5, ar = ta ? K : M, ac = ta ? M : K, br = tb ? N : K, bc = tb ? K : N;
        const int64_t lda = ac + pad, ldb = bc + pad, ldc = N + pad;
        float *A = malloc((size_t)(ar * lda) * 4), *B = malloc((size_t)(br * ldb) * 4), *bias = malloc((size_t)N * 4);
        float *C0 = malloc((size_t)(M * ldc) * 4), *C = malloc((size_t)(M * ldc) * 4), *C2 = malloc((size_t)(M * ldc) * 4);
        fill(A, ar * lda, &r);
        fill(B, br * ldb, &r);
        fill(bias, N, &r);
        fill(C0, M * ldc, &r);
        if (beta == 0)
            for (int64_t i = 0; i < M; i++)
                for (int64_t j = 0; j < N; j++) C0[i * ldc + j] = NAN;
        memcpy(C, C0, (size_t)(M * ldc) * 4);
        const float *bs = with_bias ? bias : NULL;
        dc_k_sgemm_own(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, bs);
        const double e = gemm_err(ta, tb, M, N, K, alpha, beta, A, lda, B, ldb, C0, C, ldc, bs);
        int untouched = 1;
        for (int64_t i = 0; i < M; i++)
            for (int64_t j = N; j < ldc; j++) untouched &= memcmp(&C[i * ldc + j], &C0[i * ldc + j], 4) == 0;
        CHECK(untouched);
        CHECK(e < 1e-5);
        if (!(e < 1e-5))
            fprintf(stderr, "  own gemm ta=%d tb=%d M=%lld N=%lld K=%lld alpha=%g beta=%g bias=%d: %.3g\n", ta, tb, (long long)M,
                    (long long)N, (long long)K, alpha, beta, with_bias, e);
        /* pieces: columns cut at 32 and 64, rows at 5 and 29 */
        memcpy(C2, C0, (size_t)(M * ldc) * 4);
        const int64_t cuts[] = {0, 32 < N ? 32 : N, 64 < N ? 64 : N, N};
        for (int p = 0; p < 3; p++)
            if (cuts[p + 1] > cuts[p])
                dc_k_sgemm_own(ta, tb, M, cuts[p + 1] - cuts[p], K, alpha, A, lda, tb ? B + cuts[p] * ldb : B + cuts[p], ldb, beta,
                               C2 + cuts[p], ldc, bs ? bs + cuts[p] : NULL);
        CHECK(memcmp(C, C2, (size_t)(M * ldc) * 4) == 0);
        memcpy(C2, C0, (size_t)(M * ldc) * 4);
        const int64_t rc[] = {0, 5 < M ? 5 : M, 29 < M ? 29 : M, M};
        for (int p = 0; p < 3; p++)
            if (rc[p + 1] > rc[p])
                dc_k_sgemm_own(ta, tb, rc[p + 1] - rc[p], N, K, alpha, ta ? A + rc[p] : A + rc[p] * lda, lda, B, ldb, beta,
                               C2 + rc[p] * ldc, ldc, bs);
        CHECK(memcmp(C, C2, (size_t)(M * ldc) * 4) == 0);
        if (tb) { /* B packed once, then by blocks of 32 columns */
            float *P = aligned_alloc(64, (dc_k_sgemm_packed_size(N, K) + 63) / 64 * 64);
            dc_k_sgemm_pack_b(N, K, B, ldb, P);
            memcpy(C2, C0, (size_t)(M * ldc) * 4);
            for (int64_t j0 = 0; j0 < N; j0 += 32)
                dc_k_sgemm_packed(ta, M, K, alpha, A, lda, P, j0, N - j0 < 32 ? N - j0 : 32, beta, C2, ldc, bs);
            CHECK(memcmp(C, C2, (size_t)(M * ldc) * 4) == 0);
            free(P);
        }
        free(A);
        free(B);
        free(bias);
        free(C0);
        free(C);
        free(C2);
    }
    /* through dc_k_gemm_bias on a shape the own kernel takes, at 1, 2 and 3 threads */
    const int64_t M = 64, N = 256, K = 784;
    /* DEEPC_SGEMM=openblas, off or 0 (ctest's test_precision_sgemm_off) sends it to OpenBLAS */
    const char *e = getenv("DEEPC_SGEMM");
    const bool off = e && (!strcmp(e, "openblas") || !strcmp(e, "off") || !strcmp(e, "0"));
    CHECK(dc_k_sgemm_own_applies(false, M, N, K) == !off);
    float *A = malloc((size_t)(M * K) * 4), *B = malloc((size_t)(N * K) * 4), *bias = malloc((size_t)N * 4);
    float *C[3];
    fill(A, M * K, &r);
    fill(B, N * K, &r);
    fill(bias, N, &r);
    for (int t = 0; t < 3; t++) {
        C[t] = malloc((size_t)(M * N) * 4);
        dc_set_threads(t + 1);
        dc_k_gemm_bias(false, true, M, N, K, 1, A, K, B, K, 0, C[t], N, bias, false);
    }
    dc_set_threads(0);
    CHECK(gemm_err(false, true, M, N, K, 1, 0, A, K, B, K, C[0], C[0], N, bias) < 1e-5);
    /* the same bits on every team through the own kernel (OpenBLAS's edge kernels round some
     * elements differently where a product is cut) */
    if (!off) CHECK(memcmp(C[0], C[1], (size_t)(M * N) * 4) == 0 && memcmp(C[0], C[2], (size_t)(M * N) * 4) == 0);
    for (int t = 0; t < 3; t++) free(C[t]);
    free(A);
    free(B);
    free(bias);
}

/* The bf16 kernel splits a thin product over threads (one slice of C each): the same bits at
 * 1, 2 and 3 threads, by columns and by rows (the shape's own choice, and rows asked for), with
 * every transpose. */
static void test_gemm_bf16_split(void) {
    if (!dc_k_bf16_available()) return;
    dc_rng r;
    dc_rng_seed(&r, 5);
    const int64_t sz[][3] = {{64, 256, 784}, {700, 40, 200}, {33, 100, 301}, {9, 1000, 64}};
    for (size_t s = 0; s < sizeof sz / sizeof sz[0]; s++)
        for (int t = 0; t < 4; t++) {
            const bool ta = t & 1, tb = t & 2;
            const int64_t M = sz[s][0], N = sz[s][1], K = sz[s][2];
            float *A = malloc((size_t)(M * K) * 4), *B = malloc((size_t)(K * N) * 4), *C[5];
            fill(A, M * K, &r);
            fill(B, K * N, &r);
            for (int k = 0; k < 5; k++) { /* 1, 2, 3 threads; 2 and 3 by rows */
                const int th = k < 3 ? k + 1 : k - 1;
                dc_set_threads(th);
                void *ws = malloc(dc_k_gemm_bf16_scratch(M, N, K));
                C[k] = malloc((size_t)(M * N) * 4);
                fill(C[k], M * N, &r);
                dc_k_gemm_bf16_ex(ta, tb, M, N, K, 1, A, ta ? M : K, B, tb ? K : N, 0, C[k], N, ws, k >= 3);
                free(ws);
            }
            for (int k = 1; k < 5; k++) CHECK(memcmp(C[0], C[k], (size_t)(M * N) * 4) == 0);
            for (int i = 0; i < 5; i++) free(C[i]);
            free(A);
            free(B);
        }
    dc_set_threads(0);
}

/* The split of a model's parameters over threads by their rows (dc_part_range): every element
 * on exactly one thread at 1-4 threads, a matrix cut at whole groups of 32 rows (those of the
 * GEMM splits), and the optimiser's update the same bits split so as evenly. */
static void test_param_part(void) {
    /* a Dense 256x784 weight, its bias, a 70x33 weight (padded to 16), a flat run */
    const dc_part_seg seg[] = {{0, 200704, 256, 784}, {200704, 256, 0, 1}, {200960, 2320, 70, 33}, {203280, 1000, 0, 1}};
    const int ns = 4;
    const int64_t n = 204280;
    unsigned char *hit = calloc((size_t)n, 1);
    for (int T = 1; T <= 4; T++) {
        memset(hit, 0, (size_t)n);
        for (int t = 0; t < T; t++)
            for (int s = 0; s < ns; s++) {
                int64_t lo, hi;
                dc_part_range(&seg[s], t, T, &lo, &hi);
                CHECK(lo >= seg[s].off && hi <= seg[s].off + seg[s].len && lo <= hi);
                if (s == 0 && t > 0) CHECK((lo - seg[s].off) % (32 * 784) == 0);
                for (int64_t i = lo; i < hi; i++) hit[i]++;
            }
        int64_t bad = 0;
        for (int64_t i = 0; i < n; i++) bad += hit[i] != 1;
        CHECK(bad == 0);
    }
    int64_t lo, hi;
    dc_part_range(&seg[0], 1, 2, &lo, &hi);
    CHECK(lo == 128 * 784 && hi == 200704); /* the forward's columns 128.. of a 256-wide split */
    free(hit);
    dc_rng r;
    dc_rng_seed(&r, 3);
    float *w0 = malloc((size_t)n * 4), *w1 = malloc((size_t)n * 4), *g = malloc((size_t)n * 4);
    fill(w0, n, &r);
    memcpy(w1, w0, (size_t)n * 4);
    dc_optimizer *a = dc_adam(1e-2f, 0.9f, 0.999f, 1e-7f), *b = dc_adam(1e-2f, 0.9f, 0.999f, 1e-7f);
    dc_set_threads(2);
    for (int step = 0; step < 3; step++) {
        fill(g, n, &r);
        CHECK(dc_optimizer_step(a, w0, g, n) == DC_OK);
        CHECK(dc_optimizer_step_part(b, w1, g, n, seg, ns) == DC_OK);
    }
    dc_set_threads(0);
    CHECK(memcmp(w0, w1, (size_t)n * 4) == 0);
    dc_optimizer_free(a);
    dc_optimizer_free(b);
    free(w0);
    free(w1);
    free(g);
}

/* loss = sum(f(x)^2) / 2 for a dense (linear) or conv op, in float32 and in bf16: outputs and
 * gradients agree to bf16 accuracy. */
static void op_case(bool conv) {
    dc_rng r;
    dc_rng_seed(&r, 11);
    /* every GEMM forward and backward large enough for the bf16 path (dc_k_gemm_bf16_applies) */
    dc_tensor *x = conv ? dc_tensor_new(4, (int64_t[]){3, 5, 9, 11}) : dc_tensor_new(2, (int64_t[]){40, 48});
    dc_tensor *w = conv ? dc_tensor_new(4, (int64_t[]){32, 5, 3, 3}) : dc_tensor_new(2, (int64_t[]){33, 48});
    dc_tensor *b = dc_tensor_new(1, (int64_t[]){conv ? 32 : 33});
    dc_tensor *p[3] = {x, w, b};
    for (int i = 0; i < 3; i++) {
        fill(dc_tensor_data(p[i]), dc_tensor_numel(p[i]), &r);
        dc_tensor_set_requires_grad(p[i], true);
    }
    float *res[2][4] = {{0}};
    int64_t nres[4];
    for (int prec = 0; prec < 2; prec++) {
        dc_ctx *c = dc_ctx_new();
        dc_ctx_set_mixed_precision(c, prec == 1);
        CHECK(dc_ctx_mixed_precision(c) == (prec == 1));
        dc_tensor *y = conv ? dc_conv2d(c, x, w, b, 1, 1, (int[]){1, 1, 1, 1}) : dc_linear(c, x, w, b);
        dc_tensor *loss = dc_sum(c, dc_mul(c, y, y));
        CHECK(loss && dc_backward(c, loss) == DC_OK);
        dc_tensor *outs[4] = {y, dc_tensor_grad(x), dc_tensor_grad(w), dc_tensor_grad(b)};
        for (int i = 0; i < 4; i++) {
            nres[i] = dc_tensor_numel(outs[i]);
            res[prec][i] = malloc((size_t)nres[i] * 4);
            memcpy(res[prec][i], dc_tensor_data(outs[i]), (size_t)nres[i] * 4);
        }
        for (int i = 0; i < 3; i++) dc_tensor_zero_grad(p[i]);
        dc_ctx_free(c);
    }
    for (int i = 0; i < 4; i++) {
        double num = 0, den = 0;
        for (int64_t j = 0; j < nres[i]; j++) {
            double d = res[1][i][j] - res[0][i][j];
            num += d * d;
            den += (double)res[0][i][j] * res[0][i][j];
        }
        double rel = sqrt(num / (den + 1e-30));
        /* bf16 keeps 8 significant bits: about 0.4% per operand, less after summation */
        CHECK(rel < 1e-2);
        if (dc_k_bf16_available()) CHECK(rel > 0); /* the bf16 path really ran */
        if (rel >= 1e-2) fprintf(stderr, "  %s output %d: relative difference %.3g\n", conv ? "conv" : "dense", i, rel);
        free(res[0][i]);
        free(res[1][i]);
    }
    for (int i = 0; i < 3; i++) dc_tensor_free(p[i]);
}

/* Two-class data: the class is the sign of a fixed linear function of the pixels. */
static void make_data(int64_t n, dc_tensor **x, dc_tensor **y) {
    dc_rng r;
    dc_rng_seed(&r, 3);
    *x = dc_tensor_new(4, (int64_t[]){n, 1, 12, 12});
    *y = dc_tensor_new(1, (int64_t[]){n});
    float *X = dc_tensor_data(*x), *Y = dc_tensor_data(*y);
    for (int64_t i = 0; i < n; i++) {
        double s = 0;
        for (int j = 0; j < 144; j++) {
            X[i * 144 + j] = dc_rng_normal(&r);
            s += X[i * 144 + j] * ((j % 12) < 6 ? 1 : -1) * ((j / 12) < 6 ? 1 : -0.5);
        }
        Y[i] = s > 0;
    }
}

/* Trains a small CNN with dropout; returns a copy of its parameters and the training accuracy. */
static float *train(bool bf16, const dc_tensor *x, const dc_tensor *y, int64_t *np, double *acc) {
    dc_model *m = dc_sequential();
    dc_model_set_seed(m, 99);
    CHECK(dc_model_set_mixed_precision(m, bf16) == DC_OK); /* before build: kept */
    dc_model_add(m, dc_input(3, (int64_t[]){1, 12, 12}));
    dc_model_add(m, dc_conv2d_layer(8, 3, 3, 1, DC_PAD_SAME, DC_ACT_RELU));
    dc_model_add(m, dc_max_pool2d_layer(2, 2, 0));
    dc_model_add(m, dc_flatten());
    dc_model_add(m, dc_dense(256, DC_ACT_RELU));
    dc_model_add(m, dc_dropout_layer(0.3f));
    dc_model_add(m, dc_dense(2, DC_ACT_SOFTMAX));
    dc_metric met[] = {DC_METRIC_ACCURACY};
    CHECK(dc_model_compile(m, dc_adam(1e-3f, 0.9f, 0.999f, 1e-8f), DC_LOSS_SPARSE_CCE, met, 1) == DC_OK);
    CHECK(dc_model_mixed_precision(m) == bf16);
    dc_fit_opts o = dc_fit_defaults();
    o.epochs = 3;
    o.batch_size = 128;
    o.verbose = 0;
    o.seed = 5;
    CHECK(dc_model_fit(m, x, y, &o, NULL) == DC_OK);
    double res[2] = {0, 0};
    CHECK(dc_model_evaluate(m, x, y, 256, res) == DC_OK);
    *acc = res[1];
    *np = dc_model_param_buffer_size(m);
    float *p = malloc((size_t)*np * 4);
    memcpy(p, dc_model_params(m), (size_t)*np * 4);
    dc_model_free(m);
    return p;
}

static void test_deterministic_training(void) {
    dc_set_threads(2);
    dc_tensor *x, *y;
    make_data(1024, &x, &y);
    double acc[2][2];
    float *p[2][2];
    int64_t np[2][2];
    for (int bf = 0; bf < 2; bf++)
        for (int run = 0; run < 2; run++) p[bf][run] = train(bf, x, y, &np[bf][run], &acc[bf][run]);
    for (int bf = 0; bf < 2; bf++) {
        CHECK(np[bf][0] == np[bf][1] && !memcmp(p[bf][0], p[bf][1], (size_t)np[bf][0] * 4));
        CHECK(acc[bf][0] == acc[bf][1]);
        CHECK(acc[bf][0] > 0.85);
    }
    /* mixed precision learns as well as float32 here */
    CHECK(fabs(acc[1][0] - acc[0][0]) < 0.03);
    printf("deterministic: float32 accuracy %.4f, bf16 %.4f (kernel %s)\n", acc[0][0], acc[1][0],
           dc_bf16_kernel_available() ? "avx512bf16" : "float32 fallback");
    if (dc_bf16_kernel_available()) CHECK(memcmp(p[0][0], p[1][0], (size_t)np[0][0] * 4) != 0);
    for (int bf = 0; bf < 2; bf++)
        for (int run = 0; run < 2; run++) free(p[bf][run]);
    dc_tensor_free(x);
    dc_tensor_free(y);
}

/* The forced float32 fallback: the mixed-precision GEMM is exactly the float32 one, and a
 * model with mixed precision on still trains. */
static void test_fallback(void) {
    bool had = dc_k_bf16_available();
    setenv("DEEPC_BF16_KERNEL", "off", 1);
    dc_k_bf16_force_fallback(false); /* decide again, from the environment */
    CHECK(!dc_bf16_kernel_available());
    dc_rng r;
    dc_rng_seed(&r, 5);
    float A[15 * 21], B[21 * 10], C[15 * 10], C32[15 * 10];
    fill(A, 15 * 21, &r);
    fill(B, 21 * 10, &r);
    char ws[8192];
    dc_k_gemm_bf16(false, false, 15, 10, 21, 1, A, 21, B, 10, 0, C, 10, ws);
    dc_k_gemm(false, false, 15, 10, 21, 1, A, 21, B, 10, 0, C32, 10);
    CHECK(!memcmp(C, C32, sizeof C));
    op_case(false);
    op_case(true);
    dc_tensor *x, *y;
    make_data(512, &x, &y);
    int64_t np;
    double acc;
    free(train(true, x, y, &np, &acc));
    CHECK(acc > 0.8);
    dc_tensor_free(x);
    dc_tensor_free(y);
    unsetenv("DEEPC_BF16_KERNEL");
    dc_k_bf16_force_fallback(false);
    CHECK(dc_bf16_kernel_available() == had);
}

static void test_threads_env(void) {
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    const char *bad[] = {"abc", "0", "-3", "2x", "", " ", "99999999999999999999", "1025"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        setenv("DEEPC_THREADS", bad[i], 1);
        dc_set_threads(0);
        CHECK(dc_get_threads() == (cores < 1024 ? cores : 1024));
    }
    setenv("DEEPC_THREADS", "1", 1);
    dc_set_threads(0);
    CHECK(dc_get_threads() == 1);
    setenv("DEEPC_THREADS", "3", 1);
    dc_set_threads(0);
    CHECK(dc_get_threads() == 3);
    dc_set_threads(2);
    CHECK(dc_get_threads() == 2);
    setenv("DEEPC_THREADS", "2", 1);
}

static void test_api_errors(void) {
    CHECK_ERR(dc_model_set_mixed_precision(NULL, true), DC_ERR_ARG, "NULL");
    CHECK(!dc_model_mixed_precision(NULL));
    dc_model *m = dc_sequential();
    CHECK(!dc_model_mixed_precision(m));
    CHECK(dc_model_set_mixed_precision(m, true) == DC_OK && dc_model_mixed_precision(m));
    CHECK(dc_model_set_mixed_precision(m, false) == DC_OK && !dc_model_mixed_precision(m));
    dc_model_free(m);
    dc_ctx_set_mixed_precision(NULL, true);
    CHECK(!dc_ctx_mixed_precision(NULL));
}

int main(void) {
    printf("bf16 kernel: %s\n", dc_bf16_kernel_available() ? "avx512bf16" : "float32 fallback");
    test_rounding();
    test_gemm();
    test_gemm_split();
    test_sgemm_own();
    test_gemm_bf16_split();
    test_param_part();
    op_case(false);
    op_case(true);
    test_api_errors();
    test_threads_env();
    test_deterministic_training();
    test_fallback();
    return check_report("test_precision");
}
