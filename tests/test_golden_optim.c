/* Optimisers and learning-rate schedules against PyTorch, and their API.
 *
 * 1. Golden trajectories (tests/golden/optim/NN.txt, written by scripts/golden/gen_golden_optim.py
 *    from torch.optim and torch.optim.lr_scheduler in float64): random configurations of every
 *    optimiser (SGD with momentum and Nesterov, Adagrad, Adadelta, RMSprop centred and with
 *    momentum, Adam and AdamW with and without AMSGrad) under every schedule (none, StepLR,
 *    ExponentialLR, CosineWarmup, OneCycleLR, ReduceLROnPlateau), with clipping and weight decay
 *    that does or does not skip the 1-D tensors, 20 steps each on a parameter buffer of a few
 *    tensors. Every step's learning rate and weights are compared: the weights at
 *    |got - want| <= 1e-5 |want| + 1e-6 (float32 steps against a float64 reference: each step
 *    rounds w to float32, about 6e-8 relative, and 20 of them stay far below 1e-5; the absolute
 *    1e-6 is for weights that cross zero, where a relative bound means nothing, and is 1e-6 of
 *    the weights' scale, which is 1), the rates at 1e-6 relative (a float32 rate).
 *    Each case runs with its segments (dc_optimizer_step_part, as fit) and, when no
 *    decay is skipped, through dc_optimizer_step too, which must give the same bits.
 * 2. Resuming: every case stopped after 7 steps, its optimiser state, step count and schedule
 *    state copied to a fresh optimiser as a checkpoint does, and continued: bit-identical to the
 *    uninterrupted run.
 * 3. The decay's skipping of biases and normalisation parameters inside a model's step.
 * 4. The API: constructors, setters by name, state counts, errors with their numbers, schedule
 *    ownership and state checks, the rates past the end of a schedule.
 *
 * The test runs from the repository root (CMake's WORKING_DIRECTORY); an optional argv[1] names
 * another golden folder. */
#include <deepc.h>

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "golden_io.h"
#include "optim/optim.h"

#define REL_TOL 1e-5
#define ABS_TOL 1e-6
#define LR_REL_TOL 1e-6
#define MAX_SEGS 8
#define RESUME_AT 7

/* The generator's tables (scripts/golden/gen_golden_optim.py: OPTIMIZERS, SCHEDULES). */
static const char *const OPTS[] = {"SGD", "Adagrad", "Adadelta", "RMSprop", "Adam", "AdamW"};
static const char *const SCHEDS[] = {"none", "StepLR", "ExponentialLR", "CosineWarmup", "OneCycleLR", "ReduceLROnPlateau"};

static double worst_w, worst_tol, worst_lr; /* the largest relative errors seen (weights of size 0.1 and more), the largest share of the tolerance used */

typedef struct optcase {
    int opt, sched, nseg, steps, spe, nmetric;
    int64_t n;
    dc_part_seg seg[MAX_SEGS];
    const gt_tensor *w0, *g, *lr, *w, *metric;
} optcase;

static bool scalar_of(gcase *c, const char *name, double lo, double hi, double *v) {
    const gt_tensor *t = need(c, name);
    if (!t) return false;
    if (t->numel != 1 || !(t->v[0] >= lo && t->v[0] <= hi)) {
        cfail(c, "%s: one value in [%g, %g] expected", name, lo, hi);
        return false;
    }
    *v = t->v[0];
    return true;
}

/* Reads the case's layout and tensors (not yet the options). */
static bool read_case(gcase *c, optcase *k) {
    memset(k, 0, sizeof *k);
    double v;
    if (!scalar_of(c, "opt_class", 0, DC_ARRAY_LEN(OPTS) - 1, &v)) return false;
    k->opt = (int)v;
    if (!scalar_of(c, "sched_class", 0, DC_ARRAY_LEN(SCHEDS) - 1, &v)) return false;
    k->sched = (int)v;
    const gt_tensor *segs = need(c, "segs");
    if (!segs || segs->ndim != 2 || segs->shape[1] != 2 || segs->shape[0] < 1 || segs->shape[0] > MAX_SEGS) {
        if (segs) cfail(c, "segs: [k, 2] with 1 <= k <= %d expected", MAX_SEGS);
        return false;
    }
    k->nseg = (int)segs->shape[0];
    for (int s = 0; s < k->nseg; s++) {
        int64_t rows = (int64_t)segs->v[2 * s], cols = (int64_t)segs->v[2 * s + 1];
        k->seg[s] = (dc_part_seg){.off = k->n, .len = rows ? rows * cols : cols, .rows = rows, .cols = rows ? cols : 1};
        k->n += k->seg[s].len;
    }
    if (!(k->w0 = need(c, "w0")) || !(k->g = need(c, "g")) || !(k->lr = need(c, "lr")) || !(k->w = need(c, "w"))) return false;
    k->steps = (int)k->lr->numel;
    if (k->w0->numel != k->n || k->g->numel != k->steps * k->n || k->w->numel != k->steps * k->n || k->steps < RESUME_AT + 1) {
        cfail(c, "w0 %lld, g %lld, w %lld values for %lld parameters and %d steps", (long long)k->w0->numel, (long long)k->g->numel,
              (long long)k->w->numel, (long long)k->n, k->steps);
        return false;
    }
    if (k->sched == 5) {
        if (!scalar_of(c, "spe", 1, k->steps, &v) || !(k->metric = need(c, "metric"))) return false;
        k->spe = (int)v;
        k->nmetric = (int)k->metric->numel;
    }
    return true;
}

/* The case's optimiser with its schedule, options set by name in file order. */
static dc_optimizer *make_opt(gcase *c, const optcase *k) {
    const dc_optimizer_type *t = dc_optimizer_type_find(OPTS[k->opt]);
    const gt_tensor *lr = gt_find(&c->gf, "o_lr");
    if (!t || !lr) {
        cfail(c, "optimizer %s or o_lr missing", OPTS[k->opt]);
        return NULL;
    }
    dc_optimizer *o = dc_optimizer_create(t, (float)lr->v[0]);
    dc_schedule *s = NULL;
    if (o && k->sched) {
        const dc_schedule_type *st = dc_schedule_type_find(SCHEDS[k->sched]);
        if (!st) cfail(c, "schedule %s is not registered", SCHEDS[k->sched]);
        s = st ? dc_schedule_create(st) : NULL;
        if (!s) {
            dc_optimizer_free(o);
            return NULL;
        }
    }
    for (int i = 0; o && i < c->gf.n; i++) {
        const gt_tensor *x = &c->gf.t[i];
        dc_status st = DC_OK;
        if (!strncmp(x->name, "o_", 2)) st = dc_optimizer_set(o, x->name + 2, x->v[0]);
        else if (!strncmp(x->name, "s_", 2)) st = dc_schedule_set(s, x->name + 2, x->v[0]);
        if (st) {
            fail_dc(c, x->name);
            dc_optimizer_free(o);
            o = NULL;
        }
    }
    if (o && dc_optimizer_set_schedule(o, s)) {
        fail_dc(c, "dc_optimizer_set_schedule");
        dc_optimizer_free(o);
        return NULL;
    }
    if (!o) dc_schedule_free(s);
    return o;
}

/* Weights after a step against the golden row. */
static void compare_row(gcase *c, const char *what, const float *got, const double *want, int64_t n) {
    int bad = 0;
    for (int64_t i = 0; i < n; i++) {
        const double d = fabs((double)got[i] - want[i]);
        if (fabs(want[i]) >= 0.1 && d / fabs(want[i]) > worst_w) worst_w = d / fabs(want[i]);
        if (d / tol_for(c, want[i]) > worst_tol) worst_tol = d / tol_for(c, want[i]);
        if (within_tol(c, got[i], want[i])) continue;
        if (bad++ < MAX_REPORTED)
            cfail(c, "%s [%lld]: expected %.9g, got %.9g (|diff| %.3g > tol %.3g)", what, (long long)i, want[i], (double)got[i], d,
                  tol_for(c, want[i]));
    }
    if (bad > MAX_REPORTED) cfail(c, "%s: %d of %lld weights mismatch in all", what, bad, (long long)n);
}

/* Steps [from, to) of the case on w; compares with the golden values when c is given. */
static bool run_steps(gcase *c, const optcase *k, dc_optimizer *o, float *w, int from, int to, bool parts) {
    float *g = malloc((size_t)k->n * sizeof *g);
    bool ok = g != NULL;
    for (int s = from; ok && s < to; s++) {
        if (c) {
            const double want = k->lr->v[s], got = dc_optimizer_current_lr(o), err = fabs(got - want);
            /* a rate PyTorch runs at 1e-300 for deepc's 0 (LinearLR divides by its start factor) */
            if (!(err <= LR_REL_TOL * fabs(want) || (want < 1e-250 && got == 0)))
                cfail(c, "step %d: learning rate %.9g, PyTorch %.9g", s + 1, got, want);
            else if (want > 1e-250 && err / want > worst_lr) worst_lr = err / want;
        }
        for (int64_t i = 0; i < k->n; i++) g[i] = (float)k->g->v[s * k->n + i];
        dc_status st = parts ? dc_optimizer_step_part(o, w, g, k->n, k->seg, k->nseg) : dc_optimizer_step(o, w, g, k->n);
        if (st) {
            if (c) fail_dc(c, "step");
            ok = false;
            break;
        }
        if (c) {
            char what[32];
            snprintf(what, sizeof what, "w after step %d", s + 1);
            compare_row(c, what, w, k->w->v + s * k->n, k->n);
        }
        if (k->spe && (s + 1) % k->spe == 0 && (s + 1) / k->spe <= k->nmetric &&
            dc_optimizer_epoch_end(o, k->metric->v[(s + 1) / k->spe - 1])) {
            if (c) fail_dc(c, "dc_optimizer_epoch_end");
            ok = false;
        }
    }
    free(g);
    return ok;
}

static bool decay_skipped(const dc_optimizer *o) {
    double wd = 0, all = 1;
    dc_optimizer_get(o, "weight_decay", &wd);
    dc_optimizer_get(o, "decay_bias_and_norm", &all);
    return wd > 0 && all == 0;
}

/* What a checkpoint keeps and restores: the step count, the state buffers, the schedule's state. */
static dc_optimizer *resume_copy(gcase *c, const optcase *k, const dc_optimizer *a) {
    dc_optimizer *b = make_opt(c, k);
    double sv[DC_SCHEDULE_MAX_STATE];
    int ns = -1;
    if (!b || dc_optimizer_schedule_state(a, sv, &ns) || dc_optimizer_prepare(b, k->n) || b->nstate != a->nstate ||
        dc_optimizer_set_schedule_state(b, sv, ns)) {
        if (b) fail_dc(c, "restoring the state");
        dc_optimizer_free(b);
        return NULL;
    }
    for (int i = 0; i < a->nstate; i++) memcpy(b->state[i], a->state[i], (size_t)k->n * sizeof(float));
    b->t = a->t;
    return b;
}

static int golden_case(const char *dir, int idx, int *count) {
    char name[16];
    snprintf(name, sizeof name, "%02d", idx);
    gcase c;
    if (!case_open(&c, dir, name)) return case_close(&c);
    c.abs_tol = ABS_TOL;
    c.rel_tol = REL_TOL;
    optcase k;
    dc_optimizer *o = read_case(&c, &k) ? make_opt(&c, &k) : NULL;
    float *w = malloc((size_t)k.n * sizeof *w), *w2 = malloc((size_t)k.n * sizeof *w), *w3 = malloc((size_t)k.n * sizeof *w);
    if (o && w && w2 && w3) {
        count[k.opt * DC_ARRAY_LEN(SCHEDS) + k.sched]++;
        for (int64_t i = 0; i < k.n; i++) w[i] = w2[i] = w3[i] = (float)k.w0->v[i];
        c.route = "dc_optimizer_step_part";
        run_steps(&c, &k, o, w, 0, k.steps, true);
        /* the flat step decays everything: the same bits where nothing is skipped */
        if (!decay_skipped(o)) {
            c.route = "dc_optimizer_step";
            dc_optimizer *p = make_opt(&c, &k);
            if (p && run_steps(NULL, &k, p, w2, 0, k.steps, false) && memcmp(w, w2, (size_t)k.n * sizeof *w) != 0)
                cfail(&c, "dc_optimizer_step and dc_optimizer_step_part differ");
            dc_optimizer_free(p);
        }
        /* stopped after RESUME_AT steps and resumed in a fresh optimiser */
        c.route = "resume";
        dc_optimizer *a = make_opt(&c, &k);
        if (a && run_steps(NULL, &k, a, w3, 0, RESUME_AT, true)) {
            dc_optimizer *b = resume_copy(&c, &k, a);
            if (b && run_steps(NULL, &k, b, w3, RESUME_AT, k.steps, true) && memcmp(w, w3, (size_t)k.n * sizeof *w) != 0)
                cfail(&c, "resumed after %d steps: the weights differ from the uninterrupted run's", RESUME_AT);
            dc_optimizer_free(b);
        }
        dc_optimizer_free(a);
    }
    dc_optimizer_free(o);
    free(w);
    free(w2);
    free(w3);
    if (c.failures == 0) { /* one line per case is enough detail when all is well */
        gt_free(&c.gf);
        return 0;
    }
    return case_close(&c);
}

static void test_golden(const char *dir) {
    gcase c;
    int ncases = 0, failed = 0, count[DC_ARRAY_LEN(OPTS) * DC_ARRAY_LEN(SCHEDS)] = {0};
    if (case_open(&c, dir, "index")) {
        const gt_tensor *t = need(&c, "cases");
        ncases = t && t->numel == 1 && t->v[0] >= 0 && t->v[0] <= 1000 ? (int)t->v[0] : 0;
    }
    gt_free(&c.gf);
    CHECK(ncases >= 40);
    for (int i = 0; i < ncases; i++) failed += golden_case(dir, i, count);
    CHECK(failed == 0);
    /* every optimiser under every schedule kind, at least once */
    for (size_t i = 0; i < DC_ARRAY_LEN(count); i++) CHECK(count[i] > 0);
    printf("golden optim: %d of %d cases ok (weights %g relative + %g, rates %g relative); worst relative error: weights of size "
           ">= 0.1 %.2g, rates %.2g; largest share of the tolerance used %.2g\n",
           ncases - failed, ncases, REL_TOL, ABS_TOL, LR_REL_TOL, worst_w, worst_lr, worst_tol);
}

/* ---- the decay inside a model's step ------------------------------------------------------ */

/* Dense(3) -> BatchNormalization -> Dense(1) trained one step from the same start: with the
 * decay skipping 1-D tensors, biases and BN's gamma/beta come out as without any decay, and the
 * kernels as with it. */
static dc_model *small_model(dc_optimizer *o) {
    dc_model *m = dc_sequential();
    dc_model_add(m, dc_input(1, (int64_t[]){4}));
    dc_model_add(m, dc_dense(3, DC_ACT_TANH));
    dc_model_add(m, dc_batch_norm_layer(0.1f, 1e-3f));
    dc_model_add(m, dc_dense(1, DC_ACT_NONE));
    if (dc_model_compile(m, o, DC_LOSS_MSE, NULL, 0)) {
        dc_model_free(m);
        return NULL;
    }
    return m;
}

static void test_model_decay(void) {
    const char *names[] = {"dense.weight", "dense.bias", "batch_normalization.gamma", "batch_normalization.beta", "dense_1.weight",
                           "dense_1.bias"};
    const bool matrix[] = {true, false, false, false, true, false};
    float x[8 * 4], y[8];
    for (int i = 0; i < 32; i++) x[i] = sinf(0.7f * (float)i);
    for (int i = 0; i < 8; i++) y[i] = cosf((float)i);
    dc_tensor *xt = dc_tensor_from(2, (int64_t[]){8, 4}, x), *yt = dc_tensor_from(2, (int64_t[]){8, 1}, y);
    dc_model *m[3] = {NULL, NULL, NULL}; /* no decay, decay on all, decay skipping 1-D */
    for (int v = 0; v < 3; v++) {
        dc_optimizer *o = dc_sgd(0.1f, 0, false);
        CHECK(o && dc_optimizer_set(o, "weight_decay", v ? 0.5 : 0) == DC_OK);
        CHECK(dc_optimizer_set(o, "decay_bias_and_norm", v != 2) == DC_OK);
        m[v] = small_model(o);
        CHECK(m[v] != NULL);
    }
    if (!m[0] || !m[1] || !m[2]) goto done;
    /* the same start: the first model's weights, with every tensor made non-zero */
    for (size_t j = 0; j < DC_ARRAY_LEN(names); j++) {
        dc_tensor *p0 = dc_model_param(m[0], names[j]);
        CHECK(p0 != NULL);
        if (!p0) goto done;
        float *d0 = dc_tensor_data(p0);
        for (int64_t i = 0; i < dc_tensor_numel(p0); i++) d0[i] += 0.25f * (float)(i + 1);
        for (int v = 1; v < 3; v++) {
            dc_tensor *p = dc_model_param(m[v], names[j]);
            CHECK(p && dc_tensor_numel(p) == dc_tensor_numel(p0));
            if (!p) goto done;
            memcpy(dc_tensor_data(p), d0, (size_t)dc_tensor_numel(p0) * sizeof(float));
        }
    }
    for (int v = 0; v < 3; v++) {
        float loss;
        CHECK(dc_model_train_step(m[v], xt, yt, &loss) == DC_OK);
    }
    for (size_t j = 0; m[0] && m[1] && m[2] && j < DC_ARRAY_LEN(names); j++) {
        dc_tensor *p0 = dc_model_param(m[0], names[j]), *p1 = dc_model_param(m[1], names[j]), *p2 = dc_model_param(m[2], names[j]);
        const size_t bytes = (size_t)dc_tensor_numel(p0) * sizeof(float);
        /* decay on all changes every tensor; the skipping one is the no-decay one on 1-D
         * tensors and the decay-on-all one on matrices */
        CHECK(memcmp(dc_tensor_data(p0), dc_tensor_data(p1), bytes) != 0);
        if (matrix[j]) CHECK(memcmp(dc_tensor_data(p2), dc_tensor_data(p1), bytes) == 0);
        else CHECK(memcmp(dc_tensor_data(p2), dc_tensor_data(p0), bytes) == 0);
    }
done:
    for (int v = 0; v < 3; v++) dc_model_free(m[v]);
    dc_tensor_free(xt);
    dc_tensor_free(yt);
}

/* The decay that skips 1-D segments on a buffer big enough for the threaded path, against one
 * optimiser per segment (with the decay, or without it on the 1-D ones): L2 decay (Adam) gives
 * the same bits; AdamW's decoupled decay, applied before the update there and fused into it
 * here, the same to rounding. Run at 1 and 2 threads: the same bits. */
static void test_decay_threads(void) {
    const dc_part_seg seg[] = {{0, 60000, 300, 200}, {60000, 5008, 0, 1}, {65008, 5000, 100, 50}, {70008, 16, 0, 1}};
    const int nseg = (int)DC_ARRAY_LEN(seg);
    const int64_t n = 70024;
    float *w0 = malloc(n * sizeof *w0), *g = malloc(n * sizeof *g), *w[3] = {malloc(n * sizeof(float)), malloc(n * sizeof(float)),
                                                                               malloc(n * sizeof(float))};
    dc_rng r;
    dc_rng_seed(&r, 19);
    for (int64_t i = 0; i < n; i++) w0[i] = dc_rng_normal(&r);
    for (int kind = 0; kind < 2 && w0 && g && w[0] && w[1] && w[2]; kind++) {
        for (int th = 1; th <= 2; th++) {
            dc_set_threads(th);
            float *wt = w[th - 1];
            memcpy(wt, w0, n * sizeof *wt);
            memcpy(w[2], w0, n * sizeof *wt);
            dc_optimizer *o = kind ? dc_adamw(1e-2f, 0.9f, 0.99f, 0, 0.1f) : dc_adam(1e-2f, 0.9f, 0.99f, 0);
            CHECK(dc_optimizer_set(o, "weight_decay", 0.1) == DC_OK && dc_optimizer_set(o, "decay_bias_and_norm", 0) == DC_OK);
            CHECK(dc_optimizer_set(o, "clipnorm", 100) == DC_OK);
            dc_optimizer *per[DC_ARRAY_LEN(seg)];
            for (int s = 0; s < nseg; s++) {
                per[s] = kind ? dc_adamw(1e-2f, 0.9f, 0.99f, 0, seg[s].rows ? 0.1f : 0) : dc_adam(1e-2f, 0.9f, 0.99f, 0);
                CHECK(dc_optimizer_set(per[s], "weight_decay", seg[s].rows ? 0.1 : 0) == DC_OK);
            }
            dc_rng_seed(&r, 20);
            for (int step = 0; step < 3; step++) {
                for (int64_t i = 0; i < n; i++) g[i] = dc_rng_normal(&r);
                /* the reference clips by the norm over the whole buffer itself */
                double sq = 0;
                for (int64_t i = 0; i < n; i++) sq += (double)g[i] * g[i];
                const float sc = sqrt(sq) > 100 ? (float)(100 / sqrt(sq)) : 1.0f;
                CHECK(dc_optimizer_step_part(o, wt, g, n, seg, nseg) == DC_OK);
                for (int64_t i = 0; i < n; i++) g[i] *= sc;
                for (int s = 0; s < nseg; s++) CHECK(dc_optimizer_step(per[s], w[2] + seg[s].off, g + seg[s].off, seg[s].len) == DC_OK);
            }
            int64_t bad = 0;
            for (int64_t i = 0; i < n; i++)
                bad += kind ? !(fabsf(wt[i] - w[2][i]) <= 1e-6f * fabsf(w[2][i]) + 1e-7f) : wt[i] != w[2][i];
            CHECK(bad == 0);
            dc_optimizer_free(o);
            for (int s = 0; s < nseg; s++) dc_optimizer_free(per[s]);
        }
        CHECK(memcmp(w[0], w[1], n * sizeof(float)) == 0);
    }
    dc_set_threads(0);
    free(w0);
    free(g);
    for (int i = 0; i < 3; i++) free(w[i]);
}

/* ---- API ---------------------------------------------------------------------------------- */

static void test_constructors(void) {
    dc_optimizer *o = dc_adamw(1e-3f, 0.9f, 0.999f, 0, 0.01f);
    double v = -1;
    CHECK(o && !strcmp(dc_optimizer_name(o), "AdamW"));
    CHECK(dc_optimizer_get(o, "weight_decay", &v) == DC_OK && v == (double)0.01f);
    CHECK(dc_optimizer_get(o, "epsilon", &v) == DC_OK && v == (double)1e-8f);
    CHECK(dc_optimizer_get(o, "amsgrad", &v) == DC_OK && v == 0);
    CHECK(dc_optimizer_get(o, "decay_bias_and_norm", &v) == DC_OK && v == 1);
    CHECK(o->type->nstate(o) == 2);
    CHECK(dc_optimizer_set(o, "amsgrad", 1) == DC_OK && o->type->nstate(o) == 3);
    float w[3] = {1, 2, 3}, g[3] = {0.1f, -0.2f, 0.3f};
    CHECK(dc_optimizer_step(o, w, g, 3) == DC_OK && o->nstate == 3 && dc_optimizer_steps(o) == 1);
    CHECK_ERR(dc_optimizer_set(o, "amsgrad", 0), DC_ERR_STATE, "AdamW", "amsgrad", "step");
    CHECK(dc_optimizer_get(o, "amsgrad", &v) == DC_OK && v == 1);
    CHECK(dc_optimizer_set(o, "weight_decay", 0.02) == DC_OK); /* runtime options still change */
    dc_optimizer_free(o);

    dc_optimizer *r = dc_rmsprop(0.01f, 0.9f, 0);
    CHECK(r && r->type->nstate(r) == 1);
    CHECK(dc_optimizer_set(r, "centered", 1) == DC_OK && r->type->nstate(r) == 2);
    CHECK(dc_optimizer_set(r, "momentum", 0.9) == DC_OK && r->type->nstate(r) == 3);
    CHECK_ERR(dc_optimizer_set(r, "momentum", 1), DC_ERR_ARG, "RMSprop", "momentum", "1");
    CHECK_ERR(dc_optimizer_set(r, "centered", 2), DC_ERR_ARG, "RMSprop", "centered", "2");
    CHECK_ERR(dc_optimizer_set(r, "amsgrad", 1), DC_ERR_ARG, "RMSprop", "no option", "amsgrad");
    CHECK(dc_optimizer_get(r, "momentum", &v) == DC_OK && v == (double)0.9f); /* the refused value left it */
    CHECK_ERR(dc_optimizer_get(r, "nesterov", &v), DC_ERR_ARG, "RMSprop", "nesterov");
    dc_optimizer_free(r);

    CHECK_NULL_ERR(dc_adamw(-1, 0.9f, 0.999f, 0, 0.01f), "AdamW", "learning rate", "-1");
    CHECK_NULL_ERR(dc_adamw(1e-3f, 1.5f, 0.999f, 0, 0.01f), "AdamW", "betas", "1.5");
    CHECK_NULL_ERR(dc_adamw(1e-3f, 0.9f, 0.999f, 0, -0.5f), "AdamW", "weight_decay", "-0.5");
    CHECK_ERR(dc_optimizer_set(NULL, "lr", 1), DC_ERR_ARG, "dc_optimizer_set");

    CHECK_NULL_ERR(dc_step_lr(0, 0.5f), "StepLR", "step_size", "0");
    CHECK_NULL_ERR(dc_step_lr(3, -0.5f), "StepLR", "gamma", "-0.5");
    CHECK_NULL_ERR(dc_exponential_lr(0 / 0.0f), "ExponentialLR", "gamma");
    CHECK_NULL_ERR(dc_cosine_warmup(10, 10, 0), "CosineWarmup", "warmup_steps 10", "total_steps 10");
    CHECK_NULL_ERR(dc_cosine_warmup(0, 0, 0), "CosineWarmup", "total_steps", "0");
    CHECK_NULL_ERR(dc_cosine_warmup(0, 100, -1), "CosineWarmup", "min_lr", "-1");
    CHECK_NULL_ERR(dc_one_cycle_lr(0.1f, 0), "OneCycleLR", "total_steps", "0");
    CHECK_NULL_ERR(dc_reduce_lr_on_plateau(1.0f, 2), "ReduceLROnPlateau", "factor", "1");
    CHECK_NULL_ERR(dc_reduce_lr_on_plateau(0.5f, -1), "ReduceLROnPlateau", "patience", "-1");

    dc_schedule *s = dc_reduce_lr_on_plateau(0.5f, 2);
    CHECK(s && !strcmp(dc_schedule_name(s), "ReduceLROnPlateau"));
    CHECK(dc_schedule_set_name(s, "mode", "max") == DC_OK && dc_schedule_get(s, "mode", &v) == DC_OK && v == 1);
    CHECK_ERR(dc_schedule_set_name(s, "mode", "maximum"), DC_ERR_ARG, "ReduceLROnPlateau", "mode", "\"min\"", "\"max\"", "maximum");
    CHECK_ERR(dc_schedule_set_name(s, "factor", "max"), DC_ERR_ARG, "factor", "not a name");
    CHECK_ERR(dc_schedule_set(s, "warmup_steps", 3), DC_ERR_ARG, "ReduceLROnPlateau", "no option", "warmup_steps");
    CHECK_ERR(dc_schedule_set(s, "threshold_mode", 2), DC_ERR_ARG, "threshold_mode", "2");
    dc_schedule *cw = dc_cosine_warmup(5, 100, 0);
    CHECK(cw && dc_schedule_set(cw, "total_steps", 50) == DC_OK);
    CHECK_ERR(dc_schedule_set(cw, "total_steps", 5), DC_ERR_ARG, "warmup_steps 5", "total_steps 5");
    CHECK(dc_schedule_get(cw, "total_steps", &v) == DC_OK && v == 50); /* the refused value left it */
    dc_schedule_free(cw);

    /* ownership: an optimiser takes its schedule; another cannot take it too */
    dc_optimizer *a = dc_sgd(0.1f, 0, false), *b = dc_sgd(0.1f, 0, false);
    CHECK(dc_optimizer_set_schedule(a, s) == DC_OK && dc_optimizer_schedule(a) == s);
    CHECK(dc_optimizer_set_schedule(a, s) == DC_OK); /* its own again: nothing changes */
    CHECK_ERR(dc_optimizer_set_schedule(b, s), DC_ERR_ARG, "ReduceLROnPlateau", "already belongs");
    dc_schedule_free(s); /* an attached schedule is not freed by this */
    CHECK(dc_optimizer_schedule(a) == s && !strcmp(dc_schedule_name(s), "ReduceLROnPlateau"));
    CHECK_ERR(dc_optimizer_set_schedule(NULL, dc_step_lr(2, 0.5f)), DC_ERR_ARG, "optimizer is NULL"); /* freed */
    CHECK(dc_optimizer_set_schedule(b, dc_exponential_lr(0.5f)) == DC_OK);
    CHECK(dc_optimizer_set_schedule(b, dc_step_lr(1, 0.5f)) == DC_OK); /* replaces and frees the first */
    CHECK(dc_optimizer_set_schedule(b, NULL) == DC_OK && dc_optimizer_schedule(b) == NULL);
    CHECK(dc_optimizer_epoch_end(b, 1.0) == DC_OK); /* no schedule: nothing to do */
    double st[DC_SCHEDULE_MAX_STATE];
    int n = -1;
    CHECK(dc_optimizer_schedule_state(b, st, &n) == DC_OK && n == 0);
    CHECK(dc_optimizer_set_schedule_state(b, NULL, 0) == DC_OK);

    /* plateau state: 5 finite values, checked before use */
    CHECK(dc_optimizer_schedule_state(a, st, &n) == DC_OK && n == 5);
    for (int i = 0; i < n; i++) CHECK(st[i] == 0);
    CHECK_ERR(dc_optimizer_set_schedule_state(a, st, 4), DC_ERR_ARG, "4 values", "ReduceLROnPlateau keeps 5");
    CHECK_ERR(dc_optimizer_set_schedule_state(b, st, 5), DC_ERR_ARG, "5 values", "without a schedule");
    double bad[5] = {0.05, 2, 1, 0, 0};
    CHECK_ERR(dc_optimizer_set_schedule_state(a, bad, 5), DC_ERR_ARG, "ReduceLROnPlateau", "has best 2");
    bad[1] = 1;
    bad[3] = 1.5;
    CHECK_ERR(dc_optimizer_set_schedule_state(a, bad, 5), DC_ERR_ARG, "bad epochs 1.5");
    bad[3] = NAN;
    CHECK_ERR(dc_optimizer_set_schedule_state(a, bad, 5), DC_ERR_ARG, "value 3", "not finite");
    bad[3] = 2;
    CHECK(dc_optimizer_check_schedule_state(a, bad, 5) == DC_OK && dc_optimizer_schedule_state(a, st, &n) == DC_OK && st[0] == 0);
    CHECK(dc_optimizer_set_schedule_state(a, bad, 5) == DC_OK && dc_optimizer_schedule_state(a, st, &n) == DC_OK && st[0] == 0.05 &&
          st[3] == 2 && dc_optimizer_current_lr(a) == 0.05f);

    /* segments must cover the buffer in order */
    float w4[4] = {1, 2, 3, 4}, g4[4] = {1, 1, 1, 1};
    const dc_part_seg gap[] = {{0, 2, 0, 1}, {3, 1, 0, 1}}, shortseg[] = {{0, 2, 0, 1}, {2, 1, 0, 1}};
    CHECK_ERR(dc_optimizer_step_part(b, w4, g4, 4, gap, 2), DC_ERR_ARG, "segment 1 of 2", "[3, +1)", "start at 2");
    CHECK_ERR(dc_optimizer_step_part(b, w4, g4, 4, shortseg, 2), DC_ERR_ARG, "segment 1 of 2", "end at 4");
    CHECK(dc_optimizer_steps(b) == 0 && w4[0] == 1);
    dc_optimizer_free(a);
    dc_optimizer_free(b);
}

/* Rates the goldens do not reach: past the schedules' ends, a non-finite monitored value,
 * max_lr from the optimiser, and the step's rate being the one dc_optimizer_current_lr gave. */
static void test_rates(void) {
    dc_optimizer *o = dc_sgd(0.5f, 0, false);
    CHECK(dc_optimizer_set_schedule(o, dc_one_cycle_lr(0, 10)) == DC_OK);
    float w = 0, g = 1;
    double prev = 0;
    for (int s = 0; s < 30; s++) {
        const float lr = dc_optimizer_current_lr(o);
        const float before = w;
        CHECK(dc_optimizer_step(o, &w, &g, 1) == DC_OK);
        CHECK(before - w == lr); /* plain SGD from 0 with g = 1: w becomes -lr exactly */
        if (s == 0) CHECK_NEAR(lr, 0.5 / 25, 1e-9);
        if (s == 2) CHECK_NEAR(lr, 0.5, 1e-7); /* the peak: pct_start 0.3 x 10 - 1 = step 2 */
        if (s >= 9) CHECK(lr == (float)(0.5 / 25 / 1e4)); /* the last step, and held after it */
        if (s > 2 && s < 9) CHECK(lr < prev);
        prev = lr;
        w = 0;
    }
    CHECK(dc_optimizer_set_schedule(o, dc_cosine_warmup(2, 6, 0.01f)) == DC_OK); /* starts at the steps taken: 30 */
    CHECK(dc_optimizer_current_lr(o) == 0.01f);
    dc_optimizer_free(o);

    /* plateau: NaN and inf count as bad epochs; patience 0 lowers the rate at the first */
    o = dc_sgd(1.0f, 0, false);
    dc_schedule *s = dc_reduce_lr_on_plateau(0.5f, 0);
    CHECK(dc_optimizer_set_schedule(o, s) == DC_OK);
    CHECK(dc_optimizer_epoch_end(o, 1.0) == DC_OK && dc_optimizer_current_lr(o) == 1.0f);
    CHECK(dc_optimizer_epoch_end(o, -INFINITY) == DC_OK && dc_optimizer_current_lr(o) == 0.5f);
    CHECK(dc_optimizer_epoch_end(o, NAN) == DC_OK && dc_optimizer_current_lr(o) == 0.25f);
    CHECK(dc_optimizer_epoch_end(o, 0.5) == DC_OK && dc_optimizer_current_lr(o) == 0.25f);
    double st[DC_SCHEDULE_MAX_STATE];
    int n = 0;
    CHECK(dc_optimizer_schedule_state(o, st, &n) == DC_OK && n == 5 && st[0] == 0.25 && st[1] == 1 && st[2] == 0.5 && st[3] == 0);
    for (int i = 0; i < n; i++) CHECK(isfinite(st[i]));
    CHECK(dc_optimizer_set_lr(o, 2.0f) == DC_OK && dc_optimizer_current_lr(o) == 0.25f); /* its own rate from then on */
    dc_optimizer_free(o);

    /* the step-based schedules count optimiser steps */
    o = dc_sgd(1.0f, 0, false);
    CHECK(dc_optimizer_set_schedule(o, dc_step_lr(3, 0.5f)) == DC_OK);
    for (int k = 0; k < 7; k++) {
        CHECK(dc_optimizer_current_lr(o) == ldexpf(1.0f, -(k / 3)));
        CHECK(dc_optimizer_step(o, &w, &g, 1) == DC_OK);
    }
    dc_optimizer_free(o);
}

int main(int argc, char **argv) {
    const char *dir = argc > 1 ? argv[1] : "tests/golden/optim";
    /* the generator's class names are the registered ones */
    for (size_t i = 0; i < DC_ARRAY_LEN(OPTS); i++) CHECK(dc_optimizer_type_find(OPTS[i]) != NULL);
    for (size_t i = 1; i < DC_ARRAY_LEN(SCHEDS); i++) CHECK(dc_schedule_type_find(SCHEDS[i]) != NULL);
    CHECK(dc_schedule_type_count() == (int)DC_ARRAY_LEN(SCHEDS) - 1 && dc_schedule_type_at(dc_schedule_type_count()) == NULL);
    test_golden(dir);
    test_model_decay();
    test_decay_threads();
    test_constructors();
    test_rates();
    return check_report("test_golden_optim");
}
