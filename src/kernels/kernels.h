/* kernels: raw compute on pointers and sizes. No tensors, no graph, no allocation. */
#ifndef DC_KERNELS_H
#define DC_KERNELS_H

#include <stdbool.h>
#include <stdint.h>

#include "deepc.h"

/* Row-major C[M,N] = alpha op(A) op(B) + beta C through OpenBLAS; op = transpose if tX. */
void dc_k_gemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const float *A,
               int64_t lda, const float *B, int64_t ldb, float beta, float *C, int64_t ldc);

/* y = f(x) element-wise for the element-wise activations (not softmax). */
void dc_k_act_forward(dc_activation a, float alpha, const float *x, float *y, int64_t n);
/* gx += gy * f'(x), written in terms of y = f(x) (and x where needed). */
void dc_k_act_backward(dc_activation a, float alpha, const float *x, const float *y,
                       const float *gy, float *gx, int64_t n);

/* gz = gy * f'(x) written (not accumulated), from y = f(x) alone: valid for every
 * element-wise activation since leaky ReLU and ELU outputs have their input's sign. */
void dc_k_act_grad_from_output(dc_activation a, float alpha, const float *y, const float *gy, float *gz, int64_t n);

/* Row-wise over [rows, cols]: y = softmax(x) or log_softmax(x), stable. */
void dc_k_softmax_rows(const float *x, float *y, int64_t rows, int64_t cols, bool log);
/* gx += y * (gy - sum(gy * y)) (softmax) or gy - exp(y) * sum(gy) (log-softmax). */
void dc_k_softmax_rows_backward(const float *y, const float *gy, float *gx, int64_t rows,
                                int64_t cols, bool log);

/* Geometry of a 2-D convolution over one image: input [C, H, W], kernel [kh, kw], stride,
 * zero padding (top, left; bottom/right are implied by OH/OW), dilation 1, output [OH, OW]. */
typedef struct dc_conv_geom {
    int64_t C, H, W, kh, kw, sh, sw, pt, pl, OH, OW;
} dc_conv_geom;
/* col[C*kh*kw, OH*OW] from one image x[C, H, W]. */
void dc_k_im2col(const dc_conv_geom *g, const float *x, float *col);
/* x[C, H, W] += col2im(col[C*kh*kw, OH*OW]). */
void dc_k_col2im(const dc_conv_geom *g, const float *col, float *x);

/* Below this many elements a loop runs on one thread. */
#define DC_PAR_MIN 32768

#endif
