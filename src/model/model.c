/* Sequential model: layers, building (shape inference + one parameter buffer), compile,
 * summary and parameter access. */
#include "model.h"

#include "history.h"

#include <stdio.h>
#include <string.h>

static const char *const metric_names[] = {"accuracy", "mae", "mse"};
_Static_assert(DC_ARRAY_LEN(metric_names) == DC_METRIC_COUNT, "metric name table");
const char *dc_metric_name(dc_metric m) { return (unsigned)m < DC_METRIC_COUNT ? metric_names[m] : "unknown"; }

dc_model *dc_sequential(void) {
    dc_model *m = dc_calloc(1, sizeof *m);
    if (!m) return NULL;
    m->seed = 42;
    return m;
}

static void free_params(dc_model *m) {
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
    m->part = NULL;
    m->npart = 0;
    m->ptens = m->gtens = NULL;
    m->pnames = NULL;
    m->pbuf = m->gbuf = m->sbuf = NULL;
    m->np = 0;
    m->ptotal = m->stotal = 0;
}

void dc_model_free(dc_model *m) {
    if (!m) return;
    for (int i = 0; i < m->nlayers; i++) dc_layer_free(m->layers[i]);
    dc_free(m->layers);
    free_params(m);
    dc_optimizer_free(m->opt);
    dc_ctx_free(m->ctx);
    for (int i = 0; i < DC_MODEL_MAX_INPUTS; i++) dc_free(m->xbuf[i]);
    dc_free(m->ybuf);
    dc_history_free(m->hist);
    dc_free(m);
}

dc_status dc_model_set_seed(dc_model *m, uint64_t seed) {
    if (!m) return dc_error(DC_ERR_ARG, "dc_model_set_seed: model is NULL");
    if (m->built) return dc_error(DC_ERR_STATE, "dc_model_set_seed: the model is already built; set the seed before");
    m->seed = seed;
    return DC_OK;
}

/* Keras naming: dense, dense_1, dense_2, ... per layer type. */
static void auto_name(dc_model *m, dc_layer *l) {
    if (l->named) return;
    int count = 0;
    for (int i = 0; i < m->nlayers; i++)
        if (m->layers[i]->ops == l->ops) count++;
    for (;; count++) { /* skip names the user gave to other layers */
        if (count) snprintf(l->name, sizeof l->name, "%s_%d", l->ops->base, count);
        else snprintf(l->name, sizeof l->name, "%s", l->ops->base);
        bool taken = false;
        for (int i = 0; i < m->nlayers && !taken; i++) taken = strcmp(m->layers[i]->name, l->name) == 0;
        if (!taken) return;
    }
}

/* Sets l's n input shapes (from the layers feeding it) and builds it: its output shape and
 * its parameter declarations. */
static dc_status connect(dc_layer *l, int n, const int *ndims, const int64_t (*shapes)[DC_MAX_DIMS]) {
    l->nin = n;
    for (int i = 0; i < n; i++) {
        l->xin_ndim[i] = ndims[i];
        memcpy(l->xin_shape[i], shapes[i], sizeof l->xin_shape[i]);
    }
    l->in_ndim = ndims[0];
    memcpy(l->in_shape, shapes[0], sizeof l->in_shape);
    l->nparams = 0;
    return l->ops->build(l);
}

static dc_status connect1(dc_layer *l, int ndim, const int64_t *shape) {
    int64_t sh[1][DC_MAX_DIMS];
    memset(sh, 0, sizeof sh);
    memcpy(sh[0], shape, (size_t)ndim * sizeof *shape);
    l->inputs[0] = -1;
    return connect(l, 1, &ndim, (const int64_t(*)[DC_MAX_DIMS])sh);
}

static bool is_input_layer(const dc_layer *l) { return strcmp(l->ops->type, "InputLayer") == 0; }

/* Room for one more layer and a unique name for l; frees l on failure. */
static dc_status make_room(dc_model *m, dc_layer *l, const char *who) {
    if (m->built) {
        dc_layer_free(l);
        return dc_error(DC_ERR_STATE, "%s: model is already built; add layers before build/compile", who);
    }
    if (m->nlayers == m->cap) {
        int cap = m->cap ? m->cap * 2 : 8;
        dc_layer **nl = dc_realloc(m->layers, (size_t)cap * sizeof *nl);
        if (!nl) {
            dc_layer_free(l);
            return DC_ERR_NOMEM;
        }
        m->layers = nl;
        m->cap = cap;
    }
    auto_name(m, l);
    for (int i = 0; i < m->nlayers; i++)
        if (strcmp(m->layers[i]->name, l->name) == 0) {
            dc_status s = dc_error(DC_ERR_ARG, "%s: a layer named \"%s\" is already in the model (layer %d)", who, l->name, i);
            dc_layer_free(l);
            return s;
        }
    return DC_OK;
}

/* Records input layer l (already in room) as the model's next input. */
static dc_status add_input(dc_model *m, dc_layer *l, const char *who) {
    if (m->ninputs == DC_MODEL_MAX_INPUTS) {
        dc_layer_free(l);
        return dc_error(DC_ERR_ARG, "%s: a model takes at most %d inputs", who, DC_MODEL_MAX_INPUTS);
    }
    if (m->ninputs == 0) {
        m->has_input = true;
        m->in_ndim = l->in_ndim;
        memcpy(m->in_shape, l->in_shape, sizeof m->in_shape);
    }
    l->nin = 0;
    m->input_idx[m->ninputs++] = m->nlayers;
    m->layers[m->nlayers++] = l;
    return DC_OK;
}

dc_status dc_model_add(dc_model *m, dc_layer *l) {
    if (!m || !l) {
        dc_layer_free(l);
        return m ? DC_ERR_ARG : dc_error(DC_ERR_ARG, "dc_model_add: model is NULL");
    }
    bool is_input = is_input_layer(l);
    if (is_input && !m->graph && (m->nlayers > 0 || m->has_input)) {
        dc_layer_free(l);
        return dc_error(DC_ERR_STATE, "dc_model_add: an input layer must come first and only once (dc_model_input adds "
                                      "the inputs of a model with several)");
    }
    dc_status s = make_room(m, l, "dc_model_add");
    if (s) return s;
    if (is_input) return add_input(m, l, "dc_model_add");
    if (m->has_input) {
        const dc_layer *prev = m->layers[m->nlayers - 1];
        if ((s = connect1(l, prev->out_ndim, prev->out_shape))) {
            dc_layer_free(l);
            return s;
        }
        if (m->graph) l->inputs[0] = m->nlayers - 1;
    }
    m->layers[m->nlayers++] = l;
    return DC_OK;
}

int dc_model_input(dc_model *m, const char *name, int ndim, const int64_t *shape) {
    if (!m) return dc_error(DC_ERR_ARG, "dc_model_input: model is NULL"), -1;
    if (m->nlayers > 0 && !m->has_input)
        return dc_error(DC_ERR_STATE, "dc_model_input: the model's layers were added without an input; add the inputs first"), -1;
    dc_layer *l = dc_input(ndim, shape);
    if (!l) return dc_error_prefix("dc_model_input"), -1;
    if (name && dc_layer_set_name(l, name)) {
        dc_layer_free(l);
        return dc_error_prefix("dc_model_input"), -1;
    }
    if (m->nlayers > 0 && !m->graph) { /* a Sequential with an input becomes a graph */
        for (int i = 1; i < m->nlayers; i++) m->layers[i]->inputs[0] = i - 1;
    }
    if (make_room(m, l, "dc_model_input")) return -1;
    m->graph = true;
    int id = m->nlayers;
    return add_input(m, l, "dc_model_input") ? -1 : id;
}

int dc_model_apply(dc_model *m, dc_layer *l, int n, const int *inputs) {
    if (!m || !l || n < 1 || !inputs) {
        dc_layer_free(l);
        return dc_error(DC_ERR_ARG, "dc_model_apply: model, layer or inputs is NULL, or n = %d < 1", n), -1;
    }
    const char *lname = l->named ? l->name : l->ops->base;
    if (is_input_layer(l)) {
        dc_layer_free(l);
        return dc_error(DC_ERR_ARG, "dc_model_apply: inputs are added with dc_model_input"), -1;
    }
    int most = l->ops->forward_n ? l->ops->max_inputs : 1;
    if (n > most) {
        dc_status s = dc_error(DC_ERR_ARG, "dc_model_apply: %s (%s) takes %s%d input%s, got %d", lname, l->ops->type,
                               most > 1 ? "at most " : "", most, most > 1 ? "s" : "", n);
        dc_layer_free(l);
        return (void)s, -1;
    }
    int nd[DC_LAYER_MAX_INPUTS];
    int64_t sh[DC_LAYER_MAX_INPUTS][DC_MAX_DIMS];
    memset(sh, 0, sizeof sh);
    for (int i = 0; i < n; i++) {
        if (inputs[i] < 0 || inputs[i] >= m->nlayers) {
            dc_status s = dc_error(DC_ERR_ARG, "dc_model_apply: %s: input %d is node %d, but the model has nodes 0..%d", lname, i,
                                   inputs[i], m->nlayers - 1);
            dc_layer_free(l);
            return (void)s, -1;
        }
        const dc_layer *src = m->layers[inputs[i]];
        if (!src->out_ndim) {
            dc_layer_free(l);
            return dc_error(DC_ERR_STATE, "dc_model_apply: %s: node %d (%s) has no known shape; start from dc_model_input", lname,
                            inputs[i], src->name), -1;
        }
        nd[i] = src->out_ndim;
        memcpy(sh[i], src->out_shape, (size_t)src->out_ndim * sizeof sh[i][0]);
    }
    if (m->nlayers > 0 && !m->has_input) {
        dc_layer_free(l);
        return dc_error(DC_ERR_STATE, "dc_model_apply: the model's layers were added without an input"), -1;
    }
    if (make_room(m, l, "dc_model_apply")) return -1;
    if (!m->graph)
        for (int i = 1; i < m->nlayers; i++) m->layers[i]->inputs[0] = i - 1;
    m->graph = true;
    dc_status s = connect(l, n, nd, (const int64_t(*)[DC_MAX_DIMS])sh);
    if (s) {
        dc_layer_free(l);
        return -1;
    }
    memcpy(l->inputs, inputs, (size_t)n * sizeof *inputs);
    int id = m->nlayers;
    m->layers[m->nlayers++] = l;
    return id;
}

int dc_model_num_inputs(const dc_model *m) { return m ? (m->ninputs ? m->ninputs : 1) : 0; }

int dc_model_input_shape(const dc_model *m, int i, int64_t *shape) {
    if (!m || !shape) return dc_error(DC_ERR_ARG, "dc_model_input_shape: model or shape is NULL"), -1;
    if (i < 0 || i >= dc_model_num_inputs(m))
        return dc_error(DC_ERR_ARG, "dc_model_input_shape: input %d of a model with %d", i, dc_model_num_inputs(m)), -1;
    if (!m->has_input && !m->built) return dc_error(DC_ERR_STATE, "dc_model_input_shape: the input shape is not known yet"), -1;
    return dc_model_in_shape(m, i, shape);
}

int dc_model_in_shape(const dc_model *m, int i, int64_t *shape) {
    if (m->ninputs == 0 || i == 0) {
        memcpy(shape, m->in_shape, (size_t)m->in_ndim * sizeof *shape);
        return m->in_ndim;
    }
    const dc_layer *l = m->layers[m->input_idx[i]];
    memcpy(shape, l->in_shape, (size_t)l->in_ndim * sizeof *shape);
    return l->in_ndim;
}

int dc_model_out_shape(const dc_model *m, int64_t *shape) {
    const dc_layer *last = m->layers[m->nlayers - 1];
    memcpy(shape, last->out_shape, (size_t)last->out_ndim * sizeof *shape);
    return last->out_ndim;
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
                p->requires_grad = true;
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
        if (l->ops->post_init) l->ops->post_init(l);
    }
    return DC_OK;
}

dc_status dc_model_build(dc_model *m, int ndim, const int64_t *input_shape) {
    if (!m) return dc_error(DC_ERR_ARG, "dc_model_build: model is NULL");
    if (m->built) return DC_OK;
    if (m->nlayers == 0 || (m->has_input && m->nlayers == 1))
        return dc_error(DC_ERR_STATE, "dc_model_build: the model has no layers");
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
            dc_status s = connect1(m->layers[i], nd, sh);
            if (s) return s;
            nd = m->layers[i]->out_ndim;
            memcpy(sh, m->layers[i]->out_shape, sizeof sh);
        }
    }
    dc_status s = alloc_params(m);
    if (s) {
        free_params(m);
        return s;
    }
    if (!m->ctx && !(m->ctx = dc_ctx_new())) return DC_ERR_NOMEM;
    m->built = true;
    return DC_OK;
}

dc_status dc_model_compile(dc_model *m, dc_optimizer *opt, dc_loss loss, const dc_metric *metrics, int nmetrics) {
    if (!m || !opt) {
        dc_optimizer_free(opt);
        return dc_error(DC_ERR_ARG, "dc_model_compile: model or optimizer is NULL");
    }
    dc_optimizer_free(m->opt);
    m->opt = opt;
    if ((unsigned)loss >= DC_LOSS_COUNT) return dc_error(DC_ERR_ARG, "dc_model_compile: unknown loss %d", (int)loss);
    if (nmetrics < 0 || nmetrics > DC_MAX_METRICS || (nmetrics && !metrics))
        return dc_error(DC_ERR_ARG, "dc_model_compile: %d metrics (at most %d)", nmetrics, DC_MAX_METRICS);
    for (int i = 0; i < nmetrics; i++)
        if ((unsigned)metrics[i] >= DC_METRIC_COUNT) return dc_error(DC_ERR_ARG, "dc_model_compile: unknown metric %d", (int)metrics[i]);
    if (!m->built) {
        if (!m->has_input)
            return dc_error(DC_ERR_STATE, "dc_model_compile: input shape unknown: add dc_input(...) first or call dc_model_build");
        dc_status s = dc_model_build(m, 0, NULL);
        if (s) return s;
    }
    m->loss = loss;
    m->nmetrics = nmetrics;
    if (nmetrics) memcpy(m->metrics, metrics, (size_t)nmetrics * sizeof *metrics);
    dc_layer *last = m->layers[m->nlayers - 1];
    for (int i = 0; i < m->nlayers; i++) m->layers[i]->skip_act = false;
    dc_activation a = last->act;
    bool has_act = strcmp(last->ops->type, "Dense") == 0 || strcmp(last->ops->type, "Activation") == 0;
    m->fusion = DC_FUSE_NONE; /* softmax is over the last axis: per-step predictions are rows of [N T, classes] */
    if (has_act && a == DC_ACT_SOFTMAX && (loss == DC_LOSS_CCE || loss == DC_LOSS_SPARSE_CCE))
        m->fusion = DC_FUSE_SOFTMAX_CE;
    else if (has_act && a == DC_ACT_SIGMOID && loss == DC_LOSS_BCE)
        m->fusion = DC_FUSE_SIGMOID_BCE;
    m->compiled = true;
    return DC_OK;
}

int64_t dc_model_param_count(const dc_model *m) {
    if (!m) return 0;
    int64_t n = 0;
    for (int i = 0; i < m->np; i++) n += m->ptens[i]->numel;
    return n;
}

int64_t dc_model_trainable_count(const dc_model *m) {
    if (!m) return 0;
    int64_t n = 0;
    for (int i = 0; i < m->np; i++)
        if (m->gtens[i]) n += m->ptens[i]->numel;
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
    for (int i = 0; i < m->nlayers; i++)
        if (strcmp(dc_layer_type(m->layers[i]), "BatchNormalization") == 0 && dc_layer_set_synchronized(m->layers[i], on) == DC_OK) n++;
    return n;
}

dc_tensor *dc_model_param(dc_model *m, const char *name) {
    if (!m || !name) return dc_error_null(DC_ERR_ARG, "dc_model_param: model or name is NULL");
    for (int i = 0; i < m->np; i++)
        if (strcmp(m->pnames[i], name) == 0) return m->ptens[i];
    return dc_error_null(DC_ERR_ARG, "dc_model_param: no parameter named \"%s\"%s", name,
                         m->built ? "" : " (the model is not built yet)");
}

static void print_commas(char *buf, size_t size, int64_t v) {
    char tmp[32];
    int n = snprintf(tmp, sizeof tmp, "%lld", (long long)v), o = 0;
    for (int i = 0; i < n && (size_t)o + 2 < size; i++) {
        if (i && (n - i) % 3 == 0) buf[o++] = ',';
        buf[o++] = tmp[i];
    }
    buf[o] = 0;
}

void dc_model_summary(const dc_model *m, FILE *f) {
    if (!m || !f) return;
    const char *line = "______________________________________________________________________";
    const char *dline = "======================================================================";
    if (m->graph)
        fprintf(f, "Model: \"model\"\n%s%s\n %-30s %-25s %-10s %s\n%s%s\n", line, "______________________", "Layer (type)",
                "Output Shape", "Param #", "Connected to", dline, "======================");
    else
        fprintf(f, "Model: \"sequential\"\n%s\n %-30s %-25s %s\n%s\n", line, "Layer (type)", "Output Shape", "Param #", dline);
    int64_t total = 0, trainable = 0;
    bool first = true;
    for (int i = 0; i < m->nlayers; i++) {
        const dc_layer *l = m->layers[i];
        /* a Sequential's input is hidden, as Keras does; a graph lists its inputs */
        if (l->ops->build == NULL || (!m->graph && strcmp(l->ops->type, "InputLayer") == 0)) continue;
        if (!first) fprintf(f, "\n");
        first = false;
        char nm[96], shp[160], cnt[32];
        snprintf(nm, sizeof nm, "%s (%s)", l->name, l->ops->type);
        int64_t n = 0;
        for (int k = 0; k < l->nparams; k++) {
            int64_t e = 1;
            for (int d = 0; d < l->decl[k].ndim; d++) e *= l->decl[k].shape[d];
            n += e;
            if (l->decl[k].trainable) trainable += e;
        }
        total += n;
        if (l->out_ndim) {
            int o = snprintf(shp, sizeof shp, "(None");
            for (int d = 0; d < l->out_ndim && o < (int)sizeof shp; d++)
                o += snprintf(shp + o, sizeof shp - (size_t)o, ", %lld", (long long)l->out_shape[d]);
            if (o < (int)sizeof shp) snprintf(shp + o, sizeof shp - (size_t)o, ")");
        } else {
            snprintf(shp, sizeof shp, "(not built)");
        }
        print_commas(cnt, sizeof cnt, n);
        if (m->graph) {
            char con[160] = "";
            int o = 0;
            for (int k = 0; k < l->nin && o < (int)sizeof con; k++)
                o += snprintf(con + o, sizeof con - (size_t)o, "%s%s", k ? ", " : "", m->layers[l->inputs[k] < 0 ? i - 1 : l->inputs[k]]->name);
            fprintf(f, " %-30s %-25s %-10s %s\n", nm, shp, cnt, con);
        } else {
            fprintf(f, " %-30s %-25s %s\n", nm, shp, cnt);
        }
    }
    char tot[32], tr[32], nt[32];
    print_commas(tot, sizeof tot, total);
    print_commas(tr, sizeof tr, trainable);
    print_commas(nt, sizeof nt, total - trainable);
    fprintf(f, "%s%s\n", dline, m->graph ? "======================" : "");
    fprintf(f, "Total params: %s\nTrainable params: %s\nNon-trainable params: %s\n%s%s\n", tot, tr, nt, line,
            m->graph ? "______________________" : "");
}

int64_t dc_model_param_buffer_size(const dc_model *m) { return m ? m->ptotal : 0; }
