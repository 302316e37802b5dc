/* io: the safetensors reader and writer, for the model files built on them. */
#ifndef DC_IO_SAFETENSORS_H
#define DC_IO_SAFETENSORS_H

#include "deepc/io.h"

#include "../base/base.h"

/* One tensor to write: its name, its shape (ndim 0 is a scalar, written as shape []) and its
 * numel contiguous floats. */
typedef struct dc_st_entry {
    const char *name;
    int ndim;
    const int64_t *shape;
    const float *data; /* contiguous, numel floats */
} dc_st_entry;

/* Writes the entries in the given order as dtype (F32, F16 or BF16), with nmeta metadata pairs, atomically.
 * The header is compact JSON, "__metadata__" first (only when nmeta > 0), then the tensors with
 * consecutive data_offsets, padded with spaces so the data starts at a multiple of 8: byte for byte what
 * Python's json.dumps(separators=(",", ":"), ensure_ascii=False) gives for the same content.
 * DC_ERR_ARG for empty, duplicate or non-UTF-8 names, the name "__metadata__", duplicate metadata keys,
 * negative dimensions or an unsupported dtype; nothing is written then. */
dc_status dc_st_write(const char *path, const dc_st_entry *e, int n, dc_dtype dtype, int nmeta,
                      const char *const *keys, const char *const *values);
/* Reads tensor i converted to float32 into dst, which holds exactly n floats (n must equal the tensor's
 * element count, else DC_ERR_SHAPE). */
dc_status dc_st_read_f32(const dc_safetensors *st, int i, float *dst, int64_t n);
/* Element count of tensor i (-1 if out of range). */
int64_t dc_st_numel(const dc_safetensors *st, int i);
/* The file's path as given to open (for messages). */
const char *dc_st_path(const dc_safetensors *st);

#endif
