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
static void bias_grad(const float *gy, int64_t N, int64_t F, int64_t P, float *gb) {
    for (int64_t n = 0; n < N; n++)
        for (int64_t f = 0; f < F; f++) {
            const float *r = gy + (n * F + f) * P;
            float s = 0;
#pragma omp simd reduction(+ : s)
            for (int64_t j = 0; j < P; j++) s += r[j];
            gb[f] += s;
        }
}

/* y_n[F, OHW] = W[F, CKK] . col_n + b */
static void conv_forward_images(const dc_conv_geom *g, int64_t N, int64_t F, const float *x, const float *w,
                                const float *b, float *y, float *cols, char *ws, size_t wsz, dc_activation act, float alpha) {
    const int64_t CKK = g->C * g->kh * g->kw, OHW = g->OH * g->OW, xs = g->C * g->H * g->W;
    bool par = N >= dc_max_threads() && dc_max_threads() > 1;
#pragma omp parallel for schedule(static) if (par)
    for (int64_t n = 0; n < N; n++) {
        int t = par ? dc_thread_id() : 0;
        float *col = cols + t * CKK * OHW;
        float *yn = y + n * F * OHW;
        dc_k_im2col(g, x + n * xs, col);
        if (b)
            for (int64_t f = 0; f < F; f++)
                for (int64_t j = 0; j < OHW; j++) yn[f * OHW + j] = b[f];
        dc_k_gemm_bf16(false, false, F, OHW, CKK, 1, w, CKK, col, OHW, b ? 1.0f : 0.0f, yn, OHW, ws ? ws + t * wsz : NULL);
        if (act != DC_ACT_NONE) dc_k_act_forward(act, alpha, yn, yn, F * OHW);
    }
}

static void conv_backward(dc_ctx *c, dc_node *nd) {
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
#pragma omp parallel for if (nd->out->numel > DC_PAR_MIN)
        for (int64_t n = 0; n < N; n++)
            dc_k_act_grad_from_output(sv->act, sv->alpha, yv + n * per, gy + n * per, gz + n * per, per);
        gy = gz;
    }
    if (gb) bias_grad(gy, N, F, OHW, gb);
    if (!gx && !gw) return;
    int T = dc_max_threads();
    bool par = N >= T && T > 1;
    int nb = par ? T : 1;
    float *cols = dc_scratch(c, (size_t)(nb * CKK * OHW) * sizeof(float));
    size_t wsz = dc_k_gemm_bf16_scratch(F, CKK, OHW), wsx = dc_k_gemm_bf16_scratch(CKK, OHW, F);
    if (wsx > wsz) wsz = wsx;
    char *ws = dc_op_gemm_scratch(c, nb, wsz);
    float *gws = gw && par ? dc_scratch(c, (size_t)(nb * F * CKK) * sizeof(float)) : NULL;
    if (!cols || (gw && par && !gws)) {
        c->oom = true;
        return;
    }
    if (gws) memset(gws, 0, (size_t)(nb * F * CKK) * sizeof(float));
#pragma omp parallel for schedule(static) if (par)
    for (int64_t n = 0; n < N; n++) {
        int t = par ? dc_thread_id() : 0;
        float *col = cols + t * CKK * OHW;
        const float *gyn = gy + n * F * OHW;
        if (gw) {
            dc_k_im2col(g, x->data + n * xs, col);
            /* dW[F, CKK] += dY_n[F, OHW] . col^T */
            dc_k_gemm_bf16(false, true, F, CKK, OHW, 1, gyn, OHW, col, OHW, 1, gws ? gws + t * F * CKK : gw, CKK,
                           ws ? ws + t * wsz : NULL);
        }
        if (gx) {
            /* dcol[CKK, OHW] = W^T . dY_n, then scattered back */
            dc_k_gemm_bf16(true, false, CKK, OHW, F, 1, w->data, CKK, gyn, OHW, 0, col, OHW, ws ? ws + t * wsz : NULL);
            dc_k_col2im(g, col, gx + n * xs);
        }
    }
    if (gws)
        for (int t = 0; t < nb; t++)
            for (int64_t i = 0; i < F * CKK; i++) gw[i] += gws[t * F * CKK + i];
}

dc_tensor *dc_conv2d(dc_ctx *c, dc_tensor *x, dc_tensor *w, dc_tensor *b, int sh, int sw, const int *pad) {
    return dc_conv2d_act(c, x, w, b, sh, sw, pad, DC_ACT_NONE, 0);
}

dc_tensor *dc_conv2d_act(dc_ctx *c, dc_tensor *x, dc_tensor *w, dc_tensor *b, int sh, int sw, const int *pad,
                         dc_activation act, float alpha) {
    DC_CHECK_ARGS(c, "conv2d", x, w);
    if ((unsigned)act >= DC_ACT_COUNT || act == DC_ACT_SOFTMAX || act == DC_ACT_LOG_SOFTMAX)
        return dc_error_null(DC_ERR_ARG, "conv2d: activation %d cannot be fused (element-wise ones only)", (int)act);
    if (act == DC_ACT_GELU || act == DC_ACT_GELU_TANH) {
        /* GELU's derivative needs its input, which the fused path overwrites: a separate op */
        dc_tensor *z = dc_conv2d_act(c, x, w, b, sh, sw, pad, DC_ACT_NONE, 0);
        return z ? dc_act_op(c, z, act, alpha) : NULL;
    }
    if (alpha == 0) alpha = act == DC_ACT_LEAKY_RELU ? 0.01f : 1.0f;
    if (w->ndim != 4) return dc_error_null(DC_ERR_SHAPE, "conv2d: kernel must be [F, C, kh, kw], got %s", dc_tshape(w, 0));
    int64_t F = w->shape[0];
    if (b && b->numel != F)
        return dc_error_null(DC_ERR_SHAPE, "conv2d: bias has %lld elements for %lld filters", (long long)b->numel, (long long)F);
    dc_conv_geom g;
    if (!conv_geom("conv2d", x, w->shape[1], w->shape[2], w->shape[3], sh, sw, pad, &g)) return NULL;
    if (!(x = dc_contig(c, x)) || !(w = dc_contig(c, w)) || (b && !(b = dc_contig(c, b)))) return NULL;
    int64_t N = x->shape[0];
    dc_tensor *y = dc_out(c, 4, (int64_t[]){N, F, g.OH, g.OW});
    if (!y) return NULL;
    int T = N >= dc_max_threads() ? dc_max_threads() : 1;
    float *cols = dc_scratch(c, (size_t)(T * g.C * g.kh * g.kw * g.OH * g.OW) * sizeof(float));
    if (!cols) return NULL;
    size_t wsz = dc_k_gemm_bf16_scratch(F, g.OH * g.OW, g.C * g.kh * g.kw);
    char *ws = dc_op_gemm_scratch(c, T, wsz);
    conv_forward_images(&g, N, F, x->data, w->data, b ? b->data : NULL, y->data, cols, ws, wsz, act, alpha);
    return record_conv(c, "conv2d", conv_backward, y, x, w, b, &g, act, alpha);
}

/* ---- transposed convolution: the adjoint of conv2d with respect to its input ---- */
static void convt_backward(dc_ctx *c, dc_node *nd) {
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
    int64_t N = x->shape[0], H = x->shape[2], W = x->shape[3];
    int64_t OH = (H - 1) * sh + kh - p[0] - p[2], OW = (W - 1) * sw + kw - p[1] - p[3];
    if (OH <= 0 || OW <= 0 || p[0] < 0 || p[1] < 0 || p[2] < 0 || p[3] < 0)
        return dc_error_null(DC_ERR_SHAPE, "conv2d_transpose: padding (%d, %d, %d, %d) leaves no output for input %s", p[0], p[1],
                             p[2], p[3], dc_tshape(x, 0));
    if (!(x = dc_contig(c, x)) || !(w = dc_contig(c, w)) || (b && !(b = dc_contig(c, b)))) return NULL;
    dc_tensor *y = dc_out(c, 4, (int64_t[]){N, F, OH, OW});
    if (!y) return NULL;
    /* y is the input of the adjoint conv: geometry from y [F, OH, OW] to x [Cin, H, W] */
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
