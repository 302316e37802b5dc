/* The training workflow: forward, train step, fit with validation, evaluate, predict. */
#include "dist.h"
#include "history.h"
#include "model.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

dc_fit_opts dc_fit_defaults(void) {
    dc_fit_opts o;
    memset(&o, 0, sizeof o);
    o.epochs = 1;
    o.batch_size = 32;
    o.shuffle = true;
    o.seed = 42;
    o.verbose = 1;
    return o;
}

static int64_t row_elems(const dc_tensor *t) { return t->shape[0] ? t->numel / t->shape[0] : 0; }

/* The shape a batch of input i must have: [N, in_shape...]. */
static dc_status check_input1(const dc_model *m, int i, const dc_tensor *x, const char *who) {
    int64_t in_shape[DC_MAX_DIMS];
    int in_ndim = dc_model_in_shape(m, i, in_shape);
    bool ok = x->ndim == in_ndim + 1;
    for (int d = 0; ok && d < in_ndim; d++) ok = x->shape[d + 1] == in_shape[d];
    if (ok) return DC_OK;
    char want[160];
    int o = snprintf(want, sizeof want, "(None");
    for (int d = 0; d < in_ndim && o < (int)sizeof want; d++)
        o += snprintf(want + o, sizeof want - (size_t)o, ", %lld", (long long)in_shape[d]);
    if (o < (int)sizeof want) snprintf(want + o, sizeof want - (size_t)o, ")");
    if (m->ninputs > 1)
        return dc_error(DC_ERR_SHAPE, "%s: input %d (%s): expected shape %s, got %s", who, i, m->layers[m->input_idx[i]]->name, want,
                        dc_tshape(x, 0));
    const char *first = m->nlayers ? m->layers[m->has_input && m->nlayers > 1 ? 1 : 0]->name : "model";
    bool dense_first = m->nlayers > (m->has_input ? 1 : 0) &&
                       strcmp(dc_layer_type(m->layers[m->has_input ? 1 : 0]), "Dense") == 0;
    if (in_ndim == 1 && x->ndim == 2 && dense_first)
        return dc_error(DC_ERR_SHAPE, "%s: %s: expected input with %lld features, got %lld (input %s)", who, first,
                        (long long)in_shape[0], (long long)x->shape[1], dc_tshape(x, 0));
    return dc_error(DC_ERR_SHAPE, "%s: %s: expected input of shape %s, got %s", who, first, want, dc_tshape(x, 0));
}

/* nx tensors, one per input, with the same number of rows and the right shapes. */
static dc_status check_inputs(const dc_model *m, int nx, const dc_tensor *const *x, const char *who) {
    int want = dc_model_num_inputs(m);
    if (nx != want || !x)
        return dc_error(DC_ERR_ARG, "%s: the model has %d input%s but %d tensor%s given", who, want, want > 1 ? "s" : "", nx,
                        nx == 1 ? " was" : "s were");
    for (int i = 0; i < nx; i++) {
        if (!x[i]) return dc_error(DC_ERR_ARG, "%s: input %d is NULL", who, i);
        if (x[i]->shape[0] != x[0]->shape[0])
            return dc_error(DC_ERR_SHAPE, "%s: input %d has %lld rows but input 0 has %lld", who, i, (long long)x[i]->shape[0],
                            (long long)x[0]->shape[0]);
        dc_status s = check_input1(m, i, x[i], who);
        if (s) return s;
    }
    return DC_OK;
}

/* Whether layer i + 1 takes layer i's output as its only input and no other layer reads it. */
static bool sole_reader(const dc_model *m, int i) {
    const dc_layer *n = m->layers[i + 1];
    if (n->nin != 1 || (n->inputs[0] >= 0 && n->inputs[0] != i)) return false;
    for (int k = i + 2; k < m->nlayers; k++)
        for (int j = 0; j < m->layers[k]->nin; j++)
            if (m->layers[k]->inputs[j] == i) return false;
    return true;
}

dc_tensor *dc_model_forward_impl(dc_model *m, dc_ctx *c, dc_tensor *const *x, bool training, bool logits) {
    dc_layer *last = m->layers[m->nlayers - 1];
    dc_tensor **val = dc_scratch(c, (size_t)m->nlayers * sizeof *val);
    if (!val) return NULL;
    int next_input = 0;
    for (int i = 0; i < m->nlayers; i++) {
        dc_layer *l = m->layers[i];
        if (l->nin == 0) { /* an input layer */
            val[i] = x[next_input++];
            continue;
        }
        dc_tensor *in[DC_LAYER_MAX_INPUTS];
        for (int j = 0; j < l->nin; j++) {
            int src = l->inputs[j] < 0 ? i - 1 : l->inputs[j];
            in[j] = src < 0 ? x[0] : val[src];
        }
        dc_tensor *y;
        if (i + 1 < m->nlayers && l->nin == 1 && dc_layer_conv_pool_fusable(l, m->layers[i + 1]) && sole_reader(m, i)) {
            /* Conv2D then MaxPooling2D, nothing else reading the convolution: one op */
            y = dc_layer_conv_pool_forward(l, m->layers[i + 1], c, in[0]);
            if (y) val[i++] = y; /* the pool's value too, below */
        } else {
            l->skip_act = logits && l == last;
            y = l->ops->forward_n ? l->ops->forward_n(l, c, in, l->nin, training, &m->rng)
                                  : l->ops->forward(l, c, in[0], training, &m->rng);
            l->skip_act = false;
        }
        if (!y) {
            /* name the layer, unless the op's message already starts with it */
            size_t nl = strlen(l->name);
            if (!(strncmp(dc_last_error(), l->name, nl) == 0 && dc_last_error()[nl] == ':'))
                dc_error_prefix("%s", l->name); /* keeps the status */
            return NULL;
        }
        val[i] = y;
    }
    return val[m->nlayers - 1];
}

dc_tensor *dc_model_forward_n(dc_model *m, dc_ctx *c, int nx, dc_tensor *const *x, bool training) {
    if (!m || !c || !x) return dc_error_null(DC_ERR_ARG, "dc_model_forward: model, context or input is NULL");
    if (!m->built) return dc_error_null(DC_ERR_STATE, "dc_model_forward: the model is not built");
    if (check_inputs(m, nx, (const dc_tensor *const *)x, "forward")) return NULL;
    return dc_model_forward_impl(m, c, x, training, false);
}

dc_tensor *dc_model_forward(dc_model *m, dc_ctx *c, dc_tensor *x, bool training) { return dc_model_forward_n(m, c, 1, &x, training); }

/* The classes of a classifier: the output's last axis. A sequence model ([N, T, V] outputs) makes
 * one prediction per step, so its rows hold K / classes of them. */
static int64_t num_classes(const dc_model *m) {
    int64_t sh[DC_MAX_DIMS];
    int nd = dc_model_out_shape(m, sh);
    return nd ? sh[nd - 1] : 1;
}

/* Labels are class indices (one per step) rather than one value per output. */
static bool sparse_labels(const dc_model *m, int64_t out_cols, int64_t y_cols) {
    int64_t classes = num_classes(m);
    return m->loss == DC_LOSS_SPARSE_CCE || (classes > 1 && y_cols * classes == out_cols);
}

static bool is_ce(dc_loss l) { return l == DC_LOSS_CCE || l == DC_LOSS_SPARSE_CCE; }

static dc_tensor *compute_loss(dc_model *m, dc_ctx *c, dc_tensor *out, dc_tensor *y) {
    int64_t classes = num_classes(m);
    if (is_ce(m->loss) && out->numel / out->shape[0] > classes) {
        /* a prediction per step: the cross-entropy of every step, as rows of [N T, classes] */
        out = dc_reshape(c, out, 2, (int64_t[]){-1, classes});
        y = out ? (m->loss == DC_LOSS_CCE ? dc_reshape(c, y, 2, (int64_t[]){-1, classes}) : dc_reshape(c, y, 1, (int64_t[]){-1}))
                : NULL;
        if (!y) return NULL;
    }
    switch (m->fusion) {
    case DC_FUSE_SOFTMAX_CE:
        return m->loss == DC_LOSS_CCE ? dc_softmax_cce_loss(c, out, y) : dc_softmax_sparse_cce_loss(c, out, y);
    case DC_FUSE_SIGMOID_BCE: return dc_bce_with_logits_loss(c, out, y);
    default: break;
    }
    switch (m->loss) {
    case DC_LOSS_MSE: return dc_mse_loss(c, out, y);
    case DC_LOSS_MAE: return dc_mae_loss(c, out, y);
    case DC_LOSS_BCE: return dc_bce_loss(c, out, y);
    case DC_LOSS_CCE: return dc_cce_loss(c, out, y);
    default: return dc_sparse_cce_loss(c, out, y);
    }
}

/* Running sums for the loss and metrics over batches. */
typedef struct acc {
    double loss, metric[DC_MAX_METRICS];
    int64_t rows, elems;
} acc;

static int64_t argmax(const float *p, int64_t k) {
    int64_t b = 0;
    for (int64_t j = 1; j < k; j++)
        if (p[j] > p[b]) b = j;
    return b;
}

/* out: logits when the loss is fused, else the model's outputs. */
static dc_status add_metrics(dc_model *m, dc_ctx *c, const dc_tensor *out, const dc_tensor *y, acc *a) {
    int64_t N = out->shape[0], K = row_elems(out), yc = row_elems(y);
    int64_t C = num_classes(m), steps = K / C; /* predictions per row */
    const float *P = out->data, *Y = y->data;
    float *prob = NULL;
    for (int i = 0; i < m->nmetrics; i++) {
        double s = 0;
        if (m->metrics[i] == DC_METRIC_ACCURACY) {
            if (sparse_labels(m, K, yc)) {
                for (int64_t r = 0; r < N * steps; r++) s += argmax(P + r * C, C) == (int64_t)Y[r];
            } else if (K == 1) {
                float thr = m->fusion == DC_FUSE_SIGMOID_BCE ? 0.0f : 0.5f;
                for (int64_t r = 0; r < N; r++) s += (P[r] > thr) == (Y[r] > 0.5f);
            } else {
                for (int64_t r = 0; r < N * steps; r++) s += argmax(P + r * C, C) == argmax(Y + r * C, C);
            }
            s /= (double)steps; /* accuracy per step, averaged like the loss */
        } else {
            if (m->fusion != DC_FUSE_NONE && !prob) {
                if (!(prob = dc_scratch(c, (size_t)out->numel * sizeof(float)))) return DC_ERR_NOMEM;
                if (m->fusion == DC_FUSE_SOFTMAX_CE) dc_k_softmax_rows(P, prob, N * steps, C, false);
                else dc_k_act_forward(DC_ACT_SIGMOID, 0, P, prob, out->numel);
            }
            const float *Q = prob ? prob : P;
            if (yc != K)
                return dc_error(DC_ERR_SHAPE, "%s metric: outputs %s and targets %s differ", dc_metric_name(m->metrics[i]),
                                dc_tshape(out, 0), dc_tshape(y, 1));
            for (int64_t j = 0; j < out->numel; j++) {
                double d = (double)Q[j] - Y[j];
                s += m->metrics[i] == DC_METRIC_MAE ? fabs(d) : d * d;
            }
        }
        a->metric[i] += s;
    }
    a->rows += N;
    a->elems += out->numel;
    return DC_OK;
}

static double metric_value(const dc_model *m, const acc *a, int i) {
    if (m->metrics[i] == DC_METRIC_ACCURACY) return a->rows ? a->metric[i] / (double)a->rows : 0;
    return a->elems ? a->metric[i] / (double)a->elems : 0;
}

/* A model's data: one tensor per input. */
typedef struct inputs {
    int n;
    const dc_tensor *t[DC_MODEL_MAX_INPUTS];
} inputs;

static inputs make_inputs(int n, const dc_tensor *const *x) {
    inputs in = {n, {0}};
    for (int i = 0; i < n && i < DC_MODEL_MAX_INPUTS; i++) in.t[i] = x[i];
    return in;
}

/* Views the staged rows as step tensors shaped like x and y. */
static dc_tensor *stage_view(dc_model *m, float *buf, const dc_tensor *like, int64_t rows) {
    int64_t sh[DC_MAX_DIMS];
    memcpy(sh, like->shape, sizeof sh);
    sh[0] = rows;
    return dc_tensor_arena_view(&m->ctx->arena, buf, like->ndim, sh, NULL);
}

static dc_status ensure_staging(dc_model *m, const inputs *x, const dc_tensor *y, int64_t batch) {
    int64_t need = batch * row_elems(y);
    for (int i = 0; i < x->n; i++) need = DC_MAX(need, batch * row_elems(x->t[i]));
    if (m->batch_cap >= need) return DC_OK;
    for (int i = 0; i < DC_MODEL_MAX_INPUTS; i++) {
        dc_free(m->xbuf[i]);
        m->xbuf[i] = NULL;
    }
    dc_free(m->ybuf);
    m->ybuf = dc_alloc((size_t)need * sizeof(float));
    bool ok = m->ybuf != NULL;
    for (int i = 0; i < x->n; i++) ok = ok && (m->xbuf[i] = dc_alloc((size_t)need * sizeof(float)));
    if (!ok) {
        m->batch_cap = 0;
        return DC_ERR_NOMEM;
    }
    m->batch_cap = need;
    return DC_OK;
}

/* Rows of a shuffled batch come from all over the data set: threads fetch them side by side. */
static void gather(float *dst, const dc_tensor *t, const int64_t *idx, int64_t start, int64_t n) {
    int64_t w = row_elems(t);
    DC_FOR_ROWS(r, n, n * w, {
        int64_t src = idx ? idx[start + r] : start + r;
        memcpy(dst + r * w, t->data + src * w, (size_t)w * sizeof(float));
    });
}

/* Stages rows (idx[start..start+n) or start..start+n) of every input and of y. */
static void gather_all(dc_model *m, const inputs *x, const dc_tensor *y, const int64_t *idx, int64_t start, int64_t n) {
    for (int i = 0; i < x->n; i++) gather(m->xbuf[i], x->t[i], idx, start, n);
    gather(m->ybuf, y, idx, start, n);
}

/* Step views of the staged inputs into xb[]. */
static dc_status stage_inputs(dc_model *m, const inputs *x, int64_t n, dc_tensor **xb) {
    for (int i = 0; i < x->n; i++)
        if (!(xb[i] = stage_view(m, m->xbuf[i], x->t[i], n))) return DC_ERR_NOMEM;
    return DC_OK;
}

/* True if no element is NaN or Inf: an integer test on the exponent bits, which vectorises. */
static bool all_finite(const dc_model *m) {
    const uint32_t *u = (const uint32_t *)m->gbuf;
    const int64_t n = m->ptotal;
    uint32_t bad = 0; /* an OR: the same answer in any order */
    if (n <= DC_PAR_MIN || dc_max_threads() < 2) {
#pragma omp simd reduction(| : bad)
        for (int64_t i = 0; i < n; i++) bad |= (u[i] & 0x7f800000u) == 0x7f800000u;
        return !bad;
    }
#pragma omp parallel reduction(| : bad)
    for (int s = 0; s < m->npart; s++) { /* each thread the gradient rows it wrote */
        int64_t lo, hi;
        dc_part_range(&m->part[s], dc_thread_id(), dc_team_size(), &lo, &hi);
#pragma omp simd reduction(| : bad)
        for (int64_t i = lo; i < hi; i++) bad |= (u[i] & 0x7f800000u) == 0x7f800000u;
    }
    return !bad;
}

/* Names the first parameter whose gradient is not finite. */
static dc_status nonfinite_grad(const dc_model *m) {
    for (int i = 0; i < m->np; i++) {
        const dc_tensor *g = m->gtens[i];
        if (!g) continue;
        for (int64_t k = 0; k < g->numel; k++)
            if (!isfinite(g->data[k]))
                return dc_error(DC_ERR_NUMERIC, "the gradient of %s became non-finite (%g at element %lld)", m->pnames[i], (double)g->data[k],
                                (long long)k);
    }
    return dc_error(DC_ERR_NUMERIC, "a gradient is not finite");
}

/* A training step's results that outlive its forward pass (until the next dc_ctx_reset). */
typedef struct step_out {
    float loss;
    dc_tensor *out, *yb; /* outputs (logits when fused) and targets, for the metrics */
} step_out;

/* Forward and backward on n rows already staged in xbuf/ybuf: the mean loss of those rows and its
 * gradient in gbuf. */
static dc_status step_grad(dc_model *m, const inputs *x, const dc_tensor *y, int64_t n, step_out *so) {
    dc_ctx *c = m->ctx;
    dc_ctx_reset(c);
    dc_ctx_set_grad(c, true);
    dc_tensor *xb[DC_MODEL_MAX_INPUTS], *yb = stage_view(m, m->ybuf, y, n);
    if (!yb || stage_inputs(m, x, n, xb)) return DC_ERR_NOMEM;
    dc_tensor *out = dc_model_forward_impl(m, c, xb, true, m->fusion != DC_FUSE_NONE);
    if (!out) return dc_last_status() ? dc_last_status() : DC_ERR_STATE;
    dc_tensor *loss = compute_loss(m, c, out, yb);
    if (!loss) return dc_last_status() ? dc_last_status() : DC_ERR_STATE;
    so->loss = loss->data[0];
    so->out = out;
    so->yb = yb;
    dc_status s = isfinite(so->loss) ? DC_OK : dc_error(DC_ERR_NUMERIC, "the loss became non-finite (%g)", (double)so->loss);
    if (c->sync_sum) {
        /* backward sums over the ranks too: a rank whose loss failed must not leave the others
         * waiting there. Each learns whether any failed; one that did not returns without a
         * gradient, and the check point after the step reports the failing rank's message. */
        double bad = s ? 1 : 0;
        dc_status e = c->sync_sum(&bad, 1);
        if (e) return e;
        if (bad > 0 && !s) return DC_OK;
    }
    if (s) return s;
    float *g = m->gbuf;
    DC_FOR_PART(i, m->ptotal, m->part, m->npart, g[i] = 0;); /* each thread the rows its GEMM slices accumulate into */
    return dc_backward(c, loss);
}

/* The optimiser step on the gradient in gbuf, then the metrics of the step's n rows (none if so
 * is NULL or n is 0). */
static dc_status step_update(dc_model *m, const step_out *so, int64_t n, acc *a) {
    if (!all_finite(m)) return nonfinite_grad(m);
    dc_status s = dc_optimizer_step_part(m->opt, m->pbuf, m->gbuf, m->ptotal, m->part, m->npart);
    if (s || !a || !so || n == 0) return s;
    a->loss += (double)so->loss * (double)n;
    return add_metrics(m, m->ctx, so->out, so->yb, a);
}

/* One optimisation step on rows already staged in xbuf/ybuf. */
static dc_status step_staged(dc_model *m, const inputs *x, const dc_tensor *y, int64_t n, float *loss_out, acc *a) {
    step_out so = {0};
    dc_status s = step_grad(m, x, y, n, &so);
    if (loss_out && so.out) *loss_out = so.loss;
    return s ? s : step_update(m, &so, n, a);
}

static dc_status check_xy(const dc_model *m, const inputs *x, const dc_tensor *y, const char *who) {
    if (!m || !y) return dc_error(DC_ERR_ARG, "%s: model, x or y is NULL", who);
    if (!m->compiled) return dc_error(DC_ERR_STATE, "%s: compile the model first", who);
    dc_status s = check_inputs(m, x->n, x->t, who);
    if (s) return s;
    for (int i = 0; i < x->n; i++)
        if (!dc_tensor_is_contiguous(x->t[i]))
            return dc_error(DC_ERR_ARG, "%s: x and y must be contiguous (dc_tensor_clone makes a copy)", who);
    if (!dc_tensor_is_contiguous(y))
        return dc_error(DC_ERR_ARG, "%s: x and y must be contiguous (dc_tensor_clone makes a copy)", who);
    if (x->t[0]->shape[0] != y->shape[0])
        return dc_error(DC_ERR_SHAPE, "%s: x has %lld rows but y has %lld", who, (long long)x->t[0]->shape[0], (long long)y->shape[0]);
    if (y->shape[0] == 0) return dc_error(DC_ERR_SHAPE, "%s: no rows", who);
    int64_t osh[DC_MAX_DIMS];
    int ond = dc_model_out_shape(m, osh);
    int64_t K = 1;
    for (int i = 0; i < ond; i++) K *= osh[i];
    int64_t yc = row_elems(y);
    if (sparse_labels(m, K, yc)) {
        int64_t C = num_classes(m), steps = K / C;
        if (yc != steps) {
            if (steps == 1)
                return dc_error(DC_ERR_SHAPE, "%s: %s needs one class index per row, y is %s", who, dc_loss_name(m->loss),
                                dc_tshape(y, 0));
            return dc_error(DC_ERR_SHAPE, "%s: %s needs one class index per step (%lld per row), y is %s", who,
                            dc_loss_name(m->loss), (long long)steps, dc_tshape(y, 0));
        }
        for (int64_t r = 0; r < y->numel; r++) {
            float v = y->data[r];
            if (!(v >= 0 && v < (float)C) || v != floorf(v))
                return dc_error(DC_ERR_ARG, "%s: label %g at row %lld is not a class index in [0, %lld) (the model has %lld outputs)",
                                who, (double)v, (long long)(r / steps), (long long)C, (long long)C);
        }
    } else if (yc != K) {
        return dc_error(DC_ERR_SHAPE, "%s: the model outputs %lld values per row but y has %lld (y %s)", who, (long long)K,
                        (long long)yc, dc_tshape(y, 0));
    }
    for (int i = 0; i < x->n; i++) {
        char what[32];
        snprintf(what, sizeof what, x->n > 1 ? "x[%d]" : "x", i);
        if ((s = dc_check_finite(x->t[i], what))) return dc_error_prefix("%s", who), s;
    }
    if ((s = dc_check_finite(y, "y"))) return dc_error_prefix("%s", who), s;
    return DC_OK;
}

dc_status dc_model_train_step_n(dc_model *m, int nx, const dc_tensor *const *xs, const dc_tensor *y, float *loss) {
    if (!xs) return dc_error(DC_ERR_ARG, "train_step: x is NULL");
    inputs x = make_inputs(nx, xs);
    dc_status s = check_xy(m, &x, y, "train_step");
    if (s || (s = ensure_staging(m, &x, y, y->shape[0]))) return s;
    gather_all(m, &x, y, NULL, 0, y->shape[0]);
    return step_staged(m, &x, y, y->shape[0], loss, NULL);
}

dc_status dc_model_train_step(dc_model *m, const dc_tensor *x, const dc_tensor *y, float *loss) {
    return dc_model_train_step_n(m, 1, &x, y, loss);
}

/* Inference needs no batch statistics (batch norm uses its running ones), so its results depend
 * on the batch size only by float rounding; it runs in chunks of at most this many rows to bound
 * the memory that one forward pass holds. */
#define INFER_CHUNK 256

/* Sums of the loss and metrics over rows [r0, r1) into a. */
static dc_status eval_local(dc_model *m, const inputs *x, const dc_tensor *y, int64_t r0, int64_t r1, int64_t batch, acc *a) {
    batch = DC_MIN(batch, INFER_CHUNK);
    dc_status s = ensure_staging(m, x, y, batch);
    if (s) return s;
    dc_ctx *c = m->ctx;
    for (int64_t r = r0; r < r1; r += batch) {
        int64_t n = DC_MIN(batch, r1 - r);
        dc_ctx_reset(c);
        dc_ctx_set_grad(c, false);
        gather_all(m, x, y, NULL, r, n);
        dc_tensor *xb[DC_MODEL_MAX_INPUTS], *yb = stage_view(m, m->ybuf, y, n);
        dc_tensor *out = yb && !stage_inputs(m, x, n, xb) ? dc_model_forward_impl(m, c, xb, false, m->fusion != DC_FUSE_NONE) : NULL;
        dc_tensor *loss = out ? compute_loss(m, c, out, yb) : NULL;
        s = loss ? add_metrics(m, c, out, yb, a) : dc_last_status() ? dc_last_status() : DC_ERR_STATE;
        if (s) break;
        a->loss += (double)loss->data[0] * (double)n;
    }
    dc_ctx_reset(c);
    dc_ctx_set_grad(c, true);
    return s;
}

/* The sums of a over every rank, into a on every rank. */
static dc_status reduce_acc(const dc_model *m, acc *a) {
    if (!dc_dist_on()) return DC_OK;
    double v[3 + DC_MAX_METRICS];
    int k = 0;
    v[k++] = a->loss;
    v[k++] = (double)a->rows;
    v[k++] = (double)a->elems;
    for (int i = 0; i < m->nmetrics; i++) v[k++] = a->metric[i];
    dc_status s = dc_dist_sum_d(v, k);
    if (s) return s;
    a->loss = v[0];
    a->rows = (int64_t)v[1];
    a->elems = (int64_t)v[2];
    for (int i = 0; i < m->nmetrics; i++) a->metric[i] = v[3 + i];
    return DC_OK;
}

/* Rank r's contiguous part [lo, hi) of rows [r0, r1): every rank's part when fit and evaluate
 * are distributed, else all of them. */
static void my_part(int64_t r0, int64_t r1, int64_t *lo, int64_t *hi) {
    int64_t n = r1 - r0, R = dc_dist_on() ? dc_dist_size() : 1, k = dc_dist_on() ? dc_dist_rank() : 0;
    *lo = r0 + n * k / R;
    *hi = r0 + n * (k + 1) / R;
}

/* Loss and metrics over rows [r0, r1) in inference mode, each rank scoring its part. A
 * collective call: who names the caller in the message of a rank's failure. */
static dc_status eval_rows(dc_model *m, const inputs *x, const dc_tensor *y, int64_t r0, int64_t r1, int64_t batch,
                           double *results, const char *who) {
    acc a;
    memset(&a, 0, sizeof a);
    int64_t lo, hi;
    my_part(r0, r1, &lo, &hi);
    dc_status s = dc_dist_agree(eval_local(m, x, y, lo, hi, batch, &a), who);
    if (s || (s = reduce_acc(m, &a))) return s;
    results[0] = a.loss / (double)a.rows;
    for (int i = 0; i < m->nmetrics; i++) results[1 + i] = metric_value(m, &a, i);
    return DC_OK;
}

/* DC_OK if v (what) is the same on every rank, else an error naming the range. */
static dc_status same_on_ranks(int64_t v, const char *what, const char *who) {
    int64_t lo, hi;
    dc_status s = dc_dist_minmax(&v, 1, &lo, &hi);
    if (s || lo == hi) return s;
    return dc_error(DC_ERR_ARG, "%s: the ranks disagree on %s (from %lld to %lld); every rank must pass the same data and options", who,
                    what, (long long)lo, (long long)hi);
}

dc_status dc_model_evaluate_n(dc_model *m, int nx, const dc_tensor *const *xs, const dc_tensor *y, int64_t batch_size,
                              double *results) {
    inputs x = make_inputs(xs ? nx : 0, xs);
    dc_status s = xs ? check_xy(m, &x, y, "evaluate") : dc_error(DC_ERR_ARG, "evaluate: x is NULL");
    if (!s && batch_size <= 0) s = dc_error(DC_ERR_ARG, "evaluate: batch_size must be positive, got %lld", (long long)batch_size);
    if (!s && !results) s = dc_error(DC_ERR_ARG, "evaluate: results is NULL");
    if ((s = dc_dist_agree(s, "evaluate")) || (s = same_on_ranks(y->shape[0], "the rows to evaluate", "evaluate"))) return s;
    return eval_rows(m, &x, y, 0, y->shape[0], batch_size, results, "evaluate");
}

dc_status dc_model_evaluate(dc_model *m, const dc_tensor *x, const dc_tensor *y, int64_t batch_size, double *results) {
    return dc_model_evaluate_n(m, 1, &x, y, batch_size, results);
}

dc_tensor *dc_model_predict_n(dc_model *m, int nx, const dc_tensor *const *x, int64_t batch_size) {
    if (!m || !x) return dc_error_null(DC_ERR_ARG, "predict: model or x is NULL");
    if (!m->built) return dc_error_null(DC_ERR_STATE, "predict: the model is not built");
    if (batch_size <= 0) return dc_error_null(DC_ERR_ARG, "predict: batch_size must be positive, got %lld", (long long)batch_size);
    if (check_inputs(m, nx, x, "predict")) return NULL;
    for (int i = 0; i < nx; i++)
        if (!dc_tensor_is_contiguous(x[i])) return dc_error_null(DC_ERR_ARG, "predict: x must be contiguous");
    batch_size = DC_MIN(batch_size, INFER_CHUNK);
    int64_t sh[DC_MAX_DIMS], N = x[0]->shape[0];
    int nd = dc_model_out_shape(m, sh + 1);
    sh[0] = N;
    dc_tensor *out = dc_tensor_new(nd + 1, sh);
    if (!out) return NULL;
    int64_t oc = row_elems(out);
    dc_ctx *c = m->ctx;
    for (int64_t r = 0; r < N; r += batch_size) {
        int64_t n = DC_MIN(batch_size, N - r);
        dc_ctx_reset(c);
        dc_ctx_set_grad(c, false);
        dc_tensor *xb[DC_MODEL_MAX_INPUTS];
        bool ok = true;
        for (int i = 0; i < nx && ok; i++) {
            int64_t xs[DC_MAX_DIMS];
            memcpy(xs, x[i]->shape, sizeof xs);
            xs[0] = n;
            ok = (xb[i] = dc_tensor_arena_view(&c->arena, x[i]->data + r * row_elems(x[i]), x[i]->ndim, xs, NULL)) != NULL;
        }
        dc_tensor *y = ok ? dc_model_forward_impl(m, c, xb, false, false) : NULL;
        if (!y) {
            dc_ctx_set_grad(c, true);
            dc_tensor_free(out);
            return NULL;
        }
        dc_copy_strided(out->data + r * oc, y);
    }
    dc_ctx_reset(c);
    dc_ctx_set_grad(c, true);
    return out;
}

dc_tensor *dc_model_predict(dc_model *m, const dc_tensor *x, int64_t batch_size) { return dc_model_predict_n(m, 1, &x, batch_size); }

static void print_epoch(FILE *f, const dc_model *m, int ep, int epochs, double secs, const double *tr, const double *va) {
    fprintf(f, "Epoch %d/%d - %.2fs - loss: %.4f", ep + 1, epochs, secs, tr[0]);
    for (int i = 0; i < m->nmetrics; i++) fprintf(f, " - %s: %.4f", dc_metric_name(m->metrics[i]), tr[1 + i]);
    if (va) {
        fprintf(f, " - val_loss: %.4f", va[0]);
        for (int i = 0; i < m->nmetrics; i++) fprintf(f, " - val_%s: %.4f", dc_metric_name(m->metrics[i]), va[1 + i]);
    }
    fputc('\n', f);
    fflush(f);
}

static dc_status record(dc_history *h, int ep, const dc_model *m, const double *tr, const double *va, double secs) {
    char key[64];
    dc_status s = dc_history_record(h, ep, "loss", tr[0]);
    for (int i = 0; !s && i < m->nmetrics; i++) s = dc_history_record(h, ep, dc_metric_name(m->metrics[i]), tr[1 + i]);
    if (va) {
        if (!s) s = dc_history_record(h, ep, "val_loss", va[0]);
        for (int i = 0; !s && i < m->nmetrics; i++) {
            snprintf(key, sizeof key, "val_%s", dc_metric_name(m->metrics[i]));
            s = dc_history_record(h, ep, key, va[1 + i]);
        }
    }
    if (!s) s = dc_history_record(h, ep, "seconds", secs);
    return s;
}

/* The shuffle and dropout streams of epoch ep: functions of the seed, the epoch and the rank only,
 * so a resumed run draws what an uninterrupted one would have. Every rank shuffles alike; each
 * draws its own dropout masks (rank 0 those of a one-process run). */
static void epoch_rngs(uint64_t seed, int ep, int rank, dc_rng *shuf, dc_rng *drop) {
    dc_rng_seed(shuf, seed + 0x9e3779b97f4a7c15ull * (uint64_t)(ep + 1));
    dc_rng_seed(drop, (seed ^ 0x5eedd40f0ull) + 0xd1b54a32d192ed03ull * (uint64_t)(ep + 1) + 0x2545f4914f6cdd1dull * (uint64_t)rank);
}

/* Losses and errors fall as they improve; accuracies rise. */
static bool minimised(const char *key) { return strstr(key, "loss") || strstr(key, "mae") || strstr(key, "mse"); }

static bool file_exists(const char *path) {
    FILE *f = fopen(path, "rb");
    if (f) fclose(f);
    return f != NULL;
}

/* This process prints progress and writes files: always, but for ranks other than 0 of a
 * distributed fit. */
static bool is_writer(void) { return !dc_dist_on() || dc_dist_rank() == 0; }

/* After epoch ep: the periodic checkpoint and the best model, as the options ask. */
static dc_status epoch_files(dc_model *m, const dc_fit_opts *o, int ep, const char *monitor, double *best, FILE *log) {
    dc_status s = DC_OK;
    bool writer = is_writer();
    if (writer && o->checkpoint_path && ((ep + 1) % o->checkpoint_every == 0 || ep + 1 == o->epochs) &&
        (s = dc_model_save_checkpoint(m, o->checkpoint_path)))
        return dc_error_prefix("fit: epoch %d: checkpoint", ep + 1), s;
    if (o->best_path) {
        const double *v = dc_history_get(m->hist, monitor);
        if (!v)
            return dc_error(DC_ERR_ARG, "fit: monitor \"%s\" is not recorded (keys: loss, the metrics, val_ with validation data)",
                            monitor);
        double now = v[ep];
        bool better = isfinite(now) && (isnan(*best) || (minimised(monitor) ? now < *best : now > *best));
        if (better) {
            if (writer && (s = dc_model_save(m, o->best_path))) return dc_error_prefix("fit: epoch %d: best model", ep + 1), s;
            if (writer && o->verbose)
                fprintf(log, "Epoch %d: %s improved to %.5g, model saved to %s\n", ep + 1, monitor, now, o->best_path);
            *best = now;
        }
    }
    return DC_OK;
}

/* One fit's data and settings, decided before its first step. */
typedef struct fit_run {
    dc_fit_opts o;
    inputs x, vxs;
    const dc_tensor *y, *vy;
    FILE *log;
    int64_t N, nval, ntr, batch;
    bool has_val;
    const char *monitor;
    int start;
    uint64_t seed;
    double best;
    int64_t *idx; /* the epoch's order of the training rows */
    bool sync_bn; /* distributed, with synchronised BatchNormalization layers */
} fit_run;

/* Where a fit's time goes, per step (DEEPC_DIST_STATS=1 prints it). */
typedef struct fit_clock {
    double step, wait, reduce;
    int64_t steps;
} fit_clock;

/* Checks the arguments and prepares f (resuming from the checkpoint if asked); on this rank only. */
static dc_status fit_setup(dc_model *m, int nx, const dc_tensor *const *xs, const dc_tensor *y, const dc_fit_opts *opts, fit_run *f) {
    if (!xs) return dc_error(DC_ERR_ARG, "fit: x is NULL");
    f->o = opts ? *opts : dc_fit_defaults();
    dc_fit_opts *o = &f->o;
    f->x = make_inputs(nx, xs);
    f->y = y;
    dc_status s = check_xy(m, &f->x, y, "fit");
    if (s) return s;
    if (o->epochs <= 0) return dc_error(DC_ERR_ARG, "fit: epochs must be positive, got %d", o->epochs);
    if (o->batch_size <= 0) return dc_error(DC_ERR_ARG, "fit: batch_size must be positive, got %lld", (long long)o->batch_size);
    if (!(o->validation_split >= 0 && o->validation_split < 1))
        return dc_error(DC_ERR_ARG, "fit: validation_split %g is outside [0, 1)", (double)o->validation_split);
    const dc_tensor *const *val_x = o->val_xs ? o->val_xs : o->val_x ? &o->val_x : NULL;
    if ((val_x == NULL) != (o->val_y == NULL)) return dc_error(DC_ERR_ARG, "fit: give both val_x (or val_xs) and val_y, or neither");
    if (val_x) f->vxs = make_inputs(nx, val_x);
    if (o->checkpoint_every <= 0) o->checkpoint_every = 1;
    if (o->resume && !o->checkpoint_path) return dc_error(DC_ERR_ARG, "fit: resume needs checkpoint_path");
    if (val_x && (s = check_xy(m, &f->vxs, o->val_y, "fit (validation data)"))) return s;
    f->log = o->log ? o->log : stdout;
    f->N = y->shape[0];
    f->vy = o->val_y;
    if (!val_x && o->validation_split > 0) {
        f->nval = (int64_t)((double)f->N * o->validation_split);
        if (f->nval == 0 || f->nval == f->N)
            return dc_error(DC_ERR_ARG, "fit: validation_split %g of %lld rows leaves an empty part", (double)o->validation_split,
                            (long long)f->N);
    }
    f->has_val = val_x || f->nval;
    f->monitor = o->monitor ? o->monitor : f->has_val ? "val_loss" : "loss";
    f->ntr = f->N - f->nval;
    f->batch = DC_MIN(o->batch_size, f->ntr);
    if (o->resume && file_exists(o->checkpoint_path)) {
        if ((s = dc_model_load_checkpoint(m, o->checkpoint_path))) return dc_error_prefix("fit: resume"), s;
        if (o->verbose && is_writer()) fprintf(f->log, "Resuming from %s after epoch %d\n", o->checkpoint_path, m->epoch);
    }
    f->seed = o->seed;
    if (m->resuming) {
        if (m->fit_rows != f->ntr || m->fit_batch != f->batch)
            return dc_error(DC_ERR_ARG, "fit: the checkpoint was written by a fit on %lld rows in batches of %lld; this one has %lld rows "
                            "in batches of %lld", (long long)m->fit_rows, (long long)m->fit_batch, (long long)f->ntr, (long long)f->batch);
        f->start = m->epoch;
        f->seed = m->fit_seed; /* the run being continued decides its random streams */
    } else {
        dc_history_free(m->hist);
        m->hist = NULL;
        m->epoch = 0;
    }
    if ((s = ensure_staging(m, &f->x, y, f->batch))) return s;
    f->idx = dc_alloc((size_t)f->ntr * sizeof *f->idx);
    if (!m->hist) m->hist = dc_history_new();
    if (!f->idx || !m->hist) return DC_ERR_NOMEM;
    m->resuming = false;
    m->fit_seed = f->seed;
    m->fit_rows = f->ntr;
    m->fit_batch = f->batch;
    f->best = NAN;
    if (o->best_path) { /* a resumed run remembers the best value so far */
        const double *v = dc_history_get(m->hist, f->monitor);
        for (int e = 0; v && e < f->start; e++)
            if (isfinite(v[e]) && (isnan(f->best) || (minimised(f->monitor) ? v[e] < f->best : v[e] > f->best))) f->best = v[e];
    }
    return DC_OK;
}

/* Every rank's fit must walk the same epochs and batches: their counts agree, or all stop. */
static dc_status check_ranks_agree(const fit_run *f) {
    if (!dc_dist_on()) return DC_OK;
    const char *what[] = {"the training rows", "the batch size", "the epochs", "the first epoch (resumed from a checkpoint)", "the seed",
                          "the validation rows", "shuffle"};
    int64_t v[] = {f->ntr, f->batch, f->o.epochs, f->start, (int64_t)(f->seed & 0x7fffffffffffffffull),
                   f->vy ? f->vy->shape[0] : f->nval, f->o.shuffle};
    int64_t lo[DC_ARRAY_LEN(v)], hi[DC_ARRAY_LEN(v)];
    dc_status s = dc_dist_minmax(v, (int)DC_ARRAY_LEN(v), lo, hi);
    for (size_t i = 0; !s && i < DC_ARRAY_LEN(v); i++)
        if (lo[i] != hi[i])
            s = dc_error(DC_ERR_ARG, "fit: the ranks disagree on %s (from %lld to %lld); every rank must pass the same data and options",
                         what[i], (long long)lo[i], (long long)hi[i]);
    return s;
}

/* Synchronised batch statistics are collectives inside every step's forward and backward: every
 * rank must take a step on rows of its own, so each batch, the last one too, needs a row per rank. */
static dc_status check_sync_bn(const dc_model *m, fit_run *f) {
    for (int i = 0; i < m->nlayers && dc_dist_on(); i++) f->sync_bn |= m->layers[i]->sync_bn;
    if (!f->sync_bn) return DC_OK;
    int64_t last = f->ntr % f->batch ? f->ntr % f->batch : f->batch, least = DC_MIN(f->batch, last), R = dc_dist_size();
    if (least < R)
        return dc_error(DC_ERR_ARG, "fit: synchronised BatchNormalization needs a row of every batch on each of the %lld ranks, but %s "
                        "has %lld row%s (%lld training rows in batches of %lld); change batch_size or the training rows",
                        (long long)R, least == f->batch ? "each batch" : "the last batch", (long long)least, least == 1 ? "" : "s",
                        (long long)f->ntr, (long long)f->batch);
    return DC_OK;
}

/* The message of a failed step names where training stopped. */
static dc_status step_error(dc_status s, int ep, int64_t b) {
    if (s == DC_ERR_NUMERIC) {
        char why[256];
        snprintf(why, sizeof why, "%s", dc_last_error());
        dc_error(DC_ERR_NUMERIC, "fit: %s at epoch %d, batch %lld; training stopped (lower the learning rate or check the data)", why,
                 ep + 1, (long long)b + 1);
    } else if (s) {
        dc_error_prefix("fit: epoch %d, batch %lld", ep + 1, (long long)b + 1);
    }
    return s;
}

/* One epoch of optimisation steps, its loss and metrics summed into a. Of every global batch of
 * n rows this rank takes its contiguous part (all of it in one process), weighs its mean gradient
 * by its share of the rows, and the sum over the ranks is the gradient of the whole batch. A
 * collective call: a rank's failure reaches all at the next step's check point. */
static dc_status train_epoch(dc_model *m, fit_run *f, int ep, acc *a, fit_clock *clk) {
    dc_rng shuf;
    epoch_rngs(f->seed, ep, dc_dist_on() ? dc_dist_rank() : 0, &shuf, &m->rng);
    for (int64_t i = 0; i < f->ntr; i++) f->idx[i] = i;
    if (f->o.shuffle) dc_rng_shuffle(&shuf, f->idx, f->ntr);
    dc_status s = DC_OK;
    for (int64_t r = 0, b = 0; r < f->ntr; r += f->batch, b++) {
        double t0 = dc_now();
        int64_t n = DC_MIN(f->batch, f->ntr - r), lo, hi;
        my_part(r, r + n, &lo, &hi);
        int64_t nr = hi - lo;
        step_out so = {0};
        if (!s && nr > 0) {
            gather_all(m, &f->x, f->y, f->idx, lo, nr);
            m->ctx->sync_sum = f->sync_bn ? dc_dist_sum_d : NULL;
            m->ctx->sync_w = (float)nr / (float)n;
            s = step_grad(m, &f->x, f->y, nr, &so);
            m->ctx->sync_sum = NULL;
            if (!s && nr != n) {
                float w = (float)nr / (float)n;
                for (int64_t i = 0; i < m->ptotal; i++) m->gbuf[i] *= w;
            }
            step_error(s, ep, b);
        } else if (!s) {
            memset(m->gbuf, 0, (size_t)m->ptotal * sizeof(float));
        }
        double t1 = dc_now();
        if ((s = dc_dist_agree(s, "fit"))) return s;
        double t2 = dc_now();
        s = dc_dist_sum_f(m->gbuf, m->ptotal);
        double t3 = dc_now();
        if (!s) s = step_update(m, nr ? &so : NULL, nr, a);
        step_error(s, ep, b);
        clk->wait += t2 - t1;
        clk->reduce += t3 - t2;
        clk->step += dc_now() - t0;
        clk->steps++;
    }
    return dc_dist_agree(s, "fit");
}

static void print_clock(const dc_model *m, const fit_clock *k) {
    if (!k->steps || !is_writer()) return;
    const char *e = getenv("DEEPC_DIST_STATS");
    if (!e || !*e || strcmp(e, "0") == 0) return;
    double n = (double)k->steps, step = 1e3 * k->step / n;
    fprintf(stderr,
            "dist: ranks=%d steps=%lld step_ms=%.3f allreduce_ms=%.3f allreduce_pct=%.1f wait_ms=%.3f wait_pct=%.1f grad_mb=%.2f\n",
            dc_dist_on() ? dc_dist_size() : 1, (long long)k->steps, step, 1e3 * k->reduce / n, 100 * k->reduce / k->step,
            1e3 * k->wait / n, 100 * k->wait / k->step, (double)m->ptotal * 4 / 1048576.0);
}

dc_status dc_model_fit_n(dc_model *m, int nx, const dc_tensor *const *xs, const dc_tensor *y, const dc_fit_opts *opts,
                         dc_history **history) {
    if (history) *history = NULL;
    fit_run f;
    memset(&f, 0, sizeof f);
    dc_status s = dc_dist_agree(fit_setup(m, nx, xs, y, opts, &f), "fit");
    if (!s) s = check_ranks_agree(&f);
    if (!s) s = check_sync_bn(m, &f);
    /* every rank starts from rank 0's weights */
    if (!s && dc_dist_on() && !(s = dc_dist_bcast_f(m->pbuf, m->ptotal))) s = dc_dist_bcast_f(m->sbuf, m->stotal);
    if (s) {
        dc_free(f.idx);
        return s;
    }
    double tr[1 + DC_MAX_METRICS], va[1 + DC_MAX_METRICS];
    fit_clock clk = {0};
    for (int ep = f.start; ep < f.o.epochs && !s; ep++) {
        double t0 = dc_now();
        acc a;
        memset(&a, 0, sizeof a);
        if ((s = train_epoch(m, &f, ep, &a, &clk)) || (s = reduce_acc(m, &a))) break;
        tr[0] = a.loss / (double)a.rows;
        for (int i = 0; i < m->nmetrics; i++) tr[1 + i] = metric_value(m, &a, i);
        /* batch norm's running statistics: rank 0's on every rank */
        if (dc_dist_on() && m->stotal && (s = dc_dist_bcast_f(m->sbuf, m->stotal))) break;
        if (f.vy) s = eval_rows(m, &f.vxs, f.vy, 0, f.vy->shape[0], f.o.batch_size, va, "fit");
        else if (f.nval) s = eval_rows(m, &f.x, f.y, f.ntr, f.N, f.o.batch_size, va, "fit");
        if (s) break;
        double secs = dc_now() - t0;
        if (f.o.verbose && is_writer()) print_epoch(f.log, m, ep, f.o.epochs, secs, tr, f.has_val ? va : NULL);
        s = record(m->hist, ep, m, tr, f.has_val ? va : NULL, secs);
        if (!s) {
            m->epoch = ep + 1;
            s = epoch_files(m, &f.o, ep, f.monitor, &f.best, f.log);
        }
        s = dc_dist_agree(s, "fit");
    }
    print_clock(m, &clk);
    dc_free(f.idx);
    if (history && !(*history = dc_history_clone(m->hist)) && !s) s = DC_ERR_NOMEM;
    return s;
}

dc_status dc_model_fit(dc_model *m, const dc_tensor *x, const dc_tensor *y, const dc_fit_opts *opts, dc_history **history) {
    return dc_model_fit_n(m, 1, &x, y, opts, history);
}
