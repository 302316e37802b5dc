/* The Keras-style workflow: build, compile, fit, evaluate, predict; the no-allocation
 * steady state; determinism; and every bad input answered with a clear error. */
#include "check.h"

#include <stdlib.h>

#if defined(__SANITIZE_ADDRESS__)
#define HAVE_MALLOC_HOOK 0
#else
#define HAVE_MALLOC_HOOK 1
/* Counts every allocation of the process (deepc, OpenBLAS, OpenMP, libc), not only deepc's. */
extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void *__libc_memalign(size_t, size_t);
static volatile long sys_allocs;
void *malloc(size_t n) {
    sys_allocs++;
    return __libc_malloc(n);
}
void *calloc(size_t a, size_t b) {
    sys_allocs++;
    return __libc_calloc(a, b);
}
void *realloc(void *p, size_t n) {
    sys_allocs++;
    return __libc_realloc(p, n);
}
void *aligned_alloc(size_t al, size_t n) {
    sys_allocs++;
    return __libc_memalign(al, n);
}
int posix_memalign(void **p, size_t al, size_t n) {
    sys_allocs++;
    *p = __libc_memalign(al, n);
    return *p ? 0 : 12;
}
#endif

static dc_rng rng;

/* A separable 3-class toy problem: the class is the argmax of three fixed projections. */
static void make_data(int64_t n, int64_t d, dc_tensor **x, dc_tensor **y) {
    *x = dc_tensor_new(2, (int64_t[]){n, d});
    *y = dc_tensor_new(1, (int64_t[]){n});
    float *X = dc_tensor_data(*x), *Y = dc_tensor_data(*y);
    for (int64_t i = 0; i < n; i++) {
        float s[3] = {0, 0, 0};
        for (int64_t j = 0; j < d; j++) {
            X[i * d + j] = dc_rng_normal(&rng);
            s[j % 3] += X[i * d + j];
        }
        Y[i] = (float)(s[0] > s[1] ? (s[0] > s[2] ? 0 : 2) : (s[1] > s[2] ? 1 : 2));
    }
}

static dc_model *mlp(int64_t d, uint64_t seed) {
    dc_model *m = dc_sequential();
    dc_model_set_seed(m, seed);
    dc_model_add(m, dc_input(1, (int64_t[]){d}));
    dc_model_add(m, dc_dense(32, DC_ACT_RELU));
    dc_model_add(m, dc_dropout_layer(0.1f));
    dc_model_add(m, dc_dense(3, DC_ACT_SOFTMAX));
    dc_metric met[] = {DC_METRIC_ACCURACY};
    dc_model_compile(m, dc_adam(1e-2f, 0.9f, 0.999f, 1e-7f), DC_LOSS_SPARSE_CCE, met, 1);
    return m;
}

static void test_workflow(void) {
    dc_tensor *x, *y;
    make_data(600, 12, &x, &y);
    dc_model *m = mlp(12, 1);
    CHECK(dc_model_param_count(m) == 12 * 32 + 32 + 32 * 3 + 3);
    CHECK(dc_model_param(m, "dense.weight") != NULL);
    CHECK(dc_model_param(m, "dense_1.bias") != NULL);
    CHECK_NULL_ERR(dc_model_param(m, "dense_9.weight"), "dense_9.weight");
    dc_fit_opts o = dc_fit_defaults();
    o.epochs = 15;
    o.batch_size = 32;
    o.validation_split = 0.2f;
    o.verbose = 0;
    dc_history *h = NULL;
    CHECK(dc_model_fit(m, x, y, &o, &h) == DC_OK);
    CHECK(h && dc_history_epochs(h) == 15);
    const double *acc = dc_history_get(h, "accuracy"), *vacc = dc_history_get(h, "val_accuracy");
    const double *loss = dc_history_get(h, "loss");
    CHECK(acc && vacc && loss && dc_history_get(h, "val_loss"));
    if (acc && vacc && loss) {
        CHECK(loss[14] < loss[0]);
        CHECK(acc[14] > 0.9);
        CHECK(vacc[14] > 0.85);
    }
    double res[2];
    CHECK(dc_model_evaluate(m, x, y, 100, res) == DC_OK);
    CHECK(res[1] > 0.9);
    dc_tensor *p = dc_model_predict(m, x, 64);
    CHECK(p && dc_tensor_dim(p, 0) == 600 && dc_tensor_dim(p, 1) == 3);
    if (p) {
        /* predictions are probabilities (the softmax is applied in predict) */
        float *P = dc_tensor_data(p);
        double s = P[0] + P[1] + P[2];
        CHECK_NEAR(s, 1.0, 1e-5);
        int64_t correct = 0;
        for (int64_t i = 0; i < 600; i++) {
            int64_t b = 0;
            for (int k = 1; k < 3; k++)
                if (P[i * 3 + k] > P[i * 3 + b]) b = k;
            correct += b == (int64_t)dc_tensor_data(y)[i];
        }
        CHECK_NEAR((double)correct / 600, res[1], 1e-9);
    }
    /* validation data given explicitly */
    o.validation_split = 0;
    o.val_x = x;
    o.val_y = y;
    o.epochs = 1;
    dc_history *h2 = NULL;
    CHECK(dc_model_fit(m, x, y, &o, &h2) == DC_OK);
    CHECK(h2 && dc_history_get(h2, "val_accuracy"));
    dc_history_free(h2);
    dc_history_free(h);
    dc_tensor_free(p);
    dc_model_free(m);
    dc_tensor_free(x);
    dc_tensor_free(y);
}

static void test_determinism(void) {
    dc_tensor *x, *y;
    make_data(200, 6, &x, &y);
    float *w[2];
    for (int r = 0; r < 2; r++) {
        dc_model *m = mlp(6, 5);
        dc_fit_opts o = dc_fit_defaults();
        o.epochs = 3;
        o.verbose = 0;
        CHECK(dc_model_fit(m, x, y, &o, NULL) == DC_OK);
        int64_t n = dc_model_param_count(m);
        w[r] = malloc((size_t)n * sizeof(float));
        dc_tensor *W = dc_model_param(m, "dense.weight");
        memcpy(w[r], dc_tensor_data(W), (size_t)dc_tensor_numel(W) * sizeof(float));
        dc_model_free(m);
    }
    CHECK(memcmp(w[0], w[1], 6 * 32 * sizeof(float)) == 0);
    free(w[0]);
    free(w[1]);
    dc_tensor_free(x);
    dc_tensor_free(y);
}

static void test_no_alloc_steady_state(void) {
    dc_tensor *x, *y;
    make_data(64, 20, &x, &y);
    dc_model *m = mlp(20, 2);
    float loss;
    for (int i = 0; i < 3; i++) CHECK(dc_model_train_step(m, x, y, &loss) == DC_OK);
    uint64_t before = dc_alloc_count();
#if HAVE_MALLOC_HOOK
    long sys_before = sys_allocs;
#endif
    for (int i = 0; i < 20; i++) CHECK(dc_model_train_step(m, x, y, &loss) == DC_OK);
    CHECK(dc_alloc_count() == before);
#if HAVE_MALLOC_HOOK
    long extra = sys_allocs - sys_before;
    CHECK(extra == 0);
    printf("steady-state training steps: %lu deepc allocations, %ld system allocations in 20 steps\n",
           (unsigned long)(dc_alloc_count() - before), extra);
#endif
    dc_model_free(m);
    dc_tensor_free(x);
    dc_tensor_free(y);
}

static void test_bad_input(void) {
    dc_tensor *x, *y;
    make_data(50, 8, &x, &y);
    dc_model *m = mlp(8, 3);
    dc_fit_opts o = dc_fit_defaults();
    o.verbose = 0;
    /* wrong feature count */
    dc_tensor *x5 = dc_tensor_new(2, (int64_t[]){50, 5});
    CHECK_ERR(dc_model_fit(m, x5, y, &o, NULL), DC_ERR_SHAPE, "dense", "expected input with 8 features, got 5");
    CHECK_NULL_ERR(dc_model_predict(m, x5, 10), "dense", "8 features, got 5");
    double res[2];
    CHECK_ERR(dc_model_evaluate(m, x5, y, 10, res), DC_ERR_SHAPE, "8 features");
    /* label out of range / not an integer */
    dc_tensor_data(y)[7] = 3;
    CHECK_ERR(dc_model_fit(m, x, y, &o, NULL), DC_ERR_ARG, "label 3", "row 7", "[0, 3)");
    dc_tensor_data(y)[7] = 1.5f;
    CHECK_ERR(dc_model_fit(m, x, y, &o, NULL), DC_ERR_ARG, "label 1.5", "row 7");
    dc_tensor_data(y)[7] = 1;
    /* NaN in the data */
    dc_tensor_data(x)[3 * 8 + 2] = NAN;
    CHECK_ERR(dc_model_fit(m, x, y, &o, NULL), DC_ERR_NUMERIC, "fit", "x");
    dc_tensor_data(x)[3 * 8 + 2] = 0;
    /* batch size 0, epochs 0, bad split, rows mismatch */
    o.batch_size = 0;
    CHECK_ERR(dc_model_fit(m, x, y, &o, NULL), DC_ERR_ARG, "batch_size", "0");
    o.batch_size = 8;
    o.epochs = 0;
    CHECK_ERR(dc_model_fit(m, x, y, &o, NULL), DC_ERR_ARG, "epochs");
    o.epochs = 1;
    o.validation_split = 1.0f;
    CHECK_ERR(dc_model_fit(m, x, y, &o, NULL), DC_ERR_ARG, "validation_split");
    o.validation_split = 0;
    dc_tensor *y49 = dc_tensor_new(1, (int64_t[]){49});
    CHECK_ERR(dc_model_fit(m, x, y49, &o, NULL), DC_ERR_SHAPE, "50 rows", "49");
    CHECK_ERR(dc_model_evaluate(m, x, y, 0, res), DC_ERR_ARG, "batch_size");
    CHECK_NULL_ERR(dc_model_predict(m, x, 0), "batch_size");
    CHECK_ERR(dc_model_fit(NULL, x, y, &o, NULL), DC_ERR_ARG, "NULL");
    /* one-hot targets with the wrong width for categorical cross-entropy */
    dc_model *mc = dc_sequential();
    dc_model_add(mc, dc_input(1, (int64_t[]){8}));
    dc_model_add(mc, dc_dense(3, DC_ACT_SOFTMAX));
    CHECK(dc_model_compile(mc, dc_sgd(0.1f, 0, false), DC_LOSS_CCE, NULL, 0) == DC_OK);
    dc_tensor *y4 = dc_tensor_new(2, (int64_t[]){50, 4});
    CHECK_ERR(dc_model_fit(mc, x, y4, &o, NULL), DC_ERR_SHAPE, "3 values per row", "4");
    /* compile without a known input shape; adding after build */
    dc_model *mn = dc_sequential();
    dc_model_add(mn, dc_dense(3, DC_ACT_NONE));
    CHECK_ERR(dc_model_compile(mn, dc_sgd(0.1f, 0, false), DC_LOSS_MSE, NULL, 0), DC_ERR_STATE, "input shape");
    CHECK(dc_model_build(mn, 1, (int64_t[]){4}) == DC_OK);
    CHECK_ERR(dc_model_add(mn, dc_dense(2, DC_ACT_NONE)), DC_ERR_STATE, "already built");
    /* bad layer and optimiser arguments */
    CHECK_NULL_ERR(dc_dense(0, DC_ACT_RELU), "units", "0");
    CHECK_NULL_ERR(dc_dropout_layer(1.0f), "rate");
    CHECK_NULL_ERR(dc_sgd(-1.0f, 0, false), "learning rate");
    CHECK_NULL_ERR(dc_adam(1e-3f, 1.0f, 0.999f, 1e-8f), "betas");
    CHECK_NULL_ERR(dc_input(0, NULL), "rank");
    /* a loss that diverges stops with the epoch and batch */
    dc_model *md = dc_sequential();
    dc_model_add(md, dc_input(1, (int64_t[]){8}));
    dc_model_add(md, dc_dense(1, DC_ACT_NONE));
    dc_model_compile(md, dc_sgd(1e6f, 0, false), DC_LOSS_MSE, NULL, 0);
    dc_tensor *yr = dc_tensor_new(2, (int64_t[]){50, 1});
    for (int i = 0; i < 50; i++) dc_tensor_data(yr)[i] = 100.0f * (float)i;
    o.epochs = 50;
    CHECK_ERR(dc_model_fit(md, x, yr, &o, NULL), DC_ERR_NUMERIC, "non-finite", "epoch", "batch");
    dc_model_free(md);
    dc_tensor_free(yr);
    dc_model_free(mn);
    dc_model_free(mc);
    dc_tensor_free(y4);
    dc_tensor_free(y49);
    dc_tensor_free(x5);
    dc_model_free(m);
    dc_tensor_free(x);
    dc_tensor_free(y);
}

static void test_clipping(void) {
    float w[2] = {0, 0};
    const float g[2] = {3, 4}; /* norm 5 */
    dc_optimizer *o = dc_sgd(1.0f, 0, false);
    CHECK(dc_optimizer_set_clipnorm(o, 1.0f) == DC_OK);
    CHECK(dc_optimizer_step(o, w, g, 2) == DC_OK);
    CHECK_NEAR(w[0], -0.6, 1e-6);
    CHECK_NEAR(w[1], -0.8, 1e-6);
    dc_optimizer_set_clipnorm(o, 0);
    CHECK(dc_optimizer_set_clipvalue(o, 2.0f) == DC_OK);
    w[0] = w[1] = 0;
    CHECK(dc_optimizer_step(o, w, g, 2) == DC_OK);
    CHECK(w[0] == -2.0f && w[1] == -2.0f);
    CHECK_ERR(dc_optimizer_set_clipnorm(o, -1.0f), DC_ERR_ARG, "clipnorm");
    CHECK_ERR(dc_optimizer_step(o, w, g, 3), DC_ERR_STATE, "2 parameters", "3");
    dc_optimizer_free(o);
}

static void test_ops_errors(void) {
    dc_ctx *c = dc_ctx_new();
    dc_tensor *a = dc_zeros(c, 2, (int64_t[]){2, 3}), *b = dc_zeros(c, 2, (int64_t[]){4, 5});
    CHECK_NULL_ERR(dc_add(c, a, b), "add", "[2, 3]", "[4, 5]");
    CHECK_NULL_ERR(dc_matmul(c, a, b), "matmul", "3 vs 4");
    CHECK_NULL_ERR(dc_reshape(c, a, 2, (int64_t[]){4, 2}), "reshape", "6 elements", "8 elements");
    CHECK_NULL_ERR(dc_slice(c, a, 1, 2, 5), "slice", "[2, 5)");
    CHECK_NULL_ERR(dc_transpose(c, a, 0, 3), "transpose");
    CHECK_NULL_ERR(dc_sum_axis(c, a, 2, false), "sum_axis", "axis 2");
    CHECK_NULL_ERR(dc_linear(c, a, b, NULL), "linear", "5 features");
    CHECK_NULL_ERR(dc_gather_rows(c, a, (int64_t[]){0, 2}, 2), "gather_rows", "index 2");
    dc_tensor *lab = dc_full(c, 1, (int64_t[]){2}, 3.0f);
    CHECK_NULL_ERR(dc_softmax_sparse_cce_loss(c, a, lab), "label 3", "[0, 3)");
    CHECK_NULL_ERR(dc_mse_loss(c, a, b), "mse", "[2, 3]", "[4, 5]");
    CHECK_NULL_ERR(dc_add(c, a, NULL), "add", "NULL");
    CHECK_NULL_ERR(dc_tensor_new(2, (int64_t[]){-1, 3}), "negative");
    CHECK_NULL_ERR(dc_tensor_new(2, (int64_t[]){INT64_MAX / 2, 4}), "too many elements");
    CHECK_ERR(dc_backward(c, a), DC_ERR_SHAPE, "one element");
    dc_ctx_free(c);
}

static void test_views_share_memory(void) {
    dc_ctx *c = dc_ctx_new();
    dc_tensor *a = dc_empty(c, 2, (int64_t[]){2, 3});
    for (int i = 0; i < 6; i++) dc_tensor_data(a)[i] = (float)i;
    dc_tensor *t = dc_transpose(c, a, 0, 1);
    CHECK(!dc_tensor_is_contiguous(t));
    CHECK(dc_tensor_get(t, (int64_t[]){2, 1}) == 5.0f);
    dc_tensor_set(t, (int64_t[]){0, 1}, 42.0f);
    CHECK(dc_tensor_data(a)[3] == 42.0f);
    dc_tensor *s = dc_slice(c, a, 1, 1, 3);
    CHECK(dc_tensor_get(s, (int64_t[]){1, 1}) == 5.0f);
    dc_tensor *r = dc_reshape(c, a, 1, (int64_t[]){-1});
    CHECK(dc_tensor_dim(r, 0) == 6 && dc_tensor_data(r) == dc_tensor_data(a));
    dc_ctx_free(c);
}

/* Binary (sigmoid + BCE) and categorical (one-hot + CCE) accuracy, MAE and MSE metrics,
 * checked against values computed here from dc_model_predict. */
static void test_metrics(void) {
    dc_tensor *x, *y;
    make_data(300, 6, &x, &y);
    dc_tensor *yb = dc_tensor_new(2, (int64_t[]){300, 1});
    for (int i = 0; i < 300; i++) dc_tensor_data(yb)[i] = dc_tensor_data(y)[i] == 0 ? 1.0f : 0.0f;
    dc_model *m = dc_sequential();
    dc_model_add(m, dc_input(1, (int64_t[]){6}));
    dc_model_add(m, dc_dense(16, DC_ACT_TANH));
    dc_model_add(m, dc_dense(1, DC_ACT_SIGMOID));
    dc_metric met[] = {DC_METRIC_ACCURACY, DC_METRIC_MAE, DC_METRIC_MSE};
    CHECK(dc_model_compile(m, dc_rmsprop(1e-2f, 0.9f, 1e-7f), DC_LOSS_BCE, met, 3) == DC_OK);
    dc_fit_opts o = dc_fit_defaults();
    o.epochs = 10;
    o.verbose = 0;
    CHECK(dc_model_fit(m, x, yb, &o, NULL) == DC_OK);
    double res[4];
    CHECK(dc_model_evaluate(m, x, yb, 64, res) == DC_OK);
    dc_tensor *p = dc_model_predict(m, x, 64);
    double acc = 0, mae = 0, mse = 0, bce = 0;
    for (int i = 0; p && i < 300; i++) {
        double q = dc_tensor_data(p)[i], t = dc_tensor_data(yb)[i];
        acc += (q > 0.5) == (t > 0.5);
        mae += fabs(q - t);
        mse += (q - t) * (q - t);
        bce -= t * log(q) + (1 - t) * log(1 - q);
    }
    CHECK_NEAR(res[0], bce / 300, 1e-4);
    CHECK_NEAR(res[1], acc / 300, 1e-9);
    CHECK_NEAR(res[2], mae / 300, 1e-5);
    CHECK_NEAR(res[3], mse / 300, 1e-5);
    CHECK(res[1] > 0.85);
    dc_tensor_free(p);
    dc_model_free(m);
    /* categorical: one-hot targets */
    dc_tensor *oh = dc_one_hot(y, 3);
    m = dc_sequential();
    dc_model_add(m, dc_input(1, (int64_t[]){6}));
    dc_model_add(m, dc_dense(3, DC_ACT_SOFTMAX));
    dc_metric met2[] = {DC_METRIC_ACCURACY};
    CHECK(dc_model_compile(m, dc_adagrad(0.1f, 0), DC_LOSS_CCE, met2, 1) == DC_OK);
    CHECK(dc_model_fit(m, x, oh, &o, NULL) == DC_OK);
    CHECK(dc_model_evaluate(m, x, oh, 64, res) == DC_OK);
    p = dc_model_predict(m, x, 300);
    acc = 0;
    for (int i = 0; p && i < 300; i++) {
        const float *r = dc_tensor_data(p) + i * 3;
        int b = r[1] > r[0] ? 1 : 0;
        b = r[2] > r[b] ? 2 : b;
        acc += b == (int)dc_tensor_data(y)[i];
    }
    CHECK_NEAR(res[1], acc / 300, 1e-9);
    CHECK(res[1] > 0.8);
    dc_tensor_free(p);
    dc_tensor_free(oh);
    dc_model_free(m);
    dc_tensor_free(yb);
    dc_tensor_free(x);
    dc_tensor_free(y);
}

/* A loss of the user's: mean squared error written with ops, and one that fails. */
static dc_tensor *user_mse(dc_ctx *c, dc_tensor *pred, dc_tensor *target, void *user) {
    (*(int *)user)++;
    return dc_mean(c, dc_square(c, dc_sub(c, pred, target)));
}
static dc_tensor *user_fails(dc_ctx *c, dc_tensor *pred, dc_tensor *target, void *user) {
    return dc_mean(c, dc_sub(c, pred, dc_reshape(c, target, 1, (int64_t[]){-1}))); /* shapes that do not broadcast */
}

static dc_model *linear(uint64_t seed) {
    dc_model *m = dc_sequential();
    dc_model_set_seed(m, seed);
    dc_model_add(m, dc_input(1, (int64_t[]){6}));
    dc_model_add(m, dc_dense(3, DC_ACT_NONE));
    return m;
}

/* Callbacks: one that stops training after epoch 2, one that fails at epoch 1. */
static dc_status stop_after_two(dc_callback *cb, dc_model *m, const dc_fit_opts *o, int epoch, bool *stop) {
    *stop = ++*(int *)cb->user == 2;
    return DC_OK;
}
static dc_status fail_at_one(dc_callback *cb, dc_model *m, const dc_fit_opts *o, int epoch, bool *stop) {
    return dc_error(DC_ERR_ARG, "callback refuses epoch %d", epoch + 1);
}

static void test_custom_loss_and_callbacks(void) {
    dc_tensor *x = dc_tensor_new(2, (int64_t[]){64, 6}), *y = dc_tensor_new(2, (int64_t[]){64, 3});
    for (int64_t i = 0; i < 64 * 6; i++) dc_tensor_data(x)[i] = dc_rng_normal(&rng);
    for (int64_t i = 0; i < 64 * 3; i++) dc_tensor_data(y)[i] = dc_rng_normal(&rng);
    dc_model *a = linear(3), *b = linear(3);
    int calls = 0;
    CHECK(dc_model_compile(a, dc_sgd(0.05f, 0, false), DC_LOSS_MSE, NULL, 0) == DC_OK);
    CHECK(dc_model_compile_custom(b, dc_sgd(0.05f, 0, false), user_mse, &calls, (dc_metric[]){DC_METRIC_MAE}, 1) == DC_OK);
    dc_fit_opts o = dc_fit_defaults();
    o.verbose = 0;
    o.epochs = 3;
    o.batch_size = 16;
    dc_history *ha = NULL, *hb = NULL;
    CHECK(dc_model_fit(a, x, y, &o, &ha) == DC_OK && dc_model_fit(b, x, y, &o, &hb) == DC_OK);
    CHECK(calls == 3 * 4); /* once per step */
    const float *wa = dc_tensor_data(dc_model_param(a, "dense.weight")), *wb = dc_tensor_data(dc_model_param(b, "dense.weight"));
    double worst = 0;
    for (int i = 0; i < 18; i++) worst = fmax(worst, fabs((double)wa[i] - wb[i]));
    CHECK(worst < 1e-6); /* the same loss, written with ops */
    CHECK_NEAR(dc_history_get(ha, "loss")[2], dc_history_get(hb, "loss")[2], 1e-6);
    CHECK(dc_history_get(hb, "mae") != NULL);
    /* a user loss that fails stops fit with its error */
    dc_model *f = linear(3);
    CHECK(dc_model_compile_custom(f, dc_sgd(0.05f, 0, false), user_fails, NULL, NULL, 0) == DC_OK);
    CHECK_ERR(dc_model_fit(f, x, y, &o, NULL), DC_ERR_SHAPE, "epoch 1", "batch 1");
    CHECK_ERR(dc_model_compile_custom(f, dc_sgd(0.05f, 0, false), NULL, NULL, NULL, 0), DC_ERR_ARG, "loss function is NULL");
    /* the optimiser's own error, not "optimizer is NULL" */
    CHECK_ERR(dc_model_compile(f, dc_adam(NAN, 0.9f, 0.999f, 1e-7f), DC_LOSS_MSE, NULL, 0), DC_ERR_ARG, "learning rate");
    dc_model_free(f);
    /* callbacks: stop after 2 of 5 more epochs, in the order given; an error stops fit */
    int seen = 0;
    dc_callback stopper = {.on_epoch_end = stop_after_two, .user = &seen}, failer = {.on_epoch_end = fail_at_one};
    dc_callback *cbs[] = {&stopper, &failer};
    o.epochs = 5;
    o.callbacks = cbs;
    o.ncallbacks = 1;
    dc_history *hs = NULL;
    CHECK(dc_model_fit(a, x, y, &o, &hs) == DC_OK);
    CHECK(seen == 2 && dc_history_epochs(hs) == 3 + 2 && dc_model_epoch(a) == 3 + 2); /* after the first fit's 3 */
    o.ncallbacks = 2;
    CHECK_ERR(dc_model_fit(a, x, y, &o, NULL), DC_ERR_ARG, "callback refuses epoch 6");
    dc_history_free(ha);
    dc_history_free(hb);
    dc_history_free(hs);
    dc_model_free(a);
    dc_model_free(b);
    dc_tensor_free(x);
    dc_tensor_free(y);
}

/* A layer whose constructor failed (NULL) and was handed to the model anyway, as the README's
 * example would hand it (it does not check what dc_model_add returns): the model refuses to
 * build, compile or fit, naming the constructor's error, instead of running without the layer. */
static void test_failed_layer(void) {
    dc_tensor *x, *y;
    make_data(40, 8, &x, &y);
    dc_fit_opts o = dc_fit_defaults();
    o.verbose = 0;
    const int64_t bad[] = {0, -5};
    for (int i = 0; i < 2; i++) {
        char got[32];
        snprintf(got, sizeof got, "got %lld", (long long)bad[i]);
        dc_model *m = dc_sequential();
        dc_model_add(m, dc_input(1, (int64_t[]){8}));
        dc_model_add(m, dc_dense(bad[i], DC_ACT_RELU));
        dc_model_add(m, dc_dropout_layer(1.5f)); /* a second failure: the first one is reported */
        dc_model_add(m, dc_dense(3, DC_ACT_SOFTMAX));
        CHECK_ERR(dc_model_build(m, 0, NULL), DC_ERR_STATE, "dc_model_build", "the model was given a layer that failed", "units", got);
        CHECK(!strstr(dc_last_error(), "rate"));
        CHECK_ERR(dc_model_compile(m, dc_adam(1e-2f, 0.9f, 0.999f, 1e-7f), DC_LOSS_SPARSE_CCE, NULL, 0), DC_ERR_STATE,
                  "dc_model_compile", "a layer that failed", "units", got);
        CHECK_ERR(dc_model_fit(m, x, y, &o, NULL), DC_ERR_STATE, "fit");
        CHECK_NULL_ERR(dc_model_predict(m, x, 8), "predict");
        CHECK_ERR(dc_model_save(m, "unused.safetensors"), DC_ERR_STATE, "not built");
        dc_model_free(m);
    }
    /* the same through the graph API, and a model built before it was given the failed layer */
    dc_model *g = dc_sequential();
    int in = dc_model_input(g, "x", 1, (int64_t[]){8});
    CHECK(dc_model_apply(g, dc_dense(-5, DC_ACT_RELU), 1, &in) < 0);
    int out = dc_model_apply(g, dc_dense(3, DC_ACT_SOFTMAX), 1, &in);
    CHECK(out > 0);
    CHECK_ERR(dc_model_compile(g, dc_sgd(0.1f, 0, false), DC_LOSS_SPARSE_CCE, NULL, 0), DC_ERR_STATE, "a layer that failed", "got -5");
    dc_model_free(g);
    dc_model *b = mlp(8, 3);
    dc_clear_error();
    CHECK_ERR(dc_model_add(b, NULL), DC_ERR_ARG, "dc_model_add", "NULL");
    CHECK_ERR(dc_model_compile(b, dc_sgd(0.1f, 0, false), DC_LOSS_SPARSE_CCE, NULL, 0), DC_ERR_STATE, "dc_model_compile",
              "a layer that failed", "NULL");
    dc_model_free(b);
    dc_tensor_free(x);
    dc_tensor_free(y);
}

int main(void) {
    dc_rng_seed(&rng, 99);
    test_metrics();
    test_workflow();
    test_determinism();
    test_no_alloc_steady_state();
    test_bad_input();
    test_clipping();
    test_ops_errors();
    test_views_share_memory();
    test_custom_loss_and_callbacks();
    test_failed_layer();
    return check_report("test_model");
}
