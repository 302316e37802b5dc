/* Sequence layers: Embedding, SimpleRNN, LSTM, GRU. */
#include "layer.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define MAX_UNITS ((double)(INT64_C(1) << 31))

/* The layer's name, or its type's stem before the model names it (for messages). */
static const char *lname(const dc_layer *l) { return l->name[0] ? l->name : l->type->stem; }

/* ---- Embedding ---- */
typedef struct emb_cfg {
    int64_t input_dim, output_dim; /* vocabulary, width of each row */
    bool mask_zero;                /* id 0 is padding: no gradient, and the output gets a padding mask */
} emb_cfg;
static const dc_field emb_fields[] = {
    DC_F_INT(emb_cfg, "input_dim", input_dim, 1, MAX_UNITS, 1, DC_FIELD_REQUIRED),
    DC_F_INT(emb_cfg, "output_dim", output_dim, 1, MAX_UNITS, 1, DC_FIELD_REQUIRED),
    DC_F_BOOL(emb_cfg, "mask_zero", mask_zero, false, 0),
};
static dc_status emb_build(dc_layer *l) {
    const emb_cfg *c = DC_CCFG(l, emb_cfg);
    if (l->in_ndim != 1) {
        char b[160];
        return dc_error(DC_ERR_SHAPE, "%s: expected token ids (None, T), got input %s", l->name,
                        dc_layer_shape_str(l->in_ndim, l->in_shape, b, sizeof b));
    }
    l->out_ndim = 2;
    l->out_shape[0] = l->in_shape[0];
    l->out_shape[1] = c->output_dim;
    return dc_layer_declare(l, "weight", 2, (int64_t[]){c->input_dim, c->output_dim}, DC_INIT_UNIFORM, 0.05f);
}
static dc_tensor *emb_forward(dc_layer *l, dc_fwd *f, dc_tensor *const *x, int n) {
    bool mask_zero = DC_CCFG(l, emb_cfg)->mask_zero;
    dc_tensor *y = dc_embedding(f->ctx, x[0], l->param[0], mask_zero ? 0 : -1);
    if (!mask_zero) {
        f->out_mask = NULL;
        return y;
    }
    if (!y) return NULL;
    /* the steps whose id is 0 are padding for the recurrent, attention and pooling layers after */
    f->out_mask = dc_padding_mask(f->ctx, x[0]);
    return f->out_mask ? y : NULL;
}
const dc_layer_type dc_embedding_type = {
    .name = "Embedding", .stem = "embedding", .cfg_size = sizeof(emb_cfg), .fields = emb_fields,
    .nfields = DC_ARRAY_LEN(emb_fields), .build = emb_build, .forward = emb_forward,
};
DC_REGISTER_LAYER(dc_embedding_type);

dc_layer *dc_embedding_layer(int64_t vocabulary, int64_t dim, bool mask_zero) {
    if (vocabulary <= 0 || dim <= 0 || (double)vocabulary > MAX_UNITS || (double)dim > MAX_UNITS)
        return dc_error_null(DC_ERR_ARG, "embedding: vocabulary %lld and dim %lld must be positive (each at most 2^31)",
                             (long long)vocabulary, (long long)dim);
    dc_layer *l = dc_layer_create(&dc_embedding_type);
    if (!l) return NULL;
    emb_cfg *c = DC_CFG(l, emb_cfg);
    c->input_dim = vocabulary;
    c->output_dim = dim;
    c->mask_zero = mask_zero;
    return l;
}

/* ---- recurrent: SimpleRNN, LSTM, GRU ---- */
/* One config for the three types; each type's schema names the fields it has. */
typedef struct rec_cfg {
    int64_t units;
    int act;           /* SimpleRNN */
    float forget_bias; /* LSTM: the forget gate's initial bias */
    bool return_sequences;
    bool return_state; /* outputs 1.. are the final states: h (and the LSTM's c) */
} rec_cfg;

#define UNITS_FIELD DC_F_INT(rec_cfg, "units", units, 1, MAX_UNITS, 1, DC_FIELD_REQUIRED)
#define RETURN_SEQUENCES_FIELD DC_F_BOOL(rec_cfg, "return_sequences", return_sequences, false, 0)
#define RETURN_STATE_FIELD DC_F_BOOL(rec_cfg, "return_state", return_state, false, 0)

static const dc_field rnn_fields[] = {
    UNITS_FIELD,
    DC_F_ENUM(rec_cfg, "activation", act, dc_act_name_of, DC_ACT_COUNT, DC_ACT_NONE, 0),
    RETURN_SEQUENCES_FIELD,
    RETURN_STATE_FIELD,
};
static const dc_field lstm_fields[] = {
    UNITS_FIELD,
    /* 1 as Keras's unit_forget_bias; it acts at initialisation only */
    DC_F_FLOAT(rec_cfg, "forget_bias", forget_bias, -1e6, 1e6, 1, 0),
    RETURN_SEQUENCES_FIELD,
    RETURN_STATE_FIELD,
};
static const dc_field gru_fields[] = {
    UNITS_FIELD,
    RETURN_SEQUENCES_FIELD,
    RETURN_STATE_FIELD,
};

/* Declared ahead: build and forward tell the cells apart by their type record. */
extern const dc_layer_type dc_lstm_type, dc_gru_type;

static int gates_of(const dc_layer *l) { return l->type == &dc_lstm_type ? 4 : l->type == &dc_gru_type ? 3 : 1; }
/* The states a cell carries: h, and the LSTM's c. */
static int states_of(const dc_layer *l) { return gates_of(l) == 4 ? 2 : 1; }

static dc_status rec_build(dc_layer *l) {
    const rec_cfg *c = DC_CCFG(l, rec_cfg);
    if (l->in_ndim != 2) {
        char b[160];
        return dc_error(DC_ERR_SHAPE, "%s: expected sequences (None, T, features), got input %s", l->name,
                        dc_layer_shape_str(l->in_ndim, l->in_shape, b, sizeof b));
    }
    int gates = gates_of(l), ns = states_of(l);
    int64_t H = c->units, G = gates * H, F = l->in_shape[1];
    /* inputs 1.. are the initial states, as Keras's initial_state: all of them, each [N, units] */
    if (l->nin > 1 && l->nin != 1 + ns)
        return dc_error(DC_ERR_ARG, "%s: %s takes its sequences and %s as initial state%s (%d inputs), got %d inputs", l->name,
                        l->type->name, ns == 2 ? "h and c" : "h", ns == 2 ? "s" : "", 1 + ns, l->nin);
    for (int k = 1; k < l->nin; k++)
        if (l->xin_ndim[k] != 1 || l->xin_shape[k][0] != H) {
            char b[160];
            return dc_error(DC_ERR_SHAPE, "%s: initial state %s (input %d) must be (None, %lld), got %s", l->name,
                            k == 1 ? "h" : "c", k, (long long)H, dc_layer_shape_str(l->xin_ndim[k], l->xin_shape[k], b, sizeof b));
        }
    float a = 1.0f / sqrtf((float)H);
    l->out_ndim = c->return_sequences ? 2 : 1;
    l->out_shape[0] = c->return_sequences ? l->in_shape[0] : H;
    l->out_shape[1] = H;
    /* with return_state, outputs 1.. are the final states, each (None, units) */
    l->nout = c->return_state ? 1 + ns : 1;
    for (int k = 1; k < l->nout; k++) {
        l->xout_ndim[k] = 1;
        l->xout_shape[k][0] = H;
    }
    dc_status s = dc_layer_declare(l, "weight_ih", 2, (int64_t[]){G, F}, DC_INIT_UNIFORM, a);
    if (!s) s = dc_layer_declare(l, "weight_hh", 2, (int64_t[]){G, H}, DC_INIT_UNIFORM, a);
    if (!s) s = dc_layer_declare(l, gates == 3 ? "bias_ih" : "bias", 1, &G, DC_INIT_ZEROS, 0);
    if (!s && gates == 3) s = dc_layer_declare(l, "bias_hh", 1, &G, DC_INIT_ZEROS, 0);
    return s;
}

/* The forget gate's slice of the bias (gates i, f, g, o) starts at its configured value. */
static void lstm_post_init(dc_layer *l) {
    const rec_cfg *c = DC_CCFG(l, rec_cfg);
    int64_t H = c->units;
    float *b = dc_tensor_data(l->param[2]);
    for (int64_t j = 0; j < H; j++) b[H + j] = c->forget_bias;
}

static dc_tensor *rec_forward(dc_layer *l, dc_fwd *f, dc_tensor *const *x, int n) {
    const rec_cfg *c = DC_CCFG(l, rec_cfg);
    dc_tensor *const *p = l->param;
    const uint8_t *mask = f->mask[0]; /* padded steps keep the state */
    dc_tensor *h0 = n > 1 ? x[1] : NULL, *c0 = n > 2 ? x[2] : NULL, *y, *cn = NULL;
    switch (gates_of(l)) {
    case 4: y = dc_lstm_states(f->ctx, x[0], p[0], p[1], p[2], h0, c0, mask, NULL, c->return_state ? &cn : NULL); break;
    case 3: y = dc_gru(f->ctx, x[0], p[0], p[1], p[2], p[3], h0, mask); break;
    default: y = dc_simple_rnn(f->ctx, x[0], p[0], p[1], p[2], h0, (dc_activation)c->act, mask); break;
    }
    if (!y) return NULL;
    /* the final h: with a mask, the state after each sequence's last real step (padded steps keep it) */
    dc_tensor *hn = c->return_sequences && !c->return_state ? NULL : dc_last_step(f->ctx, y);
    if (c->return_state) {
        if (!hn) return NULL;
        f->out[1] = hn;
        f->out[2] = cn;
    }
    if (c->return_sequences) return y;
    f->out_mask = NULL; /* the final state has no time axis left to mask */
    return hn;
}

/* The activations the SimpleRNN cell implements. */
static dc_status rnn_check(const dc_layer *l) {
    dc_activation act = (dc_activation)DC_CCFG(l, rec_cfg)->act;
    if (act != DC_ACT_TANH && act != DC_ACT_RELU && act != DC_ACT_SIGMOID && act != DC_ACT_NONE)
        return dc_error(DC_ERR_ARG, "%s: activation %s is not supported (tanh, relu, sigmoid or linear)", lname(l),
                        dc_activation_name(act));
    return DC_OK;
}

/* PyTorch's state_dict names of a one-layer nn.LSTM / GRU / RNN: weight_ih_l0, weight_hh_l0 and
 * the two biases, which deepc's LSTM and SimpleRNN keep as their sum and GRU as two. */
static bool rec_alias(const dc_layer *l, const char *foreign, bool pytorch, char *to, size_t size, bool *sum) {
    bool gru = gates_of(l) == 3;
    const char *p = NULL;
    if (!pytorch) return false;
    if (strcmp(foreign, "weight_ih_l0") == 0) p = "weight_ih";
    else if (strcmp(foreign, "weight_hh_l0") == 0) p = "weight_hh";
    else if (strcmp(foreign, "bias_ih_l0") == 0) p = gru ? "bias_ih" : "bias";
    else if (strcmp(foreign, "bias_hh_l0") == 0) p = gru ? "bias_hh" : "bias";
    if (!p) return false;
    snprintf(to, size, "%s", p);
    *sum = !gru && strcmp(p, "bias") == 0;
    return true;
}

const dc_layer_type dc_simple_rnn_type = {
    .name = "SimpleRNN", .stem = "simple_rnn", .cfg_size = sizeof(rec_cfg), .fields = rnn_fields,
    .nfields = DC_ARRAY_LEN(rnn_fields), .build = rec_build, .forward = rec_forward, .check = rnn_check, .param_alias = rec_alias,
    .max_inputs = 2,
};
DC_REGISTER_LAYER(dc_simple_rnn_type);
const dc_layer_type dc_lstm_type = {
    .name = "LSTM", .stem = "lstm", .cfg_size = sizeof(rec_cfg), .fields = lstm_fields, .nfields = DC_ARRAY_LEN(lstm_fields),
    .build = rec_build, .forward = rec_forward, .post_init = lstm_post_init, .param_alias = rec_alias,
    .max_inputs = 3,
};
DC_REGISTER_LAYER(dc_lstm_type);
const dc_layer_type dc_gru_type = {
    .name = "GRU", .stem = "gru", .cfg_size = sizeof(rec_cfg), .fields = gru_fields, .nfields = DC_ARRAY_LEN(gru_fields),
    .build = rec_build, .forward = rec_forward, .param_alias = rec_alias, .max_inputs = 2,
};
DC_REGISTER_LAYER(dc_gru_type);

static dc_layer *rec_new(const dc_layer_type *t, int64_t units, dc_activation act, bool seq) {
    if (units <= 0 || (double)units > MAX_UNITS)
        return dc_error_null(DC_ERR_ARG, "%s: units must be positive (at most 2^31), got %lld", t->stem, (long long)units);
    dc_layer *l = dc_layer_create(t);
    if (!l) return NULL;
    rec_cfg *c = DC_CFG(l, rec_cfg);
    c->units = units;
    c->act = (int)act;
    c->return_sequences = seq;
    if (dc_layer_check(l)) {
        dc_layer_free(l);
        return NULL;
    }
    return l;
}

dc_layer *dc_simple_rnn_layer(int64_t units, dc_activation act, bool return_sequences) {
    return rec_new(&dc_simple_rnn_type, units, act, return_sequences);
}
dc_layer *dc_lstm_layer(int64_t units, bool return_sequences) { return rec_new(&dc_lstm_type, units, DC_ACT_NONE, return_sequences); }
dc_layer *dc_gru_layer(int64_t units, bool return_sequences) { return rec_new(&dc_gru_type, units, DC_ACT_NONE, return_sequences); }

dc_status dc_layer_set_return_state(dc_layer *l, bool on) { return dc_layer_set_bool(l, "return_state", on); }
