/* Arithmetic: element-wise a + b, a - b, a * b or a / b of two graph values with NumPy's
 * broadcasting (ONNX's Add, Sub, Mul and Div of two computed values import as this layer; one
 * computed value and a constant as ValueArithmetic). */
#include "layer.h"

#include <string.h>

typedef struct arith_cfg {
    int op;
} arith_cfg;

static const char *arith_name_of(int v) {
    static const char *const names[] = {"add", "sub", "mul", "div"};
    _Static_assert(sizeof names / sizeof names[0] == DC_ARITH_COUNT, "one name per operation");
    return v >= 0 && v < DC_ARITH_COUNT ? names[v] : NULL;
}

static const dc_field arith_fields[] = {
    DC_F_ENUM(arith_cfg, "op", op, arith_name_of, DC_ARITH_COUNT, DC_ARITH_ADD, 0),
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
    char a[160], b[160];
    if (l->nin != 2) return dc_error(DC_ERR_ARG, "%s: Arithmetic takes two inputs, got %d", l->name, l->nin);
    if (!broadcast(l->xin_ndim[0], l->xin_shape[0], l->xin_ndim[1], l->xin_shape[1], &l->out_ndim, l->out_shape))
        return dc_error(DC_ERR_SHAPE, "%s: inputs %s and %s do not broadcast", l->name,
                        dc_layer_shape_str(l->xin_ndim[0], l->xin_shape[0], a, sizeof a),
                        dc_layer_shape_str(l->xin_ndim[1], l->xin_shape[1], b, sizeof b));
    return DC_OK;
}

static dc_tensor *arith_apply(dc_ctx *ctx, int op, dc_tensor *a, dc_tensor *b) {
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
    return arith_apply(f->ctx, c->op, lift(f->ctx, x[0], l->out_ndim), lift(f->ctx, x[1], l->out_ndim));
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
