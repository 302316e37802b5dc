/* CSV reader for numeric tables, plain or gzip (zlib's gz* functions read both).
 *
 * Messages name the file as given, the 1-based line and the 1-based column, like a
 * compiler: `data.csv:12: column 3: "abc" is not a number`. Option values such as
 * label_col stay 0-based and are quoted back as given.
 *
 * Choices:
 *  - Only the columns that are used (features, and the label when it is asked for) are
 *    parsed, so a text column can be skipped with feature_cols; every row must still
 *    have the same number of columns.
 *  - Lines holding only spaces and tabs are skipped anywhere in the data.
 *  - A cell may be quoted ("1.5", with "" for a quote inside); a quoted cell cannot span
 *    lines.
 *  - NaN, Inf and values beyond float32's range are DC_ERR_NUMERIC; text that is not a
 *    number is DC_ERR_FORMAT.
 *  - With label_name, the header is the last skipped line (the one just before the data).
 *  - A UTF-8 byte order mark at the start of the file is ignored.
 *  - Numbers are decimal: digits, an optional sign, point and exponent ("-1.5e3"). Hexadecimal
 *    ("0x10", "0x1p3") and white space inside a cell other than the blanks and tabs trimmed
 *    around it are not numbers, though strtod would read them.
 *  - Numbers are parsed by strtod, so the decimal point is the C locale's unless the
 *    program changed LC_NUMERIC.
 *  - A gzip stream must end with its trailer (its CRC-32 and length checked): a file cut
 *    short is refused (gz.h).
 */
#include "deepc/data.h"

#include "../tensor/tensor.h"
#include "gz.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

/* A longer line is refused: it is almost certainly not a CSV file, and the cap keeps a
 * binary file without newlines from growing the line buffer without bound. */
#define CSV_MAX_LINE ((size_t)16 << 20)
#define CSV_CHUNK ((size_t)64 << 10)
#define CSV_MIN_CHUNK ((size_t)4 << 10)
/* Longest cell text tried as a number; longer cells are reported as not numbers. */
#define CSV_MAX_NUMBER 127

typedef struct csv_span {
    const char *p;
    size_t n;
} csv_span;

typedef struct csv_reader {
    gzFile gz;
    const char *path;
    unsigned char *chunk; /* CSV_CHUNK bytes, or fewer for a smaller file */
    size_t chunk_cap;
    size_t pos, len; /* unread bytes are chunk[pos..len) */
    bool eof;
    char *line; /* the current line without its end, NUL-terminated */
    size_t n, cap;
    int64_t lineno;
} csv_reader;

/* A line split into cells, with where it came from for messages. */
typedef struct csv_cells {
    csv_span *v;
    size_t n, cap;
    const char *path;
    int64_t lineno;
} csv_cells;

/* A growing float buffer. */
typedef struct csv_floats {
    float *v;
    size_t n, cap;
} csv_floats;

dc_csv_opts dc_csv_defaults(void) {
    dc_csv_opts o = {0};
    o.delimiter = ',';
    o.skip_rows = 0;
    o.label_col = -1;
    o.feature_cols = NULL;
    o.nfeature_cols = 0;
    o.label_name = NULL;
    return o;
}

/* Writes at most 40 characters of a cell for a message, escaping what is not printable
 * so binary junk cannot garble the message. */
static const char *quote_cell(csv_span c, char *buf, size_t size) {
    size_t k = 0, shown = c.n < 40 ? c.n : 40;
    for (size_t i = 0; i < shown && k + 8 < size; i++) {
        unsigned char ch = (unsigned char)c.p[i];
        if (ch == '"' || ch == '\\') k += (size_t)snprintf(buf + k, size - k, "\\%c", ch);
        else if (ch < 32 || ch > 126) k += (size_t)snprintf(buf + k, size - k, "\\x%02x", ch);
        else buf[k++] = (char)ch;
    }
    if (shown < c.n && k + 4 < size) k += (size_t)snprintf(buf + k, size - k, "...");
    buf[k < size ? k : size - 1] = 0;
    return buf;
}

static dc_status fill_chunk(csv_reader *r) {
    size_t got = 0;
    dc_status s = dc_gz_read(r->gz, r->path, r->chunk, r->chunk_cap, &got);
    if (s) return s;
    /* at the end, a gzip stream cut short (its trailer with the CRC-32 missing) is refused */
    if (got == 0) {
        if ((s = dc_gz_end(r->gz, r->path)) != DC_OK) return s;
        r->eof = true;
    }
    r->pos = 0;
    r->len = got;
    return DC_OK;
}

static dc_status line_append(csv_reader *r, const unsigned char *p, size_t n) {
    if (n > CSV_MAX_LINE - r->n)
        return dc_error(DC_ERR_FORMAT, "%s:%lld: line is longer than %zu bytes (not a CSV file?)", r->path,
                        (long long)r->lineno, CSV_MAX_LINE);
    if (r->n + n + 1 > r->cap) {
        size_t cap = r->cap ? r->cap : 256;
        while (cap < r->n + n + 1) cap *= 2; /* bounded by 2 * CSV_MAX_LINE, no overflow */
        char *line = dc_realloc(r->line, cap);
        if (!line) return DC_ERR_NOMEM;
        r->line = line;
        r->cap = cap;
    }
    memcpy(r->line + r->n, p, n);
    r->n += n;
    r->line[r->n] = 0;
    return DC_OK;
}

/* Reads the next line into r->line without "\n" or "\r\n"; *got is false at end of file. */
static dc_status read_line(csv_reader *r, bool *got) {
    r->n = 0;
    r->lineno++;
    *got = false;
    dc_status s = line_append(r, (const unsigned char *)"", 0);
    while (!s) {
        if (r->pos == r->len) {
            if (!r->eof && (s = fill_chunk(r)) != DC_OK) return s;
            if (r->eof) break;
        }
        *got = true;
        const unsigned char *start = r->chunk + r->pos;
        const unsigned char *nl = memchr(start, '\n', r->len - r->pos);
        size_t take = nl ? (size_t)(nl - start) : r->len - r->pos;
        s = line_append(r, start, take);
        r->pos += take + (nl ? 1 : 0);
        if (nl) break;
    }
    if (s) return s;
    if (r->n && r->line[r->n - 1] == '\r') r->line[--r->n] = 0;
    /* a UTF-8 byte order mark, as spreadsheets write it, is not part of the first cell */
    if (r->lineno == 1 && r->n >= 3 && !memcmp(r->line, "\xef\xbb\xbf", 3)) {
        memmove(r->line, r->line + 3, r->n - 2);
        r->n -= 3;
    }
    if (memchr(r->line, 0, r->n))
        return dc_error(DC_ERR_FORMAT, "%s:%lld: line contains a NUL byte (binary file?)", r->path,
                        (long long)r->lineno);
    return DC_OK;
}

static bool is_blank(char ch) { return ch == ' ' || ch == '\t'; }

static bool line_is_blank(const csv_reader *r) {
    for (size_t i = 0; i < r->n; i++)
        if (!is_blank(r->line[i])) return false;
    return true;
}

static dc_status push_cell(csv_cells *c, const char *p, size_t n) {
    if (c->n == c->cap) {
        /* a line has at most CSV_MAX_LINE + 1 cells, so this cannot overflow */
        size_t cap = c->cap ? 2 * c->cap : 64;
        csv_span *v = dc_realloc(c->v, cap * sizeof *v);
        if (!v) return DC_ERR_NOMEM;
        c->v = v;
        c->cap = cap;
    }
    c->v[c->n++] = (csv_span){p, n};
    return DC_OK;
}

/* Finds the closing quote of a quoted cell whose opening quote is at p. */
static dc_status scan_quoted(const csv_cells *c, const char *p, const char *stop, const char **end) {
    for (const char *q = p + 1; q < stop; q++) {
        if (*q != '"') continue;
        if (q + 1 < stop && q[1] == '"') {
            q++;
            continue;
        }
        *end = q;
        return DC_OK;
    }
    return dc_error(DC_ERR_FORMAT, "%s:%lld: column %zu: unterminated quote", c->path, (long long)c->lineno, c->n + 1);
}

/* Splits line[0..n) into trimmed, unquoted cell spans (pointing into line). */
static dc_status split_line(const char *line, size_t n, char delim, csv_cells *c) {
    const char *p = line, *stop = line + n;
    c->n = 0;
    for (;;) {
        while (p < stop && *p != delim && is_blank(*p)) p++;
        const char *b = p, *e = p;
        dc_status s;
        if (p < stop && *p == '"') {
            if ((s = scan_quoted(c, p, stop, &e)) != DC_OK) return s;
            b = p + 1;
            p = e + 1;
            while (p < stop && *p != delim && is_blank(*p)) p++;
            if (p < stop && *p != delim)
                return dc_error(DC_ERR_FORMAT, "%s:%lld: column %zu: unexpected text after a closing quote", c->path,
                                (long long)c->lineno, c->n + 1);
        } else {
            while (p < stop && *p != delim) p++;
            e = p;
            while (e > b && e[-1] != delim && is_blank(e[-1])) e--;
        }
        if ((s = push_cell(c, b, (size_t)(e - b))) != DC_OK) return s;
        if (p >= stop) return DC_OK;
        p++; /* the delimiter */
    }
}

/* Is cell a decimal number's spelling as far as its characters go: digits, a point, signs and
 * an exponent's 'e'? strtod also reads hexadecimal ("0x10", "0x1p3") and skips leading white
 * space such as '\v', which a CSV number is not. A cell starting with a letter after its sign
 * is left to strtod, so that NaN and Inf spellings are reported as not finite. */
static bool decimal_chars(csv_span c) {
    size_t i = c.n && (c.p[0] == '+' || c.p[0] == '-') ? 1 : 0;
    if (i < c.n && ((c.p[i] | 0x20) == 'n' || (c.p[i] | 0x20) == 'i')) return true;
    for (; i < c.n; i++) {
        char ch = c.p[i];
        if (!((ch >= '0' && ch <= '9') || ch == '.' || ch == 'e' || ch == 'E' || ch == '+' || ch == '-')) return false;
    }
    return true;
}

/* A hexadecimal prefix after an optional sign: "0x", "-0X". */
static bool hex_prefix(csv_span c) {
    size_t i = c.n && (c.p[0] == '+' || c.p[0] == '-') ? 1 : 0;
    return c.n - i >= 2 && c.p[i] == '0' && (c.p[i + 1] | 0x20) == 'x';
}

static dc_status parse_cell(const csv_cells *c, size_t col, float *out) {
    csv_span cell = c->v[col];
    char text[CSV_MAX_NUMBER + 1], shown[200];
    if (cell.n == 0)
        return dc_error(DC_ERR_FORMAT, "%s:%lld: column %zu: empty cell, expected a number", c->path,
                        (long long)c->lineno, col + 1);
    if (hex_prefix(cell))
        return dc_error(DC_ERR_FORMAT, "%s:%lld: column %zu: \"%s\" is not a decimal number (hexadecimal is not read)",
                        c->path, (long long)c->lineno, col + 1, quote_cell(cell, shown, sizeof shown));
    char *end = text;
    double v = 0;
    if (cell.n <= CSV_MAX_NUMBER && decimal_chars(cell)) {
        memcpy(text, cell.p, cell.n);
        text[cell.n] = 0;
        v = strtod(text, &end);
    }
    if (end == text || end != text + cell.n)
        return dc_error(DC_ERR_FORMAT, "%s:%lld: column %zu: \"%s\" is not a number", c->path, (long long)c->lineno,
                        col + 1, quote_cell(cell, shown, sizeof shown));
    if (!isfinite(v) || fabs(v) > FLT_MAX)
        return dc_error(DC_ERR_NUMERIC, "%s:%lld: column %zu: \"%s\" is not a finite float32 number", c->path,
                        (long long)c->lineno, col + 1, quote_cell(cell, shown, sizeof shown));
    *out = (float)v;
    return DC_OK;
}

static dc_status floats_push(csv_floats *f, float v) {
    if (f->n == f->cap) {
        size_t cap = 1024, bytes;
        if (f->cap && !dc_mul_ok(f->cap, 2, &cap)) return dc_error(DC_ERR_NOMEM, "CSV table is too large");
        if (!dc_mul_ok(cap, sizeof(float), &bytes)) return dc_error(DC_ERR_NOMEM, "CSV table is too large");
        float *v2 = dc_realloc(f->v, bytes);
        if (!v2) return DC_ERR_NOMEM;
        f->v = v2;
        f->cap = cap;
    }
    f->v[f->n++] = v;
    return DC_OK;
}

/* State of one load, so that every exit path frees the same things. */
typedef struct csv_load {
    const dc_csv_opts *o;
    csv_reader *r;
    csv_cells cells;
    char *header; /* the last skipped line, kept for label_name */
    int64_t header_line;
    size_t ncols;
    long label;    /* -1: none */
    bool want_y;   /* parse the label into y */
    int *features; /* column of each feature */
    size_t nfeat;
    csv_floats x, y;
    int64_t rows;
} csv_load;

static dc_status find_label_name(csv_load *L) {
    const char *name = L->o->label_name;
    csv_cells h = {.path = L->r->path, .lineno = L->header_line};
    dc_status s = split_line(L->header, strlen(L->header), L->o->delimiter, &h);
    long found = -1;
    for (size_t i = 0; !s && i < h.n && found < 0; i++)
        if (h.v[i].n == strlen(name) && !memcmp(h.v[i].p, name, h.v[i].n)) found = (long)i;
    dc_free(h.v);
    if (s) return s;
    if (found < 0)
        return dc_error(DC_ERR_ARG, "%s:%lld: label_name \"%s\" is not in the header", L->r->path,
                        (long long)L->header_line, name);
    if ((size_t)found >= L->ncols)
        return dc_error(DC_ERR_FORMAT, "%s:%lld: label \"%s\" is header column %ld, but the data has %zu columns",
                        L->r->path, (long long)L->header_line, name, found + 1, L->ncols);
    L->label = found;
    return DC_OK;
}

static dc_status resolve_label(csv_load *L) {
    int col = L->o->label_col;
    if (L->o->label_name) return find_label_name(L);
    if (col == -2) L->label = -1;
    else if (col == -1) L->label = (long)L->ncols - 1;
    else if ((size_t)col >= L->ncols)
        return dc_error(DC_ERR_ARG, "%s: label_col %d is out of range: the file has %zu columns (0..%zu)", L->r->path,
                        col, L->ncols, L->ncols - 1);
    else L->label = col;
    return DC_OK;
}

static dc_status resolve_features(csv_load *L) {
    const dc_csv_opts *o = L->o;
    size_t n = o->feature_cols ? (size_t)o->nfeature_cols : L->ncols - (L->label >= 0 ? 1 : 0);
    if (n == 0)
        return dc_error(DC_ERR_FORMAT, "%s: no feature columns (the file has 1 column, used by the label)", L->r->path);
    if (!(L->features = dc_calloc(n, sizeof *L->features))) return DC_ERR_NOMEM;
    L->nfeat = n;
    if (!o->feature_cols) {
        for (size_t c = 0, k = 0; c < L->ncols; c++)
            if ((long)c != L->label) L->features[k++] = (int)c;
        return DC_OK;
    }
    for (size_t k = 0; k < n; k++) {
        int c = o->feature_cols[k];
        if (c < 0 || (size_t)c >= L->ncols)
            return dc_error(DC_ERR_ARG, "%s: feature_cols[%zu] = %d is out of range: the file has %zu columns (0..%zu)",
                            L->r->path, k, c, L->ncols, L->ncols - 1);
        L->features[k] = c;
    }
    return DC_OK;
}

static dc_status check_opts(const char *path, const dc_csv_opts *o, dc_tensor **x_out) {
    if (!path || !x_out) return dc_error(DC_ERR_ARG, "dc_csv_load: path and x_out must not be NULL");
    char d = o->delimiter;
    if (d == 0 || d == '\n' || d == '\r' || d == '"' || d == '.' || d == '-' || d == '+' || (d >= '0' && d <= '9'))
        return dc_error(DC_ERR_ARG, "%s: delimiter 0x%02x cannot separate numbers", path, (unsigned char)d);
    if (o->skip_rows < 0) return dc_error(DC_ERR_ARG, "%s: skip_rows is negative (%d)", path, o->skip_rows);
    if (o->label_col < -2)
        return dc_error(DC_ERR_ARG, "%s: label_col %d is invalid (-1 = last column, -2 = none)", path, o->label_col);
    if (o->feature_cols && o->nfeature_cols <= 0)
        return dc_error(DC_ERR_ARG, "%s: feature_cols is given but nfeature_cols is %d", path, o->nfeature_cols);
    if (o->label_name && o->skip_rows < 1)
        return dc_error(DC_ERR_ARG, "%s: label_name \"%s\" needs a header line (skip_rows >= 1)", path, o->label_name);
    return DC_OK;
}

static dc_status skip_header(csv_load *L) {
    csv_reader *r = L->r;
    for (int i = 0; i < L->o->skip_rows; i++) {
        bool got;
        dc_status s = read_line(r, &got);
        if (s) return s;
        if (!got) break;
        if (i == L->o->skip_rows - 1 && L->o->label_name) {
            if (!(L->header = dc_alloc(r->n + 1))) return DC_ERR_NOMEM;
            memcpy(L->header, r->line, r->n + 1);
            L->header_line = r->lineno;
        }
    }
    return DC_OK;
}

static dc_status parse_row(csv_load *L, int64_t first_line) {
    const csv_cells *c = &L->cells;
    if (c->n != L->ncols)
        return dc_error(DC_ERR_FORMAT, "%s:%lld: expected %zu columns (as on line %lld), got %zu", c->path,
                        (long long)c->lineno, L->ncols, (long long)first_line, c->n);
    float v;
    dc_status s;
    for (size_t k = 0; k < L->nfeat; k++)
        if ((s = parse_cell(c, (size_t)L->features[k], &v)) != DC_OK || (s = floats_push(&L->x, v)) != DC_OK)
            return s;
    if (L->want_y)
        if ((s = parse_cell(c, (size_t)L->label, &v)) != DC_OK || (s = floats_push(&L->y, v)) != DC_OK) return s;
    L->rows++;
    return DC_OK;
}

/* The columns are resolved against the first data row, which fixes the column count. */
static dc_status read_rows(csv_load *L, bool want_y) {
    csv_reader *r = L->r;
    int64_t first_line = 0;
    dc_status s;
    for (;;) {
        bool got;
        if ((s = read_line(r, &got)) != DC_OK) return s;
        if (!got) break;
        if (line_is_blank(r)) continue;
        L->cells.lineno = r->lineno;
        if ((s = split_line(r->line, r->n, L->o->delimiter, &L->cells)) != DC_OK) return s;
        if (!first_line) {
            first_line = r->lineno;
            L->ncols = L->cells.n;
            if ((s = resolve_label(L)) != DC_OK || (s = resolve_features(L)) != DC_OK) return s;
            L->want_y = want_y && L->label >= 0;
        }
        if ((s = parse_row(L, first_line)) != DC_OK) return s;
    }
    if (L->rows > 0) return DC_OK;
    if (L->o->skip_rows > 0)
        return dc_error(DC_ERR_FORMAT, "%s: no data rows after skipping %d line%s", r->path, L->o->skip_rows,
                        L->o->skip_rows == 1 ? "" : "s");
    return dc_error(DC_ERR_FORMAT, "%s: no data rows (the file is empty)", r->path);
}

static dc_status make_outputs(csv_load *L, dc_tensor **x_out, dc_tensor **y_out) {
    int64_t xs[2] = {L->rows, (int64_t)L->nfeat};
    dc_tensor *x = dc_tensor_alloc(2, xs), *y = NULL;
    if (!x) return DC_ERR_NOMEM;
    memcpy(x->data, L->x.v, L->x.n * sizeof(float));
    if (L->want_y) {
        if (!(y = dc_tensor_alloc(1, &L->rows))) {
            dc_tensor_free(x);
            return DC_ERR_NOMEM;
        }
        memcpy(y->data, L->y.v, L->y.n * sizeof(float));
    }
    *x_out = x;
    if (y_out) *y_out = y;
    return DC_OK;
}

dc_status dc_csv_load(const char *path, const dc_csv_opts *o, dc_tensor **x_out, dc_tensor **y_out) {
    dc_csv_opts defaults = dc_csv_defaults();
    if (!o) o = &defaults;
    if (x_out) *x_out = NULL;
    if (y_out) *y_out = NULL;
    dc_status s = check_opts(path, o, x_out);
    if (s) return s;
    csv_load L = {.o = o, .cells = {.path = path}};
    if (!(L.r = dc_calloc(1, sizeof *L.r))) return DC_ERR_NOMEM;
    L.r->path = path;
    uint64_t size = 0;
    L.r->gz = dc_gz_open(path, &size);
    /* a small file gets a small chunk rather than 64 KiB allocated and never filled (a gzip file
     * only takes more reads to fill it) */
    L.r->chunk_cap = size < CSV_CHUNK ? DC_MAX((size_t)size, CSV_MIN_CHUNK) : CSV_CHUNK;
    if (!L.r->gz) {
        s = dc_last_status();
    } else {
        if (!(L.r->chunk = dc_alloc(L.r->chunk_cap))) s = DC_ERR_NOMEM;
        else if (!(s = skip_header(&L)) && !(s = read_rows(&L, y_out != NULL))) s = make_outputs(&L, x_out, y_out);
        gzclose(L.r->gz);
    }
    dc_free(L.r->line);
    dc_free(L.r->chunk);
    dc_free(L.r);
    dc_free(L.cells.v);
    dc_free(L.header);
    dc_free(L.features);
    dc_free(L.x.v);
    dc_free(L.y.v);
    return s;
}
