/* Fit as users drive it: a second fit continuing the first (bit-identical to one fit),
 * initial_epoch, early stopping's rule on built histories and its restored weights, a batch
 * callback that stops mid-epoch, the hooks' order, the "lr" series and the schedule's epoch end,
 * the progress bar on a pseudo-terminal and the one-line form elsewhere, dc_model_zero_grad, and
 * the guide's training blocks, run here as written (and compared with docs/guide.md's text). */
#define _GNU_SOURCE
#include "check.h"
#include "model/history.h"
#include "model/model.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

static dc_rng rng;

/* n rows of d features and a class 0..2 (the argmax of three sums), a share `noise` of the labels
 * redrawn at random. */
static void make_data(int64_t n, int64_t d, float noise, dc_tensor **x, dc_tensor **y) {
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
        if (dc_rng_uniform(&rng) < noise) Y[i] = (float)(int)(dc_rng_uniform(&rng) * 2.999f);
    }
}

/* Dense(16) [BatchNormalization] [Dropout] Dense(3, softmax) on d features. */
static dc_model *net(int64_t d, bool bn, bool drop, uint64_t seed) {
    dc_model *m = dc_sequential();
    dc_model_set_seed(m, seed);
    dc_model_add(m, dc_input(1, (int64_t[]){d}));
    dc_model_add(m, dc_dense(16, DC_ACT_RELU));
    if (bn) dc_model_add(m, dc_batch_norm_layer(0.9f, 1e-3f));
    if (drop) dc_model_add(m, dc_dropout_layer(0.2f));
    dc_model_add(m, dc_dense(3, DC_ACT_SOFTMAX));
    return m;
}

static void compile_adam(dc_model *m, dc_schedule *sched) {
    dc_optimizer *opt = dc_adam(1e-2f, 0.9f, 0.999f, 1e-7f);
    if (sched) CHECK(dc_optimizer_set_schedule(opt, sched) == DC_OK);
    CHECK(dc_model_compile(m, opt, DC_LOSS_SPARSE_CCE, (dc_metric[]){DC_METRIC_ACCURACY}, 1) == DC_OK);
}

static dc_fit_opts quiet(int epochs, int64_t batch) {
    dc_fit_opts o = dc_fit_defaults();
    o.epochs = epochs;
    o.batch_size = batch;
    o.verbose = 0;
    return o;
}

static bool same_buffers(const dc_model *a, const dc_model *b) {
    return a->ptotal == b->ptotal && a->stotal == b->stotal && memcmp(a->pbuf, b->pbuf, (size_t)a->ptotal * sizeof(float)) == 0 &&
           (!a->stotal || memcmp(a->sbuf, b->sbuf, (size_t)a->stotal * sizeof(float)) == 0);
}

static bool same_series(const dc_history *a, const dc_history *b, const char *key, int from, int to) {
    const double *va = dc_history_get(a, key), *vb = dc_history_get(b, key);
    return va && vb && memcmp(va + from, vb + from, (size_t)(to - from) * sizeof(double)) == 0;
}

/* ---- continuing fits ------------------------------------------------------------------------ */

static void test_continue(void) {
    dc_tensor *x, *y;
    make_data(150, 6, 0.1f, &x, &y);
    /* dropout and batch norm draw from the epoch's streams; StepLR follows the optimiser's steps */
    dc_model *a = net(6, true, true, 3), *b = net(6, true, true, 3);
    compile_adam(a, dc_step_lr(7, 0.5f));
    compile_adam(b, dc_step_lr(7, 0.5f));
    dc_fit_opts o = quiet(5, 16);
    o.validation_split = 0.2f;
    dc_history *ha = NULL, *hb = NULL;
    CHECK(dc_model_fit(a, x, y, &o, &ha) == DC_OK);
    o.epochs = 2;
    CHECK(dc_model_fit(b, x, y, &o, NULL) == DC_OK);
    CHECK(dc_model_epoch(b) == 2);
    o.epochs = 3; /* three more */
    CHECK(dc_model_fit(b, x, y, &o, &hb) == DC_OK);
    CHECK(dc_model_epoch(b) == 5 && dc_history_epochs(hb) == 5);
    CHECK(same_buffers(a, b)); /* weights and running statistics, bit for bit */
    const char *keys[] = {"loss", "accuracy", "val_loss", "val_accuracy", "lr"};
    for (int k = 0; k < 5; k++) CHECK(same_series(ha, hb, keys[k], 0, 5));
    CHECK(dc_optimizer_steps(a->opt) == 5 * 8 && dc_optimizer_steps(b->opt) == 5 * 8);

    /* with initial_epoch, epochs is the epoch to reach: not beyond it, nothing to train */
    o.epochs = 5;
    o.initial_epoch = 5;
    CHECK_ERR(dc_model_fit(b, x, y, &o, NULL), DC_ERR_ARG, "epochs 5 is not beyond initial_epoch 5", "nothing to train");
    o.initial_epoch = -1;
    CHECK(dc_model_epoch(b) == 5);
    /* initial_epoch k: back to after epoch k; the history keeps epochs 1..k */
    o.initial_epoch = 3;
    o.epochs = 4;
    dc_history *hc = NULL;
    CHECK(dc_model_fit(b, x, y, &o, &hc) == DC_OK);
    CHECK(dc_model_epoch(b) == 4 && dc_history_epochs(hc) == 4);
    CHECK(same_series(ha, hc, "loss", 0, 3));
    CHECK(dc_history_get(hc, "loss") && !isnan(dc_history_get(hc, "loss")[3]));
    dc_history_free(hc);
    /* initial_epoch 0: over again (history and count); another batch size and data are fine */
    o.initial_epoch = 0;
    o.epochs = 1;
    o.batch_size = 32;
    CHECK(dc_model_fit(b, x, y, &o, &hc) == DC_OK);
    CHECK(dc_model_epoch(b) == 1 && dc_history_epochs(hc) == 1);
    dc_history_free(hc);
    /* bad options */
    o.initial_epoch = -2;
    CHECK_ERR(dc_model_fit(b, x, y, &o, NULL), DC_ERR_ARG, "initial_epoch", "got -2");
    o.initial_epoch = 3;
    o.epochs = 2;
    CHECK_ERR(dc_model_fit(b, x, y, &o, NULL), DC_ERR_ARG, "epochs 2 is not beyond initial_epoch 3");
    o.initial_epoch = -1;
    o.epochs = 3;
    o.verbose = 3;
    CHECK_ERR(dc_model_fit(b, x, y, &o, NULL), DC_ERR_ARG, "verbose", "got 3");
    o.verbose = -1;
    CHECK_ERR(dc_model_fit(b, x, y, &o, NULL), DC_ERR_ARG, "verbose", "got -1");
    CHECK(dc_model_epoch(b) == 1);
    dc_history_free(ha);
    dc_history_free(hb);
    dc_model_free(a);
    dc_model_free(b);
    dc_tensor_free(x);
    dc_tensor_free(y);
}

/* ---- early stopping --------------------------------------------------------------------- */

/* Gives m a history of one series `key` holding v[0..n) (the model owns it), then runs cb's
 * hooks over epochs from..n-1 as fit would; the epoch after which it asked to stop, or -1. */
static int run_rule(dc_model *m, dc_callback *cb, const dc_fit_opts *o, const char *key, const double *v, int n, int from) {
    dc_history_free(m->hist);
    m->hist = dc_history_new();
    for (int e = 0; e < n; e++) CHECK(dc_history_record(m->hist, e, key, v[e]) == DC_OK);
    CHECK(cb->on_train_begin(cb, m, o) == DC_OK);
    for (int e = from; e < n; e++) {
        bool stop = false;
        if (cb->on_epoch_end(cb, m, o, e, &stop) != DC_OK) return -2;
        if (stop) return e;
    }
    return -1;
}

/* The rule's verdict on histories built by hand, minimised and maximised keys, min_delta,
 * patience 0, non-finite values, a fit that starts at a later epoch; and its bad arguments. */
static void test_early_stopping_rule(void) {
    dc_model *m = net(4, false, false, 1);
    CHECK(dc_model_build(m, 0, NULL) == DC_OK);
    dc_fit_opts val = quiet(10, 8), none = quiet(10, 8);
    val.validation_split = 0.2f;
    dc_callback *cb = dc_early_stopping_callback(NULL, 2, 0.01, false);
    CHECK(cb != NULL);
    /* monitor NULL with validation data: val_loss. 0.899 misses the best 0.9 by less than min_delta */
    const double v1[] = {1.0, 0.9, 0.95, 0.899, 0.91, 0.5};
    CHECK(run_rule(m, cb, &val, "val_loss", v1, 6, 0) == 3);
    dc_callback_free(cb);
    cb = dc_early_stopping_callback(NULL, 2, 0, false); /* no min_delta: 0.899 improves, 0.5 too */
    CHECK(run_rule(m, cb, &val, "val_loss", v1, 6, 0) == -1);
    /* monitor NULL without validation data: loss; with validation data and no val_loss: refused */
    const double v2[] = {3, 2, 2.5, 2.6, 1};
    CHECK(run_rule(m, cb, &none, "loss", v2, 5, 0) == 3);
    CHECK(run_rule(m, cb, &val, "loss", v2, 5, 0) == -2);
    CHECK(strstr(dc_last_error(), "monitor \"val_loss\" is not recorded") != NULL);
    dc_callback_free(cb);
    /* a maximised key: an equal value does not improve; min_delta asks for more */
    cb = dc_early_stopping_callback("accuracy", 1, 0, false);
    const double v3[] = {0.5, 0.6, 0.6, 0.7};
    CHECK(run_rule(m, cb, &val, "accuracy", v3, 4, 0) == 2);
    dc_callback_free(cb);
    cb = dc_early_stopping_callback("val_accuracy", 1, 0.05, false);
    const double v4[] = {0.5, 0.54, 0.9};
    CHECK(run_rule(m, cb, &val, "val_accuracy", v4, 3, 0) == 1);
    dc_callback_free(cb);
    /* the error metrics are minimised */
    cb = dc_early_stopping_callback("val_mae", 1, 0, false);
    const double v5[] = {0.5, 0.4, 0.45};
    CHECK(run_rule(m, cb, &val, "val_mae", v5, 3, 0) == 2);
    dc_callback_free(cb);
    /* patience 0: the first epoch that does not improve stops; non-finite values never improve,
     * and the model's first epoch never stops (Keras) */
    cb = dc_early_stopping_callback("loss", 0, 0, false);
    const double v6[] = {5, 4, 3, 2}, v7[] = {5, 4, 4, 3}, v8[] = {NAN, NAN, 1}, v9[] = {1, INFINITY, 0.5};
    CHECK(run_rule(m, cb, &none, "loss", v6, 4, 0) == -1);
    CHECK(run_rule(m, cb, &none, "loss", v7, 4, 0) == 2);
    CHECK(run_rule(m, cb, &none, "loss", v8, 3, 0) == 1);
    CHECK(run_rule(m, cb, &none, "loss", v9, 3, 0) == 1);
    dc_callback_free(cb);
    /* a fit continuing at epoch 3: its best starts afresh there */
    cb = dc_early_stopping_callback("loss", 1, 0, false);
    const double v10[] = {0.1, 0.2, 0.3, 1.0, 1.1, 0.9};
    CHECK(run_rule(m, cb, &none, "loss", v10, 6, 3) == 4);
    dc_callback_free(cb);
    /* bad arguments */
    CHECK_NULL_ERR(dc_early_stopping_callback(NULL, -1, 0, false), "dc_early_stopping_callback", "patience", "-1");
    CHECK_NULL_ERR(dc_early_stopping_callback(NULL, 1, -0.5, false), "min_delta", "-0.5");
    CHECK_NULL_ERR(dc_early_stopping_callback(NULL, 1, NAN, false), "min_delta", "nan");
    CHECK_NULL_ERR(dc_early_stopping_callback(NULL, 1, INFINITY, false), "min_delta", "inf");
    CHECK_NULL_ERR(dc_early_stopping_callback("", 1, 0, false), "monitor", "got 0 characters");
    char longkey[80];
    memset(longkey, 'k', 70);
    longkey[70] = 0;
    CHECK_NULL_ERR(dc_early_stopping_callback(longkey, 1, 0, false), "monitor", "got 70 characters");
    dc_callback_free(NULL);
    dc_model_free(m);
}

/* A callback that writes a scripted series "my_loss" into the history after each epoch and
 * keeps a copy of the parameters and state buffers then. */
typedef struct script {
    const double *v;
    int n;
    float *snap; /* n copies of ptotal + stotal floats */
    int64_t per;
} script;

static dc_status script_end(dc_callback *cb, dc_model *m, const dc_fit_opts *o, int ep, bool *stop) {
    script *sc = cb->user;
    if (ep >= sc->n) return dc_error(DC_ERR_ARG, "script: no value for epoch %d", ep + 1);
    memcpy(sc->snap + ep * sc->per, m->pbuf, (size_t)m->ptotal * sizeof(float));
    memcpy(sc->snap + ep * sc->per + m->ptotal, m->sbuf, (size_t)m->stotal * sizeof(float));
    return dc_history_record(m->hist, ep, "my_loss", sc->v[ep]);
}

static bool equals_snapshot(const dc_model *m, const script *sc, int ep) {
    return memcmp(m->pbuf, sc->snap + ep * sc->per, (size_t)m->ptotal * sizeof(float)) == 0 &&
           memcmp(m->sbuf, sc->snap + ep * sc->per + m->ptotal, (size_t)m->stotal * sizeof(float)) == 0;
}

/* Runs fit with the script and an early stopper, printing to a string; returns the text. */
static char *fit_scripted(dc_model *m, const dc_tensor *x, const dc_tensor *y, script *sc, dc_callback *stopper, int epochs) {
    char *text = NULL;
    size_t len = 0;
    FILE *log = open_memstream(&text, &len);
    dc_callback scb = {.on_epoch_end = script_end, .user = sc};
    dc_callback *cbs[] = {&scb, stopper};
    dc_fit_opts o = quiet(epochs, 16);
    o.verbose = 2;
    o.log = log;
    o.callbacks = cbs;
    o.ncallbacks = 2;
    o.initial_epoch = 0;
    CHECK(dc_model_fit(m, x, y, &o, NULL) == DC_OK);
    fclose(log);
    return text;
}

/* Early stopping in a real fit: it stops at the epoch the rule says, and restore_best_weights
 * puts back the parameters and batch norm's running statistics of the best epoch bit for bit,
 * whether it stopped or training ran to its end. */
static void test_early_stopping_restore(void) {
    dc_tensor *x, *y;
    make_data(96, 6, 0.1f, &x, &y);
    dc_model *m = net(6, true, true, 5);
    compile_adam(m, NULL);
    const double v[] = {5, 4, 3, 3.5, 2.9, 3.2, 3.3, 3.4, 1, 1};
    script sc = {.v = v, .n = 10, .per = m->ptotal + m->stotal};
    sc.snap = malloc((size_t)(sc.n * sc.per) * sizeof(float));
    /* best 3 at epoch 3 (1-based); 3.5, 2.9 (not by 0.2) and 3.2 make three without improvement */
    dc_callback *es = dc_early_stopping_callback("my_loss", 3, 0.2, true);
    char *text = fit_scripted(m, x, y, &sc, es, 10);
    CHECK(dc_model_epoch(m) == 6 && dc_history_epochs(dc_model_history(m)) == 6);
    CHECK(equals_snapshot(m, &sc, 2));
    CHECK(!equals_snapshot(m, &sc, 5));
    CHECK(text && strstr(text, "Epoch 6/10 - ") && !strstr(text, "Epoch 7/10"));
    CHECK(text && strstr(text, "\nEpoch 6: early stopping\nRestoring model weights from the end of the best epoch: 3.\n"));
    free(text);
    /* the same without restoring: the last epoch's weights stay */
    dc_callback_free(es);
    es = dc_early_stopping_callback("my_loss", 3, 0.2, false);
    text = fit_scripted(m, x, y, &sc, es, 10);
    CHECK(dc_model_epoch(m) == 6 && equals_snapshot(m, &sc, 5));
    CHECK(text && strstr(text, "Epoch 6: early stopping\n") && !strstr(text, "Restoring"));
    free(text);
    /* no stop: the best epoch (2) is still restored at the end, as Keras 3 */
    dc_callback_free(es);
    const double w[] = {2, 1, 3, 4};
    sc.v = w;
    sc.n = 4;
    es = dc_early_stopping_callback("my_loss", 10, 0, true);
    text = fit_scripted(m, x, y, &sc, es, 4);
    CHECK(dc_model_epoch(m) == 4 && equals_snapshot(m, &sc, 1));
    CHECK(text && !strstr(text, "early stopping") && strstr(text, "Restoring model weights from the end of the best epoch: 2.\n"));
    free(text);
    /* a monitor the fit does not record stops it with the key named */
    dc_callback_free(es);
    es = dc_early_stopping_callback("val_accuracy", 1, 0, true);
    dc_fit_opts o = quiet(3, 16);
    o.initial_epoch = 0;
    o.callbacks = &es;
    o.ncallbacks = 1;
    CHECK_ERR(dc_model_fit(m, x, y, &o, NULL), DC_ERR_ARG, "early stopping", "\"val_accuracy\" is not recorded");
    dc_callback_free(es);
    free(sc.snap);
    dc_model_free(m);
    dc_tensor_free(x);
    dc_tensor_free(y);
}

/* ---- batch callbacks and the hooks' order ----------------------------------------------------- */

typedef struct trace {
    char log[512];
    int stop_epoch, stop_batch, fail_epoch, fail_batch;
    double losses[16];
    int nloss;
} trace;

static void trace_add(trace *t, const char *fmt, int a, long long b) {
    size_t k = strlen(t->log);
    snprintf(t->log + k, sizeof t->log - k, fmt, a, b);
}

static dc_status tr_begin(dc_callback *cb, dc_model *m, const dc_fit_opts *o) {
    trace_add(cb->user, "B ", 0, 0);
    return DC_OK;
}
static dc_status tr_batch(dc_callback *cb, dc_model *m, const dc_fit_opts *o, int ep, int64_t b, double loss, bool *stop) {
    trace *t = cb->user;
    if (ep == t->fail_epoch && b == t->fail_batch) return dc_error(DC_ERR_ARG, "the callback refuses batch %lld", (long long)b + 1);
    trace_add(t, "b%d.%lld ", ep, (long long)b);
    if (ep == t->stop_epoch && t->nloss < 16) t->losses[t->nloss++] = loss;
    *stop = ep == t->stop_epoch && b == t->stop_batch;
    return DC_OK;
}
static dc_status tr_epoch(dc_callback *cb, dc_model *m, const dc_fit_opts *o, int ep, bool *stop) {
    trace_add(cb->user, "e%d ", ep, 0);
    return DC_OK;
}
static dc_status tr_end(dc_callback *cb, dc_model *m, const dc_fit_opts *o) {
    trace_add(cb->user, "E", 0, 0);
    return DC_OK;
}

/* on_batch_end after every step, with the step's loss; a stop after batch 3 of epoch 2 ends
 * training there, the cut epoch still validated, recorded and counted; the hooks run in order. */
static void test_batch_callback(void) {
    dc_tensor *x, *y, *vx, *vy;
    make_data(100, 6, 0.1f, &x, &y);
    make_data(30, 6, 0.1f, &vx, &vy);
    dc_model *m = net(6, false, false, 7);
    compile_adam(m, NULL);
    trace t = {.stop_epoch = 1, .stop_batch = 2, .fail_epoch = -1, .fail_batch = -1};
    dc_callback cb = {.on_train_begin = tr_begin, .on_epoch_end = tr_epoch, .user = &t, .on_batch_end = tr_batch, .on_train_end = tr_end};
    dc_callback *cbs[] = {&cb};
    char *text = NULL;
    size_t len = 0;
    FILE *log = open_memstream(&text, &len);
    dc_fit_opts o = quiet(5, 10);
    o.val_x = vx;
    o.val_y = vy;
    o.callbacks = cbs;
    o.ncallbacks = 1;
    o.verbose = 2;
    o.log = log;
    dc_history *h = NULL;
    CHECK(dc_model_fit(m, x, y, &o, &h) == DC_OK);
    fclose(log);
    CHECK(strcmp(t.log, "B b0.0 b0.1 b0.2 b0.3 b0.4 b0.5 b0.6 b0.7 b0.8 b0.9 e0 b1.0 b1.1 b1.2 e1 E") == 0);
    if (strcmp(t.log, "B b0.0 b0.1 b0.2 b0.3 b0.4 b0.5 b0.6 b0.7 b0.8 b0.9 e0 b1.0 b1.1 b1.2 e1 E")) fprintf(stderr, "hooks: %s\n", t.log);
    CHECK(dc_model_epoch(m) == 2 && dc_history_epochs(h) == 2);
    CHECK(dc_optimizer_steps(m->opt) == 13);
    const double *loss = dc_history_get(h, "loss"), *vloss = dc_history_get(h, "val_loss");
    CHECK(loss && vloss && t.nloss == 3);
    if (loss && vloss && t.nloss == 3) {
        /* the cut epoch's loss: the mean over the three batches it took (10 rows each) */
        CHECK_NEAR(loss[1], (t.losses[0] + t.losses[1] + t.losses[2]) / 3, 1e-6 * loss[1]);
        CHECK(isfinite(vloss[1]));
    }
    CHECK(text && strstr(text, "Epoch 2/5 - ") && strstr(text, " - stopped after batch 3/10\n") && !strstr(text, "Epoch 3/5"));
    free(text);
    dc_history_free(h);
    /* the next fit continues with the next epoch, whole */
    t = (trace){.stop_epoch = -1, .stop_batch = -1, .fail_epoch = -1, .fail_batch = -1};
    o.verbose = 0;
    o.epochs = 1; /* one more: epoch 3 */
    CHECK(dc_model_fit(m, x, y, &o, &h) == DC_OK);
    CHECK(strncmp(t.log, "B b2.0 ", 7) == 0 && strstr(t.log, "b2.9 e2 E") && dc_model_epoch(m) == 3 && dc_history_epochs(h) == 3);
    dc_history_free(h);
    /* an error of the hook stops fit with it, where it happened; the epoch is not counted */
    t = (trace){.stop_epoch = -1, .stop_batch = -1, .fail_epoch = 3, .fail_batch = 4};
    o.epochs = 2;
    CHECK_ERR(dc_model_fit(m, x, y, &o, NULL), DC_ERR_ARG, "fit: epoch 4, batch 5", "the callback refuses batch 5");
    CHECK(dc_model_epoch(m) == 3 && !strstr(t.log, "E"));
    dc_model_free(m);
    dc_tensor_free(x);
    dc_tensor_free(y);
    dc_tensor_free(vx);
    dc_tensor_free(vy);
}

/* ---- the learning rate's record and the schedule's epoch end ---------------------------------- */

/* ReduceLROnPlateau (factor 0.5, patience 0, threshold 0) fed values v[0..n): the rate before
 * each epoch end, from lr0. */
static void plateau_rates(const double *v, int n, bool maximise, double lr0, double *rate) {
    double best = maximise ? -INFINITY : INFINITY, lr = lr0;
    int bad = 0;
    for (int e = 0; e < n; e++) {
        rate[e] = lr;
        if (isfinite(v[e]) && (maximise ? v[e] > best : v[e] < best)) {
            best = v[e];
            bad = 0;
        } else {
            bad++;
        }
        if (bad > 0) {
            if (lr - lr * 0.5 > 1e-8) lr *= 0.5;
            bad = 0;
        }
    }
}

static void test_lr_and_schedule(void) {
    dc_tensor *x, *y, *vx, *vy;
    make_data(50, 6, 0.1f, &x, &y);
    make_data(40, 6, 1.0f, &vx, &vy); /* labels at random: val_loss does not follow loss */
    /* a step-based schedule: "lr" is the next step's rate at each epoch's end */
    dc_model *m = net(6, false, false, 2);
    dc_optimizer *sgd = dc_sgd(0.05f, 0, false);
    CHECK(dc_optimizer_set_schedule(sgd, dc_exponential_lr(0.99f)) == DC_OK);
    CHECK(dc_model_compile(m, sgd, DC_LOSS_SPARSE_CCE, NULL, 0) == DC_OK);
    dc_fit_opts o = quiet(3, 10);
    dc_history *h = NULL;
    CHECK(dc_model_fit(m, x, y, &o, &h) == DC_OK);
    const double *lr = dc_history_get(h, "lr");
    CHECK(lr != NULL);
    for (int e = 0; lr && e < 3; e++) {
        double want = 0.05f * pow(0.99f, 5.0 * (e + 1));
        CHECK_NEAR(lr[e], want, 1e-6 * want);
    }
    dc_history_free(h);
    dc_model_free(m);
    /* ReduceLROnPlateau sees val_loss with validation data ... */
    m = net(6, false, false, 2);
    sgd = dc_sgd(0.3f, 0, false);
    dc_schedule *pl = dc_reduce_lr_on_plateau(0.5f, 0);
    CHECK(dc_schedule_set(pl, "threshold", 0) == DC_OK);
    CHECK(dc_optimizer_set_schedule(sgd, pl) == DC_OK);
    CHECK(dc_model_compile(m, sgd, DC_LOSS_SPARSE_CCE, NULL, 0) == DC_OK);
    o = quiet(8, 10);
    o.val_x = vx;
    o.val_y = vy;
    CHECK(dc_model_fit(m, x, y, &o, &h) == DC_OK);
    const double *vl = dc_history_get(h, "val_loss");
    double want[8];
    lr = dc_history_get(h, "lr");
    CHECK(lr && vl);
    if (lr && vl) {
        plateau_rates(vl, 8, false, 0.3f, want);
        for (int e = 0; e < 8; e++) CHECK_NEAR(lr[e], want[e], 1e-6 * want[e]);
        CHECK(lr[7] < 0.3f * 0.99); /* the test saw a reduction */
    }
    dc_history_free(h);
    dc_model_free(m);
    /* ... and loss without (mode max, so that a falling loss is a plateau) */
    m = net(6, false, false, 2);
    sgd = dc_sgd(0.1f, 0, false);
    pl = dc_reduce_lr_on_plateau(0.5f, 0);
    CHECK(dc_schedule_set(pl, "threshold", 0) == DC_OK && dc_schedule_set_name(pl, "mode", "max") == DC_OK);
    CHECK(dc_optimizer_set_schedule(sgd, pl) == DC_OK);
    CHECK(dc_model_compile(m, sgd, DC_LOSS_SPARSE_CCE, NULL, 0) == DC_OK);
    o = quiet(6, 10);
    CHECK(dc_model_fit(m, x, y, &o, &h) == DC_OK);
    const double *tl = dc_history_get(h, "loss");
    lr = dc_history_get(h, "lr");
    CHECK(lr && tl && !dc_history_get(h, "val_loss"));
    if (lr && tl) {
        plateau_rates(tl, 6, true, 0.1f, want);
        for (int e = 0; e < 6; e++) CHECK_NEAR(lr[e], want[e], 1e-6 * want[e]);
        CHECK(lr[5] < 0.1f * 0.99);
    }
    dc_history_free(h);
    dc_model_free(m);
    dc_tensor_free(x);
    dc_tensor_free(y);
    dc_tensor_free(vx);
    dc_tensor_free(vy);
}

/* ---- progress --------------------------------------------------------------------------- */

static int count_char(const char *s, char c) {
    int n = 0;
    for (; s && *s; s++) n += *s == c;
    return n;
}

static dc_status slow_batch(dc_callback *cb, dc_model *m, const dc_fit_opts *o, int ep, int64_t b, double loss, bool *stop) {
    struct timespec ts = {0, 25 * 1000 * 1000};
    nanosleep(&ts, NULL);
    return DC_OK;
}

/* Reads what is waiting on the pseudo-terminal's master side into buf (cap bytes). */
static size_t drain(int fd, char *buf, size_t cap) {
    size_t n = 0;
    for (;;) {
        ssize_t r = read(fd, buf + n, cap - 1 - n);
        if (r <= 0) break;
        n += (size_t)r;
    }
    buf[n] = 0;
    return n;
}

static void test_progress(void) {
    dc_tensor *x, *y;
    make_data(200, 6, 0.1f, &x, &y);
    dc_model *m = net(6, false, false, 4);
    compile_adam(m, NULL);
    /* not a terminal: one line per epoch at verbose 1 and 2, nothing at 0 */
    for (int verbose = 0; verbose <= 2; verbose++) {
        char *text = NULL;
        size_t len = 0;
        FILE *log = open_memstream(&text, &len);
        dc_fit_opts o = quiet(2, 32);
        o.verbose = verbose;
        o.log = log;
        o.validation_split = 0.2f;
        o.initial_epoch = 0;
        CHECK(dc_model_fit(m, x, y, &o, NULL) == DC_OK);
        fclose(log);
        if (verbose == 0) {
            CHECK(len == 0);
        } else {
            CHECK(count_char(text, '\n') == 2 && count_char(text, '\r') == 0);
            CHECK(strncmp(text, "Epoch 1/2 - ", 12) == 0 && strstr(text, "\nEpoch 2/2 - "));
            CHECK(strstr(text, "s - loss: ") && strstr(text, " - accuracy: ") && strstr(text, " - val_loss: ") &&
                  strstr(text, " - val_accuracy: ") && !strstr(text, "lr:"));
        }
        free(text);
    }
    /* a terminal: the bar, rewritten in place at most ten times a second */
    int master = posix_openpt(O_RDWR | O_NOCTTY);
    if (master < 0 || grantpt(master) || unlockpt(master)) {
        printf("test_progress: no pseudo-terminal here (%s); the bar is not checked\n", strerror(errno));
        if (master >= 0) close(master);
    } else {
        int slave = open(ptsname(master), O_RDWR | O_NOCTTY);
        struct termios tio;
        if (slave >= 0 && tcgetattr(slave, &tio) == 0) {
            cfmakeraw(&tio); /* no "\n" -> "\r\n": the bytes as written */
            tcsetattr(slave, TCSANOW, &tio);
        }
        FILE *tty = slave >= 0 ? fdopen(slave, "w") : NULL;
        CHECK(tty != NULL);
        fcntl(master, F_SETFL, fcntl(master, F_GETFL) | O_NONBLOCK);
        dc_model_free(m);
        m = net(6, false, false, 4);
        dc_schedule *sched = dc_step_lr(100, 0.5f);
        compile_adam(m, sched);
        dc_callback slow = {.on_batch_end = slow_batch};
        dc_callback *cbs[] = {&slow};
        dc_fit_opts o = quiet(1, 10); /* 20 batches of 25 ms: half a second */
        o.verbose = 1;
        o.log = tty;
        o.callbacks = cbs;
        o.ncallbacks = 1;
        double t0 = dc_now();
        CHECK(tty && dc_model_fit(m, x, y, &o, NULL) == DC_OK);
        double secs = dc_now() - t0;
        if (tty) fclose(tty);
        static char out[16384];
        drain(master, out, sizeof out);
        close(master);
        int draws = count_char(out, '\r');
        /* first and last batch, the epoch's end, and one per 0.1 s between: far fewer than 20 */
        CHECK(draws >= 3 && draws <= 4 + (int)(secs / 0.1));
        const char *first = "Epoch 1/1\n\r 1/20 [>.............................] - ETA: ";
        CHECK(strncmp(out, first, strlen(first)) == 0);
        CHECK(strstr(out, "\r20/20 [==============================] - ") && strstr(out, "/step - loss: ") &&
              strstr(out, " - accuracy: ") && strstr(out, " - lr: 0.01\n"));
        const char *last = strrchr(out, '\r');
        CHECK(last && strchr(last, '\n') && strchr(last, '\n')[1] == 0); /* the final form ends the line */
        if (check_fails) fprintf(stderr, "terminal output: %s\n", out);
    }
    dc_model_free(m);
    dc_tensor_free(x);
    dc_tensor_free(y);
}

/* ---- zero_grad ---------------------------------------------------------------------------- */

static void backward_once(dc_model *m, dc_ctx *c, dc_tensor *x, dc_tensor *y) {
    dc_tensor *p = dc_model_forward(m, c, x, true);
    dc_tensor *l = p ? dc_sparse_cce_loss(c, p, y) : NULL;
    CHECK(l && dc_backward(c, l) == DC_OK);
    dc_ctx_reset(c);
}

static void test_zero_grad(void) {
    dc_tensor *x, *y;
    make_data(20, 6, 0, &x, &y);
    dc_model *m = net(6, false, false, 9);
    CHECK_ERR(dc_model_zero_grad(NULL), DC_ERR_ARG, "dc_model_zero_grad", "NULL");
    CHECK_ERR(dc_model_zero_grad(m), DC_ERR_STATE, "dc_model_zero_grad", "not built");
    CHECK(dc_model_build(m, 0, NULL) == DC_OK);
    int64_t n = dc_model_param_buffer_size(m);
    float *g = dc_model_grads(m), *g1 = malloc((size_t)n * sizeof(float));
    dc_ctx *c = dc_ctx_new();
    CHECK(dc_model_zero_grad(m) == DC_OK);
    backward_once(m, c, x, y);
    memcpy(g1, g, (size_t)n * sizeof(float));
    double norm = 0, worst = 0;
    for (int64_t i = 0; i < n; i++) norm = fmax(norm, fabs(g1[i]));
    CHECK(norm > 0);
    backward_once(m, c, x, y); /* without zeroing the gradients add up */
    for (int64_t i = 0; i < n; i++) worst = fmax(worst, fabs(g[i] - 2 * g1[i]));
    CHECK(worst <= 1e-6 * norm);
    CHECK(dc_model_zero_grad(m) == DC_OK);
    worst = 0;
    for (int64_t i = 0; i < n; i++) worst = fmax(worst, fabs(g[i]));
    CHECK(worst == 0);
    backward_once(m, c, x, y);
    CHECK(memcmp(g, g1, (size_t)n * sizeof(float)) == 0);
    dc_ctx_free(c);
    free(g1);
    dc_model_free(m);
    dc_tensor_free(x);
    dc_tensor_free(y);
}

/* ---- the guide's blocks (docs/guide.md), run as written ------------------------------------ */

/* The guide's hand-written loop, between the markers exactly as docs/guide.md shows it (the
 * indentation aside): m a built model, x and y one batch. */
static void guide_loop(dc_model *m, dc_tensor *x, dc_tensor *y) {
    // DOC-BEGIN loop
    /* a hand-written training loop: m is a built model, x and y one batch */
    dc_ctx *ctx = dc_ctx_new();
    dc_optimizer *opt = dc_sgd(0.05f, 0.9f, false);        /* the loop's own optimiser */
    int64_t n = dc_model_param_buffer_size(m);
    for (int step = 0; step < 100; step++) {
        dc_model_zero_grad(m);                               /* dc_backward adds to the gradients */
        dc_tensor *pred = dc_model_forward(m, ctx, x, true); /* true: training (dropout on) */
        dc_tensor *loss = pred ? dc_mse_loss(ctx, pred, y) : NULL;
        if (!loss || dc_backward(ctx, loss) || dc_optimizer_step(opt, dc_model_params(m), dc_model_grads(m), n)) {
            fprintf(stderr, "step %d: %s\n", step, dc_last_error());
            break;
        }
        if (step % 25 == 0) printf("step %d: loss %.4f\n", step, dc_tensor_data(loss)[0]);
        dc_ctx_reset(ctx);                                   /* frees the step's tensors, keeps the memory */
    }
    dc_optimizer_free(opt);
    dc_ctx_free(ctx);
    // DOC-END loop
}

/* The guide's early stopping with a cosine schedule: m a model with its layers, x and y the data. */
static void guide_early_stopping(dc_model *m, dc_tensor *x, dc_tensor *y) {
    // DOC-BEGIN early
    /* early stopping on val_loss, with a cosine learning-rate schedule */
    dc_optimizer *opt = dc_adam(1e-2f, 0.9f, 0.999f, 1e-7f);
    dc_optimizer_set_schedule(opt, dc_cosine_warmup(10, 400, 1e-4f)); /* counted in steps (batches) */
    dc_model_compile(m, opt, DC_LOSS_SPARSE_CCE, (dc_metric[]){DC_METRIC_ACCURACY}, 1);
    dc_callback *stopper = dc_early_stopping_callback(NULL, 5, 1e-3, true); /* val_loss, patience 5 */
    dc_fit_opts o = dc_fit_defaults();
    o.epochs = 200;
    o.validation_split = 0.25f;
    o.callbacks = &stopper;
    o.ncallbacks = 1;
    if (dc_model_fit(m, x, y, &o, NULL)) fprintf(stderr, "%s\n", dc_last_error());
    printf("stopped after epoch %d of %d; the best epoch's weights restored\n", dc_model_epoch(m), o.epochs);
    dc_callback_free(stopper);
    // DOC-END early
}

static char *read_text(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = malloc((size_t)n + 1);
    if (s && fread(s, 1, (size_t)n, f) != (size_t)n) {
        free(s);
        s = NULL;
    }
    if (s) s[n] = 0;
    fclose(f);
    return s;
}

/* The lines of s[0..n) with their leading blanks dropped, into out. */
static void unindent(const char *s, size_t n, char *out, size_t cap) {
    size_t k = 0;
    bool start = true;
    for (size_t i = 0; i < n && k + 1 < cap; i++) {
        if (start && s[i] == ' ') continue;
        start = s[i] == '\n';
        out[k++] = s[i];
    }
    out[k] = 0;
}

/* The block `name` of this file (between its markers) against docs/guide.md's code block that
 * starts with the same first line: equal but for indentation. */
static void check_guide_block(const char *name) {
    char path[1024], begin[64], end[64];
    const char *file = __FILE__, *slash = strrchr(file, '/');
    int dirlen = slash ? (int)(slash - file) : 0;
    snprintf(path, sizeof path, "%.*s%sdocs/guide.md", dirlen, file, dirlen ? "/../" : "../");
    char *guide = read_text(path), *src = read_text(file);
    if (!guide) guide = read_text("docs/guide.md"); /* run from the source tree */
    if (!src) src = read_text("tests/test_fit.c");
    CHECK(guide && src);
    snprintf(begin, sizeof begin, "// DOC-%s %s\n", "BEGIN", name);
    snprintf(end, sizeof end, "// DOC-%s %s\n", "END", name);
    const char *b = src ? strstr(src, begin) : NULL, *e = b ? strstr(b, end) : NULL;
    CHECK(b && e);
    if (guide && b && e) {
        b += strlen(begin);
        while (e > b && e[-1] == ' ') e--; /* the end marker's indentation */
        static char mine[8192], theirs[8192];
        unindent(b, (size_t)(e - b), mine, sizeof mine);
        const char *nl = strchr(mine, '\n');
        char first[256];
        snprintf(first, sizeof first, "```c\n%.*s", nl ? (int)(nl - mine + 1) : 0, mine);
        const char *r = strstr(guide, first), *re = r ? strstr(r + 5, "```") : NULL;
        CHECK(r && re);
        if (r && re) {
            unindent(r + 5, (size_t)(re - r - 5), theirs, sizeof theirs);
            CHECK(strcmp(mine, theirs) == 0);
            if (strcmp(mine, theirs)) fprintf(stderr, "docs/guide.md block \"%s\" differs:\n--- test\n%s--- docs/guide.md\n%s", name, mine, theirs);
        }
    }
    free(guide);
    free(src);
}

/* The loop trains, and ends bit-identical to fit with the same optimiser on the whole batch. */
static void test_guide_loop(void) {
    check_guide_block("loop");
    dc_tensor *x = check_randn(&rng, 2, (int64_t[]){64, 5}), *y = dc_tensor_new(2, (int64_t[]){64, 2});
    for (int64_t i = 0; i < 64; i++)
        for (int k = 0; k < 2; k++) {
            const float *r = dc_tensor_data(x) + i * 5;
            dc_tensor_data(y)[i * 2 + k] = r[k] - 0.5f * r[k + 2] + 0.1f * dc_rng_normal(&rng);
        }
    dc_model *m[2];
    for (int i = 0; i < 2; i++) {
        m[i] = dc_sequential();
        dc_model_set_seed(m[i], 11);
        dc_model_add(m[i], dc_input(1, (int64_t[]){5}));
        dc_model_add(m[i], dc_dense(8, DC_ACT_TANH));
        dc_model_add(m[i], dc_dense(2, DC_ACT_NONE));
        CHECK(dc_model_compile(m[i], dc_sgd(0.05f, 0.9f, false), DC_LOSS_MSE, NULL, 0) == DC_OK);
    }
    double before[1], after[1];
    CHECK(dc_model_evaluate(m[0], x, y, 64, before) == DC_OK);
    guide_loop(m[0], x, y);
    CHECK(dc_model_evaluate(m[0], x, y, 64, after) == DC_OK);
    CHECK(after[0] < 0.2 * before[0]);
    dc_fit_opts o = quiet(100, 64);
    o.shuffle = false;
    CHECK(dc_model_fit(m[1], x, y, &o, NULL) == DC_OK);
    CHECK(same_buffers(m[0], m[1]));
    for (int i = 0; i < 2; i++) dc_model_free(m[i]);
    dc_tensor_free(x);
    dc_tensor_free(y);
}

/* The early-stopping block stops before its 200 epochs, and the weights left are the best
 * epoch's: evaluating them on the validation rows gives that epoch's val_loss. */
static void test_guide_early_stopping(void) {
    check_guide_block("early");
    dc_tensor *x, *y;
    make_data(80, 10, 0.3f, &x, &y);
    dc_model *m = dc_sequential();
    dc_model_set_seed(m, 21);
    dc_model_add(m, dc_input(1, (int64_t[]){10}));
    dc_model_add(m, dc_dense(64, DC_ACT_RELU));
    dc_model_add(m, dc_dense(3, DC_ACT_SOFTMAX));
    guide_early_stopping(m, x, y);
    int stopped = dc_model_epoch(m);
    const double *vl = dc_history_get(dc_model_history(m), "val_loss");
    CHECK(stopped > 5 && stopped < 200 && vl);
    if (vl) {
        int best = 0; /* the rule: the last epoch that beat the best by more than 1e-3 */
        double b = INFINITY;
        for (int e = 0; e < stopped; e++)
            if (vl[e] + 1e-3 < b) b = vl[e], best = e;
        CHECK(stopped == best + 1 + 5);
        dc_tensor *xv = dc_tensor_from(2, (int64_t[]){20, 10}, dc_tensor_data(x) + 60 * 10);
        dc_tensor *yv = dc_tensor_from(1, (int64_t[]){20}, dc_tensor_data(y) + 60);
        double res[2];
        CHECK(dc_model_evaluate(m, xv, yv, 32, res) == DC_OK);
        CHECK_NEAR(res[0], vl[best], 1e-6 * vl[best]);
        printf("guide early stopping: stopped after epoch %d, best epoch %d (val_loss %.4f)\n", stopped, best + 1, vl[best]);
        dc_tensor_free(xv);
        dc_tensor_free(yv);
    }
    dc_model_free(m);
    dc_tensor_free(x);
    dc_tensor_free(y);
}

int main(void) {
    dc_rng_seed(&rng, 2024);
    test_continue();
    test_early_stopping_rule();
    test_early_stopping_restore();
    test_batch_callback();
    test_lr_and_schedule();
    test_progress();
    test_zero_grad();
    test_guide_loop();
    test_guide_early_stopping();
    return check_report("test_fit");
}
