/* Tensor creation, access, printing and initialisers. */
#include "tensor.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

dc_status dc_shape_check(int ndim, const int64_t *shape, int64_t *numel) {
    if (ndim <= 0 || ndim > DC_MAX_DIMS)
        return dc_error(DC_ERR_SHAPE, "tensor rank %d is outside 1..%d", ndim, DC_MAX_DIMS);
    if (!shape) return dc_error(DC_ERR_ARG, "tensor shape is NULL");
    int64_t n = 1;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] < 0) return dc_error(DC_ERR_SHAPE, "tensor dimension %d is negative (%lld)", i, (long long)shape[i]);
        if (__builtin_mul_overflow(n, shape[i], &n) || n > (INT64_MAX >> 3))
            return dc_error(DC_ERR_SHAPE, "tensor shape %s has too many elements",
                            dc_shape_str(ndim, shape, (char[160]){0}, 160));
    }
    if (numel) *numel = n;
    return DC_OK;
}

void dc_set_contiguous_strides(dc_tensor *t) {
    int64_t s = 1;
    for (int i = t->ndim - 1; i >= 0; i--) {
        t->stride[i] = s;
        s *= t->shape[i];
    }
}

bool dc_same_shape(const dc_tensor *a, const dc_tensor *b) {
    if (a->ndim != b->ndim) return false;
    for (int i = 0; i < a->ndim; i++)
        if (a->shape[i] != b->shape[i]) return false;
    return true;
}

static void set_shape(dc_tensor *t, int ndim, const int64_t *shape, int64_t numel) {
    t->ndim = ndim;
    t->numel = numel;
    memcpy(t->shape, shape, (size_t)ndim * sizeof *shape);
    dc_set_contiguous_strides(t);
}

dc_tensor *dc_tensor_alloc(int ndim, const int64_t *shape) {
    int64_t n = 0;
    if (dc_shape_check(ndim, shape, &n)) return NULL;
    size_t hdr = (sizeof(dc_tensor) + 63) & ~(size_t)63;
    void *blk = dc_alloc(hdr + (size_t)n * sizeof(float));
    if (!blk) return NULL;
    dc_tensor *t = blk;
    memset(t, 0, sizeof *t);
    t->data = (float *)((char *)blk + hdr);
    t->kind = DC_TENSOR_OWNED;
    t->heap = blk;
    set_shape(t, ndim, shape, n);
    return t;
}

dc_tensor *dc_tensor_arena(dc_arena *a, int ndim, const int64_t *shape) {
    int64_t n = 0;
    if (dc_shape_check(ndim, shape, &n)) return NULL;
    size_t hdr = (sizeof(dc_tensor) + 63) & ~(size_t)63;
    char *blk = dc_arena_alloc(a, hdr + (size_t)n * sizeof(float));
    if (!blk) return NULL;
    dc_tensor *t = (dc_tensor *)blk;
    memset(t, 0, sizeof *t);
    t->data = (float *)(blk + hdr);
    t->kind = DC_TENSOR_STEP;
    set_shape(t, ndim, shape, n);
    return t;
}

dc_tensor *dc_tensor_arena_view(dc_arena *a, float *data, int ndim, const int64_t *shape,
                                const int64_t *stride) {
    int64_t n = 0;
    if (dc_shape_check(ndim, shape, &n)) return NULL;
    dc_tensor *t = dc_arena_alloc(a, sizeof *t);
    if (!t) return NULL;
    memset(t, 0, sizeof *t);
    t->data = data;
    t->kind = DC_TENSOR_STEP;
    set_shape(t, ndim, shape, n);
    if (stride) memcpy(t->stride, stride, (size_t)ndim * sizeof *stride);
    return t;
}

dc_tensor *dc_tensor_new(int ndim, const int64_t *shape) {
    dc_tensor *t = dc_tensor_alloc(ndim, shape);
    if (t) memset(t->data, 0, (size_t)t->numel * sizeof(float));
    return t;
}

dc_tensor *dc_tensor_from(int ndim, const int64_t *shape, const float *data) {
    if (!data) return dc_error_null(DC_ERR_ARG, "dc_tensor_from: data is NULL");
    dc_tensor *t = dc_tensor_alloc(ndim, shape);
    if (t) memcpy(t->data, data, (size_t)t->numel * sizeof(float));
    return t;
}

dc_tensor *dc_tensor_clone(const dc_tensor *src) {
    if (!src) return dc_error_null(DC_ERR_ARG, "dc_tensor_clone: tensor is NULL");
    dc_tensor *t = dc_tensor_alloc(src->ndim, src->shape);
    if (t) dc_copy_strided(t->data, src);
    return t;
}

void dc_tensor_free(dc_tensor *t) {
    if (!t || t->kind != DC_TENSOR_OWNED) return;
    if (t->grad) dc_tensor_free(t->grad);
    dc_free(t->heap);
}

int dc_tensor_ndim(const dc_tensor *t) { return t ? t->ndim : 0; }
int64_t dc_tensor_dim(const dc_tensor *t, int axis) {
    if (!t) return 0;
    int a = dc_axis(axis, t->ndim);
    return a < 0 ? 0 : t->shape[a];
}
const int64_t *dc_tensor_shape(const dc_tensor *t) { return t ? t->shape : NULL; }
int64_t dc_tensor_numel(const dc_tensor *t) { return t ? t->numel : 0; }
float *dc_tensor_data(dc_tensor *t) { return t ? t->data : NULL; }
dc_tensor *dc_tensor_grad(const dc_tensor *t) { return t ? t->grad : NULL; }

bool dc_tensor_is_contiguous(const dc_tensor *t) {
    int64_t s = 1;
    for (int i = t->ndim - 1; i >= 0; i--) {
        if (t->shape[i] != 1 && t->stride[i] != s) return false;
        s *= t->shape[i];
    }
    return true;
}

int dc_axis(int axis, int ndim) {
    if (axis < 0) axis += ndim;
    return (axis < 0 || axis >= ndim) ? -1 : axis;
}

static int64_t offset_of(const dc_tensor *t, const int64_t *idx) {
    int64_t off = 0;
    for (int i = 0; i < t->ndim; i++) off += idx[i] * t->stride[i];
    return off;
}

float dc_tensor_get(const dc_tensor *t, const int64_t *idx) { return t->data[offset_of(t, idx)]; }
void dc_tensor_set(dc_tensor *t, const int64_t *idx, float v) { t->data[offset_of(t, idx)] = v; }

void dc_tensor_fill(dc_tensor *t, float v) {
    if (!t) return;
    if (dc_tensor_is_contiguous(t)) {
        for (int64_t i = 0; i < t->numel; i++) t->data[i] = v;
        return;
    }
    int64_t idx[DC_MAX_DIMS] = {0};
    for (int64_t k = 0; k < t->numel; k++) {
        t->data[offset_of(t, idx)] = v;
        for (int d = t->ndim - 1; d >= 0 && ++idx[d] == t->shape[d]; d--) idx[d] = 0;
    }
}

void dc_copy_strided(float *dst, const dc_tensor *src) {
    if (dc_tensor_is_contiguous(src)) {
        memcpy(dst, src->data, (size_t)src->numel * sizeof(float));
        return;
    }
    int nd = src->ndim;
    int64_t inner = src->shape[nd - 1], is = src->stride[nd - 1];
    int64_t outer = inner ? src->numel / inner : 0;
    int64_t idx[DC_MAX_DIMS] = {0};
    for (int64_t o = 0; o < outer; o++) {
        const float *s = src->data + offset_of(src, idx);
        for (int64_t j = 0; j < inner; j++) dst[j] = s[j * is];
        dst += inner;
        for (int d = nd - 2; d >= 0 && ++idx[d] == src->shape[d]; d--) idx[d] = 0;
    }
}

dc_status dc_tensor_set_requires_grad(dc_tensor *t, bool on) {
    if (!t) return dc_error(DC_ERR_ARG, "dc_tensor_set_requires_grad: tensor is NULL");
    if (t->kind == DC_TENSOR_STEP)
        return dc_error(DC_ERR_STATE, "requires_grad can only be set on owned tensors (leaves)");
    if (on && !t->grad && t->kind == DC_TENSOR_OWNED) {
        t->grad = dc_tensor_new(t->ndim, t->shape);
        if (!t->grad) return DC_ERR_NOMEM;
    }
    t->requires_grad = on;
    return DC_OK;
}

void dc_tensor_zero_grad(dc_tensor *t) {
    if (t && t->grad) memset(t->grad->data, 0, (size_t)t->grad->numel * sizeof(float));
}

char *dc_shape_str(int ndim, const int64_t *shape, char *buf, size_t size) {
    if (!buf || !size) return buf;
    size_t n = 0;
    n += (size_t)snprintf(buf, size, "[");
    for (int i = 0; i < ndim && n < size; i++)
        n += (size_t)snprintf(buf + n, size - n, i ? ", %lld" : "%lld", (long long)shape[i]);
    if (n < size) snprintf(buf + n, size - n, "]");
    return buf;
}

const char *dc_tshape(const dc_tensor *t, int slot) {
    static _Thread_local char bufs[4][160];
    char *b = bufs[slot & 3];
    if (!t) return "(null)";
    return dc_shape_str(t->ndim, t->shape, b, sizeof bufs[0]);
}

static void print_rec(const dc_tensor *t, FILE *f, int d, int64_t off, int max, int indent) {
    int64_t n = t->shape[d];
    fputc('[', f);
    for (int64_t i = 0; i < n; i++) {
        if (n > 2 * max && i == max) {
            fputs(d == t->ndim - 1 ? "..., " : "...,\n", f);
            i = n - max;
        }
        int64_t o = off + i * t->stride[d];
        if (d == t->ndim - 1) fprintf(f, "%.6g", (double)t->data[o]);
        else {
            if (i) fprintf(f, "%*s", indent + 1, "");
            print_rec(t, f, d + 1, o, max, indent + 1);
        }
        if (i + 1 < n) fputs(d == t->ndim - 1 ? ", " : ",\n", f);
    }
    fputc(']', f);
}

void dc_tensor_print(const dc_tensor *t, FILE *f, int max) {
    if (!t) {
        fputs("(null tensor)\n", f);
        return;
    }
    fprintf(f, "shape %s\n", dc_tshape(t, 0));
    print_rec(t, f, 0, 0, max > 0 ? max : 6, 0);
    fputc('\n', f);
}

dc_status dc_tensor_init(dc_tensor *t, dc_init kind, float value, dc_rng *rng) {
    if (!t || !rng) return dc_error(DC_ERR_ARG, "dc_tensor_init: tensor or rng is NULL");
    if ((unsigned)kind >= DC_INIT_COUNT) return dc_error(DC_ERR_ARG, "dc_tensor_init: unknown initialiser %d", (int)kind);
    double rf = 1;
    for (int i = 2; i < t->ndim; i++) rf *= (double)t->shape[i];
    double fan_out = (double)t->shape[0] * rf;
    double fan_in = (t->ndim > 1 ? (double)t->shape[1] : (double)t->shape[0]) * rf;
    if (fan_in < 1) fan_in = 1;
    if (fan_out < 1) fan_out = 1;
    bool normal = false;
    double a = 0;
    switch (kind) {
    case DC_INIT_ZEROS: dc_tensor_fill(t, 0); return DC_OK;
    case DC_INIT_ONES: dc_tensor_fill(t, 1); return DC_OK;
    case DC_INIT_CONSTANT: dc_tensor_fill(t, value); return DC_OK;
    case DC_INIT_UNIFORM: a = value; break;
    case DC_INIT_NORMAL: a = value; normal = true; break;
    case DC_INIT_GLOROT_UNIFORM: a = sqrt(6.0 / (fan_in + fan_out)); break;
    case DC_INIT_GLOROT_NORMAL: a = sqrt(2.0 / (fan_in + fan_out)); normal = true; break;
    case DC_INIT_HE_UNIFORM: a = sqrt(6.0 / fan_in); break;
    case DC_INIT_HE_NORMAL: a = sqrt(2.0 / fan_in); normal = true; break;
    case DC_INIT_LECUN_UNIFORM: a = sqrt(3.0 / fan_in); break;
    default: break;
    }
    if (!dc_tensor_is_contiguous(t)) return dc_error(DC_ERR_ARG, "dc_tensor_init: tensor must be contiguous");
    for (int64_t i = 0; i < t->numel; i++)
        t->data[i] = normal ? (float)(a * dc_rng_normal(rng)) : (float)(a * (2.0 * dc_rng_uniform(rng) - 1.0));
    return DC_OK;
}

dc_status dc_tensor_set_shape(dc_tensor *t, int ndim, const int64_t *shape) {
    if (!t) return dc_error(DC_ERR_ARG, "dc_tensor_set_shape: tensor is NULL");
    if (t->kind != DC_TENSOR_OWNED || !dc_tensor_is_contiguous(t))
        return dc_error(DC_ERR_STATE, "dc_tensor_set_shape: only owned contiguous tensors can be reshaped in place");
    int64_t n = 0;
    dc_status s = dc_shape_check(ndim, shape, &n);
    if (s) return s;
    if (n != t->numel) {
        char b[160];
        return dc_error(DC_ERR_SHAPE, "dc_tensor_set_shape: %s has %lld elements, %s has %lld", dc_tshape(t, 0),
                        (long long)t->numel, dc_shape_str(ndim, shape, b, sizeof b), (long long)n);
    }
    if (t->grad && (s = dc_tensor_set_shape(t->grad, ndim, shape))) return s;
    set_shape(t, ndim, shape, n);
    return DC_OK;
}

dc_tensor *dc_nhwc_to_nchw(const dc_tensor *t) {
    if (!t) return dc_error_null(DC_ERR_ARG, "dc_nhwc_to_nchw: tensor is NULL");
    if (t->ndim != 4) return dc_error_null(DC_ERR_SHAPE, "dc_nhwc_to_nchw: expected [N, H, W, C], got %s", dc_tshape(t, 0));
    int64_t N = t->shape[0], H = t->shape[1], W = t->shape[2], C = t->shape[3];
    dc_tensor *o = dc_tensor_alloc(4, (int64_t[]){N, C, H, W});
    if (!o) return NULL;
    for (int64_t n = 0; n < N; n++)
        for (int64_t y = 0; y < H; y++)
            for (int64_t x = 0; x < W; x++)
                for (int64_t c = 0; c < C; c++)
                    o->data[((n * C + c) * H + y) * W + x] =
                        t->data[n * t->stride[0] + y * t->stride[1] + x * t->stride[2] + c * t->stride[3]];
    return o;
}

/* ---- finiteness ---- */
static dc_status report_nonfinite(const dc_tensor *t, const char *what, int64_t flat, float v) {
    char where[DC_MAX_DIMS * 24 + 16] = "", buf[DC_MAX_DIMS * 24];
    if (t->ndim > 1) {
        int64_t idx[DC_MAX_DIMS];
        int64_t r = flat;
        for (int d = t->ndim - 1; d >= 0; d--) {
            idx[d] = r % t->shape[d];
            r /= t->shape[d];
        }
        snprintf(where, sizeof where, " (index %s)", dc_shape_str(t->ndim, idx, buf, sizeof buf));
    }
    const char *kind = isnan(v) ? "nan" : v > 0 ? "inf" : "-inf"; /* printf may write "-nan" */
    return dc_error(DC_ERR_NUMERIC, "%s: element %lld%s of %s is %s", what ? what : "tensor", (long long)flat, where,
                    dc_tshape(t, 0), kind);
}

/* Index of the first non-finite element in row-major order, or -1; *bad gets its value. */
static int64_t first_nonfinite(const dc_tensor *t, float *bad) {
    if (dc_tensor_is_contiguous(t)) {
        for (int64_t k = 0; k < t->numel; k++)
            if (!isfinite(t->data[k])) {
                *bad = t->data[k];
                return k;
            }
        return -1;
    }
    int64_t idx[DC_MAX_DIMS] = {0};
    for (int64_t k = 0; k < t->numel; k++) {
        int64_t off = 0;
        for (int d = 0; d < t->ndim; d++) off += idx[d] * t->stride[d];
        if (!isfinite(t->data[off])) {
            *bad = t->data[off];
            return k;
        }
        for (int d = t->ndim - 1; d >= 0 && ++idx[d] == t->shape[d]; d--) idx[d] = 0;
    }
    return -1;
}

dc_status dc_check_finite(const dc_tensor *t, const char *what) {
    if (!t) return dc_error(DC_ERR_ARG, "check_finite: %s is NULL", what ? what : "tensor");
    float bad = 0;
    int64_t k = first_nonfinite(t, &bad);
    return k < 0 ? DC_OK : report_nonfinite(t, what, k, bad);
}
