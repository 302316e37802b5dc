/* The time a cache line takes to go from one core to another and back: two threads pinned to
 * CPUs 0 and 1 hand one atomic flag back and forth (median of `reps` runs of 100000 round
 * trips). On a virtual machine it tells where the two virtual CPUs sit at the moment: sharing a
 * cache, a round trip takes about 100 ns; on separate cache complexes 400-550 ns (measured here,
 * minutes apart). deepc's 2-thread steps hand their data between the cores many times a step, so
 * bench/scaling.sh records this next to each 2-thread run. One JSON line.
 *   core_latency [reps (5)] */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#define TRIPS 100000

static _Atomic int flag __attribute__((aligned(64)));

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static void pin(int cpu) {
    cpu_set_t s;
    CPU_ZERO(&s);
    CPU_SET(cpu, &s);
    pthread_setaffinity_np(pthread_self(), sizeof s, &s);
}

static void *pong(void *arg) {
    (void)arg;
    pin(1);
    for (int i = 0; i < TRIPS; i++) {
        while (atomic_load_explicit(&flag, memory_order_acquire) != 1) {
        }
        atomic_store_explicit(&flag, 0, memory_order_release);
    }
    return NULL;
}

static int cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv) {
    int reps = argc > 1 ? atoi(argv[1]) : 5;
    if (reps <= 0 || reps > 100) {
        fprintf(stderr, "usage: core_latency [reps 1-100]\n");
        return 2;
    }
    if (sysconf(_SC_NPROCESSORS_ONLN) < 2) {
        fprintf(stderr, "core_latency: needs two CPUs, this machine has one\n");
        return 1;
    }
    pin(0);
    double ns[100];
    for (int r = 0; r < reps; r++) {
        pthread_t t;
        if (pthread_create(&t, NULL, pong, NULL)) {
            fprintf(stderr, "core_latency: cannot start a thread\n");
            return 1;
        }
        double t0 = now();
        for (int i = 0; i < TRIPS; i++) {
            atomic_store_explicit(&flag, 1, memory_order_release);
            while (atomic_load_explicit(&flag, memory_order_acquire) != 0) {
            }
        }
        ns[r] = (now() - t0) / TRIPS * 1e9;
        pthread_join(t, NULL);
    }
    qsort(ns, (size_t)reps, sizeof *ns, cmp);
    printf("{\"workload\": \"core_latency\", \"metric\": \"round_trip_ns\", \"value\": %.0f, \"min\": %.0f, \"max\": %.0f, \"reps\": %d}\n",
           ns[reps / 2], ns[0], ns[reps - 1], reps);
    return 0;
}
