/* Losses with mean reduction; every result has shape [1]. The softmax + cross-entropy pairs
 * are fused: their gradient is (softmax(z) - y) / N, computed from saved probabilities. */
#include "ops.h"

#include <math.h>
#include <string.h>

#define PROB_EPS 1e-7f

static const char *const loss_names[] = {"mse", "mae", "binary_crossentropy", "categorical_crossentropy",
                                         "sparse_categorical_crossentropy"};
_Static_assert(DC_ARRAY_LEN(loss_names) == DC_LOSS_COUNT, "loss name table");
const char *dc_loss_name(dc_loss l) { return (unsigned)l < DC_LOSS_COUNT ? loss_names[l] : "unknown"; }

/* pred and target must hold the same elements row for row ([N,1] and [N] are accepted). */
static bool pair_ok(const char *op, const dc_tensor *p, const dc_tensor *t) {
    if (p->numel == t->numel && p->shape[0] == t->shape[0] && p->numel > 0) return true;
    dc_error(DC_ERR_SHAPE, "%s: prediction %s and target %s do not match", op, dc_tshape(p, 0), dc_tshape(t, 1));
    return false;
}

enum { L_MSE, L_MAE, L_BCE, L_BCE_LOGITS, L_CCE };
static const char *const pw_names[] = {"mse", "mae", "binary_crossentropy", "bce_with_logits",
                                       "categorical_crossentropy"};

static inline float clampp(float p) { return p < PROB_EPS ? PROB_EPS : p > 1 - PROB_EPS ? 1 - PROB_EPS : p; }

/* Element-wise loss terms l(p, y) and dl/dp; dl/dy is only needed for mse/mae. */
static void pointwise_backward(dc_ctx *c, dc_node *n) {
    int kind = (int)n->i[0];
    dc_tensor *p = n->in[0], *t = n->in[1];
    float *gp = dc_grad_buf(c, p), *gt = dc_grad_buf(c, t);
    float s = n->out->grad->data[0] * n->f[0];
    const float *P = p->data, *Y = t->data;
    for (int64_t i = 0; i < p->numel; i++) {
        float d;
        switch (kind) {
        case L_MSE: d = 2.0f * (P[i] - Y[i]); break;
        case L_MAE: d = P[i] > Y[i] ? 1.0f : P[i] < Y[i] ? -1.0f : 0.0f; break;
        case L_BCE: {
            float q = clampp(P[i]);
            d = (q == P[i]) ? (q - Y[i]) / (q * (1 - q)) : 0.0f;
            break;
        }
        case L_BCE_LOGITS: d = 1.0f / (1.0f + expf(-P[i])) - Y[i]; break;
        default: {
            float q = clampp(P[i]);
            d = (q == P[i]) ? -Y[i] / q : 0.0f;
            break;
        }
        }
        if (gp) gp[i] += s * d;
        if (gt) {
            if (kind == L_MSE || kind == L_MAE) gt[i] -= s * d;
            else if (kind == L_BCE) gt[i] += s * (logf(1 - clampp(P[i])) - logf(clampp(P[i])));
            else if (kind == L_BCE_LOGITS) gt[i] -= s * P[i];
            else gt[i] -= s * logf(clampp(P[i]));
        }
    }
}

static dc_tensor *pointwise(dc_ctx *c, int kind, dc_tensor *p, dc_tensor *t) {
    DC_CHECK_ARGS(c, pw_names[kind], p, t);
    if (!pair_ok(pw_names[kind], p, t)) return NULL;
    if (kind == L_CCE && p->ndim != 2)
        return dc_error_null(DC_ERR_SHAPE, "%s: expected probabilities [N, K], got %s", pw_names[kind], dc_tshape(p, 0));
    if (!(p = dc_contig(c, p)) || !(t = dc_contig(c, t))) return NULL;
    dc_tensor *y = dc_out(c, 1, (int64_t[]){1});
    if (!y) return NULL;
    const float *P = p->data, *Y = t->data;
    double s = 0;
    for (int64_t i = 0; i < p->numel; i++) {
        float d = P[i] - Y[i];
        switch (kind) {
        case L_MSE: s += (double)d * d; break;
        case L_MAE: s += fabs((double)d); break;
        case L_BCE: {
            float q = clampp(P[i]);
            s -= Y[i] * logf(q) + (1 - Y[i]) * logf(1 - q);
            break;
        }
        case L_BCE_LOGITS: {
            float z = P[i];
            s += (z > 0 ? z : 0) - z * Y[i] + log1pf(expf(-fabsf(z)));
            break;
        }
        default: s -= Y[i] * logf(clampp(P[i])); break;
        }
    }
    /* CCE averages over rows (sum over classes); the rest over elements */
    float scale = 1.0f / (float)(kind == L_CCE ? p->shape[0] : p->numel);
    y->data[0] = (float)(s * scale);
    if (DC_NEEDS2(c, p, t)) {
        dc_node *n = DC_RECORD2(c, pw_names[kind], pointwise_backward, y, p, t);
        if (!n) return NULL;
        n->i[0] = kind;
        n->f[0] = scale;
    }
    return y;
}

dc_tensor *dc_mse_loss(dc_ctx *c, dc_tensor *p, dc_tensor *t) { return pointwise(c, L_MSE, p, t); }
dc_tensor *dc_mae_loss(dc_ctx *c, dc_tensor *p, dc_tensor *t) { return pointwise(c, L_MAE, p, t); }
dc_tensor *dc_bce_loss(dc_ctx *c, dc_tensor *p, dc_tensor *t) { return pointwise(c, L_BCE, p, t); }
dc_tensor *dc_bce_with_logits_loss(dc_ctx *c, dc_tensor *z, dc_tensor *t) { return pointwise(c, L_BCE_LOGITS, z, t); }
dc_tensor *dc_cce_loss(dc_ctx *c, dc_tensor *p, dc_tensor *t) { return pointwise(c, L_CCE, p, t); }

/* Labels must be whole numbers in [0, K). */
static bool labels_ok(const char *op, const dc_tensor *lab, int64_t N, int64_t K) {
    if (lab->numel != N) {
        dc_error(DC_ERR_SHAPE, "%s: %lld labels for %lld rows (labels %s)", op, (long long)lab->numel, (long long)N,
                 dc_tshape(lab, 0));
        return false;
    }
    for (int64_t i = 0; i < N; i++) {
        float v = lab->data[i];
        if (!(v >= 0 && v < (float)K) || v != floorf(v)) {
            dc_error(DC_ERR_ARG, "%s: label %g at row %lld is not a class index in [0, %lld)", op, (double)v, (long long)i,
                     (long long)K);
            return false;
        }
    }
    return true;
}

/* ---- sparse CCE from probabilities ---- */
static void sparse_backward(dc_ctx *c, dc_node *n) {
    dc_tensor *p = n->in[0], *lab = n->in[1];
    float *gp = dc_grad_buf(c, p);
    if (!gp) return;
    int64_t N = p->shape[0], K = p->shape[1];
    float s = n->out->grad->data[0] / (float)N;
    for (int64_t r = 0; r < N; r++) {
        int64_t k = (int64_t)lab->data[r];
        float q = p->data[r * K + k];
        if (q >= PROB_EPS) gp[r * K + k] -= s / q;
    }
}

dc_tensor *dc_sparse_cce_loss(dc_ctx *c, dc_tensor *p, dc_tensor *lab) {
    const char *op = "sparse_categorical_crossentropy";
    DC_CHECK_ARGS(c, op, p, lab);
    if (p->ndim != 2) return dc_error_null(DC_ERR_SHAPE, "%s: expected probabilities [N, K], got %s", op, dc_tshape(p, 0));
    if (!(p = dc_contig(c, p)) || !(lab = dc_contig(c, lab))) return NULL;
    int64_t N = p->shape[0], K = p->shape[1];
    if (N == 0) return dc_error_null(DC_ERR_SHAPE, "%s: empty batch", op);
    if (!labels_ok(op, lab, N, K)) return NULL;
    dc_tensor *y = dc_out(c, 1, (int64_t[]){1});
    if (!y) return NULL;
    double s = 0;
    for (int64_t r = 0; r < N; r++) s -= logf(clampp(p->data[r * K + (int64_t)lab->data[r]]));
    y->data[0] = (float)(s / (double)N);
    if (DC_NEEDS1(c, p) && !DC_RECORD2(c, op, sparse_backward, y, p, lab)) return NULL;
    return y;
}

/* ---- fused softmax + cross-entropy ---- */
static void softmax_ce_backward(dc_ctx *c, dc_node *n) {
    dc_tensor *z = n->in[0], *t = n->in[1];
    float *gz = dc_grad_buf(c, z);
    if (!gz) return;
    bool sparse = n->i[0];
    int64_t N = z->shape[0], K = z->shape[1];
    const float *prob = n->saved;
    float s = n->out->grad->data[0] / (float)N;
    DC_FOR_ROWS(r, N, N * K, {
        const float *pr = prob + r * K;
        float *gr = gz + r * K;
        if (sparse) {
            for (int64_t k = 0; k < K; k++) gr[k] += s * pr[k];
            gr[(int64_t)t->data[r]] -= s;
        } else {
            const float *yr = t->data + r * K;
            float ysum = 0;
            for (int64_t k = 0; k < K; k++) ysum += yr[k];
            for (int64_t k = 0; k < K; k++) gr[k] += s * (pr[k] * ysum - yr[k]);
        }
    });
}

static dc_tensor *softmax_ce(dc_ctx *c, dc_tensor *z, dc_tensor *t, bool sparse) {
    const char *op = sparse ? "softmax_sparse_categorical_crossentropy" : "softmax_categorical_crossentropy";
    DC_CHECK_ARGS(c, op, z, t);
    if (z->ndim != 2) return dc_error_null(DC_ERR_SHAPE, "%s: expected logits [N, K], got %s", op, dc_tshape(z, 0));
    if (!(z = dc_contig(c, z)) || !(t = dc_contig(c, t))) return NULL;
    int64_t N = z->shape[0], K = z->shape[1];
    if (N == 0 || K == 0) return dc_error_null(DC_ERR_SHAPE, "%s: empty logits %s", op, dc_tshape(z, 0));
    if (sparse ? !labels_ok(op, t, N, K) : !pair_ok(op, z, t)) return NULL;
    dc_tensor *y = dc_out(c, 1, (int64_t[]){1});
    float *logp = y ? dc_scratch(c, (size_t)(N * K) * sizeof(float)) : NULL;
    if (!logp) return NULL;
    dc_k_softmax_rows(z->data, logp, N, K, true);
    double s = 0;
    for (int64_t r = 0; r < N; r++) {
        const float *lr = logp + r * K;
        if (sparse) s -= lr[(int64_t)t->data[r]];
        else
            for (int64_t k = 0; k < K; k++) s -= t->data[r * K + k] * lr[k];
    }
    y->data[0] = (float)(s / (double)N);
    if (DC_NEEDS1(c, z)) {
        for (int64_t i = 0; i < N * K; i++) logp[i] = expf(logp[i]); /* keep probabilities for backward */
        dc_node *n = DC_RECORD2(c, op, softmax_ce_backward, y, z, t);
        if (!n) return NULL;
        n->i[0] = sparse;
        n->saved = logp;
    }
    return y;
}

dc_tensor *dc_softmax_cce_loss(dc_ctx *c, dc_tensor *z, dc_tensor *t) { return softmax_ce(c, z, t, false); }
dc_tensor *dc_softmax_sparse_cce_loss(dc_ctx *c, dc_tensor *z, dc_tensor *lab) { return softmax_ce(c, z, lab, true); }
