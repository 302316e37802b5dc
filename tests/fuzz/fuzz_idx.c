/* IDX (MNIST) reader, plain or gzip-compressed, under libFuzzer. A header claiming a huge
 * array must fail without allocating it (scripts/fuzz.sh runs with -malloc_limit_mb), and
 * every answer is either a tensor that matches the file or NULL with a message naming it. */
#include "fuzz_file.h"

#include <deepc.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *path = fuzz_file(data, size, "idx");
    dc_clear_error();
    dc_tensor *t = dc_idx_load(path, true);
    if (!t) {
        if (strncmp(dc_last_error(), path, strlen(path)) != 0) abort();
        return 0;
    }
    /* a plain file holds exactly its header and one byte per element */
    bool plain = size < 2 || data[0] != 0x1f || data[1] != 0x8b;
    if (plain && (size_t)dc_tensor_numel(t) != size - 4 - 4 * (size_t)dc_tensor_ndim(t)) abort();
    const float *v = dc_tensor_data(t);
    for (int64_t i = 0; i < dc_tensor_numel(t); i++)
        if (!(v[i] >= 0 && v[i] <= 1)) abort();
    if (plain && v[0] != (float)data[4 + 4 * dc_tensor_ndim(t)] / 255.0f) abort();
    dc_tensor_free(t);
    return 0;
}
