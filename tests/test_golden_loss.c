/* Golden checks of every loss (dc_loss_ex) against PyTorch 1.13, forward and backward, and of its
 * conventions and argument errors.
 *
 * The vectors tests/golden/loss/c<i>_<loss>.txt, listed in tests/golden/loss/cases.txt, are
 * written by scripts/golden/gen_golden_loss.py: random configurations drawn from one seed over
 * every loss, option, reduction and weighting, random shapes (batch 1 and size-1 axes), half of
 * them with extreme inputs (probabilities on both sides of the 1e-7 clamp, logits up to +-90).
 * PyTorch computes the loss, d loss / d pred and (where the loss gives one) d loss / d target in
 * float64 from the float32 inputs. Each case runs with grad mode on (value and gradients
 * compared) and off (the same value, bit for bit); a mean case without weights also runs through
 * the loss's named shorthand (dc_mse_loss, ...), which must give the same value bit for bit.
 *
 * Tolerance (float32): |got - expected| <= 1e-5 |expected| + 1e-6 max|expected| + 1e-12, the max
 * over the tensor compared. The relative part is what float32 arithmetic (with float64 sums)
 * gives values of order one; the normwise part covers the elements far smaller than the rest of
 * their tensor, whose float32 value is the difference of much larger numbers (the gradient of a
 * saturated softmax, 1e-44 beside 1; the focal factor of a logit of 40, where PyTorch's float64
 * 1 - p_t itself cancels); the last part is for tensors that are zero in exact arithmetic (the
 * cosine gradient of vectors of one element, 1e-19 after rounding). The largest relative error
 * of elements of at least 1e-3 and the largest fraction of the tolerance used are printed.
 *
 * Then: the Keras documentation's examples of each Keras loss, the reductions' relations, the
 * hinge's label conversion, and the errors of bad arguments. */
#include <deepc.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "golden_io.h"

#define LOSS_DIR "tests/golden/loss"
#define REL_TOL 1e-5
#define NORM_TOL 1e-6
#define ABS_TOL 1e-12

static double worst_frac, worst_rel; /* largest fraction of the tolerance, largest relative error (|exp| >= 1e-3) */
static char worst_case[64];

/* Compares got with the golden tensor `name` at the tolerance above. */
static void compare_scaled(gcase *gc, const char *name, const dc_tensor *got) {
    const gt_tensor *e = need(gc, name);
    if (!e) return;
    if (!got) {
        cfail(gc, "%s: deepc produced no tensor", name);
        return;
    }
    if (dc_tensor_numel(got) != e->numel) {
        cfail(gc, "%s: %lld values, golden has %lld", name, (long long)dc_tensor_numel(got), (long long)e->numel);
        return;
    }
    double mx = 0;
    for (int64_t i = 0; i < e->numel; i++)
        if (fabs(e->v[i]) > mx) mx = fabs(e->v[i]);
    gc->rel_tol = REL_TOL;
    gc->abs_tol = NORM_TOL * mx + ABS_TOL;
    dc_tensor *cp = dc_tensor_clone(got);
    const float *g = dc_tensor_data(cp);
    for (int64_t i = 0; i < e->numel; i++) {
        double d = fabs((double)g[i] - e->v[i]), frac = d / tol_for(gc, e->v[i]);
        if (frac > worst_frac) {
            worst_frac = frac;
            snprintf(worst_case, sizeof worst_case, "%s %s", gc->name, name);
        }
        if (fabs(e->v[i]) >= 1e-3 && d / fabs(e->v[i]) > worst_rel) worst_rel = d / fabs(e->v[i]);
    }
    compare_vals(gc, name, g, e->numel, e, e->v);
    dc_tensor_free(cp);
}

static bool loss_by_name(const char *s, dc_loss *out) {
    for (int k = 0; k < DC_LOSS_COUNT; k++)
        if (strcmp(s, dc_loss_name((dc_loss)k)) == 0) {
            *out = (dc_loss)k;
            return true;
        }
    return false;
}

/* The named shorthand of a mean loss without weights, or NULL when none has these options. */
static dc_tensor *shorthand(dc_ctx *c, dc_loss k, const dc_loss_opts *o, dc_tensor *p, dc_tensor *t) {
    if (o->label_smoothing != 0) return NULL;
    switch (k) {
    case DC_LOSS_MSE: return dc_mse_loss(c, p, t);
    case DC_LOSS_MAE: return dc_mae_loss(c, p, t);
    case DC_LOSS_HUBER: return dc_huber_loss(c, p, t, o->delta);
    case DC_LOSS_BCE: return o->from_logits ? dc_bce_with_logits_loss(c, p, t) : dc_bce_loss(c, p, t);
    case DC_LOSS_CCE: return o->from_logits ? dc_softmax_cce_loss(c, p, t) : dc_cce_loss(c, p, t);
    case DC_LOSS_SPARSE_CCE: return o->from_logits ? dc_softmax_sparse_cce_loss(c, p, t) : dc_sparse_cce_loss(c, p, t);
    case DC_LOSS_NLL: return dc_nll_loss(c, p, t);
    case DC_LOSS_KLD: return dc_kld_loss(c, p, t);
    case DC_LOSS_HINGE: return dc_hinge_loss(c, p, t);
    case DC_LOSS_SQUARED_HINGE: return dc_squared_hinge_loss(c, p, t);
    case DC_LOSS_BINARY_FOCAL: return dc_binary_focal_loss(c, p, t, o->gamma, o->alpha, o->from_logits);
    case DC_LOSS_COSINE: return dc_cosine_similarity_loss(c, p, t);
    case DC_LOSS_POISSON: return dc_poisson_loss(c, p, t);
    default: return NULL;
    }
}

static int run_case(const char *name) {
    gcase gc;
    if (!case_open(&gc, LOSS_DIR, name)) return case_close(&gc);
    const char *us = strchr(name, '_');
    dc_loss kind;
    if (!us || !loss_by_name(us + 1, &kind)) {
        cfail(&gc, "no loss is named after the case");
        return case_close(&gc);
    }
    gc.route = dc_loss_name(kind);
    const gt_tensor *ot = need(&gc, "opts"), *rt = need(&gc, "reduction");
    if (!ot || !rt || ot->numel != 5 || rt->numel != 1) return case_close(&gc);
    dc_loss_opts o = {.from_logits = ot->v[0] != 0,
                      .label_smoothing = (float)ot->v[1],
                      .delta = (float)ot->v[2],
                      .gamma = (float)ot->v[3],
                      .alpha = (float)ot->v[4]};
    dc_reduction red = (dc_reduction)(int)rt->v[0];
    bool tgrad = gt_find(&gc.gf, "dtarget") != NULL;
    dc_tensor *p = load_tensor(&gc, "pred", true), *t = load_tensor(&gc, "target", tgrad);
    dc_tensor *sw = gt_find(&gc.gf, "sample_weight") ? load_tensor(&gc, "sample_weight", false) : NULL;
    dc_tensor *cw = gt_find(&gc.gf, "class_weight") ? load_tensor(&gc, "class_weight", false) : NULL;
    dc_tensor *gy = red == DC_REDUCE_NONE ? load_tensor(&gc, "gy", false) : NULL;
    dc_ctx *c = dc_ctx_new();
    if (p && t && (red != DC_REDUCE_NONE || gy)) {
        dc_tensor *out = dc_loss_ex(c, kind, p, t, &o, red, sw, cw);
        if (!out) fail_dc(&gc, "dc_loss_ex");
        compare_scaled(&gc, "loss", out);
        dc_tensor *l = red == DC_REDUCE_NONE ? dc_sum(c, dc_mul(c, out, gy)) : out;
        if (out && (!l || dc_backward(c, l) != DC_OK)) fail_dc(&gc, "backward");
        else if (out) {
            compare_scaled(&gc, "dpred", dc_tensor_grad(p));
            if (tgrad) compare_scaled(&gc, "dtarget", dc_tensor_grad(t));
        }
        /* grad mode off: the same value */
        dc_ctx *c2 = dc_ctx_new();
        dc_ctx_set_grad(c2, false);
        dc_tensor *o2 = dc_loss_ex(c2, kind, p, t, &o, red, sw, cw);
        if (out && (!o2 || memcmp(dc_tensor_data(o2), dc_tensor_data(out), (size_t)dc_tensor_numel(out) * sizeof(float))))
            cfail(&gc, "grad mode off gives another value");
        if (red == DC_REDUCE_MEAN && !sw && !cw) {
            dc_tensor *s = shorthand(c2, kind, &o, p, t);
            if (s && out && dc_tensor_data(s)[0] != dc_tensor_data(out)[0])
                cfail(&gc, "%s's named function gives %.9g, dc_loss_ex %.9g", dc_loss_name(kind), (double)dc_tensor_data(s)[0],
                      (double)dc_tensor_data(out)[0]);
        }
        dc_ctx_free(c2);
    }
    dc_ctx_free(c);
    dc_tensor *all[] = {p, t, sw, cw, gy};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) dc_tensor_free(all[i]);
    return case_close(&gc);
}

static int golden_cases(void) {
    FILE *f = fopen(LOSS_DIR "/cases.txt", "r");
    CHECK(f != NULL);
    if (!f) return 0;
    char line[128];
    int n = 0, failed = 0;
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\r\n")] = '\0';
        if (!line[0] || line[0] == '#') continue;
        n++;
        check_count++;
        if (run_case(line)) {
            failed++;
            check_fails++;
        }
    }
    fclose(f);
    printf("golden loss cases: %d of %d failed; largest relative error (|expected| >= 1e-3) %.2e, largest fraction of "
           "the tolerance %.2f (%s)\n",
           failed, n, worst_rel, worst_frac, worst_case);
    CHECK(n >= 100);
    return n;
}

/* ---- conventions ---- */

static dc_tensor *mk(dc_ctx *c, int nd, const int64_t *sh, const float *v) {
    dc_tensor *t = dc_empty(c, nd, sh);
    if (t) memcpy(dc_tensor_data(t), v, (size_t)dc_tensor_numel(t) * sizeof(float));
    return t;
}
#define T2(c, r, k, ...) mk(c, 2, (int64_t[]){r, k}, (const float[]){__VA_ARGS__})
#define T1(c, n, ...) mk(c, 1, (int64_t[]){n}, (const float[]){__VA_ARGS__})

static float val(const dc_tensor *t) { return t ? dc_tensor_data((dc_tensor *)t)[0] : NAN; }

/* The examples of the Keras documentation (tf.keras.losses.*), to 1e-3 as printed there. */
static void keras_examples(void) {
    dc_ctx *c = dc_ctx_new();
    dc_tensor *yt = T2(c, 2, 2, 0, 1, 0, 0), *yp = T2(c, 2, 2, 0.6f, 0.4f, 0.4f, 0.6f);
    CHECK_NEAR(val(dc_huber_loss(c, yp, yt, 1.0f)), 0.155, 1e-3);
    CHECK_NEAR(val(dc_kld_loss(c, yp, yt)), 0.458, 1e-3);
    CHECK_NEAR(val(dc_hinge_loss(c, yp, yt)), 1.3, 1e-3);
    CHECK_NEAR(val(dc_squared_hinge_loss(c, yp, yt)), 1.86, 1e-3);
    CHECK_NEAR(val(dc_poisson_loss(c, T2(c, 2, 2, 1, 1, 0, 0), yt)), 0.5, 1e-3);
    CHECK_NEAR(val(dc_cosine_similarity_loss(c, T2(c, 2, 2, 1, 0, 1, 1), T2(c, 2, 2, 0, 1, 1, 1))), -0.5, 1e-3);
    dc_tensor *fz = T1(c, 4, -18.6f, 0.51f, 2.94f, -12.8f), *fy = T1(c, 4, 0, 1, 0, 0);
    CHECK_NEAR(val(dc_binary_focal_loss(c, fz, fy, 2.0f, -1.0f, true)), 0.691, 1e-3);
    CHECK_NEAR(val(dc_binary_focal_loss(c, fz, fy, 2.0f, 0.25f, true)), 0.51, 1e-3);
    /* sample weights as Keras's: Huber with sample_weight [1, 0] -> 0.09 */
    dc_tensor *swt = T1(c, 2, 1, 0);
    CHECK_NEAR(val(dc_loss_ex(c, DC_LOSS_HUBER, yp, yt, NULL, DC_REDUCE_MEAN, swt, NULL)), 0.09, 1e-3);
    CHECK_NEAR(val(dc_loss_ex(c, DC_LOSS_HUBER, yp, yt, NULL, DC_REDUCE_SUM, NULL, NULL)), 0.31, 1e-3);
    dc_ctx_free(c);
}

static void reductions_and_labels(void) {
    dc_ctx *c = dc_ctx_new();
    dc_tensor *z = T2(c, 3, 2, 0.3f, -1.2f, 2.0f, 0.1f, -0.4f, 0.9f), *lab = T1(c, 3, 1, 0, 1);
    dc_loss_opts o = dc_loss_opts_default();
    o.from_logits = true, o.label_smoothing = 0.1f;
    dc_tensor *sw = T1(c, 3, 0.5f, 2.0f, 1.0f), *cw = T1(c, 2, 0.3f, 1.7f);
    dc_tensor *none = dc_loss_ex(c, DC_LOSS_SPARSE_CCE, z, lab, &o, DC_REDUCE_NONE, sw, cw);
    dc_tensor *sum = dc_loss_ex(c, DC_LOSS_SPARSE_CCE, z, lab, &o, DC_REDUCE_SUM, sw, cw);
    dc_tensor *mean = dc_loss_ex(c, DC_LOSS_SPARSE_CCE, z, lab, &o, DC_REDUCE_MEAN, sw, cw);
    CHECK(none && dc_tensor_ndim(none) == 1 && dc_tensor_dim(none, 0) == 3);
    CHECK(sum && mean && dc_tensor_numel(sum) == 1 && dc_tensor_numel(mean) == 1);
    if (none && sum && mean) {
        const float *n = dc_tensor_data(none);
        CHECK_NEAR(val(sum), n[0] + n[1] + n[2], 1e-6);
        CHECK_NEAR(val(mean), (n[0] + n[1] + n[2]) / 3, 1e-6);
    }
    /* hinge: {0, 1} labels are converted, so they give the loss of the {-1, 1} labels */
    dc_tensor *hp = T2(c, 2, 2, 0.3f, -0.8f, 1.7f, 0.2f);
    float h01 = val(dc_hinge_loss(c, hp, T2(c, 2, 2, 0, 1, 1, 0)));
    float hpm = val(dc_hinge_loss(c, hp, T2(c, 2, 2, -1, 1, 1, -1)));
    CHECK(h01 == hpm);
    /* a mix of 0 and -1 is not {0, 1}: used as it is (0 gives max(0, 1) = 1) */
    CHECK_NEAR(val(dc_hinge_loss(c, T2(c, 1, 2, 0.5f, 0.5f), T2(c, 1, 2, 0, -1))), (1 + 1.5) / 2, 1e-6);
    /* class losses over [N, T, K]: the mean over the T positions equals [N T, K] */
    dc_tensor *z3 = mk(c, 3, (int64_t[]){1, 3, 2}, dc_tensor_data(z)), *l3 = mk(c, 2, (int64_t[]){1, 3}, dc_tensor_data(lab));
    CHECK_NEAR(val(dc_softmax_sparse_cce_loss(c, z3, l3)), val(dc_softmax_sparse_cce_loss(c, z, lab)), 1e-6);
    /* the clamp: p = 0 gives -log(1e-7) and no gradient */
    dc_tensor *p0 = dc_tensor_new(2, (int64_t[]){1, 2});
    dc_tensor_data(p0)[1] = 1.0f;
    dc_tensor_set_requires_grad(p0, true);
    dc_tensor *cl = dc_cce_loss(c, p0, T2(c, 1, 2, 1, 0));
    CHECK_NEAR(val(cl), -log(1e-7), 1e-4);
    CHECK(cl && dc_backward(c, cl) == DC_OK && dc_tensor_data(dc_tensor_grad(p0))[0] == 0);
    dc_tensor_free(p0);
    dc_ctx_free(c);
}

static void argument_errors(void) {
    dc_ctx *c = dc_ctx_new();
    dc_tensor *p = T2(c, 2, 3, 0.2f, 0.3f, 0.5f, 0.1f, 0.1f, 0.8f), *y = T2(c, 2, 3, 0, 1, 0, 0, 0, 1);
    dc_tensor *lab = T1(c, 2, 1, 2), *bad = T1(c, 2, 1, 3), *frac = T1(c, 2, 0.5f, 1);
    dc_loss_opts o = dc_loss_opts_default(), lg = o;
    lg.from_logits = true;
    CHECK_NULL_ERR(dc_loss_ex(c, DC_LOSS_COUNT, p, y, NULL, DC_REDUCE_MEAN, NULL, NULL), "unknown loss");
    CHECK_NULL_ERR(dc_loss_ex(c, DC_LOSS_MSE, p, y, NULL, DC_REDUCE_COUNT, NULL, NULL), "mse", "unknown reduction 3");
    CHECK_NULL_ERR(dc_loss_ex(c, DC_LOSS_MSE, p, y, &lg, DC_REDUCE_MEAN, NULL, NULL), "mse", "from_logits");
    CHECK_NULL_ERR(dc_loss_ex(c, DC_LOSS_KLD, p, y, &lg, DC_REDUCE_MEAN, NULL, NULL), "kl_divergence", "from_logits");
    dc_loss_opts so = o;
    so.label_smoothing = 0.1f;
    CHECK_NULL_ERR(dc_loss_ex(c, DC_LOSS_BCE, p, y, &so, DC_REDUCE_MEAN, NULL, NULL), "binary_crossentropy", "label_smoothing");
    so.label_smoothing = 1.5f;
    CHECK_NULL_ERR(dc_loss_ex(c, DC_LOSS_CCE, p, y, &so, DC_REDUCE_MEAN, NULL, NULL), "label_smoothing 1.5", "[0, 1]");
    CHECK_NULL_ERR(dc_huber_loss(c, p, y, 0), "huber", "delta 0");
    CHECK_NULL_ERR(dc_huber_loss(c, p, y, NAN), "huber", "delta");
    CHECK_NULL_ERR(dc_binary_focal_loss(c, p, y, -1, 0.25f, false), "binary_focal", "gamma -1");
    CHECK_NULL_ERR(dc_binary_focal_loss(c, p, y, 2, 1.5f, false), "binary_focal", "alpha 1.5");
    CHECK_NULL_ERR(dc_loss_ex(c, DC_LOSS_MSE, p, y, NULL, DC_REDUCE_MEAN, T1(c, 3, 1, 1, 1), NULL), "sample_weight", "3 elements",
                   "expected 2");
    CHECK_NULL_ERR(dc_loss_ex(c, DC_LOSS_MSE, p, y, NULL, DC_REDUCE_MEAN, T1(c, 2, 1, -1), NULL), "sample_weight[1] = -1");
    CHECK_NULL_ERR(dc_loss_ex(c, DC_LOSS_MSE, p, y, NULL, DC_REDUCE_MEAN, T1(c, 2, 1, INFINITY), NULL), "sample_weight[1]");
    CHECK_NULL_ERR(dc_loss_ex(c, DC_LOSS_CCE, p, y, NULL, DC_REDUCE_MEAN, NULL, T1(c, 2, 1, 1)), "class_weight", "expected 3");
    CHECK_NULL_ERR(dc_loss_ex(c, DC_LOSS_COSINE, p, y, NULL, DC_REDUCE_MEAN, NULL, T1(c, 3, 1, 1, 1)), "cosine", "class weights");
    CHECK_NULL_ERR(dc_sparse_cce_loss(c, p, bad), "label 3", "[0, 3)");
    CHECK_NULL_ERR(dc_nll_loss(c, p, frac), "nll", "label 0.5");
    CHECK_NULL_ERR(dc_nll_loss(c, p, T1(c, 3, 0, 0, 0)), "nll", "labels [3]");
    CHECK_NULL_ERR(dc_mse_loss(c, p, T2(c, 3, 2, 0, 0, 0, 0, 0, 0)), "mse", "[2, 3]", "[3, 2]");
    CHECK_NULL_ERR(dc_cce_loss(c, T1(c, 2, 0.5f, 0.5f), T1(c, 2, 1, 0)), "categorical", "[N, ..., K]");
    CHECK_NULL_ERR(dc_poisson_loss(c, T2(c, 1, 2, 1.0f, -0.5f), T2(c, 1, 2, 1, 1)), "poisson", "rate -0.5", "index 1");
    CHECK_NULL_ERR(dc_mse_loss(c, p, NULL), "mse", "NULL");
    CHECK_NULL_ERR(dc_loss_ex(NULL, DC_LOSS_MSE, p, y, NULL, DC_REDUCE_MEAN, NULL, NULL), "context");
    /* labels and {0,1} targets take no gradient: asking for one is refused */
    dc_tensor *lg_lab = dc_tensor_from(1, (int64_t[]){2}, (const float[]){1, 2});
    dc_tensor_set_requires_grad(lg_lab, true);
    CHECK_NULL_ERR(dc_softmax_sparse_cce_loss(c, p, lg_lab), "sparse_categorical_crossentropy", "requires grad", "class indices");
    dc_tensor *yg = dc_tensor_from(2, (int64_t[]){2, 3}, (const float[]){0, 1, 0, 0, 0, 1});
    dc_tensor_set_requires_grad(yg, true);
    CHECK_NULL_ERR(dc_hinge_loss(c, p, yg), "hinge", "requires grad");
    CHECK(dc_mse_loss(c, p, yg) != NULL); /* MSE gives its target a gradient */
    dc_tensor_free(lg_lab);
    dc_tensor_free(yg);
    /* an earlier failure passes through */
    dc_clear_error();
    CHECK(dc_mse_loss(c, dc_add(c, p, T2(c, 3, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0)), y) == NULL && dc_last_status() == DC_ERR_SHAPE);
    CHECK(strcmp(dc_loss_name(DC_LOSS_COUNT), "unknown") == 0 && strcmp(dc_reduction_name(DC_REDUCE_NONE), "none") == 0);
    (void)lab;
    dc_ctx_free(c);
}

/* A batch big enough for the rows to be split over threads: each row of the 'none' reduction
 * equals the loss of that row alone, and its gradient the row's own. */
static void threaded_rows(void) {
    const int64_t N = 5000, K = 10;
    dc_rng r;
    dc_rng_seed(&r, 19);
    dc_tensor *z = check_randn(&r, 2, (int64_t[]){N, K}), *lab = dc_tensor_new(1, (int64_t[]){N});
    dc_tensor *sw = dc_tensor_new(1, (int64_t[]){N});
    for (int64_t i = 0; i < N; i++) {
        dc_tensor_data(lab)[i] = (float)(i % K);
        dc_tensor_data(sw)[i] = 0.5f + (float)(i % 3);
    }
    dc_tensor_set_requires_grad(z, true);
    dc_loss_opts o = dc_loss_opts_default();
    o.from_logits = true, o.label_smoothing = 0.1f;
    dc_ctx *c = dc_ctx_new(), *c1 = dc_ctx_new();
    dc_tensor *all = dc_loss_ex(c, DC_LOSS_SPARSE_CCE, z, lab, &o, DC_REDUCE_NONE, sw, NULL);
    CHECK(all && dc_backward(c, dc_sum(c, all)) == DC_OK);
    dc_tensor *g = dc_tensor_clone(dc_tensor_grad(z));
    int bad = 0;
    for (int64_t i = 0; all && g && i < N; i += 97) {
        dc_ctx_reset(c1);
        dc_tensor_zero_grad(z);
        dc_tensor *zi = dc_slice(c1, z, 0, i, i + 1), *li = dc_slice(c1, lab, 0, i, i + 1), *wi = dc_slice(c1, sw, 0, i, i + 1);
        dc_tensor *one = dc_loss_ex(c1, DC_LOSS_SPARSE_CCE, zi, li, &o, DC_REDUCE_SUM, wi, NULL);
        if (!one || dc_backward(c1, one) != DC_OK || dc_tensor_data(one)[0] != dc_tensor_data(all)[i]) bad++;
        else
            for (int64_t k = 0; k < K; k++) bad += dc_tensor_data(dc_tensor_grad(z))[i * K + k] != dc_tensor_data(g)[i * K + k];
    }
    CHECK(bad == 0);
    dc_tensor_free(g);
    dc_tensor_free(z);
    dc_tensor_free(lab);
    dc_tensor_free(sw);
    dc_ctx_free(c1);
    dc_ctx_free(c);
}

int main(void) {
    golden_cases();
    keras_examples();
    reductions_and_labels();
    argument_errors();
    threaded_rows();
    return check_report("test_golden_loss");
}
