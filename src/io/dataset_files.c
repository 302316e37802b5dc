/* Datasets over files: .npy arrays, IDX and CSV files mapped into memory, and folders of pictures (deepc/model.h's dc_dataset).
 *
 * Choices:
 *  - The file is mapped read-only and shared, never read whole: the page cache holds what was
 *    read lately and the process's own memory holds one batch as float32 at a time, so a file
 *    larger than the memory the process may hold trains. Elements stay in the file's dtype
 *    (uint8 images take a quarter of float32's room) until their rows are gathered.
 *  - Sizes are checked before mapping: the data the header describes must be exactly what the
 *    file holds, so no row read lies past the end of the file (which would be SIGBUS).
 *  - A mapped file that is then truncated would raise SIGBUS on the next read of its lost
 *    pages: every batch first compares the file's size and modification time with those it
 *    was opened with, and a change is DC_ERR_IO naming the file and both sizes. (A change
 *    between that check and the read is not caught: do not rewrite files being trained on.)
 *  - A gzip-compressed IDX file cannot be mapped: it is decompressed once into an unnamed
 *    temporary file ($TMPDIR, else /tmp), which is mapped and vanishes when the dataset is
 *    freed or the process ends.
 *  - A CSV file is indexed once (the offset of each line, its columns counted) and its cells
 *    parsed when their rows are gathered; quoted cells are refused (dc_csv_load reads them).
 *  - An image folder is listed once; each picture is read, decoded and resized when its row is
 *    gathered (on the prefetch thread, while the previous batch trains).
 *  - Converting to float32 is exact or an error (DC_ERR_NUMERIC naming the file, the row and
 *    the element): integers beyond 2^24 and float64 beyond float32's range are refused, as
 *    dc_npy_load refuses them. */
#define _FILE_OFFSET_BITS 64
#define _POSIX_C_SOURCE 200809L

#include "../data/gz.h"
#include "deepc/data.h"
#include "dtype.h"
#include "npy.h"
#include "zip.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

typedef unsigned long long ull;

typedef struct mapped {
    char path[1024];
    int fd;
    const unsigned char *map;
    size_t len; /* the file's size, all of it mapped */
    struct timespec mtime;
    uint64_t data_off;
    dc_dtype dtype;
    bool swap;
    int64_t rows, row_elems;
    size_t row_bytes;
} mapped;

static void mapped_free(void *self) {
    mapped *m = self;
    if (!m) return;
    if (m->map) munmap((void *)m->map, m->len);
    if (m->fd >= 0) close(m->fd);
    dc_free(m);
}

/* The file as it was opened, or DC_ERR_IO: a file cut short under the mapping would fault. */
static dc_status unchanged(const mapped *m) {
    struct stat st;
    if (fstat(m->fd, &st) != 0) return dc_error(DC_ERR_IO, "%s: cannot check the mapped file: %s", m->path, strerror(errno));
    if ((uint64_t)st.st_size != m->len || st.st_mtim.tv_sec != m->mtime.tv_sec || st.st_mtim.tv_nsec != m->mtime.tv_nsec)
        return dc_error(DC_ERR_IO, "%s: the file changed while the dataset had it mapped (%llu bytes when opened, %llu now%s); "
                        "open it again", m->path, (ull)m->len, (ull)st.st_size,
                        (uint64_t)st.st_size == m->len ? ", rewritten in place" : "");
    return DC_OK;
}

static dc_status mapped_gather(void *self, int part, const int64_t *idx, int64_t n, float *dst) {
    (void)part;
    mapped *m = self;
    dc_status s = unchanged(m);
    if (s) return s;
    const unsigned char *base = m->map + m->data_off;
    int64_t w = m->row_elems;
    /* The rows are scattered over the file (a shuffled batch): each is a run of cache lines
     * that start cold. Asking for the lines of the row PREFETCH_AHEAD places on while this one
     * converts overlaps their memory latency with the work instead of paying it row by row. */
    enum { PREFETCH_AHEAD = 4, LINE = 64 };
    size_t pf_bytes = m->row_bytes < 4096 ? m->row_bytes : 4096;
    for (int64_t r = 0; r < n && r < PREFETCH_AHEAD; r++)
        for (size_t o = 0; o < pf_bytes; o += LINE) __builtin_prefetch(base + (size_t)idx[r] * m->row_bytes + o);
    for (int64_t r = 0; r < n; r++) {
        if (r + PREFETCH_AHEAD < n)
            for (size_t o = 0; o < pf_bytes; o += LINE) __builtin_prefetch(base + (size_t)idx[r + PREFETCH_AHEAD] * m->row_bytes + o);
        const unsigned char *src = base + (size_t)idx[r] * m->row_bytes;
        float *d = dst + r * w;
        if (m->dtype == DC_DTYPE_U8) {
            for (int64_t i = 0; i < w; i++) d[i] = (float)src[i];
            continue;
        }
        int64_t bad = 0;
        if (dc_dtype_to_f32(m->dtype, src, d, w, m->swap, &bad))
            return dc_error(DC_ERR_NUMERIC, "%s: row %lld, element %lld: the %s value cannot be held exactly as float32 (integers beyond "
                            "2^24, float64 beyond float32's range)", m->path, (long long)idx[r], (long long)bad, dc_dtype_name(m->dtype));
    }
    return DC_OK;
}

/* Maps fd (size bytes, header and data checked by the caller) into m and makes the dataset. */
static dc_dataset *map_dataset(mapped *m, int fd, uint64_t size, int ndim, const int64_t *shape) {
    struct stat st;
    m->fd = fd;
    m->len = (size_t)size;
    if (fstat(fd, &st) != 0) {
        dc_error(DC_ERR_IO, "%s: %s", m->path, strerror(errno));
        mapped_free(m);
        return NULL;
    }
    m->mtime = st.st_mtim;
    void *p = mmap(NULL, m->len, PROT_READ, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED) {
        dc_error(errno == ENOMEM ? DC_ERR_NOMEM : DC_ERR_IO, "%s: cannot map its %llu bytes into memory: %s", m->path, (ull)size,
                 strerror(errno));
        mapped_free(m);
        return NULL;
    }
    m->map = p;
    dc_dataset_source src = {.name = m->path, .rows = m->rows, .nparts = 1, .ndim = {ndim - 1}, .gather = mapped_gather,
                             .free = mapped_free, .self = m};
    memcpy(src.shape[0], shape + 1, (size_t)(ndim - 1) * sizeof(int64_t));
    return dc_dataset_new(&src);
}

/* The rows and row sizes of an array of shape[ndim] of dtype t, or an error naming the file. */
static dc_status rows_of(mapped *m, int ndim, const int64_t *shape, dc_dtype t, const char *what) {
    if (ndim < 1)
        return dc_error(DC_ERR_SHAPE, "%s: a 0-d %s has no rows; a dataset needs an array whose first axis is its rows", m->path, what);
    if (ndim > DC_MAX_DIMS - 1)
        return dc_error(DC_ERR_SHAPE, "%s: the %s has %d axes; a dataset's rows have at most %d", m->path, what, ndim, DC_MAX_DIMS - 2);
    if (shape[0] == 0) return dc_error(DC_ERR_SHAPE, "%s: the %s has no rows (its first axis is 0)", m->path, what);
    m->rows = shape[0];
    m->row_elems = 1;
    for (int d = 1; d < ndim; d++) m->row_elems *= shape[d];
    if (m->row_elems == 0) return dc_error(DC_ERR_SHAPE, "%s: the %s's rows have no elements", m->path, what);
    m->row_bytes = (size_t)m->row_elems * dc_dtype_size(t);
    m->dtype = t;
    return DC_OK;
}

static mapped *new_mapped(const char *path) {
    mapped *m = dc_calloc(1, sizeof *m);
    if (!m) return NULL;
    m->fd = -1;
    snprintf(m->path, sizeof m->path, "%s", path);
    return m;
}

dc_dataset *dc_dataset_npy(const char *path) {
    if (!path) return dc_error_null(DC_ERR_ARG, "dc_dataset_npy: path is NULL");
    uint64_t size = 0;
    FILE *f = dc_file_open_read(path, &size);
    if (!f) return NULL;
    dc_npy_info h;
    mapped *m = NULL;
    dc_status s = dc_npy_read_header(f, path, size, &h);
    if (!s && !(m = new_mapped(path))) s = DC_ERR_NOMEM;
    if (!s) s = rows_of(m, h.ndim, h.shape, h.dtype, ".npy array");
    if (!s) {
        uint64_t have = size - h.data_off, need = (uint64_t)h.numel * dc_dtype_size(h.dtype);
        char shp[160];
        dc_shape_str(h.ndim, h.shape, shp, sizeof shp);
        if (have < need)
            s = dc_error(DC_ERR_FORMAT, "%s: truncated data: shape %s of '%s' needs %llu bytes, the file holds %llu after its %llu-byte header",
                         path, shp, h.descr, (ull)need, (ull)have, (ull)h.data_off);
        else if (have > need)
            s = dc_error(DC_ERR_FORMAT, "%s: %llu bytes of trailing data: shape %s of '%s' needs %llu bytes after the %llu-byte header", path,
                         (ull)(have - need), shp, h.descr, (ull)need, (ull)h.data_off);
    }
    int fd = s ? -1 : dup(fileno(f));
    fclose(f);
    if (!s && fd < 0) s = dc_error(DC_ERR_IO, "%s: %s", path, strerror(errno));
    if (s) {
        mapped_free(m);
        return NULL;
    }
    m->data_off = h.data_off;
    m->swap = h.swap;
    return map_dataset(m, fd, size, h.ndim, h.shape);
}

/* ---- IDX --------------------------------------------------------------------------------- */

static bool idx_type(unsigned code, dc_dtype *t) {
    switch (code) {
    case 0x08: *t = DC_DTYPE_U8; return true;
    case 0x09: *t = DC_DTYPE_I8; return true;
    case 0x0B: *t = DC_DTYPE_I16; return true;
    case 0x0C: *t = DC_DTYPE_I32; return true;
    case 0x0D: *t = DC_DTYPE_F32; return true;
    case 0x0E: *t = DC_DTYPE_F64; return true;
    default: return false;
    }
}

/* A gzip file decompressed into an unnamed temporary file; its descriptor, or -1 with the error set. */
static int gunzip_to_temp(const char *path, uint64_t *size) {
    gzFile gz = dc_gz_open(path, NULL);
    if (!gz) return -1;
    const char *dir = getenv("TMPDIR");
    char tmpl[1100];
    snprintf(tmpl, sizeof tmpl, "%s/deepc-idx-XXXXXX", dir && *dir ? dir : "/tmp");
    int fd = mkstemp(tmpl);
    if (fd < 0) {
        dc_error(DC_ERR_IO, "%s: cannot make a temporary file in %s to decompress it into: %s", path, dir && *dir ? dir : "/tmp",
                 strerror(errno));
        gzclose(gz);
        return -1;
    }
    unlink(tmpl); /* it lives while the descriptor does */
    enum { PIECE = 1 << 20 };
    unsigned char *buf = dc_alloc(PIECE);
    dc_status s = buf ? DC_OK : DC_ERR_NOMEM;
    uint64_t total = 0;
    while (!s) {
        size_t got = 0;
        if ((s = dc_gz_read(gz, path, buf, PIECE, &got))) break;
        for (size_t o = 0; o < got && !s;) {
            ssize_t w = write(fd, buf + o, got - o);
            if (w < 0 && errno == EINTR) continue;
            if (w <= 0) s = dc_error(DC_ERR_IO, "%s: writing its decompressed data to a temporary file: %s", path, strerror(w < 0 ? errno : ENOSPC));
            else o += (size_t)w;
        }
        total += got;
        if (got < PIECE) {
            if (!s) s = dc_gz_end(gz, path);
            break;
        }
    }
    dc_free(buf);
    gzclose(gz);
    if (s) {
        close(fd);
        return -1;
    }
    *size = total;
    return fd;
}

dc_dataset *dc_dataset_idx(const char *path) {
    if (!path) return dc_error_null(DC_ERR_ARG, "dc_dataset_idx: path is NULL");
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return dc_error_null(DC_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    unsigned char head[4 + 4 * DC_MAX_DIMS];
    ssize_t got = fstat(fd, &st) == 0 && S_ISREG(st.st_mode) ? pread(fd, head, sizeof head, 0) : -1;
    if (got < 0) {
        dc_error(DC_ERR_IO, "%s: not a readable regular file", path);
        close(fd);
        return NULL;
    }
    uint64_t size = (uint64_t)st.st_size;
    if (got >= 2 && head[0] == 0x1f && head[1] == 0x8b) { /* gzip: decompressed into a file that can be mapped */
        close(fd);
        if ((fd = gunzip_to_temp(path, &size)) < 0) return NULL;
        got = pread(fd, head, sizeof head, 0);
        if (got < 0) got = 0;
    }
    mapped *m = new_mapped(path);
    dc_status s = m ? DC_OK : DC_ERR_NOMEM;
    dc_dtype t = DC_DTYPE_U8;
    int ndim = got >= 4 ? head[3] : 0;
    int64_t shape[DC_MAX_DIMS] = {0};
    if (!s && got < 4) s = dc_error(DC_ERR_FORMAT, "%s: %llu bytes are too short for an IDX file (its magic is 4)", path, (ull)size);
    else if (!s && (head[0] || head[1] || !idx_type(head[2], &t)))
        s = dc_error(DC_ERR_FORMAT, "%s: not an IDX file: magic %02x %02x %02x %02x (00 00, a type of 08 09 0B 0C 0D 0E, the axes)", path,
                     head[0], head[1], head[2], head[3]);
    else if (!s && (ndim < 1 || ndim > DC_MAX_DIMS - 1))
        s = dc_error(DC_ERR_FORMAT, "%s: %d axes; an IDX dataset needs 1 to %d", path, ndim, DC_MAX_DIMS - 1);
    else if (!s && (uint64_t)got < 4 + 4 * (uint64_t)ndim)
        s = dc_error(DC_ERR_FORMAT, "%s: %llu bytes are too short for the header of %d axes (%d bytes)", path, (ull)size, ndim, 4 + 4 * ndim);
    uint64_t need = 1, hdr = 4 + 4 * (uint64_t)ndim;
    for (int d = 0; !s && d < ndim; d++) {
        const unsigned char *p = head + 4 + 4 * d;
        shape[d] = (int64_t)((uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]);
        if (__builtin_mul_overflow(need, (uint64_t)shape[d], &need) || need > ((uint64_t)1 << 50))
            s = dc_error(DC_ERR_FORMAT, "%s: the header's dimensions describe more data than a file holds", path);
    }
    if (!s) s = rows_of(m, ndim, shape, t, "IDX array");
    if (!s) {
        need *= dc_dtype_size(t);
        char shp[160];
        dc_shape_str(ndim, shape, shp, sizeof shp);
        if (size - hdr != need)
            s = dc_error(DC_ERR_FORMAT, "%s: %s: shape %s of %s needs %llu bytes after the %llu-byte header, the file holds %llu", path,
                         size - hdr < need ? "truncated data" : "trailing data", shp, dc_dtype_name(t), (ull)need, (ull)hdr, (ull)(size - hdr));
    }
    if (s) {
        mapped_free(m);
        close(fd);
        return NULL;
    }
    m->data_off = hdr;
    m->swap = dc_dtype_size(t) > 1; /* IDX is big-endian */
    return map_dataset(m, fd, size, ndim, shape);
}

/* ---- CSV --------------------------------------------------------------------------------- */

/* A CSV file mapped (a gzip one decompressed into a temporary file first) and indexed by the
 * offset of each data line; cells are parsed when their rows are gathered. */
typedef struct csv_src {
    mapped map; /* the mapping; its dtype and row fields are unused */
    char delim;
    int ncols, label_col, nfeat;
    int *feat; /* the feature columns, in order */
    int64_t skip, *off; /* lines before the data; the offset of every data line, and one past the last */
    char *line;         /* a line's copy, NUL-terminated, for strtof */
    size_t line_cap;
} csv_src;

static void csv_free(void *self) {
    csv_src *c = self;
    if (!c) return;
    if (c->map.map) munmap((void *)c->map.map, c->map.len);
    if (c->map.fd >= 0) close(c->map.fd);
    dc_free(c->feat);
    dc_free(c->off);
    dc_free(c->line);
    dc_free(c);
}

/* The cells of data row r parsed into cells[ncols]. */
static dc_status csv_row(csv_src *c, int64_t r, float *cells) {
    const char *p = (const char *)c->map.map + c->off[r];
    size_t len = (size_t)(c->off[r + 1] - c->off[r]);
    while (len && (p[len - 1] == '\n' || p[len - 1] == '\r')) len--;
    if (len + 1 > c->line_cap) {
        dc_free(c->line);
        c->line_cap = 0;
        if (!(c->line = dc_alloc(len + 1))) return DC_ERR_NOMEM;
        c->line_cap = len + 1;
    }
    memcpy(c->line, p, len);
    c->line[len] = 0;
    char *s = c->line;
    long long lineno = (long long)(c->skip + r + 1);
    for (int k = 0; k < c->ncols; k++) {
        char *end = strchr(s, c->delim), *e2;
        if (end) *end = 0;
        else if (k < c->ncols - 1)
            return dc_error(DC_ERR_FORMAT, "%s: line %lld has %d columns, not %d", c->map.path, lineno, k + 1, c->ncols);
        errno = 0;
        float v = strtof(s, &e2);
        while (*e2 == ' ' || *e2 == '\t') e2++;
        if (e2 == s || *e2)
            return dc_error(DC_ERR_FORMAT, "%s: line %lld, column %d: '%.40s' is not a number", c->map.path, lineno, k + 1, s);
        if (!isfinite(v))
            return dc_error(DC_ERR_NUMERIC, "%s: line %lld, column %d: '%.40s' is not a finite float32", c->map.path, lineno, k + 1, s);
        cells[k] = v;
        s = end ? end + 1 : s + strlen(s);
        if (!end && k == c->ncols - 1) break;
        if (end && k == c->ncols - 1)
            return dc_error(DC_ERR_FORMAT, "%s: line %lld has more than %d columns", c->map.path, lineno, c->ncols);
    }
    return DC_OK;
}

static dc_status csv_gather(void *self, int part, const int64_t *idx, int64_t n, float *dst) {
    csv_src *c = self;
    dc_status s = unchanged(&c->map);
    float cells[4096];
    float *row = c->ncols <= 4096 ? cells : dc_alloc((size_t)c->ncols * sizeof(float));
    if (!row) return DC_ERR_NOMEM;
    for (int64_t r = 0; r < n && !s; r++) {
        if ((s = csv_row(c, idx[r], row))) break;
        if (part == 0)
            for (int k = 0; k < c->nfeat; k++) dst[r * c->nfeat + k] = row[c->feat[k]];
        else dst[r] = row[c->label_col];
    }
    if (row != cells) dc_free(row);
    return s;
}

dc_dataset *dc_dataset_csv(const char *path, const dc_csv_opts *opts) {
    if (!path) return dc_error_null(DC_ERR_ARG, "dc_dataset_csv: path is NULL");
    dc_csv_opts o = opts ? *opts : dc_csv_defaults();
    if (o.label_name) return dc_error_null(DC_ERR_ARG, "dc_dataset_csv: %s: label_name is not taken here; give label_col", path);
    if (o.skip_rows < 0) return dc_error_null(DC_ERR_ARG, "dc_dataset_csv: %s: skip_rows %d is negative", path, o.skip_rows);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return dc_error_null(DC_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    unsigned char magic[2] = {0, 0};
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return dc_error_null(DC_ERR_IO, "%s: not a readable regular file", path);
    }
    uint64_t size = (uint64_t)st.st_size;
    if (pread(fd, magic, 2, 0) == 2 && magic[0] == 0x1f && magic[1] == 0x8b) {
        close(fd);
        if ((fd = gunzip_to_temp(path, &size)) < 0) return NULL;
    }
    csv_src *c = dc_calloc(1, sizeof *c);
    if (!c) {
        close(fd);
        return NULL;
    }
    c->map.fd = fd;
    snprintf(c->map.path, sizeof c->map.path, "%s", path);
    c->delim = o.delimiter ? o.delimiter : ',';
    c->skip = o.skip_rows;
    dc_status s = DC_OK;
    if (size == 0) s = dc_error(DC_ERR_FORMAT, "%s: the file is empty", path);
    if (!s && fstat(fd, &st) != 0) s = dc_error(DC_ERR_IO, "%s: %s", path, strerror(errno));
    void *p = MAP_FAILED;
    if (!s && (p = mmap(NULL, (size_t)size, PROT_READ, MAP_SHARED, fd, 0)) == MAP_FAILED)
        s = dc_error(DC_ERR_IO, "%s: cannot map its %llu bytes into memory: %s", path, (ull)size, strerror(errno));
    if (!s) {
        c->map.map = p;
        c->map.len = (size_t)size;
        c->map.mtime = st.st_mtim;
    }
    /* the index: one pass over the lines, counting each one's columns */
    const char *b = p == MAP_FAILED ? NULL : p;
    uint64_t at = 0;
    for (int64_t k = 0; !s && k < c->skip; k++) {
        const char *nl = memchr(b + at, '\n', (size_t)(size - at));
        if (!nl) s = dc_error(DC_ERR_FORMAT, "%s: %lld lines, not more than the %d to skip", path, (long long)k + 1, o.skip_rows);
        else at = (uint64_t)(nl - b) + 1;
    }
    int64_t cap = 0, rows = 0;
    while (!s && at < size) {
        const char *ln = b + at, *nl = memchr(ln, '\n', (size_t)(size - at));
        uint64_t len = nl ? (uint64_t)(nl - ln) : size - at;
        long long lineno = (long long)(c->skip + rows + 1);
        uint64_t body = len;
        while (body && ln[body - 1] == '\r') body--;
        if (body == 0) { /* only blank lines may follow the last row */
            uint64_t q = at;
            while (q < size && (b[q] == '\n' || b[q] == '\r')) q++;
            if (q < size) s = dc_error(DC_ERR_FORMAT, "%s: line %lld is empty", path, lineno);
            break;
        }
        int cols = 1;
        for (uint64_t i = 0; i < body && !s; i++) {
            if (ln[i] == c->delim) cols++;
            else if (ln[i] == '"' || ln[i] == 0)
                s = dc_error(DC_ERR_FORMAT, "%s: line %lld holds %s, which a streamed CSV does not take (dc_csv_load reads quoted cells)", path,
                             lineno, ln[i] ? "a quote" : "a NUL byte");
        }
        if (!s && rows == 0) c->ncols = cols;
        else if (!s && cols != c->ncols) s = dc_error(DC_ERR_FORMAT, "%s: line %lld has %d columns, the first data line %d", path, lineno, cols, c->ncols);
        if (!s && rows + 2 > cap) {
            cap = cap ? 2 * cap : 1024;
            int64_t *grown = dc_realloc(c->off, (size_t)cap * sizeof *grown);
            if (!grown) s = DC_ERR_NOMEM;
            else c->off = grown;
        }
        if (!s) c->off[rows++] = (int64_t)at;
        at += len + (nl ? 1 : 0);
    }
    if (!s && rows == 0) s = dc_error(DC_ERR_FORMAT, "%s: no data rows after the %d skipped", path, o.skip_rows);
    if (!s) c->off[rows] = (int64_t)at;
    /* the columns */
    if (!s) {
        c->label_col = o.label_col == -1 ? c->ncols - 1 : o.label_col;
        if (o.label_col < -2 || c->label_col >= c->ncols)
            s = dc_error(DC_ERR_ARG, "%s: label_col %d is outside the %d columns", path, o.label_col, c->ncols);
    }
    if (!s) {
        int nf = o.feature_cols ? o.nfeature_cols : c->ncols - (c->label_col >= 0);
        if (nf < 1) s = dc_error(DC_ERR_ARG, "%s: no feature columns", path);
        else if (!(c->feat = dc_alloc((size_t)nf * sizeof *c->feat))) s = DC_ERR_NOMEM;
        for (int k = 0, j = 0; !s && k < nf; k++) {
            if (o.feature_cols) {
                c->feat[k] = o.feature_cols[k];
                if (c->feat[k] < 0 || c->feat[k] >= c->ncols)
                    s = dc_error(DC_ERR_ARG, "%s: feature column %d is outside the %d columns", path, c->feat[k], c->ncols);
            } else {
                if (j == c->label_col) j++;
                c->feat[k] = j++;
            }
        }
        c->nfeat = nf;
    }
    if (s) {
        csv_free(c); /* and its descriptor */
        return NULL;
    }
    dc_dataset_source src = {.name = c->map.path, .rows = rows, .nparts = c->label_col >= 0 ? 2 : 1, .ndim = {1, 0},
                             .gather = csv_gather, .free = csv_free, .self = c};
    src.shape[0][0] = c->nfeat;
    return dc_dataset_new(&src);
}

/* ---- image folders ----------------------------------------------------------------------- */

/* root/<class>/.../<image>: the files listed once, each read, decoded and resized when its row
 * is gathered. */
typedef struct folder_src {
    char **files;
    float *label;
    int64_t n, cap;
    dc_image_opts image;
} folder_src;

static void folder_free(void *self) {
    folder_src *f = self;
    if (!f) return;
    for (int64_t i = 0; i < f->n; i++) dc_free(f->files[i]);
    dc_free(f->files);
    dc_free(f->label);
    dc_free(f);
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static bool image_name(const char *name) {
    const char *dot = strrchr(name, '.');
    return dot && (!strcasecmp(dot, ".png") || !strcasecmp(dot, ".jpg") || !strcasecmp(dot, ".jpeg"));
}

/* The entries of folder dir not starting with '.', in byte order; NULL with the error set. */
static char **list_dir(const char *dir, int64_t *n) {
    DIR *d = opendir(dir);
    if (!d) return dc_error_null(DC_ERR_IO, "%s: cannot list the folder: %s", dir, strerror(errno));
    char **v = NULL;
    int64_t cap = 0;
    *n = 0;
    struct dirent *e;
    bool ok = true;
    while (ok && (e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        if (*n == cap) {
            char **g = dc_realloc(v, (size_t)(cap = cap ? 2 * cap : 16) * sizeof *g);
            if (!(ok = g != NULL)) break;
            v = g;
        }
        size_t len = strlen(e->d_name) + 1;
        if ((ok = (v[*n] = dc_alloc(len)) != NULL)) memcpy(v[(*n)++], e->d_name, len);
    }
    closedir(d);
    if (!ok) {
        for (int64_t i = 0; i < *n; i++) dc_free(v[i]);
        dc_free(v);
        return NULL;
    }
    if (*n) qsort(v, (size_t)*n, sizeof *v, cmp_str);
    return v ? v : dc_calloc(1, sizeof *v);
}

/* Adds the image files under dir (sub-folders included, in byte order) with label y. */
static dc_status add_images(folder_src *f, const char *dir, float y, int depth) {
    int64_t n;
    char **names = list_dir(dir, &n);
    if (!names) return dc_last_status();
    dc_status s = DC_OK;
    for (int64_t i = 0; i < n && !s; i++) {
        char path[4096];
        if (snprintf(path, sizeof path, "%s/%s", dir, names[i]) >= (int)sizeof path) {
            s = dc_error(DC_ERR_ARG, "%s/%s: the path is too long", dir, names[i]);
            break;
        }
        struct stat st;
        if (stat(path, &st) != 0) continue;
        if (S_ISDIR(st.st_mode)) {
            if (depth < 32) s = add_images(f, path, y, depth + 1);
            continue;
        }
        if (!S_ISREG(st.st_mode) || !image_name(names[i])) continue;
        if (f->n == f->cap) {
            int64_t cap = f->cap ? 2 * f->cap : 256;
            char **g = dc_realloc(f->files, (size_t)cap * sizeof *g);
            float *l = g ? dc_realloc(f->label, (size_t)cap * sizeof *l) : NULL;
            if (g) f->files = g;
            if (!l) {
                s = DC_ERR_NOMEM;
                break;
            }
            f->label = l;
            f->cap = cap;
        }
        size_t len = strlen(path) + 1;
        if (!(f->files[f->n] = dc_alloc(len))) s = DC_ERR_NOMEM;
        else {
            memcpy(f->files[f->n], path, len);
            f->label[f->n++] = y;
        }
    }
    for (int64_t i = 0; i < n; i++) dc_free(names[i]);
    dc_free(names);
    return s;
}

static dc_status folder_gather(void *self, int part, const int64_t *idx, int64_t n, float *dst) {
    folder_src *f = self;
    int64_t w = (int64_t)f->image.channels * f->image.height * f->image.width;
    for (int64_t r = 0; r < n; r++) {
        if (part == 1) {
            dst[r] = f->label[idx[r]];
            continue;
        }
        dc_tensor *t = dc_image_load(f->files[idx[r]], &f->image);
        if (!t) return dc_last_status();
        memcpy(dst + r * w, dc_tensor_data(t), (size_t)w * sizeof(float));
        dc_tensor_free(t);
    }
    return DC_OK;
}

dc_dataset *dc_dataset_image_folder(const char *root, const dc_image_opts *image, int64_t *nclasses) {
    if (!root || !image) return dc_error_null(DC_ERR_ARG, "dc_dataset_image_folder: root or image options NULL");
    if ((image->channels != 1 && image->channels != 3) || image->height <= 0 || image->width <= 0)
        return dc_error_null(DC_ERR_ARG, "dc_dataset_image_folder: %s: the images need 1 or 3 channels and a height and width to be "
                             "resized to (got %d channels, %lld x %lld)", root, image->channels, (long long)image->height,
                             (long long)image->width);
    folder_src *f = dc_calloc(1, sizeof *f);
    if (!f) return NULL;
    f->image = *image;
    int64_t n;
    char **classes = list_dir(root, &n);
    dc_status s = classes ? DC_OK : dc_last_status();
    int64_t k = 0;
    for (int64_t i = 0; !s && i < n; i++) {
        char path[4096];
        struct stat st;
        snprintf(path, sizeof path, "%s/%s", root, classes[i]);
        if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode)) continue;
        s = add_images(f, path, (float)k++, 0);
    }
    for (int64_t i = 0; classes && i < n; i++) dc_free(classes[i]);
    dc_free(classes);
    if (!s && k == 0) s = dc_error(DC_ERR_FORMAT, "%s: no class sub-folders", root);
    else if (!s && f->n == 0) s = dc_error(DC_ERR_FORMAT, "%s: no image files (*.png, *.jpg, *.jpeg) in its %lld class folders", root, (long long)k);
    if (s) {
        folder_free(f);
        return NULL;
    }
    if (nclasses) *nclasses = k;
    dc_dataset_source src = {.name = root, .rows = f->n, .nparts = 2, .ndim = {3, 0}, .gather = folder_gather, .free = folder_free, .self = f};
    src.shape[0][0] = image->channels, src.shape[0][1] = image->height, src.shape[0][2] = image->width;
    return dc_dataset_new(&src);
}
