/* safetensors reader and writer.
 *
 * Layout: an unsigned little-endian u64 N, N bytes of UTF-8 JSON (the header), then the data
 * section. The header is an object: each key is a tensor name mapping to
 * {"dtype": "F32", "shape": [2, 3], "data_offsets": [begin, end]} with offsets relative to the
 * data section, plus an optional "__metadata__" object of string -> string. Data is
 * little-endian, C order.
 *
 * Reading: open validates the whole header against the file before anything is allocated for
 * the data: header size within the file and at most 100,000,000 bytes (the format's limit),
 * strict JSON (UTF-8, no control bytes, whitespace only after the object), known dtypes,
 * shapes of at most DC_MAX_DIMS integers in [0, 2^53) whose product (times the dtype size)
 * fits, integer offsets begin <= end inside the data section holding exactly the tensor's
 * bytes, tensors covering the data without holes or overlaps, unique names, metadata of
 * strings. Numbers in shapes and offsets must be written as plain integers ("1.0", "1e3",
 * "-0" and "01" are refused, as the reference implementation refuses them). Tensors are then
 * read on demand with pread() at the validated offsets, so a big file is never read whole and
 * several threads may read tensors of one open file at the same time. A 0-d tensor (shape [])
 * is reported and read as shape [1], since deepc's tensors have 1 to DC_MAX_DIMS dimensions;
 * dc_safetensors_save writes a tensor's own shape, so such a tensor saved back says [1].
 *
 * Writing: the header is built by hand so that it is byte for byte what Python's
 * json.dumps(header, separators=(",", ":"), ensure_ascii=False) writes: "__metadata__" first
 * (only if there is metadata), then the tensors in the caller's order with consecutive
 * offsets, padded with spaces to a multiple of 8 bytes. The data is written in one pass,
 * F16/BF16 (and strided views) converted chunk by chunk, through dc_write_file_atomic.
 */
#define _POSIX_C_SOURCE 200809L /* pread, fstat under strict C11 too */
#define _FILE_OFFSET_BITS 64

#include "safetensors.h"

#include "../base/atomic_file.h"
#include "../tensor/tensor.h"
#include "dtype.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define ST_MAX_HEADER 100000000ull    /* the format's header size limit */
#define ST_MAX_INT (UINT64_C(1) << 53) /* shapes and offsets stay below 2^53 */
#define ST_CHUNK ((size_t)1 << 16)     /* elements converted at a time */
#define ST_META "__metadata__"
#define NAME_FMT "\"%.200s\"" /* names in messages, cut at 200 bytes */

typedef struct st_tensor {
    const char *name;
    dc_dtype dtype;
    int ndim; /* as in the file: 0 for a scalar (reported as shape [1]) */
    int64_t shape[DC_MAX_DIMS];
    int64_t numel;
    uint64_t begin, end; /* relative to the data section */
    int order;           /* position in the header */
} st_tensor;

typedef struct st_name {
    const char *name;
    int idx;
} st_name;

struct dc_safetensors {
    char *path;
    int fd;
    uint64_t data_start, data_size;
    int n;
    st_tensor *t;     /* in the order of the data */
    st_name *by_name; /* sorted by name */
    int nmeta;
    st_name *meta;    /* keys sorted; idx into mval */
    char **mval;
    char *strings;    /* one block holding every name, key and value */
};

/* ------------------------------------------------------------------------------------- */
/* shared helpers                                                                        */
/* ------------------------------------------------------------------------------------- */

/* Length of the valid UTF-8 prefix of s[0..n) (n if all of it is valid). */
static size_t utf8_valid_prefix(const unsigned char *s, size_t n) {
    size_t i = 0;
    while (i < n) {
        unsigned c = s[i];
        size_t len;
        uint32_t cp, min;
        if (c < 0x80) {
            i++;
            continue;
        } else if ((c & 0xe0) == 0xc0) len = 2, cp = c & 0x1f, min = 0x80;
        else if ((c & 0xf0) == 0xe0) len = 3, cp = c & 0x0f, min = 0x800;
        else if ((c & 0xf8) == 0xf0) len = 4, cp = c & 0x07, min = 0x10000;
        else return i;
        if (n - i < len) return i;
        for (size_t k = 1; k < len; k++) {
            if ((s[i + k] & 0xc0) != 0x80) return i;
            cp = cp << 6 | (s[i + k] & 0x3f);
        }
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return i;
        i += len;
    }
    return n;
}

static bool utf8_ok(const char *s) {
    size_t n = strlen(s);
    return utf8_valid_prefix((const unsigned char *)s, n) == n;
}

static int name_cmp(const void *a, const void *b) {
    return strcmp(((const st_name *)a)->name, ((const st_name *)b)->name);
}

/* "F32 [3, 4]" (a scalar's file shape is "[]") */
static const char *dtype_shape(dc_dtype dt, int ndim, const int64_t *shape, char *buf, size_t size) {
    size_t k = (size_t)snprintf(buf, size, "%s ", dc_dtype_name(dt));
    if (k < size) dc_shape_str(ndim, shape, buf + k, size - k);
    return buf;
}

/* ------------------------------------------------------------------------------------- */
/* reading: the header                                                                   */
/* ------------------------------------------------------------------------------------- */

/* Reads exactly n bytes at off; DC_ERR_IO naming `what` on a read error or an early end. */
static dc_status pread_full(int fd, const char *path, void *buf, size_t n, uint64_t off, const char *what) {
    char *p = buf;
    while (n) {
        size_t want = DC_MIN(n, (size_t)1 << 30);
        ssize_t r = pread(fd, p, want, (off_t)off);
        if (r < 0) {
            if (errno == EINTR) continue;
            return dc_error(DC_ERR_IO, "%s: cannot read %s: %s", path, what, strerror(errno));
        }
        if (r == 0)
            return dc_error(DC_ERR_IO, "%s: the file ends at byte %llu while reading %s (was it changed after opening?)",
                            path, (unsigned long long)off, what);
        p += r;
        n -= (size_t)r;
        off += (uint64_t)r;
    }
    return DC_OK;
}

/* The first number in a tensor's "shape" or "data_offsets" that is not written as a plain
 * non-negative integer below 2^53: cJSON reads "1.0" and "1e3" as integer-valued doubles and
 * rounds 2^53 + 1 to 2^53, so the header text itself is checked. */
typedef struct scan_bad {
    int entry;         /* index among the header's top-level keys, -1 if none */
    const char *field; /* "shape" or "data_offsets" */
    const char *why;   /* "not a non-negative integer" or "beyond 2^53" */
    char lit[48];      /* the literal as written (cut) */
} scan_bad;

static bool json_ws(unsigned char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

static bool raw_eq(const char *s, size_t n, const char *lit) { return n == strlen(lit) && memcmp(s, lit, n) == 0; }

/* Walks a header that cJSON has parsed. Refuses what cJSON lets through: control bytes inside
 * strings or outside them (JSON allows only space, tab, CR and LF), and "\u0000", which no C
 * string can hold. Notes in *bad the first badly written integer of a shape or data_offsets. */
static dc_status scan_header(const char *path, const char *h, size_t len, scan_bad *bad) {
    int depth = 0, entry = -1;
    const char *k1 = NULL, *k2 = NULL;
    size_t l1 = 0, l2 = 0;
    bad->entry = -1;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)h[i];
        if (c == '"') {
            size_t s = ++i;
            while (i < len && h[i] != '"') {
                unsigned char d = (unsigned char)h[i];
                if (d < 0x20)
                    return dc_error(DC_ERR_FORMAT, "%s: header is not valid JSON: control byte 0x%02x inside a string at byte %zu",
                                    path, d, i);
                if (d == '\\') {
                    if (i + 5 < len && h[i + 1] == 'u' && memcmp(h + i + 2, "0000", 4) == 0)
                        return dc_error(DC_ERR_FORMAT, "%s: header string holds \\u0000 (a NUL character) at byte %zu",
                                        path, i);
                    i++;
                }
                i++;
            }
            size_t slen = (i < len ? i : len) - s, j = i + 1;
            while (j < len && json_ws((unsigned char)h[j])) j++;
            if (j < len && h[j] == ':') { /* a key */
                if (depth == 1) {
                    entry++;
                    k1 = h + s;
                    l1 = slen;
                    k2 = NULL;
                } else if (depth == 2) {
                    k2 = h + s;
                    l2 = slen;
                }
            }
            continue;
        }
        if (c == '{' || c == '[') depth++;
        else if (c == '}' || c == ']') depth--;
        else if (c == '-' || (c >= '0' && c <= '9')) {
            size_t s = i;
            while (i + 1 < len && h[i + 1] && strchr("+-.eE0123456789", h[i + 1])) i++;
            size_t tl = i - s + 1;
            bool plain = !(tl > 1 && h[s] == '0'), big = false;
            uint64_t v = 0;
            for (size_t k = s; k <= i; k++) {
                plain = plain && h[k] >= '0' && h[k] <= '9';
                if (plain && !big) v = v * 10 + (uint64_t)(h[k] - '0');
                big = big || v >= ST_MAX_INT;
            }
            if ((!plain || big) && bad->entry < 0 && depth == 3 && k1 && !raw_eq(k1, l1, ST_META) && k2) {
                const char *field = raw_eq(k2, l2, "shape") ? "shape" : raw_eq(k2, l2, "data_offsets") ? "data_offsets" : NULL;
                if (field) {
                    bad->entry = entry;
                    bad->field = field;
                    bad->why = plain ? "beyond 2^53" : "not a non-negative integer";
                    snprintf(bad->lit, sizeof bad->lit, "%.*s", (int)DC_MIN(tl, sizeof bad->lit - 1), h + s);
                }
            }
        } else if (c < 0x20 && !json_ws(c))
            return dc_error(DC_ERR_FORMAT, "%s: header is not valid JSON: control byte 0x%02x at byte %zu", path, c, i);
    }
    return DC_OK;
}

/* Reads the integers of a shape or data_offsets array into v[0..n). */
static dc_status read_ints(const char *path, const char *name, const char *field, const cJSON *arr, int k,
                           const scan_bad *bad, uint64_t *v) {
    if (bad->entry == k && bad->field && strcmp(bad->field, field) == 0)
        return dc_error(DC_ERR_FORMAT, "%s: tensor " NAME_FMT " %s holds %s, %s", path, name, field, bad->lit, bad->why);
    int i = 0;
    for (const cJSON *x = arr->child; x; x = x->next, i++) {
        if (!cJSON_IsNumber(x))
            return dc_error(DC_ERR_FORMAT, "%s: tensor " NAME_FMT " %s element %d is not a number", path, name, field, i);
        double d = x->valuedouble;
        if (!(d >= 0) || floor(d) != d)
            return dc_error(DC_ERR_FORMAT, "%s: tensor " NAME_FMT " %s holds %.17g, not a non-negative integer", path,
                            name, field, d);
        if (d >= (double)ST_MAX_INT)
            return dc_error(DC_ERR_FORMAT, "%s: tensor " NAME_FMT " %s holds %.17g, beyond 2^53", path, name, field, d);
        v[i] = (uint64_t)d;
    }
    return DC_OK;
}

/* The field `key` of a tensor entry: NULL if absent; an error if it appears twice. */
static dc_status entry_field(const char *path, const char *name, const cJSON *e, const char *key, const cJSON **out) {
    *out = NULL;
    for (const cJSON *x = e->child; x; x = x->next) {
        if (!x->string || strcmp(x->string, key) != 0) continue;
        if (*out) return dc_error(DC_ERR_FORMAT, "%s: tensor " NAME_FMT " has two \"%s\" fields", path, name, key);
        *out = x;
    }
    return DC_OK;
}

/* Validates entry number k (a tensor) of the header into t. */
static dc_status parse_entry(const char *path, const cJSON *e, int k, uint64_t data_size, const scan_bad *bad,
                             st_tensor *t) {
    const char *name = e->string;
    if (!cJSON_IsObject(e))
        return dc_error(DC_ERR_FORMAT, "%s: tensor " NAME_FMT " is not an object (an entry holds dtype, shape and data_offsets)",
                        path, name);
    const cJSON *jd, *js, *jo;
    dc_status s;
    if ((s = entry_field(path, name, e, "dtype", &jd)) || (s = entry_field(path, name, e, "shape", &js)) ||
        (s = entry_field(path, name, e, "data_offsets", &jo)))
        return s;
    if (!cJSON_IsString(jd))
        return dc_error(DC_ERR_FORMAT, "%s: tensor " NAME_FMT " has no \"dtype\" string", path, name);
    t->dtype = dc_dtype_from_name(jd->valuestring);
    if (t->dtype == DC_DTYPE_COUNT)
        return dc_error(DC_ERR_FORMAT,
                        "%s: tensor " NAME_FMT " has dtype \"%.40s\", which deepc does not read (it reads F32, F64, F16, "
                        "BF16, I8, I16, I32, I64, U8, U16, U32, U64 and BOOL)",
                        path, name, jd->valuestring);
    if (!cJSON_IsArray(js))
        return dc_error(DC_ERR_FORMAT, "%s: tensor " NAME_FMT " has no \"shape\" array", path, name);
    int nd = cJSON_GetArraySize(js);
    if (nd > DC_MAX_DIMS)
        return dc_error(DC_ERR_FORMAT, "%s: tensor " NAME_FMT " shape has %d dimensions, more than deepc's %d", path, name,
                        nd, DC_MAX_DIMS);
    uint64_t dims[DC_MAX_DIMS], off[2];
    if ((s = read_ints(path, name, "shape", js, k, bad, dims))) return s;
    t->ndim = nd;
    int64_t numel = 1;
    bool overflow = false;
    for (int i = 0; i < nd; i++) {
        t->shape[i] = (int64_t)dims[i];
        overflow = overflow || __builtin_mul_overflow(numel, t->shape[i], &numel);
    }
    char sb[200], ob[64];
    if (overflow)
        return dc_error(DC_ERR_FORMAT, "%s: tensor " NAME_FMT " shape %s has more elements than fit in 64 bits", path,
                        name, dc_shape_str(nd, t->shape, sb, sizeof sb));
    t->numel = numel;
    if (!cJSON_IsArray(jo) || cJSON_GetArraySize(jo) != 2)
        return dc_error(DC_ERR_FORMAT, "%s: tensor " NAME_FMT " has no \"data_offsets\" array of two integers", path, name);
    if ((s = read_ints(path, name, "data_offsets", jo, k, bad, off))) return s;
    t->begin = off[0];
    t->end = off[1];
    snprintf(ob, sizeof ob, "[%llu, %llu]", (unsigned long long)off[0], (unsigned long long)off[1]);
    if (t->begin > t->end)
        return dc_error(DC_ERR_FORMAT, "%s: tensor " NAME_FMT " data_offsets %s begin after they end", path, name, ob);
    if (t->end > data_size)
        return dc_error(DC_ERR_FORMAT, "%s: tensor " NAME_FMT " data_offsets %s run past the end of the data section (%llu bytes)",
                        path, name, ob, (unsigned long long)data_size);
    uint64_t need;
    dtype_shape(t->dtype, nd, t->shape, sb, sizeof sb);
    if (__builtin_mul_overflow((uint64_t)numel, (uint64_t)dc_dtype_size(t->dtype), &need))
        return dc_error(DC_ERR_FORMAT, "%s: tensor " NAME_FMT " data_offsets %s hold %llu bytes but %s needs more than 2^64",
                        path, name, ob, (unsigned long long)(t->end - t->begin), sb);
    if (t->end - t->begin != need)
        return dc_error(DC_ERR_FORMAT, "%s: tensor " NAME_FMT " data_offsets %s hold %llu bytes but %s needs %llu", path,
                        name, ob, (unsigned long long)(t->end - t->begin), sb, (unsigned long long)need);
    return DC_OK;
}

static int data_cmp(const void *a, const void *b) {
    const st_tensor *x = a, *y = b;
    if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
    if (x->end != y->end) return x->end < y->end ? -1 : 1;
    return (x->order > y->order) - (x->order < y->order);
}

/* The tensors, sorted by offsets, must tile [0, data_size) exactly. */
static dc_status check_coverage(const char *path, const st_tensor *t, int n, uint64_t data_size) {
    uint64_t at = 0;
    for (int i = 0; i < n; i++) {
        if (t[i].begin > at)
            return dc_error(DC_ERR_FORMAT, "%s: data bytes [%llu, %llu) belong to no tensor (a hole before tensor " NAME_FMT
                            " at [%llu, %llu])",
                            path, (unsigned long long)at, (unsigned long long)t[i].begin, t[i].name,
                            (unsigned long long)t[i].begin, (unsigned long long)t[i].end);
        if (t[i].begin < at)
            return dc_error(DC_ERR_FORMAT, "%s: tensor " NAME_FMT " data_offsets [%llu, %llu] overlap tensor " NAME_FMT
                            " [%llu, %llu]",
                            path, t[i].name, (unsigned long long)t[i].begin, (unsigned long long)t[i].end, t[i - 1].name,
                            (unsigned long long)t[i - 1].begin, (unsigned long long)t[i - 1].end);
        at = t[i].end;
    }
    if (at != data_size)
        return dc_error(DC_ERR_FORMAT, "%s: the data section holds %llu bytes but the tensors cover only [0, %llu)", path,
                        (unsigned long long)data_size, (unsigned long long)at);
    return DC_OK;
}

/* Validates the parsed header and fills st (names, tensors, metadata). */
static dc_status build(dc_safetensors *st, const cJSON *root, const scan_bad *bad) {
    const char *path = st->path;
    if (!cJSON_IsObject(root)) return dc_error(DC_ERR_FORMAT, "%s: header is not a JSON object", path);
    const cJSON *meta = NULL;
    size_t nt = 0, strbytes = 0;
    for (const cJSON *e = root->child; e; e = e->next) {
        strbytes += strlen(e->string) + 1;
        if (strcmp(e->string, ST_META) != 0) {
            nt++;
            continue;
        }
        if (meta) return dc_error(DC_ERR_FORMAT, "%s: header holds two \"__metadata__\" objects", path);
        meta = e;
        if (!cJSON_IsObject(e)) return dc_error(DC_ERR_FORMAT, "%s: \"__metadata__\" is not an object", path);
        for (const cJSON *m = e->child; m; m = m->next) {
            if (!cJSON_IsString(m))
                return dc_error(DC_ERR_FORMAT, "%s: \"__metadata__\" value of key " NAME_FMT " is not a string", path,
                                m->string);
            strbytes += strlen(m->string) + strlen(m->valuestring) + 2;
            st->nmeta++;
        }
    }
    if (nt > INT_MAX / 2) return dc_error(DC_ERR_FORMAT, "%s: header holds %zu tensors, too many", path, nt);
    st->n = (int)nt;
    st->t = dc_calloc(nt ? nt : 1, sizeof *st->t);
    st->by_name = dc_calloc(nt ? nt : 1, sizeof *st->by_name);
    st->meta = dc_calloc(st->nmeta ? (size_t)st->nmeta : 1, sizeof *st->meta);
    st->mval = dc_calloc(st->nmeta ? (size_t)st->nmeta : 1, sizeof *st->mval);
    st->strings = dc_alloc(strbytes ? strbytes : 1);
    if (!st->t || !st->by_name || !st->meta || !st->mval || !st->strings) return DC_ERR_NOMEM;
    char *sp = st->strings;
    int k = 0, j = 0;
    for (const cJSON *e = root->child; e; e = e->next, k++) {
        size_t len = strlen(e->string) + 1;
        memcpy(sp, e->string, len);
        if (e == meta) {
            int m = 0;
            for (const cJSON *x = e->child; x; x = x->next, m++) {
                size_t kl = strlen(x->string) + 1, vl = strlen(x->valuestring) + 1;
                memcpy(sp, x->string, kl);
                st->meta[m] = (st_name){sp, m};
                sp += kl;
                memcpy(sp, x->valuestring, vl);
                st->mval[m] = sp;
                sp += vl;
            }
            continue;
        }
        st_tensor *t = &st->t[j];
        t->name = sp;
        t->order = j;
        sp += len;
        dc_status s = parse_entry(path, e, k, st->data_size, bad, t);
        if (s) return s;
        j++;
    }
    qsort(st->meta, (size_t)st->nmeta, sizeof *st->meta, name_cmp);
    for (int i = 1; i < st->nmeta; i++)
        if (strcmp(st->meta[i].name, st->meta[i - 1].name) == 0)
            return dc_error(DC_ERR_FORMAT, "%s: \"__metadata__\" holds key " NAME_FMT " twice", path, st->meta[i].name);
    for (int i = 0; i < st->n; i++) st->by_name[i] = (st_name){st->t[i].name, i};
    qsort(st->by_name, (size_t)st->n, sizeof *st->by_name, name_cmp);
    for (int i = 1; i < st->n; i++)
        if (strcmp(st->by_name[i].name, st->by_name[i - 1].name) == 0)
            return dc_error(DC_ERR_FORMAT, "%s: tensor " NAME_FMT " appears twice in the header", path, st->by_name[i].name);
    qsort(st->t, (size_t)st->n, sizeof *st->t, data_cmp);
    dc_status s = check_coverage(path, st->t, st->n, st->data_size);
    if (s) return s;
    for (int i = 0; i < st->n; i++) st->by_name[i] = (st_name){st->t[i].name, i}; /* data order now */
    qsort(st->by_name, (size_t)st->n, sizeof *st->by_name, name_cmp);
    return DC_OK;
}

/* Reads, checks and parses the header of the open file. */
static dc_status read_header(dc_safetensors *st, uint64_t fsize) {
    const char *path = st->path;
    if (fsize < 8)
        return dc_error(DC_ERR_FORMAT, "%s: %llu bytes are too short for a safetensors file (it starts with an 8-byte header size)",
                        path, (unsigned long long)fsize);
    unsigned char b8[8];
    dc_status s = pread_full(st->fd, path, b8, 8, 0, "the header size");
    if (s) return s;
    uint64_t n = 0;
    for (int i = 0; i < 8; i++) n |= (uint64_t)b8[i] << (8 * i);
    if (n > ST_MAX_HEADER)
        return dc_error(DC_ERR_FORMAT, "%s: header size %llu is over the format's limit of %llu bytes", path,
                        (unsigned long long)n, ST_MAX_HEADER);
    if (n > fsize - 8)
        return dc_error(DC_ERR_FORMAT, "%s: header size %llu runs past the end of the file (%llu bytes follow the size)",
                        path, (unsigned long long)n, (unsigned long long)(fsize - 8));
    st->data_start = 8 + n;
    st->data_size = fsize - 8 - n;
    char *h = dc_alloc((size_t)n + 1);
    if (!h) return DC_ERR_NOMEM;
    s = pread_full(st->fd, path, h, (size_t)n, 8, "the header");
    h[n] = 0;
    if (!s && (n == 0 || h[0] != '{'))
        s = dc_error(DC_ERR_FORMAT, "%s: header does not start with '{' (%llu header bytes; is this a safetensors file?)",
                     path, (unsigned long long)n);
    size_t ok = s ? 0 : utf8_valid_prefix((const unsigned char *)h, (size_t)n);
    if (!s && ok != n)
        s = dc_error(DC_ERR_FORMAT, "%s: header is not valid UTF-8 (byte 0x%02x at offset %zu)", path,
                     (unsigned char)h[ok], ok);
    cJSON *root = NULL;
    if (!s) {
        const char *end = NULL;
        root = cJSON_ParseWithLengthOpts(h, (size_t)n, &end, false);
        size_t at = end ? (size_t)(end - h) : 0;
        if (!root)
            s = dc_error(DC_ERR_FORMAT, "%s: header is not valid JSON (error near byte %zu of %llu)", path, at,
                         (unsigned long long)n);
        else {
            while (at < n && json_ws((unsigned char)h[at])) at++;
            if (at < n)
                s = dc_error(DC_ERR_FORMAT, "%s: header is not valid JSON: byte %zu of %llu follows the object", path,
                             at, (unsigned long long)n);
        }
    }
    scan_bad bad;
    if (!s) s = scan_header(path, h, (size_t)n, &bad);
    if (!s) s = build(st, root, &bad);
    cJSON_Delete(root);
    dc_free(h);
    return s;
}

dc_safetensors *dc_safetensors_open(const char *path) {
    if (!path || !*path) return dc_error_null(DC_ERR_ARG, "dc_safetensors_open: path is NULL or empty");
    dc_safetensors *st = dc_calloc(1, sizeof *st);
    if (!st) return NULL;
    st->fd = -1;
    size_t pl = strlen(path) + 1;
    st->path = dc_alloc(pl);
    if (!st->path) {
        dc_free(st);
        return NULL;
    }
    memcpy(st->path, path, pl);
    dc_status s = DC_OK;
    st->fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat sb;
    if (st->fd < 0) s = dc_error(DC_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    else if (fstat(st->fd, &sb) != 0) s = dc_error(DC_ERR_IO, "%s: cannot stat: %s", path, strerror(errno));
    else if (!S_ISREG(sb.st_mode)) s = dc_error(DC_ERR_IO, "%s: not a regular file", path);
    else s = read_header(st, (uint64_t)sb.st_size);
    if (s) {
        dc_safetensors_close(st);
        return NULL;
    }
    return st;
}

void dc_safetensors_close(dc_safetensors *st) {
    if (!st) return;
    if (st->fd >= 0) close(st->fd);
    dc_free(st->path);
    dc_free(st->t);
    dc_free(st->by_name);
    dc_free(st->meta);
    dc_free(st->mval);
    dc_free(st->strings);
    dc_free(st);
}

/* ------------------------------------------------------------------------------------- */
/* reading: queries and data                                                             */
/* ------------------------------------------------------------------------------------- */

int dc_safetensors_count(const dc_safetensors *st) { return st ? st->n : 0; }

static const st_tensor *tensor_at(const dc_safetensors *st, int i) {
    return st && i >= 0 && i < st->n ? &st->t[i] : NULL;
}

const char *dc_safetensors_name(const dc_safetensors *st, int i) {
    const st_tensor *t = tensor_at(st, i);
    return t ? t->name : NULL;
}

int dc_safetensors_find(const dc_safetensors *st, const char *name) {
    if (!st || !name) return -1;
    st_name key = {name, 0};
    const st_name *hit = bsearch(&key, st->by_name, (size_t)st->n, sizeof key, name_cmp);
    return hit ? hit->idx : -1;
}

/* The shape deepc reports: a scalar is [1]. */
static int report_shape(const st_tensor *t, int64_t *shape) {
    if (t->ndim == 0) {
        shape[0] = 1;
        return 1;
    }
    memcpy(shape, t->shape, (size_t)t->ndim * sizeof *shape);
    return t->ndim;
}

int dc_safetensors_shape(const dc_safetensors *st, int i, int64_t *shape, dc_dtype *dtype) {
    const st_tensor *t = tensor_at(st, i);
    if (!t) return -1;
    int64_t tmp[DC_MAX_DIMS];
    int nd = report_shape(t, shape ? shape : tmp);
    if (dtype) *dtype = t->dtype;
    return nd;
}

int64_t dc_st_numel(const dc_safetensors *st, int i) {
    const st_tensor *t = tensor_at(st, i);
    return t ? t->numel : -1;
}

const char *dc_st_path(const dc_safetensors *st) { return st ? st->path : NULL; }

const char *dc_safetensors_meta(const dc_safetensors *st, const char *key) {
    if (!st || !key) return NULL;
    st_name k = {key, 0};
    const st_name *hit = bsearch(&k, st->meta, (size_t)st->nmeta, sizeof k, name_cmp);
    return hit ? st->mval[hit->idx] : NULL;
}

/* Names element i of a tensor that does not fit float32, with its value (raw little-endian bytes at p). */
static dc_status inexact(const dc_safetensors *st, const st_tensor *t, int64_t i, const uint8_t *p) {
    size_t sz = dc_dtype_size(t->dtype);
    uint64_t u = 0;
    for (size_t k = 0; k < sz; k++) u |= (uint64_t)p[k] << (8 * k);
    char v[64];
    if (t->dtype == DC_DTYPE_F64) {
        double d;
        memcpy(&d, &u, 8);
        snprintf(v, sizeof v, "%.10g, beyond float32's range", d);
    } else if (t->dtype >= DC_DTYPE_I8 && t->dtype <= DC_DTYPE_I64) {
        int64_t s = sz == 8 ? (int64_t)u : (int64_t)(u << (64 - 8 * sz)) >> (64 - 8 * sz);
        snprintf(v, sizeof v, "%lld, which float32 cannot hold exactly", (long long)s);
    } else {
        snprintf(v, sizeof v, "%llu, which float32 cannot hold exactly", (unsigned long long)u);
    }
    return dc_error(DC_ERR_NUMERIC, "%s: tensor " NAME_FMT " element %lld is %s %s", st->path, t->name, (long long)i,
                    dc_dtype_name(t->dtype), v);
}

dc_status dc_st_read_f32(const dc_safetensors *st, int i, float *dst, int64_t n) {
    if (!st) return dc_error(DC_ERR_ARG, "dc_st_read_f32: file is NULL");
    const st_tensor *t = tensor_at(st, i);
    if (!t) return dc_error(DC_ERR_ARG, "%s: no tensor number %d (the file holds %d)", st->path, i, st->n);
    if (n != t->numel)
        return dc_error(DC_ERR_SHAPE, "%s: tensor " NAME_FMT " has %lld elements, the destination %lld", st->path, t->name,
                        (long long)t->numel, (long long)n);
    if (n == 0) return DC_OK;
    if (!dst) return dc_error(DC_ERR_ARG, "%s: tensor " NAME_FMT ": destination is NULL", st->path, t->name);
    char what[256];
    snprintf(what, sizeof what, "tensor " NAME_FMT, t->name);
    uint64_t off = st->data_start + t->begin;
    if (t->dtype == DC_DTYPE_F32) /* little-endian float32: straight into dst */
        return pread_full(st->fd, st->path, dst, (size_t)n * 4, off, what);
    size_t sz = dc_dtype_size(t->dtype);
    size_t chunk = (size_t)DC_MIN((int64_t)ST_CHUNK, n);
    uint8_t *buf = dc_alloc(chunk * sz);
    if (!buf) return DC_ERR_NOMEM;
    dc_status s = DC_OK;
    for (int64_t done = 0; done < n && !s; done += (int64_t)chunk) {
        size_t m = (size_t)DC_MIN((int64_t)chunk, n - done);
        s = pread_full(st->fd, st->path, buf, m * sz, off + (uint64_t)done * sz, what);
        int64_t bad = 0;
        if (!s && dc_dtype_to_f32(t->dtype, buf, dst + done, (int64_t)m, false, &bad) != DC_OK)
            s = inexact(st, t, done + bad, buf + (size_t)bad * sz);
    }
    dc_free(buf);
    return s;
}

static int find_or_error(const dc_safetensors *st, const char *name, const char *fn) {
    if (!st || !name) {
        dc_error(DC_ERR_ARG, "%s: file or name is NULL", fn);
        return -1;
    }
    int i = dc_safetensors_find(st, name);
    if (i < 0) dc_error(DC_ERR_ARG, "%s: no tensor " NAME_FMT " (the file holds %d tensors)", st->path, name, st->n);
    return i;
}

dc_tensor *dc_safetensors_read(const dc_safetensors *st, const char *name) {
    int i = find_or_error(st, name, "dc_safetensors_read");
    if (i < 0) return NULL;
    int64_t shape[DC_MAX_DIMS];
    int nd = report_shape(&st->t[i], shape);
    dc_tensor *t = dc_tensor_alloc(nd, shape);
    if (!t) {
        dc_error_prefix("%s: tensor " NAME_FMT, st->path, name);
        return NULL;
    }
    if (dc_st_read_f32(st, i, t->data, t->numel) != DC_OK) {
        dc_tensor_free(t);
        return NULL;
    }
    return t;
}

dc_status dc_safetensors_read_into(const dc_safetensors *st, const char *name, dc_tensor *dst) {
    int i = find_or_error(st, name, "dc_safetensors_read_into");
    if (i < 0) return dc_last_status();
    if (!dst) return dc_error(DC_ERR_ARG, "%s: tensor " NAME_FMT ": destination tensor is NULL", st->path, name);
    int64_t shape[DC_MAX_DIMS];
    int nd = report_shape(&st->t[i], shape);
    bool same = nd == dst->ndim;
    for (int d = 0; same && d < nd; d++) same = shape[d] == dst->shape[d];
    char a[200];
    if (!same)
        return dc_error(DC_ERR_SHAPE, "%s: tensor " NAME_FMT " is %s in the file but the destination is %s", st->path, name,
                        dc_shape_str(nd, shape, a, sizeof a), dc_tshape(dst, 0));
    if (!dc_tensor_is_contiguous(dst))
        return dc_error(DC_ERR_ARG, "%s: tensor " NAME_FMT ": the destination %s is not contiguous", st->path, name,
                        dc_tshape(dst, 0));
    return dc_st_read_f32(st, i, dst->data, dst->numel);
}

/* ------------------------------------------------------------------------------------- */
/* writing                                                                               */
/* ------------------------------------------------------------------------------------- */

typedef struct strbuf {
    char *p;
    size_t n, cap;
    bool oom;
} strbuf;

static void sb_put(strbuf *b, const char *s, size_t n) {
    if (b->oom) return;
    if (b->n + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->n + n + 1) cap *= 2;
        char *p = dc_realloc(b->p, cap);
        if (!p) {
            b->oom = true;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = 0;
}

static void sb_str(strbuf *b, const char *s) { sb_put(b, s, strlen(s)); }

/* A JSON string as Python's json.dumps(ensure_ascii=False) writes it. */
static void sb_json(strbuf *b, const char *s) {
    sb_put(b, "\"", 1);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        char esc[8];
        switch (*p) {
        case '"': sb_put(b, "\\\"", 2); break;
        case '\\': sb_put(b, "\\\\", 2); break;
        case '\n': sb_put(b, "\\n", 2); break;
        case '\r': sb_put(b, "\\r", 2); break;
        case '\t': sb_put(b, "\\t", 2); break;
        case '\b': sb_put(b, "\\b", 2); break;
        case '\f': sb_put(b, "\\f", 2); break;
        default:
            if (*p < 0x20) {
                snprintf(esc, sizeof esc, "\\u%04x", *p);
                sb_put(b, esc, 6);
            } else sb_put(b, (const char *)p, 1);
        }
    }
    sb_put(b, "\"", 1);
}

typedef struct st_job {
    const dc_st_entry *e;
    const dc_tensor *const *views; /* per entry, or NULL: the source when set */
    int n;
    dc_dtype dtype;
    const int64_t *numel;
    const char *hdr;
    size_t hlen;
} st_job;

/* Copies elements [start, start + cnt) in C order of the view t into dst. */
static void gather(const dc_tensor *t, int64_t start, int64_t cnt, float *dst) {
    int64_t idx[DC_MAX_DIMS], off = 0, rest = start;
    for (int d = t->ndim - 1; d >= 0; d--) {
        idx[d] = t->shape[d] ? rest % t->shape[d] : 0;
        rest = t->shape[d] ? rest / t->shape[d] : 0;
        off += idx[d] * t->stride[d];
    }
    for (int64_t k = 0; k < cnt; k++) {
        dst[k] = t->data[off];
        for (int d = t->ndim - 1; d >= 0; d--) { /* next index, odometer style */
            off += t->stride[d];
            if (++idx[d] < t->shape[d]) break;
            off -= idx[d] * t->stride[d];
            idx[d] = 0;
        }
    }
}

static dc_status write_body(FILE *f, void *arg) {
    const st_job *j = arg;
    uint8_t n8[8];
    for (int i = 0; i < 8; i++) n8[i] = (uint8_t)((uint64_t)j->hlen >> (8 * i));
    fwrite(n8, 1, 8, f);
    fwrite(j->hdr, 1, j->hlen, f);
    float *fb = NULL;    /* a chunk gathered from a strided view */
    uint16_t *hb = NULL; /* a chunk converted to F16/BF16 */
    dc_status s = DC_OK;
    for (int i = 0; i < j->n && !s && !ferror(f); i++) {
        const dc_tensor *v = j->views ? j->views[i] : NULL;
        int64_t n = j->numel[i];
        bool direct = !v || dc_tensor_is_contiguous(v);
        const float *src = v ? v->data : j->e[i].data;
        if (direct && j->dtype == DC_DTYPE_F32) {
            if (n) fwrite(src, 4, (size_t)n, f);
            continue;
        }
        if ((!fb && !direct && !(fb = dc_alloc(ST_CHUNK * sizeof *fb))) ||
            (!hb && j->dtype != DC_DTYPE_F32 && !(hb = dc_alloc(ST_CHUNK * sizeof *hb)))) {
            s = DC_ERR_NOMEM;
            break;
        }
        for (int64_t done = 0; done < n && !ferror(f); done += (int64_t)ST_CHUNK) {
            size_t m = (size_t)DC_MIN((int64_t)ST_CHUNK, n - done);
            const float *c = fb;
            if (direct) c = src + done;
            else gather(v, done, (int64_t)m, fb);
            if (j->dtype == DC_DTYPE_F32) fwrite(c, 4, m, f);
            else {
                dc_dtype_from_f32(j->dtype, c, hb, (int64_t)m, NULL);
                fwrite(hb, 2, m, f);
            }
        }
    }
    dc_free(fb);
    dc_free(hb);
    return s; /* the caller checks the stream's error flag */
}

static int ptr_cmp(const void *a, const void *b) { return strcmp(*(const char *const *)a, *(const char *const *)b); }

/* Returns the first string that occurs twice among s[0..n), or NULL (NULL on allocation failure too, with err set). */
static const char *first_duplicate(const char *const *s, int n, bool *nomem) {
    *nomem = false;
    if (n < 2) return NULL;
    const char **c = dc_alloc((size_t)n * sizeof *c);
    if (!c) {
        *nomem = true;
        return NULL;
    }
    memcpy(c, s, (size_t)n * sizeof *c);
    qsort(c, (size_t)n, sizeof *c, ptr_cmp);
    const char *dup = NULL;
    for (int i = 1; i < n && !dup; i++)
        if (strcmp(c[i], c[i - 1]) == 0) dup = c[i];
    dc_free(c);
    return dup;
}

static dc_status write_impl(const char *path, const dc_st_entry *e, const dc_tensor *const *views, int n,
                            dc_dtype dtype, int nmeta, const char *const *keys, const char *const *values) {
    const char *p = path ? path : "(null)";
    if (!path || !*path) return dc_error(DC_ERR_ARG, "writing safetensors: path is NULL or empty");
    if (dtype != DC_DTYPE_F32 && dtype != DC_DTYPE_F16 && dtype != DC_DTYPE_BF16)
        return dc_error(DC_ERR_ARG, "%s: deepc writes safetensors as F32, F16 or BF16, not %s", p, dc_dtype_name(dtype));
    if (n < 0 || nmeta < 0 || (n > 0 && !e) || (nmeta > 0 && (!keys || !values)))
        return dc_error(DC_ERR_ARG, "%s: %d tensors and %d metadata pairs (negative counts or NULL arrays)", p, n, nmeta);
    for (int i = 0; i < nmeta; i++) {
        if (!keys[i] || !values[i])
            return dc_error(DC_ERR_ARG, "%s: metadata pair %d has a NULL key or value", p, i);
        if (!utf8_ok(keys[i]) || !utf8_ok(values[i]))
            return dc_error(DC_ERR_ARG, "%s: metadata pair %d (key " NAME_FMT ") is not valid UTF-8", p, i, keys[i]);
    }
    bool nomem;
    const char *dup = first_duplicate(keys, nmeta, &nomem);
    if (nomem) return DC_ERR_NOMEM;
    if (dup) return dc_error(DC_ERR_ARG, "%s: metadata key " NAME_FMT " is given twice", p, dup);
    int64_t *numel = dc_alloc((size_t)(n ? n : 1) * sizeof *numel);
    const char **names = dc_alloc((size_t)(n ? n : 1) * sizeof *names);
    strbuf hb = {0};
    dc_status s = DC_OK;
    if (!numel || !names) s = DC_ERR_NOMEM;
    uint64_t total = 0;
    size_t esz = dc_dtype_size(dtype);
    for (int i = 0; i < n && !s; i++) {
        const char *nm = e[i].name;
        names[i] = nm;
        if (!nm || !*nm) s = dc_error(DC_ERR_ARG, "%s: tensor %d has a NULL or empty name", p, i);
        else if (strcmp(nm, ST_META) == 0)
            s = dc_error(DC_ERR_ARG, "%s: tensor %d is named \"__metadata__\", the format's metadata key", p, i);
        else if (!utf8_ok(nm)) s = dc_error(DC_ERR_ARG, "%s: tensor %d name " NAME_FMT " is not valid UTF-8", p, i, nm);
        else if (e[i].ndim < 0 || e[i].ndim > DC_MAX_DIMS || (e[i].ndim && !e[i].shape))
            s = dc_error(DC_ERR_ARG, "%s: tensor " NAME_FMT " has rank %d (0..%d with a shape)", p, nm, e[i].ndim, DC_MAX_DIMS);
        if (s) break;
        int64_t m = 1;
        bool bad = false;
        for (int d = 0; d < e[i].ndim; d++)
            bad = bad || e[i].shape[d] < 0 || __builtin_mul_overflow(m, e[i].shape[d], &m);
        uint64_t bytes = 0;
        char sh[200];
        if (bad || __builtin_mul_overflow((uint64_t)m, (uint64_t)esz, &bytes) || bytes >= ST_MAX_INT - total)
            s = dc_error(DC_ERR_ARG, "%s: tensor " NAME_FMT " has shape %s (a negative dimension or too many elements)", p,
                         nm, dc_shape_str(e[i].ndim, e[i].shape, sh, sizeof sh));
        else if (m > 0 && !e[i].data && !(views && views[i]))
            s = dc_error(DC_ERR_ARG, "%s: tensor " NAME_FMT " has no data", p, nm);
        numel[i] = m;
        total += bytes;
    }
    if (!s) {
        dup = first_duplicate(names, n, &nomem);
        if (nomem) s = DC_ERR_NOMEM;
        else if (dup) s = dc_error(DC_ERR_ARG, "%s: tensor name " NAME_FMT " is given twice", p, dup);
    }
    if (!s) { /* the header */
        sb_str(&hb, "{");
        if (nmeta > 0) {
            sb_str(&hb, "\"" ST_META "\":{");
            for (int i = 0; i < nmeta; i++) {
                if (i) sb_str(&hb, ",");
                sb_json(&hb, keys[i]);
                sb_str(&hb, ":");
                sb_json(&hb, values[i]);
            }
            sb_str(&hb, "}");
        }
        uint64_t at = 0;
        for (int i = 0; i < n; i++) {
            char num[48];
            if (i || nmeta > 0) sb_str(&hb, ",");
            sb_json(&hb, e[i].name);
            sb_str(&hb, ":{\"dtype\":\"");
            sb_str(&hb, dc_dtype_name(dtype));
            sb_str(&hb, "\",\"shape\":[");
            for (int d = 0; d < e[i].ndim; d++) {
                snprintf(num, sizeof num, d ? ",%lld" : "%lld", (long long)e[i].shape[d]);
                sb_str(&hb, num);
            }
            uint64_t next = at + (uint64_t)numel[i] * esz;
            snprintf(num, sizeof num, "],\"data_offsets\":[%llu,%llu]}", (unsigned long long)at, (unsigned long long)next);
            sb_str(&hb, num);
            at = next;
        }
        sb_str(&hb, "}");
        while (!hb.oom && hb.n % 8) sb_str(&hb, " ");
        if (hb.oom) s = DC_ERR_NOMEM;
        else if (hb.n > ST_MAX_HEADER)
            s = dc_error(DC_ERR_ARG, "%s: the header would take %zu bytes, over the format's limit of %llu", p, hb.n,
                         ST_MAX_HEADER);
    }
    if (!s) {
        st_job job = {e, views, n, dtype, numel, hb.p, hb.n};
        s = dc_write_file_atomic(path, write_body, &job);
    }
    dc_free(hb.p);
    dc_free(numel);
    dc_free(names);
    return s;
}

dc_status dc_st_write(const char *path, const dc_st_entry *e, int n, dc_dtype dtype, int nmeta,
                      const char *const *keys, const char *const *values) {
    return write_impl(path, e, NULL, n, dtype, nmeta, keys, values);
}

dc_status dc_safetensors_save(const char *path, int n, const char *const *names, const dc_tensor *const *tensors,
                              dc_dtype dtype, int nmeta, const char *const *keys, const char *const *values) {
    if (n < 0 || (n > 0 && (!names || !tensors)))
        return dc_error(DC_ERR_ARG, "%s: dc_safetensors_save: %d tensors with NULL names or tensors", path ? path : "(null)", n);
    dc_st_entry *e = dc_calloc(n ? (size_t)n : 1, sizeof *e);
    if (!e) return DC_ERR_NOMEM;
    dc_status s = DC_OK;
    for (int i = 0; i < n && !s; i++) {
        if (!tensors[i]) s = dc_error(DC_ERR_ARG, "%s: tensor %d (" NAME_FMT ") is NULL", path ? path : "(null)", i,
                                      names[i] ? names[i] : "(null)");
        else e[i] = (dc_st_entry){names[i], tensors[i]->ndim, tensors[i]->shape, NULL};
    }
    if (!s) s = write_impl(path, e, tensors, n, dtype, nmeta, keys, values);
    dc_free(e);
    return s;
}
