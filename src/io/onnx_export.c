/* ONNX export: a built model as an ONNX ModelProto (onnx.proto of ONNX 1.12, messages generated
 * by protoc-c), written atomically.
 *
 * The graph follows the executor (src/model/executor.c) layer by layer: each layer's outputs
 * become named ONNX values, made by a handful of standard operators per layer type (the table
 * `exporters` below, keyed by the type's class name). Parameters become initialisers, reordered
 * where ONNX's layout differs from deepc's (the recurrent gates, MatMul's transposed weights).
 * Axis 0 of every input and output is symbolic (the batch); every other axis is the model's.
 *
 * Choices:
 *  - Inputs are float32, as deepc's data are; token ids are cast to int64 before Gather.
 *  - Inference only: Dropout disappears, BatchNormalization uses its running statistics.
 *  - Time-step masks (Embedding's mask_zero, Masking) travel as float [N, T] values of 1 (a real
 *    step) and 0 (padding), as the executor passes them. The recurrent layers take them as
 *    sequence_lens (the number of real steps), which equals deepc's masked recurrence when the
 *    padding comes after the real steps, as dc_texts_to_sequences pads; attention takes them as
 *    an additive -1e9 on the padded keys, average pooling as weights.
 *  - A layer ONNX cannot express, or one this exporter does not know, is DC_ERR_ARG naming the
 *    layer and its type; nothing is written then. */
#define _POSIX_C_SOURCE 200809L

#include "deepc/io.h"

#include "../base/atomic_file.h"
#include "../model/model.h"
#include "onnx.pb-c.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define OPSET_DEFAULT 17
#define OPSET_MIN 13
#define OPSET_MAX 17
/* What a masked attention score gets: exp of it is 0 in float32. */
#define MASK_NEG (-1e9f)

enum { T_FLOAT = ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT, T_INT64 = ONNX__TENSOR_PROTO__DATA_TYPE__INT64,
       T_INT32 = ONNX__TENSOR_PROTO__DATA_TYPE__INT32, T_BOOL = ONNX__TENSOR_PROTO__DATA_TYPE__BOOL };

/* ---- the exporter's state: every allocation is remembered and freed at the end ---- */
typedef struct ox {
    void **mem;
    size_t nmem, capmem;
    Onnx__NodeProto **nodes;
    size_t nnodes, capnodes;
    Onnx__TensorProto **inits;
    size_t ninits, capinits;
    Onnx__NodeProto *last; /* the node the attr_* calls add to */
    int counter;           /* makes value names unique */
    int opset;
    const char *prefix;    /* the layer being exported: names its values */
    bool failed;           /* out of memory */
} ox;

static void *ox_alloc(ox *o, size_t size) {
    if (o->failed) return NULL;
    if (o->nmem == o->capmem) {
        size_t cap = o->capmem ? 2 * o->capmem : 256;
        void **m = realloc(o->mem, cap * sizeof *m);
        if (!m) return o->failed = true, NULL;
        o->mem = m;
        o->capmem = cap;
    }
    void *p = calloc(1, size ? size : 1);
    if (!p) return o->failed = true, NULL;
    o->mem[o->nmem++] = p;
    return p;
}

static char *ox_strdup(ox *o, const char *s) {
    size_t n = strlen(s) + 1;
    char *p = ox_alloc(o, n);
    if (p) memcpy(p, s, n);
    return p;
}

static char *ox_fmt(ox *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static char *ox_fmt(ox *o, const char *fmt, ...) {
    char buf[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    return ox_strdup(o, buf);
}

/* A fresh value name under the current layer: "<layer>/<what>_<k>". */
static const char *ox_name(ox *o, const char *what) { return ox_fmt(o, "%s/%s_%d", o->prefix, what, o->counter++); }

static bool push(ox *o, void ***arr, size_t *n, size_t *cap, void *item) {
    if (!item) return false;
    if (*n == *cap) {
        size_t c = *cap ? 2 * *cap : 64;
        void **a = realloc(*arr, c * sizeof *a);
        if (!a) return o->failed = true, false;
        *arr = a;
        *cap = c;
    }
    (*arr)[(*n)++] = item;
    return true;
}

/* A node of op with nin inputs (NULL or "" for an absent optional one) and nout outputs named
 * by the caller; it becomes o->last. */
static Onnx__NodeProto *node(ox *o, const char *op, int nin, const char *const *in, int nout, const char *const *out) {
    Onnx__NodeProto *n = ox_alloc(o, sizeof *n);
    char **ins = ox_alloc(o, (size_t)(nin ? nin : 1) * sizeof *ins), **outs = ox_alloc(o, (size_t)nout * sizeof *outs);
    if (!n || !ins || !outs) return NULL;
    onnx__node_proto__init(n);
    for (int i = 0; i < nin; i++)
        if (!(ins[i] = ox_strdup(o, in[i] ? in[i] : ""))) return NULL;
    for (int i = 0; i < nout; i++) outs[i] = (char *)out[i];
    n->n_input = (size_t)nin;
    n->input = ins;
    n->n_output = (size_t)nout;
    n->output = outs;
    n->op_type = ox_strdup(o, op);
    n->name = ox_fmt(o, "%s/%s_%d", o->prefix, op, o->counter++);
    if (!n->op_type || !n->name || !push(o, (void ***)&o->nodes, &o->nnodes, &o->capnodes, n)) return NULL;
    o->last = n;
    return n;
}

/* One-output nodes: the output's name, or NULL (out of memory; the first NULL input also gives NULL). */
static const char *opn(ox *o, const char *op, int nin, const char *const *in) {
    for (int i = 0; i < nin; i++)
        if (!in[i] && i == 0) return NULL;
    const char *y = ox_name(o, op);
    if (!y) return NULL;
    return node(o, op, nin, in, 1, &y) ? y : NULL;
}
static const char *op1(ox *o, const char *op, const char *a) { return opn(o, op, 1, &a); }
static const char *op2(ox *o, const char *op, const char *a, const char *b) {
    if (!a || !b) return NULL;
    return opn(o, op, 2, (const char *[]){a, b});
}
static const char *op3(ox *o, const char *op, const char *a, const char *b, const char *c) {
    if (!a || !b) return NULL;
    return opn(o, op, 3, (const char *[]){a, b, c});
}

static Onnx__AttributeProto *attr(ox *o, const char *name, Onnx__AttributeProto__AttributeType type) {
    Onnx__NodeProto *n = o->last;
    if (!n || o->failed) return NULL;
    Onnx__AttributeProto *a = ox_alloc(o, sizeof *a);
    if (!a) return NULL;
    onnx__attribute_proto__init(a);
    a->name = ox_strdup(o, name);
    a->has_type = 1;
    a->type = type;
    Onnx__AttributeProto **arr = ox_alloc(o, (n->n_attribute + 1) * sizeof *arr);
    if (!arr || !a->name) return NULL;
    if (n->n_attribute) memcpy(arr, n->attribute, n->n_attribute * sizeof *arr);
    arr[n->n_attribute++] = a;
    n->attribute = arr;
    return a;
}
static void attr_i(ox *o, const char *name, int64_t v) {
    Onnx__AttributeProto *a = attr(o, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT);
    if (a) a->has_i = 1, a->i = v;
}
static void attr_f(ox *o, const char *name, float v) {
    Onnx__AttributeProto *a = attr(o, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT);
    if (a) a->has_f = 1, a->f = v;
}
static void attr_s(ox *o, const char *name, const char *v) {
    Onnx__AttributeProto *a = attr(o, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING);
    char *s = ox_strdup(o, v);
    if (a && s) a->has_s = 1, a->s.data = (uint8_t *)s, a->s.len = strlen(v);
}
static void attr_ints(ox *o, const char *name, int n, const int64_t *v) {
    Onnx__AttributeProto *a = attr(o, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS);
    int64_t *c = ox_alloc(o, (size_t)n * sizeof *c);
    if (!a || !c) return;
    memcpy(c, v, (size_t)n * sizeof *c);
    a->n_ints = (size_t)n;
    a->ints = c;
}
static void attr_floats(ox *o, const char *name, int n, const float *v) {
    Onnx__AttributeProto *a = attr(o, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOATS);
    float *c = ox_alloc(o, (size_t)n * sizeof *c);
    if (!a || !c) return;
    memcpy(c, v, (size_t)n * sizeof *c);
    a->n_floats = (size_t)n;
    a->floats = c;
}
static void attr_strs(ox *o, const char *name, int n, const char *const *v) {
    Onnx__AttributeProto *a = attr(o, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRINGS);
    ProtobufCBinaryData *s = ox_alloc(o, (size_t)n * sizeof *s);
    if (!a || !s) return;
    for (int i = 0; i < n; i++) {
        char *c = ox_strdup(o, v[i]);
        if (!c) return;
        s[i].data = (uint8_t *)c;
        s[i].len = strlen(c);
    }
    a->n_strings = (size_t)n;
    a->strings = s;
}

/* ---- initialisers ---- */
static Onnx__TensorProto *tensor(ox *o, const char *name, int type, int ndim, const int64_t *shape) {
    Onnx__TensorProto *t = ox_alloc(o, sizeof *t);
    int64_t *dims = ox_alloc(o, (size_t)(ndim ? ndim : 1) * sizeof *dims);
    if (!t || !dims) return NULL;
    onnx__tensor_proto__init(t);
    if (ndim) memcpy(dims, shape, (size_t)ndim * sizeof *dims);
    t->n_dims = (size_t)ndim;
    t->dims = dims;
    t->has_data_type = 1;
    t->data_type = type;
    t->name = (char *)name;
    return push(o, (void ***)&o->inits, &o->ninits, &o->capinits, t) ? t : NULL;
}
static int64_t numel_of(int ndim, const int64_t *shape) {
    int64_t n = 1;
    for (int i = 0; i < ndim; i++) n *= shape[i];
    return n;
}
/* A float initialiser holding data (copied), named name (unique: made by the caller). */
static const char *init_f(ox *o, const char *name, int ndim, const int64_t *shape, const float *data) {
    if (!name) return NULL;
    int64_t n = numel_of(ndim, shape);
    float *c = ox_alloc(o, (size_t)n * sizeof *c);
    Onnx__TensorProto *t = c ? tensor(o, name, T_FLOAT, ndim, shape) : NULL;
    if (!t) return NULL;
    memcpy(c, data, (size_t)n * sizeof *c);
    t->n_float_data = (size_t)n;
    t->float_data = c;
    return name;
}
static const char *const_i64(ox *o, int n, const int64_t *v) {
    const char *name = ox_name(o, "const");
    int64_t *c = ox_alloc(o, (size_t)(n ? n : 1) * sizeof *c);
    Onnx__TensorProto *t = name && c ? tensor(o, name, T_INT64, 1, (int64_t[]){n}) : NULL;
    if (!t) return NULL;
    memcpy(c, v, (size_t)n * sizeof *c);
    t->n_int64_data = (size_t)n;
    t->int64_data = c;
    return name;
}
/* A float scalar (rank 0: it broadcasts against anything). */
static const char *const_f(ox *o, float v) {
    const char *name = ox_name(o, "const");
    float *c = ox_alloc(o, sizeof *c);
    Onnx__TensorProto *t = name && c ? tensor(o, name, T_FLOAT, 0, NULL) : NULL;
    if (!t) return NULL;
    *c = v;
    t->n_float_data = 1;
    t->float_data = c;
    return name;
}
/* Parameter k of layer l as an initialiser named "<layer>.<param>" (unchanged). */
static const char *param(ox *o, const dc_layer *l, int k) {
    const dc_tensor *p = l->param[k];
    return init_f(o, ox_fmt(o, "%s.%s", l->name, l->decl[k].name), p->ndim, p->shape, dc_tensor_data((dc_tensor *)p));
}
/* The transpose of a 2-D parameter (or of rows [r0, r1) of it), for MatMul: [in, out]. */
static const char *param_t(ox *o, const dc_layer *l, int k, int64_t r0, int64_t r1, const char *suffix) {
    const dc_tensor *p = l->param[k];
    int64_t C = p->shape[1], R = r1 - r0;
    const float *d = dc_tensor_data((dc_tensor *)p);
    float *t = ox_alloc(o, (size_t)(R * C) * sizeof *t);
    if (!t) return NULL;
    for (int64_t r = 0; r < R; r++)
        for (int64_t c = 0; c < C; c++) t[c * R + r] = d[(r0 + r) * C + c];
    return init_f(o, ox_fmt(o, "%s.%s%s", l->name, l->decl[k].name, suffix), 2, (int64_t[]){C, R}, t);
}
/* Elements [a, b) of a 1-D parameter. */
static const char *param_slice(ox *o, const dc_layer *l, int k, int64_t a, int64_t b, const char *suffix) {
    const float *d = dc_tensor_data(l->param[k]);
    return init_f(o, ox_fmt(o, "%s.%s%s", l->name, l->decl[k].name, suffix), 1, (int64_t[]){b - a}, d + a);
}

/* ---- small graph pieces ---- */
static const char *reshape(ox *o, const char *x, int n, const int64_t *shape) { return op2(o, "Reshape", x, const_i64(o, n, shape)); }
static const char *transpose(ox *o, const char *x, int n, const int64_t *perm) {
    const char *y = op1(o, "Transpose", x);
    attr_ints(o, "perm", n, perm);
    return y;
}
static const char *unsqueeze(ox *o, const char *x, int64_t axis) { return op2(o, "Unsqueeze", x, const_i64(o, 1, &axis)); }
static const char *squeeze(ox *o, const char *x, int64_t axis) { return op2(o, "Squeeze", x, const_i64(o, 1, &axis)); }
static const char *reduce_sum(ox *o, const char *x, int64_t axis, bool keep) {
    const char *y = op2(o, "ReduceSum", x, const_i64(o, 1, &axis));
    attr_i(o, "keepdims", keep);
    return y;
}
static const char *reduce_attr(ox *o, const char *op, const char *x, int n, const int64_t *axes, bool keep) {
    const char *y = op1(o, op, x);
    attr_ints(o, "axes", n, axes);
    attr_i(o, "keepdims", keep);
    return y;
}
static const char *cast(ox *o, const char *x, int to) {
    const char *y = op1(o, "Cast", x);
    attr_i(o, "to", to);
    return y;
}
/* x . W^T + b for x of any rank: Gemm for [N, F], MatMul and Add above. w_k, b_k: parameter
 * indices (b_k < 0: no bias); rows [r0, r1) of W (and of b), for packed projections. */
static const char *linear_rows(ox *o, const dc_layer *l, const char *x, int rank, int w_k, int b_k, int64_t r0, int64_t r1,
                               const char *suffix) {
    const dc_tensor *w = l->param[w_k];
    bool whole = r0 == 0 && r1 == w->shape[0];
    if (rank == 2 && whole) {
        const char *y = op3(o, "Gemm", x, param(o, l, w_k), b_k >= 0 ? param(o, l, b_k) : NULL);
        attr_i(o, "transB", 1);
        return y;
    }
    const char *y = op2(o, "MatMul", x, param_t(o, l, w_k, r0, r1, suffix));
    if (b_k >= 0) y = op2(o, "Add", y, whole ? param(o, l, b_k) : param_slice(o, l, b_k, r0, r1, suffix));
    return y;
}
static const char *linear(ox *o, const dc_layer *l, const char *x, int rank, int w_k, int b_k) {
    return linear_rows(o, l, x, rank, w_k, b_k, 0, l->param[w_k]->shape[0], "");
}

/* An activation of dc_activation a (alpha 0: the op's default, as dc_act_op). */
static const char *activation(ox *o, const char *x, dc_activation a, float alpha) {
    switch (a) {
    case DC_ACT_NONE: return x;
    case DC_ACT_SIGMOID: return op1(o, "Sigmoid", x);
    case DC_ACT_TANH: return op1(o, "Tanh", x);
    case DC_ACT_RELU: return op1(o, "Relu", x);
    case DC_ACT_LEAKY_RELU: {
        const char *y = op1(o, "LeakyRelu", x);
        attr_f(o, "alpha", alpha == 0 ? 0.01f : alpha);
        return y;
    }
    case DC_ACT_ELU: {
        const char *y = op1(o, "Elu", x);
        attr_f(o, "alpha", alpha == 0 ? 1.0f : alpha);
        return y;
    }
    case DC_ACT_SOFTMAX:
    case DC_ACT_LOG_SOFTMAX: {
        const char *y = op1(o, a == DC_ACT_SOFTMAX ? "Softmax" : "LogSoftmax", x);
        attr_i(o, "axis", -1);
        return y;
    }
    case DC_ACT_GELU: { /* 0.5 x (1 + erf(x / sqrt 2)) */
        const char *e = op1(o, "Erf", op2(o, "Div", x, const_f(o, 1.41421356237309504880f)));
        return op2(o, "Mul", op2(o, "Mul", x, op2(o, "Add", e, const_f(o, 1.0f))), const_f(o, 0.5f));
    }
    case DC_ACT_GELU_TANH: { /* 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) */
        const char *x3 = op2(o, "Mul", op2(o, "Mul", x, x), x);
        const char *in = op2(o, "Mul", op2(o, "Add", x, op2(o, "Mul", x3, const_f(o, 0.044715f))), const_f(o, 0.7978845608028654f));
        const char *t = op1(o, "Tanh", in);
        return op2(o, "Mul", op2(o, "Mul", x, op2(o, "Add", t, const_f(o, 1.0f))), const_f(o, 0.5f));
    }
    default: return NULL;
    }
}

/* LayerNormalization over the last axis: the operator from opset 17, its formula before. */
static const char *layer_norm(ox *o, const char *x, const char *w, const char *b, float eps) {
    if (o->opset >= 17) {
        const char *y = op3(o, "LayerNormalization", x, w, b);
        attr_i(o, "axis", -1);
        attr_f(o, "epsilon", eps);
        return y;
    }
    const int64_t last = -1;
    const char *mu = reduce_attr(o, "ReduceMean", x, 1, &last, true);
    const char *d = op2(o, "Sub", x, mu);
    const char *var = reduce_attr(o, "ReduceMean", op2(o, "Mul", d, d), 1, &last, true);
    const char *inv = op1(o, "Sqrt", op2(o, "Add", var, const_f(o, eps)));
    return op2(o, "Add", op2(o, "Mul", op2(o, "Div", d, inv), w), b);
}

/* ---- per layer ---- */
/* What an exporter gets: the layer, its inputs' values and ranks (with the batch axis), their
 * masks (float [N, T] values or NULL); it sets out[0..nout) and *out_mask. */
typedef struct lx {
    const dc_layer *l;
    int nin;
    const char *in[DC_LAYER_MAX_INPUTS];
    int rank[DC_LAYER_MAX_INPUTS];
    const char *mask[DC_LAYER_MAX_INPUTS];
    const char *out[DC_LAYER_MAX_OUTPUTS];
    const char *out_mask;
} lx;
typedef dc_status (*export_fn)(ox *o, lx *x);

/* A numeric option of a layer by key (its schema: model files and the setters use the same). */
static double field_num(const dc_layer *l, const char *key) {
    double v[DC_MAX_DIMS] = {0};
    dc_layer_get_field(l, key, v);
    return v[0];
}
static int field_nums(const dc_layer *l, const char *key, double *v) { return dc_layer_get_field(l, key, v); }

static dc_status unsupported(const dc_layer *l, const char *why) {
    return dc_error(DC_ERR_ARG, "onnx export: layer %s (%s): %s", l->name, l->type->name, why);
}

static dc_status ex_identity(ox *o, lx *x) {
    x->out[0] = x->in[0];
    return DC_OK;
}

static dc_status ex_dense(ox *o, lx *x) {
    const dc_layer *l = x->l;
    bool bias = field_num(l, "use_bias") != 0;
    const char *y = linear(o, l, x->in[0], x->rank[0], 0, bias ? 1 : -1);
    x->out[0] = activation(o, y, (dc_activation)field_num(l, "activation"), (float)field_num(l, "alpha"));
    return DC_OK;
}

static dc_status ex_activation(ox *o, lx *x) {
    x->out[0] = activation(o, x->in[0], (dc_activation)field_num(x->l, "activation"), (float)field_num(x->l, "alpha"));
    return DC_OK;
}

static dc_status ex_flatten(ox *o, lx *x) {
    x->out[0] = op1(o, "Flatten", x->in[0]);
    attr_i(o, "axis", 1);
    return DC_OK;
}

/* Reshape and anything else whose output is its input's values under out_shape. */
static dc_status ex_reshape(ox *o, lx *x) {
    const dc_layer *l = x->l;
    int64_t sh[DC_MAX_DIMS] = {-1};
    memcpy(sh + 1, l->out_shape, (size_t)l->out_ndim * sizeof *sh);
    x->out[0] = reshape(o, x->in[0], l->out_ndim + 1, sh);
    return DC_OK;
}

static dc_status ex_permute(ox *o, lx *x) {
    double d[DC_MAX_DIMS];
    int n = field_nums(x->l, "dims", d);
    int64_t perm[DC_MAX_DIMS] = {0};
    for (int i = 0; i < n; i++) perm[i + 1] = (int64_t)d[i];
    x->out[0] = transpose(o, x->in[0], n + 1, perm);
    if (d[0] != 1) x->out_mask = NULL;
    return DC_OK;
}

/* Masking: keep = any(x != value) over each step's features; y = x keep; the mask is keep. */
static dc_status ex_masking(ox *o, lx *x) {
    const dc_layer *l = x->l;
    int r = x->rank[0];
    int64_t axes[DC_MAX_DIMS];
    int na = 0;
    for (int a = 2; a < r; a++) axes[na++] = a;
    const char *ne = cast(o, op1(o, "Not", op2(o, "Equal", x->in[0], const_f(o, (float)field_num(l, "mask_value")))), T_FLOAT);
    if (na == 0) { /* [N, T]: each value is a step */
        x->out[0] = op2(o, "Mul", x->in[0], ne);
        x->out_mask = ne;
        return DC_OK;
    }
    const char *keep = reduce_attr(o, "ReduceMax", ne, na, axes, true);
    x->out[0] = op2(o, "Mul", x->in[0], keep);
    x->out_mask = reduce_attr(o, "ReduceMax", ne, na, axes, false);
    return DC_OK;
}

static dc_status ex_merge(ox *o, lx *x, bool concat) {
    if (concat) {
        if (x->nin == 1) return ex_identity(o, x);
        x->out[0] = opn(o, "Concat", x->nin, x->in);
        attr_i(o, "axis", -1);
        return DC_OK;
    }
    const char *y = x->in[0];
    for (int i = 1; i < x->nin; i++) y = op2(o, "Add", y, x->in[i]);
    x->out[0] = y;
    return DC_OK;
}
static dc_status ex_add(ox *o, lx *x) { return ex_merge(o, x, false); }
static dc_status ex_concat(ox *o, lx *x) { return ex_merge(o, x, true); }

/* ---- images ---- */
static dc_status ex_conv2d(ox *o, lx *x, bool transposed) {
    const dc_layer *l = x->l;
    double k[2], s[2], pad[4] = {0};
    field_nums(l, "kernel_size", k);
    field_nums(l, "strides", s);
    /* the padding build resolved (conv_layers.c's resolve_pad): "explicit_padding" when set,
     * else TensorFlow's SAME for a convolution and Keras's for a transposed one, whose negative
     * bottom/right is output padding */
    int64_t ks[2] = {(int64_t)k[0], (int64_t)k[1]}, st[2] = {(int64_t)s[0], (int64_t)s[1]}, pads[4] = {0, 0, 0, 0}, outpad[2] = {0, 0};
    bool expl = field_nums(l, "explicit_padding", pad) == 4;
    bool same = (int)field_num(l, "padding") == DC_PAD_SAME;
    for (int a = 0; a < 2; a++) {
        if (expl) {
            pads[a] = (int64_t)pad[a];
            pads[a + 2] = (int64_t)pad[a + 2];
        } else if (same && !transposed) {
            int64_t in = l->in_shape[1 + a], out = (in + st[a] - 1) / st[a], total = (out - 1) * st[a] + ks[a] - in;
            if (total < 0) total = 0;
            pads[a] = total / 2;
            pads[a + 2] = total - total / 2;
        } else if (same) {
            int64_t total = ks[a] - st[a];
            pads[a] = total > 0 ? total / 2 : 0;
            pads[a + 2] = total - pads[a];
            if (pads[a + 2] < 0) outpad[a] = -pads[a + 2], pads[a + 2] = 0;
        }
    }
    bool bias = field_num(l, "use_bias") != 0;
    const char *y = op3(o, transposed ? "ConvTranspose" : "Conv", x->in[0], param(o, l, 0), bias ? param(o, l, 1) : NULL);
    attr_ints(o, "kernel_shape", 2, ks);
    attr_ints(o, "strides", 2, st);
    attr_ints(o, "pads", 4, pads);
    if (outpad[0] || outpad[1]) attr_ints(o, "output_padding", 2, outpad);
    x->out[0] = activation(o, y, (dc_activation)field_num(l, "activation"), (float)field_num(l, "alpha"));
    return DC_OK;
}
static dc_status ex_conv(ox *o, lx *x) { return ex_conv2d(o, x, false); }
static dc_status ex_convt(ox *o, lx *x) { return ex_conv2d(o, x, true); }

static dc_status ex_pool2d(ox *o, lx *x, const char *op) {
    double p[2], s[2];
    field_nums(x->l, "pool_size", p);
    field_nums(x->l, "strides", s);
    int64_t ks[2] = {(int64_t)p[0], (int64_t)p[1]}, st[2] = {s[0] ? (int64_t)s[0] : ks[0], s[1] ? (int64_t)s[1] : ks[1]};
    x->out[0] = op1(o, op, x->in[0]);
    attr_ints(o, "kernel_shape", 2, ks);
    attr_ints(o, "strides", 2, st);
    return DC_OK;
}
static dc_status ex_maxpool2d(ox *o, lx *x) { return ex_pool2d(o, x, "MaxPool"); }
static dc_status ex_avgpool2d(ox *o, lx *x) { return ex_pool2d(o, x, "AveragePool"); }

static dc_status ex_gap2d(ox *o, lx *x) {
    x->out[0] = op1(o, "Flatten", op1(o, "GlobalAveragePool", x->in[0]));
    attr_i(o, "axis", 1);
    return DC_OK;
}

static dc_status ex_upsampling(ox *o, lx *x) {
    double f[2];
    field_nums(x->l, "size", f);
    const char *scales = init_f(o, ox_name(o, "scales"), 1, (int64_t[]){4}, (const float[]){1, 1, (float)f[0], (float)f[1]});
    x->out[0] = op3(o, "Resize", x->in[0], "", scales);
    attr_s(o, "mode", "nearest");
    attr_s(o, "coordinate_transformation_mode", "asymmetric");
    attr_s(o, "nearest_mode", "floor");
    return DC_OK;
}

static dc_status ex_batchnorm(ox *o, lx *x) {
    const dc_layer *l = x->l;
    const char *in[5] = {x->in[0], param(o, l, 0), param(o, l, 1), param(o, l, 2), param(o, l, 3)};
    x->out[0] = opn(o, "BatchNormalization", 5, in);
    attr_f(o, "epsilon", (float)field_num(l, "epsilon"));
    return DC_OK;
}

/* ---- steps [N, T, C] ---- */
/* The mask of a windowed layer's To output steps: step t is real when input step t stride +
 * anchor is (conv1d_layers.c's pass_mask), a strided Slice of the input's mask. */
static const char *window_mask(ox *o, const char *mask, int64_t anchor, int64_t stride, int64_t To) {
    if (!mask) return NULL;
    const int64_t end = anchor + (To - 1) * stride + 1, axis = 1;
    const char *in[5] = {mask, const_i64(o, 1, &anchor), const_i64(o, 1, &end), const_i64(o, 1, &axis), const_i64(o, 1, &stride)};
    return opn(o, "Slice", 5, in);
}

static dc_status ex_conv1d(ox *o, lx *x) {
    const dc_layer *l = x->l;
    int64_t k = (int64_t)field_num(l, "kernel_size"), st = (int64_t)field_num(l, "strides"), d = (int64_t)field_num(l, "dilation_rate");
    int64_t T = l->in_shape[0], To = l->out_shape[0], span = (k - 1) * d + 1;
    int pad_mode = (int)field_num(l, "padding");
    int64_t pads[2] = {0, 0};
    if (pad_mode == DC_PAD_SAME) {
        int64_t total = (To - 1) * st + span - T;
        if (total < 0) total = 0;
        pads[0] = total / 2;
        pads[1] = total - total / 2;
    } else if (pad_mode == DC_PAD_CAUSAL) {
        pads[0] = span - 1;
    }
    bool bias = field_num(l, "use_bias") != 0;
    const int64_t perm[3] = {0, 2, 1};
    const char *y = op3(o, "Conv", transpose(o, x->in[0], 3, perm), param(o, l, 0), bias ? param(o, l, 1) : NULL);
    attr_ints(o, "kernel_shape", 1, &k);
    attr_ints(o, "strides", 1, &st);
    attr_ints(o, "dilations", 1, &d);
    attr_ints(o, "pads", 2, pads);
    y = transpose(o, y, 3, perm);
    x->out[0] = activation(o, y, (dc_activation)field_num(l, "activation"), (float)field_num(l, "alpha"));
    /* VALID anchors a window at its last step; SAME and CAUSAL at step t stride */
    x->out_mask = window_mask(o, x->mask[0], pad_mode == DC_PAD_VALID ? (k - 1) * d : 0, st, To);
    return DC_OK;
}

static dc_status ex_pool1d(ox *o, lx *x, bool max) {
    const dc_layer *l = x->l;
    int64_t k = (int64_t)field_num(l, "pool_size"), st = (int64_t)field_num(l, "strides");
    if (st == 0) st = k;
    int64_t T = l->in_shape[0], To = l->out_shape[0], pads[2] = {0, 0};
    if ((int)field_num(l, "padding") == DC_PAD_SAME) {
        int64_t total = (To - 1) * st + k - T;
        if (total < 0) total = 0;
        pads[0] = total / 2;
        pads[1] = total - total / 2;
    }
    const int64_t perm[3] = {0, 2, 1};
    const char *y = op1(o, max ? "MaxPool" : "AveragePool", transpose(o, x->in[0], 3, perm));
    attr_ints(o, "kernel_shape", 1, &k);
    attr_ints(o, "strides", 1, &st);
    attr_ints(o, "pads", 2, pads);
    if (!max) attr_i(o, "count_include_pad", 0); /* deepc averages the real steps of a window */
    x->out[0] = transpose(o, y, 3, perm);
    x->out_mask = window_mask(o, x->mask[0], (int)field_num(l, "padding") == DC_PAD_VALID ? k - 1 : 0, st, To);
    return DC_OK;
}
static dc_status ex_maxpool1d(ox *o, lx *x) { return ex_pool1d(o, x, true); }
static dc_status ex_avgpool1d(ox *o, lx *x) { return ex_pool1d(o, x, false); }

/* [N, T] -> [N, T, 1] */
static const char *mask3(ox *o, const char *m) { return unsqueeze(o, m, 2); }

static dc_status ex_gap1d(ox *o, lx *x) {
    const int64_t one = 1;
    if (!x->mask[0]) {
        x->out[0] = reduce_attr(o, "ReduceMean", x->in[0], 1, &one, false);
    } else { /* the mean of the real steps; 0 for a row without any */
        const char *sum = reduce_sum(o, op2(o, "Mul", x->in[0], mask3(o, x->mask[0])), 1, false);
        const char *cnt = op2(o, "Max", reduce_sum(o, x->mask[0], 1, true), const_f(o, 1.0f));
        x->out[0] = op2(o, "Div", sum, cnt);
    }
    x->out_mask = NULL;
    return DC_OK;
}

static dc_status ex_gmp1d(ox *o, lx *x) {
    const int64_t one = 1;
    if (!x->mask[0]) {
        x->out[0] = reduce_attr(o, "ReduceMax", x->in[0], 1, &one, false);
    } else { /* the largest real step; 0 for a row without any */
        const char *m = mask3(o, x->mask[0]);
        const char *real = cast(o, m, T_BOOL);
        const char *masked = op3(o, "Where", real, x->in[0], const_f(o, -INFINITY));
        const char *mx = reduce_attr(o, "ReduceMax", masked, 1, &one, false);
        const char *any = cast(o, reduce_attr(o, "ReduceMax", m, 1, &one, false), T_BOOL);
        x->out[0] = op3(o, "Where", any, mx, const_f(o, 0.0f));
    }
    x->out_mask = NULL;
    return DC_OK;
}

static dc_status ex_embedding(ox *o, lx *x) {
    const dc_layer *l = x->l;
    const char *ids = cast(o, x->in[0], T_INT64);
    x->out[0] = op2(o, "Gather", param(o, l, 0), ids);
    attr_i(o, "axis", 0);
    x->out_mask = NULL;
    if (field_num(l, "mask_zero") != 0) x->out_mask = cast(o, op1(o, "Not", op2(o, "Equal", x->in[0], const_f(o, 0.0f))), T_FLOAT);
    return DC_OK;
}

static dc_status ex_positional(ox *o, lx *x) {
    const dc_layer *l = x->l;
    int64_t T = l->in_shape[0], D = l->in_shape[1];
    const float *tab = dc_tensor_data(l->param[0]);
    const char *t = init_f(o, ox_fmt(o, "%s.%s[:%lld]", l->name, l->decl[0].name, (long long)T), 2, (int64_t[]){T, D}, tab);
    x->out[0] = op2(o, "Add", x->in[0], t);
    return DC_OK;
}

static dc_status ex_layernorm(ox *o, lx *x) {
    const dc_layer *l = x->l;
    x->out[0] = layer_norm(o, x->in[0], param(o, l, 0), param(o, l, 1), (float)field_num(l, "epsilon"));
    return DC_OK;
}

/* ---- recurrent layers ---- */
enum { CELL_RNN, CELL_LSTM, CELL_GRU };
static int cell_of(const dc_layer *l) {
    return strcmp(l->type->name, "LSTM") == 0 ? CELL_LSTM : strcmp(l->type->name, "GRU") == 0 ? CELL_GRU : CELL_RNN;
}

/* W [dirs, G H, F], R [dirs, G H, H], B [dirs, 2 G H] from the parameters of each direction's
 * layer (dirs[d], its parameters from first[d] in the layer params): the gate blocks reordered
 * from deepc's (PyTorch's) to ONNX's: LSTM i f g o -> i o f c, GRU r z n -> z r h. */
static dc_status rec_weights(ox *o, const dc_layer *l, int cell, int ndir, const int *first, int64_t H, const char **W,
                             const char **R, const char **B) {
    static const int lstm_order[4] = {0, 3, 1, 2}, gru_order[3] = {1, 0, 2}, rnn_order[1] = {0};
    const int *order = cell == CELL_LSTM ? lstm_order : cell == CELL_GRU ? gru_order : rnn_order;
    int G = cell == CELL_LSTM ? 4 : cell == CELL_GRU ? 3 : 1;
    int64_t F = l->param[first[0]]->shape[1];
    float *w = ox_alloc(o, (size_t)(ndir * G * H * F) * sizeof *w), *r = ox_alloc(o, (size_t)(ndir * G * H * H) * sizeof *r);
    float *b = ox_alloc(o, (size_t)(ndir * 2 * G * H) * sizeof *b);
    if (!w || !r || !b) return DC_ERR_NOMEM;
    for (int d = 0; d < ndir; d++) {
        const float *wi = dc_tensor_data(l->param[first[d]]), *wh = dc_tensor_data(l->param[first[d] + 1]);
        const float *bi = dc_tensor_data(l->param[first[d] + 2]);
        const float *bh = cell == CELL_GRU ? dc_tensor_data(l->param[first[d] + 3]) : NULL;
        for (int g = 0; g < G; g++) {
            int src = order[g];
            memcpy(w + ((int64_t)d * G + g) * H * F, wi + src * H * F, (size_t)(H * F) * sizeof *w);
            memcpy(r + ((int64_t)d * G + g) * H * H, wh + src * H * H, (size_t)(H * H) * sizeof *r);
            memcpy(b + (int64_t)d * 2 * G * H + g * H, bi + src * H, (size_t)H * sizeof *b);
            if (bh) memcpy(b + (int64_t)d * 2 * G * H + (G + g) * H, bh + src * H, (size_t)H * sizeof *b);
        }
    }
    *W = init_f(o, ox_fmt(o, "%s.W", l->name), 3, (int64_t[]){ndir, G * H, F}, w);
    *R = init_f(o, ox_fmt(o, "%s.R", l->name), 3, (int64_t[]){ndir, G * H, H}, r);
    *B = init_f(o, ox_fmt(o, "%s.B", l->name), 2, (int64_t[]){ndir, 2 * G * H}, b);
    return DC_OK;
}

/* One ONNX RNN/LSTM/GRU node over x [N, T, F]: its outputs Y [T, dirs, N, H], Y_h [dirs, N, H]
 * (and Y_c), with sequence_lens from the mask and the initial states h0, c0 ([N, H] or NULL). */
static dc_status rec_node(ox *o, const dc_layer *cell_l, const dc_layer *l, int ndir, const int *first, const char *xin,
                          const char *mask, const char *h0, const char *c0, const char **Y, const char **Yh, const char **Yc) {
    int cell = cell_of(cell_l);
    int64_t H = (int64_t)field_num(cell_l, "units");
    const char *W, *R, *B;
    dc_status s = rec_weights(o, l, cell, ndir, first, H, &W, &R, &B);
    if (s) return s;
    /* SimpleRNN's activation; linear is ONNX's Affine with alpha 1, beta 0 */
    const char *acts[2] = {"Tanh", "Tanh"};
    bool affine = false;
    if (cell == CELL_RNN) {
        dc_activation a = (dc_activation)field_num(cell_l, "activation");
        affine = a == DC_ACT_NONE;
        acts[0] = acts[1] = affine ? "Affine" : a == DC_ACT_RELU ? "Relu" : a == DC_ACT_SIGMOID ? "Sigmoid" : "Tanh";
    }
    const int64_t tnf[3] = {1, 0, 2};
    const char *xt = transpose(o, xin, 3, tnf);
    const char *lens = mask ? cast(o, reduce_sum(o, mask, 1, false), T_INT32) : "";
    const char *ih = h0 ? unsqueeze(o, h0, 0) : "", *ic = c0 ? unsqueeze(o, c0, 0) : "";
    const char *in[8] = {xt, W, R, B, lens, ih, ic, ""};
    *Y = ox_name(o, "Y");
    *Yh = ox_name(o, "Y_h");
    const char *outs[3] = {*Y, *Yh, cell == CELL_LSTM ? ox_name(o, "Y_c") : NULL};
    if (Yc) *Yc = outs[2];
    const char *op = cell == CELL_LSTM ? "LSTM" : cell == CELL_GRU ? "GRU" : "RNN";
    if (!node(o, op, cell == CELL_LSTM ? 7 : 6, in, cell == CELL_LSTM ? 3 : 2, outs)) return DC_ERR_NOMEM;
    attr_i(o, "hidden_size", H);
    if (ndir == 2) attr_s(o, "direction", "bidirectional");
    if (cell == CELL_GRU) attr_i(o, "linear_before_reset", 1);
    if (cell == CELL_RNN) attr_strs(o, "activations", ndir, acts);
    if (affine) {
        attr_floats(o, "activation_alpha", ndir, (const float[]){1, 1});
        attr_floats(o, "activation_beta", ndir, (const float[]){0, 0});
    }
    return DC_OK;
}

static dc_status ex_recurrent(ox *o, lx *x) {
    const dc_layer *l = x->l;
    int cell = cell_of(l);
    bool seq = field_num(l, "return_sequences") != 0, state = field_num(l, "return_state") != 0;
    const char *Y, *Yh, *Yc = NULL;
    int first = 0;
    dc_status s = rec_node(o, l, l, 1, &first, x->in[0], x->mask[0], x->nin > 1 ? x->in[1] : NULL, x->nin > 2 ? x->in[2] : NULL, &Y,
                           &Yh, &Yc);
    if (s) return s;
    const char *hn = squeeze(o, Yh, 0);
    if (seq) {
        const int64_t ntf[3] = {1, 0, 2};
        const char *y = transpose(o, squeeze(o, Y, 1), 3, ntf); /* [N, T, H] */
        if (x->mask[0]) { /* padded steps keep the state: the last real one's h where ONNX gives 0 */
            const char *m = mask3(o, x->mask[0]);
            const char *keep = op2(o, "Mul", unsqueeze(o, hn, 1), op2(o, "Sub", const_f(o, 1.0f), m));
            y = op2(o, "Add", op2(o, "Mul", y, m), keep);
        }
        x->out[0] = y;
    } else {
        x->out[0] = hn;
        x->out_mask = NULL;
    }
    if (state) {
        x->out[1] = hn;
        if (cell == CELL_LSTM) x->out[2] = squeeze(o, Yc, 0);
    }
    return DC_OK;
}

static dc_status ex_bidirectional(ox *o, lx *x) {
    const dc_layer *l = x->l, *in = l->inner;
    if (!in) return unsupported(l, "it wraps no layer");
    bool seq = field_num(in, "return_sequences") != 0;
    int64_t H = (int64_t)field_num(in, "units"), T = l->in_shape[0];
    const char *Y, *Yh;
    int first[2] = {0, in->nparams};
    dc_status s = rec_node(o, in, l, 2, first, x->in[0], x->mask[0], NULL, NULL, &Y, &Yh, NULL);
    if (s) return s;
    /* the two directions side by side: [N, T, 2, H] or [N, 2, H] */
    const char *both = seq ? transpose(o, Y, 4, (const int64_t[]){2, 0, 1, 3}) : transpose(o, Yh, 3, (const int64_t[]){1, 0, 2});
    int64_t axis = seq ? 2 : 1;
    const char *y;
    switch ((dc_merge_mode)field_num(l, "merge_mode")) {
    case DC_MERGE_SUM: y = reduce_sum(o, both, axis, false); break;
    case DC_MERGE_AVE: y = reduce_attr(o, "ReduceMean", both, 1, &axis, false); break;
    case DC_MERGE_MUL: {
        const char *lo = const_i64(o, 1, (const int64_t[]){0}), *mid = const_i64(o, 1, (const int64_t[]){1});
        const char *hi = const_i64(o, 1, (const int64_t[]){2}), *ax = const_i64(o, 1, &axis);
        const char *f = squeeze(o, opn(o, "Slice", 4, (const char *[]){both, lo, mid, ax}), axis);
        const char *b = squeeze(o, opn(o, "Slice", 4, (const char *[]){both, mid, hi, ax}), axis);
        y = op2(o, "Mul", f, b);
        break;
    }
    default:
        y = seq ? reshape(o, both, 3, (const int64_t[]){-1, T, 2 * H}) : reshape(o, both, 2, (const int64_t[]){-1, 2 * H});
        break;
    }
    /* padded steps give 0 (ONNX's too, but a product or sum of zeros stays 0 as well) */
    x->out[0] = y;
    if (!seq) x->out_mask = NULL;
    return DC_OK;
}

/* ---- attention ---- */
/* Heads of q [N, T, D] as [N, h, T, dh] (keys transposed: [N, h, dh, T]). */
static const char *split_heads(ox *o, const char *t, int64_t h, int64_t dh, bool keys) {
    const char *r = reshape(o, t, 4, (const int64_t[]){0, 0, h, dh});
    return keys ? transpose(o, r, 4, (const int64_t[]){0, 2, 3, 1}) : transpose(o, r, 4, (const int64_t[]){0, 2, 1, 3});
}

/* softmax(q k^T / sqrt(dh) + masks) v with the heads merged and projected: q [N, Tq, D] and k, v
 * [N, Tk, D] already projected; key_mask [N, Tk] or NULL; causal: query i sees key
 * j <= i + (Tk - Tq). The output projection is layer l's parameters wo, bo. */
static const char *attend(ox *o, const dc_layer *l, const char *q, const char *k, const char *v, int64_t heads, int64_t D, int64_t Tq,
                          int64_t Tk, const char *key_mask, bool causal, int wo, int bo) {
    int64_t dh = D / heads;
    const char *qh = split_heads(o, q, heads, dh, false), *kh = split_heads(o, k, heads, dh, true);
    const char *vh = split_heads(o, v, heads, dh, false);
    const char *sc = op2(o, "Mul", op2(o, "MatMul", qh, kh), const_f(o, 1.0f / sqrtf((float)dh)));
    if (causal) {
        float *cm = ox_alloc(o, (size_t)(Tq * Tk) * sizeof *cm);
        if (!cm) return NULL;
        for (int64_t i = 0; i < Tq; i++)
            for (int64_t j = 0; j < Tk; j++) cm[i * Tk + j] = j <= i + (Tk - Tq) ? 0.0f : MASK_NEG;
        sc = op2(o, "Add", sc, init_f(o, ox_name(o, "causal_mask"), 2, (int64_t[]){Tq, Tk}, cm));
    }
    if (key_mask) { /* (mask - 1) 1e9 on [N, 1, 1, Tk] */
        const char *add = op2(o, "Mul", op2(o, "Sub", key_mask, const_f(o, 1.0f)), const_f(o, -MASK_NEG));
        sc = op2(o, "Add", sc, reshape(o, add, 4, (const int64_t[]){-1, 1, 1, Tk}));
    }
    const char *p = op1(o, "Softmax", sc);
    attr_i(o, "axis", -1);
    const char *ctx = transpose(o, op2(o, "MatMul", p, vh), 4, (const int64_t[]){0, 2, 1, 3});
    ctx = reshape(o, ctx, 3, (const int64_t[]){0, 0, D});
    return linear(o, l, ctx, 3, wo, bo);
}

/* Packed in_proj_weight at parameter w (q, k, v rows), bias at w + 1, out_proj at w + 2, w + 3:
 * queries from x, keys and values from mem (x for self-attention). */
static const char *packed_attention(ox *o, const dc_layer *l, int w, const char *x, const char *mem, int64_t Tq, int64_t Tk,
                                    const char *mem_mask, bool causal) {
    int64_t D = l->param[w]->shape[1], heads = (int64_t)field_num(l, "heads");
    const char *q = linear_rows(o, l, x, 3, w, w + 1, 0, D, ".q");
    const char *k = linear_rows(o, l, mem, 3, w, w + 1, D, 2 * D, ".k");
    const char *v = linear_rows(o, l, mem, 3, w, w + 1, 2 * D, 3 * D, ".v");
    return attend(o, l, q, k, v, heads, D, Tq, Tk, mem_mask, causal, w + 2, w + 3);
}

static dc_status ex_mha(ox *o, lx *x) {
    const dc_layer *l = x->l;
    bool causal = field_num(l, "causal") != 0, cross = x->nin > 1;
    const char *mem = cross ? x->in[1] : x->in[0], *mem_mask = x->mask[cross ? 1 : 0];
    int64_t Tq = l->in_shape[0], Tk = cross ? l->xin_shape[1][0] : Tq;
    if (field_num(l, "separate_projections") != 0) {
        int64_t D = l->param[0]->shape[0], heads = (int64_t)field_num(l, "heads");
        /* q_proj_weight, k_proj_weight, v_proj_weight, in_proj_bias (q, k, v), out_proj */
        const char *q = op2(o, "Add", op2(o, "MatMul", x->in[0], param_t(o, l, 0, 0, D, "")), param_slice(o, l, 3, 0, D, ".q"));
        const char *k = op2(o, "Add", op2(o, "MatMul", mem, param_t(o, l, 1, 0, D, "")), param_slice(o, l, 3, D, 2 * D, ".k"));
        const char *v = op2(o, "Add", op2(o, "MatMul", mem, param_t(o, l, 2, 0, D, "")), param_slice(o, l, 3, 2 * D, 3 * D, ".v"));
        x->out[0] = attend(o, l, q, k, v, heads, D, Tq, Tk, mem_mask, causal, 4, 5);
        return DC_OK;
    }
    x->out[0] = packed_attention(o, l, 0, x->in[0], mem, Tq, Tk, mem_mask, causal);
    return DC_OK;
}

/* linear2(act(linear1(x))) with linear1 at parameter w. */
static const char *feed_forward(ox *o, const dc_layer *l, const char *x, int w) {
    const char *t = linear(o, l, x, 3, w, w + 1);
    t = activation(o, t, (dc_activation)field_num(l, "activation"), 0);
    return linear(o, l, t, 3, w + 2, w + 3);
}

/* x + sub-layer(x), LayerNorm n (parameters n, n + 1) before the sub-layer (pre-norm) or after
 * the sum (post-norm); which: 0 self-attention (params at 0), 1 cross-attention (at 4), 2 the
 * feed-forward network (at ff). */
static const char *block(ox *o, const dc_layer *l, const char *x, int which, int ff, int n, const char *x_mask, const char *mem,
                         const char *mem_mask, int64_t T, int64_t Tm) {
    bool pre = field_num(l, "pre_norm") != 0;
    float eps = (float)field_num(l, "epsilon");
    const char *t = pre ? layer_norm(o, x, param(o, l, n), param(o, l, n + 1), eps) : x;
    if (which == 0) t = packed_attention(o, l, 0, t, t, T, T, x_mask, field_num(l, "causal") != 0);
    else if (which == 1) t = packed_attention(o, l, 4, t, mem, T, Tm, mem_mask, false);
    else t = feed_forward(o, l, t, ff);
    const char *h = op2(o, "Add", x, t);
    return pre ? h : layer_norm(o, h, param(o, l, n), param(o, l, n + 1), eps);
}

static dc_status ex_encoder(ox *o, lx *x) {
    /* parameters: self_attn (0..3), linear1/2 (4..7), norm1 (8, 9), norm2 (10, 11) */
    const dc_layer *l = x->l;
    int64_t T = l->in_shape[0];
    const char *h = block(o, l, x->in[0], 0, 4, 8, x->mask[0], NULL, NULL, T, T);
    x->out[0] = block(o, l, h, 2, 4, 10, NULL, NULL, NULL, T, T);
    return DC_OK;
}

static dc_status ex_decoder(ox *o, lx *x) {
    /* parameters: self_attn (0..3), multihead_attn (4..7), linear1/2 (8..11), norm1..3 (12..17) */
    const dc_layer *l = x->l;
    if (x->nin != 2) return unsupported(l, "a decoder layer needs the target and the memory");
    int64_t T = l->in_shape[0], Tm = l->xin_shape[1][0];
    const char *h = block(o, l, x->in[0], 0, 8, 12, x->mask[0], NULL, NULL, T, Tm);
    h = block(o, l, h, 1, 8, 14, NULL, x->in[1], x->mask[1], T, Tm);
    x->out[0] = block(o, l, h, 2, 8, 16, NULL, NULL, NULL, T, Tm);
    return DC_OK;
}

/* ---- Elementwise: one ONNX operator a function ---- */
/* The name of an enum option's value (its schema's name_of), or "". */
static const char *enum_name(const dc_layer *l, const char *key) {
    const dc_field *f = dc_field_find(l->type->fields, l->type->nfields, key);
    double v = 0;
    if (!f || f->kind != DC_FIELD_ENUM || !f->name_of || dc_field_get(f, l->cfg, &v) != 1) return "";
    const char *n = f->name_of((int)v);
    return n ? n : "";
}

/* deepc's names, ONNX's operators, and which of alpha/beta become which attributes */
typedef struct ew_map {
    const char *name, *op, *a_attr, *b_attr;
} ew_map;
static const ew_map ew_maps[] = {
    {"neg", "Neg", NULL, NULL},         {"abs", "Abs", NULL, NULL},           {"exp", "Exp", NULL, NULL},
    {"log", "Log", NULL, NULL},         {"sqrt", "Sqrt", NULL, NULL},         {"reciprocal", "Reciprocal", NULL, NULL},
    {"softplus", "Softplus", NULL, NULL}, {"softsign", "Softsign", NULL, NULL}, {"selu", "Selu", "alpha", "gamma"},
    {"celu", "Celu", "alpha", NULL},    {"hard_sigmoid", "HardSigmoid", "alpha", "beta"}, {"erf", "Erf", NULL, NULL},
    {"thresholded_relu", "ThresholdedRelu", "alpha", NULL}, {"sin", "Sin", NULL, NULL}, {"cos", "Cos", NULL, NULL},
    {"tan", "Tan", NULL, NULL},         {"asin", "Asin", NULL, NULL},         {"acos", "Acos", NULL, NULL},
    {"atan", "Atan", NULL, NULL},       {"sinh", "Sinh", NULL, NULL},         {"cosh", "Cosh", NULL, NULL},
    {"asinh", "Asinh", NULL, NULL},     {"acosh", "Acosh", NULL, NULL},       {"atanh", "Atanh", NULL, NULL},
    {"floor", "Floor", NULL, NULL},     {"ceil", "Ceil", NULL, NULL},         {"round", "Round", NULL, NULL},
    {"sign", "Sign", NULL, NULL},       {"shrink", "Shrink", "lambd", "bias"},
};

static dc_status ex_elementwise(ox *o, lx *x) {
    const dc_layer *l = x->l;
    const char *name = enum_name(l, "op");
    float a = (float)field_num(l, "alpha"), b = (float)field_num(l, "beta");
    if (strcmp(name, "pow") == 0) {
        x->out[0] = op2(o, "Pow", x->in[0], const_f(o, a));
    } else if (strcmp(name, "clip") == 0) {
        x->out[0] = op3(o, "Clip", x->in[0], const_f(o, a), const_f(o, b));
    } else if (strcmp(name, "hard_swish") == 0) { /* x HardSigmoid(x; 1/6, 1/2): HardSwish is opset 14 */
        const char *hs = op1(o, "HardSigmoid", x->in[0]);
        attr_f(o, "alpha", 1.0f / 6.0f);
        attr_f(o, "beta", 0.5f);
        x->out[0] = op2(o, "Mul", x->in[0], hs);
    } else {
        const ew_map *m = NULL;
        for (size_t i = 0; i < sizeof ew_maps / sizeof *ew_maps && !m; i++)
            if (strcmp(ew_maps[i].name, name) == 0) m = &ew_maps[i];
        if (!m) return unsupported(l, "its operation has no ONNX operator here");
        x->out[0] = op1(o, m->op, x->in[0]);
        if (m->a_attr) attr_f(o, m->a_attr, a);
        if (m->b_attr) attr_f(o, m->b_attr, b);
    }
    return DC_OK;
}

/* ---- BERT ---- */
/* word[ids] + position[0..T) + token_type[types] (segment 0's row without types), LayerNorm;
 * the output's mask is ids != 0 ([PAD] is id 0). */
static dc_status ex_bert_embeddings(ox *o, lx *x) {
    const dc_layer *l = x->l;
    int64_t T = l->in_shape[0], H = l->out_shape[1];
    const char *w = op2(o, "Gather", param(o, l, 0), cast(o, x->in[0], T_INT64));
    attr_i(o, "axis", 0);
    const char *pos = init_f(o, ox_fmt(o, "%s.%s[:%lld]", l->name, l->decl[1].name, (long long)T), 2, (int64_t[]){T, H},
                             dc_tensor_data(l->param[1]));
    const char *tt;
    if (x->nin > 1) {
        tt = op2(o, "Gather", param(o, l, 2), cast(o, x->in[1], T_INT64));
        attr_i(o, "axis", 0);
    } else {
        tt = init_f(o, ox_fmt(o, "%s.%s[:1]", l->name, l->decl[2].name), 2, (int64_t[]){1, H}, dc_tensor_data(l->param[2]));
    }
    const char *y = op2(o, "Add", op2(o, "Add", w, pos), tt);
    x->out[0] = layer_norm(o, y, param(o, l, 3), param(o, l, 4), (float)field_num(l, "epsilon"));
    x->out_mask = cast(o, op1(o, "Not", op2(o, "Equal", x->in[0], const_f(o, 0.0f))), T_FLOAT);
    return DC_OK;
}

/* Post-norm encoder layer: separate q, k, v projections, exact GELU (parameters as bert_layers.c
 * declares them: q, k, v, attention output, LayerNorm, intermediate, output, LayerNorm). */
static dc_status ex_bert_layer(ox *o, lx *x) {
    const dc_layer *l = x->l;
    int64_t T = l->in_shape[0], D = l->in_shape[1], heads = (int64_t)field_num(l, "heads");
    float eps = (float)field_num(l, "epsilon");
    const char *q = linear(o, l, x->in[0], 3, 0, 1), *k = linear(o, l, x->in[0], 3, 2, 3), *v = linear(o, l, x->in[0], 3, 4, 5);
    const char *a = attend(o, l, q, k, v, heads, D, T, T, x->mask[0], false, 6, 7);
    const char *h = layer_norm(o, op2(o, "Add", a, x->in[0]), param(o, l, 8), param(o, l, 9), eps);
    const char *y = activation(o, linear(o, l, h, 3, 10, 11), DC_ACT_GELU, 0);
    y = linear(o, l, y, 3, 12, 13);
    x->out[0] = layer_norm(o, op2(o, "Add", y, h), param(o, l, 14), param(o, l, 15), eps);
    return DC_OK;
}

/* tanh(dense(x[:, 0])) */
static dc_status ex_bert_pooler(ox *o, lx *x) {
    const dc_layer *l = x->l;
    const int64_t zero = 0, one = 1;
    const char *in[4] = {x->in[0], const_i64(o, 1, &zero), const_i64(o, 1, &one), const_i64(o, 1, &one)};
    const char *first = reshape(o, opn(o, "Slice", 4, in), 2, (const int64_t[]){-1, l->in_shape[1]});
    x->out[0] = op1(o, "Tanh", linear(o, l, first, 2, 0, 1));
    x->out_mask = NULL;
    return DC_OK;
}

/* ---- the general tensor layers of imported graphs ---- */
static const char *const arith_ops[] = {"Add", "Sub", "Mul", "Div"};

/* Arithmetic: the input of lower rank gets axes of 1 after the batch (its NumPy broadcasting
 * without the batch axis), then the element-wise op. */
static dc_status ex_arithmetic(ox *o, lx *x) {
    const dc_layer *l = x->l;
    int op = (int)field_num(l, "op");
    if (op < 0 || op > 3 || x->nin != 2) return unsupported(l, "an Arithmetic layer needs two inputs and add, sub, mul or div");
    const char *in[2];
    for (int j = 0; j < 2; j++) {
        int lift = l->out_ndim + 1 - x->rank[j];
        int64_t axes[DC_MAX_DIMS];
        for (int i = 0; i < lift; i++) axes[i] = 1 + i;
        in[j] = lift > 0 ? op2(o, "Unsqueeze", x->in[j], const_i64(o, lift, axes)) : x->in[j];
    }
    x->out[0] = op2(o, arith_ops[op], in[0], in[1]);
    return DC_OK;
}

/* ValueArithmetic: x op value (value op x with reverse), the value an initialiser of shape
 * [1, 1..., value_shape] of x's rank. */
static dc_status ex_value_arithmetic(ox *o, lx *x) {
    const dc_layer *l = x->l;
    int op = (int)field_num(l, "op");
    if (op < 0 || op > 3) return unsupported(l, "a ValueArithmetic layer needs add, sub, mul or div");
    const dc_tensor *v = l->param[0];
    int nd = l->in_ndim + 1;
    int64_t sh[DC_MAX_DIMS];
    for (int i = 0; i < nd - v->ndim; i++) sh[i] = 1;
    memcpy(sh + nd - v->ndim, v->shape, (size_t)v->ndim * sizeof *sh);
    const char *val = init_f(o, ox_fmt(o, "%s.%s", l->name, l->decl[0].name), nd, sh, dc_tensor_data((dc_tensor *)v));
    bool rev = field_num(l, "reverse") != 0;
    x->out[0] = op2(o, arith_ops[op], rev ? val : x->in[0], rev ? x->in[0] : val);
    return DC_OK;
}

static dc_status ex_matmul(ox *o, lx *x) {
    if (x->nin != 2) return unsupported(x->l, "a MatMul layer needs two inputs");
    x->out[0] = op2(o, "MatMul", x->in[0], x->in[1]);
    return DC_OK;
}

/* Slice: [start, stop) of axis `axis` (1-based after the batch: ONNX's axis index). */
static dc_status ex_slice(ox *o, lx *x) {
    const dc_layer *l = x->l;
    const int64_t a = (int64_t)field_num(l, "axis"), b = (int64_t)field_num(l, "start"), e = (int64_t)field_num(l, "stop");
    const char *in[4] = {x->in[0], const_i64(o, 1, &b), const_i64(o, 1, &e), const_i64(o, 1, &a)};
    x->out[0] = opn(o, "Slice", 4, in);
    return DC_OK;
}

/* Reduce: mean, sum or max over axes (1-based after the batch); without keepdims the result
 * takes the layer's output shape (a sample reduced to nothing is one value). */
static dc_status ex_reduce(ox *o, lx *x) {
    const dc_layer *l = x->l;
    double d[DC_MAX_DIMS];
    int n = field_nums(l, "axes", d), op = (int)field_num(l, "op");
    bool keep = field_num(l, "keepdims") != 0;
    int64_t axes[DC_MAX_DIMS];
    for (int i = 0; i < n; i++) axes[i] = (int64_t)d[i];
    const char *y;
    if (op == DC_REDUCE_OP_SUM) {
        y = op2(o, "ReduceSum", x->in[0], const_i64(o, n, axes));
        attr_i(o, "keepdims", keep);
    } else {
        y = reduce_attr(o, op == DC_REDUCE_OP_MAX ? "ReduceMax" : "ReduceMean", x->in[0], n, axes, keep);
    }
    if (!keep) {
        int64_t sh[DC_MAX_DIMS] = {-1};
        memcpy(sh + 1, l->out_shape, (size_t)l->out_ndim * sizeof *sh);
        y = reshape(o, y, l->out_ndim + 1, sh);
    }
    x->out[0] = y;
    return DC_OK;
}

static dc_status ex_time_distributed(ox *o, lx *x);

typedef struct exporter {
    const char *type;
    export_fn fn;
} exporter;
static const exporter exporters[] = {
    {"Dense", ex_dense},
    {"Activation", ex_activation},
    {"Dropout", ex_identity},
    {"Flatten", ex_flatten},
    {"Reshape", ex_reshape},
    {"Permute", ex_permute},
    {"Masking", ex_masking},
    {"Add", ex_add},
    {"Concatenate", ex_concat},
    {"Conv2D", ex_conv},
    {"Conv2DTranspose", ex_convt},
    {"MaxPooling2D", ex_maxpool2d},
    {"AveragePooling2D", ex_avgpool2d},
    {"GlobalAveragePooling2D", ex_gap2d},
    {"UpSampling2D", ex_upsampling},
    {"BatchNormalization", ex_batchnorm},
    {"Conv1D", ex_conv1d},
    {"MaxPooling1D", ex_maxpool1d},
    {"AveragePooling1D", ex_avgpool1d},
    {"GlobalAveragePooling1D", ex_gap1d},
    {"GlobalMaxPooling1D", ex_gmp1d},
    {"Embedding", ex_embedding},
    {"PositionalEmbedding", ex_positional},
    {"LayerNormalization", ex_layernorm},
    {"SimpleRNN", ex_recurrent},
    {"LSTM", ex_recurrent},
    {"GRU", ex_recurrent},
    {"Bidirectional", ex_bidirectional},
    {"TimeDistributed", ex_time_distributed},
    {"MultiHeadAttention", ex_mha},
    {"TransformerEncoderLayer", ex_encoder},
    {"TransformerDecoderLayer", ex_decoder},
    {"Arithmetic", ex_arithmetic},
    {"ValueArithmetic", ex_value_arithmetic},
    {"MatMul", ex_matmul},
    {"Slice", ex_slice},
    {"Reduce", ex_reduce},
    {"BertEmbeddings", ex_bert_embeddings},
    {"BertLayer", ex_bert_layer},
    {"BertPooler", ex_bert_pooler},
    {"Elementwise", ex_elementwise},
};

static export_fn exporter_of(const dc_layer_type *t) {
    for (size_t i = 0; i < sizeof exporters / sizeof *exporters; i++)
        if (strcmp(exporters[i].type, t->name) == 0) return exporters[i].fn;
    return NULL;
}

/* Whether the exporter knows layer type `name` (an InputLayer needs nothing): for the test that
 * lists the registry's types without an exporter. Not part of the public API. */
bool dc_onnx_export_knows(const char *name);
bool dc_onnx_export_knows(const char *name) {
    const dc_layer_type *t = name ? dc_layer_type_find(name) : NULL;
    return t && ((t->flags & DC_LAYER_INPUT) || exporter_of(t));
}

/* The inner layer on [N T, ...], its output back as [N, T, ...]. */
static dc_status ex_time_distributed(ox *o, lx *x) {
    const dc_layer *l = x->l, *in = l->inner;
    if (!in) return unsupported(l, "it wraps no layer");
    export_fn fn = exporter_of(in->type);
    if (!fn) return unsupported(l, "the layer it wraps has no ONNX export");
    int64_t sh[DC_MAX_DIMS] = {-1};
    memcpy(sh + 1, l->in_shape + 1, (size_t)(l->in_ndim - 1) * sizeof *sh);
    lx y = {.l = in, .nin = 1, .in = {reshape(o, x->in[0], l->in_ndim, sh)}, .rank = {l->in_ndim}};
    /* the inner layer's parameters are the wrapper's, under the wrapper's name */
    dc_layer *inner = (dc_layer *)in;
    for (int k = 0; k < inner->nparams; k++) inner->param[k] = l->param[k];
    dc_status s = fn(o, &y);
    if (s) return s;
    sh[1] = l->in_shape[0];
    memcpy(sh + 2, l->out_shape + 1, (size_t)(l->out_ndim - 1) * sizeof *sh);
    x->out[0] = reshape(o, y.out[0], l->out_ndim + 1, sh);
    return DC_OK;
}

/* ---- the model ---- */
static Onnx__ValueInfoProto *value_info(ox *o, const char *name, const char *batch, int ndim, const int64_t *shape) {
    Onnx__ValueInfoProto *v = ox_alloc(o, sizeof *v);
    Onnx__TypeProto *tp = ox_alloc(o, sizeof *tp);
    Onnx__TypeProto__Tensor *tt = ox_alloc(o, sizeof *tt);
    Onnx__TensorShapeProto *sp = ox_alloc(o, sizeof *sp);
    Onnx__TensorShapeProto__Dimension **dims = ox_alloc(o, (size_t)(ndim + 1) * sizeof *dims);
    if (!v || !tp || !tt || !sp || !dims) return NULL;
    onnx__value_info_proto__init(v);
    onnx__type_proto__init(tp);
    onnx__type_proto__tensor__init(tt);
    onnx__tensor_shape_proto__init(sp);
    for (int i = 0; i <= ndim; i++) {
        Onnx__TensorShapeProto__Dimension *d = ox_alloc(o, sizeof *d);
        if (!d) return NULL;
        onnx__tensor_shape_proto__dimension__init(d);
        if (i == 0) {
            d->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM;
            d->dim_param = ox_strdup(o, batch);
        } else {
            d->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
            d->dim_value = shape[i - 1];
        }
        dims[i] = d;
    }
    sp->n_dim = (size_t)ndim + 1;
    sp->dim = dims;
    tt->has_elem_type = 1;
    tt->elem_type = T_FLOAT;
    tt->shape = sp;
    tp->value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE;
    tp->tensor_type = tt;
    v->name = (char *)name;
    v->type = tp;
    return v;
}

typedef struct packed {
    uint8_t *buf;
    size_t len;
} packed;
static dc_status write_packed(FILE *f, void *arg) {
    const packed *p = arg;
    fwrite(p->buf, 1, p->len, f);
    return DC_OK;
}

static void ox_free(ox *o) {
    for (size_t i = 0; i < o->nmem; i++) free(o->mem[i]);
    free(o->mem);
    free(o->nodes);
    free(o->inits);
}

/* The graph of m into o; in_names/out_name: the graph's inputs and output. */
static dc_status build_graph(ox *o, dc_model *m, int *ninputs, const char **in_names, int *in_ndim, int64_t (*in_shape)[DC_MAX_DIMS],
                             const char **out_name) {
    enum { MAXO = DC_LAYER_MAX_OUTPUTS };
    int L = m->nlayers;
    const char **val = calloc((size_t)L * MAXO, sizeof *val), **mask = calloc((size_t)L, sizeof *mask);
    int *rank = calloc((size_t)L * MAXO, sizeof *rank);
    dc_status s = DC_OK;
    if (!val || !mask || !rank) {
        s = dc_error(DC_ERR_NOMEM, "onnx export: out of memory for %d layers", L);
        goto done;
    }
    /* a Sequential without an InputLayer reads the model's input */
    int next_input = 0;
    const char *x0 = NULL;
    if (L == 0 || m->layers[0]->nin != 0) {
        o->prefix = "input";
        x0 = in_names[0] = "input";
        in_ndim[0] = dc_model_in_shape(m, 0, in_shape[0]);
        next_input = 1;
    }
    for (int i = 0; i < L && !s; i++) {
        const dc_layer *l = m->layers[i];
        o->prefix = l->name;
        if (l->nin == 0) {
            if (next_input >= DC_MODEL_MAX_INPUTS) {
                s = dc_error(DC_ERR_ARG, "onnx export: more than %d inputs", DC_MODEL_MAX_INPUTS);
                break;
            }
            in_names[next_input] = val[i * MAXO] = l->name;
            in_ndim[next_input] = dc_model_in_shape(m, next_input, in_shape[next_input]);
            rank[i * MAXO] = in_ndim[next_input] + 1;
            next_input++;
            continue;
        }
        export_fn fn = exporter_of(l->type);
        if (!fn) {
            s = unsupported(l, "ONNX export does not know this layer type");
            break;
        }
        lx x = {.l = l, .nin = l->nin};
        for (int j = 0; j < l->nin; j++) {
            int src = l->inputs[j] < 0 ? i - 1 : l->inputs[j], k = l->inputs[j] < 0 ? 0 : l->input_out[j];
            x.in[j] = src < 0 ? x0 : val[src * MAXO + k];
            x.rank[j] = src < 0 ? in_ndim[0] + 1 : rank[src * MAXO + k];
            x.mask[j] = src < 0 || k ? NULL : mask[src];
        }
        /* the executor's rule: the input's mask stays while the output keeps its time axis */
        bool keeps = l->in_ndim >= 2 && l->out_ndim >= 2 && l->out_shape[0] == l->in_shape[0];
        x.out_mask = keeps ? x.mask[0] : NULL;
        if ((s = fn(o, &x))) break;
        for (int k = 0; k < dc_layer_nout(l); k++) {
            int64_t sh[DC_MAX_DIMS];
            rank[i * MAXO + k] = dc_layer_out_shape_k(l, k, sh) + 1;
            if (!(val[i * MAXO + k] = x.out[k])) {
                s = o->failed ? dc_error(DC_ERR_NOMEM, "onnx export: out of memory at layer %s", l->name)
                              : unsupported(l, "its output could not be expressed");
                break;
            }
        }
        mask[i] = x.out_mask;
    }
    if (!s) {
        *ninputs = next_input;
        *out_name = val[(L - 1) * MAXO];
    }
done:
    free(val);
    free(mask);
    free(rank);
    return s;
}

dc_status dc_model_export_onnx(dc_model *m, const char *path, const dc_onnx_export_opts *opts) {
    if (!m || !path) return dc_error(DC_ERR_ARG, "dc_model_export_onnx: model or path is NULL");
    if (!m->built) return dc_error(DC_ERR_STATE, "dc_model_export_onnx: the model is not built (build it or load it first)");
    if (m->nlayers == 0) return dc_error(DC_ERR_STATE, "dc_model_export_onnx: the model has no layers");
    int opset = opts && opts->opset ? opts->opset : OPSET_DEFAULT;
    if (opset < OPSET_MIN || opset > OPSET_MAX)
        return dc_error(DC_ERR_ARG, "dc_model_export_onnx: opset %d is outside the supported %d..%d", opset, OPSET_MIN, OPSET_MAX);
    const char *batch = opts && opts->batch_name && opts->batch_name[0] ? opts->batch_name : "N";
    ox o = {.opset = opset, .prefix = "model"};
    const char *in_names[DC_MODEL_MAX_INPUTS], *out_name = NULL;
    int in_ndim[DC_MODEL_MAX_INPUTS], nin = 0;
    int64_t in_shape[DC_MODEL_MAX_INPUTS][DC_MAX_DIMS];
    dc_status s = build_graph(&o, m, &nin, in_names, in_ndim, in_shape, &out_name);
    if (!s && o.failed) s = dc_error(DC_ERR_NOMEM, "onnx export: out of memory");
    const dc_layer *last = m->layers[m->nlayers - 1];
    /* the output, named after the last layer */
    const char *y = NULL;
    if (!s) {
        o.prefix = last->name;
        y = op1(&o, "Identity", out_name);
        if (y) o.last->output[0] = (char *)(y = last->name);
    }
    Onnx__ValueInfoProto **ins = s ? NULL : ox_alloc(&o, (size_t)nin * sizeof *ins), **outs = s ? NULL : ox_alloc(&o, sizeof *outs);
    if (!s && ins && outs) {
        for (int i = 0; i < nin; i++) ins[i] = value_info(&o, in_names[i], batch, in_ndim[i], in_shape[i]);
        outs[0] = value_info(&o, y, batch, last->out_ndim, last->out_shape);
    }
    Onnx__GraphProto *g = s ? NULL : ox_alloc(&o, sizeof *g);
    Onnx__ModelProto *mp = s ? NULL : ox_alloc(&o, sizeof *mp);
    Onnx__OperatorSetIdProto *ops = s ? NULL : ox_alloc(&o, sizeof *ops), **opsv = s ? NULL : ox_alloc(&o, sizeof *opsv);
    if (!s && (o.failed || !g || !mp || !ops || !opsv)) s = dc_error(DC_ERR_NOMEM, "onnx export: out of memory");
    packed p = {0};
    if (!s) {
        onnx__graph_proto__init(g);
        g->name = ox_strdup(&o, "deepc");
        g->n_node = o.nnodes;
        g->node = o.nodes;
        g->n_initializer = o.ninits;
        g->initializer = o.inits;
        g->n_input = (size_t)nin;
        g->input = ins;
        g->n_output = 1;
        g->output = outs;
        onnx__operator_set_id_proto__init(ops);
        ops->domain = ox_strdup(&o, "");
        ops->has_version = 1;
        ops->version = opset;
        opsv[0] = ops;
        onnx__model_proto__init(mp);
        mp->has_ir_version = 1;
        mp->ir_version = 8; /* ONNX 1.10..1.12's IR, which opsets up to 17 pair with */
        mp->n_opset_import = 1;
        mp->opset_import = opsv;
        mp->producer_name = ox_strdup(&o, opts && opts->producer ? opts->producer : "deepc");
        mp->producer_version = ox_strdup(&o, dc_version());
        mp->graph = g;
        if (o.failed) s = dc_error(DC_ERR_NOMEM, "onnx export: out of memory");
    }
    if (!s) {
        p.len = onnx__model_proto__get_packed_size(mp);
        p.buf = malloc(p.len ? p.len : 1);
        if (!p.buf) s = dc_error(DC_ERR_NOMEM, "onnx export: out of memory for %zu bytes", p.len);
        else onnx__model_proto__pack(mp, p.buf);
    }
    if (!s) s = dc_write_file_atomic(path, write_packed, &p);
    free(p.buf);
    ox_free(&o);
    return s;
}
