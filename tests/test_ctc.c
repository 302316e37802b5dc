/* The CTC loss beyond its golden vectors (tests/test_golden_ctc.c): hand-computed values, a
 * finite-difference check of its gradient, its edge cases (empty targets, zero steps, repeats,
 * infeasible targets with and without zero_infinity), its argument errors and its thread-count
 * independence; the greedy and prefix-beam decoders (the beam against an exhaustive search);
 * edit distance and the error rates; and the loss in a model: compile's checks, fit's checks of
 * the targets, lengths from a time-step mask, the options through a model file, and a small GRU
 * that learns to emit label sequences which greedy decoding gives back. */
#include <deepc.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "tmpfiles.h"

#define S(...) ((const int64_t[]){__VA_ARGS__})

static dc_rng rng;

static dc_tensor *tensor(int nd, const int64_t *sh, const float *v) {
    dc_tensor *t = dc_tensor_new(nd, sh);
    if (t && v) memcpy(dc_tensor_data(t), v, (size_t)dc_tensor_numel(t) * sizeof(float));
    return t;
}

static dc_tensor *uniform(int nd, const int64_t *sh, float lo, float hi) {
    dc_tensor *t = dc_tensor_new(nd, sh);
    for (int64_t i = 0; t && i < dc_tensor_numel(t); i++) dc_tensor_data(t)[i] = lo + (hi - lo) * dc_rng_uniform(&rng);
    return t;
}

/* log of probability rows p[T][C] given row by row */
static dc_tensor *log_of(int64_t N, int64_t T, int64_t C, const float *p) {
    dc_tensor *t = dc_tensor_new(3, S(N, T, C));
    for (int64_t i = 0; i < N * T * C; i++) dc_tensor_data(t)[i] = logf(p[i]);
    return t;
}

static float loss1(dc_tensor *lp, dc_tensor *y, const int64_t *len, const dc_loss_opts *o, dc_reduction red) {
    dc_ctx *c = dc_ctx_new();
    dc_tensor *l = dc_ctc_loss(c, lp, y, len, o, red, NULL);
    float v = l ? dc_tensor_data(l)[0] : NAN;
    dc_ctx_free(c);
    return v;
}

/* ---- values by hand ---- */

static void hand_values(void) {
    dc_loss_opts o = dc_loss_opts_default(); /* blank 0 */
    /* T = 2, p = (blank 0.6, a 0.4) at both steps: "a" from (a a), (a -), (- a): 0.16 + 0.24 + 0.24 */
    const float p2[] = {0.6f, 0.4f, 0.6f, 0.4f};
    dc_tensor *lp = log_of(1, 2, 2, p2), *ya = tensor(2, S(1, 1), (const float[]){1});
    CHECK_NEAR(loss1(lp, ya, NULL, &o, DC_REDUCE_SUM), -log(0.64), 1e-6);
    /* an empty target: all blanks, 0.36; padding only ([1, 1] holding -1) */
    dc_tensor *ye = tensor(2, S(1, 1), (const float[]){-1});
    CHECK_NEAR(loss1(lp, ye, NULL, &o, DC_REDUCE_SUM), -log(0.36), 1e-6);
    /* the mean divides by the target length clamped to 1 */
    CHECK_NEAR(loss1(lp, ye, NULL, &o, DC_REDUCE_MEAN), -log(0.36), 1e-6);
    /* "aa" needs "a - a": 3 steps; with 2 it is infeasible: +inf, or 0 with zero_infinity */
    dc_tensor *yaa = tensor(2, S(1, 2), (const float[]){1, 1});
    CHECK(isinf(loss1(lp, yaa, NULL, &o, DC_REDUCE_SUM)));
    dc_loss_opts zi = o;
    zi.zero_infinity = true;
    CHECK(loss1(lp, yaa, NULL, &zi, DC_REDUCE_SUM) == 0);
    const float p3[] = {0.5f, 0.3f, 0.2f, 0.1f, 0.7f, 0.2f, 0.25f, 0.25f, 0.5f};
    dc_tensor *lp3 = log_of(1, 3, 3, p3);
    CHECK_NEAR(loss1(lp3, yaa, NULL, &o, DC_REDUCE_SUM), -log(0.3 * 0.1 * 0.25), 1e-6);
    /* "ab" over 3 steps: a b -, a - b, - a b, a a b, a b b */
    dc_tensor *yab = tensor(2, S(1, 2), (const float[]){1, 2});
    double pab = 0.3 * 0.2 * 0.25 + 0.3 * 0.1 * 0.5 + 0.5 * 0.7 * 0.5 + 0.3 * 0.7 * 0.5 + 0.3 * 0.2 * 0.5;
    CHECK_NEAR(loss1(lp3, yab, NULL, &o, DC_REDUCE_SUM), -log(pab), 1e-6);
    CHECK_NEAR(loss1(lp3, yab, NULL, &o, DC_REDUCE_MEAN), -log(pab) / 2, 1e-6);
    /* input lengths: the first 2 steps of the same rows; 0 steps give 0 for an empty target, inf otherwise */
    CHECK_NEAR(loss1(lp3, yab, S(2), &o, DC_REDUCE_SUM), -log(0.3 * 0.2), 1e-6);
    CHECK(loss1(lp3, ye, S(0), &o, DC_REDUCE_SUM) == 0);
    CHECK(isinf(loss1(lp3, ya, S(0), &o, DC_REDUCE_SUM)));
    /* another blank index: class 2 as the blank gives "a" = 1 the same alignments over (a, blank) */
    dc_loss_opts b2 = o;
    b2.blank = 2;
    const float q2[] = {0.4f, 0.0f, 0.6f, 0.4f, 0.0f, 0.6f};
    dc_tensor *lq = log_of(1, 2, 3, q2), *y0 = tensor(2, S(1, 1), (const float[]){0});
    CHECK_NEAR(loss1(lq, y0, NULL, &b2, DC_REDUCE_SUM), -log(0.64), 1e-6);
    /* from logits: log_softmax fused, the same as log-probabilities */
    dc_loss_opts lg = o;
    lg.from_logits = true;
    dc_tensor *z3 = dc_tensor_clone(lp3);
    for (int64_t i = 0; i < 9; i++) dc_tensor_data(z3)[i] += (float)(i / 3) * 1.5f; /* a constant per step changes nothing */
    CHECK_NEAR(loss1(z3, yab, NULL, &lg, DC_REDUCE_SUM), -log(pab), 1e-5);
    dc_tensor *all[] = {lp, ya, ye, yaa, lp3, yab, lq, y0, z3};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) dc_tensor_free(all[i]);
}

/* ---- gradients ---- */

typedef struct fd_case {
    dc_tensor *y, *sw, *R; /* targets, sample weights (or NULL), upstream weights of 'none' */
    const int64_t *len;
    dc_loss_opts o;
    dc_reduction red;
} fd_case;

static double fd_loss(dc_ctx *c, const fd_case *k, dc_tensor *x) {
    dc_ctx_reset(c);
    dc_tensor *l = dc_ctc_loss(c, x, k->y, k->len, &k->o, k->red, k->sw);
    if (!l) return NAN;
    double s = 0;
    for (int64_t i = 0; i < dc_tensor_numel(l); i++) s += (double)dc_tensor_data(l)[i] * (k->red == DC_REDUCE_NONE ? dc_tensor_data(k->R)[i] : 1);
    return s;
}

/* Central differences of the op's loss against its gradient, element by element. */
static void gradcheck(const char *name, const fd_case *k, dc_tensor *x) {
    dc_ctx *c = dc_ctx_new();
    dc_tensor_set_requires_grad(x, true);
    dc_tensor_zero_grad(x);
    dc_tensor *l = dc_ctc_loss(c, x, k->y, k->len, &k->o, k->red, k->sw);
    dc_tensor *s = l && k->red == DC_REDUCE_NONE ? dc_sum(c, dc_mul(c, l, k->R)) : l;
    CHECK(s && dc_backward(c, s) == DC_OK);
    dc_tensor *g = dc_tensor_clone(dc_tensor_grad(x));
    dc_ctx_set_grad(c, false);
    const float eps = 1e-2f;
    double worst = 0;
    float *v = dc_tensor_data(x);
    for (int64_t i = 0; g && i < dc_tensor_numel(x); i++) {
        float keep = v[i];
        v[i] = keep + eps;
        double lp = fd_loss(c, k, x);
        v[i] = keep - eps;
        double lm = fd_loss(c, k, x);
        v[i] = keep;
        double num = (lp - lm) / (2.0 * eps), err = fabs(num - dc_tensor_data(g)[i]) / (1.0 + fabs(num));
        if (!(err <= worst)) worst = err;
    }
    CHECK(worst < 2e-3);
    printf("gradcheck %-26s max rel err %.2e\n", name, worst);
    dc_tensor_set_requires_grad(x, false);
    dc_tensor_free(g);
    dc_ctx_free(c);
}

static void gradients(void) {
    /* N = 4, T = 6, C = 4: a repeat, an empty target, a shorter input, a target of one label */
    const int64_t N = 4, T = 6, C = 4;
    const int64_t len[] = {6, 4, 6, 5};
    fd_case k = {.y = tensor(2, S(4, 3), (const float[]){1, 1, 2, -1, -1, -1, 3, 1, 3, 2, -1, 7}), .len = len,
                 .o = dc_loss_opts_default()};
    k.sw = tensor(1, S(4), (const float[]){0.5f, 2.0f, 1.0f, 1.5f});
    k.R = uniform(1, S(4), -1, 1);
    dc_tensor *z = uniform(3, S(N, T, C), -2, 2), *lp = uniform(3, S(N, T, C), -3, -0.2f);
    for (int r = 0; r < DC_REDUCE_COUNT; r++) {
        char nm[64];
        k.red = (dc_reduction)r;
        k.o.from_logits = true;
        snprintf(nm, sizeof nm, "ctc/logits/%s", dc_reduction_name(k.red));
        gradcheck(nm, &k, z);
        /* on log-probabilities that are not normalised: the true derivative, -gamma */
        k.o.from_logits = false;
        snprintf(nm, sizeof nm, "ctc/logp/%s", dc_reduction_name(k.red));
        gradcheck(nm, &k, lp);
    }
    /* blank last, no weights */
    k.o.blank = 3;
    dc_tensor_free(k.y);
    k.y = tensor(2, S(4, 3), (const float[]){1, 1, 2, -1, -1, -1, 0, 1, 0, 2, -1, 7});
    dc_tensor_free(k.sw);
    k.sw = NULL;
    k.red = DC_REDUCE_MEAN;
    k.o.from_logits = true;
    gradcheck("ctc/logits/blank3", &k, z);
    /* steps past an input length, and the samples of weight 0, get no gradient */
    dc_ctx *c = dc_ctx_new();
    dc_tensor_set_requires_grad(z, true);
    dc_tensor_zero_grad(z);
    k.sw = tensor(1, S(4), (const float[]){1, 1, 0, 1});
    dc_tensor *l = dc_ctc_loss(c, z, k.y, len, &k.o, DC_REDUCE_SUM, k.sw);
    CHECK(l && dc_backward(c, l) == DC_OK);
    const float *g = dc_tensor_data(dc_tensor_grad(z));
    int nz = 0;
    for (int64_t t = 4; t < T; t++)
        for (int64_t q = 0; q < C; q++) nz += g[(1 * T + t) * C + q] != 0;
    for (int64_t e = 0; e < T * C; e++) nz += g[2 * T * C + e] != 0;
    CHECK(nz == 0);
    /* the logits' gradient of a step sums to 0 (softmax - occupancy) */
    double rs = 0;
    for (int64_t q = 0; q < C; q++) rs += g[q];
    CHECK_NEAR(rs, 0, 1e-6);
    dc_tensor_set_requires_grad(z, false);
    dc_ctx_free(c);
    /* infeasible: NaN gradient on its steps (as PyTorch), 0 with zero_infinity */
    dc_tensor *yi = tensor(2, S(1, 4), (const float[]){1, 1, 1, 1}), *z1 = uniform(3, S(1, 5, 3), -1, 1);
    for (int zi = 0; zi < 2; zi++) {
        c = dc_ctx_new();
        dc_loss_opts o = dc_loss_opts_default();
        o.zero_infinity = zi;
        dc_tensor_set_requires_grad(z1, true);
        dc_tensor_zero_grad(z1);
        l = dc_ctc_loss(c, z1, yi, NULL, &o, DC_REDUCE_MEAN, NULL);
        CHECK(l && (zi ? dc_tensor_data(l)[0] == 0 : isinf(dc_tensor_data(l)[0])));
        CHECK(l && dc_backward(c, l) == DC_OK);
        int bad = 0;
        for (int64_t e = 0; e < 15; e++) bad += zi ? dc_tensor_data(dc_tensor_grad(z1))[e] != 0 : !isnan(dc_tensor_data(dc_tensor_grad(z1))[e]);
        CHECK(bad == 0);
        dc_ctx_free(c);
    }
    dc_tensor *all[] = {k.y, k.sw, k.R, z, lp, yi, z1};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) dc_tensor_free(all[i]);
}

/* A batch big enough to be split over threads: the same bits on 1 and 2 threads, and each row
 * of 'none' equal to that sample's loss alone. */
static void threads(void) {
    const int64_t N = 48, T = 40, C = 10, Smax = 12;
    dc_tensor *z = uniform(3, S(N, T, C), -3, 3), *y = dc_tensor_new(2, S(N, Smax));
    int64_t len[48];
    for (int64_t n = 0; n < N; n++) {
        len[n] = T - n % 7;
        int64_t L = n % (Smax + 1);
        for (int64_t k = 0; k < Smax; k++) dc_tensor_data(y)[n * Smax + k] = k < L ? (float)(1 + (n + 3 * k) % (C - 1)) : -1.0f;
    }
    dc_loss_opts o = dc_loss_opts_default();
    o.from_logits = true;
    dc_tensor *loss[2] = {NULL, NULL}, *grad[2] = {NULL, NULL};
    for (int r = 0; r < 2; r++) {
        dc_set_threads(r ? 2 : 1);
        dc_ctx *c = dc_ctx_new();
        dc_tensor_set_requires_grad(z, true);
        dc_tensor_zero_grad(z);
        dc_tensor *l = dc_ctc_loss(c, z, y, len, &o, DC_REDUCE_NONE, NULL);
        CHECK(l && dc_backward(c, dc_sum(c, l)) == DC_OK);
        loss[r] = dc_tensor_clone(l);
        grad[r] = dc_tensor_clone(dc_tensor_grad(z));
        dc_ctx_free(c);
    }
    dc_set_threads(0);
    CHECK(loss[0] && loss[1] && !memcmp(dc_tensor_data(loss[0]), dc_tensor_data(loss[1]), N * sizeof(float)));
    CHECK(grad[0] && grad[1] && !memcmp(dc_tensor_data(grad[0]), dc_tensor_data(grad[1]), (size_t)(N * T * C) * sizeof(float)));
    int bad = 0;
    for (int64_t n = 0; n < N; n += 5) {
        dc_ctx *c = dc_ctx_new();
        dc_tensor *zn = dc_slice(c, z, 0, n, n + 1), *yn = dc_slice(c, y, 0, n, n + 1);
        dc_tensor *l = dc_ctc_loss(c, zn, yn, len + n, &o, DC_REDUCE_SUM, NULL);
        bad += !l || dc_tensor_data(l)[0] != dc_tensor_data(loss[1])[n];
        dc_ctx_free(c);
    }
    CHECK(bad == 0);
    dc_tensor *all[] = {z, y, loss[0], loss[1], grad[0], grad[1]};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) dc_tensor_free(all[i]);
}

static void op_errors(void) {
    dc_ctx *c = dc_ctx_new();
    dc_tensor *lp = uniform(3, S(2, 4, 3), -2, -0.5f), *y = tensor(2, S(2, 2), (const float[]){1, 2, 2, -1});
    dc_loss_opts o = dc_loss_opts_default();
    CHECK(dc_ctc_loss(c, lp, y, NULL, &o, DC_REDUCE_MEAN, NULL) != NULL);
    CHECK_NULL_ERR(dc_ctc_loss(c, dc_reshape(c, lp, 2, S(8, 3)), y, NULL, &o, DC_REDUCE_MEAN, NULL), "ctc", "[N, T, C]", "[8, 3]");
    dc_tensor *y1 = tensor(1, S(2), (const float[]){1, 2});
    CHECK_NULL_ERR(dc_ctc_loss(c, lp, y1, NULL, &o, DC_REDUCE_MEAN, NULL), "ctc", "targets [2]", "[N, S]");
    dc_tensor *y3 = tensor(2, S(3, 1), (const float[]){1, 1, 1});
    CHECK_NULL_ERR(dc_ctc_loss(c, lp, y3, NULL, &o, DC_REDUCE_MEAN, NULL), "ctc", "for 2 samples");
    dc_tensor *big = tensor(2, S(2, 2), (const float[]){1, 2, 2, 3});
    CHECK_NULL_ERR(dc_ctc_loss(c, lp, big, NULL, &o, DC_REDUCE_MEAN, NULL), "sample 1, position 1", "3 is not a class index in [0, 3)");
    dc_tensor *blank = tensor(2, S(2, 2), (const float[]){1, 0, 2, -1});
    CHECK_NULL_ERR(dc_ctc_loss(c, lp, blank, NULL, &o, DC_REDUCE_MEAN, NULL), "sample 0, position 1", "blank");
    dc_tensor *frac = tensor(2, S(2, 2), (const float[]){1.5f, -1, NAN, -1});
    CHECK_NULL_ERR(dc_ctc_loss(c, lp, frac, NULL, &o, DC_REDUCE_MEAN, NULL), "sample 0, position 0", "1.5");
    dc_tensor_data(frac)[0] = 1;
    CHECK_NULL_ERR(dc_ctc_loss(c, lp, frac, NULL, &o, DC_REDUCE_MEAN, NULL), "sample 1, position 0", "nan");
    CHECK_NULL_ERR(dc_ctc_loss(c, lp, y, S(4, 5), &o, DC_REDUCE_MEAN, NULL), "input length 5 of sample 1", "[0, 4]");
    CHECK_NULL_ERR(dc_ctc_loss(c, lp, y, S(-1, 2), &o, DC_REDUCE_MEAN, NULL), "input length -1 of sample 0");
    dc_loss_opts b = o;
    b.blank = 3;
    CHECK_NULL_ERR(dc_ctc_loss(c, lp, y, NULL, &b, DC_REDUCE_MEAN, NULL), "blank 3", "[0, 3)");
    b = o;
    b.label_smoothing = 0.1f;
    CHECK_NULL_ERR(dc_ctc_loss(c, lp, y, NULL, &b, DC_REDUCE_MEAN, NULL), "ctc", "label_smoothing");
    CHECK_NULL_ERR(dc_ctc_loss(c, lp, y, NULL, &o, DC_REDUCE_COUNT, NULL), "unknown reduction");
    dc_tensor *w3 = tensor(1, S(3), (const float[]){1, 1, 1});
    CHECK_NULL_ERR(dc_ctc_loss(c, lp, y, NULL, &o, DC_REDUCE_MEAN, w3), "sample_weight", "3 elements", "expected 2");
    dc_tensor *wneg = tensor(1, S(2), (const float[]){1, -1});
    CHECK_NULL_ERR(dc_ctc_loss(c, lp, y, NULL, &o, DC_REDUCE_MEAN, wneg), "sample_weight[1] = -1");
    CHECK_NULL_ERR(dc_loss_ex(c, DC_LOSS_CTC, lp, y, &o, DC_REDUCE_MEAN, NULL, wneg), "ctc", "class weights");
    CHECK_NULL_ERR(dc_ctc_loss(NULL, lp, y, NULL, &o, DC_REDUCE_MEAN, NULL), "context");
    CHECK_NULL_ERR(dc_ctc_loss(c, lp, NULL, NULL, &o, DC_REDUCE_MEAN, NULL), "ctc", "NULL");
    dc_tensor *yg = dc_tensor_clone(y);
    dc_tensor_set_requires_grad(yg, true);
    CHECK_NULL_ERR(dc_ctc_loss(c, lp, yg, NULL, &o, DC_REDUCE_MEAN, NULL), "ctc", "require grad");
    CHECK(strcmp(dc_loss_name(DC_LOSS_CTC), "ctc") == 0);
    /* a view as input: read through its strides */
    dc_tensor *full = uniform(3, S(2, 4, 6), -2, -0.5f);
    dc_tensor *view = dc_slice(c, full, 2, 0, 3), *copy = dc_contiguous(c, view);
    CHECK(copy && loss1(view, y, NULL, &o, DC_REDUCE_SUM) == loss1(copy, y, NULL, &o, DC_REDUCE_SUM));
    dc_tensor *all[] = {lp, y, y1, y3, big, blank, frac, w3, wneg, yg, full};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) dc_tensor_free(all[i]);
    dc_ctx_free(c);
}

/* ---- decoders ---- */

static bool row_is(const dc_tensor *t, int64_t r, int n, const int *lab) {
    if (!t) return false;
    int64_t W = dc_tensor_dim(t, 1);
    const float *d = dc_tensor_data((dc_tensor *)t) + r * W;
    for (int64_t k = 0; k < W; k++)
        if (d[k] != (k < n ? (float)lab[k] : -1.0f)) return false;
    return n <= W;
}
#define ROW_IS(t, r, ...) row_is(t, r, (int)(sizeof((int[]){__VA_ARGS__}) / sizeof(int)), (int[]){__VA_ARGS__})

/* one-hot-ish probabilities: step t's most likely class path[t] with probability 0.7 */
static dc_tensor *path_probs(int64_t N, int64_t T, int64_t C, const int *path) {
    dc_tensor *p = dc_tensor_new(3, S(N, T, C));
    for (int64_t i = 0; i < N * T; i++)
        for (int64_t k = 0; k < C; k++) dc_tensor_data(p)[i * C + k] = k == path[i] ? 0.7f : 0.3f / (float)(C - 1);
    return p;
}

/* The exact most probable labelling of one sample by enumerating every alignment (C^T). */
static double brute_best(const float *p, int64_t T, int64_t C, int64_t blank, int *best, int *nbest) {
    typedef struct {
        int lab[8];
        int n;
        double pr;
    } lab_t;
    static lab_t seen[4096];
    int ns = 0;
    int64_t total = 1;
    for (int64_t t = 0; t < T; t++) total *= C;
    for (int64_t a = 0; a < total; a++) {
        int lab[8], n = 0;
        int64_t prev = -1, rest = a;
        double pr = 1;
        for (int64_t t = 0; t < T; t++) {
            int64_t k = rest % C;
            rest /= C;
            pr *= p[t * C + k];
            if (k != blank && k != prev) lab[n++] = (int)k;
            prev = k;
        }
        int i = 0;
        while (i < ns && !(seen[i].n == n && !memcmp(seen[i].lab, lab, (size_t)n * sizeof(int)))) i++;
        if (i == ns) {
            seen[ns].n = n;
            memcpy(seen[ns].lab, lab, sizeof lab);
            seen[ns++].pr = 0;
        }
        seen[i].pr += pr;
    }
    int b = 0;
    for (int i = 1; i < ns; i++)
        if (seen[i].pr > seen[b].pr) b = i;
    memcpy(best, seen[b].lab, sizeof seen[b].lab);
    *nbest = seen[b].n;
    return seen[b].pr;
}

static void decoders(void) {
    /* greedy: repeats merged, blanks dropped, a blank between equal labels keeps both */
    const int path[] = {1, 1, 0, 1, 2, 2, 0, 0, 3, 0, 3, 3};
    dc_tensor *p = path_probs(1, 12, 4, path);
    dc_tensor *g = dc_ctc_greedy_decode(p, NULL, 0);
    CHECK(ROW_IS(g, 0, 1, 1, 2, 3, 3));
    dc_tensor_free(g);
    /* lengths: the first 5 steps only; two samples, the second empty (all blanks) */
    const int path2[] = {1, 1, 0, 1, 2, 2, 0, 0, 3, 0, 3, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
    dc_tensor *p2 = path_probs(2, 12, 4, path2);
    g = dc_ctc_greedy_decode(p2, S(5, 12), 0);
    CHECK(g && dc_tensor_dim(g, 0) == 2 && dc_tensor_dim(g, 1) == 3 && ROW_IS(g, 0, 1, 1, 2) && ROW_IS(g, 1));
    dc_tensor_free(g);
    /* nothing decoded anywhere: one column of padding */
    g = dc_ctc_greedy_decode(p2, S(0, 12), 0);
    CHECK(g && dc_tensor_dim(g, 1) == 1 && ROW_IS(g, 0) && ROW_IS(g, 1));
    dc_tensor_free(g);
    /* log-probabilities and logits decode alike; another blank */
    dc_tensor *lp = log_of(1, 12, 4, dc_tensor_data(p));
    g = dc_ctc_greedy_decode(lp, NULL, 0);
    CHECK(ROW_IS(g, 0, 1, 1, 2, 3, 3));
    dc_tensor_free(g);
    g = dc_ctc_greedy_decode(p, NULL, 3); /* 3 the blank, 0 a label */
    CHECK(ROW_IS(g, 0, 1, 0, 1, 2, 0, 0));
    dc_tensor_free(g);
    /* beam search on peaked rows: greedy's answer, from probabilities or log-probabilities */
    float sc[2];
    dc_tensor *b = dc_ctc_beam_decode(p, NULL, 0, 8, false, sc);
    CHECK(ROW_IS(b, 0, 1, 1, 2, 3, 3));
    dc_tensor *bl = dc_ctc_beam_decode(lp, NULL, 0, 8, true, sc + 1);
    CHECK(ROW_IS(bl, 0, 1, 1, 2, 3, 3));
    CHECK_NEAR(sc[0], sc[1], 1e-5);
    /* the labelling's score: its log-probability (-ctc loss) over the alignments the beam kept,
     * all of them with a beam as wide as the prefixes */
    dc_loss_opts o = dc_loss_opts_default();
    float lpb = -loss1(lp, b, NULL, &o, DC_REDUCE_SUM);
    CHECK(sc[0] <= lpb + 1e-5);
    dc_tensor_free(b);
    b = dc_ctc_beam_decode(p, NULL, 0, 1024, false, sc);
    CHECK(ROW_IS(b, 0, 1, 1, 2, 3, 3));
    CHECK_NEAR(sc[0], lpb, 1e-5);
    dc_tensor_free(b);
    dc_tensor_free(bl);
    /* the classic case: best path "" (0.36), best labelling "a" (0.64) */
    const float pc[] = {0.6f, 0.4f, 0.6f, 0.4f};
    dc_tensor *c2 = tensor(3, S(1, 2, 2), pc);
    g = dc_ctc_greedy_decode(c2, NULL, 0);
    CHECK(ROW_IS(g, 0));
    b = dc_ctc_beam_decode(c2, NULL, 0, 2, false, sc);
    CHECK(ROW_IS(b, 0, 1));
    CHECK_NEAR(sc[0], log(0.64), 1e-6);
    dc_tensor_free(g);
    dc_tensor_free(b);
    b = dc_ctc_beam_decode(c2, NULL, 0, 1, false, sc); /* a beam of one keeps "" after the first step */
    CHECK(ROW_IS(b, 0));
    dc_tensor_free(b);
    /* ties: "" and "a" both 0.5: the shorter first */
    dc_tensor *tie = tensor(3, S(1, 1, 2), (const float[]){0.5f, 0.5f});
    b = dc_ctc_beam_decode(tie, NULL, 0, 4, false, sc);
    CHECK(ROW_IS(b, 0));
    dc_tensor_free(b);
    /* "b" and "a" both 0.5 (blank 0): the smaller label first */
    dc_tensor *tie2 = tensor(3, S(1, 1, 3), (const float[]){0.0f, 0.5f, 0.5f});
    b = dc_ctc_beam_decode(tie2, NULL, 0, 4, false, NULL);
    CHECK(ROW_IS(b, 0, 1));
    dc_tensor_free(b);
    /* a wide beam is exact: against every alignment of random rows (T 5, C 3) */
    int exact = 0;
    for (int trial = 0; trial < 40; trial++) {
        const int64_t T = 5, C = 3, blank = trial % 3;
        dc_tensor *r = uniform(3, S(1, T, C), 0.05f, 1);
        float *d = dc_tensor_data(r);
        for (int64_t t = 0; t < T; t++) {
            float s = 0;
            for (int64_t k = 0; k < C; k++) s += d[t * C + k];
            for (int64_t k = 0; k < C; k++) d[t * C + k] /= s;
        }
        int best[8], nbest;
        double pb = brute_best(d, T, C, blank, best, &nbest);
        b = dc_ctc_beam_decode(r, NULL, blank, 64, false, sc);
        exact += row_is(b, 0, nbest, best) && fabs(sc[0] - log(pb)) < 1e-5;
        dc_tensor_free(b);
        dc_tensor_free(r);
    }
    CHECK(exact == 40);
    /* errors */
    CHECK_NULL_ERR(dc_ctc_greedy_decode(NULL, NULL, 0), "probs is NULL");
    CHECK_NULL_ERR(dc_ctc_greedy_decode(p, NULL, 4), "blank 4", "[0, 4)");
    CHECK_NULL_ERR(dc_ctc_beam_decode(p, NULL, 0, 0, false, NULL), "beam_width 0");
    CHECK_NULL_ERR(dc_ctc_beam_decode(p, S(13), 0, 2, false, NULL), "length 13 of sample 0", "[0, 12]");
    dc_tensor *flat = dc_tensor_new(2, S(12, 4));
    CHECK_NULL_ERR(dc_ctc_greedy_decode(flat, NULL, 0), "[N, T, C]", "[12, 4]");
    dc_tensor *all[] = {p, p2, lp, c2, tie, tie2, flat};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) dc_tensor_free(all[i]);
}

/* ---- error rates ---- */

static void error_rates(void) {
    const int32_t kitten[] = {'k', 'i', 't', 't', 'e', 'n'}, sitting[] = {'s', 'i', 't', 't', 'i', 'n', 'g'};
    CHECK(dc_edit_distance(kitten, 6, sitting, 7) == 3);
    CHECK(dc_edit_distance(sitting, 7, kitten, 6) == 3);
    CHECK(dc_edit_distance(kitten, 6, kitten, 6) == 0);
    CHECK(dc_edit_distance(kitten, 6, NULL, 0) == 6);
    CHECK(dc_edit_distance(NULL, 0, NULL, 0) == 0);
    CHECK(dc_edit_distance(kitten, 3, kitten + 3, 3) == 3); /* kit / ten */
    CHECK(dc_edit_distance(kitten + 1, 3, sitting + 1, 4) == 1); /* itt / itti */
    dc_clear_error();
    CHECK(dc_edit_distance(NULL, 2, kitten, 6) == -1 && strstr(dc_last_error(), "NULL"));
    CHECK(dc_edit_distance(kitten, -1, kitten, 6) == -1 && strstr(dc_last_error(), "negative"));
    const char *hyp[] = {"helo wrld", "héllo", ""}, *ref[] = {"hello world", "hello", "ab"};
    CHECK_NEAR(dc_char_error_rate(hyp, ref, 1), 2.0 / 11.0, 1e-12);
    CHECK_NEAR(dc_char_error_rate(hyp + 1, ref + 1, 1), 1.0 / 5.0, 1e-12); /* é is one character */
    CHECK_NEAR(dc_char_error_rate(hyp, ref, 3), (2.0 + 1 + 2) / (11 + 5 + 2), 1e-12);
    const char *wh[] = {"the cat  sat", "a b\tc"}, *wr[] = {"the cat sat on the mat", " a  x c\n"};
    CHECK_NEAR(dc_word_error_rate(wh, wr, 1), 3.0 / 6.0, 1e-12);
    CHECK_NEAR(dc_word_error_rate(wh, wr, 2), (3.0 + 1) / (6 + 3), 1e-12);
    const char *e0[] = {""}, *e1[] = {"x"};
    CHECK(dc_char_error_rate(e0, e0, 1) == 0);
    CHECK(isinf(dc_char_error_rate(e1, e0, 1)));
    CHECK(dc_word_error_rate(e0, e0, 0) == 0);
    const char *nul[] = {NULL};
    CHECK(isnan(dc_word_error_rate(nul, e0, 1)) && strstr(dc_last_error(), "hyp[0] is NULL"));
    /* label rows in the targets' format, widths differing */
    dc_tensor *h = tensor(2, S(3, 3), (const float[]){1, 2, -1, 3, -1, -1, 2, 2, 1});
    dc_tensor *r = tensor(2, S(3, 4), (const float[]){1, 2, -1, 5, 3, 3, -1, -1, 2, 1, -1, -1});
    int64_t ex = -1;
    CHECK_NEAR(dc_label_error_rate(h, r, &ex), (0.0 + 1 + 1) / (2 + 2 + 2), 1e-12);
    CHECK(ex == 1);
    dc_tensor *bad = tensor(2, S(3, 1), (const float[]){0.5f, 1, 1});
    CHECK(isnan(dc_label_error_rate(bad, r, NULL)) && strstr(dc_last_error(), "hyp[0, 0] = 0.5"));
    dc_tensor *two = tensor(2, S(2, 1), (const float[]){1, 1});
    CHECK(isnan(dc_label_error_rate(two, r, NULL)) && dc_last_status() == DC_ERR_SHAPE);
    dc_tensor_free(h);
    dc_tensor_free(r);
    dc_tensor_free(bad);
    dc_tensor_free(two);
}

/* ---- in a model ---- */

/* Input [T, F] -> GRU(units, return_sequences) -> Dense(C, act). */
static dc_model *seq_model(int64_t T, int64_t F, int64_t units, int64_t C, dc_activation act) {
    dc_model *m = dc_sequential();
    dc_model_set_seed(m, 7);
    dc_model_add(m, dc_input(2, S(T, F)));
    dc_model_add(m, dc_gru_layer(units, true));
    dc_model_add(m, dc_dense(C, act));
    return m;
}

/* Synthetic utterances: each sample says one of four label sequences, every label as a run of 2
 * or 3 frames whose features are that label's one-hot (plus noise), runs separated by 1 or 2
 * silent frames (noise only), silence at the end. Labels 1..3, blank 0. */
#define UT_T 16
#define UT_F 4
static const int phrases[4][4] = {{1, 2, 3, -1}, {3, 3, 1, -1}, {2, -1, -1, -1}, {1, 3, 1, 2}};

static void utterances(int64_t n, dc_tensor **x, dc_tensor **y) {
    *x = dc_tensor_new(3, S(n, UT_T, UT_F));
    *y = dc_tensor_new(2, S(n, 4));
    float *X = dc_tensor_data(*x), *Y = dc_tensor_data(*y);
    for (int64_t i = 0; i < n; i++) {
        const int *ph = phrases[i % 4];
        int64_t t = (int64_t)(dc_rng_uniform(&rng) * 2);
        for (int64_t e = 0; e < UT_T * UT_F; e++) X[i * UT_T * UT_F + e] = 0.1f * dc_rng_normal(&rng);
        for (int k = 0; k < 4; k++) {
            Y[i * 4 + k] = (float)ph[k];
            if (ph[k] < 0) continue;
            int64_t run = 2 + (int64_t)(dc_rng_uniform(&rng) * 2);
            for (int64_t r = 0; r < run && t < UT_T; r++, t++) X[(i * UT_T + t) * UT_F + ph[k]] += 1.0f;
            t += 1 + (int64_t)(dc_rng_uniform(&rng) * 2);
        }
    }
}

static void training(void) {
    dc_tensor *x, *y, *xt, *yt;
    utterances(192, &x, &y);
    utterances(64, &xt, &yt);
    dc_model *m = seq_model(UT_T, UT_F, 24, 4, DC_ACT_SOFTMAX);
    CHECK(dc_model_compile(m, dc_adam(0.02f, 0.9f, 0.999f, 1e-7f), DC_LOSS_CTC, NULL, 0) == DC_OK);
    double before[1] = {NAN}, after[1] = {NAN};
    CHECK(dc_model_evaluate(m, xt, yt, 32, before) == DC_OK);
    dc_fit_opts o = dc_fit_defaults();
    o.verbose = 0;
    o.epochs = 40;
    o.batch_size = 16;
    dc_history *h = NULL;
    CHECK(dc_model_fit(m, x, y, &o, &h) == DC_OK);
    CHECK(dc_model_evaluate(m, xt, yt, 32, after) == DC_OK);
    dc_tensor *p = dc_model_predict(m, xt, 32); /* softmax probabilities [64, T, 4] */
    dc_tensor *g = p ? dc_ctc_greedy_decode(p, NULL, 0) : NULL, *b = p ? dc_ctc_beam_decode(p, NULL, 0, 4, false, NULL) : NULL;
    int64_t ex_g = 0, ex_b = 0;
    double cer_g = dc_label_error_rate(g, yt, &ex_g), cer_b = dc_label_error_rate(b, yt, &ex_b);
    printf("ctc training: test loss %.3f -> %.3f, greedy CER %.3f (%lld of 64 exact), beam CER %.3f (%lld exact)\n", before[0], after[0],
           cer_g, (long long)ex_g, cer_b, (long long)ex_b);
    CHECK(after[0] < before[0] / 4);
    CHECK(cer_g <= 0.02 && ex_g >= 62);
    CHECK(cer_b <= 0.02 && ex_b >= 62);
    dc_tensor *all[] = {x, y, xt, yt, p, g, b};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) dc_tensor_free(all[i]);
    dc_history_free(h);
    dc_model_free(m);
}

static void model_checks(void) {
    dc_tensor *x, *y;
    utterances(8, &x, &y);
    /* metrics are refused, naming the metric */
    dc_model *m = seq_model(UT_T, UT_F, 8, 4, DC_ACT_SOFTMAX);
    dc_metric acc = DC_METRIC_ACCURACY;
    CHECK_ERR(dc_model_compile(m, dc_sgd(0.1f, 0, false), DC_LOSS_CTC, &acc, 1), DC_ERR_ARG, "\"accuracy\"", "ctc",
              "dc_label_error_rate");
    /* outputs without steps */
    dc_model *flat = dc_sequential();
    dc_model_add(flat, dc_input(2, S(UT_T, UT_F)));
    dc_model_add(flat, dc_gru_layer(8, false));
    dc_model_add(flat, dc_dense(4, DC_ACT_SOFTMAX));
    CHECK_ERR(dc_model_compile(flat, dc_sgd(0.1f, 0, false), DC_LOSS_CTC, NULL, 0), DC_ERR_SHAPE, "ctc", "(None, T, C)", "[4]");
    /* a blank that is not a class */
    dc_loss_opts lo = dc_loss_opts_default();
    lo.blank = 4;
    CHECK(dc_model_set_loss_options(m, &lo) == DC_OK);
    CHECK_ERR(dc_model_compile(m, dc_sgd(0.1f, 0, false), DC_LOSS_CTC, NULL, 0), DC_ERR_ARG, "blank 4", "4 classes");
    lo.blank = 0;
    CHECK(dc_model_set_loss_options(m, &lo) == DC_OK);
    CHECK(dc_model_compile(m, dc_sgd(0.1f, 0, false), DC_LOSS_CTC, NULL, 0) == DC_OK);
    dc_fit_opts o = dc_fit_defaults();
    o.verbose = 0;
    o.epochs = 1;
    o.batch_size = 4;
    /* targets: not [N, S], a label out of range, the blank, too long for T steps */
    dc_tensor *y3 = dc_tensor_new(3, S(8, 4, 1));
    CHECK_ERR(dc_model_fit(m, x, y3, &o, NULL), DC_ERR_SHAPE, "fit", "[N, S]", "[8, 4, 1]");
    dc_tensor *yb = dc_tensor_clone(y);
    dc_tensor_data(yb)[2 * 4 + 1] = 4;
    CHECK_ERR(dc_model_fit(m, x, yb, &o, NULL), DC_ERR_ARG, "fit", "y[2, 1] = 4", "sample 2", "[0, 4)");
    dc_tensor_data(yb)[2 * 4 + 1] = 0;
    CHECK_ERR(dc_model_fit(m, x, yb, &o, NULL), DC_ERR_ARG, "fit", "y[2, 1] = 0", "blank");
    dc_tensor *ylong = dc_tensor_new(2, S(8, 12));
    for (int64_t i = 0; i < 96; i++) dc_tensor_data(ylong)[i] = (float)(1 + (i % 12 < 9 ? 0 : 1)); /* 1 x9 then 2 x3: 12 labels, 8 repeats */
    CHECK_ERR(dc_model_fit(m, x, ylong, &o, NULL), DC_ERR_ARG, "fit", "sample 0", "12 labels", "10 of them repeats", "22", "16",
              "zero_infinity");
    CHECK_ERR(dc_model_evaluate(m, x, ylong, 4, (double[1]){0}), DC_ERR_ARG, "zero_infinity");
    /* with zero_infinity such samples count 0: fit runs and the loss is 0 */
    lo.zero_infinity = true;
    CHECK(dc_model_set_loss_options(m, &lo) == DC_OK);
    dc_history *h = NULL;
    CHECK(dc_model_fit(m, x, ylong, &o, &h) == DC_OK);
    const double *hl = h ? dc_history_get(h, "loss") : NULL;
    CHECK(hl && hl[0] == 0);
    dc_history_free(h);
    dc_tensor_free(y3);
    dc_tensor_free(yb);
    dc_tensor_free(ylong);
    dc_model_free(flat);
    dc_model_free(m);
    dc_tensor_free(x);
    dc_tensor_free(y);
}

/* A log_softmax output is taken as log-probabilities: the same loss as the fused softmax. */
static void log_softmax_output(void) {
    dc_tensor *x, *y;
    utterances(12, &x, &y);
    dc_model *a = seq_model(UT_T, UT_F, 8, 4, DC_ACT_SOFTMAX), *b = seq_model(UT_T, UT_F, 8, 4, DC_ACT_LOG_SOFTMAX);
    CHECK(dc_model_compile(a, dc_sgd(0.1f, 0, false), DC_LOSS_CTC, NULL, 0) == DC_OK);
    CHECK(dc_model_compile(b, dc_sgd(0.1f, 0, false), DC_LOSS_CTC, NULL, 0) == DC_OK);
    double ra[1], rb[1];
    CHECK(dc_model_evaluate(a, x, y, 6, ra) == DC_OK && dc_model_evaluate(b, x, y, 6, rb) == DC_OK);
    CHECK_NEAR(ra[0], rb[0], 1e-5 * fabs(ra[0]));
    /* and dc_ctc_loss of the predicted probabilities by hand */
    dc_tensor *p = dc_model_predict(a, x, 12);
    dc_ctx *c = dc_ctx_new();
    dc_tensor *l = p ? dc_ctc_loss(c, dc_log(c, p), y, NULL, NULL, DC_REDUCE_MEAN, NULL) : NULL;
    CHECK(l && fabs(dc_tensor_data(l)[0] - ra[0]) < 1e-5 * fabs(ra[0]));
    dc_ctx_free(c);
    dc_tensor_free(p);
    dc_model_free(a);
    dc_model_free(b);
    dc_tensor_free(x);
    dc_tensor_free(y);
}

/* Embedding(mask_zero) gives the outputs a time-step mask: each sample's input length is its
 * count of real steps. */
static void masked_lengths(void) {
    const int64_t N = 6, T = 10, C = 5;
    dc_model *m = dc_sequential();
    dc_model_set_seed(m, 3);
    dc_model_add(m, dc_input(1, S(T)));
    dc_model_add(m, dc_embedding_layer(9, 6, true));
    dc_model_add(m, dc_gru_layer(8, true));
    dc_model_add(m, dc_dense(C, DC_ACT_SOFTMAX));
    CHECK(dc_model_compile(m, dc_sgd(0.1f, 0, false), DC_LOSS_CTC, NULL, 0) == DC_OK);
    dc_tensor *x = dc_tensor_new(2, S(N, T)), *y = dc_tensor_new(2, S(N, 3));
    int64_t len[6];
    for (int64_t n = 0; n < N; n++) {
        len[n] = 4 + n; /* ids 1..8, then 0: padding */
        for (int64_t t = 0; t < T; t++) dc_tensor_data(x)[n * T + t] = t < len[n] ? (float)(1 + (n + t) % 8) : 0.0f;
        for (int64_t k = 0; k < 3; k++) dc_tensor_data(y)[n * 3 + k] = k < 1 + n % 3 ? (float)(1 + (n + k) % 4) : -1.0f;
    }
    double r[1];
    CHECK(dc_model_evaluate(m, x, y, N, r) == DC_OK);
    dc_tensor *p = dc_model_predict(m, x, N);
    dc_ctx *c = dc_ctx_new();
    dc_tensor *lp = p ? dc_log(c, p) : NULL;
    dc_tensor *lm = dc_ctc_loss(c, lp, y, len, NULL, DC_REDUCE_MEAN, NULL), *lt = dc_ctc_loss(c, lp, y, NULL, NULL, DC_REDUCE_MEAN, NULL);
    CHECK(lm && lt && fabs(dc_tensor_data(lm)[0] - r[0]) < 1e-5 * fabs(r[0]));
    CHECK(lm && lt && fabs(dc_tensor_data(lt)[0] - r[0]) > 1e-3); /* the padded steps are not read */
    /* a target too long for a sample's real steps (4: "1 1 1" takes 5) is refused, naming the batch row */
    dc_tensor *yl = dc_tensor_clone(y);
    for (int64_t k = 0; k < 3; k++) dc_tensor_data(yl)[k] = 1;
    CHECK_ERR(dc_model_evaluate(m, x, yl, N, r), DC_ERR_ARG, "batch row 0", "takes at least 5 steps", "4 real steps", "zero_infinity");
    dc_ctx_free(c);
    dc_tensor_free(p);
    dc_tensor_free(x);
    dc_tensor_free(y);
    dc_tensor_free(yl);
    dc_model_free(m);
}

/* blank and zero_infinity travel through a model file: with blank 3, label 0 is a label, and an
 * infeasible target is allowed; after loading, evaluate gives the same loss. */
static void model_file(void) {
    dc_tensor *x, *y;
    utterances(8, &x, &y);
    float *Y = dc_tensor_data(y);
    for (int64_t i = 0; i < 32; i++) Y[i] = Y[i] == 3 ? 0 : Y[i]; /* labels 0..2, blank 3 */
    dc_tensor *y2 = dc_tensor_new(2, S(8, 12));
    for (int64_t i = 0; i < 96; i++) dc_tensor_data(y2)[i] = i / 12 == 5 ? 1.0f : i % 12 < 2 ? Y[(i / 12) * 4 + i % 12] : -1.0f;
    dc_model *m = seq_model(UT_T, UT_F, 8, 4, DC_ACT_SOFTMAX);
    dc_loss_opts lo = dc_loss_opts_default();
    lo.blank = 3;
    lo.zero_infinity = true;
    CHECK(dc_model_set_loss_options(m, &lo) == DC_OK);
    CHECK(dc_model_compile(m, dc_adam(1e-3f, 0.9f, 0.999f, 1e-7f), DC_LOSS_CTC, NULL, 0) == DC_OK);
    double r1[1] = {NAN}, r2[1] = {NAN};
    CHECK(dc_model_evaluate(m, x, y2, 8, r1) == DC_OK);
    char path[512];
    snprintf(path, sizeof path, "%s/ctc_model.safetensors", dir); /* tmpfiles.h's directory */
    CHECK(dc_model_save(m, path) == DC_OK);
    dc_model *b = dc_model_load(path);
    CHECK(b && dc_model_evaluate(b, x, y2, 8, r2) == DC_OK);
    CHECK(r1[0] == r2[0] && isfinite(r1[0]));
    /* the default options would refuse label 3 and sample 5's 12 ones */
    dc_model *d = seq_model(UT_T, UT_F, 8, 4, DC_ACT_SOFTMAX);
    CHECK(dc_model_compile(d, dc_adam(1e-3f, 0.9f, 0.999f, 1e-7f), DC_LOSS_CTC, NULL, 0) == DC_OK);
    CHECK_ERR(dc_model_evaluate(d, x, y2, 8, r2), DC_ERR_ARG, "blank");
    dc_model_free(m);
    dc_model_free(b);
    dc_model_free(d);
    dc_tensor_free(x);
    dc_tensor_free(y);
    dc_tensor_free(y2);
}

int main(void) {
    dc_rng_seed(&rng, 21);
    CHECK(tmp_dir_create());
    hand_values();
    gradients();
    threads();
    op_errors();
    decoders();
    error_rates();
    model_checks();
    log_softmax_output();
    masked_lengths();
    model_file();
    training();
    CHECK(tmp_dir_remove());
    return check_report("test_ctc");
}
