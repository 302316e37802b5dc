/* The documents' CNN on Fashion-MNIST, as ../shared/peers/cnn_fashion.py builds it, shared by
 * the benchmarks that time it (cnn_fashion.c, cnn_halves.c): Conv2D(32, 3x3) relu, MaxPool 2x2,
 * Flatten, Dense 128 relu, Dropout 0.5, Dense 10; Adam 1e-3, sparse cross-entropy, accuracy;
 * weights from seed 1234. Exits with the error on failure. */
#ifndef DC_BENCH_CNN_MODEL_H
#define DC_BENCH_CNN_MODEL_H

#include <stdio.h>
#include <stdlib.h>

#include "deepc.h"

static dc_model *cnn_bench_model(bool bf16, const char *prog) {
    dc_model *m = dc_sequential();
    dc_model_set_mixed_precision(m, bf16);
    dc_model_set_seed(m, 1234);
    dc_model_add(m, dc_input(3, (int64_t[]){1, 28, 28}));
    dc_model_add(m, dc_conv2d_layer(32, 3, 3, 1, DC_PAD_VALID, DC_ACT_RELU));
    dc_model_add(m, dc_max_pool2d_layer(2, 2, 0));
    dc_model_add(m, dc_flatten());
    dc_model_add(m, dc_dense(128, DC_ACT_RELU));
    dc_model_add(m, dc_dropout_layer(0.5f));
    dc_model_add(m, dc_dense(10, DC_ACT_SOFTMAX));
    dc_metric met[] = {DC_METRIC_ACCURACY};
    if (dc_model_compile(m, dc_adam(1e-3f, 0.9f, 0.999f, 1e-8f), DC_LOSS_SPARSE_CCE, met, 1)) {
        fprintf(stderr, "%s: %s\n", prog, dc_last_error());
        exit(1);
    }
    return m;
}

/* qsort order of doubles, for medians */
static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

#endif
