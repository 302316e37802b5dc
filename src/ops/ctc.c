/* CTC: the loss of label sequences that come without an alignment to the input steps
 * (Connectionist Temporal Classification, Graves et al. 2006), as torch.nn.CTCLoss computes it.
 * The decoders and error rates live in ctc_decode.c.
 *
 * Sample n's S labels y are extended with blanks b: l' = (b, y_1, b, y_2, ..., y_S, b), L = 2 S + 1
 * states. Over its first T_n steps, in log space and double precision (e_t(s) = lp_t(l'_s)):
 *   alpha_0(0) = e_0(0), alpha_0(1) = e_0(1)
 *   alpha_t(s) = e_t(s) + LSE(alpha_{t-1}(s), alpha_{t-1}(s-1), alpha_{t-1}(s-2) when l'_s is a
 *                label other than l'_{s-2}: the blank between equal labels cannot be skipped)
 *   log P = LSE(alpha_{T_n-1}(L-1), alpha_{T_n-1}(L-2)),   l_n = -log P
 * and backwards, the emission included as in the alpha recursion,
 *   beta_{T_n-1}(s) = e(s) for s >= L - 2, beta_t(s) = e_t(s) + LSE(beta_{t+1}(s), beta_{t+1}(s+1),
 *                beta_{t+1}(s+2) under the same condition on l'_s and l'_{s+2}).
 * alpha_t(s) + beta_t(s) - e_t(s) - log P is the log-probability that an alignment is in state s
 * at step t; summed over the states of class k it is gamma_t(k), the posterior probability that
 * step t emits k, and d l_n / d lp_t(k) = -gamma_t(k). From logits z (lp = log_softmax(z), fused
 * here) d l_n / d z_t(k) = softmax(z_t)_k - gamma_t(k), the stable form: sum_k gamma_t(k) = 1.
 *
 * Forward computes each sample's loss and, when a gradient is wanted, its Jacobian [T, C]
 * (unscaled); backward multiplies it by the sample's factor (reduction, weight) and the upstream
 * gradient. Samples are independent: each runs on one thread, so no sum depends on the thread
 * count, and the reduction adds the samples in order. */
#include "ops.h"

#include <math.h>
#include <string.h>

#define OP "ctc"

typedef struct ctc_job {
    int64_t T, C, S, blank;
    const float *X;       /* [N, T, C], contiguous: log-probabilities or logits */
    bool logits, zero_inf;
    const int32_t *lab;   /* [N, S] labels; sample n's first tlen[n] count */
    const int64_t *tlen, *ilen;
    double *ws;           /* scratch: sample n's at ws + woff[n] */
    const int64_t *woff;
    float *jac;           /* [N, T, C] d l_n / d X, or NULL when no gradient is wanted */
    double *loss;         /* [N] l_n: +inf when infeasible (0 with zero_infinity) */
} ctc_job;


/* Sample n's scratch in doubles: alpha [T_n, L], two beta rows [L], the logits' row
 * normalisers [T_n] and the occupancy of a step [C]. */
static int64_t ctc_scratch(int64_t Tn, int64_t Sn, int64_t C) { return Tn * (2 * Sn + 1) + 2 * (2 * Sn + 1) + Tn + C; }

static void ctc_sample(const ctc_job *j, int64_t n) {
    const int64_t T = j->T, C = j->C, Tn = j->ilen ? j->ilen[n] : T, Sn = j->tlen[n], L = 2 * Sn + 1, B = j->blank;
    const float *X = j->X + n * T * C;
    const int32_t *y = j->lab + n * j->S;
    float *J = j->jac ? j->jac + n * T * C : NULL;
    double *A = j->ws + j->woff[n], *bc = A + Tn * L, *bn = bc + L, *lse = bn + L, *occ = lse + Tn;
#define LBL(s) (((s) & 1) ? (int64_t)y[(s) >> 1] : B)
#define LP(t, k) ((double)X[(t) * C + (k)] - (j->logits ? lse[t] : 0.0))
    if (J) memset(J + Tn * C, 0, (size_t)((T - Tn) * C) * sizeof(float)); /* steps past the input's length */
    if (j->logits)
        for (int64_t t = 0; t < Tn; t++) {
            const float *x = X + t * C;
            double mx = -INFINITY, s = 0;
            for (int64_t k = 0; k < C; k++) mx = x[k] > mx ? x[k] : mx;
            for (int64_t k = 0; k < C; k++) s += exp((double)x[k] - mx);
            lse[t] = mx + log(s);
        }
    double logP;
    if (Tn == 0) {
        logP = Sn == 0 ? 0.0 : -INFINITY; /* no steps: only the empty labelling, with probability 1 */
    } else {
        for (int64_t s = 0; s < L; s++) A[s] = -INFINITY;
        A[0] = LP(0, B);
        if (L > 1) A[1] = LP(0, LBL(1));
        for (int64_t t = 1; t < Tn; t++) {
            const double *prev = A + (t - 1) * L;
            double *cur = A + t * L;
            for (int64_t s = 0; s < L; s++) {
                double v = prev[s];
                if (s >= 1) v = dc_log_add_exp(v, prev[s - 1]);
                if (s >= 3 && (s & 1) && LBL(s) != LBL(s - 2)) v = dc_log_add_exp(v, prev[s - 2]);
                cur[s] = v + LP(t, LBL(s));
            }
        }
        const double *last = A + (Tn - 1) * L;
        logP = dc_log_add_exp(last[L - 1], L > 1 ? last[L - 2] : -INFINITY);
    }
    if (!(logP > -INFINITY)) { /* infeasible (or NaN input): +inf, or 0 with zero_infinity */
        bool nan_in = isnan(logP);
        j->loss[n] = nan_in ? NAN : j->zero_inf ? 0.0 : INFINITY;
        if (J) {
            float g = j->zero_inf && !nan_in ? 0.0f : NAN;
            for (int64_t e = 0; e < Tn * C; e++) J[e] = g;
        }
        return;
    }
    j->loss[n] = -logP;
    if (!J) return;
    for (int64_t t = Tn - 1; t >= 0; t--) {
        for (int64_t s = 0; s < L; s++) {
            double v;
            if (t == Tn - 1) {
                v = s >= L - 2 ? 0.0 : -INFINITY;
            } else {
                v = bn[s];
                if (s + 1 < L) v = dc_log_add_exp(v, bn[s + 1]);
                if (s + 2 < L && (s & 1) && LBL(s) != LBL(s + 2)) v = dc_log_add_exp(v, bn[s + 2]);
            }
            bc[s] = v + LP(t, LBL(s));
        }
        for (int64_t k = 0; k < C; k++) occ[k] = 0;
        const double *a = A + t * L;
        for (int64_t s = 0; s < L; s++)
            if (a[s] > -INFINITY && bc[s] > -INFINITY) occ[LBL(s)] += exp(a[s] + bc[s] - LP(t, LBL(s)) - logP);
        float *g = J + t * C;
        for (int64_t k = 0; k < C; k++) g[k] = (float)(j->logits ? exp(LP(t, k)) - occ[k] : -occ[k]);
        double *sw = bc;
        bc = bn;
        bn = sw;
    }
#undef LBL
#undef LP
}

typedef struct ctc_saved {
    const float *jac;
    const double *scale; /* [N]: the sample's factor in the reduced loss (0: no gradient) */
    int64_t N, TC;
    dc_reduction red;
} ctc_saved;

static void ctc_backward(dc_ctx *c, dc_node *nd) {
    const ctc_saved *s = nd->saved;
    const float *G = nd->out->grad->data;
    float *gx = dc_grad_buf(c, nd->in[0]);
    const int64_t TC = s->TC;
    DC_FOR_ROWS(n, s->N, s->N * TC, {
        const double sc = s->scale[n];
        if (sc != 0) {
            const float g = (float)((s->red == DC_REDUCE_NONE ? G[n] : G[0]) * sc);
            const float *J = s->jac + n * TC;
            float *o = gx + n * TC;
            for (int64_t e = 0; e < TC; e++) o[e] += g * J[e];
        }
    });
}

/* t's elements in order: its own data when contiguous, else a copy in c's arena. */
static const float *ctc_flat(dc_ctx *c, const dc_tensor *t) {
    if (dc_tensor_is_contiguous(t)) return t->data;
    float *d = dc_scratch(c, (size_t)t->numel * sizeof(float));
    if (d) dc_copy_strided(d, t);
    return d;
}

/* The targets [N, S] read into labels and lengths (the count before the first negative). */
static bool ctc_targets(dc_ctx *c, const dc_tensor *t, int64_t N, int64_t C, int64_t blank, int32_t **lab, int64_t **tlen) {
    if (t->ndim != 2 || t->shape[0] != N) {
        dc_error(DC_ERR_SHAPE, OP ": targets %s for %lld samples: expected [N, S], each row a sample's labels then negative padding",
                 dc_tshape(t, 0), (long long)N);
        return false;
    }
    const int64_t S = t->shape[1];
    const float *d = ctc_flat(c, t);
    *lab = d ? dc_scratch(c, (size_t)DC_MAX(N * S, 1) * sizeof(int32_t)) : NULL;
    *tlen = *lab ? dc_scratch(c, (size_t)N * sizeof(int64_t)) : NULL;
    if (!*tlen) return false;
    for (int64_t n = 0; n < N; n++) {
        int64_t k = 0;
        for (; k < S; k++) {
            float v = d[n * S + k];
            if (v < 0) break;
            if (!(v < (float)C) || v != floorf(v)) {
                dc_error(DC_ERR_ARG, OP ": target of sample %lld, position %lld: %g is not a class index in [0, %lld) (a target ends at "
                                    "its first negative value)", (long long)n, (long long)k, (double)v, (long long)C);
                return false;
            }
            if ((int64_t)v == blank) {
                dc_error(DC_ERR_ARG, OP ": target of sample %lld, position %lld: %g is the blank's index (blank %lld); targets hold "
                                    "labels only", (long long)n, (long long)k, (double)v, (long long)blank);
                return false;
            }
            (*lab)[n * S + k] = (int32_t)v;
        }
        (*tlen)[n] = k;
    }
    return true;
}

dc_tensor *dc_ctc_loss(dc_ctx *c, dc_tensor *logp, const dc_tensor *targets, const int64_t *input_lengths,
                       const dc_loss_opts *opts, dc_reduction red, const dc_tensor *sample_weight) {
    DC_CHECK_ARGS(c, OP, logp, (dc_tensor *)targets);
    const dc_loss_opts o = opts ? *opts : dc_loss_opts_default();
    if ((unsigned)red >= DC_REDUCE_COUNT) return dc_error_null(DC_ERR_ARG, OP ": unknown reduction %d", (int)red);
    if (o.label_smoothing != 0)
        return dc_error_null(DC_ERR_ARG, OP ": label_smoothing %g is not an option of this loss (categorical and sparse categorical "
                                         "crossentropy take it)", (double)o.label_smoothing);
    if (logp->ndim != 3 || logp->numel == 0)
        return dc_error_null(DC_ERR_SHAPE, OP ": expected %s [N, T, C] (batch, steps, classes), got %s",
                             o.from_logits ? "logits" : "log-probabilities", dc_tshape(logp, 0));
    const int64_t N = logp->shape[0], T = logp->shape[1], C = logp->shape[2];
    if (o.blank < 0 || o.blank >= C)
        return dc_error_null(DC_ERR_ARG, OP ": blank %lld is not a class of %s (in [0, %lld))", (long long)o.blank, dc_tshape(logp, 0),
                             (long long)C);
    if (C > INT32_MAX) return dc_error_null(DC_ERR_SHAPE, OP ": %lld classes (at most %d)", (long long)C, INT32_MAX);
    if (c->grad && targets->requires_grad)
        return dc_error_null(DC_ERR_ARG, OP ": the targets %s require grad, but label sequences get no gradient", dc_tshape(targets, 0));
    ctc_job j = {.T = T, .C = C, .S = targets->ndim == 2 ? targets->shape[1] : 0, .blank = o.blank, .logits = o.from_logits,
                 .zero_inf = o.zero_infinity, .ilen = input_lengths};
    int32_t *lab;
    int64_t *tlen;
    if (!ctc_targets(c, targets, N, C, o.blank, &lab, &tlen)) return NULL;
    j.lab = lab, j.tlen = tlen;
    if (input_lengths)
        for (int64_t n = 0; n < N; n++)
            if (input_lengths[n] < 0 || input_lengths[n] > T)
                return dc_error_null(DC_ERR_ARG, OP ": input length %lld of sample %lld is outside [0, %lld]", (long long)input_lengths[n],
                                     (long long)n, (long long)T);
    const float *sw = NULL;
    if (sample_weight) {
        if (sample_weight->numel != N)
            return dc_error_null(DC_ERR_ARG, OP ": sample_weight %s has %lld elements, expected %lld (one per sample)",
                                 dc_tshape(sample_weight, 0), (long long)sample_weight->numel, (long long)N);
        if (!(sw = ctc_flat(c, sample_weight))) return NULL;
        for (int64_t n = 0; n < N; n++)
            if (!(sw[n] >= 0) || isinf(sw[n]))
                return dc_error_null(DC_ERR_ARG, OP ": sample_weight[%lld] = %g; weights must be finite and >= 0", (long long)n,
                                     (double)sw[n]);
    }
    if (!(logp = dc_contig(c, logp))) return NULL;
    j.X = logp->data;

    const bool want = DC_NEEDS1(c, logp);
    int64_t *woff = dc_scratch(c, (size_t)N * sizeof(int64_t)), total = 0, work = 0;
    if (!woff) return NULL;
    for (int64_t n = 0; n < N; n++) {
        int64_t Tn = input_lengths ? input_lengths[n] : T;
        woff[n] = total;
        total += ctc_scratch(Tn, tlen[n], C);
        work += Tn * (2 * tlen[n] + 1 + C) * 8; /* exp and log dominate: weighed as several element operations */
    }
    j.woff = woff;
    dc_tensor *y = dc_out(c, 1, (int64_t[]){red == DC_REDUCE_NONE ? N : 1});
    if (!y || !(j.ws = dc_scratch(c, (size_t)total * sizeof(double))) || !(j.loss = dc_scratch(c, (size_t)N * sizeof(double))))
        return NULL;
    if (want && !(j.jac = dc_scratch(c, (size_t)logp->numel * sizeof(float)))) return NULL;
    const ctc_job *jj = &j;
    DC_FOR_ROWS(n, N, work, ctc_sample(jj, n););

    /* each sample's factor in the reduced loss: its weight, over its target length and N for the mean */
    double *scale = dc_scratch(c, (size_t)N * sizeof(double)), acc = 0;
    if (!scale) return NULL;
    for (int64_t n = 0; n < N; n++) {
        double w = sw ? sw[n] : 1.0;
        scale[n] = red == DC_REDUCE_MEAN ? w / (double)DC_MAX(tlen[n], 1) / (double)N : w;
        double v = w == 0 ? 0.0 : w * j.loss[n];
        if (red == DC_REDUCE_NONE) y->data[n] = (float)v;
        else acc += red == DC_REDUCE_MEAN ? v / (double)DC_MAX(tlen[n], 1) : v;
    }
    if (red != DC_REDUCE_NONE) y->data[0] = (float)(red == DC_REDUCE_MEAN ? acc / (double)N : acc);
    if (want) {
        ctc_saved *s = dc_scratch(c, sizeof *s);
        dc_node *nd = s ? DC_RECORD1(c, OP, ctc_backward, y, logp) : NULL;
        if (!nd) return NULL;
        *s = (ctc_saved){.jac = j.jac, .scale = scale, .N = N, .TC = T * C, .red = red};
        nd->saved = s;
    }
    return y;
}
