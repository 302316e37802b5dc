/* The Keras-style summary of a model: each layer's name, type, output shape and parameter
 * count (and, for a graph, the layers feeding it), then the totals. */
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
        if (l->out_ndim) {
            int o = snprintf(shp, sizeof shp, "(None");
            for (int d = 0; d < l->out_ndim && o < (int)sizeof shp; d++)
                o += snprintf(shp + o, sizeof shp - (size_t)o, ", %lld", (long long)l->out_shape[d]);
            if (o < (int)sizeof shp) snprintf(shp + o, sizeof shp - (size_t)o, ")");
        } else {
            snprintf(shp, sizeof shp, "(not built)");
        }
        print_commas(cnt, sizeof cnt, n);
        if (strlen(nm) > 30) { /* a long name on a line of its own keeps the columns aligned */
            fprintf(f, " %s\n", nm);
            nm[0] = 0;
        }
        if (m->graph) {
            char con[160] = "";
            int o = 0;
            for (int k = 0; k < l->nin && o < (int)sizeof con; k++)
                o += snprintf(con + o, sizeof con - (size_t)o, "%s%s", k ? ", " : "", m->layers[l->inputs[k] < 0 ? i - 1 : l->inputs[k]]->name);
            fprintf(f, " %-30s %-25s %-10s %s\n", nm, shp, cnt, con);
        } else {
            fprintf(f, " %-30s %-25s %s\n", nm, shp, cnt);
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

