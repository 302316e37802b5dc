/* dc_confusion_matrix and dc_classification_scores: counts from probabilities and from class
 * indices, ties, strided views, the recall of a class without rows, balanced accuracy as
 * scikit-learn's balanced_accuracy_score, and every error case. */
#include "check.h"

static dc_tensor *from(int ndim, const int64_t *shape, const float *v) {
    return dc_tensor_from(ndim, shape, v);
}

static void test_counts(void) {
    /* rows' predictions: 0, 1 (largest), 1, 1, 0 (a tie of 0 and 1: the first), 2 */
    const float sc[] = {0.8f, 0.1f, 0.1f, 0.2f, 0.7f, 0.1f, 0.1f, 0.6f, 0.3f,
                        0.0f, 0.9f, 0.1f, 0.4f, 0.4f, 0.2f, 0.1f, 0.2f, 0.7f};
    const float lab[] = {0, 0, 1, 1, 1, 2};
    dc_tensor *s = from(2, (int64_t[]){6, 3}, sc), *y = from(1, (int64_t[]){6}, lab);
    int64_t cm[9];
    CHECK(dc_confusion_matrix(s, y, 3, cm) == DC_OK);
    const int64_t want[9] = {1, 1, 0, 1, 2, 0, 0, 0, 1};
    for (int i = 0; i < 9; i++) CHECK(cm[i] == want[i]);
    double acc, bal, rec[3];
    CHECK(dc_classification_scores(cm, 3, &acc, &bal, rec) == DC_OK);
    CHECK_NEAR(acc, 4.0 / 6.0, 1e-12);
    CHECK_NEAR(rec[0], 0.5, 1e-12);
    CHECK_NEAR(rec[1], 2.0 / 3.0, 1e-12);
    CHECK_NEAR(rec[2], 1.0, 1e-12);
    CHECK_NEAR(bal, (0.5 + 2.0 / 3.0 + 1.0) / 3.0, 1e-12); /* sklearn: 0.72222 */
    CHECK(dc_classification_scores(cm, 3, NULL, NULL, NULL) == DC_OK);

    /* the same predictions as class indices give the same counts */
    const float pred[] = {0, 1, 1, 1, 0, 2};
    dc_tensor *p = from(1, (int64_t[]){6}, pred);
    int64_t cm2[9];
    CHECK(dc_confusion_matrix(p, y, 3, cm2) == DC_OK);
    CHECK(memcmp(cm, cm2, sizeof cm) == 0);

    /* a class without rows: its recall is NaN and the balanced accuracy leaves it out */
    const float sc4[] = {0.9f, 0.1f, 0, 0, 0.1f, 0.9f, 0, 0, 0.1f, 0, 0, 0.9f};
    dc_tensor *s4 = from(2, (int64_t[]){3, 4}, sc4), *y4 = from(1, (int64_t[]){3}, (float[]){0, 1, 1});
    int64_t cm4[16];
    double rec4[4];
    CHECK(dc_confusion_matrix(s4, y4, 4, cm4) == DC_OK);
    CHECK(cm4[0] == 1 && cm4[5] == 1 && cm4[7] == 1);
    CHECK(dc_classification_scores(cm4, 4, &acc, &bal, rec4) == DC_OK);
    CHECK_NEAR(acc, 2.0 / 3.0, 1e-12);
    CHECK_NEAR(bal, (1.0 + 0.5) / 2.0, 1e-12);
    CHECK(isnan(rec4[2]) && isnan(rec4[3]));

    /* a strided view: the transpose of [3, 6] scores read as [6, 3] */
    float tsc[18];
    for (int i = 0; i < 6; i++)
        for (int c = 0; c < 3; c++) tsc[c * 6 + i] = sc[i * 3 + c];
    dc_ctx *ctx = dc_ctx_new();
    dc_tensor *t = from(2, (int64_t[]){3, 6}, tsc), *tv = dc_transpose(ctx, t, 0, 1);
    CHECK(tv != NULL && !dc_tensor_is_contiguous(tv));
    if (tv) {
        int64_t cm3[9];
        CHECK(dc_confusion_matrix(tv, y, 3, cm3) == DC_OK);
        CHECK(memcmp(cm, cm3, sizeof cm) == 0);
    }
    dc_ctx_free(ctx);
    dc_tensor *all[] = {s, y, p, s4, y4, t};
    for (int i = 0; i < 6; i++) dc_tensor_free(all[i]);
}

static void test_errors(void) {
    dc_tensor *s = from(2, (int64_t[]){2, 2}, (float[]){0.1f, 0.9f, 0.6f, 0.4f});
    dc_tensor *y = from(1, (int64_t[]){2}, (float[]){1, 0});
    int64_t cm[9] = {7, 7, 7, 7, 7, 7, 7, 7, 7};
    CHECK_ERR(dc_confusion_matrix(NULL, y, 2, cm), DC_ERR_ARG, "confusion_matrix");
    CHECK_ERR(dc_confusion_matrix(s, NULL, 2, cm), DC_ERR_ARG, "confusion_matrix");
    CHECK_ERR(dc_confusion_matrix(s, y, 2, NULL), DC_ERR_ARG, "confusion_matrix");
    CHECK_ERR(dc_confusion_matrix(s, y, 0, cm), DC_ERR_ARG, "nclasses 0");
    CHECK_ERR(dc_confusion_matrix(s, y, 3, cm), DC_ERR_SHAPE, "[2, 3]", "[2, 2]");
    dc_tensor *y3 = from(1, (int64_t[]){3}, (float[]){0, 1, 0});
    CHECK_ERR(dc_confusion_matrix(s, y3, 2, cm), DC_ERR_SHAPE, "[3, 2]");
    dc_tensor *y2d = from(2, (int64_t[]){2, 1}, (float[]){0, 1});
    CHECK_ERR(dc_confusion_matrix(s, y2d, 2, cm), DC_ERR_SHAPE, "labels must be [N]");
    dc_tensor *bad = from(1, (int64_t[]){2}, (float[]){1, 2});
    CHECK_ERR(dc_confusion_matrix(s, bad, 2, cm), DC_ERR_ARG, "row 1", "label 2");
    dc_tensor *frac = from(1, (int64_t[]){2}, (float[]){0.5f, 1});
    CHECK_ERR(dc_confusion_matrix(s, frac, 2, cm), DC_ERR_ARG, "row 0", "label 0.5");
    CHECK_ERR(dc_confusion_matrix(frac, y, 2, cm), DC_ERR_ARG, "row 0 predicts 0.5");
    dc_tensor *nan = from(2, (int64_t[]){2, 2}, (float[]){0.1f, 0.9f, NAN, 0.4f});
    CHECK_ERR(dc_confusion_matrix(nan, y, 2, cm), DC_ERR_NUMERIC, "class 0 in row 1");
    CHECK(cm[0] == 7 && cm[3] == 7); /* nothing written on error */

    int64_t neg[4] = {1, -1, 0, 1}, zero[4] = {0, 0, 0, 0};
    double acc;
    CHECK_ERR(dc_classification_scores(NULL, 2, &acc, NULL, NULL), DC_ERR_ARG, "counts is NULL");
    CHECK_ERR(dc_classification_scores(zero, 0, &acc, NULL, NULL), DC_ERR_ARG, "nclasses 0");
    CHECK_ERR(dc_classification_scores(neg, 2, &acc, NULL, NULL), DC_ERR_ARG, "[0, 1] is negative");
    CHECK_ERR(dc_classification_scores(zero, 2, &acc, NULL, NULL), DC_ERR_ARG, "no rows");
    dc_tensor *all[] = {s, y, y3, y2d, bad, frac, nan};
    for (int i = 0; i < 7; i++) dc_tensor_free(all[i]);
}

int main(void) {
    test_counts();
    test_errors();
    return check_report("test_class_metrics");
}
