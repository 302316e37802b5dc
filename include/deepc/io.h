/*
 * deepc/io.h - floor io (src/io): files - models, weights, training checkpoints and the fit
 * callbacks that write them, safetensors, NumPy .npy/.npz.
 */
#ifndef DEEPC_IO_H
#define DEEPC_IO_H

#include "deepc/data.h"
#include "deepc/model.h"

#ifdef __cplusplus
extern "C" {
#endif

/* What follows is deepc's public API, exported by libdeepc.so (whose other symbols are hidden). */
#if defined(__GNUC__)
#pragma GCC visibility push(default)
#endif

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
/* Datasets over files (deepc/model.h): the file is mapped into memory, not loaded, and its rows
 * are converted to float32 a batch at a time, so it may be larger than the memory the process
 * may hold. One part, the array's rows (the first axis; a 1-D array's rows are single values,
 * as labels). Elements of any dtype dc_npy_load reads; integers beyond 2^24 and float64 beyond
 * float32's range fail their batch with DC_ERR_NUMERIC naming the file, row and element. The
 * header is checked as dc_npy_load checks it, and the data must be exactly what the header
 * describes (DC_ERR_FORMAT naming the file and the byte counts) before anything is mapped. A
 * file changed or cut short after opening fails the next batch with DC_ERR_IO (rather than a
 * fault on the lost pages). dc_dataset_idx reads IDX files (MNIST's format: unsigned and signed
 * bytes, int16, int32, float32, float64); a gzip-compressed one is first decompressed into an
 * unnamed temporary file ($TMPDIR, else /tmp), which is mapped instead. Free with
 * dc_dataset_free (or through the dataset that zips it). */
dc_dataset *dc_dataset_npy(const char *path);
dc_dataset *dc_dataset_idx(const char *path);
/* A CSV file of numbers as a dataset (deepc/data.h's dc_csv_opts: delimiter, skip_rows,
 * label_col, feature_cols; not label_name): the features as part 0 ([features] per row) and,
 * unless label_col is -2, the label as part 1 (one value per row). The file is mapped (a gzip
 * one decompressed into an unnamed temporary file first) and indexed once, 8 bytes per row;
 * cells are parsed as their rows are gathered. DC_ERR_FORMAT naming the file and line: a row
 * with another column count, an empty line before the last row, a quote (quoted cells are
 * dc_csv_load's), no data rows; a cell that is not a number fails its batch the same way. */
dc_dataset *dc_dataset_csv(const char *path, const dc_csv_opts *opts);
/* A folder of pictures as a dataset, as Keras's image_dataset_from_directory lists them:
 * root/<class>/.../<image>, one class per sub-folder (labels 0, 1, ... in byte order of the
 * names, their count in *nclasses if not NULL), the *.png, *.jpg and *.jpeg files of its tree
 * in byte order of their paths. Part 0 is the pictures as [channels, height, width], each read,
 * decoded and resized by dc_image_load with `image` (channels 1 or 3 and a height and width
 * are needed) when its row is gathered; part 1 the class index. A file that cannot be read
 * fails its batch with dc_image_load's error naming it. DC_ERR_FORMAT: no class folders, no
 * pictures; DC_ERR_IO: a folder that cannot be listed. */
dc_dataset *dc_dataset_image_folder(const char *root, const dc_image_opts *image, int64_t *nclasses);
/* Text files as datasets, token ids exactly as dc_texts_to_sequences gives them with vocab (a
 * character vocabulary: every byte a token; a word one: its tokeniser's words; unknown tokens
 * the vocabulary's unknown index). The file is plain text (no NUL byte, not gzip); nothing of
 * it becomes float32 but the batch being gathered.
 * dc_dataset_text_windows: a language model's data over one file: row i is the tokens
 * [i * stride, i * stride + seq_len) as part 0 and the tokens one further on as part 1 (its
 * targets), [seq_len] each; rows = (tokens - seq_len - 1) / stride + 1. A character vocabulary
 * reads the mapped file's bytes a batch at a time; a word vocabulary's file is tokenised once
 * when opening into int32 ids (4 bytes a token) and unmapped. The vocabulary may be freed
 * once the dataset is made. DC_ERR_ARG: seq_len or stride below 1; DC_ERR_FORMAT: an empty
 * file, a file of fewer than seq_len + 1 tokens (naming both counts).
 * dc_dataset_text_lines: texts to classify, one a line: a class index (decimal digits, below
 * 2^24), a tab, then the text, which is the rest of the line (a final carriage return is left
 * out); empty lines are skipped. Part 0 is the text's first maxlen token ids padded with 0 at
 * the end (at the front if pad_front), [maxlen]; part 1 the class index. *nclasses (if not
 * NULL) receives the largest label + 1. The file is mapped and indexed once (20 bytes a line)
 * and the texts of each batch are tokenised as it is gathered: vocab must outlive the dataset.
 * DC_ERR_ARG: maxlen below 1; DC_ERR_FORMAT naming the file and line: a line without a tab
 * (no label), a label that is not a whole number, a text that holds no token, no lines.
 * Both: DC_ERR_IO for a file that cannot be opened, DC_ERR_ARG for a NULL vocab or one
 * beyond 2^24 tokens; a file changed after opening fails the next batch with DC_ERR_IO. */
dc_dataset *dc_dataset_text_windows(const char *path, const dc_vocab *vocab, int64_t seq_len, int64_t stride);
dc_dataset *dc_dataset_text_lines(const char *path, const dc_vocab *vocab, int64_t maxlen, bool pad_front, int64_t *nclasses);
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
/* A new model from JSON text in the layout of a model file's architecture (its "deepc.model"
 * metadata, which `deepc info` shows), as `deepc train` reads a configuration's model:
 *   {"input_shape": [4], "seed": 7,
 *    "layers": [{"class": "Dense", "units": 16, "activation": "tanh"}, {"class": "Dense", ...}],
 *    "compile": {"optimizer": {"class": "Adam", "lr": 0.01}, "loss": "sparse_categorical_crossentropy",
 *                "metrics": ["accuracy"]}}
 * Every layer class and option of the registry is accepted (deepc layers lists them); names
 * may be left out (the model names the layers as dc_model_add does), and so may "format" and
 * "version". A graph model sets "graph": true, starts with InputLayers and lists each layer's
 * "inputs" by name ("name:k" for output k of a layer with several, as return_state gives).
 * The weights are initialised from "seed" (default 42); "compile" is optional. NULL on error: DC_ERR_FORMAT naming origin, the layer's index and class, the key
 * and the allowed values or range (unknown classes and options list the known ones). */
dc_model *dc_model_from_json(const char *json, const char *origin);
/* Weights only, in safetensors: every parameter and state tensor of a built model. */
dc_status dc_model_save_weights(const dc_model *m, const char *path);
/* Loads weights into a built model from a safetensors file (deepc's or another framework's with
 * the same names): every parameter and state tensor must be present with its shape, and extra
 * tensors are an error unless allow_extra. Values are checked finite. Nothing changes on error. */
dc_status dc_model_load_weights(dc_model *m, const char *path, bool allow_extra);
/* ---- loading weights by name (transfer learning) ---- */
/* Maps a tensor name of the file to the model parameter it loads into ("dense.weight",
 * "batch_normalization.running_mean"): returns name itself to keep it, a name written into
 * buf (size bytes) to rename it, or NULL to skip the tensor. */
typedef const char *(*dc_weights_map_fn)(const char *name, char *buf, size_t size, void *user);
typedef struct dc_weights_opts {
    dc_weights_map_fn map; /* NULL: the file's names as they are */
    void *user;            /* passed to map */
    /* PyTorch's state_dict names of recurrent layers, with the layer's name as the prefix:
     * "<layer>.weight_ih_l0" and "<layer>.weight_hh_l0" load into weight_ih and weight_hh (same
     * shapes and gate order); GRU's "bias_ih_l0" and "bias_hh_l0" into bias_ih and bias_hh; the
     * one bias of LSTM and SimpleRNN is bias_ih_l0 + bias_hh_l0 (the file must hold both).
     * A Bidirectional layer takes them for its forward.* parameters and the "_reverse" ones
     * ("weight_ih_l0_reverse", ...) for its backward.* parameters. Other layers of PyTorch's
     * stacks ("_l1") match nothing and are skipped. */
    bool pytorch_names;
} dc_weights_opts;
/* What a load by name did: names in the order of the model (loaded, missing) or the file
 * (skipped). Free with dc_weights_report_free. */
typedef struct dc_weights_report {
    int nloaded, nskipped, nmissing;
    char **loaded;  /* model parameters and state written from the file */
    char **skipped; /* file tensors that match no parameter (or that map skipped) */
    char **missing; /* model parameters and state the file does not hold: left as they were */
} dc_weights_report;
/* Loads into a built model every tensor of a safetensors file whose name (after opts->map)
 * names one of its parameters or state tensors, non-strict: tensors of the file the model lacks
 * are skipped, parameters the file lacks keep their values, and *report (may be NULL) says
 * which. BatchNormalization's gamma and beta also load from PyTorch's "<layer>.weight" and
 * "<layer>.bias" ("running_mean" and "running_var" are the same in both). Shapes must match
 * (DC_ERR_SHAPE naming the tensor, the parameter and both shapes); two tensors for one
 * parameter are DC_ERR_FORMAT; values are checked finite and within the parameter's domain.
 * Nothing changes on error (and *report is left empty). opts may be NULL. */
dc_status dc_model_load_weights_by_name(dc_model *m, const char *path, const dc_weights_opts *opts, dc_weights_report *report);
void dc_weights_report_free(dc_weights_report *r);
/* Training checkpoint: weights, state, the optimiser's state and step count, the epoch reached,
 * the seed and random-number state, and the history so far. */
dc_status dc_model_save_checkpoint(const dc_model *m, const char *path);
/* Restores a checkpoint into a compiled model of the same architecture and optimiser; the next
 * dc_model_fit resumes at the epoch after the checkpoint's and, given the same data, batch size
 * and thread count, ends bit-identical to a run that was never interrupted. */
dc_status dc_model_load_checkpoint(dc_model *m, const char *path);
/* Fit callbacks that write files, each atomically; a failed write stops training with the error
 * and the previous file stays intact. Only the writer (rank 0 of a data-parallel fit) writes.
 * dc_checkpoint_callback: a training checkpoint at path every `every` epochs (1 if <= 0) and
 * after the last one; with resume, a checkpoint already at path is restored when training
 * starts, so that rerunning the same program after a crash or a kill continues it.
 * dc_best_model_callback: the model (dc_model_save) at path whenever `monitor` improves: a
 * history key, NULL for "val_loss" with validation data, else "loss"; keys holding "loss", "mae"
 * or "mse" are minimised, others maximised; a key fit does not record stops fit with DC_ERR_ARG.
 * The path and monitor strings must outlive the callback. Free with dc_callback_free. */
dc_callback *dc_checkpoint_callback(const char *path, int every, bool resume);
dc_callback *dc_best_model_callback(const char *path, const char *monitor);

/* ---- ONNX export (docs/onnx.md) ----
 * Writes a built model as an ONNX model file (atomically, as every writer here) for inference
 * in another runtime: each layer becomes standard ONNX operators (Dense: Gemm or MatMul + Add,
 * LSTM/GRU/SimpleRNN: LSTM/GRU/RNN with the gates reordered, LayerNormalization, attention and
 * the Transformer layers as MatMul/Softmax subgraphs, ...) and each parameter an initialiser.
 * Inputs and the output are float32 with a symbolic first (batch) axis; Dropout is left out and
 * BatchNormalization uses its running statistics. A layer type ONNX cannot express is DC_ERR_ARG
 * naming the layer and its type, and nothing is written; DC_ERR_STATE for an unbuilt model. */
typedef struct dc_onnx_export_opts {
    int opset;              /* the ONNX opset, 13..17; 0: 17 */
    const char *batch_name; /* the batch axis's symbolic name; NULL: "N" */
    const char *producer;   /* producer_name; NULL: "deepc" (producer_version: dc_version()) */
} dc_onnx_export_opts;
dc_status dc_model_export_onnx(dc_model *m, const char *path, const dc_onnx_export_opts *opts);

/* ---- ONNX import (docs/onnx.md) ----
 * An ONNX model file (opsets 1 to 17) as a new built graph model: each graph input becomes a
 * model input whose first axis is the batch (its other axes must have fixed sizes), the
 * operators become deepc layers (Gemm and MatMul with a weight: Dense; Conv: Conv2D; LSTM: LSTM;
 * ...), and the initialisers those layers take become their trainable parameters, so the model
 * predicts, evaluates, trains and saves (dc_model_save) like any other. Shape arithmetic of the
 * file (Shape, Gather, Concat, Unsqueeze, ...) is folded while importing. The model is not
 * compiled: compile it to train it. Errors (NULL, dc_last_error naming the file, and the node
 * and its operator where one is at fault): DC_ERR_IO for a file that cannot be read;
 * DC_ERR_FORMAT for a file that is not a valid ONNX model (undecodable, nested too deep,
 * dangling value names, a cycle, tensors whose data do not match their shape, external data
 * files) and for an operator, attribute or case deepc does not import; DC_ERR_SHAPE for absurd
 * shapes (more than 8 dimensions, 2^31 elements or a dimension above 2^31). */
typedef struct dc_onnx_import_opts {
    const char *output; /* the graph value the model outputs; NULL: the graph's first output */
} dc_onnx_import_opts;
dc_model *dc_model_import_onnx(const char *path);
dc_model *dc_model_import_onnx_ex(const char *path, const dc_onnx_import_opts *opts);

#if defined(__GNUC__)
#pragma GCC visibility pop
#endif

#ifdef __cplusplus
}
#endif
#endif /* DEEPC_IO_H */
