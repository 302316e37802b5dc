/*
 * deepc/ops.h - floor ops (src/ops): the differentiable operations on step tensors: element-wise
 * maths, activations, reductions, linear algebra, losses, convolutions, normalisation,
 * recurrent layers, embeddings, attention, dropout.
 */
#ifndef DEEPC_OPS_H
#define DEEPC_OPS_H

#include "deepc/autograd.h"
#include "deepc/kernels.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Operations are differentiable; their results are step tensors of c (NULL on error). An op
 * given a NULL input that an earlier failure produced returns NULL with that failure's status
 * and message, so calls may be chained: dc_relu(c, dc_linear(c, x, w, b)). */

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
 * floats); table [V, D] -> [N, T, D]. The row padding_idx (-1 for none) gets no gradient. */
dc_tensor *dc_embedding(dc_ctx *c, dc_tensor *ids, dc_tensor *table, int64_t padding_idx);
/* The padding mask of token ids [N, T]: N * T bytes from c's arena, 1 where the id is not 0 (a
 * real step), 0 where it is (padding); what the recurrent and attention ops take as a mask.
 * NULL + error when ids is NULL or not [N, T], or memory runs out. */
const uint8_t *dc_padding_mask(dc_ctx *c, const dc_tensor *ids);
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

#ifdef __cplusplus
}
#endif
#endif /* DEEPC_OPS_H */
