/* Golden checks of deepc's Transformer operations against PyTorch 1.13, and of the attention's
 * inference path.
 *
 * The vectors tests/golden/attn_*.txt are written by scripts/golden/gen_golden_attn.py: PyTorch
 * computes, in float64 from float32 inputs, F.gelu (exact and tanh), F.layer_norm (with and
 * without gamma/beta, 2-d and 3-d) and attention written out as softmax(q k^T scale + mask) v
 * (key-padding masks, causal masks with Tq <= Tk, a batch whose keys are all padding, a scale
 * other than 1/sqrt(d), 70 query rows so that deepc runs two row blocks), with the gradients of
 * sum(y * gy). Each case runs with 1, 2 and 3 threads with a gradient (outputs and every
 * gradient compared) and with grad mode off (outputs: for attention, the blocked path).
 *
 * attn_mha_cross_causal*: the MultiHeadAttention layer (causal) wired to two inputs, queries
 * [B, Tq, D] and a memory [B, Tk, Dm] with Tq != Tk, packed or separate projections, with and
 * without the memory's padding mask, against nn.MultiheadAttention with the attn_mask of the
 * rule j <= i + (Tk - Tq) (issue 19: the layer ignored causal in cross-attention). Five chosen
 * cases (queries that see no key among them: zeros from the attention) and eight seeded random
 * ones; output, dx, dmem and every parameter's gradient compared.
 *
 * Tolerance: |got - expected| <= 1e-6 + 1e-5 |expected| (float32 arithmetic on values of order
 * one); the largest differences seen are printed at the end.
 *
 * Then, on a case with B = 2, H = 4, Tq = Tk = 512 (causal, padded keys) and one with Tq = 200,
 * Tk = 300: the inference path (grad off, query rows in blocks with a per-thread scratch) must
 * give the training path's output to 1e-6; on the first it must reserve less than a quarter of
 * the B H Tq Tk floats (8 MiB) that training keeps (it needs the output, 0.25 MiB, and
 * threads x 64 x Tk floats of scratch, inside the arena's first 1 MiB block). */
#include <deepc.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "golden_io.h"
#include "kernels/kernels.h"
#include "ops/ops.h"

/* over all comparisons: largest |got - expected|, largest |got - expected| / |expected| among
 * |expected| >= 1e-2, and largest fraction of the tolerance used */
static double worst_abs, worst_rel, worst_frac;

static void track(const gcase *c, const dc_tensor *got, const gt_tensor *exp) {
    if (!got || !exp) return;
    dc_tensor *cp = dc_tensor_clone(got);
    if (!cp) return;
    const float *g = dc_tensor_data(cp);
    for (int64_t i = 0; i < exp->numel && i < dc_tensor_numel(cp); i++) {
        double e = exp->v[i], d = fabs(g[i] - e);
        worst_abs = fmax(worst_abs, d);
        if (fabs(e) >= 1e-2) worst_rel = fmax(worst_rel, d / fabs(e));
        worst_frac = fmax(worst_frac, d / tol_for(c, e));
    }
    dc_tensor_free(cp);
}

static void cmp(gcase *c, const char *name, const dc_tensor *got) {
    compare_tensor(c, name, got);
    track(c, got, gt_find(&c->gf, name));
}

static void cmp_grad(gcase *c, const char *name, dc_tensor *t) {
    dc_tensor *g = t ? dc_tensor_grad(t) : NULL;
    if (!g) {
        cfail(c, "%s: no gradient", name);
        return;
    }
    cmp(c, name, g);
}

typedef enum { K_GELU, K_GELU_TANH, K_LN, K_ATT } kind;

static int run_case(const char *name, kind kd) {
    gcase gc;
    if (!case_open(&gc, "tests/golden", name)) return case_close(&gc);
    gc.abs_tol = 1e-6;
    gc.rel_tol = 1e-5;
    dc_tensor *in[3] = {NULL, NULL, NULL};
    const char *in_names[3] = {"x", "gamma", "beta"}, *grad_names[3] = {"dx", "dgamma", "dbeta"};
    int nin = 1;
    float cfg[3] = {0, 0, 0};
    uint8_t *key_mask = NULL;
    const gt_tensor *cf = kd == K_LN || kd == K_ATT ? need(&gc, "cfg") : NULL;
    if (cf)
        for (int64_t i = 0; i < cf->numel && i < 3; i++) cfg[i] = (float)cf->v[i];
    if (kd == K_LN) nin = cfg[0] != 0 ? 3 : 1;
    if (kd == K_ATT) {
        nin = 3;
        in_names[0] = "q", in_names[1] = "k", in_names[2] = "v";
        grad_names[0] = "dq", grad_names[1] = "dk", grad_names[2] = "dv";
        const gt_tensor *km = cfg[2] != 0 ? need(&gc, "key_mask") : NULL;
        if (km) {
            key_mask = malloc((size_t)km->numel);
            for (int64_t i = 0; key_mask && i < km->numel; i++) key_mask[i] = km->v[i] != 0;
        }
    }
    for (int i = 0; i < nin; i++) in[i] = load_tensor(&gc, in_names[i], true);
    dc_tensor *gy = load_tensor(&gc, "gy", false);
    bool ok = gy != NULL && !gc.failures;
    for (int threads = 1; ok && threads <= 3; threads++) {
        dc_set_threads(threads);
        for (int grad = 1; grad >= 0; grad--) {
            char route[64];
            snprintf(route, sizeof route, "%d thread%s, grad %s", threads, threads > 1 ? "s" : "", grad ? "on" : "off");
            gc.route = route;
            dc_ctx *c = dc_ctx_new();
            dc_ctx_set_grad(c, grad);
            for (int i = 0; i < nin; i++) dc_tensor_zero_grad(in[i]);
            dc_tensor *y = NULL;
            switch (kd) {
            case K_GELU: y = dc_gelu(c, in[0], false); break;
            case K_GELU_TANH: y = dc_activate(c, in[0], DC_ACT_GELU_TANH, 0); break;
            case K_LN: y = dc_layer_norm(c, in[0], in[1], in[2], cfg[1]); break;
            case K_ATT: y = dc_attention(c, in[0], in[1], in[2], key_mask, cfg[0] != 0, cfg[1], 0, true, NULL); break;
            }
            if (!y) {
                fail_dc(&gc, "forward");
            } else {
                cmp(&gc, "y", y);
                if (grad) {
                    if (dc_backward(c, dc_sum(c, dc_mul(c, y, gy))) != DC_OK) fail_dc(&gc, "dc_backward");
                    else
                        for (int i = 0; i < nin; i++) cmp_grad(&gc, grad_names[i], in[i]);
                }
            }
            dc_ctx_free(c);
        }
    }
    dc_set_threads(0);
    for (int i = 0; i < nin; i++) dc_tensor_free(in[i]);
    dc_tensor_free(gy);
    free(key_mask);
    return case_close(&gc);
}

/* MultiHeadAttention(heads, causal) wired to two inputs (queries x, memory mem, the memory's
 * padding mask mem_mask where the case has one): a graph model given the golden parameters,
 * run with 1, 2 and 3 threads, with a gradient (output, dx, dmem and every parameter's gradient
 * compared) and with grad mode off (output). */
static int run_mha_case(const char *name) {
    gcase gc;
    if (!case_open(&gc, "tests/golden", name)) return case_close(&gc);
    gc.abs_tol = 1e-6;
    gc.rel_tol = 1e-5;
    const gt_tensor *cf = need(&gc, "cfg");
    int heads = cf && cf->numel >= 3 ? (int)cf->v[0] : 0;
    bool separate = cf && cf->numel >= 3 && cf->v[1] != 0, has_mask = cf && cf->numel >= 3 && cf->v[2] != 0;
    static const char *const packed[] = {"in_proj_weight", "in_proj_bias", "out_proj_weight", "out_proj_bias"};
    static const char *const sep[] = {"q_proj_weight", "k_proj_weight", "v_proj_weight", "in_proj_bias", "out_proj_weight",
                                      "out_proj_bias"};
    const char *const *pn = separate ? sep : packed;
    int np = separate ? 6 : 4;
    dc_tensor *x = load_tensor(&gc, "x", true), *mem = load_tensor(&gc, "mem", true), *gy = load_tensor(&gc, "gy", false);
    uint8_t *mm = NULL;
    const gt_tensor *km = has_mask ? need(&gc, "mem_mask") : NULL;
    if (km && (mm = malloc((size_t)km->numel)))
        for (int64_t i = 0; i < km->numel; i++) mm[i] = km->v[i] != 0;
    dc_model *m = NULL;
    char pname[6][64]; /* the model's names: mha.<PyTorch's name> */
    for (int i = 0; i < np; i++) {
        snprintf(pname[i], sizeof pname[i], "mha.%s", pn[i]);
        char *u = strstr(pname[i], "out_proj_");
        if (u) u[8] = '.'; /* out_proj_weight -> out_proj.weight */
    }
    if (x && mem && gy && heads > 0 && (!has_mask || mm)) {
        m = dc_sequential();
        int i0 = dc_model_input(m, "x", 2, dc_tensor_shape(x) + 1), i1 = dc_model_input(m, "mem", 2, dc_tensor_shape(mem) + 1);
        dc_layer *l = dc_multi_head_attention_layer(heads, true, 0);
        if (!l || dc_layer_set_name(l, "mha") || (separate && dc_layer_set_separate_projections(l, true)) ||
            dc_model_apply(m, l, 2, (int[]){i0, i1}) < 0 || dc_model_build(m, 0, NULL) != DC_OK) {
            fail_dc(&gc, "building the model");
            dc_model_free(m);
            m = NULL;
        }
        for (int i = 0; m && i < np; i++) {
            dc_tensor *t = load_tensor(&gc, pn[i], false);
            if (t) set_param(&gc, m, pname[i], t);
            dc_tensor_free(t);
        }
    }
    bool ok = m && !gc.failures;
    for (int threads = 1; ok && threads <= 3; threads++) {
        dc_set_threads(threads);
        for (int grad = 1; grad >= 0; grad--) {
            char route[64];
            snprintf(route, sizeof route, "layer, %d thread%s, grad %s", threads, threads > 1 ? "s" : "", grad ? "on" : "off");
            gc.route = route;
            dc_ctx *c = dc_ctx_new();
            dc_ctx_set_grad(c, grad);
            dc_tensor_zero_grad(x);
            dc_tensor_zero_grad(mem);
            memset(dc_model_grads(m), 0, (size_t)dc_model_param_buffer_size(m) * sizeof(float));
            const uint8_t *masks[2] = {NULL, mm};
            dc_tensor *y = dc_model_forward_masked(m, c, 2, (dc_tensor *[]){x, mem}, masks, true);
            if (!y) {
                fail_dc(&gc, "forward");
            } else {
                cmp(&gc, "y", y);
                if (grad && dc_backward(c, dc_sum(c, dc_mul(c, y, gy))) != DC_OK) {
                    fail_dc(&gc, "dc_backward");
                } else if (grad) {
                    cmp_grad(&gc, "dx", x);
                    cmp_grad(&gc, "dmem", mem);
                    for (int i = 0; i < np; i++) {
                        char gname[40];
                        snprintf(gname, sizeof gname, "d_%s", pn[i]);
                        cmp_grad(&gc, gname, dc_model_param(m, pname[i]));
                    }
                }
            }
            dc_ctx_free(c);
        }
    }
    dc_set_threads(0);
    dc_model_free(m);
    dc_tensor_free(x);
    dc_tensor_free(mem);
    dc_tensor_free(gy);
    free(mm);
    return case_close(&gc);
}

static dc_tensor *rand_t(dc_rng *r, int nd, const int64_t *shape) {
    dc_tensor *t = dc_tensor_new(nd, shape);
    float *d = dc_tensor_data(t);
    for (int64_t i = 0; i < dc_tensor_numel(t); i++) d[i] = dc_rng_normal(r);
    return t;
}

/* The inference path against the training path, and the inference path's memory. */
static void inference_path(int64_t B, int64_t H, int64_t Tq, int64_t Tk, int64_t d, bool causal) {
    dc_rng r;
    dc_rng_seed(&r, 42);
    dc_tensor *q = rand_t(&r, 4, (int64_t[]){B, H, Tq, d}), *k = rand_t(&r, 4, (int64_t[]){B, H, Tk, d});
    dc_tensor *v = rand_t(&r, 4, (int64_t[]){B, H, Tk, d});
    uint8_t *km = malloc((size_t)(B * Tk));
    for (int64_t b = 0; b < B; b++)
        for (int64_t j = 0; j < Tk; j++) km[b * Tk + j] = j < Tk - 37 * b; /* batch 1 has 37 padded keys */
    size_t full = (size_t)(B * H * Tq * Tk) * sizeof(float);
    for (int threads = 1; threads <= 2; threads++) {
        dc_set_threads(threads);
        dc_tensor_set_requires_grad(q, true);
        dc_ctx *ct = dc_ctx_new(), *ci = dc_ctx_new();
        dc_tensor *yt = dc_attention(ct, q, k, v, km, causal, 0, 0, false, NULL);
        dc_ctx_set_grad(ci, false);
        size_t before = dc_ctx_reserved_bytes(ci);
        dc_tensor *yi = dc_attention(ci, q, k, v, km, causal, 0, 0, false, NULL);
        size_t extra = dc_ctx_reserved_bytes(ci) - before, out = (size_t)(B * H * Tq * d) * sizeof(float);
        CHECK(yt && yi);
        double md = 0;
        for (int64_t i = 0; yt && yi && i < dc_tensor_numel(yt); i++)
            md = fmax(md, fabs(dc_tensor_data(yt)[i] - dc_tensor_data(yi)[i]));
        CHECK(md <= 1e-6);
        /* training keeps the probabilities; inference reserves the output and its block scratch */
        CHECK(dc_ctx_reserved_bytes(ct) >= full);
        if (full >= (size_t)4 << 20) CHECK(extra < full / 4); /* (the arena reserves at least 1 MiB) */
        printf("attention [%lld, %lld, %lld, %lld] %d thread%s: inference vs training max |diff| %.2g; reserved: "
               "training %.2f MiB (B H Tq Tk floats %.2f MiB), inference %.2f MiB (output %.2f MiB)\n",
               (long long)B, (long long)H, (long long)Tq, (long long)Tk, threads, threads > 1 ? "s" : "", md,
               dc_ctx_reserved_bytes(ct) / 1048576.0, full / 1048576.0, extra / 1048576.0, out / 1048576.0);
        dc_tensor_set_requires_grad(q, false);
        dc_ctx_free(ct);
        dc_ctx_free(ci);
    }
    dc_set_threads(0);
    dc_tensor_free(q);
    dc_tensor_free(k);
    dc_tensor_free(v);
    free(km);
}

/* One attention call with a gradient: y and the gradients of its nin inputs (sum(y * gy) as the
 * loss, gy drawn from seed 7) copied into out[0] (y) and out[1..nin]; the dropout rng seeded
 * with drop_seed. mode 0: dc_attention(q, k, v); 1: dc_attention_packed(qkv, H); 2:
 * dc_attention(x, x, x), one tensor in all three roles. */
typedef struct {
    int mode, H;
    const uint8_t *km;
    bool causal;
    float scale, rate;
} att_call;

static void att_outputs(const att_call *ac, dc_tensor **in, int nin, float **out, int64_t *nout) {
    dc_ctx *c = dc_ctx_new();
    for (int i = 0; i < nin; i++) dc_tensor_set_requires_grad(in[i], true);
    dc_rng r;
    dc_rng_seed(&r, 99);
    dc_tensor *y = ac->mode == 1 ? dc_attention_packed(c, in[0], ac->H, ac->km, ac->causal, ac->scale, ac->rate, true, &r)
                   : ac->mode == 2 ? dc_attention(c, in[0], in[0], in[0], ac->km, ac->causal, ac->scale, ac->rate, true, &r)
                                   : dc_attention(c, in[0], in[1], in[2], ac->km, ac->causal, ac->scale, ac->rate, true, &r);
    CHECK(y != NULL);
    if (y) {
        dc_rng g;
        dc_rng_seed(&g, 7);
        dc_tensor *gy = rand_t(&g, dc_tensor_ndim(y), dc_tensor_shape(y));
        CHECK(dc_backward(c, dc_sum(c, dc_mul(c, y, gy))) == DC_OK);
        nout[0] = dc_tensor_numel(y);
        out[0] = malloc((size_t)nout[0] * sizeof(float));
        memcpy(out[0], dc_tensor_data(y), (size_t)nout[0] * sizeof(float));
        for (int i = 0; i < nin; i++) {
            dc_tensor *gt = dc_tensor_grad(in[i]);
            CHECK(gt != NULL);
            nout[1 + i] = dc_tensor_numel(in[i]);
            out[1 + i] = calloc((size_t)nout[1 + i], sizeof(float));
            if (gt) memcpy(out[1 + i], dc_tensor_data(gt), (size_t)nout[1 + i] * sizeof(float));
            dc_tensor_zero_grad(in[i]);
        }
        dc_tensor_free(gy);
    }
    for (int i = 0; i < nin; i++) dc_tensor_set_requires_grad(in[i], false);
    dc_ctx_free(c);
}

/* The fused forward pass for short keys (attention.c's fused_applies, on AVX-512) against the
 * general path of GEMMs (dc_attention_force_general) on seeded random geometries: separate q, k
 * and v, the packed projection, and one tensor as q, k and v; key masks (a batch with every key
 * padded), causal masks with Tq != Tk, scales, dropout. Outputs and gradients (the backward
 * reads the probabilities the forward kept) agree to float32 rounding (max |diff| <= 2e-5
 * max(1, max |general|)); with dropout both paths drop the same entries, or the outputs would
 * differ by whole terms. */
static void fused_vs_general(void) {
    if (!dc_k_avx512_usable()) {
        printf("fused attention against the general path: skipped (no AVX-512 here, or DEEPC_AVX512=off)\n");
        return;
    }
    dc_rng r;
    dc_rng_seed(&r, 2024);
    double worst = 0;
    int cases = 0;
    for (int it = 0; it < 48; it++) {
        const int mode = it % 3;
        const int64_t B = 1 + (int64_t)dc_rng_below(&r, 3), H = 1 + (int64_t)dc_rng_below(&r, 3);
        /* the fused kernel's reach: Tk <= 64, d and dv <= 64, Tk max(d, dv) < 2048 */
        int64_t Tk = 1 + (int64_t)dc_rng_below(&r, 64), Tq = mode ? Tk : 1 + (int64_t)dc_rng_below(&r, 70);
        const uint64_t wmax = (uint64_t)(2047 / Tk < 64 ? 2047 / Tk : 64);
        int64_t d = 1 + (int64_t)dc_rng_below(&r, wmax), dv = mode ? d : 1 + (int64_t)dc_rng_below(&r, wmax);
        if (it == 0) Tq = 70, Tk = 31, d = 64, dv = 64; /* the widest fused heads, two row blocks */
        uint8_t *km = NULL;
        if (dc_rng_below(&r, 2)) {
            km = malloc((size_t)(B * Tk));
            for (int64_t i = 0; i < B * Tk; i++) km[i] = dc_rng_uniform(&r) < 0.7f;
            if (B > 1)
                for (int64_t j = 0; j < Tk; j++) km[Tk + j] = 0; /* batch 1: every key padded */
        }
        att_call ac = {mode, (int)H, km, dc_rng_below(&r, 3) == 0, dc_rng_below(&r, 2) ? 0.0f : 0.1f + dc_rng_uniform(&r),
                       dc_rng_below(&r, 2) ? 0.3f : 0.0f};
        dc_tensor *in[3] = {NULL, NULL, NULL};
        int nin = 3;
        if (mode == 0) {
            in[0] = rand_t(&r, 4, (int64_t[]){B, H, Tq, d});
            in[1] = rand_t(&r, 4, (int64_t[]){B, H, Tk, d});
            in[2] = rand_t(&r, 4, (int64_t[]){B, H, Tk, dv});
        } else {
            in[0] = mode == 1 ? rand_t(&r, 3, (int64_t[]){B, Tq, 3 * H * d}) : rand_t(&r, 4, (int64_t[]){B, H, Tq, d});
            nin = 1;
        }
        float *out[2][4] = {{NULL}};
        int64_t n[2][4] = {{0}};
        for (int general = 0; general < 2; general++) {
            dc_attention_force_general(general);
            att_outputs(&ac, in, nin, out[general], n[general]);
        }
        dc_attention_force_general(false);
        for (int o = 0; o <= nin; o++) {
            if (!out[0][o] || !out[1][o] || n[0][o] != n[1][o]) {
                CHECK(false);
                continue;
            }
            double md = 0, mx = 1;
            for (int64_t i = 0; i < n[1][o]; i++) {
                md = fmax(md, fabs((double)out[0][o][i] - out[1][o][i]));
                mx = fmax(mx, fabs((double)out[1][o][i]));
            }
            worst = fmax(worst, md / mx);
            if (!(md <= 2e-5 * mx))
                printf("fused attention, case %d (mode %d, B %lld, H %lld, Tq %lld, Tk %lld, d %lld, dv %lld, mask %d, causal %d, "
                       "rate %g): %s differs by %.3g (largest |value| %.3g)\n",
                       it, mode, (long long)B, (long long)H, (long long)Tq, (long long)Tk, (long long)d, (long long)dv, km != NULL,
                       ac.causal, (double)ac.rate, o ? "a gradient" : "the output", md, mx);
            CHECK(md <= 2e-5 * mx);
        }
        for (int g = 0; g < 2; g++)
            for (int o = 0; o < 4; o++) free(out[g][o]);
        for (int i = 0; i < nin; i++) dc_tensor_free(in[i]);
        free(km);
        cases++;
    }
    printf("fused attention against the general path: %d cases, largest |diff| / max(1, largest |value|) %.2e\n", cases, worst);
    /* the fused kernel's keep masks where a row's draws cross from one block of the dropout
     * stream (2^30 elements) into the next, and where they do not: the multipliers' decisions */
    const uint64_t starts[3] = {((uint64_t)1 << 30) - 20, ((uint64_t)3 << 30) - 1, 12345};
    for (int k = 0; k < 3; k++) {
        float m[40];
        dc_k_dropout_mask_rows(m, 1, 40, 0x5eed, starts[k] / 40, 0.3f); /* row starts[k] / 40 of 40 */
        const uint64_t i0 = starts[k] / 40 * 40, bits = dc_k_dropout_keep_bits_avx512(0x5eed, i0, 40, 0.3f);
        int same = 0;
        for (int j = 0; j < 40; j++) same += ((bits >> j) & 1) == (m[j] != 0);
        CHECK(same == 40);
    }
}

/* GELU in a Dense and a Conv2D layer: the layer's output and its input gradient equal the ops'
 * dc_linear / dc_conv2d followed by dc_gelu (the convolution does not fuse GELU, whose
 * derivative needs its input). */
static void gelu_layers(void) {
    for (int conv = 0; conv < 2; conv++)
        for (int act = DC_ACT_GELU; act <= DC_ACT_GELU_TANH; act++) {
            dc_rng r;
            dc_rng_seed(&r, 9);
            int64_t xs_dense[2] = {4, 5}, xs_conv[4] = {2, 3, 5, 5};
            dc_tensor *x = conv ? rand_t(&r, 4, xs_conv) : rand_t(&r, 2, xs_dense);
            dc_model *m = dc_sequential();
            dc_layer *l = conv ? dc_conv2d_layer(4, 3, 3, 1, DC_PAD_VALID, (dc_activation)act) : dc_dense(6, (dc_activation)act);
            CHECK(l && dc_layer_set_name(l, "op") == DC_OK);
            CHECK(dc_model_add(m, l) == DC_OK);
            CHECK(dc_model_build(m, conv ? 3 : 1, conv ? xs_conv + 1 : xs_dense + 1) == DC_OK);
            dc_tensor *w = dc_model_param(m, "op.weight"), *b = dc_model_param(m, "op.bias");
            CHECK(w && b);
            if (!w || !b) {
                dc_model_free(m);
                dc_tensor_free(x);
                continue;
            }
            float *bd = dc_tensor_data(b);
            for (int64_t i = 0; i < dc_tensor_numel(b); i++) bd[i] = 0.1f * (float)(i - 2); /* nonzero bias */
            float *got[2] = {NULL, NULL}, *gx[2] = {NULL, NULL};
            int64_t ny = 0, nx = dc_tensor_numel(x);
            for (int route = 0; route < 2; route++) {
                dc_ctx *c = dc_ctx_new();
                dc_tensor_set_requires_grad(x, true);
                dc_tensor_zero_grad(x);
                dc_tensor *y = route ? dc_gelu(c, conv ? dc_conv2d(c, x, w, b, 1, 1, NULL) : dc_linear(c, x, w, b),
                                               act == DC_ACT_GELU_TANH)
                                     : dc_model_forward(m, c, x, true);
                CHECK(y && dc_backward(c, dc_sum(c, dc_square(c, y))) == DC_OK);
                if (y) {
                    ny = dc_tensor_numel(y);
                    got[route] = malloc((size_t)ny * sizeof(float));
                    gx[route] = malloc((size_t)nx * sizeof(float));
                    memcpy(got[route], dc_tensor_data(y), (size_t)ny * sizeof(float));
                    memcpy(gx[route], dc_tensor_data(dc_tensor_grad(x)), (size_t)nx * sizeof(float));
                }
                dc_tensor_set_requires_grad(x, false);
                dc_ctx_free(c);
            }
            double md = got[0] && got[1] ? 0 : INFINITY;
            for (int64_t i = 0; got[0] && got[1] && i < ny; i++) md = fmax(md, fabs(got[0][i] - got[1][i]));
            for (int64_t i = 0; gx[0] && gx[1] && i < nx; i++) md = fmax(md, fabs(gx[0][i] - gx[1][i]));
            CHECK(md <= 1e-6);
            printf("%s layer with %s: layer vs ops max |diff| %.2g (output and input gradient)\n", conv ? "Conv2D" : "Dense",
                   dc_activation_name((dc_activation)act), md);
            for (int k = 0; k < 2; k++) {
                free(got[k]);
                free(gx[k]);
            }
            dc_model_free(m);
            dc_tensor_free(x);
        }
}

int main(void) {
    static const struct {
        const char *name;
        kind k;
    } cases[] = {
        {"attn_gelu", K_GELU},
        {"attn_gelu_tanh", K_GELU_TANH},
        {"attn_layer_norm_2d", K_LN},
        {"attn_layer_norm_3d", K_LN},
        {"attn_layer_norm_3d_plain", K_LN},
        {"attn_sdpa", K_ATT},
        {"attn_sdpa_key_mask", K_ATT},
        {"attn_sdpa_padded_batch", K_ATT},
        {"attn_sdpa_causal", K_ATT},
        {"attn_sdpa_causal_mask", K_ATT},
        {"attn_sdpa_scale", K_ATT},
        {"attn_sdpa_long", K_ATT},
    };
    int failed = 0;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        check_count++;
        if (run_case(cases[i].name, cases[i].k)) {
            failed++;
            check_fails++;
        }
    }
    /* MultiHeadAttention as causal cross-attention: the hand-picked cases, then the generator's
     * MHA_RANDOM_CASES seeded random ones */
    static const char *const mha_cases[] = {"attn_mha_cross_causal", "attn_mha_cross_causal_pad", "attn_mha_cross_causal_long_q",
                                            "attn_mha_cross_causal_sep", "attn_mha_cross_causal_sep_long_q"};
    enum { MHA_RANDOM_CASES = 8 };
    int ncases = (int)(sizeof cases / sizeof cases[0]) + (int)(sizeof mha_cases / sizeof mha_cases[0]) + MHA_RANDOM_CASES;
    for (int i = 0; i < (int)(sizeof mha_cases / sizeof mha_cases[0]) + MHA_RANDOM_CASES; i++) {
        char name[48];
        if (i < (int)(sizeof mha_cases / sizeof mha_cases[0])) snprintf(name, sizeof name, "%s", mha_cases[i]);
        else snprintf(name, sizeof name, "attn_mha_cross_causal_r%d", i - (int)(sizeof mha_cases / sizeof mha_cases[0]));
        check_count++;
        if (run_mha_case(name)) {
            failed++;
            check_fails++;
        }
    }
    printf("golden attention cases: %d of %d failed; largest |diff| %.2e, largest relative diff (|expected| >= 0.01) "
           "%.2e, largest fraction of the tolerance %.2f\n",
           failed, ncases, worst_abs, worst_rel, worst_frac);
    inference_path(2, 4, 512, 512, 16, true);
    inference_path(1, 3, 200, 300, 8, true);
    gelu_layers();
    fused_vs_general();
    return check_report("test_golden_attn");
}
