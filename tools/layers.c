/* deepc layers: the reference of what a model file or a configuration may name, printed from the
 * registries the build collects (layer types, optimisers, learning-rate schedules) and the
 * library's loss and metric tables, so it cannot drift from the code. `deepc layers --markdown`
 * prints docs/layers.md; ctest's docs_layers compares the two.
 *
 * The registries give each class its name and its options (key, kind, bounds, default, flags);
 * a one-line summary and the names of the C constructor, the Keras class and the PyTorch module
 * are kept below, next to the registry they describe. A class the table below lacks is still
 * listed with every option, and its summary says "(no summary yet ...)", which docs_layers refuses. */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "cli.h"
#include "deepc.h"
#include "model/objective.h"
#include "nn/layer.h"
#include "optim/optim.h"

/* What the registry does not say of a class: a summary, its C constructor and its counterparts. */
typedef struct class_doc {
    const char *name, *summary, *c, *keras, *torch;
} class_doc;

/* Layer types, in the order the reference lists them (a registered type missing here comes last). */
static const class_doc layer_docs[] = {
    {"InputLayer", "The model's input: the shape of one sample, without the batch axis.",
     "dc_input(ndim, shape), dc_model_input(m, name, ndim, shape)", "keras.Input", "-"},
    {"Dense", "Fully connected over the last axis: y = activation(x W^T + b), W [units, in], b [units].",
     "dc_dense(units, activation)", "Dense", "nn.Linear (+ the activation)"},
    {"Activation", "An element-wise activation (softmax and log-softmax over the last axis) as a layer.",
     "dc_activation_layer(activation)", "Activation", "nn.ReLU, nn.Tanh, nn.Softmax(dim=-1), ..."},
    {"Dropout", "Inverted dropout in training (zeroes a fraction rate of the values, scales the rest by 1 / (1 - rate)); nothing in inference.",
     "dc_dropout_layer(rate)", "Dropout", "nn.Dropout"},
    {"Flatten", "[N, d1, d2, ...] -> [N, d1 d2 ...].", "dc_flatten()", "Flatten", "nn.Flatten"},
    {"Reshape", "[N, in...] -> [N, target_shape...], values in the same order; one dimension may be -1.",
     "dc_reshape_layer(ndim, target_shape)", "Reshape", "nn.Unflatten, x.view(N, ...)"},
    {"Add", "The sum of 2 to 4 inputs of one shape (graph models).", "dc_add_layer()", "Add", "x + y"},
    {"Concatenate", "2 to 4 inputs joined along the last axis, the other axes equal (graph models).",
     "dc_concatenate_layer()", "Concatenate", "torch.cat(..., dim=-1)"},
    {"Conv2D", "2-D convolution on [N, C, H, W]: weight [filters, C, kh, kw], bias [filters]; padding valid, same or explicit.",
     "dc_conv2d_layer(filters, kh, kw, stride, padding, activation)", "Conv2D (NCHW here)", "nn.Conv2d"},
    {"Conv2DTranspose", "Transposed 2-D convolution: weight [C, filters, kh, kw]; output (H - 1) stride + kh (valid) or H stride (same).",
     "dc_conv2d_transpose_layer(filters, kh, kw, stride, padding, activation)", "Conv2DTranspose", "nn.ConvTranspose2d"},
    {"MaxPooling2D", "The maximum of each pool_size window of [N, C, H, W], no padding.",
     "dc_max_pool2d_layer(kh, kw, stride)", "MaxPooling2D", "nn.MaxPool2d"},
    {"AveragePooling2D", "The mean of each pool_size window of [N, C, H, W], no padding.",
     "dc_avg_pool2d_layer(kh, kw, stride)", "AveragePooling2D", "nn.AvgPool2d"},
    {"GlobalAveragePooling2D", "[N, C, H, W] -> [N, C]: the mean of each channel.", "dc_global_avg_pool2d_layer()",
     "GlobalAveragePooling2D", "nn.AdaptiveAvgPool2d(1) + flatten"},
    {"UpSampling2D", "Nearest-neighbour up-sampling: [N, C, H, W] -> [N, C, H fh, W fw].", "dc_upsample2d_layer(fh, fw)",
     "UpSampling2D", "nn.Upsample(scale_factor, mode=\"nearest\")"},
    {"BatchNormalization", "Normalises axis 1 of [N, C] or [N, C, H, W]: batch statistics in training, running ones in inference; "
                           "momentum in PyTorch's convention (0.1 = Keras's 0.99).",
     "dc_batch_norm_layer(momentum, epsilon)", "BatchNormalization", "nn.BatchNorm1d, nn.BatchNorm2d"},
    {"Embedding", "Token ids [N, T] -> vectors [N, T, output_dim]; mask_zero: id 0 is padding, which later layers skip.",
     "dc_embedding_layer(input_dim, output_dim, mask_zero)", "Embedding", "nn.Embedding (padding_idx=0 for mask_zero)"},
    {"SimpleRNN", "Elman recurrence on [N, T, F]: the last state [N, units], or every step's with return_sequences.",
     "dc_simple_rnn_layer(units, activation, return_sequences)", "SimpleRNN", "nn.RNN(batch_first=True)"},
    {"LSTM", "LSTM on [N, T, F] (PyTorch's weights and gate order i, f, g, o); the forget gate's bias starts at forget_bias.",
     "dc_lstm_layer(units, return_sequences)", "LSTM", "nn.LSTM(batch_first=True)"},
    {"GRU", "GRU on [N, T, F] (gates r, z, n, reset after, as PyTorch's and Keras's default).",
     "dc_gru_layer(units, return_sequences)", "GRU", "nn.GRU(batch_first=True)"},
    {"LayerNormalization", "Normalises the last axis: weight (ones) and bias (zeros) [D].", "dc_layer_norm_layer(epsilon)",
     "LayerNormalization", "nn.LayerNorm"},
    {"PositionalEmbedding", "x + table[0..T): a learned table [max_len, D] or the fixed sinusoids.",
     "dc_positional_embedding_layer(max_len, learned)", "keras_nlp PositionEmbedding, SinePositionEncoding",
     "an nn.Parameter added to x"},
    {"MultiHeadAttention", "Multi-head attention on [N, T, D]: self-attention with one input, cross-attention with two "
                           "(queries, memory); causal and padding masks.",
     "dc_multi_head_attention_layer(heads, causal, dropout)", "MultiHeadAttention", "nn.MultiheadAttention(batch_first=True)"},
    {"TransformerEncoderLayer", "Self-attention and a feed-forward network, each with a residual and LayerNorm (post- or pre-norm).",
     "dc_transformer_encoder_layer(heads, ff_units, dropout, activation, pre_norm, causal)", "keras_nlp TransformerEncoder",
     "nn.TransformerEncoderLayer(batch_first=True)"},
    {"TransformerDecoderLayer", "Causal self-attention over the target, cross-attention to the memory (second input), feed-forward.",
     "dc_transformer_decoder_layer(heads, ff_units, dropout, activation, pre_norm)", "keras_nlp TransformerDecoder",
     "nn.TransformerDecoderLayer(batch_first=True)"},
    {"GlobalAveragePooling1D", "[N, T, D] -> [N, D]: the mean over the steps (the unpadded ones under a mask).",
     "dc_global_avg_pool1d_layer()", "GlobalAveragePooling1D", "x.mean(dim=1)"},
    {"Conv1D", "1-D convolution over the steps of [N, T, C]: weight [filters, C, kernel_size], bias [filters]; padding valid, "
               "same or causal; dilation_rate. A mask passes (output step t real when input step t strides is).",
     "dc_conv1d_layer(filters, kernel, stride, padding, activation)", "Conv1D", "nn.Conv1d (on [N, C, T]: transposed)"},
    {"MaxPooling1D", "The maximum of each pool_size window of steps of [N, T, C]; padding valid or same.",
     "dc_max_pool1d_layer(pool, stride, padding)", "MaxPooling1D", "nn.MaxPool1d (on [N, C, T])"},
    {"AveragePooling1D", "The mean of each pool_size window of steps of [N, T, C]; padding valid or same (padded steps not counted).",
     "dc_avg_pool1d_layer(pool, stride, padding)", "AveragePooling1D", "nn.AvgPool1d(count_include_pad=False) (on [N, C, T])"},
    {"GlobalMaxPooling1D", "[N, T, C] -> [N, C]: the maximum over the steps (the unpadded ones under a mask).",
     "dc_global_max_pool1d_layer()", "GlobalMaxPooling1D", "x.amax(dim=1)"},
    {"Permute", "The axes of a sample in the order dims, a permutation of 1..rank (1-based, the batch axis stays first).",
     "dc_permute_layer(ndim, dims)", "Permute", "x.permute(0, ...)"},
    {"Masking", "A step whose values all equal mask_value is padding for the layers after (recurrent, Bidirectional, pooling, CTC); "
                "its values become 0.",
     "dc_masking_layer(mask_value)", "Masking", "pack_padded_sequence"},
    {"TimeDistributed", "Applies the layer nested under \"layer\" to every step of [N, T, ...] (the steps folded into the batch); "
                        "its parameters keep their names under the wrapper's.",
     "dc_time_distributed(inner)", "TimeDistributed", "the module on x.flatten(0, 1)"},
    {"Bidirectional", "A SimpleRNN, LSTM or GRU nested under \"layer\", read forwards and backwards (within each sequence's real "
                      "steps); parameters forward.* and backward.*; merge_mode concat, sum, mul or ave (the mean).",
     "dc_bidirectional(inner, merge_mode)", "Bidirectional", "nn.RNN, nn.LSTM, nn.GRU(bidirectional=True, batch_first=True)"},
    {"BertEmbeddings", "BERT's embeddings: word + position + segment, LayerNorm, dropout; token ids (and segment ids as a second input).",
     "dc_bert_embeddings_layer(vocab, hidden, max_positions, type_vocab, epsilon, dropout)", "-",
     "transformers' BertEmbeddings"},
    {"BertLayer", "BERT's post-norm encoder layer: separate query/key/value projections, exact GELU.",
     "dc_bert_layer(heads, intermediate_size, epsilon, dropout)", "-", "transformers' BertLayer"},
    {"BertPooler", "BERT's pooler: tanh(x[:, 0] W^T + b), [N, T, D] -> [N, D].", "dc_bert_pooler_layer()", "-",
     "transformers' BertPooler"},
    {"Arithmetic", "a + b, a - b, a * b or a / b of two graph inputs, element-wise with NumPy's broadcasting (the lower rank "
                   "gets axes of 1 after the batch); ONNX's Add, Sub, Mul, Div import as it.",
     "dc_arithmetic_layer(op)", "Add, Subtract, Multiply (same shapes)", "torch.add, sub, mul, div"},
    {"ValueArithmetic", "x op value with a tensor the layer holds (parameter \"value\" of value_shape, trained unless "
                        "trainable_value is false); value op x with reverse. A bias, a scale, attention's 1 / sqrt(d).",
     "dc_arithmetic_value_layer(op, ndim, value_shape, reverse, trainable)", "-", "x + nn.Parameter(...)"},
    {"MatMul", "Matrix products of two graph inputs [N, ..., M, K] . [N, ..., K, P] -> [N, ..., M, P] (leading axes equal).",
     "dc_matmul_layer()", "-", "torch.matmul"},
    {"Slice", "Indices [start, stop) of one axis of a sample (axis 1-based after the batch).", "dc_slice_layer(axis, start, stop)",
     "-", "x.narrow(axis, start, stop - start)"},
    {"Reduce", "The mean, sum or maximum over some axes of a sample (1-based after the batch), kept as axes of 1 with keepdims.",
     "dc_reduce_layer(op, naxes, axes, keepdims)", "-", "x.mean / sum / amax(dim=axes, keepdim=keepdims)"},
    {"Elementwise", "y = f(x) for every element, f named by op with the numbers alpha and beta where it takes them (pow: "
                    "exponent alpha; clip: [alpha, beta]; selu: alpha, gamma beta; hard_sigmoid: max(0, min(1, alpha x + beta)); "
                    "celu, thresholded_relu: alpha); ONNX's element-wise operators of one tensor import as it.",
     "dc_layer_create(dc_layer_type_find(\"Elementwise\")) (internal); in a config {\"class\": \"Elementwise\", \"op\": \"exp\"}", "-",
     "torch.exp, clamp, F.softplus, F.selu, ..."},
};

static const class_doc optim_docs[] = {
    {"SGD", "Stochastic gradient descent with momentum and Nesterov momentum (PyTorch's update).",
     "dc_sgd(lr, momentum, nesterov)", "SGD", "torch.optim.SGD"},
    {"Adagrad", "Per-parameter rates from the running sum of squared gradients.", "dc_adagrad(lr, epsilon)", "Adagrad",
     "torch.optim.Adagrad"},
    {"Adadelta", "Rates from running averages of squared gradients and updates.", "dc_adadelta(lr, rho, epsilon)", "Adadelta",
     "torch.optim.Adadelta"},
    {"RMSprop", "Gradients scaled by a running average of their squares; momentum and centred variants.",
     "dc_rmsprop(lr, rho, epsilon)", "RMSprop", "torch.optim.RMSprop"},
    {"Adam", "Adam with bias correction and AMSGrad; weight decay is L2 (added to the gradient).",
     "dc_adam(lr, beta1, beta2, epsilon)", "Adam", "torch.optim.Adam"},
    {"AdamW", "Adam with decoupled weight decay (w *= 1 - lr weight_decay before the update).",
     "dc_adamw(lr, beta1, beta2, epsilon, weight_decay)", "AdamW", "torch.optim.AdamW"},
};

static const class_doc sched_docs[] = {
    {"StepLR", "lr gamma^floor(k / step_size) after k optimiser steps.", "dc_step_lr(step_size, gamma)", "-",
     "lr_scheduler.StepLR (counted in steps)"},
    {"ExponentialLR", "lr gamma^k after k optimiser steps.", "dc_exponential_lr(gamma)", "ExponentialDecay",
     "lr_scheduler.ExponentialLR (counted in steps)"},
    {"CosineWarmup", "A linear warm-up over warmup_steps, then half a cosine down to min_lr at total_steps, held there.",
     "dc_cosine_warmup(warmup_steps, total_steps, min_lr)", "CosineDecay with warmup",
     "SequentialLR(LinearLR, CosineAnnealingLR)"},
    {"OneCycleLR", "Up from max_lr / div_factor to max_lr by step pct_start total_steps, then down to "
                   "max_lr / (div_factor final_div_factor), half a cosine each.",
     "dc_one_cycle_lr(max_lr, total_steps)", "-", "lr_scheduler.OneCycleLR (cycle_momentum=False)"},
    {"ReduceLROnPlateau", "Counted in epochs: lowers the rate by factor after more than patience epochs without improvement "
                          "of val_loss (else loss).",
     "dc_reduce_lr_on_plateau(factor, patience)", "ReduceLROnPlateau", "lr_scheduler.ReduceLROnPlateau"},
};

/* The losses of compile (dc_loss_name gives the names model files use): formula and options. */
typedef struct loss_doc {
    const char *formula, *options, *keras, *torch;
} loss_doc;
static const loss_doc loss_docs[] = {
    [DC_LOSS_MSE] = {"(p - y)^2", "-", "MeanSquaredError", "nn.MSELoss"},
    [DC_LOSS_MAE] = {"\\|p - y\\|", "-", "MeanAbsoluteError", "nn.L1Loss"},
    [DC_LOSS_BCE] = {"-(y log p + (1 - y) log(1 - p)), p clamped to [1e-7, 1 - 1e-7]", "from_logits", "BinaryCrossentropy",
                     "nn.BCELoss, nn.BCEWithLogitsLoss"},
    [DC_LOSS_CCE] = {"-sum_k y_k log p_k (y one-hot or soft)", "from_logits, label_smoothing", "CategoricalCrossentropy",
                     "nn.CrossEntropyLoss (probability targets)"},
    [DC_LOSS_SPARSE_CCE] = {"-log p_label (labels are class indices)", "from_logits, label_smoothing",
                            "SparseCategoricalCrossentropy", "nn.CrossEntropyLoss"},
    [DC_LOSS_HUBER] = {"d^2 / 2 where \\|d\\| <= delta, else delta (\\|d\\| - delta / 2), d = p - y", "delta", "Huber", "nn.HuberLoss"},
    [DC_LOSS_NLL] = {"-lp_label on log-probabilities", "-", "-", "nn.NLLLoss"},
    [DC_LOSS_KLD] = {"sum_k y_k log(y_k / p_k), both clamped to [1e-7, 1]", "-", "KLDivergence", "nn.KLDivLoss (on log p)"},
    [DC_LOSS_HINGE] = {"max(0, 1 - y p), labels 0/1 read as -1/1", "-", "Hinge", "-"},
    [DC_LOSS_SQUARED_HINGE] = {"max(0, 1 - y p)^2", "-", "SquaredHinge", "-"},
    [DC_LOSS_BINARY_FOCAL] = {"alpha_t (1 - p_t)^gamma BCE(p, y)", "from_logits, gamma, alpha", "BinaryFocalCrossentropy",
                              "torchvision.ops.sigmoid_focal_loss"},
    [DC_LOSS_COSINE] = {"-cos(p, y) over the last axis", "-", "CosineSimilarity", "-F.cosine_similarity"},
    [DC_LOSS_POISSON] = {"p - y log(p + 1e-7), p >= 0", "-", "Poisson", "nn.PoissonNLLLoss(log_input=False)"},
    [DC_LOSS_CTC] = {"-log sum of the alignments that give the label sequence y (its labels, then negative padding); the mean is per label",
                     "from_logits, blank, zero_infinity", "ctc_batch_cost", "nn.CTCLoss"},
};
_Static_assert(sizeof loss_docs / sizeof loss_docs[0] == DC_LOSS_COUNT, "every loss has its row in loss_docs");

static const char *const metric_docs[] = {
    [DC_METRIC_ACCURACY] = "binary, categorical or sparse accuracy, chosen from the loss as Keras does",
    [DC_METRIC_MAE] = "mean absolute error",
    [DC_METRIC_MSE] = "mean squared error",
};
_Static_assert(sizeof metric_docs / sizeof metric_docs[0] == DC_METRIC_COUNT, "every metric has its row in metric_docs");

#define NDOCS(a) ((int)(sizeof(a) / sizeof((a)[0])))
#define NO_SUMMARY "(no summary yet: add one to tools/layers.c)"

static const class_doc *find_doc(const class_doc *docs, int n, const char *name) {
    for (int i = 0; i < n; i++)
        if (strcmp(docs[i].name, name) == 0) return &docs[i];
    return NULL;
}

/* ---- one entry of the reference: a class of one of the three registries ---------------------- */

typedef enum reg { REG_LAYER, REG_OPTIM, REG_SCHED } reg;

typedef struct entry {
    reg r;
    const char *name;
    const dc_field *fields;
    int nfields;
    int max_inputs;        /* layers: how many inputs it takes */
    const char *wraps;     /* wrappers: the class of a layer it can wrap (its example), else NULL */
    const class_doc *doc;  /* NULL when the table above lacks it */
} entry;

#define MAX_ENTRIES 256

/* Every class of registry r, documented ones first in the table's order, then the others in the
 * registry's order. */
static int collect(reg r, entry *out, int cap) {
    int n = 0, count = r == REG_LAYER ? dc_layer_type_count() : r == REG_OPTIM ? dc_optimizer_type_count() : dc_schedule_type_count();
    const class_doc *docs = r == REG_LAYER ? layer_docs : r == REG_OPTIM ? optim_docs : sched_docs;
    int ndocs = r == REG_LAYER ? NDOCS(layer_docs) : r == REG_OPTIM ? NDOCS(optim_docs) : NDOCS(sched_docs);
    for (int pass = 0; pass < 2; pass++)
        for (int i = 0; i < count && n < cap; i++) {
            entry e = {.r = r};
            if (r == REG_LAYER) {
                const dc_layer_type *t = dc_layer_type_at(i);
                e.name = t->name, e.fields = t->fields, e.nfields = t->nfields, e.max_inputs = t->max_inputs ? t->max_inputs : 1;
                e.wraps = (t->flags & DC_LAYER_WRAPPER) ? t->example_inner : NULL;
            } else if (r == REG_OPTIM) {
                const dc_optimizer_type *t = dc_optimizer_type_at(i);
                e.name = t->name, e.fields = t->fields, e.nfields = t->nfields;
            } else {
                const dc_schedule_type *t = dc_schedule_type_at(i);
                e.name = t->name, e.fields = t->fields, e.nfields = t->nfields;
            }
            e.doc = find_doc(docs, ndocs, e.name);
            if ((pass == 0) != (e.doc != NULL)) continue;
            out[n++] = e;
        }
    if (n > 1) { /* pass 0 went in registry order: put the documented ones in the table's order */
        for (int i = 1; i < n; i++) {
            entry e = out[i];
            if (!e.doc) break;
            int j = i;
            while (j > 0 && out[j - 1].doc && out[j - 1].doc > e.doc) {
                out[j] = out[j - 1];
                j--;
            }
            out[j] = e;
        }
    }
    return n;
}

/* ---- how a field is shown ------------------------------------------------------------------- */

/* A number as short as it is exact: powers of two from 2^20 as 2^k, powers of ten from 1e6 as 1eK. */
static const char *num(double v, bool whole, char *buf, size_t size) {
    double a = fabs(v);
    int e2 = 0;
    if (whole && a >= 1048576 && frexp(a, &e2) == 0.5) snprintf(buf, size, "%s2^%d", v < 0 ? "-" : "", e2 - 1);
    else if (a >= 1e6 && a == pow(10, round(log10(a)))) snprintf(buf, size, "%s1e%d", v < 0 ? "-" : "", (int)round(log10(a)));
    else if (whole) snprintf(buf, size, "%.0f", v);
    else {
        snprintf(buf, size, "%.7g", v);
        char *x = strchr(buf, 'e'); /* 1e-07 -> 1e-7 */
        if (x) {
            char *d = x + 1 + (x[1] == '-' || x[1] == '+');
            if (x[1] == '+') memmove(x + 1, x + 2, strlen(x + 2) + 1), d--;
            while (*d == '0' && d[1]) memmove(d, d + 1, strlen(d));
        }
    }
    return buf;
}

/* The bounds of a number: [lo, hi], with (0 for the smallest positive float, 1) for the largest
 * float below 1, and "> 0" for every positive float. */
static const char *bounds(const dc_field *f, char *buf, size_t size) {
    bool whole = f->kind != DC_FIELD_FLOAT;
    bool open_lo = f->lo > 0 && f->lo <= FLT_MIN, inf_hi = f->hi >= FLT_MAX, below1 = f->hi == (double)nextafterf(1.0f, 0.0f);
    char a[48], b[48];
    if (open_lo && inf_hi) snprintf(buf, size, "> 0");
    else if (inf_hi) snprintf(buf, size, ">= %s", num(f->lo, whole, a, sizeof a));
    else
        snprintf(buf, size, "%s%s, %s%s", open_lo ? "(" : "[", open_lo ? "0" : num(f->lo, whole, a, sizeof a),
                 below1 ? "1" : num(f->hi, whole, b, sizeof b), below1 ? ")" : "]");
    return buf;
}

static const char *kind_word(const dc_field *f) {
    switch (f->kind) {
    case DC_FIELD_INT: return "int";
    case DC_FIELD_FLOAT: return "float";
    case DC_FIELD_BOOL: return "bool";
    case DC_FIELD_ENUM: return "enum";
    case DC_FIELD_INTS: return "ints";
    case DC_FIELD_DIMS: return "dims";
    }
    return "?";
}

/* The enumerations the reference lists once, in sections of their own. */
static const char *shared_enum(const dc_field *f) {
    if (f->kind != DC_FIELD_ENUM) return NULL;
    if (f->name_of == dc_act_name_of) return "activation";
    if (f->name_of == dc_init_name_of) return "initializer";
    return NULL;
}

/* What values the field takes. full: every enum name, else shared enums by a link. */
static const char *allowed(const dc_field *f, bool markdown, char *buf, size_t size) {
    char b[96];
    const char *q = markdown ? "`" : "\"", *shared = shared_enum(f);
    switch (f->kind) {
    case DC_FIELD_INT:
    case DC_FIELD_FLOAT: snprintf(buf, size, "%s", bounds(f, b, sizeof b)); break;
    case DC_FIELD_BOOL: snprintf(buf, size, "true, false"); break;
    case DC_FIELD_ENUM:
        if (markdown && shared) {
            snprintf(buf, size, "an [%s](#%ss)", shared, shared);
            break;
        }
        buf[0] = 0;
        for (int i = 0, o = 0; i < f->count && o >= 0 && (size_t)o < size; i++)
            o += snprintf(buf + o, size - (size_t)o, "%s%s%s%s", i ? ", " : "", q, f->name_of(i), q);
        break;
    case DC_FIELD_INTS: snprintf(buf, size, "%d whole numbers in %s", f->count, bounds(f, b, sizeof b)); break;
    case DC_FIELD_DIMS: snprintf(buf, size, "1 to %d whole numbers in %s", f->count, bounds(f, b, sizeof b)); break;
    }
    return buf;
}

/* The value a file that leaves the option out gets. */
static const char *default_of(const dc_field *f, bool markdown, char *buf, size_t size) {
    char a[48];
    const char *q = markdown ? "`" : "\"";
    if (f->flags & DC_FIELD_REQUIRED) snprintf(buf, size, "-");
    else if (f->flags & DC_FIELD_WHEN) snprintf(buf, size, "absent");
    else
        switch (f->kind) {
        case DC_FIELD_INT: num(f->def, true, buf, size); break;
        case DC_FIELD_FLOAT: num(f->def, false, buf, size); break;
        case DC_FIELD_BOOL: snprintf(buf, size, "%s", f->def != 0 ? "true" : "false"); break;
        case DC_FIELD_ENUM: snprintf(buf, size, "%s%s%s", q, f->name_of((int)f->def), q); break;
        case DC_FIELD_INTS: {
            int o = snprintf(buf, size, "[");
            for (int i = 0; i < f->count && o >= 0 && (size_t)o < size; i++)
                o += snprintf(buf + o, size - (size_t)o, "%s%s", i ? ", " : "", num(f->def, true, a, sizeof a));
            if (o >= 0 && (size_t)o < size) snprintf(buf + o, size - (size_t)o, "]");
            break;
        }
        case DC_FIELD_DIMS: snprintf(buf, size, "[]"); break;
        }
    return buf;
}

static const char *notes(const dc_field *f, char *buf, size_t size) {
    buf[0] = 0;
    int o = 0;
    if (f->flags & DC_FIELD_REQUIRED) o += snprintf(buf + o, size - (size_t)o, "required");
    if ((f->flags & DC_FIELD_RUNTIME) && (size_t)o < size)
        o += snprintf(buf + o, size - (size_t)o, "%schangeable later", o ? "; " : "");
    if ((f->flags & DC_FIELD_WHEN) && (size_t)o < size) snprintf(buf + o, size - (size_t)o, "%sonly when set", o ? "; " : "");
    return buf;
}

static const char *summary_of(const entry *e) { return e->doc ? e->doc->summary : NO_SUMMARY; }

/* The options every optimiser has, as a pseudo entry. */
static entry common_optim_entry(void) {
    return (entry){.r = REG_OPTIM, .name = "(every optimiser)", .fields = dc_optimizer_common_fields,
                   .nfields = dc_optimizer_common_nfields};
}

/* ---- plain text ----------------------------------------------------------------------------- */

static void text_fields(FILE *out, const dc_field *fields, int n) {
    char a[1024], d[128], fl[96];
    int wk = 6, wd = 7, wf = 5; /* the widths of the headings */
    for (int i = 0; i < n; i++) {
        const dc_field *f = &fields[i];
        int k = (int)strlen(f->key), dl = (int)strlen(default_of(f, false, d, sizeof d)), fll = (int)strlen(notes(f, fl, sizeof fl));
        wk = k > wk ? k : wk, wd = dl > wd ? dl : wd, wf = fll > wf ? fll : wf;
    }
    fprintf(out, "  %-*s  %-5s  %-*s  %-*s  %s\n", wk, "option", "kind", wd, "default", wf, "flags", "allowed values");
    for (int i = 0; i < n; i++) {
        const dc_field *f = &fields[i];
        fprintf(out, "  %-*s  %-5s  %-*s  %-*s  %s\n", wk, f->key, kind_word(f), wd, default_of(f, false, d, sizeof d), wf,
                notes(f, fl, sizeof fl)[0] ? fl : "-", allowed(f, false, a, sizeof a));
    }
}

static void text_entry(FILE *out, const entry *e) {
    static const char *const what[] = {"layer type", "optimiser", "learning-rate schedule"};
    fprintf(out, "%s (%s): %s\n", e->name, what[e->r], summary_of(e));
    if (e->doc) fprintf(out, "  C: %s\n  Keras: %s\n  PyTorch: %s\n", e->doc->c, e->doc->keras, e->doc->torch);
    if (e->r == REG_LAYER) fprintf(out, "  inputs: %d\n", e->max_inputs == 1 ? 1 : e->max_inputs);
    if (e->wraps) fprintf(out, "  wraps a layer, nested under \"layer\": {\"class\": \"%s\", \"layer\": {\"class\": \"%s\", ...}}\n", e->name, e->wraps);
    fputc('\n', out);
    if (e->nfields) text_fields(out, e->fields, e->nfields);
    else fprintf(out, "  no options\n");
    if (e->r == REG_OPTIM) {
        fprintf(out, "\nand the options every optimiser has:\n");
        text_fields(out, dc_optimizer_common_fields, dc_optimizer_common_nfields);
    }
}

static void text_list(FILE *out) {
    static const char *const heads[] = {"Layer types", "Optimisers", "Learning-rate schedules"};
    entry es[MAX_ENTRIES];
    for (int r = 0; r < 3; r++) {
        int n = collect((reg)r, es, MAX_ENTRIES);
        fprintf(out, "%s%s (%d):\n", r ? "\n" : "", heads[r], n);
        for (int i = 0; i < n; i++) fprintf(out, "  %-24s %s\n", es[i].name, summary_of(&es[i]));
    }
    fprintf(out, "\nLosses (%d):", DC_LOSS_COUNT);
    for (int i = 0; i < DC_LOSS_COUNT; i++) fprintf(out, "%s %s", i ? "," : "", dc_loss_name((dc_loss)i));
    fprintf(out, "\nMetrics (%d):", DC_METRIC_COUNT);
    for (int i = 0; i < DC_METRIC_COUNT; i++) fprintf(out, "%s %s", i ? "," : "", dc_metric_name((dc_metric)i));
    fprintf(out, "\n\n'deepc layers CLASS' prints a class's options; 'deepc layers --markdown' the reference page.\n");
}

/* ---- markdown (docs/layers.md) --------------------------------------------------------------- */

static void anchor(const char *name, char *buf, size_t size) {
    size_t k = 0;
    for (const char *p = name; *p && k + 1 < size; p++)
        if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-' || *p == '_')
            buf[k++] = (char)(*p >= 'A' && *p <= 'Z' ? *p - 'A' + 'a' : *p);
        else if (*p == ' ') buf[k++] = '-';
    buf[k] = 0;
}

static void md_fields(FILE *out, const dc_field *fields, int n) {
    char a[1024], d[128], fl[96];
    fprintf(out, "| option | kind | allowed values | default | notes |\n|---|---|---|---|---|\n");
    for (int i = 0; i < n; i++) {
        const dc_field *f = &fields[i];
        fprintf(out, "| `%s` | %s | %s | %s | %s |\n", f->key, kind_word(f), allowed(f, true, a, sizeof a),
                default_of(f, true, d, sizeof d), notes(f, fl, sizeof fl));
    }
}

static void md_entry(FILE *out, const entry *e) {
    fprintf(out, "### %s\n\n%s\n\n", e->name, summary_of(e));
    if (e->doc) {
        fprintf(out, "C: `%s`", e->doc->c);
        if (strcmp(e->doc->keras, "-")) fprintf(out, " · Keras: %s", e->doc->keras);
        if (strcmp(e->doc->torch, "-")) fprintf(out, " · PyTorch: %s", e->doc->torch);
        fprintf(out, "\n\n");
    }
    if (e->r == REG_LAYER && e->max_inputs > 1) fprintf(out, "Takes 1 to %d inputs (dc_model_apply in a graph model).\n\n", e->max_inputs);
    if (e->wraps)
        fprintf(out, "Wraps a layer, nested under the key `layer` with its own class and options: "
                     "`{\"class\": \"%s\", \"layer\": {\"class\": \"%s\", ...}}`.\n\n", e->name, e->wraps);
    if (e->nfields) md_fields(out, e->fields, e->nfields);
    else fprintf(out, "No options.\n");
    fputc('\n', out);
}

static void md_enum(FILE *out, const char *title, const char *(*name_of)(int), int count, const char *intro) {
    fprintf(out, "## %s\n\n%s\n\n", title, intro);
    for (int i = 0; i < count; i++) fprintf(out, "%s`%s`", i ? ", " : "", name_of(i));
    fprintf(out, ".\n\n");
}

static void markdown(FILE *out) {
    entry layers[MAX_ENTRIES], optims[MAX_ENTRIES], scheds[MAX_ENTRIES];
    int nl = collect(REG_LAYER, layers, MAX_ENTRIES), no = collect(REG_OPTIM, optims, MAX_ENTRIES),
        ns = collect(REG_SCHED, scheds, MAX_ENTRIES);
    char id[64];
    fprintf(out, "# Layer, optimiser and schedule reference\n\n"
                 "<!-- Generated by `build/tools/deepc layers --markdown` from the registries: do not edit.\n"
                 "     `make docs` rewrites this file; ctest's docs_layers fails when it is out of date. -->\n\n"
                 "Every class and option a model file or a `deepc train` configuration may name, printed from the\n"
                 "registries the build collects (`src/nn/`, `src/optim/`), so this page cannot drift from the code.\n"
                 "`deepc layers` lists the classes and `deepc layers CLASS` prints one class's options in a terminal.\n\n"
                 "In a model file or configuration a layer is an object with its `class` and its options\n"
                 "(`{\"class\": \"Dense\", \"units\": 64, \"activation\": \"relu\"}`); in C the constructor named under\n"
                 "each class sets the common options and `dc_layer_set_int`, `dc_layer_set_float`,\n"
                 "`dc_layer_set_bool` and `dc_layer_set_ints` set any option by its key, checked against the ranges\n"
                 "below. *default* is the value an option left out of a file takes; *required* options have none.\n"
                 "*changeable later* options may be set on a built model (they change no shape) or an optimiser that\n"
                 "has taken steps; *only when set* options are absent unless given. Images are NCHW (`[N, channels, height, width]`).\n\n");
    fprintf(out, "Contents: [layers](#layers) (");
    for (int i = 0; i < nl; i++) {
        anchor(layers[i].name, id, sizeof id);
        fprintf(out, "%s[%s](#%s)", i ? ", " : "", layers[i].name, id);
    }
    fprintf(out, "), [optimisers](#optimisers), [learning-rate schedules](#learning-rate-schedules), [losses](#losses),\n"
                 "[metrics](#metrics), [activations](#activations), [initializers](#initializers).\n\n");
    fprintf(out, "## Layers\n\n");
    for (int i = 0; i < nl; i++) md_entry(out, &layers[i]);

    fprintf(out, "## Optimisers\n\n"
                 "In a file: `{\"class\": \"Adam\", \"lr\": 0.001, ...}`; in C the constructor, then\n"
                 "`dc_optimizer_set(o, \"amsgrad\", 1)` for any option by its key. Every optimiser takes these:\n\n");
    entry common = common_optim_entry();
    md_fields(out, common.fields, common.nfields);
    fputc('\n', out);
    for (int i = 0; i < no; i++) md_entry(out, &optims[i]);

    fprintf(out, "## Learning-rate schedules\n\n"
                 "Attached to an optimiser (`dc_optimizer_set_schedule`; in a file, the optimiser's `\"schedule\"`\n"
                 "object with its `class`), saved with the model and its state in checkpoints. k counts optimiser\n"
                 "steps (batches) unless said otherwise; lr is the optimiser's own rate. `dc_schedule_set(s, key, v)`\n"
                 "sets any option.\n\n");
    for (int i = 0; i < ns; i++) md_entry(out, &scheds[i]);

    fprintf(out, "## Losses\n\n"
                 "Named in `compile` (`\"loss\": \"sparse_categorical_crossentropy\"`; in C `DC_LOSS_...`). p is the\n"
                 "prediction, y the target; each is averaged over the elements (rows, for the class-axis ones).\n"
                 "Options are set with `dc_model_set_loss_options` (in a file, `compile`'s `\"loss_options\"` object) and saved\n"
                 "with the model.\n\n"
                 "| loss | per element (or row) | options | Keras | PyTorch |\n|---|---|---|---|---|\n");
    for (int i = 0; i < DC_LOSS_COUNT; i++)
        fprintf(out, "| `%s` | %s | %s | %s | %s |\n", dc_loss_name((dc_loss)i), loss_docs[i].formula, loss_docs[i].options,
                loss_docs[i].keras, loss_docs[i].torch);
    fprintf(out, "\nThe loss options:\n\n");
    md_fields(out, dc_loss_opts_fields, dc_loss_opts_nfields);
    fprintf(out, "\n## Metrics\n\n| metric | what |\n|---|---|\n");
    for (int i = 0; i < DC_METRIC_COUNT; i++) fprintf(out, "| `%s` | %s |\n", dc_metric_name((dc_metric)i), metric_docs[i]);
    fputc('\n', out);
    md_enum(out, "Activations", dc_act_name_of, DC_ACT_COUNT,
            "The values of every `activation` option (`leaky_relu` and `elu` take the layer's `alpha`; 0 means their\n"
            "defaults, 0.01 and 1):");
    md_enum(out, "Initializers", dc_init_name_of, DC_INIT_COUNT,
            "The values of `kernel_initializer` and `bias_initializer` (`deepc/tensor.h` gives each formula):");
}

/* ---- the command ------------------------------------------------------------------------------ */

static const char *const usage =
    "usage: deepc layers [CLASS] [--markdown]\n"
    "Lists the layer types, optimisers and learning-rate schedules a model file or configuration may\n"
    "name, with the losses and metrics. CLASS (a layer type, an optimiser or a schedule, e.g. Dense,\n"
    "Adam, CosineWarmup) prints its options: key, kind, default, flags and allowed values.\n"
    "--markdown prints the reference page docs/layers.md (with CLASS, that class's section).\n";

static bool find_entry(const char *name, entry *e, bool fold) {
    entry es[MAX_ENTRIES];
    for (int r = 0; r < 3; r++) {
        int n = collect((reg)r, es, MAX_ENTRIES);
        for (int i = 0; i < n; i++)
            if (fold ? strcasecmp(es[i].name, name) == 0 : strcmp(es[i].name, name) == 0) {
                *e = es[i];
                return true;
            }
    }
    return false;
}

int dc_cli_layers(int argc, char **argv) {
    bool md = false;
    const char *name = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            fputs(usage, stdout);
            return 0;
        }
        if (strcmp(argv[i], "--markdown") == 0) md = true;
        else if (argv[i][0] == '-' || name) {
            fprintf(stderr, "deepc: layers: unexpected argument '%s'\n%s", argv[i], usage);
            return 2;
        } else name = argv[i];
    }
    if (!name) {
        if (md) markdown(stdout);
        else text_list(stdout);
        return fflush(stdout) ? 1 : 0;
    }
    entry e;
    if (!find_entry(name, &e, false) && !find_entry(name, &e, true)) {
        char list[2048];
        int o = 0;
        entry es[MAX_ENTRIES];
        for (int r = 0; r < 3; r++) {
            int n = collect((reg)r, es, MAX_ENTRIES);
            for (int i = 0; i < n && o >= 0 && (size_t)o < sizeof list; i++)
                o += snprintf(list + o, sizeof list - (size_t)o, "%s%s", o ? ", " : "", es[i].name);
        }
        fprintf(stderr, "deepc: layers: no layer type, optimiser or schedule is named \"%s\"; the classes are: %s\n", name, list);
        return 1;
    }
    if (md) md_entry(stdout, &e);
    else text_entry(stdout, &e);
    return fflush(stdout) ? 1 : 0;
}
