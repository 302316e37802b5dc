/* deepc: the command-line program. Trains models from configuration files, inspects files, and
 * runs saved models on NumPy or CSV data, without writing any C. `deepc --help` lists the
 * commands; docs/cli.md is the reference.
 *
 *   deepc train CONFIG.json [--epochs N] [--out DIR]   train, write the model, history, curves
 *   deepc summary CONFIG.json                          the configuration's model, untrained
 *   deepc info FILE                                    what a file holds (recognised by content)
 *   deepc predict MODEL X.npy|X.csv [OUT]              predictions to OUT (.npy or .csv) or stdout
 *   deepc evaluate MODEL X.npy|X.csv Y.npy|Y.csv       loss and metrics as key=value lines
 *   deepc layers [CLASS] [--markdown]                  the layer types and their options
 * A model with several inputs (a graph model) takes one X file per input, in its input order.
 * Options before the command: --threads N, --quiet; -h/--help and --version anywhere first. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "config.h"
#include "deepc.h"
/* Files are written with the library's atomic writer (dc_write_file_atomic): a failed write
 * leaves an existing file whole and names the file and the system's reason. */

bool dc_cli_quiet = false;
static bool csv_header = false; /* predict/evaluate --header: CSV inputs start with a header line */

static const char *const main_usage =
    "usage: deepc [--threads N] [--quiet] COMMAND [ARGS]\n"
    "\n"
    "Commands:\n"
    "  train CONFIG.json [--epochs N] [--out DIR]   train the model a configuration describes\n"
    "  summary CONFIG.json                          print the configuration's model, untrained\n"
    "  info FILE                                    what a file holds (model, weights, array, data)\n"
    "  predict MODEL X... [OUT.npy|OUT.csv]         run a saved model; CSV to stdout without OUT\n"
    "  evaluate MODEL X... Y                        loss and metrics of a saved model as key=value\n"
    "  layers [CLASS] [--markdown]                  the layer types and their options\n"
    "  export MODEL OUT.onnx [--opset N]            a saved model as an ONNX model file\n"
    "  import IN.onnx OUT.safetensors               an ONNX model as a deepc model file\n"
    "\n"
    "Options:\n"
    "  --threads N   a fixed thread count (default: DEEPC_THREADS, else an adaptive team of up to the cores)\n"
    "  --quiet       print only results (key=value lines) and errors\n"
    "  -h, --help    this text (COMMAND --help: the command's)\n"
    "  --version     deepc's version\n"
    "\n"
    "X and Y files are NumPy .npy or CSV (numbers only; --header skips a header line).\n"
    "A model with several inputs takes one X file per input, in order. Reference: docs/cli.md\n";

static const char *const info_usage = "usage: deepc info FILE\n"
                                      "Says what FILE holds, recognised by its content: a deepc model or weights (.safetensors:\n"
                                      "tensors, shapes, the model's summary), a NumPy array or archive, a CSV or IDX data set, or\n"
                                      "a training configuration (its model's summary).\n";
static const char *const predict_usage = "usage: deepc predict [--header] MODEL.safetensors X.npy|X.csv [X2 ...] [OUT.npy|OUT.csv]\n"
                                         "Runs a saved model on X (one file per model input) and writes the predictions to OUT,\n"
                                         "or as CSV to standard output. --header: CSV inputs start with a header line.\n";
static const char *const evaluate_usage = "usage: deepc evaluate [--header] MODEL.safetensors X.npy|X.csv [X2 ...] Y.npy|Y.csv\n"
                                          "Scores a saved model on X and targets Y with the loss and metrics it was compiled\n"
                                          "with, as key=value lines (test_loss=..., test_accuracy=...).\n";

int dc_cli_fail(const char *what, const char *msg) {
    if (msg) {
        fprintf(stderr, "deepc: %s: %s\n", what, msg);
        return 1;
    }
    msg = dc_last_error();
    size_t n = strlen(what);
    if (strncmp(msg, what, n) == 0 && msg[n] == ':') fprintf(stderr, "deepc: %s\n", msg);
    else fprintf(stderr, "deepc: %s: %s\n", what, msg);
    return 1;
}

static bool is_help(const char *a) { return strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0; }

/* ---- what a file is, by its content ------------------------------------------------------ */

typedef enum kind { K_MISSING, K_SAFETENSORS, K_NPY, K_NPZ, K_GZIP, K_IDX, K_JSON, K_PNG, K_JPEG, K_TEXT, K_OTHER, K_COUNT } kind;
static const char *const kind_names[] = {"missing",    "a safetensors file", "a NumPy .npy array", "a NumPy .npz archive",
                                         "gzip data",  "an IDX data file",   "JSON text",          "a PNG image",
                                         "a JPEG image", "text",             "binary data"};
_Static_assert(sizeof kind_names / sizeof *kind_names == K_COUNT, "a name per kind");
static const char *kind_name(kind k) { return (unsigned)k < K_COUNT ? kind_names[k] : "unknown data"; }

static kind sniff(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return K_MISSING;
    unsigned char b[512];
    size_t n = fread(b, 1, sizeof b, f);
    long size = fseek(f, 0, SEEK_END) == 0 ? ftell(f) : -1;
    fclose(f);
    if (n >= 6 && memcmp(b, "\x93NUMPY", 6) == 0) return K_NPY;
    if (n >= 4 && memcmp(b, "PK\x03\x04", 4) == 0) return K_NPZ;
    if (n >= 2 && b[0] == 0x1f && b[1] == 0x8b) return K_GZIP;
    if (n >= 8 && memcmp(b, "\x89PNG\r\n\x1a\n", 8) == 0) return K_PNG;
    if (n >= 3 && b[0] == 0xff && b[1] == 0xd8 && b[2] == 0xff) return K_JPEG;
    if (n >= 4 && b[0] == 0 && b[1] == 0 && b[2] == 0x08 && b[3] >= 1 && b[3] <= 8) return K_IDX;
    if (n >= 9 && b[8] == '{') { /* safetensors: an 8-byte header length, then the JSON header */
        uint64_t h = 0;
        for (int i = 7; i >= 0; i--) h = h << 8 | b[i];
        if (size > 8 && h <= (uint64_t)size - 8) return K_SAFETENSORS;
    }
    size_t i = 0;
    while (i < n && (b[i] == ' ' || b[i] == '\t' || b[i] == '\r' || b[i] == '\n')) i++;
    if (i < n && b[i] == '{') return K_JSON;
    for (size_t k = 0; k < n; k++)
        if (b[k] == 0 || (b[k] < 32 && b[k] != '\t' && b[k] != '\r' && b[k] != '\n')) return K_OTHER;
    return K_TEXT;
}

/* A plain answer for a file of the wrong kind. */
static int wrong_kind(const char *cmd, const char *path, kind k, const char *want) {
    if (k == K_MISSING) fprintf(stderr, "deepc: %s: %s: cannot open: %s\n", cmd, path, strerror(errno ? errno : ENOENT));
    else fprintf(stderr, "deepc: %s: %s is %s, not %s\n", cmd, path, kind_name(k), want);
    return 1;
}

/* An X or Y file: .npy or CSV by content. */
static dc_tensor *load_array(const char *path) {
    kind k = sniff(path);
    if (k == K_NPY) return dc_npy_load(path);
    if (k != K_TEXT && k != K_GZIP) {
        if (k == K_MISSING) dc_error(DC_ERR_IO, "%s: cannot open: %s", path, strerror(errno ? errno : ENOENT));
        else dc_error(DC_ERR_FORMAT, "%s is %s, not a .npy array or CSV data", path, kind_name(k));
        return NULL;
    }
    dc_csv_opts o = dc_csv_defaults();
    o.label_col = -2; /* every column is data */
    o.skip_rows = csv_header ? 1 : 0;
    dc_tensor *x = NULL;
    if (dc_csv_load(path, &o, &x, NULL)) {
        char first[1040];
        snprintf(first, sizeof first, "%s:1:", path); /* the message points at the first line */
        if (!csv_header && strstr(dc_last_error(), first)) {
            char msg[900];
            snprintf(msg, sizeof msg, "%s (a header line? pass --header)", dc_last_error());
            dc_error(dc_last_status(), "%s", msg);
        }
        return NULL;
    }
    return x;
}

static void print_tensor_line(const char *name, const dc_tensor *t) {
    char b[160];
    int64_t shape[DC_MAX_DIMS];
    for (int d = 0; d < dc_tensor_ndim(t); d++) shape[d] = dc_tensor_dim(t, d);
    printf("  %-24s %s\n", name, dc_shape_str(dc_tensor_ndim(t), shape, b, sizeof b));
}

static int info_safetensors(const char *path) {
    dc_safetensors *st = dc_safetensors_open(path);
    if (!st) return dc_cli_fail("info", NULL);
    int n = dc_safetensors_count(st);
    int64_t total = 0;
    printf("%s: safetensors, %d tensors\n", path, n);
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
        if (!m) return dc_cli_fail("info", NULL);
        dc_model_summary(m, stdout);
        dc_model_free(m);
    }
    return 0;
}

static int info(int argc, char **argv) {
    if (argc == 2 && is_help(argv[1])) return fputs(info_usage, stdout), 0;
    if (argc != 2 || argv[1][0] == '-') {
        fprintf(stderr, "deepc: info: give one FILE\n%s", info_usage);
        return 2;
    }
    const char *path = argv[1];
    errno = 0;
    kind k = sniff(path);
    switch (k) {
    case K_SAFETENSORS: return info_safetensors(path);
    case K_NPY: {
        dc_tensor *t = dc_npy_load(path);
        if (!t) return dc_cli_fail("info", NULL);
        printf("%s: NumPy array (read as float32)\n", path);
        print_tensor_line("shape", t);
        dc_tensor_free(t);
        return 0;
    }
    case K_NPZ: {
        int n;
        char **names;
        dc_tensor **arrays;
        if (dc_npz_load(path, &n, &names, &arrays)) return dc_cli_fail("info", NULL);
        printf("%s: NumPy archive, %d arrays\n", path, n);
        for (int i = 0; i < n; i++) print_tensor_line(names[i], arrays[i]);
        dc_npz_free(n, names, arrays);
        return 0;
    }
    case K_IDX: {
        dc_tensor *t = dc_idx_load(path, false);
        if (!t) return dc_cli_fail("info", NULL);
        printf("%s: IDX data (unsigned bytes)\n", path);
        print_tensor_line("shape", t);
        dc_tensor_free(t);
        return 0;
    }
    case K_JSON: {
        dc_model *m = NULL;
        printf("%s: JSON; as a training configuration (deepc train):\n", path);
        char *args[] = {"summary", (char *)path, NULL};
        (void)m;
        return dc_cli_summary(2, args);
    }
    case K_GZIP:
    case K_TEXT: {
        dc_tensor *t = NULL;
        if (k == K_GZIP && (t = dc_idx_load(path, false))) {
            printf("%s: IDX data, gzip-compressed\n", path);
            print_tensor_line("shape", t);
            dc_tensor_free(t);
            return 0;
        }
        dc_csv_opts o = dc_csv_defaults();
        o.label_col = -2;
        int skipped = 0;
        if (dc_csv_load(path, &o, &t, NULL)) { /* a header line, or a line of counts and names as data/iris.csv has */
            o.skip_rows = 1;
            skipped = 1;
            if (dc_csv_load(path, &o, &t, NULL)) {
                o.skip_rows = 0;
                dc_csv_load(path, &o, &t, NULL); /* the first message is the one to show */
                fprintf(stderr, "deepc: info: %s is %s%s but not numeric CSV: %s\n", path, kind_name(k),
                        k == K_GZIP ? " (not IDX)" : "", dc_last_error());
                return 1;
            }
        }
        printf("%s: CSV%s, %lld rows of %lld numbers%s\n", path, k == K_GZIP ? " (gzip)" : "", (long long)dc_tensor_dim(t, 0),
               (long long)dc_tensor_dim(t, 1), skipped ? " after a first line that is not numbers (a header)" : "");
        dc_tensor_free(t);
        return 0;
    }
    case K_PNG:
    case K_JPEG:
    case K_OTHER:
        fprintf(stderr, "deepc: info: %s is %s, which deepc info does not describe (it reads .safetensors, .npy, .npz, IDX, CSV "
                        "and JSON configurations)\n", path, kind_name(k));
        return 1;
    case K_MISSING:
    case K_COUNT: break;
    }
    return wrong_kind("info", path, k, "a file");
}

/* The model's input files, one per input: x[0..n), reshaped to the inputs; NULL on error. */
static dc_tensor **load_inputs(dc_model *m, int n, char **paths) {
    dc_tensor **x = calloc((size_t)n, sizeof *x);
    for (int i = 0; x && i < n; i++) {
        if (!(x[i] = load_array(paths[i])) || dc_config_fit_input(m, i, x[i])) {
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

/* predict and evaluate: [--header] MODEL files...; returns the model or NULL with rc set. */
static dc_model *open_model(int argc, char **argv, const char *usage, int min_files, int *first, int *rc) {
    int i = 1;
    for (; i < argc && argv[i][0] == '-' && argv[i][1]; i++) {
        if (is_help(argv[i])) {
            fputs(usage, stdout);
            *rc = 0;
            return NULL;
        }
        if (strcmp(argv[i], "--header") == 0) {
            csv_header = true;
        } else {
            fprintf(stderr, "deepc: %s: unknown option \"%s\"\n%s", argv[0], argv[i], usage);
            *rc = 2;
            return NULL;
        }
    }
    if (argc - i < 1 + min_files) {
        fprintf(stderr, "deepc: %s: missing arguments\n%s", argv[0], usage);
        *rc = 2;
        return NULL;
    }
    errno = 0;
    kind k = sniff(argv[i]);
    if (k != K_SAFETENSORS) {
        *rc = wrong_kind(argv[0], argv[i], k, "a deepc model (.safetensors)");
        return NULL;
    }
    dc_model *m = dc_model_load(argv[i]);
    if (!m) *rc = dc_cli_fail(argv[0], NULL);
    *first = i + 1;
    return m;
}

static int predict(int argc, char **argv) {
    int rc = 0, first = 0;
    dc_model *m = open_model(argc, argv, predict_usage, 1, &first, &rc);
    if (!m) return rc;
    int nx = dc_model_num_inputs(m), nargs = argc - first;
    char **args = argv + first;
    if (nargs != nx && nargs != nx + 1) {
        fprintf(stderr, "deepc: predict: the model has %d input%s; give %d X file%s and optionally OUT\n", nx, nx > 1 ? "s" : "", nx,
                nx > 1 ? "s" : "");
        dc_model_free(m);
        return 2;
    }
    const char *out = nargs == nx + 1 ? args[nx] : NULL;
    dc_tensor **x = load_inputs(m, nx, args);
    if (!x) return dc_model_free(m), 1;
    dc_tensor *p = dc_model_predict_n(m, nx, (const dc_tensor *const *)x, 256);
    size_t ol = out ? strlen(out) : 0;
    if (!p) {
        rc = dc_cli_fail("predict", NULL);
    } else if (out && ol >= 4 && strcmp(out + ol - 4, ".npy") == 0) {
        if (dc_npy_save(out, p, DC_DTYPE_F32)) rc = dc_cli_fail("saving the predictions", NULL);
    } else if (out) { /* the error names the file and the reason; an old OUT stays whole */
        if (dc_write_file_atomic(out, write_predictions, p)) rc = dc_cli_fail("saving the predictions", NULL);
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

static int evaluate(int argc, char **argv) {
    int rc = 0, first = 0;
    dc_model *m = open_model(argc, argv, evaluate_usage, 2, &first, &rc);
    if (!m) return rc;
    int nx = dc_model_num_inputs(m), nargs = argc - first;
    char **args = argv + first;
    if (nargs != nx + 1) {
        fprintf(stderr, "deepc: evaluate: the model has %d input%s; give %d X file%s and Y\n", nx, nx > 1 ? "s" : "", nx,
                nx > 1 ? "s" : "");
        dc_model_free(m);
        return 2;
    }
    dc_tensor **x = load_inputs(m, nx, args), *y = x ? load_array(args[nx]) : NULL;
    double res[1 + 8];
    if (!x) rc = 1;
    else if (!y) rc = dc_cli_fail("reading the targets", NULL);
    else if (dc_model_evaluate_n(m, nx, (const dc_tensor *const *)x, y, 256, res)) rc = dc_cli_fail("evaluate", NULL);
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

/* deepc import IN.onnx OUT.safetensors (tools/onnx_import_cmd.c). */
int dc_cli_import(int argc, char **argv);

/* deepc export MODEL.safetensors OUT.onnx (tools/onnx_cmd.c). */
int dc_cli_export(int argc, char **argv);

static const struct {
    const char *name;
    int (*run)(int argc, char **argv);
} commands[] = {
    {"train", dc_cli_train}, {"summary", dc_cli_summary}, {"info", info}, {"predict", predict}, {"evaluate", evaluate}, {"layers", dc_cli_layers},
    {"export", dc_cli_export},
    {"import", dc_cli_import},
};

int main(int argc, char **argv) {
    int i = 1;
    for (; i < argc && argv[i][0] == '-'; i++) {
        if (is_help(argv[i])) return fputs(main_usage, stdout), 0;
        if (strcmp(argv[i], "--version") == 0) return printf("deepc %s\n", dc_version()), 0;
        if (strcmp(argv[i], "--quiet") == 0 || strcmp(argv[i], "-q") == 0) {
            dc_cli_quiet = true;
        } else if (strcmp(argv[i], "--threads") == 0 && i + 1 < argc) {
            char *end;
            long n = strtol(argv[++i], &end, 10);
            if (*end || n < 1 || n > 1024) {
                fprintf(stderr, "deepc: --threads must be a whole number in [1, 1024], got \"%s\"\n", argv[i]);
                return 2;
            }
            dc_set_threads((int)n);
        } else {
            fprintf(stderr, "deepc: unknown option \"%s\" (deepc --help lists the options)\n", argv[i]);
            return 2;
        }
    }
    if (i == argc) {
        fputs(main_usage, stderr);
        return 2;
    }
    for (size_t k = 0; k < sizeof commands / sizeof *commands; k++)
        if (strcmp(argv[i], commands[k].name) == 0) return commands[k].run(argc - i, argv + i);
    fprintf(stderr, "deepc: unknown command \"%s\" (commands:", argv[i]);
    for (size_t k = 0; k < sizeof commands / sizeof *commands; k++) fprintf(stderr, "%s %s", k ? "," : "", commands[k].name);
    fprintf(stderr, "; deepc --help)\n");
    return 2;
}
