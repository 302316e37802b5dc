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
 * names another golden directory.
 */
#include <deepc.h>

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GOLD_ABS_TOL 1e-5
#define GOLD_REL_TOL 1e-4

#define GT_MAX_TENSORS 48
#define GT_MAX_NAME 32
#define GT_MAX_NUMEL 100000
#define GT_MAX_FILE_BYTES (4L << 20)
#define MAX_REPORTED 4 /* mismatching elements printed per tensor */

/* ------------------------------------------------------------------------------------- */
/* golden file reader                                                                    */
/* ------------------------------------------------------------------------------------- */

typedef struct gt_tensor {
    char name[GT_MAX_NAME];
    int ndim;
    int64_t shape[DC_MAX_DIMS];
    int64_t numel;
    double *v;
} gt_tensor;

typedef struct gt_file {
    char path[512];
    int n;
    gt_tensor t[GT_MAX_TENSORS];
} gt_file;

static void gt_free(gt_file *f) {
    for (int i = 0; i < f->n; i++) free(f->t[i].v);
    f->n = 0;
}

/* Next whitespace-separated token of a NUL-terminated line, NUL-terminated in place. */
static char *next_token(char **p) {
    char *s = *p;
    while (*s == ' ' || *s == '\t') s++;
    if (!*s) {
        *p = s;
        return NULL;
    }
    char *tok = s;
    while (*s && *s != ' ' && *s != '\t') s++;
    if (*s) *s++ = '\0';
    *p = s;
    return tok;
}

static bool parse_i64(const char *tok, int64_t lo, int64_t hi, int64_t *out) {
    if (!tok || !*tok) return false;
    char *end = NULL;
    errno = 0;
    long long v = strtoll(tok, &end, 10);
    if (errno || *end || v < lo || v > hi) return false;
    *out = (int64_t)v;
    return true;
}

static bool valid_name(const char *s) {
    size_t n = strlen(s);
    if (n == 0 || n >= GT_MAX_NAME) return false;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)s[i]) && s[i] != '_') return false;
    return true;
}

static const gt_tensor *gt_find(const gt_file *f, const char *name) {
    for (int i = 0; i < f->n; i++)
        if (strcmp(f->t[i].name, name) == 0) return &f->t[i];
    return NULL;
}

/* Reads a whole golden file; on failure writes the reason into err and returns false. */
static bool gt_load(gt_file *f, const char *path, char *err, size_t errsz) {
    memset(f, 0, sizeof *f);
    snprintf(f->path, sizeof f->path, "%s", path);
    FILE *fp = fopen(path, "rb");
    if (!fp) {
        snprintf(err, errsz, "cannot open %s: %s (regenerate with `make golden`)", path, strerror(errno));
        return false;
    }
    char *buf = malloc((size_t)GT_MAX_FILE_BYTES + 1);
    size_t len = buf ? fread(buf, 1, (size_t)GT_MAX_FILE_BYTES + 1, fp) : 0;
    bool rd_err = ferror(fp);
    fclose(fp);
    if (!buf) {
        snprintf(err, errsz, "%s: out of memory", path);
        return false;
    }
    if (rd_err || len > (size_t)GT_MAX_FILE_BYTES) {
        snprintf(err, errsz, "%s: %s", path, rd_err ? "read error" : "file is larger than 4 MiB");
        free(buf);
        return false;
    }
    buf[len] = '\0';
    if (memchr(buf, '\0', len)) {
        snprintf(err, errsz, "%s: file contains NUL bytes", path);
        free(buf);
        return false;
    }

    bool ok = true;
    gt_tensor *cur = NULL; /* header read, values line pending */
    int line_no = 0, cur_line = 0;
    char *p = buf;
    while (ok && *p) {
        char *line = p;
        char *nl = strchr(p, '\n');
        if (nl) {
            *nl = '\0';
            p = nl + 1;
        } else {
            p += strlen(p);
        }
        line_no++;
        size_t ll = strlen(line);
        if (ll && line[ll - 1] == '\r') line[--ll] = '\0';
        char *q = line;
        while (*q == ' ' || *q == '\t') q++;
        if (!*q || *q == '#') continue;

        if (!cur) { /* header: name ndim d0 d1 ... */
            char *name = next_token(&q);
            int64_t ndim = 0, numel = 1;
            if (!valid_name(name)) {
                snprintf(err, errsz, "%s:%d: bad tensor name '%.40s'", path, line_no, name);
                ok = false;
                break;
            }
            if (gt_find(f, name)) {
                snprintf(err, errsz, "%s:%d: tensor '%s' appears twice", path, line_no, name);
                ok = false;
                break;
            }
            if (f->n == GT_MAX_TENSORS) {
                snprintf(err, errsz, "%s:%d: more than %d tensors", path, line_no, GT_MAX_TENSORS);
                ok = false;
                break;
            }
            if (!parse_i64(next_token(&q), 1, DC_MAX_DIMS, &ndim)) {
                snprintf(err, errsz, "%s:%d: tensor '%s': ndim must be an integer in [1, %d]", path, line_no, name,
                         DC_MAX_DIMS);
                ok = false;
                break;
            }
            gt_tensor *t = &f->t[f->n];
            snprintf(t->name, sizeof t->name, "%s", name);
            t->ndim = (int)ndim;
            for (int d = 0; d < t->ndim && ok; d++) {
                if (!parse_i64(next_token(&q), 1, GT_MAX_NUMEL, &t->shape[d]) || numel * t->shape[d] > GT_MAX_NUMEL) {
                    snprintf(err, errsz, "%s:%d: tensor '%s': dimension %d missing, not a positive integer or too large",
                             path, line_no, name, d);
                    ok = false;
                } else {
                    numel *= t->shape[d];
                }
            }
            if (!ok) break;
            if (next_token(&q)) {
                snprintf(err, errsz, "%s:%d: tensor '%s': extra tokens after the %d dimensions", path, line_no, name,
                         t->ndim);
                ok = false;
                break;
            }
            t->numel = numel;
            t->v = malloc((size_t)numel * sizeof(double));
            if (!t->v) {
                snprintf(err, errsz, "%s: out of memory", path);
                ok = false;
                break;
            }
            f->n++;
            cur = t;
            cur_line = line_no;
        } else { /* values line: exactly numel finite numbers */
            int64_t k = 0;
            for (char *tok; (tok = next_token(&q));) {
                char *end = NULL;
                double v = strtod(tok, &end);
                if (*end || end == tok || !isfinite(v)) {
                    snprintf(err, errsz, "%s:%d: tensor '%s': value %lld '%.40s' is not a finite number", path, line_no,
                             cur->name, (long long)k, tok);
                    ok = false;
                    break;
                }
                if (k == cur->numel) {
                    snprintf(err, errsz, "%s:%d: tensor '%s': more than %lld values", path, line_no, cur->name,
                             (long long)cur->numel);
                    ok = false;
                    break;
                }
                cur->v[k++] = v;
            }
            if (ok && k != cur->numel) {
                snprintf(err, errsz, "%s:%d: tensor '%s': %lld values, expected %lld", path, line_no, cur->name,
                         (long long)k, (long long)cur->numel);
                ok = false;
            }
            cur = NULL;
        }
    }
    if (ok && cur) {
        snprintf(err, errsz, "%s:%d: tensor '%s' has no values line", path, cur_line, cur->name);
        ok = false;
    }
    if (ok && f->n == 0) {
        snprintf(err, errsz, "%s: no tensors", path);
        ok = false;
    }
    free(buf);
    if (!ok) gt_free(f);
    return ok;
}

/* ------------------------------------------------------------------------------------- */
/* per-case bookkeeping and comparison                                                   */
/* ------------------------------------------------------------------------------------- */

typedef struct gcase {
    const char *name;
    const char *route; /* which deepc call path is being checked, printed with failures */
    int failures;
    gt_file gf;
} gcase;

#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
static void cfail(gcase *c, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    printf("  %s [%s]: ", c->name, c->route ? c->route : "-");
    vprintf(fmt, ap);
    printf("\n");
    va_end(ap);
    c->failures++;
}

static void fail_dc(gcase *c, const char *what) {
    const char *e = dc_last_error();
    cfail(c, "%s failed: %s", what, e && *e ? e : "(no error message)");
}

static const gt_tensor *need(gcase *c, const char *name) {
    const gt_tensor *t = gt_find(&c->gf, name);
    if (!t) cfail(c, "%s: golden tensor '%s' is missing", c->gf.path, name);
    return t;
}

static bool within_tol(double got, double exp) {
    double d = fabs(got - exp);
    return d <= GOLD_ABS_TOL + GOLD_REL_TOL * fabs(exp); /* false for NaN */
}

static void index_str(const gt_tensor *e, int64_t flat, char *buf, size_t n) {
    int64_t idx[DC_MAX_DIMS];
    for (int d = e->ndim - 1; d >= 0; d--) {
        idx[d] = flat % e->shape[d];
        flat /= e->shape[d];
    }
    size_t k = (size_t)snprintf(buf, n, "[");
    for (int d = 0; d < e->ndim && k < n; d++) k += (size_t)snprintf(buf + k, n - k, d ? ",%lld" : "%lld", (long long)idx[d]);
    if (k < n) snprintf(buf + k, n - k, "]");
}

/* Compares n values got[] with the golden exp (whose numel must be n). */
static void compare_vals(gcase *c, const char *what, const float *got, int64_t n, const gt_tensor *exp,
                         const double *expv) {
    if (n != exp->numel) {
        cfail(c, "%s: %lld values, golden has %lld", what, (long long)n, (long long)exp->numel);
        return;
    }
    int64_t bad = 0;
    double worst = 0;
    for (int64_t i = 0; i < n; i++) {
        double g = (double)got[i], e = expv[i];
        if (within_tol(g, e)) continue;
        double d = fabs(g - e);
        if (!(d <= worst)) worst = d; /* NaN sticks */
        if (bad++ < MAX_REPORTED) {
            char ix[DC_MAX_DIMS * 24];
            index_str(exp, i, ix, sizeof ix);
            cfail(c, "mismatch %s%s: expected %.9g, got %.9g (|diff| %.3g > tol %.3g)", what, ix, e, g, d,
                  GOLD_ABS_TOL + GOLD_REL_TOL * fabs(e));
        }
    }
    if (bad > MAX_REPORTED)
        cfail(c, "%s: %lld of %lld elements mismatch in all (largest |diff| %.3g)", what, (long long)bad, (long long)n,
              worst);
}

/* Compares a deepc tensor (any layout) with the golden tensor of the given name. */
static void compare_tensor(gcase *c, const char *gname, const dc_tensor *got) {
    const gt_tensor *exp = need(c, gname);
    if (!exp) return;
    if (!got) {
        cfail(c, "%s: deepc produced no tensor", gname);
        return;
    }
    int nd = dc_tensor_ndim(got);
    const int64_t *sh = dc_tensor_shape(got);
    bool same = nd == exp->ndim;
    for (int d = 0; same && d < nd; d++) same = sh[d] == exp->shape[d];
    if (!same) {
        char a[128], b[128];
        cfail(c, "%s: deepc shape %s, golden shape %s", gname, dc_shape_str(nd, sh, a, sizeof a),
              dc_shape_str(exp->ndim, exp->shape, b, sizeof b));
        return;
    }
    dc_tensor *copy = dc_tensor_clone(got); /* contiguous, whatever the view */
    if (!copy) {
        fail_dc(c, "dc_tensor_clone");
        return;
    }
    compare_vals(c, gname, dc_tensor_data(copy), dc_tensor_numel(copy), exp, exp->v);
    dc_tensor_free(copy);
}

/* Owned deepc tensor holding the golden tensor `name` (NULL, with a failure, if absent). */
static dc_tensor *load_tensor(gcase *c, const char *name, bool requires_grad) {
    const gt_tensor *g = need(c, name);
    if (!g) return NULL;
    float *tmp = malloc((size_t)g->numel * sizeof(float));
    if (!tmp) {
        cfail(c, "out of memory");
        return NULL;
    }
    for (int64_t i = 0; i < g->numel; i++) tmp[i] = (float)g->v[i];
    dc_tensor *t = dc_tensor_from(g->ndim, g->shape, tmp);
    free(tmp);
    if (!t) {
        fail_dc(c, "dc_tensor_from");
        return NULL;
    }
    if (requires_grad && dc_tensor_set_requires_grad(t, true) != DC_OK) {
        fail_dc(c, "dc_tensor_set_requires_grad");
        dc_tensor_free(t);
        return NULL;
    }
    return t;
}

static bool case_open(gcase *c, const char *dir, const char *name) {
    memset(c, 0, sizeof *c);
    c->name = name;
    char path[512], err[768];
    snprintf(path, sizeof path, "%s/%s.txt", dir, name);
    if (!gt_load(&c->gf, path, err, sizeof err)) {
        cfail(c, "%s", err);
        return false;
    }
    return true;
}

/* Prints the case's result line; returns 1 if it failed. */
static int case_close(gcase *c) {
    gt_free(&c->gf);
    if (c->failures) printf("golden %s FAILED (%d problem%s)\n", c->name, c->failures, c->failures == 1 ? "" : "s");
    else printf("golden %s ok\n", c->name);
    fflush(stdout);
    return c->failures ? 1 : 0;
}

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
