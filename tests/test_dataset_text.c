/* Text datasets (dc_dataset_text_windows, dc_dataset_text_lines): rows, shapes and every id
 * against dc_texts_to_sequences on the same texts (character and word vocabularies, built and
 * loaded, unknown tokens; a file of several pieces with a token longer than a piece);
 * label-per-line files with padding at either end; fit on the datasets trains bit-identical
 * to fit on the equivalent tensors; a character LSTM trains on a fortune file through
 * dc_model_fit_dataset (skipped without one); and every error, naming the file, the line and
 * the numbers. */
#define _GNU_SOURCE
#include "check.h"

#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

static char dir[256];

static const char *tmp_path(const char *name) {
    static char buf[4][512];
    static int k;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof buf[k], "%s/%s", dir, name);
    return buf[k];
}

static void write_text(const char *path, const char *p, size_t n) {
    FILE *f = fopen(path, "wb");
    CHECK(f && fwrite(p, 1, n, f) == n);
    if (f) fclose(f);
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

/* All rows of both parts of a windows dataset against the ids of the whole text. */
static void check_windows(dc_dataset *ds, const float *ids, int64_t ntok, int64_t seq_len, int64_t stride) {
    int64_t rows = dc_dataset_rows(ds), sh[DC_MAX_DIMS];
    CHECK(rows == (ntok - seq_len - 1) / stride + 1);
    CHECK(dc_dataset_num_parts(ds) == 2);
    CHECK(dc_dataset_part_shape(ds, 0, sh) == 1 && sh[0] == seq_len);
    CHECK(dc_dataset_part_shape(ds, 1, sh) == 1 && sh[0] == seq_len);
    int64_t *idx = malloc((size_t)rows * sizeof *idx);
    float *got = malloc((size_t)(rows * seq_len) * sizeof *got);
    for (int64_t r = 0; r < rows; r++) idx[r] = rows - 1 - r; /* any order */
    for (int p = 0; p < 2; p++) {
        CHECK(dc_dataset_gather(ds, p, idx, rows, got, false, 0) == DC_OK);
        int64_t bad = 0;
        for (int64_t r = 0; r < rows; r++)
            for (int64_t j = 0; j < seq_len; j++) bad += got[r * seq_len + j] != ids[idx[r] * stride + p + j];
        CHECK(bad == 0);
    }
    free(idx);
    free(got);
}

/* The ids dc_texts_to_sequences gives the whole text, and their count. */
static dc_tensor *reference_ids(const dc_vocab *v, const char *text, int64_t *n) {
    char *texts[1] = {(char *)text};
    dc_tensor *t = dc_texts_to_sequences(v, texts, 1, (int64_t)strlen(text) + 1, false, n);
    CHECK(t != NULL);
    return t;
}

static void test_windows_chars(void) {
    const char *text = "Hello, world!\nThe cat's hat\tis\r\nbig. ~{}\x80\xff end\n";
    write_text(tmp_path("c.txt"), text, strlen(text));
    char *corpus[1] = {"Hello world the cat"};
    for (int k = 0; k < 2; k++) {
        /* all bytes known, then a vocabulary lacking most of them (unknown -> its index 1) */
        dc_vocab *v = k == 0 ? dc_vocab_build((char *[]){(char *)text}, 1, 0, true) : dc_vocab_build(corpus, 1, 5, true);
        int64_t n;
        dc_tensor *ref = reference_ids(v, text, &n);
        CHECK(n == (int64_t)strlen(text));
        int64_t shapes[3][2] = {{5, 3}, {1, 1}, {n - 1, 7}};
        for (int s = 0; s < 3; s++) {
            dc_dataset *ds = dc_dataset_text_windows(tmp_path("c.txt"), v, shapes[s][0], shapes[s][1]);
            CHECK(ds != NULL);
            if (ds) check_windows(ds, dc_tensor_data(ref), n, shapes[s][0], shapes[s][1]);
            CHECK(ds && strstr(dc_dataset_name(ds), "c.txt"));
            dc_dataset_free(ds);
        }
        if (k == 1) {
            int unknown = 0;
            for (int64_t i = 0; i < n; i++) unknown += dc_tensor_data(ref)[i] == 1;
            CHECK(unknown > 10);
        }
        dc_tensor_free(ref);
        dc_vocab_free(v);
    }
}

/* A random text of words, punctuation and white space, of about `bytes` bytes, with a run of
 * `run` bytes that are one word token in its middle. */
static char *random_text(size_t bytes, size_t run) {
    static const char *const words[] = {"the", "Cat", "don't", "rock'n'roll", "'quoted'", "café", "42", "x9", "HAT", "a"};
    static const char *const seps[] = {" ", "\n", ", ", ".\t", " -- ", "\r\n", "!", "  "};
    char *t = malloc(bytes + run + 64);
    size_t n = 0;
    uint64_t r = 12345;
    while (n < bytes) {
        r = r * 6364136223846793005u + 1442695040888963407u;
        const char *w = words[(r >> 33) % 10], *s = seps[(r >> 50) % 8];
        if (run && n > bytes / 2) {
            for (size_t i = 0; i < run; i++) t[n++] = "ab'cd"[i % 5]; /* one token longer than a piece */
            t[n++] = ' ';
            run = 0;
        }
        memcpy(t + n, w, strlen(w)), n += strlen(w);
        memcpy(t + n, s, strlen(s)), n += strlen(s);
    }
    t[n] = 0;
    return t;
}

static void test_windows_words(void) {
    /* small, built vocabulary with unknown words */
    const char *text = "The cat's hat, THE CAT!  Don't -- 'quoted' words; café 42\nend";
    write_text(tmp_path("w.txt"), text, strlen(text));
    dc_vocab *v = dc_vocab_build((char *[]){(char *)text}, 1, 4, false);
    int64_t n;
    dc_tensor *ref = reference_ids(v, text, &n);
    CHECK(n == 11);
    dc_dataset *ds = dc_dataset_text_windows(tmp_path("w.txt"), v, 3, 2);
    dc_vocab_free(v); /* not needed after opening */
    CHECK(ds && dc_dataset_rows(ds) == 4);
    if (ds) check_windows(ds, dc_tensor_data(ref), n, 3, 2);
    dc_dataset_free(ds);
    dc_tensor_free(ref);
    /* a loaded, cased vocabulary: "The" as written, "cat" lower-cased */
    write_text(tmp_path("vocab.txt"), "<pad>\n[UNK]\nThe\nthe\ncat\nhat\n", 28);
    v = dc_vocab_load(tmp_path("vocab.txt"), false);
    CHECK(v != NULL);
    ref = reference_ids(v, text, &n);
    ds = dc_dataset_text_windows(tmp_path("w.txt"), v, 4, 1);
    CHECK(ds != NULL);
    if (ds) check_windows(ds, dc_tensor_data(ref), n, 4, 1);
    const float *id = dc_tensor_data(ref); /* The, cat's, hat, THE, CAT */
    CHECK(id[0] == 2 && id[1] == 1 && id[2] == 5 && id[3] == 3 && id[4] == 4);
    dc_dataset_free(ds);
    dc_tensor_free(ref);
    dc_vocab_free(v);
    /* several pieces (over 2 MiB), one of them a single token of 1.2 MiB */
    char *big = random_text((size_t)2 << 20, (size_t)1200 << 10);
    write_text(tmp_path("big.txt"), big, strlen(big));
    v = dc_vocab_build(&big, 1, 6, false);
    ref = reference_ids(v, big, &n);
    CHECK(n > 100000);
    ds = dc_dataset_text_windows(tmp_path("big.txt"), v, 50, 37);
    CHECK(ds != NULL);
    if (ds) check_windows(ds, dc_tensor_data(ref), n, 50, 37);
    dc_dataset_free(ds);
    dc_tensor_free(ref);
    dc_vocab_free(v);
    free(big);
}

static const char lines_text[] = "0\tHello world\n2\tthe cat's hat, the CAT\r\n\n1\tworld, hello\t(tab kept)\n0\tzebra\n";

static void test_lines(void) {
    write_text(tmp_path("l.tsv"), lines_text, strlen(lines_text));
    char *texts[4] = {"Hello world", "the cat's hat, the CAT", "world, hello\t(tab kept)", "zebra"};
    float labels[4] = {0, 2, 1, 0};
    for (int chars = 0; chars < 2; chars++) {
        dc_vocab *v = dc_vocab_build(texts, 3, 0, chars); /* "zebra" is unknown */
        for (int front = 0; front < 2; front++) {
            int64_t maxlen = chars ? 9 : 4, nc = 0, sh[DC_MAX_DIMS];
            dc_tensor *ref = dc_texts_to_sequences(v, texts, 4, maxlen, front, NULL);
            dc_dataset *ds = dc_dataset_text_lines(tmp_path("l.tsv"), v, maxlen, front, &nc);
            CHECK(ds && ref && nc == 3 && dc_dataset_rows(ds) == 4 && dc_dataset_num_parts(ds) == 2);
            if (!ds || !ref) continue;
            CHECK(dc_dataset_part_shape(ds, 0, sh) == 1 && sh[0] == maxlen);
            CHECK(dc_dataset_part_shape(ds, 1, sh) == 0);
            int64_t idx[4] = {3, 1, 0, 2};
            float x[36], y[4];
            CHECK(dc_dataset_gather(ds, 0, idx, 4, x, false, 0) == DC_OK);
            CHECK(dc_dataset_gather(ds, 1, idx, 4, y, false, 0) == DC_OK);
            for (int r = 0; r < 4; r++) {
                CHECK(memcmp(x + r * maxlen, dc_tensor_data(ref) + idx[r] * maxlen, (size_t)maxlen * sizeof(float)) == 0);
                CHECK(y[r] == labels[idx[r]]);
            }
            dc_dataset_free(ds);
            dc_tensor_free(ref);
        }
        dc_vocab_free(v);
    }
}

/* A small sequence model: Embedding, LSTM, Dense over the vocabulary (per step or at the end). */
static dc_model *seq_net(int64_t vocab, int64_t seq_len, int64_t outputs, bool per_step) {
    dc_model *m = dc_sequential();
    dc_model_set_seed(m, 5);
    dc_model_add(m, dc_input(1, (int64_t[]){seq_len}));
    dc_model_add(m, dc_embedding_layer(vocab, 8, false));
    dc_model_add(m, dc_lstm_layer(16, per_step));
    dc_model_add(m, dc_dense(outputs, DC_ACT_SOFTMAX));
    CHECK(dc_model_compile(m, dc_adam(1e-2f, 0.9f, 0.999f, 1e-7f), DC_LOSS_SPARSE_CCE, NULL, 0) == DC_OK);
    return m;
}

/* fit on the datasets equals fit on the tensors of the same rows, bit for bit. */
static void test_fit_identical(void) {
    char *text = random_text(6000, 0);
    write_text(tmp_path("fit.txt"), text, strlen(text));
    dc_vocab *v = dc_vocab_build(&text, 1, 0, true);
    int64_t n, V = dc_vocab_size(v), T = 12, stride = 5;
    dc_tensor *ref = reference_ids(v, text, &n);
    int64_t rows = (n - T - 1) / stride + 1;
    dc_tensor *x = dc_tensor_new(2, (int64_t[]){rows, T}), *y = dc_tensor_new(2, (int64_t[]){rows, T});
    for (int64_t r = 0; r < rows; r++)
        for (int64_t j = 0; j < T; j++) {
            dc_tensor_data(x)[r * T + j] = dc_tensor_data(ref)[r * stride + j];
            dc_tensor_data(y)[r * T + j] = dc_tensor_data(ref)[r * stride + j + 1];
        }
    dc_model *a = seq_net(V, T, V, true), *b = seq_net(V, T, V, true);
    dc_fit_opts o = quiet(2, 32);
    dc_history *ha = NULL, *hb = NULL;
    CHECK(dc_model_fit(a, x, y, &o, &ha) == DC_OK);
    dc_dataset *ds = dc_dataset_text_windows(tmp_path("fit.txt"), v, T, stride);
    CHECK(ds && dc_dataset_rows(ds) == rows);
    CHECK(dc_model_fit_dataset(b, ds, NULL, &o, &hb) == DC_OK);
    CHECK(same_params(a, b));
    CHECK(ha && hb && dc_history_get(ha, "loss")[1] == dc_history_get(hb, "loss")[1]);
    double ra[1], rb[1];
    CHECK(dc_model_evaluate(a, x, y, 64, ra) == DC_OK && dc_model_evaluate_dataset(b, ds, 64, rb) == DC_OK && ra[0] == rb[0]);
    dc_history_free(ha), dc_history_free(hb);
    dc_dataset_free(ds);
    dc_model_free(a), dc_model_free(b);
    dc_tensor_free(x), dc_tensor_free(y), dc_tensor_free(ref);
    dc_vocab_free(v);
    free(text);

    /* lines: texts padded at the front, labels as the targets */
    write_text(tmp_path("l.tsv"), lines_text, strlen(lines_text));
    char *texts[4] = {"Hello world", "the cat's hat, the CAT", "world, hello\t(tab kept)", "zebra"};
    v = dc_vocab_build(texts, 4, 0, false);
    x = dc_texts_to_sequences(v, texts, 4, 6, true, NULL);
    y = dc_tensor_new(1, (int64_t[]){4});
    memcpy(dc_tensor_data(y), (float[]){0, 2, 1, 0}, sizeof(float[4]));
    a = seq_net(dc_vocab_size(v), 6, 3, false), b = seq_net(dc_vocab_size(v), 6, 3, false);
    o = quiet(3, 2);
    CHECK(dc_model_fit(a, x, y, &o, NULL) == DC_OK);
    ds = dc_dataset_text_lines(tmp_path("l.tsv"), v, 6, true, NULL);
    CHECK(ds && dc_model_fit_dataset(b, ds, NULL, &o, NULL) == DC_OK);
    CHECK(same_params(a, b));
    dc_dataset_free(ds);
    dc_model_free(a), dc_model_free(b);
    dc_tensor_free(x), dc_tensor_free(y);
    dc_vocab_free(v);
}

/* A character LSTM language model trains on a fortune file through the dataset: the loss of
 * its second epoch is below its first's. */
static void test_fortunes_lm(void) {
    const char *path = "/usr/share/games/fortunes/fortunes";
    if (access(path, R_OK) != 0) {
        printf("test_dataset_text: %s absent: fortune training skipped\n", path);
        return;
    }
    char **texts = NULL;
    int64_t n = 0;
    CHECK(dc_read_fortunes(path, &texts, &n) == DC_OK);
    dc_vocab *v = dc_vocab_build(texts, n, 0, true);
    dc_texts_free(texts, n);
    dc_dataset *ds = dc_dataset_text_windows(path, v, 32, 32);
    CHECK(ds && dc_dataset_rows(ds) > 100);
    dc_model *m = seq_net(dc_vocab_size(v), 32, dc_vocab_size(v), true);
    dc_fit_opts o = quiet(2, 64);
    dc_history *h = NULL;
    CHECK(ds && dc_model_fit_dataset(m, ds, NULL, &o, &h) == DC_OK);
    const double *loss = h ? dc_history_get(h, "loss") : NULL;
    CHECK(loss && loss[1] < loss[0]);
    if (loss) printf("test_dataset_text: fortune LM: %lld windows, loss %.3f -> %.3f\n", (long long)dc_dataset_rows(ds), loss[0], loss[1]);
    dc_history_free(h);
    dc_model_free(m);
    dc_dataset_free(ds);
    dc_vocab_free(v);
}

static void test_errors(void) {
    dc_vocab *cv = dc_vocab_build((char *[]){"abc"}, 1, 0, true), *wv = dc_vocab_build((char *[]){"the cat"}, 1, 0, false);
    char ok[512]; /* tmp_path's buffers are reused */
    snprintf(ok, sizeof ok, "%s", tmp_path("ok.txt"));
    write_text(ok, "abcabc", 6);
    CHECK_NULL_ERR(dc_dataset_text_windows(tmp_path("absent.txt"), cv, 3, 1), "absent.txt", "cannot open");
    CHECK(dc_last_status() == DC_ERR_IO);
    CHECK_NULL_ERR(dc_dataset_text_lines(tmp_path("absent.tsv"), wv, 3, false, NULL), "absent.tsv", "cannot open");
    write_text(tmp_path("empty.txt"), "", 0);
    CHECK_NULL_ERR(dc_dataset_text_windows(tmp_path("empty.txt"), cv, 3, 1), "empty.txt", "empty");
    CHECK(dc_last_status() == DC_ERR_FORMAT);
    CHECK_NULL_ERR(dc_dataset_text_lines(tmp_path("empty.txt"), wv, 3, false, NULL), "empty.txt", "empty");
    CHECK_NULL_ERR(dc_dataset_text_windows(ok, cv, 0, 1), "ok.txt", "seq_len must be at least 1, got 0");
    CHECK(dc_last_status() == DC_ERR_ARG);
    CHECK_NULL_ERR(dc_dataset_text_windows(ok, cv, 3, 0), "ok.txt", "stride must be at least 1, got 0");
    CHECK_NULL_ERR(dc_dataset_text_windows(ok, cv, 6, 1), "ok.txt", "6 characters", "seq_len + 1 = 7");
    CHECK(dc_last_status() == DC_ERR_FORMAT);
    CHECK_NULL_ERR(dc_dataset_text_windows(ok, wv, 1, 1), "ok.txt", "1 word tokens", "seq_len + 1 = 2");
    CHECK_NULL_ERR(dc_dataset_text_windows(ok, NULL, 1, 1), "ok.txt", "vocabulary is NULL");
    CHECK_NULL_ERR(dc_dataset_text_lines(ok, wv, 0, false, NULL), "ok.txt", "maxlen must be at least 1, got 0");
    write_text(tmp_path("nul.txt"), "ab\ncd\0ef", 8);
    CHECK_NULL_ERR(dc_dataset_text_windows(tmp_path("nul.txt"), cv, 2, 1), "nul.txt", "line 2 holds a NUL byte (byte 5)");
    write_text(tmp_path("gz.txt"), "\x1f\x8b\x08\x00" "abcdefgh", 12);
    CHECK_NULL_ERR(dc_dataset_text_windows(tmp_path("gz.txt"), cv, 2, 1), "gz.txt", "gzip");
    /* the lines' format */
    write_text(tmp_path("nolabel.tsv"), "0\tthe cat\n\nthe cat\n", 19);
    CHECK_NULL_ERR(dc_dataset_text_lines(tmp_path("nolabel.tsv"), wv, 3, false, NULL), "nolabel.tsv", "line 3 has no label");
    CHECK(dc_last_status() == DC_ERR_FORMAT);
    write_text(tmp_path("frac.tsv"), "0\tthe cat\n1.5\tthe\n", 18);
    CHECK_NULL_ERR(dc_dataset_text_lines(tmp_path("frac.tsv"), wv, 3, false, NULL), "frac.tsv", "line 2", "'1.5' is not a whole number");
    write_text(tmp_path("neg.tsv"), "-1\tthe\n", 7);
    CHECK_NULL_ERR(dc_dataset_text_lines(tmp_path("neg.tsv"), wv, 3, false, NULL), "neg.tsv", "line 1", "'-1' is not a whole number");
    write_text(tmp_path("nolab.tsv"), "\tthe\n", 5);
    CHECK_NULL_ERR(dc_dataset_text_lines(tmp_path("nolab.tsv"), wv, 3, false, NULL), "nolab.tsv", "line 1", "'' is not a whole number");
    write_text(tmp_path("huge.tsv"), "99999999999999999999\tthe\n", 25);
    CHECK_NULL_ERR(dc_dataset_text_lines(tmp_path("huge.tsv"), wv, 3, false, NULL), "huge.tsv", "line 1", "16777215");
    write_text(tmp_path("notok.tsv"), "0\tthe\n1\t -- !\n", 14);
    CHECK_NULL_ERR(dc_dataset_text_lines(tmp_path("notok.tsv"), wv, 3, false, NULL), "notok.tsv", "line 2", "holds no word");
    write_text(tmp_path("blank.tsv"), "\n\r\n\n", 4);
    CHECK_NULL_ERR(dc_dataset_text_lines(tmp_path("blank.tsv"), wv, 3, false, NULL), "blank.tsv", "no lines");
    /* a file changed under the mapping fails the next batch */
    write_text(tmp_path("cut.txt"), "abcabcabcabc", 12);
    dc_dataset *ds = dc_dataset_text_windows(tmp_path("cut.txt"), cv, 3, 1);
    CHECK(ds != NULL);
    if (ds) {
        CHECK(truncate(tmp_path("cut.txt"), 4) == 0);
        float out[3];
        CHECK_ERR(dc_dataset_gather(ds, 0, (int64_t[]){8}, 1, out, false, 0), DC_ERR_IO, "cut.txt", "changed", "12 bytes");
        dc_dataset_free(ds);
    }
    dc_vocab_free(cv), dc_vocab_free(wv);
}

int main(void) {
    const char *t = getenv("TMPDIR");
    snprintf(dir, sizeof dir, "%s/deepc-dataset-text-XXXXXX", t && *t ? t : "/tmp");
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    test_windows_chars();
    test_windows_words();
    test_lines();
    test_fit_identical();
    test_fortunes_lm();
    test_errors();
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
    return check_report("test_dataset_text");
}
