/* The Elementwise layer (one function of every element; ONNX's Neg, Abs, Exp, Log, Sqrt,
 * Reciprocal, Pow, Clip, Softplus, Softsign, Selu, Celu, HardSigmoid, HardSwish, Erf,
 * ThresholdedRelu, Sin and Cos import as it) against PyTorch 1.13's float64 outputs and
 * gradients of sum(y * gy) (tests/golden/elementwise, made by
 * scripts/golden/gen_golden_elementwise.py), its gradient against central differences, its
 * options through a model file, and its errors. */
#include "check.h"
#include "golden_io.h"
#include "nn/layer.h"

#include <unistd.h>

#define GOLDEN_DIR "tests/golden/elementwise"

/* An Elementwise layer of operation index op with alpha and beta. */
static dc_layer *ew_layer(int op, double alpha, double beta) {
    const dc_layer_type *t = dc_layer_type_find("Elementwise");
    dc_layer *l = t ? dc_layer_create(t) : NULL;
    double v = op;
    if (l && (dc_layer_set_field(l, "op", &v, 1) || dc_layer_set_num(l, "alpha", alpha) || dc_layer_set_num(l, "beta", beta))) {
        dc_layer_free(l);
        return NULL;
    }
    return l;
}

static double loss_of(dc_model *m, dc_ctx *ctx, dc_tensor *x, dc_tensor *gy, bool grad) {
    dc_ctx_reset(ctx);
    dc_ctx_set_grad(ctx, grad);
    dc_tensor *y = dc_model_forward(m, ctx, x, true);
    dc_tensor *l = y ? dc_sum(ctx, dc_mul(ctx, y, gy)) : NULL;
    if (!l || (grad && dc_backward(ctx, l))) return NAN;
    return dc_tensor_data(l)[0];
}

/* Central differences of every input element against backward: the worst relative error. */
static double gradcheck(dc_model *m, dc_tensor *x, dc_tensor *gy) {
    const float eps = 1e-2f;
    dc_ctx *ctx = dc_ctx_new();
    dc_tensor_zero_grad(x);
    double w = isnan(loss_of(m, ctx, x, gy, true)) ? INFINITY : 0;
    float *v = dc_tensor_data(x);
    dc_tensor *g = dc_tensor_grad(x);
    const float *gv = g ? dc_tensor_data(g) : NULL;
    if (!gv) w = INFINITY;
    for (int64_t i = 0; gv && i < dc_tensor_numel(x); i++) {
        float keep = v[i];
        v[i] = keep + eps;
        double lp = loss_of(m, ctx, x, gy, false);
        v[i] = keep - eps;
        double lm = loss_of(m, ctx, x, gy, false);
        v[i] = keep;
        double num = (lp - lm) / (2.0 * eps);
        w = fmax(w, fabs(num - gv[i]) / (1.0 + fabs(num)));
    }
    dc_ctx_free(ctx);
    return w;
}

static double worst_fd;

static void run_case(gcase *c) {
    const gt_tensor *cfg = need(c, "cfg");
    dc_tensor *x = load_tensor(c, "x0", true), *gy = load_tensor(c, "gy", false);
    dc_model *m = NULL;
    dc_ctx *ctx = dc_ctx_new();
    if (!cfg || !x || !gy || !ctx) goto done;
    m = dc_sequential();
    dc_layer *l = ew_layer((int)cfg->v[0], cfg->v[1], cfg->v[2]);
    if (!l || dc_model_add(m, l) || dc_model_build(m, dc_tensor_ndim(x) - 1, dc_tensor_shape(x) + 1)) {
        fail_dc(c, "building the model");
        goto done;
    }
    dc_ctx_set_grad(ctx, true);
    dc_tensor *y = dc_model_forward(m, ctx, x, true);
    compare_tensor(c, "y", y);
    dc_tensor *lo = y ? dc_sum(ctx, dc_mul(ctx, y, gy)) : NULL;
    if (!lo || dc_backward(ctx, lo)) {
        fail_dc(c, "backward");
        goto done;
    }
    compare_tensor(c, "dx0", dc_tensor_grad(x));
    /* the options survive a model file: the reloaded model gives the same output */
    char path[128];
    snprintf(path, sizeof path, "/tmp/test_golden_elementwise_%d.safetensors", (int)getpid());
    dc_model *back = dc_model_save(m, path) ? NULL : dc_model_load(path);
    remove(path);
    if (!back) fail_dc(c, "save and load");
    else {
        dc_ctx_reset(ctx);
        dc_ctx_set_grad(ctx, false);
        compare_tensor(c, "y", dc_model_forward(back, ctx, x, false));
        dc_model_free(back);
    }
    double fd = gradcheck(m, x, gy);
    worst_fd = fmax(worst_fd, fd);
    if (!(fd <= 1e-2)) cfail(c, "finite differences: worst relative error %.3g", fd);
done:
    dc_ctx_free(ctx);
    dc_model_free(m);
    dc_tensor_free(x);
    dc_tensor_free(gy);
}

int main(void) {
    FILE *f = fopen(GOLDEN_DIR "/cases.list", "r");
    CHECK(f != NULL);
    char line[128];
    int n = 0, failed = 0;
    while (f && fgets(line, sizeof line, f)) {
        line[strcspn(line, "\r\n")] = 0;
        if (!line[0]) continue;
        gcase c;
        if (case_open(&c, GOLDEN_DIR, line)) run_case(&c);
        failed += case_close(&c);
        n++;
    }
    if (f) fclose(f);
    printf("%d of %d golden cases failed; worst finite-difference relative error %.3g\n", failed, n, worst_fd);
    check_count += n;
    check_fails += failed;
    CHECK(n >= 18);
    /* bad options are errors naming the layer and the numbers */
    double v = 99;
    dc_layer *l = ew_layer(0, 0, 0);
    CHECK(l != NULL);
    CHECK_ERR(dc_layer_set_field(l, "op", &v, 1), DC_ERR_ARG, "op");
    dc_layer_free(l);
    dc_model *m = dc_sequential();
    CHECK(dc_model_add(m, ew_layer(11, 0, 0)) == DC_OK); /* celu with alpha 0 */
    CHECK_ERR(dc_model_build(m, 1, (int64_t[]){3}), DC_ERR_ARG, "celu", "alpha");
    dc_model_free(m);
    m = dc_sequential();
    CHECK(dc_model_add(m, ew_layer(7, 2, 1)) == DC_OK); /* clip from 2 to 1 */
    CHECK_ERR(dc_model_build(m, 1, (int64_t[]){3}), DC_ERR_ARG, "clip", "2", "1");
    dc_model_free(m);
    return check_report("test_golden_elementwise");
}
