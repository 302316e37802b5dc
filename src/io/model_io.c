/* Reading model files and weights (model_save.c writes them): the architecture rebuilt through
 * the layer registry and each layer's and optimiser's schema, the weights checked against the
 * declared parameters. Every read value is validated before the model is touched. */
#include "../model/objective.h"
#include "model_file.h"

#include <cjson/cJSON.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------------------------------- */
/* reading: the architecture                                                                */
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

static dc_layer *layer_from_json(const dc_where *w, const cJSON *o, bool named);

/* A wrapper's layer, nested under "layer": its class and its options, and no name, inputs or
 * trainable of its own (the wrapper's are its). */
static dc_status inner_from_json(const dc_where *w, const cJSON *o, dc_layer *l) {
    const cJSON *io = cJSON_GetObjectItemCaseSensitive(o, "layer");
    if (!cJSON_IsObject(io)) return dc_json_bad(w, "layer", io ? "must be an object: the layer it wraps" : "is missing: the layer it wraps");
    dc_where wi = *w;
    snprintf(wi.what, sizeof wi.what, "%.80s.layer", w->what);
    static const char *const own[] = {"name", "inputs", "trainable"};
    for (size_t i = 0; i < DC_ARRAY_LEN(own); i++)
        if (cJSON_GetObjectItemCaseSensitive(io, own[i])) return dc_json_bad(&wi, own[i], "is not allowed in a wrapped layer (the wrapper's holds)");
    dc_layer *in = layer_from_json(&wi, io, false);
    if (!in) return dc_last_status() ? dc_last_status() : DC_ERR_FORMAT;
    dc_status s = dc_layer_wrap(l, in);
    if (s) refile(w);
    return s;
}

/* A layer from its JSON object: its class from the registry, its options through the schema,
 * and a wrapper's layer nested under "layer". */
static dc_layer *layer_from_json(const dc_where *w, const cJSON *o, bool named) {
    const char *cls = dc_json_str(w, o, "class", true);
    if (!cls) return NULL;
    const dc_layer_type *t = dc_layer_type_find(cls);
    if (!t) {
        char known[1024];
        dc_layer_type_list(known, sizeof known);
        return dc_error_null(DC_ERR_FORMAT, "%s: %s: unknown layer class \"%.40s\" (known: %s)", w->path, w->what, cls, known);
    }
    /* a model file names every layer; a configuration may leave names to the model */
    const char *name = named || cJSON_GetObjectItemCaseSensitive(o, "name") ? dc_json_str(w, o, "name", true) : "";
    dc_layer *l = name ? dc_layer_create(t) : NULL;
    if (!l) return NULL;
    static const char *const skip[] = {"class", "name", "inputs", "trainable", NULL};
    static const char *const skip_wrapper[] = {"class", "name", "inputs", "trainable", "layer", NULL};
    bool wrapper = (t->flags & DC_LAYER_WRAPPER) != 0;
    const dc_field *tables[] = {t->fields};
    int counts[] = {t->nfields};
    bool trainable = true;
    dc_status s = dc_json_read_fields(w, o, tables, counts, 1, wrapper ? skip_wrapper : skip, set_layer_field, l);
    if (!s && wrapper) s = inner_from_json(w, o, l);
    if (!s && !(s = dc_json_bool(w, o, "trainable", true, &trainable))) s = dc_layer_set_trainable(l, trainable);
    if (!s && ((s = dc_layer_check(l)) || (*name && (s = dc_layer_set_name(l, name))))) refile(w);
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

static dc_status set_sched_field(void *ctx, const dc_field *f, const double *v, int n) {
    dc_schedule *sch = ctx;
    return dc_field_set(f, sch->cfg, v, n, sch->type->name);
}

/* The optimiser's learning-rate schedule: its class from the registry, its options by schema. */
static dc_status schedule_from_json(const dc_where *w0, const cJSON *o, dc_optimizer *op) {
    dc_where w = *w0;
    snprintf(w.what, sizeof w.what, "%.80s.schedule", w0->what);
    if (!cJSON_IsObject(o)) return dc_json_bad(w0, "schedule", "must be an object");
    const char *cls = dc_json_str(&w, o, "class", true);
    if (!cls) return DC_ERR_FORMAT;
    const dc_schedule_type *t = dc_schedule_type_find(cls);
    if (!t) return dc_error(DC_ERR_FORMAT, "%s: %s: unknown schedule \"%.40s\"", w.path, w.what, cls);
    dc_schedule *sch = dc_schedule_create(t);
    if (!sch) return dc_last_status() ? dc_last_status() : DC_ERR_NOMEM;
    static const char *const skip[] = {"class", NULL};
    const dc_field *tables[] = {t->fields};
    int counts[] = {t->nfields};
    dc_status s = dc_json_read_fields(&w, o, tables, counts, 1, skip, set_sched_field, sch);
    if (!s && t->check && (s = t->check(sch))) refile(&w);
    if (!s && (s = dc_optimizer_set_schedule(op, sch))) refile(&w);
    if (s) dc_schedule_free(sch);
    return s;
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
    static const char *const skip[] = {"class", "schedule", NULL};
    const dc_field *tables[] = {dc_optimizer_common_fields, t->fields};
    int counts[] = {dc_optimizer_common_nfields, t->nfields};
    dc_status s = dc_json_read_fields(w, o, tables, counts, 2, skip, set_opt_field, op);
    if (!s && op->type->check && (s = op->type->check(op))) refile(w);
    const cJSON *so = cJSON_GetObjectItemCaseSensitive(o, "schedule");
    if (!s && so) s = schedule_from_json(w, so, op);
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

dc_status dc_mf_read_checked(const dc_safetensors *st, int i, const char *name, float *dst, int64_t n, float min) {
    dc_status s = dc_st_read_f32(st, i, dst, n);
    if (s) return s;
    for (int64_t k = 0; k < n; k++) {
        if (!isfinite(dst[k]))
            return dc_error(DC_ERR_NUMERIC, "%s: tensor \"%s\" holds %g at element %lld", dc_st_path(st), name, (double)dst[k],
                            (long long)k);
        if (dst[k] < min)
            return dc_error(DC_ERR_NUMERIC, "%s: tensor \"%s\" holds %g at element %lld; its values must be >= %g", dc_st_path(st),
                            name, (double)dst[k], (long long)k, (double)min);
    }
    return DC_OK;
}

static bool is_optimizer_tensor(const char *name) { return strncmp(name, "optimizer.", 10) == 0; }

dc_status dc_mf_check_extra(const dc_model *m, const dc_safetensors *st, const char *hint) {
    int n = dc_safetensors_count(st), nopt = 0;
    bool *seen = dc_calloc((size_t)(n ? n : 1), sizeof *seen);
    if (!seen) return DC_ERR_NOMEM;
    for (int i = 0; i < n; i++) nopt += is_optimizer_tensor(dc_safetensors_name(st, i));
    for (int j = 0; j < m->np; j++) {
        int i = dc_safetensors_find(st, m->pnames[j]);
        if (i >= 0) seen[i] = true;
        for (int k = 1; nopt && m->gtens[j] && k <= DC_OPT_MAX_STATE; k++) {
            char name[128];
            snprintf(name, sizeof name, "optimizer.state%d.%s", k, m->pnames[j]);
            if ((i = dc_safetensors_find(st, name)) >= 0) seen[i] = true;
        }
    }
    dc_status s = DC_OK;
    for (int i = 0; !s && i < n; i++)
        if (!seen[i])
            s = dc_error(DC_ERR_FORMAT, "%s: tensor \"%s\" matches no parameter of the model%s", dc_st_path(st),
                         dc_safetensors_name(st, i), hint);
    dc_free(seen);
    return s;
}

dc_status dc_mf_read_weights(const dc_model *m, const dc_safetensors *st, const char *extra, float **pbuf, float **sbuf) {
    *pbuf = dc_calloc((size_t)(m->ptotal ? m->ptotal : 1), sizeof(float));
    *sbuf = dc_calloc((size_t)(m->stotal ? m->stotal : 1), sizeof(float));
    if (!*pbuf || !*sbuf) return DC_ERR_NOMEM;
    for (int li = 0, j = 0; li < m->nlayers; li++) {
        const dc_layer *l = m->layers[li];
        for (int k = 0; k < l->nparams; k++, j++) {
            const dc_tensor *t = m->ptens[j];
            int i;
            dc_status s = dc_mf_match_tensor(st, m->pnames[j], t->ndim, t->shape, l->name, &i);
            float *dst = m->gtens[j] ? *pbuf + (t->data - m->pbuf) : *sbuf + (t->data - m->sbuf);
            if (s || (s = dc_mf_read_checked(st, i, m->pnames[j], dst, t->numel, l->decl[k].min))) return s;
        }
    }
    return extra ? dc_mf_check_extra(m, st, extra) : DC_OK;
}

dc_status dc_model_load_weights(dc_model *m, const char *path, bool allow_extra) {
    dc_status s = dc_mf_check_built(m, path, "dc_model_load_weights");
    if (s) return s;
    dc_safetensors *st = dc_safetensors_open(path);
    if (!st) return dc_last_status();
    float *p = NULL, *sb = NULL;
    if (!(s = dc_mf_read_weights(m, st, allow_extra ? NULL : " (pass allow_extra to ignore it)", &p, &sb))) {
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
    /* deepc's own texts nest 4 levels; deeper ones are refused here, whatever nesting the cJSON
     * library allows, before its recursive parser sees them */
    if (dc_json_depth(txt) > MF_MAX_DEPTH) {
        dc_error(DC_ERR_FORMAT, "%s: metadata \"%s\" is nested deeper than %d levels of arrays and objects", dc_st_path(st), key,
                 MF_MAX_DEPTH);
        return NULL;
    }
    size_t len = strlen(txt);
    const char *end = NULL;
    cJSON *j = cJSON_ParseWithLengthOpts(txt, len, &end, false);
    if (!cJSON_IsObject(j)) {
        size_t at = !j && end ? (size_t)(end - txt) : 0;
        cJSON_Delete(j);
        if (at)
            dc_error(DC_ERR_FORMAT, "%s: metadata \"%s\" is not a JSON object (invalid JSON near byte %zu of %zu)", dc_st_path(st),
                     key, at, len);
        else
            dc_error(DC_ERR_FORMAT, "%s: metadata \"%s\" is not a JSON object", dc_st_path(st), key);
        return NULL;
    }
    return j;
}

/* Every parameter of l must match a tensor the file holds, so what build allocates is bounded
 * by the file's size. */
static dc_status match_params(const dc_layer *l, const dc_safetensors *st) {
    if (!st) return DC_OK; /* a configuration: the weights are new */
    for (int k = 0; k < l->nparams; k++) {
        char pname[96];
        int idx;
        snprintf(pname, sizeof pname, "%s.%s", l->name, l->decl[k].name);
        dc_status s = dc_mf_match_tensor(st, pname, l->decl[k].ndim, l->decl[k].shape, l->name, &idx);
        if (s) return s;
    }
    return DC_OK;
}

/* "layer 3 (Conv2D)": where a message about layer i points. */
static void layer_label(dc_where *w, const cJSON *lo, int i) {
    const cJSON *cls = cJSON_IsObject(lo) ? cJSON_GetObjectItemCaseSensitive(lo, "class") : NULL;
    if (cJSON_IsString(cls)) snprintf(w->what, sizeof w->what, "layer %d (%.40s)", i, cls->valuestring);
    else snprintf(w->what, sizeof w->what, "layer %d", i);
}

/* Whether a layer's "class" names a type that feeds data into the model (an input). */
static bool is_input_class(const cJSON *cls) {
    const dc_layer_type *t = cJSON_IsString(cls) ? dc_layer_type_find(cls->valuestring) : NULL;
    return t && (t->flags & DC_LAYER_INPUT);
}

/* An entry of a layer's "inputs": a layer before it by name (its output 0), or "name:k", output k
 * of that layer (a recurrent layer's states with return_state), Keras's tensor names. A layer
 * whose own name is the whole string wins. Returns the node, or the handle dc_model_output_of
 * gives for output k; -1 with the error set. */
static int input_ref(dc_model *m, const char *ref, const dc_where *w) {
    int node = dc_model_find_layer(m, ref);
    if (node >= 0) return node;
    const char *colon = strrchr(ref, ':');
    size_t nl = colon ? (size_t)(colon - ref) : 0, nd = colon ? strlen(colon + 1) : 0;
    bool digits = nd >= 1 && nd <= 3;
    for (size_t i = 0; digits && i < nd; i++) digits = colon[1 + i] >= '0' && colon[1 + i] <= '9';
    char name[64];
    if (digits && nl > 0 && nl < sizeof name) {
        memcpy(name, ref, nl);
        name[nl] = 0;
        node = dc_model_find_layer(m, name);
    }
    if (node < 0)
        return dc_error(DC_ERR_FORMAT, "%s: %s: input \"%.60s\" is not a layer before it (\"name\" or \"name:k\", output k of it)",
                        w->path, w->what, ref),
               -1;
    int h = dc_model_output_of(m, node, atoi(colon + 1));
    if (h < 0) {
        int n = dc_model_num_outputs(m, node);
        return dc_error(DC_ERR_FORMAT, "%s: %s: input \"%.60s\": layer %s has %d output%s (0..%d)", w->path, w->what, ref, name, n,
                        n == 1 ? "" : "s", n - 1),
               -1;
    }
    return h;
}

/* A graph model: InputLayers become the inputs in file order; every other layer names the
 * layers feeding it ("name" or "name:k"), which must come before it. */
static dc_status add_graph_layers(dc_model *m, const cJSON *layers, const dc_safetensors *st, dc_where *w) {
    bool named = st != NULL;
    int i = 0;
    for (const cJSON *lo = layers->child; lo; lo = lo->next, i++) {
        layer_label(w, lo, i);
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
            if ((idx[k] = input_ref(m, nm->valuestring, w)) < 0) return DC_ERR_FORMAT;
        }
        dc_layer *l = layer_from_json(w, lo, named);
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
 * file st before anything is allocated for it. With st NULL the text is a configuration
 * (dc_model_from_json): names, "format" and "version" may be left out; path names it. */
static dc_status add_layers(dc_model *m, const cJSON *arch, const dc_safetensors *st, const char *path) {
    dc_where w = {path, "model"};
    bool file = st != NULL;
    const char *fmt = file || cJSON_GetObjectItemCaseSensitive(arch, "format") ? dc_json_str(&w, arch, "format", true) : ARCH_FORMAT;
    int64_t ver;
    if (!fmt) return DC_ERR_FORMAT;
    if (strcmp(fmt, ARCH_FORMAT) != 0) return dc_json_bad(&w, "format", "must be \"" ARCH_FORMAT "\"");
    if (dc_json_int(&w, arch, "version", 1, 1000, ARCH_VERSION, file, &ver)) return DC_ERR_FORMAT;
    if (ver > ARCH_VERSION)
        return dc_error(DC_ERR_FORMAT, "%s: model format version %lld is newer than this deepc reads (%d)", w.path, (long long)ver,
                        ARCH_VERSION);
    uint64_t seed = 42;
    const cJSON *sj = cJSON_GetObjectItemCaseSensitive(arch, "seed");
    if (!file && cJSON_IsNumber(sj)) { /* a configuration may write the seed as a plain number */
        int64_t v;
        if (dc_json_int(&w, arch, "seed", 0, INT64_C(1) << 53, 42, true, &v)) return DC_ERR_FORMAT;
        seed = (uint64_t)v;
    } else if (sj && dc_mf_parse_u64(&w, arch, "seed", &seed)) {
        return DC_ERR_FORMAT;
    }
    m->seed = seed;
    const cJSON *layers = cJSON_GetObjectItemCaseSensitive(arch, "layers");
    int n = cJSON_IsArray(layers) ? cJSON_GetArraySize(layers) : -1;
    if (n > DC_MODEL_MAX_LAYERS)
        return dc_error(DC_ERR_FORMAT, "%s: model: \"layers\" holds %d layers; a model holds at most %d", w.path, n, DC_MODEL_MAX_LAYERS);
    if (n < 1) return dc_json_bad(&w, "layers", "must be an array of 1 or more layers");
    bool graph = false;
    if (dc_json_bool(&w, arch, "graph", false, &graph)) return DC_ERR_FORMAT;
    if (graph) return add_graph_layers(m, layers, st, &w);
    const cJSON *first = layers->child;
    const cJSON *cls = cJSON_IsObject(first) ? cJSON_GetObjectItemCaseSensitive(first, "class") : NULL;
    if (!is_input_class(cls)) {
        int64_t shape[DC_MAX_DIMS];
        int nd = dc_json_ints(&w, arch, "input_shape", -(DC_MAX_DIMS - 1), 1, INT64_C(1) << 40, shape);
        dc_status s = nd < 0 ? DC_ERR_FORMAT : dc_model_add(m, dc_input(nd, shape));
        if (s) return s;
    }
    int i = 0;
    for (const cJSON *lo = layers->child; lo; lo = lo->next, i++) { /* a list: walked, not indexed */
        layer_label(&w, lo, i);
        if (!cJSON_IsObject(lo)) return dc_json_bad(&w, "layers", "entries must be objects");
        dc_layer *l = layer_from_json(&w, lo, file);
        if (!l) return dc_last_status() ? dc_last_status() : DC_ERR_FORMAT;
        dc_status s = dc_model_add(m, l);
        if (s) return dc_error_prefix("%s: %s", w.path, w.what), s;
        if ((s = match_params(l, st))) return s;
    }
    return DC_OK;
}

static dc_status set_loss_field(void *ctx, const dc_field *f, const double *v, int n) {
    return dc_field_set(f, ctx, v, n, "loss_options");
}

static dc_status compile_from_json(dc_model *m, const cJSON *c, const char *path) {
    dc_where w = {path, "compile"};
    const char *loss = dc_json_str(&w, c, "loss", true);
    if (!loss) return DC_ERR_FORMAT;
    if (strcmp(loss, "custom") == 0) return DC_OK; /* a user's loss function: the caller compiles again */
    int li = 0;
    while (li < DC_LOSS_COUNT && strcmp(loss, dc_loss_name((dc_loss)li)) != 0) li++;
    if (li == DC_LOSS_COUNT) {
        char b[640];
        size_t o = (size_t)snprintf(b, sizeof b, "names an unknown loss \"%.40s\"; one of", loss);
        for (int k = 0; k < DC_LOSS_COUNT && o < sizeof b; k++) o += (size_t)snprintf(b + o, sizeof b - o, "%s %s", k ? "," : "", dc_loss_name((dc_loss)k));
        return dc_json_bad(&w, "loss", b);
    }
    dc_metric met[DC_MAX_METRICS];
    const cJSON *ma = cJSON_GetObjectItemCaseSensitive(c, "metrics");
    int nm = ma ? (cJSON_IsArray(ma) ? cJSON_GetArraySize(ma) : -1) : 0;
    if (nm < 0 || nm > DC_MAX_METRICS) return dc_json_bad(&w, "metrics", "must be an array of at most 8 metric names");
    for (int i = 0; i < nm; i++) {
        const cJSON *v = cJSON_GetArrayItem(ma, i);
        int k = 0;
        while (cJSON_IsString(v) && k < DC_METRIC_COUNT && strcmp(v->valuestring, dc_metric_name((dc_metric)k)) != 0) k++;
        if (!cJSON_IsString(v) || k == DC_METRIC_COUNT) return dc_json_bad(&w, "metrics", "names an unknown metric (accuracy, mae, mse)");
        met[i] = (dc_metric)k;
    }
    const cJSON *oj = cJSON_GetObjectItemCaseSensitive(c, "optimizer");
    if (!cJSON_IsObject(oj)) return dc_json_bad(&w, "optimizer", "must be an object");
    snprintf(w.what, sizeof w.what, "compile.optimizer");
    dc_optimizer *op = optimizer_from_json(&w, oj);
    if (!op) return dc_last_status() ? dc_last_status() : DC_ERR_FORMAT;
    dc_loss_opts lo = dc_loss_opts_default();
    const cJSON *lj = cJSON_GetObjectItemCaseSensitive(c, "loss_options");
    snprintf(w.what, sizeof w.what, "compile.loss_options");
    dc_status s = DC_OK;
    if (lj && !cJSON_IsObject(lj)) s = dc_json_bad(&w, "loss_options", "must be an object");
    else if (lj) s = dc_json_read_fields(&w, lj, (const dc_field *const[]){dc_loss_opts_fields}, &dc_loss_opts_nfields, 1, NULL, set_loss_field, &lo);
    if (s) {
        dc_optimizer_free(op);
        return s;
    }
    if ((s = dc_model_set_loss_options(m, &lo))) return s;
    return dc_model_compile(m, op, (dc_loss)li, met, nm);
}

dc_model *dc_model_load(const char *path) {
    if (!path || !*path) return dc_error_null(DC_ERR_ARG, "dc_model_load: path is NULL or empty");
    dc_safetensors *st = dc_safetensors_open(path);
    if (!st) return NULL;
    cJSON *arch = dc_mf_parse_meta(st, KEY_MODEL,
                             "this is a weights file, not a deepc model (build the model in code and use dc_model_load_weights)");
    dc_model *m = arch ? dc_sequential() : NULL;
    dc_status s = arch ? (m ? add_layers(m, arch, st, dc_st_path(st)) : DC_ERR_NOMEM) : DC_ERR_FORMAT;
    if (!s) s = dc_model_build(m, 0, NULL);
    for (int li = 0, j = 0; !s && li < m->nlayers; li++) { /* every declared tensor is there (match_params) */
        const dc_layer *l = m->layers[li];
        for (int k = 0; !s && k < l->nparams; k++, j++) {
            int i = dc_safetensors_find(st, m->pnames[j]);
            s = dc_mf_read_checked(st, i, m->pnames[j], m->ptens[j]->data, m->ptens[j]->numel, l->decl[k].min);
        }
    }
    if (!s) s = dc_mf_check_extra(m, st, " (the architecture declares no such tensor)");
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

dc_model *dc_model_from_json(const char *json, const char *origin) {
    if (!json) return dc_error_null(DC_ERR_ARG, "dc_model_from_json: json is NULL");
    const char *path = origin && *origin ? origin : "model JSON";
    if (dc_json_depth(json) > MF_MAX_DEPTH)
        return dc_error_null(DC_ERR_FORMAT, "%s: nested deeper than %d levels of arrays and objects", path, MF_MAX_DEPTH);
    size_t len = strlen(json);
    const char *end = NULL;
    cJSON *arch = cJSON_ParseWithLengthOpts(json, len, &end, false);
    if (!cJSON_IsObject(arch)) {
        cJSON_Delete(arch);
        return dc_error_null(DC_ERR_FORMAT, "%s: not a JSON object (invalid JSON near byte %zu of %zu)", path,
                             end ? (size_t)(end - json) : (size_t)0, len);
    }
    dc_model *m = dc_sequential();
    dc_status s = m ? add_layers(m, arch, NULL, path) : DC_ERR_NOMEM;
    static const char *const keys[] = {"format", "version", "input_shape", "seed", "layers", "graph", "compile", NULL};
    for (const cJSON *it = arch->child; !s && it; it = it->next) {
        int k = 0;
        while (keys[k] && strcmp(keys[k], it->string) != 0) k++;
        if (!keys[k])
            s = dc_error(DC_ERR_FORMAT, "%s: unknown key \"%.60s\" (keys: input_shape, layers, graph, seed, compile, format, version)",
                         path, it->string);
    }
    if (!s) s = dc_model_build(m, 0, NULL);
    const cJSON *c = cJSON_GetObjectItemCaseSensitive(arch, "compile");
    if (!s && c) s = cJSON_IsObject(c) ? compile_from_json(m, c, path) : dc_error(DC_ERR_FORMAT, "%s: \"compile\" must be an object", path);
    cJSON_Delete(arch);
    if (s) {
        dc_model_free(m);
        return NULL;
    }
    return m;
}

/* ---------------------------------------------------------------------------------------- */
/* checkpoints                                                                              */
/* ---------------------------------------------------------------------------------------- */

