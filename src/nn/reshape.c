/* Reshape (Keras's Reshape): each row's values in the same order under another shape; one
 * dimension of the target may be -1, standing for what the others leave. */
#include "layer.h"

#include <string.h>

typedef struct reshape_cfg {
    int ndim;
    int64_t shape[DC_MAX_DIMS - 1]; /* the target without the batch axis, as given (-1 kept) */
} reshape_cfg;
static const dc_field reshape_fields[] = {
    DC_F_DIMS(reshape_cfg, "target_shape", shape, ndim, DC_MAX_DIMS - 1, -1, (double)(INT64_C(1) << 40), DC_FIELD_REQUIRED),
};

static dc_status reshape_check(const dc_layer *l) {
    const reshape_cfg *c = DC_CCFG(l, reshape_cfg);
    const char *who = l->name[0] ? l->name : "reshape";
    if (c->ndim < 1) return dc_error(DC_ERR_ARG, "%s: the target shape needs 1 to %d dimensions", who, DC_MAX_DIMS - 1);
    int unknown = 0;
    for (int i = 0; i < c->ndim; i++) {
        if (c->shape[i] == 0) return dc_error(DC_ERR_ARG, "%s: dimension %d of the target shape is 0", who, i);
        unknown += c->shape[i] < 0;
    }
    if (unknown > 1) return dc_error(DC_ERR_ARG, "%s: the target shape has %d dimensions of -1; at most one may be", who, unknown);
    return DC_OK;
}

static dc_status reshape_build(dc_layer *l) {
    const reshape_cfg *c = DC_CCFG(l, reshape_cfg);
    int64_t in = 1, known = 1;
    int hole = -1;
    for (int i = 0; i < l->in_ndim; i++) in *= l->in_shape[i];
    for (int i = 0; i < c->ndim; i++) {
        if (c->shape[i] < 0) hole = i;
        else if (known > (INT64_C(1) << 62) / c->shape[i]) known = -1; /* no row holds that many */
        else known *= c->shape[i];
        if (known < 0) break;
    }
    bool fits = known > 0 && (hole >= 0 ? in % known == 0 : in == known);
    char a[160], b[160];
    if (!fits)
        return dc_error(DC_ERR_SHAPE, "%s: cannot reshape %s (%lld values a row) into %s", l->name,
                        dc_layer_shape_str(l->in_ndim, l->in_shape, a, sizeof a), (long long)in,
                        dc_layer_shape_str(c->ndim, c->shape, b, sizeof b));
    l->out_ndim = c->ndim;
    memcpy(l->out_shape, c->shape, (size_t)c->ndim * sizeof *c->shape);
    if (hole >= 0) l->out_shape[hole] = in / known;
    return DC_OK;
}

static dc_tensor *reshape_forward(dc_layer *l, dc_fwd *f, dc_tensor *const *x, int n) {
    int64_t sh[DC_MAX_DIMS] = {x[0]->shape[0]};
    memcpy(sh + 1, l->out_shape, (size_t)l->out_ndim * sizeof *sh);
    return dc_reshape(f->ctx, x[0], l->out_ndim + 1, sh);
}

const dc_layer_type dc_reshape_type = {
    .name = "Reshape", .stem = "reshape", .cfg_size = sizeof(reshape_cfg), .fields = reshape_fields,
    .nfields = DC_ARRAY_LEN(reshape_fields), .build = reshape_build, .forward = reshape_forward, .check = reshape_check,
};
DC_REGISTER_LAYER(dc_reshape_type);

dc_layer *dc_reshape_layer(int ndim, const int64_t *target_shape) {
    if (ndim < 1 || ndim > DC_MAX_DIMS - 1 || !target_shape)
        return dc_error_null(DC_ERR_ARG, "reshape: the target shape needs 1 to %d dimensions, got %d", DC_MAX_DIMS - 1, ndim);
    dc_layer *l = dc_layer_create(&dc_reshape_type);
    double d[DC_MAX_DIMS];
    for (int i = 0; i < ndim; i++) d[i] = (double)target_shape[i];
    if (l && dc_layer_set_field(l, "target_shape", d, ndim)) {
        dc_layer_free(l);
        return NULL;
    }
    return l;
}
