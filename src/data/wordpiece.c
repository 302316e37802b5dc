/* WordPiece: BERT's tokenizer (google-research/bert tokenization.py, as HuggingFace's
 * BertTokenizer reproduces it) and BERT's input building (run_classifier.py).
 *
 * Basic tokenization of a UTF-8 text (an invalid byte reads as U+FFFD):
 *   1. drop NUL, U+FFFD and controls (Cc, Cf; tab, newline and carriage return are white
 *      space); white space (space, tab, newline, carriage return, Zs) becomes a space;
 *   2. CJK ideographs (BERT's _is_chinese_char ranges) become words of their own;
 *   3. split on white space (Python's str.split: also U+2028, U+2029);
 *   4. lower_case: str.lower() (final sigma and U+0130 included), then NFD with the
 *      non-spacing marks (Mn) removed, Hangul syllables decomposed into their jamo;
 *   5. every punctuation character (ASCII 33-47, 58-64, 91-96, 123-126 and P*) is a word.
 * Each word of at most WP_MAX_CHARS code points is then split greedily into the longest
 * vocabulary entries from its start, pieces after the first prefixed with "##"; a longer word,
 * or one with a part no entry matches, is [UNK].
 *
 * The Unicode properties come from src/data/unicode_tables.h (all of Unicode, generated from
 * Python's unicodedata by scripts/gen_unicode_tables.py). Vocabulary lookups are exact: the
 * file is loaded as a character-mode dc_vocab, whose hash table compares bytes.
 */
#include "deepc/data.h"

#include "../base/base.h"
#include "unicode_tables.h"

#include <stdlib.h>
#include <string.h>

/* Words longer than this many code points are [UNK] (HuggingFace's BertTokenizer). */
#define WP_MAX_CHARS 100

struct dc_wordpiece {
    dc_vocab *v;
    bool lower;
    int64_t pad, unk, cls, sep;
    size_t max_bytes; /* of the longest token: longer candidates are not looked up */
};

/* ---------------------------------------------------------------- Unicode */

static unsigned uc_bits(uint32_t cp) {
    size_t lo = 0, hi = DC_ARRAY_LEN(uc_runs); /* the last run starting at or before cp */
    while (hi - lo > 1) {
        size_t mid = (lo + hi) / 2;
        if (uc_runs[mid] >> 8 <= cp) lo = mid;
        else hi = mid;
    }
    return uc_runs[lo] & 0xff;
}

/* Index of cp in a {code point, value} table, or -1. */
static long uc_find(const uint32_t (*t)[2], size_t n, uint32_t cp) {
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (t[mid][0] == cp) return (long)mid;
        if (t[mid][0] < cp) lo = mid + 1;
        else hi = mid;
    }
    return -1;
}

static uint32_t uc_lower_one(uint32_t cp) {
    if (cp < 0x80) return cp >= 'A' && cp <= 'Z' ? cp + 32 : cp;
    long k = uc_find(uc_lower, DC_ARRAY_LEN(uc_lower), cp);
    return k < 0 ? cp : uc_lower[k][1];
}

static bool is_cjk(uint32_t cp) {
    return (cp >= 0x4E00 && cp <= 0x9FFF) || (cp >= 0x3400 && cp <= 0x4DBF) || (cp >= 0x20000 && cp <= 0x2A6DF) ||
           (cp >= 0x2A700 && cp <= 0x2B73F) || (cp >= 0x2B740 && cp <= 0x2B81F) || (cp >= 0x2B820 && cp <= 0x2CEAF) ||
           (cp >= 0xF900 && cp <= 0xFAFF) || (cp >= 0x2F800 && cp <= 0x2FA1F);
}

/* The next code point of a NUL-terminated UTF-8 string (not at its end); a byte that does not
 * start a well-formed sequence (overlong, surrogate, above U+10FFFF, cut short) reads as
 * U+FFFD and is passed alone, so the bytes after it are read afresh. */
static uint32_t utf8_next(const unsigned char **p) {
    const unsigned char *s = *p;
    unsigned c = s[0];
    if (c < 0x80) {
        *p = s + 1;
        return c;
    }
    int n;
    unsigned lo = 0x80, hi = 0xBF; /* the range of the second byte */
    uint32_t cp;
    if (c >= 0xC2 && c <= 0xDF) n = 1, cp = c & 0x1F;
    else if (c >= 0xE0 && c <= 0xEF) {
        n = 2, cp = c & 0x0F;
        if (c == 0xE0) lo = 0xA0;
        if (c == 0xED) hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        n = 3, cp = c & 0x07;
        if (c == 0xF0) lo = 0x90;
        if (c == 0xF4) hi = 0x8F;
    } else {
        *p = s + 1;
        return 0xFFFD;
    }
    for (int i = 1; i <= n; i++) {
        unsigned b = s[i]; /* a NUL stops the loop: it is no continuation byte */
        if (b < (i == 1 ? lo : 0x80) || b > (i == 1 ? hi : 0xBF)) {
            *p = s + 1;
            return 0xFFFD;
        }
        cp = cp << 6 | (b & 0x3F);
    }
    *p = s + n + 1;
    return cp;
}

static size_t utf8_put(uint32_t cp, char *out) {
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | cp >> 6);
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | cp >> 12);
        out[1] = (char)(0x80 | (cp >> 6 & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | cp >> 18);
    out[1] = (char)(0x80 | (cp >> 12 & 0x3F));
    out[2] = (char)(0x80 | (cp >> 6 & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* ---------------------------------------------------------------- growable arrays */

typedef struct cpvec {
    uint32_t *p;
    size_t n, cap;
} cpvec;

static bool cp_push(cpvec *v, uint32_t cp) {
    if (v->n == v->cap) {
        size_t cap = v->cap ? 2 * v->cap : 64;
        uint32_t *p = dc_realloc(v->p, cap * sizeof *p);
        if (!p) return false;
        v->p = p;
        v->cap = cap;
    }
    v->p[v->n++] = cp;
    return true;
}

typedef struct idvec {
    int64_t *p;
    int64_t n, cap;
} idvec;

static bool id_push(idvec *v, int64_t id) {
    if (v->n == v->cap) {
        int64_t cap = v->cap ? 2 * v->cap : 64;
        int64_t *p = dc_realloc(v->p, (size_t)cap * sizeof *p);
        if (!p) return false;
        v->p = p;
        v->cap = cap;
    }
    v->p[v->n++] = id;
    return true;
}

/* ---------------------------------------------------------------- tokenization */

/* Index of the token p[0..len) or -1: exact bytes (dc_vocab_index answers the unknown index
 * for an absent token, which then differs from it). p[len] must be writable. */
static int64_t wp_lookup(const dc_wordpiece *wp, char *p, size_t len) {
    char keep = p[len];
    p[len] = 0;
    int64_t k = dc_vocab_index(wp->v, p);
    bool found = k >= 0 && !strcmp(dc_vocab_token(wp->v, k), p);
    p[len] = keep;
    return found ? k : -1;
}

/* Appends the WordPiece ids of the word w[0..n) (no white space, no punctuation but a lone
 * punctuation character). */
static bool wordpiece_word(const dc_wordpiece *wp, const uint32_t *w, size_t n, idvec *out) {
    if (n > WP_MAX_CHARS) return id_push(out, wp->unk);
    char buf[2 + 4 * WP_MAX_CHARS + 1];
    size_t off[WP_MAX_CHARS + 1];
    off[0] = 2;
    for (size_t i = 0; i < n; i++) off[i + 1] = off[i] + utf8_put(w[i], buf + off[i]);
    int64_t first = out->n;
    for (size_t start = 0; start < n;) {
        size_t end = n, from = off[start] - (start ? 2 : 0);
        while (end > start && off[end] - from > wp->max_bytes) end--;
        int64_t k = -1;
        for (; end > start; end--) {
            if (start) buf[from] = '#', buf[from + 1] = '#';
            if ((k = wp_lookup(wp, buf + from, off[end] - from)) >= 0) break;
        }
        if (k < 0) {
            out->n = first;
            return id_push(out, wp->unk);
        }
        if (!id_push(out, k)) return false;
        start = end;
    }
    return true;
}

/* Python's final sigma rule for the capital sigma at w[i]: a cased letter before it (case-
 * ignorable characters skipped) and none after it. */
static bool final_sigma(const uint32_t *w, size_t n, size_t i) {
    size_t j = i;
    unsigned b = 0;
    while (j > 0 && ((b = uc_bits(w[--j])) & UC_IGNORABLE)) b = 0;
    if (!(b & UC_CASED)) return false;
    for (j = i + 1; j < n; j++) {
        b = uc_bits(w[j]);
        if (!(b & UC_IGNORABLE)) return !(b & UC_CASED);
    }
    return true;
}

/* Appends cp with the non-spacing marks of its canonical decomposition removed. */
static bool strip_accents(uint32_t cp, cpvec *out) {
    if (cp >= 0xAC00 && cp <= 0xD7A3) { /* Hangul syllable: leading, vowel and trailing jamo */
        uint32_t s = cp - 0xAC00, t = s % 28;
        if (!cp_push(out, 0x1100 + s / (21 * 28)) || !cp_push(out, 0x1161 + s % (21 * 28) / 28)) return false;
        return t ? cp_push(out, 0x11A7 + t) : true;
    }
    if (cp >= 0xC0) {
        long k = uc_find(uc_decomp, DC_ARRAY_LEN(uc_decomp), cp);
        if (k >= 0) {
            uint32_t at = uc_decomp[k][1] >> 8, len = uc_decomp[k][1] & 0xff;
            for (uint32_t i = 0; i < len; i++)
                if (!cp_push(out, uc_decomp_pool[at + i])) return false;
            return true;
        }
    }
    return (uc_bits(cp) & UC_CLASS) == UC_MARK ? true : cp_push(out, cp);
}

/* Appends the ids of one white-space separated word w[0..n): lower-cased and stripped of
 * accents if asked, split at punctuation, each part through WordPiece. */
static bool process_word(const dc_wordpiece *wp, const uint32_t *w, size_t n, cpvec *tmp, idvec *out) {
    if (wp->lower) {
        tmp->n = 0;
        for (size_t i = 0; i < n; i++) {
            uint32_t cp = w[i];
            bool ok;
            if (cp == 0x3A3) ok = cp_push(tmp, final_sigma(w, n, i) ? 0x3C2 : 0x3C3);
            else if (cp == 0x130) ok = cp_push(tmp, 'i'); /* "i" and U+0307, a mark stripping drops */
            else ok = strip_accents(uc_lower_one(cp), tmp);
            if (!ok) return false;
        }
        w = tmp->p;
        n = tmp->n;
    }
    size_t start = 0;
    for (size_t i = 0; i <= n; i++) {
        bool punct = i < n && (uc_bits(w[i]) & UC_CLASS) == UC_PUNCT;
        if (i < n && !punct) continue;
        if (i > start && !wordpiece_word(wp, w + start, i - start, out)) return false;
        if (punct && !wordpiece_word(wp, w + i, 1, out)) return false;
        start = i + 1;
    }
    return true;
}

/* The ids of text's tokens into *out (reset first). */
static dc_status wp_ids(const dc_wordpiece *wp, const char *text, idvec *out) {
    out->n = 0;
    cpvec word = {0}, tmp = {0};
    bool ok = true;
    const unsigned char *p = (const unsigned char *)text;
    while (ok) {
        uint32_t cp = *p ? utf8_next(&p) : 0;
        unsigned b = cp ? uc_bits(cp) : 0;
        if (cp && (cp == 0xFFFD || (b & UC_CLASS) == UC_CONTROL)) continue;
        bool space = (b & UC_CLASS) == UC_SPACE || (b & UC_PYSPACE);
        if (!cp || space || is_cjk(cp)) {
            if (word.n) ok = process_word(wp, word.p, word.n, &tmp, out);
            word.n = 0;
            if (!cp) break;
            if (ok && !space) ok = process_word(wp, &cp, 1, &tmp, out);
        } else {
            ok = cp_push(&word, cp);
        }
    }
    dc_free(word.p);
    dc_free(tmp.p);
    return ok ? DC_OK : dc_error(DC_ERR_NOMEM, "dc_wordpiece: out of memory for a text of %zu bytes", strlen(text));
}

/* ---------------------------------------------------------------- public */

dc_wordpiece *dc_wordpiece_load(const char *vocab_path, bool lower_case) {
    if (!vocab_path) return dc_error_null(DC_ERR_ARG, "dc_wordpiece_load: vocab_path is NULL");
    dc_vocab *v = dc_vocab_load(vocab_path, true);
    if (!v) return NULL;
    dc_wordpiece *wp = dc_calloc(1, sizeof *wp);
    if (!wp) {
        dc_vocab_free(v);
        return NULL;
    }
    wp->v = v;
    wp->lower = lower_case;
    for (int64_t i = 0; i < dc_vocab_size(v); i++) wp->max_bytes = DC_MAX(wp->max_bytes, strlen(dc_vocab_token(v, i)));
    static const char *const special[4] = {"[PAD]", "[UNK]", "[CLS]", "[SEP]"};
    int64_t *slot[4] = {&wp->pad, &wp->unk, &wp->cls, &wp->sep};
    for (int i = 0; i < 4; i++) {
        char tok[8];
        memcpy(tok, special[i], 6);
        if ((*slot[i] = wp_lookup(wp, tok, 5)) < 0) {
            dc_error(DC_ERR_FORMAT, "%s: no \"%s\" line among its %lld tokens (BERT's input needs [PAD], [UNK], [CLS] "
                     "and [SEP])", vocab_path, special[i], (long long)dc_vocab_size(v));
            dc_wordpiece_free(wp);
            return NULL;
        }
    }
    return wp;
}

void dc_wordpiece_free(dc_wordpiece *wp) {
    if (!wp) return;
    dc_vocab_free(wp->v);
    dc_free(wp);
}

int64_t dc_wordpiece_vocab_size(const dc_wordpiece *wp) { return wp ? dc_vocab_size(wp->v) : 0; }

int64_t dc_wordpiece_id(const dc_wordpiece *wp, const char *token) {
    if (!wp || !token) {
        dc_error(DC_ERR_ARG, "dc_wordpiece_id: tokenizer and token must not be NULL");
        return -1;
    }
    int64_t k = dc_vocab_index(wp->v, token);
    return k >= 0 && !strcmp(dc_vocab_token(wp->v, k), token) ? k : -1;
}

const char *dc_wordpiece_token(const dc_wordpiece *wp, int64_t id) {
    if (!wp) return dc_error_null(DC_ERR_ARG, "dc_wordpiece_token: tokenizer is NULL");
    if (id < 0 || id >= dc_vocab_size(wp->v))
        return dc_error_null(DC_ERR_ARG, "dc_wordpiece_token: id %lld is outside 0..%lld", (long long)id,
                             (long long)(dc_vocab_size(wp->v) - 1));
    return dc_vocab_token(wp->v, id);
}

dc_status dc_wordpiece_tokenize(const dc_wordpiece *wp, const char *text, char ***tokens, int64_t *n) {
    if (tokens) *tokens = NULL;
    if (n) *n = 0;
    if (!wp || !text || !tokens || !n)
        return dc_error(DC_ERR_ARG, "dc_wordpiece_tokenize: tokenizer, text, tokens and n must not be NULL");
    idvec ids = {0};
    dc_status s = wp_ids(wp, text, &ids);
    char **v = s ? NULL : dc_calloc((size_t)ids.n + 1, sizeof *v);
    if (!s && !v) s = DC_ERR_NOMEM;
    for (int64_t i = 0; !s && i < ids.n; i++) {
        const char *t = dc_vocab_token(wp->v, ids.p[i]);
        size_t len = strlen(t);
        if (!(v[i] = dc_alloc(len + 1))) {
            dc_texts_free(v, i);
            v = NULL;
            s = DC_ERR_NOMEM;
        } else {
            memcpy(v[i], t, len + 1);
        }
    }
    if (!s) {
        *tokens = v;
        *n = ids.n;
    }
    dc_free(ids.p);
    return s;
}

dc_status dc_wordpiece_encode(const dc_wordpiece *wp, const char *text_a, const char *text_b, int64_t max_len,
                              float *ids, float *segment_ids, float *attention_mask, int64_t *len) {
    static const char who[] = "dc_wordpiece_encode";
    if (len) *len = 0;
    if (!wp || !text_a || !ids || !segment_ids || !attention_mask)
        return dc_error(DC_ERR_ARG, "%s: tokenizer, text_a, ids, segment_ids and attention_mask must not be NULL", who);
    if (max_len < 3)
        return dc_error(DC_ERR_ARG, "%s: max_len %lld cannot hold [CLS] and [SEP] around a text (at least 3)", who,
                        (long long)max_len);
    idvec a = {0}, b = {0};
    dc_status s = wp_ids(wp, text_a, &a);
    if (!s && text_b) s = wp_ids(wp, text_b, &b);
    if (s) {
        dc_free(a.p);
        dc_free(b.p);
        return s;
    }
    int64_t na = a.n, nb = b.n;
    if (nb > 0) { /* longest first, from the end: BERT's _truncate_seq_pair */
        while (na + nb > max_len - 3) {
            if (na > nb) na--;
            else nb--;
        }
    } else if (na > max_len - 2) {
        na = max_len - 2;
    }
    int64_t k = 0;
    ids[k] = (float)wp->cls, segment_ids[k++] = 0;
    for (int64_t i = 0; i < na; i++) ids[k] = (float)a.p[i], segment_ids[k++] = 0;
    ids[k] = (float)wp->sep, segment_ids[k++] = 0;
    if (nb > 0) { /* b truncated to nothing is left out with its [SEP], as BERT does */
        for (int64_t i = 0; i < nb; i++) ids[k] = (float)b.p[i], segment_ids[k++] = 1;
        ids[k] = (float)wp->sep, segment_ids[k++] = 1;
    }
    for (int64_t i = 0; i < max_len; i++) attention_mask[i] = i < k ? 1.0f : 0.0f;
    for (int64_t i = k; i < max_len; i++) ids[i] = (float)wp->pad, segment_ids[i] = 0;
    if (len) *len = k;
    dc_free(a.p);
    dc_free(b.p);
    return DC_OK;
}
