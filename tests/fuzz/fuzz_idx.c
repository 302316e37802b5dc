/* IDX (MNIST) reader, plain or gzip-compressed, under libFuzzer. */
#include "fuzz_file.h"

#include <deepc.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *path = fuzz_file(data, size, "idx");
    dc_tensor_free(dc_idx_load(path, true));
    return 0;
}
