/* The losses as compile, fit and evaluate use them: every loss of deepc/ops.h trains a small
 * model and is saved with it; loss options (from_logits, label smoothing, Huber's delta) reach
 * the loss; "accuracy" is binary accuracy for binary losses, as Keras's. */
#include "check.h"
#include "tmpfiles.h"

#include <stdlib.h>

static dc_rng rng;

static dc_tensor *randn(int64_t n, int64_t k) {
    dc_tensor *t = dc_tensor_new(2, (int64_t[]){n, k});
    for (int64_t i = 0; i < n * k; i++) dc_tensor_data(t)[i] = dc_rng_normal(&rng);
    return t;
}

/* A Dense(k, act) model on 4 features. */
static dc_model *dense_model(int64_t k, dc_activation act) {
    dc_model *m = dc_sequential();
    dc_model_set_seed(m, 7);
    dc_model_add(m, dc_input(1, (int64_t[]){4}));
    dc_model_add(m, dc_dense(k, act));
    return m;
}

/* Wrong answer 3 of the issue: p = [0.9, 0.8] against y = [0, 1] is one right of two (0.5), not 0. */
static void test_binary_accuracy(void) {
    dc_model *m = dense_model(2, DC_ACT_SIGMOID);
    dc_metric acc = DC_METRIC_ACCURACY;
    CHECK(dc_model_compile(m, dc_sgd(0.1f, 0, false), DC_LOSS_BCE, &acc, 1) == DC_OK);
    float *w = dc_tensor_data(dc_model_param(m, "dense.weight")), *b = dc_tensor_data(dc_model_param(m, "dense.bias"));
    memset(w, 0, 8 * sizeof(float));
    b[0] = logf(0.9f / 0.1f);
    b[1] = logf(0.8f / 0.2f);
    dc_tensor *x = randn(1, 4), *y = dc_tensor_from(2, (int64_t[]){1, 2}, (float[]){0, 1});
    double r[2];
    CHECK(dc_model_evaluate(m, x, y, 8, r) == DC_OK);
    CHECK_NEAR(r[1], 0.5, 1e-12);
    CHECK_NEAR(r[0], -(log(0.1) + log(0.8)) / 2, 1e-5);
    dc_tensor_free(x);
    dc_tensor_free(y);
    dc_model_free(m);
}

/* from_logits on a linear last layer gives the loss the fused softmax model gives. */
static void test_from_logits(void) {
    dc_tensor *x = randn(32, 4), *lab = dc_tensor_new(1, (int64_t[]){32});
    for (int i = 0; i < 32; i++) dc_tensor_data(lab)[i] = (float)(i % 3);
    dc_model *a = dense_model(3, DC_ACT_SOFTMAX), *b = dense_model(3, DC_ACT_NONE), *c = dense_model(3, DC_ACT_NONE);
    dc_metric acc = DC_METRIC_ACCURACY;
    dc_loss_opts lo = dc_loss_opts_default();
    lo.from_logits = true;
    CHECK(dc_model_compile(a, dc_sgd(0.1f, 0, false), DC_LOSS_SPARSE_CCE, &acc, 1) == DC_OK);
    CHECK(dc_model_set_loss_options(b, &lo) == DC_OK);
    CHECK(dc_model_compile(b, dc_sgd(0.1f, 0, false), DC_LOSS_SPARSE_CCE, &acc, 1) == DC_OK);
    CHECK(dc_model_compile(c, dc_sgd(0.1f, 0, false), DC_LOSS_SPARSE_CCE, &acc, 1) == DC_OK); /* set after compile */
    CHECK(dc_model_set_loss_options(c, &lo) == DC_OK);
    double ra[2], rb[2], rc[2];
    CHECK(dc_model_evaluate(a, x, lab, 32, ra) == DC_OK && dc_model_evaluate(b, x, lab, 32, rb) == DC_OK &&
          dc_model_evaluate(c, x, lab, 32, rc) == DC_OK);
    CHECK_NEAR(ra[0], rb[0], 1e-6);
    CHECK_NEAR(ra[0], rc[0], 1e-6);
    CHECK_NEAR(ra[1], rb[1], 1e-12);
    lo.label_smoothing = 2;
    CHECK_ERR(dc_model_set_loss_options(b, &lo), DC_ERR_ARG, "label_smoothing", "got 2");
    dc_tensor_free(x);
    dc_tensor_free(lab);
    dc_model_free(a);
    dc_model_free(b);
    dc_model_free(c);
}

/* Every loss compiles, fits, evaluates, and survives save and load with its options. */
static void test_every_loss(void) {
    dc_tensor *x = randn(48, 4);
    for (int l = 0; l < DC_LOSS_COUNT; l++) {
        if (l == DC_LOSS_CTC) continue; /* label sequences over steps: tests/test_ctc.c */
        bool sparse = l == DC_LOSS_SPARSE_CCE || l == DC_LOSS_NLL;
        bool prob = l == DC_LOSS_CCE || l == DC_LOSS_SPARSE_CCE || l == DC_LOSS_KLD;
        bool positive = l == DC_LOSS_POISSON;
        bool binary = l == DC_LOSS_BCE || l == DC_LOSS_BINARY_FOCAL || l == DC_LOSS_HINGE || l == DC_LOSS_SQUARED_HINGE;
        dc_activation act = prob ? DC_ACT_SOFTMAX : l == DC_LOSS_NLL ? DC_ACT_LOG_SOFTMAX
                            : (l == DC_LOSS_BCE || l == DC_LOSS_BINARY_FOCAL) ? DC_ACT_SIGMOID : positive ? DC_ACT_SIGMOID : DC_ACT_NONE;
        dc_model *m = dense_model(3, act);
        dc_metric met[] = {DC_METRIC_ACCURACY, DC_METRIC_MAE};
        dc_loss_opts lo = dc_loss_opts_default();
        lo.delta = 0.5f;
        lo.gamma = 1.5f;
        lo.label_smoothing = l == DC_LOSS_CCE || l == DC_LOSS_SPARSE_CCE ? 0.1f : 0;
        CHECK(dc_model_set_loss_options(m, &lo) == DC_OK);
        CHECK(dc_model_compile(m, dc_adam(1e-2f, 0.9f, 0.999f, 1e-7f), (dc_loss)l, met, sparse ? 1 : 2) == DC_OK);
        dc_tensor *y = dc_tensor_new(2, (int64_t[]){48, sparse ? 1 : 3});
        for (int64_t i = 0; i < 48; i++)
            for (int k = 0; k < (sparse ? 1 : 3); k++) {
                float v = sparse ? (float)(i % 3) : binary ? (float)((i + k) % 2) : prob ? (k == i % 3 ? 1.0f : 0.0f)
                          : positive ? (float)((i + k) % 4) : dc_rng_normal(&rng);
                dc_tensor_data(y)[i * (sparse ? 1 : 3) + k] = v;
            }
        if (sparse) dc_tensor_set_shape(y, 1, (int64_t[]){48});
        dc_fit_opts o = dc_fit_defaults();
        o.verbose = 0;
        o.epochs = 2;
        o.batch_size = 16;
        dc_history *h = NULL;
        dc_status st = dc_model_fit(m, x, y, &o, &h);
        CHECK(st == DC_OK);
        const double *loss = h ? dc_history_get(h, "loss") : NULL;
        CHECK(loss && isfinite(loss[0]) && isfinite(loss[1]));
        double r[3] = {0, 0, 0}, r2[3] = {1, 1, 1};
        CHECK(dc_model_evaluate(m, x, y, 16, r) == DC_OK);
        char p[300];
        snprintf(p, sizeof p, "%s/loss_%d.safetensors", dir, l);
        CHECK(dc_model_save(m, p) == DC_OK);
        dc_model *b = dc_model_load(p);
        CHECK(b && dc_model_evaluate(b, x, y, 16, r2) == DC_OK);
        CHECK(r[0] == r2[0] && r[1] == r2[1]); /* the same loss, options and weights after loading */
        printf("%-28s loss %.4f -> %.4f, evaluate %.4f, reloaded %s\n", dc_loss_name((dc_loss)l), loss ? loss[0] : NAN,
               loss ? loss[1] : NAN, r[0], r[0] == r2[0] ? "same" : "DIFFERENT");
        dc_history_free(h);
        dc_tensor_free(y);
        dc_model_free(m);
        dc_model_free(b);
    }
    dc_tensor_free(x);
}

/* Sample and class weights of fit: weights of 2 on every row double the gradient (an SGD step
 * of half the rate then lands on the same weights); class weights of 1 change nothing; bad ones
 * are refused with the numbers. */
static void test_weights(void) {
    dc_tensor *x = randn(40, 4), *y = randn(40, 3);
    dc_tensor *two = dc_tensor_new(1, (int64_t[]){40}), *ones = dc_tensor_new(1, (int64_t[]){3});
    dc_tensor_fill(two, 2);
    dc_tensor_fill(ones, 1);
    dc_model *a = dense_model(3, DC_ACT_NONE), *b = dense_model(3, DC_ACT_NONE), *c = dense_model(3, DC_ACT_NONE);
    CHECK(dc_model_compile(a, dc_sgd(0.05f, 0, false), DC_LOSS_MSE, NULL, 0) == DC_OK);
    CHECK(dc_model_compile(b, dc_sgd(0.1f, 0, false), DC_LOSS_MSE, NULL, 0) == DC_OK);
    CHECK(dc_model_compile(c, dc_sgd(0.1f, 0, false), DC_LOSS_MSE, NULL, 0) == DC_OK);
    dc_fit_opts o = dc_fit_defaults();
    o.verbose = 0;
    o.epochs = 3;
    o.batch_size = 8;
    o.sample_weight = two;
    CHECK(dc_model_fit(a, x, y, &o, NULL) == DC_OK);
    o.sample_weight = NULL;
    CHECK(dc_model_fit(b, x, y, &o, NULL) == DC_OK);
    o.class_weight = ones;
    CHECK(dc_model_fit(c, x, y, &o, NULL) == DC_OK);
    const float *wa = dc_tensor_data(dc_model_param(a, "dense.weight")), *wb = dc_tensor_data(dc_model_param(b, "dense.weight")),
                *wc = dc_tensor_data(dc_model_param(c, "dense.weight"));
    double dab = 0, dbc = 0;
    for (int i = 0; i < 12; i++) dab = fmax(dab, fabs((double)wa[i] - wb[i])), dbc = fmax(dbc, fabs((double)wb[i] - wc[i]));
    CHECK(dab < 1e-6 && dbc < 1e-6);
    /* zero weights on the last 20 rows: those rows no longer move the model */
    dc_tensor *half = dc_tensor_new(1, (int64_t[]){40});
    for (int i = 0; i < 40; i++) dc_tensor_data(half)[i] = i < 20 ? 1.0f : 0.0f;
    dc_tensor *y2 = dc_tensor_clone(y);
    for (int i = 60; i < 120; i++) dc_tensor_data(y2)[i] += 100; /* wild targets, weighted 0 */
    dc_model *d = dense_model(3, DC_ACT_NONE), *e = dense_model(3, DC_ACT_NONE);
    CHECK(dc_model_compile(d, dc_sgd(0.1f, 0, false), DC_LOSS_MSE, NULL, 0) == DC_OK);
    CHECK(dc_model_compile(e, dc_sgd(0.1f, 0, false), DC_LOSS_MSE, NULL, 0) == DC_OK);
    o.class_weight = NULL;
    o.shuffle = false;
    o.sample_weight = half;
    CHECK(dc_model_fit(d, x, y, &o, NULL) == DC_OK && dc_model_fit(e, x, y2, &o, NULL) == DC_OK);
    const float *wd = dc_tensor_data(dc_model_param(d, "dense.weight")), *we = dc_tensor_data(dc_model_param(e, "dense.weight"));
    CHECK(memcmp(wd, we, 12 * sizeof(float)) == 0);
    /* bad weights */
    dc_tensor *short_w = dc_tensor_new(1, (int64_t[]){39}), *neg = dc_tensor_clone(two);
    dc_tensor_data(neg)[5] = -1;
    o.sample_weight = short_w;
    CHECK_ERR(dc_model_fit(d, x, y, &o, NULL), DC_ERR_SHAPE, "sample_weight", "[40]", "[39]");
    o.sample_weight = neg;
    CHECK_ERR(dc_model_fit(d, x, y, &o, NULL), DC_ERR_ARG, "sample_weight[5]", "-1");
    o.sample_weight = NULL;
    o.class_weight = two;
    CHECK_ERR(dc_model_fit(d, x, y, &o, NULL), DC_ERR_SHAPE, "class_weight", "[3]", "[40]");
    dc_tensor *tensors[] = {x, y, two, ones, half, y2, short_w, neg};
    for (size_t i = 0; i < sizeof tensors / sizeof *tensors; i++) dc_tensor_free(tensors[i]);
    dc_model *models[] = {a, b, c, d, e};
    for (size_t i = 0; i < sizeof models / sizeof *models; i++) dc_model_free(models[i]);
}

/* A learning-rate schedule with state (ReduceLROnPlateau) through a checkpoint: the resumed run
 * ends bit-identical to the uninterrupted one, its rates too. */
static void test_schedule_resume(void) {
    dc_tensor *x = randn(64, 4), *y = randn(64, 3);
    char path[300];
    snprintf(path, sizeof path, "%s/sched.ckpt", dir);
    dc_model *runs[3];
    for (int r = 0; r < 3; r++) {
        runs[r] = dense_model(3, DC_ACT_NONE);
        dc_optimizer *opt = dc_adam(0.05f, 0.9f, 0.999f, 1e-7f);
        dc_schedule *sch = dc_reduce_lr_on_plateau(0.5f, 0);
        CHECK(dc_schedule_set(sch, "threshold", 0.2) == DC_OK); /* only 20% better counts: it reduces */
        CHECK(dc_optimizer_set_schedule(opt, sch) == DC_OK);
        CHECK(dc_model_compile(runs[r], opt, DC_LOSS_MSE, NULL, 0) == DC_OK);
    }
    dc_fit_opts o = dc_fit_defaults();
    o.verbose = 0;
    o.batch_size = 16;
    o.epochs = 6;
    dc_history *h0 = NULL, *h2 = NULL;
    CHECK(dc_model_fit(runs[0], x, y, &o, &h0) == DC_OK);
    dc_callback *cb = dc_checkpoint_callback(path, 1, true);
    o.callbacks = &cb;
    o.ncallbacks = 1;
    o.epochs = 3;
    CHECK(dc_model_fit(runs[1], x, y, &o, NULL) == DC_OK);
    o.epochs = 6; /* the same program, rerun: continues the checkpoint's run to its 6 epochs */
    CHECK(dc_model_fit(runs[2], x, y, &o, &h2) == DC_OK);
    const float *w0 = dc_model_params(runs[0]), *w2 = dc_model_params(runs[2]);
    CHECK(memcmp(w0, w2, (size_t)dc_model_param_buffer_size(runs[0]) * sizeof(float)) == 0);
    const double *lr0 = dc_history_get(h0, "lr"), *lr2 = dc_history_get(h2, "lr");
    CHECK(lr0 && lr2 && memcmp(lr0, lr2, 6 * sizeof(double)) == 0 && lr0[5] < lr0[0]);
    for (int e = 0; lr0 && e < 6; e++) printf("epoch %d: lr %g (resumed %g)\n", e + 1, lr0[e], lr2 ? lr2[e] : NAN);
    dc_callback_free(cb);
    dc_history_free(h0);
    dc_history_free(h2);
    for (int r = 0; r < 3; r++) dc_model_free(runs[r]);
    dc_tensor_free(x);
    dc_tensor_free(y);
}

int main(void) {
    if (!tmp_dir_create()) return puts("cannot make a temporary directory"), 1;
    dc_rng_seed(&rng, 11);
    test_binary_accuracy();
    test_from_logits();
    test_every_loss();
    test_weights();
    test_schedule_resume();
    tmp_dir_remove();
    return check_report("test_losses_fit");
}
