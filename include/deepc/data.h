/*
 * deepc/data.h - floor data (src/data): reading data sets (CSV, IDX), scaling and splitting
 * them, time series windows, text: tokenisers, vocabularies and BERT's WordPiece.
 */
#ifndef DEEPC_DATA_H
#define DEEPC_DATA_H

#include "deepc/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

/* What follows is deepc's public API, exported by libdeepc.so (whose other symbols are hidden). */
#if defined(__GNUC__)
#pragma GCC visibility push(default)
#endif

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
 * stay NULL. DC_ERR_FORMAT naming the file, line and column: a cell that is not a decimal
 * number ("abc", "1.5x", "0x10", an empty cell), a row with another column count than the first, a NUL byte,
 * a line over 16 MiB, an unterminated quote, no data rows, corrupt or truncated gzip data (a
 * missing or cut trailer included).
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
/* A classifier's confusion matrix, as scikit-learn's confusion_matrix: counts[t * nclasses + p]
 * (nclasses^2 entries, all written) = rows of true class t predicted p. scores: [N, nclasses]
 * (probabilities or logits: a row's largest value is its prediction, the first of equal ones) or
 * [N] predicted class indices; labels [N] class indices (as floats). Nothing is written on
 * error: DC_ERR_ARG for NULL arguments, nclasses outside [1, 65536], a label or predicted index
 * that is not a whole number in [0, nclasses) (naming the row); DC_ERR_SHAPE for other shapes;
 * DC_ERR_NUMERIC for a NaN score (naming the row and class). */
dc_status dc_confusion_matrix(const dc_tensor *scores, const dc_tensor *labels, int64_t nclasses, int64_t *counts);
/* From such counts: the accuracy (the diagonal's share of all rows), the balanced accuracy
 * (scikit-learn's balanced_accuracy_score: the mean recall over the classes that have rows) and
 * each class's recall into recall[nclasses] (NaN for a class without rows); any output may be
 * NULL. DC_ERR_ARG for NULL counts, nclasses outside [1, 65536], a negative count, no rows. */
dc_status dc_classification_scores(const int64_t *counts, int64_t nclasses, double *accuracy, double *balanced,
                                   double *recall);
/* Owned tensor of the rows idx[0..n) of x (x's first axis). */
dc_tensor *dc_take_rows(const dc_tensor *x, const int64_t *idx, int64_t n);

/* Principal component analysis, as scikit-learn's PCA(n_components=k) (no whitening): fitted on
 * rows x [N, ...] (each row's elements are its features, D of them), it keeps the mean and the
 * k unit eigenvectors of the covariance with the largest eigenvalues (computed in double: the
 * covariance of the centred rows, then LAPACK's dsyevd). Each component's sign makes its
 * largest-magnitude entry positive. */
typedef struct dc_pca dc_pca;
/* Errors: DC_ERR_ARG for NULL arguments, k outside [1, min(N, D)], D over 16384; DC_ERR_SHAPE
 * for x with fewer than 2 axes or fewer than 2 rows; DC_ERR_NUMERIC naming the row and feature of
 * a NaN or Inf (or LAPACK not converging); DC_ERR_NOMEM. *out is NULL on error. */
dc_status dc_pca_fit(const dc_tensor *x, int64_t k, dc_pca **out);
/* Owned [N, k]: (x - mean) components^T for rows x [N, ...] of D elements. NULL on error:
 * DC_ERR_ARG for NULL arguments, DC_ERR_SHAPE for rows of another size. */
dc_tensor *dc_pca_transform(const dc_pca *p, const dc_tensor *x);
/* Owned z components + mean for z [N, k], shaped [N, ...] as the rows fitted. */
dc_tensor *dc_pca_inverse_transform(const dc_pca *p, const dc_tensor *z);
/* inverse_transform(transform(x)), shaped as x: its projection on the k components. */
dc_tensor *dc_pca_reconstruct(const dc_pca *p, const dc_tensor *x);
void dc_pca_free(dc_pca *p);
int64_t dc_pca_components_count(const dc_pca *p); /* k; 0 for NULL */
int64_t dc_pca_features(const dc_pca *p);         /* D; 0 for NULL */
/* What dc_pca_get copies out, with scikit-learn's attribute names. */
typedef enum dc_pca_part {
    DC_PCA_COMPONENTS,                /* components_ [k, D], rows by falling variance */
    DC_PCA_MEAN,                      /* mean_ [D] */
    DC_PCA_EXPLAINED_VARIANCE,        /* explained_variance_ [k]: eigenvalues / (N - 1) */
    DC_PCA_EXPLAINED_VARIANCE_RATIO,  /* explained_variance_ratio_ [k]: over the total variance */
    DC_PCA_NOISE_VARIANCE,            /* noise_variance_ [1]: mean of the other min(N, D) - k */
} dc_pca_part;
/* Owned float copy of a part; NULL + DC_ERR_ARG for NULL p or an unknown part. */
dc_tensor *dc_pca_get(const dc_pca *p, dc_pca_part part);

/* IDX files (MNIST format), plain or gzip. Images come back as float [N, rows, cols]
 * scaled to [0, 1] if scale is true, labels as float [N]. Only unsigned bytes (type 0x08) with
 * 1 to DC_MAX_DIMS dimensions are read. NULL on error: DC_ERR_IO for a missing file;
 * DC_ERR_FORMAT naming the file and the numbers for a wrong magic, another element type, a
 * zero dimension, more than 2^31 elements, a truncated header or data (checked against the
 * file's size before allocating; for gzip, against what the compressed size can hold, and the
 * data is taken in as it arrives), data after the last element, and corrupt gzip data. */
dc_tensor *dc_idx_load(const char *path, bool scale);

/* The Frechet distance between two sets of feature vectors (the measure behind FID): with a
 * Gaussian fitted to each (mean, covariance with denominator N - 1), the squared 2-Wasserstein
 * distance between them, |mu_a - mu_b|^2 + Tr(Sa + Sb - 2 (Sa Sb)^(1/2)), computed in double
 * (src/data/frechet.c). a [N, D] and b [M, D], any strides; *out is set only on success (0 or
 * more: rounding below zero gives 0). Errors: DC_ERR_ARG for NULL arguments; DC_ERR_SHAPE for
 * a tensor that is not 2-D, with fewer than 2 rows, D outside [1, 65536], or the two D unequal;
 * DC_ERR_NUMERIC naming the first NaN or Inf (which tensor, row and column); DC_ERR_NOMEM. */
dc_status dc_frechet_distance(const dc_tensor *a, const dc_tensor *b, double *out);

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

/* ---- images: PNG and JPEG in, PNG grids out (src/data/image*.c) ---- */
/* Pictures come in deepc's Conv2D layout, NCHW: one image is [C, H, W], a batch [N, C, H, W]
 * (Keras hands out NHWC; dc_nhwc_to_nchw converts such arrays). The format is told by the
 * file's content (its magic bytes), never by its name. */
typedef enum dc_resize_mode {
    /* TensorFlow's tf.image.resize(method="bilinear", antialias=False), which Keras's loaders
     * use: half-pixel centres, source coordinate (i + 0.5) * in / out - 0.5, clamped to the
     * edges; no antialiasing when shrinking (PIL's BILINEAR gives the same values when growing,
     * PyTorch's interpolate(mode="bilinear", align_corners=False) in both directions). */
    DC_RESIZE_BILINEAR,
    /* TensorFlow's and PIL's nearest neighbour: source index floor((i + 0.5) * in / out). */
    DC_RESIZE_NEAREST,
} dc_resize_mode;

typedef struct dc_image_opts {
    /* 1: grey (colour converted as PIL's convert("L"), which Keras's load_img uses:
     * L = (19595 R + 38470 G + 7471 B + 32768) >> 16 on 8-bit samples); 3: RGB (grey
     * repeated); 0: as the file holds it (1 for grey, 3 for colour and palette). Default 3,
     * Keras's color_mode "rgb". */
    int channels;
    /* true: values / 255 in [0, 1] (default); false: 0..255 as floats, which is what Keras's
     * image_dataset_from_directory and img_to_array give. 16-bit samples keep their precision
     * (v / 257 on the 0..255 scale). */
    bool scale;
    /* Transparency (an alpha channel, or a tRNS chunk): < 0 (default) drops it, as PIL's
     * convert("RGB") and TensorFlow's decoders do; a grey level in [0, 1] composites the
     * picture over it (1: white), which transparent icons usually want. */
    float background;
    /* > 0 both: resize to height x width (default 0: keep the file's size). */
    int64_t height, width;
    dc_resize_mode resize; /* default DC_RESIZE_BILINEAR */
    /* Most pixels (width * height) a file may declare; 0 (default) = 2^26. Each side is
     * also at most 65535. Checked before anything is allocated for the pixels. */
    int64_t max_pixels;
} dc_image_opts;
dc_image_opts dc_image_defaults(void);

/* Reads a PNG (libpng: any bit depth, palette, grey + alpha, tRNS, 16-bit, interlaced) or a
 * JPEG (libjpeg-turbo: baseline, progressive, arithmetic, grey, YCbCr, Adobe CMYK/YCCK) file
 * into an owned float [C, H, W]; o NULL = defaults. Gamma and colour profiles are ignored, as
 * Keras does. NULL on error, each message naming the file and the numbers:
 * DC_ERR_ARG for NULL path or bad options (channels not 0, 1 or 3; background > 1; one of
 * height/width set without the other or negative; max_pixels < 0); DC_ERR_IO for a file that
 * cannot be read (a directory included); DC_ERR_FORMAT for an empty file, a file over 1 GiB,
 * content that is neither PNG nor JPEG (its first bytes named, and GIF, BMP, WebP, TIFF or SVG
 * recognised as such), declared dimensions of 0, over 65535 a side or over max_pixels (before
 * allocating), and truncated or corrupt data (a bad CRC or zlib checksum, a missing IEND, a
 * JPEG whose decoder reports corrupt data, more than 500 progressive scans: libjpeg's
 * recoverable-corruption warnings are errors here, since the picture would be wrong). */
dc_tensor *dc_image_load(const char *path, const dc_image_opts *o);
/* The same from a file's bytes in memory; name is used in messages. */
dc_tensor *dc_image_decode(const void *data, size_t size, const char *name, const dc_image_opts *o);

/* Owned resized copy of images whose last two axes are H and W ([H, W], [C, H, W],
 * [N, C, H, W], any strides). DC_ERR_ARG: NULL x, height or width not in 1..65535, an
 * unknown mode; DC_ERR_SHAPE: x with fewer than 2 axes or an empty H or W. */
dc_tensor *dc_image_resize(const dc_tensor *x, int64_t height, int64_t width, dc_resize_mode mode);

/* Keras's image_dataset_from_directory: root/<class>/.../<image>, one class per sub-folder of
 * root (class names in byte order, or as class_names lists them), images in the class's folder
 * tree (sub-folders included, in byte order of their paths; links to files followed, links to
 * folders not; names starting with '.' skipped). An image file is one named *.png, *.jpg or
 * *.jpeg (any case) or whose content starts as PNG or JPEG; other files (SVG, text, ...) are
 * passed over and counted in `ignored`. */
typedef enum dc_subset { DC_SUBSET_ALL, DC_SUBSET_TRAINING, DC_SUBSET_VALIDATION } dc_subset;
typedef struct dc_image_folder_opts {
    /* channels, scale, background, size, resize mode, max_pixels of every image. Default
     * 3 channels, 256 x 256, bilinear, values 0..255 (scale false), as Keras's defaults are.
     * height = width = 0: keep the files' size, which must then be one size for all. */
    dc_image_opts image;
    bool shuffle;            /* default true: file order shuffled with seed before the split */
    uint64_t seed;           /* default 0 */
    /* fraction of the files held out as validation, in [0, 1): the last
     * floor(validation_split * N) of the (shuffled) files, as Keras does; 0 (default) = none */
    double validation_split;
    dc_subset subset;        /* which part to load; DC_SUBSET_ALL needs validation_split 0 */
    int64_t max_per_class;   /* > 0: only each class's first max_per_class image files (path order) */
    /* true: files that cannot be read as images are skipped and counted in `skipped`;
     * false (default): the first such file is an error naming it */
    bool skip_bad;
    /* NULL (default): every sub-folder is a class. Else nclass_names folder names, in the
     * order that gives their labels; each must exist */
    const char *const *class_names;
    int64_t nclass_names;
} dc_image_folder_opts;
dc_image_folder_opts dc_image_folder_defaults(void);

typedef struct dc_image_dataset {
    dc_tensor *x;       /* [N, C, height, width] */
    dc_tensor *y;       /* [N] class indices (floats) */
    char **class_names; /* nclasses names; label i is class_names[i] */
    int64_t nclasses;
    int64_t skipped;    /* image files that could not be read (skip_bad) */
    int64_t ignored;    /* files that are not PNG or JPEG images, passed over */
    char first_error[512]; /* the message of the first skipped file, "" if none */
} dc_image_dataset;
/* Lists the files, shuffles the list with seed (the same seed, folder and split give the same
 * files and order every time, though not NumPy's order that Keras gets), splits it, then reads
 * only the chosen subset's images. *out is filled on success and zeroed on failure; free it
 * with dc_image_dataset_free. Errors: DC_ERR_ARG for NULL arguments, bad options
 * (validation_split outside [0, 1), or not 0 with DC_SUBSET_ALL; a subset that would hold no
 * files), a class_names entry that is no sub-folder, a name repeated; DC_ERR_IO for a root that
 * cannot be listed; DC_ERR_FORMAT for a root without class sub-folders, no image files at all,
 * and (unless skip_bad) any image file that cannot be read, with dc_image_load's message, or one
 * whose size differs from the first's when no size is given. */
dc_status dc_image_folder_load(const char *root, const dc_image_folder_opts *o, dc_image_dataset *out);
void dc_image_dataset_free(dc_image_dataset *d);

/* Writes a batch of images as one PNG picture: a grid of tiles, rows filled left to right,
 * with padding around and between tiles, and an optional caption above it drawn in a built-in
 * 5x7-pixel ASCII font. */
typedef struct dc_image_grid_opts {
    int64_t cols;        /* tiles per row; 0 (default): ceil(sqrt(N)) */
    int64_t padding;     /* pixels around and between tiles, 0..1024; default 2 */
    float pad_value;     /* grey level in [0, 1] of the padding and caption strip; default 0 */
    /* values mapped to 0 and 255, clipped outside (default 0 and 1; -1 and 1 for tanh outputs,
     * 0 and 255 for raw pixels); lo == hi: the batch's own minimum and maximum */
    float lo, hi;
    /* NULL or "" = none. '\n' breaks lines; longer lines wrap to the picture's width (at least
     * 40 characters); bytes outside ASCII 32..126 are drawn as '?'; at most 4096 bytes. Drawn
     * black on a light pad_value, white on a dark one. */
    const char *caption;
    int caption_scale;   /* pixels per font pixel, 1..8; default 1 */
} dc_image_grid_opts;
dc_image_grid_opts dc_image_grid_defaults(void);
/* images: [N, C, H, W] with C 1 (a grey PNG) or 3 (RGB), or [N, H, W] (grey), any strides;
 * a single image is a batch of one (padding 0 and no caption give the picture alone). Written
 * through dc_write_file_atomic; o NULL = defaults. Errors: DC_ERR_ARG for NULL arguments or
 * options out of range, a caption over 4096 bytes, a picture over 2^26 pixels or 65535 a side;
 * DC_ERR_SHAPE for another shape; DC_ERR_NUMERIC naming the first NaN or Inf; DC_ERR_IO. */
dc_status dc_image_grid_save(const char *path, const dc_tensor *images, const dc_image_grid_opts *o);
/* ---- end of images ---- */

/* ---- audio: sound files in, log-mel spectrograms (src/data/audio*.c) ---- */
/* A sound comes in as one channel of float samples, a [frames] tensor, with its sample rate.
 * Files are read by libsndfile (WAV, FLAC, Ogg Vorbis and Opus, AIFF, AU, CAF, W64, RF64, MP3
 * where the system's libsndfile has it, ...), the format told by the content, never by the
 * file's name. Spectrograms follow torchaudio.transforms.MelSpectrogram; the FFTs are FFTW's
 * (single precision). */
typedef enum dc_resample_mode {
    /* Band-limited: torchaudio.functional.resample's default (sinc_interp_hann,
     * lowpass_filter_width 6, rolloff 0.99): a Hann-windowed sinc reaching 6 zero crossings
     * of a low-pass at 0.99 of the lower rate's Nyquist frequency. Same output length
     * (ceil(frames * to / from)) and, to float precision, the same values. */
    DC_RESAMPLE_SINC,
    /* Linear interpolation between the two nearest samples (the last sample held past the
     * end); no low-pass, so shrinking the rate aliases. Same output length. */
    DC_RESAMPLE_LINEAR,
} dc_resample_mode;

typedef struct dc_audio_opts {
    /* > 0: resample to this rate (1..768000) when the file's differs; 0 (default): keep
     * the file's rate */
    int64_t sample_rate;
    dc_resample_mode resample; /* default DC_RESAMPLE_SINC */
    /* Longest sound accepted, in seconds at the file's rate; 0 (default) = 3600. Whatever
     * it says, at most 2^31 frames are read. Checked against the length the file declares
     * before anything is allocated for the samples, and again as they are decoded. */
    double max_seconds;
} dc_audio_opts;
dc_audio_opts dc_audio_defaults(void);

/* Reads a sound file into an owned float [frames] tensor: the channels' mean (a stereo file's
 * (left + right) / 2), integer samples scaled to [-1, 1) (8-bit unsigned (v - 128) / 128,
 * 16-bit v / 32768, 24-bit v / 2^23, 32-bit v / 2^31, as torchaudio.load gives them),
 * floating-point samples as stored (not clipped); then resampled if o asks. *sample_rate
 * (may be NULL) receives the returned samples' rate. o NULL = defaults. NULL on error, each
 * message naming the file and the numbers: DC_ERR_ARG for a NULL path or bad options
 * (sample_rate outside 0..768000, max_seconds negative or not finite, an unknown resample
 * mode); DC_ERR_IO for a file that cannot be opened (a directory included); DC_ERR_FORMAT for
 * an empty file, content libsndfile does not read (its first bytes named), a header it
 * refuses (libsndfile's reason: no channels, a bad chunk, ...), a WAV whose data chunk
 * declares more bytes than the file holds (a truncated file; the sizes 0, 0x7ffff000,
 * 0x7fffffff and 0xffffffff that streaming writers leave are read to the end of the file), a
 * file that decodes to fewer frames than it declares, a sound longer than max_seconds or
 * 2^31 frames, no samples at all, a sample rate outside 1..768000 Hz, and a NaN or Inf
 * sample (naming its frame). */
dc_tensor *dc_audio_load(const char *path, const dc_audio_opts *o, int64_t *sample_rate);
/* The same from a file's bytes in memory (libsndfile's virtual I/O); name is used in messages. */
dc_tensor *dc_audio_decode(const void *data, size_t size, const char *name, const dc_audio_opts *o,
                           int64_t *sample_rate);
/* Owned copy of a [frames] signal (any strides) at another rate. DC_ERR_ARG: NULL x, a rate
 * outside 1..768000, an unknown mode; DC_ERR_SHAPE: x not 1-D or empty, or an output over
 * 2^31 frames. from == to gives a copy. */
dc_tensor *dc_audio_resample(const dc_tensor *x, int64_t from_rate, int64_t to_rate, dc_resample_mode mode);

typedef enum dc_mel_scale {
    DC_MEL_HTK,    /* mel = 2595 log10(1 + f / 700): torchaudio's default, HTK's */
    DC_MEL_SLANEY, /* linear below 1 kHz (f / (200/3)), logarithmic above: librosa's default */
} dc_mel_scale;
typedef enum dc_window {
    DC_WINDOW_HANN,    /* periodic: 0.5 - 0.5 cos(2 pi i / N), torch.hann_window(N) */
    DC_WINDOW_HAMMING, /* periodic: 0.54 - 0.46 cos(2 pi i / N), torch.hamming_window(N) */
    DC_WINDOW_RECT,    /* all ones */
} dc_window;
typedef enum dc_stft_pad {
    DC_STFT_PAD_REFLECT, /* torch.stft's default: x[1], x[2], ... mirrored, the edge sample once */
    DC_STFT_PAD_ZERO,    /* zeros (pad_mode "constant") */
} dc_stft_pad;

/* The settings of a (log-)mel spectrogram. The defaults are torchaudio's MelSpectrogram's
 * (sample_rate 16000, n_fft 400, hop 200, 128 mels, Hann, centred with reflection, power 2,
 * HTK scale, no filter normalisation), plus the log. */
typedef struct dc_mel_opts {
    int64_t sample_rate; /* Hz, 1..768000; default 16000 */
    int64_t n_fft;       /* FFT length, 2..65536; default 400 */
    int64_t win_length;  /* window length, 1..n_fft, centred in the frame; 0 (default) = n_fft */
    int64_t hop_length;  /* samples between frames, >= 1; 0 (default) = win_length / 2 */
    int64_t n_mels;      /* mel bands, 1..4096; default 128 */
    double f_min;        /* lowest frequency of the filters, Hz; default 0 */
    double f_max;        /* highest, Hz, <= sample_rate / 2; 0 (default) = floor(sample_rate / 2) */
    dc_window window;    /* default DC_WINDOW_HANN */
    /* true (default): the signal padded by n_fft / 2 on each side, so frame t is centred on
     * sample t * hop (torch.stft's center=True); frames = 1 + frames_in / hop. false: frames
     * start at t * hop, frames = 1 + (samples - n_fft) / hop. */
    bool center;
    dc_stft_pad pad_mode; /* with center; default DC_STFT_PAD_REFLECT */
    float power;          /* |X|^power: 2 (default, power spectrum) or 1 (magnitude); > 0 */
    dc_mel_scale mel_scale; /* default DC_MEL_HTK */
    bool slaney_norm;     /* divide each filter by its width in Hz / 2 (norm="slaney"); default false */
    /* true (default): log(mel + log_offset), natural logarithm; false: the mel energies */
    bool log;
    float log_offset;     /* > 0; default 1e-6 */
} dc_mel_opts;
dc_mel_opts dc_mel_defaults(void);

/* The number of frames dc_log_mel gives for a signal of n samples under o; -1 (with a
 * message) for bad options or a signal too short to give one frame. */
int64_t dc_mel_frames(int64_t n, const dc_mel_opts *o);
/* torchaudio.functional.melscale_fbanks(n_fft / 2 + 1, f_min, f_max, n_mels, sample_rate,
 * norm, mel_scale): owned [n_fft / 2 + 1, n_mels] triangular filters over the FFT bins
 * (bin k is at k * floor(sample_rate / 2) / (n_fft / 2) Hz). NULL on error (DC_ERR_ARG). */
dc_tensor *dc_mel_filterbank(const dc_mel_opts *o);
/* The (log-)mel spectrogram of a [samples] signal (any strides): owned [frames, n_mels],
 * log(filterbank^T |STFT|^power + log_offset). o NULL = defaults. Safe to call from many
 * threads at once (FFTW's plans are made under a lock and kept per FFT length); the frames
 * are shared among deepc's threads (dc_set_threads) when there are many. NULL on error:
 * DC_ERR_ARG for NULL x or options out of range (each named with its value: f_max over the
 * Nyquist frequency, f_min >= f_max, win_length > n_fft, ...); DC_ERR_SHAPE for x not 1-D,
 * shorter than n_fft (center false) or, centred with reflection, not longer than n_fft / 2
 * (torch.stft's limit); DC_ERR_NUMERIC naming the first NaN or Inf sample. */
dc_tensor *dc_log_mel(const dc_tensor *x, const dc_mel_opts *o);

/* Per-feature normalisation of spectrograms ([frames, features], each row a frame): every
 * feature (mel band) shifted and scaled to mean 0 and standard deviation 1. Either fitted on
 * the training set's frames (dc_feature_norm_add over its utterances) and applied to every
 * set, or per utterance (dc_normalize_utterance). Statistics are kept in double (Chan's
 * pairwise update); the standard deviation is the population one (divided by the count); a
 * feature whose deviation is below 1e-5 is only centred. */
typedef struct dc_feature_norm dc_feature_norm;
/* An empty accumulator for n_features features (1..2^20); NULL on error (DC_ERR_ARG). */
dc_feature_norm *dc_feature_norm_new(int64_t n_features);
/* The same fixed to given statistics (e.g. saved with a model): mean[n], std[n] > 0. */
dc_feature_norm *dc_feature_norm_from(int64_t n_features, const float *mean, const float *std);
/* Adds the rows of x [frames, n_features] (any strides) to the statistics. DC_ERR_ARG for
 * NULL arguments; DC_ERR_SHAPE for another shape; DC_ERR_NUMERIC for a NaN or Inf. */
dc_status dc_feature_norm_add(dc_feature_norm *fn, const dc_tensor *x);
/* x = (x - mean) / std per feature, in place; x [frames, n_features], an owned contiguous
 * tensor. DC_ERR_STATE if nothing was added yet. */
dc_status dc_feature_norm_apply(const dc_feature_norm *fn, dc_tensor *x);
/* The statistics (either pointer may be NULL): mean[n] and the std dividing each feature
 * (1 where it is below 1e-5). DC_ERR_STATE if nothing was added yet. */
dc_status dc_feature_norm_stats(const dc_feature_norm *fn, float *mean, float *std);
/* Frames added so far (0 for NULL). */
int64_t dc_feature_norm_count(const dc_feature_norm *fn);
void dc_feature_norm_free(dc_feature_norm *fn);
/* One utterance normalised by its own statistics, in place (cepstral mean and variance
 * normalisation): x [frames >= 1, features], owned and contiguous. */
dc_status dc_normalize_utterance(dc_tensor *x);

/* A list of labelled files, as a data set's labels file gives it. */
typedef struct dc_labelled_files {
    int64_t n;
    char **paths;  /* n file paths: relative names joined to the labels file's folder */
    char **labels; /* n labels (may be "") */
} dc_labelled_files;
/* Reads a tab-separated labels file: one "file<TAB>label" line per item, any further
 * tab-separated columns ignored; lines starting with '#' and empty lines skipped; "\r\n"
 * endings accepted. *out is filled on success and zeroed on failure; free it with
 * dc_labelled_files_free. DC_ERR_ARG for NULL arguments; DC_ERR_IO for a file that cannot
 * be read; DC_ERR_FORMAT naming the file and line for a line without a tab, an empty file
 * name, a NUL byte, a line over 64 KiB, no items at all. */
dc_status dc_labels_tsv_load(const char *path, dc_labelled_files *out);
void dc_labelled_files_free(dc_labelled_files *l);
/* ---- end of audio ---- */

/* ---- baskets: item sets per user, for recommenders (src/data/baskets.c) ---- */
/* Users, each with a basket of distinct items, both named by strings and numbered densely in
 * order of first appearance. Read from Debian's package index: each package a user, the
 * packages it depends on its items. */
typedef struct dc_baskets dc_baskets;
/* What a Packages file's dependencies give (flags of the readers below, or'ed): */
enum {
    DC_DEPENDS_PRE = 1,              /* Pre-Depends as well as Depends */
    DC_DEPENDS_ALL_ALTERNATIVES = 2, /* every package of "a | b", not only the first (apt's choice) */
};
/* Empty baskets (NULL when out of memory); free with dc_baskets_free (NULL is ignored). */
dc_baskets *dc_baskets_new(void);
void dc_baskets_free(dc_baskets *b);
/* Adds a Debian "Packages" index or debian/control file (plain or gzip; deb822 stanzas of
 * "Field: value" lines separated by blank lines): one user per stanza, named by its Package
 * field, its items the package names of its Depends (and Pre-Depends with DC_DEPENDS_PRE),
 * stripped of architecture qualifiers (":any"), versions ("(>= 2.36)"), architecture lists and
 * build profiles; of "a | b" the first package, or all with DC_DEPENDS_ALL_ALTERNATIVES.
 * Substitution variables ("${misc:Depends}") and a package's dependency on itself are left
 * out, a stanza without Package but with Source (a control file's first) is skipped, and '#'
 * lines are comments. A package already present (from an earlier file: apt's updates after
 * its main index) has its basket replaced. The file is parsed whole before anything is
 * added, so an error leaves b as it was (except DC_ERR_NOMEM, which may leave part added).
 * Errors: DC_ERR_ARG for NULL arguments or unknown flags; DC_ERR_IO for a file that cannot be
 * read; DC_ERR_FORMAT naming the file and line for a NUL byte, a line that is neither
 * "Name: value" nor a continuation (a line starting with a blank) inside a field, an empty or
 * blank-holding field name, Package, Source, Depends or Pre-Depends twice in a stanza, a
 * stanza with neither Package nor Source, a Package value that is not a package name (policy:
 * lower case letters, digits, + - ., a letter or digit first), a dependency that does not
 * parse (an empty one between commas, an empty alternative, a bad name, an unclosed '(' '['
 * '<', a version without a relation << <= = >= >>), more than 1 GiB of text, corrupt or
 * truncated gzip data. */
dc_status dc_baskets_read_packages(dc_baskets *b, const char *path, unsigned flags);
/* The same from text[len] in memory (no NUL in it; apt's lz4 or xz lists decompressed by
 * `/usr/lib/apt/apt-helper cat-file`); name is used in messages as the file's. */
dc_status dc_baskets_parse_packages(dc_baskets *b, const char *text, size_t len, const char *name, unsigned flags);
int64_t dc_baskets_users(const dc_baskets *b); /* 0 for NULL */
int64_t dc_baskets_items(const dc_baskets *b); /* 0 for NULL */
/* Names of user u and item i, owned by b; NULL (DC_ERR_ARG) out of range. */
const char *dc_baskets_user(const dc_baskets *b, int64_t u);
const char *dc_baskets_item(const dc_baskets *b, int64_t i);
/* The size of user u's basket, its item ids (sorted, distinct, owned by b) in *items; -1
 * (DC_ERR_ARG) for u out of range. */
int64_t dc_baskets_get(const dc_baskets *b, int64_t u, const int64_t **items);
/* Hit rate and NDCG at k of one held-out item per user, as leave-one-out recommender studies
 * report them: scores [U, I] (contiguous, finite; higher first), seen [U, I] (contiguous,
 * NULL for none; non-zero marks the items of the user's input, which are not ranked),
 * target[U] the held-out item of each user. Its rank r (from 0) counts the unseen items
 * scoring higher, and those scoring the same with a lower index (a stable sort's order);
 * *hit_rate = mean of [r < k], *ndcg = mean of [r < k] / log2(r + 2). Errors: DC_ERR_ARG for
 * NULL arguments, k < 1, a target out of range or marked seen, non-contiguous tensors;
 * DC_ERR_SHAPE for other shapes; DC_ERR_NUMERIC for a NaN or Inf score. */
dc_status dc_rank_metrics(const dc_tensor *scores, const dc_tensor *seen, const int64_t *target, int64_t k,
                          double *hit_rate, double *ndcg);
/* ---- end of baskets ---- */

#if defined(__GNUC__)
#pragma GCC visibility pop
#endif

#ifdef __cplusplus
}
#endif
#endif /* DEEPC_DATA_H */
