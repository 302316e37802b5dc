/* Model files and training checkpoints: safetensors files whose tensors are the model's
 * parameters by name and whose metadata holds the architecture ("deepc.model"), and for a
 * checkpoint the optimiser's state tensors ("optimizer.state1.<param>") and the training
 * progress ("deepc.checkpoint", "deepc.history"). Every read value is validated before the
 * model is touched. */
#include "../model/history.h"
#include "../model/model.h"
#include "safetensors.h"

#include <cjson/cJSON.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ARCH_FORMAT "deepc.sequential"
#define ARCH_VERSION 2 /* 2: graph models (layers list their inputs); sequential files stay version 1 */
#define CKPT_VERSION 1
#define KEY_MODEL "deepc.model"
#define KEY_CKPT "deepc.checkpoint"
#define KEY_HIST "deepc.history"

/* ---------------------------------------------------------------------------------------- */
/* architecture -> JSON                                                                     */
/* ---------------------------------------------------------------------------------------- */

static void add_ints(cJSON *o, const char *key, const int *v, int n) {
    cJSON *a = cJSON_AddArrayToObject(o, key);
    for (int i = 0; a && i < n; i++) cJSON_AddItemToArray(a, cJSON_CreateNumber(v[i]));
}

static void add_shape(cJSON *o, const char *key, const int64_t *v, int n) {
    cJSON *a = cJSON_AddArrayToObject(o, key);
    for (int i = 0; a && i < n; i++) cJSON_AddItemToArray(a, cJSON_CreateNumber((double)v[i]));
}

static bool is(const dc_layer *l, const char *type) { return strcmp(l->ops->type, type) == 0; }

static cJSON *layer_json(const dc_model *m, const dc_layer *l) {
    cJSON *o = cJSON_CreateObject();
    if (!o) return NULL;
    cJSON_AddStringToObject(o, "class", l->ops->type);
    cJSON_AddStringToObject(o, "name", l->name);
    if (m->graph && l->nin > 0) { /* the layers feeding it, by name */
        cJSON *a = cJSON_AddArrayToObject(o, "inputs");
        for (int i = 0; a && i < l->nin; i++) cJSON_AddItemToArray(a, cJSON_CreateString(m->layers[l->inputs[i]]->name));
    }
    if (is(l, "InputLayer")) {
        add_shape(o, "shape", l->in_shape, l->in_ndim);
    } else if (is(l, "Dense")) {
        cJSON_AddNumberToObject(o, "units", (double)l->units);
        cJSON_AddStringToObject(o, "activation", dc_activation_name(l->act));
        cJSON_AddNumberToObject(o, "alpha", l->alpha);
        cJSON_AddBoolToObject(o, "use_bias", l->use_bias);
    } else if (is(l, "Activation")) {
        cJSON_AddStringToObject(o, "activation", dc_activation_name(l->act));
        cJSON_AddNumberToObject(o, "alpha", l->alpha);
    } else if (is(l, "Dropout")) {
        cJSON_AddNumberToObject(o, "rate", l->rate);
    } else if (is(l, "Conv2D") || is(l, "Conv2DTranspose")) {
        cJSON_AddNumberToObject(o, "filters", (double)l->units);
        add_ints(o, "kernel_size", l->kernel, 2);
        add_ints(o, "strides", l->stride, 2);
        cJSON_AddStringToObject(o, "padding", l->padding == DC_PAD_SAME ? "same" : "valid");
        if (l->explicit_pad) add_ints(o, "explicit_padding", l->pad, 4);
        cJSON_AddStringToObject(o, "activation", dc_activation_name(l->act));
        cJSON_AddNumberToObject(o, "alpha", l->alpha);
        cJSON_AddBoolToObject(o, "use_bias", l->use_bias);
    } else if (is(l, "MaxPooling2D") || is(l, "AveragePooling2D")) {
        add_ints(o, "pool_size", l->kernel, 2);
        add_ints(o, "strides", l->stride, 2);
    } else if (is(l, "UpSampling2D")) {
        add_ints(o, "size", l->kernel, 2);
    } else if (is(l, "BatchNormalization")) {
        cJSON_AddNumberToObject(o, "momentum", l->momentum);
        cJSON_AddNumberToObject(o, "epsilon", l->eps);
        cJSON_AddBoolToObject(o, "synchronized", l->sync_bn);
    } else if (is(l, "Embedding")) {
        cJSON_AddNumberToObject(o, "input_dim", l->rate);
        cJSON_AddNumberToObject(o, "output_dim", (double)l->units);
        cJSON_AddBoolToObject(o, "mask_zero", l->mask_zero);
    } else if (is(l, "SimpleRNN") || is(l, "LSTM") || is(l, "GRU")) {
        cJSON_AddNumberToObject(o, "units", (double)l->units);
        if (is(l, "SimpleRNN")) cJSON_AddStringToObject(o, "activation", dc_activation_name(l->act));
        if (is(l, "LSTM")) cJSON_AddNumberToObject(o, "forget_bias", l->forget_bias);
        cJSON_AddBoolToObject(o, "return_sequences", l->return_sequences);
    } else if (is(l, "LayerNormalization")) {
        cJSON_AddNumberToObject(o, "epsilon", l->eps);
    } else if (is(l, "PositionalEmbedding")) {
        cJSON_AddNumberToObject(o, "max_len", (double)l->units);
        cJSON_AddBoolToObject(o, "learned", l->learned);
    } else if (is(l, "MultiHeadAttention") || is(l, "TransformerEncoderLayer") || is(l, "TransformerDecoderLayer")) {
        cJSON_AddNumberToObject(o, "heads", l->heads);
        cJSON_AddBoolToObject(o, "causal", l->causal);
        cJSON_AddNumberToObject(o, "dropout", l->rate);
        if (is(l, "MultiHeadAttention") && l->separate_qkv) cJSON_AddBoolToObject(o, "separate_projections", true);
        if (!is(l, "MultiHeadAttention")) {
            cJSON_AddNumberToObject(o, "ff_units", (double)l->ff_units);
            cJSON_AddStringToObject(o, "activation", dc_activation_name(l->act));
            cJSON_AddBoolToObject(o, "pre_norm", l->pre_norm);
            cJSON_AddNumberToObject(o, "epsilon", l->eps);
        }
    } else if (is(l, "BertEmbeddings")) {
        cJSON_AddNumberToObject(o, "vocab_size", (double)l->ff_units);
        cJSON_AddNumberToObject(o, "hidden_size", (double)l->units);
        cJSON_AddNumberToObject(o, "max_position_embeddings", l->kernel[0]);
        cJSON_AddNumberToObject(o, "type_vocab_size", l->kernel[1]);
        cJSON_AddNumberToObject(o, "epsilon", l->eps);
        cJSON_AddNumberToObject(o, "dropout", l->rate);
    } else if (is(l, "BertLayer")) {
        cJSON_AddNumberToObject(o, "heads", l->heads);
        cJSON_AddNumberToObject(o, "intermediate_size", (double)l->ff_units);
        cJSON_AddNumberToObject(o, "epsilon", l->eps);
        cJSON_AddNumberToObject(o, "dropout", l->rate);
    } /* Flatten, GlobalAveragePooling1D/2D, BertPooler: no options */
    return o;
}

static cJSON *optimizer_json(const dc_optimizer *op) {
    cJSON *o = cJSON_CreateObject();
    if (!o) return NULL;
    cJSON_AddStringToObject(o, "class", dc_optimizer_name(op));
    cJSON_AddNumberToObject(o, "lr", op->lr);
    switch (op->kind) {
    case DC_OPT_SGD:
        cJSON_AddNumberToObject(o, "momentum", op->momentum);
        cJSON_AddBoolToObject(o, "nesterov", op->nesterov);
        break;
    case DC_OPT_ADAM:
        cJSON_AddNumberToObject(o, "beta1", op->b1);
        cJSON_AddNumberToObject(o, "beta2", op->b2);
        cJSON_AddNumberToObject(o, "epsilon", op->eps);
        break;
    case DC_OPT_ADADELTA:
    case DC_OPT_RMSPROP:
        cJSON_AddNumberToObject(o, "rho", op->b1);
        cJSON_AddNumberToObject(o, "epsilon", op->eps);
        break;
    default: cJSON_AddNumberToObject(o, "epsilon", op->eps); break;
    }
    cJSON_AddNumberToObject(o, "weight_decay", op->wd);
    cJSON_AddNumberToObject(o, "clipnorm", op->clipnorm);
    cJSON_AddNumberToObject(o, "clipvalue", op->clipvalue);
    return o;
}

static void add_u64(cJSON *o, const char *key, uint64_t v) {
    char b[24];
    snprintf(b, sizeof b, "%016" PRIx64, v);
    cJSON_AddStringToObject(o, key, b);
}

/* cJSON allocates with malloc: the text is freed with cJSON_free. */
static char *print_json(cJSON *root) {
    char *txt = root ? cJSON_PrintUnformatted(root) : NULL;
    cJSON_Delete(root);
    if (!txt) dc_error(DC_ERR_NOMEM, "out of memory while writing the model's JSON");
    return txt;
}

char *dc_model_arch_json(const dc_model *m) {
    cJSON *root = cJSON_CreateObject();
    if (!root) return print_json(NULL);
    cJSON_AddStringToObject(root, "format", ARCH_FORMAT);
    cJSON_AddNumberToObject(root, "version", m->graph ? 2 : 1);
    if (m->graph) cJSON_AddBoolToObject(root, "graph", true);
    add_shape(root, "input_shape", m->in_shape, m->in_ndim);
    add_u64(root, "seed", m->seed);
    cJSON *layers = cJSON_AddArrayToObject(root, "layers");
    for (int i = 0; layers && i < m->nlayers; i++) cJSON_AddItemToArray(layers, layer_json(m, m->layers[i]));
    if (m->compiled) {
        cJSON *c = cJSON_AddObjectToObject(root, "compile");
        if (c) {
            cJSON_AddStringToObject(c, "loss", dc_loss_name(m->loss));
            cJSON *met = cJSON_AddArrayToObject(c, "metrics");
            for (int i = 0; met && i < m->nmetrics; i++) cJSON_AddItemToArray(met, cJSON_CreateString(dc_metric_name(m->metrics[i])));
            cJSON_AddItemToObject(c, "optimizer", optimizer_json(m->opt));
        }
    }
    return print_json(root);
}

/* ---------------------------------------------------------------------------------------- */
/* writing                                                                                  */
/* ---------------------------------------------------------------------------------------- */

static dc_status check_built(const dc_model *m, const char *path, const char *who) {
    if (!m || !path || !*path) return dc_error(DC_ERR_ARG, "%s: model or path is NULL/empty", who);
    if (!m->built) return dc_error(DC_ERR_STATE, "%s: %s: the model is not built (build or compile it first)", who, path);
    return DC_OK;
}

/* Offset of parameter i in the optimiser's flat vector (trainable parameters only). */
static int64_t poffset(const dc_model *m, int i) { return m->ptens[i]->data - m->pbuf; }

static dc_status history_json(const dc_history *h, char **out);

/* Writes parameters and state, the architecture if `arch`, and the training state if `ckpt`. */
static dc_status save_file(const dc_model *m, const char *path, bool arch, bool ckpt) {
    const dc_optimizer *op = m->opt;
    int nstate = ckpt && op ? (op->s1 != NULL) + (op->s2 != NULL) : 0;
    int cap = m->np * (1 + nstate);
    dc_st_entry *e = dc_calloc((size_t)(cap ? cap : 1), sizeof *e);
    char(*names)[128] = dc_calloc((size_t)(cap ? cap : 1), sizeof *names);
    char *meta_v[3] = {NULL, NULL, NULL};
    const char *meta_k[3];
    int nmeta = 0, n = 0;
    dc_status s = e && names ? DC_OK : DC_ERR_NOMEM;
    for (int i = 0; !s && i < m->np; i++, n++) {
        const dc_tensor *t = m->ptens[i];
        e[n] = (dc_st_entry){m->pnames[i], t->ndim, t->shape, t->data};
    }
    for (int k = 0; !s && k < nstate; k++) {
        const float *buf = k == 0 ? op->s1 : op->s2;
        for (int i = 0; i < m->np; i++) {
            if (!m->gtens[i]) continue;
            const dc_tensor *t = m->ptens[i];
            snprintf(names[n], sizeof names[n], "optimizer.state%d.%s", k + 1, m->pnames[i]);
            e[n] = (dc_st_entry){names[n], t->ndim, t->shape, buf + poffset(m, i)};
            n++;
        }
    }
    if (!s && arch) {
        meta_k[nmeta] = KEY_MODEL;
        if (!(meta_v[nmeta++] = dc_model_arch_json(m))) s = DC_ERR_NOMEM;
    }
    if (!s && ckpt) {
        cJSON *c = cJSON_CreateObject();
        if (c) {
            cJSON_AddNumberToObject(c, "version", CKPT_VERSION);
            cJSON_AddNumberToObject(c, "epoch", m->epoch);
            cJSON_AddNumberToObject(c, "step", op ? (double)op->t : 0);
            add_u64(c, "fit_seed", m->fit_seed);
            cJSON_AddNumberToObject(c, "rows", (double)m->fit_rows);
            cJSON_AddNumberToObject(c, "batch_size", (double)m->fit_batch);
            cJSON *r = cJSON_AddArrayToObject(c, "rng");
            for (int i = 0; r && i < 4; i++) {
                char b[24];
                snprintf(b, sizeof b, "%016" PRIx64, m->rng.s[i]);
                cJSON_AddItemToArray(r, cJSON_CreateString(b));
            }
            cJSON_AddStringToObject(c, "optimizer", op ? dc_optimizer_name(op) : "");
        }
        meta_k[nmeta] = KEY_CKPT;
        if (!(meta_v[nmeta++] = print_json(c))) s = DC_ERR_NOMEM;
        meta_k[nmeta] = KEY_HIST;
        if (!s) s = history_json(m->hist, &meta_v[nmeta++]);
    }
    if (!s) s = dc_st_write(path, e, n, DC_DTYPE_F32, nmeta, meta_k, (const char *const *)meta_v);
    for (int i = 0; i < nmeta; i++) cJSON_free(meta_v[i]);
    dc_free(e);
    dc_free(names);
    return s;
}

dc_status dc_model_save(const dc_model *m, const char *path) {
    dc_status s = check_built(m, path, "dc_model_save");
    return s ? s : save_file(m, path, true, false);
}

dc_status dc_model_save_weights(const dc_model *m, const char *path) {
    dc_status s = check_built(m, path, "dc_model_save_weights");
    return s ? s : save_file(m, path, false, false);
}

dc_status dc_model_save_checkpoint(const dc_model *m, const char *path) {
    dc_status s = check_built(m, path, "dc_model_save_checkpoint");
    if (s) return s;
    if (!m->compiled) return dc_error(DC_ERR_STATE, "dc_model_save_checkpoint: %s: the model is not compiled", path);
    return save_file(m, path, true, true);
}

/* ---------------------------------------------------------------------------------------- */
/* reading: validated JSON fields                                                           */
/* ---------------------------------------------------------------------------------------- */

/* Context for messages: "model.safetensors: layer 3 (dense_2)". */
typedef struct where {
    const char *path;
    char what[96];
} where;

static dc_status bad(const where *w, const char *key, const char *want) {
    return dc_error(DC_ERR_FORMAT, "%s: %s: \"%s\" %s", w->path, w->what, key, want);
}

static dc_status get_num(const where *w, const cJSON *o, const char *key, double lo, double hi, double def, bool required,
                         double *out) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!v) {
        if (required) return bad(w, key, "is missing");
        *out = def;
        return DC_OK;
    }
    if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble) || v->valuedouble < lo || v->valuedouble > hi) {
        char b[96];
        snprintf(b, sizeof b, "must be a number in [%g, %g]%s", lo, hi, cJSON_IsNumber(v) ? "" : ", got a non-number");
        if (cJSON_IsNumber(v)) snprintf(b + strlen(b), sizeof b - strlen(b), ", got %g", v->valuedouble);
        return bad(w, key, b);
    }
    *out = v->valuedouble;
    return DC_OK;
}

static dc_status get_int(const where *w, const cJSON *o, const char *key, int64_t lo, int64_t hi, int64_t def, bool required,
                         int64_t *out) {
    double d = 0;
    dc_status s = get_num(w, o, key, (double)lo, (double)hi, (double)def, required, &d);
    if (s) return s;
    if (d != floor(d)) {
        char b[64];
        snprintf(b, sizeof b, "must be a whole number, got %g", d);
        return bad(w, key, b);
    }
    *out = (int64_t)d;
    return DC_OK;
}

static dc_status get_bool(const where *w, const cJSON *o, const char *key, bool def, bool *out) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!v) {
        *out = def;
        return DC_OK;
    }
    if (!cJSON_IsBool(v)) return bad(w, key, "must be true or false");
    *out = cJSON_IsTrue(v);
    return DC_OK;
}

static const char *get_str(const where *w, const cJSON *o, const char *key, bool required) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!v && !required) return NULL;
    if (!cJSON_IsString(v) || !v->valuestring) {
        bad(w, key, v ? "must be a string" : "is missing");
        return NULL;
    }
    return v->valuestring;
}

/* An array of exactly n (or, if n < 0, 1..-n) whole numbers in [lo, hi]; returns the count or -1. */
static int get_ints(const where *w, const cJSON *o, const char *key, int n, int64_t lo, int64_t hi, int64_t *out) {
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(o, key);
    int len = cJSON_IsArray(a) ? cJSON_GetArraySize(a) : -1;
    bool ok = n >= 0 ? len == n : len >= 1 && len <= -n;
    for (int i = 0; ok && i < len; i++) {
        const cJSON *v = cJSON_GetArrayItem(a, i);
        ok = cJSON_IsNumber(v) && v->valuedouble >= (double)lo && v->valuedouble <= (double)hi &&
             v->valuedouble == floor(v->valuedouble);
        if (ok) out[i] = (int64_t)v->valuedouble;
    }
    if (ok) return len;
    char b[128];
    if (n >= 0) snprintf(b, sizeof b, "must be an array of %d whole numbers in [%lld, %lld]", n, (long long)lo, (long long)hi);
    else snprintf(b, sizeof b, "must be an array of 1 to %d whole numbers in [%lld, %lld]", -n, (long long)lo, (long long)hi);
    bad(w, key, b);
    return -1;
}

static dc_status get_pair(const where *w, const cJSON *o, const char *key, int *out) {
    int64_t v[2];
    if (get_ints(w, o, key, 2, 1, 1 << 20, v) < 0) return DC_ERR_FORMAT;
    out[0] = (int)v[0];
    out[1] = (int)v[1];
    return DC_OK;
}

static dc_status get_act(const where *w, const cJSON *o, dc_activation *out) {
    const char *name = get_str(w, o, "activation", false);
    if (!name) {
        if (cJSON_GetObjectItemCaseSensitive(o, "activation")) return DC_ERR_FORMAT;
        *out = DC_ACT_NONE;
        return DC_OK;
    }
    for (int a = 0; a < DC_ACT_COUNT; a++)
        if (strcmp(name, dc_activation_name((dc_activation)a)) == 0) {
            *out = (dc_activation)a;
            return DC_OK;
        }
    char b[96];
    snprintf(b, sizeof b, "names an unknown activation \"%.40s\"", name);
    return bad(w, "activation", b);
}

#define MAX_UNITS ((int64_t)1 << 31)

/* A layer from its JSON object, through the public constructors (which validate options). */
static dc_layer *layer_from_json(const where *w, const cJSON *o) {
    const char *cls = get_str(w, o, "class", true);
    if (!cls) return NULL;
    double alpha = 0, rate = 0, mom = 0, eps = 0;
    int64_t units = 0;
    bool use_bias = true, flag = false;
    dc_activation act = DC_ACT_NONE;
    int k[2], st[2];
    dc_layer *l = NULL;
    if (strcmp(cls, "InputLayer") == 0) {
        int64_t shape[DC_MAX_DIMS];
        int nd = get_ints(w, o, "shape", -(DC_MAX_DIMS - 1), 1, INT64_C(1) << 40, shape);
        if (nd < 0) return NULL;
        l = dc_input(nd, shape);
    } else if (strcmp(cls, "Dense") == 0) {
        if (get_int(w, o, "units", 1, MAX_UNITS, 0, true, &units) || get_act(w, o, &act) ||
            get_num(w, o, "alpha", -1e6, 1e6, 0, false, &alpha) || get_bool(w, o, "use_bias", true, &use_bias))
            return NULL;
        l = dc_dense(units, act);
    } else if (strcmp(cls, "Activation") == 0) {
        if (get_act(w, o, &act) || get_num(w, o, "alpha", -1e6, 1e6, 0, false, &alpha)) return NULL;
        l = dc_activation_layer(act);
    } else if (strcmp(cls, "Dropout") == 0) {
        if (get_num(w, o, "rate", 0, 1, 0, true, &rate)) return NULL;
        l = dc_dropout_layer((float)rate);
    } else if (strcmp(cls, "Flatten") == 0) {
        l = dc_flatten();
    } else if (strcmp(cls, "Add") == 0) {
        l = dc_add_layer();
    } else if (strcmp(cls, "Concatenate") == 0) {
        l = dc_concatenate_layer();
    } else if (strcmp(cls, "Conv2D") == 0 || strcmp(cls, "Conv2DTranspose") == 0) {
        const char *pad = NULL;
        if (get_int(w, o, "filters", 1, MAX_UNITS, 0, true, &units) || get_pair(w, o, "kernel_size", k) ||
            get_pair(w, o, "strides", st) || !(pad = get_str(w, o, "padding", true)) || get_act(w, o, &act) ||
            get_num(w, o, "alpha", -1e6, 1e6, 0, false, &alpha) || get_bool(w, o, "use_bias", true, &use_bias))
            return NULL;
        if (strcmp(pad, "same") != 0 && strcmp(pad, "valid") != 0) return bad(w, "padding", "must be \"same\" or \"valid\""), NULL;
        dc_padding p = strcmp(pad, "same") == 0 ? DC_PAD_SAME : DC_PAD_VALID;
        l = cls[6] ? dc_conv2d_transpose_layer(units, k[0], k[1], 1, p, act) : dc_conv2d_layer(units, k[0], k[1], 1, p, act);
        if (l && dc_layer_set_strides(l, st[0], st[1])) goto fail;
        if (l && cJSON_GetObjectItemCaseSensitive(o, "explicit_padding")) {
            int64_t pv[4];
            if (get_ints(w, o, "explicit_padding", 4, 0, 1 << 20, pv) < 0) goto fail;
            int p4[4] = {(int)pv[0], (int)pv[1], (int)pv[2], (int)pv[3]};
            if (dc_layer_set_padding(l, p4)) goto fail;
        }
    } else if (strcmp(cls, "MaxPooling2D") == 0 || strcmp(cls, "AveragePooling2D") == 0) {
        if (get_pair(w, o, "pool_size", k) || get_pair(w, o, "strides", st)) return NULL;
        l = cls[0] == 'M' ? dc_max_pool2d_layer(k[0], k[1], 0) : dc_avg_pool2d_layer(k[0], k[1], 0);
        if (l && dc_layer_set_strides(l, st[0], st[1])) goto fail;
    } else if (strcmp(cls, "GlobalAveragePooling2D") == 0) {
        l = dc_global_avg_pool2d_layer();
    } else if (strcmp(cls, "UpSampling2D") == 0) {
        if (get_pair(w, o, "size", k)) return NULL;
        l = dc_upsample2d_layer(k[0], k[1]);
    } else if (strcmp(cls, "BatchNormalization") == 0) {
        if (get_num(w, o, "momentum", 0, 1, 0.1, false, &mom) || get_num(w, o, "epsilon", 0, 1, 1e-3, false, &eps) ||
            get_bool(w, o, "synchronized", false, &flag))
            return NULL;
        l = dc_batch_norm_layer((float)mom, (float)eps);
        if (l) l->sync_bn = flag;
    } else if (strcmp(cls, "Embedding") == 0) {
        int64_t vocab;
        if (get_int(w, o, "input_dim", 1, 1 << 24, 0, true, &vocab) || get_int(w, o, "output_dim", 1, MAX_UNITS, 0, true, &units) ||
            get_bool(w, o, "mask_zero", false, &flag))
            return NULL;
        l = dc_embedding_layer(vocab, units, flag);
    } else if (strcmp(cls, "SimpleRNN") == 0 || strcmp(cls, "LSTM") == 0 || strcmp(cls, "GRU") == 0) {
        double fb = 1;
        if (get_int(w, o, "units", 1, MAX_UNITS, 0, true, &units) || get_bool(w, o, "return_sequences", false, &flag) ||
            get_num(w, o, "forget_bias", -1e6, 1e6, 1, false, &fb))
            return NULL;
        if (cls[0] == 'S') {
            if (get_act(w, o, &act)) return NULL;
            l = dc_simple_rnn_layer(units, act, flag);
        } else {
            l = cls[0] == 'L' ? dc_lstm_layer(units, flag) : dc_gru_layer(units, flag);
            if (l && cls[0] == 'L' && dc_layer_set_forget_bias(l, (float)fb)) goto fail;
        }
    } else if (strcmp(cls, "LayerNormalization") == 0) {
        if (get_num(w, o, "epsilon", 1e-30, 1, 1e-5, false, &eps)) return NULL;
        l = dc_layer_norm_layer((float)eps);
    } else if (strcmp(cls, "PositionalEmbedding") == 0) {
        int64_t len;
        if (get_int(w, o, "max_len", 1, 1 << 24, 0, true, &len) || get_bool(w, o, "learned", true, &flag)) return NULL;
        l = dc_positional_embedding_layer(len, flag);
    } else if (strcmp(cls, "MultiHeadAttention") == 0 || strcmp(cls, "TransformerEncoderLayer") == 0 ||
               strcmp(cls, "TransformerDecoderLayer") == 0) {
        int64_t heads, ff = 0;
        bool causal = false, pre = false;
        if (get_int(w, o, "heads", 1, 4096, 0, true, &heads) || get_bool(w, o, "causal", false, &causal) ||
            get_num(w, o, "dropout", 0, 1, 0, false, &rate))
            return NULL;
        if (cls[0] == 'M') {
            bool sep = false;
            if (get_bool(w, o, "separate_projections", false, &sep)) return NULL;
            l = dc_multi_head_attention_layer((int)heads, causal, (float)rate);
            if (l && sep && dc_layer_set_separate_projections(l, true)) goto fail;
        } else {
            if (get_int(w, o, "ff_units", 1, MAX_UNITS, 0, true, &ff) || get_act(w, o, &act) ||
                get_bool(w, o, "pre_norm", false, &pre) || get_num(w, o, "epsilon", 1e-30, 1, 1e-5, false, &eps))
                return NULL;
            l = cls[11] == 'E' ? dc_transformer_encoder_layer((int)heads, ff, (float)rate, act, pre, causal)
                               : dc_transformer_decoder_layer((int)heads, ff, (float)rate, act, pre);
            if (l && dc_layer_set_epsilon(l, (float)eps)) goto fail;
        }
    } else if (strcmp(cls, "GlobalAveragePooling1D") == 0) {
        l = dc_global_avg_pool1d_layer();
    } else if (strcmp(cls, "BertEmbeddings") == 0) {
        int64_t vocab, pos, types;
        if (get_int(w, o, "vocab_size", 1, 1 << 24, 0, true, &vocab) || get_int(w, o, "hidden_size", 1, MAX_UNITS, 0, true, &units) ||
            get_int(w, o, "max_position_embeddings", 1, 1 << 24, 0, true, &pos) ||
            get_int(w, o, "type_vocab_size", 1, 1 << 24, 0, true, &types) || get_num(w, o, "epsilon", 1e-30, 1, 1e-12, false, &eps) ||
            get_num(w, o, "dropout", 0, 1, 0, false, &rate))
            return NULL;
        l = dc_bert_embeddings_layer(vocab, units, pos, types, (float)eps, (float)rate);
    } else if (strcmp(cls, "BertLayer") == 0) {
        int64_t heads;
        if (get_int(w, o, "heads", 1, 4096, 0, true, &heads) || get_int(w, o, "intermediate_size", 1, MAX_UNITS, 0, true, &units) ||
            get_num(w, o, "epsilon", 1e-30, 1, 1e-12, false, &eps) || get_num(w, o, "dropout", 0, 1, 0, false, &rate))
            return NULL;
        l = dc_bert_layer((int)heads, units, (float)eps, (float)rate);
    } else if (strcmp(cls, "BertPooler") == 0) {
        l = dc_bert_pooler_layer();
    } else {
        dc_error(DC_ERR_FORMAT, "%s: %s: unknown layer class \"%.40s\"", w->path, w->what, cls);
        return NULL;
    }
    if (!l) goto fail;
    if (alpha != 0 && dc_layer_set_alpha(l, (float)alpha)) goto fail;
    if (!use_bias && dc_layer_set_use_bias(l, false)) goto fail;
    const char *name = get_str(w, o, "name", true);
    if (!name || dc_layer_set_name(l, name)) goto fail;
    return l;
fail:
    dc_layer_free(l);
    { /* a constructor's own message, as a format error of this file */
        char why[256];
        snprintf(why, sizeof why, "%s", dc_last_error());
        dc_error(DC_ERR_FORMAT, "%s: %s: %s", w->path, w->what, why);
    }
    return NULL;
}

static dc_optimizer *optimizer_from_json(const where *w, const cJSON *o) {
    const char *cls = get_str(w, o, "class", true);
    double lr, a = 0, b = 0, eps = 0, wd = 0, cn = 0, cv = 0;
    bool nest = false;
    if (!cls || get_num(w, o, "lr", 0, 1e6, 0, true, &lr) || get_num(w, o, "epsilon", 0, 1, 0, false, &eps) ||
        get_num(w, o, "weight_decay", 0, 1e6, 0, false, &wd) || get_num(w, o, "clipnorm", 0, 1e30, 0, false, &cn) ||
        get_num(w, o, "clipvalue", 0, 1e30, 0, false, &cv))
        return NULL;
    dc_optimizer *op = NULL;
    if (strcmp(cls, "SGD") == 0) {
        if (get_num(w, o, "momentum", 0, 1, 0, false, &a) || get_bool(w, o, "nesterov", false, &nest)) return NULL;
        op = dc_sgd((float)lr, (float)a, nest);
    } else if (strcmp(cls, "Adam") == 0) {
        if (get_num(w, o, "beta1", 0, 1, 0.9, false, &a) || get_num(w, o, "beta2", 0, 1, 0.999, false, &b)) return NULL;
        op = dc_adam((float)lr, (float)a, (float)b, (float)eps);
    } else if (strcmp(cls, "RMSprop") == 0 || strcmp(cls, "Adadelta") == 0) {
        if (get_num(w, o, "rho", 0, 1, 0.9, false, &a)) return NULL;
        op = cls[0] == 'R' ? dc_rmsprop((float)lr, (float)a, (float)eps) : dc_adadelta((float)lr, (float)a, (float)eps);
    } else if (strcmp(cls, "Adagrad") == 0) {
        op = dc_adagrad((float)lr, (float)eps);
    } else {
        dc_error(DC_ERR_FORMAT, "%s: %s: unknown optimizer \"%.40s\"", w->path, w->what, cls);
        return NULL;
    }
    if (op && (dc_optimizer_set_weight_decay(op, (float)wd) || dc_optimizer_set_clipnorm(op, (float)cn) ||
               dc_optimizer_set_clipvalue(op, (float)cv))) {
        dc_optimizer_free(op);
        op = NULL;
    }
    if (!op) dc_error_prefix("%s: %s", w->path, w->what);
    return op;
}

/* 1 to 16 hexadecimal digits, nothing else. */
static bool parse_hex(const char *s, uint64_t *out) {
    size_t n = s ? strlen(s) : 0;
    if (n < 1 || n > 16 || strspn(s, "0123456789abcdefABCDEF") != n) return false;
    *out = strtoull(s, NULL, 16);
    return true;
}

static dc_status parse_u64(const where *w, const cJSON *o, const char *key, uint64_t *out) {
    const char *s = get_str(w, o, key, true);
    if (!s) return DC_ERR_FORMAT;
    if (!parse_hex(s, out)) return bad(w, key, "must be a hexadecimal 64-bit number");
    return DC_OK;
}

/* ---------------------------------------------------------------------------------------- */
/* reading: tensors into the model                                                          */
/* ---------------------------------------------------------------------------------------- */

static const char *shape_of(const dc_safetensors *st, int i, char *buf, size_t size) {
    int64_t sh[DC_MAX_DIMS];
    dc_dtype dt;
    int nd = dc_safetensors_shape(st, i, sh, &dt);
    return dc_shape_str(nd, sh, buf, size);
}

/* Checks that tensor `name` exists with the shape ndim/shape; its index in *idx. */
static dc_status match_tensor(const dc_safetensors *st, const char *name, int ndim, const int64_t *shape, const char *layer,
                              int *idx) {
    int i = dc_safetensors_find(st, name);
    char want[160], got[160];
    dc_shape_str(ndim, shape, want, sizeof want);
    if (i < 0) return dc_error(DC_ERR_FORMAT, "%s: no tensor \"%s\" for layer %s (expected shape %s)", dc_st_path(st), name, layer, want);
    int64_t sh[DC_MAX_DIMS];
    dc_dtype dt;
    int nd = dc_safetensors_shape(st, i, sh, &dt);
    bool same = nd == ndim;
    for (int d = 0; same && d < nd; d++) same = sh[d] == shape[d];
    if (!same)
        return dc_error(DC_ERR_SHAPE, "%s: tensor \"%s\" has shape %s but layer %s expects %s", dc_st_path(st), name,
                        shape_of(st, i, got, sizeof got), layer, want);
    *idx = i;
    return DC_OK;
}

static dc_status read_checked(const dc_safetensors *st, int i, const char *name, float *dst, int64_t n) {
    dc_status s = dc_st_read_f32(st, i, dst, n);
    if (s) return s;
    for (int64_t k = 0; k < n; k++)
        if (!isfinite(dst[k]))
            return dc_error(DC_ERR_NUMERIC, "%s: tensor \"%s\" holds %g at element %lld", dc_st_path(st), name, (double)dst[k],
                            (long long)k);
    return DC_OK;
}

/* The layer that owns parameter j (for messages). */
static const char *owner(const dc_model *m, int j) {
    for (int i = 0, k = 0; i < m->nlayers; i++) {
        k += m->layers[i]->nparams;
        if (j < k) return m->layers[i]->name;
    }
    return "?";
}

static bool is_optimizer_tensor(const char *name) { return strncmp(name, "optimizer.", 10) == 0; }

/* Reads every parameter and state tensor of a built model into newly allocated copies of pbuf
 * and sbuf (so that an error leaves the model untouched). */
static dc_status read_weights(const dc_model *m, const dc_safetensors *st, bool allow_extra, float **pbuf, float **sbuf) {
    *pbuf = dc_calloc((size_t)(m->ptotal ? m->ptotal : 1), sizeof(float));
    *sbuf = dc_calloc((size_t)(m->stotal ? m->stotal : 1), sizeof(float));
    if (!*pbuf || !*sbuf) return DC_ERR_NOMEM;
    for (int j = 0; j < m->np; j++) {
        const dc_tensor *t = m->ptens[j];
        int i;
        dc_status s = match_tensor(st, m->pnames[j], t->ndim, t->shape, owner(m, j), &i);
        float *dst = m->gtens[j] ? *pbuf + (t->data - m->pbuf) : *sbuf + (t->data - m->sbuf);
        if (s || (s = read_checked(st, i, m->pnames[j], dst, t->numel))) return s;
    }
    if (!allow_extra)
        for (int i = 0; i < dc_safetensors_count(st); i++) {
            const char *name = dc_safetensors_name(st, i);
            bool known = is_optimizer_tensor(name);
            for (int j = 0; !known && j < m->np; j++) known = strcmp(name, m->pnames[j]) == 0;
            if (!known)
                return dc_error(DC_ERR_FORMAT, "%s: tensor \"%s\" matches no parameter of the model (pass allow_extra to ignore it)",
                                dc_st_path(st), name);
        }
    return DC_OK;
}

dc_status dc_model_load_weights(dc_model *m, const char *path, bool allow_extra) {
    dc_status s = check_built(m, path, "dc_model_load_weights");
    if (s) return s;
    dc_safetensors *st = dc_safetensors_open(path);
    if (!st) return dc_last_status();
    float *p = NULL, *sb = NULL;
    if (!(s = read_weights(m, st, allow_extra, &p, &sb))) {
        memcpy(m->pbuf, p, (size_t)m->ptotal * sizeof(float));
        memcpy(m->sbuf, sb, (size_t)m->stotal * sizeof(float));
    }
    dc_free(p);
    dc_free(sb);
    dc_safetensors_close(st);
    return s;
}

/* ---------------------------------------------------------------------------------------- */
/* dc_model_load                                                                            */
/* ---------------------------------------------------------------------------------------- */

static cJSON *parse_meta(const dc_safetensors *st, const char *key, const char *what_for) {
    const char *txt = dc_safetensors_meta(st, key);
    if (!txt) {
        dc_error(DC_ERR_FORMAT, "%s: no \"%s\" metadata: %s", dc_st_path(st), key, what_for);
        return NULL;
    }
    cJSON *j = cJSON_Parse(txt);
    if (!cJSON_IsObject(j)) {
        cJSON_Delete(j);
        dc_error(DC_ERR_FORMAT, "%s: metadata \"%s\" is not a JSON object", dc_st_path(st), key);
        return NULL;
    }
    return j;
}

/* Every parameter of l must match a tensor the file holds, so what build allocates is bounded
 * by the file's size. */
static dc_status match_params(const dc_layer *l, const dc_safetensors *st) {
    for (int k = 0; k < l->nparams; k++) {
        char pname[96];
        int idx;
        snprintf(pname, sizeof pname, "%s.%s", l->name, l->decl[k].name);
        dc_status s = match_tensor(st, pname, l->decl[k].ndim, l->decl[k].shape, l->name, &idx);
        if (s) return s;
    }
    return DC_OK;
}

/* A graph model: InputLayers become the inputs in file order; every other layer names the
 * layers feeding it, which must come before it. */
static dc_status add_graph_layers(dc_model *m, const cJSON *layers, int n, const dc_safetensors *st, where *w) {
    for (int i = 0; i < n; i++) {
        const cJSON *lo = cJSON_GetArrayItem(layers, i);
        snprintf(w->what, sizeof w->what, "layer %d", i);
        if (!cJSON_IsObject(lo)) return bad(w, "layers", "entries must be objects");
        const cJSON *ins = cJSON_GetObjectItemCaseSensitive(lo, "inputs");
        const cJSON *cls = cJSON_GetObjectItemCaseSensitive(lo, "class");
        bool is_input = cJSON_IsString(cls) && strcmp(cls->valuestring, "InputLayer") == 0;
        int nin = ins ? (cJSON_IsArray(ins) ? cJSON_GetArraySize(ins) : -1) : 0;
        if (is_input ? nin != 0 : (nin < 1 || nin > DC_LAYER_MAX_INPUTS))
            return bad(w, "inputs", is_input ? "is not allowed on an InputLayer" : "must list 1 to 4 layer names");
        int idx[DC_LAYER_MAX_INPUTS];
        for (int k = 0; k < nin; k++) {
            const cJSON *nm = cJSON_GetArrayItem(ins, k);
            if (!cJSON_IsString(nm)) return bad(w, "inputs", "must list layer names");
            idx[k] = -1;
            for (int j = 0; j < m->nlayers && idx[k] < 0; j++)
                if (strcmp(m->layers[j]->name, nm->valuestring) == 0) idx[k] = j;
            if (idx[k] < 0)
                return dc_error(DC_ERR_FORMAT, "%s: %s: input \"%.60s\" is not a layer before it", w->path, w->what, nm->valuestring);
        }
        dc_layer *l = layer_from_json(w, lo);
        if (!l) return dc_last_status() ? dc_last_status() : DC_ERR_FORMAT;
        dc_status s = DC_OK;
        if (is_input) {
            m->graph = true;
            s = dc_model_add(m, l);
        } else if (dc_model_apply(m, l, nin, idx) < 0) {
            s = dc_last_status() ? dc_last_status() : DC_ERR_FORMAT;
        }
        if (s) return dc_error_prefix("%s: %s", w->path, w->what), s;
        if (!is_input && (s = match_params(l, st))) return s;
    }
    if (m->ninputs == 0) return bad(w, "layers", "must start with an InputLayer");
    return DC_OK;
}

/* Adds the layers of the architecture to m and checks every declared parameter against the
 * file before anything is allocated for it. */
static dc_status add_layers(dc_model *m, const cJSON *arch, const dc_safetensors *st) {
    where w = {dc_st_path(st), "model"};
    const char *fmt = get_str(&w, arch, "format", true);
    int64_t ver;
    if (!fmt) return DC_ERR_FORMAT;
    if (strcmp(fmt, ARCH_FORMAT) != 0) return bad(&w, "format", "must be \"" ARCH_FORMAT "\"");
    if (get_int(&w, arch, "version", 1, 1000, 0, true, &ver)) return DC_ERR_FORMAT;
    if (ver > ARCH_VERSION)
        return dc_error(DC_ERR_FORMAT, "%s: model format version %lld is newer than this deepc reads (%d)", w.path, (long long)ver,
                        ARCH_VERSION);
    uint64_t seed = 42;
    if (cJSON_GetObjectItemCaseSensitive(arch, "seed") && parse_u64(&w, arch, "seed", &seed)) return DC_ERR_FORMAT;
    m->seed = seed;
    const cJSON *layers = cJSON_GetObjectItemCaseSensitive(arch, "layers");
    int n = cJSON_IsArray(layers) ? cJSON_GetArraySize(layers) : -1;
    if (n < 1 || n > 100000) return bad(&w, "layers", "must be an array of 1 to 100000 layers");
    bool graph = false;
    if (get_bool(&w, arch, "graph", false, &graph)) return DC_ERR_FORMAT;
    if (graph) return add_graph_layers(m, layers, n, st, &w);
    const cJSON *first = cJSON_GetArrayItem(layers, 0);
    const cJSON *cls = cJSON_IsObject(first) ? cJSON_GetObjectItemCaseSensitive(first, "class") : NULL;
    if (!(cJSON_IsString(cls) && strcmp(cls->valuestring, "InputLayer") == 0)) {
        int64_t shape[DC_MAX_DIMS];
        int nd = get_ints(&w, arch, "input_shape", -(DC_MAX_DIMS - 1), 1, INT64_C(1) << 40, shape);
        dc_status s = nd < 0 ? DC_ERR_FORMAT : dc_model_add(m, dc_input(nd, shape));
        if (s) return s;
    }
    for (int i = 0; i < n; i++) {
        const cJSON *lo = cJSON_GetArrayItem(layers, i);
        snprintf(w.what, sizeof w.what, "layer %d", i);
        if (!cJSON_IsObject(lo)) return bad(&w, "layers", "entries must be objects");
        dc_layer *l = layer_from_json(&w, lo);
        if (!l) return dc_last_status() ? dc_last_status() : DC_ERR_FORMAT;
        dc_status s = dc_model_add(m, l);
        if (s) return dc_error_prefix("%s: %s", w.path, w.what), s;
        if ((s = match_params(l, st))) return s;
    }
    return DC_OK;
}

static dc_status compile_from_json(dc_model *m, const cJSON *c, const char *path) {
    where w = {path, "compile"};
    const char *loss = get_str(&w, c, "loss", true);
    if (!loss) return DC_ERR_FORMAT;
    int li = 0;
    while (li < DC_LOSS_COUNT && strcmp(loss, dc_loss_name((dc_loss)li)) != 0) li++;
    if (li == DC_LOSS_COUNT) return bad(&w, "loss", "names an unknown loss");
    dc_metric met[DC_MAX_METRICS];
    const cJSON *ma = cJSON_GetObjectItemCaseSensitive(c, "metrics");
    int nm = ma ? (cJSON_IsArray(ma) ? cJSON_GetArraySize(ma) : -1) : 0;
    if (nm < 0 || nm > DC_MAX_METRICS) return bad(&w, "metrics", "must be an array of at most 8 metric names");
    for (int i = 0; i < nm; i++) {
        const cJSON *v = cJSON_GetArrayItem(ma, i);
        int k = 0;
        while (cJSON_IsString(v) && k < DC_METRIC_COUNT && strcmp(v->valuestring, dc_metric_name((dc_metric)k)) != 0) k++;
        if (!cJSON_IsString(v) || k == DC_METRIC_COUNT) return bad(&w, "metrics", "names an unknown metric");
        met[i] = (dc_metric)k;
    }
    const cJSON *oj = cJSON_GetObjectItemCaseSensitive(c, "optimizer");
    if (!cJSON_IsObject(oj)) return bad(&w, "optimizer", "must be an object");
    snprintf(w.what, sizeof w.what, "compile.optimizer");
    dc_optimizer *op = optimizer_from_json(&w, oj);
    if (!op) return dc_last_status() ? dc_last_status() : DC_ERR_FORMAT;
    return dc_model_compile(m, op, (dc_loss)li, met, nm);
}

dc_model *dc_model_load(const char *path) {
    if (!path || !*path) return dc_error_null(DC_ERR_ARG, "dc_model_load: path is NULL or empty");
    dc_safetensors *st = dc_safetensors_open(path);
    if (!st) return NULL;
    cJSON *arch = parse_meta(st, KEY_MODEL,
                             "this is a weights file, not a deepc model (build the model in code and use dc_model_load_weights)");
    dc_model *m = arch ? dc_sequential() : NULL;
    dc_status s = arch ? (m ? add_layers(m, arch, st) : DC_ERR_NOMEM) : DC_ERR_FORMAT;
    if (!s) s = dc_model_build(m, 0, NULL);
    if (!s) {
        for (int j = 0; !s && j < m->np; j++) {
            int i = dc_safetensors_find(st, m->pnames[j]);
            s = read_checked(st, i, m->pnames[j], m->ptens[j]->data, m->ptens[j]->numel);
        }
    }
    const cJSON *c = arch ? cJSON_GetObjectItemCaseSensitive(arch, "compile") : NULL;
    if (!s && c) s = compile_from_json(m, c, path);
    cJSON_Delete(arch);
    dc_safetensors_close(st);
    if (s) {
        dc_model_free(m);
        return NULL;
    }
    return m;
}

/* ---------------------------------------------------------------------------------------- */
/* checkpoints                                                                              */
/* ---------------------------------------------------------------------------------------- */

static dc_status history_json(const dc_history *h, char **out) {
    cJSON *root = cJSON_CreateObject();
    int E = dc_history_epochs(h);
    if (root) {
        cJSON_AddNumberToObject(root, "epochs", E);
        cJSON *series = cJSON_AddArrayToObject(root, "series");
        for (int i = 0; series && i < dc_history_num_series(h); i++) {
            const char *name = dc_history_series_name(h, i);
            const double *v = dc_history_get(h, name);
            cJSON *o = cJSON_CreateObject();
            cJSON_AddItemToArray(series, o);
            cJSON_AddStringToObject(o, "name", name);
            cJSON *a = cJSON_AddArrayToObject(o, "values");
            for (int e = 0; a && e < E; e++) {
                /* 17 digits: cJSON's own printing may drop the last bit, and resumed histories
                 * must equal uninterrupted ones exactly */
                char num[32];
                snprintf(num, sizeof num, "%.17g", v[e]);
                cJSON_AddItemToArray(a, isfinite(v[e]) ? cJSON_CreateRaw(num) : cJSON_CreateNull());
            }
        }
    }
    *out = print_json(root);
    return *out ? DC_OK : DC_ERR_NOMEM;
}

static dc_status history_from_json(const where *w0, const cJSON *j, int epoch, dc_history **out) {
    where w = *w0;
    snprintf(w.what, sizeof w.what, "history");
    int64_t E;
    if (get_int(&w, j, "epochs", 0, 100000000, 0, true, &E)) return DC_ERR_FORMAT;
    if (E != epoch) {
        char b[96];
        snprintf(b, sizeof b, "is %lld but the checkpoint is at epoch %d", (long long)E, epoch);
        return bad(&w, "epochs", b);
    }
    const cJSON *series = cJSON_GetObjectItemCaseSensitive(j, "series");
    if (!cJSON_IsArray(series) || cJSON_GetArraySize(series) > 64) return bad(&w, "series", "must be an array of at most 64 series");
    dc_history *h = dc_history_new();
    if (!h) return DC_ERR_NOMEM;
    dc_status s = DC_OK;
    const cJSON *o;
    cJSON_ArrayForEach(o, series) {
        const char *name = cJSON_IsObject(o) ? get_str(&w, o, "name", true) : NULL;
        const cJSON *vals = name ? cJSON_GetObjectItemCaseSensitive(o, "values") : NULL;
        if (!name || !cJSON_IsArray(vals) || cJSON_GetArraySize(vals) != (int)E) {
            s = bad(&w, "series", "entries must be {\"name\": string, \"values\": [one number or null per epoch]}");
            break;
        }
        int e = 0;
        const cJSON *v;
        cJSON_ArrayForEach(v, vals) {
            if (!cJSON_IsNumber(v) && !cJSON_IsNull(v)) {
                s = bad(&w, name, "values must be numbers or null");
                break;
            }
            if ((e == 0 || cJSON_IsNumber(v)) && (s = dc_history_record(h, e, name, cJSON_IsNumber(v) ? v->valuedouble : NAN)))
                break;
            e++;
        }
        if (s) break;
    }
    if (s) {
        dc_history_free(h);
        return dc_error_prefix("%s: history", w.path), s;
    }
    *out = h;
    return DC_OK;
}

dc_status dc_model_load_checkpoint(dc_model *m, const char *path) {
    dc_status s = check_built(m, path, "dc_model_load_checkpoint");
    if (s) return s;
    if (!m->compiled) return dc_error(DC_ERR_STATE, "dc_model_load_checkpoint: %s: compile the model first", path);
    dc_safetensors *st = dc_safetensors_open(path);
    if (!st) return dc_last_status();
    where w = {path, "checkpoint"};
    cJSON *ck = parse_meta(st, KEY_CKPT, "this file is not a training checkpoint (dc_model_save_checkpoint writes them)");
    cJSON *hj = ck ? parse_meta(st, KEY_HIST, "the checkpoint has no history") : NULL;
    dc_optimizer *op = m->opt;
    int64_t ver = 0, epoch = 0, step = 0, rows = 0, batch = 0;
    uint64_t seed = 0, rng[4] = {0};
    float *p = NULL, *sb = NULL, *s1 = NULL, *s2 = NULL;
    dc_history *h = NULL;
    s = hj ? DC_OK : dc_last_status();
    if (!s && (get_int(&w, ck, "version", 1, 1000, 0, true, &ver) || get_int(&w, ck, "epoch", 0, 100000000, 0, true, &epoch) ||
               get_int(&w, ck, "step", 0, INT64_C(1) << 52, 0, true, &step) ||
               get_int(&w, ck, "rows", 1, INT64_C(1) << 52, 0, true, &rows) ||
               get_int(&w, ck, "batch_size", 1, INT64_C(1) << 52, 0, true, &batch) || parse_u64(&w, ck, "fit_seed", &seed)))
        s = DC_ERR_FORMAT;
    if (!s && ver > CKPT_VERSION)
        s = dc_error(DC_ERR_FORMAT, "%s: checkpoint version %lld is newer than this deepc reads (%d)", path, (long long)ver, CKPT_VERSION);
    const cJSON *ra = ck ? cJSON_GetObjectItemCaseSensitive(ck, "rng") : NULL;
    if (!s && (!cJSON_IsArray(ra) || cJSON_GetArraySize(ra) != 4)) s = bad(&w, "rng", "must be an array of 4 hexadecimal strings");
    for (int i = 0; !s && i < 4; i++) {
        const cJSON *v = cJSON_GetArrayItem(ra, i);
        if (!cJSON_IsString(v) || !parse_hex(v->valuestring, &rng[i])) s = bad(&w, "rng", "must be an array of 4 hexadecimal strings");
    }
    const char *oname = !s ? get_str(&w, ck, "optimizer", true) : NULL;
    if (!s && !oname) s = DC_ERR_FORMAT;
    if (!s && strcmp(oname, dc_optimizer_name(op)) != 0)
        s = dc_error(DC_ERR_STATE, "%s: the checkpoint was written with the %.40s optimizer; the model is compiled with %s", path,
                     oname, dc_optimizer_name(op));
    if (!s) s = history_from_json(&w, hj, (int)epoch, &h);
    if (!s) s = read_weights(m, st, false, &p, &sb);
    /* optimizer state: both slots the optimiser keeps, present for every trainable parameter or
     * for none (a checkpoint written before the first step) */
    bool two = op->kind == DC_OPT_ADAM || op->kind == DC_OPT_ADADELTA;
    bool one = two || op->kind == DC_OPT_ADAGRAD || op->kind == DC_OPT_RMSPROP || op->momentum > 0;
    for (int k = 1; !s && k <= 2; k++) {
        bool want = k == 1 ? one : two;
        float **buf = k == 1 ? &s1 : &s2;
        int present = 0, trainable = 0;
        for (int j = 0; j < m->np; j++) {
            if (!m->gtens[j]) continue;
            trainable++;
            char name[128];
            snprintf(name, sizeof name, "optimizer.state%d.%s", k, m->pnames[j]);
            present += dc_safetensors_find(st, name) >= 0;
        }
        if (present && !want) {
            s = dc_error(DC_ERR_STATE, "%s: the checkpoint holds optimizer state %d, which the model's %s does not keep", path, k,
                         dc_optimizer_name(op));
            break;
        }
        if (!present) continue;
        if (!(*buf = dc_calloc((size_t)m->ptotal, sizeof(float)))) {
            s = DC_ERR_NOMEM;
            break;
        }
        for (int j = 0; !s && j < m->np; j++) {
            if (!m->gtens[j]) continue;
            char name[128];
            int i;
            snprintf(name, sizeof name, "optimizer.state%d.%s", k, m->pnames[j]);
            const dc_tensor *t = m->ptens[j];
            if (!(s = match_tensor(st, name, t->ndim, t->shape, owner(m, j), &i)))
                s = read_checked(st, i, name, *buf + poffset(m, j), t->numel);
        }
    }
    if (!s && (s1 || s2)) s = dc_optimizer_prepare(op, m->ptotal);
    if (!s) { /* everything read and checked: commit */
        memcpy(m->pbuf, p, (size_t)m->ptotal * sizeof(float));
        memcpy(m->sbuf, sb, (size_t)m->stotal * sizeof(float));
        /* state the checkpoint lacks (written before the first step) starts from zero */
        if (op->s1) s1 ? memcpy(op->s1, s1, (size_t)m->ptotal * sizeof(float)) : memset(op->s1, 0, (size_t)op->n * sizeof(float));
        if (op->s2) s2 ? memcpy(op->s2, s2, (size_t)m->ptotal * sizeof(float)) : memset(op->s2, 0, (size_t)op->n * sizeof(float));
        op->t = step;
        memcpy(m->rng.s, rng, sizeof rng);
        dc_history_free(m->hist);
        m->hist = h;
        h = NULL;
        m->epoch = (int)epoch;
        m->fit_seed = seed;
        m->fit_rows = rows;
        m->fit_batch = batch;
        m->resuming = true;
    }
    dc_history_free(h);
    dc_free(p);
    dc_free(sb);
    dc_free(s1);
    dc_free(s2);
    cJSON_Delete(ck);
    cJSON_Delete(hj);
    dc_safetensors_close(st);
    return s;
}
