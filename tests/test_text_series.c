/* Sequence data: sliding windows, CSV columns by name, fortune files, the tokeniser, the
 * vocabulary and id sequences, and every bad input answered with a clear error. */
#include "check.h"

#include <stdlib.h>
#include <unistd.h>
#include <zlib.h>

#include "tmpfiles.h"

/* The first n elements of t are want[0..n). */
static bool prefix_is(dc_tensor *t, const float *want, int64_t n) {
    if (!t || dc_tensor_numel(t) < n) return false;
    for (int64_t i = 0; i < n; i++)
        if (dc_tensor_data(t)[i] != want[i]) return false;
    return true;
}

/* t holds exactly want[0..n). */
static bool data_is(dc_tensor *t, const float *want, int64_t n) {
    return t && dc_tensor_numel(t) == n && prefix_is(t, want, n);
}

static void test_windows(void) {
    float s[10];
    for (int i = 0; i < 10; i++) s[i] = (float)i;
    dc_tensor *x, *y;
    CHECK(dc_make_windows(s, 10, 3, 1, &x, &y) == DC_OK);
    CHECK(dc_tensor_ndim(x) == 3 && dc_tensor_dim(x, 0) == 7 && dc_tensor_dim(x, 1) == 3 && dc_tensor_dim(x, 2) == 1);
    CHECK(dc_tensor_ndim(y) == 2 && dc_tensor_dim(y, 0) == 7 && dc_tensor_dim(y, 1) == 1);
    CHECK(prefix_is(x, (const float[]){0, 1, 2, 1, 2, 3}, 6));
    CHECK(dc_tensor_data(x)[18] == 6 && dc_tensor_data(x)[20] == 8); /* the last window */
    CHECK(data_is(y, (const float[]){3, 4, 5, 6, 7, 8, 9}, 7));
    dc_tensor_free(x);
    dc_tensor_free(y);
    CHECK(dc_make_windows(s, 10, 3, 2, &x, &y) == DC_OK); /* two steps ahead */
    CHECK(dc_tensor_dim(x, 0) == 6 && data_is(y, (const float[]){4, 5, 6, 7, 8, 9}, 6));
    dc_tensor_free(x);
    dc_tensor_free(y);
    CHECK(dc_make_windows(s, 4, 3, 1, &x, &y) == DC_OK); /* exactly one window */
    CHECK(dc_tensor_dim(x, 0) == 1 && data_is(y, (const float[]){3}, 1));
    dc_tensor_free(x);
    dc_tensor_free(y);

    CHECK_ERR(dc_make_windows(s, 5, 8, 1, &x, &y), DC_ERR_SHAPE,
              "series of 5 values is shorter than window 8 + horizon 1");
    CHECK(x == NULL && y == NULL);
    CHECK_ERR(dc_make_windows(s, 10, 0, 1, &x, &y), DC_ERR_ARG, "window must be positive");
    CHECK_ERR(dc_make_windows(s, 10, 3, -1, &x, &y), DC_ERR_ARG, "horizon must be positive");
    CHECK_ERR(dc_make_windows(s, 10, INT64_MAX, 1, &x, &y), DC_ERR_SHAPE, "shorter than window");
    CHECK_ERR(dc_make_windows(NULL, 10, 3, 1, &x, &y), DC_ERR_ARG, "NULL");
    CHECK_ERR(dc_make_windows(s, 10, 3, 1, &x, NULL), DC_ERR_ARG, "NULL");
    s[4] = NAN;
    CHECK_ERR(dc_make_windows(s, 10, 3, 1, &x, &y), DC_ERR_NUMERIC, "series[4]");
    s[4] = INFINITY;
    CHECK_ERR(dc_make_windows(s, 10, 3, 1, &x, &y), DC_ERR_NUMERIC, "series[4]", "inf");
}

static void test_windows_multi(void) {
    float v[12];
    for (int i = 0; i < 6; i++) v[2 * i] = (float)i, v[2 * i + 1] = 10.0f * (float)i;
    dc_tensor *s = dc_tensor_from(2, (const int64_t[]){6, 2}, v), *x, *y;
    CHECK(dc_make_windows_multi(s, 2, 1, -1, &x, &y) == DC_OK);
    CHECK(dc_tensor_dim(x, 0) == 4 && dc_tensor_dim(x, 1) == 2 && dc_tensor_dim(x, 2) == 2);
    CHECK(prefix_is(x, (const float[]){0, 0, 1, 10, 1, 10, 2, 20}, 8));
    CHECK(data_is(y, (const float[]){20, 30, 40, 50}, 4));
    dc_tensor_free(x);
    dc_tensor_free(y);
    CHECK(dc_make_windows_multi(s, 3, 2, 0, &x, &y) == DC_OK);
    CHECK(dc_tensor_dim(x, 0) == 2 && data_is(y, (const float[]){4, 5}, 2));
    dc_tensor_free(x);
    dc_tensor_free(y);

    /* a transposed view [6, 2] of a [2, 6] tensor is read through its strides */
    float w[12];
    for (int i = 0; i < 6; i++) w[i] = (float)i, w[6 + i] = 10.0f * (float)i;
    dc_tensor *t = dc_tensor_from(2, (const int64_t[]){2, 6}, w);
    dc_ctx *c = dc_ctx_new();
    dc_tensor *view = dc_transpose(c, t, 0, 1);
    CHECK(view && !dc_tensor_is_contiguous(view));
    CHECK(dc_make_windows_multi(view, 2, 1, 1, &x, &y) == DC_OK);
    CHECK(prefix_is(x, (const float[]){0, 0, 1, 10, 1, 10, 2, 20}, 8));
    CHECK(data_is(y, (const float[]){20, 30, 40, 50}, 4));
    dc_tensor_free(x);
    dc_tensor_free(y);
    dc_ctx_free(c);
    dc_tensor_free(t);

    CHECK_ERR(dc_make_windows_multi(s, 2, 1, 2, &x, &y), DC_ERR_ARG, "target 2", "2 features");
    CHECK_ERR(dc_make_windows_multi(s, 2, 1, -3, &x, &y), DC_ERR_ARG, "target -3");
    CHECK_ERR(dc_make_windows_multi(s, 6, 1, 0, &x, &y), DC_ERR_SHAPE,
              "series of 6 values is shorter than window 6 + horizon 1");
    dc_tensor_data(s)[7] = NAN;
    CHECK_ERR(dc_make_windows_multi(s, 2, 1, 0, &x, &y), DC_ERR_NUMERIC, "element 7");
    dc_tensor *flat = dc_tensor_from(1, (const int64_t[]){12}, v);
    CHECK_ERR(dc_make_windows_multi(flat, 2, 1, 0, &x, &y), DC_ERR_SHAPE, "[steps, features]");
    dc_tensor_free(flat);
    dc_tensor_free(s);
}

static void test_csv_column(void) {
    const char *p = WRITE("col.csv", "\"date\",\"a\", \"b c\" ,d\n1959-01,1.5,2,7\n1959-02, 2.5 ,\"3\",8\n");
    dc_tensor *t = dc_csv_column(p, "a");
    CHECK(t && dc_tensor_ndim(t) == 1 && data_is(t, (const float[]){1.5f, 2.5f}, 2));
    dc_tensor_free(t);
    t = dc_csv_column(p, "b c");
    CHECK(data_is(t, (const float[]){2, 3}, 2));
    dc_tensor_free(t);
    t = dc_csv_column(p, "d"); /* unquoted header cell */
    CHECK(data_is(t, (const float[]){7, 8}, 2));
    dc_tensor_free(t);
    CHECK_NULL_ERR(dc_csv_column(p, "date"), "col.csv:2:", "column 1", "1959-01", "is not a number");
    CHECK_NULL_ERR(dc_csv_column(p, "gdp"), "col.csv:1:", "\"gdp\" is not in the header", "\"date\"");
    CHECK_NULL_ERR(dc_csv_column(p, "A"), "not in the header"); /* names are case-sensitive */

    const char *bad = WRITE("bad.csv", "\xef\xbb\xbfx,y\n1,2\n3,oops\n");
    t = dc_csv_column(bad, "x"); /* byte order mark skipped; column y is never parsed */
    CHECK(data_is(t, (const float[]){1, 3}, 2));
    dc_tensor_free(t);
    CHECK_NULL_ERR(dc_csv_column(bad, "y"), "bad.csv:3:", "column 2", "\"oops\" is not a number");

    static const char gz_text[] = "\"t\",\"v\"\n0,0.25\n1,0.5\n2,0.75\n";
    const char *gz = write_file("col.csv.gz", gz_text, strlen(gz_text), true);
    t = dc_csv_column(gz, "v");
    CHECK(data_is(t, (const float[]){0.25f, 0.5f, 0.75f}, 3));
    dc_tensor_free(t);

    /* a header longer than the first read buffer */
    enum { WIDE = 3000 };
    size_t cap = WIDE * 24, len = 0;
    char *wide = malloc(cap);
    for (int r = 0; r < 3; r++)
        for (int c = 0; c < WIDE; c++)
            len += (size_t)snprintf(wide + len, cap - len, r == 0 ? "\"c%d\"%s" : "%d%s", r == 0 ? c : c * r,
                                    c + 1 < WIDE ? "," : "\n");
    t = dc_csv_column(write_file("wide.csv", wide, len, false), "c2999");
    CHECK(data_is(t, (const float[]){2999, 5998}, 2));
    dc_tensor_free(t);
    free(wide);

    CHECK_NULL_ERR(dc_csv_column(WRITE("header_only.csv", "\"a\"\n"), "a"), "no data rows");
    CHECK_NULL_ERR(dc_csv_column(WRITE("empty.csv", ""), "a"), "not in the header");
    CHECK_NULL_ERR(dc_csv_column("/nonexistent/series.csv", "a"), "/nonexistent/series.csv", "cannot open");
    dc_clear_error();
    CHECK(dc_csv_column(dir, "a") == NULL && strstr(dc_last_error(), dir)); /* a directory */
    CHECK_NULL_ERR(dc_csv_column(p, NULL), "NULL");
    CHECK_NULL_ERR(dc_csv_column(p, ""), "empty");

    const char *macro = "/usr/lib/python3/dist-packages/statsmodels/datasets/macrodata/macrodata.csv";
    if (access(macro, R_OK) == 0) {
        t = dc_csv_column(macro, "realgdp");
        CHECK(t && dc_tensor_dim(t, 0) == 203);
        if (t) CHECK_NEAR(dc_tensor_data(t)[0], 2710.349, 1e-3);
        dc_tensor_free(t);
    } else {
        printf("(statsmodels' macrodata.csv not installed: smoke check skipped)\n");
    }
}

static void test_fortunes(void) {
    char **texts;
    int64_t n;
    const char *p = WRITE("quotes", "first entry\n  line two\n%\n\n%\nsecond\n%\n   \n%\nthird, no trailing %\n");
    CHECK(dc_read_fortunes(p, &texts, &n) == DC_OK);
    CHECK(n == 3);
    if (n == 3) {
        CHECK(!strcmp(texts[0], "first entry\n  line two"));
        CHECK(!strcmp(texts[1], "second"));
        CHECK(!strcmp(texts[2], "third, no trailing %"));
    }
    dc_texts_free(texts, n);

    p = WRITE("crlf", "%\r\na\r\nb\r\n%\r\nc\r\n");
    CHECK(dc_read_fortunes(p, &texts, &n) == DC_OK && n == 2);
    if (n == 2) CHECK(!strcmp(texts[0], "a\nb") && !strcmp(texts[1], "c"));
    dc_texts_free(texts, n);

    enum { MANY = 20000 };
    size_t cap = MANY * 24, len = 0;
    char *big = malloc(cap);
    for (int i = 0; i < MANY; i++) len += (size_t)snprintf(big + len, cap - len, "entry number %d\n%%\n", i);
    CHECK(dc_read_fortunes(write_file("big", big, len, false), &texts, &n) == DC_OK && n == MANY);
    if (n == MANY) CHECK(!strcmp(texts[MANY - 1], "entry number 19999"));
    dc_texts_free(texts, n);
    free(big);

    static const char gz_text[] = "one\n%\ntwo\n%\n";
    p = write_file("quotes.gz", gz_text, strlen(gz_text), true);
    CHECK(dc_read_fortunes(p, &texts, &n) == DC_OK && n == 2);
    dc_texts_free(texts, n);

    /* a gzip file cut in half */
    char *zip = malloc(1 << 16);
    FILE *f = fopen(p, "rb");
    size_t zn = f ? fread(zip, 1, 1 << 16, f) : 0;
    if (f) fclose(f);
    const char *cut = write_file("cut.gz", zip, zn / 2, false);
    CHECK_ERR(dc_read_fortunes(cut, &texts, &n), DC_ERR_FORMAT, "cut.gz: ");
    memset(zip + 12, 0x55, zn > 24 ? zn - 24 : 0);
    const char *bad = write_file("bad.gz", zip, zn, false);
    CHECK_ERR(dc_read_fortunes(bad, &texts, &n), DC_ERR_FORMAT, "bad.gz: corrupt gzip data");
    free(zip);

    CHECK_ERR(dc_read_fortunes("/nonexistent/fortunes", &texts, &n), DC_ERR_IO, "/nonexistent/fortunes", "cannot open");
    CHECK(texts == NULL && n == 0);
    CHECK_ERR(dc_read_fortunes(WRITE("seps", "%\n%\n \n%\n"), &texts, &n), DC_ERR_FORMAT, "seps", "no entries");
    CHECK_ERR(dc_read_fortunes(WRITE("empty", ""), &texts, &n), DC_ERR_FORMAT, "no entries");
    p = write_file("binary.dat", "ab\0cd", 5, false);
    CHECK_ERR(dc_read_fortunes(p, &texts, &n), DC_ERR_FORMAT, "binary.dat:1: byte 2 is NUL");
    CHECK_ERR(dc_read_fortunes(p, NULL, &n), DC_ERR_ARG, "NULL");
    CHECK_ERR(dc_read_fortunes(dir, &texts, &n), DC_ERR_IO, dir);

    /* binary data: a NUL past the first read chunk, inside gzip, is named with its line */
    size_t bn = (size_t)1 << 18;
    char *bin = malloc(bn);
    for (size_t i = 0; i < bn; i++) bin[i] = i % 50 == 49 ? '\n' : 'x';
    bin[200000] = 0;
    CHECK_ERR(dc_read_fortunes(write_file("binary.gz", bin, bn, true), &texts, &n), DC_ERR_FORMAT,
              "binary.gz:4001: byte 200000 is NUL");
    CHECK(texts == NULL && n == 0);
    /* a single huge entry (no separator at all) comes back whole */
    memset(bin, 'y', bn);
    for (size_t i = 79; i < bn; i += 80) bin[i] = '\n';
    bin[bn - 1] = '\n';
    CHECK(dc_read_fortunes(write_file("huge_entry", bin, bn, false), &texts, &n) == DC_OK && n == 1);
    if (n == 1) CHECK(strlen(texts[0]) == bn - 1 && texts[0][bn - 2] == 'y'); /* the final newline trimmed */
    dc_texts_free(texts, n);
    free(bin);
    CHECK_ERR(dc_read_fortunes(WRITE("blank_entries", "\n\n  \t\n%\r\n\r\n"), &texts, &n), DC_ERR_FORMAT,
              "blank_entries", "no entries", "11 bytes");

    const char *sys = "/usr/share/games/fortunes/computers";
    if (access(sys, R_OK) == 0) {
        CHECK(dc_read_fortunes(sys, &texts, &n) == DC_OK);
        printf("%s: %lld entries\n", sys, (long long)n);
        CHECK(n > 100);
        dc_texts_free(texts, n);
    } else {
        printf("(fortunes not installed: smoke check skipped)\n");
    }
}

static bool tokens_are(const char *text, bool chars, const char *const *want, int64_t nwant) {
    char **tok;
    int64_t n;
    bool ok = dc_tokenize(text, chars, &tok, &n) == DC_OK && n == nwant;
    for (int64_t i = 0; ok && i < n; i++) ok = !strcmp(tok[i], want[i]);
    dc_texts_free(tok, n);
    return ok;
}

static void test_tokenize(void) {
    const char *words[] = {"hello", "world", "don't", "quote", "rock'n'roll",
                           "caf\xc3\xa9", "42x", "students", "a", "b"};
    CHECK(tokens_are("Hello, World! DON'T 'quote' rock'n'roll Caf\xc3\xa9 42x students' a''b", false, words, 10));
    CHECK(tokens_are(" \n\t!?", false, NULL, 0));
    CHECK(tokens_are("", false, NULL, 0));
    const char *chars[] = {"A", "b", " ", "!"};
    CHECK(tokens_are("Ab !", true, chars, 4));
    char **tok;
    int64_t n;
    CHECK_ERR(dc_tokenize(NULL, false, &tok, &n), DC_ERR_ARG, "NULL");
}

static void test_vocab(void) {
    char *texts[] = {"the cat sat", "The dog sat down!", "a cat"};
    dc_vocab *v = dc_vocab_build(texts, 3, 0, false);
    CHECK(v && dc_vocab_size(v) == 8);
    /* counts the 2, cat 2, sat 2, dog 1, down 1, a 1: ties in order of first appearance */
    const char *order[] = {"<pad>", "<oov>", "the", "cat", "sat", "dog", "down", "a"};
    for (int64_t i = 0; v && i < 8; i++) {
        CHECK(!strcmp(dc_vocab_token(v, i), order[i]));
        CHECK(dc_vocab_index(v, order[i]) == i);
    }
    CHECK(dc_vocab_index(v, "THE") == 2);
    CHECK(dc_vocab_index(v, "zebra") == 1);
    CHECK_NULL_ERR(dc_vocab_token(v, 8), "index 8", "0..7");
    CHECK_NULL_ERR(dc_vocab_token(v, -1), "index -1");
    CHECK(dc_vocab_index(v, NULL) == -1);
    dc_vocab_free(v);

    char *later[] = {"b a", "a c"}; /* a is more frequent although b comes first */
    v = dc_vocab_build(later, 2, 2, false);
    CHECK(v && dc_vocab_size(v) == 4);
    CHECK(v && !strcmp(dc_vocab_token(v, 2), "a") && !strcmp(dc_vocab_token(v, 3), "b"));
    CHECK(dc_vocab_index(v, "c") == 1); /* cut by max_words */
    dc_vocab_free(v);

    dc_vocab *v1 = dc_vocab_build(texts, 3, 4, false), *v2 = dc_vocab_build(texts, 3, 4, false);
    CHECK(dc_vocab_size(v1) == 6 && dc_vocab_size(v2) == 6);
    for (int64_t i = 0; v1 && v2 && i < 6; i++) CHECK(!strcmp(dc_vocab_token(v1, i), dc_vocab_token(v2, i)));
    CHECK(dc_vocab_index(v1, "dog") == 5 && dc_vocab_index(v1, "down") == 1);
    dc_vocab_free(v1);
    dc_vocab_free(v2);

    char *none[] = {"...", "!"};
    CHECK_NULL_ERR(dc_vocab_build(none, 2, 0, false), "no tokens");
    CHECK_NULL_ERR(dc_vocab_build(texts, 0, 0, false), "must be positive");
    char *holes[] = {"a", NULL};
    CHECK_NULL_ERR(dc_vocab_build(holes, 2, 0, false), "text 1 is NULL");
}

/* Many distinct words make the hash table grow several times. */
static void test_vocab_large(void) {
    enum { WORDS = 3000 };
    size_t cap = (size_t)WORDS * 3 * 8 + 1, len = 0;
    char *text = malloc(cap);
    for (int i = 0; i < WORDS; i++)
        for (int r = 0; r <= i % 3; r++) len += (size_t)snprintf(text + len, cap - len, "w%d ", i);
    char *texts[] = {text};
    dc_vocab *v = dc_vocab_build(texts, 1, 0, false);
    CHECK(v && dc_vocab_size(v) == WORDS + 2);
    /* w2, w5, ... (3 times each) first, then w1, w4, ... (twice), then w0, w3, ... */
    CHECK(v && !strcmp(dc_vocab_token(v, 2), "w2") && !strcmp(dc_vocab_token(v, 3), "w5"));
    CHECK(v && !strcmp(dc_vocab_token(v, 2 + WORDS / 3), "w1") && !strcmp(dc_vocab_token(v, 2 + 2 * WORDS / 3), "w0"));
    int bad = 0;
    for (int64_t i = 0; v && i < dc_vocab_size(v); i++) bad += dc_vocab_index(v, dc_vocab_token(v, i)) != i;
    CHECK(bad == 0);
    dc_vocab_free(v);
    free(text);
}

static void test_sequences(void) {
    char *train[] = {"the cat sat", "The dog sat down!", "a cat"};
    dc_vocab *v = dc_vocab_build(train, 3, 0, false);
    char *texts[] = {"the cat sat", "Dog", "a cat sat on the mat again"};
    int64_t lens[3] = {0};
    dc_tensor *s = dc_texts_to_sequences(v, texts, 3, 4, false, lens);
    CHECK(s && dc_tensor_dim(s, 0) == 3 && dc_tensor_dim(s, 1) == 4);
    CHECK(data_is(s, (const float[]){2, 3, 4, 0, 5, 0, 0, 0, 7, 3, 4, 1}, 12));
    CHECK(lens[0] == 3 && lens[1] == 1 && lens[2] == 4);
    dc_tensor_free(s);
    s = dc_texts_to_sequences(v, texts, 3, 4, true, NULL);
    CHECK(data_is(s, (const float[]){0, 2, 3, 4, 0, 0, 0, 5, 7, 3, 4, 1}, 12));
    dc_tensor_free(s);
    s = dc_texts_to_sequences(v, texts, 3, 2, true, lens); /* truncation keeps the first tokens */
    CHECK(data_is(s, (const float[]){2, 3, 0, 5, 7, 3}, 6) && lens[0] == 2 && lens[1] == 1);
    dc_tensor_free(s);

    char *empty[] = {"the", "cat", "?!", "dog"};
    CHECK_NULL_ERR(dc_texts_to_sequences(v, empty, 4, 4, false, NULL), "text 2 has no tokens");
    char *blank[] = {""};
    CHECK_NULL_ERR(dc_texts_to_sequences(v, blank, 1, 4, false, NULL), "text 0 has no tokens");
    CHECK_NULL_ERR(dc_texts_to_sequences(v, texts, 3, 0, false, NULL), "maxlen must be positive");
    CHECK_NULL_ERR(dc_texts_to_sequences(NULL, texts, 3, 4, false, NULL), "NULL");
    CHECK_NULL_ERR(dc_texts_to_sequences(v, NULL, 3, 4, false, NULL), "NULL");
    dc_vocab_free(v);
}

static void test_chars(void) {
    char *texts[] = {"abca"};
    dc_vocab *v = dc_vocab_build(texts, 1, 0, true);
    CHECK(v && dc_vocab_size(v) == 5);
    CHECK(dc_vocab_index(v, "a") == 2 && dc_vocab_index(v, "b") == 3 && dc_vocab_index(v, "c") == 4);
    CHECK(dc_vocab_index(v, "A") == 1 && dc_vocab_index(v, "ab") == 1);
    CHECK(v && !strcmp(dc_vocab_token(v, 2), "a"));
    char *in[] = {"cab!", "Ab"};
    int64_t lens[2];
    dc_tensor *s = dc_texts_to_sequences(v, in, 2, 5, false, lens);
    CHECK(data_is(s, (const float[]){4, 2, 3, 1, 0, 1, 3, 0, 0, 0}, 10) && lens[0] == 4 && lens[1] == 2);
    dc_tensor_free(s);
    s = dc_texts_to_sequences(v, in, 2, 3, true, NULL);
    CHECK(data_is(s, (const float[]){4, 2, 3, 0, 1, 3}, 6));
    dc_tensor_free(s);
    dc_vocab_free(v);
}

/* Fortune file -> vocabulary -> padded sequences, end to end. */
static void test_pipeline(void) {
    const char *p = WRITE("pipe", "Time flies like an arrow.\n%\nFruit flies like a banana.\n%\n");
    char **texts;
    int64_t n;
    CHECK(dc_read_fortunes(p, &texts, &n) == DC_OK && n == 2);
    dc_vocab *v = dc_vocab_build(texts, n, 0, false);
    CHECK(dc_vocab_index(v, "flies") == 2 && dc_vocab_index(v, "like") == 3 && dc_vocab_index(v, "time") == 4);
    dc_tensor *s = dc_texts_to_sequences(v, texts, n, 6, true, NULL);
    CHECK(data_is(s, (const float[]){0, 4, 2, 3, 5, 6, 0, 7, 2, 3, 8, 9}, 12));
    dc_tensor_free(s);
    dc_vocab_free(v);
    dc_texts_free(texts, n);
}

int main(void) {
    if (!tmp_dir_create()) {
        perror("mkdtemp");
        return 1;
    }
    test_windows();
    test_windows_multi();
    test_csv_column();
    test_fortunes();
    test_tokenize();
    test_vocab();
    test_vocab_large();
    test_sequences();
    test_chars();
    test_pipeline();
    if (!tmp_dir_remove()) fprintf(stderr, "could not remove %s\n", dir);
    return check_report("test_text_series");
}
