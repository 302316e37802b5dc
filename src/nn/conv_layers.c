/* Image layers on NCHW: Conv2D, Conv2DTranspose, MaxPooling2D, AveragePooling2D,
 * GlobalAveragePooling2D, UpSampling2D, BatchNormalization. */
#include "layer.h"

#include <string.h>

static bool need_image(dc_layer *l) {
    if (l->in_ndim == 3) return true;
    char b[160];
    dc_error(DC_ERR_SHAPE, "%s: expected images (None, C, H, W), got input %s", l->name,
             dc_layer_shape_str(l->in_ndim, l->in_shape, b, sizeof b));
    return false;
}

/* TensorFlow's SAME padding: output ceil(in / stride), the odd pixel at the bottom/right. */
static void same_pad(int64_t in, int k, int s, int *lo, int *hi) {
    int64_t out = (in + s - 1) / s, total = (out - 1) * s + k - in;
    if (total < 0) total = 0;
    *lo = (int)(total / 2);
    *hi = (int)(total - total / 2);
}

static void resolve_pad(dc_layer *l) {
    if (l->explicit_pad) return;
    memset(l->pad, 0, sizeof l->pad);
    if (l->padding == DC_PAD_SAME) {
        same_pad(l->in_shape[1], l->kernel[0], l->stride[0], &l->pad[0], &l->pad[2]);
        same_pad(l->in_shape[2], l->kernel[1], l->stride[1], &l->pad[1], &l->pad[3]);
    }
}

/* ---- Conv2D ---- */
static dc_status conv_build(dc_layer *l) {
    if (!need_image(l)) return DC_ERR_SHAPE;
    resolve_pad(l);
    int64_t C = l->in_shape[0], H = l->in_shape[1] + l->pad[0] + l->pad[2], W = l->in_shape[2] + l->pad[1] + l->pad[3];
    if (H < l->kernel[0] || W < l->kernel[1])
        return dc_error(DC_ERR_SHAPE, "%s: kernel %dx%d is larger than the padded input %lldx%lld", l->name, l->kernel[0],
                        l->kernel[1], (long long)H, (long long)W);
    l->out_ndim = 3;
    l->out_shape[0] = l->units;
    l->out_shape[1] = (H - l->kernel[0]) / l->stride[0] + 1;
    l->out_shape[2] = (W - l->kernel[1]) / l->stride[1] + 1;
    dc_status s = dc_layer_declare(l, "weight", 4, (int64_t[]){l->units, C, l->kernel[0], l->kernel[1]}, l->w_init, 0);
    if (!s && l->use_bias) s = dc_layer_declare(l, "bias", 1, (int64_t[]){l->units}, l->b_init, 0);
    return s;
}

static dc_tensor *conv_forward(dc_layer *l, dc_ctx *c, dc_tensor *x, bool training, dc_rng *rng) {
    dc_activation a = l->skip_act ? DC_ACT_NONE : l->act;
    bool fuse = a != DC_ACT_SOFTMAX && a != DC_ACT_LOG_SOFTMAX;
    dc_tensor *y = dc_conv2d_act(c, x, l->param[0], l->use_bias ? l->param[1] : NULL, l->stride[0], l->stride[1], l->pad,
                                 fuse ? a : DC_ACT_NONE, l->alpha);
    return (!y || fuse) ? y : dc_act_op(c, y, a, l->alpha);
}
static const dc_layer_ops conv_ops = {"Conv2D", "conv2d", conv_build, conv_forward, NULL, NULL, 0};

static dc_layer *conv_common(const dc_layer_ops *ops, const char *what, int64_t filters, int kh, int kw, int stride,
                             dc_padding pad, dc_activation act) {
    if (filters <= 0) return dc_error_null(DC_ERR_ARG, "%s: filters must be positive, got %lld", what, (long long)filters);
    if (kh <= 0 || kw <= 0) return dc_error_null(DC_ERR_ARG, "%s: kernel %dx%d must be positive", what, kh, kw);
    if (stride <= 0) return dc_error_null(DC_ERR_ARG, "%s: stride must be positive, got %d", what, stride);
    if (pad != DC_PAD_VALID && pad != DC_PAD_SAME) return dc_error_null(DC_ERR_ARG, "%s: unknown padding %d", what, (int)pad);
    if ((unsigned)act >= DC_ACT_COUNT) return dc_error_null(DC_ERR_ARG, "%s: unknown activation %d", what, (int)act);
    dc_layer *l = dc_layer_new(ops);
    if (!l) return NULL;
    l->units = filters;
    l->kernel[0] = kh;
    l->kernel[1] = kw;
    l->stride[0] = l->stride[1] = stride;
    l->padding = pad;
    l->act = act;
    return l;
}

dc_layer *dc_conv2d_layer(int64_t filters, int kh, int kw, int stride, dc_padding pad, dc_activation act) {
    return conv_common(&conv_ops, "conv2d", filters, kh, kw, stride, pad, act);
}

/* ---- Conv2DTranspose ---- */
static dc_status convt_build(dc_layer *l) {
    if (!need_image(l)) return DC_ERR_SHAPE;
    int64_t C = l->in_shape[0];
    if (!l->explicit_pad) {
        memset(l->pad, 0, sizeof l->pad);
        if (l->padding == DC_PAD_SAME) /* output = input * stride */
            for (int a = 0; a < 2; a++) {
                int total = l->kernel[a] - l->stride[a];
                if (total < 0) total = 0;
                l->pad[a] = total / 2;
                l->pad[a + 2] = total - total / 2;
            }
    }
    int64_t OH = (l->in_shape[1] - 1) * l->stride[0] + l->kernel[0] - l->pad[0] - l->pad[2];
    int64_t OW = (l->in_shape[2] - 1) * l->stride[1] + l->kernel[1] - l->pad[1] - l->pad[3];
    if (OH <= 0 || OW <= 0) return dc_error(DC_ERR_SHAPE, "%s: the padding leaves no output", l->name);
    l->out_ndim = 3;
    l->out_shape[0] = l->units;
    l->out_shape[1] = OH;
    l->out_shape[2] = OW;
    dc_status s = dc_layer_declare(l, "weight", 4, (int64_t[]){C, l->units, l->kernel[0], l->kernel[1]}, l->w_init, 0);
    if (!s && l->use_bias) s = dc_layer_declare(l, "bias", 1, (int64_t[]){l->units}, l->b_init, 0);
    return s;
}

static dc_tensor *convt_forward(dc_layer *l, dc_ctx *c, dc_tensor *x, bool training, dc_rng *rng) {
    dc_tensor *y = dc_conv2d_transpose(c, x, l->param[0], l->use_bias ? l->param[1] : NULL, l->stride[0], l->stride[1], l->pad);
    if (!y || l->skip_act) return y;
    return dc_act_op(c, y, l->act, l->alpha);
}
static const dc_layer_ops convt_ops = {"Conv2DTranspose", "conv2d_transpose", convt_build, convt_forward, NULL, NULL, 0};

dc_layer *dc_conv2d_transpose_layer(int64_t filters, int kh, int kw, int stride, dc_padding pad, dc_activation act) {
    return conv_common(&convt_ops, "conv2d_transpose", filters, kh, kw, stride, pad, act);
}

dc_status dc_layer_set_strides(dc_layer *l, int sh, int sw) {
    if (!l || sh <= 0 || sw <= 0) return dc_error(DC_ERR_ARG, "dc_layer_set_strides: strides (%d, %d) must be positive", sh, sw);
    l->stride[0] = sh;
    l->stride[1] = sw;
    return DC_OK;
}

dc_status dc_layer_set_padding(dc_layer *l, const int pad[4]) {
    if (!l || !pad) return dc_error(DC_ERR_ARG, "dc_layer_set_padding: layer or pad is NULL");
    for (int i = 0; i < 4; i++)
        if (pad[i] < 0) return dc_error(DC_ERR_ARG, "dc_layer_set_padding: padding %d is negative", pad[i]);
    memcpy(l->pad, pad, sizeof l->pad);
    l->explicit_pad = true;
    return DC_OK;
}

/* ---- pooling ---- */
static dc_status pool_build(dc_layer *l) {
    if (!need_image(l)) return DC_ERR_SHAPE;
    if (l->in_shape[1] < l->kernel[0] || l->in_shape[2] < l->kernel[1])
        return dc_error(DC_ERR_SHAPE, "%s: pool %dx%d is larger than the input %lldx%lld", l->name, l->kernel[0], l->kernel[1],
                        (long long)l->in_shape[1], (long long)l->in_shape[2]);
    l->out_ndim = 3;
    l->out_shape[0] = l->in_shape[0];
    l->out_shape[1] = (l->in_shape[1] - l->kernel[0]) / l->stride[0] + 1;
    l->out_shape[2] = (l->in_shape[2] - l->kernel[1]) / l->stride[1] + 1;
    return DC_OK;
}
static dc_tensor *maxpool_forward(dc_layer *l, dc_ctx *c, dc_tensor *x, bool training, dc_rng *rng) {
    return dc_max_pool2d(c, x, l->kernel[0], l->kernel[1], l->stride[0], l->stride[1]);
}
static dc_tensor *avgpool_forward(dc_layer *l, dc_ctx *c, dc_tensor *x, bool training, dc_rng *rng) {
    return dc_avg_pool2d(c, x, l->kernel[0], l->kernel[1], l->stride[0], l->stride[1]);
}
static const dc_layer_ops maxpool_ops = {"MaxPooling2D", "max_pooling2d", pool_build, maxpool_forward, NULL, NULL, 0};
static const dc_layer_ops avgpool_ops = {"AveragePooling2D", "average_pooling2d", pool_build, avgpool_forward, NULL, NULL, 0};

static dc_layer *pool_new(const dc_layer_ops *ops, int kh, int kw, int stride) {
    if (kh <= 0 || kw <= 0 || stride < 0)
        return dc_error_null(DC_ERR_ARG, "%s: pool %dx%d and stride %d must be positive", ops->base, kh, kw, stride);
    dc_layer *l = dc_layer_new(ops);
    if (!l) return NULL;
    l->kernel[0] = kh;
    l->kernel[1] = kw;
    l->stride[0] = stride ? stride : kh;
    l->stride[1] = stride ? stride : kw;
    return l;
}
dc_layer *dc_max_pool2d_layer(int kh, int kw, int stride) { return pool_new(&maxpool_ops, kh, kw, stride); }

bool dc_layer_conv_pool_fusable(const dc_layer *conv, const dc_layer *pool) {
    const dc_activation a = conv->act;
    return conv->ops == &conv_ops && pool->ops == &maxpool_ops && a != DC_ACT_SOFTMAX && a != DC_ACT_LOG_SOFTMAX &&
           a != DC_ACT_GELU && a != DC_ACT_GELU_TANH;
}

dc_tensor *dc_layer_conv_pool_forward(dc_layer *conv, dc_layer *pool, dc_ctx *c, dc_tensor *x) {
    return dc_conv2d_act_maxpool(c, x, conv->param[0], conv->use_bias ? conv->param[1] : NULL, conv->stride[0], conv->stride[1],
                                 conv->pad, conv->act, conv->alpha, pool->kernel[0], pool->kernel[1], pool->stride[0],
                                 pool->stride[1]);
}
dc_layer *dc_avg_pool2d_layer(int kh, int kw, int stride) { return pool_new(&avgpool_ops, kh, kw, stride); }

static dc_status gap_build(dc_layer *l) {
    if (!need_image(l)) return DC_ERR_SHAPE;
    l->out_ndim = 1;
    l->out_shape[0] = l->in_shape[0];
    return DC_OK;
}
static dc_tensor *gap_forward(dc_layer *l, dc_ctx *c, dc_tensor *x, bool training, dc_rng *rng) {
    return dc_global_avg_pool2d(c, x);
}
static const dc_layer_ops gap_ops = {"GlobalAveragePooling2D", "global_average_pooling2d", gap_build, gap_forward, NULL, NULL, 0};
dc_layer *dc_global_avg_pool2d_layer(void) { return dc_layer_new(&gap_ops); }

/* ---- UpSampling2D ---- */
static dc_status up_build(dc_layer *l) {
    if (!need_image(l)) return DC_ERR_SHAPE;
    l->out_ndim = 3;
    l->out_shape[0] = l->in_shape[0];
    l->out_shape[1] = l->in_shape[1] * l->kernel[0];
    l->out_shape[2] = l->in_shape[2] * l->kernel[1];
    return DC_OK;
}
static dc_tensor *up_forward(dc_layer *l, dc_ctx *c, dc_tensor *x, bool training, dc_rng *rng) {
    return dc_upsample2d(c, x, l->kernel[0], l->kernel[1]);
}
static const dc_layer_ops up_ops = {"UpSampling2D", "up_sampling2d", up_build, up_forward, NULL, NULL, 0};
dc_layer *dc_upsample2d_layer(int fh, int fw) {
    if (fh <= 0 || fw <= 0) return dc_error_null(DC_ERR_ARG, "up_sampling2d: factors (%d, %d) must be positive", fh, fw);
    dc_layer *l = dc_layer_new(&up_ops);
    if (l) {
        l->kernel[0] = fh;
        l->kernel[1] = fw;
    }
    return l;
}

/* ---- BatchNormalization ---- */
static dc_status bn_build(dc_layer *l) {
    int64_t C = l->in_shape[0];
    l->out_ndim = l->in_ndim;
    memcpy(l->out_shape, l->in_shape, sizeof l->out_shape);
    dc_status s = dc_layer_declare(l, "gamma", 1, &C, DC_INIT_ONES, 0);
    if (!s) s = dc_layer_declare(l, "beta", 1, &C, DC_INIT_ZEROS, 0);
    if (!s) s = dc_layer_declare_state(l, "running_mean", 1, &C, DC_INIT_ZEROS, 0);
    if (!s) s = dc_layer_declare_state(l, "running_var", 1, &C, DC_INIT_ONES, 0);
    return s;
}
static dc_tensor *bn_forward(dc_layer *l, dc_ctx *c, dc_tensor *x, bool training, dc_rng *rng) {
    return dc_batch_norm_op(c, x, l->param[0], l->param[1], l->param[2], l->param[3], l->momentum, l->eps, training, l->sync_bn);
}
static const dc_layer_ops bn_ops = {"BatchNormalization", "batch_normalization", bn_build, bn_forward, NULL, NULL, 0};

dc_layer *dc_batch_norm_layer(float momentum, float eps) {
    if (momentum == 0) momentum = 0.1f;
    if (eps == 0) eps = 1e-3f;
    if (!(momentum > 0 && momentum <= 1)) return dc_error_null(DC_ERR_ARG, "batch_normalization: momentum %g is outside (0, 1]", (double)momentum);
    if (!(eps > 0)) return dc_error_null(DC_ERR_ARG, "batch_normalization: eps %g must be positive", (double)eps);
    dc_layer *l = dc_layer_new(&bn_ops);
    if (l) {
        l->momentum = momentum;
        l->eps = eps;
    }
    return l;
}

dc_status dc_layer_set_synchronized(dc_layer *l, bool on) {
    if (!l) return dc_error(DC_ERR_ARG, "dc_layer_set_synchronized: layer is NULL");
    if (l->ops != &bn_ops)
        return dc_error(DC_ERR_ARG, "dc_layer_set_synchronized: layer \"%s\" is a %s; only BatchNormalization has batch statistics to synchronise",
                        l->name[0] ? l->name : l->ops->type, l->ops->type);
    l->sync_bn = on;
    return DC_OK;
}
