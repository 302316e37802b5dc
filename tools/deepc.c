/* deepc: the command-line program. Inspects safetensors files and runs saved models on
 * NumPy or CSV data, without writing any C.
 *
 *   deepc info FILE.safetensors              tensors, dtypes, shapes, metadata keys, the model
 *   deepc predict MODEL X.npy|X.csv [OUT]     predictions to OUT (.npy or .csv) or stdout (CSV)
 *   deepc evaluate MODEL X.npy|.csv Y.npy|.csv  loss and metrics as key=value lines
 * A model with several inputs (a graph model) takes one X file per input, in its input order:
 *   deepc predict MODEL X1 X2 [OUT]            deepc evaluate MODEL X1 X2 Y
 *
 * CSV inputs hold numbers only, one row per sample, no header. A 2-D input whose rows have as
 * many values as one model input is reshaped to the model's input shape (flat images work). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "deepc.h"
/* Files are written with the library's atomic writer (dc_write_file_atomic): a failed write
 * leaves an existing file whole and names the file and the system's reason. */

static int usage(void) {
    fprintf(stderr, "usage:\n"
                    "  deepc info FILE.safetensors\n"
                    "  deepc predict MODEL.safetensors X.npy|X.csv [OUT.npy|OUT.csv]\n"
                    "  deepc evaluate MODEL.safetensors X.npy|X.csv Y.npy|Y.csv\n"
                    "(a model with several inputs takes one X file per input, in order)\n");
    return 2;
}

/* "deepc: <what>: <the library's message>", what said once: the library's messages often begin
 * with it already ("evaluate: x has 10 rows but y has 9"). */
static int fail(const char *what) {
    const char *msg = dc_last_error();
    size_t n = strlen(what);
    if (strncmp(msg, what, n) == 0 && msg[n] == ':') fprintf(stderr, "deepc: %s\n", msg);
    else fprintf(stderr, "deepc: %s: %s\n", what, msg);
    return 1;
}

static bool ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcmp(s + n - k, suffix) == 0;
}

static dc_tensor *load_array(const char *path) {
    if (ends_with(path, ".npy")) return dc_npy_load(path);
    dc_csv_opts o = dc_csv_defaults();
    o.label_col = -2; /* every column is data */
    dc_tensor *x = NULL;
    return dc_csv_load(path, &o, &x, NULL) ? NULL : x;
}

/* Reshapes flat rows [N, F] to the shape of model input i when F matches. */
static dc_status fit_input(dc_model *m, int input, dc_tensor *x) {
    int64_t shape[DC_MAX_DIMS + 1];
    int nd = dc_model_input_shape(m, input, shape + 1);
    if (nd < 0) return dc_last_status();
    int64_t per = 1;
    for (int i = 0; i < nd; i++) per *= shape[i + 1];
    if (nd > 1 && dc_tensor_ndim(x) == 2 && dc_tensor_dim(x, 1) == per) {
        shape[0] = dc_tensor_dim(x, 0);
        return dc_tensor_set_shape(x, nd + 1, shape);
    }
    return DC_OK;
}

static int info(const char *path) {
    dc_safetensors *st = dc_safetensors_open(path);
    if (!st) return fail("info");
    int n = dc_safetensors_count(st);
    int64_t total = 0;
    printf("%s: %d tensors\n", path, n);
    for (int i = 0; i < n; i++) {
        int64_t shape[DC_MAX_DIMS], e = 1;
        dc_dtype dt;
        int nd = dc_safetensors_shape(st, i, shape, &dt);
        char b[160];
        for (int d = 0; d < nd; d++) e *= shape[d];
        total += e;
        printf("  %-48s %-5s %s\n", dc_safetensors_name(st, i), dc_dtype_name(dt), dc_shape_str(nd, shape, b, sizeof b));
    }
    printf("values: %lld\n", (long long)total);
    const char *keys[] = {"deepc.model", "deepc.checkpoint", "format"};
    for (size_t k = 0; k < sizeof keys / sizeof *keys; k++)
        if (dc_safetensors_meta(st, keys[k])) printf("metadata %s: %zu bytes\n", keys[k], strlen(dc_safetensors_meta(st, keys[k])));
    bool is_model = dc_safetensors_meta(st, "deepc.model") != NULL;
    dc_safetensors_close(st);
    if (is_model) {
        dc_model *m = dc_model_load(path);
        if (!m) return fail("loading the model");
        dc_model_summary(m, stdout);
        dc_model_free(m);
    }
    return 0;
}

/* The model's input files, one per input: x[0..n), reshaped to the inputs; NULL on error. */
static dc_tensor **load_inputs(dc_model *m, int n, char **paths) {
    dc_tensor **x = calloc((size_t)n, sizeof *x);
    for (int i = 0; x && i < n; i++) {
        if (!(x[i] = load_array(paths[i])) || fit_input(m, i, x[i])) {
            fprintf(stderr, "deepc: reading input %d (%s): %s\n", i, paths[i], dc_last_error());
            for (int k = 0; k <= i; k++) dc_tensor_free(x[k]);
            free(x);
            return NULL;
        }
    }
    return x;
}

static void free_inputs(dc_tensor **x, int n) {
    for (int i = 0; x && i < n; i++) dc_tensor_free(x[i]);
    free(x);
}

/* The predictions as CSV, one row per sample; stops early once a write has failed (the stream's
 * error flag, which the caller checks). */
static dc_status write_predictions(FILE *f, void *arg) {
    dc_tensor *p = arg;
    int64_t rows = dc_tensor_dim(p, 0), cols = dc_tensor_numel(p) / (rows ? rows : 1);
    const float *d = dc_tensor_data(p);
    for (int64_t r = 0; r < rows && !ferror(f); r++)
        for (int64_t c = 0; c < cols; c++) fprintf(f, "%.9g%c", d[r * cols + c], c + 1 < cols ? ',' : '\n');
    return DC_OK;
}

/* args: the X files, then OUT if there is one more */
static int predict(const char *model, int nargs, char **args) {
    dc_model *m = dc_model_load(model);
    if (!m) return fail("loading the model");
    int nx = dc_model_num_inputs(m);
    if (nargs != nx && nargs != nx + 1) {
        fprintf(stderr, "deepc: the model has %d input%s; give %d X file%s and optionally OUT\n", nx, nx > 1 ? "s" : "", nx,
                nx > 1 ? "s" : "");
        dc_model_free(m);
        return 2;
    }
    const char *out = nargs == nx + 1 ? args[nx] : NULL;
    dc_tensor **x = load_inputs(m, nx, args);
    if (!x) return dc_model_free(m), 1;
    dc_tensor *p = dc_model_predict_n(m, nx, (const dc_tensor *const *)x, 256);
    int rc = 0;
    if (!p) {
        rc = fail("predict");
    } else if (out && ends_with(out, ".npy")) {
        if (dc_npy_save(out, p, DC_DTYPE_F32)) rc = fail("saving the predictions");
    } else if (out) { /* the error names the file and the reason; an old OUT stays whole */
        if (dc_write_file_atomic(out, write_predictions, p)) rc = fail("saving the predictions");
    } else {
        errno = 0;
        write_predictions(stdout, p);
        if (fflush(stdout) != 0 || ferror(stdout)) {
            fprintf(stderr, "deepc: saving the predictions: writing to standard output: %s\n", strerror(errno ? errno : EIO));
            rc = 1;
        }
    }
    dc_tensor_free(p);
    free_inputs(x, nx);
    dc_model_free(m);
    return rc;
}

/* args: the X files, then Y */
static int evaluate(const char *model, int nargs, char **args) {
    dc_model *m = dc_model_load(model);
    if (!m) return fail("loading the model");
    int nx = dc_model_num_inputs(m);
    if (nargs != nx + 1) {
        fprintf(stderr, "deepc: the model has %d input%s; give %d X file%s and Y\n", nx, nx > 1 ? "s" : "", nx, nx > 1 ? "s" : "");
        dc_model_free(m);
        return 2;
    }
    dc_tensor **x = load_inputs(m, nx, args), *y = x ? load_array(args[nx]) : NULL;
    double res[1 + 8];
    int rc = 0;
    if (!x) rc = 1;
    else if (!y) rc = fail("reading the targets");
    else if (dc_model_evaluate_n(m, nx, (const dc_tensor *const *)x, y, 256, res)) rc = fail("evaluate");
    else {
        /* the metric names come from the model file's compile settings */
        printf("test_loss=%.4f\n", res[0]);
        for (int i = 0; i < 8 && i < dc_model_num_metrics(m); i++)
            printf("test_%s=%.4f\n", dc_metric_name(dc_model_metric(m, i)), res[1 + i]);
    }
    free_inputs(x, nx);
    dc_tensor_free(y);
    dc_model_free(m);
    return rc;
}

int main(int argc, char **argv) {
    if (argc < 3) return usage();
    if (strcmp(argv[1], "info") == 0 && argc == 3) return info(argv[2]);
    if (strcmp(argv[1], "predict") == 0 && argc >= 4) return predict(argv[2], argc - 3, argv + 3);
    if (strcmp(argv[1], "evaluate") == 0 && argc >= 5) return evaluate(argv[2], argc - 3, argv + 3);
    return usage();
}
