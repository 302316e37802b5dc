/* Matrix products through OpenBLAS: matmul, batched matmul, and linear (x . W^T + b). */
#include "ops.h"

#include <string.h>

void *dc_op_gemm_scratch(dc_ctx *c, int n, size_t each) {
    return c->bf16 && dc_k_bf16_available() ? dc_scratch(c, (size_t)n * each) : NULL;
}

/* dc_op_gemm_ex plus bias[j] on every row of C (NULL: none; with a bias, beta is 0): the float32
 * kernel adds it in the product's own pass, the bf16 one to rows filled with it first. */
static void op_gemm_bias(dc_ctx *c, bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const float *A, int64_t lda,
                         const float *B, int64_t ldb, float beta, float *C, int64_t ldc, const float *bias, bool split_rows) {
    void *ws = c->bf16 && dc_k_gemm_bf16_applies(M, N, K) ? dc_scratch(c, dc_k_gemm_bf16_scratch(M, N, K)) : NULL;
    if (ws) {
        if (bias) {
            dc_k_fill_rows(C, bias, M, N); /* C is [M, N] contiguous wherever a bias is asked for */
            beta = 1;
        }
        dc_k_gemm_bf16_ex(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, ws, split_rows);
    } else {
        dc_k_gemm_bias(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, bias, split_rows);
    }
}

void dc_op_gemm_ex(dc_ctx *c, bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const float *A, int64_t lda,
                   const float *B, int64_t ldb, float beta, float *C, int64_t ldc, bool split_rows) {
    op_gemm_bias(c, ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, NULL, split_rows);
}

void dc_op_gemm(dc_ctx *c, bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const float *A, int64_t lda,
                const float *B, int64_t ldb, float beta, float *C, int64_t ldc) {
    dc_op_gemm_ex(c, ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, false);
}

/* How a 2-D operand can be handed to GEMM without a copy: row-major (trans = false) or
 * as the transpose of a row-major matrix (trans = true); false if neither. */
static bool gemm_layout(const dc_tensor *t, bool *trans, int64_t *ld) {
    int64_t r = t->shape[0], cdim = t->shape[1];
    if (t->stride[1] == 1 && (t->stride[0] >= cdim || r == 1)) {
        *trans = false;
        *ld = r == 1 ? (cdim > 0 ? cdim : 1) : t->stride[0];
        return *ld >= (cdim > 0 ? cdim : 1);
    }
    if (t->stride[0] == 1 && (t->stride[1] >= r || cdim == 1)) {
        *trans = true;
        *ld = cdim == 1 ? (r > 0 ? r : 1) : t->stride[1];
        return *ld >= (r > 0 ? r : 1);
    }
    return false;
}

static void mm2_backward(dc_ctx *c, dc_node *n) {
    dc_tensor *a = n->in[0], *b = n->in[1];
    const float *g = n->out->grad->data;
    int64_t M = a->shape[0], K = a->shape[1], N = b->shape[1];
    bool ta = false, tb = false;
    int64_t lda = 0, ldb = 0;
    gemm_layout(a, &ta, &lda);
    gemm_layout(b, &tb, &ldb);
    float *ga = dc_grad_buf(c, a), *gb = dc_grad_buf(c, b);
    /* dA[M,K] += G[M,N] . B^T */
    if (ga) dc_op_gemm(c, false, !tb, M, K, N, 1, g, N, b->data, ldb, 1, ga, K);
    /* dB[K,N] += A^T . G */
    if (gb) dc_op_gemm(c, !ta, false, K, N, M, 1, a->data, lda, g, N, 1, gb, N);
}

static dc_tensor *matmul2(dc_ctx *c, dc_tensor *a, dc_tensor *b) {
    bool ta = false, tb = false;
    int64_t lda = 0, ldb = 0;
    if (!gemm_layout(a, &ta, &lda) && !(a = dc_contig(c, a))) return NULL;
    if (!gemm_layout(b, &tb, &ldb) && !(b = dc_contig(c, b))) return NULL;
    gemm_layout(a, &ta, &lda);
    gemm_layout(b, &tb, &ldb);
    int64_t M = a->shape[0], K = a->shape[1], N = b->shape[1];
    dc_tensor *y = dc_out(c, 2, (int64_t[]){M, N});
    if (!y) return NULL;
    dc_op_gemm(c, ta, tb, M, N, K, 1, a->data, lda, b->data, ldb, 0, y->data, N);
    if (DC_NEEDS2(c, a, b) && !DC_RECORD2(c, "matmul", mm2_backward, y, a, b)) return NULL;
    return y;
}

static void bmm_backward(dc_ctx *c, dc_node *n) {
    dc_tensor *a = n->in[0], *b = n->in[1];
    const float *g = n->out->grad->data;
    int64_t B = a->shape[0], M = a->shape[1], K = a->shape[2], N = b->shape[b->ndim - 1];
    bool shared = b->ndim == 2;
    float *ga = dc_grad_buf(c, a), *gb = dc_grad_buf(c, b);
    for (int64_t i = 0; i < B; i++) {
        const float *bi = b->data + (shared ? 0 : i * K * N);
        const float *gi = g + i * M * N;
        if (ga) dc_k_gemm(false, true, M, K, N, 1, gi, N, bi, N, 1, ga + i * M * K, K);
        if (gb) dc_k_gemm(true, false, K, N, M, 1, a->data + i * M * K, K, gi, N, 1, gb + (shared ? 0 : i * K * N), N);
    }
}

dc_tensor *dc_matmul(dc_ctx *c, dc_tensor *a, dc_tensor *b) {
    DC_CHECK_ARGS(c, "matmul", a, b);
    if (a->ndim == 2 && b->ndim == 2) {
        if (a->shape[1] != b->shape[0])
            return dc_error_null(DC_ERR_SHAPE, "matmul: inner dimensions differ: %s . %s (%lld vs %lld)", dc_tshape(a, 0),
                                 dc_tshape(b, 1), (long long)a->shape[1], (long long)b->shape[0]);
        return matmul2(c, a, b);
    }
    if (a->ndim != 3 || (b->ndim != 3 && b->ndim != 2))
        return dc_error_null(DC_ERR_SHAPE, "matmul: expects [M,K].[K,N], [B,M,K].[B,K,N] or [B,M,K].[K,N], got %s . %s",
                             dc_tshape(a, 0), dc_tshape(b, 1));
    int64_t B = a->shape[0], M = a->shape[1], K = a->shape[2];
    int64_t Kb = b->shape[b->ndim - 2], N = b->shape[b->ndim - 1];
    if (K != Kb || (b->ndim == 3 && b->shape[0] != B))
        return dc_error_null(DC_ERR_SHAPE, "matmul: shapes %s and %s do not fit", dc_tshape(a, 0), dc_tshape(b, 1));
    if (!(a = dc_contig(c, a)) || !(b = dc_contig(c, b))) return NULL;
    dc_tensor *y = dc_out(c, 3, (int64_t[]){B, M, N});
    if (!y) return NULL;
    if (b->ndim == 2) {
        dc_k_gemm(false, false, B * M, N, K, 1, a->data, K, b->data, N, 0, y->data, N);
    } else {
        for (int64_t i = 0; i < B; i++)
            dc_k_gemm(false, false, M, N, K, 1, a->data + i * M * K, K, b->data + i * K * N, N, 0, y->data + i * M * N, N);
    }
    if (DC_NEEDS2(c, a, b) && !DC_RECORD2(c, "bmm", bmm_backward, y, a, b)) return NULL;
    return y;
}

/* ---- linear: y[R, out] = x[R, in] . W[out, in]^T + b[out] ---- */
DC_CLONES static void linear_backward(dc_ctx *c, dc_node *n) {
    dc_tensor *x = n->in[0], *W = n->in[1], *b = n->in[2];
    int64_t out = W->shape[0], in = W->shape[1], R = x->numel / (in ? in : 1);
    const float *g = n->out->grad->data;
    bool fx, fW = false, fb = false; /* a fresh gradient is written by the product (beta 0), not zeroed first */
    float *gx = dc_grad_buf_w(c, x, &fx), *gW = dc_grad_buf_w(c, W, &fW), *gb = b ? dc_grad_buf_w(c, b, &fb) : NULL;
    if (gx) dc_op_gemm(c, false, false, R, in, out, 1, g, out, W->data, in, fx ? 0.0f : 1.0f, gx, in);
    /* by rows of the weight, as the forward's columns and the optimiser split it (dc_part_range) */
    if (gW) dc_op_gemm_ex(c, true, false, out, in, R, 1, g, out, x->data, in, fW ? 0.0f : 1.0f, gW, in, true);
    if (gb) {
        if (fb) memset(gb, 0, (size_t)out * sizeof(float));
        for (int64_t r = 0; r < R; r++) {
            const float *gr = g + r * out;
#pragma omp simd
            for (int64_t j = 0; j < out; j++) gb[j] += gr[j];
        }
    }
}

dc_tensor *dc_linear(dc_ctx *c, dc_tensor *x, dc_tensor *W, dc_tensor *b) {
    DC_CHECK_ARGS(c, "linear", x, W);
    if (W->ndim != 2) return dc_error_null(DC_ERR_SHAPE, "linear: weight must be [out, in], got %s", dc_tshape(W, 0));
    int64_t out = W->shape[0], in = W->shape[1];
    if (x->shape[x->ndim - 1] != in)
        return dc_error_null(DC_ERR_SHAPE, "linear: expected input with %lld features, got %s", (long long)in, dc_tshape(x, 0));
    if (b && (b->numel != out))
        return dc_error_null(DC_ERR_SHAPE, "linear: bias has %lld elements, expected %lld", (long long)b->numel, (long long)out);
    if (!(x = dc_contig(c, x)) || !(W = dc_contig(c, W)) || (b && !(b = dc_contig(c, b)))) return NULL;
    int64_t sh[DC_MAX_DIMS];
    memcpy(sh, x->shape, sizeof sh);
    sh[x->ndim - 1] = out;
    dc_tensor *y = dc_out(c, x->ndim, sh);
    if (!y) return NULL;
    int64_t R = in ? x->numel / in : 0;
    if (in == 0) R = y->numel / (out ? out : 1);
    op_gemm_bias(c, false, true, R, out, in, 1, x->data, in, W->data, in, 0, y->data, out, b ? b->data : NULL, false);
    dc_tensor *in3[3] = {x, W, b};
    if (dc_needs_grad(c, 3, in3) && !dc_record(c, "linear", linear_backward, y, 3, in3)) return NULL;
    return y;
}
