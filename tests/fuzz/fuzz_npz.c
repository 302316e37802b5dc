/* .npz reader under libFuzzer: zip end records, central directory, local headers, inflate,
 * CRC-32, and the .npy parser on every member. Every answer is either arrays whose names are
 * plain file names (no '/', no '\\', not "." or "..") or a failure with a message naming the
 * archive; abort() makes libFuzzer report a broken promise. */
#include "fuzz_file.h"

#include <deepc.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *path = fuzz_file(data, size, "npz");
    int n = 0;
    char **names = NULL;
    dc_tensor **arrays = NULL;
    dc_clear_error();
    if (dc_npz_load(path, &n, &names, &arrays) != DC_OK) {
        if (n || names || arrays || strncmp(dc_last_error(), path, strlen(path)) != 0) abort();
        return 0;
    }
    for (int i = 0; i < n; i++)
        if (!names[i][0] || strpbrk(names[i], "/\\") || !strcmp(names[i], ".") || !strcmp(names[i], "..") || !arrays[i])
            abort();
    dc_npz_free(n, names, arrays);
    return 0;
}
