/* PNG reader under libFuzzer, through dc_image_load: libpng's error jumps, the size checks made
 * before allocating (a header claiming a huge picture must fail without allocating it;
 * scripts/fuzz.sh runs with -malloc_limit_mb), and the conversions, whose options follow the
 * input's size so that every path is taken. Every answer is a tensor of the declared shape with
 * values in [0, 1], or NULL with a message naming the file. */
#include "fuzz_image.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fuzz_image(fuzz_file(data, size, "png"), size);
    return 0;
}
