/* Aligned allocation with a global count, so tests can prove a steady-state step
 * allocates nothing. */
#include "base.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static atomic_uint_fast64_t alloc_count;

uint64_t dc_alloc_count(void) { return atomic_load(&alloc_count); }

void *dc_alloc(size_t bytes) {
    if (bytes == 0) bytes = 1;
    size_t rounded = (bytes + 63) & ~(size_t)63;
    if (rounded < bytes) return dc_error_null(DC_ERR_NOMEM, "allocation of %zu bytes overflows", bytes);
    void *p = aligned_alloc(64, rounded);
    if (!p) return dc_error_null(DC_ERR_NOMEM, "out of memory allocating %zu bytes", bytes);
    atomic_fetch_add(&alloc_count, 1);
    return p;
}

void *dc_calloc(size_t n, size_t size) {
    size_t bytes;
    if (!dc_mul_ok(n, size, &bytes))
        return dc_error_null(DC_ERR_NOMEM, "allocation of %zu x %zu bytes overflows", n, size);
    void *p = dc_alloc(bytes);
    if (p) memset(p, 0, bytes);
    return p;
}

void *dc_realloc(void *p, size_t bytes) {
    void *q = realloc(p, bytes ? bytes : 1);
    if (!q) return dc_error_null(DC_ERR_NOMEM, "out of memory reallocating %zu bytes", bytes);
    atomic_fetch_add(&alloc_count, 1);
    return q;
}

void dc_free(void *p) { free(p); }

bool dc_mul_ok(size_t a, size_t b, size_t *out) {
    return !__builtin_mul_overflow(a, b, out);
}

double dc_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}
