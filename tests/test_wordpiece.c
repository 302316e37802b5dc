/* WordPiece: deepc's BERT tokenizer against reference output of BERT's tokenization.py
 * (tests/golden/wordpiece, from scripts/golden/gen_wordpiece.py), exact vocabulary lookups,
 * and every bad input answered with a message. */
#define _POSIX_C_SOURCE 200809L /* mkdtemp */
#include "check.h"

#include <stdlib.h>

#include "tmpfiles.h"

static const char *const vocab_path = "tests/golden/wordpiece/vocab.txt";

/* Decodes hex into a new NUL-terminated string; "-" is NULL, "=" the empty string. */
static char *unhex(const char *h) {
    if (!strcmp(h, "-")) return NULL;
    size_t n = strcmp(h, "=") ? strlen(h) / 2 : 0;
    char *s = malloc(n + 1);
    for (size_t i = 0; i < n; i++) {
        unsigned b;
        sscanf(h + 2 * i, "%2x", &b);
        s[i] = (char)b;
    }
    s[n] = 0;
    return s;
}

/* Reads "<key> v0 v1 ..." into vals (at most cap); returns the count or -1 for another key. */
static int read_values(const char *line, const char *key, float *vals, int cap) {
    size_t k = strlen(key);
    if (strncmp(line, key, k) || line[k] != ' ') return -1;
    int n = 0;
    char *end;
    for (const char *p = line + k; n < cap; p = end) {
        double v = strtod(p, &end);
        if (end == p) break;
        vals[n++] = (float)v;
    }
    return n;
}

static void strip_newline(char *s) {
    size_t n = strlen(s);
    if (n && s[n - 1] == '\n') s[n - 1] = 0;
}

/* Every case of expected.txt: tokens of text a and the encoding of (a, b). */
static void test_reference(void) {
    FILE *f = fopen("tests/golden/wordpiece/expected.txt", "r");
    CHECK(f != NULL);
    if (!f) return;
    dc_wordpiece *wp[2] = {dc_wordpiece_load(vocab_path, false), dc_wordpiece_load(vocab_path, true)};
    CHECK(wp[0] && wp[1]);
    if (!wp[0] || !wp[1]) {
        fclose(f);
        return;
    }
    static char line[5][16384];
    int cases = 0, matched = 0;
    while (fgets(line[0], sizeof line[0], f)) {
        if (line[0][0] == '#') continue;
        int lower, max_len;
        if (sscanf(line[0], "case %d %d", &lower, &max_len) != 2) continue;
        char a_hex[8192], b_hex[8192];
        bool ok = fgets(line[1], sizeof line[1], f) && sscanf(line[1], "a %8191s", a_hex) == 1 &&
                  fgets(line[2], sizeof line[2], f) && sscanf(line[2], "b %8191s", b_hex) == 1 &&
                  fgets(line[3], sizeof line[3], f);
        CHECK(ok && max_len <= 64);
        if (!ok || max_len > 64) break;
        strip_newline(line[3]);
        char *a = unhex(a_hex), *b = unhex(b_hex);
        cases++;
        bool same = true;
        /* tokens */
        char **tok = NULL;
        int64_t n = -1;
        CHECK(dc_wordpiece_tokenize(wp[lower], a, &tok, &n) == DC_OK);
        int want_n = -1, used = 0;
        sscanf(line[3], "tokens %d %n", &want_n, &used);
        same = same && n == want_n;
        char *rest = line[3] + used, *save = NULL;
        for (int64_t i = 0; same && i < n; i++) {
            char *w = strtok_r(i ? NULL : rest, " ", &save);
            same = w && tok && !strcmp(w, tok[i]);
        }
        dc_texts_free(tok, n);
        /* encoding */
        float want[3][64], got[3][64], want_len = -1;
        for (int k = 0; k < 3; k++) {
            static const char *const keys[3] = {"ids", "seg", "mask"};
            same = same && fgets(line[4], sizeof line[4], f) && read_values(line[4], keys[k], want[k], 64) == max_len;
        }
        same = same && fgets(line[4], sizeof line[4], f) && read_values(line[4], "len", &want_len, 1) == 1;
        int64_t len = -1;
        CHECK(dc_wordpiece_encode(wp[lower], a, b, max_len, got[0], got[1], got[2], &len) == DC_OK);
        same = same && len == (int64_t)want_len &&
               !memcmp(want[0], got[0], (size_t)max_len * sizeof(float)) &&
               !memcmp(want[1], got[1], (size_t)max_len * sizeof(float)) &&
               !memcmp(want[2], got[2], (size_t)max_len * sizeof(float));
        if (!same) fprintf(stderr, "reference case %d (lower_case %d, a %s) differs\n", cases, lower, a_hex);
        matched += same;
        free(a);
        free(b);
    }
    fclose(f);
    CHECK(cases == 80 && matched == cases);
    printf("test_wordpiece: %d of %d reference cases match\n", matched, cases);
    dc_wordpiece_free(wp[0]);
    dc_wordpiece_free(wp[1]);
}

static bool tokens_are(const dc_wordpiece *wp, const char *text, int64_t want_n, const char *const *want) {
    char **tok = NULL;
    int64_t n = -1;
    bool ok = dc_wordpiece_tokenize(wp, text, &tok, &n) == DC_OK && n == want_n;
    for (int64_t i = 0; ok && i < n; i++) ok = !strcmp(tok[i], want[i]);
    dc_texts_free(tok, n);
    return ok;
}

/* The documented examples, lookups, ids and encodings written out. */
static void test_api(void) {
    dc_wordpiece *un = dc_wordpiece_load(vocab_path, true), *cased = dc_wordpiece_load(vocab_path, false);
    CHECK(un && cased);
    if (!un || !cased) return;
    CHECK(dc_wordpiece_vocab_size(un) == 635 && dc_wordpiece_vocab_size(NULL) == 0);
    CHECK(tokens_are(un, "unaffable", 3, (const char *[]){"un", "##aff", "##able"}));
    CHECK(tokens_are(un, "Caf\xc3\xa9!", 2, (const char *[]){"cafe", "!"}));
    CHECK(tokens_are(cased, "Caf\xc3\xa9!", 2, (const char *[]){"Caf\xc3\xa9", "!"}));
    CHECK(tokens_are(un, "", 0, NULL) && tokens_are(un, " \t\r\n\x01", 0, NULL));
    /* exact lookups: no case folding, "##" pieces apart from words */
    CHECK(dc_wordpiece_id(un, "[PAD]") == 0 && dc_wordpiece_id(un, "[UNK]") == 100);
    CHECK(dc_wordpiece_id(un, "[CLS]") == 101 && dc_wordpiece_id(un, "[SEP]") == 102);
    int64_t the = dc_wordpiece_id(un, "the"), The = dc_wordpiece_id(un, "The");
    CHECK(the > 103 && The > 103 && the != The && dc_wordpiece_id(un, "THE") == -1);
    CHECK(dc_wordpiece_id(un, "aff") != dc_wordpiece_id(un, "##aff") && dc_wordpiece_id(un, "##zzz") == -1);
    CHECK(dc_wordpiece_token(un, the) && !strcmp(dc_wordpiece_token(un, the), "the"));
    CHECK(!strcmp(dc_wordpiece_token(un, 100), "[UNK]"));
    /* a single text: [CLS] the dog [SEP], then padding */
    float ids[8], seg[8], mask[8];
    int64_t len = -1;
    CHECK(dc_wordpiece_encode(un, "The dog", NULL, 8, ids, seg, mask, &len) == DC_OK && len == 4);
    int64_t dog = dc_wordpiece_id(un, "dog");
    CHECK(ids[0] == 101 && ids[1] == (float)the && ids[2] == (float)dog && ids[3] == 102 && ids[4] == 0 && ids[7] == 0);
    CHECK(mask[3] == 1 && mask[4] == 0 && seg[3] == 0 && seg[7] == 0);
    /* a pair: [CLS] the [SEP] dog [SEP] with segments 0 0 0 1 1 */
    CHECK(dc_wordpiece_encode(un, "the", "DOG", 8, ids, seg, mask, NULL) == DC_OK);
    CHECK(ids[2] == 102 && ids[3] == (float)dog && ids[4] == 102 && seg[2] == 0 && seg[3] == 1 && seg[4] == 1 &&
          seg[5] == 0 && mask[4] == 1 && mask[5] == 0);
    /* truncation of a single text to max_len - 2 tokens */
    CHECK(dc_wordpiece_encode(un, "a b c d e f", NULL, 4, ids, seg, mask, &len) == DC_OK && len == 4 &&
          ids[3] == 102 && ids[2] == (float)dc_wordpiece_id(un, "b"));
    /* a word of 100 code points is split, one of 101 is [UNK] */
    char word[102];
    memset(word, 'a', 101);
    word[101] = 0;
    CHECK(tokens_are(un, word, 1, (const char *[]){"[UNK]"}));
    word[100] = 0;
    char **tok = NULL;
    int64_t n = 0;
    CHECK(dc_wordpiece_tokenize(un, word, &tok, &n) == DC_OK && n == 100 && !strcmp(tok[99], "##a"));
    dc_texts_free(tok, n);
    dc_wordpiece_free(un);
    dc_wordpiece_free(cased);
}

/* A vocabulary file of the BERT specials but `skip` (and some words). */
static const char *vocab_without(const char *skip) {
    static const char *const lines[] = {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "##s"};
    char text[200] = "";
    for (size_t i = 0; i < sizeof lines / sizeof lines[0]; i++)
        if (!skip || strcmp(lines[i], skip)) strcat(strcat(text, lines[i]), "\n");
    if (skip && !strcmp(skip, "[UNK]")) strcat(text, "<oov>\n"); /* enough for dc_vocab_load, not for BERT */
    return WRITE("vocab.txt", text);
}

static void test_errors(void) {
    const char *path = vocab_without(NULL);
    dc_wordpiece *wp = dc_wordpiece_load(path, true);
    CHECK(wp != NULL);
    static const char *const special[] = {"[PAD]", "[UNK]", "[CLS]", "[SEP]"};
    for (int i = 0; i < 4; i++) {
        path = vocab_without(special[i]);
        CHECK_NULL_ERR(dc_wordpiece_load(path, false), path, special[i]);
        CHECK(dc_last_error()[0] && dc_wordpiece_load(path, true) == NULL);
    }
    CHECK_NULL_ERR(dc_wordpiece_load("/nonexistent/vocab.txt", true), "/nonexistent/vocab.txt", "cannot open");
    CHECK_NULL_ERR(dc_wordpiece_load(NULL, true), "NULL");
    path = WRITE("dup.txt", "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[CLS]\n");
    CHECK_NULL_ERR(dc_wordpiece_load(path, true), path, ":5:", "repeats line 3");
    path = WRITE("empty.txt", "");
    CHECK_NULL_ERR(dc_wordpiece_load(path, true), path, "empty");

    float ids[4], seg[4], mask[4];
    int64_t len = 7;
    CHECK_ERR(dc_wordpiece_encode(wp, "the", NULL, 2, ids, seg, mask, &len), DC_ERR_ARG,
              "max_len 2 cannot hold [CLS] and [SEP]");
    CHECK(len == 0);
    CHECK_ERR(dc_wordpiece_encode(wp, "the", "the", 0, ids, seg, mask, &len), DC_ERR_ARG, "max_len 0");
    CHECK_ERR(dc_wordpiece_encode(wp, "the", NULL, -5, ids, seg, mask, &len), DC_ERR_ARG, "max_len -5");
    CHECK_ERR(dc_wordpiece_encode(NULL, "the", NULL, 4, ids, seg, mask, &len), DC_ERR_ARG, "NULL");
    CHECK_ERR(dc_wordpiece_encode(wp, NULL, NULL, 4, ids, seg, mask, &len), DC_ERR_ARG, "NULL");
    CHECK_ERR(dc_wordpiece_encode(wp, "the", NULL, 4, NULL, seg, mask, &len), DC_ERR_ARG, "NULL");
    CHECK_ERR(dc_wordpiece_encode(wp, "the", NULL, 4, ids, NULL, mask, &len), DC_ERR_ARG, "NULL");
    CHECK_ERR(dc_wordpiece_encode(wp, "the", NULL, 4, ids, seg, NULL, &len), DC_ERR_ARG, "NULL");
    /* max_len 3 holds a single text's [CLS] [SEP]; a pair loses b entirely */
    CHECK(dc_wordpiece_encode(wp, "the", "the", 3, ids, seg, mask, &len) == DC_OK && len == 2 && ids[0] == 2 &&
          ids[1] == 3 && ids[2] == 0 && mask[2] == 0);
    char **tok = (char **)1;
    int64_t n = 5;
    CHECK_ERR(dc_wordpiece_tokenize(wp, NULL, &tok, &n), DC_ERR_ARG, "NULL");
    CHECK(tok == NULL && n == 0);
    CHECK_ERR(dc_wordpiece_tokenize(NULL, "the", &tok, &n), DC_ERR_ARG, "NULL");
    CHECK_ERR(dc_wordpiece_tokenize(wp, "the", NULL, &n), DC_ERR_ARG, "NULL");
    CHECK_ERR(dc_wordpiece_tokenize(wp, "the", &tok, NULL), DC_ERR_ARG, "NULL");
    dc_clear_error();
    CHECK(dc_wordpiece_id(wp, NULL) == -1 && dc_last_error()[0]);
    CHECK(dc_wordpiece_id(NULL, "the") == -1);
    CHECK_NULL_ERR(dc_wordpiece_token(wp, 7), "id 7 is outside 0..6");
    CHECK_NULL_ERR(dc_wordpiece_token(wp, -1), "id -1");
    CHECK_NULL_ERR(dc_wordpiece_token(NULL, 0), "NULL");
    dc_wordpiece_free(NULL);

    /* invalid UTF-8 is dropped byte by byte; what follows a bad byte is read afresh */
    CHECK(tokens_are(wp, "th\xff" "e \xc3 the\xe2\x82 \xed\xa0\x80the \xf4\x90\x80\x80 \xc0\xaf\x80 \xf8the",
                     4, (const char *[]){"the", "the", "the", "the"}));
    CHECK(tokens_are(wp, "\xe2\x82the", 1, (const char *[]){"the"}));
    /* every byte pair and triple, as texts: no crash, only vocabulary tokens */
    char text[4] = {0};
    int64_t bad = 0;
    for (int i = 1; i < 256; i++)
        for (int j = 0; j < 256; j += (i < 0xc0 ? 17 : 1))
            for (int k = 0; k < 256; k += 51) {
                text[0] = (char)i, text[1] = (char)j, text[2] = (char)(j ? k : 0);
                if (dc_wordpiece_tokenize(wp, text, &tok, &n) != DC_OK) bad++;
                for (int64_t t = 0; t < n; t++) bad += dc_wordpiece_id(wp, tok[t]) < 0;
                dc_texts_free(tok, n);
            }
    CHECK(bad == 0);
    dc_wordpiece_free(wp);
}

int main(void) {
    if (!tmp_dir_create()) {
        perror("mkdtemp");
        return 2;
    }
    test_reference();
    test_api();
    test_errors();
    if (!tmp_dir_remove()) fprintf(stderr, "could not remove %s\n", dir);
    return check_report("test_wordpiece");
}
