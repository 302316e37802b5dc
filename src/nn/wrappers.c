/* Wrappers: layers that apply another layer, l->inner, which model files nest under "layer".
 * TimeDistributed applies it to every step; Bidirectional runs a recurrent layer forwards and,
 * as a second copy (l->twin), backwards. The wrapper builds its inner layers itself, declares
 * their parameters as its own (the model allocates and saves them under the wrapper's name) and
 * points the inner layers' parameters at them before they run. */
#include "layer.h"

#include <stdio.h>
#include <string.h>

static const char *lname(const dc_layer *l) { return l->name[0] ? l->name : l->type->stem; }

/* A bool option of a layer by key (false when its type has none). */
static bool bool_field(const dc_layer *l, const char *key) {
    const dc_field *f = dc_field_find(l->type->fields, l->type->nfields, key);
    double v = 0;
    return f && f->kind == DC_FIELD_BOOL && dc_field_get(f, l->cfg, &v) == 1 && v != 0;
}

/* What both wrappers ask of the layer they wrap. */
static dc_status check_inner(const dc_layer *l) {
    const dc_layer *in = l->inner;
    if (!in)
        return dc_error(DC_ERR_ARG, "%s: %s wraps no layer (give it one: dc_%s(inner), or \"layer\" in a model file)", lname(l),
                        l->type->name, l->type->stem);
    if (in->type->flags & DC_LAYER_INPUT) return dc_error(DC_ERR_ARG, "%s: %s cannot wrap an InputLayer", lname(l), l->type->name);
    if (bool_field(in, "return_state"))
        return dc_error(DC_ERR_ARG, "%s: %s cannot wrap %s with return_state (its states are outputs of their own)", lname(l),
                        l->type->name, in->type->name);
    return dc_layer_check(in);
}

/* Builds inner layer `in` on one input of shape ndim/shape, as the model connects a layer; it
 * takes the wrapper's name, so its messages name the wrapper. */
static dc_status build_inner(const dc_layer *l, dc_layer *in, int ndim, const int64_t *shape) {
    snprintf(in->name, sizeof in->name, "%s", l->name);
    in->nin = 1;
    in->inputs[0] = -1;
    in->in_ndim = in->xin_ndim[0] = ndim;
    memset(in->in_shape, 0, sizeof in->in_shape);
    memcpy(in->in_shape, shape, (size_t)ndim * sizeof *shape);
    memcpy(in->xin_shape[0], in->in_shape, sizeof in->in_shape);
    in->nparams = 0;
    in->built = false;
    dc_status s = dc_layer_check(in);
    if (!s) s = in->type->build(in);
    if (!s) in->built = true;
    return s;
}

/* The wrapper's parameters from first on are `in`'s, in its order: points them there. */
static void bind(const dc_layer *l, dc_layer *in, int first) {
    for (int k = 0; k < in->nparams; k++) in->param[k] = l->param[first + k];
}

/* The forward context an inner layer runs in: the step's, without masks (set by the caller). */
static dc_fwd inner_fwd(const dc_fwd *f, const dc_layer *in) {
    dc_fwd g = *f;
    for (int j = 0; j < DC_LAYER_MAX_INPUTS; j++) g.mask[j] = NULL;
    g.out_mask = NULL;
    g.logits = f->logits && (in->type->flags & DC_LAYER_LOGITS);
    return g;
}

/* PyTorch's and other files' names, as the inner layer's type reads them, with prefix added. */
static bool alias_inner(const dc_layer *in, const char *prefix, const char *foreign, bool pytorch, char *to, size_t size, bool *sum) {
    char p[64];
    if (!in || !in->type->param_alias || !in->type->param_alias(in, foreign, pytorch, p, sizeof p, sum)) return false;
    return snprintf(to, size, "%s%s", prefix, p) < (int)size;
}

/* ---- TimeDistributed ---- */

static dc_status td_check(const dc_layer *l) { return check_inner(l); }

static dc_status td_build(dc_layer *l) {
    dc_layer *in = l->inner;
    if (l->in_ndim < 2) {
        char b[160];
        return dc_error(DC_ERR_SHAPE, "%s: expected steps (None, T, ...) to apply %s to, got input %s", l->name, in->type->name,
                        dc_layer_shape_str(l->in_ndim, l->in_shape, b, sizeof b));
    }
    dc_status s = build_inner(l, in, l->in_ndim - 1, l->in_shape + 1);
    if (s) return s;
    if (in->out_ndim + 1 > DC_MAX_DIMS - 1)
        return dc_error(DC_ERR_SHAPE, "%s: %s's output of %d axes and the steps make more than %d axes", l->name, in->type->name,
                        in->out_ndim, DC_MAX_DIMS - 1);
    l->out_ndim = in->out_ndim + 1;
    l->out_shape[0] = l->in_shape[0];
    memcpy(l->out_shape + 1, in->out_shape, (size_t)in->out_ndim * sizeof *in->out_shape);
    l->nparams = in->nparams;
    memcpy(l->decl, in->decl, (size_t)in->nparams * sizeof *in->decl);
    return DC_OK;
}

static void td_post_init(dc_layer *l) {
    bind(l, l->inner, 0);
    if (l->inner->type->post_init) l->inner->type->post_init(l->inner);
}

/* [N, T, ...] as [N T, ...] through the inner layer, and back. */
static dc_tensor *td_forward(dc_layer *l, dc_fwd *f, dc_tensor *const *x, int n) {
    dc_layer *in = l->inner;
    bind(l, in, 0);
    const dc_tensor *x0 = x[0];
    int64_t N = x0->shape[0], T = x0->shape[1], sh[DC_MAX_DIMS];
    sh[0] = N * T;
    memcpy(sh + 1, x0->shape + 2, (size_t)(x0->ndim - 2) * sizeof *sh);
    dc_tensor *xf = dc_reshape(f->ctx, x[0], x0->ndim - 1, sh);
    if (!xf) return NULL;
    dc_fwd g = inner_fwd(f, in);
    dc_tensor *y = in->type->forward(in, &g, &xf, 1);
    if (!y) return NULL;
    sh[0] = N;
    sh[1] = T;
    memcpy(sh + 2, y->shape + 1, (size_t)(y->ndim - 1) * sizeof *sh);
    return dc_reshape(f->ctx, y, y->ndim + 1, sh); /* the mask passes: the executor keeps the input's */
}

static bool td_alias(const dc_layer *l, const char *foreign, bool pytorch, char *to, size_t size, bool *sum) {
    return alias_inner(l->inner, "", foreign, pytorch, to, size, sum);
}

const dc_layer_type dc_time_distributed_type = {
    .name = "TimeDistributed", .stem = "time_distributed", .build = td_build, .forward = td_forward, .post_init = td_post_init,
    .check = td_check, .param_alias = td_alias, .flags = DC_LAYER_WRAPPER | DC_LAYER_LOGITS, .example_inner = "Dense",
};
DC_REGISTER_LAYER(dc_time_distributed_type);

/* Wraps inner in a new layer of type t (freeing inner on failure). */
static dc_layer *wrap_new(const dc_layer_type *t, dc_layer *inner) {
    if (!inner) {
        /* a NULL that an earlier failure produced keeps that failure's message */
        if (dc_last_status() != DC_OK) return NULL;
        return dc_error_null(DC_ERR_ARG, "%s: the layer to wrap is NULL", t->stem);
    }
    dc_layer *l = dc_layer_create(t);
    if (!l) {
        dc_layer_free(inner);
        return NULL;
    }
    if (dc_layer_wrap(l, inner)) {
        dc_layer_free(l);
        return NULL;
    }
    return l;
}

dc_layer *dc_time_distributed(dc_layer *inner) { return wrap_new(&dc_time_distributed_type, inner); }

/* ---- Bidirectional ---- */

typedef struct bidi_cfg {
    int merge; /* dc_merge_mode */
} bidi_cfg;
static const char *merge_name_of(int m) {
    static const char *const names[] = {"concat", "sum", "mul", "ave"};
    _Static_assert(DC_ARRAY_LEN(names) == DC_MERGE_COUNT, "merge mode name table");
    return m >= 0 && m < DC_MERGE_COUNT ? names[m] : "unknown";
}
static const dc_field bidi_fields[] = {
    DC_F_ENUM(bidi_cfg, "merge_mode", merge, merge_name_of, DC_MERGE_COUNT, DC_MERGE_CONCAT, 0),
};

extern const dc_layer_type dc_simple_rnn_type, dc_lstm_type, dc_gru_type;

static dc_status bidi_check(const dc_layer *l) {
    const dc_layer *in = l->inner;
    if (in && in->type != &dc_simple_rnn_type && in->type != &dc_lstm_type && in->type != &dc_gru_type)
        return dc_error(DC_ERR_ARG, "%s: Bidirectional wraps a SimpleRNN, LSTM or GRU, not %s%s%s%s", lname(l), in->type->name,
                        in->name[0] ? " (" : "", in->name, in->name[0] ? ")" : "");
    return check_inner(l);
}

static dc_status bidi_build(dc_layer *l) {
    dc_layer *in = l->inner;
    dc_status s = build_inner(l, in, l->in_ndim, l->in_shape);
    if (s) return s;
    /* the backward copy: the inner layer's options as they are now */
    dc_layer_free(l->twin);
    if (!(l->twin = dc_layer_copy(in))) return dc_last_status() ? dc_last_status() : DC_ERR_NOMEM;
    if ((s = build_inner(l, l->twin, l->in_ndim, l->in_shape))) return s;
    l->nparams = 0;
    for (int dir = 0; dir < 2; dir++)
        for (int k = 0; k < in->nparams; k++) {
            dc_param_decl *d = &l->decl[l->nparams++];
            *d = in->decl[k];
            int w = snprintf(d->name, sizeof d->name, "%s.%s", dir ? "backward" : "forward", in->decl[k].name);
            if (w < 0 || (size_t)w >= sizeof d->name)
                return dc_error(DC_ERR_STATE, "%s: parameter name %s.%s is too long", l->name, dir ? "backward" : "forward",
                                in->decl[k].name);
        }
    l->out_ndim = in->out_ndim;
    memcpy(l->out_shape, in->out_shape, sizeof l->out_shape);
    if (DC_CCFG(l, bidi_cfg)->merge == DC_MERGE_CONCAT) l->out_shape[l->out_ndim - 1] *= 2;
    return DC_OK;
}

static void bidi_bind(dc_layer *l) {
    bind(l, l->inner, 0);
    bind(l, l->twin, l->inner->nparams);
}

static void bidi_post_init(dc_layer *l) {
    bidi_bind(l);
    if (l->inner->type->post_init) {
        l->inner->type->post_init(l->inner);
        l->twin->type->post_init(l->twin);
    }
}

static dc_tensor *bidi_forward(dc_layer *l, dc_fwd *f, dc_tensor *const *x, int n) {
    dc_layer *in = l->inner, *back = l->twin;
    dc_ctx *c = f->ctx;
    bidi_bind(l);
    const uint8_t *mask = f->mask[0];
    bool seq = bool_field(in, "return_sequences");
    dc_fwd g = inner_fwd(f, in);
    g.mask[0] = mask; /* padded steps keep the state in both directions */
    dc_tensor *yf = in->type->forward(in, &g, x, 1);
    dc_tensor *xr = yf ? dc_reverse_sequence(c, x[0], mask) : NULL;
    g = inner_fwd(f, back);
    g.mask[0] = mask;
    dc_tensor *yb = xr ? back->type->forward(back, &g, &xr, 1) : NULL;
    if (seq) yb = dc_reverse_sequence(c, yb, mask); /* step t of the backward pass back at t */
    if (!yb) return NULL;
    dc_tensor *y;
    switch ((dc_merge_mode)DC_CCFG(l, bidi_cfg)->merge) {
    case DC_MERGE_SUM: y = dc_add(c, yf, yb); break;
    case DC_MERGE_MUL: y = dc_mul(c, yf, yb); break;
    case DC_MERGE_AVE: y = dc_scale(c, dc_add(c, yf, yb), 0.5f); break;
    default: y = dc_concat(c, (dc_tensor *const[]){yf, yb}, 2, -1); break;
    }
    if (!seq || !mask || !y) return y;
    /* padded steps give 0, as Keras's Bidirectional and PyTorch's packed sequences */
    int64_t N = y->shape[0], T = y->shape[1];
    dc_tensor *keep = dc_empty(c, 3, (int64_t[]){N, T, 1});
    if (!keep) return NULL;
    for (int64_t i = 0; i < N * T; i++) keep->data[i] = mask[i] ? 1.0f : 0.0f;
    return dc_mul(c, y, keep);
}

/* PyTorch's nn.LSTM / GRU / RNN(bidirectional=True): weight_ih_l0 etc. for the forward
 * direction, the same with _reverse for the backward one. */
static bool bidi_alias(const dc_layer *l, const char *foreign, bool pytorch, char *to, size_t size, bool *sum) {
    static const char rev[] = "_reverse";
    size_t n = strlen(foreign), r = sizeof rev - 1;
    if (n > r && strcmp(foreign + n - r, rev) == 0) {
        char base[64];
        if (n - r >= sizeof base) return false;
        memcpy(base, foreign, n - r);
        base[n - r] = 0;
        return alias_inner(l->twin ? l->twin : l->inner, "backward.", base, pytorch, to, size, sum);
    }
    return alias_inner(l->inner, "forward.", foreign, pytorch, to, size, sum);
}

const dc_layer_type dc_bidirectional_type = {
    .name = "Bidirectional", .stem = "bidirectional", .cfg_size = sizeof(bidi_cfg), .fields = bidi_fields,
    .nfields = DC_ARRAY_LEN(bidi_fields), .build = bidi_build, .forward = bidi_forward, .post_init = bidi_post_init,
    .check = bidi_check, .param_alias = bidi_alias, .flags = DC_LAYER_WRAPPER, .example_inner = "GRU",
};
DC_REGISTER_LAYER(dc_bidirectional_type);

dc_layer *dc_bidirectional(dc_layer *inner, dc_merge_mode merge) {
    if ((unsigned)merge >= DC_MERGE_COUNT) {
        dc_layer_free(inner);
        return dc_error_null(DC_ERR_ARG, "bidirectional: unknown merge mode %d (concat, sum, mul or ave)", (int)merge);
    }
    dc_layer *l = wrap_new(&dc_bidirectional_type, inner);
    if (l && dc_layer_set_int(l, "merge_mode", merge)) {
        dc_layer_free(l);
        return NULL;
    }
    return l;
}
