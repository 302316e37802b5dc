/* 8x8 handwritten digits: a Keras-style MLP with a summary, per-epoch progress, validation,
 * a test accuracy, the history as CSV and the learning curves as SVG. The trained model is saved
 * with the test set as NumPy files, for `deepc evaluate` (tools/deepc.c) to score again.
 * Usage: digits_mlp [--bf16] [digits.csv.gz] [output dir]; --bf16 trains in mixed precision. */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "deepc.h"

static int fail(const char *what) {
    fprintf(stderr, "digits_mlp: %s: %s\n", what, dc_last_error());
    return 1;
}

int main(int argc, char **argv) {
    /* --bf16 anywhere on the command line: mixed precision (bf16 GEMMs, float32 weights) */
    bool bf16 = false;
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--bf16")) {
            bf16 = true;
            memmove(argv + i, argv + i + 1, (size_t)(argc - i) * sizeof *argv);
            argc--;
            i--;
        }
    const char *path = argc > 1 ? argv[1] : "data/digits.csv.gz";
    const char *outdir = argc > 2 ? argv[2] : "out";
    mkdir(outdir, 0755);

    dc_tensor *x, *y, *xtr, *ytr, *xte, *yte;
    dc_csv_opts co = dc_csv_defaults(); /* 64 pixel columns, the label last */
    if (dc_csv_load(path, &co, &x, &y)) return fail("load");
    printf("loaded %s: %lld images of %lld pixels\n", path, (long long)dc_tensor_dim(x, 0), (long long)dc_tensor_dim(x, 1));
    if (dc_train_test_split(x, y, 0.2f, 42, &xtr, &ytr, &xte, &yte)) return fail("split");
    dc_scaler *sc = dc_minmax_scaler_fit(xtr); /* pixels 0..16 -> [0, 1] */
    if (!sc || dc_scaler_apply(sc, xtr) || dc_scaler_apply(sc, xte)) return fail("normalise");

    dc_model *m = dc_sequential();
    if (bf16) {
        dc_model_set_mixed_precision(m, true);
        printf("mixed precision: bf16 GEMMs (%s)\n", dc_bf16_kernel_available() ? "AVX512-BF16 kernel" : "no AVX512-BF16 here: float32");
    }
    dc_model_add(m, dc_input(1, (int64_t[]){64}));
    dc_model_add(m, dc_dense(128, DC_ACT_RELU));
    dc_model_add(m, dc_dropout_layer(0.2f));
    dc_model_add(m, dc_dense(64, DC_ACT_RELU));
    dc_model_add(m, dc_dense(10, DC_ACT_SOFTMAX));
    dc_metric met[] = {DC_METRIC_ACCURACY};
    if (dc_model_compile(m, dc_adam(1e-3f, 0.9f, 0.999f, 1e-7f), DC_LOSS_SPARSE_CCE, met, 1)) return fail("compile");
    dc_model_summary(m, stdout);

    dc_fit_opts o = dc_fit_defaults();
    o.epochs = 30;
    o.batch_size = 32;
    o.validation_split = 0.1f;
    dc_history *h = NULL;
    if (dc_model_fit(m, xtr, ytr, &o, &h)) return fail("fit");

    double res[2];
    if (dc_model_evaluate(m, xte, yte, 256, res)) return fail("evaluate");
    char csv[512], svg[512];
    snprintf(csv, sizeof csv, "%s/digits_history.csv", outdir);
    snprintf(svg, sizeof svg, "%s/digits_curves.svg", outdir);
    if (dc_history_write_csv(h, csv)) return fail("history");
    if (dc_plot_history_svg(h, svg, "MLP on 8x8 digits")) return fail("plot");
    char model[512], tx[512], ty[512];
    snprintf(model, sizeof model, "%s/digits_mlp.safetensors", outdir);
    snprintf(tx, sizeof tx, "%s/digits_test_x.npy", outdir);
    snprintf(ty, sizeof ty, "%s/digits_test_y.npy", outdir);
    if (dc_model_save(m, model) || dc_npy_save(tx, xte, DC_DTYPE_F32) || dc_npy_save(ty, yte, DC_DTYPE_U8)) return fail("save");
    printf("history: %s\nlearning curves: %s\nmodel: %s (test set: %s, %s)\n", csv, svg, model, tx, ty);
    printf("test_loss=%.4f\ntest_accuracy=%.4f\n", res[0], res[1]);
    int rc = res[1] >= 0.95 ? 0 : 1;
    dc_history_free(h);
    dc_model_free(m);
    dc_scaler_free(sc);
    dc_tensor *all[] = {x, y, xtr, ytr, xte, yte};
    for (int i = 0; i < 6; i++) dc_tensor_free(all[i]);
    return rc;
}
