/* Test files in a private temporary directory (plain or gzip), removed at the end. */
#ifndef DC_TEST_TMPFILES_H
#define DC_TEST_TMPFILES_H

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

static char dir[64];

/* Makes the directory; false on failure. */
static inline bool tmp_dir_create(void) {
    snprintf(dir, sizeof dir, "/tmp/deepc-test-XXXXXX");
    return mkdtemp(dir) != NULL;
}

static inline bool tmp_dir_remove(void) {
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    return system(cmd) == 0;
}

/* Writes n bytes to dir/name (gzip-compressed if gz); returns the path (4 rotating buffers). */
static inline const char *write_file(const char *name, const void *data, size_t n, bool gz) {
    static char path[4][256];
    static int slot;
    char *p = path[slot++ & 3];
    snprintf(p, sizeof path[0], "%s/%s", dir, name);
    if (gz) {
        gzFile f = gzopen(p, "wb");
        gzwrite(f, data, (unsigned)n);
        gzclose(f);
    } else {
        FILE *f = fopen(p, "wb");
        fwrite(data, 1, n, f);
        fclose(f);
    }
    return p;
}
#define WRITE(name, text) write_file(name, text, strlen(text), false)

/* d/name in one of 8 rotating buffers (so a call may take several paths). */
static inline const char *path_in(const char *d, const char *name) {
    static char path[8][512];
    static int slot;
    char *p = path[slot++ & 7];
    int w = snprintf(p, sizeof path[0], "%s/%s", d, name);
    if (w < 0 || w >= (int)sizeof path[0]) p[0] = 0; /* too long: no path rather than a wrong one */
    return p;
}
/* name inside the test's temporary directory */
#define in_dir(name) path_in(dir, name)

/* The whole content of a file, NUL-terminated (the caller frees it), its size in *n unless n is
 * NULL; NULL if it cannot be read. */
static inline char *slurp_n(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    size_t cap = 4096, len = 0, got;
    char *buf = malloc(cap);
    while (buf && (got = fread(buf + len, 1, cap - len - 1, f)) > 0) {
        len += got;
        if (cap - len < 2) {
            char *more = realloc(buf, cap *= 2);
            if (!more) free(buf);
            buf = more;
        }
    }
    fclose(f);
    if (buf) buf[len] = 0;
    if (n) *n = buf ? len : 0;
    return buf;
}

/* Both files exist and hold the same bytes; prints the first difference otherwise. */
static inline bool same_bytes(const char *a, const char *b) {
    size_t na = 0, nb = 0;
    unsigned char *x = (unsigned char *)slurp_n(a, &na), *y = (unsigned char *)slurp_n(b, &nb);
    bool same = x && y && na == nb && memcmp(x, y, na) == 0;
    if (!same) {
        size_t i = 0;
        while (x && y && i < na && i < nb && x[i] == y[i]) i++;
        fprintf(stderr, "  %s (%zu bytes) and %s (%zu bytes) differ at byte %zu\n", a, na, b, nb, i);
    }
    free(x);
    free(y);
    return same;
}

#endif
