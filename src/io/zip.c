/* The zip container of .npz archives: reading through the central directory with every offset
 * and size checked, streaming members out (stored or raw deflate), and writing archives. */
#define _FILE_OFFSET_BITS 64
#define _POSIX_C_SOURCE 200809L /* fileno, fseeko, ftello under strict C11 too */

#include "zip.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#define SIG_LOCAL 0x04034b50u
#define SIG_CENTRAL 0x02014b50u
#define SIG_END 0x06054b50u
#define SIG_END64 0x06064b50u
#define SIG_LOCATOR64 0x07064b50u
#define END_SIZE 22u                        /* end-of-central-directory record without comment */
#define END_SCAN ((uint64_t)END_SIZE + 65535u) /* ... with the longest comment */
#define CENTRAL_SIZE 46u
#define LOCAL_SIZE 30u
#define PIECE ((size_t)64 << 10)
/* Deflate turns at most 2 bits into a 258-byte match: no stream expands more than 1032:1.
 * A declared size beyond that (plus room for tiny streams) cannot be true. */
#define DEFLATE_MAX_RATIO 1032u
#define DEFLATE_SLACK 1024u

static uint16_t rd16(const unsigned char *p) { return (uint16_t)(p[0] | p[1] << 8); }
static uint32_t rd32(const unsigned char *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static uint64_t rd64(const unsigned char *p) { return (uint64_t)rd32(p) | (uint64_t)rd32(p + 4) << 32; }
static void wr16(unsigned char *p, uint16_t v) {
    p[0] = (unsigned char)v;
    p[1] = (unsigned char)(v >> 8);
}
static void wr32(unsigned char *p, uint32_t v) {
    wr16(p, (uint16_t)v);
    wr16(p + 2, (uint16_t)(v >> 16));
}
static void wr64(unsigned char *p, uint64_t v) {
    wr32(p, (uint32_t)v);
    wr32(p + 4, (uint32_t)(v >> 32));
}

typedef unsigned long long ull; /* for printf */

/* Reads n bytes at offset off. The caller has checked that they lie inside the file, so a
 * short read means the file changed or the disk failed. */
static dc_status read_at(FILE *f, const char *path, uint64_t off, void *buf, size_t n) {
    errno = 0;
    if (fseeko(f, (off_t)off, SEEK_SET) != 0)
        return dc_error(DC_ERR_IO, "%s: cannot seek to offset %llu: %s", path, (ull)off, strerror(errno));
    size_t got = fread(buf, 1, n, f);
    if (got == n) return DC_OK;
    if (ferror(f)) return dc_error(DC_ERR_IO, "%s: read error at offset %llu: %s", path, (ull)off, strerror(errno ? errno : EIO));
    return dc_error(DC_ERR_IO, "%s: the file ended at offset %llu while reading %zu bytes (did it change?)", path,
                    (ull)(off + got), n);
}

/* ------------------------------------------------------------------------------------- */
/* reading                                                                                */
/* ------------------------------------------------------------------------------------- */

/* The zip64 extra field (id 1) holds, in this order, the 64-bit values of those of the
 * uncompressed size, compressed size and local header offset that are 0xFFFFFFFF in the
 * fixed fields. */
static dc_status zip64_extra(const dc_zip *z, const char *name, const unsigned char *x, size_t xl, uint64_t *size,
                             uint64_t *comp, uint64_t *off) {
    size_t p = 0;
    while (xl - p >= 4) {
        uint16_t id = rd16(x + p), len = rd16(x + p + 2);
        if (len > xl - p - 4)
            return dc_error(DC_ERR_FORMAT, "%s: member '%s': extra field 0x%04x of %u bytes goes past the %zu-byte extra data",
                            z->path, name, id, len, xl);
        if (id == 1) {
            const unsigned char *v = x + p + 4;
            size_t have = len, k = 0;
            uint64_t *fields[3] = {size, comp, off};
            for (int i = 0; i < 3; i++) {
                if (*fields[i] != 0xFFFFFFFFu) continue;
                if (have - k < 8)
                    return dc_error(DC_ERR_FORMAT, "%s: member '%s': zip64 extra field of %u bytes lacks a 64-bit value",
                                    z->path, name, len);
                *fields[i] = rd64(v + k);
                k += 8;
            }
        }
        p += 4 + (size_t)len;
    }
    return DC_OK;
}

const char *dc_zip_name_problem(const char *name) {
    if (!name || !*name) return "is empty";
    if (strchr(name, '/')) return "holds the path separator '/'";
    if (strchr(name, '\\')) return "holds the path separator '\\'";
    if (!strcmp(name, ".") || !strcmp(name, "..")) return "is a folder's name ('.' or '..')";
    return NULL;
}

/* Parses central directory entry i at cd[*p] into z->e[i]. */
static dc_status central_entry(dc_zip *z, int i, const unsigned char *cd, uint64_t cd_size, size_t *p) {
    if (cd_size - *p < CENTRAL_SIZE)
        return dc_error(DC_ERR_FORMAT,
                        "%s: the central directory (%llu bytes) ends inside entry %d of %d (at byte %zu, entries are at "
                        "least 46 bytes)",
                        z->path, (ull)cd_size, i, z->n, *p);
    const unsigned char *q = cd + *p;
    if (rd32(q) != SIG_CENTRAL)
        return dc_error(DC_ERR_FORMAT, "%s: central directory entry %d (offset %llu) has signature 0x%08x, not 0x%08x",
                        z->path, i, (ull)(z->cd_off + *p), rd32(q), SIG_CENTRAL);
    uint16_t flags = rd16(q + 8), method = rd16(q + 10), nl = rd16(q + 28), xl = rd16(q + 30), cl = rd16(q + 32);
    uint16_t disk = rd16(q + 34);
    if ((uint64_t)CENTRAL_SIZE + nl + xl + cl > cd_size - *p)
        return dc_error(DC_ERR_FORMAT,
                        "%s: central directory entry %d (%u-byte name, %u-byte extra field, %u-byte comment) goes past "
                        "the directory's end (%llu bytes)",
                        z->path, i, nl, xl, cl, (ull)cd_size);
    if (nl == 0) return dc_error(DC_ERR_FORMAT, "%s: central directory entry %d has an empty name", z->path, i);
    if (memchr(q + CENTRAL_SIZE, 0, nl))
        return dc_error(DC_ERR_FORMAT, "%s: central directory entry %d has a NUL byte in its name", z->path, i);
    dc_zip_entry *e = &z->e[i];
    if (!(e->name = dc_alloc((size_t)nl + 1))) return DC_ERR_NOMEM;
    memcpy(e->name, q + CENTRAL_SIZE, nl);
    e->name[nl] = 0;
    const char *why = dc_zip_name_problem(e->name);
    if (why)
        return dc_error(DC_ERR_FORMAT, "%s: member '%s': the name %s, so it is not a plain file name", z->path, e->name,
                        why);
    e->method = method;
    e->crc = rd32(q + 16);
    e->comp_size = rd32(q + 20);
    e->size = rd32(q + 24);
    e->local_off = rd32(q + 42);
    dc_status s = zip64_extra(z, e->name, q + CENTRAL_SIZE + nl, xl, &e->size, &e->comp_size, &e->local_off);
    if (s) return s;
    *p += CENTRAL_SIZE + (size_t)nl + xl + cl;
    if (flags & 1) return dc_error(DC_ERR_FORMAT, "%s: member '%s' is encrypted", z->path, e->name);
    if (disk != 0 && disk != 0xFFFF)
        return dc_error(DC_ERR_FORMAT, "%s: member '%s' starts on disk %u (multi-disk archives are not supported)",
                        z->path, e->name, disk);
    if (method != 0 && method != 8)
        return dc_error(DC_ERR_FORMAT, "%s: member '%s' uses compression method %u; deepc reads 0 (stored) and 8 (deflated)",
                        z->path, e->name, method);
    if (e->local_off > z->cd_off || z->cd_off - e->local_off < LOCAL_SIZE ||
        e->comp_size > z->cd_off - e->local_off - LOCAL_SIZE)
        return dc_error(DC_ERR_FORMAT,
                        "%s: member '%s': local header at offset %llu with %llu bytes of data goes past the central "
                        "directory at offset %llu",
                        z->path, e->name, (ull)e->local_off, (ull)e->comp_size, (ull)z->cd_off);
    if (method == 0 && e->comp_size != e->size)
        return dc_error(DC_ERR_FORMAT, "%s: member '%s' is stored but declares %llu bytes in the archive and %llu uncompressed",
                        z->path, e->name, (ull)e->comp_size, (ull)e->size);
    if (method == 8 && e->size > e->comp_size * DEFLATE_MAX_RATIO + DEFLATE_SLACK) /* comp_size < file size: no overflow */
        return dc_error(DC_ERR_FORMAT,
                        "%s: member '%s' declares %llu uncompressed bytes from %llu deflated ones, more than deflate can "
                        "expand to (%u x + %u)",
                        z->path, e->name, (ull)e->size, (ull)e->comp_size, DEFLATE_MAX_RATIO, DEFLATE_SLACK);
    return DC_OK;
}

/* Finds the end records and reads the central directory. */
static dc_status read_directory(dc_zip *z) {
    uint64_t size = z->file_size;
    if (size < END_SIZE)
        return dc_error(DC_ERR_FORMAT, "%s: %llu bytes are too short for a zip archive (its end record alone is %u bytes)",
                        z->path, (ull)size, END_SIZE);
    size_t tail = (size_t)(size < END_SCAN ? size : END_SCAN);
    unsigned char *buf = dc_alloc(tail);
    if (!buf) return DC_ERR_NOMEM;
    dc_status s = read_at(z->f, z->path, size - tail, buf, tail);
    size_t at = 0;
    bool found = false;
    /* the last record whose comment reaches exactly the end of the file */
    for (size_t i = tail - END_SIZE + 1; !s && !found && i-- > 0;)
        if (rd32(buf + i) == SIG_END && i + END_SIZE + rd16(buf + i + 20) == tail) {
            at = i;
            found = true;
        }
    if (!s && !found)
        s = dc_error(DC_ERR_FORMAT, "%s: not a zip archive: no end-of-central-directory record in its last %zu bytes",
                     z->path, tail);
    if (s) {
        dc_free(buf);
        return s;
    }
    const unsigned char *e = buf + at;
    uint64_t end_off = size - tail + at, limit = end_off;
    uint32_t disk = rd16(e + 4), cd_disk = rd16(e + 6);
    uint64_t n_here = rd16(e + 8), n = rd16(e + 10), cd_size = rd32(e + 12), cd_off = rd32(e + 16);
    dc_free(buf);
    unsigned char loc[20], r[56];
    if (end_off >= sizeof loc) {
        if ((s = read_at(z->f, z->path, end_off - sizeof loc, loc, sizeof loc)) != DC_OK) return s;
        if (rd32(loc) == SIG_LOCATOR64) {
            uint64_t off64 = rd64(loc + 8);
            if (off64 > end_off - sizeof loc || end_off - sizeof loc - off64 < sizeof r)
                return dc_error(DC_ERR_FORMAT, "%s: the zip64 end record's offset %llu is not before its locator at offset %llu",
                                z->path, (ull)off64, (ull)(end_off - sizeof loc));
            if ((s = read_at(z->f, z->path, off64, r, sizeof r)) != DC_OK) return s;
            if (rd32(r) != SIG_END64)
                return dc_error(DC_ERR_FORMAT, "%s: no zip64 end record at offset %llu (signature 0x%08x)", z->path,
                                (ull)off64, rd32(r));
            if (rd32(loc + 4) != 0 || rd32(loc + 16) > 1) disk = 1; /* refused below */
            else {
                disk = rd32(r + 16);
                cd_disk = rd32(r + 20);
            }
            n_here = rd64(r + 24);
            n = rd64(r + 32);
            cd_size = rd64(r + 40);
            cd_off = rd64(r + 48);
            limit = off64;
        }
    }
    if (disk != 0 || cd_disk != 0 || n_here != n)
        return dc_error(DC_ERR_FORMAT, "%s: multi-disk zip archives are not supported (disk %u, %llu of %llu entries)",
                        z->path, disk, (ull)n_here, (ull)n);
    if (n > DC_ZIP_MAX_MEMBERS)
        return dc_error(DC_ERR_FORMAT, "%s: the archive declares %llu members; deepc reads at most %d", z->path, (ull)n,
                        DC_ZIP_MAX_MEMBERS);
    if (cd_off > limit || cd_size > limit - cd_off)
        return dc_error(DC_ERR_FORMAT,
                        "%s: the central directory (offset %llu, %llu bytes) goes past the end records at offset %llu",
                        z->path, (ull)cd_off, (ull)cd_size, (ull)limit);
    if (cd_size < n * CENTRAL_SIZE)
        return dc_error(DC_ERR_FORMAT,
                        "%s: the central directory (%llu bytes) is too short for its %llu entries of at least %u bytes",
                        z->path, (ull)cd_size, (ull)n, CENTRAL_SIZE);
    z->cd_off = cd_off;
    z->n = (int)n;
    if (n == 0) return DC_OK;
    unsigned char *cd = dc_alloc((size_t)cd_size); /* cd_size < the file's size */
    if (!cd) return DC_ERR_NOMEM;
    z->e = dc_calloc((size_t)n, sizeof *z->e);
    s = z->e ? read_at(z->f, z->path, cd_off, cd, (size_t)cd_size) : DC_ERR_NOMEM;
    size_t p = 0;
    for (int i = 0; !s && i < z->n; i++) s = central_entry(z, i, cd, cd_size, &p);
    dc_free(cd);
    return s;
}

FILE *dc_file_open_read(const char *path, uint64_t *size) {
    errno = 0;
    FILE *f = fopen(path, "rb");
    if (!f) return dc_error_null(DC_ERR_IO, "%s: cannot open: %s", path, errno ? strerror(errno) : "out of memory");
    struct stat sb;
    if (fstat(fileno(f), &sb) != 0) {
        int err = errno;
        fclose(f);
        return dc_error_null(DC_ERR_IO, "%s: cannot read: %s", path, strerror(err));
    }
    if (!S_ISREG(sb.st_mode)) {
        fclose(f);
        return dc_error_null(DC_ERR_IO, "%s: cannot read: %s", path, S_ISDIR(sb.st_mode) ? "it is a directory" : "not a regular file");
    }
    *size = (uint64_t)sb.st_size;
    return f;
}

dc_status dc_zip_open(dc_zip *z, const char *path) {
    memset(z, 0, sizeof *z);
    if (!path) return dc_error(DC_ERR_ARG, "zip archive path is NULL");
    z->path = path;
    if (!(z->f = dc_file_open_read(path, &z->file_size))) return dc_last_status();
    dc_status s = read_directory(z);
    if (s) dc_zip_close(z);
    return s;
}

void dc_zip_close(dc_zip *z) {
    if (z->f) fclose(z->f);
    for (int i = 0; z->e && i < z->n; i++) dc_free(z->e[i].name);
    dc_free(z->e);
    memset(z, 0, sizeof *z);
}

dc_status dc_zip_member_open(dc_zip *z, int i, dc_zip_reader *r) {
    memset(r, 0, sizeof *r);
    const dc_zip_entry *e = &z->e[i];
    r->zip = z;
    r->e = e;
    size_t nl = strlen(e->name), ll = strlen(z->path) + nl + 2;
    if (!(r->label = dc_alloc(ll))) return DC_ERR_NOMEM;
    snprintf(r->label, ll, "%s:%s", z->path, e->name);
    unsigned char h[LOCAL_SIZE];
    dc_status s = read_at(z->f, z->path, e->local_off, h, sizeof h);
    if (s) return s;
    if (rd32(h) != SIG_LOCAL)
        return dc_error(DC_ERR_FORMAT, "%s: no local header at offset %llu (signature 0x%08x, not 0x%08x)", r->label,
                        (ull)e->local_off, rd32(h), SIG_LOCAL);
    uint16_t lnl = rd16(h + 26), lxl = rd16(h + 28);
    uint64_t data = e->local_off + LOCAL_SIZE + lnl + lxl;
    if (data > z->cd_off || e->comp_size > z->cd_off - data)
        return dc_error(DC_ERR_FORMAT,
                        "%s: the data (offset %llu, %llu bytes, after a %u-byte name and a %u-byte extra field) goes past "
                        "the central directory at offset %llu",
                        r->label, (ull)data, (ull)e->comp_size, lnl, lxl, (ull)z->cd_off);
    if (lnl != nl)
        return dc_error(DC_ERR_FORMAT, "%s: the local header's name is %u bytes long, the central directory's %zu", r->label,
                        lnl, nl);
    char name[256];
    for (size_t k = 0; k < nl; k += sizeof name) { /* compare in pieces: names may be 64 KiB long */
        size_t m = DC_MIN(sizeof name, nl - k);
        if ((s = read_at(z->f, z->path, e->local_off + LOCAL_SIZE + k, name, m)) != DC_OK) return s;
        if (memcmp(name, e->name + k, m) != 0)
            return dc_error(DC_ERR_FORMAT, "%s: the local header names another file ('%.*s%s')", r->label, (int)m, name,
                            k + m < nl ? "..." : "");
    }
    errno = 0;
    if (fseeko(z->f, (off_t)data, SEEK_SET) != 0)
        return dc_error(DC_ERR_IO, "%s: cannot seek to offset %llu: %s", r->label, (ull)data, strerror(errno));
    r->left = e->size;
    r->cleft = e->comp_size;
    r->crc = (uint32_t)crc32(0, NULL, 0);
    if (e->method == 8) {
        if (!(r->in = dc_alloc(PIECE))) return DC_ERR_NOMEM;
        if (inflateInit2(&r->zs, -15) != Z_OK) return dc_error(DC_ERR_NOMEM, "%s: cannot start zlib's inflate", r->label);
        r->inflating = true;
    }
    return DC_OK;
}

static dc_status read_fail(dc_zip_reader *r, size_t got) {
    if (ferror(r->zip->f)) return dc_error(DC_ERR_IO, "%s: read error: %s", r->label, strerror(errno ? errno : EIO));
    return dc_error(DC_ERR_IO, "%s: the file ended %zu bytes into a read (did it change?)", r->label, got);
}

/* Inflates into out[n]; *got bytes come out (fewer than n only at the stream's end). */
static dc_status inflate_some(dc_zip_reader *r, unsigned char *out, size_t n, size_t *got) {
    *got = 0;
    while (*got < n && !r->ended) {
        if (r->zs.avail_in == 0 && r->cleft > 0) {
            size_t k = (size_t)DC_MIN((uint64_t)PIECE, r->cleft);
            errno = 0;
            size_t g = fread(r->in, 1, k, r->zip->f);
            if (g != k) return read_fail(r, g);
            r->zs.next_in = r->in;
            r->zs.avail_in = (uInt)k;
            r->cleft -= k;
        }
        size_t ask = DC_MIN(n - *got, (size_t)1 << 30);
        r->zs.next_out = out + *got;
        r->zs.avail_out = (uInt)ask;
        int rc = inflate(&r->zs, Z_NO_FLUSH);
        size_t made = ask - r->zs.avail_out;
        r->crc = (uint32_t)crc32_z(r->crc, out + *got, made);
        *got += made;
        if (rc == Z_STREAM_END) r->ended = true;
        else if (rc == Z_MEM_ERROR) return dc_error(DC_ERR_NOMEM, "%s: out of memory while inflating", r->label);
        else if (rc == Z_BUF_ERROR && r->zs.avail_in == 0 && r->cleft == 0)
            return dc_error(DC_ERR_FORMAT, "%s: the deflate data (%llu bytes) is cut off after %llu of the %llu bytes declared",
                            r->label, (ull)r->e->comp_size, (ull)(r->e->size - r->left + *got), (ull)r->e->size);
        else if (rc != Z_OK && rc != Z_BUF_ERROR)
            return dc_error(DC_ERR_FORMAT, "%s: corrupt deflate data (%s)", r->label, r->zs.msg ? r->zs.msg : "zlib error");
        else if (rc == Z_BUF_ERROR && r->zs.avail_in > 0)
            return dc_error(DC_ERR_FORMAT, "%s: corrupt deflate data (no progress)", r->label);
    }
    return DC_OK;
}

dc_status dc_zip_read(dc_zip_reader *r, void *buf, size_t n) {
    if (n > r->left) return dc_error(DC_ERR_ARG, "%s: read of %zu bytes past the member's end", r->label, n);
    if (!r->inflating) {
        errno = 0;
        size_t got = fread(buf, 1, n, r->zip->f);
        if (got != n) return read_fail(r, got);
        r->crc = (uint32_t)crc32_z(r->crc, buf, n);
        r->left -= n;
        r->cleft -= n;
        return DC_OK;
    }
    size_t got;
    dc_status s = inflate_some(r, buf, n, &got);
    if (s) return s;
    if (got < n)
        return dc_error(DC_ERR_FORMAT, "%s: the deflate data ends after %llu bytes; the central directory declares %llu",
                        r->label, (ull)(r->e->size - r->left + got), (ull)r->e->size);
    r->left -= n;
    return DC_OK;
}

dc_status dc_zip_member_finish(dc_zip_reader *r) {
    if (r->left) return dc_error(DC_ERR_ARG, "%s: %llu bytes were left unread", r->label, (ull)r->left);
    if (r->inflating && !r->ended) {
        unsigned char extra;
        size_t got;
        dc_status s = inflate_some(r, &extra, 1, &got);
        if (s) return s;
        if (got)
            return dc_error(DC_ERR_FORMAT, "%s: the deflate data holds more than the %llu bytes the central directory declares",
                            r->label, (ull)r->e->size);
    }
    if (r->crc != r->e->crc)
        return dc_error(DC_ERR_FORMAT, "%s: CRC-32 mismatch: the data's is 0x%08x, the central directory says 0x%08x",
                        r->label, r->crc, r->e->crc);
    return DC_OK;
}

dc_status dc_zip_member_check_rest(dc_zip_reader *r) {
    unsigned char buf[4096];
    while (r->left) {
        size_t k = (size_t)DC_MIN((uint64_t)sizeof buf, r->left);
        dc_status s = dc_zip_read(r, buf, k);
        if (s) return s;
    }
    return dc_zip_member_finish(r);
}

void dc_zip_member_close(dc_zip_reader *r) {
    if (r->inflating) inflateEnd(&r->zs);
    dc_free(r->in);
    dc_free(r->label);
    memset(r, 0, sizeof *r);
}

/* ------------------------------------------------------------------------------------- */
/* writing                                                                                */
/* ------------------------------------------------------------------------------------- */

#define VERSION_DEFLATE 20
#define VERSION_ZIP64 45
#define DOS_DATE_1980 0x0021 /* 1980-01-01: a fixed date keeps saved archives reproducible */
#define EXT_ATTR (0100644u << 16) /* a regular file, rw-r--r-- */
#define LOCAL_EXTRA 20u          /* the zip64 extra field every local header carries */

static dc_status write_fail(dc_zip_writer *w, const char *what) {
    return dc_error(DC_ERR_IO, "writing '%s': %s: %s", w->path, what, strerror(errno ? errno : EIO));
}

static bool name_ascii(const char *s) {
    for (; *s; s++)
        if ((unsigned char)*s >= 0x80) return false;
    return true;
}

void dc_zip_writer_init(dc_zip_writer *w, FILE *f, const char *path) {
    memset(w, 0, sizeof *w);
    w->f = f;
    w->path = path;
}

dc_status dc_zip_member_begin(dc_zip_writer *w, const char *name, bool deflate) {
    size_t nl = strlen(name);
    if (nl == 0 || nl > 0xFFFF)
        return dc_error(DC_ERR_ARG, "writing '%s': member name of %zu bytes (1..65535 are possible)", w->path, nl);
    if (w->n >= DC_ZIP_MAX_MEMBERS)
        return dc_error(DC_ERR_ARG, "writing '%s': more than %d members", w->path, DC_ZIP_MAX_MEMBERS);
    if (w->n == w->cap) {
        int cap = w->cap ? 2 * w->cap : 16;
        dc_zip_entry *e = dc_realloc(w->e, (size_t)cap * sizeof *e);
        if (!e) return DC_ERR_NOMEM;
        w->e = e;
        w->cap = cap;
    }
    dc_zip_entry *e = &w->e[w->n];
    memset(e, 0, sizeof *e);
    if (!(e->name = dc_alloc(nl + 1))) return DC_ERR_NOMEM;
    memcpy(e->name, name, nl + 1);
    w->n++;
    e->method = deflate ? 8 : 0;
    errno = 0;
    off_t off = ftello(w->f);
    if (off < 0) return write_fail(w, "cannot tell the position");
    e->local_off = (uint64_t)off;
    unsigned char h[LOCAL_SIZE + LOCAL_EXTRA];
    memset(h, 0, sizeof h);
    wr32(h, SIG_LOCAL);
    wr16(h + 4, VERSION_ZIP64);
    wr16(h + 6, name_ascii(name) ? 0 : 0x800); /* bit 11: the name is UTF-8 */
    wr16(h + 8, e->method);
    wr16(h + 12, DOS_DATE_1980);
    wr32(h + 18, 0xFFFFFFFFu); /* the sizes are in the zip64 extra field */
    wr32(h + 22, 0xFFFFFFFFu);
    wr16(h + 26, (uint16_t)nl);
    wr16(h + 28, LOCAL_EXTRA);
    fwrite(h, 1, LOCAL_SIZE, w->f);
    fwrite(name, 1, nl, w->f);
    wr16(h + LOCAL_SIZE, 1);
    wr16(h + LOCAL_SIZE + 2, 16); /* sizes: filled in by dc_zip_member_end */
    fwrite(h + LOCAL_SIZE, 1, LOCAL_EXTRA, w->f);
    w->size = w->comp = 0;
    w->crc = (uint32_t)crc32(0, NULL, 0);
    w->open = true;
    if (deflate) {
        if (!w->out && !(w->out = dc_alloc(PIECE))) return DC_ERR_NOMEM;
        if (deflateInit2(&w->zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY) != Z_OK)
            return dc_error(DC_ERR_NOMEM, "writing '%s': cannot start zlib's deflate", w->path);
        w->deflating = true;
    }
    return ferror(w->f) ? write_fail(w, "write failed") : DC_OK;
}

/* Runs deflate over the pending input with flush, writing what comes out. */
static dc_status deflate_out(dc_zip_writer *w, int flush) {
    int rc;
    do {
        w->zs.next_out = w->out;
        w->zs.avail_out = (uInt)PIECE;
        rc = deflate(&w->zs, flush);
        if (rc == Z_STREAM_ERROR) return dc_error(DC_ERR_STATE, "writing '%s': zlib's deflate failed", w->path);
        size_t have = PIECE - w->zs.avail_out;
        if (have && fwrite(w->out, 1, have, w->f) != have) return write_fail(w, "write failed");
        w->comp += have;
    } while (w->zs.avail_out == 0 || (flush == Z_FINISH && rc != Z_STREAM_END));
    return DC_OK;
}

dc_status dc_zip_write(dc_zip_writer *w, const void *buf, size_t n) {
    w->crc = (uint32_t)crc32_z(w->crc, buf, n);
    w->size += n;
    if (!w->deflating) {
        errno = 0;
        if (n && fwrite(buf, 1, n, w->f) != n) return write_fail(w, "write failed");
        w->comp += n;
        return DC_OK;
    }
    const unsigned char *p = buf;
    while (n) {
        size_t k = DC_MIN(n, (size_t)1 << 30);
        w->zs.next_in = (unsigned char *)p; /* zlib's API is not const */
        w->zs.avail_in = (uInt)k;
        dc_status s = deflate_out(w, Z_NO_FLUSH);
        if (s) return s;
        p += k;
        n -= k;
    }
    return DC_OK;
}

dc_status dc_zip_member_end(dc_zip_writer *w) {
    dc_zip_entry *e = &w->e[w->n - 1];
    if (w->deflating) {
        dc_status s = deflate_out(w, Z_FINISH);
        deflateEnd(&w->zs);
        w->deflating = false;
        if (s) return s;
    }
    w->open = false;
    e->crc = w->crc;
    e->size = w->size;
    e->comp_size = w->comp;
    errno = 0;
    off_t end = ftello(w->f);
    if (end < 0) return write_fail(w, "cannot tell the position");
    unsigned char b[16];
    wr32(b, e->crc);
    if (fseeko(w->f, (off_t)(e->local_off + 14), SEEK_SET) != 0) return write_fail(w, "cannot seek");
    fwrite(b, 1, 4, w->f);
    wr64(b, e->size);
    wr64(b + 8, e->comp_size);
    if (fseeko(w->f, (off_t)(e->local_off + LOCAL_SIZE + strlen(e->name) + 4), SEEK_SET) != 0)
        return write_fail(w, "cannot seek");
    fwrite(b, 1, 16, w->f);
    if (fseeko(w->f, end, SEEK_SET) != 0) return write_fail(w, "cannot seek");
    return ferror(w->f) ? write_fail(w, "write failed") : DC_OK;
}

dc_status dc_zip_writer_finish(dc_zip_writer *w) {
    errno = 0;
    off_t cd = ftello(w->f);
    if (cd < 0) return write_fail(w, "cannot tell the position");
    uint64_t cd_off = (uint64_t)cd;
    for (int i = 0; i < w->n; i++) {
        const dc_zip_entry *e = &w->e[i];
        size_t nl = strlen(e->name);
        unsigned char h[CENTRAL_SIZE], x[4 + 24];
        size_t xl = 4;
        uint64_t vals[3] = {e->size, e->comp_size, e->local_off};
        uint32_t fixed[3];
        for (int k = 0; k < 3; k++) {
            fixed[k] = vals[k] >= 0xFFFFFFFFu ? 0xFFFFFFFFu : (uint32_t)vals[k];
            if (vals[k] >= 0xFFFFFFFFu) {
                wr64(x + xl, vals[k]);
                xl += 8;
            }
        }
        bool z64 = xl > 4;
        wr16(x, 1);
        wr16(x + 2, (uint16_t)(xl - 4));
        uint16_t version = z64 ? VERSION_ZIP64 : VERSION_DEFLATE;
        memset(h, 0, sizeof h);
        wr32(h, SIG_CENTRAL);
        wr16(h + 4, (uint16_t)(0x0300 | version)); /* made on Unix */
        wr16(h + 6, version);
        wr16(h + 8, name_ascii(e->name) ? 0 : 0x800);
        wr16(h + 10, e->method);
        wr16(h + 14, DOS_DATE_1980);
        wr32(h + 16, e->crc);
        wr32(h + 20, fixed[1]);
        wr32(h + 24, fixed[0]);
        wr16(h + 28, (uint16_t)nl);
        wr16(h + 30, (uint16_t)(z64 ? xl : 0));
        wr32(h + 38, EXT_ATTR);
        wr32(h + 42, fixed[2]);
        fwrite(h, 1, sizeof h, w->f);
        fwrite(e->name, 1, nl, w->f);
        if (z64) fwrite(x, 1, xl, w->f);
    }
    off_t cd_end = ftello(w->f);
    if (cd_end < 0) return write_fail(w, "cannot tell the position");
    uint64_t cd_size = (uint64_t)cd_end - cd_off, n = (uint64_t)w->n;
    if (n >= 0xFFFF || cd_off >= 0xFFFFFFFFu || cd_size >= 0xFFFFFFFFu) {
        unsigned char r[56 + 20];
        memset(r, 0, sizeof r);
        wr32(r, SIG_END64);
        wr64(r + 4, 44); /* the record's size after this field */
        wr16(r + 12, 0x0300 | VERSION_ZIP64);
        wr16(r + 14, VERSION_ZIP64);
        wr64(r + 24, n);
        wr64(r + 32, n);
        wr64(r + 40, cd_size);
        wr64(r + 48, cd_off);
        wr32(r + 56, SIG_LOCATOR64);
        wr64(r + 56 + 8, (uint64_t)cd_end);
        wr32(r + 56 + 16, 1); /* disks */
        fwrite(r, 1, sizeof r, w->f);
    }
    unsigned char end[END_SIZE];
    memset(end, 0, sizeof end);
    wr32(end, SIG_END);
    wr16(end + 8, (uint16_t)(n >= 0xFFFF ? 0xFFFF : n));
    wr16(end + 10, (uint16_t)(n >= 0xFFFF ? 0xFFFF : n));
    wr32(end + 12, cd_size >= 0xFFFFFFFFu ? 0xFFFFFFFFu : (uint32_t)cd_size);
    wr32(end + 16, cd_off >= 0xFFFFFFFFu ? 0xFFFFFFFFu : (uint32_t)cd_off);
    fwrite(end, 1, sizeof end, w->f);
    return ferror(w->f) ? write_fail(w, "write failed") : DC_OK;
}

void dc_zip_writer_free(dc_zip_writer *w) {
    if (w->deflating) deflateEnd(&w->zs);
    for (int i = 0; i < w->n; i++) dc_free(w->e[i].name);
    dc_free(w->e);
    dc_free(w->out);
    memset(w, 0, sizeof *w);
}
