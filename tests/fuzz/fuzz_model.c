/* Model files and checkpoints (safetensors + the "deepc.model" / "deepc.checkpoint" /
 * "deepc.history" metadata) under libFuzzer: dc_model_load, then a prediction when the input
 * is small; dc_model_load_checkpoint and dc_model_load_weights into a fixed compiled model. A
 * file that is not safetensors at all is refused with a message naming it. */
#include "fuzz_file.h"

#include <deepc.h>
#include <string.h>

static dc_model *fixed;

static dc_model *make_fixed(void) {
    dc_model *m = dc_sequential();
    dc_model_add(m, dc_input(1, (int64_t[]){4}));
    dc_model_add(m, dc_dense(3, DC_ACT_RELU));
    dc_model_add(m, dc_batch_norm_layer(0.1f, 1e-3f));
    dc_model_add(m, dc_dense(2, DC_ACT_SOFTMAX));
    dc_model_compile(m, dc_adam(1e-3f, 0.9f, 0.999f, 1e-7f), DC_LOSS_SPARSE_CCE, (dc_metric[]){DC_METRIC_ACCURACY}, 1);
    return m;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *path = fuzz_file(data, size, "safetensors");
    /* The three loaders start with this same open and header parse, most of a run's time: a
     * file it refuses fails all three the same way, and a loader whose first check after it
     * would fail on what the open already shows (no "deepc.model" or "deepc.checkpoint"
     * metadata; no "dense.weight", the fixed model's first parameter) is not run. Those
     * refusals are the unit tests' (test_model_io). */
    dc_clear_error();
    dc_safetensors *st = dc_safetensors_open(path);
    if (!st) {
        if (strncmp(dc_last_error(), path, strlen(path)) != 0) abort(); /* the message names the file */
        return 0;
    }
    bool model = dc_safetensors_meta(st, "deepc.model") != NULL;
    bool ckpt = dc_safetensors_meta(st, "deepc.checkpoint") != NULL;
    bool weights = dc_safetensors_find(st, "dense.weight") >= 0;
    dc_safetensors_close(st);
    dc_model *m = model ? dc_model_load(path) : NULL;
    if (m) {
        /* predict only where every layer's output is small: a file may legitimately describe
         * a model too big for the fuzzer's memory limit */
        int64_t shape[DC_MAX_DIMS + 1], biggest = 0;
        for (int l = 0; l < dc_model_num_layers(m); l++) {
            int64_t n = 1;
            int k = dc_layer_output_shape(dc_model_layer(m, l), shape + 1);
            for (int i = 0; i < k; i++) n = n > (1 << 20) ? n : n * shape[i + 1];
            if (n > biggest) biggest = n;
        }
        int nd = dc_layer_output_shape(dc_model_layer(m, 0), shape + 1);
        if (nd > 0 && biggest <= 65536) {
            shape[0] = 2;
            dc_tensor *x = dc_tensor_new(nd + 1, shape);
            dc_tensor_free(dc_model_predict(m, x, 2));
            dc_tensor_free(x);
        }
        dc_model_free(m);
    }
    if (!fixed) fixed = make_fixed();
    if (ckpt) (void)dc_model_load_checkpoint(fixed, path);
    if (weights) (void)dc_model_load_weights(fixed, path, true);
    return 0;
}
