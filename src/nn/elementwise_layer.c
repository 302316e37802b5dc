/* Elementwise: y = f(x) applied to every element of one input, f chosen by the option "op" with
 * two numbers "alpha" and "beta" where f takes them. The ONNX operators of one tensor with no
 * weights (Neg, Abs, Exp, Log, Sqrt, Reciprocal, Pow by a constant, Clip, Softplus, Softsign,
 * Selu, Celu, HardSigmoid, HardSwish, Erf, ThresholdedRelu, Shrink, the trigonometric and
 * hyperbolic functions and their inverses, Floor, Ceil, Round, Sign) import as this one layer.
 * Its differentiable op (forward and backward side by side, as src/ops/ does) saves x and y:
 * the gradient is g * f'(x), f' written out per operation. */
#include "layer.h"

#include "../ops/ops.h"

#include <float.h>
#include <math.h>

/* The operations, in the order of their names below (saved in model files by name). */
enum {
    EW_NEG, EW_ABS, EW_EXP, EW_LOG, EW_SQRT, EW_RECIPROCAL, EW_POW, EW_CLIP, EW_SOFTPLUS, EW_SOFTSIGN, EW_SELU, EW_CELU,
    EW_HARD_SIGMOID, EW_HARD_SWISH, EW_ERF, EW_THRESHOLDED_RELU, EW_SIN, EW_COS, EW_TAN, EW_ASIN, EW_ACOS, EW_ATAN, EW_SINH,
    EW_COSH, EW_ASINH, EW_ACOSH, EW_ATANH, EW_FLOOR, EW_CEIL, EW_ROUND, EW_SIGN, EW_SHRINK, EW_COUNT
};
static const char *const ew_names[] = {"neg",      "abs",      "exp",          "log",        "sqrt", "reciprocal",
                                       "pow",      "clip",     "softplus",     "softsign",   "selu", "celu",
                                       "hard_sigmoid", "hard_swish", "erf", "thresholded_relu", "sin", "cos",
                                       "tan",      "asin",     "acos",         "atan",       "sinh", "cosh",
                                       "asinh",    "acosh",    "atanh",        "floor",      "ceil", "round",
                                       "sign",     "shrink"};
_Static_assert(sizeof ew_names / sizeof ew_names[0] == EW_COUNT, "one name per operation");

typedef struct ew_cfg {
    int op;
    float alpha; /* pow: the exponent; clip: the low bound; selu, celu, thresholded_relu, hard_sigmoid: alpha;
                    shrink: lambda */
    float beta;  /* clip: the high bound; selu: gamma; hard_sigmoid, shrink: beta (shrink's bias) */
} ew_cfg;

static const char *ew_name_of(int v) { return v >= 0 && v < EW_COUNT ? ew_names[v] : NULL; }

static const dc_field ew_fields[] = {
    DC_F_ENUM(ew_cfg, "op", op, ew_name_of, EW_COUNT, EW_NEG, 0),
    DC_F_FLOAT(ew_cfg, "alpha", alpha, -FLT_MAX, FLT_MAX, 0, 0),
    DC_F_FLOAT(ew_cfg, "beta", beta, -FLT_MAX, FLT_MAX, 0, 0),
};

static float ew_f(int op, float x, float a, float b) {
    switch (op) {
    case EW_NEG: return -x;
    case EW_ABS: return fabsf(x);
    case EW_EXP: return expf(x);
    case EW_LOG: return logf(x);
    case EW_SQRT: return sqrtf(x);
    case EW_RECIPROCAL: return 1.0f / x;
    case EW_POW: return powf(x, a);
    case EW_CLIP: return x < a ? a : x > b ? b : x;
    case EW_SOFTPLUS: return x > 0 ? x + log1pf(expf(-x)) : log1pf(expf(x));
    case EW_SOFTSIGN: return x / (1.0f + fabsf(x));
    case EW_SELU: return x > 0 ? b * x : b * a * expm1f(x);
    case EW_CELU: return x > 0 ? x : a * expm1f(x / a);
    case EW_HARD_SIGMOID: return fmaxf(0.0f, fminf(1.0f, a * x + b));
    case EW_HARD_SWISH: return x * fmaxf(0.0f, fminf(1.0f, x / 6.0f + 0.5f));
    case EW_ERF: return erff(x);
    case EW_THRESHOLDED_RELU: return x > a ? x : 0.0f;
    case EW_SIN: return sinf(x);
    case EW_COS: return cosf(x);
    case EW_TAN: return tanf(x);
    case EW_ASIN: return asinf(x);
    case EW_ACOS: return acosf(x);
    case EW_ATAN: return atanf(x);
    case EW_SINH: return sinhf(x);
    case EW_COSH: return coshf(x);
    case EW_ASINH: return asinhf(x);
    case EW_ACOSH: return acoshf(x);
    case EW_ATANH: return atanhf(x);
    case EW_FLOOR: return floorf(x);
    case EW_CEIL: return ceilf(x);
    case EW_ROUND: return rintf(x); /* halves to even, as ONNX's Round */
    case EW_SIGN: return x > 0 ? 1.0f : x < 0 ? -1.0f : 0.0f;
    default: return x < -a ? x + b : x > a ? x - b : 0.0f;
    }
}
/* df/dx at x (y = f(x)); at the kinks the derivative PyTorch takes. */
static float ew_df(int op, float x, float y, float a, float b) {
    switch (op) {
    case EW_NEG: return -1.0f;
    case EW_ABS: return x > 0 ? 1.0f : x < 0 ? -1.0f : 0.0f;
    case EW_EXP: return y;
    case EW_LOG: return 1.0f / x;
    case EW_SQRT: return 0.5f / y;
    case EW_RECIPROCAL: return -y * y;
    case EW_POW: return a * powf(x, a - 1.0f);
    case EW_CLIP: return x >= a && x <= b ? 1.0f : 0.0f;
    case EW_SOFTPLUS: return 1.0f / (1.0f + expf(-x));
    case EW_SOFTSIGN: return 1.0f / ((1.0f + fabsf(x)) * (1.0f + fabsf(x)));
    case EW_SELU: return x > 0 ? b : b * a * expf(x);
    case EW_CELU: return x > 0 ? 1.0f : expf(x / a);
    case EW_HARD_SIGMOID: {
        float t = a * x + b;
        return t > 0 && t < 1 ? a : 0.0f;
    }
    case EW_HARD_SWISH: return x < -3.0f ? 0.0f : x > 3.0f ? 1.0f : (2.0f * x + 3.0f) / 6.0f;
    case EW_ERF: return 1.1283791670955126f * expf(-x * x);
    case EW_THRESHOLDED_RELU: return x > a ? 1.0f : 0.0f;
    case EW_SIN: return cosf(x);
    case EW_COS: return -sinf(x);
    case EW_TAN: return 1.0f + y * y;
    case EW_ASIN: return 1.0f / sqrtf(1.0f - x * x);
    case EW_ACOS: return -1.0f / sqrtf(1.0f - x * x);
    case EW_ATAN: return 1.0f / (1.0f + x * x);
    case EW_SINH: return coshf(x);
    case EW_COSH: return sinhf(x);
    case EW_ASINH: return 1.0f / sqrtf(x * x + 1.0f);
    case EW_ACOSH: return 1.0f / sqrtf(x * x - 1.0f);
    case EW_ATANH: return 1.0f / (1.0f - x * x);
    case EW_FLOOR: case EW_CEIL: case EW_ROUND: case EW_SIGN: return 0.0f; /* steps: zero almost everywhere */
    default: return x < -a || x > a ? 1.0f : 0.0f;
    }
}

static void ew_backward(dc_ctx *c, dc_node *n) {
    float *gx = dc_grad_buf(c, n->in[0]);
    if (!gx) return;
    const float *x = n->in[0]->data, *y = n->out->data, *g = n->out->grad->data;
    int op = (int)n->i[0];
    float a = n->f[0], b = n->f[1];
    for (int64_t i = 0; i < n->out->numel; i++) gx[i] += g[i] * ew_df(op, x[i], y[i], a, b);
}

static dc_tensor *ew_op(dc_ctx *c, dc_tensor *x, int op, float a, float b) {
    DC_CHECK_ARGS(c, ew_names[op], x);
    x = dc_contig(c, x);
    if (!x) return NULL;
    dc_tensor *y = dc_out(c, x->ndim, x->shape);
    if (!y) return NULL;
    for (int64_t i = 0; i < x->numel; i++) y->data[i] = ew_f(op, x->data[i], a, b);
    if (DC_NEEDS1(c, x)) {
        dc_node *n = DC_RECORD1(c, ew_names[op], ew_backward, y, x);
        if (!n) return NULL;
        n->i[0] = op;
        n->f[0] = a;
        n->f[1] = b;
    }
    return y;
}

/* f of one number for the operation of index op (the option's order): for the ONNX importer,
 * which folds these operators on constants (shape arithmetic: the sqrt of a head size). */
double dc_elementwise_apply(int op, double x, double alpha, double beta) {
    if (op < 0 || op >= EW_COUNT) return NAN;
    return ew_f(op, (float)x, (float)alpha, (float)beta);
}

static dc_status ew_build(dc_layer *l) {
    const ew_cfg *c = DC_CCFG(l, ew_cfg);
    if (c->op == EW_CELU && c->alpha == 0) return dc_error(DC_ERR_ARG, "%s: celu needs alpha other than 0", l->name);
    if (c->op == EW_CLIP && c->alpha > c->beta)
        return dc_error(DC_ERR_ARG, "%s: clip's low bound %g is above its high bound %g", l->name, c->alpha, c->beta);
    dc_layer_same_shape(l);
    return DC_OK;
}

static dc_tensor *ew_forward(dc_layer *l, dc_fwd *f, dc_tensor *const *x, int n) {
    (void)n;
    const ew_cfg *c = DC_CCFG(l, ew_cfg);
    return ew_op(f->ctx, x[0], c->op, c->alpha, c->beta);
}

const dc_layer_type dc_elementwise_type = {
    .name = "Elementwise", .stem = "elementwise", .cfg_size = sizeof(ew_cfg), .fields = ew_fields,
    .nfields = DC_ARRAY_LEN(ew_fields), .build = ew_build, .forward = ew_forward,
};
DC_REGISTER_LAYER(dc_elementwise_type);
