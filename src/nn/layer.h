/* nn: a layer is parameters + a forward written with differentiable ops; the model owns
 * the parameter memory (one buffer for all layers) and asks each layer to declare what it
 * needs when its input shape becomes known. */
#ifndef DC_LAYER_H
#define DC_LAYER_H

#include "../ops/ops.h"

#define DC_LAYER_MAX_PARAMS 24
#define DC_LAYER_MAX_INPUTS 4

typedef struct dc_param_decl {
    char name[40];  /* "weight", "bias", "self_attn.in_proj_weight" */
    int ndim;
    int64_t shape[4];
    dc_init init;
    float init_value;
    bool trainable; /* false: state such as running statistics, never touched by the optimiser */
} dc_param_decl;

typedef struct dc_layer_ops {
    const char *type; /* Keras-style class name shown by summary: "Dense" */
    const char *base; /* default name stem: "dense" */
    /* From in_shape, sets out_shape and declares parameters; errors name the layer. */
    dc_status (*build)(dc_layer *l);
    /* x is [N, in_shape...]; returns [N, out_shape...]. */
    dc_tensor *(*forward)(dc_layer *l, dc_ctx *c, dc_tensor *x, bool training, dc_rng *rng);
    /* Optional: adjusts parameters after the initialisers ran (e.g. LSTM's forget-gate bias). */
    void (*post_init)(dc_layer *l);
    /* Layers that take several inputs in a graph model (dc_model_apply): x[0..n) in the order
     * the user wired them, n in [1, max_inputs]; build reads their shapes from xin_ndim /
     * xin_shape. NULL: the layer takes one input, through forward. */
    dc_tensor *(*forward_n)(dc_layer *l, dc_ctx *c, dc_tensor **x, int n, bool training, dc_rng *rng);
    int max_inputs; /* with forward_n */
} dc_layer_ops;

struct dc_layer {
    const dc_layer_ops *ops;
    char name[48];
    bool named; /* user-given name */
    /* options */
    int64_t units;
    dc_activation act;
    float alpha, rate;
    int kernel[2], stride[2], pad[4]; /* pad {top, left, bottom, right} */
    dc_padding padding;
    bool explicit_pad;
    float momentum, eps;
    bool return_sequences, mask_zero;
    float forget_bias;
    int heads;              /* attention heads */
    int64_t ff_units;       /* a Transformer layer's feed-forward width */
    bool causal, pre_norm;  /* attention masks future steps; LayerNorm before each sub-layer */
    bool learned;           /* positional embedding: a trained table, else fixed sinusoids */
    bool separate_qkv;      /* attention: q, k, v projections of their own (the memory may be narrower or wider) */
    bool use_bias;
    bool sync_bn;           /* BatchNormalization: batch statistics over every rank in a distributed fit */
    dc_init w_init, b_init;
    /* wiring: nin inputs (1 in a Sequential), from the layers at indices inputs[] of the
     * model (-1: the previous layer) */
    int nin;
    int inputs[DC_LAYER_MAX_INPUTS];
    /* set when built; in_* is input 0, xin_* every input (xin_*[0] = in_*) */
    int in_ndim, out_ndim;
    int64_t in_shape[DC_MAX_DIMS], out_shape[DC_MAX_DIMS];
    int xin_ndim[DC_LAYER_MAX_INPUTS];
    int64_t xin_shape[DC_LAYER_MAX_INPUTS][DC_MAX_DIMS];
    int nparams;
    dc_param_decl decl[DC_LAYER_MAX_PARAMS];
    dc_tensor *param[DC_LAYER_MAX_PARAMS]; /* views into the model's buffer */
    /* Set by the model for the last layer when the loss fuses its softmax/sigmoid. */
    bool skip_act;
};

/* Declares a trainable parameter during build. */
dc_status dc_layer_declare(dc_layer *l, const char *name, int ndim, const int64_t *shape, dc_init init,
                           float init_value);
/* Declares non-trainable state (kept in the model, saved with it, not optimised). */
dc_status dc_layer_declare_state(dc_layer *l, const char *name, int ndim, const int64_t *shape, dc_init init,
                                 float init_value);
/* A new layer with default options (used by the constructors of every layer file). */
dc_layer *dc_layer_new(const dc_layer_ops *ops);
/* The activation a layer applies at its output (DC_ACT_NONE if none). */
dc_activation dc_layer_output_act(const dc_layer *l);
/* A shape without the batch axis as Keras prints it, "(None, 28, 28)", into buf. */
const char *dc_layer_shape_str(int ndim, const int64_t *shape, char *buf, size_t size);
/* Type name ("Dense"). */
const char *dc_layer_type(const dc_layer *l);

/* Whether a Conv2D followed by this MaxPooling2D can run as one op (the activation is
 * element-wise and computable from its output), and that op: the pooled output, with the
 * convolution's own output never materialised. The model uses it when nothing else reads the
 * convolution's output. */
bool dc_layer_conv_pool_fusable(const dc_layer *conv, const dc_layer *pool);
dc_tensor *dc_layer_conv_pool_forward(dc_layer *conv, dc_layer *pool, dc_ctx *c, dc_tensor *x);

#endif
