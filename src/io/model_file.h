/* io: what model files and checkpoints share (model_io.c, checkpoint.c). */
#ifndef DC_MODEL_FILE_H
#define DC_MODEL_FILE_H

#include "deepc/io.h"

#include "../model/history.h"
#include "../model/model.h"
#include "safetensors.h"
#include "schema_json.h"

#define ARCH_FORMAT "deepc.sequential"
#define ARCH_VERSION 2 /* 2: graph models (layers list their inputs); sequential files stay version 1 */
#define CKPT_VERSION 1
#define KEY_MODEL "deepc.model"
#define KEY_CKPT "deepc.checkpoint"
#define KEY_HIST "deepc.history"

dc_status dc_mf_check_built(const dc_model *m, const char *path, const char *who);
/* Offset of parameter i in the optimiser's flat vector (trainable parameters only). */
int64_t dc_mf_poffset(const dc_model *m, int i);
/* The text of root (freed with cJSON_free), root deleted; NULL + error when out of memory. */
char *dc_mf_print_json(cJSON *root);
void dc_mf_add_u64(cJSON *o, const char *key, uint64_t v);
/* 1 to 16 hexadecimal digits, nothing else. */
bool dc_mf_parse_hex(const char *s, uint64_t *out);
dc_status dc_mf_parse_u64(const dc_where *w, const cJSON *o, const char *key, uint64_t *out);
/* Checks that tensor `name` exists with the shape ndim/shape; its index in *idx. */
dc_status dc_mf_match_tensor(const dc_safetensors *st, const char *name, int ndim, const int64_t *shape, const char *layer, int *idx);
/* Reads tensor i as float32 into dst, every value checked finite and at least min (the
 * declared domain, -INFINITY for none): DC_ERR_NUMERIC naming the file, the tensor, the element
 * and the value. */
dc_status dc_mf_read_checked(const dc_safetensors *st, int i, const char *name, float *dst, int64_t n, float min);
/* Every tensor of the file is a parameter of the model or the optimiser state of a trainable one
 * ("optimizer.state<k>.<parameter>", k from 1 to DC_OPT_MAX_STATE, as checkpoints hold), else
 * DC_ERR_FORMAT naming the first other one, hint appended to the message. */
dc_status dc_mf_check_extra(const dc_model *m, const dc_safetensors *st, const char *hint);
/* Reads every parameter and state tensor of a built model into newly allocated copies of pbuf
 * and sbuf (so that an error leaves the model untouched), each checked against its domain;
 * extra NULL: tensors the model does not have are ignored, else refused (dc_mf_check_extra,
 * extra the hint). */
dc_status dc_mf_read_weights(const dc_model *m, const dc_safetensors *st, const char *extra, float **pbuf, float **sbuf);
/* The deepest nesting of arrays and objects read in a deepc metadata text. */
#define MF_MAX_DEPTH 32
/* The JSON object in metadata key, or NULL + error saying what_for (DC_ERR_FORMAT for text that
 * is not a JSON object or nests deeper than MF_MAX_DEPTH). */
cJSON *dc_mf_parse_meta(const dc_safetensors *st, const char *key, const char *what_for);
/* The history as JSON text (cJSON_free). */
dc_status dc_mf_history_json(const dc_history *h, char **out);

#endif
