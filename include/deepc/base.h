/*
 * deepc/base.h - floor base (src/base): status codes and the last error, the thread count,
 * the clock, seeded random numbers and the allocation counter.
 */
#ifndef DEEPC_BASE_H
#define DEEPC_BASE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

/* What follows is deepc's public API, exported by libdeepc.so (whose other symbols are hidden). */
#if defined(__GNUC__)
#pragma GCC visibility push(default)
#endif

/* The version of these headers; dc_version() gives the library's, which may differ when a
 * program runs against another shared library than it was built with. */
#define DC_VERSION_MAJOR 0
#define DC_VERSION_MINOR 2
#define DC_VERSION_PATCH 0
#define DC_VERSION_STRING "0.2.0"

typedef enum dc_status {
    DC_OK = 0,
    DC_ERR_ARG,     /* an argument is invalid (NULL, zero batch size, unknown option) */
    DC_ERR_SHAPE,   /* shapes do not fit together */
    DC_ERR_NOMEM,   /* an allocation failed */
    DC_ERR_IO,      /* a file could not be opened, read or written */
    DC_ERR_FORMAT,  /* a file's content is malformed */
    DC_ERR_STATE,   /* the call is not allowed in the object's current state */
    DC_ERR_NUMERIC, /* a NaN or Inf where a finite number is needed */
    DC_STATUS_COUNT
} dc_status;

/* The library's version, "MAJOR.MINOR.PATCH". */
const char *dc_version(void);

/* The message of the last failure on this thread ("" if none). */
const char *dc_last_error(void);
/* The status of the last failure on this thread (DC_OK if none): tells why a function that
 * returns NULL failed. */
dc_status dc_last_status(void);
/* A short name for a status: "DC_ERR_SHAPE", ... */
const char *dc_status_name(dc_status s);
/* Forget the last error message. */
void dc_clear_error(void);
/* Records status s and a printf-style message for dc_last_error() and returns s: how a fit
 * callback or a user loss (dc_model_compile_custom) reports why it failed. */
dc_status dc_error(dc_status s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Atomic file replacement, which every file deepc writes goes through: readers of `path` see
 * either the old file or the complete new one, never a half-written file, even if the process
 * dies or the disk fills up. */
/* Writes the content of a file to f; returns DC_OK or a dc_error() status. Failed stdio
 * calls need no checking: the stream's error flag is checked afterwards. */
typedef dc_status (*dc_write_fn)(FILE *f, void *arg);

/* Calls write(f, arg) on a temporary file beside path, flushes and fsyncs it, renames it over
 * path and fsyncs the directory. On failure the temporary file is removed, an existing file at
 * path is left untouched, and the status is DC_ERR_IO (naming the path and the system's reason),
 * DC_ERR_ARG or the callback's own status.
 *
 * Temporary files: "<name>.tmp.<pid>.<n>" in the file's own directory, created with O_EXCL; n is
 * a per-process counter, so threads and processes saving the same path at once never share one:
 * each save lands whole or fails cleanly, and the file is always one writer's complete file (the
 * last rename wins). <name> is the file's name, cut (between UTF-8 characters) where the whole
 * temporary name would pass the directory's NAME_MAX, so any valid file name can be saved.
 * Temporary files that writers killed mid-write left there (these names, and the older
 * "<name>.tmp.<pid>") are removed once their process is gone.
 *
 * Symbolic links are written through: when path is a link (or a chain of links), the file it
 * leads to is replaced atomically in that file's own directory and the link stays as it is; a
 * dangling link's target is created. More than 40 links in a row is an error (ELOOP).
 * A FIFO or character device (a pipe, a terminal, /dev/null; /dev/stdout leads to one) has no
 * file to replace: it is written in place, never replaced by a regular file. A directory is not
 * replaced (DC_ERR_IO), nor is any other kind of file (DC_ERR_ARG). */
dc_status dc_write_file_atomic(const char *path, dc_write_fn write, void *arg);

/* Threads used by deepc's kernels and OpenBLAS: one OpenMP pool, since deepc links
 * OpenBLAS's OpenMP build, and both are set to the same count, so they never oversubscribe.
 * Default: the DEEPC_THREADS environment variable when it is a whole number from 1 to 1024
 * (anything else, "abc", "0", "-3", "2x", is ignored) as a fixed count; without it, the number
 * of online cores as the ceiling of an adaptive team: deepc times the steps of fit, of
 * hand-written loops (each optimiser step) and of predict and evaluate, tries team sizes from
 * the ceiling down to 1 now and then, and keeps the fastest, so a machine whose cores other
 * programs take does not make it crawl (spinning threads waiting for a core), and a model too
 * small to gain from threads runs on one. dc_set_threads(n) fixes the count at n (the team is
 * always n); n <= 0 restores the default. dc_set_threads_adaptive(max) adapts the team between
 * 1 and max (max <= 0: the online cores). Safe to call from any thread; the team size is set
 * for the thread that first asks for the count or, adapting, the thread whose loop is timed.
 * Results are reproducible at a fixed count: the same seed, data and count give bit-identical
 * weights, losses and predictions from run to run. An adaptive team keeps most kernels' bits
 * independent of its size (partial sums and split GEMMs are cut by the configured count), but
 * not yet all (recurrent layers, attention), so fix the count for bit-identical runs. Results
 * at different configured counts may differ in the last bits. */
void dc_set_threads(int n);
void dc_set_threads_adaptive(int max);
/* The configured count: the fixed count, or the ceiling of an adaptive team. */
int dc_get_threads(void);
/* The team size in force (1 to dc_get_threads()), and whether it adapts. */
int dc_threads_team(void);
bool dc_threads_adaptive(void);

/* Monotonic wall-clock seconds (for timing training). */
double dc_now(void);

/* Seeded pseudo-random numbers (xoshiro256**). The state is public so it can be embedded
 * and saved; same seed, same sequence on every platform. */
typedef struct dc_rng {
    uint64_t s[4];
} dc_rng;
void dc_rng_seed(dc_rng *r, uint64_t seed);
uint64_t dc_rng_next(dc_rng *r);
/* uniform in [0, 1) */
float dc_rng_uniform(dc_rng *r);
/* standard normal (Box-Muller) */
float dc_rng_normal(dc_rng *r);
/* uniform integer in [0, n) without modulo bias; n > 0 */
uint64_t dc_rng_below(dc_rng *r, uint64_t n);
/* Fisher-Yates shuffle of idx[0..n) */
void dc_rng_shuffle(dc_rng *r, int64_t *idx, int64_t n);

/* Number of system allocations deepc has made since the process started (all contexts,
 * tensors, models). A training step that has run once makes none. */
uint64_t dc_alloc_count(void);

#if defined(__GNUC__)
#pragma GCC visibility pop
#endif

#ifdef __cplusplus
}
#endif
#endif /* DEEPC_BASE_H */
