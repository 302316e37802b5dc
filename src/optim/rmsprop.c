/* RMSprop: s = rho s + (1-rho) g^2; w -= lr g / (sqrt s + eps). PyTorch's options (its alpha is
 * rho): "centered" keeps the running mean a of g too and divides by sqrt(s - a^2) + eps (the
 * running standard deviation); "momentum" m accumulates the divided gradient, b = m b +
 * g / (...), and steps by lr b. Each adds a state buffer, so both are fixed once the optimiser
 * has taken a step. */
#include "optim.h"

#include <float.h>
#include <math.h>

/* The rule's gradient: g plus the L2 weight decay's wd w. */
#define GRAD(i) (g[i] + wd * w[i])

/* (0, 1) for a float: the smallest float above 0, the largest below 1 */
#define ABOVE_ZERO ((double)FLT_TRUE_MIN)
#define BELOW_ONE (1.0 - 0x1p-24)

typedef struct rmsprop_cfg {
    float rho, eps, momentum;
    bool centered;
} rmsprop_cfg;
static const dc_field rmsprop_fields[] = {
    DC_F_FLOAT(rmsprop_cfg, "rho", rho, ABOVE_ZERO, BELOW_ONE, 0.9, DC_FIELD_RUNTIME),
    DC_F_FLOAT(rmsprop_cfg, "epsilon", eps, 0, 1e30, 1e-8, DC_FIELD_RUNTIME),
    DC_F_FLOAT(rmsprop_cfg, "momentum", momentum, 0, BELOW_ONE, 0, 0), /* 0 or not decides a state buffer */
    DC_F_BOOL(rmsprop_cfg, "centered", centered, false, 0),            /* decides a state buffer */
};

static int rmsprop_nstate(const dc_optimizer *o) {
    const rmsprop_cfg *c = DC_OPT_CCFG(o, rmsprop_cfg);
    return 1 + (c->momentum > 0) + c->centered;
}

/* state[0]: the running mean of g^2 (s); then, when on, the momentum buffer b, then the running
 * mean of g (a) */
DC_CLONES static void rmsprop_update(dc_optimizer *o, float *w, const float *g, int64_t n, const dc_part_seg *part, int nseg) {
    const rmsprop_cfg *c = DC_OPT_CCFG(o, rmsprop_cfg);
    const float lr = o->step_lr, wd = o->step_wd, eps = c->eps, b1 = c->rho, mom = c->momentum;
    float *s1 = o->state[0];
    if (mom == 0 && !c->centered) {
        DC_FOR_PART(i, n, part, nseg, {
            float gi = GRAD(i);
            s1[i] = b1 * s1[i] + (1 - b1) * gi * gi;
            w[i] -= lr * gi / (sqrtf(s1[i]) + eps);
        });
        return;
    }
    float *buf = mom > 0 ? o->state[1] : NULL, *avg = c->centered ? o->state[mom > 0 ? 2 : 1] : NULL;
    if (!c->centered) {
        DC_FOR_PART(i, n, part, nseg, {
            float gi = GRAD(i);
            float s = s1[i] = b1 * s1[i] + (1 - b1) * gi * gi;
            float b = buf[i] = mom * buf[i] + gi / (sqrtf(s) + eps);
            w[i] -= lr * b;
        });
    } else if (mom == 0) {
        DC_FOR_PART(i, n, part, nseg, {
            float gi = GRAD(i);
            float s = s1[i] = b1 * s1[i] + (1 - b1) * gi * gi;
            float a = avg[i] = b1 * avg[i] + (1 - b1) * gi;
            w[i] -= lr * gi / (sqrtf(fmaxf(s - a * a, 0.0f)) + eps);
        });
    } else {
        DC_FOR_PART(i, n, part, nseg, {
            float gi = GRAD(i);
            float s = s1[i] = b1 * s1[i] + (1 - b1) * gi * gi;
            float a = avg[i] = b1 * avg[i] + (1 - b1) * gi;
            float b = buf[i] = mom * buf[i] + gi / (sqrtf(fmaxf(s - a * a, 0.0f)) + eps);
            w[i] -= lr * b;
        });
    }
}

const dc_optimizer_type dc_rmsprop_type = {
    .name = "RMSprop", .cfg_size = sizeof(rmsprop_cfg), .fields = rmsprop_fields, .nfields = DC_ARRAY_LEN(rmsprop_fields),
    .nstate = rmsprop_nstate, .update = rmsprop_update,
};
DC_REGISTER_OPTIMIZER(dc_rmsprop_type);

/* eps <= 0 (or NaN): the default, 1e-8 */
dc_optimizer *dc_rmsprop(float lr, float rho, float eps) {
    if (!(rho > 0 && rho < 1)) return dc_error_null(DC_ERR_ARG, "RMSprop: rho %g is outside (0, 1)", (double)rho);
    return dc_optimizer_make(&dc_rmsprop_type, lr, 2, (const char *const[]){"rho", "epsilon"},
                             (const double[]){rho, eps > 0 ? eps : NAN});
}
