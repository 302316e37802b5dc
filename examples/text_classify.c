/* Text classification on Debian's `fortunes` package: every entry of a category file is a text
 * labelled with its category. Embedding(10000, 64, mask_zero) -> LSTM(64) -> Dense(64, relu) ->
 * Dense(k, softmax); a fixed, seeded 80/20 split; the test accuracy next to the majority-class
 * baseline. Usage: text_classify [fortunes dir (/usr/share/games/fortunes)] [epochs (8)] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "deepc.h"

#define MAXLEN 60

static const char *const categories[] = {"computers", "science", "politics", "literature", "law", "education", "food"};
#define K (int)(sizeof categories / sizeof categories[0])

static int fail(const char *what) {
    fprintf(stderr, "text_classify: %s: %s\n", what, dc_last_error());
    return 1;
}

int main(int argc, char **argv) {
    const char *dir = argc > 1 ? argv[1] : "/usr/share/games/fortunes";
    int epochs = argc > 2 ? atoi(argv[2]) : 8;
    if (epochs <= 0) {
        fprintf(stderr, "usage: text_classify [fortunes dir] [epochs > 0]\n");
        return 2;
    }
    char **texts = NULL;
    float *labels = NULL;
    int64_t n = 0, counts[K];
    for (int k = 0; k < K; k++) {
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", dir, categories[k]);
        char **t;
        int64_t m;
        if (dc_read_fortunes(path, &t, &m)) return fail("read (apt-get install fortunes)");
        texts = realloc(texts, (size_t)(n + m) * sizeof *texts);
        labels = realloc(labels, (size_t)(n + m) * sizeof *labels);
        for (int64_t i = 0; i < m; i++) {
            texts[n + i] = t[i];
            labels[n + i] = (float)k;
        }
        free(t); /* the strings moved into texts */
        counts[k] = m;
        n += m;
        printf("%-11s %5lld texts\n", categories[k], (long long)m);
    }
    /* seeded 80/20 split of the texts */
    int64_t *idx = malloc((size_t)n * sizeof *idx);
    for (int64_t i = 0; i < n; i++) idx[i] = i;
    dc_rng rng;
    dc_rng_seed(&rng, 2024);
    dc_rng_shuffle(&rng, idx, n);
    int64_t ntest = n / 5, ntrain = n - ntest;
    char **tr = malloc((size_t)ntrain * sizeof *tr), **te = malloc((size_t)ntest * sizeof *te);
    dc_tensor *ytr = dc_tensor_new(1, (int64_t[]){ntrain}), *yte = dc_tensor_new(1, (int64_t[]){ntest});
    for (int64_t i = 0; i < n; i++) {
        if (i < ntrain) {
            tr[i] = texts[idx[i]];
            dc_tensor_data(ytr)[i] = labels[idx[i]];
        } else {
            te[i - ntrain] = texts[idx[i]];
            dc_tensor_data(yte)[i - ntrain] = labels[idx[i]];
        }
    }
    /* the vocabulary comes from the training texts only */
    dc_vocab *voc = dc_vocab_build(tr, ntrain, 10000 - 2, false);
    if (!voc) return fail("vocabulary");
    dc_tensor *xtr = dc_texts_to_sequences(voc, tr, ntrain, MAXLEN, false, NULL);
    dc_tensor *xte = dc_texts_to_sequences(voc, te, ntest, MAXLEN, false, NULL);
    if (!xtr || !xte) return fail("sequences");
    printf("%lld texts, %d categories, vocabulary %lld words, sequences of %d tokens\n", (long long)n, K,
           (long long)dc_vocab_size(voc), MAXLEN);

    dc_model *m = dc_sequential();
    dc_model_set_seed(m, 5);
    dc_model_add(m, dc_input(1, (int64_t[]){MAXLEN}));
    dc_model_add(m, dc_embedding_layer(10000, 64, true));
    dc_model_add(m, dc_lstm_layer(64, false));
    dc_model_add(m, dc_dense(64, DC_ACT_RELU));
    dc_model_add(m, dc_dense(K, DC_ACT_SOFTMAX));
    dc_metric met[] = {DC_METRIC_ACCURACY};
    dc_optimizer *opt = dc_adam(2e-3f, 0.9f, 0.999f, 1e-7f);
    dc_optimizer_set_clipnorm(opt, 5.0f);
    if (dc_model_compile(m, opt, DC_LOSS_SPARSE_CCE, met, 1)) return fail("compile");
    dc_model_summary(m, stdout);
    dc_fit_opts o = dc_fit_defaults();
    o.epochs = epochs;
    o.batch_size = 32;
    o.validation_split = 0.1f;
    if (dc_model_fit(m, xtr, ytr, &o, NULL)) return fail("fit");
    double res[2];
    if (dc_model_evaluate(m, xte, yte, 256, res)) return fail("evaluate");
    int64_t major = 0, test_major = 0;
    for (int k = 1; k < K; k++)
        if (counts[k] > counts[major]) major = k;
    for (int64_t i = 0; i < ntest; i++) test_major += dc_tensor_data(yte)[i] == (float)major;
    double baseline = (double)test_major / (double)ntest;
    printf("majority class: %s\n", categories[major]);
    printf("test_accuracy=%.4f\nbaseline_accuracy=%.4f\n", res[1], baseline);
    int rc = res[1] > baseline + 0.1 ? 0 : 1;
    dc_texts_free(texts, n);
    free(labels);
    free(idx);
    free(tr);
    free(te);
    dc_vocab_free(voc);
    dc_tensor *all[] = {xtr, ytr, xte, yte};
    for (int i = 0; i < 4; i++) dc_tensor_free(all[i]);
    dc_model_free(m);
    return rc;
}
