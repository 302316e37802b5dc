/* model: Sequential and graph models over one parameter buffer. The floor is split by job:
 *   model.c      layers and their wiring
 *   params.c     build: the parameter buffers, initialisation, the fusion plan; parameter access
 *   summary.c    the Keras-style summary
 *   executor.c   the graph executor: one forward pass over the layers with the forward context
 *   objective.c  compile: the loss and metric tables, a user loss, the loss/activation fusion
 *   step.c       the training step: forward, loss, backward, the optimiser's update
 *   trainer.c    the fit loop and its callbacks' hooks (fit.h: what it shares with the next two)
 *   fit_setup.c  a fit's arguments, where it starts, what every rank must agree on
 *   progress.c   the progress bar and the per-epoch lines
 *   callbacks.c  early stopping
 *   infer.c      evaluate and predict
 *   staging.c    checking the data and staging batches, shared by the trainer and inference
 *   history.c    per-epoch history */
#ifndef DC_MODEL_H
#define DC_MODEL_H

#include "deepc/model.h"

#include "../base/comm.h"
#include "../nn/layer.h"
#include "../optim/optim.h"

#define DC_MAX_METRICS 8
#define DC_MODEL_MAX_INPUTS 8
/* The most layers a model holds, built in code or read from a file. */
#define DC_MODEL_MAX_LAYERS 100000

/* Layers of one type added so far (their automatic names count them). */
typedef struct dc_type_count {
    const dc_layer_type *type;
    int n;
} dc_type_count;

/* How the final activation and the loss are combined (decided once, by compile). */
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
    /* the layers by name: open addressing, slot = layer index + 1 (0 empty), at most half full,
     * and the count of layers of each type, so that adding a layer costs the same at any size */
    int *name_slot;
    int name_cap;
    dc_type_count *type_count;
    int ntypes, types_cap;
    /* the first error of a layer that failed before it reached the model (dc_model_add or
     * dc_model_apply given NULL): build and compile refuse while it is set ("" when none) */
    char failed[320];
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
    /* the plan, made by build: fuse[i] when layer i runs as one op with layer i + 1 (which then
     * runs no forward of its own) */
    bool *fuse;
    /* compile */
    dc_optimizer *opt;
    dc_loss loss;
    dc_loss_fn user_loss; /* a loss of the user's (compile_custom), else NULL */
    void *user_loss_data;
    dc_loss_opts loss_opts; /* from_logits, label smoothing, delta, gamma, alpha */
    bool loss_opts_set;     /* given by dc_model_set_loss_options (compile keeps them) */
    /* weights of a fit (dc_fit_opts): class_weight [K] weighs each class's term of the loss;
     * sample_weight [N] the rows of sw_y (the training targets), staged per batch in wbuf */
    const dc_tensor *class_weight, *sample_weight, *sw_y;
    float *wbuf;
    bool batch_weighted; /* the staged batch's rows have their weights in wbuf */
    bool training_loss;  /* the loss being computed is a training step's */
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

/* One forward pass of the graph (executor.c): x[i] feeds input i (the caller checked the
 * shapes), masks[i] (masks or masks[i] may be NULL) is its time-step mask. With logits and a
 * fused loss, the last layer leaves out its activation. comm and comm_w reach the layers that
 * synchronise across ranks (NULL and 1 in one process). out_mask (NULL: not wanted) gets the
 * output's time-step mask ([N * T] bytes in c's arena), NULL when it carries none. */
dc_tensor *dc_model_run_ex(dc_model *m, dc_ctx *c, dc_tensor *const *x, const uint8_t *const *masks, bool training, bool logits,
                           const dc_comm *comm, float comm_w, const uint8_t **out_mask);
dc_tensor *dc_model_run(dc_model *m, dc_ctx *c, dc_tensor *const *x, bool training, bool logits);

/* Output shape of the model (without batch) into shape[out_ndim]; returns out_ndim. */
int dc_model_out_shape(const dc_model *m, int64_t *shape);
/* The shape (without batch) of input i into shape; returns its rank. */
int dc_model_in_shape(const dc_model *m, int i, int64_t *shape);

/* The plan of fusions between neighbouring layers (params.c, at build). */
dc_status dc_model_plan(dc_model *m);
/* Feeds layer l one input of shape ndim/shape and builds it (model.c). */
dc_status dc_model_connect1(dc_layer *l, int ndim, const int64_t *shape);
/* Frees the parameter buffers and tensors (params.c). */
void dc_model_free_params(dc_model *m);
/* The index of the layer named name, or -1 (model.c). */
int dc_model_find_layer(const dc_model *m, const char *name);
/* Refuses two layers of one name (DC_ERR_ARG naming both): a layer renamed after it was added
 * is not seen by dc_model_add's check (model.c). */
dc_status dc_model_check_names(dc_model *m, const char *who);
/* DC_ERR_STATE "<who>: the model was given a layer that failed: <its error>" when a failed
 * layer was handed to the model, else DC_OK (model.c). */
dc_status dc_model_check_layers(const dc_model *m, const char *who);

#endif
