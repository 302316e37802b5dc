/* Gradient checks of every differentiable op against central finite differences. */
#include "check.h"
#include "ops/ops.h"

#include <stdlib.h>
#include <string.h>

#define MAXIN 4

typedef dc_tensor *(*op_fn)(dc_ctx *c, dc_tensor **in);

static dc_rng rng;

static dc_tensor *rand_tensor(int nd, const int64_t *shape, float lo, float hi) {
    dc_tensor *t = dc_tensor_new(nd, shape);
    float *d = dc_tensor_data(t);
    for (int64_t i = 0; i < dc_tensor_numel(t); i++) d[i] = lo + (hi - lo) * dc_rng_uniform(&rng);
    return t;
}

/* Values away from zero, for ops with a kink there (relu, abs, max). */
static dc_tensor *rand_nonzero(int nd, const int64_t *shape) {
    dc_tensor *t = rand_tensor(nd, shape, 0.2f, 1.5f);
    float *d = dc_tensor_data(t);
    for (int64_t i = 0; i < dc_tensor_numel(t); i++)
        if (dc_rng_uniform(&rng) < 0.5f) d[i] = -d[i];
    return t;
}

/* loss = sum(f(in) * R) with a fixed random R, so every output element matters. */
static double eval_loss(dc_ctx *c, op_fn f, dc_tensor **in, dc_tensor *R, bool grad) {
    dc_ctx_reset(c);
    dc_ctx_set_grad(c, grad);
    dc_tensor *y = f(c, in);
    if (!y) return NAN;
    dc_tensor *l = dc_sum(c, dc_mul(c, y, R));
    if (!l) return NAN;
    if (grad && dc_backward(c, l)) return NAN;
    return dc_tensor_data(l)[0];
}

static void gradcheck(const char *name, op_fn f, dc_tensor **in, int nin, const bool *wrt, float eps, float tol) {
    dc_ctx *c = dc_ctx_new();
    dc_ctx_set_grad(c, false);
    dc_ctx_reset(c);
    dc_tensor *y0 = f(c, in);
    if (!y0) {
        fprintf(stderr, "%s: forward failed: %s\n", name, dc_last_error());
        check_fails++;
        dc_ctx_free(c);
        return;
    }
    dc_tensor *R = rand_tensor(dc_tensor_ndim(y0), dc_tensor_shape(y0), -1, 1);
    for (int k = 0; k < nin; k++) {
        dc_tensor_set_requires_grad(in[k], wrt[k]);
        dc_tensor_zero_grad(in[k]);
    }
    double l0 = eval_loss(c, f, in, R, true);
    CHECK(!isnan(l0));
    double worst = 0;
    for (int k = 0; k < nin; k++) {
        if (!wrt[k]) continue;
        float *x = dc_tensor_data(in[k]), *g = dc_tensor_data(dc_tensor_grad(in[k]));
        for (int64_t i = 0; i < dc_tensor_numel(in[k]); i++) {
            float keep = x[i];
            x[i] = keep + eps;
            double lp = eval_loss(c, f, in, R, false);
            x[i] = keep - eps;
            double lm = eval_loss(c, f, in, R, false);
            x[i] = keep;
            double num = (lp - lm) / (2.0 * eps), err = fabs(num - g[i]) / (1.0 + fabs(num));
            if (err > worst) worst = err;
            if (err > tol) {
                fprintf(stderr, "%s: input %d element %lld: analytic %.6g numeric %.6g\n", name, k, (long long)i, g[i], num);
                check_fails++;
                k = nin;
                break;
            }
        }
    }
    check_count++;
    printf("gradcheck %-22s max rel err %.2e\n", name, worst);
    for (int k = 0; k < nin; k++) dc_tensor_set_requires_grad(in[k], false);
    dc_tensor_free(R);
    dc_ctx_free(c);
}

#define S(...) ((const int64_t[]){__VA_ARGS__})
#define NS(...) (int)(sizeof((int64_t[]){__VA_ARGS__}) / sizeof(int64_t)), S(__VA_ARGS__)

static dc_tensor *f_add(dc_ctx *c, dc_tensor **in) { return dc_add(c, in[0], in[1]); }
static dc_tensor *f_sub(dc_ctx *c, dc_tensor **in) { return dc_sub(c, in[0], in[1]); }
static dc_tensor *f_mul(dc_ctx *c, dc_tensor **in) { return dc_mul(c, in[0], in[1]); }
static dc_tensor *f_div(dc_ctx *c, dc_tensor **in) { return dc_div(c, in[0], in[1]); }
static dc_tensor *f_scale(dc_ctx *c, dc_tensor **in) { return dc_scale(c, in[0], -1.7f); }
static dc_tensor *f_adds(dc_ctx *c, dc_tensor **in) { return dc_add_scalar(c, in[0], 0.3f); }
static dc_tensor *f_neg(dc_ctx *c, dc_tensor **in) { return dc_neg(c, in[0]); }
static dc_tensor *f_exp(dc_ctx *c, dc_tensor **in) { return dc_exp(c, in[0]); }
static dc_tensor *f_log(dc_ctx *c, dc_tensor **in) { return dc_log(c, in[0]); }
static dc_tensor *f_sqrt(dc_ctx *c, dc_tensor **in) { return dc_sqrt(c, in[0]); }
static dc_tensor *f_square(dc_ctx *c, dc_tensor **in) { return dc_square(c, in[0]); }
static dc_tensor *f_abs(dc_ctx *c, dc_tensor **in) { return dc_abs(c, in[0]); }
static dc_tensor *f_sigmoid(dc_ctx *c, dc_tensor **in) { return dc_sigmoid(c, in[0]); }
static dc_tensor *f_tanh(dc_ctx *c, dc_tensor **in) { return dc_tanh(c, in[0]); }
static dc_tensor *f_relu(dc_ctx *c, dc_tensor **in) { return dc_relu(c, in[0]); }
static dc_tensor *f_leaky(dc_ctx *c, dc_tensor **in) { return dc_leaky_relu(c, in[0], 0.1f); }
static dc_tensor *f_elu(dc_ctx *c, dc_tensor **in) { return dc_elu(c, in[0], 0.8f); }
static dc_tensor *f_gelu(dc_ctx *c, dc_tensor **in) { return dc_gelu(c, in[0], false); }
static dc_tensor *f_gelu_tanh(dc_ctx *c, dc_tensor **in) { return dc_gelu(c, in[0], true); }
static dc_tensor *f_softmax(dc_ctx *c, dc_tensor **in) { return dc_softmax(c, in[0]); }
static dc_tensor *f_logsoftmax(dc_ctx *c, dc_tensor **in) { return dc_log_softmax(c, in[0]); }
static dc_tensor *f_sum(dc_ctx *c, dc_tensor **in) { return dc_sum(c, in[0]); }
static dc_tensor *f_mean(dc_ctx *c, dc_tensor **in) { return dc_mean(c, in[0]); }
static dc_tensor *f_sum_axis(dc_ctx *c, dc_tensor **in) { return dc_sum_axis(c, in[0], 1, false); }
static dc_tensor *f_mean_axis(dc_ctx *c, dc_tensor **in) { return dc_mean_axis(c, in[0], -1, true); }
static dc_tensor *f_max_axis(dc_ctx *c, dc_tensor **in) { return dc_max_axis(c, in[0], 0, false); }
static dc_tensor *f_matmul(dc_ctx *c, dc_tensor **in) { return dc_matmul(c, in[0], in[1]); }
static dc_tensor *f_matmul_t(dc_ctx *c, dc_tensor **in) {
    return dc_matmul(c, dc_transpose(c, in[0], 0, 1), dc_transpose(c, in[1], 0, 1));
}
static dc_tensor *f_linear(dc_ctx *c, dc_tensor **in) { return dc_linear(c, in[0], in[1], in[2]); }
static dc_tensor *f_linear_nobias(dc_ctx *c, dc_tensor **in) { return dc_linear(c, in[0], in[1], NULL); }
static dc_tensor *f_concat(dc_ctx *c, dc_tensor **in) { return dc_concat(c, in, 3, 1); }
static dc_tensor *f_gather(dc_ctx *c, dc_tensor **in) {
    static const int64_t idx[] = {2, 0, 2, 1};
    return dc_gather_rows(c, in[0], idx, 4);
}
static dc_tensor *f_reshape(dc_ctx *c, dc_tensor **in) { return dc_tanh(c, dc_reshape(c, in[0], 3, S(2, -1, 3))); }
static dc_tensor *f_permute(dc_ctx *c, dc_tensor **in) {
    static const int perm[] = {2, 0, 1};
    return dc_mul(c, dc_permute(c, in[0], perm), dc_permute(c, in[0], perm));
}
static dc_tensor *f_slice(dc_ctx *c, dc_tensor **in) { return dc_square(c, dc_slice(c, dc_transpose(c, in[0], 0, 1), 0, 1, 3)); }
static dc_tensor *f_contig(dc_ctx *c, dc_tensor **in) { return dc_contiguous(c, dc_transpose(c, in[0], 0, 1)); }
static dc_tensor *f_mse(dc_ctx *c, dc_tensor **in) { return dc_mse_loss(c, in[0], in[1]); }
static dc_tensor *f_mae(dc_ctx *c, dc_tensor **in) { return dc_mae_loss(c, in[0], in[1]); }
static dc_tensor *f_bce(dc_ctx *c, dc_tensor **in) { return dc_bce_loss(c, dc_sigmoid(c, in[0]), in[1]); }
static dc_tensor *f_bce_logits(dc_ctx *c, dc_tensor **in) { return dc_bce_with_logits_loss(c, in[0], in[1]); }
static dc_tensor *f_cce(dc_ctx *c, dc_tensor **in) { return dc_cce_loss(c, dc_softmax(c, in[0]), in[1]); }
static dc_tensor *f_softmax_cce(dc_ctx *c, dc_tensor **in) { return dc_softmax_cce_loss(c, in[0], in[1]); }
static dc_tensor *f_sparse(dc_ctx *c, dc_tensor **in) { return dc_sparse_cce_loss(c, dc_softmax(c, in[0]), in[1]); }
static dc_tensor *f_softmax_sparse(dc_ctx *c, dc_tensor **in) { return dc_softmax_sparse_cce_loss(c, in[0], in[1]); }
static dc_tensor *f_nll_logsoftmax(dc_ctx *c, dc_tensor **in) { return dc_nll_loss(c, dc_log_softmax(c, in[0]), in[1]); }
static dc_tensor *f_dropout(dc_ctx *c, dc_tensor **in) {
    dc_rng r;
    dc_rng_seed(&r, 7); /* the same mask at every evaluation */
    return dc_dropout(c, in[0], 0.4f, true, &r);
}
static dc_tensor *f_chain(dc_ctx *c, dc_tensor **in) {
    /* a small MLP with a shared input used twice */
    dc_tensor *h = dc_tanh(c, dc_linear(c, in[0], in[1], in[2]));
    return dc_add(c, dc_matmul(c, h, in[3]), dc_sum_axis(c, h, 1, true));
}

static dc_tensor *f_conv(dc_ctx *c, dc_tensor **in) { return dc_conv2d(c, in[0], in[1], in[2], 1, 1, NULL); }
static dc_tensor *f_conv_s2p(dc_ctx *c, dc_tensor **in) {
    static const int pad[4] = {1, 0, 2, 1};
    return dc_conv2d(c, in[0], in[1], in[2], 2, 1, pad);
}
static dc_tensor *f_conv_relu(dc_ctx *c, dc_tensor **in) {
    return dc_conv2d_act(c, in[0], in[1], in[2], 1, 1, NULL, DC_ACT_RELU, 0);
}
static dc_tensor *f_conv_elu(dc_ctx *c, dc_tensor **in) {
    static const int pad[4] = {1, 1, 1, 1};
    return dc_conv2d_act(c, in[0], in[1], in[2], 1, 2, pad, DC_ACT_ELU, 0.7f);
}
static dc_tensor *f_conv_tanh(dc_ctx *c, dc_tensor **in) {
    return dc_conv2d_act(c, in[0], in[1], in[2], 1, 1, NULL, DC_ACT_TANH, 0);
}
static dc_tensor *f_conv_gelu(dc_ctx *c, dc_tensor **in) {
    return dc_conv2d_act(c, in[0], in[1], in[2], 1, 1, NULL, DC_ACT_GELU, 0);
}
static dc_tensor *f_conv_gelu_tanh(dc_ctx *c, dc_tensor **in) {
    return dc_conv2d_act(c, in[0], in[1], in[2], 1, 1, NULL, DC_ACT_GELU_TANH, 0);
}
static dc_tensor *f_conv_pool_relu(dc_ctx *c, dc_tensor **in) {
    return dc_conv2d_act_maxpool(c, in[0], in[1], in[2], 1, 1, NULL, DC_ACT_RELU, 0, 2, 2, 2, 2);
}
static dc_tensor *f_conv_pool_tanh(dc_ctx *c, dc_tensor **in) { /* overlapping windows, padding */
    static const int pad[4] = {1, 0, 0, 1};
    return dc_conv2d_act_maxpool(c, in[0], in[1], in[2], 1, 1, pad, DC_ACT_TANH, 0, 3, 2, 1, 1);
}
static dc_tensor *f_convt(dc_ctx *c, dc_tensor **in) {
    static const int pad[4] = {1, 0, 0, 1};
    return dc_conv2d_transpose(c, in[0], in[1], in[2], 2, 2, pad);
}
static dc_tensor *f_maxpool(dc_ctx *c, dc_tensor **in) { return dc_max_pool2d(c, in[0], 2, 2, 2, 2); }
static dc_tensor *f_maxpool_s1(dc_ctx *c, dc_tensor **in) { return dc_max_pool2d(c, in[0], 3, 2, 1, 1); }
static dc_tensor *f_avgpool(dc_ctx *c, dc_tensor **in) { return dc_avg_pool2d(c, in[0], 2, 3, 1, 2); }
static dc_tensor *f_avgpool22(dc_ctx *c, dc_tensor **in) { return dc_avg_pool2d(c, in[0], 2, 2, 2, 2); }
static dc_tensor *f_gap(dc_ctx *c, dc_tensor **in) { return dc_global_avg_pool2d(c, in[0]); }
static dc_tensor *f_upsample(dc_ctx *c, dc_tensor **in) { return dc_upsample2d(c, in[0], 2, 3); }
static dc_tensor *f_bn_train(dc_ctx *c, dc_tensor **in) {
    return dc_batch_norm(c, in[0], in[1], in[2], NULL, NULL, 0.1f, 1e-3f, true);
}
/* Synchronised statistics over one rank: the sum over the ranks is the identity, the weight 1
 * (tests/test_dist.c checks two ranks against one process). */
static int sync_sums; /* calls, so the check knows the synchronised path ran */
static dc_status sum_one_rank(double *buf, int n) {
    (void)buf;
    (void)n;
    sync_sums++;
    return DC_OK;
}
static const dc_comm one_rank = {.rank = 0, .size = 1, .sum_d = sum_one_rank};
static dc_tensor *f_bn_sync(dc_ctx *c, dc_tensor **in) {
    return dc_batch_norm_op(c, in[0], in[1], in[2], NULL, NULL, 0.1f, 1e-3f, true, &one_rank, 1);
}
static dc_tensor *f_bn_eval(dc_ctx *c, dc_tensor **in) {
    return dc_batch_norm(c, in[0], in[1], in[2], in[3], in[4], 0.1f, 1e-3f, false);
}

static const uint8_t seq_mask[3 * 4] = {1, 1, 1, 1, 1, 1, 0, 0, 0, 1, 1, 1}; /* back- and front-padded */
static dc_tensor *f_rnn(dc_ctx *c, dc_tensor **in) { return dc_simple_rnn(c, in[0], in[1], in[2], in[3], in[4], DC_ACT_TANH, NULL); }
static dc_tensor *f_rnn_mask(dc_ctx *c, dc_tensor **in) {
    return dc_simple_rnn(c, in[0], in[1], in[2], in[3], in[4], DC_ACT_TANH, seq_mask);
}
static dc_tensor *f_lstm(dc_ctx *c, dc_tensor **in) { return dc_lstm(c, in[0], in[1], in[2], in[3], in[4], in[5], NULL); }
static dc_tensor *f_lstm_mask(dc_ctx *c, dc_tensor **in) { return dc_lstm(c, in[0], in[1], in[2], in[3], in[4], in[5], seq_mask); }
static dc_tensor *f_lstm_last(dc_ctx *c, dc_tensor **in) {
    return dc_last_step(c, dc_lstm(c, in[0], in[1], in[2], in[3], NULL, NULL, seq_mask));
}
static dc_tensor *f_gru(dc_ctx *c, dc_tensor **in) { return dc_gru(c, in[0], in[1], in[2], in[3], in[4], in[5], NULL); }
static dc_tensor *f_gru_mask(dc_ctx *c, dc_tensor **in) { return dc_gru(c, in[0], in[1], in[2], in[3], in[4], in[5], seq_mask); }
static dc_tensor *f_embed(dc_ctx *c, dc_tensor **in) { return dc_embedding(c, in[1], in[0], -1); }

static void sequence_ops(float eps, float tol) {
    const bool T[6] = {true, true, true, true, true, true}, ET[2] = {true, false};
    const int64_t N = 3, S = 4, F = 2, H = 3;
    dc_tensor *r[5] = {rand_nonzero(NS(N, S, F)), rand_nonzero(NS(H, F)), rand_nonzero(NS(H, H)), rand_nonzero(NS(H)),
                       rand_nonzero(NS(N, H))};
    gradcheck("simple_rnn", f_rnn, r, 5, T, eps, tol);
    gradcheck("simple_rnn/mask", f_rnn_mask, r, 5, T, eps, tol);
    dc_tensor *l[6] = {r[0], rand_nonzero(NS(4 * H, F)), rand_nonzero(NS(4 * H, H)), rand_nonzero(NS(4 * H)), r[4],
                       rand_nonzero(NS(N, H))};
    gradcheck("lstm", f_lstm, l, 6, T, eps, tol);
    gradcheck("lstm/mask", f_lstm_mask, l, 6, T, eps, tol);
    gradcheck("lstm/mask/last_step", f_lstm_last, l, 4, T, eps, tol);
    dc_tensor *g[6] = {r[0], rand_nonzero(NS(3 * H, F)), rand_nonzero(NS(3 * H, H)), rand_nonzero(NS(3 * H)),
                       rand_nonzero(NS(3 * H)), r[4]};
    gradcheck("gru", f_gru, g, 6, T, eps, tol);
    gradcheck("gru/mask", f_gru_mask, g, 6, T, eps, tol);
    dc_tensor *e[2] = {rand_nonzero(NS(5, 3)), dc_tensor_from(NS(2, 3), (const float[]){1, 4, 1, 0, 2, 4})};
    gradcheck("embedding", f_embed, e, 2, ET, eps, tol);
    /* the padding row gets no gradient */
    dc_ctx *c = dc_ctx_new();
    dc_tensor_set_requires_grad(e[0], true);
    dc_tensor_zero_grad(e[0]);
    dc_tensor *emb = dc_embedding(c, e[1], e[0], 0);
    dc_backward(c, dc_sum(c, emb));
    const float *ge = dc_tensor_data(dc_tensor_grad(e[0]));
    CHECK(ge[0] == 0 && ge[4 * 3] == 2 && ge[1 * 3 + 2] == 2); /* row 0 is padding; rows 1 and 4 used twice */
    CHECK_NULL_ERR(dc_embedding(c, dc_full(c, 2, (int64_t[]){1, 2}, 5.0f), e[0], -1), "token id 5", "[0, 5)");
    /* the padding mask: 1 where the id is not 0, read through a transposed view too */
    const uint8_t *pm = dc_padding_mask(c, e[1]);
    CHECK(pm && pm[0] == 1 && pm[1] == 1 && pm[2] == 1 && pm[3] == 0 && pm[4] == 1 && pm[5] == 1);
    const uint8_t *pmt = dc_padding_mask(c, dc_transpose(c, e[1], 0, 1)); /* [3, 2]: {1, 0}, {4, 2}, {1, 4} */
    CHECK(pmt && pmt[0] == 1 && pmt[1] == 0 && pmt[2] == 1 && pmt[3] == 1 && pmt[4] == 1 && pmt[5] == 1);
    CHECK_NULL_ERR(dc_padding_mask(c, NULL), "dc_padding_mask", "NULL");
    CHECK_NULL_ERR(dc_padding_mask(c, dc_full(c, 1, (int64_t[]){3}, 1.0f)), "dc_padding_mask", "[N, T]", "[3]");
    /* a NULL made by a failed op passes through with that op's message */
    CHECK_NULL_ERR(dc_padding_mask(c, dc_reshape(c, e[1], 2, (int64_t[]){4, 4})), "reshape", "[2, 3]");
    dc_ctx_free(c);
    for (int k = 1; k < 4; k++) {
        dc_tensor_free(l[k]);
        dc_tensor_free(g[k]);
    }
    dc_tensor_free(l[5]);
    dc_tensor_free(g[4]);
    for (int k = 0; k < 5; k++) dc_tensor_free(r[k]);
    dc_tensor_free(e[0]);
    dc_tensor_free(e[1]);
}

/* The recurrence runs batch chunks on separate threads when the problem is big enough:
 * the results must not depend on the thread count. */
static void recurrent_threads(void) {
    const int64_t N = 16, S = 5, F = 6, H = 64;
    dc_tensor *x = rand_nonzero(NS(N, S, F)), *wi = rand_tensor(NS(4 * H, F), -0.2f, 0.2f);
    dc_tensor *wh = rand_tensor(NS(4 * H, H), -0.2f, 0.2f), *b = rand_nonzero(NS(4 * H));
    dc_tensor *gwi = rand_tensor(NS(3 * H, F), -0.2f, 0.2f), *gwh = rand_tensor(NS(3 * H, H), -0.2f, 0.2f);
    uint8_t mask[16 * 5];
    for (int i = 0; i < 16 * 5; i++) mask[i] = (uint8_t)(i % 7 != 3);
    dc_tensor *params[] = {x, wi, wh, gwi, gwh};
    float *ref[2][5];
    int64_t nref[5];
    for (int run = 0; run < 2; run++) {
        dc_set_threads(run + 1);
        for (int cell = 0; cell < 2; cell++) {
            for (int k = 0; k < 5; k++) {
                dc_tensor_set_requires_grad(params[k], true);
                dc_tensor_zero_grad(params[k]);
            }
            dc_ctx *c = dc_ctx_new();
            dc_tensor *y = cell ? dc_gru(c, x, gwi, gwh, NULL, NULL, NULL, mask) : dc_lstm(c, x, wi, wh, b, NULL, NULL, mask);
            dc_tensor *l = dc_sum(c, dc_square(c, y));
            CHECK(dc_backward(c, l) == DC_OK);
            int which[3] = {0, cell ? 3 : 1, cell ? 4 : 2};
            for (int k = 0; k < 3; k++) {
                dc_tensor *g = dc_tensor_grad(params[which[k]]);
                if (run == 0) {
                    nref[k] = dc_tensor_numel(g);
                    ref[cell][k] = malloc((size_t)nref[k] * sizeof(float));
                    memcpy(ref[cell][k], dc_tensor_data(g), (size_t)nref[k] * sizeof(float));
                } else {
                    double md = 0;
                    for (int64_t i = 0; i < nref[k]; i++) md = fmax(md, fabs(ref[cell][k][i] - dc_tensor_data(g)[i]));
                    CHECK(md < 1e-4);
                    free(ref[cell][k]);
                }
            }
            dc_ctx_free(c);
        }
    }
    dc_set_threads(0);
    for (int k = 0; k < 5; k++) dc_tensor_free(params[k]);
    dc_tensor_free(b);
    printf("recurrent: gradients agree across 1 and 2 threads\n");
}

/* ---- Transformer blocks: layer normalisation and attention ---- */
static dc_tensor *f_ln(dc_ctx *c, dc_tensor **in) { return dc_layer_norm(c, in[0], in[1], in[2], 1e-5f); }
static dc_tensor *f_ln_plain(dc_ctx *c, dc_tensor **in) { return dc_layer_norm(c, in[0], NULL, NULL, 1e-3f); }
/* the post-norm residual connection layer_norm(x + dropout(t)), inputs x, t, gamma, beta */
static dc_tensor *f_rln(dc_ctx *c, dc_tensor **in) { return dc_residual_layer_norm(c, in[0], in[1], 0, false, NULL, in[2], in[3], 1e-5f); }
static dc_tensor *f_rln_drop(dc_ctx *c, dc_tensor **in) {
    dc_rng r;
    dc_rng_seed(&r, 5); /* the same mask at every evaluation */
    return dc_residual_layer_norm(c, in[0], in[1], 0.4f, true, &r, in[2], in[3], 1e-5f);
}
static dc_tensor *f_rln_self(dc_ctx *c, dc_tensor **in) { return dc_residual_layer_norm(c, in[0], in[0], 0, false, NULL, NULL, NULL, 1e-3f); }

/* key masks [2, 5]: batch 0 has two padded keys, batch 1 is padding only */
static const uint8_t att_mask[2 * 5] = {1, 0, 1, 1, 0, 0, 0, 0, 0, 0};
/* key mask [1, 4] whose first key is padding: under a causal mask with Tq = Tk, query 0 sees none */
static const uint8_t att_mask_first[4] = {0, 1, 1, 1};
static dc_tensor *f_att(dc_ctx *c, dc_tensor **in) { return dc_attention(c, in[0], in[1], in[2], NULL, false, 0, 0, false, NULL); }
static dc_tensor *f_att_mask(dc_ctx *c, dc_tensor **in) {
    return dc_attention(c, in[0], in[1], in[2], att_mask, false, 0, 0, false, NULL);
}
static dc_tensor *f_att_causal(dc_ctx *c, dc_tensor **in) {
    return dc_attention(c, in[0], in[1], in[2], NULL, true, 0, 0, false, NULL);
}
static dc_tensor *f_att_causal_mask(dc_ctx *c, dc_tensor **in) {
    return dc_attention(c, in[0], in[1], in[2], att_mask_first, true, 0, 0, false, NULL);
}
static dc_tensor *f_att_scale(dc_ctx *c, dc_tensor **in) {
    return dc_attention(c, in[0], in[1], in[2], att_mask, true, 0.9f, 0, true, NULL);
}
static dc_tensor *f_att_dropout(dc_ctx *c, dc_tensor **in) {
    dc_rng r;
    dc_rng_seed(&r, 11); /* the same mask at every evaluation */
    return dc_attention(c, in[0], in[1], in[2], NULL, false, 0, 0.3f, true, &r);
}
/* q, k, v as views of projections x [B, T, H*d]: reshape to [B, T, H, d], permute to [B, H, T, d] */
static dc_tensor *f_att_views(dc_ctx *c, dc_tensor **in) {
    static const int perm[4] = {0, 2, 1, 3};
    dc_tensor *q = dc_permute(c, dc_reshape(c, in[0], 4, S(2, 3, 2, 2)), perm);
    dc_tensor *k = dc_permute(c, dc_reshape(c, in[1], 4, S(2, 4, 2, 2)), perm);
    dc_tensor *v = dc_permute(c, dc_reshape(c, in[2], 4, S(2, 4, 2, 3)), perm);
    return dc_attention(c, q, k, v, att_mask, false, 0, 0, false, NULL);
}

/* packed projections qkv [2, 5, 3 D], D = 2 heads x 3: masks, causal, dropout */
static dc_tensor *f_att_packed(dc_ctx *c, dc_tensor **in) {
    return dc_attention_packed(c, in[0], 2, att_mask, true, 0, 0, false, NULL);
}
static dc_tensor *f_att_packed_drop(dc_ctx *c, dc_tensor **in) {
    dc_rng r;
    dc_rng_seed(&r, 5);
    return dc_attention_packed(c, in[0], 2, NULL, false, 0.7f, 0.25f, true, &r);
}

/* separate projections q [2, 3, 6], k and v [2, 5, 6], 2 heads; and cross-attention with the
 * packed kv [2, 5, 12] of a memory */
static dc_tensor *f_att_heads(dc_ctx *c, dc_tensor **in) {
    return dc_attention_heads(c, in[0], in[1], in[2], 2, att_mask, false, 0, 0, false, NULL);
}
static dc_tensor *f_att_heads_causal_drop(dc_ctx *c, dc_tensor **in) {
    dc_rng r;
    dc_rng_seed(&r, 9);
    return dc_attention_heads(c, in[0], in[1], in[2], 3, NULL, true, 0, 0.2f, true, &r);
}
static dc_tensor *f_att_cross(dc_ctx *c, dc_tensor **in) {
    return dc_attention_cross(c, in[0], in[1], 2, att_mask, false, 0, 0, false, NULL);
}
static dc_tensor *f_att_cross_drop(dc_ctx *c, dc_tensor **in) {
    dc_rng r;
    dc_rng_seed(&r, 3);
    return dc_attention_cross(c, in[0], in[1], 3, NULL, false, 0.8f, 0.3f, true, &r);
}

/* Runs after the other checks, so their random inputs stay as they were. */
static void transformer_ops(float eps, float tol) {
    const bool T[4] = {true, true, true, true};
    dc_tensor *g = rand_nonzero(NS(3, 4));
    gradcheck("gelu", f_gelu, &g, 1, T, eps, tol);
    gradcheck("gelu_tanh", f_gelu_tanh, &g, 1, T, eps, tol);
    dc_tensor_free(g);
    /* conv2d with GELU: applied after the convolution as its own op, which keeps its input */
    dc_tensor *cv[3] = {rand_nonzero(NS(2, 3, 5, 4)), rand_nonzero(NS(3, 3, 3, 2)), rand_nonzero(NS(3))};
    gradcheck("conv2d+gelu", f_conv_gelu, cv, 3, T, eps, tol);
    gradcheck("conv2d+gelu_tanh", f_conv_gelu_tanh, cv, 3, T, eps, tol);
    for (int k = 0; k < 3; k++) dc_tensor_free(cv[k]);
    dc_tensor *ln2[3] = {rand_nonzero(NS(4, 5)), rand_nonzero(NS(5)), rand_nonzero(NS(5))};
    gradcheck("layer_norm/2d", f_ln, ln2, 3, T, eps, tol);
    gradcheck("layer_norm/2d/plain", f_ln_plain, ln2, 1, T, eps, tol);
    dc_tensor *ln3[3] = {rand_nonzero(NS(2, 3, 5)), ln2[1], ln2[2]};
    gradcheck("layer_norm/3d", f_ln, ln3, 3, T, eps, tol);
    gradcheck("layer_norm/3d/plain", f_ln_plain, ln3, 1, T, eps, tol);
    dc_tensor *rl[4] = {ln3[0], rand_nonzero(NS(2, 3, 5)), ln2[1], ln2[2]};
    gradcheck("residual_layer_norm", f_rln, rl, 4, T, eps, tol);
    gradcheck("residual_layer_norm/dropout", f_rln_drop, rl, 4, T, eps, tol);
    gradcheck("residual_layer_norm/x+x", f_rln_self, rl, 1, T, eps, tol);

    /* H = 2 heads, Tq = 3, Tk = 5, d = 4, dv = 3 */
    dc_tensor *a[3] = {rand_tensor(NS(2, 2, 3, 4), -1.5f, 1.5f), rand_tensor(NS(2, 2, 5, 4), -1.5f, 1.5f),
                       rand_tensor(NS(2, 2, 5, 3), -1, 1)};
    gradcheck("attention", f_att, a, 3, T, eps, tol);
    gradcheck("attention/key_mask", f_att_mask, a, 3, T, eps, tol);
    gradcheck("attention/causal", f_att_causal, a, 3, T, eps, tol);
    gradcheck("attention/mask+causal+scale", f_att_scale, a, 3, T, eps, tol);
    gradcheck("attention/dropout", f_att_dropout, a, 3, T, eps, tol);
    dc_tensor *sq[3] = {rand_tensor(NS(1, 3, 4, 2), -1.5f, 1.5f), rand_tensor(NS(1, 3, 4, 2), -1.5f, 1.5f),
                        rand_tensor(NS(1, 3, 4, 5), -1, 1)};
    gradcheck("attention/causal+mask", f_att_causal_mask, sq, 3, T, eps, tol);
    dc_tensor *pr[3] = {rand_tensor(NS(2, 3, 4), -1.5f, 1.5f), rand_tensor(NS(2, 4, 4), -1.5f, 1.5f),
                        rand_tensor(NS(2, 4, 6), -1, 1)};
    gradcheck("attention/views", f_att_views, pr, 3, T, eps, tol);
    dc_tensor *pk = rand_tensor(NS(2, 5, 18), -1.5f, 1.5f);
    gradcheck("attention/packed+mask+causal", f_att_packed, &pk, 1, T, eps, tol);
    gradcheck("attention/packed+dropout", f_att_packed_drop, &pk, 1, T, eps, tol);
    { /* the packed path equals splitting the heads, dc_attention, and merging them */
        dc_ctx *pc = dc_ctx_new();
        dc_tensor *yp = dc_attention_packed(pc, pk, 2, att_mask, true, 0, 0, false, NULL);
        dc_tensor *h5 = dc_permute(pc, dc_reshape(pc, pk, 5, S(2, 5, 3, 2, 3)), (const int[]){2, 0, 3, 1, 4});
        dc_tensor *qs[3];
        for (int k = 0; k < 3; k++) qs[k] = dc_reshape(pc, dc_slice(pc, h5, 0, k, k + 1), 4, S(2, 2, 5, 3));
        dc_tensor *ys = dc_attention(pc, qs[0], qs[1], qs[2], att_mask, true, 0, 0, false, NULL);
        ys = dc_reshape(pc, dc_permute(pc, ys, (const int[]){0, 2, 1, 3}), 3, S(2, 5, 6));
        double diff = yp && ys ? 0 : 1;
        for (int64_t i = 0; yp && ys && i < 60; i++) diff = fmax(diff, fabs(dc_tensor_data(yp)[i] - dc_tensor_data(ys)[i]));
        CHECK(diff < 1e-6);
        CHECK_NULL_ERR(dc_attention_packed(pc, pk, 4, NULL, false, 0, 0, false, NULL), "packed", "4 heads", "[2, 5, 18]");
        dc_ctx_free(pc);
    }
    dc_tensor_free(pk);
    dc_tensor *hs[3] = {rand_tensor(NS(2, 3, 6), -1.5f, 1.5f), rand_tensor(NS(2, 5, 6), -1.5f, 1.5f), rand_tensor(NS(2, 5, 6), -1, 1)};
    gradcheck("attention/heads+mask", f_att_heads, hs, 3, T, eps, tol);
    gradcheck("attention/heads+causal+dropout", f_att_heads_causal_drop, hs, 3, T, eps, tol);
    dc_tensor *cr[2] = {hs[0], rand_tensor(NS(2, 5, 12), -1.5f, 1.5f)};
    gradcheck("attention/cross+mask", f_att_cross, cr, 2, T, eps, tol);
    gradcheck("attention/cross+dropout", f_att_cross_drop, cr, 2, T, eps, tol);
    { /* separate and cross layouts equal dc_attention on the split heads */
        dc_ctx *pc = dc_ctx_new();
        dc_tensor *kv = cr[1];
        dc_tensor *k = dc_contig(pc, dc_slice(pc, kv, 2, 0, 6)), *v = dc_contig(pc, dc_slice(pc, kv, 2, 6, 12));
        dc_tensor *yh = dc_attention_heads(pc, hs[0], k, v, 2, att_mask, false, 0, 0, false, NULL);
        dc_tensor *yc = dc_attention_cross(pc, hs[0], kv, 2, att_mask, false, 0, 0, false, NULL);
        static const int perm[4] = {0, 2, 1, 3};
        dc_tensor *q4 = dc_permute(pc, dc_reshape(pc, hs[0], 4, S(2, 3, 2, 3)), perm);
        dc_tensor *k4 = dc_permute(pc, dc_reshape(pc, k, 4, S(2, 5, 2, 3)), perm);
        dc_tensor *v4 = dc_permute(pc, dc_reshape(pc, v, 4, S(2, 5, 2, 3)), perm);
        dc_tensor *ys = dc_attention(pc, q4, k4, v4, att_mask, false, 0, 0, false, NULL);
        ys = ys ? dc_contig(pc, dc_reshape(pc, dc_contig(pc, dc_permute(pc, ys, perm)), 3, S(2, 3, 6))) : NULL;
        double diff = yh && yc && ys ? 0 : 1;
        for (int64_t i = 0; diff < 1 && i < 36; i++)
            diff = fmax(diff, fmax(fabs(dc_tensor_data(yh)[i] - dc_tensor_data(ys)[i]), fabs(dc_tensor_data(yc)[i] - dc_tensor_data(ys)[i])));
        CHECK(diff < 1e-6);
        CHECK_NULL_ERR(dc_attention_heads(pc, hs[0], k, v, 4, NULL, false, 0, 0, false, NULL), "4 heads", "[2, 3, 6]");
        CHECK_NULL_ERR(dc_attention_cross(pc, hs[0], k, 2, NULL, false, 0, 0, false, NULL), "packed kv", "[2, 5, 6]");
        dc_ctx_free(pc);
    }
    for (int k = 0; k < 3; k++) dc_tensor_free(hs[k]);
    dc_tensor_free(cr[1]);

    dc_ctx *c = dc_ctx_new();
    /* rows with every key masked: zero output and zero gradient */
    for (int k = 0; k < 3; k++) {
        dc_tensor_set_requires_grad(a[k], true);
        dc_tensor_zero_grad(a[k]);
    }
    dc_tensor *y = dc_attention(c, a[0], a[1], a[2], att_mask, false, 0, 0, false, NULL);
    CHECK(y && dc_backward(c, dc_sum(c, dc_square(c, y))) == DC_OK);
    const float *yd = y ? dc_tensor_data(y) : NULL, *gq = dc_tensor_data(dc_tensor_grad(a[0]));
    const float *gk = dc_tensor_data(dc_tensor_grad(a[1])), *gv = dc_tensor_data(dc_tensor_grad(a[2]));
    bool zero = yd != NULL, nonzero = false;
    for (int64_t i = 0; yd && i < 2 * 3 * 3; i++) { /* batch 0: y [2, 3, 3] */
        nonzero |= yd[i] != 0;
        zero &= yd[2 * 3 * 3 + i] == 0 && gq[2 * 3 * 4 + i * 4 / 3] == 0;
    }
    for (int64_t i = 0; i < 2 * 5 * 4; i++) zero &= gk[2 * 5 * 4 + i] == 0 && !isnan(gk[i]);
    for (int64_t i = 0; i < 2 * 5 * 3; i++) zero &= gv[2 * 5 * 3 + i] == 0 && !isnan(gv[i]);
    /* padded keys of batch 0 (1 and 4) get no gradient either */
    for (int h = 0; h < 2; h++)
        for (int e = 0; e < 4; e++) zero &= gk[(h * 5 + 1) * 4 + e] == 0 && gk[(h * 5 + 4) * 4 + e] == 0;
    CHECK(zero && nonzero);
    for (int k = 0; k < 3; k++) dc_tensor_set_requires_grad(a[k], false);

    /* dropout: the same seed gives the same weights on the kept path and the blocked one,
     * a fraction of them dropped, and different seeds differ */
    dc_rng r1, r2;
    dc_rng_seed(&r1, 5);
    dc_rng_seed(&r2, 5);
    dc_tensor *d0 = dc_attention(c, a[0], a[1], a[2], NULL, false, 0, 0.5f, true, &r1);
    dc_tensor *nd = dc_attention(c, a[0], a[1], a[2], NULL, false, 0, 0, true, &r1);
    dc_ctx_set_grad(c, false);
    dc_tensor *d1 = dc_attention(c, a[0], a[1], a[2], NULL, false, 0, 0.5f, true, &r2);
    dc_tensor *d2 = dc_attention(c, a[0], a[1], a[2], NULL, false, 0, 0.5f, true, &r2);
    dc_tensor *ev = dc_attention(c, a[0], a[1], a[2], NULL, false, 0, 0.5f, false, NULL);
    CHECK(d0 && d1 && d2 && nd && ev);
    if (d0 && d1 && d2 && nd && ev) {
        double same = 0, diff = 0, evd = 0;
        for (int64_t i = 0; i < dc_tensor_numel(d0); i++) {
            same = fmax(same, fabs(dc_tensor_data(d0)[i] - dc_tensor_data(d1)[i]));
            diff = fmax(diff, fabs(dc_tensor_data(d0)[i] - dc_tensor_data(d2)[i]));
            diff = fmax(diff, fabs(dc_tensor_data(d0)[i] - dc_tensor_data(nd)[i]));
            evd = fmax(evd, fabs(dc_tensor_data(ev)[i] - dc_tensor_data(nd)[i]));
        }
        CHECK(same == 0 && diff > 1e-3 && evd == 0);
    }
    dc_ctx_set_grad(c, true);

    /* bad inputs */
    dc_tensor *q4 = dc_zeros(c, 4, S(2, 4, 5, 8)), *k7 = dc_zeros(c, 4, S(2, 4, 6, 7)), *k8 = dc_zeros(c, 4, S(2, 4, 6, 8));
    CHECK_NULL_ERR(dc_attention(c, q4, k7, k7, NULL, false, 0, 0, false, NULL), "attention: q [2, 4, 5, 8] and k [2, 4, 6, 7]",
                   "differ in d (8 vs 7)");
    CHECK_NULL_ERR(dc_attention(c, dc_zeros(c, 3, S(4, 5, 8)), k8, k8, NULL, false, 0, 0, false, NULL), "attention",
                   "[B, H, T, d]", "q [4, 5, 8]");
    CHECK_NULL_ERR(dc_attention(c, q4, dc_zeros(c, 4, S(3, 4, 6, 8)), k8, NULL, false, 0, 0, false, NULL),
                   "q [2, 4, 5, 8] and k [3, 4, 6, 8]", "batch B (2 vs 3)");
    CHECK_NULL_ERR(dc_attention(c, q4, k8, dc_zeros(c, 4, S(2, 2, 6, 8)), NULL, false, 0, 0, false, NULL),
                   "q [2, 4, 5, 8] and v [2, 2, 6, 8]", "heads H (4 vs 2)");
    CHECK_NULL_ERR(dc_attention(c, q4, k8, dc_zeros(c, 4, S(2, 4, 7, 3)), NULL, false, 0, 0, false, NULL),
                   "k [2, 4, 6, 8] and v [2, 4, 7, 3]", "Tk (6 vs 7)");
    dc_rng r3;
    dc_rng_seed(&r3, 1);
    CHECK_NULL_ERR(dc_attention(c, q4, k8, k8, NULL, false, 0, 1.0f, true, &r3), "attention: dropout 1 is outside [0, 1)");
    CHECK_NULL_ERR(dc_attention(c, q4, k8, k8, NULL, false, 0, -0.1f, false, NULL), "dropout -0.1 is outside");
    CHECK(dc_last_status() == DC_ERR_ARG);
    CHECK_NULL_ERR(dc_attention(c, q4, k8, k8, NULL, false, 0, 0.1f, true, NULL), "needs an rng");
    CHECK_NULL_ERR(dc_attention(c, q4, k8, NULL, NULL, false, 0, 0, false, NULL), "attention: input 2 is NULL");
    CHECK(dc_last_status() == DC_ERR_ARG);
    /* a NULL that a failed op made passes through later ops with that op's status and message */
    CHECK_NULL_ERR(dc_sum(c, dc_relu(c, dc_attention(c, q4, k7, k7, NULL, false, 0, 0, false, NULL))), "differ in d (8 vs 7)");
    CHECK(dc_last_status() == DC_ERR_SHAPE && !strstr(dc_last_error(), "is NULL"));
    dc_tensor *two[2] = {q4, dc_attention(c, q4, k7, k7, NULL, false, 0, 0, false, NULL)};
    CHECK(!two[1] && !dc_concat(c, two, 2, 0) && dc_last_status() == DC_ERR_SHAPE && strstr(dc_last_error(), "differ in d"));
    CHECK_NULL_ERR(dc_layer_norm(c, ln2[0], ln3[0], NULL, 1e-5f), "layer_norm: gamma [2, 3, 5] has 30 elements",
                   "last axis 5 of input [4, 5]");
    CHECK_NULL_ERR(dc_layer_norm(c, ln2[0], NULL, dc_zeros(c, 1, S(4)), 1e-5f), "layer_norm: beta [4] has 4 elements");
    CHECK_NULL_ERR(dc_layer_norm(c, ln2[0], NULL, NULL, 0), "layer_norm: eps must be positive");
    CHECK_NULL_ERR(dc_layer_norm(c, dc_zeros(c, 2, S(3, 0)), NULL, NULL, 1e-5f), "layer_norm", "empty", "[3, 0]");
    dc_ctx_free(c);
    for (int k = 0; k < 3; k++) {
        dc_tensor_free(a[k]);
        dc_tensor_free(sq[k]);
        dc_tensor_free(pr[k]);
        dc_tensor_free(ln2[k]);
    }
    dc_tensor_free(ln3[0]);
    dc_tensor_free(rl[1]);
}

/* Distinct values per pooling window, so the max is unique and the check is smooth. */
static dc_tensor *distinct(int nd, const int64_t *shape) {
    dc_tensor *t = dc_tensor_new(nd, shape);
    float *d = dc_tensor_data(t);
    int64_t n = dc_tensor_numel(t);
    for (int64_t i = 0; i < n; i++) d[i] = (float)((i * 37) % n) * 0.1f - 0.05f * (float)n;
    return t;
}

static void image_ops(float eps, float tol) {
    const bool T[5] = {true, true, true, true, true};
    dc_tensor *in[3] = {rand_nonzero(NS(2, 3, 6, 5)), rand_nonzero(NS(4, 3, 3, 2)), rand_nonzero(NS(4))};
    gradcheck("conv2d", f_conv, in, 3, T, eps, tol);
    gradcheck("conv2d/stride2-pad", f_conv_s2p, in, 3, T, eps, tol);
    gradcheck("conv2d+relu (fused)", f_conv_relu, in, 3, T, eps, tol);
    gradcheck("conv2d+elu (fused)", f_conv_elu, in, 3, T, eps, tol);
    gradcheck("conv2d+tanh (fused)", f_conv_tanh, in, 3, T, eps, tol);
    /* ReLU and max have kinks; the shared inputs put one window's two largest outputs within eps
     * of each other (the separate ops fail there too), so this check has its own draw */
    dc_tensor *cp[3] = {rand_nonzero(NS(2, 2, 6, 7)), rand_nonzero(NS(3, 2, 3, 3)), rand_nonzero(NS(3))};
    gradcheck("conv2d+relu+max_pool2d", f_conv_pool_relu, cp, 3, T, eps, tol);
    for (int k = 0; k < 3; k++) dc_tensor_free(cp[k]);
    gradcheck("conv2d+tanh+max_pool2d", f_conv_pool_tanh, in, 3, T, eps, tol);
    dc_tensor *tin[3] = {rand_nonzero(NS(2, 3, 4, 3)), rand_nonzero(NS(3, 2, 3, 3)), rand_nonzero(NS(2))};
    gradcheck("conv2d_transpose", f_convt, tin, 3, T, eps, tol);
    dc_tensor *p = distinct(NS(2, 3, 6, 5));
    gradcheck("max_pool2d", f_maxpool, &p, 1, T, eps, tol);
    gradcheck("max_pool2d/overlap", f_maxpool_s1, &p, 1, T, eps, tol);
    gradcheck("avg_pool2d", f_avgpool, &in[0], 1, T, eps, tol);
    gradcheck("avg_pool2d/2x2 stride 2, odd width", f_avgpool22, &p, 1, T, eps, tol);
    gradcheck("global_avg_pool2d", f_gap, &in[0], 1, T, eps, tol);
    gradcheck("upsample2d", f_upsample, &in[0], 1, T, eps, tol);
    dc_tensor *bn[5] = {rand_nonzero(NS(4, 3, 2, 2)), rand_nonzero(NS(3)), rand_nonzero(NS(3)), rand_nonzero(NS(3)),
                        rand_tensor(NS(3), 0.5f, 1.5f)};
    gradcheck("batch_norm/train", f_bn_train, bn, 3, T, eps, tol);
    gradcheck("batch_norm/eval", f_bn_eval, bn, 3, T, eps, tol);
    gradcheck("batch_norm/synchronised", f_bn_sync, bn, 3, T, eps, tol);
    CHECK(sync_sums > 3); /* forward's two sums and backward's */
    dc_tensor *bn2[3] = {rand_nonzero(NS(6, 3)), bn[1], bn[2]};
    gradcheck("batch_norm/2d", f_bn_train, bn2, 3, T, eps, tol);
    dc_tensor_free(bn2[0]);
    for (int k = 0; k < 5; k++) dc_tensor_free(bn[k]);
    for (int k = 0; k < 3; k++) {
        dc_tensor_free(in[k]);
        dc_tensor_free(tin[k]);
    }
    dc_tensor_free(p);
}

/* The exp-based ops on non-finite inputs: NaN stays NaN and the infinities reach their limits,
 * with no undefined float-to-int conversion inside the fast exp (the sanitizer build stops on
 * one). A model file can make any activation non-finite. */
/* dc_residual_layer_norm against dc_layer_norm(dc_add(x, dc_dropout(t))): the output and the
 * gradients of x, t, gamma and beta the same bits, at 1, 2 and 3 threads, with and without
 * dropout, gamma and beta, with x's gradient also fed by another use (added to, not stored),
 * and on rows too many for one thread; then its errors. */
static void residual_layer_norm_equals_ops(void) {
    static const struct {
        int64_t R, D;
        float rate;
        bool affine, also_x;
    } cases[] = {{6, 5, 0.0f, true, false}, {6, 5, 0.3f, true, true}, {3, 64, 0.1f, false, false},
                 {2048, 64, 0.1f, true, true}, {1200, 33, 0.0f, true, false}};
    int compared = 0;
    for (size_t ci = 0; ci < sizeof cases / sizeof cases[0]; ci++)
        for (int threads = 1; threads <= 3; threads++) {
            dc_set_threads(threads);
            const int64_t R = cases[ci].R, D = cases[ci].D;
            dc_tensor *in[4] = {rand_tensor(NS(R, D), -2, 2), rand_tensor(NS(R, D), -2, 2), rand_nonzero(NS(D)), rand_nonzero(NS(D))};
            dc_tensor *gy = rand_tensor(NS(R, D), -1, 1);
            float *out[2][5];
            for (int fused = 0; fused < 2; fused++) {
                for (int k = 0; k < 4; k++) dc_tensor_set_requires_grad(in[k], true);
                dc_ctx *c = dc_ctx_new();
                dc_rng r;
                dc_rng_seed(&r, 77);
                dc_tensor *g = cases[ci].affine ? in[2] : NULL, *b = cases[ci].affine ? in[3] : NULL;
                dc_tensor *y = fused ? dc_residual_layer_norm(c, in[0], in[1], cases[ci].rate, true, &r, g, b, 1e-5f)
                                     : dc_layer_norm(c, dc_add(c, in[0], dc_dropout(c, in[1], cases[ci].rate, true, &r)), g, b, 1e-5f);
                CHECK(y != NULL);
                dc_tensor *loss = y ? dc_sum(c, dc_mul(c, y, gy)) : NULL;
                if (loss && cases[ci].also_x) loss = dc_add(c, loss, dc_sum(c, dc_mul(c, in[0], in[0])));
                CHECK(loss && dc_backward(c, loss) == DC_OK);
                out[fused][0] = malloc((size_t)(R * D) * sizeof(float));
                if (y) memcpy(out[fused][0], dc_tensor_data(y), (size_t)(R * D) * sizeof(float));
                for (int k = 0; k < 4; k++) {
                    const int64_t n = dc_tensor_numel(in[k]);
                    dc_tensor *gt = dc_tensor_grad(in[k]);
                    out[fused][1 + k] = calloc((size_t)n, sizeof(float));
                    if (gt) memcpy(out[fused][1 + k], dc_tensor_data(gt), (size_t)n * sizeof(float));
                    dc_tensor_zero_grad(in[k]);
                    dc_tensor_set_requires_grad(in[k], false);
                }
                dc_ctx_free(c);
            }
            for (int o = 0; o < 5; o++) {
                const int64_t n = o == 0 || o <= 2 ? R * D : D;
                if (memcmp(out[0][o], out[1][o], (size_t)n * sizeof(float))) {
                    double md = 0;
                    for (int64_t i = 0; i < n; i++) md = fmax(md, fabs((double)out[0][o][i] - out[1][o][i]));
                    printf("residual_layer_norm, case %zu at %d threads: %s differs from the ops' by up to %.3g\n", ci, threads,
                           o == 0 ? "the output" : o == 1 ? "x's gradient" : o == 2 ? "t's gradient" : o == 3 ? "gamma's gradient"
                                                                                                     : "beta's gradient",
                           md);
                }
                CHECK(memcmp(out[0][o], out[1][o], (size_t)n * sizeof(float)) == 0);
                free(out[0][o]);
                free(out[1][o]);
            }
            compared++;
            for (int k = 0; k < 4; k++) dc_tensor_free(in[k]);
            dc_tensor_free(gy);
        }
    dc_set_threads(0);
    printf("residual_layer_norm against layer_norm(add(x, dropout(t))): %d cases, output and gradients compared bit for bit\n",
           compared);
    dc_ctx *c = dc_ctx_new();
    dc_tensor *x = rand_tensor(NS(2, 4), -1, 1), *t3 = rand_tensor(NS(2, 3), -1, 1), *g3 = rand_nonzero(NS(3));
    dc_rng r;
    dc_rng_seed(&r, 1);
    CHECK_NULL_ERR(dc_residual_layer_norm(c, x, t3, 0, false, NULL, NULL, NULL, 1e-5f), "residual_layer_norm", "[2, 4]", "[2, 3]",
                   "same shape");
    CHECK_NULL_ERR(dc_residual_layer_norm(c, x, x, 0, false, NULL, g3, NULL, 1e-5f), "residual_layer_norm", "gamma", "3 elements",
                   "last axis 4");
    CHECK_NULL_ERR(dc_residual_layer_norm(c, x, x, 1.0f, true, &r, NULL, NULL, 1e-5f), "residual_layer_norm", "rate 1", "[0, 1)");
    CHECK_NULL_ERR(dc_residual_layer_norm(c, x, x, 0.5f, true, NULL, NULL, NULL, 1e-5f), "residual_layer_norm", "needs an rng");
    CHECK_NULL_ERR(dc_residual_layer_norm(c, x, x, 0, false, NULL, NULL, NULL, 0.0f), "residual_layer_norm", "eps must be positive");
    /* inference: no rng needed, no dropout */
    dc_tensor *y = dc_residual_layer_norm(c, x, x, 0.5f, false, NULL, NULL, NULL, 1e-5f);
    CHECK(y != NULL);
    dc_tensor_free(x);
    dc_tensor_free(t3);
    dc_tensor_free(g3);
    dc_ctx_free(c);
}

static void nonfinite_exp(void) {
    dc_ctx *c = dc_ctx_new();
    dc_tensor *x = dc_tensor_new(2, (int64_t[]){1, 4});
    float *d = dc_tensor_data(x);
    d[0] = NAN, d[1] = INFINITY, d[2] = -INFINITY, d[3] = 0;
    dc_tensor *s = dc_activate(c, x, DC_ACT_SIGMOID, 0), *t = dc_activate(c, x, DC_ACT_TANH, 0);
    dc_tensor *g = dc_activate(c, x, DC_ACT_GELU_TANH, 0), *e = dc_activate(c, x, DC_ACT_ELU, 1.0f);
    CHECK(s && t && g && e);
    if (s && t && g && e) {
        const float *S = dc_tensor_data(s), *Tn = dc_tensor_data(t), *E = dc_tensor_data(e);
        CHECK(isnan(S[0]) && S[1] == 1 && S[2] == 0 && S[3] == 0.5f);
        CHECK(isnan(Tn[0]) && Tn[1] == 1 && Tn[2] == -1 && Tn[3] == 0);
        CHECK(isnan(dc_tensor_data(g)[0]) && isnan(E[0]) && E[2] == -1);
    }
    dc_tensor *sm = dc_softmax(c, x);
    CHECK(sm && isnan(dc_tensor_data(sm)[0]));
    dc_tensor_free(x);
    dc_ctx_free(c);
}

/* ---- Losses through dc_loss_ex: every loss, its options, reductions and weights ---- */

static dc_loss lx_kind;
static dc_loss_opts lx_opts;
static dc_reduction lx_red;
static dc_tensor *lx_sw, *lx_cw; /* sample and class weights of the loss checked, or NULL */
static dc_tensor *f_loss_ex(dc_ctx *c, dc_tensor **in) {
    return dc_loss_ex(c, lx_kind, in[0], in[1], &lx_opts, lx_red, lx_sw, lx_cw);
}

/* Fills t with whole numbers in [0, k) (class indices) */
static void fill_labels(dc_tensor *t, int k) {
    float *d = dc_tensor_data(t);
    for (int64_t i = 0; i < dc_tensor_numel(t); i++) d[i] = (float)((int)(dc_rng_uniform(&rng) * (float)k) % k);
}

/* Gradient checks of one loss under each reduction, with and without both weights; tgrad: the
 * target is checked too. */
static void loss_check(const char *name, dc_loss kind, dc_loss_opts o, dc_tensor *p, dc_tensor *t, bool tgrad, float eps,
                       float tol) {
    const bool wrt[MAXIN] = {true, tgrad};
    int64_t N = dc_tensor_dim(p, 0), K = dc_tensor_ndim(p) >= 2 ? dc_tensor_dim(p, -1) : 1;
    dc_tensor *sw = rand_tensor(1, S(N), 0.2f, 2.0f), *cw = rand_tensor(1, S(K), 0.2f, 2.0f);
    static const char *const wname[] = {"", "/weighted"};
    for (int r = 0; r < DC_REDUCE_COUNT; r++)
        for (int w = 0; w < 2; w++) {
            char nm[96];
            snprintf(nm, sizeof nm, "%s/%s%s", name, dc_reduction_name((dc_reduction)r), wname[w]);
            lx_kind = kind, lx_opts = o, lx_red = (dc_reduction)r;
            lx_sw = w ? sw : NULL;
            lx_cw = w && kind != DC_LOSS_COSINE ? cw : NULL;
            dc_tensor *in[2] = {p, t};
            gradcheck(nm, f_loss_ex, in, 2, wrt, eps, tol);
        }
    lx_sw = lx_cw = NULL;
    dc_tensor_free(sw);
    dc_tensor_free(cw);
}

/* The loss must not read the caller's target after the call: forward, free the target (and the
 * weights), then backward. Under AddressSanitizer a kept pointer is a use-after-free here. */
static void loss_target_freed(dc_loss kind, dc_loss_opts o, const dc_tensor *p0, const dc_tensor *t0) {
    dc_ctx *c = dc_ctx_new();
    dc_tensor *p = dc_tensor_clone(p0), *t = dc_tensor_clone(t0);
    int64_t N = dc_tensor_dim(p, 0), K = dc_tensor_dim(p, -1);
    dc_tensor *sw = dc_tensor_new(1, S(N)), *cw = kind == DC_LOSS_COSINE ? NULL : dc_tensor_new(1, S(K));
    dc_tensor_fill(sw, 0.5f);
    if (cw) dc_tensor_fill(cw, 2.0f);
    dc_tensor_set_requires_grad(p, true);
    /* a view of the target (its header in the arena, its data owned) as the model passes it */
    dc_tensor *tv = dc_reshape(c, t, dc_tensor_ndim(t), dc_tensor_shape(t));
    dc_tensor *l = dc_loss_ex(c, kind, p, tv, &o, DC_REDUCE_MEAN, sw, cw);
    float before = l ? dc_tensor_data(l)[0] : NAN;
    /* the reference gradient, from a second context that keeps its target */
    dc_ctx *c2 = dc_ctx_new();
    dc_tensor *l2 = dc_loss_ex(c2, kind, p, t, &o, DC_REDUCE_MEAN, sw, cw);
    CHECK(l2 && dc_backward(c2, l2) == DC_OK);
    dc_tensor *g_ref = dc_tensor_clone(dc_tensor_grad(p));
    dc_tensor_zero_grad(p);
    dc_tensor_free(t);
    dc_tensor_free(sw);
    dc_tensor_free(cw);
    CHECK(l && dc_backward(c, l) == DC_OK);
    CHECK(l && dc_tensor_data(l)[0] == before);
    const float *g = dc_tensor_data(dc_tensor_grad(p)), *gr = dc_tensor_data(g_ref);
    bool same = g && gr;
    for (int64_t i = 0; same && i < dc_tensor_numel(p); i++) same = g[i] == gr[i];
    CHECK(same);
    if (!same) fprintf(stderr, "%s: the gradient after freeing the target differs\n", dc_loss_name(kind));
    dc_tensor_free(g_ref);
    dc_tensor_free(p);
    dc_ctx_free(c2);
    dc_ctx_free(c);
}

static void loss_ops(float eps, float tol) {
    dc_loss_opts o = dc_loss_opts_default(), lg = o, sm = o, smlg = o;
    lg.from_logits = true;
    sm.label_smoothing = 0.2f;
    smlg.label_smoothing = 0.1f, smlg.from_logits = true;
    /* element-wise losses on [4, 3] */
    dc_tensor *z = rand_tensor(NS(4, 3), -3, 3), *yr = rand_tensor(NS(4, 3), -1, 1);
    dc_tensor *pr = rand_tensor(NS(4, 3), 0.05f, 0.95f), *y01 = dc_tensor_new(NS(4, 3));
    float *d01 = dc_tensor_data(y01);
    for (int i = 0; i < 12; i++) d01[i] = (float)(i % 3 == 0 || i % 5 == 0);
    loss_check("mse", DC_LOSS_MSE, o, z, yr, true, eps, tol);
    loss_check("mae", DC_LOSS_MAE, o, z, yr, true, 1e-3f, tol);
    dc_loss_opts hub = o;
    hub.delta = 0.7f; /* both branches: |z - y| ranges over [0, 4] */
    loss_check("huber", DC_LOSS_HUBER, hub, z, yr, true, 1e-3f, tol);
    loss_check("bce", DC_LOSS_BCE, o, pr, y01, true, 1e-3f, tol);
    loss_check("bce/logits", DC_LOSS_BCE, lg, z, y01, true, eps, tol);
    dc_loss_opts foc = o, foc_lg = lg, foc_g05 = o;
    foc_lg.gamma = 1.5f, foc_lg.alpha = -1; /* no alpha weighting */
    foc_g05.gamma = 0.5f, foc_g05.alpha = 0.6f;
    loss_check("focal", DC_LOSS_BINARY_FOCAL, foc, pr, y01, false, 1e-3f, tol);
    loss_check("focal/gamma0.5", DC_LOSS_BINARY_FOCAL, foc_g05, pr, y01, false, 1e-3f, tol);
    loss_check("focal/logits", DC_LOSS_BINARY_FOCAL, foc_lg, z, y01, false, eps, tol);
    loss_check("focal/logits-default", DC_LOSS_BINARY_FOCAL, lg, z, y01, false, eps, tol);
    /* hinge: labels {0, 1} (converted) and {-1, 1}; predictions away from the kink at y p = 1 */
    dc_tensor *hp = rand_tensor(NS(4, 3), -2, 2), *ypm = dc_tensor_new(NS(4, 3));
    float *hd = dc_tensor_data(hp), *pm = dc_tensor_data(ypm);
    for (int i = 0; i < 12; i++) {
        if (fabsf(fabsf(hd[i]) - 1) < 0.1f) hd[i] *= 1.3f;
        pm[i] = d01[i] ? 1.0f : -1.0f;
    }
    loss_check("hinge/01", DC_LOSS_HINGE, o, hp, y01, false, 1e-3f, tol);
    loss_check("hinge/pm1", DC_LOSS_HINGE, o, hp, ypm, false, 1e-3f, tol);
    loss_check("squared_hinge/01", DC_LOSS_SQUARED_HINGE, o, hp, y01, false, 1e-3f, tol);
    loss_check("squared_hinge/pm1", DC_LOSS_SQUARED_HINGE, o, hp, ypm, false, 1e-3f, tol);
    dc_tensor *rate = rand_tensor(NS(4, 3), 0.2f, 2.0f), *cnt = rand_tensor(NS(4, 3), 0, 3);
    loss_check("poisson", DC_LOSS_POISSON, o, rate, cnt, true, 1e-3f, tol);
    /* class-axis losses on [4, 3] and on [2, 3, 4] (three positions per row) */
    const int64_t shp[2][3] = {{4, 3, 0}, {2, 3, 4}};
    for (int s = 0; s < 2; s++) {
        int nd = s ? 3 : 2;
        int64_t K = shp[s][nd - 1];
        char nm[64];
        dc_tensor *zc = rand_tensor(nd, shp[s], -3, 3), *pc = rand_tensor(nd, shp[s], 0.05f, 0.9f);
        dc_tensor *soft = rand_tensor(nd, shp[s], 0.05f, 0.9f), *lab = dc_tensor_new(nd - 1, shp[s]);
        fill_labels(lab, (int)K);
#define LC(label, kind, opts, p, t, tg, e)                             \
    snprintf(nm, sizeof nm, "%s%s", label, s ? "/positions" : ""); \
    loss_check(nm, kind, opts, p, t, tg, e, tol)
        LC("cce", DC_LOSS_CCE, o, pc, soft, true, 1e-3f);
        LC("cce/smoothing", DC_LOSS_CCE, sm, pc, soft, true, 1e-3f);
        LC("cce/logits", DC_LOSS_CCE, lg, zc, soft, true, eps);
        LC("cce/logits-smoothing", DC_LOSS_CCE, smlg, zc, soft, true, eps);
        LC("sparse_cce", DC_LOSS_SPARSE_CCE, o, pc, lab, false, 1e-3f);
        LC("sparse_cce/smoothing", DC_LOSS_SPARSE_CCE, sm, pc, lab, false, 1e-3f);
        LC("sparse_cce/logits", DC_LOSS_SPARSE_CCE, lg, zc, lab, false, eps);
        LC("sparse_cce/logits-smoothing", DC_LOSS_SPARSE_CCE, smlg, zc, lab, false, eps);
        LC("nll", DC_LOSS_NLL, o, zc, lab, false, eps);
        LC("kld", DC_LOSS_KLD, o, pc, soft, true, 1e-3f);
        LC("cosine", DC_LOSS_COSINE, o, zc, soft, true, eps);
#undef LC
        dc_tensor_free(zc);
        dc_tensor_free(pc);
        dc_tensor_free(soft);
        dc_tensor_free(lab);
    }
    {   /* nll after log_softmax is the fused sparse cross-entropy */
        dc_tensor *lab = dc_tensor_from(NS(4), (const float[]){2, 0, 1, 2});
        dc_tensor *in[2] = {z, lab};
        gradcheck("nll/log_softmax", f_nll_logsoftmax, in, 2, (const bool[MAXIN]){true, false}, eps, tol);
        dc_tensor_free(lab);
    }
    /* freeing the target (and weights) between forward and backward */
    dc_tensor *lab4 = dc_tensor_from(NS(4), (const float[]){2, 0, 1, 2});
    loss_target_freed(DC_LOSS_MSE, o, z, yr);
    loss_target_freed(DC_LOSS_MAE, o, z, yr);
    loss_target_freed(DC_LOSS_HUBER, o, z, yr);
    loss_target_freed(DC_LOSS_BCE, o, pr, y01);
    loss_target_freed(DC_LOSS_BCE, lg, z, y01);
    loss_target_freed(DC_LOSS_CCE, o, pr, y01);
    loss_target_freed(DC_LOSS_CCE, smlg, z, y01);
    loss_target_freed(DC_LOSS_SPARSE_CCE, o, pr, lab4);
    loss_target_freed(DC_LOSS_SPARSE_CCE, lg, z, lab4);
    loss_target_freed(DC_LOSS_NLL, o, z, lab4);
    loss_target_freed(DC_LOSS_KLD, o, pr, pr);
    loss_target_freed(DC_LOSS_HINGE, o, hp, y01);
    loss_target_freed(DC_LOSS_SQUARED_HINGE, o, hp, ypm);
    loss_target_freed(DC_LOSS_BINARY_FOCAL, lg, z, y01);
    loss_target_freed(DC_LOSS_COSINE, o, z, yr);
    loss_target_freed(DC_LOSS_POISSON, o, rate, cnt);
    dc_tensor *all[] = {z, yr, pr, y01, hp, ypm, rate, cnt, lab4};
    for (size_t i = 0; i < DC_ARRAY_LEN(all); i++) dc_tensor_free(all[i]);
}

int main(void) {
    dc_rng_seed(&rng, 1234);
    nonfinite_exp();
    residual_layer_norm_equals_ops();
    const float eps = 1e-2f, tol = 3e-3f; /* worst seen: 4e-4 (squared_hinge), 3e-4 (div) */
    const bool T[MAXIN] = {true, true, true, true}, TF[MAXIN] = {true, false, false, false};
    struct {
        const char *name;
        op_fn f;
    } unary[] = {{"scale", f_scale}, {"add_scalar", f_adds}, {"neg", f_neg}, {"exp", f_exp}, {"square", f_square},
                 {"abs", f_abs}, {"sigmoid", f_sigmoid}, {"tanh", f_tanh}, {"relu", f_relu}, {"leaky_relu", f_leaky},
                 {"elu", f_elu}, {"softmax", f_softmax}, {"log_softmax", f_logsoftmax}, {"sum", f_sum}, {"mean", f_mean},
                 {"sum_axis", f_sum_axis}, {"mean_axis", f_mean_axis}, {"max_axis", f_max_axis}, {"gather_rows", f_gather},
                 {"slice", f_slice}, {"contiguous", f_contig}, {"dropout", f_dropout}};
    for (size_t i = 0; i < sizeof unary / sizeof unary[0]; i++) {
        dc_tensor *x = rand_nonzero(NS(3, 4));
        gradcheck(unary[i].name, unary[i].f, &x, 1, T, eps, tol);
        dc_tensor_free(x);
    }
    {
        dc_tensor *x = rand_tensor(NS(3, 4), 0.5f, 2.0f);
        gradcheck("log", f_log, &x, 1, T, 1e-3f, tol);
        gradcheck("sqrt", f_sqrt, &x, 1, T, 1e-3f, tol);
        dc_tensor_free(x);
    }
    {
        dc_tensor *x = rand_nonzero(NS(2, 3, 4));
        gradcheck("reshape", f_reshape, &x, 1, T, eps, tol);
        gradcheck("permute", f_permute, &x, 1, T, eps, tol);
        dc_tensor_free(x);
    }
    /* broadcasting binary ops: same shape, row vector, column vector, scalar-like */
    const int64_t bshapes[][3] = {{2, 3, 4}, {1, 1, 4}, {2, 3, 1}, {1, 1, 1}};
    struct {
        const char *name;
        op_fn f;
    } bin[] = {{"add", f_add}, {"sub", f_sub}, {"mul", f_mul}, {"div", f_div}};
    for (size_t i = 0; i < 4; i++)
        for (size_t s = 0; s < 4; s++) {
            dc_tensor *in[2] = {rand_nonzero(NS(2, 3, 4)), rand_tensor(3, bshapes[s], 0.5f, 1.5f)};
            char name[64];
            snprintf(name, sizeof name, "%s/bcast%zu", bin[i].name, s);
            gradcheck(name, bin[i].f, in, 2, T, eps, tol);
            /* swap: the broadcast operand first */
            dc_tensor *sw[2] = {in[1], in[0]};
            if (i != 3) {
                snprintf(name, sizeof name, "%s/bcast%zu-swap", bin[i].name, s);
                gradcheck(name, bin[i].f, sw, 2, T, eps, tol);
            }
            dc_tensor_free(in[0]);
            dc_tensor_free(in[1]);
        }
    {
        dc_tensor *in[2] = {rand_nonzero(NS(3, 4)), rand_nonzero(NS(4, 5))};
        gradcheck("matmul", f_matmul, in, 2, T, eps, tol);
        dc_tensor *t[2] = {rand_nonzero(NS(4, 3)), rand_nonzero(NS(5, 4))};
        gradcheck("matmul/transposed", f_matmul_t, t, 2, T, eps, tol);
        dc_tensor *b3[2] = {rand_nonzero(NS(2, 3, 4)), rand_nonzero(NS(2, 4, 5))};
        gradcheck("bmm", f_matmul, b3, 2, T, eps, tol);
        dc_tensor *bs[2] = {b3[0], in[1]};
        gradcheck("bmm/shared", f_matmul, bs, 2, T, eps, tol);
        for (int k = 0; k < 2; k++) {
            dc_tensor_free(in[k]);
            dc_tensor_free(t[k]);
            dc_tensor_free(b3[k]);
        }
    }
    {
        dc_tensor *in[3] = {rand_nonzero(NS(5, 4)), rand_nonzero(NS(3, 4)), rand_nonzero(NS(3))};
        gradcheck("linear", f_linear, in, 3, T, eps, tol);
        gradcheck("linear/nobias", f_linear_nobias, in, 2, T, eps, tol);
        dc_tensor *x3 = rand_nonzero(NS(2, 5, 4));
        dc_tensor *in3[3] = {x3, in[1], in[2]};
        gradcheck("linear/3d", f_linear, in3, 3, T, eps, tol);
        dc_tensor *ch[4] = {in[0], in[1], in[2], rand_nonzero(NS(3, 2))};
        gradcheck("mlp-chain", f_chain, ch, 4, T, eps, tol);
        dc_tensor_free(ch[3]);
        dc_tensor_free(x3);
        for (int k = 0; k < 3; k++) dc_tensor_free(in[k]);
    }
    {
        dc_tensor *in[3] = {rand_nonzero(NS(2, 3)), rand_nonzero(NS(2, 1)), rand_nonzero(NS(2, 4))};
        gradcheck("concat", f_concat, in, 3, T, eps, tol);
        for (int k = 0; k < 3; k++) dc_tensor_free(in[k]);
    }
    {
        dc_tensor *p = rand_nonzero(NS(4, 3)), *y = rand_tensor(NS(4, 3), -1, 1);
        dc_tensor *in[2] = {p, y};
        gradcheck("mse", f_mse, in, 2, T, eps, tol);
        gradcheck("mae", f_mae, in, 2, T, 1e-3f, tol);
        float *yd = dc_tensor_data(y);
        for (int i = 0; i < 12; i++) yd[i] = dc_rng_uniform(&rng) < 0.5f ? 0.0f : 1.0f;
        gradcheck("bce", f_bce, in, 2, TF, eps, tol);
        gradcheck("bce_with_logits", f_bce_logits, in, 2, TF, eps, tol);
        for (int r = 0; r < 4; r++)
            for (int k = 0; k < 3; k++) yd[r * 3 + k] = k == r % 3 ? 0.8f : 0.1f; /* soft targets */
        gradcheck("cce", f_cce, in, 2, TF, eps, tol);
        gradcheck("softmax_cce", f_softmax_cce, in, 2, TF, eps, tol);
        dc_tensor *lab = dc_tensor_from(NS(4), (const float[]){2, 0, 1, 2});
        dc_tensor *sp[2] = {p, lab};
        gradcheck("sparse_cce", f_sparse, sp, 2, TF, eps, tol);
        gradcheck("softmax_sparse_cce", f_softmax_sparse, sp, 2, TF, eps, tol);
        dc_tensor_free(lab);
        dc_tensor_free(p);
        dc_tensor_free(y);
    }
    image_ops(eps, tol);
    sequence_ops(eps, tol);
    recurrent_threads();
    transformer_ops(eps, tol);
    loss_ops(eps, tol);
    return check_report("test_autograd");
}
