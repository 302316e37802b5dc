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
static bool tmp_dir_create(void) {
    snprintf(dir, sizeof dir, "/tmp/deepc-test-XXXXXX");
    return mkdtemp(dir) != NULL;
}

static bool tmp_dir_remove(void) {
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    return system(cmd) == 0;
}

/* Writes n bytes to dir/name (gzip-compressed if gz); returns the path (4 rotating buffers). */
static const char *write_file(const char *name, const void *data, size_t n, bool gz) {
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

#endif
