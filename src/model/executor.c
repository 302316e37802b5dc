/* The graph executor: one forward pass over the layers in topological order. Each layer gets its
 * inputs' values and masks and the step's arguments in a forward context; the fusions planned at
 * build run as one op. Every output of a layer with several is kept: val[i * MAXO + k] is output
 * k of layer i, which the layers after read by (inputs[j], input_out[j]). */
#include "staging.h"

#include <string.h>

/* Names the layer in the current message, unless it already starts with the layer's name. */
static void name_layer(const dc_layer *l) {
    size_t nl = strlen(l->name);
    if (!(strncmp(dc_last_error(), l->name, nl) == 0 && dc_last_error()[nl] == ':')) dc_error_prefix("%s", l->name); /* keeps the status */
}

/* Whether layer l's output keeps its input's time axis, so a mask on the input still applies. */
static bool keeps_time_axis(const dc_layer *l) { return l->in_ndim >= 2 && l->out_ndim >= 2 && l->out_shape[0] == l->in_shape[0]; }

dc_tensor *dc_model_run_ex(dc_model *m, dc_ctx *c, dc_tensor *const *x, const uint8_t *const *masks, bool training, bool logits,
                           const dc_comm *comm, float comm_w, const uint8_t **out_mask) {
    enum { MAXO = DC_LAYER_MAX_OUTPUTS };
    int L = m->nlayers, last = L - 1;
    dc_tensor **val = dc_scratch(c, (size_t)L * MAXO * sizeof *val);
    const uint8_t **mask = dc_scratch(c, (size_t)L * sizeof *mask); /* output 0's: the other outputs have none */
    if (!val || !mask) return NULL;
    dc_fwd f = {.ctx = c, .training = training, .rng = &m->rng, .comm = comm, .comm_w = comm_w};
    int next_input = 0;
    for (int i = 0; i < L; i++) {
        dc_layer *l = m->layers[i];
        if (l->nin == 0) { /* an input layer */
            mask[i] = masks ? masks[next_input] : NULL;
            val[i * MAXO] = x[next_input++];
            continue;
        }
        dc_tensor *in[DC_LAYER_MAX_INPUTS];
        for (int j = 0; j < l->nin; j++) {
            int src = l->inputs[j] < 0 ? i - 1 : l->inputs[j], k = l->inputs[j] < 0 ? 0 : l->input_out[j];
            in[j] = src < 0 ? x[0] : val[src * MAXO + k];
            f.mask[j] = src < 0 || k ? NULL : mask[src];
        }
        for (int k = 0; k < MAXO; k++) f.out[k] = NULL;
        for (int j = l->nin; j < DC_LAYER_MAX_INPUTS; j++) f.mask[j] = NULL;
        f.out_mask = keeps_time_axis(l) ? f.mask[0] : NULL;
        dc_tensor *y;
        /* a frozen layer runs in inference mode (Keras: a frozen BatchNormalization uses and keeps
         * its running statistics); a fused pair with a frozen member runs as two layers */
        f.training = training && !l->frozen;
        if (m->fuse[i] && !l->frozen && !m->layers[i + 1]->frozen) { /* this layer and the next as one op: the next layer's value */
            dc_layer *next = m->layers[i + 1];
            f.logits = logits && i + 1 == last;
            y = l->type->forward_fused(l, next, &f, in[0]);
            if (!y) return name_layer(l), NULL;
            val[i * MAXO] = NULL;
            mask[i] = NULL;
            l = next;
            i++;
        } else {
            f.logits = logits && i == last;
            y = l->type->forward(l, &f, in, l->nin);
        }
        if (!y) return name_layer(l), NULL;
        val[i * MAXO] = y;
        for (int k = 1; k < dc_layer_nout(l); k++)
            if (!(val[i * MAXO + k] = f.out[k]))
                return dc_error_null(DC_ERR_STATE, "%s: the layer made no output %d of its %d", l->name, k, dc_layer_nout(l));
        mask[i] = f.out_mask;
    }
    if (out_mask) *out_mask = mask[last];
    return val[last * MAXO];
}

dc_tensor *dc_model_run(dc_model *m, dc_ctx *c, dc_tensor *const *x, bool training, bool logits) {
    return dc_model_run_ex(m, c, x, NULL, training, logits, NULL, 1.0f, NULL);
}

dc_tensor *dc_model_forward_masked(dc_model *m, dc_ctx *c, int nx, dc_tensor *const *x, const uint8_t *const *masks, bool training) {
    if (!m || !c || !x) return dc_error_null(DC_ERR_ARG, "dc_model_forward: model, context or input is NULL");
    if (!m->built) return dc_error_null(DC_ERR_STATE, "dc_model_forward: the model is not built");
    if (dc_check_inputs(m, nx, (const dc_tensor *const *)x, "forward")) return NULL;
    return dc_model_run_ex(m, c, x, masks, training, false, NULL, 1.0f, NULL);
}
