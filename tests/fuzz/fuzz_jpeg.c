/* JPEG reader under libFuzzer, through dc_image_load: libjpeg's error jumps and its corrupt-data
 * warnings (errors here), the size and scan limits, progressive and arithmetic decoding, and
 * the conversions, whose options follow the input's size. Every answer is a tensor of the
 * declared shape with values in [0, 1], or NULL with a message naming the file. */
#include "fuzz_image.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fuzz_image(fuzz_file(data, size, "jpg"), size);
    return 0;
}
