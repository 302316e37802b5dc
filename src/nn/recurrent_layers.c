/* Sequence layers: Embedding, SimpleRNN, LSTM, GRU. */
#include "layer.h"

#include <math.h>
#include <string.h>

/* ---- Embedding ---- */
static dc_status emb_build(dc_layer *l) {
    if (l->in_ndim != 1) {
        char b[160];
        return dc_error(DC_ERR_SHAPE, "%s: expected token ids (None, T), got input %s", l->name,
                        dc_layer_shape_str(l->in_ndim, l->in_shape, b, sizeof b));
    }
    l->out_ndim = 2;
    l->out_shape[0] = l->in_shape[0];
    l->out_shape[1] = l->units;
    return dc_layer_declare(l, "weight", 2, (int64_t[]){(int64_t)l->rate, l->units}, DC_INIT_UNIFORM, 0.05f);
}
static dc_tensor *emb_forward(dc_layer *l, dc_ctx *c, dc_tensor *x, bool training, dc_rng *rng) {
    return dc_embedding(c, x, l->param[0], l->mask_zero ? 0 : -1, l->mask_zero);
}
static const dc_layer_ops emb_ops = {"Embedding", "embedding", emb_build, emb_forward, NULL, NULL, 0};

dc_layer *dc_embedding_layer(int64_t vocabulary, int64_t dim, bool mask_zero) {
    if (vocabulary <= 0 || dim <= 0 || vocabulary > (1 << 24))
        return dc_error_null(DC_ERR_ARG, "embedding: vocabulary %lld and dim %lld must be positive (vocabulary at most 2^24)",
                             (long long)vocabulary, (long long)dim);
    dc_layer *l = dc_layer_new(&emb_ops);
    if (!l) return NULL;
    l->units = dim;
    l->rate = (float)vocabulary; /* exact: at most 2^24 */
    l->mask_zero = mask_zero;
    return l;
}

/* ---- recurrent ---- */
static int gates_of(const dc_layer *l) {
    return strcmp(l->ops->type, "LSTM") == 0 ? 4 : strcmp(l->ops->type, "GRU") == 0 ? 3 : 1;
}

static dc_status rec_build(dc_layer *l) {
    if (l->in_ndim != 2) {
        char b[160];
        return dc_error(DC_ERR_SHAPE, "%s: expected sequences (None, T, features), got input %s", l->name,
                        dc_layer_shape_str(l->in_ndim, l->in_shape, b, sizeof b));
    }
    int64_t H = l->units, G = gates_of(l) * H, F = l->in_shape[1];
    float a = 1.0f / sqrtf((float)H);
    l->out_ndim = l->return_sequences ? 2 : 1;
    l->out_shape[0] = l->return_sequences ? l->in_shape[0] : H;
    l->out_shape[1] = H;
    dc_status s = dc_layer_declare(l, "weight_ih", 2, (int64_t[]){G, F}, DC_INIT_UNIFORM, a);
    if (!s) s = dc_layer_declare(l, "weight_hh", 2, (int64_t[]){G, H}, DC_INIT_UNIFORM, a);
    if (!s) s = dc_layer_declare(l, gates_of(l) == 3 ? "bias_ih" : "bias", 1, &G, DC_INIT_ZEROS, 0);
    if (!s && gates_of(l) == 3) s = dc_layer_declare(l, "bias_hh", 1, &G, DC_INIT_ZEROS, 0);
    return s;
}

static void lstm_post_init(dc_layer *l) {
    int64_t H = l->units;
    float *b = dc_tensor_data(l->param[2]);
    for (int64_t j = 0; j < H; j++) b[H + j] = l->forget_bias;
}

static dc_tensor *rec_forward(dc_layer *l, dc_ctx *c, dc_tensor *x, bool training, dc_rng *rng) {
    dc_tensor *y;
    switch (gates_of(l)) {
    case 4: y = dc_lstm(c, x, l->param[0], l->param[1], l->param[2], NULL, NULL, x->mask); break;
    case 3: y = dc_gru(c, x, l->param[0], l->param[1], l->param[2], l->param[3], NULL, x->mask); break;
    default: y = dc_simple_rnn(c, x, l->param[0], l->param[1], l->param[2], NULL, l->act, x->mask); break;
    }
    if (!y || l->return_sequences) return y;
    return dc_last_step(c, y);
}

static const dc_layer_ops rnn_ops = {"SimpleRNN", "simple_rnn", rec_build, rec_forward, NULL, NULL, 0};
static const dc_layer_ops lstm_ops = {"LSTM", "lstm", rec_build, rec_forward, lstm_post_init, NULL, 0};
static const dc_layer_ops gru_ops = {"GRU", "gru", rec_build, rec_forward, NULL, NULL, 0};

static dc_layer *rec_new(const dc_layer_ops *ops, int64_t units, bool seq) {
    if (units <= 0) return dc_error_null(DC_ERR_ARG, "%s: units must be positive, got %lld", ops->base, (long long)units);
    dc_layer *l = dc_layer_new(ops);
    if (!l) return NULL;
    l->units = units;
    l->return_sequences = seq;
    l->forget_bias = 1.0f;
    return l;
}

dc_layer *dc_simple_rnn_layer(int64_t units, dc_activation act, bool return_sequences) {
    if (act != DC_ACT_TANH && act != DC_ACT_RELU && act != DC_ACT_SIGMOID && act != DC_ACT_NONE)
        return dc_error_null(DC_ERR_ARG, "simple_rnn: activation %s is not supported (tanh, relu, sigmoid or linear)",
                             dc_activation_name(act));
    dc_layer *l = rec_new(&rnn_ops, units, return_sequences);
    if (l) l->act = act;
    return l;
}
dc_layer *dc_lstm_layer(int64_t units, bool return_sequences) { return rec_new(&lstm_ops, units, return_sequences); }
dc_layer *dc_gru_layer(int64_t units, bool return_sequences) { return rec_new(&gru_ops, units, return_sequences); }

dc_status dc_layer_set_forget_bias(dc_layer *l, float value) {
    if (!l || l->ops != &lstm_ops) return dc_error(DC_ERR_ARG, "dc_layer_set_forget_bias: not an LSTM layer");
    if (!isfinite(value)) return dc_error(DC_ERR_ARG, "dc_layer_set_forget_bias: value must be finite");
    l->forget_bias = value;
    return DC_OK;
}
