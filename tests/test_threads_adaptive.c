/* The adaptive team size: the tuner's choices on synthetic step times (a competing process
 * that makes the full team slow, a quiet machine, a change between the two) and what they
 * cost; a fixed count that never adapts; and training that ends bit-identical whatever team
 * sizes ran it, for a CNN whose kernels cut their partial sums and GEMMs by the configured
 * count (Conv2D with and without a fused pool, BatchNormalization, dropout, Dense), and for an
 * LSTM + GRU stack whose step products each thread runs on its chunk of the batch. */
#include <stdlib.h>

#include "check.h"
#include "base/base.h"

/* Synthetic seconds per step for team sizes 1, 2, 4 (index by size). */
typedef struct costs {
    double c[5];
} costs;

/* Ticks `steps` training steps whose duration depends on the team the tuner set; returns the
 * total time and advances *now. */
static double run_steps(double *now, long steps, const costs *k) {
    double t0 = *now;
    for (long i = 0; i < steps; i++) {
        *now += k->c[dc_threads_team()];
        dc_threads_tick_at(DC_TICK_TRAIN, *now);
    }
    return *now - t0;
}

static void test_tuner(void) {
    dc_set_threads_adaptive(4);
    CHECK(dc_threads_adaptive() && dc_get_threads() == 4 && dc_threads_team() == 4);
    double now = 1000;
    dc_threads_tick_at(DC_TICK_TRAIN, now);
    /* competition: the full team loses scheduler slices, one thread runs at full speed */
    costs busy = {{0, 2e-3, 3e-3, 0, 40e-3}};
    double t = run_steps(&now, 20000, &busy);
    CHECK(dc_threads_team() == 1);
    double over = t / (20000 * 2e-3);
    printf("tuner: under competition %.3fx the best size's time, keeping %d\n", over, dc_threads_team());
    CHECK(over < 1.15);
    /* the competitor leaves: the full team is fastest, found at the next probe */
    costs quiet = {{0, 2e-3, 1.1e-3, 0, 0.7e-3}};
    long steps = 0;
    while (dc_threads_team() != 4 && steps < 100000) {
        run_steps(&now, 1, &quiet);
        steps++;
    }
    CHECK(dc_threads_team() == 4);
    printf("tuner: quiet again, %d threads after %.2f s\n", dc_threads_team(), steps * 2e-3);
    CHECK(steps * 2e-3 < 30); /* within the exploit period of the last probe and one probe */
    t = run_steps(&now, 50000, &quiet);
    over = t / (50000 * 0.7e-3);
    printf("tuner: quiet, %.3fx the best size's time\n", over);
    CHECK(over < 1.05);
    /* competition comes back: the kept size slows down and the tuner probes at once */
    steps = 0;
    while (dc_threads_team() != 1 && steps < 100000) {
        run_steps(&now, 1, &busy);
        steps++;
    }
    CHECK(dc_threads_team() == 1);
    printf("tuner: competition again, 1 thread after %.2f s\n", steps * 40e-3);
    CHECK(steps < 200);
    run_steps(&now, 2000, &busy); /* the probe ends, keeping 1 */
    CHECK(dc_threads_team() == 1);
    /* a second stream keeps its own choice: inference batches fastest on 2 threads */
    costs infer = {{0, 4e-3, 1e-3, 0, 3e-3}};
    dc_threads_tick_at(DC_TICK_INFER, now);
    CHECK(dc_threads_team() == 1); /* its first probe starts from the training's choice */
    for (int i = 0; i < 3000; i++) {
        now += infer.c[dc_threads_team()];
        dc_threads_tick_at(DC_TICK_INFER, now);
    }
    CHECK(dc_threads_team() == 2);
    dc_threads_tick_at(DC_TICK_TRAIN, now);
    CHECK(dc_threads_team() == 1); /* back to the training's choice */
    /* bad streams are ignored */
    dc_threads_tick_at(-1, now);
    dc_threads_tick_at(DC_TICK_STREAMS, now);
    CHECK(dc_threads_team() == 1);
}

static void test_fixed(void) {
    dc_set_threads(2);
    CHECK(!dc_threads_adaptive() && dc_get_threads() == 2 && dc_threads_team() == 2);
    double now = 5000;
    costs k = {{0, 1e-3, 9e-3, 0, 0}};
    run_steps(&now, 5000, &k);
    CHECK(dc_threads_team() == 2); /* a count asked for is kept */
    dc_set_threads_adaptive(1);
    CHECK(!dc_threads_adaptive() && dc_get_threads() == 1); /* one thread has nothing to adapt */
    dc_set_threads_adaptive(0);
    CHECK(dc_get_threads() >= 1 && dc_threads_team() == dc_get_threads());
    dc_set_threads(0); /* the default again */
    CHECK(dc_get_threads() >= 1);
}

static void make_images(int64_t n, dc_tensor **x, dc_tensor **y) {
    dc_rng r;
    dc_rng_seed(&r, 11);
    *x = dc_tensor_new(4, (int64_t[]){n, 2, 10, 10});
    *y = dc_tensor_new(1, (int64_t[]){n});
    float *X = dc_tensor_data(*x), *Y = dc_tensor_data(*y);
    for (int64_t i = 0; i < n; i++) {
        float s = 0;
        for (int j = 0; j < 200; j++) {
            float v = dc_rng_normal(&r);
            X[i * 200 + j] = v;
            s += v * (j % 3 == 0 ? 1.0f : -0.4f);
        }
        Y[i] = (float)((s > 0) + (s > 3));
    }
}

static dc_model *cnn(void) {
    dc_model *m = dc_sequential();
    dc_model_add(m, dc_input(3, (int64_t[]){2, 10, 10}));
    dc_model_add(m, dc_conv2d_layer(6, 3, 3, 1, DC_PAD_SAME, DC_ACT_RELU));
    dc_model_add(m, dc_max_pool2d_layer(2, 2, 0)); /* fused with the convolution */
    dc_model_add(m, dc_flatten());
    dc_model_add(m, dc_dense(300, DC_ACT_RELU));
    dc_model_add(m, dc_dropout_layer(0.2f));
    dc_model_add(m, dc_dense(3, DC_ACT_SOFTMAX));
    return m;
}

/* Recurrent layers: the step products of each thread's chunk of the batch, weight gradients over
 * all steps, on rows of the same images read as 10 steps of 20 features. */
static dc_model *lstm_gru(void) {
    dc_model *m = dc_sequential();
    dc_model_add(m, dc_input(2, (int64_t[]){10, 20}));
    dc_model_add(m, dc_lstm_layer(64, true));
    dc_model_add(m, dc_gru_layer(48, false));
    dc_model_add(m, dc_dense(3, DC_ACT_SOFTMAX));
    return m;
}

static dc_model *cnn_bn(void) {
    dc_model *m = dc_sequential();
    dc_model_add(m, dc_input(3, (int64_t[]){2, 10, 10}));
    dc_model_add(m, dc_conv2d_layer(8, 3, 3, 1, DC_PAD_VALID, DC_ACT_NONE));
    dc_model_add(m, dc_batch_norm_layer(0.9f, 1e-5f));
    dc_model_add(m, dc_flatten());
    dc_model_add(m, dc_dense(3, DC_ACT_SOFTMAX));
    return m;
}

/* Trains a fresh model; team > 0 forces that team size at a fixed configured count of 2,
 * team 0 adapts with a ceiling of 2. Returns a copy of the parameters. */
static float *train(dc_model *(*build)(void), const dc_tensor *x, const dc_tensor *y, int team, int64_t *np) {
    if (team > 0) {
        dc_set_threads(2);
        dc_threads_set_team(team);
        CHECK(dc_get_threads() == 2 && dc_threads_team() == team);
    } else {
        dc_set_threads_adaptive(2);
    }
    dc_model *m = build();
    dc_model_set_seed(m, 7);
    CHECK(dc_model_compile(m, dc_adam(2e-3f, 0.9f, 0.999f, 1e-7f), DC_LOSS_SPARSE_CCE, NULL, 0) == DC_OK);
    dc_fit_opts o = dc_fit_defaults();
    o.epochs = 3;
    o.batch_size = 32;
    o.verbose = 0;
    o.seed = 3;
    CHECK(dc_model_fit(m, x, y, &o, NULL) == DC_OK);
    if (team > 0) CHECK(dc_threads_team() == team); /* a fixed count never adapts */
    *np = dc_model_param_buffer_size(m);
    float *p = malloc((size_t)*np * 4);
    memcpy(p, dc_model_params(m), (size_t)*np * 4);
    dc_model_free(m);
    return p;
}

static void same_on_every_team(const char *name, dc_model *(*build)(void), const dc_tensor *x, const dc_tensor *y) {
    int64_t n2, n1, na;
    float *p2 = train(build, x, y, 2, &n2), *p1 = train(build, x, y, 1, &n1), *pa = train(build, x, y, 0, &na);
    CHECK(n2 == n1 && n2 == na);
    bool same1 = !memcmp(p2, p1, (size_t)n2 * 4), samea = !memcmp(p2, pa, (size_t)n2 * 4);
    CHECK(same1);
    CHECK(samea);
    printf("%s: %lld parameters; team of 1 at count 2 %s, adaptive %s the team of 2\n", name, (long long)n2,
           same1 ? "bit-identical to" : "DIFFERS from", samea ? "bit-identical to" : "DIFFERS from");
    free(p2);
    free(p1);
    free(pa);
}

static void test_reproducible(void) {
    dc_tensor *x, *y;
    make_images(600, &x, &y);
    same_on_every_team("cnn", cnn, x, y);
    same_on_every_team("conv + batch norm", cnn_bn, x, y);
    dc_tensor *xs = dc_tensor_new(3, (int64_t[]){600, 10, 20});
    memcpy(dc_tensor_data(xs), dc_tensor_data(x), (size_t)(600 * 200) * sizeof(float));
    same_on_every_team("lstm + gru", lstm_gru, xs, y);
    dc_tensor_free(xs);
    dc_tensor_free(x);
    dc_tensor_free(y);
}

int main(void) {
    test_tuner();
    test_fixed();
    test_reproducible();
    dc_set_threads(0);
    return check_report("test_threads_adaptive");
}
