#include "autograd.h"

#include <math.h>
#include <string.h>

dc_ctx *dc_ctx_new(void) {
    dc_get_threads(); /* applies DEEPC_THREADS to OpenMP and OpenBLAS before the first op */
    dc_ctx *c = dc_calloc(1, sizeof *c);
    if (!c) return NULL;
    dc_arena_init(&c->arena);
    c->grad = true;
    return c;
}

void dc_ctx_free(dc_ctx *c) {
    if (!c) return;
    dc_arena_release(&c->arena);
    dc_free(c);
}

void dc_ctx_reset(dc_ctx *c) {
    if (!c) return;
    c->tape = NULL;
    dc_arena_reset(&c->arena);
}

void dc_ctx_set_grad(dc_ctx *c, bool on) {
    if (c) c->grad = on;
}
bool dc_ctx_grad_enabled(const dc_ctx *c) { return c && c->grad; }
size_t dc_ctx_reserved_bytes(const dc_ctx *c) { return c ? c->arena.reserved : 0; }

void *dc_scratch(dc_ctx *c, size_t bytes) { return dc_arena_alloc(&c->arena, bytes); }

dc_tensor *dc_out(dc_ctx *c, int ndim, const int64_t *shape) {
    if (!c) return dc_error_null(DC_ERR_ARG, "operation called with a NULL context");
    return dc_tensor_arena(&c->arena, ndim, shape);
}

dc_tensor *dc_empty(dc_ctx *c, int ndim, const int64_t *shape) { return dc_out(c, ndim, shape); }

dc_tensor *dc_full(dc_ctx *c, int ndim, const int64_t *shape, float v) {
    dc_tensor *t = dc_out(c, ndim, shape);
    if (t)
        for (int64_t i = 0; i < t->numel; i++) t->data[i] = v;
    return t;
}

dc_tensor *dc_zeros(dc_ctx *c, int ndim, const int64_t *shape) {
    dc_tensor *t = dc_out(c, ndim, shape);
    if (t) memset(t->data, 0, (size_t)t->numel * sizeof(float));
    return t;
}

bool dc_needs_grad(const dc_ctx *c, int n, dc_tensor *const *in) {
    if (!c->grad) return false;
    for (int i = 0; i < n; i++)
        if (in[i] && in[i]->requires_grad) return true;
    return false;
}

dc_node *dc_record(dc_ctx *c, const char *op, dc_backward_fn bw, dc_tensor *out, int nin,
                   dc_tensor *const *in) {
    dc_node *n = dc_arena_zalloc(&c->arena, sizeof *n);
    if (!n) return NULL;
    n->op = op;
    n->backward = bw;
    n->out = out;
    n->nin = nin;
    for (int i = 0; i < nin; i++) n->in[i] = in[i];
    n->prev = c->tape;
    c->tape = n;
    out->node = n;
    out->requires_grad = true;
    return n;
}

float *dc_grad_buf_w(dc_ctx *c, dc_tensor *t, bool *fresh) {
    *fresh = false;
    if (!t || !t->requires_grad) return NULL;
    if (!t->grad) {
        if (t->kind != DC_TENSOR_STEP) return NULL; /* leaves get their grad when marked */
        dc_tensor *g = dc_tensor_arena(&c->arena, t->ndim, t->shape);
        if (!g) {
            c->oom = true;
            return NULL;
        }
        t->grad = g;
        *fresh = true;
    } else if (t->grad_stale) {
        t->grad_stale = false;
        *fresh = true;
    }
    return t->grad->data;
}

float *dc_grad_buf(dc_ctx *c, dc_tensor *t) {
    bool fresh;
    float *g = dc_grad_buf_w(c, t, &fresh);
    if (fresh) memset(g, 0, (size_t)t->grad->numel * sizeof(float));
    return g;
}

dc_status dc_backward(dc_ctx *c, dc_tensor *loss) {
    if (!c || !loss) return dc_error(DC_ERR_ARG, "dc_backward: context or loss is NULL");
    if (loss->numel != 1)
        return dc_error(DC_ERR_SHAPE, "dc_backward: loss must have one element, got shape %s", dc_tshape(loss, 0));
    if (!loss->requires_grad)
        return dc_error(DC_ERR_STATE, "dc_backward: the loss does not depend on any tensor that requires grad");
    float *g = dc_grad_buf(c, loss);
    if (!g) return DC_ERR_NOMEM;
    g[0] += 1.0f;
    c->oom = false;
    c->err = DC_OK;
    for (dc_node *n = c->tape; n; n = n->prev) {
        if (!n->out->grad) continue; /* not on a path from the loss */
        n->backward(c, n);
    }
    if (c->err) return c->err;
    if (c->oom) return dc_error(DC_ERR_NOMEM, "dc_backward: out of memory for gradients");
    return DC_OK;
}

void dc_ctx_set_mixed_precision(dc_ctx *c, bool on) {
    if (c) c->bf16 = on;
}
bool dc_ctx_mixed_precision(const dc_ctx *c) { return c && c->bf16; }
