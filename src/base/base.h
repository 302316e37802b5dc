/* base: status and error messages, allocation, RNG helpers, threads, timing. */
#ifndef DC_BASE_H
#define DC_BASE_H

#include "deepc/base.h"

#include <stdarg.h>

/* Same, returning NULL (for constructors). */
void *dc_error_null(dc_status s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Appends context in front of the current message: "<prefix>: <old message>". */
void dc_error_prefix(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* 64-byte aligned allocation; counts toward dc_alloc_count(). NULL + error on failure. */
void *dc_alloc(size_t bytes);
void *dc_calloc(size_t n, size_t size);
void *dc_realloc(void *p, size_t bytes); /* not aligned beyond malloc's guarantee */
void dc_free(void *p);
/* a * b with overflow check; false on overflow */
bool dc_mul_ok(size_t a, size_t b, size_t *out);


/* Threads for deepc's own loops (OpenMP). */
int dc_threads(void);

#define DC_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define DC_MIN(a, b) ((a) < (b) ? (a) : (b))
#define DC_MAX(a, b) ((a) > (b) ? (a) : (b))

#endif
