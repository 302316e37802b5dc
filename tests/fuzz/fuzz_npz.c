/* .npz reader under libFuzzer: zip end records, central directory, local headers, inflate,
 * CRC-32, and the .npy parser on every member. */
#include "fuzz_file.h"

#include <deepc.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *path = fuzz_file(data, size, "npz");
    int n = 0;
    char **names = NULL;
    dc_tensor **arrays = NULL;
    if (dc_npz_load(path, &n, &names, &arrays) == DC_OK) dc_npz_free(n, names, arrays);
    return 0;
}
