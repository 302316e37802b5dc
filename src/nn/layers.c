/* Core layers: Input, Dense, Activation, Dropout, Flatten, and the merges of graph branches
 * (Add, Concatenate). */
#include "layer.h"

#include <string.h>

#define MAX_UNITS ((double)(INT64_C(1) << 31))
#define ALPHA_FIELD(T) DC_F_FLOAT(T, "alpha", alpha, -1e6, 1e6, 0, 0)

static dc_tensor *identity_forward(dc_layer *l, dc_fwd *f, dc_tensor *const *x, int n) { return x[0]; }
static dc_status same_build(dc_layer *l) {
    dc_layer_same_shape(l);
    return DC_OK;
}

/* ---- Input ---- */
typedef struct input_cfg {
    int ndim;
    int64_t shape[DC_MAX_DIMS - 1];
} input_cfg;
static const dc_field input_fields[] = {
    DC_F_DIMS(input_cfg, "shape", shape, ndim, DC_MAX_DIMS - 1, 1, (double)(INT64_C(1) << 40), DC_FIELD_REQUIRED),
};
static dc_status input_build(dc_layer *l) {
    const input_cfg *c = DC_CCFG(l, input_cfg);
    l->in_ndim = l->out_ndim = c->ndim;
    memcpy(l->in_shape, c->shape, (size_t)c->ndim * sizeof *c->shape);
    memcpy(l->out_shape, c->shape, (size_t)c->ndim * sizeof *c->shape);
    return DC_OK;
}
static dc_status input_check(const dc_layer *l) {
    if (DC_CCFG(l, input_cfg)->ndim < 1) return dc_error(DC_ERR_SHAPE, "%s: an input needs a shape of 1..%d dimensions", l->name, DC_MAX_DIMS - 1);
    return DC_OK;
}
const dc_layer_type dc_input_type = {
    .name = "InputLayer", .stem = "input", .cfg_size = sizeof(input_cfg), .fields = input_fields,
    .nfields = DC_ARRAY_LEN(input_fields), .build = input_build, .forward = identity_forward, .check = input_check,
    .flags = DC_LAYER_INPUT,
};
DC_REGISTER_LAYER(dc_input_type);

dc_layer *dc_input(int ndim, const int64_t *shape) {
    int64_t n;
    if (ndim < 1 || ndim > DC_MAX_DIMS - 1 || !shape || dc_shape_check(ndim, shape, &n) || n == 0) {
        if (ndim >= 1 && ndim < DC_MAX_DIMS && shape) dc_error(DC_ERR_SHAPE, "input: shape must have 1..%d positive dimensions", DC_MAX_DIMS - 1);
        else dc_error(DC_ERR_SHAPE, "input: rank %d is outside 1..%d", ndim, DC_MAX_DIMS - 1);
        return NULL;
    }
    dc_layer *l = dc_layer_create(&dc_input_type);
    double d[DC_MAX_DIMS];
    for (int i = 0; i < ndim; i++) d[i] = (double)shape[i];
    if (l && dc_layer_set_field(l, "shape", d, ndim)) {
        dc_layer_free(l);
        return NULL;
    }
    if (l) input_build(l);
    return l;
}

/* ---- Dense: y = act(x . W^T + b) ---- */
typedef struct dense_cfg {
    int64_t units;
    int act, w_init, b_init;
    float alpha;
    bool use_bias;
} dense_cfg;
static const dc_field dense_fields[] = {
    DC_F_INT(dense_cfg, "units", units, 1, MAX_UNITS, 1, DC_FIELD_REQUIRED),
    DC_F_ENUM(dense_cfg, "activation", act, dc_act_name_of, DC_ACT_COUNT, DC_ACT_NONE, 0),
    ALPHA_FIELD(dense_cfg),
    DC_F_BOOL(dense_cfg, "use_bias", use_bias, true, 0),
    DC_F_ENUM(dense_cfg, "kernel_initializer", w_init, dc_init_name_of, DC_INIT_COUNT, DC_INIT_GLOROT_UNIFORM, 0),
    DC_F_ENUM(dense_cfg, "bias_initializer", b_init, dc_init_name_of, DC_INIT_COUNT, DC_INIT_ZEROS, 0),
};
static dc_status dense_build(dc_layer *l) {
    const dense_cfg *c = DC_CCFG(l, dense_cfg);
    int64_t in = l->in_shape[l->in_ndim - 1];
    if (in <= 0) return dc_error(DC_ERR_SHAPE, "%s: input has no features", l->name);
    dc_layer_same_shape(l);
    l->out_shape[l->out_ndim - 1] = c->units;
    dc_status s = dc_layer_declare(l, "weight", 2, (int64_t[]){c->units, in}, (dc_init)c->w_init, 0);
    if (!s && c->use_bias) s = dc_layer_declare(l, "bias", 1, (int64_t[]){c->units}, (dc_init)c->b_init, 0);
    return s;
}
static dc_tensor *dense_forward(dc_layer *l, dc_fwd *f, dc_tensor *const *x, int n) {
    const dense_cfg *c = DC_CCFG(l, dense_cfg);
    dc_tensor *y = dc_linear(f->ctx, x[0], l->param[0], c->use_bias ? l->param[1] : NULL);
    return f->logits ? y : dc_act_op(f->ctx, y, (dc_activation)c->act, c->alpha);
}
const dc_layer_type dc_dense_type = {
    .name = "Dense", .stem = "dense", .cfg_size = sizeof(dense_cfg), .fields = dense_fields, .nfields = DC_ARRAY_LEN(dense_fields),
    .build = dense_build, .forward = dense_forward, .flags = DC_LAYER_LOGITS,
};
DC_REGISTER_LAYER(dc_dense_type);

dc_layer *dc_dense(int64_t units, dc_activation act) {
    dc_layer *l = dc_layer_create(&dc_dense_type);
    if (l && (dc_layer_set_int(l, "units", units) || dc_layer_set_int(l, "activation", act))) {
        dc_layer_free(l);
        return NULL;
    }
    return l;
}

/* ---- Activation ---- */
typedef struct act_cfg {
    int act;
    float alpha;
} act_cfg;
static const dc_field act_fields[] = {
    DC_F_ENUM(act_cfg, "activation", act, dc_act_name_of, DC_ACT_COUNT, DC_ACT_NONE, 0),
    ALPHA_FIELD(act_cfg),
};
static dc_tensor *act_forward(dc_layer *l, dc_fwd *f, dc_tensor *const *x, int n) {
    const act_cfg *c = DC_CCFG(l, act_cfg);
    return f->logits ? x[0] : dc_act_op(f->ctx, x[0], (dc_activation)c->act, c->alpha);
}
const dc_layer_type dc_activation_type = {
    .name = "Activation", .stem = "activation", .cfg_size = sizeof(act_cfg), .fields = act_fields,
    .nfields = DC_ARRAY_LEN(act_fields), .build = same_build, .forward = act_forward, .flags = DC_LAYER_LOGITS,
};
DC_REGISTER_LAYER(dc_activation_type);

dc_layer *dc_activation_layer(dc_activation act) {
    dc_layer *l = dc_layer_create(&dc_activation_type);
    if (l && dc_layer_set_int(l, "activation", act)) {
        dc_layer_free(l);
        return NULL;
    }
    return l;
}

/* ---- Dropout ---- */
typedef struct dropout_cfg {
    float rate;
} dropout_cfg;
static const dc_field dropout_fields[] = {
    /* [0, 1): a rate of 1 would drop everything and scale by infinity */
    DC_F_FLOAT(dropout_cfg, "rate", rate, 0, 1.0 - 0x1p-24, 0, DC_FIELD_REQUIRED | DC_FIELD_RUNTIME),
};
static dc_tensor *dropout_forward(dc_layer *l, dc_fwd *f, dc_tensor *const *x, int n) {
    return dc_dropout(f->ctx, x[0], DC_CCFG(l, dropout_cfg)->rate, f->training, f->rng);
}
const dc_layer_type dc_dropout_type = {
    .name = "Dropout", .stem = "dropout", .cfg_size = sizeof(dropout_cfg), .fields = dropout_fields,
    .nfields = DC_ARRAY_LEN(dropout_fields), .build = same_build, .forward = dropout_forward,
};
DC_REGISTER_LAYER(dc_dropout_type);

dc_layer *dc_dropout_layer(float rate) {
    if (!(rate >= 0 && rate < 1)) return dc_error_null(DC_ERR_ARG, "dropout: rate %g is outside [0, 1)", (double)rate);
    dc_layer *l = dc_layer_create(&dc_dropout_type);
    if (l) DC_CFG(l, dropout_cfg)->rate = rate;
    return l;
}

/* ---- Flatten ---- */
static dc_status flatten_build(dc_layer *l) {
    int64_t n = 1;
    for (int i = 0; i < l->in_ndim; i++) n *= l->in_shape[i];
    l->out_ndim = 1;
    l->out_shape[0] = n;
    return DC_OK;
}
static dc_tensor *flatten_forward(dc_layer *l, dc_fwd *f, dc_tensor *const *x, int n) {
    return dc_reshape(f->ctx, x[0], 2, (int64_t[]){x[0]->shape[0], l->out_shape[0]});
}
const dc_layer_type dc_flatten_type = {
    .name = "Flatten", .stem = "flatten", .build = flatten_build, .forward = flatten_forward,
};
DC_REGISTER_LAYER(dc_flatten_type);

dc_layer *dc_flatten(void) { return dc_layer_create(&dc_flatten_type); }

/* ---- merging the branches of a graph: Add and Concatenate ---- */
static dc_status merge_shapes(dc_layer *l, bool concat) {
    char a[160], b[160];
    int64_t cat = 0;
    for (int i = 0; i < l->nin; i++) {
        bool same = l->xin_ndim[i] == l->in_ndim;
        for (int d = 0; same && d < l->in_ndim; d++) same = l->xin_shape[i][d] == l->in_shape[d] || (concat && d == l->in_ndim - 1);
        if (!same)
            return dc_error(DC_ERR_SHAPE, "%s: input %d has shape %s but input 0 has %s%s", l->name, i,
                            dc_layer_shape_str(l->xin_ndim[i], l->xin_shape[i], a, sizeof a),
                            dc_layer_shape_str(l->in_ndim, l->in_shape, b, sizeof b),
                            concat ? " (only the last axis may differ)" : "");
        cat += l->xin_shape[i][l->in_ndim - 1];
    }
    dc_layer_same_shape(l);
    if (concat) l->out_shape[l->out_ndim - 1] = cat;
    return DC_OK;
}
static dc_status add_build(dc_layer *l) { return merge_shapes(l, false); }
static dc_status concat_build(dc_layer *l) { return merge_shapes(l, true); }
static dc_tensor *add_forward(dc_layer *l, dc_fwd *f, dc_tensor *const *x, int n) {
    dc_tensor *y = x[0];
    for (int i = 1; i < n; i++) y = dc_add(f->ctx, y, x[i]);
    return y;
}
static dc_tensor *concat_forward(dc_layer *l, dc_fwd *f, dc_tensor *const *x, int n) {
    return n > 1 ? dc_concat(f->ctx, x, n, x[0]->ndim - 1) : x[0];
}
const dc_layer_type dc_add_type = {
    .name = "Add", .stem = "add", .build = add_build, .forward = add_forward, .max_inputs = DC_LAYER_MAX_INPUTS,
};
DC_REGISTER_LAYER(dc_add_type);
const dc_layer_type dc_concatenate_type = {
    .name = "Concatenate", .stem = "concatenate", .build = concat_build, .forward = concat_forward, .max_inputs = DC_LAYER_MAX_INPUTS,
};
DC_REGISTER_LAYER(dc_concatenate_type);

dc_layer *dc_add_layer(void) { return dc_layer_create(&dc_add_type); }
dc_layer *dc_concatenate_layer(void) { return dc_layer_create(&dc_concatenate_type); }
