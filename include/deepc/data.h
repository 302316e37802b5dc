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
/* Owned tensor of the rows idx[0..n) of x (x's first axis). */
dc_tensor *dc_take_rows(const dc_tensor *x, const int64_t *idx, int64_t n);

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

#if defined(__GNUC__)
#pragma GCC visibility pop
#endif

#ifdef __cplusplus
}
#endif
#endif /* DEEPC_DATA_H */
