/* Checking the data handed to fit, evaluate and predict, and staging batches of it: the rows of
 * a batch are gathered into buffers the model keeps, which step tensors then view. */
#include "staging.h"

#include "objective.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

int64_t dc_row_elems(const dc_tensor *t) { return t->shape[0] ? t->numel / t->shape[0] : 0; }

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
    /* layers of features (Dense) are answered in features, others (token ids) in shapes */
    bool features = m->nlayers > (m->has_input ? 1 : 0) && (m->layers[m->has_input ? 1 : 0]->type->flags & DC_LAYER_LOGITS);
    if (in_ndim == 1 && x->ndim == 2 && features)
        return dc_error(DC_ERR_SHAPE, "%s: %s: expected input with %lld features, got %lld (input %s)", who, first,
                        (long long)in_shape[0], (long long)x->shape[1], dc_tshape(x, 0));
    return dc_error(DC_ERR_SHAPE, "%s: %s: expected input of shape %s, got %s", who, first, want, dc_tshape(x, 0));
}

/* nx tensors, one per input, with the same number of rows and the right shapes. */
dc_status dc_check_inputs(const dc_model *m, int nx, const dc_tensor *const *x, const char *who) {
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

dc_inputs dc_make_inputs(int n, const dc_tensor *const *x) {
    dc_inputs in = {n, {0}};
    for (int i = 0; i < n && i < DC_MODEL_MAX_INPUTS; i++) in.t[i] = x[i];
    return in;
}

/* Views the staged rows as step tensors shaped like x and y. */
dc_tensor *dc_stage_view(dc_model *m, float *buf, const dc_tensor *like, int64_t rows) {
    int64_t sh[DC_MAX_DIMS];
    memcpy(sh, like->shape, sizeof sh);
    sh[0] = rows;
    return dc_tensor_arena_view(&m->ctx->arena, buf, like->ndim, sh, NULL);
}

dc_status dc_ensure_staging(dc_model *m, const dc_inputs *x, const dc_tensor *y, int64_t batch) {
    int64_t need = batch * dc_row_elems(y);
    for (int i = 0; i < x->n; i++) need = DC_MAX(need, batch * dc_row_elems(x->t[i]));
    if (m->batch_cap >= need) return DC_OK;
    for (int i = 0; i < DC_MODEL_MAX_INPUTS; i++) {
        dc_free(m->xbuf[i]);
        m->xbuf[i] = NULL;
    }
    dc_free(m->ybuf);
    dc_free(m->wbuf);
    m->ybuf = dc_alloc((size_t)need * sizeof(float));
    m->wbuf = dc_alloc((size_t)need * sizeof(float)); /* a batch's sample weights: batch <= need */
    bool ok = m->ybuf != NULL && m->wbuf != NULL;
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
    int64_t w = dc_row_elems(t);
    DC_FOR_ROWS(r, n, n * w, {
        int64_t src = idx ? idx[start + r] : start + r;
        memcpy(dst + r * w, t->data + src * w, (size_t)w * sizeof(float));
    });
}

/* Stages rows (idx[start..start+n) or start..start+n) of every input and of y. */
void dc_gather_all(dc_model *m, const dc_inputs *x, const dc_tensor *y, const int64_t *idx, int64_t start, int64_t n) {
    for (int i = 0; i < x->n; i++) gather(m->xbuf[i], x->t[i], idx, start, n);
    gather(m->ybuf, y, idx, start, n);
    /* the rows' sample weights, when the targets are the ones a fit was given them for */
    m->batch_weighted = m->sample_weight && y == m->sw_y;
    if (m->batch_weighted) gather(m->wbuf, m->sample_weight, idx, start, n);
}

/* Step views of the staged inputs into xb[]. */
dc_status dc_stage_inputs(dc_model *m, const dc_inputs *x, int64_t n, dc_tensor **xb) {
    for (int i = 0; i < x->n; i++)
        if (!(xb[i] = dc_stage_view(m, m->xbuf[i], x->t[i], n))) return DC_ERR_NOMEM;
    return DC_OK;
}

dc_status dc_check_xy(const dc_model *m, const dc_inputs *x, const dc_tensor *y, const char *who) {
    if (!m || !y) return dc_error(DC_ERR_ARG, "%s: model, x or y is NULL", who);
    dc_status s = dc_model_check_layers(m, who); /* a layer that failed to construct */
    if (s) return s;
    if (!m->compiled) return dc_error(DC_ERR_STATE, "%s: compile the model first", who);
    s = dc_check_inputs(m, x->n, x->t, who);
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
    int64_t yc = dc_row_elems(y);
    if (!m->user_loss && m->loss == DC_LOSS_CTC) { /* label sequences, not one value per output */
        if (y->data && (s = dc_obj_check_ctc_targets(m, y, who))) return s;
    } else if (dc_obj_sparse_labels(m, K, yc)) {
        int64_t C = dc_obj_classes(m), steps = K / C;
        if (yc != steps) {
            if (steps == 1)
                return dc_error(DC_ERR_SHAPE, "%s: %s needs one class index per row, y is %s", who, dc_loss_name(m->loss),
                                dc_tshape(y, 0));
            return dc_error(DC_ERR_SHAPE, "%s: %s needs one class index per step (%lld per row), y is %s", who,
                            dc_loss_name(m->loss), (long long)steps, dc_tshape(y, 0));
        }
        for (int64_t r = 0; y->data && r < y->numel; r++) { /* a dataset's labels are checked batch by batch */
            float v = y->data[r];
            if (!(v >= 0 && v < (float)C) || v != floorf(v))
                return dc_error(DC_ERR_ARG, "%s: label %g at row %lld is not a class index in [0, %lld) (the model has %lld outputs)",
                                who, (double)v, (long long)(r / steps), (long long)C, (long long)C);
        }
    } else if (yc != K) {
        return dc_error(DC_ERR_SHAPE, "%s: the model outputs %lld values per row but y has %lld (y %s)", who, (long long)K,
                        (long long)yc, dc_tshape(y, 0));
    }
    for (int i = 0; i < x->n && y->data; i++) { /* shape-only tensors describe a dataset: no data to scan */
        char what[32];
        snprintf(what, sizeof what, x->n > 1 ? "x[%d]" : "x", i);
        if ((s = dc_check_finite(x->t[i], what))) return dc_error_prefix("%s", who), s;
    }
    if (y->data && (s = dc_check_finite(y, "y"))) return dc_error_prefix("%s", who), s;
    return DC_OK;
}

