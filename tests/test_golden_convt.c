/* Transposed convolution against PyTorch 1.13's nn.ConvTranspose2d (padding, output_padding), and
 * the Conv2DTranspose layer's SAME padding (issue 19: with a kernel smaller than the stride it
 * gave (H - 1) stride + k instead of H stride).
 *
 * The vectors tests/golden/convt/<case>.txt are written by scripts/golden/gen_golden_convt.py: the
 * three configurations of the issue, an odd SAME crop, an output padding, and RANDOM_CASES seeded
 * random kernel / stride / size / padding combinations (format and cfg in the script). Each case
 * runs the op dc_conv2d_transpose with the case's padding (negative bottom/right: output
 * padding), and, for VALID and SAME cases, the Conv2DTranspose layer with that padding mode,
 * whose output shape must be the golden one. Both with 1 and 2 threads, with a gradient (y, dx,
 * dw, db compared) and with grad mode off (y).
 *
 * Tolerance: |got - expected| <= 1e-6 + 1e-5 |expected| (float32 sums of at most a few hundred
 * products of values of order one); the largest differences seen are printed at the end.
 *
 * Then: the layer's SAME output shape is H stride x W stride over every kernel 1..5 and stride
 * 1..4 (the issue's 2x3 -> 6x9 and 11x10 -> 22x20 among them); a finite-difference gradient
 * check of the op with output padding; the op's errors for bad padding. */
#include <deepc.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "golden_io.h"

#define DIR "tests/golden/convt"
#define RANDOM_CASES 48 /* as the generator's RANDOM_CASES */

static double worst_abs, worst_frac;

static void cmp(gcase *c, const char *name, const dc_tensor *got) {
    compare_tensor(c, name, got);
    const gt_tensor *exp = gt_find(&c->gf, name);
    if (!got || !exp || dc_tensor_numel(got) != exp->numel) return;
    dc_tensor *cp = dc_tensor_clone(got);
    if (!cp) return;
    for (int64_t i = 0; i < exp->numel; i++) {
        double d = fabs(dc_tensor_data(cp)[i] - exp->v[i]);
        worst_abs = fmax(worst_abs, d);
        worst_frac = fmax(worst_frac, d / tol_for(c, exp->v[i]));
    }
    dc_tensor_free(cp);
}

static void cmp_grad(gcase *c, const char *name, dc_tensor *t) {
    dc_tensor *g = t ? dc_tensor_grad(t) : NULL;
    if (!g) cfail(c, "%s: no gradient", name);
    else cmp(c, name, g);
}

/* The Conv2DTranspose layer of the case (mode 1 VALID, 2 SAME) in a model, given w and b. */
static dc_model *layer_model(gcase *c, const double *k, const dc_tensor *x, dc_tensor *w, dc_tensor *b) {
    int64_t F = dc_tensor_dim(w, 1);
    int kh = (int)dc_tensor_dim(w, 2), kw = (int)dc_tensor_dim(w, 3);
    dc_model *m = dc_sequential();
    dc_layer *l = dc_conv2d_transpose_layer(F, kh, kw, (int)k[0], k[7] == 2 ? DC_PAD_SAME : DC_PAD_VALID, DC_ACT_NONE);
    if (!m || !l || dc_layer_set_name(l, "convt") || dc_layer_set_strides(l, (int)k[0], (int)k[1]) ||
        dc_layer_set_bool(l, "use_bias", b != NULL) || dc_model_add(m, dc_input(3, dc_tensor_shape(x) + 1)) ||
        dc_model_add(m, l) || dc_model_build(m, 0, NULL)) {
        fail_dc(c, "building the Conv2DTranspose model");
        dc_model_free(m);
        return NULL;
    }
    const gt_tensor *y = need(c, "y");
    int64_t shape[DC_MAX_DIMS];
    int nd = dc_layer_output_shape(dc_model_layer(m, 1), shape);
    if (!y || nd != 3 || shape[0] != y->shape[1] || shape[1] != y->shape[2] || shape[2] != y->shape[3]) {
        char a[96], e[96];
        cfail(c, "the layer's output shape is %s, PyTorch's %s", nd > 0 ? dc_shape_str(nd, shape, a, sizeof a) : "?",
              y ? dc_shape_str(y->ndim - 1, y->shape + 1, e, sizeof e) : "?");
    }
    if (!set_param(c, m, "convt.weight", w) || (b && !set_param(c, m, "convt.bias", b))) {
        dc_model_free(m);
        return NULL;
    }
    return m;
}

static int run_case(const char *name) {
    gcase gc;
    if (!case_open(&gc, DIR, name)) return case_close(&gc);
    gc.abs_tol = 1e-6;
    gc.rel_tol = 1e-5;
    const gt_tensor *cf = need(&gc, "cfg");
    double k[10] = {0};
    if (cf && cf->numel == 10) memcpy(k, cf->v, sizeof k);
    else if (cf) cfail(&gc, "cfg has %lld values, expected 10", (long long)cf->numel);
    bool bias = k[6] != 0;
    dc_tensor *x = load_tensor(&gc, "x", true), *w = load_tensor(&gc, "w", true), *b = bias ? load_tensor(&gc, "b", true) : NULL;
    dc_tensor *gy = load_tensor(&gc, "gy", false);
    if (w && (dc_tensor_dim(w, 2) != (int64_t)k[8] || dc_tensor_dim(w, 3) != (int64_t)k[9]))
        cfail(&gc, "w's kernel %lldx%lld is not cfg's %gx%g", (long long)dc_tensor_dim(w, 2), (long long)dc_tensor_dim(w, 3), k[8], k[9]);
    const int pad[4] = {(int)k[2], (int)k[3], (int)k[4], (int)k[5]};
    bool ok = x && w && gy && (!bias || b) && !gc.failures;
    dc_model *m = ok && k[7] != 0 ? layer_model(&gc, k, x, w, b) : NULL;
    ok = ok && !gc.failures;
    for (int route = 0; ok && route < (m ? 2 : 1); route++)
        for (int threads = 1; threads <= 2; threads++) {
            dc_set_threads(threads);
            for (int grad = 1; grad >= 0; grad--) {
                char rname[64];
                snprintf(rname, sizeof rname, "%s, %d thread%s, grad %s", route ? (k[7] == 2 ? "layer SAME" : "layer VALID") : "op",
                         threads, threads > 1 ? "s" : "", grad ? "on" : "off");
                gc.route = rname;
                dc_ctx *c = dc_ctx_new();
                dc_ctx_set_grad(c, grad);
                dc_tensor *ps[2] = {route ? dc_model_param(m, "convt.weight") : w, route ? (bias ? dc_model_param(m, "convt.bias") : NULL) : b};
                dc_tensor_zero_grad(x);
                for (int i = 0; i < 2; i++)
                    if (ps[i]) dc_tensor_zero_grad(ps[i]);
                dc_tensor *y = route ? dc_model_forward(m, c, x, true) : dc_conv2d_transpose(c, x, w, b, (int)k[0], (int)k[1], pad);
                if (!y) {
                    fail_dc(&gc, "forward");
                } else {
                    cmp(&gc, "y", y);
                    if (grad && dc_backward(c, dc_sum(c, dc_mul(c, y, gy))) != DC_OK) {
                        fail_dc(&gc, "dc_backward");
                    } else if (grad) {
                        cmp_grad(&gc, "dx", x);
                        cmp_grad(&gc, "dw", ps[0]);
                        if (bias) cmp_grad(&gc, "db", ps[1]);
                    }
                }
                dc_ctx_free(c);
            }
        }
    dc_set_threads(0);
    dc_model_free(m);
    dc_tensor *all[] = {x, w, b, gy};
    for (int i = 0; i < 4; i++) dc_tensor_free(all[i]);
    return case_close(&gc);
}

/* The SAME layer's output size for input H x W, kernel kh x kw, strides sh, sw; -1 on error. */
static int64_t same_out(int64_t H, int64_t W, int kh, int kw, int sh, int sw, int64_t *OW) {
    dc_model *m = dc_sequential();
    dc_layer *l = dc_conv2d_transpose_layer(2, kh, kw, sh, DC_PAD_SAME, DC_ACT_NONE);
    int64_t s[DC_MAX_DIMS] = {0}, OH = -1;
    if (l && dc_layer_set_strides(l, sh, sw) == DC_OK && dc_model_add(m, dc_input(3, (int64_t[]){3, H, W})) == DC_OK &&
        dc_model_add(m, l) == DC_OK && dc_layer_output_shape(l, s) == 3) {
        OH = s[1];
        *OW = s[2];
    }
    dc_model_free(m);
    return OH;
}

/* Regression (issue 19): SAME gives H stride x W stride whatever the kernel, kernels smaller than
 * the stride included; and the issue's numbers, run through a model. */
static void same_shapes(void) {
    int bad = 0, n = 0;
    for (int64_t H = 1; H <= 6; H++)
        for (int kh = 1; kh <= 5; kh++)
            for (int sh = 1; sh <= 4; sh++) {
                int64_t W = 7 - H, OW = -1;
                int kw = 6 - kh, sw = 5 - sh;
                int64_t OH = same_out(H, W, kh, kw, sh, sw, &OW);
                n++;
                if (OH != H * sh || OW != W * sw) {
                    if (bad++ < 4)
                        fprintf(stderr, "Conv2DTranspose SAME: input %lldx%lld, kernel %dx%d, strides (%d, %d): output %lldx%lld, "
                                "expected %lldx%lld\n", (long long)H, (long long)W, kh, kw, sh, sw, (long long)OH, (long long)OW,
                                (long long)(H * sh), (long long)(W * sw));
                }
            }
    check_count++;
    if (bad) check_fails++;
    printf("Conv2DTranspose SAME output = input x stride: %d of %d configurations wrong\n", bad, n);
    static const struct {
        int64_t H, W;
        int k, s;
        int64_t OH, OW;
    } issue[] = {{2, 3, 1, 3, 6, 9}, {2, 3, 2, 3, 6, 9}, {11, 10, 1, 2, 22, 20}};
    for (size_t i = 0; i < sizeof issue / sizeof issue[0]; i++) {
        dc_model *m = dc_sequential();
        dc_model_add(m, dc_input(3, (int64_t[]){1, issue[i].H, issue[i].W}));
        CHECK(dc_model_add(m, dc_conv2d_transpose_layer(1, issue[i].k, issue[i].k, issue[i].s, DC_PAD_SAME, DC_ACT_NONE)) == DC_OK);
        CHECK(dc_model_build(m, 0, NULL) == DC_OK);
        dc_tensor *x = dc_tensor_new(4, (int64_t[]){1, 1, issue[i].H, issue[i].W});
        dc_tensor *y = dc_model_predict(m, x, 1);
        CHECK(y && dc_tensor_ndim(y) == 4 && dc_tensor_dim(y, 2) == issue[i].OH && dc_tensor_dim(y, 3) == issue[i].OW);
        if (y)
            printf("Conv2DTranspose SAME, %lldx%lld input, kernel %d, stride %d: output %lldx%lld\n", (long long)issue[i].H,
                   (long long)issue[i].W, issue[i].k, issue[i].s, (long long)dc_tensor_dim(y, 2), (long long)dc_tensor_dim(y, 3));
        dc_tensor_free(x);
        dc_tensor_free(y);
        dc_model_free(m);
    }
}

/* loss = sum(convt(x, w, b) * R), accumulated in double. */
static double fd_loss(dc_ctx *c, dc_tensor *x, dc_tensor *w, dc_tensor *b, const int *pad, const dc_tensor *R, bool grad) {
    dc_ctx_reset(c);
    dc_ctx_set_grad(c, grad);
    dc_tensor *y = dc_conv2d_transpose(c, x, w, b, 2, 3, pad);
    if (!y || dc_tensor_numel(y) != dc_tensor_numel(R)) return NAN;
    if (grad && dc_backward(c, dc_sum(c, dc_mul(c, y, (dc_tensor *)R))) != DC_OK) return NAN;
    double s = 0;
    for (int64_t i = 0; i < dc_tensor_numel(y); i++) s += (double)dc_tensor_data(y)[i] * dc_tensor_data((dc_tensor *)R)[i];
    return s;
}

/* Central finite differences of the op with output padding (bottom -1, right -2 at strides
 * (2, 3)) and a top crop, for every element of x, w and b. */
static void gradcheck_output_padding(void) {
    dc_rng r;
    dc_rng_seed(&r, 1919);
    static const int pad[4] = {1, 0, -1, -2};
    dc_tensor *in[3] = {check_randn(&r, 4, (int64_t[]){2, 2, 3, 2}), check_randn(&r, 4, (int64_t[]){2, 3, 2, 2}),
                        check_randn(&r, 1, (int64_t[]){3})};
    /* output (3 - 1) 2 + 2 - 1 + 1 = 6 by (2 - 1) 3 + 2 - 0 + 2 = 7 */
    dc_tensor *R = check_randn(&r, 4, (int64_t[]){2, 3, 6, 7});
    dc_ctx *c = dc_ctx_new();
    for (int i = 0; i < 3; i++) dc_tensor_set_requires_grad(in[i], true);
    double l0 = fd_loss(c, in[0], in[1], in[2], pad, R, true), worst = 0;
    CHECK(!isnan(l0));
    const float eps = 1e-2f;
    for (int i = 0; !isnan(l0) && i < 3; i++) {
        float *v = dc_tensor_data(in[i]), *g = dc_tensor_data(dc_tensor_grad(in[i]));
        for (int64_t j = 0; j < dc_tensor_numel(in[i]); j++) {
            float keep = v[j];
            v[j] = keep + eps;
            double lp = fd_loss(c, in[0], in[1], in[2], pad, R, false);
            v[j] = keep - eps;
            double lm = fd_loss(c, in[0], in[1], in[2], pad, R, false);
            v[j] = keep;
            double num = (lp - lm) / (2.0 * eps);
            worst = fmax(worst, fabs(num - g[j]) / (1.0 + fabs(num)));
        }
    }
    check_count++;
    if (isnan(l0) || !(worst < 1e-3)) check_fails++;
    printf("gradcheck conv2d_transpose with output padding: max rel err %.2e\n", worst);
    dc_ctx_free(c);
    for (int i = 0; i < 3; i++) dc_tensor_free(in[i]);
    dc_tensor_free(R);
}

/* The call must fail with DC_ERR_ARG and a message holding each word. */
#define CHECK_ARG_ERR(call, ...)                      \
    do {                                              \
        CHECK_NULL_ERR(call, __VA_ARGS__);            \
        CHECK(dc_last_status() == DC_ERR_ARG);        \
    } while (0)

/* Bad paddings: DC_ERR_ARG naming the numbers. */
static void errors(void) {
    dc_tensor *x = dc_tensor_new(4, (int64_t[]){1, 2, 3, 3}), *w = dc_tensor_new(4, (int64_t[]){2, 1, 2, 2});
    dc_ctx *c = dc_ctx_new();
    CHECK_ARG_ERR(dc_conv2d_transpose(c, x, w, NULL, 2, 3, (const int[]){0, 0, -2, 0}), "conv2d_transpose", "output padding",
                   "-2", "stride 2");
    CHECK_ARG_ERR(dc_conv2d_transpose(c, x, w, NULL, 2, 3, (const int[]){0, 0, 0, -3}), "conv2d_transpose", "output padding",
                   "-3", "stride 3");
    CHECK_ARG_ERR(dc_conv2d_transpose(c, x, w, NULL, 2, 2, (const int[]){-1, 0, 0, 0}), "conv2d_transpose", "top", "-1");
    CHECK_ARG_ERR(dc_conv2d_transpose(c, x, w, NULL, 2, 2, (const int[]){0, -1, 0, 0}), "conv2d_transpose", "left", "-1");
    /* the largest output padding is stride - 1 */
    dc_tensor *y = dc_conv2d_transpose(c, x, w, NULL, 2, 3, (const int[]){0, 0, -1, -2});
    CHECK(y && dc_tensor_dim(y, 2) == 7 && dc_tensor_dim(y, 3) == 10);
    dc_ctx_free(c);
    dc_tensor_free(x);
    dc_tensor_free(w);
}

int main(void) {
    static const char *const named[] = {"convt_same_2x3_k1_s3", "convt_same_2x3_k2_s3", "convt_same_11x10_k1_s2",
                                        "convt_same_k5_s2_k1_s3", "convt_output_padding"};
    const int nn = (int)(sizeof named / sizeof named[0]), total = nn + RANDOM_CASES;
    int failed = 0;
    for (int i = 0; i < total; i++) {
        char name[48];
        if (i < nn) snprintf(name, sizeof name, "%s", named[i]);
        else snprintf(name, sizeof name, "convt_r%02d", i - nn);
        check_count++;
        if (run_case(name)) {
            failed++;
            check_fails++;
        }
    }
    /* the generator writes exactly RANDOM_CASES random cases */
    char path[256];
    snprintf(path, sizeof path, DIR "/convt_r%02d.txt", RANDOM_CASES);
    FILE *extra = fopen(path, "r");
    CHECK(extra == NULL);
    if (extra) fclose(extra);
    printf("golden transposed-convolution cases: %d of %d failed; largest |diff| %.2e, largest fraction of the tolerance %.2f\n",
           failed, total, worst_abs, worst_frac);
    same_shapes();
    gradcheck_output_padding();
    errors();
    return check_report("test_golden_convt");
}
