/* Fortune files under libFuzzer: dc_read_fortunes, then what a text pipeline does with the
 * entries in word and character mode (a vocabulary, id sequences), and a save and load of
 * each vocabulary, which must give back the same tokens at the same indices when the save
 * is accepted. A broken promise calls abort(), which libFuzzer reports. */
#include "fuzz_file.h"

#include <deepc.h>
#include <string.h>

/* The vocabulary written to a file and read back must be the same, token for token. */
static void round_trip(const dc_vocab *v, const char *path, bool chars) {
    static char saved[160];
    snprintf(saved, sizeof saved, "%s.vocab.txt", path);
    dc_status s = dc_vocab_save(v, saved);
    if (s != DC_OK) {
        if (s != DC_ERR_ARG) abort(); /* only tokens a file cannot hold are refused */
        return;
    }
    dc_vocab *back = dc_vocab_load(saved, chars);
    if (!back || dc_vocab_size(back) != dc_vocab_size(v)) abort();
    for (int64_t i = 0; i < dc_vocab_size(v); i++) {
        const char *tok = dc_vocab_token(v, i);
        if (strcmp(tok, dc_vocab_token(back, i)) != 0 || dc_vocab_index(back, tok) != i) abort();
    }
    if (dc_vocab_index(back, "\x01no such token\x01") != dc_vocab_index(v, "\x01no such token\x01")) abort();
    dc_vocab_free(back);
    remove(saved);
}

static void pipeline(char *const *texts, int64_t n, const char *path, bool chars) {
    dc_vocab *v = dc_vocab_build(texts, n, chars ? 0 : 50, chars);
    if (!v) return; /* no tokens at all */
    for (int64_t i = 0; i < dc_vocab_size(v); i++)
        if (dc_vocab_index(v, dc_vocab_token(v, i)) != i) abort();
    int64_t lens[64];
    int64_t m = n < 64 ? n : 64;
    dc_tensor *seq = dc_texts_to_sequences(v, texts, m, 16, !chars, lens);
    if (seq) {
        const float *ids = dc_tensor_data(seq);
        for (int64_t i = 0; i < dc_tensor_numel(seq); i++)
            if (!(ids[i] >= 0 && ids[i] < (float)dc_vocab_size(v))) abort();
        for (int64_t i = 0; i < m; i++)
            if (lens[i] < 1 || lens[i] > 16) abort();
        dc_tensor_free(seq);
    }
    round_trip(v, path, chars);
    dc_vocab_free(v);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *path = fuzz_file(data, size, "txt");
    char **texts = (char **)1;
    int64_t n = -1;
    dc_clear_error();
    if (dc_read_fortunes(path, &texts, &n) != DC_OK) {
        if (texts || n || strncmp(dc_last_error(), path, strlen(path)) != 0) abort();
        return 0;
    }
    if (n < 1) abort();
    for (int64_t i = 0; i < n; i++)
        if (!texts[i][0]) abort(); /* blank entries are skipped */
    pipeline(texts, n, path, false);
    pipeline(texts, n, path, true);
    dc_texts_free(texts, n);
    return 0;
}
