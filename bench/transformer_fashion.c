/* Benchmark W4: a small Transformer encoder over Fashion-MNIST rows (28 tokens x 28 features):
 * Dense(64) + learned positions, 2 post-norm encoder layers (4 heads, feed-forward 128, ReLU,
 * dropout 0.1), mean over tokens, Dense 10; Adam 1e-3, batch 64, one epoch after a 100-step
 * throw-away warm-up, as ../shared/peers/transformer_fashion.py.
 *   transformer_fashion [FMNIST_DIR] [epochs (1)] [warm-up steps (100)] [seed (1234)] */
#include "rows_bench.h"

static dc_model *make_model(void) {
    dc_model *m = dc_sequential();
    dc_model_set_seed(m, bench_seed);
    dc_model_add(m, dc_input(2, (int64_t[]){28, 28}));
    dc_model_add(m, dc_dense(64, DC_ACT_NONE));
    dc_model_add(m, dc_positional_embedding_layer(28, true));
    for (int i = 0; i < 2; i++) dc_model_add(m, dc_transformer_encoder_layer(4, 128, 0.1f, DC_ACT_RELU, false, false));
    dc_model_add(m, dc_global_avg_pool1d_layer());
    dc_model_add(m, dc_dense(10, DC_ACT_SOFTMAX));
    return rows_compile(m);
}

int main(int argc, char **argv) {
    return rows_bench_main(argc, argv, "transformer_fashion", "W4_transformer_fmnist_rows", make_model);
}
