/* A variational autoencoder on Fashion-MNIST, trained by a hand-written loop through the public API.
 *
 *   encoder: Conv2D(16, 3x3, stride 2, same, relu) -> Conv2D(32, 3x3, stride 2, same, relu)
 *            -> Flatten -> Dense(128, relu) -> Dense(2 * LATENT): the mean mu and the
 *            log-variance logvar of q(z | x), side by side
 *   decoder: Dense(32*7*7, relu) -> Reshape(32, 7, 7) -> Conv2DTranspose(32, 3x3, stride 2, same,
 *            relu) -> Conv2DTranspose(16, 3x3, stride 2, same, relu) -> Conv2D(1, 3x3, same): the
 *            logits of p(x | z), one Bernoulli per pixel
 *
 * One step on a batch x: mu and logvar are slices of the encoder's output, z = mu + exp(logvar / 2)
 * eps with eps ~ N(0, 1) drawn by the program (the reparameterisation: the gradient reaches mu and
 * logvar through z), the decoder's logits give the reconstruction term, the binary cross-entropy
 * summed over the 784 pixels, and the KL term of q(z | x) against the prior N(0, I) is
 * -1/2 sum_j (1 + logvar_j - mu_j^2 - exp(logvar_j)). The loss, their sum averaged over the batch,
 * is the negative ELBO; one dc_backward fills both models' gradients and each model has its own
 * Adam. The test ELBO (one draw of z per image) is printed per epoch beside its two terms.
 *
 * PNGs: <out>/vae_samples.png (decoded draws from the prior) and <out>/vae_reconstructions.png
 * (rows: test images, their reconstructions from the mean mu).
 * Exits non-zero unless the test ELBO closed at least 40% of the gap between the BCE of the
 * training set's mean image (a constant picture) and the test images' own entropy (the least
 * any reconstruction can score).
 *
 * Usage: vae_fashion [epochs (4)] [FMNIST_DIR] [output dir (out)] [train images (60000)] */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "deepc.h"

#define LATENT 16
#define BATCH 128
#define PIXELS (28 * 28)

static int fail(const char *what) {
    fprintf(stderr, "vae_fashion: %s: %s\n", what, dc_last_error());
    return 1;
}

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

static dc_model *build_encoder(void) {
    dc_model *m = dc_sequential();
    dc_model_set_seed(m, 11);
    dc_model_add(m, dc_input(3, (int64_t[]){1, 28, 28}));
    dc_model_add(m, dc_conv2d_layer(16, 3, 3, 2, DC_PAD_SAME, DC_ACT_RELU));
    dc_model_add(m, dc_conv2d_layer(32, 3, 3, 2, DC_PAD_SAME, DC_ACT_RELU));
    dc_model_add(m, dc_flatten());
    dc_model_add(m, dc_dense(128, DC_ACT_RELU));
    dc_model_add(m, dc_dense(2 * LATENT, DC_ACT_NONE));
    if (dc_model_build(m, 0, NULL)) {
        dc_model_free(m);
        return NULL;
    }
    return m;
}

static dc_model *build_decoder(void) {
    dc_model *m = dc_sequential();
    dc_model_set_seed(m, 12);
    dc_model_add(m, dc_input(1, (int64_t[]){LATENT}));
    dc_model_add(m, dc_dense(32 * 7 * 7, DC_ACT_RELU));
    dc_model_add(m, dc_reshape_layer(3, (int64_t[]){32, 7, 7}));
    dc_model_add(m, dc_conv2d_transpose_layer(32, 3, 3, 2, DC_PAD_SAME, DC_ACT_RELU));
    dc_model_add(m, dc_conv2d_transpose_layer(16, 3, 3, 2, DC_PAD_SAME, DC_ACT_RELU));
    dc_model_add(m, dc_conv2d_layer(1, 3, 3, 1, DC_PAD_SAME, DC_ACT_NONE));
    if (dc_model_build(m, 0, NULL)) {
        dc_model_free(m);
        return NULL;
    }
    return m;
}

/* The two terms of the negative ELBO of batch x (averaged over its rows), as step tensors of c:
 * the reconstruction BCE summed over pixels and the KL term. eps holds N x LATENT standard
 * normal draws; eps NULL decodes the mean (z = mu). logits_out (optional) gets the decoder's
 * output. */
static dc_status vae_terms(dc_model *enc, dc_model *dec, dc_ctx *c, dc_tensor *x, dc_tensor *eps, bool training,
                           dc_tensor **rec, dc_tensor **kl, dc_tensor **logits_out) {
    dc_tensor *h = dc_model_forward(enc, c, x, training);            /* [N, 2 LATENT] */
    dc_tensor *mu = dc_slice(c, h, 1, 0, LATENT);                     /* [N, LATENT] */
    dc_tensor *logvar = dc_slice(c, h, 1, LATENT, 2 * LATENT);
    /* z = mu + exp(logvar / 2) * eps */
    dc_tensor *z = eps ? dc_add(c, mu, dc_mul(c, dc_exp(c, dc_scale(c, logvar, 0.5f)), eps)) : mu;
    dc_tensor *logits = dc_model_forward(dec, c, z, training);      /* [N, 1, 28, 28] */
    /* the mean BCE over pixels and rows, times the pixels: the per-image sum, averaged */
    *rec = dc_scale(c, dc_bce_with_logits_loss(c, logits, x), (float)PIXELS);
    /* KL(q || N(0, I)) = -1/2 sum (1 + logvar - mu^2 - exp(logvar)), averaged over the rows */
    dc_tensor *t = dc_sub(c, dc_add_scalar(c, logvar, 1.0f), dc_add(c, dc_square(c, mu), dc_exp(c, logvar)));
    *kl = dc_scale(c, dc_sum(c, t), -0.5f / (float)dc_tensor_dim(x, 0));
    if (logits_out) *logits_out = logits;
    return *rec && *kl ? DC_OK : dc_last_status();
}

/* Fills t with standard normal draws. */
static void randn(dc_tensor *t, dc_rng *r) {
    float *d = dc_tensor_data(t);
    for (int64_t i = 0; i < dc_tensor_numel(t); i++) d[i] = dc_rng_normal(r);
}

/* Test reconstruction BCE and KL per image (one draw of z each), averaged over the test set. */
static dc_status evaluate(dc_model *enc, dc_model *dec, dc_ctx *c, const dc_tensor *xte, dc_rng *r, double *rec_out,
                          double *kl_out) {
    int64_t n = dc_tensor_dim(xte, 0);
    double rs = 0, ks = 0;
    dc_ctx_set_grad(c, false);
    for (int64_t r0 = 0; r0 < n; r0 += 500) {
        int64_t nb = n - r0 < 500 ? n - r0 : 500;
        dc_tensor *xb = dc_tensor_from(4, (int64_t[]){nb, 1, 28, 28}, dc_tensor_data((dc_tensor *)xte) + r0 * PIXELS);
        dc_tensor *eps = dc_tensor_new(2, (int64_t[]){nb, LATENT});
        if (!xb || !eps) return DC_ERR_NOMEM;
        randn(eps, r);
        dc_tensor *rec, *kl;
        dc_status st = vae_terms(enc, dec, c, xb, eps, false, &rec, &kl, NULL);
        if (!st) {
            rs += dc_tensor_data(rec)[0] * (double)nb;
            ks += dc_tensor_data(kl)[0] * (double)nb;
        }
        dc_ctx_reset(c);
        dc_tensor_free(xb);
        dc_tensor_free(eps);
        if (st) return st;
    }
    dc_ctx_set_grad(c, true);
    *rec_out = rs / (double)n;
    *kl_out = ks / (double)n;
    return DC_OK;
}

/* Decoded logits -> pixel probabilities, in place. */
static void sigmoid_inplace(dc_tensor *t) {
    float *d = dc_tensor_data(t);
    for (int64_t i = 0; i < dc_tensor_numel(t); i++) d[i] = 1.0f / (1.0f + expf(-d[i]));
}

int main(int argc, char **argv) {
    int epochs = argc > 1 ? atoi(argv[1]) : 4;
    const char *dir = argc > 2 ? argv[2] : (getenv("FMNIST_DIR") ? getenv("FMNIST_DIR") : "/usr/share/datasets/fashion-mnist");
    const char *outdir = argc > 3 ? argv[3] : "out";
    int64_t keep = argc > 4 ? atoll(argv[4]) : 0;
    if (epochs <= 0 || keep < 0) {
        fprintf(stderr, "usage: vae_fashion [epochs > 0] [FMNIST_DIR] [output dir] [train images]\n");
        return 2;
    }
    mkdir(outdir, 0755);
    dc_tensor *xtr = load_images(dir, "train-images-idx3-ubyte.gz", keep);
    dc_tensor *xte = xtr ? load_images(dir, "t10k-images-idx3-ubyte.gz", 0) : NULL;
    if (!xte) return fail("load (apt-get install dataset-fashion-mnist, or pass the IDX directory)");
    int64_t n = dc_tensor_dim(xtr, 0);
    printf("Fashion-MNIST: %lld training and %lld test images from %s; latent dimension %d\n", (long long)n,
           (long long)dc_tensor_dim(xte, 0), dir, LATENT);

    dc_model *enc = build_encoder(), *dec = enc ? build_decoder() : NULL;
    if (!dec) return fail("build");
    dc_model_summary(enc, stdout);
    dc_model_summary(dec, stdout);
    dc_ctx *ctx = dc_ctx_new();
    dc_optimizer *opt_e = dc_adam(1e-3f, 0.9f, 0.999f, 1e-7f), *opt_d = dc_adam(1e-3f, 0.9f, 0.999f, 1e-7f);
    int64_t ne = dc_model_param_buffer_size(enc), nd = dc_model_param_buffer_size(dec);
    dc_rng rng, test_rng;
    dc_rng_seed(&rng, 5);
    int64_t *order = malloc((size_t)n * sizeof *order);
    dc_tensor *xb = dc_tensor_new(4, (int64_t[]){BATCH, 1, 28, 28});
    dc_tensor *eps = dc_tensor_new(2, (int64_t[]){BATCH, LATENT});
    if (!ctx || !opt_e || !opt_d || !order || !xb || !eps) return fail("allocate");
    for (int64_t i = 0; i < n; i++) order[i] = i;

    /* the test ELBO before training, then per epoch */
    double rec0, kl0, rec = 0, kl = 0, seconds = 0;
    dc_rng_seed(&test_rng, 9);
    if (evaluate(enc, dec, ctx, xte, &test_rng, &rec0, &kl0)) return fail("evaluate");
    printf("epoch 0: test reconstruction %.2f, KL %.2f, ELBO %.2f\n", rec0, kl0, -(rec0 + kl0));
    for (int e = 1; e <= epochs; e++) {
        double t0 = dc_now(), rs = 0, ks = 0;
        int64_t steps = 0;
        dc_rng_shuffle(&rng, order, n);
        for (int64_t b = 0; b + BATCH <= n; b += BATCH) { /* full batches; the rest waits for the next shuffle */
            for (int64_t i = 0; i < BATCH; i++)
                memcpy(dc_tensor_data(xb) + i * PIXELS, dc_tensor_data(xtr) + order[b + i] * PIXELS, PIXELS * sizeof(float));
            randn(eps, &rng);
            dc_model_zero_grad(enc);
            dc_model_zero_grad(dec);
            dc_tensor *r_t, *k_t;
            dc_status st = vae_terms(enc, dec, ctx, xb, eps, true, &r_t, &k_t, NULL);
            dc_tensor *loss = st ? NULL : dc_add(ctx, r_t, k_t);
            if (!loss || dc_backward(ctx, loss) || dc_optimizer_step(opt_e, dc_model_params(enc), dc_model_grads(enc), ne) ||
                dc_optimizer_step(opt_d, dc_model_params(dec), dc_model_grads(dec), nd))
                return fail("training step");
            rs += dc_tensor_data(r_t)[0];
            ks += dc_tensor_data(k_t)[0];
            steps++;
            dc_ctx_reset(ctx);
        }
        double sec = dc_now() - t0;
        seconds += sec;
        dc_rng_seed(&test_rng, 9); /* the same draws every epoch: epochs compare on equal terms */
        if (evaluate(enc, dec, ctx, xte, &test_rng, &rec, &kl)) return fail("evaluate");
        printf("epoch %d/%d: train reconstruction %.2f, KL %.2f; test reconstruction %.2f, KL %.2f, ELBO %.2f; %.1f s\n", e,
               epochs, rs / (double)steps, ks / (double)steps, rec, kl, -(rec + kl), sec);
        fflush(stdout);
    }

    /* pictures: 64 draws from the prior, and test images over their reconstructions from mu */
    char path[1024], cap[256];
    dc_rng_seed(&rng, 77);
    dc_tensor *zs = dc_tensor_new(2, (int64_t[]){64, LATENT});
    if (!zs) return fail("allocate");
    randn(zs, &rng);
    dc_tensor *samples = dc_model_predict(dec, zs, 64);
    if (!samples) return fail("decode");
    sigmoid_inplace(samples);
    dc_image_grid_opts go = dc_image_grid_defaults();
    go.cols = 8;
    go.pad_value = 1.0f;
    snprintf(cap, sizeof cap, "VAE: 64 draws from the prior N(0, I), latent %d, after %d epochs", LATENT, epochs);
    go.caption = cap;
    snprintf(path, sizeof path, "%s/vae_samples.png", outdir);
    if (dc_image_grid_save(path, samples, &go)) return fail("write PNG");
    printf("picture: %s\n", path);

    dc_tensor *x16 = dc_tensor_from(4, (int64_t[]){16, 1, 28, 28}, dc_tensor_data(xte));
    dc_tensor *mean_part = NULL;
    dc_tensor *h = x16 ? dc_model_predict(enc, x16, 16) : NULL;
    if (h) mean_part = dc_tensor_new(2, (int64_t[]){16, LATENT});
    for (int i = 0; mean_part && i < 16; i++)
        memcpy(dc_tensor_data(mean_part) + i * LATENT, dc_tensor_data(h) + i * 2 * LATENT, LATENT * sizeof(float));
    dc_tensor *recon = mean_part ? dc_model_predict(dec, mean_part, 16) : NULL;
    if (!recon) return fail("reconstruct");
    sigmoid_inplace(recon);
    dc_tensor *pair = dc_tensor_new(4, (int64_t[]){32, 1, 28, 28});
    if (!pair) return fail("allocate");
    memcpy(dc_tensor_data(pair), dc_tensor_data(x16), 16 * PIXELS * sizeof(float));
    memcpy(dc_tensor_data(pair) + 16 * PIXELS, dc_tensor_data(recon), 16 * PIXELS * sizeof(float));
    go.cols = 16;
    snprintf(cap, sizeof cap, "VAE: test images (top), reconstructions from the mean (bottom)");
    snprintf(path, sizeof path, "%s/vae_reconstructions.png", outdir);
    if (dc_image_grid_save(path, pair, &go)) return fail("write PNG");
    printf("picture: %s\n", path);

    /* Two yardsticks on the test images: the BCE of the training set's mean image (a model that
     * knows nothing of the image at hand) and the BCE of each image against itself, the least
     * any reconstruction can score (grey pixels are not 0 or 1). */
    double mean_bce = 0, floor_bce = 0;
    {
        const int64_t nte = dc_tensor_dim(xte, 0);
        double *pm = calloc(PIXELS, sizeof(double));
        if (!pm) return fail("allocate");
        for (int64_t i = 0; i < n; i++)
            for (int j = 0; j < PIXELS; j++) pm[j] += dc_tensor_data(xtr)[i * PIXELS + j];
        for (int j = 0; j < PIXELS; j++) pm[j] = fmin(fmax(pm[j] / (double)n, 1e-7), 1 - 1e-7);
        for (int64_t i = 0; i < nte; i++)
            for (int j = 0; j < PIXELS; j++) {
                double x = dc_tensor_data(xte)[i * PIXELS + j], q = fmin(fmax(x, 1e-7), 1 - 1e-7);
                mean_bce -= x * log(pm[j]) + (1 - x) * log(1 - pm[j]);
                floor_bce -= x * log(q) + (1 - x) * log(1 - q);
            }
        mean_bce /= (double)nte;
        floor_bce /= (double)nte;
        free(pm);
    }
    double elbo0 = -(rec0 + kl0), elbo = -(rec + kl);
    double closed = (mean_bce + elbo) / (mean_bce - floor_bce); /* share of the gap the ELBO closed */
    printf("mean_image_bce=%.2f\n", mean_bce);
    printf("bce_floor=%.2f\n", floor_bce);
    printf("initial_test_elbo=%.2f\n", elbo0);
    printf("test_reconstruction_bce=%.2f\n", rec);
    printf("test_kl=%.2f\n", kl);
    printf("test_elbo=%.2f\n", elbo);
    printf("gap_closed=%.3f\n", closed);
    printf("seconds_per_epoch=%.1f\n", seconds / epochs);
    int rc = 0;
    /* An untrained decoder scores about 784 log 2 = 543 nats per image. The ELBO must rise past
     * the mean image's score by at least 40% of the way from there to the floor: the code has
     * to carry what tells images apart, beyond what a constant picture gives. */
    if (!(closed >= 0.40)) {
        fprintf(stderr,
                "vae_fashion: the test ELBO went from %.2f to %.2f, %.0f%% of the way from the mean image's -%.2f to the floor "
                "-%.2f: below 40%%, no substantial improvement\n",
                elbo0, elbo, 100 * closed, mean_bce, floor_bce);
        rc = 1;
    }
    dc_tensor *all[] = {xtr, xte, xb, eps, zs, samples, x16, h, mean_part, recon, pair};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++) dc_tensor_free(all[i]);
    free(order);
    dc_optimizer_free(opt_e);
    dc_optimizer_free(opt_d);
    dc_ctx_free(ctx);
    dc_model_free(enc);
    dc_model_free(dec);
    return rc;
}
