/* Adadelta (Zeiler): s = rho s + (1-rho) g^2; d = sqrt(u + eps) / sqrt(s + eps) g;
 * u = rho u + (1-rho) d^2; w -= lr d. */
#include "optim.h"

#include <float.h>
#include <math.h>

/* The rule's gradient: g plus the L2 weight decay's wd w. */
#define GRAD(i) (g[i] + wd * w[i])

/* (0, 1) for a float: the smallest float above 0, the largest below 1 */
#define ABOVE_ZERO ((double)FLT_TRUE_MIN)
#define BELOW_ONE (1.0 - 0x1p-24)

typedef struct adadelta_cfg {
    float rho, eps;
} adadelta_cfg;
static const dc_field adadelta_fields[] = {
    DC_F_FLOAT(adadelta_cfg, "rho", rho, ABOVE_ZERO, BELOW_ONE, 0.9, DC_FIELD_RUNTIME),
    DC_F_FLOAT(adadelta_cfg, "epsilon", eps, 0, 1e30, 1e-6, DC_FIELD_RUNTIME),
};

static int adadelta_nstate(const dc_optimizer *o) { return 2; }

/* state[0]: the running mean of g^2 (s), state[1]: that of the steps d^2 (u) */
DC_CLONES static void adadelta_update(dc_optimizer *o, float *w, const float *g, int64_t n, const dc_part_seg *part, int nseg) {
    const adadelta_cfg *c = DC_OPT_CCFG(o, adadelta_cfg);
    const float lr = o->step_lr, wd = o->step_wd, eps = c->eps, b1 = c->rho;
    float *s1 = o->state[0], *s2 = o->state[1];
    DC_FOR_PART(i, n, part, nseg, {
        float gi = GRAD(i);
        s1[i] = b1 * s1[i] + (1 - b1) * gi * gi;
        float d = sqrtf(s2[i] + eps) / sqrtf(s1[i] + eps) * gi;
        s2[i] = b1 * s2[i] + (1 - b1) * d * d;
        w[i] -= lr * d;
    });
}

const dc_optimizer_type dc_adadelta_type = {
    .name = "Adadelta", .cfg_size = sizeof(adadelta_cfg), .fields = adadelta_fields, .nfields = DC_ARRAY_LEN(adadelta_fields),
    .nstate = adadelta_nstate, .update = adadelta_update,
};
DC_REGISTER_OPTIMIZER(dc_adadelta_type);

/* eps <= 0 (or NaN): the default, 1e-6 */
dc_optimizer *dc_adadelta(float lr, float rho, float eps) {
    if (!(rho > 0 && rho < 1)) return dc_error_null(DC_ERR_ARG, "Adadelta: rho %g is outside (0, 1)", (double)rho);
    return dc_optimizer_make(&dc_adadelta_type, lr, 2, (const char *const[]){"rho", "epsilon"},
                             (const double[]){rho, eps > 0 ? eps : NAN});
}
