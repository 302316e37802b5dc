/* Randomised golden checks of single deepc layers against PyTorch 1.13 (issue 19).
 *
 * scripts/golden/gen_golden_layers.py draws, from a fixed seed, random configurations of Dense,
 * Conv2D, MaxPooling2D, AveragePooling2D, UpSampling2D, BatchNormalization (training and
 * inference), LayerNormalization, Embedding, SimpleRNN, LSTM, GRU and MultiHeadAttention, and
 * writes per case (tests/golden/layers/cNNN.txt) the constructor arguments "cfg", the input x, an
 * upstream gradient g, every parameter in deepc's names and layouts, and PyTorch's float64
 * output y, input gradient dx and parameter gradients of sum(y * g).
 *
 * Each case builds a model dc_input + the layer (named "L"), copies the parameters in with
 * dc_model_param, runs dc_model_forward with grad on (training as the case says: BatchNorm has
 * both modes, the others run in training mode, which changes nothing for them), backward of
 * sum(y * g), and compares y, dx, every parameter gradient and, for BatchNorm in training, the
 * updated running mean and variance.
 *
 * Tolerance: |got - expected| <= 1e-5 + 1e-5 |expected|, what float32 arithmetic allows for
 * these small layers whose values stay within about ten. */
#include "golden_io.h"

#define TOL_ABS 1e-5
#define TOL_REL 1e-5

enum { K_DENSE, K_CONV, K_MAXPOOL, K_AVGPOOL, K_UPSAMPLE, K_BN, K_LN, K_EMB, K_RNN, K_LSTM, K_GRU, K_MHA, K_COUNT };
static const char *const kind_names[K_COUNT] = {"Dense", "Conv2D", "MaxPooling2D", "AveragePooling2D",
                                                "UpSampling2D", "BatchNormalization", "LayerNormalization",
                                                "Embedding", "SimpleRNN", "LSTM", "GRU", "MultiHeadAttention"};

/* Parameters (and BatchNorm's states) per kind in deepc's names; trainable ones have gradients. */
static const char *const param_names[K_COUNT][5] = {
    [K_DENSE] = {"weight", "bias"},
    [K_CONV] = {"weight", "bias"},
    [K_BN] = {"gamma", "beta", "running_mean", "running_var"},
    [K_LN] = {"weight", "bias"},
    [K_EMB] = {"weight"},
    [K_RNN] = {"weight_ih", "weight_hh", "bias"},
    [K_LSTM] = {"weight_ih", "weight_hh", "bias"},
    [K_GRU] = {"weight_ih", "weight_hh", "bias_ih", "bias_hh"},
    [K_MHA] = {"in_proj_weight", "in_proj_bias", "out_proj.weight", "out_proj.bias"},
};

static double worst[K_COUNT]; /* largest |got - expected| / (1e-5 + 1e-5 |expected|) per kind */
static double worst_abs[K_COUNT];
static int cases_per_kind[K_COUNT];

/* The golden name of a deepc parameter: prefix + name with '.' as '_'. */
static void golden_name(char *out, size_t n, const char *prefix, const char *pname) {
    snprintf(out, n, "%s%s", prefix, pname);
    for (char *p = out; *p; p++)
        if (*p == '.') *p = '_';
}

/* compare_tensor plus the worst error of the kind (in units of the tolerance). */
static void check(gcase *c, int kind, const char *gname, const dc_tensor *got) {
    compare_tensor(c, gname, got);
    const gt_tensor *e = gt_find(&c->gf, gname);
    if (!e || !got || dc_tensor_numel(got) != e->numel) return;
    dc_tensor *copy = dc_tensor_clone(got);
    if (!copy) return;
    const float *v = dc_tensor_data(copy);
    for (int64_t i = 0; i < e->numel; i++) {
        double d = fabs((double)v[i] - e->v[i]), r = d / tol_for(c, e->v[i]);
        if (!(r <= worst[kind])) worst[kind] = r;
        if (!(d <= worst_abs[kind])) worst_abs[kind] = d;
    }
    dc_tensor_free(copy);
}

static dc_layer *make_layer(gcase *c, int kind, const double *a, int na, int64_t in_last) {
    (void)in_last;
    dc_layer *l = NULL;
    switch (kind) {
    case K_DENSE:
        l = dc_dense((int64_t)a[0], (dc_activation)a[1]);
        break;
    case K_CONV: {
        if (na < 11) break;
        int mode = (int)a[5];
        l = dc_conv2d_layer((int64_t)a[0], (int)a[1], (int)a[2], (int)a[3], mode == 1 ? DC_PAD_SAME : DC_PAD_VALID,
                            (dc_activation)a[10]);
        if (l && a[3] != a[4] && dc_layer_set_strides(l, (int)a[3], (int)a[4]) != DC_OK) fail_dc(c, "dc_layer_set_strides");
        if (l && mode == 2) {
            int pad[4] = {(int)a[6], (int)a[7], (int)a[8], (int)a[9]};
            if (dc_layer_set_padding(l, pad) != DC_OK) fail_dc(c, "dc_layer_set_padding");
        }
        break;
    }
    case K_MAXPOOL:
        l = dc_max_pool2d_layer((int)a[0], (int)a[1], (int)a[2]);
        break;
    case K_AVGPOOL:
        l = dc_avg_pool2d_layer((int)a[0], (int)a[1], (int)a[2]);
        break;
    case K_UPSAMPLE:
        l = dc_upsample2d_layer((int)a[0], (int)a[1]);
        break;
    case K_BN:
        l = dc_batch_norm_layer((float)a[1], (float)a[2]);
        break;
    case K_LN:
        l = dc_layer_norm_layer((float)a[0]);
        break;
    case K_EMB:
        l = dc_embedding_layer((int64_t)a[0], (int64_t)a[1], false);
        break;
    case K_RNN:
        l = dc_simple_rnn_layer((int64_t)a[0], (dc_activation)a[1], a[2] != 0);
        break;
    case K_LSTM:
        l = dc_lstm_layer((int64_t)a[0], a[2] != 0);
        break;
    case K_GRU:
        l = dc_gru_layer((int64_t)a[0], a[2] != 0);
        break;
    case K_MHA:
        l = dc_multi_head_attention_layer((int)a[0], a[1] != 0, 0.0f);
        break;
    }
    if (!l) {
        fail_dc(c, "creating the layer");
        return NULL;
    }
    if (dc_layer_set_name(l, "L") != DC_OK) fail_dc(c, "dc_layer_set_name");
    return l;
}

static void run_case(gcase *c) {
    const gt_tensor *cfg = need(c, "cfg");
    if (!cfg || cfg->numel < 1) return;
    int kind = (int)cfg->v[0];
    if (kind < 0 || kind >= K_COUNT) {
        cfail(c, "cfg: unknown layer kind %d", kind);
        return;
    }
    c->route = kind_names[kind];
    cases_per_kind[kind]++;
    const double *a = cfg->v + 1;
    int na = (int)cfg->numel - 1;
    bool training = kind != K_BN || a[0] != 0;

    dc_tensor *x = load_tensor(c, "x", kind != K_EMB), *g = load_tensor(c, "g", false);
    dc_model *m = NULL;
    dc_ctx *ctx = dc_ctx_new();
    if (!x || !g || !ctx) goto done;
    if (!(m = dc_sequential())) {
        fail_dc(c, "dc_sequential");
        goto done;
    }
    dc_status st = dc_model_add(m, dc_input(dc_tensor_ndim(x) - 1, dc_tensor_shape(x) + 1));
    dc_layer *l = st ? NULL : make_layer(c, kind, a, na, dc_tensor_shape(x)[dc_tensor_ndim(x) - 1]);
    if (!l) goto done;
    if (!st) st = dc_model_add(m, l);
    if (!st) st = dc_model_build(m, 0, NULL);
    if (st) {
        fail_dc(c, "building the model");
        goto done;
    }
    for (int i = 0; i < 5 && param_names[kind][i]; i++) {
        char gn[GT_MAX_NAME], pn[64];
        golden_name(gn, sizeof gn, "p_", param_names[kind][i]);
        snprintf(pn, sizeof pn, "L.%s", param_names[kind][i]);
        dc_tensor *src = load_tensor(c, gn, false);
        bool ok = src && set_param(c, m, pn, src);
        dc_tensor_free(src);
        if (!ok) goto done;
    }
    dc_ctx_set_grad(ctx, true);
    dc_tensor *y = dc_model_forward(m, ctx, x, training);
    if (!y) {
        fail_dc(c, "dc_model_forward");
        goto done;
    }
    check(c, kind, "y", y);
    dc_tensor *prod = dc_mul(ctx, y, g), *loss = prod ? dc_sum(ctx, prod) : NULL;
    if (!loss || dc_backward(ctx, loss) != DC_OK) {
        fail_dc(c, "backward of sum(y * g)");
        goto done;
    }
    if (kind != K_EMB) check(c, kind, "dx", dc_tensor_grad(x));
    for (int i = 0; i < 5 && param_names[kind][i]; i++) {
        char gn[GT_MAX_NAME], pn[64];
        golden_name(gn, sizeof gn, "d_", param_names[kind][i]);
        if (!gt_find(&c->gf, gn)) continue; /* a state (running mean/variance): no gradient */
        snprintf(pn, sizeof pn, "L.%s", param_names[kind][i]);
        dc_tensor *p = dc_model_param(m, pn);
        check(c, kind, gn, p ? dc_tensor_grad(p) : NULL);
    }
    if (kind == K_BN && training) {
        check(c, kind, "rm_after", dc_model_param(m, "L.running_mean"));
        check(c, kind, "rv_after", dc_model_param(m, "L.running_var"));
    }
done:
    dc_ctx_free(ctx);
    dc_model_free(m);
    dc_tensor_free(x);
    dc_tensor_free(g);
}

int main(int argc, char **argv) {
    const char *dir = argc > 1 ? argv[1] : "tests/golden/layers";
    gcase idx;
    int n = 0, failed = 0;
    if (case_open(&idx, dir, "cases")) {
        const gt_tensor *t = need(&idx, "n");
        if (t && t->numel == 1 && t->v[0] >= 1 && t->v[0] <= 1000) n = (int)t->v[0];
        else cfail(&idx, "n: expected one count in 1..1000");
    }
    failed += case_close(&idx);
    for (int i = 0; i < n; i++) {
        char name[16];
        snprintf(name, sizeof name, "c%03d", i);
        gcase c;
        if (case_open(&c, dir, name)) {
            c.abs_tol = TOL_ABS;
            c.rel_tol = TOL_REL;
            run_case(&c);
        }
        failed += case_close(&c);
    }
    printf("\nworst error per layer kind (tolerance %.0e + %.0e |expected|):\n", TOL_ABS, TOL_REL);
    for (int k = 0; k < K_COUNT; k++)
        printf("  %-20s %3d cases  max |diff| %.3g  (%.3g of the tolerance)\n", kind_names[k], cases_per_kind[k],
               worst_abs[k], worst[k]);
    printf("%d of %d layer golden cases failed\n", failed, n);
    return failed ? 1 : 0;
}
