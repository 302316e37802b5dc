/* Iris: a 4-16(tanh)-3 network trained with mini-batch SGD and L2 regularisation,
 * evaluated on a held-out 30% of the flowers. */
#include <stdio.h>

#include "deepc.h"

static int fail(const char *what) {
    fprintf(stderr, "iris: %s: %s\n", what, dc_last_error());
    return 1;
}

int main(int argc, char **argv) {
    const char *path = argc > 1 ? argv[1] : "data/iris.csv";
    dc_csv_opts co = dc_csv_defaults();
    co.skip_rows = 1; /* "150,4,setosa,versicolor,virginica" */
    dc_tensor *x, *y, *xtr, *ytr, *xte, *yte;
    if (dc_csv_load(path, &co, &x, &y)) return fail("load");
    if (dc_train_test_split(x, y, 0.3f, 7, &xtr, &ytr, &xte, &yte)) return fail("split");
    dc_scaler *sc = dc_standard_scaler_fit(xtr);
    if (!sc || dc_scaler_apply(sc, xtr) || dc_scaler_apply(sc, xte)) return fail("standardise");

    dc_model *m = dc_sequential();
    dc_model_add(m, dc_input(1, (int64_t[]){4}));
    dc_model_add(m, dc_dense(16, DC_ACT_TANH));
    dc_model_add(m, dc_dense(3, DC_ACT_SOFTMAX));
    dc_optimizer *opt = dc_sgd(0.05f, 0.0f, false);
    dc_optimizer_set_weight_decay(opt, 1e-3f);
    dc_metric met[] = {DC_METRIC_ACCURACY};
    if (dc_model_compile(m, opt, DC_LOSS_SPARSE_CCE, met, 1)) return fail("compile");
    dc_model_summary(m, stdout);

    dc_fit_opts o = dc_fit_defaults();
    o.epochs = 200;
    o.batch_size = 16;
    o.verbose = 0;
    dc_history *h = NULL;
    if (dc_model_fit(m, xtr, ytr, &o, &h)) return fail("fit");
    const double *loss = dc_history_get(h, "loss"), *acc = dc_history_get(h, "accuracy");
    for (int e = 0; e < o.epochs; e += 40) printf("epoch %3d  loss %.4f  accuracy %.4f\n", e + 1, loss[e], acc[e]);
    double res[2];
    if (dc_model_evaluate(m, xte, yte, 64, res)) return fail("evaluate");
    printf("test_loss=%.4f\ntest_accuracy=%.4f\n", res[0], res[1]);
    int rc = res[1] >= 0.93 ? 0 : 1;
    dc_history_free(h);
    dc_model_free(m);
    dc_scaler_free(sc);
    dc_tensor *all[] = {x, y, xtr, ytr, xte, yte};
    for (int i = 0; i < 6; i++) dc_tensor_free(all[i]);
    return rc;
}
