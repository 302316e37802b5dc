/* What the Fashion-MNIST benchmarks share: the data set as a dc_dataset over the mapped IDX
 * files, and the line that describes the run.
 *
 * The images stay uint8 in the mapped (decompressed) file; each batch is gathered as float32
 * and scaled to [0, 1] as it is needed, so the process holds no float32 copy of the data set
 * (60000 images as float32 are 188 MB; as uint8 47 MB of page cache, of which a batch's rows
 * are touched at a time). The rows' order is fit's shuffle, as on tensors. */
#ifndef DC_BENCH_FMNIST_DATA_H
#define DC_BENCH_FMNIST_DATA_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "deepc.h"

/* OpenBLAS's own description of its build and the kernels it chose (libopenblas, which deepc
 * links); declared here so the benchmark needs no OpenBLAS header. */
char *openblas_get_config(void);
char *openblas_get_corename(void);

/* The images (scaled to [0, 1], each row reshaped to shape[0..ndim)) and labels of the training
 * (train) or test set under dir, as one dataset of two parts. Exits with the error on failure. */
static dc_dataset *fmnist_dataset(const char *dir, bool train, int ndim, const int64_t *shape, const char *prog) {
    char xp[1024], yp[1024];
    snprintf(xp, sizeof xp, "%s/%s-images-idx3-ubyte.gz", dir, train ? "train" : "t10k");
    snprintf(yp, sizeof yp, "%s/%s-labels-idx1-ubyte.gz", dir, train ? "train" : "t10k");
    dc_dataset *x = dc_dataset_idx(xp), *y = x ? dc_dataset_idx(yp) : NULL, *xy = NULL;
    if (x && y && !dc_dataset_scale(x, 0, 1.0f / 255.0f, 0.0f) && !dc_dataset_reshape(x, 0, ndim, shape))
        xy = dc_dataset_zip(2, (dc_dataset *[]){x, y});
    else {
        dc_dataset_free(x);
        dc_dataset_free(y);
    }
    if (!xy) {
        fprintf(stderr, "%s: %s\n", prog, dc_last_error());
        exit(1);
    }
    /* DEEPC_BENCH_PREFETCH=0: every batch gathered on the training thread */
    const char *e = getenv("DEEPC_BENCH_PREFETCH");
    if (e && !strcmp(e, "0")) dc_dataset_set_prefetch(xy, false);
    return xy;
}

/* A fit callback that stops the fit after user's count of batches: a warm-up of so many steps. */
static inline dc_status stop_after(dc_callback *cb, dc_model *m, const dc_fit_opts *o, int epoch, int64_t batch, double loss, bool *stop) {
    (void)m, (void)o, (void)epoch, (void)loss;
    if (batch + 1 >= *(long *)cb->user) *stop = true;
    return DC_OK;
}

/* DEEPC_BENCH_STEPS=N (a smoke run, as ctest's bench_smoke): every fit stops after N batches;
 * 0 (unset): whole epochs. The figures of such a run mean nothing. */
static long bench_steps(void) {
    const char *e = getenv("DEEPC_BENCH_STEPS");
    return e ? atol(e) : 0;
}

/* The process's peak resident set so far, in MB (what GNU time's %M reports at the end). */
static double bench_peak_rss_mb(void) {
    struct rusage ru;
    return getrusage(RUSAGE_SELF, &ru) == 0 ? (double)ru.ru_maxrss / 1024.0 : 0.0;
}

/* One JSON line (metric "peak_rss_<phase>_mb"): the peak resident set so far and what is
 * resident now, split as /proc/self/status splits it: anonymous memory (the model, the
 * arena, buffers) and file pages (libraries, the mapped data files). */
static void bench_rss_line(FILE *out, const char *w, const char *phase) {
    long anon = -1, file = -1;
    char line[256];
    FILE *f = fopen("/proc/self/status", "r");
    while (f && fgets(line, sizeof line, f)) {
        sscanf(line, "RssAnon: %ld", &anon);
        sscanf(line, "RssFile: %ld", &file);
    }
    if (f) fclose(f);
    fprintf(out, "{%s, \"metric\": \"peak_rss_%s_mb\", \"value\": %.1f, \"rss_anon_mb\": %.1f, \"rss_file_mb\": %.1f}\n", w, phase,
            bench_peak_rss_mb(), (double)anon / 1024.0, (double)file / 1024.0);
}

/* One JSON line describing the run (metric "run_info"): the thread count, the OpenMP wait
 * settings as the environment sets them, OpenBLAS's build and kernels, the load average. */
static void bench_run_info(FILE *out, const char *workload) {
    char load[64] = "";
    FILE *f = fopen("/proc/loadavg", "r");
    if (f) {
        if (fgets(load, sizeof load, f)) load[strcspn(load, "\n")] = 0;
        fclose(f);
    }
    const char *wp = getenv("OMP_WAIT_POLICY"), *sc = getenv("GOMP_SPINCOUNT"), *ont = getenv("OMP_NUM_THREADS");
    fprintf(out, "{\"workload\": \"%s\", \"metric\": \"run_info\", \"threads\": %d, \"loadavg\": \"%s\", \"omp_wait_policy\": \"%s\", "
            "\"gomp_spincount\": \"%s\", \"omp_num_threads\": \"%s\", \"openblas_config\": \"%s\", \"openblas_core\": \"%s\", "
            "\"prefetch\": %s}\n",
            workload, dc_get_threads(), load, wp ? wp : "", sc ? sc : "", ont ? ont : "", openblas_get_config(), openblas_get_corename(),
            getenv("DEEPC_BENCH_PREFETCH") && !strcmp(getenv("DEEPC_BENCH_PREFETCH"), "0") ? "false" : "true");
}

#endif
