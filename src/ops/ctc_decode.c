/* CTC decoding (greedy best path and prefix beam search) and the error rates that score it:
 * edit distance, label, character and word error rates. Not differentiable: they read tensors
 * and return new ones (or numbers), and record nothing. Conventions in include/deepc/ops.h. */
#include "ops.h"

#include <math.h>
#include <string.h>

/* ---- shared checks ---- */

/* probs [N, T, C] in order (a copy when it is a view: *own then holds it), after the checks. */
static const float *decode_input(const char *who, const dc_tensor *p, const int64_t *lengths, int64_t blank, float **own) {
    *own = NULL;
    if (!p) return dc_error_null(DC_ERR_ARG, "%s: probs is NULL", who);
    if (p->ndim != 3 || p->numel == 0)
        return dc_error_null(DC_ERR_SHAPE, "%s: expected probabilities [N, T, C] (batch, steps, classes), got %s", who, dc_tshape(p, 0));
    const int64_t N = p->shape[0], T = p->shape[1], C = p->shape[2];
    if (blank < 0 || blank >= C)
        return dc_error_null(DC_ERR_ARG, "%s: blank %lld is not a class of %s (in [0, %lld))", who, (long long)blank, dc_tshape(p, 0),
                             (long long)C);
    if (C > INT32_MAX) return dc_error_null(DC_ERR_SHAPE, "%s: %lld classes (at most %d)", who, (long long)C, INT32_MAX);
    for (int64_t n = 0; lengths && n < N; n++)
        if (lengths[n] < 0 || lengths[n] > T)
            return dc_error_null(DC_ERR_ARG, "%s: length %lld of sample %lld is outside [0, %lld]", who, (long long)lengths[n], (long long)n,
                                 (long long)T);
    if (dc_tensor_is_contiguous(p)) return p->data;
    if (!(*own = dc_alloc((size_t)p->numel * sizeof(float)))) return dc_error_null(DC_ERR_NOMEM, "%s: out of memory", who);
    dc_copy_strided(*own, p);
    return *own;
}

/* The decoded labellings (lab[n * stride ...], len[n] each) as a new [N, W] tensor padded with -1. */
static dc_tensor *decoded_tensor(const int32_t *lab, int64_t stride, const int64_t *len, int64_t N) {
    int64_t W = 1;
    for (int64_t n = 0; n < N; n++) W = DC_MAX(W, len[n]);
    dc_tensor *out = dc_tensor_new(2, (int64_t[]){N, W});
    if (!out) return NULL;
    for (int64_t n = 0; n < N; n++)
        for (int64_t k = 0; k < W; k++) out->data[n * W + k] = k < len[n] ? (float)lab[n * stride + k] : -1.0f;
    return out;
}

/* ---- greedy ---- */

dc_tensor *dc_ctc_greedy_decode(const dc_tensor *probs, const int64_t *lengths, int64_t blank) {
    static const char who[] = "dc_ctc_greedy_decode";
    float *own;
    const float *P = decode_input(who, probs, lengths, blank, &own);
    if (!P) return NULL;
    const int64_t N = probs->shape[0], T = probs->shape[1], C = probs->shape[2];
    int32_t *lab = dc_alloc((size_t)(N * T) * sizeof *lab);
    int64_t *len = dc_alloc((size_t)N * sizeof *len);
    dc_tensor *out = NULL;
    if (lab && len) {
        for (int64_t n = 0; n < N; n++) {
            const int64_t Tn = lengths ? lengths[n] : T;
            int64_t m = 0, prev = -1;
            for (int64_t t = 0; t < Tn; t++) {
                const float *x = P + (n * T + t) * C;
                int64_t best = 0;
                for (int64_t k = 1; k < C; k++)
                    if (x[k] > x[best]) best = k;
                if (best != blank && best != prev) lab[n * T + m++] = (int32_t)best;
                prev = best;
            }
            len[n] = m;
        }
        out = decoded_tensor(lab, T, len, N);
    } else {
        dc_error(DC_ERR_NOMEM, "%s: out of memory", who);
    }
    dc_free(lab);
    dc_free(len);
    dc_free(own);
    return out;
}

/* ---- prefix beam search ---- */

/* A prefix of the beam: its labels, the log-probabilities of its alignments so far that end in
 * a blank (pb) and in its last label (pnb), and a hash of its labels. */
typedef struct beam_entry {
    int32_t *lab;
    int64_t len;
    double pb, pnb;
    uint64_t h;
} beam_entry;

/* A candidate of the next step: the prefix of beam entry src, extended by label c (or the same
 * prefix when c < 0). */
typedef struct beam_cand {
    int src;
    int32_t c;
    int64_t len;
    uint64_t h;
    double pb, pnb;
} beam_cand;

typedef struct beam_state {
    const beam_entry *beam;
    beam_cand *cand;
    int ncand;
    int *slot; /* open addressing over cand, -1 empty; nslot a power of two */
    int64_t nslot;
} beam_state;


static inline uint64_t hash_push(uint64_t h, int32_t c) { return (h ^ (uint64_t)(uint32_t)(c + 1)) * 0x100000001b3ull + 0x9e37; }

static inline int32_t cand_at(const beam_state *st, const beam_cand *x, int64_t i) {
    const beam_entry *e = &st->beam[x->src];
    return i < e->len ? e->lab[i] : x->c;
}

static bool cand_same(const beam_state *st, const beam_cand *a, const beam_cand *b) {
    if (a->len != b->len || a->h != b->h) return false;
    for (int64_t i = 0; i < a->len; i++)
        if (cand_at(st, a, i) != cand_at(st, b, i)) return false;
    return true;
}

/* The candidate for src's prefix extended by c (c < 0: not extended), added when new. */
static beam_cand *cand_get(beam_state *st, int src, int32_t c) {
    const beam_entry *e = &st->beam[src];
    beam_cand key = {.src = src, .c = c, .len = e->len + (c >= 0), .h = c >= 0 ? hash_push(e->h, c) : e->h,
                     .pb = -INFINITY, .pnb = -INFINITY};
    for (int64_t s = (int64_t)(key.h & (uint64_t)(st->nslot - 1));; s = (s + 1) & (st->nslot - 1)) {
        if (st->slot[s] < 0) {
            st->slot[s] = st->ncand;
            st->cand[st->ncand] = key;
            return &st->cand[st->ncand++];
        }
        if (cand_same(st, &st->cand[st->slot[s]], &key)) return &st->cand[st->slot[s]];
    }
}

static double cand_score(const beam_cand *x) {
    double s = dc_log_add_exp(x->pb, x->pnb);
    return isnan(s) ? -INFINITY : s;
}

/* Whether a ranks before b: the higher score, then the shorter prefix, then the smaller labels. */
static bool cand_before(const beam_state *st, const beam_cand *a, const beam_cand *b) {
    double sa = cand_score(a), sb = cand_score(b);
    if (sa != sb) return sa > sb;
    if (a->len != b->len) return a->len < b->len;
    for (int64_t i = 0; i < a->len; i++) {
        int32_t x = cand_at(st, a, i), y = cand_at(st, b, i);
        if (x != y) return x < y;
    }
    return false;
}

dc_tensor *dc_ctc_beam_decode(const dc_tensor *probs, const int64_t *lengths, int64_t blank, int beam_width, bool log_probs,
                              float *scores) {
    static const char who[] = "dc_ctc_beam_decode";
    if (beam_width < 1) return dc_error_null(DC_ERR_ARG, "%s: beam_width %d (at least 1)", who, beam_width);
    float *own;
    const float *P = decode_input(who, probs, lengths, blank, &own);
    if (!P) return NULL;
    const int64_t N = probs->shape[0], T = probs->shape[1], C = probs->shape[2];
    const int B = beam_width;
    const int64_t ncand_max = (int64_t)B * (C + 1);
    int64_t nslot = 1;
    while (nslot < 2 * ncand_max) nslot *= 2;
    const int64_t W = DC_MAX(T, 1); /* a prefix has at most one label per step */
    beam_entry *beam = dc_alloc((size_t)B * sizeof *beam), *next = dc_alloc((size_t)B * sizeof *next);
    int32_t *pool = dc_alloc((size_t)(2 * B * W) * sizeof *pool), *best = dc_alloc((size_t)(N * W) * sizeof *best);
    beam_cand *cand = dc_alloc((size_t)ncand_max * sizeof *cand);
    int *slot = dc_alloc((size_t)nslot * sizeof *slot), *top = dc_alloc((size_t)B * sizeof *top);
    double *lp = dc_alloc((size_t)C * sizeof *lp);
    int64_t *len = dc_alloc((size_t)N * sizeof *len);
    dc_tensor *out = NULL;
    if (!beam || !next || !pool || !best || !cand || !slot || !top || !lp || !len) {
        dc_error(DC_ERR_NOMEM, "%s: out of memory", who);
        goto done;
    }
    for (int64_t n = 0; n < N; n++) {
        const int64_t Tn = lengths ? lengths[n] : T;
        int nb = 1, side = 0; /* beam entries' labels in pool half `side` */
        beam[0] = (beam_entry){.lab = pool, .len = 0, .pb = 0.0, .pnb = -INFINITY, .h = 0};
        for (int64_t t = 0; t < Tn; t++) {
            const float *x = P + (n * T + t) * C;
            for (int64_t k = 0; k < C; k++) lp[k] = log_probs ? (double)x[k] : log((double)x[k]);
            beam_state st = {.beam = beam, .cand = cand, .ncand = 0, .slot = slot, .nslot = nslot};
            for (int64_t s = 0; s < nslot; s++) slot[s] = -1;
            for (int i = 0; i < nb; i++) {
                const beam_entry *e = &beam[i];
                const double tot = dc_log_add_exp(e->pb, e->pnb);
                beam_cand *same = cand_get(&st, i, -1); /* cand never moves: the pointers stay valid */
                same->pb = dc_log_add_exp(same->pb, tot + lp[blank]);
                for (int64_t k = 0; k < C; k++) {
                    if (k == blank) continue;
                    beam_cand *ext = cand_get(&st, i, (int32_t)k);
                    if (e->len > 0 && e->lab[e->len - 1] == k) {
                        /* a repeat merges into the same prefix unless a blank came between */
                        ext->pnb = dc_log_add_exp(ext->pnb, e->pb + lp[k]);
                        same->pnb = dc_log_add_exp(same->pnb, e->pnb + lp[k]);
                    } else {
                        ext->pnb = dc_log_add_exp(ext->pnb, tot + lp[k]);
                    }
                }
            }
            /* the best B candidates, in order */
            int ntop = 0;
            for (int q = 0; q < st.ncand; q++) {
                if (ntop == B && !cand_before(&st, &cand[q], &cand[top[B - 1]])) continue;
                int pos = ntop < B ? ntop++ : B - 1;
                while (pos > 0 && cand_before(&st, &cand[q], &cand[top[pos - 1]])) {
                    top[pos] = top[pos - 1];
                    pos--;
                }
                top[pos] = q;
            }
            int32_t *dst = pool + (size_t)(1 - side) * (size_t)(B * W);
            for (int i = 0; i < ntop; i++) {
                const beam_cand *k = &cand[top[i]];
                int32_t *l = dst + (size_t)i * (size_t)W;
                for (int64_t q = 0; q < k->len; q++) l[q] = cand_at(&st, k, q);
                next[i] = (beam_entry){.lab = l, .len = k->len, .pb = k->pb, .pnb = k->pnb, .h = k->h};
            }
            memcpy(beam, next, (size_t)ntop * sizeof *beam);
            nb = ntop;
            side = 1 - side;
        }
        len[n] = beam[0].len;
        memcpy(best + n * W, beam[0].lab, (size_t)beam[0].len * sizeof *best);
        if (scores) scores[n] = (float)dc_log_add_exp(beam[0].pb, beam[0].pnb);
    }
    out = decoded_tensor(best, W, len, N);
done:
    dc_free(beam);
    dc_free(next);
    dc_free(pool);
    dc_free(best);
    dc_free(cand);
    dc_free(slot);
    dc_free(top);
    dc_free(lp);
    dc_free(len);
    dc_free(own);
    return out;
}

/* ---- error rates ---- */

int64_t dc_edit_distance(const int32_t *a, int64_t na, const int32_t *b, int64_t nb) {
    if (na < 0 || nb < 0 || (na && !a) || (nb && !b)) {
        dc_error(DC_ERR_ARG, "dc_edit_distance: sequences of lengths %lld and %lld (%s)", (long long)na, (long long)nb,
                 na < 0 || nb < 0 ? "a length is negative" : "a sequence is NULL");
        return -1;
    }
    if (na < nb) { /* one row of the shorter's length */
        const int32_t *t = a;
        a = b, b = t;
        int64_t u = na;
        na = nb, nb = u;
    }
    if (nb == 0) return na;
    int64_t *row = dc_alloc((size_t)(nb + 1) * sizeof *row);
    if (!row) {
        dc_error(DC_ERR_NOMEM, "dc_edit_distance: out of memory for %lld elements", (long long)nb);
        return -1;
    }
    for (int64_t j = 0; j <= nb; j++) row[j] = j;
    for (int64_t i = 1; i <= na; i++) {
        int64_t diag = row[0]; /* d[i-1][j-1] */
        row[0] = i;
        for (int64_t j = 1; j <= nb; j++) {
            int64_t up = row[j], v = diag + (a[i - 1] != b[j - 1]);
            if (up + 1 < v) v = up + 1;
            if (row[j - 1] + 1 < v) v = row[j - 1] + 1;
            diag = up;
            row[j] = v;
        }
    }
    int64_t d = row[nb];
    dc_free(row);
    return d;
}

static double rate(int64_t edits, int64_t total) { return total ? (double)edits / (double)total : edits ? INFINITY : 0.0; }

/* Row r of a [N, W] label tensor into out (count before the first negative); -1 + error for a
 * value that is not a whole number. */
static int64_t label_row(const char *who, const char *what, const float *d, int64_t W, int64_t r, int32_t *out) {
    int64_t k = 0;
    for (; k < W; k++) {
        float v = d[r * W + k];
        if (v < 0) break;
        if (v != floorf(v) || !(v <= (float)INT32_MAX)) {
            dc_error(DC_ERR_ARG, "%s: %s[%lld, %lld] = %g is not a label (a whole number; negative values pad)", who, what, (long long)r,
                     (long long)k, (double)v);
            return -1;
        }
        out[k] = (int32_t)v;
    }
    return k;
}

double dc_label_error_rate(const dc_tensor *hyp, const dc_tensor *ref, int64_t *exact) {
    static const char who[] = "dc_label_error_rate";
    if (!hyp || !ref) return dc_error(DC_ERR_ARG, "%s: hyp or ref is NULL", who), NAN;
    if (hyp->ndim != 2 || ref->ndim != 2 || hyp->shape[0] != ref->shape[0])
        return dc_error(DC_ERR_SHAPE, "%s: hyp %s and ref %s: expected [N, *] label rows, as many of each", who, dc_tshape(hyp, 0),
                        dc_tshape(ref, 1)),
               NAN;
    const int64_t N = hyp->shape[0], Wh = hyp->shape[1], Wr = ref->shape[1];
    dc_tensor *hc = dc_tensor_is_contiguous(hyp) ? NULL : dc_tensor_clone(hyp), *rc = dc_tensor_is_contiguous(ref) ? NULL : dc_tensor_clone(ref);
    const float *H = hc ? hc->data : hyp->data, *R = rc ? rc->data : ref->data;
    int32_t *a = dc_alloc((size_t)DC_MAX(Wh, 1) * sizeof *a), *b = dc_alloc((size_t)DC_MAX(Wr, 1) * sizeof *b);
    double res = NAN;
    int64_t edits = 0, total = 0, same = 0;
    if (!a || !b || (!dc_tensor_is_contiguous(hyp) && !hc) || (!dc_tensor_is_contiguous(ref) && !rc)) {
        dc_error(DC_ERR_NOMEM, "%s: out of memory", who);
        goto done;
    }
    for (int64_t r = 0; r < N; r++) {
        int64_t na = label_row(who, "hyp", H, Wh, r, a), nb = na < 0 ? -1 : label_row(who, "ref", R, Wr, r, b);
        if (nb < 0) goto done;
        int64_t d = dc_edit_distance(a, na, b, nb);
        if (d < 0) goto done;
        edits += d;
        total += nb;
        same += d == 0;
    }
    res = rate(edits, total);
    if (exact) *exact = same;
done:
    dc_free(a);
    dc_free(b);
    dc_tensor_free(hc);
    dc_tensor_free(rc);
    return res;
}

/* The code points of UTF-8 s into out (strlen(s) of them at most); a byte that starts no valid
 * sequence is one character of its own (kept apart from the code points). */
static int64_t utf8_points(const char *s, int32_t *out) {
    const unsigned char *p = (const unsigned char *)s;
    int64_t n = 0;
    while (*p) {
        unsigned c = *p;
        int more = c >= 0xF0 && c <= 0xF4 ? 3 : c >= 0xE0 && c <= 0xEF ? 2 : c >= 0xC2 && c <= 0xDF ? 1 : 0;
        uint32_t cp = more == 3 ? c & 0x07 : more == 2 ? c & 0x0F : c & 0x1F;
        bool ok = c < 0x80 || more > 0;
        for (int k = 1; ok && k <= more; k++) {
            ok = (p[k] & 0xC0) == 0x80;
            cp = (cp << 6) | (p[k] & 0x3F);
        }
        if (c < 0x80) {
            out[n++] = (int32_t)c;
            p++;
        } else if (ok) {
            out[n++] = (int32_t)cp;
            p += more + 1;
        } else {
            out[n++] = (int32_t)(0x110000 + c); /* not a code point: the stray byte itself */
            p++;
        }
    }
    return n;
}

static bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'; }

/* The words of s (runs of non-whitespace): starts and lengths, up to strlen(s) / 2 + 1 of them. */
static int64_t split_words(const char *s, const char **w, int64_t *wl) {
    int64_t n = 0;
    for (const char *p = s; *p;) {
        while (*p && is_space(*p)) p++;
        if (!*p) break;
        const char *q = p;
        while (*q && !is_space(*q)) q++;
        w[n] = p, wl[n++] = q - p;
        p = q;
    }
    return n;
}

/* The error rate of n string pairs, over characters or words. */
static double text_error_rate(const char *who, const char *const *hyp, const char *const *ref, int64_t n, bool words) {
    if (n < 0 || (n && (!hyp || !ref))) return dc_error(DC_ERR_ARG, "%s: %lld strings (hyp or ref NULL)", who, (long long)n), NAN;
    size_t most = 0;
    for (int64_t i = 0; i < n; i++) {
        if (!hyp[i] || !ref[i]) return dc_error(DC_ERR_ARG, "%s: %s[%lld] is NULL", who, hyp[i] ? "ref" : "hyp", (long long)i), NAN;
        most = DC_MAX(most, DC_MAX(strlen(hyp[i]), strlen(ref[i])));
    }
    const size_t cap = most + 1; /* characters (or words) of one string, at most */
    int32_t *a = dc_alloc(cap * sizeof *a), *b = dc_alloc(cap * sizeof *b);
    const char **w = words ? dc_alloc(2 * cap * sizeof *w) : NULL;
    int64_t *wl = words ? dc_alloc(2 * cap * sizeof *wl) : NULL;
    int32_t *id = words ? dc_alloc(2 * cap * sizeof *id) : NULL;
    double res = NAN;
    int64_t edits = 0, total = 0;
    if (!a || !b || (words && (!w || !wl || !id))) {
        dc_error(DC_ERR_NOMEM, "%s: out of memory", who);
        goto done;
    }
    for (int64_t i = 0; i < n; i++) {
        int64_t na, nb;
        if (words) { /* each distinct word of the pair gets a number: the first index it appears at */
            na = split_words(hyp[i], w, wl);
            nb = split_words(ref[i], w + na, wl + na);
            for (int64_t k = 0; k < na + nb; k++) {
                id[k] = (int32_t)k;
                for (int64_t m = 0; m < k; m++)
                    if (wl[m] == wl[k] && memcmp(w[m], w[k], (size_t)wl[k]) == 0) {
                        id[k] = id[m];
                        break;
                    }
            }
            memcpy(a, id, (size_t)na * sizeof *a);
            memcpy(b, id + na, (size_t)nb * sizeof *b);
        } else {
            na = utf8_points(hyp[i], a);
            nb = utf8_points(ref[i], b);
        }
        int64_t d = dc_edit_distance(a, na, b, nb);
        if (d < 0) goto done;
        edits += d;
        total += nb;
    }
    res = rate(edits, total);
done:
    dc_free(a);
    dc_free(b);
    dc_free((void *)w);
    dc_free(wl);
    dc_free(id);
    return res;
}

double dc_char_error_rate(const char *const *hyp, const char *const *ref, int64_t n) {
    return text_error_rate("dc_char_error_rate", hyp, ref, n, false);
}

double dc_word_error_rate(const char *const *hyp, const char *const *ref, int64_t n) {
    return text_error_rate("dc_word_error_rate", hyp, ref, n, true);
}
