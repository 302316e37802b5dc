/* Losses: one op, dc_loss_ex, for every loss, reduction and weighting (conventions in
 * include/deepc/ops.h). Forward checks the arguments, computes each row's loss and, when a
 * gradient is wanted, the local Jacobians of the rows (loss_impl.h); backward scales them by the
 * upstream gradient. The element-wise losses live here, the class-axis ones in loss_class.c. */
#include "loss_impl.h"

#include <math.h>
#include <string.h>

static const char *const loss_names[] = {"mse",
                                         "mae",
                                         "binary_crossentropy",
                                         "categorical_crossentropy",
                                         "sparse_categorical_crossentropy",
                                         "huber",
                                         "nll",
                                         "kl_divergence",
                                         "hinge",
                                         "squared_hinge",
                                         "binary_focal_crossentropy",
                                         "cosine_similarity",
                                         "poisson",
                                         "ctc"};
_Static_assert(DC_ARRAY_LEN(loss_names) == DC_LOSS_COUNT, "loss name table");
const char *dc_loss_name(dc_loss l) { return (unsigned)l < DC_LOSS_COUNT ? loss_names[l] : "unknown"; }

static const char *const red_names[] = {"mean", "sum", "none"};
_Static_assert(DC_ARRAY_LEN(red_names) == DC_REDUCE_COUNT, "reduction name table");
const char *dc_reduction_name(dc_reduction r) { return (unsigned)r < DC_REDUCE_COUNT ? red_names[r] : "unknown"; }

dc_loss_opts dc_loss_opts_default(void) {
    return (dc_loss_opts){.from_logits = false, .label_smoothing = 0, .delta = 1.0f, .gamma = 2.0f, .alpha = 0.25f};
}

/* What each loss accepts. */
static bool has_logits(dc_loss k) {
    return k == DC_LOSS_BCE || k == DC_LOSS_CCE || k == DC_LOSS_SPARSE_CCE || k == DC_LOSS_BINARY_FOCAL;
}
static bool has_smoothing(dc_loss k) { return k == DC_LOSS_CCE || k == DC_LOSS_SPARSE_CCE; }
static bool takes_labels(dc_loss k) { return k == DC_LOSS_SPARSE_CCE || k == DC_LOSS_NLL; }
static bool class_axis(dc_loss k) {
    return k == DC_LOSS_CCE || k == DC_LOSS_SPARSE_CCE || k == DC_LOSS_NLL || k == DC_LOSS_KLD || k == DC_LOSS_COSINE;
}
/* a gradient for the target is defined (and computed) */
static bool target_grad(dc_loss k) {
    return !takes_labels(k) && k != DC_LOSS_HINGE && k != DC_LOSS_SQUARED_HINGE && k != DC_LOSS_BINARY_FOCAL;
}

/* ---- the element-wise terms ---- */

/* d/dx x^g for x >= 0; at x = 0 the limit for g >= 1 (1 for g == 1, else 0) and 0 for g < 1,
 * where it is infinite (the focal factor's derivative at a perfect prediction). */
static float dpow(float x, float g) {
    if (g == 0) return 0;
    if (x > 0) return g * powf(x, g - 1);
    return g == 1 ? 1.0f : 0.0f;
}

/* Row n of an element-wise loss: the mean of its weighted terms e(p, y). The loop is written
 * out once per loss (its code sets v = e, dp = de/dp and dy = de/dy from p and y), so that the simple
 * ones vectorise; the row is walked in groups of K, the class of an element being its index in
 * the group. */
#define PW_ROW(...)                                                   \
    for (int64_t g0 = 0; g0 < M; g0 += K)                             \
        for (int64_t k = 0; k < K; k++) {                             \
            const int64_t e = g0 + k;                                 \
            const float p = P[e], y = Y[e], w = cw ? cw[k] : 1.0f;    \
            float v, dp, dy;                                          \
            __VA_ARGS__                                               \
            acc += (double)(w * v);                                   \
            if (jp) jp[e] = sc * w * dp;                              \
            if (jt) jt[e] = sc * w * dy;                              \
        }

DC_CLONES static void pw_row(const dc_loss_job *j, int64_t n) {
    const int64_t M = j->row_len, K = j->K, b = n * M;
    const float *P = j->P + b, *Y = j->Y + b, *cw = j->cw;
    float *jp = j->jp ? j->jp + b : NULL, *jt = j->jt ? j->jt + b : NULL;
    const float sw = j->sw ? j->sw[n] : 1.0f, sc = sw / (float)M;
    const float lo = DC_LOSS_EPSILON, hi = 1 - DC_LOSS_EPSILON, del = j->delta, gam = j->gamma, al = j->alpha;
    double acc = 0;
    switch (j->kind) {
    case DC_LOSS_MSE: PW_ROW({
            float d = p - y;
            v = d * d, dp = 2 * d, dy = -dp;
        });
        break;
    case DC_LOSS_MAE: PW_ROW({
            float d = p - y;
            v = fabsf(d), dp = d > 0 ? 1.0f : d < 0 ? -1.0f : 0.0f, dy = -dp;
        });
        break;
    case DC_LOSS_HUBER: PW_ROW({ /* d^2 / 2 inside [-delta, delta], linear outside */
            float d = p - y, a = fabsf(d);
            v = a <= del ? 0.5f * d * d : del * (a - 0.5f * del);
            dp = a <= del ? d : d > 0 ? del : -del, dy = -dp;
        });
        break;
    case DC_LOSS_BCE:
        if (j->logits) {
            PW_ROW({ /* stable: max(z,0) - z y + log(1 + e^-|z|) */
                v = (p > 0 ? p : 0) - p * y + log1pf(expf(-fabsf(p)));
                dp = 1.0f / (1.0f + expf(-p)) - y, dy = -p;
            });
        } else {
            PW_ROW({ /* on p clamped to [eps, 1 - eps]; no gradient where clamped */
                float q = dc_loss_clamp(p, lo, hi), lq = logf(q), l1q = log1pf(-q);
                v = -(y * lq + (1 - y) * l1q);
                dp = q == p ? (q - y) / (q * (1 - q)) : 0.0f, dy = l1q - lq;
            });
        }
        break;
    case DC_LOSS_HINGE:
    case DC_LOSS_SQUARED_HINGE: {
        const bool sq = j->kind == DC_LOSS_SQUARED_HINGE, conv = j->hinge01;
        PW_ROW({ /* m = 1 - y p with Keras's {0, 1} -> {-1, 1}; max(0, m) or its square */
            float yy = conv ? 2 * y - 1 : y, m = 1 - yy * p, mp = m > 0 ? m : isnan(m) ? m : 0.0f;
            v = sq ? mp * mp : mp;
            dp = m > 0 ? (sq ? -2 * m * yy : -yy) : 0.0f, dy = 0;
        });
        break;
    }
    case DC_LOSS_BINARY_FOCAL: {
        const bool lg = j->logits;
        PW_ROW({ /* alpha_t f ce, f = omp^gamma with omp = 1 - p_t = p (1-y) + (1-p) y */
            float ce, dce, omp, domp;
            if (lg) {
                float s = 1.0f / (1.0f + expf(-p)), sm = 1.0f / (1.0f + expf(p)); /* sigmoid(z), 1 - sigmoid(z) */
                ce = (p > 0 ? p : 0) - p * y + log1pf(expf(-fabsf(p)));
                dce = s - y;
                omp = s * (1 - y) + sm * y;
                domp = s * sm * (1 - 2 * y);
            } else {
                float q = dc_loss_clamp(p, lo, hi);
                ce = -(y * logf(q) + (1 - y) * log1pf(-q));
                dce = q == p ? (q - y) / (q * (1 - q)) : 0.0f;
                omp = p * (1 - y) + (1 - p) * y;
                domp = 1 - 2 * y;
            }
            float at = al >= 0 ? al * y + (1 - al) * (1 - y) : 1.0f, f = gam == 0 ? 1.0f : powf(omp, gam);
            v = at * f * ce;
            dp = at * (dpow(omp, gam) * domp * ce + f * dce), dy = 0;
        });
        break;
    }
    case DC_LOSS_POISSON: PW_ROW({
            float l = logf(p + DC_LOSS_EPSILON);
            v = p - y * l, dp = 1 - y / (p + DC_LOSS_EPSILON), dy = -l;
        });
        break;
    default: acc = NAN; break; /* the class-axis losses do not come here */
    }
    j->row[n] = sw * acc / (double)M;
}
#undef PW_ROW

/* ---- the op ---- */

typedef struct loss_saved {
    const float *jp, *jt;
    int64_t N, row_len;
    dc_reduction red;
} loss_saved;

DC_CLONES static void loss_backward(dc_ctx *c, dc_node *n) {
    const loss_saved *s = n->saved;
    const float *G = n->out->grad->data;
    float *gp = s->jp ? dc_grad_buf(c, n->in[0]) : NULL;
    float *gt = s->jt && n->nin > 1 ? dc_grad_buf(c, n->in[1]) : NULL;
    const int64_t N = s->N, M = s->row_len;
    const float g0 = s->red == DC_REDUCE_MEAN ? G[0] / (float)N : G[0];
    DC_FOR_ROWS(r, N, N * M, {
        float g = s->red == DC_REDUCE_NONE ? G[r] : g0;
        if (gp)
            for (int64_t e = r * M; e < (r + 1) * M; e++) gp[e] += g * s->jp[e];
        if (gt)
            for (int64_t e = r * M; e < (r + 1) * M; e++) gt[e] += g * s->jt[e];
    });
}

/* t's elements in order: t's own data when contiguous, else a copy in c's arena. */
static const float *flat(dc_ctx *c, const dc_tensor *t) {
    if (dc_tensor_is_contiguous(t)) return t->data;
    float *d = dc_scratch(c, (size_t)t->numel * sizeof(float));
    if (d) dc_copy_strided(d, t);
    return d;
}

/* A weight vector of n elements, finite and >= 0, read into the arena's order. */
static const float *weights(dc_ctx *c, const char *op, const char *what, const dc_tensor *w, int64_t n, const char *of) {
    if (w->numel != n) {
        dc_error(DC_ERR_ARG, "%s: %s %s has %lld elements, expected %lld (%s)", op, what, dc_tshape(w, 0),
                 (long long)w->numel, (long long)n, of);
        return NULL;
    }
    const float *d = flat(c, w);
    if (!d) return NULL;
    for (int64_t i = 0; i < n; i++)
        if (!(d[i] >= 0) || isinf(d[i])) {
            dc_error(DC_ERR_ARG, "%s: %s[%lld] = %g; weights must be finite and >= 0", op, what, (long long)i, (double)d[i]);
            return NULL;
        }
    return d;
}

/* Options the loss uses, checked. */
static bool opts_ok(const char *op, dc_loss k, const dc_loss_opts *o) {
    if (o->from_logits && !has_logits(k)) {
        dc_error(DC_ERR_ARG, "%s: from_logits is not an option of this loss (binary, categorical, sparse categorical "
                             "crossentropy and binary focal take logits)", op);
        return false;
    }
    if (o->label_smoothing != 0 && !has_smoothing(k)) {
        dc_error(DC_ERR_ARG, "%s: label_smoothing %g is not an option of this loss (categorical and sparse "
                             "categorical crossentropy take it)", op, (double)o->label_smoothing);
        return false;
    }
    if (has_smoothing(k) && !(o->label_smoothing >= 0 && o->label_smoothing <= 1)) {
        dc_error(DC_ERR_ARG, "%s: label_smoothing %g is outside [0, 1]", op, (double)o->label_smoothing);
        return false;
    }
    if (k == DC_LOSS_HUBER && !(o->delta > 0 && isfinite(o->delta))) {
        dc_error(DC_ERR_ARG, "%s: delta %g must be finite and > 0", op, (double)o->delta);
        return false;
    }
    if (k == DC_LOSS_BINARY_FOCAL && !(o->gamma >= 0 && isfinite(o->gamma) && o->alpha <= 1 && isfinite(o->alpha))) {
        dc_error(DC_ERR_ARG, "%s: gamma %g must be finite and >= 0, alpha %g at most 1 (< 0: no weighting)", op,
                 (double)o->gamma, (double)o->alpha);
        return false;
    }
    return true;
}

/* Labels: n whole numbers in [0, K), first axis N; converted to int32 in the arena. */
static const int32_t *labels(dc_ctx *c, const char *op, const dc_tensor *lab, int64_t N, int64_t n, int64_t K) {
    if (lab->numel != n || lab->shape[0] != N) {
        dc_error(DC_ERR_SHAPE, "%s: labels %s for %lld positions of %lld rows (one class index per position)", op,
                 dc_tshape(lab, 0), (long long)n, (long long)N);
        return NULL;
    }
    if (K > INT32_MAX) {
        dc_error(DC_ERR_SHAPE, "%s: %lld classes (at most %d)", op, (long long)K, INT32_MAX);
        return NULL;
    }
    const float *d = flat(c, lab);
    int32_t *out = d ? dc_scratch(c, (size_t)n * sizeof *out) : NULL;
    if (!out) return NULL;
    for (int64_t i = 0; i < n; i++) {
        float v = d[i];
        if (!(v >= 0 && v < (float)K) || v != floorf(v)) {
            dc_error(DC_ERR_ARG, "%s: label %g at index %lld is not a class index in [0, %lld)", op, (double)v, (long long)i,
                     (long long)K);
            return NULL;
        }
        out[i] = (int32_t)v;
    }
    return out;
}

dc_tensor *dc_loss_ex(dc_ctx *c, dc_loss kind, dc_tensor *pred, dc_tensor *target, const dc_loss_opts *opts,
                      dc_reduction red, const dc_tensor *sample_weight, const dc_tensor *class_weight) {
    if ((unsigned)kind >= DC_LOSS_COUNT) return dc_error_null(DC_ERR_ARG, "dc_loss_ex: unknown loss %d", (int)kind);
    const char *op = loss_names[kind];
    if (kind == DC_LOSS_CTC) { /* label sequences: its own op (ctc.c), every sample's input length T */
        if (class_weight) return dc_error_null(DC_ERR_ARG, "%s: class weights are not defined for the CTC loss", op);
        return dc_ctc_loss(c, pred, target, NULL, opts, red, sample_weight);
    }
    DC_CHECK_ARGS(c, op, pred, target);
    if ((unsigned)red >= DC_REDUCE_COUNT) return dc_error_null(DC_ERR_ARG, "%s: unknown reduction %d", op, (int)red);
    const dc_loss_opts o = opts ? *opts : dc_loss_opts_default();
    if (!opts_ok(op, kind, &o)) return NULL;
    if (pred->numel == 0) return dc_error_null(DC_ERR_SHAPE, "%s: empty prediction %s", op, dc_tshape(pred, 0));
    const bool cls = class_axis(kind), sparse = takes_labels(kind);
    const int64_t N = pred->shape[0], K = pred->ndim >= 2 ? pred->shape[pred->ndim - 1] : 1;
    if (cls && pred->ndim < 2)
        return dc_error_null(DC_ERR_SHAPE, "%s: expected a prediction [N, ..., K] with the classes last, got %s", op,
                             dc_tshape(pred, 0));
    if (!sparse && (target->numel != pred->numel || target->shape[0] != N))
        return dc_error_null(DC_ERR_SHAPE, "%s: prediction %s and target %s do not match", op, dc_tshape(pred, 0),
                             dc_tshape(target, 1));
    if (kind == DC_LOSS_COSINE && class_weight)
        return dc_error_null(DC_ERR_ARG, "%s: class weights are not defined for the cosine similarity", op);
    const bool want_t = c->grad && target->requires_grad;
    if (want_t && !target_grad(kind))
        return dc_error_null(DC_ERR_ARG, "%s: the target %s requires grad, but this loss gives its %s no gradient", op,
                             dc_tshape(target, 0), sparse ? "class indices" : "labels");

    dc_loss_job j = {.kind = kind,
                     .logits = o.from_logits,
                     .smooth = o.label_smoothing,
                     .delta = o.delta,
                     .gamma = o.gamma,
                     .alpha = o.alpha,
                     .N = N,
                     .row_len = pred->numel / N,
                     .K = K};
    if (!(pred = dc_contig(c, pred))) return NULL;
    j.P = pred->data;
    if (sparse) {
        if (!(j.lab = labels(c, op, target, N, pred->numel / K, K))) return NULL;
    } else if (want_t) {
        if (!(target = dc_contig(c, target))) return NULL; /* a recorded copy when a view: its gradient flows on */
        j.Y = target->data;
    } else if (!(j.Y = flat(c, target))) {
        return NULL;
    }
    if (sample_weight && !(j.sw = weights(c, op, "sample_weight", sample_weight, N, "one per row")))
        return NULL;
    if (class_weight && !(j.cw = weights(c, op, "class_weight", class_weight, K, "one per class of the last axis")))
        return NULL;
    if (kind == DC_LOSS_POISSON)
        for (int64_t i = 0; i < pred->numel; i++)
            if (j.P[i] < 0)
                return dc_error_null(DC_ERR_ARG, "%s: rate %g at index %lld is negative (the prediction must be >= 0, "
                                                 "e.g. from an exp or softplus output)", op, (double)j.P[i], (long long)i);
    if (kind == DC_LOSS_HINGE || kind == DC_LOSS_SQUARED_HINGE) { /* Keras: all of them 0 or 1 -> {0, 1} labels */
        j.hinge01 = true;
        for (int64_t i = 0; i < pred->numel && j.hinge01; i++) j.hinge01 = j.Y[i] == 0 || j.Y[i] == 1;
    }

    const bool want_p = DC_NEEDS1(c, pred);
    dc_tensor *y = dc_out(c, 1, (int64_t[]){red == DC_REDUCE_NONE ? N : 1});
    if (!y || !(j.row = dc_scratch(c, (size_t)N * sizeof(double)))) return NULL;
    if (want_p && !(j.jp = dc_scratch(c, (size_t)pred->numel * sizeof(float)))) return NULL;
    if (want_t && !(j.jt = dc_scratch(c, (size_t)pred->numel * sizeof(float)))) return NULL;
    const dc_loss_job *jj = &j;
    if (cls) DC_FOR_ROWS(n, N, pred->numel, dc_loss_class_row(jj, n););
    else DC_FOR_ROWS(n, N, pred->numel, pw_row(jj, n););
    if (red == DC_REDUCE_NONE) {
        for (int64_t n = 0; n < N; n++) y->data[n] = (float)j.row[n];
    } else {
        double s = 0;
        for (int64_t n = 0; n < N; n++) s += j.row[n];
        y->data[0] = (float)(red == DC_REDUCE_MEAN ? s / (double)N : s);
    }
    if (want_p || want_t) {
        loss_saved *sv = dc_scratch(c, sizeof *sv);
        dc_node *nd = sv ? (want_t ? DC_RECORD2(c, op, loss_backward, y, pred, target) : DC_RECORD1(c, op, loss_backward, y, pred))
                         : NULL;
        if (!nd) return NULL;
        *sv = (loss_saved){.jp = j.jp, .jt = j.jt, .N = N, .row_len = j.row_len, .red = red};
        nd->saved = sv;
    }
    return y;
}

/* ---- the mean forms ---- */

static dc_tensor *mean_form(dc_ctx *c, dc_loss k, dc_tensor *p, dc_tensor *t, dc_loss_opts o) {
    return dc_loss_ex(c, k, p, t, &o, DC_REDUCE_MEAN, NULL, NULL);
}
static dc_loss_opts logits_opts(void) {
    dc_loss_opts o = dc_loss_opts_default();
    o.from_logits = true;
    return o;
}

dc_tensor *dc_mse_loss(dc_ctx *c, dc_tensor *p, dc_tensor *t) { return mean_form(c, DC_LOSS_MSE, p, t, dc_loss_opts_default()); }
dc_tensor *dc_mae_loss(dc_ctx *c, dc_tensor *p, dc_tensor *t) { return mean_form(c, DC_LOSS_MAE, p, t, dc_loss_opts_default()); }
dc_tensor *dc_bce_loss(dc_ctx *c, dc_tensor *p, dc_tensor *t) { return mean_form(c, DC_LOSS_BCE, p, t, dc_loss_opts_default()); }
dc_tensor *dc_bce_with_logits_loss(dc_ctx *c, dc_tensor *z, dc_tensor *t) { return mean_form(c, DC_LOSS_BCE, z, t, logits_opts()); }
dc_tensor *dc_cce_loss(dc_ctx *c, dc_tensor *p, dc_tensor *t) { return mean_form(c, DC_LOSS_CCE, p, t, dc_loss_opts_default()); }
dc_tensor *dc_softmax_cce_loss(dc_ctx *c, dc_tensor *z, dc_tensor *t) { return mean_form(c, DC_LOSS_CCE, z, t, logits_opts()); }
dc_tensor *dc_sparse_cce_loss(dc_ctx *c, dc_tensor *p, dc_tensor *lab) {
    return mean_form(c, DC_LOSS_SPARSE_CCE, p, lab, dc_loss_opts_default());
}
dc_tensor *dc_softmax_sparse_cce_loss(dc_ctx *c, dc_tensor *z, dc_tensor *lab) {
    return mean_form(c, DC_LOSS_SPARSE_CCE, z, lab, logits_opts());
}
dc_tensor *dc_huber_loss(dc_ctx *c, dc_tensor *p, dc_tensor *t, float delta) {
    dc_loss_opts o = dc_loss_opts_default();
    o.delta = delta;
    return mean_form(c, DC_LOSS_HUBER, p, t, o);
}
dc_tensor *dc_nll_loss(dc_ctx *c, dc_tensor *lp, dc_tensor *lab) { return mean_form(c, DC_LOSS_NLL, lp, lab, dc_loss_opts_default()); }
dc_tensor *dc_kld_loss(dc_ctx *c, dc_tensor *p, dc_tensor *t) { return mean_form(c, DC_LOSS_KLD, p, t, dc_loss_opts_default()); }
dc_tensor *dc_hinge_loss(dc_ctx *c, dc_tensor *p, dc_tensor *t) { return mean_form(c, DC_LOSS_HINGE, p, t, dc_loss_opts_default()); }
dc_tensor *dc_squared_hinge_loss(dc_ctx *c, dc_tensor *p, dc_tensor *t) {
    return mean_form(c, DC_LOSS_SQUARED_HINGE, p, t, dc_loss_opts_default());
}
dc_tensor *dc_binary_focal_loss(dc_ctx *c, dc_tensor *p, dc_tensor *t, float gamma, float alpha, bool from_logits) {
    dc_loss_opts o = dc_loss_opts_default();
    o.gamma = gamma, o.alpha = alpha, o.from_logits = from_logits;
    return mean_form(c, DC_LOSS_BINARY_FOCAL, p, t, o);
}
dc_tensor *dc_cosine_similarity_loss(dc_ctx *c, dc_tensor *p, dc_tensor *t) {
    return mean_form(c, DC_LOSS_COSINE, p, t, dc_loss_opts_default());
}
dc_tensor *dc_poisson_loss(dc_ctx *c, dc_tensor *p, dc_tensor *t) { return mean_form(c, DC_LOSS_POISSON, p, t, dc_loss_opts_default()); }
