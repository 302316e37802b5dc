/* ValueArithmetic: element-wise x op value of a graph value x and a tensor the layer holds, its
 * parameter "value" (trained, or fixed state), with NumPy's broadcasting; value op x with
 * reverse. ONNX's Add, Sub, Mul and Div of a computed value and a constant import as this
 * layer: a bias, a scale, the 1 / sqrt(d) of attention. */
#include "layer.h"

#include <string.h>

typedef struct varith_cfg {
    int op;
    int ndim;
    int64_t shape[DC_MAX_DIMS - 1]; /* the value's shape (no batch axis) */
    bool reverse;                   /* value op x instead of x op value */
    bool trainable;                 /* the value is trained (else fixed state) */
} varith_cfg;

static const char *varith_name_of(int v) {
    static const char *const names[] = {"add", "sub", "mul", "div"};
    _Static_assert(sizeof names / sizeof names[0] == DC_ARITH_COUNT, "one name per operation");
    return v >= 0 && v < DC_ARITH_COUNT ? names[v] : NULL;
}

static const dc_field varith_fields[] = {
    DC_F_ENUM(varith_cfg, "op", op, varith_name_of, DC_ARITH_COUNT, DC_ARITH_ADD, 0),
    DC_F_DIMS(varith_cfg, "value_shape", shape, ndim, DC_MAX_DIMS - 1, 1, (double)(INT64_C(1) << 31), DC_FIELD_REQUIRED),
    DC_F_BOOL(varith_cfg, "reverse", reverse, false, 0),
    DC_F_BOOL(varith_cfg, "trainable_value", trainable, true, 0),
};

static dc_status varith_build(dc_layer *l) {
    const varith_cfg *c = DC_CCFG(l, varith_cfg);
    char a[160], b[160];
    bool ok = c->ndim >= 1 && c->ndim <= l->in_ndim;
    dc_layer_same_shape(l);
    for (int i = 0; ok && i < c->ndim; i++) {
        int64_t *o = &l->out_shape[l->in_ndim - c->ndim + i], v = c->shape[i];
        ok = *o == v || *o == 1 || v == 1;
        if (*o == 1) *o = v;
    }
    if (!ok)
        return dc_error(DC_ERR_SHAPE, "%s: the input %s and the value %s do not broadcast (the value has no batch axis)", l->name,
                        dc_layer_shape_str(l->in_ndim, l->in_shape, a, sizeof a), dc_shape_str(c->ndim, c->shape, b, sizeof b));
    return c->trainable ? dc_layer_declare(l, "value", c->ndim, c->shape, DC_INIT_ZEROS, 0)
                        : dc_layer_declare_state(l, "value", c->ndim, c->shape, DC_INIT_ZEROS, 0);
}

static dc_tensor *varith_apply(dc_ctx *ctx, int op, dc_tensor *a, dc_tensor *b) {
    switch (op) {
    case DC_ARITH_SUB: return dc_sub(ctx, a, b);
    case DC_ARITH_MUL: return dc_mul(ctx, a, b);
    case DC_ARITH_DIV: return dc_div(ctx, a, b);
    default: return dc_add(ctx, a, b);
    }
}

static dc_tensor *varith_forward(dc_layer *l, dc_fwd *f, dc_tensor *const *x, int n) {
    const varith_cfg *c = DC_CCFG(l, varith_cfg);
    /* the value as [1, 1..., shape] of the input's rank */
    int64_t sh[DC_MAX_DIMS];
    int nd = l->in_ndim + 1;
    for (int i = 0; i < nd - c->ndim; i++) sh[i] = 1;
    memcpy(sh + nd - c->ndim, c->shape, (size_t)c->ndim * sizeof *sh);
    dc_tensor *v = dc_reshape(f->ctx, l->param[0], nd, sh);
    return c->reverse ? varith_apply(f->ctx, c->op, v, x[0]) : varith_apply(f->ctx, c->op, x[0], v);
}

const dc_layer_type dc_value_arithmetic_type = {
    .name = "ValueArithmetic", .stem = "value_arithmetic", .cfg_size = sizeof(varith_cfg), .fields = varith_fields,
    .nfields = DC_ARRAY_LEN(varith_fields), .build = varith_build, .forward = varith_forward,
};
DC_REGISTER_LAYER(dc_value_arithmetic_type);

dc_layer *dc_arithmetic_value_layer(dc_arith_op op, int ndim, const int64_t *shape, bool reverse, bool trainable) {
    if ((int)op < 0 || op >= DC_ARITH_COUNT) return dc_error_null(DC_ERR_ARG, "value_arithmetic: operation %d is not one of add, sub, mul, div", (int)op);
    if (ndim < 1 || ndim > DC_MAX_DIMS - 1 || !shape)
        return dc_error_null(DC_ERR_ARG, "value_arithmetic: the value needs 1 to %d dimensions, got %d", DC_MAX_DIMS - 1, ndim);
    dc_layer *l = dc_layer_create(&dc_value_arithmetic_type);
    double d[DC_MAX_DIMS];
    for (int i = 0; i < ndim; i++) d[i] = (double)shape[i];
    if (l && (dc_layer_set_int(l, "op", op) || dc_layer_set_field(l, "value_shape", d, ndim) || dc_layer_set_bool(l, "reverse", reverse) ||
              dc_layer_set_bool(l, "trainable_value", trainable))) {
        dc_layer_free(l);
        return NULL;
    }
    return l;
}
