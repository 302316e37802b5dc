/* Data (section 8): the CSV and IDX readers on good, broken and hostile files, scalers,
 * split, one-hot, take_rows, check_finite. Every bad file or argument must be answered with
 * its status and a message naming the file, the line and column or header field, and the
 * numbers. Run from the repository root (data/ is read). */
#define _POSIX_C_SOURCE 200809L /* mkdtemp, truncate */
#include "check.h"
#include "tensor/tensor.h"

#include <stdlib.h>
#include <unistd.h>
#include <zlib.h>

#include "tmpfiles.h"

/* The last error message contains a and (unless NULL) b. */
static bool msg_has(const char *a, const char *b) {
    const char *m = dc_last_error();
    return strstr(m, a) && (!b || strstr(m, b));
}

static float at(const dc_tensor *t, int64_t i, int64_t j) {
    int64_t idx[2] = {i, j};
    return dc_tensor_get(t, idx);
}

/* dc_csv_load expected to fail with status s; both outputs must stay NULL. */
static bool csv_fails(const char *path, const dc_csv_opts *o, dc_status s) {
    dc_tensor *x = (dc_tensor *)1, *y = (dc_tensor *)1;
    dc_status got = dc_csv_load(path, o, &x, &y);
    if (got != s) fprintf(stderr, "  %s: expected %s, got %s\n", path, dc_status_name(s), dc_status_name(got));
    return got == s && !x && !y;
}

static void test_iris(void) {
    dc_csv_opts o = dc_csv_defaults();
    CHECK(o.delimiter == ',' && o.skip_rows == 0 && o.label_col == -1 && !o.feature_cols && !o.label_name);
    o.skip_rows = 1;
    dc_tensor *x, *y;
    CHECK(dc_csv_load("data/iris.csv", &o, &x, &y) == DC_OK);
    CHECK(dc_tensor_ndim(x) == 2 && dc_tensor_dim(x, 0) == 150 && dc_tensor_dim(x, 1) == 4);
    CHECK(dc_tensor_ndim(y) == 1 && dc_tensor_dim(y, 0) == 150);
    CHECK(at(x, 0, 0) == 5.1f && at(x, 0, 1) == 3.5f && at(x, 0, 2) == 1.4f && at(x, 0, 3) == 0.2f);
    int count[3] = {0};
    bool labels_ok = true;
    for (int i = 0; i < 150; i++) {
        float v = dc_tensor_data(y)[i];
        if (v == 0 || v == 1 || v == 2) count[(int)v]++;
        else labels_ok = false;
    }
    CHECK(labels_ok && count[0] == 50 && count[1] == 50 && count[2] == 50);
    CHECK(dc_tensor_data(y)[0] == 0 && dc_tensor_data(y)[149] == 2);

    /* without skip_rows the text header is reported with its line and column */
    CHECK(csv_fails("data/iris.csv", NULL, DC_ERR_FORMAT));
    CHECK(msg_has("data/iris.csv:1: column 3", "\"setosa\" is not a number"));

    /* scalers on real data */
    dc_scaler *s = dc_standard_scaler_fit(x);
    CHECK(s != NULL);
    CHECK(dc_scaler_apply(s, x) == DC_OK);
    bool std_ok = true;
    for (int j = 0; j < 4; j++) {
        double m = 0, v = 0;
        for (int i = 0; i < 150; i++) m += at(x, i, j);
        m /= 150;
        for (int i = 0; i < 150; i++) v += (at(x, i, j) - m) * (at(x, i, j) - m);
        v /= 150;
        std_ok = std_ok && fabs(m) < 1e-5 && fabs(v - 1) < 1e-4;
    }
    CHECK(std_ok);
    dc_scaler_free(s);
    s = dc_minmax_scaler_fit(x);
    CHECK(s != NULL && dc_scaler_apply(s, x) == DC_OK);
    bool mm_ok = true;
    for (int j = 0; j < 4; j++) {
        float lo = 1e9f, hi = -1e9f;
        for (int i = 0; i < 150; i++) {
            lo = fminf(lo, at(x, i, j));
            hi = fmaxf(hi, at(x, i, j));
        }
        mm_ok = mm_ok && fabsf(lo) < 1e-6f && fabsf(hi - 1) < 1e-6f;
    }
    CHECK(mm_ok);
    int64_t wide_shape[2] = {3, 5};
    dc_tensor *wide = dc_tensor_new(2, wide_shape);
    CHECK(dc_scaler_apply(s, wide) == DC_ERR_SHAPE && msg_has("fitted on 4 features, got 5", NULL));
    dc_tensor_free(wide);
    dc_scaler_free(s);
    dc_scaler_free(NULL);
    dc_tensor_free(x);
    dc_tensor_free(y);
}

static void test_digits(void) {
    dc_tensor *x, *y;
    CHECK(dc_csv_load("data/digits.csv.gz", NULL, &x, &y) == DC_OK);
    CHECK(dc_tensor_dim(x, 0) == 1797 && dc_tensor_dim(x, 1) == 64 && dc_tensor_dim(y, 0) == 1797);
    bool ok = true;
    for (int64_t i = 0; i < dc_tensor_numel(x); i++) ok = ok && dc_tensor_data(x)[i] >= 0 && dc_tensor_data(x)[i] <= 16;
    for (int64_t i = 0; i < 1797; i++) {
        float v = dc_tensor_data(y)[i];
        ok = ok && v >= 0 && v <= 9 && v == floorf(v);
    }
    CHECK(ok);
    CHECK(at(x, 0, 2) == 5 && at(x, 0, 3) == 13 && dc_tensor_data(y)[0] == 0 && dc_tensor_data(y)[1] == 1);
    float mx = 0;
    for (int64_t i = 0; i < dc_tensor_numel(x); i++) mx = fmaxf(mx, dc_tensor_data(x)[i]);
    CHECK(mx == 16.0f);
    dc_tensor_free(x);
    dc_tensor_free(y);
}

static void test_csv_options(void) {
    const char *p = WRITE("opts.csv", "a,b,c,d\n1,2,3,4\n5,6,7,8\n9,10,11,12\n");
    dc_csv_opts o = dc_csv_defaults();
    o.skip_rows = 1;
    dc_tensor *x, *y;

    o.label_col = 0;
    CHECK(dc_csv_load(p, &o, &x, &y) == DC_OK);
    CHECK(dc_tensor_dim(x, 0) == 3 && dc_tensor_dim(x, 1) == 3 && at(x, 1, 0) == 6 && at(x, 2, 2) == 12);
    CHECK(dc_tensor_data(y)[0] == 1 && dc_tensor_data(y)[2] == 9);
    dc_tensor_free(x);
    dc_tensor_free(y);

    o.label_col = -2;
    CHECK(dc_csv_load(p, &o, &x, &y) == DC_OK && y == NULL && dc_tensor_dim(x, 1) == 4);
    dc_tensor_free(x);

    int cols[2] = {2, 0};
    o.label_col = -1;
    o.feature_cols = cols;
    o.nfeature_cols = 2;
    CHECK(dc_csv_load(p, &o, &x, &y) == DC_OK);
    CHECK(dc_tensor_dim(x, 1) == 2 && at(x, 0, 0) == 3 && at(x, 0, 1) == 1 && dc_tensor_data(y)[1] == 8);
    dc_tensor_free(x);
    dc_tensor_free(y);
    o.feature_cols = NULL;
    o.nfeature_cols = 0;

    o.label_name = "b";
    CHECK(dc_csv_load(p, &o, &x, &y) == DC_OK);
    CHECK(dc_tensor_dim(x, 1) == 3 && at(x, 0, 1) == 3 && dc_tensor_data(y)[2] == 10);
    dc_tensor_free(x);
    dc_tensor_free(y);

    /* y_out NULL: the label is still left out of the features */
    o.label_name = NULL;
    CHECK(dc_csv_load(p, &o, &x, NULL) == DC_OK && dc_tensor_dim(x, 1) == 3);
    dc_tensor_free(x);

    /* CRLF, spaces, quotes, blank lines, a byte order mark, no final newline */
    const char *q = WRITE("crlf.csv", "\xef\xbb\xbf 1 , \"2.5\" ,3\r\n\r\n4,5e1, -6 \r\n  \n7,8,9\n\n\n");
    CHECK(dc_csv_load(q, NULL, &x, &y) == DC_OK);
    CHECK(dc_tensor_dim(x, 0) == 3 && at(x, 0, 0) == 1 && at(x, 0, 1) == 2.5f && at(x, 1, 1) == 50);
    CHECK(dc_tensor_data(y)[1] == -6 && dc_tensor_data(y)[2] == 9);
    dc_tensor_free(x);
    dc_tensor_free(y);
    const char *r = WRITE("nofinal.csv", "1;2\n3;4");
    o = dc_csv_defaults();
    o.delimiter = ';';
    CHECK(dc_csv_load(r, &o, &x, &y) == DC_OK && dc_tensor_dim(x, 0) == 2 && dc_tensor_data(y)[1] == 4);
    dc_tensor_free(x);
    dc_tensor_free(y);
    const char *t = WRITE("tabs.tsv", "1\t2\t3\n4\t5\t6\n");
    o.delimiter = '\t';
    CHECK(dc_csv_load(t, &o, &x, &y) == DC_OK && at(x, 1, 1) == 5 && dc_tensor_data(y)[0] == 3);
    dc_tensor_free(x);
    dc_tensor_free(y);

    /* an unused text column is allowed */
    const char *u = WRITE("names.csv", "alice,1,0\nbob,2,1\n");
    int num[1] = {1};
    o = dc_csv_defaults();
    o.feature_cols = num;
    o.nfeature_cols = 1;
    CHECK(dc_csv_load(u, &o, &x, &y) == DC_OK && at(x, 1, 0) == 2 && dc_tensor_data(y)[1] == 1);
    dc_tensor_free(x);
    dc_tensor_free(y);
}

static void test_csv_errors(void) {
    dc_csv_opts o = dc_csv_defaults();
    char missing[300];
    snprintf(missing, sizeof missing, "%s/missing.csv", dir);
    CHECK(csv_fails(missing, NULL, DC_ERR_IO) && msg_has(missing, "No such file"));
    CHECK(csv_fails(dir, NULL, DC_ERR_IO) && msg_has(dir, NULL));

    const char *empty = WRITE("empty.csv", "");
    CHECK(csv_fails(empty, NULL, DC_ERR_FORMAT) && msg_has("empty.csv", "no data rows"));
    const char *blank = WRITE("blank.csv", "\n \n\r\n");
    CHECK(csv_fails(blank, NULL, DC_ERR_FORMAT) && msg_has("no data rows", NULL));
    const char *hdr = WRITE("header_only.csv", "a,b\n");
    o.skip_rows = 1;
    CHECK(csv_fails(hdr, &o, DC_ERR_FORMAT) && msg_has("header_only.csv", "no data rows after skipping 1 line"));
    o.skip_rows = 5;
    CHECK(csv_fails(hdr, &o, DC_ERR_FORMAT));
    o = dc_csv_defaults();

    const char *bad = WRITE("bad.csv", "1,2,3\n4,5,6\n7,abc,9\n");
    CHECK(csv_fails(bad, NULL, DC_ERR_FORMAT) && msg_has("bad.csv:3: column 2: \"abc\" is not a number", NULL));
    const char *bad2 = WRITE("bad2.csv", "1,2,3\n4,5,6x\n");
    CHECK(csv_fails(bad2, NULL, DC_ERR_FORMAT) && msg_has("bad2.csv:2: column 3", "\"6x\""));
    const char *empty_cell = WRITE("empty_cell.csv", "1,2,3\n4,,6\n");
    CHECK(csv_fails(empty_cell, NULL, DC_ERR_FORMAT) && msg_has("empty_cell.csv:2: column 2", "empty"));
    const char *ragged = WRITE("ragged.csv", "1,2,3\n4,5,6\n7,8\n");
    CHECK(csv_fails(ragged, NULL, DC_ERR_FORMAT) && msg_has("ragged.csv:3:", "expected 3 columns (as on line 1), got 2"));
    const char *nan = WRITE("nan.csv", "1,2,3\n4,nan,6\n");
    CHECK(csv_fails(nan, NULL, DC_ERR_NUMERIC) && msg_has("nan.csv:2: column 2", "not a finite"));
    const char *inf = WRITE("inf.csv", "1,2,-inf\n");
    CHECK(csv_fails(inf, NULL, DC_ERR_NUMERIC) && msg_has("inf.csv:1: column 3", NULL));
    const char *big = WRITE("big.csv", "1,1e39,3\n");
    CHECK(csv_fails(big, NULL, DC_ERR_NUMERIC) && msg_has("big.csv:1: column 2", NULL));
    const char *quote = WRITE("quote.csv", "1,\"2,3\n");
    CHECK(csv_fails(quote, NULL, DC_ERR_FORMAT) && msg_has("quote.csv:1: column 2", "unterminated quote"));
    const char *after = WRITE("after.csv", "1,\"2\"x,3\n");
    CHECK(csv_fails(after, NULL, DC_ERR_FORMAT) && msg_has("after.csv:1: column 2", NULL));

    const char *ok = WRITE("ok.csv", "h1,h2,h3\n1,2,3\n");
    o.label_col = 3;
    CHECK(csv_fails(ok, &o, DC_ERR_ARG) && msg_has("label_col 3 is out of range", "3 columns"));
    o.label_col = -3;
    CHECK(csv_fails(ok, &o, DC_ERR_ARG));
    o.label_col = -1;
    o.skip_rows = 1;
    int cols[2] = {0, 7};
    o.feature_cols = cols;
    o.nfeature_cols = 2;
    CHECK(csv_fails(ok, &o, DC_ERR_ARG) && msg_has("feature_cols[1] = 7 is out of range", NULL));
    o.nfeature_cols = 0;
    CHECK(csv_fails(ok, &o, DC_ERR_ARG));
    o.feature_cols = NULL;
    o.label_name = "h9";
    CHECK(csv_fails(ok, &o, DC_ERR_ARG) && msg_has("ok.csv:1:", "\"h9\" is not in the header"));
    o.skip_rows = 0;
    CHECK(csv_fails(ok, &o, DC_ERR_ARG) && msg_has("needs a header", NULL));
    o = dc_csv_defaults();
    o.skip_rows = -1;
    CHECK(csv_fails(ok, &o, DC_ERR_ARG));
    o = dc_csv_defaults();
    o.delimiter = '.';
    CHECK(csv_fails(ok, &o, DC_ERR_ARG));
    const char *one = WRITE("one_col.csv", "1\n2\n");
    CHECK(csv_fails(one, NULL, DC_ERR_FORMAT) && msg_has("no feature columns", NULL));
    dc_tensor *y = NULL;
    CHECK(dc_csv_load(ok, NULL, NULL, &y) == DC_ERR_ARG && y == NULL);
    CHECK(dc_csv_load(NULL, NULL, NULL, NULL) == DC_ERR_ARG);

    /* binary junk, with and without NUL bytes */
    unsigned char junk[4096];
    unsigned v = 12345;
    for (size_t i = 0; i < sizeof junk; i++) junk[i] = (unsigned char)((v = v * 1103515245u + 12345u) >> 16);
    const char *bin = write_file("junk.bin", junk, sizeof junk, false);
    CHECK(csv_fails(bin, NULL, DC_ERR_FORMAT));
    for (size_t i = 0; i < sizeof junk; i++)
        if (!junk[i]) junk[i] = 1;
    const char *bin2 = write_file("junk2.bin", junk, sizeof junk, false);
    CHECK(csv_fails(bin2, NULL, DC_ERR_FORMAT) && msg_has("junk2.bin:", NULL));

    /* a line over the 16 MiB limit (compressed, so the test writes little) */
    size_t n = ((size_t)17 << 20);
    char *longline = malloc(n);
    memset(longline, '1', n);
    const char *lp = write_file("long.csv.gz", longline, n, true);
    free(longline);
    CHECK(csv_fails(lp, NULL, DC_ERR_FORMAT) && msg_has("long.csv.gz:1: line is longer", NULL));

    /* a gzip file cut in half, and one with a damaged body */
    char *text = malloc(1 << 20);
    size_t len = 0;
    for (int i = 0; len + 64 < (1 << 20); i++) len += (size_t)sprintf(text + len, "%d,%d.5,%d\n", i, i * 7 % 1000, i % 3);
    const char *gp = write_file("cut.csv.gz", text, len, true);
    free(text);
    FILE *f = fopen(gp, "rb");
    fseek(f, 0, SEEK_END);
    long gsize = ftell(f);
    fclose(f);
    CHECK(truncate(gp, gsize / 2) == 0);
    CHECK(csv_fails(gp, NULL, DC_ERR_FORMAT) && msg_has("cut.csv.gz", "ends early"));
    const char *gp2 = write_file("crc.csv.gz", "1,2\n3,4\n", 8, true);
    f = fopen(gp2, "r+b");
    fseek(f, -6, SEEK_END); /* inside the CRC-32 of the gzip trailer */
    fputc(0x5a, f);
    fclose(f);
    CHECK(csv_fails(gp2, NULL, DC_ERR_FORMAT) && msg_has("crc.csv.gz: corrupt gzip data (incorrect data check)", NULL));
}

/* Quoted cells, CRLF and a header picked by name; reordered feature columns; a gzip file. */
static void test_csv_quoted_gzip(void) {
    const char *p = WRITE("opts2.csv", "w,x,label,z\r\n1, 2 ,0,\"4\"\r\n5,6,1,8\r\n\r\n");
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
    x = y = (dc_tensor *)1;
    CHECK_ERR(dc_csv_load(NULL, &o, &x, &y), DC_ERR_ARG, "path");
    CHECK(x == NULL && y == NULL);
}

/* Hostile CSV files are refused with the line and column and nothing half-made; an underflow
 * and a very wide row load. */
static void test_csv_hostile(void) {
    /* NaN, Inf and overflowing spellings strtod accepts: never wanted in training data */
    const char *nonfinite[] = {"1e999", "-1e999", "NaN", "Infinity", "nan(0x7)", "3.5e38"};
    for (size_t i = 0; i < DC_ARRAY_LEN(nonfinite); i++) {
        char text[64];
        snprintf(text, sizeof text, "1,2,3\n4,%s,6\n", nonfinite[i]);
        CHECK(csv_fails(WRITE("nonfinite.csv", text), NULL, DC_ERR_NUMERIC) &&
              msg_has("nonfinite.csv:2: column 2", nonfinite[i]) && msg_has("not a finite float32 number", NULL));
    }
    /* underflow is a number: it rounds to 0 */
    dc_tensor *x, *y;
    CHECK(dc_csv_load(WRITE("tiny.csv", "1e-999,2\n"), NULL, &x, &y) == DC_OK && at(x, 0, 0) == 0);
    dc_tensor_free(x);
    dc_tensor_free(y);

    /* trailing garbage, a cell too long to be a number, binary bytes shown escaped */
    CHECK(csv_fails(WRITE("garbage.csv", "1.5x,2\n"), NULL, DC_ERR_FORMAT) &&
          msg_has("garbage.csv:1: column 1: \"1.5x\" is not a number", NULL));
    char longcell[400] = "1,";
    memset(longcell + 2, '7', 300);
    strcpy(longcell + 302, "\n");
    CHECK(csv_fails(WRITE("longcell.csv", longcell), NULL, DC_ERR_FORMAT) &&
          msg_has("longcell.csv:1: column 2: \"7777", "...\" is not a number"));
    CHECK(csv_fails(WRITE("ctrl.csv", "1,\x01\x7f\n"), NULL, DC_ERR_FORMAT) && msg_has("\"\\x01\\x7f\"", NULL));

    /* an embedded NUL byte, on the second line */
    CHECK(csv_fails(write_file("nul.csv", "1,2\n3\0,4\n", 9, false), NULL, DC_ERR_FORMAT) &&
          msg_has("nul.csv:2: line contains a NUL byte", NULL));
    /* ragged rows: more columns than the first row, too */
    CHECK(csv_fails(WRITE("wider.csv", "1,2\n3,4,5\n"), NULL, DC_ERR_FORMAT) &&
          msg_has("wider.csv:2: expected 2 columns (as on line 1), got 3", NULL));

    /* a label named in the header beyond the data's columns */
    dc_csv_opts o = dc_csv_defaults();
    o.skip_rows = 1;
    o.label_name = "label";
    CHECK(csv_fails(WRITE("hdr_wide.csv", "a,b,c,label\n1,2,3\n"), &o, DC_ERR_FORMAT) &&
          msg_has("hdr_wide.csv:1: label \"label\" is header column 4", "the data has 3 columns"));
    /* the header line never arrives */
    o.skip_rows = 3;
    CHECK(csv_fails(WRITE("short_hdr.csv", "label,a\n1,2\n"), &o, DC_ERR_FORMAT) &&
          msg_has("short_hdr.csv: no data rows after skipping 3 lines", NULL));
    o.skip_rows = 1;
    CHECK(csv_fails(WRITE("hdr_quote.csv", "\"label,a\n1,2\n"), &o, DC_ERR_FORMAT) &&
          msg_has("hdr_quote.csv:1: column 1: unterminated quote", NULL));

    /* a very wide row loads; a row after it with another width is named */
    enum { COLS = 200000 };
    char *wide = malloc((size_t)COLS * 4 + 16);
    size_t n = 0;
    for (int r = 0; r < 2; r++)
        for (int c = 0; c < COLS; c++) n += (size_t)sprintf(wide + n, "%d%c", c % 10, c + 1 < COLS ? ',' : '\n');
    CHECK(dc_csv_load(write_file("wide.csv", wide, n, false), NULL, &x, &y) == DC_OK);
    CHECK(x && dc_tensor_dim(x, 0) == 2 && dc_tensor_dim(x, 1) == COLS - 1 && at(x, 1, 12345) == 5);
    CHECK(y && dc_tensor_data(y)[1] == 9);
    dc_tensor_free(x);
    dc_tensor_free(y);
    n += (size_t)sprintf(wide + n, "1,2\n");
    CHECK(csv_fails(write_file("wide2.csv", wide, n, false), NULL, DC_ERR_FORMAT) &&
          msg_has("wide2.csv:3: expected 200000 columns (as on line 1), got 2", NULL));
    free(wide);
}

/* A CSV number is decimal: strtod's extras - hexadecimal integers and floats, and white space
 * other than the blanks and tabs trimmed around a cell - are refused with the cell quoted, so
 * "0x10" never loads as 16. Plain decimal spellings still load. */
static void test_csv_decimal_only(void) {
    const char *bad[] = {"0x10", "0X1A", "-0x10", "+0x1p3", "0x1p-2", "0x.8", "\v5", "5\f", "1\r2", "0x"};
    for (size_t i = 0; i < DC_ARRAY_LEN(bad); i++) {
        char text[64], shown[64];
        snprintf(text, sizeof text, "1,2\n3,%s\n", bad[i]);
        CHECK(csv_fails(WRITE("hex.csv", text), NULL, DC_ERR_FORMAT) && msg_has("hex.csv:2: column 2: \"", "is not a"));
        if (strchr(bad[i], 'x') || strchr(bad[i], 'X')) {
            snprintf(shown, sizeof shown, "\"%s\" is not a decimal number (hexadecimal is not read)", bad[i]);
            CHECK(msg_has(shown, NULL));
        }
    }
    const char *good[] = {"16", "+16", "-1.5", ".5", "5.", "1e3", "1E+3", "-2.5e-1", " 7 ", "\t7"};
    const float want[] = {16, 16, -1.5f, 0.5f, 5, 1000, 1000, -0.25f, 7, 7};
    for (size_t i = 0; i < DC_ARRAY_LEN(good); i++) {
        char text[64];
        snprintf(text, sizeof text, "1,2\n3,%s\n", good[i]);
        dc_tensor *x = NULL, *y = NULL;
        CHECK(dc_csv_load(WRITE("dec.csv", text), NULL, &x, &y) == DC_OK && y && dc_tensor_data(y)[1] == want[i]);
        dc_tensor_free(x);
        dc_tensor_free(y);
    }
    /* the label column is checked the same way; dc_csv_column too */
    CHECK(csv_fails(WRITE("hexlab.csv", "0x10,1\n"), NULL, DC_ERR_FORMAT) && msg_has("hexlab.csv:1: column 1", "0x10"));
    CHECK_NULL_ERR(dc_csv_column(WRITE("hexcol.csv", "v\n1\n0x10\n"), "v"), "hexcol.csv:3: column 1", "\"0x10\"");
    /* NaN spellings stay refused as not finite */
    CHECK(csv_fails(WRITE("nanx.csv", "1,nan(0x7)\n"), NULL, DC_ERR_NUMERIC) && msg_has("not a finite", NULL));
}

static void test_scalers(void) {
    float d[] = {1, 5, 10, 2, 5, 20, 3, 5, 30, 4, 5, 40};
    int64_t sh[2] = {4, 3};
    dc_tensor *x = dc_tensor_from(2, sh, d), *x2 = dc_tensor_from(2, sh, d);
    dc_scaler *s = dc_standard_scaler_fit(x);
    CHECK(s && dc_scaler_apply(s, x) == DC_OK);
    CHECK(at(x, 0, 1) == 0 && at(x, 3, 1) == 0); /* constant column: std kept at 1 */
    CHECK(fabsf(at(x, 0, 0) + 1.3416408f) < 1e-6f && fabsf(at(x, 3, 2) - 1.3416408f) < 1e-6f);
    dc_scaler_free(s);
    s = dc_minmax_scaler_fit(x2);
    CHECK(s && dc_scaler_apply(s, x2) == DC_OK);
    CHECK(at(x2, 0, 0) == 0 && at(x2, 3, 0) == 1 && fabsf(at(x2, 1, 2) - 1.0f / 3) < 1e-6f && at(x2, 2, 1) == 0);
    /* applied to new data: not clamped */
    float nd[] = {5, 5, 0};
    int64_t nsh[2] = {1, 3};
    dc_tensor *nx = dc_tensor_from(2, nsh, nd);
    CHECK(dc_scaler_apply(s, nx) == DC_OK && fabsf(at(nx, 0, 0) - 4.0f / 3) < 1e-6f && at(nx, 0, 2) < 0);
    dc_scaler_free(s);
    dc_tensor_free(nx);

    /* a transposed (non-contiguous) view: [3, 4] over x's [4, 3] storage */
    dc_tensor *base = dc_tensor_from(2, sh, d);
    dc_tensor view = *base;
    view.kind = DC_TENSOR_STEP;
    view.shape[0] = 3;
    view.shape[1] = 4;
    view.stride[0] = 1;
    view.stride[1] = 3;
    CHECK(!dc_tensor_is_contiguous(&view));
    s = dc_minmax_scaler_fit(&view);
    CHECK(s && dc_scaler_apply(s, &view) == DC_OK);
    /* view row j is base column j; view column k (base row k) is a feature */
    CHECK(dc_tensor_data(base)[0] == 0 && dc_tensor_data(base)[2] == 1 && dc_tensor_data(base)[11] == 1 &&
          fabsf(dc_tensor_data(base)[4] - 1.0f / 6) < 1e-6f);
    dc_scaler_free(s);
    dc_tensor_free(base);

    float bad[] = {1, 2, NAN, 4};
    int64_t bsh[2] = {2, 2};
    dc_tensor *b = dc_tensor_from(2, bsh, bad);
    CHECK(dc_standard_scaler_fit(b) == NULL && msg_has("standard scaler", "index [1, 0]"));
    int64_t one_d = 4;
    dc_tensor *v1 = dc_tensor_from(1, &one_d, d);
    CHECK(dc_minmax_scaler_fit(v1) == NULL && msg_has("[rows, features]", NULL));
    CHECK(dc_standard_scaler_fit(NULL) == NULL);
    CHECK(dc_scaler_apply(NULL, x) == DC_ERR_ARG);
    dc_tensor_free(b);
    dc_tensor_free(v1);
    dc_tensor_free(x);
    dc_tensor_free(x2);
}

static void test_split(void) {
    int64_t xs[3] = {150, 2, 2}, ys = 150;
    dc_tensor *x = dc_tensor_new(3, xs), *y = dc_tensor_new(1, &ys);
    for (int64_t i = 0; i < 150; i++) {
        for (int k = 0; k < 4; k++) dc_tensor_data(x)[i * 4 + k] = (float)(i * 10 + k);
        dc_tensor_data(y)[i] = (float)i;
    }
    dc_tensor *xtr, *ytr, *xte, *yte, *xtr2, *ytr2, *xte2, *yte2;
    CHECK(dc_train_test_split(x, y, 0.2f, 7, &xtr, &ytr, &xte, &yte) == DC_OK);
    CHECK(dc_tensor_dim(xtr, 0) == 120 && dc_tensor_dim(xte, 0) == 30 && dc_tensor_dim(ytr, 0) == 120 &&
          dc_tensor_dim(yte, 0) == 30 && dc_tensor_ndim(xtr) == 3 && dc_tensor_dim(xtr, 2) == 2);
    /* rows stay paired, and train + test is a permutation */
    int seen[150] = {0};
    bool paired = true, shuffled = false;
    for (int64_t i = 0; i < 150; i++) {
        const dc_tensor *xp = i < 120 ? xtr : xte, *yp = i < 120 ? ytr : yte;
        int64_t r = i < 120 ? i : i - 120;
        float lab = ((const float *)yp->data)[r];
        for (int k = 0; k < 4; k++) paired = paired && xp->data[r * 4 + k] == lab * 10 + (float)k;
        if (lab >= 0 && lab < 150) seen[(int)lab]++;
        shuffled = shuffled || lab != (float)i;
    }
    bool perm = true;
    for (int i = 0; i < 150; i++) perm = perm && seen[i] == 1;
    CHECK(paired && perm && shuffled);
    CHECK(dc_train_test_split(x, y, 0.2f, 7, &xtr2, &ytr2, &xte2, &yte2) == DC_OK);
    CHECK(!memcmp(dc_tensor_data(ytr), dc_tensor_data(ytr2), 120 * sizeof(float)) &&
          !memcmp(dc_tensor_data(xte), dc_tensor_data(xte2), 30 * 4 * sizeof(float)));
    dc_tensor_free(xtr2);
    dc_tensor_free(ytr2);
    dc_tensor_free(xte2);
    dc_tensor_free(yte2);
    CHECK(dc_train_test_split(x, y, 0.2f, 8, &xtr2, &ytr2, &xte2, &yte2) == DC_OK);
    CHECK(memcmp(dc_tensor_data(ytr), dc_tensor_data(ytr2), 120 * sizeof(float)) != 0);
    dc_tensor_free(xtr2);
    dc_tensor_free(ytr2);
    dc_tensor_free(xte2);
    dc_tensor_free(yte2);

    dc_tensor *none = (dc_tensor *)1, *none2 = (dc_tensor *)1;
    CHECK(dc_train_test_split(x, NULL, 0.5f, 1, &xtr2, &none, &xte2, &none2) == DC_OK && !none && !none2 &&
          dc_tensor_dim(xtr2, 0) == 75 && dc_tensor_dim(xte2, 0) == 75);
    dc_tensor_free(xtr2);
    dc_tensor_free(xte2);
    CHECK(dc_train_test_split(x, NULL, 0.5f, 1, &xtr2, NULL, &xte2, NULL) == DC_OK);
    dc_tensor_free(xtr2);
    dc_tensor_free(xte2);

    CHECK(dc_train_test_split(x, y, 0, 1, &xtr2, &ytr2, &xte2, &yte2) == DC_ERR_ARG && !xtr2 && !yte2);
    CHECK(dc_train_test_split(x, y, 1, 1, &xtr2, &ytr2, &xte2, &yte2) == DC_ERR_ARG && msg_has("(0, 1)", NULL));
    CHECK(dc_train_test_split(x, y, NAN, 1, &xtr2, &ytr2, &xte2, &yte2) == DC_ERR_ARG);
    CHECK(dc_train_test_split(x, y, 0.001f, 1, &xtr2, &ytr2, &xte2, &yte2) == DC_ERR_ARG && msg_has("at least 1", NULL));
    int64_t short_n = 149;
    dc_tensor *ys2 = dc_tensor_new(1, &short_n);
    CHECK(dc_train_test_split(x, ys2, 0.2f, 1, &xtr2, &ytr2, &xte2, &yte2) == DC_ERR_SHAPE && msg_has("150", "149"));
    dc_tensor_free(ys2);
    CHECK(dc_train_test_split(x, y, 0.2f, 1, &xtr2, NULL, &xte2, NULL) == DC_ERR_ARG);
    int64_t one = 1;
    dc_tensor *single = dc_tensor_new(1, &one);
    CHECK(dc_train_test_split(single, NULL, 0.5f, 1, &xtr2, NULL, &xte2, NULL) == DC_ERR_ARG && !xtr2 && !xte2);
    dc_tensor_free(single);

    dc_tensor_free(xtr);
    dc_tensor_free(ytr);
    dc_tensor_free(xte);
    dc_tensor_free(yte);
    dc_tensor_free(x);
    dc_tensor_free(y);
}

static void test_one_hot_take_finite(void) {
    float l[] = {0, 2, 1, 2};
    int64_t n = 4;
    dc_tensor *lab = dc_tensor_from(1, &n, l);
    dc_tensor *oh = dc_one_hot(lab, 3);
    CHECK(oh && dc_tensor_dim(oh, 0) == 4 && dc_tensor_dim(oh, 1) == 3);
    float want[] = {1, 0, 0, 0, 0, 1, 0, 1, 0, 0, 0, 1};
    CHECK(oh && !memcmp(dc_tensor_data(oh), want, sizeof want));
    dc_tensor_free(oh);
    CHECK(dc_one_hot(lab, 2) == NULL && msg_has("row 1", "label 2"));
    dc_tensor_data(lab)[3] = 1.5f;
    CHECK(dc_one_hot(lab, 3) == NULL && msg_has("row 3", "1.5"));
    dc_tensor_data(lab)[3] = -1;
    CHECK(dc_one_hot(lab, 3) == NULL && msg_has("row 3", NULL));
    dc_tensor_data(lab)[3] = NAN;
    CHECK(dc_one_hot(lab, 3) == NULL && msg_has("row 3", NULL));
    CHECK(dc_one_hot(lab, 0) == NULL && dc_one_hot(NULL, 3) == NULL);
    dc_tensor_free(lab);

    float d[] = {0, 1, 2, 10, 11, 12, 20, 21, 22, 30, 31, 32};
    int64_t sh[2] = {4, 3};
    dc_tensor *x = dc_tensor_from(2, sh, d);
    int64_t idx[3] = {3, 0, 3};
    dc_tensor *r = dc_take_rows(x, idx, 3);
    CHECK(r && dc_tensor_dim(r, 0) == 3 && dc_tensor_dim(r, 1) == 3 && at(r, 0, 0) == 30 && at(r, 1, 2) == 2 &&
          at(r, 2, 1) == 31);
    dc_tensor_free(r);
    dc_tensor view = *x; /* the transpose: [3, 4] */
    view.kind = DC_TENSOR_STEP;
    view.shape[0] = 3;
    view.shape[1] = 4;
    view.stride[0] = 1;
    view.stride[1] = 3;
    int64_t vidx[2] = {2, 0};
    r = dc_take_rows(&view, vidx, 2);
    CHECK(r && at(r, 0, 0) == 2 && at(r, 0, 3) == 32 && at(r, 1, 1) == 10);
    dc_tensor_free(r);
    r = dc_take_rows(x, NULL, 0);
    CHECK(r && dc_tensor_dim(r, 0) == 0 && dc_tensor_dim(r, 1) == 3);
    dc_tensor_free(r);
    idx[1] = 4;
    CHECK(dc_take_rows(x, idx, 3) == NULL && msg_has("idx[1] = 4 is out of range for 4 rows", NULL));
    idx[1] = -1;
    CHECK(dc_take_rows(x, idx, 3) == NULL && msg_has("idx[1] = -1", NULL));
    CHECK(dc_take_rows(x, NULL, 2) == NULL && dc_take_rows(NULL, idx, 1) == NULL && dc_take_rows(x, idx, -1) == NULL);

    CHECK(dc_check_finite(x, "x") == DC_OK);
    dc_tensor_data(x)[7] = INFINITY;
    CHECK(dc_check_finite(x, "weights") == DC_ERR_NUMERIC && msg_has("weights: element 7 (index [2, 1])", "inf"));
    CHECK(dc_check_finite(&view, "xt") == DC_ERR_NUMERIC && msg_has("xt: element 6 (index [1, 2])", NULL));
    int64_t n5 = 5;
    dc_tensor *v = dc_tensor_new(1, &n5);
    dc_tensor_data(v)[4] = NAN;
    CHECK(dc_check_finite(v, NULL) == DC_ERR_NUMERIC && msg_has("tensor: element 4 of [5] is nan", NULL));
    CHECK(dc_check_finite(NULL, "t") == DC_ERR_ARG);
    dc_tensor_free(v);
    dc_tensor_free(x);
}

/* Scalers, split, one-hot, rows and finiteness on small hand-made tensors. */
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

/* An IDX file of unsigned bytes: magic 0x000008nn, dims, data. */
static size_t make_idx(unsigned char *buf, int ndim, const uint32_t *dims, const unsigned char *data, size_t n) {
    size_t k = 0;
    buf[k++] = 0;
    buf[k++] = 0;
    buf[k++] = 8;
    buf[k++] = (unsigned char)ndim;
    for (int d = 0; d < ndim; d++)
        for (int s = 24; s >= 0; s -= 8) buf[k++] = (unsigned char)(dims[d] >> s);
    memcpy(buf + k, data, n);
    return k + n;
}

static void test_idx(void) {
    unsigned char buf[256], px[12] = {0, 255, 51, 102, 1, 2, 3, 4, 5, 6, 7, 8}, lab[5] = {5, 0, 4, 1, 9};
    uint32_t img_dims[3] = {3, 2, 2}, lab_dims[1] = {5};
    size_t n = make_idx(buf, 3, img_dims, px, sizeof px);
    const char *ip = write_file("images.idx", buf, n, false);
    const char *igz = write_file("images.idx.gz", buf, n, true);
    dc_tensor *t = dc_idx_load(ip, true);
    CHECK(t && dc_tensor_ndim(t) == 3 && dc_tensor_dim(t, 0) == 3 && dc_tensor_dim(t, 1) == 2 && dc_tensor_dim(t, 2) == 2);
    CHECK(t && dc_tensor_data(t)[1] == 1.0f && dc_tensor_data(t)[2] == 0.2f && dc_tensor_data(t)[3] == 0.4f);
    dc_tensor_free(t);
    t = dc_idx_load(igz, false);
    CHECK(t && dc_tensor_numel(t) == 12 && dc_tensor_data(t)[1] == 255 && dc_tensor_data(t)[11] == 8);
    dc_tensor_free(t);
    n = make_idx(buf, 1, lab_dims, lab, sizeof lab);
    const char *lp = write_file("labels.idx.gz", buf, n, true);
    t = dc_idx_load(lp, false);
    CHECK(t && dc_tensor_ndim(t) == 1 && dc_tensor_dim(t, 0) == 5 && dc_tensor_data(t)[0] == 5 && dc_tensor_data(t)[4] == 9);
    dc_tensor_free(t);

    /* the header of an IDX file, damaged in various ways */
    n = make_idx(buf, 3, img_dims, px, sizeof px);
    buf[0] = 0x1f;
    CHECK(!dc_idx_load(write_file("magic.idx", buf, n, false), false) && msg_has("magic.idx", "magic 0x1f000803"));
    buf[0] = 0;
    buf[2] = 0x0D;
    CHECK(!dc_idx_load(write_file("float.idx", buf, n, false), false) && msg_has("0x0d (float32) is not supported", NULL));
    buf[2] = 8;
    buf[3] = 0;
    CHECK(!dc_idx_load(write_file("nodims.idx", buf, n, false), false) && msg_has("declares 0 dimensions", NULL));
    buf[3] = 3;
    CHECK(!dc_idx_load(write_file("short.idx", buf, 2, false), false) && msg_has("short.idx", "too short"));
    CHECK(!dc_idx_load(write_file("shorthdr.idx", buf, 10, false), false) && msg_has("truncated IDX header", "need 12 bytes, found 6"));
    CHECK(!dc_idx_load(write_file("trunc.idx", buf, n - 8, false), false) && msg_has("trunc.idx", "need 12 bytes, found 4"));
    CHECK(!dc_idx_load(write_file("empty.idx", buf, 0, false), false) && msg_has("empty.idx", NULL));
    unsigned char more[300];
    memcpy(more, buf, n);
    more[n] = 7;
    CHECK(!dc_idx_load(write_file("extra.idx", more, n + 1, false), false) && msg_has("more data than", NULL));
    uint32_t zero_dims[3] = {3, 0, 2};
    size_t zn = make_idx(more, 3, zero_dims, px, sizeof px);
    CHECK(!dc_idx_load(write_file("zero.idx", more, zn, false), false) && msg_has("dimension 1 is 0", NULL));
    uint32_t huge_dims[3] = {0xffffffffu, 0xffffffffu, 0xffffffffu};
    size_t hn = make_idx(more, 3, huge_dims, px, sizeof px);
    CHECK(!dc_idx_load(write_file("huge.idx", more, hn, false), false) && msg_has("more than 2^31 elements", NULL));
    /* large but allowed dims over a tiny file: fails as truncated without a huge buffer */
    uint32_t big_dims[3] = {1u << 20, 32, 32};
    size_t bn = make_idx(more, 3, big_dims, px, sizeof px);
    CHECK(!dc_idx_load(write_file("bigdims.idx", more, bn, false), false) && msg_has("need 1073741824 bytes, found 12", NULL));

    /* a gzip file cut short */
    unsigned char *img = malloc(20000 + 64);
    uint32_t gd[3] = {25, 20, 40};
    unsigned char *pix = malloc(20000);
    for (int i = 0; i < 20000; i++) pix[i] = (unsigned char)(i * 7919 % 251);
    size_t gn = make_idx(img, 3, gd, pix, 20000);
    const char *gp = write_file("cut.idx.gz", img, gn, true);
    free(img);
    free(pix);
    FILE *f = fopen(gp, "rb");
    fseek(f, 0, SEEK_END);
    long gsize = ftell(f);
    fclose(f);
    CHECK(truncate(gp, gsize / 2) == 0);
    CHECK(!dc_idx_load(gp, false) && msg_has("cut.idx.gz", "gzip data ends early"));

    char missing[300];
    snprintf(missing, sizeof missing, "%s/nope.idx", dir);
    CHECK(!dc_idx_load(missing, false) && msg_has(missing, "No such file"));
    CHECK(!dc_idx_load(NULL, false));

    /* the real thing, where the Debian package dataset-fashion-mnist is installed */
    const char *fm = "/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz";
    if (access(fm, R_OK) == 0) {
        t = dc_idx_load(fm, true);
        CHECK(t && dc_tensor_dim(t, 0) == 10000 && dc_tensor_dim(t, 1) == 28 && dc_tensor_dim(t, 2) == 28);
        CHECK(t && dc_check_finite(t, "fmnist") == DC_OK);
        dc_tensor_free(t);
    }
}


/* IDX: scaling by 255, gzip, a plain label file, a text file. */
static void test_idx_small(void) {
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
    CHECK_NULL_ERR(dc_idx_load(WRITE("text.idx", "hello, world\n"), true), "text.idx", "not an IDX file");
}

/* Hostile IDX headers: each refused before anything of the claimed size is allocated. */
static void test_idx_hostile(void) {
    unsigned char buf[64], px[4] = {1, 2, 3, 4};
    uint32_t d1[1] = {4};
    size_t n = make_idx(buf, 1, d1, px, sizeof px);
    buf[2] = 0x42;
    CHECK_NULL_ERR(dc_idx_load(write_file("type.idx", buf, n, false), false), "type.idx", "element type 0x42 (unknown type)");
    buf[2] = 8;
    buf[3] = 9;
    CHECK_NULL_ERR(dc_idx_load(write_file("dims9.idx", buf, n, false), false), "dims9.idx", "declares 9 dimensions",
                   "1..8");
    /* eight dimensions of 2^32 - 1: the product overflows 64 bits; every dimension is named */
    uint32_t d8[8] = {0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu, 7};
    n = make_idx(buf, 8, d8, px, sizeof px);
    CHECK_NULL_ERR(dc_idx_load(write_file("overflow.idx", buf, n, false), false), "overflow.idx",
                   "more than 2^31 elements", "4294967295, 4294967295", ", 7]");
    uint32_t dz[3] = {0xffffffffu, 0xffffffffu, 0};
    n = make_idx(buf, 3, dz, px, sizeof px);
    CHECK_NULL_ERR(dc_idx_load(write_file("zero_last.idx", buf, n, false), false), "zero_last.idx", "dimension 2 is 0");

    /* 2^31 elements claimed by a tiny gzip file: its compressed size rules the claim out */
    uint32_t big[3] = {1u << 21, 32, 32};
    n = make_idx(buf, 3, big, px, sizeof px);
    CHECK_NULL_ERR(dc_idx_load(write_file("claim.idx.gz", buf, n, true), false), "claim.idx.gz",
                   "need 2147483648 bytes, more than", "bytes of gzip data can hold");
    /* 2^26 elements over 64 KiB of incompressible data: possible for the compressed size, so
     * the data is gathered as it arrives and the file fails as truncated */
    enum { HAVE = 65536 };
    unsigned char *noise = malloc(HAVE + 64);
    uint32_t claim[3] = {1u << 16, 32, 32};
    size_t k = make_idx(noise, 3, claim, px, 0);
    unsigned v = 99;
    for (size_t i = 0; i < HAVE; i++) noise[k + i] = (unsigned char)((v = v * 1103515245u + 12345u) >> 16);
    CHECK_NULL_ERR(dc_idx_load(write_file("noise.idx.gz", noise, k + HAVE, true), false), "noise.idx.gz",
                   "need 67108864 bytes, found 65536");
    /* the same claim in a plain file fails on the file's size */
    CHECK_NULL_ERR(dc_idx_load(write_file("noise.idx", noise, k + HAVE, false), false), "noise.idx",
                   "need 67108864 bytes, found 65536");
    free(noise);
    /* one byte too many, in gzip (found while reading) and plain (found from the size) */
    n = make_idx(buf, 1, d1, px, sizeof px);
    buf[n] = 9;
    CHECK_NULL_ERR(dc_idx_load(write_file("extra.idx.gz", buf, n + 1, true), false), "extra.idx.gz",
                   "more data than the IDX dimensions [4] describe (4 bytes)");
    CHECK_NULL_ERR(dc_idx_load(write_file("extra1.idx", buf, n + 1, false), false), "extra1.idx",
                   "more data than the IDX dimensions [4] describe (4 bytes, the file holds 5)");
    /* a gzip stream cut inside the header */
    n = make_idx(buf, 3, big, px, 0);
    const char *gz = write_file("hdrcut.idx.gz", buf, n, true);
    FILE *f = fopen(gz, "rb");
    unsigned char z[256];
    size_t zn = fread(z, 1, sizeof z, f);
    fclose(f);
    CHECK_NULL_ERR(dc_idx_load(write_file("hdrcut2.idx.gz", z, zn - 12, false), false), "hdrcut2.idx.gz");
}

/* Length of a file, or -1. */
static long file_size(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return -1;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fclose(f);
    return n;
}

/* Every gzip reader checks the 8-byte trailer (CRC-32 and length): a stream whose trailer is
 * cut by 1 to 8 bytes, all its data intact, is refused by the IDX and CSV readers alike (the
 * IDX reader once took it, its CRC-32 never checked); a damaged CRC-32 is refused too. */
static void test_gzip_trailer(void) {
    unsigned char buf[64], px[6] = {1, 2, 3, 4, 5, 6};
    uint32_t d[2] = {2, 3};
    size_t n = make_idx(buf, 2, d, px, sizeof px);
    const char *text = "1,2,3\n4,5,6\n";
    for (int cut = 1; cut <= 8; cut++) {
        const char *ip = write_file("tr.idx.gz", buf, n, true);
        long isz = file_size(ip);
        CHECK(isz > 8 && truncate(ip, isz - cut) == 0);
        CHECK_NULL_ERR(dc_idx_load(ip, false), "tr.idx.gz: ", "gzip data ends early");
        const char *cp = write_file("tr.csv.gz", text, strlen(text), true);
        long csz = file_size(cp);
        CHECK(csz > 8 && truncate(cp, csz - cut) == 0);
        CHECK(csv_fails(cp, NULL, DC_ERR_FORMAT) && msg_has("tr.csv.gz: ", "gzip data ends early"));
    }
    /* the whole stream loads; a CRC-32 changed in place is named */
    const char *ip = write_file("crc.idx.gz", buf, n, true);
    dc_tensor *t = dc_idx_load(ip, false);
    CHECK(t && dc_tensor_numel(t) == 6 && dc_tensor_data(t)[5] == 6);
    dc_tensor_free(t);
    FILE *f = fopen(ip, "r+b");
    fseek(f, -6, SEEK_END);
    fputc(0x5a, f);
    fclose(f);
    CHECK_NULL_ERR(dc_idx_load(ip, false), "crc.idx.gz: corrupt gzip data (incorrect data check)");
}

int main(void) {
    if (!tmp_dir_create()) {
        perror("mkdtemp");
        return 2;
    }
    test_iris();
    test_digits();
    test_csv_options();
    test_csv_quoted_gzip();
    test_csv_errors();
    test_csv_hostile();
    test_scalers();
    test_split();
    test_one_hot_take_finite();
    test_transforms();
    test_idx();
    test_idx_small();
    test_idx_hostile();
    test_gzip_trailer();
    test_csv_decimal_only();
    if (!tmp_dir_remove()) fprintf(stderr, "could not remove %s\n", dir);
    return check_report("test_data_io");
}
