/* The matrix products of one training epoch of the MLP (W1), CNN (W2) and LSTM (W3) benchmarks, timed
 * alone through OpenBLAS at the configured thread count: the time an epoch cannot go below
 * while its products run at OpenBLAS's rate, however little the rest of the step costs.
 *
 * Usage: build/bench/gemm_floor [reps]   (DEEPC_THREADS=1 for the 1-thread floor)
 * Prints one JSON line per product and per workload, then key=value lines:
 *   w1_gemm_floor_seconds, w2_gemm_floor_seconds, w3_gemm_floor_seconds (per epoch) and
 *   sgemm_1024_gflops.
 * Each product is timed as the median of `reps` samples of enough calls to take 20 ms, in the
 * row-major form deepc's Dense layer calls (y = x W^T, dW = dy^T x, dx = dy W). The CNN's
 * convolution runs deepc's direct kernel, not a GEMM, and is not in its floor; the LSTM's
 * element-wise gate arithmetic is not in its floor either. */
#include "deepc.h"

#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>

typedef struct {
    const char *what;
    bool ta, tb;
    int M, N, K;
} product;

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* seconds per call, median over reps samples */
static double time_product(const product *p, int reps) {
    const int64_t na = (int64_t)p->M * p->K, nb = (int64_t)p->K * p->N, nc = (int64_t)p->M * p->N;
    float *A = malloc((size_t)na * sizeof(float)), *B = malloc((size_t)nb * sizeof(float)), *C = calloc((size_t)nc, sizeof(float));
    if (!A || !B || !C) {
        fprintf(stderr, "gemm_floor: out of memory\n");
        exit(1);
    }
    for (int64_t i = 0; i < na; i++) A[i] = (float)(i % 17) * 0.01f;
    for (int64_t i = 0; i < nb; i++) B[i] = (float)(i % 13) * 0.01f;
    const int lda = p->ta ? p->M : p->K, ldb = p->tb ? p->K : p->N;
    double *s = malloc((size_t)reps * sizeof(double));
    int calls = 1;
    for (;;) { /* calls per sample: about 20 ms */
        double t0 = dc_now();
        for (int c = 0; c < calls; c++)
            cblas_sgemm(CblasRowMajor, p->ta ? CblasTrans : CblasNoTrans, p->tb ? CblasTrans : CblasNoTrans, p->M, p->N, p->K, 1.0f,
                        A, lda, B, ldb, 0.0f, C, p->N);
        if (dc_now() - t0 > 0.02 || calls > (1 << 20)) break;
        calls *= 2;
    }
    for (int r = 0; r < reps; r++) {
        double t0 = dc_now();
        for (int c = 0; c < calls; c++)
            cblas_sgemm(CblasRowMajor, p->ta ? CblasTrans : CblasNoTrans, p->tb ? CblasTrans : CblasNoTrans, p->M, p->N, p->K, 1.0f,
                        A, lda, B, ldb, 1.0f, C, p->N);
        s[r] = (dc_now() - t0) / calls;
    }
    qsort(s, (size_t)reps, sizeof *s, cmp_double);
    double med = s[reps / 2];
    free(s), free(A), free(B), free(C);
    return med;
}

/* one workload: its products per step (each `times` times), steps per epoch; returns the
 * epoch's floor in seconds */
static double workload(const char *name, const product *ps, const int *times, int n, double steps, int reps) {
    double step = 0, flops = 0;
    for (int i = 0; i < n; i++) {
        double t = time_product(&ps[i], reps), f = 2.0 * ps[i].M * ps[i].N * ps[i].K;
        printf("{\"workload\": \"%s\", \"product\": \"%s\", \"M\": %d, \"N\": %d, \"K\": %d, \"times\": %d, \"us\": %.2f, "
               "\"gflops\": %.1f}\n",
               name, ps[i].what, ps[i].M, ps[i].N, ps[i].K, times ? times[i] : 1, t * 1e6, f / t * 1e-9);
        step += t * (times ? times[i] : 1), flops += f * (times ? times[i] : 1);
    }
    printf("{\"workload\": \"%s\", \"metric\": \"gemm_floor\", \"step_us\": %.1f, \"steps\": %.1f, \"epoch_seconds\": %.4f, "
           "\"gflops\": %.1f}\n",
           name, step * 1e6, steps, step * steps, flops / step * 1e-9);
    return step * steps;
}

int main(int argc, char **argv) {
    int reps = argc > 1 ? atoi(argv[1]) : 7;
    if (reps < 1) {
        fprintf(stderr, "usage: gemm_floor [reps > 0]\n");
        return 2;
    }
    openblas_set_num_threads(dc_get_threads());
    /* W1: 784-256-128-10, batch 64; the first layer has no input gradient */
    static const product w1[] = {
        {"dense1 forward", false, true, 64, 256, 784},  {"dense1 weight grad", true, false, 256, 784, 64},
        {"dense2 forward", false, true, 64, 128, 256},  {"dense2 weight grad", true, false, 128, 256, 64},
        {"dense2 input grad", false, false, 64, 256, 128}, {"dense3 forward", false, true, 64, 10, 128},
        {"dense3 weight grad", true, false, 10, 128, 64}, {"dense3 input grad", false, false, 64, 128, 10},
    };
    /* W2: Dense 5408 -> 128 -> 10 after the convolution, batch 32 */
    static const product w2[] = {
        {"dense1 forward", false, true, 32, 128, 5408},  {"dense1 weight grad", true, false, 128, 5408, 32},
        {"dense1 input grad", false, false, 32, 5408, 128}, {"dense2 forward", false, true, 32, 10, 128},
        {"dense2 weight grad", true, false, 10, 128, 32}, {"dense2 input grad", false, false, 32, 128, 10},
    };
    /* W3: LSTM(128) over 28 rows of 28 pixels, batch 64, then Dense 10: the input projection of
     * all steps at once (no input gradient: the first layer), the recurrent product and its two
     * gradients at each of the 28 steps */
    static const product w3[] = {
        {"input projection", false, true, 64 * 28, 512, 28}, {"input weight grad", true, false, 512, 28, 64 * 28},
        {"recurrent forward", false, true, 64, 512, 128},    {"recurrent weight grad", true, false, 512, 128, 64},
        {"recurrent state grad", false, false, 64, 128, 512}, {"dense forward", false, true, 64, 10, 128},
        {"dense weight grad", true, false, 10, 128, 64},      {"dense input grad", false, false, 64, 128, 10},
    };
    static const int w3_times[] = {1, 1, 28, 28, 28, 1, 1, 1};
    static const product big = {"sgemm 1024^3", false, false, 1024, 1024, 1024};
    double t = time_product(&big, reps);
    double f1 = workload("W1_mlp_fmnist", w1, NULL, (int)(sizeof w1 / sizeof w1[0]), 60000.0 / 64, reps);
    double f2 = workload("W2_cnn_fmnist", w2, NULL, (int)(sizeof w2 / sizeof w2[0]), 60000.0 / 32, reps);
    double f3 = workload("W3_lstm_fmnist_rows", w3, w3_times, (int)(sizeof w3 / sizeof w3[0]), 60000.0 / 64, reps);
    printf("sgemm_1024_gflops=%.1f\nw1_gemm_floor_seconds=%.4f\nw2_gemm_floor_seconds=%.4f\nw3_gemm_floor_seconds=%.4f\nthreads=%d\n",
           2.0 * 1024 * 1024 * 1024 / t * 1e-9, f1, f2, f3, dc_get_threads());
    return 0;
}
