/* The documents' larger image classifier on 224x224x3 inputs:
 *   [Conv2D(k, 3x3, relu) -> MaxPooling2D(2x2)] for k = 32, 64, 128 -> Flatten -> Dense(128, relu)
 *   -> Dense(10, softmax)
 * Builds it, prints the summary (Keras's parameter counts), and runs training steps on random
 * images, since no 224x224 data set ships with Debian. Usage: image_classifier [batch (8)] [steps (2)] */
#include <stdio.h>
#include <stdlib.h>

#include "deepc.h"

int main(int argc, char **argv) {
    int64_t batch = argc > 1 ? atoll(argv[1]) : 8;
    int steps = argc > 2 ? atoi(argv[2]) : 2;
    if (batch <= 0 || steps <= 0) {
        fprintf(stderr, "usage: image_classifier [batch > 0] [steps > 0]\n");
        return 2;
    }
    dc_model *m = dc_sequential();
    dc_model_add(m, dc_input(3, (int64_t[]){3, 224, 224}));
    const int64_t filters[] = {32, 64, 128};
    for (int i = 0; i < 3; i++) {
        dc_model_add(m, dc_conv2d_layer(filters[i], 3, 3, 1, DC_PAD_VALID, DC_ACT_RELU));
        dc_model_add(m, dc_max_pool2d_layer(2, 2, 0));
    }
    dc_model_add(m, dc_flatten());
    dc_model_add(m, dc_dense(128, DC_ACT_RELU));
    dc_model_add(m, dc_dense(10, DC_ACT_SOFTMAX));
    dc_metric met[] = {DC_METRIC_ACCURACY};
    if (dc_model_compile(m, dc_adam(1e-3f, 0.9f, 0.999f, 1e-7f), DC_LOSS_SPARSE_CCE, met, 1)) {
        fprintf(stderr, "image_classifier: %s\n", dc_last_error());
        return 1;
    }
    dc_model_summary(m, stdout);

    dc_rng rng;
    dc_rng_seed(&rng, 1);
    dc_tensor *x = dc_tensor_new(4, (int64_t[]){batch, 3, 224, 224}), *y = dc_tensor_new(1, (int64_t[]){batch});
    for (int64_t i = 0; i < dc_tensor_numel(x); i++) dc_tensor_data(x)[i] = dc_rng_uniform(&rng);
    for (int64_t i = 0; i < batch; i++) dc_tensor_data(y)[i] = (float)dc_rng_below(&rng, 10);
    float loss = 0;
    for (int s = 0; s < steps; s++) {
        double t0 = dc_now();
        if (dc_model_train_step(m, x, y, &loss)) {
            fprintf(stderr, "image_classifier: %s\n", dc_last_error());
            return 1;
        }
        printf("step %d: loss %.4f, %.2fs\n", s + 1, (double)loss, dc_now() - t0);
    }
    printf("params=%lld\nfinal_loss=%.4f\n", (long long)dc_model_param_count(m), (double)loss);
    int rc = dc_model_param_count(m) == 11170250 ? 0 : 1;
    dc_tensor_free(x);
    dc_tensor_free(y);
    dc_model_free(m);
    return rc;
}
