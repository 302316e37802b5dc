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

/* What follows is deepc's public API, exported by libdeepc.so (whose other symbols are hidden). */
#if defined(__GNUC__)
#pragma GCC visibility push(default)
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

/* ---- Losses ----
 * Every loss is one differentiable op, dc_loss_ex, with the named functions below as shorthands
 * for its mean form. Terms and conventions:
 *  - N rows: the first axis of pred. Each row n gets one loss l_n:
 *    element-wise losses (MSE, MAE, Huber, BCE, hinge, squared hinge, focal, Poisson) take the
 *    mean of their element terms over the row (Keras's mean over the non-batch axes);
 *    class losses (CCE, sparse CCE, NLL, KL divergence, cosine similarity) compute a term per
 *    position (a vector along the last axis, K classes) and take the mean over the row's
 *    positions: pred [N, K] has one position per row, pred [N, T, K] T of them.
 *  - Weights: sample_weight [N] multiplies l_n; class_weight [K] (K = pred's last axis, 1 for a
 *    1-D pred) multiplies each class's term: element (.., k) of an element-wise loss (PyTorch's
 *    `weight` of BCELoss broadcast over the last axis), class k's term of a cross-entropy, NLL
 *    or KL divergence (PyTorch's `weight` of CrossEntropyLoss / NLLLoss). The cosine loss takes
 *    no class weights. Weights must be finite and >= 0; they get no gradient.
 *  - Reductions: DC_REDUCE_MEAN gives [1] = sum_n w_n l_n / N, DC_REDUCE_SUM [1] = sum_n w_n l_n,
 *    DC_REDUCE_NONE [N] = w_n l_n. The mean divides by the number of rows (Keras's
 *    sum-over-batch-size), not by the sum of the weights as PyTorch's weighted CrossEntropyLoss /
 *    NLLLoss on class indices do (their value is DC_REDUCE_SUM over the sum of w_label); SUM adds the rows'
 *    means, as Keras does, where PyTorch's reduction='sum' of an element-wise loss adds every
 *    element (the two agree for [N] or [N, 1] predictions).
 *  - Probabilities are clamped to [DC_LOSS_EPSILON, 1 - DC_LOSS_EPSILON] (Keras's epsilon
 *    1e-7) before their logarithm in BCE, CCE, sparse CCE and focal loss given probabilities;
 *    KL divergence clamps pred and target to [DC_LOSS_EPSILON, 1]; Poisson adds DC_LOSS_EPSILON
 *    inside its logarithm. Where a value was clamped its gradient is 0. The logit forms
 *    (from_logits) need no clamp: they use log-sum-exp and log(1 + e^-|z|).
 *  - Gradients go to pred, and to a target that requires grad for MSE, MAE, Huber, BCE, CCE,
 *    KL divergence, Poisson and cosine similarity. A loss on class indices (sparse CCE, NLL) or
 *    on labels (hinge, squared hinge, focal) refuses a target that requires grad (DC_ERR_ARG).
 *  - The op reads the target and the weights during the call only: it keeps no pointer to them
 *    (a target that requires grad is an input of the graph, kept like any other), so they may be
 *    freed before dc_backward. */
#define DC_LOSS_EPSILON 1e-7f

typedef enum dc_loss {
    DC_LOSS_MSE,           /* (p - y)^2 */
    DC_LOSS_MAE,           /* |p - y| */
    DC_LOSS_BCE,           /* -(y log p + (1-y) log(1-p)), p clamped to [1e-7, 1-1e-7]; from_logits: sigmoid(z) */
    DC_LOSS_CCE,           /* -sum_k y_k log p_k per position (y one-hot or soft, p clamped); from_logits: softmax(z) */
    DC_LOSS_SPARSE_CCE,    /* -log p_label per position (labels: class indices, p clamped); from_logits as CCE */
    DC_LOSS_HUBER,         /* d = p - y: d^2 / 2 where |d| <= delta, else delta (|d| - delta / 2) (PyTorch's HuberLoss) */
    DC_LOSS_NLL,           /* -lp_label per position: pred holds log-probabilities, no clamp (PyTorch's NLLLoss) */
    DC_LOSS_KLD,           /* sum_k y_k log(y_k / p_k) per position, y and p clamped to [1e-7, 1] (Keras's KLDivergence) */
    DC_LOSS_HINGE,         /* max(0, 1 - y p), y in {-1, 1} (Keras's Hinge) */
    DC_LOSS_SQUARED_HINGE, /* max(0, 1 - y p)^2 (Keras's SquaredHinge) */
    DC_LOSS_BINARY_FOCAL,  /* alpha_t (1 - p_t)^gamma BCE(p, y), BCE's clamp (torchvision's sigmoid_focal_loss) */
    DC_LOSS_COSINE,        /* -cos(p, y) over the last axis (Keras's CosineSimilarity loss) */
    DC_LOSS_POISSON,       /* p - y log(p + 1e-7), p >= 0 (Keras's Poisson) */
    DC_LOSS_CTC,           /* -log sum over the alignments of the label sequence (torch.nn.CTCLoss): dc_ctc_loss */
    DC_LOSS_COUNT
} dc_loss;
/* "mse", "mae", "binary_crossentropy", "categorical_crossentropy",
 * "sparse_categorical_crossentropy", "huber", "nll", "kl_divergence", "hinge", "squared_hinge",
 * "binary_focal_crossentropy", "cosine_similarity", "poisson", "ctc"; "unknown" out of range. */
const char *dc_loss_name(dc_loss l);

typedef enum dc_reduction {
    DC_REDUCE_MEAN, /* [1]: sum_n w_n l_n / N */
    DC_REDUCE_SUM,  /* [1]: sum_n w_n l_n */
    DC_REDUCE_NONE, /* [N]: w_n l_n */
    DC_REDUCE_COUNT
} dc_reduction;
/* "mean", "sum", "none"; "unknown" out of range. */
const char *dc_reduction_name(dc_reduction r);

/* A loss's options. A field that a loss does not use is ignored, except from_logits and
 * label_smoothing, which a loss without them refuses when set (DC_ERR_ARG). */
typedef struct dc_loss_opts {
    /* BCE, CCE, sparse CCE, binary focal: pred holds logits and the sigmoid (BCE, focal) or the
     * softmax over the last axis (CCE, sparse CCE) is part of the loss, computed stably. */
    bool from_logits;
    /* CCE and sparse CCE, eps in [0, 1]: the target becomes (1 - eps) y + eps / K, as PyTorch's
     * CrossEntropyLoss(label_smoothing=eps) (with class weights: -sum_k w_k q_k log p_k). */
    float label_smoothing;
    float delta; /* Huber: the threshold, > 0 (default 1) */
    /* Binary focal: gamma >= 0 (default 2); alpha in [0, 1] weighs positives alpha and negatives
     * 1 - alpha, alpha < 0 turns that weighting off (default 0.25, as torchvision). */
    float gamma, alpha;
    /* CTC: the blank's class index, in [0, C) (default 0), and zero_infinity: a sample whose
     * labels no alignment of its steps can give (infinite loss) counts 0 and gets no gradient. */
    int64_t blank;
    bool zero_infinity;
} dc_loss_opts;
/* The defaults: no logits, no smoothing, delta 1, gamma 2, alpha 0.25, blank 0, no zero_infinity. */
dc_loss_opts dc_loss_opts_default(void);

/* The loss `loss` of pred and target, as defined above, with options opts (NULL: the defaults),
 * reduction, and optional sample_weight [N] and class_weight [K] (NULL: all 1).
 * Shapes: element-wise losses take a target of pred's element count and first axis ([N, 1] and
 * [N] pair); CCE, KL divergence and cosine a target of pred's elements with pred [N, ..., K];
 * sparse CCE and NLL labels [N, ...] holding one class index in [0, K) per position (whole
 * numbers stored as floats). Per loss:
 *  - BCE: probabilities clamped (above); from_logits: max(z,0) - z y + log(1 + e^-|z|).
 *  - CCE, sparse CCE: on probabilities, clamped, not renormalised (Keras divides each row by its
 *    sum first: the same for softmax outputs); from_logits: log_softmax(z), fused, the gradient
 *    (sum_k w_k q_k) softmax(z) - w q. Label smoothing as described at dc_loss_opts.
 *  - NLL: pred holds log-probabilities (e.g. dc_log_softmax), -w_label lp_label; no clamp.
 *  - KL divergence: Keras's convention on probabilities, not PyTorch's KLDivLoss on log-inputs:
 *    sum_k w_k y_k log(y_k / p_k) with y and p clamped to [DC_LOSS_EPSILON, 1]; PyTorch's value is
 *    F.kl_div(log(clamp(p)), clamp(y), reduction='none').sum(-1).
 *  - Hinge, squared hinge: Keras's labels: when every target of the call is 0 or 1 they are taken
 *    as {0, 1} labels and converted to y = 2 y - 1; otherwise used as they are ({-1, 1}). As in
 *    Keras the test is per call (per batch); a batch of {-1, 1} labels never passes it unless all
 *    are 1, which the conversion leaves 1.
 *  - Binary focal: p_t = p y + (1-p)(1-y), alpha_t = alpha y + (1-alpha)(1-y) (1 when alpha < 0),
 *    term alpha_t (1 - p_t)^gamma BCE(p, y): BCE from logits with from_logits (torchvision's
 *    sigmoid_focal_loss), else on probabilities with BCE's clamp (the factor (1 - p_t)^gamma on
 *    the unclamped p, as Keras's BinaryFocalCrossentropy). Where 1 - p_t = 0 with gamma < 1 the
 *    factor's (infinite) derivative is taken as 0.
 *  - Cosine: -sum_k (y_k / ||y||) (p_k / ||p||) with each norm at least 1e-6 (Keras's
 *    l2_normalize, epsilon 1e-12 on the squared norm); -1 for parallel vectors.
 *  - Poisson: p - y log(p + DC_LOSS_EPSILON); pred must be >= 0 (a rate).
 *  - CTC: dc_ctc_loss with every sample's input length T (its reduction and sample weights; no
 *    class weights).
 * Errors: DC_ERR_ARG for an unknown loss or reduction, an option out of range, from_logits or
 * label_smoothing on a loss without them, a label that is not a class index, weights of the
 * wrong size or not finite and >= 0, a negative Poisson rate, a target requiring grad where the
 * loss gives it none; DC_ERR_SHAPE for shapes that do not pair (each message names the loss and
 * the numbers). */
dc_tensor *dc_loss_ex(dc_ctx *c, dc_loss loss, dc_tensor *pred, dc_tensor *target, const dc_loss_opts *opts,
                      dc_reduction reduction, const dc_tensor *sample_weight, const dc_tensor *class_weight);

/* The mean forms (dc_loss_ex with DC_REDUCE_MEAN, no weights); the result has shape [1]. */
dc_tensor *dc_mse_loss(dc_ctx *c, dc_tensor *pred, dc_tensor *target);
dc_tensor *dc_mae_loss(dc_ctx *c, dc_tensor *pred, dc_tensor *target);
dc_tensor *dc_bce_loss(dc_ctx *c, dc_tensor *prob, dc_tensor *target); /* probabilities, clamped */
/* BCE from logits (from_logits), stable: max(z,0) - z y + log(1 + e^-|z|) */
dc_tensor *dc_bce_with_logits_loss(dc_ctx *c, dc_tensor *logits, dc_tensor *target);
/* CCE from probabilities p [N, K] (clamped) and targets [N, K] */
dc_tensor *dc_cce_loss(dc_ctx *c, dc_tensor *prob, dc_tensor *target);
/* Softmax + CCE fused (from_logits): logits [N, K], targets [N, K]; gradient (softmax - y) / N
 * for targets summing to 1 */
dc_tensor *dc_softmax_cce_loss(dc_ctx *c, dc_tensor *logits, dc_tensor *target);
/* Sparse CCE from probabilities p [N, K] (clamped) and labels [N] (class indices stored as floats) */
dc_tensor *dc_sparse_cce_loss(dc_ctx *c, dc_tensor *prob, dc_tensor *labels);
/* Softmax + sparse CCE fused (from_logits, log-sum-exp): logits [N, K], labels [N] */
dc_tensor *dc_softmax_sparse_cce_loss(dc_ctx *c, dc_tensor *logits, dc_tensor *labels);
dc_tensor *dc_huber_loss(dc_ctx *c, dc_tensor *pred, dc_tensor *target, float delta);
dc_tensor *dc_nll_loss(dc_ctx *c, dc_tensor *logprob, dc_tensor *labels); /* log-probabilities, no clamp */
dc_tensor *dc_kld_loss(dc_ctx *c, dc_tensor *prob, dc_tensor *target); /* prob and target clamped to [1e-7, 1] */
dc_tensor *dc_hinge_loss(dc_ctx *c, dc_tensor *pred, dc_tensor *target);
dc_tensor *dc_squared_hinge_loss(dc_ctx *c, dc_tensor *pred, dc_tensor *target);
/* probabilities clamped as BCE's in the BCE factor, or logits with from_logits */
dc_tensor *dc_binary_focal_loss(dc_ctx *c, dc_tensor *pred, dc_tensor *target, float gamma, float alpha, bool from_logits);
dc_tensor *dc_cosine_similarity_loss(dc_ctx *c, dc_tensor *pred, dc_tensor *target);
dc_tensor *dc_poisson_loss(dc_ctx *c, dc_tensor *rate, dc_tensor *target); /* log(rate + 1e-7) */

/* ---- CTC: label sequences without alignment (Connectionist Temporal Classification) ----
 * A sample's steps t < T_n each give a distribution over C classes, one of them the blank. An
 * alignment pi (a class per step) reads as the labelling B(pi): repeats merged, then blanks
 * dropped ("aa-ab" -> "aab"), so two equal labels in a row need a blank between them. */

/* The CTC loss, as torch.nn.CTCLoss (its [T, N, C] input is this one transposed):
 *   l_n = -log sum_{pi: B(pi) = y_n} prod_{t < T_n} p_t(pi_t)
 * logp [N, T, C] (batch first, as the recurrent layers give it): log-probabilities (e.g.
 * dc_log_softmax), or logits with opts->from_logits (the log-softmax over C is part of the loss).
 * targets [N, S]: sample n's labels, then any negative value as padding: its target length S_n
 * is the count before the first negative (0: an empty target, whose only labelling is all
 * blanks); what follows that negative is ignored. Labels are class indices in [0, C) stored as
 * floats, never the blank. input_lengths [N]: sample n's steps T_n in [0, T] (its first T_n
 * steps are read, the rest get no gradient), NULL for T each.
 * opts (NULL: defaults): blank, zero_infinity and from_logits are read; label_smoothing must be 0.
 * A target that no alignment of T_n steps gives (S_n plus its count of equal neighbours exceeds
 * T_n) has l_n = +inf and a NaN gradient, as PyTorch; with zero_infinity l_n = 0 and gradient 0.
 * reduction: DC_REDUCE_MEAN [1] = sum_n w_n l_n / max(S_n, 1) / N (PyTorch's 'mean': per label,
 * then over the batch), DC_REDUCE_SUM [1] = sum_n w_n l_n, DC_REDUCE_NONE [N] = w_n l_n, with
 * sample_weight [N] (finite, >= 0; NULL: all 1; a weight of 0 drops the sample, inf or not).
 * Computed in double, in log space (forward-backward over the targets with blanks interleaved),
 * each sample on its own thread (the result does not depend on the thread count). Gradient:
 * d l_n / d logp_t(k) = -gamma_t(k), the posterior probability that step t emits class k (PyTorch
 * reports softmax - gamma for its log_probs, which is the same once a log_softmax's backward has
 * run); from logits, softmax(z_t)_k - gamma_t(k). The targets get no gradient.
 * Errors: DC_ERR_SHAPE for logp not [N, T, C] or targets not [N, S]; DC_ERR_ARG for a blank
 * outside [0, C), a label that is not a class index or is the blank (naming the sample and the
 * position), an input length outside [0, T], weights of the wrong size or not finite and >= 0,
 * label_smoothing, or targets that require grad. */
dc_tensor *dc_ctc_loss(dc_ctx *c, dc_tensor *logp, const dc_tensor *targets, const int64_t *input_lengths,
                       const dc_loss_opts *opts, dc_reduction reduction, const dc_tensor *sample_weight);

/* Decoding. probs [N, T, C] (any layout): probabilities (a softmax output), log-probabilities or,
 * for the greedy decoder only, logits; lengths [N] the steps of each sample (in [0, T]; NULL: T).
 * Both return a new [N, W] tensor of the best labelling of each sample in the targets' format:
 * labels as floats, padded with -1 (W, at least 1, the longest labelling); free it with
 * dc_tensor_free. NULL + DC_ERR_SHAPE / DC_ERR_ARG (blank outside [0, C), a length outside
 * [0, T], beam_width < 1) / DC_ERR_NOMEM.
 * Greedy (best path): the most probable class of each step (the first of equal ones), repeats
 * merged, blanks dropped. */
dc_tensor *dc_ctc_greedy_decode(const dc_tensor *probs, const int64_t *lengths, int64_t blank);
/* Prefix beam search: keeps the beam_width most probable prefixes after each step, each prefix's
 * probability summed in log space over its alignments (ending in a blank or not), equal
 * prefixes merged; equal scores are ordered by the shorter prefix, then the smaller labels, so
 * the result is deterministic. log_probs: probs holds log-probabilities, else probabilities.
 * scores [N] (NULL: not wanted) gets the log-probability of each best labelling (summed over the
 * alignments the beam kept). It finds labellings that no single path makes most probable
 * (greedy's "" from p(blank) = 0.6 at two steps, where "a" has 0.64). */
dc_tensor *dc_ctc_beam_decode(const dc_tensor *probs, const int64_t *lengths, int64_t blank, int beam_width, bool log_probs,
                              float *scores);

/* Error rates. dc_edit_distance: the Levenshtein distance of a[na] and b[nb] (insertions,
 * deletions and substitutions of one element, each costing 1); -1 + DC_ERR_ARG for a NULL
 * sequence of non-zero length or a negative length, DC_ERR_NOMEM. */
int64_t dc_edit_distance(const int32_t *a, int64_t na, const int32_t *b, int64_t nb);
/* The label error rate of decoded sequences hyp against references ref, both [N, *] in the
 * targets' format (labels, then negative padding; the widths may differ): the sum of the rows'
 * edit distances over the sum of the references' lengths (0 / 0 = 0, n / 0 = inf). exact
 * (NULL: not wanted) gets the count of rows decoded exactly. NAN + DC_ERR_SHAPE when the rows
 * differ or a tensor is not 2-D, DC_ERR_ARG for NULL or a label that is not a whole number. */
double dc_label_error_rate(const dc_tensor *hyp, const dc_tensor *ref, int64_t *exact);
/* Character error rate of n strings (UTF-8; a byte that starts no valid sequence counts as one
 * character): sum of the character edit distances / sum of the references' characters, as the
 * label error rate. */
double dc_char_error_rate(const char *const *hyp, const char *const *ref, int64_t n);
/* Word error rate: the same over words, the runs of non-whitespace (space, tab, newline, CR,
 * VT, FF) of each string, compared byte for byte. NAN + DC_ERR_ARG for a NULL string. */
double dc_word_error_rate(const char *const *hyp, const char *const *ref, int64_t n);

/* Convolutions and pooling, NCHW layout ([N, channels, height, width]).
 * pad = {top, left, bottom, right} zero padding, NULL for none. */
/* y[N,F,OH,OW] = sum_c,ky,kx w[F,c,ky,kx] x[N,c,oy*sh+ky-top,ox*sw+kx-left] + b[F];
 * OH = (H + top + bottom - kh) / sh + 1 (likewise OW). w [F, C, kh, kw], b [F] or NULL. */
dc_tensor *dc_conv2d(dc_ctx *c, dc_tensor *x, dc_tensor *w, dc_tensor *b, int sh, int sw, const int *pad);
/* The adjoint of dc_conv2d in its input ("deconvolution"): x [N,C,H,W], w [C, F, kh, kw] (PyTorch's
 * ConvTranspose2d layout), OH = (H - 1) sh + kh - top - bottom (likewise OW). pad crops the full
 * output (H - 1) sh + kh: top rows at the top, bottom rows at the bottom. A negative bottom
 * (right) is output padding: -bottom rows added at the bottom that no input reaches (the bias
 * only), down to -(sh - 1). PyTorch's ConvTranspose2d(padding=p, output_padding=op) is
 * {p_h, p_w, p_h - op_h, p_w - op_w}. Errors: DC_ERR_ARG for a negative top or left, or a
 * bottom (right) <= -sh (-sw); DC_ERR_SHAPE when no output is left. */
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
/* A post-norm residual connection as one op: y = layer_norm(x + dropout(t, rate)) over the last
 * axis, x and t of one shape. The dropout takes one number from rng per call in training with
 * rate > 0, as dc_dropout does, so y and every gradient equal those of
 * dc_layer_norm(c, dc_add(c, x, dc_dropout(c, t, rate, training, rng)), gamma, beta, eps) bit for
 * bit; but neither the dropped-out t, its mask nor the sum is written to memory (backward
 * rebuilds each row of the sum from x, t and the dropout's counter-based stream).
 * Errors: those of dc_layer_norm; DC_ERR_SHAPE when x and t differ in shape; DC_ERR_ARG for a
 * rate outside [0, 1) or dropout in training without an rng. */
dc_tensor *dc_residual_layer_norm(dc_ctx *c, dc_tensor *x, dc_tensor *t, float rate, bool training, dc_rng *rng, dc_tensor *gamma,
                                  dc_tensor *beta, float eps);

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
/* dc_lstm that also gives the final states (h_n, c_n), each [N, H]: the hidden and cell state
 * after each sequence's last real step (padded steps keep them), as PyTorch's nn.LSTM returns on
 * a packed batch. Either pointer may be NULL (not wanted). Differentiable: a loss on *c_n reaches
 * x, the weights, h0 and c0 (*h_n is y's last step, dc_last_step). Returns y, NULL on error
 * (the states NULL too). */
dc_tensor *dc_lstm_states(dc_ctx *c, dc_tensor *x, dc_tensor *W_ih, dc_tensor *W_hh, dc_tensor *b, dc_tensor *h0, dc_tensor *c0,
                          const uint8_t *mask, dc_tensor **h_n, dc_tensor **c_n);
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

/* ---- Sequences of steps [N, T, C] (channels last, the recurrent layers' layout) ---- */
/* 1-D convolution: y[n, t, f] = b[f] + sum_{c, j} w[f, c, j] x[n, t s + j d - pad_left, c], x taken
 * as 0 outside [0, T); w [F, C, k] (PyTorch's Conv1d layout), b [F] or NULL; s = stride,
 * d = dilation -> [N, T', F], T' = (T + pad_left + pad_right - d (k - 1) - 1) / s + 1. Computed as
 * one GEMM over the windows of every step (im2col along time). PyTorch's Conv1d on [N, C, T] with
 * padding p is pad_left = pad_right = p on the transposed input; Keras's "causal" is
 * pad_left = d (k - 1), pad_right = 0. Errors: DC_ERR_SHAPE for x not [N, T, C], w not [F, C, k],
 * b not [F], or a kernel span d (k - 1) + 1 longer than the padded steps; DC_ERR_ARG for stride
 * or dilation < 1 or negative padding. */
dc_tensor *dc_conv1d(dc_ctx *c, dc_tensor *x, dc_tensor *w, dc_tensor *b, int stride, int dilation, int pad_left, int pad_right);
/* Pooling over windows of `pool` steps every `stride` steps, with pad_left / pad_right steps of
 * padding that no window counts: the maximum (gradient to the first maximum) or the mean of the
 * window's steps inside [0, T) (TensorFlow's "same" pooling). [N, T, C] -> [N, T', C],
 * T' = (T + pad_left + pad_right - pool) / stride + 1. Errors: DC_ERR_SHAPE for x not [N, T, C]
 * or pool longer than the padded steps; DC_ERR_ARG for pool or stride < 1, negative padding, or
 * padding that leaves a window without a step of x. */
dc_tensor *dc_max_pool1d(dc_ctx *c, dc_tensor *x, int pool, int stride, int pad_left, int pad_right);
dc_tensor *dc_avg_pool1d(dc_ctx *c, dc_tensor *x, int pool, int stride, int pad_left, int pad_right);
/* [N, T, C] -> [N, C]: the maximum over the steps, over the real ones (mask [N, T], 1 = real)
 * when mask is given; a row without a real step gives 0 (and no gradient). */
dc_tensor *dc_global_max_pool1d(dc_ctx *c, dc_tensor *x, const uint8_t *mask);
/* x [N, T, ...] with each row's real steps in reverse order and its padded steps (mask [N, T]:
 * 0; NULL: none) where they are: with padding at the end, y[n, t] = x[n, L_n - 1 - t] for
 * t < L_n and y[n, t] = x[n, t] after (tf.reverse_sequence; a packed PyTorch sequence read
 * backwards). Its own inverse; backward reverses the gradient the same way. */
dc_tensor *dc_reverse_sequence(dc_ctx *c, dc_tensor *x, const uint8_t *mask);

#if defined(__GNUC__)
#pragma GCC visibility pop
#endif

#ifdef __cplusplus
}
#endif
#endif /* DEEPC_OPS_H */
