/* data: the Frechet distance between two sets of feature vectors, the distance between the
 * Gaussians fitted to them (the measure behind FID):
 *   d^2 = |mu_a - mu_b|^2 + Tr(Sa + Sb - 2 (Sa Sb)^(1/2)).
 *
 * Everything runs in double. The means and covariances (denominator N - 1, as numpy.cov) are
 * accumulated over blocks of centred rows with dsyrk, so a large feature set needs no copy of
 * its own. Tr (Sa Sb)^(1/2) is the sum of the square roots of the eigenvalues of
 * Sa^(1/2) Sb Sa^(1/2), a symmetric positive semi-definite matrix similar to Sa Sb. With
 * Sa = E^T W E (dc_sym_eigen: eigenvectors as the rows of E), Sa^(1/2) Sb Sa^(1/2) is, up to
 * the orthogonal change of basis E, H Sb H^T with H = W^(1/2) E, which two GEMMs give. Eigenvalues
 * that rounding leaves slightly negative count as zero, as the square root of a positive
 * semi-definite matrix has none; a result rounded below zero is reported as zero.
 */
#include "deepc/data.h"

#include "../tensor/tensor.h"
#include "linalg.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Rows of centred features per dsyrk call. */
#define FRECHET_BLOCK 256
/* The largest feature count (dc_sym_eigen's limit). */
#define FRECHET_MAX_D 65536

/* Element (i, j) of a 2-D tensor of any strides. */
static inline double at(const dc_tensor *x, int64_t i, int64_t j) { return (double)x->data[i * x->stride[0] + j * x->stride[1]]; }

/* The mean mu[D] and covariance cov[D x D] (full, row-major) of the rows of x [N, D]; which
 * names x in messages. blk holds FRECHET_BLOCK x D doubles of scratch. */
static dc_status moments(const dc_tensor *x, const char *which, double *mu, double *cov, double *blk) {
    int64_t n = x->shape[0], d = x->shape[1];
    memset(mu, 0, (size_t)d * sizeof *mu);
    for (int64_t i = 0; i < n; i++)
        for (int64_t j = 0; j < d; j++) {
            double v = at(x, i, j);
            if (!isfinite(v))
                return dc_error(DC_ERR_NUMERIC, "dc_frechet_distance: %s[%lld, %lld] is not finite (%g)", which, (long long)i,
                                (long long)j, v);
            mu[j] += v;
        }
    for (int64_t j = 0; j < d; j++) mu[j] /= (double)n;
    memset(cov, 0, (size_t)(d * d) * sizeof *cov);
    for (int64_t r = 0; r < n; r += FRECHET_BLOCK) {
        int64_t rows = n - r < FRECHET_BLOCK ? n - r : FRECHET_BLOCK;
        for (int64_t i = 0; i < rows; i++)
            for (int64_t j = 0; j < d; j++) blk[i * d + j] = at(x, r + i, j) - mu[j];
        /* the upper triangle of cov += blk^T blk */
        cblas_dsyrk(CblasRowMajor, CblasUpper, CblasTrans, (blasint)d, (blasint)rows, 1.0, blk, (blasint)d, 1.0, cov,
                    (blasint)d);
    }
    double inv = 1.0 / (double)(n - 1);
    for (int64_t i = 0; i < d; i++)
        for (int64_t j = i; j < d; j++) cov[j * d + i] = cov[i * d + j] *= inv;
    return DC_OK;
}

static dc_status check_features(const dc_tensor *x, const char *which) {
    char buf[96];
    if (x->ndim != 2)
        return dc_error(DC_ERR_SHAPE, "dc_frechet_distance: %s has shape %s; features must be [N, D]", which,
                        dc_shape_str(x->ndim, x->shape, buf, sizeof buf));
    if (x->shape[0] < 2)
        return dc_error(DC_ERR_SHAPE, "dc_frechet_distance: %s has %lld row%s; a covariance needs at least 2", which,
                        (long long)x->shape[0], x->shape[0] == 1 ? "" : "s");
    if (x->shape[1] < 1 || x->shape[1] > FRECHET_MAX_D)
        return dc_error(DC_ERR_SHAPE, "dc_frechet_distance: %s has %lld features per row; must be in [1, %d]", which,
                        (long long)x->shape[1], FRECHET_MAX_D);
    return DC_OK;
}

dc_status dc_frechet_distance(const dc_tensor *a, const dc_tensor *b, double *out) {
    if (!a || !b || !out) return dc_error(DC_ERR_ARG, "dc_frechet_distance: a, b or out is NULL");
    dc_status s = check_features(a, "a");
    if (!s) s = check_features(b, "b");
    if (s) return s;
    int64_t d = a->shape[1];
    if (b->shape[1] != d)
        return dc_error(DC_ERR_SHAPE, "dc_frechet_distance: a has %lld features per row and b %lld; they must be equal",
                        (long long)d, (long long)b->shape[1]);
    size_t dd = (size_t)d * (size_t)d;
    /* sa, sb, h, t: D x D each; mua, mub, w: D each; blk: the centred rows */
    double *mem = malloc((4 * dd + 3 * (size_t)d + (size_t)FRECHET_BLOCK * (size_t)d) * sizeof *mem);
    if (!mem)
        return dc_error(DC_ERR_NOMEM, "dc_frechet_distance: out of memory for 4 matrices of %lld x %lld", (long long)d,
                        (long long)d);
    double *sa = mem, *sb = sa + dd, *h = sb + dd, *t = h + dd, *mua = t + dd, *mub = mua + d, *w = mub + d, *blk = w + d;
    s = moments(a, "a", mua, sa, blk);
    if (!s) s = moments(b, "b", mub, sb, blk);
    double dist = 0;
    if (!s) {
        for (int64_t j = 0; j < d; j++) dist += (mua[j] - mub[j]) * (mua[j] - mub[j]) + sa[j * d + j] + sb[j * d + j];
        /* H = W^(1/2) E: the eigenvectors of Sa as rows, each scaled by its eigenvalue's root */
        memcpy(h, sa, dd * sizeof *h);
        s = dc_sym_eigen(d, h, w, "the covariance of a");
    }
    if (!s) {
        for (int64_t i = 0; i < d; i++) {
            double r = w[i] > 0 ? sqrt(w[i]) : 0;
            for (int64_t j = 0; j < d; j++) h[i * d + j] *= r;
        }
        /* t = H Sb, then sa (no longer needed) = t H^T = H Sb H^T, made exactly symmetric */
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (blasint)d, (blasint)d, (blasint)d, 1.0, h, (blasint)d, sb,
                    (blasint)d, 0.0, t, (blasint)d);
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (blasint)d, (blasint)d, (blasint)d, 1.0, t, (blasint)d, h,
                    (blasint)d, 0.0, sa, (blasint)d);
        for (int64_t i = 0; i < d; i++)
            for (int64_t j = i + 1; j < d; j++) sa[i * d + j] = sa[j * d + i] = 0.5 * (sa[i * d + j] + sa[j * d + i]);
        s = dc_sym_eigen(d, sa, w, "Sa^(1/2) Sb Sa^(1/2)");
    }
    if (!s) {
        double tr = 0;
        for (int64_t i = 0; i < d; i++) tr += w[i] > 0 ? sqrt(w[i]) : 0;
        dist -= 2 * tr;
        *out = dist > 0 ? dist : 0;
    }
    free(mem);
    return s;
}
