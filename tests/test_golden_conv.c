/* Golden checks of deepc's image operations (NCHW) against PyTorch 1.13.
 *
 * The vectors under tests/golden/ are written by scripts/golden/gen_golden.py (`make golden`,
 * see tests/golden/README.md): PyTorch computes, in float64 from float32 inputs, the output y of
 * F.conv2d, F.conv_transpose2d, F.max_pool2d, F.avg_pool2d, global average pooling, nearest
 * F.interpolate and F.batch_norm, and the gradients of sum(y * gy) for a random upstream gradient
 * gy with respect to the input, the weights and the bias (gamma and beta for batch
 * normalisation), and for batch normalisation the running statistics after the call. This test
 * runs the same computations through dc_conv2d, dc_conv2d_transpose, dc_max_pool2d,
 * dc_avg_pool2d, dc_global_avg_pool2d, dc_upsample2d and dc_batch_norm and compares.
 *
 * Every case runs five ways: the op with 1, 2 and 3 threads (dc_set_threads; dc_conv2d processes
 * the images of a batch in parallel when N >= threads > 1 and image by image otherwise, so with
 * N = 2 these are both paths), the op with grad mode off (forward values and running
 * statistics), and the matching layer (dc_conv2d_layer, dc_batch_norm_layer, ...) in a one-layer
 * model whose parameters are set from the golden file, through dc_model_forward. The
 * conv2d_<activation>_same cases follow the convolution with an activation: dc_activate on the
 * op routes, the activation fused into Conv2D (derivative taken from the output) on the layer
 * route, whose padding is then the layer's own SAME rule (Keras's, extra row/column at the
 * bottom/right), checked against the explicit padding PyTorch used.
 *
 * Tolerance: |got - expected| <= abs + rel * |expected| with rel = 1e-4 throughout; abs = 1e-5
 * for pooling, up-sampling and batch normalisation (short sums, or sums deepc accumulates in
 * double), and abs = CONV_ABS_TOL = 5e-5 for the convolutions. A convolution value is a sum of
 * many terms (here up to C kh kw = 27 for y, F kh kw = 36 for dx, N OH OW = 84 for dw and db,
 * 126 for a transposed convolution's), each up to a few units in size, accumulated in float32
 * (OpenBLAS and deepc's own loops): its rounding error grows with the sum of the terms'
 * magnitudes, not with the result, which cancellation can bring near zero, so it may exceed
 * 1e-5 absolute while being ~1e-7 of the terms. 5e-5 bounds that with room (measured on x86-64
 * with OpenBLAS: largest |diff| 2.7e-6, on dw values of up to 16; largest excess over the 1e-4
 * relative part 7e-9) and still catches any real indexing or padding mistake, which moves a
 * value by whole terms (~0.1 or more).
 *
 * One line per case: "golden <case> ok" or "golden <case> FAILED" after the mismatch details
 * (route, tensor, index, expected, got); a summary at the end; exit status 1 on any failure. A
 * golden file that is missing or malformed fails its case with a message, it never crashes the
 * test. The test runs from the repository root (CMake's WORKING_DIRECTORY); an optional argv[1]
 * names another golden directory.
 */
#include <deepc.h>

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "golden_io.h"

#define CONV_ABS_TOL 5e-5
#define MAX_CFG 8

typedef enum op_kind { OP_CONV, OP_CONVT, OP_MAXPOOL, OP_AVGPOOL, OP_GAP, OP_UPSAMPLE, OP_BN } op_kind;

typedef struct img_spec {
    const char *name; /* golden file tests/golden/<name>.txt */
    op_kind op;
    /* Must equal the golden "cfg" tensor (ncfg 0: none):
     *   conv, conv transpose: stride h, stride w, pad top, left, bottom, right, has bias
     *                         [, alpha of the activation, 0 for its default]
     *   max / avg pool:       kh, kw, stride h, stride w (the layer route needs them square)
     *   upsample:             fh, fw
     *   batch norm:           momentum, eps, training, affine (gamma and beta given) */
    int ncfg;
    double cfg[MAX_CFG];
    dc_activation act; /* conv only: applied to the output */
    bool same;         /* conv only: the layer route uses DC_PAD_SAME, which must give cfg's padding */
} img_spec;

static const img_spec img_cases[] = {
    {"conv2d_3x3", OP_CONV, 7, {1, 1, 0, 0, 0, 0, 1}, DC_ACT_NONE, false},
    {"conv2d_3x3_s2_pad1", OP_CONV, 7, {2, 2, 1, 1, 1, 1, 1}, DC_ACT_NONE, false},
    {"conv2d_2x3_s21_asym_pad", OP_CONV, 7, {2, 1, 1, 2, 2, 0, 1}, DC_ACT_NONE, false},
    {"conv2d_n1_5x5_same", OP_CONV, 7, {1, 1, 2, 2, 2, 2, 1}, DC_ACT_NONE, true},
    {"conv2d_nobias", OP_CONV, 7, {1, 1, 1, 1, 1, 1, 0}, DC_ACT_NONE, false},
    {"conv2d_relu_same_s2", OP_CONV, 8, {2, 2, 1, 0, 1, 1, 1, 0}, DC_ACT_RELU, true},
    {"conv2d_leaky_relu_same", OP_CONV, 8, {1, 1, 1, 1, 1, 1, 1, 0.25}, DC_ACT_LEAKY_RELU, true},
    {"conv2d_elu_same", OP_CONV, 8, {1, 1, 1, 1, 1, 1, 1, 0.75}, DC_ACT_ELU, true},
    {"conv2d_sigmoid_same", OP_CONV, 8, {1, 1, 1, 1, 1, 1, 1, 0}, DC_ACT_SIGMOID, true},
    {"conv2d_tanh_same", OP_CONV, 8, {1, 1, 1, 1, 1, 1, 1, 0}, DC_ACT_TANH, true},
    {"conv_transpose2d_3x3_s2_pad1", OP_CONVT, 7, {2, 2, 1, 1, 1, 1, 1}, DC_ACT_NONE, false},
    {"conv_transpose2d_2x3_s1", OP_CONVT, 7, {1, 1, 0, 0, 0, 0, 1}, DC_ACT_NONE, false},
    {"conv_transpose2d_3x2_s12_asym_pad", OP_CONVT, 7, {1, 2, 1, 0, 2, 1, 1}, DC_ACT_NONE, false},
    {"max_pool2d_2x2_s2", OP_MAXPOOL, 4, {2, 2, 2, 2}, DC_ACT_NONE, false},
    {"max_pool2d_3x3_s2", OP_MAXPOOL, 4, {3, 3, 2, 2}, DC_ACT_NONE, false},
    {"avg_pool2d_2x2_s2", OP_AVGPOOL, 4, {2, 2, 2, 2}, DC_ACT_NONE, false},
    {"global_avg_pool2d", OP_GAP, 0, {0}, DC_ACT_NONE, false},
    {"upsample2d_nearest_2x2", OP_UPSAMPLE, 2, {2, 2}, DC_ACT_NONE, false},
    {"upsample2d_nearest_2x3", OP_UPSAMPLE, 2, {2, 3}, DC_ACT_NONE, false},
    {"batch_norm2d_train", OP_BN, 4, {0.1, 1e-3, 1, 1}, DC_ACT_NONE, false},
    {"batch_norm1d_train", OP_BN, 4, {0.1, 1e-3, 1, 1}, DC_ACT_NONE, false},
    {"batch_norm2d_train_no_affine", OP_BN, 4, {0.1, 1e-3, 1, 0}, DC_ACT_NONE, false},
    {"batch_norm2d_eval", OP_BN, 4, {0.1, 1e-3, 0, 1}, DC_ACT_NONE, false},
    {"batch_norm1d_eval", OP_BN, 4, {0.1, 1e-3, 0, 1}, DC_ACT_NONE, false},
};

typedef enum img_route { ROUTE_T1, ROUTE_T2, ROUTE_T3, ROUTE_NO_GRAD, ROUTE_LAYER, ROUTE_COUNT } img_route;
static const char *const route_names[ROUTE_COUNT] = {"1 thread", "2 threads", "3 threads", "grad off", "layer"};
static const int route_threads[ROUTE_COUNT] = {1, 2, 3, 0, 0}; /* 0: DEEPC_THREADS or the cores */

/* The golden cfg must match the table, so a regenerated file cannot silently test other
 * settings than the ones this test passes to deepc. */
static bool check_cfg(gcase *c, const img_spec *s) {
    if (s->ncfg == 0) return true;
    const gt_tensor *g = need(c, "cfg");
    if (!g) return false;
    if (g->numel != s->ncfg) {
        cfail(c, "cfg: %lld values in the golden file, %d in this test's table", (long long)g->numel, s->ncfg);
        return false;
    }
    for (int i = 0; i < s->ncfg; i++)
        if (!(fabs(g->v[i] - s->cfg[i]) <= 1e-9 * fabs(s->cfg[i]))) {
            cfail(c, "cfg[%d] is %.9g in the golden file but %.9g in this test: regenerate or update the table", i,
                  g->v[i], s->cfg[i]);
            return false;
        }
    return true;
}

/* The tensors one run works on; owned ones are freed by run_free. */
typedef struct run_io {
    dc_tensor *x, *w, *b, *gamma, *beta, *rm, *rv, *gy;
} run_io;

static void run_free(run_io *io) {
    dc_tensor *all[] = {io->x, io->w, io->b, io->gamma, io->beta, io->rm, io->rv, io->gy};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) dc_tensor_free(all[i]);
    memset(io, 0, sizeof *io);
}

/* Loads what the op needs; false (with the failure recorded) if anything is missing. */
static bool run_load(gcase *c, const img_spec *s, bool grad, run_io *io) {
    memset(io, 0, sizeof *io);
    io->x = load_tensor(c, "x", grad);
    io->gy = load_tensor(c, "gy", false);
    bool ok = io->x && io->gy;
    if (s->op == OP_CONV || s->op == OP_CONVT) {
        io->w = load_tensor(c, "w", grad);
        ok = ok && io->w;
        if (s->cfg[6] != 0) ok = (io->b = load_tensor(c, "b", grad)) && ok;
    } else if (s->op == OP_BN) {
        io->rm = load_tensor(c, "running_mean", false);
        io->rv = load_tensor(c, "running_var", false);
        ok = ok && io->rm && io->rv;
        if (s->cfg[3] != 0) {
            io->gamma = load_tensor(c, "gamma", grad);
            io->beta = load_tensor(c, "beta", grad);
            ok = ok && io->gamma && io->beta;
        }
    }
    return ok;
}

static float act_alpha(const img_spec *s) { return s->ncfg > 7 ? (float)s->cfg[7] : 0.0f; }

/* The op route's forward pass. */
static dc_tensor *forward(dc_ctx *ctx, const img_spec *s, run_io *io) {
    const double *k = s->cfg;
    switch (s->op) {
    case OP_CONV:
    case OP_CONVT: {
        const int pad[4] = {(int)k[2], (int)k[3], (int)k[4], (int)k[5]};
        const int *p = (pad[0] || pad[1] || pad[2] || pad[3]) ? pad : NULL; /* NULL: no padding */
        dc_tensor *y = s->op == OP_CONV ? dc_conv2d(ctx, io->x, io->w, io->b, (int)k[0], (int)k[1], p)
                                        : dc_conv2d_transpose(ctx, io->x, io->w, io->b, (int)k[0], (int)k[1], p);
        return y && s->act != DC_ACT_NONE ? dc_activate(ctx, y, s->act, act_alpha(s)) : y;
    }
    case OP_MAXPOOL: return dc_max_pool2d(ctx, io->x, (int)k[0], (int)k[1], (int)k[2], (int)k[3]);
    case OP_AVGPOOL: return dc_avg_pool2d(ctx, io->x, (int)k[0], (int)k[1], (int)k[2], (int)k[3]);
    case OP_GAP: return dc_global_avg_pool2d(ctx, io->x);
    case OP_UPSAMPLE: return dc_upsample2d(ctx, io->x, (int)k[0], (int)k[1]);
    case OP_BN:
        return dc_batch_norm(ctx, io->x, io->gamma, io->beta, io->rm, io->rv, (float)k[0], (float)k[1], k[2] != 0);
    }
    return NULL;
}

/* ---- the layer route: a one-layer model named "op" ---- */

static dc_layer *make_layer(gcase *c, const img_spec *s, const run_io *io) {
    const double *k = s->cfg;
    dc_layer *l = NULL;
    switch (s->op) {
    case OP_CONV:
    case OP_CONVT: {
        const bool conv = s->op == OP_CONV;
        if (dc_tensor_ndim(io->w) != 4) {
            cfail(c, "w: expected 4 dimensions, the golden file has %d", dc_tensor_ndim(io->w));
            return NULL;
        }
        const int64_t filters = dc_tensor_dim(io->w, conv ? 0 : 1);
        const int kh = (int)dc_tensor_dim(io->w, 2), kw = (int)dc_tensor_dim(io->w, 3);
        const dc_padding p = s->same ? DC_PAD_SAME : DC_PAD_VALID;
        const int pad[4] = {(int)k[2], (int)k[3], (int)k[4], (int)k[5]};
        l = conv ? dc_conv2d_layer(filters, kh, kw, (int)k[0], p, s->act)
                 : dc_conv2d_transpose_layer(filters, kh, kw, (int)k[0], p, s->act);
        if (l && (dc_layer_set_strides(l, (int)k[0], (int)k[1]) != DC_OK ||
                  dc_layer_set_use_bias(l, k[6] != 0) != DC_OK || (!s->same && dc_layer_set_padding(l, pad) != DC_OK) ||
                  (act_alpha(s) != 0 && dc_layer_set_alpha(l, act_alpha(s)) != DC_OK))) {
            dc_layer_free(l);
            l = NULL;
        }
        break;
    }
    case OP_MAXPOOL:
    case OP_AVGPOOL:
        if (k[2] != k[3]) {
            cfail(c, "the pooling layers take one stride, the golden file has (%g, %g)", k[2], k[3]);
            return NULL;
        }
        l = s->op == OP_MAXPOOL ? dc_max_pool2d_layer((int)k[0], (int)k[1], (int)k[2])
                                : dc_avg_pool2d_layer((int)k[0], (int)k[1], (int)k[2]);
        break;
    case OP_GAP: l = dc_global_avg_pool2d_layer(); break;
    case OP_UPSAMPLE: l = dc_upsample2d_layer((int)k[0], (int)k[1]); break;
    case OP_BN: l = dc_batch_norm_layer((float)k[0], (float)k[1]); break;
    }
    if (l && dc_layer_set_name(l, "op") != DC_OK) {
        dc_layer_free(l);
        l = NULL;
    }
    if (!l) fail_dc(c, "creating the layer");
    return l;
}

/* Builds the one-layer model for x's shape and loads the golden parameters; NULL on failure. */
static dc_model *make_model(gcase *c, const img_spec *s, run_io *io) {
    dc_model *m = dc_sequential();
    if (!m) {
        fail_dc(c, "dc_sequential");
        return NULL;
    }
    /* dc_model_add owns the layer even when it fails */
    if (dc_model_add(m, dc_input(dc_tensor_ndim(io->x) - 1, dc_tensor_shape(io->x) + 1)) != DC_OK ||
        dc_model_add(m, make_layer(c, s, io)) != DC_OK || dc_model_build(m, 0, NULL) != DC_OK) {
        fail_dc(c, "building the model");
        dc_model_free(m);
        return NULL;
    }
    bool ok = true;
    if (io->w) ok = set_param(c, m, "op.weight", io->w);
    if (ok && io->b) ok = set_param(c, m, "op.bias", io->b);
    if (ok && s->op == OP_BN) {
        ok = set_param(c, m, "op.running_mean", io->rm) && set_param(c, m, "op.running_var", io->rv);
        if (ok && io->gamma) ok = set_param(c, m, "op.gamma", io->gamma) && set_param(c, m, "op.beta", io->beta);
        else if (ok) { /* no affine transform: gamma 1, beta 0, which the layer starts from */
            dc_tensor *g = dc_model_param(m, "op.gamma"), *b = dc_model_param(m, "op.beta");
            ok = g && b;
            if (ok) {
                dc_tensor_fill(g, 1.0f);
                dc_tensor_fill(b, 0.0f);
            } else {
                fail_dc(c, "op.gamma / op.beta");
            }
        }
    }
    if (!ok) {
        dc_model_free(m);
        return NULL;
    }
    return m;
}

/* The gradient of the weight-like input `io_t` (op routes) or the model tensor `pname`
 * (layer route). */
static dc_tensor *grad_of(dc_model *m, const char *pname, const dc_tensor *io_t) {
    if (!m) return dc_tensor_grad(io_t);
    dc_tensor *p = dc_model_param(m, pname);
    return p ? dc_tensor_grad(p) : NULL;
}

static void img_run(gcase *c, const img_spec *s, img_route r) {
    c->route = route_names[r];
    const bool grad = r != ROUTE_NO_GRAD, layer = r == ROUTE_LAYER;
    dc_set_threads(route_threads[r]);
    run_io io;
    dc_model *m = NULL;
    bool loaded = run_load(c, s, grad, &io);
    dc_ctx *ctx = dc_ctx_new();
    if (!ctx) fail_dc(c, "dc_ctx_new");
    if (!loaded || !ctx || (layer && !(m = make_model(c, s, &io)))) goto done;
    dc_ctx_set_grad(ctx, grad);

    const bool training = s->op != OP_BN || s->cfg[2] != 0;
    dc_tensor *y = layer ? dc_model_forward(m, ctx, io.x, training) : forward(ctx, s, &io);
    if (!y) {
        fail_dc(c, "forward");
        goto done;
    }
    compare_tensor(c, "y", y);
    if (s->op == OP_BN) { /* updated in place in training, untouched in inference */
        compare_tensor(c, "running_mean_out", layer ? dc_model_param(m, "op.running_mean") : io.rm);
        compare_tensor(c, "running_var_out", layer ? dc_model_param(m, "op.running_var") : io.rv);
    }
    if (!grad) goto done;

    dc_tensor *prod = dc_mul(ctx, y, io.gy), *loss = prod ? dc_sum(ctx, prod) : NULL;
    if (!loss) {
        fail_dc(c, prod ? "loss: dc_sum(y * gy)" : "loss: dc_mul(y, gy)");
        goto done;
    }
    if (dc_backward(ctx, loss) != DC_OK) {
        fail_dc(c, "dc_backward");
        goto done;
    }
    compare_tensor(c, "dx", dc_tensor_grad(io.x));
    if (io.w) compare_tensor(c, "dw", grad_of(m, "op.weight", io.w));
    if (io.b) compare_tensor(c, "db", grad_of(m, "op.bias", io.b));
    if (io.gamma) compare_tensor(c, "dgamma", grad_of(m, "op.gamma", io.gamma));
    if (io.beta) compare_tensor(c, "dbeta", grad_of(m, "op.beta", io.beta));
done:
    dc_ctx_free(ctx);
    dc_model_free(m);
    run_free(&io);
}

static int img_case(const char *dir, const img_spec *s) {
    gcase c;
    if (case_open(&c, dir, s->name)) {
        if (s->op == OP_CONV || s->op == OP_CONVT) c.abs_tol = CONV_ABS_TOL;
        if (check_cfg(&c, s))
            for (int r = 0; r < ROUTE_COUNT; r++) img_run(&c, s, (img_route)r);
    }
    dc_set_threads(0);
    return case_close(&c);
}

int main(int argc, char **argv) {
    const char *dir = argc > 1 ? argv[1] : "tests/golden";
    int total = 0, failed = 0;
    for (size_t i = 0; i < sizeof img_cases / sizeof img_cases[0]; i++, total++) failed += img_case(dir, &img_cases[i]);
    printf("golden conv: %d of %d cases ok, %d failed (tolerance %g abs + %g rel, convolutions %g abs; goldens from "
           "%s)\n",
           total - failed, total, failed, GOLD_ABS_TOL, GOLD_REL_TOL, CONV_ABS_TOL, dir);
    return failed ? 1 : 0;
}
