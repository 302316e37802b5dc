/* ONNX export: every example architecture of the project (and every exportable layer type) is
 * built with random weights, exported, checked by ONNX's own checker (Debian's python3-onnx,
 * scripts/onnx/check.py) and run by ONNX Runtime (npm's onnxruntime-node,
 * scripts/onnx/ort_run.js), whose outputs must equal dc_model_predict's to 1e-5. Without those
 * tools the export itself and the error cases are still tested, and the checks print
 * "skipped". Also: the errors (a layer type the exporter does not know, an unbuilt model, a bad
 * opset, an unwritable path) leave no file behind. */
#define _POSIX_C_SOURCE 200809L
#include "check.h"
#include "model/model.h"
#include "tmpfiles.h"

#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* A layer type of the user's own, which the exporter cannot know: y = 2 x. */
static dc_status twice_build(dc_layer *l) {
    dc_layer_same_shape(l);
    return DC_OK;
}
static dc_tensor *twice_forward(dc_layer *l, dc_fwd *f, dc_tensor *const *x, int n) { return dc_scale(f->ctx, x[0], 2.0f); }
static const dc_layer_type twice_type = {.name = "Twice", .stem = "twice", .build = twice_build, .forward = twice_forward};

/* src/io/onnx_export.c: whether the exporter knows a registered layer type */
bool dc_onnx_export_knows(const char *name);

static bool ort_ok = true, checker_ok = true; /* cleared when a tool is missing (exit 77) */
static int ort_runs, checker_runs;
static double worst; /* the largest error over every model, relative to max(1, |deepc|) */

/* x [N, shape...] of uniform values in [lo, hi), whole numbers if ints. */
static dc_tensor *rand_input(dc_rng *r, int64_t N, int ndim, const int64_t *shape, float lo, float hi, bool ints) {
    int64_t sh[DC_MAX_DIMS] = {N};
    memcpy(sh + 1, shape, (size_t)ndim * sizeof *sh);
    dc_tensor *t = dc_tensor_new(ndim + 1, sh);
    float *d = dc_tensor_data(t);
    for (int64_t i = 0; i < t->numel; i++) {
        float v = lo + (hi - lo) * dc_rng_uniform(r);
        d[i] = ints ? floorf(v) : v;
    }
    return t;
}

/* Token ids [N, T] in [1, V) with the last `pad[n]` steps of row n set to 0 (trailing padding). */
static dc_tensor *padded_ids(dc_rng *r, int64_t N, int64_t T, int64_t V) {
    dc_tensor *t = rand_input(r, N, 1, &T, 1, (float)V, true);
    float *d = dc_tensor_data(t);
    for (int64_t n = 0; n < N; n++)
        for (int64_t j = T - (n % 3) * (T / 4); j < T; j++) d[n * T + j] = 0;
    return t;
}

static int run(const char *cmd) {
    int rc = system(cmd);
    return rc == -1 ? -1 : WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

/* Exports m, checks the file and compares ONNX Runtime's output on x[0..nx) with deepc's. */
static void check_model(const char *name, dc_model *m, int nx, dc_tensor **x, const dc_onnx_export_opts *opts) {
    char path[256], cmd[2048];
    snprintf(path, sizeof path, "%s/%s.onnx", dir, name);
    CHECK(m != NULL);
    if (!m) return;
    dc_tensor *ref = dc_model_predict_n(m, nx, (const dc_tensor *const *)x, 64);
    CHECK(ref != NULL);
    dc_status s = dc_model_export_onnx(m, path, opts);
    CHECK(s == DC_OK);
    if (s || !ref) {
        fprintf(stderr, "%s: %s\n", name, dc_last_error());
        dc_tensor_free(ref);
        return;
    }
    if (checker_ok) {
        snprintf(cmd, sizeof cmd, "/usr/bin/python3 scripts/onnx/check.py %s > /dev/null", path);
        int rc = run(cmd);
        if (rc == 77 || rc == 127) checker_ok = false;
        else {
            CHECK(rc == 0);
            checker_runs++;
        }
    }
    if (ort_ok) {
        int n = snprintf(cmd, sizeof cmd, "node scripts/onnx/ort_run.js %s", path);
        for (int i = 0; i < nx; i++) {
            char in[256];
            snprintf(in, sizeof in, "%s/%s_in%d.npy", dir, name, i);
            CHECK(dc_npy_save(in, x[i], DC_DTYPE_F32) == DC_OK);
            n += snprintf(cmd + n, sizeof cmd - (size_t)n, " %s", in);
        }
        snprintf(cmd + n, sizeof cmd - (size_t)n, " --out %s/%s_out", dir, name);
        int rc = run(cmd);
        if (rc == 77 || rc == 127) {
            ort_ok = false;
        } else {
            CHECK(rc == 0);
            ort_runs++;
            char out[256];
            snprintf(out, sizeof out, "%s/%s_out0.npy", dir, name);
            dc_tensor *y = rc == 0 ? dc_npy_load(out) : NULL;
            CHECK(y != NULL);
            if (y) {
                CHECK(y->numel == ref->numel);
                const float *a = dc_tensor_data(y), *b = dc_tensor_data(ref);
                double err = 0;
                for (int64_t i = 0; i < y->numel && i < ref->numel; i++) {
                    double e = fabs((double)a[i] - b[i]) / fmax(1.0, fabs((double)b[i]));
                    if (!(e <= err)) err = e; /* NaN counts */
                }
                printf("%-28s onnx_runtime_max_err=%.3g (%lld values)\n", name, err, (long long)ref->numel);
                CHECK(err <= 1e-5);
                if (!(err <= worst)) worst = err;
                dc_tensor_free(y);
            }
        }
    }
    dc_tensor_free(ref);
}

static void check1(const char *name, dc_model *m, dc_tensor *x) {
    check_model(name, m, 1, &x, NULL);
    dc_tensor_free(x);
    dc_model_free(m);
}

static dc_model *seq(int ndim, const int64_t *shape) {
    dc_model *m = dc_sequential();
    dc_model_add(m, dc_input(ndim, shape));
    return m;
}
static dc_model *built(dc_model *m) {
    CHECK(dc_model_build(m, 0, NULL) == DC_OK);
    return m;
}

/* Gives every parameter random values (BatchNormalization's statistics and LayerNorm's scales
 * too, so that none of them is trivially 0 or 1). */
static void randomise(dc_model *m, dc_rng *r) {
    for (int i = 0; i < dc_model_num_layers(m); i++) {
        dc_layer *l = dc_model_layer(m, i);
        for (int k = 0; k < l->nparams; k++) {
            float *d = dc_tensor_data(l->param[k]);
            bool var = strstr(l->decl[k].name, "running_var") != NULL;
            for (int64_t j = 0; j < l->param[k]->numel; j++) d[j] = var ? 0.5f + dc_rng_uniform(r) : 0.4f * dc_rng_normal(r);
        }
    }
}

int main(void) {
    if (!tmp_dir_create()) return 1;
    dc_set_threads(1);
    dc_rng r;
    dc_rng_seed(&r, 7);
    const int64_t N = 5;

    /* ---- the examples' architectures ---- */
    { /* xor */
        dc_model *m = seq(1, (int64_t[]){2});
        dc_model_add(m, dc_dense(4, DC_ACT_SIGMOID));
        dc_model_add(m, dc_dense(1, DC_ACT_SIGMOID));
        built(m), randomise(m, &r);
        check1("xor", m, rand_input(&r, N, 1, (int64_t[]){2}, 0, 1, false));
    }
    { /* iris */
        dc_model *m = seq(1, (int64_t[]){4});
        dc_model_add(m, dc_dense(16, DC_ACT_TANH));
        dc_model_add(m, dc_dense(3, DC_ACT_SOFTMAX));
        built(m), randomise(m, &r);
        check1("iris_mlp", m, rand_input(&r, N, 1, (int64_t[]){4}, -2, 2, false));
    }
    { /* digits MLP */
        dc_model *m = seq(1, (int64_t[]){64});
        dc_model_add(m, dc_dense(128, DC_ACT_RELU));
        dc_model_add(m, dc_dropout_layer(0.2f));
        dc_model_add(m, dc_dense(64, DC_ACT_RELU));
        dc_model_add(m, dc_dense(10, DC_ACT_SOFTMAX));
        built(m), randomise(m, &r);
        check1("digits_mlp", m, rand_input(&r, N, 1, (int64_t[]){64}, 0, 1, false));
    }
    { /* the documents' CNN (cnn_fashion), Conv2D + MaxPooling2D run fused by deepc */
        dc_model *m = seq(3, (int64_t[]){1, 28, 28});
        dc_model_add(m, dc_conv2d_layer(32, 3, 3, 1, DC_PAD_VALID, DC_ACT_RELU));
        dc_model_add(m, dc_max_pool2d_layer(2, 2, 0));
        dc_model_add(m, dc_flatten());
        dc_model_add(m, dc_dense(128, DC_ACT_RELU));
        dc_model_add(m, dc_dropout_layer(0.5f));
        dc_model_add(m, dc_dense(10, DC_ACT_SOFTMAX));
        built(m), randomise(m, &r);
        check1("cnn_fashion", m, rand_input(&r, N, 3, (int64_t[]){1, 28, 28}, 0, 1, false));
    }
    { /* image_classifier's stack, smaller: Conv2D/MaxPool blocks */
        dc_model *m = seq(3, (int64_t[]){3, 32, 32});
        for (int i = 0; i < 3; i++) {
            dc_model_add(m, dc_conv2d_layer(8 << i, 3, 3, 1, DC_PAD_VALID, DC_ACT_RELU));
            dc_model_add(m, dc_max_pool2d_layer(2, 2, 0));
        }
        dc_model_add(m, dc_flatten());
        dc_model_add(m, dc_dense(16, DC_ACT_RELU));
        dc_model_add(m, dc_dense(10, DC_ACT_SOFTMAX));
        built(m), randomise(m, &r);
        check1("image_classifier", m, rand_input(&r, N, 3, (int64_t[]){3, 32, 32}, 0, 1, false));
    }
    { /* lstm_fashion */
        dc_model *m = seq(2, (int64_t[]){28, 28});
        dc_model_add(m, dc_lstm_layer(32, false));
        dc_model_add(m, dc_dense(10, DC_ACT_SOFTMAX));
        built(m), randomise(m, &r);
        check1("lstm_fashion", m, rand_input(&r, N, 2, (int64_t[]){28, 28}, 0, 1, false));
    }
    { /* gdp_forecast: SimpleRNN */
        dc_model *m = seq(2, (int64_t[]){12, 1});
        dc_model_add(m, dc_simple_rnn_layer(16, DC_ACT_TANH, false));
        dc_model_add(m, dc_dense(1, DC_ACT_NONE));
        built(m), randomise(m, &r);
        check1("gdp_forecast_rnn", m, rand_input(&r, N, 2, (int64_t[]){12, 1}, -1, 1, false));
    }
    { /* text_classify: Embedding(mask_zero) -> LSTM, sequences padded at the end */
        dc_model *m = seq(1, (int64_t[]){20});
        dc_model_add(m, dc_embedding_layer(50, 16, true));
        dc_model_add(m, dc_lstm_layer(16, false));
        dc_model_add(m, dc_dense(16, DC_ACT_RELU));
        dc_model_add(m, dc_dense(7, DC_ACT_SOFTMAX));
        built(m), randomise(m, &r);
        check1("text_classify", m, padded_ids(&r, N, 20, 50));
    }
    { /* char_transformer: causal pre-norm encoder layers with GELU */
        dc_model *m = seq(1, (int64_t[]){16});
        dc_model_add(m, dc_embedding_layer(30, 32, false));
        dc_model_add(m, dc_positional_embedding_layer(16, true));
        for (int i = 0; i < 2; i++) dc_model_add(m, dc_transformer_encoder_layer(4, 64, 0.1f, DC_ACT_GELU, true, true));
        dc_model_add(m, dc_layer_norm_layer(1e-5f));
        dc_model_add(m, dc_dense(30, DC_ACT_SOFTMAX));
        built(m), randomise(m, &r);
        check1("char_transformer", m, rand_input(&r, N, 1, (int64_t[]){16}, 0, 30, true));
    }
    { /* seq2seq_reverse: a graph of two inputs, encoder (masked source) and decoder layers */
        const int64_t S = 10, T = 11, V = 14, D = 32;
        dc_model *m = dc_sequential();
        int s = dc_model_input(m, "source", 1, (int64_t[]){S});
        int t = dc_model_input(m, "target", 1, (int64_t[]){T});
        int e = dc_model_apply(m, dc_embedding_layer(V, D, true), 1, &s);
        e = dc_model_apply(m, dc_positional_embedding_layer(S, true), 1, &e);
        for (int i = 0; i < 2; i++) e = dc_model_apply(m, dc_transformer_encoder_layer(4, 64, 0.1f, DC_ACT_RELU, true, false), 1, &e);
        e = dc_model_apply(m, dc_layer_norm_layer(1e-5f), 1, &e);
        int d = dc_model_apply(m, dc_embedding_layer(V, D, false), 1, &t);
        d = dc_model_apply(m, dc_positional_embedding_layer(T, true), 1, &d);
        for (int i = 0; i < 2; i++) d = dc_model_apply(m, dc_transformer_decoder_layer(4, 64, 0.1f, DC_ACT_RELU, true), 2, (int[]){d, e});
        d = dc_model_apply(m, dc_layer_norm_layer(1e-5f), 1, &d);
        CHECK(dc_model_apply(m, dc_dense(V, DC_ACT_SOFTMAX), 1, &d) >= 0);
        built(m), randomise(m, &r);
        dc_tensor *x[2] = {padded_ids(&r, N, S, V), rand_input(&r, N, 1, &T, 1, (float)V, true)};
        check_model("seq2seq_reverse", m, 2, x, NULL);
        dc_tensor_free(x[0]), dc_tensor_free(x[1]), dc_model_free(m);
    }
    { /* speech_ctc: Masking -> Conv1D (stride 2) -> Bidirectional GRU, padded frames at the end */
        const int64_t T = 24, M = 8;
        dc_model *m = seq(2, (int64_t[]){T, M});
        dc_model_add(m, dc_masking_layer(0.0f));
        dc_model_add(m, dc_conv1d_layer(16, 5, 2, DC_PAD_SAME, DC_ACT_RELU));
        dc_model_add(m, dc_bidirectional(dc_gru_layer(12, true), DC_MERGE_CONCAT));
        dc_model_add(m, dc_dense(6, DC_ACT_SOFTMAX));
        built(m), randomise(m, &r);
        dc_tensor *x = rand_input(&r, N, 2, (int64_t[]){T, M}, -1, 1, false);
        float *d = dc_tensor_data(x);
        for (int64_t n = 0; n < N; n++)
            for (int64_t t = T - 4 * (n % 3); t < T; t++)
                for (int64_t k = 0; k < M; k++) d[(n * T + t) * M + k] = 0;
        check1("speech_ctc", m, x);
    }

    /* ---- every other exportable layer and option ---- */
    { /* convolutional autoencoder: SAME padding, strides, BatchNorm, transposed convolutions,
       * upsampling, average and global pooling */
        dc_model *m = dc_sequential();
        int x = dc_model_input(m, "image", 3, (int64_t[]){2, 12, 12});
        int a = dc_model_apply(m, dc_conv2d_layer(6, 3, 3, 2, DC_PAD_SAME, DC_ACT_LEAKY_RELU), 1, &x);
        a = dc_model_apply(m, dc_batch_norm_layer(0, 0), 1, &a);
        int b = dc_model_apply(m, dc_conv2d_transpose_layer(4, 3, 3, 2, DC_PAD_SAME, DC_ACT_ELU), 1, &a);
        b = dc_model_apply(m, dc_conv2d_transpose_layer(4, 1, 1, 2, DC_PAD_SAME, DC_ACT_NONE), 1, &b); /* kernel < stride */
        b = dc_model_apply(m, dc_avg_pool2d_layer(2, 2, 0), 1, &b);
        int c = dc_model_apply(m, dc_conv2d_transpose_layer(4, 4, 4, 2, DC_PAD_VALID, DC_ACT_SIGMOID), 1, &a);
        c = dc_model_apply(m, dc_avg_pool2d_layer(3, 3, 1), 1, &c);
        int u = dc_model_apply(m, dc_upsample2d_layer(2, 2), 1, &a);
        u = dc_model_apply(m, dc_conv2d_layer(4, 3, 3, 1, DC_PAD_SAME, DC_ACT_GELU_TANH), 1, &u);
        int sum = dc_model_apply(m, dc_add_layer(), 2, (int[]){b, u});
        (void)c;
        int g = dc_model_apply(m, dc_global_avg_pool2d_layer(), 1, &sum);
        int g2 = dc_model_apply(m, dc_flatten(), 1, &c);
        int cat = dc_model_apply(m, dc_concatenate_layer(), 2, (int[]){g, g2});
        cat = dc_model_apply(m, dc_batch_norm_layer(0, 0), 1, &cat);
        CHECK(dc_model_apply(m, dc_dense(5, DC_ACT_LOG_SOFTMAX), 1, &cat) >= 0);
        built(m), randomise(m, &r);
        check1("conv_autoencoder", m, rand_input(&r, N, 3, (int64_t[]){2, 12, 12}, -1, 1, false));
    }
    { /* 1-D convolutions and pooling over steps */
        dc_model *m = seq(2, (int64_t[]){20, 3});
        dc_model_add(m, dc_conv1d_layer(8, 3, 1, DC_PAD_CAUSAL, DC_ACT_RELU));
        dc_model_add(m, dc_conv1d_layer(8, 4, 2, DC_PAD_SAME, DC_ACT_TANH));
        dc_model_add(m, dc_max_pool1d_layer(2, 1, DC_PAD_SAME));
        dc_model_add(m, dc_avg_pool1d_layer(3, 2, DC_PAD_SAME));
        dc_model_add(m, dc_conv1d_layer(6, 2, 1, DC_PAD_VALID, DC_ACT_GELU));
        dc_model_add(m, dc_global_max_pool1d_layer());
        dc_model_add(m, dc_dense(3, DC_ACT_NONE));
        built(m), randomise(m, &r);
        check1("conv1d_stack", m, rand_input(&r, N, 2, (int64_t[]){20, 3}, -1, 1, false));
    }
    { /* recurrent variants: stacked return_sequences, GRU, SimpleRNN relu, TimeDistributed,
       * Bidirectional merges, average pooling over steps */
        dc_model *m = dc_sequential();
        int x = dc_model_input(m, "steps", 2, (int64_t[]){9, 4});
        int a = dc_model_apply(m, dc_gru_layer(8, true), 1, &x);
        a = dc_model_apply(m, dc_simple_rnn_layer(8, DC_ACT_RELU, true), 1, &a);
        a = dc_model_apply(m, dc_time_distributed(dc_dense(6, DC_ACT_TANH)), 1, &a);
        int b1 = dc_model_apply(m, dc_bidirectional(dc_lstm_layer(5, true), DC_MERGE_SUM), 1, &a);
        b1 = dc_model_apply(m, dc_global_avg_pool1d_layer(), 1, &b1);
        int b2 = dc_model_apply(m, dc_bidirectional(dc_gru_layer(5, false), DC_MERGE_MUL), 1, &a);
        int b3 = dc_model_apply(m, dc_bidirectional(dc_simple_rnn_layer(5, DC_ACT_SIGMOID, false), DC_MERGE_AVE), 1, &a);
        int b4 = dc_model_apply(m, dc_bidirectional(dc_lstm_layer(5, false), DC_MERGE_CONCAT), 1, &x);
        int b5 = dc_model_apply(m, dc_gru_layer(5, false), 1, &x);
        int cat = dc_model_apply(m, dc_concatenate_layer(), 4, (int[]){b1, b2, b3, b4});
        CHECK(dc_model_apply(m, dc_concatenate_layer(), 2, (int[]){cat, b5}) >= 0);
        built(m), randomise(m, &r);
        check1("recurrent_mix", m, rand_input(&r, N, 2, (int64_t[]){9, 4}, -1, 1, false));
    }
    { /* masks through return_sequences recurrences, Bidirectional and pooling */
        dc_model *m = seq(1, (int64_t[]){12});
        dc_model_add(m, dc_embedding_layer(20, 8, true));
        dc_model_add(m, dc_gru_layer(6, true));
        dc_model_add(m, dc_bidirectional(dc_lstm_layer(5, true), DC_MERGE_CONCAT));
        dc_model_add(m, dc_simple_rnn_layer(4, DC_ACT_TANH, true));
        dc_model_add(m, dc_global_avg_pool1d_layer());
        built(m), randomise(m, &r);
        check1("masked_recurrent", m, padded_ids(&r, N, 12, 20));
    }
    { /* recurrent states: return_state into a decoder's initial state */
        dc_model *m = dc_sequential();
        int s = dc_model_input(m, "source", 2, (int64_t[]){7, 3});
        int t = dc_model_input(m, "target", 2, (int64_t[]){5, 3});
        dc_layer *enc = dc_lstm_layer(6, false);
        dc_layer_set_return_state(enc, true);
        int e = dc_model_apply(m, enc, 1, &s);
        int d = dc_model_apply(m, dc_lstm_layer(6, true), 3, (int[]){t, dc_model_output_of(m, e, 1), dc_model_output_of(m, e, 2)});
        dc_layer *g = dc_gru_layer(4, true);
        dc_layer_set_return_state(g, true);
        int d2 = dc_model_apply(m, g, 1, &d);
        int d3 = dc_model_apply(m, dc_gru_layer(4, false), 2, (int[]){d2, dc_model_output_of(m, d2, 1)});
        CHECK(dc_model_apply(m, dc_dense(2, DC_ACT_NONE), 1, &d3) >= 0);
        built(m), randomise(m, &r);
        dc_tensor *x[2] = {rand_input(&r, N, 2, (int64_t[]){7, 3}, -1, 1, false), rand_input(&r, N, 2, (int64_t[]){5, 3}, -1, 1, false)};
        check_model("encoder_decoder_lstm", m, 2, x, NULL);
        dc_tensor_free(x[0]), dc_tensor_free(x[1]), dc_model_free(m);
    }
    { /* attention: self (causal), cross with a masked memory, separate projections; Permute,
       * Reshape, Masking, post-norm encoder; exported at opset 13 (LayerNorm as its formula) */
        dc_model *m = dc_sequential();
        int q = dc_model_input(m, "queries", 2, (int64_t[]){6, 8});
        int k = dc_model_input(m, "memory", 1, (int64_t[]){9});
        int mem = dc_model_apply(m, dc_embedding_layer(12, 8, true), 1, &k);
        int a = dc_model_apply(m, dc_multi_head_attention_layer(2, true, 0.1f), 1, &q);
        a = dc_model_apply(m, dc_multi_head_attention_layer(4, false, 0), 2, (int[]){a, mem});
        dc_layer *sep = dc_multi_head_attention_layer(2, false, 0);
        dc_layer_set_bool(sep, "separate_projections", true);
        int b = dc_model_apply(m, sep, 2, (int[]){a, mem});
        b = dc_model_apply(m, dc_transformer_encoder_layer(2, 16, 0.1f, DC_ACT_GELU_TANH, false, false), 1, &b);
        b = dc_model_apply(m, dc_permute_layer(2, (int[]){2, 1}), 1, &b);
        b = dc_model_apply(m, dc_reshape_layer(2, (int64_t[]){4, -1}), 1, &b);
        b = dc_model_apply(m, dc_masking_layer(0.5f), 1, &b);
        b = dc_model_apply(m, dc_lstm_layer(3, false), 1, &b);
        CHECK(dc_model_apply(m, dc_activation_layer(DC_ACT_ELU), 1, &b) >= 0);
        built(m), randomise(m, &r);
        dc_tensor *x[2] = {rand_input(&r, N, 2, (int64_t[]){6, 8}, -1, 1, false), padded_ids(&r, N, 9, 12)};
        dc_onnx_export_opts o13 = {.opset = 13, .batch_name = "batch"};
        check_model("attention_opset13", m, 2, x, &o13);
        check_model("attention_opset17", m, 2, x, NULL);
        dc_tensor_free(x[0]), dc_tensor_free(x[1]), dc_model_free(m);
    }

    { /* the general tensor layers imported graphs are made of: Arithmetic (broadcast after the
       * batch), ValueArithmetic, MatMul, Slice, Reduce */
        dc_model *m = dc_sequential();
        int a = dc_model_input(m, "a", 2, (int64_t[]){4, 6});
        int b = dc_model_input(m, "b", 1, (int64_t[]){6});
        int s = dc_model_apply(m, dc_arithmetic_layer(DC_ARITH_MUL), 2, (int[]){a, b}); /* [4, 6] * [1, 6] */
        s = dc_model_apply(m, dc_arithmetic_value_layer(DC_ARITH_SUB, 1, (int64_t[]){6}, true, true), 1, &s);
        s = dc_model_apply(m, dc_arithmetic_value_layer(DC_ARITH_DIV, 2, (int64_t[]){4, 1}, false, false), 1, &s);
        int t = dc_model_apply(m, dc_permute_layer(2, (int[]){2, 1}), 1, &a); /* [6, 4] */
        int mm = dc_model_apply(m, dc_matmul_layer(), 2, (int[]){s, t});      /* [4, 4] */
        mm = dc_model_apply(m, dc_slice_layer(2, 1, 3), 1, &mm);               /* [4, 2] */
        int r1 = dc_model_apply(m, dc_reduce_layer(DC_REDUCE_OP_MEAN, 1, (int[]){1}, false), 1, &mm);
        int r2 = dc_model_apply(m, dc_reduce_layer(DC_REDUCE_OP_MAX, 1, (int[]){2}, true), 1, &mm);
        r2 = dc_model_apply(m, dc_flatten(), 1, &r2);
        int r3 = dc_model_apply(m, dc_reduce_layer(DC_REDUCE_OP_SUM, 2, (int[]){1, 2}, false), 1, &s);
        int sum = dc_model_apply(m, dc_arithmetic_layer(DC_ARITH_ADD), 2, (int[]){r1, r3});
        CHECK(dc_model_apply(m, dc_concatenate_layer(), 2, (int[]){sum, r2}) >= 0);
        built(m), randomise(m, &r);
        float *v = dc_tensor_data(dc_model_param(m, "value_arithmetic_1.value"));
        CHECK(v != NULL);
        for (int i = 0; v && i < 4; i++) v[i] = 1.5f + (float)i; /* a divisor far from 0 */
        dc_tensor *x[2] = {rand_input(&r, N, 2, (int64_t[]){4, 6}, -1, 1, false), rand_input(&r, N, 1, (int64_t[]){6}, -1, 1, false)};
        check_model("tensor_layers", m, 2, x, NULL);
        dc_tensor_free(x[0]), dc_tensor_free(x[1]), dc_model_free(m);
    }

    { /* bert_encode: BERT's embeddings with token types, two encoder layers, the pooler; ids
       * padded with [PAD] = 0 at the end */
        const int64_t T = 12, V = 40;
        dc_model *m = dc_sequential();
        int ids = dc_model_input(m, "input_ids", 1, &T);
        int types = dc_model_input(m, "token_type_ids", 1, &T);
        int h = dc_model_apply(m, dc_bert_embeddings_layer(V, 16, 16, 2, 1e-12f, 0.1f), 2, (int[]){ids, types});
        for (int i = 0; i < 2; i++) h = dc_model_apply(m, dc_bert_layer(4, 32, 1e-12f, 0.1f), 1, &h);
        CHECK(dc_model_apply(m, dc_bert_pooler_layer(), 1, &h) >= 0);
        built(m), randomise(m, &r);
        dc_tensor *x[2] = {padded_ids(&r, N, T, V), rand_input(&r, N, 1, &T, 0, 2, true)};
        check_model("bert_encode", m, 2, x, NULL);
        dc_tensor_free(x[0]), dc_tensor_free(x[1]), dc_model_free(m);
        /* one input: segment 0 for every token */
        m = seq(1, &T);
        dc_model_add(m, dc_bert_embeddings_layer(V, 16, 16, 2, 1e-12f, 0));
        dc_model_add(m, dc_bert_layer(2, 24, 1e-12f, 0));
        built(m), randomise(m, &r);
        check1("bert_one_input", m, padded_ids(&r, N, T, V));
    }
    { /* a linear SimpleRNN (ONNX's Affine activation), alone and in both directions */
        dc_model *m = dc_sequential();
        int x = dc_model_input(m, "steps", 2, (int64_t[]){6, 3});
        int a = dc_model_apply(m, dc_simple_rnn_layer(4, DC_ACT_NONE, false), 1, &x);
        int b = dc_model_apply(m, dc_bidirectional(dc_simple_rnn_layer(4, DC_ACT_NONE, false), DC_MERGE_SUM), 1, &x);
        CHECK(dc_model_apply(m, dc_concatenate_layer(), 2, (int[]){a, b}) >= 0);
        built(m), randomise(m, &r);
        check1("linear_rnn", m, rand_input(&r, N, 2, (int64_t[]){6, 3}, -1, 1, false));
    }

    /* Elementwise (the one-tensor functions of imported graphs), every operation of its
     * schema, each applied to x in (0.1, 0.9) (acosh to e^x) and summed */
    const dc_layer_type *ew = dc_layer_type_find("Elementwise");
    const dc_field *opf = ew ? dc_field_find(ew->fields, ew->nfields, "op") : NULL;
    if (opf) {
        dc_model *m = dc_sequential();
        int x = dc_model_input(m, "x", 1, (int64_t[]){6}), acc = x;
        for (int op = 0; op < opf->count; op++) {
            const char *name = opf->name_of(op);
            double a = 0, b = 0;
            if (!strcmp(name, "pow")) a = 2.5;
            else if (!strcmp(name, "clip")) a = 0.3, b = 0.7;
            else if (!strcmp(name, "selu")) a = 1.6732632, b = 1.0507010;
            else if (!strcmp(name, "celu")) a = 1.5;
            else if (!strcmp(name, "hard_sigmoid")) a = 0.2, b = 0.5;
            else if (!strcmp(name, "thresholded_relu")) a = 0.5;
            else if (!strcmp(name, "shrink")) a = 0.3, b = 0.1;
            dc_layer *l = dc_layer_create(ew);
            double v = op;
            CHECK(l && !dc_layer_set_field(l, "op", &v, 1) && !dc_layer_set_field(l, "alpha", &a, 1) && !dc_layer_set_field(l, "beta", &b, 1));
            int in = x;
            if (!strcmp(name, "acosh")) {
                dc_layer *e = dc_layer_create(ew);
                double ve = 0;
                for (int k = 0; k < opf->count; k++)
                    if (!strcmp(opf->name_of(k), "exp")) ve = k;
                CHECK(e && !dc_layer_set_field(e, "op", &ve, 1));
                in = dc_model_apply(m, e, 1, &x);
            }
            int t = dc_model_apply(m, l, 1, &in);
            acc = dc_model_apply(m, dc_add_layer(), 2, (int[]){acc, t});
        }
        CHECK(acc >= 0);
        built(m);
        check1("elementwise_ops", m, rand_input(&r, N, 1, (int64_t[]){6}, 0.1f, 0.9f, false));
    } else {
        printf("elementwise_ops: skipped (no Elementwise layer type in this build)\n");
    }

    /* ---- errors: nothing is written ---- */
    {
        char path[256];
        snprintf(path, sizeof path, "%s/bert.onnx", dir);
        dc_model *m = seq(1, (int64_t[]){8});
        dc_model_add(m, dc_dense(4, DC_ACT_RELU));
        dc_model_add(m, dc_layer_create(&twice_type));
        built(m);
        CHECK_ERR(dc_model_export_onnx(m, path, NULL), DC_ERR_ARG, "twice", "(Twice)", "does not know");
        CHECK(access(path, F_OK) != 0);
        dc_model_free(m);

        m = seq(1, (int64_t[]){4});
        dc_model_add(m, dc_dense(2, DC_ACT_NONE));
        CHECK_ERR(dc_model_export_onnx(m, path, NULL), DC_ERR_STATE, "not built");
        built(m);
        CHECK_ERR(dc_model_export_onnx(m, path, &(dc_onnx_export_opts){.opset = 9}), DC_ERR_ARG, "opset 9", "13..17");
        CHECK_ERR(dc_model_export_onnx(m, "/nonexistent-dir/x.onnx", NULL), DC_ERR_IO, "/nonexistent-dir");
        CHECK_ERR(dc_model_export_onnx(NULL, path, NULL), DC_ERR_ARG, "NULL");
        CHECK(access(path, F_OK) != 0);
        /* a directory where the file should go is refused and left alone */
        CHECK(mkdir(path, 0700) == 0);
        CHECK(dc_model_export_onnx(m, path, NULL) != DC_OK);
        struct stat st;
        CHECK(stat(path, &st) == 0 && S_ISDIR(st.st_mode));
        rmdir(path);
        /* an existing file survives a failed export unchanged */
        FILE *f = fopen(path, "w");
        fputs("old", f);
        fclose(f);
        dc_model *bad = seq(1, (int64_t[]){4});
        dc_model_add(bad, dc_layer_create(&twice_type));
        built(bad);
        CHECK(dc_model_export_onnx(bad, path, NULL) == DC_ERR_ARG);
        char buf[8] = {0};
        f = fopen(path, "r");
        CHECK(f && fread(buf, 1, 7, f) == 3 && strcmp(buf, "old") == 0);
        if (f) fclose(f);
        /* and a successful one replaces it */
        CHECK(dc_model_export_onnx(m, path, NULL) == DC_OK);
        CHECK(stat(path, &st) == 0 && st.st_size > 3);
        dc_model_free(bad);
        dc_model_free(m);
    }

    /* the registry's types the exporter does not know (none when this was written) */
    {
        char missing[1024] = "";
        for (int i = 0; i < dc_layer_type_count(); i++) {
            const char *name = dc_layer_type_at(i)->name;
            if (!dc_onnx_export_knows(name)) snprintf(missing + strlen(missing), sizeof missing - strlen(missing), " %s", name);
        }
        printf("layer types without an ONNX exporter:%s\n", missing[0] ? missing : " none");
        CHECK(dc_onnx_export_knows("Dense") && dc_onnx_export_knows("InputLayer") && !dc_onnx_export_knows("Twice"));
    }

    if (!checker_ok) printf("onnx.checker: skipped (scripts/onnx/check.py: python3-onnx is not installed)\n");
    else printf("onnx.checker.check_model(full_check=True): %d files passed\n", checker_runs);
    if (!ort_ok) printf("onnx runtime: skipped (node or onnxruntime-node missing: scripts/deps.sh --onnx)\n");
    else printf("onnx runtime: %d models, largest error %.3g\n", ort_runs, worst);
    tmp_dir_remove();
    return check_report("test_onnx_export");
}
