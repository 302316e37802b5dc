/* Reading plain or gzip files for the data readers; see gz.h. */
#define _POSIX_C_SOURCE 200809L /* stat */
#include "gz.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>

/* zlib's default buffer, and the one large files get */
#define GZ_SMALL ((size_t)8 << 10)
#define GZ_LARGE ((size_t)128 << 10)
/* a read at most, so that gzread's int result cannot overflow */
#define GZ_PIECE ((size_t)1 << 20)

gzFile dc_gz_open(const char *path, uint64_t *size) {
    errno = 0;
    gzFile gz = gzopen(path, "rb");
    if (!gz) return dc_error_null(DC_ERR_IO, "%s: cannot open: %s", path, errno ? strerror(errno) : "out of memory");
    struct stat st;
    /* a pipe or a file of unknown size reads as a large one */
    uint64_t n = stat(path, &st) == 0 && S_ISREG(st.st_mode) && st.st_size >= 0 ? (uint64_t)st.st_size : UINT64_MAX;
    if (n > GZ_SMALL) gzbuffer(gz, (unsigned)GZ_LARGE);
    if (size) *size = n;
    return gz;
}

dc_status dc_gz_fail(gzFile gz, const char *path) {
    int err = Z_OK;
    const char *msg = gzerror(gz, &err);
    /* zlib's message starts with the path, which ours names already */
    size_t plen = strlen(path);
    if (msg && !strncmp(msg, path, plen) && !strncmp(msg + plen, ": ", 2)) msg += plen + 2;
    if (err == Z_ERRNO) return dc_error(DC_ERR_IO, "%s: read error: %s", path, strerror(errno));
    if (err == Z_MEM_ERROR) return dc_error(DC_ERR_NOMEM, "%s: out of memory while decompressing", path);
    if (err == Z_BUF_ERROR)
        return dc_error(DC_ERR_FORMAT,
                        "%s: the gzip data ends early (truncated file: its 8-byte trailer, the CRC-32 and length of the "
                        "data, is missing or cut)",
                        path);
    return dc_error(DC_ERR_FORMAT, "%s: corrupt gzip data (%s)", path, msg ? msg : "unknown zlib error");
}

dc_status dc_gz_read(gzFile gz, const char *path, void *buf, size_t n, size_t *got) {
    *got = 0;
    while (*got < n) {
        size_t want = DC_MIN(n - *got, GZ_PIECE);
        int r = gzread(gz, (unsigned char *)buf + *got, (unsigned)want);
        if (r < 0) return dc_gz_fail(gz, path);
        if (r == 0) break;
        *got += (size_t)r;
    }
    return DC_OK;
}

bool dc_gz_cut(gzFile gz) {
    int err = Z_OK;
    gzerror(gz, &err);
    return err == Z_BUF_ERROR;
}

dc_status dc_gz_end(gzFile gz, const char *path) {
    int err = Z_OK;
    gzerror(gz, &err);
    return err == Z_OK ? DC_OK : dc_gz_fail(gz, path);
}
