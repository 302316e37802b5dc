/* Batch normalisation over every axis but axis 1 (channels): [N, C] or [N, C, H, W].
 * Training: y = gamma (x - mean_B) / sqrt(var_B + eps) + beta with the batch's biased variance,
 * and running = (1 - momentum) running + momentum batch (unbiased variance), as PyTorch.
 * Inference: the running statistics are used instead. */
#include "ops.h"

#include <math.h>
#include <string.h>

typedef struct bn_saved {
    float *mean, *inv_std;
    bool training;
    /* synchronised statistics: the element count of every rank's batch, this rank's weight in the
     * summed gradient and the communicator whose sum_d sums over the ranks (NULL: this rank's
     * batch alone). The communicator must outlive the step: backward sums through it again. */
    double count;
    float w;
    const dc_comm *comm;
    double *sd; /* backward's sums, 4 C (made in forward, so backward allocates nothing before its sum) */
} bn_saved;

/* Channel ch's sums of gy and of gy * xhat over this rank's batch. */
DC_INLINE void bn_channel_sums(const float *X, const float *gy, int64_t N, int64_t C, int64_t S, int64_t ch, float mu, float is,
                               double *sdy_out, double *sdyx_out) {
    double sdy = 0, sdyx = 0;
    for (int64_t i = 0; i < N; i++) {
        const float *xr = X + (i * C + ch) * S, *gr = gy + (i * C + ch) * S;
#pragma omp simd reduction(+ : sdy, sdyx)
        for (int64_t j = 0; j < S; j++) {
            sdy += gr[j];
            sdyx += gr[j] * (xr[j] - mu) * is;
        }
    }
    *sdy_out = sdy;
    *sdyx_out = sdyx;
}

/* Synchronised backward. The loss is the sum over the ranks of w_r times rank r's own loss, and
 * this rank's gradients are in its own loss's units (fit scales them by w_r afterwards): so the
 * means of the output gradient over the whole batch are sums of w_r-weighted per-rank sums,
 * divided by the global count, and this rank's input gradient takes them divided by its w. */
DC_CLONES static void bn_backward_sync(dc_ctx *c, dc_node *n) {
    dc_tensor *x = n->in[0], *gamma = n->in[1], *beta = n->in[2];
    bn_saved *s = n->saved;
    int64_t N = x->shape[0], C = x->shape[1], S = x->numel / (N * C);
    float *gx = dc_grad_buf(c, x), *gg = dc_grad_buf(c, gamma), *gbt = dc_grad_buf(c, beta);
    double *sd = s->sd;
    const float *gy = n->out->grad->data, *X = x->data;
    DC_PAR_FOR(x->numel > DC_PAR_MIN, ch, C, bn_channel_sums(X, gy, N, C, S, ch, s->mean[ch], s->inv_std[ch], &sd[ch], &sd[C + ch]););
    for (int64_t ch = 0; ch < 2 * C; ch++) sd[2 * C + ch] = sd[ch] * (double)s->w;
    dc_status st = s->comm->sum_d(sd + 2 * C, (int)(2 * C));
    if (st) {
        if (!c->err) c->err = st;
        return;
    }
    for (int64_t ch = 0; ch < C; ch++) {
        if (gg) gg[ch] += (float)sd[C + ch];
        if (gbt) gbt[ch] += (float)sd[ch];
    }
    if (!gx) return;
    DC_PAR_FOR(x->numel > DC_PAR_MIN, ch, C, {
        float mu = s->mean[ch], is = s->inv_std[ch], g = gamma ? gamma->data[ch] : 1.0f, k = g * is;
        float a = (float)(sd[2 * C + ch] / s->count / s->w), b = (float)(sd[3 * C + ch] / s->count / s->w);
        for (int64_t i = 0; i < N; i++) {
            const float *xr = X + (i * C + ch) * S, *gr = gy + (i * C + ch) * S;
            float *dr = gx + (i * C + ch) * S;
            for (int64_t j = 0; j < S; j++) dr[j] += k * (gr[j] - a - (xr[j] - mu) * is * b);
        }
    });
}

DC_CLONES static void bn_backward(dc_ctx *c, dc_node *n) {
    dc_tensor *x = n->in[0], *gamma = n->in[1], *beta = n->in[2];
    bn_saved *s = n->saved;
    if (s->comm) {
        bn_backward_sync(c, n);
        return;
    }
    int64_t N = x->shape[0], C = x->shape[1], S = x->numel / (N * C), M = N * S;
    float *gx = dc_grad_buf(c, x), *gg = dc_grad_buf(c, gamma), *gbt = dc_grad_buf(c, beta);
    const float *gy = n->out->grad->data, *X = x->data;
    DC_PAR_FOR(x->numel > DC_PAR_MIN, ch, C, {
        float mu = s->mean[ch], is = s->inv_std[ch], g = gamma ? gamma->data[ch] : 1.0f;
        double sdy, sdyx;
        bn_channel_sums(X, gy, N, C, S, ch, mu, is, &sdy, &sdyx);
        if (gg) gg[ch] += (float)sdyx;
        if (gbt) gbt[ch] += (float)sdy;
        if (!gx) continue;
        float k = g * is;
        float a = s->training ? (float)(sdy / (double)M) : 0.0f, b = s->training ? (float)(sdyx / (double)M) : 0.0f;
        for (int64_t i = 0; i < N; i++) {
            const float *xr = X + (i * C + ch) * S, *gr = gy + (i * C + ch) * S;
            float *dr = gx + (i * C + ch) * S;
            for (int64_t j = 0; j < S; j++) dr[j] += k * (gr[j] - a - (xr[j] - mu) * is * b);
        }
    });
}

/* y = (x - mean) inv_std gamma + beta, channel ch. */
DC_INLINE void bn_normalise(const float *X, float *Y, int64_t N, int64_t C, int64_t S, int64_t ch, float m, float is, float g, float b) {
    for (int64_t i = 0; i < N; i++) {
        const float *xr = X + (i * C + ch) * S;
        float *yr = Y + (i * C + ch) * S;
        for (int64_t j = 0; j < S; j++) yr[j] = (xr[j] - m) * is * g + b;
    }
}

/* Training statistics over every rank's batch: two sums over the ranks, of the per-channel sums
 * with the element count, then of the squared deviations from the global mean (the two-pass
 * variance, as in one process). Fills s->mean, s->inv_std, s->count and updates the running
 * statistics. Every rank calls it, so every rank gets the same error. */
DC_CLONES static dc_status bn_sync_stats(dc_ctx *c, const dc_tensor *x, bn_saved *s, dc_tensor *running_mean, dc_tensor *running_var,
                                         float momentum, float eps) {
    int64_t N = x->shape[0], C = x->shape[1], S = x->numel / (N * C);
    const float *X = x->data;
    double *st = dc_scratch(c, (size_t)(2 * C + 1) * sizeof(double));
    if (!st) return DC_ERR_NOMEM;
#pragma omp parallel for if (x->numel > DC_PAR_MIN)
    for (int64_t ch = 0; ch < C; ch++) {
        double sum = 0;
        for (int64_t i = 0; i < N; i++) {
            const float *xr = X + (i * C + ch) * S;
#pragma omp simd reduction(+ : sum)
            for (int64_t j = 0; j < S; j++) sum += xr[j];
        }
        st[ch] = sum;
    }
    st[C] = (double)(N * S);
    dc_status e = s->comm->sum_d(st, (int)(C + 1));
    if (e) return e;
    double M = st[C];
    if (M < 2)
        return dc_error(DC_ERR_SHAPE, "batch_norm: synchronised training needs more than one value per channel over the ranks, got %.0f",
                        M);
#pragma omp parallel for if (x->numel > DC_PAR_MIN)
    for (int64_t ch = 0; ch < C; ch++) {
        double mu = st[ch] / M, sq = 0;
        for (int64_t i = 0; i < N; i++) {
            const float *xr = X + (i * C + ch) * S;
#pragma omp simd reduction(+ : sq)
            for (int64_t j = 0; j < S; j++) sq += (xr[j] - mu) * (xr[j] - mu);
        }
        st[C + 1 + ch] = sq;
    }
    if ((e = s->comm->sum_d(st + C + 1, (int)C))) return e;
    for (int64_t ch = 0; ch < C; ch++) {
        double mu = st[ch] / M, var = st[C + 1 + ch] / M;
        if (running_mean) running_mean->data[ch] = (float)((1 - momentum) * running_mean->data[ch] + momentum * mu);
        if (running_var) running_var->data[ch] = (float)((1 - momentum) * running_var->data[ch] + momentum * var * M / (M - 1));
        s->mean[ch] = (float)mu;
        s->inv_std[ch] = (float)(1.0 / sqrt(var + eps));
    }
    s->count = M;
    return DC_OK;
}

DC_CLONES dc_tensor *dc_batch_norm_op(dc_ctx *c, dc_tensor *x, dc_tensor *gamma, dc_tensor *beta, dc_tensor *running_mean,
                                      dc_tensor *running_var, float momentum, float eps, bool training, const dc_comm *comm,
                                      float comm_w) {
    DC_CHECK_ARGS(c, "batch_norm", x);
    if (x->ndim < 2) return dc_error_null(DC_ERR_SHAPE, "batch_norm: expected input [N, C, ...], got %s", dc_tshape(x, 0));
    int64_t N = x->shape[0], C = x->shape[1];
    dc_tensor *vec[4] = {gamma, beta, running_mean, running_var};
    static const char *const names[4] = {"gamma", "beta", "running_mean", "running_var"};
    for (int k = 0; k < 4; k++)
        if (vec[k] && (vec[k]->numel != C || !dc_tensor_is_contiguous(vec[k])))
            return dc_error_null(DC_ERR_SHAPE, "batch_norm: %s has %lld elements for %lld channels", names[k],
                                 (long long)vec[k]->numel, (long long)C);
    if (!training && (!running_mean || !running_var))
        return dc_error_null(DC_ERR_ARG, "batch_norm: inference needs running_mean and running_var");
    if (!(eps > 0)) return dc_error_null(DC_ERR_ARG, "batch_norm: eps must be positive, got %g", (double)eps);
    if (!(x = dc_contig(c, x))) return NULL;
    bool sync = comm && training && comm_w > 0;
    int64_t S = (N && C) ? x->numel / (N * C) : 0, M = N * S;
    if (training && !sync && M < 2)
        return dc_error_null(DC_ERR_SHAPE, "batch_norm: training needs more than one value per channel, got input %s",
                             dc_tshape(x, 0));
    dc_tensor *y = dc_out(c, x->ndim, x->shape);
    bn_saved *s = y ? dc_scratch(c, sizeof *s) : NULL;
    float *buf = s ? dc_scratch(c, (size_t)(2 * (C ? C : 1)) * sizeof(float)) : NULL;
    if (!buf) return NULL;
    memset(s, 0, sizeof *s);
    s->mean = buf;
    s->inv_std = buf + C;
    s->training = training;
    const float *X = x->data;
    if (sync) {
        s->comm = comm;
        s->w = comm_w;
        s->sd = dc_scratch(c, (size_t)(4 * (C ? C : 1)) * sizeof(double));
        if (!s->sd) return NULL;
        dc_status e = bn_sync_stats(c, x, s, running_mean, running_var, momentum, eps);
        if (e == DC_ERR_NOMEM) return dc_error_null(e, "batch_norm: out of memory for the synchronised statistics");
        if (e) return NULL; /* the message names the failure */
#pragma omp parallel for if (x->numel > DC_PAR_MIN)
        for (int64_t ch = 0; ch < C; ch++)
            bn_normalise(X, y->data, N, C, S, ch, s->mean[ch], s->inv_std[ch], gamma ? gamma->data[ch] : 1.0f,
                         beta ? beta->data[ch] : 0.0f);
    } else {
#pragma omp parallel for if (x->numel > DC_PAR_MIN)
        for (int64_t ch = 0; ch < C; ch++) {
            double mu, var;
            if (training) {
                double sum = 0, sq = 0;
                for (int64_t i = 0; i < N; i++) {
                    const float *xr = X + (i * C + ch) * S;
#pragma omp simd reduction(+ : sum)
                    for (int64_t j = 0; j < S; j++) sum += xr[j];
                }
                mu = sum / (double)M;
                for (int64_t i = 0; i < N; i++) {
                    const float *xr = X + (i * C + ch) * S;
#pragma omp simd reduction(+ : sq)
                    for (int64_t j = 0; j < S; j++) sq += (xr[j] - mu) * (xr[j] - mu);
                }
                var = sq / (double)M;
                if (running_mean) running_mean->data[ch] = (float)((1 - momentum) * running_mean->data[ch] + momentum * mu);
                if (running_var)
                    running_var->data[ch] =
                        (float)((1 - momentum) * running_var->data[ch] + momentum * var * (double)M / (double)(M - 1));
            } else {
                mu = running_mean->data[ch];
                var = running_var->data[ch];
            }
            float is = (float)(1.0 / sqrt(var + eps)), m = (float)mu;
            s->mean[ch] = m;
            s->inv_std[ch] = is;
            bn_normalise(X, y->data, N, C, S, ch, m, is, gamma ? gamma->data[ch] : 1.0f, beta ? beta->data[ch] : 0.0f);
        }
    }
    dc_tensor *in3[3] = {x, gamma, beta};
    if (dc_needs_grad(c, 3, in3)) {
        dc_node *n = dc_record(c, "batch_norm", bn_backward, y, 3, in3);
        if (!n) return NULL;
        n->saved = s;
    } else {
        s->comm = NULL; /* no backward: nothing more to sum */
    }
    return y;
}

dc_tensor *dc_batch_norm(dc_ctx *c, dc_tensor *x, dc_tensor *gamma, dc_tensor *beta, dc_tensor *running_mean,
                         dc_tensor *running_var, float momentum, float eps, bool training) {
    return dc_batch_norm_op(c, x, gamma, beta, running_mean, running_var, momentum, eps, training, NULL, 1);
}

/* ---- layer normalisation over the last axis: x [..., D] seen as rows [R, D] ---- */
typedef struct ln_saved {
    float *mean, *rstd; /* per row */
} ln_saved;

/* Rows r0 .. r1 of gamma's and beta's gradient sums into pg = part[0 .. D) and pb = part[D .. 2D). */
DC_INLINE void ln_param_sums(const float *X, const float *gy, const ln_saved *s, int64_t D, int64_t r0, int64_t r1, float *part) {
    float *pg = part, *pb = part + D;
    for (int64_t r = r0; r < r1; r++) {
        const float *xr = X + r * D, *gr = gy + r * D;
        float mu = s->mean[r], is = s->rstd[r];
#pragma omp simd
        for (int64_t j = 0; j < D; j++) {
            pg[j] += gr[j] * (xr[j] - mu) * is;
            pb[j] += gr[j];
        }
    }
}

/* One row's input gradient dr (stored when fresh, else added to). */
DC_INLINE void ln_dx_row(const float *xr, const float *gr, const float *G, float mu, float is, int64_t D, bool fresh, float *dr) {
    float a = 0, b = 0;
#pragma omp simd reduction(+ : a, b)
    for (int64_t j = 0; j < D; j++) {
        float g = G ? gr[j] * G[j] : gr[j];
        a += g;
        b += g * (xr[j] - mu) * is;
    }
    a /= (float)D;
    b /= (float)D;
    if (fresh) {
#pragma omp simd
        for (int64_t j = 0; j < D; j++) {
            float g = G ? gr[j] * G[j] : gr[j];
            dr[j] = is * (g - a - (xr[j] - mu) * is * b);
        }
    } else {
#pragma omp simd
        for (int64_t j = 0; j < D; j++) {
            float g = G ? gr[j] * G[j] : gr[j];
            dr[j] += is * (g - a - (xr[j] - mu) * is * b);
        }
    }
}

/* One row's statistics (in double, summed in vector lanes: the order is fixed by the build, not
 * the data) and normalised output; the mean and 1/std into *mean and *rstd when not NULL. */
DC_INLINE void ln_forward_row(const float *xr, const float *G, const float *Bt, int64_t D, float eps, float *yr, float *mean,
                              float *rstd) {
    double sum = 0, sq = 0;
#pragma omp simd reduction(+ : sum)
    for (int64_t j = 0; j < D; j++) sum += xr[j];
    double mu = sum / (double)D;
#pragma omp simd reduction(+ : sq)
    for (int64_t j = 0; j < D; j++) sq += (xr[j] - mu) * (xr[j] - mu);
    float m = (float)mu, is = (float)(1.0 / sqrt(sq / (double)D + eps));
    if (mean) {
        *mean = m;
        *rstd = is;
    }
#pragma omp simd
    for (int64_t j = 0; j < D; j++) {
        float v = (xr[j] - m) * is;
        yr[j] = (G ? v * G[j] : v) + (Bt ? Bt[j] : 0.0f);
    }
}

DC_CLONES static void ln_backward(dc_ctx *c, dc_node *n) {
    dc_tensor *x = n->in[0], *gamma = n->in[1], *beta = n->in[2];
    const ln_saved *s = n->saved;
    int64_t D = x->shape[x->ndim - 1], R = x->numel / D;
    bool fx; /* every element of gx is written below: a fresh one is stored, not zeroed first */
    float *gx = dc_grad_buf_w(c, x, &fx), *gg = dc_grad_buf(c, gamma), *gbt = dc_grad_buf(c, beta);
    const float *gy = n->out->grad->data, *X = x->data, *G = gamma ? gamma->data : NULL;
    /* gamma and beta: sums over rows, in per-thread partials (a fixed split for a thread count) */
    if (gg || gbt) {
        int T = dc_get_threads();
        if (x->numel <= DC_PAR_MIN || T < 1) T = 1;
        if (T > R) T = R > 0 ? (int)R : 1;
        float *part = dc_scratch(c, (size_t)(2 * T * D) * sizeof(float));
        if (!part) {
            c->oom = true;
            return;
        }
        memset(part, 0, (size_t)(2 * T * D) * sizeof(float));
        DC_PAR_FOR(T > 1, t, T, ln_param_sums(X, gy, s, D, R * t / T, R * (t + 1) / T, part + 2 * t * D););
        for (int t = 0; t < T; t++)
            for (int64_t j = 0; j < D; j++) {
                if (gg) gg[j] += part[2 * t * D + j];
                if (gbt) gbt[j] += part[(2 * t + 1) * D + j];
            }
    }
    if (!gx) return;
    /* dx = rstd (g' - mean(g') - xhat mean(g' xhat)), g' = gy gamma */
    DC_PAR_FOR(x->numel > DC_PAR_MIN, r, R, ln_dx_row(X + r * D, gy + r * D, G, s->mean[r], s->rstd[r], D, fx, gx + r * D););
}

/* The checks of a layer normalisation's arguments (op: its name in the errors): x's last axis
 * not empty, gamma and beta (when given) of its length, eps positive. */
static dc_status ln_check(const char *op, const dc_tensor *x, const dc_tensor *gamma, const dc_tensor *beta, float eps) {
    const int64_t D = x->shape[x->ndim - 1];
    if (D < 1) return dc_error(DC_ERR_SHAPE, "%s: the last axis of input %s is empty", op, dc_tshape(x, 0));
    const dc_tensor *vec[2] = {gamma, beta};
    static const char *const names[2] = {"gamma", "beta"};
    for (int k = 0; k < 2; k++)
        if (vec[k] && vec[k]->numel != D)
            return dc_error(DC_ERR_SHAPE, "%s: %s %s has %lld elements for the last axis %lld of input %s", op, names[k],
                            dc_tshape(vec[k], 0), (long long)vec[k]->numel, (long long)D, dc_tshape(x, 1));
    if (!(eps > 0)) return dc_error(DC_ERR_ARG, "%s: eps must be positive, got %g", op, (double)eps);
    return DC_OK;
}

DC_CLONES dc_tensor *dc_layer_norm(dc_ctx *c, dc_tensor *x, dc_tensor *gamma, dc_tensor *beta, float eps) {
    DC_CHECK_ARGS(c, "layer_norm", x);
    if (ln_check("layer_norm", x, gamma, beta, eps)) return NULL;
    const int64_t D = x->shape[x->ndim - 1];
    if (!(x = dc_contig(c, x)) || (gamma && !(gamma = dc_contig(c, gamma))) || (beta && !(beta = dc_contig(c, beta))))
        return NULL;
    int64_t R = x->numel / D;
    dc_tensor *y = dc_out(c, x->ndim, x->shape);
    dc_tensor *in3[3] = {x, gamma, beta};
    bool need = y && dc_needs_grad(c, 3, in3);
    ln_saved *s = need ? dc_scratch(c, sizeof *s) : NULL;
    float *buf = s ? dc_scratch(c, (size_t)(2 * (R ? R : 1)) * sizeof(float)) : NULL;
    if (!y || (need && !buf)) return NULL;
    const float *X = x->data, *G = gamma ? gamma->data : NULL, *Bt = beta ? beta->data : NULL;
    float *Y = y->data;
    DC_PAR_FOR(x->numel > DC_PAR_MIN, r, R, ln_forward_row(X + r * D, G, Bt, D, eps, Y + r * D, buf ? buf + r : NULL, buf ? buf + R + r : NULL););
    if (need) {
        dc_node *n = dc_record(c, "layer_norm", ln_backward, y, 3, in3);
        if (!n) return NULL;
        s->mean = buf;
        s->rstd = buf + R;
        n->saved = s;
    }
    return y;
}

/* ---- a post-norm residual connection: y = layer_norm(x + dropout(t)) ---- */
typedef struct rln_saved {
    float *mean, *rstd; /* per row */
    float eps, rate;    /* rate 0: no dropout */
    uint64_t seed;      /* the dropout's stream (dc_k_dropout_mask_rows) */
} rln_saved;

/* Row r of the sum s = x + t m into sr, with the dropout multipliers m of the row into mr (when
 * rate > 0): the products and the sum dc_dropout and dc_add make, so the bits are theirs. The
 * product is rounded on its own, as dc_dropout stores it, not fused into the add (two loops:
 * the compiler contracts a * b + c within one). */
DC_INLINE void rln_sum_row(const float *X, const float *Tt, int64_t D, int64_t r, const rln_saved *s, float *sr, float *mr) {
    const float *xr = X + r * D, *tr = Tt + r * D;
    if (s->rate > 0) {
        dc_k_dropout_mask_rows(mr, 1, D, s->seed, (uint64_t)r, s->rate);
#pragma omp simd
        for (int64_t j = 0; j < D; j++) sr[j] = tr[j] * mr[j];
#pragma omp simd
        for (int64_t j = 0; j < D; j++) sr[j] = xr[j] + sr[j];
    } else {
#pragma omp simd
        for (int64_t j = 0; j < D; j++) sr[j] = xr[j] + tr[j];
    }
}

/* Rows r0 .. r1 of the backward: the sum rebuilt a row at a time, gamma's and beta's partial sums
 * into part (as ln_param_sums), the sum's gradient gs (as ln_dx_row) handed to x (gs) and t
 * (gs m). buf holds 3 D floats. */
DC_INLINE void rln_backward_rows(const float *X, const float *Tt, const float *gy, const float *G, const rln_saved *s, int64_t D,
                                 int64_t r0, int64_t r1, float *part, float *gx, bool fx, float *gt, bool ft, float *buf) {
    float *sr = buf, *mr = buf + D, *gs = buf + 2 * D;
    for (int64_t r = r0; r < r1; r++) {
        rln_sum_row(X, Tt, D, r, s, sr, mr);
        /* ln_param_sums over this one row, whose X is sr (row 0 of it) */
        if (part) {
            const ln_saved one = {s->mean + r, s->rstd + r};
            ln_param_sums(sr, gy + r * D, &one, D, 0, 1, part);
        }
        if (!gx && !gt) continue;
        ln_dx_row(sr, gy + r * D, G, s->mean[r], s->rstd[r], D, true, gs);
        float *xr = gx ? gx + r * D : NULL, *tr = gt ? gt + r * D : NULL;
        if (xr && fx) {
#pragma omp simd
            for (int64_t j = 0; j < D; j++) xr[j] = gs[j];
        } else if (xr) {
#pragma omp simd
            for (int64_t j = 0; j < D; j++) xr[j] += gs[j];
        }
        if (tr) {
            const bool drop = s->rate > 0;
            if (ft) {
#pragma omp simd
                for (int64_t j = 0; j < D; j++) tr[j] = drop ? gs[j] * mr[j] : gs[j];
            } else {
#pragma omp simd
                for (int64_t j = 0; j < D; j++) tr[j] += drop ? gs[j] * mr[j] : gs[j];
            }
        }
    }
}

DC_CLONES static void rln_backward(dc_ctx *c, dc_node *n) {
    dc_tensor *x = n->in[0], *t = n->in[1], *gamma = n->in[2], *beta = n->in[3];
    const rln_saved *s = n->saved;
    const int64_t D = x->shape[x->ndim - 1], R = x->numel / D;
    bool fx = false, ft = false;
    float *gx, *gt;
    if (x == t) { /* one tensor in both places: both gradients add into one buffer */
        gx = gt = dc_grad_buf(c, x);
    } else {
        gx = dc_grad_buf_w(c, x, &fx);
        gt = dc_grad_buf_w(c, t, &ft);
    }
    float *gg = dc_grad_buf(c, gamma), *gbt = dc_grad_buf(c, beta);
    /* the row split of ln_backward: a fixed one for a thread count, so gamma's and beta's sums
     * do not depend on the team */
    int T = dc_get_threads();
    if (x->numel <= DC_PAR_MIN || T < 1) T = 1;
    if (T > R) T = R > 0 ? (int)R : 1;
    const bool params = gg || gbt;
    float *part = dc_scratch(c, (size_t)((params ? 2 : 0) * T * D + 3 * T * D) * sizeof(float));
    if (!part) {
        c->oom = true;
        return;
    }
    float *bufs = part + (params ? 2 * T * D : 0);
    if (params) memset(part, 0, (size_t)(2 * T * D) * sizeof(float));
    const float *gy = n->out->grad->data, *G = gamma ? gamma->data : NULL;
    DC_PAR_FOR(T > 1, k, T,
               rln_backward_rows(x->data, t->data, gy, G, s, D, R * k / T, R * (k + 1) / T, params ? part + 2 * k * D : NULL, gx, fx,
                                 gt, ft, bufs + 3 * k * D););
    if (params)
        for (int k = 0; k < T; k++)
            for (int64_t j = 0; j < D; j++) {
                if (gg) gg[j] += part[2 * k * D + j];
                if (gbt) gbt[j] += part[(2 * k + 1) * D + j];
            }
}

DC_CLONES dc_tensor *dc_residual_layer_norm(dc_ctx *c, dc_tensor *x, dc_tensor *t, float rate, bool training, dc_rng *rng,
                                            dc_tensor *gamma, dc_tensor *beta, float eps) {
    DC_CHECK_ARGS(c, "residual_layer_norm", x, t);
    if (!dc_same_shape(x, t))
        return dc_error_null(DC_ERR_SHAPE, "residual_layer_norm: x %s and t %s must have the same shape", dc_tshape(x, 0),
                             dc_tshape(t, 1));
    if (ln_check("residual_layer_norm", x, gamma, beta, eps)) return NULL;
    const int64_t D = x->shape[x->ndim - 1];
    if (!(rate >= 0 && rate < 1)) return dc_error_null(DC_ERR_ARG, "residual_layer_norm: dropout rate %g is outside [0, 1)", (double)rate);
    const bool drop = training && rate > 0;
    if (drop && !rng) return dc_error_null(DC_ERR_ARG, "residual_layer_norm: dropout in training needs an rng");
    if (!(x = dc_contig(c, x)) || !(t = dc_contig(c, t)) || (gamma && !(gamma = dc_contig(c, gamma))) ||
        (beta && !(beta = dc_contig(c, beta))))
        return NULL;
    const int64_t R = x->numel / D;
    dc_tensor *y = dc_out(c, x->ndim, x->shape);
    dc_tensor *in4[4] = {x, t, gamma, beta};
    const bool need = y && dc_needs_grad(c, 4, in4);
    rln_saved *s = dc_scratch(c, sizeof *s);
    float *stats = s ? dc_scratch(c, (size_t)(2 * (R ? R : 1)) * sizeof(float)) : NULL;
    if (!y || !stats) return NULL;
    /* one number from rng, as dc_dropout takes: the stream of multipliers is dc_dropout's */
    *s = (rln_saved){stats, stats + R, eps, drop ? rate : 0.0f, drop ? dc_rng_next(rng) : 0};
    const int T = dc_max_threads();
    const bool par = T > 1 && x->numel > DC_PAR_MIN;
    const int nb = par ? T : 1;
    float *bufs = dc_scratch(c, (size_t)(2 * nb * D) * sizeof(float));
    if (!bufs) return NULL;
    const float *X = x->data, *Tt = t->data, *G = gamma ? gamma->data : NULL, *Bt = beta ? beta->data : NULL;
    float *Y = y->data;
    DC_PAR_FOR(par, r, R, {
        float *sr = bufs + (size_t)(par ? dc_thread_id() : 0) * 2 * D;
        rln_sum_row(X, Tt, D, r, s, sr, sr + D);
        ln_forward_row(sr, G, Bt, D, eps, Y + r * D, s->mean + r, s->rstd + r);
    });
    if (need) {
        dc_node *n = dc_record(c, "residual_layer_norm", rln_backward, y, 4, in4);
        if (!n) return NULL;
        n->saved = s;
    }
    return y;
}
