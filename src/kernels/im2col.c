/* im2col / col2im for convolutions: rows are (channel, ky, kx), columns output positions. */
#include "kernels.h"

#include <string.h>

/* Whether tap (ky, kx) reads whole input rows, consecutive ones for consecutive output rows:
 * unit strides, the output as wide as the input and the tap on the column of no offset (a 1x1
 * convolution's only tap, the centre column of a "same" kernel). If so, the output rows
 * y0 .. y1 - 1 are those that fall inside the input, and the plane is one run of memory. */
static inline bool whole_rows(const dc_conv_geom *g, int64_t ky, int64_t kx, int64_t *y0, int64_t *y1) {
    if (g->sh != 1 || g->sw != 1 || g->OW != g->W || kx != g->pl) return false;
    const int64_t off = ky - g->pt; /* iy = oy + off */
    int64_t lo = off < 0 ? -off : 0, hi = g->H - off < g->OH ? g->H - off : g->OH;
    if (hi < lo) hi = lo;
    *y0 = lo;
    *y1 = hi;
    return true;
}

DC_CLONES void dc_k_im2col_ld(const dc_conv_geom *g, const float *x, float *col, int64_t ld) {
    const int64_t OH = g->OH, OW = g->OW, H = g->H, W = g->W;
    for (int64_t c = 0; c < g->C; c++)
        for (int64_t ky = 0; ky < g->kh; ky++)
            for (int64_t kx = 0; kx < g->kw; kx++) {
                float *dst = col + ((c * g->kh + ky) * g->kw + kx) * ld;
                const float *src = x + c * H * W;
                int64_t y0, y1;
                if (whole_rows(g, ky, kx, &y0, &y1)) {
                    /* the tap's rows are whole input rows, one after another: one copy */
                    memset(dst, 0, (size_t)(y0 * OW) * sizeof(float));
                    memcpy(dst + y0 * OW, src + (y0 - g->pt + ky) * W, (size_t)((y1 - y0) * OW) * sizeof(float));
                    memset(dst + y1 * OW, 0, (size_t)((OH - y1) * OW) * sizeof(float));
                    continue;
                }
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
                int64_t y0, y1;
                if (whole_rows(g, ky, kx, &y0, &y1)) {
                    const float *s = src + y0 * OW;
                    float *d = dst + (y0 - g->pt + ky) * W;
                    for (int64_t i = 0; i < (y1 - y0) * OW; i++) d[i] += s[i];
                    continue;
                }
                for (int64_t oy = 0; oy < OH; oy++) {
                    int64_t iy = oy * g->sh - g->pt + ky;
                    if (iy < 0 || iy >= H) continue;
                    const float *s = src + oy * OW;
                    float *d = dst + iy * W;
                    int64_t ix0 = kx - g->pl;
                    if (g->sw == 1) {
                        /* the run of ox whose ix = ox + ix0 falls inside the row */
                        int64_t lo = ix0 < 0 ? -ix0 : 0, hi = W - ix0 < OW ? W - ix0 : OW;
                        for (int64_t ox = lo; ox < hi; ox++) d[ox + ix0] += s[ox];
                        continue;
                    }
                    for (int64_t ox = 0; ox < OW; ox++) {
                        int64_t ix = ox * g->sw + ix0;
                        if (ix >= 0 && ix < W) d[ix] += s[ox];
                    }
                }
            }
}

void dc_k_im2col(const dc_conv_geom *g, const float *x, float *col) { dc_k_im2col_ld(g, x, col, g->OH * g->OW); }

void dc_k_col2im(const dc_conv_geom *g, const float *col, float *x) { dc_k_col2im_ld(g, col, g->OH * g->OW, x); }
