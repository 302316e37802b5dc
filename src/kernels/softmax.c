/* Row-wise softmax and log-softmax, max-subtracted for stability. */
#include "kernels.h"

#include <math.h>

DC_CLONES void dc_k_softmax_rows(const float *x, float *y, int64_t rows, int64_t cols, bool log) {
    DC_FOR_ROWS(r, rows, rows * cols, {
        const float *xr = x + r * cols;
        float *yr = y + r * cols;
        float m = -INFINITY;
        for (int64_t j = 0; j < cols; j++) m = xr[j] > m ? xr[j] : m;
        float s = 0;
        for (int64_t j = 0; j < cols; j++) s += expf(xr[j] - m);
        if (log) {
            float lse = m + logf(s);
            for (int64_t j = 0; j < cols; j++) yr[j] = xr[j] - lse;
        } else {
            float inv = 1.0f / s;
            for (int64_t j = 0; j < cols; j++) yr[j] = expf(xr[j] - m) * inv;
        }
    });
}

DC_CLONES void dc_k_softmax_rows_backward(const float *y, const float *gy, float *gx, int64_t rows,
                                          int64_t cols, bool log) {
    DC_FOR_ROWS(r, rows, rows * cols, {
        const float *yr = y + r * cols, *gr = gy + r * cols;
        float *xr = gx + r * cols;
        float s = 0;
        if (log) {
            for (int64_t j = 0; j < cols; j++) s += gr[j];
            for (int64_t j = 0; j < cols; j++) xr[j] += gr[j] - expf(yr[j]) * s;
        } else {
            for (int64_t j = 0; j < cols; j++) s += gr[j] * yr[j];
            for (int64_t j = 0; j < cols; j++) xr[j] += yr[j] * (gr[j] - s);
        }
    });
}
