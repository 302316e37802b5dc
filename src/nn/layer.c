/* What every layer type shares: creation from a type record, the checked setters over its field
 * schema, parameter declarations, names and shapes. */
#include "nn_registry.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

int dc_layer_type_count(void) { return dc_nn_registry_count; }
const dc_layer_type *dc_layer_type_at(int i) { return i >= 0 && i < dc_nn_registry_count ? dc_nn_registry[i] : NULL; }
const dc_layer_type *dc_layer_type_find(const char *name) {
    for (int i = 0; name && i < dc_nn_registry_count; i++)
        if (strcmp(dc_nn_registry[i]->name, name) == 0) return dc_nn_registry[i];
    return NULL;
}

void dc_layer_type_list(char *buf, size_t size) {
    size_t o = 0;
    if (size) buf[0] = 0;
    for (int i = 0; i < dc_nn_registry_count && o < size; i++) {
        int k = snprintf(buf + o, size - o, "%s%s", i ? ", " : "", dc_nn_registry[i]->name);
        if (k < 0) break;
        o += (size_t)k;
    }
}

dc_layer *dc_layer_create(const dc_layer_type *t) {
    if (!t) return dc_error_null(DC_ERR_ARG, "dc_layer_create: type is NULL");
    dc_layer *l = dc_calloc(1, sizeof *l + t->cfg_size);
    if (!l) return NULL;
    l->type = t;
    dc_field_defaults(t->fields, t->nfields, l->cfg);
    return l;
}

static const char *who(const dc_layer *l, char *buf, size_t size);

void dc_layer_free(dc_layer *l) {
    if (!l) return;
    dc_layer_free(l->inner);
    dc_layer_free(l->twin);
    dc_free(l);
}

dc_layer *dc_layer_copy(const dc_layer *l) {
    if (!l) return dc_error_null(DC_ERR_ARG, "dc_layer_copy: layer is NULL");
    dc_layer *c = dc_layer_create(l->type);
    if (!c) return NULL;
    memcpy(c->cfg, l->cfg, l->type->cfg_size);
    c->frozen = l->frozen;
    if (l->inner && !(c->inner = dc_layer_copy(l->inner))) {
        dc_layer_free(c);
        return NULL;
    }
    return c;
}

dc_layer *dc_layer_example(const dc_layer_type *t) {
    dc_layer *l = dc_layer_create(t);
    if (!l || !(t->flags & DC_LAYER_WRAPPER)) return l;
    const dc_layer_type *it = dc_layer_type_find(t->example_inner);
    dc_layer *inner = it ? dc_layer_create(it) : NULL;
    if (!it) dc_error(DC_ERR_STATE, "%s: its example layer class \"%s\" is not registered", t->name, t->example_inner ? t->example_inner : "");
    if (!inner || dc_layer_wrap(l, inner)) {
        dc_layer_free(l);
        return NULL;
    }
    return l;
}

dc_status dc_layer_wrap(dc_layer *l, dc_layer *inner) {
    dc_status s = DC_OK;
    char w[96];
    if (!l || !inner) s = dc_error(DC_ERR_ARG, "dc_layer_wrap: layer or inner layer is NULL");
    else if (!(l->type->flags & DC_LAYER_WRAPPER)) s = dc_error(DC_ERR_ARG, "%s: %s wraps no other layer", who(l, w, sizeof w), l->type->name);
    else if (l->built) s = dc_error(DC_ERR_STATE, "%s: is built; its layer cannot change", who(l, w, sizeof w));
    else if (inner->built)
        s = dc_error(DC_ERR_ARG, "%s: cannot wrap %s, which is built (in a model): give it a new layer", who(l, w, sizeof w), inner->name);
    if (s) {
        dc_layer_free(inner);
        return s;
    }
    dc_layer *had = l->inner;
    l->inner = inner;
    if ((s = dc_layer_check(l))) {
        l->inner = had;
        dc_layer_free(inner);
        return s;
    }
    dc_layer_free(had);
    return DC_OK;
}
const char *dc_layer_name(const dc_layer *l) { return l ? l->name : ""; }
const char *dc_layer_type_name(const dc_layer *l) { return l ? l->type->name : ""; }

/* The flag the executor and the training step read, and the parameters' requires_grad, so that
 * backward writes no gradient for them (the model's step skips their segments in the update). */
dc_status dc_layer_set_trainable(dc_layer *l, bool trainable) {
    if (!l) return dc_error(DC_ERR_ARG, "dc_layer_set_trainable: layer is NULL");
    l->frozen = !trainable;
    for (int k = 0; k < l->nparams; k++)
        if (l->param[k] && l->decl[k].trainable) l->param[k]->requires_grad = trainable;
    return DC_OK;
}

bool dc_layer_trainable(const dc_layer *l) { return l && !l->frozen; }

int dc_layer_output_shape(const dc_layer *l, int64_t *shape) {
    if (!l || !shape) return 0;
    memcpy(shape, l->out_shape, (size_t)l->out_ndim * sizeof *shape);
    return l->out_ndim;
}

/* "dense_2 (Dense)" or, before the model names it, "Dense". */
static const char *who(const dc_layer *l, char *buf, size_t size) {
    if (l->name[0]) snprintf(buf, size, "%s (%s)", l->name, l->type->name);
    else snprintf(buf, size, "%s", l->type->name);
    return buf;
}

dc_status dc_layer_check(const dc_layer *l) {
    if (!l) return dc_error(DC_ERR_ARG, "dc_layer_check: layer is NULL");
    return l->type->check ? l->type->check(l) : DC_OK;
}

dc_status dc_layer_set_field(dc_layer *l, const char *key, const double *v, int n) {
    if (!l || !key) return dc_error(DC_ERR_ARG, "dc_layer_set: layer or key is NULL");
    char w[96];
    const dc_field *f = dc_field_find(l->type->fields, l->type->nfields, key);
    if (!f) return dc_error(DC_ERR_ARG, "%s: %s has no option \"%s\"", who(l, w, sizeof w), l->type->name, key);
    if (l->built && !(f->flags & DC_FIELD_RUNTIME))
        return dc_error(DC_ERR_STATE, "%s: \"%s\" cannot change once the layer is built (its shapes depend on it)", who(l, w, sizeof w),
                        key);
    /* written into a copy first: a value the type's check refuses leaves the layer as it was */
    unsigned char saved[512];
    size_t size = l->type->cfg_size;
    bool keep = size <= sizeof saved;
    if (keep) memcpy(saved, l->cfg, size);
    dc_status s = dc_field_set(f, l->cfg, v, n, who(l, w, sizeof w));
    if (!s && (s = dc_layer_check(l)) && keep) memcpy(l->cfg, saved, size);
    return s;
}

dc_status dc_layer_set_num(dc_layer *l, const char *key, double v) { return dc_layer_set_field(l, key, &v, 1); }

int dc_layer_get_field(const dc_layer *l, const char *key, double *v) {
    if (!l || !key || !v) return dc_error(DC_ERR_ARG, "dc_layer_get: layer, key or value is NULL"), -1;
    const dc_field *f = dc_field_find(l->type->fields, l->type->nfields, key);
    char w[96];
    if (!f) return dc_error(DC_ERR_ARG, "%s: %s has no option \"%s\"", who(l, w, sizeof w), l->type->name, key), -1;
    return dc_field_get(f, l->cfg, v);
}

/* ---- the public setters: each one field, or two ---- */
dc_status dc_layer_set_int(dc_layer *l, const char *key, int64_t v) { return dc_layer_set_num(l, key, (double)v); }
dc_status dc_layer_set_float(dc_layer *l, const char *key, float v) { return dc_layer_set_num(l, key, (double)v); }
dc_status dc_layer_set_bool(dc_layer *l, const char *key, bool v) { return dc_layer_set_num(l, key, v ? 1 : 0); }
dc_status dc_layer_set_ints(dc_layer *l, const char *key, const int *v, int n) {
    double d[DC_FIELD_MAX_COUNT];
    if (!v || n < 0 || n > DC_FIELD_MAX_COUNT)
        return dc_error(DC_ERR_ARG, "dc_layer_set_ints: %s: values NULL or count %d outside 0..%d", key ? key : "?", n, DC_FIELD_MAX_COUNT);
    for (int i = 0; i < n; i++) d[i] = v[i];
    return dc_layer_set_field(l, key, d, n);
}

dc_status dc_layer_set_name(dc_layer *l, const char *name) {
    if (!l || !name || !*name) return dc_error(DC_ERR_ARG, "dc_layer_set_name: layer or name is NULL/empty");
    if (strlen(name) >= sizeof l->name)
        return dc_error(DC_ERR_ARG, "dc_layer_set_name: name \"%s\" is longer than %zu characters", name, sizeof l->name - 1);
    if (l->built) return dc_error(DC_ERR_STATE, "dc_layer_set_name: %s is built; its parameters are named after it", l->name);
    snprintf(l->name, sizeof l->name, "%s", name);
    l->named = true;
    return DC_OK;
}

dc_status dc_layer_set_alpha(dc_layer *l, float alpha) { return dc_layer_set_float(l, "alpha", alpha); }
dc_status dc_layer_set_use_bias(dc_layer *l, bool on) { return dc_layer_set_bool(l, "use_bias", on); }
dc_status dc_layer_set_init(dc_layer *l, dc_init w, dc_init b) {
    dc_status s = dc_layer_set_int(l, "kernel_initializer", (int64_t)w);
    return s ? s : dc_layer_set_int(l, "bias_initializer", (int64_t)b);
}
dc_status dc_layer_set_strides(dc_layer *l, int sh, int sw) { return dc_layer_set_ints(l, "strides", (const int[]){sh, sw}, 2); }
dc_status dc_layer_set_padding(dc_layer *l, const int pad[4]) {
    if (!pad) return dc_error(DC_ERR_ARG, "dc_layer_set_padding: pad is NULL");
    return dc_layer_set_ints(l, "explicit_padding", pad, 4);
}
dc_status dc_layer_set_synchronized(dc_layer *l, bool on) { return dc_layer_set_bool(l, "synchronized", on); }
dc_status dc_layer_set_forget_bias(dc_layer *l, float v) { return dc_layer_set_float(l, "forget_bias", v); }
dc_status dc_layer_set_epsilon(dc_layer *l, float eps) { return dc_layer_set_float(l, "epsilon", eps); }
dc_status dc_layer_set_separate_projections(dc_layer *l, bool on) { return dc_layer_set_bool(l, "separate_projections", on); }

/* ---- build helpers ---- */
dc_status dc_layer_declare(dc_layer *l, const char *name, int ndim, const int64_t *shape, dc_init init,
                           float init_value) {
    if (l->nparams >= DC_LAYER_MAX_PARAMS || ndim > 4)
        return dc_error(DC_ERR_STATE, "%s: too many parameters", l->name);
    dc_param_decl *d = &l->decl[l->nparams++];
    snprintf(d->name, sizeof d->name, "%s", name);
    d->ndim = ndim;
    memcpy(d->shape, shape, (size_t)ndim * sizeof *shape);
    d->init = init;
    d->init_value = init_value;
    d->trainable = true;
    d->min = -INFINITY;
    return DC_OK;
}

dc_status dc_layer_declare_state(dc_layer *l, const char *name, int ndim, const int64_t *shape, dc_init init,
                                 float init_value) {
    return dc_layer_declare_state_min(l, name, ndim, shape, init, init_value, -INFINITY);
}

dc_status dc_layer_declare_state_min(dc_layer *l, const char *name, int ndim, const int64_t *shape, dc_init init,
                                     float init_value, float min) {
    dc_status s = dc_layer_declare(l, name, ndim, shape, init, init_value);
    if (!s) {
        l->decl[l->nparams - 1].trainable = false;
        l->decl[l->nparams - 1].min = min;
    }
    return s;
}

dc_activation dc_layer_output_act(const dc_layer *l) {
    double v;
    if (l->inner) /* a wrapper's output is its layer's: a fused loss reaches through it */
        return (l->inner->type->flags & DC_LAYER_LOGITS) ? dc_layer_output_act(l->inner) : DC_ACT_NONE;
    const dc_field *f = dc_field_find(l->type->fields, l->type->nfields, "activation");
    return f && dc_field_get(f, l->cfg, &v) == 1 ? (dc_activation)(int)v : DC_ACT_NONE;
}

void dc_layer_same_shape(dc_layer *l) {
    l->out_ndim = l->in_ndim;
    memcpy(l->out_shape, l->in_shape, sizeof l->out_shape);
}

const char *dc_layer_shape_str(int ndim, const int64_t *shape, char *buf, size_t size) {
    int o = snprintf(buf, size, "(None");
    for (int i = 0; i < ndim && o >= 0 && (size_t)o < size; i++) o += snprintf(buf + o, size - (size_t)o, ", %lld", (long long)shape[i]);
    if (o >= 0 && (size_t)o < size) snprintf(buf + o, size - (size_t)o, ")");
    return buf;
}

/* ---- enum names for schemas ---- */
const char *dc_act_name_of(int a) { return dc_activation_name((dc_activation)a); }

static const char *const init_names[] = {"zeros",          "ones",          "constant",     "uniform",     "normal",
                                         "glorot_uniform", "glorot_normal", "he_uniform",   "he_normal",   "lecun_uniform"};
_Static_assert(DC_ARRAY_LEN(init_names) == DC_INIT_COUNT, "initialiser name table");
const char *dc_init_name_of(int i) { return i >= 0 && i < DC_INIT_COUNT ? init_names[i] : "unknown"; }

const char *dc_padding_name_of(int p) {
    return p == DC_PAD_SAME ? "same" : p == DC_PAD_VALID ? "valid" : p == DC_PAD_CAUSAL ? "causal" : "unknown";
}
