/* ONNX import: a model file (protobuf, decoded by protobuf-c from ONNX's own onnx.proto) becomes
 * a deepc graph model. The framework here reads and checks the file, decodes its tensors, puts
 * the nodes in topological order, keeps the values they name (onnx_import.h), and hands each
 * node that the output depends on to its operator's mapper (onnx_ops*.c), which adds layers or
 * folds constants. Initialisers a layer takes become its parameters, copied in once the model
 * is built. */
#include "onnx_import.h"

#include "../base/base.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Limits on what a file may hold, so that a hostile one fails before it costs much. */
#define ONNX_MAX_FILE (INT64_C(1) << 31)    /* bytes: protobuf's own limit */
#define ONNX_MAX_DEPTH 32                    /* nested messages (a model needs 4 to 6) */
#define ONNX_MAX_NODES 1000000
#define ONNX_MAX_PARAMS (INT64_C(1) << 31)   /* floats of all parameters together */

typedef struct pending_param {
    dc_layer *layer;
    char name[40];
    float *data;
    int64_t count;
} pending_param;

struct onnx_importer {
    const char *path;
    Onnx__ModelProto *mp;
    Onnx__GraphProto *g;
    int opset;
    onnx_value *vals;
    size_t nvals;
    int *producer;    /* per value: the node making it, -1 for inputs and initialisers */
    int *slot;        /* hash table of value names: index + 1, 0 empty */
    size_t nslot;
    dc_model *m;
    pending_param *pend;
    size_t npend, cpend;
    int64_t nparam_floats;
    size_t alloc_used, alloc_cap; /* the decoder's allocations */
    /* the readers of each value: firstc[value] starts a list of edges (cnode: the reading node,
     * nextc: the next edge); live marks the nodes the output depends on */
    int *firstc, *nextc, *cnode;
    bool *live;
    onnx_map_fn *repl; /* per node: the mapper a pattern chose */
    bool *replaced;
};

/* ---- errors ---- */
/* The last error with `what` in front: the message is copied first, since dc_error writes where
 * dc_last_error reads. */
static dc_status rethrow(dc_status s, const char *path, const char *what) {
    char msg[512];
    snprintf(msg, sizeof msg, "%s", dc_last_error());
    return dc_error(s, "%s: %s%s", path, what, msg);
}

static const char *node_label(const Onnx__NodeProto *n) {
    if (n->name && n->name[0]) return n->name;
    if (n->n_output && n->output[0] && n->output[0][0]) return n->output[0];
    return "(unnamed)";
}

dc_status onnx_fail(onnx_importer *ix, const Onnx__NodeProto *n, dc_status s, const char *fmt, ...) {
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return dc_error(s, "%s: node \"%s\" (%s): %s", ix->path, node_label(n), n->op_type ? n->op_type : "?", msg);
}

/* ---- the decoder: a counting allocator and a nesting check ---- */
static void *pb_alloc(void *user, size_t size) {
    onnx_importer *ix = user;
    if (size > ix->alloc_cap - ix->alloc_used) return NULL;
    size_t *p = malloc(size + sizeof(max_align_t));
    if (!p) return NULL;
    *p = size;
    ix->alloc_used += size;
    return (char *)p + sizeof(max_align_t);
}
static void pb_free(void *user, void *ptr) {
    onnx_importer *ix = user;
    if (!ptr) return;
    size_t *p = (size_t *)(void *)((char *)ptr - sizeof(max_align_t));
    ix->alloc_used -= *p;
    free(p);
}

static bool read_varint(const uint8_t **p, const uint8_t *end, uint64_t *v) {
    uint64_t r = 0;
    for (int shift = 0; shift < 64; shift += 7) {
        if (*p >= end) return false;
        uint8_t b = *(*p)++;
        r |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *v = r;
            return true;
        }
    }
    return false;
}

/* Walks the wire format of a message of descriptor d, following the fields that hold messages,
 * so that nesting deeper than ONNX_MAX_DEPTH (which would take protobuf-c's recursive decoder
 * down the stack) is refused first. */
static bool pb_depth_ok(const uint8_t *p, const uint8_t *end, const ProtobufCMessageDescriptor *d, int depth) {
    if (depth > ONNX_MAX_DEPTH) return false;
    while (p < end) {
        uint64_t key, v;
        if (!read_varint(&p, end, &key)) return false;
        switch (key & 7) {
        case 0:
            if (!read_varint(&p, end, &v)) return false;
            break;
        case 1:
            if (end - p < 8) return false;
            p += 8;
            break;
        case 5:
            if (end - p < 4) return false;
            p += 4;
            break;
        case 2: {
            if (!read_varint(&p, end, &v) || v > (uint64_t)(end - p)) return false;
            const ProtobufCFieldDescriptor *f = d ? protobuf_c_message_descriptor_get_field(d, (unsigned)(key >> 3)) : NULL;
            if (f && f->type == PROTOBUF_C_TYPE_MESSAGE && !pb_depth_ok(p, p + v, f->descriptor, depth + 1)) return false;
            p += v;
            break;
        }
        default:
            return false;
        }
    }
    return true;
}

/* ---- value names ---- */
static uint64_t name_hash(const char *s) {
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++) h = (h ^ (uint8_t)*s) * 1099511628211ULL;
    return h;
}
static int find_value(const onnx_importer *ix, const char *name) {
    if (!name || !ix->nslot) return -1;
    size_t mask = ix->nslot - 1;
    for (size_t i = name_hash(name) & mask;; i = (i + 1) & mask) {
        int s = ix->slot[i];
        if (!s) return -1;
        if (!strcmp(ix->vals[s - 1].name, name)) return s - 1;
    }
}
/* Adds a value named name; -2 when the name is taken. */
static int add_value(onnx_importer *ix, const char *name) {
    if (find_value(ix, name) >= 0) return -2;
    int k = (int)ix->nvals++;
    ix->vals[k].name = name;
    ix->vals[k].handle = -1;
    size_t mask = ix->nslot - 1;
    size_t i = name_hash(name) & mask;
    while (ix->slot[i]) i = (i + 1) & mask;
    ix->slot[i] = k + 1;
    return k;
}

/* ---- attributes ---- */
static const Onnx__AttributeProto *attr(const Onnx__NodeProto *n, const char *name) {
    for (size_t i = 0; i < n->n_attribute; i++)
        if (n->attribute[i]->name && !strcmp(n->attribute[i]->name, name)) return n->attribute[i];
    return NULL;
}
bool onnx_has_attr(const Onnx__NodeProto *n, const char *name) { return attr(n, name) != NULL; }
int64_t onnx_attr_int(const Onnx__NodeProto *n, const char *name, int64_t def) {
    const Onnx__AttributeProto *a = attr(n, name);
    return a && a->has_i ? a->i : def;
}
float onnx_attr_float(const Onnx__NodeProto *n, const char *name, float def) {
    const Onnx__AttributeProto *a = attr(n, name);
    return a && a->has_f ? a->f : def;
}
const char *onnx_attr_str(const Onnx__NodeProto *n, const char *name, const char *def, char *buf, size_t size) {
    const Onnx__AttributeProto *a = attr(n, name);
    if (!a || !a->has_s) return def;
    size_t len = a->s.len < size - 1 ? a->s.len : size - 1;
    if (len) memcpy(buf, a->s.data, len);
    buf[len] = 0;
    return buf;
}
int onnx_attr_ints(const Onnx__NodeProto *n, const char *name, int64_t *v, int max) {
    const Onnx__AttributeProto *a = attr(n, name);
    if (!a) return -1;
    if (a->n_ints > (size_t)max) return max + 1;
    for (size_t i = 0; i < a->n_ints; i++) v[i] = a->ints[i];
    return (int)a->n_ints;
}
const Onnx__TensorProto *onnx_attr_tensor(const Onnx__NodeProto *n, const char *name) {
    const Onnx__AttributeProto *a = attr(n, name);
    return a ? a->t : NULL;
}

/* ---- values ---- */
int onnx_opset(const onnx_importer *ix) { return ix->opset; }

onnx_value *onnx_in(onnx_importer *ix, const Onnx__NodeProto *n, int i) {
    if (i < 0 || (size_t)i >= n->n_input || !n->input[i][0]) return NULL;
    int k = find_value(ix, n->input[i]);
    return k >= 0 ? &ix->vals[k] : NULL;
}
onnx_value *onnx_out(onnx_importer *ix, const Onnx__NodeProto *n, int k) {
    if (k < 0 || (size_t)k >= n->n_output || !n->output[k][0]) return NULL;
    int i = find_value(ix, n->output[k]);
    return i >= 0 ? &ix->vals[i] : NULL;
}

int64_t onnx_count(int ndim, const int64_t *dims) {
    int64_t c = 1;
    for (int i = 0; i < ndim; i++) {
        if (dims[i] < 0 || dims[i] > ONNX_MAX_DIM) return -1;
        if (dims[i] && c > ONNX_MAX_ELEMS / dims[i]) return -1;
        c *= dims[i];
    }
    return c;
}

static void value_clear(onnx_value *v) {
    free(v->data);
    free(v->npow);
    v->data = NULL;
    v->npow = NULL;
}

dc_status onnx_const_make(onnx_importer *ix, onnx_value *v, int ndim, const int64_t *dims) {
    int64_t c = onnx_count(ndim, dims);
    if (ndim < 0 || ndim > DC_MAX_DIMS || c < 0) {
        char b[160];
        return dc_error(DC_ERR_SHAPE, "%s: value \"%s\": shape %s is beyond the %d dimensions and 2^31 elements deepc takes",
                        ix->path, v->name, ndim >= 0 && ndim <= DC_MAX_DIMS ? dc_shape_str(ndim, dims, b, sizeof b) : "?",
                        DC_MAX_DIMS);
    }
    value_clear(v);
    v->data = calloc((size_t)(c ? c : 1), sizeof *v->data);
    if (!v->data) return dc_error(DC_ERR_NOMEM, "%s: value \"%s\": %lld elements", ix->path, v->name, (long long)c);
    v->kind = ONNX_CONST;
    v->ndim = ndim;
    if (ndim) memcpy(v->dims, dims, (size_t)ndim * sizeof *dims);
    v->is_int = false;
    return DC_OK;
}

static float half_to_float(uint16_t h) {
    uint32_t s = (uint32_t)(h >> 15) << 31, e = (h >> 10) & 0x1f, m = h & 0x3ff;
    float f;
    if (e == 0) f = ldexpf((float)m, -24);
    else if (e == 31) f = m ? NAN : INFINITY;
    else f = ldexpf((float)(m | 0x400), (int)e - 25);
    return s ? -f : f;
}

dc_status onnx_const_from_tensor(onnx_importer *ix, onnx_value *v, const Onnx__TensorProto *t, const char *what) {
    if (t->n_external_data || (t->has_data_location && t->data_location == ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL))
        return dc_error(DC_ERR_FORMAT, "%s: tensor \"%s\" keeps its data in an external file, which deepc does not read", ix->path,
                        what);
    if (t->segment) return dc_error(DC_ERR_FORMAT, "%s: tensor \"%s\" is a segment of a larger tensor", ix->path, what);
    if (t->n_dims > DC_MAX_DIMS)
        return dc_error(DC_ERR_SHAPE, "%s: tensor \"%s\" has %zu dimensions; deepc takes at most %d", ix->path, what, t->n_dims,
                        DC_MAX_DIMS);
    int64_t c = onnx_count((int)t->n_dims, t->dims);
    if (c < 0) {
        char b[200];
        return dc_error(DC_ERR_SHAPE, "%s: tensor \"%s\" has dimensions %s: negative, or more than 2^31 elements", ix->path, what,
                        dc_shape_str((int)t->n_dims, t->dims, b, sizeof b));
    }
    int dt = t->has_data_type ? t->data_type : 0;
    size_t esize;
    switch (dt) {
    case ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT: case ONNX__TENSOR_PROTO__DATA_TYPE__INT32:
    case ONNX__TENSOR_PROTO__DATA_TYPE__UINT32: esize = 4; break;
    case ONNX__TENSOR_PROTO__DATA_TYPE__DOUBLE: case ONNX__TENSOR_PROTO__DATA_TYPE__INT64:
    case ONNX__TENSOR_PROTO__DATA_TYPE__UINT64: esize = 8; break;
    case ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT16: case ONNX__TENSOR_PROTO__DATA_TYPE__BFLOAT16:
    case ONNX__TENSOR_PROTO__DATA_TYPE__INT16: case ONNX__TENSOR_PROTO__DATA_TYPE__UINT16: esize = 2; break;
    case ONNX__TENSOR_PROTO__DATA_TYPE__INT8: case ONNX__TENSOR_PROTO__DATA_TYPE__UINT8:
    case ONNX__TENSOR_PROTO__DATA_TYPE__BOOL: esize = 1; break;
    default:
        return dc_error(DC_ERR_FORMAT, "%s: tensor \"%s\" has element type %d, which deepc does not read (numbers and bool only)",
                        ix->path, what, dt);
    }
    dc_status s = onnx_const_make(ix, v, (int)t->n_dims, t->dims);
    if (s) return s;
    v->is_int = dt != ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT && dt != ONNX__TENSOR_PROTO__DATA_TYPE__DOUBLE &&
                dt != ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT16 && dt != ONNX__TENSOR_PROTO__DATA_TYPE__BFLOAT16;
    double *d = v->data;
    if (t->has_raw_data) {
        if (t->raw_data.len != (size_t)c * esize)
            return dc_error(DC_ERR_FORMAT, "%s: tensor \"%s\": raw_data has %zu bytes, its %lld elements take %zu", ix->path, what,
                            t->raw_data.len, (long long)c, (size_t)c * esize);
        const uint8_t *r = t->raw_data.data;
        for (int64_t i = 0; i < c; i++, r += esize) {
            uint64_t u = 0;
            for (size_t b = 0; b < esize; b++) u |= (uint64_t)r[b] << (8 * b); /* little-endian, as ONNX stores it */
            switch (dt) {
            case ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT: { uint32_t w = (uint32_t)u; float f; memcpy(&f, &w, 4); d[i] = f; break; }
            case ONNX__TENSOR_PROTO__DATA_TYPE__DOUBLE: memcpy(&d[i], &u, 8); break;
            case ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT16: d[i] = half_to_float((uint16_t)u); break;
            case ONNX__TENSOR_PROTO__DATA_TYPE__BFLOAT16: { uint32_t w = (uint32_t)u << 16; float f; memcpy(&f, &w, 4); d[i] = f; break; }
            case ONNX__TENSOR_PROTO__DATA_TYPE__INT8: d[i] = (int8_t)u; break;
            case ONNX__TENSOR_PROTO__DATA_TYPE__INT16: d[i] = (int16_t)u; break;
            case ONNX__TENSOR_PROTO__DATA_TYPE__INT32: d[i] = (int32_t)u; break;
            case ONNX__TENSOR_PROTO__DATA_TYPE__INT64: d[i] = (double)(int64_t)u; break;
            default: d[i] = (double)u; break; /* the unsigned types and bool */
            }
        }
        return DC_OK;
    }
    /* the typed fields: float_data; int32_data for the small integers, bool, float16 and bfloat16
     * (as their bits); int64_data; double_data; uint64_data for uint32 and uint64 */
    size_t have;
    switch (dt) {
    case ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT: have = t->n_float_data; break;
    case ONNX__TENSOR_PROTO__DATA_TYPE__INT64: have = t->n_int64_data; break;
    case ONNX__TENSOR_PROTO__DATA_TYPE__DOUBLE: have = t->n_double_data; break;
    case ONNX__TENSOR_PROTO__DATA_TYPE__UINT32: case ONNX__TENSOR_PROTO__DATA_TYPE__UINT64: have = t->n_uint64_data; break;
    default: have = t->n_int32_data; break;
    }
    if (have != (size_t)c)
        return dc_error(DC_ERR_FORMAT, "%s: tensor \"%s\" holds %zu values for its %lld elements", ix->path, what, have, (long long)c);
    for (int64_t i = 0; i < c; i++) {
        switch (dt) {
        case ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT: d[i] = t->float_data[i]; break;
        case ONNX__TENSOR_PROTO__DATA_TYPE__INT64: d[i] = (double)t->int64_data[i]; break;
        case ONNX__TENSOR_PROTO__DATA_TYPE__DOUBLE: d[i] = t->double_data[i]; break;
        case ONNX__TENSOR_PROTO__DATA_TYPE__UINT32: case ONNX__TENSOR_PROTO__DATA_TYPE__UINT64: d[i] = (double)t->uint64_data[i]; break;
        case ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT16: d[i] = half_to_float((uint16_t)t->int32_data[i]); break;
        case ONNX__TENSOR_PROTO__DATA_TYPE__BFLOAT16: {
            uint32_t w = (uint32_t)(uint16_t)t->int32_data[i] << 16;
            float f;
            memcpy(&f, &w, 4);
            d[i] = f;
            break;
        }
        default: d[i] = t->int32_data[i]; break;
        }
    }
    return DC_OK;
}

bool onnx_is_static(const onnx_value *v) {
    if (!v || v->kind != ONNX_CONST) return false;
    if (v->npow) {
        int64_t c = onnx_count(v->ndim, v->dims);
        for (int64_t i = 0; i < c; i++)
            if (v->npow[i]) return false;
    }
    return true;
}

int onnx_const_ints(const onnx_value *v, int64_t *out, int max) {
    if (!onnx_is_static(v)) return -1;
    int64_t c = onnx_count(v->ndim, v->dims);
    if (c > max) return -1;
    for (int64_t i = 0; i < c; i++) {
        double d = v->data[i];
        out[i] = d >= 9.2e18 ? INT64_MAX : d <= -9.2e18 ? INT64_MIN : (int64_t)d;
    }
    return (int)c;
}

float *onnx_const_floats(const onnx_value *v) {
    int64_t c = onnx_count(v->ndim, v->dims);
    if (c < 0) return dc_error_null(DC_ERR_SHAPE, "onnx import: \"%s\" is too large", v->name);
    float *f = malloc((size_t)(c ? c : 1) * sizeof *f);
    if (!f) return dc_error_null(DC_ERR_NOMEM, "onnx import: %lld floats of \"%s\"", (long long)c, v->name);
    for (int64_t i = 0; i < c; i++) f[i] = (float)v->data[i];
    return f;
}

/* ---- graph values ---- */
int onnx_axis(int64_t axis, int r) {
    if (axis < 0) axis += r;
    return axis >= 0 && axis < r ? (int)axis : -1;
}

int onnx_deepc_shape(const onnx_value *v, int64_t *shape) {
    int k = 0;
    for (int i = 0; i < v->ndim; i++) {
        if (i != v->bax) shape[k++] = v->dims[i];
        else {
            if (v->pre > 1) shape[k++] = v->pre;
            if (v->post > 1) shape[k++] = v->post;
        }
    }
    if (k == 0) shape[k++] = 1;
    return k;
}

int onnx_deepc_axis(const onnx_value *v, int axis) {
    if (axis == v->bax) return -1;
    int j = 1;
    for (int i = 0; i < axis; i++) j += i == v->bax ? (v->pre > 1) + (v->post > 1) : 1;
    return j;
}

void onnx_set_graph(onnx_value *out, int h, dc_layer *layer, const onnx_value *like, int ndim, const int64_t *dims) {
    value_clear(out);
    out->kind = ONNX_GRAPH;
    out->handle = h;
    out->layer = layer;
    out->bax = like->bax;
    out->pre = like->pre;
    out->post = like->post;
    out->ndim = ndim;
    memcpy(out->dims, dims, (size_t)ndim * sizeof *dims);
}

int onnx_output_of(onnx_importer *ix, int handle, int k) { return dc_model_output_of(ix->m, handle, k); }

int onnx_emit(onnx_importer *ix, const Onnx__NodeProto *n, dc_layer *l, int nin, onnx_value *const *ins) {
    if (!l) return onnx_fail(ix, n, dc_last_status(), "%s", dc_last_error()), -1;
    int h[DC_LAYER_MAX_INPUTS];
    if (nin > DC_LAYER_MAX_INPUTS) {
        dc_layer_free(l);
        return onnx_fail(ix, n, DC_ERR_ARG, "%d inputs; a layer takes at most %d", nin, DC_LAYER_MAX_INPUTS), -1;
    }
    for (int i = 0; i < nin; i++) {
        if (!ins[i] || ins[i]->kind != ONNX_GRAPH) {
            dc_layer_free(l);
            return onnx_fail(ix, n, DC_ERR_ARG, "input %d is not computed by the graph", i), -1;
        }
        h[i] = ins[i]->handle;
    }
    int r = dc_model_apply(ix->m, l, nin, h);
    if (r < 0) {
        char msg[400];
        snprintf(msg, sizeof msg, "%s", dc_last_error());
        return onnx_fail(ix, n, dc_last_status(), "%s", msg), -1;
    }
    return r;
}

dc_status onnx_reshape(onnx_importer *ix, const Onnx__NodeProto *n, onnx_value *v, int ndim, const int64_t *dims, int bax,
                       onnx_value *out) {
    char a[160], b[160];
    if (v->kind != ONNX_GRAPH) return onnx_fail(ix, n, DC_ERR_ARG, "reshape of a value the graph does not compute");
    if (ndim < 1 || ndim > DC_MAX_DIMS || bax < 0 || bax >= ndim)
        return onnx_fail(ix, n, DC_ERR_SHAPE, "a shape of %d dimensions without the batch", ndim);
    /* the elements before N in row-major order, and after it, must stay the same */
    int64_t before = v->pre, after = v->post, nb = 1, na = 1;
    for (int i = 0; i < v->bax; i++) before *= v->dims[i];
    for (int i = v->bax + 1; i < v->ndim; i++) after *= v->dims[i];
    for (int i = 0; i < bax; i++) nb *= dims[i];
    for (int i = bax + 1; i < ndim; i++) na *= dims[i];
    int64_t c = dims[bax];
    if (nb <= 0 || na <= 0 || c <= 0 || before % nb || c % (before / nb) || (c / (before / nb)) * na != after)
        return onnx_fail(ix, n, DC_ERR_SHAPE,
                         "cannot reshape %s (the batch in axis %d) into %s (the batch in axis %d): the batch would mix with "
                         "other elements",
                         dc_shape_str(v->ndim, v->dims, a, sizeof a), v->bax, dc_shape_str(ndim, dims, b, sizeof b), bax);
    onnx_value t = *v;
    t.data = NULL;
    t.npow = NULL;
    t.ndim = ndim;
    memcpy(t.dims, dims, (size_t)ndim * sizeof *dims);
    t.bax = bax;
    t.pre = before / nb;
    t.post = c / t.pre;
    int64_t s0[DC_MAX_DIMS], s1[DC_MAX_DIMS];
    int r0 = onnx_deepc_shape(v, s0), r1 = onnx_deepc_shape(&t, s1);
    int h = v->handle;
    dc_layer *layer = v->layer;
    if (r0 != r1 || memcmp(s0, s1, (size_t)r0 * sizeof *s0)) {
        dc_layer *l = dc_reshape_layer(r1, s1);
        layer = l;
        if ((h = onnx_emit(ix, n, l, 1, &v)) < 0) return dc_last_status();
    }
    onnx_set_graph(out, h, layer, &t, ndim, dims);
    return DC_OK;
}

dc_status onnx_param(onnx_importer *ix, const Onnx__NodeProto *n, dc_layer *l, const char *param, const float *data,
                     int64_t count) {
    if (count > ONNX_MAX_PARAMS - ix->nparam_floats)
        return onnx_fail(ix, n, DC_ERR_SHAPE, "the parameters pass 2^31 floats");
    if (ix->npend == ix->cpend) {
        size_t c = ix->cpend ? 2 * ix->cpend : 16;
        pending_param *p = realloc(ix->pend, c * sizeof *p);
        if (!p) return dc_error(DC_ERR_NOMEM, "%s: parameters", ix->path);
        ix->pend = p;
        ix->cpend = c;
    }
    float *d = malloc((size_t)(count ? count : 1) * sizeof *d);
    if (!d) return dc_error(DC_ERR_NOMEM, "%s: %lld floats of %s", ix->path, (long long)count, param);
    memcpy(d, data, (size_t)count * sizeof *d);
    pending_param *p = &ix->pend[ix->npend++];
    p->layer = l;
    snprintf(p->name, sizeof p->name, "%s", param);
    p->data = d;
    p->count = count;
    ix->nparam_floats += count;
    return DC_OK;
}

dc_status onnx_param_value(onnx_importer *ix, const Onnx__NodeProto *n, dc_layer *l, const char *param,
                           const onnx_value *v) {
    if (!onnx_is_static(v)) return onnx_fail(ix, n, DC_ERR_ARG, "\"%s\" is not a constant", v->name);
    float *f = onnx_const_floats(v);
    if (!f) return dc_last_status();
    dc_status s = onnx_param(ix, n, l, param, f, onnx_count(v->ndim, v->dims));
    free(f);
    return s;
}

/* ---- patterns ---- */
static int node_index(const onnx_importer *ix, const Onnx__NodeProto *n) {
    for (size_t i = 0; i < ix->g->n_node; i++)
        if (ix->g->node[i] == n) return (int)i;
    return -1;
}
void onnx_replace(onnx_importer *ix, const Onnx__NodeProto *n, onnx_map_fn map) {
    int i = node_index(ix, n);
    if (i < 0) return;
    ix->replaced[i] = true;
    ix->repl[i] = map;
}
const Onnx__NodeProto *onnx_producer(const onnx_importer *ix, const onnx_value *v) {
    int k = (int)(v - ix->vals);
    return k >= 0 && (size_t)k < ix->nvals && ix->producer[k] >= 0 ? ix->g->node[ix->producer[k]] : NULL;
}
int onnx_reader_count(const onnx_importer *ix, const onnx_value *v) {
    int k = (int)(v - ix->vals), c = 0;
    for (int e = ix->firstc[k]; e >= 0; e = ix->nextc[e]) c += ix->live[ix->cnode[e]];
    return c;
}
const Onnx__NodeProto *onnx_reader(const onnx_importer *ix, const onnx_value *v, int k) {
    int i = (int)(v - ix->vals);
    for (int e = ix->firstc[i]; e >= 0; e = ix->nextc[e])
        if (ix->live[ix->cnode[e]] && k-- == 0) return ix->g->node[ix->cnode[e]];
    return NULL;
}

/* ---- the import ---- */
static const onnx_op *find_op(const char *op_type) {
    for (const onnx_op *o = dc_onnx_ops_core; o->op_type; o++)
        if (!strcmp(o->op_type, op_type)) return o;
    for (const onnx_op *o = dc_onnx_ops_extra; o->op_type; o++)
        if (!strcmp(o->op_type, op_type)) return o;
    return NULL;
}

/* The graph input `vi` as a deepc input: its first axis is the batch. */
static dc_status add_input(onnx_importer *ix, const Onnx__ValueInfoProto *vi, onnx_value *v) {
    const Onnx__TypeProto *tp = vi->type;
    if (!tp || tp->value_case != ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE || !tp->tensor_type || !tp->tensor_type->shape)
        return dc_error(DC_ERR_FORMAT, "%s: graph input \"%s\" is not a tensor of known rank", ix->path, v->name);
    const Onnx__TensorShapeProto *sh = tp->tensor_type->shape;
    if (sh->n_dim < 1 || sh->n_dim > DC_MAX_DIMS)
        return dc_error(DC_ERR_SHAPE, "%s: graph input \"%s\" has %zu dimensions; deepc takes 1 (the batch) to %d", ix->path,
                        v->name, sh->n_dim, DC_MAX_DIMS);
    v->ndim = (int)sh->n_dim;
    v->dims[0] = 1;
    for (size_t i = 1; i < sh->n_dim; i++) {
        const Onnx__TensorShapeProto__Dimension *d = sh->dim[i];
        if (d->value_case != ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE || d->dim_value < 1 || d->dim_value > ONNX_MAX_DIM)
            return dc_error(DC_ERR_SHAPE,
                            "%s: graph input \"%s\": dimension %zu is not a fixed size in 1..2^31; only the first (the batch) may "
                            "vary",
                            ix->path, v->name, i);
        v->dims[i] = d->dim_value;
    }
    v->kind = ONNX_GRAPH;
    v->bax = 0;
    v->pre = v->post = 1;
    int64_t shape[DC_MAX_DIMS];
    int r = onnx_deepc_shape(v, shape);
    if (onnx_count(r, shape) < 0 || onnx_count(r, shape) > ONNX_MAX_ELEMS)
        return dc_error(DC_ERR_SHAPE, "%s: graph input \"%s\" is too large", ix->path, v->name);
    /* a name deepc's model files can hold: letters, digits, '_', '.', '-' */
    char name[48];
    size_t k = 0;
    for (const char *c = v->name; *c && k < sizeof name - 1; c++)
        name[k++] = (char)((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') || *c == '_' || *c == '.' || *c == '-' ? *c : '_');
    name[k] = 0;
    int h = dc_model_input(ix->m, k ? name : NULL, r, shape);
    if (h < 0 && k) h = dc_model_input(ix->m, NULL, r, shape);
    if (h < 0) return rethrow(dc_last_status(), ix->path, "a graph input: ");
    v->handle = h;
    return DC_OK;
}

static dc_status load_file(onnx_importer *ix, uint8_t **buf, size_t *len) {
    FILE *f = fopen(ix->path, "rb");
    if (!f) return dc_error(DC_ERR_IO, "%s: cannot open: %s", ix->path, strerror(errno));
    dc_status s = DC_OK;
    long size = -1;
    if (fseek(f, 0, SEEK_END) || (size = ftell(f)) < 0 || fseek(f, 0, SEEK_SET)) s = dc_error(DC_ERR_IO, "%s: cannot seek", ix->path);
    else if ((int64_t)size > ONNX_MAX_FILE) s = dc_error(DC_ERR_FORMAT, "%s: %ld bytes; ONNX files hold at most 2 GiB", ix->path, size);
    else if (!(*buf = malloc((size_t)size + 1))) s = dc_error(DC_ERR_NOMEM, "%s: %ld bytes", ix->path, size);
    else if (fread(*buf, 1, (size_t)size, f) != (size_t)size) s = dc_error(DC_ERR_IO, "%s: short read", ix->path);
    fclose(f);
    *len = (size_t)(size > 0 ? size : 0);
    return s;
}

static dc_status import_graph(onnx_importer *ix, const dc_onnx_import_opts *o) {
    Onnx__GraphProto *g = ix->g;
    if (g->n_node > ONNX_MAX_NODES)
        return dc_error(DC_ERR_FORMAT, "%s: %zu nodes; deepc imports at most %d", ix->path, g->n_node, ONNX_MAX_NODES);
    if (g->n_sparse_initializer)
        return dc_error(DC_ERR_FORMAT, "%s: sparse initialisers are not supported", ix->path);
    size_t cap = g->n_input + g->n_initializer;
    for (size_t i = 0; i < g->n_node; i++) {
        if (g->node[i]->n_output > 64 || g->node[i]->n_input > 1024)
            return dc_error(DC_ERR_FORMAT, "%s: node %zu has %zu inputs and %zu outputs", ix->path, i, g->node[i]->n_input,
                            g->node[i]->n_output);
        cap += g->node[i]->n_output;
    }
    ix->vals = calloc(cap + 1, sizeof *ix->vals);
    ix->producer = malloc((cap + 1) * sizeof *ix->producer);
    for (ix->nslot = 16; ix->nslot < 2 * cap + 2; ix->nslot *= 2) {}
    ix->slot = calloc(ix->nslot, sizeof *ix->slot);
    if (!ix->vals || !ix->producer || !ix->slot) return dc_error(DC_ERR_NOMEM, "%s: %zu values", ix->path, cap);
    dc_status s;
    for (size_t i = 0; i < g->n_initializer; i++) {
        const Onnx__TensorProto *t = g->initializer[i];
        const char *name = t->name ? t->name : "";
        int k = add_value(ix, name);
        if (k < 0) return dc_error(DC_ERR_FORMAT, "%s: initialiser \"%s\" is named twice", ix->path, name);
        ix->producer[k] = -1;
        if ((s = onnx_const_from_tensor(ix, &ix->vals[k], t, name))) return s;
        ix->vals[k].is_weight = true;
    }
    int ninputs = 0;
    for (size_t i = 0; i < g->n_input; i++) {
        const char *name = g->input[i]->name ? g->input[i]->name : "";
        if (find_value(ix, name) >= 0) continue; /* an initialiser listed as an input too (IR < 4): a constant here */
        int k = add_value(ix, name);
        ix->producer[k] = -1;
        if ((s = add_input(ix, g->input[i], &ix->vals[k]))) return s;
        ninputs++;
    }
    if (!ninputs) return dc_error(DC_ERR_FORMAT, "%s: the graph has no input besides its initialisers", ix->path);
    for (size_t i = 0; i < g->n_node; i++) {
        const Onnx__NodeProto *n = g->node[i];
        if (!n->op_type) return dc_error(DC_ERR_FORMAT, "%s: node %zu has no operator", ix->path, i);
        for (size_t k = 0; k < n->n_output; k++) {
            if (!n->output[k][0]) continue;
            int v = add_value(ix, n->output[k]);
            if (v < 0) return onnx_fail(ix, n, DC_ERR_FORMAT, "value \"%s\" is produced twice", n->output[k]);
            ix->producer[v] = (int)i;
        }
    }
    /* topological order (Kahn): a node is ready once the nodes making its inputs are done */
    size_t nn = g->n_node;
    int *deps = calloc(nn + 1, sizeof *deps), *order = malloc((nn + 1) * sizeof *order);
    size_t nedges = 0;
    for (size_t i = 0; i < nn; i++) nedges += g->node[i]->n_input;
    int *firstc = ix->firstc = malloc((cap + 1) * sizeof *firstc);
    int *nextc = ix->nextc = malloc((nedges + 1) * sizeof *nextc);
    int *cnode = ix->cnode = malloc((nedges + 1) * sizeof *cnode);
    bool *live = ix->live = calloc(nn + 1, sizeof *live);
    ix->repl = calloc(nn + 1, sizeof *ix->repl);
    ix->replaced = calloc(nn + 1, sizeof *ix->replaced);
    s = DC_OK;
    if (!deps || !order || !live || !firstc || !nextc || !cnode || !ix->repl || !ix->replaced)
        s = dc_error(DC_ERR_NOMEM, "%s: %zu nodes", ix->path, nn);
    for (size_t v = 0; !s && v < cap; v++) firstc[v] = -1;
    size_t e = 0;
    for (size_t i = 0; !s && i < nn; i++) {
        const Onnx__NodeProto *n = g->node[i];
        for (size_t k = 0; k < n->n_input; k++) {
            if (!n->input[k][0]) continue;
            int v = find_value(ix, n->input[k]);
            if (v < 0) {
                s = onnx_fail(ix, n, DC_ERR_FORMAT, "input \"%s\" is not a graph input, an initialiser or any node's output",
                              n->input[k]);
                break;
            }
            cnode[e] = (int)i;
            nextc[e] = firstc[v];
            firstc[v] = (int)e++;
            if (ix->producer[v] >= 0) deps[i]++;
        }
    }
    size_t head = 0, tail = 0;
    for (size_t i = 0; !s && i < nn; i++)
        if (!deps[i]) order[tail++] = (int)i;
    while (!s && head < tail) {
        const Onnx__NodeProto *n = g->node[order[head++]];
        for (size_t k = 0; k < n->n_output; k++) {
            if (!n->output[k][0]) continue;
            int v = find_value(ix, n->output[k]);
            for (int c = firstc[v]; c >= 0; c = nextc[c])
                if (--deps[cnode[c]] == 0) order[tail++] = cnode[c];
        }
    }
    if (!s && tail < nn) {
        for (size_t i = 0; i < nn; i++)
            if (deps[i]) {
                s = onnx_fail(ix, g->node[i], DC_ERR_FORMAT, "the graph has a cycle through this node");
                break;
            }
    }
    /* the output, and the nodes it depends on */
    onnx_value *outv = NULL;
    if (!s) {
        const char *want = o && o->output ? o->output : NULL;
        if (!g->n_output) s = dc_error(DC_ERR_FORMAT, "%s: the graph has no output", ix->path);
        else if (!want) want = g->output[0]->name;
        int k = s ? -1 : find_value(ix, want ? want : "");
        if (!s && k < 0) s = dc_error(DC_ERR_ARG, "%s: no value \"%s\" to take as the output", ix->path, want ? want : "");
        if (!s) {
            outv = &ix->vals[k];
            if (ix->producer[k] >= 0) live[ix->producer[k]] = true;
        }
    }
    for (size_t j = tail; !s && j-- > 0;) {
        const Onnx__NodeProto *n = g->node[order[j]];
        if (!live[order[j]]) continue;
        for (size_t k = 0; k < n->n_input; k++) {
            int v = n->input[k][0] ? find_value(ix, n->input[k]) : -1;
            if (v < 0) continue;
            ix->vals[v].readers++;
            if (ix->producer[v] >= 0) live[ix->producer[v]] = true;
        }
    }
    for (const onnx_pattern_fn *p = dc_onnx_patterns; !s && *p; p++)
        for (size_t j = 0; !s && j < tail; j++)
            if (live[order[j]] && !ix->replaced[order[j]]) s = (*p)(ix, g->node[order[j]]);
    for (size_t j = 0; !s && j < tail; j++) {
        const Onnx__NodeProto *n = g->node[order[j]];
        if (!live[order[j]]) continue;
        if (ix->replaced[order[j]]) {
            if (ix->repl[order[j]]) s = ix->repl[order[j]](ix, n);
            continue;
        }
        if (n->domain && n->domain[0] && strcmp(n->domain, "ai.onnx")) {
            s = onnx_fail(ix, n, DC_ERR_FORMAT, "operator domain \"%s\" is not supported", n->domain);
            break;
        }
        const onnx_op *op = find_op(n->op_type);
        if (!op) {
            s = onnx_fail(ix, n, DC_ERR_FORMAT, "operator %s is not supported by deepc's importer", n->op_type);
            break;
        }
        if ((s = op->map(ix, n))) break;
        for (size_t k = 0; k < n->n_output; k++) {
            onnx_value *v = onnx_out(ix, n, (int)k);
            if (v && v->kind == ONNX_NONE && (v->readers || v == outv)) {
                s = onnx_fail(ix, n, DC_ERR_FORMAT, "output %zu (\"%s\") is not produced by the importer", k, v->name);
                break;
            }
        }
    }
    free(deps);
    free(order);
    if (s) return s;
    /* the model's output: the last layer, the batch first */
    if (outv->kind != ONNX_GRAPH)
        return dc_error(DC_ERR_FORMAT, "%s: the output \"%s\" does not depend on the input; deepc models compute theirs", ix->path,
                        outv->name);
    if (outv->bax != 0 || outv->pre != 1 || outv->post != 1) {
        char b[160];
        return dc_error(DC_ERR_FORMAT, "%s: the output \"%s\" %s has the batch in axis %d; deepc's outputs take it first",
                        ix->path, outv->name, dc_shape_str(outv->ndim, outv->dims, b, sizeof b), outv->bax);
    }
    int64_t sh[DC_MAX_DIMS];
    int r = onnx_deepc_shape(outv, sh);
    /* the output must be the last layer, and one that is not an input (a graph of nothing but
     * the identity gets an Activation of none) */
    bool last = outv->handle == dc_model_num_layers(ix->m) - 1 && dc_model_num_layers(ix->m) > dc_model_num_inputs(ix->m);
    if (!last || outv->ndim == 1) {
        dc_layer *l = outv->ndim == 1 ? dc_reshape_layer(r, sh) : dc_activation_layer(DC_ACT_NONE);
        if (!l || dc_layer_set_name(l, "output") || dc_model_apply(ix->m, l, 1, &outv->handle) < 0)
            return rethrow(dc_last_status(), ix->path, "the output: ");
    }
    if ((s = dc_model_build(ix->m, 0, NULL))) return rethrow(s, ix->path, "");
    for (size_t i = 0; i < ix->npend; i++) {
        pending_param *p = &ix->pend[i];
        int k = 0;
        while (k < p->layer->nparams && strcmp(p->layer->decl[k].name, p->name)) k++;
        if (k == p->layer->nparams)
            return dc_error(DC_ERR_STATE, "%s: layer %s has no parameter %s", ix->path, p->layer->name, p->name);
        dc_tensor *t = p->layer->param[k];
        if (dc_tensor_numel(t) != p->count)
            return dc_error(DC_ERR_SHAPE, "%s: %s.%s takes %lld values, the file gives %lld", ix->path, p->layer->name, p->name,
                            (long long)dc_tensor_numel(t), (long long)p->count);
        memcpy(dc_tensor_data(t), p->data, (size_t)p->count * sizeof(float));
    }
    return DC_OK;
}

dc_model *dc_model_import_onnx_ex(const char *path, const dc_onnx_import_opts *opts) {
    if (!path) return dc_error_null(DC_ERR_ARG, "dc_model_import_onnx: path is NULL");
    onnx_importer ix = {.path = path, .alloc_cap = 0};
    uint8_t *buf = NULL;
    size_t len = 0;
    dc_status s = load_file(&ix, &buf, &len);
    if (!s && !pb_depth_ok(buf, buf + len, &onnx__model_proto__descriptor, 0))
        s = dc_error(DC_ERR_FORMAT, "%s: not an ONNX model (malformed protobuf, or messages nested deeper than %d)", path,
                     ONNX_MAX_DEPTH);
    if (!s) {
        /* the decoded message takes a few times the file; more means a hostile file */
        ix.alloc_cap = 8 * len + ((size_t)1 << 24);
        ProtobufCAllocator a = {.alloc = pb_alloc, .free = pb_free, .allocator_data = &ix};
        ix.mp = onnx__model_proto__unpack(&a, len, buf);
        if (!ix.mp) s = dc_error(DC_ERR_FORMAT, "%s: not an ONNX model (the protobuf does not decode)", path);
    }
    free(buf);
    if (!s && !(ix.g = ix.mp->graph)) s = dc_error(DC_ERR_FORMAT, "%s: the model has no graph", path);
    if (!s) {
        ix.opset = -1;
        for (size_t i = 0; i < ix.mp->n_opset_import; i++) {
            const Onnx__OperatorSetIdProto *o = ix.mp->opset_import[i];
            if ((!o->domain || !o->domain[0] || !strcmp(o->domain, "ai.onnx")) && o->has_version) ix.opset = (int)o->version;
        }
        if (ix.opset < 0) ix.opset = 1; /* IR version 2 files name no opset */
        if (ix.opset > 17)
            s = dc_error(DC_ERR_FORMAT, "%s: opset %d; deepc's importer reads opsets up to 17", path, ix.opset);
    }
    if (!s && !(ix.m = dc_sequential())) s = dc_last_status();
    if (!s) s = import_graph(&ix, opts);
    for (size_t i = 0; i < ix.nvals; i++) value_clear(&ix.vals[i]);
    for (size_t i = 0; i < ix.npend; i++) free(ix.pend[i].data);
    free(ix.pend);
    free(ix.firstc);
    free(ix.nextc);
    free(ix.cnode);
    free(ix.live);
    free(ix.repl);
    free(ix.replaced);
    free(ix.vals);
    free(ix.producer);
    free(ix.slot);
    if (ix.mp) {
        ProtobufCAllocator a = {.alloc = pb_alloc, .free = pb_free, .allocator_data = &ix};
        onnx__model_proto__free_unpacked(ix.mp, &a);
    }
    if (s) {
        dc_model_free(ix.m);
        return NULL;
    }
    return ix.m;
}

dc_model *dc_model_import_onnx(const char *path) { return dc_model_import_onnx_ex(path, NULL); }
