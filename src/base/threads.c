/* One thread count for deepc's OpenMP loops and OpenBLAS (its OpenMP build, so one pool), so
 * the two never oversubscribe. */
#include "base.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>
#ifdef _OPENMP
#include <omp.h>
#endif

void openblas_set_num_threads(int n);

#define DC_THREADS_MAX 1024

/* The count in force; 0 until the first dc_set_threads or dc_get_threads decides it. Read
 * without the lock (an acquire load, so a reader that sees a count also sees it applied);
 * written only under `lock`, which also keeps the count and the OpenMP / OpenBLAS settings
 * that go with it from interleaving when threads set it and first read it at once. */
static atomic_int n_threads;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

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

/* Under `lock`: n for OpenMP and OpenBLAS, then published. */
static void apply_locked(int n) {
#ifdef _OPENMP
    omp_set_dynamic(0);
    omp_set_num_threads(n);
#endif
    openblas_set_num_threads(n);
    atomic_store_explicit(&n_threads, n, memory_order_release);
}

/* OpenMP's dynamic team sizes are switched off (OMP_DYNAMIC=true would allow smaller teams), so
 * a parallel region always gets the count: the kernels that cut their work by the team's size
 * (Conv2D's weight gradient, summed from per-thread parts in thread order; a thin GEMM cut into
 * column blocks; the recurrent cells' row chunks) cut at the same places on every run only when
 * the team has the same size every time. With that, every result is reproducible bit for bit at
 * a fixed thread count: every `omp for` in src/ is schedule(static) or has iterations that write
 * disjoint outputs, no atomics or critical sections accumulate floats, and OpenBLAS partitions a
 * GEMM by the thread count alone. Results at different thread counts may differ in the last
 * bits (the cuts, and OpenBLAS's blocking, move with the count). */
void dc_set_threads(int n) {
    int v = n > 0 ? (n < DC_THREADS_MAX ? n : DC_THREADS_MAX) : default_threads();
    pthread_mutex_lock(&lock);
    apply_locked(v);
    pthread_mutex_unlock(&lock);
}

int dc_get_threads(void) {
    int n = atomic_load_explicit(&n_threads, memory_order_acquire);
    if (n) return n;
    /* the first reader decides the default; one that loses the race takes the winner's count
     * (or one a concurrent dc_set_threads stored) */
    pthread_mutex_lock(&lock);
    n = atomic_load_explicit(&n_threads, memory_order_relaxed);
    if (!n) {
        n = default_threads();
        apply_locked(n);
    }
    pthread_mutex_unlock(&lock);
    return n;
}

int dc_threads(void) { return dc_get_threads(); }
