/* The losses over the class axis: categorical and sparse categorical cross-entropy (on
 * probabilities or fused with the softmax), negative log-likelihood, Kullback-Leibler divergence
 * and cosine similarity. A row of pred [N, ..., K] holds row_len / K positions, each a vector of
 * K values along the last axis; the row's loss is the mean of its positions' terms. Each term
 * function returns the position's loss (class weights applied) and writes the position's slice
 * of the Jacobians, scaled by sc = sample weight / positions per row. */
#include "loss_impl.h"

#include <math.h>

/* The (smoothed) target of class k at a position: (1 - eps) y_k + eps / K, y one-hot for a label. */
static inline float ce_target(const dc_loss_job *j, int64_t pos, int64_t b, int64_t k) {
    float y = j->lab ? (float)(j->lab[pos] == k) : j->Y[b + k];
    return j->smooth == 0 ? y : (1 - j->smooth) * y + j->smooth / (float)j->K;
}

/* -sum_k w_k t_k log p_k on probabilities clamped to [eps, 1 - eps]. */
DC_CLONES static double ce_probs(const dc_loss_job *j, int64_t pos, int64_t b, float sc) {
    const float *p = j->P + b, keep = 1 - j->smooth;
    if (j->lab && j->smooth == 0) { /* one class: -w_l log p_l */
        const int32_t l = j->lab[pos];
        const float w = j->cw ? j->cw[l] : 1.0f, q = dc_loss_clamp(p[l], DC_LOSS_EPSILON, 1 - DC_LOSS_EPSILON);
        if (j->jp) {
            for (int64_t k = 0; k < j->K; k++) j->jp[b + k] = 0;
            j->jp[b + l] = q == p[l] ? -sc * w / q : 0.0f;
        }
        return -(double)w * logf(q);
    }
    double v = 0;
    for (int64_t k = 0; k < j->K; k++) {
        float t = ce_target(j, pos, b, k), w = j->cw ? j->cw[k] : 1.0f;
        float q = dc_loss_clamp(p[k], DC_LOSS_EPSILON, 1 - DC_LOSS_EPSILON), lq = logf(q);
        v -= (double)w * t * lq;
        if (j->jp) j->jp[b + k] = q == p[k] ? -sc * w * t / q : 0.0f;
        if (j->jt) j->jt[b + k] = -sc * keep * w * lq;
    }
    return v;
}

/* -sum_k w_k t_k ls_k with ls = log_softmax(z) = (z - max) - L, L = log(sum_k e^(z_k - max));
 * d/dz_k = S softmax(z)_k - w_k t_k with S = sum_k w_k t_k. Subtracting the maximum first keeps
 * a saturated row's small loss: -log(1 + 4e-8) of a confident class stays -4e-8 instead of
 * rounding to 0 beside logits of order 100. Only the largest logit can have softmax > 1/2; there
 * the gradient is S expm1(ls) + (S - w t), which keeps the small difference that S softmax - w t
 * would cancel. The exponentials are dc_fast_expf's (relative error about 2e-7), in loops that
 * vectorise; the sums are in double. */
#define CE_CHUNK 256
DC_CLONES static double ce_logits(const dc_loss_job *j, int64_t pos, int64_t b, float sc) {
    const float *z = j->P + b, keep = 1 - j->smooth, u = j->smooth / (float)j->K, *cw = j->cw;
    const int64_t K = j->K;
    int64_t kmax = 0;
    for (int64_t k = 1; k < K; k++)
        if (z[k] > z[kmax]) kmax = k;
    const float m = z[kmax];
    double se = 0;
    float buf[CE_CHUNK];
    for (int64_t k0 = 0; k0 < K; k0 += CE_CHUNK) {
        const int64_t n = K - k0 < CE_CHUNK ? K - k0 : CE_CHUNK;
#pragma omp simd
        for (int64_t i = 0; i < n; i++) buf[i] = dc_fast_expf(z[k0 + i] - m);
#pragma omp simd reduction(+ : se)
        for (int64_t i = 0; i < n; i++) se += buf[i];
    }
    const float L = (float)log(se);
    /* v = -sum_k wt_k ((z_k - m) - L) = L S - sum_k wt_k (z_k - m) */
    double S = 0, wz = 0;
    int32_t l = -1;
    if (j->lab) {
        l = j->lab[pos];
        const float wl = cw ? cw[l] : 1.0f;
        S = (double)keep * wl, wz = (double)keep * wl * (z[l] - m);
        if (u != 0)
            for (int64_t k = 0; k < K; k++) {
                float w = cw ? cw[k] : 1.0f;
                S += (double)u * w, wz += (double)u * w * (z[k] - m);
            }
    } else {
        for (int64_t k = 0; k < K; k++) {
            double wt = (double)(cw ? cw[k] : 1.0f) * (keep * j->Y[b + k] + u);
            S += wt, wz += wt * (z[k] - m);
        }
    }
    if (j->jt) {
        float *jt = j->jt + b;
        for (int64_t k = 0; k < K; k++) jt[k] = -sc * keep * (cw ? cw[k] : 1.0f) * ((z[k] - m) - L);
    }
    if (j->jp) {
        float *jp = j->jp + b;
        const float a = sc * (float)(S / se);
#pragma omp simd
        for (int64_t k = 0; k < K; k++) jp[k] = a * dc_fast_expf(z[k] - m);
        if (j->lab) {
            if (u != 0)
                for (int64_t k = 0; k < K; k++) jp[k] -= sc * u * (cw ? cw[k] : 1.0f);
            jp[l] -= sc * keep * (cw ? cw[l] : 1.0f);
        } else {
            for (int64_t k = 0; k < K; k++) jp[k] -= sc * (cw ? cw[k] : 1.0f) * (keep * j->Y[b + k] + u);
        }
        if (L < 0.6931472f) { /* softmax of the largest logit, 1/se, is above 1/2 */
            double wt = (double)(cw ? cw[kmax] : 1.0f) * (j->lab ? u + keep * (float)(l == kmax) : keep * j->Y[b + kmax] + u);
            jp[kmax] = sc * (float)(S * expm1(-(double)L) + (S - wt));
        }
    }
    return L * S - wz;
}

/* -w_label lp_label on log-probabilities. */
DC_CLONES static double nll(const dc_loss_job *j, int64_t pos, int64_t b, float sc) {
    const int32_t l = j->lab[pos];
    const float w = j->cw ? j->cw[l] : 1.0f;
    if (j->jp)
        for (int64_t k = 0; k < j->K; k++) j->jp[b + k] = k == l ? -sc * w : 0.0f;
    return -(double)w * j->P[b + l];
}

/* sum_k w_k y_k log(y_k / p_k), y and p clamped to [eps, 1] (Keras's KLDivergence). */
DC_CLONES static double kld(const dc_loss_job *j, int64_t pos, int64_t b, float sc) {
    (void)pos;
    double v = 0;
    for (int64_t k = 0; k < j->K; k++) {
        float p = j->P[b + k], y = j->Y[b + k], w = j->cw ? j->cw[k] : 1.0f;
        float pc = dc_loss_clamp(p, DC_LOSS_EPSILON, 1), yc = dc_loss_clamp(y, DC_LOSS_EPSILON, 1);
        float lr = logf(yc) - logf(pc);
        v += (double)w * yc * lr;
        if (j->jp) j->jp[b + k] = pc == p ? -sc * w * yc / pc : 0.0f;
        if (j->jt) j->jt[b + k] = yc == y ? sc * w * (lr + 1) : 0.0f;
    }
    return v;
}

/* -(p / |p|) . (y / |y|), each norm at least 1e-6 (Keras's l2_normalize: 1e-12 on the square). */
DC_CLONES static double cosine(const dc_loss_job *j, int64_t pos, int64_t b, float sc) {
    (void)pos;
    const float *p = j->P + b, *y = j->Y + b;
    const double floor2 = 1e-12;
    double pp = 0, yy = 0, py = 0;
    for (int64_t k = 0; k < j->K; k++) {
        pp += (double)p[k] * p[k];
        yy += (double)y[k] * y[k];
        py += (double)p[k] * y[k];
    }
    const double np = sqrt(pp > floor2 ? pp : floor2), ny = sqrt(yy > floor2 ? yy : floor2), cs = py / (np * ny);
    /* d(-cos)/dp = -y / (|p| |y|) + cos p / |p|^2, the second term absent where |p| is floored */
    const double ap = pp > floor2 ? cs / (np * np) : 0, ay = yy > floor2 ? cs / (ny * ny) : 0, inv = 1 / (np * ny);
    for (int64_t k = 0; k < j->K; k++) {
        if (j->jp) j->jp[b + k] = sc * (float)(-y[k] * inv + ap * p[k]);
        if (j->jt) j->jt[b + k] = sc * (float)(-p[k] * inv + ay * y[k]);
    }
    return -cs;
}

void dc_loss_class_row(const dc_loss_job *j, int64_t n) {
    const int64_t K = j->K, npos = j->row_len / K;
    const float sw = j->sw ? j->sw[n] : 1.0f, sc = sw / (float)npos;
    double (*term)(const dc_loss_job *, int64_t, int64_t, float);
    switch (j->kind) {
    case DC_LOSS_CCE:
    case DC_LOSS_SPARSE_CCE: term = j->logits ? ce_logits : ce_probs; break;
    case DC_LOSS_NLL: term = nll; break;
    case DC_LOSS_KLD: term = kld; break;
    default: term = cosine; break;
    }
    double acc = 0;
    for (int64_t q = 0; q < npos; q++) {
        int64_t pos = n * npos + q;
        acc += term(j, pos, pos * K, sc);
    }
    j->row[n] = sw * acc / (double)npos;
}
