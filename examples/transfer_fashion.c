/* Transfer learning with the documents' Fashion-MNIST CNN
 *   Conv2D(32, 3x3, relu) -> MaxPooling2D(2x2) -> Flatten -> Dense(128, relu) -> Dropout(0.5)
 *   -> Dense(classes, softmax); adam; sparse categorical cross-entropy.
 * 1. Pre-trains it on the classes 0-4 (T-shirt/top, trouser, pullover, dress, coat) and saves it
 *    (dc_model_save).
 * 2. For each seed, takes 50 labelled training images of each of the classes 5-9 (sandal, shirt,
 *    sneaker, bag, ankle boot), 250 in all, chosen by the seed, and trains three models on them:
 *    - frozen: a new model whose convolutional layer loads the saved weights by name
 *      (dc_model_load_weights_by_name, whose report shows the new head as not loaded), frozen
 *      (dc_layer_set_trainable), under a new head;
 *    - fine-tuned: the same model after that, unfrozen and trained on with a smaller learning rate;
 *    - scratch: the same architecture from random weights, as many epochs as the other two.
 *    All three are evaluated on every test image of the classes 5-9.
 * Prints per seed `seed=S frozen_accuracy=... finetuned_accuracy=... scratch_accuracy=...`, then the
 * means; exits 1 unless transfer (the fine-tuned or the frozen model) beats scratch on every seed.
 * Usage: transfer_fashion [pre-training epochs (3)] [FMNIST_DIR] [output dir (out)]
 *                         [pre-training images (0: all 30000 of the classes 0-4)] [seeds (3)]
 *                         [head epochs (20)] [fine-tuning epochs (20)] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "deepc.h"

#define PER_CLASS 50   /* labelled images per new class */
#define HEAD_LR 1e-3f
#define TUNE_LR 1e-4f

static int fail(const char *what) {
    fprintf(stderr, "transfer_fashion: %s: %s\n", what, dc_last_error());
    return 1;
}

/* IDX images [N, 28, 28] as NCHW [N, 1, 28, 28] in [0, 1]. */
static dc_tensor *load_images(const char *dir, const char *name) {
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    dc_tensor *t = dc_idx_load(path, true);
    if (t && dc_tensor_set_shape(t, 4, (int64_t[]){dc_tensor_dim(t, 0), 1, 28, 28})) {
        dc_tensor_free(t);
        return NULL;
    }
    return t;
}

static dc_tensor *load_labels(const char *dir, const char *name) {
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return dc_idx_load(path, false);
}

/* The rows idx[0..n) of x, and their labels minus `first` (so the classes first..first+4 become
 * 0..4). */
static dc_status take(const dc_tensor *x, dc_tensor *y, const int64_t *idx, int64_t n, int first,
                      dc_tensor **xo, dc_tensor **yo) {
    *xo = dc_take_rows(x, idx, n);
    *yo = dc_tensor_new(1, (int64_t[]){n});
    if (!*xo || !*yo) return dc_error(DC_ERR_NOMEM, "transfer_fashion: %lld rows", (long long)n);
    for (int64_t i = 0; i < n; i++) dc_tensor_data(*yo)[i] = dc_tensor_data(y)[idx[i]] - (float)first;
    return DC_OK;
}

/* Every row whose label is in [first, first + 5), in order; the first `keep` of them if keep > 0. */
static dc_status select_classes(const dc_tensor *x, dc_tensor *y, int first, int64_t keep, dc_tensor **xo,
                                dc_tensor **yo) {
    int64_t n = dc_tensor_dim(y, 0), k = 0;
    int64_t *idx = malloc((size_t)n * sizeof *idx);
    if (!idx) return dc_error(DC_ERR_NOMEM, "transfer_fashion: index of %lld rows", (long long)n);
    for (int64_t i = 0; i < n && (keep <= 0 || k < keep); i++) {
        int c = (int)dc_tensor_data(y)[i];
        if (c >= first && c < first + 5) idx[k++] = i;
    }
    dc_status s = take(x, y, idx, k, first, xo, yo);
    free(idx);
    return s;
}

/* PER_CLASS rows of each class 5..9, drawn without replacement by seed, labels 0..4. */
static dc_status select_few(const dc_tensor *x, dc_tensor *y, uint64_t seed, dc_tensor **xo, dc_tensor **yo) {
    int64_t n = dc_tensor_dim(y, 0), chosen[5 * PER_CLASS], nc = 0;
    int64_t *idx = malloc((size_t)n * sizeof *idx);
    if (!idx) return dc_error(DC_ERR_NOMEM, "transfer_fashion: index of %lld rows", (long long)n);
    dc_rng rng;
    dc_rng_seed(&rng, seed);
    for (int c = 5; c < 10; c++) {
        int64_t k = 0;
        for (int64_t i = 0; i < n; i++)
            if ((int)dc_tensor_data(y)[i] == c) idx[k++] = i;
        if (k < PER_CLASS) {
            free(idx);
            return dc_error(DC_ERR_ARG, "transfer_fashion: class %d has %lld training images, %d needed", c, (long long)k,
                            PER_CLASS);
        }
        dc_rng_shuffle(&rng, idx, k);
        for (int j = 0; j < PER_CLASS; j++) chosen[nc++] = idx[j];
    }
    free(idx);
    return take(x, y, chosen, nc, 5, xo, yo);
}

/* The CNN; the convolutional layer is named "conv2d" in every model, so that it loads by name,
 * and the layers after it take the names under `head` ("dense", "dense_1" in the pre-trained
 * model; "head_dense", "head_output" in the new ones, which the file does not hold). */
static dc_model *build(int classes, bool new_head, uint64_t seed) {
    dc_model *m = dc_sequential();
    dc_model_set_seed(m, seed);
    dc_model_add(m, dc_input(3, (int64_t[]){1, 28, 28}));
    dc_layer *conv = dc_conv2d_layer(32, 3, 3, 1, DC_PAD_VALID, DC_ACT_RELU);
    dc_layer_set_name(conv, "conv2d");
    dc_model_add(m, conv);
    dc_model_add(m, dc_max_pool2d_layer(2, 2, 0));
    dc_model_add(m, dc_flatten());
    dc_layer *hidden = dc_dense(128, DC_ACT_RELU), *out = dc_dense(classes, DC_ACT_SOFTMAX);
    dc_layer_set_name(hidden, new_head ? "head_dense" : "dense");
    dc_layer_set_name(out, new_head ? "head_output" : "dense_1");
    dc_model_add(m, hidden);
    dc_model_add(m, dc_dropout_layer(0.5f));
    dc_model_add(m, out);
    return m;
}

static dc_status compile(dc_model *m, float lr) {
    dc_metric met[] = {DC_METRIC_ACCURACY};
    return dc_model_compile(m, dc_adam(lr, 0.9f, 0.999f, 1e-7f), DC_LOSS_SPARSE_CCE, met, 1);
}

static dc_status train(dc_model *m, const dc_tensor *x, const dc_tensor *y, int epochs, uint64_t seed) {
    dc_fit_opts o = dc_fit_defaults();
    o.epochs = epochs;
    o.batch_size = 32;
    o.seed = seed;
    o.verbose = 0;
    return dc_model_fit(m, x, y, &o, NULL);
}

static dc_status accuracy(dc_model *m, const dc_tensor *x, const dc_tensor *y, double *acc) {
    double res[2];
    dc_status s = dc_model_evaluate(m, x, y, 256, res);
    *acc = res[1];
    return s;
}

static void print_names(const char *what, char **names, int n) {
    printf("  %s (%d):", what, n);
    for (int i = 0; i < n; i++) printf(" %s", names[i]);
    printf("\n");
}

int main(int argc, char **argv) {
    int epochs = argc > 1 ? atoi(argv[1]) : 3;
    const char *dir = argc > 2 ? argv[2] : (getenv("FMNIST_DIR") ? getenv("FMNIST_DIR") : "/usr/share/datasets/fashion-mnist");
    const char *outdir = argc > 3 ? argv[3] : "out";
    int64_t keep = argc > 4 ? atoll(argv[4]) : 0;
    int nseeds = argc > 5 ? atoi(argv[5]) : 3;
    int head_epochs = argc > 6 ? atoi(argv[6]) : 20, tune_epochs = argc > 7 ? atoi(argv[7]) : 20;
    if (epochs <= 0 || keep < 0 || nseeds <= 0 || nseeds > 100 || head_epochs <= 0 || tune_epochs <= 0) {
        fprintf(stderr, "usage: transfer_fashion [pre-training epochs > 0] [FMNIST_DIR] [output dir] "
                        "[pre-training images (0: all)] [seeds 1..100] [head epochs > 0] [fine-tuning epochs > 0]\n");
        return 2;
    }
    mkdir(outdir, 0755);
    dc_tensor *xtr = load_images(dir, "train-images-idx3-ubyte.gz");
    dc_tensor *ytr = xtr ? load_labels(dir, "train-labels-idx1-ubyte.gz") : NULL;
    dc_tensor *xte = ytr ? load_images(dir, "t10k-images-idx3-ubyte.gz") : NULL;
    dc_tensor *yte = xte ? load_labels(dir, "t10k-labels-idx1-ubyte.gz") : NULL;
    if (!yte) return fail("load (apt-get install dataset-fashion-mnist, or pass the IDX directory)");

    /* 1. Pre-training on the classes 0-4. */
    dc_tensor *xa, *ya, *xa_test, *ya_test, *xb_test, *yb_test;
    if (select_classes(xtr, ytr, 0, keep, &xa, &ya) || select_classes(xte, yte, 0, 0, &xa_test, &ya_test) ||
        select_classes(xte, yte, 5, 0, &xb_test, &yb_test))
        return fail("select classes");
    printf("pre-training on classes 0-4: %lld training images, %d epochs; new task: classes 5-9, %d labelled images "
           "per class, %lld test images\n",
           (long long)dc_tensor_dim(xa, 0), epochs, PER_CLASS, (long long)dc_tensor_dim(xb_test, 0));
    dc_model *pre = build(5, false, 1);
    if (compile(pre, HEAD_LR)) return fail("compile");
    dc_model_summary(pre, stdout);
    double t0 = dc_now(), pre_acc;
    if (train(pre, xa, ya, epochs, 1) || accuracy(pre, xa_test, ya_test, &pre_acc)) return fail("pre-training");
    char path[1024];
    snprintf(path, sizeof path, "%s/transfer_pretrained.safetensors", outdir);
    if (dc_model_save(pre, path)) return fail("save");
    printf("pre-trained in %.1fs: accuracy on the test images of classes 0-4 %.4f; saved %s\n", dc_now() - t0, pre_acc,
           path);
    dc_model_free(pre);
    dc_tensor_free(xa);
    dc_tensor_free(ya);

    /* 2. The new task, three ways, per seed. */
    double sum[3] = {0, 0, 0};
    bool all_better = true;
    for (int si = 0; si < nseeds; si++) {
        uint64_t seed = (uint64_t)si + 1;
        dc_tensor *xb, *yb;
        if (select_few(xtr, ytr, seed, &xb, &yb)) return fail("select the labelled images");
        t0 = dc_now();

        /* frozen: the pre-trained convolution by name, under a new head */
        dc_model *m = build(5, true, 100 + seed);
        if (dc_model_build(m, 0, NULL)) return fail("build");
        dc_weights_report r;
        if (dc_model_load_weights_by_name(m, path, NULL, &r)) return fail("load weights by name");
        if (si == 0) {
            printf("load by name from %s:\n", path);
            print_names("loaded", r.loaded, r.nloaded);
            print_names("skipped, in the file only (the old head)", r.skipped, r.nskipped);
            print_names("not loaded, the new head's (trained from random weights)", r.missing, r.nmissing);
        }
        dc_weights_report_free(&r);
        dc_layer *conv = NULL;
        for (int i = 0; i < dc_model_num_layers(m); i++)
            if (!strcmp(dc_layer_name(dc_model_layer(m, i)), "conv2d")) conv = dc_model_layer(m, i);
        if (dc_layer_set_trainable(conv, false) || compile(m, HEAD_LR)) return fail("freeze");
        double frozen, tuned, scratch;
        if (train(m, xb, yb, head_epochs, seed) || accuracy(m, xb_test, yb_test, &frozen)) return fail("train the head");

        /* fine-tuned: unfrozen, recompiled with a smaller learning rate, trained on */
        if (dc_layer_set_trainable(conv, true) || compile(m, TUNE_LR)) return fail("unfreeze");
        if (train(m, xb, yb, tune_epochs, seed) || accuracy(m, xb_test, yb_test, &tuned)) return fail("fine-tune");
        dc_model_free(m);

        /* scratch: the same architecture and images, random weights, as many epochs */
        dc_model *s = build(5, true, 100 + seed);
        if (compile(s, HEAD_LR) || train(s, xb, yb, head_epochs + tune_epochs, seed) ||
            accuracy(s, xb_test, yb_test, &scratch))
            return fail("train from scratch");
        dc_model_free(s);
        dc_tensor_free(xb);
        dc_tensor_free(yb);

        printf("seed=%llu frozen_accuracy=%.4f finetuned_accuracy=%.4f scratch_accuracy=%.4f (%.1fs)\n",
               (unsigned long long)seed, frozen, tuned, scratch, dc_now() - t0);
        fflush(stdout);
        sum[0] += frozen;
        sum[1] += tuned;
        sum[2] += scratch;
        if (!(tuned > scratch || frozen > scratch)) all_better = false;
    }
    printf("pretrain_accuracy=%.4f\n", pre_acc);
    printf("frozen_accuracy=%.4f\nfinetuned_accuracy=%.4f\nscratch_accuracy=%.4f\n", sum[0] / nseeds, sum[1] / nseeds,
           sum[2] / nseeds);
    printf("transfer_beats_scratch=%s\n", all_better ? "yes" : "no");
    dc_tensor *all[] = {xtr, ytr, xte, yte, xa_test, ya_test, xb_test, yb_test};
    for (int i = 0; i < 8; i++) dc_tensor_free(all[i]);
    if (!all_better) {
        fprintf(stderr, "transfer_fashion: transfer did not beat training from scratch on every seed\n");
        return 1;
    }
    return 0;
}
