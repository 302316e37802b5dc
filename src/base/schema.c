/* Field schemas: defaults, checked writes and reads of the options a schema describes. */
#include "schema.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

const dc_field *dc_field_find(const dc_field *fields, int n, const char *key) {
    for (int i = 0; key && i < n; i++)
        if (strcmp(fields[i].key, key) == 0) return &fields[i];
    return NULL;
}

static void *at(void *cfg, size_t off) { return (char *)cfg + off; }
static const void *cat(const void *cfg, size_t off) { return (const char *)cfg + off; }

void dc_field_defaults(const dc_field *fields, int n, void *cfg) {
    for (int i = 0; i < n; i++) {
        const dc_field *f = &fields[i];
        void *p = at(cfg, f->offset);
        switch (f->kind) {
        case DC_FIELD_INT: *(int64_t *)p = (int64_t)f->def; break;
        case DC_FIELD_FLOAT: *(float *)p = (float)f->def; break;
        case DC_FIELD_BOOL: *(bool *)p = f->def != 0; break;
        case DC_FIELD_ENUM: *(int *)p = (int)f->def; break;
        case DC_FIELD_INTS:
            for (int k = 0; k < f->count; k++) ((int *)p)[k] = (int)f->def;
            if (f->flags & DC_FIELD_WHEN) *(bool *)at(cfg, f->when_offset) = false;
            break;
        case DC_FIELD_DIMS:
            memset(p, 0, (size_t)f->count * sizeof(int64_t));
            *(int *)at(cfg, f->len_offset) = 0;
            break;
        }
    }
}

const char *dc_field_kind_name(const dc_field *f, char *buf, size_t size) {
    switch (f->kind) {
    case DC_FIELD_INT: snprintf(buf, size, "a whole number in [%.17g, %.17g]", f->lo, f->hi); break;
    case DC_FIELD_FLOAT: snprintf(buf, size, "a number in [%.9g, %.9g]", f->lo, f->hi); break;
    case DC_FIELD_BOOL: snprintf(buf, size, "true or false"); break;
    case DC_FIELD_ENUM: {
        int o = snprintf(buf, size, "one of");
        for (int i = 0; i < f->count && o >= 0 && (size_t)o < size; i++)
            o += snprintf(buf + o, size - (size_t)o, "%s \"%s\"", i ? "," : "", f->name_of(i));
        break;
    }
    case DC_FIELD_INTS:
        snprintf(buf, size, "an array of %d whole numbers in [%.17g, %.17g]", f->count, f->lo, f->hi);
        break;
    case DC_FIELD_DIMS:
        snprintf(buf, size, "an array of 1 to %d whole numbers in [%.17g, %.17g]", f->count, f->lo, f->hi);
        break;
    }
    return buf;
}

static bool whole_in(double v, double lo, double hi) { return isfinite(v) && v == floor(v) && v >= lo && v <= hi; }

dc_status dc_field_set(const dc_field *f, void *cfg, const double *v, int nv, const char *who) {
    char want[256];
    if (!f || !cfg || !v) return dc_error(DC_ERR_ARG, "%s: field, config or value is NULL", who);
    void *p = at(cfg, f->offset);
    bool array = f->kind == DC_FIELD_INTS || f->kind == DC_FIELD_DIMS;
    bool count_ok = array ? (f->kind == DC_FIELD_INTS ? nv == f->count : nv >= 1 && nv <= f->count) : nv == 1;
    if (!count_ok)
        return dc_error(DC_ERR_ARG, "%s: \"%s\" must be %s, got %d value%s", who, f->key, dc_field_kind_name(f, want, sizeof want), nv,
                        nv == 1 ? "" : "s");
    for (int i = 0; i < nv; i++) {
        bool ok;
        switch (f->kind) {
        case DC_FIELD_FLOAT: ok = isfinite(v[i]) && v[i] >= f->lo && v[i] <= f->hi; break;
        case DC_FIELD_BOOL: ok = v[i] == 0 || v[i] == 1; break;
        default: ok = whole_in(v[i], f->lo, f->hi); break;
        }
        if (!ok) {
            if (nv > 1)
                return dc_error(DC_ERR_ARG, "%s: \"%s\" must be %s, got %g at position %d", who, f->key,
                                dc_field_kind_name(f, want, sizeof want), v[i], i);
            return dc_error(DC_ERR_ARG, "%s: \"%s\" must be %s, got %g", who, f->key, dc_field_kind_name(f, want, sizeof want), v[i]);
        }
    }
    switch (f->kind) {
    case DC_FIELD_INT: *(int64_t *)p = (int64_t)v[0]; break;
    case DC_FIELD_FLOAT: *(float *)p = (float)v[0]; break;
    case DC_FIELD_BOOL: *(bool *)p = v[0] != 0; break;
    case DC_FIELD_ENUM: *(int *)p = (int)v[0]; break;
    case DC_FIELD_INTS:
        for (int i = 0; i < nv; i++) ((int *)p)[i] = (int)v[i];
        if (f->flags & DC_FIELD_WHEN) *(bool *)at(cfg, f->when_offset) = true;
        break;
    case DC_FIELD_DIMS:
        for (int i = 0; i < nv; i++) ((int64_t *)p)[i] = (int64_t)v[i];
        *(int *)at(cfg, f->len_offset) = nv;
        break;
    }
    return DC_OK;
}

bool dc_field_present(const dc_field *f, const void *cfg) {
    return !(f->flags & DC_FIELD_WHEN) || *(const bool *)cat(cfg, f->when_offset);
}

int dc_field_get(const dc_field *f, const void *cfg, double *v) {
    const void *p = cat(cfg, f->offset);
    switch (f->kind) {
    case DC_FIELD_INT: v[0] = (double)*(const int64_t *)p; return 1;
    case DC_FIELD_FLOAT: v[0] = (double)*(const float *)p; return 1;
    case DC_FIELD_BOOL: v[0] = *(const bool *)p; return 1;
    case DC_FIELD_ENUM: v[0] = *(const int *)p; return 1;
    case DC_FIELD_INTS:
        if (!dc_field_present(f, cfg)) return 0;
        for (int i = 0; i < f->count; i++) v[i] = ((const int *)p)[i];
        return f->count;
    case DC_FIELD_DIMS: {
        int n = *(const int *)cat(cfg, f->len_offset);
        for (int i = 0; i < n; i++) v[i] = (double)((const int64_t *)p)[i];
        return n;
    }
    }
    return 0;
}
