/* Benchmark W1: MLP 784-256-relu-128-relu-10 on Fashion-MNIST, Adam 1e-3, batch 64, 3 epochs,
 * after one throw-away warm-up epoch from the same initial weights (as the PyTorch peer does).
 * Prints one JSON line per figure, like ../shared/peers/mlp_fashion.py. DEEPC_BF16=1 trains in
 * mixed precision (bf16 GEMMs, float32 weights); its lines then carry "precision": "bf16".
 *   mlp_fashion [FMNIST_DIR] [epochs] [seed] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "deepc.h"

static dc_tensor *load(const char *dir, const char *name) {
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    dc_tensor *t = dc_idx_load(path, strstr(name, "images") != NULL);
    if (!t) fprintf(stderr, "mlp_fashion: %s\n", dc_last_error());
    return t;
}

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
    dc_tensor *xtr = load(dir, "train-images-idx3-ubyte.gz"), *ytr = load(dir, "train-labels-idx1-ubyte.gz");
    dc_tensor *xte = load(dir, "t10k-images-idx3-ubyte.gz"), *yte = load(dir, "t10k-labels-idx1-ubyte.gz");
    if (!xtr || !ytr || !xte || !yte) return 1;
    int64_t ntr = dc_tensor_dim(xtr, 0), nte = dc_tensor_dim(xte, 0);
    dc_tensor *Xtr = dc_tensor_from(2, (int64_t[]){ntr, 784}, dc_tensor_data(xtr));
    dc_tensor *Xte = dc_tensor_from(2, (int64_t[]){nte, 784}, dc_tensor_data(xte));

    dc_fit_opts o = dc_fit_defaults();
    o.batch_size = 64;
    o.verbose = 0;
    o.seed = 999;
    /* warm-up: one epoch on a throw-away model with the same initial weights */
    dc_model *warm = make_model();
    o.epochs = 1;
    double t0 = dc_now();
    dc_model_fit(warm, Xtr, ytr, &o, NULL);
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
        if (dc_model_fit(m, Xtr, ytr, &o, &h)) {
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
    double res[2];
    dc_model_evaluate(m, Xte, yte, 1000, res);
    printf("{%s, \"metric\": \"test_accuracy\", \"value\": %.4f, \"epochs\": %d}\n", W, res[1], epochs);
    printf("test_accuracy=%.4f\n", res[1]);
    dc_model_free(m);
    dc_tensor *all[] = {xtr, ytr, xte, yte, Xtr, Xte};
    for (int i = 0; i < 6; i++) dc_tensor_free(all[i]);
    return 0;
}
