/* The check shared by the image fuzz targets (fuzz_png.c, fuzz_jpeg.c). */
#ifndef DC_FUZZ_IMAGE_H
#define DC_FUZZ_IMAGE_H

#include "fuzz_file.h"

#include <deepc.h>
#include <string.h>

/* Loads path with options chosen by the input's size (channels as stored, grey or RGB; alpha
 * dropped or composited; kept or resized, bilinear or nearest) and a pixel limit of 2^18, so
 * that a run stays fast; checks the answer. */
static void fuzz_image(const char *path, size_t size) {
    dc_image_opts o = dc_image_defaults();
    o.channels = (int[]){0, 1, 3}[size % 3];
    o.background = size % 2 ? 1.0f : -1.0f;
    if (size % 5 == 0) {
        o.height = 3;
        o.width = 5;
        o.resize = size % 10 == 0 ? DC_RESIZE_NEAREST : DC_RESIZE_BILINEAR;
    }
    o.max_pixels = (int64_t)1 << 18;
    dc_clear_error();
    dc_tensor *t = dc_image_load(path, &o);
    if (!t) {
        if (strncmp(dc_last_error(), path, strlen(path)) != 0) abort();
        return;
    }
    if (dc_tensor_ndim(t) != 3) abort();
    const int64_t c = dc_tensor_dim(t, 0), h = dc_tensor_dim(t, 1), w = dc_tensor_dim(t, 2);
    if ((o.channels && c != o.channels) || (!o.channels && c != 1 && c != 3)) abort();
    if (o.height && (h != o.height || w != o.width)) abort();
    if (h < 1 || w < 1 || h * w > o.max_pixels) abort();
    const float *v = dc_tensor_data(t);
    for (int64_t i = 0; i < dc_tensor_numel(t); i++)
        if (!(v[i] >= 0 && v[i] <= 1)) abort();
    dc_tensor_free(t);
}

#endif
