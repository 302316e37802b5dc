/* BERT (Devlin et al. 2018) as layers: the embeddings (word + position + segment, then
 * LayerNorm), the post-norm encoder layer with separate query/key/value projections, and the
 * pooler. Parameter names are Hugging Face's BertModel names, so with the layers named
 * "embeddings", "encoder.layer.<i>" and "pooler" the model's parameter names are the
 * checkpoint's (the loader, dc_bert_load, lives in src/zoo/bert.c). */
#include "layer.h"

#include <float.h>
#include <math.h>
#include <string.h>

#define MAX_TABLE (INT64_C(1) << 24) /* ids travel as floats: exact up to 2^24 */
#define MAX_HIDDEN (INT64_C(1) << 31)
/* Any positive finite float, as the old constructors and dc_layer_set_epsilon accepted. */
#define EPS_FIELD(T) DC_F_FLOAT(T, "epsilon", eps, FLT_TRUE_MIN, FLT_MAX, 1e-12, DC_FIELD_RUNTIME)
/* [0, 1): a rate of 1 would drop everything and scale by infinity */
#define DROPOUT_FIELD(T) DC_F_FLOAT(T, "dropout", dropout, 0, 0.99999994, 0, DC_FIELD_RUNTIME)

static dc_status need_ids(const dc_layer *l, int i) {
    if (l->xin_ndim[i] == 1) return DC_OK;
    char b[160];
    return dc_error(DC_ERR_SHAPE, "%s: input %d: expected token ids (None, T), got %s", l->name, i,
                    dc_layer_shape_str(l->xin_ndim[i], l->xin_shape[i], b, sizeof b));
}

static dc_status check_eps_dropout(const char *who, float eps, float dropout) {
    if (!(eps > 0) || !isfinite(eps)) return dc_error(DC_ERR_ARG, "%s: eps %g must be positive", who, (double)eps);
    if (!(dropout >= 0 && dropout < 1)) return dc_error(DC_ERR_ARG, "%s: dropout %g is outside [0, 1)", who, (double)dropout);
    return DC_OK;
}

/* ---- embeddings: dropout(LayerNorm(word[ids] + position[0..T) + token_type[types])) ---- */
typedef struct bert_emb_cfg {
    int64_t vocab, hidden, positions, types;
    float eps, dropout;
} bert_emb_cfg;
static const dc_field bert_emb_fields[] = {
    DC_F_INT(bert_emb_cfg, "vocab_size", vocab, 1, (double)MAX_TABLE, 1, DC_FIELD_REQUIRED),
    DC_F_INT(bert_emb_cfg, "hidden_size", hidden, 1, (double)MAX_HIDDEN, 1, DC_FIELD_REQUIRED),
    DC_F_INT(bert_emb_cfg, "max_position_embeddings", positions, 1, (double)MAX_TABLE, 1, DC_FIELD_REQUIRED),
    DC_F_INT(bert_emb_cfg, "type_vocab_size", types, 1, (double)MAX_TABLE, 1, DC_FIELD_REQUIRED),
    EPS_FIELD(bert_emb_cfg),
    DROPOUT_FIELD(bert_emb_cfg),
};
enum { EM_WORD, EM_POS, EM_TYPE, EM_LNW, EM_LNB };

static dc_status emb_build(dc_layer *l) {
    const bert_emb_cfg *c = DC_CCFG(l, bert_emb_cfg);
    int n = l->nin > 1 ? l->nin : 1;
    for (int i = 0; i < n; i++) {
        dc_status s = need_ids(l, i);
        if (s) return s;
    }
    int64_t T = l->in_shape[0], H = c->hidden, P = c->positions;
    if (n > 1 && l->xin_shape[1][0] != T)
        return dc_error(DC_ERR_SHAPE, "%s: token_type_ids have %lld steps but the token ids %lld", l->name,
                        (long long)l->xin_shape[1][0], (long long)T);
    if (T > P)
        return dc_error(DC_ERR_SHAPE, "%s: sequences of %lld tokens are longer than its table of %lld positions", l->name,
                        (long long)T, (long long)P);
    l->out_ndim = 2;
    l->out_shape[0] = T;
    l->out_shape[1] = H;
    dc_status s = dc_layer_declare(l, "word_embeddings.weight", 2, (int64_t[]){c->vocab, H}, DC_INIT_NORMAL, 0.02f);
    if (!s) s = dc_layer_declare(l, "position_embeddings.weight", 2, (int64_t[]){P, H}, DC_INIT_NORMAL, 0.02f);
    if (!s) s = dc_layer_declare(l, "token_type_embeddings.weight", 2, (int64_t[]){c->types, H}, DC_INIT_NORMAL, 0.02f);
    if (!s) s = dc_layer_declare(l, "LayerNorm.weight", 1, &H, DC_INIT_ONES, 0);
    if (!s) s = dc_layer_declare(l, "LayerNorm.bias", 1, &H, DC_INIT_ZEROS, 0);
    return s;
}

/* Ids must be whole numbers in [0, size): the message names the layer, the id, its place and
 * the size (of what_size). */
static dc_status check_ids(const dc_layer *l, const dc_tensor *ids, int64_t size, const char *what, const char *what_size) {
    int64_t T = ids->shape[1];
    for (int64_t r = 0; r < ids->numel; r++) {
        float v = ids->data[r];
        if (!(v >= 0 && v < (float)size) || v != floorf(v))
            return dc_error(DC_ERR_ARG, "%s: %s %g at [%lld, %lld] is outside [0, %lld) (%s)", l->name, what, (double)v,
                            (long long)(r / T), (long long)(r % T), (long long)size, what_size);
    }
    return DC_OK;
}

/* x[0] token ids [N, T], x[1] (optional) token_type_ids [N, T] -> [N, T, H]; the output's mask
 * is ids != 0. */
static dc_tensor *emb_forward(dc_layer *l, dc_fwd *f, dc_tensor *const *x, int n) {
    const bert_emb_cfg *cfg = DC_CCFG(l, bert_emb_cfg);
    dc_ctx *c = f->ctx;
    dc_tensor **p = l->param, *ids = x[0], *types = n > 1 ? x[1] : NULL;
    if (ids->ndim != 2 || (types && (types->ndim != 2 || types->shape[0] != ids->shape[0] || types->shape[1] != ids->shape[1]))) {
        char a[96], b[96];
        return dc_error_null(DC_ERR_SHAPE, "%s: expected token ids [N, T] and token_type_ids of the same shape, got %s and %s",
                             l->name, dc_shape_str(ids->ndim, ids->shape, a, sizeof a),
                             types ? dc_shape_str(types->ndim, types->shape, b, sizeof b) : "none");
    }
    int64_t T = ids->shape[1], P = cfg->positions;
    if (T > P)
        return dc_error_null(DC_ERR_SHAPE, "%s: a sequence of %lld tokens is longer than its table of %lld positions", l->name,
                             (long long)T, (long long)P);
    /* check_ids reads the ids as one contiguous block */
    if (!(ids = dc_contig(c, ids)) || (types && !(types = dc_contig(c, types)))) return NULL;
    if (check_ids(l, ids, cfg->vocab, "token id", "the vocabulary size") ||
        (types && check_ids(l, types, cfg->types, "token type id", "the token type vocabulary size")))
        return NULL;
    /* [PAD] is id 0 in BERT's vocabularies: its row gets no gradient (padding_idx=0) and its
     * steps are masked out of the attention */
    if (!(f->out_mask = dc_padding_mask(c, ids))) return NULL;
    dc_tensor *w = dc_embedding(c, ids, p[EM_WORD], 0);
    dc_tensor *pos = dc_slice(c, p[EM_POS], 0, 0, T); /* [T, H] */
    /* [N, T, H], or without segment ids the row of segment 0, [1, H] */
    dc_tensor *tt = types ? dc_embedding(c, types, p[EM_TYPE], -1) : dc_slice(c, p[EM_TYPE], 0, 0, 1);
    dc_tensor *y = dc_add(c, dc_add(c, w, pos), tt);
    y = dc_layer_norm(c, y, p[EM_LNW], p[EM_LNB], cfg->eps);
    return dc_dropout(c, y, cfg->dropout, f->training, f->rng);
}
const dc_layer_type dc_bert_embeddings_type = {
    .name = "BertEmbeddings", .stem = "bert_embeddings", .cfg_size = sizeof(bert_emb_cfg), .fields = bert_emb_fields,
    .nfields = DC_ARRAY_LEN(bert_emb_fields), .build = emb_build, .forward = emb_forward, .max_inputs = 2,
};
DC_REGISTER_LAYER(dc_bert_embeddings_type);

dc_layer *dc_bert_embeddings_layer(int64_t vocab, int64_t hidden, int64_t max_positions, int64_t type_vocab, float eps,
                                   float dropout) {
    if (vocab <= 0 || vocab > MAX_TABLE || hidden <= 0 || hidden > MAX_HIDDEN || max_positions <= 0 || max_positions > MAX_TABLE ||
        type_vocab <= 0 || type_vocab > MAX_TABLE)
        return dc_error_null(DC_ERR_ARG,
                             "bert_embeddings: vocab %lld, max_positions %lld and type_vocab %lld must be in [1, 2^24], hidden %lld "
                             "in [1, 2^31]",
                             (long long)vocab, (long long)max_positions, (long long)type_vocab, (long long)hidden);
    if (check_eps_dropout("bert_embeddings", eps, dropout)) return NULL;
    dc_layer *l = dc_layer_create(&dc_bert_embeddings_type);
    if (!l) return NULL;
    /* every value is within its field's bounds (checked above) */
    bert_emb_cfg *c = DC_CFG(l, bert_emb_cfg);
    c->vocab = vocab;
    c->hidden = hidden;
    c->positions = max_positions;
    c->types = type_vocab;
    c->eps = eps;
    c->dropout = dropout;
    return l;
}

/* ---- encoder layer (post-norm) ---- */
typedef struct bert_layer_cfg {
    int64_t heads, intermediate;
    float eps, dropout;
} bert_layer_cfg;
static const dc_field bert_layer_fields[] = {
    DC_F_INT(bert_layer_cfg, "heads", heads, 1, 4096, 1, DC_FIELD_REQUIRED),
    DC_F_INT(bert_layer_cfg, "intermediate_size", intermediate, 1, (double)MAX_HIDDEN, 1, DC_FIELD_REQUIRED),
    EPS_FIELD(bert_layer_cfg),
    DROPOUT_FIELD(bert_layer_cfg),
};
enum { BL_Q, BL_QB, BL_K, BL_KB, BL_V, BL_VB, BL_AO, BL_AOB, BL_LN1W, BL_LN1B, BL_I, BL_IB, BL_O, BL_OB, BL_LN2W, BL_LN2B };

static dc_status need_seq(const dc_layer *l) {
    if (l->in_ndim == 2) return DC_OK;
    char b[160];
    return dc_error(DC_ERR_SHAPE, "%s: expected hidden states (None, T, hidden), got input %s", l->name,
                    dc_layer_shape_str(l->in_ndim, l->in_shape, b, sizeof b));
}

static dc_status bl_build(dc_layer *l) {
    const bert_layer_cfg *c = DC_CCFG(l, bert_layer_cfg);
    dc_status s = need_seq(l);
    if (s) return s;
    int64_t D = l->in_shape[1], F = c->intermediate;
    if (D % c->heads)
        return dc_error(DC_ERR_SHAPE, "%s: %lld heads do not divide the hidden size %lld", l->name, (long long)c->heads, (long long)D);
    dc_layer_same_shape(l);
    static const char *const proj[3] = {"query", "key", "value"};
    char w[40], b[40];
    for (int i = 0; !s && i < 3; i++) { /* BERT's initialiser: N(0, 0.02) weights, zero biases */
        snprintf(w, sizeof w, "attention.self.%s.weight", proj[i]);
        snprintf(b, sizeof b, "attention.self.%s.bias", proj[i]);
        s = dc_layer_declare(l, w, 2, (int64_t[]){D, D}, DC_INIT_NORMAL, 0.02f);
        if (!s) s = dc_layer_declare(l, b, 1, &D, DC_INIT_ZEROS, 0);
    }
    if (!s) s = dc_layer_declare(l, "attention.output.dense.weight", 2, (int64_t[]){D, D}, DC_INIT_NORMAL, 0.02f);
    if (!s) s = dc_layer_declare(l, "attention.output.dense.bias", 1, &D, DC_INIT_ZEROS, 0);
    if (!s) s = dc_layer_declare(l, "attention.output.LayerNorm.weight", 1, &D, DC_INIT_ONES, 0);
    if (!s) s = dc_layer_declare(l, "attention.output.LayerNorm.bias", 1, &D, DC_INIT_ZEROS, 0);
    if (!s) s = dc_layer_declare(l, "intermediate.dense.weight", 2, (int64_t[]){F, D}, DC_INIT_NORMAL, 0.02f);
    if (!s) s = dc_layer_declare(l, "intermediate.dense.bias", 1, &F, DC_INIT_ZEROS, 0);
    if (!s) s = dc_layer_declare(l, "output.dense.weight", 2, (int64_t[]){D, F}, DC_INIT_NORMAL, 0.02f);
    if (!s) s = dc_layer_declare(l, "output.dense.bias", 1, &D, DC_INIT_ZEROS, 0);
    if (!s) s = dc_layer_declare(l, "output.LayerNorm.weight", 1, &D, DC_INIT_ONES, 0);
    if (!s) s = dc_layer_declare(l, "output.LayerNorm.bias", 1, &D, DC_INIT_ZEROS, 0);
    return s;
}

/* The output keeps the input's time axis, so it keeps its mask (f->out_mask as the executor
 * set it). */
static dc_tensor *bl_forward(dc_layer *l, dc_fwd *f, dc_tensor *const *xs, int n) {
    const bert_layer_cfg *cfg = DC_CCFG(l, bert_layer_cfg);
    dc_ctx *c = f->ctx;
    dc_tensor **p = l->param, *x = xs[0];
    float rate = cfg->dropout;
    /* self-attention: softmax(q k^T / sqrt(d) + padding) v per head, the heads side by side in
     * [N, T, D] as the projections make them, then the output projection */
    dc_tensor *q = dc_linear(c, x, p[BL_Q], p[BL_QB]);
    dc_tensor *k = dc_linear(c, x, p[BL_K], p[BL_KB]);
    dc_tensor *v = dc_linear(c, x, p[BL_V], p[BL_VB]);
    dc_tensor *a = dc_attention_heads(c, q, k, v, (int)cfg->heads, f->mask[0], false, 0, rate, f->training, f->rng);
    a = dc_linear(c, a, p[BL_AO], p[BL_AOB]);
    /* layer_norm(dropout(a) + x), one op (the sum's operands commute bit for bit) */
    dc_tensor *h = dc_residual_layer_norm(c, x, a, rate, f->training, f->rng, p[BL_LN1W], p[BL_LN1B], cfg->eps);
    /* feed-forward: GELU(h W1^T + b1) W2^T + b2, GELU exact (erf) */
    dc_tensor *y = dc_linear(c, h, p[BL_I], p[BL_IB]);
    y = dc_gelu(c, y, false);
    y = dc_linear(c, y, p[BL_O], p[BL_OB]);
    return dc_residual_layer_norm(c, h, y, rate, f->training, f->rng, p[BL_LN2W], p[BL_LN2B], cfg->eps);
}
const dc_layer_type dc_bert_layer_type = {
    .name = "BertLayer", .stem = "bert_layer", .cfg_size = sizeof(bert_layer_cfg), .fields = bert_layer_fields,
    .nfields = DC_ARRAY_LEN(bert_layer_fields), .build = bl_build, .forward = bl_forward,
};
DC_REGISTER_LAYER(dc_bert_layer_type);

dc_layer *dc_bert_layer(int heads, int64_t intermediate, float eps, float dropout) {
    if (heads <= 0 || heads > 4096) return dc_error_null(DC_ERR_ARG, "bert_layer: heads must be in [1, 4096], got %d", heads);
    if (intermediate <= 0 || intermediate > MAX_HIDDEN)
        return dc_error_null(DC_ERR_ARG, "bert_layer: intermediate size %lld must be in [1, 2^31]", (long long)intermediate);
    if (check_eps_dropout("bert_layer", eps, dropout)) return NULL;
    dc_layer *l = dc_layer_create(&dc_bert_layer_type);
    if (!l) return NULL;
    /* every value is within its field's bounds (checked above) */
    bert_layer_cfg *c = DC_CFG(l, bert_layer_cfg);
    c->heads = heads;
    c->intermediate = intermediate;
    c->eps = eps;
    c->dropout = dropout;
    return l;
}

/* ---- pooler: tanh(dense(x[:, 0])) ---- */
static dc_status pool_build(dc_layer *l) {
    dc_status s = need_seq(l);
    if (s) return s;
    int64_t D = l->in_shape[1];
    l->out_ndim = 1;
    l->out_shape[0] = D;
    s = dc_layer_declare(l, "dense.weight", 2, (int64_t[]){D, D}, DC_INIT_NORMAL, 0.02f);
    return s ? s : dc_layer_declare(l, "dense.bias", 1, &D, DC_INIT_ZEROS, 0);
}
/* [N, T, D] -> [N, D]: the time axis and its mask end here. */
static dc_tensor *pool_forward(dc_layer *l, dc_fwd *f, dc_tensor *const *xs, int n) {
    dc_ctx *c = f->ctx;
    const dc_tensor *x = xs[0];
    f->out_mask = NULL;
    dc_tensor *first = dc_slice(c, xs[0], 1, 0, 1); /* the [CLS] step, [N, 1, D] */
    first = dc_reshape(c, first, 2, (int64_t[]){x->shape[0], x->shape[2]});
    return dc_tanh(c, dc_linear(c, first, l->param[0], l->param[1]));
}
const dc_layer_type dc_bert_pooler_type = {
    .name = "BertPooler", .stem = "bert_pooler", .build = pool_build, .forward = pool_forward,
};
DC_REGISTER_LAYER(dc_bert_pooler_type);

dc_layer *dc_bert_pooler_layer(void) { return dc_layer_create(&dc_bert_pooler_type); }
