/* WordPiece under libFuzzer: the input up to its first NUL byte is a vocabulary file, the rest
 * a text. A vocabulary that loads must tokenize the text in both modes into vocabulary entries
 * only, and encode it (alone and as a pair) into ids inside the vocabulary, segments 0 or 1 and
 * a mask of 1s then 0s. A broken promise calls abort(), which libFuzzer reports. Pairs are
 * encoded in one casing mode only: tokenizing is most of a run's time, and the pair logic is
 * the same in both. */
#include "fuzz_file.h"

#include <deepc.h>
#include <string.h>

#define MAX_LEN 24

/* A second text of 22 words, longer than MAX_LEN leaves for both texts: paired with the input
 * text it is the longer one or the shorter one as the input's length says, so longest-first
 * truncation is tried both ways (a text paired with itself would always tie). */
static const char long_b[] = "a b c d e f g h i j k l m n o p q r s t u v";

/* pairs: also encode the text as a pair (with the long text and with a short one); the pair
 * logic does not depend on the casing mode, so one mode does it */
static void check(const dc_wordpiece *wp, const char *text, bool pairs) {
    int64_t size = dc_wordpiece_vocab_size(wp);
    char **tok = NULL;
    int64_t n = -1;
    if (dc_wordpiece_tokenize(wp, text, &tok, &n) != DC_OK || n < 0) abort();
    for (int64_t i = 0; i < n; i++) {
        int64_t id = dc_wordpiece_id(wp, tok[i]);
        if (id < 0 || id >= size || strcmp(dc_wordpiece_token(wp, id), tok[i])) abort();
    }
    dc_texts_free(tok, n);
    const char *pair[3] = {NULL, long_b, "the"};
    for (int k = 0; k < (pairs ? 3 : 1); k++) {
        float ids[MAX_LEN], seg[MAX_LEN], mask[MAX_LEN];
        int64_t len = -1;
        if (dc_wordpiece_encode(wp, text, pair[k], MAX_LEN, ids, seg, mask, &len) != DC_OK) abort();
        if (len < 2 || len > MAX_LEN || ids[0] != (float)dc_wordpiece_id(wp, "[CLS]")) abort();
        for (int64_t i = 0; i < MAX_LEN; i++) {
            if (!(ids[i] >= 0 && ids[i] < (float)size) || (seg[i] != 0 && seg[i] != 1)) abort();
            if (mask[i] != (i < len ? 1.0f : 0.0f)) abort();
            if (i >= len && (ids[i] != (float)dc_wordpiece_id(wp, "[PAD]") || seg[i] != 0)) abort();
        }
        if (k == 0 && n + 2 <= MAX_LEN && len != n + 2) abort(); /* a short single text is kept whole */
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const uint8_t *nul = memchr(data, 0, size);
    size_t vocab_n = nul ? (size_t)(nul - data) : size;
    const char *path = fuzz_file(data, vocab_n, "vocab.txt");
    size_t text_n = nul ? size - vocab_n - 1 : 0;
    char *text = malloc(text_n + 1);
    if (!text) abort();
    if (text_n) memcpy(text, nul + 1, text_n);
    text[text_n] = 0; /* a later NUL ends the text early, as for any C string */
    for (int lower = 0; lower < 2; lower++) {
        dc_clear_error();
        dc_wordpiece *wp = dc_wordpiece_load(path, lower);
        if (!wp) {
            if (strncmp(dc_last_error(), path, strlen(path)) != 0) abort(); /* the message names the file */
            break;
        }
        check(wp, text, lower == 0);
        dc_wordpiece_free(wp);
    }
    free(text);
    return 0;
}
