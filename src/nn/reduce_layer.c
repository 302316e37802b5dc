/* Reduce: the mean, sum or maximum of a sample over some of its axes (ONNX's ReduceMean,
 * ReduceSum, ReduceMax). */
#include "layer.h"

#include <string.h>

typedef struct reduce_cfg {
    int op;
    int naxes;
    int64_t axes[DC_MAX_DIMS - 1]; /* 1-based: the first axis after the batch is 1 */
    bool keepdims;
} reduce_cfg;

static const char *reduce_name_of(int v) {
    static const char *const names[] = {"mean", "sum", "max"};
    _Static_assert(sizeof names / sizeof names[0] == DC_REDUCE_OP_COUNT, "one name per reduction");
    return v >= 0 && v < DC_REDUCE_OP_COUNT ? names[v] : NULL;
}

static const dc_field reduce_fields[] = {
    DC_F_ENUM(reduce_cfg, "op", op, reduce_name_of, DC_REDUCE_OP_COUNT, DC_REDUCE_OP_MEAN, 0),
    DC_F_DIMS(reduce_cfg, "axes", axes, naxes, DC_MAX_DIMS - 1, 1, DC_MAX_DIMS - 1, DC_FIELD_REQUIRED),
    DC_F_BOOL(reduce_cfg, "keepdims", keepdims, true, 0),
};

static dc_status reduce_build(dc_layer *l) {
    const reduce_cfg *c = DC_CCFG(l, reduce_cfg);
    bool on[DC_MAX_DIMS] = {false};
    char a[160];
    for (int i = 0; i < c->naxes; i++) {
        if (c->axes[i] > l->in_ndim || on[c->axes[i]])
            return dc_error(DC_ERR_SHAPE, "%s: axis %lld of %s is %s", l->name, (long long)c->axes[i],
                            dc_layer_shape_str(l->in_ndim, l->in_shape, a, sizeof a), on[c->axes[i]] ? "named twice" : "not there");
        on[c->axes[i]] = true;
    }
    int k = 0;
    for (int i = 0; i < l->in_ndim; i++) {
        if (!on[i + 1]) l->out_shape[k++] = l->in_shape[i];
        else if (c->keepdims) l->out_shape[k++] = 1;
    }
    if (k == 0) l->out_shape[k++] = 1; /* every axis reduced: one value a row */
    l->out_ndim = k;
    return DC_OK;
}

static dc_tensor *reduce_forward(dc_layer *l, dc_fwd *f, dc_tensor *const *x, int n) {
    const reduce_cfg *c = DC_CCFG(l, reduce_cfg);
    dc_tensor *y = x[0];
    /* the highest axis first, so the lower ones keep their numbers */
    for (int a = DC_MAX_DIMS - 1; a >= 1; a--) {
        bool on = false;
        for (int i = 0; i < c->naxes; i++) on |= c->axes[i] == a;
        if (!on) continue;
        y = c->op == DC_REDUCE_OP_SUM ? dc_sum_axis(f->ctx, y, a, true)
            : c->op == DC_REDUCE_OP_MAX ? dc_max_axis(f->ctx, y, a, true) : dc_mean_axis(f->ctx, y, a, true);
    }
    int64_t sh[DC_MAX_DIMS];
    sh[0] = x[0]->shape[0];
    memcpy(sh + 1, l->out_shape, (size_t)l->out_ndim * sizeof *sh);
    return dc_reshape(f->ctx, y, l->out_ndim + 1, sh);
}

const dc_layer_type dc_reduce_type = {
    .name = "Reduce", .stem = "reduce", .cfg_size = sizeof(reduce_cfg), .fields = reduce_fields,
    .nfields = DC_ARRAY_LEN(reduce_fields), .build = reduce_build, .forward = reduce_forward,
};
DC_REGISTER_LAYER(dc_reduce_type);

dc_layer *dc_reduce_layer(dc_reduce_op op, int naxes, const int *axes, bool keepdims) {
    if ((int)op < 0 || op >= DC_REDUCE_OP_COUNT || naxes < 1 || naxes > DC_MAX_DIMS - 1 || !axes)
        return dc_error_null(DC_ERR_ARG, "reduce: operation %d over %d axes", (int)op, naxes);
    dc_layer *l = dc_layer_create(&dc_reduce_type);
    double d[DC_MAX_DIMS];
    for (int i = 0; i < naxes; i++) d[i] = axes[i];
    if (l && (dc_layer_set_int(l, "op", op) || dc_layer_set_field(l, "axes", d, naxes) || dc_layer_set_bool(l, "keepdims", keepdims))) {
        dc_layer_free(l);
        return NULL;
    }
    return l;
}
