/* 2-D convolution (NCHW) by im2col + GEMM, and its transpose. Images are processed in
 * parallel, one im2col buffer per thread, with single-threaded GEMMs inside; a batch smaller
 * than the thread count runs image by image with OpenBLAS's own threads instead. */
#include "ops.h"

#include <string.h>

/* Checks x [N,C,H,W] against a kernel of [kh, kw] and fills the geometry. */
static bool conv_geom(const char *op, const dc_tensor *x, int64_t C, int64_t kh, int64_t kw, int sh, int sw,
                      const int *pad, dc_conv_geom *g) {
    if (x->ndim != 4) {
        dc_error(DC_ERR_SHAPE, "%s: expected input [N, C, H, W], got %s", op, dc_tshape(x, 0));
        return false;
    }
    if (sh <= 0 || sw <= 0) {
        dc_error(DC_ERR_ARG, "%s: stride must be positive, got (%d, %d)", op, sh, sw);
        return false;
    }
    int p[4] = {0, 0, 0, 0};
    if (pad) memcpy(p, pad, sizeof p);
    if (p[0] < 0 || p[1] < 0 || p[2] < 0 || p[3] < 0) {
        dc_error(DC_ERR_ARG, "%s: negative padding (%d, %d, %d, %d)", op, p[0], p[1], p[2], p[3]);
        return false;
    }
    if (x->shape[1] != C) {
        dc_error(DC_ERR_SHAPE, "%s: expected %lld input channels, got %lld (input %s)", op, (long long)C,
                 (long long)x->shape[1], dc_tshape(x, 0));
        return false;
    }
    int64_t H = x->shape[2], W = x->shape[3];
    if (H + p[0] + p[2] < kh || W + p[1] + p[3] < kw) {
        dc_error(DC_ERR_SHAPE, "%s: kernel %lldx%lld is larger than the padded input %lldx%lld (input %s)", op,
                 (long long)kh, (long long)kw, (long long)(H + p[0] + p[2]), (long long)(W + p[1] + p[3]), dc_tshape(x, 0));
        return false;
    }
    *g = (dc_conv_geom){C, H, W, kh, kw, sh, sw, p[0], p[1], (H + p[0] + p[2] - kh) / sh + 1, (W + p[1] + p[3] - kw) / sw + 1};
    return true;
}

typedef struct conv_saved {
    dc_conv_geom g;
    dc_activation act; /* applied in place to each image's output while it is in cache */
    float alpha;
} conv_saved;

/* Records y = op(x, w, b) with its geometry and fused activation when a gradient is needed. */
static dc_tensor *record_conv(dc_ctx *c, const char *op, dc_backward_fn bw, dc_tensor *y, dc_tensor *x, dc_tensor *w,
                              dc_tensor *b, const dc_conv_geom *g, dc_activation act, float alpha) {
    dc_tensor *in3[3] = {x, w, b};
    if (!dc_needs_grad(c, 3, in3)) return y;
    conv_saved *s = dc_scratch(c, sizeof *s);
    dc_node *n = s ? dc_record(c, op, bw, y, 3, in3) : NULL;
    if (!n) return NULL;
    s->g = *g;
    s->act = act;
    s->alpha = alpha;
    n->saved = s;
    return y;
}

/* gb[f] += sum over images and positions of gy[n, f, :] (gy [N, F, P]) */
DC_CLONES static void bias_grad(const float *gy, int64_t N, int64_t F, int64_t P, float *gb) {
    for (int64_t n = 0; n < N; n++)
        for (int64_t f = 0; f < F; f++) {
            const float *r = gy + (n * F + f) * P;
            float s = 0;
#pragma omp simd reduction(+ : s)
            for (int64_t j = 0; j < P; j++) s += r[j];
            gb[f] += s;
        }
}

/* Images per product on the im2col path. A small image's product has few columns (49 for 7x7)
 * and runs far below the GEMM's rate, so the columns of several images are put side by side,
 * col[CKK, G * OHW], until the product has CONV_GROUP_COLS columns, with at most
 * CONV_GROUP_BYTES of columns per thread. Outputs of CONV_GROUP_BELOW positions or more stay one
 * image per product: from 14x14 up, the copies into and out of the group cost about what the
 * wider product gains (measured in the layer sweep, docs/sweep.md). A function of the geometry
 * and the batch only, so neither the grouping nor any sum depends on the thread count. */
#define CONV_GROUP_COLS 512
#define CONV_GROUP_BELOW 128
#define CONV_GROUP_BYTES ((int64_t)8 << 20)
static int64_t conv_group(const dc_conv_geom *g, int64_t N) {
    const int64_t OHW = g->OH * g->OW, CKK = g->C * g->kh * g->kw;
    if (OHW >= CONV_GROUP_BELOW || N <= 1) return 1;
    int64_t G = (CONV_GROUP_COLS + OHW - 1) / OHW, cap = CONV_GROUP_BYTES / (int64_t)sizeof(float) / (CKK * OHW);
    if (G > cap) G = cap;
    if (G > N) G = N;
    return G < 1 ? 1 : G;
}

/* Bytes of per-thread scratch of the forward convolution of a group of G images: the direct
 * kernel's padded copies for few taps or filters (dc_conv_direct_applies), else the group's im2col columns
 * and, for G > 1, its output [F, G * OHW] before it is copied to the images. */
static size_t conv_fwd_scratch(const dc_conv_geom *g, int64_t F, int64_t G) {
    if (dc_conv_direct_applies(g, F)) return dc_conv_direct_scratch(g);
    const int64_t OHW = g->OH * g->OW;
    return (size_t)(g->C * g->kh * g->kw * G * OHW + (G > 1 ? F * G * OHW : 0)) * sizeof(float);
}

/* z[F, gn * OHW] = W[F, CKK] . col + b for the gn consecutive images from x, col[CKK, gn * OHW]
 * their im2col columns side by side. */
static void conv_group_product(const dc_conv_geom *g, int64_t F, int64_t gn, const float *x, const float *w, const float *b,
                               float *z, float *col, char *ws) {
    const int64_t CKK = g->C * g->kh * g->kw, OHW = g->OH * g->OW, xs = g->C * g->H * g->W, ld = gn * OHW;
    for (int64_t j = 0; j < gn; j++) dc_k_im2col_ld(g, x + j * xs, col + j * OHW, ld);
    if (b)
        for (int64_t f = 0; f < F; f++)
            for (int64_t j = 0; j < ld; j++) z[f * ld + j] = b[f];
    dc_k_gemm_bf16(false, false, F, ld, CKK, 1, w, CKK, col, ld, b ? 1.0f : 0.0f, z, ld, ws);
}

/* The convolution of a group of gn images as planes: plane (j, f) of z[F, gn * OHW] starts at
 * z + f * gn * OHW + j * OHW. */
static inline float *group_plane(float *z, int64_t gn, int64_t OHW, int64_t j, int64_t f) { return z + (f * gn + j) * OHW; }

DC_CLONES static void conv_forward_images(const dc_conv_geom *g, int64_t N, int64_t F, const float *x, const float *w,
                                          const float *b, float *y, float *scratch, char *ws, size_t wsz, dc_activation act,
                                          float alpha) {
    const int64_t CKK = g->C * g->kh * g->kw, OHW = g->OH * g->OW, xs = g->C * g->H * g->W;
    const bool direct = dc_conv_direct_applies(g, F);
    const int64_t G = direct ? 1 : conv_group(g, N), ng = (N + G - 1) / G;
    const int64_t per = (int64_t)(conv_fwd_scratch(g, F, G) / sizeof(float));
    bool par = ng >= dc_max_threads() && dc_max_threads() > 1;
    DC_PAR_FOR(par, k, ng, {
        int t = par ? dc_thread_id() : 0;
        const int64_t n0 = k * G, gn = N - n0 < G ? N - n0 : G;
        float *sc = scratch + t * per, *yn = y + n0 * F * OHW;
        if (direct) {
            dc_conv_direct_image(g, F, x + n0 * xs, w, b, yn, sc);
        } else if (gn == 1) {
            conv_group_product(g, F, 1, x + n0 * xs, w, b, yn, sc, ws ? ws + t * wsz : NULL);
        } else {
            float *z = sc + CKK * G * OHW;
            conv_group_product(g, F, gn, x + n0 * xs, w, b, z, sc, ws ? ws + t * wsz : NULL);
            for (int64_t j = 0; j < gn; j++)
                for (int64_t f = 0; f < F; f++) memcpy(yn + (j * F + f) * OHW, group_plane(z, gn, OHW, j, f), (size_t)OHW * sizeof(float));
        }
        if (act != DC_ACT_NONE) dc_k_act_forward(act, alpha, yn, yn, gn * F * OHW);
    });
}

DC_CLONES static void conv_backward(dc_ctx *c, dc_node *nd) {
    dc_tensor *x = nd->in[0], *w = nd->in[1], *b = nd->in[2];
    const conv_saved *sv = nd->saved;
    const dc_conv_geom *g = &sv->g;
    int64_t N = x->shape[0], F = w->shape[0];
    const int64_t CKK = g->C * g->kh * g->kw, OHW = g->OH * g->OW, xs = g->C * g->H * g->W;
    float *gx = dc_grad_buf(c, x), *gw = dc_grad_buf(c, w), *gb = b ? dc_grad_buf(c, b) : NULL;
    const float *gy = nd->out->grad->data;
    if (sv->act != DC_ACT_NONE) {
        /* through the fused activation first; its derivative is a function of the output
         * (for leaky ReLU and ELU the output has the sign of the input) */
        float *gz = dc_scratch(c, (size_t)nd->out->numel * sizeof(float));
        if (!gz) {
            c->oom = true;
            return;
        }
        const float *yv = nd->out->data;
        int64_t per = F * OHW;
        DC_PAR_FOR(nd->out->numel > DC_PAR_MIN, n, N,
                   dc_k_act_grad_from_output(sv->act, sv->alpha, yv + n * per, gy + n * per, gz + n * per, per););
        gy = gz;
    }
    if (gb) bias_grad(gy, N, F, OHW, gb);
    if (!gx && !gw) return;
    if (dc_conv_direct_backward_applies(g, F)) {
        /* few filters: both gradients as direct convolutions of the padded images (conv_direct.c),
         * without the im2col columns, which for one filter are C * kh * kw times the output */
        const int nb = dc_sum_parts(N);
        const size_t per = dc_conv_direct_backward_scratch(g, F);
        char *sc = dc_scratch(c, (size_t)nb * per);
        float *gws = gw && nb > 1 ? dc_scratch(c, (size_t)(nb * F * CKK) * sizeof(float)) : NULL;
        if (!sc || (gw && nb > 1 && !gws)) {
            c->oom = true;
            return;
        }
        if (gws) memset(gws, 0, (size_t)(nb * F * CKK) * sizeof(float));
        DC_PAR_FOR(nb > 1, t, nb,
            for (int64_t n = N * t / nb; n < N * (t + 1) / nb; n++)
                dc_conv_direct_backward_image(g, F, x->data + n * xs, gy + n * F * OHW, w->data, gx ? gx + n * xs : NULL,
                                              gw ? (gws ? gws + t * F * CKK : gw) : NULL, sc + t * per););
        for (int t = 0; gws && t < nb; t++)
            for (int64_t i = 0; i < F * CKK; i++) gw[i] += gws[t * F * CKK + i];
        return;
    }
    /* nb parts of the batch, each with its own im2col buffer and partial dW, added in order; in a
     * part, groups of G images side by side (conv_group) make each product wider */
    const int nb = dc_sum_parts(N);
    const bool par = nb > 1;
    const int64_t G = conv_group(g, (N + nb - 1) / nb), per = CKK * G * OHW + (G > 1 ? F * G * OHW : 0);
    float *cols = dc_scratch(c, (size_t)(nb * per) * sizeof(float));
    size_t wsz = dc_k_gemm_bf16_scratch(F, CKK, G * OHW), wsx = dc_k_gemm_bf16_scratch(CKK, G * OHW, F);
    if (wsx > wsz) wsz = wsx;
    char *ws = dc_op_gemm_scratch(c, nb, wsz);
    float *gws = gw && par ? dc_scratch(c, (size_t)(nb * F * CKK) * sizeof(float)) : NULL;
    if (!cols || (gw && par && !gws)) {
        c->oom = true;
        return;
    }
    if (gws) memset(gws, 0, (size_t)(nb * F * CKK) * sizeof(float));
    DC_PAR_FOR(par, t, nb, {
        const int64_t hi = N * (t + 1) / nb;
        for (int64_t n0 = N * t / nb; n0 < hi; n0 += G) {
            const int64_t gn = hi - n0 < G ? hi - n0 : G, ld = gn * OHW;
            float *col = cols + t * per;
            /* dY of the group as [F, gn * OHW] */
            const float *gyg = gy + n0 * F * OHW;
            if (gn > 1) {
                float *d = col + CKK * G * OHW;
                for (int64_t j = 0; j < gn; j++)
                    for (int64_t f = 0; f < F; f++) memcpy(group_plane(d, gn, OHW, j, f), gyg + (j * F + f) * OHW, (size_t)OHW * sizeof(float));
                gyg = d;
            }
            if (gw) {
                for (int64_t j = 0; j < gn; j++) dc_k_im2col_ld(g, x->data + (n0 + j) * xs, col + j * OHW, ld);
                /* dW[F, CKK] += dY[F, gn OHW] . col^T */
                dc_k_gemm_bf16(false, true, F, CKK, ld, 1, gyg, ld, col, ld, 1, gws ? gws + t * F * CKK : gw, CKK,
                               ws ? ws + t * wsz : NULL);
            }
            if (gx) {
                /* dcol[CKK, gn OHW] = W^T . dY, then scattered back image by image */
                dc_k_gemm_bf16(true, false, CKK, ld, F, 1, w->data, CKK, gyg, ld, 0, col, ld, ws ? ws + t * wsz : NULL);
                for (int64_t j = 0; j < gn; j++) dc_k_col2im_ld(g, col + j * OHW, ld, gx + (n0 + j) * xs);
            }
        }
    });
    if (gws)
        for (int t = 0; t < nb; t++)
            for (int64_t i = 0; i < F * CKK; i++) gw[i] += gws[t * F * CKK + i];
}

dc_tensor *dc_conv2d(dc_ctx *c, dc_tensor *x, dc_tensor *w, dc_tensor *b, int sh, int sw, const int *pad) {
    return dc_conv2d_act(c, x, w, b, sh, sw, pad, DC_ACT_NONE, 0);
}

/* The checks and contiguous operands shared by conv2d and its pooled form. */
static bool conv_prepare(dc_ctx *c, const char *op, dc_tensor **x, dc_tensor **w, dc_tensor **b, int sh, int sw,
                         const int *pad, dc_conv_geom *g) {
    if ((*w)->ndim != 4) {
        dc_error(DC_ERR_SHAPE, "%s: kernel must be [F, C, kh, kw], got %s", op, dc_tshape(*w, 0));
        return false;
    }
    int64_t F = (*w)->shape[0];
    if (*b && (*b)->numel != F) {
        dc_error(DC_ERR_SHAPE, "%s: bias has %lld elements for %lld filters", op, (long long)(*b)->numel, (long long)F);
        return false;
    }
    if (!conv_geom(op, *x, (*w)->shape[1], (*w)->shape[2], (*w)->shape[3], sh, sw, pad, g)) return false;
    return (*x = dc_contig(c, *x)) && (*w = dc_contig(c, *w)) && (!*b || (*b = dc_contig(c, *b)));
}

dc_tensor *dc_conv2d_act(dc_ctx *c, dc_tensor *x, dc_tensor *w, dc_tensor *b, int sh, int sw, const int *pad,
                         dc_activation act, float alpha) {
    DC_CHECK_ARGS(c, "conv2d", x, w);
    if ((unsigned)act >= DC_ACT_COUNT || act == DC_ACT_SOFTMAX || act == DC_ACT_LOG_SOFTMAX)
        return dc_error_null(DC_ERR_ARG, "conv2d: activation %d cannot be fused (element-wise ones only)", (int)act);
    if (act == DC_ACT_GELU || act == DC_ACT_GELU_TANH) {
        /* GELU's derivative needs its input, which the fused path overwrites: a separate op */
        return dc_act_op(c, dc_conv2d_act(c, x, w, b, sh, sw, pad, DC_ACT_NONE, 0), act, alpha);
    }
    if (alpha == 0) alpha = act == DC_ACT_LEAKY_RELU ? 0.01f : 1.0f;
    dc_conv_geom g;
    if (!conv_prepare(c, "conv2d", &x, &w, &b, sh, sw, pad, &g)) return NULL;
    int64_t N = x->shape[0], F = w->shape[0];
    dc_tensor *y = dc_out(c, 4, (int64_t[]){N, F, g.OH, g.OW});
    if (!y) return NULL;
    const int64_t G = dc_conv_direct_applies(&g, F) ? 1 : conv_group(&g, N);
    int T = (N + G - 1) / G >= dc_max_threads() ? dc_max_threads() : 1;
    float *cols = dc_scratch(c, (size_t)T * conv_fwd_scratch(&g, F, G));
    if (!cols) return NULL;
    size_t wsz = dc_k_gemm_bf16_scratch(F, G * g.OH * g.OW, g.C * g.kh * g.kw);
    char *ws = dc_op_gemm_scratch(c, T, wsz);
    conv_forward_images(&g, N, F, x->data, w->data, b ? b->data : NULL, y->data, cols, ws, wsz, act, alpha);
    return record_conv(c, "conv2d", conv_backward, y, x, w, b, &g, act, alpha);
}

/* ---- convolution, activation and max pooling in one node ---- */

typedef struct convpool_saved {
    dc_conv_geom g;
    dc_activation act;
    float alpha;
    int64_t PH, PW;
    int32_t *arg; /* [N, F, PH, PW]: each maximum's index in its convolution output plane */
} convpool_saved;

DC_CLONES static void convpool_backward(dc_ctx *c, dc_node *nd) {
    dc_tensor *x = nd->in[0], *w = nd->in[1], *b = nd->in[2];
    const convpool_saved *sv = nd->saved;
    const dc_conv_geom *g = &sv->g;
    const int64_t N = x->shape[0], F = w->shape[0], CKK = g->C * g->kh * g->kw, OHW = g->OH * g->OW,
                  PHW = sv->PH * sv->PW, xs = g->C * g->H * g->W;
    float *gx = dc_grad_buf(c, x), *gw = dc_grad_buf(c, w), *gb = b ? dc_grad_buf(c, b) : NULL;
    if (!gx && !gw && !gb) return;
    const float *gp = nd->out->grad->data, *pv = nd->out->data;
    const int nb = dc_sum_parts(N); /* parts of the batch, as in conv_backward */
    const bool par = nb > 1;
    size_t wsz = dc_k_gemm_bf16_scratch(F, CKK, OHW), wsx = dc_k_gemm_bf16_scratch(CKK, OHW, F);
    if (wsx > wsz) wsz = wsx;
    /* per thread: the image's convolution output gradient, the activation's gradient at the
     * maxima, an im2col buffer and partial sums of dW and db */
    /* no input gradient and few taps: each pooled gradient times the patch under its maximum
     * (conv_direct.c), without the full-size convolution gradient */
    const bool sparse = !gx && gw && dc_conv_direct_taps(g);
    const size_t per = sparse ? dc_conv_direct_scratch(g) : (size_t)(CKK * OHW) * sizeof(float);
    float *gz = sparse ? NULL : dc_scratch(c, (size_t)(nb * F * OHW) * sizeof(float));
    float *ga = sv->act != DC_ACT_NONE ? dc_scratch(c, (size_t)(nb * F * PHW) * sizeof(float)) : NULL;
    float *cols = gx || gw ? dc_scratch(c, (size_t)nb * per) : NULL;
    float *gws = gw && par ? dc_scratch(c, (size_t)(nb * F * CKK) * sizeof(float)) : NULL;
    float *gbs = gb && par ? dc_scratch(c, (size_t)(nb * F) * sizeof(float)) : NULL;
    char *ws = gx || gw ? dc_op_gemm_scratch(c, nb, wsz) : NULL;
    if ((!sparse && !gz) || (sv->act != DC_ACT_NONE && !ga) || ((gx || gw) && !cols) || (gw && par && !gws) || (gb && par && !gbs)) {
        c->oom = true;
        return;
    }
    if (gws) memset(gws, 0, (size_t)(nb * F * CKK) * sizeof(float));
    if (gbs) memset(gbs, 0, (size_t)(nb * F) * sizeof(float));
    DC_PAR_FOR(par, t, nb,
        for (int64_t n = N * t / nb; n < N * (t + 1) / nb; n++) {
            float *gzn = gz ? gz + t * F * OHW : NULL, *col = cols ? (float *)((char *)cols + t * per) : NULL;
            const int32_t *an = sv->arg + n * F * PHW;
            const float *gpn = gp + n * F * PHW;
            if (ga) {
                /* the pooled value is the activation's output at the maximum */
                float *gan = ga + t * F * PHW;
                dc_k_act_grad_from_output(sv->act, sv->alpha, pv + n * F * PHW, gpn, gan, F * PHW);
                gpn = gan;
            }
            if (gb) {
                float *gbt = gbs ? gbs + t * F : gb;
                for (int64_t f = 0; f < F; f++) {
                    float s = 0;
                    for (int64_t j = 0; j < PHW; j++) s += gpn[f * PHW + j];
                    gbt[f] += s;
                }
            }
            if (!gx && !gw) continue;
            if (sparse) {
                dc_conv_direct_pool_wgrad(g, F, PHW, x->data + n * xs, gpn, an, gws ? gws + t * F * CKK : gw, col);
                continue;
            }
            memset(gzn, 0, (size_t)(F * OHW) * sizeof(float));
            for (int64_t f = 0; f < F; f++)
                for (int64_t j = 0; j < PHW; j++) gzn[f * OHW + an[f * PHW + j]] += gpn[f * PHW + j];
            if (gw) {
                dc_k_im2col(g, x->data + n * xs, col);
                dc_k_gemm_bf16(false, true, F, CKK, OHW, 1, gzn, OHW, col, OHW, 1, gws ? gws + t * F * CKK : gw, CKK,
                               ws ? ws + t * wsz : NULL);
            }
            if (gx) {
                dc_k_gemm_bf16(true, false, CKK, OHW, F, 1, w->data, CKK, gzn, OHW, 0, col, OHW, ws ? ws + t * wsz : NULL);
                dc_k_col2im(g, col, gx + n * xs);
            }
        });
    for (int t = 0; gws && t < nb; t++)
        for (int64_t i = 0; i < F * CKK; i++) gw[i] += gws[t * F * CKK + i];
    for (int t = 0; gbs && t < nb; t++)
        for (int64_t f = 0; f < F; f++) gb[f] += gbs[t * F + f];
}

DC_CLONES dc_tensor *dc_conv2d_act_maxpool(dc_ctx *c, dc_tensor *x, dc_tensor *w, dc_tensor *b, int sh, int sw, const int *pad,
                                           dc_activation act, float alpha, int pkh, int pkw, int psh, int psw) {
    DC_CHECK_ARGS(c, "conv2d+max_pool2d", x, w);
    if ((unsigned)act >= DC_ACT_COUNT || act == DC_ACT_SOFTMAX || act == DC_ACT_LOG_SOFTMAX)
        return dc_error_null(DC_ERR_ARG, "conv2d+max_pool2d: activation %d cannot be fused (element-wise ones only)", (int)act);
    if (act == DC_ACT_GELU || act == DC_ACT_GELU_TANH) {
        return dc_max_pool2d(c, dc_conv2d_act(c, x, w, b, sh, sw, pad, act, alpha), pkh, pkw, psh, psw);
    }
    if (alpha == 0) alpha = act == DC_ACT_LEAKY_RELU ? 0.01f : 1.0f;
    dc_conv_geom g;
    if (!conv_prepare(c, "conv2d+max_pool2d", &x, &w, &b, sh, sw, pad, &g)) return NULL;
    if (pkh <= 0 || pkw <= 0 || psh <= 0 || psw <= 0)
        return dc_error_null(DC_ERR_ARG, "conv2d+max_pool2d: pool size (%d, %d) and stride (%d, %d) must be positive", pkh, pkw,
                             psh, psw);
    if (g.OH < pkh || g.OW < pkw)
        return dc_error_null(DC_ERR_SHAPE, "conv2d+max_pool2d: pool %dx%d is larger than the convolution's output %lldx%lld", pkh,
                             pkw, (long long)g.OH, (long long)g.OW);
    const int64_t N = x->shape[0], F = w->shape[0], CKK = g.C * g.kh * g.kw, OHW = g.OH * g.OW;
    if (OHW > INT32_MAX)
        return dc_error_null(DC_ERR_SHAPE, "conv2d+max_pool2d: plane %lldx%lld too large", (long long)g.OH, (long long)g.OW);
    const int64_t PH = (g.OH - pkh) / psh + 1, PW = (g.OW - pkw) / psw + 1, PHW = PH * PW;
    dc_tensor *y = dc_out(c, 4, (int64_t[]){N, F, PH, PW});
    if (!y) return NULL;
    dc_tensor *in3[3] = {x, w, b};
    const bool need = dc_needs_grad(c, 3, in3);
    int32_t *arg = need ? dc_scratch(c, (size_t)(N * F * PHW) * sizeof *arg) : NULL;
    /* few taps and a 2x2 stride-2 pool: one pass in registers (conv_direct.c), the same bits */
    const bool one_pass = dc_conv_direct_pool_applies(&g, act, alpha, pkh, pkw, psh, psw);
    const bool direct = dc_conv_direct_applies(&g, F);
    /* the groups of images of conv2d's im2col path, so that the sums are the same as its */
    const int64_t G = direct ? 1 : conv_group(&g, N), ng = (N + G - 1) / G;
    const int T = ng >= dc_max_threads() ? dc_max_threads() : 1;
    const int64_t per = (int64_t)(conv_fwd_scratch(&g, F, G) / sizeof(float));
    float *cols = dc_scratch(c, (size_t)T * conv_fwd_scratch(&g, F, G));
    /* the convolution's output of a group, when it is not in the im2col scratch already */
    float *zs = one_pass || G > 1 ? NULL : dc_scratch(c, (size_t)(T * F * OHW) * sizeof(float));
    if ((need && !arg) || !cols || (!one_pass && G == 1 && !zs)) return NULL;
    const size_t wsz = dc_k_gemm_bf16_scratch(F, G * OHW, CKK);
    char *ws = direct ? NULL : dc_op_gemm_scratch(c, T, wsz);
    const float *X = x->data, *Wt = w->data, *B = b ? b->data : NULL;
    float *Y = y->data;
    const int64_t xs = g.C * g.H * g.W;
    DC_PAR_FOR(T > 1, k, ng, {
        const int t = T > 1 ? dc_thread_id() : 0;
        const int64_t n0 = k * G, gn = N - n0 < G ? N - n0 : G;
        float *sc = cols + t * per;
        if (one_pass) {
            dc_conv_direct_pool_image(&g, F, X + n0 * xs, Wt, B, act, alpha, PH, PW, Y + n0 * F * PHW, arg ? arg + n0 * F * PHW : NULL, sc);
            continue;
        }
        float *z = G > 1 ? sc + CKK * G * OHW : zs + t * F * OHW;
        if (direct)
            dc_conv_direct_image(&g, F, X + n0 * xs, Wt, B, z, sc);
        else
            conv_group_product(&g, F, gn, X + n0 * xs, Wt, B, z, sc, ws ? ws + t * wsz : NULL);
        if (act != DC_ACT_NONE) dc_k_act_forward(act, alpha, z, z, gn * F * OHW);
        for (int64_t j = 0; j < gn; j++)
            for (int64_t f = 0; f < F; f++) {
                const int64_t o = ((n0 + j) * F + f) * PHW;
                dc_k_maxpool_plane(group_plane(z, gn, OHW, j, f), g.OW, pkh, pkw, psh, psw, PH, PW, Y + o, arg ? arg + o : NULL);
            }
    });
    if (!need) return y;
    convpool_saved *s = dc_scratch(c, sizeof *s);
    dc_node *nd = s ? dc_record(c, "conv2d+max_pool2d", convpool_backward, y, 3, in3) : NULL;
    if (!nd) return NULL;
    *s = (convpool_saved){g, act, alpha, PH, PW, arg};
    nd->saved = s;
    return y;
}

/* ---- transposed convolution: the adjoint of conv2d with respect to its input ---- */
DC_CLONES static void convt_backward(dc_ctx *c, dc_node *nd) {
    dc_tensor *x = nd->in[0], *w = nd->in[1], *b = nd->in[2];
    const dc_conv_geom *g = &((conv_saved *)nd->saved)->g; /* geometry of the adjoint conv on y */
    int64_t N = x->shape[0], Cin = w->shape[0], F = w->shape[1];
    const int64_t CKK = F * g->kh * g->kw, OHW = g->OH * g->OW, ys = F * g->H * g->W;
    float *gx = dc_grad_buf(c, x), *gw = dc_grad_buf(c, w), *gb = b ? dc_grad_buf(c, b) : NULL;
    const float *gy = nd->out->grad->data;
    if (gb) bias_grad(gy, N, F, g->H * g->W, gb);
    if (!gx && !gw) return;
    float *col = dc_scratch(c, (size_t)(CKK * OHW) * sizeof(float));
    if (!col) {
        c->oom = true;
        return;
    }
    for (int64_t n = 0; n < N; n++) {
        dc_k_im2col(g, gy + n * ys, col);
        /* dX_n[Cin, OHW] += W[Cin, CKK] . col */
        if (gx) dc_k_gemm(false, false, Cin, OHW, CKK, 1, w->data, CKK, col, OHW, 1, gx + n * Cin * OHW, OHW);
        /* dW[Cin, CKK] += X_n[Cin, OHW] . col^T */
        if (gw) dc_k_gemm(false, true, Cin, CKK, OHW, 1, x->data + n * Cin * OHW, OHW, col, OHW, 1, gw, CKK);
    }
}

dc_tensor *dc_conv2d_transpose(dc_ctx *c, dc_tensor *x, dc_tensor *w, dc_tensor *b, int sh, int sw, const int *pad) {
    DC_CHECK_ARGS(c, "conv2d_transpose", x, w);
    if (w->ndim != 4)
        return dc_error_null(DC_ERR_SHAPE, "conv2d_transpose: kernel must be [C_in, F, kh, kw], got %s", dc_tshape(w, 0));
    if (x->ndim != 4 || x->shape[1] != w->shape[0])
        return dc_error_null(DC_ERR_SHAPE, "conv2d_transpose: expected input [N, %lld, H, W], got %s", (long long)w->shape[0],
                             dc_tshape(x, 0));
    if (sh <= 0 || sw <= 0) return dc_error_null(DC_ERR_ARG, "conv2d_transpose: stride must be positive, got (%d, %d)", sh, sw);
    int p[4] = {0, 0, 0, 0};
    if (pad) memcpy(p, pad, sizeof p);
    int64_t Cin = w->shape[0], F = w->shape[1], kh = w->shape[2], kw = w->shape[3];
    if (b && b->numel != F)
        return dc_error_null(DC_ERR_SHAPE, "conv2d_transpose: bias has %lld elements for %lld filters", (long long)b->numel, (long long)F);
    /* top and left crop; bottom and right crop too, or, negative, add output padding (PyTorch's
     * output_padding, below the stride as PyTorch requires) */
    static const char *const side[4] = {"top", "left", "bottom", "right"};
    for (int i = 0; i < 2; i++)
        if (p[i] < 0)
            return dc_error_null(DC_ERR_ARG, "conv2d_transpose: %s padding %d is negative (only bottom and right may be: output padding)",
                                 side[i], p[i]);
    for (int i = 2; i < 4; i++) {
        int s = i == 2 ? sh : sw;
        if (p[i] <= -s)
            return dc_error_null(DC_ERR_ARG, "conv2d_transpose: %s padding %d is an output padding of %lld %s, which must be smaller "
                                 "than the stride %d", side[i], p[i], -(long long)p[i], i == 2 ? "rows" : "columns", s);
    }
    int64_t N = x->shape[0], H = x->shape[2], W = x->shape[3];
    int64_t OH = (H - 1) * sh + kh - p[0] - p[2], OW = (W - 1) * sw + kw - p[1] - p[3];
    if (OH <= 0 || OW <= 0)
        return dc_error_null(DC_ERR_SHAPE, "conv2d_transpose: padding (%d, %d, %d, %d) leaves no output for input %s", p[0], p[1],
                             p[2], p[3], dc_tshape(x, 0));
    if (!(x = dc_contig(c, x)) || !(w = dc_contig(c, w)) || (b && !(b = dc_contig(c, b)))) return NULL;
    dc_tensor *y = dc_out(c, 4, (int64_t[]){N, F, OH, OW});
    if (!y) return NULL;
    /* y is the input of the adjoint conv: geometry from y [F, OH, OW] to x [Cin, H, W]; the rows
     * and columns of output padding lie past every window, so col2im adds nothing there and
     * im2col (backward) never reads them */
    dc_conv_geom g = {F, OH, OW, kh, kw, sh, sw, p[0], p[1], H, W};
    const int64_t CKK = F * kh * kw, HW = H * W;
    float *col = dc_scratch(c, (size_t)(CKK * HW) * sizeof(float));
    if (!col) return NULL;
    memset(y->data, 0, (size_t)y->numel * sizeof(float));
    for (int64_t n = 0; n < N; n++) {
        /* col[CKK, HW] = W^T[CKK, Cin] . x_n[Cin, HW], scattered into y_n */
        dc_k_gemm(true, false, CKK, HW, Cin, 1, w->data, CKK, x->data + n * Cin * HW, HW, 0, col, HW);
        dc_k_col2im(&g, col, y->data + n * F * OH * OW);
    }
    if (b)
        for (int64_t n = 0; n < N; n++)
            for (int64_t f = 0; f < F; f++) {
                float *r = y->data + (n * F + f) * OH * OW;
                for (int64_t j = 0; j < OH * OW; j++) r[j] += b->data[f];
            }
    return record_conv(c, "conv2d_transpose", convt_backward, y, x, w, b, &g, DC_ACT_NONE, 0);
}
