/* More ONNX operators for the importer: mappers written as those of onnx_ops.c (see
 * onnx_import.h and docs/onnx.md), listed in the table at the end, which the dispatcher searches
 * after dc_onnx_ops_core. The element-wise operators of one tensor import as one Elementwise
 * layer (src/nn/elementwise_layer.c) whose option "op" names the function; the others are
 * compositions of existing layers: Sum and Mean (the core Add mapper, a ValueArithmetic scale),
 * Max and Min, the reductions around the core ReduceSum and ReduceMax, Split, PRelu,
 * GlobalMaxPool, InstanceNormalization, DepthToSpace and SpaceToDepth, nearest Resize and
 * Upsample, Expand. onnx_claimed_ops lists both tables for ONNX's test-suite runner. */
#include "onnx_import.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

extern const dc_layer_type dc_elementwise_type;
double dc_elementwise_apply(int op, double x, double alpha, double beta); /* src/nn/elementwise_layer.c */

/* An Elementwise layer of operation op (its name in the layer's schema) on input 0 of n. */
static dc_status emit_elementwise(onnx_importer *ix, const Onnx__NodeProto *n, const char *op, float alpha, float beta) {
    onnx_value *x = onnx_in(ix, n, 0), *y = onnx_out(ix, n, 0);
    if (!x) return onnx_fail(ix, n, DC_ERR_FORMAT, "input 0 is missing");
    /* the enum field takes the operation's index: find it by name in the schema */
    int k = 0;
    for (; k < 64; k++) {
        const char *name = dc_elementwise_type.fields[0].name_of(k);
        if (!name || !strcmp(name, op)) break;
    }
    if (x->kind == ONNX_CONST && onnx_is_static(x) && y && y != x) {
        /* a constant (shape arithmetic): folded; integers stay integers where f keeps them */
        bool keeps_int = !strcmp(op, "neg") || !strcmp(op, "abs") || !strcmp(op, "floor") || !strcmp(op, "ceil") ||
                         !strcmp(op, "round") || !strcmp(op, "sign");
        onnx_value src = *x;
        int64_t cnt = onnx_count(src.ndim, src.dims);
        double *d = malloc((size_t)(cnt ? cnt : 1) * sizeof *d);
        if (!d) return dc_error(DC_ERR_NOMEM, "onnx import: %lld elements", (long long)cnt);
        for (int64_t i = 0; i < cnt; i++) d[i] = dc_elementwise_apply(k, src.data[i], alpha, beta);
        dc_status s = onnx_const_make(ix, y, src.ndim, src.dims);
        if (!s) {
            memcpy(y->data, d, (size_t)cnt * sizeof *d);
            y->is_int = src.is_int && keeps_int;
        }
        free(d);
        return s;
    }
    if (x->kind != ONNX_GRAPH)
        return onnx_fail(ix, n, DC_ERR_FORMAT, "input 0 (\"%s\") must be computed from the graph's inputs", x->name);
    if (!y) return DC_OK;
    dc_layer *l = dc_layer_create(&dc_elementwise_type);
    double v = k;
    if (!l || dc_layer_set_field(l, "op", &v, 1) || dc_layer_set_float(l, "alpha", alpha) || dc_layer_set_float(l, "beta", beta)) {
        dc_layer_free(l);
        return onnx_fail(ix, n, dc_last_status(), "%s", dc_last_error());
    }
    /* x may be y itself (a step of a chain below): its layout is copied first */
    onnx_value xv = *x, *xp = &xv;
    int h = onnx_emit(ix, n, l, 1, &xp);
    if (h < 0) return dc_last_status();
    onnx_set_graph(y, h, l, &xv, xv.ndim, xv.dims);
    return DC_OK;
}

#define UNARY(fn, op, a, b) \
    static dc_status fn(onnx_importer *ix, const Onnx__NodeProto *n) { return emit_elementwise(ix, n, op, a, b); }
UNARY(map_neg, "neg", 0, 0)
UNARY(map_abs, "abs", 0, 0)
UNARY(map_exp, "exp", 0, 0)
UNARY(map_log, "log", 0, 0)
UNARY(map_sqrt, "sqrt", 0, 0)
UNARY(map_reciprocal, "reciprocal", 0, 0)
UNARY(map_softplus, "softplus", 0, 0)
UNARY(map_softsign, "softsign", 0, 0)
UNARY(map_hard_swish, "hard_swish", 0, 0)
UNARY(map_erf, "erf", 0, 0)
UNARY(map_sin, "sin", 0, 0)
UNARY(map_cos, "cos", 0, 0)
UNARY(map_tan, "tan", 0, 0)
UNARY(map_asin, "asin", 0, 0)
UNARY(map_acos, "acos", 0, 0)
UNARY(map_atan, "atan", 0, 0)
UNARY(map_sinh, "sinh", 0, 0)
UNARY(map_cosh, "cosh", 0, 0)
UNARY(map_asinh, "asinh", 0, 0)
UNARY(map_acosh, "acosh", 0, 0)
UNARY(map_atanh, "atanh", 0, 0)
UNARY(map_floor, "floor", 0, 0)
UNARY(map_ceil, "ceil", 0, 0)
UNARY(map_round, "round", 0, 0)
UNARY(map_sign, "sign", 0, 0)

static dc_status map_shrink(onnx_importer *ix, const Onnx__NodeProto *n) {
    float l = onnx_attr_float(n, "lambd", 0.5f);
    if (l < 0) return onnx_fail(ix, n, DC_ERR_FORMAT, "lambd %g is negative", l);
    return emit_elementwise(ix, n, "shrink", l, onnx_attr_float(n, "bias", 0.0f));
}

static dc_status map_selu(onnx_importer *ix, const Onnx__NodeProto *n) {
    return emit_elementwise(ix, n, "selu", onnx_attr_float(n, "alpha", 1.67326319217681884765625f),
                            onnx_attr_float(n, "gamma", 1.05070102214813232421875f));
}
static dc_status map_celu(onnx_importer *ix, const Onnx__NodeProto *n) {
    float a = onnx_attr_float(n, "alpha", 1.0f);
    if (a == 0) return onnx_fail(ix, n, DC_ERR_FORMAT, "alpha is 0");
    return emit_elementwise(ix, n, "celu", a, 0);
}
static dc_status map_hard_sigmoid(onnx_importer *ix, const Onnx__NodeProto *n) {
    return emit_elementwise(ix, n, "hard_sigmoid", onnx_attr_float(n, "alpha", 0.2f), onnx_attr_float(n, "beta", 0.5f));
}
static dc_status map_thresholded_relu(onnx_importer *ix, const Onnx__NodeProto *n) {
    return emit_elementwise(ix, n, "thresholded_relu", onnx_attr_float(n, "alpha", 1.0f), 0);
}

/* One number of a constant input (a scalar, or a tensor whose elements are all equal), into *v;
 * false when the input is absent. */
static dc_status const_scalar(onnx_importer *ix, const Onnx__NodeProto *n, int i, const char *what, bool *given, float *v) {
    onnx_value *c = onnx_in(ix, n, i);
    *given = c != NULL;
    if (!c) return DC_OK;
    if (!onnx_is_static(c)) return onnx_fail(ix, n, DC_ERR_FORMAT, "the %s (input %d, \"%s\") must be a constant", what, i, c->name);
    int64_t cnt = onnx_count(c->ndim, c->dims);
    if (cnt < 1) return onnx_fail(ix, n, DC_ERR_FORMAT, "the %s (input %d) is empty", what, i);
    for (int64_t k = 1; k < cnt; k++)
        if (c->data[k] != c->data[0])
            return onnx_fail(ix, n, DC_ERR_FORMAT, "the %s (input %d) differs between elements; deepc takes one number", what, i);
    *v = (float)c->data[0];
    return DC_OK;
}

static dc_status map_pow(onnx_importer *ix, const Onnx__NodeProto *n) {
    bool given;
    float e = 1;
    dc_status s = const_scalar(ix, n, 1, "exponent", &given, &e);
    if (s) return s;
    if (!given) return onnx_fail(ix, n, DC_ERR_FORMAT, "the exponent (input 1) is missing");
    return emit_elementwise(ix, n, "pow", e, 0);
}

static dc_status map_clip(onnx_importer *ix, const Onnx__NodeProto *n) {
    float lo = -FLT_MAX, hi = FLT_MAX;
    if (onnx_opset(ix) < 11) {
        lo = onnx_attr_float(n, "min", -FLT_MAX);
        hi = onnx_attr_float(n, "max", FLT_MAX);
    } else {
        bool given;
        dc_status s = const_scalar(ix, n, 1, "low bound", &given, &lo);
        if (!s) s = const_scalar(ix, n, 2, "high bound", &given, &hi);
        if (s) return s;
    }
    if (lo > hi) return onnx_fail(ix, n, DC_ERR_FORMAT, "the low bound %g is above the high bound %g", lo, hi);
    return emit_elementwise(ix, n, "clip", lo, hi);
}

/* Sum and Mean of graph values: Add's mapper on the first two inputs (its broadcasting and
 * layouts), then on the running result and each further input, through a node that names
 * them; Mean scales the sum by 1 / count with a fixed ValueArithmetic. */
static const onnx_op *core_op(const char *name) {
    for (const onnx_op *o = dc_onnx_ops_core; o->op_type; o++)
        if (!strcmp(o->op_type, name)) return o;
    return NULL;
}
static dc_status map_variadic(onnx_importer *ix, const Onnx__NodeProto *n, bool mean) {
    onnx_value *y = onnx_out(ix, n, 0);
    if (!y) return DC_OK;
    int cnt = (int)n->n_input;
    if (cnt < 1) return onnx_fail(ix, n, DC_ERR_FORMAT, "no input");
    for (int i = 0; i < cnt; i++) {
        onnx_value *x = onnx_in(ix, n, i);
        if (!x || x->kind != ONNX_GRAPH)
            return onnx_fail(ix, n, DC_ERR_FORMAT, "input %d must be computed from the graph's inputs", i);
    }
    const onnx_op *add = core_op("Add"), *ident = core_op("Identity");
    if (!add || !ident) return onnx_fail(ix, n, DC_ERR_STATE, "the core Add or Identity mapper is missing");
    /* a node of the same name, output and type whose inputs are the running sum and the next */
    Onnx__NodeProto step = *n;
    char *ins[2];
    step.n_input = 2;
    step.input = ins;
    dc_status s = DC_OK;
    if (cnt == 1) {
        step.n_input = 1;
        ins[0] = n->input[0];
        s = ident->map(ix, &step);
    }
    for (int i = 1; !s && i < cnt; i++) {
        ins[0] = i == 1 ? n->input[0] : n->output[0];
        ins[1] = n->input[i];
        if (i > 1) {
            /* the running sum is read as an input while the output is rewritten: a copy */
            onnx_value sum = *y;
            onnx_value *x1 = onnx_in(ix, n, i);
            dc_layer *l = dc_arithmetic_layer(DC_ARITH_ADD);
            onnx_value *two[2] = {&sum, x1};
            if (sum.ndim != x1->ndim || memcmp(sum.dims, x1->dims, (size_t)sum.ndim * sizeof *sum.dims) || sum.bax != x1->bax ||
                sum.pre != x1->pre || sum.post != x1->post) {
                dc_layer_free(l);
                return onnx_fail(ix, n, DC_ERR_FORMAT, "input %d has another shape than the sum of the ones before; deepc adds "
                                                        "three or more inputs of one shape", i);
            }
            int h = onnx_emit(ix, n, l, 2, two);
            if (h < 0) return dc_last_status();
            onnx_set_graph(y, h, l, &sum, sum.ndim, sum.dims);
            continue;
        }
        s = add->map(ix, &step);
    }
    if (s || !mean || cnt == 1) return s;
    if (y->kind != ONNX_GRAPH) return onnx_fail(ix, n, DC_ERR_FORMAT, "the sum is not a graph value");
    onnx_value sum = *y, *sp = &sum;
    dc_layer *l = dc_arithmetic_value_layer(DC_ARITH_MUL, 1, (int64_t[]){1}, false, false);
    int h = onnx_emit(ix, n, l, 1, &sp);
    if (h < 0) return dc_last_status();
    float inv = 1.0f / (float)cnt;
    if ((s = onnx_param(ix, n, l, "value", &inv, 1))) return s;
    onnx_set_graph(y, h, l, &sum, sum.ndim, sum.dims);
    return DC_OK;
}
static dc_status map_sum(onnx_importer *ix, const Onnx__NodeProto *n) { return map_variadic(ix, n, false); }
static dc_status map_mean(onnx_importer *ix, const Onnx__NodeProto *n) { return map_variadic(ix, n, true); }

/* A node like n whose input 0 is `in0` (its other inputs, attributes and outputs n's): a
 * step of a chain of layers that writes n's output value and reads it in the next step. */
typedef struct {
    Onnx__NodeProto node;
    char *ins[16];
} chain_node;
static const Onnx__NodeProto *chain_step(chain_node *c, const Onnx__NodeProto *n, char *in0) {
    c->node = *n;
    c->node.n_input = n->n_input < 16 ? n->n_input : 16;
    for (size_t i = 0; i < c->node.n_input; i++) c->ins[i] = n->input[i];
    if (!c->node.n_input) c->node.n_input = 1;
    c->ins[0] = in0;
    c->node.input = c->ins;
    return &c->node;
}

/* The reductions that are a core one between element-wise steps: pre (NULL: none) on the
 * input, the core reduction `core`, then post (NULL: none) on its result. */
static dc_status map_reduce_chain(onnx_importer *ix, const Onnx__NodeProto *n, const char *pre, float pre_a, const char *core,
                                  const char *post) {
    onnx_value *x = onnx_in(ix, n, 0), *y = onnx_out(ix, n, 0);
    if (!x || x->kind != ONNX_GRAPH) return onnx_fail(ix, n, DC_ERR_FORMAT, "input 0 must be computed from the graph's inputs");
    if (!y || !n->n_output) return DC_OK;
    const onnx_op *red = core_op(core);
    if (!red) return onnx_fail(ix, n, DC_ERR_STATE, "the core %s mapper is missing", core);
    chain_node c;
    dc_status s = DC_OK;
    char *cur = n->input[0];
    if (pre) {
        s = emit_elementwise(ix, chain_step(&c, n, cur), pre, pre_a, 0);
        cur = n->output[0];
    }
    if (!s) s = red->map(ix, chain_step(&c, n, cur));
    if (!s && post) s = emit_elementwise(ix, chain_step(&c, n, n->output[0]), post, 0, 0);
    return s;
}
static dc_status map_reduce_l1(onnx_importer *ix, const Onnx__NodeProto *n) { return map_reduce_chain(ix, n, "abs", 0, "ReduceSum", NULL); }
static dc_status map_reduce_l2(onnx_importer *ix, const Onnx__NodeProto *n) { return map_reduce_chain(ix, n, "pow", 2, "ReduceSum", "sqrt"); }
static dc_status map_reduce_sum_square(onnx_importer *ix, const Onnx__NodeProto *n) {
    return map_reduce_chain(ix, n, "pow", 2, "ReduceSum", NULL);
}
static dc_status map_reduce_log_sum(onnx_importer *ix, const Onnx__NodeProto *n) { return map_reduce_chain(ix, n, NULL, 0, "ReduceSum", "log"); }
static dc_status map_reduce_log_sum_exp(onnx_importer *ix, const Onnx__NodeProto *n) {
    return map_reduce_chain(ix, n, "exp", 0, "ReduceSum", "log");
}
static dc_status map_reduce_min(onnx_importer *ix, const Onnx__NodeProto *n) { return map_reduce_chain(ix, n, "neg", 0, "ReduceMax", "neg"); }

/* Split along an axis other than the batch: one Slice layer per output. */
static dc_status map_split(onnx_importer *ix, const Onnx__NodeProto *n) {
    onnx_value *x = onnx_in(ix, n, 0);
    if (!x || x->kind != ONNX_GRAPH) return onnx_fail(ix, n, DC_ERR_FORMAT, "input 0 must be computed from the graph's inputs");
    if (x->pre != 1 || x->post != 1) return onnx_fail(ix, n, DC_ERR_FORMAT, "the batch shares its axis with other factors");
    int axis = onnx_axis(onnx_attr_int(n, "axis", 0), x->ndim);
    if (axis < 0 || axis == x->bax) return onnx_fail(ix, n, DC_ERR_FORMAT, "axis %lld is the batch or out of range", (long long)onnx_attr_int(n, "axis", 0));
    int nout = (int)n->n_output;
    if (nout < 1 || nout > 64) return onnx_fail(ix, n, DC_ERR_FORMAT, "%d outputs", nout);
    int64_t sizes[64];
    int k = onnx_in(ix, n, 1) ? onnx_const_ints(onnx_in(ix, n, 1), sizes, 64) : onnx_attr_ints(n, "split", sizes, 64);
    if (onnx_in(ix, n, 1) && k < 0) return onnx_fail(ix, n, DC_ERR_FORMAT, "the split sizes (input 1) must be a constant");
    if (k < 0) {
        if (x->dims[axis] % nout) return onnx_fail(ix, n, DC_ERR_FORMAT, "axis size %lld does not split in %d", (long long)x->dims[axis], nout);
        for (int i = 0; i < nout; i++) sizes[i] = x->dims[axis] / nout;
        k = nout;
    }
    int64_t total = 0;
    for (int i = 0; i < k; i++) {
        if (sizes[i] < 0) return onnx_fail(ix, n, DC_ERR_FORMAT, "split size %lld", (long long)sizes[i]);
        total += sizes[i];
    }
    if (k != nout || total != x->dims[axis])
        return onnx_fail(ix, n, DC_ERR_FORMAT, "%d sizes summing to %lld for %d outputs of an axis of %lld", k, (long long)total, nout,
                         (long long)x->dims[axis]);
    onnx_value xv = *x, *xp = &xv;
    int da = onnx_deepc_axis(&xv, axis);
    int64_t start = 0;
    for (int i = 0; i < nout; i++) {
        onnx_value *y = onnx_out(ix, n, i);
        int64_t stop = start + sizes[i];
        if (y && sizes[i] > 0) {
            dc_layer *l = dc_slice_layer(da, start, stop);
            int h = onnx_emit(ix, n, l, 1, &xp);
            if (h < 0) return dc_last_status();
            int64_t dims[DC_MAX_DIMS];
            memcpy(dims, xv.dims, sizeof dims);
            dims[axis] = sizes[i];
            onnx_set_graph(y, h, l, &xv, xv.ndim, dims);
        } else if (y) {
            return onnx_fail(ix, n, DC_ERR_FORMAT, "output %d is empty", i);
        }
        start = stop;
    }
    return DC_OK;
}

/* PRelu with a constant slope (a trainable weight when it is an initialiser):
 * relu(x) - slope * relu(-x), the slope held by a ValueArithmetic without the batch axis. */
static dc_status map_prelu(onnx_importer *ix, const Onnx__NodeProto *n) {
    onnx_value *x = onnx_in(ix, n, 0), *sl = onnx_in(ix, n, 1), *y = onnx_out(ix, n, 0);
    if (!x || x->kind != ONNX_GRAPH) return onnx_fail(ix, n, DC_ERR_FORMAT, "input 0 must be computed from the graph's inputs");
    if (x->bax != 0 || x->pre != 1 || x->post != 1) return onnx_fail(ix, n, DC_ERR_FORMAT, "the input must have the batch alone in axis 0");
    if (!sl || !onnx_is_static(sl)) return onnx_fail(ix, n, DC_ERR_FORMAT, "the slope (input 1) must be a constant");
    if (!y) return DC_OK;
    /* the slope broadcasts against x's trailing axes: drop its leading axes of 1, and it must
     * not reach the batch axis */
    int lead = 0;
    while (lead < sl->ndim - 1 && sl->dims[lead] == 1) lead++;
    int sr = sl->ndim - lead;
    if (sl->ndim > x->ndim || sr > x->ndim - 1)
        return onnx_fail(ix, n, DC_ERR_FORMAT, "the slope of rank %d varies along the batch axis of the input of rank %d", sl->ndim, x->ndim);
    int64_t vs[DC_MAX_DIMS];
    for (int i = 0; i < sr; i++) vs[i] = sl->dims[lead + i];
    if (sr == 0) vs[sr++] = 1;
    /* before opset 7 a 1-D slope is one per channel (axis 1) */
    if (onnx_opset(ix) < 7 && sl->ndim == 1 && x->ndim > 2 && sl->dims[0] == x->dims[1] && sl->dims[0] > 1) {
        sr = x->ndim - 1;
        vs[0] = sl->dims[0];
        for (int i = 1; i < sr; i++) vs[i] = 1;
    }
    onnx_value xv = *x, *xp = &xv;
    dc_layer *relu = dc_activation_layer(DC_ACT_RELU);
    int hp = onnx_emit(ix, n, relu, 1, &xp);
    if (hp < 0) return dc_last_status();
    onnx_value p = xv, *pp = &p;
    onnx_set_graph(&p, hp, relu, &xv, xv.ndim, xv.dims);
    /* relu(-x) */
    dc_layer *neg = dc_layer_create(&dc_elementwise_type);
    double zero = 0;
    if (neg && dc_layer_set_field(neg, "op", &zero, 1)) {
        dc_layer_free(neg);
        return onnx_fail(ix, n, dc_last_status(), "%s", dc_last_error());
    }
    int hn = onnx_emit(ix, n, neg, 1, &xp);
    if (hn < 0) return dc_last_status();
    onnx_value q = xv, *qp = &q;
    onnx_set_graph(&q, hn, neg, &xv, xv.ndim, xv.dims);
    dc_layer *relu2 = dc_activation_layer(DC_ACT_RELU);
    int hq = onnx_emit(ix, n, relu2, 1, &qp);
    if (hq < 0) return dc_last_status();
    onnx_set_graph(&q, hq, relu2, &xv, xv.ndim, xv.dims);
    dc_layer *mul = dc_arithmetic_value_layer(DC_ARITH_MUL, sr, vs, false, sl->is_weight);
    int hm = onnx_emit(ix, n, mul, 1, &qp);
    if (hm < 0) return dc_last_status();
    dc_status s = onnx_param_value(ix, n, mul, "value", sl);
    if (s) return s;
    onnx_set_graph(&q, hm, mul, &xv, xv.ndim, xv.dims);
    dc_layer *sub = dc_arithmetic_layer(DC_ARITH_SUB);
    onnx_value *two[2] = {pp, qp};
    int h = onnx_emit(ix, n, sub, 2, two);
    if (h < 0) return dc_last_status();
    onnx_set_graph(y, h, sub, &xv, xv.ndim, xv.dims);
    return DC_OK;
}

/* Max and Min of graph values of one shape, two at a time: max(a, b) = b + relu(a - b) and
 * min(a, b) = a - relu(a - b) with Arithmetic and Activation layers (exact up to the rounding
 * of a - b; the gradient goes to one input where they tie). */
static dc_status map_extreme(onnx_importer *ix, const Onnx__NodeProto *n, bool max) {
    onnx_value *y = onnx_out(ix, n, 0);
    int cnt = (int)n->n_input;
    if (cnt < 1) return onnx_fail(ix, n, DC_ERR_FORMAT, "no input");
    onnx_value *x0 = onnx_in(ix, n, 0);
    for (int i = 0; i < cnt; i++) {
        onnx_value *x = onnx_in(ix, n, i);
        if (!x || x->kind != ONNX_GRAPH)
            return onnx_fail(ix, n, DC_ERR_FORMAT, "input %d must be computed from the graph's inputs", i);
        if (x->ndim != x0->ndim || memcmp(x->dims, x0->dims, (size_t)x->ndim * sizeof *x->dims) || x->bax != x0->bax ||
            x->pre != x0->pre || x->post != x0->post)
            return onnx_fail(ix, n, DC_ERR_FORMAT, "input %d has another shape than input 0; deepc takes inputs of one shape", i);
    }
    if (!y) return DC_OK;
    if (cnt == 1) {
        const onnx_op *ident = core_op("Identity");
        return ident ? ident->map(ix, n) : onnx_fail(ix, n, DC_ERR_STATE, "the core Identity mapper is missing");
    }
    onnx_value acc = *x0;
    for (int i = 1; i < cnt; i++) {
        onnx_value b = *onnx_in(ix, n, i), d = acc;
        onnx_value *ab[2] = {&acc, &b};
        dc_layer *sub = dc_arithmetic_layer(DC_ARITH_SUB);
        int h = onnx_emit(ix, n, sub, 2, ab);
        if (h < 0) return dc_last_status();
        onnx_set_graph(&d, h, sub, &acc, acc.ndim, acc.dims);
        onnx_value *dp = &d;
        dc_layer *relu = dc_activation_layer(DC_ACT_RELU);
        if ((h = onnx_emit(ix, n, relu, 1, &dp)) < 0) return dc_last_status();
        onnx_set_graph(&d, h, relu, &acc, acc.ndim, acc.dims);
        onnx_value *two[2] = {max ? &b : &acc, &d};
        dc_layer *fin = dc_arithmetic_layer(max ? DC_ARITH_ADD : DC_ARITH_SUB);
        if ((h = onnx_emit(ix, n, fin, 2, two)) < 0) return dc_last_status();
        onnx_set_graph(&acc, h, fin, &acc, acc.ndim, acc.dims);
    }
    onnx_set_graph(y, acc.handle, acc.layer, &acc, acc.ndim, acc.dims);
    return DC_OK;
}
static dc_status map_max(onnx_importer *ix, const Onnx__NodeProto *n) { return map_extreme(ix, n, true); }
static dc_status map_min(onnx_importer *ix, const Onnx__NodeProto *n) { return map_extreme(ix, n, false); }

/* GlobalMaxPool: the maximum over every axis after the channels, kept as axes of 1 (a Reduce). */
static dc_status map_global_max_pool(onnx_importer *ix, const Onnx__NodeProto *n) {
    onnx_value *x = onnx_in(ix, n, 0), *y = onnx_out(ix, n, 0);
    if (!x || x->kind != ONNX_GRAPH) return onnx_fail(ix, n, DC_ERR_FORMAT, "input 0 must be computed from the graph's inputs");
    if (x->bax != 0 || x->pre != 1 || x->post != 1) return onnx_fail(ix, n, DC_ERR_FORMAT, "the input must have the batch alone in axis 0");
    if (x->ndim < 3) return onnx_fail(ix, n, DC_ERR_FORMAT, "the input has rank %d; it needs spatial axes after N and C", x->ndim);
    if (!y) return DC_OK;
    int axes[DC_MAX_DIMS];
    int64_t dims[DC_MAX_DIMS];
    for (int i = 2; i < x->ndim; i++) axes[i - 2] = i;
    memcpy(dims, x->dims, sizeof dims);
    for (int i = 2; i < x->ndim; i++) dims[i] = 1;
    onnx_value xv = *x, *xp = &xv;
    dc_layer *l = dc_reduce_layer(DC_REDUCE_OP_MAX, x->ndim - 2, axes, true);
    int h = onnx_emit(ix, n, l, 1, &xp);
    if (h < 0) return dc_last_status();
    onnx_set_graph(y, h, l, &xv, xv.ndim, dims);
    return DC_OK;
}

/* A layer l on the graph values ins[0..nin) whose output becomes *out, of the layout of ins[0]
 * and the ONNX shape ndim/dims. */
static dc_status step_layer(onnx_importer *ix, const Onnx__NodeProto *n, dc_layer *l, int nin, onnx_value **ins, onnx_value *out,
                            int ndim, const int64_t *dims) {
    onnx_value like = *ins[0];
    int h = onnx_emit(ix, n, l, nin, ins);
    if (h < 0) return dc_last_status();
    int64_t d[DC_MAX_DIMS];
    memcpy(d, dims, (size_t)ndim * sizeof *d);
    onnx_set_graph(out, h, l, &like, ndim, d);
    return DC_OK;
}
static dc_layer *elementwise(const char *op, float alpha) {
    dc_layer *l = dc_layer_create(&dc_elementwise_type);
    int k = 0;
    while (dc_elementwise_type.fields[0].name_of(k) && strcmp(dc_elementwise_type.fields[0].name_of(k), op)) k++;
    double v = k;
    if (l && (dc_layer_set_field(l, "op", &v, 1) || dc_layer_set_float(l, "alpha", alpha))) {
        dc_layer_free(l);
        return NULL;
    }
    return l;
}

/* InstanceNormalization: (x - mean) / sqrt(var + epsilon) * scale + bias over the spatial axes
 * of each sample and channel, as Reduce, Arithmetic, Elementwise and ValueArithmetic layers;
 * scale and bias (one per channel) are trainable when they are initialisers. */
static dc_status map_instance_norm(onnx_importer *ix, const Onnx__NodeProto *n) {
    onnx_value *x = onnx_in(ix, n, 0), *sc = onnx_in(ix, n, 1), *bi = onnx_in(ix, n, 2), *y = onnx_out(ix, n, 0);
    if (!x || x->kind != ONNX_GRAPH) return onnx_fail(ix, n, DC_ERR_FORMAT, "input 0 must be computed from the graph's inputs");
    if (x->bax != 0 || x->pre != 1 || x->post != 1) return onnx_fail(ix, n, DC_ERR_FORMAT, "the input must have the batch alone in axis 0");
    if (x->ndim < 3) return onnx_fail(ix, n, DC_ERR_FORMAT, "the input has rank %d; it needs spatial axes after N and C", x->ndim);
    int64_t C = x->dims[1];
    for (int i = 1; i <= 2; i++) {
        onnx_value *c = i == 1 ? sc : bi;
        if (!c || !onnx_is_static(c) || onnx_count(c->ndim, c->dims) != C)
            return onnx_fail(ix, n, DC_ERR_FORMAT, "the %s (input %d) must be a constant of %lld values", i == 1 ? "scale" : "bias", i, (long long)C);
    }
    if (!y) return DC_OK;
    float eps = onnx_attr_float(n, "epsilon", 1e-5f);
    int r = x->ndim, axes[DC_MAX_DIMS];
    int64_t red[DC_MAX_DIMS], csh[DC_MAX_DIMS];
    memcpy(red, x->dims, (size_t)r * sizeof *red);
    csh[0] = C;
    for (int i = 2; i < r; i++) {
        axes[i - 2] = i;
        red[i] = 1;
        csh[i - 1] = 1;
    }
    onnx_value xv = *x, m = {.name = y->name}, d = {.name = y->name}, t = {.name = y->name};
    onnx_value *in1[1], *in2[2];
    dc_status s;
    in1[0] = &xv;
    if ((s = step_layer(ix, n, dc_reduce_layer(DC_REDUCE_OP_MEAN, r - 2, axes, true), 1, in1, &m, r, red))) return s;
    in2[0] = &xv;
    in2[1] = &m;
    if ((s = step_layer(ix, n, dc_arithmetic_layer(DC_ARITH_SUB), 2, in2, &d, r, xv.dims))) return s;
    in1[0] = &d;
    if ((s = step_layer(ix, n, elementwise("pow", 2), 1, in1, &t, r, xv.dims))) return s;
    in1[0] = &t;
    if ((s = step_layer(ix, n, dc_reduce_layer(DC_REDUCE_OP_MEAN, r - 2, axes, true), 1, in1, &t, r, red))) return s;
    dc_layer *add_eps = dc_arithmetic_value_layer(DC_ARITH_ADD, 1, (int64_t[]){1}, false, false);
    if ((s = step_layer(ix, n, add_eps, 1, in1, &t, r, red)) || (s = onnx_param(ix, n, add_eps, "value", &eps, 1))) return s;
    if ((s = step_layer(ix, n, elementwise("sqrt", 0), 1, in1, &t, r, red))) return s;
    in2[0] = &d;
    in2[1] = &t;
    if ((s = step_layer(ix, n, dc_arithmetic_layer(DC_ARITH_DIV), 2, in2, &d, r, xv.dims))) return s;
    in1[0] = &d;
    dc_layer *mul = dc_arithmetic_value_layer(DC_ARITH_MUL, r - 1, csh, false, sc->is_weight);
    if ((s = step_layer(ix, n, mul, 1, in1, &d, r, xv.dims)) || (s = onnx_param_value(ix, n, mul, "value", sc))) return s;
    dc_layer *add = dc_arithmetic_value_layer(DC_ARITH_ADD, r - 1, csh, false, bi->is_weight);
    if ((s = step_layer(ix, n, add, 1, in1, y, r, xv.dims)) || (s = onnx_param_value(ix, n, add, "value", bi))) return s;
    return DC_OK;
}

/* DepthToSpace and SpaceToDepth of [N, C, H, W]: Reshape, Permute, Reshape layers (the
 * permutation of ONNX's definition, without the batch axis). */
static dc_status map_space_depth(onnx_importer *ix, const Onnx__NodeProto *n, bool to_space) {
    onnx_value *x = onnx_in(ix, n, 0), *y = onnx_out(ix, n, 0);
    if (!x || x->kind != ONNX_GRAPH) return onnx_fail(ix, n, DC_ERR_FORMAT, "input 0 must be computed from the graph's inputs");
    if (x->bax != 0 || x->pre != 1 || x->post != 1 || x->ndim != 4)
        return onnx_fail(ix, n, DC_ERR_FORMAT, "the input must be [N, C, H, W] with the batch alone in axis 0 (rank %d)", x->ndim);
    int64_t b = onnx_attr_int(n, "blocksize", 0), C = x->dims[1], H = x->dims[2], W = x->dims[3];
    if (b < 1 || b > 4096) return onnx_fail(ix, n, DC_ERR_FORMAT, "blocksize %lld", (long long)b);
    char mode[8];
    bool crd = to_space && !strcmp(onnx_attr_str(n, "mode", "DCR", mode, sizeof mode), "CRD");
    if (to_space && strcmp(mode, "CRD") && strcmp(mode, "DCR")) return onnx_fail(ix, n, DC_ERR_FORMAT, "mode %s", mode);
    if (to_space ? C % (b * b) : H % b || W % b)
        return onnx_fail(ix, n, DC_ERR_FORMAT, "blocksize %lld does not divide the %s", (long long)b, to_space ? "channels" : "height and width");
    if (!y) return DC_OK;
    int64_t mid[5], fin[3];
    int perm[5];
    if (to_space) {
        int64_t c = C / (b * b);
        if (crd) {
            memcpy(mid, (int64_t[]){c, b, b, H, W}, sizeof mid);
            memcpy(perm, (int[]){1, 4, 2, 5, 3}, sizeof perm);
        } else {
            memcpy(mid, (int64_t[]){b, b, c, H, W}, sizeof mid);
            memcpy(perm, (int[]){3, 4, 1, 5, 2}, sizeof perm);
        }
        memcpy(fin, (int64_t[]){c, H * b, W * b}, sizeof fin);
    } else {
        memcpy(mid, (int64_t[]){C, H / b, b, W / b, b}, sizeof mid);
        memcpy(perm, (int[]){3, 5, 1, 2, 4}, sizeof perm);
        memcpy(fin, (int64_t[]){C * b * b, H / b, W / b}, sizeof fin);
    }
    int64_t pd[5];
    for (int i = 0; i < 5; i++) pd[i] = mid[perm[i] - 1];
    onnx_value xv = *x, t = {.name = y->name};
    onnx_value *in[1] = {&xv};
    int64_t d6[6] = {1}, d4[4] = {1, fin[0], fin[1], fin[2]};
    dc_status s;
    memcpy(d6 + 1, mid, sizeof mid);
    if ((s = step_layer(ix, n, dc_reshape_layer(5, mid), 1, in, &t, 6, d6))) return s;
    in[0] = &t;
    memcpy(d6 + 1, pd, sizeof pd);
    if ((s = step_layer(ix, n, dc_permute_layer(5, perm), 1, in, &t, 6, d6))) return s;
    return step_layer(ix, n, dc_reshape_layer(3, fin), 1, in, y, 4, d4);
}
static dc_status map_depth_to_space(onnx_importer *ix, const Onnx__NodeProto *n) { return map_space_depth(ix, n, true); }
static dc_status map_space_to_depth(onnx_importer *ix, const Onnx__NodeProto *n) { return map_space_depth(ix, n, false); }

/* Resize and Upsample in nearest mode by whole factors of H and W on [N, C, H, W]: an
 * UpSampling2D, which repeats each pixel. That is ONNX's result where each output pixel's source
 * rounds into its own input pixel: half_pixel (or pytorch_half_pixel) with either rounding of
 * ties, or asymmetric with floor (Upsample's rule). */
static dc_status map_resize(onnx_importer *ix, const Onnx__NodeProto *n) {
    onnx_value *x = onnx_in(ix, n, 0), *y = onnx_out(ix, n, 0);
    if (!x || x->kind != ONNX_GRAPH) return onnx_fail(ix, n, DC_ERR_FORMAT, "input 0 must be computed from the graph's inputs");
    if (x->bax != 0 || x->pre != 1 || x->post != 1 || x->ndim != 4)
        return onnx_fail(ix, n, DC_ERR_FORMAT, "the input must be [N, C, H, W] with the batch alone in axis 0 (rank %d)", x->ndim);
    char buf[40], mode[16], ctm[40], nm[40];
    snprintf(mode, sizeof mode, "%s", onnx_attr_str(n, "mode", "nearest", buf, sizeof buf));
    bool upsample = !strcmp(n->op_type, "Upsample");
    snprintf(ctm, sizeof ctm, "%s", upsample ? "asymmetric" : onnx_attr_str(n, "coordinate_transformation_mode", "half_pixel", buf, sizeof buf));
    snprintf(nm, sizeof nm, "%s", upsample ? "floor" : onnx_attr_str(n, "nearest_mode", "round_prefer_floor", buf, sizeof buf));
    if (strcmp(mode, "nearest")) return onnx_fail(ix, n, DC_ERR_FORMAT, "mode %s; deepc imports nearest only", mode);
    bool half = !strcmp(ctm, "half_pixel") || !strcmp(ctm, "pytorch_half_pixel");
    bool ok = (half && (!strcmp(nm, "round_prefer_floor") || !strcmp(nm, "round_prefer_ceil"))) ||
              (!strcmp(ctm, "asymmetric") && !strcmp(nm, "floor"));
    if (!ok) return onnx_fail(ix, n, DC_ERR_FORMAT, "coordinate_transformation_mode %s with nearest_mode %s does not repeat pixels", ctm, nm);
    /* the factors: scales (attribute of Upsample-7, else input 1 or, from Resize-11 on, 2) or sizes (input 3) */
    double f[4] = {0};
    int k = -1;
    onnx_value *sv = NULL, *zv = NULL;
    if (upsample && onnx_opset(ix) < 9) {
        const Onnx__AttributeProto *a = NULL;
        for (size_t i = 0; i < n->n_attribute; i++)
            if (!strcmp(n->attribute[i]->name, "scales")) a = n->attribute[i];
        k = a && a->n_floats == 4 ? 4 : -1;
        for (int i = 0; k == 4 && i < 4; i++) f[i] = a->floats[i];
    } else {
        sv = onnx_in(ix, n, !upsample && onnx_opset(ix) >= 11 ? 2 : 1);
        zv = !upsample && onnx_opset(ix) >= 11 ? onnx_in(ix, n, 3) : NULL;
        onnx_value *v = sv && onnx_count(sv->ndim, sv->dims) > 0 ? sv : zv;
        if (!v || !onnx_is_static(v)) return onnx_fail(ix, n, DC_ERR_FORMAT, "the scales or sizes must be a constant");
        if (onnx_count(v->ndim, v->dims) == 4) {
            k = 4;
            for (int i = 0; i < 4; i++) f[i] = v->data[i];
            if (v == zv) {
                /* sizes: N's entry is the batch (kept); C, H and W as factors of the input's */
                f[0] = 1;
                for (int i = 1; i < 4; i++) f[i] = v->data[i] / (double)x->dims[i];
            }
        }
    }
    if (k != 4) return onnx_fail(ix, n, DC_ERR_FORMAT, "the scales or sizes need 4 values");
    int fh = (int)f[2], fw = (int)f[3];
    if (f[0] != 1 || f[1] != 1 || f[2] != fh || f[3] != fw || fh < 1 || fw < 1 || fh > 64 || fw > 64)
        return onnx_fail(ix, n, DC_ERR_FORMAT, "factors %g, %g, %g, %g; deepc repeats H and W by whole factors (1 to 64) only", f[0], f[1], f[2], f[3]);
    if (!y) return DC_OK;
    onnx_value xv = *x, *in[1] = {&xv};
    int64_t dims[4] = {1, x->dims[1], x->dims[2] * fh, x->dims[3] * fw};
    return step_layer(ix, n, dc_upsample2d_layer(fh, fw), 1, in, y, 4, dims);
}

/* Expand of a graph value to a constant shape that neither adds axes nor grows the batch axis:
 * x + zeros of the expanded shape (a fixed ValueArithmetic), NumPy's broadcasting. */
static dc_status map_expand(onnx_importer *ix, const Onnx__NodeProto *n) {
    onnx_value *x = onnx_in(ix, n, 0), *y = onnx_out(ix, n, 0);
    if (!x || x->kind != ONNX_GRAPH) return onnx_fail(ix, n, DC_ERR_FORMAT, "input 0 must be computed from the graph's inputs");
    if (x->bax != 0 || x->pre != 1 || x->post != 1) return onnx_fail(ix, n, DC_ERR_FORMAT, "the input must have the batch alone in axis 0");
    int64_t sh[DC_MAX_DIMS + 1];
    onnx_value *sv = onnx_in(ix, n, 1);
    int k = sv ? onnx_const_ints(sv, sh, DC_MAX_DIMS + 1) : -1;
    if (k < 0) return onnx_fail(ix, n, DC_ERR_FORMAT, "the shape (input 1) must be a constant of at most %d values", DC_MAX_DIMS);
    if (k > x->ndim) return onnx_fail(ix, n, DC_ERR_FORMAT, "a shape of rank %d adds axes before the batch axis of the rank %d input", k, x->ndim);
    int r = x->ndim, lead = r - k;
    int64_t dims[DC_MAX_DIMS];
    for (int i = 0; i < r; i++) {
        int64_t t = i < lead ? 1 : sh[i - lead], d = i == 0 ? 1 : x->dims[i];
        if (i == 0 && t != 1)
            return onnx_fail(ix, n, DC_ERR_FORMAT, "the shape's entry %lld for the batch axis would expand the batch; deepc keeps it", (long long)t);
        if (t != d && t != 1 && d != 1) return onnx_fail(ix, n, DC_ERR_SHAPE, "axis %d of size %lld does not expand to %lld", i, (long long)d, (long long)t);
        if (t < 0) return onnx_fail(ix, n, DC_ERR_SHAPE, "shape entry %lld", (long long)t);
        dims[i] = d == 1 ? t : d;
    }
    if (!y) return DC_OK;
    if (r == 1) return core_op("Identity")->map(ix, n);
    int64_t cnt = onnx_count(r - 1, dims + 1);
    if (cnt < 1 || cnt > ONNX_MAX_ELEMS) return onnx_fail(ix, n, DC_ERR_SHAPE, "%lld elements a sample", (long long)cnt);
    float *zero = calloc((size_t)cnt, sizeof *zero);
    if (!zero) return dc_error(DC_ERR_NOMEM, "onnx import: Expand of %lld elements", (long long)cnt);
    onnx_value xv = *x, *in[1] = {&xv};
    dc_layer *l = dc_arithmetic_value_layer(DC_ARITH_ADD, r - 1, dims + 1, false, false);
    dc_status st = step_layer(ix, n, l, 1, in, y, r, dims);
    if (!st) st = onnx_param(ix, n, l, "value", zero, cnt);
    free(zero);
    return st;
}

const onnx_op dc_onnx_ops_extra[] = {
    {"Neg", map_neg},
    {"Abs", map_abs},
    {"Exp", map_exp},
    {"Log", map_log},
    {"Sqrt", map_sqrt},
    {"Reciprocal", map_reciprocal},
    {"Pow", map_pow},
    {"Clip", map_clip},
    {"Softplus", map_softplus},
    {"Softsign", map_softsign},
    {"Selu", map_selu},
    {"Celu", map_celu},
    {"HardSigmoid", map_hard_sigmoid},
    {"HardSwish", map_hard_swish},
    {"Erf", map_erf},
    {"ThresholdedRelu", map_thresholded_relu},
    {"Sin", map_sin},
    {"Cos", map_cos},
    {"Tan", map_tan},
    {"Asin", map_asin},
    {"Acos", map_acos},
    {"Atan", map_atan},
    {"Sinh", map_sinh},
    {"Cosh", map_cosh},
    {"Asinh", map_asinh},
    {"Acosh", map_acosh},
    {"Atanh", map_atanh},
    {"Floor", map_floor},
    {"Ceil", map_ceil},
    {"Round", map_round},
    {"Sign", map_sign},
    {"Shrink", map_shrink},
    {"Max", map_max},
    {"Min", map_min},
    {"Sum", map_sum},
    {"Mean", map_mean},
    {"ReduceL1", map_reduce_l1},
    {"ReduceL2", map_reduce_l2},
    {"ReduceSumSquare", map_reduce_sum_square},
    {"ReduceLogSum", map_reduce_log_sum},
    {"ReduceLogSumExp", map_reduce_log_sum_exp},
    {"ReduceMin", map_reduce_min},
    {"Split", map_split},
    {"PRelu", map_prelu},
    {"GlobalMaxPool", map_global_max_pool},
    {"InstanceNormalization", map_instance_norm},
    {"DepthToSpace", map_depth_to_space},
    {"SpaceToDepth", map_space_to_depth},
    {"Resize", map_resize},
    {"Upsample", map_resize},
    {"Expand", map_expand},
    {NULL, NULL},
};

int onnx_claimed_ops(const char **names, int max) {
    int k = 0;
    for (const onnx_op *o = dc_onnx_ops_core; o->op_type; o++)
        if (k < max) names[k++] = o->op_type;
    for (const onnx_op *o = dc_onnx_ops_extra; o->op_type; o++)
        if (k < max) names[k++] = o->op_type;
    return k;
}
