/* PCA (dc_pca_fit, transform, inverse_transform, reconstruct, get) against NumPy's SVD of the
 * centred rows, as scikit-learn's PCA computes it: the vectors tests/golden/pca/<case>.txt are
 * written by scripts/golden/gen_golden_pca.py. Mean, explained variance (and its ratio), noise
 * variance and reconstructions of held-out rows are compared directly; components and projections
 * up to each component's sign, which an eigen-decomposition does not fix. Then the errors: k out of
 * range, too few rows, non-finite data, rows of the wrong size. */
#include <math.h>
#include <stdlib.h>

#include "check.h"
#include "golden_io.h"

#define DIR "tests/golden/pca"

/* Compares a [k, w] deepc matrix with the golden one row by row (or, with by_cols, column by
 * column) up to a sign per row (column): the sign is the one that makes them agree best. */
static void compare_signed(gcase *c, const char *gname, dc_tensor *got, bool by_cols) {
    const gt_tensor *e = need(c, gname);
    if (!e || !got) return;
    if (dc_tensor_numel(got) != e->numel || e->ndim != 2) {
        cfail(c, "%s: %lld values, golden has %lld", gname, (long long)dc_tensor_numel(got), (long long)e->numel);
        return;
    }
    int64_t rows = e->shape[0], cols = e->shape[1];
    int64_t nv = by_cols ? cols : rows, len = by_cols ? rows : cols;
    const float *g = dc_tensor_data(got);
    double *flipped = malloc((size_t)e->numel * sizeof(double));
    if (!flipped) return;
    for (int64_t v = 0; v < nv; v++) {
        double dot = 0;
        for (int64_t i = 0; i < len; i++) {
            int64_t at = by_cols ? i * cols + v : v * cols + i;
            dot += (double)g[at] * e->v[at];
        }
        double s = dot < 0 ? -1 : 1;
        for (int64_t i = 0; i < len; i++) {
            int64_t at = by_cols ? i * cols + v : v * cols + i;
            flipped[at] = s * e->v[at];
        }
    }
    compare_vals(c, gname, g, e->numel, e, flipped);
    free(flipped);
}

static int run_case(const char *name) {
    gcase c;
    if (!case_open(&c, DIR, name)) return case_close(&c);
    c.abs_tol = 2e-4; /* float32 data and float32 components; the covariance is double */
    c.rel_tol = 2e-4;
    const gt_tensor *cfg = need(&c, "cfg");
    dc_tensor *x = load_tensor(&c, "x", false), *xt = load_tensor(&c, "x_test", false);
    dc_pca *p = NULL;
    if (cfg && x && xt) {
        int64_t k = (int64_t)cfg->v[0];
        if (dc_pca_fit(x, k, &p)) fail_dc(&c, "dc_pca_fit");
    }
    if (p) {
        CHECK(dc_pca_components_count(p) == (int64_t)cfg->v[0]);
        CHECK(dc_pca_features(p) == dc_tensor_numel(x) / dc_tensor_dim(x, 0));
        dc_tensor *parts[5] = {dc_pca_get(p, DC_PCA_MEAN), dc_pca_get(p, DC_PCA_EXPLAINED_VARIANCE),
                               dc_pca_get(p, DC_PCA_EXPLAINED_VARIANCE_RATIO), dc_pca_get(p, DC_PCA_NOISE_VARIANCE),
                               dc_pca_get(p, DC_PCA_COMPONENTS)};
        const char *names[4] = {"mean", "explained_variance", "explained_variance_ratio", "noise_variance"};
        for (int i = 0; i < 4; i++) compare_tensor(&c, names[i], parts[i]);
        compare_signed(&c, "components", parts[4], false);
        /* each component has unit length, its largest entry positive */
        if (parts[4]) {
            const float *cp = dc_tensor_data(parts[4]);
            int64_t k = dc_tensor_dim(parts[4], 0), d = dc_tensor_dim(parts[4], 1);
            for (int64_t i = 0; i < k; i++) {
                double nrm = 0, big = 0;
                for (int64_t j = 0; j < d; j++) {
                    nrm += (double)cp[i * d + j] * cp[i * d + j];
                    if (fabs(cp[i * d + j]) > fabs(big)) big = cp[i * d + j];
                }
                CHECK_NEAR(nrm, 1.0, 1e-5);
                CHECK(big > 0);
            }
        }
        for (int i = 0; i < 5; i++) dc_tensor_free(parts[i]);

        dc_tensor *z = dc_pca_transform(p, xt);
        if (!z) fail_dc(&c, "dc_pca_transform");
        else compare_signed(&c, "z_test", z, true);
        dc_tensor *r = z ? dc_pca_inverse_transform(p, z) : NULL;
        if (z && !r) fail_dc(&c, "dc_pca_inverse_transform");
        if (r) {
            /* shaped as the fitted rows: [M, ...] like x_test */
            CHECK(dc_tensor_ndim(r) == dc_tensor_ndim(xt));
            for (int a = 0; a < dc_tensor_ndim(xt) && a < dc_tensor_ndim(r); a++) CHECK(dc_tensor_dim(r, a) == dc_tensor_dim(xt, a));
            compare_vals(&c, "recon_test (inverse_transform)", dc_tensor_data(r), dc_tensor_numel(r), need(&c, "recon_test"),
                         need(&c, "recon_test") ? need(&c, "recon_test")->v : NULL);
        }
        dc_tensor *r2 = dc_pca_reconstruct(p, xt);
        if (!r2) fail_dc(&c, "dc_pca_reconstruct");
        else compare_vals(&c, "recon_test (reconstruct)", dc_tensor_data(r2), dc_tensor_numel(r2), need(&c, "recon_test"),
                          need(&c, "recon_test")->v);
        dc_tensor_free(z);
        dc_tensor_free(r);
        dc_tensor_free(r2);
    }

    /* the same fit from a non-contiguous view of the rows (a transposed copy, transposed back) */
    if (p && dc_tensor_ndim(x) == 2) {
        int64_t n = dc_tensor_dim(x, 0), d = dc_tensor_dim(x, 1);
        dc_tensor *xtr = dc_tensor_new(2, (int64_t[]){d, n});
        for (int64_t i = 0; i < n; i++)
            for (int64_t j = 0; j < d; j++) dc_tensor_data(xtr)[j * n + i] = dc_tensor_data(x)[i * d + j];
        dc_ctx *ctx = dc_ctx_new();
        dc_tensor *view = dc_transpose(ctx, xtr, 0, 1);
        CHECK(view && !dc_tensor_is_contiguous(view));
        dc_pca *q = NULL;
        if (view && dc_pca_fit(view, dc_pca_components_count(p), &q) == DC_OK) {
            dc_tensor *a = dc_pca_reconstruct(p, xt), *b = dc_pca_reconstruct(q, xt);
            double worst = 0;
            for (int64_t i = 0; a && b && i < dc_tensor_numel(a); i++) {
                double dd = fabs((double)dc_tensor_data(a)[i] - dc_tensor_data(b)[i]);
                if (dd > worst) worst = dd;
            }
            CHECK(a && b && worst < 1e-4);
            dc_tensor *zv = dc_pca_transform(q, view); /* transform of a view as well */
            CHECK(zv && dc_tensor_dim(zv, 0) == n);
            dc_tensor_free(zv);
            dc_tensor_free(a);
            dc_tensor_free(b);
        } else {
            fail_dc(&c, "dc_pca_fit on a view");
        }
        dc_pca_free(q);
        dc_ctx_free(ctx);
        dc_tensor_free(xtr);
    }
    dc_pca_free(p);
    dc_tensor_free(x);
    dc_tensor_free(xt);
    if (c.failures) check_fails++;
    return case_close(&c);
}

static void test_errors(void) {
    dc_rng r;
    dc_rng_seed(&r, 7);
    dc_tensor *x = check_randn(&r, 2, (int64_t[]){6, 4});
    dc_pca *p = (dc_pca *)1;
    CHECK_ERR(dc_pca_fit(x, 5, &p), DC_ERR_ARG, "pca_fit", "5 components", "features 4");
    CHECK(p == NULL);
    CHECK_ERR(dc_pca_fit(x, 0, &p), DC_ERR_ARG, "0 components");
    CHECK_ERR(dc_pca_fit(NULL, 2, &p), DC_ERR_ARG, "NULL data");
    CHECK_ERR(dc_pca_fit(x, 2, NULL), DC_ERR_ARG, "NULL output");
    /* more components than rows */
    dc_tensor *wide = check_randn(&r, 2, (int64_t[]){3, 10});
    CHECK_ERR(dc_pca_fit(wide, 4, &p), DC_ERR_ARG, "4 components", "rows 3");
    /* fewer than 2 rows */
    dc_tensor *one = check_randn(&r, 2, (int64_t[]){1, 4});
    CHECK_ERR(dc_pca_fit(one, 1, &p), DC_ERR_SHAPE, "1 row", "at least 2");
    dc_tensor *flat = check_randn(&r, 1, (int64_t[]){8});
    CHECK_ERR(dc_pca_fit(flat, 1, &p), DC_ERR_SHAPE, "rows");
    /* non-finite values, named by row and feature */
    dc_tensor *bad = dc_tensor_clone(x);
    dc_tensor_data(bad)[2 * 4 + 3] = NAN;
    CHECK_ERR(dc_pca_fit(bad, 2, &p), DC_ERR_NUMERIC, "row 2, feature 3", "not finite");
    dc_tensor_data(bad)[2 * 4 + 3] = 0;
    dc_tensor_data(bad)[5 * 4 + 0] = -INFINITY;
    CHECK_ERR(dc_pca_fit(bad, 2, &p), DC_ERR_NUMERIC, "row 5, feature 0");
    CHECK(p == NULL);
    /* too many features for the covariance */
    dc_tensor *huge = dc_tensor_new(2, (int64_t[]){2, 20000});
    CHECK_ERR(dc_pca_fit(huge, 1, &p), DC_ERR_ARG, "20000 features");

    /* a good fit, then the wrong inputs of transform, inverse_transform and get */
    CHECK(dc_pca_fit(x, 2, &p) == DC_OK && p);
    dc_tensor *other = check_randn(&r, 2, (int64_t[]){3, 5});
    CHECK_NULL_ERR(dc_pca_transform(p, other), "pca_transform", "rows of 5 values", "4 features");
    CHECK_NULL_ERR(dc_pca_transform(p, NULL), "NULL data");
    CHECK_NULL_ERR(dc_pca_transform(NULL, x), "NULL PCA");
    CHECK_NULL_ERR(dc_pca_transform(p, flat), "pca_transform", "[rows, ...]");
    CHECK_NULL_ERR(dc_pca_inverse_transform(p, x), "pca_inverse_transform", "rows of 4 values", "2 components");
    CHECK_NULL_ERR(dc_pca_reconstruct(p, other), "pca_transform");
    CHECK_NULL_ERR(dc_pca_get(p, (dc_pca_part)99), "unknown part 99");
    CHECK_NULL_ERR(dc_pca_get(NULL, DC_PCA_MEAN), "NULL PCA");
    CHECK(dc_pca_components_count(NULL) == 0 && dc_pca_features(NULL) == 0);
    /* constant data: zero variance everywhere, the ratio is 0 rather than 0/0 */
    dc_tensor *flatdata = dc_tensor_new(2, (int64_t[]){5, 3});
    dc_tensor_fill(flatdata, 0.5f);
    dc_pca *q = NULL;
    CHECK(dc_pca_fit(flatdata, 2, &q) == DC_OK);
    dc_tensor *ratio = q ? dc_pca_get(q, DC_PCA_EXPLAINED_VARIANCE_RATIO) : NULL;
    CHECK(ratio && dc_tensor_data(ratio)[0] == 0 && dc_tensor_data(ratio)[1] == 0);
    dc_tensor *rec = q ? dc_pca_reconstruct(q, flatdata) : NULL;
    CHECK(rec && fabsf(dc_tensor_data(rec)[7] - 0.5f) < 1e-6f);
    dc_pca_free(NULL);
    dc_tensor *all[] = {x, wide, one, flat, bad, huge, other, flatdata, ratio, rec};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++) dc_tensor_free(all[i]);
    dc_pca_free(p);
    dc_pca_free(q);
}

int main(void) {
    const char *cases[] = {"pca_lowrank", "pca_partial", "pca_wide", "pca_full", "pca_images"};
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) run_case(cases[i]);
    test_errors();
    return check_report("test_pca");
}
