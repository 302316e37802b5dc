/* A data set's labels file: "file<TAB>label" lines, as scripts/gen_speech_digits.sh writes
 * them, read into file paths (joined to the labels file's folder) and labels. */
#include "audio.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#define LABELS_MAX_LINE (64 * 1024)

void dc_labelled_files_free(dc_labelled_files *l) {
    if (!l) return;
    for (int64_t i = 0; i < l->n; i++) {
        if (l->paths) dc_free(l->paths[i]);
        if (l->labels) dc_free(l->labels[i]);
    }
    dc_free(l->paths);
    dc_free(l->labels);
    memset(l, 0, sizeof *l);
}

static char *dup_n(const char *s, size_t n) {
    char *d = dc_alloc(n + 1);
    if (d) {
        memcpy(d, s, n);
        d[n] = '\0';
    }
    return d;
}

/* dir (with its '/', dlen bytes) + name, unless name is absolute. */
static char *join(const char *dir, size_t dlen, const char *name, size_t nlen) {
    if (name[0] == '/') dlen = 0;
    char *p = dc_alloc(dlen + nlen + 1);
    if (p) {
        memcpy(p, dir, dlen);
        memcpy(p + dlen, name, nlen);
        p[dlen + nlen] = '\0';
    }
    return p;
}

dc_status dc_labels_tsv_load(const char *path, dc_labelled_files *out) {
    if (!out) return dc_error(DC_ERR_ARG, "labels: out is NULL");
    memset(out, 0, sizeof *out);
    if (!path) return dc_error(DC_ERR_ARG, "labels: path is NULL");
    FILE *f = fopen(path, "rb");
    if (!f) return dc_error(DC_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    const char *slash = strrchr(path, '/');
    const size_t dlen = slash ? (size_t)(slash - path) + 1 : 0;
    char *line = dc_alloc(LABELS_MAX_LINE + 2);
    int64_t cap = 0, lineno = 0;
    dc_status s = line ? DC_OK : DC_ERR_NOMEM;
    while (!s) {
        /* a line of at most LABELS_MAX_LINE bytes and its '\n' */
        size_t len = 0;
        int ch = 0;
        while (len <= LABELS_MAX_LINE && (ch = getc(f)) != EOF && ch != '\n') line[len++] = (char)ch;
        if (len == 0 && ch == EOF) break;
        lineno++;
        if (len > LABELS_MAX_LINE) {
            s = dc_error(DC_ERR_FORMAT, "%s:%lld: line longer than %d bytes", path, (long long)lineno, LABELS_MAX_LINE);
            break;
        }
        if (len > 0 && line[len - 1] == '\r') len--;
        line[len] = '\0';
        if (memchr(line, '\0', len)) {
            s = dc_error(DC_ERR_FORMAT, "%s:%lld: holds a NUL byte (not a text file)", path, (long long)lineno);
            break;
        }
        if (len == 0 || line[0] == '#') continue;
        char *tab = strchr(line, '\t');
        if (!tab) {
            s = dc_error(DC_ERR_FORMAT, "%s:%lld: no tab between the file name and the label: \"%.60s\"", path,
                         (long long)lineno, line);
            break;
        }
        if (tab == line) {
            s = dc_error(DC_ERR_FORMAT, "%s:%lld: empty file name", path, (long long)lineno);
            break;
        }
        char *label = tab + 1, *end = strchr(label, '\t');
        const size_t llen = end ? (size_t)(end - label) : strlen(label);
        if (out->n == cap) {
            int64_t ncap = cap ? cap * 2 : 256;
            char **p = dc_realloc(out->paths, (size_t)ncap * sizeof(char *));
            if (p) out->paths = p;
            char **l = p ? dc_realloc(out->labels, (size_t)ncap * sizeof(char *)) : NULL;
            if (l) out->labels = l;
            if (!p || !l) {
                s = DC_ERR_NOMEM;
                break;
            }
            cap = ncap;
        }
        char *fp = join(path, dlen, line, (size_t)(tab - line)), *lb = dup_n(label, llen);
        if (!fp || !lb) {
            dc_free(fp);
            dc_free(lb);
            s = DC_ERR_NOMEM;
            break;
        }
        out->paths[out->n] = fp;
        out->labels[out->n] = lb;
        out->n++;
    }
    if (!s && ferror(f)) s = dc_error(DC_ERR_IO, "%s: read error at line %lld", path, (long long)lineno);
    if (!s && out->n == 0) s = dc_error(DC_ERR_FORMAT, "%s: no \"file<TAB>label\" lines (%lld lines)", path, (long long)lineno);
    fclose(f);
    dc_free(line);
    if (s) dc_labelled_files_free(out);
    return s;
}
