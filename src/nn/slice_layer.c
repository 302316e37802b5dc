/* Slice: the indices [start, stop) of one axis of a sample (ONNX's Slice with step 1, and
 * Gather of one index before a Reshape drops the axis). */
#include "layer.h"

typedef struct slice_cfg {
    int axis; /* 1-based: the first axis after the batch is 1 */
    int64_t start, stop;
} slice_cfg;
static const dc_field slice_fields[] = {
    DC_F_INT(slice_cfg, "axis", axis, 1, DC_MAX_DIMS - 1, 1, DC_FIELD_REQUIRED),
    /* stop before start: a wider slice is what lets start move off 0 */
    DC_F_INT(slice_cfg, "stop", stop, 1, (double)(INT64_C(1) << 40), 1, DC_FIELD_REQUIRED),
    DC_F_INT(slice_cfg, "start", start, 0, (double)(INT64_C(1) << 40), 0, DC_FIELD_REQUIRED),
};

static dc_status slice_build(dc_layer *l) {
    const slice_cfg *c = DC_CCFG(l, slice_cfg);
    char a[160];
    if (c->axis > l->in_ndim || c->start >= c->stop || c->stop > l->in_shape[c->axis - 1])
        return dc_error(DC_ERR_SHAPE, "%s: cannot take [%lld, %lld) of axis %d of %s", l->name, (long long)c->start,
                        (long long)c->stop, c->axis, dc_layer_shape_str(l->in_ndim, l->in_shape, a, sizeof a));
    dc_layer_same_shape(l);
    l->out_shape[c->axis - 1] = c->stop - c->start;
    return DC_OK;
}

static dc_tensor *slice_forward(dc_layer *l, dc_fwd *f, dc_tensor *const *x, int n) {
    const slice_cfg *c = DC_CCFG(l, slice_cfg);
    return dc_contiguous(f->ctx, dc_slice(f->ctx, x[0], c->axis, c->start, c->stop));
}

const dc_layer_type dc_slice_type = {
    .name = "Slice", .stem = "slice", .cfg_size = sizeof(slice_cfg), .fields = slice_fields,
    .nfields = DC_ARRAY_LEN(slice_fields), .build = slice_build, .forward = slice_forward,
};
DC_REGISTER_LAYER(dc_slice_type);

dc_layer *dc_slice_layer(int axis, int64_t start, int64_t stop) {
    dc_layer *l = dc_layer_create(&dc_slice_type);
    if (l && (dc_layer_set_int(l, "axis", axis) || dc_layer_set_int(l, "start", start) || dc_layer_set_int(l, "stop", stop))) {
        dc_layer_free(l);
        return NULL;
    }
    return l;
}
