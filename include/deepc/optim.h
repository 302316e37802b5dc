/*
 * deepc/optim.h - floor optim (src/optim): optimisers, their settings, and learning-rate
 * schedules.
 *
 * The order of one step (dc_optimizer_step, and every step fit takes):
 *   1. clipping of the raw gradient: by the global norm, then element-wise (see
 *      dc_optimizer_set_clipnorm); the decay term below is not clipped (clip, then decay);
 *   2. the learning rate of the step: the schedule's (if one is attached), else lr;
 *   3. weight decay: L2 for every optimiser but AdamW (wd w added to the clipped gradient, as
 *      PyTorch's weight_decay), decoupled for AdamW (w *= 1 - lr wd before its update, with the
 *      step's learning rate); skipped on biases and normalisation parameters when
 *      "decay_bias_and_norm" is off;
 *   4. the rule's update.
 * Every rule follows PyTorch 1.13's torch.optim formula for the same options.
 */
#ifndef DEEPC_OPTIM_H
#define DEEPC_OPTIM_H

#include "deepc/base.h"

#ifdef __cplusplus
extern "C" {
#endif

/* What follows is deepc's public API, exported by libdeepc.so (whose other symbols are hidden). */
#if defined(__GNUC__)
#pragma GCC visibility push(default)
#endif

typedef struct dc_optimizer dc_optimizer;
/* v = momentum v + g (v starts at g); w -= lr (nesterov ? g + momentum v : v)  (PyTorch's SGD) */
dc_optimizer *dc_sgd(float lr, float momentum, bool nesterov);
/* s += g^2; w -= lr g / (sqrt s + eps) */
dc_optimizer *dc_adagrad(float lr, float eps);
/* Zeiler: s = rho s + (1-rho) g^2; d = sqrt(u + eps)/sqrt(s + eps) g; u = rho u + (1-rho) d^2; w -= lr d */
dc_optimizer *dc_adadelta(float lr, float rho, float eps);
/* s = rho s + (1-rho) g^2; w -= lr g / (sqrt s + eps)  (PyTorch's alpha is rho).
 * Options (dc_optimizer_set, fixed once the optimiser has taken a step, since each adds a state
 * buffer): "centered" (default false): a = rho a + (1-rho) g and sqrt(s - a^2) (0 where rounding
 * makes s - a^2 negative) in place of sqrt s; "momentum" m in [0, 1) (default 0): b = m b +
 * g / (sqrt(...) + eps) (b starts at 0) and w -= lr b. */
dc_optimizer *dc_rmsprop(float lr, float rho, float eps);
/* m = b1 m + (1-b1) g; v = b2 v + (1-b2) g^2; w -= lr mhat / (sqrt vhat + eps), with
 * mhat = m / (1 - b1^t), vhat = v / (1 - b2^t). Weight decay is L2 (added to g).
 * Option "amsgrad" (default false; fixed once a step is taken: a third state buffer):
 * vmax = max(vmax, v) and vmax in place of v in vhat. eps <= 0: 1e-8. */
dc_optimizer *dc_adam(float lr, float beta1, float beta2, float eps);
/* AdamW (Loshchilov & Hutter; PyTorch's torch.optim.AdamW): Adam with decoupled weight decay,
 * w *= 1 - lr weight_decay, then Adam's update without decay. lr is the step's (scheduled)
 * learning rate. Option "amsgrad" as Adam's. eps <= 0: 1e-8. weight_decay >= 0 (PyTorch's
 * default is 0.01). */
dc_optimizer *dc_adamw(float lr, float beta1, float beta2, float eps, float weight_decay);
/* Weight decay: L2 regularisation, g += wd * w before the update, for every optimiser but AdamW,
 * whose decay is decoupled (above). */
dc_status dc_optimizer_set_weight_decay(dc_optimizer *o, float wd);
/* The learning rate: the rate of every step without a schedule, the base rate a schedule scales
 * (or ignores: OneCycleLR with max_lr set) with one. */
dc_status dc_optimizer_set_lr(dc_optimizer *o, float lr);
/* Gradient clipping before each update (0 turns it off): by the global norm over all
 * parameters, g *= min(1, max_norm / ||g||) (PyTorch's clip_grad_norm_ without its 1e-6 in the
 * denominator, Keras's global_clipnorm), then element-wise to [-max_abs, max_abs] (Keras's
 * clipvalue). Clipping acts on the gradient alone: the weight decay comes after it, unclipped. */
dc_status dc_optimizer_set_clipnorm(dc_optimizer *o, float max_norm);
dc_status dc_optimizer_set_clipvalue(dc_optimizer *o, float max_abs);
/* Any option by the name model files give it: the common ones "lr", "weight_decay",
 * "clipnorm", "clipvalue", "decay_bias_and_norm" and the type's own ("momentum", "nesterov",
 * "rho", "epsilon", "beta1", "beta2", "amsgrad", "centered"). Booleans take 0 or 1, whole-number
 * options whole values. A name the type lacks, or a value out of its range, is DC_ERR_ARG
 * naming the optimiser, the option and the range; an option that decides the state buffers
 * (SGD's and RMSprop's momentum being 0 or not, "centered", "amsgrad"), once the optimiser has
 * taken a step, DC_ERR_STATE. A refused value leaves the optimiser as it was.
 *
 * "decay_bias_and_norm" (default true): whether the weight decay also acts on the 1-D
 * parameters: biases and the scales and offsets of normalisation layers (BatchNormalization,
 * LayerNormalization), as PyTorch's weight_decay does unless those go to a parameter group of
 * their own with weight_decay 0, the common recipe this option gives when false. A model's fit
 * tells the optimiser which parameters are 1-D; dc_optimizer_step, which sees one flat buffer,
 * decays every parameter. */
dc_status dc_optimizer_set(dc_optimizer *o, const char *key, double value);
/* The value of an option by name (booleans 1 or 0); DC_ERR_ARG for a name the type lacks. */
dc_status dc_optimizer_get(const dc_optimizer *o, const char *key, double *value);
/* The optimiser's own learning rate (the base rate under a schedule). */
float dc_optimizer_lr(const dc_optimizer *o);
/* The learning rate the next step will use: the schedule's at the steps taken so far, else lr. */
float dc_optimizer_current_lr(const dc_optimizer *o);
/* Steps taken. */
int64_t dc_optimizer_steps(const dc_optimizer *o);
const char *dc_optimizer_name(const dc_optimizer *o);
/* Frees an optimizer that was never given to dc_model_compile (and its schedule). */
void dc_optimizer_free(dc_optimizer *o);
/* One update of n parameters w with gradients g (for hand-written training loops over
 * the tensors of a model, see dc_model_params/dc_model_grads). */
dc_status dc_optimizer_step(dc_optimizer *o, float *w, const float *g, int64_t n);

/* ---- learning-rate schedules ------------------------------------------------------------
 * A schedule attached to an optimiser sets the learning rate of every step. The rate changes at
 * every optimiser step, as Keras's schedules do (not once per epoch, PyTorch's usual
 * scheduler.step() placement): the step-based schedules (StepLR, ExponentialLR, CosineWarmup,
 * OneCycleLR) are functions of k, the number of optimiser steps taken before the step (0 for
 * the first step), so their step counts are optimiser steps (batches), not epochs: for
 * PyTorch's per-epoch StepLR(step_size=E) use step_size E x steps per epoch. The first step
 * uses the rate at k = 0, as PyTorch's optimizer.step() before the first scheduler.step().
 * ReduceLROnPlateau counts epochs instead: it changes the rate only at
 * dc_optimizer_epoch_end, which the training loop calls once per epoch with the monitored value.
 * With base the optimiser's lr:
 *   StepLR(step_size, gamma):  base gamma^floor(k / step_size)
 *   ExponentialLR(gamma):      base gamma^k
 *   CosineWarmup(warmup_steps W, total_steps T, min_lr, warmup_start_factor f):
 *       k < W:      base (f + (1 - f) k / W)                    (linear warm-up)
 *       W <= k < T: min_lr + (base - min_lr) (1 + cos(pi (k - W) / (T - W))) / 2
 *       k >= T:     min_lr
 *     (PyTorch: SequentialLR of LinearLR(f, 1, W) and CosineAnnealingLR(T - W, min_lr), held
 *     at min_lr from T on, where PyTorch's cosine would rise again)
 *   OneCycleLR(max_lr, total_steps T, pct_start p, div_factor d, final_div_factor fd):
 *     PyTorch's OneCycleLR with anneal_strategy "cos", three_phase false and no momentum
 *     cycling (cycle_momentum=False: the optimiser's momentum or beta1 stays as set): from
 *     max_lr / d up to max_lr by step p T - 1, then down to max_lr / (d fd) by step T - 1, each
 *     half a cosine; held at max_lr / (d fd) after T - 1 (PyTorch raises an error past T).
 *     max_lr 0 (the default): the optimiser's lr.
 *   ReduceLROnPlateau(mode, factor, patience, threshold, threshold_mode, cooldown, min_lr, eps):
 *     PyTorch's: an epoch improves when its value beats the best so far (mode "min": value <
 *     best (1 - threshold) for threshold_mode "rel", value < best - threshold for "abs"; "max"
 *     mirrored); after more than `patience` epochs without improvement the rate becomes
 *     max(rate factor, min_lr) (when that lowers it by more than eps), the count restarts, and
 *     the next `cooldown` epochs count no bad epochs. It starts from the optimiser's lr. A
 *     value that is not finite counts as no improvement (PyTorch would take -inf as a new best
 *     in mode "min").
 * Schedules are saved with the model (in the optimiser's entry) and their state with training
 * checkpoints, so a resumed run takes exactly the steps an uninterrupted one does. */
typedef struct dc_schedule dc_schedule;
/* The most doubles of state a schedule keeps (dc_optimizer_schedule_state). */
#define DC_SCHEDULE_MAX_STATE 8
dc_schedule *dc_step_lr(int64_t step_size, float gamma);
dc_schedule *dc_exponential_lr(float gamma);
/* warmup_start_factor is an option (default 0: the first step's rate is 0, as Hugging Face's
 * and Keras's usual warm-up from 0). */
dc_schedule *dc_cosine_warmup(int64_t warmup_steps, int64_t total_steps, float min_lr);
/* pct_start (0.3), div_factor (25), final_div_factor (1e4) are options, defaults PyTorch's. */
dc_schedule *dc_one_cycle_lr(float max_lr, int64_t total_steps);
/* mode ("min"), threshold (1e-4), threshold_mode ("rel"), cooldown (0), min_lr (0), eps (1e-8)
 * are options, defaults PyTorch's; factor in [0, 1), patience >= 0 epochs. */
dc_schedule *dc_reduce_lr_on_plateau(float factor, int64_t patience);
/* An option by name, checked as dc_optimizer_set's are: numbers, whole numbers, booleans 0/1,
 * and enumerations by their index ("mode": 0 min, 1 max; "threshold_mode": 0 rel, 1 abs).
 * Options may change at any time (the next step's rate follows them; a ReduceLROnPlateau keeps
 * its state). */
dc_status dc_schedule_set(dc_schedule *s, const char *key, double value);
/* An enumeration option by name: dc_schedule_set_name(s, "mode", "max"). */
dc_status dc_schedule_set_name(dc_schedule *s, const char *key, const char *name);
dc_status dc_schedule_get(const dc_schedule *s, const char *key, double *value);
/* The class name ("OneCycleLR"). */
const char *dc_schedule_name(const dc_schedule *s);
/* Frees a schedule that was never attached to an optimiser. */
void dc_schedule_free(dc_schedule *s);
/* Attaches s to o, which owns it from then on (and frees it with itself), replacing and freeing
 * any schedule o had; NULL removes it. o takes s even when it refuses it (then freed), except
 * when s is already another optimiser's (DC_ERR_ARG, s untouched). Once o has taken steps, the
 * new schedule starts at the steps taken (its rate at k = steps so far). */
dc_status dc_optimizer_set_schedule(dc_optimizer *o, dc_schedule *s);
/* The schedule attached to o, or NULL. */
dc_schedule *dc_optimizer_schedule(const dc_optimizer *o);
/* The end of an epoch whose monitored value (by default validation loss, else training loss)
 * is `value`: ReduceLROnPlateau updates its state and the rate of the next steps; the other
 * schedules, and an optimiser without one, ignore it (DC_OK). Fit calls it after each epoch's
 * validation; hand-written loops call it themselves. */
dc_status dc_optimizer_epoch_end(dc_optimizer *o, double value);
/* The schedule's state (what it keeps across steps, besides the optimiser's step count):
 * *n doubles into v[0..DC_SCHEDULE_MAX_STATE), all finite; *n is 0 without a schedule or for
 * the step-based ones (whose rate is a function of the step count alone). A checkpoint saves
 * them with the step count and restores them with dc_optimizer_set_schedule_state, which checks
 * the count and the values (DC_ERR_ARG naming them) before it changes anything. */
dc_status dc_optimizer_schedule_state(const dc_optimizer *o, double *v, int *n);
dc_status dc_optimizer_set_schedule_state(dc_optimizer *o, const double *v, int n);

#if defined(__GNUC__)
#pragma GCC visibility pop
#endif

#ifdef __cplusplus
}
#endif
#endif /* DEEPC_OPTIM_H */
