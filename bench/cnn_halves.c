/* How much any split of the CNN's training step over two threads could gain on this machine:
 * the step of the CNN benchmark (bench/cnn_fashion.c's model, Adam, batch 32) on one thread,
 * against two threads that each train a copy of their own on 16 rows at the same time, sharing
 * nothing (no reduction, no barrier inside a step). That pair is data parallelism over threads
 * with its communication free; the ratio of the one-thread 32-row step to the pair's 16-row step
 * bounds what splitting the step can reach. Random images (the data does not change the time).
 * Median of `reps` timings of `steps` steps each, interleaved; one JSON line per figure.
 *   cnn_halves [reps (5)] [steps (300)] */
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>

#include "cnn_model.h"
#include "deepc.h"


typedef struct job {
    dc_model *m;
    dc_tensor *x, *y;
} job;

static job make_job(int64_t rows, uint64_t seed) {
    job j = {cnn_bench_model(false, "cnn_halves"), dc_tensor_new(4, (int64_t[]){rows, 1, 28, 28}), dc_tensor_new(1, (int64_t[]){rows})};
    dc_rng r;
    dc_rng_seed(&r, seed);
    for (int64_t i = 0; i < dc_tensor_numel(j.x); i++) dc_tensor_data(j.x)[i] = dc_rng_uniform(&r);
    for (int64_t i = 0; i < rows; i++) dc_tensor_data(j.y)[i] = (float)(i % 10);
    return j;
}

static int steps;

/* Seconds per step of `steps` steps. */
static double run(job *j) {
    double t0 = dc_now();
    for (int s = 0; s < steps; s++)
        if (dc_model_train_step(j->m, j->x, j->y, NULL)) {
            fprintf(stderr, "cnn_halves: %s\n", dc_last_error());
            exit(1);
        }
    return (dc_now() - t0) / steps;
}


int main(int argc, char **argv) {
    int reps = argc > 1 ? atoi(argv[1]) : 5;
    steps = argc > 2 ? atoi(argv[2]) : 300;
    if (reps <= 0 || steps <= 0) {
        fprintf(stderr, "usage: cnn_halves [reps > 0] [steps > 0]\n");
        return 2;
    }
    dc_set_threads(1); /* every step on one thread: inside the pair's region each is alone */
    job whole = make_job(32, 1), alone = make_job(16, 2), half[2] = {make_job(16, 3), make_job(16, 4)};
    double *t32 = calloc((size_t)reps, sizeof(double)), *t16 = calloc((size_t)reps, sizeof(double)),
           *tp = calloc((size_t)reps, sizeof(double));
    int saved = steps;
    steps = 50; /* warm-up: pages, buffers, the thread pool */
    run(&whole);
    run(&alone);
#pragma omp parallel num_threads(2)
    run(&half[omp_get_thread_num()]);
    steps = saved;
    for (int r = 0; r < reps; r++) {
        t32[r] = run(&whole);
        t16[r] = run(&alone);
        double both[2];
#pragma omp parallel num_threads(2)
        both[omp_get_thread_num()] = run(&half[omp_get_thread_num()]);
        tp[r] = both[0] > both[1] ? both[0] : both[1]; /* the pair's step ends with the slower */
    }
    qsort(t32, (size_t)reps, sizeof *t32, cmp_double);
    qsort(t16, (size_t)reps, sizeof *t16, cmp_double);
    qsort(tp, (size_t)reps, sizeof *tp, cmp_double);
    double a = t32[reps / 2], b = t16[reps / 2], p = tp[reps / 2];
    printf("{\"workload\": \"cnn_halves\", \"metric\": \"step_us_32_rows_1_thread\", \"value\": %.1f, \"reps\": %d}\n", 1e6 * a, reps);
    printf("{\"workload\": \"cnn_halves\", \"metric\": \"step_us_16_rows_1_thread\", \"value\": %.1f, \"reps\": %d}\n", 1e6 * b, reps);
    printf("{\"workload\": \"cnn_halves\", \"metric\": \"step_us_16_rows_2_concurrent\", \"value\": %.1f, \"reps\": %d}\n", 1e6 * p, reps);
    printf("{\"workload\": \"cnn_halves\", \"metric\": \"bound_speedup\", \"value\": %.3f, \"reps\": %d}\n", a / p, reps);
    printf("32 rows on 1 thread %.0f us a step; 16 rows alone %.0f us (%.2f of it); two 16-row copies at once %.0f us: "
           "splitting the step over 2 threads gains at most %.2fx here\n",
           1e6 * a, 1e6 * b, b / a, 1e6 * p, a / p);
    return 0;
}
