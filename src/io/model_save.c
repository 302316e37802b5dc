/* Writing model files, weights and checkpoints: safetensors files whose tensors are the model's
 * parameters by name, whose metadata holds the architecture ("deepc.model", each layer and the
 * optimiser written from its schema) and, for a checkpoint, the optimiser's state tensors and the
 * training progress. */
#include "../model/objective.h"
#include "model_file.h"

#include <cjson/cJSON.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void add_shape(cJSON *o, const char *key, const int64_t *v, int n) {
    cJSON *a = cJSON_AddArrayToObject(o, key);
    for (int i = 0; a && i < n; i++) cJSON_AddItemToArray(a, cJSON_CreateNumber((double)v[i]));
}

/* A wrapper's layer: its class, its options and its own layer if it wraps one. */
static cJSON *inner_json(const dc_layer *l) {
    cJSON *o = cJSON_CreateObject();
    if (!o) return NULL;
    cJSON_AddStringToObject(o, "class", l->type->name);
    dc_json_add_fields(o, l->type->fields, l->type->nfields, l->cfg);
    if (l->inner) cJSON_AddItemToObject(o, "layer", inner_json(l->inner));
    return o;
}

static cJSON *layer_json(const dc_model *m, const dc_layer *l) {
    cJSON *o = cJSON_CreateObject();
    if (!o) return NULL;
    cJSON_AddStringToObject(o, "class", l->type->name);
    cJSON_AddStringToObject(o, "name", l->name);
    if (m->graph && l->nin > 0) { /* the layers feeding it, by name; output k > 0 of one as "name:k" */
        cJSON *a = cJSON_AddArrayToObject(o, "inputs");
        for (int i = 0; a && i < l->nin; i++) {
            char ref[64];
            const char *nm = m->layers[l->inputs[i]]->name;
            if (l->input_out[i]) snprintf(ref, sizeof ref, "%s:%d", nm, l->input_out[i]);
            else snprintf(ref, sizeof ref, "%s", nm);
            cJSON_AddItemToArray(a, cJSON_CreateString(ref));
        }
    }
    dc_json_add_fields(o, l->type->fields, l->type->nfields, l->cfg);
    if (l->inner) cJSON_AddItemToObject(o, "layer", inner_json(l->inner)); /* a wrapper's layer, nested */
    if (l->frozen) cJSON_AddFalseToObject(o, "trainable"); /* only when frozen: older files stay as they were */
    return o;
}

static cJSON *optimizer_json(const dc_optimizer *op) {
    cJSON *o = cJSON_CreateObject();
    if (!o) return NULL;
    cJSON_AddStringToObject(o, "class", op->type->name);
    dc_json_add_fields(o, dc_optimizer_common_fields, 1, op); /* lr first */
    dc_json_add_fields(o, op->type->fields, op->type->nfields, op->cfg);
    dc_json_add_fields(o, dc_optimizer_common_fields + 1, dc_optimizer_common_nfields - 1, op);
    const dc_schedule *sch = dc_optimizer_schedule(op);
    cJSON *so = sch ? cJSON_AddObjectToObject(o, "schedule") : NULL;
    if (so) {
        cJSON_AddStringToObject(so, "class", sch->type->name);
        dc_json_add_fields(so, sch->type->fields, sch->type->nfields, sch->cfg);
    }
    return o;
}

void dc_mf_add_u64(cJSON *o, const char *key, uint64_t v) {
    char b[24];
    snprintf(b, sizeof b, "%016" PRIx64, v);
    cJSON_AddStringToObject(o, key, b);
}

/* cJSON allocates with malloc: the text is freed with cJSON_free. */
char *dc_mf_print_json(cJSON *root) {
    char *txt = root ? cJSON_PrintUnformatted(root) : NULL;
    cJSON_Delete(root);
    if (!txt) dc_error(DC_ERR_NOMEM, "out of memory while writing the model's JSON");
    return txt;
}

char *dc_model_arch_json(const dc_model *m) {
    cJSON *root = cJSON_CreateObject();
    if (!root) return dc_mf_print_json(NULL);
    cJSON_AddStringToObject(root, "format", ARCH_FORMAT);
    cJSON_AddNumberToObject(root, "version", m->graph ? 2 : 1);
    if (m->graph) cJSON_AddBoolToObject(root, "graph", true);
    add_shape(root, "input_shape", m->in_shape, m->in_ndim);
    dc_mf_add_u64(root, "seed", m->seed);
    cJSON *layers = cJSON_AddArrayToObject(root, "layers");
    for (int i = 0; layers && i < m->nlayers; i++) cJSON_AddItemToArray(layers, layer_json(m, m->layers[i]));
    if (m->compiled) {
        cJSON *c = cJSON_AddObjectToObject(root, "compile");
        if (c) {
            cJSON_AddStringToObject(c, "loss", m->user_loss ? "custom" : dc_loss_name(m->loss));
            cJSON *met = cJSON_AddArrayToObject(c, "metrics");
            for (int i = 0; met && i < m->nmetrics; i++) cJSON_AddItemToArray(met, cJSON_CreateString(dc_metric_name(m->metrics[i])));
            cJSON_AddItemToObject(c, "optimizer", optimizer_json(m->opt));
            if (!m->user_loss) dc_json_add_fields(cJSON_AddObjectToObject(c, "loss_options"), dc_loss_opts_fields, dc_loss_opts_nfields,
                                                  &m->loss_opts);
        }
    }
    return dc_mf_print_json(root);
}

/* ---------------------------------------------------------------------------------------- */
/* writing                                                                                  */
/* ---------------------------------------------------------------------------------------- */

dc_status dc_mf_check_built(const dc_model *m, const char *path, const char *who) {
    if (!m || !path || !*path) return dc_error(DC_ERR_ARG, "%s: model or path is NULL/empty", who);
    if (!m->built) return dc_error(DC_ERR_STATE, "%s: %s: the model is not built (build or compile it first)", who, path);
    return DC_OK;
}

/* Offset of parameter i in the optimiser's flat vector (trainable parameters only). */
int64_t dc_mf_poffset(const dc_model *m, int i) { return m->ptens[i]->data - m->pbuf; }

dc_status dc_mf_history_json(const dc_history *h, char **out);

/* Writes parameters and state, the architecture if `arch`, and the training state if `ckpt`. */
static dc_status save_file(const dc_model *m, const char *path, bool arch, bool ckpt) {
    const dc_optimizer *op = m->opt;
    int nstate = ckpt && op && op->n ? op->nstate : 0;
    int cap = m->np * (1 + nstate);
    dc_st_entry *e = dc_calloc((size_t)(cap ? cap : 1), sizeof *e);
    char(*names)[128] = dc_calloc((size_t)(cap ? cap : 1), sizeof *names);
    char *meta_v[3] = {NULL, NULL, NULL};
    const char *meta_k[3];
    int nmeta = 0, n = 0;
    dc_status s = e && names ? DC_OK : DC_ERR_NOMEM;
    for (int i = 0; !s && i < m->np; i++, n++) {
        const dc_tensor *t = m->ptens[i];
        e[n] = (dc_st_entry){m->pnames[i], t->ndim, t->shape, t->data};
    }
    for (int k = 0; !s && k < nstate; k++) {
        const float *buf = op->state[k];
        for (int i = 0; i < m->np; i++) {
            if (!m->gtens[i]) continue;
            const dc_tensor *t = m->ptens[i];
            snprintf(names[n], sizeof names[n], "optimizer.state%d.%s", k + 1, m->pnames[i]);
            e[n] = (dc_st_entry){names[n], t->ndim, t->shape, buf + dc_mf_poffset(m, i)};
            n++;
        }
    }
    if (!s && arch) {
        meta_k[nmeta] = KEY_MODEL;
        if (!(meta_v[nmeta++] = dc_model_arch_json(m))) s = DC_ERR_NOMEM;
    }
    if (!s && ckpt) {
        cJSON *c = cJSON_CreateObject();
        if (c) {
            cJSON_AddNumberToObject(c, "version", CKPT_VERSION);
            cJSON_AddNumberToObject(c, "epoch", m->epoch);
            cJSON_AddNumberToObject(c, "step", op ? (double)op->t : 0);
            dc_mf_add_u64(c, "fit_seed", m->fit_seed);
            cJSON_AddNumberToObject(c, "rows", (double)m->fit_rows);
            cJSON_AddNumberToObject(c, "batch_size", (double)m->fit_batch);
            cJSON *r = cJSON_AddArrayToObject(c, "rng");
            for (int i = 0; r && i < 4; i++) {
                char b[24];
                snprintf(b, sizeof b, "%016" PRIx64, m->rng.s[i]);
                cJSON_AddItemToArray(r, cJSON_CreateString(b));
            }
            cJSON_AddStringToObject(c, "optimizer", op ? op->type->name : "");
            const dc_schedule *sch = op ? dc_optimizer_schedule(op) : NULL;
            double sv[DC_SCHEDULE_MAX_STATE];
            int nsv = 0;
            if (sch && dc_optimizer_schedule_state(op, sv, &nsv) == DC_OK) {
                cJSON_AddStringToObject(c, "schedule", sch->type->name);
                cJSON *a = cJSON_AddArrayToObject(c, "schedule_state");
                for (int i = 0; a && i < nsv; i++) { /* 17 digits: a resumed run continues bit-identically */
                    char num[32];
                    snprintf(num, sizeof num, "%.17g", sv[i]);
                    cJSON_AddItemToArray(a, cJSON_CreateRaw(num));
                }
            }
        }
        meta_k[nmeta] = KEY_CKPT;
        if (!(meta_v[nmeta++] = dc_mf_print_json(c))) s = DC_ERR_NOMEM;
        meta_k[nmeta] = KEY_HIST;
        if (!s) s = dc_mf_history_json(m->hist, &meta_v[nmeta++]);
    }
    if (!s) s = dc_st_write(path, e, n, DC_DTYPE_F32, nmeta, meta_k, (const char *const *)meta_v);
    for (int i = 0; i < nmeta; i++) cJSON_free(meta_v[i]);
    dc_free(e);
    dc_free(names);
    return s;
}

dc_status dc_model_save(const dc_model *m, const char *path) {
    dc_status s = dc_mf_check_built(m, path, "dc_model_save");
    return s ? s : save_file(m, path, true, false);
}

dc_status dc_model_save_weights(const dc_model *m, const char *path) {
    dc_status s = dc_mf_check_built(m, path, "dc_model_save_weights");
    return s ? s : save_file(m, path, false, false);
}

dc_status dc_model_save_checkpoint(const dc_model *m, const char *path) {
    dc_status s = dc_mf_check_built(m, path, "dc_model_save_checkpoint");
    if (s) return s;
    if (!m->compiled) return dc_error(DC_ERR_STATE, "dc_model_save_checkpoint: %s: the model is not compiled", path);
    return save_file(m, path, true, true);
}

/* ---------------------------------------------------------------------------------------- */
/* reading: validated JSON fields                                                           */
/* ---------------------------------------------------------------------------------------- */

