/* Core layers: Input, Dense, Activation, Dropout, Flatten. */
#include "layer.h"

#include <stdio.h>
#include <string.h>

dc_layer *dc_layer_new(const dc_layer_ops *ops) {
    dc_layer *l = dc_calloc(1, sizeof *l);
    if (!l) return NULL;
    l->ops = ops;
    l->use_bias = true;
    l->w_init = DC_INIT_GLOROT_UNIFORM;
    l->b_init = DC_INIT_ZEROS;
    return l;
}

void dc_layer_free(dc_layer *l) { dc_free(l); }
const char *dc_layer_name(const dc_layer *l) { return l ? l->name : ""; }
int dc_layer_output_shape(const dc_layer *l, int64_t *shape) {
    if (!l || !shape) return 0;
    memcpy(shape, l->out_shape, (size_t)l->out_ndim * sizeof *shape);
    return l->out_ndim;
}

const char *dc_layer_type(const dc_layer *l) { return l ? l->ops->type : ""; }

dc_status dc_layer_set_name(dc_layer *l, const char *name) {
    if (!l || !name || !*name) return dc_error(DC_ERR_ARG, "dc_layer_set_name: layer or name is NULL/empty");
    if (strlen(name) >= sizeof l->name)
        return dc_error(DC_ERR_ARG, "dc_layer_set_name: name \"%s\" is longer than %zu characters", name, sizeof l->name - 1);
    snprintf(l->name, sizeof l->name, "%s", name);
    l->named = true;
    return DC_OK;
}

dc_status dc_layer_set_alpha(dc_layer *l, float alpha) {
    if (!l) return dc_error(DC_ERR_ARG, "dc_layer_set_alpha: layer is NULL");
    l->alpha = alpha;
    return DC_OK;
}

dc_status dc_layer_set_init(dc_layer *l, dc_init w, dc_init b) {
    if (!l || (unsigned)w >= DC_INIT_COUNT || (unsigned)b >= DC_INIT_COUNT)
        return dc_error(DC_ERR_ARG, "dc_layer_set_init: layer is NULL or initialiser unknown");
    l->w_init = w;
    l->b_init = b;
    return DC_OK;
}

dc_status dc_layer_set_use_bias(dc_layer *l, bool on) {
    if (!l) return dc_error(DC_ERR_ARG, "dc_layer_set_use_bias: layer is NULL");
    l->use_bias = on;
    return DC_OK;
}

dc_status dc_layer_declare(dc_layer *l, const char *name, int ndim, const int64_t *shape, dc_init init,
                           float init_value) {
    if (l->nparams >= DC_LAYER_MAX_PARAMS || ndim > 4)
        return dc_error(DC_ERR_STATE, "%s: too many parameters", l->name);
    dc_param_decl *d = &l->decl[l->nparams++];
    snprintf(d->name, sizeof d->name, "%s", name);
    d->ndim = ndim;
    memcpy(d->shape, shape, (size_t)ndim * sizeof *shape);
    d->init = init;
    d->init_value = init_value;
    d->trainable = true;
    return DC_OK;
}

dc_status dc_layer_declare_state(dc_layer *l, const char *name, int ndim, const int64_t *shape, dc_init init,
                                 float init_value) {
    dc_status s = dc_layer_declare(l, name, ndim, shape, init, init_value);
    if (!s) l->decl[l->nparams - 1].trainable = false;
    return s;
}

dc_activation dc_layer_output_act(const dc_layer *l) { return l->act; }

static void copy_shape(dc_layer *l) {
    l->out_ndim = l->in_ndim;
    memcpy(l->out_shape, l->in_shape, sizeof l->out_shape);
}

/* ---- Input ---- */
static dc_status input_build(dc_layer *l) {
    copy_shape(l);
    return DC_OK;
}
static dc_tensor *identity_forward(dc_layer *l, dc_ctx *c, dc_tensor *x, bool training, dc_rng *rng) { return x; }
static const dc_layer_ops input_ops = {"InputLayer", "input", input_build, identity_forward, NULL, NULL, 0};

dc_layer *dc_input(int ndim, const int64_t *shape) {
    int64_t n;
    if (ndim < 1 || ndim > DC_MAX_DIMS - 1 || dc_shape_check(ndim, shape, &n) || n == 0) {
        if (ndim >= 1 && ndim < DC_MAX_DIMS && shape) dc_error(DC_ERR_SHAPE, "input: shape must have 1..%d positive dimensions", DC_MAX_DIMS - 1);
        else dc_error(DC_ERR_SHAPE, "input: rank %d is outside 1..%d", ndim, DC_MAX_DIMS - 1);
        return NULL;
    }
    dc_layer *l = dc_layer_new(&input_ops);
    if (!l) return NULL;
    l->in_ndim = ndim;
    memcpy(l->in_shape, shape, (size_t)ndim * sizeof *shape);
    copy_shape(l);
    return l;
}

/* ---- Dense: y = act(x . W^T + b) ---- */
static dc_status dense_build(dc_layer *l) {
    int64_t in = l->in_shape[l->in_ndim - 1];
    if (in <= 0) return dc_error(DC_ERR_SHAPE, "%s: input has no features", l->name);
    copy_shape(l);
    l->out_shape[l->out_ndim - 1] = l->units;
    dc_status s = dc_layer_declare(l, "weight", 2, (int64_t[]){l->units, in}, l->w_init, 0);
    if (!s && l->use_bias) s = dc_layer_declare(l, "bias", 1, (int64_t[]){l->units}, l->b_init, 0);
    return s;
}

static dc_tensor *dense_forward(dc_layer *l, dc_ctx *c, dc_tensor *x, bool training, dc_rng *rng) {
    dc_tensor *y = dc_linear(c, x, l->param[0], l->use_bias ? l->param[1] : NULL);
    if (!y || l->skip_act) return y;
    return dc_act_op(c, y, l->act, l->alpha);
}
static const dc_layer_ops dense_ops = {"Dense", "dense", dense_build, dense_forward, NULL, NULL, 0};

dc_layer *dc_dense(int64_t units, dc_activation act) {
    if (units <= 0) return dc_error_null(DC_ERR_ARG, "dense: units must be positive, got %lld", (long long)units);
    if ((unsigned)act >= DC_ACT_COUNT) return dc_error_null(DC_ERR_ARG, "dense: unknown activation %d", (int)act);
    dc_layer *l = dc_layer_new(&dense_ops);
    if (!l) return NULL;
    l->units = units;
    l->act = act;
    return l;
}

/* ---- Activation ---- */
static dc_tensor *act_forward(dc_layer *l, dc_ctx *c, dc_tensor *x, bool training, dc_rng *rng) {
    return l->skip_act ? x : dc_act_op(c, x, l->act, l->alpha);
}
static const dc_layer_ops act_ops = {"Activation", "activation", input_build, act_forward, NULL, NULL, 0};

dc_layer *dc_activation_layer(dc_activation act) {
    if ((unsigned)act >= DC_ACT_COUNT) return dc_error_null(DC_ERR_ARG, "activation: unknown activation %d", (int)act);
    dc_layer *l = dc_layer_new(&act_ops);
    if (l) l->act = act;
    return l;
}

/* ---- Dropout ---- */
static dc_tensor *dropout_forward(dc_layer *l, dc_ctx *c, dc_tensor *x, bool training, dc_rng *rng) {
    return dc_dropout(c, x, l->rate, training, rng);
}
static const dc_layer_ops dropout_ops = {"Dropout", "dropout", input_build, dropout_forward, NULL, NULL, 0};

dc_layer *dc_dropout_layer(float rate) {
    if (!(rate >= 0 && rate < 1)) return dc_error_null(DC_ERR_ARG, "dropout: rate %g is outside [0, 1)", (double)rate);
    dc_layer *l = dc_layer_new(&dropout_ops);
    if (l) l->rate = rate;
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
static dc_tensor *flatten_forward(dc_layer *l, dc_ctx *c, dc_tensor *x, bool training, dc_rng *rng) {
    return dc_reshape(c, x, 2, (int64_t[]){x->shape[0], l->out_shape[0]});
}
static const dc_layer_ops flatten_ops = {"Flatten", "flatten", flatten_build, flatten_forward, NULL, NULL, 0};

dc_layer *dc_flatten(void) { return dc_layer_new(&flatten_ops); }

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
    copy_shape(l);
    if (concat) l->out_shape[l->out_ndim - 1] = cat;
    return DC_OK;
}
static dc_status add_build(dc_layer *l) { return merge_shapes(l, false); }
static dc_status concat_build(dc_layer *l) { return merge_shapes(l, true); }
static dc_tensor *add_forward_n(dc_layer *l, dc_ctx *c, dc_tensor **x, int n, bool training, dc_rng *rng) {
    dc_tensor *y = x[0];
    for (int i = 1; i < n && y; i++) y = dc_add(c, y, x[i]);
    if (y && n > 1) y->mask = x[0]->mask;
    return y;
}
static dc_tensor *concat_forward_n(dc_layer *l, dc_ctx *c, dc_tensor **x, int n, bool training, dc_rng *rng) {
    dc_tensor *y = n > 1 ? dc_concat(c, x, n, x[0]->ndim - 1) : x[0];
    if (y && n > 1) y->mask = x[0]->mask;
    return y;
}
static const dc_layer_ops add_ops = {"Add", "add", add_build, identity_forward, NULL, add_forward_n, DC_LAYER_MAX_INPUTS};
static const dc_layer_ops concat_ops = {"Concatenate", "concatenate", concat_build, identity_forward, NULL, concat_forward_n,
                                        DC_LAYER_MAX_INPUTS};

dc_layer *dc_add_layer(void) { return dc_layer_new(&add_ops); }
dc_layer *dc_concatenate_layer(void) { return dc_layer_new(&concat_ops); }

const char *dc_layer_shape_str(int ndim, const int64_t *shape, char *buf, size_t size) {
    int o = snprintf(buf, size, "(None");
    for (int i = 0; i < ndim && o >= 0 && (size_t)o < size; i++) o += snprintf(buf + o, size - (size_t)o, ", %lld", (long long)shape[i]);
    if (o >= 0 && (size_t)o < size) snprintf(buf + o, size - (size_t)o, ")");
    return buf;
}
