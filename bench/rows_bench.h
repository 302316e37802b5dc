/* The benchmark loop shared by the Fashion-MNIST row workloads (each image as 28 steps of 28
 * features): load the IDX files, a throw-away warm-up of `warm` steps on a fresh model, then
 * timed epochs, test accuracy; one JSON line per measurement, as the PyTorch peers print them.
 * A program defines its model and calls rows_bench_main. */
#ifndef DC_BENCH_ROWS_H
#define DC_BENCH_ROWS_H

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "deepc.h"

static const char *bench_prog = "bench";
/* the initial weights' seed (make_model reads it) and the base of the epochs' shuffle seeds */
static uint64_t bench_seed = 1234;

static dc_tensor *load(const char *dir, const char *name, bool images) {
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    dc_tensor *t = dc_idx_load(path, images);
    if (!t) {
        fprintf(stderr, "%s: %s\n", bench_prog, dc_last_error());
        exit(1);
    }
    return t;
}

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
    dc_tensor *xtr = load(dir, "train-images-idx3-ubyte.gz", true), *ytr = load(dir, "train-labels-idx1-ubyte.gz", false);
    dc_tensor *xte = load(dir, "t10k-images-idx3-ubyte.gz", true), *yte = load(dir, "t10k-labels-idx1-ubyte.gz", false);
    char w[128];
    snprintf(w, sizeof w, "\"workload\": \"%s\"", workload);
    dc_fit_opts o = dc_fit_defaults();
    o.batch_size = 64;
    o.verbose = 0;
    o.epochs = 1;
    if (warm > 0) {
        int64_t n = warm * 64 < dc_tensor_dim(xtr, 0) ? warm * 64 : dc_tensor_dim(xtr, 0);
        dc_tensor *xs = dc_tensor_from(3, (int64_t[]){n, 28, 28}, dc_tensor_data(xtr));
        dc_tensor *ys = dc_tensor_from(1, (int64_t[]){n}, dc_tensor_data(ytr));
        dc_model *wm = make_model();
        double t0 = dc_now();
        dc_model_fit(wm, xs, ys, &o, NULL);
        printf("{%s, \"metric\": \"warmup_seconds\", \"value\": %.4f, \"steps\": %ld}\n", w, dc_now() - t0, warm);
        dc_model_free(wm);
        dc_tensor_free(xs);
        dc_tensor_free(ys);
    }
    dc_model *m = make_model();
    double total = 0, cpu = 0; /* cpu: the process's CPU seconds, all threads */
    for (int ep = 0; ep < epochs; ep++) {
        o.seed = bench_seed + (uint64_t)ep;
        dc_history *h = NULL;
        double t0 = dc_now();
        clock_t c0 = clock();
        if (dc_model_fit(m, xtr, ytr, &o, &h)) {
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
    double res[2];
    dc_model_evaluate(m, xte, yte, 1000, res);
    printf("{%s, \"metric\": \"test_accuracy\", \"value\": %.4f, \"epochs\": %d}\n", w, res[1], epochs);
    printf("test_accuracy=%.4f\n", res[1]);
    dc_model_free(m);
    dc_tensor *all[] = {xtr, ytr, xte, yte};
    for (int i = 0; i < 4; i++) dc_tensor_free(all[i]);
    return 0;
}

#endif
