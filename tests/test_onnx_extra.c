/* The importer's extra operators (src/io/onnx_ops_extra.c) on small ONNX files of
 * tests/data/onnx_extra (made by scripts/onnx/gen_extra_fixtures.py with python3-onnx): each
 * imported model predicts what the operator computes, and the files each mapper refuses give
 * errors that name the node and the reason. ONNX's own test suite checks them further (ctest
 * onnx_suite, docs/onnx.md). */
#include "check.h"

#include <stdlib.h>

/* The importer's claimed operators (src/io/onnx_ops_extra.c; declared in src/io/onnx_import.h,
 * which needs the generated protobuf headers). */
int onnx_claimed_ops(const char **names, int max);

#define DIR "tests/data/onnx_extra/"
#define N 4

static float xs[N * 8];

/* Imports DIR<name>.onnx, predicts on xs as [N, shape] and compares with want[N * per]. */
static void check_value_shaped(const char *name, int nd, const int64_t *shape, const float *want, int64_t per) {
    char path[256];
    snprintf(path, sizeof path, DIR "%s.onnx", name);
    dc_model *m = dc_model_import_onnx(path);
    CHECK(m != NULL);
    int64_t sh[DC_MAX_DIMS] = {N};
    memcpy(sh + 1, shape, (size_t)nd * sizeof *sh);
    dc_tensor *x = dc_tensor_from(nd + 1, sh, xs);
    dc_tensor *y = m ? dc_model_predict(m, x, N) : NULL;
    CHECK(y != NULL);
    if (y) {
        CHECK(dc_tensor_numel(y) == N * per);
        double worst = 0;
        for (int64_t i = 0; i < N * per && i < dc_tensor_numel(y); i++)
            worst = fmax(worst, fabs(dc_tensor_data(y)[i] - want[i]) / (1 + fabs(want[i])));
        if (!(worst <= 1e-5)) fprintf(stderr, "%s: worst relative error %g\n", name, worst);
        CHECK(worst <= 1e-5);
    }
    dc_tensor_free(x);
    dc_tensor_free(y);
    dc_model_free(m);
}

static void check_value(const char *name, const float *want, int64_t per) { check_value_shaped(name, 2, (int64_t[]){2, 3}, want, per); }

/* Importing DIR<name>.onnx fails with a message holding each word. */
#define CHECK_REFUSED(name, ...) CHECK_NULL_ERR(dc_model_import_onnx(DIR name ".onnx"), name, __VA_ARGS__)

int main(void) {
    for (int i = 0; i < N * 8; i++) xs[i] = (float)(((i * 37) % 23) - 11) / 7.0f;
    float w[N * 6];
    for (int i = 0; i < N * 6; i++) w[i] = xs[i] * xs[i];
    check_value("pow", w, 6);
    for (int i = 0; i < N * 6; i++) w[i] = fminf(0.5f, fmaxf(-0.5f, xs[i]));
    check_value("clip", w, 6);
    for (int i = 0; i < N * 6; i++) w[i] = fminf(0.75f, fmaxf(-0.25f, xs[i]));
    check_value("clip6", w, 6);
    for (int i = 0; i < N * 6; i++) w[i] = 3 * xs[i];
    check_value("sum3", w, 6);
    check_value("mean2", xs, 6);
    for (int i = 0; i < N * 6; i++) w[i] = 2 * fabsf(xs[i]);
    check_value("max_min", w, 6);
    for (int r = 0; r < N * 2; r++)
        w[r] = sqrtf(xs[3 * r] * xs[3 * r] + xs[3 * r + 1] * xs[3 * r + 1] + xs[3 * r + 2] * xs[3 * r + 2]);
    check_value("reduce_l2", w, 2);
    for (int r = 0; r < N * 2; r++) w[2 * r] = xs[3 * r + 1], w[2 * r + 1] = xs[3 * r + 2];
    check_value("split", w, 4);
    for (int i = 0; i < N * 6; i++) w[i] = xs[i] > 0 ? xs[i] : 0.1f * (float)(i % 3 + 1) * xs[i];
    check_value("prelu", w, 6);
    const float sc[2] = {2.0f, 0.5f}, b[2] = {0.1f, -0.1f};
    for (int r = 0; r < N * 2; r++) {
        const float *v = xs + 3 * r;
        float m = (v[0] + v[1] + v[2]) / 3, var = 0;
        for (int k = 0; k < 3; k++) var += (v[k] - m) * (v[k] - m) / 3;
        for (int k = 0; k < 3; k++) w[3 * r + k] = (v[k] - m) / sqrtf(var + 1e-5f) * sc[r % 2] + b[r % 2];
    }
    check_value("instance_norm", w, 6);
    /* nearest upsampling by 2 x 3 of [N, 1, 2, 3]: each pixel repeated */
    float up[N * 36];
    for (int s = 0; s < N; s++)
        for (int i = 0; i < 4; i++)
            for (int j = 0; j < 9; j++) up[s * 36 + i * 9 + j] = xs[s * 6 + (i / 2) * 3 + j / 3];
    check_value_shaped("upsample", 3, (int64_t[]){1, 2, 3}, up, 36);
    /* DepthToSpace (CRD, block 2) of [N, 4, 1, 2] (6 values a sample would not do: [N, 4, 1, 2] is 8) */
    float ds[N * 8];
    for (int s = 0; s < N; s++)
        for (int h = 0; h < 2; h++)
            for (int w2 = 0; w2 < 4; w2++) ds[s * 8 + h * 4 + w2] = xs[s * 8 + (h * 2 + w2 % 2) * 2 + w2 / 2];
    for (int i = 0; i < N * 6; i++) w[i] = -xs[i] / sqrtf(3.0f);
    check_value("fold_sqrt", w, 6);
    float ex[N * 6];
    for (int i = 0; i < N * 6; i++) ex[i] = xs[i / 3];
    check_value_shaped("expand", 2, (int64_t[]){2, 1}, ex, 6);
    check_value_shaped("depth_to_space", 3, (int64_t[]){4, 1, 2}, ds, 8);

    CHECK_REFUSED("err_pow_graph_exponent", "Pow", "exponent", "constant");
    CHECK_REFUSED("err_pow_varying_exponent", "Pow", "differs between elements");
    CHECK_REFUSED("err_clip_bounds", "Clip", "low bound 1", "high bound -1");
    CHECK_REFUSED("err_split_batch", "Split", "batch");
    CHECK_REFUSED("err_split_sizes", "Split", "summing to 2", "axis of 3");
    CHECK_REFUSED("err_prelu_batch", "PRelu", "slope", "batch");
    CHECK_REFUSED("err_celu_alpha", "Celu", "alpha is 0");
    CHECK_REFUSED("err_shrink_lambd", "Shrink", "lambd -1");
    CHECK_REFUSED("err_max_shapes", "Max", "another shape");
    CHECK_REFUSED("err_instance_norm_scale", "InstanceNormalization", "scale", "constant");
    CHECK_REFUSED("err_resize_linear", "Resize", "mode linear");
    CHECK_REFUSED("err_resize_factor", "Resize", "1.5", "whole factors");
    CHECK_REFUSED("err_depth_to_space_rank", "DepthToSpace", "rank 3");
    CHECK_REFUSED("err_expand_batch", "Expand", "entry 3", "batch");
    CHECK_REFUSED("err_global_max_pool_rank", "GlobalMaxPool", "rank 2");

    /* the claimed set lists both tables */
    const char *ops[256];
    int n = onnx_claimed_ops(ops, 256), core = 0, extra = 0;
    for (int i = 0; i < n; i++) {
        core += !strcmp(ops[i], "Conv");
        extra += !strcmp(ops[i], "InstanceNormalization");
    }
    CHECK(core == 1 && extra == 1);
    CHECK(onnx_claimed_ops(ops, 3) == 3);
    return check_report("test_onnx_extra");
}
