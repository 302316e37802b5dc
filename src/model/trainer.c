/* The trainer: the training step (forward, loss, backward, the optimiser's update), the fit
 * loop over epochs and batches with validation, and its callbacks. In a data-parallel run each
 * rank takes its part of every batch and the gradients are summed through the communicator. */
#include "history.h"
#include "step.h"

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

bool dc_callback_is_writer(void) {
    const dc_comm *comm = dc_comm_active();
    return !comm || comm->rank == 0;
}

void dc_callback_free(dc_callback *cb) {
    if (cb && cb->free) cb->free(cb);
}

const dc_history *dc_model_history(const dc_model *m) { return m ? m->hist : NULL; }
int dc_model_epoch(const dc_model *m) { return m ? m->epoch : 0; }

/* The callbacks' on_epoch_end hooks after epoch ep; *stop when one asks to end training. */
static dc_status epoch_end(dc_model *m, const dc_fit_opts *o, int ep, bool *stop) {
    for (int i = 0; i < o->ncallbacks; i++) {
        dc_callback *cb = o->callbacks[i];
        dc_status s = cb && cb->on_epoch_end ? cb->on_epoch_end(cb, m, o, ep, stop) : DC_OK;
        if (s) return s;
    }
    return DC_OK;
}

/* One fit's data and settings, decided before its first step. */
typedef struct fit_run {
    dc_fit_opts o;
    dc_inputs x, vxs;
    const dc_tensor *y, *vy;
    FILE *log;
    int64_t N, nval, ntr, batch;
    bool has_val;
    int start;
    uint64_t seed;
    int64_t *idx; /* the epoch's order of the training rows */
    const dc_comm *comm; /* the data-parallel run's communicator, NULL in one process */
    bool sync;    /* distributed, with layers that synchronise across ranks (BatchNormalization) */
} fit_run;

/* Where a fit's time goes, per step (DEEPC_DIST_STATS=1 prints it). */
typedef struct fit_clock {
    double step, wait, reduce;
    int64_t steps;
} fit_clock;

/* Checks the arguments and prepares f (after the callbacks' on_train_begin, which may restore a
 * checkpoint); on this rank only. */
static dc_status fit_setup(dc_model *m, int nx, const dc_tensor *const *xs, const dc_tensor *y, const dc_fit_opts *opts, fit_run *f) {
    if (!xs) return dc_error(DC_ERR_ARG, "fit: x is NULL");
    f->o = opts ? *opts : dc_fit_defaults();
    dc_fit_opts *o = &f->o;
    f->x = dc_make_inputs(nx, xs);
    f->y = y;
    dc_status s = dc_check_xy(m, &f->x, y, "fit");
    if (s) return s;
    if (o->epochs <= 0) return dc_error(DC_ERR_ARG, "fit: epochs must be positive, got %d", o->epochs);
    if (o->batch_size <= 0) return dc_error(DC_ERR_ARG, "fit: batch_size must be positive, got %lld", (long long)o->batch_size);
    if (!(o->validation_split >= 0 && o->validation_split < 1))
        return dc_error(DC_ERR_ARG, "fit: validation_split %g is outside [0, 1)", (double)o->validation_split);
    const dc_tensor *const *val_x = o->val_xs ? o->val_xs : o->val_x ? &o->val_x : NULL;
    if ((val_x == NULL) != (o->val_y == NULL)) return dc_error(DC_ERR_ARG, "fit: give both val_x (or val_xs) and val_y, or neither");
    if (val_x) f->vxs = dc_make_inputs(nx, val_x);
    if (o->ncallbacks < 0 || (o->ncallbacks > 0 && !o->callbacks))
        return dc_error(DC_ERR_ARG, "fit: %d callbacks given%s", o->ncallbacks, o->ncallbacks > 0 ? " but the array is NULL" : "");
    if (val_x && (s = dc_check_xy(m, &f->vxs, o->val_y, "fit (validation data)"))) return s;
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
    f->ntr = f->N - f->nval;
    f->batch = DC_MIN(o->batch_size, f->ntr);
    for (int i = 0; i < o->ncallbacks; i++) {
        dc_callback *cb = o->callbacks[i];
        if (cb && cb->on_train_begin && (s = cb->on_train_begin(cb, m, o))) return s;
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
    if ((s = dc_ensure_staging(m, &f->x, y, f->batch))) return s;
    f->idx = dc_alloc((size_t)f->ntr * sizeof *f->idx);
    if (!m->hist) m->hist = dc_history_new();
    if (!f->idx || !m->hist) return DC_ERR_NOMEM;
    m->resuming = false;
    m->fit_seed = f->seed;
    m->fit_rows = f->ntr;
    m->fit_batch = f->batch;
    return DC_OK;
}

/* Every rank's fit must walk the same epochs and batches: their counts agree, or all stop. */
static dc_status check_ranks_agree(const fit_run *f) {
    if (!f->comm) return DC_OK;
    const char *what[] = {"the training rows", "the batch size", "the epochs", "the first epoch (resumed from a checkpoint)", "the seed",
                          "the validation rows", "shuffle"};
    int64_t v[] = {f->ntr, f->batch, f->o.epochs, f->start, (int64_t)(f->seed & 0x7fffffffffffffffull),
                   f->vy ? f->vy->shape[0] : f->nval, f->o.shuffle};
    int64_t lo[DC_ARRAY_LEN(v)], hi[DC_ARRAY_LEN(v)];
    dc_status s = f->comm->minmax(v, (int)DC_ARRAY_LEN(v), lo, hi);
    for (size_t i = 0; !s && i < DC_ARRAY_LEN(v); i++)
        if (lo[i] != hi[i])
            s = dc_error(DC_ERR_ARG, "fit: the ranks disagree on %s (from %lld to %lld); every rank must pass the same data and options",
                         what[i], (long long)lo[i], (long long)hi[i]);
    return s;
}

/* Synchronised batch statistics are collectives inside every step's forward and backward: every
 * rank must take a step on rows of its own, so each batch, the last one too, needs a row per rank. */
static dc_status check_sync_bn(const dc_model *m, fit_run *f) {
    for (int i = 0; i < m->nlayers && f->comm; i++) { /* layers whose type has the option, switched on */
        const dc_layer_type *t = m->layers[i]->type;
        double on = 0;
        if (dc_field_find(t->fields, t->nfields, "synchronized") && dc_layer_get_field(m->layers[i], "synchronized", &on) == 1)
            f->sync |= on != 0;
    }
    if (!f->sync) return DC_OK;
    int64_t last = f->ntr % f->batch ? f->ntr % f->batch : f->batch, least = DC_MIN(f->batch, last), R = f->comm->size;
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
static dc_status train_epoch(dc_model *m, fit_run *f, int ep, dc_acc *a, fit_clock *clk) {
    dc_rng shuf;
    epoch_rngs(f->seed, ep, f->comm ? f->comm->rank : 0, &shuf, &m->rng);
    for (int64_t i = 0; i < f->ntr; i++) f->idx[i] = i;
    if (f->o.shuffle) dc_rng_shuffle(&shuf, f->idx, f->ntr);
    dc_status s = DC_OK;
    for (int64_t r = 0, b = 0; r < f->ntr; r += f->batch, b++) {
        double t0 = dc_now();
        int64_t n = DC_MIN(f->batch, f->ntr - r), lo, hi;
        dc_my_part(r, r + n, &lo, &hi);
        int64_t nr = hi - lo;
        step_out so = {0};
        if (!s && nr > 0) {
            dc_gather_all(m, &f->x, f->y, f->idx, lo, nr);
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
    }
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

dc_status dc_model_fit_n(dc_model *m, int nx, const dc_tensor *const *xs, const dc_tensor *y, const dc_fit_opts *opts,
                         dc_history **history) {
    if (history) *history = NULL;
    fit_run f;
    memset(&f, 0, sizeof f);
    f.comm = dc_comm_active();
    dc_status s = dc_comm_agree(f.comm, fit_setup(m, nx, xs, y, opts, &f), "fit");
    if (!s) s = check_ranks_agree(&f);
    if (!s) s = check_sync_bn(m, &f);
    /* every rank starts from rank 0's weights */
    if (!s && f.comm && !(s = f.comm->bcast_f(m->pbuf, m->ptotal))) s = f.comm->bcast_f(m->sbuf, m->stotal);
    if (s) {
        dc_free(f.idx);
        return s;
    }
    double tr[1 + DC_MAX_METRICS], va[1 + DC_MAX_METRICS];
    fit_clock clk = {0};
    bool stop = false;
    for (int ep = f.start; ep < f.o.epochs && !s && !stop; ep++) {
        double t0 = dc_now();
        dc_acc a;
        memset(&a, 0, sizeof a);
        if ((s = train_epoch(m, &f, ep, &a, &clk)) || (s = dc_reduce_acc(m, &a))) break;
        tr[0] = a.loss / (double)a.rows;
        for (int i = 0; i < m->nmetrics; i++) tr[1 + i] = dc_obj_metric_value(m, &a, i);
        /* batch norm's running statistics: rank 0's on every rank */
        if (f.comm && m->stotal && (s = f.comm->bcast_f(m->sbuf, m->stotal))) break;
        if (f.vy) s = dc_eval_rows(m, &f.vxs, f.vy, 0, f.vy->shape[0], f.o.batch_size, va, "fit");
        else if (f.nval) s = dc_eval_rows(m, &f.x, f.y, f.ntr, f.N, f.o.batch_size, va, "fit");
        if (s) break;
        double secs = dc_now() - t0;
        if (f.o.verbose && dc_callback_is_writer()) print_epoch(f.log, m, ep, f.o.epochs, secs, tr, f.has_val ? va : NULL);
        s = record(m->hist, ep, m, tr, f.has_val ? va : NULL, secs);
        if (!s) {
            m->epoch = ep + 1;
            s = epoch_end(m, &f.o, ep, &stop);
        }
        s = dc_comm_agree(f.comm, s, "fit");
    }
    print_clock(m, &clk);
    dc_free(f.idx);
    if (history && !(*history = dc_history_clone(m->hist)) && !s) s = DC_ERR_NOMEM;
    return s;
}

dc_status dc_model_fit(dc_model *m, const dc_tensor *x, const dc_tensor *y, const dc_fit_opts *opts, dc_history **history) {
    return dc_model_fit_n(m, 1, &x, y, opts, history);
}
