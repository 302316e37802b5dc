/*
 * deepc/zoo.h - floor zoo (src/zoo): ready-made models built from checkpoints (BERT).
 */
#ifndef DEEPC_ZOO_H
#define DEEPC_ZOO_H

#include "deepc/model.h"

#ifdef __cplusplus
extern "C" {
#endif

/* What follows is deepc's public API, exported by libdeepc.so (whose other symbols are hidden). */
#if defined(__GNUC__)
#pragma GCC visibility push(default)
#endif

/* ---- BERT's encoder from a checkpoint (src/zoo/bert.c); its layers, dc_bert_embeddings_layer,
 * dc_bert_layer and dc_bert_pooler_layer, are in deepc/nn.h ---- */
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

#if defined(__GNUC__)
#pragma GCC visibility pop
#endif

#ifdef __cplusplus
}
#endif
#endif /* DEEPC_ZOO_H */
