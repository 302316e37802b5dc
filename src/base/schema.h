/* base: field schemas. A record type that users configure (a layer type, an optimiser) describes
 * its options as a table of fields: key, kind, offset into its config struct, bounds, default.
 * Construction, checked setters, model files and summaries all walk the same table, so an option
 * is declared once, in the file of the type that has it. */
#ifndef DC_SCHEMA_H
#define DC_SCHEMA_H

#include "base.h"

#include <stddef.h>

typedef enum dc_field_kind {
    DC_FIELD_INT,   /* int64_t, a whole number in [lo, hi] */
    DC_FIELD_FLOAT, /* float, finite, in [lo, hi] */
    DC_FIELD_BOOL,  /* bool */
    DC_FIELD_ENUM,  /* int, one of the names name_of(0 .. count-1); saved by name */
    DC_FIELD_INTS,  /* int[count], each a whole number in [lo, hi] (kernel sizes, strides, padding) */
    DC_FIELD_DIMS,  /* int64_t[count] of which the int at len_offset says how many (1..count) are used */
} dc_field_kind;

enum {
    DC_FIELD_REQUIRED = 1, /* a model file must give it (it has no meaningful default) */
    DC_FIELD_RUNTIME = 2,  /* may change after the layer is built (it does not change shapes) */
    DC_FIELD_WHEN = 4,     /* present only when the bool at when_offset is true; setting it sets that bool */
};

typedef struct dc_field {
    const char *key;   /* the name in model files and setters: "units", "strides" */
    dc_field_kind kind;
    size_t offset;     /* of the value in the config struct */
    double lo, hi;     /* bounds of each number (INT, FLOAT, INTS, DIMS) */
    double def;        /* the default (INT, FLOAT, BOOL, ENUM; each element of INTS) */
    unsigned flags;
    int count;                    /* INTS, DIMS: elements; ENUM: names */
    const char *(*name_of)(int);  /* ENUM: the name of value i */
    size_t len_offset;            /* DIMS: the int holding the used length */
    size_t when_offset;           /* DC_FIELD_WHEN: the bool saying the field is present */
} dc_field;

/* Designated-initialiser shorthands for schema tables; T is the config struct. */
#define DC_F_INT(T, key, member, lo, hi, def, flags) \
    {key, DC_FIELD_INT, offsetof(T, member), lo, hi, def, flags, 0, NULL, 0, 0}
#define DC_F_FLOAT(T, key, member, lo, hi, def, flags) \
    {key, DC_FIELD_FLOAT, offsetof(T, member), lo, hi, def, flags, 0, NULL, 0, 0}
#define DC_F_BOOL(T, key, member, def, flags) \
    {key, DC_FIELD_BOOL, offsetof(T, member), 0, 1, def, flags, 0, NULL, 0, 0}
#define DC_F_ENUM(T, key, member, name_of, count, def, flags) \
    {key, DC_FIELD_ENUM, offsetof(T, member), 0, (count) - 1, def, flags, count, name_of, 0, 0}
#define DC_F_INTS(T, key, member, n, lo, hi, def, flags) \
    {key, DC_FIELD_INTS, offsetof(T, member), lo, hi, def, flags, n, NULL, 0, 0}
#define DC_F_DIMS(T, key, member, lenmember, n, lo, hi, flags) \
    {key, DC_FIELD_DIMS, offsetof(T, member), lo, hi, 0, flags, n, NULL, offsetof(T, lenmember), 0}
/* An INTS field present only when the bool `whenmember` is set (a setter sets it). */
#define DC_F_INTS_WHEN(T, key, member, n, lo, hi, whenmember) \
    {key, DC_FIELD_INTS, offsetof(T, member), lo, hi, 0, DC_FIELD_WHEN, n, NULL, 0, offsetof(T, whenmember)}

/* The largest element count of an INTS or DIMS field. */
#define DC_FIELD_MAX_COUNT 8

/* The field named key in fields[0..n), or NULL. */
const dc_field *dc_field_find(const dc_field *fields, int n, const char *key);
/* Writes every field's default into cfg (DIMS fields: length 0; WHEN fields: absent). */
void dc_field_defaults(const dc_field *fields, int n, void *cfg);

/* Checked writes of one field: the value must suit the kind and bounds, else DC_ERR_ARG with a
 * message "<who>: <key> ..." giving the value and the allowed range. v holds the value: for INT,
 * FLOAT, BOOL and ENUM v[0]; for INTS and DIMS v[0..nv). */
dc_status dc_field_set(const dc_field *f, void *cfg, const double *v, int nv, const char *who);
/* The values of a field into v (at most DC_FIELD_MAX_COUNT); returns how many (0 for an absent
 * WHEN field). */
int dc_field_get(const dc_field *f, const void *cfg, double *v);
/* Whether a WHEN field is present (always true for other fields). */
bool dc_field_present(const dc_field *f, const void *cfg);
/* "int", "number", "bool", "one of ...", "array of 2 whole numbers": for messages. */
const char *dc_field_kind_name(const dc_field *f, char *buf, size_t size);

#endif
