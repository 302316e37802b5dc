/* Arithmetic: element-wise a + b, a - b, a * b or a / b with NumPy's broadcasting, of two graph
 * values, or of one graph value and a tensor the layer holds (its parameter "value", trained or
 * fixed). ONNX's Add, Sub, Mul and Div import as this layer. */
#include "layer.h"

#include <string.h>

typedef struct arith_cfg {
    int op;
    int ndim;
    int64_t shape[DC_MAX_DIMS - 1]; /* the held value's shape (without batch); none with two inputs */
    bool reverse;                   /* value op x instead of x op value */
    bool trainable;                 /* the held value is trained (else fixed state) */
} arith_cfg;

static const char *arith_name_of(int v) {
    static const char *const names[] = {"add", "sub", "mul", "div"};
    _Static_assert(sizeof names / sizeof names[0] == DC_ARITH_COUNT, "one name per operation");
    return v >= 0 && v < DC_ARITH_COUNT ? names[v] : NULL;
}

static const dc_field arith_fields[] = {
    DC_F_ENUM(arith_cfg, "op", op, arith_name_of, DC_ARITH_COUNT, DC_ARITH_ADD, 0),
    DC_F_DIMS(arith_cfg, "value_shape", shape, ndim, DC_MAX_DIMS - 1, 1, (double)(INT64_C(1) << 31), 0),
    DC_F_BOOL(arith_cfg, "reverse", reverse, false, 0),
    DC_F_BOOL(arith_cfg, "trainable_value", trainable, true, 0),
};

/* NumPy's broadcast of a[na] and b[nb] (right-aligned) into out; false when they do not fit. */
static bool broadcast(int na, const int64_t *a, int nb, const int64_t *b, int *no, int64_t *out) {
    int n = na > nb ? na : nb;
    for (int i = 0; i < n; i++) {
        int64_t x = i < n - na ? 1 : a[i - (n - na)], y = i < n - nb ? 1 : b[i - (n - nb)];
        if (x != y && x != 1 && y != 1) return false;
        out[i] = x == 1 ? y : x;
    }
    *no = n;
    return true;
}

static dc_status arith_build(dc_layer *l) {
    const arith_cfg *c = DC_CCFG(l, arith_cfg);
    char a[160], b[160];
    if (l->nin >= 2) {
        if (c->ndim) return dc_error(DC_ERR_ARG, "%s: a value_shape is for one input; this layer has two", l->name);
        if (!broadcast(l->xin_ndim[0], l->xin_shape[0], l->xin_ndim[1], l->xin_shape[1], &l->out_ndim, l->out_shape))
            return dc_error(DC_ERR_SHAPE, "%s: inputs %s and %s do not broadcast", l->name,
                            dc_layer_shape_str(l->xin_ndim[0], l->xin_shape[0], a, sizeof a),
                            dc_layer_shape_str(l->xin_ndim[1], l->xin_shape[1], b, sizeof b));
        return DC_OK;
    }
    if (c->ndim < 1) return dc_error(DC_ERR_ARG, "%s: one input takes a value_shape for the value the layer holds", l->name);
    if (c->ndim > l->in_ndim || !broadcast(l->in_ndim, l->in_shape, c->ndim, c->shape, &l->out_ndim, l->out_shape))
        return dc_error(DC_ERR_SHAPE, "%s: the input %s and the value %s do not broadcast (the value has no batch axis)", l->name,
                        dc_layer_shape_str(l->in_ndim, l->in_shape, a, sizeof a), dc_shape_str(c->ndim, c->shape, b, sizeof b));
    return c->trainable ? dc_layer_declare(l, "value", c->ndim, c->shape, DC_INIT_ZEROS, 0)
                        : dc_layer_declare_state(l, "value", c->ndim, c->shape, DC_INIT_ZEROS, 0);
}

static dc_tensor *apply(dc_ctx *ctx, int op, dc_tensor *a, dc_tensor *b) {
    switch (op) {
    case DC_ARITH_SUB: return dc_sub(ctx, a, b);
    case DC_ARITH_MUL: return dc_mul(ctx, a, b);
    case DC_ARITH_DIV: return dc_div(ctx, a, b);
    default: return dc_add(ctx, a, b);
    }
}

/* x [N, s...] with leading axes of 1 after N up to rank nd + 1. */
static dc_tensor *lift(dc_ctx *ctx, dc_tensor *x, int nd) {
    int have = x->ndim - 1;
    if (have >= nd) return x;
    int64_t sh[DC_MAX_DIMS];
    sh[0] = x->shape[0];
    for (int i = 0; i < nd - have; i++) sh[1 + i] = 1;
    memcpy(sh + 1 + nd - have, x->shape + 1, (size_t)have * sizeof *sh);
    return dc_reshape(ctx, x, nd + 1, sh);
}

static dc_tensor *arith_forward(dc_layer *l, dc_fwd *f, dc_tensor *const *x, int n) {
    const arith_cfg *c = DC_CCFG(l, arith_cfg);
    if (n >= 2) return apply(f->ctx, c->op, lift(f->ctx, x[0], l->out_ndim), lift(f->ctx, x[1], l->out_ndim));
    /* the held value as [1, 1..., shape] of the input's rank */
    int64_t sh[DC_MAX_DIMS];
    int nd = l->in_ndim + 1;
    for (int i = 0; i < nd - c->ndim; i++) sh[i] = 1;
    memcpy(sh + nd - c->ndim, c->shape, (size_t)c->ndim * sizeof *sh);
    dc_tensor *v = dc_reshape(f->ctx, l->param[0], nd, sh);
    return c->reverse ? apply(f->ctx, c->op, v, x[0]) : apply(f->ctx, c->op, x[0], v);
}

const dc_layer_type dc_arithmetic_type = {
    .name = "Arithmetic", .stem = "arithmetic", .cfg_size = sizeof(arith_cfg), .fields = arith_fields,
    .nfields = DC_ARRAY_LEN(arith_fields), .build = arith_build, .forward = arith_forward, .max_inputs = 2,
};
DC_REGISTER_LAYER(dc_arithmetic_type);

dc_layer *dc_arithmetic_layer(dc_arith_op op) {
    if ((int)op < 0 || op >= DC_ARITH_COUNT) return dc_error_null(DC_ERR_ARG, "arithmetic: operation %d is not one of add, sub, mul, div", (int)op);
    dc_layer *l = dc_layer_create(&dc_arithmetic_type);
    if (l) DC_CFG(l, arith_cfg)->op = op;
    return l;
}

dc_layer *dc_arithmetic_value_layer(dc_arith_op op, int ndim, const int64_t *shape, bool reverse, bool trainable) {
    if (ndim < 1 || ndim > DC_MAX_DIMS - 1 || !shape)
        return dc_error_null(DC_ERR_ARG, "arithmetic: the value needs 1 to %d dimensions, got %d", DC_MAX_DIMS - 1, ndim);
    dc_layer *l = dc_arithmetic_layer(op);
    double d[DC_MAX_DIMS];
    for (int i = 0; i < ndim; i++) d[i] = (double)shape[i];
    if (l && (dc_layer_set_field(l, "value_shape", d, ndim) || dc_layer_set_bool(l, "reverse", reverse) ||
              dc_layer_set_bool(l, "trainable_value", trainable))) {
        dc_layer_free(l);
        return NULL;
    }
    return l;
}
