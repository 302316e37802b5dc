/* What every optimiser shares: creation from a type record, the checked setters over the common
 * fields (lr, weight_decay, clipnorm, clipvalue) and the type's own, the state buffers, gradient
 * clipping and the step that hands the clipped gradient to the type's update. The update rules
 * themselves are in sgd.c, adagrad.c, adadelta.c, rmsprop.c and adam.c. */
#include "optim_registry.h"

#include <float.h>
#include <math.h>
#include <string.h>

/* The options every optimiser has, over struct dc_optimizer itself. None of them changes the
 * state buffers, so all may change between steps. The learning rate's lower bound is the
 * smallest float above 0: the range (0, 1e6] for a float. */
const dc_field dc_optimizer_common_fields[] = {
    DC_F_FLOAT(dc_optimizer, "lr", lr, FLT_TRUE_MIN, 1e6, 1e-3, DC_FIELD_REQUIRED | DC_FIELD_RUNTIME),
    DC_F_FLOAT(dc_optimizer, "weight_decay", wd, 0, 1e6, 0, DC_FIELD_RUNTIME),
    DC_F_FLOAT(dc_optimizer, "clipnorm", clipnorm, 0, 1e30, 0, DC_FIELD_RUNTIME),
    DC_F_FLOAT(dc_optimizer, "clipvalue", clipvalue, 0, 1e30, 0, DC_FIELD_RUNTIME),
};
const int dc_optimizer_common_nfields = (int)DC_ARRAY_LEN(dc_optimizer_common_fields);

int dc_optimizer_type_count(void) { return dc_optim_registry_count; }
const dc_optimizer_type *dc_optimizer_type_at(int i) { return i >= 0 && i < dc_optim_registry_count ? dc_optim_registry[i] : NULL; }
const dc_optimizer_type *dc_optimizer_type_find(const char *name) {
    for (int i = 0; name && i < dc_optim_registry_count; i++)
        if (strcmp(dc_optim_registry[i]->name, name) == 0) return dc_optim_registry[i];
    return NULL;
}

dc_optimizer *dc_optimizer_create(const dc_optimizer_type *t, float lr) {
    if (!t || !t->name || !t->nstate || !t->update)
        return dc_error_null(DC_ERR_ARG, "dc_optimizer_create: type is NULL or lacks its name, nstate or update");
    /* the constructors' message of old, with the field's bounds */
    const dc_field *f = &dc_optimizer_common_fields[0];
    if (!(lr >= f->lo && lr <= f->hi))
        return dc_error_null(DC_ERR_ARG, "%s: learning rate must be positive, finite and at most %g, got %g", t->name, f->hi, (double)lr);
    dc_optimizer *o = dc_calloc(1, sizeof *o + t->cfg_size);
    if (!o) return NULL;
    o->type = t;
    dc_field_defaults(dc_optimizer_common_fields, dc_optimizer_common_nfields, o);
    dc_field_defaults(t->fields, t->nfields, o->cfg);
    o->lr = lr;
    return o;
}

void dc_optimizer_free(dc_optimizer *o) {
    if (!o) return;
    for (int k = 0; k < DC_OPT_MAX_STATE; k++) dc_free(o->state[k]);
    dc_free(o->clipped);
    dc_free(o);
}

const dc_field *dc_optimizer_field(const dc_optimizer *o, const char *key, const void **cfg) {
    if (!o || !key) return NULL;
    const dc_field *f = dc_field_find(dc_optimizer_common_fields, dc_optimizer_common_nfields, key);
    if (f) {
        if (cfg) *cfg = o;
        return f;
    }
    f = dc_field_find(o->type->fields, o->type->nfields, key);
    if (f && cfg) *cfg = o->cfg;
    return f;
}

dc_status dc_optimizer_set_field(dc_optimizer *o, const char *key, const double *v, int n) {
    if (!o || !key) return dc_error(DC_ERR_ARG, "dc_optimizer_set_field: optimizer or key is NULL");
    const char *name = o->type->name;
    const void *where;
    const dc_field *f = dc_optimizer_field(o, key, &where);
    if (!f) return dc_error(DC_ERR_ARG, "%s: the optimizer has no option \"%s\"", name, key);
    /* an option that decides the number of state buffers (SGD's momentum) is fixed once they exist */
    if (o->n && !(f->flags & DC_FIELD_RUNTIME))
        return dc_error(DC_ERR_STATE, "%s: \"%s\" cannot change once the optimizer has taken a step (its state depends on it)", name, key);
    /* the old values are kept: a value the type's check refuses leaves the optimiser as it was */
    const float common[4] = {o->lr, o->wd, o->clipnorm, o->clipvalue};
    unsigned char small[256], *saved = o->type->cfg_size <= sizeof small ? small : dc_alloc(o->type->cfg_size);
    if (!saved) return DC_ERR_NOMEM;
    if (o->type->cfg_size) memcpy(saved, o->cfg, o->type->cfg_size);
    dc_status s = dc_field_set(f, (void *)where, v, n, name);
    const bool written = !s;
    if (!s && o->type->check) s = o->type->check(o);
    if (!s && o->n && o->type->nstate(o) != o->nstate) /* a type whose flags missed such an option */
        s = dc_error(DC_ERR_STATE, "%s: \"%s\" cannot change once the optimizer has taken a step (its state depends on it)", name, key);
    if (s && written) {
        o->lr = common[0];
        o->wd = common[1];
        o->clipnorm = common[2];
        o->clipvalue = common[3];
        if (o->type->cfg_size) memcpy(o->cfg, saved, o->type->cfg_size);
    }
    if (saved != small) dc_free(saved);
    return s;
}

static dc_status set_num(dc_optimizer *o, const char *key, float v, const char *fn) {
    if (!o) return dc_error(DC_ERR_ARG, "%s: optimizer is NULL", fn);
    const double d = v;
    return dc_optimizer_set_field(o, key, &d, 1);
}

dc_status dc_optimizer_set_weight_decay(dc_optimizer *o, float wd) { return set_num(o, "weight_decay", wd, "dc_optimizer_set_weight_decay"); }
dc_status dc_optimizer_set_lr(dc_optimizer *o, float lr) { return set_num(o, "lr", lr, "dc_optimizer_set_lr"); }
dc_status dc_optimizer_set_clipnorm(dc_optimizer *o, float max_norm) { return set_num(o, "clipnorm", max_norm, "dc_optimizer_set_clipnorm"); }
dc_status dc_optimizer_set_clipvalue(dc_optimizer *o, float max_abs) { return set_num(o, "clipvalue", max_abs, "dc_optimizer_set_clipvalue"); }

float dc_optimizer_lr(const dc_optimizer *o) { return o ? o->lr : 0; }
const char *dc_optimizer_name(const dc_optimizer *o) { return o ? o->type->name : ""; }

dc_status dc_optimizer_prepare(dc_optimizer *o, int64_t n) {
    if (!o || n <= 0) return dc_error(DC_ERR_ARG, "dc_optimizer_prepare: optimizer is NULL or no parameters (%lld)", (long long)n);
    if (o->n == n) return DC_OK;
    if (o->n)
        return dc_error(DC_ERR_STATE, "%s: state was made for %lld parameters, step called with %lld", o->type->name,
                        (long long)o->n, (long long)n);
    const int k = o->type->nstate(o);
    if (k < 0 || k > DC_OPT_MAX_STATE)
        return dc_error(DC_ERR_STATE, "%s: %d state buffers asked for, at most %d are kept", o->type->name, k, DC_OPT_MAX_STATE);
    for (int i = 0; i < k; i++)
        if (!(o->state[i] = dc_calloc((size_t)n, sizeof(float)))) {
            for (int j = 0; j < i; j++) {
                dc_free(o->state[j]);
                o->state[j] = NULL;
            }
            return DC_ERR_NOMEM;
        }
    o->nstate = k;
    o->n = n;
    return DC_OK;
}

/* Clipping, when on, writes clip(g * min(1, clipnorm / ||g||), -clipvalue, clipvalue) to a
 * buffer that stands in for g, so the update rules' loops stay free of it (and vectorised). */
static dc_status clip_grad(dc_optimizer *o, const float **gp, int64_t n) {
    const float *g = *gp;
    float scale = 1.0f;
    if (o->clipnorm > 0) {
        double sq = 0;
        for (int64_t i = 0; i < n; i++) sq += (double)g[i] * g[i];
        double norm = sqrt(sq);
        if (!isfinite(norm)) return dc_error(DC_ERR_NUMERIC, "%s: the gradient norm is not finite", o->type->name);
        if (norm > o->clipnorm) scale = (float)(o->clipnorm / norm);
    }
    const float cv = o->clipvalue > 0 ? o->clipvalue : INFINITY;
    if (!o->clipped && !(o->clipped = dc_alloc((size_t)n * sizeof(float)))) return DC_ERR_NOMEM;
    float *c = o->clipped;
    for (int64_t i = 0; i < n; i++) c[i] = fminf(fmaxf(g[i] * scale, -cv), cv);
    *gp = c;
    return DC_OK;
}

dc_status dc_optimizer_step(dc_optimizer *o, float *w, const float *g, int64_t n) { return dc_optimizer_step_part(o, w, g, n, NULL, 0); }

dc_status dc_optimizer_step_part(dc_optimizer *o, float *w, const float *g, int64_t n, const dc_part_seg *part, int nseg) {
    if (!o || !w || !g || n <= 0) return dc_error(DC_ERR_ARG, "optimizer step: NULL buffers or no parameters");
    dc_status s = dc_optimizer_prepare(o, n);
    if (s) return s;
    if ((o->clipnorm > 0 || o->clipvalue > 0) && (s = clip_grad(o, &g, n))) return s;
    o->t++;
    o->type->update(o, w, g, n, part, nseg);
    return DC_OK;
}
