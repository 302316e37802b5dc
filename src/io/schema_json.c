/* The options of a record to and from JSON by its field schema, and validated JSON reads. */
#include "schema_json.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

dc_status dc_json_bad(const dc_where *w, const char *key, const char *want) {
    return dc_error(DC_ERR_FORMAT, "%s: %s: \"%s\" %s", w->path, w->what, key, want);
}

void dc_json_add_fields(cJSON *o, const dc_field *fields, int n, const void *cfg) {
    for (int i = 0; o && i < n; i++) {
        const dc_field *f = &fields[i];
        double v[DC_FIELD_MAX_COUNT];
        int k = dc_field_get(f, cfg, v);
        if (k == 0 && f->kind != DC_FIELD_DIMS) continue; /* an absent optional field */
        switch (f->kind) {
        case DC_FIELD_INT:
        case DC_FIELD_FLOAT: cJSON_AddNumberToObject(o, f->key, v[0]); break;
        case DC_FIELD_BOOL: cJSON_AddBoolToObject(o, f->key, v[0] != 0); break;
        case DC_FIELD_ENUM: cJSON_AddStringToObject(o, f->key, f->name_of((int)v[0])); break;
        case DC_FIELD_INTS:
        case DC_FIELD_DIMS: {
            cJSON *a = cJSON_AddArrayToObject(o, f->key);
            for (int j = 0; a && j < k; j++) cJSON_AddItemToArray(a, cJSON_CreateNumber(v[j]));
            break;
        }
        }
    }
}

/* The values of field f from JSON item v into out; returns the count or -1 (message set). */
static int parse_field(const dc_where *w, const dc_field *f, const cJSON *v, double *out) {
    char want[256], b[320];
    if (f->kind == DC_FIELD_ENUM) {
        for (int i = 0; cJSON_IsString(v) && i < f->count; i++)
            if (strcmp(v->valuestring, f->name_of(i)) == 0) {
                out[0] = i;
                return 1;
            }
        snprintf(b, sizeof b, "must be %s%s%.40s%s", dc_field_kind_name(f, want, sizeof want), cJSON_IsString(v) ? ", got \"" : "",
                 cJSON_IsString(v) ? v->valuestring : "", cJSON_IsString(v) ? "\"" : "");
        return dc_json_bad(w, f->key, b), -1;
    }
    if (f->kind == DC_FIELD_BOOL) {
        if (!cJSON_IsBool(v)) return dc_json_bad(w, f->key, "must be true or false"), -1;
        out[0] = cJSON_IsTrue(v);
        return 1;
    }
    if (f->kind == DC_FIELD_INTS || f->kind == DC_FIELD_DIMS) {
        int n = cJSON_IsArray(v) ? cJSON_GetArraySize(v) : -1;
        bool ok = f->kind == DC_FIELD_INTS ? n == f->count : n >= 1 && n <= f->count;
        for (int i = 0; ok && i < n; i++) {
            const cJSON *e = cJSON_GetArrayItem(v, i);
            ok = cJSON_IsNumber(e);
            if (ok) out[i] = e->valuedouble;
        }
        if (!ok) return dc_json_bad(w, f->key, (snprintf(b, sizeof b, "must be %s", dc_field_kind_name(f, want, sizeof want)), b)), -1;
        return n;
    }
    if (!cJSON_IsNumber(v)) return dc_json_bad(w, f->key, (snprintf(b, sizeof b, "must be %s, got a non-number", dc_field_kind_name(f, want, sizeof want)), b)), -1;
    out[0] = v->valuedouble;
    return 1;
}

dc_status dc_json_read_fields(const dc_where *w, const cJSON *o, const dc_field *const *tables, const int *counts, int ntables,
                              const char *const *skip, dc_json_setter set, void *ctx) {
    const cJSON *item;
    cJSON_ArrayForEach(item, o) {
        bool skipped = false;
        for (int i = 0; skip && skip[i] && !skipped; i++) skipped = strcmp(item->string, skip[i]) == 0;
        if (skipped) continue;
        const dc_field *f = NULL;
        for (int t = 0; t < ntables && !f; t++) f = dc_field_find(tables[t], counts[t], item->string);
        if (!f) {
            char known[640];
            size_t used = 0;
            known[0] = 0;
            for (int t = 0; t < ntables; t++)
                for (int i = 0; i < counts[t] && used < sizeof known; i++) {
                    int k = snprintf(known + used, sizeof known - used, "%s%s", used ? ", " : "", tables[t][i].key);
                    if (k > 0) used += (size_t)k;
                }
            return dc_error(DC_ERR_FORMAT, "%s: %s: unknown option \"%.60s\" (options: %s)", w->path, w->what, item->string, known);
        }
        double v[DC_FIELD_MAX_COUNT];
        int n = parse_field(w, f, item, v);
        if (n < 0) return DC_ERR_FORMAT;
        dc_status s = set(ctx, f, v, n);
        if (s) {
            char why[300];
            snprintf(why, sizeof why, "%s", dc_last_error());
            return dc_error(DC_ERR_FORMAT, "%s: %s: %s", w->path, w->what, why);
        }
    }
    for (int t = 0; t < ntables; t++)
        for (int i = 0; i < counts[t]; i++)
            if ((tables[t][i].flags & DC_FIELD_REQUIRED) && !cJSON_GetObjectItemCaseSensitive(o, tables[t][i].key))
                return dc_json_bad(w, tables[t][i].key, "is missing");
    return DC_OK;
}

dc_status dc_json_num(const dc_where *w, const cJSON *o, const char *key, double lo, double hi, double def, bool required, double *out) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!v) {
        if (required) return dc_json_bad(w, key, "is missing");
        *out = def;
        return DC_OK;
    }
    if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble) || v->valuedouble < lo || v->valuedouble > hi) {
        char b[96];
        snprintf(b, sizeof b, "must be a number in [%g, %g]%s", lo, hi, cJSON_IsNumber(v) ? "" : ", got a non-number");
        if (cJSON_IsNumber(v)) snprintf(b + strlen(b), sizeof b - strlen(b), ", got %g", v->valuedouble);
        return dc_json_bad(w, key, b);
    }
    *out = v->valuedouble;
    return DC_OK;
}

dc_status dc_json_int(const dc_where *w, const cJSON *o, const char *key, int64_t lo, int64_t hi, int64_t def, bool required,
                      int64_t *out) {
    double d = 0;
    dc_status s = dc_json_num(w, o, key, (double)lo, (double)hi, (double)def, required, &d);
    if (s) return s;
    if (d != floor(d)) {
        char b[64];
        snprintf(b, sizeof b, "must be a whole number, got %g", d);
        return dc_json_bad(w, key, b);
    }
    *out = (int64_t)d;
    return DC_OK;
}

dc_status dc_json_bool(const dc_where *w, const cJSON *o, const char *key, bool def, bool *out) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!v) {
        *out = def;
        return DC_OK;
    }
    if (!cJSON_IsBool(v)) return dc_json_bad(w, key, "must be true or false");
    *out = cJSON_IsTrue(v);
    return DC_OK;
}

const char *dc_json_str(const dc_where *w, const cJSON *o, const char *key, bool required) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!v && !required) return NULL;
    if (!cJSON_IsString(v) || !v->valuestring) {
        dc_json_bad(w, key, v ? "must be a string" : "is missing");
        return NULL;
    }
    return v->valuestring;
}

int dc_json_ints(const dc_where *w, const cJSON *o, const char *key, int n, int64_t lo, int64_t hi, int64_t *out) {
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
    dc_json_bad(w, key, b);
    return -1;
}

/* The deepest nesting of arrays and objects in JSON text (inside strings nothing counts). */
int dc_json_depth(const char *t) {
    int d = 0, most = 0;
    bool str = false;
    for (; *t; t++) {
        if (str) {
            if (*t == '\\' && t[1]) t++;
            else if (*t == '"') str = false;
        } else if (*t == '"') {
            str = true;
        } else if (*t == '[' || *t == '{') {
            if (++d > most) most = d;
        } else if (*t == ']' || *t == '}') {
            d--;
        }
    }
    return most;
}
