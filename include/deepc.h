/*
 * deepc.h - the public header of deepc, a deep-learning framework in C.
 *
 * Layout
 *  deepc's sources are layered in floors, lowest first: base tensor kernels autograd ops nn optim
 *  model data io dist plot zoo (src/<floor>/). Each floor's public declarations are in
 *  include/deepc/<floor>.h, which includes the public headers of the lower floors it needs; this
 *  header includes them all, in floor order. Include it, or only the floors a file uses.
 *
 * Conventions
 *  - Every function is prefixed dc_, every macro and enumerator DC_.
 *  - Functions that can fail return dc_status (DC_OK == 0) or NULL; the reason is then in
 *    dc_last_error() (thread-local), naming the layer or file and the numbers involved.
 *    deepc never calls abort() or exit() on user input.
 *  - Tensors are float32, row-major (C order). Shapes are int64_t. A leading batch dimension is
 *    written N in the shape comments of the floor headers.
 *  - Two kinds of tensors exist:
 *      * owned tensors (dc_tensor_new, dc_tensor_from, dc_model_predict, data readers):
 *        the caller frees them with dc_tensor_free();
 *      * step tensors, made by operations inside a dc_ctx: they live until dc_ctx_reset() or
 *        dc_ctx_free(), which release them all at once (no per-tensor free).
 *  - Weights of a Dense layer are stored [out, in] as in PyTorch: y = x . W^T + b.
 */
#ifndef DEEPC_H
#define DEEPC_H

#include "deepc/base.h"
#include "deepc/tensor.h"
#include "deepc/kernels.h"
#include "deepc/autograd.h"
#include "deepc/ops.h"
#include "deepc/nn.h"
#include "deepc/optim.h"
#include "deepc/model.h"
#include "deepc/data.h"
#include "deepc/io.h"
#include "deepc/dist.h"
#include "deepc/plot.h"
#include "deepc/zoo.h"

#endif /* DEEPC_H */
