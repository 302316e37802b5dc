/* Transformer layers on sequences [N, T, D]: LayerNormalization, positional embeddings,
 * multi-head self-attention, the Transformer encoder layer, and average pooling over steps.
 * Parameter names and layouts are PyTorch's (nn.LayerNorm, nn.MultiheadAttention,
 * nn.TransformerEncoderLayer), so weights exchange through safetensors files unchanged. */
#include "layer.h"

#include <math.h>
#include <string.h>

static dc_status need_seq(const dc_layer *l) {
    if (l->in_ndim == 2) return DC_OK;
    char b[160];
    return dc_error(DC_ERR_SHAPE, "%s: expected sequences (None, T, features), got input %s", l->name,
                    dc_layer_shape_str(l->in_ndim, l->in_shape, b, sizeof b));
}

static void same_shape_out(dc_layer *l) {
    l->out_ndim = l->in_ndim;
    memcpy(l->out_shape, l->in_shape, sizeof l->out_shape);
}

/* Step tensors made from x keep its padding mask, so the layers after see it too. */
static dc_tensor *keep_mask(dc_tensor *y, const dc_tensor *x) {
    if (y) y->mask = x->mask;
    return y;
}

/* ---- LayerNormalization over the last axis ---- */
static dc_status ln_build(dc_layer *l) {
    if (l->in_ndim < 1) return dc_error(DC_ERR_SHAPE, "%s: input has no features", l->name);
    same_shape_out(l);
    int64_t D = l->in_shape[l->in_ndim - 1];
    dc_status s = dc_layer_declare(l, "weight", 1, &D, DC_INIT_ONES, 0);
    return s ? s : dc_layer_declare(l, "bias", 1, &D, DC_INIT_ZEROS, 0);
}
static dc_tensor *ln_forward(dc_layer *l, dc_ctx *c, dc_tensor *x, bool training, dc_rng *rng) {
    return keep_mask(dc_layer_norm(c, x, l->param[0], l->param[1], l->eps), x);
}
static const dc_layer_ops ln_ops = {"LayerNormalization", "layer_normalization", ln_build, ln_forward, NULL, NULL, 0};

dc_layer *dc_layer_norm_layer(float eps) {
    if (!(eps >= 0) || !isfinite(eps)) return dc_error_null(DC_ERR_ARG, "layer_normalization: eps %g must be >= 0", (double)eps);
    dc_layer *l = dc_layer_new(&ln_ops);
    if (l) l->eps = eps > 0 ? eps : 1e-5f;
    return l;
}

dc_status dc_layer_set_epsilon(dc_layer *l, float eps) {
    if (!l || !(eps > 0) || !isfinite(eps)) return dc_error(DC_ERR_ARG, "dc_layer_set_epsilon: layer is NULL or eps is not positive");
    l->eps = eps;
    return DC_OK;
}

/* ---- positional embeddings: x + table[0..T) ---- */
static dc_status pos_build(dc_layer *l) {
    dc_status s = need_seq(l);
    if (s) return s;
    same_shape_out(l);
    int64_t D = l->in_shape[1];
    if (l->in_shape[0] > l->units)
        return dc_error(DC_ERR_SHAPE, "%s: sequences of %lld steps are longer than its table of %lld positions", l->name,
                        (long long)l->in_shape[0], (long long)l->units);
    if (l->learned) /* as BERT's position embeddings; N(0, 0.02) */
        return dc_layer_declare(l, "weight", 2, (int64_t[]){l->units, D}, DC_INIT_NORMAL, 0.02f);
    return dc_layer_declare_state(l, "table", 2, (int64_t[]){l->units, D}, DC_INIT_ZEROS, 0);
}
/* The fixed table of Vaswani et al.: sin at even features, cos at odd ones. */
static void pos_post_init(dc_layer *l) {
    if (l->learned) return;
    dc_tensor *t = l->param[0];
    int64_t P = t->shape[0], D = t->shape[1];
    for (int64_t p = 0; p < P; p++)
        for (int64_t i = 0; i < D; i++) {
            double f = pow(10000.0, -(double)(i - i % 2) / (double)D);
            t->data[p * D + i] = (float)(i % 2 ? cos((double)p * f) : sin((double)p * f));
        }
}
static dc_tensor *pos_forward(dc_layer *l, dc_ctx *c, dc_tensor *x, bool training, dc_rng *rng) {
    int64_t T = x->shape[1];
    if (T > l->units)
        return dc_error_null(DC_ERR_SHAPE, "%s: a sequence of %lld steps is longer than its table of %lld positions", l->name,
                             (long long)T, (long long)l->units);
    dc_tensor *p = dc_slice(c, l->param[0], 0, 0, T);
    return keep_mask(p ? dc_add(c, x, p) : NULL, x);
}
static const dc_layer_ops pos_ops = {"PositionalEmbedding", "positional_embedding", pos_build, pos_forward, pos_post_init, NULL, 0};

dc_layer *dc_positional_embedding_layer(int64_t max_len, bool learned) {
    if (max_len <= 0 || max_len > (1 << 24))
        return dc_error_null(DC_ERR_ARG, "positional_embedding: max_len %lld must be in [1, 2^24]", (long long)max_len);
    dc_layer *l = dc_layer_new(&pos_ops);
    if (!l) return NULL;
    l->units = max_len;
    l->learned = learned;
    return l;
}

/* ---- multi-head self-attention ---- */
/* y = out_proj(attention(x W_in^T + b_in)) for x [N, T, D]; W_in packs q, k, v, and the
 * attention reads the heads straight out of the packed projection. */
static dc_tensor *self_attention(dc_layer *l, dc_ctx *c, dc_tensor *x, dc_tensor *w_in, dc_tensor *b_in, dc_tensor *w_out,
                                 dc_tensor *b_out, bool training, dc_rng *rng) {
    dc_tensor *qkv = dc_linear(c, x, w_in, b_in); /* [N, T, 3D] */
    dc_tensor *o = qkv ? dc_attention_packed(c, qkv, l->heads, x->mask, l->causal, 0, l->rate, training, rng) : NULL;
    return o ? dc_linear(c, o, w_out, b_out) : NULL;
}

/* Cross-attention: queries from x [N, Tq, D], keys and values from mem [N, Tk, D] (its padding
 * mask applies), with the packed W_in split into W_q and W_kv as nn.MultiheadAttention does. */
static dc_tensor *cross_attention(dc_layer *l, dc_ctx *c, dc_tensor *x, dc_tensor *mem, dc_tensor *w_in, dc_tensor *b_in,
                                  dc_tensor *w_out, dc_tensor *b_out, bool training, dc_rng *rng) {
    int64_t D = w_in->shape[1];
    dc_tensor *wq = dc_slice(c, w_in, 0, 0, D), *bq = dc_slice(c, b_in, 0, 0, D);
    dc_tensor *wkv = dc_slice(c, w_in, 0, D, 3 * D), *bkv = dc_slice(c, b_in, 0, D, 3 * D);
    if (!wq || !bq || !wkv || !bkv) return NULL;
    dc_tensor *q = dc_linear(c, x, wq, bq), *kv = q ? dc_linear(c, mem, wkv, bkv) : NULL;
    dc_tensor *o = kv ? dc_attention_cross(c, q, kv, l->heads, mem->mask, false, 0, l->rate, training, rng) : NULL;
    return o ? dc_linear(c, o, w_out, b_out) : NULL;
}

/* The second input of a layer that attends to a memory: [N, Tk, D] with x's batch and width
 * (any width with separate projections). */
static dc_status check_memory(const dc_layer *l) {
    if (l->nin < 2) return DC_OK;
    const int64_t *m = l->xin_shape[1];
    if (l->separate_qkv && l->xin_ndim[1] == 2) return DC_OK;
    if (l->xin_ndim[1] != 2 || m[1] != l->in_shape[1]) {
        char b[160];
        return dc_error(DC_ERR_SHAPE, "%s: the memory (input 1) must be (None, T, %lld) like the queries' width, got %s", l->name,
                        (long long)l->in_shape[1], dc_layer_shape_str(l->xin_ndim[1], m, b, sizeof b));
    }
    return DC_OK;
}

/* Declares the attention block's four tensors with nn.MultiheadAttention's names under prefix. */
static dc_status declare_attention(dc_layer *l, const char *prefix, int64_t D) {
    if (D % l->heads)
        return dc_error(DC_ERR_SHAPE, "%s: %d heads do not divide the model width %lld", l->name, l->heads, (long long)D);
    char n[4][40];
    snprintf(n[0], sizeof n[0], "%sin_proj_weight", prefix);
    snprintf(n[1], sizeof n[1], "%sin_proj_bias", prefix);
    snprintf(n[2], sizeof n[2], "%sout_proj.weight", prefix);
    snprintf(n[3], sizeof n[3], "%sout_proj.bias", prefix);
    int64_t D3 = 3 * D;
    dc_status s = dc_layer_declare(l, n[0], 2, (int64_t[]){D3, D}, DC_INIT_GLOROT_UNIFORM, 0);
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
    if (D % l->heads)
        return dc_error(DC_ERR_SHAPE, "%s: %d heads do not divide the model width %lld", l->name, l->heads, (long long)D);
    int64_t D3 = 3 * D;
    dc_status s = dc_layer_declare(l, "q_proj_weight", 2, (int64_t[]){D, D}, DC_INIT_GLOROT_UNIFORM, 0);
    if (!s) s = dc_layer_declare(l, "k_proj_weight", 2, (int64_t[]){D, Dm}, DC_INIT_GLOROT_UNIFORM, 0);
    if (!s) s = dc_layer_declare(l, "v_proj_weight", 2, (int64_t[]){D, Dm}, DC_INIT_GLOROT_UNIFORM, 0);
    if (!s) s = dc_layer_declare(l, "in_proj_bias", 1, &D3, DC_INIT_ZEROS, 0);
    if (!s) s = dc_layer_declare(l, "out_proj.weight", 2, (int64_t[]){D, D}, DC_INIT_UNIFORM, 1.0f / sqrtf((float)D));
    if (!s) s = dc_layer_declare(l, "out_proj.bias", 1, &D, DC_INIT_ZEROS, 0);
    return s;
}

/* q from x, k and v from mem (x itself for self-attention) through their own projections. */
static dc_tensor *separate_attention(dc_layer *l, dc_ctx *c, dc_tensor *x, dc_tensor *mem, bool training, dc_rng *rng) {
    dc_tensor **p = l->param;
    int64_t D = p[S_WQ]->shape[0];
    dc_tensor *b[3];
    for (int i = 0; i < 3; i++)
        if (!(b[i] = dc_slice(c, p[S_BIN], 0, i * D, (i + 1) * D))) return NULL;
    dc_tensor *q = dc_linear(c, x, p[S_WQ], b[0]);
    dc_tensor *k = q ? dc_linear(c, mem, p[S_WK], b[1]) : NULL;
    dc_tensor *v = k ? dc_linear(c, mem, p[S_WV], b[2]) : NULL;
    dc_tensor *o = v ? dc_attention_heads(c, q, k, v, l->heads, mem->mask, l->causal && mem == x, 0, l->rate, training, rng) : NULL;
    return o ? dc_linear(c, o, p[S_WOUT], p[S_BOUT]) : NULL;
}

static dc_status mha_build(dc_layer *l) {
    dc_status s = need_seq(l);
    if (s || (s = check_memory(l))) return s;
    same_shape_out(l);
    if (l->separate_qkv) return declare_separate(l, l->in_shape[1], l->nin > 1 ? l->xin_shape[1][1] : l->in_shape[1]);
    return declare_attention(l, "", l->in_shape[1]);
}
static dc_tensor *mha_forward(dc_layer *l, dc_ctx *c, dc_tensor *x, bool training, dc_rng *rng) {
    if (l->separate_qkv) return keep_mask(separate_attention(l, c, x, x, training, rng), x);
    return keep_mask(self_attention(l, c, x, l->param[0], l->param[1], l->param[2], l->param[3], training, rng), x);
}
/* One input: self-attention; two: the queries attend to the second input (cross-attention). */
static dc_tensor *mha_forward_n(dc_layer *l, dc_ctx *c, dc_tensor **x, int n, bool training, dc_rng *rng) {
    if (n == 1) return mha_forward(l, c, x[0], training, rng);
    if (l->separate_qkv) return keep_mask(separate_attention(l, c, x[0], x[1], training, rng), x[0]);
    return keep_mask(cross_attention(l, c, x[0], x[1], l->param[0], l->param[1], l->param[2], l->param[3], training, rng), x[0]);
}
static const dc_layer_ops mha_ops = {"MultiHeadAttention", "multi_head_attention", mha_build, mha_forward, NULL, mha_forward_n, 2};

static dc_status check_heads(const char *who, int heads, float dropout) {
    if (heads <= 0 || heads > 4096) return dc_error(DC_ERR_ARG, "%s: heads must be in [1, 4096], got %d", who, heads);
    if (!(dropout >= 0 && dropout < 1)) return dc_error(DC_ERR_ARG, "%s: dropout %g is outside [0, 1)", who, (double)dropout);
    return DC_OK;
}

dc_status dc_layer_set_separate_projections(dc_layer *l, bool on) {
    if (!l || strcmp(l->ops->type, "MultiHeadAttention") != 0)
        return dc_error(DC_ERR_ARG, "dc_layer_set_separate_projections: %s is not a MultiHeadAttention layer",
                        l ? l->ops->type : "NULL");
    if (l->nparams) return dc_error(DC_ERR_STATE, "dc_layer_set_separate_projections: %s is already built", l->name);
    l->separate_qkv = on;
    return DC_OK;
}

dc_layer *dc_multi_head_attention_layer(int heads, bool causal, float dropout) {
    if (check_heads("multi_head_attention", heads, dropout)) return NULL;
    dc_layer *l = dc_layer_new(&mha_ops);
    if (!l) return NULL;
    l->heads = heads;
    l->causal = causal;
    l->rate = dropout;
    return l;
}

/* ---- Transformer encoder layer ---- */
enum { E_WIN, E_BIN, E_WOUT, E_BOUT, E_W1, E_B1, E_W2, E_B2, E_N1W, E_N1B, E_N2W, E_N2B };

static dc_status enc_build(dc_layer *l) {
    dc_status s = need_seq(l);
    if (s) return s;
    same_shape_out(l);
    int64_t D = l->in_shape[1], F = l->ff_units;
    if ((s = declare_attention(l, "self_attn.", D))) return s;
    float a1 = 1.0f / sqrtf((float)D), a2 = 1.0f / sqrtf((float)F); /* nn.Linear's U(-1/sqrt(in), 1/sqrt(in)) */
    if (!s) s = dc_layer_declare(l, "linear1.weight", 2, (int64_t[]){F, D}, DC_INIT_UNIFORM, a1);
    if (!s) s = dc_layer_declare(l, "linear1.bias", 1, &F, DC_INIT_UNIFORM, a1);
    if (!s) s = dc_layer_declare(l, "linear2.weight", 2, (int64_t[]){D, F}, DC_INIT_UNIFORM, a2);
    if (!s) s = dc_layer_declare(l, "linear2.bias", 1, &D, DC_INIT_UNIFORM, a2);
    if (!s) s = dc_layer_declare(l, "norm1.weight", 1, &D, DC_INIT_ONES, 0);
    if (!s) s = dc_layer_declare(l, "norm1.bias", 1, &D, DC_INIT_ZEROS, 0);
    if (!s) s = dc_layer_declare(l, "norm2.weight", 1, &D, DC_INIT_ONES, 0);
    if (!s) s = dc_layer_declare(l, "norm2.bias", 1, &D, DC_INIT_ZEROS, 0);
    return s;
}

static dc_tensor *enc_forward(dc_layer *l, dc_ctx *c, dc_tensor *x, bool training, dc_rng *rng) {
    dc_tensor **p = l->param;
    const uint8_t *mask = x->mask;
    dc_tensor *h = x, *a, *f;
    /* self-attention block */
    a = l->pre_norm ? dc_layer_norm(c, x, p[E_N1W], p[E_N1B], l->eps) : x;
    if (a) a->mask = mask;
    a = a ? self_attention(l, c, a, p[E_WIN], p[E_BIN], p[E_WOUT], p[E_BOUT], training, rng) : NULL;
    a = a ? dc_dropout(c, a, l->rate, training, rng) : NULL;
    h = a ? dc_add(c, x, a) : NULL;
    if (h && !l->pre_norm) h = dc_layer_norm(c, h, p[E_N1W], p[E_N1B], l->eps);
    /* feed-forward block */
    f = h && l->pre_norm ? dc_layer_norm(c, h, p[E_N2W], p[E_N2B], l->eps) : h;
    f = f ? dc_linear(c, f, p[E_W1], p[E_B1]) : NULL;
    f = f ? dc_activate(c, f, l->act, 0) : NULL;
    f = f ? dc_dropout(c, f, l->rate, training, rng) : NULL;
    f = f ? dc_linear(c, f, p[E_W2], p[E_B2]) : NULL;
    f = f ? dc_dropout(c, f, l->rate, training, rng) : NULL;
    dc_tensor *y = f ? dc_add(c, h, f) : NULL;
    if (y && !l->pre_norm) y = dc_layer_norm(c, y, p[E_N2W], p[E_N2B], l->eps);
    if (y) y->mask = mask;
    return y;
}
static const dc_layer_ops enc_ops = {"TransformerEncoderLayer", "transformer_encoder", enc_build, enc_forward, NULL, NULL, 0};

dc_layer *dc_transformer_encoder_layer(int heads, int64_t ff_units, float dropout, dc_activation act, bool pre_norm, bool causal) {
    if (check_heads("transformer_encoder", heads, dropout)) return NULL;
    if (ff_units <= 0 || ff_units > ((int64_t)1 << 31))
        return dc_error_null(DC_ERR_ARG, "transformer_encoder: ff_units %lld must be in [1, 2^31]", (long long)ff_units);
    if (act != DC_ACT_RELU && act != DC_ACT_GELU && act != DC_ACT_GELU_TANH)
        return dc_error_null(DC_ERR_ARG, "transformer_encoder: activation %s is not supported (relu, gelu or gelu_tanh)",
                             dc_activation_name(act));
    dc_layer *l = dc_layer_new(&enc_ops);
    if (!l) return NULL;
    l->heads = heads;
    l->ff_units = ff_units;
    l->rate = dropout;
    l->act = act;
    l->pre_norm = pre_norm;
    l->causal = causal;
    l->eps = 1e-5f;
    return l;
}

/* ---- Transformer decoder layer ---- */
enum { D_SWIN, D_SBIN, D_SWOUT, D_SBOUT, D_CWIN, D_CBIN, D_CWOUT, D_CBOUT, D_W1, D_B1, D_W2, D_B2, D_N1W, D_N1B, D_N2W, D_N2B, D_N3W, D_N3B };

static dc_status dec_build(dc_layer *l) {
    dc_status s = need_seq(l);
    if (s) return s;
    if (l->nin != 2)
        return dc_error(DC_ERR_ARG, "%s: a decoder layer takes two inputs, the target sequence and the encoder's output (memory); "
                        "wire it with dc_model_apply", l->name);
    if ((s = check_memory(l))) return s;
    same_shape_out(l);
    int64_t D = l->in_shape[1], F = l->ff_units;
    if ((s = declare_attention(l, "self_attn.", D)) || (s = declare_attention(l, "multihead_attn.", D))) return s;
    float a1 = 1.0f / sqrtf((float)D), a2 = 1.0f / sqrtf((float)F);
    if (!s) s = dc_layer_declare(l, "linear1.weight", 2, (int64_t[]){F, D}, DC_INIT_UNIFORM, a1);
    if (!s) s = dc_layer_declare(l, "linear1.bias", 1, &F, DC_INIT_UNIFORM, a1);
    if (!s) s = dc_layer_declare(l, "linear2.weight", 2, (int64_t[]){D, F}, DC_INIT_UNIFORM, a2);
    if (!s) s = dc_layer_declare(l, "linear2.bias", 1, &D, DC_INIT_UNIFORM, a2);
    static const char *const norms[6] = {"norm1.weight", "norm1.bias", "norm2.weight", "norm2.bias", "norm3.weight", "norm3.bias"};
    for (int i = 0; i < 6 && !s; i++) s = dc_layer_declare(l, norms[i], 1, &D, i % 2 ? DC_INIT_ZEROS : DC_INIT_ONES, 0);
    return s;
}

/* x + dropout(sub-layer(x)), normalised after (post-norm) or before the sub-layer (pre-norm);
 * which = 0 self-attention, 1 cross-attention, 2 feed-forward. */
static dc_tensor *dec_block(dc_layer *l, dc_ctx *c, dc_tensor *x, dc_tensor *mem, int which, bool training, dc_rng *rng) {
    dc_tensor **p = l->param;
    dc_tensor *nw = p[D_N1W + 2 * which], *nb = p[D_N1B + 2 * which];
    const uint8_t *mask = x->mask;
    dc_tensor *a = l->pre_norm ? dc_layer_norm(c, x, nw, nb, l->eps) : x;
    if (!a) return NULL;
    a->mask = mask;
    if (which == 0) {
        a = self_attention(l, c, a, p[D_SWIN], p[D_SBIN], p[D_SWOUT], p[D_SBOUT], training, rng);
    } else if (which == 1) {
        a = cross_attention(l, c, a, mem, p[D_CWIN], p[D_CBIN], p[D_CWOUT], p[D_CBOUT], training, rng);
    } else {
        a = dc_linear(c, a, p[D_W1], p[D_B1]);
        a = a ? dc_activate(c, a, l->act, 0) : NULL;
        a = a ? dc_dropout(c, a, l->rate, training, rng) : NULL;
        a = a ? dc_linear(c, a, p[D_W2], p[D_B2]) : NULL;
    }
    a = a ? dc_dropout(c, a, l->rate, training, rng) : NULL;
    dc_tensor *h = a ? dc_add(c, x, a) : NULL;
    if (h && !l->pre_norm) h = dc_layer_norm(c, h, nw, nb, l->eps);
    if (h) h->mask = mask;
    return h;
}

static dc_tensor *dec_forward_n(dc_layer *l, dc_ctx *c, dc_tensor **x, int n, bool training, dc_rng *rng) {
    if (n != 2) return dc_error_null(DC_ERR_ARG, "%s: needs the target sequence and the memory, got %d input", l->name, n);
    dc_tensor *h = x[0];
    for (int which = 0; which < 3 && h; which++) h = dec_block(l, c, h, x[1], which, training, rng);
    return h;
}
static dc_tensor *dec_forward(dc_layer *l, dc_ctx *c, dc_tensor *x, bool training, dc_rng *rng) {
    return dec_forward_n(l, c, &x, 1, training, rng);
}
static const dc_layer_ops dec_ops = {"TransformerDecoderLayer", "transformer_decoder", dec_build, dec_forward, NULL, dec_forward_n, 2};

dc_layer *dc_transformer_decoder_layer(int heads, int64_t ff_units, float dropout, dc_activation act, bool pre_norm) {
    dc_layer *l = dc_transformer_encoder_layer(heads, ff_units, dropout, act, pre_norm, true);
    if (!l) return dc_error_prefix("transformer_decoder"), NULL;
    l->ops = &dec_ops;
    return l;
}

/* ---- mean over the steps of [N, T, D] ---- */
static dc_status gap1_build(dc_layer *l) {
    dc_status s = need_seq(l);
    if (s) return s;
    l->out_ndim = 1;
    l->out_shape[0] = l->in_shape[1];
    return DC_OK;
}
static dc_tensor *gap1_forward(dc_layer *l, dc_ctx *c, dc_tensor *x, bool training, dc_rng *rng) {
    if (!x->mask) return dc_mean_axis(c, x, 1, false);
    /* only the real steps count: weights mask / (number of real steps) */
    int64_t N = x->shape[0], T = x->shape[1];
    dc_tensor *w = dc_empty(c, 3, (int64_t[]){N, T, 1});
    if (!w) return NULL;
    for (int64_t n = 0; n < N; n++) {
        int64_t real = 0;
        for (int64_t t = 0; t < T; t++) real += x->mask[n * T + t] != 0;
        for (int64_t t = 0; t < T; t++) w->data[n * T + t] = real && x->mask[n * T + t] ? 1.0f / (float)real : 0.0f;
    }
    dc_tensor *y = dc_mul(c, x, w);
    return y ? dc_sum_axis(c, y, 1, false) : NULL;
}
static const dc_layer_ops gap1_ops = {"GlobalAveragePooling1D", "global_average_pooling1d", gap1_build, gap1_forward, NULL, NULL, 0};

dc_layer *dc_global_avg_pool1d_layer(void) { return dc_layer_new(&gap1_ops); }
