/*
 * deepc/kernels.h - floor kernels (src/kernels): raw compute on pointers and sizes. Its public
 * part is the enumeration of activations, which the kernels evaluate.
 */
#ifndef DEEPC_KERNELS_H
#define DEEPC_KERNELS_H

#ifdef __cplusplus
extern "C" {
#endif

/* What follows is deepc's public API, exported by libdeepc.so (whose other symbols are hidden). */
#if defined(__GNUC__)
#pragma GCC visibility push(default)
#endif

/* Activations: the element-wise functions (and softmax over the last axis) that the kernels
 * compute, the ops and layers apply (dc_activate, dc_dense, ...) and dc_activation_name names. */
typedef enum dc_activation {
    DC_ACT_NONE = 0,   /* f(x) = x */
    DC_ACT_SIGMOID,    /* f(x) = 1 / (1 + e^-x) */
    DC_ACT_TANH,       /* f(x) = tanh x */
    DC_ACT_RELU,       /* f(x) = max(0, x) */
    DC_ACT_LEAKY_RELU, /* f(x) = x if x > 0 else alpha x (alpha 0.01 unless set) */
    DC_ACT_ELU,        /* f(x) = x if x > 0 else alpha (e^x - 1) (alpha 1) */
    DC_ACT_SOFTMAX,    /* f(x)_i = e^x_i / sum_j e^x_j over the last axis */
    DC_ACT_LOG_SOFTMAX,/* f(x)_i = x_i - log sum_j e^x_j over the last axis */
    DC_ACT_GELU,       /* f(x) = x Phi(x) = 0.5 x (1 + erf(x / sqrt 2)) (PyTorch's exact GELU) */
    DC_ACT_GELU_TANH,  /* f(x) = 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) (approximate='tanh') */
    DC_ACT_COUNT
} dc_activation;

#if defined(__GNUC__)
#pragma GCC visibility pop
#endif

#ifdef __cplusplus
}
#endif
#endif /* DEEPC_KERNELS_H */
