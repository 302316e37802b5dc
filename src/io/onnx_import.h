/* The ONNX importer's internals, shared by the framework (onnx_import.c) and the operator
 * mappers (onnx_ops*.c).
 *
 * Every ONNX value the graph names becomes an onnx_value:
 *   - a constant (ONNX_CONST): an initialiser, a Constant node's tensor, or what folding made of
 *     constants (shape arithmetic). Its elements are doubles (exact for the integers of shape
 *     arithmetic); an element may stand for a multiple of the batch size N (npow[i] = 1: the
 *     value is data[i] * N), as Shape of a graph value gives for its batch axis;
 *   - a filled constant (ONNX_FILL): every element `fill`, of a shape that holds the batch axis
 *     (ConstantOfShape of such a shape: the zero initial states of a recurrent layer);
 *   - a graph value (ONNX_GRAPH): the output of a deepc layer, `handle` (a node id or
 *     dc_model_output_of's handle), computed per batch.
 * A graph value's ONNX shape holds the batch size N in one axis, bax. That axis's size is
 * pre * N * post: the batch may be merged with other factors (PyTorch's attention reshapes
 * (L, N, E) into (L, N * H, E / H) and (L * N, E)). deepc keeps the batch first, so the tensor
 * the layer computes is the ONNX tensor with N moved to the front: [N, d_0, ..., pre, post, ...,
 * d_{r-1}] (onnx_deepc_shape: bax's axis gives pre and post, each when above 1; every other axis
 * its size). A Transpose that moves only N is then no work at all, and a Reshape is one where
 * the elements before and after N stay the same. */
#ifndef DC_ONNX_IMPORT_H
#define DC_ONNX_IMPORT_H

#include "deepc/io.h"

#include "../nn/layer.h"
#include "onnx.pb-c.h"

#include <stdbool.h>
#include <stdint.h>

enum { ONNX_NONE = 0, ONNX_CONST, ONNX_FILL, ONNX_GRAPH };

/* The most elements a constant may hold, and the largest dimension of any shape: above them a
 * file is refused as absurd before anything is allocated. */
#define ONNX_MAX_ELEMS (INT64_C(1) << 31)
#define ONNX_MAX_DIM (INT64_C(1) << 31)

typedef struct onnx_value {
    const char *name; /* the file's name for it (owned by the decoded message) */
    int kind;
    int ndim;                   /* ONNX rank */
    int64_t dims[DC_MAX_DIMS];  /* ONNX shape; for a graph value or a fill, axis bax holds pre * post */
    /* ONNX_CONST */
    double *data;  /* prod(dims) elements, row-major */
    uint8_t *npow; /* NULL, or per element the power of N it is multiplied by (0 or 1) */
    bool is_int;   /* an integer tensor in the file (shape arithmetic) */
    /* ONNX_FILL */
    double fill;
    /* ONNX_GRAPH (and the batch layout of ONNX_FILL) */
    int handle;
    int bax;           /* the ONNX axis holding the batch */
    int64_t pre, post; /* that axis is pre * N * post */
    dc_layer *layer;   /* the layer that made it (the model owns it) */
    int readers;       /* how many inputs of live nodes read it */
    bool is_weight;    /* an initialiser: becomes a trainable parameter where a layer takes it */
} onnx_value;

typedef struct onnx_importer onnx_importer;

/* A mapper turns node n into layers or folded constants: it reads its inputs with onnx_in and
 * fills every output it produces with onnx_out. It returns DC_OK, or an error made by onnx_fail
 * (naming the node). */
typedef dc_status (*onnx_map_fn)(onnx_importer *ix, const Onnx__NodeProto *n);
typedef struct onnx_op {
    const char *op_type; /* the ONNX operator ("Gemm") of the default domain */
    onnx_map_fn map;
} onnx_op;

/* The operator tables the dispatcher searches (onnx_ops.c, onnx_ops_extra.c), each ending with
 * a {NULL, NULL} row. */
extern const onnx_op dc_onnx_ops_core[];
extern const onnx_op dc_onnx_ops_extra[];
/* The operators the importer claims (both tables, in order) into names[max]; the count. */
int onnx_claimed_ops(const char **names, int max);
/* Patterns: before any node is mapped, each pattern function sees every node the output
 * depends on, in topological order, and may claim a group of nodes for one layer (the GELU
 * that PyTorch writes as Div, Erf, Add, Mul, Mul): onnx_replace gives a node another mapper,
 * or none (the node is then skipped; its outputs are left unset). NULL-terminated. */
typedef dc_status (*onnx_pattern_fn)(onnx_importer *ix, const Onnx__NodeProto *n);
extern const onnx_pattern_fn dc_onnx_patterns[];
void onnx_replace(onnx_importer *ix, const Onnx__NodeProto *n, onnx_map_fn map);
/* The node whose output v is (NULL for graph inputs and initialisers); the number of nodes the
 * output depends on that read v, and the k-th of them. */
const Onnx__NodeProto *onnx_producer(const onnx_importer *ix, const onnx_value *v);
int onnx_reader_count(const onnx_importer *ix, const onnx_value *v);
const Onnx__NodeProto *onnx_reader(const onnx_importer *ix, const onnx_value *v, int k);

/* ---- for mappers ---- */
/* An error naming the node (its name, else its first output) and its operator. */
dc_status onnx_fail(onnx_importer *ix, const Onnx__NodeProto *n, dc_status s, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Input i of n, or NULL when n has fewer inputs or input i is the empty name (an optional input
 * left out). */
onnx_value *onnx_in(onnx_importer *ix, const Onnx__NodeProto *n, int i);
/* The value of output k of n, to fill (NULL when n has fewer outputs or it is unnamed). */
onnx_value *onnx_out(onnx_importer *ix, const Onnx__NodeProto *n, int k);
/* The opset version of the default domain the file imports. */
int onnx_opset(const onnx_importer *ix);

/* Attributes of n: the value of an int / float / string attribute, or def when absent; the
 * ints or floats of a list attribute into v[max] (count returned, -1 when absent; a longer list
 * is an error the caller reports); a tensor attribute, or NULL. */
int64_t onnx_attr_int(const Onnx__NodeProto *n, const char *name, int64_t def);
float onnx_attr_float(const Onnx__NodeProto *n, const char *name, float def);
const char *onnx_attr_str(const Onnx__NodeProto *n, const char *name, const char *def, char *buf, size_t size);
int onnx_attr_ints(const Onnx__NodeProto *n, const char *name, int64_t *v, int max);
const Onnx__TensorProto *onnx_attr_tensor(const Onnx__NodeProto *n, const char *name);
/* Whether n has the attribute. */
bool onnx_has_attr(const Onnx__NodeProto *n, const char *name);

/* Constants. onnx_const_make gives v a zeroed constant of the shape (it drops what v held);
 * onnx_const_from_tensor decodes a TensorProto (raw_data or the typed fields; float, double,
 * float16, bfloat16, the integers, bool) into v; onnx_count the elements of a shape. */
dc_status onnx_const_make(onnx_importer *ix, onnx_value *v, int ndim, const int64_t *dims);
dc_status onnx_const_from_tensor(onnx_importer *ix, onnx_value *v, const Onnx__TensorProto *t, const char *what);
int64_t onnx_count(int ndim, const int64_t *dims);
/* Whether v is a constant without batch-sized elements. */
bool onnx_is_static(const onnx_value *v);
/* The constant's elements as int64 into out[max] (count returned; -1 when it is not a static
 * constant or holds more than max). */
int onnx_const_ints(const onnx_value *v, int64_t *out, int max);
/* A float copy of a constant's elements (malloc'd; NULL + error when out of memory). */
float *onnx_const_floats(const onnx_value *v);

/* Graph values. onnx_deepc_shape writes the non-batch shape of v's deepc tensor into
 * shape[DC_MAX_DIMS] and returns its rank (0 is written as one axis of 1, rank 1); onnx_deepc_axis
 * the axis (1-based, axis 0 being N) of that tensor that ONNX axis `axis` of v is, or -1 for the
 * batch axis; both for a layout with pre = post = 1 at bax. */
int onnx_deepc_shape(const onnx_value *v, int64_t *shape);
int onnx_deepc_axis(const onnx_value *v, int axis);
/* Normalises an ONNX axis (negative counts from the end) for rank r; -1 when out of range. */
int onnx_axis(int64_t axis, int r);
/* Adds layer l to the model fed by the values ins[0..nin) (graph values), named after the node;
 * returns the handle, or -1 with the error set (naming the node). The model owns l. */
int onnx_emit(onnx_importer *ix, const Onnx__NodeProto *n, dc_layer *l, int nin, onnx_value *const *ins);
/* The handle of output k of the layer of handle `handle` (a recurrent layer's states). */
int onnx_output_of(onnx_importer *ix, int handle, int k);
/* Makes out a graph value of handle h with the layout of `like` (its kind, bax, pre, post) and
 * the ONNX shape ndim/dims; layer the producing layer. */
void onnx_set_graph(onnx_value *out, int h, dc_layer *layer, const onnx_value *like, int ndim, const int64_t *dims);
/* Gives `out` the value `v` reshaped to the ONNX shape ndim/dims (-1 and 0 as ONNX's Reshape
 * with allowzero 0 are resolved by the caller) whose entry at `bax` holds the batch: folds it,
 * or adds a Reshape layer when v's deepc tensor changes shape; an error when the batch would
 * move among the elements. */
dc_status onnx_reshape(onnx_importer *ix, const Onnx__NodeProto *n, onnx_value *v, int ndim, const int64_t *dims, int bax,
                       onnx_value *out);
/* Parameters: after the model is built, the parameter `param` of layer l receives count floats
 * from data (copied now; converted to the parameter's shape order by the caller). */
dc_status onnx_param(onnx_importer *ix, const Onnx__NodeProto *n, dc_layer *l, const char *param, const float *data,
                     int64_t count);
/* The same from a constant value (its elements in order). */
dc_status onnx_param_value(onnx_importer *ix, const Onnx__NodeProto *n, dc_layer *l, const char *param,
                           const onnx_value *v);

#endif
