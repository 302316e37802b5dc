/* Layer-level sweep: the time of one training step (forward, then backward of the sum of the
 * outputs, reaching the input and every parameter) of a single layer, one JSON line per grid
 * point, for comparison with the same points in PyTorch (bench/peers/sweep.py, bench/sweep.sh).
 *
 *   sweep [--min-time S] [--no-sgemm] SPEC...    time the given points
 *   sweep [options] --grid smoke|quick|full      time a named grid
 *   sweep --list smoke|quick|full                print a named grid's points, one per line
 *   sweep --peak                                 OpenBLAS SGEMM on a 1024^3 product alone
 *
 * A point is LAYER:key=value,... with the layers and keys
 *   conv2d     n c f h k s pad(valid|same) bn(0|1)   Conv2D on [n, c, h, h], f filters of k x k,
 *                                                     stride s, optionally BatchNormalization after
 *   conv2d_t   n c f h k s pad                        Conv2DTranspose, same meanings
 *   maxpool / avgpool  n c h                          2 x 2 windows, stride 2, on [n, c, h, h]
 *   dense      n i o                                  [n, i] -> [n, o]
 *   lstm / gru / rnn  n t f h                         [n, t, f] -> [n, t, h] (all steps returned)
 *   mha        n t d heads                            self-attention on [n, t, d]
 *   layernorm  n t d                                  over the last axis of [n, t, d]
 *
 * Each point is warmed up, then timed in samples of several steps until min-time seconds have
 * been timed (and at least 5 samples); the median step time is reported. FLOPs are counted for
 * the matrix products only (forward, input gradient and weight gradient, each 2 m n k): conv,
 * transposed conv, dense, recurrent and attention points. The SGEMM figure is OpenBLAS's rate on
 * the forward pass's equivalent product (M, N, K) (im2col for convolutions, one step's gate
 * product for recurrent layers, the packed q/k/v projection for attention), measured in the same
 * process, so "frac_sgemm" says how close the layer comes to a plain matrix product of its size.
 * Invalid points are reported on stderr and the program exits 2. */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "deepc.h"

enum { L_CONV, L_CONVT, L_MAXPOOL, L_AVGPOOL, L_DENSE, L_LSTM, L_GRU, L_RNN, L_MHA, L_LN, L_COUNT };
static const char *const layer_names[L_COUNT] = {"conv2d", "conv2d_t", "maxpool", "avgpool", "dense",
                                                 "lstm",   "gru",      "rnn",     "mha",     "layernorm"};

/* The shape keys of a point; -1 = not given. */
enum { K_N, K_C, K_F, K_H, K_K, K_S, K_I, K_O, K_T, K_D, K_HEADS, K_BN, K_PAD, K_COUNT };
static const char *const key_names[K_COUNT] = {"n", "c", "f", "h", "k", "s", "i", "o", "t", "d", "heads", "bn", "pad"};
/* Keys each layer needs (pad: 0 valid, 1 same; bn and s default to 0 and 1). */
static const char *const layer_keys[L_COUNT] = {"n c f h k", "n c f h k", "n c h", "n c h", "n i o",
                                                "n t f h",   "n t f h",   "n t f h", "n t d heads", "n t d"};

typedef struct point {
    int layer;
    long v[K_COUNT];
} point;

/* The grids: corners and middles of the ranges, not a full product. Batch sizes are chosen so
 * a step stays under about 10 GFLOP. */
static const char *const grid_full[] = {
    /* Conv2D, 3x3, stride 1: channels 1-256, spatial 7-64, with and without BatchNormalization */
    "conv2d:n=32,c=1,f=32,h=28,k=3,s=1,pad=valid,bn=0",
    "conv2d:n=32,c=3,f=32,h=32,k=3,s=1,pad=same,bn=0",
    "conv2d:n=32,c=16,f=16,h=32,k=3,s=1,pad=same,bn=0",
    "conv2d:n=32,c=32,f=32,h=32,k=3,s=1,pad=same,bn=1",
    "conv2d:n=32,c=32,f=64,h=16,k=3,s=1,pad=same,bn=1",
    "conv2d:n=32,c=32,f=64,h=26,k=3,s=1,pad=valid,bn=0",
    "conv2d:n=32,c=64,f=64,h=16,k=3,s=1,pad=same,bn=0",
    "conv2d:n=32,c=64,f=64,h=16,k=3,s=1,pad=same,bn=1",
    "conv2d:n=16,c=64,f=128,h=14,k=3,s=1,pad=same,bn=0",
    "conv2d:n=16,c=128,f=128,h=14,k=3,s=1,pad=same,bn=1",
    "conv2d:n=8,c=128,f=256,h=7,k=3,s=1,pad=same,bn=0",
    "conv2d:n=8,c=256,f=256,h=7,k=3,s=1,pad=same,bn=1",
    "conv2d:n=8,c=256,f=256,h=7,k=3,s=1,pad=valid,bn=0",
    "conv2d:n=4,c=64,f=64,h=64,k=3,s=1,pad=same,bn=0",
    "conv2d:n=8,c=32,f=32,h=64,k=3,s=1,pad=same,bn=1",
    "conv2d:n=1,c=128,f=128,h=64,k=3,s=1,pad=same,bn=0",
    "conv2d:n=8,c=64,f=128,h=56,k=3,s=1,pad=valid,bn=0",
    "conv2d:n=64,c=1,f=16,h=7,k=3,s=1,pad=valid,bn=0",
    "conv2d:n=64,c=16,f=16,h=7,k=3,s=1,pad=same,bn=0",
    "conv2d:n=1,c=3,f=16,h=64,k=3,s=1,pad=same,bn=0",
    "conv2d:n=1,c=256,f=256,h=14,k=3,s=1,pad=same,bn=0",
    "conv2d:n=128,c=8,f=8,h=16,k=3,s=1,pad=same,bn=0",
    "conv2d:n=1,c=64,f=1,h=64,k=3,s=1,pad=same,bn=0",
    /* 1x1 */
    "conv2d:n=32,c=64,f=128,h=16,k=1,s=1,pad=valid,bn=0",
    "conv2d:n=8,c=256,f=256,h=14,k=1,s=1,pad=valid,bn=0",
    "conv2d:n=16,c=128,f=32,h=28,k=1,s=1,pad=valid,bn=1",
    "conv2d:n=32,c=16,f=64,h=32,k=1,s=1,pad=same,bn=0",
    "conv2d:n=8,c=256,f=64,h=7,k=1,s=1,pad=valid,bn=0",
    /* 5x5 */
    "conv2d:n=32,c=1,f=32,h=28,k=5,s=1,pad=same,bn=0",
    "conv2d:n=32,c=3,f=32,h=32,k=5,s=1,pad=same,bn=0",
    "conv2d:n=16,c=32,f=64,h=28,k=5,s=1,pad=valid,bn=0",
    "conv2d:n=8,c=64,f=64,h=32,k=5,s=1,pad=same,bn=1",
    "conv2d:n=4,c=128,f=128,h=14,k=5,s=1,pad=same,bn=0",
    "conv2d:n=2,c=256,f=256,h=7,k=5,s=1,pad=same,bn=0",
    /* stride 2 */
    "conv2d:n=32,c=3,f=32,h=32,k=3,s=2,pad=same,bn=0",
    "conv2d:n=32,c=32,f=64,h=32,k=3,s=2,pad=same,bn=1",
    "conv2d:n=16,c=64,f=128,h=28,k=3,s=2,pad=same,bn=0",
    "conv2d:n=8,c=128,f=256,h=14,k=3,s=2,pad=valid,bn=0",
    "conv2d:n=4,c=64,f=128,h=64,k=3,s=2,pad=same,bn=0",
    "conv2d:n=16,c=64,f=128,h=16,k=1,s=2,pad=valid,bn=0",
    "conv2d:n=8,c=3,f=64,h=64,k=5,s=2,pad=same,bn=1",
    "conv2d:n=8,c=128,f=128,h=28,k=5,s=2,pad=same,bn=0",
    "conv2d:n=4,c=256,f=256,h=14,k=3,s=2,pad=same,bn=1",
    /* Conv2DTranspose */
    "conv2d_t:n=32,c=64,f=32,h=7,k=3,s=2,pad=same",
    "conv2d_t:n=32,c=32,f=1,h=14,k=3,s=2,pad=same",
    "conv2d_t:n=16,c=128,f=64,h=8,k=4,s=2,pad=same",
    "conv2d_t:n=16,c=64,f=32,h=16,k=2,s=2,pad=valid",
    "conv2d_t:n=8,c=256,f=128,h=8,k=2,s=2,pad=valid",
    "conv2d_t:n=8,c=32,f=3,h=32,k=5,s=2,pad=same",
    "conv2d_t:n=16,c=64,f=64,h=16,k=3,s=1,pad=same",
    "conv2d_t:n=4,c=128,f=128,h=32,k=3,s=2,pad=same",
    /* pooling, 2x2 stride 2 */
    "maxpool:n=32,c=32,h=28",
    "avgpool:n=32,c=32,h=28",
    "maxpool:n=32,c=64,h=16",
    "avgpool:n=32,c=64,h=16",
    "maxpool:n=8,c=128,h=64",
    "avgpool:n=8,c=128,h=64",
    "maxpool:n=64,c=16,h=8",
    "avgpool:n=64,c=16,h=8",
    /* Dense: batch 1-256, widths 16-4096 */
    "dense:n=1,i=16,o=16",
    "dense:n=1,i=784,o=128",
    "dense:n=1,i=4096,o=4096",
    "dense:n=32,i=16,o=16",
    "dense:n=32,i=784,o=256",
    "dense:n=32,i=256,o=10",
    "dense:n=64,i=512,o=512",
    "dense:n=64,i=4096,o=1024",
    "dense:n=128,i=1024,o=1024",
    "dense:n=128,i=16,o=4096",
    "dense:n=128,i=4096,o=16",
    "dense:n=256,i=256,o=256",
    "dense:n=256,i=2048,o=2048",
    "dense:n=256,i=4096,o=1000",
    /* recurrent: hidden 32-512, sequence 8-128, batch 1-128 */
    "lstm:n=1,t=8,f=32,h=32",
    "lstm:n=32,t=28,f=28,h=128",
    "lstm:n=64,t=32,f=64,h=256",
    "lstm:n=128,t=16,f=128,h=512",
    "lstm:n=8,t=128,f=64,h=128",
    "lstm:n=16,t=64,f=128,h=512",
    "lstm:n=128,t=128,f=32,h=32",
    "gru:n=1,t=8,f=32,h=32",
    "gru:n=32,t=28,f=28,h=128",
    "gru:n=64,t=32,f=64,h=256",
    "gru:n=128,t=16,f=128,h=512",
    "gru:n=8,t=128,f=64,h=128",
    "gru:n=16,t=64,f=128,h=512",
    "gru:n=128,t=128,f=32,h=32",
    "rnn:n=1,t=8,f=32,h=32",
    "rnn:n=32,t=64,f=32,h=128",
    "rnn:n=64,t=32,f=64,h=512",
    "rnn:n=16,t=128,f=16,h=64",
    /* self-attention: length 16-512, width 32-256 */
    "mha:n=32,t=16,d=32,heads=2",
    "mha:n=32,t=28,d=64,heads=4",
    "mha:n=16,t=64,d=128,heads=4",
    "mha:n=8,t=128,d=128,heads=8",
    "mha:n=4,t=256,d=256,heads=8",
    "mha:n=2,t=512,d=64,heads=4",
    "mha:n=1,t=512,d=256,heads=8",
    "mha:n=64,t=32,d=256,heads=8",
    /* LayerNormalization over the last axis */
    "layernorm:n=64,t=16,d=32",
    "layernorm:n=32,t=28,d=64",
    "layernorm:n=16,t=64,d=512",
    "layernorm:n=8,t=128,d=256",
    "layernorm:n=4,t=512,d=1024",
    "layernorm:n=128,t=1,d=4096",
};
static const char *const grid_quick[] = {
    "conv2d:n=32,c=1,f=32,h=28,k=3,s=1,pad=valid,bn=0", "conv2d:n=32,c=32,f=64,h=16,k=3,s=1,pad=same,bn=1",
    "conv2d:n=16,c=64,f=128,h=28,k=3,s=2,pad=same,bn=0", "conv2d_t:n=32,c=64,f=32,h=7,k=3,s=2,pad=same",
    "maxpool:n=32,c=32,h=28",                             "dense:n=128,i=1024,o=1024",
    "lstm:n=32,t=28,f=28,h=128",                          "gru:n=16,t=64,f=128,h=512",
    "mha:n=16,t=64,d=128,heads=4",                        "layernorm:n=32,t=28,d=64",
};
static const char *const grid_smoke[] = {
    "conv2d:n=2,c=3,f=4,h=8,k=3,s=2,pad=same,bn=1",
    "dense:n=4,i=16,o=8",
    "lstm:n=2,t=4,f=8,h=16",
};

#define COUNT(a) (int)(sizeof(a) / sizeof((a)[0]))

static int cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double loadavg(void) {
    double l = -1;
    FILE *f = fopen("/proc/loadavg", "r");
    if (f) {
        if (fscanf(f, "%lf", &l) != 1) l = -1;
        fclose(f);
    }
    return l;
}

/* Parses "layer:k=v,k=v" into p; false (with a message on stderr) if malformed. */
static bool parse_point(const char *spec, point *p) {
    const char *colon = strchr(spec, ':');
    size_t ln = colon ? (size_t)(colon - spec) : strlen(spec);
    p->layer = -1;
    for (int i = 0; i < L_COUNT; i++)
        if (strlen(layer_names[i]) == ln && !strncmp(spec, layer_names[i], ln)) p->layer = i;
    if (p->layer < 0) {
        fprintf(stderr, "sweep: %s: unknown layer (conv2d conv2d_t maxpool avgpool dense lstm gru rnn mha layernorm)\n", spec);
        return false;
    }
    for (int k = 0; k < K_COUNT; k++) p->v[k] = -1;
    for (const char *s = colon ? colon + 1 : spec + ln; *s;) {
        const char *eq = strchr(s, '='), *end = strchr(s, ',');
        if (!end) end = s + strlen(s);
        if (!eq || eq > end) {
            fprintf(stderr, "sweep: %s: expected key=value at \"%.*s\"\n", spec, (int)(end - s), s);
            return false;
        }
        int key = -1;
        for (int k = 0; k < K_COUNT; k++)
            if (strlen(key_names[k]) == (size_t)(eq - s) && !strncmp(s, key_names[k], (size_t)(eq - s))) key = k;
        if (key < 0) {
            fprintf(stderr, "sweep: %s: unknown key \"%.*s\"\n", spec, (int)(eq - s), s);
            return false;
        }
        char *stop;
        if (key == K_PAD) {
            if (!strncmp(eq + 1, "valid", (size_t)(end - eq - 1)) && end - eq - 1 == 5) p->v[key] = 0;
            else if (!strncmp(eq + 1, "same", (size_t)(end - eq - 1)) && end - eq - 1 == 4) p->v[key] = 1;
            else {
                fprintf(stderr, "sweep: %s: pad must be valid or same\n", spec);
                return false;
            }
        } else {
            p->v[key] = strtol(eq + 1, &stop, 10);
            if (stop != end || p->v[key] < 0 || p->v[key] > 1000000) {
                fprintf(stderr, "sweep: %s: %s must be a whole number in 0..1000000\n", spec, key_names[key]);
                return false;
            }
        }
        s = *end ? end + 1 : end;
    }
    /* every key the layer needs, each at least 1 */
    char need[64];
    snprintf(need, sizeof need, "%s", layer_keys[p->layer]);
    for (char *tok = strtok(need, " "); tok; tok = strtok(NULL, " "))
        for (int k = 0; k < K_COUNT; k++)
            if (!strcmp(tok, key_names[k]) && p->v[k] < 1) {
                fprintf(stderr, "sweep: %s: %s needs %s >= 1\n", spec, layer_names[p->layer], tok);
                return false;
            }
    if (p->v[K_S] < 0) p->v[K_S] = 1;
    if (p->v[K_S] < 1) {
        fprintf(stderr, "sweep: %s: s must be >= 1\n", spec);
        return false;
    }
    if (p->v[K_PAD] < 0) p->v[K_PAD] = 0;
    if (p->v[K_BN] < 0) p->v[K_BN] = 0;
    if (p->layer == L_MHA && p->v[K_D] % p->v[K_HEADS]) {
        fprintf(stderr, "sweep: %s: d %ld is not divisible by heads %ld\n", spec, p->v[K_D], p->v[K_HEADS]);
        return false;
    }
    return true;
}

/* OpenBLAS's GFLOP/s on C[M,N] = A[M,K] B[K,N] (row-major), median of samples of about 20 ms. */
static double sgemm_gflops(long M, long N, long K) {
    float *a = malloc((size_t)M * K * 4), *b = malloc((size_t)K * N * 4), *c = malloc((size_t)M * N * 4);
    if (!a || !b || !c) {
        free(a), free(b), free(c);
        return -1;
    }
    for (long i = 0; i < M * K; i++) a[i] = 0.001f * (float)(i % 97);
    for (long i = 0; i < K * N; i++) b[i] = 0.001f * (float)(i % 89);
    double t0 = dc_now();
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)M, (int)N, (int)K, 1, a, (int)K, b, (int)N, 0, c, (int)N);
    double one = dc_now() - t0;
    int reps = one > 0.02 ? 1 : (int)(0.02 / (one > 1e-7 ? one : 1e-7)) + 1;
    double t[7];
    for (int s = 0; s < 7; s++) {
        t0 = dc_now();
        for (int r = 0; r < reps; r++)
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)M, (int)N, (int)K, 1, a, (int)K, b, (int)N, 0, c,
                        (int)N);
        t[s] = (dc_now() - t0) / reps;
    }
    qsort(t, 7, sizeof t[0], cmp);
    free(a), free(b), free(c);
    return 2.0 * (double)M * (double)N * (double)K / t[3] * 1e-9;
}

/* The model (input + the layer, + BatchNormalization for conv2d bn=1) and the input shape. */
static dc_model *build(const point *p, dc_tensor **xo) {
    const long *v = p->v;
    int64_t shape[4];
    int nd;
    dc_layer *l = NULL, *bn = NULL;
    dc_padding pad = v[K_PAD] ? DC_PAD_SAME : DC_PAD_VALID;
    switch (p->layer) {
    case L_CONV:
    case L_CONVT:
        nd = 4, shape[0] = v[K_N], shape[1] = v[K_C], shape[2] = shape[3] = v[K_H];
        l = p->layer == L_CONV ? dc_conv2d_layer(v[K_F], (int)v[K_K], (int)v[K_K], (int)v[K_S], pad, DC_ACT_NONE)
                               : dc_conv2d_transpose_layer(v[K_F], (int)v[K_K], (int)v[K_K], (int)v[K_S], pad, DC_ACT_NONE);
        if (p->layer == L_CONV && v[K_BN]) bn = dc_batch_norm_layer(0.1f, 1e-5f);
        break;
    case L_MAXPOOL:
    case L_AVGPOOL:
        nd = 4, shape[0] = v[K_N], shape[1] = v[K_C], shape[2] = shape[3] = v[K_H];
        l = p->layer == L_MAXPOOL ? dc_max_pool2d_layer(2, 2, 2) : dc_avg_pool2d_layer(2, 2, 2);
        break;
    case L_DENSE:
        nd = 2, shape[0] = v[K_N], shape[1] = v[K_I];
        l = dc_dense(v[K_O], DC_ACT_NONE);
        break;
    case L_LSTM:
    case L_GRU:
    case L_RNN:
        nd = 3, shape[0] = v[K_N], shape[1] = v[K_T], shape[2] = v[K_F];
        l = p->layer == L_LSTM  ? dc_lstm_layer(v[K_H], true)
            : p->layer == L_GRU ? dc_gru_layer(v[K_H], true)
                                : dc_simple_rnn_layer(v[K_H], DC_ACT_TANH, true);
        break;
    case L_MHA:
        nd = 3, shape[0] = v[K_N], shape[1] = v[K_T], shape[2] = v[K_D];
        l = dc_multi_head_attention_layer((int)v[K_HEADS], false, 0.0f);
        break;
    default:
        nd = 3, shape[0] = v[K_N], shape[1] = v[K_T], shape[2] = v[K_D];
        l = dc_layer_norm_layer(1e-5f);
        break;
    }
    dc_model *m = dc_sequential();
    dc_status st = m && l ? dc_model_add(m, dc_input(nd - 1, shape + 1)) : DC_ERR_NOMEM;
    if (!st) st = dc_model_add(m, l), l = NULL;
    if (!st && bn) st = dc_model_add(m, bn), bn = NULL;
    if (!st) st = dc_model_build(m, 0, NULL);
    dc_layer_free(l);
    dc_layer_free(bn);
    dc_tensor *x = st ? NULL : dc_tensor_new(nd, shape);
    if (!x) {
        fprintf(stderr, "sweep: building the model: %s\n", dc_last_error());
        dc_model_free(m);
        return NULL;
    }
    dc_rng rng;
    dc_rng_seed(&rng, 1);
    dc_tensor_init(x, DC_INIT_NORMAL, 1.0f, &rng);
    dc_tensor_set_requires_grad(x, true);
    *xo = x;
    return m;
}

/* One training step: zero gradients, forward in training mode, backward of sum(y). */
static bool step(dc_model *m, dc_ctx *c, dc_tensor *x) {
    dc_ctx_reset(c);
    dc_model_zero_grad(m);
    dc_tensor_zero_grad(x);
    dc_tensor *y = dc_model_forward(m, c, x, true);
    dc_tensor *l = y ? dc_sum(c, y) : NULL;
    return l && dc_backward(c, l) == DC_OK;
}

/* FLOPs of one step (3 products of the forward's size: forward, input and weight gradients)
 * and the forward's equivalent GEMM; 0 where none is defined. */
static double flops(const point *p, long *M, long *N, long *K) {
    const long *v = p->v;
    *M = *N = *K = 0;
    switch (p->layer) {
    case L_CONV: {
        long oh = v[K_PAD] ? (v[K_H] + v[K_S] - 1) / v[K_S] : (v[K_H] - v[K_K]) / v[K_S] + 1;
        *M = v[K_N] * oh * oh, *N = v[K_F], *K = v[K_C] * v[K_K] * v[K_K];
        break;
    }
    case L_CONVT: /* each input pixel scatters a k x k x f patch: col2im form */
        *M = v[K_N] * v[K_H] * v[K_H], *N = v[K_F] * v[K_K] * v[K_K], *K = v[K_C];
        break;
    case L_DENSE:
        *M = v[K_N], *N = v[K_O], *K = v[K_I];
        break;
    case L_LSTM:
    case L_GRU:
    case L_RNN: {
        long g = p->layer == L_LSTM ? 4 : p->layer == L_GRU ? 3 : 1;
        *M = v[K_N], *N = g * v[K_H], *K = v[K_F] + v[K_H];
        return 3.0 * 2.0 * (double)v[K_T] * (double)*M * (double)*N * (double)*K;
    }
    case L_MHA: {
        double n = (double)v[K_N], t = (double)v[K_T], d = (double)v[K_D];
        *M = v[K_N] * v[K_T], *N = 3 * v[K_D], *K = v[K_D];
        /* q/k/v and output projections (8 n t d^2), scores and weighted sum (4 n t^2 d) */
        return 3.0 * (8.0 * n * t * d * d + 4.0 * n * t * t * d);
    }
    default:
        return 0;
    }
    return 3.0 * 2.0 * (double)*M * (double)*N * (double)*K;
}

static int run_point(const char *spec, double min_time, bool with_sgemm) {
    point p;
    if (!parse_point(spec, &p)) return 2;
    dc_tensor *x = NULL;
    dc_model *m = build(&p, &x);
    dc_ctx *c = dc_ctx_new();
    if (!m || !c) {
        dc_ctx_free(c);
        return 2;
    }
    dc_ctx_set_grad(c, true);
    double load = loadavg();
    /* warm-up: arena, OpenBLAS buffers, pages; at least 2 steps and 50 ms */
    double t0 = dc_now(), one = 0;
    int warm = 0;
    while (warm < 2 || dc_now() - t0 < 0.05) {
        double s0 = dc_now();
        if (!step(m, c, x)) {
            fprintf(stderr, "sweep: %s: step failed: %s\n", spec, dc_last_error());
            dc_ctx_free(c), dc_model_free(m), dc_tensor_free(x);
            return 2;
        }
        one = dc_now() - s0;
        warm++;
    }
    one = (dc_now() - t0) / warm < one ? (dc_now() - t0) / warm : one;
    /* samples of reps steps, each about min_time / 10, until min_time is timed (>= 5 samples) */
    int reps = one >= min_time / 10 ? 1 : (int)(min_time / 10 / (one > 1e-7 ? one : 1e-7)) + 1;
    double samples[256], timed = 0;
    int ns = 0;
    while (ns < 256 && (ns < 5 || timed < min_time)) {
        double s0 = dc_now();
        for (int r = 0; r < reps; r++) step(m, c, x);
        double dt = dc_now() - s0;
        samples[ns++] = dt / reps;
        timed += dt;
        if (dt < min_time / 40 && reps < 1000000) reps *= 2; /* samples too short to time well */
    }
    qsort(samples, (size_t)ns, sizeof samples[0], cmp);
    double med = samples[ns / 2];
    long M, N, K;
    double fl = flops(&p, &M, &N, &K);
    printf("{\"side\": \"deepc\", \"point\": \"%s\", \"layer\": \"%s\"", spec, layer_names[p.layer]);
    for (int k = 0; k < K_COUNT; k++)
        if (p.v[k] >= 0 && k != K_PAD && (k != K_BN || p.layer == L_CONV) &&
            (k != K_S || p.layer == L_CONV || p.layer == L_CONVT))
            printf(", \"%s\": %ld", key_names[k], p.v[k]);
    if (p.layer == L_CONV || p.layer == L_CONVT) printf(", \"pad\": \"%s\"", p.v[K_PAD] ? "same" : "valid");
    printf(", \"seconds\": %.6g, \"samples\": %d, \"reps\": %d", med, ns, reps);
    if (fl > 0) {
        printf(", \"flops\": %.6g, \"gflops\": %.4g", fl, fl / med * 1e-9);
        if (with_sgemm) {
            double sg = sgemm_gflops(M, N, K);
            printf(", \"gemm_mnk\": [%ld, %ld, %ld], \"sgemm_gflops\": %.4g, \"frac_sgemm\": %.3f", M, N, K, sg,
                   fl / med * 1e-9 / sg);
        }
    }
    const char *wait = getenv("OMP_WAIT_POLICY");
    printf(", \"threads\": %d, \"omp_wait_policy\": \"%s\", \"openblas\": \"%s\", \"loadavg\": %.2f}\n", dc_get_threads(),
           wait ? wait : "", openblas_get_config(), load);
    fflush(stdout);
    dc_ctx_free(c);
    dc_model_free(m);
    dc_tensor_free(x);
    return 0;
}

static bool named_grid(const char *name, const char *const **g, int *n) {
    if (!strcmp(name, "full")) *g = grid_full, *n = COUNT(grid_full);
    else if (!strcmp(name, "quick")) *g = grid_quick, *n = COUNT(grid_quick);
    else if (!strcmp(name, "smoke")) *g = grid_smoke, *n = COUNT(grid_smoke);
    else {
        fprintf(stderr, "sweep: unknown grid \"%s\" (smoke, quick, full)\n", name);
        return false;
    }
    return true;
}

int main(int argc, char **argv) {
    double min_time = 0.2;
    bool with_sgemm = true;
    int failed = 0, points = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *const *g;
        int n;
        if (!strcmp(a, "--min-time") && i + 1 < argc) {
            char *stop;
            min_time = strtod(argv[++i], &stop);
            if (*stop || !(min_time >= 0 && min_time <= 60)) {
                fprintf(stderr, "sweep: --min-time takes seconds in 0..60\n");
                return 2;
            }
        } else if (!strcmp(a, "--no-sgemm")) {
            with_sgemm = false;
        } else if (!strcmp(a, "--peak")) {
            double g1 = sgemm_gflops(1024, 1024, 1024);
            printf("{\"side\": \"deepc\", \"point\": \"sgemm_peak\", \"gemm_mnk\": [1024, 1024, 1024], \"sgemm_gflops\": %.4g, "
                   "\"threads\": %d, \"openblas\": \"%s\", \"loadavg\": %.2f}\n",
                   g1, dc_get_threads(), openblas_get_config(), loadavg());
            points++;
        } else if ((!strcmp(a, "--list") || !strcmp(a, "--grid")) && i + 1 < argc) {
            if (!named_grid(argv[++i], &g, &n)) return 2;
            for (int k = 0; k < n; k++) {
                if (a[2] == 'l') puts(g[k]);
                else failed += run_point(g[k], min_time, with_sgemm) != 0;
            }
            points += n;
        } else if (a[0] == '-') {
            fprintf(stderr, "usage: sweep [--min-time S] [--no-sgemm] [--peak] [--grid smoke|quick|full | --list NAME | SPEC...]\n");
            return 2;
        } else {
            failed += run_point(a, min_time, with_sgemm) != 0;
            points++;
        }
    }
    if (!points) {
        fprintf(stderr, "usage: sweep [--min-time S] [--no-sgemm] [--peak] [--grid smoke|quick|full | --list NAME | SPEC...]\n");
        return 2;
    }
    return failed ? 2 : 0;
}
