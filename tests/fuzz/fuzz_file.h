/* Fuzz targets feed their input to deepc's public loaders through a real file, so that the
 * code under test is exactly what a user runs (gzip detection and stdio included). */
#ifndef DC_FUZZ_FILE_H
#define DC_FUZZ_FILE_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

/* Writes data[size] to a file private to this process (in /dev/shm when it exists, so the
 * disk is not worn) and returns its path. `suffix` names the format ("npy", "csv"). */
static const char *fuzz_file(const uint8_t *data, size_t size, const char *suffix) {
    static char path[128];
    const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
    snprintf(path, sizeof path, "%s/deepc-fuzz-%d.%s", base, (int)getpid(), suffix);
    FILE *f = fopen(path, "wb");
    if (!f) abort(); /* the harness itself is broken, not deepc */
    if (size && fwrite(data, 1, size, f) != size) abort();
    if (fclose(f)) abort();
    return path;
}

#endif
