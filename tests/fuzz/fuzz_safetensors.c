/* safetensors reader under libFuzzer: open (header validation), then every tensor's shape and
 * data, and metadata look-ups. */
#include "fuzz_file.h"

#include <deepc.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *path = fuzz_file(data, size, "safetensors");
    dc_safetensors *st = dc_safetensors_open(path);
    if (!st) return 0;
    int n = dc_safetensors_count(st);
    for (int i = 0; i < n; i++) {
        int64_t shape[DC_MAX_DIMS];
        dc_dtype dtype;
        int nd = dc_safetensors_shape(st, i, shape, &dtype);
        if (nd < 1 || nd > DC_MAX_DIMS) abort(); /* a validated tensor always has a rank */
        const char *name = dc_safetensors_name(st, i);
        if (!name || dc_safetensors_find(st, name) != i) abort(); /* names are unique */
        dc_tensor *t = dc_safetensors_read(st, name);
        if (t && dc_tensor_ndim(t) != nd) abort();
        dc_tensor_free(t);
        (void)dc_safetensors_meta(st, name);
    }
    (void)dc_safetensors_meta(st, "format");
    (void)dc_safetensors_meta(st, "");
    dc_safetensors_close(st);
    return 0;
}
