/* Vocabulary files: dc_vocab_save and dc_vocab_load (BERT's vocab.txt layout), the unknown
 * index of a loaded vocabulary, and every broken file answered with the file and line. */
#define _POSIX_C_SOURCE 200809L /* mkdtemp, access */
#include "check.h"

#include <stdlib.h>
#include <unistd.h>
#include <zlib.h>

#include "tmpfiles.h"

/* a and b have the same tokens at the same indices and the same unknown index. */
static bool same_vocab(const dc_vocab *a, const dc_vocab *b) {
    if (!a || !b || dc_vocab_size(a) != dc_vocab_size(b)) return false;
    for (int64_t i = 0; i < dc_vocab_size(a); i++) {
        const char *t = dc_vocab_token(a, i);
        if (strcmp(t, dc_vocab_token(b, i)) || dc_vocab_index(b, t) != i) return false;
    }
    return dc_vocab_index(a, "no-such-token") == dc_vocab_index(b, "no-such-token");
}

static bool seq_equal(dc_tensor *a, dc_tensor *b) {
    return a && b && dc_tensor_numel(a) == dc_tensor_numel(b) &&
           !memcmp(dc_tensor_data(a), dc_tensor_data(b), (size_t)dc_tensor_numel(a) * sizeof(float));
}

/* A built vocabulary saved and loaded gives the same indices and the same sequences. */
static void test_round_trip(void) {
    char *texts[] = {"The cat sat on the mat.", "A dog sat down; the dog barked!", "caf\xc3\xa9 don't stop"};
    dc_vocab *v = dc_vocab_build(texts, 3, 0, false);
    char path[300];
    snprintf(path, sizeof path, "%s/words.txt", dir);
    CHECK(dc_vocab_save(v, path) == DC_OK);
    size_t n;
    char *text = slurp_n(path, &n);
    CHECK(text && !strncmp(text, "<pad>\n<oov>\nthe\nsat\ndog\ncat\non\n", 31) && text[n - 1] == '\n');
    free(text);
    dc_vocab *w = dc_vocab_load(path, false);
    CHECK(same_vocab(v, w));
    CHECK(dc_vocab_index(w, "THE") == 2 && dc_vocab_index(w, "zebra") == 1 && dc_vocab_index(w, "caf\xc3\xa9") > 1);
    char *other[] = {"The DOG sat, zebra!", "don't"};
    int64_t la[2], lb[2];
    dc_tensor *sa = dc_texts_to_sequences(v, other, 2, 6, false, la), *sb = dc_texts_to_sequences(w, other, 2, 6, false, lb);
    CHECK(seq_equal(sa, sb) && la[0] == 4 && lb[0] == 4 && lb[1] == 1);
    CHECK(sb && dc_tensor_data(sb)[3] == 1 && dc_tensor_data(sb)[4] == 0); /* zebra unknown, then padding */
    dc_tensor_free(sa);
    dc_tensor_free(sb);
    /* saving the loaded vocabulary writes the same bytes */
    char again[300];
    snprintf(again, sizeof again, "%s/words2.txt", dir);
    CHECK(dc_vocab_save(w, again) == DC_OK);
    size_t n1, n2;
    char *t1 = slurp_n(path, &n1), *t2 = slurp_n(again, &n2);
    CHECK(t1 && t2 && n1 == n2 && !memcmp(t1, t2, n1));
    free(t1);
    free(t2);
    dc_vocab_free(w);
    dc_vocab_free(v);

    /* a character vocabulary without newlines in its texts */
    char *line[] = {"Hello, world"};
    v = dc_vocab_build(line, 1, 0, true);
    CHECK(dc_vocab_save(v, path) == DC_OK); /* replaces the file */
    w = dc_vocab_load(path, true);
    CHECK(same_vocab(v, w) && dc_vocab_index(w, " ") > 1 && dc_vocab_index(w, "H") > 1 && dc_vocab_index(w, "h") == 1);
    sa = dc_texts_to_sequences(v, line, 1, 16, true, NULL);
    sb = dc_texts_to_sequences(w, line, 1, 16, true, NULL);
    CHECK(seq_equal(sa, sb) && dc_tensor_data(sb)[0] == 0);
    dc_tensor_free(sa);
    dc_tensor_free(sb);
    dc_vocab_free(w);
    dc_vocab_free(v);

    /* thousands of tokens: the table grows while loading */
    enum { WORDS = 5000 };
    char *big = malloc(WORDS * 8), *many[] = {big};
    size_t len = 0;
    for (int i = 0; i < WORDS; i++) len += (size_t)sprintf(big + len, "w%d ", i);
    v = dc_vocab_build(many, 1, 0, false);
    CHECK(dc_vocab_save(v, path) == DC_OK);
    w = dc_vocab_load(path, false);
    CHECK(dc_vocab_size(w) == WORDS + 2 && same_vocab(v, w));
    dc_vocab_free(w);
    dc_vocab_free(v);
    free(big);
}

/* BERT's uncased vocab.txt: [PAD] at 0, [unused..], [UNK] at 100, [CLS], [SEP], word pieces. */
static void test_bert(void) {
    size_t cap = 4096, n = 0;
    char *text = malloc(cap);
    n += (size_t)sprintf(text + n, "[PAD]\n");
    for (int i = 0; i < 99; i++) n += (size_t)sprintf(text + n, "[unused%d]\n", i);
    n += (size_t)sprintf(text + n, "[UNK]\n[CLS]\n[SEP]\n[MASK]\nthe\n##ing\nhello\n!\n##s\ncaf\xc3\xa9\n");
    const char *p = write_file("vocab.txt", text, n, false);
    dc_vocab *v = dc_vocab_load(p, false);
    CHECK(v && dc_vocab_size(v) == 110);
    CHECK(dc_vocab_index(v, "[UNK]") == 100 && dc_vocab_index(v, "[CLS]") == 101 && dc_vocab_index(v, "[SEP]") == 102);
    CHECK(dc_vocab_index(v, "[PAD]") == 0 && dc_vocab_index(v, "[unused98]") == 99);
    CHECK(dc_vocab_index(v, "the") == 104 && dc_vocab_index(v, "The") == 104 && dc_vocab_index(v, "##ing") == 105);
    CHECK(dc_vocab_index(v, "zebra") == 100 && dc_vocab_index(v, "[cls]") == 100 && dc_vocab_index(v, "") == 100);
    CHECK(v && !strcmp(dc_vocab_token(v, 101), "[CLS]") && !strcmp(dc_vocab_token(v, 0), "[PAD]"));
    CHECK_NULL_ERR(dc_vocab_token(v, 110), "index 110", "0..109");
    char *texts[] = {"Hello THE zebra!", "caf\xc3\xa9"};
    int64_t lens[2];
    dc_tensor *s = dc_texts_to_sequences(v, texts, 2, 5, false, lens);
    const float want[] = {106, 104, 100, 0, 0, 109, 0, 0, 0, 0}; /* "!" is not a word token */
    CHECK(s && !memcmp(dc_tensor_data(s), want, sizeof want) && lens[0] == 3 && lens[1] == 1);
    dc_tensor_free(s);
    dc_vocab_free(v);
    /* gzip, "\r\n" line ends and no final newline read the same */
    char *crlf = malloc(2 * n + 1);
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        if (text[i] == '\n') crlf[m++] = '\r';
        crlf[m++] = text[i];
    }
    m -= 2; /* drop the last "\r\n" */
    v = dc_vocab_load(write_file("vocab.txt.gz", crlf, m, true), false);
    dc_vocab *plain = dc_vocab_load(p, false);
    CHECK(same_vocab(v, plain) && !strcmp(dc_vocab_token(v, 109), "caf\xc3\xa9"));
    dc_vocab_free(v);
    dc_vocab_free(plain);
    free(crlf);
    free(text);

    /* a cased vocabulary keeps "The" and "the" apart; other spellings fall back to lower case */
    v = dc_vocab_load(WRITE("cased.txt", "[PAD]\n[UNK]\nThe\nthe\nUSA\n"), false);
    CHECK(v && dc_vocab_index(v, "The") == 2 && dc_vocab_index(v, "the") == 3 && dc_vocab_index(v, "THE") == 3);
    CHECK(dc_vocab_index(v, "USA") == 4 && dc_vocab_index(v, "usa") == 1);
    char *cased[] = {"The the THE"};
    s = dc_texts_to_sequences(v, cased, 1, 3, false, NULL);
    CHECK(s && dc_tensor_data(s)[0] == 2 && dc_tensor_data(s)[1] == 3 && dc_tensor_data(s)[2] == 3);
    dc_tensor_free(s);
    dc_vocab_free(v);
    /* both markers: the first is the unknown index */
    v = dc_vocab_load(WRITE("both.txt", "x\n<oov>\n[UNK]\n"), true);
    CHECK(v && dc_vocab_index(v, "y") == 1 && dc_vocab_index(v, "[UNK]") == 2);
    char *chars[] = {"xy"};
    s = dc_texts_to_sequences(v, chars, 1, 3, false, NULL);
    CHECK(s && dc_tensor_data(s)[0] == 0 && dc_tensor_data(s)[1] == 1 && dc_tensor_data(s)[2] == 0);
    dc_tensor_free(s);
    dc_vocab_free(v);
}

static void test_load_errors(void) {
    CHECK_NULL_ERR(dc_vocab_load("/nonexistent/vocab.txt", false), "/nonexistent/vocab.txt", "cannot open");
    CHECK(dc_last_error()[0] && dc_vocab_load("/nonexistent/vocab.txt", false) == NULL);
    CHECK_NULL_ERR(dc_vocab_load(dir, false), dir); /* a directory */
    CHECK_NULL_ERR(dc_vocab_load(NULL, false), "NULL");
    CHECK_NULL_ERR(dc_vocab_load(WRITE("empty.txt", ""), false), "empty.txt", "empty file");
    CHECK_NULL_ERR(dc_vocab_load(write_file("nul.txt", "[UNK]\na\0b\nc\n", 11, false), false), "nul.txt:2:",
                   "byte 7 is NUL");
    CHECK_NULL_ERR(dc_vocab_load(WRITE("dup.txt", "[PAD]\n[UNK]\nword\nother\nword\n"), false), "dup.txt:5:",
                   "token \"word\" repeats line 3");
    CHECK_NULL_ERR(dc_vocab_load(WRITE("dupcr.txt", "[UNK]\r\nab\nab\r\n"), false), "dupcr.txt:3:", "repeats line 2");
    CHECK_NULL_ERR(dc_vocab_load(WRITE("hole.txt", "[UNK]\na\n\nb\n"), false), "hole.txt:3:", "empty line");
    CHECK_NULL_ERR(dc_vocab_load(WRITE("blank_end.txt", "[UNK]\na\n\n"), false), "blank_end.txt:3:", "empty line");
    CHECK_NULL_ERR(dc_vocab_load(WRITE("newline.txt", "\n"), false), "newline.txt:1:", "empty line");
    CHECK_NULL_ERR(dc_vocab_load(WRITE("cr.txt", "[UNK]\nab\r\r\n"), false), "cr.txt:2:", "\"ab\\x0d\"",
                   "carriage return");
    CHECK_NULL_ERR(dc_vocab_load(WRITE("nounk.txt", "[PAD]\nthe\n[unk]\n"), false), "nounk.txt",
                   "no \"[UNK]\" or \"<oov>\" line among its 3 tokens");
    char longline[1100];
    memcpy(longline, "[UNK]\n", 6);
    memset(longline + 6, 'a', 1001);
    strcpy(longline + 1007, "\nb\n");
    CHECK_NULL_ERR(dc_vocab_load(WRITE("long.txt", longline), false), "long.txt:2:", "line of 1001 bytes",
                   "at most 1000");
    longline[1006] = '\r'; /* 1000 bytes and a CR: the longest token */
    dc_vocab *v = dc_vocab_load(WRITE("longest.txt", longline), false);
    CHECK(v && dc_vocab_size(v) == 3 && strlen(dc_vocab_token(v, 1)) == 1000);
    dc_vocab_free(v);
    /* 2^24 + 1 lines are refused before any token is stored (16 MiB, written compressed) */
    size_t n = ((size_t)1 << 24) + 1;
    char *lines = malloc(n);
    memset(lines, '\n', n);
    CHECK_NULL_ERR(dc_vocab_load(write_file("lines.txt.gz", lines, n, true), false), "lines.txt.gz",
                   "16777217 lines", "at most 2^24");
    free(lines);
    /* a damaged gzip file */
    const char *gz = write_file("cut.txt.gz", "[UNK]\nab\ncd\n", 12, true);
    FILE *f = fopen(gz, "rb");
    unsigned char z[128];
    size_t zn = fread(z, 1, sizeof z, f);
    fclose(f);
    CHECK_NULL_ERR(dc_vocab_load(write_file("cut2.txt.gz", z, zn - 6, false), false), "cut2.txt.gz",
                   "gzip data ends early");
}

static void test_save_errors(void) {
    char path[300];
    snprintf(path, sizeof path, "%s/refused.txt", dir);
    char *multi[] = {"ab\ncd"};
    dc_vocab *v = dc_vocab_build(multi, 1, 0, true);
    CHECK_ERR(dc_vocab_save(v, path), DC_ERR_ARG, "refused.txt", "\"\\x0a\"", "holds a newline");
    CHECK(access(path, F_OK) != 0); /* nothing written */
    dc_vocab_free(v);
    char *cr[] = {"ab\rcd"};
    v = dc_vocab_build(cr, 1, 0, true);
    CHECK_ERR(dc_vocab_save(v, path), DC_ERR_ARG, "refused.txt", "carriage return");
    dc_vocab_free(v);
    char *word = malloc(1502);
    memset(word, 'q', 1501);
    word[1501] = 0;
    char *longw[] = {word};
    v = dc_vocab_build(longw, 1, 0, false);
    CHECK_ERR(dc_vocab_save(v, path), DC_ERR_ARG, "token 2", "1501 bytes long", "at most 1000");
    CHECK(access(path, F_OK) != 0);
    dc_vocab_free(v);
    free(word);
    char *ok[] = {"fine words"};
    v = dc_vocab_build(ok, 1, 0, false);
    CHECK_ERR(dc_vocab_save(v, "/nonexistent/dir/vocab.txt"), DC_ERR_IO, "/nonexistent/dir/vocab.txt");
    CHECK_ERR(dc_vocab_save(v, NULL), DC_ERR_ARG, "NULL");
    CHECK_ERR(dc_vocab_save(NULL, path), DC_ERR_ARG, "NULL");
    /* a failed save leaves an existing file as it was */
    const char *old = WRITE("keep.txt", "[UNK]\nold\n");
    char *multi2[] = {"x\ny"};
    dc_vocab *bad = dc_vocab_build(multi2, 1, 0, true);
    CHECK(dc_vocab_save(bad, old) == DC_ERR_ARG);
    size_t n;
    char *text = slurp_n(old, &n);
    CHECK(text && !strcmp(text, "[UNK]\nold\n"));
    free(text);
    dc_vocab_free(bad);
    dc_vocab_free(v);
}

int main(void) {
    if (!tmp_dir_create()) {
        perror("mkdtemp");
        return 2;
    }
    test_round_trip();
    test_bert();
    test_load_errors();
    test_save_errors();
    if (!tmp_dir_remove()) fprintf(stderr, "could not remove %s\n", dir);
    return check_report("test_vocab_io");
}
