/*
 * deepc.h - the one public header of deepc, a deep-learning framework in C.
 *
 * Conventions
 *  - Every function is prefixed dc_, every macro and enumerator DC_.
 *  - Functions that can fail return dc_status (DC_OK == 0) or NULL; the reason is then in
 *    dc_last_error() (thread-local), naming the layer or file and the numbers involved.
 *    deepc never calls abort() or exit() on user input.
 *  - Tensors are float32, row-major (C order). Shapes are int64_t. A leading batch dimension is
 *    written N in the shape comments below.
 *  - Two kinds of tensors exist:
 *      * owned tensors (dc_tensor_new, dc_tensor_from, dc_model_predict, data readers):
 *        the caller frees them with dc_tensor_free();
 *      * step tensors, made by operations inside a dc_ctx: they live until dc_ctx_reset() or
 *        dc_ctx_free(), which release them all at once (no per-tensor free).
 *  - Weights of a Dense layer are stored [out, in] as in PyTorch: y = x . W^T + b.
 */
#ifndef DEEPC_H
#define DEEPC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

#define DC_VERSION_MAJOR 0
#define DC_VERSION_MINOR 1
#define DC_MAX_DIMS 8

/* ====================================================================================== */
/* 1. base: status, errors, threads, RNG                                                  */
/* ====================================================================================== */

typedef enum dc_status {
    DC_OK = 0,
    DC_ERR_ARG,     /* an argument is invalid (NULL, zero batch size, unknown option) */
    DC_ERR_SHAPE,   /* shapes do not fit together */
    DC_ERR_NOMEM,   /* an allocation failed */
    DC_ERR_IO,      /* a file could not be opened, read or written */
    DC_ERR_FORMAT,  /* a file's content is malformed */
    DC_ERR_STATE,   /* the call is not allowed in the object's current state */
    DC_ERR_NUMERIC, /* a NaN or Inf where a finite number is needed */
    DC_STATUS_COUNT
} dc_status;

/* The message of the last failure on this thread ("" if none). */
const char *dc_last_error(void);
/* The status of the last failure on this thread (DC_OK if none): tells why a function that
 * returns NULL failed. */
dc_status dc_last_status(void);
/* A short name for a status: "DC_ERR_SHAPE", ... */
const char *dc_status_name(dc_status s);
/* Forget the last error message. */
void dc_clear_error(void);

/* Threads used by deepc's kernels and OpenBLAS: one OpenMP pool, since deepc links
 * OpenBLAS's OpenMP build, and both are set to the same count, so they never oversubscribe.
 * Default: the DEEPC_THREADS environment variable when it is a whole number from 1 to 1024
 * (anything else, "abc", "0", "-3", "2x", is ignored), else the number of online cores.
 * n <= 0 restores that default. */
void dc_set_threads(int n);
int dc_get_threads(void);

/* Deterministic mode: the same seed, data and thread count give bit-identical weights, losses
 * and predictions from run to run. deepc's kernels split work by (thread index, thread
 * count) with static schedules and sum partial results in a fixed order, OpenBLAS partitions
 * a GEMM by the thread count alone, and the mode also turns off OpenMP's dynamic team sizes
 * (omp_set_dynamic(0)), so a team always has the requested number of threads. Results at
 * different thread counts may differ in the last bits (GEMM blocking changes the order of
 * sums). On by default; DEEPC_DETERMINISTIC=0 in the environment turns it off at start. */
void dc_set_deterministic(bool on);
bool dc_get_deterministic(void);

/* Monotonic wall-clock seconds (for timing training). */
double dc_now(void);

/* Seeded pseudo-random numbers (xoshiro256**). The state is public so it can be embedded
 * and saved; same seed, same sequence on every platform. */
typedef struct dc_rng {
    uint64_t s[4];
} dc_rng;
void dc_rng_seed(dc_rng *r, uint64_t seed);
uint64_t dc_rng_next(dc_rng *r);
/* uniform in [0, 1) */
float dc_rng_uniform(dc_rng *r);
/* standard normal (Box-Muller) */
float dc_rng_normal(dc_rng *r);
/* uniform integer in [0, n) without modulo bias; n > 0 */
uint64_t dc_rng_below(dc_rng *r, uint64_t n);
/* Fisher-Yates shuffle of idx[0..n) */
void dc_rng_shuffle(dc_rng *r, int64_t *idx, int64_t n);

/* ====================================================================================== */
/* 2. tensors                                                                             */
/* ====================================================================================== */

typedef struct dc_tensor dc_tensor;
typedef struct dc_ctx dc_ctx;

/* Owned tensor of the given shape, filled with zeros. NULL on error. */
dc_tensor *dc_tensor_new(int ndim, const int64_t *shape);
/* Owned tensor holding a copy of data[numel]. */
dc_tensor *dc_tensor_from(int ndim, const int64_t *shape, const float *data);
/* Owned contiguous copy of any tensor (owned, step or view). */
dc_tensor *dc_tensor_clone(const dc_tensor *t);
/* Frees an owned tensor; NULL is ignored; step tensors are ignored (their ctx owns them). */
void dc_tensor_free(dc_tensor *t);

int dc_tensor_ndim(const dc_tensor *t);
int64_t dc_tensor_dim(const dc_tensor *t, int axis); /* axis < 0 counts from the end */
const int64_t *dc_tensor_shape(const dc_tensor *t);
int64_t dc_tensor_numel(const dc_tensor *t);
bool dc_tensor_is_contiguous(const dc_tensor *t);
/* Pointer to the first element. For a non-contiguous view use dc_tensor_get/set or clone. */
float *dc_tensor_data(dc_tensor *t);
/* Gives an owned contiguous tensor a new shape with the same element count (no copy),
 * e.g. IDX images [N, 28, 28] -> [N, 1, 28, 28]. */
dc_status dc_tensor_set_shape(dc_tensor *t, int ndim, const int64_t *shape);
/* Owned NCHW copy of an NHWC tensor [N, H, W, C] (the layout of Keras and most image files). */
dc_tensor *dc_nhwc_to_nchw(const dc_tensor *t);
/* Element at a multi-index idx[ndim]; honours views' strides. */
float dc_tensor_get(const dc_tensor *t, const int64_t *idx);
void dc_tensor_set(dc_tensor *t, const int64_t *idx, float v);
/* The gradient accumulated by dc_backward (same shape), or NULL if none. */
dc_tensor *dc_tensor_grad(const dc_tensor *t);
/* Mark an owned tensor as a leaf whose gradient dc_backward should accumulate. */
dc_status dc_tensor_set_requires_grad(dc_tensor *t, bool on);
void dc_tensor_zero_grad(dc_tensor *t);
/* Fill helpers. */
void dc_tensor_fill(dc_tensor *t, float v);
/* Writes "shape [2, 3]\n[[...]]" to f (at most `max` elements per axis, 0 = 6). */
void dc_tensor_print(const dc_tensor *t, FILE *f, int max);
/* Writes "[2, 3]" into buf (always NUL-terminated); returns buf. */
char *dc_shape_str(int ndim, const int64_t *shape, char *buf, size_t size);

/* Weight initialisers; fan_in/fan_out are read from the shape ([out, in, ...] layout:
 * fan_in = dim1 * receptive field, fan_out = dim0 * receptive field). */
typedef enum dc_init {
    DC_INIT_ZEROS,
    DC_INIT_ONES,
    DC_INIT_CONSTANT,
    DC_INIT_UNIFORM,        /* U(-a, a) with a = value */
    DC_INIT_NORMAL,         /* N(0, value^2) */
    DC_INIT_GLOROT_UNIFORM, /* U(-l, l), l = sqrt(6 / (fan_in + fan_out)) */
    DC_INIT_GLOROT_NORMAL,  /* N(0, 2 / (fan_in + fan_out)) */
    DC_INIT_HE_UNIFORM,     /* U(-l, l), l = sqrt(6 / fan_in) */
    DC_INIT_HE_NORMAL,      /* N(0, 2 / fan_in) */
    DC_INIT_LECUN_UNIFORM,  /* U(-l, l), l = sqrt(3 / fan_in); PyTorch's Linear default family */
    DC_INIT_COUNT
} dc_init;
dc_status dc_tensor_init(dc_tensor *t, dc_init kind, float value, dc_rng *rng);

/* ====================================================================================== */
/* 3. the step context: arena memory, the autograd tape, grad mode                        */
/* ====================================================================================== */

/* A context owns every tensor an operation makes, and the graph that records them.
 * Memory is kept across dc_ctx_reset(), so a training loop stops allocating after the
 * first step. */
dc_ctx *dc_ctx_new(void);
void dc_ctx_free(dc_ctx *c);
/* Releases all step tensors and the recorded graph; keeps the memory for reuse. */
void dc_ctx_reset(dc_ctx *c);
/* With grad off (inference mode) operations record nothing and keep no saved values. */
void dc_ctx_set_grad(dc_ctx *c, bool on);
bool dc_ctx_grad_enabled(const dc_ctx *c);
/* Mixed precision for the ops run on c: see dc_model_set_mixed_precision (off by default). */
void dc_ctx_set_mixed_precision(dc_ctx *c, bool on);
bool dc_ctx_mixed_precision(const dc_ctx *c);
/* Bytes reserved by the context's arena (for memory reports). */
size_t dc_ctx_reserved_bytes(const dc_ctx *c);
/* Number of system allocations deepc has made since the process started (all contexts,
 * tensors, models). A training step that has run once makes none. */
uint64_t dc_alloc_count(void);

/* Reverse-mode autodiff: seeds d(loss)/d(loss) = 1 for a one-element tensor and
 * accumulates gradients into every tensor that requires them. */
dc_status dc_backward(dc_ctx *c, dc_tensor *loss);

/* ====================================================================================== */
/* 4. operations (differentiable; results are step tensors of ctx; NULL on error)         */
/* ====================================================================================== */

/* New step tensors */
dc_tensor *dc_empty(dc_ctx *c, int ndim, const int64_t *shape); /* uninitialised */
dc_tensor *dc_zeros(dc_ctx *c, int ndim, const int64_t *shape);
dc_tensor *dc_full(dc_ctx *c, int ndim, const int64_t *shape, float v);

/* Views: share storage with x. */
dc_tensor *dc_reshape(dc_ctx *c, dc_tensor *x, int ndim, const int64_t *shape); /* one dim may be -1; copies if x is not contiguous */
dc_tensor *dc_permute(dc_ctx *c, dc_tensor *x, const int *perm);
dc_tensor *dc_transpose(dc_ctx *c, dc_tensor *x, int a, int b);
dc_tensor *dc_slice(dc_ctx *c, dc_tensor *x, int axis, int64_t start, int64_t stop); /* [start, stop) */
/* Contiguous copy (identity if already contiguous). */
dc_tensor *dc_contiguous(dc_ctx *c, dc_tensor *x);

/* Broadcasting binary ops (NumPy rules). */
dc_tensor *dc_add(dc_ctx *c, dc_tensor *a, dc_tensor *b); /* a + b */
dc_tensor *dc_sub(dc_ctx *c, dc_tensor *a, dc_tensor *b); /* a - b */
dc_tensor *dc_mul(dc_ctx *c, dc_tensor *a, dc_tensor *b); /* a * b */
dc_tensor *dc_div(dc_ctx *c, dc_tensor *a, dc_tensor *b); /* a / b */
dc_tensor *dc_scale(dc_ctx *c, dc_tensor *x, float s);     /* s * x */
dc_tensor *dc_add_scalar(dc_ctx *c, dc_tensor *x, float s); /* x + s */

/* Unary maths */
dc_tensor *dc_neg(dc_ctx *c, dc_tensor *x);    /* -x */
dc_tensor *dc_exp(dc_ctx *c, dc_tensor *x);    /* e^x */
dc_tensor *dc_log(dc_ctx *c, dc_tensor *x);    /* ln x */
dc_tensor *dc_sqrt(dc_ctx *c, dc_tensor *x);   /* sqrt x */
dc_tensor *dc_square(dc_ctx *c, dc_tensor *x); /* x^2 */
dc_tensor *dc_abs(dc_ctx *c, dc_tensor *x);    /* |x|, d/dx = sign(x) */

/* Activations */
typedef enum dc_activation {
    DC_ACT_NONE = 0,   /* f(x) = x */
    DC_ACT_SIGMOID,    /* f(x) = 1 / (1 + e^-x) */
    DC_ACT_TANH,       /* f(x) = tanh x */
    DC_ACT_RELU,       /* f(x) = max(0, x) */
    DC_ACT_LEAKY_RELU, /* f(x) = x if x > 0 else alpha x (alpha 0.01 unless set) */
    DC_ACT_ELU,        /* f(x) = x if x > 0 else alpha (e^x - 1) (alpha 1) */
    DC_ACT_SOFTMAX,    /* f(x)_i = e^x_i / sum_j e^x_j over the last axis */
    DC_ACT_LOG_SOFTMAX,/* f(x)_i = x_i - log sum_j e^x_j over the last axis */
    DC_ACT_GELU,       /* f(x) = x Phi(x) = 0.5 x (1 + erf(x / sqrt 2)) (PyTorch's exact GELU) */
    DC_ACT_GELU_TANH,  /* f(x) = 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) (approximate='tanh') */
    DC_ACT_COUNT
} dc_activation;
const char *dc_activation_name(dc_activation a);
/* Applies a (alpha used by leaky_relu and elu; pass 0 for their defaults). */
dc_tensor *dc_activate(dc_ctx *c, dc_tensor *x, dc_activation a, float alpha);
dc_tensor *dc_sigmoid(dc_ctx *c, dc_tensor *x);
dc_tensor *dc_tanh(dc_ctx *c, dc_tensor *x);
dc_tensor *dc_relu(dc_ctx *c, dc_tensor *x);
dc_tensor *dc_leaky_relu(dc_ctx *c, dc_tensor *x, float alpha);
dc_tensor *dc_elu(dc_ctx *c, dc_tensor *x, float alpha);
/* GELU: DC_ACT_GELU_TANH if tanh_approx, else the exact DC_ACT_GELU. Saves x for backward. */
dc_tensor *dc_gelu(dc_ctx *c, dc_tensor *x, bool tanh_approx);
dc_tensor *dc_softmax(dc_ctx *c, dc_tensor *x);     /* over the last axis */
dc_tensor *dc_log_softmax(dc_ctx *c, dc_tensor *x); /* over the last axis */

/* Reductions */
dc_tensor *dc_sum(dc_ctx *c, dc_tensor *x);  /* sum of all elements -> shape [1] */
dc_tensor *dc_mean(dc_ctx *c, dc_tensor *x); /* mean of all elements -> shape [1] */
dc_tensor *dc_sum_axis(dc_ctx *c, dc_tensor *x, int axis, bool keepdim);
dc_tensor *dc_mean_axis(dc_ctx *c, dc_tensor *x, int axis, bool keepdim);
dc_tensor *dc_max_axis(dc_ctx *c, dc_tensor *x, int axis, bool keepdim); /* grad to the (first) max */

/* Linear algebra (OpenBLAS) */
dc_tensor *dc_matmul(dc_ctx *c, dc_tensor *a, dc_tensor *b); /* a [M,K] . b [K,N] -> [M,N];
                                                                 a [B,M,K] . b [B,K,N] or [K,N] -> [B,M,N] */
/* y = x . W^T + b: x [..., in], W [out, in], b [out] or NULL -> [..., out] */
dc_tensor *dc_linear(dc_ctx *c, dc_tensor *x, dc_tensor *W, dc_tensor *b);

/* Joining and indexing */
dc_tensor *dc_concat(dc_ctx *c, dc_tensor *const *xs, int n, int axis);
/* out[i, ...] = x[idx[i], ...] (rows of x along axis 0); idx holds n indices */
dc_tensor *dc_gather_rows(dc_ctx *c, dc_tensor *x, const int64_t *idx, int64_t n);

/* Losses (mean reduction; the result has shape [1]) */
typedef enum dc_loss {
    DC_LOSS_MSE,              /* mean (p - y)^2 */
    DC_LOSS_MAE,              /* mean |p - y| */
    DC_LOSS_BCE,              /* -mean(y log p + (1-y) log(1-p)), p in (0,1) */
    DC_LOSS_CCE,              /* -mean_n sum_k y_nk log p_nk, y one-hot or soft */
    DC_LOSS_SPARSE_CCE,       /* -mean_n log p_n,label[n], labels are class indices */
    DC_LOSS_COUNT
} dc_loss;
const char *dc_loss_name(dc_loss l);
dc_tensor *dc_mse_loss(dc_ctx *c, dc_tensor *pred, dc_tensor *target);
dc_tensor *dc_mae_loss(dc_ctx *c, dc_tensor *pred, dc_tensor *target);
dc_tensor *dc_bce_loss(dc_ctx *c, dc_tensor *prob, dc_tensor *target);
/* BCE from logits, stable: max(z,0) - z y + log(1 + e^-|z|) */
dc_tensor *dc_bce_with_logits_loss(dc_ctx *c, dc_tensor *logits, dc_tensor *target);
/* CCE from probabilities p [N, K] and targets [N, K] */
dc_tensor *dc_cce_loss(dc_ctx *c, dc_tensor *prob, dc_tensor *target);
/* Softmax + CCE fused: logits [N, K], targets [N, K]; gradient (softmax - y) / N */
dc_tensor *dc_softmax_cce_loss(dc_ctx *c, dc_tensor *logits, dc_tensor *target);
/* Sparse CCE from probabilities p [N, K] and labels [N] (class indices stored as floats) */
dc_tensor *dc_sparse_cce_loss(dc_ctx *c, dc_tensor *prob, dc_tensor *labels);
/* Softmax + sparse CCE fused (log-sum-exp): logits [N, K], labels [N] */
dc_tensor *dc_softmax_sparse_cce_loss(dc_ctx *c, dc_tensor *logits, dc_tensor *labels);

/* Convolutions and pooling, NCHW layout ([N, channels, height, width]).
 * pad = {top, left, bottom, right} zero padding, NULL for none. */
/* y[N,F,OH,OW] = sum_c,ky,kx w[F,c,ky,kx] x[N,c,oy*sh+ky-top,ox*sw+kx-left] + b[F];
 * OH = (H + top + bottom - kh) / sh + 1 (likewise OW). w [F, C, kh, kw], b [F] or NULL. */
dc_tensor *dc_conv2d(dc_ctx *c, dc_tensor *x, dc_tensor *w, dc_tensor *b, int sh, int sw, const int *pad);
/* The adjoint of dc_conv2d in its input ("deconvolution"): x [N,C,H,W], w [C, F, kh, kw] (PyTorch's
 * ConvTranspose2d layout), OH = (H - 1) sh + kh - top - bottom (likewise OW). */
dc_tensor *dc_conv2d_transpose(dc_ctx *c, dc_tensor *x, dc_tensor *w, dc_tensor *b, int sh, int sw, const int *pad);
/* y = max over each kh x kw window (no padding); gradient to the (first) max */
dc_tensor *dc_max_pool2d(dc_ctx *c, dc_tensor *x, int kh, int kw, int sh, int sw);
/* y = mean over each kh x kw window (no padding) */
dc_tensor *dc_avg_pool2d(dc_ctx *c, dc_tensor *x, int kh, int kw, int sh, int sw);
/* [N, C, H, W] -> [N, C]: mean over each plane */
dc_tensor *dc_global_avg_pool2d(dc_ctx *c, dc_tensor *x);
/* nearest-neighbour up-sampling: y[n,c,i,j] = x[n,c,i/fh,j/fw] */
dc_tensor *dc_upsample2d(dc_ctx *c, dc_tensor *x, int fh, int fw);
/* Batch normalisation over all axes but 1 of x [N, C, ...]:
 * y = gamma (x - mean) / sqrt(var + eps) + beta. In training mean/var are the batch's (biased)
 * and the running statistics, when given, are updated in place as PyTorch does:
 * running = (1 - momentum) running + momentum batch (unbiased var). In inference the running
 * statistics are used. gamma/beta may be NULL (1 and 0). */
dc_tensor *dc_batch_norm(dc_ctx *c, dc_tensor *x, dc_tensor *gamma, dc_tensor *beta, dc_tensor *running_mean,
                         dc_tensor *running_var, float momentum, float eps, bool training);
/* Layer normalisation over the last axis of x [..., D], as PyTorch's LayerNorm:
 * y = gamma (x - mean) / sqrt(var + eps) + beta, mean and (biased) var of each row of D values.
 * gamma, beta [D] (any shape of D elements) or NULL (1 and 0); eps > 0. -> [..., D].
 * Errors: DC_ERR_SHAPE for an empty last axis or gamma/beta of another size; DC_ERR_ARG for eps <= 0. */
dc_tensor *dc_layer_norm(dc_ctx *c, dc_tensor *x, dc_tensor *gamma, dc_tensor *beta, float eps);

/* Recurrent layers over whole sequences x [N, T, F] (batch first) -> y [N, T, H], every step's
 * hidden state; y[:, T-1] is the final state. h0/c0 [N, H] may be NULL (zeros). mask [N, T]
 * (1 = real step, 0 = padding) may be NULL: at a padded step a sequence keeps its state and
 * repeats its previous output (Keras's masking), wherever the padding is.
 * SimpleRNN: h_t = act(W_ih x_t + W_hh h_{t-1} + b); W_ih [H, F], W_hh [H, H], b [H]. */
dc_tensor *dc_simple_rnn(dc_ctx *c, dc_tensor *x, dc_tensor *W_ih, dc_tensor *W_hh, dc_tensor *b, dc_tensor *h0,
                         dc_activation act, const uint8_t *mask);
/* LSTM, gates in PyTorch's order i, f, g, o: [i f g o] = W_ih x_t + W_hh h_{t-1} + b;
 * c_t = sigmoid(f) c_{t-1} + sigmoid(i) tanh(g); h_t = sigmoid(o) tanh(c_t).
 * W_ih [4H, F], W_hh [4H, H], b [4H] (PyTorch's b_ih + b_hh). */
dc_tensor *dc_lstm(dc_ctx *c, dc_tensor *x, dc_tensor *W_ih, dc_tensor *W_hh, dc_tensor *b, dc_tensor *h0, dc_tensor *c0,
                   const uint8_t *mask);
/* GRU as PyTorch (and Keras reset_after): r = sigmoid(W_ir x + b_ir + W_hr h + b_hr),
 * z = sigmoid(W_iz x + b_iz + W_hz h + b_hz), n = tanh(W_in x + b_in + r (W_hn h + b_hn)),
 * h_t = (1 - z) n + z h_{t-1}. W_ih [3H, F], W_hh [3H, H], b_ih, b_hh [3H], gate order r, z, n. */
dc_tensor *dc_gru(dc_ctx *c, dc_tensor *x, dc_tensor *W_ih, dc_tensor *W_hh, dc_tensor *b_ih, dc_tensor *b_hh, dc_tensor *h0,
                  const uint8_t *mask);
/* Embedding: y[n, t, :] = table[ids[n, t], :]; ids [N, T] hold whole numbers in [0, V) (stored as
 * floats); table [V, D] -> [N, T, D]. The row padding_idx (-1 for none) gets no gradient.
 * With mask_zero the result carries a mask (id != 0) that the recurrent layers read. */
dc_tensor *dc_embedding(dc_ctx *c, dc_tensor *ids, dc_tensor *table, int64_t padding_idx, bool mask_zero);
/* The last step of a sequence batch: x [N, T, H] -> [N, H]. */
dc_tensor *dc_last_step(dc_ctx *c, dc_tensor *x);

/* Scaled dot-product attention (the core of a Transformer layer), per batch b and head h:
 *   y = dropout(softmax(q k^T scale + mask)) v, softmax over the keys.
 * q [B, H, Tq, d], k [B, H, Tk, d], v [B, H, Tk, dv] -> y [B, H, Tq, dv]. Any strides (views made by
 * dc_reshape/dc_permute of a [B, T, H*d] projection are copied to contiguous). scale <= 0 means
 * 1/sqrt(d). key_mask [B, Tk] (1 = real token, 0 = padding) or NULL; with causal, query i sees only
 * keys j <= i + (Tk - Tq). Masked logits are -inf: a query row whose keys are all masked gives
 * zeros and a zero gradient. dropout in [0, 1) applies to the attention weights in training
 * (inverted scaling, as dc_dropout): it takes one number from rng per call, from which each query
 * row's keep/drop decisions follow, whatever the thread count. With a gradient to compute the
 * probabilities [B, H, Tq, Tk] are kept for backward; otherwise (grad mode off, or no input
 * requiring grad) the rows are processed in blocks and no [B, H, Tq, Tk] tensor is made.
 * Errors: DC_ERR_SHAPE naming the shapes for a rank other than 4, different B or H, d of q and k,
 * or Tk of k and v; DC_ERR_ARG for dropout outside [0, 1), or no rng when dropout is applied. */
dc_tensor *dc_attention(dc_ctx *c, dc_tensor *q, dc_tensor *k, dc_tensor *v, const uint8_t *key_mask, bool causal,
                        float scale, float dropout, bool training, dc_rng *rng);
/* Self-attention from one packed projection qkv [B, T, 3 D] (q, k, v side by side, each D =
 * heads x dh with head h in columns h dh .. (h+1) dh, as x W_in^T + b_in of nn.MultiheadAttention)
 * -> [B, T, D] with the heads side by side: dc_attention on the split heads, merged again,
 * without copying any head out (the GEMMs read and write the packed layouts in place). */
dc_tensor *dc_attention_packed(dc_ctx *c, dc_tensor *qkv, int heads, const uint8_t *key_mask, bool causal, float scale,
                               float dropout, bool training, dc_rng *rng);
/* The same with separate projections q [B, Tq, D], k and v [B, Tk, D] (heads side by side, as
 * BERT's query/key/value layers make them) -> [B, Tq, D]. */
dc_tensor *dc_attention_heads(dc_ctx *c, dc_tensor *q, dc_tensor *k, dc_tensor *v, int heads, const uint8_t *key_mask, bool causal,
                              float scale, float dropout, bool training, dc_rng *rng);
/* Cross-attention (queries from one sequence, keys and values from another, as a Transformer
 * decoder attends to the encoder's output): q [B, Tq, D] and the packed kv [B, Tk, 2 D] (k then
 * v, e.g. memory W_kv^T + b_kv) -> [B, Tq, D]. key_mask [B, Tk] masks the memory's padding. */
dc_tensor *dc_attention_cross(dc_ctx *c, dc_tensor *q, dc_tensor *kv, int heads, const uint8_t *key_mask, bool causal, float scale,
                              float dropout, bool training, dc_rng *rng);

/* Dropout: in training zeroes each element with probability rate and scales the rest by
 * 1/(1-rate); the identity otherwise. */
dc_tensor *dc_dropout(dc_ctx *c, dc_tensor *x, float rate, bool training, dc_rng *rng);

/* ====================================================================================== */
/* 5. layers                                                                              */
/* ====================================================================================== */

typedef struct dc_layer dc_layer;

/* Declares the input shape of a model (without the batch dimension), as Keras's Input. */
dc_layer *dc_input(int ndim, const int64_t *shape);
/* Fully connected: y = act(x . W^T + b), W [units, in] (Glorot-uniform), b [units] (zeros). */
dc_layer *dc_dense(int64_t units, dc_activation act);
/* Element-wise activation (or softmax over the last axis) as a layer. */
dc_layer *dc_activation_layer(dc_activation act);
/* Inverted dropout, active only in training. */
dc_layer *dc_dropout_layer(float rate);
/* Flattens [N, d1, d2, ...] to [N, d1*d2*...]. */
dc_layer *dc_flatten(void);
/* Merging the branches of a graph model (dc_model_apply with 2 to 4 inputs): Add sums inputs of
 * one shape; Concatenate joins them along the last axis (the other axes equal). */
dc_layer *dc_add_layer(void);
dc_layer *dc_concatenate_layer(void);

/* Padding of convolution layers: VALID = none; SAME = output size ceil(input / stride), the
 * extra row/column going to the bottom/right as in Keras/TensorFlow. */
typedef enum dc_padding { DC_PAD_VALID, DC_PAD_SAME } dc_padding;
/* Conv2D on [N, C, H, W]: filters of kh x kw, square stride, weight [filters, C, kh, kw]
 * (Glorot-uniform), bias [filters]. */
dc_layer *dc_conv2d_layer(int64_t filters, int kh, int kw, int stride, dc_padding pad, dc_activation act);
/* Conv2DTranspose: weight [C, filters, kh, kw]; VALID output (H - 1) stride + kh, SAME H stride. */
dc_layer *dc_conv2d_transpose_layer(int64_t filters, int kh, int kw, int stride, dc_padding pad, dc_activation act);
/* Different vertical/horizontal strides, and explicit padding {top, left, bottom, right}. */
dc_status dc_layer_set_strides(dc_layer *l, int sh, int sw);
dc_status dc_layer_set_padding(dc_layer *l, const int pad[4]);
/* MaxPooling2D / AveragePooling2D: window kh x kw, stride (0 = the window size), no padding. */
dc_layer *dc_max_pool2d_layer(int kh, int kw, int stride);
dc_layer *dc_avg_pool2d_layer(int kh, int kw, int stride);
/* GlobalAveragePooling2D: [N, C, H, W] -> [N, C]. */
dc_layer *dc_global_avg_pool2d_layer(void);
/* UpSampling2D (nearest): [N, C, H, W] -> [N, C, H fh, W fw]. */
dc_layer *dc_upsample2d_layer(int fh, int fw);
/* BatchNormalization over axis 1 of [N, C] or [N, C, H, W]: gamma (ones) and beta (zeros) are
 * trained; running mean/variance (non-trainable) follow PyTorch's momentum convention
 * (0 < momentum <= 1, default 0.1; Keras's momentum 0.99 is 0.01 here); eps default 1e-3. */
dc_layer *dc_batch_norm_layer(float momentum, float eps);
/* Synchronised batch statistics (Keras's synchronized=True, PyTorch's SyncBatchNorm): in a
 * distributed fit (section 11) the training mean and variance are those of the whole global
 * batch, every rank's rows together, and backward takes the output gradient's means over it too,
 * so n ranks at batch B/n train exactly as one process at batch B (up to float summation order).
 * Outside a distributed fit (one process, predict, evaluate, train_step) it changes nothing.
 * It costs three small all-reduces per layer and step (channels + 1, channels and 2 x channels
 * doubles) and one of a single double per step, before backward, by which a rank whose loss
 * failed tells the others not to wait for it. An allocation failure inside the forward pass on
 * one rank alone can still leave the others waiting in the next sum. Saved with the model
 * ("synchronized" in its config). DC_ERR_ARG for a layer of another type. May be set any time. */
dc_status dc_layer_set_synchronized(dc_layer *l, bool on);

/* Options set before the layer is added to a model. */
dc_status dc_layer_set_name(dc_layer *l, const char *name);
dc_status dc_layer_set_alpha(dc_layer *l, float alpha); /* leaky_relu / elu slope */
dc_status dc_layer_set_init(dc_layer *l, dc_init weight_init, dc_init bias_init);
dc_status dc_layer_set_use_bias(dc_layer *l, bool on);
const char *dc_layer_name(const dc_layer *l);
/* Output shape without the batch dimension into shape[DC_MAX_DIMS]; returns its rank
 * (0 while the layer is not connected to an input). */
int dc_layer_output_shape(const dc_layer *l, int64_t *shape);
/* Frees a layer that was never added to a model (a model frees its own layers). */
void dc_layer_free(dc_layer *l);

/* Embedding(vocabulary, dim): token ids [N, T] (whole numbers as floats) -> [N, T, dim]; table
 * U(-0.05, 0.05) as Keras. mask_zero: id 0 is padding (no gradient, and the next recurrent layer
 * skips those steps). */
dc_layer *dc_embedding_layer(int64_t vocabulary, int64_t dim, bool mask_zero);
/* Recurrent layers on [N, T, F]: output [N, T, units] if return_sequences, else the final state
 * [N, units]. Weights as in dc_simple_rnn / dc_lstm / dc_gru (PyTorch's layouts and gate orders),
 * initialised U(-1/sqrt(units), 1/sqrt(units)) as PyTorch; biases zero except the LSTM's
 * forget gate, 1 as Keras's unit_forget_bias (dc_layer_set_forget_bias changes it). A mask from
 * an Embedding(mask_zero) makes them skip padded steps. Stack them with return_sequences. */
dc_layer *dc_simple_rnn_layer(int64_t units, dc_activation act, bool return_sequences);
dc_layer *dc_lstm_layer(int64_t units, bool return_sequences);
dc_layer *dc_gru_layer(int64_t units, bool return_sequences);
dc_status dc_layer_set_forget_bias(dc_layer *l, float value);

/* Transformer layers on sequences [N, T, D]. Parameter names and layouts are PyTorch's, so a
 * state_dict saved as safetensors loads with dc_model_load_weights (see README).
 * LayerNormalization over the last axis: weight (ones) and bias (zeros) [D]; eps 0 = 1e-5. */
dc_layer *dc_layer_norm_layer(float eps);
/* The epsilon of a LayerNormalization or TransformerEncoderLayer (BERT uses 1e-12). */
dc_status dc_layer_set_epsilon(dc_layer *l, float eps);
/* x + table[0..T): a learned table "weight" [max_len, D] (N(0, 0.02), as BERT's position
 * embeddings) or the fixed sinusoids of Vaswani et al. ("table", not trained). A sequence longer
 * than max_len is DC_ERR_SHAPE naming both numbers. */
dc_layer *dc_positional_embedding_layer(int64_t max_len, bool learned);
/* Multi-head self-attention [N, T, D] -> [N, T, D], D divisible by heads: q, k, v = x W_in^T + b_in
 * (packed: in_proj_weight [3D, D], in_proj_bias [3D]), softmax(q k^T / sqrt(D/heads) + masks) v per
 * head, then out_proj.weight [D, D], out_proj.bias [D] (nn.MultiheadAttention's names). causal
 * masks future steps; steps padded by an Embedding(mask_zero) are never attended to; dropout
 * applies to the attention weights in training. Wired to two inputs with dc_model_apply (queries
 * [N, Tq, D], memory [N, Tk, D]) it is cross-attention: q from the first input, k and v from the
 * second (W_in split into query and key/value rows as PyTorch does), the memory's padding mask
 * applied to the keys. */
dc_layer *dc_multi_head_attention_layer(int heads, bool causal, float dropout);
/* Separate q, k and v projections instead of the packed in_proj_weight, as nn.MultiheadAttention
 * with kdim/vdim: q_proj_weight [D, D], k_proj_weight and v_proj_weight [D, Dm], in_proj_bias
 * [3D], out_proj.*; Dm is the memory's width, which may then differ from D (D for
 * self-attention). Set before the layer is added. */
dc_status dc_layer_set_separate_projections(dc_layer *l, bool on);
/* nn.TransformerEncoderLayer (batch first): self-attention, then a feed-forward network
 * D -> ff_units -> D with act (relu, gelu or gelu_tanh), each followed by dropout and a residual
 * connection, with LayerNorm after each residual (post-norm: the original Transformer, BERT) or
 * before each sub-layer (pre_norm). Parameters: self_attn.in_proj_weight, self_attn.in_proj_bias,
 * self_attn.out_proj.weight/bias, linear1.weight/bias, linear2.weight/bias, norm1.weight/bias,
 * norm2.weight/bias; LayerNorm eps 1e-5 (dc_layer_set_epsilon). */
dc_layer *dc_transformer_encoder_layer(int heads, int64_t ff_units, float dropout, dc_activation act, bool pre_norm,
                                       bool causal);
/* nn.TransformerDecoderLayer (batch first), wired with dc_model_apply to two inputs: the target
 * sequence [N, T, D] and the memory [N, S, D] (the encoder's output). Causal self-attention over
 * the target, cross-attention to the memory (its padding mask from Embedding(mask_zero) applies),
 * feed-forward; post-norm, or pre-norm with pre_norm. Parameters self_attn.*, multihead_attn.*,
 * linear1/2.*, norm1/2/3.* as PyTorch names them; dropout after each block and inside the
 * feed-forward network. */
dc_layer *dc_transformer_decoder_layer(int heads, int64_t ff_units, float dropout, dc_activation act, bool pre_norm);
/* [N, T, D] -> [N, D]: the mean over the steps (the real ones, when an Embedding(mask_zero) mask
 * is present). */
dc_layer *dc_global_avg_pool1d_layer(void);

/* ---- BERT (src/nn/bert.c): Devlin et al.'s encoder, with Hugging Face's BertModel names ----
 * Named "embeddings", "encoder.layer.<i>" and "pooler" (dc_layer_set_name), these layers'
 * parameters are named as in a public BERT checkpoint ("encoder.layer.0.attention.self.query.weight"),
 * so dc_model_load_weights reads one converted to safetensors; dc_bert_load does it all.
 * BertEmbeddings: token ids [N, T] (whole numbers as floats), and in a graph model optionally
 * token_type_ids [N, T] as a second input (segment 0 when absent) -> [N, T, hidden]:
 *   y = dropout(LayerNorm(word[ids] + position[0..T) + token_type[types]))
 * Parameters word_embeddings.weight [vocab, hidden], position_embeddings.weight [max_positions,
 * hidden], token_type_embeddings.weight [type_vocab, hidden] (N(0, 0.02)), LayerNorm.weight/bias
 * [hidden]. [PAD] is id 0: its steps carry a padding mask that the encoder layers' attention
 * skips, and its row gets no gradient. Errors: DC_ERR_SHAPE naming the layer and both numbers
 * for T > max_positions (when connected, and for a longer batch in forward); DC_ERR_ARG naming
 * the id, its place and the vocabulary size for an id outside [0, vocab) (or [0, type_vocab)). */
dc_layer *dc_bert_embeddings_layer(int64_t vocab, int64_t hidden, int64_t max_positions, int64_t type_vocab, float eps,
                                   float dropout);
/* BertLayer: a post-norm encoder layer on [N, T, D] -> [N, T, D]:
 *   a = LayerNorm(x + dropout(attention(x) W_o^T + b_o))       attention.output.{dense,LayerNorm}
 *   y = LayerNorm(a + dropout(GELU(a W_i^T + b_i) W_2^T + b_2)) intermediate.dense, output.{dense,LayerNorm}
 * attention: separate projections attention.self.{query,key,value}.{weight [D, D], bias [D]},
 * softmax(q k^T / sqrt(D / heads)) v per head (dc_attention_heads), padded keys (the embeddings'
 * mask) skipped; GELU
 * exact (erf). dropout applies to the attention weights and both sub-layer outputs in training.
 * Errors: DC_ERR_ARG for heads outside [1, 4096], intermediate <= 0, eps <= 0, dropout outside
 * [0, 1); DC_ERR_SHAPE naming the layer and both numbers when heads do not divide D. */
dc_layer *dc_bert_layer(int heads, int64_t intermediate, float eps, float dropout);
/* BertPooler: [N, T, D] -> [N, D], y = tanh(x[:, 0] W^T + b) (dense.weight [D, D], dense.bias [D]):
 * the [CLS] step, as classifiers on BERT read it. */
dc_layer *dc_bert_pooler_layer(void);
typedef struct dc_model dc_model; /* section 7 */
/* Options of dc_bert_load (dc_bert_defaults: heads 0, seq_len 0, with_pooler true, eps 1e-12,
 * dropout 0, token_types false). */
typedef struct dc_bert_opts {
    int heads;        /* attention heads, which a checkpoint's shapes do not tell (config.json's
                         num_attention_heads); 0: the file's "num_attention_heads" metadata, else
                         hidden / 64 as every published BERT (base 12, large 16, mini 4) */
    int64_t seq_len;  /* T of the model's input for dc_model_predict/fit; 0: max_positions */
    bool with_pooler; /* end with "pooler" (output [N, hidden]); else the last hidden state [N, T, hidden] */
    float eps;        /* LayerNorm epsilon, 0: 1e-12 (BERT's) */
    float dropout;    /* hidden and attention dropout in training (BERT trains with 0.1) */
    bool token_types; /* a graph model with two inputs, "input_ids" and "token_type_ids" (both
                         [N, seq_len], for dc_model_predict_n/fit_n), instead of token ids alone */
} dc_bert_opts;
dc_bert_opts dc_bert_defaults(void);
/* A Sequential BERT encoder built from a safetensors checkpoint and loaded with its weights:
 * vocab, hidden, max_positions, type_vocab, the number of layers and the intermediate size are
 * read from the shapes of embeddings.word_embeddings.weight, embeddings.position_embeddings.weight,
 * embeddings.token_type_embeddings.weight, encoder.layer.<i>.* and encoder.layer.0.intermediate.
 * dense.weight; names may carry the "bert." prefix of BertForPreTraining/...Classification
 * checkpoints, LayerNorms may be named gamma/beta (checkpoints converted from TensorFlow), and
 * other tensors (cls.*, position_ids) are ignored. The model's input is token
 * ids [N, seq_len] with segment 0 everywhere, or with opts->token_types the ids and the segment
 * ids as two inputs (dc_bert_forward takes segment ids either way). NULL on error,
 * with nothing left allocated: DC_ERR_FORMAT naming the file and tensor for a missing one,
 * DC_ERR_SHAPE naming the tensor, both shapes and the layer for a shape that does not fit (and
 * the layers' own errors: heads that do not divide hidden, seq_len > max_positions),
 * DC_ERR_NUMERIC for a non-finite value. */
dc_model *dc_bert_load(const char *path, const dc_bert_opts *opts);
/* Runs a BERT model (dc_bert_load's, or one of BertEmbeddings, BertLayer... and an optional
 * BertPooler) on ids [N, T] (any T up to max_positions) and token_type_ids [N, T] (NULL: all 0).
 * Returns the model's output (the pooled [N, hidden] with a pooler, else the last hidden state
 * [N, T, hidden]), a step tensor of c; *hidden (hidden may be NULL) receives the last hidden
 * state [N, T, hidden] either way. NULL on error (the layers' errors, prefixed by the layer). */
dc_tensor *dc_bert_forward(dc_model *m, dc_ctx *c, dc_tensor *ids, dc_tensor *token_type_ids, bool training,
                           dc_tensor **hidden);

/* ====================================================================================== */
/* 6. optimisers                                                                          */
/* ====================================================================================== */

typedef struct dc_optimizer dc_optimizer;
/* v = momentum v + g; w -= lr (nesterov ? g + momentum v : v)  (PyTorch's SGD) */
dc_optimizer *dc_sgd(float lr, float momentum, bool nesterov);
/* s += g^2; w -= lr g / (sqrt s + eps) */
dc_optimizer *dc_adagrad(float lr, float eps);
/* Zeiler: s = rho s + (1-rho) g^2; d = sqrt(u + eps)/sqrt(s + eps) g; u = rho u + (1-rho) d^2; w -= lr d */
dc_optimizer *dc_adadelta(float lr, float rho, float eps);
/* s = rho s + (1-rho) g^2; w -= lr g / (sqrt s + eps) */
dc_optimizer *dc_rmsprop(float lr, float rho, float eps);
/* m = b1 m + (1-b1) g; v = b2 v + (1-b2) g^2; w -= lr mhat / (sqrt vhat + eps) */
dc_optimizer *dc_adam(float lr, float beta1, float beta2, float eps);
/* L2 regularisation: g += wd * w before the update (all trainable parameters). */
dc_status dc_optimizer_set_weight_decay(dc_optimizer *o, float wd);
dc_status dc_optimizer_set_lr(dc_optimizer *o, float lr);
/* Gradient clipping before each update (0 turns it off): by the global norm over all
 * parameters, g *= min(1, max_norm / ||g||) (PyTorch's clip_grad_norm_, Keras's global_clipnorm),
 * then element-wise to [-max_abs, max_abs] (Keras's clipvalue). */
dc_status dc_optimizer_set_clipnorm(dc_optimizer *o, float max_norm);
dc_status dc_optimizer_set_clipvalue(dc_optimizer *o, float max_abs);
float dc_optimizer_lr(const dc_optimizer *o);
const char *dc_optimizer_name(const dc_optimizer *o);
/* Frees an optimizer that was never given to dc_model_compile. */
void dc_optimizer_free(dc_optimizer *o);
/* One update of n parameters w with gradients g (for hand-written training loops over
 * the tensors of a model, see dc_model_params/dc_model_grads). */
dc_status dc_optimizer_step(dc_optimizer *o, float *w, const float *g, int64_t n);

/* ====================================================================================== */
/* 7. models: build, compile, fit, evaluate, predict                                      */
/* ====================================================================================== */

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

typedef struct dc_fit_opts {
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
    /* Checkpoints (written atomically, see section 10). A failed write stops training with
     * the error; the previous file stays intact. */
    const char *checkpoint_path; /* training checkpoint written every checkpoint_every epochs and
                                    after the last one; NULL (default) for none */
    int checkpoint_every;        /* default 1 */
    bool resume;                 /* if checkpoint_path exists, continue from it (after a crash or
                                    a kill, rerun the same program) */
    const char *best_path;       /* model file (dc_model_save) written whenever `monitor` improves */
    const char *monitor;         /* history key watched for best_path: default "val_loss" with
                                    validation data, else "loss"; keys holding "loss", "mae" or
                                    "mse" are minimised, others maximised */
} dc_fit_opts;
dc_fit_opts dc_fit_defaults(void);
/* Trains to epoch opts->epochs; if history is not NULL it receives a new dc_history the caller
 * frees. Every epoch's shuffle and dropout streams derive from the seed and the epoch number, so
 * a run resumed from a checkpoint (dc_model_load_checkpoint or opts->resume) starts at the epoch
 * after the checkpoint's and ends bit-identical to one that was never interrupted, its history
 * holding every epoch. A non-finite loss or gradient stops training with DC_ERR_NUMERIC naming
 * the epoch, the batch and (for a gradient) the first parameter that went non-finite. After
 * dc_dist_init on several MPI ranks, fit and evaluate are data parallel (section 11). */
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

/* ====================================================================================== */
/* 8. data                                                                                */
/* ====================================================================================== */

/* CSV (plain or gzip-compressed, detected by content). Numbers only; a cell that is not a
 * number gives DC_ERR_FORMAT naming the file, line and column. */
typedef struct dc_csv_opts {
    char delimiter;          /* default ',' */
    int skip_rows;           /* lines skipped before the data (e.g. 1 for a header), default 0 */
    int label_col;           /* column of the label; -1 = last column (default); -2 = no label */
    const int *feature_cols; /* columns of the features, NULL = every column but the label */
    int nfeature_cols;
    const char *label_name;  /* with skip_rows >= 1: pick the label column by header name */
} dc_csv_opts;
dc_csv_opts dc_csv_defaults(void);
/* x [rows, features]; y [rows] (NULL if y_out is NULL or there is no label). On error both
 * stay NULL. DC_ERR_FORMAT naming the file, line and column: a cell that is not a number
 * ("abc", "1.5x", an empty cell), a row with another column count than the first, a NUL byte,
 * a line over 16 MiB, an unterminated quote, no data rows, corrupt or truncated gzip data.
 * DC_ERR_NUMERIC naming the line and column: NaN, Inf or a value beyond float32 ("nan", "inf",
 * "1e999", "1e39"). DC_ERR_ARG: an out-of-range label_col or feature_cols entry, a label_name
 * missing from the header. DC_ERR_IO: a file that cannot be opened. */
dc_status dc_csv_load(const char *path, const dc_csv_opts *o, dc_tensor **x_out, dc_tensor **y_out);

/* Feature scaling, fitted on training rows and applied to any [rows, features] tensor. */
typedef struct dc_scaler dc_scaler;
/* (x - mean) / std per column; constant columns keep std 1 */
dc_scaler *dc_standard_scaler_fit(const dc_tensor *x);
/* (x - min) / (max - min) per column into [0, 1]; constant columns map to 0 */
dc_scaler *dc_minmax_scaler_fit(const dc_tensor *x);
dc_status dc_scaler_apply(const dc_scaler *s, dc_tensor *x); /* in place */
void dc_scaler_free(dc_scaler *s);

/* Shuffles rows with seed and splits off the last test_fraction of them. Outputs are owned. */
dc_status dc_train_test_split(const dc_tensor *x, const dc_tensor *y, float test_fraction,
                              uint64_t seed, dc_tensor **x_train, dc_tensor **y_train,
                              dc_tensor **x_test, dc_tensor **y_test);
/* labels [N] (class indices) -> owned [N, num_classes] */
dc_tensor *dc_one_hot(const dc_tensor *labels, int64_t num_classes);
/* Owned tensor of the rows idx[0..n) of x (x's first axis). */
dc_tensor *dc_take_rows(const dc_tensor *x, const int64_t *idx, int64_t n);
/* Checks that every element is finite; DC_ERR_NUMERIC names `what` and the first bad index. */
dc_status dc_check_finite(const dc_tensor *t, const char *what);

/* IDX files (MNIST format), plain or gzip. Images come back as float [N, rows, cols]
 * scaled to [0, 1] if scale is true, labels as float [N]. Only unsigned bytes (type 0x08) with
 * 1 to DC_MAX_DIMS dimensions are read. NULL on error: DC_ERR_IO for a missing file;
 * DC_ERR_FORMAT naming the file and the numbers for a wrong magic, another element type, a
 * zero dimension, more than 2^31 elements, a truncated header or data (checked against the
 * file's size before allocating; for gzip, against what the compressed size can hold, and the
 * data is taken in as it arrives), data after the last element, and corrupt gzip data. */
dc_tensor *dc_idx_load(const char *path, bool scale);

/* ---- sequences: time series and text (src/data/series.c, src/data/text.c) ---- */
/* Sliding windows over a series of n values for sequence models: row i of x [rows, window, 1]
 * holds series[i .. i+window), y [rows, 1] holds series[i + window + horizon - 1] (horizon 1 =
 * the next value); rows = n - window - horizon + 1. Outputs are owned.
 * Errors: DC_ERR_ARG for NULL pointers or window/horizon <= 0; DC_ERR_SHAPE when the series is
 * shorter than window + horizon; DC_ERR_NUMERIC naming the index of a NaN or Inf. */
dc_status dc_make_windows(const float *series, int64_t n, int64_t window, int64_t horizon,
                          dc_tensor **x_out, dc_tensor **y_out);
/* The same over several features: series [n, features] (any strides) -> x [rows, window,
 * features], y [rows, 1] from column target (negative counts from the end: -1 = last). */
dc_status dc_make_windows_multi(const dc_tensor *series, int64_t window, int64_t horizon, int target,
                                dc_tensor **x_out, dc_tensor **y_out);
/* One column of a CSV file (plain or gzip) with a header line, chosen by its header name
 * (quoted or not), as an owned float [rows]; the other columns may hold text (dates). NULL on
 * error: DC_ERR_IO for a missing file, DC_ERR_ARG if no header cell is `name`, and
 * dc_csv_load's errors for the data (a non-number names the file, line and column). */
dc_tensor *dc_csv_column(const char *path, const char *name);

/* Reads a file in the fortune(6) format (plain or gzip): entries separated by lines holding
 * only '%'. *texts receives n owned, NUL-terminated entries without trailing white space
 * (free with dc_texts_free); blank entries are skipped. Errors: DC_ERR_IO if the file cannot
 * be read; DC_ERR_FORMAT if it holds a NUL byte (binary; line and byte named), no entries,
 * more than 1 GiB of text, or corrupt or truncated gzip data. */
dc_status dc_read_fortunes(const char *path, char ***texts, int64_t *n);
/* Frees n strings and their array (from dc_read_fortunes or dc_tokenize); NULL is ignored. */
void dc_texts_free(char **texts, int64_t n);
/* Tokeniser. Word mode: a token is a run of ASCII letters, digits and bytes >= 0x80 (so UTF-8
 * words stay whole), with an apostrophe kept only between two of them ("don't"); everything
 * else separates tokens; ASCII letters are lower-cased. Character mode (chars): every byte is
 * a token, case kept. *tokens receives n owned strings (free with dc_texts_free). */
dc_status dc_tokenize(const char *text, bool chars, char ***tokens, int64_t *n);
/* Vocabulary: token <-> index. */
typedef struct dc_vocab dc_vocab;
/* Counts the tokens of texts[0..n) (hash table, linear time) and keeps the max_words most
 * frequent (max_words <= 0: all), ties in order of first appearance. Index 0 is padding
 * ("<pad>"), 1 out-of-vocabulary ("<oov>"), then the tokens by falling count. chars selects
 * the character-level (byte) tokeniser. NULL on error: DC_ERR_ARG for NULL texts, n <= 0, or
 * texts holding no token at all. */
dc_vocab *dc_vocab_build(char *const *texts, int64_t n, int64_t max_words, bool chars);
void dc_vocab_free(dc_vocab *v);
/* Number of indices, padding and out-of-vocabulary included. */
int64_t dc_vocab_size(const dc_vocab *v);
/* Index of a token (ASCII letters lower-cased in word mode; a loaded vocabulary first tries
 * the token as written, so "[CLS]" or a cased "The" are found); the unknown index if absent:
 * 1 for a built vocabulary, the [UNK]/<oov> line of a loaded one; -1 if v or token is NULL. */
int64_t dc_vocab_index(const dc_vocab *v, const char *token);
/* The token of an index (for a built vocabulary "<pad>" for 0 and "<oov>" for 1; for a loaded one
 * the file's line); owned by v; NULL if out of range. */
const char *dc_vocab_token(const dc_vocab *v, int64_t index);
/* Owned float [n, maxlen] of token indices: the first maxlen tokens of each text, unknown
 * tokens as the unknown index (1 for a built vocabulary, the [UNK]/<oov> line of a loaded one),
 * padded with 0 at the end (or at the front if pad_front, as Keras does; a loaded vocabulary
 * pads with 0 too, whatever its line 0 holds).
 * lengths_out (NULL or n values) receives each text's token count after truncation.
 * NULL on error, DC_ERR_ARG: NULL arguments, n <= 0, maxlen <= 0, a text with no tokens
 * ("text 12 has no tokens"), a vocabulary beyond 2^24 indices (not exact as float). */
dc_tensor *dc_texts_to_sequences(const dc_vocab *v, char *const *texts, int64_t n, int64_t maxlen,
                                 bool pad_front, int64_t *lengths_out);
/* ---- WordPiece: BERT's tokenizer (src/data/wordpiece.c) ---- */
/* Tokenizes as BERT's tokenization.py does (HuggingFace's BertTokenizer reproduces it), without
 * ICU: Unicode tables for all of Unicode (generated from Python's unicodedata, Unicode 14.0)
 * cover the character classes, lower-casing and canonical decomposition. A UTF-8 text (an
 * invalid byte is dropped) is cleaned (NUL, U+FFFD and Cc/Cf controls dropped, white space
 * - space, tab, newline, carriage return, Zs - made spaces), CJK ideographs are split off as
 * words, the text is split at white space (U+2028 and U+2029 too), lower_case lower-cases as
 * Python's str.lower() (final sigma included) and strips accents (NFD, then the Mn marks
 * dropped; Hangul syllables become jamo), and every punctuation character (ASCII 33-47, 58-64,
 * 91-96, 123-126 and the P* categories) becomes a word. Each word is then split greedily into
 * the longest vocabulary entries, pieces after the first written "##piece"; a word of more than
 * 100 code points, or one with a part no entry matches, becomes "[UNK]". Lookups compare bytes
 * exactly. Special tokens in a text are not recognised: "[CLS]" reads as "[", "cls", "]".
 * The one departure from NFD: marks that stay (spacing marks, Mc, with a combining class) keep
 * their order where NFD's canonical reordering would swap two of different classes. */
typedef struct dc_wordpiece dc_wordpiece;
/* A tokenizer from a BERT vocab.txt (dc_vocab_load's layout and errors: one token per line,
 * line i being id i, no empty or repeated lines); lower_case also strips accents (BERT
 * uncased). NULL on error: DC_ERR_ARG for a NULL path, DC_ERR_IO for a file that cannot be
 * read, DC_ERR_FORMAT naming the file for a broken one and for a missing "[PAD]", "[UNK]",
 * "[CLS]" or "[SEP]" line (naming the token). */
dc_wordpiece *dc_wordpiece_load(const char *vocab_path, bool lower_case);
void dc_wordpiece_free(dc_wordpiece *wp);
/* Sub-word tokens of a text into n owned strings (free with dc_texts_free), e.g. "unaffable"
 * -> "un", "##aff", "##able"; a text with no tokens gives n = 0. DC_ERR_ARG for NULL
 * arguments. */
dc_status dc_wordpiece_tokenize(const dc_wordpiece *wp, const char *text, char ***tokens, int64_t *n);
/* BERT's input for one text (text_b NULL) or a pair, as BERT's run_classifier.py builds it:
 * [CLS] a [SEP] (b [SEP]). A single text keeps its first max_len - 2 tokens; a pair is cut to
 * max_len - 3 tokens by dropping the last token of the longer part (of b when they are equally
 * long) until it fits. A text_b without tokens (empty, only white space), or one cut to nothing,
 * is left out with its [SEP], as BERT does. ids, segment_ids (0 for [CLS] a [SEP], 1 for
 * b [SEP]) and attention_mask (1 for real tokens, 0 for padding) each receive max_len values
 * (floats, ready for an Embedding); padding is the [PAD] id with segment 0. *len (len may be
 * NULL) receives the unpadded length. DC_ERR_ARG: NULL arguments, max_len < 3 ("max_len 2
 * cannot hold [CLS] and [SEP] ..."). */
dc_status dc_wordpiece_encode(const dc_wordpiece *wp, const char *text_a, const char *text_b, int64_t max_len,
                              float *ids, float *segment_ids, float *attention_mask, int64_t *len);
/* The id of a token, compared exactly ("[CLS]", "##ing"); -1 if absent (or NULL arguments). */
int64_t dc_wordpiece_id(const dc_wordpiece *wp, const char *token);
/* The token of an id, owned by wp; NULL (DC_ERR_ARG) if out of range. */
const char *dc_wordpiece_token(const dc_wordpiece *wp, int64_t id);
/* Number of ids (lines of the vocabulary file); 0 for NULL. */
int64_t dc_wordpiece_vocab_size(const dc_wordpiece *wp);
/* ---- end of sequences ---- */

/* ====================================================================================== */
/* 9. plots                                                                               */
/* ====================================================================================== */

/* Learning curves: one SVG with two panels, loss/val_loss and (if recorded) the first
 * metric and its val_ counterpart against epoch. */
dc_status dc_plot_history_svg(const dc_history *h, const char *path, const char *title);
/* Line chart of up to 4 series sharing an x axis of n points (x may be NULL: 0..n-1). */
typedef struct dc_series {
    const char *label;
    const double *y;
} dc_series;
dc_status dc_plot_lines_svg(const char *path, const char *title, const char *xlabel,
                            const char *ylabel, const double *x, int64_t n,
                            const dc_series *series, int nseries);

/* ====================================================================================== */
/* 10. files: models, checkpoints, safetensors, NumPy                                     */
/* ====================================================================================== */
/* Every writer below replaces its file atomically: it writes "<path>.tmp.<pid>" in the same
 * directory, fsyncs it, renames it over path and fsyncs the directory, so a crash, a kill or a
 * full disk leaves either the old file or the complete new one. Every reader validates sizes,
 * offsets and shapes against the file before it allocates or reads, and answers a broken or
 * hostile file with DC_ERR_FORMAT (or DC_ERR_IO) naming the file, the entry and the numbers. */

/* Element types in files. deepc computes in float32 and converts on load and save. */
typedef enum dc_dtype {
    DC_DTYPE_F32, DC_DTYPE_F64, DC_DTYPE_F16, DC_DTYPE_BF16,
    DC_DTYPE_I8, DC_DTYPE_I16, DC_DTYPE_I32, DC_DTYPE_I64,
    DC_DTYPE_U8, DC_DTYPE_U16, DC_DTYPE_U32, DC_DTYPE_U64,
    DC_DTYPE_BOOL,
    DC_DTYPE_COUNT
} dc_dtype;
/* safetensors' names: "F32", "F64", "F16", "BF16", "I8", ..., "U64", "BOOL". */
const char *dc_dtype_name(dc_dtype t);
/* Bytes per element (0 for an unknown dtype). */
size_t dc_dtype_size(dc_dtype t);

/* ---- safetensors: an 8-byte little-endian header size, a JSON header
 * {"__metadata__": {key: string}, name: {"dtype", "shape", "data_offsets": [begin, end]}},
 * then the data, little-endian, C order. The format of the Python ecosystem's weights. ---- */
typedef struct dc_safetensors dc_safetensors;
/* Opens a file and validates its header: JSON (UTF-8), dtypes, shapes and offsets as plain
 * integers below 2^53, offsets inside the data and covering it without holes or overlaps (other
 * dtypes such as F8_* are DC_ERR_FORMAT). Tensors are read on demand; several threads may read
 * from one open file at once. NULL on error. */
dc_safetensors *dc_safetensors_open(const char *path);
void dc_safetensors_close(dc_safetensors *st);
/* Tensors in the file, in the order of their data. */
int dc_safetensors_count(const dc_safetensors *st);
const char *dc_safetensors_name(const dc_safetensors *st, int i);
/* Index of a tensor by name, or -1. */
int dc_safetensors_find(const dc_safetensors *st, const char *name);
/* Shape (into shape[DC_MAX_DIMS]) and dtype of tensor i; returns its rank, or -1 if i is out of
 * range. A 0-d (scalar) tensor is reported as shape [1]. */
int dc_safetensors_shape(const dc_safetensors *st, int i, int64_t *shape, dc_dtype *dtype);
/* Tensor `name` as a new owned float32 tensor (F16, BF16, F64 and integers converted). An
 * unknown name is DC_ERR_ARG; an integer float32 cannot hold exactly, or an F64 beyond float32's
 * range, is DC_ERR_NUMERIC naming the tensor and the element. */
dc_tensor *dc_safetensors_read(const dc_safetensors *st, const char *name);
/* Reads tensor `name` into the contiguous tensor dst (else DC_ERR_ARG), whose shape must be the
 * file's: DC_ERR_SHAPE names the tensor and both shapes. */
dc_status dc_safetensors_read_into(const dc_safetensors *st, const char *name, dc_tensor *dst);
/* A "__metadata__" value, or NULL if absent. */
const char *dc_safetensors_meta(const dc_safetensors *st, const char *key);
/* Writes n tensors (any strides) named names[i], stored as dtype (F32, F16 or BF16; F16/BF16
 * round to nearest even), with nmeta metadata pairs keys[i] -> values[i] (nmeta may be 0).
 * Names must be unique, non-empty, valid UTF-8 and not "__metadata__" (else DC_ERR_ARG, nothing
 * written). The header is compact JSON with "__metadata__" first, byte for byte what Python's
 * json.dumps(separators=(",", ":"), ensure_ascii=False) gives for the same content. */
dc_status dc_safetensors_save(const char *path, int n, const char *const *names, const dc_tensor *const *tensors,
                              dc_dtype dtype, int nmeta, const char *const *keys, const char *const *values);

/* ---- NumPy .npy and .npz ---- */
/* Loads an .npy array (format 1.0, 2.0 or 3.0; float16/32/64, int8-64, uint8-64 or bool; little
 * or big endian; C order) as an owned float32 tensor. DC_ERR_FORMAT for Fortran order or other
 * dtypes; DC_ERR_NUMERIC for an integer float32 cannot hold exactly (such as 2^24 + 1) or a
 * float64 beyond float32's range, naming the element. A 0-d array comes back as shape [1]; an
 * array with a zero dimension as an empty tensor. */
dc_tensor *dc_npy_load(const char *path);
/* Saves t (any strides) as dtype: F32, F64, F16, I8-I64, U8-U64 or BOOL (BF16, which NumPy lacks,
 * is DC_ERR_ARG), with NumPy's own header: the bytes equal np.save's.
 * For integer and bool dtypes every value must be a whole number in range (bool: 0 or 1);
 * DC_ERR_NUMERIC names the first that is not, and nothing is written. */
dc_status dc_npy_save(const char *path, const dc_tensor *t, dc_dtype dtype);
/* Loads every array of an .npz archive (stored or deflated, as np.savez and
 * np.savez_compressed write them; zip64 too): *n arrays, names without ".npy" (other member
 * names kept as they are). A damaged member, a CRC mismatch or two members of one name are
 * DC_ERR_FORMAT naming the archive and the member. Free with dc_npz_free. */
dc_status dc_npz_load(const char *path, int *n, char ***names, dc_tensor ***arrays);
void dc_npz_free(int n, char **names, dc_tensor **arrays);
/* Saves n float32 arrays as an .npz archive (deflated if compress, as np.savez_compressed). */
dc_status dc_npz_save(const char *path, int n, const char *const *names, const dc_tensor *const *arrays,
                      bool compress);

/* ---- models ---- */
/* Saves a built model in one safetensors file: its parameters and state under their names
 * ("dense_1.weight", "batch_normalization.running_mean"), the architecture as JSON in the
 * metadata key "deepc.model", and the loss, metrics and optimiser settings if compiled. Python's
 * safetensors reads the weights as they are. */
dc_status dc_model_save(const dc_model *m, const char *path);
/* A model rebuilt from dc_model_save's file, with its weights, compiled as it was saved (with a
 * fresh optimiser) if it was compiled. NULL on error. */
dc_model *dc_model_load(const char *path);
/* Weights only, in safetensors: every parameter and state tensor of a built model. */
dc_status dc_model_save_weights(const dc_model *m, const char *path);
/* Loads weights into a built model from a safetensors file (deepc's or another framework's with
 * the same names): every parameter and state tensor must be present with its shape, and extra
 * tensors are an error unless allow_extra. Values are checked finite. Nothing changes on error. */
dc_status dc_model_load_weights(dc_model *m, const char *path, bool allow_extra);
/* Training checkpoint: weights, state, the optimiser's state and step count, the epoch reached,
 * the seed and random-number state, and the history so far. */
dc_status dc_model_save_checkpoint(const dc_model *m, const char *path);
/* Restores a checkpoint into a compiled model of the same architecture and optimiser; the next
 * dc_model_fit resumes at the epoch after the checkpoint's and, given the same data, batch size
 * and thread count, ends bit-identical to a run that was never interrupted. */
dc_status dc_model_load_checkpoint(dc_model *m, const char *path);

/* ---- vocabularies ---- */
/* Writes a vocabulary as text, one token per line in index order, each ended by '\n' (the
 * layout of BERT's vocab.txt), atomically; dc_vocab_load gives back the same indices. A token
 * that would not read back as itself cannot be written (DC_ERR_ARG naming its index, nothing
 * written): one holding a newline (a character vocabulary of multi-line texts has "\n"), one
 * ending in a carriage return, one longer than 1000 bytes; nor more than 2^24 tokens. */
dc_status dc_vocab_save(const dc_vocab *v, const char *path);
/* Reads a vocab.txt (plain or gzip): line i (from 0) is the token of index i, taken verbatim
 * ("##ing", "[CLS]"); "\r\n" line ends and a last line without '\n' are accepted. Unknown
 * tokens map to the first line holding "[UNK]" or "<oov>", which must exist (BERT's [UNK] is
 * 100); padding stays 0. chars selects the character tokeniser for dc_texts_to_sequences.
 * NULL on error: DC_ERR_IO for a missing file; DC_ERR_FORMAT naming the file and line for NUL
 * bytes, an empty line (a token cannot be empty), a token ending in a carriage return, a line
 * over 1000 bytes, a token repeated (naming both lines), more than 2^24 lines, no [UNK]/<oov>
 * line, an empty file, a file over 1 GiB, or corrupt gzip data. */
dc_vocab *dc_vocab_load(const char *path, bool chars);


/* ====================================================================================== */
/* 11. distributed: data parallelism over MPI                                             */
/* ====================================================================================== */

/* Data-parallel training, built in when CMake finds MPI (Debian: libopenmpi-dev). Launch the
 * same program on every rank (mpirun -np 2 ./prog) and call dc_dist_init first: from then on
 * dc_model_fit and dc_model_evaluate are collective calls that every rank makes with the same
 * data, and they split the work:
 *  - fit broadcasts rank 0's parameters and state to every rank at its start; every rank draws
 *    the same shuffled order (same seed), and of each global batch of batch_size rows rank r
 *    takes the contiguous slice [r*n/size, (r+1)*n/size) (n rows in the batch: a remainder, or a
 *    last batch smaller than batch_size, gives some ranks one row more; a rank with no rows adds
 *    nothing). Gradients are summed over the ranks weighted by each rank's rows, which equals the
 *    one-process gradient of the whole batch up to the order of float additions; every rank then
 *    takes the same optimiser step, so the ranks' parameters stay identical.
 *  - loss and metrics are summed over the ranks: the history and progress line are those of the
 *    whole batch; only rank 0 prints and writes checkpoint_path and best_path (resume reads the
 *    checkpoint on every rank, so it must be on a file system they all see).
 *  - dropout draws a different stream on each rank. BatchNormalization uses each rank's own batch
 *    statistics in training, unless synchronised (dc_layer_set_synchronized,
 *    dc_model_set_sync_batch_norm): then they are the whole global batch's, and every batch,
 *    the last one too, must hold a row per rank (DC_ERR_ARG at the start of fit otherwise).
 *    After every epoch rank 0's running statistics are broadcast to all (as PyTorch's
 *    DistributedDataParallel does), so evaluation and saved models see one model.
 *  - evaluate scores a contiguous part of the rows on each rank and sums the results, which every
 *    rank receives. predict and train_step stay local to the calling rank.
 *  - if any rank fails (a bad argument, a non-finite loss, a checkpoint it cannot write), every
 *    rank returns that rank's status with the message "fit: rank 1 failed: ..." instead of
 *    waiting for it.
 *  - with DEEPC_DIST_STATS=1 in the environment, fit prints to stderr (rank 0) the mean step
 *    time and the time spent in the gradient all-reduce and waiting for the slowest rank.
 * Built without MPI, these functions report one rank and fit runs as always.
 *
 * Initialises MPI (unless the program already did) and learns this process's rank. When ranks
 * share a host and DEEPC_THREADS is not set, each uses cores / (ranks on the host) threads.
 * argc and argv may be NULL. Without MPI: DC_OK and one rank, or DC_ERR_STATE if a launcher
 * (mpirun, srun) started several ranks, which would each train alone. DC_ERR_IO if MPI fails. */
dc_status dc_dist_init(int *argc, char ***argv);
/* This process's rank, from 0, and the number of ranks (0 and 1 before dc_dist_init). */
int dc_dist_rank(void);
int dc_dist_size(void);
/* True when deepc was built with MPI. */
bool dc_dist_available(void);
/* active false: fit and evaluate run on this process alone, as without MPI (for work one rank
 * does by itself, or a one-process reference run); true (the default) spreads them again. */
void dc_dist_set_active(bool active);
/* Finalises MPI if dc_dist_init initialised it; call once, after the last collective. */
void dc_dist_finalize(void);

#ifdef __cplusplus
}
#endif
#endif /* DEEPC_H */
