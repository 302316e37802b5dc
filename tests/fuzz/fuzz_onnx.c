/* ONNX importer under libFuzzer: dc_model_import_onnx on any bytes. Any answer is fine; a crash,
 * a leak, an out-of-bounds access, a model that cannot predict, or an error without a message
 * naming the file is not (abort() makes libFuzzer report it). */
#include "fuzz_file.h"

#include <deepc.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *path = fuzz_file(data, size, "onnx");
    dc_clear_error();
    dc_model *m = dc_model_import_onnx(path);
    if (!m) {
        if (strncmp(dc_last_error(), path, strlen(path)) != 0) abort();
        return 0;
    }
    /* an imported model runs on one row of zeros of its first input's shape, when small */
    int64_t shape[DC_MAX_DIMS + 1];
    int nd = dc_model_input_shape(m, 0, shape + 1);
    int64_t n = 1;
    for (int i = 1; nd > 0 && i <= nd; i++) n *= shape[i];
    if (nd > 0 && n <= 4096 && dc_model_num_inputs(m) == 1) {
        shape[0] = 1;
        dc_tensor *x = dc_tensor_new(nd + 1, shape);
        dc_tensor *p = x ? dc_model_predict(m, x, 1) : NULL;
        dc_tensor_free(p);
        dc_tensor_free(x);
    }
    dc_model_free(m);
    return 0;
}
