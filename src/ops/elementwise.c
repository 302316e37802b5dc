/* Element-wise ops: broadcasting binary ops, scalar ops, unary maths and activations. */
#include "ops.h"

#include <math.h>
#include <string.h>

enum { OP_ADD, OP_SUB, OP_MUL, OP_DIV };
static const char *const bin_names[] = {"add", "sub", "mul", "div"};

/* Broadcast shape of a and b (NumPy rules); strides of each operand over that shape
 * (0 on broadcast axes), taken from the operand's own strides so views work. */
typedef struct bcast {
    int nd;
    int64_t shape[DC_MAX_DIMS];
    int64_t sa[DC_MAX_DIMS], sb[DC_MAX_DIMS]; /* operand strides */
    int64_t ga[DC_MAX_DIMS], gb[DC_MAX_DIMS]; /* strides into the operands' contiguous grads */
} bcast;

static dc_status broadcast(const char *op, const dc_tensor *a, const dc_tensor *b, bcast *r) {
    int nd = a->ndim > b->ndim ? a->ndim : b->ndim;
    r->nd = nd;
    int64_t gsa = 1, gsb = 1;
    for (int i = nd - 1; i >= 0; i--) {
        int ia = i - (nd - a->ndim), ib = i - (nd - b->ndim);
        int64_t da = ia >= 0 ? a->shape[ia] : 1, db = ib >= 0 ? b->shape[ib] : 1;
        if (da != db && da != 1 && db != 1)
            return dc_error(DC_ERR_SHAPE, "%s: shapes %s and %s cannot be broadcast (axis %d: %lld vs %lld)", op,
                            dc_tshape(a, 0), dc_tshape(b, 1), i, (long long)da, (long long)db);
        r->shape[i] = da > db ? da : db;
        if (da == 0 || db == 0) r->shape[i] = 0;
        r->sa[i] = (ia >= 0 && da != 1) ? a->stride[ia] : 0;
        r->sb[i] = (ib >= 0 && db != 1) ? b->stride[ib] : 0;
        r->ga[i] = da != 1 ? gsa : 0;
        r->gb[i] = db != 1 ? gsb : 0;
        gsa *= da;
        gsb *= db;
    }
    return DC_OK;
}

/* y[j] = a[j sa] op b[j sb] for j < n, with the operator and the common strides (1, or 0 for a
 * broadcast operand) decided outside the loops, so that each loop vectorises in whichever
 * clone of binary() inlines it. */
#define BIN_LOOPS(EXPR)                                                                            \
    do {                                                                                           \
        if (sa == 1 && sb == 1) {                                                                  \
            _Pragma("omp simd") for (int64_t j = 0; j < n; j++) {                                  \
                const float x = a[j], z = b[j];                                                    \
                y[j] = EXPR;                                                                       \
            }                                                                                      \
        } else if (sa == 1 && sb == 0) {                                                           \
            const float z = b[0];                                                                  \
            _Pragma("omp simd") for (int64_t j = 0; j < n; j++) {                                  \
                const float x = a[j];                                                              \
                y[j] = EXPR;                                                                       \
            }                                                                                      \
        } else if (sa == 0 && sb == 1) {                                                           \
            const float x = a[0];                                                                  \
            _Pragma("omp simd") for (int64_t j = 0; j < n; j++) {                                  \
                const float z = b[j];                                                              \
                y[j] = EXPR;                                                                       \
            }                                                                                      \
        } else {                                                                                   \
            for (int64_t j = 0; j < n; j++) {                                                      \
                const float x = a[j * sa], z = b[j * sb];                                          \
                y[j] = EXPR;                                                                       \
            }                                                                                      \
        }                                                                                          \
    } while (0)
DC_INLINE void bin_row(int op, float *y, const float *a, int64_t sa, const float *b, int64_t sb, int64_t n) {
    switch (op) {
    case OP_ADD: BIN_LOOPS(x + z); break;
    case OP_SUB: BIN_LOOPS(x - z); break;
    case OP_MUL: BIN_LOOPS(x * z); break;
    default: BIN_LOOPS(x / z); break;
    }
}

/* Walks the broadcast shape row by row (innermost axis is the row). */
#define BCAST_LOOP(r, numel, ...)                                                      \
    do {                                                                               \
        int64_t _idx[DC_MAX_DIMS] = {0};                                               \
        int _nd = (r)->nd;                                                             \
        int64_t inner = (r)->shape[_nd - 1];                                           \
        int64_t outer = inner ? (numel) / inner : 0;                                   \
        for (int64_t o = 0; o < outer; o++) {                                          \
            int64_t oa = 0, ob = 0, oga = 0, ogb = 0;                                  \
            for (int _d = 0; _d < _nd - 1; _d++) {                                     \
                oa += _idx[_d] * (r)->sa[_d];                                          \
                ob += _idx[_d] * (r)->sb[_d];                                          \
                oga += _idx[_d] * (r)->ga[_d];                                         \
                ogb += _idx[_d] * (r)->gb[_d];                                         \
            }                                                                          \
            int64_t sai = (r)->sa[_nd - 1], sbi = (r)->sb[_nd - 1];                    \
            int64_t gai = (r)->ga[_nd - 1], gbi = (r)->gb[_nd - 1];                    \
            __VA_ARGS__;                                                                   \
            for (int _d = _nd - 2; _d >= 0 && ++_idx[_d] == (r)->shape[_d]; _d--)      \
                _idx[_d] = 0;                                                          \
        }                                                                              \
    } while (0)

DC_CLONES static void binary_backward(dc_ctx *c, dc_node *n) {
    int op = (int)n->i[0];
    bcast *r = n->saved;
    dc_tensor *a = n->in[0], *b = n->in[1];
    const float *g = n->out->grad->data, *A = a->data, *B = b->data;
    int64_t N = n->out->numel;
    if (dc_same_shape(a, b) && dc_tensor_is_contiguous(a) && dc_tensor_is_contiguous(b) && a != b) {
        /* every element of both gradients is written: a fresh one is stored, not zeroed first */
        bool fa, fb;
        float *ga = dc_grad_buf_w(c, a, &fa), *gb = dc_grad_buf_w(c, b, &fb);
        if (ga && fa) DC_FOR(i, N, ga[i] = op == OP_MUL ? g[i] * B[i] : op == OP_DIV ? g[i] / B[i] : g[i];);
        else if (ga) DC_FOR(i, N, ga[i] += op == OP_MUL ? g[i] * B[i] : op == OP_DIV ? g[i] / B[i] : g[i];);
        if (gb && fb)
            DC_FOR(i, N, gb[i] = op == OP_ADD ? g[i] : op == OP_SUB ? -g[i] : op == OP_MUL ? g[i] * A[i] : -g[i] * A[i] / (B[i] * B[i]););
        else if (gb)
            DC_FOR(i, N, gb[i] += op == OP_ADD ? g[i] : op == OP_SUB ? -g[i] : op == OP_MUL ? g[i] * A[i] : -g[i] * A[i] / (B[i] * B[i]););
        return;
    }
    float *ga = dc_grad_buf(c, a), *gb = dc_grad_buf(c, b);
    BCAST_LOOP(r, N, {
        const float *gr = g + o * inner;
        for (int64_t j = 0; j < inner; j++) {
            float av = A[oa + j * sai], bv = B[ob + j * sbi], gv = gr[j];
            if (ga) {
                float d = op == OP_MUL ? gv * bv : op == OP_DIV ? gv / bv : gv;
                ga[oga + j * gai] += d;
            }
            if (gb) {
                float d = op == OP_ADD ? gv : op == OP_SUB ? -gv : op == OP_MUL ? gv * av : -gv * av / (bv * bv);
                gb[ogb + j * gbi] += d;
            }
        }
    });
}

DC_CLONES static dc_tensor *binary(dc_ctx *c, int op, dc_tensor *a, dc_tensor *b) {
    DC_CHECK_ARGS(c, bin_names[op], a, b);
    bcast r;
    bool need = DC_NEEDS2(c, a, b);
    bcast *rp = need ? dc_scratch(c, sizeof r) : &r;
    if (!rp || broadcast(bin_names[op], a, b, rp)) return NULL;
    dc_tensor *y = dc_out(c, rp->nd, rp->shape);
    if (!y) return NULL;
    const float *A = a->data, *B = b->data;
    float *Y = y->data;
    if (dc_same_shape(a, b) && dc_tensor_is_contiguous(a) && dc_tensor_is_contiguous(b)) {
        const int64_t N = y->numel;
        switch (op) {
        case OP_ADD: DC_FOR(i, N, Y[i] = A[i] + B[i];); break;
        case OP_SUB: DC_FOR(i, N, Y[i] = A[i] - B[i];); break;
        case OP_MUL: DC_FOR(i, N, Y[i] = A[i] * B[i];); break;
        default: DC_FOR(i, N, Y[i] = A[i] / B[i];); break;
        }
    } else {
        BCAST_LOOP(rp, y->numel, {
            bin_row(op, Y + o * inner, A + oa, sai, B + ob, sbi, inner);
            (void)oga;
            (void)ogb;
            (void)gai;
            (void)gbi;
        });
    }
    if (need) {
        dc_node *n = DC_RECORD2(c, bin_names[op], binary_backward, y, a, b);
        if (!n) return NULL;
        n->i[0] = op;
        n->saved = rp;
    }
    return y;
}

dc_tensor *dc_add(dc_ctx *c, dc_tensor *a, dc_tensor *b) { return binary(c, OP_ADD, a, b); }
dc_tensor *dc_sub(dc_ctx *c, dc_tensor *a, dc_tensor *b) { return binary(c, OP_SUB, a, b); }
dc_tensor *dc_mul(dc_ctx *c, dc_tensor *a, dc_tensor *b) { return binary(c, OP_MUL, a, b); }
dc_tensor *dc_div(dc_ctx *c, dc_tensor *a, dc_tensor *b) { return binary(c, OP_DIV, a, b); }

/* ---- unary maths: y = f(x), gx += g * f'(x) ---- */
enum { U_NEG, U_EXP, U_LOG, U_SQRT, U_SQUARE, U_ABS, U_SCALE, U_ADDS };
static const char *const un_names[] = {"neg", "exp", "log", "sqrt", "square", "abs", "scale", "add_scalar"};

DC_CLONES static void unary_backward(dc_ctx *c, dc_node *n) {
    float *gx = dc_grad_buf(c, n->in[0]);
    if (!gx) return;
    const float *x = n->in[0]->data, *y = n->out->data, *g = n->out->grad->data;
    float s = n->f[0];
    int64_t N = n->out->numel;
    switch ((int)n->i[0]) {
    case U_NEG: for (int64_t i = 0; i < N; i++) gx[i] -= g[i]; break;
    case U_EXP: for (int64_t i = 0; i < N; i++) gx[i] += g[i] * y[i]; break;
    case U_LOG: for (int64_t i = 0; i < N; i++) gx[i] += g[i] / x[i]; break;
    case U_SQRT: for (int64_t i = 0; i < N; i++) gx[i] += g[i] * 0.5f / y[i]; break;
    case U_SQUARE: for (int64_t i = 0; i < N; i++) gx[i] += g[i] * 2.0f * x[i]; break;
    case U_ABS: for (int64_t i = 0; i < N; i++) gx[i] += x[i] > 0 ? g[i] : x[i] < 0 ? -g[i] : 0; break;
    case U_SCALE: for (int64_t i = 0; i < N; i++) gx[i] += g[i] * s; break;
    default: for (int64_t i = 0; i < N; i++) gx[i] += g[i]; break;
    }
}

DC_CLONES static dc_tensor *unary(dc_ctx *c, int op, dc_tensor *x, float s) {
    DC_CHECK_ARGS(c, un_names[op], x);
    x = dc_contig(c, x);
    if (!x) return NULL;
    dc_tensor *y = dc_out(c, x->ndim, x->shape);
    if (!y) return NULL;
    const float *X = x->data;
    float *Y = y->data;
    int64_t N = x->numel;
    switch (op) {
    case U_NEG: for (int64_t i = 0; i < N; i++) Y[i] = -X[i]; break;
    case U_EXP: for (int64_t i = 0; i < N; i++) Y[i] = expf(X[i]); break;
    case U_LOG: for (int64_t i = 0; i < N; i++) Y[i] = logf(X[i]); break;
    case U_SQRT: for (int64_t i = 0; i < N; i++) Y[i] = sqrtf(X[i]); break;
    case U_SQUARE: for (int64_t i = 0; i < N; i++) Y[i] = X[i] * X[i]; break;
    case U_ABS: for (int64_t i = 0; i < N; i++) Y[i] = fabsf(X[i]); break;
    case U_SCALE: for (int64_t i = 0; i < N; i++) Y[i] = s * X[i]; break;
    default: for (int64_t i = 0; i < N; i++) Y[i] = X[i] + s; break;
    }
    if (DC_NEEDS1(c, x)) {
        dc_node *n = DC_RECORD1(c, un_names[op], unary_backward, y, x);
        if (!n) return NULL;
        n->i[0] = op;
        n->f[0] = s;
    }
    return y;
}

dc_tensor *dc_neg(dc_ctx *c, dc_tensor *x) { return unary(c, U_NEG, x, 0); }
dc_tensor *dc_exp(dc_ctx *c, dc_tensor *x) { return unary(c, U_EXP, x, 0); }
dc_tensor *dc_log(dc_ctx *c, dc_tensor *x) { return unary(c, U_LOG, x, 0); }
dc_tensor *dc_sqrt(dc_ctx *c, dc_tensor *x) { return unary(c, U_SQRT, x, 0); }
dc_tensor *dc_square(dc_ctx *c, dc_tensor *x) { return unary(c, U_SQUARE, x, 0); }
dc_tensor *dc_abs(dc_ctx *c, dc_tensor *x) { return unary(c, U_ABS, x, 0); }
dc_tensor *dc_scale(dc_ctx *c, dc_tensor *x, float s) { return unary(c, U_SCALE, x, s); }
dc_tensor *dc_add_scalar(dc_ctx *c, dc_tensor *x, float s) { return unary(c, U_ADDS, x, s); }

/* ---- activations ---- */
static const char *const act_names[] = {"linear", "sigmoid", "tanh", "relu", "leaky_relu",
                                        "elu", "softmax", "log_softmax", "gelu", "gelu_tanh"};
_Static_assert(DC_ARRAY_LEN(act_names) == DC_ACT_COUNT, "activation name table");

const char *dc_activation_name(dc_activation a) {
    return (unsigned)a < DC_ACT_COUNT ? act_names[a] : "unknown";
}

static void act_backward(dc_ctx *c, dc_node *n) {
    dc_activation a = (dc_activation)n->i[0];
    if (a != DC_ACT_SOFTMAX && a != DC_ACT_LOG_SOFTMAX) {
        bool fresh; /* a new gradient is stored whole, not zeroed and added to */
        float *gx = dc_grad_buf_w(c, n->in[0], &fresh);
        if (gx) dc_k_act_backward(a, n->f[0], n->in[0]->data, n->out->data, n->out->grad->data, gx, n->out->numel, !fresh);
        return;
    }
    float *gx = dc_grad_buf(c, n->in[0]);
    if (!gx) return;
    int64_t cols = n->out->shape[n->out->ndim - 1];
    dc_k_softmax_rows_backward(n->out->data, n->out->grad->data, gx, cols ? n->out->numel / cols : 0, cols, a == DC_ACT_LOG_SOFTMAX);
}

dc_tensor *dc_act_op(dc_ctx *c, dc_tensor *x, dc_activation a, float alpha) {
    DC_CHECK_ARGS(c, dc_activation_name(a), x);
    if ((unsigned)a >= DC_ACT_COUNT) return dc_error_null(DC_ERR_ARG, "activation: unknown activation %d", (int)a);
    if (a == DC_ACT_NONE) return x;
    if (alpha == 0) alpha = a == DC_ACT_LEAKY_RELU ? 0.01f : 1.0f;
    x = dc_contig(c, x);
    if (!x) return NULL;
    dc_tensor *y = dc_out(c, x->ndim, x->shape);
    if (!y) return NULL;
    if (a == DC_ACT_SOFTMAX || a == DC_ACT_LOG_SOFTMAX) {
        int64_t cols = x->shape[x->ndim - 1];
        dc_k_softmax_rows(x->data, y->data, cols ? x->numel / cols : 0, cols, a == DC_ACT_LOG_SOFTMAX);
    } else {
        dc_k_act_forward(a, alpha, x->data, y->data, x->numel);
    }
    if (DC_NEEDS1(c, x)) {
        dc_node *n = DC_RECORD1(c, act_names[a], act_backward, y, x);
        if (!n) return NULL;
        n->i[0] = a;
        n->f[0] = alpha;
    }
    return y;
}

dc_tensor *dc_activate(dc_ctx *c, dc_tensor *x, dc_activation a, float alpha) { return dc_act_op(c, x, a, alpha); }
dc_tensor *dc_sigmoid(dc_ctx *c, dc_tensor *x) { return dc_act_op(c, x, DC_ACT_SIGMOID, 0); }
dc_tensor *dc_tanh(dc_ctx *c, dc_tensor *x) { return dc_act_op(c, x, DC_ACT_TANH, 0); }
dc_tensor *dc_relu(dc_ctx *c, dc_tensor *x) { return dc_act_op(c, x, DC_ACT_RELU, 0); }
dc_tensor *dc_leaky_relu(dc_ctx *c, dc_tensor *x, float alpha) { return dc_act_op(c, x, DC_ACT_LEAKY_RELU, alpha); }
dc_tensor *dc_elu(dc_ctx *c, dc_tensor *x, float alpha) { return dc_act_op(c, x, DC_ACT_ELU, alpha); }
dc_tensor *dc_gelu(dc_ctx *c, dc_tensor *x, bool tanh_approx) {
    return dc_act_op(c, x, tanh_approx ? DC_ACT_GELU_TANH : DC_ACT_GELU, 0);
}
dc_tensor *dc_softmax(dc_ctx *c, dc_tensor *x) { return dc_act_op(c, x, DC_ACT_SOFTMAX, 0); }
dc_tensor *dc_log_softmax(dc_ctx *c, dc_tensor *x) { return dc_act_op(c, x, DC_ACT_LOG_SOFTMAX, 0); }
