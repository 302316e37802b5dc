/* The Frechet distance between feature sets (dc_frechet_distance, src/data/frechet.c): NumPy's
 * values for seeded sets (tests/golden/frechet, made by scripts/golden/gen_golden_frechet.py),
 * closed forms (a shift, a scaling, one feature, identical sets), strided input, symmetry, and
 * its errors. */
#include <stdlib.h>

#include "check.h"
#include "golden_io.h"

#define GOLDEN_DIR "tests/golden/frechet"

/* An owned float tensor of a golden tensor's values. */
static dc_tensor *from_golden(const gt_tensor *g) {
    dc_tensor *t = dc_tensor_new(g->ndim, g->shape);
    if (!t) return NULL;
    float *d = dc_tensor_data(t);
    for (int64_t i = 0; i < g->numel; i++) d[i] = (float)g->v[i];
    return t;
}

/* The case's distance against NumPy's to tol relative to max(1, d). */
static void golden_case(const char *name, double tol) {
    char path[256], err[768];
    snprintf(path, sizeof path, "%s/%s.txt", GOLDEN_DIR, name);
    gt_file f;
    bool ok = gt_load(&f, path, err, sizeof err);
    CHECK(ok);
    if (!ok) {
        fprintf(stderr, "%s\n", err);
        return;
    }
    const gt_tensor *ga = gt_find(&f, "a"), *gb = gt_find(&f, "b"), *gd = gt_find(&f, "d");
    CHECK(ga && gb && gd && gd->numel == 1);
    if (ga && gb && gd) {
        dc_tensor *a = from_golden(ga), *b = from_golden(gb);
        double d = -1, dr = -1, want = gd->v[0];
        CHECK(dc_frechet_distance(a, b, &d) == DC_OK);
        CHECK(dc_frechet_distance(b, a, &dr) == DC_OK); /* symmetric */
        CHECK_NEAR(d, want, tol * fmax(1.0, want));
        CHECK_NEAR(dr, want, tol * fmax(1.0, want));
        printf("golden %s: deepc %.12g, NumPy %.12g\n", name, d, want);
        dc_tensor_free(a);
        dc_tensor_free(b);
    }
    gt_free(&f);
}

static void test_golden(void) {
    golden_case("frechet_full_d4", 1e-10);
    golden_case("frechet_full_d16", 1e-10);
    golden_case("frechet_close_d8", 1e-10);
    golden_case("frechet_d1", 1e-10);
    /* zero eigenvalues: rounding leaves them about 1e-16 either side, whose square roots differ
     * by about 1e-8 between two correct computations */
    golden_case("frechet_singular_d6", 1e-6);
}

/* n rows of d standard normal features, mixed by a random matrix (full covariance). */
static dc_tensor *features(dc_rng *r, int64_t n, int64_t d) {
    dc_tensor *z = check_randn(r, 2, (int64_t[]){n, d}), *m = check_randn(r, 2, (int64_t[]){d, d});
    dc_tensor *x = dc_tensor_new(2, (int64_t[]){n, d});
    const float *zd = dc_tensor_data(z), *md = dc_tensor_data(m);
    float *xd = dc_tensor_data(x);
    for (int64_t i = 0; i < n; i++)
        for (int64_t j = 0; j < d; j++) {
            double s = 0;
            for (int64_t k = 0; k < d; k++) s += (double)zd[i * d + k] * md[k * d + j];
            xd[i * d + j] = (float)(s + 0.3 * (double)j);
        }
    dc_tensor_free(z);
    dc_tensor_free(m);
    return x;
}

static void test_closed_forms(void) {
    dc_rng r;
    dc_rng_seed(&r, 11);
    enum { N = 300, D = 12 };
    dc_tensor *a = features(&r, N, D);
    /* identical sets: 0 */
    double d = -1;
    CHECK(dc_frechet_distance(a, a, &d) == DC_OK);
    CHECK_NEAR(d, 0, 1e-9);
    /* b = a + v: the same covariance, so d = |v|^2 */
    dc_tensor *b = dc_tensor_clone(a), *c = dc_tensor_clone(a);
    double v2 = 0, mean2 = 0, tr = 0;
    const float *ad = dc_tensor_data(a);
    for (int j = 0; j < D; j++) {
        float v = (float)((j % 3) - 1) * 0.5f;
        v2 += (double)v * v;
        for (int i = 0; i < N; i++) dc_tensor_data(b)[i * D + j] = ad[i * D + j] + v;
    }
    CHECK(dc_frechet_distance(a, b, &d) == DC_OK);
    CHECK_NEAR(d, v2, 1e-5); /* a + v rounds each value to float32: about 1e-7 of it */
    /* c = 2 a: mean 2 mu, covariance 4 S, so d = |mu|^2 + (1 - 2)^2 Tr S (exact in float) */
    for (int j = 0; j < D; j++) {
        double mu = 0, s = 0;
        for (int i = 0; i < N; i++) mu += ad[i * D + j];
        mu /= N;
        for (int i = 0; i < N; i++) s += (ad[i * D + j] - mu) * (ad[i * D + j] - mu);
        mean2 += mu * mu;
        tr += s / (N - 1);
        for (int i = 0; i < N; i++) dc_tensor_data(c)[i * D + j] = 2 * ad[i * D + j];
    }
    CHECK(dc_frechet_distance(a, c, &d) == DC_OK);
    CHECK_NEAR(d, mean2 + tr, 1e-9 * (mean2 + tr));
    dc_tensor_free(a);
    dc_tensor_free(b);
    dc_tensor_free(c);

    /* one feature: (mu_a - mu_b)^2 + (sd_a - sd_b)^2; rows {0, 2} (mean 1, variance 2) against
     * {1, 5, 9} (mean 5, variance 16) */
    dc_tensor *p = dc_tensor_from(2, (int64_t[]){2, 1}, (float[]){0, 2});
    dc_tensor *q = dc_tensor_from(2, (int64_t[]){3, 1}, (float[]){1, 5, 9});
    CHECK(dc_frechet_distance(p, q, &d) == DC_OK);
    CHECK_NEAR(d, 16 + (4 - sqrt(2)) * (4 - sqrt(2)), 1e-12);
    dc_tensor_free(p);
    dc_tensor_free(q);

    /* diagonal covariances: sum over features of (mu differences)^2 + (sd_a - sd_b)^2; the rows
     * (+-1, +-2) in all four sign pairs have mean 0 and covariance diag(4/3, 16/3) */
    dc_tensor *e = dc_tensor_from(2, (int64_t[]){4, 2}, (float[]){1, 2, 1, -2, -1, 2, -1, -2});
    dc_tensor *f = dc_tensor_from(2, (int64_t[]){4, 2}, (float[]){4, 1, 4, -1, 2, 1, 2, -1}); /* mean (3, 0), diag(4/3, 4/3) */
    CHECK(dc_frechet_distance(e, f, &d) == DC_OK);
    double want = 9 + (sqrt(16.0 / 3) - sqrt(4.0 / 3)) * (sqrt(16.0 / 3) - sqrt(4.0 / 3));
    CHECK_NEAR(d, want, 1e-12);
    dc_tensor_free(e);
    dc_tensor_free(f);
}

/* A strided view (the transpose of a [D, N] tensor) gives what its contiguous copy gives. */
static void test_strided(void) {
    dc_rng r;
    dc_rng_seed(&r, 5);
    dc_tensor *at = check_randn(&r, 2, (int64_t[]){6, 40}), *b = features(&r, 30, 6);
    dc_ctx *ctx = dc_ctx_new();
    dc_tensor *view = dc_transpose(ctx, at, 0, 1);
    CHECK(view && !dc_tensor_is_contiguous(view));
    dc_tensor *copy = view ? dc_tensor_clone(view) : NULL;
    double d1 = -1, d2 = -2;
    CHECK(dc_frechet_distance(view, b, &d1) == DC_OK);
    CHECK(dc_frechet_distance(copy, b, &d2) == DC_OK);
    CHECK(d1 == d2);
    CHECK(d1 > 0);
    dc_tensor_free(copy);
    dc_ctx_free(ctx);
    dc_tensor_free(at);
    dc_tensor_free(b);
}

static void test_errors(void) {
    dc_tensor *a = dc_tensor_new(2, (int64_t[]){5, 3}), *b = dc_tensor_new(2, (int64_t[]){4, 4});
    dc_tensor *one = dc_tensor_new(2, (int64_t[]){1, 3}), *cube = dc_tensor_new(3, (int64_t[]){5, 3, 1});
    dc_tensor *c = dc_tensor_new(2, (int64_t[]){4, 3});
    double d = 42;
    CHECK_ERR(dc_frechet_distance(NULL, a, &d), DC_ERR_ARG, "dc_frechet_distance", "NULL");
    CHECK_ERR(dc_frechet_distance(a, a, NULL), DC_ERR_ARG, "NULL");
    CHECK_ERR(dc_frechet_distance(a, b, &d), DC_ERR_SHAPE, "a has 3 features", "b 4");
    CHECK_ERR(dc_frechet_distance(one, a, &d), DC_ERR_SHAPE, "a has 1 row", "at least 2");
    CHECK_ERR(dc_frechet_distance(a, one, &d), DC_ERR_SHAPE, "b has 1 row");
    CHECK_ERR(dc_frechet_distance(cube, a, &d), DC_ERR_SHAPE, "a has shape [5, 3, 1]", "[N, D]");
    dc_tensor_data(c)[2 * 3 + 1] = NAN;
    CHECK_ERR(dc_frechet_distance(a, c, &d), DC_ERR_NUMERIC, "b[2, 1]", "not finite");
    dc_tensor_data(c)[2 * 3 + 1] = 0;
    dc_tensor_data(a)[4 * 3 + 2] = -INFINITY;
    CHECK_ERR(dc_frechet_distance(a, c, &d), DC_ERR_NUMERIC, "a[4, 2]", "not finite");
    CHECK(d == 42); /* untouched by every failure */
    dc_tensor *all[] = {a, b, one, cube, c};
    for (int i = 0; i < 5; i++) dc_tensor_free(all[i]);
}

int main(void) {
    test_golden();
    test_closed_forms();
    test_strided();
    test_errors();
    return check_report("test_frechet");
}
