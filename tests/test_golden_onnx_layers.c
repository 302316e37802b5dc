/* The general tensor layers that ONNX import builds graphs from (Arithmetic, ValueArithmetic,
 * MatMul, Slice, Reduce) against PyTorch 1.13's float64 outputs and gradients of sum(y * gy)
 * (tests/golden/onnx_layers, made by scripts/golden/gen_golden_onnx_layers.py), and their
 * gradients against central differences; model files keep their options. */
#include "check.h"
#include "golden_io.h"

#include <unistd.h>

#define GOLDEN_DIR "tests/golden/onnx_layers"

/* The layer a case's cfg describes. */
static dc_layer *make_layer(gcase *c, const gt_tensor *cfg, const gt_tensor *value) {
    const double *v = cfg->v;
    switch ((int)v[0]) {
    case 0: return dc_arithmetic_layer((dc_arith_op)v[1]);
    case 1: {
        int64_t sh[DC_MAX_DIMS];
        for (int i = 0; i < value->ndim; i++) sh[i] = value->shape[i];
        return dc_arithmetic_value_layer((dc_arith_op)v[1], value->ndim, sh, v[2] != 0, true);
    }
    case 2: return dc_matmul_layer();
    case 3: return dc_slice_layer((int)v[1], (int64_t)v[2], (int64_t)v[3]);
    case 4: {
        int axes[DC_MAX_DIMS];
        int n = (int)cfg->numel - 3;
        for (int i = 0; i < n; i++) axes[i] = (int)v[3 + i];
        return dc_reduce_layer((dc_reduce_op)v[1], n, axes, v[2] != 0);
    }
    }
    cfail(c, "unknown kind %g", v[0]);
    return NULL;
}

/* A graph model of the case's layer on its inputs x0 (and x1), the layer named "L". */
static dc_model *make_model(gcase *c, dc_tensor **x, int nx) {
    const gt_tensor *cfg = need(c, "cfg");
    if (!cfg) return NULL;
    dc_model *m = dc_sequential();
    int in[2];
    for (int i = 0; i < nx; i++) in[i] = dc_model_input(m, NULL, dc_tensor_ndim(x[i]) - 1, dc_tensor_shape(x[i]) + 1);
    dc_layer *l = make_layer(c, cfg, gt_find(&c->gf, "p_value"));
    if (l) dc_layer_set_name(l, "L");
    if (!l || dc_model_apply(m, l, nx, in) < 0 || dc_model_build(m, 0, NULL)) {
        fail_dc(c, "building the model");
        dc_model_free(m);
        return NULL;
    }
    return m;
}

/* sum(forward(x) * gy) with or without gradients. */
static double loss_of(dc_model *m, dc_ctx *ctx, dc_tensor **x, int nx, dc_tensor *gy, bool grad) {
    dc_ctx_reset(ctx);
    dc_ctx_set_grad(ctx, grad);
    dc_tensor *y = dc_model_forward_masked(m, ctx, nx, x, NULL, true);
    dc_tensor *l = y ? dc_sum(ctx, dc_mul(ctx, y, gy)) : NULL;
    if (!l || (grad && dc_backward(ctx, l))) return NAN;
    return dc_tensor_data(l)[0];
}

/* Central differences of every input and parameter element against backward. */
static double gradcheck(dc_model *m, dc_tensor **x, int nx, dc_tensor *gy) {
    const float eps = 1e-2f;
    dc_ctx *ctx = dc_ctx_new();
    dc_tensor *p = dc_model_param(m, "L.value");
    dc_tensor *all[3] = {x[0], nx > 1 ? x[1] : p, nx > 1 ? p : NULL};
    for (int k = 0; k < nx; k++) dc_tensor_zero_grad(x[k]);
    dc_model_zero_grad(m);
    double w = isnan(loss_of(m, ctx, x, nx, gy, true)) ? INFINITY : 0;
    for (int k = 0; k < 3 && all[k]; k++) {
        float *v = dc_tensor_data(all[k]);
        dc_tensor *g = dc_tensor_grad(all[k]);
        float *gv = g ? dc_tensor_data(g) : NULL;
        if (!gv) return INFINITY;
        for (int64_t i = 0; i < dc_tensor_numel(all[k]); i++) {
            float keep = v[i];
            v[i] = keep + eps;
            double lp = loss_of(m, ctx, x, nx, gy, false);
            v[i] = keep - eps;
            double lm = loss_of(m, ctx, x, nx, gy, false);
            v[i] = keep;
            double num = (lp - lm) / (2.0 * eps);
            w = fmax(w, fabs(num - gv[i]) / (1.0 + fabs(num)));
        }
    }
    dc_ctx_free(ctx);
    return w;
}

static double worst_fd;

static void run_case(gcase *c) {
    dc_tensor *x[2] = {load_tensor(c, "x0", true), gt_find(&c->gf, "x1") ? load_tensor(c, "x1", true) : NULL};
    int nx = x[1] ? 2 : 1;
    dc_tensor *gy = load_tensor(c, "gy", false), *value = gt_find(&c->gf, "p_value") ? load_tensor(c, "p_value", false) : NULL;
    dc_model *m = x[0] && gy ? make_model(c, x, nx) : NULL;
    dc_ctx *ctx = dc_ctx_new();
    if (!m || !ctx || (value && !set_param(c, m, "L.value", value))) goto done;
    dc_ctx_set_grad(ctx, true);
    dc_tensor *y = dc_model_forward_masked(m, ctx, nx, x, NULL, true);
    compare_tensor(c, "y", y);
    dc_tensor *l = y ? dc_sum(ctx, dc_mul(ctx, y, gy)) : NULL;
    if (!l || dc_backward(ctx, l)) {
        fail_dc(c, "backward");
        goto done;
    }
    compare_tensor(c, "dx0", dc_tensor_grad(x[0]));
    if (nx > 1) compare_tensor(c, "dx1", dc_tensor_grad(x[1]));
    if (value) compare_tensor(c, "d_value", dc_tensor_grad(dc_model_param(m, "L.value")));
    /* the layer's options survive a model file: the reloaded model gives the same output */
    char path[128];
    snprintf(path, sizeof path, "/tmp/test_golden_onnx_layers_%d.safetensors", (int)getpid());
    dc_model *back = dc_model_save(m, path) ? NULL : dc_model_load(path);
    remove(path);
    if (!back) fail_dc(c, "save and load");
    else {
        dc_ctx_reset(ctx);
        dc_ctx_set_grad(ctx, false);
        compare_tensor(c, "y", dc_model_forward_masked(back, ctx, nx, x, NULL, false));
        dc_model_free(back);
    }
    double fd = gradcheck(m, x, nx, gy);
    worst_fd = fmax(worst_fd, fd);
    if (!(fd <= 1e-2)) cfail(c, "finite differences: worst relative error %.3g", fd);
done:
    dc_ctx_free(ctx);
    dc_model_free(m);
    dc_tensor_free(x[0]);
    dc_tensor_free(x[1]);
    dc_tensor_free(gy);
    dc_tensor_free(value);
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
    CHECK(n >= 20);
    /* shape errors at build name the layer and both shapes */
    dc_model *m = dc_sequential();
    int a = dc_model_input(m, "a", 2, (int64_t[]){3, 4}), b = dc_model_input(m, "b", 2, (int64_t[]){5, 4});
    CHECK_ERR(dc_model_apply(m, dc_arithmetic_layer(DC_ARITH_ADD), 2, (int[]){a, b}), -1, "(None, 3, 4)", "(None, 5, 4)", "broadcast");
    CHECK_ERR(dc_model_apply(m, dc_matmul_layer(), 2, (int[]){a, b}), -1, "cannot multiply");
    CHECK_ERR(dc_model_apply(m, dc_slice_layer(2, 3, 9), 1, &a), -1, "[3, 9)", "axis 2");
    CHECK_ERR(dc_model_apply(m, dc_reduce_layer(DC_REDUCE_OP_MEAN, 1, (int[]){3}, true), 1, &a), -1, "axis 3");
    CHECK_ERR(dc_model_apply(m, dc_arithmetic_value_layer(DC_ARITH_MUL, 1, (int64_t[]){5}, false, true), 1, &a), -1, "[5]", "broadcast");
    CHECK_NULL_ERR(dc_arithmetic_layer((dc_arith_op)7), "operation 7");
    CHECK_NULL_ERR(dc_arithmetic_value_layer(DC_ARITH_ADD, 0, NULL, false, true), "1 to 7");
    CHECK_NULL_ERR(dc_reduce_layer(DC_REDUCE_OP_SUM, 0, NULL, false), "reduce");
    dc_model_free(m);
    return check_report("test_golden_onnx_layers");
}
