/* ops: differentiable operations; forward and backward side by side, one file per family. */
#ifndef DC_OPS_H
#define DC_OPS_H

#include "deepc/ops.h"

#include "../autograd/autograd.h"
#include "../base/comm.h"
#include "../kernels/kernels.h"

#include <math.h>

/* Returns x if contiguous, else a recorded contiguous copy. */
dc_tensor *dc_contig(dc_ctx *c, dc_tensor *x);
/* Common argument check: names the op in the message. A NULL input that an earlier failure
 * produced (an error is recorded) passes through: the op returns NULL keeping that error's status
 * and message, so a chain of ops needs no test between calls. A NULL input with no error
 * recorded is this op's argument error. */
#define DC_CHECK_ARGS(c, op, ...)                                                               \
    do {                                                                                          \
        if (!(c)) return dc_error_null(DC_ERR_ARG, "%s: context is NULL", op);                   \
        dc_tensor *const _args[] = {__VA_ARGS__};                                                 \
        for (size_t _i = 0; _i < sizeof _args / sizeof _args[0]; _i++)                           \
            if (!_args[_i]) {                                                                     \
                if (dc_last_status() != DC_OK) return NULL;                                       \
                return dc_error_null(DC_ERR_ARG, "%s: input %zu is NULL", op, _i);                \
            }                                                                                     \
    } while (0)

/* Row-major C[M,N] = alpha op(A) op(B) + beta C in the context's precision: with c->bf16 the
 * operands are rounded to bfloat16 and the products summed in float32 (dc_k_gemm_bf16, its
 * scratch from the step arena), else float32 (dc_k_gemm). Not for calls inside a parallel
 * region: those take their scratch beforehand (dc_op_gemm_scratch) and call the kernel. */
void dc_op_gemm(dc_ctx *c, bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const float *A, int64_t lda,
                const float *B, int64_t ldb, float beta, float *C, int64_t ldc);
/* dc_op_gemm, split over threads by C's rows when thin (dc_k_gemm_ex): for weight gradients. */
void dc_op_gemm_ex(dc_ctx *c, bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const float *A, int64_t lda,
                   const float *B, int64_t ldb, float beta, float *C, int64_t ldc, bool split_rows);
/* n slots of `each` bytes of GEMM scratch from the arena when c->bf16 (NULL otherwise or when
 * out of memory: dc_k_gemm_bf16 then runs in float32). */
void *dc_op_gemm_scratch(dc_ctx *c, int n, size_t each);

/* dc_batch_norm; with a communicator (a data-parallel fit), training takes the batch statistics,
 * and the mean output gradients of backward, over every rank's batch, this rank's rows weighing
 * comm_w of the global batch. comm NULL: this process's batch alone. */
dc_tensor *dc_batch_norm_op(dc_ctx *c, dc_tensor *x, dc_tensor *gamma, dc_tensor *beta, dc_tensor *running_mean,
                            dc_tensor *running_var, float momentum, float eps, bool training, const dc_comm *comm, float comm_w);

/* Fused element-wise activation op used by layers (records one node). */
dc_tensor *dc_act_op(dc_ctx *c, dc_tensor *x, dc_activation a, float alpha);

/* conv2d with an element-wise activation applied to each image's output in cache (one node);
 * GELU, whose derivative needs its input, follows as a separate activation op instead. */
dc_tensor *dc_conv2d_act(dc_ctx *c, dc_tensor *x, dc_tensor *w, dc_tensor *b, int sh, int sw, const int *pad,
                         dc_activation act, float alpha);

/* Direct convolution (conv_direct.c): stride 1 on a CPU with AVX-512, for few taps (C * kh * kw
 * <= DC_CONV_DIRECT_TAPS: dc_conv_direct_taps) or few filters (F <= DC_CONV_DIRECT_FILTERS),
 * kernels larger than 1 x 1: where im2col + GEMM moves more memory than it multiplies. dc_conv_direct_image: z[F, OH, OW] = bias +
 * conv(x) of one image x[C, H, W], each output summed bias first then tap by tap in (c, ky, kx)
 * order. The pool variant (dc_conv_direct_pool_applies: few taps, a 2x2 stride-2 pool after no
 * activation, ReLU or leaky ReLU with alpha >= 0) gives y[F, PH, PW] and arg bit for bit as
 * dc_conv_direct_image, the activation and dc_k_maxpool_plane would. dc_conv_direct_pool_wgrad
 * (few taps): gw[F, C*kh*kw] += the weight gradient of one image from the pooled gradient ga[F,
 * PHW] (after the activation's) and the maxima's indices. dc_conv_direct_backward_image (when
 * dc_conv_direct_backward_applies: F * kh * kw <= DC_CONV_DIRECT_TAPS, not 1 x 1, padding below the
 * kernel):
 * gw += the weight gradient and gx[C, H, W] += the input gradient of one image (either NULL to
 * skip) from its output gradient gy[F, OH, OW]. Each call takes dc_conv_direct_scratch(g) (the
 * backward: dc_conv_direct_backward_scratch(g, F)) bytes of its own scratch (any alignment). */
#define DC_CONV_DIRECT_TAPS 32
#define DC_CONV_DIRECT_FILTERS 2
bool dc_conv_direct_taps(const dc_conv_geom *g);
bool dc_conv_direct_applies(const dc_conv_geom *g, int64_t F);
/* on = false: the im2col path everywhere (also DEEPC_CONV_DIRECT=off in the environment). */
void dc_conv_direct_enable(bool on);
bool dc_conv_direct_pool_applies(const dc_conv_geom *g, dc_activation act, float alpha, int pkh, int pkw, int psh, int psw);
bool dc_conv_direct_backward_applies(const dc_conv_geom *g, int64_t F);
size_t dc_conv_direct_scratch(const dc_conv_geom *g);
size_t dc_conv_direct_backward_scratch(const dc_conv_geom *g, int64_t F);
void dc_conv_direct_image(const dc_conv_geom *g, int64_t F, const float *x, const float *w, const float *b, float *z, void *scratch);
void dc_conv_direct_pool_image(const dc_conv_geom *g, int64_t F, const float *x, const float *w, const float *b, dc_activation act,
                               float alpha, int64_t PH, int64_t PW, float *y, int32_t *arg, void *scratch);
void dc_conv_direct_pool_wgrad(const dc_conv_geom *g, int64_t F, int64_t PHW, const float *x, const float *ga, const int32_t *arg,
                               float *gw, void *scratch);
void dc_conv_direct_backward_image(const dc_conv_geom *g, int64_t F, const float *x, const float *gy, const float *w, float *gx,
                                   float *gw, void *scratch);
static inline float *dc_conv_direct_align(void *p) { return (float *)(((uintptr_t)p + 63) & ~(uintptr_t)63); }

/* dc_max_pool2d(dc_conv2d_act(x, w, b, ...), pkh, pkw, psh, psw) as one node: each image's
 * convolution output stays in a per-thread buffer while it is pooled, and backward keeps only the
 * pooled output and the index of each maximum, so the full-size convolution output is never
 * written to memory or read back. GELU falls back to the separate ops. */
dc_tensor *dc_conv2d_act_maxpool(dc_ctx *c, dc_tensor *x, dc_tensor *w, dc_tensor *b, int sh, int sw, const int *pad,
                                 dc_activation act, float alpha, int pkh, int pkw, int psh, int psw);

/* One plane of width W max-pooled into [OH, OW] (no padding); ap, when not NULL, gets each
 * maximum's index in the plane (the first maximum, or the last NaN, in row-major window order). */
void dc_k_maxpool_plane(const float *xp, int64_t W, int kh, int kw, int sh, int sw, int64_t OH, int64_t OW, float *yp,
                        int32_t *ap);

/* Attention over at most 64 keys, with heads at most 64 wide, runs a fused AVX-512 kernel
 * (attention.c); on (the test hook), or DEEPC_ATTENTION_FUSED=off read once, sends it through
 * the general path of GEMMs instead, so that tests can compare the two in one process. */
void dc_attention_force_general(bool on);

/* log(e^a + e^b), exact for -inf operands; NaN stays NaN (the CTC loss and its beam search). */
static inline double dc_log_add_exp(double a, double b) {
    if (a < b) {
        double t = a;
        a = b;
        b = t;
    }
    if (b == -INFINITY) return a;
    return a + log1p(exp(b - a));
}

#endif
