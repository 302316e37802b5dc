/* A character-level Transformer language model on the text of Debian's fortunes package:
 * Embedding -> learned positions -> 2 causal pre-norm Transformer encoder layers -> LayerNorm
 * -> Dense(vocabulary, softmax), trained to predict every next character of 64-character
 * windows. Prints the validation loss per epoch (falling) and text sampled from a prompt.
 *   char_transformer [FORTUNES_DIR] [EPOCHS] [MAX_CHARS]
 * Ends with val_loss=..., val_accuracy=... (per character); exits non-zero unless the last
 * epoch's validation loss is below the first's. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "deepc.h"

#define T 64

static int fail(const char *what) {
    fprintf(stderr, "char_transformer: %s: %s\n", what, dc_last_error());
    return 1;
}

static int64_t id_of(const dc_vocab *v, char ch) {
    char tok[2] = {ch, 0};
    return dc_vocab_index(v, tok);
}

int main(int argc, char **argv) {
    const char *dir = argc > 1 ? argv[1] : "/usr/share/games/fortunes";
    int epochs = argc > 2 ? atoi(argv[2]) : 4;
    int64_t max_chars = argc > 3 ? atoll(argv[3]) : 300000;
    const char *files[] = {"computers", "science", "linux", "wisdom"};

    /* one stream of text: the entries, each followed by a blank line */
    char *text = malloc((size_t)max_chars + 1);
    int64_t len = 0;
    char **entries = NULL;
    int64_t n = 0;
    for (size_t f = 0; f < sizeof files / sizeof *files && len < max_chars; f++) {
        char path[512];
        snprintf(path, sizeof path, "%s/%s", dir, files[f]);
        if (dc_read_fortunes(path, &entries, &n)) return fail("read");
        for (int64_t i = 0; i < n && len < max_chars; i++) {
            int64_t k = (int64_t)strlen(entries[i]);
            if (len + k + 2 > max_chars) break;
            memcpy(text + len, entries[i], (size_t)k);
            len += k;
            text[len++] = '\n';
            text[len++] = '\n';
        }
        dc_texts_free(entries, n);
    }
    text[len] = 0;
    char *all[] = {text};
    dc_vocab *v = dc_vocab_build(all, 1, 0, true); /* every byte a token */
    if (!v) return fail("vocabulary");
    int64_t V = dc_vocab_size(v);
    printf("text: %lld characters from %s, vocabulary %lld\n", (long long)len, dir, (long long)V);

    /* windows of T characters (stride T/2); the target is the window shifted by one */
    int64_t nwin = (len - T - 1) / (T / 2), nval = nwin / 10, ntr = nwin - nval;
    dc_tensor *x = dc_tensor_new(2, (int64_t[]){ntr, T}), *y = dc_tensor_new(2, (int64_t[]){ntr, T});
    dc_tensor *vx = dc_tensor_new(2, (int64_t[]){nval, T}), *vy = dc_tensor_new(2, (int64_t[]){nval, T});
    for (int64_t w = 0; w < nwin; w++) {
        float *xr = w < ntr ? dc_tensor_data(x) + w * T : dc_tensor_data(vx) + (w - ntr) * T;
        float *yr = w < ntr ? dc_tensor_data(y) + w * T : dc_tensor_data(vy) + (w - ntr) * T;
        for (int64_t t = 0; t < T; t++) { /* validation windows come from the end of the text */
            xr[t] = (float)id_of(v, text[w * (T / 2) + t]);
            yr[t] = (float)id_of(v, text[w * (T / 2) + t + 1]);
        }
    }

    dc_model *m = dc_sequential();
    dc_model_set_seed(m, 7);
    dc_model_add(m, dc_input(1, (int64_t[]){T}));
    dc_model_add(m, dc_embedding_layer(V, 64, false));
    dc_model_add(m, dc_positional_embedding_layer(T, true));
    for (int i = 0; i < 2; i++) dc_model_add(m, dc_transformer_encoder_layer(4, 256, 0.1f, DC_ACT_GELU, true, true));
    dc_model_add(m, dc_layer_norm_layer(1e-5f));
    dc_model_add(m, dc_dense(V, DC_ACT_SOFTMAX));
    dc_metric met[] = {DC_METRIC_ACCURACY};
    dc_optimizer *opt = dc_adam(2e-3f, 0.9f, 0.98f, 1e-8f);
    dc_optimizer_set_clipnorm(opt, 1.0f);
    if (dc_model_compile(m, opt, DC_LOSS_SPARSE_CCE, met, 1)) return fail("compile");
    dc_model_summary(m, stdout);

    dc_fit_opts o = dc_fit_defaults();
    o.epochs = epochs;
    o.batch_size = 32;
    o.val_x = vx;
    o.val_y = vy;
    dc_history *h = NULL;
    if (dc_model_fit(m, x, y, &o, &h)) return fail("fit");

    /* sampling: the model sees the last T characters; causal attention lets the prompt sit at
     * the start of the window with padding after it */
    dc_rng rng;
    dc_rng_seed(&rng, 1);
    const char *prompt = "The computer";
    char out[512];
    int64_t olen = (int64_t)strlen(prompt);
    memcpy(out, prompt, (size_t)olen);
    dc_tensor *in = dc_tensor_new(2, (int64_t[]){1, T});
    while (olen < 300) {
        int64_t start = olen > T ? olen - T : 0, used = olen - start;
        float *d = dc_tensor_data(in);
        for (int64_t t = 0; t < T; t++) d[t] = t < used ? (float)id_of(v, out[start + t]) : 0.0f;
        dc_tensor *p = dc_model_predict(m, in, 1);
        if (!p) return fail("predict");
        const float *row = dc_tensor_data(p) + (used - 1) * V;
        /* temperature 0.7 sampling over the real characters (not padding or unknown) */
        double w[512], sum = 0;
        for (int64_t k = 0; k < V && k < 512; k++) sum += w[k] = k < 2 ? 0 : pow((double)row[k], 1 / 0.7);
        double u = dc_rng_uniform(&rng) * sum;
        int64_t k = 2;
        for (; k < V - 1 && (u -= w[k]) > 0; k++) {
        }
        const char *tok = dc_vocab_token(v, k);
        out[olen++] = tok ? tok[0] : '?';
        dc_tensor_free(p);
    }
    out[olen] = 0;
    printf("sample:\n%s\n", out);

    const double *vl = dc_history_get(h, "val_loss"), *va = dc_history_get(h, "val_accuracy");
    int E = dc_history_epochs(h);
    printf("val_loss_first=%.4f\nval_loss=%.4f\nval_accuracy=%.4f\n", vl[0], vl[E - 1], va[E - 1]);
    int rc = E > 1 && vl[E - 1] < vl[0] ? 0 : 1;
    dc_tensor_free(in);
    dc_history_free(h);
    dc_model_free(m);
    dc_vocab_free(v);
    dc_tensor *t4[] = {x, y, vx, vy};
    for (int i = 0; i < 4; i++) dc_tensor_free(t4[i]);
    free(text);
    return rc;
}
