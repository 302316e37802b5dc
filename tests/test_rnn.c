/* Sequence models end to end: layer shapes, stacking, masks from Embedding(mask_zero) with
 * front and back padding, learning a toy task, and bad inputs. */
#include "check.h"

static void test_shapes_and_stacking(void) {
    dc_model *m = dc_sequential();
    dc_model_add(m, dc_input(1, (int64_t[]){12}));
    dc_model_add(m, dc_embedding_layer(50, 8, true));
    dc_model_add(m, dc_lstm_layer(16, true));
    dc_model_add(m, dc_gru_layer(8, true));
    dc_model_add(m, dc_simple_rnn_layer(4, DC_ACT_TANH, false));
    dc_model_add(m, dc_dense(2, DC_ACT_SOFTMAX));
    CHECK(dc_model_build(m, 0, NULL) == DC_OK);
    int64_t sh[DC_MAX_DIMS];
    CHECK(dc_layer_output_shape(dc_model_layer(m, 1), sh) == 2 && sh[0] == 12 && sh[1] == 8);
    CHECK(dc_layer_output_shape(dc_model_layer(m, 2), sh) == 2 && sh[0] == 12 && sh[1] == 16);
    CHECK(dc_layer_output_shape(dc_model_layer(m, 4), sh) == 1 && sh[0] == 4);
    /* Keras's counts: LSTM 4*(16*8 + 16*16 + 16); GRU (reset_after) 3*(8*16 + 8*8 + 2*8); RNN 4*8 + 4*4 + 4 */
    CHECK(dc_model_param_count(m) == 50 * 8 + 4 * (16 * 8 + 16 * 16 + 16) + 3 * (8 * 16 + 8 * 8 + 16) + (4 * 8 + 16 + 4) + 10);
    /* the LSTM's forget-gate bias starts at 1 */
    dc_tensor *b = dc_model_param(m, "lstm.bias");
    CHECK(b && dc_tensor_data(b)[16] == 1.0f && dc_tensor_data(b)[0] == 0.0f && dc_tensor_data(b)[32] == 0.0f);
    dc_model_free(m);
}

/* The same token sequence padded at the front or at the back gives the same final state. */
static void test_mask_padding(void) {
    dc_model *m = dc_sequential();
    dc_model_set_seed(m, 3);
    dc_model_add(m, dc_input(1, (int64_t[]){6}));
    dc_model_add(m, dc_embedding_layer(10, 4, true));
    dc_model_add(m, dc_lstm_layer(5, false));
    CHECK(dc_model_build(m, 0, NULL) == DC_OK);
    const float ids[] = {3, 7, 2, 0, 0, 0, 0, 0, 0, 3, 7, 2};
    dc_tensor *x = dc_tensor_from(2, (int64_t[]){2, 6}, ids);
    dc_tensor *p = dc_model_predict(m, x, 2);
    CHECK(p != NULL);
    double md = 0;
    for (int j = 0; p && j < 5; j++) md = fmax(md, fabs((double)dc_tensor_data(p)[j] - dc_tensor_data(p)[5 + j]));
    CHECK(md < 1e-6);
    dc_tensor_free(p);
    dc_tensor_free(x);
    dc_model_free(m);
}

/* Toy task: is the first element of a sequence positive? (needs memory across steps) */
static void test_learns(void) {
    dc_rng r;
    dc_rng_seed(&r, 4);
    const int64_t N = 512, T = 10;
    dc_tensor *x = dc_tensor_new(3, (int64_t[]){N, T, 1}), *y = dc_tensor_new(1, (int64_t[]){N});
    for (int64_t i = 0; i < N * T; i++) dc_tensor_data(x)[i] = dc_rng_normal(&r);
    for (int64_t i = 0; i < N; i++) dc_tensor_data(y)[i] = dc_tensor_data(x)[i * T] > 0;
    dc_layer *cells[3] = {dc_simple_rnn_layer(16, DC_ACT_TANH, false), dc_lstm_layer(16, false), dc_gru_layer(16, false)};
    for (int k = 0; k < 3; k++) {
        dc_model *m = dc_sequential();
        dc_model_set_seed(m, 9);
        dc_model_add(m, dc_input(2, (int64_t[]){T, 1}));
        dc_model_add(m, cells[k]);
        dc_model_add(m, dc_dense(2, DC_ACT_SOFTMAX));
        dc_metric met[] = {DC_METRIC_ACCURACY};
        dc_optimizer *o = dc_adam(1e-2f, 0.9f, 0.999f, 1e-7f);
        dc_optimizer_set_clipnorm(o, 1.0f);
        CHECK(dc_model_compile(m, o, DC_LOSS_SPARSE_CCE, met, 1) == DC_OK);
        dc_fit_opts f = dc_fit_defaults();
        f.epochs = 30;
        f.verbose = 0;
        CHECK(dc_model_fit(m, x, y, &f, NULL) == DC_OK);
        double res[2];
        CHECK(dc_model_evaluate(m, x, y, 128, res) == DC_OK);
        printf("%s remembers the first step: accuracy %.3f\n", k == 0 ? "SimpleRNN" : k == 1 ? "LSTM" : "GRU", res[1]);
        CHECK(res[1] > (k == 0 ? 0.8 : 0.9));
        dc_model_free(m);
    }
    dc_tensor_free(x);
    dc_tensor_free(y);
}

static void test_bad_input(void) {
    dc_model *m = dc_sequential();
    dc_model_add(m, dc_input(1, (int64_t[]){5}));
    dc_model_add(m, dc_embedding_layer(10, 4, false));
    dc_model_add(m, dc_lstm_layer(3, false));
    dc_model_add(m, dc_dense(2, DC_ACT_SOFTMAX));
    CHECK(dc_model_compile(m, dc_sgd(0.1f, 0, false), DC_LOSS_SPARSE_CCE, NULL, 0) == DC_OK);
    dc_tensor *x = dc_tensor_new(2, (int64_t[]){2, 5}), *y = dc_tensor_new(1, (int64_t[]){2});
    dc_tensor_data(x)[7] = 12; /* token id beyond the vocabulary */
    CHECK_ERR(dc_model_fit(m, x, y, NULL, NULL), DC_ERR_ARG, "epoch 1", "embedding: token id 12", "[0, 10)");
    dc_tensor_data(x)[7] = -1;
    CHECK_NULL_ERR(dc_model_predict(m, x, 2), "embedding", "token id -1");
    dc_tensor *x7 = dc_tensor_new(2, (int64_t[]){2, 7}); /* longer than the model's 5 steps */
    CHECK_ERR(dc_model_fit(m, x7, y, NULL, NULL), DC_ERR_SHAPE, "embedding", "(None, 5)", "[2, 7]");
    dc_model_free(m);
    /* a recurrent layer on non-sequence input, and bad arguments */
    m = dc_sequential();
    dc_model_add(m, dc_input(1, (int64_t[]){5}));
    CHECK_ERR(dc_model_add(m, dc_lstm_layer(3, false)), DC_ERR_SHAPE, "lstm", "(None, T, features)");
    dc_model_free(m);
    CHECK_NULL_ERR(dc_lstm_layer(0, false), "units");
    CHECK_NULL_ERR(dc_simple_rnn_layer(4, DC_ACT_SOFTMAX, false), "softmax");
    CHECK_NULL_ERR(dc_embedding_layer(0, 4, false), "vocabulary");
    dc_ctx *c = dc_ctx_new();
    dc_tensor *xs = dc_zeros(c, 3, (int64_t[]){2, 3, 4}), *wi = dc_zeros(c, 2, (int64_t[]){8, 4});
    dc_tensor *wh = dc_zeros(c, 2, (int64_t[]){8, 3});
    CHECK_NULL_ERR(dc_lstm(c, xs, wi, wh, NULL, NULL, NULL, NULL), "lstm", "W_hh", "[8, 3]");
    dc_tensor *wh2 = dc_zeros(c, 2, (int64_t[]){8, 2}), *h0 = dc_zeros(c, 2, (int64_t[]){3, 2});
    CHECK_NULL_ERR(dc_lstm(c, xs, wi, wh2, NULL, h0, NULL, NULL), "lstm", "h0", "[2, 2]", "[3, 2]");
    CHECK_NULL_ERR(dc_gru(c, xs, wi, wh2, NULL, NULL, NULL, NULL), "gru", "W_hh");
    dc_ctx_free(c);
    dc_tensor_free(x);
    dc_tensor_free(x7);
    dc_tensor_free(y);
}

/* One class index per step: outputs [N, T, V] against labels [N, T] (a tagger or a language
 * model). The task: tag each token with the token before it (step 0: itself). */
static void test_per_step_labels(void) {
    const int64_t N = 256, T = 6, V = 8;
    dc_tensor *x = dc_tensor_new(2, (int64_t[]){N, T}), *y = dc_tensor_new(2, (int64_t[]){N, T});
    dc_rng r;
    dc_rng_seed(&r, 3);
    for (int64_t i = 0; i < N * T; i++) dc_tensor_data(x)[i] = (float)(1 + dc_rng_below(&r, V - 1));
    for (int64_t i = 0; i < N * T; i++) dc_tensor_data(y)[i] = dc_tensor_data(x)[i % T ? i - 1 : i];
    dc_model *m = dc_sequential();
    dc_model_add(m, dc_input(1, (int64_t[]){T}));
    dc_model_add(m, dc_embedding_layer(V, 16, false));
    dc_model_add(m, dc_gru_layer(32, true));
    dc_model_add(m, dc_dense(V, DC_ACT_SOFTMAX));
    CHECK(dc_model_compile(m, dc_adam(0.02f, 0.9f, 0.999f, 1e-7f), DC_LOSS_SPARSE_CCE, (dc_metric[]){DC_METRIC_ACCURACY}, 1) ==
          DC_OK);
    dc_fit_opts o = dc_fit_defaults();
    o.epochs = 25;
    o.verbose = 0;
    dc_history *h = NULL;
    CHECK(dc_model_fit(m, x, y, &o, &h) == DC_OK);
    double res[2] = {0, 0};
    CHECK(dc_model_evaluate(m, x, y, 64, res) == DC_OK);
    CHECK(res[1] > 0.95);         /* per-step accuracy */
    CHECK(res[0] < 0.3);          /* mean cross-entropy per step */
    const double *acc = dc_history_get(h, "accuracy");
    CHECK(acc && acc[0] < acc[24]);
    dc_tensor *p = dc_model_predict(m, x, 64);
    CHECK(p && dc_tensor_ndim(p) == 3 && dc_tensor_dim(p, 2) == V);
    float sum = 0;
    for (int64_t k = 0; p && k < V; k++) sum += dc_tensor_data(p)[k];
    CHECK_NEAR(sum, 1.0, 1e-5); /* probabilities per step */
    dc_tensor *bad = dc_tensor_new(1, (int64_t[]){N});
    CHECK_ERR(dc_model_fit(m, x, bad, &o, NULL), DC_ERR_SHAPE, "one class index per step", "6 per row", "[256]");
    dc_tensor_data(y)[7] = 8;
    CHECK_ERR(dc_model_fit(m, x, y, &o, NULL), DC_ERR_ARG, "label 8 at row 1", "[0, 8)");
    dc_tensor_free(bad);
    dc_tensor_free(p);
    dc_history_free(h);
    dc_model_free(m);
    dc_tensor_free(x);
    dc_tensor_free(y);
}

int main(void) {
    test_per_step_labels();
    test_shapes_and_stacking();
    test_mask_padding();
    test_learns();
    test_bad_input();
    return check_report("test_rnn");
}
