/* Adagrad: s += g^2; w -= lr g / (sqrt s + eps). */
#include "optim.h"

#include <math.h>

/* The rule's gradient: g plus the L2 weight decay's wd w. */
#define GRAD(i) (g[i] + wd * w[i])

typedef struct adagrad_cfg {
    float eps;
} adagrad_cfg;
static const dc_field adagrad_fields[] = {
    DC_F_FLOAT(adagrad_cfg, "epsilon", eps, 0, 1e30, 1e-10, DC_FIELD_RUNTIME),
};

static int adagrad_nstate(const dc_optimizer *o) { return 1; }

/* state[0]: the sum of squared gradients s */
DC_CLONES static void adagrad_update(dc_optimizer *o, float *w, const float *g, int64_t n, const dc_part_seg *part, int nseg) {
    const adagrad_cfg *c = DC_OPT_CCFG(o, adagrad_cfg);
    const float lr = o->step_lr, wd = o->step_wd, eps = c->eps;
    float *s1 = o->state[0];
    DC_FOR_PART(i, n, part, nseg, {
        float gi = GRAD(i);
        s1[i] += gi * gi;
        w[i] -= lr * gi / (sqrtf(s1[i]) + eps);
    });
}

const dc_optimizer_type dc_adagrad_type = {
    .name = "Adagrad", .cfg_size = sizeof(adagrad_cfg), .fields = adagrad_fields, .nfields = DC_ARRAY_LEN(adagrad_fields),
    .nstate = adagrad_nstate, .update = adagrad_update,
};
DC_REGISTER_OPTIMIZER(dc_adagrad_type);

/* eps <= 0 (or NaN): the default, 1e-10 */
dc_optimizer *dc_adagrad(float lr, float eps) {
    return dc_optimizer_make(&dc_adagrad_type, lr, 1, (const char *const[]){"epsilon"}, (const double[]){eps > 0 ? eps : NAN});
}
