/* The trainer: the fit loop over epochs and batches with validation, its progress display, the
 * learning-rate schedule's epoch end and the callbacks' hooks. The step itself (forward, loss,
 * backward, the optimiser's update) is step.c's. In a data-parallel run each rank takes its part
 * of every batch and the gradients are summed through the communicator. */
#include "fit.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

dc_fit_opts dc_fit_defaults(void) {
    dc_fit_opts o;
    memset(&o, 0, sizeof o);
    o.epochs = 1;
    o.batch_size = 32;
    o.shuffle = true;
    o.seed = 42;
    o.verbose = 1;
    o.initial_epoch = -1; /* continue after the epochs the model has done */
    return o;
}

bool dc_callback_is_writer(void) {
    const dc_comm *comm = dc_comm_active();
    return !comm || comm->rank == 0;
}

void dc_callback_free(dc_callback *cb) {
    if (cb && cb->free) cb->free(cb);
}

const dc_history *dc_model_history(const dc_model *m) { return m ? m->hist : NULL; }
int dc_model_epoch(const dc_model *m) { return m ? m->epoch : 0; }

/* The shuffle and dropout streams of epoch ep: functions of the seed, the epoch and the rank only,
 * so a resumed or continued run draws what an uninterrupted one would have. Every rank shuffles
 * alike; each draws its own dropout masks (rank 0 those of a one-process run). */
static void epoch_rngs(uint64_t seed, int ep, int rank, dc_rng *shuf, dc_rng *drop) {
    dc_rng_seed(shuf, seed + 0x9e3779b97f4a7c15ull * (uint64_t)(ep + 1));
    dc_rng_seed(drop, (seed ^ 0x5eedd40f0ull) + 0xd1b54a32d192ed03ull * (uint64_t)(ep + 1) + 0x2545f4914f6cdd1dull * (uint64_t)rank);
}

static dc_status record(dc_history *h, int ep, const dc_model *m, const double *tr, const double *va, double lr, double secs) {
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
    if (!s) s = dc_history_record(h, ep, "lr", lr);
    if (!s) s = dc_history_record(h, ep, "seconds", secs);
    return s;
}


/* The callbacks' hooks, in the order given; the first error stops the rest. */
static dc_status batch_end(dc_model *m, const fit_run *f, int ep, int64_t b, double loss, bool *stop) {
    for (int i = 0; i < f->o.ncallbacks; i++) {
        dc_callback *cb = f->o.callbacks[i];
        dc_status s = cb && cb->on_batch_end ? cb->on_batch_end(cb, m, &f->o, ep, b, loss, stop) : DC_OK;
        if (s) return s;
    }
    return DC_OK;
}

static dc_status epoch_end(dc_model *m, const fit_run *f, int ep, bool *stop) {
    for (int i = 0; i < f->o.ncallbacks; i++) {
        dc_callback *cb = f->o.callbacks[i];
        dc_status s = cb && cb->on_epoch_end ? cb->on_epoch_end(cb, m, &f->o, ep, stop) : DC_OK;
        if (s) return s;
    }
    return DC_OK;
}

static dc_status train_end(dc_model *m, const fit_run *f) {
    for (int i = 0; i < f->o.ncallbacks; i++) {
        dc_callback *cb = f->o.callbacks[i];
        dc_status s = cb && cb->on_train_end ? cb->on_train_end(cb, m, &f->o) : DC_OK;
        if (s) return s;
    }
    return DC_OK;
}

/* A stop asked on any rank stops every rank (a collective call in a data-parallel fit). */
static dc_status agree_stop(const dc_comm *comm, bool *stop) {
    if (!comm) return DC_OK;
    int64_t v = *stop, lo, hi;
    dc_status s = comm->minmax(&v, 1, &lo, &hi);
    if (!s) *stop = hi != 0;
    return s;
}

/* ---- setup -------------------------------------------------------------------------------- */

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

/* The seed of epoch ep's augmentations (a dataset's random transforms): a function of the fit's
 * seed and the epoch only, as the shuffle's. */
static uint64_t augment_seed(uint64_t seed, int ep) { return (seed ^ 0xa0761d6478bd642full) + 0xe7037ed1a0b428dbull * (uint64_t)(ep + 1); }

/* Asks the feed for this rank's parts of the next batches of the epoch's order (from rows
 * f->ask on), as many as it has room for: they are gathered while the current one trains. */
static void request_batches(fit_run *f, int ep) {
    for (; f->ask < f->ntr && dc_feed_room(f->feed) > 0; f->ask += f->batch) {
        int64_t n = DC_MIN(f->batch, f->ntr - f->ask), lo, hi;
        dc_my_part(f->ask, f->ask + n, &lo, &hi);
        dc_feed_submit(f->feed, f->idx + lo, 0, hi - lo, true, augment_seed(f->seed, ep));
    }
}

/* Stages the next batch the feed was asked for, then asks for more. */
static dc_status take_batch(dc_model *m, fit_run *f, int ep) {
    float *bufs[DC_DATASET_MAX_PARTS];
    dc_status s = dc_feed_take(f->feed, bufs);
    dc_stage_borrow(m, f->x.n, bufs, true);
    if (!s) request_batches(f, ep);
    return s;
}

/* The feed stopped and the model's own staging buffers back. */
static void end_feed(dc_model *m, fit_run *f) {
    if (!f->feed) return;
    dc_feed_free(f->feed);
    f->feed = NULL;
    dc_stage_restore(m, &f->keep);
}

/* One epoch of optimisation steps, its loss and metrics summed into a and the steps taken in
 * *done (fewer than the epoch's when a batch callback sets *stop). Of every global batch of n
 * rows this rank takes its contiguous part (all of it in one process), weighs its mean gradient
 * by its share of the rows, and the sum over the ranks is the gradient of the whole batch. A
 * collective call: a rank's failure reaches all at the next step's check point. */
static dc_status train_epoch(dc_model *m, fit_run *f, int ep, dc_acc *a, fit_clock *clk, progress *pg, bool *stop, int64_t *done) {
    dc_rng shuf;
    epoch_rngs(f->seed, ep, f->comm ? f->comm->rank : 0, &shuf, &m->rng);
    for (int64_t i = 0; i < f->ntr; i++) f->idx[i] = i;
    if (f->o.shuffle) dc_rng_shuffle(&shuf, f->idx, f->ntr);
    dc_status s = DC_OK;
    *done = 0;
    f->ask = 0;
    if (f->feed) request_batches(f, ep);
    for (int64_t r = 0, b = 0; r < f->ntr && !*stop; r += f->batch, b++) {
        double t0 = dc_now();
        int64_t n = DC_MIN(f->batch, f->ntr - r), lo, hi;
        dc_my_part(r, r + n, &lo, &hi);
        int64_t nr = hi - lo;
        step_out so = {0};
        if (!s && f->feed) s = step_error(take_batch(m, f, ep), ep, b);
        if (!s && nr > 0) {
            if (!f->feed) dc_gather_all(m, &f->x, f->y, f->idx, lo, nr);
            s = dc_step_grad(m, &f->x, f->y, nr, &so, f->sync ? f->comm : NULL, (float)nr / (float)n);
            if (!s && nr != n) {
                float w = (float)nr / (float)n;
                for (int64_t i = 0; i < m->ptotal; i++) m->gbuf[i] *= w;
            }
            step_error(s, ep, b);
        } else if (!s) {
            memset(m->gbuf, 0, (size_t)m->ptotal * sizeof(float));
        }
        double t1 = dc_now();
        if ((s = dc_comm_agree(f->comm, s, "fit"))) return s;
        double t2 = dc_now();
        s = dc_comm_sum_f(f->comm, m->gbuf, m->ptotal);
        double t3 = dc_now();
        if (!s) s = dc_step_update(m, nr ? &so : NULL, nr, a);
        step_error(s, ep, b);
        clk->wait += t2 - t1;
        clk->reduce += t3 - t2;
        clk->step += dc_now() - t0;
        clk->steps++;
        if (!s) *done = b + 1;
        if (f->batch_cbs) { /* every rank calls them: the stop is agreed after each */
            if (!s && (s = batch_end(m, f, ep, b, nr ? (double)so.loss : NAN, stop)))
                dc_error_prefix("fit: epoch %d, batch %lld", ep + 1, (long long)b + 1);
            dc_status e = agree_stop(f->comm, stop);
            if (!s) s = e;
        }
        if (!s) dc_progress_batch(pg, m, b + 1, a);
    }
    dc_feed_settle(f->feed); /* the next batches of an epoch cut short are not trained */
    return dc_comm_agree(f->comm, s, "fit");
}

static void print_clock(const dc_model *m, const fit_clock *k) {
    if (!k->steps || !dc_callback_is_writer()) return;
    const char *e = getenv("DEEPC_DIST_STATS");
    if (!e || !*e || strcmp(e, "0") == 0) return;
    double n = (double)k->steps, step = 1e3 * k->step / n;
    fprintf(stderr,
            "dist: ranks=%d steps=%lld step_ms=%.3f allreduce_ms=%.3f allreduce_pct=%.1f wait_ms=%.3f wait_pct=%.1f grad_mb=%.2f\n",
            dc_comm_active() ? dc_comm_active()->size : 1, (long long)k->steps, step, 1e3 * k->reduce / n, 100 * k->reduce / k->step,
            1e3 * k->wait / n, 100 * k->wait / k->step, (double)m->ptotal * 4 / 1048576.0);
}

/* The fit on tensors (ds NULL) or on datasets (xs and y then describe train's rows). */
static dc_status fit(dc_model *m, int nx, const dc_tensor *const *xs, const dc_tensor *y, dc_dataset *ds, dc_dataset *vds,
                     const dc_fit_opts *opts, dc_history **history) {
    if (history) *history = NULL;
    fit_run f;
    memset(&f, 0, sizeof f);
    f.comm = dc_comm_active();
    f.ds = ds;
    f.vds = vds;
    dc_status s = DC_OK;
    if (ds) { /* shape-only tensors describe the datasets' rows to the checks and the steps */
        if (!(s = dc_fit_dataset_inputs(m, ds, f.like, &f.x, "fit")) && vds)
            s = dc_fit_dataset_inputs(m, vds, f.vlike, &f.vxs, "fit (validation data)");
        nx = f.x.n;
        xs = f.x.t;
        y = &f.like[nx];
    }
    s = dc_comm_agree(f.comm, s ? s : dc_fit_setup(m, nx, xs, y, opts, &f), "fit");
    if (!s) s = dc_fit_check_ranks(&f);
    if (!s) s = dc_fit_check_sync_bn(m, &f);
    /* every rank starts from rank 0's weights */
    if (!s && f.comm && !(s = f.comm->bcast_f(m->pbuf, m->ptotal))) s = f.comm->bcast_f(m->sbuf, m->stotal);
    if (s) {
        end_feed(m, &f);
        dc_free(f.idx);
        return s;
    }
    /* the weights reach the objective through the model for this fit: the sample weights follow
     * the rows of y wherever they are staged, the class weights weigh training steps only */
    m->sample_weight = f.o.sample_weight;
    m->sw_y = y;
    m->class_weight = f.o.class_weight;
    double tr[1 + DC_MAX_METRICS], va[1 + DC_MAX_METRICS];
    fit_clock clk = {0};
    progress pg;
    dc_progress_init(&pg, &f);
    bool stop = false;
    for (int ep = f.start; ep < f.o.epochs && !s && !stop; ep++) {
        double t0 = dc_now();
        dc_acc a;
        memset(&a, 0, sizeof a);
        int64_t done = 0;
        dc_progress_epoch_begin(&pg, ep, f.o.epochs);
        if ((s = train_epoch(m, &f, ep, &a, &clk, &pg, &stop, &done)) || (s = dc_reduce_acc(m, &a))) break;
        tr[0] = a.loss / (double)a.rows;
        for (int i = 0; i < m->nmetrics; i++) tr[1 + i] = dc_obj_metric_value(m, &a, i);
        /* batch norm's running statistics: rank 0's on every rank */
        if (f.comm && m->stotal && (s = f.comm->bcast_f(m->sbuf, m->stotal))) break;
        if (f.vy) s = dc_eval_rows_ds(m, f.vds, &f.vxs, f.vy, 0, f.vy->shape[0], f.o.batch_size, va, "fit");
        else if (f.nval) s = dc_eval_rows(m, &f.x, f.y, f.ntr, f.N, f.o.batch_size, va, "fit");
        if (s) break;
        double secs = dc_now() - t0, lr = dc_optimizer_current_lr(m->opt);
        dc_progress_epoch_end(&pg, m, ep, f.o.epochs, done, secs, tr, f.has_val ? va : NULL, dc_optimizer_schedule(m->opt) ? lr : NAN);
        s = record(m->hist, ep, m, tr, f.has_val ? va : NULL, lr, secs);
        /* the schedule's epoch end (ReduceLROnPlateau) before the callbacks, so that a checkpoint
         * written by one holds the schedule's state after this epoch */
        if (!s) s = dc_optimizer_epoch_end(m->opt, f.has_val ? va[0] : tr[0]);
        if (!s) {
            m->epoch = ep + 1;
            s = epoch_end(m, &f, ep, &stop);
        }
        if (!(s = dc_comm_agree(f.comm, s, "fit"))) s = agree_stop(f.comm, &stop);
    }
    if (s) dc_progress_abort(&pg);
    else s = dc_comm_agree(f.comm, train_end(m, &f), "fit");
    print_clock(m, &clk);
    end_feed(m, &f);
    dc_free(f.idx);
    m->sample_weight = m->sw_y = m->class_weight = NULL;
    m->batch_weighted = false;
    if (history && !(*history = dc_history_clone(m->hist)) && !s) s = DC_ERR_NOMEM;
    return s;
}

dc_status dc_model_fit_n(dc_model *m, int nx, const dc_tensor *const *xs, const dc_tensor *y, const dc_fit_opts *opts,
                         dc_history **history) {
    return fit(m, nx, xs, y, NULL, NULL, opts, history);
}

dc_status dc_model_fit_dataset(dc_model *m, dc_dataset *train, dc_dataset *val, const dc_fit_opts *opts, dc_history **history) {
    if (history) *history = NULL;
    if (!train) return dc_error(DC_ERR_ARG, "fit: the training dataset is NULL");
    return fit(m, 0, NULL, NULL, train, val, opts, history);
}

dc_status dc_model_fit(dc_model *m, const dc_tensor *x, const dc_tensor *y, const dc_fit_opts *opts, dc_history **history) {
    return dc_model_fit_n(m, 1, &x, y, opts, history);
}
