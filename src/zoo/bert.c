/* zoo: BERT's encoder from a checkpoint. dc_bert_load reads the sizes of a safetensors
 * checkpoint from its tensor shapes, builds the model of BertEmbeddings, BertLayer and
 * BertPooler layers (src/nn/bert_layers.c) named as Hugging Face's BertModel names its modules,
 * so the model's parameter names are the checkpoint's, and reads the weights;
 * dc_bert_forward runs such a model with segment ids, giving the last hidden state too. */
#include "deepc/io.h"
#include "deepc/zoo.h"

#include "../model/model.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

/* Shape of tensor `name` into shape, or an error naming the file and the tensor. */
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

/* Reads every parameter of the built model m from st (names prefixed), checking shapes and
 * values. A parameter's name is "<layer>.<declared name>", as the model names it. */
static dc_status read_params(dc_model *m, const dc_safetensors *st, const char *path, const char *prefix) {
    for (int li = 0; li < dc_model_num_layers(m); li++) {
        const dc_layer *l = dc_model_layer(m, li);
        for (int k = 0; k < l->nparams; k++) {
            dc_tensor *t = l->param[k];
            char pname[96], name[160], want[160], got[160];
            snprintf(pname, sizeof pname, "%s.%s", l->name, l->decl[k].name);
            int i = find_param(st, prefix, pname, name);
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

/* ---- forward with segment ids, giving hidden states and the pooled vector ----
 * The layers run one after another here rather than through the model's executor: the
 * segment ids reach the embeddings even in a Sequential model (whose embeddings have one wired
 * input), any T up to the position table is accepted, and the pooler's input (the last hidden
 * state) is kept. The masks pass from layer to layer as the executor passes them. */

static bool is_type(const dc_layer *l, const char *name) { return strcmp(dc_layer_type_name(l), name) == 0; }

/* Whether l's output keeps its input's time axis (and so, unless l changes it, its mask): the
 * executor's rule. */
static bool keeps_time_axis(const dc_layer *l) { return l->in_ndim >= 2 && l->out_ndim >= 2 && l->out_shape[0] == l->in_shape[0]; }

dc_tensor *dc_bert_forward(dc_model *m, dc_ctx *c, dc_tensor *ids, dc_tensor *token_type_ids, bool training,
                           dc_tensor **hidden) {
    if (hidden) *hidden = NULL;
    if (!m || !c || !ids) return dc_error_null(DC_ERR_ARG, "dc_bert_forward: model, context or ids is NULL");
    if (!m->built) return dc_error_null(DC_ERR_STATE, "dc_bert_forward: the model is not built");
    int nl = dc_model_num_layers(m), first = 0;
    while (first < nl && (dc_model_layer(m, first)->type->flags & DC_LAYER_INPUT)) first++;
    if (first >= nl || !is_type(dc_model_layer(m, first), "BertEmbeddings"))
        return dc_error_null(DC_ERR_ARG, "dc_bert_forward: the model does not start with a BertEmbeddings layer");
    dc_tensor *in[2] = {ids, token_type_ids}, *x = NULL, *h = NULL;
    const uint8_t *mask = NULL;
    for (int i = first; i < nl; i++) {
        dc_layer *l = dc_model_layer(m, i);
        bool pooler = is_type(l, "BertPooler");
        if (i > first && !pooler && !is_type(l, "BertLayer"))
            return dc_error_null(DC_ERR_ARG, "dc_bert_forward: layer %s is a %s, not a BERT layer", l->name, dc_layer_type_name(l));
        dc_fwd f = {.ctx = c, .training = training, .rng = &m->rng, .comm = NULL, .comm_w = 1};
        f.mask[0] = mask;
        f.out_mask = keeps_time_axis(l) ? mask : NULL;
        if (i == first) {
            x = l->type->forward(l, &f, in, token_type_ids ? 2 : 1);
        } else {
            if (pooler) h = x;
            x = l->type->forward(l, &f, &x, 1);
        }
        if (!x) {
            size_t n = strlen(l->name);
            if (!(strncmp(dc_last_error(), l->name, n) == 0 && dc_last_error()[n] == ':')) dc_error_prefix("%s", l->name);
            return NULL;
        }
        mask = f.out_mask;
    }
    if (hidden) *hidden = h ? h : x;
    return x;
}
