/* BERT (Devlin et al. 2018) as layers: the embeddings (word + position + segment, then
 * LayerNorm), the post-norm encoder layer with separate query/key/value projections, and the
 * pooler; plus a loader that builds the encoder from a checkpoint's tensor shapes. Parameter
 * names are Hugging Face's BertModel names, so with the layers named "embeddings",
 * "encoder.layer.<i>" and "pooler" the model's parameter names are the checkpoint's. */
#include "../model/model.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* The embeddings layer keeps its sizes in the generic option fields. */
#define EMB_HIDDEN(l) ((l)->units)
#define EMB_VOCAB(l) ((l)->ff_units)
#define EMB_POSITIONS(l) ((int64_t)(l)->kernel[0])
#define EMB_TYPES(l) ((int64_t)(l)->kernel[1])

#define MAX_TABLE ((int64_t)1 << 24) /* ids travel as floats: exact up to 2^24 */

static dc_status need_ids(const dc_layer *l, int i) {
    if (l->xin_ndim[i] == 1) return DC_OK;
    char b[160];
    return dc_error(DC_ERR_SHAPE, "%s: input %d: expected token ids (None, T), got %s", l->name, i,
                    dc_layer_shape_str(l->xin_ndim[i], l->xin_shape[i], b, sizeof b));
}

/* ---- embeddings: LayerNorm(word[ids] + position[0..T) + token_type[types]) ---- */
enum { EM_WORD, EM_POS, EM_TYPE, EM_LNW, EM_LNB };

static dc_status emb_build(dc_layer *l) {
    l->xin_ndim[0] = l->in_ndim;
    memcpy(l->xin_shape[0], l->in_shape, sizeof l->in_shape);
    int n = l->nin > 1 ? l->nin : 1;
    for (int i = 0; i < n; i++) {
        dc_status s = need_ids(l, i);
        if (s) return s;
    }
    int64_t T = l->in_shape[0], H = EMB_HIDDEN(l), P = EMB_POSITIONS(l), TV = EMB_TYPES(l);
    if (n > 1 && l->xin_shape[1][0] != T)
        return dc_error(DC_ERR_SHAPE, "%s: token_type_ids have %lld steps but the token ids %lld", l->name,
                        (long long)l->xin_shape[1][0], (long long)T);
    if (T > P)
        return dc_error(DC_ERR_SHAPE, "%s: sequences of %lld tokens are longer than its table of %lld positions", l->name,
                        (long long)T, (long long)P);
    l->out_ndim = 2;
    l->out_shape[0] = T;
    l->out_shape[1] = H;
    dc_status s = dc_layer_declare(l, "word_embeddings.weight", 2, (int64_t[]){EMB_VOCAB(l), H}, DC_INIT_NORMAL, 0.02f);
    if (!s) s = dc_layer_declare(l, "position_embeddings.weight", 2, (int64_t[]){P, H}, DC_INIT_NORMAL, 0.02f);
    if (!s) s = dc_layer_declare(l, "token_type_embeddings.weight", 2, (int64_t[]){TV, H}, DC_INIT_NORMAL, 0.02f);
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

/* x[0] token ids [N, T], x[1] (optional) token_type_ids [N, T] -> [N, T, H] with mask ids != 0. */
static dc_tensor *emb_forward_n(dc_layer *l, dc_ctx *c, dc_tensor **x, int n, bool training, dc_rng *rng) {
    dc_tensor **p = l->param, *ids = x[0], *types = n > 1 ? x[1] : NULL;
    if (ids->ndim != 2 || (types && (types->ndim != 2 || types->shape[0] != ids->shape[0] || types->shape[1] != ids->shape[1]))) {
        char a[96], b[96];
        return dc_error_null(DC_ERR_SHAPE, "%s: expected token ids [N, T] and token_type_ids of the same shape, got %s and %s",
                             l->name, dc_shape_str(ids->ndim, ids->shape, a, sizeof a),
                             types ? dc_shape_str(types->ndim, types->shape, b, sizeof b) : "none");
    }
    int64_t T = ids->shape[1], P = EMB_POSITIONS(l);
    if (T > P)
        return dc_error_null(DC_ERR_SHAPE, "%s: a sequence of %lld tokens is longer than its table of %lld positions", l->name,
                             (long long)T, (long long)P);
    if (!(ids = dc_contig(c, ids)) || (types && !(types = dc_contig(c, types)))) return NULL;
    if (check_ids(l, ids, EMB_VOCAB(l), "token id", "the vocabulary size") ||
        (types && check_ids(l, types, EMB_TYPES(l), "token type id", "the token type vocabulary size")))
        return NULL;
    /* [PAD] is id 0 in BERT's vocabularies: its row gets no gradient (padding_idx=0) and its
     * steps are masked out of the attention */
    dc_tensor *w = dc_embedding(c, ids, p[EM_WORD], 0, true);
    const uint8_t *mask = w ? w->mask : NULL;
    dc_tensor *pos = dc_slice(c, p[EM_POS], 0, 0, T);                                     /* [T, H] */
    dc_tensor *tt = types ? dc_embedding(c, types, p[EM_TYPE], -1, false) : dc_slice(c, p[EM_TYPE], 0, 0, 1); /* [N, T, H] or [1, H] */
    dc_tensor *y = w && pos && tt ? dc_add(c, dc_add(c, w, pos), tt) : NULL;
    y = y ? dc_layer_norm(c, y, p[EM_LNW], p[EM_LNB], l->eps) : NULL;
    y = y ? dc_dropout(c, y, l->rate, training, rng) : NULL;
    if (y) y->mask = mask;
    return y;
}
static dc_tensor *emb_forward(dc_layer *l, dc_ctx *c, dc_tensor *x, bool training, dc_rng *rng) {
    return emb_forward_n(l, c, &x, 1, training, rng);
}
static const dc_layer_ops emb_ops = {.type = "BertEmbeddings", .base = "bert_embeddings", .build = emb_build, .forward = emb_forward,
                                     .forward_n = emb_forward_n, .max_inputs = 2};

static dc_status check_eps_dropout(const char *who, float eps, float dropout) {
    if (!(eps > 0) || !isfinite(eps)) return dc_error(DC_ERR_ARG, "%s: eps %g must be positive", who, (double)eps);
    if (!(dropout >= 0 && dropout < 1)) return dc_error(DC_ERR_ARG, "%s: dropout %g is outside [0, 1)", who, (double)dropout);
    return DC_OK;
}

dc_layer *dc_bert_embeddings_layer(int64_t vocab, int64_t hidden, int64_t max_positions, int64_t type_vocab, float eps,
                                   float dropout) {
    if (vocab <= 0 || vocab > MAX_TABLE || hidden <= 0 || hidden > ((int64_t)1 << 31) || max_positions <= 0 ||
        max_positions > MAX_TABLE || type_vocab <= 0 || type_vocab > MAX_TABLE)
        return dc_error_null(DC_ERR_ARG,
                             "bert_embeddings: vocab %lld, max_positions %lld and type_vocab %lld must be in [1, 2^24], hidden %lld "
                             "in [1, 2^31]",
                             (long long)vocab, (long long)max_positions, (long long)type_vocab, (long long)hidden);
    if (check_eps_dropout("bert_embeddings", eps, dropout)) return NULL;
    dc_layer *l = dc_layer_new(&emb_ops);
    if (!l) return NULL;
    EMB_HIDDEN(l) = hidden;
    EMB_VOCAB(l) = vocab;
    l->kernel[0] = (int)max_positions;
    l->kernel[1] = (int)type_vocab;
    l->eps = eps;
    l->rate = dropout;
    return l;
}

/* ---- encoder layer (post-norm) ---- */
enum { BL_Q, BL_QB, BL_K, BL_KB, BL_V, BL_VB, BL_AO, BL_AOB, BL_LN1W, BL_LN1B, BL_I, BL_IB, BL_O, BL_OB, BL_LN2W, BL_LN2B };

static dc_status need_seq(const dc_layer *l) {
    if (l->in_ndim == 2) return DC_OK;
    char b[160];
    return dc_error(DC_ERR_SHAPE, "%s: expected hidden states (None, T, hidden), got input %s", l->name,
                    dc_layer_shape_str(l->in_ndim, l->in_shape, b, sizeof b));
}

static dc_status bl_build(dc_layer *l) {
    dc_status s = need_seq(l);
    if (s) return s;
    int64_t D = l->in_shape[1], F = l->ff_units;
    if (D % l->heads)
        return dc_error(DC_ERR_SHAPE, "%s: %d heads do not divide the hidden size %lld", l->name, l->heads, (long long)D);
    l->out_ndim = 2;
    memcpy(l->out_shape, l->in_shape, sizeof l->out_shape);
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

static dc_tensor *bl_forward(dc_layer *l, dc_ctx *c, dc_tensor *x, bool training, dc_rng *rng) {
    dc_tensor **p = l->param;
    const uint8_t *mask = x->mask;
    /* self-attention: softmax(q k^T / sqrt(d) + padding) v per head, the heads side by side in
     * [N, T, D] as the projections make them, then the output projection */
    dc_tensor *q = dc_linear(c, x, p[BL_Q], p[BL_QB]);
    dc_tensor *k = q ? dc_linear(c, x, p[BL_K], p[BL_KB]) : NULL;
    dc_tensor *v = k ? dc_linear(c, x, p[BL_V], p[BL_VB]) : NULL;
    dc_tensor *a = v ? dc_attention_heads(c, q, k, v, l->heads, mask, false, 0, l->rate, training, rng) : NULL;
    a = a ? dc_linear(c, a, p[BL_AO], p[BL_AOB]) : NULL;
    a = a ? dc_dropout(c, a, l->rate, training, rng) : NULL;
    dc_tensor *h = a ? dc_layer_norm(c, dc_add(c, a, x), p[BL_LN1W], p[BL_LN1B], l->eps) : NULL;
    /* feed-forward: GELU(h W1^T + b1) W2^T + b2 */
    dc_tensor *f = h ? dc_linear(c, h, p[BL_I], p[BL_IB]) : NULL;
    f = f ? dc_gelu(c, f, false) : NULL;
    f = f ? dc_linear(c, f, p[BL_O], p[BL_OB]) : NULL;
    f = f ? dc_dropout(c, f, l->rate, training, rng) : NULL;
    dc_tensor *y = f ? dc_layer_norm(c, dc_add(c, f, h), p[BL_LN2W], p[BL_LN2B], l->eps) : NULL;
    if (y) y->mask = mask;
    return y;
}
static const dc_layer_ops bl_ops = {.type = "BertLayer", .base = "bert_layer", .build = bl_build, .forward = bl_forward};

dc_layer *dc_bert_layer(int heads, int64_t intermediate, float eps, float dropout) {
    if (heads <= 0 || heads > 4096) return dc_error_null(DC_ERR_ARG, "bert_layer: heads must be in [1, 4096], got %d", heads);
    if (intermediate <= 0 || intermediate > ((int64_t)1 << 31))
        return dc_error_null(DC_ERR_ARG, "bert_layer: intermediate size %lld must be in [1, 2^31]", (long long)intermediate);
    if (check_eps_dropout("bert_layer", eps, dropout)) return NULL;
    dc_layer *l = dc_layer_new(&bl_ops);
    if (!l) return NULL;
    l->heads = heads;
    l->ff_units = intermediate;
    l->eps = eps;
    l->rate = dropout;
    l->act = DC_ACT_GELU;
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
static dc_tensor *pool_forward(dc_layer *l, dc_ctx *c, dc_tensor *x, bool training, dc_rng *rng) {
    dc_tensor *first = dc_slice(c, x, 1, 0, 1); /* the [CLS] step, [N, 1, D] */
    first = first ? dc_reshape(c, first, 2, (int64_t[]){x->shape[0], x->shape[2]}) : NULL;
    dc_tensor *y = first ? dc_linear(c, first, l->param[0], l->param[1]) : NULL;
    return y ? dc_tanh(c, y) : NULL;
}
static const dc_layer_ops pool_ops = {.type = "BertPooler", .base = "bert_pooler", .build = pool_build, .forward = pool_forward};

dc_layer *dc_bert_pooler_layer(void) { return dc_layer_new(&pool_ops); }

/* ---- the whole encoder from a checkpoint ---- */
dc_bert_opts dc_bert_defaults(void) {
    dc_bert_opts o;
    memset(&o, 0, sizeof o);
    o.with_pooler = true;
    o.eps = 1e-12f;
    return o;
}

/* The checkpoint's name of a model parameter: prefix + name, in a buffer of 160. */
static const char *ck_name(char *buf, const char *prefix, const char *name) {
    snprintf(buf, 160, "%s%s", prefix, name);
    return buf;
}

/* Shape of tensor `name` (rank into *nd), or an error naming the file and the tensor. */
static dc_status ck_shape(const dc_safetensors *st, const char *path, const char *name, int want_ndim, int64_t *shape) {
    int i = dc_safetensors_find(st, name);
    if (i < 0) return dc_error(DC_ERR_FORMAT, "%s: no tensor \"%s\" (not a BERT checkpoint, or another naming)", path, name);
    dc_dtype dt;
    int nd = dc_safetensors_shape(st, i, shape, &dt);
    if (nd != want_ndim) {
        char b[160];
        return dc_error(DC_ERR_SHAPE, "%s: tensor \"%s\" has shape %s, expected %d dimensions", path, name,
                        dc_shape_str(nd, shape, b, sizeof b), want_ndim);
    }
    return DC_OK;
}

/* Index of the tensor holding model parameter pname (its name into name[160]), or -1: prefix +
 * pname, or for a LayerNorm the gamma/beta names of checkpoints converted from TensorFlow. */
static int find_param(const dc_safetensors *st, const char *prefix, const char *pname, char *name) {
    int i = dc_safetensors_find(st, ck_name(name, prefix, pname));
    size_t n = strlen(pname);
    static const char *const tf[2][2] = {{"LayerNorm.weight", "LayerNorm.gamma"}, {"LayerNorm.bias", "LayerNorm.beta"}};
    for (int k = 0; i < 0 && k < 2; k++) {
        size_t t = strlen(tf[k][0]);
        if (n < t || strcmp(pname + n - t, tf[k][0]) != 0) continue;
        char alt[160];
        snprintf(alt, sizeof alt, "%s%.*s%s", prefix, (int)(n - t), pname, tf[k][1]);
        if ((i = dc_safetensors_find(st, alt)) >= 0) snprintf(name, 160, "%s", alt);
    }
    if (i < 0) ck_name(name, prefix, pname); /* messages name the expected tensor */
    return i;
}

/* Reads every parameter of m from st (names prefixed), checking shapes and values. */
static dc_status read_params(dc_model *m, const dc_safetensors *st, const char *path, const char *prefix) {
    for (int li = 0, j = 0; li < m->nlayers; li++) {
        const dc_layer *l = m->layers[li];
        for (int k = 0; k < l->nparams; k++, j++) {
            dc_tensor *t = m->ptens[j];
            char name[160], want[160], got[160];
            int i = find_param(st, prefix, m->pnames[j], name);
            dc_shape_str(t->ndim, t->shape, want, sizeof want);
            if (i < 0)
                return dc_error(DC_ERR_FORMAT, "%s: no tensor \"%s\" for layer %s (expected shape %s)", path, name, l->name, want);
            int64_t sh[DC_MAX_DIMS];
            dc_dtype dt;
            int nd = dc_safetensors_shape(st, i, sh, &dt);
            bool same = nd == t->ndim;
            for (int d = 0; same && d < nd; d++) same = sh[d] == t->shape[d];
            if (!same)
                return dc_error(DC_ERR_SHAPE, "%s: tensor \"%s\" has shape %s but layer %s expects %s", path, name,
                                dc_shape_str(nd, sh, got, sizeof got), l->name, want);
            dc_status s = dc_safetensors_read_into(st, name, t);
            if (s) return s;
            for (int64_t e = 0; e < t->numel; e++)
                if (!isfinite(t->data[e]))
                    return dc_error(DC_ERR_NUMERIC, "%s: tensor \"%s\" holds %g at element %lld", path, name, (double)t->data[e],
                                    (long long)e);
        }
    }
    return DC_OK;
}

/* Adds a layer under a fixed name. */
static dc_status add_named(dc_model *m, dc_layer *l, const char *name) {
    if (!l) return dc_last_status() ? dc_last_status() : DC_ERR_NOMEM;
    dc_status s = dc_layer_set_name(l, name);
    if (s) {
        dc_layer_free(l);
        return s;
    }
    return dc_model_add(m, l);
}

static dc_status bert_build(dc_model *m, const dc_safetensors *st, const char *path, const dc_bert_opts *o) {
    char name[160];
    const char *prefix = "";
    if (dc_safetensors_find(st, "embeddings.word_embeddings.weight") < 0 &&
        dc_safetensors_find(st, "bert.embeddings.word_embeddings.weight") >= 0)
        prefix = "bert.";
    int64_t word[DC_MAX_DIMS], pos[DC_MAX_DIMS], type[DC_MAX_DIMS], inter[DC_MAX_DIMS];
    dc_status s = ck_shape(st, path, ck_name(name, prefix, "embeddings.word_embeddings.weight"), 2, word);
    if (!s) s = ck_shape(st, path, ck_name(name, prefix, "embeddings.position_embeddings.weight"), 2, pos);
    if (!s) s = ck_shape(st, path, ck_name(name, prefix, "embeddings.token_type_embeddings.weight"), 2, type);
    if (!s) s = ck_shape(st, path, ck_name(name, prefix, "encoder.layer.0.intermediate.dense.weight"), 2, inter);
    if (s) return s;
    int64_t H = word[1], P = pos[0];
    int layers = 0;
    for (;; layers++) {
        snprintf(name, sizeof name, "%sencoder.layer.%d.attention.self.query.weight", prefix, layers);
        if (dc_safetensors_find(st, name) < 0) break;
    }
    int heads = o->heads;
    if (heads == 0) {
        const char *meta = dc_safetensors_meta(st, "num_attention_heads");
        if (meta) {
            char *end;
            long v = strtol(meta, &end, 10);
            if (end == meta || *end || v < 1 || v > 4096)
                return dc_error(DC_ERR_FORMAT, "%s: metadata num_attention_heads \"%.40s\" is not a whole number in [1, 4096]", path,
                                meta);
            heads = (int)v;
        } else if (H % 64 == 0) heads = (int)(H / 64); /* every published BERT has heads of 64 features */
        else
            return dc_error(DC_ERR_ARG,
                            "%s: the number of heads is not in the file (no \"num_attention_heads\" metadata) and the hidden size %lld "
                            "is not a multiple of 64: give it in dc_bert_opts.heads (config.json's num_attention_heads)",
                            path, (long long)H);
    }
    int64_t T = o->seq_len ? o->seq_len : P;
    if (T < 0) return dc_error(DC_ERR_ARG, "%s: seq_len %lld must be positive (0: the %lld positions)", path, (long long)T, (long long)P);
    float eps = o->eps > 0 ? o->eps : 1e-12f;
    dc_layer *emb = dc_bert_embeddings_layer(word[0], H, P, type[0], eps, o->dropout);
    if (o->token_types) { /* a graph: input_ids and token_type_ids into the embeddings */
        int ids = dc_model_input(m, "input_ids", 1, &T);
        int types = ids < 0 ? -1 : dc_model_input(m, "token_type_ids", 1, &T);
        if (types < 0 || !emb || (s = dc_layer_set_name(emb, "embeddings"))) {
            dc_layer_free(emb);
            return dc_last_status() ? dc_last_status() : DC_ERR_NOMEM;
        }
        if (dc_model_apply(m, emb, 2, (int[]){ids, types}) < 0) return dc_last_status();
    } else {
        if ((s = dc_model_add(m, dc_input(1, &T)))) {
            dc_layer_free(emb);
            return s;
        }
        if ((s = add_named(m, emb, "embeddings"))) return s;
    }
    for (int i = 0; i < layers; i++) {
        snprintf(name, sizeof name, "encoder.layer.%d", i);
        if ((s = add_named(m, dc_bert_layer(heads, inter[0], eps, o->dropout), name))) return s;
    }
    if (o->with_pooler && (s = add_named(m, dc_bert_pooler_layer(), "pooler"))) return s;
    if ((s = dc_model_build(m, 0, NULL))) return s;
    return read_params(m, st, path, prefix);
}

dc_model *dc_bert_load(const char *path, const dc_bert_opts *opts) {
    if (!path || !*path) return dc_error_null(DC_ERR_ARG, "dc_bert_load: path is NULL or empty");
    dc_bert_opts o = opts ? *opts : dc_bert_defaults();
    if (o.heads < 0 || o.heads > 4096) return dc_error_null(DC_ERR_ARG, "dc_bert_load: heads must be in [0, 4096], got %d", o.heads);
    dc_safetensors *st = dc_safetensors_open(path);
    if (!st) return NULL;
    dc_model *m = dc_sequential();
    dc_status s = m ? bert_build(m, st, path, &o) : DC_ERR_NOMEM;
    dc_safetensors_close(st);
    if (s) {
        dc_model_free(m);
        return NULL;
    }
    return m;
}

/* ---- forward with segment ids, giving hidden states and the pooled vector ---- */
dc_tensor *dc_bert_forward(dc_model *m, dc_ctx *c, dc_tensor *ids, dc_tensor *token_type_ids, bool training,
                           dc_tensor **hidden) {
    if (hidden) *hidden = NULL;
    if (!m || !c || !ids) return dc_error_null(DC_ERR_ARG, "dc_bert_forward: model, context or ids is NULL");
    if (!m->built) return dc_error_null(DC_ERR_STATE, "dc_bert_forward: the model is not built");
    int first = 0;
    while (first < m->nlayers && strcmp(m->layers[first]->ops->type, "InputLayer") == 0) first++;
    if (m->nlayers <= first || strcmp(m->layers[first]->ops->type, "BertEmbeddings") != 0)
        return dc_error_null(DC_ERR_ARG, "dc_bert_forward: the model does not start with a BertEmbeddings layer");
    dc_tensor *in[2] = {ids, token_type_ids}, *x = NULL, *h = NULL;
    for (int i = first; i < m->nlayers; i++) {
        dc_layer *l = m->layers[i];
        if (i == first) {
            x = l->ops->forward_n(l, c, in, token_type_ids ? 2 : 1, training, &m->rng);
        } else if (strcmp(l->ops->type, "BertLayer") == 0 || strcmp(l->ops->type, "BertPooler") == 0) {
            h = strcmp(l->ops->type, "BertPooler") == 0 ? x : NULL;
            x = l->ops->forward(l, c, x, training, &m->rng);
        } else {
            return dc_error_null(DC_ERR_ARG, "dc_bert_forward: layer %s is a %s, not a BERT layer", l->name, l->ops->type);
        }
        size_t nl = strlen(l->name);
        if (!x) {
            if (!(strncmp(dc_last_error(), l->name, nl) == 0 && dc_last_error()[nl] == ':')) dc_error_prefix("%s", l->name);
            return NULL;
        }
    }
    if (hidden) *hidden = h ? h : x;
    return x;
}
