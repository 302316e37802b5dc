/* autograd: the step context (arena + tape) and reverse-mode differentiation. An op makes
 * its output with dc_out(), then, if dc_needs_grad() says so, records a node with the
 * inputs, a few saved numbers and its backward function. Backward walks the tape in reverse
 * creation order, which is a topological order of a define-by-run graph. */
#ifndef DC_AUTOGRAD_H
#define DC_AUTOGRAD_H

#include "deepc/autograd.h"

#include "../tensor/tensor.h"

#define DC_NODE_MAX_IN 8

typedef struct dc_node dc_node;
typedef void (*dc_backward_fn)(dc_ctx *c, dc_node *n);

struct dc_node {
    const char *op;
    dc_backward_fn backward;
    dc_tensor *out;
    dc_tensor *in[DC_NODE_MAX_IN];
    int nin;
    float f[4];     /* op parameters (alpha, scale, ...) */
    int64_t i[4];   /* op parameters (axis, ...) */
    void *saved;    /* op-specific arena data */
    dc_node *prev;  /* tape: previous node */
};

struct dc_ctx {
    dc_arena arena;
    dc_node *tape;
    bool grad;
    bool oom; /* an allocation failed during backward */
    bool bf16; /* mixed precision: dense, matmul and conv GEMMs take bf16 operands (dc_op_gemm) */
    dc_status err; /* a backward function that failed other than for memory (message set) */
};

/* New step tensor for an op's output (uninitialised). */
dc_tensor *dc_out(dc_ctx *c, int ndim, const int64_t *shape);
/* True when grad mode is on and any of the n inputs requires grad. */
bool dc_needs_grad(const dc_ctx *c, int n, dc_tensor *const *in);
/* Records out = op(in...) with its backward; marks out as requiring grad. NULL on OOM. */
dc_node *dc_record(dc_ctx *c, const char *op, dc_backward_fn bw, dc_tensor *out, int nin,
                   dc_tensor *const *in);
/* The gradient buffer of t to accumulate into (zeroed step tensor made on first use), or
 * NULL when t does not require grad. */
float *dc_grad_buf(dc_ctx *c, dc_tensor *t);
/* dc_grad_buf for a backward that writes every element of t's gradient: *fresh is true when the
 * buffer was made just now, or is a parameter's marked stale for the step, and holds no values
 * (not even zeros), so the caller stores (=) where
 * it would add (+=), which spares the zeroing and a read of the buffer; false when earlier
 * consumers' sums are there to add to. */
float *dc_grad_buf_w(dc_ctx *c, dc_tensor *t, bool *fresh);
/* Arena scratch memory valid until the ctx resets. */
void *dc_scratch(dc_ctx *c, size_t bytes);

/* Shorthand for ops with one or two inputs. */
#define DC_RECORD1(c, op, bw, out, a) dc_record((c), (op), (bw), (out), 1, (dc_tensor *const[]){(a)})
#define DC_RECORD2(c, op, bw, out, a, b) dc_record((c), (op), (bw), (out), 2, (dc_tensor *const[]){(a), (b)})
#define DC_NEEDS1(c, a) dc_needs_grad((c), 1, (dc_tensor *const[]){(a)})
#define DC_NEEDS2(c, a, b) dc_needs_grad((c), 2, (dc_tensor *const[]){(a), (b)})

#endif
