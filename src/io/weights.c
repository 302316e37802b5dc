/* Loading weights by name, non-strict (transfer learning): every tensor of a safetensors file
 * whose name, after an optional mapping, names a parameter or state tensor of the model loads
 * into it; the rest is reported as skipped (in the file only) or missing (in the model only).
 * Other frameworks' names are understood where a layer type knows them (param_alias: PyTorch's
 * BatchNormalization weight and bias, the recurrent layers' weight_ih_l0, bias_ih_l0 + bias_hh_l0). Everything is read into copies of the model's
 * buffers first, so an error leaves the model as it was. */
#include "model_file.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static int find_param(const dc_model *m, const char *name) {
    for (int j = 0; j < m->np; j++)
        if (strcmp(m->pnames[j], name) == 0) return j;
    return -1;
}

static const dc_layer *find_layer(const dc_model *m, const char *name, size_t len) {
    for (int i = 0; i < m->nlayers; i++)
        if (strlen(m->layers[i]->name) == len && strncmp(m->layers[i]->name, name, len) == 0) return m->layers[i];
    return NULL;
}

/* The parameter `name` loads into, or -1; *sum: the file holds it as several tensors to add.
 * A name that is no parameter's is asked of its layer's type (param_alias: PyTorch's names),
 * the layer's name before the last dot, the rest after it. */
static int resolve(const dc_model *m, const char *name, bool torch, bool *sum) {
    *sum = false;
    int j = find_param(m, name);
    const char *dot = strrchr(name, '.');
    if (j >= 0 || !dot) return j;
    const dc_layer *l = find_layer(m, name, (size_t)(dot - name));
    char to[64], full[160];
    if (!l || !l->type->param_alias || !l->type->param_alias(l, dot + 1, torch, to, sizeof to, sum)) return -1;
    snprintf(full, sizeof full, "%s.%s", l->name, to);
    return find_param(m, full);
}

void dc_weights_report_free(dc_weights_report *r) {
    if (!r) return;
    char **lists[3] = {r->loaded, r->skipped, r->missing};
    int counts[3] = {r->nloaded, r->nskipped, r->nmissing};
    for (int k = 0; k < 3; k++) {
        for (int i = 0; lists[k] && i < counts[k]; i++) dc_free(lists[k][i]);
        dc_free(lists[k]);
    }
    memset(r, 0, sizeof *r);
}

static dc_status add_name(char **list, int *n, const char *name) {
    size_t len = strlen(name) + 1;
    char *c = dc_alloc(len);
    if (!c) return DC_ERR_NOMEM;
    memcpy(c, name, len);
    list[(*n)++] = c;
    return DC_OK;
}

/* The state of one load: copies of the buffers, which parameter each file tensor filled. */
typedef struct load {
    const dc_model *m;
    const dc_safetensors *st;
    float *pbuf, *sbuf, *tmp;
    int *hits;      /* per parameter: tensors read into it */
    int *first;     /* per parameter: the file tensor that filled it first */
    bool *summed;   /* per parameter: it is the sum of two file tensors */
} load;

/* The minimum of parameter j's domain (its declaration's). */
static float param_min(const dc_model *m, int j) {
    for (int i = 0, q = 0; i < m->nlayers; i++)
        for (int k = 0; k < m->layers[i]->nparams; k++, q++)
            if (q == j) return m->layers[i]->decl[k].min;
    return -INFINITY;
}

/* Reads file tensor i (its file name fname) into parameter j of the copies. */
static dc_status read_one(load *ld, int i, const char *fname, int j, bool sum) {
    const dc_model *m = ld->m;
    const dc_tensor *t = m->ptens[j];
    int64_t sh[DC_MAX_DIMS];
    dc_dtype dt;
    int nd = dc_safetensors_shape(ld->st, i, sh, &dt);
    bool same = nd == t->ndim;
    for (int d = 0; same && d < nd; d++) same = sh[d] == t->shape[d];
    if (!same) {
        char got[160], want[160];
        return dc_error(DC_ERR_SHAPE, "dc_model_load_weights_by_name: %s: tensor \"%s\" has shape %s but parameter %s has shape %s",
                        dc_st_path(ld->st), fname, dc_shape_str(nd, sh, got, sizeof got), m->pnames[j],
                        dc_shape_str(t->ndim, t->shape, want, sizeof want));
    }
    if (ld->hits[j] && !(sum && ld->summed[j] && ld->hits[j] == 1))
        return dc_error(DC_ERR_FORMAT, "dc_model_load_weights_by_name: %s: tensors \"%s\" and \"%s\" both load into %s",
                        dc_st_path(ld->st), dc_safetensors_name(ld->st, ld->first[j]), fname, m->pnames[j]);
    float *dst = m->gtens[j] ? ld->pbuf + (t->data - m->pbuf) : ld->sbuf + (t->data - m->sbuf);
    float *into = ld->hits[j] ? ld->tmp : dst;
    dc_status s = dc_mf_read_checked(ld->st, i, fname, into, t->numel, sum ? -INFINITY : param_min(m, j));
    if (s) return s;
    if (into != dst)
        for (int64_t k = 0; k < t->numel; k++) dst[k] += into[k];
    if (!ld->hits[j]++) ld->first[j] = i;
    ld->summed[j] = sum;
    return DC_OK;
}

/* Reads every tensor of the file that names a parameter into the copies; skipped[i] marks the
 * file tensors that load nowhere. */
static dc_status read_all(load *ld, const dc_weights_opts *o, bool *skipped) {
    const dc_model *m = ld->m;
    const int n = dc_safetensors_count(ld->st);
    for (int i = 0; i < n; i++) {
        const char *fname = dc_safetensors_name(ld->st, i), *name = fname;
        char buf[256];
        if (o && o->map && !(name = o->map(fname, buf, sizeof buf, o->user))) {
            skipped[i] = true;
            continue;
        }
        bool sum;
        int j = resolve(m, name, o && o->pytorch_names, &sum);
        if (j < 0) {
            skipped[i] = true;
            continue;
        }
        dc_status s = read_one(ld, i, fname, j, sum);
        if (s) return s;
    }
    for (int j = 0; j < m->np; j++) /* a combined bias needs both halves */
        if (ld->summed[j] && ld->hits[j] != 2)
            return dc_error(DC_ERR_FORMAT,
                            "dc_model_load_weights_by_name: %s: %s is bias_ih_l0 + bias_hh_l0, but the file holds only \"%s\"",
                            dc_st_path(ld->st), m->pnames[j], dc_safetensors_name(ld->st, ld->first[j]));
    return DC_OK;
}

static dc_status fill_report(const load *ld, const bool *skipped, dc_weights_report *r) {
    const dc_model *m = ld->m;
    const int n = dc_safetensors_count(ld->st);
    if (!(r->loaded = dc_calloc((size_t)m->np + 1, sizeof(char *))) || !(r->missing = dc_calloc((size_t)m->np + 1, sizeof(char *))) ||
        !(r->skipped = dc_calloc((size_t)n + 1, sizeof(char *))))
        return DC_ERR_NOMEM;
    dc_status s = DC_OK;
    for (int j = 0; !s && j < m->np; j++)
        s = ld->hits[j] ? add_name(r->loaded, &r->nloaded, m->pnames[j]) : add_name(r->missing, &r->nmissing, m->pnames[j]);
    for (int i = 0; !s && i < n; i++)
        if (skipped[i]) s = add_name(r->skipped, &r->nskipped, dc_safetensors_name(ld->st, i));
    return s;
}

dc_status dc_model_load_weights_by_name(dc_model *m, const char *path, const dc_weights_opts *opts, dc_weights_report *report) {
    if (report) memset(report, 0, sizeof *report);
    dc_status s = dc_mf_check_built(m, path, "dc_model_load_weights_by_name");
    if (s) return s;
    dc_safetensors *st = dc_safetensors_open(path);
    if (!st) return dc_last_status();
    const int n = dc_safetensors_count(st);
    int64_t maxn = 1;
    for (int j = 0; j < m->np; j++) maxn = m->ptens[j]->numel > maxn ? m->ptens[j]->numel : maxn;
    load ld = {.m = m, .st = st};
    bool *skipped = dc_calloc((size_t)n + 1, sizeof *skipped);
    ld.pbuf = dc_alloc((size_t)(m->ptotal ? m->ptotal : 1) * sizeof(float));
    ld.sbuf = dc_alloc((size_t)(m->stotal ? m->stotal : 1) * sizeof(float));
    ld.tmp = dc_alloc((size_t)maxn * sizeof(float));
    ld.hits = dc_calloc((size_t)m->np + 1, sizeof *ld.hits);
    ld.first = dc_calloc((size_t)m->np + 1, sizeof *ld.first);
    ld.summed = dc_calloc((size_t)m->np + 1, sizeof *ld.summed);
    if (!skipped || !ld.pbuf || !ld.sbuf || !ld.tmp || !ld.hits || !ld.first || !ld.summed) {
        s = DC_ERR_NOMEM;
    } else {
        /* the copies start as the model is: what the file lacks stays */
        memcpy(ld.pbuf, m->pbuf, (size_t)m->ptotal * sizeof(float));
        memcpy(ld.sbuf, m->sbuf, (size_t)m->stotal * sizeof(float));
        s = read_all(&ld, opts, skipped);
        if (!s && report && (s = fill_report(&ld, skipped, report))) dc_weights_report_free(report);
        if (!s) {
            memcpy(m->pbuf, ld.pbuf, (size_t)m->ptotal * sizeof(float));
            memcpy(m->sbuf, ld.sbuf, (size_t)m->stotal * sizeof(float));
        }
    }
    dc_free(skipped);
    dc_free(ld.pbuf);
    dc_free(ld.sbuf);
    dc_free(ld.tmp);
    dc_free(ld.hits);
    dc_free(ld.first);
    dc_free(ld.summed);
    dc_safetensors_close(st);
    return s;
}
