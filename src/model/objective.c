/* The objective: compile picks a loss and metrics from these tables and decides, once, whether
 * the final activation fuses with the loss (softmax with cross-entropy, sigmoid with binary
 * cross-entropy: the last layer then hands the loss its logits). */
#include "objective.h"

#include <math.h>
#include <string.h>

/* What compile needs to know of each loss beyond its op (dc_loss_ex): the final activation whose
 * logits it can take instead (fused: the model then skips that activation in training), whether
 * its targets are class indices, and whether "accuracy" means binary accuracy for it. */
typedef struct loss_entry {
    dc_activation fuses; /* DC_ACT_NONE: none */
    dc_fusion fusion;
    bool sparse;         /* targets are class indices */
    bool binary;         /* element-wise 0/1 targets: accuracy is binary accuracy, as Keras's */
} loss_entry;

static const loss_entry losses[DC_LOSS_COUNT] = {
    [DC_LOSS_MSE] = {DC_ACT_NONE, DC_FUSE_NONE, false, false},
    [DC_LOSS_MAE] = {DC_ACT_NONE, DC_FUSE_NONE, false, false},
    [DC_LOSS_BCE] = {DC_ACT_SIGMOID, DC_FUSE_SIGMOID_BCE, false, true},
    [DC_LOSS_CCE] = {DC_ACT_SOFTMAX, DC_FUSE_SOFTMAX_CE, false, false},
    [DC_LOSS_SPARSE_CCE] = {DC_ACT_SOFTMAX, DC_FUSE_SOFTMAX_CE, true, false},
    [DC_LOSS_HUBER] = {DC_ACT_NONE, DC_FUSE_NONE, false, false},
    [DC_LOSS_NLL] = {DC_ACT_NONE, DC_FUSE_NONE, true, false},
    [DC_LOSS_KLD] = {DC_ACT_NONE, DC_FUSE_NONE, false, false},
    [DC_LOSS_HINGE] = {DC_ACT_NONE, DC_FUSE_NONE, false, true},
    [DC_LOSS_SQUARED_HINGE] = {DC_ACT_NONE, DC_FUSE_NONE, false, true},
    [DC_LOSS_BINARY_FOCAL] = {DC_ACT_SIGMOID, DC_FUSE_SIGMOID_BCE, false, true},
    [DC_LOSS_COSINE] = {DC_ACT_NONE, DC_FUSE_NONE, false, false},
    [DC_LOSS_POISSON] = {DC_ACT_NONE, DC_FUSE_NONE, false, false},
    /* CTC: a softmax output hands the loss its logits (log_softmax fused in the op); a
     * log_softmax output gives log-probabilities as they are */
    [DC_LOSS_CTC] = {DC_ACT_SOFTMAX, DC_FUSE_SOFTMAX_CE, false, false},
};
_Static_assert(DC_LOSS_COUNT == 14, "every loss has its row in the table above");

/* The loss options as a schema: compile's options are saved with the model by their keys. */
const dc_field dc_loss_opts_fields[] = {
    DC_F_BOOL(dc_loss_opts, "from_logits", from_logits, false, 0),
    DC_F_FLOAT(dc_loss_opts, "label_smoothing", label_smoothing, 0, 1, 0, 0),
    DC_F_FLOAT(dc_loss_opts, "delta", delta, 1e-30, 1e30, 1, 0),
    DC_F_FLOAT(dc_loss_opts, "gamma", gamma, 0, 1e6, 2, 0),
    DC_F_FLOAT(dc_loss_opts, "alpha", alpha, -1, 1, 0.25, 0),
    DC_F_INT(dc_loss_opts, "blank", blank, 0, INT32_MAX, 0, 0),
    DC_F_BOOL(dc_loss_opts, "zero_infinity", zero_infinity, false, 0),
};
const int dc_loss_opts_nfields = DC_ARRAY_LEN(dc_loss_opts_fields);

typedef struct metric_entry {
    const char *name;
    bool minimised;
} metric_entry;

static const metric_entry metrics_tab[DC_METRIC_COUNT] = {
    [DC_METRIC_ACCURACY] = {"accuracy", false},
    [DC_METRIC_MAE] = {"mae", true},
    [DC_METRIC_MSE] = {"mse", true},
};

const char *dc_metric_name(dc_metric m) { return (unsigned)m < DC_METRIC_COUNT ? metrics_tab[m].name : "unknown"; }

bool dc_obj_minimised(const char *key) {
    if (strstr(key, "loss")) return true;
    for (int i = 0; i < DC_METRIC_COUNT; i++)
        if (metrics_tab[i].minimised && strstr(key, metrics_tab[i].name)) return true;
    return false;
}

static dc_status compile_common(dc_model *m, dc_optimizer *opt, const dc_metric *metrics, int nmetrics, const char *who) {
    if (!m || !opt) {
        dc_optimizer_free(opt);
        if (!opt && dc_last_status()) return dc_error_prefix("%s", who), dc_last_status(); /* the optimiser's own error */
        return dc_error(DC_ERR_ARG, "%s: model or optimizer is NULL", who);
    }
    dc_status s = dc_model_check_layers(m, who); /* a model that lost a layer is not compiled */
    if (s) {
        dc_optimizer_free(opt);
        return s;
    }
    dc_optimizer_free(m->opt);
    m->opt = opt;
    if (nmetrics < 0 || nmetrics > DC_MAX_METRICS || (nmetrics && !metrics))
        return dc_error(DC_ERR_ARG, "%s: %d metrics (at most %d)", who, nmetrics, DC_MAX_METRICS);
    for (int i = 0; i < nmetrics; i++)
        if ((unsigned)metrics[i] >= DC_METRIC_COUNT) return dc_error(DC_ERR_ARG, "%s: unknown metric %d", who, (int)metrics[i]);
    if (!m->built) {
        if (!m->has_input)
            return dc_error(DC_ERR_STATE, "%s: input shape unknown: add dc_input(...) first or call dc_model_build", who);
        if ((s = dc_model_build(m, 0, NULL))) return s;
    }
    m->nmetrics = nmetrics;
    if (nmetrics) memcpy(m->metrics, metrics, (size_t)nmetrics * sizeof *metrics);
    return DC_OK;
}

/* The CTC loss reads per-step class scores: the model's outputs must be [N, T, C], with the blank
 * one of the C classes. */
static dc_status ctc_output_ok(const dc_model *m, const dc_loss_opts *o, const char *who) {
    int64_t sh[DC_MAX_DIMS];
    int nd = dc_model_out_shape(m, sh);
    char b[96];
    if (nd != 2)
        return dc_error(DC_ERR_SHAPE, "%s: the ctc loss needs per-step class scores, outputs (None, T, C) (e.g. a recurrent layer "
                        "with return_sequences, then Dense(C, softmax)); the model outputs %s per sample", who,
                        dc_shape_str(nd, sh, b, sizeof b));
    if (o->blank >= sh[1])
        return dc_error(DC_ERR_ARG, "%s: the ctc loss's blank %lld is not one of the model's %lld classes", who, (long long)o->blank,
                        (long long)sh[1]);
    return DC_OK;
}

dc_status dc_model_compile(dc_model *m, dc_optimizer *opt, dc_loss loss, const dc_metric *metrics, int nmetrics) {
    if (m && (unsigned)loss >= DC_LOSS_COUNT) {
        dc_optimizer_free(opt);
        return dc_error(DC_ERR_ARG, "dc_model_compile: unknown loss %d", (int)loss);
    }
    if (m && loss == DC_LOSS_CTC && nmetrics > 0 && metrics) {
        dc_optimizer_free(opt);
        return dc_error(DC_ERR_ARG, "dc_model_compile: the metric \"%s\" is not defined for the ctc loss, whose targets are label "
                        "sequences: compile it without metrics, decode the outputs (dc_ctc_greedy_decode, dc_ctc_beam_decode) and "
                        "score them (dc_label_error_rate)", dc_metric_name(metrics[0]));
    }
    dc_status s = compile_common(m, opt, metrics, nmetrics, "dc_model_compile");
    if (s) return s;
    if (!m->loss_opts_set) m->loss_opts = dc_loss_opts_default();
    if (loss == DC_LOSS_CTC && (s = ctc_output_ok(m, &m->loss_opts, "dc_model_compile"))) {
        m->compiled = false;
        return s;
    }
    m->loss = loss;
    m->user_loss = NULL;
    m->user_loss_data = NULL;
    dc_obj_plan_fusion(m);
    m->compiled = true;
    return DC_OK;
}

void dc_obj_plan_fusion(dc_model *m) {
    /* softmax is over the last axis: per-step predictions are rows of [N T, classes]. A loss
     * told its predictions are logits already takes them from a linear last layer: no fusion. */
    const dc_layer *last = m->layers[m->nlayers - 1];
    const loss_entry *e = &losses[m->loss];
    bool fusable = !m->user_loss && !m->loss_opts.from_logits && (last->type->flags & DC_LAYER_LOGITS) && e->fuses != DC_ACT_NONE;
    m->fusion = fusable && dc_layer_output_act(last) == e->fuses ? e->fusion : DC_FUSE_NONE;
}

dc_status dc_model_set_loss_options(dc_model *m, const dc_loss_opts *o) {
    if (!m || !o) return dc_error(DC_ERR_ARG, "dc_model_set_loss_options: model or options is NULL");
    dc_loss_opts v = *o; /* checked field by field against the schema, then taken whole */
    for (int i = 0; i < dc_loss_opts_nfields; i++) {
        double x[1];
        dc_field_get(&dc_loss_opts_fields[i], &v, x);
        dc_status s = dc_field_set(&dc_loss_opts_fields[i], &v, x, 1, "dc_model_set_loss_options");
        if (s) return s;
    }
    m->loss_opts = v;
    m->loss_opts_set = true;
    if (m->compiled) dc_obj_plan_fusion(m);
    return DC_OK;
}

dc_status dc_model_compile_custom(dc_model *m, dc_optimizer *opt, dc_loss_fn loss, void *user, const dc_metric *metrics,
                                  int nmetrics) {
    if (m && !loss) {
        dc_optimizer_free(opt);
        return dc_error(DC_ERR_ARG, "dc_model_compile_custom: the loss function is NULL");
    }
    dc_status s = compile_common(m, opt, metrics, nmetrics, "dc_model_compile_custom");
    if (s) return s;
    m->loss = DC_LOSS_MSE; /* unused: the metrics' choice of accuracy reads the targets' shape */
    m->user_loss = loss;
    m->user_loss_data = user;
    m->fusion = DC_FUSE_NONE;
    m->compiled = true;
    return DC_OK;
}

int64_t dc_obj_classes(const dc_model *m) {
    int64_t sh[DC_MAX_DIMS];
    int nd = dc_model_out_shape(m, sh);
    return nd ? sh[nd - 1] : 1;
}

static bool is_ctc(const dc_model *m) { return !m->user_loss && m->loss == DC_LOSS_CTC; }

bool dc_obj_sparse_labels(const dc_model *m, int64_t out_cols, int64_t y_cols) {
    int64_t classes = dc_obj_classes(m);
    bool sparse = !m->user_loss && losses[m->loss].sparse;
    return !is_ctc(m) && (sparse || (classes > 1 && y_cols * classes == out_cols));
}

/* A CTC target row's length (its labels before the first negative) into *len, and the fewest
 * steps an alignment of it takes: one per label, one more per label equal to the one before
 * (the blank between them). */
static int64_t ctc_min_steps(const float *row, int64_t S, int64_t *len) {
    int64_t k = 0, rep = 0;
    for (; k < S && row[k] >= 0; k++) rep += k > 0 && row[k] == row[k - 1];
    *len = k;
    return k + rep;
}

dc_status dc_obj_check_ctc_targets(const dc_model *m, const dc_tensor *y, const char *who) {
    int64_t sh[DC_MAX_DIMS];
    dc_model_out_shape(m, sh); /* [T, C]: compile checked it */
    const int64_t T = sh[0], C = sh[1], blank = m->loss_opts.blank;
    if (y->ndim != 2)
        return dc_error(DC_ERR_SHAPE, "%s: the ctc loss takes targets y [N, S], each row a sample's labels (class indices) then "
                        "negative padding; y is %s", who, dc_tshape(y, 0));
    const int64_t S = y->shape[1];
    for (int64_t r = 0; r < y->shape[0]; r++) {
        const float *row = y->data + r * S;
        for (int64_t k = 0; k < S && !(row[k] < 0); k++) {
            if (!(row[k] < (float)C) || row[k] != floorf(row[k]))
                return dc_error(DC_ERR_ARG, "%s: y[%lld, %lld] = %g: label %lld of sample %lld is not a class index in [0, %lld) (the "
                                "model has %lld classes; a target ends at its first negative value)", who, (long long)r, (long long)k,
                                (double)row[k], (long long)k, (long long)r, (long long)C, (long long)C);
            if ((int64_t)row[k] == blank)
                return dc_error(DC_ERR_ARG, "%s: y[%lld, %lld] = %g: label %lld of sample %lld is the blank (loss option blank %lld); "
                                "targets hold labels only", who, (long long)r, (long long)k, (double)row[k], (long long)k, (long long)r,
                                (long long)blank);
        }
        int64_t len, need = ctc_min_steps(row, S, &len);
        if (need > T && !m->loss_opts.zero_infinity)
            return dc_error(DC_ERR_ARG, "%s: the target of sample %lld has %lld labels, %lld of them repeats, and takes at least %lld "
                            "steps, but the model's outputs have %lld: no alignment exists and its ctc loss is infinite (the loss "
                            "option zero_infinity counts such samples 0)", who, (long long)r, (long long)len, (long long)(need - len),
                            (long long)need, (long long)T);
    }
    return DC_OK;
}

/* The CTC loss of a batch: every sample's input length is T, or its count of real steps when
 * the output carries a mask. Targets too long for a masked length are refused as in
 * dc_obj_check_ctc_targets, unless zero_infinity. */
static dc_tensor *ctc_batch_loss(dc_model *m, dc_ctx *c, dc_tensor *out, const uint8_t *mask, dc_tensor *y, const dc_loss_opts *o,
                                 dc_tensor *sample_weight) {
    if (m->training_loss && m->class_weight)
        return dc_error_null(DC_ERR_ARG, "ctc: class weights are not defined for the ctc loss (sample weights are)");
    if (out->ndim != 3 || y->ndim != 2) return dc_ctc_loss(c, out, y, NULL, o, DC_REDUCE_MEAN, sample_weight); /* its message */
    const int64_t N = out->shape[0], T = out->shape[1], S = y->shape[1];
    int64_t *len = NULL;
    if (mask) {
        if (!(len = dc_scratch(c, (size_t)N * sizeof *len))) return NULL;
        for (int64_t n = 0; n < N; n++) {
            int64_t k = 0;
            for (int64_t t = 0; t < T; t++) k += mask[n * T + t] != 0;
            len[n] = k;
        }
        const float *Y = dc_tensor_is_contiguous(y) ? y->data : NULL;
        for (int64_t n = 0; Y && n < N && !o->zero_infinity; n++) {
            int64_t tl, need = ctc_min_steps(Y + n * S, S, &tl);
            if (need > len[n])
                return dc_error_null(DC_ERR_ARG, "ctc: the target of batch row %lld has %lld labels, %lld of them repeats, and takes "
                                     "at least %lld steps, but its input has %lld real steps (its mask): no alignment exists and its "
                                     "loss is infinite (the loss option zero_infinity counts such samples 0)", (long long)n,
                                     (long long)tl, (long long)(need - tl), (long long)need, (long long)len[n]);
        }
    }
    return dc_ctc_loss(c, out, y, len, o, DC_REDUCE_MEAN, sample_weight);
}

dc_tensor *dc_obj_loss(dc_model *m, dc_ctx *c, dc_tensor *out, const uint8_t *out_mask, dc_tensor *y) {
    dc_tensor *sample_weight = NULL;
    if (m->batch_weighted && !m->user_loss &&
        !(sample_weight = dc_tensor_arena_view(&c->arena, m->wbuf, 1, (int64_t[]){out->shape[0]}, NULL)))
        return NULL;
    if (m->user_loss) {
        dc_tensor *l = m->user_loss(c, out, y, m->user_loss_data);
        if (!l) return dc_last_status() ? NULL : dc_error_null(DC_ERR_ARG, "the user loss returned NULL without an error");
        if (l->numel != 1) return dc_error_null(DC_ERR_SHAPE, "the user loss returned %s, not one value", dc_tshape(l, 0));
        return l;
    }
    dc_loss_opts o = m->loss_opts;
    if (m->fusion != DC_FUSE_NONE) o.from_logits = true; /* the last layer left its activation out */
    if (is_ctc(m)) return ctc_batch_loss(m, c, out, out_mask, y, &o, sample_weight);
    return dc_loss_ex(c, m->loss, out, y, &o, DC_REDUCE_MEAN, sample_weight, m->training_loss ? m->class_weight : NULL);
}

static int64_t row_elems(const dc_tensor *t) { return t->shape[0] ? t->numel / t->shape[0] : 0; }

static int64_t argmax(const float *p, int64_t k) {
    int64_t b = 0;
    for (int64_t j = 1; j < k; j++)
        if (p[j] > p[b]) b = j;
    return b;
}

dc_status dc_obj_add_metrics(dc_model *m, dc_ctx *c, const dc_tensor *out, const dc_tensor *y, dc_acc *a) {
    int64_t N = out->shape[0], K = row_elems(out), yc = row_elems(y);
    int64_t C = dc_obj_classes(m), steps = K / C; /* predictions per row */
    const float *P = out->data, *Y = y->data;
    float *prob = NULL;
    for (int i = 0; i < m->nmetrics; i++) {
        double s = 0;
        if (m->metrics[i] == DC_METRIC_ACCURACY) {
            bool binary = !m->user_loss && losses[m->loss].binary;
            if (dc_obj_sparse_labels(m, K, yc)) {
                for (int64_t r = 0; r < N * steps; r++) s += argmax(P + r * C, C) == (int64_t)Y[r];
            } else if (K == 1 || (binary && yc == K)) {
                /* binary accuracy, element by element and averaged over a row's outputs (Keras's
                 * for binary losses): logits and hinge outputs are thresholded at 0 */
                bool at0 = m->fusion != DC_FUSE_NONE || m->loss_opts.from_logits || m->loss == DC_LOSS_HINGE ||
                           m->loss == DC_LOSS_SQUARED_HINGE;
                float thr = at0 ? 0.0f : 0.5f;
                for (int64_t r = 0; r < N; r++) {
                    int64_t hit = 0;
                    for (int64_t k = 0; k < K; k++) hit += (P[r * K + k] > thr) == (Y[r * K + k] > 0.5f);
                    s += (double)hit / (double)K;
                }
                s *= (double)steps; /* undone below: the binary accuracy is already per row */
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

double dc_obj_metric_value(const dc_model *m, const dc_acc *a, int i) {
    if (m->metrics[i] == DC_METRIC_ACCURACY) return a->rows ? a->metric[i] / (double)a->rows : 0;
    return a->elems ? a->metric[i] / (double)a->elems : 0;
}
