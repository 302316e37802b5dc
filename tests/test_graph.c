/* Graph (functional) models: several inputs, merge layers, two-input Transformer layers; a
 * graph wired like a Sequential trains bit-identically to it; fit/evaluate/predict over
 * several input tensors; save/load of the wiring; and the errors of wrong wiring and data. */
#include "check.h"
#include "tmpfiles.h"

#include <math.h>

static dc_rng rng;

static dc_tensor *randn(int ndim, const int64_t *shape) { return check_randn(&rng, ndim, shape); }

/* The call must return -1 with a message containing each of the given words. */
#define CHECK_ID_ERR(call, ...)                                                            \
    do {                                                                                   \
        dc_clear_error();                                                                  \
        int _id = (call);                                                                  \
        check_count++;                                                                     \
        const char *_w[] = {__VA_ARGS__};                                                  \
        int _ok = _id == -1 && dc_last_error()[0];                                         \
        for (size_t _i = 0; _ok && _i < sizeof _w / sizeof _w[0]; _i++)                   \
            _ok = strstr(dc_last_error(), _w[_i]) != NULL;                                 \
        if (!_ok) {                                                                        \
            check_fails++;                                                                 \
            fprintf(stderr, "%s:%d: %s: expected -1 and an error, got %d: \"%s\"\n", __FILE__, __LINE__, #call, _id, \
                    dc_last_error());                                                      \
        }                                                                                  \
    } while (0)

static bool same_data(const dc_tensor *a, const dc_tensor *b) {
    return a && b && dc_tensor_numel(a) == dc_tensor_numel(b) &&
           memcmp(dc_tensor_data((dc_tensor *)a), dc_tensor_data((dc_tensor *)b), (size_t)dc_tensor_numel(a) * sizeof(float)) == 0;
}

/* y = sum(a) - 2 sum(b): a regression only both inputs together can solve. */
static dc_model *two_branch(void) {
    dc_model *m = dc_sequential();
    int a = dc_model_input(m, "a", 1, (int64_t[]){4});
    int b = dc_model_input(m, "b", 1, (int64_t[]){3});
    int ha = dc_model_apply(m, dc_dense(16, DC_ACT_TANH), 1, &a);
    int hb = dc_model_apply(m, dc_dense(16, DC_ACT_TANH), 1, &b);
    int cat = dc_model_apply(m, dc_concatenate_layer(), 2, (int[]){ha, hb});
    CHECK(a == 0 && b == 1 && ha == 2 && hb == 3 && cat == 4);
    CHECK(dc_model_apply(m, dc_dense(1, DC_ACT_NONE), 1, &cat) == 5);
    CHECK(dc_model_num_inputs(m) == 2);
    return m;
}

static void test_two_inputs(void) {
    int64_t N = 512;
    dc_tensor *xa = randn(2, (int64_t[]){N, 4}), *xb = randn(2, (int64_t[]){N, 3}), *y = dc_tensor_new(1, (int64_t[]){N});
    for (int64_t i = 0; i < N; i++) {
        float s = 0;
        for (int j = 0; j < 4; j++) s += dc_tensor_data(xa)[i * 4 + j];
        for (int j = 0; j < 3; j++) s -= 2 * dc_tensor_data(xb)[i * 3 + j];
        dc_tensor_data(y)[i] = s / 4;
    }
    dc_model *m = two_branch();
    CHECK(dc_model_compile(m, dc_adam(0.01f, 0.9f, 0.999f, 1e-7f), DC_LOSS_MSE, (dc_metric[]){DC_METRIC_MAE}, 1) == DC_OK);
    const dc_tensor *x[2] = {xa, xb};
    double before[2], after[2];
    CHECK(dc_model_evaluate_n(m, 2, x, y, 64, before) == DC_OK);
    dc_fit_opts o = dc_fit_defaults();
    o.epochs = 30;
    o.verbose = 0;
    o.validation_split = 0.25f;
    dc_history *h = NULL;
    CHECK(dc_model_fit_n(m, 2, x, y, &o, &h) == DC_OK);
    CHECK(dc_model_evaluate_n(m, 2, x, y, 64, after) == DC_OK);
    printf("two-input regression: mse %.4f -> %.4f\n", before[0], after[0]);
    CHECK(after[0] < 0.05 * before[0]);
    const double *vl = dc_history_get(h, "val_loss");
    CHECK(vl && vl[29] < vl[0]);
    dc_history_free(h);
    /* validation tensors per input */
    o.validation_split = 0;
    o.epochs = 1;
    o.initial_epoch = 0; /* one epoch over again (fit otherwise goes on after the 30 done) */
    o.val_xs = x;
    o.val_y = y;
    CHECK(dc_model_fit_n(m, 2, x, y, &o, NULL) == DC_OK);
    float loss;
    CHECK(dc_model_train_step_n(m, 2, x, y, &loss) == DC_OK && isfinite(loss));
    dc_tensor *p = dc_model_predict_n(m, 2, x, 100);
    CHECK(p && dc_tensor_ndim(p) == 2 && dc_tensor_dim(p, 0) == N && dc_tensor_dim(p, 1) == 1);

    /* data errors: tensor count, rows, shapes, NULLs */
    double r[2];
    CHECK_ERR(dc_model_evaluate_n(m, 1, x, y, 64, r), DC_ERR_ARG, "2 inputs", "1 tensor was");
    CHECK_ERR(dc_model_fit(m, xa, y, NULL, NULL), DC_ERR_ARG, "2 inputs", "1 tensor");
    dc_tensor *short_b = randn(2, (int64_t[]){N - 1, 3}), *wide_b = randn(2, (int64_t[]){N, 5});
    CHECK_ERR(dc_model_fit_n(m, 2, (const dc_tensor *[]){xa, short_b}, y, &o, NULL), DC_ERR_SHAPE, "input 1", "511 rows", "512");
    CHECK_ERR(dc_model_evaluate_n(m, 2, (const dc_tensor *[]){xa, wide_b}, y, 64, r), DC_ERR_SHAPE, "input 1 (b)", "(None, 3)",
              "[512, 5]");
    CHECK_NULL_ERR(dc_model_predict_n(m, 2, (const dc_tensor *[]){xa, NULL}, 8), "input 1 is NULL");
    CHECK_NULL_ERR(dc_model_predict_n(m, 3, (const dc_tensor *[]){xa, xb, xb}, 8), "2 inputs", "3 tensors");
    o.val_xs = (const dc_tensor *[]){xa, wide_b};
    CHECK_ERR(dc_model_fit_n(m, 2, x, y, &o, NULL), DC_ERR_SHAPE, "validation", "input 1");
    dc_tensor_free(short_b);
    dc_tensor_free(wide_b);

    /* the wiring survives a model file */
    const char *path = in_dir("graph.safetensors");
    CHECK(dc_model_save(m, path) == DC_OK);
    dc_model *l = dc_model_load(path);
    CHECK(l != NULL && dc_model_num_inputs(l) == 2);
    dc_tensor *q = l ? dc_model_predict_n(l, 2, x, 100) : NULL;
    CHECK(same_data(p, q));
    FILE *sf = tmpfile();
    if (l && sf) {
        dc_model_summary(l, sf);
        rewind(sf);
        char buf[4096];
        size_t n = fread(buf, 1, sizeof buf - 1, sf);
        buf[n] = 0;
        CHECK(strstr(buf, "Connected to") && strstr(buf, "dense, dense_1") && strstr(buf, "(None, 32)"));
    }
    if (sf) fclose(sf);
    dc_tensor_free(q);
    dc_model_free(l);
    dc_tensor_free(p);
    dc_model_free(m);
    dc_tensor_free(xa);
    dc_tensor_free(xb);
    dc_tensor_free(y);
}

/* A graph wired as a chain is the Sequential it mirrors: same initial weights, same steps. */
static void test_chain_equals_sequential(void) {
    dc_tensor *x = randn(2, (int64_t[]){64, 5}), *y = dc_tensor_new(1, (int64_t[]){64});
    for (int64_t i = 0; i < 64; i++) dc_tensor_data(y)[i] = (float)(i % 3);
    dc_model *s = dc_sequential(), *g = dc_sequential();
    dc_model_add(s, dc_input(1, (int64_t[]){5}));
    dc_model_add(s, dc_dense(8, DC_ACT_RELU));
    dc_model_add(s, dc_dropout_layer(0.2f));
    dc_model_add(s, dc_dense(3, DC_ACT_SOFTMAX));
    int n = dc_model_input(g, NULL, 1, (int64_t[]){5});
    n = dc_model_apply(g, dc_dense(8, DC_ACT_RELU), 1, &n);
    n = dc_model_apply(g, dc_dropout_layer(0.2f), 1, &n);
    CHECK(dc_model_add(g, dc_dense(3, DC_ACT_SOFTMAX)) == DC_OK); /* add still appends to the last node */
    dc_metric acc = DC_METRIC_ACCURACY;
    CHECK(dc_model_compile(s, dc_sgd(0.1f, 0.9f, false), DC_LOSS_SPARSE_CCE, &acc, 1) == DC_OK);
    CHECK(dc_model_compile(g, dc_sgd(0.1f, 0.9f, false), DC_LOSS_SPARSE_CCE, &acc, 1) == DC_OK);
    dc_fit_opts o = dc_fit_defaults();
    o.epochs = 3;
    o.batch_size = 16;
    o.verbose = 0;
    CHECK(dc_model_fit(s, x, y, &o, NULL) == DC_OK);
    CHECK(dc_model_fit(g, x, y, &o, NULL) == DC_OK);
    CHECK(dc_model_param_buffer_size(s) == dc_model_param_buffer_size(g) &&
          memcmp(dc_model_params(s), dc_model_params(g), (size_t)dc_model_param_buffer_size(s) * sizeof(float)) == 0);
    dc_model_free(s);
    dc_model_free(g);
    dc_tensor_free(x);
    dc_tensor_free(y);
}

/* Wiring errors name the layer, the node and the numbers; the model stays usable. */
static void test_wiring_errors(void) {
    dc_model *m = dc_sequential();
    int a = dc_model_input(m, "a", 2, (int64_t[]){5, 8});
    int b = dc_model_input(m, "b", 2, (int64_t[]){7, 6});
    CHECK_ID_ERR(dc_model_apply(m, dc_dense(4, DC_ACT_NONE), 2, (int[]){a, b}), "dense (Dense)", "takes 1 input", "got 2");
    CHECK_ID_ERR(dc_model_apply(m, dc_dense(4, DC_ACT_NONE), 1, (int[]){9}), "node 9", "nodes 0..1");
    CHECK_ID_ERR(dc_model_apply(m, dc_add_layer(), 2, (int[]){a, b}), "add", "input 1", "(None, 7, 6)", "(None, 5, 8)");
    CHECK_ID_ERR(dc_model_apply(m, dc_concatenate_layer(), 2, (int[]){a, b}), "input 1", "only the last axis");
    CHECK_ID_ERR(dc_model_apply(m, dc_transformer_decoder_layer(2, 16, 0, DC_ACT_RELU, false), 1, &a), "two inputs", "memory");
    CHECK_ID_ERR(dc_model_apply(m, dc_transformer_decoder_layer(2, 16, 0, DC_ACT_RELU, false), 2, (int[]){a, b}), "memory",
                 "(None, T, 8)", "(None, 7, 6)");
    CHECK_ID_ERR(dc_model_apply(m, dc_multi_head_attention_layer(2, false, 0), 2, (int[]){a, b}), "memory", "(None, 7, 6)");
    CHECK_ID_ERR(dc_model_apply(m, dc_input(1, (int64_t[]){3}), 1, &a), "dc_model_input");
    CHECK_ID_ERR(dc_model_apply(m, dc_dense(4, DC_ACT_NONE), 0, &a), "n = 0");
    CHECK_ID_ERR(dc_model_input(m, "a", 1, (int64_t[]){3}), "\"a\"", "already");
    CHECK_ID_ERR(dc_model_input(m, NULL, 1, (int64_t[]){0}), "dc_model_input", "shape");
    /* after the errors the model still wires and builds */
    int c = dc_model_apply(m, dc_concatenate_layer(), 2, (int[]){a, dc_model_apply(m, dc_dense(6, DC_ACT_NONE), 1, &a)});
    CHECK(c == 3);
    CHECK(dc_model_build(m, 0, NULL) == DC_OK);
    CHECK_ID_ERR(dc_model_apply(m, dc_dense(4, DC_ACT_NONE), 1, &c), "already built");
    dc_model_free(m);
    /* a Sequential whose shape comes at build cannot take graph inputs */
    m = dc_sequential();
    dc_model_add(m, dc_dense(3, DC_ACT_NONE));
    CHECK_ID_ERR(dc_model_input(m, NULL, 1, (int64_t[]){3}), "without an input");
    dc_model_free(m);
}

/* An encoder-decoder Transformer: trains, and round-trips through a model file. */
static void test_encoder_decoder(void) {
    int64_t N = 32, S = 6, T = 5, V = 11, D = 16;
    dc_model *m = dc_sequential();
    int src = dc_model_input(m, "source", 1, (int64_t[]){S});
    int tgt = dc_model_input(m, "target", 1, (int64_t[]){T});
    int e = dc_model_apply(m, dc_embedding_layer(V, D, true), 1, &src);
    e = dc_model_apply(m, dc_positional_embedding_layer(S, false), 1, &e);
    e = dc_model_apply(m, dc_transformer_encoder_layer(2, 32, 0.1f, DC_ACT_RELU, false, false), 1, &e);
    int d = dc_model_apply(m, dc_embedding_layer(V, D, false), 1, &tgt);
    d = dc_model_apply(m, dc_positional_embedding_layer(T, true), 1, &d);
    d = dc_model_apply(m, dc_transformer_decoder_layer(2, 32, 0.1f, DC_ACT_GELU, true), 2, (int[]){d, e});
    d = dc_model_apply(m, dc_multi_head_attention_layer(2, false, 0), 2, (int[]){d, e});
    CHECK(dc_model_apply(m, dc_dense(V, DC_ACT_SOFTMAX), 1, &d) == 9);
    dc_metric acc = DC_METRIC_ACCURACY;
    CHECK(dc_model_compile(m, dc_adam(0.01f, 0.9f, 0.999f, 1e-7f), DC_LOSS_SPARSE_CCE, &acc, 1) == DC_OK);
    /* copy task: target = source's first T tokens, shifted right after a start token 1 */
    dc_tensor *xs = dc_tensor_new(2, (int64_t[]){N, S}), *xt = dc_tensor_new(2, (int64_t[]){N, T}), *y = dc_tensor_new(2, (int64_t[]){N, T});
    for (int64_t i = 0; i < N; i++)
        for (int64_t t = 0; t < S; t++) {
            float v = t < 4 + i % 3 ? (float)(2 + dc_rng_below(&rng, (uint64_t)(V - 2))) : 0; /* padding at the end */
            dc_tensor_data(xs)[i * S + t] = v;
            if (t < T) dc_tensor_data(y)[i * T + t] = v;
            if (t < T) dc_tensor_data(xt)[i * T + t] = t ? dc_tensor_data(y)[i * T + t - 1] : 1;
        }
    const dc_tensor *x[2] = {xs, xt};
    double r0[2], r1[2];
    CHECK(dc_model_evaluate_n(m, 2, x, y, 16, r0) == DC_OK);
    dc_fit_opts o = dc_fit_defaults();
    o.epochs = 80;
    o.batch_size = 8;
    o.verbose = 0;
    CHECK(dc_model_fit_n(m, 2, x, y, &o, NULL) == DC_OK);
    CHECK(dc_model_evaluate_n(m, 2, x, y, 16, r1) == DC_OK);
    printf("encoder-decoder copy: loss %.3f -> %.3f, accuracy %.3f -> %.3f\n", r0[0], r1[0], r0[1], r1[1]);
    CHECK(r1[0] < 0.5 * r0[0] && r1[1] > r0[1] + 0.3);
    const char *path = in_dir("encdec.safetensors");
    CHECK(dc_model_save(m, path) == DC_OK);
    dc_model *l = dc_model_load(path);
    CHECK(l != NULL);
    dc_tensor *p = dc_model_predict_n(m, 2, x, 32), *q = l ? dc_model_predict_n(l, 2, x, 32) : NULL;
    CHECK(same_data(p, q));
    double r2[2];
    CHECK(l && dc_model_evaluate_n(l, 2, x, y, 16, r2) == DC_OK && r2[0] == r1[0]);
    dc_tensor_free(p);
    dc_tensor_free(q);
    dc_model_free(l);
    dc_model_free(m);
    dc_tensor_free(xs);
    dc_tensor_free(xt);
    dc_tensor_free(y);
}

/* MultiHeadAttention with separate q/k/v projections: as self-attention it equals the packed
 * layer given the same weights; as cross-attention it takes a memory of another width, and
 * survives a model file. */
static void test_separate_projections(void) {
    int64_t N = 3, T = 5, D = 8;
    dc_model *pk = dc_sequential(), *sp = dc_sequential();
    dc_model_add(pk, dc_input(2, (int64_t[]){T, D}));
    dc_model_add(sp, dc_input(2, (int64_t[]){T, D}));
    dc_layer *a = dc_multi_head_attention_layer(2, true, 0), *b = dc_multi_head_attention_layer(2, true, 0);
    dc_layer_set_name(a, "att");
    dc_layer_set_name(b, "att");
    CHECK(dc_layer_set_separate_projections(b, true) == DC_OK);
    CHECK(dc_model_add(pk, a) == DC_OK && dc_model_add(sp, b) == DC_OK);
    CHECK(dc_model_build(pk, 0, NULL) == DC_OK && dc_model_build(sp, 0, NULL) == DC_OK);
    CHECK_ERR(dc_layer_set_separate_projections(b, false), DC_ERR_STATE, "att", "cannot change once the layer is built");
    CHECK_ERR(dc_layer_set_separate_projections(dc_model_layer(pk, 0), true), DC_ERR_ARG, "InputLayer", "no option \"separate_projections\"");
    /* in_proj_weight's rows are q, k, v */
    dc_tensor *w = dc_model_param(pk, "att.in_proj_weight");
    static const char *const names[3] = {"att.q_proj_weight", "att.k_proj_weight", "att.v_proj_weight"};
    for (int i = 0; i < 3; i++) {
        dc_tensor *t = dc_model_param(sp, names[i]);
        CHECK(t && dc_tensor_numel(t) == D * D);
        if (t) memcpy(dc_tensor_data(t), dc_tensor_data(w) + i * D * D, (size_t)(D * D) * sizeof(float));
    }
    static const char *const same[3] = {"att.in_proj_bias", "att.out_proj.weight", "att.out_proj.bias"};
    for (int i = 0; i < 3; i++) {
        dc_tensor *s0 = dc_model_param(pk, same[i]), *s1 = dc_model_param(sp, same[i]);
        for (int64_t k = 0; k < dc_tensor_numel(s0); k++) dc_tensor_data(s0)[k] = dc_rng_normal(&rng) * 0.1f;
        memcpy(dc_tensor_data(s1), dc_tensor_data(s0), (size_t)dc_tensor_numel(s0) * sizeof(float));
    }
    dc_tensor *x = randn(3, (int64_t[]){N, T, D});
    dc_tensor *p0 = dc_model_predict(pk, x, 8), *p1 = dc_model_predict(sp, x, 8);
    double diff = p0 && p1 ? 0 : 1;
    for (int64_t i = 0; diff < 1 && i < dc_tensor_numel(p0); i++) diff = fmax(diff, fabs(dc_tensor_data(p0)[i] - dc_tensor_data(p1)[i]));
    CHECK(diff < 1e-5);
    dc_tensor_free(p0);
    dc_tensor_free(p1);
    dc_model_free(pk);
    dc_model_free(sp);

    /* cross-attention to a memory of width 5, saved and loaded */
    dc_model *m = dc_sequential();
    int q = dc_model_input(m, "q", 2, (int64_t[]){T, D}), k = dc_model_input(m, "memory", 2, (int64_t[]){7, 5});
    dc_layer *c = dc_multi_head_attention_layer(4, false, 0);
    dc_layer_set_separate_projections(c, true);
    CHECK(dc_model_apply(m, c, 2, (int[]){q, k}) == 2);
    CHECK(dc_model_build(m, 0, NULL) == DC_OK);
    dc_tensor *kw = dc_model_param(m, "multi_head_attention.k_proj_weight");
    CHECK(kw && dc_tensor_dim(kw, 0) == D && dc_tensor_dim(kw, 1) == 5);
    dc_tensor *mem = randn(3, (int64_t[]){N, 7, 5});
    const dc_tensor *in[2] = {x, mem};
    dc_tensor *y0 = dc_model_predict_n(m, 2, in, 8);
    const char *path = in_dir("separate.safetensors");
    CHECK(dc_model_save(m, path) == DC_OK);
    dc_model *l = dc_model_load(path);
    dc_tensor *y1 = l ? dc_model_predict_n(l, 2, in, 8) : NULL;
    CHECK(same_data(y0, y1));
    /* the packed layer still needs the memory's width to match */
    dc_model *bad = dc_sequential();
    q = dc_model_input(bad, "q", 2, (int64_t[]){T, D});
    k = dc_model_input(bad, "memory", 2, (int64_t[]){7, 5});
    CHECK_ID_ERR(dc_model_apply(bad, dc_multi_head_attention_layer(4, false, 0), 2, (int[]){q, k}), "(None, T, 8)", "(None, 7, 5)");
    dc_model_free(bad);
    dc_tensor_free(y0);
    dc_tensor_free(y1);
    dc_model_free(l);
    dc_model_free(m);
    dc_tensor_free(mem);
    dc_tensor_free(x);
}

/* Max |a - b| over rows [r0, r1) of the step axis of two [N, T, D] outputs. */
static double rows_diff(const dc_tensor *a, const dc_tensor *b, int64_t r0, int64_t r1) {
    if (!a || !b || dc_tensor_numel(a) != dc_tensor_numel(b)) return INFINITY;
    int64_t N = dc_tensor_dim(a, 0), T = dc_tensor_dim(a, 1), D = dc_tensor_dim(a, 2);
    double d = 0;
    for (int64_t n = 0; n < N; n++)
        for (int64_t t = r0; t < r1; t++)
            for (int64_t k = 0; k < D; k++) {
                int64_t i = (n * T + t) * D + k;
                d = fmax(d, fabs(dc_tensor_data((dc_tensor *)a)[i] - dc_tensor_data((dc_tensor *)b)[i]));
            }
    return d;
}

/* Regression (issue 19): MultiHeadAttention(causal) wired to two inputs applies the causal rule
 * j <= i + (Tk - Tq) to the memory instead of ignoring it, packed and with separate projections:
 * with Tq = 3, Tk = 5, changing memory step 4 changes query 2's output only, step 3 queries 1
 * and 2; the non-causal layer's query 0 sees both. With Tq = 4, Tk = 2 queries 0 and 1 see no
 * step and give out_proj.bias. */
static void test_causal_cross_attention(void) {
    for (int separate = 0; separate < 2; separate++) {
        int64_t N = 2, D = 8, Dm = separate ? 5 : 8;
        for (int shape = 0; shape < 2; shape++) {
            int64_t Tq = shape ? 4 : 3, Tk = shape ? 2 : 5;
            dc_model *m[2];
            for (int causal = 0; causal < 2; causal++) {
                m[causal] = dc_sequential();
                int q = dc_model_input(m[causal], "q", 2, (int64_t[]){Tq, D});
                int k = dc_model_input(m[causal], "memory", 2, (int64_t[]){Tk, Dm});
                dc_layer *l = dc_multi_head_attention_layer(2, causal, 0);
                CHECK(dc_layer_set_separate_projections(l, separate) == DC_OK);
                CHECK(dc_model_apply(m[causal], l, 2, (int[]){q, k}) == 2);
                CHECK(dc_model_build(m[causal], 0, NULL) == DC_OK);
            }
            int64_t nb = dc_model_param_buffer_size(m[0]); /* the same weights in both */
            CHECK(nb == dc_model_param_buffer_size(m[1]));
            memcpy(dc_model_params(m[1]), dc_model_params(m[0]), (size_t)nb * sizeof(float));
            dc_tensor *bias = dc_model_param(m[1], "multi_head_attention.out_proj.bias");
            for (int64_t i = 0; bias && i < D; i++) dc_tensor_data(bias)[i] = 0.1f * (float)(i + 1); /* nonzero */
            if (bias) memcpy(dc_tensor_data(dc_model_param(m[0], "multi_head_attention.out_proj.bias")), dc_tensor_data(bias),
                             (size_t)D * sizeof(float));
            dc_tensor *x = randn(3, (int64_t[]){N, Tq, D}), *mem = randn(3, (int64_t[]){N, Tk, Dm});
            const dc_tensor *in[2] = {x, mem};
            dc_tensor *y[2] = {dc_model_predict_n(m[0], 2, in, 8), dc_model_predict_n(m[1], 2, in, 8)};
            CHECK(y[0] && y[1]);
            if (shape == 0) {
                /* the last query sees every step: both layers agree there, and only there */
                CHECK(rows_diff(y[0], y[1], 2, 3) < 1e-6);
                CHECK(rows_diff(y[0], y[1], 0, 2) > 1e-3);
                for (int64_t step = 4; step >= 3; step--) {
                    dc_tensor *m2 = dc_tensor_clone(mem);
                    for (int64_t n = 0; n < N; n++)
                        for (int64_t k = 0; k < Dm; k++) dc_tensor_data(m2)[(n * Tk + step) * Dm + k] += 3.0f;
                    const dc_tensor *in2[2] = {x, m2};
                    dc_tensor *z[2] = {dc_model_predict_n(m[0], 2, in2, 8), dc_model_predict_n(m[1], 2, in2, 8)};
                    int64_t first = step - (Tk - Tq); /* the first query that sees the step */
                    CHECK(rows_diff(y[1], z[1], 0, first) == 0);
                    CHECK(rows_diff(y[1], z[1], first, Tq) > 1e-3);
                    CHECK(rows_diff(y[0], z[0], 0, 1) > 1e-3);
                    dc_tensor_free(z[0]);
                    dc_tensor_free(z[1]);
                    dc_tensor_free(m2);
                }
            } else {
                /* queries 0 and 1 see no step: attention output 0, so y = out_proj.bias (to rounding) */
                double d = 0;
                for (int64_t n = 0; y[1] && n < N; n++)
                    for (int64_t t = 0; t < 2; t++)
                        for (int64_t k = 0; k < D; k++)
                            d = fmax(d, fabs(dc_tensor_data(y[1])[(n * Tq + t) * D + k] - 0.1f * (float)(k + 1)));
                CHECK(y[1] && d < 1e-6);
                CHECK(rows_diff(y[0], y[1], 3, 4) < 1e-6);
            }
            dc_tensor_free(y[0]);
            dc_tensor_free(y[1]);
            dc_tensor_free(x);
            dc_tensor_free(mem);
            dc_model_free(m[0]);
            dc_model_free(m[1]);
        }
    }
}

/* Graph files that are broken in their wiring. */
static void test_hostile_graphs(void) {
    dc_tensor *w = dc_tensor_new(2, (int64_t[]){3, 4}), *b = dc_tensor_new(1, (int64_t[]){3});
    const char *names[] = {"dense.weight", "dense.bias"};
    const dc_tensor *ts[] = {w, b};
    const char *keys[] = {"deepc.model"};
#define G(layers) "{\"format\":\"deepc.sequential\",\"version\":2,\"graph\":true,\"layers\":[" layers "]}"
#define IN "{\"class\":\"InputLayer\",\"name\":\"in\",\"shape\":[4]}"
    static const struct {
        const char *json, *w1, *w2;
    } cases[] = {
        {G(IN ",{\"class\":\"Dense\",\"name\":\"dense\",\"units\":3,\"activation\":\"relu\",\"inputs\":[\"in\"]}"), NULL, NULL},
        {G(IN ",{\"class\":\"Dense\",\"name\":\"dense\",\"units\":3,\"activation\":\"relu\",\"inputs\":[\"nowhere\"]}"), "layer 1",
         "\"nowhere\" is not a layer before it"},
        {G(IN ",{\"class\":\"Dense\",\"name\":\"dense\",\"units\":3,\"activation\":\"relu\",\"inputs\":[\"dense\"]}"), "layer 1",
         "\"dense\" is not a layer before it"},
        {G(IN ",{\"class\":\"Dense\",\"name\":\"dense\",\"units\":3,\"activation\":\"relu\"}"), "layer 1", "inputs"},
        {G(IN ",{\"class\":\"Dense\",\"name\":\"dense\",\"units\":3,\"activation\":\"relu\",\"inputs\":[\"in\",\"in\"]}"),
         "layer 1", "takes 1 input"},
        {G(IN ",{\"class\":\"Dense\",\"name\":\"dense\",\"units\":3,\"activation\":\"relu\",\"inputs\":[1]}"), "layer 1",
         "layer names"},
        {G("{\"class\":\"InputLayer\",\"name\":\"in\",\"shape\":[4],\"inputs\":[\"in\"]}"), "layer 0", "InputLayer"},
        {G("{\"class\":\"Dense\",\"name\":\"dense\",\"units\":3,\"activation\":\"relu\",\"inputs\":[]}"), "layer 0", "inputs"},
        {"{\"format\":\"deepc.sequential\",\"version\":2,\"graph\":\"yes\",\"layers\":[" IN "]}", "graph", NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char name[32];
        snprintf(name, sizeof name, "graph%zu.safetensors", i);
        const char *path = in_dir(name);
        CHECK(dc_safetensors_save(path, 2, names, ts, DC_DTYPE_F32, 1, keys, &cases[i].json) == DC_OK);
        dc_clear_error();
        dc_model *m = dc_model_load(path);
        if (!cases[i].w1) {
            CHECK(m != NULL && dc_model_num_inputs(m) == 1);
        } else {
            check_count++;
            bool ok = m == NULL && strstr(dc_last_error(), name) && strstr(dc_last_error(), cases[i].w1) &&
                      (!cases[i].w2 || strstr(dc_last_error(), cases[i].w2));
            if (!ok) {
                check_fails++;
                fprintf(stderr, "hostile graph %zu: \"%s\"\n", i, dc_last_error());
            }
        }
        dc_model_free(m);
    }
    dc_tensor_free(w);
    dc_tensor_free(b);
}

int main(void) {
    dc_set_threads(2);
    dc_rng_seed(&rng, 7);
    CHECK(tmp_dir_create());
    test_two_inputs();
    test_chain_equals_sequential();
    test_wiring_errors();
    test_encoder_decoder();
    test_separate_projections();
    test_causal_cross_attention();
    test_hostile_graphs();
    tmp_dir_remove();
    return check_report("test_graph");
}
