/* Transfer learning (issue 19): frozen layers (dc_layer_set_trainable) keep their weights, their
 * optimiser state and their BatchNormalization statistics bit-identical through fit, unfreezing
 * resumes training, the flag is saved; loading weights by name with its report and mapping
 * hook; and a PyTorch state_dict (scripts/golden/gen_golden_transfer.py) loaded under
 * PyTorch's names reproducing PyTorch's LSTM, GRU, RNN and BatchNorm1d outputs to 1e-5. */
#define _GNU_SOURCE
#include "check.h"
#include "tmpfiles.h"

static dc_rng rng;

static dc_tensor *randn(int ndim, const int64_t *shape) { return check_randn(&rng, ndim, shape); }

static dc_layer *named(dc_layer *l, const char *name) {
    dc_layer_set_name(l, name);
    return l;
}

static dc_layer *layer_named(dc_model *m, const char *name) {
    for (int i = 0; i < dc_model_num_layers(m); i++)
        if (strcmp(dc_layer_name(dc_model_layer(m, i)), name) == 0) return dc_model_layer(m, i);
    return NULL;
}

/* A copy of parameter `name`'s values. */
static float *snap(dc_model *m, const char *name) {
    dc_tensor *t = dc_model_param(m, name);
    if (!t) return NULL;
    size_t n = (size_t)dc_tensor_numel(t) * sizeof(float);
    float *c = malloc(n);
    if (c) memcpy(c, dc_tensor_data(t), n);
    return c;
}

static bool same(dc_model *m, const char *name, const float *was) {
    dc_tensor *t = dc_model_param(m, name);
    return t && was && memcmp(dc_tensor_data(t), was, (size_t)dc_tensor_numel(t) * sizeof(float)) == 0;
}

static dc_model *freeze_net(dc_optimizer *opt) {
    dc_model *m = dc_sequential();
    dc_model_add(m, dc_input(1, (int64_t[]){6}));
    dc_model_add(m, named(dc_dense(12, DC_ACT_RELU), "d1"));
    dc_model_add(m, named(dc_batch_norm_layer(0.1f, 1e-3f), "bn"));
    dc_model_add(m, named(dc_dense(8, DC_ACT_TANH), "d2"));
    dc_model_add(m, named(dc_dense(3, DC_ACT_NONE), "d3"));
    dc_model_set_seed(m, 5);
    CHECK(dc_model_compile(m, opt, DC_LOSS_MSE, NULL, 0) == DC_OK);
    return m;
}

static dc_status fit(dc_model *m, const dc_tensor *x, const dc_tensor *y, int epochs) {
    dc_fit_opts o = dc_fit_defaults();
    o.verbose = 0;
    o.epochs = epochs;
    o.batch_size = 8;
    return dc_model_fit(m, x, y, &o, NULL);
}

static const char *const frozen_names[] = {"d1.weight", "d1.bias", "bn.gamma", "bn.beta", "bn.running_mean", "bn.running_var"};
enum { NFROZEN = 6 };

/* d1 and bn frozen (after build, before the first step): bit-identical after fit, with momentum
 * and weight decay; d2 and d3 train; unfreezing resumes; the flag survives save and load. */
static void test_freeze(int which) {
    dc_optimizer *opt = which == 0 ? dc_sgd(0.05f, 0.9f, false) : dc_adamw(0.01f, 0.9f, 0.999f, 1e-7f, 0.05f);
    if (which == 0) dc_optimizer_set_weight_decay(opt, 0.01f);
    dc_model *m = freeze_net(opt);
    dc_tensor *x = randn(2, (int64_t[]){32, 6}), *y = randn(2, (int64_t[]){32, 3});
    const int64_t all = dc_model_trainable_count(m);
    CHECK(dc_layer_trainable(layer_named(m, "d1")));
    CHECK(dc_layer_set_trainable(layer_named(m, "d1"), false) == DC_OK);
    CHECK(dc_layer_set_trainable(layer_named(m, "bn"), false) == DC_OK);
    CHECK(!dc_layer_trainable(layer_named(m, "d1")));
    CHECK(dc_model_trainable_count(m) == all - (6 * 12 + 12) - 2 * 12);
    float *was[NFROZEN], *d2 = snap(m, "d2.weight"), *d3 = snap(m, "d3.bias");
    for (int i = 0; i < NFROZEN; i++) was[i] = snap(m, frozen_names[i]);
    CHECK(fit(m, x, y, 3) == DC_OK);
    for (int i = 0; i < NFROZEN; i++) {
        check_count++;
        if (!same(m, frozen_names[i], was[i])) {
            check_fails++;
            fprintf(stderr, "test_freeze(%d): frozen %s changed in fit\n", which, frozen_names[i]);
        }
    }
    CHECK(!same(m, "d2.weight", d2) && !same(m, "d3.bias", d3));
    /* saved and loaded with the flag */
    char path[128];
    snprintf(path, sizeof path, "%s/frozen%d.dcm", dir, which);
    CHECK(dc_model_save(m, path) == DC_OK);
    dc_model *r = dc_model_load(path);
    CHECK(r != NULL);
    if (r) {
        CHECK(!dc_layer_trainable(layer_named(r, "d1")) && !dc_layer_trainable(layer_named(r, "bn")));
        CHECK(dc_layer_trainable(layer_named(r, "d2")) && dc_layer_trainable(layer_named(r, "d3")));
        CHECK(dc_model_trainable_count(r) == dc_model_trainable_count(m));
        dc_model_free(r);
    }
    /* unfrozen: d1 and bn train again, the running statistics move */
    CHECK(dc_layer_set_trainable(layer_named(m, "d1"), true) == DC_OK);
    CHECK(dc_layer_set_trainable(layer_named(m, "bn"), true) == DC_OK);
    CHECK(dc_model_trainable_count(m) == all);
    CHECK(fit(m, x, y, 1) == DC_OK);
    for (int i = 0; i < NFROZEN; i++) CHECK(!same(m, frozen_names[i], was[i]));
    /* a frozen layer late in the model still passes gradients to those before it */
    float *d1 = snap(m, "d1.weight");
    free(d2);
    d2 = snap(m, "d2.weight");
    CHECK(dc_layer_set_trainable(layer_named(m, "d2"), false) == DC_OK);
    CHECK(fit(m, x, y, 1) == DC_OK);
    CHECK(same(m, "d2.weight", d2) && !same(m, "d1.weight", d1));
    /* everything frozen: fit runs and nothing moves */
    for (int i = 0; i < dc_model_num_layers(m); i++) dc_layer_set_trainable(dc_model_layer(m, i), false);
    CHECK(dc_model_trainable_count(m) == 0);
    free(d1);
    d1 = snap(m, "d1.weight");
    CHECK(fit(m, x, y, 1) == DC_OK);
    CHECK(same(m, "d1.weight", d1));
    CHECK_ERR(dc_layer_set_trainable(NULL, false), DC_ERR_ARG, "dc_layer_set_trainable");
    for (int i = 0; i < NFROZEN; i++) free(was[i]);
    free(d1);
    free(d2);
    free(d3);
    dc_tensor_free(x);
    dc_tensor_free(y);
    dc_model_free(m);
}

/* Frozen before build: the parameters are created without gradients. */
static void test_freeze_before_build(void) {
    dc_model *m = dc_sequential();
    dc_model_add(m, dc_input(1, (int64_t[]){4}));
    dc_layer *base = named(dc_dense(5, DC_ACT_RELU), "base");
    dc_layer_set_trainable(base, false);
    dc_model_add(m, base);
    dc_model_add(m, named(dc_dense(2, DC_ACT_NONE), "head"));
    CHECK(dc_model_compile(m, dc_sgd(0.1f, 0, false), DC_LOSS_MSE, NULL, 0) == DC_OK);
    CHECK(dc_model_trainable_count(m) == 12);
    dc_tensor *x = randn(2, (int64_t[]){16, 4}), *y = randn(2, (int64_t[]){16, 2});
    float *w = snap(m, "base.weight"), *h = snap(m, "head.weight");
    CHECK(fit(m, x, y, 2) == DC_OK);
    CHECK(same(m, "base.weight", w) && !same(m, "head.weight", h));
    free(w);
    free(h);
    dc_tensor_free(x);
    dc_tensor_free(y);
    dc_model_free(m);
}

static dc_model *small_net(const char *enc, int64_t enc_units, const char *head, int64_t head_units, bool bn) {
    dc_model *m = dc_sequential();
    dc_model_add(m, dc_input(1, (int64_t[]){3}));
    dc_model_add(m, named(dc_dense(enc_units, DC_ACT_RELU), enc));
    dc_model_add(m, named(dc_dense(head_units, DC_ACT_NONE), head));
    if (bn) dc_model_add(m, named(dc_batch_norm_layer(0.1f, 1e-3f), "bn"));
    CHECK(dc_model_build(m, 0, NULL) == DC_OK);
    return m;
}

static bool has(char **list, int n, const char *name) {
    for (int i = 0; i < n; i++)
        if (strcmp(list[i], name) == 0) return true;
    return false;
}

/* Renames "enc.*" to "encoder.*" and skips biases. */
static const char *rename_enc(const char *name, char *buf, size_t size, void *user) {
    (*(int *)user)++;
    if (strstr(name, ".bias")) return NULL;
    if (strncmp(name, "enc.", 4) == 0) {
        snprintf(buf, size, "encoder.%s", name + 4);
        return buf;
    }
    return name;
}

static void test_by_name(void) {
    dc_model *a = small_net("enc", 4, "head", 2, false);
    char path[128];
    snprintf(path, sizeof path, "%s/a.safetensors", dir);
    CHECK(dc_model_save_weights(a, path) == DC_OK);
    /* a new head and a BatchNormalization: enc loads, head is skipped, the rest is missing */
    dc_model *b = small_net("enc", 4, "new_head", 5, true);
    dc_weights_report r;
    float *nh = snap(b, "new_head.weight");
    CHECK(dc_model_load_weights_by_name(b, path, NULL, &r) == DC_OK);
    CHECK(r.nloaded == 2 && has(r.loaded, r.nloaded, "enc.weight") && has(r.loaded, r.nloaded, "enc.bias"));
    CHECK(r.nskipped == 2 && has(r.skipped, r.nskipped, "head.weight") && has(r.skipped, r.nskipped, "head.bias"));
    CHECK(r.nmissing == 6 && has(r.missing, r.nmissing, "new_head.weight") && has(r.missing, r.nmissing, "bn.running_var"));
    CHECK(same(b, "enc.weight", dc_tensor_data(dc_model_param(a, "enc.weight"))));
    CHECK(same(b, "new_head.weight", nh));
    dc_weights_report_free(&r);
    CHECK(r.nloaded == 0 && r.loaded == NULL);
    /* a shape that differs: DC_ERR_SHAPE naming both, nothing changed */
    dc_model *c = small_net("enc", 5, "head", 2, false);
    float *cw = snap(c, "enc.weight"), *ch = snap(c, "head.weight");
    CHECK_ERR(dc_model_load_weights_by_name(c, path, NULL, &r), DC_ERR_SHAPE, "enc.weight", "[4, 3]", "[5, 3]");
    CHECK(r.nloaded == 0 && same(c, "enc.weight", cw) && same(c, "head.weight", ch));
    /* the mapping hook: enc.* into encoder.*, biases skipped */
    dc_model *d = small_net("encoder", 4, "head", 2, false);
    float *db = snap(d, "encoder.bias");
    int calls = 0;
    dc_weights_opts o = {.map = rename_enc, .user = &calls};
    CHECK(dc_model_load_weights_by_name(d, path, &o, &r) == DC_OK);
    CHECK(calls == 4);
    CHECK(r.nloaded == 2 && has(r.loaded, r.nloaded, "encoder.weight") && has(r.loaded, r.nloaded, "head.weight"));
    CHECK(r.nskipped == 2 && has(r.skipped, r.nskipped, "enc.bias") && has(r.skipped, r.nskipped, "head.bias"));
    CHECK(r.nmissing == 2 && has(r.missing, r.nmissing, "encoder.bias"));
    CHECK(same(d, "encoder.weight", dc_tensor_data(dc_model_param(a, "enc.weight"))) && same(d, "encoder.bias", db));
    dc_weights_report_free(&r);
    /* a value that is not finite: DC_ERR_NUMERIC, nothing changed */
    dc_tensor *bad = dc_tensor_new(2, (int64_t[]){2, 4});
    dc_tensor_data(bad)[3] = NAN;
    const char *names[] = {"head.weight"};
    const dc_tensor *ts[] = {bad};
    snprintf(path, sizeof path, "%s/bad.safetensors", dir);
    CHECK(dc_safetensors_save(path, 1, names, ts, DC_DTYPE_F32, 0, NULL, NULL) == DC_OK);
    float *ah = snap(a, "head.weight");
    CHECK_ERR(dc_model_load_weights_by_name(a, path, NULL, NULL), DC_ERR_NUMERIC, "head.weight");
    CHECK(same(a, "head.weight", ah));
    CHECK_ERR(dc_model_load_weights_by_name(NULL, path, NULL, NULL), DC_ERR_ARG, "dc_model_load_weights_by_name");
    dc_tensor_free(bad);
    free(nh);
    free(cw);
    free(ch);
    free(db);
    free(ah);
    dc_model_free(a);
    dc_model_free(b);
    dc_model_free(c);
    dc_model_free(d);
}

/* Max of |got - want| / (1e-5 + 1e-5 |want|) over the elements: at most 1 passes. */
static double rel_err(const dc_tensor *got, dc_tensor *want) {
    if (!got || !want || dc_tensor_numel((dc_tensor *)got) != dc_tensor_numel(want)) return INFINITY;
    double e = 0;
    const float *g = dc_tensor_data((dc_tensor *)got), *w = dc_tensor_data(want);
    for (int64_t i = 0; i < dc_tensor_numel(want); i++) e = fmax(e, fabs((double)g[i] - w[i]) / (1e-5 + 1e-5 * fabs((double)w[i])));
    return e;
}

#define STATE "tests/golden/transfer/torch_state.safetensors"

static void check_torch(dc_model *m, const char *layer, int nparams, dc_safetensors *io, const char *xname, const char *yname) {
    dc_weights_report r;
    dc_weights_opts o = {.pytorch_names = true};
    dc_status s = dc_model_load_weights_by_name(m, STATE, &o, &r);
    CHECK(s == DC_OK);
    if (s) fprintf(stderr, "%s: %s\n", layer, dc_last_error());
    CHECK(r.nloaded == nparams && r.nmissing == 0);
    dc_weights_report_free(&r);
    dc_tensor *x = dc_safetensors_read(io, xname), *y = dc_safetensors_read(io, yname);
    dc_tensor *p = x ? dc_model_predict(m, x, 8) : NULL;
    double e = rel_err(p, y);
    check_count++;
    if (!(e <= 1)) {
        check_fails++;
        fprintf(stderr, "%s: deepc's output differs from PyTorch's: %g x (1e-5 + 1e-5 |y|)\n", layer, e);
    }
    dc_tensor_free(p);
    dc_tensor_free(x);
    dc_tensor_free(y);
    dc_model_free(m);
}

static dc_model *seq_net(dc_layer *l) {
    dc_model *m = dc_sequential();
    dc_model_add(m, dc_input(2, (int64_t[]){5, 4}));
    dc_model_add(m, l);
    CHECK(dc_model_build(m, 0, NULL) == DC_OK);
    return m;
}

static void test_pytorch(void) {
    dc_safetensors *io = dc_safetensors_open("tests/golden/transfer/torch_io.safetensors");
    CHECK(io != NULL);
    if (!io) return;
    check_torch(seq_net(named(dc_lstm_layer(6, true), "lstm")), "lstm", 3, io, "x", "y_lstm");
    check_torch(seq_net(named(dc_gru_layer(6, true), "gru")), "gru", 4, io, "x", "y_gru");
    check_torch(seq_net(named(dc_simple_rnn_layer(6, DC_ACT_TANH, true), "rnn")), "rnn", 3, io, "x", "y_rnn");
    dc_model *bn = dc_sequential();
    dc_model_add(bn, dc_input(1, (int64_t[]){7}));
    dc_model_add(bn, named(dc_batch_norm_layer(0.1f, 1e-3f), "bn"));
    CHECK(dc_model_build(bn, 0, NULL) == DC_OK);
    check_torch(bn, "bn", 4, io, "x_bn", "y_bn");
    /* without pytorch_names the recurrent tensors match nothing; BatchNormalization's aliases
     * apply always */
    dc_model *l = seq_net(named(dc_lstm_layer(6, true), "lstm"));
    dc_weights_report r;
    CHECK(dc_model_load_weights_by_name(l, STATE, NULL, &r) == DC_OK);
    CHECK(r.nloaded == 0 && r.nmissing == 3);
    dc_weights_report_free(&r);
    dc_model_free(l);
    /* LSTM's one bias needs both of PyTorch's */
    dc_tensor *b = dc_tensor_new(1, (int64_t[]){24});
    const char *names[] = {"lstm.bias_ih_l0"};
    const dc_tensor *ts[] = {b};
    char path[128];
    snprintf(path, sizeof path, "%s/half.safetensors", dir);
    CHECK(dc_safetensors_save(path, 1, names, ts, DC_DTYPE_F32, 0, NULL, NULL) == DC_OK);
    l = seq_net(named(dc_lstm_layer(6, true), "lstm"));
    dc_weights_opts o = {.pytorch_names = true};
    CHECK_ERR(dc_model_load_weights_by_name(l, path, &o, NULL), DC_ERR_FORMAT, "lstm.bias", "bias_ih_l0");
    dc_model_free(l);
    dc_tensor_free(b);
    dc_safetensors_close(io);
}

int main(void) {
    dc_rng_seed(&rng, 19);
    if (!tmp_dir_create()) return 1;
    test_freeze(0);
    test_freeze(1);
    test_freeze_before_build();
    test_by_name();
    test_pytorch();
    tmp_dir_remove();
    return check_report("test_transfer");
}
