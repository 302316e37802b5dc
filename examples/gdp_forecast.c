/* Macroeconomic forecasting: quarterly US real GDP growth (1959-2009), standardised on the
 * training part, windows of 8 quarters -> SimpleRNN(64) -> Dense(1); adam; mse; metrics mae and
 * mse; the last 20% of the windows are the test set. Prints the test mse next to the naive
 * forecast's (next quarter = this quarter), and draws predicted against true growth as SVG.
 * Usage: gdp_forecast [macrodata.csv (data/macrodata.csv)] [output dir (out)] */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "deepc.h"

#define WINDOW 8

static int fail(const char *what) {
    fprintf(stderr, "gdp_forecast: %s: %s\n", what, dc_last_error());
    return 1;
}

int main(int argc, char **argv) {
    const char *path = argc > 1 ? argv[1] : "data/macrodata.csv";
    const char *outdir = argc > 2 ? argv[2] : "out";
    mkdir(outdir, 0755);
    dc_tensor *gdp = dc_csv_column(path, "realgdp");
    if (!gdp) return fail("load");
    int64_t n = dc_tensor_numel(gdp) - 1;
    if (n < 4 * WINDOW) {
        fprintf(stderr, "gdp_forecast: %s has only %lld quarters\n", path, (long long)n + 1);
        return 1;
    }
    /* quarter-on-quarter growth in percent */
    float *g = malloc((size_t)n * sizeof *g);
    const float *v = dc_tensor_data(gdp);
    for (int64_t i = 0; i < n; i++) g[i] = 100.0f * (v[i + 1] / v[i] - 1.0f);
    int64_t rows = n - WINDOW, ntest = rows / 5, ntrain = rows - ntest;
    /* standardise with the mean and deviation of the values the training windows see */
    int64_t seen = ntrain + WINDOW;
    double mean = 0, var = 0;
    for (int64_t i = 0; i < seen; i++) mean += g[i];
    mean /= (double)seen;
    for (int64_t i = 0; i < seen; i++) var += (g[i] - mean) * (g[i] - mean);
    double sd = sqrt(var / (double)seen);
    for (int64_t i = 0; i < n; i++) g[i] = (float)((g[i] - mean) / sd);

    dc_tensor *x, *y;
    if (dc_make_windows(g, n, WINDOW, 1, &x, &y)) return fail("windows");
    int64_t *idx = malloc((size_t)rows * sizeof *idx);
    for (int64_t i = 0; i < rows; i++) idx[i] = i;
    dc_tensor *xtr = dc_take_rows(x, idx, ntrain), *ytr = dc_take_rows(y, idx, ntrain);
    dc_tensor *xte = dc_take_rows(x, idx + ntrain, ntest), *yte = dc_take_rows(y, idx + ntrain, ntest);
    printf("%lld quarters of growth: %lld training windows, %lld test windows (from %s)\n", (long long)n, (long long)ntrain,
           (long long)ntest, path);

    dc_model *m = dc_sequential();
    dc_model_set_seed(m, 7);
    dc_model_add(m, dc_input(2, (int64_t[]){WINDOW, 1}));
    dc_model_add(m, dc_simple_rnn_layer(64, DC_ACT_TANH, false));
    dc_model_add(m, dc_dense(1, DC_ACT_NONE));
    dc_metric met[] = {DC_METRIC_MAE, DC_METRIC_MSE};
    if (dc_model_compile(m, dc_adam(1e-3f, 0.9f, 0.999f, 1e-7f), DC_LOSS_MSE, met, 2)) return fail("compile");
    dc_model_summary(m, stdout);
    dc_fit_opts o = dc_fit_defaults();
    o.epochs = 60;
    o.batch_size = 16;
    o.validation_split = 0.1f;
    o.verbose = 0;
    dc_history *h = NULL;
    if (dc_model_fit(m, xtr, ytr, &o, &h)) return fail("fit");
    const double *loss = dc_history_get(h, "loss"), *vloss = dc_history_get(h, "val_loss");
    for (int e = 0; e < o.epochs; e += 10) printf("epoch %2d  loss %.4f  val_loss %.4f\n", e + 1, loss[e], vloss[e]);
    double res[3];
    if (dc_model_evaluate(m, xte, yte, 64, res)) return fail("evaluate");
    /* naive forecast: the next quarter's growth equals the last one seen */
    double naive = 0;
    for (int64_t i = 0; i < ntest; i++) {
        double last = dc_tensor_data(xte)[i * WINDOW + WINDOW - 1], truth = dc_tensor_data(yte)[i];
        naive += (last - truth) * (last - truth);
    }
    naive /= (double)ntest;
    dc_tensor *p = dc_model_predict(m, xte, 64);
    if (!p) return fail("predict");
    double *pt = malloc((size_t)ntest * sizeof *pt), *tt = malloc((size_t)ntest * sizeof *tt), *qx = malloc((size_t)ntest * sizeof *qx);
    for (int64_t i = 0; i < ntest; i++) {
        pt[i] = dc_tensor_data(p)[i] * sd + mean; /* back to percent growth */
        tt[i] = dc_tensor_data(yte)[i] * sd + mean;
        int64_t q = 1 + ntrain + WINDOW + i; /* the quarter index in the file (0 = 1959Q1) */
        qx[i] = 1959.0 + (double)q / 4.0;
    }
    char svg[512];
    snprintf(svg, sizeof svg, "%s/gdp_forecast.svg", outdir);
    dc_series s[2] = {{"true growth", tt}, {"SimpleRNN forecast", pt}};
    if (dc_plot_lines_svg(svg, "US real GDP growth, test quarters", "year", "growth (% per quarter)", qx, ntest, s, 2))
        return fail("plot");
    printf("prediction against truth: %s\n", svg);
    printf("test_mse=%.4f\ntest_mae=%.4f\nnaive_mse=%.4f\n", res[2], res[1], naive);
    int rc = res[2] < naive ? 0 : 1;
    free(g);
    free(idx);
    free(pt);
    free(tt);
    free(qx);
    dc_tensor *all[] = {gdp, x, y, xtr, ytr, xte, yte, p};
    for (int i = 0; i < 8; i++) dc_tensor_free(all[i]);
    dc_history_free(h);
    dc_model_free(m);
    return rc;
}
