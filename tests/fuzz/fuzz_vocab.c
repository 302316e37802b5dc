/* Vocabulary files under libFuzzer: dc_vocab_load in word and character mode, a few look-ups
 * and id sequences, then dc_vocab_save to a temporary file and a load of it, which must give
 * the same tokens at the same indices. A broken promise calls abort(), which libFuzzer reports. */
#include "fuzz_file.h"

#include <deepc.h>
#include <string.h>

static void check(dc_vocab *v, const char *path, bool chars) {
    int64_t n = dc_vocab_size(v);
    if (n < 1) abort();
    for (int64_t i = 0; i < n; i++) {
        const char *tok = dc_vocab_token(v, i);
        if (!tok || !tok[0] || dc_vocab_index(v, tok) != i) abort(); /* tokens are unique and non-empty */
    }
    static const char absent[] = "\x01surely not a token\x01";
    int64_t unk = dc_vocab_index(v, absent);
    const char *u = dc_vocab_token(v, unk);
    if (!u || (strcmp(u, "[UNK]") && strcmp(u, "<oov>") && strcmp(u, absent))) abort();
    const char *probe[] = {"the", "The", "[CLS]", "##ing", "a", ""};
    for (size_t i = 0; i < sizeof probe / sizeof probe[0]; i++) {
        int64_t k = dc_vocab_index(v, probe[i]);
        if (k < 0 || k >= n) abort();
    }
    char *texts[] = {"The quick brown fox, [CLS] don't", "##ing a b c"};
    dc_tensor *seq = dc_texts_to_sequences(v, texts, 2, 8, false, NULL);
    if (!seq) abort(); /* both texts have tokens in either mode */
    for (int64_t i = 0; i < dc_tensor_numel(seq); i++)
        if (!(dc_tensor_data(seq)[i] >= 0 && dc_tensor_data(seq)[i] < (float)n)) abort();
    dc_tensor_free(seq);

    static char saved[160];
    snprintf(saved, sizeof saved, "%s.saved.txt", path);
    if (dc_vocab_save(v, saved) != DC_OK) abort(); /* what was loaded can be written */
    dc_vocab *back = dc_vocab_load(saved, chars);
    if (!back || dc_vocab_size(back) != n) abort();
    for (int64_t i = 0; i < n; i++)
        if (strcmp(dc_vocab_token(back, i), dc_vocab_token(v, i)) != 0) abort();
    if (dc_vocab_index(back, absent) != unk) abort();
    dc_vocab_free(back);
    remove(saved);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *path = fuzz_file(data, size, "vocab");
    for (int chars = 0; chars < 2; chars++) {
        dc_clear_error();
        dc_vocab *v = dc_vocab_load(path, chars);
        if (!v) {
            if (strncmp(dc_last_error(), path, strlen(path)) != 0) abort();
            return 0; /* the same file fails the same way in the other mode */
        }
        check(v, path, chars);
        dc_vocab_free(v);
    }
    return 0;
}
