/* Datasets over text files (deepc/model.h's dc_dataset): a language model's windows over one
 * file, and one labelled text per line for classification.
 *
 * Choices:
 *  - Nothing is turned into float32 beyond the batch being gathered. The file is mapped
 *    read-only; a character vocabulary reads its bytes from the mapping a batch at a time
 *    through a 256-entry table of ids, so the dataset itself holds almost nothing. A word
 *    vocabulary's tokens have no fixed place in the file, so the file is tokenised once at
 *    opening into an int32 id per token (4 bytes a token, about the size of the text itself)
 *    and then unmapped; windows are read from those ids.
 *  - The ids are exactly dc_texts_to_sequences's: every id here comes from calling it (the
 *    byte table from one call over the bytes 1..255; the word ids from calls over pieces of
 *    the file cut after bytes that separate word tokens, each piece followed by a
 *    sentinel word so that a piece of punctuation alone still tokenises; the sentinel's id is
 *    dropped). No second tokeniser exists to drift from the first.
 *  - The lines file is indexed once (each line's text offsets and its label, 20 bytes a line);
 *    each line's text is checked to hold a token when opening, so that a bad line stops the
 *    opening, not a fit hours later; the texts of a batch are tokenised and padded by
 *    dc_texts_to_sequences as their rows are gathered.
 *  - As for the other mapped files (dataset_files.c), every batch read from a mapping first
 *    checks that the file has its size and modification time of the opening: a file cut short
 *    under the mapping would fault.
 *  - NUL bytes are refused (the tokeniser reads NUL-terminated text), and so is a gzip file
 *    (its bytes are not text: decompress it first). */
#define _FILE_OFFSET_BITS 64
#define _POSIX_C_SOURCE 200809L

#include "deepc/io.h"

#include "../base/base.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

typedef unsigned long long ull;

/* Token ids are exact as float32 up to 2^24, as dc_texts_to_sequences requires. */
#define TEXT_MAX_ID ((int64_t)1 << 24)
/* The bytes of the file tokenised by one dc_texts_to_sequences call when building word ids. */
#define TEXT_PIECE ((size_t)1 << 20)

typedef struct text_map {
    char path[1024];
    int fd;
    const char *p;
    size_t len;
    struct timespec mtime;
} text_map;

static void text_unmap(text_map *m) {
    if (m->p) munmap((void *)m->p, m->len);
    if (m->fd >= 0) close(m->fd);
    m->p = NULL;
    m->fd = -1;
}

/* The 1-based line of byte `at`. */
static long long line_at(const char *p, size_t at) {
    long long n = 1;
    for (const char *q = p; (q = memchr(q, '\n', (size_t)(p + at - q))) != NULL; q++) n++;
    return n;
}

/* Opens and maps path whole; refuses an empty file, a gzip file and NUL bytes. */
static dc_status text_map_open(text_map *m, const char *who, const char *path) {
    m->fd = -1;
    m->p = NULL;
    snprintf(m->path, sizeof m->path, "%s", path);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return dc_error(DC_ERR_IO, "%s: %s: cannot open: %s", who, path, strerror(errno));
    m->fd = fd;
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) return dc_error(DC_ERR_IO, "%s: %s: not a readable regular file", who, path);
    if (st.st_size == 0) return dc_error(DC_ERR_FORMAT, "%s: %s: the file is empty", who, path);
    m->len = (size_t)st.st_size;
    m->mtime = st.st_mtim;
    void *p = mmap(NULL, m->len, PROT_READ, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED)
        return dc_error(errno == ENOMEM ? DC_ERR_NOMEM : DC_ERR_IO, "%s: %s: cannot map its %llu bytes into memory: %s", who, path,
                        (ull)m->len, strerror(errno));
    m->p = p;
    if (m->len >= 2 && (unsigned char)m->p[0] == 0x1f && (unsigned char)m->p[1] == 0x8b)
        return dc_error(DC_ERR_FORMAT, "%s: %s: the file is gzip-compressed; a text dataset reads plain text (decompress it first)", who,
                        path);
    const char *nul = memchr(m->p, 0, m->len);
    if (nul)
        return dc_error(DC_ERR_FORMAT, "%s: %s: line %lld holds a NUL byte (byte %llu); a text dataset reads text", who, path,
                        line_at(m->p, (size_t)(nul - m->p)), (ull)(nul - m->p));
    return DC_OK;
}

/* The file as it was opened, or DC_ERR_IO: a file cut short under the mapping would fault. */
static dc_status text_unchanged(const text_map *m) {
    struct stat st;
    if (fstat(m->fd, &st) != 0) return dc_error(DC_ERR_IO, "%s: cannot check the mapped file: %s", m->path, strerror(errno));
    if ((uint64_t)st.st_size != m->len || st.st_mtim.tv_sec != m->mtime.tv_sec || st.st_mtim.tv_nsec != m->mtime.tv_nsec)
        return dc_error(DC_ERR_IO, "%s: the file changed while the dataset had it mapped (%llu bytes when opened, %llu now); open it again",
                        m->path, (ull)m->len, (ull)st.st_size);
    return DC_OK;
}

/* The vocabulary's size checked against float32's exact range, and whether it is a character
 * vocabulary: "ab" is two tokens for one, a single word for the other. */
static dc_status vocab_kind(const char *who, const char *path, const dc_vocab *v, bool *chars) {
    if (!v) return dc_error(DC_ERR_ARG, "%s: %s: the vocabulary is NULL", who, path);
    if (dc_vocab_size(v) > TEXT_MAX_ID)
        return dc_error(DC_ERR_ARG, "%s: %s: the vocabulary's %lld tokens are more than float32 ids hold exactly (2^24)", who, path,
                        (long long)dc_vocab_size(v));
    char probe[] = "ab";
    char *texts[1] = {probe};
    int64_t n = 0;
    dc_tensor *t = dc_texts_to_sequences(v, texts, 1, 2, false, &n);
    if (!t) return dc_last_status();
    dc_tensor_free(t);
    *chars = n == 2;
    return DC_OK;
}

/* ---------------------------------------------------------------- windows */

typedef struct windows_src {
    text_map m;    /* characters: the mapped file; words: closed after tokenising */
    bool chars;
    int32_t table[256]; /* characters: the id of each byte */
    int32_t *ids;       /* words: the id of every token of the file */
    int64_t ntok, seq_len, stride;
} windows_src;

static void windows_free(void *self) {
    windows_src *w = self;
    if (!w) return;
    text_unmap(&w->m);
    dc_free(w->ids);
    dc_free(w);
}

static dc_status windows_gather(void *self, int part, const int64_t *idx, int64_t n, float *dst) {
    windows_src *w = self;
    if (w->chars) {
        dc_status s = text_unchanged(&w->m);
        if (s) return s;
    }
    const unsigned char *bytes = (const unsigned char *)w->m.p;
    for (int64_t r = 0; r < n; r++) {
        int64_t at = idx[r] * w->stride + part; /* the targets are the inputs one token on */
        float *d = dst + r * w->seq_len;
        if (w->chars)
            for (int64_t j = 0; j < w->seq_len; j++) d[j] = (float)w->table[bytes[at + j]];
        else
            for (int64_t j = 0; j < w->seq_len; j++) d[j] = (float)w->ids[at + j];
    }
    return DC_OK;
}

/* The byte -> id table of a character vocabulary, from one dc_texts_to_sequences call over the
 * bytes 1..255 (NUL, refused in the file, keeps id 0). */
static dc_status char_table(const dc_vocab *v, int32_t *table) {
    char text[256];
    for (int b = 1; b < 256; b++) text[b - 1] = (char)b;
    text[255] = 0;
    char *texts[1] = {text};
    dc_tensor *t = dc_texts_to_sequences(v, texts, 1, 255, false, NULL);
    if (!t) return dc_last_status();
    const float *id = dc_tensor_data(t);
    table[0] = 0;
    for (int b = 1; b < 256; b++) table[b] = (int32_t)id[b - 1];
    dc_tensor_free(t);
    return DC_OK;
}

/* Whether a word token can never hold byte c, so that a piece may end after it: the
 * tokeniser's documented rule (data.h) keeps only ASCII letters and digits, bytes >= 0x80 and
 * apostrophes between them; every other byte separates tokens. */
static bool separates(unsigned char c) {
    return c < 0x80 && c != '\'' && !((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'));
}

/* Every word token of the mapped file as int32 ids into w->ids (w->ntok of them). */
static dc_status word_ids(windows_src *w, const dc_vocab *v) {
    static const char sentinel[] = " x";
    const char *p = w->m.p;
    size_t len = w->m.len, at = 0, cap = 0;
    char *buf = NULL;
    size_t buf_cap = 0;
    dc_status s = DC_OK;
    while (!s && at < len) {
        /* a piece ending after a separating byte (or at the end of the file), so no token is cut;
         * only a single token longer than a piece makes one longer */
        size_t end = len - at > TEXT_PIECE ? at + TEXT_PIECE : len;
        if (end < len) {
            size_t e = end;
            while (e > at && !separates((unsigned char)p[e - 1])) e--;
            if (e > at) end = e;
            else
                while (end < len && !separates((unsigned char)p[end - 1])) end++;
        }
        size_t piece = end - at;
        if (piece + sizeof sentinel > buf_cap) {
            dc_free(buf);
            buf_cap = piece + sizeof sentinel;
            if (!(buf = dc_alloc(buf_cap))) {
                s = DC_ERR_NOMEM;
                break;
            }
        }
        memcpy(buf, p + at, piece);
        memcpy(buf + piece, sentinel, sizeof sentinel);
        char *texts[1] = {buf};
        int64_t count = 0;
        dc_tensor *t = dc_texts_to_sequences(v, texts, 1, (int64_t)(piece + sizeof sentinel), false, &count);
        if (!t) {
            s = dc_last_status();
            break;
        }
        count--; /* the sentinel */
        if ((size_t)w->ntok + (size_t)count > cap) {
            size_t grown_cap = DC_MAX(2 * cap, (size_t)w->ntok + (size_t)count + 1024);
            int32_t *grown = dc_realloc(w->ids, grown_cap * sizeof *grown);
            if (!grown) s = DC_ERR_NOMEM;
            else w->ids = grown, cap = grown_cap;
        }
        const float *id = dc_tensor_data(t);
        for (int64_t k = 0; !s && k < count; k++) w->ids[w->ntok + k] = (int32_t)id[k];
        if (!s) w->ntok += count;
        dc_tensor_free(t);
        at = end;
    }
    dc_free(buf);
    if (!s && w->ntok > 0 && (size_t)w->ntok < cap) { /* give back what doubling left over */
        int32_t *fit = dc_realloc(w->ids, (size_t)w->ntok * sizeof *fit);
        if (fit) w->ids = fit;
    }
    return s;
}

dc_dataset *dc_dataset_text_windows(const char *path, const dc_vocab *vocab, int64_t seq_len, int64_t stride) {
    static const char who[] = "dc_dataset_text_windows";
    if (!path) return dc_error_null(DC_ERR_ARG, "%s: path is NULL", who);
    if (seq_len < 1) return dc_error_null(DC_ERR_ARG, "%s: %s: seq_len must be at least 1, got %lld", who, path, (long long)seq_len);
    if (stride < 1) return dc_error_null(DC_ERR_ARG, "%s: %s: stride must be at least 1, got %lld", who, path, (long long)stride);
    windows_src *w = dc_calloc(1, sizeof *w);
    if (!w) return NULL;
    w->m.fd = -1;
    w->seq_len = seq_len;
    w->stride = stride;
    dc_status s = vocab_kind(who, path, vocab, &w->chars);
    if (!s) s = text_map_open(&w->m, who, path);
    if (!s && w->chars) {
        s = char_table(vocab, w->table);
        w->ntok = (int64_t)w->m.len;
    } else if (!s) {
        s = word_ids(w, vocab);
        text_unmap(&w->m); /* the ids are all that is read from now on */
    }
    if (!s && w->ntok < seq_len + 1)
        s = dc_error(DC_ERR_FORMAT, "%s: %s: %lld %s, fewer than the seq_len + 1 = %lld a window and its targets need", who, path,
                     (long long)w->ntok, w->chars ? "characters" : "word tokens", (long long)seq_len + 1);
    if (s) {
        windows_free(w);
        return NULL;
    }
    dc_dataset_source src = {.name = w->m.path, .rows = (w->ntok - seq_len - 1) / stride + 1, .nparts = 2, .ndim = {1, 1},
                             .shape = {{seq_len}, {seq_len}}, .gather = windows_gather, .free = windows_free, .self = w};
    return dc_dataset_new(&src);
}

/* ---------------------------------------------------------------- lines */

typedef struct lines_src {
    text_map m;
    const dc_vocab *v;
    int64_t maxlen;
    bool pad_front;
    int64_t *start, *end; /* each row's text: bytes [start, end) of the file */
    int32_t *label;
    char *buf; /* a batch's texts, NUL-terminated, for dc_texts_to_sequences */
    size_t buf_cap;
    char **texts;
    int64_t texts_cap;
} lines_src;

static void lines_free(void *self) {
    lines_src *l = self;
    if (!l) return;
    text_unmap(&l->m);
    dc_free(l->start);
    dc_free(l->end);
    dc_free(l->label);
    dc_free(l->buf);
    dc_free(l->texts);
    dc_free(l);
}

/* Copies the texts of rows idx[0..n) into l->buf, NUL-terminated, and points l->texts at them. */
static dc_status lines_texts(lines_src *l, const int64_t *idx, int64_t n) {
    size_t need = 0;
    for (int64_t r = 0; r < n; r++) need += (size_t)(l->end[idx[r]] - l->start[idx[r]]) + 1;
    if (need > l->buf_cap) {
        dc_free(l->buf);
        l->buf_cap = 0;
        if (!(l->buf = dc_alloc(need))) return DC_ERR_NOMEM;
        l->buf_cap = need;
    }
    if (n > l->texts_cap) {
        dc_free(l->texts);
        l->texts_cap = 0;
        if (!(l->texts = dc_alloc((size_t)n * sizeof *l->texts))) return DC_ERR_NOMEM;
        l->texts_cap = n;
    }
    char *q = l->buf;
    for (int64_t r = 0; r < n; r++) {
        size_t len = (size_t)(l->end[idx[r]] - l->start[idx[r]]);
        memcpy(q, l->m.p + l->start[idx[r]], len);
        q[len] = 0;
        l->texts[r] = q;
        q += len + 1;
    }
    return DC_OK;
}

static dc_status lines_gather(void *self, int part, const int64_t *idx, int64_t n, float *dst) {
    lines_src *l = self;
    if (part == 1) {
        for (int64_t r = 0; r < n; r++) dst[r] = (float)l->label[idx[r]];
        return DC_OK;
    }
    dc_status s = text_unchanged(&l->m);
    if (!s) s = lines_texts(l, idx, n);
    if (s) return s;
    dc_tensor *t = dc_texts_to_sequences(l->v, l->texts, n, l->maxlen, l->pad_front, NULL);
    if (!t) {
        char why[512];
        snprintf(why, sizeof why, "%s", dc_last_error());
        return dc_error(dc_last_status(), "%s: %s", l->m.path, why);
    }
    memcpy(dst, dc_tensor_data(t), (size_t)(n * l->maxlen) * sizeof(float));
    dc_tensor_free(t);
    return DC_OK;
}

/* The label field p[0..len): a whole number in [0, 2^24), else an error naming the line. */
static dc_status parse_label(const char *who, const char *path, long long lineno, const char *p, size_t len, int32_t *out) {
    int64_t v = 0;
    bool ok = len > 0;
    for (size_t i = 0; ok && i < len; i++) {
        ok = p[i] >= '0' && p[i] <= '9';
        if (ok && v < TEXT_MAX_ID) v = v * 10 + (p[i] - '0');
    }
    if (!ok)
        return dc_error(DC_ERR_FORMAT, "%s: %s: line %lld: the label '%.*s' is not a whole number (a class index 0, 1, ...)", who, path,
                        lineno, (int)DC_MIN(len, (size_t)40), p);
    if (v >= TEXT_MAX_ID)
        return dc_error(DC_ERR_FORMAT, "%s: %s: line %lld: the label '%.*s' is beyond the largest class index float32 holds exactly (%lld)",
                        who, path, lineno, (int)DC_MIN(len, (size_t)40), p, (long long)TEXT_MAX_ID - 1);
    *out = (int32_t)v;
    return DC_OK;
}

/* Whether the text of one line holds a token (dc_texts_to_sequences refuses a text without). */
static bool has_token(lines_src *l, int64_t row) {
    if (lines_texts(l, &row, 1)) return false;
    dc_tensor *t = dc_texts_to_sequences(l->v, l->texts, 1, 1, false, NULL);
    dc_tensor_free(t);
    return t != NULL;
}

dc_dataset *dc_dataset_text_lines(const char *path, const dc_vocab *vocab, int64_t maxlen, bool pad_front, int64_t *nclasses) {
    static const char who[] = "dc_dataset_text_lines";
    if (nclasses) *nclasses = 0;
    if (!path) return dc_error_null(DC_ERR_ARG, "%s: path is NULL", who);
    if (maxlen < 1) return dc_error_null(DC_ERR_ARG, "%s: %s: maxlen must be at least 1, got %lld", who, path, (long long)maxlen);
    lines_src *l = dc_calloc(1, sizeof *l);
    if (!l) return NULL;
    l->m.fd = -1;
    l->v = vocab;
    l->maxlen = maxlen;
    l->pad_front = pad_front;
    bool chars;
    dc_status s = vocab_kind(who, path, vocab, &chars);
    if (!s) s = text_map_open(&l->m, who, path);
    const char *p = l->m.p;
    size_t len = l->m.len, at = 0;
    int64_t rows = 0, cap = 0, top = -1;
    for (long long lineno = 1; !s && at < len; lineno++) {
        const char *ln = p + at, *nl = memchr(ln, '\n', len - at);
        size_t n = nl ? (size_t)(nl - ln) : len - at;
        size_t next = at + n + (nl ? 1 : 0);
        while (n && ln[n - 1] == '\r') n--;
        if (n == 0) { /* empty lines are skipped */
            at = next;
            continue;
        }
        const char *tab = memchr(ln, '\t', n);
        if (!tab) {
            s = dc_error(DC_ERR_FORMAT, "%s: %s: line %lld has no label: each line is a class index, a tab, then the text ('%.*s')", who,
                         path, lineno, (int)DC_MIN(n, (size_t)40), ln);
            break;
        }
        if (rows + 1 > cap) {
            cap = cap ? 2 * cap : 1024;
            int64_t *st = dc_realloc(l->start, (size_t)cap * sizeof *st);
            if (st) l->start = st;
            int64_t *en = dc_realloc(l->end, (size_t)cap * sizeof *en);
            if (en) l->end = en;
            int32_t *lb = dc_realloc(l->label, (size_t)cap * sizeof *lb);
            if (lb) l->label = lb;
            if (!st || !en || !lb) {
                s = DC_ERR_NOMEM;
                break;
            }
        }
        if ((s = parse_label(who, path, lineno, ln, (size_t)(tab - ln), &l->label[rows]))) break;
        l->start[rows] = (int64_t)(tab + 1 - p);
        l->end[rows] = (int64_t)(ln + n - p);
        if (!has_token(l, rows)) {
            s = dc_error(DC_ERR_FORMAT, "%s: %s: line %lld: the text after the label holds no %s", who, path, lineno,
                         chars ? "character" : "word (letters or digits)");
            break;
        }
        top = DC_MAX(top, (int64_t)l->label[rows]);
        rows++;
        at = next;
    }
    if (!s && rows == 0) s = dc_error(DC_ERR_FORMAT, "%s: %s: no lines of text (only empty lines)", who, path);
    if (s) {
        lines_free(l);
        return NULL;
    }
    if (nclasses) *nclasses = top + 1;
    dc_dataset_source src = {.name = l->m.path, .rows = rows, .nparts = 2, .ndim = {1, 0}, .shape = {{maxlen}}, .gather = lines_gather,
                             .free = lines_free, .self = l};
    return dc_dataset_new(&src);
}
