/* Autoencoders on Fashion-MNIST against PCA with as many components as the code has numbers.
 *
 * A convolutional autoencoder with a 32-number code:
 *   encoder: Conv2D(16, 3x3, same, relu) -> MaxPooling2D(2) -> Conv2D(32, 3x3, same, relu)
 *            -> MaxPooling2D(2) -> Flatten -> Dense(32)                      (the code)
 *   decoder: Dense(32*7*7, relu) -> Reshape(32, 7, 7) -> Conv2DTranspose(32, 3x3, stride 2, same,
 *            relu) -> Conv2DTranspose(16, 3x3, stride 2, same, relu) -> Conv2D(1, 3x3, same, sigmoid)
 * trained with fit to give back its input (adam, binary cross-entropy, batches of 32). Its reconstruction error on
 * the test images is compared with PCA's with 32 components (fitted on the same training images,
 * dc_pca_fit); the program exits non-zero unless the autoencoder's is lower.
 *
 * Then the denoising variant: the same network trained on inputs with Gaussian noise (std 0.4,
 * drawn anew every epoch) against the clean images; its error on noisy test
 * images against the clean ones is printed next to PCA's reconstruction of the same noisy inputs
 * and next to the noisy inputs' own error.
 *
 * PNGs: <out>/ae_reconstructions.png (rows: test images, autoencoder, PCA) and
 * <out>/ae_denoising.png (rows: noisy inputs, denoised, clean images).
 *
 * Usage: autoencoder_fashion [epochs (3)] [FMNIST_DIR] [output dir (out)] [train images (60000)]
 *   [denoising epochs (the same as epochs; 0 skips the denoising part)] */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "deepc.h"

#define CODE 32
#define NOISE_STD 0.4f
#define SHOW 10 /* test images per row of the pictures */

static int fail(const char *what) {
    fprintf(stderr, "autoencoder_fashion: %s: %s\n", what, dc_last_error());
    return 1;
}

/* IDX images [N, 28, 28] as NCHW [N, 1, 28, 28], the first `keep` rows (0: all). */
static dc_tensor *load_images(const char *dir, const char *name, int64_t keep) {
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    dc_tensor *t = dc_idx_load(path, true);
    if (!t) return NULL;
    int64_t n = dc_tensor_dim(t, 0);
    if (keep <= 0 || keep > n) keep = n;
    dc_tensor *s = dc_tensor_from(4, (int64_t[]){keep, 1, 28, 28}, dc_tensor_data(t));
    dc_tensor_free(t);
    return s;
}

static dc_model *build_autoencoder(uint64_t seed) {
    dc_model *m = dc_sequential();
    dc_model_set_seed(m, seed);
    dc_model_add(m, dc_input(3, (int64_t[]){1, 28, 28}));
    dc_model_add(m, dc_conv2d_layer(16, 3, 3, 1, DC_PAD_SAME, DC_ACT_RELU));
    dc_model_add(m, dc_max_pool2d_layer(2, 2, 0));
    dc_model_add(m, dc_conv2d_layer(32, 3, 3, 1, DC_PAD_SAME, DC_ACT_RELU));
    dc_model_add(m, dc_max_pool2d_layer(2, 2, 0));
    dc_model_add(m, dc_flatten());
    dc_layer *code = dc_dense(CODE, DC_ACT_NONE);
    dc_layer_set_name(code, "code");
    dc_model_add(m, code);
    dc_model_add(m, dc_dense(32 * 7 * 7, DC_ACT_RELU));
    dc_model_add(m, dc_reshape_layer(3, (int64_t[]){32, 7, 7}));
    dc_model_add(m, dc_conv2d_transpose_layer(32, 3, 3, 2, DC_PAD_SAME, DC_ACT_RELU));
    dc_model_add(m, dc_conv2d_transpose_layer(16, 3, 3, 2, DC_PAD_SAME, DC_ACT_RELU));
    dc_model_add(m, dc_conv2d_layer(1, 3, 3, 1, DC_PAD_SAME, DC_ACT_SIGMOID));
    dc_metric met[] = {DC_METRIC_MSE};
    if (dc_model_compile(m, dc_adam(2e-3f, 0.9f, 0.999f, 1e-7f), DC_LOSS_BCE, met, 1)) {
        dc_model_free(m);
        return NULL;
    }
    return m;
}

/* Mean squared difference of two tensors of one size, in double. */
static double mse(const dc_tensor *a, const dc_tensor *b) {
    const float *x = dc_tensor_data((dc_tensor *)a), *y = dc_tensor_data((dc_tensor *)b);
    int64_t n = dc_tensor_numel(a);
    double s = 0;
    for (int64_t i = 0; i < n; i++) s += ((double)x[i] - y[i]) * ((double)x[i] - y[i]);
    return s / (double)n;
}

/* Owned copy of x with Gaussian noise of std NOISE_STD added. Not clipped to [0, 1]: clipping
 * would brighten the black background on average, a shift that PCA, fitted on clean images,
 * cannot undo, and the comparison is about removing noise. */
static dc_tensor *noisy_copy(const dc_tensor *x, dc_rng *r) {
    dc_tensor *t = dc_tensor_clone(x);
    if (!t) return NULL;
    float *d = dc_tensor_data(t);
    for (int64_t i = 0; i < dc_tensor_numel(t); i++) d[i] += NOISE_STD * dc_rng_normal(r);
    return t;
}

/* Writes rows of SHOW images each: the first SHOW images of every tensor in rows[]. */
static dc_status save_rows(const char *path, const dc_tensor *const *rows, int nrows, const char *caption) {
    const int64_t px = 28 * 28;
    dc_tensor *g = dc_tensor_new(4, (int64_t[]){nrows * SHOW, 1, 28, 28});
    if (!g) return dc_error(DC_ERR_NOMEM, "grid");
    for (int r = 0; r < nrows; r++)
        memcpy(dc_tensor_data(g) + r * SHOW * px, dc_tensor_data((dc_tensor *)rows[r]), (size_t)(SHOW * px) * sizeof(float));
    dc_image_grid_opts o = dc_image_grid_defaults();
    o.cols = SHOW;
    o.pad_value = 1.0f;
    o.caption = caption;
    dc_status st = dc_image_grid_save(path, g, &o);
    dc_tensor_free(g);
    return st;
}

/* Trains m for epochs epochs on inputs x (noisy copies, drawn anew each epoch, when r is
 * given) against targets y, printing each epoch's loss and seconds; returns the mean seconds. */
static double train(dc_model *m, const dc_tensor *x, const dc_tensor *y, int epochs, dc_rng *r, const char *name) {
    double total = 0;
    for (int e = 1; e <= epochs; e++) {
        dc_tensor *in = r ? noisy_copy(x, r) : NULL;
        if (r && !in) return -1;
        dc_fit_opts o = dc_fit_defaults();
        o.epochs = 1; /* one epoch a call: fit goes on from the epochs done */
        o.batch_size = 32;
        o.verbose = 0;
        double t0 = dc_now();
        dc_status st = dc_model_fit(m, in ? in : x, y, &o, NULL);
        double sec = dc_now() - t0;
        dc_tensor_free(in);
        if (st) return -1;
        const dc_history *h = dc_model_history(m);
        printf("%s epoch %d/%d: loss %.5f, %.1f s\n", name, e, epochs, dc_history_get(h, "loss")[dc_history_epochs(h) - 1], sec);
        fflush(stdout);
        total += sec;
    }
    return epochs > 0 ? total / epochs : 0;
}

int main(int argc, char **argv) {
    int epochs = argc > 1 ? atoi(argv[1]) : 3;
    const char *dir = argc > 2 ? argv[2] : (getenv("FMNIST_DIR") ? getenv("FMNIST_DIR") : "/usr/share/datasets/fashion-mnist");
    const char *outdir = argc > 3 ? argv[3] : "out";
    int64_t keep = argc > 4 ? atoll(argv[4]) : 0;
    int dn_epochs = argc > 5 ? atoi(argv[5]) : epochs;
    if (epochs <= 0 || keep < 0 || dn_epochs < 0) {
        fprintf(stderr, "usage: autoencoder_fashion [epochs > 0] [FMNIST_DIR] [output dir] [train images] [denoising epochs]\n");
        return 2;
    }
    mkdir(outdir, 0755);
    dc_tensor *xtr = load_images(dir, "train-images-idx3-ubyte.gz", keep);
    dc_tensor *xte = xtr ? load_images(dir, "t10k-images-idx3-ubyte.gz", 0) : NULL;
    if (!xte) return fail("load (apt-get install dataset-fashion-mnist, or pass the IDX directory)");
    printf("Fashion-MNIST: %lld training and %lld test images from %s\n", (long long)dc_tensor_dim(xtr, 0),
           (long long)dc_tensor_dim(xte, 0), dir);

    /* PCA with as many components as the code, fitted on the training images */
    double t0 = dc_now();
    dc_pca *pca = NULL;
    if (dc_pca_fit(xtr, CODE, &pca)) return fail("PCA");
    dc_tensor *pca_rec = dc_pca_reconstruct(pca, xte);
    if (!pca_rec) return fail("PCA reconstruction");
    dc_tensor *ev = dc_pca_get(pca, DC_PCA_EXPLAINED_VARIANCE_RATIO);
    double kept = 0;
    for (int i = 0; ev && i < CODE; i++) kept += dc_tensor_data(ev)[i];
    dc_tensor_free(ev);
    double pca_mse = mse(pca_rec, xte);
    printf("PCA-%d: fitted in %.1f s, %.1f%% of the training variance kept, test MSE %.5f\n", CODE, dc_now() - t0, 100 * kept,
           pca_mse);

    /* the autoencoder: input = target */
    dc_model *ae = build_autoencoder(1);
    if (!ae) return fail("compile");
    dc_model_summary(ae, stdout);
    double ae_sec = train(ae, xtr, xtr, epochs, NULL, "autoencoder");
    if (ae_sec < 0) return fail("fit");
    dc_tensor *ae_rec = dc_model_predict(ae, xte, 256);
    if (!ae_rec) return fail("predict");
    double ae_mse = mse(ae_rec, xte);
    char path[1024], cap[256];
    snprintf(path, sizeof path, "%s/ae_reconstructions.png", outdir);
    snprintf(cap, sizeof cap, "Fashion-MNIST test images; autoencoder (code %d): MSE %.4f; PCA-%d: MSE %.4f", CODE, ae_mse, CODE,
             pca_mse);
    if (save_rows(path, (const dc_tensor *[]){xte, ae_rec, pca_rec}, 3, cap)) return fail("write PNG");
    printf("picture: %s (rows: test images, autoencoder, PCA)\n", path);

    /* the denoising variant: noisy inputs, clean targets */
    double dn_mse = NAN, pca_noisy_mse = NAN, noisy_mse = NAN, dn_sec = 0;
    if (dn_epochs > 0) {
        dc_rng r;
        dc_rng_seed(&r, 2);
        dc_tensor *xte_noisy = noisy_copy(xte, &r);
        dc_model *dae = xte_noisy ? build_autoencoder(3) : NULL;
        if (!dae) return fail("denoising autoencoder");
        dn_sec = train(dae, xtr, xtr, dn_epochs, &r, "denoising");
        if (dn_sec < 0) return fail("fit (denoising)");
        dc_tensor *dn_rec = dc_model_predict(dae, xte_noisy, 256);
        dc_tensor *pca_noisy = dc_pca_reconstruct(pca, xte_noisy);
        if (!dn_rec || !pca_noisy) return fail("denoise");
        dn_mse = mse(dn_rec, xte);
        pca_noisy_mse = mse(pca_noisy, xte);
        noisy_mse = mse(xte_noisy, xte);
        snprintf(path, sizeof path, "%s/ae_denoising.png", outdir);
        snprintf(cap, sizeof cap, "noisy inputs (std %.1f, MSE %.4f); denoised (MSE %.4f; PCA-%d: %.4f); clean", NOISE_STD,
                 noisy_mse, dn_mse, CODE, pca_noisy_mse);
        if (save_rows(path, (const dc_tensor *[]){xte_noisy, dn_rec, xte}, 3, cap)) return fail("write PNG");
        printf("picture: %s (rows: noisy inputs, denoised, clean)\n", path);
        dc_tensor_free(dn_rec);
        dc_tensor_free(pca_noisy);
        dc_tensor_free(xte_noisy);
        dc_model_free(dae);
    }

    printf("pca_test_mse=%.5f\n", pca_mse);
    printf("ae_test_mse=%.5f\n", ae_mse);
    printf("ae_seconds_per_epoch=%.1f\n", ae_sec);
    if (dn_epochs > 0) {
        printf("noisy_input_mse=%.5f\n", noisy_mse);
        printf("pca_denoise_mse=%.5f\n", pca_noisy_mse);
        printf("dae_test_mse=%.5f\n", dn_mse);
        printf("dae_seconds_per_epoch=%.1f\n", dn_sec);
    }
    int rc = 0;
    if (!(ae_mse < pca_mse)) {
        fprintf(stderr, "autoencoder_fashion: the autoencoder's test MSE %.5f is not below PCA-%d's %.5f\n", ae_mse, CODE, pca_mse);
        rc = 1;
    }
    if (dn_epochs > 0 && !(dn_mse < pca_noisy_mse)) {
        fprintf(stderr, "autoencoder_fashion: the denoising autoencoder's MSE %.5f is not below PCA-%d's %.5f on the same noisy inputs\n",
                dn_mse, CODE, pca_noisy_mse);
        rc = 1;
    }
    dc_tensor_free(ae_rec);
    dc_tensor_free(pca_rec);
    dc_pca_free(pca);
    dc_model_free(ae);
    dc_tensor_free(xtr);
    dc_tensor_free(xte);
    return rc;
}
