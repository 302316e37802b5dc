/* The documents' Keras CNN on Fashion-MNIST:
 *   Conv2D(32, 3x3, relu) -> MaxPooling2D(2x2) -> Flatten -> Dense(128, relu) -> Dropout(0.5)
 *   -> Dense(10, softmax); adam; sparse categorical cross-entropy; accuracy;
 *   batch_size 32, validation_split 0.1; evaluated on the 10k test images; learning curves as SVG.
 * Usage: cnn_fashion [--bf16] [epochs (3)] [FMNIST_DIR] [output dir (out)] [train images (60000)]
 *   --bf16: mixed precision (bf16 GEMMs with float32 accumulation, float32 master weights).
 * Data parallel on MPI ranks: mpirun -np 2 cnn_fashion ... (each rank takes 16 rows of every batch
 * of 32; rank 0 prints and writes the curves). */
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "deepc.h"

/* After fit and evaluate, whose failures every rank shares, the ranks finalise MPI together;
 * a failure of this rank alone (loading its data) exits without, and mpirun stops the others. */
static int fail(const char *what) {
    if (dc_dist_size() > 1) fprintf(stderr, "cnn_fashion: rank %d: %s: %s\n", dc_dist_rank(), what, dc_last_error());
    else fprintf(stderr, "cnn_fashion: %s: %s\n", what, dc_last_error());
    return 1;
}

static int fail_all(const char *what) {
    fail(what);
    dc_dist_finalize();
    return 1;
}

/* IDX images [N, 28, 28] as NCHW [N, 1, 28, 28], first `keep` rows. */
static dc_tensor *load_images(const char *dir, const char *name, int64_t keep) {
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    dc_tensor *t = dc_idx_load(path, true);
    if (!t) return NULL;
    int64_t n = dc_tensor_dim(t, 0);
    if (keep > 0 && keep < n) {
        dc_tensor *s = dc_tensor_from(4, (int64_t[]){keep, 1, 28, 28}, dc_tensor_data(t));
        dc_tensor_free(t);
        return s;
    }
    if (dc_tensor_set_shape(t, 4, (int64_t[]){n, 1, 28, 28})) {
        dc_tensor_free(t);
        return NULL;
    }
    return t;
}

static dc_tensor *load_labels(const char *dir, const char *name, int64_t keep) {
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    dc_tensor *t = dc_idx_load(path, false);
    if (t && keep > 0 && keep < dc_tensor_dim(t, 0)) {
        dc_tensor *s = dc_tensor_from(1, (int64_t[]){keep}, dc_tensor_data(t));
        dc_tensor_free(t);
        return s;
    }
    return t;
}

int main(int argc, char **argv) {
    if (dc_dist_init(&argc, &argv)) return fail("MPI");
    bool rank0 = dc_dist_rank() == 0;
    /* --bf16 anywhere on the command line: mixed precision (bf16 GEMMs, float32 weights) */
    bool bf16 = false;
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--bf16")) {
            bf16 = true;
            memmove(argv + i, argv + i + 1, (size_t)(argc - i) * sizeof *argv);
            argc--;
            i--;
        }
    int epochs = argc > 1 ? atoi(argv[1]) : 3;
    const char *dir = argc > 2 ? argv[2] : (getenv("FMNIST_DIR") ? getenv("FMNIST_DIR") : "/usr/share/datasets/fashion-mnist");
    const char *outdir = argc > 3 ? argv[3] : "out";
    int64_t keep = argc > 4 ? atoll(argv[4]) : 0;
    if (epochs <= 0) {
        fprintf(stderr, "usage: cnn_fashion [--bf16] [epochs > 0] [FMNIST_DIR] [output dir] [train images]\n");
        dc_dist_finalize();
        return 2;
    }
    if (rank0) mkdir(outdir, 0755);
    dc_tensor *xtr = load_images(dir, "train-images-idx3-ubyte.gz", keep);
    dc_tensor *ytr = xtr ? load_labels(dir, "train-labels-idx1-ubyte.gz", keep) : NULL;
    dc_tensor *xte = ytr ? load_images(dir, "t10k-images-idx3-ubyte.gz", 0) : NULL;
    dc_tensor *yte = xte ? load_labels(dir, "t10k-labels-idx1-ubyte.gz", 0) : NULL;
    if (!yte) return fail("load (apt-get install dataset-fashion-mnist, or pass the IDX directory)");
    if (rank0)
        printf("Fashion-MNIST: %lld training and %lld test images from %s, %d rank%s\n", (long long)dc_tensor_dim(xtr, 0),
               (long long)dc_tensor_dim(xte, 0), dir, dc_dist_size(), dc_dist_size() > 1 ? "s" : "");

    dc_model *m = dc_sequential();
    if (bf16) {
        dc_model_set_mixed_precision(m, true);
        if (rank0) printf("mixed precision: bf16 GEMMs (%s)\n", dc_bf16_kernel_available() ? "AVX512-BF16 kernel" : "no AVX512-BF16 here: float32");
    }
    dc_model_add(m, dc_input(3, (int64_t[]){1, 28, 28}));
    dc_model_add(m, dc_conv2d_layer(32, 3, 3, 1, DC_PAD_VALID, DC_ACT_RELU));
    dc_model_add(m, dc_max_pool2d_layer(2, 2, 0));
    dc_model_add(m, dc_flatten());
    dc_model_add(m, dc_dense(128, DC_ACT_RELU));
    dc_model_add(m, dc_dropout_layer(0.5f));
    dc_model_add(m, dc_dense(10, DC_ACT_SOFTMAX));
    dc_metric met[] = {DC_METRIC_ACCURACY};
    if (dc_model_compile(m, dc_adam(1e-3f, 0.9f, 0.999f, 1e-7f), DC_LOSS_SPARSE_CCE, met, 1)) return fail_all("compile");
    if (rank0) dc_model_summary(m, stdout);

    dc_fit_opts o = dc_fit_defaults();
    o.epochs = epochs;
    o.batch_size = 32;
    o.validation_split = 0.1f;
    dc_history *h = NULL;
    if (dc_model_fit(m, xtr, ytr, &o, &h)) return fail_all("fit");
    double res[2];
    if (dc_model_evaluate(m, xte, yte, 256, res)) return fail_all("evaluate");
    char csv[512], svg[512];
    snprintf(csv, sizeof csv, "%s/cnn_fashion_history.csv", outdir);
    snprintf(svg, sizeof svg, "%s/cnn_fashion_curves.svg", outdir);
    if (rank0) {
        if (dc_history_write_csv(h, csv) || dc_plot_history_svg(h, svg, "CNN on Fashion-MNIST")) return fail("write curves");
        printf("history: %s\nlearning curves: %s\n", csv, svg);
        printf("test_loss=%.4f\n", res[0]);
        if (dc_dist_size() > 1) printf("test_accuracy=%.4f ranks=%d\n", res[1], dc_dist_size());
        else printf("test_accuracy=%.4f\n", res[1]);
    }
    dc_history_free(h);
    dc_model_free(m);
    dc_tensor *all[] = {xtr, ytr, xte, yte};
    for (int i = 0; i < 4; i++) dc_tensor_free(all[i]);
    dc_dist_finalize();
    return 0;
}
