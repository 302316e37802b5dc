/* Benchmark W1: MLP 784-256-relu-128-relu-10 on Fashion-MNIST, Adam 1e-3, batch 64, 3 epochs,
 * after one throw-away warm-up epoch from the same initial weights (as the PyTorch peer does).
 * Prints one JSON line per figure, like ../shared/peers/mlp_fashion.py. DEEPC_BF16=1 trains in
 * mixed precision (bf16 GEMMs, float32 weights); its lines then carry "precision": "bf16".
 * The data are datasets over the IDX files (fmnist_data.h: uint8 until a batch is gathered).
 *   mlp_fashion [FMNIST_DIR] [epochs] [seed] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "deepc.h"
#include "fmnist_data.h"

static uint64_t seed = 1234;
static bool bf16;
static const char *W = "\"workload\": \"W1_mlp_fmnist\"";

static dc_model *make_model(void) {
    dc_model *m = dc_sequential();
    dc_model_set_seed(m, seed);
    dc_model_set_mixed_precision(m, bf16);
    dc_model_add(m, dc_input(1, (int64_t[]){784}));
    dc_model_add(m, dc_dense(256, DC_ACT_RELU));
    dc_model_add(m, dc_dense(128, DC_ACT_RELU));
    dc_model_add(m, dc_dense(10, DC_ACT_SOFTMAX));
    dc_metric met[] = {DC_METRIC_ACCURACY};
    if (dc_model_compile(m, dc_adam(1e-3f, 0.9f, 0.999f, 1e-8f), DC_LOSS_SPARSE_CCE, met, 1)) {
        fprintf(stderr, "mlp_fashion: %s\n", dc_last_error());
        exit(1);
    }
    return m;
}

int main(int argc, char **argv) {
    const char *dir = argc > 1 ? argv[1] : (getenv("FMNIST_DIR") ? getenv("FMNIST_DIR") : "/usr/share/datasets/fashion-mnist");
    int epochs = argc > 2 ? atoi(argv[2]) : 3;
    if (argc > 3) seed = strtoull(argv[3], NULL, 10);
    const char *e = getenv("DEEPC_BF16");
    bf16 = e && !strcmp(e, "1");
    if (bf16) W = "\"workload\": \"W1_mlp_fmnist\", \"precision\": \"bf16\"";
    if (epochs <= 0) {
        fprintf(stderr, "usage: mlp_fashion [FMNIST_DIR] [epochs > 0] [seed]\n");
        return 2;
    }
    int64_t row[1] = {784};
    dc_dataset *train = fmnist_dataset(dir, true, 1, row, "mlp_fashion"), *test = fmnist_dataset(dir, false, 1, row, "mlp_fashion");
    bench_run_info(stdout, "W1_mlp_fmnist");

    dc_fit_opts o = dc_fit_defaults();
    o.batch_size = 64;
    o.verbose = 0;
    o.seed = 999;
    long smoke = bench_steps();
    dc_callback smoke_cb = {.on_batch_end = stop_after, .user = &smoke}, *smoke_cbs[] = {&smoke_cb};
    if (smoke > 0) o.callbacks = smoke_cbs, o.ncallbacks = 1;
    /* warm-up: one epoch on a throw-away model with the same initial weights */
    dc_model *warm = make_model();
    o.epochs = 1;
    double t0 = dc_now();
    dc_model_fit_dataset(warm, train, NULL, &o, NULL);
    printf("{%s, \"metric\": \"warmup_seconds\", \"value\": %.4f, \"threads\": %d}\n",
           W, dc_now() - t0, dc_get_threads());
    dc_model_free(warm);

    dc_model *m = make_model();
    o.seed = 1234;
    double total = 0, cpu = 0; /* cpu: the process's CPU seconds, all threads */
    for (int ep = 0; ep < epochs; ep++) {
        o.epochs = 1;
        o.seed = 1234 + (uint64_t)ep;
        dc_history *h = NULL;
        t0 = dc_now();
        clock_t c0 = clock();
        if (dc_model_fit_dataset(m, train, NULL, &o, &h)) {
            fprintf(stderr, "mlp_fashion: %s\n", dc_last_error());
            return 1;
        }
        double t = dc_now() - t0;
        cpu += (double)(clock() - c0) / CLOCKS_PER_SEC;
        total += t;
        printf("{%s, \"metric\": \"epoch_seconds\", \"epoch\": %d, \"value\": %.4f, "
               "\"train_loss\": %.4f, \"threads\": %d}\n",
               W, ep + 1, t, dc_history_get(h, "loss")[0], dc_get_threads());
        dc_history_free(h);
    }
    printf("{%s, \"metric\": \"mean_epoch_seconds\", \"value\": %.4f, \"epochs\": %d, "
           "\"params\": %lld}\n",
           W, total / epochs, epochs, (long long)dc_model_param_count(m));
    printf("{%s, \"metric\": \"mean_epoch_cpu_seconds\", \"value\": %.4f, \"epochs\": %d}\n", W, cpu / epochs, epochs);
    bench_rss_line(stdout, W, "train");
    double res[2];
    dc_model_evaluate_dataset(m, test, 1000, res);
    printf("{%s, \"metric\": \"test_accuracy\", \"value\": %.4f, \"epochs\": %d}\n", W, res[1], epochs);
    bench_rss_line(stdout, W, "evaluate");
    printf("test_accuracy=%.4f\n", res[1]);
    dc_model_free(m);
    dc_dataset_free(train);
    dc_dataset_free(test);
    return 0;
}
