/* OpenBLAS's own thread scaling, the ceiling for deepc's: SGEMM n x n x n GFLOPS at each thread
 * count given, interleaved (1 2 1 2 ...), best of `reps` per count; and the same product in
 * mixed precision (deepc's bf16 GEMM) for comparison. Both through dc_matmul without a graph
 * (float32 dc_matmul is one cblas_sgemm call). One JSON line per figure.
 *   sgemm_threads [n (2048)] [reps (3)] [thread counts (1 2)] */
#include <stdio.h>
#include <stdlib.h>

#include "deepc.h"

int main(int argc, char **argv) {
    int64_t n = argc > 1 ? atoll(argv[1]) : 2048;
    int reps = argc > 2 ? atoi(argv[2]) : 3;
    int nt = argc > 3 ? argc - 3 : 2, deft[2] = {1, 2}, *threads = malloc((size_t)nt * sizeof(int));
    for (int i = 0; i < nt; i++) threads[i] = argc > 3 ? atoi(argv[3 + i]) : deft[i];
    if (n <= 0 || reps <= 0) {
        fprintf(stderr, "usage: sgemm_threads [n > 0] [reps > 0] [thread counts]\n");
        return 2;
    }
    dc_tensor *a = dc_tensor_new(2, (int64_t[]){n, n}), *b = dc_tensor_new(2, (int64_t[]){n, n});
    float *A = dc_tensor_data(a), *B = dc_tensor_data(b);
    dc_rng r;
    dc_rng_seed(&r, 1);
    for (int64_t i = 0; i < n * n; i++) A[i] = dc_rng_uniform(&r) - 0.5f, B[i] = dc_rng_uniform(&r) - 0.5f;
    dc_ctx *ctx[2] = {dc_ctx_new(), dc_ctx_new()}; /* float32, mixed precision */
    dc_ctx_set_mixed_precision(ctx[1], true);
    for (int k = 0; k < 2; k++) dc_ctx_set_grad(ctx[k], false);
    double *best = calloc((size_t)(2 * nt), sizeof(double));
    for (int kind = 0; kind < 2; kind++) /* warm-up: pages, OpenBLAS buffers, thread pool */
        for (int i = 0; i < nt; i++) {
            dc_set_threads(threads[i]);
            dc_ctx_reset(ctx[kind]);
            dc_matmul(ctx[kind], a, b);
        }
    for (int rep = 0; rep < reps; rep++)
        for (int i = 0; i < nt; i++)
            for (int kind = 0; kind < 2; kind++) {
                dc_set_threads(threads[i]);
                dc_ctx_reset(ctx[kind]);
                double t0 = dc_now();
                dc_matmul(ctx[kind], a, b);
                double g = 2.0 * (double)n * n * n / (dc_now() - t0) / 1e9;
                if (g > best[2 * i + kind]) best[2 * i + kind] = g;
            }
    for (int i = 0; i < nt; i++)
        for (int kind = 0; kind < 2; kind++)
            printf("{\"workload\": \"%s_%lld\", \"metric\": \"gflops\", \"value\": %.2f, \"threads\": %d, \"reps\": %d%s}\n",
                   kind ? "gemm_bf16" : "sgemm", (long long)n, best[2 * i + kind], threads[i], reps,
                   kind && !dc_bf16_kernel_available() ? ", \"fallback\": \"float32\"" : "");
    for (int k = 0; k < 2; k++) dc_ctx_free(ctx[k]);
    dc_tensor_free(a);
    dc_tensor_free(b);
    free(best);
    free(threads);
    return 0;
}
