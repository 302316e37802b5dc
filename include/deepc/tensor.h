/*
 * deepc/tensor.h - floor tensor (src/tensor): owned tensors, their shapes and elements, weight
 * initialisers. The step context dc_ctx is declared here and defined by the autograd floor.
 */
#ifndef DEEPC_TENSOR_H
#define DEEPC_TENSOR_H

#include "deepc/base.h"

#ifdef __cplusplus
extern "C" {
#endif

/* What follows is deepc's public API, exported by libdeepc.so (whose other symbols are hidden). */
#if defined(__GNUC__)
#pragma GCC visibility push(default)
#endif

#define DC_MAX_DIMS 8

typedef struct dc_tensor dc_tensor;
typedef struct dc_ctx dc_ctx;

/* Owned tensor of the given shape, filled with zeros. NULL on error. */
dc_tensor *dc_tensor_new(int ndim, const int64_t *shape);
/* Owned tensor holding a copy of data[numel]. */
dc_tensor *dc_tensor_from(int ndim, const int64_t *shape, const float *data);
/* Owned contiguous copy of any tensor (owned, step or view). */
dc_tensor *dc_tensor_clone(const dc_tensor *t);
/* Frees an owned tensor; NULL is ignored; step tensors are ignored (their ctx owns them). */
void dc_tensor_free(dc_tensor *t);

int dc_tensor_ndim(const dc_tensor *t);
int64_t dc_tensor_dim(const dc_tensor *t, int axis); /* axis < 0 counts from the end */
const int64_t *dc_tensor_shape(const dc_tensor *t);
int64_t dc_tensor_numel(const dc_tensor *t);
bool dc_tensor_is_contiguous(const dc_tensor *t);
/* Pointer to the first element. For a non-contiguous view use dc_tensor_get/set or clone. */
float *dc_tensor_data(dc_tensor *t);
/* Gives an owned contiguous tensor a new shape with the same element count (no copy),
 * e.g. IDX images [N, 28, 28] -> [N, 1, 28, 28]. */
dc_status dc_tensor_set_shape(dc_tensor *t, int ndim, const int64_t *shape);
/* Owned NCHW copy of an NHWC tensor [N, H, W, C] (the layout of Keras and most image files). */
dc_tensor *dc_nhwc_to_nchw(const dc_tensor *t);
/* Element at a multi-index idx[ndim]; honours views' strides. */
float dc_tensor_get(const dc_tensor *t, const int64_t *idx);
void dc_tensor_set(dc_tensor *t, const int64_t *idx, float v);
/* The gradient accumulated by dc_backward (same shape), or NULL if none. */
dc_tensor *dc_tensor_grad(const dc_tensor *t);
/* Mark an owned tensor as a leaf whose gradient dc_backward should accumulate. */
dc_status dc_tensor_set_requires_grad(dc_tensor *t, bool on);
void dc_tensor_zero_grad(dc_tensor *t);
/* Fill helpers. */
void dc_tensor_fill(dc_tensor *t, float v);
/* Writes "shape [2, 3]\n[[...]]" to f (at most `max` elements per axis, 0 = 6). */
void dc_tensor_print(const dc_tensor *t, FILE *f, int max);
/* Writes "[2, 3]" into buf (always NUL-terminated); returns buf. */
char *dc_shape_str(int ndim, const int64_t *shape, char *buf, size_t size);
/* Checks that every element is finite; DC_ERR_NUMERIC names `what` and the first bad index. */
dc_status dc_check_finite(const dc_tensor *t, const char *what);

/* Weight initialisers; fan_in/fan_out are read from the shape ([out, in, ...] layout:
 * fan_in = dim1 * receptive field, fan_out = dim0 * receptive field). */
typedef enum dc_init {
    DC_INIT_ZEROS,
    DC_INIT_ONES,
    DC_INIT_CONSTANT,
    DC_INIT_UNIFORM,        /* U(-a, a) with a = value */
    DC_INIT_NORMAL,         /* N(0, value^2) */
    DC_INIT_GLOROT_UNIFORM, /* U(-l, l), l = sqrt(6 / (fan_in + fan_out)) */
    DC_INIT_GLOROT_NORMAL,  /* N(0, 2 / (fan_in + fan_out)) */
    DC_INIT_HE_UNIFORM,     /* U(-l, l), l = sqrt(6 / fan_in) */
    DC_INIT_HE_NORMAL,      /* N(0, 2 / fan_in) */
    DC_INIT_LECUN_UNIFORM,  /* U(-l, l), l = sqrt(3 / fan_in); PyTorch's Linear default family */
    DC_INIT_COUNT
} dc_init;
dc_status dc_tensor_init(dc_tensor *t, dc_init kind, float value, dc_rng *rng);

#if defined(__GNUC__)
#pragma GCC visibility pop
#endif

#ifdef __cplusplus
}
#endif
#endif /* DEEPC_TENSOR_H */
