/* A BERT encoder on one sentence or a sentence pair: WordPiece tokens and their ids, then the
 * pooled vector ([CLS] through the pooler) of the encoder that dc_bert_load builds from a
 * safetensors checkpoint with Hugging Face's names. The default directory holds the tiny random
 * BERT of the golden test (scripts/golden/gen_golden_bert.py); a public checkpoint works the
 * same way (docs/formats.md, "BERT").
 * Usage: bert_encode [dir (tests/golden/bert)] [heads (0: from the file)] ["sentence" ["second sentence"]]
 * dir holds vocab.txt and model.safetensors; the vocabulary is read as uncased (lower-case). */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "deepc.h"

static int fail(const char *what) {
    fprintf(stderr, "bert_encode: %s: %s\n", what, dc_last_error());
    return 1;
}

static bool is_dir(const char *p) {
    struct stat s;
    return stat(p, &s) == 0 && S_ISDIR(s.st_mode);
}

static bool is_number(const char *s) {
    if (!*s) return false;
    for (; *s; s++)
        if (!isdigit((unsigned char)*s)) return false;
    return true;
}

int main(int argc, char **argv) {
    const char *dir = "tests/golden/bert", *text_a = "The quick brown fox jumps over the lazy dog.", *text_b = NULL;
    int heads = 0, a = 1;
    if (a < argc && is_dir(argv[a])) dir = argv[a++];
    if (a < argc && is_number(argv[a])) heads = atoi(argv[a++]);
    if (a < argc) text_a = argv[a++];
    if (a < argc) text_b = argv[a++];
    if (a < argc || heads > 4096) {
        fprintf(stderr, "usage: bert_encode [dir] [heads] [\"sentence\" [\"second sentence\"]]\n");
        return 2;
    }
    char vocab_path[1024], model_path[1024];
    snprintf(vocab_path, sizeof vocab_path, "%s/vocab.txt", dir);
    snprintf(model_path, sizeof model_path, "%s/model.safetensors", dir);

    dc_wordpiece *wp = dc_wordpiece_load(vocab_path, true);
    if (!wp) return fail("vocabulary");
    dc_bert_opts o = dc_bert_defaults();
    o.heads = heads;
    dc_model *m = dc_bert_load(model_path, &o);
    if (!m) {
        dc_wordpiece_free(wp);
        return fail("model");
    }
    dc_tensor *pos = dc_model_param(m, "embeddings.position_embeddings.weight");
    int64_t max_len = dc_tensor_dim(pos, 0), hidden_size = dc_tensor_dim(pos, 1), len = 0;
    float *ids = malloc((size_t)max_len * sizeof *ids), *seg = malloc((size_t)max_len * sizeof *seg),
          *mask = malloc((size_t)max_len * sizeof *mask);
    int rc = 1;
    dc_ctx *c = dc_ctx_new();
    dc_tensor *tid = NULL, *tseg = NULL;
    if (!ids || !seg || !mask || !c) {
        fprintf(stderr, "bert_encode: out of memory\n");
        goto done;
    }
    if (dc_wordpiece_encode(wp, text_a, text_b, max_len, ids, seg, mask, &len)) {
        fail("tokenize");
        goto done;
    }
    printf("text_a: %s\n", text_a);
    if (text_b) printf("text_b: %s\n", text_b);
    printf("%lld WordPiece tokens (id, segment):\n", (long long)len);
    for (int64_t i = 0; i < len; i++)
        printf("  %-12s %5lld  %d\n", dc_wordpiece_token(wp, (int64_t)ids[i]), (long long)ids[i], (int)seg[i]);

    /* one sequence of its own length: no padding */
    tid = dc_tensor_from(2, (int64_t[]){1, len}, ids);
    tseg = dc_tensor_from(2, (int64_t[]){1, len}, seg);
    dc_ctx_set_grad(c, false);
    dc_tensor *hidden = NULL, *pooled = tid && tseg ? dc_bert_forward(m, c, tid, tseg, false, &hidden) : NULL;
    if (!pooled) {
        fail("forward");
        goto done;
    }
    const float *p = dc_tensor_data(pooled);
    double norm = 0;
    for (int64_t j = 0; j < hidden_size; j++) norm += (double)p[j] * p[j];
    norm = sqrt(norm);
    printf("encoder: %d layers, hidden states [1, %lld, %lld]\n", dc_model_num_layers(m) - 3, (long long)len,
           (long long)hidden_size);
    printf("pooled vector (first %d of %lld):", (int)(hidden_size < 8 ? hidden_size : 8), (long long)hidden_size);
    for (int64_t j = 0; j < hidden_size && j < 8; j++) printf(" %.4f", p[j]);
    printf("\n");
    printf("tokens=%lld\nhidden_size=%lld\nlayers=%d\npooled_norm=%.4f\n", (long long)len, (long long)hidden_size,
           dc_model_num_layers(m) - 3, norm);
    rc = 0;
done:
    dc_tensor_free(tid);
    dc_tensor_free(tseg);
    dc_ctx_free(c);
    free(ids);
    free(seg);
    free(mask);
    dc_model_free(m);
    dc_wordpiece_free(wp);
    return rc;
}
