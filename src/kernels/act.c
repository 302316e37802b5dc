/* Element-wise activations and their derivatives. */
#include "kernels.h"

#include <math.h>

#define GELU_RSQRT2 0.70710678118654752f     /* 1 / sqrt 2 */
#define GELU_RSQRT2PI 0.39894228040143268f   /* 1 / sqrt(2 pi) */
#define GELU_K 0.79788456080286536f          /* sqrt(2 / pi) */
#define GELU_C 0.044715f

DC_CLONES void dc_k_act_forward(dc_activation a, float alpha, const float *x, float *y, int64_t n) {
    switch (a) {
    case DC_ACT_SIGMOID:
        DC_FOR(i, n, y[i] = 1.0f / (1.0f + expf(-x[i])););
        break;
    case DC_ACT_TANH:
        DC_FOR(i, n, y[i] = dc_fast_tanh(x[i]););
        break;
    case DC_ACT_RELU:
        DC_FOR(i, n, y[i] = x[i] > 0 ? x[i] : 0;);
        break;
    case DC_ACT_LEAKY_RELU:
        DC_FOR(i, n, y[i] = x[i] > 0 ? x[i] : alpha * x[i];);
        break;
    case DC_ACT_ELU:
        DC_FOR(i, n, y[i] = x[i] > 0 ? x[i] : alpha * expm1f(x[i]););
        break;
    case DC_ACT_GELU:
        DC_FOR(i, n, y[i] = 0.5f * x[i] * (1.0f + erff(x[i] * GELU_RSQRT2)););
        break;
    case DC_ACT_GELU_TANH:
        DC_FOR(i, n, y[i] = 0.5f * x[i] * (1.0f + tanhf(GELU_K * (x[i] + GELU_C * x[i] * x[i] * x[i]))););
        break;
    default:
        if (x != y)
            for (int64_t i = 0; i < n; i++) y[i] = x[i];
        break;
    }
}

/* For i < n: the statements given, which set float g, then gx[i] += g when acc, else gx[i] = g
 * (a gradient not yet written, stored without zeroing it first). */
#define ACT_BWD(...)                                                                               \
    do {                                                                                           \
        if (acc) DC_FOR(i, n, { __VA_ARGS__ gx[i] += g; });                                        \
        else DC_FOR(i, n, { __VA_ARGS__ gx[i] = g; });                                             \
    } while (0)

DC_CLONES void dc_k_act_backward(dc_activation a, float alpha, const float *x, const float *y,
                                 const float *gy, float *gx, int64_t n, bool acc) {
    switch (a) {
    case DC_ACT_SIGMOID:
        ACT_BWD(float g = gy[i] * y[i] * (1.0f - y[i]););
        break;
    case DC_ACT_TANH:
        ACT_BWD(float g = gy[i] * (1.0f - y[i] * y[i]););
        break;
    case DC_ACT_RELU:
        ACT_BWD(float g = y[i] > 0 ? gy[i] : 0;);
        break;
    case DC_ACT_LEAKY_RELU:
        ACT_BWD(float g = x[i] > 0 ? gy[i] : alpha * gy[i];);
        break;
    case DC_ACT_ELU:
        ACT_BWD(float g = x[i] > 0 ? gy[i] : gy[i] * (y[i] + alpha););
        break;
    case DC_ACT_GELU: /* Phi(x) + x phi(x) */
        ACT_BWD(float g = gy[i] * (0.5f * (1.0f + erff(x[i] * GELU_RSQRT2)) + x[i] * GELU_RSQRT2PI * expf(-0.5f * x[i] * x[i])););
        break;
    case DC_ACT_GELU_TANH: /* 0.5 (1 + t) + 0.5 x (1 - t^2) k (1 + 3 c x^2), t = tanh(k (x + c x^3)) */
        ACT_BWD(float xv = x[i], x2 = xv * xv, t = tanhf(GELU_K * (xv + GELU_C * x2 * xv));
                float g = gy[i] * (0.5f * (1.0f + t) + 0.5f * xv * (1.0f - t * t) * GELU_K * (1.0f + 3.0f * GELU_C * x2)););
        break;
    default:
        ACT_BWD(float g = gy[i];);
        break;
    }
}
#undef ACT_BWD

DC_CLONES void dc_k_act_grad_from_output(dc_activation a, float alpha, const float *y, const float *gy, float *gz, int64_t n) {
    switch (a) {
    case DC_ACT_SIGMOID:
#pragma omp simd
        for (int64_t i = 0; i < n; i++) gz[i] = gy[i] * y[i] * (1.0f - y[i]);
        break;
    case DC_ACT_TANH:
#pragma omp simd
        for (int64_t i = 0; i < n; i++) gz[i] = gy[i] * (1.0f - y[i] * y[i]);
        break;
    case DC_ACT_RELU:
#pragma omp simd
        for (int64_t i = 0; i < n; i++) gz[i] = y[i] > 0 ? gy[i] : 0.0f;
        break;
    case DC_ACT_LEAKY_RELU:
#pragma omp simd
        for (int64_t i = 0; i < n; i++) gz[i] = y[i] > 0 ? gy[i] : alpha * gy[i];
        break;
    case DC_ACT_ELU:
#pragma omp simd
        for (int64_t i = 0; i < n; i++) gz[i] = y[i] > 0 ? gy[i] : gy[i] * (y[i] + alpha);
        break;
    default:
        for (int64_t i = 0; i < n; i++) gz[i] = gy[i];
        break;
    }
}
