/*
 * deepc/autograd.h - floor autograd (src/autograd): the step context (arena memory, the tape of
 * recorded operations, grad mode), new step tensors and reverse-mode differentiation.
 */
#ifndef DEEPC_AUTOGRAD_H
#define DEEPC_AUTOGRAD_H

#include "deepc/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

/* What follows is deepc's public API, exported by libdeepc.so (whose other symbols are hidden). */
#if defined(__GNUC__)
#pragma GCC visibility push(default)
#endif

/* A context owns every tensor an operation makes, and the graph that records them.
 * Memory is kept across dc_ctx_reset(), so a training loop stops allocating after the
 * first step. */
dc_ctx *dc_ctx_new(void);
void dc_ctx_free(dc_ctx *c);
/* Releases all step tensors and the recorded graph; keeps the memory for reuse. */
void dc_ctx_reset(dc_ctx *c);
/* With grad off (inference mode) operations record nothing and keep no saved values. */
void dc_ctx_set_grad(dc_ctx *c, bool on);
bool dc_ctx_grad_enabled(const dc_ctx *c);
/* Mixed precision for the ops run on c: see dc_model_set_mixed_precision (off by default). */
void dc_ctx_set_mixed_precision(dc_ctx *c, bool on);
bool dc_ctx_mixed_precision(const dc_ctx *c);
/* Bytes reserved by the context's arena (for memory reports). */
size_t dc_ctx_reserved_bytes(const dc_ctx *c);

/* Reverse-mode autodiff: seeds d(loss)/d(loss) = 1 for a one-element tensor and
 * accumulates gradients into every tensor that requires them. */
dc_status dc_backward(dc_ctx *c, dc_tensor *loss);

/* New step tensors */
dc_tensor *dc_empty(dc_ctx *c, int ndim, const int64_t *shape); /* uninitialised */
dc_tensor *dc_zeros(dc_ctx *c, int ndim, const int64_t *shape);
dc_tensor *dc_full(dc_ctx *c, int ndim, const int64_t *shape, float v);

#if defined(__GNUC__)
#pragma GCC visibility pop
#endif

#ifdef __cplusplus
}
#endif
#endif /* DEEPC_AUTOGRAD_H */
