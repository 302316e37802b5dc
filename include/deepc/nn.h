/*
 * deepc/nn.h - floor nn (src/nn): layers, their options and the BERT layers.
 */
#ifndef DEEPC_NN_H
#define DEEPC_NN_H

#include "deepc/ops.h"

#ifdef __cplusplus
extern "C" {
#endif

/* What follows is deepc's public API, exported by libdeepc.so (whose other symbols are hidden). */
#if defined(__GNUC__)
#pragma GCC visibility push(default)
#endif

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
/* Keras's Reshape: [N, in...] to [N, target_shape...], each row's values in the same order;
 * one dimension of target_shape (ndim of them, without the batch axis) may be -1 for what the
 * others leave. Saved as "target_shape". Errors: DC_ERR_ARG for ndim outside 1..7, a 0 or more
 * than one -1; at build, DC_ERR_SHAPE naming both shapes when the row's values do not fit. */
dc_layer *dc_reshape_layer(int ndim, const int64_t *target_shape);
/* Merging the branches of a graph model (dc_model_apply with 2 to 4 inputs): Add sums inputs of
 * one shape; Concatenate joins them along the last axis (the other axes equal). */
dc_layer *dc_add_layer(void);
dc_layer *dc_concatenate_layer(void);

/* Padding of convolution layers: VALID = none; SAME = output size ceil(input / stride), the
 * extra row/column going to the bottom/right as in Keras/TensorFlow; CAUSAL (Conv1D only):
 * dilation (kernel - 1) steps before the first, none after, so step t sees no step after t. */
typedef enum dc_padding { DC_PAD_VALID, DC_PAD_SAME, DC_PAD_CAUSAL } dc_padding;
/* Conv2D on [N, C, H, W]: filters of kh x kw, square stride, weight [filters, C, kh, kw]
 * (Glorot-uniform), bias [filters]. */
dc_layer *dc_conv2d_layer(int64_t filters, int kh, int kw, int stride, dc_padding pad, dc_activation act);
/* Conv2DTranspose: weight [C, filters, kh, kw]; VALID output (H - 1) stride + kh, SAME H stride
 * for every kernel, as Keras: the full output cropped by kh - stride (the odd row at the bottom),
 * or, with kh < stride, stride - kh rows of output padding added at the bottom (bias only). */
dc_layer *dc_conv2d_transpose_layer(int64_t filters, int kh, int kw, int stride, dc_padding pad, dc_activation act);
/* Different vertical/horizontal strides, and explicit padding {top, left, bottom, right};
 * DC_ERR_STATE once the layer is built. */
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
 * distributed fit (deepc/dist.h) the training mean and variance are those of the whole global
 * batch, every rank's rows together, and backward takes the output gradient's means over it too,
 * so n ranks at batch B/n train exactly as one process at batch B (up to float summation order).
 * Outside a distributed fit (one process, predict, evaluate, train_step) it changes nothing.
 * It costs three small all-reduces per layer and step (channels + 1, channels and 2 x channels
 * doubles) and one of a single double per step, before backward, by which a rank whose loss
 * failed tells the others not to wait for it. An allocation failure inside the forward pass on
 * one rank alone can still leave the others waiting in the next sum. Saved with the model
 * ("synchronized" in its config). DC_ERR_ARG for a layer of another type. May be set any time. */
dc_status dc_layer_set_synchronized(dc_layer *l, bool on);

/* Options by name, as model files store them ("units", "strides", "epsilon", ...), checked
 * against the layer type's schema: a name the type does not have is DC_ERR_ARG naming the layer
 * and the option; an option that shapes depend on, once the layer is in a built model,
 * DC_ERR_STATE; a value outside the option's range DC_ERR_ARG with the value and the range.
 * Enumerations (activation, kernel_initializer, bias_initializer, padding) take the enum value. */
dc_status dc_layer_set_int(dc_layer *l, const char *key, int64_t v);
dc_status dc_layer_set_float(dc_layer *l, const char *key, float v);
dc_status dc_layer_set_bool(dc_layer *l, const char *key, bool v);
dc_status dc_layer_set_ints(dc_layer *l, const char *key, const int *v, int n);
/* The class name of a layer ("Dense"). */
const char *dc_layer_type_name(const dc_layer *l);

/* Options set before the layer is added to a model. */
dc_status dc_layer_set_name(dc_layer *l, const char *name);
dc_status dc_layer_set_alpha(dc_layer *l, float alpha); /* leaky_relu / elu slope */
dc_status dc_layer_set_init(dc_layer *l, dc_init weight_init, dc_init bias_init);
dc_status dc_layer_set_use_bias(dc_layer *l, bool on);
const char *dc_layer_name(const dc_layer *l);
/* Keras's layer.trainable, settable at any time (before or after build, between fits). A frozen
 * layer (trainable false) gets no gradient and no optimiser update: its weights, and the
 * optimiser's state for them (momentum, moments), stay bit-identical through fit, weight decay
 * included. It also runs in inference mode during training, as Keras does for a frozen
 * BatchNormalization: running statistics are used and not updated, Dropout is off. Gradients
 * still flow through it to the layers before. Saved in model files. NULL: DC_ERR_ARG. */
dc_status dc_layer_set_trainable(dc_layer *l, bool trainable);
/* Whether the layer is trainable (layers start trainable; false for NULL). */
bool dc_layer_trainable(const dc_layer *l);
/* Output shape without the batch dimension into shape[DC_MAX_DIMS]; returns its rank
 * (0 while the layer is not connected to an input). */
int dc_layer_output_shape(const dc_layer *l, int64_t *shape);
/* Frees a layer that was never added to a model (a model frees its own layers). */
void dc_layer_free(dc_layer *l);

/* Embedding(vocabulary, dim): token ids [N, T] (whole numbers as floats) -> [N, T, dim]; table
 * U(-0.05, 0.05) as Keras. mask_zero: id 0 is padding (no gradient, and the next recurrent layer
 * skips those steps). vocabulary and dim must be in [1, 2^31] (DC_ERR_ARG otherwise); ids travel
 * as float32, so ids above 2^24 cannot name every row exactly. */
dc_layer *dc_embedding_layer(int64_t vocabulary, int64_t dim, bool mask_zero);
/* Recurrent layers on [N, T, F]: output [N, T, units] if return_sequences, else the final state
 * [N, units]. Weights as in dc_simple_rnn / dc_lstm / dc_gru (PyTorch's layouts and gate orders),
 * initialised U(-1/sqrt(units), 1/sqrt(units)) as PyTorch; biases zero except the LSTM's
 * forget gate, 1 as Keras's unit_forget_bias (dc_layer_set_forget_bias changes it). A mask from
 * an Embedding(mask_zero) makes them skip padded steps. Stack them with return_sequences. */
dc_layer *dc_simple_rnn_layer(int64_t units, dc_activation act, bool return_sequences);
dc_layer *dc_lstm_layer(int64_t units, bool return_sequences);
dc_layer *dc_gru_layer(int64_t units, bool return_sequences);
/* The initial bias of the LSTM's forget gate (1 by default): LSTM only, before the model is built,
 * value in [-1e6, 1e6]. */
dc_status dc_layer_set_forget_bias(dc_layer *l, float value);
/* Keras's return_state (false by default; SimpleRNN, LSTM, GRU, before the model is built): the
 * layer gets more outputs, the final states h (and the LSTM's c), each [N, units], after its
 * output; with a mask, each sequence's state after its last real step. A graph model reads them
 * with dc_model_output_of. In a graph, inputs 1.. of a recurrent layer are its initial states
 * (Keras's initial_state; PyTorch's h0, c0): h for SimpleRNN and GRU, h then c for LSTM, each
 * [N, units], all of them or none; gradients reach them. */
dc_status dc_layer_set_return_state(dc_layer *l, bool on);

/* Transformer layers on sequences [N, T, D]. Parameter names and layouts are PyTorch's, so a
 * state_dict saved as safetensors loads with dc_model_load_weights (see docs/formats.md).
 * LayerNormalization over the last axis: weight (ones) and bias (zeros) [D]; eps 0 = 1e-5. */
dc_layer *dc_layer_norm_layer(float eps);
/* The epsilon of a LayerNormalization, BatchNormalization, the Transformer encoder/decoder
 * layers and BERT's layers (BERT uses 1e-12): any positive float, at any time. */
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
 * applied to the keys.
 * causal applies to cross-attention too (as Keras's use_causal_mask), with dc_attention's rule:
 * query i sees memory step j only when j <= i + (Tk - Tq), so the last query sees every step
 * (for Tq = Tk, j <= i). Keras aligns its mask at the first steps instead (j <= i); the two agree
 * when Tq = Tk. With Tq > Tk the first Tq - Tk queries see no step: their attention output is 0
 * (the layer gives out_proj.bias there; PyTorch's nn.MultiheadAttention with that attn_mask gives
 * NaN), and so is a query whose visible steps are all padding. */
dc_layer *dc_multi_head_attention_layer(int heads, bool causal, float dropout);
/* Separate q, k and v projections instead of the packed in_proj_weight, as nn.MultiheadAttention
 * with kdim/vdim: q_proj_weight [D, D], k_proj_weight and v_proj_weight [D, Dm], in_proj_bias
 * [3D], out_proj.*; Dm is the memory's width, which may then differ from D (D for
 * self-attention). Set before the model is built. */
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
 * feed-forward network. Causal by default; dc_layer_set_bool(l, "causal", false) turns it off. */
dc_layer *dc_transformer_decoder_layer(int heads, int64_t ff_units, float dropout, dc_activation act, bool pre_norm);
/* [N, T, D] -> [N, D]: the mean over the steps (the real ones, when an Embedding(mask_zero) mask
 * is present). */
dc_layer *dc_global_avg_pool1d_layer(void);

/* ---- Sequences of steps [N, T, C] (channels last, as the recurrent layers take them) ----
 * Conv1D: y[n, t, f] = act(b[f] + sum_{c, j} w[f, c, j] x[n, t stride + j dilation - left, c]),
 * weight [filters, C, kernel] (PyTorch's Conv1d layout, Glorot-uniform), bias [filters] (zeros);
 * padding VALID (none), SAME (output ceil(T / stride), the odd step after, as Keras) or CAUSAL
 * (dilation (kernel - 1) steps before). dc_layer_set_int(l, "dilation_rate", d) spreads the
 * kernel. A time-step mask passes through: output step t is real when input step t stride is
 * (VALID: the window's last step, t stride + dilation (kernel - 1)), so a mask of L real steps
 * at the front gives ceil(L / stride) (VALID: (L - dilation (kernel - 1) - 1) / stride + 1) real
 * output steps, the counts a CTC loss after it needs (Keras's Conv1D drops masks). */
dc_layer *dc_conv1d_layer(int64_t filters, int kernel, int stride, dc_padding pad, dc_activation act);
/* MaxPooling1D / AveragePooling1D over windows of pool steps of [N, T, C], every stride steps
 * (0: pool), padding VALID or SAME (the window's padded steps not counted, as Keras); the mask
 * passes as Conv1D's. GlobalMaxPooling1D: [N, T, C] -> [N, C], the maximum over the (real) steps. */
dc_layer *dc_max_pool1d_layer(int pool, int stride, dc_padding pad);
dc_layer *dc_avg_pool1d_layer(int pool, int stride, dc_padding pad);
dc_layer *dc_global_max_pool1d_layer(void);
/* Permute (Keras): the non-batch axes in the order dims[0..ndim) (1-based: {2, 1} swaps the two
 * axes of [N, T, C]). The mask passes only when the time axis stays first. DC_ERR_ARG when dims
 * is not a permutation of 1..ndim; at build DC_ERR_SHAPE when ndim is not the input's rank. */
dc_layer *dc_permute_layer(int ndim, const int *dims);
/* Masking (Keras): a step of [N, T, ...] whose values all equal mask_value is padding: the
 * layers after it skip it (recurrent layers keep their state, Bidirectional reads each sequence
 * within its real steps, GlobalAveragePooling1D / GlobalMaxPooling1D leave it out, a CTC loss
 * counts the real steps). The output is the input with the masked steps set to 0, as Keras's. */
dc_layer *dc_masking_layer(float mask_value);
/* TimeDistributed (Keras): applies inner to every step of [N, T, ...], the steps folded into the
 * batch ([N T, ...]) and unfolded after: output [N, T, inner's output...]. inner is any layer
 * type of one input and one output; the wrapper owns it (also when this fails). Its parameters
 * keep their names under the wrapper's ("time_distributed.weight"), so a PyTorch module's
 * state_dict loads into a wrapper named as the module. The mask passes through. In model files
 * the inner layer nests: {"class": "TimeDistributed", "layer": {"class": "Dense", "units": 8}}.
 * Errors: DC_ERR_ARG for NULL or a built inner layer (in a model); at build DC_ERR_SHAPE for an
 * input without a time axis and the inner layer's own shape errors. */
dc_layer *dc_time_distributed(dc_layer *inner);
/* Bidirectional (Keras) around a SimpleRNN, LSTM or GRU: a forward copy reads each sequence, a
 * backward copy reads it reversed within its real steps (the padded steps of a mask stay at the
 * end, as PyTorch's packed sequences give), and merge combines them: DC_MERGE_CONCAT [fwd, bwd]
 * (2 units wide, the default), SUM, MUL or AVE (the mean). With the inner layer's
 * return_sequences the backward outputs are reversed back to align with the steps and padded
 * steps give 0 (Keras); without, the forward's last state meets the backward's state after the
 * whole sequence (its output at step 0). Parameters forward.<name> and backward.<name> (the inner
 * layer's names: forward.weight_ih, ...); PyTorch's bidirectional state_dict names
 * (weight_ih_l0, weight_ih_l0_reverse, bias_*_l0[_reverse]) load by name. In model files:
 * {"class": "Bidirectional", "layer": {"class": "GRU", "units": 64, "return_sequences": true},
 * "merge_mode": "concat"}. Set the inner layer's options before wrapping it. Errors: DC_ERR_ARG
 * naming both layers for another type, or an inner layer with return_state. */
typedef enum dc_merge_mode { DC_MERGE_CONCAT, DC_MERGE_SUM, DC_MERGE_MUL, DC_MERGE_AVE, DC_MERGE_COUNT } dc_merge_mode;
dc_layer *dc_bidirectional(dc_layer *inner, dc_merge_mode merge);

/* ---- General tensor layers (what imported ONNX graphs are made of; docs/onnx.md) ----
 * Arithmetic: element-wise a op b of two graph inputs (dc_model_apply with 2) with NumPy's
 * broadcasting of the shapes without the batch (the lower rank gets leading axes of 1 after the
 * batch). ValueArithmetic (dc_arithmetic_value_layer): x op value of one input x and a tensor it
 * holds, the parameter "value" of shape[ndim] (no batch axis; ndim at most x's rank), trained
 * when trainable (else fixed state, saved with the model); value op x with reverse.
 * Errors: DC_ERR_ARG for an unknown op or a bad shape; at build DC_ERR_SHAPE naming both shapes
 * when they do not broadcast. */
typedef enum dc_arith_op { DC_ARITH_ADD, DC_ARITH_SUB, DC_ARITH_MUL, DC_ARITH_DIV, DC_ARITH_COUNT } dc_arith_op;
dc_layer *dc_arithmetic_layer(dc_arith_op op);
dc_layer *dc_arithmetic_value_layer(dc_arith_op op, int ndim, const int64_t *shape, bool reverse, bool trainable);
/* MatMul of two graph inputs: [N, ..., M, K] . [N, ..., K, P] -> [N, ..., M, P], the leading
 * axes equal (DC_ERR_SHAPE at build otherwise). */
dc_layer *dc_matmul_layer(void);
/* Slice: indices [start, stop) of axis `axis` of a sample (1-based: 1 is the first axis after
 * the batch); DC_ERR_SHAPE at build when they are not inside the axis. */
dc_layer *dc_slice_layer(int axis, int64_t start, int64_t stop);
/* Reduce: the mean, sum or maximum over the axes axes[0..naxes) (1-based, as Slice's), kept as
 * axes of 1 with keepdims, else dropped (a sample reduced to nothing is one value). */
typedef enum dc_reduce_op { DC_REDUCE_OP_MEAN, DC_REDUCE_OP_SUM, DC_REDUCE_OP_MAX, DC_REDUCE_OP_COUNT } dc_reduce_op;
dc_layer *dc_reduce_layer(dc_reduce_op op, int naxes, const int *axes, bool keepdims);

/* ---- BERT: Devlin et al.'s encoder, with Hugging Face's BertModel names (the layers in
 * src/nn/bert_layers.c; the loader, dc_bert_load, in src/zoo/bert.c and deepc/zoo.h) ----
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

#if defined(__GNUC__)
#pragma GCC visibility pop
#endif

#ifdef __cplusplus
}
#endif
#endif /* DEEPC_NN_H */
