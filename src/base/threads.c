/* One thread count for deepc's OpenMP loops and OpenBLAS, so the two never oversubscribe. */
#include "base.h"

#include <stdlib.h>
#include <unistd.h>
#ifdef _OPENMP
#include <omp.h>
#endif

void openblas_set_num_threads(int n);

static int n_threads; /* 0 = not yet decided */

static int default_threads(void) {
    const char *e = getenv("DEEPC_THREADS");
    if (e && *e) {
        int n = atoi(e);
        if (n > 0) return n;
    }
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}

void dc_set_threads(int n) {
    n_threads = n > 0 ? n : default_threads();
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
