/* .npy reader under libFuzzer: header parsing, size checks and dtype conversion. */
#include "fuzz_file.h"

#include <deepc.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *path = fuzz_file(data, size, "npy");
    dc_tensor_free(dc_npy_load(path));
    return 0;
}
