/* nn: a layer is parameters + a forward written with differentiable ops. Each layer type is one
 * record (dc_layer_type) in its own file: its class name, its options as a field schema over
 * its own config struct, build (shapes and parameter declarations) and forward. The model owns
 * the parameter memory (one buffer for all layers) and asks each layer to declare what it needs
 * when its input shapes become known.
 *
 * A type registers itself with DC_REGISTER_LAYER(sym) on a line of its own in its file under
 * src/nn/; the build collects those lines into the registry (dc_layer_type_find), so adding a
 * type touches its own file and the nn header only. Saving, loading, the checked setters and
 * the summary all come from the schema. */
#ifndef DC_LAYER_H
#define DC_LAYER_H

#include "deepc/nn.h"

#include "../base/comm.h"
#include "../base/schema.h"
#include "../ops/ops.h"

#include <string.h>

#define DC_LAYER_MAX_PARAMS 24
#define DC_LAYER_MAX_INPUTS 4
/* The most outputs a layer has (a recurrent layer with return_state: the output and its states). */
#define DC_LAYER_MAX_OUTPUTS 4

typedef struct dc_param_decl {
    char name[40];  /* "weight", "bias", "self_attn.in_proj_weight" */
    int ndim;
    int64_t shape[4];
    dc_init init;
    float init_value;
    bool trainable; /* false: state such as running statistics, never touched by the optimiser */
    float min;      /* the least value the tensor may hold (-INFINITY: any), checked when a file is read */
} dc_param_decl;

/* What a layer's forward receives besides its inputs: arguments of the step, never stashed on
 * the layer or a tensor. */
typedef struct dc_fwd {
    dc_ctx *ctx;
    bool training;
    dc_rng *rng;          /* dropout */
    bool logits;          /* the loss takes this layer's output as logits: leave the final activation out */
    /* The time-step masks of the inputs: [N * T] bytes, 1 for a real step, 0 for padding, or NULL. */
    const uint8_t *mask[DC_LAYER_MAX_INPUTS];
    /* The output's mask. The executor sets it before the call to mask[0] when the output keeps
     * the input's time axis (rank >= 2, same first dimension), else NULL; a layer that makes a
     * mask (Embedding) or consumes one (pooling over time, a recurrent layer's last step) sets it. */
    const uint8_t *out_mask;
    const dc_comm *comm;  /* the collectives of a data-parallel fit, NULL in one process */
    float comm_w;         /* this rank's rows over the global batch's (1 in one process) */
    /* Outputs 1.. of a layer with several (l->nout > 1): forward returns output 0 and sets
     * out[1 .. nout) (the executor clears them before the call); they carry no mask. */
    dc_tensor *out[DC_LAYER_MAX_OUTPUTS];
} dc_fwd;

enum {
    DC_LAYER_INPUT = 1,  /* the type is InputLayer: it feeds data into the model */
    DC_LAYER_LOGITS = 2, /* its last step is the activation of its "activation" field, and forward
                          * leaves it out when f->logits: the loss may fuse softmax or sigmoid */
    DC_LAYER_WRAPPER = 4, /* it applies another layer, l->inner (TimeDistributed, Bidirectional),
                           * which model files nest under the key "layer"; its check says which
                           * inner layers it takes */
};

typedef struct dc_layer_type {
    const char *name;   /* Keras-style class name, in summaries and model files: "Dense" */
    const char *stem;   /* default name stem: "dense", "dense_1", ... */
    size_t cfg_size;    /* sizeof the type's config struct */
    const dc_field *fields;
    int nfields;
    /* From in_shape (and xin_* for several inputs), sets out_shape and declares parameters;
     * errors name the layer. */
    dc_status (*build)(dc_layer *l);
    /* x[0..n) are [N, in_shape...] in the order the user wired them; returns [N, out_shape...]
     * (output 0; a layer with several outputs sets f->out[k] to output k, [N, xout_shape[k]...]). */
    dc_tensor *(*forward)(dc_layer *l, dc_fwd *f, dc_tensor *const *x, int n);
    /* Optional: adjusts parameters after the initialisers ran (e.g. LSTM's forget-gate bias). */
    void (*post_init)(dc_layer *l);
    /* Optional: checks the options together (one field against another) after construction,
     * after a setter and after loading; errors name the layer. */
    dc_status (*check)(const dc_layer *l);
    /* Optional: whether this layer and the layer `next` that alone reads its output can run as
     * one op, and that op (e.g. Conv2D + MaxPooling2D). The model plans fusions when it is built. */
    bool (*can_fuse)(const dc_layer *l, const dc_layer *next);
    dc_tensor *(*forward_fused)(dc_layer *l, const dc_layer *next, dc_fwd *f, dc_tensor *x);
    /* Optional: the parameter a tensor of another framework's file loads into, given the part of
     * its name after the layer's name and a dot (`foreign`; pytorch: PyTorch's state_dict names
     * are meant): that parameter's name into to[size], *sum when the file splits it into several
     * tensors that add up (PyTorch's bias_ih_l0 + bias_hh_l0 for one bias). False when the name
     * means nothing to the type. */
    bool (*param_alias)(const dc_layer *l, const char *foreign, bool pytorch, char *to, size_t size, bool *sum);
    int max_inputs;     /* 0 means 1 */
    unsigned flags;     /* DC_LAYER_INPUT, DC_LAYER_LOGITS, DC_LAYER_WRAPPER */
    /* A wrapper's: the class of a layer it wraps with that layer's defaults (dc_layer_example). */
    const char *example_inner;
} dc_layer_type;

struct dc_layer {
    const dc_layer_type *type;
    char name[48];
    bool named; /* user-given name */
    bool built; /* options that change shapes are frozen from here on */
    bool frozen; /* trainable false (dc_layer_set_trainable): no gradient, no update, inference mode */
    /* wiring: nin inputs (1 in a Sequential), from the layers at indices inputs[] of the
     * model (-1: the previous layer), input j being output input_out[j] of its layer (0: the
     * main output) */
    int nin;
    int inputs[DC_LAYER_MAX_INPUTS];
    int input_out[DC_LAYER_MAX_INPUTS];
    /* set when built; in_* is input 0, xin_* every input (xin_*[0] = in_*) */
    int in_ndim, out_ndim;
    int64_t in_shape[DC_MAX_DIMS], out_shape[DC_MAX_DIMS];
    int xin_ndim[DC_LAYER_MAX_INPUTS];
    int64_t xin_shape[DC_LAYER_MAX_INPUTS][DC_MAX_DIMS];
    /* outputs: nout of them (build sets it above 1 for a layer with several; 0 counts as 1);
     * output 0 is out_*, output k >= 1 xout_*[k] */
    int nout;
    int xout_ndim[DC_LAYER_MAX_OUTPUTS];
    int64_t xout_shape[DC_LAYER_MAX_OUTPUTS][DC_MAX_DIMS];
    int nparams;
    dc_param_decl decl[DC_LAYER_MAX_PARAMS];
    dc_tensor *param[DC_LAYER_MAX_PARAMS]; /* views into the model's buffer */
    /* A wrapper's layer (owned; NULL for other types), built by the wrapper's build with the
     * wrapper's name; its parameters are the wrapper's (declared again by the wrapper). twin: a
     * second copy of it that the wrapper made (Bidirectional's backward layer), owned too. */
    dc_layer *inner, *twin;
    _Alignas(max_align_t) unsigned char cfg[]; /* the type's config struct (type->cfg_size bytes) */
};

/* The config struct of layer l, of type T. */
#define DC_CFG(l, T) ((T *)(void *)(l)->cfg)
#define DC_CCFG(l, T) ((const T *)(const void *)(l)->cfg)

/* Registers a type (a non-static const dc_layer_type) in the registry; one per line. */
#define DC_REGISTER_LAYER(sym) extern const dc_layer_type sym

/* The registry: every layer type the build found. */
int dc_layer_type_count(void);
const dc_layer_type *dc_layer_type_at(int i);
/* The type whose class name is name, or NULL. */
const dc_layer_type *dc_layer_type_find(const char *name);
/* Every class name, comma-separated, into buf (cut at size), for messages that list them. */
void dc_layer_type_list(char *buf, size_t size);

/* A new layer of type t with every field at its default (NULL + error when out of memory). */
dc_layer *dc_layer_create(const dc_layer_type *t);
/* A new unbuilt, unnamed layer of l's type with l's options, and a copy of its inner layer. */
dc_layer *dc_layer_copy(const dc_layer *l);
/* A layer of type t that builds with its defaults: dc_layer_create, and for a wrapper, wrapping
 * a new layer of its example_inner class. */
dc_layer *dc_layer_example(const dc_layer_type *t);
/* Gives wrapper l the layer inner to apply (in place of the one it had), and runs l's check. l
 * takes inner in every case (on error it is freed), so inner must be no other layer's or
 * model's: DC_ERR_ARG for a layer that is not a wrapper, an inner layer that is NULL or built,
 * or one the wrapper's check refuses (l then keeps the layer it had); DC_ERR_STATE once l is
 * built. */
dc_status dc_layer_wrap(dc_layer *l, dc_layer *inner);

/* Checked setters of one field by key: a key the type does not have is DC_ERR_ARG naming the
 * layer and the key; a field that shapes depend on, once the layer is built, DC_ERR_STATE; a
 * value out of range DC_ERR_ARG with the value and the range. The type's check runs after. */
dc_status dc_layer_set_field(dc_layer *l, const char *key, const double *v, int n);
dc_status dc_layer_set_num(dc_layer *l, const char *key, double v);
/* Reads a field; returns the count of values (0 if absent), -1 + error if the type lacks it. */
int dc_layer_get_field(const dc_layer *l, const char *key, double *v);
/* The type's cross-field check (DC_OK when the type has none). */
dc_status dc_layer_check(const dc_layer *l);

/* Declares a trainable parameter during build. */
dc_status dc_layer_declare(dc_layer *l, const char *name, int ndim, const int64_t *shape, dc_init init,
                           float init_value);
/* Declares non-trainable state (kept in the model, saved with it, not optimised). */
dc_status dc_layer_declare_state(dc_layer *l, const char *name, int ndim, const int64_t *shape, dc_init init,
                                 float init_value);
/* The same for state whose values are at least min (a variance: 0); a file holding less is
 * refused when it is read. */
dc_status dc_layer_declare_state_min(dc_layer *l, const char *name, int ndim, const int64_t *shape, dc_init init,
                                     float init_value, float min);
/* The activation a layer applies at its output (DC_ACT_NONE if the type has no "activation"). */
dc_activation dc_layer_output_act(const dc_layer *l);
/* A shape without the batch axis as Keras prints it, "(None, 28, 28)", into buf. */
const char *dc_layer_shape_str(int ndim, const int64_t *shape, char *buf, size_t size);
/* How many outputs l has (1 unless its build said more). */
static inline int dc_layer_nout(const dc_layer *l) { return l->nout > 1 ? l->nout : 1; }
/* The shape (without batch) of output k of l into shape[DC_MAX_DIMS]; returns its rank. */
static inline int dc_layer_out_shape_k(const dc_layer *l, int k, int64_t *shape) {
    int nd = k ? l->xout_ndim[k] : l->out_ndim;
    memcpy(shape, k ? l->xout_shape[k] : l->out_shape, (size_t)nd * sizeof *shape);
    return nd;
}
/* out_* = in_* (layers that keep the shape). */
void dc_layer_same_shape(dc_layer *l);

/* Names of the enums the schemas use, by value (for DC_F_ENUM). */
const char *dc_act_name_of(int a);
const char *dc_init_name_of(int i);
const char *dc_padding_name_of(int p);

#endif
