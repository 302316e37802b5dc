/* Shared helpers of the golden tests (tests/test_golden.c, tests/test_golden_conv.c): a strict
 * reader of the golden files under tests/golden/ (format in tests/golden/README.md), per-case
 * failure bookkeeping, and tolerance checks of deepc tensors against the golden values.
 *
 * A case's tolerance is |got - expected| <= abs_tol + rel_tol * |expected|; case_open sets it to
 * GOLD_ABS_TOL + GOLD_REL_TOL (1e-5 absolute plus 1e-4 relative), a test may widen it per case.
 * A golden file that is missing or malformed fails its case with a message, never a crash.
 * Everything here is static inline, so a test that leaves a helper unused gets no warning. */
#ifndef DC_TEST_GOLDEN_IO_H
#define DC_TEST_GOLDEN_IO_H

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

static inline void gt_free(gt_file *f) {
    for (int i = 0; i < f->n; i++) free(f->t[i].v);
    f->n = 0;
}

/* Next whitespace-separated token of a NUL-terminated line, NUL-terminated in place. */
static inline char *next_token(char **p) {
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

static inline bool parse_i64(const char *tok, int64_t lo, int64_t hi, int64_t *out) {
    if (!tok || !*tok) return false;
    char *end = NULL;
    errno = 0;
    long long v = strtoll(tok, &end, 10);
    if (errno || *end || v < lo || v > hi) return false;
    *out = (int64_t)v;
    return true;
}

static inline bool valid_name(const char *s) {
    size_t n = strlen(s);
    if (n == 0 || n >= GT_MAX_NAME) return false;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)s[i]) && s[i] != '_') return false;
    return true;
}

static inline const gt_tensor *gt_find(const gt_file *f, const char *name) {
    for (int i = 0; i < f->n; i++)
        if (strcmp(f->t[i].name, name) == 0) return &f->t[i];
    return NULL;
}

/* Reads a whole golden file; on failure writes the reason into err and returns false. */
static inline bool gt_load(gt_file *f, const char *path, char *err, size_t errsz) {
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
    double abs_tol, rel_tol; /* |got - expected| <= abs_tol + rel_tol |expected| */
    gt_file gf;
} gcase;

#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
static inline void cfail(gcase *c, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    printf("  %s [%s]: ", c->name, c->route ? c->route : "-");
    vprintf(fmt, ap);
    printf("\n");
    va_end(ap);
    c->failures++;
}

static inline void fail_dc(gcase *c, const char *what) {
    const char *e = dc_last_error();
    cfail(c, "%s failed: %s", what, e && *e ? e : "(no error message)");
}

/* Copies src into the model's parameter or state tensor `name`. */
static inline bool set_param(gcase *c, dc_model *m, const char *name, dc_tensor *src) {
    dc_tensor *p = dc_model_param(m, name);
    if (!p) {
        fail_dc(c, name);
        return false;
    }
    if (dc_tensor_numel(p) != dc_tensor_numel(src) || !dc_tensor_is_contiguous(p)) {
        cfail(c, "%s: the model's tensor has %lld elements (contiguous: %d), the golden one %lld", name,
              (long long)dc_tensor_numel(p), (int)dc_tensor_is_contiguous(p), (long long)dc_tensor_numel(src));
        return false;
    }
    memcpy(dc_tensor_data(p), dc_tensor_data(src), (size_t)dc_tensor_numel(src) * sizeof(float));
    return true;
}

static inline const gt_tensor *need(gcase *c, const char *name) {
    const gt_tensor *t = gt_find(&c->gf, name);
    if (!t) cfail(c, "%s: golden tensor '%s' is missing", c->gf.path, name);
    return t;
}

static inline double tol_for(const gcase *c, double exp) { return c->abs_tol + c->rel_tol * fabs(exp); }

static inline bool within_tol(const gcase *c, double got, double exp) {
    return fabs(got - exp) <= tol_for(c, exp); /* false for NaN */
}

static inline void index_str(const gt_tensor *e, int64_t flat, char *buf, size_t n) {
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
static inline void compare_vals(gcase *c, const char *what, const float *got, int64_t n, const gt_tensor *exp,
                                const double *expv) {
    if (n != exp->numel) {
        cfail(c, "%s: %lld values, golden has %lld", what, (long long)n, (long long)exp->numel);
        return;
    }
    int64_t bad = 0;
    double worst = 0;
    for (int64_t i = 0; i < n; i++) {
        double g = (double)got[i], e = expv[i];
        if (within_tol(c, g, e)) continue;
        double d = fabs(g - e);
        if (!(d <= worst)) worst = d; /* NaN sticks */
        if (bad++ < MAX_REPORTED) {
            char ix[DC_MAX_DIMS * 24];
            index_str(exp, i, ix, sizeof ix);
            cfail(c, "mismatch %s%s: expected %.9g, got %.9g (|diff| %.3g > tol %.3g)", what, ix, e, g, d,
                  tol_for(c, e));
        }
    }
    if (bad > MAX_REPORTED)
        cfail(c, "%s: %lld of %lld elements mismatch in all (largest |diff| %.3g)", what, (long long)bad, (long long)n,
              worst);
}

/* Compares a deepc tensor (any layout) with the golden tensor of the given name. */
static inline void compare_tensor(gcase *c, const char *gname, const dc_tensor *got) {
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
static inline dc_tensor *load_tensor(gcase *c, const char *name, bool requires_grad) {
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

static inline bool case_open(gcase *c, const char *dir, const char *name) {
    memset(c, 0, sizeof *c);
    c->name = name;
    c->abs_tol = GOLD_ABS_TOL;
    c->rel_tol = GOLD_REL_TOL;
    char path[512], err[768];
    snprintf(path, sizeof path, "%s/%s.txt", dir, name);
    if (!gt_load(&c->gf, path, err, sizeof err)) {
        cfail(c, "%s", err);
        return false;
    }
    return true;
}

/* Prints the case's result line; returns 1 if it failed. */
static inline int case_close(gcase *c) {
    gt_free(&c->gf);
    if (c->failures) printf("golden %s FAILED (%d problem%s)\n", c->name, c->failures, c->failures == 1 ? "" : "s");
    else printf("golden %s ok\n", c->name);
    fflush(stdout);
    return c->failures ? 1 : 0;
}

#endif /* DC_TEST_GOLDEN_IO_H */
