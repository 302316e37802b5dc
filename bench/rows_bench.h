/* The benchmark loop shared by the Fashion-MNIST row workloads (each image as 28 steps of 28
 * features): the IDX files as datasets (fmnist_data.h: uint8 until a batch is gathered), a
 * throw-away warm-up of `warm` steps on a fresh model, then timed epochs, test accuracy; one
 * JSON line per measurement, as the PyTorch peers print them, after a run_info line.
 * A program defines its model and calls rows_bench_main. */
#ifndef DC_BENCH_ROWS_H
#define DC_BENCH_ROWS_H

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "deepc.h"
#include "fmnist_data.h"

static const char *bench_prog = "bench";
/* the initial weights' seed (make_model reads it) and the base of the epochs' shuffle seeds */
static uint64_t bench_seed = 1234;

/* Compiles a model for the row workloads: sparse cross-entropy, accuracy, Adam 1e-3. */
static dc_model *rows_compile(dc_model *m) {
    dc_metric met[] = {DC_METRIC_ACCURACY};
    if (dc_model_compile(m, dc_adam(1e-3f, 0.9f, 0.999f, 1e-8f), DC_LOSS_SPARSE_CCE, met, 1)) {
        fprintf(stderr, "%s: %s\n", bench_prog, dc_last_error());
        exit(1);
    }
    return m;
}

/*   PROG [FMNIST_DIR] [epochs (1)] [warm-up steps (100)] [seed (1234)] */
static int rows_bench_main(int argc, char **argv, const char *prog, const char *workload, dc_model *(*make_model)(void)) {
    bench_prog = prog;
    const char *dir = argc > 1 ? argv[1] : (getenv("FMNIST_DIR") ? getenv("FMNIST_DIR") : "/usr/share/datasets/fashion-mnist");
    int epochs = argc > 2 ? atoi(argv[2]) : 1;
    long warm = argc > 3 ? atol(argv[3]) : 100;
    if (argc > 4) bench_seed = strtoull(argv[4], NULL, 10);
    if (epochs <= 0 || warm < 0) {
        fprintf(stderr, "usage: %s [FMNIST_DIR] [epochs > 0] [warm-up steps >= 0] [seed]\n", prog);
        return 2;
    }
    int64_t rows[2] = {28, 28};
    dc_dataset *train = fmnist_dataset(dir, true, 2, rows, prog), *test = fmnist_dataset(dir, false, 2, rows, prog);
    char w[128];
    snprintf(w, sizeof w, "\"workload\": \"%s\"", workload);
    bench_run_info(stdout, workload);
    dc_fit_opts o = dc_fit_defaults();
    o.batch_size = 64;
    o.verbose = 0;
    o.epochs = 1;
    long smoke = bench_steps();
    dc_callback smoke_cb = {.on_batch_end = stop_after, .user = &smoke}, *smoke_cbs[] = {&smoke_cb};
    if (smoke > 0) o.callbacks = smoke_cbs, o.ncallbacks = 1, warm = warm < smoke ? warm : smoke;
    if (warm > 0) { /* the first `warm` batches of an epoch, on a model thrown away afterwards */
        dc_callback stop = {.on_batch_end = stop_after, .user = &warm}, *cbs[] = {&stop};
        dc_fit_opts ow = o;
        ow.callbacks = cbs;
        ow.ncallbacks = 1;
        dc_model *wm = make_model();
        double t0 = dc_now();
        dc_model_fit_dataset(wm, train, NULL, &ow, NULL);
        printf("{%s, \"metric\": \"warmup_seconds\", \"value\": %.4f, \"steps\": %ld}\n", w, dc_now() - t0, warm);
        dc_model_free(wm);
    }
    dc_model *m = make_model();
    double total = 0, cpu = 0; /* cpu: the process's CPU seconds, all threads */
    for (int ep = 0; ep < epochs; ep++) {
        o.seed = bench_seed + (uint64_t)ep;
        dc_history *h = NULL;
        double t0 = dc_now();
        clock_t c0 = clock();
        if (dc_model_fit_dataset(m, train, NULL, &o, &h)) {
            fprintf(stderr, "%s: %s\n", prog, dc_last_error());
            return 1;
        }
        double t = dc_now() - t0;
        cpu += (double)(clock() - c0) / CLOCKS_PER_SEC;
        total += t;
        printf("{%s, \"metric\": \"epoch_seconds\", \"epoch\": %d, \"value\": %.4f, \"train_loss\": %.4f, \"threads\": %d}\n", w,
               ep + 1, t, dc_history_get(h, "loss")[0], dc_get_threads());
        dc_history_free(h);
    }
    printf("{%s, \"metric\": \"mean_epoch_seconds\", \"value\": %.4f, \"epochs\": %d, \"params\": %lld}\n", w, total / epochs,
           epochs, (long long)dc_model_param_count(m));
    printf("{%s, \"metric\": \"mean_epoch_cpu_seconds\", \"value\": %.4f, \"epochs\": %d}\n", w, cpu / epochs, epochs);
    bench_rss_line(stdout, w, "train");
    double res[2];
    /* at the training batch: evaluate's chunks then fit in the arena the training steps grew,
     * where chunks of 256 rows of the attention workload would add half as much again */
    dc_model_evaluate_dataset(m, test, 64, res);
    printf("{%s, \"metric\": \"test_accuracy\", \"value\": %.4f, \"epochs\": %d}\n", w, res[1], epochs);
    bench_rss_line(stdout, w, "evaluate");
    printf("test_accuracy=%.4f\n", res[1]);
    dc_model_free(m);
    dc_dataset_free(train);
    dc_dataset_free(test);
    return 0;
}

#endif
