/* Data parallelism: under `mpirun -np 2`, a fit whose global batch B is split into two per-rank
 * slices of B/2 ends with the weights of a one-process fit at batch B (every rank also runs that
 * reference itself, with distribution switched off), up to float summation order; distributed
 * evaluate equals the local one; a failure on one rank stops every rank with its message; only
 * rank 0 writes checkpoints, and every rank resumes from them. Synchronised BatchNormalization
 * makes a network with batch norms train at B/2 per rank as one process at B (and per-rank
 * statistics, for contrast, do not); it survives a save and load, refuses a batch that would leave
 * a rank without rows, and a loss failing on one rank after its synchronised forward stops both.
 * Run alone (one rank) it checks the same paths without MPI.
 *
 * Tolerance: after 12 to 14 steps, max |w_ranks - w_one| <= 1e-5 * max(1, max |w_one|). The two
 * runs differ only in how each batch's per-row gradients are summed (two halves added versus one
 * sum), a relative difference of order 1e-7 per step. */
#include "check.h"
#include "base/comm.h"
#include "tmpfiles.h"

#include <stdlib.h>

#define TOL 1e-5

static int rank, nranks;

/* Deterministic data, the same on every rank: x [n, shape...] uniform in [-1, 1), y class ids
 * (or, with classes 0, a regression target per row). */
static void make_data(int64_t n, int nd, const int64_t *shape, int classes, dc_tensor **x, dc_tensor **y) {
    int64_t sh[DC_MAX_DIMS] = {n};
    memcpy(sh + 1, shape, (size_t)nd * sizeof *shape);
    *x = dc_tensor_new(nd + 1, sh);
    *y = classes ? dc_tensor_new(1, (int64_t[]){n}) : dc_tensor_new(2, (int64_t[]){n, 1});
    dc_rng r;
    dc_rng_seed(&r, 7);
    float *xd = dc_tensor_data(*x), *yd = dc_tensor_data(*y);
    int64_t w = dc_tensor_numel(*x) / n;
    for (int64_t i = 0; i < n; i++) {
        double s = 0;
        for (int64_t j = 0; j < w; j++) s += (xd[i * w + j] = 2 * dc_rng_uniform(&r) - 1) * (double)((j % 5) - 2);
        yd[i] = classes ? (float)(((s > 0.5) + (s > -0.5)) % classes) : (float)s;
    }
}

static dc_model *mlp(dc_optimizer *opt) {
    dc_model *m = dc_sequential();
    dc_model_set_seed(m, 11);
    dc_model_add(m, dc_input(1, (int64_t[]){6}));
    dc_model_add(m, dc_dense(16, DC_ACT_TANH));
    dc_model_add(m, dc_dense(3, DC_ACT_SOFTMAX));
    dc_metric met[] = {DC_METRIC_ACCURACY};
    CHECK(dc_model_compile(m, opt, DC_LOSS_SPARSE_CCE, met, 1) == DC_OK);
    return m;
}

static dc_model *cnn(dc_optimizer *opt) {
    dc_model *m = dc_sequential();
    dc_model_set_seed(m, 12);
    dc_model_add(m, dc_input(3, (int64_t[]){1, 8, 8}));
    dc_model_add(m, dc_conv2d_layer(4, 3, 3, 1, DC_PAD_VALID, DC_ACT_RELU));
    dc_model_add(m, dc_max_pool2d_layer(2, 2, 0));
    dc_model_add(m, dc_flatten());
    dc_model_add(m, dc_dense(3, DC_ACT_SOFTMAX));
    dc_metric met[] = {DC_METRIC_ACCURACY};
    CHECK(dc_model_compile(m, opt, DC_LOSS_SPARSE_CCE, met, 1) == DC_OK);
    return m;
}

/* Dense and convolutional BatchNormalization, synchronised over the ranks when sync. */
static dc_model *bn_net(dc_optimizer *opt, bool sync) {
    dc_model *m = dc_sequential();
    dc_model_set_seed(m, 14);
    dc_model_add(m, dc_input(3, (int64_t[]){1, 8, 8}));
    /* no bias before a batch norm: its gradient is zero up to rounding, which Adam would amplify */
    dc_layer *conv = dc_conv2d_layer(4, 3, 3, 1, DC_PAD_VALID, DC_ACT_NONE), *dense = dc_dense(8, DC_ACT_NONE);
    dc_layer_set_use_bias(conv, false);
    dc_layer_set_use_bias(dense, false);
    dc_model_add(m, conv);
    dc_model_add(m, dc_batch_norm_layer(0.1f, 1e-3f));
    dc_model_add(m, dc_activation_layer(DC_ACT_RELU));
    dc_model_add(m, dc_max_pool2d_layer(2, 2, 0));
    dc_model_add(m, dc_flatten());
    dc_model_add(m, dense);
    dc_model_add(m, dc_batch_norm_layer(0.1f, 1e-3f));
    dc_model_add(m, dc_activation_layer(DC_ACT_TANH));
    dc_model_add(m, dc_dense(3, DC_ACT_SOFTMAX));
    CHECK(dc_model_set_sync_batch_norm(m, sync) == 2);
    dc_metric met[] = {DC_METRIC_ACCURACY};
    CHECK(dc_model_compile(m, opt, DC_LOSS_SPARSE_CCE, met, 1) == DC_OK);
    return m;
}
static dc_model *bn_sync(dc_optimizer *opt) { return bn_net(opt, true); }

/* The synchronised model saved and loaded: the option travels in its config. */
static dc_model *bn_sync_loaded(dc_optimizer *opt) {
    dc_model *m = bn_net(opt, true);
    char path[128];
    snprintf(path, sizeof path, "%s/bn-rank%d.dcm", dir, rank);
    CHECK(dc_model_save(m, path) == DC_OK);
    dc_model_free(m);
    m = dc_model_load(path);
    CHECK(m != NULL);
    return m;
}

static dc_model *linear(void) {
    dc_model *m = dc_sequential();
    dc_model_set_seed(m, 13);
    dc_model_add(m, dc_input(1, (int64_t[]){6}));
    dc_model_add(m, dc_dense(1, DC_ACT_NONE));
    CHECK(dc_model_compile(m, dc_sgd(0.01f, 0, false), DC_LOSS_MSE, NULL, 0) == DC_OK);
    return m;
}

static double max_abs(const float *a, int64_t n) {
    double m = 0;
    for (int64_t i = 0; i < n; i++) m = fmax(m, fabs(a[i]));
    return m;
}

/* Same bytes in every rank's parameters: a hash whose minimum and maximum over the ranks agree. */
static bool same_on_all_ranks(dc_model *m) {
    const unsigned char *p = (const unsigned char *)dc_model_params(m);
    uint64_t h = 1469598103934665603ull;
    for (int64_t i = 0; i < dc_model_param_buffer_size(m) * 4; i++) h = (h ^ p[i]) * 1099511628211ull;
    int64_t v = (int64_t)(h >> 1), lo, hi;
    return dc_comm_minmax(dc_comm_active(), &v, 1, &lo, &hi) == DC_OK && lo == hi;
}

/* Fits make() distributed and in this process alone with the same options; compares weights,
 * training and validation losses, and a distributed evaluate with a local one. */
static void compare(const char *name, dc_model *(*make)(dc_optimizer *), dc_optimizer *(*opt)(void), const dc_tensor *x,
                    const dc_tensor *y, int64_t batch, float vsplit) {
    dc_fit_opts o = dc_fit_defaults();
    o.epochs = 2;
    o.batch_size = batch;
    o.validation_split = vsplit;
    o.seed = 5;
    o.verbose = 0;
    dc_model *md = make(opt()), *m1 = make(opt());
    dc_history *hd = NULL, *h1 = NULL;
    CHECK(dc_model_fit(md, x, y, &o, &hd) == DC_OK);
    dc_dist_set_active(false);
    CHECK(dc_model_fit(m1, x, y, &o, &h1) == DC_OK);
    double r1[2], rd[2];
    CHECK(dc_model_evaluate(m1, x, y, 16, r1) == DC_OK);
    dc_dist_set_active(true);
    CHECK(dc_model_evaluate(md, x, y, 16, rd) == DC_OK);
    int64_t n = dc_model_param_buffer_size(md);
    const float *pd = dc_model_params(md), *p1 = dc_model_params(m1);
    double d = 0;
    for (int64_t i = 0; i < n; i++) d = fmax(d, fabs((double)pd[i] - p1[i]));
    double scale = fmax(1, max_abs(p1, n)), tol = TOL * scale;
    if (rank == 0)
        printf("%s: batch %lld over %d rank%s: max |w_ranks - w_one| = %.3g (max |w| %.3g, tolerance %.3g); loss %.7f vs %.7f\n", name,
               (long long)batch, nranks, nranks > 1 ? "s" : "", d, max_abs(p1, n), tol, dc_history_get(hd, "loss")[1],
               dc_history_get(h1, "loss")[1]);
    CHECK(d <= tol);
    CHECK(same_on_all_ranks(md));
    CHECK_NEAR(dc_history_get(hd, "loss")[1], dc_history_get(h1, "loss")[1], 1e-5);
    CHECK_NEAR(dc_history_get(hd, "accuracy")[0], dc_history_get(h1, "accuracy")[0], 1e-9);
    if (vsplit > 0) CHECK_NEAR(dc_history_get(hd, "val_loss")[1], dc_history_get(h1, "val_loss")[1], 1e-5);
    /* evaluated on different models: as close as the weights */
    CHECK_NEAR(rd[0], r1[0], 1e-4);
    /* the same model scored over the ranks and alone */
    double rl[2];
    dc_dist_set_active(false);
    CHECK(dc_model_evaluate(md, x, y, 16, rl) == DC_OK);
    dc_dist_set_active(true);
    CHECK_NEAR(rd[0], rl[0], 1e-6);
    CHECK_NEAR(rd[1], rl[1], 1e-12);
    dc_history_free(hd);
    dc_history_free(h1);
    dc_model_free(md);
    dc_model_free(m1);
}

static dc_optimizer *sgd(void) { return dc_sgd(0.1f, 0.9f, false); }

/* Without synchronisation each rank normalises by its own half-batch's statistics: the weights
 * leave the one-process ones by far more than the tolerance, so the synchronised runs' agreement
 * is the synchronisation's doing. Also the running statistics agree with the one process's. */
static void test_sync_bn(const dc_tensor *x, const dc_tensor *y) {
    dc_fit_opts o = dc_fit_defaults();
    o.epochs = 2;
    o.batch_size = 8;
    o.seed = 5;
    o.verbose = 0;
    dc_model *md = bn_net(sgd(), false), *m1 = bn_net(sgd(), false), *ms = bn_net(sgd(), true);
    CHECK(dc_model_fit(md, x, y, &o, NULL) == DC_OK);
    CHECK(dc_model_fit(ms, x, y, &o, NULL) == DC_OK);
    dc_dist_set_active(false);
    CHECK(dc_model_fit(m1, x, y, &o, NULL) == DC_OK);
    dc_dist_set_active(true);
    int64_t n = dc_model_param_buffer_size(m1);
    double dl = 0, ds = 0;
    for (int64_t i = 0; i < n; i++) {
        dl = fmax(dl, fabs((double)dc_model_params(md)[i] - dc_model_params(m1)[i]));
        ds = fmax(ds, fabs((double)dc_model_params(ms)[i] - dc_model_params(m1)[i]));
    }
    if (rank == 0) printf("batch norm: max |w_ranks - w_one| = %.3g per-rank statistics, %.3g synchronised\n", dl, ds);
    CHECK(ds <= TOL * fmax(1, max_abs(dc_model_params(m1), n)));
    if (nranks > 1) CHECK(dl > 1e-3);
    const char *st[] = {"batch_normalization.running_mean", "batch_normalization.running_var", "batch_normalization_1.running_var"};
    for (int k = 0; k < 3; k++) {
        dc_tensor *a = dc_model_param(ms, st[k]), *b = dc_model_param(m1, st[k]);
        CHECK(a && b);
        if (!a || !b) continue;
        for (int64_t i = 0; i < dc_tensor_numel(a); i++) CHECK_NEAR(dc_tensor_data(a)[i], dc_tensor_data(b)[i], 1e-5);
    }
    /* one process: the option changes nothing */
    dc_model *mo = bn_net(sgd(), true);
    dc_dist_set_active(false);
    CHECK(dc_model_fit(mo, x, y, &o, NULL) == DC_OK);
    dc_dist_set_active(true);
    CHECK(memcmp(dc_model_params(mo), dc_model_params(m1), (size_t)n * sizeof(float)) == 0);
    /* a last batch of one row leaves a rank without rows: refused on every rank before any step */
    if (nranks > 1) {
        o.batch_size = 21; /* 64 rows: 3 batches of 21 and a last of 1 */
        CHECK_ERR(dc_model_fit(ms, x, y, &o, NULL), DC_ERR_ARG, "synchronised BatchNormalization", "the last batch has 1 row", "ranks");
        if (rank == 0) printf("sync batch norm, last batch of 1: %s\n", dc_last_error());
        o.batch_size = 8;
    }
    /* rank 1's loss overflows after the synchronised forward, rank 0's does not: both stop with
     * rank 1's message (rank 0 does not wait in backward's all-reduce) */
    dc_tensor *xr, *yr;
    make_data(64, 1, (int64_t[]){6}, 0, &xr, &yr);
    dc_tensor *yb = dc_tensor_clone(yr);
    for (int64_t i = 0; i < dc_tensor_numel(yb); i++) dc_tensor_data(yb)[i] = 1e30f;
    dc_model *mr = dc_sequential();
    dc_model_add(mr, dc_input(1, (int64_t[]){6}));
    dc_model_add(mr, dc_dense(8, DC_ACT_NONE));
    dc_model_add(mr, dc_batch_norm_layer(0.1f, 1e-3f));
    dc_model_add(mr, dc_dense(1, DC_ACT_NONE));
    CHECK(dc_model_set_sync_batch_norm(mr, true) == 1);
    CHECK(dc_model_compile(mr, dc_sgd(0.01f, 0, false), DC_LOSS_MSE, NULL, 0) == DC_OK);
    if (nranks > 1) CHECK_ERR(dc_model_fit(mr, xr, rank == 1 ? yb : yr, &o, NULL), DC_ERR_NUMERIC, "fit: rank 1 failed", "non-finite");
    else CHECK_ERR(dc_model_fit(mr, xr, yb, &o, NULL), DC_ERR_NUMERIC, "non-finite");
    if (rank == 0) printf("sync batch norm, rank 1's loss overflows: %s\n", dc_last_error());
    /* and the ranks go on together afterwards */
    CHECK(dc_model_fit(mr, xr, yr, &o, NULL) == DC_OK);
    CHECK(dc_layer_set_synchronized(dc_model_layer(mr, 1), true) == DC_ERR_ARG);
    CHECK_ERR(dc_layer_set_synchronized(dc_model_layer(mr, 1), true), DC_ERR_ARG, "Dense", "no option \"synchronized\"");
    dc_model_free(mr);
    dc_tensor_free(xr);
    dc_tensor_free(yr);
    dc_model_free(md);
    dc_model_free(m1);
    dc_model_free(ms);
    dc_model_free(mo);
    dc_tensor_free(yb);
}
static dc_optimizer *adam(void) { return dc_adam(1e-2f, 0.9f, 0.999f, 1e-7f); }

/* A rank's failure reaches every rank, each returning its status and message. */
static void test_failures(void) {
    dc_tensor *x, *y;
    make_data(64, 1, (int64_t[]){6}, 0, &x, &y);
    dc_fit_opts o = dc_fit_defaults();
    o.verbose = 0;
    o.batch_size = 16;
    /* rank 1's data overflows the squared error: its loss is infinite, rank 0's is not */
    dc_tensor *xb = dc_tensor_clone(x);
    float *d = dc_tensor_data(xb);
    for (int64_t i = 0; i < dc_tensor_numel(xb); i++) d[i] = 1e30f;
    dc_model *m = linear();
    if (nranks > 1) CHECK_ERR(dc_model_fit(m, rank == 1 ? xb : x, y, &o, NULL), DC_ERR_NUMERIC, "fit: rank 1 failed", "non-finite", "epoch 1, batch 1");
    else CHECK_ERR(dc_model_fit(m, xb, y, &o, NULL), DC_ERR_NUMERIC, "non-finite", "epoch 1, batch 1");
    if (rank == 0) printf("rank 0 was told: %s\n", dc_last_error());
    /* a bad argument on one rank: all stop before the first step */
    o.epochs = rank == nranks - 1 ? 0 : 1;
    CHECK_ERR(dc_model_fit(m, x, y, &o, NULL), DC_ERR_ARG, "epochs must be positive");
    o.epochs = 1;
    if (nranks > 1) {
        o.batch_size = rank == 1 ? 8 : 16;
        CHECK_ERR(dc_model_fit(m, x, y, &o, NULL), DC_ERR_ARG, "ranks disagree on the batch size");
        o.batch_size = 16;
    }
    /* only rank 0 writes the checkpoint: the others' path is never opened */
    char path[256];
    snprintf(path, sizeof path, "%s/dist.ckpt", dir);
    dc_callback *cb = dc_checkpoint_callback(rank == 0 ? path : "/nonexistent-dir/dist.ckpt", 1, false);
    o.callbacks = &cb;
    o.ncallbacks = 1;
    CHECK(dc_model_fit(m, x, y, &o, NULL) == DC_OK);
    dc_callback_free(cb);
    FILE *f = rank == 0 ? fopen(path, "rb") : NULL;
    CHECK(rank != 0 || f != NULL);
    if (f) fclose(f);
    /* ... and when it cannot, every rank hears why */
    cb = dc_checkpoint_callback(rank == 0 ? "/nonexistent-dir/dist.ckpt" : path, 1, false);
    CHECK_ERR(dc_model_fit(m, x, y, &o, NULL), DC_ERR_IO, "checkpoint", nranks > 1 ? "rank 0 failed" : "fit");
    dc_callback_free(cb);
    o.callbacks = NULL;
    o.ncallbacks = 0;
    /* evaluate: a bad argument on one rank */
    double r[1];
    CHECK_ERR(dc_model_evaluate(m, x, y, rank == nranks - 1 ? 0 : 16, r), DC_ERR_ARG, "batch_size must be positive");
    dc_model_free(m);
    dc_tensor_free(xb);
    dc_tensor_free(x);
    dc_tensor_free(y);
}

/* Rank 0's temporary directory on every rank (the ranks of this test share a host): its six
 * random characters travel as the maximum of one integer over the ranks. */
static void share_dir(char *shared, size_t cap) {
    int64_t v = 0, lo, hi;
    if (rank == 0)
        for (int i = 0; i < 6; i++) v = v << 8 | (unsigned char)dir[strlen(dir) - 6 + (size_t)i];
    dc_comm_minmax(dc_comm_active(), &v, 1, &lo, &hi);
    char tail[7];
    for (int i = 5; i >= 0; i--, hi >>= 8) tail[i] = (char)(hi & 0xff);
    tail[6] = 0;
    snprintf(shared, cap, "/tmp/deepc-test-%s", tail);
}

/* Checkpoints written by rank 0 and resumed on every rank: the resumed fit ends bit-identical to
 * an uninterrupted one, on every rank. */
static void test_resume(void) {
    dc_tensor *x, *y;
    make_data(96, 1, (int64_t[]){6}, 3, &x, &y);
    char shared[64], path[128];
    share_dir(shared, sizeof shared);
    snprintf(path, sizeof path, "%s/resume.ckpt", shared);
    dc_fit_opts o = dc_fit_defaults();
    o.verbose = 0;
    o.batch_size = 16;
    o.seed = 9;
    o.epochs = 3;
    dc_model *whole = mlp(adam());
    CHECK(dc_model_fit(whole, x, y, &o, NULL) == DC_OK);
    dc_callback *cb = dc_checkpoint_callback(path, 1, true);
    o.callbacks = &cb;
    o.ncallbacks = 1;
    o.epochs = 2;
    dc_model *first = mlp(adam());
    CHECK(dc_model_fit(first, x, y, &o, NULL) == DC_OK);
    o.epochs = 3;
    dc_model *resumed = mlp(adam());
    dc_history *h = NULL;
    CHECK(dc_model_fit(resumed, x, y, &o, &h) == DC_OK);
    CHECK(h && dc_history_get(h, "loss") != NULL);
    int64_t n = dc_model_param_buffer_size(whole);
    CHECK(memcmp(dc_model_params(whole), dc_model_params(resumed), (size_t)n * sizeof(float)) == 0);
    CHECK(same_on_all_ranks(resumed));
    dc_history_free(h);
    dc_model_free(whole);
    dc_model_free(first);
    dc_model_free(resumed);
    dc_callback_free(cb);
    dc_tensor_free(x);
    dc_tensor_free(y);
}

int main(int argc, char **argv) {
    CHECK(dc_dist_init(&argc, &argv) == DC_OK);
    rank = dc_dist_rank();
    nranks = dc_dist_size();
    CHECK(rank >= 0 && rank < nranks);
    if (!tmp_dir_create()) return 1;
    dc_tensor *x, *y, *xi, *yi;
    make_data(96, 1, (int64_t[]){6}, 3, &x, &y);
    make_data(64, 3, (int64_t[]){1, 8, 8}, 3, &xi, &yi);
    compare("mlp sgd", mlp, sgd, x, y, 16, 0);      /* 12 steps of 8 rows per rank */
    compare("mlp adam", mlp, adam, x, y, 16, 0);
    compare("mlp sgd, uneven", mlp, sgd, x, y, 15, 0.25f); /* 72 rows: batches of 15 (8 + 7 rows) and a last of 12 */
    compare("cnn sgd", cnn, sgd, xi, yi, 8, 0);     /* 16 steps of 4 images per rank */
    compare("cnn adam", cnn, adam, xi, yi, 8, 0.25f);
    compare("batch norm synchronised", bn_sync, sgd, xi, yi, 8, 0);
    compare("batch norm synchronised, uneven, loaded", bn_sync_loaded, adam, xi, yi, 7, 0.25f); /* 48 rows: 4 + 3 rows, a last of 6 */
    test_sync_bn(xi, yi);
    test_failures();
    test_resume();
    dc_tensor *all[] = {x, y, xi, yi};
    for (int i = 0; i < 4; i++) dc_tensor_free(all[i]);
    tmp_dir_remove();
    /* every rank's verdict */
    int64_t f = check_fails, lo, hi;
    dc_comm_minmax(dc_comm_active(), &f, 1, &lo, &hi);
    int rc = check_report("test_dist");
    if (hi == 0 && rank == 0) printf("test_dist: %d rank%s: ok\n", nranks, nranks > 1 ? "s" : "");
    dc_dist_finalize();
    return hi ? 1 : rc;
}
