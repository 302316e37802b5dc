/* data: the image files' internals shared by the readers (image.c, image_png.c, image_jpeg.c),
 * the folder loader (image_folder.c) and the grid writer (image_write.c). */
#ifndef DC_DATA_IMAGE_H
#define DC_DATA_IMAGE_H

#include "deepc/data.h"

#include "../base/base.h"

/* A picture as its file holds it, before any conversion: height rows of width pixels of
 * `channels` interleaved samples (1 grey, 2 grey + alpha, 3 RGB, 4 RGBA), each one byte
 * (depth 8) or two big-endian bytes (depth 16). pixels is dc_alloc'd. */
typedef struct dc_raw_image {
    int64_t width, height;
    int channels;
    int depth;
    unsigned char *pixels;
} dc_raw_image;

/* The side and pixel limits every reader checks before allocating anything for the pixels. */
#define DC_IMAGE_MAX_SIDE 65535
#define DC_IMAGE_MAX_PIXELS ((int64_t)1 << 26)
/* Files larger than this are refused before they are read. */
#define DC_IMAGE_MAX_FILE ((uint64_t)1 << 30)

/* Decoders of the two formats. data[size] is the whole file; name goes into messages; max_pixels
 * bounds width * height (and each side is at most DC_IMAGE_MAX_SIDE). On failure *out holds
 * nothing to free and the status carries a message naming the file and the numbers. */
dc_status dc_png_decode(const unsigned char *data, size_t size, const char *name, int64_t max_pixels,
                        dc_raw_image *out);
dc_status dc_jpeg_decode(const unsigned char *data, size_t size, const char *name, int64_t max_pixels,
                         dc_raw_image *out);

/* The format a file's first bytes announce. */
typedef enum dc_image_format { DC_IMAGE_UNKNOWN, DC_IMAGE_PNG, DC_IMAGE_JPEG } dc_image_format;
dc_image_format dc_image_sniff(const unsigned char *head, size_t n);

/* Checks width x height against the limits: DC_ERR_FORMAT naming the file and the numbers. */
dc_status dc_image_check_size(const char *name, const char *format, int64_t width, int64_t height, int64_t max_pixels);

/* Reads a whole file (at most DC_IMAGE_MAX_FILE bytes) into a dc_alloc'd buffer. */
dc_status dc_image_read_file(const char *path, unsigned char **data, size_t *size);

/* Decodes data[size] (PNG or JPEG, told by content) into raw (options checked by the caller;
 * o->max_pixels is used); DC_ERR_FORMAT for an empty file or other content. */
dc_status dc_image_decode_raw(const unsigned char *data, size_t size, const char *name, const dc_image_opts *o,
                              dc_raw_image *raw);
/* DC_ERR_ARG naming `who` for options out of range. */
dc_status dc_image_check_opts(const dc_image_opts *o, const char *who);
/* The output [C, H, W] for a decoded picture under options o. */
void dc_image_out_shape(const dc_raw_image *raw, const dc_image_opts *o, int64_t shape[3]);
/* Converts (and resizes) raw into dst[C*H*W] as o says; shape from dc_image_out_shape. */
dc_status dc_image_convert(const dc_raw_image *raw, const dc_image_opts *o, const int64_t shape[3], float *dst);

/* Resizes planes of h x w floats to oh x ow: nplanes planes of src, one after the other, into
 * dst. DC_ERR_NOMEM only. */
dc_status dc_image_resize_planes(const float *src, int64_t nplanes, int64_t h, int64_t w, float *dst, int64_t oh,
                                 int64_t ow, dc_resize_mode mode);

#endif
