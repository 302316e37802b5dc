/* data: principal component analysis (scikit-learn's PCA without whitening): the covariance of
 * the centred rows, accumulated in double with dsyrk block by block, then its eigen-decomposition
 * (dc_sym_eigen, LAPACK's dsyevd); the components are the eigenvectors of the k largest
 * eigenvalues. */
#include "deepc/data.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../base/base.h"
#include "linalg.h"

/* rows centred and handed to dsyrk at a time: bounds the double copy to a few MiB per block */
#define PCA_BLOCK 2048
/* largest feature count: the D x D covariance in double is then 2 GiB */
#define PCA_MAX_FEATURES 16384

struct dc_pca {
    int64_t k, d;          /* components, features per row */
    int fndim;             /* the fitted rows' shape (x's axes after the first), for inverse_transform */
    int64_t fshape[DC_MAX_DIMS];
    int64_t nsamples;
    double *mean;          /* [d] */
    float *comp;           /* [k, d], row i the i-th principal axis (unit length) */
    double *var;           /* [k] explained variance: eigenvalue / (N - 1) */
    double *ratio;         /* [k] explained variance over the total variance */
    double noise_var;      /* mean of the discarded eigenvalues / (N - 1) (sklearn's noise_variance_) */
};

/* Contiguous view of x's data: x itself or an owned clone in *tmp. */
static const float *rows_of(const dc_tensor *x, dc_tensor **tmp) {
    *tmp = NULL;
    if (dc_tensor_is_contiguous(x)) return dc_tensor_data((dc_tensor *)x);
    *tmp = dc_tensor_clone(x);
    return *tmp ? dc_tensor_data(*tmp) : NULL;
}

void dc_pca_free(dc_pca *p) {
    if (!p) return;
    free(p->mean);
    free(p->comp);
    free(p->var);
    free(p->ratio);
    free(p);
}

dc_status dc_pca_fit(const dc_tensor *x, int64_t k, dc_pca **out) {
    if (!out) return dc_error(DC_ERR_ARG, "pca_fit: NULL output");
    *out = NULL;
    if (!x) return dc_error(DC_ERR_ARG, "pca_fit: NULL data");
    if (dc_tensor_ndim(x) < 2)
        return dc_error(DC_ERR_SHAPE, "pca_fit: data must be [rows, features...], got %d axis", dc_tensor_ndim(x));
    int64_t n = dc_tensor_dim(x, 0), d = n > 0 ? dc_tensor_numel(x) / n : 0;
    if (n < 2) return dc_error(DC_ERR_SHAPE, "pca_fit: %lld row%s: at least 2 are needed for a covariance", (long long)n, n == 1 ? "" : "s");
    if (d < 1) return dc_error(DC_ERR_SHAPE, "pca_fit: rows of 0 features");
    if (d > PCA_MAX_FEATURES)
        return dc_error(DC_ERR_ARG, "pca_fit: %lld features per row, at most %d (the covariance is features^2 doubles)",
                        (long long)d, PCA_MAX_FEATURES);
    if (k < 1 || k > d || k > n)
        return dc_error(DC_ERR_ARG, "pca_fit: %lld components must be in [1, min(rows %lld, features %lld)]", (long long)k,
                        (long long)n, (long long)d);
    dc_tensor *tmp;
    const float *xs = rows_of(x, &tmp);
    if (!xs) return dc_error(DC_ERR_NOMEM, "pca_fit: out of memory copying %lld x %lld data", (long long)n, (long long)d);
    for (int64_t i = 0; i < n * d; i++)
        if (!isfinite(xs[i])) {
            dc_tensor_free(tmp);
            return dc_error(DC_ERR_NUMERIC, "pca_fit: row %lld, feature %lld is not finite (%g)", (long long)(i / d),
                            (long long)(i % d), (double)xs[i]);
        }

    dc_pca *p = calloc(1, sizeof *p);
    double *cov = malloc((size_t)d * (size_t)d * sizeof(double));
    double *w = malloc((size_t)d * sizeof(double));
    int64_t bl = n < PCA_BLOCK ? n : PCA_BLOCK;
    double *blk = malloc((size_t)bl * (size_t)d * sizeof(double));
    if (p) {
        p->mean = calloc((size_t)d, sizeof(double));
        p->comp = malloc((size_t)k * (size_t)d * sizeof(float));
        p->var = malloc((size_t)k * sizeof(double));
        p->ratio = malloc((size_t)k * sizeof(double));
    }
    if (!p || !cov || !w || !blk || !p->mean || !p->comp || !p->var || !p->ratio) {
        dc_pca_free(p);
        free(cov);
        free(w);
        free(blk);
        dc_tensor_free(tmp);
        return dc_error(DC_ERR_NOMEM, "pca_fit: out of memory for a %lld x %lld covariance", (long long)d, (long long)d);
    }
    p->k = k;
    p->d = d;
    p->nsamples = n;
    p->fndim = dc_tensor_ndim(x) - 1;
    for (int i = 0; i < p->fndim; i++) p->fshape[i] = dc_tensor_dim(x, i + 1);

    /* mean in double, then the scatter matrix of the centred rows, block by block (lower triangle) */
    for (int64_t i = 0; i < n; i++)
        for (int64_t j = 0; j < d; j++) p->mean[j] += xs[i * d + j];
    for (int64_t j = 0; j < d; j++) p->mean[j] /= (double)n;
    memset(cov, 0, (size_t)d * (size_t)d * sizeof(double));
    for (int64_t r0 = 0; r0 < n; r0 += bl) {
        int64_t nb = n - r0 < bl ? n - r0 : bl;
        for (int64_t i = 0; i < nb; i++)
            for (int64_t j = 0; j < d; j++) blk[i * d + j] = (double)xs[(r0 + i) * d + j] - p->mean[j];
        /* cov += A^T A with A the centred block [nb, d]; dsyrk fills the upper triangle only */
        cblas_dsyrk(CblasRowMajor, CblasUpper, CblasTrans, (blasint)d, (blasint)nb, 1.0, blk, (blasint)d, 1.0, cov,
                    (blasint)d);
    }
    dc_tensor_free(tmp);
    free(blk);
    for (int64_t i = 0; i < d; i++) /* mirrored, so the matrix is whole whichever triangle LAPACK reads */
        for (int64_t j = 0; j < i; j++) cov[i * d + j] = cov[j * d + i];
    double total = 0;
    for (int64_t j = 0; j < d; j++) total += cov[j * d + j];

    dc_status st = dc_sym_eigen(d, cov, w, "the PCA covariance");
    if (st) {
        dc_pca_free(p);
        free(cov);
        free(w);
        return st;
    }
    /* eigenvalues come ascending: component i is eigenvector d-1-i. Each gets the sign that
     * makes its largest-magnitude entry positive, so fits of the same data agree. */
    for (int64_t i = 0; i < k; i++) {
        const double *v = cov + (d - 1 - i) * d;
        int64_t big = 0;
        for (int64_t j = 1; j < d; j++)
            if (fabs(v[j]) > fabs(v[big])) big = j;
        double s = v[big] < 0 ? -1.0 : 1.0;
        for (int64_t j = 0; j < d; j++) p->comp[i * d + j] = (float)(s * v[j]);
        double ev = w[d - 1 - i] > 0 ? w[d - 1 - i] : 0; /* rounding can leave tiny negatives */
        p->var[i] = ev / (double)(n - 1);
        p->ratio[i] = total > 0 ? ev / total : 0;
    }
    double rest = 0;
    int64_t nrest = (d < n ? d : n) - k;
    for (int64_t i = k; i < d; i++) rest += w[d - 1 - i] > 0 ? w[d - 1 - i] : 0;
    p->noise_var = nrest > 0 ? rest / (double)nrest / (double)(n - 1) : 0;
    free(cov);
    free(w);
    *out = p;
    return DC_OK;
}

/* Checks that x holds rows of `want` elements; returns the row count or -1 with an error. */
static int64_t rows_check(const char *fn, const dc_tensor *x, int64_t want, const char *what) {
    if (!x) {
        dc_error(DC_ERR_ARG, "%s: NULL data", fn);
        return -1;
    }
    if (dc_tensor_ndim(x) < 2) {
        dc_error(DC_ERR_SHAPE, "%s: data must be [rows, ...], got %d axis", fn, dc_tensor_ndim(x));
        return -1;
    }
    int64_t n = dc_tensor_dim(x, 0);
    if (n < 1 || dc_tensor_numel(x) / n != want) {
        dc_error(DC_ERR_SHAPE, "%s: rows of %lld values, the PCA has %lld %s", fn,
                 (long long)(n > 0 ? dc_tensor_numel(x) / n : 0), (long long)want, what);
        return -1;
    }
    return n;
}

dc_tensor *dc_pca_transform(const dc_pca *p, const dc_tensor *x) {
    if (!p) {
        dc_error(DC_ERR_ARG, "pca_transform: NULL PCA");
        return NULL;
    }
    int64_t n = rows_check("pca_transform", x, p->d, "features");
    if (n < 0) return NULL;
    dc_tensor *tmp;
    const float *xs = rows_of(x, &tmp);
    dc_tensor *z = xs ? dc_tensor_new(2, (int64_t[]){n, p->k}) : NULL;
    int64_t bl = n < PCA_BLOCK ? n : PCA_BLOCK;
    float *blk = malloc((size_t)bl * (size_t)p->d * sizeof(float));
    if (!z || !blk) {
        dc_tensor_free(tmp);
        dc_tensor_free(z);
        free(blk);
        dc_error(DC_ERR_NOMEM, "pca_transform: out of memory for %lld rows", (long long)n);
        return NULL;
    }
    float *zd = dc_tensor_data(z);
    /* z = (x - mean) components^T, the rows centred block by block */
    for (int64_t r0 = 0; r0 < n; r0 += bl) {
        int64_t nb = n - r0 < bl ? n - r0 : bl;
        for (int64_t i = 0; i < nb; i++)
            for (int64_t j = 0; j < p->d; j++) blk[i * p->d + j] = (float)((double)xs[(r0 + i) * p->d + j] - p->mean[j]);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (blasint)nb, (blasint)p->k, (blasint)p->d, 1.0f, blk,
                    (blasint)p->d, p->comp, (blasint)p->d, 0.0f, zd + r0 * p->k, (blasint)p->k);
    }
    free(blk);
    dc_tensor_free(tmp);
    return z;
}

dc_tensor *dc_pca_inverse_transform(const dc_pca *p, const dc_tensor *z) {
    if (!p) {
        dc_error(DC_ERR_ARG, "pca_inverse_transform: NULL PCA");
        return NULL;
    }
    int64_t n = rows_check("pca_inverse_transform", z, p->k, "components");
    if (n < 0) return NULL;
    dc_tensor *tmp;
    const float *zs = rows_of(z, &tmp);
    int64_t shape[DC_MAX_DIMS + 1];
    shape[0] = n;
    for (int i = 0; i < p->fndim; i++) shape[i + 1] = p->fshape[i];
    dc_tensor *x = zs && p->fndim + 1 <= DC_MAX_DIMS ? dc_tensor_new(p->fndim + 1, shape) : NULL;
    if (!x) {
        dc_tensor_free(tmp);
        dc_error(DC_ERR_NOMEM, "pca_inverse_transform: out of memory for %lld rows", (long long)n);
        return NULL;
    }
    float *xd = dc_tensor_data(x);
    for (int64_t i = 0; i < n; i++)
        for (int64_t j = 0; j < p->d; j++) xd[i * p->d + j] = (float)p->mean[j];
    /* x = z components + mean */
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (blasint)n, (blasint)p->d, (blasint)p->k, 1.0f, zs,
                (blasint)p->k, p->comp, (blasint)p->d, 1.0f, xd, (blasint)p->d);
    dc_tensor_free(tmp);
    return x;
}

dc_tensor *dc_pca_reconstruct(const dc_pca *p, const dc_tensor *x) {
    dc_tensor *z = dc_pca_transform(p, x);
    if (!z) return NULL;
    dc_tensor *r = dc_pca_inverse_transform(p, z);
    dc_tensor_free(z);
    if (r && dc_tensor_ndim(x) != dc_tensor_ndim(r) && dc_tensor_set_shape(r, dc_tensor_ndim(x), dc_tensor_shape(x))) {
        dc_tensor_free(r);
        return NULL;
    }
    return r;
}

int64_t dc_pca_components_count(const dc_pca *p) { return p ? p->k : 0; }
int64_t dc_pca_features(const dc_pca *p) { return p ? p->d : 0; }

dc_tensor *dc_pca_get(const dc_pca *p, dc_pca_part part) {
    if (!p) {
        dc_error(DC_ERR_ARG, "pca_get: NULL PCA");
        return NULL;
    }
    if ((int)part < 0 || part > DC_PCA_NOISE_VARIANCE) {
        dc_error(DC_ERR_ARG, "pca_get: unknown part %d", (int)part);
        return NULL;
    }
    int64_t n = part == DC_PCA_COMPONENTS ? p->k * p->d : part == DC_PCA_MEAN ? p->d : part == DC_PCA_NOISE_VARIANCE ? 1 : p->k;
    dc_tensor *t = part == DC_PCA_COMPONENTS ? dc_tensor_new(2, (int64_t[]){p->k, p->d}) : dc_tensor_new(1, &n);
    if (!t) return NULL;
    float *o = dc_tensor_data(t);
    for (int64_t i = 0; i < n; i++)
        o[i] = part == DC_PCA_COMPONENTS ? p->comp[i]
             : part == DC_PCA_MEAN       ? (float)p->mean[i]
             : part == DC_PCA_EXPLAINED_VARIANCE ? (float)p->var[i]
             : part == DC_PCA_EXPLAINED_VARIANCE_RATIO ? (float)p->ratio[i]
                                                       : (float)p->noise_var;
    return t;
}
