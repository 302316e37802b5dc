/* Fit callbacks of the model floor, which need no files: early stopping (Keras's EarlyStopping).
 * The callbacks that write files (checkpoints, the best model) are io's (src/io/callbacks.c). */
#include "objective.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

typedef struct early_cb {
    dc_callback cb;
    char monitor[64]; /* as given; "" to decide at each fit's start */
    char key[64];     /* the series this fit monitors */
    int patience;
    double min_delta;
    bool restore, minimise;
    /* this fit's state */
    int wait;         /* epochs since the last improvement */
    int best_epoch;   /* -1: none yet */
    int stopped;      /* the epoch after which it stopped training, -1 if it did not */
    double best;
    float *copy;      /* the parameters (ptotal) then the state (stotal) after best_epoch */
    int64_t cap;      /* floats copy holds */
    bool copied;
} early_cb;

static void early_free(dc_callback *cb) {
    early_cb *c = (early_cb *)cb;
    dc_free(c->copy);
    dc_free(c);
}

static dc_status early_begin(dc_callback *cb, dc_model *m, const dc_fit_opts *o) {
    early_cb *c = (early_cb *)cb;
    bool has_val = o->val_y || o->validation_split > 0;
    snprintf(c->key, sizeof c->key, "%s", c->monitor[0] ? c->monitor : has_val ? "val_loss" : "loss");
    c->minimise = dc_obj_minimised(c->key);
    c->best = c->minimise ? INFINITY : -INFINITY;
    c->wait = 0;
    c->best_epoch = c->stopped = -1;
    c->copied = false;
    int64_t need = m->ptotal + m->stotal;
    if (c->restore && need > c->cap) { /* the model's buffers are fixed from here to the fit's end */
        float *p = dc_realloc(c->copy, (size_t)need * sizeof(float));
        if (!p) return DC_ERR_NOMEM;
        c->copy = p;
        c->cap = need;
    }
    return DC_OK;
}

/* Keras's rule: a finite value that beats the best by more than min_delta. */
static bool improves(const early_cb *c, double v) {
    return isfinite(v) && (c->minimise ? v + c->min_delta < c->best : v - c->min_delta > c->best);
}

static void take_copy(early_cb *c, const dc_model *m) {
    memcpy(c->copy, m->pbuf, (size_t)m->ptotal * sizeof(float));
    if (m->stotal) memcpy(c->copy + m->ptotal, m->sbuf, (size_t)m->stotal * sizeof(float));
    c->copied = true;
}

static dc_status early_end(dc_callback *cb, dc_model *m, const dc_fit_opts *o, int ep, bool *stop) {
    early_cb *c = (early_cb *)cb;
    const double *v = dc_history_get(dc_model_history(m), c->key);
    if (!v)
        return dc_error(DC_ERR_ARG, "fit: early stopping: monitor \"%s\" is not recorded (keys: loss, the compiled metrics, their val_ "
                        "twins with validation data, lr, seconds)", c->key);
    if (c->restore && !c->copied) { /* no epoch may ever improve: then the first one is restored */
        take_copy(c, m);
        c->best_epoch = ep;
    }
    c->wait++;
    if (improves(c, v[ep])) {
        c->best = v[ep];
        c->best_epoch = ep;
        c->wait = 0;
        if (c->restore) take_copy(c, m);
        return DC_OK;
    }
    if (c->wait >= c->patience && ep > 0) {
        c->stopped = ep;
        *stop = true;
    }
    return DC_OK;
}

static dc_status early_train_end(dc_callback *cb, dc_model *m, const dc_fit_opts *o) {
    early_cb *c = (early_cb *)cb;
    bool say = o->verbose && dc_callback_is_writer();
    FILE *f = o->log ? o->log : stdout;
    if (say && c->stopped >= 0) fprintf(f, "Epoch %d: early stopping\n", c->stopped + 1);
    if (c->restore && c->copied) {
        if (say) fprintf(f, "Restoring model weights from the end of the best epoch: %d.\n", c->best_epoch + 1);
        memcpy(m->pbuf, c->copy, (size_t)m->ptotal * sizeof(float));
        if (m->stotal) memcpy(m->sbuf, c->copy + m->ptotal, (size_t)m->stotal * sizeof(float));
    }
    if (say) fflush(f);
    return DC_OK;
}

dc_callback *dc_early_stopping_callback(const char *monitor, int patience, double min_delta, bool restore_best_weights) {
    const char *who = "dc_early_stopping_callback";
    if (patience < 0) return dc_error_null(DC_ERR_ARG, "%s: patience must be >= 0 epochs, got %d", who, patience);
    if (!(min_delta >= 0) || !isfinite(min_delta))
        return dc_error_null(DC_ERR_ARG, "%s: min_delta must be finite and >= 0, got %g", who, min_delta);
    if (monitor && (!*monitor || strlen(monitor) >= sizeof ((early_cb *)0)->monitor))
        return dc_error_null(DC_ERR_ARG, "%s: monitor must be a history key of 1 to 63 characters (or NULL for val_loss, else loss), "
                             "got %zu characters", who, strlen(monitor));
    early_cb *c = dc_calloc(1, sizeof *c);
    if (!c) return NULL;
    c->cb.on_train_begin = early_begin;
    c->cb.on_epoch_end = early_end;
    c->cb.on_train_end = early_train_end;
    c->cb.free = early_free;
    c->cb.user = c;
    if (monitor) snprintf(c->monitor, sizeof c->monitor, "%s", monitor);
    c->patience = patience;
    c->min_delta = min_delta;
    c->restore = restore_best_weights;
    return &c->cb;
}
