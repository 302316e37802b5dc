/* IDX reader (the MNIST format), plain or gzip (zlib's gz* functions read both).
 *
 * Layout: a big-endian magic 0x0000TTNN (TT the element type, NN the number of
 * dimensions), NN big-endian uint32 dimensions, then the elements in row-major order.
 * Only unsigned bytes (TT = 0x08), as MNIST and Fashion-MNIST use, are read, with 1 to
 * DC_MAX_DIMS dimensions.
 *
 * Choices:
 *  - The header is not trusted: the data is read in growing pieces, so a small file whose
 *    header claims huge dimensions fails as truncated without a huge allocation, and more
 *    than 2^31 elements are refused outright.
 *  - Data after the last element the header describes is an error (DC_ERR_FORMAT): it
 *    means the header does not describe the file.
 */
#include "../tensor/tensor.h"

#include <errno.h>
#include <string.h>
#include <zlib.h>

#define IDX_MAX_ELEMS ((uint64_t)1 << 31)
#define IDX_PIECE ((size_t)1 << 20)

/* Turns a zlib read failure into a status naming the file. */
static dc_status gz_fail(gzFile gz, const char *path) {
    int err = Z_OK;
    const char *msg = gzerror(gz, &err);
    /* zlib's message starts with the path, which ours names already */
    size_t plen = strlen(path);
    if (msg && !strncmp(msg, path, plen) && !strncmp(msg + plen, ": ", 2)) msg += plen + 2;
    if (err == Z_ERRNO) return dc_error(DC_ERR_IO, "%s: read error: %s", path, strerror(errno));
    if (err == Z_MEM_ERROR) return dc_error(DC_ERR_NOMEM, "%s: out of memory while decompressing", path);
    return dc_error(DC_ERR_FORMAT, "%s: corrupt gzip data (%s)", path, msg ? msg : "unknown zlib error");
}

/* Reads up to n bytes into buf; fewer (*got < n) only at the end of the data. */
static dc_status read_upto(gzFile gz, const char *path, unsigned char *buf, size_t n, size_t *got) {
    *got = 0;
    while (*got < n) {
        size_t want = DC_MIN(n - *got, IDX_PIECE);
        int r = gzread(gz, buf + *got, (unsigned)want);
        if (r < 0) return gz_fail(gz, path);
        if (r == 0) break;
        *got += (size_t)r;
    }
    return DC_OK;
}

/* zlib reports a gzip stream cut short as an early end of file plus Z_BUF_ERROR. */
static const char *gz_cut_note(gzFile gz) {
    int err = Z_OK;
    gzerror(gz, &err);
    return err == Z_BUF_ERROR ? " (the gzip data ends early)" : "";
}

static const char *type_name(unsigned t) {
    switch (t) {
    case 0x08: return "unsigned byte";
    case 0x09: return "signed byte";
    case 0x0B: return "int16";
    case 0x0C: return "int32";
    case 0x0D: return "float32";
    case 0x0E: return "float64";
    default: return "unknown type";
    }
}

/* Reads the magic and the dimensions into shape; element count in *numel. */
static dc_status read_header(gzFile gz, const char *path, int *ndim, int64_t *shape, uint64_t *numel) {
    unsigned char h[4 * (DC_MAX_DIMS + 1)];
    size_t got;
    dc_status s = read_upto(gz, path, h, 4, &got);
    if (s) return s;
    if (got < 4) return dc_error(DC_ERR_FORMAT, "%s: %zu bytes are too short for an IDX header%s", path, got, gz_cut_note(gz));
    uint32_t magic = (uint32_t)h[0] << 24 | (uint32_t)h[1] << 16 | (uint32_t)h[2] << 8 | h[3];
    if (h[0] || h[1])
        return dc_error(DC_ERR_FORMAT, "%s: not an IDX file (magic 0x%08x; IDX magics are 0x0000TTNN, e.g. 0x00000803)",
                        path, magic);
    if (h[2] != 0x08)
        return dc_error(DC_ERR_FORMAT, "%s: IDX element type 0x%02x (%s) is not supported, only 0x08 (unsigned byte)",
                        path, h[2], type_name(h[2]));
    if (h[3] < 1 || h[3] > DC_MAX_DIMS)
        return dc_error(DC_ERR_FORMAT, "%s: IDX magic 0x%08x declares %d dimensions (1..%d are supported)", path, magic,
                        h[3], DC_MAX_DIMS);
    *ndim = h[3];
    if ((s = read_upto(gz, path, h, 4 * (size_t)*ndim, &got)) != DC_OK) return s;
    if (got < 4 * (size_t)*ndim)
        return dc_error(DC_ERR_FORMAT, "%s: truncated IDX header: %d dimensions need %d bytes, found %zu%s", path, *ndim,
                        4 * *ndim, got, gz_cut_note(gz));
    *numel = 1;
    for (int d = 0; d < *ndim; d++) {
        const unsigned char *p = h + 4 * d;
        shape[d] = (int64_t)((uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]);
        if (shape[d] == 0) return dc_error(DC_ERR_FORMAT, "%s: IDX dimension %d is 0", path, d);
        /* both factors are below 2^32 and the product is checked every step: no overflow */
        *numel *= (uint64_t)shape[d];
        if (*numel > IDX_MAX_ELEMS)
            return dc_error(DC_ERR_FORMAT, "%s: IDX dimensions %s hold more than 2^31 elements", path,
                            dc_shape_str(*ndim, shape, (char[200]){0}, 200));
    }
    return DC_OK;
}

/* Reads exactly want bytes into a buffer that grows only as data actually arrives. */
static dc_status read_data(gzFile gz, const char *path, size_t want, const char *dims, unsigned char **out) {
    unsigned char *buf = NULL;
    size_t have = 0, cap = 0;
    dc_status s = DC_OK;
    while (!s && have < want) {
        size_t next = cap ? DC_MIN(2 * cap, want) : DC_MIN(want, IDX_PIECE);
        unsigned char *b2 = dc_realloc(buf, next);
        if (!b2) {
            s = DC_ERR_NOMEM;
            break;
        }
        buf = b2;
        cap = next;
        size_t got;
        if ((s = read_upto(gz, path, buf + have, cap - have, &got)) != DC_OK) break;
        have += got;
        if (have < cap)
            s = dc_error(DC_ERR_FORMAT, "%s: truncated IDX data: dimensions %s need %zu bytes, found %zu%s", path, dims,
                         want, have, gz_cut_note(gz));
    }
    unsigned char extra;
    size_t more = 0;
    if (!s && (s = read_upto(gz, path, &extra, 1, &more)) == DC_OK && more)
        s = dc_error(DC_ERR_FORMAT, "%s: more data than the IDX dimensions %s describe (%zu bytes)", path, dims, want);
    if (s) {
        dc_free(buf);
        return s;
    }
    *out = buf;
    return DC_OK;
}

/* Up to this many elements (MNIST's 47M included) the float tensor is made first and the bytes
 * are converted piece by piece as they arrive, so the whole byte array is never held next to
 * it; untouched pages of the tensor cost nothing if a short file turns out to be truncated. */
#define IDX_STREAM_ELEMS ((uint64_t)1 << 26)

static void to_floats(const unsigned char *b, size_t n, float *out, bool scale) {
    /* a division, not a multiply by 1/255, so values match torchvision's ToTensor exactly */
    if (scale)
        for (size_t i = 0; i < n; i++) out[i] = (float)b[i] / 255.0f;
    else
        for (size_t i = 0; i < n; i++) out[i] = (float)b[i];
}

static dc_tensor *idx_stream(gzFile gz, const char *path, int ndim, const int64_t *shape, size_t want, const char *dims,
                             bool scale) {
    dc_tensor *t = dc_tensor_alloc(ndim, shape);
    unsigned char *piece = t ? dc_alloc(IDX_PIECE) : NULL;
    dc_status s = piece ? DC_OK : DC_ERR_NOMEM;
    size_t have = 0;
    while (!s && have < want) {
        size_t got, ask = DC_MIN(want - have, IDX_PIECE);
        if ((s = read_upto(gz, path, piece, ask, &got)) != DC_OK) break;
        to_floats(piece, got, t->data + have, scale);
        have += got;
        if (got < ask)
            s = dc_error(DC_ERR_FORMAT, "%s: truncated IDX data: dimensions %s need %zu bytes, found %zu%s", path, dims,
                         want, have, gz_cut_note(gz));
    }
    size_t more = 0;
    if (!s && (s = read_upto(gz, path, piece, 1, &more)) == DC_OK && more)
        s = dc_error(DC_ERR_FORMAT, "%s: more data than the IDX dimensions %s describe (%zu bytes)", path, dims, want);
    dc_free(piece);
    if (s) {
        dc_tensor_free(t);
        return NULL;
    }
    return t;
}

static dc_tensor *idx_read(gzFile gz, const char *path, bool scale) {
    int ndim = 0;
    int64_t shape[DC_MAX_DIMS];
    uint64_t numel = 0;
    if (read_header(gz, path, &ndim, shape, &numel)) return NULL;
    char dims[200];
    dc_shape_str(ndim, shape, dims, sizeof dims);
    if (numel <= IDX_STREAM_ELEMS) return idx_stream(gz, path, ndim, shape, (size_t)numel, dims, scale);
    unsigned char *bytes;
    if (read_data(gz, path, (size_t)numel, dims, &bytes)) return NULL;
    dc_tensor *t = dc_tensor_alloc(ndim, shape);
    if (t) to_floats(bytes, (size_t)numel, t->data, scale);
    dc_free(bytes);
    return t;
}

dc_tensor *dc_idx_load(const char *path, bool scale) {
    if (!path) return dc_error_null(DC_ERR_ARG, "dc_idx_load: path is NULL");
    errno = 0;
    gzFile gz = gzopen(path, "rb");
    if (!gz) return dc_error_null(DC_ERR_IO, "%s: cannot open: %s", path, errno ? strerror(errno) : "out of memory");
    gzbuffer(gz, 128 << 10);
    dc_tensor *t = idx_read(gz, path, scale);
    gzclose(gz);
    return t;
}
