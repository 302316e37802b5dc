/* deepc's BERT encoder against a tiny BERT in PyTorch 1.13 (scripts/golden/gen_golden_bert.py):
 * the sentences tokenised by dc_wordpiece_* must give the script's ids, and the model that
 * dc_bert_load builds from the state_dict (Hugging Face's names) must give its last hidden
 * state and pooled output within 1e-4. Then the bad inputs (a sequence longer than the
 * positions, a tensor of the wrong shape, a vocabulary without [UNK], heads that do not divide
 * the hidden size, an id outside the vocabulary), and a round trip through a model file. */
#include "check.h"
#include "tmpfiles.h"

#include <math.h>
#include <stdlib.h>

#define DIR "tests/golden/bert/"
#define TOL 1e-4

static double max_abs_err(const dc_tensor *got, const dc_tensor *want) {
    if (!got || !want || dc_tensor_numel(got) != dc_tensor_numel(want)) return 1e9;
    const float *a = dc_tensor_data((dc_tensor *)got), *b = dc_tensor_data((dc_tensor *)want);
    double worst = 0;
    for (int64_t i = 0; i < dc_tensor_numel(want); i++) worst = fmax(worst, fabs((double)a[i] - b[i]));
    return worst;
}

static double worst_hidden, worst_pooled;

static void check_close(const char *what, const dc_tensor *got, const dc_tensor *want, double *worst) {
    double e = max_abs_err(got, want);
    if (e < 1e9) *worst = fmax(*worst, e);
    check_count++;
    if (!(e <= TOL)) {
        check_fails++;
        fprintf(stderr, "%s differs from PyTorch: max abs error %.3g\n", what, e);
    }
}

static bool same_values(const dc_tensor *a, const dc_tensor *b) {
    return a && b && dc_tensor_numel(a) == dc_tensor_numel(b) &&
           memcmp(dc_tensor_data((dc_tensor *)a), dc_tensor_data((dc_tensor *)b), (size_t)dc_tensor_numel(a) * sizeof(float)) == 0;
}

typedef struct golden {
    dc_safetensors *st;
    dc_tensor *ids, *types, *mask, *hidden, *pooled;
    int64_t n, T;
} golden;

static bool golden_open(golden *g) {
    memset(g, 0, sizeof *g);
    if (!(g->st = dc_safetensors_open(DIR "expected.safetensors"))) return false;
    g->ids = dc_safetensors_read(g->st, "input_ids");
    g->types = dc_safetensors_read(g->st, "token_type_ids");
    g->mask = dc_safetensors_read(g->st, "attention_mask");
    g->hidden = dc_safetensors_read(g->st, "last_hidden_state");
    g->pooled = dc_safetensors_read(g->st, "pooler_output");
    if (!g->ids || !g->types || !g->mask || !g->hidden || !g->pooled) return false;
    g->n = dc_tensor_dim(g->ids, 0);
    g->T = dc_tensor_dim(g->ids, 1);
    return true;
}

static void golden_close(golden *g) {
    dc_tensor *all[] = {g->ids, g->types, g->mask, g->hidden, g->pooled};
    for (int i = 0; i < 5; i++) dc_tensor_free(all[i]);
    dc_safetensors_close(g->st);
}

/* dc_wordpiece_encode on the script's sentences gives the script's ids, segments and mask. */
static void test_tokens(const golden *g) {
    dc_wordpiece *wp = dc_wordpiece_load(DIR "vocab.txt", true);
    CHECK(wp != NULL);
    if (!wp) return;
    int64_t T = g->T;
    CHECK(atoi(dc_safetensors_meta(g->st, "max_len")) == T);
    for (int64_t i = 0; i < g->n; i++) {
        char key[32];
        snprintf(key, sizeof key, "text_a.%lld", (long long)i);
        const char *a = dc_safetensors_meta(g->st, key);
        snprintf(key, sizeof key, "text_b.%lld", (long long)i);
        const char *b = dc_safetensors_meta(g->st, key);
        float ids[64], seg[64], mask[64];
        int64_t len = 0;
        CHECK(a && T <= 64 && dc_wordpiece_encode(wp, a, b, T, ids, seg, mask, &len) == DC_OK);
        const float *wi = dc_tensor_data(g->ids) + i * T, *ws = dc_tensor_data(g->types) + i * T,
                    *wm = dc_tensor_data(g->mask) + i * T;
        bool same = memcmp(ids, wi, (size_t)T * sizeof *ids) == 0 && memcmp(seg, ws, (size_t)T * sizeof *seg) == 0 &&
                    memcmp(mask, wm, (size_t)T * sizeof *mask) == 0;
        CHECK(same);
        if (!same) fprintf(stderr, "sentence %lld (\"%s\"): ids differ from the script's\n", (long long)i, a);
    }
    dc_wordpiece_free(wp);
}

/* dc_bert_forward with segment ids: every sentence, the pair included. */
static void test_forward(const golden *g) {
    dc_bert_opts o = dc_bert_defaults();
    o.seq_len = g->T;
    dc_model *m = dc_bert_load(DIR "model.safetensors", &o);
    CHECK(m != NULL);
    if (!m) return;
    CHECK(dc_model_num_layers(m) == 1 + 1 + 2 + 1); /* input, embeddings, 2 layers, pooler */
    CHECK(dc_model_param(m, "encoder.layer.1.attention.self.query.weight") != NULL);
    dc_ctx *c = dc_ctx_new();
    dc_ctx_set_grad(c, false);
    dc_tensor *hidden = NULL, *pooled = dc_bert_forward(m, c, g->ids, g->types, false, &hidden);
    CHECK(pooled && hidden);
    check_close("last_hidden_state", hidden, g->hidden, &worst_hidden);
    check_close("pooler_output", pooled, g->pooled, &worst_pooled);
    dc_ctx_free(c);

    /* through a model file: the same numbers, bit for bit */
    const char *path = in_dir("bert_model.safetensors");
    CHECK(dc_model_save(m, path) == DC_OK);
    dc_model *m2 = dc_model_load(path);
    CHECK(m2 != NULL);
    if (m2) {
        dc_ctx *c1 = dc_ctx_new(), *c2 = dc_ctx_new();
        dc_tensor *h1, *h2;
        dc_tensor *p1 = dc_bert_forward(m, c1, g->ids, g->types, false, &h1);
        dc_tensor *p2 = dc_bert_forward(m2, c2, g->ids, g->types, false, &h2);
        CHECK(same_values(p1, p2) && same_values(h1, h2));
        dc_tensor *q1 = dc_model_predict(m, g->ids, 2), *q2 = dc_model_predict(m2, g->ids, 2);
        CHECK(same_values(q1, q2));
        dc_tensor_free(q1);
        dc_tensor_free(q2);
        dc_ctx_free(c1);
        dc_ctx_free(c2);
        dc_model_free(m2);
    }

    /* training mode: a gradient reaches the word embeddings, finite */
    dc_ctx *ct = dc_ctx_new();
    dc_tensor *pt = dc_bert_forward(m, ct, g->ids, g->types, true, NULL);
    dc_tensor *loss = pt ? dc_sum(ct, dc_mul(ct, pt, pt)) : NULL;
    CHECK(loss && dc_backward(ct, loss) == DC_OK);
    dc_tensor *gw = dc_tensor_grad(dc_model_param(m, "embeddings.word_embeddings.weight"));
    double norm = 0;
    for (int64_t i = 0; gw && i < dc_tensor_numel(gw); i++) norm += (double)dc_tensor_data(gw)[i] * dc_tensor_data(gw)[i];
    CHECK(gw && norm > 0 && isfinite(norm));
    dc_ctx_free(ct);
    dc_model_free(m);
}

/* The Sequential path (segment 0 everywhere): dc_model_predict on the single sentences. */
static void test_predict(const golden *g) {
    int64_t n = g->n - 1, T = g->T, H = dc_tensor_dim(g->hidden, 2); /* the last row is a pair */
    dc_tensor *ids = dc_tensor_from(2, (int64_t[]){n, T}, dc_tensor_data(g->ids));
    dc_tensor *wh = dc_tensor_from(3, (int64_t[]){n, T, H}, dc_tensor_data(g->hidden));
    dc_tensor *wp = dc_tensor_from(2, (int64_t[]){n, H}, dc_tensor_data(g->pooled));
    for (int pool = 0; pool < 2; pool++) {
        dc_bert_opts o = dc_bert_defaults();
        o.seq_len = T;
        o.with_pooler = pool;
        dc_model *m = dc_bert_load(DIR "model.safetensors", &o);
        CHECK(m != NULL);
        dc_tensor *y = m ? dc_model_predict(m, ids, 2) : NULL;
        CHECK(y != NULL);
        if (pool) check_close("predict: pooler_output", y, wp, &worst_pooled);
        else check_close("predict: last_hidden_state", y, wh, &worst_hidden);
        dc_tensor_free(y);
        dc_model_free(m);
    }
    dc_tensor_free(ids);
    dc_tensor_free(wh);
    dc_tensor_free(wp);
}

/* Two inputs, ids and segment ids, in a graph model: every sentence, the pair included, through
 * dc_model_predict_n; once from dc_bert_load(token_types), once wired by hand with
 * dc_model_input/dc_model_apply and loaded with dc_model_load_weights (the names are the file's). */
static void test_graph(const golden *g) {
    const dc_tensor *x[2] = {g->ids, g->types};
    dc_bert_opts o = dc_bert_defaults();
    o.seq_len = g->T;
    o.token_types = true;
    dc_model *m = dc_bert_load(DIR "model.safetensors", &o);
    CHECK(m != NULL && dc_model_num_inputs(m) == 2);
    dc_tensor *y = m ? dc_model_predict_n(m, 2, x, 3) : NULL;
    CHECK(y != NULL);
    check_close("graph (dc_bert_load): pooler_output", y, g->pooled, &worst_pooled);
    /* through a model file, wiring included: the same numbers, bit for bit */
    const char *path = in_dir("bert_graph.safetensors");
    CHECK(m && dc_model_save(m, path) == DC_OK);
    dc_model *m2 = dc_model_load(path);
    CHECK(m2 != NULL && dc_model_num_inputs(m2) == 2);
    dc_tensor *y1 = m ? dc_model_predict_n(m, 2, x, 3) : NULL, *y2 = m2 ? dc_model_predict_n(m2, 2, x, 3) : NULL;
    CHECK(same_values(y1, y2) && same_values(y, y1));
    dc_tensor_free(y1);
    dc_tensor_free(y2);
    dc_model_free(m2);
    dc_tensor_free(y);
    dc_model_free(m);

    int64_t T = g->T;
    m = dc_sequential();
    int ids = dc_model_input(m, "input_ids", 1, &T), types = dc_model_input(m, "token_type_ids", 1, &T);
    dc_layer *l = dc_bert_embeddings_layer(51, 32, 64, 2, 1e-12f, 0);
    dc_layer_set_name(l, "embeddings");
    int node = dc_model_apply(m, l, 2, (int[]){ids, types});
    CHECK(node >= 0);
    for (int i = 0; i < 2; i++) {
        char name[32];
        snprintf(name, sizeof name, "encoder.layer.%d", i);
        l = dc_bert_layer(4, 64, 1e-12f, 0);
        dc_layer_set_name(l, name);
        node = dc_model_apply(m, l, 1, &node);
    }
    l = dc_bert_pooler_layer();
    dc_layer_set_name(l, "pooler");
    CHECK(dc_model_apply(m, l, 1, &node) >= 0);
    CHECK(dc_model_build(m, 0, NULL) == DC_OK);
    CHECK(dc_model_load_weights(m, DIR "model.safetensors", false) == DC_OK);
    y = dc_model_predict_n(m, 2, x, 4);
    CHECK(y != NULL);
    check_close("graph (by hand): pooler_output", y, g->pooled, &worst_pooled);
    dc_tensor_free(y);
    /* a third input is more than the embeddings take */
    CHECK(dc_model_apply(m, dc_bert_embeddings_layer(51, 32, 64, 2, 1e-12f, 0), 3, (int[]){ids, types, ids}) < 0);
    dc_model_free(m);
    m = dc_sequential();
    ids = dc_model_input(m, "input_ids", 1, &T);
    types = dc_model_input(m, "token_type_ids", 1, (int64_t[]){T + 1});
    dc_clear_error();
    CHECK(dc_model_apply(m, dc_bert_embeddings_layer(51, 32, 64, 2, 1e-12f, 0), 2, (int[]){ids, types}) < 0);
    CHECK(strstr(dc_last_error(), "17 steps") && strstr(dc_last_error(), "16"));
    dc_model_free(m);
}

/* Training runs: the two-input model with BERT's dropout 0.1, its pooled vectors fitted to
 * targets (MSE) for a few epochs; the loss falls and stays finite. */
static void test_fit(const golden *g) {
    dc_bert_opts o = dc_bert_defaults();
    o.seq_len = g->T;
    o.dropout = 0.1f;
    o.token_types = true;
    dc_model *m = dc_bert_load(DIR "model.safetensors", &o);
    CHECK(m != NULL);
    if (!m) return;
    CHECK(dc_model_compile(m, dc_adam(1e-3f, 0.9f, 0.999f, 1e-8f), DC_LOSS_MSE, NULL, 0) == DC_OK);
    dc_tensor *y = dc_tensor_new(2, (int64_t[]){4, 32});
    for (int64_t i = 0; i < 4 * 32; i++) dc_tensor_data(y)[i] = i % 3 ? 0.5f : -0.5f;
    dc_fit_opts fo = dc_fit_defaults();
    fo.epochs = 8;
    fo.batch_size = 2;
    fo.verbose = 0;
    dc_history *h = NULL;
    const dc_tensor *x[2] = {g->ids, g->types};
    CHECK(dc_model_fit_n(m, 2, x, y, &fo, &h) == DC_OK);
    const double *loss = h ? dc_history_get(h, "loss") : NULL;
    CHECK(loss && isfinite(loss[7]) && loss[7] < loss[0]);
    if (loss) printf("training loss: %.4f -> %.4f\n", loss[0], loss[7]);
    dc_history_free(h);
    dc_tensor_free(y);
    dc_model_free(m);
}

/* Writes the checkpoint's tensors under prefix + name (LayerNorm.weight/bias renamed
 * LayerNorm.gamma/beta if tf, as in checkpoints converted from TensorFlow), `bad` (if not NULL)
 * replaced by a tensor with one row fewer, with heads_meta (if not NULL) as the
 * num_attention_heads metadata; returns the path. */
static const char *write_copy(const char *name, const char *prefix, const char *bad, bool tf, const char *heads_meta) {
    dc_safetensors *st = dc_safetensors_open(DIR "model.safetensors");
    int n = st ? dc_safetensors_count(st) : 0;
    char(*names)[128] = calloc((size_t)n + 1, sizeof *names);
    const char **np = calloc((size_t)n + 1, sizeof *np);
    dc_tensor **ts = calloc((size_t)n + 1, sizeof *ts);
    for (int i = 0; i < n; i++) {
        const char *tn = dc_safetensors_name(st, i);
        snprintf(names[i], sizeof names[i], "%s%s", prefix, tn);
        char *ln = tf ? strstr(names[i], "LayerNorm.") : NULL;
        if (ln) strcpy(ln + 10, strcmp(ln + 10, "weight") == 0 ? "gamma" : "beta");
        np[i] = names[i];
        ts[i] = dc_safetensors_read(st, tn);
        if (bad && strcmp(tn, bad) == 0) {
            int nd = dc_tensor_ndim(ts[i]);
            int64_t sh[2] = {dc_tensor_dim(ts[i], 0) - 1, nd > 1 ? dc_tensor_dim(ts[i], 1) : 1};
            dc_tensor *cut = dc_tensor_from(nd, sh, dc_tensor_data(ts[i]));
            dc_tensor_free(ts[i]);
            ts[i] = cut;
        }
    }
    const char *path = in_dir(name);
    CHECK(n > 0 && dc_safetensors_save(path, n, np, (const dc_tensor *const *)ts, DC_DTYPE_F32, heads_meta != NULL,
                                       (const char *[]){"num_attention_heads"}, (const char *[]){heads_meta}) == DC_OK);
    for (int i = 0; i < n; i++) dc_tensor_free(ts[i]);
    free(ts);
    free(np);
    free(names);
    dc_safetensors_close(st);
    return path;
}

static void test_errors(const golden *g) {
    dc_bert_opts o = dc_bert_defaults();
    o.seq_len = g->T;
    /* a sequence longer than the table of positions: at load, and in forward */
    o.seq_len = 70;
    CHECK_NULL_ERR(dc_bert_load(DIR "model.safetensors", &o), "embeddings", "70 tokens", "64 positions");
    o.seq_len = g->T;
    dc_model *m = dc_bert_load(DIR "model.safetensors", &o);
    CHECK(m != NULL);
    dc_ctx *c = dc_ctx_new();
    dc_tensor *ids = dc_tensor_new(2, (int64_t[]){1, 70});
    dc_tensor_fill(ids, 5);
    CHECK_NULL_ERR(dc_bert_forward(m, c, ids, NULL, false, NULL), "embeddings", "70 tokens", "64 positions");
    dc_tensor_free(ids);
    /* an id outside the vocabulary, a segment outside the token types */
    ids = dc_tensor_new(2, (int64_t[]){1, 4});
    dc_tensor_data(ids)[2] = 999;
    char vs[32];
    snprintf(vs, sizeof vs, "[0, %lld)", (long long)dc_tensor_dim(dc_model_param(m, "embeddings.word_embeddings.weight"), 0));
    CHECK_NULL_ERR(dc_bert_forward(m, c, ids, NULL, false, NULL), "embeddings", "token id 999", vs, "vocabulary");
    dc_tensor *types = dc_tensor_new(2, (int64_t[]){1, 4});
    dc_tensor_data(ids)[2] = 3;
    dc_tensor_data(types)[1] = 2;
    CHECK_NULL_ERR(dc_bert_forward(m, c, ids, types, false, NULL), "embeddings", "token type id 2", "[0, 2)");
    dc_tensor_free(types);
    dc_tensor_free(ids);
    dc_ctx_free(c);
    dc_model_free(m);

    /* heads that do not divide the hidden size */
    o.heads = 5;
    CHECK_NULL_ERR(dc_bert_load(DIR "model.safetensors", &o), "encoder.layer.0", "5 heads", "hidden size 32");
    o.heads = 0;
    m = dc_sequential();
    dc_model_add(m, dc_input(2, (int64_t[]){8, 30}));
    CHECK_ERR(dc_model_add(m, dc_bert_layer(4, 64, 1e-12f, 0)), DC_ERR_SHAPE, "4 heads", "30");
    dc_model_free(m);
    m = dc_sequential();
    dc_model_add(m, dc_input(2, (int64_t[]){8, 30}));
    CHECK_ERR(dc_model_add(m, dc_bert_embeddings_layer(51, 32, 64, 2, 1e-12f, 0)), DC_ERR_SHAPE, "token ids (None, T)",
              "got (None, 8, 30)");
    dc_model_free(m);
    m = dc_sequential();
    dc_model_add(m, dc_input(1, (int64_t[]){8}));
    CHECK_ERR(dc_model_add(m, dc_bert_pooler_layer()), DC_ERR_SHAPE, "hidden states", "got input (None, 8)");
    dc_model_free(m);
    CHECK_NULL_ERR(dc_bert_layer(0, 64, 1e-12f, 0), "heads", "0");
    CHECK_NULL_ERR(dc_bert_embeddings_layer(10, 8, 0, 2, 1e-12f, 0), "max_positions 0");

    /* a checkpoint with the "bert." prefix and TensorFlow's gamma/beta loads; one with a tensor
     * of the wrong shape names it */
    const char *prefixed = write_copy("prefixed.safetensors", "bert.", NULL, true, "4");
    m = dc_bert_load(prefixed, &o);
    CHECK(m != NULL);
    if (m) {
        c = dc_ctx_new();
        dc_tensor *hidden = NULL;
        dc_tensor *pooled = dc_bert_forward(m, c, g->ids, g->types, false, &hidden);
        check_close("bert.-prefixed: pooler_output", pooled, g->pooled, &worst_pooled);
        dc_ctx_free(c);
        dc_model_free(m);
    }
    const char *bad = write_copy("bad_shape.safetensors", "bert.", "encoder.layer.1.intermediate.dense.weight", false, "4");
    CHECK_NULL_ERR(dc_bert_load(bad, &o), "bert.encoder.layer.1.intermediate.dense.weight", "[63, 32]", "encoder.layer.1",
                   "[64, 32]");
    CHECK(dc_last_status() == DC_ERR_SHAPE);
    bad = write_copy("bad_norm.safetensors", "", "embeddings.LayerNorm.weight", true, "4");
    CHECK_ERR(dc_bert_load(bad, &o) == NULL ? dc_last_status() : DC_OK, DC_ERR_SHAPE, "embeddings.LayerNorm.gamma", "[31]",
              "[32]");
    /* the heads: from the options, else the metadata, else hidden / 64 */
    const char *plain = write_copy("no_meta.safetensors", "", NULL, false, NULL);
    CHECK_NULL_ERR(dc_bert_load(plain, &o), "no_meta.safetensors", "hidden size 32", "multiple of 64", "dc_bert_opts.heads");
    o.heads = 4;
    m = dc_bert_load(plain, &o);
    CHECK(m != NULL);
    dc_model_free(m);
    o.heads = 0;
    CHECK_NULL_ERR(dc_bert_load(write_copy("bad_meta.safetensors", "", NULL, false, "four"), &o), "num_attention_heads", "\"four\"");
    CHECK_NULL_ERR(dc_bert_load(DIR "vocab.txt", &o), "vocab.txt");
    CHECK_NULL_ERR(dc_bert_load(DIR "expected.safetensors", &o), "embeddings.word_embeddings.weight");

    /* a vocabulary without [UNK] */
    const char *voc = WRITE("no_unk.txt", "[PAD]\n[CLS]\n[SEP]\n[MASK]\nhello\n");
    CHECK_NULL_ERR(dc_wordpiece_load(voc, true), "no_unk.txt", "[UNK]");
}

int main(void) {
    dc_set_threads(2);
    if (!tmp_dir_create()) return 1;
    golden g;
    bool ok = golden_open(&g);
    CHECK(ok);
    if (ok) {
        test_tokens(&g);
        test_forward(&g);
        test_predict(&g);
        test_graph(&g);
        test_fit(&g);
        test_errors(&g);
    }
    golden_close(&g);
    tmp_dir_remove();
    printf("max abs error against PyTorch: last_hidden_state %.3g, pooler_output %.3g\n", worst_hidden, worst_pooled);
    return check_report("test_golden_bert");
}
