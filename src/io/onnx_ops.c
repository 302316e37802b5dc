/* The ONNX operators deepc imports: one mapper per operator (onnx_import.h says what they may
 * call), the table dc_onnx_ops_core that lists them, and the patterns (PyTorch's GELU). A mapper
 * folds what is constant (shape arithmetic, weights) and adds a layer for what the graph
 * computes per batch. */
#include "onnx_import.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- helpers ---- */
static dc_status need_graph(onnx_importer *ix, const Onnx__NodeProto *n, const onnx_value *v, int i) {
    if (!v) return onnx_fail(ix, n, DC_ERR_FORMAT, "input %d is missing", i);
    if (v->kind != ONNX_GRAPH) return onnx_fail(ix, n, DC_ERR_FORMAT, "input %d (\"%s\") must be computed from the graph's inputs", i, v->name);
    return DC_OK;
}
static dc_status need_static(onnx_importer *ix, const Onnx__NodeProto *n, const onnx_value *v, int i) {
    if (!v) return onnx_fail(ix, n, DC_ERR_FORMAT, "input %d is missing", i);
    if (!onnx_is_static(v)) return onnx_fail(ix, n, DC_ERR_FORMAT, "input %d (\"%s\") must be a constant", i, v->name);
    return DC_OK;
}
/* Whether the batch is alone in its axis (the layout of a graph input). */
static bool plain(const onnx_value *v) { return v->pre == 1 && v->post == 1; }
/* v with the usual layout of a layer's input: the batch alone in axis 0. */
static dc_status need_batch_first(onnx_importer *ix, const Onnx__NodeProto *n, const onnx_value *v, int rank_lo, int rank_hi) {
    dc_status s = need_graph(ix, n, v, 0);
    if (s) return s;
    if (v->bax != 0 || !plain(v))
        return onnx_fail(ix, n, DC_ERR_FORMAT, "the input \"%s\" must have the batch alone in its first axis (it is in axis %d)", v->name,
                         v->bax);
    if (v->ndim < rank_lo || v->ndim > rank_hi)
        return onnx_fail(ix, n, DC_ERR_FORMAT, "the input has rank %d; deepc takes %d to %d here", v->ndim, rank_lo, rank_hi);
    return DC_OK;
}
/* Copies value src into dst (a constant's elements too). */
static dc_status copy_value(onnx_importer *ix, onnx_value *dst, const onnx_value *src) {
    const char *name = dst->name;
    int readers = dst->readers;
    if (src->kind == ONNX_CONST) {
        dc_status s = onnx_const_make(ix, dst, src->ndim, src->dims);
        if (s) return s;
        int64_t c = onnx_count(src->ndim, src->dims);
        memcpy(dst->data, src->data, (size_t)c * sizeof *dst->data);
        if (src->npow) {
            dst->npow = malloc((size_t)(c ? c : 1));
            if (!dst->npow) return dc_error(DC_ERR_NOMEM, "onnx import: %s", name);
            memcpy(dst->npow, src->npow, (size_t)c);
        }
        dst->is_int = src->is_int;
        dst->is_weight = src->is_weight;
        return DC_OK;
    }
    free(dst->data);
    free(dst->npow);
    *dst = *src;
    dst->data = NULL;
    dst->npow = NULL;
    dst->name = name;
    dst->readers = readers;
    return DC_OK;
}
static dc_status set_npow(onnx_importer *ix, onnx_value *v) {
    if (v->npow) return DC_OK;
    int64_t c = onnx_count(v->ndim, v->dims);
    v->npow = calloc((size_t)(c ? c : 1), 1);
    return v->npow ? DC_OK : dc_error(DC_ERR_NOMEM, "onnx import: %s", v->name);
}
/* A constant's element as an integer, clamped to +-2^62 (a double beyond int64's range cannot be
 * converted); the callers' bounds refuse what is that large. */
static int64_t to_i64(double d) {
    const double lim = 4611686018427387904.0;
    return d >= lim ? INT64_C(1) << 62 : d <= -lim ? -(INT64_C(1) << 62) : d == d ? (int64_t)d : 0;
}

/* A row-major index walk: strides of a shape. */
static void strides_of(int nd, const int64_t *dims, int64_t *st) {
    int64_t s = 1;
    for (int i = nd - 1; i >= 0; i--) {
        st[i] = s;
        s *= dims[i];
    }
}

/* ---- Identity, Dropout, Constant ---- */
static dc_status map_identity(onnx_importer *ix, const Onnx__NodeProto *n) {
    onnx_value *x = onnx_in(ix, n, 0), *y = onnx_out(ix, n, 0);
    if (!x) return onnx_fail(ix, n, DC_ERR_FORMAT, "no input");
    return y ? copy_value(ix, y, x) : DC_OK;
}

static dc_status map_dropout(onnx_importer *ix, const Onnx__NodeProto *n) {
    onnx_value *x = onnx_in(ix, n, 0), *y = onnx_out(ix, n, 0), *mask = onnx_out(ix, n, 1);
    if (mask && mask->readers) return onnx_fail(ix, n, DC_ERR_FORMAT, "the mask output is not supported");
    if (!x) return onnx_fail(ix, n, DC_ERR_FORMAT, "no input");
    onnx_value *tm = onnx_in(ix, n, 2);
    if (tm && (!onnx_is_static(tm) || onnx_count(tm->ndim, tm->dims) != 1 || tm->data[0] != 0))
        return onnx_fail(ix, n, DC_ERR_FORMAT, "Dropout in training mode (a random mask in the outputs) is not imported");
    if (x->kind != ONNX_GRAPH || !y) return y ? copy_value(ix, y, x) : DC_OK;
    double ratio = onnx_attr_float(n, "ratio", 0.5f);
    onnx_value *r = onnx_in(ix, n, 1);
    if (r) {
        if (!onnx_is_static(r) || onnx_count(r->ndim, r->dims) != 1) return onnx_fail(ix, n, DC_ERR_FORMAT, "the ratio must be a constant");
        ratio = r->data[0];
    }
    if (!(ratio >= 0 && ratio < 1)) return onnx_fail(ix, n, DC_ERR_FORMAT, "ratio %g is outside [0, 1)", ratio);
    /* inference is the identity; kept as a layer so that fine-tuning drops as the file says */
    dc_layer *l = dc_dropout_layer((float)ratio);
    int h = onnx_emit(ix, n, l, 1, &x);
    if (h < 0) return dc_last_status();
    onnx_set_graph(y, h, l, x, x->ndim, x->dims);
    return DC_OK;
}

static dc_status map_constant(onnx_importer *ix, const Onnx__NodeProto *n) {
    onnx_value *y = onnx_out(ix, n, 0);
    if (!y) return DC_OK;
    const Onnx__TensorProto *t = onnx_attr_tensor(n, "value");
    if (t) return onnx_const_from_tensor(ix, y, t, y->name);
    for (size_t i = 0; i < n->n_attribute; i++) {
        const Onnx__AttributeProto *a = n->attribute[i];
        if (!a->name) continue;
        bool ints = !strcmp(a->name, "value_ints"), floats = !strcmp(a->name, "value_floats");
        if (!strcmp(a->name, "value_float") || !strcmp(a->name, "value_int")) {
            dc_status s = onnx_const_make(ix, y, 0, NULL);
            if (s) return s;
            y->data[0] = a->has_f && !strcmp(a->name, "value_float") ? a->f : (double)a->i;
            y->is_int = !strcmp(a->name, "value_int");
            return DC_OK;
        }
        if (ints || floats) {
            int64_t c = ints ? (int64_t)a->n_ints : (int64_t)a->n_floats;
            dc_status s = onnx_const_make(ix, y, 1, &c);
            if (s) return s;
            for (int64_t k = 0; k < c; k++) y->data[k] = ints ? (double)a->ints[k] : a->floats[k];
            y->is_int = ints;
            return DC_OK;
        }
    }
    return onnx_fail(ix, n, DC_ERR_FORMAT, "no value attribute deepc reads (value, value_float(s), value_int(s))");
}

/* ---- shape arithmetic ---- */
static dc_status map_shape(onnx_importer *ix, const Onnx__NodeProto *n) {
    onnx_value *x = onnx_in(ix, n, 0), *y = onnx_out(ix, n, 0);
    if (!x || x->kind == ONNX_NONE) return onnx_fail(ix, n, DC_ERR_FORMAT, "no input");
    if (!y) return DC_OK;
    int r = x->ndim;
    int start = onnx_axis(onnx_attr_int(n, "start", 0), r + 1), end = (int)onnx_attr_int(n, "end", r);
    if (end < 0) end += r;
    if (end > r) end = r;
    if (start < 0) start = 0;
    int64_t c = end > start ? end - start : 0;
    dc_status s = onnx_const_make(ix, y, 1, &c);
    if (s) return s;
    y->is_int = true;
    bool batched = x->kind != ONNX_CONST;
    if (batched && (s = set_npow(ix, y))) return s;
    for (int i = 0; i < c; i++) {
        y->data[i] = (double)x->dims[start + i];
        if (batched && start + i == x->bax) y->npow[i] = 1;
    }
    return DC_OK;
}

/* Elements of a folded binary operation: a op b with broadcasting, keeping track of the powers
 * of N (a product of N * N, or a sum of N and a number, is refused). */
static dc_status fold_binary(onnx_importer *ix, const Onnx__NodeProto *n, char op, const onnx_value *a, const onnx_value *b,
                             onnx_value *y) {
    int nd = a->ndim > b->ndim ? a->ndim : b->ndim;
    int64_t dims[DC_MAX_DIMS], sa[DC_MAX_DIMS], sb[DC_MAX_DIMS], da[DC_MAX_DIMS], db[DC_MAX_DIMS];
    for (int i = 0; i < nd; i++) {
        da[i] = i < nd - a->ndim ? 1 : a->dims[i - (nd - a->ndim)];
        db[i] = i < nd - b->ndim ? 1 : b->dims[i - (nd - b->ndim)];
        if (da[i] != db[i] && da[i] != 1 && db[i] != 1) return onnx_fail(ix, n, DC_ERR_SHAPE, "the constants do not broadcast");
        dims[i] = da[i] == 1 ? db[i] : da[i];
    }
    strides_of(nd, da, sa);
    strides_of(nd, db, sb);
    onnx_value t = {.name = y->name};
    dc_status s = onnx_const_make(ix, &t, nd, dims);
    if (s) return s;
    t.is_int = a->is_int && b->is_int;
    if ((a->npow || b->npow) && (s = set_npow(ix, &t))) {
        free(t.data);
        return s;
    }
    int64_t c = onnx_count(nd, dims);
    for (int64_t i = 0; i < c && !s; i++) {
        int64_t ia = 0, ib = 0, rem = i;
        for (int k = nd - 1; k >= 0; k--) {
            int64_t idx = rem % dims[k];
            rem /= dims[k];
            if (da[k] > 1) ia += idx * sa[k];
            if (db[k] > 1) ib += idx * sb[k];
        }
        double x = a->data[ia], z = b->data[ib], r;
        int pa = a->npow ? a->npow[ia] : 0, pb = b->npow ? b->npow[ib] : 0, p = pa;
        switch (op) {
        case '+': r = x + z; if (pa != pb) s = DC_ERR_SHAPE; break;
        case '-': r = x - z; if (pa != pb) s = DC_ERR_SHAPE; break;
        case '*': r = x * z; p = pa + pb; if (p > 1) s = DC_ERR_SHAPE; break;
        default:
            p = pa - pb;
            if (p < 0 || z == 0) s = DC_ERR_SHAPE;
            r = t.is_int ? trunc(x / z) : x / z;
            /* a multiple of N divided by a number must stay a whole multiple */
            if (p && t.is_int && fmod(x, z) != 0) s = DC_ERR_SHAPE;
            break;
        }
        t.data[i] = r;
        if (t.npow) t.npow[i] = (uint8_t)p;
    }
    if (s) {
        free(t.data);
        free(t.npow);
        return onnx_fail(ix, n, DC_ERR_FORMAT, "cannot fold this shape arithmetic with a batch of any size");
    }
    free(y->data);
    free(y->npow);
    y->kind = ONNX_CONST;
    y->ndim = t.ndim;
    memcpy(y->dims, t.dims, sizeof t.dims);
    y->data = t.data;
    y->npow = t.npow;
    y->is_int = t.is_int;
    return DC_OK;
}

static dc_status map_gather(onnx_importer *ix, const Onnx__NodeProto *n) {
    onnx_value *x = onnx_in(ix, n, 0), *idx = onnx_in(ix, n, 1), *y = onnx_out(ix, n, 0);
    dc_status s;
    if (!x || !idx) return onnx_fail(ix, n, DC_ERR_FORMAT, "Gather takes data and indices");
    if (!y) return DC_OK;
    int axis = onnx_axis(onnx_attr_int(n, "axis", 0), x->ndim);
    if (axis < 0) return onnx_fail(ix, n, DC_ERR_FORMAT, "axis %lld is outside the data's %d axes", (long long)onnx_attr_int(n, "axis", 0), x->ndim);
    if (x->kind == ONNX_CONST && onnx_is_static(idx)) { /* folded */
        int64_t ni = onnx_count(idx->ndim, idx->dims), dims[DC_MAX_DIMS];
        int nd = 0;
        for (int i = 0; i < axis; i++) dims[nd++] = x->dims[i];
        for (int i = 0; i < idx->ndim; i++) dims[nd++] = idx->dims[i];
        for (int i = axis + 1; i < x->ndim; i++) dims[nd++] = x->dims[i];
        if (nd > DC_MAX_DIMS) return onnx_fail(ix, n, DC_ERR_SHAPE, "the result has %d dimensions", nd);
        int64_t outer = 1, inner = 1;
        for (int i = 0; i < axis; i++) outer *= x->dims[i];
        for (int i = axis + 1; i < x->ndim; i++) inner *= x->dims[i];
        onnx_value t = {.name = y->name};
        if ((s = onnx_const_make(ix, &t, nd, dims))) return s;
        if (x->npow && (s = set_npow(ix, &t))) {
            free(t.data);
            return s;
        }
        for (int64_t o = 0; o < outer; o++)
            for (int64_t j = 0; j < ni; j++) {
                double k = idx->data[j];
                if (k < 0) k += (double)x->dims[axis];
                if (!(k >= 0 && k < (double)x->dims[axis])) {
                    free(t.data);
                    free(t.npow);
                    return onnx_fail(ix, n, DC_ERR_FORMAT, "index %g is outside the axis of %lld", idx->data[j], (long long)x->dims[axis]);
                }
                for (int64_t i = 0; i < inner; i++) {
                    int64_t from = (o * x->dims[axis] + (int64_t)k) * inner + i, to = (o * ni + j) * inner + i;
                    t.data[to] = x->data[from];
                    if (t.npow) t.npow[to] = x->npow[from];
                }
            }
        t.is_int = x->is_int;
        free(y->data);
        free(y->npow);
        *y = (onnx_value){.name = y->name, .readers = y->readers, .kind = ONNX_CONST, .ndim = t.ndim, .data = t.data, .npow = t.npow, .is_int = t.is_int};
        memcpy(y->dims, t.dims, sizeof t.dims);
        return DC_OK;
    }
    if (x->kind == ONNX_GRAPH && onnx_is_static(idx) && onnx_count(idx->ndim, idx->dims) == 1) {
        /* one index of a computed value: a slice, and its axis dropped for a scalar index */
        if (axis == x->bax) return onnx_fail(ix, n, DC_ERR_FORMAT, "gathering along the batch axis");
        int64_t k = to_i64(idx->data[0]);
        if (k < 0) k += x->dims[axis];
        if (k < 0 || k >= x->dims[axis]) return onnx_fail(ix, n, DC_ERR_FORMAT, "index %lld is outside the axis of %lld", (long long)idx->data[0], (long long)x->dims[axis]);
        onnx_value mid = {.name = y->name};
        onnx_value *src = x;
        if (x->dims[axis] > 1) {
            dc_layer *l = dc_slice_layer(onnx_deepc_axis(x, axis), k, k + 1);
            int h = onnx_emit(ix, n, l, 1, &x);
            if (h < 0) return dc_last_status();
            int64_t dims[DC_MAX_DIMS];
            memcpy(dims, x->dims, sizeof dims);
            dims[axis] = 1;
            onnx_set_graph(&mid, h, l, x, x->ndim, dims);
            src = &mid;
        }
        if (idx->ndim > 0) return copy_value(ix, y, src);
        int64_t dims[DC_MAX_DIMS];
        int nd = 0;
        for (int i = 0; i < src->ndim; i++)
            if (i != axis) dims[nd++] = src->dims[i];
        if (nd == 0) return onnx_fail(ix, n, DC_ERR_FORMAT, "the result would have no batch axis");
        return onnx_reshape(ix, n, src, nd, dims, src->bax > axis ? src->bax - 1 : src->bax, y);
    }
    if (x->kind == ONNX_CONST && idx->kind == ONNX_GRAPH && x->ndim == 2 && axis == 0) {
        /* rows of a weight picked by computed ids: an embedding table */
        if ((s = need_batch_first(ix, n, idx, 2, DC_MAX_DIMS - 1))) return s;
        if (idx->ndim != 2) return onnx_fail(ix, n, DC_ERR_FORMAT, "ids of rank %d; deepc's Embedding takes [N, T]", idx->ndim);
        dc_layer *l = dc_embedding_layer(x->dims[0], x->dims[1], false);
        int h = onnx_emit(ix, n, l, 1, &idx);
        if (h < 0 || (s = onnx_param_value(ix, n, l, "weight", x))) return h < 0 ? dc_last_status() : s;
        onnx_set_graph(y, h, l, idx, 3, (int64_t[]){1, idx->dims[1], x->dims[1]});
        return DC_OK;
    }
    return onnx_fail(ix, n, DC_ERR_FORMAT, "deepc gathers from constants, one index of a computed value, or rows of a 2-D weight");
}

/* The axes of Unsqueeze / Squeeze / Reduce*: an attribute before opset 13 (18 for the
 * reductions), an input after. -1 when there are none. */
static int axes_of(onnx_importer *ix, const Onnx__NodeProto *n, int input, int64_t *axes) {
    int k = onnx_attr_ints(n, "axes", axes, DC_MAX_DIMS);
    if (k >= 0) return k;
    onnx_value *a = onnx_in(ix, n, input);
    if (!a) return -1;
    return onnx_const_ints(a, axes, DC_MAX_DIMS);
}

/* A new shape for x (constant or computed) from dims[nd]; for a computed x the entry holding
 * the batch is newbax. */
static dc_status restate(onnx_importer *ix, const Onnx__NodeProto *n, onnx_value *x, int nd, const int64_t *dims, int newbax,
                         onnx_value *y) {
    if (nd > DC_MAX_DIMS) return onnx_fail(ix, n, DC_ERR_SHAPE, "%d dimensions", nd);
    if (x->kind == ONNX_CONST) {
        if (onnx_count(nd, dims) != onnx_count(x->ndim, x->dims)) return onnx_fail(ix, n, DC_ERR_SHAPE, "the element count changes");
        dc_status s = copy_value(ix, y, x);
        if (s) return s;
        y->ndim = nd;
        memcpy(y->dims, dims, (size_t)nd * sizeof *dims);
        return DC_OK;
    }
    if (x->kind != ONNX_GRAPH) return onnx_fail(ix, n, DC_ERR_FORMAT, "input \"%s\" has no value deepc can reshape", x->name);
    return onnx_reshape(ix, n, x, nd, dims, newbax, y);
}

static dc_status map_unsqueeze(onnx_importer *ix, const Onnx__NodeProto *n) {
    onnx_value *x = onnx_in(ix, n, 0), *y = onnx_out(ix, n, 0);
    int64_t axes[DC_MAX_DIMS + 1];
    int k = axes_of(ix, n, 1, axes);
    if (!x || k < 1 || k > DC_MAX_DIMS) return onnx_fail(ix, n, DC_ERR_FORMAT, "needs its data and constant axes");
    if (!y) return DC_OK;
    int r = x->ndim + k;
    if (r > DC_MAX_DIMS) return onnx_fail(ix, n, DC_ERR_SHAPE, "%d dimensions", r);
    bool one[DC_MAX_DIMS] = {false};
    for (int i = 0; i < k; i++) {
        int a = onnx_axis(axes[i], r);
        if (a < 0 || one[a]) return onnx_fail(ix, n, DC_ERR_FORMAT, "axis %lld is out of range or repeated", (long long)axes[i]);
        one[a] = true;
    }
    int64_t dims[DC_MAX_DIMS];
    int j = 0, bax = -1;
    for (int i = 0; i < r; i++) {
        if (one[i]) dims[i] = 1;
        else {
            if (j == x->bax) bax = i;
            dims[i] = x->dims[j++];
        }
    }
    return restate(ix, n, x, r, dims, bax, y);
}

static dc_status map_squeeze(onnx_importer *ix, const Onnx__NodeProto *n) {
    onnx_value *x = onnx_in(ix, n, 0), *y = onnx_out(ix, n, 0);
    if (!x) return onnx_fail(ix, n, DC_ERR_FORMAT, "no input");
    if (!y) return DC_OK;
    int64_t axes[DC_MAX_DIMS + 1];
    int k = axes_of(ix, n, 1, axes);
    bool drop[DC_MAX_DIMS] = {false};
    if (k < 0) { /* every axis of 1 */
        for (int i = 0; i < x->ndim; i++) drop[i] = x->dims[i] == 1 && !(x->kind == ONNX_GRAPH && i == x->bax);
    } else {
        for (int i = 0; i < k; i++) {
            int a = onnx_axis(axes[i], x->ndim);
            if (a < 0 || x->dims[a] != 1 || (x->kind == ONNX_GRAPH && a == x->bax))
                return onnx_fail(ix, n, DC_ERR_FORMAT, "axis %lld is not an axis of 1", (long long)axes[i]);
            drop[a] = true;
        }
    }
    int64_t dims[DC_MAX_DIMS];
    int j = 0, bax = -1;
    for (int i = 0; i < x->ndim; i++) {
        if (drop[i]) continue;
        if (i == x->bax) bax = j;
        dims[j++] = x->dims[i];
    }
    return restate(ix, n, x, j, dims, bax, y);
}

static dc_status map_concat(onnx_importer *ix, const Onnx__NodeProto *n) {
    onnx_value *y = onnx_out(ix, n, 0), *x0 = onnx_in(ix, n, 0);
    if (!x0 || n->n_input < 1) return onnx_fail(ix, n, DC_ERR_FORMAT, "no inputs");
    if (!y) return DC_OK;
    int axis = onnx_axis(onnx_attr_int(n, "axis", 0), x0->ndim);
    if (axis < 0) return onnx_fail(ix, n, DC_ERR_FORMAT, "axis %lld is outside %d axes", (long long)onnx_attr_int(n, "axis", 0), x0->ndim);
    int nin = (int)n->n_input;
    bool consts = true;
    int64_t dims[DC_MAX_DIMS];
    memcpy(dims, x0->dims, sizeof dims);
    dims[axis] = 0;
    for (int i = 0; i < nin; i++) {
        onnx_value *x = onnx_in(ix, n, i);
        if (!x || x->ndim != x0->ndim) return onnx_fail(ix, n, DC_ERR_SHAPE, "input %d is missing or of another rank", i);
        for (int d = 0; d < x->ndim; d++)
            if (d != axis && x->dims[d] != x0->dims[d]) return onnx_fail(ix, n, DC_ERR_SHAPE, "input %d differs outside axis %d", i, axis);
        dims[axis] += x->dims[axis];
        consts &= x->kind == ONNX_CONST;
    }
    if (consts) {
        onnx_value t = {.name = y->name};
        dc_status s = onnx_const_make(ix, &t, x0->ndim, dims);
        if (s || (s = set_npow(ix, &t))) {
            free(t.data);
            return s;
        }
        int64_t outer = 1, inner = 1, off = 0;
        for (int d = 0; d < axis; d++) outer *= dims[d];
        for (int d = axis + 1; d < x0->ndim; d++) inner *= dims[d];
        t.is_int = true;
        for (int i = 0; i < nin; i++) {
            onnx_value *x = onnx_in(ix, n, i);
            int64_t w = x->dims[axis] * inner;
            for (int64_t o = 0; o < outer; o++)
                for (int64_t j = 0; j < w; j++) {
                    t.data[o * dims[axis] * inner + off + j] = x->data[o * w + j];
                    t.npow[o * dims[axis] * inner + off + j] = x->npow ? x->npow[o * w + j] : 0;
                }
            off += w;
            t.is_int &= x->is_int;
        }
        free(y->data);
        free(y->npow);
        y->kind = ONNX_CONST;
        y->ndim = t.ndim;
        memcpy(y->dims, t.dims, sizeof t.dims);
        y->data = t.data;
        y->npow = t.npow;
        y->is_int = t.is_int;
        return DC_OK;
    }
    onnx_value *ins[DC_LAYER_MAX_INPUTS];
    if (nin > DC_LAYER_MAX_INPUTS) return onnx_fail(ix, n, DC_ERR_FORMAT, "%d computed inputs; deepc concatenates up to %d", nin, DC_LAYER_MAX_INPUTS);
    for (int i = 0; i < nin; i++) {
        ins[i] = onnx_in(ix, n, i);
        dc_status s = need_graph(ix, n, ins[i], i);
        if (s) return s;
        if (ins[i]->bax != x0->bax || ins[i]->pre != x0->pre || ins[i]->post != x0->post || axis == x0->bax)
            return onnx_fail(ix, n, DC_ERR_FORMAT, "the inputs must hold the batch alike, outside the joined axis");
    }
    int64_t sh[DC_MAX_DIMS];
    int r = onnx_deepc_shape(x0, sh), da = onnx_deepc_axis(x0, axis);
    if (da == r) { /* the last axis: Concatenate itself */
        dc_layer *l = dc_concatenate_layer();
        int h = onnx_emit(ix, n, l, nin, ins);
        if (h < 0) return dc_last_status();
        onnx_set_graph(y, h, l, x0, x0->ndim, dims);
        return DC_OK;
    }
    /* another axis: each input with that axis moved last (Permute), joined, and moved back */
    int fwd[DC_MAX_DIMS], back[DC_MAX_DIMS], k = 0;
    for (int i = 1; i <= r; i++)
        if (i != da) fwd[k++] = i;
    fwd[k] = da;
    for (int i = 0; i < r; i++) back[fwd[i] - 1] = i + 1;
    onnx_value moved[DC_LAYER_MAX_INPUTS], *mp[DC_LAYER_MAX_INPUTS];
    for (int i = 0; i < nin; i++) {
        dc_layer *p = dc_permute_layer(r, fwd);
        int h = onnx_emit(ix, n, p, 1, &ins[i]);
        if (h < 0) return dc_last_status();
        moved[i] = *ins[i];
        moved[i].handle = h;
        mp[i] = &moved[i];
    }
    dc_layer *l = dc_concatenate_layer();
    int h = onnx_emit(ix, n, l, nin, mp);
    if (h < 0) return dc_last_status();
    onnx_value joined = *x0;
    joined.handle = h;
    onnx_value *pj = &joined;
    dc_layer *p = dc_permute_layer(r, back);
    if ((h = onnx_emit(ix, n, p, 1, &pj)) < 0) return dc_last_status();
    onnx_set_graph(y, h, p, x0, x0->ndim, dims);
    return DC_OK;
}

/* Pad of nothing (PyTorch writes one before some pools): the identity. */
static dc_status map_pad(onnx_importer *ix, const Onnx__NodeProto *n) {
    onnx_value *x = onnx_in(ix, n, 0), *y = onnx_out(ix, n, 0), *p = onnx_in(ix, n, 1);
    int64_t pads[2 * DC_MAX_DIMS + 1];
    int k = p ? onnx_const_ints(p, pads, 2 * DC_MAX_DIMS) : onnx_attr_ints(n, "pads", pads, 2 * DC_MAX_DIMS);
    if (!x || k < 0 || k > 2 * DC_MAX_DIMS) return onnx_fail(ix, n, DC_ERR_FORMAT, "needs its data and constant pads");
    for (int i = 0; i < k; i++)
        if (pads[i]) return onnx_fail(ix, n, DC_ERR_FORMAT, "deepc imports Pad only when it pads nothing");
    return y ? copy_value(ix, y, x) : DC_OK;
}

/* The target of a Reshape (from its shape input, with 0 and -1 resolved) for x. */
static dc_status map_reshape(onnx_importer *ix, const Onnx__NodeProto *n) {
    onnx_value *x = onnx_in(ix, n, 0), *shp = onnx_in(ix, n, 1), *y = onnx_out(ix, n, 0);
    int64_t t[DC_MAX_DIMS + 1];
    int nd;
    bool batch[DC_MAX_DIMS + 1] = {false};
    if (!x) return onnx_fail(ix, n, DC_ERR_FORMAT, "no input");
    if (!y) return DC_OK;
    if (shp) {
        if (shp->kind != ONNX_CONST || shp->ndim != 1 || shp->dims[0] > DC_MAX_DIMS)
            return onnx_fail(ix, n, DC_ERR_FORMAT, "the shape must be a constant list of at most %d sizes", DC_MAX_DIMS);
        nd = (int)shp->dims[0];
        for (int i = 0; i < nd; i++) {
            t[i] = to_i64(shp->data[i]);
            batch[i] = shp->npow && shp->npow[i];
        }
    } else if ((nd = onnx_attr_ints(n, "shape", t, DC_MAX_DIMS)) < 0 || nd > DC_MAX_DIMS) {
        return onnx_fail(ix, n, DC_ERR_FORMAT, "no shape");
    }
    bool allowzero = onnx_attr_int(n, "allowzero", 0) != 0;
    bool computed = x->kind == ONNX_GRAPH;
    int64_t total = onnx_count(x->ndim, x->dims), known = 1; /* of a computed x: per batch row */
    int hole = -1, bax = -1;
    for (int i = 0; i < nd; i++) {
        if (t[i] == 0 && !allowzero && !batch[i]) {
            if (i >= x->ndim) return onnx_fail(ix, n, DC_ERR_FORMAT, "entry %d copies an axis the input lacks", i);
            t[i] = x->dims[i];
            batch[i] = computed && i == x->bax;
        }
        if (t[i] == -1 && !batch[i]) {
            if (hole >= 0) return onnx_fail(ix, n, DC_ERR_FORMAT, "two entries of -1");
            hole = i;
            continue;
        }
        if (t[i] <= 0 || t[i] > ONNX_MAX_DIM || known > ONNX_MAX_ELEMS / t[i])
            return onnx_fail(ix, n, DC_ERR_SHAPE, "entry %d is %lld (sizes 1 to 2^31, 2^31 elements in all)", i, (long long)t[i]);
        if (batch[i]) {
            if (!computed || bax >= 0) return onnx_fail(ix, n, DC_ERR_FORMAT, "the batch size appears where deepc cannot follow it");
            bax = i;
        }
        known *= t[i];
    }
    if (hole >= 0) {
        if (known <= 0 || total % known) return onnx_fail(ix, n, DC_ERR_SHAPE, "%lld elements do not divide by %lld", (long long)total, (long long)known);
        t[hole] = total / known;
        if (computed && bax < 0) bax = hole; /* -1 stands for what holds the batch */
    } else if (known != total) {
        return onnx_fail(ix, n, DC_ERR_SHAPE, "%lld elements into a shape of %lld%s", (long long)total, (long long)known,
                         computed && bax < 0 ? " (with a fixed batch size deepc cannot follow)" : "");
    }
    if (computed && bax < 0) return onnx_fail(ix, n, DC_ERR_FORMAT, "the new shape fixes the batch size");
    return restate(ix, n, x, nd, t, bax, y);
}

static dc_status map_flatten(onnx_importer *ix, const Onnx__NodeProto *n) {
    onnx_value *x = onnx_in(ix, n, 0), *y = onnx_out(ix, n, 0);
    if (!x) return onnx_fail(ix, n, DC_ERR_FORMAT, "no input");
    if (!y) return DC_OK;
    int64_t a = onnx_attr_int(n, "axis", 1);
    if (a < 0) a += x->ndim;
    if (a < 0 || a > x->ndim) return onnx_fail(ix, n, DC_ERR_FORMAT, "axis %lld of rank %d", (long long)onnx_attr_int(n, "axis", 1), x->ndim);
    int64_t d[2] = {1, 1};
    for (int i = 0; i < x->ndim; i++) d[i >= a] *= x->dims[i];
    return restate(ix, n, x, 2, d, x->kind == ONNX_GRAPH ? (x->bax >= a) : -1, y);
}

static dc_status map_transpose(onnx_importer *ix, const Onnx__NodeProto *n) {
    onnx_value *x = onnx_in(ix, n, 0), *y = onnx_out(ix, n, 0);
    if (!x) return onnx_fail(ix, n, DC_ERR_FORMAT, "no input");
    if (!y) return DC_OK;
    int r = x->ndim;
    int64_t perm[DC_MAX_DIMS + 1];
    int k = onnx_attr_ints(n, "perm", perm, DC_MAX_DIMS);
    if (k < 0) {
        k = r;
        for (int i = 0; i < r; i++) perm[i] = r - 1 - i;
    }
    bool seen[DC_MAX_DIMS] = {false};
    if (k != r) return onnx_fail(ix, n, DC_ERR_FORMAT, "perm has %d axes, the input %d", k, r);
    for (int i = 0; i < r; i++) {
        if (perm[i] < 0 || perm[i] >= r || seen[perm[i]]) return onnx_fail(ix, n, DC_ERR_FORMAT, "perm is not a permutation");
        seen[perm[i]] = true;
    }
    int64_t dims[DC_MAX_DIMS];
    for (int i = 0; i < r; i++) dims[i] = x->dims[perm[i]];
    if (x->kind == ONNX_CONST) {
        onnx_value t = {.name = y->name};
        dc_status s = onnx_const_make(ix, &t, r, dims);
        if (s || (x->npow && (s = set_npow(ix, &t)))) {
            free(t.data);
            return s;
        }
        int64_t st[DC_MAX_DIMS], c = onnx_count(r, dims);
        strides_of(r, x->dims, st);
        for (int64_t i = 0; i < c; i++) {
            int64_t rem = i, from = 0;
            for (int d = r - 1; d >= 0; d--) {
                from += (rem % dims[d]) * st[perm[d]];
                rem /= dims[d];
            }
            t.data[i] = x->data[from];
            if (t.npow) t.npow[i] = x->npow[from];
        }
        t.is_int = x->is_int;
        free(y->data);
        free(y->npow);
        y->kind = ONNX_CONST;
        y->ndim = r;
        memcpy(y->dims, dims, sizeof dims);
        y->data = t.data;
        y->npow = t.npow;
        y->is_int = t.is_int;
        return DC_OK;
    }
    dc_status s = need_graph(ix, n, x, 0);
    if (s) return s;
    /* the deepc axes of each ONNX axis, in the new order; N stays first */
    int first[DC_MAX_DIMS], count[DC_MAX_DIMS], j = 1;
    for (int i = 0; i < r; i++) {
        first[i] = j;
        count[i] = i == x->bax ? (x->pre > 1) + (x->post > 1) : 1;
        j += count[i];
    }
    int dp[DC_MAX_DIMS], nd = 0, newbax = -1;
    bool moved = false;
    for (int i = 0; i < r; i++) {
        if (perm[i] == x->bax) newbax = i;
        for (int c = 0; c < count[perm[i]]; c++) {
            dp[nd] = first[perm[i]] + c;
            moved |= dp[nd] != nd + 1;
            nd++;
        }
    }
    onnx_value like = *x;
    like.bax = newbax;
    if (!moved || nd <= 1) {
        onnx_set_graph(y, x->handle, x->layer, &like, r, dims);
        return DC_OK;
    }
    dc_layer *l = dc_permute_layer(nd, dp);
    int h = onnx_emit(ix, n, l, 1, &x);
    if (h < 0) return dc_last_status();
    onnx_set_graph(y, h, l, &like, r, dims);
    return DC_OK;
}

static dc_status map_cast(onnx_importer *ix, const Onnx__NodeProto *n) {
    onnx_value *x = onnx_in(ix, n, 0), *y = onnx_out(ix, n, 0);
    if (!x) return onnx_fail(ix, n, DC_ERR_FORMAT, "no input");
    if (!y) return DC_OK;
    int64_t to = onnx_attr_int(n, "to", 1);
    bool to_float = to == ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT || to == ONNX__TENSOR_PROTO__DATA_TYPE__DOUBLE ||
                    to == ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT16 || to == ONNX__TENSOR_PROTO__DATA_TYPE__BFLOAT16;
    if (x->kind == ONNX_GRAPH) {
        if (!to_float) return onnx_fail(ix, n, DC_ERR_FORMAT, "a computed value cast to type %lld; deepc computes in float", (long long)to);
        return copy_value(ix, y, x);
    }
    dc_status s = copy_value(ix, y, x);
    if (s || y->kind != ONNX_CONST) return s;
    if (!to_float) {
        int64_t c = onnx_count(y->ndim, y->dims);
        for (int64_t i = 0; i < c; i++) y->data[i] = to == ONNX__TENSOR_PROTO__DATA_TYPE__BOOL ? (y->data[i] != 0) : trunc(y->data[i]);
    }
    y->is_int = !to_float;
    return DC_OK;
}

static dc_status map_constant_of_shape(onnx_importer *ix, const Onnx__NodeProto *n) {
    onnx_value *shp = onnx_in(ix, n, 0), *y = onnx_out(ix, n, 0);
    if (!shp || shp->kind != ONNX_CONST || shp->ndim != 1 || shp->dims[0] > DC_MAX_DIMS)
        return onnx_fail(ix, n, DC_ERR_FORMAT, "the shape must be a constant list of at most %d sizes", DC_MAX_DIMS);
    if (!y) return DC_OK;
    double fill = 0;
    bool is_int = false;
    const Onnx__TensorProto *t = onnx_attr_tensor(n, "value");
    if (t) {
        onnx_value v = {.name = y->name};
        dc_status s = onnx_const_from_tensor(ix, &v, t, y->name);
        if (!s && onnx_count(v.ndim, v.dims) != 1) s = onnx_fail(ix, n, DC_ERR_FORMAT, "the value must be one element");
        if (!s) fill = v.data[0];
        is_int = v.is_int;
        free(v.data);
        if (s) return s;
    }
    int nd = (int)shp->dims[0], bax = -1;
    int64_t dims[DC_MAX_DIMS];
    for (int i = 0; i < nd; i++) {
        dims[i] = to_i64(shp->data[i]);
        if (dims[i] > ONNX_MAX_DIM) return onnx_fail(ix, n, DC_ERR_SHAPE, "entry %d is %lld, above 2^31", i, (long long)dims[i]);
        if (dims[i] < 0) return onnx_fail(ix, n, DC_ERR_SHAPE, "entry %d is %lld", i, (long long)dims[i]);
        if (shp->npow && shp->npow[i]) bax = i;
    }
    if (bax < 0) {
        dc_status s = onnx_const_make(ix, y, nd, dims);
        if (s) return s;
        int64_t c = onnx_count(nd, dims);
        for (int64_t i = 0; i < c; i++) y->data[i] = fill;
        y->is_int = is_int;
        return DC_OK;
    }
    free(y->data);
    free(y->npow);
    y->data = NULL;
    y->npow = NULL;
    y->kind = ONNX_FILL;
    y->fill = fill;
    y->ndim = nd;
    memcpy(y->dims, dims, sizeof dims);
    y->bax = bax;
    y->pre = dims[bax];
    y->post = 1;
    return DC_OK;
}

/* Slice of a constant list (shape arithmetic) or of a computed value along axes other than the
 * batch, step 1. */
static dc_status map_slice(onnx_importer *ix, const Onnx__NodeProto *n) {
    onnx_value *x = onnx_in(ix, n, 0), *y = onnx_out(ix, n, 0);
    if (!x) return onnx_fail(ix, n, DC_ERR_FORMAT, "no input");
    if (!y) return DC_OK;
    int64_t st[DC_MAX_DIMS + 1], en[DC_MAX_DIMS + 1], ax[DC_MAX_DIMS + 1], sp[DC_MAX_DIMS + 1];
    int k, ke, ka, ks;
    if (onnx_opset(ix) < 10) {
        k = onnx_attr_ints(n, "starts", st, DC_MAX_DIMS);
        ke = onnx_attr_ints(n, "ends", en, DC_MAX_DIMS);
        ka = onnx_attr_ints(n, "axes", ax, DC_MAX_DIMS);
        ks = -1;
    } else {
        onnx_value *a = onnx_in(ix, n, 3), *s = onnx_in(ix, n, 4);
        k = onnx_in(ix, n, 1) ? onnx_const_ints(onnx_in(ix, n, 1), st, DC_MAX_DIMS) : -1;
        ke = onnx_in(ix, n, 2) ? onnx_const_ints(onnx_in(ix, n, 2), en, DC_MAX_DIMS) : -1;
        ka = a ? onnx_const_ints(a, ax, DC_MAX_DIMS) : -1;
        ks = s ? onnx_const_ints(s, sp, DC_MAX_DIMS) : -1;
        if ((a && ka < 0) || (s && ks < 0)) k = -1;
    }
    if (k < 0 || ke != k || (ka >= 0 && ka != k) || (ks >= 0 && ks != k))
        return onnx_fail(ix, n, DC_ERR_FORMAT, "starts, ends, axes and steps must be constant lists of one length");
    if (ka < 0)
        for (int i = 0; i < k; i++) ax[i] = i;
    if (ks < 0)
        for (int i = 0; i < k; i++) sp[i] = 1;
    int64_t lo[DC_MAX_DIMS], hi[DC_MAX_DIMS], step[DC_MAX_DIMS], dims[DC_MAX_DIMS];
    for (int d = 0; d < x->ndim; d++) {
        lo[d] = 0;
        hi[d] = x->dims[d];
        step[d] = 1;
    }
    for (int i = 0; i < k; i++) {
        int a = onnx_axis(ax[i], x->ndim);
        if (a < 0 || sp[i] == 0 || sp[i] > ONNX_MAX_DIM || sp[i] < -ONNX_MAX_DIM)
            return onnx_fail(ix, n, DC_ERR_FORMAT, "axis %lld or step %lld", (long long)ax[i], (long long)sp[i]);
        if (x->kind != ONNX_CONST && a == x->bax) {
            /* the batch axis: only the whole of it, whatever its size */
            if (st[i] != 0 || en[i] < ONNX_MAX_DIM || sp[i] != 1) return onnx_fail(ix, n, DC_ERR_FORMAT, "slicing the batch axis");
            continue;
        }
        int64_t D = x->dims[a], s = st[i], e = en[i];
        if (s < 0) s += D;
        if (e < 0) e += D;
        if (sp[i] > 0) {
            s = s < 0 ? 0 : s > D ? D : s;
            e = e < 0 ? 0 : e > D ? D : e;
        } else {
            s = s < 0 ? -1 : s > D - 1 ? D - 1 : s;
            e = e < -1 ? -1 : e > D - 1 ? D - 1 : e;
        }
        lo[a] = s;
        hi[a] = e;
        step[a] = sp[i];
    }
    for (int d = 0; d < x->ndim; d++) {
        int64_t len = step[d] > 0 ? (hi[d] - lo[d] + step[d] - 1) / step[d] : (lo[d] - hi[d] - step[d] - 1) / -step[d];
        dims[d] = len > 0 ? len : 0;
    }
    if (x->kind == ONNX_CONST) {
        onnx_value t = {.name = y->name};
        dc_status s = onnx_const_make(ix, &t, x->ndim, dims);
        if (s || (x->npow && (s = set_npow(ix, &t)))) {
            free(t.data);
            return s;
        }
        int64_t sx[DC_MAX_DIMS], c = onnx_count(x->ndim, dims);
        strides_of(x->ndim, x->dims, sx);
        for (int64_t i = 0; i < c; i++) {
            int64_t rem = i, from = 0;
            for (int d = x->ndim - 1; d >= 0; d--) {
                from += (lo[d] + (rem % dims[d]) * step[d]) * sx[d];
                rem /= dims[d];
            }
            t.data[i] = x->data[from];
            if (t.npow) t.npow[i] = x->npow[from];
        }
        t.is_int = x->is_int;
        free(y->data);
        free(y->npow);
        y->kind = ONNX_CONST;
        y->ndim = t.ndim;
        memcpy(y->dims, t.dims, sizeof t.dims);
        y->data = t.data;
        y->npow = t.npow;
        y->is_int = t.is_int;
        return DC_OK;
    }
    dc_status s = need_graph(ix, n, x, 0);
    if (s) return s;
    onnx_value cur = *x, next;
    for (int d = 0; d < x->ndim; d++) {
        if (dims[d] == x->dims[d] && step[d] == 1) continue;
        if (d == x->bax) return onnx_fail(ix, n, DC_ERR_FORMAT, "slicing the batch axis");
        if (step[d] != 1 || dims[d] < 1) return onnx_fail(ix, n, DC_ERR_FORMAT, "deepc slices computed values with step 1 and at least one element");
        dc_layer *l = dc_slice_layer(onnx_deepc_axis(&cur, d), lo[d], lo[d] + dims[d]);
        onnx_value *pc = &cur;
        int h = onnx_emit(ix, n, l, 1, &pc);
        if (h < 0) return dc_last_status();
        int64_t nd2[DC_MAX_DIMS];
        memcpy(nd2, cur.dims, sizeof nd2);
        nd2[d] = dims[d];
        next = (onnx_value){.name = y->name};
        onnx_set_graph(&next, h, l, &cur, cur.ndim, nd2);
        cur = next;
    }
    return copy_value(ix, y, &cur);
}

/* ---- element-wise arithmetic ---- */
static dc_status map_binary(onnx_importer *ix, const Onnx__NodeProto *n, dc_arith_op op, char sym) {
    onnx_value *a = onnx_in(ix, n, 0), *b = onnx_in(ix, n, 1), *y = onnx_out(ix, n, 0);
    if (!a || !b) return onnx_fail(ix, n, DC_ERR_FORMAT, "takes two inputs");
    if (!y) return DC_OK;
    if (a->kind == ONNX_CONST && b->kind == ONNX_CONST) return fold_binary(ix, n, sym, a, b, y);
    if (a->kind == ONNX_GRAPH && b->kind == ONNX_GRAPH) {
        /* two computed values: the batch must sit alike once the ranks are aligned */
        int r = a->ndim > b->ndim ? a->ndim : b->ndim;
        onnx_value *in[2] = {a, b}, al[2];
        for (int k = 0; k < 2; k++) {
            int pad = r - in[k]->ndim;
            al[k] = *in[k];
            al[k].ndim = r;
            for (int i = 0; i < r; i++) al[k].dims[i] = i < pad ? 1 : in[k]->dims[i - pad];
            al[k].bax = in[k]->bax + pad;
        }
        if (al[0].bax != al[1].bax || a->pre != b->pre || a->post != b->post)
            return onnx_fail(ix, n, DC_ERR_FORMAT, "the inputs hold the batch in different axes (%d of %d, %d of %d)", a->bax, a->ndim,
                             b->bax, b->ndim);
        int64_t dims[DC_MAX_DIMS];
        for (int i = 0; i < r; i++) {
            int64_t x = al[0].dims[i], z = al[1].dims[i];
            if (x != z && x != 1 && z != 1) return onnx_fail(ix, n, DC_ERR_SHAPE, "the inputs do not broadcast in axis %d", i);
            dims[i] = x == 1 ? z : x;
        }
        /* both deepc tensors as of rank r (leading axes of 1 after N) */
        onnx_value *pins[2];
        onnx_value tmp[2];
        for (int k = 0; k < 2; k++) {
            pins[k] = in[k];
            if (in[k]->ndim < r) {
                tmp[k] = (onnx_value){.name = y->name};
                dc_status s = onnx_reshape(ix, n, in[k], r, al[k].dims, al[k].bax, &tmp[k]);
                if (s) return s;
                pins[k] = &tmp[k];
            }
        }
        dc_layer *l = dc_arithmetic_layer(op);
        int h = onnx_emit(ix, n, l, 2, pins);
        if (h < 0) return dc_last_status();
        onnx_set_graph(y, h, l, &al[0], r, dims);
        return DC_OK;
    }
    /* a computed value and a constant: the layer holds the constant */
    bool reverse = a->kind != ONNX_GRAPH;
    onnx_value *x = reverse ? b : a, *c = reverse ? a : b;
    if (x->kind != ONNX_GRAPH) return onnx_fail(ix, n, DC_ERR_FORMAT, "an input deepc cannot compute (a filled constant of batch size)");
    if (!onnx_is_static(c)) return onnx_fail(ix, n, DC_ERR_FORMAT, "the constant depends on the batch size");
    int r = x->ndim;
    if (c->ndim > r) {
        for (int i = 0; i < c->ndim - r; i++)
            if (c->dims[i] != 1) return onnx_fail(ix, n, DC_ERR_SHAPE, "the constant has more axes than the computed value");
    }
    /* the constant in the layout of x: axis bax of 1, split into pre and post when x splits */
    int64_t cd[DC_MAX_DIMS], dims[DC_MAX_DIMS], vsh[DC_MAX_DIMS];
    for (int i = 0; i < r; i++) {
        int ci = i - (r - c->ndim);
        cd[i] = ci < 0 ? 1 : c->dims[ci];
        if (cd[i] != x->dims[i] && cd[i] != 1 && x->dims[i] != 1) return onnx_fail(ix, n, DC_ERR_SHAPE, "the inputs do not broadcast in axis %d", i);
        dims[i] = cd[i] == 1 ? x->dims[i] : cd[i];
        if (i == x->bax && cd[i] != 1) return onnx_fail(ix, n, DC_ERR_FORMAT, "the constant varies along the batch axis");
    }
    int k = 0;
    for (int i = 0; i < r; i++) {
        if (i != x->bax) vsh[k++] = cd[i];
        else {
            if (x->pre > 1) vsh[k++] = 1;
            if (x->post > 1) vsh[k++] = 1;
        }
    }
    if (k == 0) vsh[k++] = 1;
    /* leading axes of 1 need not be held */
    int lead = 0;
    while (lead < k - 1 && vsh[lead] == 1) lead++;
    bool commut = op == DC_ARITH_ADD || op == DC_ARITH_MUL;
    dc_layer *l = dc_arithmetic_value_layer(op, k - lead, vsh + lead, reverse && !commut, c->is_weight);
    int h = onnx_emit(ix, n, l, 1, &x);
    dc_status s;
    if (h < 0 || (s = onnx_param_value(ix, n, l, "value", c))) return h < 0 ? dc_last_status() : s;
    onnx_set_graph(y, h, l, x, r, dims);
    return DC_OK;
}
static dc_status map_add(onnx_importer *ix, const Onnx__NodeProto *n) { return map_binary(ix, n, DC_ARITH_ADD, '+'); }
static dc_status map_sub(onnx_importer *ix, const Onnx__NodeProto *n) { return map_binary(ix, n, DC_ARITH_SUB, '-'); }
static dc_status map_mul(onnx_importer *ix, const Onnx__NodeProto *n) { return map_binary(ix, n, DC_ARITH_MUL, '*'); }
static dc_status map_div(onnx_importer *ix, const Onnx__NodeProto *n) { return map_binary(ix, n, DC_ARITH_DIV, '/'); }

/* ---- linear layers ---- */
/* A Dense layer on the last axis of x with W [units, in] (row-major floats) and an optional
 * bias, giving y. */
static dc_status emit_dense(onnx_importer *ix, const Onnx__NodeProto *n, onnx_value *x, int64_t units, const float *W,
                            const float *bias, onnx_value *y) {
    int last = x->ndim - 1;
    if (last < 0 || last == x->bax) return onnx_fail(ix, n, DC_ERR_FORMAT, "the features axis holds the batch");
    dc_layer *l = dc_dense(units, DC_ACT_NONE);
    if (l && !bias) dc_layer_set_use_bias(l, false);
    int h = onnx_emit(ix, n, l, 1, &x);
    if (h < 0) return dc_last_status();
    dc_status s = onnx_param(ix, n, l, "weight", W, units * x->dims[last]);
    if (!s && bias) s = onnx_param(ix, n, l, "bias", bias, units);
    if (s) return s;
    int64_t dims[DC_MAX_DIMS];
    memcpy(dims, x->dims, sizeof dims);
    dims[last] = units;
    onnx_set_graph(y, h, l, x, x->ndim, dims);
    return DC_OK;
}

static dc_status map_matmul(onnx_importer *ix, const Onnx__NodeProto *n) {
    onnx_value *a = onnx_in(ix, n, 0), *b = onnx_in(ix, n, 1), *y = onnx_out(ix, n, 0);
    if (!a || !b) return onnx_fail(ix, n, DC_ERR_FORMAT, "takes two inputs");
    if (!y) return DC_OK;
    dc_status s = need_graph(ix, n, a, 0);
    if (s) return s;
    if (onnx_is_static(b) && b->ndim == 2) {
        int64_t K = b->dims[0], M = b->dims[1];
        if (a->dims[a->ndim - 1] != K) return onnx_fail(ix, n, DC_ERR_SHAPE, "%lld features times a [%lld, %lld] matrix", (long long)a->dims[a->ndim - 1], (long long)K, (long long)M);
        float *W = malloc((size_t)(K * M + 1) * sizeof *W); /* [M, K]: Dense's weight is B^T */
        if (!W) return dc_error(DC_ERR_NOMEM, "onnx import: weight");
        for (int64_t i = 0; i < K; i++)
            for (int64_t j = 0; j < M; j++) W[j * K + i] = (float)b->data[i * M + j];
        s = emit_dense(ix, n, a, M, W, NULL, y);
        free(W);
        return s;
    }
    if ((s = need_graph(ix, n, b, 1))) return s;
    int r = a->ndim;
    if (r < 3 || b->ndim != r || a->bax != b->bax || a->pre != b->pre || a->post != b->post || a->bax >= r - 2)
        return onnx_fail(ix, n, DC_ERR_FORMAT, "deepc multiplies two computed values of one rank (3 or more) with the batch alike in a leading axis");
    dc_layer *l = dc_matmul_layer();
    onnx_value *ins[2] = {a, b};
    int h = onnx_emit(ix, n, l, 2, ins);
    if (h < 0) return dc_last_status();
    int64_t dims[DC_MAX_DIMS];
    memcpy(dims, a->dims, sizeof dims);
    dims[r - 1] = b->dims[r - 1];
    onnx_set_graph(y, h, l, a, r, dims);
    return DC_OK;
}

static dc_status map_gemm(onnx_importer *ix, const Onnx__NodeProto *n) {
    onnx_value *a = onnx_in(ix, n, 0), *b = onnx_in(ix, n, 1), *c = onnx_in(ix, n, 2), *y = onnx_out(ix, n, 0);
    dc_status s = need_graph(ix, n, a, 0);
    if (s || (s = need_static(ix, n, b, 1))) return s;
    if (!y) return DC_OK;
    if (onnx_attr_int(n, "transA", 0)) return onnx_fail(ix, n, DC_ERR_FORMAT, "transA = 1 (the batch would become the features)");
    if (a->ndim != 2 || b->ndim != 2) return onnx_fail(ix, n, DC_ERR_FORMAT, "Gemm takes two matrices");
    bool tb = onnx_attr_int(n, "transB", 0) != 0;
    double alpha = onnx_attr_float(n, "alpha", 1.0f), beta = onnx_attr_float(n, "beta", 1.0f);
    int64_t K = tb ? b->dims[1] : b->dims[0], M = tb ? b->dims[0] : b->dims[1];
    if (a->dims[1] != K) return onnx_fail(ix, n, DC_ERR_SHAPE, "%lld features into a matrix of %lld rows", (long long)a->dims[1], (long long)K);
    float *W = malloc((size_t)(K * M + 1) * sizeof *W), *bias = NULL;
    if (!W) return dc_error(DC_ERR_NOMEM, "onnx import: weight");
    for (int64_t i = 0; i < M; i++)
        for (int64_t k = 0; k < K; k++) W[i * K + k] = (float)(alpha * (tb ? b->data[i * K + k] : b->data[k * M + i]));
    if (c) {
        int64_t cc = onnx_count(c->ndim, c->dims);
        bool ok = onnx_is_static(c) && (cc == 1 || cc == M) && (c->ndim < 2 || c->dims[0] == 1);
        if (!ok || !(bias = malloc((size_t)M * sizeof *bias))) {
            free(W);
            return ok ? dc_error(DC_ERR_NOMEM, "onnx import: bias") : onnx_fail(ix, n, DC_ERR_FORMAT, "C must be a constant of 1 or %lld values per row", (long long)M);
        }
        for (int64_t i = 0; i < M; i++) bias[i] = (float)(beta * c->data[cc == 1 ? 0 : i]);
    }
    s = emit_dense(ix, n, a, M, W, bias, y);
    free(W);
    free(bias);
    return s;
}

/* ---- activations ---- */
static dc_status emit_act(onnx_importer *ix, const Onnx__NodeProto *n, dc_activation act, float alpha) {
    onnx_value *x = onnx_in(ix, n, 0), *y = onnx_out(ix, n, 0);
    dc_status s = need_graph(ix, n, x, 0);
    if (s || !y) return s;
    if (act == DC_ACT_SOFTMAX || act == DC_ACT_LOG_SOFTMAX) {
        int axis = onnx_axis(onnx_attr_int(n, "axis", onnx_opset(ix) < 13 ? 1 : -1), x->ndim);
        int64_t sh[DC_MAX_DIMS];
        int r = onnx_deepc_shape(x, sh);
        /* before opset 13 the axis splits the tensor in two, so only the last axis is the same */
        bool last = axis == x->ndim - 1 || (onnx_opset(ix) < 13 && axis >= 0);
        for (int i = axis + 1; onnx_opset(ix) < 13 && axis >= 0 && i < x->ndim; i++) last &= x->dims[i] == 1 && i != x->bax;
        int da = axis >= 0 && axis != x->bax ? onnx_deepc_axis(x, axis) : -1;
        bool split = axis == x->bax && (x->pre > 1 || x->post > 1);
        if (axis < 0 || split || da < 0 || (onnx_opset(ix) < 13 && !last))
            return onnx_fail(ix, n, DC_ERR_FORMAT, "deepc's softmax runs over one axis after the batch (axis %lld of %d)", (long long)onnx_attr_int(n, "axis", -1), x->ndim);
        if (da != r) {
            /* another axis than the last: moved last (Permute), the softmax, and moved back */
            int fwd[DC_MAX_DIMS], back[DC_MAX_DIMS], k = 0;
            for (int i = 1; i <= r; i++)
                if (i != da) fwd[k++] = i;
            fwd[k] = da;
            for (int i = 0; i < r; i++) back[fwd[i] - 1] = i + 1;
            onnx_value moved = *x;
            onnx_value *pm = &moved;
            dc_layer *p1 = dc_permute_layer(r, fwd), *a = dc_activation_layer(act), *p2 = dc_permute_layer(r, back);
            if ((moved.handle = onnx_emit(ix, n, p1, 1, &x)) < 0) {
                dc_layer_free(a);
                dc_layer_free(p2);
                return dc_last_status();
            }
            if ((moved.handle = onnx_emit(ix, n, a, 1, &pm)) < 0) {
                dc_layer_free(p2);
                return dc_last_status();
            }
            int h = onnx_emit(ix, n, p2, 1, &pm);
            if (h < 0) return dc_last_status();
            onnx_set_graph(y, h, p2, x, x->ndim, x->dims);
            return DC_OK;
        }
    }
    dc_layer *l = dc_activation_layer(act);
    if (l && alpha != 0) dc_layer_set_alpha(l, alpha);
    int h = onnx_emit(ix, n, l, 1, &x);
    if (h < 0) return dc_last_status();
    onnx_set_graph(y, h, l, x, x->ndim, x->dims);
    return DC_OK;
}
static dc_status map_relu(onnx_importer *ix, const Onnx__NodeProto *n) { return emit_act(ix, n, DC_ACT_RELU, 0); }
static dc_status map_sigmoid(onnx_importer *ix, const Onnx__NodeProto *n) { return emit_act(ix, n, DC_ACT_SIGMOID, 0); }
static dc_status map_tanh(onnx_importer *ix, const Onnx__NodeProto *n) { return emit_act(ix, n, DC_ACT_TANH, 0); }
static dc_status map_softmax(onnx_importer *ix, const Onnx__NodeProto *n) { return emit_act(ix, n, DC_ACT_SOFTMAX, 0); }
static dc_status map_log_softmax(onnx_importer *ix, const Onnx__NodeProto *n) { return emit_act(ix, n, DC_ACT_LOG_SOFTMAX, 0); }
static dc_status map_leaky_relu(onnx_importer *ix, const Onnx__NodeProto *n) {
    return emit_act(ix, n, DC_ACT_LEAKY_RELU, onnx_attr_float(n, "alpha", 0.01f));
}
static dc_status map_elu(onnx_importer *ix, const Onnx__NodeProto *n) { return emit_act(ix, n, DC_ACT_ELU, onnx_attr_float(n, "alpha", 1.0f)); }

/* PyTorch's exact GELU at opsets below 20: y = (x * ((erf(x / sqrt 2) + 1))) * 0.5, as the nodes
 * Div(x, 1.4142135) -> Erf -> Add(1) -> Mul(x, .) -> Mul(., 0.5). The pattern claims the five
 * nodes; the last becomes one GELU layer. */
/* Whether v is one element equal to want (within tol): a constant, or the output of a Constant
 * node (patterns run before any node is mapped). */
static bool is_scalar(onnx_importer *ix, const onnx_value *v, double want, double tol) {
    if (!v) return false;
    if (v->kind == ONNX_CONST) return onnx_is_static(v) && onnx_count(v->ndim, v->dims) == 1 && fabs(v->data[0] - want) <= tol;
    const Onnx__NodeProto *p = onnx_producer(ix, v);
    const Onnx__TensorProto *t = p && !strcmp(p->op_type, "Constant") ? onnx_attr_tensor(p, "value") : NULL;
    if (!t) return false;
    onnx_value c = {.name = v->name};
    bool ok = !onnx_const_from_tensor(ix, &c, t, v->name) && onnx_count(c.ndim, c.dims) == 1 && fabs(c.data[0] - want) <= tol;
    free(c.data);
    dc_clear_error();
    return ok;
}
/* The sole live reader of the first output of node p, when it is of operator op. */
static const Onnx__NodeProto *sole_next(onnx_importer *ix, const Onnx__NodeProto *p, const char *op) {
    onnx_value *v = onnx_out(ix, p, 0);
    if (!v || onnx_reader_count(ix, v) != 1) return NULL;
    const Onnx__NodeProto *r = onnx_reader(ix, v, 0);
    return r && !strcmp(r->op_type, op) && r->n_input == 2 ? r : NULL;
}
/* The other input of a two-input node r than the value named `name`. */
static onnx_value *other_input(onnx_importer *ix, const Onnx__NodeProto *r, const char *name) {
    return !strcmp(r->input[0], name) ? onnx_in(ix, r, 1) : onnx_in(ix, r, 0);
}
static dc_status map_gelu_fused(onnx_importer *ix, const Onnx__NodeProto *n) {
    /* n is the final Mul by 0.5; its other input comes from Mul(x, erf + 1) */
    onnx_value *y = onnx_out(ix, n, 0), *x = NULL;
    for (int i = 0; i < 2 && !x; i++) {
        const Onnx__NodeProto *p = onnx_producer(ix, onnx_in(ix, n, i));
        if (p && !strcmp(p->op_type, "Mul"))
            for (int j = 0; j < 2 && !x; j++)
                if (onnx_in(ix, p, j)->kind == ONNX_GRAPH) x = onnx_in(ix, p, j);
    }
    if (!x) return onnx_fail(ix, n, DC_ERR_FORMAT, "the GELU pattern lost its input");
    dc_layer *l = dc_activation_layer(DC_ACT_GELU);
    int h = onnx_emit(ix, n, l, 1, &x);
    if (h < 0) return dc_last_status();
    if (y) onnx_set_graph(y, h, l, x, x->ndim, x->dims);
    return DC_OK;
}
static dc_status pattern_gelu(onnx_importer *ix, const Onnx__NodeProto *n) {
    if (strcmp(n->op_type, "Div") || n->n_input != 2) return DC_OK;
    onnx_value *x = onnx_in(ix, n, 0);
    if (!x || !is_scalar(ix, onnx_in(ix, n, 1), sqrt(2.0), 1e-5)) return DC_OK;
    const Onnx__NodeProto *erf = sole_next(ix, n, "Erf");
    if (!erf) {
        onnx_value *v = onnx_out(ix, n, 0);
        const Onnx__NodeProto *r = v && onnx_reader_count(ix, v) == 1 ? onnx_reader(ix, v, 0) : NULL;
        if (!r || strcmp(r->op_type, "Erf")) return DC_OK;
        erf = r;
    }
    const Onnx__NodeProto *add = sole_next(ix, erf, "Add");
    if (!add || !is_scalar(ix, other_input(ix, add, erf->output[0]), 1.0, 0)) return DC_OK;
    const Onnx__NodeProto *mul = sole_next(ix, add, "Mul");
    if (!mul || other_input(ix, mul, add->output[0]) != x) return DC_OK;
    const Onnx__NodeProto *half = sole_next(ix, mul, "Mul");
    if (!half || !is_scalar(ix, other_input(ix, half, mul->output[0]), 0.5, 0)) return DC_OK;
    onnx_replace(ix, n, NULL);
    onnx_replace(ix, erf, NULL);
    onnx_replace(ix, add, NULL);
    onnx_replace(ix, mul, NULL);
    onnx_replace(ix, half, map_gelu_fused);
    return DC_OK;
}

/* ---- convolutions, pooling, normalisation ---- */
/* kernel_shape, strides, pads ({top, left, bottom, right}) and dilations of a 2-D window. */
/* A window attribute as its 2-D form: a 1-D one (a convolution or pool over [N, C, T], imported
 * as 2-D over [N, C, 1, T]) gets `unit` for the height axis in front; pads {b, e} become
 * {0, b, 0, e}. Returns the count (2, or 4 for pads), -1 when absent, another count when wrong. */
static int attr2(const Onnx__NodeProto *n, const char *name, int64_t *v, bool one_d, int64_t unit) {
    int c = onnx_attr_ints(n, name, v, DC_MAX_DIMS);
    if (!one_d || c < 0) return c;
    if (c == 1) {
        v[1] = v[0];
        v[0] = unit;
        return 2;
    }
    if (c == 2 && !strcmp(name, "pads")) {
        int64_t b = v[0], e = v[1];
        v[0] = v[2] = 0;
        v[1] = b;
        v[3] = e;
        return 4;
    }
    return c + 100; /* a count that fits no rule: the caller's error */
}

/* kernel_shape, strides, pads ({top, left, bottom, right}) and dilations of a 2-D window (x is
 * [N, C, H, W]; one_d: the file's window is 1-D over W). */
static dc_status window(onnx_importer *ix, const Onnx__NodeProto *n, const onnx_value *x, int64_t *k, int64_t *st, int *pad, bool pads_ok,
                        bool one_d) {
    int64_t v[DC_MAX_DIMS + 1];
    int c = attr2(n, "kernel_shape", v, one_d, 1);
    if (c >= 0 && c != 2) return onnx_fail(ix, n, DC_ERR_FORMAT, "deepc imports 1-D and 2-D windows; this one has %d axes", c % 100);
    if (c == 2) {
        k[0] = v[0];
        k[1] = v[1];
    }
    st[0] = st[1] = 1;
    if ((c = attr2(n, "strides", v, one_d, 1)) >= 0) {
        if (c != 2 || v[0] < 1 || v[1] < 1 || v[0] > 1 << 20 || v[1] > 1 << 20) return onnx_fail(ix, n, DC_ERR_FORMAT, "strides");
        st[0] = v[0];
        st[1] = v[1];
    }
    if ((c = attr2(n, "dilations", v, one_d, 1)) >= 0 && (c != 2 || v[0] != 1 || v[1] != 1))
        return onnx_fail(ix, n, DC_ERR_FORMAT, "dilations other than 1 are not supported");
    for (int i = 0; i < 4; i++) pad[i] = 0;
    char buf[32];
    const char *ap = onnx_attr_str(n, "auto_pad", "NOTSET", buf, sizeof buf);
    if ((c = attr2(n, "pads", v, one_d, 0)) >= 0) {
        if (c != 4) return onnx_fail(ix, n, DC_ERR_FORMAT, "pads has %d entries; %d expected", c % 100, one_d ? 2 : 4);
        for (int i = 0; i < 4; i++) {
            if (v[i] < 0 || v[i] > 1 << 20) return onnx_fail(ix, n, DC_ERR_FORMAT, "pad %lld", (long long)v[i]);
            pad[i] = (int)v[i]; /* ONNX: x1_begin, x2_begin, x1_end, x2_end = top, left, bottom, right */
        }
    }
    if (!strcmp(ap, "SAME_UPPER") || !strcmp(ap, "SAME_LOWER")) {
        for (int a = 0; a < 2; a++) {
            int64_t in = x->dims[2 + a], out = (in + st[a] - 1) / st[a], total = (out - 1) * st[a] + k[a] - in;
            if (total < 0) total = 0;
            int small = (int)(total / 2), big = (int)(total - total / 2);
            pad[a] = !strcmp(ap, "SAME_UPPER") ? small : big;
            pad[a + 2] = !strcmp(ap, "SAME_UPPER") ? big : small;
        }
    } else if (strcmp(ap, "NOTSET") && strcmp(ap, "VALID")) {
        return onnx_fail(ix, n, DC_ERR_FORMAT, "auto_pad %s", ap);
    }
    if (!pads_ok && (pad[0] || pad[1] || pad[2] || pad[3])) return onnx_fail(ix, n, DC_ERR_FORMAT, "deepc's pooling layers take no padding");
    return DC_OK;
}

static dc_status map_conv(onnx_importer *ix, const Onnx__NodeProto *n, bool transpose) {
    onnx_value *x = onnx_in(ix, n, 0), *w = onnx_in(ix, n, 1), *b = onnx_in(ix, n, 2), *y = onnx_out(ix, n, 0);
    dc_status s = need_batch_first(ix, n, x, 3, 4);
    if (s || (s = need_static(ix, n, w, 1))) return s;
    if (b && (s = need_static(ix, n, b, 2))) return s;
    if (!y) return DC_OK;
    if (onnx_attr_int(n, "group", 1) != 1) return onnx_fail(ix, n, DC_ERR_FORMAT, "group %lld; deepc's convolutions take 1", (long long)onnx_attr_int(n, "group", 1));
    if (w->ndim != x->ndim) return onnx_fail(ix, n, DC_ERR_FORMAT, "a weight of rank %d for an input of rank %d", w->ndim, x->ndim);
    /* a 1-D convolution over [N, C, T] is the 2-D one over [N, C, 1, T] */
    bool one_d = x->ndim == 3;
    onnx_value x4 = {.name = y->name};
    if (one_d) {
        if ((s = onnx_reshape(ix, n, x, 4, (int64_t[]){1, x->dims[1], 1, x->dims[2]}, 0, &x4))) return s;
        x = &x4;
    }
    int64_t k[2] = {one_d ? 1 : w->dims[2], w->dims[w->ndim - 1]}, st[2], v[DC_MAX_DIMS + 1];
    int pad[4];
    if ((s = window(ix, n, x, k, st, pad, true, one_d))) return s;
    if (k[0] != (one_d ? 1 : w->dims[2]) || k[1] != w->dims[w->ndim - 1]) return onnx_fail(ix, n, DC_ERR_SHAPE, "kernel_shape differs from the weight's");
    int64_t C = x->dims[1], F = transpose ? w->dims[1] : w->dims[0];
    if ((transpose ? w->dims[0] : w->dims[1]) != C) return onnx_fail(ix, n, DC_ERR_SHAPE, "the weight takes another number of channels than %lld", (long long)C);
    if (transpose) {
        /* SAME for a transposed convolution: the output is the input times the stride, the full
         * output (in - 1) stride + k cropped by k - stride (the odd row after for SAME_UPPER) */
        char buf[32];
        const char *ap = onnx_attr_str(n, "auto_pad", "NOTSET", buf, sizeof buf);
        if (!strcmp(ap, "SAME_UPPER") || !strcmp(ap, "SAME_LOWER")) {
            for (int a = 0; a < 2; a++) {
                int64_t total = k[a] - st[a];
                if (total < 0) return onnx_fail(ix, n, DC_ERR_FORMAT, "auto_pad %s with a kernel smaller than the stride", ap);
                int small = (int)(total / 2), big = (int)(total - total / 2);
                pad[a] = !strcmp(ap, "SAME_UPPER") ? small : big;
                pad[a + 2] = !strcmp(ap, "SAME_UPPER") ? big : small;
            }
        }
        int c = onnx_attr_ints(n, "output_padding", v, DC_MAX_DIMS);
        for (int i = 0; i < c; i++)
            if (v[i]) return onnx_fail(ix, n, DC_ERR_FORMAT, "output_padding is not supported");
        if (onnx_has_attr(n, "output_shape")) return onnx_fail(ix, n, DC_ERR_FORMAT, "output_shape is not supported");
    }
    if (b && onnx_count(b->ndim, b->dims) != F) return onnx_fail(ix, n, DC_ERR_SHAPE, "the bias has %lld values for %lld filters", (long long)onnx_count(b->ndim, b->dims), (long long)F);
    dc_layer *l = transpose ? dc_conv2d_transpose_layer(F, (int)k[0], (int)k[1], 1, DC_PAD_VALID, DC_ACT_NONE)
                            : dc_conv2d_layer(F, (int)k[0], (int)k[1], 1, DC_PAD_VALID, DC_ACT_NONE);
    if (l && (dc_layer_set_strides(l, (int)st[0], (int)st[1]) || (!b && dc_layer_set_use_bias(l, false)) ||
              ((pad[0] || pad[1] || pad[2] || pad[3]) && dc_layer_set_padding(l, pad)))) {
        dc_layer_free(l);
        return onnx_fail(ix, n, dc_last_status(), "%s", dc_last_error());
    }
    int h = onnx_emit(ix, n, l, 1, &x);
    if (h < 0) return dc_last_status();
    if ((s = onnx_param_value(ix, n, l, "weight", w)) || (b && (s = onnx_param_value(ix, n, l, "bias", b)))) return s;
    int64_t sh[DC_MAX_DIMS];
    dc_layer_output_shape(l, sh);
    if (!one_d) {
        onnx_set_graph(y, h, l, x, 4, (int64_t[]){1, sh[0], sh[1], sh[2]});
        return DC_OK;
    }
    onnx_value y4 = {.name = y->name};
    onnx_set_graph(&y4, h, l, x, 4, (int64_t[]){1, sh[0], sh[1], sh[2]});
    return onnx_reshape(ix, n, &y4, 3, (int64_t[]){1, sh[0], sh[2]}, 0, y);
}
static dc_status map_conv2d(onnx_importer *ix, const Onnx__NodeProto *n) { return map_conv(ix, n, false); }
static dc_status map_conv_transpose(onnx_importer *ix, const Onnx__NodeProto *n) { return map_conv(ix, n, true); }

static dc_status map_pool(onnx_importer *ix, const Onnx__NodeProto *n, bool max) {
    onnx_value *x = onnx_in(ix, n, 0), *y = onnx_out(ix, n, 0), *ind = onnx_out(ix, n, 1);
    dc_status s = need_batch_first(ix, n, x, 3, 4);
    if (s || !y) return s;
    if (ind && ind->readers) return onnx_fail(ix, n, DC_ERR_FORMAT, "the indices output is not supported");
    /* a 1-D pool over [N, C, T] is the 2-D one over [N, C, 1, T] */
    bool one_d = x->ndim == 3;
    onnx_value x4 = {.name = y->name};
    if (one_d) {
        if ((s = onnx_reshape(ix, n, x, 4, (int64_t[]){1, x->dims[1], 1, x->dims[2]}, 0, &x4))) return s;
        x = &x4;
    }
    int64_t k[2] = {0, 0}, st[2];
    int pad[4];
    if ((s = window(ix, n, x, k, st, pad, false, one_d))) return s;
    /* an axis whose windows fit once takes any stride: one stride for both (deepc's pools) */
    if (x->dims[2] - k[0] < st[0] && x->dims[2] - k[0] < st[1]) st[0] = st[1];
    else if (x->dims[3] - k[1] < st[0] && x->dims[3] - k[1] < st[1]) st[1] = st[0];
    if (k[0] < 1 || k[1] < 1 || k[0] > x->dims[2] || k[1] > x->dims[3]) return onnx_fail(ix, n, DC_ERR_FORMAT, "kernel_shape is missing or larger than the input");
    if (st[0] != st[1]) return onnx_fail(ix, n, DC_ERR_FORMAT, "deepc's pooling takes one stride for both axes");
    if (onnx_attr_int(n, "ceil_mode", 0)) {
        for (int a = 0; a < 2; a++)
            if ((x->dims[2 + a] - k[a]) % st[a]) return onnx_fail(ix, n, DC_ERR_FORMAT, "ceil_mode with a partial last window");
    }
    dc_layer *l = max ? dc_max_pool2d_layer((int)k[0], (int)k[1], (int)st[0]) : dc_avg_pool2d_layer((int)k[0], (int)k[1], (int)st[0]);
    int h = onnx_emit(ix, n, l, 1, &x);
    if (h < 0) return dc_last_status();
    int64_t sh[DC_MAX_DIMS];
    dc_layer_output_shape(l, sh);
    if (!one_d) {
        onnx_set_graph(y, h, l, x, 4, (int64_t[]){1, sh[0], sh[1], sh[2]});
        return DC_OK;
    }
    onnx_value y4 = {.name = y->name};
    onnx_set_graph(&y4, h, l, x, 4, (int64_t[]){1, sh[0], sh[1], sh[2]});
    return onnx_reshape(ix, n, &y4, 3, (int64_t[]){1, sh[0], sh[2]}, 0, y);
}
static dc_status map_max_pool(onnx_importer *ix, const Onnx__NodeProto *n) { return map_pool(ix, n, true); }
static dc_status map_avg_pool(onnx_importer *ix, const Onnx__NodeProto *n) { return map_pool(ix, n, false); }

static dc_status map_global_avg_pool(onnx_importer *ix, const Onnx__NodeProto *n) {
    onnx_value *x = onnx_in(ix, n, 0), *y = onnx_out(ix, n, 0);
    dc_status s = need_batch_first(ix, n, x, 4, 4);
    if (s || !y) return s;
    dc_layer *l = dc_global_avg_pool2d_layer();
    int h = onnx_emit(ix, n, l, 1, &x);
    if (h < 0) return dc_last_status();
    onnx_value mid = {.name = y->name};
    onnx_set_graph(&mid, h, l, x, 2, (int64_t[]){1, x->dims[1]});
    return onnx_reshape(ix, n, &mid, 4, (int64_t[]){1, x->dims[1], 1, 1}, 0, y);
}

static dc_status map_batch_norm(onnx_importer *ix, const Onnx__NodeProto *n) {
    onnx_value *x = onnx_in(ix, n, 0), *y = onnx_out(ix, n, 0);
    dc_status s = need_batch_first(ix, n, x, 2, 4);
    if (s) return s;
    if (x->ndim == 3) return onnx_fail(ix, n, DC_ERR_FORMAT, "deepc normalises [N, C] or [N, C, H, W]");
    for (int i = 1; i <= 4; i++) {
        onnx_value *p = onnx_in(ix, n, i);
        if ((s = need_static(ix, n, p, i))) return s;
        if (onnx_count(p->ndim, p->dims) != x->dims[1]) return onnx_fail(ix, n, DC_ERR_SHAPE, "input %d has %lld values for %lld channels", i, (long long)onnx_count(p->ndim, p->dims), (long long)x->dims[1]);
    }
    if (onnx_attr_int(n, "training_mode", 0)) return onnx_fail(ix, n, DC_ERR_FORMAT, "training_mode = 1 is not supported");
    for (int k = 1; k < (int)n->n_output; k++) {
        onnx_value *o = onnx_out(ix, n, k);
        if (o && o->readers) return onnx_fail(ix, n, DC_ERR_FORMAT, "output %d (running statistics) is not supported", k);
    }
    if (!y) return DC_OK;
    float m = 1.0f - onnx_attr_float(n, "momentum", 0.9f);
    if (!(m > 0 && m <= 1)) m = 0.1f;
    dc_layer *l = dc_batch_norm_layer(m, onnx_attr_float(n, "epsilon", 1e-5f));
    int h = onnx_emit(ix, n, l, 1, &x);
    if (h < 0) return dc_last_status();
    static const char *const names[] = {"gamma", "beta", "running_mean", "running_var"};
    for (int i = 0; i < 4; i++)
        if ((s = onnx_param_value(ix, n, l, names[i], onnx_in(ix, n, i + 1)))) return s;
    onnx_set_graph(y, h, l, x, x->ndim, x->dims);
    return DC_OK;
}

static dc_status map_layer_norm(onnx_importer *ix, const Onnx__NodeProto *n) {
    onnx_value *x = onnx_in(ix, n, 0), *g = onnx_in(ix, n, 1), *b = onnx_in(ix, n, 2), *y = onnx_out(ix, n, 0);
    dc_status s = need_graph(ix, n, x, 0);
    if (s || (s = need_static(ix, n, g, 1)) || (b && (s = need_static(ix, n, b, 2)))) return s;
    int axis = onnx_axis(onnx_attr_int(n, "axis", -1), x->ndim);
    if (axis < 0 || x->bax >= axis)
        return onnx_fail(ix, n, DC_ERR_FORMAT, "axis %lld: deepc normalises axes after the batch's", (long long)onnx_attr_int(n, "axis", -1));
    int64_t D = 1;
    for (int i = axis; i < x->ndim; i++) D *= x->dims[i];
    if (onnx_count(g->ndim, g->dims) != D || (b && onnx_count(b->ndim, b->dims) != D))
        return onnx_fail(ix, n, DC_ERR_SHAPE, "scale and bias must have %lld values", (long long)D);
    for (int k = 1; k < (int)n->n_output; k++) {
        onnx_value *o = onnx_out(ix, n, k);
        if (o && o->readers) return onnx_fail(ix, n, DC_ERR_FORMAT, "output %d (the statistics) is not supported", k);
    }
    if (!y) return DC_OK;
    /* over several axes: those axes as one (a Reshape before and after the layer) */
    onnx_value flat = {.name = y->name};
    onnx_value *in = x;
    int64_t fd[DC_MAX_DIMS];
    memcpy(fd, x->dims, sizeof fd);
    fd[axis] = D;
    if (axis < x->ndim - 1) {
        if ((s = onnx_reshape(ix, n, x, axis + 1, fd, x->bax, &flat))) return s;
        in = &flat;
    }
    int64_t sh[DC_MAX_DIMS];
    if (onnx_deepc_axis(in, axis) != onnx_deepc_shape(in, sh)) return onnx_fail(ix, n, DC_ERR_FORMAT, "deepc normalises the last axis of its tensor");
    dc_layer *l = dc_layer_norm_layer(onnx_attr_float(n, "epsilon", 1e-5f));
    int h = onnx_emit(ix, n, l, 1, &in);
    if (h < 0) return dc_last_status();
    if ((s = onnx_param_value(ix, n, l, "weight", g))) return s;
    if (b && (s = onnx_param_value(ix, n, l, "bias", b))) return s;
    if (in == x) {
        onnx_set_graph(y, h, l, x, x->ndim, x->dims);
        return DC_OK;
    }
    onnx_value normed = {.name = y->name};
    onnx_set_graph(&normed, h, l, in, in->ndim, in->dims);
    return onnx_reshape(ix, n, &normed, x->ndim, x->dims, x->bax, y);
}

static dc_status map_reduce(onnx_importer *ix, const Onnx__NodeProto *n, dc_reduce_op op) {
    onnx_value *x = onnx_in(ix, n, 0), *y = onnx_out(ix, n, 0);
    dc_status s = need_graph(ix, n, x, 0);
    if (s || !y) return s;
    int64_t axes[DC_MAX_DIMS + 1];
    int k = axes_of(ix, n, 1, axes);
    if (k < 1 && onnx_attr_int(n, "noop_with_empty_axes", 0)) return copy_value(ix, y, x); /* no axes: the identity */
    if (k < 1) return onnx_fail(ix, n, DC_ERR_FORMAT, "a reduction over every axis includes the batch");
    bool keep = onnx_attr_int(n, "keepdims", 1) != 0, on[DC_MAX_DIMS] = {false};
    int da[DC_MAX_DIMS];
    for (int i = 0; i < k; i++) {
        int a = onnx_axis(axes[i], x->ndim);
        if (a < 0 || a == x->bax || on[a]) return onnx_fail(ix, n, DC_ERR_FORMAT, "axis %lld is the batch, repeated or out of range", (long long)axes[i]);
        on[a] = true;
        da[i] = onnx_deepc_axis(x, a);
    }
    int64_t dims[DC_MAX_DIMS];
    int nd = 0, bax = x->bax;
    for (int i = 0; i < x->ndim; i++) {
        if (!on[i] || keep) dims[nd++] = on[i] ? 1 : x->dims[i];
        else if (i < x->bax) bax--;
    }
    dc_layer *l = dc_reduce_layer(op, k, da, keep);
    int h = onnx_emit(ix, n, l, 1, &x);
    if (h < 0) return dc_last_status();
    onnx_value like = *x;
    like.bax = bax;
    /* the layer drops the reduced axes; when the sample keeps no axis it gives one of 1 */
    onnx_set_graph(y, h, l, &like, nd, dims);
    return DC_OK;
}
static dc_status map_reduce_mean(onnx_importer *ix, const Onnx__NodeProto *n) { return map_reduce(ix, n, DC_REDUCE_OP_MEAN); }
static dc_status map_reduce_sum(onnx_importer *ix, const Onnx__NodeProto *n) { return map_reduce(ix, n, DC_REDUCE_OP_SUM); }
static dc_status map_reduce_max(onnx_importer *ix, const Onnx__NodeProto *n) { return map_reduce(ix, n, DC_REDUCE_OP_MAX); }

/* ---- recurrent layers: RNN, GRU, LSTM ----
 * X (T, N, I) (layout 0; the batch in axis 1) or (N, T, I) (layout 1) is deepc's [N, T, I].
 * W [1, G H, I], R [1, G H, H], B [1, 2 G H] in ONNX's gate order (LSTM i o f c, GRU z r h)
 * become PyTorch's (LSTM i f g o, GRU r z n). Forward, or bidirectional (a Bidirectional layer
 * joining the two directions' outputs, Y only); zero or absent initial states; no sequence
 * lengths, peepholes or clipping. */
static dc_status map_recurrent(onnx_importer *ix, const Onnx__NodeProto *n, int gates) {
    onnx_value *x = onnx_in(ix, n, 0), *W = onnx_in(ix, n, 1), *R = onnx_in(ix, n, 2), *B = onnx_in(ix, n, 3);
    dc_status s = need_graph(ix, n, x, 0);
    if (s || (s = need_static(ix, n, W, 1)) || (s = need_static(ix, n, R, 2)) || (B && (s = need_static(ix, n, B, 3)))) return s;
    int layout = (int)onnx_attr_int(n, "layout", 0);
    if (x->ndim != 3 || !plain(x) || x->bax != (layout ? 0 : 1))
        return onnx_fail(ix, n, DC_ERR_FORMAT, "X must be (steps, batch, features)%s with the batch alone in its axis", layout ? " in layout 1 (batch, steps, features)" : "");
    char buf[32];
    const char *dir = onnx_attr_str(n, "direction", "forward", buf, sizeof buf);
    int dirs = !strcmp(dir, "bidirectional") ? 2 : 1;
    if (dirs == 1 && strcmp(dir, "forward"))
        return onnx_fail(ix, n, DC_ERR_FORMAT, "direction %s; deepc imports forward and bidirectional recurrent layers", dir);
    if (onnx_has_attr(n, "clip") || onnx_attr_int(n, "input_forget", 0)) return onnx_fail(ix, n, DC_ERR_FORMAT, "clip and input_forget are not supported");
    if (onnx_in(ix, n, 4)) return onnx_fail(ix, n, DC_ERR_FORMAT, "sequence_lens is not supported");
    if (gates == 4 && onnx_in(ix, n, 7)) return onnx_fail(ix, n, DC_ERR_FORMAT, "peepholes are not supported");
    for (int i = 5; i <= (gates == 4 ? 6 : 5); i++) {
        onnx_value *v = onnx_in(ix, n, i);
        bool zero = !v || (v->kind == ONNX_FILL && v->fill == 0);
        if (v && onnx_is_static(v)) {
            zero = true;
            for (int64_t j = 0; j < onnx_count(v->ndim, v->dims); j++) zero &= v->data[j] == 0;
        }
        if (!zero) return onnx_fail(ix, n, DC_ERR_FORMAT, "initial states other than zeros are not supported");
    }
    int64_t H = onnx_attr_int(n, "hidden_size", 0), I = x->dims[2], T = x->dims[layout ? 1 : 0];
    if (H < 1 || H > 1 << 24) return onnx_fail(ix, n, DC_ERR_FORMAT, "hidden_size %lld", (long long)H);
    if (W->ndim != 3 || W->dims[0] != dirs || W->dims[1] != gates * H || W->dims[2] != I || R->ndim != 3 || R->dims[0] != dirs ||
        R->dims[1] != gates * H || R->dims[2] != H || (B && onnx_count(B->ndim, B->dims) != 2 * gates * H * dirs))
        return onnx_fail(ix, n, DC_ERR_SHAPE, "W, R or B do not have the shapes of %d gates of %lld units over %lld features", gates, (long long)H, (long long)I);
    /* activations: ONNX's defaults only (sigmoid and tanh), which are PyTorch's; RNN may use Relu */
    dc_activation rnn_act = DC_ACT_TANH;
    const Onnx__AttributeProto *acts = NULL;
    for (size_t i = 0; i < n->n_attribute; i++)
        if (n->attribute[i]->name && !strcmp(n->attribute[i]->name, "activations")) acts = n->attribute[i];
    for (size_t i = 0; acts && i < acts->n_strings; i++) {
        char a[16];
        size_t len = acts->strings[i].len < 15 ? acts->strings[i].len : 15;
        memcpy(a, acts->strings[i].data, len);
        a[len] = 0;
        size_t j = i % (gates == 1 ? 1 : gates == 3 ? 2 : 3); /* the list repeats per direction */
        const char *want = gates == 1 ? "Tanh" : j == 0 ? "Sigmoid" : "Tanh";
        if (gates == 1 && !strcmp(a, "Relu")) rnn_act = DC_ACT_RELU;
        else if (strcasecmp(a, want)) return onnx_fail(ix, n, DC_ERR_FORMAT, "activation %s is not supported", a);
    }
    if (gates == 3 && !onnx_attr_int(n, "linear_before_reset", 0))
        return onnx_fail(ix, n, DC_ERR_FORMAT, "linear_before_reset = 0; deepc's GRU is PyTorch's (1)");
    onnx_value *Y = onnx_out(ix, n, 0), *Yh = onnx_out(ix, n, 1), *Yc = gates == 4 ? onnx_out(ix, n, 2) : NULL;
    bool seq = Y && Y->readers, want_h = Yh && Yh->readers, want_c = Yc && Yc->readers;
    bool state = want_c || (want_h && seq);
    if (dirs == 2 && (want_h || want_c || !seq))
        return onnx_fail(ix, n, DC_ERR_FORMAT, "a bidirectional layer's final states are not imported (only Y)");
    dc_layer *l = gates == 4 ? dc_lstm_layer(H, seq) : gates == 3 ? dc_gru_layer(H, seq) : dc_simple_rnn_layer(H, rnn_act, seq);
    if (l && state && dc_layer_set_return_state(l, true)) {
        dc_layer_free(l);
        return onnx_fail(ix, n, dc_last_status(), "%s", dc_last_error());
    }
    if (dirs == 2) l = dc_bidirectional(l, DC_MERGE_CONCAT);
    int h = onnx_emit(ix, n, l, 1, &x);
    if (h < 0) return dc_last_status();
    /* PyTorch's gate k is ONNX's gate perm[k] */
    static const int lstm_perm[4] = {0, 2, 3, 1}, gru_perm[3] = {1, 0, 2}, rnn_perm[1] = {0};
    const int *perm = gates == 4 ? lstm_perm : gates == 3 ? gru_perm : rnn_perm;
    int64_t G = gates * H;
    float *wi = malloc((size_t)(G * I) * sizeof *wi), *wh = malloc((size_t)(G * H) * sizeof *wh);
    float *bi = calloc((size_t)G, sizeof *bi), *bh = calloc((size_t)G, sizeof *bh);
    if (!wi || !wh || !bi || !bh) s = dc_error(DC_ERR_NOMEM, "onnx import: recurrent weights");
    for (int d = 0; !s && d < dirs; d++) {
        /* direction d's block of W, R and B; a Bidirectional layer names its copies forward.* and backward.* */
        const double *w = W->data + d * G * I, *rr = R->data + d * G * H, *b = B ? B->data + d * 2 * G : NULL;
        for (int k = 0; k < gates; k++) {
            int64_t from = perm[k] * H;
            for (int64_t r = 0; r < H; r++) {
                for (int64_t c = 0; c < I; c++) wi[(k * H + r) * I + c] = (float)w[(from + r) * I + c];
                for (int64_t c = 0; c < H; c++) wh[(k * H + r) * H + c] = (float)rr[(from + r) * H + c];
                if (b) {
                    bi[k * H + r] = (float)b[from + r];
                    bh[k * H + r] = (float)b[G + from + r];
                }
            }
        }
        const char *pre = dirs == 1 ? "" : d ? "backward." : "forward.";
        char name[48];
        snprintf(name, sizeof name, "%sweight_ih", pre);
        s = onnx_param(ix, n, l, name, wi, G * I);
        snprintf(name, sizeof name, "%sweight_hh", pre);
        if (!s) s = onnx_param(ix, n, l, name, wh, G * H);
        if (!s && gates == 3) {
            snprintf(name, sizeof name, "%sbias_ih", pre);
            s = onnx_param(ix, n, l, name, bi, G);
            snprintf(name, sizeof name, "%sbias_hh", pre);
            if (!s) s = onnx_param(ix, n, l, name, bh, G);
        } else if (!s) {
            for (int64_t i = 0; i < G; i++) bi[i] += bh[i]; /* one bias: ONNX's Wb + Rb */
            snprintf(name, sizeof name, "%sbias", pre);
            s = onnx_param(ix, n, l, name, bi, G);
        }
    }
    free(wi);
    free(wh);
    free(bi);
    free(bh);
    if (s) return s;
    if (dirs == 2) {
        /* [N, T, 2 H], the directions side by side: Y (T, 2, N, H) [(N, T, 2, H)] is the same data
         * as [N, T, 2, H] */
        dc_layer *r = dc_reshape_layer(3, (int64_t[]){T, 2, H});
        onnx_value mid = *x;
        mid.handle = h;
        onnx_value *pm = &mid;
        int hr = onnx_emit(ix, n, r, 1, &pm);
        if (hr < 0) return dc_last_status();
        onnx_value like = *x;
        like.bax = layout ? 0 : 2;
        onnx_set_graph(Y, hr, r, &like, 4, layout ? (int64_t[]){1, T, 2, H} : (int64_t[]){T, 2, 1, H});
        return DC_OK;
    }
    /* Y (T, 1, N, H) [(N, T, 1, H) in layout 1]; Y_h and Y_c (1, N, H) [(N, 1, H)] */
    onnx_value base = *x;
    base.bax = 0;
    if (seq) {
        onnx_value mid = {.name = Y->name};
        onnx_set_graph(&mid, h, l, &base, 3, (int64_t[]){1, T, H});
        if (layout) s = onnx_reshape(ix, n, &mid, 4, (int64_t[]){1, T, 1, H}, 0, Y);
        else {
            onnx_value tr = mid;
            tr.bax = 1;
            tr.ndim = 3;
            tr.dims[0] = T;
            tr.dims[1] = 1;
            tr.dims[2] = H; /* (T, N, H): the same deepc tensor [N, T, H] */
            s = onnx_reshape(ix, n, &tr, 4, (int64_t[]){T, 1, 1, H}, 2, Y);
        }
        if (s) return s;
    }
    onnx_value *st[2] = {want_h ? Yh : NULL, want_c ? Yc : NULL};
    for (int k = 0; k < 2; k++) {
        if (!st[k]) continue;
        int hk = state ? onnx_output_of(ix, h, k + 1) : h;
        onnx_value mid = {.name = st[k]->name};
        onnx_set_graph(&mid, hk, l, &base, 2, (int64_t[]){1, H});
        if ((s = onnx_reshape(ix, n, &mid, 3, layout ? (int64_t[]){1, 1, H} : (int64_t[]){1, 1, H}, layout ? 0 : 1, st[k]))) return s;
    }
    return DC_OK;
}
static dc_status map_lstm(onnx_importer *ix, const Onnx__NodeProto *n) { return map_recurrent(ix, n, 4); }
static dc_status map_gru(onnx_importer *ix, const Onnx__NodeProto *n) { return map_recurrent(ix, n, 3); }
static dc_status map_rnn(onnx_importer *ix, const Onnx__NodeProto *n) { return map_recurrent(ix, n, 1); }

const onnx_op dc_onnx_ops_core[] = {
    {"Identity", map_identity},
    {"Dropout", map_dropout},
    {"Constant", map_constant},
    {"Shape", map_shape},
    {"Gather", map_gather},
    {"Unsqueeze", map_unsqueeze},
    {"Squeeze", map_squeeze},
    {"Concat", map_concat},
    {"Pad", map_pad},
    {"Reshape", map_reshape},
    {"Flatten", map_flatten},
    {"Transpose", map_transpose},
    {"Cast", map_cast},
    {"ConstantOfShape", map_constant_of_shape},
    {"Slice", map_slice},
    {"Add", map_add},
    {"Sub", map_sub},
    {"Mul", map_mul},
    {"Div", map_div},
    {"MatMul", map_matmul},
    {"Gemm", map_gemm},
    {"Relu", map_relu},
    {"Sigmoid", map_sigmoid},
    {"Tanh", map_tanh},
    {"Softmax", map_softmax},
    {"LogSoftmax", map_log_softmax},
    {"LeakyRelu", map_leaky_relu},
    {"Elu", map_elu},
    {"Conv", map_conv2d},
    {"ConvTranspose", map_conv_transpose},
    {"MaxPool", map_max_pool},
    {"AveragePool", map_avg_pool},
    {"GlobalAveragePool", map_global_avg_pool},
    {"BatchNormalization", map_batch_norm},
    {"LayerNormalization", map_layer_norm},
    {"ReduceMean", map_reduce_mean},
    {"ReduceSum", map_reduce_sum},
    {"ReduceMax", map_reduce_max},
    {"LSTM", map_lstm},
    {"GRU", map_gru},
    {"RNN", map_rnn},
    {NULL, NULL},
};

const onnx_pattern_fn dc_onnx_patterns[] = {pattern_gelu, NULL};
