/* ONNX import: PyTorch's exports of an MLP, the CNN of examples/cnn_fashion.c, an LSTM
 * classifier and a Transformer encoder layer (tests/data/onnx, made by
 * scripts/onnx/gen_fixtures.py) give PyTorch's outputs to 1e-5; each imported model saves and
 * loads back, trains (a short fine-tuning on Fashion-MNIST for the MLP and the CNN when the data
 * set is installed), and exports again to ONNX, which ONNX Runtime runs to deepc's predictions
 * when the runner is installed (DEEPC_ORT_RUN, scripts/onnx/ort_run.js). Malformed, hostile and
 * unsupported files are clear errors. */
#include "check.h"

#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#define DATA "tests/data/onnx/"
#define FASHION "/usr/share/datasets/fashion-mnist/"

static double max_diff(const dc_tensor *a, const dc_tensor *b) {
    if (!a || !b || dc_tensor_numel(a) != dc_tensor_numel(b)) return INFINITY;
    const float *x = dc_tensor_data((dc_tensor *)a), *y = dc_tensor_data((dc_tensor *)b);
    double w = 0;
    for (int64_t i = 0; i < dc_tensor_numel(a); i++) w = fmax(w, fabs((double)x[i] - y[i]));
    return w;
}

static char tmpdir[64];

/* The file name under the test's scratch folder. */
static const char *scratch(const char *name, char *buf, size_t size) {
    snprintf(buf, size, "%s/%s", tmpdir, name);
    return buf;
}

/* Exports m to ONNX and runs it in ONNX Runtime on x: its outputs must be deepc's (p). Skipped
 * (with a line saying so) when the runner is not installed. */
static void check_ort(const char *name, dc_model *m, const char *xpath, const dc_tensor *p) {
    char onnx[256], prefix[256], out[300], cmd[1200];
    snprintf(onnx, sizeof onnx, "%s/%s_again.onnx", tmpdir, name);
    dc_status s = dc_model_export_onnx(m, onnx, NULL);
    CHECK(s == DC_OK);
    if (s) {
        fprintf(stderr, "%s: export: %s\n", name, dc_last_error());
        return;
    }
    const char *run = getenv("DEEPC_ORT_RUN");
    if (!run || !*run) {
        printf("%-12s ONNX Runtime: skipped (DEEPC_ORT_RUN is not set)\n", name);
        return;
    }
    snprintf(prefix, sizeof prefix, "%s/%s_ort", tmpdir, name);
    snprintf(cmd, sizeof cmd, "%s '%s' '%s' --out '%s'", run, onnx, xpath, prefix);
    int rc = system(cmd);
    if (WIFEXITED(rc) && WEXITSTATUS(rc) == 77) {
        printf("%-12s ONNX Runtime: skipped (the runner says it is not installed)\n", name);
        return;
    }
    CHECK(rc == 0);
    snprintf(out, sizeof out, "%s0.npy", prefix);
    dc_tensor *o = rc == 0 ? dc_npy_load(out) : NULL;
    double d = max_diff(o, p);
    printf("%-12s ONNX Runtime on the export again: max|ort - deepc|=%.3g\n", name, d);
    CHECK(d <= 1e-5);
    dc_tensor_free(o);
}

/* Fashion-MNIST's first n training images [n, 1, 28, 28] (or [n, 28, 28]) and labels; false
 * when the data set is not installed. */
static bool fashion(int64_t n, bool channel, dc_tensor **x, dc_tensor **y) {
    if (access(FASHION "train-images-idx3-ubyte.gz", R_OK)) return false;
    dc_tensor *X = dc_idx_load(FASHION "train-images-idx3-ubyte.gz", true), *Y = dc_idx_load(FASHION "train-labels-idx1-ubyte.gz", false);
    if (!X || !Y) {
        dc_tensor_free(X);
        dc_tensor_free(Y);
        return false;
    }
    *x = channel ? dc_tensor_new(4, (int64_t[]){n, 1, 28, 28}) : dc_tensor_new(3, (int64_t[]){n, 28, 28});
    *y = dc_tensor_new(1, (int64_t[]){n});
    memcpy(dc_tensor_data(*x), dc_tensor_data(X), (size_t)(n * 784) * sizeof(float));
    memcpy(dc_tensor_data(*y), dc_tensor_data(Y), (size_t)n * sizeof(float));
    dc_tensor_free(X);
    dc_tensor_free(Y);
    return true;
}

/* A short fine-tuning: one epoch on 2000 images, then the loss on them must have fallen. */
static void fine_tune(const char *name, dc_model *m) {
    dc_tensor *x = NULL, *y = NULL;
    if (!fashion(2000, true, &x, &y)) {
        printf("%-12s fine-tuning on Fashion-MNIST: skipped (the data set is not installed)\n", name);
        return;
    }
    dc_metric acc = DC_METRIC_ACCURACY;
    dc_loss_opts lo = dc_loss_opts_default();
    lo.from_logits = true;
    CHECK(dc_model_compile(m, dc_adam(1e-3f, 0.9f, 0.999f, 1e-7f), DC_LOSS_SPARSE_CCE, &acc, 1) == DC_OK);
    CHECK(dc_model_set_loss_options(m, &lo) == DC_OK);
    double before[2] = {0}, after[2] = {0};
    CHECK(dc_model_evaluate(m, x, y, 256, before) == DC_OK);
    dc_fit_opts o = dc_fit_defaults();
    o.epochs = 1;
    o.verbose = 0;
    o.batch_size = 32;
    CHECK(dc_model_fit(m, x, y, &o, NULL) == DC_OK);
    CHECK(dc_model_evaluate(m, x, y, 256, after) == DC_OK);
    printf("%-12s fine-tuned one epoch on 2000 Fashion-MNIST images: loss %.3f -> %.3f, accuracy %.3f -> %.3f\n", name,
           before[0], after[0], before[1], after[1]);
    CHECK(after[0] < before[0] && after[1] > 0.6);
    dc_tensor_free(x);
    dc_tensor_free(y);
}

/* A few steps of training towards targets away from the outputs y must change the weights and
 * keep them finite. */
static void train_steps(const char *name, dc_model *m, const dc_tensor *x, const dc_tensor *y0) {
    dc_tensor *y = dc_tensor_clone(y0);
    for (int64_t i = 0; y && i < dc_tensor_numel(y); i++) dc_tensor_data(y)[i] += (float)(i % 3) - 1.0f;
    CHECK(dc_model_compile(m, dc_sgd(0.01f, 0.0f, false), DC_LOSS_MSE, NULL, 0) == DC_OK);
    dc_tensor *before = dc_model_predict(m, x, 32);
    float loss = NAN;
    for (int i = 0; i < 3; i++) CHECK(dc_model_train_step(m, x, y, &loss) == DC_OK);
    dc_tensor *after = dc_model_predict(m, x, 32);
    double d = max_diff(before, after);
    printf("%-12s 3 SGD steps: loss %.4f, predictions moved by up to %.3g\n", name, loss, d);
    CHECK(isfinite(loss) && d > 0 && isfinite(d));
    dc_tensor_free(y);
    dc_tensor_free(before);
    dc_tensor_free(after);
}

/* Imports DATA<name>.onnx, compares its predictions for <name>_x.npy with PyTorch's, saves and
 * reloads it, exports it again for ONNX Runtime, and trains it. */
static void check_fixture(const char *name, bool image) {
    char path[512], xp[512], yp[512], sp[256];
    snprintf(path, sizeof path, DATA "%s.onnx", name);
    snprintf(xp, sizeof xp, DATA "%s_x.npy", name);
    snprintf(yp, sizeof yp, DATA "%s_y.npy", name);
    dc_model *m = dc_model_import_onnx(path);
    CHECK(m != NULL);
    if (!m) {
        fprintf(stderr, "%s: %s\n", name, dc_last_error());
        return;
    }
    dc_tensor *x = dc_npy_load(xp), *y = dc_npy_load(yp), *p = x ? dc_model_predict(m, x, 32) : NULL;
    double d = max_diff(p, y);
    printf("%-12s layers=%d params=%lld max|deepc - pytorch|=%.3g\n", name, dc_model_num_layers(m), (long long)dc_model_param_count(m), d);
    CHECK(d <= 1e-5);
    /* one row at a time gives the same (the batch axis is free) */
    if (x) {
        int64_t sh[DC_MAX_DIMS];
        int nd = dc_tensor_ndim(x);
        memcpy(sh, dc_tensor_shape(x), (size_t)nd * sizeof *sh);
        sh[0] = 1;
        dc_tensor *x1 = dc_tensor_from(nd, sh, dc_tensor_data(x)), *p1 = dc_model_predict(m, x1, 1);
        CHECK(p1 && fabs(dc_tensor_data(p1)[0] - dc_tensor_data(y)[0]) <= 1e-5);
        dc_tensor_free(x1);
        dc_tensor_free(p1);
    }
    /* saved and loaded back: the same predictions */
    scratch("model.safetensors", sp, sizeof sp);
    CHECK(dc_model_save(m, sp) == DC_OK);
    dc_model *back = dc_model_load(sp);
    CHECK(back != NULL);
    dc_tensor *q = back && x ? dc_model_predict(back, x, 32) : NULL;
    CHECK(max_diff(p, q) == 0);
    dc_model_free(back);
    dc_tensor_free(q);
    check_ort(name, m, xp, p);
    if (image) fine_tune(name, m);
    else if (x && y) train_steps(name, m, x, y);
    dc_tensor_free(x);
    dc_tensor_free(y);
    dc_tensor_free(p);
    dc_model_free(m);
}

static void write_bytes(const char *path, const void *data, size_t n) {
    FILE *f = fopen(path, "wb");
    CHECK(f != NULL);
    if (f) {
        CHECK(fwrite(data, 1, n, f) == n);
        fclose(f);
    }
}

static void test_errors(void) {
    CHECK_NULL_ERR(dc_model_import_onnx(DATA "bad_dangling.onnx"), "\"r\"", "Relu", "nowhere");
    CHECK_NULL_ERR(dc_model_import_onnx(DATA "bad_cycle.onnx"), "cycle", "Add");
    CHECK_NULL_ERR(dc_model_import_onnx(DATA "bad_unsupported.onnx"), "Hardmax", "\"hm\"", "not supported");
    CHECK_NULL_ERR(dc_model_import_onnx(DATA "bad_external.onnx"), "\"w\"", "external");
    CHECK_NULL_ERR(dc_model_import_onnx(DATA "bad_huge.onnx"), "\"w\"", "1099511627776");
    CHECK_NULL_ERR(dc_model_import_onnx(DATA "bad_rawdata.onnx"), "raw_data", "12 bytes");
    CHECK_NULL_ERR(dc_model_import_onnx(DATA "bad_reshape.onnx"), "\"rs\"", "Reshape", "1099511627776");
    CHECK_NULL_ERR(dc_model_import_onnx(DATA "no_such_file.onnx"), "cannot open");
    CHECK_NULL_ERR(dc_model_import_onnx(NULL), "NULL");
    dc_onnx_import_opts o = {.output = "no_such_value"};
    CHECK_NULL_ERR(dc_model_import_onnx_ex(DATA "ok_small.onnx", &o), "no_such_value");
    o.output = "h"; /* an inner value as the output: the model stops there */
    dc_model *m = dc_model_import_onnx_ex(DATA "ok_small.onnx", &o);
    CHECK(m != NULL);
    if (m) {
        dc_tensor *x = dc_tensor_from(2, (int64_t[]){1, 4}, (float[]){1, -2, 3, -4}), *p = dc_model_predict(m, x, 1);
        CHECK(p && dc_tensor_numel(p) == 4 && dc_tensor_data(p)[1] == -2); /* x . I */
        dc_tensor_free(x);
        dc_tensor_free(p);
        dc_model_free(m);
    }
    char path[256];
    /* not protobuf at all, and an empty file */
    scratch("junk.onnx", path, sizeof path);
    write_bytes(path, "\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff", 11);
    CHECK_NULL_ERR(dc_model_import_onnx(path), path);
    write_bytes(path, "hello, world\n", 13);
    CHECK_NULL_ERR(dc_model_import_onnx(path), path);
    write_bytes(path, "", 0);
    CHECK_NULL_ERR(dc_model_import_onnx(path), "no graph");
    /* a file cut short: the first 100 bytes of a real model */
    FILE *f = fopen(DATA "transformer.onnx", "rb");
    unsigned char buf[100];
    CHECK(f && fread(buf, 1, sizeof buf, f) == sizeof buf);
    if (f) fclose(f);
    write_bytes(path, buf, sizeof buf);
    CHECK_NULL_ERR(dc_model_import_onnx(path), path);
    /* messages nested 100000 deep (graph -> node -> attribute -> graph -> ...): refused before
     * the decoder recurses into them */
    size_t depth = 100000, n = 0;
    unsigned char *deep = malloc(depth * 12 + 16);
    CHECK(deep != NULL);
    if (deep) {
        /* built from the inside out: each level is a length-delimited field holding the next */
        size_t cap = depth * 12 + 16, at = cap, len = 0;
        /* from the outside: model.graph (field 7), then graph.node (1), node.attribute (5),
         * attribute.g (6), graph.node, ... */
        static const unsigned char tags[3] = {0x32, 0x0a, 0x2a};
        for (size_t i = 0; i < depth; i++) {
            unsigned char v[10];
            int k = 0;
            size_t l = len;
            do {
                v[k++] = (unsigned char)((l & 0x7f) | (l > 0x7f ? 0x80 : 0));
                l >>= 7;
            } while (l);
            at -= (size_t)k;
            memcpy(deep + at, v, (size_t)k);
            deep[--at] = i + 1 == depth ? 0x3a : tags[(depth - 1 - i) % 3];
            len = cap - at;
        }
        n = cap - at;
        write_bytes(path, deep + at, n);
        free(deep);
        CHECK_NULL_ERR(dc_model_import_onnx(path), "nested deeper");
    }
}

int main(void) {
    snprintf(tmpdir, sizeof tmpdir, "/tmp/test_onnx_import_XXXXXX");
    if (!mkdtemp(tmpdir)) return fprintf(stderr, "mkdtemp failed\n"), 1;
    check_fixture("mlp", true);
    check_fixture("cnn", true);
    check_fixture("lstm", false);
    check_fixture("transformer", false);
    check_fixture("convmix", false);
    check_fixture("rnnmix", false);
    check_fixture("bilstm", false);
    test_errors();
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (system(cmd)) fprintf(stderr, "could not remove %s\n", tmpdir);
    return check_report("test_onnx_import");
}
