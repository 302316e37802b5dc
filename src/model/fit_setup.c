/* The setup of a fit: its arguments checked, where it starts (continued, resumed or from
 * initial_epoch), its weights, and what every rank must agree on. */
#include "fit.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

/* The model's history cut to its first k epochs (none: no history) and its epoch count set to
 * k, for a fit that starts after epoch k. */
static dc_status keep_epochs(dc_model *m, int k) {
    m->epoch = k;
    if (!m->hist) return DC_OK;
    if (k == 0) {
        dc_history_free(m->hist);
        m->hist = NULL;
        return DC_OK;
    }
    if (dc_history_epochs(m->hist) <= k) return DC_OK;
    dc_history *h = dc_history_new();
    if (!h) return DC_ERR_NOMEM;
    for (int i = 0; i < dc_history_num_series(m->hist); i++) {
        const char *name = dc_history_series_name(m->hist, i);
        const double *v = dc_history_get(m->hist, name);
        for (int e = 0; e < k; e++)
            if ((e == 0 || !isnan(v[e])) && dc_history_record(h, e, name, v[e])) {
                dc_history_free(h);
                return DC_ERR_NOMEM;
            }
    }
    dc_history_free(m->hist);
    m->hist = h;
    return DC_OK;
}
/* Where this fit starts (f->start, f->seed), after the callbacks' on_train_begin, which may have
 * restored a checkpoint. */
static dc_status fit_start(dc_model *m, fit_run *f) {
    const dc_fit_opts *o = &f->o;
    bool resumed = m->resuming && o->initial_epoch == -1;
    f->seed = o->seed;
    if (resumed) {
        if (m->fit_rows != f->ntr || m->fit_batch != f->batch)
            return dc_error(DC_ERR_ARG, "fit: the checkpoint was written by a fit on %lld rows in batches of %lld; this one has %lld rows "
                            "in batches of %lld", (long long)m->fit_rows, (long long)m->fit_batch, (long long)f->ntr, (long long)f->batch);
        f->seed = m->fit_seed; /* the run being continued decides its random streams */
        f->start = m->epoch;
    } else if (o->initial_epoch == -1) {
        /* continue after the model's epochs (0 before any fit), training `epochs` more: a loop
         * of fit(epochs = 1) calls trains one epoch each and the history grows */
        f->start = m->epoch;
        if (f->o.epochs > INT32_MAX - f->start)
            return dc_error(DC_ERR_ARG, "fit: %d epochs after the model's %d overflow the epoch count", f->o.epochs, f->start);
        f->o.epochs += f->start;
    } else {
        f->start = o->initial_epoch;
    }
    /* a resumed run that had reached its epochs has nothing left to do: rerunning a finished
     * job is not an error. With an explicit initial_epoch, epochs is the epoch to reach. */
    if (o->epochs <= f->start && !resumed)
        return dc_error(DC_ERR_ARG, "fit: epochs %d is not beyond initial_epoch %d: nothing to train (with initial_epoch, epochs is the "
                        "epoch to reach, as Keras's)", o->epochs, o->initial_epoch);
    return o->initial_epoch >= 0 ? keep_epochs(m, f->start) : DC_OK;
}

/* The fit's sample weights (one finite value >= 0 per row of y) and class weights (one per
 * class of the output's last axis), which the objective then applies. */
static dc_status check_weights(const dc_model *m, const dc_fit_opts *o, const dc_tensor *y) {
    const dc_tensor *sw = o->sample_weight, *cw = o->class_weight;
    int64_t classes = dc_obj_classes(m);
    if (sw && (sw->ndim != 1 || sw->shape[0] != y->shape[0] || !dc_tensor_is_contiguous(sw)))
        return dc_error(DC_ERR_SHAPE, "fit: sample_weight must be a contiguous [%lld] tensor, one weight per row of y, got %s",
                        (long long)y->shape[0], dc_tshape(sw, 0));
    if (cw && (cw->ndim != 1 || cw->shape[0] != classes || !dc_tensor_is_contiguous(cw)))
        return dc_error(DC_ERR_SHAPE, "fit: class_weight must be a contiguous [%lld] tensor, one weight per class, got %s",
                        (long long)classes, dc_tshape(cw, 0));
    for (int k = 0; k < 2; k++) {
        const dc_tensor *t = k ? cw : sw;
        for (int64_t i = 0; t && i < t->numel; i++)
            if (!(t->data[i] >= 0) || !isfinite(t->data[i]))
                return dc_error(DC_ERR_ARG, "fit: %s[%lld] is %g; weights must be finite and >= 0", k ? "class_weight" : "sample_weight",
                                (long long)i, (double)t->data[i]);
    }
    if ((sw || cw) && m->user_loss) return dc_error(DC_ERR_ARG, "fit: sample and class weights need a built-in loss, not a user loss");
    return DC_OK;
}

/* Checks the arguments and prepares f (after the callbacks' on_train_begin, which may restore a
 * checkpoint); on this rank only. */
dc_status dc_fit_setup(dc_model *m, int nx, const dc_tensor *const *xs, const dc_tensor *y, const dc_fit_opts *opts, fit_run *f) {
    if (!xs) return dc_error(DC_ERR_ARG, "fit: x is NULL");
    f->o = opts ? *opts : dc_fit_defaults();
    dc_fit_opts *o = &f->o;
    f->x = dc_make_inputs(nx, xs);
    f->y = y;
    dc_status s = f->ds ? DC_OK : dc_check_xy(m, &f->x, y, "fit"); /* a dataset's shapes are checked already */
    if (!s && f->ds && (o->validation_split != 0 || o->val_x || o->val_xs || o->val_y || o->sample_weight))
        s = dc_error(DC_ERR_ARG, "fit: on a dataset, validation rows come from the validation dataset (not validation_split, val_x or "
                     "val_y) and sample_weight is not taken");
    if (s || (s = check_weights(m, o, y))) return s;
    if (o->epochs <= 0) return dc_error(DC_ERR_ARG, "fit: epochs must be positive, got %d", o->epochs);
    if (o->batch_size <= 0) return dc_error(DC_ERR_ARG, "fit: batch_size must be positive, got %lld", (long long)o->batch_size);
    if (o->verbose < 0 || o->verbose > 2)
        return dc_error(DC_ERR_ARG, "fit: verbose must be 0 (silent), 1 (a progress bar, or a line per epoch when the log is not a "
                        "terminal) or 2 (a line per epoch), got %d", o->verbose);
    if (o->initial_epoch < -1)
        return dc_error(DC_ERR_ARG, "fit: initial_epoch must be -1 (continue after the model's epochs) or an epoch >= 0, got %d",
                        o->initial_epoch);
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
    if (f->vds) f->vy = &f->vlike[nx]; /* and f->vxs describes its inputs */
    f->has_val = val_x || f->nval || f->vds;
    f->ntr = f->N - f->nval;
    f->batch = DC_MIN(o->batch_size, f->ntr);
    f->steps = (f->ntr + f->batch - 1) / f->batch;
    for (int i = 0; i < o->ncallbacks; i++) {
        dc_callback *cb = o->callbacks[i];
        f->batch_cbs += cb && cb->on_batch_end;
        if (cb && cb->on_train_begin && (s = cb->on_train_begin(cb, m, o))) return s;
    }
    if ((s = fit_start(m, f))) return s;
    if (f->ds) {
        if (!(f->feed = dc_feed_new(f->ds, nx + 1, f->batch, dc_dataset_prefetching(f->ds)))) return DC_ERR_NOMEM;
        dc_stage_keep(m, &f->keep);
    } else if ((s = dc_ensure_staging(m, &f->x, y, f->batch))) {
        return s;
    }
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
dc_status dc_fit_check_ranks(const fit_run *f) {
    if (!f->comm) return DC_OK;
    const char *what[] = {"the training rows", "the batch size", "the epochs", "the first epoch (resumed, continued or initial_epoch)",
                          "the seed", "the validation rows", "shuffle", "the callbacks with an on_batch_end hook"};
    int64_t v[] = {f->ntr, f->batch, f->o.epochs, f->start, (int64_t)(f->seed & 0x7fffffffffffffffull),
                   f->vy ? f->vy->shape[0] : f->nval, f->o.shuffle, f->batch_cbs};
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
dc_status dc_fit_check_sync_bn(const dc_model *m, fit_run *f) {
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

/* ---- the loop ----------------------------------------------------------------------------- */

