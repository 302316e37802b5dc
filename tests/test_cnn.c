/* Image layers in models: shapes (valid/same padding, strides), training a small CNN with
 * batch normalisation, running statistics in inference, layout conversion, and bad input. */
#include "check.h"
#include "kernels/kernels.h"
#include "ops/ops.h"

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

/* Relative difference of two float arrays against the larger magnitude. */
static double rel_diff(const float *a, const float *b, int64_t n) {
    double worst = 0, big = 1e-30;
    for (int64_t i = 0; i < n; i++) big = fmax(big, fabs(b[i]));
    for (int64_t i = 0; i < n; i++) worst = fmax(worst, fabs((double)a[i] - b[i]) / big);
    return worst;
}

/* conv2d + activation + max pool as one op against the two separate ops, forward bit for bit and
 * every gradient: odd convolution outputs, overlapping and stride-1 windows, padding, batches
 * smaller and larger than the thread team, with and without bias, input gradient or not. Run with
 * the direct kernels of few-tap convolutions (conv_direct.c, where the CPU has them) and without. */
static void test_conv_pool_fused(void) {
    typedef struct { int64_t N, C, H, W, F, k; int cs, pad, pk, ps; dc_activation act; float alpha; bool bias, gx; } cfg;
    static const cfg cases[] = {
        {5, 2, 9, 11, 3, 3, 1, 0, 2, 2, DC_ACT_RELU, 0, true, true},   {1, 3, 8, 8, 4, 3, 1, 1, 3, 2, DC_ACT_TANH, 0, true, true},
        {4, 1, 12, 10, 2, 3, 2, 0, 2, 1, DC_ACT_NONE, 0, false, true}, {6, 2, 7, 9, 5, 2, 1, 0, 2, 2, DC_ACT_ELU, 0.7f, true, false},
        {3, 1, 28, 28, 8, 3, 1, 0, 2, 2, DC_ACT_RELU, 0, true, false}, {2, 2, 6, 7, 3, 3, 1, 1, 2, 2, DC_ACT_LEAKY_RELU, 0, true, true},
        /* two column blocks, an odd filter count, 27 and 25 taps, with and without bias */
        {4, 3, 20, 37, 5, 3, 1, 1, 2, 2, DC_ACT_RELU, 0, true, false},  {2, 1, 11, 40, 3, 5, 1, 2, 2, 2, DC_ACT_LEAKY_RELU, 0.2f, false, false},
        {3, 3, 9, 35, 7, 3, 1, 0, 2, 2, DC_ACT_NONE, 0, true, false},
    };
    dc_rng r;
    dc_rng_seed(&r, 11);
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        const cfg *q = &cases[k];
        dc_tensor *x = check_randn(&r, 4, (int64_t[]){q->N, q->C, q->H, q->W});
        dc_tensor *w = check_randn(&r, 4, (int64_t[]){q->F, q->C, q->k, q->k}), *b = check_randn(&r, 1, (int64_t[]){q->F});
        const int pad[4] = {q->pad, q->pad, q->pad, q->pad};
        dc_tensor *bb = q->bias ? b : NULL;
        float *grads[2][3] = {{0}};
        dc_tensor *outs[2] = {0};
        dc_tensor *R = NULL;
        for (int fused = 0; fused < 2; fused++) {
            dc_tensor_set_requires_grad(x, q->gx);
            dc_tensor_set_requires_grad(w, true);
            dc_tensor_set_requires_grad(b, q->bias);
            dc_tensor_zero_grad(x);
            dc_tensor_zero_grad(w);
            dc_tensor_zero_grad(b);
            dc_ctx *c = dc_ctx_new();
            dc_tensor *y = fused ? dc_conv2d_act_maxpool(c, x, w, bb, q->cs, q->cs, pad, q->act, q->alpha, q->pk, q->pk, q->ps, q->ps)
                                 : dc_max_pool2d(c, dc_conv2d_act(c, x, w, bb, q->cs, q->cs, pad, q->act, q->alpha), q->pk, q->pk,
                                                 q->ps, q->ps);
            CHECK(y != NULL);
            if (!y) {
                fprintf(stderr, "case %zu: %s\n", k, dc_last_error());
                dc_ctx_free(c);
                continue;
            }
            if (!R) R = check_randn(&r, dc_tensor_ndim(y), dc_tensor_shape(y));
            outs[fused] = dc_tensor_new(dc_tensor_ndim(y), dc_tensor_shape(y));
            memcpy(dc_tensor_data(outs[fused]), dc_tensor_data(y), (size_t)dc_tensor_numel(y) * sizeof(float));
            CHECK(dc_backward(c, dc_sum(c, dc_mul(c, y, R))) == DC_OK);
            dc_tensor *ts[3] = {x, w, b};
            for (int t = 0; t < 3; t++) {
                if (!dc_tensor_grad(ts[t]) || (t == 0 && !q->gx) || (t == 2 && !q->bias)) continue;
                grads[fused][t] = malloc((size_t)dc_tensor_numel(ts[t]) * sizeof(float));
                memcpy(grads[fused][t], dc_tensor_data(dc_tensor_grad(ts[t])), (size_t)dc_tensor_numel(ts[t]) * sizeof(float));
            }
            dc_ctx_free(c);
        }
        if (outs[0] && outs[1]) {
            CHECK(dc_tensor_numel(outs[0]) == dc_tensor_numel(outs[1]));
            CHECK(memcmp(dc_tensor_data(outs[0]), dc_tensor_data(outs[1]), (size_t)dc_tensor_numel(outs[0]) * sizeof(float)) == 0);
        }
        dc_tensor *ts[3] = {x, w, b};
        for (int t = 0; t < 3; t++) {
            bool want = !((t == 0 && !q->gx) || (t == 2 && !q->bias));
            CHECK(want == (grads[0][t] != NULL) && want == (grads[1][t] != NULL));
            if (grads[0][t] && grads[1][t]) {
                double d = rel_diff(grads[1][t], grads[0][t], dc_tensor_numel(ts[t]));
                CHECK(d < 1e-5);
                if (d >= 1e-5) fprintf(stderr, "conv+pool case %zu, gradient %d: relative difference %.3g\n", k, t, d);
            }
            free(grads[0][t]);
            free(grads[1][t]);
        }
        dc_tensor_free(outs[0]);
        dc_tensor_free(outs[1]);
        dc_tensor_free(R);
        dc_tensor_free(x);
        dc_tensor_free(w);
        dc_tensor_free(b);
    }
    /* bad windows: named op and numbers, nothing returned */
    dc_tensor *x = check_randn(&r, 4, (int64_t[]){2, 1, 5, 5}), *w = check_randn(&r, 4, (int64_t[]){2, 1, 3, 3});
    dc_ctx *c = dc_ctx_new();
    CHECK(!dc_conv2d_act_maxpool(c, x, w, NULL, 1, 1, NULL, DC_ACT_RELU, 0, 4, 4, 1, 1));
    CHECK(strstr(dc_last_error(), "conv2d+max_pool2d: pool 4x4 is larger than the convolution's output 3x3") != NULL);
    CHECK(!dc_conv2d_act_maxpool(c, x, w, NULL, 1, 1, NULL, DC_ACT_RELU, 0, 2, 2, 0, 2));
    CHECK(strstr(dc_last_error(), "stride (0, 2) must be positive") != NULL);
    CHECK(!dc_conv2d_act_maxpool(c, x, w, NULL, 1, 1, NULL, DC_ACT_SOFTMAX, 0, 2, 2, 2, 2));
    CHECK(strstr(dc_last_error(), "cannot be fused") != NULL);
    dc_ctx_free(c);
    dc_tensor_free(x);
    dc_tensor_free(w);
}

/* The direct kernels (conv_direct.c: few taps, few filters, and the backward of few filters)
 * against the im2col path: outputs and every gradient within float32's rounding, over odd sizes,
 * paddings up to the kernel's, one to five filters and one to 64 channels. Where the CPU lacks
 * the kernels both runs take the im2col path and agree exactly. */
static void test_conv_direct_paths(void) {
    typedef struct { int64_t N, C, H, W, F, kh, kw; int pad[4]; bool bias; } cfg;
    static const cfg cases[] = {
        {2, 64, 13, 21, 1, 3, 3, {1, 1, 1, 1}, true},  {3, 5, 17, 9, 2, 3, 3, {0, 0, 0, 0}, false},
        {1, 3, 20, 40, 3, 3, 3, {1, 1, 1, 1}, true},   {2, 16, 9, 9, 1, 5, 5, {2, 2, 2, 2}, true},
        {4, 1, 11, 37, 5, 3, 3, {0, 1, 2, 1}, true},   {2, 8, 7, 33, 2, 1, 1, {0, 0, 0, 0}, true},
        {1, 2, 6, 6, 1, 2, 3, {1, 2, 0, 0}, false},
    };
    /* a 1 x 1 kernel takes im2col + GEMM (its columns are the image itself); a 3 x 3 of few taps
     * or few filters takes the direct kernels where the CPU has them */
    const dc_conv_geom g1 = {8, 7, 33, 1, 1, 1, 1, 0, 0, 7, 33}, g3 = {3, 9, 9, 3, 3, 1, 1, 0, 0, 7, 7};
    CHECK(!dc_conv_direct_applies(&g1, 2) && !dc_conv_direct_backward_applies(&g1, 2));
    CHECK(dc_conv_direct_applies(&g3, 4) == dc_k_avx512_usable());
    CHECK(dc_conv_direct_backward_applies(&g3, 3) == dc_k_avx512_usable());
    dc_rng r;
    dc_rng_seed(&r, 21);
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        const cfg *q = &cases[k];
        dc_tensor *x = check_randn(&r, 4, (int64_t[]){q->N, q->C, q->H, q->W});
        dc_tensor *w = check_randn(&r, 4, (int64_t[]){q->F, q->C, q->kh, q->kw}), *b = check_randn(&r, 1, (int64_t[]){q->F});
        dc_tensor *ts[3] = {x, w, b}, *R = NULL;
        float *res[2][4] = {{0}};
        int64_t ny = 0;
        for (int direct = 1; direct >= 0; direct--) {
            dc_conv_direct_enable(direct);
            for (int t = 0; t < 3; t++) {
                dc_tensor_set_requires_grad(ts[t], t < 2 || q->bias);
                dc_tensor_zero_grad(ts[t]);
            }
            dc_ctx *c = dc_ctx_new();
            dc_tensor *y = dc_conv2d(c, x, w, q->bias ? b : NULL, 1, 1, q->pad);
            CHECK(y != NULL);
            if (!y) {
                fprintf(stderr, "direct case %zu: %s\n", k, dc_last_error());
                dc_ctx_free(c);
                continue;
            }
            if (!R) R = check_randn(&r, dc_tensor_ndim(y), dc_tensor_shape(y));
            ny = dc_tensor_numel(y);
            res[direct][3] = malloc((size_t)ny * sizeof(float));
            memcpy(res[direct][3], dc_tensor_data(y), (size_t)ny * sizeof(float));
            CHECK(dc_backward(c, dc_sum(c, dc_mul(c, y, R))) == DC_OK);
            for (int t = 0; t < 3; t++) {
                if (t == 2 && !q->bias) continue;
                res[direct][t] = malloc((size_t)dc_tensor_numel(ts[t]) * sizeof(float));
                memcpy(res[direct][t], dc_tensor_data(dc_tensor_grad(ts[t])), (size_t)dc_tensor_numel(ts[t]) * sizeof(float));
            }
            dc_ctx_free(c);
        }
        dc_conv_direct_enable(true);
        for (int t = 0; t < 4; t++) {
            if (!res[0][t] || !res[1][t]) continue;
            double d = rel_diff(res[1][t], res[0][t], t == 3 ? ny : dc_tensor_numel(ts[t]));
            CHECK(d < 1e-5);
            if (d >= 1e-5) fprintf(stderr, "direct case %zu, %s: relative difference %.3g\n", k, t == 3 ? "output" : "gradient", d);
            free(res[0][t]);
            free(res[1][t]);
        }
        dc_tensor_free(R);
        dc_tensor_free(x);
        dc_tensor_free(w);
        dc_tensor_free(b);
    }
}

/* In a model, Conv2D -> MaxPooling2D runs as the fused op only when nothing else reads the
 * convolution: a graph whose convolution also feeds a second branch gives what the separate ops
 * give, and so does the Sequential form. */
static void test_conv_pool_in_models(void) {
    dc_rng r;
    dc_rng_seed(&r, 12);
    dc_tensor *x = check_randn(&r, 4, (int64_t[]){3, 1, 8, 8});
    for (int graph = 0; graph < 2; graph++) {
        dc_model *m = dc_sequential();
        dc_model_set_seed(m, 3);
        dc_layer *cv = dc_conv2d_layer(4, 3, 3, 1, DC_PAD_VALID, DC_ACT_RELU);
        dc_layer_set_name(cv, "cv");
        if (graph) {
            int in = dc_model_input(m, NULL, 3, (int64_t[]){1, 8, 8});
            int a = dc_model_apply(m, cv, 1, &in);
            int p = dc_model_apply(m, dc_max_pool2d_layer(2, 2, 0), 1, &a);
            int g1 = dc_model_apply(m, dc_global_avg_pool2d_layer(), 1, &p);
            int g2 = dc_model_apply(m, dc_global_avg_pool2d_layer(), 1, &a);
            CHECK(dc_model_apply(m, dc_add_layer(), 2, (int[]){g1, g2}) >= 0);
        } else {
            dc_model_add(m, dc_input(3, (int64_t[]){1, 8, 8}));
            dc_model_add(m, cv);
            dc_model_add(m, dc_max_pool2d_layer(2, 2, 0));
            dc_model_add(m, dc_global_avg_pool2d_layer());
        }
        CHECK(dc_model_compile(m, dc_sgd(0.1f, 0, false), DC_LOSS_MSE, NULL, 0) == DC_OK);
        dc_tensor *got = dc_model_predict(m, x, 2);
        dc_ctx *c = dc_ctx_new();
        dc_ctx_set_grad(c, false);
        dc_tensor *a = dc_conv2d_act(c, x, dc_model_param(m, "cv.weight"), dc_model_param(m, "cv.bias"), 1, 1, NULL, DC_ACT_RELU, 0);
        dc_tensor *want = dc_global_avg_pool2d(c, dc_max_pool2d(c, a, 2, 2, 2, 2));
        if (graph) want = dc_add(c, want, dc_global_avg_pool2d(c, a));
        CHECK(got && want && dc_tensor_numel(got) == dc_tensor_numel(want));
        if (got && want) CHECK(rel_diff(dc_tensor_data(got), dc_tensor_data(want), dc_tensor_numel(want)) < 1e-6);
        dc_ctx_free(c);
        dc_tensor_free(got);
        dc_model_free(m);
    }
    dc_tensor_free(x);
}

/* im2col and col2im against their definition (col[(c, ky, kx), (oy, ox)] = x[c, oy*sh - pt + ky,
 * ox*sw - pl + kx], zero outside), with the columns at a wider stride (ld) as grouped images
 * use them: geometries whose taps read whole rows (1x1, the centre column of "same" kernels,
 * padding above and below), stride 2, side padding, rectangular kernels, and small "same"
 * planes taken whole (im2col.c's flat path). col2im adds into
 * what x held. */
static void test_im2col_geometries(void) {
    const int64_t geo[][8] = {
        /* C, H, W, kh, kw, stride, pad top, pad left */
        {3, 7, 7, 1, 1, 1, 0, 0}, {2, 6, 5, 3, 3, 1, 1, 1}, {2, 5, 6, 5, 5, 1, 2, 2}, {1, 6, 6, 3, 1, 1, 1, 0},
        {2, 7, 5, 3, 3, 2, 1, 1}, {2, 6, 6, 5, 5, 1, 0, 0}, {1, 5, 7, 1, 3, 1, 0, 1}, {2, 4, 4, 2, 2, 1, 0, 0},
        {1, 6, 6, 3, 3, 1, 2, 1}, {3, 3, 3, 3, 3, 1, 1, 1},
        /* "same" planes narrower than 16 up to 256 positions: the flat path of whole planes */
        {2, 16, 15, 3, 3, 1, 1, 1}, {1, 14, 14, 5, 5, 1, 2, 2}, {2, 9, 3, 3, 3, 1, 1, 1},
        /* rows of 16 and more outputs: the vector path's whole and partial runs of 16 */
        {2, 9, 37, 3, 3, 1, 1, 1}, {1, 5, 16, 3, 3, 1, 1, 1}, {2, 4, 33, 5, 5, 1, 2, 2}, {1, 6, 20, 3, 3, 1, 2, 2},
        {1, 3, 40, 3, 3, 1, 0, 0},
        /* stride 2 over rows of 16 and more outputs: the stride-2 vector path */
        {3, 9, 40, 3, 3, 2, 1, 1}, {2, 6, 33, 5, 5, 2, 2, 2}, {1, 5, 64, 3, 3, 2, 0, 0}, {2, 7, 31, 3, 3, 2, 1, 1},
    };
    dc_rng r;
    dc_rng_seed(&r, 17);
    for (size_t t = 0; t < sizeof geo / sizeof geo[0]; t++) {
        const int64_t *q = geo[t];
        dc_conv_geom g = {.C = q[0], .H = q[1], .W = q[2], .kh = q[3], .kw = q[4], .sh = q[5], .sw = q[5], .pt = q[6], .pl = q[7]};
        /* "same"-like output sizes where padding is given, else valid */
        g.OH = (g.H + 2 * g.pt - g.kh) / g.sh + 1;
        g.OW = (g.W + 2 * g.pl - g.kw) / g.sw + 1;
        const int64_t OHW = g.OH * g.OW, ld = OHW + 3, rows = g.C * g.kh * g.kw, n = g.C * g.H * g.W;
        float *x = malloc((size_t)n * sizeof(float)), *col = malloc((size_t)(rows * ld) * sizeof(float));
        float *back = malloc((size_t)n * sizeof(float)), *want = malloc((size_t)n * sizeof(float));
        for (int64_t i = 0; i < n; i++) x[i] = dc_rng_normal(&r);
        for (int64_t i = 0; i < rows * ld; i++) col[i] = 99.0f; /* the gaps at ld must stay */
        dc_k_im2col_ld(&g, x, col, ld);
        int bad = 0;
        for (int64_t i = 0; i < n; i++) back[i] = want[i] = 0.5f;
        for (int64_t c = 0; c < g.C; c++)
            for (int64_t ky = 0; ky < g.kh; ky++)
                for (int64_t kx = 0; kx < g.kw; kx++) {
                    const int64_t row = (c * g.kh + ky) * g.kw + kx;
                    for (int64_t oy = 0; oy < g.OH; oy++)
                        for (int64_t ox = 0; ox < g.OW; ox++) {
                            int64_t iy = oy * g.sh - g.pt + ky, ix = ox * g.sw - g.pl + kx;
                            bool in = iy >= 0 && iy < g.H && ix >= 0 && ix < g.W;
                            float v = in ? x[(c * g.H + iy) * g.W + ix] : 0.0f;
                            bad += col[row * ld + oy * g.OW + ox] != v;
                            if (in) want[(c * g.H + iy) * g.W + ix] += (float)(row + oy + ox);
                        }
                    for (int64_t j = OHW; j < ld; j++) bad += col[row * ld + j] != 99.0f;
                    for (int64_t j = 0; j < OHW; j++) col[row * ld + j] = (float)(row + j / g.OW + j % g.OW);
                }
        dc_k_col2im_ld(&g, col, ld, back);
        for (int64_t i = 0; i < n; i++) bad += fabsf(back[i] - want[i]) > 1e-4f * (1 + fabsf(want[i]));
        if (bad) fprintf(stderr, "im2col geometry %zu: %d wrong values\n", t, bad);
        CHECK(bad == 0);
        free(x);
        free(col);
        free(back);
        free(want);
    }
}

int main(void) {
    test_im2col_geometries();
    test_maxpool_ties();
    test_conv_pool_fused();
    dc_conv_direct_enable(false);
    test_conv_pool_fused();
    dc_conv_direct_enable(true);
    test_conv_direct_paths();
    test_conv_pool_in_models();
    test_shapes();
    test_train_bn_cnn();
    test_layout();
    test_bad_input();
    return check_report("test_cnn");
}
