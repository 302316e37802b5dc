/* Model files and training checkpoints: safetensors files whose tensors are the model's
 * parameters by name and whose metadata holds the architecture ("deepc.model"), and for a
 * checkpoint the optimiser's state tensors ("optimizer.state1.<param>") and the training
 * progress ("deepc.checkpoint", "deepc.history"). Every read value is validated before the
 * model is touched. */
#include "model_file.h"

#include <cjson/cJSON.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ARCH_FORMAT "deepc.sequential"
#define ARCH_VERSION 2 /* 2: graph models (layers list their inputs); sequential files stay version 1 */

/* ---------------------------------------------------------------------------------------- */
/* architecture -> JSON                                                                     */
/* ---------------------------------------------------------------------------------------- */

static void add_shape(cJSON *o, const char *key, const int64_t *v, int n) {
    cJSON *a = cJSON_AddArrayToObject(o, key);
    for (int i = 0; a && i < n; i++) cJSON_AddItemToArray(a, cJSON_CreateNumber((double)v[i]));
}

static cJSON *layer_json(const dc_model *m, const dc_layer *l) {
    cJSON *o = cJSON_CreateObject();
    if (!o) return NULL;
    cJSON_AddStringToObject(o, "class", l->type->name);
    cJSON_AddStringToObject(o, "name", l->name);
    if (m->graph && l->nin > 0) { /* the layers feeding it, by name */
        cJSON *a = cJSON_AddArrayToObject(o, "inputs");
        for (int i = 0; a && i < l->nin; i++) cJSON_AddItemToArray(a, cJSON_CreateString(m->layers[l->inputs[i]]->name));
    }
    dc_json_add_fields(o, l->type->fields, l->type->nfields, l->cfg);
    return o;
}

static cJSON *optimizer_json(const dc_optimizer *op) {
    cJSON *o = cJSON_CreateObject();
    if (!o) return NULL;
    cJSON_AddStringToObject(o, "class", op->type->name);
    dc_json_add_fields(o, dc_optimizer_common_fields, 1, op); /* lr first */
    dc_json_add_fields(o, op->type->fields, op->type->nfields, op->cfg);
    dc_json_add_fields(o, dc_optimizer_common_fields + 1, dc_optimizer_common_nfields - 1, op);
    return o;
}

void dc_mf_add_u64(cJSON *o, const char *key, uint64_t v) {
    char b[24];
    snprintf(b, sizeof b, "%016" PRIx64, v);
    cJSON_AddStringToObject(o, key, b);
}

/* cJSON allocates with malloc: the text is freed with cJSON_free. */
char *dc_mf_print_json(cJSON *root) {
    char *txt = root ? cJSON_PrintUnformatted(root) : NULL;
    cJSON_Delete(root);
    if (!txt) dc_error(DC_ERR_NOMEM, "out of memory while writing the model's JSON");
    return txt;
}

char *dc_model_arch_json(const dc_model *m) {
    cJSON *root = cJSON_CreateObject();
    if (!root) return dc_mf_print_json(NULL);
    cJSON_AddStringToObject(root, "format", ARCH_FORMAT);
    cJSON_AddNumberToObject(root, "version", m->graph ? 2 : 1);
    if (m->graph) cJSON_AddBoolToObject(root, "graph", true);
    add_shape(root, "input_shape", m->in_shape, m->in_ndim);
    dc_mf_add_u64(root, "seed", m->seed);
    cJSON *layers = cJSON_AddArrayToObject(root, "layers");
    for (int i = 0; layers && i < m->nlayers; i++) cJSON_AddItemToArray(layers, layer_json(m, m->layers[i]));
    if (m->compiled) {
        cJSON *c = cJSON_AddObjectToObject(root, "compile");
        if (c) {
            cJSON_AddStringToObject(c, "loss", m->user_loss ? "custom" : dc_loss_name(m->loss));
            cJSON *met = cJSON_AddArrayToObject(c, "metrics");
            for (int i = 0; met && i < m->nmetrics; i++) cJSON_AddItemToArray(met, cJSON_CreateString(dc_metric_name(m->metrics[i])));
            cJSON_AddItemToObject(c, "optimizer", optimizer_json(m->opt));
        }
    }
    return dc_mf_print_json(root);
}

/* ---------------------------------------------------------------------------------------- */
/* writing                                                                                  */
/* ---------------------------------------------------------------------------------------- */

dc_status dc_mf_check_built(const dc_model *m, const char *path, const char *who) {
    if (!m || !path || !*path) return dc_error(DC_ERR_ARG, "%s: model or path is NULL/empty", who);
    if (!m->built) return dc_error(DC_ERR_STATE, "%s: %s: the model is not built (build or compile it first)", who, path);
    return DC_OK;
}

/* Offset of parameter i in the optimiser's flat vector (trainable parameters only). */
int64_t dc_mf_poffset(const dc_model *m, int i) { return m->ptens[i]->data - m->pbuf; }

dc_status dc_mf_history_json(const dc_history *h, char **out);

/* Writes parameters and state, the architecture if `arch`, and the training state if `ckpt`. */
static dc_status save_file(const dc_model *m, const char *path, bool arch, bool ckpt) {
    const dc_optimizer *op = m->opt;
    int nstate = ckpt && op && op->n ? op->nstate : 0;
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
        const float *buf = op->state[k];
        for (int i = 0; i < m->np; i++) {
            if (!m->gtens[i]) continue;
            const dc_tensor *t = m->ptens[i];
            snprintf(names[n], sizeof names[n], "optimizer.state%d.%s", k + 1, m->pnames[i]);
            e[n] = (dc_st_entry){names[n], t->ndim, t->shape, buf + dc_mf_poffset(m, i)};
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
            dc_mf_add_u64(c, "fit_seed", m->fit_seed);
            cJSON_AddNumberToObject(c, "rows", (double)m->fit_rows);
            cJSON_AddNumberToObject(c, "batch_size", (double)m->fit_batch);
            cJSON *r = cJSON_AddArrayToObject(c, "rng");
            for (int i = 0; r && i < 4; i++) {
                char b[24];
                snprintf(b, sizeof b, "%016" PRIx64, m->rng.s[i]);
                cJSON_AddItemToArray(r, cJSON_CreateString(b));
            }
            cJSON_AddStringToObject(c, "optimizer", op ? op->type->name : "");
        }
        meta_k[nmeta] = KEY_CKPT;
        if (!(meta_v[nmeta++] = dc_mf_print_json(c))) s = DC_ERR_NOMEM;
        meta_k[nmeta] = KEY_HIST;
        if (!s) s = dc_mf_history_json(m->hist, &meta_v[nmeta++]);
    }
    if (!s) s = dc_st_write(path, e, n, DC_DTYPE_F32, nmeta, meta_k, (const char *const *)meta_v);
    for (int i = 0; i < nmeta; i++) cJSON_free(meta_v[i]);
    dc_free(e);
    dc_free(names);
    return s;
}

dc_status dc_model_save(const dc_model *m, const char *path) {
    dc_status s = dc_mf_check_built(m, path, "dc_model_save");
    return s ? s : save_file(m, path, true, false);
}

dc_status dc_model_save_weights(const dc_model *m, const char *path) {
    dc_status s = dc_mf_check_built(m, path, "dc_model_save_weights");
    return s ? s : save_file(m, path, false, false);
}

dc_status dc_model_save_checkpoint(const dc_model *m, const char *path) {
    dc_status s = dc_mf_check_built(m, path, "dc_model_save_checkpoint");
    if (s) return s;
    if (!m->compiled) return dc_error(DC_ERR_STATE, "dc_model_save_checkpoint: %s: the model is not compiled", path);
    return save_file(m, path, true, true);
}

/* ---------------------------------------------------------------------------------------- */
/* reading: validated JSON fields                                                           */
/* ---------------------------------------------------------------------------------------- */

/* The current message as a format error of the file: "<path>: <what>: <message>". */
static void refile(const dc_where *w) {
    char why[320];
    snprintf(why, sizeof why, "%s", dc_last_error());
    dc_error(DC_ERR_FORMAT, "%s: %s: %s", w->path, w->what, why);
}

/* A layer's option into its config (bounds checked); the type's check runs once all are read,
 * so the order of the keys in a file does not matter. */
static dc_status set_layer_field(void *ctx, const dc_field *f, const double *v, int n) {
    dc_layer *l = ctx;
    return dc_field_set(f, l->cfg, v, n, l->type->name);
}

/* A layer from its JSON object: its class from the registry, its options through the schema. */
static dc_layer *layer_from_json(const dc_where *w, const cJSON *o) {
    const char *cls = dc_json_str(w, o, "class", true);
    if (!cls) return NULL;
    const dc_layer_type *t = dc_layer_type_find(cls);
    if (!t) return dc_error_null(DC_ERR_FORMAT, "%s: %s: unknown layer class \"%.40s\"", w->path, w->what, cls);
    const char *name = dc_json_str(w, o, "name", true);
    dc_layer *l = name ? dc_layer_create(t) : NULL;
    if (!l) return NULL;
    static const char *const skip[] = {"class", "name", "inputs", NULL};
    const dc_field *tables[] = {t->fields};
    int counts[] = {t->nfields};
    dc_status s = dc_json_read_fields(w, o, tables, counts, 1, skip, set_layer_field, l);
    if (!s && ((s = dc_layer_check(l)) || (s = dc_layer_set_name(l, name)))) refile(w);
    if (s) {
        dc_layer_free(l);
        return NULL;
    }
    return l;
}

static dc_status set_opt_field(void *ctx, const dc_field *f, const double *v, int n) {
    dc_optimizer *op = ctx;
    const void *cfg;
    dc_optimizer_field(op, f->key, &cfg); /* the optimiser itself or its config */
    return dc_field_set(f, (void *)cfg, v, n, op->type->name);
}

static dc_optimizer *optimizer_from_json(const dc_where *w, const cJSON *o) {
    const char *cls = dc_json_str(w, o, "class", true);
    if (!cls) return NULL;
    const dc_optimizer_type *t = dc_optimizer_type_find(cls);
    if (!t) return dc_error_null(DC_ERR_FORMAT, "%s: %s: unknown optimizer \"%.40s\"", w->path, w->what, cls);
    double lr;
    if (dc_json_num(w, o, "lr", 1e-30, 1e6, 0, true, &lr)) return NULL;
    dc_optimizer *op = dc_optimizer_create(t, (float)lr);
    if (!op) return dc_error_prefix("%s: %s", w->path, w->what), NULL;
    static const char *const skip[] = {"class", NULL};
    const dc_field *tables[] = {dc_optimizer_common_fields, t->fields};
    int counts[] = {dc_optimizer_common_nfields, t->nfields};
    dc_status s = dc_json_read_fields(w, o, tables, counts, 2, skip, set_opt_field, op);
    if (!s && op->type->check && (s = op->type->check(op))) refile(w);
    if (s) {
        dc_optimizer_free(op);
        return NULL;
    }
    return op;
}

/* 1 to 16 hexadecimal digits, nothing else. */
bool dc_mf_parse_hex(const char *s, uint64_t *out) {
    size_t n = s ? strlen(s) : 0;
    if (n < 1 || n > 16 || strspn(s, "0123456789abcdefABCDEF") != n) return false;
    *out = strtoull(s, NULL, 16);
    return true;
}

dc_status dc_mf_parse_u64(const dc_where *w, const cJSON *o, const char *key, uint64_t *out) {
    const char *s = dc_json_str(w, o, key, true);
    if (!s) return DC_ERR_FORMAT;
    if (!dc_mf_parse_hex(s, out)) return dc_json_bad(w, key, "must be a hexadecimal 64-bit number");
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
dc_status dc_mf_match_tensor(const dc_safetensors *st, const char *name, int ndim, const int64_t *shape, const char *layer,
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

dc_status dc_mf_read_checked(const dc_safetensors *st, int i, const char *name, float *dst, int64_t n) {
    dc_status s = dc_st_read_f32(st, i, dst, n);
    if (s) return s;
    for (int64_t k = 0; k < n; k++)
        if (!isfinite(dst[k]))
            return dc_error(DC_ERR_NUMERIC, "%s: tensor \"%s\" holds %g at element %lld", dc_st_path(st), name, (double)dst[k],
                            (long long)k);
    return DC_OK;
}

/* The layer that owns parameter j (for messages). */
const char *dc_mf_owner(const dc_model *m, int j) {
    for (int i = 0, k = 0; i < m->nlayers; i++) {
        k += m->layers[i]->nparams;
        if (j < k) return m->layers[i]->name;
    }
    return "?";
}

static bool is_optimizer_tensor(const char *name) { return strncmp(name, "optimizer.", 10) == 0; }

/* Reads every parameter and state tensor of a built model into newly allocated copies of pbuf
 * and sbuf (so that an error leaves the model untouched). */
dc_status dc_mf_read_weights(const dc_model *m, const dc_safetensors *st, bool allow_extra, float **pbuf, float **sbuf) {
    *pbuf = dc_calloc((size_t)(m->ptotal ? m->ptotal : 1), sizeof(float));
    *sbuf = dc_calloc((size_t)(m->stotal ? m->stotal : 1), sizeof(float));
    if (!*pbuf || !*sbuf) return DC_ERR_NOMEM;
    for (int j = 0; j < m->np; j++) {
        const dc_tensor *t = m->ptens[j];
        int i;
        dc_status s = dc_mf_match_tensor(st, m->pnames[j], t->ndim, t->shape, dc_mf_owner(m, j), &i);
        float *dst = m->gtens[j] ? *pbuf + (t->data - m->pbuf) : *sbuf + (t->data - m->sbuf);
        if (s || (s = dc_mf_read_checked(st, i, m->pnames[j], dst, t->numel))) return s;
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
    dc_status s = dc_mf_check_built(m, path, "dc_model_load_weights");
    if (s) return s;
    dc_safetensors *st = dc_safetensors_open(path);
    if (!st) return dc_last_status();
    float *p = NULL, *sb = NULL;
    if (!(s = dc_mf_read_weights(m, st, allow_extra, &p, &sb))) {
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

cJSON *dc_mf_parse_meta(const dc_safetensors *st, const char *key, const char *what_for) {
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
        dc_status s = dc_mf_match_tensor(st, pname, l->decl[k].ndim, l->decl[k].shape, l->name, &idx);
        if (s) return s;
    }
    return DC_OK;
}

/* Whether a layer's "class" names a type that feeds data into the model (an input). */
static bool is_input_class(const cJSON *cls) {
    const dc_layer_type *t = cJSON_IsString(cls) ? dc_layer_type_find(cls->valuestring) : NULL;
    return t && (t->flags & DC_LAYER_INPUT);
}

/* A graph model: InputLayers become the inputs in file order; every other layer names the
 * layers feeding it, which must come before it. */
static dc_status add_graph_layers(dc_model *m, const cJSON *layers, int n, const dc_safetensors *st, dc_where *w) {
    for (int i = 0; i < n; i++) {
        const cJSON *lo = cJSON_GetArrayItem(layers, i);
        snprintf(w->what, sizeof w->what, "layer %d", i);
        if (!cJSON_IsObject(lo)) return dc_json_bad(w, "layers", "entries must be objects");
        const cJSON *ins = cJSON_GetObjectItemCaseSensitive(lo, "inputs");
        const cJSON *cls = cJSON_GetObjectItemCaseSensitive(lo, "class");
        bool is_input = is_input_class(cls);
        int nin = ins ? (cJSON_IsArray(ins) ? cJSON_GetArraySize(ins) : -1) : 0;
        if (is_input ? nin != 0 : (nin < 1 || nin > DC_LAYER_MAX_INPUTS))
            return dc_json_bad(w, "inputs", is_input ? "is not allowed on an InputLayer" : "must list 1 to 4 layer names");
        int idx[DC_LAYER_MAX_INPUTS];
        for (int k = 0; k < nin; k++) {
            const cJSON *nm = cJSON_GetArrayItem(ins, k);
            if (!cJSON_IsString(nm)) return dc_json_bad(w, "inputs", "must list layer names");
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
    if (m->ninputs == 0) return dc_json_bad(w, "layers", "must start with an InputLayer");
    return DC_OK;
}

/* Adds the layers of the architecture to m and checks every declared parameter against the
 * file before anything is allocated for it. */
static dc_status add_layers(dc_model *m, const cJSON *arch, const dc_safetensors *st) {
    dc_where w = {dc_st_path(st), "model"};
    const char *fmt = dc_json_str(&w, arch, "format", true);
    int64_t ver;
    if (!fmt) return DC_ERR_FORMAT;
    if (strcmp(fmt, ARCH_FORMAT) != 0) return dc_json_bad(&w, "format", "must be \"" ARCH_FORMAT "\"");
    if (dc_json_int(&w, arch, "version", 1, 1000, 0, true, &ver)) return DC_ERR_FORMAT;
    if (ver > ARCH_VERSION)
        return dc_error(DC_ERR_FORMAT, "%s: model format version %lld is newer than this deepc reads (%d)", w.path, (long long)ver,
                        ARCH_VERSION);
    uint64_t seed = 42;
    if (cJSON_GetObjectItemCaseSensitive(arch, "seed") && dc_mf_parse_u64(&w, arch, "seed", &seed)) return DC_ERR_FORMAT;
    m->seed = seed;
    const cJSON *layers = cJSON_GetObjectItemCaseSensitive(arch, "layers");
    int n = cJSON_IsArray(layers) ? cJSON_GetArraySize(layers) : -1;
    if (n < 1 || n > 100000) return dc_json_bad(&w, "layers", "must be an array of 1 to 100000 layers");
    bool graph = false;
    if (dc_json_bool(&w, arch, "graph", false, &graph)) return DC_ERR_FORMAT;
    if (graph) return add_graph_layers(m, layers, n, st, &w);
    const cJSON *first = cJSON_GetArrayItem(layers, 0);
    const cJSON *cls = cJSON_IsObject(first) ? cJSON_GetObjectItemCaseSensitive(first, "class") : NULL;
    if (!is_input_class(cls)) {
        int64_t shape[DC_MAX_DIMS];
        int nd = dc_json_ints(&w, arch, "input_shape", -(DC_MAX_DIMS - 1), 1, INT64_C(1) << 40, shape);
        dc_status s = nd < 0 ? DC_ERR_FORMAT : dc_model_add(m, dc_input(nd, shape));
        if (s) return s;
    }
    for (int i = 0; i < n; i++) {
        const cJSON *lo = cJSON_GetArrayItem(layers, i);
        snprintf(w.what, sizeof w.what, "layer %d", i);
        if (!cJSON_IsObject(lo)) return dc_json_bad(&w, "layers", "entries must be objects");
        dc_layer *l = layer_from_json(&w, lo);
        if (!l) return dc_last_status() ? dc_last_status() : DC_ERR_FORMAT;
        dc_status s = dc_model_add(m, l);
        if (s) return dc_error_prefix("%s: %s", w.path, w.what), s;
        if ((s = match_params(l, st))) return s;
    }
    return DC_OK;
}

static dc_status compile_from_json(dc_model *m, const cJSON *c, const char *path) {
    dc_where w = {path, "compile"};
    const char *loss = dc_json_str(&w, c, "loss", true);
    if (!loss) return DC_ERR_FORMAT;
    if (strcmp(loss, "custom") == 0) return DC_OK; /* a user's loss function: the caller compiles again */
    int li = 0;
    while (li < DC_LOSS_COUNT && strcmp(loss, dc_loss_name((dc_loss)li)) != 0) li++;
    if (li == DC_LOSS_COUNT) return dc_json_bad(&w, "loss", "names an unknown loss");
    dc_metric met[DC_MAX_METRICS];
    const cJSON *ma = cJSON_GetObjectItemCaseSensitive(c, "metrics");
    int nm = ma ? (cJSON_IsArray(ma) ? cJSON_GetArraySize(ma) : -1) : 0;
    if (nm < 0 || nm > DC_MAX_METRICS) return dc_json_bad(&w, "metrics", "must be an array of at most 8 metric names");
    for (int i = 0; i < nm; i++) {
        const cJSON *v = cJSON_GetArrayItem(ma, i);
        int k = 0;
        while (cJSON_IsString(v) && k < DC_METRIC_COUNT && strcmp(v->valuestring, dc_metric_name((dc_metric)k)) != 0) k++;
        if (!cJSON_IsString(v) || k == DC_METRIC_COUNT) return dc_json_bad(&w, "metrics", "names an unknown metric");
        met[i] = (dc_metric)k;
    }
    const cJSON *oj = cJSON_GetObjectItemCaseSensitive(c, "optimizer");
    if (!cJSON_IsObject(oj)) return dc_json_bad(&w, "optimizer", "must be an object");
    snprintf(w.what, sizeof w.what, "compile.optimizer");
    dc_optimizer *op = optimizer_from_json(&w, oj);
    if (!op) return dc_last_status() ? dc_last_status() : DC_ERR_FORMAT;
    return dc_model_compile(m, op, (dc_loss)li, met, nm);
}

dc_model *dc_model_load(const char *path) {
    if (!path || !*path) return dc_error_null(DC_ERR_ARG, "dc_model_load: path is NULL or empty");
    dc_safetensors *st = dc_safetensors_open(path);
    if (!st) return NULL;
    cJSON *arch = dc_mf_parse_meta(st, KEY_MODEL,
                             "this is a weights file, not a deepc model (build the model in code and use dc_model_load_weights)");
    dc_model *m = arch ? dc_sequential() : NULL;
    dc_status s = arch ? (m ? add_layers(m, arch, st) : DC_ERR_NOMEM) : DC_ERR_FORMAT;
    if (!s) s = dc_model_build(m, 0, NULL);
    if (!s) {
        for (int j = 0; !s && j < m->np; j++) {
            int i = dc_safetensors_find(st, m->pnames[j]);
            s = dc_mf_read_checked(st, i, m->pnames[j], m->ptens[j]->data, m->ptens[j]->numel);
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

