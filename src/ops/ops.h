/* ops: differentiable operations; forward and backward side by side, one file per family. */
#ifndef DC_OPS_H
#define DC_OPS_H

#include "../autograd/autograd.h"
#include "../kernels/kernels.h"

/* Returns x if contiguous, else a recorded contiguous copy. */
dc_tensor *dc_contig(dc_ctx *c, dc_tensor *x);
/* Common argument check: names the op in the message. */
#define DC_CHECK_ARGS(c, op, ...)                                                               \
    do {                                                                                          \
        if (!(c)) return dc_error_null(DC_ERR_ARG, "%s: context is NULL", op);                   \
        dc_tensor *const _args[] = {__VA_ARGS__};                                                 \
        for (size_t _i = 0; _i < sizeof _args / sizeof _args[0]; _i++)                           \
            if (!_args[_i]) return dc_error_null(DC_ERR_ARG, "%s: input %zu is NULL", op, _i);    \
    } while (0)

/* Row-major C[M,N] = alpha op(A) op(B) + beta C in the context's precision: with c->bf16 the
 * operands are rounded to bfloat16 and the products summed in float32 (dc_k_gemm_bf16, its
 * scratch from the step arena), else float32 (dc_k_gemm). Not for calls inside a parallel
 * region: those take their scratch beforehand (dc_op_gemm_scratch) and call the kernel. */
void dc_op_gemm(dc_ctx *c, bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const float *A, int64_t lda,
                const float *B, int64_t ldb, float beta, float *C, int64_t ldc);
/* n slots of `each` bytes of GEMM scratch from the arena when c->bf16 (NULL otherwise or when
 * out of memory: dc_k_gemm_bf16 then runs in float32). */
void *dc_op_gemm_scratch(dc_ctx *c, int n, size_t each);

/* Fused element-wise activation op used by layers (records one node). */
dc_tensor *dc_act_op(dc_ctx *c, dc_tensor *x, dc_activation a, float alpha);

/* conv2d with an element-wise activation applied to each image's output in cache (one node);
 * GELU, whose derivative needs its input, follows as a separate activation op instead. */
dc_tensor *dc_conv2d_act(dc_ctx *c, dc_tensor *x, dc_tensor *w, dc_tensor *b, int sh, int sw, const int *pad,
                         dc_activation act, float alpha);

#endif
