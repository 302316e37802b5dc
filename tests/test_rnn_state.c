/* The recurrent layers' states: return_state (the final states as more outputs of the layer) and
 * initial states (inputs 1.. of a recurrent layer), in graph models.
 *
 * 1. PyTorch goldens (scripts/golden/gen_golden_rnn_state.py, tests/golden/rnn_state/): random
 *    SimpleRNN / LSTM / GRU configurations, with and without initial states, whole or of
 *    variable lengths (padded at the end: PyTorch's pack_padded_sequence; at the front), and
 *    encoder -> decoder chains. Each case runs two routes: a graph model (return_state outputs
 *    read with dc_model_output_of, concatenated; the mask given to dc_model_forward_masked) and
 *    the ops themselves (dc_lstm_states, dc_gru, dc_simple_rnn). Both compare the outputs and
 *    the gradients of sum(out * g) with respect to the inputs, the initial states and the
 *    weights, and the worst errors are printed.
 * 2. An encoder-decoder trained with dc_model_fit to reverse digit strings: the encoder LSTM's
 *    final states are the decoder LSTM's initial states (teacher forcing); held-out token
 *    accuracy >= 0.98, whole strings decoded greedily (no teacher forcing) >= 0.95, and token
 *    accuracy near chance when the sources are shuffled (so the states carry them).
 * 3. That model's file round trip ("encoder:1" references), its summary, a JSON configuration
 *    with "name:k" inputs.
 * 4. Bad graphs as clear errors. */
#include "check.h"
#include "golden_io.h"
#include "tmpfiles.h"

#include <stdlib.h>

/* Tolerance of the golden checks: float32 arithmetic against float64 references, values of
 * order one through at most a dozen steps. */
#define TOL_ABS 1e-5
#define TOL_REL 1e-5

enum { CELL_RNN, CELL_LSTM, CELL_GRU };

/* worst |got - expected|, and worst in units of the tolerance, per route: 0 graph, 1 ops */
static double worst_abs[2], worst_tol[2];
static char worst_where[2][16], worst_name[2][64];

static void track(gcase *c, int route, const char *gname, const dc_tensor *got) {
    compare_tensor(c, gname, got);
    const gt_tensor *e = gt_find(&c->gf, gname);
    if (!e || !got || dc_tensor_numel(got) != e->numel) return;
    dc_tensor *copy = dc_tensor_clone(got);
    if (!copy) return;
    const float *v = dc_tensor_data(copy);
    for (int64_t i = 0; i < e->numel; i++) {
        double d = fabs((double)v[i] - e->v[i]);
        if (d > worst_abs[route]) worst_abs[route] = d;
        double u = d / tol_for(c, e->v[i]);
        if (u > worst_tol[route]) {
            worst_tol[route] = u;
            snprintf(worst_where[route], sizeof worst_where[route], "%s", c->name);
            snprintf(worst_name[route], sizeof worst_name[route], "%s", gname);
        }
    }
    dc_tensor_free(copy);
}

typedef struct rcase {
    bool chain;
    int cell, act, N, T, F, H, seq, init, padding, T2, F2;
} rcase;

static int nstates(int cell) { return cell == CELL_LSTM ? 2 : 1; }

static dc_layer *make_rec(const rcase *k, bool seq) {
    if (k->cell == CELL_LSTM) return dc_lstm_layer(k->H, seq);
    if (k->cell == CELL_GRU) return dc_gru_layer(k->H, seq);
    return dc_simple_rnn_layer(k->H, k->act ? DC_ACT_RELU : DC_ACT_TANH, seq);
}

static const char *const pnames_lstm[] = {"weight_ih", "weight_hh", "bias", NULL};
static const char *const pnames_gru[] = {"weight_ih", "weight_hh", "bias_ih", "bias_hh", NULL};
static const char *const *pnames(int cell) { return cell == CELL_GRU ? pnames_gru : pnames_lstm; }

/* The golden's [N, T] 0/1 mask as bytes (NULL when the case has none); free it. */
static uint8_t *mask_bytes(gcase *c, const rcase *k) {
    if (!k->padding) return NULL;
    const gt_tensor *m = need(c, "mask");
    if (!m || m->numel != (int64_t)k->N * k->T) return NULL;
    uint8_t *b = malloc((size_t)m->numel);
    for (int64_t i = 0; b && i < m->numel; i++) b[i] = m->v[i] != 0;
    return b;
}

/* The tensors a case reads: inputs (requiring grad) and g. */
typedef struct rdata {
    dc_tensor *x, *h0, *c0, *x2, *g;
} rdata;

static void rdata_free(rdata *d) {
    dc_tensor_free(d->x);
    dc_tensor_free(d->h0);
    dc_tensor_free(d->c0);
    dc_tensor_free(d->x2);
    dc_tensor_free(d->g);
}

static bool rdata_load(gcase *c, const rcase *k, rdata *d) {
    memset(d, 0, sizeof *d);
    d->x = load_tensor(c, "x", true);
    d->g = load_tensor(c, "g", false);
    if (k->init) d->h0 = load_tensor(c, "h0", true);
    if (k->init && k->cell == CELL_LSTM) d->c0 = load_tensor(c, "c0", true);
    if (k->chain) d->x2 = load_tensor(c, "x2", true);
    return d->x && d->g && (!k->init || d->h0) && (!k->init || k->cell != CELL_LSTM || d->c0) && (!k->chain || d->x2);
}

/* Input gradients, compared after backward. */
static void check_input_grads(gcase *c, int route, const rcase *k, const rdata *d) {
    track(c, route, "dx", dc_tensor_grad(d->x));
    if (d->h0) track(c, route, "dh0", dc_tensor_grad(d->h0));
    if (d->c0) track(c, route, "dc0", dc_tensor_grad(d->c0));
    if (d->x2) track(c, route, "dx2", dc_tensor_grad(d->x2));
}

/* loss = sum(out * g), backward. */
static bool backward(gcase *c, dc_ctx *ctx, dc_tensor *out, dc_tensor *g) {
    dc_tensor *loss = dc_sum(ctx, dc_mul(ctx, out, g));
    if (!loss || dc_backward(ctx, loss)) {
        fail_dc(c, "backward of sum(out * g)");
        return false;
    }
    return true;
}

/* Route 0: a graph model. Inputs x [, h0 [, c0]] [, x2]; single: L(return_state) -> [Flatten]
 * -> Concatenate(o, L:1 [, L:2]); chain: E(return_state) -> D(x2, E:1 [, E:2]). */
static void graph_route(gcase *c, const rcase *k) {
    c->route = "graph";
    rdata d;
    dc_model *m = dc_sequential();
    dc_ctx *ctx = dc_ctx_new();
    uint8_t *mask = mask_bytes(c, k);
    if (!rdata_load(c, k, &d) || !m || !ctx || (k->padding && !mask)) goto done;
    int ns = nstates(k->cell), in[4], nin = 0;
    dc_tensor *xs[4];
    const uint8_t *masks[4] = {mask};
    in[nin] = dc_model_input(m, "x", 2, (int64_t[]){k->T, k->F});
    xs[nin++] = d.x;
    if (k->init) {
        in[nin] = dc_model_input(m, "h0", 1, (int64_t[]){k->H});
        xs[nin++] = d.h0;
        if (ns == 2) {
            in[nin] = dc_model_input(m, "c0", 1, (int64_t[]){k->H});
            xs[nin++] = d.c0;
        }
    }
    int nx = nin;
    if (k->chain) {
        in[nin] = dc_model_input(m, "x2", 2, (int64_t[]){k->T2, k->F2});
        xs[nx++] = d.x2;
    }
    dc_layer *l = make_rec(k, !k->chain && k->seq);
    if (l) dc_layer_set_name(l, k->chain ? "E" : "L");
    if (l && dc_layer_set_return_state(l, true)) fail_dc(c, "return_state");
    int r = dc_model_apply(m, l, k->init ? 1 + ns : 1, in);
    if (r < 0) {
        fail_dc(c, "applying the recurrent layer");
        goto done;
    }
    int last;
    if (k->chain) {
        dc_layer *dl = make_rec(k, true);
        if (dl) dc_layer_set_name(dl, "D");
        int dec_in[3] = {in[nin], dc_model_output_of(m, r, 1), ns == 2 ? dc_model_output_of(m, r, 2) : 0};
        last = dc_model_apply(m, dl, 1 + ns, dec_in);
    } else {
        int o = k->seq ? dc_model_apply(m, dc_flatten(), 1, &r) : r;
        int cat_in[3] = {o, dc_model_output_of(m, r, 1), ns == 2 ? dc_model_output_of(m, r, 2) : 0};
        last = dc_model_apply(m, dc_concatenate_layer(), 1 + ns, cat_in);
    }
    if (last < 0 || dc_model_build(m, 0, NULL)) {
        fail_dc(c, "building the graph");
        goto done;
    }
    const char *const *pn = pnames(k->cell);
    for (int part = 0; part < (k->chain ? 2 : 1); part++)
        for (int i = 0; pn[i]; i++) {
            char gn[GT_MAX_NAME], mn[64];
            snprintf(gn, sizeof gn, "p_%s%s", k->chain ? (part ? "dec_" : "enc_") : "", pn[i]);
            snprintf(mn, sizeof mn, "%s.%s", k->chain ? (part ? "D" : "E") : "L", pn[i]);
            dc_tensor *src = load_tensor(c, gn, false);
            bool ok = src && set_param(c, m, mn, src);
            dc_tensor_free(src);
            if (!ok) goto done;
        }
    dc_ctx_set_grad(ctx, true);
    dc_tensor *out = dc_model_forward_masked(m, ctx, nx, xs, masks, true);
    if (!out) {
        fail_dc(c, "dc_model_forward_masked");
        goto done;
    }
    track(c, 0, "out", out);
    if (!backward(c, ctx, out, d.g)) goto done;
    check_input_grads(c, 0, k, &d);
    for (int part = 0; part < (k->chain ? 2 : 1); part++)
        for (int i = 0; pn[i]; i++) {
            char gn[GT_MAX_NAME], mn[64];
            snprintf(gn, sizeof gn, "d_%s%s", k->chain ? (part ? "dec_" : "enc_") : "", pn[i]);
            snprintf(mn, sizeof mn, "%s.%s", k->chain ? (part ? "D" : "E") : "L", pn[i]);
            dc_tensor *p = dc_model_param(m, mn);
            track(c, 0, gn, p ? dc_tensor_grad(p) : NULL);
        }
done:
    free(mask);
    rdata_free(&d);
    dc_ctx_free(ctx);
    dc_model_free(m);
}

/* The cell op over x from (h0, c0); y, and the final states into *hn, *cn. */
static dc_tensor *run_op(dc_ctx *ctx, const rcase *k, dc_tensor *x, dc_tensor *const *p, dc_tensor *h0, dc_tensor *c0,
                         const uint8_t *mask, dc_tensor **hn, dc_tensor **cn) {
    dc_tensor *y;
    *cn = NULL;
    if (k->cell == CELL_LSTM) return dc_lstm_states(ctx, x, p[0], p[1], p[2], h0, c0, mask, hn, cn);
    if (k->cell == CELL_GRU) y = dc_gru(ctx, x, p[0], p[1], p[2], p[3], h0, mask);
    else y = dc_simple_rnn(ctx, x, p[0], p[1], p[2], h0, k->act ? DC_ACT_RELU : DC_ACT_TANH, mask);
    *hn = dc_last_step(ctx, y);
    return y;
}

/* Route 1: the ops themselves. */
static void op_route(gcase *c, const rcase *k) {
    c->route = "ops";
    rdata d;
    dc_tensor *p[2][4] = {{NULL}};
    dc_ctx *ctx = dc_ctx_new();
    uint8_t *mask = mask_bytes(c, k);
    const char *const *pn = pnames(k->cell);
    if (!rdata_load(c, k, &d) || !ctx || (k->padding && !mask)) goto done;
    for (int part = 0; part < (k->chain ? 2 : 1); part++)
        for (int i = 0; pn[i]; i++) {
            char gn[GT_MAX_NAME];
            snprintf(gn, sizeof gn, "p_%s%s", k->chain ? (part ? "dec_" : "enc_") : "", pn[i]);
            if (!(p[part][i] = load_tensor(c, gn, true))) goto done;
        }
    dc_ctx_set_grad(ctx, true);
    dc_tensor *hn, *cn, *out;
    dc_tensor *y = run_op(ctx, k, d.x, p[0], d.h0, d.c0, mask, &hn, &cn);
    if (!y || !hn || (k->cell == CELL_LSTM && !cn)) {
        fail_dc(c, "the recurrent op");
        goto done;
    }
    if (k->chain) {
        dc_tensor *hn2, *cn2;
        out = run_op(ctx, k, d.x2, p[1], hn, cn, NULL, &hn2, &cn2);
    } else {
        track(c, 1, "y", y);
        track(c, 1, "h_n", hn);
        if (cn) track(c, 1, "c_n", cn);
        dc_tensor *parts[3] = {k->seq ? dc_reshape(ctx, y, 2, (int64_t[]){k->N, -1}) : hn, hn, cn};
        out = dc_concat(ctx, parts, 1 + nstates(k->cell), 1);
    }
    if (!out) {
        fail_dc(c, "the output");
        goto done;
    }
    track(c, 1, "out", out);
    if (!backward(c, ctx, out, d.g)) goto done;
    check_input_grads(c, 1, k, &d);
    for (int part = 0; part < (k->chain ? 2 : 1); part++)
        for (int i = 0; pn[i]; i++) {
            char gn[GT_MAX_NAME];
            snprintf(gn, sizeof gn, "d_%s%s", k->chain ? (part ? "dec_" : "enc_") : "", pn[i]);
            track(c, 1, gn, dc_tensor_grad(p[part][i]));
        }
done:
    for (int part = 0; part < 2; part++)
        for (int i = 0; i < 4; i++) dc_tensor_free(p[part][i]);
    free(mask);
    rdata_free(&d);
    dc_ctx_free(ctx);
}

static int run_goldens(const char *gdir, int *ncases) {
    gcase idx;
    int n = 0, failed = 0;
    if (case_open(&idx, gdir, "cases")) {
        const gt_tensor *t = need(&idx, "n");
        if (t && t->numel == 1 && t->v[0] >= 1 && t->v[0] <= 1000) n = (int)t->v[0];
        else cfail(&idx, "n: expected one count in 1..1000");
    }
    failed += case_close(&idx);
    int per_cell[2][3] = {{0}};
    for (int i = 0; i < n; i++) {
        char name[16];
        snprintf(name, sizeof name, "s%03d", i);
        gcase c;
        if (case_open(&c, gdir, name)) {
            c.abs_tol = TOL_ABS;
            c.rel_tol = TOL_REL;
            const gt_tensor *cfg = need(&c, "cfg");
            if (cfg && cfg->numel == 12) {
                const double *v = cfg->v;
                rcase k = {v[0] != 0, (int)v[1], (int)v[2], (int)v[3], (int)v[4], (int)v[5],
                           (int)v[6], (int)v[7], (int)v[8], (int)v[9], (int)v[10], (int)v[11]};
                if (k.cell < 0 || k.cell > 2) {
                    cfail(&c, "cfg: unknown cell %d", k.cell);
                } else {
                    per_cell[k.chain][k.cell]++;
                    graph_route(&c, &k);
                    op_route(&c, &k);
                }
            } else {
                cfail(&c, "cfg: expected 12 values");
            }
        }
        failed += case_close(&c);
    }
    printf("\n%d cases: single SimpleRNN %d, LSTM %d, GRU %d; chains %d, %d, %d\n", n, per_cell[0][0], per_cell[0][1],
           per_cell[0][2], per_cell[1][0], per_cell[1][1], per_cell[1][2]);
    for (int r = 0; r < 2; r++)
        printf("worst error, %-5s route: max |diff| %.3g; %.3g of the tolerance %.0e + %.0e |expected| (%s %s)\n",
               r ? "ops" : "graph", worst_abs[r], worst_tol[r], TOL_ABS, TOL_REL, worst_where[r][0] ? worst_where[r] : "-",
               worst_name[r]);
    printf("%d of %d state golden cases failed\n\n", failed, n);
    *ncases = n;
    return failed;
}

/* ---- an encoder-decoder that reverses digit strings ---- */

enum { BOS = 1, D0 = 2, NDIG = 8, V = D0 + NDIG, L = 5, EMB = 16, UNITS = 48 };

/* n strings: src [n, L] digits; tin [n, L] = BOS + reversed[:-1] (teacher forcing); y [n, L]
 * the reversed string. */
static void make_rev(dc_rng *r, int64_t n, dc_tensor **src, dc_tensor **tin, dc_tensor **y) {
    *src = dc_tensor_new(2, (int64_t[]){n, L});
    *tin = dc_tensor_new(2, (int64_t[]){n, L});
    *y = dc_tensor_new(2, (int64_t[]){n, L});
    float *s = dc_tensor_data(*src), *ti = dc_tensor_data(*tin), *yy = dc_tensor_data(*y);
    for (int64_t i = 0; i < n; i++) {
        for (int t = 0; t < L; t++) s[i * L + t] = (float)(D0 + dc_rng_below(r, NDIG));
        for (int t = 0; t < L; t++) {
            yy[i * L + t] = s[i * L + L - 1 - t];
            ti[i * L + t] = t ? yy[i * L + t - 1] : BOS;
        }
    }
}

/* source -> Embedding -> LSTM "encoder" (return_state) --h, c--+
 * target_in -> Embedding -> LSTM "decoder" (sequences) <------+ -> Dense(V, softmax) */
static dc_model *encoder_decoder(void) {
    dc_model *m = dc_sequential();
    dc_model_set_seed(m, 5);
    int s = dc_model_input(m, "source", 1, (int64_t[]){L});
    int t = dc_model_input(m, "target_in", 1, (int64_t[]){L});
    int es = dc_model_apply(m, dc_embedding_layer(V, EMB, false), 1, &s);
    dc_layer *enc = dc_lstm_layer(UNITS, false);
    dc_layer_set_name(enc, "encoder");
    CHECK(dc_layer_set_bool(enc, "return_state", true) == DC_OK);
    int e = dc_model_apply(m, enc, 1, &es);
    CHECK(dc_model_num_outputs(m, e) == 3);
    int et = dc_model_apply(m, dc_embedding_layer(V, EMB, false), 1, &t);
    dc_layer *dec = dc_lstm_layer(UNITS, true);
    dc_layer_set_name(dec, "decoder");
    int d = dc_model_apply(m, dec, 3, (int[]){et, dc_model_output_of(m, e, 1), dc_model_output_of(m, e, 2)});
    CHECK(d >= 0);
    CHECK(dc_model_apply(m, dc_dense(V, DC_ACT_SOFTMAX), 1, &d) >= 0);
    return m;
}

/* The share of source strings whose reversal the model writes whole, decoding greedily: L passes,
 * each feeding the tokens predicted so far as the decoder's input. */
static double greedy_exact(dc_model *m, const dc_tensor *src, dc_tensor *y) {
    int64_t n = dc_tensor_dim(src, 0), right = 0;
    dc_tensor *tin = dc_tensor_new(2, (int64_t[]){n, L});
    float *ti = dc_tensor_data(tin), *got = calloc((size_t)(n * L), sizeof *got);
    for (int64_t i = 0; i < n * L; i++) ti[i] = i % L ? 0 : BOS;
    for (int t = 0; t < L; t++) {
        dc_tensor *p = dc_model_predict_n(m, 2, (const dc_tensor *[]){src, tin}, 256);
        CHECK(p != NULL);
        for (int64_t i = 0; p && got && i < n; i++) {
            const float *pr = (const float *)dc_tensor_data(p) + (i * L + t) * V;
            int best = 0;
            for (int k = 1; k < V; k++)
                if (pr[k] > pr[best]) best = k;
            got[i * L + t] = (float)best;
            if (t + 1 < L) ti[i * L + t + 1] = (float)best;
        }
        dc_tensor_free(p);
    }
    for (int64_t i = 0; got && i < n; i++)
        right += memcmp(got + i * L, (const float *)dc_tensor_data(y) + i * L, L * sizeof *got) == 0;
    free(got);
    dc_tensor_free(tin);
    return (double)right / (double)n;
}

static void test_encoder_decoder(void) {
    dc_rng r;
    dc_rng_seed(&r, 77);
    dc_tensor *src, *tin, *y, *tsrc, *ttin, *ty;
    make_rev(&r, 3000, &src, &tin, &y);
    make_rev(&r, 500, &tsrc, &ttin, &ty);
    dc_model *m = encoder_decoder();
    dc_metric acc = DC_METRIC_ACCURACY;
    CHECK(dc_model_compile(m, dc_adam(0.005f, 0.9f, 0.999f, 1e-7f), DC_LOSS_SPARSE_CCE, &acc, 1) == DC_OK);
    dc_fit_opts o = dc_fit_defaults();
    o.epochs = 8;
    o.batch_size = 32;
    o.verbose = 0;
    double t0 = dc_now();
    CHECK(dc_model_fit_n(m, 2, (const dc_tensor *[]){src, tin}, y, &o, NULL) == DC_OK);
    double secs = dc_now() - t0;
    double res[2] = {0, 0}, shuf[2] = {0, 0};
    CHECK(dc_model_evaluate_n(m, 2, (const dc_tensor *[]){tsrc, ttin}, ty, 256, res) == DC_OK);
    /* the same targets with every source swapped for another row's: the decoder then learns
     * nothing of its string from the states, so it falls to about chance (1/8 per digit) */
    dc_tensor *ssrc = dc_tensor_clone(tsrc);
    int64_t n = dc_tensor_dim(tsrc, 0);
    for (int64_t i = 0; i < n; i++)
        memcpy((float *)dc_tensor_data(ssrc) + i * L, (const float *)dc_tensor_data(tsrc) + ((i + 1) % n) * L, L * sizeof(float));
    CHECK(dc_model_evaluate_n(m, 2, (const dc_tensor *[]){ssrc, ttin}, ty, 256, shuf) == DC_OK);
    double exact = greedy_exact(m, tsrc, ty);
    printf("encoder-decoder, reversing %d digits: %d epochs of 3000 strings in %.1f s; held-out token accuracy %.4f "
           "(loss %.4f), strings decoded greedily %.4f; token accuracy with shuffled sources %.4f\n",
           L, o.epochs, secs, res[1], res[0], exact, shuf[1]);
    CHECK(res[1] >= 0.98);
    CHECK(exact >= 0.95);
    CHECK(shuf[1] <= 0.5);

    /* the summary lists the encoder's three outputs and the decoder's "encoder:k" inputs */
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    dc_model_summary(m, f);
    fclose(f);
    CHECK(text && strstr(text, "[(None, 48),"));
    CHECK(text && strstr(text, " (None, 48)]"));
    CHECK(text && strstr(text, "encoder:1, encoder:2"));
    if (text) printf("%s", text);
    free(text);

    /* the model file round trip: the references, and the same predictions */
    const char *path = write_file("encdec.safetensors", "", 0, false);
    CHECK(dc_model_save(m, path) == DC_OK);
    dc_safetensors *st = dc_safetensors_open(path);
    const char *arch = st ? dc_safetensors_meta(st, "deepc.model") : NULL;
    CHECK(arch && strstr(arch, "\"inputs\":[\"embedding_1\",\"encoder:1\",\"encoder:2\"]"));
    CHECK(arch && strstr(arch, "\"return_state\":true"));
    dc_safetensors_close(st);
    dc_model *m2 = dc_model_load(path);
    CHECK(m2 != NULL);
    if (m2) {
        CHECK(dc_model_num_outputs(m2, 3) == 3);
        dc_tensor *p1 = dc_model_predict_n(m, 2, (const dc_tensor *[]){tsrc, ttin}, 128);
        dc_tensor *p2 = dc_model_predict_n(m2, 2, (const dc_tensor *[]){tsrc, ttin}, 128);
        CHECK(p1 && p2 && dc_tensor_numel(p1) == dc_tensor_numel(p2) &&
              memcmp(dc_tensor_data(p1), dc_tensor_data(p2), (size_t)dc_tensor_numel(p1) * sizeof(float)) == 0);
        double res2[2] = {0, 0};
        CHECK(dc_model_evaluate_n(m2, 2, (const dc_tensor *[]){tsrc, ttin}, ty, 256, res2) == DC_OK);
        CHECK_NEAR(res2[1], res[1], 1e-9);
        /* saved again, the file's architecture is the same text */
        const char *path2 = write_file("encdec2.safetensors", "", 0, false);
        CHECK(dc_model_save(m2, path2) == DC_OK);
        dc_safetensors *st2 = dc_safetensors_open(path2);
        st = dc_safetensors_open(path);
        const char *a1 = st ? dc_safetensors_meta(st, "deepc.model") : NULL, *a2 = st2 ? dc_safetensors_meta(st2, "deepc.model") : NULL;
        CHECK(a1 && a2 && strcmp(a1, a2) == 0);
        dc_safetensors_close(st);
        dc_safetensors_close(st2);
        dc_tensor_free(p1);
        dc_tensor_free(p2);
        dc_model_free(m2);
    }
    dc_tensor *all[] = {src, tin, y, tsrc, ttin, ty, ssrc};
    for (int i = 0; i < 7; i++) dc_tensor_free(all[i]);
    dc_model_free(m);
}

/* A configuration written by hand: "name:k" inputs, the states of a GRU. */
static void test_config(void) {
    const char *json = "{\"graph\": true, \"layers\": ["
                       "{\"class\": \"InputLayer\", \"name\": \"a\", \"shape\": [4, 3]},"
                       "{\"class\": \"InputLayer\", \"name\": \"b\", \"shape\": [2, 5]},"
                       "{\"class\": \"GRU\", \"name\": \"enc\", \"units\": 6, \"return_state\": true, \"inputs\": [\"a\"]},"
                       "{\"class\": \"GRU\", \"name\": \"dec\", \"units\": 6, \"inputs\": [\"b\", \"enc:1\"]},"
                       "{\"class\": \"Concatenate\", \"inputs\": [\"dec\", \"enc:0\", \"enc:1\"]}]}";
    dc_model *m = dc_model_from_json(json, "config");
    CHECK(m != NULL);
    if (m) {
        CHECK(dc_model_build(m, 0, NULL) == DC_OK);
        int64_t sh[DC_MAX_DIMS];
        CHECK(dc_model_num_outputs(m, 2) == 2 && dc_model_num_outputs(m, 3) == 1);
        CHECK(dc_layer_output_shape(dc_model_layer(m, 4), sh) == 1 && sh[0] == 18);
        dc_rng r;
        dc_rng_seed(&r, 3);
        dc_tensor *a = check_randn(&r, 3, (int64_t[]){2, 4, 3}), *b = check_randn(&r, 3, (int64_t[]){2, 2, 5});
        dc_tensor *p = dc_model_predict_n(m, 2, (const dc_tensor *[]){a, b}, 8);
        CHECK(p && dc_tensor_dim(p, 1) == 18);
        /* enc:0 and enc:1 are the same final state */
        for (int64_t i = 0; p && i < 2; i++)
            for (int j = 0; j < 6; j++) {
                const float *row = (const float *)dc_tensor_data(p) + i * 18;
                CHECK(row[6 + j] == row[12 + j]);
            }
        dc_tensor_free(a);
        dc_tensor_free(b);
        dc_tensor_free(p);
        dc_model_free(m);
    }
    /* references that do not resolve */
    static const char *const bad[][2] = {
        {"\"enc:2\"", "has 2 outputs (0..1)"},
        {"\"dec:1\"", "is not a layer before it"},
        {"\"enc:x\"", "is not a layer before it"},
        {"\"nosuch:1\"", "is not a layer before it"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char j[1024];
        snprintf(j, sizeof j,
                 "{\"graph\": true, \"layers\": [{\"class\": \"InputLayer\", \"name\": \"a\", \"shape\": [4, 3]},"
                 "{\"class\": \"GRU\", \"name\": \"enc\", \"units\": 6, \"return_state\": true, \"inputs\": [\"a\"]},"
                 "{\"class\": \"Dense\", \"units\": 2, \"inputs\": [%s]}]}",
                 bad[i][0]);
        dc_clear_error();
        dc_model *mb = dc_model_from_json(j, "config");
        CHECK(mb == NULL && dc_last_status() == DC_ERR_FORMAT && strstr(dc_last_error(), bad[i][1]));
        if (!mb || !strstr(dc_last_error(), bad[i][1])) fprintf(stderr, "  %s: %s\n", bad[i][0], dc_last_error());
        dc_model_free(mb);
    }
}

static void test_bad_graphs(void) {
    dc_model *m = dc_sequential();
    int x = dc_model_input(m, "x", 2, (int64_t[]){5, 3});
    int h6 = dc_model_input(m, "h", 1, (int64_t[]){6});
    int seq = dc_model_input(m, "s", 2, (int64_t[]){5, 8});
    dc_layer *enc = dc_lstm_layer(8, false);
    dc_layer_set_return_state(enc, true);
    int e = dc_model_apply(m, enc, 1, &x);
    CHECK(e >= 0);
    int g = dc_model_apply(m, dc_gru_layer(8, true), 1, &x);
    CHECK(dc_model_num_outputs(m, g) == 1);
    /* outputs that do not exist */
    CHECK_ERR(dc_model_output_of(m, e, 3), -1, "output 3", "3 outputs (0..2)");
    CHECK_ERR(dc_model_output_of(m, g, 1), -1, "output 1", "1 output (0)");
    CHECK_ERR(dc_model_output_of(m, 99, 0), -1, "node 99");
    CHECK_ERR(dc_model_output_of(m, e, -1), -1, "output -1");
    CHECK_ERR(dc_model_num_outputs(m, -2), -1, "node -2");
    CHECK(dc_model_output_of(m, e, 0) == e);
    /* a handle made by hand that reads past a layer's outputs */
    int forged = dc_model_output_of(m, e, 2) + (dc_model_output_of(m, e, 2) - dc_model_output_of(m, e, 1));
    CHECK_ERR(dc_model_apply(m, dc_dense(2, DC_ACT_NONE), 1, &forged), -1, "reads output 3", "3 outputs");
    /* initial states: wrong width, wrong rank, too few for an LSTM, too many */
    int h = dc_model_output_of(m, e, 1), c = dc_model_output_of(m, e, 2);
    CHECK_ERR(dc_model_apply(m, dc_lstm_layer(6, false), 3, (int[]){x, h, c}), -1, "initial state h", "(None, 6)", "(None, 8)");
    CHECK_ERR(dc_model_apply(m, dc_lstm_layer(8, false), 3, (int[]){x, h, h6}), -1, "initial state c", "(None, 8)", "(None, 6)");
    CHECK_ERR(dc_model_apply(m, dc_gru_layer(8, false), 2, (int[]){x, seq}), -1, "initial state h", "(None, 5, 8)");
    CHECK_ERR(dc_model_apply(m, dc_lstm_layer(8, false), 2, (int[]){x, h}), -1, "h and c");
    CHECK_ERR(dc_model_apply(m, dc_gru_layer(8, false), 3, (int[]){x, h, h}), -1, "takes at most 2 inputs");
    CHECK_ERR(dc_model_apply(m, dc_simple_rnn_layer(8, DC_ACT_TANH, false), 3, (int[]){x, h, h}), -1, "takes at most 2 inputs");
    /* an initial state given to a layer that is not recurrent */
    CHECK_ERR(dc_model_apply(m, dc_dense(8, DC_ACT_NONE), 2, (int[]){x, h}), -1, "Dense", "takes 1 input, got 2");
    /* return_state: not on other layers, not after build */
    dc_layer *d = dc_dense(3, DC_ACT_NONE);
    CHECK_ERR(dc_layer_set_return_state(d, true), DC_ERR_ARG, "return_state");
    dc_layer_free(d);
    int ok = dc_model_apply(m, dc_gru_layer(8, false), 2, (int[]){x, h});
    CHECK(ok >= 0);
    CHECK_ERR(dc_layer_set_return_state(dc_model_layer(m, e), false), DC_ERR_STATE, "return_state");
    dc_model_free(m);
}

/* return_state in a Sequential: the model's output is output 0, as without it. */
static void test_sequential(void) {
    dc_rng r;
    dc_rng_seed(&r, 9);
    dc_tensor *x = check_randn(&r, 3, (int64_t[]){3, 4, 2});
    dc_tensor *out[2] = {NULL, NULL};
    for (int rs = 0; rs < 2; rs++) {
        dc_model *m = dc_sequential();
        dc_model_set_seed(m, 1);
        dc_model_add(m, dc_input(2, (int64_t[]){4, 2}));
        dc_layer *l = dc_lstm_layer(5, false);
        if (rs) dc_layer_set_return_state(l, true);
        dc_model_add(m, l);
        CHECK(dc_model_build(m, 0, NULL) == DC_OK);
        out[rs] = dc_model_predict(m, x, 8);
        dc_model_free(m);
    }
    CHECK(out[0] && out[1] && dc_tensor_numel(out[0]) == 15 &&
          memcmp(dc_tensor_data(out[0]), dc_tensor_data(out[1]), 15 * sizeof(float)) == 0);
    dc_tensor_free(out[0]);
    dc_tensor_free(out[1]);
    dc_tensor_free(x);
}

int main(int argc, char **argv) {
    const char *gdir = argc > 1 ? argv[1] : "tests/golden/rnn_state";
    if (!tmp_dir_create()) {
        fprintf(stderr, "cannot make a temporary directory\n");
        return 1;
    }
    int ncases = 0, failed = run_goldens(gdir, &ncases);
    check_count += ncases;
    check_fails += failed;
    test_bad_graphs();
    test_sequential();
    test_config();
    test_encoder_decoder();
    tmp_dir_remove();
    return check_report("test_rnn_state");
}
