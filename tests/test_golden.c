/* Golden checks of deepc against PyTorch 1.13.
 *
 * The vectors under tests/golden/ are written by scripts/golden/gen_golden.py (`make golden`,
 * see tests/golden/README.md): PyTorch computes, in float64, a small dense network's forward
 * values, losses and gradients, softmax/log_softmax with a random upstream gradient, and a few
 * steps of every optimiser. This test rebuilds each computation with deepc's public API and
 * compares.
 *
 * Tolerance: |got - expected| <= GOLD_ABS_TOL + GOLD_REL_TOL * |expected|, i.e. 1e-5 absolute
 * plus 1e-4 relative. For the optimisers the same tolerance is applied to the weights after
 * each step and to each step's update (w_s - w_{s-1}), since an update is ~1e-3 of a weight.
 *
 * One line per case: "golden <case> ok" or "golden <case> FAILED" after the mismatch details
 * (tensor, index, expected, got); a summary at the end; exit status 1 on any failure. A golden
 * file that is missing or malformed fails its case with a message, it never crashes the test.
 * The test runs from the repository root (CMake's WORKING_DIRECTORY); an optional argv[1]
 * names another golden directory. The file reader and the comparison helpers are shared with
 * tests/test_golden_conv.c in tests/golden_io.h.
 */
#include <deepc.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "golden_io.h"

/* ------------------------------------------------------------------------------------- */
/* a. dense stack: x -> Linear -> activation -> Linear -> loss                            */
/* ------------------------------------------------------------------------------------- */

typedef enum loss_kind {
    LK_MSE,
    LK_MAE,
    LK_BCE,                /* dc_bce_loss(dc_sigmoid(z), y) */
    LK_BCE_LOGITS,         /* dc_bce_with_logits_loss(z, y) */
    LK_SOFTMAX_SPARSE_CCE, /* torch cross_entropy(z, labels) */
    LK_SOFTMAX_CCE,        /* -(y * log_softmax(z)).sum(1).mean(), soft y */
    LK_NLL,                /* nll_loss(log_softmax(z), labels), built from deepc ops */
    LK_CCE,                /* dc_cce_loss(dc_softmax(z), one-hot y) */
    LK_SPARSE_CCE,         /* dc_sparse_cce_loss(dc_softmax(z), labels) */
} loss_kind;

typedef struct dense_spec {
    const char *name; /* golden file tests/golden/<name>.txt */
    dc_activation act;
    float alpha; /* torch's slope / alpha for leaky_relu and elu */
    loss_kind loss;
} dense_spec;

static const dense_spec dense_cases[] = {
    {"dense_sigmoid_mse", DC_ACT_SIGMOID, 0, LK_MSE},
    {"dense_tanh_mse", DC_ACT_TANH, 0, LK_MSE},
    {"dense_relu_mse", DC_ACT_RELU, 0, LK_MSE},
    {"dense_leaky_relu_mse", DC_ACT_LEAKY_RELU, 0.01f, LK_MSE},
    {"dense_elu_mse", DC_ACT_ELU, 1.0f, LK_MSE},
    {"dense_sigmoid_softmax_sparse_cce", DC_ACT_SIGMOID, 0, LK_SOFTMAX_SPARSE_CCE},
    {"dense_tanh_softmax_sparse_cce", DC_ACT_TANH, 0, LK_SOFTMAX_SPARSE_CCE},
    {"dense_relu_softmax_sparse_cce", DC_ACT_RELU, 0, LK_SOFTMAX_SPARSE_CCE},
    {"dense_leaky_relu_softmax_sparse_cce", DC_ACT_LEAKY_RELU, 0.01f, LK_SOFTMAX_SPARSE_CCE},
    {"dense_elu_softmax_sparse_cce", DC_ACT_ELU, 1.0f, LK_SOFTMAX_SPARSE_CCE},
    {"dense_tanh_mae", DC_ACT_TANH, 0, LK_MAE},
    {"dense_tanh_bce", DC_ACT_TANH, 0, LK_BCE},
    {"dense_tanh_bce_logits", DC_ACT_TANH, 0, LK_BCE_LOGITS},
    {"dense_tanh_softmax_cce", DC_ACT_TANH, 0, LK_SOFTMAX_CCE},
    {"dense_tanh_nll", DC_ACT_TANH, 0, LK_NLL},
    {"dense_tanh_cce", DC_ACT_TANH, 0, LK_CCE},
    {"dense_tanh_sparse_cce", DC_ACT_TANH, 0, LK_SPARSE_CCE},
};

/* The ways the same computation is run through deepc: each must match the golden values. */
typedef enum dense_route {
    ROUTE_ACTIVATE,  /* dc_activate(act, alpha 0 = deepc's default slope) */
    ROUTE_NAMED,     /* dc_sigmoid / dc_tanh / dc_relu / dc_leaky_relu(alpha) / dc_elu(alpha) */
    ROUTE_INFERENCE, /* dc_activate with grad mode off: forward values only */
    ROUTE_COUNT
} dense_route;
static const char *const route_names[ROUTE_COUNT] = {"dc_activate", "named activation", "grad off"};

static dc_tensor *apply_act(dc_ctx *ctx, dc_tensor *x, const dense_spec *s, dense_route r) {
    if (r != ROUTE_NAMED) return dc_activate(ctx, x, s->act, 0);
    switch (s->act) {
    case DC_ACT_SIGMOID: return dc_sigmoid(ctx, x);
    case DC_ACT_TANH: return dc_tanh(ctx, x);
    case DC_ACT_RELU: return dc_relu(ctx, x);
    case DC_ACT_LEAKY_RELU: return dc_leaky_relu(ctx, x, s->alpha);
    case DC_ACT_ELU: return dc_elu(ctx, x, s->alpha);
    default: return dc_activate(ctx, x, s->act, s->alpha);
    }
}

static void dense_run(gcase *c, const dense_spec *s, dense_route r) {
    c->route = route_names[r];
    const bool grad = r != ROUTE_INFERENCE;
    dc_tensor *x = load_tensor(c, "x", grad), *W1 = load_tensor(c, "W1", grad), *b1 = load_tensor(c, "b1", grad);
    dc_tensor *W2 = load_tensor(c, "W2", grad), *b2 = load_tensor(c, "b2", grad), *y = load_tensor(c, "target", false);
    dc_tensor *oh = NULL;
    dc_ctx *ctx = dc_ctx_new();
    if (!ctx) fail_dc(c, "dc_ctx_new");
    if (!x || !W1 || !b1 || !W2 || !b2 || !y || !ctx) goto done;
    dc_ctx_set_grad(ctx, grad);

    dc_tensor *a1 = dc_linear(ctx, x, W1, b1);
    dc_tensor *h = a1 ? apply_act(ctx, a1, s, r) : NULL;
    dc_tensor *z = h ? dc_linear(ctx, h, W2, b2) : NULL;
    if (!z) {
        fail_dc(c, "forward (dc_linear / activation)");
        goto done;
    }
    dc_tensor *p = NULL, *loss = NULL;
    switch (s->loss) {
    case LK_MSE: loss = dc_mse_loss(ctx, z, y); break;
    case LK_MAE: loss = dc_mae_loss(ctx, z, y); break;
    case LK_BCE: loss = (p = dc_sigmoid(ctx, z)) ? dc_bce_loss(ctx, p, y) : NULL; break;
    case LK_BCE_LOGITS: loss = dc_bce_with_logits_loss(ctx, z, y); break;
    case LK_SOFTMAX_SPARSE_CCE: loss = dc_softmax_sparse_cce_loss(ctx, z, y); break;
    case LK_SOFTMAX_CCE: loss = dc_softmax_cce_loss(ctx, z, y); break;
    case LK_NLL:
        /* -sum(log_softmax(z) * one_hot) / N; the one-hot tensor must outlive dc_backward */
        if ((p = dc_log_softmax(ctx, z)) && (oh = dc_one_hot(y, dc_tensor_dim(z, 1))))
            loss = dc_scale(ctx, dc_sum(ctx, dc_mul(ctx, p, oh)), -1.0f / (float)dc_tensor_dim(z, 0));
        break;
    case LK_CCE: loss = (p = dc_softmax(ctx, z)) ? dc_cce_loss(ctx, p, y) : NULL; break;
    case LK_SPARSE_CCE: loss = (p = dc_softmax(ctx, z)) ? dc_sparse_cce_loss(ctx, p, y) : NULL; break;
    }
    if (!loss) {
        fail_dc(c, "loss");
        goto done;
    }
    compare_tensor(c, "h", h);
    compare_tensor(c, "z", z);
    if (p) compare_tensor(c, "p", p);
    compare_tensor(c, "loss", loss);
    if (!grad) goto done;

    if (dc_backward(ctx, loss) != DC_OK) {
        fail_dc(c, "dc_backward");
        goto done;
    }
    compare_tensor(c, "dx", dc_tensor_grad(x));
    compare_tensor(c, "dW1", dc_tensor_grad(W1));
    compare_tensor(c, "db1", dc_tensor_grad(b1));
    compare_tensor(c, "dW2", dc_tensor_grad(W2));
    compare_tensor(c, "db2", dc_tensor_grad(b2));
done:
    dc_ctx_free(ctx);
    dc_tensor_free(oh);
    dc_tensor_free(x);
    dc_tensor_free(W1);
    dc_tensor_free(b1);
    dc_tensor_free(W2);
    dc_tensor_free(b2);
    dc_tensor_free(y);
}

static int dense_case(const char *dir, const dense_spec *s) {
    gcase c;
    if (case_open(&c, dir, s->name))
        for (int r = 0; r < ROUTE_COUNT; r++) dense_run(&c, s, (dense_route)r);
    return case_close(&c);
}

/* ------------------------------------------------------------------------------------- */
/* b. softmax / log_softmax with an upstream gradient gy: backward of sum(y * gy)         */
/* ------------------------------------------------------------------------------------- */

static void softmax_run(gcase *c, bool log, bool via_activate) {
    c->route = via_activate ? "dc_activate" : log ? "dc_log_softmax" : "dc_softmax";
    dc_tensor *z = load_tensor(c, "z", true), *gy = load_tensor(c, "gy", false);
    dc_ctx *ctx = dc_ctx_new();
    if (!ctx) fail_dc(c, "dc_ctx_new");
    if (!z || !gy || !ctx) goto done;
    dc_tensor *y;
    if (via_activate) y = dc_activate(ctx, z, log ? DC_ACT_LOG_SOFTMAX : DC_ACT_SOFTMAX, 0);
    else y = log ? dc_log_softmax(ctx, z) : dc_softmax(ctx, z);
    dc_tensor *l = y ? dc_sum(ctx, dc_mul(ctx, y, gy)) : NULL;
    if (!l) {
        fail_dc(c, "forward");
        goto done;
    }
    compare_tensor(c, "y", y);
    if (dc_backward(ctx, l) != DC_OK) {
        fail_dc(c, "dc_backward");
        goto done;
    }
    compare_tensor(c, "dz", dc_tensor_grad(z));
done:
    dc_ctx_free(ctx);
    dc_tensor_free(z);
    dc_tensor_free(gy);
}

static int softmax_case(const char *dir, bool log) {
    gcase c;
    if (case_open(&c, dir, log ? "log_softmax" : "softmax")) {
        softmax_run(&c, log, false);
        softmax_run(&c, log, true);
    }
    return case_close(&c);
}

/* ------------------------------------------------------------------------------------- */
/* c. optimisers: dc_optimizer_step on plain arrays, weights after every step             */
/* ------------------------------------------------------------------------------------- */

typedef enum opt_kind { OK_SGD, OK_ADAGRAD, OK_ADADELTA, OK_RMSPROP, OK_ADAM } opt_kind;

typedef struct opt_spec {
    const char *name;
    opt_kind kind;
    /* lr, a, b, eps, weight_decay, nesterov; a/b = momentum, rho (torch's alpha) or betas.
     * Must equal the "hp" tensor gen_golden.py wrote. */
    double hp[6];
} opt_spec;

static const opt_spec opt_cases[] = {
    {"optim_sgd", OK_SGD, {0.1, 0, 0, 0, 0, 0}},
    {"optim_sgd_momentum", OK_SGD, {0.1, 0.9, 0, 0, 0, 0}},
    {"optim_sgd_nesterov", OK_SGD, {0.1, 0.9, 0, 0, 0, 1}},
    {"optim_sgd_wd", OK_SGD, {0.1, 0, 0, 0, 0.01, 0}},
    {"optim_adagrad", OK_ADAGRAD, {0.1, 0, 0, 1e-10, 0, 0}},
    {"optim_adadelta", OK_ADADELTA, {1.0, 0.9, 0, 1e-6, 0, 0}},
    {"optim_rmsprop", OK_RMSPROP, {0.01, 0.99, 0, 1e-8, 0, 0}},
    {"optim_adam", OK_ADAM, {1e-3, 0.9, 0.999, 1e-8, 0, 0}},
    {"optim_adam_wd", OK_ADAM, {1e-3, 0.9, 0.999, 1e-8, 0.01, 0}},
};

static dc_optimizer *make_opt(const opt_spec *s) {
    const float lr = (float)s->hp[0], a = (float)s->hp[1], b = (float)s->hp[2], eps = (float)s->hp[3];
    dc_optimizer *o = NULL;
    switch (s->kind) {
    case OK_SGD: o = dc_sgd(lr, a, s->hp[5] != 0); break;
    case OK_ADAGRAD: o = dc_adagrad(lr, eps); break;
    case OK_ADADELTA: o = dc_adadelta(lr, a, eps); break;
    case OK_RMSPROP: o = dc_rmsprop(lr, a, eps); break;
    case OK_ADAM: o = dc_adam(lr, a, b, eps); break;
    }
    if (o && s->hp[4] > 0 && dc_optimizer_set_weight_decay(o, (float)s->hp[4]) != DC_OK) {
        dc_optimizer_free(o);
        o = NULL;
    }
    return o;
}

static int opt_case(const char *dir, const opt_spec *s) {
    gcase c;
    float *w = NULL, *prev = NULL, *g = NULL, *dgot = NULL;
    double *dexp = NULL;
    dc_optimizer *o = NULL;
    if (!case_open(&c, dir, s->name)) goto done;
    c.route = "dc_optimizer_step";
    const gt_tensor *hp = need(&c, "hp"), *w0 = need(&c, "w0");
    if (!hp || !w0) goto done;
    if (hp->numel != 6) {
        cfail(&c, "hp: %lld values, expected 6", (long long)hp->numel);
        goto done;
    }
    for (int i = 0; i < 6; i++)
        if (fabs(hp->v[i] - s->hp[i]) > 1e-9 * fabs(s->hp[i])) {
            cfail(&c, "hp[%d] is %.9g in the golden file but %.9g in this test: regenerate or update the table", i,
                  hp->v[i], s->hp[i]);
            goto done;
        }
    const int64_t n = w0->numel;
    w = malloc((size_t)n * sizeof *w);
    prev = malloc((size_t)n * sizeof *prev);
    g = malloc((size_t)n * sizeof *g);
    dgot = malloc((size_t)n * sizeof *dgot);
    dexp = malloc((size_t)n * sizeof *dexp);
    if (!w || !prev || !g || !dgot || !dexp) {
        cfail(&c, "out of memory");
        goto done;
    }
    if (!(o = make_opt(s))) {
        fail_dc(&c, "creating the optimizer");
        goto done;
    }
    for (int64_t i = 0; i < n; i++) w[i] = (float)w0->v[i];
    const gt_tensor *wprev = w0;
    int steps = 0;
    for (int step = 1;; step++) {
        char gname[16], wname[16], what[32];
        snprintf(gname, sizeof gname, "g%d", step);
        snprintf(wname, sizeof wname, "w%d", step);
        const gt_tensor *gs = gt_find(&c.gf, gname), *ws = gt_find(&c.gf, wname);
        if (!gs && !ws) break;
        if (!gs || !ws) {
            cfail(&c, "step %d: golden has only one of %s and %s", step, gname, wname);
            goto done;
        }
        if (gs->numel != n || ws->numel != n) {
            cfail(&c, "step %d: %s/%s hold %lld/%lld values, w0 holds %lld", step, gname, wname, (long long)gs->numel,
                  (long long)ws->numel, (long long)n);
            goto done;
        }
        for (int64_t i = 0; i < n; i++) {
            g[i] = (float)gs->v[i];
            prev[i] = w[i];
        }
        if (dc_optimizer_step(o, w, g, n) != DC_OK) {
            fail_dc(&c, "dc_optimizer_step");
            goto done;
        }
        compare_vals(&c, wname, w, n, ws, ws->v);
        for (int64_t i = 0; i < n; i++) {
            dgot[i] = w[i] - prev[i];
            dexp[i] = ws->v[i] - wprev->v[i];
        }
        snprintf(what, sizeof what, "update%d", step);
        compare_vals(&c, what, dgot, n, ws, dexp);
        wprev = ws;
        steps++;
    }
    if (steps == 0) cfail(&c, "no steps (g1/w1) in the golden file");
done:
    dc_optimizer_free(o);
    free(w);
    free(prev);
    free(g);
    free(dgot);
    free(dexp);
    return case_close(&c);
}

/* ------------------------------------------------------------------------------------- */

int main(int argc, char **argv) {
    const char *dir = argc > 1 ? argv[1] : "tests/golden";
    int total = 0, failed = 0;
    for (size_t i = 0; i < sizeof dense_cases / sizeof dense_cases[0]; i++, total++)
        failed += dense_case(dir, &dense_cases[i]);
    for (int log = 0; log < 2; log++, total++) failed += softmax_case(dir, log);
    for (size_t i = 0; i < sizeof opt_cases / sizeof opt_cases[0]; i++, total++)
        failed += opt_case(dir, &opt_cases[i]);
    printf("golden: %d of %d cases ok, %d failed (tolerance %g abs + %g rel, goldens from %s)\n", total - failed, total,
           failed, GOLD_ABS_TOL, GOLD_REL_TOL, dir);
    return failed ? 1 : 0;
}
