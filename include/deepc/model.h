/*
 * deepc/model.h - floor model (src/model): models - build, compile, fit, evaluate, predict - their
 * metrics, fit callbacks and history, and mixed precision.
 */
#ifndef DEEPC_MODEL_H
#define DEEPC_MODEL_H

#include "deepc/nn.h"
#include "deepc/optim.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct dc_model dc_model;

typedef enum dc_metric {
    DC_METRIC_ACCURACY, /* binary, categorical or sparse, chosen from the loss like Keras */
    DC_METRIC_MAE,
    DC_METRIC_MSE,
    DC_METRIC_COUNT
} dc_metric;
const char *dc_metric_name(dc_metric m);

dc_model *dc_sequential(void);
void dc_model_free(dc_model *m);
/* Appends a layer; the model takes ownership even on failure. The shape is checked now
 * when the input shape is known (from a dc_input layer), else at dc_model_build. */
dc_status dc_model_add(dc_model *m, dc_layer *l);
/* Fixes the input shape (without batch) if no dc_input layer was added, creates and
 * initialises the parameters from seed. Called by compile if not done. */
dc_status dc_model_build(dc_model *m, int ndim, const int64_t *input_shape);
dc_status dc_model_set_seed(dc_model *m, uint64_t seed);
/* The model takes ownership of opt (even on failure). */
dc_status dc_model_compile(dc_model *m, dc_optimizer *opt, dc_loss loss,
                           const dc_metric *metrics, int nmetrics);
/* A loss of the user's: the mean loss of a batch as a [1] tensor made with ops on c from the
 * model's outputs pred [N, ...] and the targets [N, ...] as given to fit (so its gradient reaches
 * the model); NULL with an error set stops fit with that error. user is passed through. */
typedef dc_tensor *(*dc_loss_fn)(dc_ctx *c, dc_tensor *pred, dc_tensor *target, void *user);
/* dc_model_compile with a user loss (no fusion with the final activation). A model file keeps
 * the name given here as its loss; dc_model_load then returns the model uncompiled, since the
 * function itself cannot be saved: compile it again. */
dc_status dc_model_compile_custom(dc_model *m, dc_optimizer *opt, dc_loss_fn loss, void *user,
                                  const dc_metric *metrics, int nmetrics);
/* Mixed-precision training and inference (off by default): the GEMMs of Dense layers, 2-D
 * matmuls and Conv2D, forward and backward, take their operands rounded to bfloat16 (round to
 * nearest even) and sum the products in float32 (y = bf16(x) . bf16(W)^T, accumulated in
 * float32). Everything else stays float32: the master weights and their gradients, the
 * optimiser and its state, biases, activations between layers, losses, softmax and
 * normalisation. bfloat16 keeps float32's 8-bit exponent, so gradients do not underflow where
 * float32 ones would not, and no loss scaling is needed (or done); its 8-bit significand
 * costs about 3 significant digits per product. The kernel is AVX512-BF16 (VDPBF16PS), chosen
 * at run time when the CPU reports the feature (dc_bf16_kernel_available()); elsewhere the
 * setting is accepted and the GEMMs stay float32. A run-time setting of this model's context,
 * not saved in model files; may be called before or after build/compile, and between fits.
 * Errors: DC_ERR_ARG if m is NULL; DC_ERR_NOMEM. */
dc_status dc_model_set_mixed_precision(dc_model *m, bool on);
bool dc_model_mixed_precision(const dc_model *m);
/* True when the AVX512-BF16 GEMM kernel runs here: the CPU reports avx512bf16 and the
 * environment variable DEEPC_BF16_KERNEL is not "off" (which forces the float32 fallback). */
bool dc_bf16_kernel_available(void);
/* Keras-style table: layer (type), output shape, parameter count; totals. */
void dc_model_summary(const dc_model *m, FILE *f);
/* Elements of all parameters and state (Keras's "Total params"), and of the trainable ones. */
int64_t dc_model_param_count(const dc_model *m);
int64_t dc_model_trainable_count(const dc_model *m);
/* All trainable parameters (and their gradients) of the model in one contiguous buffer of
 * dc_model_param_buffer_size() floats (each tensor starts 64-byte aligned, gaps are zero). */
int64_t dc_model_param_buffer_size(const dc_model *m);
float *dc_model_params(dc_model *m);
float *dc_model_grads(dc_model *m);
/* Named parameter or state: "dense_1.weight", "dense_1.bias", "batch_normalization.running_mean";
 * NULL if absent. The tensor is a view
 * owned by the model. */
dc_tensor *dc_model_param(dc_model *m, const char *name);
int dc_model_num_layers(const dc_model *m);
/* The compiled metrics, in order (0 of them if the model is not compiled). */
int dc_model_num_metrics(const dc_model *m);
dc_metric dc_model_metric(const dc_model *m, int i);
dc_layer *dc_model_layer(dc_model *m, int i);
/* dc_layer_set_synchronized on every BatchNormalization layer of the model (PyTorch's
 * convert_sync_batchnorm); returns how many there are, -1 for a NULL model. */
int dc_model_set_sync_batch_norm(dc_model *m, bool on);

/* Functional (graph) models, as Keras's functional API: several inputs, and layers that take
 * several inputs (cross-attention, the Transformer decoder, BERT's embeddings). A model made by
 * dc_sequential becomes a graph by these calls; dc_model_add still appends a layer fed by the
 * last one. The output of the model is the last layer added.
 *   int src = dc_model_input(m, "source", 1, (int64_t[]){12});
 *   int tgt = dc_model_input(m, "target", 1, (int64_t[]){13});
 *   int e = dc_model_apply(m, dc_embedding_layer(20, 64, true), 1, &src);
 *   ...
 *   int d = dc_model_apply(m, dc_transformer_decoder_layer(4, 128, 0.1f, DC_ACT_RELU, false), 2, (int[]){t, e});
 * dc_model_input adds an input of the given shape (without batch) named name (NULL: "input",
 * "input_1", ...) and returns its node id; dc_model_apply adds l fed by the nodes inputs[0..n)
 * and returns its id. Both return -1 with the error set on failure (the model owns l even
 * then): an unknown node id, more inputs than the layer takes, shapes the layer rejects. */
int dc_model_input(dc_model *m, const char *name, int ndim, const int64_t *shape);
int dc_model_apply(dc_model *m, dc_layer *l, int n, const int *inputs);
/* Number of inputs (1 for a Sequential). The data of the _n functions below is one tensor per
 * input, in the order the inputs were added; the plain functions are the n = 1 case. */
int dc_model_num_inputs(const dc_model *m);
/* The shape of input i without the batch axis into shape[DC_MAX_DIMS]; returns its rank, or -1
 * (error set) for an input the model does not have or whose shape is not known yet. */
int dc_model_input_shape(const dc_model *m, int i, int64_t *shape);

/* Per-epoch record of fit. */
typedef struct dc_history dc_history;
int dc_history_epochs(const dc_history *h);
/* Named series: "loss", "val_loss", "accuracy", "val_accuracy", "mae", "seconds", ...
 * Returns NULL if the series is absent. */
const double *dc_history_get(const dc_history *h, const char *key);
int dc_history_num_series(const dc_history *h);
const char *dc_history_series_name(const dc_history *h, int i);
dc_status dc_history_write_csv(const dc_history *h, const char *path);
void dc_history_free(dc_history *h);

/* A callback of fit (Keras's Callback). Each hook may be NULL; an error it returns stops fit with
 * that error. on_train_begin runs after the arguments are checked and before the first epoch
 * (it may restore the model, as resuming from a checkpoint does); on_epoch_end runs after epoch
 * `epoch` (0-based) is recorded in the model's history, and may set *stop to end training
 * there. In a data-parallel fit every rank calls them; dc_callback_is_writer says whether this
 * process is the one that prints and writes files. free releases the callback (dc_callback_free). */
typedef struct dc_fit_opts dc_fit_opts;
typedef struct dc_callback dc_callback;
struct dc_callback {
    dc_status (*on_train_begin)(dc_callback *cb, dc_model *m, const dc_fit_opts *o);
    dc_status (*on_epoch_end)(dc_callback *cb, dc_model *m, const dc_fit_opts *o, int epoch, bool *stop);
    void (*free)(dc_callback *cb);
    void *user;
};
void dc_callback_free(dc_callback *cb);
/* True in one process, and on rank 0 of a data-parallel fit. */
bool dc_callback_is_writer(void);
/* The history the model's current fit is recording (epochs so far; NULL before any fit). */
const dc_history *dc_model_history(const dc_model *m);
/* The epochs completed by the model's last fit or restored checkpoint. */
int dc_model_epoch(const dc_model *m);

struct dc_fit_opts {
    int epochs;              /* default 1 */
    int64_t batch_size;      /* default 32 */
    float validation_split;  /* fraction taken from the end of x/y (before shuffling), default 0 */
    const dc_tensor *val_x;  /* validation data; overrides validation_split */
    const dc_tensor *val_y;
    const dc_tensor *const *val_xs; /* a model with several inputs: one validation tensor per
                                       input (with val_y); overrides val_x */
    bool shuffle;            /* reshuffle the training rows every epoch, default true */
    uint64_t seed;           /* shuffling and dropout seed, default 42 */
    int verbose;             /* 0 silent, 1 one line per epoch (default) */
    FILE *log;               /* where progress goes, default stdout */
    /* Called in order at the start of training and after every epoch (the caller keeps
     * ownership): dc_checkpoint_callback and dc_best_model_callback (deepc/io.h) write files. */
    dc_callback *const *callbacks;
    int ncallbacks;
};
dc_fit_opts dc_fit_defaults(void);
/* Trains to epoch opts->epochs; if history is not NULL it receives a new dc_history the caller
 * frees. Every epoch's shuffle and dropout streams derive from the seed and the epoch number, so
 * a run resumed from a checkpoint (dc_model_load_checkpoint or dc_checkpoint_callback) starts at the epoch
 * after the checkpoint's and ends bit-identical to one that was never interrupted, its history
 * holding every epoch. A non-finite loss or gradient stops training with DC_ERR_NUMERIC naming
 * the epoch, the batch and (for a gradient) the first parameter that went non-finite. After
 * dc_dist_init on several MPI ranks, fit and evaluate are data parallel (deepc/dist.h). */
dc_status dc_model_fit(dc_model *m, const dc_tensor *x, const dc_tensor *y,
                       const dc_fit_opts *opts, dc_history **history);
/* Loss then the compiled metrics, in order, into results[1 + nmetrics]. Inference (evaluate and
 * predict) runs in chunks of at most 256 rows whatever batch_size says, to bound its memory. It
 * uses no batch statistics (batch norm takes its running ones), so the batch size changes the
 * results only by float rounding (OpenBLAS may sum a product in another order for another
 * number of rows). */
dc_status dc_model_evaluate(dc_model *m, const dc_tensor *x, const dc_tensor *y,
                            int64_t batch_size, double *results);
/* Owned tensor of outputs for every row of x (inference mode, batch by batch). */
dc_tensor *dc_model_predict(dc_model *m, const dc_tensor *x, int64_t batch_size);
/* One training step on a batch (forward, backward, update); loss in *loss if non-NULL. */
dc_status dc_model_train_step(dc_model *m, const dc_tensor *x, const dc_tensor *y, float *loss);
/* Forward pass in ctx (for custom losses and loops); training selects dropout etc. */
dc_tensor *dc_model_forward(dc_model *m, dc_ctx *c, dc_tensor *x, bool training);
/* The same for a model with nx inputs (graph models): x[i] feeds input i. */
dc_status dc_model_fit_n(dc_model *m, int nx, const dc_tensor *const *x, const dc_tensor *y, const dc_fit_opts *opts,
                         dc_history **history);
dc_status dc_model_evaluate_n(dc_model *m, int nx, const dc_tensor *const *x, const dc_tensor *y, int64_t batch_size,
                              double *results);
dc_tensor *dc_model_predict_n(dc_model *m, int nx, const dc_tensor *const *x, int64_t batch_size);
dc_status dc_model_train_step_n(dc_model *m, int nx, const dc_tensor *const *x, const dc_tensor *y, float *loss);
dc_tensor *dc_model_forward_n(dc_model *m, dc_ctx *c, int nx, dc_tensor *const *x, bool training);
/* dc_model_forward_n with a time-step mask per input: masks[i] (NULL, or masks[i] NULL, for
 * none) holds N * T bytes for input i of shape [N, T, ...], 1 for a real step and 0 for padding,
 * which the sequence layers read as they read the mask an Embedding with mask_zero makes. */
dc_tensor *dc_model_forward_masked(dc_model *m, dc_ctx *c, int nx, dc_tensor *const *x, const uint8_t *const *masks, bool training);

#ifdef __cplusplus
}
#endif
#endif /* DEEPC_MODEL_H */
