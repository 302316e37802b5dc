/* deepc's Transformer layers against PyTorch 1.13 (scripts/golden/gen_golden_transformer.py):
 * nn.TransformerEncoderLayer (post- and pre-norm, relu and gelu, key padding, causal),
 * nn.MultiheadAttention as self- and cross-attention, nn.TransformerDecoderLayer (post- and
 * pre-norm, memory and target padding) in a two-input graph model, nn.LayerNorm. PyTorch's parameters load by name with
 * dc_model_load_weights; outputs and the gradients of the input and of every parameter must
 * match. */
#include "check.h"

#include "tensor/tensor.h"

#include <math.h>

#define DIR "tests/golden/transformer/"

typedef enum kind { ENC, DEC, MHA, LN } kind;
typedef struct gcase {
    const char *name;
    kind k;
    int heads;
    dc_activation act;
    bool pre_norm, causal;
} gcase;

static const gcase cases[] = {
    {"encoder_post_relu", ENC, 2, DC_ACT_RELU, false, false},
    {"encoder_pre_gelu", ENC, 2, DC_ACT_GELU, true, false},
    {"encoder_padding", ENC, 4, DC_ACT_RELU, false, false},
    {"encoder_causal", ENC, 2, DC_ACT_GELU, false, true},
    {"mha_self", MHA, 2, DC_ACT_NONE, false, false},
    {"mha_self_padding_causal", MHA, 2, DC_ACT_NONE, false, true},
    {"mha_cross", MHA, 2, DC_ACT_NONE, false, false},
    {"mha_cross_kdim", MHA, 2, DC_ACT_NONE, false, false}, /* separate projections, memory width 6 */
    {"decoder_post_relu", DEC, 2, DC_ACT_RELU, false, true},
    {"decoder_pre_gelu", DEC, 4, DC_ACT_GELU, true, true},
    {"layer_norm", LN, 0, DC_ACT_NONE, false, false},
};

/* Largest |a - b| / (1e-3 + |b|) over the elements; 1e9 if the sizes differ. */
static double rel_err(const float *a, const dc_tensor *b, int64_t n) {
    if (!a || !b || dc_tensor_numel(b) != n) return 1e9;
    double worst = 0;
    const float *B = dc_tensor_data((dc_tensor *)b);
    for (int64_t i = 0; i < n; i++) worst = fmax(worst, fabs((double)a[i] - B[i]) / (1e-3 + fabs((double)B[i])));
    return worst;
}

static double worst_seen;

static void check_close(const char *c, const char *what, const float *got, const dc_tensor *want, int64_t n) {
    double e = rel_err(got, want, n);
    if (e < 1e9) worst_seen = fmax(worst_seen, e);
    check_count++;
    if (!(e < 4e-4)) { /* float32's rounding through a layer: the worst seen is 1.6e-4 */
        check_fails++;
        fprintf(stderr, "%s: %s differs from PyTorch: relative error %.3g\n", c, what, e);
    }
}

static void run(const gcase *gc) {
    char path[256];
    snprintf(path, sizeof path, DIR "%s.safetensors", gc->name);
    dc_safetensors *st = dc_safetensors_open(path);
    CHECK(st != NULL);
    if (!st) return;
    dc_tensor *x = dc_safetensors_read(st, "x"), *g = dc_safetensors_read(st, "g"), *y = dc_safetensors_read(st, "y");
    dc_tensor *gx = dc_safetensors_read(st, "grad.x");
    bool has_mem = dc_safetensors_find(st, "mem") >= 0;
    dc_tensor *mem = has_mem ? dc_safetensors_read(st, "mem") : NULL, *gmem = has_mem ? dc_safetensors_read(st, "grad.mem") : NULL;
    int64_t T = dc_tensor_dim(x, 1), D = dc_tensor_dim(x, 2);
    dc_layer *l = NULL;
    int64_t sh[DC_MAX_DIMS];
    dc_dtype dt;
    if (gc->k == ENC || gc->k == DEC) {
        dc_safetensors_shape(st, dc_safetensors_find(st, "layer.linear1.weight"), sh, &dt);
        l = gc->k == ENC ? dc_transformer_encoder_layer(gc->heads, sh[0], 0.0f, gc->act, gc->pre_norm, gc->causal)
                         : dc_transformer_decoder_layer(gc->heads, sh[0], 0.0f, gc->act, gc->pre_norm);
    } else if (gc->k == MHA) {
        l = dc_multi_head_attention_layer(gc->heads, gc->causal, 0.0f);
        if (dc_safetensors_find(st, "layer.q_proj_weight") >= 0) CHECK(dc_layer_set_separate_projections(l, true) == DC_OK);
    } else {
        l = dc_layer_norm_layer(1e-5f);
    }
    dc_layer_set_name(l, "layer");
    dc_model *m = dc_sequential();
    if (has_mem) { /* a graph: the layer takes the sequence and the memory */
        int in0 = dc_model_input(m, "x", 2, (int64_t[]){T, D});
        int in1 = dc_model_input(m, "mem", 2, (int64_t[]){dc_tensor_dim(mem, 1), dc_tensor_dim(mem, 2)});
        CHECK(dc_model_apply(m, l, 2, (int[]){in0, in1}) == 2);
    } else {
        dc_model_add(m, dc_input(2, (int64_t[]){T, D}));
        CHECK(dc_model_add(m, l) == DC_OK);
    }
    CHECK(dc_model_build(m, 0, NULL) == DC_OK);
    CHECK(dc_model_load_weights(m, path, true) == DC_OK);
    uint8_t mask[64], mmask[64];
    const uint8_t *masks[2] = {NULL, NULL};
    static const char *const mask_names[2] = {"mask", "mem_mask"};
    for (int k = 0; k < 2; k++) {
        if (dc_safetensors_find(st, mask_names[k]) < 0) continue;
        uint8_t *mk = k ? mmask : mask;
        dc_tensor *mt = dc_safetensors_read(st, mask_names[k]);
        for (int64_t i = 0; i < dc_tensor_numel(mt); i++) mk[i] = dc_tensor_data(mt)[i] != 0;
        dc_tensor_free(mt);
        masks[k] = mk;
    }
    dc_tensor_set_requires_grad(x, true);
    if (mem) dc_tensor_set_requires_grad(mem, true);
    dc_ctx *c = dc_ctx_new();
    dc_tensor *out = has_mem ? dc_model_forward_masked(m, c, 2, (dc_tensor *[]){x, mem}, masks, true)
                             : dc_model_forward_masked(m, c, 1, &x, masks, true);
    dc_tensor *loss = out ? dc_sum(c, dc_mul(c, out, g)) : NULL;
    CHECK(loss && dc_backward(c, loss) == DC_OK);
    if (out && loss) {
        check_close(gc->name, "y", dc_tensor_data(out), y, dc_tensor_numel(out));
        check_close(gc->name, "dL/dx", dc_tensor_data(dc_tensor_grad(x)), gx, dc_tensor_numel(x));
        if (mem) check_close(gc->name, "dL/dmem", dc_tensor_data(dc_tensor_grad(mem)), gmem, dc_tensor_numel(mem));
        for (int i = 0; i < dc_safetensors_count(st); i++) {
            const char *n = dc_safetensors_name(st, i);
            if (strncmp(n, "grad.layer.", 11) != 0) continue;
            dc_tensor *p = dc_model_param(m, n + 5), *want = dc_safetensors_read(st, n);
            CHECK(p != NULL);
            if (p) check_close(gc->name, n, dc_tensor_data(dc_tensor_grad(p)), want, dc_tensor_numel(p));
            dc_tensor_free(want);
        }
    }
    dc_ctx_free(c);
    dc_model_free(m);
    dc_tensor *all[] = {x, g, y, gx, mem, gmem};
    for (int i = 0; i < 6; i++) dc_tensor_free(all[i]);
    dc_safetensors_close(st);
}

/* The layers' own errors, with the numbers. */
static void test_errors(void) {
    dc_model *m = dc_sequential();
    dc_model_add(m, dc_input(2, (int64_t[]){10, 30}));
    CHECK_ERR(dc_model_add(m, dc_multi_head_attention_layer(4, false, 0)), DC_ERR_SHAPE, "4 heads", "30");
    dc_model_free(m);
    m = dc_sequential();
    dc_model_add(m, dc_input(2, (int64_t[]){30, 8}));
    CHECK_ERR(dc_model_add(m, dc_positional_embedding_layer(28, true)), DC_ERR_SHAPE, "30 steps", "28 positions");
    dc_model_free(m);
    CHECK_NULL_ERR(dc_transformer_encoder_layer(0, 16, 0, DC_ACT_RELU, false, false), "heads", "0");
    CHECK_NULL_ERR(dc_transformer_encoder_layer(2, 16, 1.5f, DC_ACT_RELU, false, false), "dropout", "1.5");
    CHECK_NULL_ERR(dc_transformer_encoder_layer(2, 16, 0, DC_ACT_SOFTMAX, false, false), "softmax");
    CHECK_NULL_ERR(dc_positional_embedding_layer(0, false), "max_len");
}

int main(void) {
    dc_set_threads(2);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) run(&cases[i]);
    test_errors();
    printf("worst relative error against PyTorch: %.3g\n", worst_seen);
    return check_report("test_golden_transformer");
}
