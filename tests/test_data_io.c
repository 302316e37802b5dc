/* Data: CSV (plain and gzip), IDX, scalers, split, one-hot, row selection, and every bad
 * file or argument answered with a clear error. */
#include "check.h"

#include <stdlib.h>
#include <unistd.h>
#include <zlib.h>

#include "tmpfiles.h"

static void test_bundled(void) {
    dc_tensor *x, *y;
    dc_csv_opts o = dc_csv_defaults();
    o.skip_rows = 1;
    CHECK(dc_csv_load("data/iris.csv", &o, &x, &y) == DC_OK);
    CHECK(dc_tensor_dim(x, 0) == 150 && dc_tensor_dim(x, 1) == 4 && dc_tensor_dim(y, 0) == 150);
    CHECK_NEAR(dc_tensor_data(x)[0], 5.1, 1e-6);
    CHECK(dc_tensor_data(y)[0] == 0 && dc_tensor_data(y)[149] == 2);
    dc_tensor_free(x);
    dc_tensor_free(y);
    o = dc_csv_defaults();
    CHECK(dc_csv_load("data/digits.csv.gz", &o, &x, &y) == DC_OK);
    CHECK(dc_tensor_dim(x, 0) == 1797 && dc_tensor_dim(x, 1) == 64);
    float mx = 0;
    for (int64_t i = 0; i < dc_tensor_numel(x); i++) mx = dc_tensor_data(x)[i] > mx ? dc_tensor_data(x)[i] : mx;
    CHECK(mx == 16.0f);
    dc_tensor_free(x);
    dc_tensor_free(y);
}

static void test_csv_options(void) {
    const char *p = WRITE("opts.csv", "w,x,label,z\r\n1, 2 ,0,\"4\"\r\n5,6,1,8\r\n\r\n");
    dc_tensor *x, *y;
    dc_csv_opts o = dc_csv_defaults();
    o.skip_rows = 1;
    o.label_name = "label";
    CHECK(dc_csv_load(p, &o, &x, &y) == DC_OK);
    CHECK(x && dc_tensor_dim(x, 0) == 2 && dc_tensor_dim(x, 1) == 3);
    CHECK(x && dc_tensor_data(x)[1] == 2 && dc_tensor_data(x)[2] == 4 && dc_tensor_data(y)[1] == 1);
    dc_tensor_free(x);
    dc_tensor_free(y);
    const int cols[] = {3, 0};
    o = dc_csv_defaults();
    o.skip_rows = 1;
    o.label_col = 1;
    o.feature_cols = cols;
    o.nfeature_cols = 2;
    CHECK(dc_csv_load(p, &o, &x, &y) == DC_OK);
    CHECK(x && dc_tensor_data(x)[0] == 4 && dc_tensor_data(x)[1] == 1 && dc_tensor_data(y)[0] == 2);
    dc_tensor_free(x);
    dc_tensor_free(y);
    o.label_col = -2; /* no label */
    o.feature_cols = NULL;
    o.nfeature_cols = 0;
    CHECK(dc_csv_load(p, &o, &x, NULL) == DC_OK);
    CHECK(x && dc_tensor_dim(x, 1) == 4);
    dc_tensor_free(x);
    o = dc_csv_defaults();
    o.delimiter = ';';
    CHECK(dc_csv_load(WRITE("semi.csv", "1;2;3\n4;5;6"), &o, &x, &y) == DC_OK);
    CHECK(x && dc_tensor_dim(x, 0) == 2 && dc_tensor_data(y)[1] == 6);
    dc_tensor_free(x);
    dc_tensor_free(y);
    const char text[] = "1,2,0\n3,4,1\n";
    CHECK(dc_csv_load(write_file("z.csv.gz", text, sizeof text - 1, true), &o, &x, &y) == DC_ERR_FORMAT); /* ';' */
    o = dc_csv_defaults();
    CHECK(dc_csv_load(write_file("z.csv.gz", text, sizeof text - 1, true), &o, &x, &y) == DC_OK);
    CHECK(x && dc_tensor_data(x)[2] == 3);
    dc_tensor_free(x);
    dc_tensor_free(y);
}

static void test_csv_bad(void) {
    dc_tensor *x = (dc_tensor *)1, *y = (dc_tensor *)1;
    dc_csv_opts o = dc_csv_defaults();
    CHECK_ERR(dc_csv_load(WRITE("bad.csv", "1,2,0\n3,abc,1\n"), &o, &x, &y), DC_ERR_FORMAT, "bad.csv:2", "column 2", "abc");
    CHECK(x == NULL && y == NULL); /* nothing half-made comes back */
    CHECK_ERR(dc_csv_load(WRITE("ragged.csv", "1,2,0\n3,4\n"), &o, &x, &y), DC_ERR_FORMAT, "ragged.csv:2", "3 columns", "got 2");
    CHECK_ERR(dc_csv_load(WRITE("nan.csv", "1,2,0\n1,nan,0\n"), &o, &x, &y), DC_ERR_NUMERIC, "nan.csv:2", "column 2");
    CHECK_ERR(dc_csv_load(WRITE("inf.csv", "1,2,inf\n"), &o, &x, &y), DC_ERR_NUMERIC, "inf.csv:1", "column 3");
    CHECK_ERR(dc_csv_load(WRITE("huge.csv", "1,2,1e39\n"), &o, &x, &y), DC_ERR_NUMERIC, "huge.csv:1");
    CHECK_ERR(dc_csv_load(WRITE("empty.csv", ""), &o, &x, &y), DC_ERR_FORMAT, "empty.csv", "no data");
    CHECK_ERR(dc_csv_load(WRITE("blank.csv", "\n\n\n"), &o, &x, &y), DC_ERR_FORMAT, "blank.csv");
    CHECK_ERR(dc_csv_load("/nonexistent/dir/x.csv", &o, &x, &y), DC_ERR_IO, "/nonexistent/dir/x.csv");
    unsigned char junk[300];
    for (int i = 0; i < 300; i++) junk[i] = (unsigned char)(i * 131 + 7);
    CHECK(dc_csv_load(write_file("junk.bin", junk, sizeof junk, false), &o, &x, &y) != DC_OK);
    o.label_col = 7;
    CHECK_ERR(dc_csv_load(WRITE("ok.csv", "1,2,3\n"), &o, &x, &y), DC_ERR_ARG, "7");
    o = dc_csv_defaults();
    o.skip_rows = 1;
    o.label_name = "price";
    CHECK_ERR(dc_csv_load(WRITE("hdr.csv", "a,b\n1,2\n"), &o, &x, &y), DC_ERR_ARG, "price");
    o = dc_csv_defaults();
    const int cols[] = {0, 9};
    o.feature_cols = cols;
    o.nfeature_cols = 2;
    CHECK(dc_csv_load(WRITE("ok.csv", "1,2,3\n"), &o, &x, &y) == DC_ERR_ARG);
    /* a gzip file cut short */
    char big[4096];
    size_t n = 0;
    for (int r = 0; r < 300; r++) n += (size_t)snprintf(big + n, sizeof big - n, "%d,%d,1\n", r, r * 7); /* < 4 KiB */
    const char *gz = write_file("cut.csv.gz", big, n, true);
    FILE *f = fopen(gz, "rb");
    unsigned char buf[8192];
    size_t len = fread(buf, 1, sizeof buf, f);
    fclose(f);
    o = dc_csv_defaults();
    CHECK_ERR(dc_csv_load(write_file("cut2.csv.gz", buf, len / 2, false), &o, &x, &y), DC_ERR_FORMAT, "cut2.csv.gz");
    CHECK_ERR(dc_csv_load(NULL, &o, &x, &y), DC_ERR_ARG, "");
}

static void test_idx(void) {
    /* images: magic 0x00000803, 2 x 2 x 3 */
    unsigned char img[16 + 12] = {0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 3};
    for (int i = 0; i < 12; i++) img[16 + i] = (unsigned char)(i * 20);
    unsigned char lab[8 + 2] = {0, 0, 8, 1, 0, 0, 0, 2, 7, 3};
    dc_tensor *t = dc_idx_load(write_file("img.idx", img, sizeof img, false), true);
    CHECK(t && dc_tensor_ndim(t) == 3 && dc_tensor_dim(t, 0) == 2 && dc_tensor_dim(t, 2) == 3);
    CHECK(t && dc_tensor_data(t)[11] == 220.0f / 255.0f);
    dc_tensor_free(t);
    t = dc_idx_load(write_file("img.idx.gz", img, sizeof img, true), false);
    CHECK(t && dc_tensor_data(t)[5] == 100.0f);
    dc_tensor_free(t);
    t = dc_idx_load(write_file("lab.idx", lab, sizeof lab, false), false);
    CHECK(t && dc_tensor_ndim(t) == 1 && dc_tensor_data(t)[0] == 7 && dc_tensor_data(t)[1] == 3);
    dc_tensor_free(t);
    /* bad files */
    CHECK_NULL_ERR(dc_idx_load(write_file("trunc.idx", img, sizeof img - 5, false), true), "trunc.idx", "12 bytes", "found 7");
    unsigned char wrong[sizeof img];
    memcpy(wrong, img, sizeof img);
    wrong[2] = 9; /* not a ubyte type code we read as such: 0x09 is signed byte */
    wrong[0] = 1;
    CHECK_NULL_ERR(dc_idx_load(write_file("magic.idx", wrong, sizeof wrong, false), true), "magic.idx", "magic");
    unsigned char huge[16] = {0, 0, 8, 3, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    CHECK_NULL_ERR(dc_idx_load(write_file("huge.idx", huge, sizeof huge, false), true), "huge.idx");
    unsigned char zero[16] = {0, 0, 8, 3, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 2};
    CHECK_NULL_ERR(dc_idx_load(write_file("zero.idx", zero, sizeof zero, false), true), "zero.idx");
    CHECK_NULL_ERR(dc_idx_load(write_file("short.idx", img, 6, false), true), "short.idx");
    CHECK_NULL_ERR(dc_idx_load(WRITE("text.idx", "hello, world\n"), true), "text.idx", "not an IDX file");
    CHECK_NULL_ERR(dc_idx_load("/nonexistent/train.idx", true), "/nonexistent/train.idx");
    /* labels file given where images are expected is still a valid IDX (1-D): the caller checks */
}

static void test_transforms(void) {
    const float xv[] = {1, 10, 5, 2, 20, 5, 3, 30, 5, 4, 40, 5};
    dc_tensor *x = dc_tensor_from(2, (int64_t[]){4, 3}, xv), *x2 = dc_tensor_clone(x);
    dc_scaler *s = dc_standard_scaler_fit(x);
    CHECK(s && dc_scaler_apply(s, x) == DC_OK);
    double mean = 0, var = 0;
    for (int i = 0; i < 4; i++) mean += dc_tensor_data(x)[i * 3 + 1];
    for (int i = 0; i < 4; i++) var += pow(dc_tensor_data(x)[i * 3 + 1] - mean / 4, 2);
    CHECK_NEAR(mean / 4, 0, 1e-6);
    CHECK_NEAR(var / 4, 1, 1e-5);
    CHECK(dc_tensor_data(x)[2] == 0); /* constant column: centred, not divided by 0 */
    dc_scaler *mm = dc_minmax_scaler_fit(x2);
    CHECK(mm && dc_scaler_apply(mm, x2) == DC_OK);
    CHECK(dc_tensor_data(x2)[1] == 0 && dc_tensor_data(x2)[10] == 1 && dc_tensor_data(x2)[2] == 0);
    dc_tensor *w = dc_tensor_new(2, (int64_t[]){2, 5});
    CHECK_ERR(dc_scaler_apply(s, w), DC_ERR_SHAPE, "3 features", "5");
    dc_scaler_free(s);
    dc_scaler_free(mm);
    /* split */
    dc_tensor *X = dc_tensor_new(2, (int64_t[]){10, 2}), *Y = dc_tensor_new(1, (int64_t[]){10});
    for (int i = 0; i < 10; i++) {
        dc_tensor_data(X)[2 * i] = (float)i;
        dc_tensor_data(Y)[i] = (float)i;
    }
    dc_tensor *a, *b, *c, *d, *a2, *b2, *c2, *d2;
    CHECK(dc_train_test_split(X, Y, 0.3f, 5, &a, &b, &c, &d) == DC_OK);
    CHECK(dc_tensor_dim(a, 0) == 7 && dc_tensor_dim(c, 0) == 3 && dc_tensor_dim(d, 0) == 3);
    CHECK(dc_train_test_split(X, Y, 0.3f, 5, &a2, &b2, &c2, &d2) == DC_OK);
    CHECK(memcmp(dc_tensor_data(c), dc_tensor_data(c2), 6 * sizeof(float)) == 0);
    for (int i = 0; i < 3; i++) CHECK(dc_tensor_data(c)[2 * i] == dc_tensor_data(d)[i]); /* rows stay paired */
    dc_tensor *all[] = {a, b, c, d, a2, b2, c2, d2};
    for (int i = 0; i < 8; i++) dc_tensor_free(all[i]);
    CHECK_ERR(dc_train_test_split(X, Y, 1.5f, 5, &a, &b, &c, &d), DC_ERR_ARG, "1.5");
    CHECK_ERR(dc_train_test_split(X, Y, 0.01f, 5, &a, &b, &c, &d), DC_ERR_ARG, "");
    dc_tensor *Y9 = dc_tensor_new(1, (int64_t[]){9});
    CHECK_ERR(dc_train_test_split(X, Y9, 0.3f, 5, &a, &b, &c, &d), DC_ERR_SHAPE, "10", "9");
    /* one-hot and rows */
    dc_tensor *oh = dc_one_hot(Y, 10);
    CHECK(oh && dc_tensor_dim(oh, 1) == 10 && dc_tensor_data(oh)[3 * 10 + 3] == 1 && dc_tensor_data(oh)[3 * 10 + 4] == 0);
    CHECK_NULL_ERR(dc_one_hot(Y, 5), "row 5", "5");
    dc_tensor_data(Y)[2] = 1.5f;
    CHECK_NULL_ERR(dc_one_hot(Y, 10), "row 2", "1.5");
    dc_tensor *r = dc_take_rows(X, (int64_t[]){9, 0}, 2);
    CHECK(r && dc_tensor_data(r)[0] == 9 && dc_tensor_data(r)[2] == 0);
    CHECK_NULL_ERR(dc_take_rows(X, (int64_t[]){10}, 1), "10");
    dc_tensor_data(X)[5] = NAN;
    CHECK_ERR(dc_check_finite(X, "features"), DC_ERR_NUMERIC, "features", "5");
    dc_tensor *more[] = {x, x2, w, X, Y, Y9, oh, r};
    for (int i = 0; i < 8; i++) dc_tensor_free(more[i]);
}

int main(void) {
    if (!tmp_dir_create()) return 1;
    test_bundled();
    test_csv_options();
    test_csv_bad();
    test_idx();
    test_transforms();
    if (!tmp_dir_remove()) return 1;
    return check_report("test_data_io");
}
