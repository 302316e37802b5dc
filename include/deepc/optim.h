/*
 * deepc/optim.h - floor optim (src/optim): optimisers and their settings.
 */
#ifndef DEEPC_OPTIM_H
#define DEEPC_OPTIM_H

#include "deepc/base.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct dc_optimizer dc_optimizer;
/* v = momentum v + g; w -= lr (nesterov ? g + momentum v : v)  (PyTorch's SGD) */
dc_optimizer *dc_sgd(float lr, float momentum, bool nesterov);
/* s += g^2; w -= lr g / (sqrt s + eps) */
dc_optimizer *dc_adagrad(float lr, float eps);
/* Zeiler: s = rho s + (1-rho) g^2; d = sqrt(u + eps)/sqrt(s + eps) g; u = rho u + (1-rho) d^2; w -= lr d */
dc_optimizer *dc_adadelta(float lr, float rho, float eps);
/* s = rho s + (1-rho) g^2; w -= lr g / (sqrt s + eps) */
dc_optimizer *dc_rmsprop(float lr, float rho, float eps);
/* m = b1 m + (1-b1) g; v = b2 v + (1-b2) g^2; w -= lr mhat / (sqrt vhat + eps) */
dc_optimizer *dc_adam(float lr, float beta1, float beta2, float eps);
/* L2 regularisation: g += wd * w before the update (all trainable parameters). */
dc_status dc_optimizer_set_weight_decay(dc_optimizer *o, float wd);
dc_status dc_optimizer_set_lr(dc_optimizer *o, float lr);
/* Gradient clipping before each update (0 turns it off): by the global norm over all
 * parameters, g *= min(1, max_norm / ||g||) (PyTorch's clip_grad_norm_, Keras's global_clipnorm),
 * then element-wise to [-max_abs, max_abs] (Keras's clipvalue). */
dc_status dc_optimizer_set_clipnorm(dc_optimizer *o, float max_norm);
dc_status dc_optimizer_set_clipvalue(dc_optimizer *o, float max_abs);
float dc_optimizer_lr(const dc_optimizer *o);
const char *dc_optimizer_name(const dc_optimizer *o);
/* Frees an optimizer that was never given to dc_model_compile. */
void dc_optimizer_free(dc_optimizer *o);
/* One update of n parameters w with gradients g (for hand-written training loops over
 * the tensors of a model, see dc_model_params/dc_model_grads). */
dc_status dc_optimizer_step(dc_optimizer *o, float *w, const float *g, int64_t n);

#ifdef __cplusplus
}
#endif
#endif /* DEEPC_OPTIM_H */
