/* Datasets over files (dc_dataset_npy, dc_dataset_idx, dc_dataset_csv) under libFuzzer: the
 * input's first byte picks the format, the rest is the file. Opening maps the file after its
 * header is checked against its size, so every row a dataset then gathers lies inside it: a
 * batch of rows (the first ones and the last) either converts or fails with a message naming
 * the file, and nothing reads past the mapping. */
#include "fuzz_file.h"

#include <deepc.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    static const char *const kinds[] = {"npy", "idx", "csv"};
    int k = data[0] % 3;
    const char *path = fuzz_file(data + 1, size - 1, kinds[k]);
    dc_clear_error();
    dc_dataset *ds = k == 0 ? dc_dataset_npy(path) : k == 1 ? dc_dataset_idx(path) : dc_dataset_csv(path, NULL);
    if (!ds) {
        if (!strstr(dc_last_error(), path)) abort();
        return 0;
    }
    int64_t rows = dc_dataset_rows(ds), idx[9];
    int n = 0;
    for (int64_t r = 0; r < rows && n < 8; r++) idx[n++] = r;
    idx[n++] = rows - 1;
    for (int p = 0; p < dc_dataset_num_parts(ds); p++) {
        int64_t shape[DC_MAX_DIMS], w = 1;
        int nd = dc_dataset_part_shape(ds, p, shape);
        for (int d = 0; d < nd; d++) w *= shape[d];
        if (w > (1 << 20)) break; /* a row larger than the input cannot be: sizes were checked */
        float *dst = malloc((size_t)(n * w) * sizeof(float));
        if (!dst) abort();
        dc_clear_error();
        if (dc_dataset_gather(ds, p, idx, n, dst, false, 0) && !strstr(dc_last_error(), path)) abort();
        free(dst);
    }
    dc_dataset_free(ds);
    return 0;
}
