/* Model files, weights and training checkpoints: round trips of every layer type, resuming
 * bit-identical to an uninterrupted run, the best-model callback, writers killed mid-write or
 * stopped by a full disk, hostile model files, and fit's non-finite-gradient guard. */
#define _GNU_SOURCE
#include "check.h"
#include "tmpfiles.h"

#include <dirent.h>
#include <math.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static dc_rng rng;

static dc_tensor *randn(int ndim, const int64_t *shape) { return check_randn(&rng, ndim, shape); }

/* Class = argmax of three fixed projections of x. */
static dc_tensor *labels3(const dc_tensor *x) {
    int64_t n = dc_tensor_dim(x, 0), d = dc_tensor_numel(x) / n;
    dc_tensor *y = dc_tensor_new(1, (int64_t[]){n});
    const float *X = dc_tensor_data((dc_tensor *)x);
    for (int64_t i = 0; i < n; i++) {
        float s[3] = {0, 0, 0};
        for (int64_t j = 0; j < d; j++) s[j % 3] += X[i * d + j];
        dc_tensor_data(y)[i] = (float)(s[0] > s[1] ? (s[0] > s[2] ? 0 : 2) : (s[1] > s[2] ? 1 : 2));
    }
    return y;
}

static bool same_tensor(const dc_tensor *a, const dc_tensor *b) {
    return a && b && dc_tensor_numel(a) == dc_tensor_numel(b) &&
           memcmp(dc_tensor_data((dc_tensor *)a), dc_tensor_data((dc_tensor *)b), (size_t)dc_tensor_numel(a) * 4) == 0;
}

/* The model's predictions on x equal those of m2 bit for bit. */
static bool same_predictions(dc_model *a, dc_model *b, const dc_tensor *x) {
    dc_tensor *pa = dc_model_predict(a, x, 16), *pb = dc_model_predict(b, x, 16);
    bool ok = same_tensor(pa, pb);
    dc_tensor_free(pa);
    dc_tensor_free(pb);
    return ok;
}

/* ---- models of every layer type ---- */
static dc_model *mlp(uint64_t seed, bool compile) {
    dc_model *m = dc_sequential();
    dc_model_set_seed(m, seed);
    dc_model_add(m, dc_input(1, (int64_t[]){12}));
    dc_layer *d = dc_dense(16, DC_ACT_LEAKY_RELU);
    dc_layer_set_alpha(d, 0.2f);
    dc_layer_set_name(d, "hidden");
    dc_model_add(m, d);
    dc_model_add(m, dc_batch_norm_layer(0.1f, 1e-3f));
    dc_model_add(m, dc_dropout_layer(0.25f));
    dc_layer *nb = dc_dense(8, DC_ACT_TANH);
    dc_layer_set_use_bias(nb, false);
    dc_model_add(m, nb);
    dc_model_add(m, dc_dense(3, DC_ACT_SOFTMAX));
    if (compile) {
        dc_optimizer *o = dc_adam(0.01f, 0.9f, 0.999f, 1e-7f);
        dc_optimizer_set_weight_decay(o, 1e-4f);
        dc_optimizer_set_clipnorm(o, 5.0f);
        dc_model_compile(m, o, DC_LOSS_SPARSE_CCE, (dc_metric[]){DC_METRIC_ACCURACY}, 1);
    } else {
        dc_model_build(m, 0, NULL);
    }
    return m;
}

static dc_model *cnn(void) {
    dc_model *m = dc_sequential();
    dc_model_set_seed(m, 3);
    dc_model_add(m, dc_input(3, (int64_t[]){1, 8, 8}));
    dc_model_add(m, dc_conv2d_layer(4, 3, 3, 1, DC_PAD_SAME, DC_ACT_RELU));
    dc_model_add(m, dc_batch_norm_layer(0.1f, 1e-3f));
    dc_model_add(m, dc_max_pool2d_layer(2, 2, 0));
    dc_layer *ct = dc_conv2d_transpose_layer(3, 3, 3, 2, DC_PAD_VALID, DC_ACT_ELU);
    dc_model_add(m, ct);
    dc_layer *c2 = dc_conv2d_layer(2, 2, 3, 1, DC_PAD_VALID, DC_ACT_SIGMOID);
    dc_layer_set_strides(c2, 2, 1);
    dc_layer_set_padding(c2, (int[]){1, 0, 0, 2});
    dc_model_add(m, c2);
    dc_model_add(m, dc_avg_pool2d_layer(2, 2, 1));
    dc_model_add(m, dc_upsample2d_layer(2, 1));
    dc_model_add(m, dc_global_avg_pool2d_layer());
    dc_model_add(m, dc_dense(2, DC_ACT_NONE));
    dc_model_compile(m, dc_sgd(0.05f, 0.9f, true), DC_LOSS_MSE, (dc_metric[]){DC_METRIC_MAE, DC_METRIC_MSE}, 2);
    return m;
}

static dc_model *rnn(void) {
    dc_model *m = dc_sequential();
    dc_model_set_seed(m, 5);
    dc_model_add(m, dc_input(1, (int64_t[]){6}));
    dc_model_add(m, dc_embedding_layer(20, 8, true));
    dc_layer *l = dc_lstm_layer(6, true);
    dc_layer_set_forget_bias(l, 0.5f);
    dc_model_add(m, l);
    dc_model_add(m, dc_gru_layer(5, true));
    dc_model_add(m, dc_simple_rnn_layer(4, DC_ACT_RELU, false));
    dc_model_add(m, dc_activation_layer(DC_ACT_SIGMOID));
    dc_model_compile(m, dc_rmsprop(0.01f, 0.9f, 1e-7f), DC_LOSS_BCE, (dc_metric[]){DC_METRIC_ACCURACY}, 1);
    return m;
}

static void test_round_trips(void) {
    /* MLP, trained a little so that every tensor (batch-norm statistics too) has moved */
    dc_tensor *x = randn(2, (int64_t[]){64, 12}), *y = labels3(x);
    dc_model *a = mlp(1, true);
    dc_fit_opts o = dc_fit_defaults();
    o.epochs = 2;
    o.verbose = 0;
    CHECK(dc_model_fit(a, x, y, &o, NULL) == DC_OK);
    CHECK(dc_model_save(a, in_dir("mlp.safetensors")) == DC_OK);
    dc_model *b = dc_model_load(in_dir("mlp.safetensors"));
    CHECK(b != NULL);
    if (b) {
        CHECK(same_predictions(a, b, x));
        CHECK(dc_model_num_layers(b) == dc_model_num_layers(a));
        CHECK(strcmp(dc_layer_name(dc_model_layer(b, 1)), "hidden") == 0);
        CHECK(dc_model_param_count(b) == dc_model_param_count(a));
        CHECK(dc_model_trainable_count(b) == dc_model_trainable_count(a));
        /* compiled as saved: same loss and metrics, so evaluate agrees */
        double ra[2], rb[2];
        CHECK(dc_model_evaluate(a, x, y, 32, ra) == DC_OK && dc_model_evaluate(b, x, y, 32, rb) == DC_OK);
        CHECK(ra[0] == rb[0] && ra[1] == rb[1]);
        dc_tensor *rm = dc_model_param(b, "batch_normalization.running_var");
        CHECK(same_tensor(rm, dc_model_param(a, "batch_normalization.running_var")));
        /* and it trains on */
        CHECK(dc_model_fit(b, x, y, &o, NULL) == DC_OK);
    }
    dc_model_free(b);

    /* weights only into a model built in code with another seed */
    CHECK(dc_model_save_weights(a, in_dir("mlp.weights")) == DC_OK);
    dc_model *c = mlp(99, false);
    CHECK(!same_predictions(a, c, x));
    CHECK(dc_model_load_weights(c, in_dir("mlp.weights"), false) == DC_OK);
    CHECK(same_predictions(a, c, x));
    CHECK_NULL_ERR(dc_model_load(in_dir("mlp.weights")), "mlp.weights", "deepc.model", "dc_model_load_weights");
    /* a checkpoint is a model file too, and its weights load with the optimizer tensors ignored */
    CHECK(dc_model_save_checkpoint(a, in_dir("mlp.ckpt")) == DC_OK);
    dc_model *d = dc_model_load(in_dir("mlp.ckpt"));
    CHECK(d && same_predictions(a, d, x));
    dc_model_free(d);
    dc_model_free(c);
    c = mlp(98, false);
    CHECK(dc_model_load_weights(c, in_dir("mlp.ckpt"), false) == DC_OK);
    CHECK(same_predictions(a, c, x));
    dc_model_free(c);
    dc_model_free(a);
    dc_tensor_free(x);
    dc_tensor_free(y);

    /* CNN: every convolution and pooling option */
    dc_tensor *xi = randn(4, (int64_t[]){10, 1, 8, 8}), *yi = randn(2, (int64_t[]){10, 2});
    a = cnn();
    CHECK(dc_model_fit(a, xi, yi, &o, NULL) == DC_OK);
    CHECK(dc_model_save(a, in_dir("cnn.safetensors")) == DC_OK);
    b = dc_model_load(in_dir("cnn.safetensors"));
    CHECK(b && same_predictions(a, b, xi));
    if (b) {
        double ra[3], rb[3];
        CHECK(dc_model_evaluate(a, xi, yi, 32, ra) == DC_OK && dc_model_evaluate(b, xi, yi, 32, rb) == DC_OK);
        CHECK(ra[0] == rb[0] && ra[1] == rb[1] && ra[2] == rb[2]);
    }
    dc_model_free(a);
    dc_model_free(b);
    dc_tensor_free(xi);
    dc_tensor_free(yi);

    /* recurrent: masks from Embedding(mask_zero), stacked LSTM/GRU/SimpleRNN */
    dc_tensor *ids = dc_tensor_new(2, (int64_t[]){8, 6}), *yb = dc_tensor_new(2, (int64_t[]){8, 4});
    for (int64_t i = 0; i < 48; i++) dc_tensor_data(ids)[i] = (float)(i % 6 < 2 ? 0 : 1 + (i * 7) % 19);
    for (int64_t i = 0; i < 32; i++) dc_tensor_data(yb)[i] = (float)(i % 3 == 0);
    a = rnn();
    CHECK(dc_model_fit(a, ids, yb, &o, NULL) == DC_OK);
    CHECK(dc_model_save(a, in_dir("rnn.safetensors")) == DC_OK);
    b = dc_model_load(in_dir("rnn.safetensors"));
    CHECK(b && same_predictions(a, b, ids));
    dc_model_free(a);
    dc_model_free(b);

    /* Transformer layers: positions, encoder (pre-norm, causal, GELU), attention, pooling */
    a = dc_sequential();
    dc_model_add(a, dc_input(1, (int64_t[]){6}));
    dc_model_add(a, dc_embedding_layer(20, 8, true));
    dc_model_add(a, dc_positional_embedding_layer(6, false));
    dc_model_add(a, dc_transformer_encoder_layer(2, 16, 0.1f, DC_ACT_GELU, true, true));
    dc_model_add(a, dc_positional_embedding_layer(8, true));
    dc_model_add(a, dc_multi_head_attention_layer(4, false, 0.1f));
    dc_model_add(a, dc_layer_norm_layer(1e-6f));
    dc_model_add(a, dc_global_avg_pool1d_layer());
    dc_model_add(a, dc_dense(4, DC_ACT_SIGMOID));
    CHECK(dc_model_compile(a, dc_adam(0.01f, 0.9f, 0.999f, 1e-7f), DC_LOSS_BCE, NULL, 0) == DC_OK);
    CHECK(dc_model_fit(a, ids, yb, &o, NULL) == DC_OK);
    CHECK(dc_model_save(a, in_dir("transformer.safetensors")) == DC_OK);
    b = dc_model_load(in_dir("transformer.safetensors"));
    CHECK(b && same_predictions(a, b, ids));
    dc_model_free(a);
    dc_model_free(b);
    dc_tensor_free(ids);
    dc_tensor_free(yb);
}

/* ---- weights that do not fit ---- */
static void test_weight_errors(void) {
    dc_model *m = mlp(1, false);
    dc_tensor *x = randn(2, (int64_t[]){4, 12});
    dc_tensor *before = dc_model_predict(m, x, 4);
    CHECK(dc_model_save_weights(m, in_dir("w.safetensors")) == DC_OK);
    dc_safetensors *st = dc_safetensors_open(in_dir("w.safetensors"));
    CHECK(st != NULL);
    int n = dc_safetensors_count(st);
    const char *names[32];
    dc_tensor *ts[32];
    for (int i = 0; i < n && i < 32; i++) {
        names[i] = dc_safetensors_name(st, i);
        ts[i] = dc_safetensors_read(st, names[i]);
    }
    int hid = dc_safetensors_find(st, "hidden.weight");
    CHECK(hid >= 0);
    /* wrong shape */
    dc_tensor *wrong = dc_tensor_new(2, (int64_t[]){16, 11});
    dc_tensor *keep = ts[hid];
    ts[hid] = wrong;
    CHECK(dc_safetensors_save(in_dir("shape.safetensors"), n, names, (const dc_tensor *const *)ts, DC_DTYPE_F32, 0, NULL, NULL) == DC_OK);
    CHECK_ERR(dc_model_load_weights(m, in_dir("shape.safetensors"), false), DC_ERR_SHAPE, "shape.safetensors", "hidden.weight",
              "[16, 11]", "[16, 12]", "hidden");
    /* a NaN among the weights */
    ts[hid] = keep;
    float saved = dc_tensor_data(keep)[5];
    dc_tensor_data(keep)[5] = NAN;
    CHECK(dc_safetensors_save(in_dir("nan.safetensors"), n, names, (const dc_tensor *const *)ts, DC_DTYPE_F32, 0, NULL, NULL) == DC_OK);
    CHECK_ERR(dc_model_load_weights(m, in_dir("nan.safetensors"), false), DC_ERR_NUMERIC, "nan.safetensors", "hidden.weight", "element 5");
    dc_tensor_data(keep)[5] = saved;
    /* a missing tensor, then an extra one */
    CHECK(dc_safetensors_save(in_dir("missing.safetensors"), n - 1, names, (const dc_tensor *const *)ts, DC_DTYPE_F32, 0, NULL, NULL) ==
          DC_OK);
    CHECK_ERR(dc_model_load_weights(m, in_dir("missing.safetensors"), false), DC_ERR_FORMAT, "missing.safetensors", "no tensor",
              names[n - 1]);
    names[n] = "extra.weight";
    ts[n] = wrong;
    CHECK(dc_safetensors_save(in_dir("extra.safetensors"), n + 1, names, (const dc_tensor *const *)ts, DC_DTYPE_F32, 0, NULL, NULL) ==
          DC_OK);
    CHECK_ERR(dc_model_load_weights(m, in_dir("extra.safetensors"), false), DC_ERR_FORMAT, "extra.weight", "allow_extra");
    CHECK(dc_model_load_weights(m, in_dir("extra.safetensors"), true) == DC_OK);
    /* half-precision files load (converted) */
    CHECK(dc_safetensors_save(in_dir("bf16.safetensors"), n, names, (const dc_tensor *const *)ts, DC_DTYPE_BF16, 0, NULL, NULL) == DC_OK);
    CHECK(dc_model_load_weights(m, in_dir("bf16.safetensors"), false) == DC_OK);
    CHECK(dc_model_load_weights(m, in_dir("w.safetensors"), false) == DC_OK);
    /* nothing changed through all of that */
    dc_tensor *after = dc_model_predict(m, x, 4);
    CHECK(same_tensor(before, after));
    CHECK_ERR(dc_model_load_weights(m, in_dir("absent.safetensors"), false), DC_ERR_IO, "absent.safetensors");
    dc_model *unbuilt = dc_sequential();
    dc_model_add(unbuilt, dc_dense(3, DC_ACT_NONE));
    CHECK_ERR(dc_model_save(unbuilt, in_dir("u.safetensors")), DC_ERR_STATE, "not built");
    CHECK_ERR(dc_model_save_checkpoint(m, in_dir("u.ckpt")), DC_ERR_STATE, "not compiled");
    dc_model_free(unbuilt);
    for (int i = 0; i < n; i++) dc_tensor_free(ts[i]);
    dc_tensor_free(wrong);
    dc_tensor_free(before);
    dc_tensor_free(after);
    dc_tensor_free(x);
    dc_safetensors_close(st);
    dc_model_free(m);
}

/* ---- hostile architectures: each file holds the weights of a valid two-layer model and a
 * "deepc.model" text that is broken in one way ---- */
/* The same, with one more tensor named extra (of shape [3]) when extra is not NULL. */
static const char *arch_file_extra(const char *name, const char *json, const char *extra) {
    dc_tensor *w = dc_tensor_new(2, (int64_t[]){3, 4}), *b = dc_tensor_new(1, (int64_t[]){3});
    const char *names[] = {"dense.weight", "dense.bias", extra};
    const dc_tensor *ts[] = {w, b, b};
    const char *keys[] = {"deepc.model"};
    const char *path = in_dir(name);
    CHECK(dc_safetensors_save(path, extra ? 3 : 2, names, ts, DC_DTYPE_F32, 1, keys, &json) == DC_OK);
    dc_tensor_free(w);
    dc_tensor_free(b);
    return path;
}

static const char *arch_file(const char *name, const char *json) { return arch_file_extra(name, json, NULL); }

#define ARCH(layers) "{\"format\":\"deepc.sequential\",\"version\":1,\"input_shape\":[4],\"layers\":[" layers "]}"
#define DENSE(units) "{\"class\":\"Dense\",\"name\":\"dense\",\"units\":" units ",\"activation\":\"relu\"}"

static void test_hostile_models(void) {
    dc_model *m = dc_model_load(arch_file("ok.safetensors", ARCH(DENSE("3"))));
    CHECK(m != NULL);
    dc_model_free(m);
    CHECK_NULL_ERR(dc_model_load(arch_file("json.safetensors", "{\"format\": ")), "json.safetensors", "not a JSON object");
    CHECK_NULL_ERR(dc_model_load(arch_file("fmt.safetensors", "{\"format\":\"keras\",\"version\":1,\"layers\":[]}")),
                   "fmt.safetensors", "format");
    CHECK_NULL_ERR(dc_model_load(arch_file("ver.safetensors", "{\"format\":\"deepc.sequential\",\"version\":7,\"layers\":[]}")),
                   "ver.safetensors", "version 7", "newer");
    CHECK_NULL_ERR(dc_model_load(arch_file("nolayers.safetensors", "{\"format\":\"deepc.sequential\",\"version\":1}")),
                   "nolayers.safetensors", "layers");
    CHECK_NULL_ERR(dc_model_load(arch_file("class.safetensors", ARCH("{\"class\":\"Lambda\",\"name\":\"x\"}"))),
                   "class.safetensors", "layer 0", "unknown layer class", "Lambda");
    CHECK_NULL_ERR(dc_model_load(arch_file("neg.safetensors", ARCH(DENSE("-5")))), "neg.safetensors", "layer 0", "units", "-5");
    CHECK_NULL_ERR(dc_model_load(arch_file("huge.safetensors", ARCH(DENSE("1e300")))), "huge.safetensors", "units", "1e+300");
    CHECK_NULL_ERR(dc_model_load(arch_file("frac.safetensors", ARCH(DENSE("2.5")))), "frac.safetensors", "units", "whole", "2.5");
    CHECK_NULL_ERR(dc_model_load(arch_file("str.safetensors", ARCH(DENSE("\"3\"")))), "str.safetensors", "units");
    CHECK_NULL_ERR(dc_model_load(arch_file("act.safetensors",
                                           ARCH("{\"class\":\"Dense\",\"name\":\"dense\",\"units\":3,\"activation\":\"swish\"}"))),
                   "act.safetensors", "\"activation\" must be one of", "swish");
    /* the weights in the file are [3, 4]: a model asking for 5 units is told so, before any allocation */
    CHECK_NULL_ERR(dc_model_load(arch_file("units.safetensors", ARCH(DENSE("5")))), "units.safetensors", "dense.weight", "[3, 4]",
                   "[5, 4]");
    CHECK_NULL_ERR(dc_model_load(arch_file("big.safetensors", ARCH(DENSE("2147483648")))), "big.safetensors", "dense.weight",
                   "[2147483648, 4]");
    CHECK_NULL_ERR(dc_model_load(arch_file("input.safetensors",
                                           "{\"format\":\"deepc.sequential\",\"version\":1,\"input_shape\":[1099511627776],"
                                           "\"layers\":[" DENSE("3") "]}")),
                   "input.safetensors", "dense.weight");
    CHECK_NULL_ERR(dc_model_load(arch_file("kernel.safetensors",
                                           ARCH("{\"class\":\"Conv2D\",\"name\":\"c\",\"filters\":2,\"kernel_size\":[0,3],"
                                                "\"strides\":[1,1],\"padding\":\"same\"}"))),
                   "kernel.safetensors", "kernel_size");
    CHECK_NULL_ERR(dc_model_load(arch_file("rate.safetensors", ARCH("{\"class\":\"Dropout\",\"name\":\"d\",\"rate\":1}," DENSE("3")))),
                   "rate.safetensors", "layer 0", "rate");
    CHECK_NULL_ERR(dc_model_load(arch_file("sync.safetensors",
                                           ARCH("{\"class\":\"BatchNormalization\",\"name\":\"bn\",\"synchronized\":1}," DENSE("3")))),
                   "sync.safetensors", "layer 0", "synchronized", "true or false");
    CHECK_NULL_ERR(dc_model_load(arch_file("dup.safetensors", ARCH(DENSE("3") "," DENSE("3")))), "dup.safetensors", "layer 1",
                   "already");
    CHECK_NULL_ERR(dc_model_load(arch_file("name.safetensors",
                                           ARCH("{\"class\":\"Dense\",\"name\":\"a-very-long-layer-name-that-goes-on-and-on-and-on-"
                                                "and-on\",\"units\":3}"))),
                   "name.safetensors", "longer");
    CHECK_NULL_ERR(dc_model_load(arch_file("shape.safetensors", ARCH("{\"class\":\"Conv2D\",\"name\":\"c\",\"filters\":2,"
                                                                      "\"kernel_size\":[3,3],\"strides\":[1,1],\"padding\":\"same\"}"))),
                   "shape.safetensors", "expected images");
    CHECK_NULL_ERR(dc_model_load(arch_file("compile.safetensors",
                                           "{\"format\":\"deepc.sequential\",\"version\":1,\"input_shape\":[4],\"layers\":[" DENSE("3")
                                           "],\"compile\":{\"loss\":\"no_such_loss\",\"optimizer\":{\"class\":\"SGD\",\"lr\":0.1}}}")),
                   "compile.safetensors", "loss", "unknown loss");
    CHECK_NULL_ERR(dc_model_load(arch_file("lr.safetensors",
                                           "{\"format\":\"deepc.sequential\",\"version\":1,\"input_shape\":[4],\"layers\":[" DENSE("3")
                                           "],\"compile\":{\"loss\":\"mse\",\"optimizer\":{\"class\":\"SGD\",\"lr\":-1}}}")),
                   "lr.safetensors", "lr", "-1");
    /* tensors the architecture does not declare are refused, as dc_model_load_weights refuses them */
    CHECK_NULL_ERR(dc_model_load(arch_file_extra("junk.safetensors", ARCH(DENSE("3")), "junk.weight")), "junk.safetensors",
                   "\"junk.weight\"", "no parameter");
    CHECK_NULL_ERR(dc_model_load(arch_file("nobias.safetensors", ARCH("{\"class\":\"Dense\",\"name\":\"dense\",\"units\":3,"
                                                                      "\"use_bias\":false}"))),
                   "nobias.safetensors", "\"dense.bias\"", "no parameter");
    CHECK_NULL_ERR(dc_model_load(arch_file_extra("opt.safetensors", ARCH(DENSE("3")), "optimizer.junk")), "opt.safetensors",
                   "\"optimizer.junk\"");
    CHECK_NULL_ERR(dc_model_load(arch_file_extra("state9.safetensors", ARCH(DENSE("3")), "optimizer.state9.dense.bias")),
                   "state9.safetensors", "\"optimizer.state9.dense.bias\"");
    /* optimizer state of a parameter the model has (as checkpoints hold) is allowed */
    m = dc_model_load(arch_file_extra("state1.safetensors", ARCH(DENSE("3")), "optimizer.state1.dense.bias"));
    CHECK(m != NULL);
    dc_model_free(m);
    /* JSON nested deeper than any model file: a clean format error, at cJSON's own limit and below it */
    for (int depth = 40; depth <= 200000; depth *= 50) {
        size_t len = (size_t)depth * 2 + 256;
        char *deep = malloc(len);
        int o = snprintf(deep, len, "%s", "{\"format\":\"deepc.sequential\",\"version\":1,\"input_shape\":[4],\"layers\":["
                                          DENSE("3") "],\"x\":");
        for (int i = 0; i < depth; i++) deep[o++] = '[';
        for (int i = 0; i < depth; i++) deep[o++] = ']';
        snprintf(deep + o, len - (size_t)o, "}");
        CHECK_NULL_ERR(dc_model_load(arch_file("deep.safetensors", deep)), "deep.safetensors", "deepc.model", "nested deeper than");
        free(deep);
    }
    /* more layers than a model holds: refused before any is read */
    {
        size_t len = 100001 * 3 + 256;
        char *many = malloc(len);
        int o = snprintf(many, len, "{\"format\":\"deepc.sequential\",\"version\":1,\"input_shape\":[4],\"layers\":[");
        for (int i = 0; i < 100001; i++) o += snprintf(many + o, len - (size_t)o, "%s{}", i ? "," : "");
        snprintf(many + o, len - (size_t)o, "]}");
        CHECK_NULL_ERR(dc_model_load(arch_file("many.safetensors", many)), "many.safetensors", "100001 layers", "at most 100000");
        free(many);
    }
    /* not a safetensors file at all */
    CHECK_NULL_ERR(dc_model_load(write_file("text.safetensors", "hello", 5, false)), "text.safetensors");
    CHECK_NULL_ERR(dc_model_load(in_dir("absent.safetensors")), "absent.safetensors");
}

/* ---- checkpoints: resume equals never stopping ---- */
typedef struct run {
    dc_tensor *x, *y;
} run;

static dc_model *ckpt_model_seed(int opt, uint64_t seed) {
    dc_model *m = mlp(seed, false);
    dc_optimizer *o = opt == 0 ? dc_adam(0.01f, 0.9f, 0.999f, 1e-7f) : dc_sgd(0.05f, 0.9f, false);
    CHECK(dc_model_compile(m, o, DC_LOSS_SPARSE_CCE, (dc_metric[]){DC_METRIC_ACCURACY}, 1) == DC_OK);
    return m;
}

static dc_model *ckpt_model(int opt) { return ckpt_model_seed(opt, 11); }

static dc_fit_opts ckpt_opts(int epochs) {
    dc_fit_opts o = dc_fit_defaults();
    o.epochs = epochs;
    o.batch_size = 24;
    o.validation_split = 0.25f;
    o.verbose = 0;
    o.seed = 1234;
    return o;
}

static bool same_weights(dc_model *a, dc_model *b) {
    if (dc_model_param_buffer_size(a) != dc_model_param_buffer_size(b)) return false;
    if (memcmp(dc_model_params(a), dc_model_params(b), (size_t)dc_model_param_buffer_size(a) * 4) != 0) return false;
    return same_tensor(dc_model_param(a, "batch_normalization.running_mean"), dc_model_param(b, "batch_normalization.running_mean")) &&
           same_tensor(dc_model_param(a, "batch_normalization.running_var"), dc_model_param(b, "batch_normalization.running_var"));
}

static bool same_history(const dc_history *a, const dc_history *b, int epochs) {
    if (dc_history_epochs(a) != epochs || dc_history_epochs(b) != epochs) return false;
    const char *keys[] = {"loss", "accuracy", "val_loss", "val_accuracy"};
    for (int k = 0; k < 4; k++) {
        const double *va = dc_history_get(a, keys[k]), *vb = dc_history_get(b, keys[k]);
        if (!va || !vb || memcmp(va, vb, (size_t)epochs * sizeof(double)) != 0) {
            for (int e = 0; va && vb && e < epochs; e++) fprintf(stderr, "%s[%d] %.17g %.17g\n", keys[k], e, va[e], vb[e]);
            return false;
        }
    }
    return true;
}

static void test_resume(void) {
    dc_tensor *x = randn(2, (int64_t[]){160, 12}), *y = labels3(x);
    for (int opt = 0; opt < 2; opt++) {
        /* uninterrupted: 5 epochs */
        dc_model *a = ckpt_model(opt);
        dc_fit_opts o = ckpt_opts(5);
        dc_history *ha = NULL;
        CHECK(dc_model_fit(a, x, y, &o, &ha) == DC_OK);
        /* interrupted after epoch 2, then resumed in a new model object */
        dc_model *b = ckpt_model(opt);
        o = ckpt_opts(2);
        dc_callback *run_cb = dc_checkpoint_callback(in_dir("run.ckpt"), 1, false);
        o.callbacks = &run_cb;
        o.ncallbacks = 1;
        CHECK(dc_model_fit(b, x, y, &o, NULL) == DC_OK);
        dc_callback_free(run_cb);
        dc_model_free(b);
        dc_model *c = ckpt_model(opt);
        CHECK(dc_model_load_checkpoint(c, in_dir("run.ckpt")) == DC_OK);
        o = ckpt_opts(5);
        dc_history *hc = NULL;
        CHECK(dc_model_fit(c, x, y, &o, &hc) == DC_OK);
        CHECK(same_weights(a, c));
        CHECK(same_history(ha, hc, 5));
        dc_model_free(c);
        dc_history_free(hc);

        /* the same through the checkpoint callback's resume: the first run writes every epoch
         * and stops after 3; rerunning the program (a new model) continues from the file */
        remove(in_dir("auto.ckpt"));
        dc_model *d = ckpt_model(opt);
        o = ckpt_opts(3);
        dc_callback *auto_cb = dc_checkpoint_callback(in_dir("auto.ckpt"), 1, true);
        o.callbacks = &auto_cb;
        o.ncallbacks = 1;
        CHECK(dc_model_fit(d, x, y, &o, NULL) == DC_OK);
        dc_model_free(d);
        d = ckpt_model(opt);
        o.epochs = 5;
        CHECK(dc_model_fit(d, x, y, &o, &hc) == DC_OK);
        CHECK(same_weights(a, d));
        CHECK(same_history(ha, hc, 5));
        dc_history_free(hc);
        /* a finished run resumed again has nothing left to do */
        dc_model_free(d);
        d = ckpt_model(opt);
        CHECK(dc_model_fit(d, x, y, &o, &hc) == DC_OK);
        CHECK(same_weights(a, d) && dc_history_epochs(hc) == 5);
        dc_history_free(hc);
        dc_callback_free(auto_cb);
        dc_model_free(d);
        dc_history_free(ha);
        dc_model_free(a);
    }
    /* mismatches are refused with the numbers */
    dc_model *s = ckpt_model(0); /* run.ckpt is the SGD run's */
    CHECK_ERR(dc_model_load_checkpoint(s, in_dir("run.ckpt")), DC_ERR_STATE, "run.ckpt", "SGD", "Adam");
    dc_model_free(s);
    dc_model *a = ckpt_model(1);
    CHECK(dc_model_load_checkpoint(a, in_dir("run.ckpt")) == DC_OK);
    dc_fit_opts o = ckpt_opts(5);
    o.batch_size = 16;
    CHECK_ERR(dc_model_fit(a, x, y, &o, NULL), DC_ERR_ARG, "checkpoint", "batches of 24", "batches of 16");
    dc_model_free(a);
    a = mlp(1, false);
    CHECK_ERR(dc_model_load_checkpoint(a, in_dir("run.ckpt")), DC_ERR_STATE, "compile");
    dc_model_free(a);
    a = ckpt_model(0);
    CHECK(dc_model_save(a, in_dir("plain.safetensors")) == DC_OK);
    CHECK_ERR(dc_model_load_checkpoint(a, in_dir("plain.safetensors")), DC_ERR_FORMAT, "plain.safetensors", "not a training checkpoint");
    CHECK_ERR(dc_checkpoint_callback(NULL, 1, true) == NULL ? dc_last_status() : DC_OK, DC_ERR_ARG, "dc_checkpoint_callback", "path");
    o = ckpt_opts(2);
    o.ncallbacks = 1; /* a count without the array */
    CHECK_ERR(dc_model_fit(a, x, y, &o, NULL), DC_ERR_ARG, "fit", "1 callbacks");
    dc_model_free(a);
    dc_tensor_free(x);
    dc_tensor_free(y);
}

/* Copies the safetensors file src to dst with element elem of tensor `tensor` set to v (tensor
 * NULL: none) and metadata key `key` set to `value` (key NULL: none); the deepc keys are kept. */
static void rewrite(const char *src, const char *dst, const char *tensor, int64_t elem, float v, const char *key, const char *value) {
    dc_safetensors *st = dc_safetensors_open(src);
    CHECK(st != NULL);
    if (!st) return;
    int n = dc_safetensors_count(st);
    const char **names = calloc((size_t)n, sizeof *names);
    dc_tensor **ts = calloc((size_t)n, sizeof *ts);
    for (int i = 0; i < n; i++) {
        names[i] = dc_safetensors_name(st, i);
        ts[i] = dc_safetensors_read(st, names[i]);
        if (tensor && strcmp(names[i], tensor) == 0) dc_tensor_data(ts[i])[elem] = v;
    }
    const char *all[] = {"deepc.model", "deepc.checkpoint", "deepc.history"}, *keys[3], *vals[3];
    int nm = 0;
    for (int k = 0; k < 3; k++) {
        const char *val = key && strcmp(key, all[k]) == 0 ? value : dc_safetensors_meta(st, all[k]);
        if (val) keys[nm] = all[k], vals[nm++] = val;
    }
    CHECK(dc_safetensors_save(dst, n, names, (const dc_tensor *const *)ts, DC_DTYPE_F32, nm, keys, vals) == DC_OK);
    for (int i = 0; i < n; i++) dc_tensor_free(ts[i]);
    free(ts);
    free(names);
    dc_safetensors_close(st);
}

static int occurrences(const char *text, const char *word) {
    int n = 0;
    for (const char *p = strstr(text, word); p; p = strstr(p + 1, word)) n++;
    return n;
}

/* ---- checkpoints written before any fit: after compile, after dc_model_train_step ---- */
static void test_early_checkpoint(void) {
    dc_tensor *x = randn(2, (int64_t[]){96, 12}), *y = labels3(x);
    dc_tensor *xb = randn(2, (int64_t[]){24, 12}), *yb = labels3(xb);
    for (int opt = 0; opt < 2; opt++) {
        /* compiled only: the restored model is the original, and its first fit starts afresh */
        dc_model *a = ckpt_model(opt), *b = ckpt_model_seed(opt, 77);
        CHECK(dc_model_save_checkpoint(a, in_dir("compiled.ckpt")) == DC_OK);
        CHECK(dc_model_load_checkpoint(b, in_dir("compiled.ckpt")) == DC_OK);
        CHECK(same_weights(a, b) && dc_model_epoch(b) == 0);
        dc_fit_opts o = ckpt_opts(2);
        dc_history *ha = NULL, *hb = NULL;
        CHECK(dc_model_fit(a, x, y, &o, &ha) == DC_OK);
        CHECK(dc_model_fit(b, x, y, &o, &hb) == DC_OK);
        CHECK(same_weights(a, b) && same_history(ha, hb, 2));
        dc_history_free(ha);
        dc_history_free(hb);
        dc_model_free(a);
        dc_model_free(b);

        /* after train_step: the optimiser's state and step count come back, so the next step is
         * the same bit for bit (Adam's bias correction reads the step count) */
        a = ckpt_model(opt);
        b = ckpt_model_seed(opt, 78);
        float la = 0, lb = 0;
        CHECK(dc_model_train_step(a, xb, yb, &la) == DC_OK && dc_model_train_step(a, x, y, &la) == DC_OK);
        CHECK(dc_model_save_checkpoint(a, in_dir("stepped.ckpt")) == DC_OK);
        CHECK(dc_model_load_checkpoint(b, in_dir("stepped.ckpt")) == DC_OK);
        CHECK(same_weights(a, b));
        CHECK(dc_model_train_step(a, xb, yb, &la) == DC_OK && dc_model_train_step(b, xb, yb, &lb) == DC_OK);
        CHECK(la == lb && same_weights(a, b));
        /* and a fit of any size follows (nothing to resume) */
        CHECK(dc_model_fit(a, x, y, &o, &ha) == DC_OK);
        CHECK(dc_model_fit(b, x, y, &o, &hb) == DC_OK);
        CHECK(same_weights(a, b) && same_history(ha, hb, 2));
        dc_history_free(ha);
        dc_history_free(hb);
        dc_model_free(a);
        dc_model_free(b);
    }
    /* a checkpoint that claims a fit of 0 rows after some epochs is inconsistent */
    dc_model *m = ckpt_model(0);
    CHECK(dc_model_save_checkpoint(m, in_dir("compiled.ckpt")) == DC_OK);
    dc_safetensors *st = dc_safetensors_open(in_dir("compiled.ckpt"));
    char ck[512];
    snprintf(ck, sizeof ck, "%s", st ? dc_safetensors_meta(st, "deepc.checkpoint") : "");
    dc_safetensors_close(st);
    char *e = strstr(ck, "\"epoch\":0");
    CHECK(e != NULL);
    if (e) e[8] = '3';
    rewrite(in_dir("compiled.ckpt"), in_dir("rows0.ckpt"), NULL, 0, 0, "deepc.checkpoint", ck);
    CHECK_ERR(dc_model_load_checkpoint(m, in_dir("rows0.ckpt")), DC_ERR_FORMAT, "rows0.ckpt", "\"rows\" 0", "\"epoch\" 3", "do not agree");
    dc_model_free(m);
    dc_tensor_free(x);
    dc_tensor_free(y);
    dc_tensor_free(xb);
    dc_tensor_free(yb);
}

/* ---- state tensors outside their domain: a negative variance ---- */
static void test_state_domain(void) {
    dc_model *a = ckpt_model(0);
    const char *rv = "batch_normalization.running_var";
    CHECK(dc_model_save(a, in_dir("bn.safetensors")) == DC_OK);
    CHECK(dc_model_save_checkpoint(a, in_dir("bn.ckpt")) == DC_OK);
    rewrite(in_dir("bn.safetensors"), in_dir("negvar.safetensors"), rv, 2, -0.5f, NULL, NULL);
    rewrite(in_dir("bn.ckpt"), in_dir("negvar.ckpt"), rv, 2, -0.5f, NULL, NULL);
    CHECK_NULL_ERR(dc_model_load(in_dir("negvar.safetensors")), "negvar.safetensors", rv, "element 2", "-0.5", ">= 0");
    CHECK(dc_last_status() == DC_ERR_NUMERIC);
    dc_model *b = ckpt_model_seed(0, 5);
    CHECK_ERR(dc_model_load_weights(b, in_dir("negvar.safetensors"), false), DC_ERR_NUMERIC, "negvar.safetensors", rv, "element 2",
              "-0.5");
    CHECK_ERR(dc_model_load_checkpoint(b, in_dir("negvar.ckpt")), DC_ERR_NUMERIC, "negvar.ckpt", rv, "element 2", "-0.5");
    CHECK(!same_weights(a, b)); /* nothing was loaded */
    /* a variance of 0 is in the domain */
    rewrite(in_dir("bn.safetensors"), in_dir("zerovar.safetensors"), rv, 2, 0.0f, NULL, NULL);
    dc_model *c = dc_model_load(in_dir("zerovar.safetensors"));
    CHECK(c != NULL);
    dc_model_free(c);
    dc_model_free(b);
    dc_model_free(a);
}

/* ---- a bad history names its place once ---- */
static void test_history_message(void) {
    dc_tensor *x = randn(2, (int64_t[]){64, 12}), *y = labels3(x);
    dc_model *m = ckpt_model(0);
    dc_fit_opts o = ckpt_opts(2);
    CHECK(dc_model_fit(m, x, y, &o, NULL) == DC_OK);
    CHECK(dc_model_save_checkpoint(m, in_dir("k21.safetensors")) == DC_OK);
    rewrite(in_dir("k21.safetensors"), in_dir("k21.safetensors"), NULL, 0, 0, "deepc.history",
            "{\"epochs\":2,\"series\":[{\"name\":\"loss\",\"values\":[1,\"x\"]}]}");
    CHECK_ERR(dc_model_load_checkpoint(m, in_dir("k21.safetensors")), DC_ERR_FORMAT, "k21.safetensors: history: ", "loss",
              "numbers or null");
    CHECK(occurrences(dc_last_error(), "k21.safetensors") == 1 && occurrences(dc_last_error(), "history") == 1);
    rewrite(in_dir("k21.safetensors"), in_dir("k21.safetensors"), NULL, 0, 0, "deepc.history", "{\"epochs\":5,\"series\":[]}");
    CHECK_ERR(dc_model_load_checkpoint(m, in_dir("k21.safetensors")), DC_ERR_FORMAT, "k21.safetensors: history: ", "epoch 2");
    CHECK(occurrences(dc_last_error(), "k21.safetensors") == 1 && occurrences(dc_last_error(), "history") == 1);
    dc_model_free(m);
    dc_tensor_free(x);
    dc_tensor_free(y);
}

/* ---- loading is linear in the layer count ---- */
/* This thread's CPU time: other processes on the machine do not count. */
static double cpu_seconds(void) {
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* Builds and saves a model of n Activation layers (graph: wired by name) and loads it twice; the
 * CPU seconds of the second load (the first grows the heap: the first touch of new memory costs
 * more than the work). */
static double deep_model_load(int n, bool graph) {
    dc_model *m = dc_sequential();
    if (graph) {
        int prev = dc_model_input(m, "in", 1, (int64_t[]){4});
        for (int i = 0; i < n; i++) prev = dc_model_apply(m, dc_activation_layer(DC_ACT_RELU), 1, &prev);
    } else {
        dc_model_add(m, dc_input(1, (int64_t[]){4}));
        for (int i = 0; i < n; i++) dc_model_add(m, dc_activation_layer(DC_ACT_RELU));
    }
    CHECK(dc_model_build(m, 0, NULL) == DC_OK);
    char last[48];
    snprintf(last, sizeof last, "activation_%d", n - 1);
    CHECK(strcmp(dc_layer_name(dc_model_layer(m, n)), last) == 0);
    CHECK(dc_model_save(m, in_dir("deep.safetensors")) == DC_OK);
    dc_model_free(m);
    m = dc_model_load(in_dir("deep.safetensors"));
    CHECK(m && dc_model_num_layers(m) == n + 1);
    dc_model_free(m);
    double t = cpu_seconds();
    m = dc_model_load(in_dir("deep.safetensors"));
    t = cpu_seconds() - t;
    CHECK(m && dc_model_num_layers(m) == n + 1);
    dc_model_free(m);
    return t;
}

static void test_many_layers(void) {
    for (int graph = 0; graph < 2; graph++) {
        double t10 = deep_model_load(10000, graph), t40 = deep_model_load(40000, graph);
        /* the times are shown, not asserted: a test's timing depends on the machine's load (speed
         * belongs to benchmarks); the loads themselves, names and counts are checked above */
        printf("%s: loading 10000 layers %.3f s, 40000 layers %.3f s of CPU\n", graph ? "graph" : "sequential", t10, t40);
    }
    /* automatic names skip the names users gave */
    dc_model *m = dc_sequential();
    dc_model_add(m, dc_input(1, (int64_t[]){4}));
    dc_layer *l = dc_dense(2, DC_ACT_NONE);
    dc_layer_set_name(l, "dense_1");
    dc_model_add(m, l);
    dc_model_add(m, dc_dense(2, DC_ACT_NONE));
    dc_model_add(m, dc_dense(2, DC_ACT_NONE));
    CHECK(strcmp(dc_layer_name(dc_model_layer(m, 2)), "dense_2") == 0 && strcmp(dc_layer_name(dc_model_layer(m, 3)), "dense_3") == 0);
    l = dc_dense(2, DC_ACT_NONE);
    dc_layer_set_name(l, "dense_2");
    CHECK_ERR(dc_model_add(m, l), DC_ERR_ARG, "dense_2", "already in the model (layer 2)");
    dc_model_free(m);
    /* a layer renamed inside the model (before it is built) to another's name is caught by build */
    m = dc_sequential();
    dc_model_add(m, dc_dense(2, DC_ACT_NONE));
    dc_model_add(m, dc_dense(2, DC_ACT_NONE));
    CHECK(dc_layer_set_name(dc_model_layer(m, 1), "dense") == DC_OK);
    CHECK_ERR(dc_model_build(m, 1, (int64_t[]){4}), DC_ERR_ARG, "\"dense\"", "layers 0 and 1");
    dc_model_free(m);
}

/* ---- the best model is the one of the best epoch ---- */
static void test_best(void) {
    dc_tensor *x = randn(2, (int64_t[]){200, 12}), *y = labels3(x);
    dc_tensor *vx = randn(2, (int64_t[]){60, 12}), *vy = labels3(vx);
    dc_model *m = ckpt_model(0);
    dc_fit_opts o = ckpt_opts(6);
    o.validation_split = 0;
    o.val_x = vx;
    o.val_y = vy;
    dc_callback *best_cb = dc_best_model_callback(in_dir("best.safetensors"), NULL);
    o.callbacks = &best_cb;
    o.ncallbacks = 1;
    dc_history *h = NULL;
    CHECK(dc_model_fit(m, x, y, &o, &h) == DC_OK);
    const double *vl = dc_history_get(h, "val_loss");
    double best = INFINITY;
    for (int e = 0; vl && e < 6; e++) best = fmin(best, vl[e]);
    dc_model *b = dc_model_load(in_dir("best.safetensors"));
    CHECK(b != NULL);
    double r[2] = {0, 0};
    if (b) CHECK(dc_model_evaluate(b, vx, vy, 32, r) == DC_OK);
    CHECK_NEAR(r[0], best, 1e-6);
    dc_callback *recall_cb = dc_best_model_callback(in_dir("best.safetensors"), "val_recall");
    o.callbacks = &recall_cb;
    CHECK_ERR(dc_model_fit(m, x, y, &o, NULL), DC_ERR_ARG, "val_recall");
    dc_callback_free(recall_cb);
    dc_callback_free(best_cb);
    dc_history_free(h);
    dc_model_free(b);
    dc_model_free(m);
    dc_tensor_free(x);
    dc_tensor_free(y);
    dc_tensor_free(vx);
    dc_tensor_free(vy);
}

/* ---- writers that die: kill -9 mid-write, a full disk, a directory that cannot be written ---- */
static dc_model *big_model(void) {
    dc_model *m = dc_sequential();
    dc_model_add(m, dc_input(1, (int64_t[]){512}));
    dc_model_add(m, dc_dense(512, DC_ACT_RELU));
    dc_model_add(m, dc_dense(512, DC_ACT_NONE));
    dc_model_compile(m, dc_adam(1e-3f, 0.9f, 0.999f, 1e-7f), DC_LOSS_MSE, NULL, 0);
    return m;
}

static void fill(dc_model *m, float v) {
    float *p = dc_model_params(m);
    for (int64_t i = 0; i < dc_model_param_buffer_size(m); i++) p[i] = v;
}

/* The file loads, and every value in it is the same one: no mix of two writes. Returns it. */
static float load_uniform(const char *path) {
    dc_model *m = dc_model_load(path);
    if (!m) return NAN;
    float v = dc_tensor_data(dc_model_param(m, "dense_1.weight"))[0];
    bool same = true;
    for (int l = 0; l < 2; l++) {
        dc_tensor *w = dc_model_param(m, l ? "dense_1.weight" : "dense.weight");
        for (int64_t i = 0; i < dc_tensor_numel(w); i++) same &= dc_tensor_data(w)[i] == v;
    }
    dc_model_free(m);
    return same ? v : NAN;
}

static int count_tmp_files(void) {
    DIR *d = opendir(dir);
    int n = 0;
    struct dirent *e;
    while (d && (e = readdir(d)))
        if (strstr(e->d_name, "killed.safetensors.tmp.")) n++;
    if (d) closedir(d);
    return n;
}

static void test_killed_writer(void) {
    const char *path = in_dir("killed.safetensors");
    dc_model *m = big_model();
    fill(m, 0.0f);
    CHECK(dc_model_save(m, path) == DC_OK);
    int interrupted = 0;
    for (int round = 0; round < 12; round++) {
        pid_t pid = fork();
        if (pid == 0) { /* the writer: saves versions 1, 2, 3, ... until killed */
            for (int v = 1;; v++) {
                fill(m, (float)v);
                if (dc_model_save(m, path)) _exit(3);
            }
        }
        struct timespec ts = {0, (long)(1 + round * 3) * 1000000L};
        nanosleep(&ts, NULL);
        kill(pid, SIGKILL);
        int status = 0;
        waitpid(pid, &status, 0);
        interrupted += WIFSIGNALED(status);
        float v = load_uniform(path);
        CHECK(v == v); /* loads, and holds exactly one version */
    }
    CHECK(interrupted == 12);
    /* a kill mid-write leaves "<path>.tmp.<pid>"; the next write clears those of dead writers */
    fill(m, 7.0f);
    CHECK(dc_model_save(m, path) == DC_OK);
    CHECK(count_tmp_files() == 0);
    CHECK(load_uniform(path) == 7.0f);

    /* a full disk, simulated by a file-size limit: the write fails, the old file stays */
    pid_t pid = fork();
    if (pid == 0) {
        signal(SIGXFSZ, SIG_IGN);
        struct rlimit rl = {64 * 1024, 64 * 1024};
        setrlimit(RLIMIT_FSIZE, &rl);
        fill(m, 8.0f);
        dc_status s = dc_model_save(m, path);
        bool named = strstr(dc_last_error(), "killed.safetensors") && strstr(dc_last_error(), "large");
        _exit(s == DC_ERR_IO && named ? 0 : 1);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    CHECK(load_uniform(path) == 7.0f);
    CHECK(count_tmp_files() == 0);

    /* directories that cannot be written */
    CHECK_ERR(dc_model_save(m, in_dir("no/such/dir/m.safetensors")), DC_ERR_IO, "no/such/dir/m.safetensors");
    const char *ro = geteuid() == 0 ? "/proc/deepc-test.safetensors" : NULL;
    if (!ro) {
        mkdir(in_dir("ro"), 0500);
        ro = in_dir("ro/m.safetensors");
    }
    CHECK_ERR(dc_model_save(m, ro), DC_ERR_IO, ro);
    /* a checkpoint that fails to write stops fit with the error, keeping the last good file */
    dc_tensor *x = randn(2, (int64_t[]){8, 512}), *y = randn(2, (int64_t[]){8, 512});
    dc_fit_opts o = dc_fit_defaults();
    o.verbose = 0;
    dc_callback *cb = dc_checkpoint_callback(in_dir("no/such/dir/c.ckpt"), 1, false);
    o.callbacks = &cb;
    o.ncallbacks = 1;
    CHECK_ERR(dc_model_fit(m, x, y, &o, NULL), DC_ERR_IO, "epoch 1", "checkpoint", "c.ckpt");
    dc_callback_free(cb);
    dc_tensor_free(x);
    dc_tensor_free(y);
    dc_model_free(m);
}

/* ---- fit stops on a gradient that overflows although the loss is finite ---- */
static void test_nonfinite_gradient(void) {
    dc_model *m = dc_sequential();
    dc_model_add(m, dc_input(1, (int64_t[]){1}));
    dc_layer *d = dc_dense(1, DC_ACT_NONE);
    dc_layer_set_name(d, "out");
    dc_model_add(m, d);
    dc_model_compile(m, dc_sgd(1e-3f, 0, false), DC_LOSS_MSE, NULL, 0);
    dc_tensor_fill(dc_model_param(m, "out.weight"), 1.0f);
    /* prediction 1.5e19: loss 2.25e38 (finite), d loss / d w = 2 x^2 = 4.5e38 (overflow) */
    dc_tensor *x = dc_tensor_new(2, (int64_t[]){1, 1}), *y = dc_tensor_new(2, (int64_t[]){1, 1});
    dc_tensor_fill(x, 1.5e19f);
    dc_fit_opts o = dc_fit_defaults();
    o.verbose = 0;
    CHECK_ERR(dc_model_fit(m, x, y, &o, NULL), DC_ERR_NUMERIC, "gradient of out.weight", "non-finite", "epoch 1", "batch 1");
    dc_tensor_free(x);
    dc_tensor_free(y);
    dc_model_free(m);
}

/* ---- weights from PyTorch (scripts/golden/gen_torch_exchange.py) and back ---- */
static dc_model *torch_net(void) {
    dc_model *m = dc_sequential();
    dc_model_add(m, dc_input(3, (int64_t[]){1, 8, 8}));
    dc_layer *l = dc_conv2d_layer(4, 3, 3, 1, DC_PAD_SAME, DC_ACT_RELU);
    dc_layer_set_name(l, "conv");
    dc_model_add(m, l);
    dc_model_add(m, dc_max_pool2d_layer(2, 2, 0));
    dc_model_add(m, dc_flatten());
    l = dc_dense(16, DC_ACT_TANH);
    dc_layer_set_name(l, "fc1");
    dc_model_add(m, l);
    l = dc_dense(3, DC_ACT_NONE);
    dc_layer_set_name(l, "fc2");
    dc_model_add(m, l);
    dc_model_compile(m, dc_sgd(0.05f, 0, false), DC_LOSS_MSE, NULL, 0);
    return m;
}

static void test_torch_exchange(const char *out_dir) {
    dc_model *m = torch_net();
    CHECK(dc_model_load_weights(m, "tests/golden/io/torch_net.safetensors", false) == DC_OK);
    dc_safetensors *io = dc_safetensors_open("tests/golden/io/torch_net_io.safetensors");
    CHECK(io != NULL);
    dc_tensor *x = io ? dc_safetensors_read(io, "x") : NULL, *y = io ? dc_safetensors_read(io, "y") : NULL;
    dc_tensor *p = x ? dc_model_predict(m, x, 8) : NULL;
    double err = p && y ? 0 : 1;
    for (int64_t i = 0; p && y && i < dc_tensor_numel(y); i++)
        err = fmax(err, fabs((double)dc_tensor_data(p)[i] - dc_tensor_data(y)[i]));
    CHECK(err < 1e-5);
    /* train it a little in deepc and hand it back: gen_torch_exchange.py --check DIR */
    if (out_dir && x && y) {
        dc_fit_opts o = dc_fit_defaults();
        o.verbose = 0;
        o.epochs = 3;
        dc_tensor *t = dc_tensor_new(2, (int64_t[]){5, 3});
        CHECK(dc_model_fit(m, x, t, &o, NULL) == DC_OK);
        dc_tensor *q = dc_model_predict(m, x, 8);
        char path[512];
        snprintf(path, sizeof path, "%s/deepc_net.safetensors", out_dir);
        CHECK(dc_model_save(m, path) == DC_OK);
        snprintf(path, sizeof path, "%s/deepc_net_io.safetensors", out_dir);
        const char *names[] = {"x", "y"};
        const dc_tensor *ts[] = {x, q};
        CHECK(dc_safetensors_save(path, 2, names, ts, DC_DTYPE_F32, 0, NULL, NULL) == DC_OK);
        dc_tensor_free(q);
        dc_tensor_free(t);
    }
    dc_tensor_free(p);
    dc_tensor_free(x);
    dc_tensor_free(y);
    dc_safetensors_close(io);
    dc_model_free(m);
}

/* With a directory argument, also writes deepc_net.safetensors and its outputs there for
 * scripts/golden/gen_torch_exchange.py --check. */
int main(int argc, char **argv) {
    dc_rng_seed(&rng, 2024);
    if (!tmp_dir_create()) return 1;
    test_torch_exchange(argc > 1 ? argv[1] : NULL);
    test_round_trips();
    test_weight_errors();
    test_hostile_models();
    test_resume();
    test_early_checkpoint();
    test_state_domain();
    test_history_message();
    test_many_layers();
    test_best();
    test_killed_writer();
    test_nonfinite_gradient();
    tmp_dir_remove();
    return check_report("test_model_io");
}
