/* Fit callbacks that write files: the periodic training checkpoint (and resuming from it) and
 * the best model so far. Only the writer (rank 0 of a data-parallel fit) writes. */
#include "../model/objective.h"
#include "model_file.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

typedef struct file_cb {
    dc_callback cb;
    const char *path, *monitor;
    int every;
    bool resume, started;
    double best;
} file_cb;

static void file_cb_free(dc_callback *cb) { dc_free(cb); }

static bool file_exists(const char *path) {
    FILE *f = fopen(path, "rb");
    if (f) fclose(f);
    return f != NULL;
}

static dc_status ckpt_begin(dc_callback *cb, dc_model *m, const dc_fit_opts *o) {
    file_cb *c = (file_cb *)cb;
    if (!c->resume || !file_exists(c->path)) return DC_OK;
    dc_status s = dc_model_load_checkpoint(m, c->path);
    if (s) return dc_error_prefix("fit: resume"), s;
    if (o->verbose && dc_callback_is_writer()) {
        FILE *f = o->log ? o->log : stdout;
        if (m->resuming) fprintf(f, "Resuming from %s after epoch %d\n", c->path, m->epoch);
        else fprintf(f, "Restored %s, written before any fit; training starts at epoch 1\n", c->path);
    }
    return DC_OK;
}

static dc_status ckpt_end(dc_callback *cb, dc_model *m, const dc_fit_opts *o, int ep, bool *stop) {
    file_cb *c = (file_cb *)cb;
    if (!dc_callback_is_writer() || ((ep + 1) % c->every != 0 && ep + 1 != o->epochs)) return DC_OK;
    dc_status s = dc_model_save_checkpoint(m, c->path);
    return s ? (dc_error_prefix("fit: epoch %d: checkpoint", ep + 1), s) : DC_OK;
}

static file_cb *file_cb_new(const char *path, const char *who) {
    if (!path || !*path) return dc_error_null(DC_ERR_ARG, "%s: path is NULL or empty", who);
    file_cb *c = dc_calloc(1, sizeof *c);
    if (!c) return NULL;
    c->cb.free = file_cb_free;
    c->cb.user = c;
    c->path = path;
    return c;
}

dc_callback *dc_checkpoint_callback(const char *path, int every, bool resume) {
    file_cb *c = file_cb_new(path, "dc_checkpoint_callback");
    if (!c) return NULL;
    c->cb.on_train_begin = ckpt_begin;
    c->cb.on_epoch_end = ckpt_end;
    c->every = every > 0 ? every : 1;
    c->resume = resume;
    return &c->cb;
}

static dc_status best_begin(dc_callback *cb, dc_model *m, const dc_fit_opts *o) {
    ((file_cb *)cb)->started = false;
    return DC_OK;
}

static bool better(const char *key, double now, double best) {
    return isfinite(now) && (isnan(best) || (dc_obj_minimised(key) ? now < best : now > best));
}

static dc_status best_end(dc_callback *cb, dc_model *m, const dc_fit_opts *o, int ep, bool *stop) {
    file_cb *c = (file_cb *)cb;
    const dc_history *h = dc_model_history(m);
    const char *key = c->monitor ? c->monitor : dc_history_get(h, "val_loss") ? "val_loss" : "loss";
    const double *v = dc_history_get(h, key);
    if (!v)
        return dc_error(DC_ERR_ARG, "fit: monitor \"%s\" is not recorded (keys: loss, the metrics, val_ with validation data)", key);
    if (!c->started) { /* a resumed run remembers the best value of the epochs before it */
        c->started = true;
        c->best = NAN;
        for (int e = 0; e < ep; e++)
            if (better(key, v[e], c->best)) c->best = v[e];
    }
    if (!better(key, v[ep], c->best)) return DC_OK;
    c->best = v[ep];
    if (!dc_callback_is_writer()) return DC_OK;
    dc_status s = dc_model_save(m, c->path);
    if (s) return dc_error_prefix("fit: epoch %d: best model", ep + 1), s;
    if (o->verbose) fprintf(o->log ? o->log : stdout, "Epoch %d: %s improved to %.5g, model saved to %s\n", ep + 1, key, v[ep], c->path);
    return DC_OK;
}

dc_callback *dc_best_model_callback(const char *path, const char *monitor) {
    file_cb *c = file_cb_new(path, "dc_best_model_callback");
    if (!c) return NULL;
    c->cb.on_train_begin = best_begin;
    c->cb.on_epoch_end = best_end;
    c->monitor = monitor;
    return &c->cb;
}
