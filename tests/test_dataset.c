/* Datasets (dc_dataset): fit on tensors as a dataset trains bit-identical to fit on the tensors;
 * prefetch changes nothing; a mapped uint8 .npy with scaling trains as its float copy does;
 * evaluate and predict on datasets equal theirs on tensors; the transforms (scale, one-hot,
 * reshape, NHWC to NCHW, flips, shifts, crops) and their reproducible draws; IDX files, plain
 * and gzip; and the errors: truncated and trailing data, a file cut short under the mapping,
 * rows that disagree, values that float32 cannot hold, labels out of range, parts that do not
 * fit the model. */
#define _GNU_SOURCE
#include "check.h"

#include <stdint.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

static dc_rng rng;
static char dir[256];

static const char *tmp_path(const char *name) {
    static char buf[4][512];
    static int k;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof buf[k], "%s/%s", dir, name);
    return buf[k];
}

/* n rows of d features in [0, 255] (whole numbers, as uint8 pixels) and a class 0..2. */
static void make_data(int64_t n, int64_t d, dc_tensor **x, dc_tensor **y) {
    *x = dc_tensor_new(2, (int64_t[]){n, d});
    *y = dc_tensor_new(1, (int64_t[]){n});
    float *X = dc_tensor_data(*x), *Y = dc_tensor_data(*y);
    for (int64_t i = 0; i < n; i++) {
        float s[3] = {0, 0, 0};
        for (int64_t j = 0; j < d; j++) {
            X[i * d + j] = (float)(int)(dc_rng_uniform(&rng) * 255.99f);
            s[j % 3] += X[i * d + j];
        }
        Y[i] = (float)(s[0] > s[1] ? (s[0] > s[2] ? 0 : 2) : (s[1] > s[2] ? 1 : 2));
    }
}

static dc_model *net(int64_t d, bool drop) {
    dc_model *m = dc_sequential();
    dc_model_set_seed(m, 7);
    dc_model_add(m, dc_input(1, (int64_t[]){d}));
    dc_model_add(m, dc_dense(16, DC_ACT_RELU));
    if (drop) dc_model_add(m, dc_dropout_layer(0.2f));
    dc_model_add(m, dc_dense(3, DC_ACT_SOFTMAX));
    CHECK(dc_model_compile(m, dc_adam(1e-2f, 0.9f, 0.999f, 1e-7f), DC_LOSS_SPARSE_CCE, (dc_metric[]){DC_METRIC_ACCURACY}, 1) == DC_OK);
    return m;
}

static dc_fit_opts quiet(int epochs, int64_t batch) {
    dc_fit_opts o = dc_fit_defaults();
    o.epochs = epochs;
    o.batch_size = batch;
    o.verbose = 0;
    return o;
}

static bool same_params(dc_model *a, dc_model *b) {
    int64_t n = dc_model_param_buffer_size(a);
    return n == dc_model_param_buffer_size(b) && memcmp(dc_model_params(a), dc_model_params(b), (size_t)n * sizeof(float)) == 0;
}

static bool same_series(const dc_history *a, const dc_history *b, const char *key) {
    const double *x = dc_history_get(a, key), *y = dc_history_get(b, key);
    int n = dc_history_epochs(a);
    return x && y && n == dc_history_epochs(b) && memcmp(x, y, (size_t)n * sizeof(double)) == 0;
}

/* Tensors as a dataset: the same shuffle, batches, dropout and validation as fit on tensors. */
static void test_tensor_dataset_identical(void) {
    dc_tensor *x, *y;
    make_data(203, 12, &x, &y);
    float *X = dc_tensor_data(x);
    for (int64_t i = 0; i < dc_tensor_numel(x); i++) X[i] /= 255;
    for (int pass = 0; pass < 2; pass++) {
        dc_model *a = net(12, true), *b = net(12, true);
        dc_fit_opts o = quiet(3, 16);
        o.val_x = x, o.val_y = y; /* validation on the training rows: every row of it read */
        dc_history *ha = NULL, *hb = NULL;
        CHECK(dc_model_fit(a, x, y, &o, &ha) == DC_OK);
        dc_dataset *tr = dc_dataset_from_tensors(1, (const dc_tensor *const[]){x}, y);
        dc_dataset *va = dc_dataset_from_tensors(1, (const dc_tensor *const[]){x}, y);
        CHECK(tr && va);
        CHECK(dc_dataset_rows(tr) == 203 && dc_dataset_num_parts(tr) == 2);
        if (pass) CHECK(dc_dataset_set_prefetch(tr, false) == DC_OK && dc_dataset_set_prefetch(va, false) == DC_OK);
        dc_fit_opts od = quiet(3, 16);
        CHECK(dc_model_fit_dataset(b, tr, va, &od, &hb) == DC_OK);
        CHECK(same_params(a, b));
        CHECK(same_series(ha, hb, "loss") && same_series(ha, hb, "val_loss") && same_series(ha, hb, "accuracy"));
        /* a second fit continues both alike */
        CHECK(dc_model_fit(a, x, y, &o, NULL) == DC_OK);
        CHECK(dc_model_fit_dataset(b, tr, va, &od, NULL) == DC_OK);
        CHECK(same_params(a, b));
        /* evaluate and predict */
        double ra[2], rb[2];
        CHECK(dc_model_evaluate(a, x, y, 32, ra) == DC_OK);
        CHECK(dc_model_evaluate_dataset(b, va, 32, rb) == DC_OK);
        CHECK(memcmp(ra, rb, sizeof ra) == 0);
        dc_tensor *pa = dc_model_predict(a, x, 64), *pb = dc_model_predict_dataset(b, va, 64);
        CHECK(pa && pb && dc_tensor_numel(pa) == dc_tensor_numel(pb) &&
              memcmp(dc_tensor_data(pa), dc_tensor_data(pb), (size_t)dc_tensor_numel(pa) * sizeof(float)) == 0);
        /* the tensor fit still works after the dataset fits (the staging buffers are the model's again) */
        CHECK(dc_model_fit(b, x, y, &o, NULL) == DC_OK);
        dc_tensor_free(pa);
        dc_tensor_free(pb);
        dc_history_free(ha);
        dc_history_free(hb);
        dc_dataset_free(tr);
        dc_dataset_free(va);
        dc_model_free(a);
        dc_model_free(b);
    }
    dc_tensor_free(x), dc_tensor_free(y);
}

/* Stops fit after batch *(int64_t *)user of the first epoch. */
static dc_status stop_at(dc_callback *cb, dc_model *m, const dc_fit_opts *o, int epoch, int64_t batch, double loss, bool *stop) {
    (void)m, (void)o, (void)loss;
    if (epoch == 0 && batch == *(int64_t *)cb->user) *stop = true;
    return DC_OK;
}

/* The feed gathers several batches ahead: a fit stopped after batch 0, 2 or 5 of its first epoch
 * (batches gathered and not trained), then fitted again, trains as fit on tensors does, with
 * prefetch and without. */
static void test_stop_mid_epoch(void) {
    dc_tensor *x, *y;
    make_data(203, 12, &x, &y);
    float *X = dc_tensor_data(x);
    for (int64_t i = 0; i < dc_tensor_numel(x); i++) X[i] /= 255;
    const int64_t stops[] = {0, 2, 5};
    for (int k = 0; k < 3; k++)
        for (int pass = 0; pass < 2; pass++) {
            int64_t at = stops[k];
            dc_callback cb = {.on_batch_end = stop_at, .user = &at}, *cbs[] = {&cb};
            dc_model *a = net(12, true), *b = net(12, true);
            dc_fit_opts o = quiet(3, 16);
            o.callbacks = cbs, o.ncallbacks = 1;
            dc_dataset *tr = dc_dataset_from_tensors(1, (const dc_tensor *const[]){x}, y);
            CHECK(tr && dc_dataset_set_prefetch(tr, pass == 0) == DC_OK);
            CHECK(dc_model_fit(a, x, y, &o, NULL) == DC_OK);
            CHECK(dc_model_fit_dataset(b, tr, NULL, &o, NULL) == DC_OK);
            CHECK(same_params(a, b));
            dc_fit_opts o2 = quiet(2, 16);
            CHECK(dc_model_fit(a, x, y, &o2, NULL) == DC_OK);
            CHECK(dc_model_fit_dataset(b, tr, NULL, &o2, NULL) == DC_OK);
            CHECK(same_params(a, b));
            dc_dataset_free(tr);
            dc_model_free(a);
            dc_model_free(b);
        }
    dc_tensor_free(x), dc_tensor_free(y);
}

/* A uint8 .npy mapped, scaled by 1/255 per batch, with int64 labels from another file: as fit on
 * the float32 tensors scaled alike. */
static void test_npy_uint8(void) {
    dc_tensor *x, *y;
    make_data(150, 10, &x, &y);
    CHECK(dc_npy_save(tmp_path("x.npy"), x, DC_DTYPE_U8) == DC_OK);
    CHECK(dc_npy_save(tmp_path("y.npy"), y, DC_DTYPE_I64) == DC_OK);
    float *X = dc_tensor_data(x);
    for (int64_t i = 0; i < dc_tensor_numel(x); i++) X[i] = X[i] * (1.0f / 255) + 0.0f;
    dc_model *a = net(10, false), *b = net(10, false);
    dc_fit_opts o = quiet(2, 32);
    CHECK(dc_model_fit(a, x, y, &o, NULL) == DC_OK);
    dc_dataset *dx = dc_dataset_npy(tmp_path("x.npy")), *dy = dc_dataset_npy(tmp_path("y.npy"));
    CHECK(dx && dy);
    int64_t sh[DC_MAX_DIMS];
    CHECK(dc_dataset_part_shape(dx, 0, sh) == 1 && sh[0] == 10);
    CHECK(dc_dataset_part_shape(dy, 0, sh) == 0);
    CHECK(dc_dataset_scale(dx, 0, 1.0f / 255, 0) == DC_OK);
    dc_dataset *ds = dc_dataset_zip(2, (dc_dataset *const[]){dx, dy});
    CHECK(ds && dc_dataset_num_parts(ds) == 2 && strstr(dc_dataset_name(ds), "x.npy + "));
    CHECK(dc_model_fit_dataset(b, ds, NULL, &o, NULL) == DC_OK);
    CHECK(same_params(a, b));
    dc_dataset_free(ds);
    /* one-hot targets for a categorical loss */
    dc_model *c = dc_sequential();
    dc_model_set_seed(c, 3);
    dc_model_add(c, dc_input(1, (int64_t[]){10}));
    dc_model_add(c, dc_dense(3, DC_ACT_SOFTMAX));
    CHECK(dc_model_compile(c, dc_sgd(0.1f, 0, false), DC_LOSS_CCE, NULL, 0) == DC_OK);
    dx = dc_dataset_npy(tmp_path("x.npy"));
    dy = dc_dataset_npy(tmp_path("y.npy"));
    CHECK(dc_dataset_one_hot(dy, 0, 3) == DC_OK);
    CHECK(dc_dataset_part_shape(dy, 0, sh) == 1 && sh[0] == 3);
    float oh[6];
    CHECK(dc_dataset_gather(dy, 0, (int64_t[]){4, 9}, 2, oh, false, 0) == DC_OK);
    CHECK(oh[(int)dc_tensor_data(y)[4]] == 1 && oh[3 + (int)dc_tensor_data(y)[9]] == 1 && oh[0] + oh[1] + oh[2] == 1);
    ds = dc_dataset_zip(2, (dc_dataset *const[]){dx, dy});
    CHECK(dc_model_fit_dataset(c, ds, NULL, &o, NULL) == DC_OK);
    /* a label beyond the classes stops the fit naming the row */
    CHECK(dc_dataset_one_hot(ds, 1, 2) == DC_ERR_SHAPE); /* rows are three values by now */
    dc_dataset_free(ds);
    dy = dc_dataset_npy(tmp_path("y.npy"));
    CHECK(dc_dataset_one_hot(dy, 0, 2) == DC_OK);
    dx = dc_dataset_npy(tmp_path("x.npy"));
    dc_model *c2 = dc_sequential();
    dc_model_add(c2, dc_input(1, (int64_t[]){10}));
    dc_model_add(c2, dc_dense(2, DC_ACT_SOFTMAX));
    CHECK(dc_model_compile(c2, dc_sgd(0.1f, 0, false), DC_LOSS_CCE, NULL, 0) == DC_OK);
    ds = dc_dataset_zip(2, (dc_dataset *const[]){dx, dy});
    CHECK_ERR(dc_model_fit_dataset(c2, ds, NULL, &o, NULL), DC_ERR_ARG, "y.npy", "label 2 is not a class index in [0, 2)", "epoch 1");
    dc_dataset_free(ds);
    dc_model_free(a), dc_model_free(b), dc_model_free(c), dc_model_free(c2);
    dc_tensor_free(x), dc_tensor_free(y);
}

/* Image transforms: shapes, identity without augment, reproducible draws that depend on the
 * row and not the batch, and prefetch on or off training alike. */
static void test_transforms(void) {
    /* 6 images 4 x 5 x 2 (NHWC), values 1000 * row + pixel index */
    int64_t N = 6, H = 4, W = 5, C = 2;
    dc_tensor *x = dc_tensor_new(4, (int64_t[]){N, H, W, C});
    float *X = dc_tensor_data(x);
    for (int64_t i = 0; i < dc_tensor_numel(x); i++) X[i] = (float)(i / (H * W * C) * 1000 + i % (H * W * C));
    dc_dataset *ds = dc_dataset_from_tensors(1, (const dc_tensor *const[]){x}, NULL);
    CHECK(dc_dataset_nhwc_to_nchw(ds, 0) == DC_OK);
    int64_t sh[DC_MAX_DIMS];
    CHECK(dc_dataset_part_shape(ds, 0, sh) == 3 && sh[0] == C && sh[1] == H && sh[2] == W);
    float a[2 * 4 * 5 * 2], b[2 * 4 * 5 * 2];
    CHECK(dc_dataset_gather(ds, 0, (int64_t[]){2}, 1, a, true, 1) == DC_OK);
    CHECK(a[0] == 2000 && a[1] == 2002 && a[H * W] == 2001); /* channel 0 then channel 1 */
    CHECK(dc_dataset_random_flip(ds, 0, true, true) == DC_OK);
    CHECK(dc_dataset_random_shift(ds, 0, 1, 1) == DC_OK);
    CHECK(dc_dataset_random_crop(ds, 0, 3, 3) == DC_OK);
    CHECK(dc_dataset_part_shape(ds, 0, sh) == 3 && sh[0] == C && sh[1] == 3 && sh[2] == 3);
    /* without augment: the centre crop of the unflipped, unshifted image */
    CHECK(dc_dataset_gather(ds, 0, (int64_t[]){1}, 1, a, false, 99) == DC_OK);
    /* the centre: rows 0..2, columns 1..3 of channel 0 first */
    CHECK(a[0] == 1000 + (0 * W + 1) * C && a[1] == 1000 + (0 * W + 2) * C && a[3] == 1000 + (1 * W + 1) * C);
    /* a row's draws depend on the seed and the row, not on its batch */
    CHECK(dc_dataset_gather(ds, 0, (int64_t[]){3, 5}, 2, a, true, 42) == DC_OK);
    CHECK(dc_dataset_gather(ds, 0, (int64_t[]){5}, 1, b, true, 42) == DC_OK);
    CHECK(memcmp(a + 18, b, 18 * sizeof(float)) == 0);
    int differ = 0;
    for (uint64_t seed = 1; seed < 20; seed++) {
        CHECK(dc_dataset_gather(ds, 0, (int64_t[]){5}, 1, a, true, seed) == DC_OK);
        differ += memcmp(a, b, 18 * sizeof(float)) != 0;
    }
    CHECK(differ > 5);
    CHECK(dc_dataset_random_crop(ds, 0, 4, 4) == DC_ERR_SHAPE);
    CHECK_ERR(dc_dataset_scale(ds, 1, 1, 0), DC_ERR_ARG, "no part 1");
    CHECK_ERR(dc_dataset_reshape(ds, 0, 1, (int64_t[]){17}), DC_ERR_SHAPE, "cannot become [17]");
    CHECK(dc_dataset_reshape(ds, 0, 1, (int64_t[]){18}) == DC_OK);
    dc_dataset_free(ds);
    dc_tensor_free(x);

    /* a small CNN trained on augmented images: the same weights with and without prefetch */
    dc_tensor *imgs = dc_tensor_new(4, (int64_t[]){40, 8, 8, 1}), *lab = dc_tensor_new(1, (int64_t[]){40});
    for (int64_t i = 0; i < dc_tensor_numel(imgs); i++) dc_tensor_data(imgs)[i] = dc_rng_uniform(&rng);
    for (int64_t i = 0; i < 40; i++) dc_tensor_data(lab)[i] = (float)(i % 2);
    dc_model *m[2];
    for (int k = 0; k < 2; k++) {
        m[k] = dc_sequential();
        dc_model_set_seed(m[k], 5);
        dc_model_add(m[k], dc_input(3, (int64_t[]){1, 6, 6}));
        dc_model_add(m[k], dc_conv2d_layer(4, 3, 3, 1, DC_PAD_SAME, DC_ACT_RELU));
        dc_model_add(m[k], dc_flatten());
        dc_model_add(m[k], dc_dense(2, DC_ACT_SOFTMAX));
        CHECK(dc_model_compile(m[k], dc_sgd(0.05f, 0.9f, false), DC_LOSS_SPARSE_CCE, NULL, 0) == DC_OK);
        dc_dataset *d = dc_dataset_from_tensors(1, (const dc_tensor *const[]){imgs}, lab);
        CHECK(dc_dataset_nhwc_to_nchw(d, 0) == DC_OK && dc_dataset_random_flip(d, 0, true, false) == DC_OK &&
              dc_dataset_random_shift(d, 0, 1, 1) == DC_OK && dc_dataset_random_crop(d, 0, 6, 6) == DC_OK);
        CHECK(dc_dataset_set_prefetch(d, k == 0) == DC_OK);
        dc_fit_opts o = quiet(3, 8);
        CHECK(dc_model_fit_dataset(m[k], d, d, &o, NULL) == DC_OK);
        dc_dataset_free(d);
    }
    CHECK(same_params(m[0], m[1]));
    dc_model_free(m[0]), dc_model_free(m[1]);
    dc_tensor_free(imgs), dc_tensor_free(lab);
}

static void write_bytes(const char *path, const void *p, size_t n) {
    FILE *f = fopen(path, "wb");
    CHECK(f && fwrite(p, 1, n, f) == n);
    if (f) fclose(f);
}

/* IDX files, plain and gzip, read as dc_idx_load reads them. */
static void test_idx(void) {
    unsigned char buf[4 + 12 + 5 * 3 * 4];
    unsigned char h[] = {0, 0, 0x08, 3, 0, 0, 0, 5, 0, 0, 0, 3, 0, 0, 0, 4};
    memcpy(buf, h, sizeof h);
    for (int i = 0; i < 60; i++) buf[16 + i] = (unsigned char)(i * 4);
    write_bytes(tmp_path("a.idx"), buf, sizeof buf);
    gzFile gz = gzopen(tmp_path("a.idx.gz"), "wb");
    CHECK(gz && gzwrite(gz, buf, sizeof buf) == (int)sizeof buf);
    gzclose(gz);
    dc_tensor *ref = dc_idx_load(tmp_path("a.idx"), false);
    for (int k = 0; k < 2; k++) {
        dc_dataset *ds = dc_dataset_idx(tmp_path(k ? "a.idx.gz" : "a.idx"));
        CHECK(ds && dc_dataset_rows(ds) == 5);
        int64_t sh[DC_MAX_DIMS];
        CHECK(dc_dataset_part_shape(ds, 0, sh) == 2 && sh[0] == 3 && sh[1] == 4);
        float out[5 * 12];
        CHECK(dc_dataset_gather(ds, 0, (int64_t[]){0, 1, 2, 3, 4}, 5, out, false, 0) == DC_OK);
        CHECK(ref && memcmp(out, dc_tensor_data(ref), sizeof out) == 0);
        dc_dataset_free(ds);
    }
    /* int32, big-endian */
    unsigned char b32[] = {0, 0, 0x0C, 1, 0, 0, 0, 2, 0, 0, 1, 2, 0xff, 0xff, 0xff, 0xfe};
    write_bytes(tmp_path("b.idx"), b32, sizeof b32);
    dc_dataset *ds = dc_dataset_idx(tmp_path("b.idx"));
    float v[2];
    CHECK(ds && dc_dataset_gather(ds, 0, (int64_t[]){0, 1}, 2, v, false, 0) == DC_OK && v[0] == 258 && v[1] == -2);
    dc_dataset_free(ds);
    write_bytes(tmp_path("c.idx"), buf, sizeof buf - 1);
    CHECK_NULL_ERR(dc_dataset_idx(tmp_path("c.idx")), "c.idx", "truncated data", "60 bytes", "59");
    write_bytes(tmp_path("d.idx"), "\x01\x02\x03\x04", 4);
    CHECK_NULL_ERR(dc_dataset_idx(tmp_path("d.idx")), "d.idx", "not an IDX file");
    CHECK_NULL_ERR(dc_dataset_idx(tmp_path("absent.idx")), "absent.idx");
    dc_tensor_free(ref);
}

/* CSV: the same numbers as dc_csv_load reads, streamed; plain and gzip; bad cells and lines. */
static void test_csv(void) {
    const char *text = "a;b;c;label\n1;2.5;-3;1\n4;5;6e-1;0\r\n7; 8 ;9;2\n\n";
    write_bytes(tmp_path("t.csv"), text, strlen(text));
    gzFile gz = gzopen(tmp_path("t.csv.gz"), "wb");
    CHECK(gz && gzwrite(gz, text, (unsigned)strlen(text)) == (int)strlen(text));
    gzclose(gz);
    dc_csv_opts o = dc_csv_defaults();
    o.delimiter = ';';
    o.skip_rows = 1;
    dc_tensor *x = NULL, *y = NULL;
    CHECK(dc_csv_load(tmp_path("t.csv"), &o, &x, &y) == DC_OK);
    for (int k = 0; k < 2; k++) {
        dc_dataset *ds = dc_dataset_csv(tmp_path(k ? "t.csv.gz" : "t.csv"), &o);
        CHECK(ds && dc_dataset_rows(ds) == 3 && dc_dataset_num_parts(ds) == 2);
        float f[9], l[3];
        CHECK(dc_dataset_gather(ds, 0, (int64_t[]){0, 1, 2}, 3, f, false, 0) == DC_OK);
        CHECK(dc_dataset_gather(ds, 1, (int64_t[]){0, 1, 2}, 3, l, false, 0) == DC_OK);
        CHECK(x && y && memcmp(f, dc_tensor_data(x), sizeof f) == 0 && memcmp(l, dc_tensor_data(y), sizeof l) == 0);
        dc_dataset_free(ds);
    }
    o.feature_cols = (const int[]){2, 0};
    o.nfeature_cols = 2;
    o.label_col = -2;
    dc_dataset *ds = dc_dataset_csv(tmp_path("t.csv"), &o);
    float f2[2];
    CHECK(ds && dc_dataset_num_parts(ds) == 1 && dc_dataset_gather(ds, 0, (int64_t[]){1}, 1, f2, false, 0) == DC_OK && f2[0] == 0.6f &&
          f2[1] == 4);
    dc_dataset_free(ds);
    o = dc_csv_defaults();
    write_bytes(tmp_path("bad.csv"), "1,2\n3,x\n", 8);
    ds = dc_dataset_csv(tmp_path("bad.csv"), &o);
    CHECK(ds != NULL);
    CHECK_ERR(dc_dataset_gather(ds, 0, (int64_t[]){1}, 1, f2, false, 0), DC_ERR_FORMAT, "bad.csv", "line 2, column 2", "'x' is not a number");
    dc_dataset_free(ds);
    write_bytes(tmp_path("cols.csv"), "1,2\n3,4,5\n", 10);
    CHECK_NULL_ERR(dc_dataset_csv(tmp_path("cols.csv"), &o), "cols.csv", "line 2 has 3 columns", "first data line 2");
    write_bytes(tmp_path("gap.csv"), "1,2\n\n3,4\n", 9);
    CHECK_NULL_ERR(dc_dataset_csv(tmp_path("gap.csv"), &o), "gap.csv", "line 2 is empty");
    write_bytes(tmp_path("q.csv"), "1,\"2\"\n", 6);
    CHECK_NULL_ERR(dc_dataset_csv(tmp_path("q.csv"), &o), "q.csv", "quote");
    dc_tensor_free(x), dc_tensor_free(y);
}

/* A folder of pictures: classes from sub-folders, pictures read when gathered. */
static void test_image_folder(void) {
    char root[600], sub[700];
    snprintf(root, sizeof root, "%s", tmp_path("pics"));
    const char *names[] = {"cat/a.png", "cat/b.png", "dog/c.png", "dog/deep/d.png"};
    CHECK(mkdir(root, 0700) == 0);
    snprintf(sub, sizeof sub, "%s/cat", root);
    CHECK(mkdir(sub, 0700) == 0);
    snprintf(sub, sizeof sub, "%s/dog", root);
    CHECK(mkdir(sub, 0700) == 0);
    snprintf(sub, sizeof sub, "%s/dog/deep", root);
    CHECK(mkdir(sub, 0700) == 0);
    dc_image_grid_opts g = dc_image_grid_defaults();
    g.cols = 1, g.padding = 0;
    for (int i = 0; i < 4; i++) {
        dc_tensor *img = dc_tensor_new(4, (int64_t[]){1, 1, 6, 5});
        for (int p = 0; p < 30; p++) dc_tensor_data(img)[p] = (float)((p * 7 + i * 40) % 256) / 255;
        snprintf(sub, sizeof sub, "%s/%s", root, names[i]);
        CHECK(dc_image_grid_save(sub, img, &g) == DC_OK);
        dc_tensor_free(img);
    }
    snprintf(sub, sizeof sub, "%s/dog/notes.txt", root);
    write_bytes(sub, "not a picture", 13);
    dc_image_opts io = dc_image_defaults();
    io.channels = 1, io.height = 6, io.width = 5;
    int64_t nc = 0;
    dc_dataset *ds = dc_dataset_image_folder(root, &io, &nc);
    CHECK(ds && nc == 2 && dc_dataset_rows(ds) == 4);
    float px[4 * 30], lab[4];
    CHECK(dc_dataset_gather(ds, 0, (int64_t[]){0, 1, 2, 3}, 4, px, false, 0) == DC_OK);
    CHECK(dc_dataset_gather(ds, 1, (int64_t[]){0, 1, 2, 3}, 4, lab, false, 0) == DC_OK);
    CHECK(lab[0] == 0 && lab[1] == 0 && lab[2] == 1 && lab[3] == 1);
    for (int i = 0; i < 4; i++) {
        snprintf(sub, sizeof sub, "%s/%s", root, names[i]);
        dc_tensor *ref = dc_image_load(sub, &io);
        CHECK(ref && memcmp(px + i * 30, dc_tensor_data(ref), 30 * sizeof(float)) == 0);
        dc_tensor_free(ref);
    }
    snprintf(sub, sizeof sub, "%s/%s", root, names[1]);
    write_bytes(sub, "\x89PNG broken", 12);
    CHECK_ERR(dc_dataset_gather(ds, 0, (int64_t[]){1}, 1, px, false, 0), DC_ERR_FORMAT, "b.png");
    dc_dataset_free(ds);
    snprintf(sub, sizeof sub, "%s", tmp_path("flat"));
    CHECK(mkdir(sub, 0700) == 0);
    CHECK_NULL_ERR(dc_dataset_image_folder(sub, &io, NULL), "flat", "no class sub-folders");
    snprintf(sub, sizeof sub, "%s/dog/deep", root);
    CHECK_NULL_ERR(dc_dataset_image_folder(sub, &io, NULL), "no class sub-folders");
    io.height = 0;
    CHECK_NULL_ERR(dc_dataset_image_folder(root, &io, NULL), "height and width");
}

/* Clear errors for broken files and data that does not fit, never a crash. */
static void test_errors(void) {
    dc_tensor *x, *y;
    make_data(64, 10, &x, &y);
    char px[512], py[512];
    snprintf(px, sizeof px, "%s", tmp_path("e_x.npy"));
    snprintf(py, sizeof py, "%s", tmp_path("e_y.npy"));
    CHECK(dc_npy_save(px, x, DC_DTYPE_U8) == DC_OK);
    /* y with fewer rows than x */
    dc_tensor *y2 = dc_tensor_new(1, (int64_t[]){60});
    CHECK(dc_npy_save(py, y2, DC_DTYPE_U8) == DC_OK);
    CHECK_NULL_ERR(dc_dataset_zip(2, (dc_dataset *const[]){dc_dataset_npy(px), dc_dataset_npy(py)}), "e_y.npy has 60 rows", "e_x.npy has 64");
    /* truncated and trailing data: refused before mapping */
    FILE *f = fopen(px, "rb");
    unsigned char whole[4096];
    size_t n = f ? fread(whole, 1, sizeof whole, f) : 0;
    if (f) fclose(f);
    write_bytes(tmp_path("trunc.npy"), whole, n - 7);
    CHECK_NULL_ERR(dc_dataset_npy(tmp_path("trunc.npy")), "trunc.npy", "truncated data", "640 bytes", "633");
    unsigned char more[4200];
    memcpy(more, whole, n);
    memset(more + n, 0, 5);
    write_bytes(tmp_path("trail.npy"), more, n + 5);
    CHECK_NULL_ERR(dc_dataset_npy(tmp_path("trail.npy")), "trail.npy", "5 bytes of trailing data");
    /* a file cut short after it was mapped: the next batch fails, no SIGBUS */
    write_bytes(tmp_path("cut.npy"), whole, n);
    dc_dataset *ds = dc_dataset_npy(tmp_path("cut.npy"));
    CHECK(ds != NULL);
    CHECK(truncate(tmp_path("cut.npy"), 200) == 0);
    float row[10];
    CHECK_ERR(dc_dataset_gather(ds, 0, (int64_t[]){63}, 1, row, false, 0), DC_ERR_IO, "cut.npy", "changed", "768 bytes when opened",
              "200 now");
    dc_dataset *fit_ds = dc_dataset_zip(2, (dc_dataset *const[]){ds, dc_dataset_from_tensors(1, (const dc_tensor *const[]){y}, NULL)});
    dc_model *m = net(10, false);
    dc_fit_opts o = quiet(1, 16);
    CHECK_ERR(dc_model_fit_dataset(m, fit_ds, NULL, &o, NULL), DC_ERR_IO, "cut.npy", "changed", "epoch 1, batch 1");
    dc_dataset_free(fit_ds);
    /* values that float32 cannot hold exactly */
    dc_tensor *big = dc_tensor_new(2, (int64_t[]){4, 10});
    CHECK(dc_npy_save(tmp_path("big.npy"), big, DC_DTYPE_I32) == DC_OK);
    f = fopen(tmp_path("big.npy"), "r+b");
    int32_t v = (1 << 24) + 1;
    CHECK(f && fseek(f, -(long)(4 * 10 + 4 * 3), SEEK_END) == 0 && fwrite(&v, 4, 1, f) == 1);
    if (f) fclose(f);
    ds = dc_dataset_npy(tmp_path("big.npy"));
    float r4[40];
    CHECK_ERR(dc_dataset_gather(ds, 0, (int64_t[]){0, 1, 2, 3}, 4, r4, false, 0), DC_ERR_NUMERIC, "big.npy", "row 2, element 7", "I32");
    dc_dataset_free(ds);
    /* a dtype no dataset reads: strings */
    const char hdr[] = "\x93NUMPY\x01\x00\x76\x00{'descr': '<U4', 'fortran_order': False, 'shape': (2,), }";
    unsigned char u[128 + 32];
    memset(u, ' ', 128);
    memcpy(u, hdr, sizeof hdr - 1);
    u[127] = '\n';
    memset(u + 128, 0, 32);
    write_bytes(tmp_path("str.npy"), u, sizeof u);
    CHECK_NULL_ERR(dc_dataset_npy(tmp_path("str.npy")), "str.npy", "<U4");
    /* parts that do not fit the model */
    ds = dc_dataset_npy(px);
    CHECK_ERR(dc_model_fit_dataset(m, ds, NULL, &o, NULL), DC_ERR_ARG, "e_x.npy has 1 part", "needs 2");
    dc_dataset *bigds = dc_dataset_zip(1, (dc_dataset *const[]){dc_dataset_npy(tmp_path("big.npy"))});
    CHECK_NULL_ERR(dc_model_predict_dataset(m, bigds, 8), "big.npy");
    dc_dataset_free(bigds);
    dc_dataset *wrong = dc_dataset_zip(2, (dc_dataset *const[]){ds, dc_dataset_from_tensors(1, (const dc_tensor *const[]){y}, NULL)});
    CHECK(dc_dataset_reshape(wrong, 0, 2, (int64_t[]){2, 5}) == DC_OK);
    CHECK_ERR(dc_model_fit_dataset(m, wrong, NULL, &o, NULL), DC_ERR_SHAPE, "e_x.npy", "expected input");
    CHECK_ERR(dc_model_evaluate_dataset(m, wrong, 8, (double[2]){0}), DC_ERR_SHAPE, "e_x.npy");
    o.validation_split = 0.5f;
    CHECK(dc_dataset_reshape(wrong, 0, 1, (int64_t[]){10}) == DC_OK);
    CHECK_ERR(dc_model_fit_dataset(m, wrong, NULL, &o, NULL), DC_ERR_ARG, "validation dataset");
    dc_dataset_free(wrong);
    CHECK_NULL_ERR(dc_dataset_npy(tmp_path("absent.npy")), "absent.npy");
    CHECK_NULL_ERR(dc_dataset_new(&(dc_dataset_source){.name = "mine", .rows = 3, .nparts = 1}), "mine", "no gather");
    dc_model_free(m);
    dc_tensor_free(big), dc_tensor_free(y2), dc_tensor_free(x), dc_tensor_free(y);
}

int main(void) {
    dc_rng_seed(&rng, 11);
    const char *t = getenv("TMPDIR");
    snprintf(dir, sizeof dir, "%s/deepc-dataset-XXXXXX", t && *t ? t : "/tmp");
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    test_tensor_dataset_identical();
    test_stop_mid_epoch();
    test_npy_uint8();
    test_transforms();
    test_idx();
    test_csv();
    test_image_folder();
    test_errors();
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
    return check_report("test_dataset");
}
