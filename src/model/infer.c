/* Inference: evaluate (loss and metrics, each rank scoring its part of the rows in a
 * data-parallel run) and predict, in chunks of rows that bound the memory of a forward pass. */
#include "infer.h"

#include "dataset.h"

#include <string.h>

dc_tensor *dc_model_forward_n(dc_model *m, dc_ctx *c, int nx, dc_tensor *const *x, bool training) {
    if (!m || !c || !x) return dc_error_null(DC_ERR_ARG, "dc_model_forward: model, context or input is NULL");
    if (!m->built) return dc_error_null(DC_ERR_STATE, "dc_model_forward: the model is not built");
    if (dc_check_inputs(m, nx, (const dc_tensor *const *)x, "forward")) return NULL;
    return dc_model_run(m, c, x, training, false);
}

dc_tensor *dc_model_forward(dc_model *m, dc_ctx *c, dc_tensor *x, bool training) { return dc_model_forward_n(m, c, 1, &x, training); }

/* Inference needs no batch statistics (batch norm uses its running ones), so its results depend
 * on the batch size only by float rounding; it runs in chunks of at most this many rows to bound
 * the memory that one forward pass holds. */
#define INFER_CHUNK 256

/* The loss and metrics of n rows staged in the model's buffers, added to a. */
static dc_status eval_staged(dc_model *m, const dc_inputs *x, const dc_tensor *y, int64_t n, dc_acc *a) {
    dc_ctx *c = m->ctx;
    dc_threads_tick(DC_TICK_INFER);
    dc_ctx_reset(c);
    dc_ctx_set_grad(c, false);
    dc_tensor *xb[DC_MODEL_MAX_INPUTS], *yb = dc_stage_view(m, m->ybuf, y, n);
    const uint8_t *omask = NULL;
    dc_tensor *out = yb && !dc_stage_inputs(m, x, n, xb)
                         ? dc_model_run_ex(m, c, xb, NULL, false, m->fusion != DC_FUSE_NONE, NULL, 1.0f, &omask)
                         : NULL;
    dc_tensor *loss = out ? dc_obj_loss(m, c, out, omask, yb) : NULL;
    dc_status s = loss ? dc_obj_add_metrics(m, c, out, yb, a) : dc_last_status() ? dc_last_status() : DC_ERR_STATE;
    if (!s) a->loss += (double)loss->data[0] * (double)n;
    return s;
}

/* Sums of the loss and metrics over rows [r0, r1) into a. */
static dc_status eval_local(dc_model *m, const dc_inputs *x, const dc_tensor *y, int64_t r0, int64_t r1, int64_t batch, dc_acc *a) {
    batch = DC_MIN(batch, INFER_CHUNK);
    dc_status s = dc_ensure_staging(m, x, y, batch);
    if (s) return s;
    for (int64_t r = r0; r < r1 && !s; r += batch) {
        int64_t n = DC_MIN(batch, r1 - r);
        dc_gather_all(m, x, y, NULL, r, n);
        s = eval_staged(m, x, y, n, a);
    }
    dc_ctx_reset(m->ctx);
    dc_ctx_set_grad(m->ctx, true);
    return s;
}

void dc_stage_keep(const dc_model *m, dc_staged_bufs *keep) {
    memcpy(keep->x, m->xbuf, sizeof keep->x);
    keep->y = m->ybuf;
}

void dc_stage_borrow(dc_model *m, int nx, float *const *bufs, bool with_y) {
    for (int i = 0; i < nx; i++) m->xbuf[i] = bufs[i];
    if (with_y) m->ybuf = bufs[nx];
    m->batch_weighted = false;
}

void dc_stage_restore(dc_model *m, const dc_staged_bufs *keep) {
    memcpy(m->xbuf, keep->x, sizeof keep->x);
    m->ybuf = keep->y;
}

/* The same over rows [r0, r1) of a dataset (inputs then targets), described by xl and yl. */
static dc_status eval_ds_local(dc_model *m, dc_dataset *ds, const dc_inputs *xl, const dc_tensor *yl, int64_t r0, int64_t r1,
                               int64_t batch, dc_acc *a) {
    batch = DC_MIN(batch, INFER_CHUNK);
    if (r1 <= r0) return DC_OK;
    dc_feed *feed = dc_feed_new(ds, xl->n + 1, batch, dc_dataset_prefetching(ds));
    if (!feed) return dc_last_status() ? dc_last_status() : DC_ERR_NOMEM;
    dc_staged_bufs keep;
    dc_stage_keep(m, &keep);
    dc_status s = DC_OK;
    int64_t ask = dc_feed_fill(feed, r0, r1, batch);
    for (int64_t r = r0; r < r1 && !s; r += batch) {
        int64_t n = DC_MIN(batch, r1 - r);
        float *bufs[DC_DATASET_MAX_PARTS];
        s = dc_feed_take(feed, bufs);
        if (s) break;
        ask = dc_feed_fill(feed, ask, r1, batch);
        dc_stage_borrow(m, xl->n, bufs, true);
        s = eval_staged(m, xl, yl, n, a);
    }
    dc_stage_restore(m, &keep);
    dc_feed_free(feed);
    dc_ctx_reset(m->ctx);
    dc_ctx_set_grad(m->ctx, true);
    return s;
}

/* The sums of a over every rank, into a on every rank. */
dc_status dc_reduce_acc(const dc_model *m, dc_acc *a) {
    const dc_comm *comm = dc_comm_active();
    if (!comm) return DC_OK;
    double v[3 + DC_MAX_METRICS];
    int k = 0;
    v[k++] = a->loss;
    v[k++] = (double)a->rows;
    v[k++] = (double)a->elems;
    for (int i = 0; i < m->nmetrics; i++) v[k++] = a->metric[i];
    dc_status s = comm->sum_d(v, k);
    if (s) return s;
    a->loss = v[0];
    a->rows = (int64_t)v[1];
    a->elems = (int64_t)v[2];
    for (int i = 0; i < m->nmetrics; i++) a->metric[i] = v[3 + i];
    return DC_OK;
}

/* Rank r's contiguous part [lo, hi) of rows [r0, r1): every rank's part when fit and evaluate
 * are distributed, else all of them. */
void dc_my_part(int64_t r0, int64_t r1, int64_t *lo, int64_t *hi) {
    const dc_comm *comm = dc_comm_active();
    int64_t n = r1 - r0, R = comm ? comm->size : 1, k = comm ? comm->rank : 0;
    *lo = r0 + n * k / R;
    *hi = r0 + n * (k + 1) / R;
}

/* Loss and metrics over rows [r0, r1) in inference mode, each rank scoring its part. A
 * collective call: who names the caller in the message of a rank's failure. */
dc_status dc_eval_rows(dc_model *m, const dc_inputs *x, const dc_tensor *y, int64_t r0, int64_t r1, int64_t batch,
                           double *results, const char *who) {
    return dc_eval_rows_ds(m, NULL, x, y, r0, r1, batch, results, who);
}

dc_status dc_eval_rows_ds(dc_model *m, dc_dataset *ds, const dc_inputs *x, const dc_tensor *y, int64_t r0, int64_t r1, int64_t batch,
                          double *results, const char *who) {
    dc_acc a;
    memset(&a, 0, sizeof a);
    int64_t lo, hi;
    dc_my_part(r0, r1, &lo, &hi);
    dc_status s = ds ? eval_ds_local(m, ds, x, y, lo, hi, batch, &a) : eval_local(m, x, y, lo, hi, batch, &a);
    s = dc_comm_agree(dc_comm_active(), s, who);
    if (s || (s = dc_reduce_acc(m, &a))) return s;
    results[0] = a.loss / (double)a.rows;
    for (int i = 0; i < m->nmetrics; i++) results[1 + i] = dc_obj_metric_value(m, &a, i);
    return DC_OK;
}

/* DC_OK if v (what) is the same on every rank, else an error naming the range. */
static dc_status same_on_ranks(int64_t v, const char *what, const char *who) {
    int64_t lo, hi;
    dc_status s = dc_comm_minmax(dc_comm_active(), &v, 1, &lo, &hi);
    if (s || lo == hi) return s;
    return dc_error(DC_ERR_ARG, "%s: the ranks disagree on %s (from %lld to %lld); every rank must pass the same data and options", who,
                    what, (long long)lo, (long long)hi);
}

dc_status dc_model_evaluate_n(dc_model *m, int nx, const dc_tensor *const *xs, const dc_tensor *y, int64_t batch_size,
                              double *results) {
    dc_inputs x = dc_make_inputs(xs ? nx : 0, xs);
    dc_status s = xs ? dc_check_xy(m, &x, y, "evaluate") : dc_error(DC_ERR_ARG, "evaluate: x is NULL");
    if (!s && batch_size <= 0) s = dc_error(DC_ERR_ARG, "evaluate: batch_size must be positive, got %lld", (long long)batch_size);
    if (!s && !results) s = dc_error(DC_ERR_ARG, "evaluate: results is NULL");
    if ((s = dc_comm_agree(dc_comm_active(), s, "evaluate")) || (s = same_on_ranks(y->shape[0], "the rows to evaluate", "evaluate"))) return s;
    return dc_eval_rows(m, &x, y, 0, y->shape[0], batch_size, results, "evaluate");
}

dc_status dc_model_evaluate(dc_model *m, const dc_tensor *x, const dc_tensor *y, int64_t batch_size, double *results) {
    return dc_model_evaluate_n(m, 1, &x, y, batch_size, results);
}

dc_tensor *dc_model_predict_n(dc_model *m, int nx, const dc_tensor *const *x, int64_t batch_size) {
    if (!m || !x) return dc_error_null(DC_ERR_ARG, "predict: model or x is NULL");
    if (!m->built) return dc_error_null(DC_ERR_STATE, "predict: the model is not built");
    if (batch_size <= 0) return dc_error_null(DC_ERR_ARG, "predict: batch_size must be positive, got %lld", (long long)batch_size);
    if (dc_check_inputs(m, nx, x, "predict")) return NULL;
    for (int i = 0; i < nx; i++)
        if (!dc_tensor_is_contiguous(x[i])) return dc_error_null(DC_ERR_ARG, "predict: x must be contiguous");
    batch_size = DC_MIN(batch_size, INFER_CHUNK);
    int64_t sh[DC_MAX_DIMS], N = x[0]->shape[0];
    int nd = dc_model_out_shape(m, sh + 1);
    sh[0] = N;
    dc_tensor *out = dc_tensor_new(nd + 1, sh);
    if (!out) return NULL;
    int64_t oc = dc_row_elems(out);
    dc_ctx *c = m->ctx;
    for (int64_t r = 0; r < N; r += batch_size) {
        int64_t n = DC_MIN(batch_size, N - r);
        dc_threads_tick(DC_TICK_INFER);
        dc_ctx_reset(c);
        dc_ctx_set_grad(c, false);
        dc_tensor *xb[DC_MODEL_MAX_INPUTS];
        bool ok = true;
        for (int i = 0; i < nx && ok; i++) {
            int64_t xs[DC_MAX_DIMS];
            memcpy(xs, x[i]->shape, sizeof xs);
            xs[0] = n;
            ok = (xb[i] = dc_tensor_arena_view(&c->arena, x[i]->data + r * dc_row_elems(x[i]), x[i]->ndim, xs, NULL)) != NULL;
        }
        dc_tensor *y = ok ? dc_model_run(m, c, xb, false, false) : NULL;
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


/* ---- datasets ------------------------------------------------------------------------------ */

/* Shape-only tensors of ds's first nx + with_y parts in like[], the inputs among them in *x;
 * the dataset must have nx + 1 parts (inputs then targets), or nx when with_y is false. */
static dc_status ds_inputs(const dc_model *m, dc_dataset *ds, bool with_y, dc_tensor *like, dc_inputs *x, const char *who) {
    if (!m || !ds) return dc_error(DC_ERR_ARG, "%s: model or dataset is NULL", who);
    int nx = dc_model_num_inputs(m), np = dc_dataset_num_parts(ds);
    if (with_y ? np != nx + 1 : np != nx && np != nx + 1)
        return dc_error(DC_ERR_ARG, "%s: %s has %d part%s; the model has %d input%s, so it needs %d (the inputs%s)", who,
                        dc_dataset_name(ds), np, np == 1 ? "" : "s", nx, nx == 1 ? "" : "s", nx + with_y,
                        with_y ? " then the targets" : ", a target part after them is ignored");
    dc_status s = dc_dataset_likes(ds, nx + with_y, like);
    const dc_tensor *xp[DC_MODEL_MAX_INPUTS];
    for (int i = 0; i < nx; i++) xp[i] = &like[i];
    *x = dc_make_inputs(nx, xp);
    return s;
}

dc_status dc_fit_dataset_inputs(const dc_model *m, dc_dataset *ds, dc_tensor *like, dc_inputs *x, const char *who) {
    dc_status s = ds_inputs(m, ds, true, like, x, who);
    if (!s && (s = dc_check_xy(m, x, &like[x->n], who))) dc_error_prefix("%s", dc_dataset_name(ds));
    return s;
}

dc_status dc_model_evaluate_dataset(dc_model *m, dc_dataset *ds, int64_t batch_size, double *results) {
    dc_tensor like[DC_DATASET_MAX_PARTS];
    dc_inputs x;
    dc_status s = dc_fit_dataset_inputs(m, ds, like, &x, "evaluate");
    if (!s && batch_size <= 0) s = dc_error(DC_ERR_ARG, "evaluate: batch_size must be positive, got %lld", (long long)batch_size);
    if (!s && !results) s = dc_error(DC_ERR_ARG, "evaluate: results is NULL");
    if ((s = dc_comm_agree(dc_comm_active(), s, "evaluate")) || (s = same_on_ranks(dc_dataset_rows(ds), "the rows to evaluate", "evaluate")))
        return s;
    return dc_eval_rows_ds(m, ds, &x, &like[x.n], 0, dc_dataset_rows(ds), batch_size, results, "evaluate");
}

dc_tensor *dc_model_predict_dataset(dc_model *m, dc_dataset *ds, int64_t batch_size) {
    dc_tensor like[DC_DATASET_MAX_PARTS];
    dc_inputs x;
    if (ds_inputs(m, ds, false, like, &x, "predict")) return NULL;
    if (!m->built) return dc_error_null(DC_ERR_STATE, "predict: the model is not built");
    if (batch_size <= 0) return dc_error_null(DC_ERR_ARG, "predict: batch_size must be positive, got %lld", (long long)batch_size);
    if (dc_check_inputs(m, x.n, x.t, "predict")) {
        dc_error_prefix("%s", dc_dataset_name(ds));
        return NULL;
    }
    batch_size = DC_MIN(batch_size, INFER_CHUNK);
    int64_t sh[DC_MAX_DIMS], N = dc_dataset_rows(ds);
    int nd = dc_model_out_shape(m, sh + 1);
    sh[0] = N;
    dc_tensor *out = dc_tensor_new(nd + 1, sh);
    dc_feed *feed = out ? dc_feed_new(ds, x.n, batch_size, dc_dataset_prefetching(ds)) : NULL;
    if (!feed) {
        dc_tensor_free(out);
        return NULL;
    }
    int64_t oc = dc_row_elems(out);
    dc_ctx *c = m->ctx;
    dc_staged_bufs keep;
    dc_stage_keep(m, &keep);
    dc_status s = DC_OK;
    int64_t ask = dc_feed_fill(feed, 0, N, batch_size);
    for (int64_t r = 0; r < N && !s; r += batch_size) {
        int64_t n = DC_MIN(batch_size, N - r);
        float *bufs[DC_DATASET_MAX_PARTS];
        if ((s = dc_feed_take(feed, bufs))) break;
        ask = dc_feed_fill(feed, ask, N, batch_size);
        dc_stage_borrow(m, x.n, bufs, false);
        dc_threads_tick(DC_TICK_INFER);
        dc_ctx_reset(c);
        dc_ctx_set_grad(c, false);
        dc_tensor *xb[DC_MODEL_MAX_INPUTS];
        dc_tensor *y = dc_stage_inputs(m, &x, n, xb) ? NULL : dc_model_run(m, c, xb, false, false);
        if (!y) s = dc_last_status() ? dc_last_status() : DC_ERR_STATE;
        else dc_copy_strided(out->data + r * oc, y);
    }
    dc_stage_restore(m, &keep);
    dc_feed_free(feed);
    dc_ctx_reset(c);
    dc_ctx_set_grad(c, true);
    if (s) {
        dc_tensor_free(out);
        return NULL;
    }
    return out;
}
