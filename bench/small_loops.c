/* Benchmark: the XOR (2-4-1 sigmoid, full-batch SGD, 2000 epochs) and Iris (4-16 tanh-3,
 * mini-batch 16 SGD with L2, 200 epochs over 105 rows) training loops; peers/small_loops.py
 * runs the same loops in PyTorch. Prints the median seconds of 5 runs as JSON lines. */
#include <stdio.h>
#include <stdlib.h>

#include "deepc.h"

static double median5(double *v) {
    for (int i = 0; i < 5; i++)
        for (int j = i + 1; j < 5; j++)
            if (v[j] < v[i]) {
                double t = v[i];
                v[i] = v[j];
                v[j] = t;
            }
    return v[2];
}

static double run(dc_model *m, dc_tensor *x, dc_tensor *y, int epochs, int64_t batch, bool shuffle, double *loss) {
    dc_fit_opts o = dc_fit_defaults();
    o.epochs = epochs;
    o.batch_size = batch;
    o.shuffle = shuffle;
    o.verbose = 0;
    dc_history *h = NULL;
    double t0 = dc_now();
    if (dc_model_fit(m, x, y, &o, &h)) {
        fprintf(stderr, "small_loops: %s\n", dc_last_error());
        exit(1);
    }
    double t = dc_now() - t0;
    *loss = dc_history_get(h, "loss")[epochs - 1];
    dc_history_free(h);
    return t;
}

int main(int argc, char **argv) {
    const char *iris = argc > 1 ? argv[1] : "data/iris.csv";
    double tx[5], ti[5], lx = 0, li = 0;
    const float X[] = {0, 0, 0, 1, 1, 0, 1, 1}, Y[] = {0, 1, 1, 0};
    dc_tensor *x = dc_tensor_from(2, (int64_t[]){4, 2}, X), *y = dc_tensor_from(2, (int64_t[]){4, 1}, Y);
    dc_csv_opts co = dc_csv_defaults();
    co.skip_rows = 1;
    dc_tensor *ix, *iy, *xtr, *ytr, *xte, *yte;
    if (dc_csv_load(iris, &co, &ix, &iy) || dc_train_test_split(ix, iy, 0.3f, 7, &xtr, &ytr, &xte, &yte)) {
        fprintf(stderr, "small_loops: %s\n", dc_last_error());
        return 1;
    }
    for (int r = 0; r < 5; r++) {
        dc_model *m = dc_sequential();
        dc_model_add(m, dc_input(1, (int64_t[]){2}));
        dc_model_add(m, dc_dense(4, DC_ACT_SIGMOID));
        dc_model_add(m, dc_dense(1, DC_ACT_SIGMOID));
        dc_model_compile(m, dc_sgd(2.0f, 0.9f, false), DC_LOSS_MSE, NULL, 0);
        tx[r] = run(m, x, y, 2000, 4, false, &lx);
        dc_model_free(m);
        m = dc_sequential();
        dc_model_add(m, dc_input(1, (int64_t[]){4}));
        dc_model_add(m, dc_dense(16, DC_ACT_TANH));
        dc_model_add(m, dc_dense(3, DC_ACT_SOFTMAX));
        dc_optimizer *opt = dc_sgd(0.05f, 0, false);
        dc_optimizer_set_weight_decay(opt, 1e-3f);
        dc_model_compile(m, opt, DC_LOSS_SPARSE_CCE, NULL, 0);
        ti[r] = run(m, xtr, ytr, 200, 16, true, &li);
        dc_model_free(m);
    }
    printf("{\"workload\": \"xor\", \"metric\": \"train_seconds\", \"value\": %.5f, \"steps\": 2000, \"final_loss\": %.5f}\n",
           median5(tx), lx);
    printf("{\"workload\": \"iris\", \"metric\": \"train_seconds\", \"value\": %.5f, \"steps\": 1400, \"final_loss\": %.5f}\n",
           median5(ti), li);
    dc_tensor *all[] = {x, y, ix, iy, xtr, ytr, xte, yte};
    for (int i = 0; i < 8; i++) dc_tensor_free(all[i]);
    return 0;
}
