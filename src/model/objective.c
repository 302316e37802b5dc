/* The objective: compile picks a loss and metrics from these tables and decides, once, whether
 * the final activation fuses with the loss (softmax with cross-entropy, sigmoid with binary
 * cross-entropy: the last layer then hands the loss its logits). */
#include "objective.h"

#include <math.h>
#include <string.h>

typedef dc_tensor *(*loss_op)(dc_ctx *c, dc_tensor *pred, dc_tensor *target);

typedef struct loss_entry {
    loss_op op;          /* on the model's outputs */
    dc_activation fuses; /* the final activation it takes logits of instead (DC_ACT_NONE: none) */
    dc_fusion fusion;
    loss_op fused;       /* on the logits */
    bool class_rows;     /* a cross-entropy over the last axis: [N, T, C] outputs are N T rows */
    bool sparse;         /* targets are class indices */
} loss_entry;

static const loss_entry losses[DC_LOSS_COUNT] = {
    [DC_LOSS_MSE] = {dc_mse_loss, DC_ACT_NONE, DC_FUSE_NONE, NULL, false, false},
    [DC_LOSS_MAE] = {dc_mae_loss, DC_ACT_NONE, DC_FUSE_NONE, NULL, false, false},
    [DC_LOSS_BCE] = {dc_bce_loss, DC_ACT_SIGMOID, DC_FUSE_SIGMOID_BCE, dc_bce_with_logits_loss, false, false},
    [DC_LOSS_CCE] = {dc_cce_loss, DC_ACT_SOFTMAX, DC_FUSE_SOFTMAX_CE, dc_softmax_cce_loss, true, false},
    [DC_LOSS_SPARSE_CCE] = {dc_sparse_cce_loss, DC_ACT_SOFTMAX, DC_FUSE_SOFTMAX_CE, dc_softmax_sparse_cce_loss, true, true},
};

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
    dc_optimizer_free(m->opt);
    m->opt = opt;
    if (nmetrics < 0 || nmetrics > DC_MAX_METRICS || (nmetrics && !metrics))
        return dc_error(DC_ERR_ARG, "%s: %d metrics (at most %d)", who, nmetrics, DC_MAX_METRICS);
    for (int i = 0; i < nmetrics; i++)
        if ((unsigned)metrics[i] >= DC_METRIC_COUNT) return dc_error(DC_ERR_ARG, "%s: unknown metric %d", who, (int)metrics[i]);
    if (!m->built) {
        if (!m->has_input)
            return dc_error(DC_ERR_STATE, "%s: input shape unknown: add dc_input(...) first or call dc_model_build", who);
        dc_status s = dc_model_build(m, 0, NULL);
        if (s) return s;
    }
    m->nmetrics = nmetrics;
    if (nmetrics) memcpy(m->metrics, metrics, (size_t)nmetrics * sizeof *metrics);
    return DC_OK;
}

dc_status dc_model_compile(dc_model *m, dc_optimizer *opt, dc_loss loss, const dc_metric *metrics, int nmetrics) {
    if (m && (unsigned)loss >= DC_LOSS_COUNT) {
        dc_optimizer_free(opt);
        return dc_error(DC_ERR_ARG, "dc_model_compile: unknown loss %d", (int)loss);
    }
    dc_status s = compile_common(m, opt, metrics, nmetrics, "dc_model_compile");
    if (s) return s;
    m->loss = loss;
    m->user_loss = NULL;
    m->user_loss_data = NULL;
    /* softmax is over the last axis: per-step predictions are rows of [N T, classes] */
    const dc_layer *last = m->layers[m->nlayers - 1];
    bool fusable = (last->type->flags & DC_LAYER_LOGITS) && losses[loss].fuses != DC_ACT_NONE;
    m->fusion = fusable && dc_layer_output_act(last) == losses[loss].fuses ? losses[loss].fusion : DC_FUSE_NONE;
    m->compiled = true;
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

bool dc_obj_sparse_labels(const dc_model *m, int64_t out_cols, int64_t y_cols) {
    int64_t classes = dc_obj_classes(m);
    bool sparse = !m->user_loss && losses[m->loss].sparse;
    return sparse || (classes > 1 && y_cols * classes == out_cols);
}

dc_tensor *dc_obj_loss(dc_model *m, dc_ctx *c, dc_tensor *out, dc_tensor *y) {
    if (m->user_loss) {
        dc_tensor *l = m->user_loss(c, out, y, m->user_loss_data);
        if (!l) return dc_last_status() ? NULL : dc_error_null(DC_ERR_ARG, "the user loss returned NULL without an error");
        if (l->numel != 1) return dc_error_null(DC_ERR_SHAPE, "the user loss returned %s, not one value", dc_tshape(l, 0));
        return l;
    }
    const loss_entry *e = &losses[m->loss];
    int64_t classes = dc_obj_classes(m);
    if (e->class_rows && out->numel / out->shape[0] > classes) {
        /* a prediction per step: the cross-entropy of every step, as rows of [N T, classes] */
        out = dc_reshape(c, out, 2, (int64_t[]){-1, classes});
        y = e->sparse ? dc_reshape(c, y, 1, (int64_t[]){-1}) : dc_reshape(c, y, 2, (int64_t[]){-1, classes});
        if (!out || !y) return NULL;
    }
    return m->fusion != DC_FUSE_NONE ? e->fused(c, out, y) : e->op(c, out, y);
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
            if (dc_obj_sparse_labels(m, K, yc)) {
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

double dc_obj_metric_value(const dc_model *m, const dc_acc *a, int i) {
    if (m->metrics[i] == DC_METRIC_ACCURACY) return a->rows ? a->metric[i] / (double)a->rows : 0;
    return a->elems ? a->metric[i] / (double)a->elems : 0;
}
