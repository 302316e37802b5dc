/* SGD (momentum, Nesterov), Adagrad, Adadelta, RMSprop and Adam, with PyTorch's update
 * formulas; L2 weight decay adds wd * w to the gradient first. */
#include "optim.h"

#include "../kernels/kernels.h"

#include <math.h>
#include <string.h>

static const char *const opt_names[] = {"SGD", "Adagrad", "Adadelta", "RMSprop", "Adam"};
_Static_assert(DC_ARRAY_LEN(opt_names) == DC_OPT_COUNT, "optimizer name table");

static dc_optimizer *opt_new(dc_opt_kind k, float lr) {
    if (!(lr > 0) || !isfinite(lr)) return dc_error_null(DC_ERR_ARG, "%s: learning rate must be positive and finite, got %g", opt_names[k], (double)lr);
    dc_optimizer *o = dc_calloc(1, sizeof *o);
    if (!o) return NULL;
    o->kind = k;
    o->lr = lr;
    return o;
}

dc_optimizer *dc_sgd(float lr, float momentum, bool nesterov) {
    if (!(momentum >= 0 && momentum < 1)) return dc_error_null(DC_ERR_ARG, "SGD: momentum %g is outside [0, 1)", (double)momentum);
    if (nesterov && momentum == 0) return dc_error_null(DC_ERR_ARG, "SGD: Nesterov needs a momentum > 0");
    dc_optimizer *o = opt_new(DC_OPT_SGD, lr);
    if (o) {
        o->momentum = momentum;
        o->nesterov = nesterov;
    }
    return o;
}

dc_optimizer *dc_adagrad(float lr, float eps) {
    dc_optimizer *o = opt_new(DC_OPT_ADAGRAD, lr);
    if (o) o->eps = eps > 0 ? eps : 1e-10f;
    return o;
}

dc_optimizer *dc_adadelta(float lr, float rho, float eps) {
    if (!(rho > 0 && rho < 1)) return dc_error_null(DC_ERR_ARG, "Adadelta: rho %g is outside (0, 1)", (double)rho);
    dc_optimizer *o = opt_new(DC_OPT_ADADELTA, lr);
    if (o) {
        o->b1 = rho;
        o->eps = eps > 0 ? eps : 1e-6f;
    }
    return o;
}

dc_optimizer *dc_rmsprop(float lr, float rho, float eps) {
    if (!(rho > 0 && rho < 1)) return dc_error_null(DC_ERR_ARG, "RMSprop: rho %g is outside (0, 1)", (double)rho);
    dc_optimizer *o = opt_new(DC_OPT_RMSPROP, lr);
    if (o) {
        o->b1 = rho;
        o->eps = eps > 0 ? eps : 1e-8f;
    }
    return o;
}

dc_optimizer *dc_adam(float lr, float beta1, float beta2, float eps) {
    if (!(beta1 >= 0 && beta1 < 1) || !(beta2 >= 0 && beta2 < 1))
        return dc_error_null(DC_ERR_ARG, "Adam: betas (%g, %g) must be in [0, 1)", (double)beta1, (double)beta2);
    dc_optimizer *o = opt_new(DC_OPT_ADAM, lr);
    if (o) {
        o->b1 = beta1;
        o->b2 = beta2;
        o->eps = eps > 0 ? eps : 1e-8f;
    }
    return o;
}

void dc_optimizer_free(dc_optimizer *o) {
    if (!o) return;
    dc_free(o->s1);
    dc_free(o->s2);
    dc_free(o->clipped);
    dc_free(o);
}

dc_status dc_optimizer_set_weight_decay(dc_optimizer *o, float wd) {
    if (!o || !(wd >= 0) || !isfinite(wd)) return dc_error(DC_ERR_ARG, "weight decay must be >= 0 and finite");
    o->wd = wd;
    return DC_OK;
}

dc_status dc_optimizer_set_lr(dc_optimizer *o, float lr) {
    if (!o || !(lr > 0) || !isfinite(lr)) return dc_error(DC_ERR_ARG, "learning rate must be positive and finite");
    o->lr = lr;
    return DC_OK;
}

float dc_optimizer_lr(const dc_optimizer *o) { return o ? o->lr : 0; }
const char *dc_optimizer_name(const dc_optimizer *o) { return o ? opt_names[o->kind] : ""; }

dc_status dc_optimizer_prepare(dc_optimizer *o, int64_t n) {
    if (o->n == n) return DC_OK;
    if (o->n)
        return dc_error(DC_ERR_STATE, "%s: state was made for %lld parameters, step called with %lld", opt_names[o->kind],
                        (long long)o->n, (long long)n);
    bool two = o->kind == DC_OPT_ADAM || o->kind == DC_OPT_ADADELTA;
    bool one = two || o->kind == DC_OPT_ADAGRAD || o->kind == DC_OPT_RMSPROP || o->momentum > 0;
    if (one && !(o->s1 = dc_calloc((size_t)n, sizeof(float)))) return DC_ERR_NOMEM;
    if (two && !(o->s2 = dc_calloc((size_t)n, sizeof(float)))) return DC_ERR_NOMEM;
    o->n = n;
    return DC_OK;
}

dc_status dc_optimizer_set_clipnorm(dc_optimizer *o, float max_norm) {
    if (!o || !(max_norm >= 0) || !isfinite(max_norm)) return dc_error(DC_ERR_ARG, "clipnorm must be >= 0 and finite (0 = off)");
    o->clipnorm = max_norm;
    return DC_OK;
}

dc_status dc_optimizer_set_clipvalue(dc_optimizer *o, float max_abs) {
    if (!o || !(max_abs >= 0) || !isfinite(max_abs)) return dc_error(DC_ERR_ARG, "clipvalue must be >= 0 and finite (0 = off)");
    o->clipvalue = max_abs;
    return DC_OK;
}

/* The update rules read g[i] + wd w[i]; clipping, when on, first writes
 * clip(g * min(1, clipnorm / ||g||), -clipvalue, clipvalue) to a buffer that stands in for g,
 * so the rules' loops stay free of it (and vectorised) otherwise. */
#define GRAD(i) (g[i] + wd * w[i])

static dc_status clip_grad(dc_optimizer *o, const float **gp, int64_t n) {
    const float *g = *gp;
    float scale = 1.0f;
    if (o->clipnorm > 0) {
        double sq = 0;
        for (int64_t i = 0; i < n; i++) sq += (double)g[i] * g[i];
        double norm = sqrt(sq);
        if (!isfinite(norm)) return dc_error(DC_ERR_NUMERIC, "%s: the gradient norm is not finite", opt_names[o->kind]);
        if (norm > o->clipnorm) scale = (float)(o->clipnorm / norm);
    }
    const float cv = o->clipvalue > 0 ? o->clipvalue : INFINITY;
    if (!o->clipped && !(o->clipped = dc_alloc((size_t)n * sizeof(float)))) return DC_ERR_NOMEM;
    float *c = o->clipped;
    for (int64_t i = 0; i < n; i++) c[i] = fminf(fmaxf(g[i] * scale, -cv), cv);
    *gp = c;
    return DC_OK;
}

dc_status dc_optimizer_step(dc_optimizer *o, float *w, const float *g, int64_t n) { return dc_optimizer_step_part(o, w, g, n, NULL, 0); }

dc_status dc_optimizer_step_part(dc_optimizer *o, float *w, const float *g, int64_t n, const dc_part_seg *part, int nseg) {
    if (!o || !w || !g || n <= 0) return dc_error(DC_ERR_ARG, "optimizer step: NULL buffers or no parameters");
    dc_status s = dc_optimizer_prepare(o, n);
    if (s) return s;
    if ((o->clipnorm > 0 || o->clipvalue > 0) && (s = clip_grad(o, &g, n))) return s;
    o->t++;
    const float lr = o->lr, wd = o->wd, eps = o->eps, b1 = o->b1, b2 = o->b2, mom = o->momentum;
    float *s1 = o->s1, *s2 = o->s2;
    switch (o->kind) {
    case DC_OPT_SGD:
        if (mom == 0) {
            DC_FOR_PART(i, n, part, nseg, w[i] -= lr * GRAD(i););
        } else {
            const bool nest = o->nesterov, first = o->t == 1;
            DC_FOR_PART(i, n, part, nseg, {
                float gi = GRAD(i);
                float v = first ? gi : mom * s1[i] + gi; /* PyTorch starts the buffer at g */
                s1[i] = v;
                w[i] -= lr * (nest ? gi + mom * v : v);
            });
        }
        break;
    case DC_OPT_ADAGRAD:
        DC_FOR_PART(i, n, part, nseg, {
            float gi = GRAD(i);
            s1[i] += gi * gi;
            w[i] -= lr * gi / (sqrtf(s1[i]) + eps);
        });
        break;
    case DC_OPT_ADADELTA:
        DC_FOR_PART(i, n, part, nseg, {
            float gi = GRAD(i);
            s1[i] = b1 * s1[i] + (1 - b1) * gi * gi;
            float d = sqrtf(s2[i] + eps) / sqrtf(s1[i] + eps) * gi;
            s2[i] = b1 * s2[i] + (1 - b1) * d * d;
            w[i] -= lr * d;
        });
        break;
    case DC_OPT_RMSPROP:
        DC_FOR_PART(i, n, part, nseg, {
            float gi = GRAD(i);
            s1[i] = b1 * s1[i] + (1 - b1) * gi * gi;
            w[i] -= lr * gi / (sqrtf(s1[i]) + eps);
        });
        break;
    case DC_OPT_ADAM: {
        const float bc1 = 1.0f - powf(b1, (float)o->t), bc2 = 1.0f - powf(b2, (float)o->t);
        const float step = lr / bc1, rbc2 = 1.0f / sqrtf(bc2);
        DC_FOR_PART(i, n, part, nseg, {
            float gi = GRAD(i);
            float m = s1[i] = b1 * s1[i] + (1 - b1) * gi;
            float v = s2[i] = b2 * s2[i] + (1 - b2) * gi * gi;
            w[i] -= step * m / (sqrtf(v) * rbc2 + eps);
        });
        break;
    }
    default: return dc_error(DC_ERR_STATE, "optimizer: unknown kind %d", (int)o->kind);
    }
    return DC_OK;
}
