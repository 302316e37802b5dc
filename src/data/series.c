/* Time series: sliding windows for sequence models, and one CSV column as a series.
 *
 * Windows: row i of x holds series[i .. i + window) and y[i] the value `horizon` steps
 * after the window's last one, series[i + window + horizon - 1], so horizon 1 is the next
 * value. Every window is kept (stride 1), oldest first.
 *
 * dc_csv_column locates the column in the header line itself (the same cell rules as
 * dc_csv_load: blanks trimmed, quoted cells with "" for a quote) and then lets dc_csv_load
 * parse that column alone, so other columns such as dates may hold text.
 */
#include "deepc/data.h"

#include "../tensor/tensor.h"

#include <errno.h>
#include <math.h>
#include <string.h>
#include <zlib.h>

/* Longest header line read by dc_csv_column (dc_csv_load's own line limit). */
#define SERIES_MAX_HEADER ((size_t)16 << 20)

/* Checks shared by the window functions; *rows receives the number of windows. */
static dc_status window_check(const char *who, int64_t n, int64_t window, int64_t horizon, int64_t *rows) {
    if (window <= 0) return dc_error(DC_ERR_ARG, "%s: window must be positive, got %lld", who, (long long)window);
    if (horizon <= 0) return dc_error(DC_ERR_ARG, "%s: horizon must be positive, got %lld", who, (long long)horizon);
    if (n < 0) return dc_error(DC_ERR_ARG, "%s: series length is negative (%lld)", who, (long long)n);
    if (window > INT64_MAX - horizon || n < window + horizon)
        return dc_error(DC_ERR_SHAPE, "%s: series of %lld values is shorter than window %lld + horizon %lld", who,
                        (long long)n, (long long)window, (long long)horizon);
    *rows = n - window - horizon + 1;
    return DC_OK;
}

/* Allocates x [rows, window, features] and y [rows, 1]. */
static dc_status window_outputs(int64_t rows, int64_t window, int64_t features, dc_tensor **x, dc_tensor **y) {
    int64_t xs[3] = {rows, window, features}, ys[2] = {rows, 1};
    *x = dc_tensor_alloc(3, xs);
    *y = *x ? dc_tensor_alloc(2, ys) : NULL;
    if (*y) return DC_OK;
    dc_tensor_free(*x);
    *x = NULL;
    return DC_ERR_NOMEM;
}

dc_status dc_make_windows(const float *series, int64_t n, int64_t window, int64_t horizon, dc_tensor **x_out,
                          dc_tensor **y_out) {
    static const char who[] = "dc_make_windows";
    if (x_out) *x_out = NULL;
    if (y_out) *y_out = NULL;
    if (!series || !x_out || !y_out) return dc_error(DC_ERR_ARG, "%s: series, x_out and y_out must not be NULL", who);
    int64_t rows = 0;
    dc_status s = window_check(who, n, window, horizon, &rows);
    if (s) return s;
    for (int64_t i = 0; i < n; i++)
        if (!isfinite(series[i]))
            return dc_error(DC_ERR_NUMERIC, "%s: series[%lld] is %g", who, (long long)i, (double)series[i]);
    dc_tensor *x, *y;
    if ((s = window_outputs(rows, window, 1, &x, &y)) != DC_OK) return s;
    for (int64_t i = 0; i < rows; i++) {
        memcpy(x->data + i * window, series + i, (size_t)window * sizeof(float));
        y->data[i] = series[i + window + horizon - 1];
    }
    *x_out = x;
    *y_out = y;
    return DC_OK;
}

dc_status dc_make_windows_multi(const dc_tensor *series, int64_t window, int64_t horizon, int target,
                                dc_tensor **x_out, dc_tensor **y_out) {
    static const char who[] = "dc_make_windows_multi";
    if (x_out) *x_out = NULL;
    if (y_out) *y_out = NULL;
    if (!series || !x_out || !y_out) return dc_error(DC_ERR_ARG, "%s: series, x_out and y_out must not be NULL", who);
    if (series->ndim != 2)
        return dc_error(DC_ERR_SHAPE, "%s: series must be [steps, features], got %s", who, dc_tshape(series, 0));
    int64_t n = series->shape[0], nf = series->shape[1], rows = 0;
    int64_t col = target < 0 ? nf + target : target;
    if (nf < 1 || col < 0 || col >= nf)
        return dc_error(DC_ERR_ARG, "%s: target %d is out of range for %lld features", who, target, (long long)nf);
    dc_status s = window_check(who, n, window, horizon, &rows);
    if (s || (s = dc_check_finite(series, who)) != DC_OK) return s;
    dc_tensor *flat = dc_tensor_clone(series), *x, *y;
    if (!flat) return DC_ERR_NOMEM;
    if ((s = window_outputs(rows, window, nf, &x, &y)) == DC_OK) {
        for (int64_t i = 0; i < rows; i++) {
            memcpy(x->data + i * window * nf, flat->data + i * nf, (size_t)(window * nf) * sizeof(float));
            y->data[i] = flat->data[(i + window + horizon - 1) * nf + col];
        }
        *x_out = x;
        *y_out = y;
    }
    dc_tensor_free(flat);
    return s;
}

/* zlib's message without the "path: " it starts with (ours names the file already). */
static const char *gz_message(const char *msg, const char *path) {
    size_t n = strlen(path);
    if (!msg) return "unknown zlib error";
    return !strncmp(msg, path, n) && !strncmp(msg + n, ": ", 2) ? msg + n + 2 : msg;
}

/* Reads the first line of path (plain or gzip) without its line end, NUL-terminated. */
static dc_status read_header(const char *path, char **out) {
    errno = 0;
    gzFile gz = gzopen(path, "rb");
    if (!gz) return dc_error(DC_ERR_IO, "%s: cannot open: %s", path, errno ? strerror(errno) : "out of memory");
    size_t cap = 4096, n = 0;
    char *line = dc_alloc(cap);
    dc_status s = line ? DC_OK : DC_ERR_NOMEM;
    while (!s) {
        line[n] = 0;
        if (!gzgets(gz, line + n, (int)(cap - n))) break; /* end of file (or an error, seen below) */
        n += strlen(line + n);
        if ((n && line[n - 1] == '\n') || n + 1 < cap) break; /* line end, end of file or a NUL byte */
        char *bigger = cap < SERIES_MAX_HEADER ? dc_realloc(line, 2 * cap) : NULL;
        if (bigger) line = bigger, cap *= 2;
        else if (cap < SERIES_MAX_HEADER) s = DC_ERR_NOMEM;
        else s = dc_error(DC_ERR_FORMAT, "%s:1: header line is longer than %zu bytes", path, SERIES_MAX_HEADER);
    }
    int err = Z_OK;
    const char *msg = gzerror(gz, &err);
    if (!s && err != Z_OK && err != Z_BUF_ERROR)
        s = dc_error(err == Z_ERRNO ? DC_ERR_IO : DC_ERR_FORMAT, "%s: cannot read the header: %s", path,
                     err == Z_ERRNO ? strerror(errno) : gz_message(msg, path));
    gzclose(gz);
    if (s) {
        dc_free(line);
        return s;
    }
    while (n && (line[n - 1] == '\n' || line[n - 1] == '\r')) line[--n] = 0;
    *out = line;
    return DC_OK;
}

static bool is_blank(char ch) { return ch == ' ' || ch == '\t'; }

/* Does the cell starting at *p (ending at ',' or the line's end) equal name? Moves *p past
 * the cell. Blanks around the cell are trimmed; a quoted cell is compared between its
 * quotes, as dc_csv_load does. */
static bool next_cell_is(const char **p, const char *name) {
    const char *b = *p, *e;
    while (is_blank(*b)) b++;
    if (*b == '"') {
        e = ++b;
        while (*e && !(*e == '"' && e[1] != '"')) e += *e == '"' ? 2 : 1;
        *p = e;
    } else {
        e = b + strcspn(b, ",");
        *p = e;
        while (e > b && is_blank(e[-1])) e--;
    }
    *p += strcspn(*p, ",");
    if (**p) (*p)++;
    else *p = NULL;
    return (size_t)(e - b) == strlen(name) && !memcmp(b, name, (size_t)(e - b));
}

/* Column of name in the header line, or -1. */
static int header_find(const char *header, const char *name) {
    if (!strncmp(header, "\xef\xbb\xbf", 3)) header += 3; /* a UTF-8 byte order mark */
    const char *p = header;
    for (int col = 0; p && col < INT32_MAX; col++)
        if (next_cell_is(&p, name)) return col;
    return -1;
}

/* The start of the header for a message: at most 60 bytes, control characters as '?'. */
static const char *header_excerpt(const char *header, char *buf, size_t size) {
    size_t k = 0;
    for (; k < 60 && k + 4 < size && header[k]; k++) buf[k] = (unsigned char)header[k] < 32 ? '?' : header[k];
    if (k + 4 < size && header[k]) memcpy(buf + k, "...", 3), k += 3;
    buf[k] = 0;
    return buf;
}

dc_tensor *dc_csv_column(const char *path, const char *name) {
    if (!path || !name || !name[0])
        return dc_error_null(DC_ERR_ARG, "dc_csv_column: path and name must not be NULL or empty");
    char *header = NULL, shown[80];
    if (read_header(path, &header)) return NULL;
    int col = header_find(header, name);
    if (col < 0) {
        dc_error(DC_ERR_ARG, "%s:1: column \"%s\" is not in the header (%s)", path, name,
                 header_excerpt(header, shown, sizeof shown));
        dc_free(header);
        return NULL;
    }
    dc_free(header);
    dc_csv_opts o = dc_csv_defaults();
    o.skip_rows = 1;
    o.label_name = name; /* dc_csv_load checks the header again and parses the column as y */
    o.feature_cols = &col;
    o.nfeature_cols = 1;
    dc_tensor *x = NULL, *y = NULL;
    dc_csv_load(path, &o, &x, &y);
    dc_tensor_free(x);
    return y;
}
