/* Sequence to sequence with an encoder-decoder Transformer: the model reads a digit string of
 * 8 to 12 digits and writes it reversed. A graph model with two inputs (the source digits, and
 * the target so far, shifted right after a start token) is trained with teacher forcing, then
 * decodes held-out strings greedily, one token at a time, until its end token.
 *   source -> Embedding(mask_zero) -> positions -> 2 x TransformerEncoderLayer ---------+
 *   target -> Embedding -> positions -> 2 x TransformerDecoderLayer(target, memory) <--+
 *          -> LayerNorm -> Dense(vocabulary, softmax)
 *   seq2seq_reverse [EPOCHS] [TRAIN_STRINGS] [MODEL_OUT]
 * With MODEL_OUT (a .safetensors path) the trained model is saved there, and the held-out
 * teacher-forcing data beside it as MODEL_OUT's name + _source.npy, _target.npy, _y.npy, which
 *   deepc evaluate MODEL_OUT ..._source.npy ..._target.npy ..._y.npy
 * scores per token.
 * Ends with test_exact_match=... (whole strings right), test_token_accuracy=...; exits
 * non-zero if the exact match is below 0.95. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "deepc.h"

enum { PAD = 0, BOS = 1, EOS = 2, DIGIT0 = 3, V = 13 };
enum { S = 12, T = S + 1, MIN_LEN = 8, D = 64 };

static int fail(const char *what) {
    fprintf(stderr, "seq2seq_reverse: %s: %s\n", what, dc_last_error());
    return 1;
}

/* n strings: src [n, S] digits then padding; tgt_in [n, T] = BOS + reversed; y [n, T] =
 * reversed + EOS, padded. */
static void make_data(dc_rng *r, int64_t n, dc_tensor **src, dc_tensor **tgt_in, dc_tensor **y) {
    *src = dc_tensor_new(2, (int64_t[]){n, S});
    *tgt_in = dc_tensor_new(2, (int64_t[]){n, T});
    *y = dc_tensor_new(2, (int64_t[]){n, T});
    float *s = dc_tensor_data(*src), *ti = dc_tensor_data(*tgt_in), *yy = dc_tensor_data(*y);
    memset(s, 0, (size_t)(n * S) * sizeof(float));
    memset(ti, 0, (size_t)(n * T) * sizeof(float));
    memset(yy, 0, (size_t)(n * T) * sizeof(float));
    for (int64_t i = 0; i < n; i++) {
        int len = MIN_LEN + (int)dc_rng_below(r, S - MIN_LEN + 1);
        for (int t = 0; t < len; t++) s[i * S + t] = (float)(DIGIT0 + dc_rng_below(r, 10));
        ti[i * T] = BOS;
        for (int t = 0; t < len; t++) {
            float d = s[i * S + len - 1 - t];
            yy[i * T + t] = d;
            ti[i * T + t + 1] = d;
        }
        yy[i * T + len] = EOS;
    }
}

static int64_t argmax(const float *p, int64_t k) {
    int64_t b = 0;
    for (int64_t j = 1; j < k; j++)
        if (p[j] > p[b]) b = j;
    return b;
}

/* Greedy decoding of every source string: T passes, each fixing one more token. out [n, T]. */
static dc_status decode(dc_model *m, const dc_tensor *src, dc_tensor *out) {
    int64_t n = dc_tensor_dim(src, 0);
    float *o = dc_tensor_data(out);
    memset(o, 0, (size_t)(n * T) * sizeof(float));
    for (int64_t i = 0; i < n; i++) o[i * T] = BOS;
    dc_tensor *tgt = dc_tensor_new(2, (int64_t[]){n, T});
    if (!tgt) return DC_ERR_NOMEM;
    float *g = dc_tensor_data(tgt);
    memcpy(g, o, (size_t)(n * T) * sizeof(float));
    for (int t = 0; t < T; t++) {
        dc_tensor *p = dc_model_predict_n(m, 2, (const dc_tensor *[]){src, tgt}, 256);
        if (!p) {
            dc_tensor_free(tgt);
            return dc_last_status();
        }
        for (int64_t i = 0; i < n; i++) {
            int64_t k = argmax(dc_tensor_data(p) + (i * T + t) * V, V);
            o[i * T + t] = (float)k; /* out holds the predicted sequence itself */
            if (t + 1 < T) g[i * T + t + 1] = (float)k;
        }
        dc_tensor_free(p);
    }
    dc_tensor_free(tgt);
    return DC_OK;
}

static void print_digits(const float *v, int n, bool stop_at_eos) {
    for (int t = 0; t < n; t++) {
        int k = (int)v[t];
        if (k == PAD || (stop_at_eos && k == EOS)) break;
        putchar(k >= DIGIT0 ? '0' + (k - DIGIT0) : k == EOS ? '$' : '?');
    }
}

int main(int argc, char **argv) {
    int epochs = argc > 1 ? atoi(argv[1]) : 12;
    int64_t ntrain = argc > 2 ? atoll(argv[2]) : 20000;
    const char *model_out = argc > 3 ? argv[3] : NULL;
    if (epochs <= 0 || ntrain <= 0) {
        fprintf(stderr, "usage: seq2seq_reverse [EPOCHS] [TRAIN_STRINGS] [MODEL_OUT]\n");
        return 2;
    }
    dc_rng r;
    dc_rng_seed(&r, 2024);
    dc_tensor *src, *tin, *y, *vsrc, *vtin, *vy, *tsrc, *ttin, *ty;
    make_data(&r, ntrain, &src, &tin, &y);
    make_data(&r, 1000, &vsrc, &vtin, &vy);
    make_data(&r, 1000, &tsrc, &ttin, &ty);

    dc_model *m = dc_sequential();
    dc_model_set_seed(m, 3);
    int s = dc_model_input(m, "source", 1, (int64_t[]){S});
    int t = dc_model_input(m, "target", 1, (int64_t[]){T});
    int e = dc_model_apply(m, dc_embedding_layer(V, D, true), 1, &s);
    e = dc_model_apply(m, dc_positional_embedding_layer(S, true), 1, &e);
    for (int i = 0; i < 2; i++) e = dc_model_apply(m, dc_transformer_encoder_layer(4, 128, 0.1f, DC_ACT_RELU, true, false), 1, &e);
    e = dc_model_apply(m, dc_layer_norm_layer(1e-5f), 1, &e);
    int d = dc_model_apply(m, dc_embedding_layer(V, D, false), 1, &t);
    d = dc_model_apply(m, dc_positional_embedding_layer(T, true), 1, &d);
    for (int i = 0; i < 2; i++) d = dc_model_apply(m, dc_transformer_decoder_layer(4, 128, 0.1f, DC_ACT_RELU, true), 2, (int[]){d, e});
    d = dc_model_apply(m, dc_layer_norm_layer(1e-5f), 1, &d);
    if (dc_model_apply(m, dc_dense(V, DC_ACT_SOFTMAX), 1, &d) < 0) return fail("build");
    dc_optimizer *opt = dc_adam(1e-3f, 0.9f, 0.98f, 1e-8f);
    dc_optimizer_set_clipnorm(opt, 1.0f);
    dc_metric acc = DC_METRIC_ACCURACY;
    if (dc_model_compile(m, opt, DC_LOSS_SPARSE_CCE, &acc, 1)) return fail("compile");
    dc_model_summary(m, stdout);

    dc_fit_opts o = dc_fit_defaults();
    o.epochs = epochs;
    o.batch_size = 64;
    o.val_xs = (const dc_tensor *[]){vsrc, vtin};
    o.val_y = vy;
    if (dc_model_fit_n(m, 2, (const dc_tensor *[]){src, tin}, y, &o, NULL)) return fail("fit");

    /* greedy decoding of the held-out strings */
    int64_t n = dc_tensor_dim(tsrc, 0), exact = 0, tok_ok = 0, tok_all = 0;
    dc_tensor *out = dc_tensor_new(2, (int64_t[]){n, T});
    if (decode(m, tsrc, out)) return fail("decode");
    const float *O = dc_tensor_data(out), *Y = dc_tensor_data(ty);
    for (int64_t i = 0; i < n; i++) {
        bool same = true;
        for (int k = 0; k < T; k++) {
            bool ok = O[i * T + k] == Y[i * T + k];
            if (Y[i * T + k] != PAD) { /* the digits and the end token */
                tok_ok += ok;
                tok_all++;
                same = same && ok;
            }
            if (Y[i * T + k] == EOS) break;
        }
        exact += same;
        if (i < 5) {
            printf("  ");
            print_digits(dc_tensor_data(tsrc) + i * S, S, false);
            printf(" -> ");
            print_digits(O + i * T, T, true);
            printf("%s\n", same ? "" : "   (wrong)");
        }
    }
    if (model_out) {
        if (dc_model_save(m, model_out)) return fail("save");
        size_t k = strlen(model_out);
        if (k > 12 && strcmp(model_out + k - 12, ".safetensors") == 0) k -= 12;
        static const char *const suffix[3] = {"_source.npy", "_target.npy", "_y.npy"};
        const dc_tensor *arr[3] = {tsrc, ttin, ty};
        for (int i = 0; i < 3; i++) {
            char path[1024];
            snprintf(path, sizeof path, "%.*s%s", (int)k, model_out, suffix[i]);
            if (dc_npy_save(path, arr[i], DC_DTYPE_F32)) return fail("save");
        }
    }
    double em = (double)exact / (double)n, ta = (double)tok_ok / (double)tok_all;
    printf("test_strings=%lld\ntest_exact_match=%.4f\ntest_token_accuracy=%.4f\n", (long long)n, em, ta);
    dc_tensor *all[] = {src, tin, y, vsrc, vtin, vy, tsrc, ttin, ty, out};
    for (int i = 0; i < 10; i++) dc_tensor_free(all[i]);
    dc_model_free(m);
    return em >= 0.95 ? 0 : 1;
}
