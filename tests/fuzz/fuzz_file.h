/* Fuzz targets feed their input to deepc's public loaders through a real file, so that the
 * code under test is exactly what a user runs (gzip detection and stdio included). */
#ifndef DC_FUZZ_FILE_H
#define DC_FUZZ_FILE_H

#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

/* The process's own folder for its files (in /dev/shm when it exists, so the disk is not
 * worn), removed with what the target left in it when the process exits. Being private, it
 * holds only this process's few files, which keeps the directory scans of deepc's atomic
 * writer short however many fuzzers ran before. */
static char fuzz_dir[64];

static void fuzz_dir_remove(void) {
    char cmd[96];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", fuzz_dir);
    if (fuzz_dir[0] && system(cmd) != 0) fprintf(stderr, "fuzz: could not remove %s\n", fuzz_dir);
}

/* Writes data[size] to a file in the process's folder and returns its path. `suffix` names
 * the format ("npy", "csv"). The file is written with plain system calls: stdio would
 * allocate and fill a buffer on every run. */
static const char *fuzz_file(const uint8_t *data, size_t size, const char *suffix) {
    static char path[128];
    if (!fuzz_dir[0]) {
        snprintf(fuzz_dir, sizeof fuzz_dir, "%s/deepc-fuzz-XXXXXX", access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
        if (!mkdtemp(fuzz_dir)) abort(); /* the harness itself is broken, not deepc */
        atexit(fuzz_dir_remove);
    }
    snprintf(path, sizeof path, "%s/input.%s", fuzz_dir, suffix);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0) abort();
    for (size_t done = 0; done < size;) {
        ssize_t w = write(fd, data + done, size - done);
        if (w <= 0) abort();
        done += (size_t)w;
    }
    if (close(fd) != 0) abort();
    return path;
}

#endif
