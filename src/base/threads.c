/* One thread count for deepc's OpenMP loops and OpenBLAS (its OpenMP build, so one pool), so
 * the two never oversubscribe; and, unless a count was asked for, a team size that adapts to
 * what the machine gives this process. */
#include "base.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#ifdef _OPENMP
#include <omp.h>
#endif

void openblas_set_num_threads(int n);

#define DC_THREADS_MAX 1024

/* The configured count (the ceiling of the team); 0 until the first dc_set_threads or
 * dc_get_threads decides it. Read without the lock (an acquire load, so a reader that sees a
 * count also sees it applied); written only under `lock`, which also keeps the count and the
 * OpenMP / OpenBLAS settings that go with it from interleaving when threads set it and first
 * read it at once. */
static atomic_int n_threads;
/* The team size in force, 1 to n_threads: n_threads itself unless the count adapts. */
static atomic_int live_threads;
/* Whether the team size adapts (no count was asked for). */
static atomic_bool adaptive;
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

static int online_cores(void) {
    long c = sysconf(_SC_NPROCESSORS_ONLN);
    return c > 0 ? (int)(c < DC_THREADS_MAX ? c : DC_THREADS_MAX) : 1;
}

/* Whether DEEPC_GEMM_SPLIT=off gives GEMM threading back to OpenBLAS. */
static bool openblas_threads(void) {
    const char *e = getenv("DEEPC_GEMM_SPLIT");
    return e && (!strcmp(e, "off") || !strcmp(e, "0"));
}

/* The team size for OpenMP (this thread's setting, the one that starts deepc's parallel
 * regions). OpenBLAS runs on one thread: deepc splits its GEMMs over the team itself
 * (src/kernels/blas.c), unless DEEPC_GEMM_SPLIT=off. */
static void apply_team(int n) {
    /* OpenBLAS first: its OpenMP build sets OpenMP's thread count to its own as well */
    openblas_set_num_threads(openblas_threads() ? n : 1);
#ifdef _OPENMP
    omp_set_dynamic(0);
    omp_set_num_threads(n);
#endif
    atomic_store_explicit(&live_threads, n, memory_order_relaxed);
}

static void tuner_restart(void);

/* Under `lock`: n as the ceiling and the team, adapting or not, then published. */
static void apply_locked(int n, bool adapt) {
    apply_team(n);
    atomic_store_explicit(&adaptive, adapt && n > 1, memory_order_relaxed);
    atomic_store_explicit(&n_threads, n, memory_order_release);
    tuner_restart();
}

/* The default: DEEPC_THREADS as a fixed count, else every online core as the ceiling of an
 * adapting team. */
static void apply_default_locked(void) {
    int n = env_threads();
    if (n) apply_locked(n, false);
    else apply_locked(online_cores(), true);
}

/* OpenMP's dynamic team sizes are switched off (OMP_DYNAMIC=true would allow smaller teams), so
 * a parallel region always gets the team size in force, and results are reproducible bit for
 * bit at a fixed count: every `omp for` in src/ is schedule(static) or has iterations that
 * write disjoint outputs, and no atomics or critical sections accumulate floats. Where partial
 * sums are added (a weight's gradient over the images of a batch, LayerNorm's over rows) the
 * work is cut into as many parts as the configured count (dc_sum_parts), not the team's size,
 * and a GEMM split over threads is cut into pieces by the configured count, so that most
 * results do not change with the size an adaptive team runs them on. */
void dc_set_threads(int n) {
    pthread_mutex_lock(&lock);
    if (n > 0) apply_locked(n < DC_THREADS_MAX ? n : DC_THREADS_MAX, false);
    else apply_default_locked();
    pthread_mutex_unlock(&lock);
}

void dc_set_threads_adaptive(int max) {
    pthread_mutex_lock(&lock);
    int n = max > 0 ? (max < DC_THREADS_MAX ? max : DC_THREADS_MAX) : online_cores();
    apply_locked(n, true);
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
        apply_default_locked();
        n = atomic_load_explicit(&n_threads, memory_order_relaxed);
    }
    pthread_mutex_unlock(&lock);
    return n;
}

int dc_threads(void) { return dc_get_threads(); }

int dc_threads_team(void) {
    dc_get_threads();
    return atomic_load_explicit(&live_threads, memory_order_relaxed);
}

bool dc_threads_adaptive(void) {
    dc_get_threads();
    return atomic_load_explicit(&adaptive, memory_order_relaxed);
}

/* ---- the adaptive team size ----
 * Steps of a loop (training steps, inference batches) are timed from tick to tick. The tuner
 * probes each candidate size, the ceiling, then halves of it down to 1: it drops the first step
 * after a switch (it straddles the switch), then times steps for at least PROBE_SECONDS and
 * PROBE_STEPS steps, and scores their mean. The mean, not a median: on a machine that other
 * processes share, a team larger than the free cores runs most steps at full speed and loses
 * whole scheduler slices on a few, and those few are the cost. A candidate already much slower
 * than the best after half its time is cut short. The fastest is kept for EXPLOIT_FACTOR times
 * the probe's duration (at least EXPLOIT_SECONDS), then the probe starts again; it starts at
 * once when a WATCH_SECONDS window of the kept size is much slower than its score (another
 * process took cores). A team of one leaves OpenMP's other threads asleep, off the cores that
 * other programs want. Each stream keeps its own choice, so evaluation between epochs neither
 * disturbs the training's probe nor inherits its size. */
#define TUNE_MAX_CANDS 12
#define PROBE_STEPS 4
#define PROBE_SECONDS 0.1
#define EXPLOIT_FACTOR 24
#define EXPLOIT_SECONDS 2.0
#define WATCH_STEPS 8
#define WATCH_SECONDS 0.25
#define SLOWER_CUT 1.5   /* a probe cut short: this much slower than the best so far */
#define SLOWER_WATCH 1.4 /* re-probe: the kept size this much slower than its score */

typedef struct tuner {
    int cand[TUNE_MAX_CANDS], ncand;
    double score[TUNE_MAX_CANDS]; /* mean seconds per step */
    int order[TUNE_MAX_CANDS];    /* the probe's order: the kept candidate first, once there is one */
    bool probing;
    bool chosen;     /* a probe has finished: best holds a measured choice */
    int i;           /* the candidate being probed: cand[order[i]] */
    int skip;        /* steps to drop after a switch */
    int n;           /* steps timed in this probe or watch window */
    double sum;      /* their seconds */
    int best;        /* the kept candidate */
    double left;     /* seconds left before the next probe */
    double probe_s;  /* seconds the current or last probe took */
    double last;     /* the previous tick's time, 0 when there is none */
} tuner;

static tuner tuners[DC_TICK_STREAMS];
static int last_stream = -1;
static atomic_int tune_generation; /* bumped by every configuration change */
static int tuned_generation = -1;

static void tuner_restart(void) { atomic_fetch_add_explicit(&tune_generation, 1, memory_order_relaxed); }

static bool tune_log(void) {
    const char *e = getenv("DEEPC_THREADS_LOG");
    return e && *e && strcmp(e, "0") != 0;
}

/* The probe's order: candidate `first`, then the others from the largest down. */
static void order_from(tuner *t, int first) {
    t->order[0] = first;
    for (int c = 0, k = 1; c < t->ncand; c++)
        if (c != first) t->order[k++] = c;
}

static void tuner_init(tuner *t, int ceiling) {
    memset(t, 0, sizeof *t);
    for (int c = ceiling; c >= 1 && t->ncand < TUNE_MAX_CANDS; c /= 2) t->cand[t->ncand++] = c;
    if (t->cand[t->ncand - 1] != 1) t->cand[t->ncand - 1] = 1;
    order_from(t, 0);
    t->probing = true;
    t->skip = 1;
}

/* A new probe: the kept size first, so a candidate far slower than it is cut short after one
 * step. */
static void probe_start(tuner *t) {
    order_from(t, t->best);
    t->probing = true;
    t->i = 0;
    t->skip = 1;
    t->n = 0;
    t->sum = 0;
    t->probe_s = 0;
    apply_team(t->cand[t->order[0]]);
}

static void probe_next(tuner *t) {
    t->score[t->order[t->i]] = t->sum / t->n;
    t->i++;
    t->n = 0;
    t->sum = 0;
    t->skip = 1;
    if (t->i < t->ncand) {
        apply_team(t->cand[t->order[t->i]]);
        return;
    }
    t->best = 0;
    for (int c = 1; c < t->ncand; c++)
        if (t->score[c] < t->score[t->best]) t->best = c;
    t->probing = false;
    t->chosen = true;
    if (tune_log()) {
        fprintf(stderr, "deepc threads:");
        for (int c = 0; c < t->ncand; c++)
            if (t->score[c] > 0) fprintf(stderr, " %d threads %.3g ms/step,", t->cand[c], t->score[c] * 1e3);
        fprintf(stderr, " keeping %d\n", t->cand[t->best]);
    }
    t->left = t->probe_s * EXPLOIT_FACTOR > EXPLOIT_SECONDS ? t->probe_s * EXPLOIT_FACTOR : EXPLOIT_SECONDS;
    apply_team(t->cand[t->best]);
}

static void tune(tuner *t, double dt) {
    if (t->probing) {
        t->probe_s += dt;
        if (t->skip > 0) {
            t->skip--;
            return;
        }
        t->sum += dt;
        t->n++;
        double best = 0;
        for (int k = 0; k < t->i; k++) {
            double sc = t->score[t->order[k]];
            if (best == 0 || sc < best) best = sc;
        }
        bool done = t->n >= PROBE_STEPS && t->sum >= PROBE_SECONDS;
        /* hopeless: slower than the best by SLOWER_CUT over half the probe, or already past the
         * time the best takes for a whole probe's worth of steps */
        bool hopeless = best > 0 && ((t->n >= PROBE_STEPS / 2 && t->sum >= PROBE_SECONDS / 2 && t->sum / t->n > SLOWER_CUT * best) ||
                                     t->sum > SLOWER_CUT * best * (PROBE_STEPS > PROBE_SECONDS / best ? PROBE_STEPS : PROBE_SECONDS / best));
        if (done || hopeless) probe_next(t);
        return;
    }
    t->sum += dt;
    t->left -= dt;
    if (++t->n >= WATCH_STEPS && t->sum >= WATCH_SECONDS) {
        bool slower = t->sum / t->n > SLOWER_WATCH * t->score[t->best];
        if (slower && tune_log())
            fprintf(stderr, "deepc threads: %.3g ms/step at %d threads against %.3g probed, probing again\n", t->sum / t->n * 1e3,
                    t->cand[t->best], t->score[t->best] * 1e3);
        t->n = 0;
        t->sum = 0;
        if (slower) {
            probe_start(t);
            return;
        }
    }
    if (t->left <= 0) probe_start(t);
}

void dc_threads_tick(int stream) { dc_threads_tick_at(stream, dc_now()); }

void dc_threads_set_team(int n) {
    int ceiling = dc_get_threads();
    pthread_mutex_lock(&lock);
    apply_team(n < 1 ? 1 : n > ceiling ? ceiling : n);
    pthread_mutex_unlock(&lock);
}

void dc_threads_tick_at(int stream, double now) {
    if (stream < 0 || stream >= DC_TICK_STREAMS || !dc_threads_adaptive()) return;
    if (pthread_mutex_trylock(&lock)) return; /* another thread is ticking or configuring */
    int gen = atomic_load_explicit(&tune_generation, memory_order_relaxed);
    if (gen != tuned_generation) {
        int ceiling = atomic_load_explicit(&n_threads, memory_order_relaxed);
        for (int s = 0; s < DC_TICK_STREAMS; s++) tuner_init(&tuners[s], ceiling);
        tuned_generation = gen;
        last_stream = -1;
    }
    tuner *t = &tuners[stream];
    if (stream != last_stream) {
        /* the first tick of a stream, or the first after another stream's: the time since its
         * previous tick holds the other stream's steps, so only the team is set. A stream yet
         * to finish its first probe starts it from another stream's choice (evaluation after
         * an epoch from the training's), not from the ceiling. */
        if (!t->chosen && t->i == 0 && t->n == 0)
            for (int o = 0; o < DC_TICK_STREAMS; o++)
                if (o != stream && tuners[o].chosen) {
                    t->best = tuners[o].best;
                    order_from(t, t->best);
                    break;
                }
        int want = t->cand[t->probing ? t->order[t->i] : t->best];
        if (want != atomic_load_explicit(&live_threads, memory_order_relaxed)) apply_team(want);
        if (t->probing) t->skip = t->skip > 1 ? t->skip : 1;
        last_stream = stream;
    } else if (t->last > 0) {
        tune(t, now - t->last);
    }
    t->last = now;
    pthread_mutex_unlock(&lock);
}
