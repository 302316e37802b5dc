/* What every learning-rate schedule shares: the registry, creation from a type record, checked
 * setters over the type's field schema, attaching to an optimiser (which owns it and asks it
 * for each step's rate, optim.c), the epoch-end hook and the state vector checkpoints save. The
 * schedules themselves are in sched_*.c. */
#include "schedule_registry.h"

#include <math.h>
#include <string.h>

int dc_schedule_type_count(void) { return dc_schedule_registry_count; }
const dc_schedule_type *dc_schedule_type_at(int i) { return i >= 0 && i < dc_schedule_registry_count ? dc_schedule_registry[i] : NULL; }
const dc_schedule_type *dc_schedule_type_find(const char *name) {
    for (int i = 0; name && i < dc_schedule_registry_count; i++)
        if (strcmp(dc_schedule_registry[i]->name, name) == 0) return dc_schedule_registry[i];
    return NULL;
}

dc_schedule *dc_schedule_create(const dc_schedule_type *t) {
    if (!t || !t->name || !t->lr_at || t->nstate < 0 || t->nstate > DC_SCHEDULE_MAX_STATE)
        return dc_error_null(DC_ERR_ARG, "dc_schedule_create: type is NULL, lacks its name or lr_at, or keeps more than %d state values",
                             DC_SCHEDULE_MAX_STATE);
    dc_schedule *s = dc_calloc(1, sizeof *s + t->cfg_size);
    if (!s) return NULL;
    s->type = t;
    dc_field_defaults(t->fields, t->nfields, s->cfg);
    return s;
}

void dc_schedule_free(dc_schedule *s) {
    if (s && !s->attached) dc_free(s); /* an optimiser's schedule goes with the optimiser */
}

const char *dc_schedule_name(const dc_schedule *s) { return s ? s->type->name : ""; }

const dc_field *dc_schedule_field(const dc_schedule *s, const char *key) {
    return s && key ? dc_field_find(s->type->fields, s->type->nfields, key) : NULL;
}

dc_status dc_schedule_set_field(dc_schedule *s, const char *key, const double *v, int n) {
    if (!s || !key) return dc_error(DC_ERR_ARG, "dc_schedule_set_field: schedule or key is NULL");
    const dc_schedule_type *t = s->type;
    const dc_field *f = dc_schedule_field(s, key);
    if (!f) return dc_error(DC_ERR_ARG, "%s: the schedule has no option \"%s\"", t->name, key);
    /* the old values are kept: a value the type's check refuses leaves the schedule as it was */
    unsigned char small[256], *saved = t->cfg_size <= sizeof small ? small : dc_alloc(t->cfg_size);
    if (!saved) return DC_ERR_NOMEM;
    if (t->cfg_size) memcpy(saved, s->cfg, t->cfg_size);
    dc_status st = dc_field_set(f, s->cfg, v, n, t->name);
    if (!st && t->check && (st = t->check(s)) && t->cfg_size) memcpy(s->cfg, saved, t->cfg_size);
    if (saved != small) dc_free(saved);
    return st;
}

dc_status dc_schedule_set(dc_schedule *s, const char *key, double value) {
    if (!s || !key) return dc_error(DC_ERR_ARG, "dc_schedule_set: schedule or key is NULL");
    const dc_field *f = dc_schedule_field(s, key);
    if (f && (f->kind == DC_FIELD_INTS || f->kind == DC_FIELD_DIMS))
        return dc_error(DC_ERR_ARG, "%s: \"%s\" is an array; dc_schedule_set sets single values", s->type->name, key);
    return dc_schedule_set_field(s, key, &value, 1);
}

dc_status dc_schedule_set_name(dc_schedule *s, const char *key, const char *name) {
    if (!s || !key || !name) return dc_error(DC_ERR_ARG, "dc_schedule_set_name: schedule, key or name is NULL");
    const dc_field *f = dc_schedule_field(s, key);
    if (!f) return dc_error(DC_ERR_ARG, "%s: the schedule has no option \"%s\"", s->type->name, key);
    char want[256];
    if (f->kind != DC_FIELD_ENUM)
        return dc_error(DC_ERR_ARG, "%s: \"%s\" is %s, not a name", s->type->name, key, dc_field_kind_name(f, want, sizeof want));
    for (int i = 0; i < f->count; i++)
        if (strcmp(f->name_of(i), name) == 0) return dc_schedule_set(s, key, i);
    return dc_error(DC_ERR_ARG, "%s: \"%s\" must be %s, got \"%.40s\"", s->type->name, key, dc_field_kind_name(f, want, sizeof want), name);
}

dc_status dc_schedule_get(const dc_schedule *s, const char *key, double *value) {
    if (!s || !key || !value) return dc_error(DC_ERR_ARG, "dc_schedule_get: schedule, key or value is NULL");
    const dc_field *f = dc_schedule_field(s, key);
    if (!f) return dc_error(DC_ERR_ARG, "%s: the schedule has no option \"%s\"", s->type->name, key);
    double v[DC_FIELD_MAX_COUNT];
    if (dc_field_get(f, s->cfg, v) < 1) return dc_error(DC_ERR_ARG, "%s: \"%s\" has no single value", s->type->name, key);
    *value = v[0];
    return DC_OK;
}

dc_schedule *dc_schedule_make(const dc_schedule_type *t, int n, const char *const *keys, const double *vals) {
    dc_schedule *s = dc_schedule_create(t);
    if (!s) return NULL;
    /* every field first, the check once: the options are checked together, not in between */
    for (int i = 0; i < n; i++) {
        const dc_field *f = dc_schedule_field(s, keys[i]);
        if (!f || dc_field_set(f, s->cfg, &vals[i], 1, t->name)) {
            if (!f) dc_error(DC_ERR_ARG, "%s: the schedule has no option \"%s\"", t->name, keys[i]);
            dc_free(s);
            return NULL;
        }
    }
    if (t->check && t->check(s)) {
        dc_free(s);
        return NULL;
    }
    return s;
}

dc_status dc_optimizer_set_schedule(dc_optimizer *o, dc_schedule *s) {
    if (o && s && o->sched == s) return DC_OK; /* already its own */
    if (s && s->attached)
        return dc_error(DC_ERR_ARG, "dc_optimizer_set_schedule: the %s schedule already belongs to an optimizer", s->type->name);
    if (!o) {
        dc_schedule_free(s);
        return dc_error(DC_ERR_ARG, "dc_optimizer_set_schedule: optimizer is NULL");
    }
    if (o->sched) {
        o->sched->attached = false;
        dc_schedule_free(o->sched);
    }
    o->sched = s;
    if (s) s->attached = true;
    return DC_OK;
}

dc_schedule *dc_optimizer_schedule(const dc_optimizer *o) { return o ? o->sched : NULL; }

dc_status dc_optimizer_epoch_end(dc_optimizer *o, double value) {
    if (!o) return dc_error(DC_ERR_ARG, "dc_optimizer_epoch_end: optimizer is NULL");
    if (o->sched && o->sched->type->epoch_end) o->sched->type->epoch_end(o->sched, value, (double)o->lr);
    return DC_OK;
}

dc_status dc_optimizer_schedule_state(const dc_optimizer *o, double *v, int *n) {
    if (!o || !v || !n) return dc_error(DC_ERR_ARG, "dc_optimizer_schedule_state: optimizer, v or n is NULL");
    *n = o->sched ? o->sched->type->nstate : 0;
    if (*n) memcpy(v, o->sched->state, (size_t)*n * sizeof *v);
    return DC_OK;
}

dc_status dc_optimizer_check_schedule_state(const dc_optimizer *o, const double *v, int n) {
    if (!o || (n > 0 && !v)) return dc_error(DC_ERR_ARG, "dc_optimizer_set_schedule_state: optimizer or values NULL");
    const dc_schedule *s = o->sched;
    const int want = s ? s->type->nstate : 0;
    if (n != want)
        return dc_error(DC_ERR_ARG, "dc_optimizer_set_schedule_state: %d values given; the %s keeps %d", n,
                        s ? s->type->name : "optimizer without a schedule", want);
    for (int i = 0; i < n; i++)
        if (!isfinite(v[i])) return dc_error(DC_ERR_ARG, "dc_optimizer_set_schedule_state: %s: value %d is %g, not finite", s->type->name, i, v[i]);
    return n && s->type->check_state ? s->type->check_state(s, v) : DC_OK;
}

dc_status dc_optimizer_set_schedule_state(dc_optimizer *o, const double *v, int n) {
    dc_status st = dc_optimizer_check_schedule_state(o, v, n);
    if (!st && n) memcpy(o->sched->state, v, (size_t)n * sizeof *v);
    return st;
}
