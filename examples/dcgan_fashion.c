/* A DCGAN on Fashion-MNIST (Radford et al.; Keras's DCGAN example), two models trained against
 * each other in one hand-written loop:
 *   generator     noise [64] -> Dense(64*7*7, no bias) -> BatchNormalization -> LeakyReLU(0.2)
 *                 -> Reshape(64, 7, 7) -> Conv2DTranspose(32, 4x4, stride 2, same, no bias)
 *                 -> BatchNormalization -> LeakyReLU(0.2)
 *                 -> Conv2DTranspose(1, 4x4, stride 2, same, tanh): images [1, 28, 28] in [-1, 1]
 *   discriminator image -> Conv2D(32, 3x3, stride 2, same) -> LeakyReLU(0.2) -> Dropout(0.3)
 *                 -> Conv2D(64, 3x3, stride 2, same) -> LeakyReLU(0.2) -> Dropout(0.3)
 *                 -> Flatten -> Dense(1): a logit, "real" above 0
 * Each step trains the discriminator on a batch of real images (label 1) and of generated ones
 * (label 0, made without a gradient, PyTorch's detach), then freezes it (dc_layer_set_trainable)
 * and trains the generator through it to make the discriminator answer 1. Both use Adam
 * (learning rate 2e-4, beta1 0.5) and binary cross-entropy on logits.
 *
 * Quality is measured, not eyeballed: the Frechet distance (dc_frechet_distance, as FID) between
 * generated images and the real test images in the 128 features of the last hidden layer of a
 * Fashion-MNIST classifier trained here, next to the same distance for Gaussian-noise images
 * (frechet_noise) and for real training images (frechet_floor, what a perfect generator would
 * get with as many images). The classifier's weights are saved under a name keyed by its
 * architecture and training settings, and reused by a later run with the same key; the feature
 * extractor is the classifier's layers up to the hidden one, built as a second model that loads
 * the weights by name (dc_model_load_weights_by_name), as in Keras.
 *
 * Every epoch writes a grid of 64 samples from fixed noise (OUT/dcgan_epoch_NNN.png) and prints
 * `epoch=K frechet_distance=...`. The program exits 1 unless the final distance is below a
 * third of the noise images', below the untrained generator's (epoch 0) and, after two epochs or
 * more, below the first epoch's.
 *
 * Usage: dcgan_fashion [epochs (5)] [FMNIST_DIR] [output dir (out)] [train images (60000)]
 *                      [images per Frechet distance (10000)]
 */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "deepc.h"

#define LATENT 64
#define BATCH 64
#define GRID 64
#define FEATURES 128
#define CLF_EPOCHS 2
#define SEED 7

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int fail(const char *what) {
    fprintf(stderr, "dcgan_fashion: %s: %s\n", what, dc_last_error());
    return 1;
}

/* IDX images [N, 28, 28] as NCHW [N, 1, 28, 28] in [0, 1]; labels [N]. */
static dc_tensor *load_idx(const char *dir, const char *name, bool images) {
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    dc_tensor *t = dc_idx_load(path, images);
    if (t && images && dc_tensor_set_shape(t, 4, (int64_t[]){dc_tensor_dim(t, 0), 1, 28, 28})) {
        dc_tensor_free(t);
        return NULL;
    }
    return t;
}

/* Owned copy of rows [0, n) of x. */
static dc_tensor *head_rows(dc_tensor *x, int64_t n) {
    int64_t shape[DC_MAX_DIMS];
    int nd = dc_tensor_ndim(x);
    memcpy(shape, dc_tensor_shape(x), (size_t)nd * sizeof *shape);
    shape[0] = n;
    return dc_tensor_from(nd, shape, dc_tensor_data(x));
}

/* Adds layer l named name to m (names are what the weights file keys by). */
static void add(dc_model *m, dc_layer *l, const char *name) {
    if (name && l) dc_layer_set_name(l, name);
    dc_model_add(m, l);
}

static dc_layer *leaky(void) {
    dc_layer *l = dc_activation_layer(DC_ACT_LEAKY_RELU);
    dc_layer_set_alpha(l, 0.2f);
    return l;
}

/* The classifier whose last hidden layer gives the features; with head, its dropout and
 * softmax output too (the model that is trained), else only the layers up to "hidden". */
static dc_model *classifier(bool head) {
    dc_model *m = dc_sequential();
    dc_model_set_seed(m, SEED);
    add(m, dc_input(3, (int64_t[]){1, 28, 28}), NULL);
    add(m, dc_conv2d_layer(32, 3, 3, 1, DC_PAD_VALID, DC_ACT_RELU), "conv1");
    add(m, dc_max_pool2d_layer(2, 2, 0), "pool1");
    add(m, dc_conv2d_layer(64, 3, 3, 1, DC_PAD_VALID, DC_ACT_RELU), "conv2");
    add(m, dc_max_pool2d_layer(2, 2, 0), "pool2");
    add(m, dc_flatten(), "flatten");
    add(m, dc_dense(FEATURES, DC_ACT_RELU), "hidden");
    if (head) {
        add(m, dc_dropout_layer(0.3f), "dropout");
        add(m, dc_dense(10, DC_ACT_SOFTMAX), "classes");
    }
    return m;
}

static const char CLF_RECIPE[] = "conv32-pool-conv64-pool-dense128-dropout0.3-dense10 adam1e-3 batch64";

/* 64-bit FNV-1a of s, continuing from h. */
static uint64_t fnv1a(uint64_t h, const char *s) {
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 0x100000001b3ULL;
    return h;
}

/* The classifier trained on the first ntrain training images, or its weights reused from
 * OUT/dcgan_classifier_<key>.safetensors, whose key hashes everything that decides them (the
 * recipe, epochs, seed, the number of images and the size of the data file): a file made with
 * other settings has another name and is never picked up. The path goes into path. */
static dc_model *trained_classifier(const char *dir, const char *outdir, dc_tensor *xtr, dc_tensor *ytr, int64_t ntrain,
                                    char *path, size_t size, bool *reused) {
    char desc[512], file[1024];
    struct stat st;
    snprintf(file, sizeof file, "%s/train-images-idx3-ubyte.gz", dir);
    long long bytes = stat(file, &st) == 0 ? (long long)st.st_size : -1;
    snprintf(desc, sizeof desc, "%s epochs=%d seed=%d train=%lld data_bytes=%lld", CLF_RECIPE, CLF_EPOCHS, SEED,
             (long long)ntrain, bytes);
    snprintf(path, size, "%s/dcgan_classifier_%016llx.safetensors", outdir,
             (unsigned long long)fnv1a(0xcbf29ce484222325ULL, desc));
    dc_model *m = classifier(true);
    dc_metric acc = DC_METRIC_ACCURACY;
    if (dc_model_compile(m, dc_adam(1e-3f, 0.9f, 0.999f, 1e-7f), DC_LOSS_SPARSE_CCE, &acc, 1)) {
        dc_model_free(m);
        return NULL;
    }
    *reused = false;
    if (stat(path, &st) == 0) {
        if (dc_model_load_weights(m, path, false) == DC_OK) {
            *reused = true;
            return m;
        }
        fprintf(stderr, "dcgan_fashion: %s does not load (%s): training the classifier again\n", path, dc_last_error());
    }
    dc_tensor *x = head_rows(xtr, ntrain), *y = head_rows(ytr, ntrain);
    dc_fit_opts o = dc_fit_defaults();
    o.epochs = CLF_EPOCHS;
    o.batch_size = 64;
    o.seed = SEED;
    o.verbose = 2;
    dc_status s = x && y ? dc_model_fit(m, x, y, &o, NULL) : DC_ERR_NOMEM;
    dc_tensor_free(x);
    dc_tensor_free(y);
    if (!s) s = dc_model_save_weights(m, path);
    if (s) {
        dc_model_free(m);
        return NULL;
    }
    return m;
}

static dc_model *generator(void) {
    dc_model *g = dc_sequential();
    dc_model_set_seed(g, SEED + 1);
    add(g, dc_input(1, (int64_t[]){LATENT}), NULL);
    dc_layer *d = dc_dense(64 * 7 * 7, DC_ACT_NONE);
    dc_layer_set_use_bias(d, false); /* the batch normalisation after it has its own shift */
    add(g, d, "g_dense");
    add(g, dc_batch_norm_layer(0.1f, 1e-3f), "g_bn1");
    add(g, leaky(), "g_act1");
    add(g, dc_reshape_layer(3, (int64_t[]){64, 7, 7}), "g_reshape");
    dc_layer *up = dc_conv2d_transpose_layer(32, 4, 4, 2, DC_PAD_SAME, DC_ACT_NONE);
    dc_layer_set_use_bias(up, false);
    add(g, up, "g_deconv1");
    add(g, dc_batch_norm_layer(0.1f, 1e-3f), "g_bn2");
    add(g, leaky(), "g_act2");
    add(g, dc_conv2d_transpose_layer(1, 4, 4, 2, DC_PAD_SAME, DC_ACT_TANH), "g_deconv2");
    return g;
}

static dc_model *discriminator(void) {
    dc_model *d = dc_sequential();
    dc_model_set_seed(d, SEED + 2);
    add(d, dc_input(3, (int64_t[]){1, 28, 28}), NULL);
    add(d, dc_conv2d_layer(32, 3, 3, 2, DC_PAD_SAME, DC_ACT_NONE), "d_conv1");
    add(d, leaky(), "d_act1");
    add(d, dc_dropout_layer(0.3f), "d_drop1");
    add(d, dc_conv2d_layer(64, 3, 3, 2, DC_PAD_SAME, DC_ACT_NONE), "d_conv2");
    add(d, leaky(), "d_act2");
    add(d, dc_dropout_layer(0.3f), "d_drop2");
    add(d, dc_flatten(), "d_flatten");
    add(d, dc_dense(1, DC_ACT_NONE), "d_logit");
    return d;
}

/* Keras's discriminator.trainable = False / True: every layer of m. */
static void set_trainable(dc_model *m, bool on) {
    for (int i = 0; i < dc_model_num_layers(m); i++) dc_layer_set_trainable(dc_model_layer(m, i), on);
}

static void fill_normal(dc_tensor *t, dc_rng *r) {
    float *d = dc_tensor_data(t);
    for (int64_t i = 0; i < dc_tensor_numel(t); i++) d[i] = dc_rng_normal(r);
}

/* Sum of squares of n floats. */
static double sumsq(const float *v, int64_t n) {
    double s = 0;
    for (int64_t i = 0; i < n; i++) s += (double)v[i] * v[i];
    return s;
}

/* Features [N, 128] of images [N, 1, 28, 28] in [0, 1]. */
static dc_tensor *features(dc_model *f, const dc_tensor *x) { return dc_model_predict(f, x, 256); }

/* The Frechet distance of images x (in [0, 1]) to the reference features; -1 on error. */
static double distance_to(dc_model *f, const dc_tensor *x, const dc_tensor *ref) {
    dc_tensor *fx = features(f, x);
    double d = -1;
    if (!fx || dc_frechet_distance(fx, ref, &d)) d = -1;
    dc_tensor_free(fx);
    return d;
}

/* Generated images for the noise z: a grid of the first 64 (the fixed noise) captioned with the
 * epoch, then the Frechet distance of all of them. */
static double evaluate_generator(dc_model *g, dc_model *f, const dc_tensor *z, const dc_tensor *ref, const char *outdir,
                                 int epoch) {
    dc_tensor *img = dc_model_predict(g, z, 256);
    if (!img) return -1;
    dc_tensor *grid = dc_tensor_from(4, (int64_t[]){GRID, 1, 28, 28}, dc_tensor_data(img));
    char path[1024], caption[64];
    snprintf(path, sizeof path, "%s/dcgan_epoch_%03d.png", outdir, epoch);
    snprintf(caption, sizeof caption, "epoch %d", epoch);
    dc_image_grid_opts o = dc_image_grid_defaults();
    o.cols = 8;
    o.lo = -1; /* tanh outputs */
    o.hi = 1;
    o.caption = caption;
    o.caption_scale = 2;
    dc_status s = grid ? dc_image_grid_save(path, grid, &o) : DC_ERR_NOMEM;
    dc_tensor_free(grid);
    if (s) {
        dc_tensor_free(img);
        return -1;
    }
    float *p = dc_tensor_data(img);
    for (int64_t i = 0; i < dc_tensor_numel(img); i++) p[i] = 0.5f * (p[i] + 1); /* [-1, 1] -> the classifier's [0, 1] */
    double d = distance_to(f, img, ref);
    dc_tensor_free(img);
    return d;
}

int main(int argc, char **argv) {
    int epochs = argc > 1 ? atoi(argv[1]) : 5;
    const char *dir = argc > 2 ? argv[2] : "/usr/share/datasets/fashion-mnist";
    const char *outdir = argc > 3 ? argv[3] : "out";
    int64_t ntrain = argc > 4 ? atoll(argv[4]) : 60000;
    int64_t nfid = argc > 5 ? atoll(argv[5]) : 10000;
    if (epochs <= 0 || ntrain < BATCH || nfid < GRID || argc > 6) {
        fprintf(stderr, "usage: dcgan_fashion [epochs > 0] [FMNIST_DIR] [output dir] [train images >= %d] "
                        "[images per Frechet distance >= %d]\n", BATCH, GRID);
        return 2;
    }
    mkdir(outdir, 0755);
    double t0 = now();
    dc_tensor *xtr = load_idx(dir, "train-images-idx3-ubyte.gz", true);
    dc_tensor *ytr = xtr ? load_idx(dir, "train-labels-idx1-ubyte.gz", false) : NULL;
    dc_tensor *xte = ytr ? load_idx(dir, "t10k-images-idx3-ubyte.gz", true) : NULL;
    dc_tensor *yte = xte ? load_idx(dir, "t10k-labels-idx1-ubyte.gz", false) : NULL;
    if (!yte) return fail("load (apt-get install dataset-fashion-mnist, or pass the IDX directory)");
    int64_t nall = dc_tensor_dim(xtr, 0);
    if (ntrain > nall) ntrain = nall;
    if (nfid > dc_tensor_dim(xte, 0)) nfid = dc_tensor_dim(xte, 0);
    printf("Fashion-MNIST: %lld of %lld training images for the GAN and the classifier, %lld images per Frechet "
           "distance\n", (long long)ntrain, (long long)nall, (long long)nfid);

    /* ---- the feature extractor: a classifier's last hidden layer ---- */
    char clf_path[1024];
    bool reused = false;
    dc_model *clf = trained_classifier(dir, outdir, xtr, ytr, ntrain, clf_path, sizeof clf_path, &reused);
    if (!clf) return fail("classifier");
    double res[2];
    if (dc_model_evaluate(clf, xte, yte, 256, res)) return fail("evaluate the classifier");
    printf("classifier: %s %s, test accuracy %.4f\n", reused ? "weights reused from" : "trained and saved to", clf_path,
           res[1]);
    dc_model *feat = classifier(false);
    dc_weights_report rep = {0};
    if (dc_model_build(feat, 3, (int64_t[]){1, 28, 28}) || dc_model_load_weights_by_name(feat, clf_path, NULL, &rep))
        return fail("feature extractor");
    printf("feature extractor: %d tensors loaded by name, %d of the file skipped (the classifier's head), %d missing\n",
           rep.nloaded, rep.nskipped, rep.nmissing);
    bool complete = rep.nmissing == 0 && rep.nloaded > 0;
    dc_weights_report_free(&rep);
    if (!complete) {
        fprintf(stderr, "dcgan_fashion: the feature extractor did not get all its weights from %s\n", clf_path);
        return 1;
    }

    /* ---- the reference figures ---- */
    dc_tensor *xref = head_rows(xte, nfid);
    dc_tensor *ref = xref ? features(feat, xref) : NULL;
    if (!ref) return fail("features of the test images");
    dc_rng rng;
    dc_rng_seed(&rng, SEED);
    /* the floor: as many real training images, drawn at random from all of them */
    dc_tensor *xfloor = dc_tensor_new(4, (int64_t[]){nfid, 1, 28, 28});
    for (int64_t i = 0; i < nfid; i++)
        memcpy(dc_tensor_data(xfloor) + i * 784, dc_tensor_data(xtr) + (int64_t)dc_rng_below(&rng, (uint64_t)nall) * 784,
               784 * sizeof(float));
    double floor_d = distance_to(feat, xfloor, ref);
    /* Gaussian noise images: every pixel N(0, 1) clipped to the generator's [-1, 1], then mapped
     * to [0, 1] as its images are */
    float *np = dc_tensor_data(xfloor);
    for (int64_t i = 0; i < nfid * 784; i++) {
        float v = dc_rng_normal(&rng);
        np[i] = 0.5f * ((v < -1 ? -1 : v > 1 ? 1 : v) + 1);
    }
    double noise_d = distance_to(feat, xfloor, ref);
    dc_tensor_free(xfloor);
    if (floor_d < 0 || noise_d < 0) return fail("reference distances");
    printf("frechet_noise=%.3f\nfrechet_floor=%.3f\n", noise_d, floor_d);
    printf("setup: %.1f s\n", now() - t0);
    fflush(stdout);

    /* ---- the GAN ---- */
    dc_model *g = generator(), *d = discriminator();
    if (dc_model_build(g, 1, (int64_t[]){LATENT}) || dc_model_build(d, 3, (int64_t[]){1, 28, 28})) return fail("build");
    dc_model_summary(g, stdout);
    dc_model_summary(d, stdout);
    int64_t ng = dc_model_param_buffer_size(g), nd = dc_model_param_buffer_size(d);
    dc_optimizer *opt_g = dc_adam(2e-4f, 0.5f, 0.999f, 1e-7f), *opt_d = dc_adam(2e-4f, 0.5f, 0.999f, 1e-7f);
    /* the GAN trains on images in the generator's range [-1, 1] */
    dc_tensor *xg = head_rows(xtr, ntrain);
    if (!xg) return fail("training images");
    for (int64_t i = 0; i < dc_tensor_numel(xg); i++) dc_tensor_data(xg)[i] = 2 * dc_tensor_data(xg)[i] - 1;
    /* fixed noise: the evaluation's images, the grid's 64 first */
    dc_tensor *zeval = dc_tensor_new(2, (int64_t[]){nfid, LATENT});
    dc_rng zr;
    dc_rng_seed(&zr, 1234);
    fill_normal(zeval, &zr);
    double start_d = evaluate_generator(g, feat, zeval, ref, outdir, 0);
    if (start_d < 0) return fail("evaluate the generator");
    printf("epoch=0 frechet_distance=%.3f (untrained generator)\n", start_d);
    fflush(stdout);

    dc_ctx *ctx = dc_ctx_new();
    dc_tensor *real = dc_tensor_new(4, (int64_t[]){BATCH, 1, 28, 28}), *z = dc_tensor_new(2, (int64_t[]){BATCH, LATENT});
    int64_t *order = malloc((size_t)ntrain * sizeof *order), steps = ntrain / BATCH;
    double *dist = calloc((size_t)epochs + 1, sizeof *dist), train_s = 0;
    if (!ctx || !real || !z || !order || !dist) return fail("allocate");
    dist[0] = start_d;
    for (int64_t i = 0; i < ntrain; i++) order[i] = i;
    for (int ep = 1; ep <= epochs; ep++) {
        double te = now(), d_loss = 0, g_loss = 0;
        dc_rng_shuffle(&rng, order, ntrain);
        for (int64_t s = 0; s < steps; s++) {
            for (int64_t i = 0; i < BATCH; i++)
                memcpy(dc_tensor_data(real) + i * 784, dc_tensor_data(xg) + order[s * BATCH + i] * 784, 784 * sizeof(float));
            dc_tensor *ones = dc_full(ctx, 2, (int64_t[]){BATCH, 1}, 1.0f);
            dc_tensor *zeros = dc_full(ctx, 2, (int64_t[]){BATCH, 1}, 0.0f);

            /* the discriminator's step: real images are 1, generated ones 0; the generated
             * images are made with the gradient off (detached), so only D's weights learn */
            fill_normal(z, &rng);
            dc_model_zero_grad(d);
            dc_ctx_set_grad(ctx, false);
            dc_tensor *fake = dc_model_forward(g, ctx, z, true);
            dc_ctx_set_grad(ctx, true);
            dc_tensor *on_real = fake ? dc_model_forward(d, ctx, real, true) : NULL;
            dc_tensor *on_fake = on_real ? dc_model_forward(d, ctx, fake, true) : NULL;
            dc_tensor *ld = on_fake ? dc_add(ctx, dc_bce_with_logits_loss(ctx, on_real, ones),
                                              dc_bce_with_logits_loss(ctx, on_fake, zeros))
                                    : NULL;
            if (!ld || dc_backward(ctx, ld) || dc_optimizer_step(opt_d, dc_model_params(d), dc_model_grads(d), nd))
                return fail("discriminator step");
            d_loss += dc_tensor_data(ld)[0];

            /* the generator's step, through the frozen discriminator: G learns to make D say 1 */
            fill_normal(z, &rng);
            set_trainable(d, false);
            dc_model_zero_grad(g);
            if (s == 0 && ep == 1) dc_model_zero_grad(d);
            fake = dc_model_forward(g, ctx, z, true);
            dc_tensor *judged = fake ? dc_model_forward(d, ctx, fake, true) : NULL;
            dc_tensor *lg = judged ? dc_bce_with_logits_loss(ctx, judged, ones) : NULL;
            if (!lg || dc_backward(ctx, lg)) return fail("generator backward");
            if (s == 0 && ep == 1) {
                /* the gradient must reach G through D, and D's weights, frozen, must get none */
                double gg = sumsq(dc_model_grads(g), ng), gd = sumsq(dc_model_grads(d), nd);
                printf("first generator step: |grad G| = %.3g, |grad D| = %.3g\n", sqrt(gg), sqrt(gd));
                if (!(gg > 0) || gd != 0) {
                    fprintf(stderr, "dcgan_fashion: the generator's gradient through the frozen discriminator is wrong\n");
                    return 1;
                }
            }
            if (dc_optimizer_step(opt_g, dc_model_params(g), dc_model_grads(g), ng)) return fail("generator step");
            set_trainable(d, true);
            g_loss += dc_tensor_data(lg)[0];
            dc_ctx_reset(ctx);
        }
        double secs = now() - te;
        train_s += secs;
        double te2 = now();
        dist[ep] = evaluate_generator(g, feat, zeval, ref, outdir, ep);
        if (dist[ep] < 0) return fail("evaluate the generator");
        printf("epoch=%d frechet_distance=%.3f d_loss=%.4f g_loss=%.4f train_seconds=%.1f eval_seconds=%.1f\n", ep,
               dist[ep], d_loss / (double)steps, g_loss / (double)steps, secs, now() - te2);
        fflush(stdout);
    }
    int best = 0;
    for (int ep = 1; ep <= epochs; ep++)
        if (dist[ep] < dist[best]) best = ep;
    double final_d = dist[epochs];
    printf("samples: %s/dcgan_epoch_000.png .. dcgan_epoch_%03d.png\n", outdir, epochs);
    printf("classifier_test_accuracy=%.4f\n", res[1]);
    printf("frechet_noise=%.3f\nfrechet_floor=%.3f\nfrechet_start=%.3f\n", noise_d, floor_d, start_d);
    printf("frechet_final=%.3f\nfrechet_best=%.3f\nbest_epoch=%d\n", final_d, dist[best], best);
    printf("final_over_floor=%.2f\nfinal_over_noise=%.4f\n", final_d / floor_d, final_d / noise_d);
    printf("train_seconds_per_epoch=%.1f\n", train_s / epochs);
    /* far below the noise images, and fallen: below the untrained generator and, after several
     * epochs, below the first epoch's */
    bool ok = final_d < noise_d / 3 && final_d < start_d && (epochs < 2 || final_d < dist[1]);
    printf("target=%s (frechet_final below frechet_noise / 3, frechet_start and epoch 1's)\n", ok ? "met" : "missed");

    free(order);
    free(dist);
    dc_tensor *all[] = {xtr, ytr, xte, yte, xref, ref, xg, zeval, real, z};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++) dc_tensor_free(all[i]);
    dc_ctx_free(ctx);
    dc_optimizer_free(opt_g);
    dc_optimizer_free(opt_d);
    dc_model_free(g);
    dc_model_free(d);
    dc_model_free(clf);
    dc_model_free(feat);
    return ok ? 0 : 1;
}
