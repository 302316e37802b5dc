/* Recurrent cells over whole sequences, x [N, T, F] batch first, as fused ops: the input
 * projection of every step is one GEMM (rows ordered time-major, [T, N, .], so each step's
 * rows are contiguous), each step adds h_{t-1} . W_hh^T with one GEMM, and backpropagation
 * through time gathers every step's gate gradients so the weight gradients are again one
 * GEMM each.
 *
 * The recurrence itself runs in parallel over chunks of the batch: every thread takes its rows
 * through all T steps with single-threaded GEMMs, so the steps need no synchronisation.
 *
 * mask (optional, [N, T], 1 = a real step): at a masked step a sequence keeps its state and
 * repeats its previous output, as Keras's masking does; so y[:, T-1] is every sequence's final
 * state whether it was padded at the front or at the back. */
#include "ops.h"

#include <math.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

enum { CELL_RNN, CELL_LSTM, CELL_GRU };

typedef struct rnn_saved {
    int cell;
    dc_activation act; /* SimpleRNN only */
    int64_t N, T, F, H, G; /* G = gates per step: H, 4H or 3H */
    float *xt;    /* [T, N, F] time-major input */
    float *gates; /* [T, N, G] activated gates (GRU: r, z, n) */
    float *hs;    /* [T + 1, N, H], hs[0] = h0 */
    float *cs;    /* LSTM: [T + 1, N, H], cs[0] = c0 */
    float *hn;    /* GRU: [T, N, H] h W_hn + b_hn */
    const uint8_t *mask;
    bool c_out;   /* LSTM: the output holds the final cell state after y (dc_lstm_states) */
} rnn_saved;


static bool step_on(const rnn_saved *s, int64_t n, int64_t t) { return !s->mask || s->mask[n * s->T + t]; }

/* Row chunks for the recurrence, each a run of independent sequences through every step: as
 * many as the configured thread count (not the team's size, so each chunk's GEMMs, and their
 * bits, are the same on any team) when the batch and the per-step GEMM are big enough to pay
 * for a parallel region. */
static int chunks(int64_t N, int64_t gemm_work) {
    int T = dc_get_threads();
    if (T > N / 4) T = (int)(N / 4);
    return (T > 1 && N * gemm_work >= (1 << 16)) ? T : 1;
}

/* [N, T, W] <-> [T, N, W] */
static void to_time_major(const float *src, float *dst, int64_t N, int64_t T, int64_t W) {
    for (int64_t n = 0; n < N; n++)
        for (int64_t t = 0; t < T; t++) memcpy(dst + (t * N + n) * W, src + (n * T + t) * W, (size_t)W * sizeof(float));
}
DC_CLONES static void to_batch_major_add(const float *src, float *dst, int64_t N, int64_t T, int64_t W) {
    for (int64_t n = 0; n < N; n++)
        for (int64_t t = 0; t < T; t++) {
            const float *s = src + (t * N + n) * W;
            float *d = dst + (n * T + t) * W;
            for (int64_t j = 0; j < W; j++) d[j] += s[j];
        }
}

/* One step's gates from pre-activations z [N, G] (input projection + recurrent part). */
DC_CLONES static void cell_step(rnn_saved *s, int64_t t, float *z, const float *hh /* GRU: h W_hh^T + b_hh */, int64_t n0,
                                int64_t n1) {
    int64_t N = s->N, H = s->H, G = s->G;
    const float *hp = s->hs + t * N * H;
    float *h = s->hs + (t + 1) * N * H;
    for (int64_t n = n0; n < n1; n++) {
        float *zr = z + n * G, *hr = h + n * H;
        const float *hpr = hp + n * H;
        if (!step_on(s, n, t)) {
            memcpy(hr, hpr, (size_t)H * sizeof(float));
            if (s->cell == CELL_LSTM) memcpy(s->cs + ((t + 1) * N + n) * H, s->cs + (t * N + n) * H, (size_t)H * sizeof(float));
            memset(zr, 0, (size_t)G * sizeof(float));
            continue;
        }
        if (s->cell == CELL_RNN) {
            dc_k_act_forward(s->act, 0, zr, zr, H);
            memcpy(hr, zr, (size_t)H * sizeof(float));
        } else if (s->cell == CELL_LSTM) {
            const float *cp = s->cs + (t * N + n) * H;
            float *c = s->cs + ((t + 1) * N + n) * H;
#pragma omp simd
            for (int64_t j = 0; j < H; j++) {
                float i = dc_fast_sigmoid(zr[j]), f = dc_fast_sigmoid(zr[H + j]), g = dc_fast_tanh(zr[2 * H + j]), o = dc_fast_sigmoid(zr[3 * H + j]);
                zr[j] = i;
                zr[H + j] = f;
                zr[2 * H + j] = g;
                zr[3 * H + j] = o;
                c[j] = f * cp[j] + i * g;
                hr[j] = o * dc_fast_tanh(c[j]);
            }
        } else {
            const float *hhr = hh + n * G;
            float *hnr = s->hn + (t * N + n) * H;
#pragma omp simd
            for (int64_t j = 0; j < H; j++) {
                float r = dc_fast_sigmoid(zr[j] + hhr[j]), zz = dc_fast_sigmoid(zr[H + j] + hhr[H + j]);
                hnr[j] = hhr[2 * H + j];
                float nn = dc_fast_tanh(zr[2 * H + j] + r * hnr[j]);
                zr[j] = r;
                zr[H + j] = zz;
                zr[2 * H + j] = nn;
                hr[j] = (1 - zz) * nn + zz * hpr[j];
            }
        }
    }
}

/* The step product of a batch chunk, C[rows, :] = A . op(W_hh) + beta C (+ bias): through the
 * own GEMM when the whole batch's product takes it (so that every chunk a thread count makes
 * sums in the same order: the same bits on any team), with W_hh packed once for the forward's
 * steps (P), else dc_k_gemm. */
static void step_product(bool own, bool tb, int64_t rows, int64_t N, int64_t K, const float *A, const float *W, const float *P,
                         float beta, float *C, const float *bias) {
    if (own && P)
        dc_k_sgemm_packed(false, rows, K, 1, A, K, P, 0, N, beta, C, N, bias);
    else if (own)
        dc_k_sgemm_own(false, tb, rows, N, K, 1, A, K, W, tb ? K : N, beta, C, N, bias);
    else
        dc_k_gemm_bias(false, tb, rows, N, K, 1, A, K, W, tb ? K : N, beta, C, N, bias, false);
}

DC_CLONES static void rnn_backward(dc_ctx *c, dc_node *nd) {
    rnn_saved *s = nd->saved;
    dc_tensor *x = nd->in[0], *Wih = nd->in[1], *Whh = nd->in[2], *b = nd->in[3];
    dc_tensor *h0 = NULL;
    int64_t N = s->N, T = s->T, F = s->F, H = s->H, G = s->G;
    /* inputs: x, W_ih, W_hh, b (GRU: b_ih), then extra: GRU b_hh; h0; c0 are found by role */
    dc_tensor *bhh = NULL, *c0 = NULL;
    int k = 4;
    if (s->cell == CELL_GRU) bhh = nd->in[k++];
    if (k < nd->nin) h0 = nd->in[k++];
    if (s->cell == CELL_LSTM && k < nd->nin) c0 = nd->in[k++];
    float *gx = dc_grad_buf(c, x), *gWih = dc_grad_buf(c, Wih), *gWhh = dc_grad_buf(c, Whh);
    float *gb = b ? dc_grad_buf(c, b) : NULL, *gbhh = bhh ? dc_grad_buf(c, bhh) : NULL;
    float *gh0 = h0 ? dc_grad_buf(c, h0) : NULL, *gc0 = c0 ? dc_grad_buf(c, c0) : NULL;
    float *dy = dc_scratch(c, (size_t)(T * N * H) * sizeof(float));
    float *dZ = dc_scratch(c, (size_t)(T * N * G) * sizeof(float));    /* input-side pre-activation grads */
    float *dHW = s->cell == CELL_GRU ? dc_scratch(c, (size_t)(T * N * G) * sizeof(float)) : dZ;
    float *dh = dc_scratch(c, (size_t)(N * H) * sizeof(float)), *tmp = dc_scratch(c, (size_t)(N * H) * sizeof(float));
    float *dcell = dc_scratch(c, (size_t)(N * H) * sizeof(float));
    if (!dy || !dZ || !dHW || !dh || !tmp || !dcell) {
        c->oom = true;
        return;
    }
    to_time_major(nd->out->grad->data, dy, N, T, H);
    memset(dh, 0, (size_t)(N * H) * sizeof(float));
    const bool own_bwd = dc_k_sgemm_own_applies(false, N, H, G);
    /* the final cell state's gradient, when it is an output, starts the cell's chain */
    if (s->c_out) memcpy(dcell, nd->out->grad->data + T * N * H, (size_t)(N * H) * sizeof(float));
    else memset(dcell, 0, (size_t)(N * H) * sizeof(float));
    const int nt = chunks(N, G * H);
#pragma omp parallel for schedule(static) if (nt > 1)
    for (int ck = 0; ck < nt; ck++) {
        const int64_t n0 = N * ck / nt, n1 = N * (ck + 1) / nt;
    for (int64_t t = T - 1; t >= 0; t--) {
        const float *gates = s->gates + t * N * G, *hp = s->hs + t * N * H, *h = s->hs + (t + 1) * N * H;
        float *dz = dZ + t * N * G, *dhw = dHW + t * N * G;
        for (int64_t n = n0; n < n1; n++) {
            float *dhr = dh + n * H;
            const float *dyr = dy + (t * N + n) * H;
            for (int64_t j = 0; j < H; j++) dhr[j] += dyr[j];
            float *dzr = dz + n * G, *dhwr = dhw + n * G;
            if (!step_on(s, n, t)) {
                memset(dzr, 0, (size_t)G * sizeof(float));
                if (dhw != dz) memset(dhwr, 0, (size_t)G * sizeof(float));
                continue;
            }
            const float *gr = gates + n * G;
            if (s->cell == CELL_RNN) {
                dc_k_act_backward(s->act, 0, h + n * H, h + n * H, dhr, dzr, H, false);
            } else if (s->cell == CELL_LSTM) {
                const float *cp = s->cs + (t * N + n) * H, *cc = s->cs + ((t + 1) * N + n) * H;
                float *dcr = dcell + n * H;
#pragma omp simd
                for (int64_t j = 0; j < H; j++) {
                    float i = gr[j], f = gr[H + j], g = gr[2 * H + j], o = gr[3 * H + j], tc = dc_fast_tanh(cc[j]);
                    float dcj = dcr[j] + dhr[j] * o * (1 - tc * tc);
                    dzr[j] = dcj * g * i * (1 - i);
                    dzr[H + j] = dcj * cp[j] * f * (1 - f);
                    dzr[2 * H + j] = dcj * i * (1 - g * g);
                    dzr[3 * H + j] = dhr[j] * tc * o * (1 - o);
                    dcr[j] = dcj * f;
                }
            } else {
                const float *hnr = s->hn + (t * N + n) * H, *hpr = hp + n * H;
#pragma omp simd
                for (int64_t j = 0; j < H; j++) {
                    float r = gr[j], zz = gr[H + j], nn = gr[2 * H + j], d = dhr[j];
                    float dnp = d * (1 - zz) * (1 - nn * nn);
                    float dr = dnp * hnr[j] * r * (1 - r), dzz = d * (hpr[j] - nn) * zz * (1 - zz);
                    dzr[j] = dhwr[j] = dr;
                    dzr[H + j] = dhwr[H + j] = dzz;
                    dzr[2 * H + j] = dnp;
                    dhwr[2 * H + j] = dnp * r;
                    tmp[n * H + j] = d * zz; /* the direct path z * h_{t-1} */
                }
            }
        }
        /* dh_{t-1} = dHW_t . W_hh for real steps; carried unchanged for masked ones */
        if (n1 > n0)
            step_product(own_bwd, false, n1 - n0, H, G, dhw + n0 * G, Whh->data, NULL, s->cell == CELL_GRU ? 1.0f : 0.0f,
                         tmp + n0 * H, NULL);
        for (int64_t n = n0; n < n1; n++)
            if (step_on(s, n, t)) memcpy(dh + n * H, tmp + n * H, (size_t)H * sizeof(float));
    }
    }
    if (gh0)
        for (int64_t i = 0; i < N * H; i++) gh0[i] += dh[i];
    if (gc0)
        for (int64_t i = 0; i < N * H; i++) gc0[i] += dcell[i];
    /* weight gradients: one GEMM each over all T*N rows */
    if (gWhh) dc_k_gemm(true, false, G, H, T * N, 1, dHW, G, s->hs, H, 1, gWhh, H);
    if (gWih) dc_k_gemm(true, false, G, F, T * N, 1, dZ, G, s->xt, F, 1, gWih, F);
    for (int64_t r = 0; r < T * N; r++) {
        if (gb)
            for (int64_t j = 0; j < G; j++) gb[j] += dZ[r * G + j];
        if (gbhh)
            for (int64_t j = 0; j < G; j++) gbhh[j] += dHW[r * G + j];
    }
    if (gx) {
        float *dxt = dc_scratch(c, (size_t)(T * N * F) * sizeof(float));
        if (!dxt) {
            c->oom = true;
            return;
        }
        dc_k_gemm(false, false, T * N, F, G, 1, dZ, G, Wih->data, F, 0, dxt, F);
        to_batch_major_add(dxt, gx, N, T, F);
    }
}

static bool vec_ok(const char *op, const char *what, const dc_tensor *v, int nd, int64_t d0, int64_t d1) {
    if (!v) return true;
    bool ok = v->ndim == nd && v->shape[0] == d0 && (nd == 1 || v->shape[1] == d1);
    if (!ok) {
        char want[64];
        if (nd == 1) snprintf(want, sizeof want, "[%lld]", (long long)d0);
        else snprintf(want, sizeof want, "[%lld, %lld]", (long long)d0, (long long)d1);
        dc_error(DC_ERR_SHAPE, "%s: %s must be %s, got %s", op, what, want, dc_tshape(v, 0));
    }
    return ok;
}

/* The cell over the sequence; y [N, T, H], or with c_out (LSTM) a flat [N*T*H + N*H]: y, then the
 * cell state after each sequence's last real step. */
static dc_tensor *recurrent(dc_ctx *c, int cell, const char *op, dc_tensor *x, dc_tensor *Wih, dc_tensor *Whh, dc_tensor *b,
                            dc_tensor *bhh, dc_tensor *h0, dc_tensor *c0, dc_activation act, const uint8_t *mask, bool c_out) {
    DC_CHECK_ARGS(c, op, x, Wih, Whh);
    if (x->ndim != 3) return dc_error_null(DC_ERR_SHAPE, "%s: expected input [N, T, features], got %s", op, dc_tshape(x, 0));
    int64_t N = x->shape[0], T = x->shape[1], F = x->shape[2];
    int64_t k = cell == CELL_LSTM ? 4 : cell == CELL_GRU ? 3 : 1;
    if (Whh->ndim != 2 || Whh->shape[0] % k || Whh->shape[0] / k != Whh->shape[1] || Whh->shape[1] == 0)
        return dc_error_null(DC_ERR_SHAPE, "%s: W_hh must be [%lld*H, H], got %s", op, (long long)k, dc_tshape(Whh, 0));
    int64_t H = Whh->shape[1], G = k * H;
    if (!vec_ok(op, "W_ih", Wih, 2, G, F) || !vec_ok(op, "bias", b, 1, G, 0) || !vec_ok(op, "b_hh", bhh, 1, G, 0) ||
        !vec_ok(op, "h0", h0, 2, N, H) || !vec_ok(op, "c0", c0, 2, N, H))
        return NULL;
    if (T == 0 || N == 0) return dc_error_null(DC_ERR_SHAPE, "%s: empty input %s", op, dc_tshape(x, 0));
    dc_tensor *ins[] = {x, Wih, Whh, b, bhh, h0, c0};
    for (int i = 0; i < 7; i++)
        if (ins[i] && !(ins[i] = dc_contig(c, ins[i]))) return NULL;
    x = ins[0];
    Wih = ins[1];
    Whh = ins[2];
    b = ins[3];
    bhh = ins[4];
    h0 = ins[5];
    c0 = ins[6];
    rnn_saved *s = dc_scratch(c, sizeof *s);
    if (!s) return NULL;
    *s = (rnn_saved){cell, act, N, T, F, H, G, NULL, NULL, NULL, NULL, NULL, mask, c_out};
    s->xt = dc_scratch(c, (size_t)(T * N * F) * sizeof(float));
    s->gates = dc_scratch(c, (size_t)(T * N * G) * sizeof(float));
    s->hs = dc_scratch(c, (size_t)((T + 1) * N * H) * sizeof(float));
    if (cell == CELL_LSTM) s->cs = dc_scratch(c, (size_t)((T + 1) * N * H) * sizeof(float));
    if (cell == CELL_GRU) s->hn = dc_scratch(c, (size_t)(T * N * H) * sizeof(float));
    float *hh = cell == CELL_GRU ? dc_scratch(c, (size_t)(N * G) * sizeof(float)) : NULL;
    if (mask) {
        uint8_t *mcopy = dc_scratch(c, (size_t)(N * T));
        if (!mcopy) return NULL;
        memcpy(mcopy, mask, (size_t)(N * T));
        s->mask = mcopy;
    }
    dc_tensor *y = c_out ? dc_out(c, 1, (int64_t[]){N * T * H + N * H}) : dc_out(c, 3, (int64_t[]){N, T, H});
    if (!s->xt || !s->gates || !s->hs || (cell == CELL_LSTM && !s->cs) || (cell == CELL_GRU && (!s->hn || !hh)) || !y)
        return NULL;
    to_time_major(x->data, s->xt, N, T, F);
    if (h0) memcpy(s->hs, h0->data, (size_t)(N * H) * sizeof(float));
    else memset(s->hs, 0, (size_t)(N * H) * sizeof(float));
    if (cell == CELL_LSTM) {
        if (c0) memcpy(s->cs, c0->data, (size_t)(N * H) * sizeof(float));
        else memset(s->cs, 0, (size_t)(N * H) * sizeof(float));
    }
    /* input projection of every step at once: gates[T*N, G] = xt . W_ih^T + b */
    dc_k_gemm_bias(false, true, T * N, G, F, 1, s->xt, F, Wih->data, F, 0, s->gates, G, b ? b->data : NULL, false);
    /* W_hh^T packed once for every step's product */
    const bool own = dc_k_sgemm_own_applies(false, N, G, H);
    float *whp = NULL;
    if (own) {
        char *raw = dc_scratch(c, dc_k_sgemm_packed_size(G, H) + 64);
        if (!raw) return NULL;
        whp = (float *)(((uintptr_t)raw + 63) & ~(uintptr_t)63);
        dc_k_sgemm_pack_b(G, H, Whh->data, H, whp);
    }
    const int nt = chunks(N, G * H);
#pragma omp parallel for schedule(static) if (nt > 1)
    for (int ck = 0; ck < nt; ck++) {
        const int64_t n0 = N * ck / nt, n1 = N * (ck + 1) / nt;
        for (int64_t t = 0; t < T; t++) {
            float *z = s->gates + t * N * G + n0 * G;
            const float *hp = s->hs + t * N * H + n0 * H;
            if (n1 > n0) {
                if (cell == CELL_GRU)
                    step_product(own, true, n1 - n0, G, H, hp, Whh->data, whp, 0, hh + n0 * G, bhh ? bhh->data : NULL);
                else
                    step_product(own, true, n1 - n0, G, H, hp, Whh->data, whp, 1, z, NULL);
            }
            cell_step(s, t, s->gates + t * N * G, hh, n0, n1);
        }
    }
    for (int64_t n = 0; n < N; n++)
        for (int64_t t = 0; t < T; t++)
            memcpy(y->data + (n * T + t) * H, s->hs + ((t + 1) * N + n) * H, (size_t)H * sizeof(float));
    if (c_out) memcpy(y->data + N * T * H, s->cs + T * N * H, (size_t)(N * H) * sizeof(float));
    dc_tensor *in[DC_NODE_MAX_IN];
    int nin = 0;
    in[nin++] = x;
    in[nin++] = Wih;
    in[nin++] = Whh;
    in[nin++] = b;
    if (cell == CELL_GRU) in[nin++] = bhh;
    if (h0 || c0) in[nin++] = h0;
    if (c0) in[nin++] = c0;
    if (dc_needs_grad(c, nin, in)) {
        dc_node *n = dc_record(c, op, rnn_backward, y, nin, in);
        if (!n) return NULL;
        n->saved = s;
    }
    return y;
}

dc_tensor *dc_simple_rnn(dc_ctx *c, dc_tensor *x, dc_tensor *W_ih, dc_tensor *W_hh, dc_tensor *b, dc_tensor *h0,
                         dc_activation act, const uint8_t *mask) {
    if (act != DC_ACT_TANH && act != DC_ACT_RELU && act != DC_ACT_SIGMOID && act != DC_ACT_NONE)
        return dc_error_null(DC_ERR_ARG, "simple_rnn: activation %s is not supported (tanh, relu, sigmoid or linear)",
                             dc_activation_name(act));
    return recurrent(c, CELL_RNN, "simple_rnn", x, W_ih, W_hh, b, NULL, h0, NULL, act, mask, false);
}

dc_tensor *dc_lstm(dc_ctx *c, dc_tensor *x, dc_tensor *W_ih, dc_tensor *W_hh, dc_tensor *b, dc_tensor *h0, dc_tensor *c0,
                   const uint8_t *mask) {
    return recurrent(c, CELL_LSTM, "lstm", x, W_ih, W_hh, b, NULL, h0, c0, DC_ACT_NONE, mask, false);
}

dc_tensor *dc_lstm_states(dc_ctx *c, dc_tensor *x, dc_tensor *W_ih, dc_tensor *W_hh, dc_tensor *b, dc_tensor *h0, dc_tensor *c0,
                          const uint8_t *mask, dc_tensor **h_n, dc_tensor **c_n) {
    if (h_n) *h_n = NULL;
    if (c_n) *c_n = NULL;
    /* one recorded op whose output is y and the final cell state side by side; both are views of it */
    dc_tensor *all = recurrent(c, CELL_LSTM, "lstm", x, W_ih, W_hh, b, NULL, h0, c0, DC_ACT_NONE, mask, c_n != NULL);
    if (!all) return NULL;
    dc_tensor *y = all, *cn = NULL;
    if (c_n) {
        int64_t N = x->shape[0], T = x->shape[1], H = W_hh->shape[1];
        y = dc_reshape(c, dc_slice(c, all, 0, 0, N * T * H), 3, (int64_t[]){N, T, H});
        cn = dc_reshape(c, dc_slice(c, all, 0, N * T * H, N * T * H + N * H), 2, (int64_t[]){N, H});
        if (!y || !cn) return NULL;
    }
    /* a masked step repeats the state before it, so y's last step is the last real step's h */
    if (h_n && !(*h_n = dc_last_step(c, y))) return NULL;
    if (c_n) *c_n = cn;
    return y;
}

dc_tensor *dc_gru(dc_ctx *c, dc_tensor *x, dc_tensor *W_ih, dc_tensor *W_hh, dc_tensor *b_ih, dc_tensor *b_hh, dc_tensor *h0,
                  const uint8_t *mask) {
    return recurrent(c, CELL_GRU, "gru", x, W_ih, W_hh, b_ih, b_hh, h0, NULL, DC_ACT_NONE, mask, false);
}
