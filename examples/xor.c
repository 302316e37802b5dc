/* XOR learned by a 2-4-1 sigmoid network with full-batch gradient descent. */
#include <stdio.h>

#include "deepc.h"

int main(void) {
    const float X[] = {0, 0, 0, 1, 1, 0, 1, 1}, Y[] = {0, 1, 1, 0};
    dc_tensor *x = dc_tensor_from(2, (int64_t[]){4, 2}, X), *y = dc_tensor_from(2, (int64_t[]){4, 1}, Y);
    dc_model *m = dc_sequential();
    dc_model_set_seed(m, 3);
    dc_model_add(m, dc_input(1, (int64_t[]){2}));
    dc_model_add(m, dc_dense(4, DC_ACT_SIGMOID));
    dc_model_add(m, dc_dense(1, DC_ACT_SIGMOID));
    if (dc_model_compile(m, dc_sgd(2.0f, 0.9f, false), DC_LOSS_MSE, NULL, 0)) {
        fprintf(stderr, "xor: %s\n", dc_last_error());
        return 1;
    }
    dc_model_summary(m, stdout);
    dc_fit_opts o = dc_fit_defaults();
    o.epochs = 2000;
    o.batch_size = 4;
    o.shuffle = false;
    o.verbose = 0;
    dc_history *h = NULL;
    if (dc_model_fit(m, x, y, &o, &h)) {
        fprintf(stderr, "xor: %s\n", dc_last_error());
        return 1;
    }
    const double *loss = dc_history_get(h, "loss");
    for (int e = 0; e < o.epochs; e += 400) printf("epoch %4d  loss %.6f\n", e + 1, loss[e]);
    dc_tensor *p = dc_model_predict(m, x, 4);
    for (int i = 0; i < 4; i++)
        printf("%g XOR %g -> %.4f\n", (double)X[2 * i], (double)X[2 * i + 1], (double)dc_tensor_data(p)[i]);
    double res[1];
    dc_model_evaluate(m, x, y, 4, res);
    printf("final_loss=%.6f\n", res[0]);
    int rc = res[0] < 0.01 ? 0 : 1;
    dc_tensor_free(p);
    dc_history_free(h);
    dc_model_free(m);
    dc_tensor_free(x);
    dc_tensor_free(y);
    return rc;
}
