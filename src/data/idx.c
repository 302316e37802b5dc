/* IDX reader (the MNIST format), plain or gzip (zlib's gz* functions read both).
 *
 * Layout: a big-endian magic 0x0000TTNN (TT the element type, NN the number of
 * dimensions), NN big-endian uint32 dimensions, then the elements in row-major order.
 * Only unsigned bytes (TT = 0x08), as MNIST and Fashion-MNIST use, are read, with 1 to
 * DC_MAX_DIMS dimensions.
 *
 * Choices:
 *  - The header is not trusted. More than 2^31 elements are refused outright. A plain file
 *    must hold exactly the bytes its dimensions describe, which its size tells before
 *    anything is allocated. A gzip file's size only bounds what it can hold (deflate expands
 *    at most 1032 times), so its data is first gathered in a buffer that grows as bytes
 *    arrive, and the float tensor is made only once a sixteenth of the data is there: a small
 *    file claiming huge dimensions fails as truncated without a huge allocation.
 *  - Data after the last element the header describes is an error (DC_ERR_FORMAT): it
 *    means the header does not describe the file.
 *  - Once the tensor exists, the bytes are converted piece by piece as they arrive, so the
 *    whole byte array is never held next to it (MNIST's 47M pixels included).
 *  - A gzip stream must end with its trailer, whose CRC-32 and length zlib checks: a stream
 *    cut short is refused even when every byte the header describes arrived (gz.h).
 */
#define _POSIX_C_SOURCE 200809L /* stat */
#include "deepc/data.h"

#include "../tensor/tensor.h"
#include "gz.h"

#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

#define IDX_MAX_ELEMS ((uint64_t)1 << 31)
#define IDX_PIECE ((size_t)1 << 20)
/* deflate's largest expansion: 258 bytes from 2 bits */
#define IDX_GZIP_RATIO 1032u

/* A message's note when the data ended because the gzip stream was cut. */
static const char *gz_cut_note(gzFile gz) { return dc_gz_cut(gz) ? " (the gzip data ends early)" : ""; }

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
    dc_status s = dc_gz_read(gz, path, h, 4, &got);
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
    if ((s = dc_gz_read(gz, path, h, 4 * (size_t)*ndim, &got)) != DC_OK) return s;
    if (got < 4 * (size_t)*ndim)
        return dc_error(DC_ERR_FORMAT, "%s: truncated IDX header: %d dimensions need %d bytes, found %zu%s", path, *ndim,
                        4 * *ndim, got, gz_cut_note(gz));
    for (int d = 0; d < *ndim; d++) {
        const unsigned char *p = h + 4 * d;
        shape[d] = (int64_t)((uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]);
    }
    char dims[200];
    dc_shape_str(*ndim, shape, dims, sizeof dims);
    for (int d = 0; d < *ndim; d++)
        if (shape[d] == 0) return dc_error(DC_ERR_FORMAT, "%s: IDX dimension %d is 0 (dimensions %s)", path, d, dims);
    *numel = 1;
    for (int d = 0; d < *ndim; d++) {
        /* both factors are below 2^32 and the product is checked every step: no overflow */
        *numel *= (uint64_t)shape[d];
        if (*numel > IDX_MAX_ELEMS)
            return dc_error(DC_ERR_FORMAT, "%s: IDX dimensions %s hold more than 2^31 elements", path, dims);
    }
    return DC_OK;
}

static void to_floats(const unsigned char *b, size_t n, float *out, bool scale) {
    /* a division, not a multiply by 1/255, so values match torchvision's ToTensor exactly */
    if (scale)
        for (size_t i = 0; i < n; i++) out[i] = (float)b[i] / 255.0f;
    else
        for (size_t i = 0; i < n; i++) out[i] = (float)b[i];
}

static dc_status truncated(gzFile gz, const char *path, const char *dims, size_t want, size_t have) {
    return dc_error(DC_ERR_FORMAT, "%s: truncated IDX data: dimensions %s need %zu bytes, found %zu%s", path, dims, want,
                    have, gz_cut_note(gz));
}

/* Checks the size of the data against the file's size where it tells it: exactly for a plain
 * file, as an upper bound for gzip. *exact says that a plain file was checked. */
static dc_status check_size(gzFile gz, const char *path, const char *dims, size_t header, size_t want, bool *exact) {
    struct stat st;
    *exact = false;
    if (stat(path, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size < 0) return DC_OK; /* a pipe: reading tells */
    uint64_t size = (uint64_t)st.st_size;
    if (gzdirect(gz)) {
        uint64_t data = size > header ? size - header : 0;
        if (data < want)
            return dc_error(DC_ERR_FORMAT, "%s: truncated IDX data: dimensions %s need %zu bytes, found %llu", path, dims,
                            want, (unsigned long long)data);
        if (data > want)
            return dc_error(DC_ERR_FORMAT, "%s: more data than the IDX dimensions %s describe (%zu bytes, the file holds %llu)",
                            path, dims, want, (unsigned long long)data);
        *exact = true;
        return DC_OK;
    }
    uint64_t most = size > UINT64_MAX / IDX_GZIP_RATIO ? UINT64_MAX : size * IDX_GZIP_RATIO;
    if (most < header + (uint64_t)want)
        return dc_error(DC_ERR_FORMAT,
                        "%s: truncated IDX data: dimensions %s need %zu bytes, more than %llu bytes of gzip data can hold",
                        path, dims, want, (unsigned long long)size);
    return DC_OK;
}

/* Reads the first `upto` bytes of the data into a buffer that grows as they arrive. */
static dc_status gather(gzFile gz, const char *path, const char *dims, size_t want, size_t upto, unsigned char **out) {
    unsigned char *buf = NULL;
    size_t have = 0, cap = 0;
    dc_status s = DC_OK;
    while (!s && have < upto) {
        size_t next = DC_MIN(DC_MAX(2 * cap, IDX_PIECE), upto);
        unsigned char *b2 = dc_realloc(buf, next);
        if (!b2) {
            s = DC_ERR_NOMEM;
            break;
        }
        buf = b2;
        cap = next;
        size_t got;
        if ((s = dc_gz_read(gz, path, buf + have, cap - have, &got)) != DC_OK) break;
        have += got;
        if (have < cap) s = truncated(gz, path, dims, want, have);
    }
    if (s) {
        dc_free(buf);
        return s;
    }
    *out = buf;
    return DC_OK;
}

/* Converts the first `have` bytes (already read into bytes) and reads the rest piece by piece;
 * then checks that nothing follows. */
static dc_status fill(gzFile gz, const char *path, const char *dims, const unsigned char *bytes, size_t have,
                      size_t want, dc_tensor *t, bool scale) {
    to_floats(bytes, have, t->data, scale);
    unsigned char *piece = dc_alloc(DC_MIN(IDX_PIECE, DC_MAX(want - have, (size_t)1)));
    dc_status s = piece ? DC_OK : DC_ERR_NOMEM;
    while (!s && have < want) {
        size_t got, ask = DC_MIN(want - have, IDX_PIECE);
        if ((s = dc_gz_read(gz, path, piece, ask, &got)) != DC_OK) break;
        to_floats(piece, got, t->data + have, scale);
        have += got;
        if (got < ask) s = truncated(gz, path, dims, want, have);
    }
    /* nothing may follow, and a gzip stream must end with its trailer: its CRC-32 and length
     * are checked only when the end is read */
    size_t more = 0;
    if (!s && (s = dc_gz_read(gz, path, piece, 1, &more)) == DC_OK) {
        if (more) s = dc_error(DC_ERR_FORMAT, "%s: more data than the IDX dimensions %s describe (%zu bytes)", path, dims, want);
        else s = dc_gz_end(gz, path);
    }
    dc_free(piece);
    return s;
}

static dc_tensor *idx_read(gzFile gz, const char *path, bool scale) {
    int ndim = 0;
    int64_t shape[DC_MAX_DIMS];
    uint64_t numel = 0;
    if (read_header(gz, path, &ndim, shape, &numel)) return NULL;
    char dims[200];
    dc_shape_str(ndim, shape, dims, sizeof dims);
    size_t want = (size_t)numel, header = 4 + 4 * (size_t)ndim;
    bool exact;
    if (check_size(gz, path, dims, header, want, &exact)) return NULL;
    /* unless the file's size vouched for the header, a sixteenth of the data comes first */
    size_t have = exact ? 0 : want / 16;
    unsigned char *bytes = NULL;
    if (have && gather(gz, path, dims, want, have, &bytes)) return NULL;
    dc_tensor *t = dc_tensor_alloc(ndim, shape);
    if (t && fill(gz, path, dims, bytes, have, want, t, scale)) {
        dc_tensor_free(t);
        t = NULL;
    }
    dc_free(bytes);
    return t;
}

dc_tensor *dc_idx_load(const char *path, bool scale) {
    if (!path) return dc_error_null(DC_ERR_ARG, "dc_idx_load: path is NULL");
    gzFile gz = dc_gz_open(path, NULL);
    if (!gz) return NULL;
    dc_tensor *t = idx_read(gz, path, scale);
    gzclose(gz);
    return t;
}
