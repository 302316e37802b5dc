/* Image layers in models: shapes (valid/same padding, strides), training a small CNN with
 * batch normalisation, running statistics in inference, layout conversion, and bad input. */
#include "check.h"

#include <stdlib.h>

/* 8x8 images with one bright bar: class 0 vertical, 1 horizontal, 2 diagonal; plus noise. */
static void bars(int64_t n, dc_rng *r, dc_tensor **x, dc_tensor **y) {
    *x = dc_tensor_new(4, (int64_t[]){n, 1, 8, 8});
    *y = dc_tensor_new(1, (int64_t[]){n});
    float *X = dc_tensor_data(*x), *Y = dc_tensor_data(*y);
    for (int64_t i = 0; i < n; i++) {
        int k = (int)dc_rng_below(r, 3), p = (int)dc_rng_below(r, 8);
        float *img = X + i * 64;
        for (int j = 0; j < 64; j++) img[j] = 0.2f * dc_rng_uniform(r);
        for (int t = 0; t < 8; t++) {
            int row = k == 0 ? t : k == 1 ? p : t, col = k == 0 ? p : k == 1 ? t : (t + p) % 8;
            img[row * 8 + col] += 1.0f;
        }
        Y[i] = (float)k;
    }
}

static void test_shapes(void) {
    dc_model *m = dc_sequential();
    dc_model_add(m, dc_input(3, (int64_t[]){3, 32, 30}));
    dc_model_add(m, dc_conv2d_layer(8, 3, 3, 1, DC_PAD_SAME, DC_ACT_RELU));
    dc_model_add(m, dc_conv2d_layer(8, 4, 4, 2, DC_PAD_SAME, DC_ACT_NONE));
    dc_model_add(m, dc_conv2d_layer(4, 3, 3, 2, DC_PAD_VALID, DC_ACT_NONE));
    dc_model_add(m, dc_conv2d_transpose_layer(4, 3, 3, 2, DC_PAD_SAME, DC_ACT_NONE));
    dc_model_add(m, dc_upsample2d_layer(2, 2));
    dc_model_add(m, dc_avg_pool2d_layer(3, 3, 2));
    dc_model_add(m, dc_batch_norm_layer(0, 0));
    dc_model_add(m, dc_global_avg_pool2d_layer());
    CHECK(dc_model_build(m, 0, NULL) == DC_OK);
    const int64_t want[][3] = {{8, 32, 30}, {8, 16, 15}, {4, 7, 7}, {4, 14, 14}, {4, 28, 28}, {4, 13, 13}, {4, 13, 13}};
    for (int i = 0; i < 7; i++) {
        int64_t sh[DC_MAX_DIMS];
        int nd = dc_layer_output_shape(dc_model_layer(m, i + 1), sh);
        CHECK(nd == 3 && sh[0] == want[i][0] && sh[1] == want[i][1] && sh[2] == want[i][2]);
    }
    dc_tensor *x = dc_tensor_new(4, (int64_t[]){2, 3, 32, 30});
    dc_tensor *p = dc_model_predict(m, x, 2);
    CHECK(p && dc_tensor_ndim(p) == 2 && dc_tensor_dim(p, 1) == 4);
    CHECK(dc_model_param(m, "batch_normalization.running_var") != NULL);
    CHECK(dc_model_trainable_count(m) == dc_model_param_count(m) - 8);
    dc_tensor_free(p);
    dc_tensor_free(x);
    dc_model_free(m);
}

static void test_train_bn_cnn(void) {
    dc_rng r;
    dc_rng_seed(&r, 3);
    dc_tensor *x, *y, *xt, *yt;
    bars(600, &r, &x, &y);
    bars(200, &r, &xt, &yt);
    dc_model *m = dc_sequential();
    dc_model_set_seed(m, 11);
    dc_model_add(m, dc_input(3, (int64_t[]){1, 8, 8}));
    dc_model_add(m, dc_conv2d_layer(8, 3, 3, 1, DC_PAD_SAME, DC_ACT_NONE));
    dc_model_add(m, dc_batch_norm_layer(0.1f, 1e-3f));
    dc_model_add(m, dc_activation_layer(DC_ACT_RELU));
    dc_model_add(m, dc_max_pool2d_layer(2, 2, 0));
    dc_model_add(m, dc_flatten());
    dc_model_add(m, dc_dense(3, DC_ACT_SOFTMAX));
    dc_metric met[] = {DC_METRIC_ACCURACY};
    CHECK(dc_model_compile(m, dc_adam(1e-2f, 0.9f, 0.999f, 1e-7f), DC_LOSS_SPARSE_CCE, met, 1) == DC_OK);
    dc_fit_opts o = dc_fit_defaults();
    o.epochs = 8;
    o.verbose = 0;
    CHECK(dc_model_fit(m, x, y, &o, NULL) == DC_OK);
    double res[2];
    CHECK(dc_model_evaluate(m, xt, yt, 50, res) == DC_OK);
    CHECK(res[1] > 0.95);
    printf("bars CNN with batch norm: test accuracy %.3f\n", res[1]);
    /* the running statistics moved away from their initial values */
    dc_tensor *rm = dc_model_param(m, "batch_normalization.running_mean");
    dc_tensor *rv = dc_model_param(m, "batch_normalization.running_var");
    CHECK(rm && rv && dc_tensor_data(rm)[0] != 0.0f && dc_tensor_data(rv)[0] != 1.0f);
    /* inference is deterministic and independent of the batch (running statistics) */
    dc_tensor *p1 = dc_model_predict(m, xt, 1), *p2 = dc_model_predict(m, xt, 200);
    CHECK(p1 && p2);
    double md = 0;
    for (int64_t i = 0; p1 && p2 && i < dc_tensor_numel(p1); i++) {
        double d = fabs((double)dc_tensor_data(p1)[i] - dc_tensor_data(p2)[i]);
        md = d > md ? d : md;
    }
    CHECK(md < 1e-5);
    dc_tensor_free(p1);
    dc_tensor_free(p2);
    dc_model_free(m);
    dc_tensor *all[] = {x, y, xt, yt};
    for (int i = 0; i < 4; i++) dc_tensor_free(all[i]);
}

static void test_layout(void) {
    dc_tensor *a = dc_tensor_new(4, (int64_t[]){2, 3, 4, 5}); /* N H W C */
    for (int i = 0; i < 120; i++) dc_tensor_data(a)[i] = (float)i;
    dc_tensor *b = dc_nhwc_to_nchw(a);
    CHECK(b && dc_tensor_dim(b, 1) == 5 && dc_tensor_dim(b, 2) == 3 && dc_tensor_dim(b, 3) == 4);
    /* b[n=1, c=2, h=1, w=3] = a[1, 1, 3, 2] */
    CHECK(b && dc_tensor_get(b, (int64_t[]){1, 2, 1, 3}) == dc_tensor_get(a, (int64_t[]){1, 1, 3, 2}));
    CHECK(dc_tensor_set_shape(a, 2, (int64_t[]){2, 60}) == DC_OK);
    CHECK_ERR(dc_tensor_set_shape(a, 2, (int64_t[]){7, 7}), DC_ERR_SHAPE, "120 elements", "49");
    CHECK_NULL_ERR(dc_nhwc_to_nchw(a), "[N, H, W, C]", "[2, 60]");
    dc_tensor_free(a);
    dc_tensor_free(b);
}

static void test_bad_input(void) {
    /* 28x28 images into a model built for 32x32 */
    dc_model *m = dc_sequential();
    dc_model_add(m, dc_input(3, (int64_t[]){1, 32, 32}));
    dc_model_add(m, dc_conv2d_layer(4, 3, 3, 1, DC_PAD_VALID, DC_ACT_RELU));
    dc_model_add(m, dc_flatten());
    dc_model_add(m, dc_dense(2, DC_ACT_SOFTMAX));
    CHECK(dc_model_compile(m, dc_sgd(0.1f, 0, false), DC_LOSS_SPARSE_CCE, NULL, 0) == DC_OK);
    dc_tensor *x = dc_tensor_new(4, (int64_t[]){3, 1, 28, 28}), *y = dc_tensor_new(1, (int64_t[]){3});
    CHECK_ERR(dc_model_fit(m, x, y, NULL, NULL), DC_ERR_SHAPE, "conv2d", "(None, 1, 32, 32)", "[3, 1, 28, 28]");
    CHECK_NULL_ERR(dc_model_predict(m, x, 2), "conv2d", "(None, 1, 32, 32)");
    dc_model_free(m);
    /* a kernel larger than the (padded) input, found when the layer is connected */
    m = dc_sequential();
    dc_model_add(m, dc_input(3, (int64_t[]){1, 4, 4}));
    CHECK_ERR(dc_model_add(m, dc_conv2d_layer(2, 5, 5, 1, DC_PAD_VALID, DC_ACT_NONE)), DC_ERR_SHAPE, "conv2d", "5x5",
              "4x4");
    CHECK_ERR(dc_model_add(m, dc_max_pool2d_layer(6, 6, 0)), DC_ERR_SHAPE, "max_pooling2d", "6x6", "4x4");
    CHECK(dc_model_add(m, dc_conv2d_layer(2, 5, 5, 1, DC_PAD_SAME, DC_ACT_NONE)) == DC_OK); /* padded: fits */
    dc_model_free(m);
    /* a Dense-shaped input into a convolution */
    m = dc_sequential();
    dc_model_add(m, dc_input(1, (int64_t[]){16}));
    CHECK_ERR(dc_model_add(m, dc_conv2d_layer(2, 3, 3, 1, DC_PAD_VALID, DC_ACT_NONE)), DC_ERR_SHAPE, "conv2d",
              "(None, C, H, W)");
    dc_model_free(m);
    /* stride 0 and other bad options */
    CHECK_NULL_ERR(dc_conv2d_layer(4, 3, 3, 0, DC_PAD_VALID, DC_ACT_NONE), "stride", "0");
    CHECK_NULL_ERR(dc_conv2d_layer(0, 3, 3, 1, DC_PAD_VALID, DC_ACT_NONE), "filters");
    CHECK_NULL_ERR(dc_conv2d_layer(4, 0, 3, 1, DC_PAD_VALID, DC_ACT_NONE), "kernel");
    CHECK_NULL_ERR(dc_max_pool2d_layer(0, 2, 0), "pool");
    CHECK_NULL_ERR(dc_batch_norm_layer(1.5f, 0), "momentum");
    CHECK_NULL_ERR(dc_upsample2d_layer(0, 2), "factors");
    /* op level */
    dc_ctx *c = dc_ctx_new();
    dc_tensor *img = dc_zeros(c, 4, (int64_t[]){1, 2, 5, 5}), *w = dc_zeros(c, 4, (int64_t[]){3, 2, 3, 3});
    dc_tensor *w7 = dc_zeros(c, 4, (int64_t[]){3, 2, 7, 7}), *w1 = dc_zeros(c, 4, (int64_t[]){3, 1, 3, 3});
    CHECK_NULL_ERR(dc_conv2d(c, img, w, NULL, 0, 1, NULL), "conv2d", "stride");
    CHECK_NULL_ERR(dc_conv2d(c, img, w7, NULL, 1, 1, NULL), "conv2d", "7x7", "5x5");
    CHECK(dc_conv2d(c, img, w7, NULL, 1, 1, (const int[]){1, 1, 1, 1}) != NULL);
    CHECK_NULL_ERR(dc_conv2d(c, img, w1, NULL, 1, 1, NULL), "conv2d", "1 input channels", "got 2");
    CHECK_NULL_ERR(dc_conv2d(c, w, w, NULL, 1, 1, (const int[]){-1, 0, 0, 0}), "negative padding");
    CHECK_NULL_ERR(dc_max_pool2d(c, img, 6, 2, 1, 1), "max_pool2d", "6x2");
    CHECK_NULL_ERR(dc_max_pool2d(c, img, 2, 2, 0, 1), "stride");
    dc_tensor *one = dc_zeros(c, 2, (int64_t[]){1, 3});
    CHECK_NULL_ERR(dc_batch_norm(c, one, NULL, NULL, NULL, NULL, 0.1f, 1e-3f, true), "more than one value");
    CHECK_NULL_ERR(dc_batch_norm(c, one, NULL, NULL, NULL, NULL, 0.1f, 1e-3f, false), "running");
    dc_ctx_free(c);
    dc_tensor_free(x);
    dc_tensor_free(y);
}

/* Max pooling 2x2 / stride 2 against the definition (window in row-major order, a later element
 * wins when greater or NaN: the first maximum, or the last NaN), with many ties and some NaNs, on
 * planes of even width (one vectorised pass over the plane) and odd width or height, and pooled
 * rows of more than 16 outputs (the AVX-512 row kernel's second, masked step). */
static void test_maxpool_ties(void) {
    static const int64_t shapes[5][4] = {{2, 3, 6, 8}, {1, 2, 7, 10}, {1, 1, 5, 9}, {1, 2, 4, 36}, {1, 1, 5, 35}};
    dc_rng r;
    dc_rng_seed(&r, 5);
    for (int s = 0; s < 5; s++) {
        const int64_t *sh = shapes[s], H = sh[2], W = sh[3], OH = H / 2, OW = W / 2, P = sh[0] * sh[1];
        dc_tensor *x = dc_tensor_new(4, sh);
        float *X = dc_tensor_data(x);
        for (int64_t i = 0; i < dc_tensor_numel(x); i++) X[i] = dc_rng_below(&r, 40) == 0 ? NAN : (float)dc_rng_below(&r, 3);
        dc_tensor_set_requires_grad(x, true);
        dc_ctx *c = dc_ctx_new();
        dc_tensor *y = dc_max_pool2d(c, x, 2, 2, 2, 2);
        dc_tensor *g = dc_empty(c, 4, (int64_t[]){sh[0], sh[1], OH, OW});
        for (int64_t i = 0; g && i < dc_tensor_numel(g); i++) dc_tensor_data(g)[i] = (float)(i + 1);
        CHECK(y && g && dc_backward(c, dc_sum(c, dc_mul(c, y, g))) == DC_OK);
        float *ref_gx = calloc((size_t)dc_tensor_numel(x), sizeof(float));
        bool same = y != NULL;
        for (int64_t p = 0; same && p < P; p++)
            for (int64_t oy = 0; oy < OH; oy++)
                for (int64_t ox = 0; ox < OW; ox++) {
                    int64_t best = p * H * W + 2 * oy * W + 2 * ox;
                    for (int dy = 0; dy < 2; dy++)
                        for (int dx = 0; dx < 2; dx++) {
                            int64_t at = p * H * W + (2 * oy + dy) * W + 2 * ox + dx;
                            if (X[at] > X[best] || isnan(X[at])) best = at;
                        }
                    int64_t o = (p * OH + oy) * OW + ox;
                    float got = dc_tensor_data(y)[o];
                    same = same && (got == X[best] || (isnan(got) && isnan(X[best])));
                    ref_gx[best] += dc_tensor_data(g)[o];
                }
        CHECK(same);
        const float *gx = dc_tensor_data(dc_tensor_grad(x));
        CHECK(memcmp(gx, ref_gx, (size_t)dc_tensor_numel(x) * sizeof(float)) == 0);
        free(ref_gx);
        dc_ctx_free(c);
        dc_tensor_free(x);
    }
}

int main(void) {
    test_maxpool_ties();
    test_shapes();
    test_train_bn_cnn();
    test_layout();
    test_bad_input();
    return check_report("test_cnn");
}
