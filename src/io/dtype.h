/* io: element types of files and their conversions to and from float32. */
#ifndef DC_IO_DTYPE_H
#define DC_IO_DTYPE_H

#include "deepc/io.h"

#include "../base/base.h"

/* The dtype whose safetensors name is `name` ("F32", "BF16", ...); DC_DTYPE_COUNT if none. */
dc_dtype dc_dtype_from_name(const char *name);

uint16_t dc_f32_to_f16(float f);  /* round to nearest even; overflow to Inf; NaN kept */
float dc_f16_to_f32(uint16_t h);
uint16_t dc_f32_to_bf16(float f); /* round to nearest even; NaN kept */
float dc_bf16_to_f32(uint16_t h);

/* Converts n elements of dtype t at src (little-endian, or big-endian if swap) to float32.
 * Integers must be exact in float32 and finite doubles must stay finite: otherwise returns
 * DC_ERR_NUMERIC with the first offending element's index in *bad (no message is set, the
 * caller names its file). Bool bytes other than 0 read as 1. */
dc_status dc_dtype_to_f32(dc_dtype t, const void *src, float *dst, int64_t n, bool swap, int64_t *bad);
/* Converts n floats to dtype t at dst (little-endian). Integer and bool dtypes need whole
 * numbers in range (bool: 0 or 1): otherwise DC_ERR_NUMERIC with the index in *bad. */
dc_status dc_dtype_from_f32(dc_dtype t, const float *src, void *dst, int64_t n, int64_t *bad);

#endif
