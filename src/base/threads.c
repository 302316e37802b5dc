/* One thread count for deepc's OpenMP loops and OpenBLAS (its OpenMP build, so one pool), so
 * the two never oversubscribe; and the deterministic mode. */
#include "base.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#ifdef _OPENMP
#include <omp.h>
#endif

void openblas_set_num_threads(int n);

#define DC_THREADS_MAX 1024

static int n_threads;     /* 0 = not yet decided */
static int deterministic = -1; /* -1 = not yet decided */

/* DEEPC_THREADS when it is a whole number in [1, DC_THREADS_MAX], else 0. */
static int env_threads(void) {
    const char *e = getenv("DEEPC_THREADS");
    if (!e || !*e) return 0;
    char *end;
    errno = 0;
    long n = strtol(e, &end, 10);
    while (*end == ' ' || *end == '\t' || *end == '\n') end++;
    if (errno || *end || n < 1 || n > DC_THREADS_MAX) return 0;
    return (int)n;
}

static int default_threads(void) {
    int n = env_threads();
    if (n) return n;
    long c = sysconf(_SC_NPROCESSORS_ONLN);
    return c > 0 ? (int)(c < DC_THREADS_MAX ? c : DC_THREADS_MAX) : 1;
}

void dc_set_threads(int n) {
    n_threads = n > 0 ? (n < DC_THREADS_MAX ? n : DC_THREADS_MAX) : default_threads();
    dc_get_deterministic(); /* applies DEEPC_DETERMINISTIC before the first parallel region */
#ifdef _OPENMP
    omp_set_num_threads(n_threads);
#endif
    openblas_set_num_threads(n_threads);
}

int dc_get_threads(void) {
    if (!n_threads) dc_set_threads(0);
    return n_threads;
}

int dc_threads(void) { return dc_get_threads(); }

void dc_set_deterministic(bool on) {
    deterministic = on;
#ifdef _OPENMP
    if (on) omp_set_dynamic(0);
#endif
}

bool dc_get_deterministic(void) {
    if (deterministic < 0) {
        const char *e = getenv("DEEPC_DETERMINISTIC");
        dc_set_deterministic(!(e && (!strcmp(e, "0") || !strcmp(e, "off") || !strcmp(e, "false"))));
    }
    return deterministic;
}
