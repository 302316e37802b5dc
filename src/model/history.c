/* Per-epoch training record: named series of doubles, NaN where a value is missing. */
#include "history.h"

#include "../base/atomic_file.h"

#include <math.h>
#include <string.h>

/* Far above any real training run, low enough that cap doubling cannot overflow an int. */
#define MAX_EPOCHS 100000000

struct dc_history {
    int epochs;   /* max recorded epoch + 1 */
    int cap;      /* allocated values per series, >= epochs */
    int nseries;
    int cap_series;
    char **names;
    double **values;
};

dc_history *dc_history_new(void) { return dc_calloc(1, sizeof(dc_history)); }

void dc_history_free(dc_history *h) {
    if (!h) return;
    for (int i = 0; i < h->nseries; i++) {
        dc_free(h->names[i]);
        dc_free(h->values[i]);
    }
    dc_free(h->names);
    dc_free(h->values);
    dc_free(h);
}

dc_history *dc_history_clone(const dc_history *h) {
    dc_history *c = h ? dc_history_new() : NULL;
    for (int i = 0; c && i < h->nseries; i++)
        for (int e = 0; e < h->epochs; e++)
            if ((e == 0 || !isnan(h->values[i][e])) && dc_history_record(c, e, h->names[i], h->values[i][e])) {
                dc_history_free(c);
                return NULL;
            }
    return c;
}

static int find_series(const dc_history *h, const char *key) {
    for (int i = 0; i < h->nseries; i++)
        if (strcmp(h->names[i], key) == 0) return i;
    return -1;
}

static double *nan_array(int n, int from, double *p) {
    for (int i = from; i < n; i++) p[i] = NAN;
    return p;
}

/* Grows every series to hold at least `need` epochs. A failure part-way leaves some
 * series larger than h->cap, which is harmless: the next attempt reallocates them again. */
static dc_status grow_epochs(dc_history *h, int need) {
    if (need <= h->cap) return DC_OK;
    int cap = h->cap ? h->cap : 8;
    while (cap < need) cap *= 2;
    for (int i = 0; i < h->nseries; i++) {
        double *p = dc_realloc(h->values[i], (size_t)cap * sizeof(double));
        if (!p) return DC_ERR_NOMEM;
        h->values[i] = nan_array(cap, h->cap, p);
    }
    h->cap = cap;
    return DC_OK;
}

static int add_series(dc_history *h, const char *key) {
    if (h->nseries == h->cap_series) {
        int cap = h->cap_series ? 2 * h->cap_series : 8;
        char **names = dc_realloc(h->names, (size_t)cap * sizeof(char *));
        if (!names) return -1;
        h->names = names;
        double **values = dc_realloc(h->values, (size_t)cap * sizeof(double *));
        if (!values) return -1;
        h->values = values;
        h->cap_series = cap;
    }
    size_t len = strlen(key);
    char *name = dc_alloc(len + 1);
    double *v = h->cap ? dc_alloc((size_t)h->cap * sizeof(double)) : NULL;
    if (!name || (h->cap && !v)) {
        dc_free(name);
        dc_free(v);
        return -1;
    }
    memcpy(name, key, len + 1);
    h->names[h->nseries] = name;
    h->values[h->nseries] = v ? nan_array(h->cap, 0, v) : NULL;
    return h->nseries++;
}

dc_status dc_history_record(dc_history *h, int epoch, const char *key, double v) {
    if (!h) return dc_error(DC_ERR_ARG, "dc_history_record: history is NULL");
    if (!key || !*key) return dc_error(DC_ERR_ARG, "dc_history_record: series name is NULL or empty");
    if (strpbrk(key, ",\"\r\n"))
        return dc_error(DC_ERR_ARG, "dc_history_record: series name '%s' contains ',', '\"' or a line break", key);
    if (epoch < 0 || epoch >= MAX_EPOCHS)
        return dc_error(DC_ERR_ARG, "dc_history_record: epoch %d of '%s' is outside 0..%d", epoch, key, MAX_EPOCHS - 1);
    int s = find_series(h, key);
    if (s < 0 && (s = add_series(h, key)) < 0) return DC_ERR_NOMEM;
    dc_status st = grow_epochs(h, epoch + 1);
    if (st != DC_OK) return st;
    h->values[s][epoch] = v;
    if (epoch >= h->epochs) h->epochs = epoch + 1;
    return DC_OK;
}

int dc_history_epochs(const dc_history *h) { return h ? h->epochs : 0; }

int dc_history_num_series(const dc_history *h) { return h ? h->nseries : 0; }

const double *dc_history_get(const dc_history *h, const char *key) {
    if (!h || !key) return NULL;
    int s = find_series(h, key);
    return s < 0 ? NULL : h->values[s];
}

const char *dc_history_series_name(const dc_history *h, int i) {
    return h && i >= 0 && i < h->nseries ? h->names[i] : NULL;
}

static dc_status write_csv_body(FILE *f, void *arg) {
    const dc_history *h = arg;
    fputs("epoch", f);
    for (int s = 0; s < h->nseries; s++) fprintf(f, ",%s", h->names[s]);
    fputc('\n', f);
    for (int e = 0; e < h->epochs; e++) {
        fprintf(f, "%d", e + 1);
        for (int s = 0; s < h->nseries; s++) {
            double v = h->values[s][e];
            /* An empty cell is how spreadsheets and pandas read a missing value. */
            if (isnan(v)) fputc(',', f);
            else fprintf(f, ",%.6g", v);
        }
        fputc('\n', f);
    }
    return DC_OK;
}

dc_status dc_history_write_csv(const dc_history *h, const char *path) {
    if (!h) return dc_error(DC_ERR_ARG, "dc_history_write_csv: history is NULL");
    if (!path || !*path) return dc_error(DC_ERR_ARG, "dc_history_write_csv: path is NULL or empty");
    return dc_write_file_atomic(path, write_csv_body, (void *)h);
}
