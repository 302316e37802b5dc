/* tensor: the struct, creation in the heap or in an arena, views' shape arithmetic. */
#ifndef DC_TENSOR_H
#define DC_TENSOR_H

#include "deepc/tensor.h"

#include "../base/arena.h"
#include "../base/base.h"

typedef enum dc_tensor_kind {
    DC_TENSOR_OWNED, /* heap; freed by dc_tensor_free */
    DC_TENSOR_STEP,  /* arena of a dc_ctx */
    DC_TENSOR_PARAM, /* view into a model's parameter buffer; the model frees it */
} dc_tensor_kind;

struct dc_node;

struct dc_tensor {
    float *data; /* first element */
    int ndim;
    uint8_t kind;
    bool requires_grad;
    /* grad holds no values yet in this step (a model's parameter before backward): the first
     * writer stores instead of adding (dc_grad_buf_w), or zeroes it (dc_grad_buf) */
    bool grad_stale;
    int64_t numel;
    int64_t shape[DC_MAX_DIMS];
    int64_t stride[DC_MAX_DIMS]; /* in elements */
    dc_tensor *grad;             /* contiguous, same shape; NULL until needed */
    struct dc_node *node;        /* the op that made this tensor (graph mode only) */
    void *heap;                  /* owned tensors: the block to free (struct + data) */
};

/* Validates a shape (0 < ndim <= DC_MAX_DIMS, dims >= 0, product fits); element count in *numel. */
dc_status dc_shape_check(int ndim, const int64_t *shape, int64_t *numel);
void dc_set_contiguous_strides(dc_tensor *t);
bool dc_same_shape(const dc_tensor *a, const dc_tensor *b);
/* Owned tensor, uninitialised data. */
dc_tensor *dc_tensor_alloc(int ndim, const int64_t *shape);
/* Step tensor header + data from an arena (data uninitialised). */
dc_tensor *dc_tensor_arena(dc_arena *a, int ndim, const int64_t *shape);
/* Step tensor header viewing existing data. */
dc_tensor *dc_tensor_arena_view(dc_arena *a, float *data, int ndim, const int64_t *shape,
                                const int64_t *stride);
/* Copies any-strided src into contiguous dst (same numel and logical order). */
void dc_copy_strided(float *dst, const dc_tensor *src);
/* Normalises a possibly negative axis; -1 if out of range. */
int dc_axis(int axis, int ndim);
/* "[2, 3]" of a tensor into a static per-thread buffer slot (slot 0..3) for messages */
const char *dc_tshape(const dc_tensor *t, int slot);

#endif
