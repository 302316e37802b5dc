/* io: the options of a record (a layer type, an optimiser) to and from JSON, by walking its
 * field schema: no type's name or option is known here. */
#ifndef DC_SCHEMA_JSON_H
#define DC_SCHEMA_JSON_H

#include "../base/schema.h"

#include <cjson/cJSON.h>

/* Where a message points: "model.safetensors: layer 3". */
typedef struct dc_where {
    const char *path;
    char what[96];
} dc_where;

/* DC_ERR_FORMAT "<path>: <what>: "<key>" <want>". */
dc_status dc_json_bad(const dc_where *w, const char *key, const char *want);

/* Adds every present field of cfg to o under its key. */
void dc_json_add_fields(cJSON *o, const dc_field *fields, int n, const void *cfg);

/* Sets the fields of cfg from o's keys: every key must be a field (or one of `skip`, a
 * NULL-ended list of keys the caller reads itself), of the field's kind and bounds; a
 * required field must be present. set(ctx, field, values, count) writes one field through the
 * caller's checked setter. Messages name w, the key and the value. */
typedef dc_status (*dc_json_setter)(void *ctx, const dc_field *f, const double *v, int n);
dc_status dc_json_read_fields(const dc_where *w, const cJSON *o, const dc_field *const *tables, const int *counts, int ntables,
                              const char *const *skip, dc_json_setter set, void *ctx);

/* The deepest nesting of arrays and objects in NUL-terminated JSON text (inside strings nothing
 * counts): bounded before cJSON's recursive parser sees the text. */
int dc_json_depth(const char *text);

/* Validated JSON values. */
dc_status dc_json_num(const dc_where *w, const cJSON *o, const char *key, double lo, double hi, double def, bool required, double *out);
dc_status dc_json_int(const dc_where *w, const cJSON *o, const char *key, int64_t lo, int64_t hi, int64_t def, bool required,
                      int64_t *out);
dc_status dc_json_bool(const dc_where *w, const cJSON *o, const char *key, bool def, bool *out);
const char *dc_json_str(const dc_where *w, const cJSON *o, const char *key, bool required);
/* An array of exactly n (or, if n < 0, 1..-n) whole numbers in [lo, hi]; returns the count or -1. */
int dc_json_ints(const dc_where *w, const cJSON *o, const char *key, int n, int64_t lo, int64_t hi, int64_t *out);

#endif
