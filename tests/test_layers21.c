/* The sequence layers: Conv1D, MaxPooling1D, AveragePooling1D, GlobalMaxPooling1D, Permute,
 * Masking, TimeDistributed and Bidirectional.
 *
 * Golden cases (scripts/golden/gen_golden_layers21.py, tests/golden/layers21): seeded random
 * configurations against PyTorch 1.13's float64 outputs, input gradients and parameter
 * gradients of sum(y * g), masks given as lengths (Bidirectional against PyTorch's packed
 * sequences, Masking + a recurrent layer against the packed final state). Then: finite-difference
 * gradient checks of the new ops (conv1d, pool1d, global max, sequence reversal), the reversal's
 * order under a mask with padding anywhere, the masks through Masking, Conv1D, pooling,
 * Bidirectional and into a CTC loss, model files and configurations nesting the wrapped layers, PyTorch's
 * bidirectional state_dict names, and the errors of bad options.
 *
 * Golden tolerance: |got - expected| <= 1e-5 + 1e-5 |expected|, as the layer goldens of
 * tests/test_golden_layers.c (float32 arithmetic on values within about ten). */
#include "check.h"
#include "golden_io.h"
#include "nn/layer.h"
#include "tmpfiles.h"

#include <stdlib.h>

#define TOL_ABS 1e-5
#define TOL_REL 1e-5
#define GOLDEN_DIR "tests/golden/layers21"

enum { K_CONV1D, K_MAXPOOL1D, K_AVGPOOL1D, K_GMAXPOOL1D, K_PERMUTE, K_MASKING, K_MASKED_REC, K_TD, K_BIDI, K_COUNT };
static const char *const kind_names[K_COUNT] = {"Conv1D",  "MaxPooling1D", "AveragePooling1D", "GlobalMaxPooling1D", "Permute",
                                                "Masking", "Masking+RNN",  "TimeDistributed",  "Bidirectional"};
static double worst[K_COUNT], worst_abs[K_COUNT];
static int cases_per_kind[K_COUNT];
static dc_rng rng;

/* compare_tensor plus the worst error of the kind (in units of the tolerance). */
static void gcheck(gcase *c, int kind, const char *gname, const dc_tensor *got) {
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

static dc_layer *rec_layer(int which, int64_t units, dc_activation act, bool seq) {
    return which == 0 ? dc_simple_rnn_layer(units, act, seq) : which == 1 ? dc_lstm_layer(units, seq) : dc_gru_layer(units, seq);
}

static dc_padding pad_of(double v) { return (dc_padding)(int)v; }

/* The layer a case tests (its args a[0..na)), named "L". */
static dc_layer *make_layer(gcase *c, int kind, const double *a, int na) {
    dc_layer *l = NULL;
    switch (kind) {
    case K_CONV1D:
        l = dc_conv1d_layer((int64_t)a[0], (int)a[1], (int)a[2], pad_of(a[4]), (dc_activation)a[5]);
        if (l && (dc_layer_set_int(l, "dilation_rate", (int64_t)a[3]) || dc_layer_set_use_bias(l, a[6] != 0))) fail_dc(c, "conv1d options");
        break;
    case K_MAXPOOL1D: l = dc_max_pool1d_layer((int)a[0], (int)a[1], pad_of(a[2])); break;
    case K_AVGPOOL1D: l = dc_avg_pool1d_layer((int)a[0], (int)a[1], pad_of(a[2])); break;
    case K_GMAXPOOL1D: l = dc_global_max_pool1d_layer(); break;
    case K_PERMUTE: {
        int dims[8];
        for (int i = 0; i < na && i < 8; i++) dims[i] = (int)a[i];
        l = dc_permute_layer(na, dims);
        break;
    }
    case K_MASKING: l = dc_masking_layer((float)a[0]); break;
    case K_MASKED_REC: l = rec_layer((int)a[1], (int64_t)a[2], (dc_activation)a[3], false); break;
    case K_TD: {
        dc_layer *in = NULL;
        if (a[0] == 0) in = dc_dense((int64_t)a[1], (dc_activation)a[2]);
        else if (a[0] == 1) in = dc_conv2d_layer((int64_t)a[1], (int)a[2], (int)a[2], (int)a[3], pad_of(a[4]), (dc_activation)a[5]);
        else {
            in = dc_conv1d_layer((int64_t)a[1], (int)a[2], (int)a[3], pad_of(a[5]), (dc_activation)a[6]);
            if (in && dc_layer_set_int(in, "dilation_rate", (int64_t)a[4])) fail_dc(c, "conv1d dilation");
        }
        l = dc_time_distributed(in);
        break;
    }
    case K_BIDI: l = dc_bidirectional(rec_layer((int)a[0], (int64_t)a[1], (dc_activation)a[2], a[3] != 0), (dc_merge_mode)a[4]); break;
    }
    if (!l) {
        fail_dc(c, "creating the layer");
        return NULL;
    }
    if (dc_layer_set_name(l, "L") != DC_OK) fail_dc(c, "dc_layer_set_name");
    return l;
}

static dc_layer *find_layer(dc_model *m, const char *name) {
    for (int i = 0; i < dc_model_num_layers(m); i++)
        if (strcmp(dc_layer_name(dc_model_layer(m, i)), name) == 0) return dc_model_layer(m, i);
    return NULL;
}

/* The golden name of a deepc parameter: prefix + name with '.' as '_'. */
static void golden_name(char *out, size_t n, const char *prefix, const char *pname) {
    snprintf(out, n, "%s%s", prefix, pname);
    for (char *p = out; *p; p++)
        if (*p == '.') *p = '_';
}

static void run_case(gcase *c) {
    const gt_tensor *cfg = need(c, "cfg");
    if (!cfg || cfg->numel < 1) return;
    int kind = (int)cfg->v[0];
    if (kind < 0 || kind >= K_COUNT) {
        cfail(c, "cfg: unknown case kind %d", kind);
        return;
    }
    c->route = kind_names[kind];
    cases_per_kind[kind]++;
    dc_tensor *x = load_tensor(c, "x", true), *g = load_tensor(c, "g", false);
    uint8_t *mask = NULL;
    dc_model *m = NULL;
    dc_ctx *ctx = dc_ctx_new();
    if (!x || !g || !ctx) goto done;
    const gt_tensor *len = gt_find(&c->gf, "lengths");
    int64_t N = dc_tensor_dim(x, 0), T = dc_tensor_dim(x, 1);
    if (len) { /* each sample's first lengths[n] steps are real */
        mask = calloc((size_t)(N * T), 1);
        for (int64_t n = 0; mask && n < N && n < len->numel; n++)
            for (int64_t t = 0; t < T; t++) mask[n * T + t] = t < (int64_t)len->v[n];
    }
    m = dc_sequential();
    dc_status st = m ? dc_model_add(m, dc_input(dc_tensor_ndim(x) - 1, dc_tensor_shape(x) + 1)) : DC_ERR_NOMEM;
    if (!st && kind == K_MASKED_REC) {
        dc_layer *mk = dc_masking_layer((float)cfg->v[1]);
        st = dc_layer_set_name(mk, "M") ? DC_ERR_ARG : dc_model_add(m, mk);
    }
    dc_layer *l = st ? NULL : make_layer(c, kind, cfg->v + 1, (int)cfg->numel - 1);
    if (!l) goto done;
    if (!st) st = dc_model_add(m, l);
    if (!st) st = dc_model_build(m, 0, NULL);
    if (st) {
        fail_dc(c, "building the model");
        goto done;
    }
    for (int k = 0; k < l->nparams; k++) {
        char gn[GT_MAX_NAME], pn[96];
        golden_name(gn, sizeof gn, "p_", l->decl[k].name);
        snprintf(pn, sizeof pn, "L.%s", l->decl[k].name);
        dc_tensor *src = load_tensor(c, gn, false);
        bool ok = src && set_param(c, m, pn, src);
        dc_tensor_free(src);
        if (!ok) goto done;
    }
    dc_ctx_set_grad(ctx, true);
    dc_tensor *y = dc_model_forward_masked(m, ctx, 1, &x, mask ? (const uint8_t *const[]){mask} : NULL, true);
    if (!y) {
        fail_dc(c, "dc_model_forward_masked");
        goto done;
    }
    gcheck(c, kind, "y", y);
    dc_tensor *loss = dc_sum(ctx, dc_mul(ctx, y, g));
    if (!loss || dc_backward(ctx, loss) != DC_OK) {
        fail_dc(c, "backward of sum(y * g)");
        goto done;
    }
    gcheck(c, kind, "dx", dc_tensor_grad(x));
    for (int k = 0; k < l->nparams; k++) {
        char gn[GT_MAX_NAME], pn[96];
        golden_name(gn, sizeof gn, "d_", l->decl[k].name);
        snprintf(pn, sizeof pn, "L.%s", l->decl[k].name);
        dc_tensor *p = dc_model_param(m, pn);
        gcheck(c, kind, gn, p ? dc_tensor_grad(p) : NULL);
    }
done:
    free(mask);
    dc_ctx_free(ctx);
    dc_model_free(m);
    dc_tensor_free(x);
    dc_tensor_free(g);
}

static void test_goldens(void) {
    gcase idx;
    int n = 0, failed = 0;
    if (case_open(&idx, GOLDEN_DIR, "cases")) {
        const gt_tensor *t = need(&idx, "n");
        if (t && t->numel == 1 && t->v[0] >= 1 && t->v[0] <= 1000) n = (int)t->v[0];
        else cfail(&idx, "n: expected one count in 1..1000");
    }
    failed += case_close(&idx);
    for (int i = 0; i < n; i++) {
        char name[16];
        snprintf(name, sizeof name, "c%03d", i);
        gcase c;
        if (case_open(&c, GOLDEN_DIR, name)) {
            c.abs_tol = TOL_ABS;
            c.rel_tol = TOL_REL;
            run_case(&c);
        }
        failed += case_close(&c);
    }
    printf("\nworst error per kind (tolerance %.0e + %.0e |expected|):\n", TOL_ABS, TOL_REL);
    for (int k = 0; k < K_COUNT; k++)
        printf("  %-20s %3d cases  max |diff| %.3g  (%.3g of the tolerance)\n", kind_names[k], cases_per_kind[k], worst_abs[k], worst[k]);
    printf("%d of %d golden cases failed\n", failed, n);
    check_count += n;
    check_fails += failed;
}

/* ---- finite-difference gradient checks of the new ops ---- */

typedef dc_tensor *(*op_fn)(dc_ctx *c, dc_tensor **in, const void *arg);

static dc_tensor *rand_tensor(int nd, const int64_t *shape) { return check_randn(&rng, nd, shape); }

/* sum(f(in) * R) for a fixed R. */
static double eval_loss(dc_ctx *c, op_fn f, dc_tensor **in, const void *arg, dc_tensor *R, bool grad) {
    dc_ctx_reset(c);
    dc_ctx_set_grad(c, grad);
    dc_tensor *l = dc_sum(c, dc_mul(c, f(c, in, arg), R));
    if (!l || (grad && dc_backward(c, l))) return NAN;
    return dc_tensor_data(l)[0];
}

/* Central differences (step eps) against backward for every element of the inputs in[0..nin). */
static void gradcheck(const char *name, op_fn f, dc_tensor **in, int nin, const void *arg) {
    const float eps = 1e-2f, tol = 1e-2f;
    dc_ctx *c = dc_ctx_new();
    dc_ctx_set_grad(c, false);
    dc_tensor *y0 = f(c, in, arg);
    CHECK(y0 != NULL);
    if (!y0) {
        dc_ctx_free(c);
        return;
    }
    dc_tensor *R = rand_tensor(dc_tensor_ndim(y0), dc_tensor_shape(y0));
    for (int k = 0; k < nin; k++) {
        dc_tensor_set_requires_grad(in[k], true);
        dc_tensor_zero_grad(in[k]);
    }
    CHECK(!isnan(eval_loss(c, f, in, arg, R, true)));
    double w = 0;
    for (int k = 0; k < nin; k++) {
        float *x = dc_tensor_data(in[k]), *g = dc_tensor_data(dc_tensor_grad(in[k]));
        for (int64_t i = 0; i < dc_tensor_numel(in[k]); i++) {
            float keep = x[i];
            x[i] = keep + eps;
            double lp = eval_loss(c, f, in, arg, R, false);
            x[i] = keep - eps;
            double lm = eval_loss(c, f, in, arg, R, false);
            x[i] = keep;
            double num = (lp - lm) / (2.0 * eps), err = fabs(num - g[i]) / (1.0 + fabs(num));
            if (err > w) w = err;
        }
    }
    printf("gradcheck %-40s worst relative error %.2g\n", name, w);
    CHECK(w <= tol);
    dc_tensor_free(R);
    dc_ctx_free(c);
}

typedef struct c1_arg {
    int stride, dilation, pl, pr;
    bool bias;
} c1_arg;
static dc_tensor *f_conv1d(dc_ctx *c, dc_tensor **in, const void *arg) {
    const c1_arg *a = arg;
    return dc_conv1d(c, in[0], in[1], a->bias ? in[2] : NULL, a->stride, a->dilation, a->pl, a->pr);
}
typedef struct p1_arg {
    bool max;
    int pool, stride, pl, pr;
} p1_arg;
static dc_tensor *f_pool1d(dc_ctx *c, dc_tensor **in, const void *arg) {
    const p1_arg *a = arg;
    return (a->max ? dc_max_pool1d : dc_avg_pool1d)(c, in[0], a->pool, a->stride, a->pl, a->pr);
}
static dc_tensor *f_gmax(dc_ctx *c, dc_tensor **in, const void *arg) { return dc_global_max_pool1d(c, in[0], arg); }
/* reversal through a non-linear op after it, so the gradient's order matters */
static dc_tensor *f_reverse(dc_ctx *c, dc_tensor **in, const void *arg) {
    return dc_mul(c, dc_reverse_sequence(c, in[0], arg), in[1]);
}

/* Values 0.05 apart in random order: no two within the differences' step of each other, so a
 * maximum never changes hands inside a difference. */
static dc_tensor *spread(int nd, const int64_t *shape) {
    dc_tensor *t = dc_tensor_new(nd, shape);
    int64_t n = dc_tensor_numel(t);
    float *d = dc_tensor_data(t);
    for (int64_t i = 0; i < n; i++) d[i] = 0.05f * (float)(i - n / 2);
    for (int64_t i = n - 1; i > 0; i--) { /* Fisher-Yates */
        int64_t j = (int64_t)(dc_rng_uniform(&rng) * (float)(i + 1)) % (i + 1);
        float v = d[i];
        d[i] = d[j], d[j] = v;
    }
    return t;
}

static void test_gradchecks(void) {
    static const c1_arg convs[] = {{1, 1, 0, 0, true}, {2, 1, 1, 2, true}, {1, 2, 2, 0, false}, {3, 2, 1, 1, true}, {1, 1, 0, 0, false}};
    static const int kernels[] = {3, 2, 3, 2, 1};
    for (size_t i = 0; i < DC_ARRAY_LEN(convs); i++) {
        int64_t k = kernels[i];
        dc_tensor *in[3] = {rand_tensor(3, (int64_t[]){2, 7, 3}), rand_tensor(3, (int64_t[]){4, 3, k}), rand_tensor(1, (int64_t[]){4})};
        char name[96];
        snprintf(name, sizeof name, "conv1d k%lld s%d d%d pad (%d, %d)%s", (long long)k, convs[i].stride, convs[i].dilation,
                 convs[i].pl, convs[i].pr, convs[i].bias ? "" : " no bias");
        gradcheck(name, f_conv1d, in, convs[i].bias ? 3 : 2, &convs[i]);
        for (int j = 0; j < 3; j++) dc_tensor_free(in[j]);
    }
    static const p1_arg pools[] = {{true, 3, 2, 1, 1}, {false, 3, 2, 1, 1}, {true, 2, 1, 0, 0}, {false, 4, 3, 1, 2}};
    for (size_t i = 0; i < DC_ARRAY_LEN(pools); i++) {
        dc_tensor *x = spread(3, (int64_t[]){2, 7, 3});
        char name[96];
        snprintf(name, sizeof name, "%s pool %d stride %d pad (%d, %d)", pools[i].max ? "max_pool1d" : "avg_pool1d", pools[i].pool,
                 pools[i].stride, pools[i].pl, pools[i].pr);
        gradcheck(name, f_pool1d, &x, 1, &pools[i]);
        dc_tensor_free(x);
    }
    static const uint8_t mask[2 * 5] = {1, 1, 1, 0, 0, 1, 0, 1, 1, 0};
    dc_tensor *x = spread(3, (int64_t[]){2, 5, 3});
    gradcheck("global_max_pool1d masked", f_gmax, &x, 1, mask);
    dc_tensor *in[2] = {x, rand_tensor(3, (int64_t[]){2, 5, 3})};
    gradcheck("reverse_sequence masked (padding inside)", f_reverse, in, 2, mask);
    gradcheck("reverse_sequence unmasked", f_reverse, in, 2, NULL);
    dc_tensor_free(x);
    dc_tensor_free(in[1]);
}

/* The reversal's order: real steps reversed among themselves, padded ones where they are. */
static void test_reverse_order(void) {
    dc_ctx *c = dc_ctx_new();
    float v[2 * 5];
    for (int i = 0; i < 10; i++) v[i] = (float)i;
    dc_tensor *x = dc_tensor_from(3, (int64_t[]){2, 5, 1}, v);
    static const uint8_t mask[10] = {1, 1, 1, 0, 0, 1, 0, 1, 1, 0};
    dc_tensor *y = dc_reverse_sequence(c, x, mask), *z = dc_reverse_sequence(c, y, mask);
    static const float want[10] = {2, 1, 0, 3, 4, 8, 6, 7, 5, 9};
    CHECK(y && memcmp(dc_tensor_data(y), want, sizeof want) == 0);
    CHECK(z && memcmp(dc_tensor_data(z), v, sizeof v) == 0); /* its own inverse */
    dc_tensor *u = dc_reverse_sequence(c, x, NULL);
    CHECK(u && dc_tensor_data(u)[0] == 4 && dc_tensor_data(u)[4] == 0 && dc_tensor_data(u)[5] == 9);
    dc_tensor *flat = dc_tensor_from(1, (int64_t[]){3}, v);
    CHECK_NULL_ERR(dc_reverse_sequence(c, flat, NULL), "reverse_sequence", "[N, T, ...]");
    dc_tensor_free(flat);
    dc_tensor_free(x);
    dc_ctx_free(c);
}

/* ---- masks ---- */

/* x [N, T, F] whose sample n has its steps from len[n] on set to value. */
static dc_tensor *padded(int64_t N, int64_t T, int64_t F, const int *len, float value) {
    dc_tensor *x = rand_tensor(3, (int64_t[]){N, T, F});
    for (int64_t n = 0; n < N; n++)
        for (int64_t t = len[n]; t < T; t++)
            for (int64_t f = 0; f < F; f++) dc_tensor_data(x)[(n * T + t) * F + f] = value;
    return x;
}

static dc_model *seq_model(int64_t T, int64_t F, dc_layer *const *ls, int n) {
    dc_model *m = dc_sequential();
    dc_model_add(m, dc_input(2, (int64_t[]){T, F}));
    for (int i = 0; i < n; i++) dc_model_add(m, ls[i]);
    dc_model_set_seed(m, 7);
    CHECK(dc_model_build(m, 0, NULL) == DC_OK);
    return m;
}

/* Masking, then a layer that consumes the mask: each sample must give what the same layer gives
 * its real steps alone (a batch of one, no padding at all). */
static void mask_consumer(const char *what, dc_layer *(*make)(void)) {
    const int64_t N = 3, T = 7, F = 4;
    const int len[3] = {7, 3, 5};
    dc_tensor *x = padded(N, T, F, len, -1.0f);
    dc_model *m = seq_model(T, F, (dc_layer *[]){dc_masking_layer(-1.0f), make()}, 2);
    dc_tensor *y = dc_model_predict(m, x, 8);
    double worst_d = 0;
    for (int64_t n = 0; y && n < N; n++) {
        dc_model *one = seq_model(len[n], F, (dc_layer *[]){make()}, 1);
        int64_t W = dc_tensor_numel(y) / N;
        dc_tensor *xn = dc_tensor_from(3, (int64_t[]){1, len[n], F}, dc_tensor_data(x) + n * T * F);
        dc_tensor *yn = dc_model_predict(one, xn, 8);
        CHECK(yn && dc_tensor_numel(yn) == W);
        for (int64_t i = 0; yn && i < W; i++) worst_d = fmax(worst_d, fabs(dc_tensor_data(yn)[i] - dc_tensor_data(y)[n * W + i]));
        dc_tensor_free(xn);
        dc_tensor_free(yn);
        dc_model_free(one);
    }
    printf("mask: Masking + %-42s largest difference from the unpadded samples %.2g\n", what, worst_d);
    CHECK(y && worst_d <= 1e-5);
    dc_tensor_free(y);
    dc_tensor_free(x);
    dc_model_free(m);
}
static dc_layer *mk_gap(void) { return dc_global_avg_pool1d_layer(); }
static dc_layer *mk_gmax(void) { return dc_global_max_pool1d_layer(); }
static dc_layer *mk_bigru(void) { return dc_bidirectional(dc_gru_layer(3, false), DC_MERGE_CONCAT); }
static dc_layer *mk_bilstm_sum(void) { return dc_bidirectional(dc_lstm_layer(3, false), DC_MERGE_SUM); }
static dc_layer *mk_rnn(void) { return dc_simple_rnn_layer(3, DC_ACT_TANH, false); }

static void test_masks(void) {
    mask_consumer("GlobalAveragePooling1D", mk_gap);
    mask_consumer("GlobalMaxPooling1D", mk_gmax);
    mask_consumer("SimpleRNN", mk_rnn);
    mask_consumer("Bidirectional(GRU), concat", mk_bigru);
    mask_consumer("Bidirectional(LSTM), sum", mk_bilstm_sum);

    /* Conv1D (same, stride 2) and MaxPooling1D (valid, 2) then GlobalAveragePooling1D: the mean of
     * the first ceil(L / 2), respectively (L - 2) / 2 + 1, output steps of the unmasked layer */
    const int64_t N = 3, T = 9, F = 2;
    const int len[3] = {9, 4, 5};
    for (int which = 0; which < 3; which++) {
        dc_tensor *x = padded(N, T, F, len, 0.0f);
        dc_layer *a = which == 0 ? dc_conv1d_layer(3, 3, 2, DC_PAD_SAME, DC_ACT_NONE)
                      : which == 1 ? dc_max_pool1d_layer(2, 0, DC_PAD_VALID)
                                   : dc_conv1d_layer(2, 2, 1, DC_PAD_CAUSAL, DC_ACT_NONE);
        dc_layer *b = which == 0 ? dc_conv1d_layer(3, 3, 2, DC_PAD_SAME, DC_ACT_NONE)
                      : which == 1 ? dc_max_pool1d_layer(2, 0, DC_PAD_VALID)
                                   : dc_conv1d_layer(2, 2, 1, DC_PAD_CAUSAL, DC_ACT_NONE);
        dc_layer_set_name(a, "w");
        dc_layer_set_name(b, "w");
        dc_model *masked = seq_model(T, F, (dc_layer *[]){dc_masking_layer(0), a, dc_global_avg_pool1d_layer()}, 3);
        dc_model *plain = seq_model(T, F, (dc_layer *[]){b}, 1); /* the same seed: the same weights */
        dc_tensor *ym = dc_model_predict(masked, x, 8), *yp = dc_model_predict(plain, x, 8);
        int64_t To = dc_tensor_dim(yp, 1), C = dc_tensor_dim(yp, 2);
        double d = 0;
        for (int64_t n = 0; ym && yp && n < N; n++) {
            int64_t real = which == 0 ? (len[n] + 1) / 2 : which == 1 ? (len[n] - 2) / 2 + 1 : len[n];
            for (int64_t ch = 0; ch < C; ch++) {
                double s = 0;
                for (int64_t t = 0; t < real; t++) s += dc_tensor_data(yp)[(n * To + t) * C + ch];
                d = fmax(d, fabs(s / (double)real - dc_tensor_data(ym)[n * C + ch]));
            }
        }
        printf("mask through %-28s: pooled over the real output steps, difference %.2g\n",
               which == 0 ? "Conv1D(same, strides 2)" : which == 1 ? "MaxPooling1D(2)" : "Conv1D(causal)", d);
        CHECK(ym && yp && d <= 1e-5);
        dc_tensor_free(ym);
        dc_tensor_free(yp);
        dc_tensor_free(x);
        dc_model_free(masked);
        dc_model_free(plain);
    }
}

/* Masking -> Conv1D(same) -> Bidirectional(GRU) -> TimeDistributed(Dense(log_softmax)) under the
 * CTC loss: the loss of a padded batch is the mean of each sample's loss on its real steps
 * alone, the mask's count per sample being the loss's input length. */
static dc_model *ctc_net(int64_t T, int64_t F) {
    dc_model *m = seq_model(T, F,
                            (dc_layer *[]){dc_masking_layer(0), dc_conv1d_layer(6, 3, 1, DC_PAD_SAME, DC_ACT_RELU),
                                           dc_bidirectional(dc_gru_layer(5, true), DC_MERGE_CONCAT),
                                           dc_time_distributed(dc_dense(5, DC_ACT_LOG_SOFTMAX))},
                            4);
    CHECK(dc_model_compile(m, dc_sgd(0.1f, 0, false), DC_LOSS_CTC, NULL, 0) == DC_OK);
    return m;
}

static void test_ctc_mask(void) {
    const int64_t N = 3, T = 10, F = 4, S = 3;
    const int len[3] = {10, 6, 8};
    float lab[9] = {1, 2, 2, 3, 4, -1, 1, 1, 4};
    dc_tensor *x = padded(N, T, F, len, 0.0f), *y = dc_tensor_from(2, (int64_t[]){N, S}, lab);
    dc_model *m = ctc_net(T, F);
    double batch[2] = {0, 0}, sum = 0;
    CHECK(dc_model_evaluate(m, x, y, 8, batch) == DC_OK);
    for (int64_t n = 0; n < N; n++) {
        dc_model *one = ctc_net(len[n], F); /* the same seed, the same weights */
        dc_tensor *xn = dc_tensor_from(3, (int64_t[]){1, len[n], F}, dc_tensor_data(x) + n * T * F);
        dc_tensor *yn = dc_tensor_from(2, (int64_t[]){1, S}, lab + n * S);
        double r[2] = {0, 0};
        CHECK(dc_model_evaluate(one, xn, yn, 8, r) == DC_OK);
        sum += r[0];
        dc_tensor_free(xn);
        dc_tensor_free(yn);
        dc_model_free(one);
    }
    printf("mask: CTC loss of the padded batch %.6f, mean over the samples alone %.6f\n", batch[0], sum / (double)N);
    CHECK(fabs(batch[0] - sum / (double)N) <= 1e-5 * (1 + fabs(batch[0])));
    dc_tensor_free(x);
    dc_tensor_free(y);
    dc_model_free(m);
}

/* ---- model files and configurations ---- */

static char *arch_of(const char *path) {
    dc_safetensors *st = dc_safetensors_open(path);
    const char *j = st ? dc_safetensors_meta(st, "deepc.model") : NULL;
    char *copy = j ? strdup(j) : NULL;
    dc_safetensors_close(st);
    return copy;
}

static void test_files(void) {
    /* a CRNN's layers in a row: masking, convolution, per-step dense, two bidirectional layers */
    const int64_t T = 12, F = 5;
    dc_layer *bl = dc_lstm_layer(4, false);
    dc_layer_set_float(bl, "forget_bias", 0.5f);
    dc_layer *ls[] = {dc_masking_layer(0),
                      dc_conv1d_layer(6, 3, 2, DC_PAD_SAME, DC_ACT_RELU),
                      dc_time_distributed(dc_dense(5, DC_ACT_TANH)),
                      dc_permute_layer(2, (const int[]){1, 2}),
                      dc_bidirectional(dc_gru_layer(4, true), DC_MERGE_CONCAT),
                      dc_bidirectional(bl, DC_MERGE_AVE),
                      dc_dense(3, DC_ACT_NONE)};
    dc_model *a = seq_model(T, F, ls, (int)DC_ARRAY_LEN(ls));
    dc_layer *bid = find_layer(a, "bidirectional");
    CHECK(bid && dc_model_param(a, "bidirectional.forward.weight_ih") && dc_model_param(a, "bidirectional.backward.bias_hh") &&
          dc_model_param(a, "time_distributed.weight") && dc_model_param(a, "bidirectional_1.backward.bias"));
    /* the LSTM's forget bias reaches both directions */
    dc_tensor *fb = dc_model_param(a, "bidirectional_1.backward.bias");
    CHECK(fb && dc_tensor_data(fb)[4] == 0.5f && dc_tensor_data(fb)[3] == 0.0f);
    char p1[300], p2[300];
    snprintf(p1, sizeof p1, "%s/crnn_1.safetensors", dir);
    snprintf(p2, sizeof p2, "%s/crnn_2.safetensors", dir);
    CHECK(dc_model_save(a, p1) == DC_OK);
    dc_model *b = dc_model_load(p1);
    CHECK(b && dc_model_save(b, p2) == DC_OK);
    char *j1 = arch_of(p1), *j2 = arch_of(p2);
    CHECK(j1 && j2 && strcmp(j1, j2) == 0);
    CHECK(j1 && strstr(j1, "\"class\":\"Bidirectional\"") &&
          strstr(j1, "\"layer\":{\"class\":\"GRU\",\"units\":4,\"return_sequences\":true") && strstr(j1, "\"merge_mode\":\"ave\"") &&
          strstr(j1, "\"layer\":{\"class\":\"Dense\",\"units\":5"));
    const int len[4] = {12, 5, 9, 1};
    dc_tensor *x = padded(4, T, F, len, 0.0f);
    dc_tensor *ya = dc_model_predict(a, x, 8), *yb = b ? dc_model_predict(b, x, 8) : NULL;
    CHECK(ya && yb && memcmp(dc_tensor_data(ya), dc_tensor_data(yb), (size_t)dc_tensor_numel(ya) * sizeof(float)) == 0);
    printf("CRNN layers: saved, loaded and saved again: same architecture, same predictions\n");
    free(j2);

    /* the same text as a configuration builds the same architecture */
    dc_model *cfgm = dc_model_from_json(
        "{\"input_shape\": [12, 5], \"layers\": ["
        "{\"class\": \"Masking\"}, {\"class\": \"Conv1D\", \"filters\": 6, \"kernel_size\": 3, \"strides\": 2, \"padding\": \"same\"},"
        "{\"class\": \"TimeDistributed\", \"layer\": {\"class\": \"Dense\", \"units\": 5}},"
        "{\"class\": \"Bidirectional\", \"layer\": {\"class\": \"GRU\", \"units\": 4, \"return_sequences\": true}, \"merge_mode\": \"concat\"},"
        "{\"class\": \"GlobalMaxPooling1D\"}]}",
        "crnn config");
    CHECK(cfgm != NULL);
    int64_t sh[DC_MAX_DIMS];
    CHECK(cfgm && dc_layer_output_shape(dc_model_layer(cfgm, dc_model_num_layers(cfgm) - 2), sh) == 2 && sh[0] == 6 && sh[1] == 8);
    dc_model_free(cfgm);

    /* nesting errors, named as the file's other errors are */
    CHECK_NULL_ERR(dc_model_from_json("{\"input_shape\": [4, 3], \"layers\": [{\"class\": \"Bidirectional\", "
                                      "\"layer\": {\"class\": \"Dense\", \"units\": 2}}]}",
                                      "cfg"),
                   "cfg: layer 0 (Bidirectional)", "SimpleRNN, LSTM or GRU", "not Dense");
    CHECK_NULL_ERR(dc_model_from_json("{\"input_shape\": [4, 3], \"layers\": [{\"class\": \"TimeDistributed\"}]}", "cfg"),
                   "layer 0 (TimeDistributed)", "\"layer\" is missing");
    CHECK_NULL_ERR(dc_model_from_json("{\"input_shape\": [4, 3], \"layers\": [{\"class\": \"TimeDistributed\", \"layer\": 3}]}", "cfg"),
                   "\"layer\" must be an object");
    CHECK_NULL_ERR(dc_model_from_json("{\"input_shape\": [4, 3], \"layers\": [{\"class\": \"TimeDistributed\", "
                                      "\"layer\": {\"class\": \"Dense\", \"units\": 2, \"name\": \"d\"}}]}",
                                      "cfg"),
                   "layer 0 (TimeDistributed).layer", "\"name\"", "not allowed");
    CHECK_NULL_ERR(dc_model_from_json("{\"input_shape\": [4, 3], \"layers\": [{\"class\": \"TimeDistributed\", "
                                      "\"layer\": {\"class\": \"Dense\", \"units\": 0}}]}",
                                      "cfg"),
                   "layer 0 (TimeDistributed).layer", "\"units\"");
    CHECK_NULL_ERR(dc_model_from_json("{\"input_shape\": [4, 3], \"layers\": [{\"class\": \"Dense\", \"units\": 2, "
                                      "\"layer\": {\"class\": \"Dense\", \"units\": 2}}]}",
                                      "cfg"),
                   "unknown option \"layer\"");
    CHECK_NULL_ERR(dc_model_from_json("{\"input_shape\": [4, 3], \"layers\": [{\"class\": \"TimeDistributed\", "
                                      "\"layer\": {\"class\": \"Nope\"}}]}",
                                      "cfg"),
                   "layer 0 (TimeDistributed).layer", "unknown layer class \"Nope\"");
    free(j1);
    dc_tensor_free(x);
    dc_tensor_free(ya);
    dc_tensor_free(yb);
    dc_model_free(a);
    dc_model_free(b);
}

/* PyTorch's bidirectional nn.LSTM state_dict (every bias non-zero) loads by its own names. */
static void test_pytorch_names(void) {
    dc_model *m = dc_sequential();
    dc_model_add(m, dc_input(2, (int64_t[]){5, 3}));
    dc_layer *l = dc_bidirectional(dc_lstm_layer(4, true), DC_MERGE_CONCAT);
    dc_layer_set_name(l, "rnn");
    dc_model_add(m, l);
    CHECK(dc_model_build(m, 0, NULL) == DC_OK);
    dc_weights_opts o = {.pytorch_names = true};
    dc_weights_report r = {0};
    CHECK(dc_model_load_weights_by_name(m, GOLDEN_DIR "/bilstm_state.safetensors", &o, &r) == DC_OK);
    CHECK(r.nloaded == 6 && r.nmissing == 0 && r.nskipped == 0);
    dc_weights_report_free(&r);
    dc_safetensors *st = dc_safetensors_open(GOLDEN_DIR "/bilstm_io.safetensors");
    dc_tensor *x = st ? dc_safetensors_read(st, "x") : NULL, *want = st ? dc_safetensors_read(st, "y") : NULL;
    dc_safetensors_close(st);
    dc_tensor *y = x ? dc_model_predict(m, x, 8) : NULL;
    double d = 0;
    for (int64_t i = 0; y && want && i < dc_tensor_numel(want); i++) d = fmax(d, fabs(dc_tensor_data(y)[i] - dc_tensor_data(want)[i]));
    printf("PyTorch bidirectional LSTM state_dict by its names: largest output difference %.2g\n", d);
    CHECK(y && want && dc_tensor_numel(y) == dc_tensor_numel(want) && d <= 1e-5);
    dc_tensor_free(y);
    dc_tensor_free(x);
    dc_tensor_free(want);
    dc_model_free(m);
}

/* ---- bad options and states ---- */

static void test_errors(void) {
    CHECK_NULL_ERR(dc_bidirectional(dc_dense(3, DC_ACT_NONE), DC_MERGE_CONCAT), "Bidirectional", "SimpleRNN, LSTM or GRU", "not Dense");
    dc_layer *d = dc_dense(3, DC_ACT_NONE);
    dc_layer_set_name(d, "proj");
    CHECK_NULL_ERR(dc_bidirectional(d, DC_MERGE_SUM), "not Dense (proj)");
    CHECK_NULL_ERR(dc_bidirectional(dc_gru_layer(3, false), (dc_merge_mode)7), "merge mode 7");
    dc_clear_error();
    CHECK_NULL_ERR(dc_time_distributed(NULL), "time_distributed", "NULL");
    CHECK_NULL_ERR(dc_time_distributed(dc_input(1, (int64_t[]){3})), "cannot wrap an InputLayer");
    dc_layer *rs = dc_gru_layer(3, true);
    if (dc_layer_set_bool(rs, "return_state", true) == DC_OK) /* when the recurrent layers have it */
        CHECK_NULL_ERR(dc_bidirectional(rs, DC_MERGE_CONCAT), "return_state");
    else
        dc_layer_free(rs);
    dc_layer *td = dc_layer_create(dc_layer_type_find("TimeDistributed"));
    CHECK_ERR(dc_layer_check(td), DC_ERR_ARG, "wraps no layer");
    dc_layer *plain = dc_dense(2, DC_ACT_NONE);
    CHECK_ERR(dc_layer_wrap(plain, dc_dense(2, DC_ACT_NONE)), DC_ERR_ARG, "Dense wraps no other layer");
    dc_layer_free(plain);
    dc_layer_free(td);

    /* shapes at build */
    dc_model *m = dc_sequential();
    dc_model_add(m, dc_input(2, (int64_t[]){4, 3}));
    dc_layer *dil = dc_conv1d_layer(2, 3, 1, DC_PAD_VALID, DC_ACT_NONE);
    CHECK(dc_layer_set_int(dil, "dilation_rate", 2) == DC_OK);
    CHECK_ERR(dc_model_add(m, dil), DC_ERR_SHAPE, "kernel spans 5 steps", "4 steps");
    dc_model_free(m);
    m = dc_sequential();
    dc_model_add(m, dc_input(1, (int64_t[]){4}));
    CHECK_ERR(dc_model_add(m, dc_conv1d_layer(2, 3, 1, DC_PAD_SAME, DC_ACT_NONE)), DC_ERR_SHAPE, "expected sequences (None, T, channels)",
              "(None, 4)");
    dc_model_free(m);
    m = dc_sequential();
    dc_model_add(m, dc_input(1, (int64_t[]){4}));
    CHECK_ERR(dc_model_add(m, dc_time_distributed(dc_dense(2, DC_ACT_NONE))), DC_ERR_SHAPE, "expected steps (None, T, ...)", "(None, 4)");
    dc_model_free(m);
    m = dc_sequential();
    dc_model_add(m, dc_input(2, (int64_t[]){4, 3}));
    CHECK_ERR(dc_model_add(m, dc_permute_layer(3, (const int[]){3, 1, 2})), DC_ERR_SHAPE, "orders 3 axes", "has 2");
    dc_model_free(m);
    m = dc_sequential();
    dc_model_add(m, dc_input(2, (int64_t[]){4, 3}));
    CHECK_ERR(dc_model_add(m, dc_time_distributed(dc_conv2d_layer(2, 3, 3, 1, DC_PAD_VALID, DC_ACT_NONE))), DC_ERR_SHAPE, "images");
    dc_model_free(m);

    /* options */
    CHECK_NULL_ERR(dc_permute_layer(2, (const int[]){1, 1}), "permute", "not a permutation", "1..2");
    CHECK_NULL_ERR(dc_permute_layer(2, (const int[]){1, 3}), "\"dims\"");
    CHECK_NULL_ERR(dc_conv1d_layer(2, 0, 1, DC_PAD_VALID, DC_ACT_NONE), "\"kernel_size\"", "got 0");
    CHECK_NULL_ERR(dc_conv1d_layer(2, 3, 1, (dc_padding)5, DC_ACT_NONE), "unknown padding 5");
    CHECK_NULL_ERR(dc_max_pool1d_layer(2, 0, DC_PAD_CAUSAL), "unknown padding 2", "valid or same");
    dc_layer *c = dc_conv1d_layer(2, 3, 1, DC_PAD_VALID, DC_ACT_NONE);
    CHECK_ERR(dc_layer_set_int(c, "dilation_rate", 0), DC_ERR_ARG, "Conv1D", "\"dilation_rate\"", "got 0");
    CHECK_ERR(dc_layer_set_int(c, "padding", 3), DC_ERR_ARG, "\"padding\"", "\"causal\"");
    dc_layer_free(c);
    dc_layer *mk = dc_masking_layer(0);
    CHECK_ERR(dc_layer_set_float(mk, "mask_value", NAN), DC_ERR_ARG, "\"mask_value\"");
    dc_layer_free(mk);
    /* a built wrapper keeps its layer */
    m = dc_sequential();
    dc_model_add(m, dc_input(2, (int64_t[]){4, 3}));
    dc_layer *bi = dc_bidirectional(dc_gru_layer(2, false), DC_MERGE_CONCAT);
    dc_model_add(m, bi);
    CHECK_ERR(dc_layer_wrap(bi, dc_gru_layer(3, false)), DC_ERR_STATE, "built");
    CHECK_ERR(dc_layer_set_int(bi, "merge_mode", DC_MERGE_SUM), DC_ERR_STATE, "\"merge_mode\"", "built");
    dc_model_free(m);

    /* op arguments */
    dc_ctx *ctx = dc_ctx_new();
    dc_tensor *x = rand_tensor(3, (int64_t[]){2, 5, 3}), *w = rand_tensor(3, (int64_t[]){4, 2, 3});
    CHECK_NULL_ERR(dc_conv1d(ctx, x, w, NULL, 1, 1, 0, 0), "conv1d", "C = 3");
    dc_tensor *w3 = rand_tensor(3, (int64_t[]){4, 3, 3});
    CHECK_NULL_ERR(dc_conv1d(ctx, x, w3, NULL, 0, 1, 0, 0), "conv1d", "stride 0");
    CHECK_NULL_ERR(dc_conv1d(ctx, x, w3, NULL, 1, 3, 0, 0), "spans 7 steps", "5 padded steps");
    CHECK_NULL_ERR(dc_max_pool1d(ctx, x, 2, 1, 2, 0), "max_pool1d", "no step");
    CHECK_NULL_ERR(dc_avg_pool1d(ctx, x, 9, 1, 0, 0), "avg_pool1d", "longer than the 5 padded steps");
    dc_tensor_free(x);
    dc_tensor_free(w);
    dc_tensor_free(w3);
    dc_ctx_free(ctx);
}

/* A CRNN trains: TimeDistributed(Dense(softmax)) after a bidirectional GRU over Conv1D features,
 * sparse cross-entropy per step (fused with the softmax through the wrapper). */
static void test_training(void) {
    const int64_t N = 64, T = 8, F = 3, K = 3;
    dc_tensor *x = rand_tensor(3, (int64_t[]){N, T, F}), *y = dc_tensor_new(2, (int64_t[]){N, T});
    for (int64_t i = 0; i < N * T; i++) { /* the class of the sign pattern of a step's first two features */
        const float *s = dc_tensor_data(x) + i * F;
        dc_tensor_data(y)[i] = (float)((s[0] > 0) + (s[1] > 0));
    }
    dc_model *m = seq_model(T, F,
                            (dc_layer *[]){dc_conv1d_layer(8, 1, 1, DC_PAD_SAME, DC_ACT_RELU),
                                           dc_bidirectional(dc_gru_layer(8, true), DC_MERGE_CONCAT),
                                           dc_time_distributed(dc_dense(K, DC_ACT_SOFTMAX))},
                            3);
    CHECK(dc_model_compile(m, dc_adam(0.02f, 0.9f, 0.999f, 1e-7f), DC_LOSS_SPARSE_CCE, (dc_metric[]){DC_METRIC_ACCURACY}, 1) == DC_OK);
    dc_fit_opts o = dc_fit_defaults();
    o.verbose = 0;
    o.epochs = 30;
    o.batch_size = 16;
    dc_history *h = NULL;
    CHECK(dc_model_fit(m, x, y, &o, &h) == DC_OK);
    double first = 0, last = 0;
    const double *loss = h ? dc_history_get(h, "loss") : NULL;
    if (loss) {
        first = loss[0];
        last = loss[dc_history_epochs(h) - 1];
    }
    printf("CRNN fit: loss %.3f -> %.3f over 30 epochs\n", first, last);
    CHECK(h && last < 0.5 * first);
    dc_history_free(h);
    dc_tensor_free(x);
    dc_tensor_free(y);
    dc_model_free(m);
}

int main(void) {
    if (!tmp_dir_create()) return puts("cannot make a temporary directory"), 1;
    dc_rng_seed(&rng, 21);
    test_goldens();
    test_gradchecks();
    test_reverse_order();
    test_masks();
    test_ctc_mask();
    test_files();
    test_pytorch_names();
    test_errors();
    test_training();
    tmp_dir_remove();
    return check_report("test_layers21");
}
