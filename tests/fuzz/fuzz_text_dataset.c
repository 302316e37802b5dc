/* Text datasets (dc_dataset_text_lines, dc_dataset_text_windows) under libFuzzer: the input's
 * first byte picks the constructor, the vocabulary (words or characters) and the sizes; the
 * rest is the file. Opening either fails with a message naming the file or indexes every line
 * (label, tab, text) and tokenises what it must; a batch of rows (the first ones and the last)
 * then gathers, every id inside the vocabulary, and nothing reads past the mapping. */
#include "fuzz_file.h"

#include <deepc.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static dc_vocab *vocab[2];
    if (!vocab[0]) {
        char *corpus[2] = {"the cat's hat, a dog; 42 words\n", "The Cat\tsat on the mat!"};
        vocab[0] = dc_vocab_build(corpus, 2, 0, false);
        vocab[1] = dc_vocab_build(corpus, 2, 8, true);
        if (!vocab[0] || !vocab[1]) abort();
    }
    if (size < 1) return 0;
    int lines = data[0] & 1, chars = (data[0] >> 1) & 1;
    int64_t n1 = 1 + ((data[0] >> 2) & 7), n2 = 1 + ((data[0] >> 5) & 7);
    const char *path = fuzz_file(data + 1, size - 1, lines ? "tsv" : "txt");
    const dc_vocab *v = vocab[chars];
    dc_clear_error();
    int64_t nclasses = 0;
    dc_dataset *ds = lines ? dc_dataset_text_lines(path, v, n1, n2 & 1, &nclasses) : dc_dataset_text_windows(path, v, n1, n2);
    if (!ds) {
        if (!strstr(dc_last_error(), path)) abort();
        return 0;
    }
    int64_t rows = dc_dataset_rows(ds), idx[9];
    if (rows < 1 || dc_dataset_num_parts(ds) != 2 || (lines && nclasses < 1)) abort();
    int n = 0;
    for (int64_t r = 0; r < rows && n < 8; r++) idx[n++] = r;
    idx[n++] = rows - 1;
    float dst[9 * 8];
    for (int p = 0; p < 2; p++) {
        int64_t shape[DC_MAX_DIMS], w = 1;
        int nd = dc_dataset_part_shape(ds, p, shape);
        for (int d = 0; d < nd; d++) w *= shape[d];
        if (w > 8) abort();
        dc_clear_error();
        if (dc_dataset_gather(ds, p, idx, n, dst, false, 0)) abort(); /* the file does not change */
        for (int64_t k = 0; k < n * w; k++) {
            bool id_ok = dst[k] >= 0 && dst[k] < (float)dc_vocab_size(v) && dst[k] == (float)(int64_t)dst[k];
            if (!(lines && p == 1) && !id_ok) abort();
            if (lines && p == 1 && !(dst[k] >= 0 && dst[k] < (float)nclasses)) abort();
        }
    }
    dc_dataset_free(ds);
    return 0;
}
