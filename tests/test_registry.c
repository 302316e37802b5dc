/* The layer registry walked as a whole: every registered type is built with a value other than
 * its default for every option, saved, loaded and saved again, and must give the same
 * architecture JSON byte for byte and the same predictions bit for bit. The choice of values and
 * inputs is generic (nothing here names a layer type), so a new type is covered when it is added.
 * Then: setters checked against the schema, and model files written before the schemas existed
 * (tests/golden/old_models, written by scripts/golden/gen_old_models.c) still load. */
#include "check.h"
#include "nn/layer.h"
#include "model/model.h"
#include "optim/optim.h"
#include "tmpfiles.h"

#include <stdlib.h>

/* Candidate inputs: sequences of token-like values (6 steps of 8 features, or 6 ids), images. */
static const struct {
    int ndim;
    int64_t shape[3];
} shapes[] = {{1, {6}}, {2, {6, 8}}, {3, {2, 8, 8}}, {1, {8}}};

/* A model of n inputs of shape s feeding a copy of l (its options, and a wrapper's layer, as l
 * has them), or NULL. */
static dc_model *wrap(const dc_layer *l, int n, int s) {
    dc_layer *c = dc_layer_copy(l);
    if (!c) return NULL;
    dc_model *m = dc_sequential();
    int in[DC_LAYER_MAX_INPUTS];
    for (int i = 0; i < n; i++) {
        char name[16];
        snprintf(name, sizeof name, "in%d", i);
        in[i] = dc_model_input(m, name, shapes[s].ndim, shapes[s].shape);
    }
    if (dc_model_apply(m, c, n, in) < 0 || dc_model_build(m, 0, NULL)) {
        dc_model_free(m);
        return NULL;
    }
    return m;
}

/* The first input arrangement l builds with: *n inputs of shape index *s. */
static bool buildable(const dc_layer *l, int *n, int *s) {
    int most = l->type->max_inputs > 1 ? l->type->max_inputs : 1;
    for (int k = 1; k <= most && k <= 2; k++)
        for (int j = 0; j < (int)DC_ARRAY_LEN(shapes); j++) {
            dc_model *m = wrap(l, k, j);
            if (m) {
                dc_model_free(m);
                *n = k;
                *s = j;
                return true;
            }
        }
    return false;
}

/* Values other than the field's default to try, in order; returns how many. */
static int candidates(const dc_field *f, const void *cfg, double v[][DC_FIELD_MAX_COUNT], int *len) {
    double cur[DC_FIELD_MAX_COUNT];
    int nc = dc_field_get(f, cfg, cur), k = 0;
    switch (f->kind) {
    case DC_FIELD_INT: {
        double c[] = {cur[0] * 2, cur[0] + 1, 8, 16, 3, 2};
        for (size_t i = 0; i < DC_ARRAY_LEN(c); i++)
            if (c[i] != cur[0] && c[i] >= f->lo && c[i] <= f->hi) len[k] = 1, v[k++][0] = c[i];
        break;
    }
    case DC_FIELD_FLOAT: {
        double c[] = {0.5, 0.25, 2.0, cur[0] * 2, cur[0] / 2, 1e-3};
        for (size_t i = 0; i < DC_ARRAY_LEN(c); i++)
            if ((float)c[i] != (float)cur[0] && c[i] >= f->lo && c[i] <= f->hi) len[k] = 1, v[k++][0] = c[i];
        break;
    }
    case DC_FIELD_BOOL: len[k] = 1, v[k++][0] = !cur[0]; break;
    case DC_FIELD_ENUM:
        for (int i = 0; i < f->count && k < 16; i++)
            if (i != (int)cur[0]) len[k] = 1, v[k++][0] = i;
        break;
    case DC_FIELD_INTS: {
        int n = f->count;
        for (int pat = 0; pat < 4; pat++, k++) {
            len[k] = n;
            for (int i = 0; i < n; i++) {
                double base = nc ? cur[i] : 0;
                v[k][i] = pat == 0 ? base + 1 + (i & 1) : pat == 1 ? base + 1 : pat == 2 ? (i & 1) : 3;
                if (v[k][i] < f->lo) v[k][i] = f->lo;
            }
        }
        break;
    }
    case DC_FIELD_DIMS: { /* shapes, -1 standing for what the others leave (as a reshape takes them) */
        static const double dims[][4] = {{-1}, {2, -1}, {-1, 2}, {2, 2, -1}, {8}, {6, 8}, {2, 1}};
        static const int nd[] = {1, 2, 2, 3, 1, 2, 2};
        for (size_t i = 0; i < DC_ARRAY_LEN(nd); i++) {
            bool ok = nd[i] <= f->count;
            for (int j = 0; ok && j < nd[i]; j++) ok = dims[i][j] >= f->lo && dims[i][j] <= f->hi;
            if (!ok) continue;
            len[k] = nd[i];
            memcpy(v[k++], dims[i], (size_t)nd[i] * sizeof(double));
        }
        break;
    }
    }
    return k;
}

/* Random whole numbers in [0, 2): valid token ids, segment ids and plain values alike. */
static dc_tensor *data(int ndim, const int64_t *shape, unsigned seed) {
    int64_t sh[4] = {3};
    memcpy(sh + 1, shape, (size_t)ndim * sizeof *shape);
    dc_tensor *t = dc_tensor_new(ndim + 1, sh);
    for (int64_t i = 0; i < dc_tensor_numel(t); i++) {
        seed = seed * 1103515245u + 12345u;
        dc_tensor_data(t)[i] = (float)((seed >> 16) & 1);
    }
    return t;
}

static char *arch_of(const char *path) {
    dc_safetensors *st = dc_safetensors_open(path);
    const char *j = st ? dc_safetensors_meta(st, "deepc.model") : NULL;
    char *copy = j ? strdup(j) : NULL;
    dc_safetensors_close(st);
    return copy;
}

static bool same_bits(const dc_tensor *a, const dc_tensor *b) {
    return a && b && dc_tensor_numel(a) == dc_tensor_numel(b) &&
           memcmp(dc_tensor_data((dc_tensor *)a), dc_tensor_data((dc_tensor *)b), (size_t)dc_tensor_numel(a) * sizeof(float)) == 0;
}

static void test_type(const dc_layer_type *t) {
    dc_layer *l = dc_layer_example(t); /* a wrapper wraps a layer of its example class */
    int n = 1, s = 0, kept = 0;
    bool builds = l && buildable(l, &n, &s); /* the defaults may not: a table of 1 position */
    for (int i = 0; l && i < t->nfields; i++) {
        const dc_field *f = &t->fields[i];
        double v[24][DC_FIELD_MAX_COUNT];
        int len[24], k = candidates(f, l->cfg, v, len);
        unsigned char saved[512];
        memcpy(saved, l->cfg, t->cfg_size);
        bool done = false;
        int first_ok = -1;
        for (int j = 0; j < k && !done; j++) {
            if (dc_layer_set_field(l, f->key, v[j], len[j]) != DC_OK) continue;
            if (first_ok < 0) first_ok = j;
            done = buildable(l, &n, &s);
            if (!done) memcpy(l->cfg, saved, t->cfg_size); /* back to the values before */
        }
        /* while the layer does not build yet, a value its check accepts is progress */
        if (!done && !builds && first_ok >= 0) done = dc_layer_set_field(l, f->key, v[first_ok], len[first_ok]) == DC_OK;
        builds = builds || (done && buildable(l, &n, &s));
        if (!done) {
            kept++;
            fprintf(stderr, "%s: no other value of \"%s\" builds\n", t->name, f->key);
        }
    }
    CHECK(kept == 0 && builds);
    dc_model *a = l ? wrap(l, n, s) : NULL;
    CHECK(a != NULL);
    dc_layer_free(l);
    if (!a) return;
    char p1[300], p2[300];
    snprintf(p1, sizeof p1, "%s/%s_1.safetensors", dir, t->name);
    snprintf(p2, sizeof p2, "%s/%s_2.safetensors", dir, t->name);
    CHECK(dc_model_save(a, p1) == DC_OK);
    dc_model *b = dc_model_load(p1);
    CHECK(b != NULL);
    if (b) CHECK(dc_model_save(b, p2) == DC_OK);
    char *j1 = arch_of(p1), *j2 = arch_of(p2);
    CHECK(j1 && j2 && strcmp(j1, j2) == 0);
    dc_tensor *x[2] = {data(shapes[s].ndim, shapes[s].shape, 1), data(shapes[s].ndim, shapes[s].shape, 2)};
    dc_tensor *ya = dc_model_predict_n(a, n, (const dc_tensor *const *)x, 8);
    dc_tensor *yb = b ? dc_model_predict_n(b, n, (const dc_tensor *const *)x, 8) : NULL;
    CHECK(ya && same_bits(ya, yb));
    printf("%-24s %d input%s of %-10s fields %2d  round trip %s\n", t->name, n, n > 1 ? "s" : " ",
           dc_shape_str(shapes[s].ndim, shapes[s].shape, (char[64]){0}, 64), t->nfields, ya && same_bits(ya, yb) ? "ok" : "FAILED");
    free(j1);
    free(j2);
    dc_tensor_free(x[0]);
    dc_tensor_free(x[1]);
    dc_tensor_free(ya);
    dc_tensor_free(yb);
    dc_model_free(a);
    dc_model_free(b);
}

static void test_registry(void) {
    int n = dc_layer_type_count();
    CHECK(n >= 27);
    for (int i = 0; i < n; i++) {
        const dc_layer_type *t = dc_layer_type_at(i);
        CHECK(t && dc_layer_type_find(t->name) == t);
        for (int j = 0; j < i; j++) CHECK(strcmp(dc_layer_type_at(j)->name, t->name) != 0); /* one record per class */
        if (t && !(t->flags & DC_LAYER_INPUT)) test_type(t);
    }
    CHECK(dc_layer_type_find("Lambda") == NULL && dc_layer_type_at(n) == NULL);
}

/* Every optimiser, every option at another value than its default, through a model file. */
static void test_optimizers(void) {
    int n = dc_optimizer_type_count();
    CHECK(n >= 5);
    for (int i = 0; i < n; i++) {
        const dc_optimizer_type *t = dc_optimizer_type_at(i);
        dc_optimizer *o = dc_optimizer_create(t, 0.01f);
        CHECK(o && dc_optimizer_type_find(t->name) == t);
        if (!o) continue;
        for (int pass = 0; pass < 2; pass++) { /* the type's own fields, then the common ones */
            const dc_field *fs = pass ? dc_optimizer_common_fields : t->fields;
            int nf = pass ? dc_optimizer_common_nfields : t->nfields;
            for (int j = 0; j < nf; j++) {
                const void *cfg;
                dc_optimizer_field(o, fs[j].key, &cfg);
                double v[24][DC_FIELD_MAX_COUNT];
                int len[24], k = candidates(&fs[j], cfg, v, len), ok = 0;
                for (int c = 0; c < k && !ok; c++) ok = dc_optimizer_set_field(o, fs[j].key, v[c], len[c]) == DC_OK;
                if (!ok) fprintf(stderr, "%s: no other value of \"%s\" is accepted\n", t->name, fs[j].key);
                CHECK(ok);
            }
        }
        dc_model *m = dc_sequential();
        dc_model_add(m, dc_input(1, (int64_t[]){3}));
        dc_model_add(m, dc_dense(2, DC_ACT_NONE));
        CHECK(dc_model_compile(m, o, DC_LOSS_MSE, NULL, 0) == DC_OK);
        char p1[300], p2[300];
        snprintf(p1, sizeof p1, "%s/opt_%s_1.safetensors", dir, t->name);
        snprintf(p2, sizeof p2, "%s/opt_%s_2.safetensors", dir, t->name);
        CHECK(dc_model_save(m, p1) == DC_OK);
        dc_model *b = dc_model_load(p1);
        CHECK(b && dc_model_save(b, p2) == DC_OK);
        char *j1 = arch_of(p1), *j2 = arch_of(p2);
        CHECK(j1 && j2 && strcmp(j1, j2) == 0 && strstr(j1, t->name));
        printf("%-10s %d options  round trip %s\n", t->name, t->nfields + dc_optimizer_common_nfields, j1 && j2 && !strcmp(j1, j2) ? "ok" : "FAILED");
        free(j1);
        free(j2);
        dc_model_free(m);
        dc_model_free(b);
    }
}

/* Every learning-rate schedule, every option at another value than its default, attached to an
 * optimiser and saved with the model: the same JSON after save -> load -> save, and the loaded
 * optimiser's rates equal step by step. */
static void test_schedules(void) {
    int n = dc_schedule_type_count();
    CHECK(n >= 5);
    for (int i = 0; i < n; i++) {
        const dc_schedule_type *t = dc_schedule_type_at(i);
        dc_schedule *sch = dc_schedule_create(t);
        CHECK(sch != NULL);
        if (!sch) continue;
        for (int j = 0; j < t->nfields; j++) {
            double v[24][DC_FIELD_MAX_COUNT];
            int len[24], k = candidates(&t->fields[j], sch->cfg, v, len), ok = 0;
            for (int c = 0; c < k && !ok; c++) ok = dc_schedule_set_field(sch, t->fields[j].key, v[c], len[c]) == DC_OK;
            if (!ok) fprintf(stderr, "%s: no other value of \"%s\" is accepted\n", t->name, t->fields[j].key);
            CHECK(ok);
        }
        dc_optimizer *o = dc_sgd(0.1f, 0.5f, false);
        CHECK(dc_optimizer_set_schedule(o, sch) == DC_OK);
        dc_model *m = dc_sequential();
        dc_model_add(m, dc_input(1, (int64_t[]){3}));
        dc_model_add(m, dc_dense(2, DC_ACT_NONE));
        CHECK(dc_model_compile(m, o, DC_LOSS_MSE, NULL, 0) == DC_OK);
        char p1[300], p2[300];
        snprintf(p1, sizeof p1, "%s/sched_%s_1.safetensors", dir, t->name);
        snprintf(p2, sizeof p2, "%s/sched_%s_2.safetensors", dir, t->name);
        CHECK(dc_model_save(m, p1) == DC_OK);
        dc_model *b = dc_model_load(p1);
        CHECK(b && dc_model_save(b, p2) == DC_OK);
        char *j1 = arch_of(p1), *j2 = arch_of(p2);
        CHECK(j1 && j2 && strcmp(j1, j2) == 0 && strstr(j1, t->name));
        bool same = b != NULL;
        for (int step = 0; same && step < 30; step++) {
            dc_optimizer *oa = o, *ob = b->opt;
            same = dc_optimizer_current_lr(oa) == dc_optimizer_current_lr(ob);
            float w[2] = {1, 2}, g[2] = {0.5f, -0.25f}, w2[2] = {1, 2};
            dc_optimizer_step(oa, w, g, 2);
            dc_optimizer_step(ob, w2, g, 2);
            if (step % 5 == 4) dc_optimizer_epoch_end(oa, 1.0), dc_optimizer_epoch_end(ob, 1.0);
        }
        CHECK(same);
        printf("%-18s %d options  round trip %s\n", t->name, t->nfields, j1 && j2 && !strcmp(j1, j2) && same ? "ok" : "FAILED");
        free(j1);
        free(j2);
        dc_model_free(m);
        dc_model_free(b);
    }
}

/* Setters go through the schema: an option the type lacks, a shape option after build, a value
 * out of range, and the type's own check, each answered with the layer and the numbers. */
static void test_setters(void) {
    dc_layer *d = dc_dense(4, DC_ACT_RELU);
    CHECK_ERR(dc_layer_set_strides(d, 2, 2), DC_ERR_ARG, "Dense", "no option \"strides\"");
    CHECK_ERR(dc_layer_set_int(d, "units", 0), DC_ERR_ARG, "Dense", "\"units\"", "got 0");
    CHECK_ERR(dc_layer_set_int(d, "activation", 99), DC_ERR_ARG, "\"activation\"", "one of", "99");
    CHECK(dc_layer_set_int(d, "units", 5) == DC_OK);
    dc_model *m = dc_sequential();
    dc_model_add(m, dc_input(1, (int64_t[]){3}));
    dc_layer_set_name(d, "d");
    CHECK(dc_model_add(m, d) == DC_OK);
    CHECK_ERR(dc_layer_set_int(d, "units", 6), DC_ERR_STATE, "d (Dense)", "\"units\"", "built");
    CHECK_ERR(dc_layer_set_name(d, "e"), DC_ERR_STATE, "built");
    double u = 0;
    CHECK(dc_layer_get_field(d, "units", &u) == 1 && u == 5);
    dc_model_free(m);
    dc_layer *c = dc_conv2d_layer(2, 3, 3, 1, DC_PAD_VALID, DC_ACT_NONE);
    CHECK_ERR(dc_layer_set_ints(c, "strides", (const int[]){1}, 1), DC_ERR_ARG, "\"strides\"", "2 whole numbers", "1 value");
    CHECK_ERR(dc_layer_set_padding(c, (const int[]){0, -1, 0, 0}), DC_ERR_ARG, "explicit_padding", "-1");
    dc_layer_free(c);
    dc_layer *r = dc_simple_rnn_layer(3, DC_ACT_TANH, false);
    CHECK_ERR(dc_layer_set_int(r, "activation", DC_ACT_SOFTMAX), DC_ERR_ARG, "softmax");
    double a = 0;
    CHECK(dc_layer_get_field(r, "activation", &a) == 1 && a == DC_ACT_TANH); /* a refused value leaves it as it was */
    dc_layer_free(r);
    dc_layer *bn = dc_batch_norm_layer(0.1f, 1e-3f);
    m = dc_sequential();
    dc_model_add(m, dc_input(3, (int64_t[]){2, 4, 4}));
    dc_model_add(m, bn);
    CHECK(dc_layer_set_synchronized(bn, true) == DC_OK); /* a run-time option: allowed after build */
    dc_model_free(m);
}

/* A model compiled with a user loss keeps its loss's name; it loads uncompiled, to be compiled
 * again, since a function cannot be saved. */
static dc_tensor *half_mse(dc_ctx *c, dc_tensor *pred, dc_tensor *target, void *user) {
    return dc_scale(c, dc_mean(c, dc_square(c, dc_sub(c, pred, target))), 0.5f);
}
static void test_custom_loss_file(void) {
    dc_model *m = dc_sequential();
    dc_model_add(m, dc_input(1, (int64_t[]){4}));
    dc_model_add(m, dc_dense(2, DC_ACT_NONE));
    CHECK(dc_model_compile_custom(m, dc_adam(1e-3f, 0.9f, 0.999f, 1e-7f), half_mse, NULL, NULL, 0) == DC_OK);
    char p[300];
    snprintf(p, sizeof p, "%s/custom.safetensors", dir);
    CHECK(dc_model_save(m, p) == DC_OK);
    char *j = arch_of(p);
    CHECK(j && strstr(j, "\"loss\":\"custom\""));
    free(j);
    dc_model *l = dc_model_load(p);
    CHECK(l != NULL);
    dc_tensor *x = data(1, (int64_t[]){4}, 3), *y = data(1, (int64_t[]){2}, 4);
    CHECK_ERR(dc_model_fit(l, x, y, NULL, NULL), DC_ERR_STATE, "compile the model first");
    CHECK(dc_model_compile_custom(l, dc_adam(1e-3f, 0.9f, 0.999f, 1e-7f), half_mse, NULL, NULL, 0) == DC_OK);
    dc_fit_opts o = dc_fit_defaults();
    o.verbose = 0;
    CHECK(dc_model_fit(l, x, y, &o, NULL) == DC_OK);
    dc_tensor_free(x);
    dc_tensor_free(y);
    dc_model_free(l);
    dc_model_free(m);
}

/* Reshape's bad targets, answered with the numbers; a reshape keeps each row's values in order. */
static void test_reshape(void) {
    CHECK_NULL_ERR(dc_reshape_layer(2, (const int64_t[]){3, 0}), "reshape", "dimension 1", "is 0");
    CHECK_NULL_ERR(dc_reshape_layer(2, (const int64_t[]){-1, -1}), "reshape", "2 dimensions of -1");
    CHECK_NULL_ERR(dc_reshape_layer(0, (const int64_t[]){1}), "reshape", "1 to 7", "got 0");
    dc_model *m = dc_sequential();
    dc_model_add(m, dc_input(2, (int64_t[]){6, 8}));
    CHECK_ERR(dc_model_add(m, dc_reshape_layer(2, (const int64_t[]){5, -1})), DC_ERR_SHAPE, "reshape", "(None, 6, 8)", "48 values",
              "(None, 5, -1)");
    CHECK(dc_model_add(m, dc_reshape_layer(3, (const int64_t[]){4, -1, 3})) == DC_OK);
    int64_t sh[DC_MAX_DIMS];
    CHECK(dc_layer_output_shape(dc_model_layer(m, 1), sh) == 3 && sh[0] == 4 && sh[1] == 4 && sh[2] == 3);
    CHECK(dc_model_build(m, 0, NULL) == DC_OK);
    dc_tensor *x = data(2, (int64_t[]){6, 8}, 5);
    dc_tensor *y = dc_model_predict(m, x, 8);
    CHECK(y && dc_tensor_ndim(y) == 4 && dc_tensor_numel(y) == dc_tensor_numel(x) &&
          memcmp(dc_tensor_data(y), dc_tensor_data(x), (size_t)dc_tensor_numel(x) * sizeof(float)) == 0);
    dc_tensor_free(x);
    dc_tensor_free(y);
    dc_model_free(m);
}

/* Files written by deepc 7b9eca9 load: the same predictions, and their checkpoints resume. */
static void test_old_models(void) {
    static const char *const names[] = {"mlp", "cnn", "rnn", "graph", "bert"};
    for (size_t i = 0; i < DC_ARRAY_LEN(names); i++) {
        char p[256];
        snprintf(p, sizeof p, "tests/golden/old_models/%s.safetensors", names[i]);
        dc_model *m = dc_model_load(p);
        CHECK(m != NULL);
        snprintf(p, sizeof p, "tests/golden/old_models/%s_data.npz", names[i]);
        int n = 0;
        char **an = NULL;
        dc_tensor **arr = NULL;
        CHECK(dc_npz_load(p, &n, &an, &arr) == DC_OK && n == 4);
        if (!m || n != 4) {
            dc_npz_free(n, an, arr);
            dc_model_free(m);
            continue;
        }
        int nx = dc_model_num_inputs(m);
        dc_tensor *pred = dc_model_predict_n(m, nx, (const dc_tensor *const *)arr, 64);
        double worst = 0;
        for (int64_t k = 0; pred && k < dc_tensor_numel(pred); k++)
            worst = fmax(worst, fabs((double)dc_tensor_data(pred)[k] - dc_tensor_data(arr[3])[k]));
        CHECK(pred && dc_tensor_numel(pred) == dc_tensor_numel(arr[3]) && worst <= 1e-6);
        snprintf(p, sizeof p, "tests/golden/old_models/%s.ckpt", names[i]);
        CHECK(dc_model_load_checkpoint(m, p) == DC_OK);
        dc_fit_opts o = dc_fit_defaults();
        o.verbose = 0;
        o.epochs = 2;
        o.batch_size = dc_tensor_dim(arr[0], 0) / 2;
        CHECK(dc_model_fit_n(m, nx, (const dc_tensor *const *)arr, arr[2], &o, NULL) == DC_OK);
        printf("old model %-5s loads: largest prediction difference %g; its checkpoint resumes\n", names[i], worst);
        dc_tensor_free(pred);
        dc_npz_free(n, an, arr);
        dc_model_free(m);
    }
}

int main(void) {
    if (!tmp_dir_create()) return puts("cannot make a temporary directory"), 1;
    test_registry();
    test_optimizers();
    test_schedules();
    test_setters();
    test_reshape();
    test_custom_loss_file();
    test_old_models();
    tmp_dir_remove();
    return check_report("test_registry");
}
