/* Golden checks of deepc's recurrent layers and Embedding against PyTorch 1.13.
 *
 * The vectors under tests/golden/ are written by scripts/golden/gen_golden.py (`make golden`,
 * see tests/golden/README.md): PyTorch computes, in float64 from float32 inputs, torch.nn.LSTM,
 * GRU and RNN (tanh, relu) over x [3, 6, 5] with 4 hidden units (batch first), with and without
 * an initial state, and the gradients of sum(y * gy) for a random upstream gradient gy with
 * respect to x, the weights, the biases and h0 / c0. This test runs dc_lstm, dc_gru and
 * dc_simple_rnn on the same numbers and compares y, the final state dc_last_step(y) with
 * PyTorch's h_n, and every gradient. deepc's LSTM and SimpleRNN take one bias b = b_ih + b_hh
 * (the generator makes PyTorch's two biases add up to exactly the b stored), so the gradient of
 * b is compared with both of PyTorch's bias gradients.
 *
 * Variable lengths: in the *_len_end cases sequence n has lengths[n] = 6, 4, 2 real steps padded
 * at the end and PyTorch runs the packed batch (pack_padded_sequence); in the *_len_front cases
 * the padding comes first and PyTorch runs each sequence's real steps alone, from h0. deepc gets
 * the padded x (random values on the padded steps, which must have no effect) and the mask
 * (mask[n, t] = 1 on real steps). On a padded step deepc keeps the state and repeats it, so the
 * golden y holds PyTorch's outputs on real steps, the final state after an end-padded sequence
 * and h0 before a front-padded one; y[:, T-1] is then PyTorch's h_n for every sequence, and the
 * gradients of sum(y * gy) include the paths through the repeats.
 *
 * Embedding: embedding_pad0 is F.embedding with padding_idx 0 on ids [2, 5] holding zeros and
 * repeated ids (the padding row gets no gradient, repeated rows add up). The
 * embedding_<cell>_mask_zero cases chain token ids padded with 0 at the end -> Embedding ->
 * recurrent layer -> final state, against PyTorch's embedding and packed run: deepc's mask from
 * the ids (op routes) or Embedding(mask_zero)'s mask read by the next layer (layer route).
 *
 * Routes: every case runs with 1 and 2 threads (dc_set_threads), once with grad mode off
 * (forward values only), and where a deepc layer computes the same thing (no h0, which the layers
 * do not take; a mask only from an Embedding layer) through a model built from dc_input and
 * dc_lstm_layer / dc_gru_layer / dc_simple_rnn_layer (return_sequences) / dc_embedding_layer
 * whose parameters are set from the golden file, through dc_model_forward.
 *
 * Tolerance: |got - expected| <= 1e-5 + 1e-4 |expected| (GOLD_ABS_TOL, GOLD_REL_TOL) for every
 * tensor. The sums are short (5 inputs or 4 hidden units per gate, 18 rows of N T for a weight
 * gradient) and the values at most ~10, so float32 rounding stays well below it (measured on
 * x86-64 with OpenBLAS: largest |diff| 1.7e-6, in a GRU's dW_ih), while a wrong gate order,
 * mask or state hand-over moves values by ~0.1 or more.
 *
 * One line per case: "golden <case> ok" or "golden <case> FAILED" after the mismatch details
 * (route, tensor, index, expected, got); a summary at the end; exit status 1 on any failure. A
 * golden file that is missing or malformed fails its case with a message, it never crashes the
 * test. The test runs from the repository root (CMake's WORKING_DIRECTORY); an optional argv[1]
 * names another golden directory.
 */
#include <deepc.h>

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "golden_io.h"

typedef enum case_kind {
    KIND_SEQ,     /* a recurrent op on x [N, T, F] */
    KIND_EMB,     /* an embedding lookup on ids [N, T] */
    KIND_EMB_SEQ  /* ids -> embedding (mask_zero) -> recurrent op -> final state */
} case_kind;

/* The golden cfg's codes: cell, activation, padding. */
enum { CELL_RNN = 0, CELL_LSTM = 1, CELL_GRU = 2 };
enum { ACT_NONE = 0, ACT_TANH = 1, ACT_RELU = 2 };
enum { PAD_NONE = 0, PAD_END = 1, PAD_FRONT = 2 };

typedef struct rnn_spec {
    const char *name; /* golden file tests/golden/<name>.txt */
    case_kind kind;
    /* Must equal the golden "cfg" tensor: [cell, activation, has_h0, padding] for the recurrent
     * kinds, [padding_idx] for KIND_EMB. */
    int cell, act, has_h0, padding;
} rnn_spec;

static const rnn_spec rnn_cases[] = {
    {"lstm", KIND_SEQ, CELL_LSTM, ACT_NONE, 0, PAD_NONE},
    {"lstm_h0c0", KIND_SEQ, CELL_LSTM, ACT_NONE, 1, PAD_NONE},
    {"gru", KIND_SEQ, CELL_GRU, ACT_NONE, 0, PAD_NONE},
    {"gru_h0", KIND_SEQ, CELL_GRU, ACT_NONE, 1, PAD_NONE},
    {"simple_rnn_tanh", KIND_SEQ, CELL_RNN, ACT_TANH, 0, PAD_NONE},
    {"simple_rnn_tanh_h0", KIND_SEQ, CELL_RNN, ACT_TANH, 1, PAD_NONE},
    {"simple_rnn_relu", KIND_SEQ, CELL_RNN, ACT_RELU, 0, PAD_NONE},
    {"simple_rnn_relu_h0", KIND_SEQ, CELL_RNN, ACT_RELU, 1, PAD_NONE},
    {"lstm_len_end_h0c0", KIND_SEQ, CELL_LSTM, ACT_NONE, 1, PAD_END},
    {"gru_len_end", KIND_SEQ, CELL_GRU, ACT_NONE, 0, PAD_END},
    {"simple_rnn_tanh_len_end", KIND_SEQ, CELL_RNN, ACT_TANH, 0, PAD_END},
    {"lstm_len_front_h0c0", KIND_SEQ, CELL_LSTM, ACT_NONE, 1, PAD_FRONT},
    {"gru_len_front_h0", KIND_SEQ, CELL_GRU, ACT_NONE, 1, PAD_FRONT},
    {"simple_rnn_relu_len_front_h0", KIND_SEQ, CELL_RNN, ACT_RELU, 1, PAD_FRONT},
    {"embedding_pad0", KIND_EMB, 0, 0, 0, 0},
    {"embedding_lstm_mask_zero", KIND_EMB_SEQ, CELL_LSTM, ACT_NONE, 0, PAD_END},
    {"embedding_gru_mask_zero", KIND_EMB_SEQ, CELL_GRU, ACT_NONE, 0, PAD_END},
    {"embedding_simple_rnn_mask_zero", KIND_EMB_SEQ, CELL_RNN, ACT_TANH, 0, PAD_END},
};

typedef enum rnn_route { ROUTE_T1, ROUTE_T2, ROUTE_NO_GRAD, ROUTE_LAYER, ROUTE_COUNT } rnn_route;
static const char *const route_names[ROUTE_COUNT] = {"1 thread", "2 threads", "grad off", "layer"};
static const int route_threads[ROUTE_COUNT] = {1, 2, 0, 0}; /* 0: DEEPC_THREADS or the cores */

/* The golden cfg must match the table, so a regenerated file cannot silently test other
 * settings than the ones this test passes to deepc. */
static bool check_cfg(gcase *c, const rnn_spec *s) {
    const double want_seq[4] = {s->cell, s->act, s->has_h0, s->padding}, want_emb[1] = {0};
    const double *want = s->kind == KIND_EMB ? want_emb : want_seq;
    const int n = s->kind == KIND_EMB ? 1 : 4;
    const gt_tensor *g = need(c, "cfg");
    if (!g) return false;
    if (g->numel != n) {
        cfail(c, "cfg: %lld values in the golden file, %d in this test's table", (long long)g->numel, n);
        return false;
    }
    for (int i = 0; i < n; i++)
        if (g->v[i] != want[i]) {
            cfail(c, "cfg[%d] is %.9g in the golden file but %.9g in this test: regenerate or update the table", i,
                  g->v[i], want[i]);
            return false;
        }
    return true;
}

static bool layer_route_applies(const rnn_spec *s) {
    return s->kind != KIND_SEQ || (!s->has_h0 && s->padding == PAD_NONE);
}

static dc_activation rnn_act(const rnn_spec *s) { return s->act == ACT_RELU ? DC_ACT_RELU : DC_ACT_TANH; }

/* The tensors one run works on; owned ones (and the mask) are freed by run_free. */
typedef struct run_io {
    dc_tensor *x, *ids, *table, *W_ih, *W_hh, *b, *b_ih, *b_hh, *h0, *c0, *gy;
    uint8_t *mask; /* [N, T], NULL without padding */
} run_io;

static void run_free(run_io *io) {
    dc_tensor *all[] = {io->x, io->ids, io->table, io->W_ih, io->W_hh, io->b,
                        io->b_ih, io->b_hh, io->h0, io->c0, io->gy};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) dc_tensor_free(all[i]);
    free(io->mask);
    memset(io, 0, sizeof *io);
}

/* The mask [N, T] of the batch seq ([N, T, ...]): from the golden "mask" (KIND_SEQ; 0 or 1
 * values) or from the token ids (KIND_EMB_SEQ; id != 0), and either way checked against the
 * golden "lengths" and the padding side, so a malformed file cannot test something else than it
 * says. */
static uint8_t *load_mask(gcase *c, const rnn_spec *s, const dc_tensor *seq) {
    const int64_t N = dc_tensor_dim(seq, 0), T = dc_tensor_dim(seq, 1);
    const gt_tensor *src = need(c, s->kind == KIND_SEQ ? "mask" : "ids"), *len = need(c, "lengths");
    if (!src || !len) return NULL;
    if (src->ndim != 2 || src->shape[0] != N || src->shape[1] != T || len->numel != N) {
        cfail(c, "%s: expected [%lld, %lld] with lengths [%lld], the golden file has %lld values and %lld lengths",
              src->name, (long long)N, (long long)T, (long long)N, (long long)src->numel, (long long)len->numel);
        return NULL;
    }
    uint8_t *m = malloc((size_t)(N * T));
    if (!m) {
        cfail(c, "out of memory");
        return NULL;
    }
    for (int64_t n = 0; n < N; n++) {
        const double l = len->v[n];
        if (!(l >= 1 && l <= (double)T && l == floor(l))) {
            cfail(c, "lengths[%lld] = %.9g is not a whole number in [1, %lld]", (long long)n, l, (long long)T);
            free(m);
            return NULL;
        }
        for (int64_t t = 0; t < T; t++) {
            const double v = src->v[n * T + t];
            const bool on = s->kind == KIND_EMB_SEQ ? v != 0 : v == 1;
            const bool want = s->padding == PAD_FRONT ? (double)t >= (double)T - l : (double)t < l;
            if ((s->kind == KIND_SEQ && v != 0 && v != 1) || on != want) {
                cfail(c, "%s[%lld, %lld] = %.9g does not fit length %.9g padded at the %s", src->name, (long long)n,
                      (long long)t, v, l, s->padding == PAD_FRONT ? "front" : "end");
                free(m);
                return NULL;
            }
            m[n * T + t] = on;
        }
    }
    return m;
}

/* Loads the recurrent weights (and biases) of the case's cell. */
static bool load_weights(gcase *c, const rnn_spec *s, bool grad, run_io *io) {
    io->W_ih = load_tensor(c, "W_ih", grad);
    io->W_hh = load_tensor(c, "W_hh", grad);
    bool ok = io->W_ih && io->W_hh;
    if (s->cell == CELL_GRU) {
        io->b_ih = load_tensor(c, "b_ih", grad);
        io->b_hh = load_tensor(c, "b_hh", grad);
        return ok && io->b_ih && io->b_hh;
    }
    io->b = load_tensor(c, "b", grad);
    return ok && io->b;
}

/* Loads what the case needs; false (with the failure recorded) if anything is missing. */
static bool run_load(gcase *c, const rnn_spec *s, bool grad, run_io *io) {
    memset(io, 0, sizeof *io);
    io->gy = load_tensor(c, "gy", false);
    bool ok = io->gy != NULL;
    if (s->kind == KIND_SEQ) {
        io->x = load_tensor(c, "x", grad);
        ok = load_weights(c, s, grad, io) && io->x && ok;
        if (ok && dc_tensor_ndim(io->x) != 3) {
            cfail(c, "x: expected [N, T, F], the golden file has %d dimensions", dc_tensor_ndim(io->x));
            return false;
        }
        if (s->has_h0) {
            io->h0 = load_tensor(c, "h0", grad);
            ok = io->h0 && ok;
            if (s->cell == CELL_LSTM) ok = (io->c0 = load_tensor(c, "c0", grad)) && ok;
        }
        if (ok && s->padding != PAD_NONE)
            ok = (io->mask = load_mask(c, s, io->x)) != NULL;
        return ok;
    }
    io->ids = load_tensor(c, "ids", false);
    io->table = load_tensor(c, "table", grad);
    ok = io->ids && io->table && ok;
    if (ok && dc_tensor_ndim(io->ids) != 2) {
        cfail(c, "ids: expected [N, T], the golden file has %d dimensions", dc_tensor_ndim(io->ids));
        return false;
    }
    if (s->kind == KIND_EMB_SEQ) {
        ok = load_weights(c, s, grad, io) && ok;
        if (ok)
            ok = (io->mask = load_mask(c, s, io->ids)) != NULL;
    }
    return ok;
}

static const char *op_name(const rnn_spec *s) {
    return s->cell == CELL_LSTM ? "dc_lstm" : s->cell == CELL_GRU ? "dc_gru" : "dc_simple_rnn";
}

/* The op routes' recurrent step over x with the case's weights and initial state, and mask. */
static dc_tensor *recurrent(dc_ctx *ctx, const rnn_spec *s, dc_tensor *x, run_io *io, const uint8_t *mask) {
    switch (s->cell) {
    case CELL_LSTM: return dc_lstm(ctx, x, io->W_ih, io->W_hh, io->b, io->h0, io->c0, mask);
    case CELL_GRU: return dc_gru(ctx, x, io->W_ih, io->W_hh, io->b_ih, io->b_hh, io->h0, mask);
    default: return dc_simple_rnn(ctx, x, io->W_ih, io->W_hh, io->b, io->h0, rnn_act(s), mask);
    }
}

/* The op routes' forward pass: y as the golden file has it. */
static dc_tensor *forward(gcase *c, dc_ctx *ctx, const rnn_spec *s, run_io *io) {
    dc_tensor *y = NULL;
    switch (s->kind) {
    case KIND_SEQ:
        if (!(y = recurrent(ctx, s, io->x, io, io->mask))) fail_dc(c, op_name(s));
        return y;
    case KIND_EMB:
        if (!(y = dc_embedding(ctx, io->ids, io->table, 0))) fail_dc(c, "dc_embedding");
        return y;
    case KIND_EMB_SEQ: {
        /* the mask from the ids, which must be the one the golden lengths give */
        const uint8_t *pm = dc_padding_mask(ctx, io->ids);
        if (!pm) {
            fail_dc(c, "dc_padding_mask");
            return NULL;
        }
        const int64_t nt = dc_tensor_numel(io->ids);
        for (int64_t i = 0; i < nt; i++)
            if (pm[i] != io->mask[i]) {
                cfail(c, "dc_padding_mask: element %lld is %d, the golden lengths give %d", (long long)i, pm[i], io->mask[i]);
                return NULL;
            }
        dc_tensor *e = dc_embedding(ctx, io->ids, io->table, 0);
        dc_tensor *seq = e ? recurrent(ctx, s, e, io, pm) : NULL;
        y = seq ? dc_last_step(ctx, seq) : NULL;
        if (!y) fail_dc(c, !e ? "dc_embedding" : !seq ? op_name(s) : "dc_last_step");
        return y;
    }
    }
    return NULL;
}

/* ---- the layer route ---- */

static dc_layer *named(dc_layer *l, const char *name) {
    if (l && dc_layer_set_name(l, name) != DC_OK) {
        dc_layer_free(l);
        return NULL;
    }
    return l;
}

/* The recurrent layer "op" of the case's cell. */
static dc_layer *recurrent_layer(const rnn_spec *s, int64_t units, bool return_sequences) {
    switch (s->cell) {
    case CELL_LSTM: return named(dc_lstm_layer(units, return_sequences), "op");
    case CELL_GRU: return named(dc_gru_layer(units, return_sequences), "op");
    default: return named(dc_simple_rnn_layer(units, rnn_act(s), return_sequences), "op");
    }
}

/* KIND_SEQ: Input [T, F] -> recurrent layer (return_sequences); KIND_EMB: Input [T] ->
 * Embedding(V, D, mask_zero) "emb"; KIND_EMB_SEQ: both, the recurrent layer returning the final
 * state. Parameters loaded from the golden file; NULL on failure. */
static dc_model *make_model(gcase *c, const rnn_spec *s, run_io *io) {
    dc_tensor *in = s->kind == KIND_SEQ ? io->x : io->ids;
    dc_model *m = dc_sequential();
    if (!m) {
        fail_dc(c, "dc_sequential");
        return NULL;
    }
    /* dc_model_add owns the layer even when it fails */
    dc_status st = dc_model_add(m, dc_input(dc_tensor_ndim(in) - 1, dc_tensor_shape(in) + 1));
    if (!st && s->kind != KIND_SEQ) {
        if (dc_tensor_ndim(io->table) != 2) {
            cfail(c, "table: expected [V, D], the golden file has %d dimensions", dc_tensor_ndim(io->table));
            dc_model_free(m);
            return NULL;
        }
        const int64_t V = dc_tensor_dim(io->table, 0), D = dc_tensor_dim(io->table, 1);
        st = dc_model_add(m, named(dc_embedding_layer(V, D, true), "emb"));
    }
    if (!st && s->kind != KIND_EMB)
        st = dc_model_add(m, recurrent_layer(s, dc_tensor_dim(io->W_hh, 1), s->kind == KIND_SEQ));
    if (!st) st = dc_model_build(m, 0, NULL);
    if (st) {
        fail_dc(c, "building the model");
        dc_model_free(m);
        return NULL;
    }
    bool ok = true;
    if (io->table) ok = set_param(c, m, "emb.weight", io->table);
    if (ok && s->kind != KIND_EMB) {
        ok = set_param(c, m, "op.weight_ih", io->W_ih) && set_param(c, m, "op.weight_hh", io->W_hh);
        if (ok && s->cell == CELL_GRU)
            ok = set_param(c, m, "op.bias_ih", io->b_ih) && set_param(c, m, "op.bias_hh", io->b_hh);
        else if (ok)
            ok = set_param(c, m, "op.bias", io->b);
    }
    if (!ok) {
        dc_model_free(m);
        return NULL;
    }
    return m;
}

/* Compares the gradient of the op input `t` (op routes) or model parameter `pname` (layer
 * route) with the golden tensor gname. */
static void compare_grad(gcase *c, const char *gname, dc_model *m, const char *pname, const dc_tensor *t) {
    if (!m) {
        compare_tensor(c, gname, dc_tensor_grad(t));
        return;
    }
    dc_tensor *p = dc_model_param(m, pname);
    compare_tensor(c, gname, p ? dc_tensor_grad(p) : NULL);
}

static void rnn_run(gcase *c, const rnn_spec *s, rnn_route r) {
    c->route = route_names[r];
    const bool grad = r != ROUTE_NO_GRAD, layer = r == ROUTE_LAYER;
    dc_set_threads(route_threads[r]);
    run_io io;
    dc_model *m = NULL;
    bool loaded = run_load(c, s, grad, &io);
    dc_ctx *ctx = dc_ctx_new();
    if (!ctx) fail_dc(c, "dc_ctx_new");
    if (!loaded || !ctx || (layer && !(m = make_model(c, s, &io)))) goto done;
    dc_ctx_set_grad(ctx, grad);

    dc_tensor *in = s->kind == KIND_SEQ ? io.x : io.ids;
    dc_tensor *y = layer ? dc_model_forward(m, ctx, in, true) : forward(c, ctx, s, &io);
    if (!y) {
        if (layer) fail_dc(c, "dc_model_forward");
        goto done;
    }
    compare_tensor(c, "y", y);
    if (s->kind == KIND_SEQ) { /* the final state: y[:, T-1], whatever the padding */
        dc_tensor *last = dc_last_step(ctx, y);
        if (last) compare_tensor(c, "h_n", last);
        else fail_dc(c, "dc_last_step");
    }
    if (!grad) goto done;

    dc_tensor *prod = dc_mul(ctx, y, io.gy), *loss = prod ? dc_sum(ctx, prod) : NULL;
    if (!loss) {
        fail_dc(c, prod ? "loss: dc_sum(y * gy)" : "loss: dc_mul(y, gy)");
        goto done;
    }
    if (dc_backward(ctx, loss) != DC_OK) {
        fail_dc(c, "dc_backward");
        goto done;
    }
    if (io.x) compare_tensor(c, "dx", dc_tensor_grad(io.x));
    if (io.table) compare_grad(c, "dtable", m, "emb.weight", io.table);
    if (s->kind != KIND_EMB) {
        compare_grad(c, "dW_ih", m, "op.weight_ih", io.W_ih);
        compare_grad(c, "dW_hh", m, "op.weight_hh", io.W_hh);
        if (s->cell == CELL_GRU) {
            compare_grad(c, "db_ih", m, "op.bias_ih", io.b_ih);
            compare_grad(c, "db_hh", m, "op.bias_hh", io.b_hh);
        } else { /* one bias b = b_ih + b_hh: its gradient is each of PyTorch's two */
            compare_grad(c, "db_ih", m, "op.bias", io.b);
            compare_grad(c, "db_hh", m, "op.bias", io.b);
        }
    }
    if (io.h0) compare_tensor(c, "dh0", dc_tensor_grad(io.h0));
    if (io.c0) compare_tensor(c, "dc0", dc_tensor_grad(io.c0));
done:
    dc_ctx_free(ctx);
    dc_model_free(m);
    run_free(&io);
}

static int rnn_case(const char *dir, const rnn_spec *s) {
    gcase c;
    if (case_open(&c, dir, s->name) && check_cfg(&c, s))
        for (int r = 0; r < ROUTE_COUNT; r++)
            if (r != ROUTE_LAYER || layer_route_applies(s)) rnn_run(&c, s, (rnn_route)r);
    dc_set_threads(0);
    return case_close(&c);
}

int main(int argc, char **argv) {
    const char *dir = argc > 1 ? argv[1] : "tests/golden";
    int total = 0, failed = 0;
    for (size_t i = 0; i < sizeof rnn_cases / sizeof rnn_cases[0]; i++, total++) failed += rnn_case(dir, &rnn_cases[i]);
    printf("golden rnn: %d of %d cases ok, %d failed (tolerance %g abs + %g rel; goldens from %s)\n", total - failed,
           total, failed, GOLD_ABS_TOL, GOLD_REL_TOL, dir);
    return failed ? 1 : 0;
}
