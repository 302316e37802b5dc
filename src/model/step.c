/* The training step: forward and loss on a staged batch, backward into the gradient buffer, the
 * finiteness check and the optimiser's update; and dc_model_zero_grad for hand-written loops. */
#include "step.h"

#include <math.h>
#include <string.h>

/* True if no element is NaN or Inf: an integer test on the exponent bits, which vectorises. */
DC_CLONES static bool all_finite(const dc_model *m) {
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

/* Zeroes gbuf, each thread the rows its GEMM slices accumulate into (so the pages stay where
 * the backward pass touches them). */
static void clear_grads(dc_model *m) {
    float *g = m->gbuf;
    DC_FOR_PART(i, m->ptotal, m->part, m->npart, g[i] = 0;);
}

dc_status dc_model_zero_grad(dc_model *m) {
    if (!m) return dc_error(DC_ERR_ARG, "dc_model_zero_grad: model is NULL");
    if (!m->built || !m->gbuf) return dc_error(DC_ERR_STATE, "dc_model_zero_grad: the model is not built (dc_model_build or compile)");
    clear_grads(m);
    for (int i = 0; i < m->np; i++)
        if (m->gtens[i]) m->ptens[i]->grad_stale = false;
    return DC_OK;
}

/* Marks every parameter's gradient as holding nothing yet: backward's first writer of each
 * stores its whole gradient (a Dense weight's product with beta 0) where zeroing the buffer first
 * would have cost a pass over it. */
static void mark_grads_stale(dc_model *m) {
    for (int i = 0; i < m->np; i++)
        if (m->gtens[i]) m->ptens[i]->grad_stale = true;
}

/* Zeroes the gradients backward did not reach (a frozen layer's, a branch the loss does not
 * use), so the whole buffer holds the step's gradient. */
static void zero_stale_grads(dc_model *m) {
    for (int i = 0; i < m->np; i++)
        if (m->gtens[i] && m->ptens[i]->grad_stale) {
            memset(m->gtens[i]->data, 0, (size_t)m->gtens[i]->numel * sizeof(float));
            m->ptens[i]->grad_stale = false;
        }
}

/* Whether a layer is frozen (dc_layer_set_trainable, which may change between steps). */
static bool any_frozen(const dc_model *m) {
    for (int i = 0; i < m->nlayers; i++)
        if (m->layers[i]->frozen) return true;
    return false;
}

/* The weights of frozen layers and the optimiser's state for them, copied aside before the step
 * (dir 0) and back after it (dir 1): the update rules run over the whole flat buffer, weight
 * decay and momentum included, and this leaves those segments bit-identical. Segments follow the
 * layers' trainable declarations in order. buf: NULL counts the floats needed. */
static int64_t keep_frozen(const dc_model *m, float *buf, int dir) {
    const dc_optimizer *o = m->opt;
    int64_t used = 0;
    for (int i = 0, s = 0; i < m->nlayers; i++) {
        const dc_layer *l = m->layers[i];
        for (int k = 0; k < l->nparams && s < m->npart; k++) {
            if (!l->decl[k].trainable) continue;
            const dc_part_seg *sg = &m->part[s++];
            if (!l->frozen) continue;
            float *src[1 + DC_OPT_MAX_STATE] = {m->pbuf + sg->off};
            for (int q = 0; q < o->nstate; q++) src[1 + q] = o->state[q] + sg->off;
            for (int q = 0; q <= o->nstate; q++, used += sg->len)
                if (buf) memcpy(dir ? src[q] : buf + used, dir ? buf + used : src[q], (size_t)sg->len * sizeof(float));
        }
    }
    return used;
}

/* Forward and backward on n rows already staged in xbuf/ybuf: the mean loss of those rows and its
 * gradient in gbuf. sync: the communicator of layers that synchronise across ranks inside the step
 * (NULL when none do), this rank weighing w of the global batch. */
dc_status dc_step_grad(dc_model *m, const dc_inputs *x, const dc_tensor *y, int64_t n, step_out *so, const dc_comm *sync,
                           float w) {
    dc_ctx *c = m->ctx;
    dc_ctx_reset(c);
    dc_ctx_set_grad(c, true);
    dc_tensor *xb[DC_MODEL_MAX_INPUTS], *yb = dc_stage_view(m, m->ybuf, y, n);
    if (!yb || dc_stage_inputs(m, x, n, xb)) return DC_ERR_NOMEM;
    const uint8_t *omask = NULL;
    dc_tensor *out = dc_model_run_ex(m, c, xb, NULL, true, m->fusion != DC_FUSE_NONE, sync, w, &omask);
    if (!out) return dc_last_status() ? dc_last_status() : DC_ERR_STATE;
    m->training_loss = true; /* class weights weigh training losses only (Keras's class_weight) */
    dc_tensor *loss = dc_obj_loss(m, c, out, omask, yb);
    m->training_loss = false;
    if (!loss) return dc_last_status() ? dc_last_status() : DC_ERR_STATE;
    so->loss = loss->data[0];
    so->out = out;
    so->yb = yb;
    dc_status s = isfinite(so->loss) ? DC_OK : dc_error(DC_ERR_NUMERIC, "the loss became non-finite (%g)", (double)so->loss);
    if (sync) {
        /* backward sums over the ranks too: a rank whose loss failed must not leave the others
         * waiting there. Each learns whether any failed; one that did not returns without a
         * gradient, and the check point after the step reports the failing rank's message. */
        double bad = s ? 1 : 0;
        dc_status e = sync->sum_d(&bad, 1);
        if (e) return e;
        if (bad > 0 && !s) return DC_OK;
    }
    if (s) return s;
    mark_grads_stale(m); /* backward stores or adds each gradient; what it leaves is zeroed after */
    /* every layer frozen: nothing to differentiate, the gradient stays zero and the update skips all */
    dc_status e = !loss->requires_grad && any_frozen(m) ? DC_OK : dc_backward(c, loss);
    zero_stale_grads(m);
    return e;
}

/* The optimiser step on the gradient in gbuf, then the metrics of the step's n rows (none if so
 * is NULL or n is 0). */
dc_status dc_step_update(dc_model *m, const step_out *so, int64_t n, dc_acc *a) {
    if (!all_finite(m)) return nonfinite_grad(m);
    float *kept = NULL;
    dc_status s = DC_OK;
    if (any_frozen(m)) { /* the state exists before the first step, so that it can be kept */
        if ((s = dc_optimizer_prepare(m->opt, m->ptotal))) return s;
        int64_t nk = keep_frozen(m, NULL, 0);
        if (nk && !(kept = dc_alloc((size_t)nk * sizeof(float)))) return DC_ERR_NOMEM;
        if (kept) keep_frozen(m, kept, 0);
    }
    s = dc_optimizer_step_part(m->opt, m->pbuf, m->gbuf, m->ptotal, m->part, m->npart);
    if (kept) {
        if (!s) keep_frozen(m, kept, 1);
        dc_free(kept);
    }
    if (s || !a || !so || n == 0) return s;
    a->loss += (double)so->loss * (double)n;
    return dc_obj_add_metrics(m, m->ctx, so->out, so->yb, a);
}

/* One optimisation step on rows already staged in xbuf/ybuf. */
static dc_status step_staged(dc_model *m, const dc_inputs *x, const dc_tensor *y, int64_t n, float *loss_out, dc_acc *a) {
    step_out so = {0};
    dc_status s = dc_step_grad(m, x, y, n, &so, NULL, 1.0f);
    if (loss_out && so.out) *loss_out = so.loss;
    return s ? s : dc_step_update(m, &so, n, a);
}

dc_status dc_model_train_step_n(dc_model *m, int nx, const dc_tensor *const *xs, const dc_tensor *y, float *loss) {
    if (!xs) return dc_error(DC_ERR_ARG, "train_step: x is NULL");
    dc_inputs x = dc_make_inputs(nx, xs);
    dc_status s = dc_check_xy(m, &x, y, "train_step");
    if (s || (s = dc_ensure_staging(m, &x, y, y->shape[0]))) return s;
    dc_gather_all(m, &x, y, NULL, 0, y->shape[0]);
    return step_staged(m, &x, y, y->shape[0], loss, NULL);
}

dc_status dc_model_train_step(dc_model *m, const dc_tensor *x, const dc_tensor *y, float *loss) {
    return dc_model_train_step_n(m, 1, &x, y, loss);
}

