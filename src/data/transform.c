/* Data preparation on owned tensors: feature scaling, train/test split, one-hot labels,
 * row selection and finiteness checks. "Rows" are always the first axis. Inputs may be
 * non-contiguous views; they are read through their strides. */
#include "deepc/data.h"

#include "../tensor/tensor.h"

#include <math.h>
#include <string.h>

/* x' = (x - offset[j]) / scale[j] for feature j; kept in double so that applying the
 * scaler to its own training data gives mean 0 / min 0 to float precision. */
struct dc_scaler {
    int64_t nfeat;
    double *offset;
    double *scale;
};

/* Elements per row: the product of every dimension but the first. */
static int64_t row_size(const dc_tensor *x) {
    int64_t n = 1;
    for (int d = 1; d < x->ndim; d++) n *= x->shape[d];
    return n;
}

/* Copies row i of x into dst[row_size(x)], whatever x's strides. */
static void copy_row(float *dst, const dc_tensor *x, int64_t i, int64_t rsize) {
    if (dc_tensor_is_contiguous(x)) {
        memcpy(dst, x->data + i * rsize, (size_t)rsize * sizeof(float));
        return;
    }
    /* a one-row view of x, read by the generic strided copy */
    dc_tensor row = *x;
    row.data = x->data + i * x->stride[0];
    row.shape[0] = 1;
    row.numel = rsize;
    dc_copy_strided(dst, &row);
}

static float *at2(const dc_tensor *x, int64_t i, int64_t j) {
    return x->data + i * x->stride[0] + j * x->stride[1];
}

static dc_scaler *scaler_new(int64_t nfeat) {
    size_t bytes;
    if (!dc_mul_ok((size_t)nfeat, 2 * sizeof(double), &bytes) || bytes > SIZE_MAX - sizeof(dc_scaler))
        return dc_error_null(DC_ERR_NOMEM, "scaler: %lld features are too many", (long long)nfeat);
    dc_scaler *s = dc_alloc(sizeof *s + bytes);
    if (!s) return NULL;
    s->nfeat = nfeat;
    s->offset = (double *)(s + 1);
    s->scale = s->offset + nfeat;
    return s;
}

/* Shared checks of the fit functions: a finite [rows >= 1, features >= 1] tensor. */
static dc_status fit_check(const dc_tensor *x, const char *who) {
    if (!x) return dc_error(DC_ERR_ARG, "%s: x is NULL", who);
    if (x->ndim != 2) return dc_error(DC_ERR_SHAPE, "%s: x must be [rows, features], got %s", who, dc_tshape(x, 0));
    if (x->shape[0] < 1 || x->shape[1] < 1)
        return dc_error(DC_ERR_SHAPE, "%s: x %s has no rows or no features", who, dc_tshape(x, 0));
    return dc_check_finite(x, who);
}

dc_scaler *dc_standard_scaler_fit(const dc_tensor *x) {
    if (fit_check(x, "standard scaler")) return NULL;
    int64_t rows = x->shape[0], nf = x->shape[1];
    dc_scaler *s = scaler_new(nf);
    if (!s) return NULL;
    for (int64_t j = 0; j < nf; j++) s->offset[j] = s->scale[j] = 0;
    for (int64_t i = 0; i < rows; i++)
        for (int64_t j = 0; j < nf; j++) s->offset[j] += *at2(x, i, j);
    for (int64_t j = 0; j < nf; j++) s->offset[j] /= (double)rows;
    /* two passes: the sum of squared deviations does not cancel like E[x^2] - E[x]^2 */
    for (int64_t i = 0; i < rows; i++)
        for (int64_t j = 0; j < nf; j++) {
            double d = *at2(x, i, j) - s->offset[j];
            s->scale[j] += d * d;
        }
    for (int64_t j = 0; j < nf; j++) {
        double sd = sqrt(s->scale[j] / (double)rows);
        s->scale[j] = sd > 0 ? sd : 1;
    }
    return s;
}

dc_scaler *dc_minmax_scaler_fit(const dc_tensor *x) {
    if (fit_check(x, "min-max scaler")) return NULL;
    int64_t rows = x->shape[0], nf = x->shape[1];
    dc_scaler *s = scaler_new(nf);
    if (!s) return NULL;
    for (int64_t j = 0; j < nf; j++) s->offset[j] = s->scale[j] = *at2(x, 0, j);
    /* scale holds the maximum until the end */
    for (int64_t i = 1; i < rows; i++)
        for (int64_t j = 0; j < nf; j++) {
            double v = *at2(x, i, j);
            if (v < s->offset[j]) s->offset[j] = v;
            if (v > s->scale[j]) s->scale[j] = v;
        }
    for (int64_t j = 0; j < nf; j++) {
        double range = s->scale[j] - s->offset[j];
        s->scale[j] = range > 0 ? range : 1;
    }
    return s;
}

dc_status dc_scaler_apply(const dc_scaler *s, dc_tensor *x) {
    if (!s || !x) return dc_error(DC_ERR_ARG, "scaler: scaler or x is NULL");
    if (x->ndim != 2) return dc_error(DC_ERR_SHAPE, "scaler: x must be [rows, features], got %s", dc_tshape(x, 0));
    if (x->shape[1] != s->nfeat)
        return dc_error(DC_ERR_SHAPE, "scaler: fitted on %lld features, got %lld (x is %s)", (long long)s->nfeat,
                        (long long)x->shape[1], dc_tshape(x, 0));
    for (int64_t i = 0; i < x->shape[0]; i++)
        for (int64_t j = 0; j < s->nfeat; j++) {
            float *v = at2(x, i, j);
            *v = (float)((*v - s->offset[j]) / s->scale[j]);
        }
    return DC_OK;
}

void dc_scaler_free(dc_scaler *s) { dc_free(s); }

/* Owned tensor of the rows idx[0..n) of x; the indices are already checked. */
static dc_tensor *gather(const dc_tensor *x, const int64_t *idx, int64_t n) {
    int64_t shape[DC_MAX_DIMS];
    memcpy(shape, x->shape, sizeof shape);
    shape[0] = n;
    dc_tensor *out = dc_tensor_alloc(x->ndim, shape);
    if (!out) return NULL;
    int64_t rsize = row_size(x);
    for (int64_t i = 0; i < n; i++) copy_row(out->data + i * rsize, x, idx[i], rsize);
    return out;
}

dc_tensor *dc_take_rows(const dc_tensor *x, const int64_t *idx, int64_t n) {
    if (!x) return dc_error_null(DC_ERR_ARG, "take_rows: x is NULL");
    if (n < 0 || (n > 0 && !idx))
        return dc_error_null(DC_ERR_ARG, "take_rows: needs n >= 0 indices (n = %lld, idx %s)", (long long)n,
                             idx ? "given" : "NULL");
    for (int64_t i = 0; i < n; i++)
        if (idx[i] < 0 || idx[i] >= x->shape[0])
            return dc_error_null(DC_ERR_ARG, "take_rows: idx[%lld] = %lld is out of range for %lld rows of %s",
                                 (long long)i, (long long)idx[i], (long long)x->shape[0], dc_tshape(x, 0));
    return gather(x, idx, n);
}

static dc_status split_check(const dc_tensor *x, const dc_tensor *y, float frac, dc_tensor **x_train,
                             dc_tensor **y_train, dc_tensor **x_test, dc_tensor **y_test) {
    if (!x || !x_train || !x_test) return dc_error(DC_ERR_ARG, "train_test_split: x, x_train and x_test are required");
    if (y && (!y_train || !y_test))
        return dc_error(DC_ERR_ARG, "train_test_split: y is given, so y_train and y_test are required");
    if (!(frac > 0 && frac < 1))
        return dc_error(DC_ERR_ARG, "train_test_split: test_fraction %g is not in (0, 1)", (double)frac);
    if (y && y->shape[0] != x->shape[0])
        return dc_error(DC_ERR_SHAPE, "train_test_split: x %s has %lld rows but y %s has %lld", dc_tshape(x, 0),
                        (long long)x->shape[0], dc_tshape(y, 1), (long long)y->shape[0]);
    return DC_OK;
}

dc_status dc_train_test_split(const dc_tensor *x, const dc_tensor *y, float test_fraction, uint64_t seed,
                              dc_tensor **x_train, dc_tensor **y_train, dc_tensor **x_test, dc_tensor **y_test) {
    dc_tensor **outs[4] = {x_train, y_train, x_test, y_test};
    for (int k = 0; k < 4; k++)
        if (outs[k]) *outs[k] = NULL;
    dc_status s = split_check(x, y, test_fraction, x_train, y_train, x_test, y_test);
    if (s) return s;
    int64_t rows = x->shape[0];
    int64_t ntest = llround((double)test_fraction * (double)rows), ntrain = rows - ntest;
    if (ntest < 1 || ntrain < 1)
        return dc_error(DC_ERR_ARG, "train_test_split: %lld rows with test_fraction %g leave %lld train and %lld test rows; both need at least 1",
                        (long long)rows, (double)test_fraction, (long long)ntrain, (long long)ntest);
    int64_t *idx = dc_calloc((size_t)rows, sizeof *idx);
    if (!idx) return DC_ERR_NOMEM;
    for (int64_t i = 0; i < rows; i++) idx[i] = i;
    dc_rng rng;
    dc_rng_seed(&rng, seed);
    dc_rng_shuffle(&rng, idx, rows);
    bool ok = (*x_train = gather(x, idx, ntrain)) && (*x_test = gather(x, idx + ntrain, ntest));
    if (ok && y) ok = (*y_train = gather(y, idx, ntrain)) && (*y_test = gather(y, idx + ntrain, ntest));
    dc_free(idx);
    if (ok) return DC_OK;
    for (int k = 0; k < 4; k++)
        if (outs[k]) {
            dc_tensor_free(*outs[k]);
            *outs[k] = NULL;
        }
    return DC_ERR_NOMEM;
}

dc_tensor *dc_one_hot(const dc_tensor *labels, int64_t num_classes) {
    if (!labels) return dc_error_null(DC_ERR_ARG, "one_hot: labels is NULL");
    if (num_classes < 1) return dc_error_null(DC_ERR_ARG, "one_hot: num_classes is %lld", (long long)num_classes);
    if (!(labels->ndim == 1 || (labels->ndim == 2 && labels->shape[1] == 1)))
        return dc_error_null(DC_ERR_SHAPE, "one_hot: labels must be [N] or [N, 1], got %s", dc_tshape(labels, 0));
    int64_t n = labels->shape[0];
    for (int64_t i = 0; i < n; i++) {
        float v = labels->data[i * labels->stride[0]];
        if (!(v >= 0 && v < (float)num_classes && v == floorf(v)))
            return dc_error_null(DC_ERR_ARG, "one_hot: row %lld has label %g, which is not a class index in [0, %lld)",
                                 (long long)i, (double)v, (long long)num_classes);
    }
    int64_t shape[2] = {n, num_classes};
    dc_tensor *out = dc_tensor_new(2, shape);
    if (!out) return NULL;
    for (int64_t i = 0; i < n; i++) out->data[i * num_classes + (int64_t)labels->data[i * labels->stride[0]]] = 1;
    return out;
}

