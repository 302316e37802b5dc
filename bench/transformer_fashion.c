/* Benchmark W4: a small Transformer encoder over Fashion-MNIST rows (28 tokens x 28 features):
 * Dense(64) + learned positions, 2 post-norm encoder layers (4 heads, feed-forward 128, ReLU,
 * dropout 0.1), mean over tokens, Dense 10; Adam 1e-3, batch 64, one epoch after a 100-step
 * throw-away warm-up, as ../shared/peers/transformer_fashion.py.
 *   transformer_fashion [FMNIST_DIR] [epochs (1)] [warm-up steps (100)] */
#include <stdio.h>
#include <stdlib.h>

#include "deepc.h"

static dc_tensor *load(const char *dir, const char *name, bool images) {
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    dc_tensor *t = dc_idx_load(path, images);
    if (!t) {
        fprintf(stderr, "transformer_fashion: %s\n", dc_last_error());
        exit(1);
    }
    return t;
}

static dc_model *make_model(void) {
    dc_model *m = dc_sequential();
    dc_model_set_seed(m, 1234);
    dc_model_add(m, dc_input(2, (int64_t[]){28, 28}));
    dc_model_add(m, dc_dense(64, DC_ACT_NONE));
    dc_model_add(m, dc_positional_embedding_layer(28, true));
    for (int i = 0; i < 2; i++) dc_model_add(m, dc_transformer_encoder_layer(4, 128, 0.1f, DC_ACT_RELU, false, false));
    dc_model_add(m, dc_global_avg_pool1d_layer());
    dc_model_add(m, dc_dense(10, DC_ACT_SOFTMAX));
    dc_metric met[] = {DC_METRIC_ACCURACY};
    if (dc_model_compile(m, dc_adam(1e-3f, 0.9f, 0.999f, 1e-8f), DC_LOSS_SPARSE_CCE, met, 1)) {
        fprintf(stderr, "transformer_fashion: %s\n", dc_last_error());
        exit(1);
    }
    return m;
}

int main(int argc, char **argv) {
    const char *dir = argc > 1 ? argv[1] : (getenv("FMNIST_DIR") ? getenv("FMNIST_DIR") : "/usr/share/datasets/fashion-mnist");
    int epochs = argc > 2 ? atoi(argv[2]) : 1;
    long warm = argc > 3 ? atol(argv[3]) : 100;
    if (epochs <= 0 || warm < 0) {
        fprintf(stderr, "usage: transformer_fashion [FMNIST_DIR] [epochs > 0] [warm-up steps >= 0]\n");
        return 2;
    }
    dc_tensor *xtr = load(dir, "train-images-idx3-ubyte.gz", true), *ytr = load(dir, "train-labels-idx1-ubyte.gz", false);
    dc_tensor *xte = load(dir, "t10k-images-idx3-ubyte.gz", true), *yte = load(dir, "t10k-labels-idx1-ubyte.gz", false);
    const char *w = "\"workload\": \"W4_transformer_fmnist_rows\"";
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
    double total = 0;
    for (int ep = 0; ep < epochs; ep++) {
        o.seed = 1234 + (uint64_t)ep;
        dc_history *h = NULL;
        double t0 = dc_now();
        if (dc_model_fit(m, xtr, ytr, &o, &h)) {
            fprintf(stderr, "transformer_fashion: %s\n", dc_last_error());
            return 1;
        }
        double t = dc_now() - t0;
        total += t;
        printf("{%s, \"metric\": \"epoch_seconds\", \"epoch\": %d, \"value\": %.4f, \"train_loss\": %.4f, \"threads\": %d}\n", w,
               ep + 1, t, dc_history_get(h, "loss")[0], dc_get_threads());
        dc_history_free(h);
    }
    printf("{%s, \"metric\": \"mean_epoch_seconds\", \"value\": %.4f, \"epochs\": %d, \"params\": %lld}\n", w, total / epochs,
           epochs, (long long)dc_model_param_count(m));
    double res[2];
    dc_model_evaluate(m, xte, yte, 1000, res);
    printf("{%s, \"metric\": \"test_accuracy\", \"value\": %.4f, \"epochs\": %d}\n", w, res[1], epochs);
    printf("test_accuracy=%.4f\n", res[1]);
    dc_model_free(m);
    dc_tensor *all[] = {xtr, ytr, xte, yte};
    for (int i = 0; i < 4; i++) dc_tensor_free(all[i]);
    return 0;
}
