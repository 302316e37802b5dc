/* Models: layers and their wiring (Sequential or graph), building (shape inference, one
 * parameter buffer, the fusion plan) and parameter access. */
#include "model.h"

#include "history.h"

#include <stdio.h>
#include <string.h>

dc_model *dc_sequential(void) {
    dc_model *m = dc_calloc(1, sizeof *m);
    if (!m) return NULL;
    m->seed = 42;
    return m;
}

void dc_model_free(dc_model *m) {
    if (!m) return;
    for (int i = 0; i < m->nlayers; i++) dc_layer_free(m->layers[i]);
    dc_free(m->layers);
    dc_free(m->name_slot);
    dc_free(m->type_count);
    dc_model_free_params(m);
    dc_optimizer_free(m->opt);
    dc_ctx_free(m->ctx);
    for (int i = 0; i < DC_MODEL_MAX_INPUTS; i++) dc_free(m->xbuf[i]);
    dc_free(m->ybuf);
    dc_free(m->wbuf);
    dc_history_free(m->hist);
    dc_free(m);
}

dc_status dc_model_set_seed(dc_model *m, uint64_t seed) {
    if (!m) return dc_error(DC_ERR_ARG, "dc_model_set_seed: model is NULL");
    if (m->built) return dc_error(DC_ERR_STATE, "dc_model_set_seed: the model is already built; set the seed before");
    m->seed = seed;
    return DC_OK;
}

/* ---- the layers by name, and per type: a hash table and counters, so that adding or finding a
 * layer does not scan the model (a file of many layers loads in time linear in their count) ---- */

static uint32_t name_hash(const char *s) { /* FNV-1a */
    uint32_t h = 2166136261u;
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 16777619u;
    return h;
}

/* The slot of name in the table: the one holding the layer of that name, or the empty slot where
 * it would go. Entries are compared by the layers' current names. */
static int name_slot(const dc_model *m, const char *name) {
    uint32_t mask = (uint32_t)m->name_cap - 1, i = name_hash(name) & mask;
    while (m->name_slot[i] && strcmp(m->layers[m->name_slot[i] - 1]->name, name) != 0) i = (i + 1) & mask;
    return (int)i;
}

int dc_model_find_layer(const dc_model *m, const char *name) {
    if (!m || !name || !m->name_cap) return -1;
    int i = name_slot(m, name);
    return m->name_slot[i] - 1;
}

/* Rebuilds the table for the layers [0, nlayers) with room for `room` of them; *dup gets the
 * index of a layer whose name an earlier one already has (-1 when none). */
static dc_status reindex(dc_model *m, int room, int *dup) {
    int cap = 16;
    while (cap < 2 * room) cap *= 2;
    int *slot = dc_calloc((size_t)cap, sizeof *slot);
    if (!slot) return DC_ERR_NOMEM;
    dc_free(m->name_slot);
    m->name_slot = slot;
    m->name_cap = cap;
    *dup = -1;
    for (int k = 0; k < m->nlayers; k++) {
        int i = name_slot(m, m->layers[k]->name);
        if (m->name_slot[i]) {
            if (*dup < 0) *dup = k;
        } else {
            m->name_slot[i] = k + 1;
        }
    }
    return DC_OK;
}

/* The count of layers of type t added so far. */
static int *type_count(dc_model *m, const dc_layer_type *t) {
    for (int i = 0; i < m->ntypes; i++)
        if (m->type_count[i].type == t) return &m->type_count[i].n;
    return NULL;
}

/* Records l, now m->layers[m->nlayers - 1], in the name table and the type counts (room for
 * both was made by make_room). */
static void index_layer(dc_model *m, dc_layer *l) {
    int i = name_slot(m, l->name);
    if (!m->name_slot[i]) m->name_slot[i] = m->nlayers;
    int *n = type_count(m, l->type);
    if (n) (*n)++;
    else m->type_count[m->ntypes++] = (dc_type_count){l->type, 1};
}

/* Keras naming: dense, dense_1, dense_2, ... per layer type. */
static void auto_name(dc_model *m, dc_layer *l) {
    if (l->named) return;
    const int *n = type_count(m, l->type);
    for (int count = n ? *n : 0;; count++) { /* skip names the user gave to other layers */
        if (count) snprintf(l->name, sizeof l->name, "%s_%d", l->type->stem, count);
        else snprintf(l->name, sizeof l->name, "%s", l->type->stem);
        if (dc_model_find_layer(m, l->name) < 0) return;
    }
}

/* ---- layers that failed before they reached the model ---- */

/* Records the first layer handed to the model that is NULL: its constructor failed, and its
 * error is the current one (unless none was set). */
static void record_failed(dc_model *m) {
    if (m->failed[0]) return;
    bool set = dc_last_status() && dc_last_error()[0];
    snprintf(m->failed, sizeof m->failed, "%s", set ? dc_last_error() : "the layer is NULL and no error was recorded");
}

dc_status dc_model_check_layers(const dc_model *m, const char *who) {
    if (!m || !m->failed[0]) return DC_OK;
    return dc_error(DC_ERR_STATE, "%s: the model was given a layer that failed: %s", who, m->failed);
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
    l->nout = 0; /* build says when there are more than one */
    dc_status s = dc_layer_check(l);
    if (!s) s = l->type->build(l);
    if (!s) l->built = true;
    return s;
}

dc_status dc_model_connect1(dc_layer *l, int ndim, const int64_t *shape) {
    int64_t sh[1][DC_MAX_DIMS];
    memset(sh, 0, sizeof sh);
    memcpy(sh[0], shape, (size_t)ndim * sizeof *shape);
    l->inputs[0] = -1;
    l->input_out[0] = 0;
    return connect(l, 1, &ndim, (const int64_t(*)[DC_MAX_DIMS])sh);
}

static bool is_input_layer(const dc_layer *l) { return (l->type->flags & DC_LAYER_INPUT) != 0; }

/* Room for one more layer (in the array, the name table and the type counts) and a unique name
 * for l; frees l on failure. */
static dc_status make_room(dc_model *m, dc_layer *l, const char *who) {
    dc_status s = DC_OK;
    if (m->built) {
        s = dc_error(DC_ERR_STATE, "%s: model is already built; add layers before build/compile", who);
    } else if (m->nlayers >= DC_MODEL_MAX_LAYERS) {
        s = dc_error(DC_ERR_ARG, "%s: a model holds at most %d layers", who, DC_MODEL_MAX_LAYERS);
    } else if (m->nlayers == m->cap) {
        int cap = m->cap ? DC_MIN(m->cap * 2, DC_MODEL_MAX_LAYERS) : 8;
        dc_layer **nl = dc_realloc(m->layers, (size_t)cap * sizeof *nl);
        if (nl) {
            m->layers = nl;
            m->cap = cap;
        } else {
            s = DC_ERR_NOMEM;
        }
    }
    int dup;
    if (!s && 2 * (m->nlayers + 1) > m->name_cap) s = reindex(m, m->cap, &dup);
    if (!s && m->ntypes == m->types_cap && !type_count(m, l->type)) {
        int cap = m->types_cap ? m->types_cap * 2 : 8;
        dc_type_count *nt = dc_realloc(m->type_count, (size_t)cap * sizeof *nt);
        if (nt) {
            m->type_count = nt;
            m->types_cap = cap;
        } else {
            s = DC_ERR_NOMEM;
        }
    }
    if (!s) {
        auto_name(m, l);
        int i = dc_model_find_layer(m, l->name);
        if (i >= 0) s = dc_error(DC_ERR_ARG, "%s: a layer named \"%s\" is already in the model (layer %d)", who, l->name, i);
    }
    if (s) dc_layer_free(l);
    return s;
}

/* Appends l (room made by make_room). */
static void append(dc_model *m, dc_layer *l) {
    m->layers[m->nlayers++] = l;
    index_layer(m, l);
}

/* Records input layer l (already in room) as the model's next input. */
static dc_status add_input(dc_model *m, dc_layer *l, const char *who) {
    if (m->ninputs == DC_MODEL_MAX_INPUTS) {
        dc_layer_free(l);
        return dc_error(DC_ERR_ARG, "%s: a model takes at most %d inputs", who, DC_MODEL_MAX_INPUTS);
    }
    dc_status s = l->type->build(l); /* its shape is its option */
    if (s) {
        dc_layer_free(l);
        return s;
    }
    l->built = true;
    if (m->ninputs == 0) {
        m->has_input = true;
        m->in_ndim = l->in_ndim;
        memcpy(m->in_shape, l->in_shape, sizeof m->in_shape);
    }
    l->nin = 0;
    m->input_idx[m->ninputs++] = m->nlayers;
    append(m, l);
    return DC_OK;
}

dc_status dc_model_add(dc_model *m, dc_layer *l) {
    if (!m) {
        dc_layer_free(l);
        return dc_error(DC_ERR_ARG, "dc_model_add: model is NULL");
    }
    if (!l) { /* its constructor failed: the model refuses to build without it */
        record_failed(m);
        return dc_error(DC_ERR_ARG, "dc_model_add: the layer is NULL: %s", m->failed);
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
        if ((s = dc_model_connect1(l, prev->out_ndim, prev->out_shape))) {
            dc_layer_free(l);
            return s;
        }
        if (m->graph) l->inputs[0] = m->nlayers - 1;
    }
    append(m, l);
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

/* Output k of node i travels as one int, i + k * OUTPUT_STRIDE: above every node id, so output 0
 * is the node id itself. */
#define OUTPUT_STRIDE (1 << 20)
_Static_assert(DC_MODEL_MAX_LAYERS < OUTPUT_STRIDE && DC_LAYER_MAX_OUTPUTS <= INT32_MAX / OUTPUT_STRIDE,
               "output handles must stay above the node ids and fit an int");

int dc_model_num_outputs(const dc_model *m, int node) {
    if (!m || node < 0 || node >= m->nlayers)
        return dc_error(DC_ERR_ARG, "dc_model_num_outputs: node %d, but the model has nodes 0..%d", node, m ? m->nlayers - 1 : -1),
               -1;
    return dc_layer_nout(m->layers[node]);
}

/* "k outputs (0..k-1)" of layer l, for messages. */
static const char *outputs_str(const dc_layer *l, char *buf, size_t size) {
    int n = dc_layer_nout(l);
    if (n == 1) snprintf(buf, size, "1 output (0)");
    else snprintf(buf, size, "%d outputs (0..%d)", n, n - 1);
    return buf;
}

int dc_model_output_of(dc_model *m, int node, int k) {
    if (!m) return dc_error(DC_ERR_ARG, "dc_model_output_of: model is NULL"), -1;
    if (node < 0 || node >= m->nlayers)
        return dc_error(DC_ERR_ARG, "dc_model_output_of: node %d, but the model has nodes 0..%d", node, m->nlayers - 1), -1;
    const dc_layer *l = m->layers[node];
    if (k < 0 || k >= dc_layer_nout(l)) {
        char b[48];
        return dc_error(DC_ERR_ARG, "dc_model_output_of: output %d of %s (%s, node %d), which has %s", k, l->name, l->type->name,
                        node, outputs_str(l, b, sizeof b)),
               -1;
    }
    return node + k * OUTPUT_STRIDE;
}

int dc_model_apply(dc_model *m, dc_layer *l, int n, const int *inputs) {
    if (m && !l) { /* its constructor failed: the model refuses to build without it */
        record_failed(m);
        return dc_error(DC_ERR_ARG, "dc_model_apply: the layer is NULL: %s", m->failed), -1;
    }
    if (!m || !l || n < 1 || !inputs) {
        dc_layer_free(l);
        return dc_error(DC_ERR_ARG, "dc_model_apply: model, layer or inputs is NULL, or n = %d < 1", n), -1;
    }
    const char *lname = l->named ? l->name : l->type->stem;
    if (is_input_layer(l)) {
        dc_layer_free(l);
        return dc_error(DC_ERR_ARG, "dc_model_apply: inputs are added with dc_model_input"), -1;
    }
    int most = l->type->max_inputs > 1 ? l->type->max_inputs : 1;
    if (n > most) {
        dc_status s = dc_error(DC_ERR_ARG, "dc_model_apply: %s (%s) takes %s%d input%s, got %d", lname, l->type->name,
                               most > 1 ? "at most " : "", most, most > 1 ? "s" : "", n);
        dc_layer_free(l);
        return (void)s, -1;
    }
    int nd[DC_LAYER_MAX_INPUTS], node[DC_LAYER_MAX_INPUTS], out[DC_LAYER_MAX_INPUTS];
    int64_t sh[DC_LAYER_MAX_INPUTS][DC_MAX_DIMS];
    memset(sh, 0, sizeof sh);
    for (int i = 0; i < n; i++) {
        node[i] = inputs[i] >= 0 ? inputs[i] % OUTPUT_STRIDE : inputs[i]; /* output k of a node: dc_model_output_of */
        out[i] = inputs[i] >= 0 ? inputs[i] / OUTPUT_STRIDE : 0;
        if (node[i] < 0 || node[i] >= m->nlayers) {
            dc_status s = dc_error(DC_ERR_ARG, "dc_model_apply: %s: input %d is node %d, but the model has nodes 0..%d", lname, i,
                                   node[i], m->nlayers - 1);
            dc_layer_free(l);
            return (void)s, -1;
        }
        const dc_layer *src = m->layers[node[i]];
        if (out[i] >= dc_layer_nout(src)) {
            char b[48];
            dc_status s = dc_error(DC_ERR_ARG, "dc_model_apply: %s: input %d reads output %d of %s (%s, node %d), which has %s", lname,
                                   i, out[i], src->name, src->type->name, node[i], outputs_str(src, b, sizeof b));
            dc_layer_free(l);
            return (void)s, -1;
        }
        if (!src->out_ndim) {
            dc_layer_free(l);
            return dc_error(DC_ERR_STATE, "dc_model_apply: %s: node %d (%s) has no known shape; start from dc_model_input", lname,
                            node[i], src->name), -1;
        }
        nd[i] = dc_layer_out_shape_k(src, out[i], sh[i]);
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
    memcpy(l->inputs, node, (size_t)n * sizeof *node);
    memcpy(l->input_out, out, (size_t)n * sizeof *out);
    int id = m->nlayers;
    append(m, l);
    return id;
}

dc_status dc_model_check_names(dc_model *m, const char *who) {
    int dup;
    dc_status s = reindex(m, m->cap, &dup);
    if (s || dup < 0) return s;
    int first = dc_model_find_layer(m, m->layers[dup]->name);
    return dc_error(DC_ERR_ARG, "%s: layers %d and %d are both named \"%s\" (a layer renamed after it was added)", who, first, dup,
                    m->layers[dup]->name);
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

