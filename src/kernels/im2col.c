/* im2col / col2im for convolutions: rows are (channel, ky, kx), columns output positions. */
#include "kernels.h"

#include <string.h>

DC_CLONES void dc_k_im2col_ld(const dc_conv_geom *g, const float *x, float *col, int64_t ld) {
    const int64_t OH = g->OH, OW = g->OW, H = g->H, W = g->W;
    for (int64_t c = 0; c < g->C; c++)
        for (int64_t ky = 0; ky < g->kh; ky++)
            for (int64_t kx = 0; kx < g->kw; kx++) {
                float *dst = col + ((c * g->kh + ky) * g->kw + kx) * ld;
                const float *src = x + c * H * W;
                for (int64_t oy = 0; oy < OH; oy++) {
                    int64_t iy = oy * g->sh - g->pt + ky;
                    float *d = dst + oy * OW;
                    if (iy < 0 || iy >= H) {
                        memset(d, 0, (size_t)OW * sizeof(float));
                        continue;
                    }
                    const float *s = src + iy * W;
                    int64_t ix0 = kx - g->pl;
                    if (g->sw == 1) {
                        /* contiguous run; zero the parts that fall in the padding */
                        int64_t lo = ix0 < 0 ? -ix0 : 0, hi = W - ix0 < OW ? W - ix0 : OW;
                        if (hi < lo) hi = lo;
                        for (int64_t ox = 0; ox < lo; ox++) d[ox] = 0;
                        memcpy(d + lo, s + ix0 + lo, (size_t)(hi - lo) * sizeof(float));
                        for (int64_t ox = hi; ox < OW; ox++) d[ox] = 0;
                    } else {
                        for (int64_t ox = 0; ox < OW; ox++) {
                            int64_t ix = ox * g->sw + ix0;
                            d[ox] = (ix >= 0 && ix < W) ? s[ix] : 0;
                        }
                    }
                }
            }
}

DC_CLONES void dc_k_col2im_ld(const dc_conv_geom *g, const float *col, int64_t ld, float *x) {
    const int64_t OH = g->OH, OW = g->OW, H = g->H, W = g->W;
    for (int64_t c = 0; c < g->C; c++)
        for (int64_t ky = 0; ky < g->kh; ky++)
            for (int64_t kx = 0; kx < g->kw; kx++) {
                const float *src = col + ((c * g->kh + ky) * g->kw + kx) * ld;
                float *dst = x + c * H * W;
                for (int64_t oy = 0; oy < OH; oy++) {
                    int64_t iy = oy * g->sh - g->pt + ky;
                    if (iy < 0 || iy >= H) continue;
                    const float *s = src + oy * OW;
                    float *d = dst + iy * W;
                    int64_t ix0 = kx - g->pl;
                    for (int64_t ox = 0; ox < OW; ox++) {
                        int64_t ix = ox * g->sw + ix0;
                        if (ix >= 0 && ix < W) d[ix] += s[ox];
                    }
                }
            }
}

void dc_k_im2col(const dc_conv_geom *g, const float *x, float *col) { dc_k_im2col_ld(g, x, col, g->OH * g->OW); }

void dc_k_col2im(const dc_conv_geom *g, const float *col, float *x) { dc_k_col2im_ld(g, col, g->OH * g->OW, x); }
