/* The Keras-style summary of a model: each layer's name, type, output shape and parameter
 * count (and, for a graph, the layers feeding it), then the totals. A layer with several outputs
 * lists their shapes as Keras does, "[(None, 5, 16), (None, 16), (None, 16)]", one per line to
 * keep the columns; an input that reads output k of a layer shows as "name:k", as model files
 * write it. */
#include "model.h"

#include <stdio.h>
#include <string.h>

static void print_commas(char *buf, size_t size, int64_t v) {
    char tmp[32];
    int n = snprintf(tmp, sizeof tmp, "%lld", (long long)v), o = 0;
    for (int i = 0; i < n && (size_t)o + 2 < size; i++) {
        if (i && (n - i) % 3 == 0) buf[o++] = ',';
        buf[o++] = tmp[i];
    }
    buf[o] = 0;
}

/* Output k of l as "(None, 5, 16)", with Keras's list brackets around several outputs: "[(...),"
 * for the first, " (...)," for the others (the caller closes the last). */
static void shape_str(const dc_layer *l, int k, char *shp, size_t size) {
    int64_t sh[DC_MAX_DIMS];
    int nd = dc_layer_out_shape_k(l, k, sh), nout = dc_layer_nout(l);
    int o = snprintf(shp, size, "%s(None", nout == 1 ? "" : k == 0 ? "[" : " ");
    for (int d = 0; d < nd && o < (int)size; d++) o += snprintf(shp + o, size - (size_t)o, ", %lld", (long long)sh[d]);
    if (o < (int)size) snprintf(shp + o, size - (size_t)o, ")%s", nout > 1 && k < nout - 1 ? "," : "");
}

void dc_model_summary(const dc_model *m, FILE *f) {
    if (!m || !f) return;
    const char *line = "______________________________________________________________________";
    const char *dline = "======================================================================";
    if (m->graph)
        fprintf(f, "Model: \"model\"\n%s%s\n %-30s %-25s %-10s %s\n%s%s\n", line, "______________________", "Layer (type)",
                "Output Shape", "Param #", "Connected to", dline, "======================");
    else
        fprintf(f, "Model: \"sequential\"\n%s\n %-30s %-25s %s\n%s\n", line, "Layer (type)", "Output Shape", "Param #", dline);
    int64_t total = 0, trainable = 0;
    bool first = true;
    for (int i = 0; i < m->nlayers; i++) {
        const dc_layer *l = m->layers[i];
        /* a Sequential's input is hidden, as Keras does; a graph lists its inputs */
        if (!m->graph && (l->type->flags & DC_LAYER_INPUT)) continue;
        if (!first) fprintf(f, "\n");
        first = false;
        char nm[96], shp[160], cnt[32];
        snprintf(nm, sizeof nm, "%s (%s)", l->name, l->type->name);
        int64_t n = 0;
        for (int k = 0; k < l->nparams; k++) {
            int64_t e = 1;
            for (int d = 0; d < l->decl[k].ndim; d++) e *= l->decl[k].shape[d];
            n += e;
            if (l->decl[k].trainable) trainable += e;
        }
        total += n;
        int nout = dc_layer_nout(l);
        if (l->out_ndim) shape_str(l, 0, shp, sizeof shp);
        else snprintf(shp, sizeof shp, "(not built)");
        print_commas(cnt, sizeof cnt, n);
        if (strlen(nm) > 30) { /* a long name on a line of its own keeps the columns aligned */
            fprintf(f, " %s\n", nm);
            nm[0] = 0;
        }
        if (m->graph) {
            char con[160] = "";
            int o = 0;
            for (int k = 0; k < l->nin && o < (int)sizeof con; k++) {
                o += snprintf(con + o, sizeof con - (size_t)o, "%s%s", k ? ", " : "", m->layers[l->inputs[k] < 0 ? i - 1 : l->inputs[k]]->name);
                if (l->inputs[k] >= 0 && l->input_out[k] && o < (int)sizeof con)
                    o += snprintf(con + o, sizeof con - (size_t)o, ":%d", l->input_out[k]);
            }
            fprintf(f, " %-30s %-25s %-10s %s\n", nm, shp, cnt, con);
        } else {
            fprintf(f, " %-30s %-25s %s\n", nm, shp, cnt);
        }
        for (int k = 1; k < nout; k++) { /* the other outputs' shapes under the first */
            shape_str(l, k, shp, sizeof shp);
            if (k == nout - 1) strncat(shp, "]", sizeof shp - strlen(shp) - 1);
            fprintf(f, " %-30s %s\n", "", shp);
        }
    }
    char tot[32], tr[32], nt[32];
    print_commas(tot, sizeof tot, total);
    print_commas(tr, sizeof tr, trainable);
    print_commas(nt, sizeof nt, total - trainable);
    fprintf(f, "%s%s\n", dline, m->graph ? "======================" : "");
    fprintf(f, "Total params: %s\nTrainable params: %s\nNon-trainable params: %s\n%s%s\n", tot, tr, nt, line,
            m->graph ? "______________________" : "");
}

