/* deepc train's configuration files: reading, the model, and the data with its preprocessing.
 * Every value is checked before use and a message names the file, the section and key, and
 * what is allowed. */
#include "config.h"
#include "cli.h"

#include "io/schema_json.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CONFIG_MAX_BYTES (16 << 20) /* a configuration is text a person writes */
#define CONFIG_MAX_DEPTH 16

dc_status dc_config_bad(const dc_config *c, const char *where, const char *fmt, ...) {
    char msg[700];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return dc_error(DC_ERR_FORMAT, "%s: %s: %s", c->path, where, msg);
}

dc_status dc_config_keys(const dc_config *c, const char *where, const cJSON *o, const char *const *keys) {
    for (const cJSON *it = o ? o->child : NULL; it; it = it->next) {
        int k = 0;
        while (keys[k] && strcmp(keys[k], it->string) != 0) k++;
        if (keys[k]) continue;
        char known[512];
        size_t n = 0;
        known[0] = 0;
        for (k = 0; keys[k] && n < sizeof known; k++) {
            int w = snprintf(known + n, sizeof known - n, "%s%s", k ? ", " : "", keys[k]);
            if (w > 0) n += (size_t)w;
        }
        return dc_config_bad(c, where, "unknown key \"%.60s\" (keys: %s)", it->string, known);
    }
    return DC_OK;
}

/* line and column (from 1) of byte offset at in text */
static void line_col(const char *text, size_t at, int *line, int *col) {
    *line = 1;
    *col = 1;
    for (size_t i = 0; i < at && text[i]; i++) {
        if (text[i] == '\n') {
            ++*line;
            *col = 1;
        } else {
            ++*col;
        }
    }
}

dc_status dc_config_read(const char *path, dc_config *c) {
    memset(c, 0, sizeof *c);
    c->path = path;
    FILE *f = fopen(path, "rb");
    if (!f) return dc_error(DC_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    char *text = malloc(CONFIG_MAX_BYTES + 1);
    size_t n = text ? fread(text, 1, CONFIG_MAX_BYTES + 1, f) : 0;
    bool bad_read = ferror(f);
    fclose(f);
    if (!text) return dc_error(DC_ERR_NOMEM, "%s: out of memory", path);
    if (bad_read || n > CONFIG_MAX_BYTES) {
        free(text);
        return bad_read ? dc_error(DC_ERR_IO, "%s: read error", path)
                        : dc_error(DC_ERR_FORMAT, "%s: over %d MiB; a configuration is a small JSON file", path, CONFIG_MAX_BYTES >> 20);
    }
    text[n] = 0;
    if (memchr(text, 0, n)) {
        free(text);
        return dc_error(DC_ERR_FORMAT, "%s: holds a NUL byte: not a JSON configuration (a binary file?)", path);
    }
    /* the nesting is bounded before cJSON's recursive parser sees the text */
    int most = dc_json_depth(text);
    if (most > CONFIG_MAX_DEPTH) {
        free(text);
        return dc_error(DC_ERR_FORMAT, "%s: nested deeper than %d levels of arrays and objects", path, CONFIG_MAX_DEPTH);
    }
    const char *end = NULL;
    c->root = cJSON_ParseWithLengthOpts(text, n + 1, &end, true); /* with the NUL: nothing may follow */
    if (!c->root) {
        int line, col;
        size_t at = end && end >= text ? (size_t)(end - text) : 0;
        line_col(text, at, &line, &col);
        free(text);
        return dc_error(DC_ERR_FORMAT, "%s:%d:%d: invalid JSON here", path, line, col);
    }
    free(text);
    if (!cJSON_IsObject(c->root)) {
        dc_config_free(c);
        return dc_error(DC_ERR_FORMAT, "%s: a configuration is a JSON object { ... }", path);
    }
    static const char *const keys[] = {"data", "model", "compile", "fit", "output", "description", NULL};
    dc_status s = dc_config_keys(c, "top level", c->root, keys);
    if (!s && !cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(c->root, "model")))
        s = dc_config_bad(c, "top level", "\"model\" is missing or not an object ({\"input_shape\": [...], \"layers\": [...]})");
    if (s) dc_config_free(c);
    return s;
}

void dc_config_free(dc_config *c) {
    cJSON_Delete(c->root);
    c->root = NULL;
}

dc_model *dc_config_model(const dc_config *c) {
    const cJSON *mj = cJSON_GetObjectItemCaseSensitive(c->root, "model");
    const cJSON *cj = cJSON_GetObjectItemCaseSensitive(c->root, "compile");
    if (cj && cJSON_GetObjectItemCaseSensitive(mj, "compile")) {
        dc_config_bad(c, "model", "\"compile\" is given twice (in \"model\" and at the top level)");
        return NULL;
    }
    cJSON *arch = cJSON_Duplicate(mj, true);
    if (!arch) return dc_error(DC_ERR_NOMEM, "%s: out of memory", c->path), NULL;
    if (cj) cJSON_AddItemToObject(arch, "compile", cJSON_Duplicate(cj, true));
    char *text = cJSON_PrintUnformatted(arch);
    cJSON_Delete(arch);
    if (!text) return dc_error(DC_ERR_NOMEM, "%s: out of memory", c->path), NULL;
    dc_model *m = dc_model_from_json(text, c->path);
    cJSON_free(text);
    return m;
}

/* ---- reading values ---------------------------------------------------------------------- */

static const char *want_str(const dc_config *c, dc_where *w, const cJSON *o, const char *key, bool required) {
    (void)c;
    return dc_json_str(w, o, key, required);
}

/* A path relative to the configuration's own folder, unless absolute or found as written. */
static const char *resolve(const dc_config *c, const char *p, char *buf, size_t size) {
    if (!p || p[0] == '/') return p;
    FILE *f = fopen(p, "rb");
    if (f) {
        fclose(f);
        return p;
    }
    const char *slash = strrchr(c->path, '/');
    if (!slash) return p;
    snprintf(buf, size, "%.*s/%s", (int)(slash - c->path), c->path, p);
    return buf;
}

/* ---- formats ----------------------------------------------------------------------------- */

static dc_tensor *load_npy_file(const dc_config *c, const char *p) {
    char b[1024];
    return dc_npy_load(resolve(c, p, b, sizeof b));
}

static dc_tensor *load_idx_file(const dc_config *c, const char *p) {
    char b[1024];
    return dc_idx_load(resolve(c, p, b, sizeof b), false);
}

/* Nested JSON arrays of numbers as a tensor (shape from the nesting, every row the same). */
static dc_tensor *inline_tensor(const dc_config *c, const cJSON *a, const char *key) {
    int64_t shape[DC_MAX_DIMS];
    int nd = 0;
    for (const cJSON *v = a; cJSON_IsArray(v); v = v->child) {
        if (nd == DC_MAX_DIMS || cJSON_GetArraySize(v) < 1) {
            dc_config_bad(c, "data", "\"%s\" must be nested arrays of numbers, at most %d deep, none empty", key, DC_MAX_DIMS);
            return NULL;
        }
        shape[nd++] = cJSON_GetArraySize(v);
    }
    if (nd == 0) {
        dc_config_bad(c, "data", "\"%s\" must be an array of rows", key);
        return NULL;
    }
    dc_tensor *t = dc_tensor_new(nd, shape);
    if (!t) return NULL;
    float *d = dc_tensor_data(t);
    int64_t total = dc_tensor_numel(t), k = 0;
    /* walk depth-first, checking every array has the shape's length */
    const cJSON *stack[DC_MAX_DIMS];
    int64_t pos[DC_MAX_DIMS];
    stack[0] = a;
    pos[0] = 0;
    int depth = 0;
    const cJSON *cur[DC_MAX_DIMS];
    cur[0] = a->child;
    while (depth >= 0) {
        if (pos[depth] == shape[depth]) {
            if (cur[depth]) goto ragged;
            depth--;
            if (depth >= 0) {
                cur[depth] = cur[depth]->next;
                pos[depth]++;
            }
            continue;
        }
        const cJSON *v = cur[depth];
        if (!v) goto ragged;
        if (depth + 1 < nd) {
            if (!cJSON_IsArray(v) || cJSON_GetArraySize(v) != shape[depth + 1]) goto ragged;
            stack[depth + 1] = v;
            cur[depth + 1] = v->child;
            pos[depth + 1] = 0;
            depth++;
            continue;
        }
        if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble) || fabs(v->valuedouble) > 3.4e38) {
            dc_tensor_free(t);
            dc_config_bad(c, "data", "\"%s\": element %lld is not a finite number", key, (long long)k);
            return NULL;
        }
        if (k < total) d[k++] = (float)v->valuedouble;
        cur[depth] = v->next;
        pos[depth]++;
    }
    (void)stack;
    return t;
ragged:
    dc_tensor_free(t);
    dc_config_bad(c, "data", "\"%s\" is ragged: every row must have the first row's shape", key);
    return NULL;
}

/* rows idx[lo..hi) of t */
static dc_tensor *rows_of(const dc_tensor *t, const int64_t *idx, int64_t n) { return t ? dc_take_rows(t, idx, n) : NULL; }

/* The seeded split every format shares: rows shuffled by seed (unless shuffle is false, for
 * series, which keep time order), the last floor(test * rows) rows held out. */
static dc_status split_rows(const dc_config *c, int64_t rows, double test, uint64_t seed, bool shuffle, int64_t **idx_out,
                            int64_t *ntrain) {
    int64_t ntest = (int64_t)floor(test * (double)rows + 1e-9);
    if (ntest < 1 || rows - ntest < 1)
        return dc_config_bad(c, "data.split", "\"test\" %g of %lld rows leaves %lld training and %lld test rows; both need at least 1",
                             test, (long long)rows, (long long)(rows - ntest), (long long)ntest);
    int64_t *idx = malloc((size_t)rows * sizeof *idx);
    if (!idx) return dc_error(DC_ERR_NOMEM, "%s: out of memory", c->path);
    for (int64_t i = 0; i < rows; i++) idx[i] = i;
    if (shuffle) {
        dc_rng r;
        dc_rng_seed(&r, seed);
        dc_rng_shuffle(&r, idx, rows);
    }
    *idx_out = idx;
    *ntrain = rows - ntest;
    return DC_OK;
}

typedef struct split_opts {
    bool on;
    double test;
    uint64_t seed;
    bool shuffle;
} split_opts;

static dc_status read_split(const dc_config *c, const cJSON *dj, split_opts *sp) {
    memset(sp, 0, sizeof *sp);
    const cJSON *o = cJSON_GetObjectItemCaseSensitive(dj, "split");
    if (!o) return DC_OK;
    if (!cJSON_IsObject(o)) return dc_config_bad(c, "data", "\"split\" must be an object {\"test\": 0.2, \"seed\": 1}");
    static const char *const keys[] = {"test", "seed", "shuffle", NULL};
    dc_status s = dc_config_keys(c, "data.split", o, keys);
    if (s) return s;
    dc_where w = {c->path, "data.split"};
    int64_t seed;
    if (dc_json_num(&w, o, "test", 0, 1, 0, true, &sp->test) || dc_json_int(&w, o, "seed", 0, INT64_C(1) << 53, 42, false, &seed) ||
        dc_json_bool(&w, o, "shuffle", true, &sp->shuffle))
        return DC_ERR_FORMAT;
    sp->seed = (uint64_t)seed;
    sp->on = true;
    return DC_OK;
}

/* Class count when y holds class indices (whole numbers >= 0, one per row), else 0. */
static int64_t class_count(const dc_tensor *y) {
    if (!y || dc_tensor_ndim(y) != 1) return 0;
    const float *d = dc_tensor_data((dc_tensor *)y);
    int64_t most = -1;
    for (int64_t i = 0; i < dc_tensor_numel(y); i++) {
        if (d[i] < 0 || d[i] != floorf(d[i]) || d[i] > 1e6f) return 0;
        if ((int64_t)d[i] > most) most = (int64_t)d[i];
    }
    return most + 1;
}

static dc_status load_csv(const dc_config *c, const cJSON *dj, dc_config_data *d) {
    dc_where w = {c->path, "data"};
    const char *path = want_str(c, &w, dj, "path", true);
    if (!path) return DC_ERR_FORMAT;
    dc_csv_opts o = dc_csv_defaults();
    bool header = false;
    int64_t skip = 0;
    if (dc_json_bool(&w, dj, "header", false, &header) || dc_json_int(&w, dj, "skip_rows", 0, 1000000, header ? 1 : 0, false, &skip))
        return DC_ERR_FORMAT;
    o.skip_rows = (int)skip;
    const cJSON *lab = cJSON_GetObjectItemCaseSensitive(dj, "label");
    if (cJSON_IsString(lab)) {
        if (o.skip_rows < 1) return dc_config_bad(c, "data", "\"label\" by name (\"%.40s\") needs \"header\": true", lab->valuestring);
        o.label_name = lab->valuestring;
    } else if (lab) {
        int64_t col;
        if (dc_json_int(&w, dj, "label", -2, 100000, -1, true, &col)) return DC_ERR_FORMAT;
        o.label_col = (int)col;
    }
    const char *delim = cJSON_GetObjectItemCaseSensitive(dj, "delimiter") ? want_str(c, &w, dj, "delimiter", true) : ",";
    if (!delim) return DC_ERR_FORMAT;
    if (strlen(delim) != 1) return dc_config_bad(c, "data", "\"delimiter\" must be one character, got \"%.10s\"", delim);
    o.delimiter = delim[0];
    char b[1024];
    if (dc_csv_load(resolve(c, path, b, sizeof b), &o, &d->x, o.label_col == -2 ? NULL : &d->y)) return dc_last_status();
    const char *tpath = cJSON_GetObjectItemCaseSensitive(dj, "test_path") ? want_str(c, &w, dj, "test_path", true) : NULL;
    if (cJSON_GetObjectItemCaseSensitive(dj, "test_path") && !tpath) return DC_ERR_FORMAT;
    if (tpath && dc_csv_load(resolve(c, tpath, b, sizeof b), &o, &d->test_x, o.label_col == -2 ? NULL : &d->test_y))
        return dc_last_status();
    snprintf(d->desc, sizeof d->desc, "%s", path);
    return DC_OK;
}

static dc_status load_pair(const dc_config *c, const cJSON *dj, dc_config_data *d, const char *kx, const char *ky, const char *ktx,
                           const char *kty, dc_tensor *(*load)(const dc_config *, const char *)) {
    dc_where w = {c->path, "data"};
    const char *px = want_str(c, &w, dj, kx, true), *py = px ? want_str(c, &w, dj, ky, true) : NULL;
    if (!py) return DC_ERR_FORMAT;
    if (!(d->x = load(c, px)) || !(d->y = load(c, py))) return dc_last_status();
    const cJSON *tx = cJSON_GetObjectItemCaseSensitive(dj, ktx), *ty = cJSON_GetObjectItemCaseSensitive(dj, kty);
    if (!tx != !ty) return dc_config_bad(c, "data", "\"%s\" and \"%s\" come together", ktx, kty);
    if (tx) {
        const char *ptx = want_str(c, &w, dj, ktx, true), *pty = ptx ? want_str(c, &w, dj, kty, true) : NULL;
        if (!pty) return DC_ERR_FORMAT;
        if (!(d->test_x = load(c, ptx)) || !(d->test_y = load(c, pty))) return dc_last_status();
    }
    snprintf(d->desc, sizeof d->desc, "%s, %s", px, py);
    return DC_OK;
}

/* Texts of fortune files, one class per file; the split comes first, so the vocabulary is
 * built from the training texts only. */
static dc_status load_fortunes(const dc_config *c, const cJSON *dj, const split_opts *sp, dc_config_data *d) {
    dc_where w = {c->path, "data"};
    const char *dir = want_str(c, &w, dj, "dir", false);
    if (!dir && cJSON_GetObjectItemCaseSensitive(dj, "dir")) return DC_ERR_FORMAT;
    if (!dir) dir = "/usr/share/games/fortunes";
    const cJSON *cats = cJSON_GetObjectItemCaseSensitive(dj, "categories");
    int K = cJSON_IsArray(cats) ? cJSON_GetArraySize(cats) : 0;
    if (K < 2 || K > 1000) return dc_config_bad(c, "data", "\"categories\" must list 2 to 1000 fortune file names");
    int64_t vocab, maxlen;
    bool chars, pad_front;
    if (dc_json_int(&w, dj, "vocabulary", 3, 1 << 24, 10000, false, &vocab) || dc_json_int(&w, dj, "maxlen", 1, 100000, 60, false, &maxlen) ||
        dc_json_bool(&w, dj, "chars", false, &chars) || dc_json_bool(&w, dj, "pad_front", false, &pad_front))
        return DC_ERR_FORMAT;
    if (!sp->on) return dc_config_bad(c, "data", "format \"fortunes\" needs a \"split\" ({\"test\": 0.2, \"seed\": 2024})");
    char **texts = NULL;
    float *labels = NULL;
    int64_t n = 0;
    dc_status s = DC_OK;
    for (int k = 0; k < K && !s; k++) {
        const cJSON *e = cJSON_GetArrayItem(cats, k);
        if (!cJSON_IsString(e) || !*e->valuestring || strchr(e->valuestring, '/')) {
            s = dc_config_bad(c, "data", "\"categories\" entry %d must be a file name in \"dir\"", k);
            break;
        }
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", dir, e->valuestring);
        char **t;
        int64_t m;
        if ((s = dc_read_fortunes(path, &t, &m))) break;
        char **nt = realloc(texts, (size_t)(n + m) * sizeof *nt);
        float *nl = nt ? realloc(labels, (size_t)(n + m) * sizeof *nl) : NULL;
        if (nt) texts = nt;
        if (nl) labels = nl;
        if (!nt || !nl) {
            dc_texts_free(t, m);
            s = dc_error(DC_ERR_NOMEM, "%s: out of memory", c->path);
            break;
        }
        for (int64_t i = 0; i < m; i++) {
            texts[n + i] = t[i];
            labels[n + i] = (float)k;
        }
        free(t);
        n += m;
    }
    int64_t *idx = NULL, ntrain = 0;
    if (!s) s = split_rows(c, n, sp->test, sp->seed, sp->shuffle, &idx, &ntrain);
    char **tr = NULL, **te = NULL;
    if (!s) {
        tr = malloc((size_t)ntrain * sizeof *tr);
        te = malloc((size_t)(n - ntrain) * sizeof *te);
        d->y = dc_tensor_new(1, (int64_t[]){ntrain});
        d->test_y = dc_tensor_new(1, (int64_t[]){n - ntrain});
        if (!tr || !te || !d->y || !d->test_y) s = dc_error(DC_ERR_NOMEM, "%s: out of memory", c->path);
    }
    for (int64_t i = 0; !s && i < n; i++) {
        if (i < ntrain) {
            tr[i] = texts[idx[i]];
            dc_tensor_data(d->y)[i] = labels[idx[i]];
        } else {
            te[i - ntrain] = texts[idx[i]];
            dc_tensor_data(d->test_y)[i - ntrain] = labels[idx[i]];
        }
    }
    dc_vocab *voc = s ? NULL : dc_vocab_build(tr, ntrain, vocab - 2, chars);
    if (!s && !voc) s = dc_last_status();
    if (!s && (!(d->x = dc_texts_to_sequences(voc, tr, ntrain, maxlen, pad_front, NULL)) ||
               !(d->test_x = dc_texts_to_sequences(voc, te, n - ntrain, maxlen, pad_front, NULL))))
        s = dc_last_status();
    if (!s)
        snprintf(d->desc, sizeof d->desc, "%lld texts of %d categories from %s, vocabulary %lld, sequences of %lld tokens", (long long)n,
                 K, dir, (long long)dc_vocab_size(voc), (long long)maxlen);
    dc_vocab_free(voc);
    free(tr);
    free(te);
    free(idx);
    dc_texts_free(texts, n);
    free(labels);
    return s;
}

/* Sliding windows over one CSV column: optionally as growth in percent, standardised by the
 * values the training windows see; the test windows are the last ones (time order kept). */
static dc_status load_series(const dc_config *c, const cJSON *dj, const split_opts *sp, dc_config_data *d) {
    dc_where w = {c->path, "data"};
    const char *path = want_str(c, &w, dj, "path", true), *col = path ? want_str(c, &w, dj, "column", true) : NULL;
    if (!col) return DC_ERR_FORMAT;
    const char *tr = cJSON_GetObjectItemCaseSensitive(dj, "transform") ? want_str(c, &w, dj, "transform", true) : "none";
    if (!tr) return DC_ERR_FORMAT;
    bool growth = strcmp(tr, "growth_percent") == 0;
    if (!growth && strcmp(tr, "none") != 0)
        return dc_config_bad(c, "data", "\"transform\" must be one of \"none\", \"growth_percent\", got \"%.40s\"", tr);
    int64_t window, horizon;
    bool standardize;
    if (dc_json_int(&w, dj, "window", 1, 1 << 20, 0, true, &window) || dc_json_int(&w, dj, "horizon", 1, 1 << 20, 1, false, &horizon) ||
        dc_json_bool(&w, dj, "standardize", false, &standardize))
        return DC_ERR_FORMAT;
    if (sp->on && sp->shuffle && cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(dj, "split"), "shuffle"))
        return dc_config_bad(c, "data.split", "a series keeps time order: \"shuffle\" must be false or left out");
    char b[1024];
    dc_tensor *v = dc_csv_column(resolve(c, path, b, sizeof b), col);
    if (!v) return dc_last_status();
    int64_t n = dc_tensor_numel(v) - (growth ? 1 : 0);
    float *g = malloc((size_t)(n > 0 ? n : 1) * sizeof *g);
    const float *src = dc_tensor_data(v);
    dc_status s = g ? DC_OK : dc_error(DC_ERR_NOMEM, "%s: out of memory", c->path);
    for (int64_t i = 0; !s && i < n; i++) {
        if (growth && src[i] == 0) s = dc_config_bad(c, "data", "column \"%s\" is 0 at row %lld: no growth from 0", col, (long long)i);
        else g[i] = growth ? 100.0f * (src[i + 1] / src[i] - 1.0f) : src[i];
    }
    dc_tensor_free(v);
    int64_t rows = n - window - horizon + 1;
    if (!s && rows < 2)
        s = dc_config_bad(c, "data", "%lld values make %lld windows of %lld + horizon %lld; need at least 2", (long long)n,
                          (long long)(rows > 0 ? rows : 0), (long long)window, (long long)horizon);
    int64_t ntest = sp->on ? (int64_t)floor(sp->test * (double)rows + 1e-9) : 0, ntrain = rows - ntest;
    if (!s && sp->on && (ntest < 1 || ntrain < 1))
        s = dc_config_bad(c, "data.split", "\"test\" %g of %lld windows leaves %lld training and %lld test windows", sp->test,
                          (long long)rows, (long long)ntrain, (long long)ntest);
    if (!s && standardize) { /* the values the training windows (and their targets) see */
        int64_t seen = ntrain + window + horizon - 1;
        double mean = 0, var = 0;
        for (int64_t i = 0; i < seen; i++) mean += g[i];
        mean /= (double)seen;
        for (int64_t i = 0; i < seen; i++) var += (g[i] - mean) * (g[i] - mean);
        double sd = sqrt(var / (double)seen);
        if (sd == 0) sd = 1;
        for (int64_t i = 0; i < n; i++) g[i] = (float)((g[i] - mean) / sd);
    }
    dc_tensor *x = NULL, *y = NULL;
    if (!s) s = dc_make_windows(g, n, window, horizon, &x, &y);
    free(g);
    int64_t *idx = s ? NULL : malloc((size_t)rows * sizeof *idx);
    if (!s && !idx) s = dc_error(DC_ERR_NOMEM, "%s: out of memory", c->path);
    for (int64_t i = 0; !s && i < rows; i++) idx[i] = i;
    if (!s) {
        d->x = rows_of(x, idx, ntrain);
        d->y = rows_of(y, idx, ntrain);
        if (ntest) {
            d->test_x = rows_of(x, idx + ntrain, ntest);
            d->test_y = rows_of(y, idx + ntrain, ntest);
        }
        if (!d->x || !d->y || (ntest && (!d->test_x || !d->test_y))) s = dc_last_status() ? dc_last_status() : DC_ERR_NOMEM;
        snprintf(d->desc, sizeof d->desc, "%lld windows of %lld values of \"%s\" from %s (%lld for test, the last)", (long long)rows,
                 (long long)window, col, path, (long long)ntest);
    }
    free(idx);
    dc_tensor_free(x);
    dc_tensor_free(y);
    return s;
}

/* A folder of pictures, one class per sub-folder (Keras's image_dataset_from_directory): the
 * split is the loader's own, its validation subset becoming the test rows. */
static dc_status load_images(const dc_config *c, const cJSON *dj, const split_opts *sp, dc_config_data *d) {
    dc_where w = {c->path, "data"};
    const char *dir = want_str(c, &w, dj, "dir", true);
    if (!dir) return DC_ERR_FORMAT;
    dc_image_folder_opts o = dc_image_folder_defaults();
    int64_t size[2] = {o.image.height, o.image.width}, channels, per_class;
    double background;
    const cJSON *sz = cJSON_GetObjectItemCaseSensitive(dj, "size");
    if (sz && dc_json_ints(&w, dj, "size", 2, 1, 65535, size) < 0) return DC_ERR_FORMAT;
    if (dc_json_int(&w, dj, "channels", 0, 3, o.image.channels, false, &channels) ||
        dc_json_int(&w, dj, "max_per_class", 0, INT64_C(1) << 40, 0, false, &per_class) ||
        dc_json_num(&w, dj, "background", -1, 1, -1, false, &background) || dc_json_bool(&w, dj, "skip_bad", false, &o.skip_bad))
        return DC_ERR_FORMAT;
    if (channels == 2) return dc_config_bad(c, "data", "\"channels\" must be 1 (grey), 3 (RGB) or 0 (as the files hold)");
    const char *resize = cJSON_GetObjectItemCaseSensitive(dj, "resize") ? want_str(c, &w, dj, "resize", true) : "bilinear";
    if (!resize) return DC_ERR_FORMAT;
    if (strcmp(resize, "bilinear") != 0 && strcmp(resize, "nearest") != 0)
        return dc_config_bad(c, "data", "\"resize\" must be \"bilinear\" or \"nearest\", got \"%.40s\"", resize);
    o.image.height = size[0];
    o.image.width = size[1];
    o.image.channels = (int)channels;
    o.image.background = (float)background;
    o.image.resize = strcmp(resize, "nearest") == 0 ? DC_RESIZE_NEAREST : DC_RESIZE_BILINEAR;
    o.max_per_class = per_class;
    o.shuffle = true;
    o.seed = sp->on ? sp->seed : 0;
    o.validation_split = sp->on ? sp->test : 0;
    char b[1024];
    const char *root = resolve(c, dir, b, sizeof b);
    dc_image_dataset tr, te;
    memset(&te, 0, sizeof te);
    o.subset = sp->on ? DC_SUBSET_TRAINING : DC_SUBSET_ALL;
    dc_status s = dc_image_folder_load(root, &o, &tr);
    if (s) return s;
    if (sp->on) {
        o.subset = DC_SUBSET_VALIDATION;
        if ((s = dc_image_folder_load(root, &o, &te))) {
            dc_image_dataset_free(&tr);
            return s;
        }
    }
    d->x = tr.x;
    d->y = tr.y;
    d->test_x = te.x;
    d->test_y = te.y;
    tr.x = tr.y = te.x = te.y = NULL;
    int n = snprintf(d->desc, sizeof d->desc, "%lld classes of pictures under %s (", (long long)tr.nclasses, dir);
    for (int64_t k = 0; k < tr.nclasses && n > 0 && (size_t)n < sizeof d->desc - 8; k++)
        n += snprintf(d->desc + n, sizeof d->desc - (size_t)n, "%s%s", k ? ", " : "", tr.class_names[k]);
    if (n > 0 && (size_t)n < sizeof d->desc) snprintf(d->desc + n, sizeof d->desc - (size_t)n, ")");
    if (tr.skipped + te.skipped && !dc_cli_quiet)
        fprintf(stderr, "deepc: train: skipped %lld unreadable image files; the first: %s\n", (long long)(tr.skipped + te.skipped),
                tr.first_error[0] ? tr.first_error : te.first_error);
    dc_image_dataset_free(&tr);
    dc_image_dataset_free(&te);
    return DC_OK;
}

/* ---- preprocessing ----------------------------------------------------------------------- */

static dc_status apply_scale(const dc_config *c, const cJSON *dj, dc_config_data *d) {
    const cJSON *sc = cJSON_GetObjectItemCaseSensitive(dj, "scale");
    if (!sc) return DC_OK;
    if (cJSON_IsNumber(sc)) {
        if (!isfinite(sc->valuedouble) || sc->valuedouble <= 0)
            return dc_config_bad(c, "data", "\"scale\" as a number divides the inputs: it must be > 0, got %g", sc->valuedouble);
        /* a division, as dc_idx_load's scaling, so the values equal those of a program using it */
        float k = (float)sc->valuedouble;
        dc_tensor *ts[2] = {d->x, d->test_x};
        for (int t = 0; t < 2; t++)
            for (int64_t i = 0; ts[t] && i < dc_tensor_numel(ts[t]); i++) dc_tensor_data(ts[t])[i] /= k;
        return DC_OK;
    }
    bool std = cJSON_IsString(sc) && strcmp(sc->valuestring, "standard") == 0;
    bool mm = cJSON_IsString(sc) && strcmp(sc->valuestring, "minmax") == 0;
    if (!std && !mm) return dc_config_bad(c, "data", "\"scale\" must be \"standard\", \"minmax\" or a number to divide by");
    if (dc_tensor_ndim(d->x) != 2)
        return dc_config_bad(c, "data", "\"scale\": \"%s\" scales the columns of 2-D data; these inputs have %d dimensions (use a number)",
                             sc->valuestring, dc_tensor_ndim(d->x));
    dc_scaler *s = std ? dc_standard_scaler_fit(d->x) : dc_minmax_scaler_fit(d->x);
    dc_status st = s ? dc_scaler_apply(s, d->x) : dc_last_status();
    if (!st && d->test_x) st = dc_scaler_apply(s, d->test_x);
    dc_scaler_free(s);
    return st;
}

dc_status dc_config_fit_input(dc_model *m, int input, dc_tensor *x) {
    if (!x || !m) return DC_OK;
    int64_t shape[DC_MAX_DIMS + 1];
    int nd = dc_model_input_shape(m, input, shape + 1);
    if (nd < 0) return dc_last_status();
    int64_t per = 1, have = 1;
    for (int i = 0; i < nd; i++) per *= shape[i + 1];
    for (int i = 1; i < dc_tensor_ndim(x); i++) have *= dc_tensor_dim(x, i);
    if (per == have && dc_tensor_ndim(x) != nd + 1) {
        shape[0] = dc_tensor_dim(x, 0);
        return dc_tensor_set_shape(x, nd + 1, shape);
    }
    return DC_OK;
}

dc_status dc_config_data_load(const dc_config *c, dc_model *m, dc_config_data *d) {
    memset(d, 0, sizeof *d);
    const cJSON *dj = cJSON_GetObjectItemCaseSensitive(c->root, "data");
    if (!cJSON_IsObject(dj)) return dc_config_bad(c, "top level", "\"data\" is missing or not an object");
    dc_where w = {c->path, "data"};
    const char *fmt = want_str(c, &w, dj, "format", true);
    if (!fmt) return DC_ERR_FORMAT;
    static const char *const common[] = {"format", "split", "scale", "one_hot", "limit", NULL};
    static const char *const kcsv[] = {"path", "test_path", "header", "skip_rows", "label", "delimiter", NULL};
    static const char *const knpy[] = {"x", "y", "test_x", "test_y", NULL};
    static const char *const kidx[] = {"images", "labels", "test_images", "test_labels", NULL};
    static const char *const kfort[] = {"dir", "categories", "vocabulary", "maxlen", "chars", "pad_front", NULL};
    static const char *const kser[] = {"path", "column", "transform", "window", "horizon", "standardize", NULL};
    static const char *const kinl[] = {"x", "y", "test_x", "test_y", NULL};
    static const char *const kimg[] = {"dir", "size", "channels", "resize", "background", "max_per_class", "skip_bad", NULL};
    static const struct {
        const char *name;
        const char *const *keys;
    } formats[] = {{"csv", kcsv}, {"npy", knpy}, {"idx", kidx}, {"fortunes", kfort}, {"series", kser}, {"inline", kinl}, {"images", kimg}};
    int f = 0, nf = (int)(sizeof formats / sizeof *formats);
    while (f < nf && strcmp(formats[f].name, fmt) != 0) f++;
    if (f == nf)
        return dc_config_bad(c, "data", "\"format\" must be one of \"csv\", \"npy\", \"idx\", \"fortunes\", \"series\", \"inline\", \"images\"; got \"%.40s\"",
                             fmt);
    const char *keys[32];
    int nk = 0;
    for (int i = 0; common[i]; i++) keys[nk++] = common[i];
    for (int i = 0; formats[f].keys[i]; i++) keys[nk++] = formats[f].keys[i];
    keys[nk] = NULL;
    dc_status s = dc_config_keys(c, "data", dj, keys);
    split_opts sp;
    if (!s) s = read_split(c, dj, &sp);
    if (!s) {
        switch (f) {
        case 0: s = load_csv(c, dj, d); break;
        case 1: s = load_pair(c, dj, d, "x", "y", "test_x", "test_y", load_npy_file); break;
        case 2: s = load_pair(c, dj, d, "images", "labels", "test_images", "test_labels", load_idx_file); break;
        case 3: s = load_fortunes(c, dj, &sp, d); break;
        case 4: s = load_series(c, dj, &sp, d); break;
        case 6: s = load_images(c, dj, &sp, d); break;
        default: {
            const cJSON *tx = cJSON_GetObjectItemCaseSensitive(dj, "test_x"), *ty = cJSON_GetObjectItemCaseSensitive(dj, "test_y");
            if (!(d->x = inline_tensor(c, cJSON_GetObjectItemCaseSensitive(dj, "x"), "x")) ||
                !(d->y = inline_tensor(c, cJSON_GetObjectItemCaseSensitive(dj, "y"), "y")))
                s = dc_last_status();
            else if (!tx != !ty) s = dc_config_bad(c, "data", "\"test_x\" and \"test_y\" come together");
            else if (tx && (!(d->test_x = inline_tensor(c, tx, "test_x")) || !(d->test_y = inline_tensor(c, ty, "test_y"))))
                s = dc_last_status();
            snprintf(d->desc, sizeof d->desc, "inline data");
        }
        }
    }
    if (!s && d->y && dc_tensor_dim(d->y, 0) != dc_tensor_dim(d->x, 0))
        s = dc_config_bad(c, "data", "%lld input rows but %lld labels", (long long)dc_tensor_dim(d->x, 0), (long long)dc_tensor_dim(d->y, 0));
    if (!s && !d->y) s = dc_config_bad(c, "data", "no labels: training needs targets (\"label\" column, \"y\" or \"labels\")");
    /* a split of data loaded whole (fortunes and series split as they load) */
    if (!s && sp.on && (f <= 2 || f == 5)) {
        if (d->test_x) {
            s = dc_config_bad(c, "data", "\"split\" and separate test files both given; choose one");
        } else {
            int64_t *idx = NULL, ntrain = 0, rows = dc_tensor_dim(d->x, 0);
            if (!(s = split_rows(c, rows, sp.test, sp.seed, sp.shuffle, &idx, &ntrain))) {
                dc_tensor *x = d->x, *y = d->y;
                d->x = rows_of(x, idx, ntrain);
                d->y = rows_of(y, idx, ntrain);
                d->test_x = rows_of(x, idx + ntrain, rows - ntrain);
                d->test_y = rows_of(y, idx + ntrain, rows - ntrain);
                dc_tensor_free(x);
                dc_tensor_free(y);
                if (!d->x || !d->y || !d->test_x || !d->test_y) s = dc_last_status() ? dc_last_status() : DC_ERR_NOMEM;
            }
            free(idx);
        }
    }
    int64_t limit = 0;
    if (!s && dc_json_int(&w, dj, "limit", 1, INT64_C(1) << 40, 0, false, &limit)) s = DC_ERR_FORMAT;
    if (!s && limit > 0 && limit < dc_tensor_dim(d->x, 0)) { /* the first `limit` training rows: a quick run */
        int64_t *idx = malloc((size_t)limit * sizeof *idx);
        for (int64_t i = 0; idx && i < limit; i++) idx[i] = i;
        dc_tensor *x = idx ? rows_of(d->x, idx, limit) : NULL, *y = x ? rows_of(d->y, idx, limit) : NULL;
        free(idx);
        if (!y) {
            dc_tensor_free(x);
            s = dc_last_status() ? dc_last_status() : DC_ERR_NOMEM;
        } else {
            dc_tensor_free(d->x);
            dc_tensor_free(d->y);
            d->x = x;
            d->y = y;
        }
    }
    if (!s) s = apply_scale(c, dj, d);
    if (!s) d->nclasses = class_count(d->y);
    d->baseline = -1;
    if (!s && d->nclasses >= 2 && d->test_y && class_count(d->test_y) > 0) {
        int64_t *cnt = calloc((size_t)d->nclasses, sizeof *cnt), major = 0, hit = 0;
        for (int64_t i = 0; cnt && i < dc_tensor_numel(d->y); i++) cnt[(int64_t)dc_tensor_data(d->y)[i]]++;
        for (int64_t k = 1; cnt && k < d->nclasses; k++)
            if (cnt[k] > cnt[major]) major = k;
        for (int64_t i = 0; cnt && i < dc_tensor_numel(d->test_y); i++) hit += dc_tensor_data(d->test_y)[i] == (float)major;
        if (cnt) d->baseline = (double)hit / (double)dc_tensor_numel(d->test_y);
        free(cnt);
    }
    bool one_hot = false;
    if (!s && dc_json_bool(&w, dj, "one_hot", false, &one_hot)) s = DC_ERR_FORMAT;
    if (!s && one_hot) {
        if (d->nclasses < 2) s = dc_config_bad(c, "data", "\"one_hot\" needs labels that are class indices 0..K-1, one per row");
        int64_t k = d->nclasses;
        if (!s && d->test_y && class_count(d->test_y) > k) k = class_count(d->test_y);
        dc_tensor *y = s ? NULL : dc_one_hot(d->y, k), *ty = !s && d->test_y ? dc_one_hot(d->test_y, k) : NULL;
        if (!s && (!y || (d->test_y && !ty))) s = dc_last_status();
        if (!s) {
            dc_tensor_free(d->y);
            dc_tensor_free(d->test_y);
            d->y = y;
            d->test_y = ty;
        } else {
            dc_tensor_free(y);
            dc_tensor_free(ty);
        }
    }
    if (!s) s = dc_config_fit_input(m, 0, d->x);
    if (!s) s = dc_config_fit_input(m, 0, d->test_x);
    if (s) dc_config_data_free(d);
    return s;
}

void dc_config_data_free(dc_config_data *d) {
    dc_tensor_free(d->x);
    dc_tensor_free(d->y);
    dc_tensor_free(d->test_x);
    dc_tensor_free(d->test_y);
    memset(d, 0, sizeof *d);
}
