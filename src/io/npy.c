/* NumPy .npy files and .npz archives.
 *
 * .npy: the magic "\x93NUMPY", a major and minor version byte, the header length (a
 * little-endian uint16 in version 1.0, uint32 in 2.0 and 3.0), the header - a Python dict
 * literal {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), } padded with spaces to a
 * multiple of 64 bytes and ending in '\n' - and then the elements in C order.
 *
 * Choices:
 *  - The header is parsed strictly, without evaluating anything: the three keys in any order,
 *    each exactly once, string descrs of float16/32/64, int8-64, uint8-64 and bool in either
 *    byte order, a tuple of non-negative ints as the shape (Python 2's "3L" accepted in
 *    versions 1.0 and 2.0, as NumPy does), whitespace where Python allows it.
 *  - Sizes are checked before anything is allocated: the header length against the file, the
 *    shape's element count against overflow and deepc's tensor limit, and the data size
 *    against the bytes the file actually holds - short data and trailing data are both errors.
 *  - A 0-d array (a NumPy scalar) loads as shape [1], since deepc's tensors have 1 to
 *    DC_MAX_DIMS dimensions; saved back it is what it now is, a 1-element array of shape (1,),
 *    never written as 0-d. An array with a zero dimension loads as an empty tensor.
 *  - Integers that float32 cannot hold exactly, and float64 values beyond its range, are
 *    DC_ERR_NUMERIC naming the element: a loaded tensor never holds silently changed numbers.
 *  - Saving writes exactly the header NumPy 1.24's np.save writes (version 1.0, keys sorted,
 *    room for the first dimension to grow, padding to 64 bytes), so the bytes equal np.save's.
 *
 * .npz: a zip archive of NAME.npy members (zip.c), each parsed by the same code from a stream
 * of the member's bytes; a member that fails to parse is also checked for a CRC-32 or deflate
 * error, which is reported instead when present. Member and array names must be plain file
 * names, on load and on save (zip.h's dc_zip_name_problem): no archive deepc reads or writes
 * can make whoever unpacks it write outside a folder. */
#define _FILE_OFFSET_BITS 64
#define _POSIX_C_SOURCE 200809L

#include "../base/atomic_file.h"
#include "../tensor/tensor.h"
#include "dtype.h"
#include "npy.h"
#include "zip.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define NPY_MAGIC "\x93NUMPY"
#define NPY_MAGIC_LEN 6
#define NPY_MAX_HEADER (1u << 20) /* NumPy's own limit is 10000 characters */
#define NPY_CHUNK 65536           /* elements converted at a time */
#define NPY_GROWTH_DIGITS 21      /* np.save leaves room for the first dimension to grow */
#define NPY_ALIGN 64

typedef unsigned long long ull;

/* ------------------------------------------------------------------------------------- */
/* dtypes                                                                                 */
/* ------------------------------------------------------------------------------------- */

static const struct {
    char code[3]; /* descr without the byte-order character */
    dc_dtype dtype;
    const char *numpy; /* NumPy's name, for messages */
    const char *range; /* what an integer or bool save needs, for messages */
} kinds[] = {
    {"f2", DC_DTYPE_F16, "float16", NULL},
    {"f4", DC_DTYPE_F32, "float32", NULL},
    {"f8", DC_DTYPE_F64, "float64", NULL},
    {"i1", DC_DTYPE_I8, "int8", "a whole number in -128..127"},
    {"i2", DC_DTYPE_I16, "int16", "a whole number in -32768..32767"},
    {"i4", DC_DTYPE_I32, "int32", "a whole number in -2147483648..2147483647"},
    {"i8", DC_DTYPE_I64, "int64", "a whole number in -2^63..2^63-1"},
    {"u1", DC_DTYPE_U8, "uint8", "a whole number in 0..255"},
    {"u2", DC_DTYPE_U16, "uint16", "a whole number in 0..65535"},
    {"u4", DC_DTYPE_U32, "uint32", "a whole number in 0..4294967295"},
    {"u8", DC_DTYPE_U64, "uint64", "a whole number in 0..2^64-1"},
    {"b1", DC_DTYPE_BOOL, "bool", "0 or 1"},
};

static int kind_of(dc_dtype t) {
    for (size_t i = 0; i < DC_ARRAY_LEN(kinds); i++)
        if (kinds[i].dtype == t) return (int)i;
    return -1;
}

static const char *numpy_name(dc_dtype t) {
    int k = kind_of(t);
    return k < 0 ? "unknown" : kinds[k].numpy;
}

/* The dtype of a descr string such as "<f4"; false if deepc does not read it. '=' is the
 * machine's order, which is little-endian wherever deepc runs. */
static bool descr_dtype(const char *d, dc_dtype *t, bool *swap) {
    if (strlen(d) != 3 || !strchr("<>=|", d[0])) return false;
    for (size_t i = 0; i < DC_ARRAY_LEN(kinds); i++)
        if (!strcmp(d + 1, kinds[i].code)) {
            size_t sz = dc_dtype_size(kinds[i].dtype);
            if (d[0] == '|' && sz != 1) return false; /* '|' is for single bytes */
            *t = kinds[i].dtype;
            *swap = d[0] == '>' && sz > 1;
            return true;
        }
    return false;
}

/* "(2, 3)", "(5,)" or "()" as Python writes shapes; returns buf. */
static char *py_shape(int ndim, const int64_t *shape, char *buf, size_t cap) {
    size_t k = (size_t)snprintf(buf, cap, "(");
    for (int i = 0; i < ndim && k < cap; i++)
        k += (size_t)snprintf(buf + k, cap - k, "%s%lld", i ? ", " : "", (long long)shape[i]);
    if (k < cap) snprintf(buf + k, cap - k, ndim == 1 ? ",)" : ")");
    return buf;
}

/* "[1, 2]": the multi-index of flat element i of a C-order array of this shape. */
static char *multi_index(int ndim, const int64_t *shape, int64_t i, char *buf, size_t cap) {
    int64_t idx[DC_MAX_DIMS] = {0};
    for (int d = ndim - 1; d >= 0; d--) {
        if (shape[d] > 0) {
            idx[d] = i % shape[d];
            i /= shape[d];
        }
    }
    return dc_shape_str(ndim, idx, buf, cap);
}

/* ------------------------------------------------------------------------------------- */
/* the header                                                                             */
/* ------------------------------------------------------------------------------------- */

typedef struct npy_head {
    dc_dtype dtype;
    bool swap, fortran;
    int ndim; /* as in the file: 0 for a 0-d array */
    int64_t shape[DC_MAX_DIMS];
    int64_t numel;
    uint64_t data_off; /* magic + length + header */
    char descr[32];
} npy_head;

typedef struct hparse {
    const char *s; /* the header text (not NUL-terminated inside: it may hold NUL bytes) */
    size_t n, i;
    const char *name; /* file or member for messages */
    int major;
} hparse;

static int peek(const hparse *h) { return h->i < h->n ? (unsigned char)h->s[h->i] : -1; }

static void skip_ws(hparse *h) {
    while (h->i < h->n && (h->s[h->i] == ' ' || h->s[h->i] == '\t' || h->s[h->i] == '\n' || h->s[h->i] == '\r')) h->i++;
}

/* Up to 80 bytes of s, non-printable ones as \xNN, for messages. */
static char *escaped(const char *s, size_t n, char *buf, size_t cap) {
    size_t k = 0;
    for (size_t i = 0; i < n && i < 80 && k + 5 < cap; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c < 0x7f) buf[k++] = (char)c;
        else k += (size_t)snprintf(buf + k, cap - k, "\\x%02x", c);
    }
    if (n > 80 && k + 4 < cap) k += (size_t)snprintf(buf + k, cap - k, "...");
    buf[k] = 0;
    return buf;
}

/* A syntax error at the parser's position: names the byte, what was expected and found. */
static dc_status syntax(const hparse *h, const char *expected) {
    char found[16], text[400];
    int c = peek(h);
    if (c < 0) snprintf(found, sizeof found, "the end");
    else if (c >= 0x20 && c < 0x7f) snprintf(found, sizeof found, "'%c'", c);
    else snprintf(found, sizeof found, "byte 0x%02x", c);
    return dc_error(DC_ERR_FORMAT, "%s: bad .npy header: expected %s at header byte %zu, found %s (header: %s)", h->name,
                    expected, h->i, found, escaped(h->s, h->n, text, sizeof text));
}

/* A quoted string without escapes into out[cap]. */
static dc_status parse_string(hparse *h, char *out, size_t cap) {
    int q = peek(h);
    if (q != '\'' && q != '"') return syntax(h, "a quoted string");
    size_t start = ++h->i;
    while (h->i < h->n && h->s[h->i] != q) {
        if (h->s[h->i] == '\\' || h->s[h->i] == '\n' || h->s[h->i] == 0) return syntax(h, "a string without escapes");
        h->i++;
    }
    if (h->i >= h->n) return syntax(h, "the string's closing quote");
    size_t len = h->i - start;
    h->i++;
    if (len >= cap) {
        char text[400];
        return dc_error(DC_ERR_FORMAT, "%s: bad .npy header: the string '%s' is too long here", h->name,
                        escaped(h->s + start, len, text, sizeof text));
    }
    memcpy(out, h->s + start, len);
    out[len] = 0;
    return DC_OK;
}

static bool ident_char(int c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_'; }

static bool take_word(hparse *h, const char *w) {
    size_t k = strlen(w);
    if (h->n - h->i < k || memcmp(h->s + h->i, w, k) != 0) return false;
    if (h->i + k < h->n && ident_char((unsigned char)h->s[h->i + k])) return false;
    h->i += k;
    return true;
}

/* Skips a bracketed Python literal (a structured dtype's list), quotes respected. */
static void skip_bracketed(hparse *h) {
    int depth = 0;
    while (h->i < h->n) {
        char c = h->s[h->i++];
        if (c == '\'' || c == '"') {
            while (h->i < h->n && h->s[h->i] != c) h->i++;
            h->i++;
        } else if (c == '[' || c == '(') depth++;
        else if ((c == ']' || c == ')') && --depth == 0) return;
    }
}

static dc_status parse_descr(hparse *h, npy_head *out) {
    int c = peek(h);
    if (c == '[') {
        size_t start = h->i;
        skip_bracketed(h);
        char text[400];
        return dc_error(DC_ERR_FORMAT,
                        "%s: structured dtype %s is not supported (deepc reads float16/32/64, int8-64, uint8-64 and bool "
                        "arrays)",
                        h->name, escaped(h->s + start, DC_MIN(h->i, h->n) - start, text, sizeof text));
    }
    if (c != '\'' && c != '"') return syntax(h, "a dtype string after 'descr'");
    dc_status s = parse_string(h, out->descr, sizeof out->descr);
    if (s) return s;
    if (!descr_dtype(out->descr, &out->dtype, &out->swap)) {
        char text[200];
        return dc_error(DC_ERR_FORMAT,
                        "%s: dtype '%s' is not supported (deepc reads float16/32/64, int8-64, uint8-64 and bool, e.g. "
                        "'<f4', '>i8', '|b1')",
                        h->name, escaped(out->descr, strlen(out->descr), text, sizeof text));
    }
    return DC_OK;
}

static dc_status parse_dim(hparse *h, int d, int64_t *v) {
    size_t start = h->i;
    bool neg = false;
    if (peek(h) == '-' || peek(h) == '+') {
        neg = peek(h) == '-';
        h->i++;
    }
    if (peek(h) < '0' || peek(h) > '9') return syntax(h, "a whole number in the shape");
    uint64_t x = 0;
    bool big = false;
    while (peek(h) >= '0' && peek(h) <= '9') {
        unsigned digit = (unsigned)(peek(h) - '0');
        if (x > (UINT64_MAX - digit) / 10) big = true;
        else x = x * 10 + digit;
        h->i++;
    }
    if (h->major < 3 && (peek(h) == 'L' || peek(h) == 'l')) h->i++; /* Python 2's long */
    if (ident_char(peek(h))) return syntax(h, "',' or ')' after a dimension");
    char text[64];
    if (big || x > (uint64_t)INT64_MAX)
        return dc_error(DC_ERR_FORMAT, "%s: shape dimension %d (%s) does not fit in 64 bits", h->name, d,
                        escaped(h->s + start, h->i - start, text, sizeof text));
    if (neg && x)
        return dc_error(DC_ERR_FORMAT, "%s: shape dimension %d is negative (-%llu)", h->name, d, (ull)x);
    *v = (int64_t)x;
    return DC_OK;
}

static dc_status parse_shape(hparse *h, npy_head *out) {
    if (peek(h) != '(') return syntax(h, "a tuple '(' after 'shape'");
    h->i++;
    skip_ws(h);
    int count = 0;
    bool comma = false;
    int64_t big_dims = 0;
    while (peek(h) != ')') {
        int64_t v = 0;
        dc_status s = parse_dim(h, count, &v);
        if (s) return s;
        if (count < DC_MAX_DIMS) out->shape[count] = v;
        else big_dims++;
        count++;
        skip_ws(h);
        comma = false;
        if (peek(h) == ',') {
            h->i++;
            skip_ws(h);
            comma = true;
        } else if (peek(h) != ')')
            return syntax(h, "',' or ')' in the shape");
    }
    h->i++;
    if (count == 1 && !comma)
        return dc_error(DC_ERR_FORMAT, "%s: bad .npy header: shape (%lld) is not a tuple (a 1-d shape is written (%lld,))",
                        h->name, (long long)out->shape[0], (long long)out->shape[0]);
    if (count > DC_MAX_DIMS)
        return dc_error(DC_ERR_FORMAT, "%s: the shape has %d dimensions; deepc's tensors have at most %d", h->name, count,
                        DC_MAX_DIMS);
    out->ndim = count;
    return DC_OK;
}

enum { KEY_DESCR, KEY_FORTRAN, KEY_SHAPE, KEY_COUNT };
static const char *const key_names[KEY_COUNT] = {"descr", "fortran_order", "shape"};

/* Parses the dict literal of the header. */
static dc_status parse_dict(hparse *h, npy_head *out) {
    bool have[KEY_COUNT] = {false};
    skip_ws(h);
    if (peek(h) != '{') return syntax(h, "'{'");
    h->i++;
    dc_status s;
    for (;;) {
        skip_ws(h);
        if (peek(h) == '}') break;
        char key[32];
        if (peek(h) != '\'' && peek(h) != '"') return syntax(h, "a quoted key or '}'");
        if ((s = parse_string(h, key, sizeof key)) != DC_OK) return s;
        int k = 0;
        while (k < KEY_COUNT && strcmp(key, key_names[k])) k++;
        if (k == KEY_COUNT) {
            char text[100];
            return dc_error(DC_ERR_FORMAT,
                            "%s: bad .npy header: unknown key '%s' (the keys are 'descr', 'fortran_order' and 'shape')",
                            h->name, escaped(key, strlen(key), text, sizeof text));
        }
        if (have[k]) return dc_error(DC_ERR_FORMAT, "%s: bad .npy header: the key '%s' appears twice", h->name, key);
        have[k] = true;
        skip_ws(h);
        if (peek(h) != ':') return syntax(h, "':' after a key");
        h->i++;
        skip_ws(h);
        if (k == KEY_DESCR) s = parse_descr(h, out);
        else if (k == KEY_SHAPE) s = parse_shape(h, out);
        else if (take_word(h, "True")) out->fortran = true;
        else if (take_word(h, "False")) out->fortran = false;
        else s = syntax(h, "True or False after 'fortran_order'");
        if (s) return s;
        skip_ws(h);
        if (peek(h) == ',') h->i++;
        else if (peek(h) != '}') return syntax(h, "',' or '}' after a value");
    }
    h->i++;
    skip_ws(h);
    if (h->i < h->n) return syntax(h, "only spaces and a newline after the closing '}'");
    for (int k = 0; k < KEY_COUNT; k++)
        if (!have[k]) return dc_error(DC_ERR_FORMAT, "%s: bad .npy header: the key '%s' is missing", h->name, key_names[k]);
    if (out->fortran)
        return dc_error(DC_ERR_FORMAT, "%s: Fortran-order arrays are not supported; save with np.ascontiguousarray", h->name);
    int64_t n = 1;
    for (int d = 0; d < out->ndim; d++)
        if (__builtin_mul_overflow(n, out->shape[d], &n) || n > (INT64_MAX >> 3)) {
            char shp[200];
            return dc_error(DC_ERR_FORMAT, "%s: shape %s has more elements than a tensor can hold (2^60)", h->name,
                            py_shape(out->ndim, out->shape, shp, sizeof shp));
        }
    out->numel = n;
    return DC_OK;
}

/* ------------------------------------------------------------------------------------- */
/* reading                                                                                */
/* ------------------------------------------------------------------------------------- */

/* A stream of bytes of known length: a file, or an archive member. */
typedef struct npy_src {
    const char *name; /* for messages */
    const char *what; /* "file" or "member" */
    uint64_t size;
    dc_status (*read)(void *ctx, void *buf, size_t n); /* exactly n bytes */
    void *ctx;
} npy_src;

typedef struct file_src {
    FILE *f;
    const char *path;
} file_src;

static dc_status file_read(void *ctx, void *buf, size_t n) {
    file_src *fs = ctx;
    errno = 0;
    size_t got = fread(buf, 1, n, fs->f);
    if (got == n) return DC_OK;
    if (ferror(fs->f)) return dc_error(DC_ERR_IO, "%s: read error: %s", fs->path, strerror(errno ? errno : EIO));
    return dc_error(DC_ERR_IO, "%s: the file ended %zu bytes into a read of %zu (did it change?)", fs->path, got, n);
}

static dc_status member_read(void *ctx, void *buf, size_t n) { return dc_zip_read(ctx, buf, n); }

static dc_status read_head(npy_src *src, npy_head *h) {
    memset(h, 0, sizeof *h);
    unsigned char pre[12];
    if (src->size < 10)
        return dc_error(DC_ERR_FORMAT, "%s: %llu bytes are too short for an .npy %s (the magic, version and header length are 10)",
                        src->name, (ull)src->size, src->what);
    dc_status s = src->read(src->ctx, pre, 10);
    if (s) return s;
    if (memcmp(pre, NPY_MAGIC, NPY_MAGIC_LEN) != 0) {
        char text[64];
        return dc_error(DC_ERR_FORMAT, "%s: not an .npy %s: it starts with '%s', not the magic '\\x93NUMPY'", src->name,
                        src->what, escaped((const char *)pre, NPY_MAGIC_LEN, text, sizeof text));
    }
    int major = pre[6], minor = pre[7];
    if (major < 1 || major > 3 || minor != 0)
        return dc_error(DC_ERR_FORMAT, "%s: .npy format version %d.%d is not supported (deepc reads 1.0, 2.0 and 3.0)",
                        src->name, major, minor);
    uint64_t hl, pl = 10;
    if (major == 1) hl = (uint64_t)pre[8] | (uint64_t)pre[9] << 8;
    else {
        if (src->size < 12)
            return dc_error(DC_ERR_FORMAT, "%s: %llu bytes are too short for an .npy %s of version %d.0 (12 bytes precede its header)",
                            src->name, (ull)src->size, src->what, major);
        if ((s = src->read(src->ctx, pre + 10, 2)) != DC_OK) return s;
        hl = (uint64_t)pre[8] | (uint64_t)pre[9] << 8 | (uint64_t)pre[10] << 16 | (uint64_t)pre[11] << 24;
        pl = 12;
    }
    if (hl > src->size - pl)
        return dc_error(DC_ERR_FORMAT, "%s: the header length %llu goes past the end of the %s (%llu bytes, %llu after byte %llu)",
                        src->name, (ull)hl, src->what, (ull)src->size, (ull)(src->size - pl), (ull)pl);
    if (hl > NPY_MAX_HEADER)
        return dc_error(DC_ERR_FORMAT, "%s: the header length %llu is over deepc's limit of %u bytes", src->name, (ull)hl,
                        NPY_MAX_HEADER);
    char *text = dc_alloc((size_t)hl + 1);
    if (!text) return DC_ERR_NOMEM;
    if ((s = src->read(src->ctx, text, (size_t)hl)) == DC_OK) {
        hparse hp = {.s = text, .n = (size_t)hl, .name = src->name, .major = major};
        s = parse_dict(&hp, h);
    }
    dc_free(text);
    h->data_off = pl + hl;
    return s;
}

dc_status dc_npy_read_header(FILE *f, const char *path, uint64_t size, dc_npy_info *out) {
    file_src fs = {.f = f, .path = path};
    npy_src src = {.name = path, .what = "file", .size = size, .read = file_read, .ctx = &fs};
    npy_head h;
    dc_status s = read_head(&src, &h);
    if (s) return s;
    out->dtype = h.dtype;
    out->swap = h.swap;
    out->ndim = h.ndim;
    memcpy(out->shape, h.shape, sizeof out->shape);
    out->numel = h.numel;
    out->data_off = h.data_off;
    snprintf(out->descr, sizeof out->descr, "%s", h.descr);
    return DC_OK;
}

/* Formats element p of dtype t (byte order swapped if swap) for a message. */
static void element_str(dc_dtype t, const unsigned char *p, bool swap, char *buf, size_t cap) {
    size_t sz = dc_dtype_size(t);
    uint64_t u = 0;
    for (size_t k = 0; k < sz; k++) u |= (uint64_t)p[swap ? sz - 1 - k : k] << (8 * k);
    if (t == DC_DTYPE_F64) {
        double d;
        memcpy(&d, &u, 8);
        snprintf(buf, cap, "%.17g", d);
    } else if (t >= DC_DTYPE_I8 && t <= DC_DTYPE_I64) {
        int64_t v = sz == 8 ? (int64_t)u : (int64_t)(u << (64 - 8 * sz)) >> (64 - 8 * sz);
        snprintf(buf, cap, "%lld", (long long)v);
    } else snprintf(buf, cap, "%llu", (ull)u);
}

static dc_status read_data(npy_src *src, const npy_head *h, dc_tensor *t) {
    size_t sz = dc_dtype_size(h->dtype);
    if (h->dtype == DC_DTYPE_F32 && !h->swap) { /* the file's bytes are the tensor's */
        char *p = (char *)t->data;
        for (size_t left = (size_t)h->numel * 4; left;) {
            size_t k = DC_MIN(left, (size_t)1 << 30);
            dc_status s = src->read(src->ctx, p, k);
            if (s) return s;
            p += k;
            left -= k;
        }
        return DC_OK;
    }
    size_t chunk = (size_t)DC_MIN(h->numel, (int64_t)NPY_CHUNK);
    unsigned char *buf = dc_alloc(chunk * sz);
    if (!buf) return DC_ERR_NOMEM;
    dc_status s = DC_OK;
    for (int64_t done = 0; !s && done < h->numel;) {
        int64_t k = DC_MIN(h->numel - done, (int64_t)NPY_CHUNK), bad = 0;
        if ((s = src->read(src->ctx, buf, (size_t)k * sz)) != DC_OK) break;
        if (dc_dtype_to_f32(h->dtype, buf, t->data + done, k, h->swap, &bad) != DC_OK) {
            char val[40], idx[200];
            element_str(h->dtype, buf + (size_t)bad * sz, h->swap, val, sizeof val);
            multi_index(h->ndim, h->shape, done + bad, idx, sizeof idx);
            const char *np = numpy_name(h->dtype);
            if (h->dtype == DC_DTYPE_F64)
                s = dc_error(DC_ERR_NUMERIC, "%s: element %lld (index %s) of the float64 array is %s, beyond float32's range",
                             src->name, (long long)(done + bad), h->ndim ? idx : "[]", val);
            else
                s = dc_error(DC_ERR_NUMERIC,
                             "%s: element %lld (index %s) of the %s array is %s, which float32 cannot hold exactly "
                             "(integers up to 2^24 = 16777216 can)",
                             src->name, (long long)(done + bad), h->ndim ? idx : "[]", np, val);
        }
        done += k;
    }
    dc_free(buf);
    return s;
}

static dc_tensor *npy_read(npy_src *src) {
    npy_head h;
    if (read_head(src, &h)) return NULL;
    uint64_t have = src->size - h.data_off, need = (uint64_t)h.numel * dc_dtype_size(h.dtype);
    if (have != need) {
        char shp[200];
        py_shape(h.ndim, h.shape, shp, sizeof shp);
        if (have < need)
            return dc_error_null(DC_ERR_FORMAT,
                                 "%s: truncated data: shape %s of '%s' needs %llu bytes, the %s holds %llu after its "
                                 "%llu-byte header",
                                 src->name, shp, h.descr, (ull)need, src->what, (ull)have, (ull)h.data_off);
        return dc_error_null(DC_ERR_FORMAT,
                             "%s: %llu bytes of trailing data: shape %s of '%s' needs %llu bytes, the %s holds %llu after "
                             "its %llu-byte header",
                             src->name, (ull)(have - need), shp, h.descr, (ull)need, src->what, (ull)have,
                             (ull)h.data_off);
    }
    const int64_t one = 1;
    dc_tensor *t = dc_tensor_alloc(h.ndim ? h.ndim : 1, h.ndim ? h.shape : &one);
    if (!t) return NULL;
    if (read_data(src, &h, t) != DC_OK) {
        dc_tensor_free(t);
        return NULL;
    }
    return t;
}

dc_tensor *dc_npy_load(const char *path) {
    if (!path) return dc_error_null(DC_ERR_ARG, "dc_npy_load: path is NULL");
    file_src fs = {.path = path};
    uint64_t size = 0;
    if (!(fs.f = dc_file_open_read(path, &size))) return NULL;
    npy_src src = {.name = path, .what = "file", .size = size, .read = file_read, .ctx = &fs};
    dc_tensor *t = npy_read(&src);
    fclose(fs.f);
    return t;
}

/* ------------------------------------------------------------------------------------- */
/* writing                                                                                */
/* ------------------------------------------------------------------------------------- */

/* Writes n bytes somewhere: a file or an archive member. */
typedef dc_status (*npy_sink)(void *ctx, const void *buf, size_t n);

/* np.save's header for this dtype and shape into buf; its length (a multiple of 64). */
static size_t npy_header(char *buf, size_t cap, dc_dtype dtype, int ndim, const int64_t *shape) {
    char shp[400], dict[600];
    int k = kind_of(dtype);
    if (k < 0) return 0;
    int len = snprintf(dict, sizeof dict, "{'descr': '%c%s', 'fortran_order': False, 'shape': %s, }",
                       dc_dtype_size(dtype) == 1 ? '|' : '<', kinds[k].code, py_shape(ndim, shape, shp, sizeof shp));
    /* room for the first dimension to grow to 21 digits, as np.save leaves */
    int digits = snprintf(shp, sizeof shp, "%lld", (long long)shape[0]);
    for (int i = digits; i < NPY_GROWTH_DIGITS && len < (int)sizeof dict - 1; i++) dict[len++] = ' ';
    size_t hlen = (size_t)len + 1; /* with the final newline */
    size_t pad = NPY_ALIGN - (10 + hlen) % NPY_ALIGN;
    size_t total = 10 + hlen + pad;
    if (total > cap) return 0;
    memcpy(buf, NPY_MAGIC "\x01\x00", 8);
    buf[8] = (char)((hlen + pad) & 0xff);
    buf[9] = (char)((hlen + pad) >> 8);
    memcpy(buf + 10, dict, (size_t)len);
    memset(buf + 10 + len, ' ', pad);
    buf[total - 1] = '\n';
    return total;
}

/* Checks that every value can be stored as dtype; names the first that cannot. */
static dc_status check_values(const char *path, const dc_tensor *t, const float *data, dc_dtype dtype) {
    if (dtype == DC_DTYPE_F32 || dtype == DC_DTYPE_F64 || dtype == DC_DTYPE_F16) return DC_OK;
    size_t sz = dc_dtype_size(dtype);
    unsigned char *scratch = dc_alloc(NPY_CHUNK * sz);
    if (!scratch) return DC_ERR_NOMEM;
    dc_status s = DC_OK;
    for (int64_t done = 0; !s && done < t->numel; done += NPY_CHUNK) {
        int64_t k = DC_MIN(t->numel - done, (int64_t)NPY_CHUNK), bad = 0;
        if (dc_dtype_from_f32(dtype, data + done, scratch, k, &bad) != DC_OK) {
            char idx[200];
            const int kd = DC_MAX(kind_of(dtype), 0);
            s = dc_error(DC_ERR_NUMERIC, "%s: element %lld (index %s) is %.9g, not %s as %s needs; nothing was written", path,
                         (long long)(done + bad), multi_index(t->ndim, t->shape, done + bad, idx, sizeof idx),
                         (double)data[done + bad], kinds[kd].range, kinds[kd].numpy);
        }
    }
    dc_free(scratch);
    return s;
}

/* Writes the header and the elements of t (contiguous values in data) as dtype. */
static dc_status npy_emit(npy_sink sink, void *ctx, const dc_tensor *t, const float *data, dc_dtype dtype) {
    char head[1024];
    size_t hl = npy_header(head, sizeof head, dtype, t->ndim, t->shape);
    if (!hl) return dc_error(DC_ERR_ARG, "no .npy header for dtype %d", (int)dtype);
    dc_status s = sink(ctx, head, hl);
    if (s || t->numel == 0) return s;
    if (dtype == DC_DTYPE_F32) return sink(ctx, data, (size_t)t->numel * sizeof(float));
    size_t sz = dc_dtype_size(dtype);
    unsigned char *buf = dc_alloc(NPY_CHUNK * sz);
    if (!buf) return DC_ERR_NOMEM;
    for (int64_t done = 0; !s && done < t->numel; done += NPY_CHUNK) {
        int64_t k = DC_MIN(t->numel - done, (int64_t)NPY_CHUNK), bad;
        if ((s = dc_dtype_from_f32(dtype, data + done, buf, k, &bad)) != DC_OK) break; /* checked before */
        s = sink(ctx, buf, (size_t)k * sz);
    }
    dc_free(buf);
    return s;
}

/* An open .npy file and its path, which a write error names. */
typedef struct file_out {
    FILE *f;
    const char *path;
} file_out;

static dc_status file_sink(void *ctx, const void *buf, size_t n) {
    file_out *o = ctx;
    errno = 0;
    if (n && fwrite(buf, 1, n, o->f) != n)
        return dc_error(DC_ERR_IO, "writing '%s': write failed: %s", o->path, strerror(errno ? errno : EIO));
    return DC_OK;
}

static dc_status zip_sink(void *ctx, const void *buf, size_t n) { return dc_zip_write(ctx, buf, n); }

/* The values of t in C order: t's own storage if contiguous, else a copy in *copy. */
static const float *contiguous(const dc_tensor *t, float **copy) {
    *copy = NULL;
    if (dc_tensor_is_contiguous(t)) return t->data;
    if (!(*copy = dc_alloc((size_t)t->numel * sizeof(float)))) return NULL;
    dc_copy_strided(*copy, t);
    return *copy;
}

typedef struct npy_job {
    const char *path;
    const dc_tensor *t;
    const float *data;
    dc_dtype dtype;
} npy_job;

static dc_status npy_write(FILE *f, void *arg) {
    npy_job *j = arg;
    file_out o = {f, j->path};
    return npy_emit(file_sink, &o, j->t, j->data, j->dtype);
}

/* The dtype is one NumPy has and deepc writes. */
static dc_status check_save_dtype(const char *path, dc_dtype dtype) {
    if (dtype == DC_DTYPE_BF16)
        return dc_error(DC_ERR_ARG, "%s: NumPy has no bfloat16 dtype (save as F32 or F16)", path);
    if (kind_of(dtype) < 0) return dc_error(DC_ERR_ARG, "%s: unknown dtype %d", path, (int)dtype);
    return DC_OK;
}

dc_status dc_npy_save(const char *path, const dc_tensor *t, dc_dtype dtype) {
    if (!path || !*path) return dc_error(DC_ERR_ARG, "dc_npy_save: path is NULL or empty");
    if (!t) return dc_error(DC_ERR_ARG, "%s: dc_npy_save: tensor is NULL", path);
    dc_status s = check_save_dtype(path, dtype);
    if (s) return s;
    float *copy;
    npy_job job = {.path = path, .t = t, .dtype = dtype, .data = contiguous(t, &copy)};
    if (!job.data) return DC_ERR_NOMEM;
    if ((s = check_values(path, t, job.data, dtype)) == DC_OK) s = dc_write_file_atomic(path, npy_write, &job);
    dc_free(copy);
    return s;
}

/* ------------------------------------------------------------------------------------- */
/* .npz                                                                                   */
/* ------------------------------------------------------------------------------------- */

static int cmp_names(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* A name that two members share, or NULL. */
static const char *duplicate(int n, const char *const *names, const char **sorted) {
    if (n < 2) return NULL;
    memcpy(sorted, names, (size_t)n * sizeof *sorted);
    qsort(sorted, (size_t)n, sizeof *sorted, cmp_names);
    for (int i = 1; i < n; i++)
        if (!strcmp(sorted[i - 1], sorted[i])) return sorted[i];
    return NULL;
}

/* Loads member i of an open archive. */
static dc_tensor *npz_member(dc_zip *z, int i) {
    dc_zip_reader r;
    if (dc_zip_member_open(z, i, &r) != DC_OK) {
        dc_zip_member_close(&r);
        return NULL;
    }
    npy_src src = {.name = r.label, .what = "member", .size = z->e[i].size, .read = member_read, .ctx = &r};
    dc_tensor *t = npy_read(&src);
    if (t && dc_zip_member_finish(&r) != DC_OK) {
        dc_tensor_free(t);
        t = NULL;
    } else if (!t && (dc_last_status() == DC_ERR_FORMAT || dc_last_status() == DC_ERR_NUMERIC)) {
        /* damage explains a bad member better than the parse error it caused */
        char msg[1024];
        dc_status st = dc_last_status();
        snprintf(msg, sizeof msg, "%s", dc_last_error());
        if (dc_zip_member_check_rest(&r) == DC_OK) dc_error(st, "%s", msg);
    }
    dc_zip_member_close(&r);
    return t;
}

dc_status dc_npz_load(const char *path, int *n, char ***names, dc_tensor ***arrays) {
    if (!n || !names || !arrays) return dc_error(DC_ERR_ARG, "dc_npz_load: an output pointer is NULL");
    *n = 0;
    *names = NULL;
    *arrays = NULL;
    if (!path) return dc_error(DC_ERR_ARG, "dc_npz_load: path is NULL");
    dc_zip z;
    dc_status s = dc_zip_open(&z, path);
    if (s) return s;
    int m = z.n;
    char **nm = dc_calloc((size_t)DC_MAX(m, 1), sizeof *nm);
    const char **sorted = dc_calloc((size_t)DC_MAX(m, 1), sizeof *sorted);
    dc_tensor **ar = dc_calloc((size_t)DC_MAX(m, 1), sizeof *ar);
    s = nm && ar && sorted ? DC_OK : DC_ERR_NOMEM;
    for (int i = 0; !s && i < m; i++) { /* names without ".npy", as np.load gives them */
        size_t len = strlen(z.e[i].name);
        if (len >= 4 && !strcmp(z.e[i].name + len - 4, ".npy")) len -= 4;
        if (!(nm[i] = dc_alloc(len + 1))) s = DC_ERR_NOMEM;
        else {
            memcpy(nm[i], z.e[i].name, len);
            nm[i][len] = 0;
        }
    }
    for (int i = 0; !s && i < m; i++) { /* "..npy" and "...npy" load as the arrays "." and ".." */
        const char *why = dc_zip_name_problem(nm[i]);
        if (why)
            s = dc_error(DC_ERR_FORMAT,
                         "%s: member '%s' loads as the array '%s': the name %s, so it is not a plain file name", path,
                         z.e[i].name, nm[i], why);
    }
    const char *dup = s ? NULL : duplicate(m, (const char *const *)nm, sorted);
    if (dup) s = dc_error(DC_ERR_FORMAT, "%s: two members load as the array '%s'", path, dup);
    for (int i = 0; !s && i < m; i++)
        if (!(ar[i] = npz_member(&z, i))) s = dc_last_status() ? dc_last_status() : DC_ERR_FORMAT;
    dc_zip_close(&z);
    dc_free((void *)sorted);
    if (s) {
        dc_npz_free(m, nm, ar);
        return s;
    }
    *n = m;
    *names = nm;
    *arrays = ar;
    return DC_OK;
}

void dc_npz_free(int n, char **names, dc_tensor **arrays) {
    for (int i = 0; i < n; i++) {
        if (names) dc_free(names[i]);
        if (arrays) dc_tensor_free(arrays[i]);
    }
    dc_free(names);
    dc_free(arrays);
}

typedef struct npz_job {
    const char *path;
    int n;
    const char *const *names;
    const dc_tensor *const *arrays;
    bool compress;
} npz_job;

static dc_status npz_write(FILE *f, void *arg) {
    npz_job *j = arg;
    dc_zip_writer w;
    dc_zip_writer_init(&w, f, j->path);
    dc_status s = DC_OK;
    char *member = NULL;
    for (int i = 0; !s && i < j->n; i++) {
        size_t len = strlen(j->names[i]);
        dc_free(member);
        if (!(member = dc_alloc(len + 5))) {
            s = DC_ERR_NOMEM;
            break;
        }
        memcpy(member, j->names[i], len);
        memcpy(member + len, ".npy", 5);
        float *copy;
        const float *data = contiguous(j->arrays[i], &copy);
        if (!data) s = DC_ERR_NOMEM;
        if (!s) s = dc_zip_member_begin(&w, member, j->compress);
        if (!s) s = npy_emit(zip_sink, &w, j->arrays[i], data, DC_DTYPE_F32);
        if (!s) s = dc_zip_member_end(&w);
        dc_free(copy);
    }
    dc_free(member);
    if (!s) s = dc_zip_writer_finish(&w);
    dc_zip_writer_free(&w);
    return s;
}

dc_status dc_npz_save(const char *path, int n, const char *const *names, const dc_tensor *const *arrays, bool compress) {
    if (!path || !*path) return dc_error(DC_ERR_ARG, "dc_npz_save: path is NULL or empty");
    if (n < 0 || n > DC_ZIP_MAX_MEMBERS)
        return dc_error(DC_ERR_ARG, "%s: %d arrays (0..%d can be saved)", path, n, DC_ZIP_MAX_MEMBERS);
    if (n > 0 && (!names || !arrays)) return dc_error(DC_ERR_ARG, "%s: names or arrays is NULL", path);
    for (int i = 0; i < n; i++) {
        if (!names[i] || !*names[i]) return dc_error(DC_ERR_ARG, "%s: the name of array %d is NULL or empty", path, i);
        if (strlen(names[i]) > 0xFFFF - 4)
            return dc_error(DC_ERR_ARG, "%s: the name of array %d is %zu bytes long (65531 at most)", path, i,
                            strlen(names[i]));
        const char *why = dc_zip_name_problem(names[i]);
        if (why)
            return dc_error(DC_ERR_ARG,
                            "%s: the name of array %d ('%s') %s, so it is not a plain file name; nothing was written",
                            path, i, names[i], why);
        if (!arrays[i]) return dc_error(DC_ERR_ARG, "%s: array %d ('%s') is NULL", path, i, names[i]);
    }
    const char **sorted = dc_alloc((size_t)DC_MAX(n, 1) * sizeof *sorted);
    if (!sorted) return DC_ERR_NOMEM;
    const char *dup = duplicate(n, names, sorted);
    dc_status s = dup ? dc_error(DC_ERR_ARG, "%s: the name '%s' is given twice", path, dup) : DC_OK;
    dc_free((void *)sorted);
    if (s) return s;
    npz_job job = {.path = path, .n = n, .names = names, .arrays = arrays, .compress = compress};
    return dc_write_file_atomic(path, npz_write, &job);
}
