/* Baskets: a set of items per user, for recommenders; read from Debian's package index (each
 * package a user, the packages it depends on its items), and ranking metrics over them.
 *
 * A "Packages" file (apt's lists, a Debian repository's index) and a debian/control file are
 * deb822 text: stanzas of "Field: value" lines separated by blank lines, a value continued on
 * lines that start with a space or tab. Depends and Pre-Depends hold a comma-separated list of
 * dependencies, each one or more alternatives "a | b", each alternative a package name with an
 * optional architecture qualifier (":any"), version relation ("(>= 2.36)"), architecture list
 * ("[amd64]") and build profiles ("<!nocheck>").
 *
 * A file is parsed whole before anything is added to the baskets, so a malformed file leaves
 * them as they were; every error names the file and line.
 */
#include "gz.h"

#include "../tensor/tensor.h"
#include "deepc/data.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* the largest index file read (the biggest Debian Packages file is about 50 MiB) */
#define BASKETS_MAX_FILE ((size_t)1 << 30)

/* ---------------------------------------------------------------- name tables */

/* Names interned to dense ids 0..n-1: an open-addressing hash table of ids over the names. */
typedef struct name_table {
    char **names;
    int64_t n, cap;
    int64_t *slots; /* id + 1, 0 for an empty slot; a power of two of them */
    int64_t nslots;
} name_table;

static uint64_t hash_bytes(const char *s, size_t len) {
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (size_t i = 0; i < len; i++) h = (h ^ (unsigned char)s[i]) * 1099511628211ull;
    return h;
}

static void table_free(name_table *t) {
    for (int64_t i = 0; i < t->n; i++) dc_free(t->names[i]);
    dc_free(t->names);
    dc_free(t->slots);
    memset(t, 0, sizeof *t);
}

/* The slot holding s[0..len) or the empty slot where it would go. */
static int64_t table_slot(const name_table *t, const char *s, size_t len) {
    int64_t mask = t->nslots - 1, i = (int64_t)(hash_bytes(s, len) & (uint64_t)mask);
    while (t->slots[i]) {
        const char *name = t->names[t->slots[i] - 1];
        if (!strncmp(name, s, len) && name[len] == 0) break;
        i = (i + 1) & mask;
    }
    return i;
}

/* The id of s[0..len), added if absent; *added says which. -1 when out of memory. */
static int64_t table_add(name_table *t, const char *s, size_t len, bool *added) {
    *added = false;
    if (2 * (t->n + 1) > t->nslots) { /* at most half full: short probe chains */
        int64_t nslots = t->nslots ? 2 * t->nslots : 256;
        int64_t *slots = dc_calloc((size_t)nslots, sizeof *slots);
        if (!slots) return -1;
        int64_t *old = t->slots;
        t->slots = slots;
        t->nslots = nslots;
        for (int64_t id = 0; id < t->n; id++) t->slots[table_slot(t, t->names[id], strlen(t->names[id]))] = id + 1;
        dc_free(old);
    }
    int64_t slot = table_slot(t, s, len);
    if (t->slots[slot]) return t->slots[slot] - 1;
    if (t->n == t->cap) {
        int64_t cap = t->cap ? 2 * t->cap : 256;
        char **names = dc_realloc(t->names, (size_t)cap * sizeof *names);
        if (!names) return -1;
        t->names = names;
        t->cap = cap;
    }
    char *name = dc_alloc(len + 1);
    if (!name) return -1;
    memcpy(name, s, len);
    name[len] = 0;
    t->names[t->n] = name;
    t->slots[slot] = ++t->n;
    *added = true;
    return t->n - 1;
}

/* ---------------------------------------------------------------- baskets */

typedef struct basket {
    int64_t *ids; /* sorted, distinct */
    int64_t n;
} basket;

struct dc_baskets {
    name_table users, items;
    basket *baskets; /* one per user */
    int64_t cap;
};

dc_baskets *dc_baskets_new(void) { return dc_calloc(1, sizeof(dc_baskets)); }

void dc_baskets_free(dc_baskets *b) {
    if (!b) return;
    for (int64_t u = 0; u < b->users.n; u++) dc_free(b->baskets[u].ids);
    dc_free(b->baskets);
    table_free(&b->users);
    table_free(&b->items);
    dc_free(b);
}

int64_t dc_baskets_users(const dc_baskets *b) { return b ? b->users.n : 0; }
int64_t dc_baskets_items(const dc_baskets *b) { return b ? b->items.n : 0; }

const char *dc_baskets_user(const dc_baskets *b, int64_t u) {
    if (!b || u < 0 || u >= b->users.n)
        return dc_error_null(DC_ERR_ARG, "dc_baskets_user: user %lld of %lld", (long long)u, (long long)dc_baskets_users(b));
    return b->users.names[u];
}

const char *dc_baskets_item(const dc_baskets *b, int64_t i) {
    if (!b || i < 0 || i >= b->items.n)
        return dc_error_null(DC_ERR_ARG, "dc_baskets_item: item %lld of %lld", (long long)i, (long long)dc_baskets_items(b));
    return b->items.names[i];
}

int64_t dc_baskets_get(const dc_baskets *b, int64_t u, const int64_t **items) {
    if (items) *items = NULL;
    if (!b || u < 0 || u >= b->users.n) {
        dc_error(DC_ERR_ARG, "dc_baskets_get: user %lld of %lld", (long long)u, (long long)dc_baskets_users(b));
        return -1;
    }
    if (items) *items = b->baskets[u].ids;
    return b->baskets[u].n;
}

/* ---------------------------------------------------------------- parsing */

/* A span of the text. */
typedef struct span {
    size_t off, len;
} span;

/* What a file gave, before it is added: per stanza its package and its items' spans. */
typedef struct stanza {
    span user;
    int64_t first, n; /* items[first .. first + n) */
} stanza;

typedef struct parse_state {
    const char *text, *name;
    size_t len;
    stanza *stanzas;
    int64_t nstanzas, stanza_cap;
    span *items;
    int64_t nitems, item_cap;
} parse_state;

/* 1-based line number of byte off. */
static long long line_at(const char *text, size_t off) {
    long long line = 1;
    for (size_t i = 0; i < off; i++) line += text[i] == '\n';
    return line;
}

static bool is_blank(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }
/* How much of text[a..e) an error message shows: its first line, at most 60 bytes, without
 * trailing blanks. */
static int shown(const char *t, size_t a, size_t e) {
    size_t n = 0;
    while (a + n < e && t[a + n] != '\n' && n < 60) n++;
    while (n > 0 && is_blank(t[a + n - 1])) n--;
    return (int)n;
}
/* The first byte of text[i..e) past blanks and comment lines (a '#' first on its line). */
static size_t skip_blanks(const char *t, size_t i, size_t e) {
    while (i < e) {
        if (is_blank(t[i])) i++;
        else if (t[i] == '#' && i > 0 && t[i - 1] == '\n')
            while (i < e && t[i] != '\n') i++;
        else break;
    }
    return i;
}
/* the bytes of a Debian package name (policy 5.6.1: lower case letters, digits, + - .) */
static bool is_name_byte(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' || c == '-' || c == '.'; }

static dc_status push_item(parse_state *p, size_t off, size_t len) {
    if (p->nitems == p->item_cap) {
        int64_t cap = p->item_cap ? 2 * p->item_cap : 1024;
        span *v = dc_realloc(p->items, (size_t)cap * sizeof *v);
        if (!v) return DC_ERR_NOMEM;
        p->items = v;
        p->item_cap = cap;
    }
    p->items[p->nitems++] = (span){off, len};
    return DC_OK;
}

/* Parses one alternative text[a..e) ("pkg:arch (>= 1) [amd64] <!nocheck>", leading blanks
 * skipped, non-empty): *name receives the package name's span, empty for a substitution variable of a
 * debian/control file ("${shlibs:Depends}"), which names no package. */
static dc_status parse_alternative(const parse_state *p, const char *field, size_t a, size_t e, span *name) {
    const char *t = p->text;
    *name = (span){a, 0};
    if (t[a] == '$') { /* ${name} */
        size_t i = a + 1;
        if (i < e && t[i] == '{')
            while (i < e && t[i] != '}') i++;
        if (i < e && t[a + 1] == '{' && i - a > 2 && skip_blanks(t, i + 1, e) == e) return DC_OK;
        return dc_error(DC_ERR_FORMAT, "%s:%lld: %s: malformed substitution variable '%.*s'", p->name, line_at(t, a), field,
                        shown(t, a, e), t + a);
    }
    size_t i = a;
    while (i < e && is_name_byte(t[i])) i++;
    if (i == a || !((t[a] >= 'a' && t[a] <= 'z') || (t[a] >= '0' && t[a] <= '9')))
        return dc_error(DC_ERR_FORMAT,
                        "%s:%lld: %s: '%.*s' is not a package name (lower case letters, digits, '+', '-', '.', starting "
                        "with a letter or digit)",
                        p->name, line_at(t, a), field, shown(t, a, e), t + a);
    *name = (span){a, i - a};
    if (i < e && t[i] == ':') { /* architecture qualifier: ":any", ":native", ":amd64" */
        size_t q = ++i;
        while (i < e && ((t[i] >= 'a' && t[i] <= 'z') || (t[i] >= '0' && t[i] <= '9') || t[i] == '-')) i++;
        if (i == q)
            return dc_error(DC_ERR_FORMAT, "%s:%lld: %s: empty architecture qualifier after '%.*s:'", p->name,
                            line_at(t, q), field, (int)name->len, t + name->off);
    }
    /* then, in this order, each optional: (relation version) [architectures] <profiles>... */
    static const char open[] = "([<", close[] = ")]>";
    int stage = 0;
    for (;;) {
        i = skip_blanks(t, i, e);
        if (i == e) return DC_OK;
        const char *o = memchr(open, t[i], 3);
        int k = o ? (int)(o - open) : -1;
        if (k < 0 || (k < stage && !(k == 2 && stage == 3))) /* one (), one [], any <>s */
            return dc_error(DC_ERR_FORMAT,
                            "%s:%lld: %s: unexpected '%c' after '%.*s' (expected '(version)', '[architectures]' or "
                            "'<profiles>', ',' or '|')",
                            p->name, line_at(t, i), field, t[i], (int)name->len, t + name->off);
        /* the bytes that may not appear before the closing one (a version's relation has < >) */
        static const char *const stops[] = {"([]", "()[<>", "()[]<"};
        size_t start = i++;
        while (i < e && t[i] != close[k] && !strchr(stops[k], t[i])) i++;
        if (i == e || t[i] != close[k])
            return dc_error(DC_ERR_FORMAT, "%s:%lld: %s: '%c' after '%.*s' is not closed by '%c'", p->name,
                            line_at(t, start), field, open[k], (int)name->len, t + name->off, close[k]);
        if (k == 0) { /* a relation and a version: "(>= 1.0)" */
            size_t r = start + 1;
            while (r < i && is_blank(t[r])) r++;
            size_t rel = r;
            while (r < i && (t[r] == '<' || t[r] == '>' || t[r] == '=')) r++;
            static const char *const rels[] = {"<<", "<=", "=", ">=", ">>", "<", ">"};
            bool known = false;
            for (size_t j = 0; j < DC_ARRAY_LEN(rels); j++)
                known |= strlen(rels[j]) == r - rel && !strncmp(rels[j], t + rel, r - rel);
            while (r < i && is_blank(t[r])) r++;
            if (!known || r == i)
                return dc_error(DC_ERR_FORMAT,
                                "%s:%lld: %s: bad version restriction '%.*s' of '%.*s' (expected a relation << <= = >= "
                                ">> and a version)",
                                p->name, line_at(t, start), field, shown(t, start, i + 1), t + start,
                                (int)name->len, t + name->off);
        }
        i++;
        stage = k + 1;
    }
}

/* Adds the items of a Depends-like field's value text[a..e) to the open stanza: the first
 * alternative of each dependency, or all of them when all_alternatives. */
static dc_status parse_depends(parse_state *p, const char *field, size_t a, size_t e, bool all_alternatives) {
    const char *t = p->text;
    size_t i = skip_blanks(t, a, e);
    if (i == e) return DC_OK; /* an empty field */
    for (;;) {
        /* one dependency: alternatives up to ',' */
        size_t dep_end = i;
        while (dep_end < e && t[dep_end] != ',') dep_end++;
        bool first = true;
        size_t alt = i;
        for (;;) {
            size_t alt_end = alt;
            while (alt_end < dep_end && t[alt_end] != '|') alt_end++;
            size_t x = skip_blanks(t, alt, alt_end), y = alt_end;
            if (x == y)
                return dc_error(DC_ERR_FORMAT, "%s:%lld: %s: empty %s", p->name, line_at(t, x), field,
                                alt_end < dep_end || alt > i ? "alternative around '|'" : "dependency between commas");
            span name;
            dc_status s = parse_alternative(p, field, x, y, &name);
            if (s) return s;
            if (name.len && (first || all_alternatives)) {
                if ((s = push_item(p, name.off, name.len))) return s;
                p->stanzas[p->nstanzas - 1].n++;
            }
            first = first && !name.len; /* a substitution variable is no first choice */
            if (alt_end == dep_end) break;
            alt = alt_end + 1;
        }
        if (dep_end == e) return DC_OK;
        i = skip_blanks(t, dep_end + 1, e);
        if (i == e) return DC_OK; /* a trailing comma, as debian/control files allow */
    }
}

/* The fields of one stanza that matter here, as spans of their values (continuation lines
 * included). */
typedef struct stanza_fields {
    size_t start;             /* the stanza's first byte */
    span package, source;
    span depends[2];          /* Depends, Pre-Depends */
    size_t depends_line_off[2];
    bool has_package, has_source, has_depends[2];
} stanza_fields;

static const char *const dep_fields[2] = {"Depends", "Pre-Depends"};

/* Turns a finished stanza into an entry of p->stanzas (or nothing, for a debian/control
 * file's Source stanza). */
static dc_status end_stanza(parse_state *p, const stanza_fields *f, unsigned flags) {
    const char *t = p->text;
    if (!f->has_package) {
        if (f->has_source) return DC_OK;
        return dc_error(DC_ERR_FORMAT, "%s:%lld: a stanza without a Package field", p->name, line_at(t, f->start));
    }
    size_t a = f->package.off, e = a + f->package.len;
    while (a < e && is_blank(t[a])) a++;
    while (e > a && is_blank(t[e - 1])) e--;
    size_t i = a;
    while (i < e && is_name_byte(t[i])) i++;
    if (a == e || i != e || !((t[a] >= 'a' && t[a] <= 'z') || (t[a] >= '0' && t[a] <= '9')))
        return dc_error(DC_ERR_FORMAT,
                        "%s:%lld: Package: '%.*s' is not a package name (lower case letters, digits, '+', '-', '.', "
                        "starting with a letter or digit)",
                        p->name, line_at(t, f->package.off), shown(t, a, e), t + a);
    if (p->nstanzas == p->stanza_cap) {
        int64_t cap = p->stanza_cap ? 2 * p->stanza_cap : 256;
        stanza *v = dc_realloc(p->stanzas, (size_t)cap * sizeof *v);
        if (!v) return DC_ERR_NOMEM;
        p->stanzas = v;
        p->stanza_cap = cap;
    }
    p->stanzas[p->nstanzas++] = (stanza){{a, e - a}, p->nitems, 0};
    for (int k = 0; k < 2; k++) {
        if (!f->has_depends[k] || (k == 1 && !(flags & DC_DEPENDS_PRE))) continue;
        dc_status s = parse_depends(p, dep_fields[k], f->depends[k].off, f->depends[k].off + f->depends[k].len,
                                    flags & DC_DEPENDS_ALL_ALTERNATIVES);
        if (s) return s;
    }
    return DC_OK;
}

/* Field name text[a..a+n) against a name, ignoring case (deb822 field names are). */
static bool field_is(const char *t, size_t a, size_t n, const char *name) {
    return strlen(name) == n && !strncasecmp(t + a, name, n);
}

/* Splits the text into stanzas and fields. */
static dc_status parse_text(parse_state *p, unsigned flags) {
    const char *t = p->text;
    const char *nul = memchr(t, 0, p->len);
    if (nul)
        return dc_error(DC_ERR_FORMAT, "%s:%lld: byte %zu is NUL (a binary or compressed file, not a Packages file?)",
                        p->name, line_at(t, (size_t)(nul - t)), (size_t)(nul - t));
    stanza_fields f;
    bool open = false; /* inside a stanza */
    span *value = NULL; /* the field whose value continuation lines extend, if one matters */
    bool in_field = false;
    for (size_t pos = 0; pos < p->len;) {
        const char *nl = memchr(t + pos, '\n', p->len - pos);
        size_t end = nl ? (size_t)(nl - t) : p->len, next = nl ? end + 1 : p->len;
        size_t i = pos;
        while (i < end && (t[i] == ' ' || t[i] == '\t' || t[i] == '\r')) i++;
        if (i == end) { /* a blank line ends the stanza */
            if (open) {
                dc_status s = end_stanza(p, &f, flags);
                if (s) return s;
            }
            open = in_field = false;
            value = NULL;
        } else if (t[pos] == '#') { /* a comment line (debian/control files have them) */
        } else if (t[pos] == ' ' || t[pos] == '\t') {
            if (!in_field)
                return dc_error(DC_ERR_FORMAT, "%s:%lld: a continuation line (starting with a space) outside a field",
                                p->name, line_at(t, pos));
            if (value) value->len = end - value->off;
        } else {
            const char *colon = memchr(t + pos, ':', end - pos);
            if (!colon)
                return dc_error(DC_ERR_FORMAT, "%s:%lld: not a field line (\"Name: value\") nor a continuation line",
                                p->name, line_at(t, pos));
            size_t n = (size_t)(colon - t) - pos;
            for (size_t k = pos; k < pos + n; k++)
                if ((unsigned char)t[k] <= ' ' || (unsigned char)t[k] >= 0x7f)
                    return dc_error(DC_ERR_FORMAT, "%s:%lld: field name '%.*s' holds a blank or a non-ASCII byte",
                                    p->name, line_at(t, pos), shown(t, pos, pos + n), t + pos);
            if (n == 0) return dc_error(DC_ERR_FORMAT, "%s:%lld: empty field name before ':'", p->name, line_at(t, pos));
            if (!open) {
                memset(&f, 0, sizeof f);
                f.start = pos;
                open = true;
            }
            in_field = true;
            value = NULL;
            bool *seen = NULL;
            if (field_is(t, pos, n, "Package")) value = &f.package, seen = &f.has_package;
            else if (field_is(t, pos, n, "Source")) value = &f.source, seen = &f.has_source;
            else if (field_is(t, pos, n, "Depends")) value = &f.depends[0], seen = &f.has_depends[0];
            else if (field_is(t, pos, n, "Pre-Depends")) value = &f.depends[1], seen = &f.has_depends[1];
            if (seen) {
                if (*seen)
                    return dc_error(DC_ERR_FORMAT, "%s:%lld: field %.*s repeated in the stanza of line %lld", p->name,
                                    line_at(t, pos), (int)n, t + pos, line_at(t, f.start));
                *seen = true;
                *value = (span){(size_t)(colon - t) + 1, end - (size_t)(colon - t) - 1};
            }
        }
        pos = next;
    }
    return open ? end_stanza(p, &f, flags) : DC_OK;
}

static int cmp_id(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* Adds the parsed stanzas to b: a package already there (from an earlier file) has its basket
 * replaced. */
static dc_status commit(dc_baskets *b, const parse_state *p) {
    for (int64_t k = 0; k < p->nstanzas; k++) {
        const stanza *st = &p->stanzas[k];
        int64_t *ids = st->n ? dc_alloc((size_t)st->n * sizeof *ids) : NULL;
        if (st->n && !ids) return DC_ERR_NOMEM;
        int64_t n = 0;
        for (int64_t j = 0; j < st->n; j++) {
            span it = p->items[st->first + j];
            if (it.len == st->user.len && !memcmp(p->text + it.off, p->text + st->user.off, it.len)) continue; /* itself */
            bool added;
            int64_t id = table_add(&b->items, p->text + it.off, it.len, &added);
            if (id < 0) {
                dc_free(ids);
                return DC_ERR_NOMEM;
            }
            ids[n++] = id;
        }
        if (n > 1) qsort(ids, (size_t)n, sizeof *ids, cmp_id);
        int64_t m = 0;
        for (int64_t j = 0; j < n; j++)
            if (!m || ids[j] != ids[m - 1]) ids[m++] = ids[j];
        if (b->users.n == b->cap) {
            int64_t cap = b->cap ? 2 * b->cap : 256;
            basket *v = dc_realloc(b->baskets, (size_t)cap * sizeof *v);
            if (!v) {
                dc_free(ids);
                return DC_ERR_NOMEM;
            }
            b->baskets = v;
            b->cap = cap;
        }
        bool added;
        int64_t u = table_add(&b->users, p->text + st->user.off, st->user.len, &added);
        if (u < 0) {
            dc_free(ids);
            return DC_ERR_NOMEM;
        }
        if (!added) dc_free(b->baskets[u].ids);
        b->baskets[u] = (basket){ids, m};
    }
    return DC_OK;
}

dc_status dc_baskets_parse_packages(dc_baskets *b, const char *text, size_t len, const char *name, unsigned flags) {
    if (!b || (!text && len) || !name)
        return dc_error(DC_ERR_ARG, "dc_baskets_parse_packages: baskets, text and name must not be NULL");
    if (flags & ~(unsigned)(DC_DEPENDS_PRE | DC_DEPENDS_ALL_ALTERNATIVES))
        return dc_error(DC_ERR_ARG, "dc_baskets_parse_packages: %s: unknown flags 0x%x", name, flags);
    parse_state p = {.text = text ? text : "", .name = name, .len = len};
    dc_status s = parse_text(&p, flags);
    if (!s) s = commit(b, &p);
    dc_free(p.stanzas);
    dc_free(p.items);
    return s;
}

dc_status dc_baskets_read_packages(dc_baskets *b, const char *path, unsigned flags) {
    if (!b || !path) return dc_error(DC_ERR_ARG, "dc_baskets_read_packages: baskets and path must not be NULL");
    uint64_t fsize = 0;
    gzFile gz = dc_gz_open(path, &fsize);
    if (!gz) return dc_last_status();
    /* a first buffer the size of the file, doubled while compressed text keeps coming */
    size_t n = 0, cap = (size_t)DC_MAX(DC_MIN(fsize + 1, (uint64_t)1 << 20), 256);
    char *buf = dc_alloc(cap);
    dc_status s = buf ? DC_OK : DC_ERR_NOMEM;
    while (!s) {
        if (n == cap) {
            if (cap > BASKETS_MAX_FILE) {
                s = dc_error(DC_ERR_FORMAT, "%s: more than %zu bytes of text; not a Packages file?", path, BASKETS_MAX_FILE);
                break;
            }
            char *bigger = dc_realloc(buf, 2 * cap);
            if (!bigger) {
                s = DC_ERR_NOMEM;
                break;
            }
            buf = bigger;
            cap *= 2;
        }
        size_t got = 0;
        s = dc_gz_read(gz, path, buf + n, cap - n, &got);
        n += got;
        if (!s && n < cap) {
            s = dc_gz_end(gz, path);
            break;
        }
    }
    gzclose(gz);
    if (!s) s = dc_baskets_parse_packages(b, buf, n, path, flags);
    dc_free(buf);
    return s;
}

/* ---------------------------------------------------------------- ranking metrics */

dc_status dc_rank_metrics(const dc_tensor *scores, const dc_tensor *seen, const int64_t *target, int64_t k,
                          double *hit_rate, double *ndcg) {
    if (hit_rate) *hit_rate = 0;
    if (ndcg) *ndcg = 0;
    if (!scores || !target || !hit_rate || !ndcg)
        return dc_error(DC_ERR_ARG, "dc_rank_metrics: scores, target, hit_rate and ndcg must not be NULL");
    if (dc_tensor_ndim(scores) != 2 || dc_tensor_dim(scores, 0) < 1 || dc_tensor_dim(scores, 1) < 1)
        return dc_error(DC_ERR_SHAPE, "dc_rank_metrics: scores must be [users >= 1, items >= 1]");
    int64_t U = dc_tensor_dim(scores, 0), I = dc_tensor_dim(scores, 1);
    if (seen && (dc_tensor_ndim(seen) != 2 || dc_tensor_dim(seen, 0) != U || dc_tensor_dim(seen, 1) != I))
        return dc_error(DC_ERR_SHAPE, "dc_rank_metrics: seen must have the shape of scores [%lld, %lld]", (long long)U,
                        (long long)I);
    if (k < 1) return dc_error(DC_ERR_ARG, "dc_rank_metrics: k must be >= 1, not %lld", (long long)k);
    if (!dc_tensor_is_contiguous(scores) || (seen && !dc_tensor_is_contiguous(seen)))
        return dc_error(DC_ERR_ARG, "dc_rank_metrics: scores and seen must be contiguous");
    dc_status s = dc_check_finite(scores, "dc_rank_metrics: scores");
    if (s) return s;
    const float *sc = dc_tensor_data((dc_tensor *)scores), *sn = seen ? dc_tensor_data((dc_tensor *)seen) : NULL;
    double hits = 0, gain = 0;
    for (int64_t u = 0; u < U; u++) {
        int64_t t = target[u];
        if (t < 0 || t >= I)
            return dc_error(DC_ERR_ARG, "dc_rank_metrics: target[%lld] = %lld is not an item (0..%lld)", (long long)u,
                            (long long)t, (long long)I - 1);
        const float *row = sc + u * I, *mask = sn ? sn + u * I : NULL;
        if (mask && mask[t] != 0)
            return dc_error(DC_ERR_ARG, "dc_rank_metrics: user %lld's held-out item %lld is marked seen", (long long)u,
                            (long long)t);
        /* the rank of the target among the unseen items: those scoring higher, and those
         * scoring the same with a lower index (a stable sort's order) */
        int64_t rank = 0;
        for (int64_t i = 0; i < I && rank < k; i++)
            if ((!mask || mask[i] == 0) && (row[i] > row[t] || (row[i] == row[t] && i < t))) rank++;
        if (rank < k) {
            hits += 1;
            gain += 1.0 / log2((double)rank + 2.0);
        }
    }
    *hit_rate = hits / (double)U;
    *ndcg = gain / (double)U;
    return DC_OK;
}
