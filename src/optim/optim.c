/* What every optimiser shares: creation from a type record, the checked setters over the common
 * fields (lr, weight_decay, clipnorm, clipvalue, decay_bias_and_norm) and the type's own, the
 * state buffers, gradient clipping, the step's learning rate (the schedule's, schedule.c), the
 * weight decay of only some segments, and the step that hands all that to the type's update.
 * The update rules themselves are in sgd.c, adagrad.c, adadelta.c, rmsprop.c and adam.c. */
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
    DC_F_BOOL(dc_optimizer, "decay_bias_and_norm", decay_bias_norm, true, DC_FIELD_RUNTIME),
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

dc_optimizer *dc_optimizer_make(const dc_optimizer_type *t, float lr, int n, const char *const *keys, const double *vals) {
    dc_optimizer *o = dc_optimizer_create(t, lr);
    /* every field first, the check once: the options are checked together, not in between */
    for (int i = 0; o && i < n; i++) {
        if (isnan(vals[i])) continue; /* the field's default */
        const void *cfg;
        const dc_field *f = dc_optimizer_field(o, keys[i], &cfg);
        if (!f || dc_field_set(f, (void *)cfg, &vals[i], 1, t->name)) {
            if (!f) dc_error(DC_ERR_ARG, "%s: the optimizer has no option \"%s\"", t->name, keys[i]);
            dc_optimizer_free(o);
            return NULL;
        }
    }
    if (o && t->check && t->check(o)) {
        dc_optimizer_free(o);
        return NULL;
    }
    return o;
}

void dc_optimizer_free(dc_optimizer *o) {
    if (!o) return;
    for (int k = 0; k < DC_OPT_MAX_STATE; k++) dc_free(o->state[k]);
    dc_free(o->clipped);
    if (o->sched) {
        o->sched->attached = false;
        dc_schedule_free(o->sched);
    }
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
    const bool decay_bias_norm = o->decay_bias_norm;
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
        o->decay_bias_norm = decay_bias_norm;
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

dc_status dc_optimizer_set(dc_optimizer *o, const char *key, double value) {
    if (!o || !key) return dc_error(DC_ERR_ARG, "dc_optimizer_set: optimizer or key is NULL");
    const void *cfg;
    const dc_field *f = dc_optimizer_field(o, key, &cfg);
    if (f && (f->kind == DC_FIELD_INTS || f->kind == DC_FIELD_DIMS))
        return dc_error(DC_ERR_ARG, "%s: \"%s\" is an array; dc_optimizer_set sets single values", o->type->name, key);
    return dc_optimizer_set_field(o, key, &value, 1);
}

dc_status dc_optimizer_get(const dc_optimizer *o, const char *key, double *value) {
    if (!o || !key || !value) return dc_error(DC_ERR_ARG, "dc_optimizer_get: optimizer, key or value is NULL");
    const void *cfg;
    const dc_field *f = dc_optimizer_field(o, key, &cfg);
    if (!f) return dc_error(DC_ERR_ARG, "%s: the optimizer has no option \"%s\"", o->type->name, key);
    double v[DC_FIELD_MAX_COUNT];
    if (dc_field_get(f, cfg, v) < 1) return dc_error(DC_ERR_ARG, "%s: \"%s\" has no single value", o->type->name, key);
    *value = v[0];
    return DC_OK;
}

float dc_optimizer_lr(const dc_optimizer *o) { return o ? o->lr : 0; }
int64_t dc_optimizer_steps(const dc_optimizer *o) { return o ? o->t : 0; }
const char *dc_optimizer_name(const dc_optimizer *o) { return o ? o->type->name : ""; }

/* The learning rate of the step after k steps: the schedule's, in double, rounded once. */
static float lr_after(const dc_optimizer *o, int64_t k) {
    return o->sched ? (float)o->sched->type->lr_at(o->sched, k, (double)o->lr) : o->lr;
}

float dc_optimizer_current_lr(const dc_optimizer *o) { return o ? lr_after(o, o->t) : 0; }

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

static dc_status need_buffer(dc_optimizer *o, int64_t n) {
    return o->clipped || (o->clipped = dc_alloc((size_t)n * sizeof(float))) ? DC_OK : DC_ERR_NOMEM;
}

/* Clipping, when on, writes clip(g * min(1, clipnorm / ||g||), -clipvalue, clipvalue) to a
 * buffer that stands in for g, so the update rules' loops stay free of it (and vectorised). */
DC_CLONES static dc_status clip_grad(dc_optimizer *o, const float **gp, int64_t n) {
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
    dc_status s = need_buffer(o, n);
    if (s) return s;
    float *c = o->clipped;
    for (int64_t i = 0; i < n; i++) c[i] = fminf(fmaxf(g[i] * scale, -cv), cv);
    *gp = c;
    return DC_OK;
}

/* Weight decay on the segments of more than one row alone (decay_bias_and_norm off): thread t of
 * T takes its dc_part_range of every segment, as the update will. L2: c = g + wd w where the
 * segment decays, c = g elsewhere (c may be g itself, the clipped buffer); decoupled: w *= 1 -
 * lr wd where it decays. */
DC_INLINE void decay_range(int t, int T, float *w, float *c, const float *g, const dc_part_seg *part, int nseg, bool decoupled,
                        float wd, float keep) {
    for (int s = 0; s < nseg; s++) {
        int64_t lo, hi;
        dc_part_range(&part[s], t, T, &lo, &hi);
        if (part[s].rows > 0) {
            if (decoupled)
                for (int64_t i = lo; i < hi; i++) w[i] *= keep;
            else
                for (int64_t i = lo; i < hi; i++) c[i] = g[i] + wd * w[i];
        } else if (!decoupled && c != g) {
            for (int64_t i = lo; i < hi; i++) c[i] = g[i];
        }
    }
}

DC_CLONES static void decay_segments(dc_optimizer *o, float *w, float *c, const float *g, int64_t n, const dc_part_seg *part, int nseg) {
    const bool decoupled = o->type->decoupled_wd;
    const float wd = o->wd, keep = 1.0f - o->step_lr * wd;
    if (n > DC_PAR_MIN && dc_max_threads() >= 2) {
#pragma omp parallel
        decay_range(dc_thread_id(), dc_team_size(), w, c, g, part, nseg, decoupled, wd, keep);
    } else {
        decay_range(0, 1, w, c, g, part, nseg, decoupled, wd, keep);
    }
}

dc_status dc_optimizer_step(dc_optimizer *o, float *w, const float *g, int64_t n) { return dc_optimizer_step_part(o, w, g, n, NULL, 0); }

dc_status dc_optimizer_step_part(dc_optimizer *o, float *w, const float *g, int64_t n, const dc_part_seg *part, int nseg) {
    if (!o || !w || !g || n <= 0) return dc_error(DC_ERR_ARG, "optimizer step: NULL buffers or no parameters");
    if (nseg < 0 || (nseg > 0 && !part)) return dc_error(DC_ERR_ARG, "optimizer step: %d segments without their table", nseg);
    /* the segments must cover [0, n) in order: the split loops and the decay by segment rely on it */
    for (int64_t s = 0, off = 0; s < nseg; off += part[s].len, s++)
        if (part[s].off != off || part[s].len < 0 || (s == nseg - 1 && off + part[s].len != n))
            return dc_error(DC_ERR_ARG, "optimizer step: segment %lld of %d is [%lld, +%lld), expected to start at %lld and the last to end at %lld",
                            (long long)s, nseg, (long long)part[s].off, (long long)part[s].len, (long long)off, (long long)n);
    dc_status s = dc_optimizer_prepare(o, n);
    if (s) return s;
    if ((o->clipnorm > 0 || o->clipvalue > 0) && (s = clip_grad(o, &g, n))) return s;
    /* the rate of this step: the schedule's after the steps taken so far */
    const float lr = lr_after(o, o->t);
    if (!(lr >= 0 && lr <= FLT_MAX))
        return dc_error(DC_ERR_NUMERIC, "%s: the schedule %s gives learning rate %g at step %lld", o->type->name,
                        o->sched->type->name, (double)lr, (long long)o->t);
    o->step_lr = lr;
    o->step_wd = o->wd;
    if (o->wd > 0 && !o->decay_bias_norm && part && nseg > 0) {
        /* decay by segment here, none in the rule */
        if (!o->type->decoupled_wd && (s = need_buffer(o, n))) return s;
        decay_segments(o, w, o->clipped, g, n, part, nseg);
        if (!o->type->decoupled_wd) g = o->clipped;
        o->step_wd = 0;
    }
    o->t++;
    o->type->update(o, w, g, n, part, nseg);
    dc_threads_tick(DC_TICK_TRAIN); /* a training step ends here, in fit and in hand-written loops */
    return DC_OK;
}
