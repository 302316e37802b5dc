/* Benchmark W3: LSTM(128) -> Dense 10 over Fashion-MNIST rows (28 steps x 28 features), Adam
 * 1e-3, batch 64, one epoch after a 100-step throw-away warm-up, as ../shared/peers/lstm_fashion.py.
 *   lstm_fashion [FMNIST_DIR] [epochs (1)] [warm-up steps (100)] [seed (1234)] */
#include "rows_bench.h"

static dc_model *make_model(void) {
    dc_model *m = dc_sequential();
    dc_model_set_seed(m, bench_seed);
    dc_model_add(m, dc_input(2, (int64_t[]){28, 28}));
    dc_model_add(m, dc_lstm_layer(128, false));
    dc_model_add(m, dc_dense(10, DC_ACT_SOFTMAX));
    return rows_compile(m);
}

int main(int argc, char **argv) { return rows_bench_main(argc, argv, "lstm_fashion", "W3_lstm_fmnist_rows", make_model); }
