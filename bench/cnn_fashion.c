/* Benchmark W2: the documents' CNN on Fashion-MNIST, as ../shared/peers/cnn_fashion.py:
 * Conv2D(32, 3x3) relu, MaxPool 2x2, Flatten, Dense 128 relu, Dropout 0.5, Dense 10; Adam 1e-3,
 * batch 32, one throw-away warm-up epoch from the same initial weights, then 2 timed epochs,
 * test accuracy, and inference images/s over the 10k test images at batch 256 (median of 5).
 * DEEPC_BF16=1 trains in mixed precision (bf16 GEMMs, float32 weights); its lines then carry
 * "precision": "bf16". The data are datasets over the IDX files (fmnist_data.h: uint8 until a
 * batch is gathered).
 *   cnn_fashion [FMNIST_DIR] [epochs (2)] [warm-up steps (-1 = one epoch)]
 * Under mpirun every rank trains data-parallel (each takes its slice of every batch of 32); rank 0
 * prints, with "ranks" in each line; DEEPC_DIST_STATS=1 adds fit's step and all-reduce times. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cnn_model.h"
#include "deepc.h"
#include "fmnist_data.h"

static bool bf16;

static dc_model *make_model(void) { return cnn_bench_model(bf16, "cnn_fashion"); }


int main(int argc, char **argv) {
    if (dc_dist_init(&argc, &argv)) {
        fprintf(stderr, "cnn_fashion: %s\n", dc_last_error());
        return 1;
    }
    int ranks = dc_dist_size();
    FILE *out = dc_dist_rank() == 0 ? stdout : fopen("/dev/null", "w");
    const char *dir = argc > 1 ? argv[1] : (getenv("FMNIST_DIR") ? getenv("FMNIST_DIR") : "/usr/share/datasets/fashion-mnist");
    int epochs = argc > 2 ? atoi(argv[2]) : 2;
    long warm = argc > 3 ? atol(argv[3]) : -1;
    if (epochs <= 0) {
        fprintf(stderr, "usage: cnn_fashion [FMNIST_DIR] [epochs > 0] [warm-up steps]\n");
        return 2;
    }
    int64_t img[3] = {1, 28, 28};
    dc_dataset *train = fmnist_dataset(dir, true, 3, img, "cnn_fashion"), *test = fmnist_dataset(dir, false, 3, img, "cnn_fashion");
    const char *e = getenv("DEEPC_BF16");
    bf16 = e && !strcmp(e, "1");
    const char *w = bf16 ? "\"workload\": \"W2_cnn_fmnist\", \"precision\": \"bf16\"" : "\"workload\": \"W2_cnn_fmnist\"";
    if (dc_dist_rank() == 0) bench_run_info(out, "W2_cnn_fmnist");
    dc_fit_opts o = dc_fit_defaults();
    o.batch_size = 32;
    o.verbose = 0;
    long smoke = bench_steps();
    dc_callback smoke_cb = {.on_batch_end = stop_after, .user = &smoke}, *smoke_cbs[] = {&smoke_cb};
    if (smoke > 0) o.callbacks = smoke_cbs, o.ncallbacks = 1, warm = warm != 0 ? smoke : 0;
    if (warm != 0) {
        dc_model *wm = make_model();
        double t0 = dc_now();
        /* warm < 0: one whole epoch; else its first `warm` batches */
        dc_callback stop = {.on_batch_end = stop_after, .user = &warm}, *cbs[] = {&stop};
        dc_fit_opts ow = o;
        ow.epochs = 1;
        if (warm > 0) ow.callbacks = cbs, ow.ncallbacks = 1;
        dc_model_fit_dataset(wm, train, NULL, &ow, NULL);
        fprintf(out, "{%s, \"metric\": \"warmup_seconds\", \"value\": %.4f, \"threads\": %d, \"ranks\": %d}\n", w, dc_now() - t0,
                dc_get_threads(), ranks);
        dc_model_free(wm);
    }
    dc_model *m = make_model();
    double total = 0, cpu = 0; /* cpu: this process's CPU seconds, all threads */
    for (int ep = 0; ep < epochs; ep++) {
        o.epochs = 1;
        o.seed = 1234 + (uint64_t)ep;
        dc_history *h = NULL;
        double t0 = dc_now();
        clock_t c0 = clock();
        if (dc_model_fit_dataset(m, train, NULL, &o, &h)) {
            fprintf(stderr, "cnn_fashion: %s\n", dc_last_error());
            return 1;
        }
        double t = dc_now() - t0;
        cpu += (double)(clock() - c0) / CLOCKS_PER_SEC;
        total += t;
        fprintf(out, "{%s, \"metric\": \"epoch_seconds\", \"epoch\": %d, \"value\": %.4f, \"steps_per_s\": %.1f, \"train_loss\": %.4f, "
                "\"threads\": %d, \"ranks\": %d}\n",
                w, ep + 1, t, 1875.0 / t, dc_history_get(h, "loss")[0], dc_get_threads(), ranks);
        dc_history_free(h);
    }
    fprintf(out, "{%s, \"metric\": \"mean_epoch_seconds\", \"value\": %.4f, \"epochs\": %d, \"params\": %lld, \"ranks\": %d}\n", w,
            total / epochs, epochs, (long long)dc_model_param_count(m), ranks);
    fprintf(out, "{%s, \"metric\": \"mean_epoch_cpu_seconds\", \"value\": %.4f, \"epochs\": %d, \"ranks\": %d}\n", w, cpu / epochs,
            epochs, ranks);
    if (dc_dist_rank() == 0) bench_rss_line(out, w, "train");
    double res[2];
    dc_model_evaluate_dataset(m, test, 1000, res);
    fprintf(out, "{%s, \"metric\": \"test_accuracy\", \"value\": %.4f, \"epochs\": %d, \"ranks\": %d}\n", w, res[1], epochs, ranks);
    /* inference: one warm-up pass over 2560 images, then 5 timed passes over the 10k */
    dc_tensor *p = dc_model_predict_dataset(m, test, 256);
    dc_tensor_free(p);
    double reps[5];
    for (int r = 0; r < 5; r++) {
        double t0 = dc_now();
        p = dc_model_predict_dataset(m, test, 256);
        reps[r] = dc_now() - t0;
        dc_tensor_free(p);
    }
    qsort(reps, 5, sizeof reps[0], cmp_double);
    int64_t nte = dc_dataset_rows(test);
    /* per rank: predict is not distributed */
    fprintf(out, "{%s, \"metric\": \"inference_images_per_s\", \"value\": %.1f, \"best\": %.1f, \"reps\": 5, \"batch\": 256}\n", w,
            (double)nte / reps[2], (double)nte / reps[0]);
    if (dc_dist_rank() == 0) bench_rss_line(out, w, "inference");
    fprintf(out, "test_accuracy=%.4f\n", res[1]);
    if (out != stdout) fclose(out);
    dc_model_free(m);
    dc_dataset_free(train);
    dc_dataset_free(test);
    dc_dist_finalize();
    return 0;
}
