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

/* What follows is deepc's public API, exported by libdeepc.so (whose other symbols are hidden). */
#if defined(__GNUC__)
#pragma GCC visibility push(default)
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
/* The model takes ownership of opt (even on failure).
 * DC_LOSS_CTC (deepc/ops.h, dc_ctc_loss) needs per-step outputs (None, T, C): a last Dense(C,
 * softmax) is fused (the loss takes its logits), a log_softmax output is read as
 * log-probabilities, with from_logits a linear output as logits. y is [N, S]: each row a
 * sample's labels, then negative padding. A sample's input length is T, or its count of real
 * steps when the outputs carry a time-step mask (Embedding's mask_zero, Masking). It takes no
 * metrics (DC_ERR_ARG: decode the predictions with dc_ctc_greedy_decode or dc_ctc_beam_decode,
 * score them with dc_label_error_rate); fit and evaluate refuse, naming the sample and the
 * position, a label outside [0, C) or equal to the blank, and, without zero_infinity, a target
 * that no alignment of its steps gives (DC_ERR_ARG rather than an infinite loss). */
dc_status dc_model_compile(dc_model *m, dc_optimizer *opt, dc_loss loss,
                           const dc_metric *metrics, int nmetrics);
/* The options of the compiled loss (deepc/ops.h, dc_loss_opts: from_logits, label_smoothing,
 * Huber's delta, the focal loss's gamma and alpha, CTC's blank and zero_infinity), checked against their ranges; before or after
 * compile, kept by later compiles and saved with the model ("loss_options"). With from_logits the
 * model's outputs are taken as logits (a linear last layer) and the loss applies the softmax or
 * sigmoid itself; otherwise a last Dense or Activation with softmax (sigmoid) and a cross-entropy
 * (binary or focal) loss are fused in training as before. */
dc_status dc_model_set_loss_options(dc_model *m, const dc_loss_opts *opts);
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
/* Layers with several outputs (a recurrent layer with return_state: output 0 its output as
 * without it, then the final states h and, for an LSTM, c, each [N, units], as Keras's
 * [output, h, c]). dc_model_output_of returns a handle for output k of node `node` that
 * dc_model_apply takes in its inputs like a node id; output 0 is the node id itself, so a plain
 * node id reads a layer's main output. -1 with DC_ERR_ARG for a node the model does not have or
 * an output the layer does not have (k outside [0, dc_model_num_outputs(m, node))). A model's
 * own output is output 0 of its last layer. The encoder-decoder pattern:
 *   int enc = dc_model_apply(m, lstm_with_return_state, 1, &src);
 *   int dec = dc_model_apply(m, dc_lstm_layer(64, true), 3,
 *                            (int[]){tgt, dc_model_output_of(m, enc, 1), dc_model_output_of(m, enc, 2)});
 * In model files a layer's "inputs" writes output k of layer "name" as "name:k" ("name" alone:
 * output 0). */
int dc_model_output_of(dc_model *m, int node, int k);
/* How many outputs node `node` has (1 for most layers); -1 with DC_ERR_ARG for a node the model
 * does not have. */
int dc_model_num_outputs(const dc_model *m, int node);
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
 * that error (on_train_end is then not called). In order:
 *   on_train_begin  after the arguments are checked and before the epoch to start at is decided
 *                   (it may restore the model, as resuming from a checkpoint does);
 *   on_batch_end    after every optimiser step: `batch` is the step's index in epoch `epoch`
 *                   (both 0-based), `loss` the mean loss of the step's rows (this rank's rows in
 *                   a data-parallel fit; NaN on a rank that had none). Setting *stop ends
 *                   training after this batch, as Keras's model.stop_training set in
 *                   on_train_batch_end does: the epoch is cut short but still completed as one
 *                   (its loss and metrics over the batches it took, its validation, the history
 *                   record, the learning-rate schedule's epoch end, every on_epoch_end), and it
 *                   counts as done (dc_model_epoch), so a later fit continues with the next one;
 *   on_epoch_end    after epoch `epoch` (0-based) is recorded in the model's history (and after
 *                   the schedule's dc_optimizer_epoch_end); may set *stop to end training there;
 *   on_train_end    once after the last epoch, whether training ran to opts->epochs or a
 *                   callback stopped it (not after an error).
 * In a data-parallel fit every rank calls them; a stop asked on any rank stops all of them
 * after the same batch or epoch, and dc_callback_is_writer says whether this process is the
 * one that prints and writes files. free releases the callback (dc_callback_free). The two
 * hooks after `user` came later: an initialiser that names the fields, or one that lists the
 * first four, leaves them NULL. */
typedef struct dc_fit_opts dc_fit_opts;
typedef struct dc_callback dc_callback;
struct dc_callback {
    dc_status (*on_train_begin)(dc_callback *cb, dc_model *m, const dc_fit_opts *o);
    dc_status (*on_epoch_end)(dc_callback *cb, dc_model *m, const dc_fit_opts *o, int epoch, bool *stop);
    void (*free)(dc_callback *cb);
    void *user;
    dc_status (*on_batch_end)(dc_callback *cb, dc_model *m, const dc_fit_opts *o, int epoch, int64_t batch, double loss,
                              bool *stop);
    dc_status (*on_train_end)(dc_callback *cb, dc_model *m, const dc_fit_opts *o);
};
void dc_callback_free(dc_callback *cb);
/* True in one process, and on rank 0 of a data-parallel fit. */
bool dc_callback_is_writer(void);
/* The history the model's fits are recording (every epoch so far; NULL before any fit). */
const dc_history *dc_model_history(const dc_model *m);
/* The epochs the model has completed: by its fits (a later fit continues after them), or as
 * restored from a checkpoint. */
int dc_model_epoch(const dc_model *m);
/* Keras's EarlyStopping: stops fit once the monitored history series has not improved for
 * `patience` epochs. monitor: a history key ("val_loss", "val_accuracy", "loss", ...); NULL
 * for "val_loss" when the fit has validation data (val_x/val_xs or validation_split), else
 * "loss". Whether a key is minimised or maximised follows its name: keys with "loss" and the
 * error metrics (mae, mse) are minimised, the others (accuracy) maximised. An epoch improves
 * when its value is finite and beats the best of this fit by more than min_delta (minimised:
 * value < best - min_delta; maximised: value > best + min_delta); the first finite value
 * always improves. After an epoch that does not improve, `patience` (>= 0) epochs without
 * improvement in a row stop training (not at the model's first epoch, as Keras). With
 * restore_best_weights, the callback keeps a copy of the parameters and of the non-trainable
 * state (batch norm's running statistics) as they were after the best epoch (after the fit's
 * first epoch while none improved) and puts them back in the model when training ends, whether
 * it stopped early or not, as Keras 3 does; the optimiser's state, the epoch count and the
 * history stay those of the last epoch. Each fit starts afresh (best, count and copy). With
 * fit's verbose on, the writer prints "Epoch N: early stopping" after the stop (N 1-based)
 * and "Restoring model weights from the end of the best epoch: N." when it restores.
 * Errors: NULL with DC_ERR_ARG for patience < 0, min_delta negative or not finite, a monitor
 * that is empty or over 63 characters; fit fails with DC_ERR_ARG naming the key when the
 * monitored series is not recorded. Free it with dc_callback_free. */
dc_callback *dc_early_stopping_callback(const char *monitor, int patience, double min_delta, bool restore_best_weights);

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
    /* 0 silent; 1 (default) Keras's progress bar when the log is a terminal (isatty), one line
     * per epoch otherwise; 2 one line per epoch. The bar is one line rewritten in place
     * (carriage return) at most ten times a second: "1200/1688 [====================>.........]
     * - ETA: 3s - loss: 0.4100 - accuracy: 0.8700", counting batches and showing the running
     * means of the epoch so far; at the epoch's end it becomes "1688/1688 [====...] - 5s
     * 3ms/step - loss: ... - val_loss: ...", under a line "Epoch 3/10". The one-line form is
     * "Epoch 3/10 - 5.12s - loss: ... - val_loss: ...". Both add " - lr: ..." when the
     * optimiser has a schedule. Only the writer rank prints; in a data-parallel fit the bar's
     * running values are its own rows', the epoch's final ones every rank's. */
    int verbose;
    FILE *log;               /* where progress goes, default stdout */
    /* Called in order at the start of training, after every batch and epoch, and at the end
     * (the caller keeps ownership): dc_checkpoint_callback and dc_best_model_callback
     * (deepc/io.h) write files, dc_early_stopping_callback stops training. */
    dc_callback *const *callbacks;
    int ncallbacks;
    /* Where the fit starts:
     *   -1 (the default): continue after the epochs the model has done (dc_model_epoch) and train
     *      opts->epochs more: after a fit of 4 epochs, a fit of 6 trains epochs 5..10, its
     *      history grows the model's, and its shuffle and dropout streams are those of epochs
     *      5..10 (functions of the seed and the epoch number), so with the same seed, data and
     *      batch size the two fits end bit-identical to one fit of 10 epochs; a loop of
     *      fit(epochs = 1) trains one epoch a call. Right after a restored checkpoint, epochs is
     *      the run's total instead (rerunning the same program continues it to its end; a
     *      finished run has nothing left to do and returns DC_OK), and the checkpoint decides
     *      the seed and must match the rows and batch size.
     *    0: start over: the history and the epoch count are cleared, the streams are epoch 1's;
     *    k: start after epoch k: the history keeps its epochs 1..k and drops later ones.
     *   With 0 or k, epochs is the epoch to reach, as Keras's with initial_epoch (epochs not
     *   beyond initial_epoch is DC_ERR_ARG: nothing to train).
     * The weights, the optimiser's state and step count (and so a schedule's position) are
     * never reset: they go on from where the model is. */
    int initial_epoch;
    /* Weights of the training loss (NULL: none), as Keras's fit: sample_weight [N], one finite
     * value >= 0 per row of y, multiplies each row's loss (rows taken by validation_split keep
     * theirs in val_loss); class_weight [K], one per class of the output's last axis, multiplies
     * each class's term in the training steps' loss (not in val_loss or evaluate). The mean over
     * a batch still divides by its rows, as Keras's. Not with a user loss. */
    const dc_tensor *sample_weight;
    const dc_tensor *class_weight;
};
dc_fit_opts dc_fit_defaults(void);
/* Trains opts->epochs epochs (see initial_epoch: by default after the epochs the model has
 * done); if history is not NULL it receives a new dc_history the caller frees, a copy of the
 * model's (every epoch so far). Each epoch records "loss", the compiled metrics, their "val_"
 * twins with validation data, "lr" (the learning rate at the epoch's end: the next step's,
 * read before the schedule's epoch end) and "seconds"; then the optimiser's schedule sees
 * dc_optimizer_epoch_end(val_loss with validation data, else loss), then the callbacks'
 * on_epoch_end. Every epoch's shuffle and dropout streams derive from the seed and the epoch
 * number, so a run resumed from a checkpoint (dc_model_load_checkpoint or
 * dc_checkpoint_callback) starts at the epoch after the checkpoint's and ends bit-identical
 * to one that was never interrupted, its history holding every epoch. A non-finite loss or
 * gradient stops training with DC_ERR_NUMERIC naming the epoch, the batch and (for a
 * gradient) the first parameter that went non-finite. After dc_dist_init on several MPI
 * ranks, fit and evaluate are data parallel (deepc/dist.h). */
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
/* Sets the model's gradient buffer (dc_model_grads: every trainable parameter's gradient) to
 * zero. dc_backward adds to the gradients, so a hand-written loop calls it before each
 * backward pass (PyTorch's optimizer.zero_grad()); see docs/guide.md, "Training loops". fit and
 * train_step clear the gradients themselves. Errors: DC_ERR_ARG for NULL, DC_ERR_STATE for a
 * model not built. */
dc_status dc_model_zero_grad(dc_model *m);
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

/* Datasets: data that fit, evaluate and predict read a batch at a time, so that a data set need
 * not be float32 in memory, nor in memory at all (deepc/io.h: dc_dataset_npy and dc_dataset_idx
 * map files into memory and keep uint8 and int elements as they are until a batch is gathered).
 * A dataset has rows and parts: each part one row shape (without the batch axis); fit and
 * evaluate take a model's inputs then its targets (nx + 1 parts), predict the inputs (a target
 * part after them is ignored). Gathering a batch converts the rows of each part to float32 and
 * applies the part's transforms in the order they were added. While one batch trains, the
 * next is gathered on a background thread (prefetch, on by default); the results are the same
 * with it off, since every batch's rows and random draws are decided before it is gathered.
 * A dataset is used by one fit, evaluate or predict at a time, and freed by its owner. */
typedef struct dc_dataset dc_dataset;
#define DC_DATASET_MAX_PARTS 9

/* A source of rows, for a dataset of one's own (dc_dataset_new): name (for messages: a file's
 * path), rows, nparts parts, each of rank ndim[p] (0 to DC_MAX_DIMS - 1) and row shape
 * shape[p]. gather(self, p, idx, n, dst) writes rows idx[0..n) of part p as float32 into dst
 * (n times the row's elements), returning an error (with a message naming the file and the
 * row) when it cannot; it is called from the prefetch thread, never by two threads at once.
 * free(self), if not NULL, releases self when the dataset is freed. */
typedef struct dc_dataset_source {
    const char *name;
    int64_t rows;
    int nparts;
    int ndim[DC_DATASET_MAX_PARTS];
    int64_t shape[DC_DATASET_MAX_PARTS][DC_MAX_DIMS];
    dc_status (*gather)(void *self, int part, const int64_t *idx, int64_t n, float *dst);
    void (*free)(void *self);
    void *self;
} dc_dataset_source;
/* A dataset over src, which it owns from then on (src->free(src->self) is called on failure
 * too). NULL with DC_ERR_ARG for a source without rows, parts or gather, or a bad shape. */
dc_dataset *dc_dataset_new(const dc_dataset_source *src);
/* Tensors in memory as a dataset: inputs x[0..nx) then, when y is not NULL, the targets; all
 * contiguous with the same rows. The dataset reads them in place: they must outlive it. fit on
 * this dataset trains bit-identical to dc_model_fit_n on the same tensors. */
dc_dataset *dc_dataset_from_tensors(int nx, const dc_tensor *const *x, const dc_tensor *y);
/* The parts of n datasets side by side, in order (inputs from one file, labels from another):
 * the rows must agree (DC_ERR_SHAPE naming both datasets and their rows). The new dataset owns
 * the n given, which are freed even on failure. */
dc_dataset *dc_dataset_zip(int n, dc_dataset *const *sets);
void dc_dataset_free(dc_dataset *ds);
const char *dc_dataset_name(const dc_dataset *ds);
int64_t dc_dataset_rows(const dc_dataset *ds);
int dc_dataset_num_parts(const dc_dataset *ds);
/* Part p's row shape after its transforms into shape[DC_MAX_DIMS]; its rank, -1 for no such part. */
int dc_dataset_part_shape(const dc_dataset *ds, int part, int64_t *shape);
/* Rows idx[0..n) of part p, converted and transformed, into dst (n times the row's elements).
 * augment: draw the random transforms (flips, shifts, random crops) from seed; a row's draws
 * depend on the seed, the row's index and the transform only, never on the batch it is in.
 * Without augment they are left out (a crop takes the centre), as at inference. */
dc_status dc_dataset_gather(dc_dataset *ds, int part, const int64_t *idx, int64_t n, float *dst, bool augment, uint64_t seed);
/* Transforms of part p, applied in the order added. Errors: DC_ERR_ARG for a part the dataset
 * does not have, DC_ERR_SHAPE for a row shape the transform cannot take.
 *   scale: x * a + b (uint8 pixels to [0, 1]: a = 1/255, b = 0).
 *   one_hot: a row of one class index becomes `classes` values (1 at the index); a value that is
 *     not an index in [0, classes) fails the batch with DC_ERR_ARG naming the dataset and row.
 *   reshape: the same elements in another row shape (a 28 x 28 image as 1 x 28 x 28).
 *   nhwc_to_nchw: a row [H, W, C] (as images are stored) becomes [C, H, W] (as Conv2D takes).
 *   The image transforms take the last two axes as height and width ([C, H, W] or [H, W]):
 *   random_flip: each row is mirrored left-right (horizontal) and top-bottom (vertical) with
 *     probability 1/2 each;
 *   random_shift: each row moves by whole pixels drawn from [-max_dy, max_dy] and
 *     [-max_dx, max_dx], zeros filling what comes in;
 *   random_crop: a height x width window at a random place (the centre without augment). */
dc_status dc_dataset_scale(dc_dataset *ds, int part, float a, float b);
dc_status dc_dataset_one_hot(dc_dataset *ds, int part, int64_t classes);
dc_status dc_dataset_reshape(dc_dataset *ds, int part, int ndim, const int64_t *shape);
dc_status dc_dataset_nhwc_to_nchw(dc_dataset *ds, int part);
dc_status dc_dataset_random_flip(dc_dataset *ds, int part, bool horizontal, bool vertical);
dc_status dc_dataset_random_shift(dc_dataset *ds, int part, int64_t max_dy, int64_t max_dx);
dc_status dc_dataset_random_crop(dc_dataset *ds, int part, int64_t height, int64_t width);
/* Prefetch on (the default) or off. */
dc_status dc_dataset_set_prefetch(dc_dataset *ds, bool on);
/* fit, evaluate and predict on datasets. fit_dataset is dc_model_fit with the rows of train
 * (inputs then targets) and, when val is not NULL, validation on val's rows; the options are
 * fit's, save validation_split, val_x/val_y and sample_weight (DC_ERR_ARG: use val, or a
 * target part that carries the weighting). Every epoch's order is the shuffle fit draws for
 * tensors, and its augmentations are drawn from the fit's seed and the epoch, so a run is
 * reproducible and resumable like one on tensors. Targets are checked batch by batch (a
 * label out of range stops the fit with the loss's error) rather than all at the start. */
dc_status dc_model_fit_dataset(dc_model *m, dc_dataset *train, dc_dataset *val, const dc_fit_opts *opts, dc_history **history);
dc_status dc_model_evaluate_dataset(dc_model *m, dc_dataset *ds, int64_t batch_size, double *results);
dc_tensor *dc_model_predict_dataset(dc_model *m, dc_dataset *ds, int64_t batch_size);

#if defined(__GNUC__)
#pragma GCC visibility pop
#endif

#ifdef __cplusplus
}
#endif
#endif /* DEEPC_MODEL_H */
