/* Scores of a classifier beyond accuracy: the confusion matrix of its predictions and, from it,
 * each class's recall and the balanced accuracy (scikit-learn's confusion_matrix and
 * balanced_accuracy_score). Inputs may be non-contiguous views; they are read through their
 * strides. */
#include "deepc/data.h"

#include "../tensor/tensor.h"

#include <math.h>
#include <string.h>

#define MAX_CLASSES 65536

/* The predicted class of row i: the index of the row's largest score (the first of equal
 * ones), or the row's value itself when the scores are class indices [N]. */
static dc_status predicted(const dc_tensor *s, int64_t i, int64_t nclasses, int64_t *out) {
    if (s->ndim == 1) {
        float v = s->data[i * s->stride[0]];
        if (!(v >= 0 && v < (float)nclasses && v == floorf(v)))
            return dc_error(DC_ERR_ARG, "confusion_matrix: row %lld predicts %g, which is not a class index in [0, %lld)",
                            (long long)i, (double)v, (long long)nclasses);
        *out = (int64_t)v;
        return DC_OK;
    }
    const float *row = s->data + i * s->stride[0];
    int64_t best = 0;
    for (int64_t c = 0; c < nclasses; c++) {
        float v = row[c * s->stride[1]];
        if (isnan(v))
            return dc_error(DC_ERR_NUMERIC, "confusion_matrix: the score of class %lld in row %lld is NaN", (long long)c,
                            (long long)i);
        if (v > row[best * s->stride[1]]) best = c;
    }
    *out = best;
    return DC_OK;
}

dc_status dc_confusion_matrix(const dc_tensor *scores, const dc_tensor *labels, int64_t nclasses, int64_t *counts) {
    if (!scores || !labels || !counts)
        return dc_error(DC_ERR_ARG, "confusion_matrix: scores, labels and counts are required");
    if (nclasses < 1 || nclasses > MAX_CLASSES)
        return dc_error(DC_ERR_ARG, "confusion_matrix: nclasses %lld is not in [1, %d]", (long long)nclasses, MAX_CLASSES);
    if (labels->ndim != 1)
        return dc_error(DC_ERR_SHAPE, "confusion_matrix: labels must be [N], got %s", dc_tshape(labels, 0));
    int64_t n = labels->shape[0];
    if (!((scores->ndim == 1 || (scores->ndim == 2 && scores->shape[1] == nclasses)) && scores->shape[0] == n))
        return dc_error(DC_ERR_SHAPE, "confusion_matrix: scores must be [%lld] (class indices) or [%lld, %lld] for labels %s, got %s",
                        (long long)n, (long long)n, (long long)nclasses, dc_tshape(labels, 0), dc_tshape(scores, 1));
    for (int64_t i = 0; i < n; i++) {
        float v = labels->data[i * labels->stride[0]];
        if (!(v >= 0 && v < (float)nclasses && v == floorf(v)))
            return dc_error(DC_ERR_ARG, "confusion_matrix: row %lld has label %g, which is not a class index in [0, %lld)",
                            (long long)i, (double)v, (long long)nclasses);
        int64_t p;
        dc_status s = predicted(scores, i, nclasses, &p);
        if (s) return s;
    }
    /* every row checked: nothing is written on error */
    memset(counts, 0, (size_t)(nclasses * nclasses) * sizeof *counts);
    for (int64_t i = 0; i < n; i++) {
        int64_t p;
        predicted(scores, i, nclasses, &p);
        counts[(int64_t)labels->data[i * labels->stride[0]] * nclasses + p]++;
    }
    return DC_OK;
}

dc_status dc_classification_scores(const int64_t *counts, int64_t nclasses, double *accuracy, double *balanced,
                                   double *recall) {
    if (!counts) return dc_error(DC_ERR_ARG, "classification_scores: counts is NULL");
    if (nclasses < 1 || nclasses > MAX_CLASSES)
        return dc_error(DC_ERR_ARG, "classification_scores: nclasses %lld is not in [1, %d]", (long long)nclasses,
                        MAX_CLASSES);
    int64_t total = 0, right = 0, present = 0;
    double sum = 0;
    for (int64_t t = 0; t < nclasses; t++) {
        int64_t rows = 0;
        for (int64_t p = 0; p < nclasses; p++) {
            int64_t v = counts[t * nclasses + p];
            if (v < 0)
                return dc_error(DC_ERR_ARG, "classification_scores: count [%lld, %lld] is negative (%lld)", (long long)t,
                                (long long)p, (long long)v);
            rows += v;
        }
        total += rows;
        right += counts[t * nclasses + t];
        if (rows > 0) {
            sum += (double)counts[t * nclasses + t] / (double)rows;
            present++;
        }
    }
    if (total == 0) return dc_error(DC_ERR_ARG, "classification_scores: the confusion matrix counts no rows");
    if (accuracy) *accuracy = (double)right / (double)total;
    if (balanced) *balanced = sum / (double)present;
    if (recall)
        for (int64_t t = 0; t < nclasses; t++) {
            int64_t rows = 0;
            for (int64_t p = 0; p < nclasses; p++) rows += counts[t * nclasses + p];
            recall[t] = rows > 0 ? (double)counts[t * nclasses + t] / (double)rows : NAN;
        }
    return DC_OK;
}
