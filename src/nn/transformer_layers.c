/* Transformer layers on sequences [N, T, D]: LayerNormalization, positional embeddings,
 * multi-head attention, the Transformer encoder and decoder layers, and average pooling over
 * steps. Parameter names and layouts are PyTorch's (nn.LayerNorm, nn.MultiheadAttention,
 * nn.TransformerEncoderLayer, nn.TransformerDecoderLayer), so weights exchange through
 * safetensors files unchanged. Padding masks come in through the forward context (f->mask[i] of
 * input i); every layer here but the pooling keeps its first input's time axis, and so its mask,
 * which the executor passes on. */
#include "layer.h"

#include <float.h>
#include <math.h>
#include <stdio.h>

#define MAX_UNITS ((double)(INT64_C(1) << 31))
#define MAX_HEADS 4096
/* Dropout rates in [0, 1): the largest float below 1 is the top (a rate of 1 would drop
 * everything and scale by infinity). */
#define MAX_RATE 0x1.fffffep-1
/* Any positive float: dc_layer_norm needs eps > 0, and the constructors and dc_layer_set_epsilon
 * took any such value; model files hold [1e-30, 1]. */
#define EPS_FIELD(T) DC_F_FLOAT(T, "epsilon", eps, FLT_TRUE_MIN, FLT_MAX, 1e-5, DC_FIELD_RUNTIME)

/* The layer's name, or its type's stem before the model names it (for messages). */
static const char *lname(const dc_layer *l) { return l->name[0] ? l->name : l->type->stem; }

static dc_status need_seq(const dc_layer *l) {
    if (l->in_ndim == 2) return DC_OK;
    char b[160];
    return dc_error(DC_ERR_SHAPE, "%s: expected sequences (None, T, features), got input %s", l->name,
                    dc_layer_shape_str(l->in_ndim, l->in_shape, b, sizeof b));
}

/* ---- LayerNormalization over the last axis ---- */
typedef struct ln_cfg {
    float eps;
} ln_cfg;
static const dc_field ln_fields[] = {
    EPS_FIELD(ln_cfg),
};
static dc_status ln_build(dc_layer *l) {
    if (l->in_ndim < 1) return dc_error(DC_ERR_SHAPE, "%s: input has no features", l->name);
    dc_layer_same_shape(l);
    int64_t D = l->in_shape[l->in_ndim - 1];
    dc_status s = dc_layer_declare(l, "weight", 1, &D, DC_INIT_ONES, 0);
    return s ? s : dc_layer_declare(l, "bias", 1, &D, DC_INIT_ZEROS, 0);
}
static dc_tensor *ln_forward(dc_layer *l, dc_fwd *f, dc_tensor *const *x, int n) {
    return dc_layer_norm(f->ctx, x[0], l->param[0], l->param[1], DC_CCFG(l, ln_cfg)->eps);
}
const dc_layer_type dc_layer_normalization_type = {
    .name = "LayerNormalization", .stem = "layer_normalization", .cfg_size = sizeof(ln_cfg), .fields = ln_fields,
    .nfields = DC_ARRAY_LEN(ln_fields), .build = ln_build, .forward = ln_forward,
};
DC_REGISTER_LAYER(dc_layer_normalization_type);

dc_layer *dc_layer_norm_layer(float eps) {
    if (!(eps >= 0) || !isfinite(eps)) return dc_error_null(DC_ERR_ARG, "layer_normalization: eps %g must be >= 0", (double)eps);
    dc_layer *l = dc_layer_create(&dc_layer_normalization_type);
    if (l && eps > 0) DC_CFG(l, ln_cfg)->eps = eps; /* 0: the field's default, 1e-5 */
    return l;
}

/* ---- positional embeddings: x + table[0..T) ---- */
typedef struct pos_cfg {
    int64_t max_len;
    bool learned; /* a trained table, else the fixed sinusoids */
} pos_cfg;
static const dc_field pos_fields[] = {
    DC_F_INT(pos_cfg, "max_len", max_len, 1, 1 << 24, 1, DC_FIELD_REQUIRED),
    DC_F_BOOL(pos_cfg, "learned", learned, true, 0),
};
static dc_status pos_build(dc_layer *l) {
    const pos_cfg *c = DC_CCFG(l, pos_cfg);
    dc_status s = need_seq(l);
    if (s) return s;
    dc_layer_same_shape(l);
    int64_t D = l->in_shape[1];
    if (l->in_shape[0] > c->max_len)
        return dc_error(DC_ERR_SHAPE, "%s: sequences of %lld steps are longer than its table of %lld positions", l->name,
                        (long long)l->in_shape[0], (long long)c->max_len);
    if (c->learned) /* as BERT's position embeddings; N(0, 0.02) */
        return dc_layer_declare(l, "weight", 2, (int64_t[]){c->max_len, D}, DC_INIT_NORMAL, 0.02f);
    return dc_layer_declare_state(l, "table", 2, (int64_t[]){c->max_len, D}, DC_INIT_ZEROS, 0);
}
/* The fixed table of Vaswani et al.: sin at even features, cos at odd ones. */
static void pos_post_init(dc_layer *l) {
    if (DC_CCFG(l, pos_cfg)->learned) return;
    dc_tensor *t = l->param[0];
    int64_t P = t->shape[0], D = t->shape[1];
    for (int64_t p = 0; p < P; p++)
        for (int64_t i = 0; i < D; i++) {
            double w = pow(10000.0, -(double)(i - i % 2) / (double)D);
            t->data[p * D + i] = (float)(i % 2 ? cos((double)p * w) : sin((double)p * w));
        }
}
static dc_tensor *pos_forward(dc_layer *l, dc_fwd *f, dc_tensor *const *x, int n) {
    int64_t T = x[0]->shape[1], P = DC_CCFG(l, pos_cfg)->max_len;
    if (T > P)
        return dc_error_null(DC_ERR_SHAPE, "%s: a sequence of %lld steps is longer than its table of %lld positions", l->name,
                             (long long)T, (long long)P);
    return dc_add(f->ctx, x[0], dc_slice(f->ctx, l->param[0], 0, 0, T));
}
const dc_layer_type dc_positional_embedding_type = {
    .name = "PositionalEmbedding", .stem = "positional_embedding", .cfg_size = sizeof(pos_cfg), .fields = pos_fields,
    .nfields = DC_ARRAY_LEN(pos_fields), .build = pos_build, .forward = pos_forward, .post_init = pos_post_init,
};
DC_REGISTER_LAYER(dc_positional_embedding_type);

dc_layer *dc_positional_embedding_layer(int64_t max_len, bool learned) {
    if (max_len <= 0 || max_len > (1 << 24))
        return dc_error_null(DC_ERR_ARG, "positional_embedding: max_len %lld must be in [1, 2^24]", (long long)max_len);
    dc_layer *l = dc_layer_create(&dc_positional_embedding_type);
    if (!l) return NULL;
    pos_cfg *c = DC_CFG(l, pos_cfg);
    c->max_len = max_len;
    c->learned = learned;
    return l;
}

/* ---- attention: the config of MultiHeadAttention and of the encoder and decoder layers ---- */
typedef struct attn_cfg {
    int64_t heads;
    int64_t ff_units; /* encoder, decoder: the feed-forward network's width */
    int act;          /* encoder, decoder: its activation */
    float dropout;    /* on the attention weights, and after each encoder/decoder sub-layer */
    float eps;        /* encoder, decoder: their LayerNorms' epsilon */
    bool causal;      /* no later step is seen: MultiHeadAttention's self- or cross-attention, the encoder's
                       * and the decoder's self-attention (never the decoder's cross-attention) */
    bool separate;    /* MultiHeadAttention: q, k and v projections of their own */
    bool pre_norm;    /* encoder, decoder: LayerNorm before each sub-layer, else after each residual */
} attn_cfg;

#define HEADS_FIELD DC_F_INT(attn_cfg, "heads", heads, 1, MAX_HEADS, 1, DC_FIELD_REQUIRED)
#define DROPOUT_FIELD DC_F_FLOAT(attn_cfg, "dropout", dropout, 0, MAX_RATE, 0, DC_FIELD_RUNTIME)

/* y = out_proj(attention(x W_in^T + b_in)) for x [N, T, D]; w[0..4) are in_proj_weight (q, k, v
 * packed), in_proj_bias, out_proj.weight, out_proj.bias, and the attention reads the heads
 * straight out of the packed projection. mask: x's padding, applied to the keys. */
static dc_tensor *self_attention(const attn_cfg *a, dc_fwd *f, dc_tensor *x, const uint8_t *mask, dc_tensor *const *w) {
    dc_tensor *qkv = dc_linear(f->ctx, x, w[0], w[1]); /* [N, T, 3D] */
    dc_tensor *o = dc_attention_packed(f->ctx, qkv, (int)a->heads, mask, a->causal, 0, a->dropout, f->training, f->rng);
    return dc_linear(f->ctx, o, w[2], w[3]);
}

/* Cross-attention: queries from x [N, Tq, D], keys and values from mem [N, Tk, D] (its padding
 * mem_mask applies), with the packed W_in split into W_q and W_kv as nn.MultiheadAttention does;
 * w[0..4) as for self_attention. causal: query i sees memory steps j <= i + (Tk - Tq) only, the
 * rule of dc_attention. */
static dc_tensor *cross_attention(const attn_cfg *a, dc_fwd *f, dc_tensor *x, dc_tensor *mem, const uint8_t *mem_mask, bool causal,
                                  dc_tensor *const *w) {
    dc_ctx *c = f->ctx;
    int64_t D = w[0]->shape[1];
    dc_tensor *wq = dc_slice(c, w[0], 0, 0, D), *bq = dc_slice(c, w[1], 0, 0, D);
    dc_tensor *wkv = dc_slice(c, w[0], 0, D, 3 * D), *bkv = dc_slice(c, w[1], 0, D, 3 * D);
    if (!wq || !bq || !wkv || !bkv) return NULL; /* a NULL bias would mean none to dc_linear */
    dc_tensor *q = dc_linear(c, x, wq, bq), *kv = dc_linear(c, mem, wkv, bkv);
    dc_tensor *o = dc_attention_cross(c, q, kv, (int)a->heads, mem_mask, causal, 0, a->dropout, f->training, f->rng);
    return dc_linear(c, o, w[2], w[3]);
}

/* The second input of a layer that attends to a memory: [N, Tk, D] with x's batch and width
 * (any width with separate projections). */
static dc_status check_memory(const dc_layer *l, bool separate) {
    if (l->nin < 2) return DC_OK;
    const int64_t *m = l->xin_shape[1];
    if (separate && l->xin_ndim[1] == 2) return DC_OK;
    if (l->xin_ndim[1] != 2 || m[1] != l->in_shape[1]) {
        char b[160];
        return dc_error(DC_ERR_SHAPE, "%s: the memory (input 1) must be (None, T, %lld) like the queries' width, got %s", l->name,
                        (long long)l->in_shape[1], dc_layer_shape_str(l->xin_ndim[1], m, b, sizeof b));
    }
    return DC_OK;
}

static dc_status check_divides(const dc_layer *l, int64_t heads, int64_t D) {
    if (D % heads) return dc_error(DC_ERR_SHAPE, "%s: %lld heads do not divide the model width %lld", l->name, (long long)heads, (long long)D);
    return DC_OK;
}

/* Declares the attention block's four tensors with nn.MultiheadAttention's names under prefix. */
static dc_status declare_attention(dc_layer *l, const char *prefix, int64_t D) {
    dc_status s = check_divides(l, DC_CCFG(l, attn_cfg)->heads, D);
    if (s) return s;
    char n[4][40];
    snprintf(n[0], sizeof n[0], "%sin_proj_weight", prefix);
    snprintf(n[1], sizeof n[1], "%sin_proj_bias", prefix);
    snprintf(n[2], sizeof n[2], "%sout_proj.weight", prefix);
    snprintf(n[3], sizeof n[3], "%sout_proj.bias", prefix);
    int64_t D3 = 3 * D;
    s = dc_layer_declare(l, n[0], 2, (int64_t[]){D3, D}, DC_INIT_GLOROT_UNIFORM, 0);
    if (!s) s = dc_layer_declare(l, n[1], 1, &D3, DC_INIT_ZEROS, 0);
    if (!s) s = dc_layer_declare(l, n[2], 2, (int64_t[]){D, D}, DC_INIT_UNIFORM, 1.0f / sqrtf((float)D));
    if (!s) s = dc_layer_declare(l, n[3], 1, &D, DC_INIT_ZEROS, 0);
    return s;
}

/* Separate projections, as nn.MultiheadAttention has them when kdim/vdim differ from the width:
 * q_proj_weight [D, D], k_proj_weight and v_proj_weight [D, Dm] (Dm the memory's width, D for
 * self-attention), in_proj_bias [3D] (q, k, v), out_proj.weight/bias. */
enum { S_WQ, S_WK, S_WV, S_BIN, S_WOUT, S_BOUT };
static dc_status declare_separate(dc_layer *l, int64_t D, int64_t Dm) {
    dc_status s = check_divides(l, DC_CCFG(l, attn_cfg)->heads, D);
    if (s) return s;
    int64_t D3 = 3 * D;
    s = dc_layer_declare(l, "q_proj_weight", 2, (int64_t[]){D, D}, DC_INIT_GLOROT_UNIFORM, 0);
    if (!s) s = dc_layer_declare(l, "k_proj_weight", 2, (int64_t[]){D, Dm}, DC_INIT_GLOROT_UNIFORM, 0);
    if (!s) s = dc_layer_declare(l, "v_proj_weight", 2, (int64_t[]){D, Dm}, DC_INIT_GLOROT_UNIFORM, 0);
    if (!s) s = dc_layer_declare(l, "in_proj_bias", 1, &D3, DC_INIT_ZEROS, 0);
    if (!s) s = dc_layer_declare(l, "out_proj.weight", 2, (int64_t[]){D, D}, DC_INIT_UNIFORM, 1.0f / sqrtf((float)D));
    if (!s) s = dc_layer_declare(l, "out_proj.bias", 1, &D, DC_INIT_ZEROS, 0);
    return s;
}

/* q from x, k and v from mem (x itself for self-attention) through their own projections;
 * mem_mask is mem's padding. */
static dc_tensor *separate_attention(const attn_cfg *a, dc_fwd *f, dc_tensor *x, dc_tensor *mem, const uint8_t *mem_mask,
                                     bool causal, dc_tensor *const *p) {
    dc_ctx *c = f->ctx;
    int64_t D = p[S_WQ]->shape[0];
    dc_tensor *b[3];
    for (int i = 0; i < 3; i++) /* a NULL bias would mean none to dc_linear */
        if (!(b[i] = dc_slice(c, p[S_BIN], 0, i * D, (i + 1) * D))) return NULL;
    dc_tensor *q = dc_linear(c, x, p[S_WQ], b[0]);
    dc_tensor *k = dc_linear(c, mem, p[S_WK], b[1]);
    dc_tensor *v = dc_linear(c, mem, p[S_WV], b[2]);
    dc_tensor *o = dc_attention_heads(c, q, k, v, (int)a->heads, mem_mask, causal, 0, a->dropout, f->training, f->rng);
    return dc_linear(c, o, p[S_WOUT], p[S_BOUT]);
}

/* ---- MultiHeadAttention ---- */
static const dc_field mha_fields[] = {
    HEADS_FIELD,
    DC_F_BOOL(attn_cfg, "causal", causal, false, DC_FIELD_RUNTIME),
    DROPOUT_FIELD,
    DC_F_BOOL(attn_cfg, "separate_projections", separate, false, 0),
};
static dc_status mha_build(dc_layer *l) {
    const attn_cfg *a = DC_CCFG(l, attn_cfg);
    dc_status s = need_seq(l);
    if (s || (s = check_memory(l, a->separate))) return s;
    dc_layer_same_shape(l);
    if (a->separate) return declare_separate(l, l->in_shape[1], l->nin > 1 ? l->xin_shape[1][1] : l->in_shape[1]);
    return declare_attention(l, "", l->in_shape[1]);
}
/* One input: self-attention; two: the queries attend to the second input (cross-attention),
 * whose padding mask is f->mask[1]. causal applies to both, as Keras's use_causal_mask does,
 * with dc_attention's rule: query i sees key j <= i + (Tk - Tq) (j <= i for self-attention). */
static dc_tensor *mha_forward(dc_layer *l, dc_fwd *f, dc_tensor *const *x, int n) {
    const attn_cfg *a = DC_CCFG(l, attn_cfg);
    dc_tensor *mem = n > 1 ? x[1] : x[0];
    const uint8_t *mem_mask = f->mask[n > 1 ? 1 : 0];
    if (a->separate) return separate_attention(a, f, x[0], mem, mem_mask, a->causal, l->param);
    if (n > 1) return cross_attention(a, f, x[0], mem, mem_mask, a->causal, l->param);
    return self_attention(a, f, x[0], mem_mask, l->param);
}
const dc_layer_type dc_multi_head_attention_type = {
    .name = "MultiHeadAttention", .stem = "multi_head_attention", .cfg_size = sizeof(attn_cfg), .fields = mha_fields,
    .nfields = DC_ARRAY_LEN(mha_fields), .build = mha_build, .forward = mha_forward, .max_inputs = 2,
};
DC_REGISTER_LAYER(dc_multi_head_attention_type);

static dc_status check_heads(const char *who, int heads, float dropout) {
    if (heads <= 0 || heads > MAX_HEADS) return dc_error(DC_ERR_ARG, "%s: heads must be in [1, %d], got %d", who, MAX_HEADS, heads);
    if (!(dropout >= 0 && dropout < 1)) return dc_error(DC_ERR_ARG, "%s: dropout %g is outside [0, 1)", who, (double)dropout);
    return DC_OK;
}

dc_layer *dc_multi_head_attention_layer(int heads, bool causal, float dropout) {
    if (check_heads("multi_head_attention", heads, dropout)) return NULL;
    dc_layer *l = dc_layer_create(&dc_multi_head_attention_type);
    if (!l) return NULL;
    attn_cfg *a = DC_CFG(l, attn_cfg);
    a->heads = heads;
    a->causal = causal;
    a->dropout = dropout;
    return l;
}

/* ---- the encoder and decoder layers' shared options and checks ---- */
#define FF_FIELDS                                                                         \
    DC_F_INT(attn_cfg, "ff_units", ff_units, 1, MAX_UNITS, 1, DC_FIELD_REQUIRED),         \
    DC_F_ENUM(attn_cfg, "activation", act, dc_act_name_of, DC_ACT_COUNT, DC_ACT_RELU, 0), \
    DC_F_BOOL(attn_cfg, "pre_norm", pre_norm, false, 0),                                  \
    EPS_FIELD(attn_cfg)

static bool ff_act_ok(dc_activation act) { return act == DC_ACT_RELU || act == DC_ACT_GELU || act == DC_ACT_GELU_TANH; }

/* The activations nn.TransformerEncoderLayer / DecoderLayer offer. */
static dc_status ff_check(const dc_layer *l) {
    dc_activation act = (dc_activation)DC_CCFG(l, attn_cfg)->act;
    if (!ff_act_ok(act))
        return dc_error(DC_ERR_ARG, "%s: activation %s is not supported (relu, gelu or gelu_tanh)", lname(l), dc_activation_name(act));
    return DC_OK;
}

/* A new encoder or decoder layer of type t; who names it in errors. */
static dc_layer *ff_layer_new(const dc_layer_type *t, const char *who, int heads, int64_t ff_units, float dropout, dc_activation act,
                              bool pre_norm, bool causal) {
    if (check_heads(who, heads, dropout)) return NULL;
    if (ff_units <= 0 || (double)ff_units > MAX_UNITS)
        return dc_error_null(DC_ERR_ARG, "%s: ff_units %lld must be in [1, 2^31]", who, (long long)ff_units);
    if (!ff_act_ok(act))
        return dc_error_null(DC_ERR_ARG, "%s: activation %s is not supported (relu, gelu or gelu_tanh)", who, dc_activation_name(act));
    dc_layer *l = dc_layer_create(t);
    if (!l) return NULL;
    attn_cfg *a = DC_CFG(l, attn_cfg);
    a->heads = heads;
    a->ff_units = ff_units;
    a->dropout = dropout;
    a->act = (int)act;
    a->pre_norm = pre_norm;
    a->causal = causal;
    return l;
}

/* Declares linear1/linear2 with nn.Linear's U(-1/sqrt(in), 1/sqrt(in)) for weights and biases. */
static dc_status declare_ff(dc_layer *l, int64_t D, int64_t F) {
    float a1 = 1.0f / sqrtf((float)D), a2 = 1.0f / sqrtf((float)F);
    dc_status s = dc_layer_declare(l, "linear1.weight", 2, (int64_t[]){F, D}, DC_INIT_UNIFORM, a1);
    if (!s) s = dc_layer_declare(l, "linear1.bias", 1, &F, DC_INIT_UNIFORM, a1);
    if (!s) s = dc_layer_declare(l, "linear2.weight", 2, (int64_t[]){D, F}, DC_INIT_UNIFORM, a2);
    if (!s) s = dc_layer_declare(l, "linear2.bias", 1, &D, DC_INIT_UNIFORM, a2);
    return s;
}

/* linear2(dropout(act(linear1(x)))); w[0..4) are linear1.weight/bias, linear2.weight/bias. */
static dc_tensor *feed_forward(const attn_cfg *a, dc_fwd *f, dc_tensor *x, dc_tensor *const *w) {
    dc_tensor *t = dc_linear(f->ctx, x, w[0], w[1]);
    t = dc_activate(f->ctx, t, (dc_activation)a->act, 0);
    t = dc_dropout(f->ctx, t, a->dropout, f->training, f->rng);
    return dc_linear(f->ctx, t, w[2], w[3]);
}

/* The residual connection x + dropout(t), normalised with (w, b) after it (post-norm: one op,
 * dc_residual_layer_norm, that writes neither the dropped-out t nor the sum) or not (pre-norm,
 * whose sum is also the next block's input). */
static dc_tensor *residual(const attn_cfg *a, dc_fwd *f, dc_tensor *x, dc_tensor *t, dc_tensor *w, dc_tensor *b) {
    if (a->pre_norm) return dc_add(f->ctx, x, dc_dropout(f->ctx, t, a->dropout, f->training, f->rng));
    return dc_residual_layer_norm(f->ctx, x, t, a->dropout, f->training, f->rng, w, b, a->eps);
}

/* ---- Transformer encoder layer ---- */
enum { E_WIN, E_BIN, E_WOUT, E_BOUT, E_W1, E_B1, E_W2, E_B2, E_N1W, E_N1B, E_N2W, E_N2B };

static const dc_field enc_fields[] = {
    HEADS_FIELD,
    DC_F_BOOL(attn_cfg, "causal", causal, false, DC_FIELD_RUNTIME),
    DROPOUT_FIELD,
    FF_FIELDS,
};

static dc_status enc_build(dc_layer *l) {
    dc_status s = need_seq(l);
    if (s) return s;
    dc_layer_same_shape(l);
    int64_t D = l->in_shape[1], F = DC_CCFG(l, attn_cfg)->ff_units;
    if ((s = declare_attention(l, "self_attn.", D)) || (s = declare_ff(l, D, F))) return s;
    static const char *const norms[4] = {"norm1.weight", "norm1.bias", "norm2.weight", "norm2.bias"};
    for (int i = 0; i < 4 && !s; i++) s = dc_layer_declare(l, norms[i], 1, &D, i % 2 ? DC_INIT_ZEROS : DC_INIT_ONES, 0);
    return s;
}

static dc_tensor *enc_forward(dc_layer *l, dc_fwd *f, dc_tensor *const *x, int n) {
    const attn_cfg *a = DC_CCFG(l, attn_cfg);
    dc_ctx *c = f->ctx;
    dc_tensor **p = l->param;
    /* self-attention block; the keys are x's steps, so x's padding mask applies */
    dc_tensor *t = a->pre_norm ? dc_layer_norm(c, x[0], p[E_N1W], p[E_N1B], a->eps) : x[0];
    t = self_attention(a, f, t, f->mask[0], &p[E_WIN]);
    dc_tensor *h = residual(a, f, x[0], t, p[E_N1W], p[E_N1B]);
    /* feed-forward block */
    t = a->pre_norm ? dc_layer_norm(c, h, p[E_N2W], p[E_N2B], a->eps) : h;
    t = feed_forward(a, f, t, &p[E_W1]);
    return residual(a, f, h, t, p[E_N2W], p[E_N2B]);
}
const dc_layer_type dc_transformer_encoder_layer_type = {
    .name = "TransformerEncoderLayer", .stem = "transformer_encoder", .cfg_size = sizeof(attn_cfg), .fields = enc_fields,
    .nfields = DC_ARRAY_LEN(enc_fields), .build = enc_build, .forward = enc_forward, .check = ff_check,
};
DC_REGISTER_LAYER(dc_transformer_encoder_layer_type);

dc_layer *dc_transformer_encoder_layer(int heads, int64_t ff_units, float dropout, dc_activation act, bool pre_norm, bool causal) {
    return ff_layer_new(&dc_transformer_encoder_layer_type, "transformer_encoder", heads, ff_units, dropout, act, pre_norm, causal);
}

/* ---- Transformer decoder layer ---- */
enum { D_SWIN, D_SBIN, D_SWOUT, D_SBOUT, D_CWIN, D_CBIN, D_CWOUT, D_CBOUT, D_W1, D_B1, D_W2, D_B2, D_N1W, D_N1B, D_N2W, D_N2B, D_N3W, D_N3B };

static const dc_field dec_fields[] = {
    HEADS_FIELD,
    /* a decoder's self-attention is causal unless asked otherwise */
    DC_F_BOOL(attn_cfg, "causal", causal, true, DC_FIELD_RUNTIME),
    DROPOUT_FIELD,
    FF_FIELDS,
};

static dc_status dec_build(dc_layer *l) {
    dc_status s = need_seq(l);
    if (s) return s;
    if (l->nin != 2)
        return dc_error(DC_ERR_ARG, "%s: a decoder layer takes two inputs, the target sequence and the encoder's output (memory); "
                        "wire it with dc_model_apply", l->name);
    if ((s = check_memory(l, false))) return s;
    dc_layer_same_shape(l);
    int64_t D = l->in_shape[1], F = DC_CCFG(l, attn_cfg)->ff_units;
    if ((s = declare_attention(l, "self_attn.", D)) || (s = declare_attention(l, "multihead_attn.", D)) || (s = declare_ff(l, D, F)))
        return s;
    static const char *const norms[6] = {"norm1.weight", "norm1.bias", "norm2.weight", "norm2.bias", "norm3.weight", "norm3.bias"};
    for (int i = 0; i < 6 && !s; i++) s = dc_layer_declare(l, norms[i], 1, &D, i % 2 ? DC_INIT_ZEROS : DC_INIT_ONES, 0);
    return s;
}

/* x + dropout(sub-layer(x)), normalised after (post-norm) or before the sub-layer (pre-norm);
 * which = 0 self-attention (keys: the target's steps, its padding mask x_mask), 1
 * cross-attention (keys: the memory's steps, its padding mask mem_mask), 2 feed-forward. */
static dc_tensor *dec_block(const attn_cfg *a, dc_fwd *f, dc_tensor *const *p, dc_tensor *x, const uint8_t *x_mask, dc_tensor *mem,
                            const uint8_t *mem_mask, int which) {
    dc_ctx *c = f->ctx;
    dc_tensor *nw = p[D_N1W + 2 * which], *nb = p[D_N1B + 2 * which];
    dc_tensor *t = a->pre_norm ? dc_layer_norm(c, x, nw, nb, a->eps) : x;
    if (which == 0) t = self_attention(a, f, t, x_mask, &p[D_SWIN]);
    else if (which == 1) t = cross_attention(a, f, t, mem, mem_mask, false, &p[D_CWIN]); /* causal is the self-attention's */
    else t = feed_forward(a, f, t, &p[D_W1]);
    return residual(a, f, x, t, nw, nb);
}

static dc_tensor *dec_forward(dc_layer *l, dc_fwd *f, dc_tensor *const *x, int n) {
    if (n != 2)
        return dc_error_null(DC_ERR_ARG, "%s: needs the target sequence and the memory, got %d input%s", l->name, n, n == 1 ? "" : "s");
    const attn_cfg *a = DC_CCFG(l, attn_cfg);
    dc_tensor *h = x[0];
    for (int which = 0; which < 3; which++) h = dec_block(a, f, l->param, h, f->mask[0], x[1], f->mask[1], which);
    return h;
}
const dc_layer_type dc_transformer_decoder_layer_type = {
    .name = "TransformerDecoderLayer", .stem = "transformer_decoder", .cfg_size = sizeof(attn_cfg), .fields = dec_fields,
    .nfields = DC_ARRAY_LEN(dec_fields), .build = dec_build, .forward = dec_forward, .check = ff_check, .max_inputs = 2,
};
DC_REGISTER_LAYER(dc_transformer_decoder_layer_type);

dc_layer *dc_transformer_decoder_layer(int heads, int64_t ff_units, float dropout, dc_activation act, bool pre_norm) {
    return ff_layer_new(&dc_transformer_decoder_layer_type, "transformer_decoder", heads, ff_units, dropout, act, pre_norm, true);
}

/* ---- mean over the steps of [N, T, D] ---- */
static dc_status gap1_build(dc_layer *l) {
    dc_status s = need_seq(l);
    if (s) return s;
    l->out_ndim = 1;
    l->out_shape[0] = l->in_shape[1];
    return DC_OK;
}
static dc_tensor *gap1_forward(dc_layer *l, dc_fwd *f, dc_tensor *const *x, int n) {
    const uint8_t *mask = f->mask[0];
    f->out_mask = NULL; /* the time axis is gone */
    if (!mask) return dc_mean_axis(f->ctx, x[0], 1, false);
    /* only the real steps count: weights mask / (number of real steps) */
    int64_t N = x[0]->shape[0], T = x[0]->shape[1];
    dc_tensor *w = dc_empty(f->ctx, 3, (int64_t[]){N, T, 1});
    if (!w) return NULL;
    for (int64_t i = 0; i < N; i++) {
        int64_t real = 0;
        for (int64_t t = 0; t < T; t++) real += mask[i * T + t] != 0;
        for (int64_t t = 0; t < T; t++) w->data[i * T + t] = real && mask[i * T + t] ? 1.0f / (float)real : 0.0f;
    }
    return dc_sum_axis(f->ctx, dc_mul(f->ctx, x[0], w), 1, false);
}
const dc_layer_type dc_global_average_pooling1d_type = {
    .name = "GlobalAveragePooling1D", .stem = "global_average_pooling1d", .build = gap1_build, .forward = gap1_forward,
};
DC_REGISTER_LAYER(dc_global_average_pooling1d_type);

dc_layer *dc_global_avg_pool1d_layer(void) { return dc_layer_create(&dc_global_average_pooling1d_type); }
