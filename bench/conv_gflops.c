/* How close the convolution runs to the machine's limit: GFLOP/s of deepc's conv2d forward +
 * backward (input and weight gradients) on given shapes, next to OpenBLAS's SGEMM GFLOP/s on a
 * large square product, at the same thread count, in one run. Medians of 7 repetitions.
 *   conv_gflops [threads] */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>

#include "deepc.h"

static int cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double sgemm_gflops(int n) {
    float *a = calloc((size_t)n * n, 4), *b = calloc((size_t)n * n, 4), *c = calloc((size_t)n * n, 4);
    for (int i = 0; i < n * n; i++) a[i] = b[i] = 0.001f * (float)(i % 97);
    double t[7];
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1, a, n, b, n, 0, c, n);
    for (int r = 0; r < 7; r++) {
        double t0 = dc_now();
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1, a, n, b, n, 0, c, n);
        t[r] = dc_now() - t0;
    }
    qsort(t, 7, sizeof t[0], cmp);
    free(a);
    free(b);
    free(c);
    return 2.0 * n * n * (double)n / t[3] * 1e-9;
}

/* forward + weight gradient (+ input gradient when input_grad) of one conv layer */
static double conv_gflops(int64_t N, int64_t C, int64_t H, int64_t F, int k, bool input_grad) {
    dc_rng rng;
    dc_rng_seed(&rng, 1);
    dc_tensor *x = dc_tensor_new(4, (int64_t[]){N, C, H, H}), *w = dc_tensor_new(4, (int64_t[]){F, C, k, k});
    dc_tensor *b = dc_tensor_new(1, (int64_t[]){F});
    dc_tensor_init(x, DC_INIT_NORMAL, 1.0f, &rng);
    dc_tensor_init(w, DC_INIT_NORMAL, 0.1f, &rng);
    dc_tensor_set_requires_grad(w, true);
    dc_tensor_set_requires_grad(b, true);
    if (input_grad) dc_tensor_set_requires_grad(x, true);
    dc_ctx *c = dc_ctx_new();
    double t[7];
    int64_t OH = H - k + 1;
    for (int r = -1; r < 7; r++) {
        double t0 = dc_now();
        dc_ctx_reset(c);
        dc_tensor *y = dc_conv2d(c, x, w, b, 1, 1, NULL);
        dc_tensor *l = dc_sum(c, y);
        dc_backward(c, l);
        if (r >= 0) t[r] = dc_now() - t0;
    }
    qsort(t, 7, sizeof t[0], cmp);
    double flops = 2.0 * (double)(N * F * C * k * k * OH * OH) * (input_grad ? 3 : 2);
    dc_ctx_free(c);
    dc_tensor_free(x);
    dc_tensor_free(w);
    dc_tensor_free(b);
    return flops / t[3] * 1e-9;
}

int main(int argc, char **argv) {
    if (argc > 1) dc_set_threads(atoi(argv[1]));
    int th = dc_get_threads();
    double peak = sgemm_gflops(1536);
    printf("{\"workload\": \"sgemm_1536\", \"metric\": \"gflops\", \"value\": %.1f, \"threads\": %d}\n", peak, th);
    struct {
        const char *name;
        int64_t N, C, H, F;
        int k;
        bool ig;
    } cases[] = {{"conv_1x28x28_to_32_3x3_b32 (the CNN's layer)", 32, 1, 28, 32, 3, false},
                 {"conv_32x26x26_to_64_3x3_b32", 32, 32, 26, 64, 3, true},
                 {"conv_64x56x56_to_128_3x3_b8", 8, 64, 56, 128, 3, true}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        double g = conv_gflops(cases[i].N, cases[i].C, cases[i].H, cases[i].F, cases[i].k, cases[i].ig);
        printf("{\"workload\": \"%s\", \"metric\": \"gflops_fwd_bwd\", \"value\": %.1f, \"fraction_of_sgemm\": %.2f, "
               "\"threads\": %d}\n",
               cases[i].name, g, g / peak, th);
    }
    return 0;
}
