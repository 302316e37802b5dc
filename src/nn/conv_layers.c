/* Image layers on NCHW: Conv2D, Conv2DTranspose, MaxPooling2D, AveragePooling2D,
 * GlobalAveragePooling2D, UpSampling2D, BatchNormalization. */
#include "layer.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#define MAX_UNITS ((double)(INT64_C(1) << 31))
/* Kernel sizes, strides, paddings and factors: sums and products of a few of them stay far
 * inside int and int64 arithmetic. */
#define MAX_SPAN (1 << 20)
#define ALPHA_FIELD(T) DC_F_FLOAT(T, "alpha", alpha, -1e6, 1e6, 0, 0)

static bool need_image(dc_layer *l) {
    if (l->in_ndim == 3) return true;
    char b[160];
    dc_error(DC_ERR_SHAPE, "%s: expected images (None, C, H, W), got input %s", l->name,
             dc_layer_shape_str(l->in_ndim, l->in_shape, b, sizeof b));
    return false;
}

/* ---- Conv2D and Conv2DTranspose: one config ---- */
typedef struct conv_cfg {
    int64_t filters;
    int kernel[2], strides[2];
    int padding;          /* dc_padding */
    int explicit_pad[4];  /* {top, left, bottom, right}, when has_explicit_pad */
    bool has_explicit_pad;
    int act, w_init, b_init;
    float alpha;
    bool use_bias;
    int pad[4];           /* not an option: the padding build resolved, what forward passes to the op */
} conv_cfg;
static const dc_field conv_fields[] = {
    DC_F_INT(conv_cfg, "filters", filters, 1, MAX_UNITS, 1, DC_FIELD_REQUIRED),
    DC_F_INTS(conv_cfg, "kernel_size", kernel, 2, 1, MAX_SPAN, 1, DC_FIELD_REQUIRED),
    DC_F_INTS(conv_cfg, "strides", strides, 2, 1, MAX_SPAN, 1, 0),
    DC_F_ENUM(conv_cfg, "padding", padding, dc_padding_name_of, 2, DC_PAD_VALID, 0),
    DC_F_INTS_WHEN(conv_cfg, "explicit_padding", explicit_pad, 4, 0, MAX_SPAN, has_explicit_pad),
    DC_F_ENUM(conv_cfg, "activation", act, dc_act_name_of, DC_ACT_COUNT, DC_ACT_NONE, 0),
    ALPHA_FIELD(conv_cfg),
    DC_F_BOOL(conv_cfg, "use_bias", use_bias, true, 0),
    DC_F_ENUM(conv_cfg, "kernel_initializer", w_init, dc_init_name_of, DC_INIT_COUNT, DC_INIT_GLOROT_UNIFORM, 0),
    DC_F_ENUM(conv_cfg, "bias_initializer", b_init, dc_init_name_of, DC_INIT_COUNT, DC_INIT_ZEROS, 0),
};

/* TensorFlow's SAME padding: output ceil(in / stride), the odd pixel at the bottom/right. */
static void same_pad(int64_t in, int k, int s, int *lo, int *hi) {
    int64_t out = (in + s - 1) / s, total = (out - 1) * s + k - in;
    if (total < 0) total = 0;
    *lo = (int)(total / 2);
    *hi = (int)(total - total / 2);
}

/* c->pad from "explicit_padding" when it is set, else from "padding": SAME keeps a convolution's
 * output at ceil(in / stride) and makes a transposed convolution's in * stride. The latter is
 * Keras's (TensorFlow's conv2d_transpose is the gradient of a SAME convolution of an in * stride
 * input): the full output (in - 1) stride + k is cropped by k - stride, the odd row at the
 * bottom; with k < stride nothing is cropped and stride - k rows are added at the bottom (a
 * negative bottom: output padding, which dc_conv2d_transpose takes below the stride). */
static void resolve_pad(const dc_layer *l, conv_cfg *c, bool transpose) {
    if (c->has_explicit_pad) {
        memcpy(c->pad, c->explicit_pad, sizeof c->pad);
        return;
    }
    memset(c->pad, 0, sizeof c->pad);
    if (c->padding != DC_PAD_SAME) return;
    for (int a = 0; a < 2; a++) {
        if (!transpose) {
            same_pad(l->in_shape[1 + a], c->kernel[a], c->strides[a], &c->pad[a], &c->pad[a + 2]);
        } else {
            int total = c->kernel[a] - c->strides[a]; /* (in - 1) s + k - in s */
            c->pad[a] = total > 0 ? total / 2 : 0;
            c->pad[a + 2] = total - c->pad[a];        /* k < s: s - k rows of output padding */
        }
    }
}

static dc_status conv_build(dc_layer *l) {
    if (!need_image(l)) return DC_ERR_SHAPE;
    conv_cfg *c = DC_CFG(l, conv_cfg);
    resolve_pad(l, c, false);
    int64_t C = l->in_shape[0], H = l->in_shape[1] + c->pad[0] + c->pad[2], W = l->in_shape[2] + c->pad[1] + c->pad[3];
    if (H < c->kernel[0] || W < c->kernel[1])
        return dc_error(DC_ERR_SHAPE, "%s: kernel %dx%d is larger than the padded input %lldx%lld", l->name, c->kernel[0],
                        c->kernel[1], (long long)H, (long long)W);
    l->out_ndim = 3;
    l->out_shape[0] = c->filters;
    l->out_shape[1] = (H - c->kernel[0]) / c->strides[0] + 1;
    l->out_shape[2] = (W - c->kernel[1]) / c->strides[1] + 1;
    dc_status s = dc_layer_declare(l, "weight", 4, (int64_t[]){c->filters, C, c->kernel[0], c->kernel[1]}, (dc_init)c->w_init, 0);
    if (!s && c->use_bias) s = dc_layer_declare(l, "bias", 1, (int64_t[]){c->filters}, (dc_init)c->b_init, 0);
    return s;
}

/* The activation runs inside the convolution's op, except softmax and log-softmax, which work
 * across channels and follow as an op of their own. */
static dc_tensor *conv_forward(dc_layer *l, dc_fwd *f, dc_tensor *const *x, int n) {
    const conv_cfg *c = DC_CCFG(l, conv_cfg);
    dc_activation a = (dc_activation)c->act;
    bool fuse = a != DC_ACT_SOFTMAX && a != DC_ACT_LOG_SOFTMAX;
    dc_tensor *y = dc_conv2d_act(f->ctx, x[0], l->param[0], c->use_bias ? l->param[1] : NULL, c->strides[0], c->strides[1], c->pad,
                                 fuse ? a : DC_ACT_NONE, c->alpha);
    return fuse ? y : dc_act_op(f->ctx, y, a, c->alpha);
}

/* MaxPooling2D's config and type (defined with the pooling layers below): the fusion reads them. */
typedef struct pool_cfg {
    int pool[2], strides[2];
} pool_cfg;
extern const dc_layer_type dc_max_pooling2d_type;

/* A Conv2D whose output only a MaxPooling2D reads runs as one op (dc_conv2d_act_maxpool) when its
 * activation is element-wise and computable from its output: not softmax / log-softmax (across
 * channels) nor GELU (its derivative needs its input). */
static bool conv_can_fuse(const dc_layer *l, const dc_layer *next) {
    const dc_activation a = (dc_activation)DC_CCFG(l, conv_cfg)->act;
    return next->type == &dc_max_pooling2d_type && a != DC_ACT_SOFTMAX && a != DC_ACT_LOG_SOFTMAX && a != DC_ACT_GELU &&
           a != DC_ACT_GELU_TANH;
}

static dc_tensor *conv_forward_fused(dc_layer *l, const dc_layer *next, dc_fwd *f, dc_tensor *x) {
    const conv_cfg *c = DC_CCFG(l, conv_cfg);
    const pool_cfg *p = DC_CCFG(next, pool_cfg);
    return dc_conv2d_act_maxpool(f->ctx, x, l->param[0], c->use_bias ? l->param[1] : NULL, c->strides[0], c->strides[1], c->pad,
                                 (dc_activation)c->act, c->alpha, p->pool[0], p->pool[1], p->strides[0], p->strides[1]);
}

const dc_layer_type dc_conv2d_type = {
    .name = "Conv2D", .stem = "conv2d", .cfg_size = sizeof(conv_cfg), .fields = conv_fields, .nfields = DC_ARRAY_LEN(conv_fields),
    .build = conv_build, .forward = conv_forward, .can_fuse = conv_can_fuse, .forward_fused = conv_forward_fused,
};
DC_REGISTER_LAYER(dc_conv2d_type);

static dc_layer *conv_common(const dc_layer_type *t, const char *what, int64_t filters, int kh, int kw, int stride, dc_padding pad,
                             dc_activation act) {
    if (filters <= 0) return dc_error_null(DC_ERR_ARG, "%s: filters must be positive, got %lld", what, (long long)filters);
    if (kh <= 0 || kw <= 0) return dc_error_null(DC_ERR_ARG, "%s: kernel %dx%d must be positive", what, kh, kw);
    if (stride <= 0) return dc_error_null(DC_ERR_ARG, "%s: stride must be positive, got %d", what, stride);
    if (pad != DC_PAD_VALID && pad != DC_PAD_SAME) return dc_error_null(DC_ERR_ARG, "%s: unknown padding %d", what, (int)pad);
    if ((unsigned)act >= DC_ACT_COUNT) return dc_error_null(DC_ERR_ARG, "%s: unknown activation %d", what, (int)act);
    dc_layer *l = dc_layer_create(t);
    if (!l) return NULL;
    if (dc_layer_set_int(l, "filters", filters) || dc_layer_set_ints(l, "kernel_size", (const int[]){kh, kw}, 2) ||
        dc_layer_set_ints(l, "strides", (const int[]){stride, stride}, 2)) { /* beyond the fields' ranges */
        dc_layer_free(l);
        return NULL;
    }
    conv_cfg *c = DC_CFG(l, conv_cfg);
    c->padding = (int)pad;
    c->act = (int)act;
    return l;
}

dc_layer *dc_conv2d_layer(int64_t filters, int kh, int kw, int stride, dc_padding pad, dc_activation act) {
    return conv_common(&dc_conv2d_type, "conv2d", filters, kh, kw, stride, pad, act);
}

/* ---- Conv2DTranspose ---- */
static dc_status convt_build(dc_layer *l) {
    if (!need_image(l)) return DC_ERR_SHAPE;
    conv_cfg *c = DC_CFG(l, conv_cfg);
    resolve_pad(l, c, true);
    int64_t C = l->in_shape[0];
    int64_t OH = (l->in_shape[1] - 1) * c->strides[0] + c->kernel[0] - c->pad[0] - c->pad[2];
    int64_t OW = (l->in_shape[2] - 1) * c->strides[1] + c->kernel[1] - c->pad[1] - c->pad[3];
    if (OH <= 0 || OW <= 0) return dc_error(DC_ERR_SHAPE, "%s: the padding leaves no output", l->name);
    l->out_ndim = 3;
    l->out_shape[0] = c->filters;
    l->out_shape[1] = OH;
    l->out_shape[2] = OW;
    dc_status s = dc_layer_declare(l, "weight", 4, (int64_t[]){C, c->filters, c->kernel[0], c->kernel[1]}, (dc_init)c->w_init, 0);
    if (!s && c->use_bias) s = dc_layer_declare(l, "bias", 1, (int64_t[]){c->filters}, (dc_init)c->b_init, 0);
    return s;
}

static dc_tensor *convt_forward(dc_layer *l, dc_fwd *f, dc_tensor *const *x, int n) {
    const conv_cfg *c = DC_CCFG(l, conv_cfg);
    dc_tensor *y = dc_conv2d_transpose(f->ctx, x[0], l->param[0], c->use_bias ? l->param[1] : NULL, c->strides[0], c->strides[1], c->pad);
    return dc_act_op(f->ctx, y, (dc_activation)c->act, c->alpha);
}
const dc_layer_type dc_conv2d_transpose_type = {
    .name = "Conv2DTranspose", .stem = "conv2d_transpose", .cfg_size = sizeof(conv_cfg), .fields = conv_fields,
    .nfields = DC_ARRAY_LEN(conv_fields), .build = convt_build, .forward = convt_forward,
};
DC_REGISTER_LAYER(dc_conv2d_transpose_type);

dc_layer *dc_conv2d_transpose_layer(int64_t filters, int kh, int kw, int stride, dc_padding pad, dc_activation act) {
    return conv_common(&dc_conv2d_transpose_type, "conv2d_transpose", filters, kh, kw, stride, pad, act);
}

/* ---- pooling: MaxPooling2D and AveragePooling2D, no padding ---- */
static const dc_field pool_fields[] = {
    DC_F_INTS(pool_cfg, "pool_size", pool, 2, 1, MAX_SPAN, 2, 0),
    /* 0 (the default): the pool size, windows side by side, as Keras's strides=None */
    DC_F_INTS(pool_cfg, "strides", strides, 2, 0, MAX_SPAN, 0, 0),
};
static dc_status pool_build(dc_layer *l) {
    if (!need_image(l)) return DC_ERR_SHAPE;
    pool_cfg *c = DC_CFG(l, pool_cfg);
    for (int i = 0; i < 2; i++) /* resolved here, so model files hold the strides used */
        if (c->strides[i] == 0) c->strides[i] = c->pool[i];
    if (l->in_shape[1] < c->pool[0] || l->in_shape[2] < c->pool[1])
        return dc_error(DC_ERR_SHAPE, "%s: pool %dx%d is larger than the input %lldx%lld", l->name, c->pool[0], c->pool[1],
                        (long long)l->in_shape[1], (long long)l->in_shape[2]);
    l->out_ndim = 3;
    l->out_shape[0] = l->in_shape[0];
    l->out_shape[1] = (l->in_shape[1] - c->pool[0]) / c->strides[0] + 1;
    l->out_shape[2] = (l->in_shape[2] - c->pool[1]) / c->strides[1] + 1;
    return DC_OK;
}
static dc_tensor *maxpool_forward(dc_layer *l, dc_fwd *f, dc_tensor *const *x, int n) {
    const pool_cfg *c = DC_CCFG(l, pool_cfg);
    return dc_max_pool2d(f->ctx, x[0], c->pool[0], c->pool[1], c->strides[0], c->strides[1]);
}
static dc_tensor *avgpool_forward(dc_layer *l, dc_fwd *f, dc_tensor *const *x, int n) {
    const pool_cfg *c = DC_CCFG(l, pool_cfg);
    return dc_avg_pool2d(f->ctx, x[0], c->pool[0], c->pool[1], c->strides[0], c->strides[1]);
}
const dc_layer_type dc_max_pooling2d_type = {
    .name = "MaxPooling2D", .stem = "max_pooling2d", .cfg_size = sizeof(pool_cfg), .fields = pool_fields,
    .nfields = DC_ARRAY_LEN(pool_fields), .build = pool_build, .forward = maxpool_forward,
};
DC_REGISTER_LAYER(dc_max_pooling2d_type);
const dc_layer_type dc_average_pooling2d_type = {
    .name = "AveragePooling2D", .stem = "average_pooling2d", .cfg_size = sizeof(pool_cfg), .fields = pool_fields,
    .nfields = DC_ARRAY_LEN(pool_fields), .build = pool_build, .forward = avgpool_forward,
};
DC_REGISTER_LAYER(dc_average_pooling2d_type);

/* stride 0: the window size in each direction (windows side by side) */
static dc_layer *pool_new(const dc_layer_type *t, int kh, int kw, int stride) {
    if (kh <= 0 || kw <= 0 || stride < 0)
        return dc_error_null(DC_ERR_ARG, "%s: pool %dx%d and stride %d must be positive", t->stem, kh, kw, stride);
    dc_layer *l = dc_layer_create(t);
    if (l && (dc_layer_set_ints(l, "pool_size", (const int[]){kh, kw}, 2) ||
              dc_layer_set_ints(l, "strides", (const int[]){stride ? stride : kh, stride ? stride : kw}, 2))) {
        dc_layer_free(l);
        return NULL;
    }
    return l;
}
dc_layer *dc_max_pool2d_layer(int kh, int kw, int stride) { return pool_new(&dc_max_pooling2d_type, kh, kw, stride); }
dc_layer *dc_avg_pool2d_layer(int kh, int kw, int stride) { return pool_new(&dc_average_pooling2d_type, kh, kw, stride); }

/* ---- GlobalAveragePooling2D: [N, C, H, W] -> [N, C] ---- */
static dc_status gap_build(dc_layer *l) {
    if (!need_image(l)) return DC_ERR_SHAPE;
    l->out_ndim = 1;
    l->out_shape[0] = l->in_shape[0];
    return DC_OK;
}
static dc_tensor *gap_forward(dc_layer *l, dc_fwd *f, dc_tensor *const *x, int n) { return dc_global_avg_pool2d(f->ctx, x[0]); }
const dc_layer_type dc_global_average_pooling2d_type = {
    .name = "GlobalAveragePooling2D", .stem = "global_average_pooling2d", .build = gap_build, .forward = gap_forward,
};
DC_REGISTER_LAYER(dc_global_average_pooling2d_type);

dc_layer *dc_global_avg_pool2d_layer(void) { return dc_layer_create(&dc_global_average_pooling2d_type); }

/* ---- UpSampling2D (nearest) ---- */
typedef struct up_cfg {
    int size[2];
} up_cfg;
static const dc_field up_fields[] = {
    DC_F_INTS(up_cfg, "size", size, 2, 1, MAX_SPAN, 2, 0),
};
static dc_status up_build(dc_layer *l) {
    if (!need_image(l)) return DC_ERR_SHAPE;
    const up_cfg *c = DC_CCFG(l, up_cfg);
    l->out_ndim = 3;
    l->out_shape[0] = l->in_shape[0];
    l->out_shape[1] = l->in_shape[1] * c->size[0];
    l->out_shape[2] = l->in_shape[2] * c->size[1];
    return DC_OK;
}
static dc_tensor *up_forward(dc_layer *l, dc_fwd *f, dc_tensor *const *x, int n) {
    const up_cfg *c = DC_CCFG(l, up_cfg);
    return dc_upsample2d(f->ctx, x[0], c->size[0], c->size[1]);
}
const dc_layer_type dc_upsampling2d_type = {
    .name = "UpSampling2D", .stem = "up_sampling2d", .cfg_size = sizeof(up_cfg), .fields = up_fields,
    .nfields = DC_ARRAY_LEN(up_fields), .build = up_build, .forward = up_forward,
};
DC_REGISTER_LAYER(dc_upsampling2d_type);

dc_layer *dc_upsample2d_layer(int fh, int fw) {
    if (fh <= 0 || fw <= 0) return dc_error_null(DC_ERR_ARG, "up_sampling2d: factors (%d, %d) must be positive", fh, fw);
    dc_layer *l = dc_layer_create(&dc_upsampling2d_type);
    if (l && dc_layer_set_ints(l, "size", (const int[]){fh, fw}, 2)) {
        dc_layer_free(l);
        return NULL;
    }
    return l;
}

/* ---- BatchNormalization over axis 1 ---- */
typedef struct bn_cfg {
    float momentum, eps;
    bool sync; /* batch statistics over every rank of a data-parallel fit */
} bn_cfg;
static const dc_field bn_fields[] = {
    /* PyTorch's convention: the weight of the batch's statistics in the running ones */
    DC_F_FLOAT(bn_cfg, "momentum", momentum, 0, 1, 0.1, DC_FIELD_RUNTIME),
    /* any positive float, as the constructor and dc_layer_set_epsilon always took */
    DC_F_FLOAT(bn_cfg, "epsilon", eps, FLT_TRUE_MIN, FLT_MAX, 1e-3, DC_FIELD_RUNTIME),
    DC_F_BOOL(bn_cfg, "synchronized", sync, false, DC_FIELD_RUNTIME),
};
static dc_status bn_build(dc_layer *l) {
    int64_t C = l->in_shape[0];
    dc_layer_same_shape(l);
    dc_status s = dc_layer_declare(l, "gamma", 1, &C, DC_INIT_ONES, 0);
    if (!s) s = dc_layer_declare(l, "beta", 1, &C, DC_INIT_ZEROS, 0);
    if (!s) s = dc_layer_declare_state(l, "running_mean", 1, &C, DC_INIT_ZEROS, 0);
    if (!s) s = dc_layer_declare_state_min(l, "running_var", 1, &C, DC_INIT_ONES, 0, 0.0f); /* a variance */
    return s;
}
static dc_tensor *bn_forward(dc_layer *l, dc_fwd *f, dc_tensor *const *x, int n) {
    const bn_cfg *c = DC_CCFG(l, bn_cfg);
    return dc_batch_norm_op(f->ctx, x[0], l->param[0], l->param[1], l->param[2], l->param[3], c->momentum, c->eps, f->training,
                            c->sync ? f->comm : NULL, c->sync ? f->comm_w : 1.0f);
}
/* PyTorch (and most frameworks) call gamma and beta weight and bias. */
static bool bn_alias(const dc_layer *l, const char *foreign, bool pytorch, char *to, size_t size, bool *sum) {
    const char *p = strcmp(foreign, "weight") == 0 ? "gamma" : strcmp(foreign, "bias") == 0 ? "beta" : NULL;
    if (p) snprintf(to, size, "%s", p);
    return p != NULL;
}
const dc_layer_type dc_batch_normalization_type = {
    .name = "BatchNormalization", .stem = "batch_normalization", .cfg_size = sizeof(bn_cfg), .fields = bn_fields,
    .nfields = DC_ARRAY_LEN(bn_fields), .build = bn_build, .forward = bn_forward, .param_alias = bn_alias,
};
DC_REGISTER_LAYER(dc_batch_normalization_type);

/* momentum or eps 0: the default (0.1, 1e-3) */
dc_layer *dc_batch_norm_layer(float momentum, float eps) {
    if (momentum == 0) momentum = 0.1f;
    if (eps == 0) eps = 1e-3f;
    if (!(momentum > 0 && momentum <= 1)) return dc_error_null(DC_ERR_ARG, "batch_normalization: momentum %g is outside (0, 1]", (double)momentum);
    if (!(eps > 0 && isfinite(eps))) return dc_error_null(DC_ERR_ARG, "batch_normalization: eps %g must be positive and finite", (double)eps);
    dc_layer *l = dc_layer_create(&dc_batch_normalization_type);
    if (l) {
        DC_CFG(l, bn_cfg)->momentum = momentum;
        DC_CFG(l, bn_cfg)->eps = eps;
    }
    return l;
}
