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


/* Threads for deepc's own loops (OpenMP): the configured count, the ceiling of the team. */
int dc_threads(void);

/* The loops whose steps the adaptive team size times: training steps (one per optimiser
 * step) and inference batches (predict, evaluate). */
enum { DC_TICK_TRAIN, DC_TICK_INFER, DC_TICK_STREAMS };
/* The end of one step of a stream's loop, called by the thread that runs the loop; it may
 * change that thread's team size. Does nothing unless the team adapts. */
void dc_threads_tick(int stream);
/* dc_threads_tick with the time given (seconds, increasing), for tests of the tuner. */
void dc_threads_tick_at(int stream, double now);
/* Sets this thread's team size (1 to the configured count) until the tuner changes it: for
 * tests that run the same steps on different teams. */
void dc_threads_set_team(int n);

#define DC_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define DC_MIN(a, b) ((a) < (b) ? (a) : (b))
#define DC_MAX(a, b) ((a) > (b) ? (a) : (b))

#endif
