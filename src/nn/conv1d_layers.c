/* Layers over the steps of [N, T, C] (channels last, as the recurrent layers take them): Conv1D,
 * MaxPooling1D, AveragePooling1D, GlobalMaxPooling1D. A time-step mask passes through the
 * windowed ones: output step t is real when the input step its window is anchored at is. */
#include "layer.h"

#include <stdio.h>
#include <string.h>

#define MAX_UNITS ((double)(INT64_C(1) << 31))
/* Kernel sizes, strides and dilations: products of two of them stay far inside int64. */
#define MAX_SPAN (1 << 20)

static dc_status need_steps(const dc_layer *l) {
    if (l->in_ndim == 2) return DC_OK;
    char b[160];
    return dc_error(DC_ERR_SHAPE, "%s: expected sequences (None, T, channels), got input %s", l->name,
                    dc_layer_shape_str(l->in_ndim, l->in_shape, b, sizeof b));
}

/* Keras's (TensorFlow's) SAME: output ceil(T / stride), the padding split with the odd step after. */
static void same_pad(int64_t T, int64_t span, int64_t s, int *lo, int *hi) {
    int64_t out = (T + s - 1) / s, total = (out - 1) * s + span - T;
    if (total < 0) total = 0;
    *lo = (int)(total / 2);
    *hi = (int)(total - total / 2);
}

/* The output's mask: step t is real when input step t s + anchor is. The executor's default
 * (the input's mask, when the step count stays) is replaced in every case. */
static dc_status pass_mask(dc_fwd *f, const dc_tensor *y, int64_t T, int64_t s, int64_t anchor) {
    const uint8_t *in = f->mask[0];
    f->out_mask = NULL;
    if (!in || !y) return DC_OK;
    int64_t N = y->shape[0], To = y->shape[1];
    uint8_t *m = dc_scratch(f->ctx, (size_t)(N * To > 0 ? N * To : 1));
    if (!m) return dc_error(DC_ERR_NOMEM, "out of memory for a [%lld, %lld] mask", (long long)N, (long long)To);
    for (int64_t n = 0; n < N; n++)
        for (int64_t t = 0; t < To; t++) {
            int64_t ti = t * s + anchor;
            m[n * To + t] = ti < T && in[n * T + ti];
        }
    f->out_mask = m;
    return DC_OK;
}

/* ---- Conv1D ---- */
typedef struct conv1d_cfg {
    int64_t filters, kernel, strides, dilation;
    int padding; /* dc_padding: valid, same, causal */
    int act, w_init, b_init;
    float alpha;
    bool use_bias;
    int pad[2]; /* not an option: the padding build resolved (before, after) */
} conv1d_cfg;
static const dc_field conv1d_fields[] = {
    DC_F_INT(conv1d_cfg, "filters", filters, 1, MAX_UNITS, 1, DC_FIELD_REQUIRED),
    DC_F_INT(conv1d_cfg, "kernel_size", kernel, 1, MAX_SPAN, 1, DC_FIELD_REQUIRED),
    DC_F_INT(conv1d_cfg, "strides", strides, 1, MAX_SPAN, 1, 0),
    DC_F_ENUM(conv1d_cfg, "padding", padding, dc_padding_name_of, 3, DC_PAD_VALID, 0),
    DC_F_INT(conv1d_cfg, "dilation_rate", dilation, 1, MAX_SPAN, 1, 0),
    DC_F_ENUM(conv1d_cfg, "activation", act, dc_act_name_of, DC_ACT_COUNT, DC_ACT_NONE, 0),
    DC_F_FLOAT(conv1d_cfg, "alpha", alpha, -1e6, 1e6, 0, 0),
    DC_F_BOOL(conv1d_cfg, "use_bias", use_bias, true, 0),
    DC_F_ENUM(conv1d_cfg, "kernel_initializer", w_init, dc_init_name_of, DC_INIT_COUNT, DC_INIT_GLOROT_UNIFORM, 0),
    DC_F_ENUM(conv1d_cfg, "bias_initializer", b_init, dc_init_name_of, DC_INIT_COUNT, DC_INIT_ZEROS, 0),
};

static dc_status conv1d_build(dc_layer *l) {
    dc_status s = need_steps(l);
    if (s) return s;
    conv1d_cfg *c = DC_CFG(l, conv1d_cfg);
    int64_t T = l->in_shape[0], C = l->in_shape[1], span = (c->kernel - 1) * c->dilation + 1;
    c->pad[0] = c->pad[1] = 0;
    if (c->padding == DC_PAD_SAME) same_pad(T, span, c->strides, &c->pad[0], &c->pad[1]);
    else if (c->padding == DC_PAD_CAUSAL) c->pad[0] = (int)(span - 1);
    int64_t padded = T + c->pad[0] + c->pad[1];
    if (padded < span)
        return dc_error(DC_ERR_SHAPE, "%s: the kernel spans %lld steps (kernel_size %lld, dilation_rate %lld), more than the %lld steps of its input",
                        l->name, (long long)span, (long long)c->kernel, (long long)c->dilation, (long long)T);
    l->out_ndim = 2;
    l->out_shape[0] = (padded - span) / c->strides + 1;
    l->out_shape[1] = c->filters;
    s = dc_layer_declare(l, "weight", 3, (int64_t[]){c->filters, C, c->kernel}, (dc_init)c->w_init, 0);
    if (!s && c->use_bias) s = dc_layer_declare(l, "bias", 1, (int64_t[]){c->filters}, (dc_init)c->b_init, 0);
    return s;
}

static dc_tensor *conv1d_forward(dc_layer *l, dc_fwd *f, dc_tensor *const *x, int n) {
    const conv1d_cfg *c = DC_CCFG(l, conv1d_cfg);
    dc_tensor *y = dc_conv1d(f->ctx, x[0], l->param[0], c->use_bias ? l->param[1] : NULL, (int)c->strides, (int)c->dilation,
                             c->pad[0], c->pad[1]);
    /* VALID anchors a window at its last step; SAME and CAUSAL at step t stride */
    int64_t anchor = c->padding == DC_PAD_VALID ? (c->kernel - 1) * c->dilation : 0;
    if (pass_mask(f, y, x[0]->shape[1], c->strides, anchor)) return NULL;
    return f->logits ? y : dc_act_op(f->ctx, y, (dc_activation)c->act, c->alpha);
}

const dc_layer_type dc_conv1d_type = {
    .name = "Conv1D", .stem = "conv1d", .cfg_size = sizeof(conv1d_cfg), .fields = conv1d_fields,
    .nfields = DC_ARRAY_LEN(conv1d_fields), .build = conv1d_build, .forward = conv1d_forward, .flags = DC_LAYER_LOGITS,
};
DC_REGISTER_LAYER(dc_conv1d_type);

dc_layer *dc_conv1d_layer(int64_t filters, int kernel, int stride, dc_padding pad, dc_activation act) {
    if ((unsigned)pad > DC_PAD_CAUSAL) return dc_error_null(DC_ERR_ARG, "conv1d: unknown padding %d (valid, same or causal)", (int)pad);
    dc_layer *l = dc_layer_create(&dc_conv1d_type);
    if (l && (dc_layer_set_int(l, "filters", filters) || dc_layer_set_int(l, "kernel_size", kernel) ||
              dc_layer_set_int(l, "strides", stride) || dc_layer_set_int(l, "padding", pad) || dc_layer_set_int(l, "activation", act))) {
        dc_layer_free(l);
        return NULL;
    }
    return l;
}

/* ---- MaxPooling1D and AveragePooling1D ---- */
typedef struct pool1d_cfg {
    int64_t pool, strides; /* strides 0: the pool size, as Keras's strides=None */
    int padding;           /* valid or same */
    int pad[2];            /* not an option: resolved by build */
} pool1d_cfg;
static const dc_field pool1d_fields[] = {
    DC_F_INT(pool1d_cfg, "pool_size", pool, 1, MAX_SPAN, 2, 0),
    DC_F_INT(pool1d_cfg, "strides", strides, 0, MAX_SPAN, 0, 0),
    DC_F_ENUM(pool1d_cfg, "padding", padding, dc_padding_name_of, 2, DC_PAD_VALID, 0),
};

static dc_status pool1d_build(dc_layer *l) {
    dc_status s = need_steps(l);
    if (s) return s;
    pool1d_cfg *c = DC_CFG(l, pool1d_cfg);
    if (c->strides == 0) c->strides = c->pool; /* resolved here, so model files hold the strides used */
    int64_t T = l->in_shape[0];
    c->pad[0] = c->pad[1] = 0;
    if (c->padding == DC_PAD_SAME) same_pad(T, c->pool, c->strides, &c->pad[0], &c->pad[1]);
    if (T + c->pad[0] + c->pad[1] < c->pool)
        return dc_error(DC_ERR_SHAPE, "%s: pool_size %lld is longer than the %lld steps of its input", l->name, (long long)c->pool,
                        (long long)T);
    l->out_ndim = 2;
    l->out_shape[0] = (T + c->pad[0] + c->pad[1] - c->pool) / c->strides + 1;
    l->out_shape[1] = l->in_shape[1];
    return DC_OK;
}

static dc_tensor *pool1d_forward(dc_layer *l, dc_fwd *f, dc_tensor *const *x, int n, bool max) {
    const pool1d_cfg *c = DC_CCFG(l, pool1d_cfg);
    dc_tensor *y = (max ? dc_max_pool1d : dc_avg_pool1d)(f->ctx, x[0], (int)c->pool, (int)c->strides, c->pad[0], c->pad[1]);
    if (pass_mask(f, y, x[0]->shape[1], c->strides, c->padding == DC_PAD_VALID ? c->pool - 1 : 0)) return NULL;
    return y;
}
static dc_tensor *maxpool1d_forward(dc_layer *l, dc_fwd *f, dc_tensor *const *x, int n) { return pool1d_forward(l, f, x, n, true); }
static dc_tensor *avgpool1d_forward(dc_layer *l, dc_fwd *f, dc_tensor *const *x, int n) { return pool1d_forward(l, f, x, n, false); }

const dc_layer_type dc_max_pooling1d_type = {
    .name = "MaxPooling1D", .stem = "max_pooling1d", .cfg_size = sizeof(pool1d_cfg), .fields = pool1d_fields,
    .nfields = DC_ARRAY_LEN(pool1d_fields), .build = pool1d_build, .forward = maxpool1d_forward,
};
DC_REGISTER_LAYER(dc_max_pooling1d_type);
const dc_layer_type dc_average_pooling1d_type = {
    .name = "AveragePooling1D", .stem = "average_pooling1d", .cfg_size = sizeof(pool1d_cfg), .fields = pool1d_fields,
    .nfields = DC_ARRAY_LEN(pool1d_fields), .build = pool1d_build, .forward = avgpool1d_forward,
};
DC_REGISTER_LAYER(dc_average_pooling1d_type);

static dc_layer *pool1d_new(const dc_layer_type *t, int pool, int stride, dc_padding pad) {
    if ((unsigned)pad > DC_PAD_SAME) return dc_error_null(DC_ERR_ARG, "%s: unknown padding %d (valid or same)", t->stem, (int)pad);
    dc_layer *l = dc_layer_create(t);
    if (l && (dc_layer_set_int(l, "pool_size", pool) || dc_layer_set_int(l, "strides", stride) || dc_layer_set_int(l, "padding", pad))) {
        dc_layer_free(l);
        return NULL;
    }
    return l;
}
dc_layer *dc_max_pool1d_layer(int pool, int stride, dc_padding pad) { return pool1d_new(&dc_max_pooling1d_type, pool, stride, pad); }
dc_layer *dc_avg_pool1d_layer(int pool, int stride, dc_padding pad) { return pool1d_new(&dc_average_pooling1d_type, pool, stride, pad); }

/* ---- GlobalMaxPooling1D: [N, T, C] -> [N, C] ---- */
static dc_status gmax1d_build(dc_layer *l) {
    dc_status s = need_steps(l);
    if (s) return s;
    l->out_ndim = 1;
    l->out_shape[0] = l->in_shape[1];
    return DC_OK;
}
static dc_tensor *gmax1d_forward(dc_layer *l, dc_fwd *f, dc_tensor *const *x, int n) {
    f->out_mask = NULL; /* the time axis is gone */
    return dc_global_max_pool1d(f->ctx, x[0], f->mask[0]);
}
const dc_layer_type dc_global_max_pooling1d_type = {
    .name = "GlobalMaxPooling1D", .stem = "global_max_pooling1d", .build = gmax1d_build, .forward = gmax1d_forward,
};
DC_REGISTER_LAYER(dc_global_max_pooling1d_type);

dc_layer *dc_global_max_pool1d_layer(void) { return dc_layer_create(&dc_global_max_pooling1d_type); }
