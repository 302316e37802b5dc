/* Writes model files and checkpoints with the deepc of commit 7b9eca9 (the last before layer
 * types described themselves and model files were written from their schemas), so that the
 * suite checks that files written then still load: tests/golden/old_models/, read by
 * tests/test_model_io.c. Each model's predictions on a fixed input are saved beside it.
 *
 * To regenerate (not needed for the tests):
 *   git worktree add /tmp/deepc-7b9eca9 7b9eca9 && cmake -S /tmp/deepc-7b9eca9 -B /tmp/deepc-7b9eca9/build
 *   cmake --build /tmp/deepc-7b9eca9/build --target deepc
 *   cc -O2 -fopenmp scripts/golden/gen_old_models.c -I/tmp/deepc-7b9eca9/include /tmp/deepc-7b9eca9/build/libdeepc.a \
 *      $(mpicc --showme:link) -L/usr/lib/x86_64-linux-gnu/openblas-openmp -lopenblas -lcjson -lz -lm -o /tmp/gen_old_models
 *   /tmp/gen_old_models tests/golden/old_models */
#include "deepc.h"

#include <stdio.h>
#include <stdlib.h>

static const char *dir;

static dc_tensor *ints(int ndim, const int64_t *shape, int hi, unsigned seed) {
    dc_tensor *t = dc_tensor_new(ndim, shape);
    float *d = dc_tensor_data(t);
    for (int64_t i = 0; i < dc_tensor_numel(t); i++) {
        seed = seed * 1103515245u + 12345u;
        d[i] = (float)((seed >> 16) % (unsigned)hi);
    }
    return t;
}

static dc_tensor *reals(int ndim, const int64_t *shape, unsigned seed) {
    dc_rng r;
    dc_rng_seed(&r, seed);
    dc_tensor *t = dc_tensor_new(ndim, shape);
    for (int64_t i = 0; i < dc_tensor_numel(t); i++) dc_tensor_data(t)[i] = dc_rng_normal(&r);
    return t;
}

static void die(const char *what) {
    fprintf(stderr, "%s: %s\n", what, dc_last_error());
    exit(1);
}

/* Trains two steps (so the optimiser has state), then saves the model, a checkpoint, the inputs
 * and the predictions. */
static void save(dc_model *m, const char *name, int nx, const dc_tensor *const *x, const dc_tensor *y) {
    char p[512];
    dc_fit_opts o = dc_fit_defaults();
    o.verbose = 0;
    o.batch_size = dc_tensor_dim(x[0], 0) / 2;
    if (dc_model_fit_n(m, nx, x, y, &o, NULL)) die(name);
    snprintf(p, sizeof p, "%s/%s.safetensors", dir, name);
    if (dc_model_save(m, p)) die(name);
    snprintf(p, sizeof p, "%s/%s.ckpt", dir, name);
    if (dc_model_save_checkpoint(m, p)) die(name);
    dc_tensor *out = dc_model_predict_n(m, nx, x, 64);
    if (!out) die(name);
    const char *names[] = {"x0", "x1", "y", "pred"};
    const dc_tensor *arr[] = {x[0], nx > 1 ? x[1] : x[0], y, out};
    snprintf(p, sizeof p, "%s/%s_data.npz", dir, name);
    if (dc_npz_save(p, 4, names, arr, DC_DTYPE_F32)) die(name);
    dc_tensor_free(out);
    dc_model_free(m);
}

int main(int argc, char **argv) {
    dir = argc > 1 ? argv[1] : ".";
    dc_metric acc = DC_METRIC_ACCURACY;
    { /* an MLP: Dense, Dropout, Activation, SGD with momentum and clipping */
        dc_model *m = dc_sequential();
        dc_model_add(m, dc_input(1, (int64_t[]){6}));
        dc_layer *d = dc_dense(8, DC_ACT_LEAKY_RELU);
        dc_layer_set_alpha(d, 0.2f);
        dc_model_add(m, d);
        dc_model_add(m, dc_dropout_layer(0.25f));
        dc_layer *d2 = dc_dense(3, DC_ACT_NONE);
        dc_layer_set_use_bias(d2, false);
        dc_model_add(m, d2);
        dc_model_add(m, dc_activation_layer(DC_ACT_SOFTMAX));
        dc_optimizer *o = dc_sgd(0.05f, 0.9f, true);
        dc_optimizer_set_clipnorm(o, 1.0f);
        dc_optimizer_set_weight_decay(o, 1e-4f);
        if (dc_model_compile(m, o, DC_LOSS_SPARSE_CCE, &acc, 1)) die("mlp");
        dc_tensor *x = reals(2, (int64_t[]){16, 6}, 1), *y = ints(1, (int64_t[]){16}, 3, 2);
        save(m, "mlp", 1, (const dc_tensor *const[]){x}, y);
        dc_tensor_free(x);
        dc_tensor_free(y);
    }
    { /* a CNN: Conv2D (explicit padding, strides), BatchNormalization, pooling, UpSampling2D,
       * Conv2DTranspose, GlobalAveragePooling2D; Adam */
        dc_model *m = dc_sequential();
        dc_model_add(m, dc_input(3, (int64_t[]){2, 8, 8}));
        dc_model_add(m, dc_conv2d_layer(4, 3, 3, 1, DC_PAD_SAME, DC_ACT_RELU));
        dc_model_add(m, dc_batch_norm_layer(0.2f, 1e-3f));
        dc_model_add(m, dc_max_pool2d_layer(2, 2, 2));
        dc_layer *c2 = dc_conv2d_layer(3, 2, 3, 1, DC_PAD_VALID, DC_ACT_ELU);
        dc_layer_set_padding(c2, (const int[]){1, 0, 0, 1});
        dc_layer_set_strides(c2, 1, 2);
        dc_model_add(m, c2);
        dc_model_add(m, dc_upsample2d_layer(2, 1));
        dc_model_add(m, dc_conv2d_transpose_layer(2, 3, 3, 2, DC_PAD_SAME, DC_ACT_TANH));
        dc_model_add(m, dc_avg_pool2d_layer(2, 2, 1));
        dc_model_add(m, dc_global_avg_pool2d_layer());
        dc_model_add(m, dc_dense(2, DC_ACT_SIGMOID));
        if (dc_model_compile(m, dc_adam(1e-2f, 0.8f, 0.99f, 1e-6f), DC_LOSS_BCE, &acc, 1)) die("cnn");
        dc_tensor *x = reals(4, (int64_t[]){8, 2, 8, 8}, 3), *y = ints(2, (int64_t[]){8, 2}, 2, 4);
        save(m, "cnn", 1, (const dc_tensor *const[]){x}, y);
        dc_tensor_free(x);
        dc_tensor_free(y);
    }
    { /* sequences: Embedding with mask_zero, LSTM (forget bias), GRU, SimpleRNN, Flatten; RMSprop */
        dc_model *m = dc_sequential();
        dc_model_add(m, dc_input(1, (int64_t[]){5}));
        dc_model_add(m, dc_embedding_layer(7, 4, true));
        dc_layer *l = dc_lstm_layer(6, true);
        dc_layer_set_forget_bias(l, 0.5f);
        dc_model_add(m, l);
        dc_model_add(m, dc_gru_layer(5, true));
        dc_model_add(m, dc_simple_rnn_layer(3, DC_ACT_RELU, false));
        dc_model_add(m, dc_dense(2, DC_ACT_NONE));
        if (dc_model_compile(m, dc_rmsprop(1e-2f, 0.8f, 1e-7f), DC_LOSS_MSE, NULL, 0)) die("rnn");
        dc_tensor *x = ints(2, (int64_t[]){8, 5}, 7, 5), *y = reals(2, (int64_t[]){8, 2}, 6);
        for (int n = 0; n < 8; n++) dc_tensor_data(x)[n * 5 + 4] = 0; /* padding at the end */
        save(m, "rnn", 1, (const dc_tensor *const[]){x}, y);
        dc_tensor_free(x);
        dc_tensor_free(y);
    }
    { /* a graph: two inputs, positional embeddings, encoder and decoder layers, separate-
       * projection cross-attention, LayerNormalization, Add, Concatenate, GlobalAveragePooling1D;
       * Adadelta */
        dc_model *m = dc_sequential();
        int src = dc_model_input(m, "source", 1, (int64_t[]){6});
        int tgt = dc_model_input(m, "target", 1, (int64_t[]){5});
        int e = dc_model_apply(m, dc_embedding_layer(9, 8, true), 1, &src);
        e = dc_model_apply(m, dc_positional_embedding_layer(6, false), 1, &e);
        e = dc_model_apply(m, dc_transformer_encoder_layer(2, 16, 0.1f, DC_ACT_GELU, true, false), 1, &e);
        int d = dc_model_apply(m, dc_embedding_layer(9, 8, false), 1, &tgt);
        d = dc_model_apply(m, dc_positional_embedding_layer(5, true), 1, &d);
        d = dc_model_apply(m, dc_transformer_decoder_layer(2, 16, 0.0f, DC_ACT_RELU, false), 2, (int[]){d, e});
        dc_layer *x_att = dc_multi_head_attention_layer(2, false, 0.0f);
        dc_layer_set_separate_projections(x_att, true);
        int a = dc_model_apply(m, x_att, 2, (int[]){d, e});
        int s = dc_model_apply(m, dc_add_layer(), 2, (int[]){a, d});
        int c = dc_model_apply(m, dc_concatenate_layer(), 2, (int[]){s, a});
        dc_layer *ln = dc_layer_norm_layer(1e-4f);
        c = dc_model_apply(m, ln, 1, &c);
        c = dc_model_apply(m, dc_global_avg_pool1d_layer(), 1, &c);
        dc_model_apply(m, dc_dense(3, DC_ACT_SOFTMAX), 1, &c);
        if (dc_model_compile(m, dc_adadelta(1.0f, 0.9f, 1e-6f), DC_LOSS_CCE, &acc, 1)) die("graph");
        dc_tensor *xs = ints(2, (int64_t[]){8, 6}, 9, 7), *xt = ints(2, (int64_t[]){8, 5}, 9, 8);
        for (int n = 0; n < 8; n++) dc_tensor_data(xs)[n * 6 + 5] = 0;
        dc_tensor *lab = ints(1, (int64_t[]){8}, 3, 9), *y = dc_one_hot(lab, 3);
        save(m, "graph", 2, (const dc_tensor *const[]){xs, xt}, y);
        dc_tensor_free(xs);
        dc_tensor_free(xt);
        dc_tensor_free(lab);
        dc_tensor_free(y);
    }
    { /* BERT's layers in a graph; Adagrad */
        dc_model *m = dc_sequential();
        int ids = dc_model_input(m, "ids", 1, (int64_t[]){6});
        int seg = dc_model_input(m, "segments", 1, (int64_t[]){6});
        int h = dc_model_apply(m, dc_bert_embeddings_layer(11, 8, 6, 2, 1e-12f, 0.1f), 2, (int[]){ids, seg});
        h = dc_model_apply(m, dc_bert_layer(2, 12, 1e-12f, 0.1f), 1, &h);
        h = dc_model_apply(m, dc_bert_pooler_layer(), 1, &h);
        dc_model_apply(m, dc_dense(2, DC_ACT_SOFTMAX), 1, &h);
        if (dc_model_compile(m, dc_adagrad(0.05f, 1e-9f), DC_LOSS_SPARSE_CCE, &acc, 1)) die("bert");
        dc_tensor *xi = ints(2, (int64_t[]){8, 6}, 11, 10), *xg = ints(2, (int64_t[]){8, 6}, 2, 11);
        dc_tensor *y = ints(1, (int64_t[]){8}, 2, 12);
        save(m, "bert", 2, (const dc_tensor *const[]){xi, xg}, y);
        dc_tensor_free(xi);
        dc_tensor_free(xg);
        dc_tensor_free(y);
    }
    puts("old models written");
    return 0;
}
