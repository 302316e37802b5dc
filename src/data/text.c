/* Text: fortune files, a word or character tokeniser, a vocabulary and id sequences.
 *
 * Tokeniser rule (word mode): a token is a maximal run of ASCII letters, ASCII digits and
 * bytes >= 0x80 (so UTF-8 words such as "café" stay whole), with an apostrophe kept only
 * between two such bytes ("don't", "rock'n'roll"; quotes around a word are dropped).
 * Everything else separates tokens. ASCII letters are lower-cased; other bytes are kept.
 * Character mode: every byte is a token, case and punctuation kept.
 *
 * The vocabulary is an open-addressing hash table (linear probing, FNV-1a, at most half
 * full) over a string pool; counting a corpus is linear in its size. Index 0 is padding
 * ("<pad>"), 1 out-of-vocabulary ("<oov>"), then tokens by falling count, ties in order of
 * first appearance.
 *
 * Vocabulary files (BERT's vocab.txt layout) hold one token per line, line i being index i.
 * A loaded vocabulary keeps its tokens verbatim (BERT's "[CLS]", a cased vocabulary's "The"
 * next to "the") in a table that compares bytes exactly; in word mode a token not found as
 * written is looked up again with ASCII letters lower-cased, which for a built vocabulary
 * (all lower-case) is the same as its own case-folding lookup. Unknown tokens map to the
 * first "[UNK]" or "<oov>" line.
 *
 * Files are read whole (plain or gzip) up to TEXT_MAX_FILE bytes, and reading stops at the
 * first chunk holding a NUL byte, so neither a gzip bomb nor a large binary file is read to
 * its end.
 */
#include "deepc/data.h"
#include "gz.h"

#include "../base/atomic_file.h"
#include "../tensor/tensor.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

/* Token ids are stored as float32, exact up to 2^24. */
#define TEXT_MAX_ID ((int64_t)1 << 24)
/* Fortune and vocabulary files are far smaller; a larger one is refused rather than read. */
#define TEXT_MAX_FILE ((size_t)1 << 30)
/* Longest token of a vocabulary file, in bytes (BERT's longest is 18). */
#define VOCAB_MAX_TOKEN 1000

typedef struct tok_entry {
    size_t off;    /* the NUL-terminated token at pool + off */
    uint64_t hash; /* of the (folded) token */
    int64_t count; /* occurrences */
} tok_entry;

typedef struct tok_table {
    bool fold; /* compare with ASCII letters lower-cased (word mode) */
    char *pool;
    size_t pool_n, pool_cap;
    tok_entry *e;
    int64_t n, cap;
    int64_t *slot; /* entry index or -1 */
    size_t nslots; /* a power of two, more than 2 n */
} tok_table;

struct dc_vocab {
    bool chars;
    int64_t unk; /* index of unknown tokens: 1 when built, the [UNK]/<oov> line when loaded */
    tok_table t; /* entry i is token id i; t.fold is false for a loaded vocabulary */
};

/* ---------------------------------------------------------------- tokeniser */

static bool is_word_byte(unsigned char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c >= 0x80;
}

static char fold_byte(char c, bool fold) { return fold && c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c; }

/* Finds the next token at or after *p: [*start, *start + *len). False at the end of text. */
static bool next_token(const char **p, bool chars, const char **start, size_t *len) {
    const unsigned char *s = (const unsigned char *)*p;
    if (chars) {
        if (!*s) return false;
        *start = *p;
        *len = 1;
        (*p)++;
        return true;
    }
    while (*s && !is_word_byte(*s)) s++;
    const unsigned char *b = s;
    while (is_word_byte(*s) || (*s == '\'' && s > b && is_word_byte(s[1]))) s++;
    *p = (const char *)s;
    *start = (const char *)b;
    *len = (size_t)(s - b);
    return s > b;
}

/* ---------------------------------------------------------------- hash table */

static uint64_t tok_hash(const char *p, size_t len, bool fold) {
    uint64_t h = 0xcbf29ce484222325u;
    for (size_t i = 0; i < len; i++) h = (h ^ (unsigned char)fold_byte(p[i], fold)) * 0x100000001b3u;
    return h;
}

static bool tok_equal(const char *stored, const char *p, size_t len, bool fold) {
    for (size_t i = 0; i < len; i++)
        if (stored[i] != fold_byte(p[i], fold)) return false;
    return stored[len] == 0;
}

/* Entry of token p[0..len) (ASCII letters lower-cased if fold), or -1; *pos receives its slot
 * or the empty slot to use. h is tok_hash(p, len, fold). */
static int64_t table_find_as(const tok_table *t, const char *p, size_t len, uint64_t h, bool fold, size_t *pos) {
    size_t mask = t->nslots - 1, i = (size_t)h & mask;
    for (;; i = (i + 1) & mask) {
        int64_t k = t->slot[i];
        if (k < 0 || (t->e[k].hash == h && tok_equal(t->pool + t->e[k].off, p, len, fold))) {
            *pos = i;
            return k;
        }
    }
}

static int64_t table_find(const tok_table *t, const char *p, size_t len, uint64_t h, size_t *pos) {
    return table_find_as(t, p, len, h, t->fold, pos);
}

static dc_status table_rehash(tok_table *t, size_t nslots) {
    int64_t *slot = dc_alloc(nslots * sizeof *slot);
    if (!slot) return DC_ERR_NOMEM;
    memset(slot, 0xff, nslots * sizeof *slot); /* all -1 */
    for (int64_t k = 0; k < t->n; k++) {
        size_t i = (size_t)t->e[k].hash & (nslots - 1);
        while (slot[i] >= 0) i = (i + 1) & (nslots - 1);
        slot[i] = k;
    }
    dc_free(t->slot);
    t->slot = slot;
    t->nslots = nslots;
    return DC_OK;
}

/* Makes room for one more entry of len bytes (table, entries and pool). */
static dc_status table_reserve(tok_table *t, size_t len) {
    if ((size_t)t->n + 1 > t->nslots / 2) {
        if (t->nslots > SIZE_MAX / 2 / sizeof(int64_t)) return dc_error(DC_ERR_NOMEM, "vocabulary: too many tokens");
        dc_status s = table_rehash(t, t->nslots ? 2 * t->nslots : 64);
        if (s) return s;
    }
    if (t->n == t->cap) {
        int64_t cap = t->cap ? 2 * t->cap : 64;
        tok_entry *e = dc_realloc(t->e, (size_t)cap * sizeof *e); /* cap <= nslots, no overflow */
        if (!e) return DC_ERR_NOMEM;
        t->e = e;
        t->cap = cap;
    }
    if (len >= SIZE_MAX / 4 - t->pool_n) return dc_error(DC_ERR_NOMEM, "vocabulary: the tokens are too long");
    if (t->pool_n + len + 1 > t->pool_cap) {
        size_t cap = t->pool_cap ? t->pool_cap : 4096;
        while (cap < t->pool_n + len + 1) cap *= 2;
        char *pool = dc_realloc(t->pool, cap);
        if (!pool) return DC_ERR_NOMEM;
        t->pool = pool;
        t->pool_cap = cap;
    }
    return DC_OK;
}

/* Adds token p[0..len) (not yet present) with count; folds it into the pool. */
static dc_status table_append(tok_table *t, const char *p, size_t len, uint64_t h, int64_t count) {
    dc_status s = table_reserve(t, len);
    if (s) return s;
    size_t pos;
    table_find(t, p, len, h, &pos);
    char *dst = t->pool + t->pool_n;
    for (size_t i = 0; i < len; i++) dst[i] = fold_byte(p[i], t->fold);
    dst[len] = 0;
    t->e[t->n] = (tok_entry){t->pool_n, h, count};
    t->slot[pos] = t->n++;
    t->pool_n += len + 1;
    return DC_OK;
}

/* Counts one occurrence of p[0..len). */
static dc_status table_count(tok_table *t, const char *p, size_t len) {
    uint64_t h = tok_hash(p, len, t->fold);
    size_t pos;
    int64_t k = t->nslots ? table_find(t, p, len, h, &pos) : -1;
    if (k < 0) return table_append(t, p, len, h, 1);
    t->e[k].count++;
    return DC_OK;
}

static void table_free(tok_table *t) {
    dc_free(t->pool);
    dc_free(t->e);
    dc_free(t->slot);
}

/* ---------------------------------------------------------------- fortunes */

void dc_texts_free(char **texts, int64_t n) {
    if (!texts) return;
    for (int64_t i = 0; i < n; i++) dc_free(texts[i]);
    dc_free(texts);
}

/* zlib's message without the "path: " it starts with (ours names the file already). */
static const char *gz_message(const char *msg, const char *path) {
    size_t n = strlen(path);
    if (!msg) return "unknown zlib error";
    return !strncmp(msg, path, n) && !strncmp(msg + n, ": ", 2) ? msg + n + 2 : msg;
}

/* Reads the whole file (plain or gzip) into a NUL-terminated buffer of *size bytes. Reading
 * stops after the first chunk holding a NUL byte: *nul_at receives its offset (the buffer then
 * holds every byte before it), or SIZE_MAX when the file has none. */
static dc_status read_all(const char *path, char **out, size_t *size, size_t *nul_at) {
    *nul_at = SIZE_MAX;
    uint64_t fsize = 0;
    gzFile gz = dc_gz_open(path, &fsize);
    if (!gz) return dc_last_status();
    /* a first buffer the size of the file (it doubles for compressed text): small files, and
     * the fuzzer's, allocate little */
    size_t n = 0, cap = (size_t)DC_MAX(DC_MIN(fsize + 2, (uint64_t)1 << 16), 256);
    char *buf = dc_alloc(cap);
    dc_status s = buf ? DC_OK : DC_ERR_NOMEM;
    while (!s) {
        if (n > TEXT_MAX_FILE) {
            s = dc_error(DC_ERR_FORMAT, "%s: more than %zu bytes of text (1 GiB); not a fortune or vocabulary file?",
                         path, TEXT_MAX_FILE);
            break;
        }
        if (n + 1 == cap) { /* room for TEXT_MAX_FILE + 1 bytes and the final NUL at most */
            size_t next = DC_MIN(2 * cap, TEXT_MAX_FILE + 2);
            char *bigger = dc_realloc(buf, next);
            if (bigger) buf = bigger, cap = next;
            else s = DC_ERR_NOMEM;
            continue;
        }
        int got = gzread(gz, buf + n, (unsigned)DC_MIN(cap - 1 - n, (size_t)1 << 30));
        int err = Z_OK;
        const char *msg = got <= 0 ? gzerror(gz, &err) : NULL;
        if (err == Z_ERRNO) s = dc_error(DC_ERR_IO, "%s: read error: %s", path, strerror(errno));
        else if (err == Z_BUF_ERROR) s = dc_error(DC_ERR_FORMAT, "%s: the gzip data ends early", path);
        else if (err != Z_OK) s = dc_error(DC_ERR_FORMAT, "%s: corrupt gzip data (%s)", path, gz_message(msg, path));
        else if (got == 0) break;
        else {
            const char *nul = memchr(buf + n, 0, (size_t)got);
            n += (size_t)got;
            if (nul) {
                *nul_at = (size_t)(nul - buf);
                break;
            }
        }
    }
    gzclose(gz);
    if (s) {
        dc_free(buf);
        return s;
    }
    buf[n] = 0;
    *out = buf;
    *size = n;
    return DC_OK;
}

/* 1-based line of byte offset `at` in buf. */
static int64_t line_of(const char *buf, size_t at) {
    int64_t line = 1;
    for (const char *p = buf; (p = memchr(p, '\n', at - (size_t)(p - buf))) != NULL; p++) line++;
    return line;
}

static bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'; }

/* Appends a copy of b[0..n) without trailing white space and without the '\r' of "\r\n",
 * unless it is blank. */
static dc_status push_entry(const char *b, size_t n, char ***texts, int64_t *count, int64_t *cap) {
    while (n && is_space(b[n - 1])) n--;
    size_t lead = 0;
    while (lead < n && is_space(b[lead])) lead++;
    if (lead == n) return DC_OK;
    if (*count == *cap) {
        int64_t c = *cap ? 2 * *cap : 64;
        char **v = dc_realloc(*texts, (size_t)c * sizeof *v);
        if (!v) return DC_ERR_NOMEM;
        *texts = v;
        *cap = c;
    }
    char *s = dc_alloc(n + 1);
    if (!s) return DC_ERR_NOMEM;
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (!(b[i] == '\r' && b[i + 1] == '\n')) s[k++] = b[i];
    s[k] = 0;
    (*texts)[(*count)++] = s;
    return DC_OK;
}

/* Is the line starting at p only "%" (with an optional '\r')? */
static bool is_separator(const char *p) {
    return p[0] == '%' && (p[1] == '\n' || p[1] == 0 || (p[1] == '\r' && (p[2] == '\n' || p[2] == 0)));
}

static dc_status split_fortunes(const char *buf, char ***texts, int64_t *n) {
    int64_t cap = 0;
    const char *entry = buf;
    dc_status s = DC_OK;
    for (const char *line = buf; !s && *line;) {
        const char *nl = strchr(line, '\n');
        const char *next = nl ? nl + 1 : line + strlen(line);
        if (is_separator(line)) {
            s = push_entry(entry, (size_t)(line - entry), texts, n, &cap);
            entry = next;
        }
        line = next;
    }
    if (!s) s = push_entry(entry, strlen(entry), texts, n, &cap);
    return s;
}

dc_status dc_read_fortunes(const char *path, char ***texts, int64_t *n) {
    if (texts) *texts = NULL;
    if (n) *n = 0;
    if (!path || !texts || !n) return dc_error(DC_ERR_ARG, "dc_read_fortunes: path, texts and n must not be NULL");
    char *buf = NULL;
    size_t size = 0, nul_at;
    dc_status s = read_all(path, &buf, &size, &nul_at);
    if (s) return s;
    if (nul_at != SIZE_MAX) {
        s = dc_error(DC_ERR_FORMAT, "%s:%lld: byte %zu is NUL (a binary file, not text?)", path,
                     (long long)line_of(buf, nul_at), nul_at);
        dc_free(buf);
        return s;
    }
    s = split_fortunes(buf, texts, n);
    dc_free(buf);
    if (!s && *n == 0)
        s = dc_error(DC_ERR_FORMAT, "%s: no entries (%zu bytes; entries are separated by lines holding only %%)", path,
                     size);
    if (s) {
        dc_texts_free(*texts, *n);
        *texts = NULL;
        *n = 0;
    }
    return s;
}

/* ---------------------------------------------------------------- tokens */

dc_status dc_tokenize(const char *text, bool chars, char ***tokens, int64_t *n) {
    if (tokens) *tokens = NULL;
    if (n) *n = 0;
    if (!text || !tokens || !n) return dc_error(DC_ERR_ARG, "dc_tokenize: text, tokens and n must not be NULL");
    const char *p = text, *b;
    size_t len;
    int64_t count = 0;
    while (next_token(&p, chars, &b, &len)) count++;
    char **v = dc_calloc((size_t)count, sizeof *v);
    if (!v) return DC_ERR_NOMEM;
    p = text;
    for (int64_t i = 0; i < count && next_token(&p, chars, &b, &len); i++) {
        if (!(v[i] = dc_alloc(len + 1))) {
            dc_texts_free(v, i);
            return DC_ERR_NOMEM;
        }
        for (size_t k = 0; k < len; k++) v[i][k] = fold_byte(b[k], !chars);
        v[i][len] = 0;
    }
    *tokens = v;
    *n = count;
    return DC_OK;
}

/* ---------------------------------------------------------------- vocabulary */

typedef struct tok_rank {
    int64_t count, entry;
} tok_rank;

/* Falling count, then first appearance (the entry order of the counting table). */
static int rank_cmp(const void *a, const void *b) {
    const tok_rank *x = a, *y = b;
    if (x->count != y->count) return x->count > y->count ? -1 : 1;
    return (x->entry > y->entry) - (x->entry < y->entry);
}

static dc_status texts_check(const char *who, char *const *texts, int64_t n) {
    if (!texts) return dc_error(DC_ERR_ARG, "%s: texts is NULL", who);
    if (n <= 0) return dc_error(DC_ERR_ARG, "%s: the number of texts must be positive, got %lld", who, (long long)n);
    for (int64_t i = 0; i < n; i++)
        if (!texts[i]) return dc_error(DC_ERR_ARG, "%s: text %lld is NULL", who, (long long)i);
    return DC_OK;
}

static dc_status count_tokens(tok_table *c, char *const *texts, int64_t n, bool chars) {
    dc_status s = DC_OK;
    for (int64_t i = 0; i < n && !s; i++) {
        const char *p = texts[i], *b;
        size_t len;
        while (!s && next_token(&p, chars, &b, &len)) s = table_count(c, b, len);
    }
    return s;
}

/* Fills the vocabulary from the counts: "<pad>", "<oov>", then the `keep` best tokens. */
static dc_status vocab_fill(dc_vocab *v, const tok_table *c, int64_t keep) {
    tok_rank *r = dc_alloc((size_t)c->n * sizeof *r);
    if (!r) return DC_ERR_NOMEM;
    for (int64_t k = 0; k < c->n; k++) r[k] = (tok_rank){c->e[k].count, k};
    qsort(r, (size_t)c->n, sizeof *r, rank_cmp);
    static const char *const special[2] = {"<pad>", "<oov>"};
    dc_status s = DC_OK;
    for (int k = 0; k < 2 && !s; k++)
        s = table_append(&v->t, special[k], 5, tok_hash(special[k], 5, v->t.fold), 0);
    for (int64_t k = 0; k < keep && !s; k++) {
        const tok_entry *e = &c->e[r[k].entry];
        s = table_append(&v->t, c->pool + e->off, strlen(c->pool + e->off), e->hash, e->count);
    }
    dc_free(r);
    return s;
}

dc_vocab *dc_vocab_build(char *const *texts, int64_t n, int64_t max_words, bool chars) {
    if (texts_check("dc_vocab_build", texts, n)) return NULL;
    tok_table c = {.fold = !chars};
    dc_status s = count_tokens(&c, texts, n, chars);
    if (!s && c.n == 0) s = dc_error(DC_ERR_ARG, "dc_vocab_build: the %lld texts hold no tokens", (long long)n);
    dc_vocab *v = s ? NULL : dc_calloc(1, sizeof *v);
    if (v) {
        v->chars = chars;
        v->unk = 1;
        v->t.fold = !chars;
        int64_t keep = max_words > 0 && max_words < c.n ? max_words : c.n;
        if (vocab_fill(v, &c, keep)) {
            dc_vocab_free(v);
            v = NULL;
        }
    }
    table_free(&c);
    return v;
}

void dc_vocab_free(dc_vocab *v) {
    if (!v) return;
    table_free(&v->t);
    dc_free(v);
}

int64_t dc_vocab_size(const dc_vocab *v) { return v ? v->t.n : 0; }

/* Index of token p[0..len): as written (folded for a built word vocabulary), then, for a
 * loaded word vocabulary, with ASCII letters lower-cased; v->unk if neither is present. */
static int64_t vocab_find(const dc_vocab *v, const char *p, size_t len) {
    size_t pos;
    int64_t k = table_find(&v->t, p, len, tok_hash(p, len, v->t.fold), &pos);
    if (k < 0 && !v->chars && !v->t.fold) {
        bool upper = false;
        for (size_t i = 0; i < len && !upper; i++) upper = p[i] >= 'A' && p[i] <= 'Z';
        if (upper) k = table_find_as(&v->t, p, len, tok_hash(p, len, true), true, &pos);
    }
    return k < 0 ? v->unk : k;
}

int64_t dc_vocab_index(const dc_vocab *v, const char *token) {
    if (!v || !token) {
        dc_error(DC_ERR_ARG, "dc_vocab_index: vocabulary and token must not be NULL");
        return -1;
    }
    return vocab_find(v, token, strlen(token));
}

const char *dc_vocab_token(const dc_vocab *v, int64_t index) {
    if (!v) return dc_error_null(DC_ERR_ARG, "dc_vocab_token: vocabulary is NULL");
    if (index < 0 || index >= v->t.n)
        return dc_error_null(DC_ERR_ARG, "dc_vocab_token: index %lld is outside 0..%lld", (long long)index,
                             (long long)(v->t.n - 1));
    return v->t.pool + v->t.e[index].off;
}

/* ---------------------------------------------------------------- sequences */

/* Writes the ids of the first maxlen tokens of text into row; returns their number. */
static int64_t encode(const dc_vocab *v, const char *text, float *row, int64_t maxlen) {
    const char *p = text, *b;
    size_t len;
    int64_t n = 0;
    while (n < maxlen && next_token(&p, v->chars, &b, &len)) row[n++] = (float)vocab_find(v, b, len);
    return n;
}

dc_tensor *dc_texts_to_sequences(const dc_vocab *v, char *const *texts, int64_t n, int64_t maxlen, bool pad_front,
                                 int64_t *lengths_out) {
    static const char who[] = "dc_texts_to_sequences";
    if (!v) return dc_error_null(DC_ERR_ARG, "%s: vocabulary is NULL", who);
    if (texts_check(who, texts, n)) return NULL;
    if (maxlen <= 0) return dc_error_null(DC_ERR_ARG, "%s: maxlen must be positive, got %lld", who, (long long)maxlen);
    if (v->t.n > TEXT_MAX_ID)
        return dc_error_null(DC_ERR_ARG, "%s: %lld tokens: ids above 2^24 are not exact as float32", who,
                             (long long)v->t.n);
    int64_t shape[2] = {n, maxlen};
    dc_tensor *t = dc_tensor_new(2, shape);
    if (!t) return NULL;
    for (int64_t i = 0; i < n; i++) {
        float *row = t->data + i * maxlen;
        int64_t len = encode(v, texts[i], row, maxlen);
        if (len == 0) {
            dc_tensor_free(t);
            return dc_error_null(DC_ERR_ARG, "%s: text %lld has no tokens", who, (long long)i);
        }
        if (pad_front && len < maxlen) {
            memmove(row + maxlen - len, row, (size_t)len * sizeof *row);
            memset(row, 0, (size_t)(maxlen - len) * sizeof *row);
        }
        if (lengths_out) lengths_out[i] = len;
    }
    return t;
}

/* ---------------------------------------------------------------- vocabulary files */

/* At most 40 bytes of a token for a message, what is not printable escaped. */
static const char *quote_token(const char *p, size_t n, char *buf, size_t size) {
    size_t k = 0, shown = DC_MIN(n, (size_t)40);
    for (size_t i = 0; i < shown && k + 8 < size; i++) {
        unsigned char ch = (unsigned char)p[i];
        if (ch == '"' || ch == '\\') k += (size_t)snprintf(buf + k, size - k, "\\%c", ch);
        else if (ch < 32 || ch > 126) k += (size_t)snprintf(buf + k, size - k, "\\x%02x", ch);
        else buf[k++] = (char)ch;
    }
    if (shown < n && k + 4 < size) k += (size_t)snprintf(buf + k, size - k, "...");
    buf[DC_MIN(k, size - 1)] = 0;
    return buf;
}

static bool is_unknown_token(const char *p, size_t len) {
    return len == 5 && (!memcmp(p, "[UNK]", 5) || !memcmp(p, "<oov>", 5));
}

static dc_status write_vocab(FILE *f, void *arg) {
    const dc_vocab *v = arg;
    for (int64_t i = 0; i < v->t.n; i++) {
        fputs(v->t.pool + v->t.e[i].off, f);
        fputc('\n', f);
    }
    return DC_OK;
}

dc_status dc_vocab_save(const dc_vocab *v, const char *path) {
    if (!v || !path) return dc_error(DC_ERR_ARG, "dc_vocab_save: vocabulary and path must not be NULL");
    if (v->t.n > TEXT_MAX_ID)
        return dc_error(DC_ERR_ARG, "%s: %lld tokens; a vocabulary file holds at most 2^24 (ids are float32)", path,
                        (long long)v->t.n);
    char shown[200];
    /* every token must read back as itself: what dc_vocab_load refuses is refused here */
    for (int64_t i = 0; i < v->t.n; i++) {
        const char *tok = v->t.pool + v->t.e[i].off;
        size_t len = strlen(tok);
        if (len == 0) return dc_error(DC_ERR_ARG, "%s: token %lld is empty", path, (long long)i);
        if (len > VOCAB_MAX_TOKEN)
            return dc_error(DC_ERR_ARG, "%s: token %lld (\"%s\") is %zu bytes long; a vocabulary file holds at most %d",
                            path, (long long)i, quote_token(tok, len, shown, sizeof shown), len, VOCAB_MAX_TOKEN);
        if (memchr(tok, '\n', len))
            return dc_error(DC_ERR_ARG, "%s: token %lld (\"%s\") holds a newline; a vocabulary file has one token per line",
                            path, (long long)i, quote_token(tok, len, shown, sizeof shown));
        if (tok[len - 1] == '\r')
            return dc_error(DC_ERR_ARG, "%s: token %lld (\"%s\") ends with a carriage return, which reading drops",
                            path, (long long)i, quote_token(tok, len, shown, sizeof shown));
    }
    return dc_write_file_atomic(path, write_vocab, (void *)v);
}

/* Adds the lines of buf[0..size) to v, token i from line i + 1. When the file holds a NUL
 * byte (nul_at, else SIZE_MAX) the buffer ends soon after it, but every line before the one
 * holding it is complete, so the lines are checked in order up to that one. */
static dc_status vocab_parse(dc_vocab *v, const char *path, const char *buf, size_t size, size_t nul_at) {
    if (size == 0) return dc_error(DC_ERR_FORMAT, "%s: empty file (a vocabulary file holds one token per line)", path);
    int64_t lines = buf[size - 1] != '\n';
    for (const char *p = buf; (p = memchr(p, '\n', size - (size_t)(p - buf))) != NULL; p++) lines++;
    if (lines > TEXT_MAX_ID)
        return dc_error(DC_ERR_FORMAT, "%s: %lld lines; a vocabulary file holds at most 2^24 (16777216) tokens, as ids "
                        "above 2^24 are not exact in float32", path, (long long)lines);
    char shown[200];
    int64_t line = 1;
    for (const char *p = buf, *end = buf + size; p < end; line++) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t len = (size_t)((nl ? nl : end) - p), off = (size_t)(p - buf);
        if (nul_at != SIZE_MAX && nul_at >= off && nul_at - off < len)
            return dc_error(DC_ERR_FORMAT, "%s:%lld: byte %zu is NUL (a binary file, not a vocabulary?)", path,
                            (long long)line, nul_at);
        if (len && p[len - 1] == '\r') len--;
        if (len == 0)
            return dc_error(DC_ERR_FORMAT, "%s:%lld: empty line (a token cannot be empty)", path, (long long)line);
        if (len > VOCAB_MAX_TOKEN)
            return dc_error(DC_ERR_FORMAT, "%s:%lld: line of %zu bytes (\"%s\"); a token is at most %d bytes", path,
                            (long long)line, len, quote_token(p, len, shown, sizeof shown), VOCAB_MAX_TOKEN);
        if (p[len - 1] == '\r')
            return dc_error(DC_ERR_FORMAT, "%s:%lld: token \"%s\" ends with a carriage return (a \\r\\r\\n line end?)",
                            path, (long long)line, quote_token(p, len, shown, sizeof shown));
        uint64_t h = tok_hash(p, len, false);
        size_t pos;
        int64_t k = v->t.nslots ? table_find(&v->t, p, len, h, &pos) : -1;
        if (k >= 0)
            return dc_error(DC_ERR_FORMAT, "%s:%lld: token \"%s\" repeats line %lld (a token has one index)", path,
                            (long long)line, quote_token(p, len, shown, sizeof shown), (long long)(k + 1));
        if (v->unk < 0 && is_unknown_token(p, len)) v->unk = v->t.n;
        dc_status s = table_append(&v->t, p, len, h, 0);
        if (s) return s;
        p = nl ? nl + 1 : end;
    }
    if (v->unk < 0)
        return dc_error(DC_ERR_FORMAT, "%s: no \"[UNK]\" or \"<oov>\" line among its %lld tokens (unknown tokens need an index)",
                        path, (long long)v->t.n);
    return DC_OK;
}

dc_vocab *dc_vocab_load(const char *path, bool chars) {
    if (!path) return dc_error_null(DC_ERR_ARG, "dc_vocab_load: path is NULL");
    char *buf = NULL;
    size_t size = 0, nul_at;
    if (read_all(path, &buf, &size, &nul_at)) return NULL;
    dc_vocab *v = dc_calloc(1, sizeof *v);
    dc_status s = v ? DC_OK : DC_ERR_NOMEM;
    if (v) {
        v->chars = chars;
        v->unk = -1;
        s = vocab_parse(v, path, buf, size, nul_at);
    }
    dc_free(buf);
    if (s) {
        dc_vocab_free(v);
        return NULL;
    }
    return v;
}
