/* Golden checks of the CTC loss (dc_ctc_loss) against PyTorch 1.13's F.ctc_loss, forward and
 * backward.
 *
 * The vectors tests/golden/ctc/c<i>.txt, listed in tests/golden/ctc/cases.txt, are written by
 * scripts/golden/gen_golden_ctc.py: random configurations from one seed over the batch, steps,
 * classes, the blank's position, target lengths from 0 (empty targets), repeated labels, input
 * lengths below T, targets that no alignment gives (infinite loss, with and without
 * zero_infinity), logits scaled up to 20, and every reduction. Each case runs three ways:
 *   logits       dc_ctc_loss with from_logits on z: loss and d loss / d z
 *   logp         dc_ctc_loss on the float32 log-probabilities: loss and the true d loss / d logp
 *   log_softmax  dc_ctc_loss(dc_log_softmax(z)): loss and d loss / d z through both ops
 * then with grad mode off (the same value, bit for bit), through dc_loss_ex(DC_LOSS_CTC) when
 * every input length is T (the same bits), and on one thread (the same bits as on all).
 * A loss flagged infinite must be +inf; the gradient of an infeasible sample without
 * zero_infinity must be NaN on its steps, as PyTorch's.
 *
 * Tolerance (float32, as tests/test_golden_loss.c): |got - expected| <= 1e-5 |expected| +
 * 1e-6 max|expected| + 1e-12, the max over the tensor compared. The log_softmax route computes
 * its float32 log-probabilities itself, off from the golden ones by up to an ulp of their largest
 * magnitude m (m 2^-23, up to 1.4e-5 for the logits scaled by 20): that is added to its 1e-6.
 * The largest relative error of elements of at least 1e-3 and the largest fraction of the
 * tolerance used are printed. */
#include <deepc.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "golden_io.h"

#define CTC_DIR "tests/golden/ctc"
#define REL_TOL 1e-5
#define NORM_TOL 1e-6
#define ABS_TOL 1e-12

/* per route (logits, logp, log_softmax): the largest fraction of the tolerance used and relative error */
static const char *const routes[3] = {"logits", "logp", "log_softmax"};
static double worst_frac[3], worst_rel[3];
static char worst_case[3][64];

/* got[] against the golden `name`; where inf[i] (or nan[i]) is set the value must be +inf (NaN).
 * lp_err: the rounding error of the float32 log-probabilities the route computed itself, relative
 * to the largest value (0 when they are the golden ones). */
static void compare(gcase *gc, const char *route, const char *name, const dc_tensor *got, const uint8_t *inf, const uint8_t *nan,
                    double lp_err) {
    gc->route = route;
    const gt_tensor *e = need(gc, name);
    if (!e) return;
    if (!got || dc_tensor_numel(got) != e->numel) {
        cfail(gc, "%s: %lld values, golden has %lld", name, got ? (long long)dc_tensor_numel(got) : -1LL, (long long)e->numel);
        return;
    }
    double mx = 0;
    for (int64_t i = 0; i < e->numel; i++) mx = fmax(mx, fabs(e->v[i]));
    gc->rel_tol = REL_TOL;
    gc->abs_tol = (NORM_TOL + lp_err) * mx + ABS_TOL;
    dc_tensor *cp = dc_tensor_clone(got);
    const float *g = dc_tensor_data(cp);
    int bad = 0, r = 0;
    while (r < 2 && strcmp(routes[r], route) != 0) r++;
    for (int64_t i = 0; i < e->numel; i++) {
        if (inf && inf[i]) {
            if (!(isinf(g[i]) && g[i] > 0) && bad++ < MAX_REPORTED) cfail(gc, "%s[%lld]: expected +inf, got %g", name, (long long)i, g[i]);
            continue;
        }
        if (nan && nan[i]) {
            if (!isnan(g[i]) && bad++ < MAX_REPORTED) cfail(gc, "%s[%lld]: expected NaN, got %g", name, (long long)i, g[i]);
            continue;
        }
        double d = fabs((double)g[i] - e->v[i]), frac = d / tol_for(gc, e->v[i]);
        if (!(frac <= worst_frac[r])) {
            worst_frac[r] = frac;
            snprintf(worst_case[r], sizeof worst_case[r], "%s %s", gc->name, name);
        }
        if (fabs(e->v[i]) >= 1e-3 && d / fabs(e->v[i]) > worst_rel[r]) worst_rel[r] = d / fabs(e->v[i]);
        if (!within_tol(gc, g[i], e->v[i]) && bad++ < MAX_REPORTED)
            cfail(gc, "mismatch %s[%lld]: expected %.9g, got %.9g (tol %.3g)", name, (long long)i, e->v[i], g[i], tol_for(gc, e->v[i]));
    }
    dc_tensor_free(cp);
}

static bool same_bits(const dc_tensor *a, const dc_tensor *b) {
    return a && b && dc_tensor_numel(a) == dc_tensor_numel(b) &&
           memcmp(dc_tensor_data((dc_tensor *)a), dc_tensor_data((dc_tensor *)b), (size_t)dc_tensor_numel(a) * sizeof(float)) == 0;
}

typedef struct run_args {
    dc_tensor *targets, *gy;
    const int64_t *ilen;
    dc_loss_opts o;
    dc_reduction red;
} run_args;

/* Forward (and backward into x's gradient when backward) of one route; the loss (owned). */
static dc_tensor *run(const run_args *a, dc_tensor *x, bool logits, bool log_softmax, bool backward) {
    dc_ctx *c = dc_ctx_new();
    dc_ctx_set_grad(c, backward);
    dc_loss_opts o = a->o;
    o.from_logits = logits;
    dc_tensor *in = log_softmax ? dc_log_softmax(c, x) : x;
    dc_tensor *l = dc_ctc_loss(c, in, a->targets, a->ilen, &o, a->red, NULL);
    dc_tensor *out = l ? dc_tensor_clone(l) : NULL;
    if (l && backward) {
        dc_tensor *s = a->red == DC_REDUCE_NONE ? dc_sum(c, dc_mul(c, l, a->gy)) : l;
        if (!s || dc_backward(c, s) != DC_OK) {
            dc_tensor_free(out);
            out = NULL;
        }
    }
    dc_ctx_free(c);
    return out;
}

static int run_case(const char *name) {
    gcase gc;
    if (!case_open(&gc, CTC_DIR, name)) return case_close(&gc);
    const gt_tensor *cf = need(&gc, "config"), *il = need(&gc, "input_lengths"), *li = need(&gc, "loss_inf"), *nr = need(&gc, "nan_rows");
    if (!cf || !il || !li || !nr || cf->numel != 7) return case_close(&gc);
    const int64_t N = (int64_t)cf->v[0], T = (int64_t)cf->v[1], C = (int64_t)cf->v[2];
    run_args a = {.o = dc_loss_opts_default(), .red = (dc_reduction)(int)cf->v[6]};
    a.o.blank = (int64_t)cf->v[4];
    a.o.zero_infinity = cf->v[5] != 0;
    int64_t ilen[64];
    uint8_t inf[64], *nan = calloc((size_t)(N * T * C), 1);
    bool all_T = true;
    for (int64_t n = 0; n < N && n < 64; n++) {
        ilen[n] = (int64_t)il->v[n];
        all_T = all_T && ilen[n] == T;
        for (int64_t e = 0; nr->v[n] != 0 && e < ilen[n] * C; e++) nan[n * T * C + e] = 1;
    }
    for (int64_t i = 0; i < li->numel && i < 64; i++) inf[i] = li->v[i] != 0;
    a.ilen = ilen;
    a.targets = load_tensor(&gc, "targets", false);
    a.gy = a.red == DC_REDUCE_NONE ? load_tensor(&gc, "gy", false) : NULL;
    dc_tensor *z = load_tensor(&gc, "logits", true), *lp = load_tensor(&gc, "logp", true);
    if (N <= 64 && a.targets && z && lp && (a.red != DC_REDUCE_NONE || a.gy)) {
        /* from logits */
        dc_tensor *l = run(&a, z, true, false, true);
        if (!l) fail_dc(&gc, "logits route");
        compare(&gc, "logits", "loss", l, inf, NULL, 0);
        compare(&gc, "logits", "dlogits", dc_tensor_grad(z), NULL, nan, 0);
        dc_tensor *off = run(&a, z, true, false, false);
        if (!same_bits(l, off)) cfail(&gc, "grad mode off gives another value");
        dc_tensor *g_all = dc_tensor_clone(dc_tensor_grad(z));
        dc_set_threads(1); /* one thread: the same bits */
        dc_tensor_zero_grad(z);
        dc_tensor *l1 = run(&a, z, true, false, true);
        dc_set_threads(0);
        if (!same_bits(l, l1) || !same_bits(g_all, dc_tensor_grad(z))) cfail(&gc, "one thread gives other bits than all");
        /* on log-probabilities */
        dc_tensor *l2 = run(&a, lp, false, false, true);
        if (!l2) fail_dc(&gc, "logp route");
        compare(&gc, "logp", "loss_lp", l2, inf, NULL, 0);
        compare(&gc, "logp", "dlogp", dc_tensor_grad(lp), NULL, nan, 0);
        if (all_T) { /* dc_loss_ex takes every sample's input length as T */
            dc_ctx *c = dc_ctx_new();
            dc_ctx_set_grad(c, false);
            dc_loss_opts o = a.o;
            dc_tensor *ex = dc_loss_ex(c, DC_LOSS_CTC, lp, a.targets, &o, a.red, NULL, NULL);
            if (!ex || !same_bits(ex, l2)) cfail(&gc, "dc_loss_ex(DC_LOSS_CTC) differs from dc_ctc_loss");
            dc_ctx_free(c);
        }
        /* through dc_log_softmax: float32 log-probabilities of magnitude m are off by up to
         * half an ulp, m 2^-24, and the occupancies (of order 1) inherit that error */
        double lp_err = 0;
        for (int64_t i = 0; i < dc_tensor_numel(lp); i++) lp_err = fmax(lp_err, fabs(dc_tensor_data(lp)[i]) * 0x1p-23);
        dc_tensor_zero_grad(z);
        dc_tensor *l3 = run(&a, z, false, true, true);
        if (!l3) fail_dc(&gc, "log_softmax route");
        compare(&gc, "log_softmax", "loss", l3, inf, NULL, lp_err);
        compare(&gc, "log_softmax", "dlogits", dc_tensor_grad(z), NULL, nan, lp_err);
        dc_tensor *own[] = {l, off, g_all, l1, l2, l3};
        for (size_t i = 0; i < sizeof own / sizeof own[0]; i++) dc_tensor_free(own[i]);
    } else if (N > 64) {
        cfail(&gc, "batch %lld is larger than the test's 64", (long long)N);
    }
    free(nan);
    dc_tensor *all[] = {a.targets, a.gy, z, lp};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) dc_tensor_free(all[i]);
    return case_close(&gc);
}

int main(void) {
    FILE *f = fopen(CTC_DIR "/cases.txt", "r");
    CHECK(f != NULL);
    if (!f) return check_report("test_golden_ctc");
    char line[128];
    int n = 0, failed = 0;
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\r\n")] = '\0';
        if (!line[0] || line[0] == '#') continue;
        n++;
        check_count++;
        if (run_case(line)) {
            failed++;
            check_fails++;
        }
    }
    fclose(f);
    printf("golden ctc cases: %d of %d failed\n", failed, n);
    for (int r = 0; r < 3; r++)
        printf("  route %-11s: largest relative error (|expected| >= 1e-3) %.2e, largest fraction of the tolerance %.3f (%s)\n",
               routes[r], worst_rel[r], worst_frac[r], worst_case[r]);
    CHECK(n >= 70);
    return check_report("test_golden_ctc");
}
