/* model: a Sequential stack of layers with one parameter buffer, compile/fit/evaluate/predict. */
#ifndef DC_MODEL_H
#define DC_MODEL_H

#include "../nn/layer.h"
#include "../optim/optim.h"

#define DC_MAX_METRICS 8
#define DC_MODEL_MAX_INPUTS 8

/* How the final activation and the loss are combined. */
typedef enum dc_fusion { DC_FUSE_NONE, DC_FUSE_SOFTMAX_CE, DC_FUSE_SIGMOID_BCE } dc_fusion;

struct dc_model {
    dc_layer **layers; /* in topological order: a layer's inputs come before it */
    int nlayers, cap;
    int in_ndim; /* input 0's shape */
    int64_t in_shape[DC_MAX_DIMS];
    bool has_input, built, compiled;
    bool graph;  /* wired by dc_model_input/dc_model_apply (saved with each layer's inputs) */
    int ninputs; /* InputLayers, in the order the data comes */
    int input_idx[DC_MODEL_MAX_INPUTS];
    /* parameters: one buffer of values, one of gradients, tensors viewing slices of them */
    float *pbuf, *gbuf;
    int64_t ptotal; /* trainable elements (with alignment padding): the optimiser's vector */
    dc_part_seg *part; /* pbuf/gbuf split over threads as the GEMMs split the weights (one per trainable tensor) */
    int npart;
    float *sbuf;    /* non-trainable state (running statistics) */
    int64_t stotal;
    int np;
    dc_tensor **ptens, **gtens; /* every parameter and state tensor; gtens NULL for state */
    char (*pnames)[96]; /* "layer.param": 47 + 1 + 39 + NUL at most */
    /* compile */
    dc_optimizer *opt;
    dc_loss loss;
    dc_metric metrics[DC_MAX_METRICS];
    int nmetrics;
    dc_fusion fusion;
    /* runtime */
    uint64_t seed;
    dc_rng rng; /* initialisation, then dropout */
    dc_ctx *ctx;
    float *xbuf[DC_MODEL_MAX_INPUTS], *ybuf; /* batch staging */
    int64_t batch_cap;
    /* training progress, saved in checkpoints */
    int epoch;             /* epochs completed by the last fit (or restored) */
    dc_history *hist;      /* that fit's history, owned */
    uint64_t fit_seed;     /* its seed */
    int64_t fit_rows, fit_batch; /* its training rows and batch size */
    bool resuming;         /* restored from a checkpoint; the next fit continues it */
};

/* Architecture (and compile settings) as JSON text the caller frees with cJSON_free; NULL on error. */
char *dc_model_arch_json(const dc_model *m);

/* Output shape of the model (without batch) into shape[out_ndim]; returns out_ndim. */
int dc_model_out_shape(const dc_model *m, int64_t *shape);
/* Forward with the final activation applied or, when fused with the loss, skipped (logits);
 * x[i] feeds input i (the caller checked the shapes). */
dc_tensor *dc_model_forward_impl(dc_model *m, dc_ctx *c, dc_tensor *const *x, bool training, bool logits);
/* The shape (without batch) of input i into shape; returns its rank. */
int dc_model_in_shape(const dc_model *m, int i, int64_t *shape);

#endif
