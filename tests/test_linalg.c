/* The symmetric eigen-decomposition under PCA and the Frechet distance (src/data/linalg.c):
 * eigenpairs of known matrices, reconstruction A = V^T diag(w) V, and its errors. */
#include <stdlib.h>

#include "check.h"
#include "data/linalg.h"

static void test_known(void) {
    /* [[2, 1], [1, 2]]: eigenvalues 1 and 3, eigenvectors (1, -1)/sqrt 2 and (1, 1)/sqrt 2 */
    double a[4] = {2, 1, 1, 2}, w[2];
    CHECK(dc_sym_eigen(2, a, w, "a") == DC_OK);
    CHECK_NEAR(w[0], 1, 1e-12);
    CHECK_NEAR(w[1], 3, 1e-12);
    CHECK_NEAR(fabs(a[0]), sqrt(0.5), 1e-12);
    CHECK_NEAR(a[0] * a[1], -0.5, 1e-12); /* row 0 is the eigenvector of 1 */
    CHECK_NEAR(a[2] * a[3], 0.5, 1e-12);
}

static void test_reconstruct(void) {
    enum { N = 7 };
    double m[N * N], a[N * N], w[N];
    dc_rng rng;
    dc_rng_seed(&rng, 3);
    for (int i = 0; i < N; i++)
        for (int j = 0; j <= i; j++) m[i * N + j] = m[j * N + i] = dc_rng_uniform(&rng) - 0.5;
    memcpy(a, m, sizeof m);
    CHECK(dc_sym_eigen(N, a, w, "m") == DC_OK);
    for (int i = 1; i < N; i++) CHECK(w[i - 1] <= w[i]);
    double worst = 0;
    for (int i = 0; i < N; i++)
        for (int j = 0; j < N; j++) {
            double s = 0;
            for (int k = 0; k < N; k++) s += a[k * N + i] * w[k] * a[k * N + j];
            worst = fmax(worst, fabs(s - m[i * N + j]));
        }
    CHECK(worst < 1e-12);
}

static void test_errors(void) {
    double a[4] = {1, NAN, NAN, 1}, w[2];
    CHECK_ERR(dc_sym_eigen(2, a, w, "covariance"), DC_ERR_NUMERIC, "covariance", "(0, 1)", "not finite");
    CHECK_ERR(dc_sym_eigen(0, a, w, "covariance"), DC_ERR_ARG, "covariance", "size 0");
}

int main(void) {
    test_known();
    test_reconstruct();
    test_errors();
    return check_report("test_linalg");
}
