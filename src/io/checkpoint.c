/* Training checkpoints: the model's file plus the optimiser's state tensors
 * ("optimizer.state<k>.<param>", one per state buffer the optimiser keeps) and the training
 * progress ("deepc.checkpoint", "deepc.history"); restoring checks everything before it
 * changes the model. A checkpoint written before any fit (after compile, or after
 * dc_model_train_step) holds rows 0 and batch_size 0 at epoch 0: restoring it restores the
 * weights, the optimiser's state and step count and the random stream, and the next fit starts
 * afresh rather than continuing one. */
#include "model_file.h"

#include <cjson/cJSON.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

dc_status dc_mf_history_json(const dc_history *h, char **out) {
    cJSON *root = cJSON_CreateObject();
    int E = dc_history_epochs(h);
    if (root) {
        cJSON_AddNumberToObject(root, "epochs", E);
        cJSON *series = cJSON_AddArrayToObject(root, "series");
        for (int i = 0; series && i < dc_history_num_series(h); i++) {
            const char *name = dc_history_series_name(h, i);
            const double *v = dc_history_get(h, name);
            cJSON *o = cJSON_CreateObject();
            cJSON_AddItemToArray(series, o);
            cJSON_AddStringToObject(o, "name", name);
            cJSON *a = cJSON_AddArrayToObject(o, "values");
            for (int e = 0; a && e < E; e++) {
                /* 17 digits: cJSON's own printing may drop the last bit, and resumed histories
                 * must equal uninterrupted ones exactly */
                char num[32];
                snprintf(num, sizeof num, "%.17g", v[e]);
                cJSON_AddItemToArray(a, isfinite(v[e]) ? cJSON_CreateRaw(num) : cJSON_CreateNull());
            }
        }
    }
    *out = dc_mf_print_json(root);
    return *out ? DC_OK : DC_ERR_NOMEM;
}

static dc_status history_from_json(const dc_where *w0, const cJSON *j, int epoch, dc_history **out) {
    dc_where w = *w0;
    snprintf(w.what, sizeof w.what, "history");
    int64_t E;
    if (dc_json_int(&w, j, "epochs", 0, 100000000, 0, true, &E)) return DC_ERR_FORMAT;
    if (E != epoch) {
        char b[96];
        snprintf(b, sizeof b, "is %lld but the checkpoint is at epoch %d", (long long)E, epoch);
        return dc_json_bad(&w, "epochs", b);
    }
    const cJSON *series = cJSON_GetObjectItemCaseSensitive(j, "series");
    if (!cJSON_IsArray(series) || cJSON_GetArraySize(series) > 64) return dc_json_bad(&w, "series", "must be an array of at most 64 series");
    dc_history *h = dc_history_new();
    if (!h) return DC_ERR_NOMEM;
    dc_status s = DC_OK;
    const cJSON *o;
    cJSON_ArrayForEach(o, series) {
        const char *name = cJSON_IsObject(o) ? dc_json_str(&w, o, "name", true) : NULL;
        const cJSON *vals = name ? cJSON_GetObjectItemCaseSensitive(o, "values") : NULL;
        if (!name || !cJSON_IsArray(vals) || cJSON_GetArraySize(vals) != (int)E) {
            s = dc_json_bad(&w, "series", "entries must be {\"name\": string, \"values\": [one number or null per epoch]}");
            break;
        }
        int e = 0;
        const cJSON *v;
        cJSON_ArrayForEach(v, vals) {
            if (!cJSON_IsNumber(v) && !cJSON_IsNull(v)) {
                s = dc_json_bad(&w, name, "values must be numbers or null");
                break;
            }
            if ((e == 0 || cJSON_IsNumber(v)) && (s = dc_history_record(h, e, name, cJSON_IsNumber(v) ? v->valuedouble : NAN))) {
                dc_error_prefix("%s: history", w.path); /* dc_json_bad's messages name the place already */
                break;
            }
            e++;
        }
        if (s) break;
    }
    if (s) {
        dc_history_free(h);
        return s;
    }
    *out = h;
    return DC_OK;
}

dc_status dc_model_load_checkpoint(dc_model *m, const char *path) {
    dc_status s = dc_mf_check_built(m, path, "dc_model_load_checkpoint");
    if (s) return s;
    if (!m->compiled) return dc_error(DC_ERR_STATE, "dc_model_load_checkpoint: %s: compile the model first", path);
    dc_safetensors *st = dc_safetensors_open(path);
    if (!st) return dc_last_status();
    dc_where w = {path, "checkpoint"};
    cJSON *ck = dc_mf_parse_meta(st, KEY_CKPT, "this file is not a training checkpoint (dc_model_save_checkpoint writes them)");
    cJSON *hj = ck ? dc_mf_parse_meta(st, KEY_HIST, "the checkpoint has no history") : NULL;
    dc_optimizer *op = m->opt;
    int64_t ver = 0, epoch = 0, step = 0, rows = 0, batch = 0;
    uint64_t seed = 0, rng[4] = {0};
    float *p = NULL, *sb = NULL, *state[DC_OPT_MAX_STATE] = {NULL};
    int nread = 0;
    dc_history *h = NULL;
    s = hj ? DC_OK : dc_last_status();
    if (!s && (dc_json_int(&w, ck, "version", 1, 1000, 0, true, &ver) || dc_json_int(&w, ck, "epoch", 0, 100000000, 0, true, &epoch) ||
               dc_json_int(&w, ck, "step", 0, INT64_C(1) << 52, 0, true, &step) ||
               dc_json_int(&w, ck, "rows", 0, INT64_C(1) << 52, 0, true, &rows) ||
               dc_json_int(&w, ck, "batch_size", 0, INT64_C(1) << 52, 0, true, &batch) || dc_mf_parse_u64(&w, ck, "fit_seed", &seed)))
        s = DC_ERR_FORMAT;
    /* rows and batch_size 0: written before any fit, so at epoch 0 */
    if (!s && ((rows == 0) != (batch == 0) || (rows == 0 && epoch != 0)))
        s = dc_error(DC_ERR_FORMAT, "%s: checkpoint: \"rows\" %lld, \"batch_size\" %lld and \"epoch\" %lld do not agree (rows and "
                     "batch_size are both 0 before any fit, at epoch 0, and both positive after one)", path, (long long)rows,
                     (long long)batch, (long long)epoch);
    if (!s && ver > CKPT_VERSION)
        s = dc_error(DC_ERR_FORMAT, "%s: checkpoint version %lld is newer than this deepc reads (%d)", path, (long long)ver, CKPT_VERSION);
    const cJSON *ra = ck ? cJSON_GetObjectItemCaseSensitive(ck, "rng") : NULL;
    if (!s && (!cJSON_IsArray(ra) || cJSON_GetArraySize(ra) != 4)) s = dc_json_bad(&w, "rng", "must be an array of 4 hexadecimal strings");
    for (int i = 0; !s && i < 4; i++) {
        const cJSON *v = cJSON_GetArrayItem(ra, i);
        if (!cJSON_IsString(v) || !dc_mf_parse_hex(v->valuestring, &rng[i])) s = dc_json_bad(&w, "rng", "must be an array of 4 hexadecimal strings");
    }
    const char *oname = !s ? dc_json_str(&w, ck, "optimizer", true) : NULL;
    if (!s && !oname) s = DC_ERR_FORMAT;
    if (!s && strcmp(oname, op->type->name) != 0)
        s = dc_error(DC_ERR_STATE, "%s: the checkpoint was written with the %.40s optimizer; the model is compiled with %s", path,
                     oname, dc_optimizer_name(op));
    /* the learning-rate schedule: the same class as compiled, and the state it had */
    const dc_schedule *sch = op ? dc_optimizer_schedule(op) : NULL;
    const char *sname = !s ? dc_json_str(&w, ck, "schedule", false) : NULL;
    double sstate[DC_SCHEDULE_MAX_STATE] = {0};
    int nss = 0;
    if (!s && strcmp(sname ? sname : "", sch ? sch->type->name : "") != 0)
        s = dc_error(DC_ERR_STATE, "%s: the checkpoint's learning-rate schedule is %.40s; the model's optimizer has %s", path,
                     sname ? sname : "none", sch ? sch->type->name : "none");
    const cJSON *sa = !s && sch ? cJSON_GetObjectItemCaseSensitive(ck, "schedule_state") : NULL;
    if (!s && sch) {
        nss = cJSON_IsArray(sa) ? cJSON_GetArraySize(sa) : -1;
        if (nss < 0 || nss > DC_SCHEDULE_MAX_STATE) s = dc_json_bad(&w, "schedule_state", "must be an array of at most 8 numbers");
        for (int i = 0; !s && i < nss; i++) {
            const cJSON *v = cJSON_GetArrayItem(sa, i);
            if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble)) s = dc_json_bad(&w, "schedule_state", "must hold finite numbers");
            else sstate[i] = v->valuedouble;
        }
        if (!s && (s = dc_optimizer_check_schedule_state(op, sstate, nss))) dc_error_prefix("%s", path);
    }
    if (!s) s = history_from_json(&w, hj, (int)epoch, &h);
    if (!s) s = dc_mf_read_weights(m, st, "", &p, &sb);
    /* optimizer state: each buffer this optimiser keeps, present for every trainable parameter or
     * for none (a checkpoint written before the first step) */
    int want = op->type->nstate(op);
    for (int k = 1; !s && k <= DC_OPT_MAX_STATE; k++) {
        float **buf = &state[k - 1];
        int present = 0;
        for (int j = 0; j < m->np; j++) {
            if (!m->gtens[j]) continue;
            char name[128];
            snprintf(name, sizeof name, "optimizer.state%d.%s", k, m->pnames[j]);
            present += dc_safetensors_find(st, name) >= 0;
        }
        if (present && k > want) {
            s = dc_error(DC_ERR_STATE, "%s: the checkpoint holds optimizer state %d, which the model's %s does not keep", path, k,
                         op->type->name);
            break;
        }
        if (!present) continue;
        if (!(*buf = dc_calloc((size_t)m->ptotal, sizeof(float)))) {
            s = DC_ERR_NOMEM;
            break;
        }
        nread++;
        for (int li = 0, j = 0; !s && li < m->nlayers; li++) {
            for (int pk = 0; !s && pk < m->layers[li]->nparams; pk++, j++) {
                if (!m->gtens[j]) continue;
                char name[128];
                int i;
                snprintf(name, sizeof name, "optimizer.state%d.%s", k, m->pnames[j]);
                const dc_tensor *t = m->ptens[j];
                if (!(s = dc_mf_match_tensor(st, name, t->ndim, t->shape, m->layers[li]->name, &i)))
                    s = dc_mf_read_checked(st, i, name, *buf + dc_mf_poffset(m, j), t->numel, -INFINITY);
            }
        }
    }
    if (!s && nread) s = dc_optimizer_prepare(op, m->ptotal);
    if (!s) { /* everything read and checked: commit */
        memcpy(m->pbuf, p, (size_t)m->ptotal * sizeof(float));
        memcpy(m->sbuf, sb, (size_t)m->stotal * sizeof(float));
        /* state the checkpoint lacks (written before the first step) starts from zero */
        for (int k = 0; k < op->nstate && op->n; k++)
            state[k] ? memcpy(op->state[k], state[k], (size_t)m->ptotal * sizeof(float)) : memset(op->state[k], 0, (size_t)op->n * sizeof(float));
        op->t = step;
        if (sch) dc_optimizer_set_schedule_state(op, sstate, nss);
        memcpy(m->rng.s, rng, sizeof rng);
        dc_history_free(m->hist);
        m->hist = h;
        h = NULL;
        m->epoch = (int)epoch;
        m->fit_seed = seed;
        m->fit_rows = rows;
        m->fit_batch = batch;
        m->resuming = rows > 0; /* a fit to continue, or none yet */
    }
    dc_history_free(h);
    dc_free(p);
    dc_free(sb);
    for (int k = 0; k < DC_OPT_MAX_STATE; k++) dc_free(state[k]);
    cJSON_Delete(ck);
    cJSON_Delete(hj);
    dc_safetensors_close(st);
    return s;
}
