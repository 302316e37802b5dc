/* Building a model: its layers' parameters and state in one buffer each, initialised from the
 * seed, the fusion plan, and access to the parameters. */
#include "model.h"

#include <stdio.h>
#include <string.h>

void dc_model_free_params(dc_model *m) {
    for (int i = 0; i < m->np; i++) {
        dc_free(m->ptens ? m->ptens[i] : NULL);
        dc_free(m->gtens ? m->gtens[i] : NULL);
    }
    dc_free(m->ptens);
    dc_free(m->gtens);
    dc_free(m->pnames);
    dc_free(m->pbuf);
    dc_free(m->gbuf);
    dc_free(m->sbuf);
    dc_free(m->part);
    dc_free(m->fuse);
    m->fuse = NULL;
    m->part = NULL;
    m->npart = 0;
    m->ptens = m->gtens = NULL;
    m->pnames = NULL;
    m->pbuf = m->gbuf = m->sbuf = NULL;
    m->np = 0;
    m->ptotal = m->stotal = 0;
}

static dc_status alloc_params(dc_model *m) {
    int np = 0;
    int64_t total = 0, state = 0;
    for (int i = 0; i < m->nlayers; i++) {
        dc_layer *l = m->layers[i];
        for (int k = 0; k < l->nparams; k++) {
            int64_t n;
            if (dc_shape_check(l->decl[k].ndim, l->decl[k].shape, &n)) return DC_ERR_SHAPE;
            n = (n + 15) & ~(int64_t)15; /* keep every parameter 64-byte aligned */
            if (l->decl[k].trainable) total += n;
            else state += n;
            np++;
        }
    }
    m->ptotal = total;
    m->stotal = state;
    m->np = np;
    if (!(m->pbuf = dc_calloc((size_t)(total ? total : 1), sizeof(float))) ||
        !(m->gbuf = dc_calloc((size_t)(total ? total : 1), sizeof(float))) ||
        !(m->sbuf = dc_calloc((size_t)(state ? state : 1), sizeof(float))) ||
        !(m->ptens = dc_calloc((size_t)(np ? np : 1), sizeof *m->ptens)) ||
        !(m->gtens = dc_calloc((size_t)(np ? np : 1), sizeof *m->gtens)) ||
        !(m->pnames = dc_calloc((size_t)(np ? np : 1), sizeof *m->pnames)) ||
        !(m->part = dc_calloc((size_t)(np ? np : 1), sizeof *m->part)))
        return DC_ERR_NOMEM;
    dc_rng_seed(&m->rng, m->seed);
    int64_t off = 0, soff = 0;
    int j = 0;
    for (int i = 0; i < m->nlayers; i++) {
        dc_layer *l = m->layers[i];
        for (int k = 0; k < l->nparams; k++, j++) {
            dc_param_decl *d = &l->decl[k];
            dc_tensor *p = dc_calloc(1, sizeof *p), *g = d->trainable ? dc_calloc(1, sizeof *g) : NULL;
            if (!p || (d->trainable && !g)) {
                dc_free(p);
                dc_free(g);
                return DC_ERR_NOMEM;
            }
            m->ptens[j] = p;
            m->gtens[j] = g;
            p->ndim = d->ndim;
            memcpy(p->shape, d->shape, (size_t)d->ndim * sizeof *d->shape);
            dc_shape_check(d->ndim, d->shape, &p->numel);
            dc_set_contiguous_strides(p);
            p->kind = DC_TENSOR_PARAM;
            if (g) {
                *g = *p;
                p->data = m->pbuf + off;
                g->data = m->gbuf + off;
                p->grad = g;
                p->requires_grad = !l->frozen; /* a frozen layer gets no gradient */
                dc_part_seg *sg = &m->part[m->npart++];
                sg->off = off;
                sg->len = (p->numel + 15) & ~(int64_t)15;
                sg->rows = p->ndim >= 2 ? p->shape[0] : 0;
                sg->cols = sg->rows ? p->numel / sg->rows : 1;
                off += sg->len;
            } else {
                p->data = m->sbuf + soff;
                soff += (p->numel + 15) & ~(int64_t)15;
            }
            snprintf(m->pnames[j], sizeof m->pnames[j], "%s.%s", l->name, d->name);
            l->param[k] = p;
            dc_status s = dc_tensor_init(p, d->init, d->init_value, &m->rng);
            if (s) return s;
        }
        if (l->type->post_init) l->type->post_init(l);
    }
    return DC_OK;
}

dc_status dc_model_build(dc_model *m, int ndim, const int64_t *input_shape) {
    if (!m) return dc_error(DC_ERR_ARG, "dc_model_build: model is NULL");
    dc_status s = dc_model_check_layers(m, "dc_model_build");
    if (s) return s;
    if (m->built) return DC_OK;
    if (m->nlayers == 0 || (m->has_input && m->nlayers == 1))
        return dc_error(DC_ERR_STATE, "dc_model_build: the model has no layers");
    if ((s = dc_model_check_names(m, "dc_model_build"))) return s;
    if (!m->has_input) {
        int64_t n;
        if (!input_shape || ndim < 1 || ndim >= DC_MAX_DIMS || dc_shape_check(ndim, input_shape, &n) || n == 0)
            return dc_error(DC_ERR_SHAPE, "dc_model_build: the model has no input layer and no valid input shape was given");
        m->in_ndim = ndim;
        memcpy(m->in_shape, input_shape, (size_t)ndim * sizeof *input_shape);
        int nd = ndim;
        int64_t sh[DC_MAX_DIMS];
        memcpy(sh, input_shape, (size_t)ndim * sizeof *sh);
        for (int i = 0; i < m->nlayers; i++) {
            if ((s = dc_model_connect1(m->layers[i], nd, sh))) return s;
            nd = m->layers[i]->out_ndim;
            memcpy(sh, m->layers[i]->out_shape, sizeof sh);
        }
    }
    s = alloc_params(m);
    if (s) {
        dc_model_free_params(m);
        return s;
    }
    if ((s = dc_model_plan(m))) {
        dc_model_free_params(m);
        return s;
    }
    if (!m->ctx && !(m->ctx = dc_ctx_new())) return DC_ERR_NOMEM;
    m->built = true;
    return DC_OK;
}

/* Whether layer i + 1 takes layer i's output as its only input and no other layer reads it
 * (readers[i]: how many inputs of layers read layer i). */
static bool sole_reader(const dc_model *m, const int *readers, int i) {
    const dc_layer *n = m->layers[i + 1];
    if (n->nin != 1 || (n->inputs[0] >= 0 && n->inputs[0] != i)) return false;
    return readers[i] == 1;
}

dc_status dc_model_plan(dc_model *m) {
    int *readers = dc_calloc((size_t)m->nlayers, sizeof *readers);
    if (!readers || !(m->fuse = dc_calloc((size_t)m->nlayers, sizeof *m->fuse))) {
        dc_free(readers);
        return DC_ERR_NOMEM;
    }
    for (int k = 0; k < m->nlayers; k++) /* an input of -1 is the layer before */
        for (int j = 0; j < m->layers[k]->nin; j++) {
            int src = m->layers[k]->inputs[j] >= 0 ? m->layers[k]->inputs[j] : k - 1;
            if (src >= 0) readers[src]++;
        }
    for (int i = 0; i + 1 < m->nlayers; i++) {
        const dc_layer *l = m->layers[i];
        m->fuse[i] = l->nin == 1 && l->type->can_fuse && l->type->forward_fused && !(i > 0 && m->fuse[i - 1]) &&
                     l->type->can_fuse(l, m->layers[i + 1]) && sole_reader(m, readers, i);
    }
    dc_free(readers);
    return DC_OK;
}

int64_t dc_model_param_count(const dc_model *m) {
    if (!m) return 0;
    int64_t n = 0;
    for (int i = 0; i < m->np; i++) n += m->ptens[i]->numel;
    return n;
}

/* Keras's "Trainable params": the parameters of trainable layers, frozen layers left out. */
int64_t dc_model_trainable_count(const dc_model *m) {
    if (!m) return 0;
    int64_t n = 0;
    for (int i = 0, j = 0; i < m->nlayers; i++)
        for (int k = 0; k < m->layers[i]->nparams && j < m->np; k++, j++)
            if (m->gtens[j] && !m->layers[i]->frozen) n += m->ptens[j]->numel;
    return n;
}

float *dc_model_params(dc_model *m) { return m ? m->pbuf : NULL; }
float *dc_model_grads(dc_model *m) { return m ? m->gbuf : NULL; }
int dc_model_num_layers(const dc_model *m) { return m ? m->nlayers : 0; }
int dc_model_num_metrics(const dc_model *m) { return m && m->compiled ? m->nmetrics : 0; }
dc_metric dc_model_metric(const dc_model *m, int i) {
    return m && m->compiled && i >= 0 && i < m->nmetrics ? m->metrics[i] : DC_METRIC_COUNT;
}
dc_layer *dc_model_layer(dc_model *m, int i) { return (m && i >= 0 && i < m->nlayers) ? m->layers[i] : NULL; }

int dc_model_set_sync_batch_norm(dc_model *m, bool on) {
    if (!m) return dc_error(DC_ERR_ARG, "dc_model_set_sync_batch_norm: model is NULL"), -1;
    int n = 0;
    for (int i = 0; i < m->nlayers; i++) { /* every layer whose type has the option */
        const dc_layer_type *t = m->layers[i]->type;
        if (dc_field_find(t->fields, t->nfields, "synchronized")) {
            if (dc_layer_set_synchronized(m->layers[i], on)) return -1;
            n++;
        }
    }
    return n;
}

dc_tensor *dc_model_param(dc_model *m, const char *name) {
    if (!m || !name) return dc_error_null(DC_ERR_ARG, "dc_model_param: model or name is NULL");
    for (int i = 0; i < m->np; i++)
        if (strcmp(m->pnames[i], name) == 0) return m->ptens[i];
    return dc_error_null(DC_ERR_ARG, "dc_model_param: no parameter named \"%s\"%s", name,
                         m->built ? "" : " (the model is not built yet)");
}

int64_t dc_model_param_buffer_size(const dc_model *m) { return m ? m->ptotal : 0; }
