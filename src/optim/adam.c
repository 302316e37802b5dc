/* Adam and AdamW: m = b1 m + (1-b1) g; v = b2 v + (1-b2) g^2; w -= lr mhat / (sqrt vhat + eps),
 * with the bias corrections folded into the step size and the denominator (PyTorch's form).
 * Adam's weight decay is L2 (wd w added to g); AdamW's is decoupled (w *= 1 - lr wd first,
 * PyTorch's torch.optim.AdamW). Two classes rather than an option of one, as in PyTorch and
 * Keras: "weight_decay" then means one thing per class name, in model files too. Both share the
 * rule and the option "amsgrad" (vmax = max(vmax, v) in place of v: a third state buffer). */
#include "optim.h"

#include <math.h>

/* [0, 1) for a float: the largest float below 1 */
#define BELOW_ONE (1.0 - 0x1p-24)

typedef struct adam_cfg {
    float beta1, beta2, eps;
    bool amsgrad;
} adam_cfg;
static const dc_field adam_fields[] = {
    DC_F_FLOAT(adam_cfg, "beta1", beta1, 0, BELOW_ONE, 0.9, DC_FIELD_RUNTIME),
    DC_F_FLOAT(adam_cfg, "beta2", beta2, 0, BELOW_ONE, 0.999, DC_FIELD_RUNTIME),
    DC_F_FLOAT(adam_cfg, "epsilon", eps, 0, 1e30, 1e-8, DC_FIELD_RUNTIME),
    DC_F_BOOL(adam_cfg, "amsgrad", amsgrad, false, 0), /* decides the third state buffer */
};

static int adam_nstate(const dc_optimizer *o) { return DC_OPT_CCFG(o, adam_cfg)->amsgrad ? 3 : 2; }

/* state[0]: the first moment m, state[1]: the second moment v, state[2] (AMSGrad): the largest
 * v so far. Adam: l2 = the step's weight decay, keep = 1 (w * 1 is exact, so the result is the
 * plain w - update); AdamW: l2 = 0 and keep = 1 - lr wd. */
DC_CLONES static void adam_update(dc_optimizer *o, float *w, const float *g, int64_t n, const dc_part_seg *part, int nseg) {
    const adam_cfg *c = DC_OPT_CCFG(o, adam_cfg);
    const float lr = o->step_lr, eps = c->eps, b1 = c->beta1, b2 = c->beta2;
    const float l2 = o->type->decoupled_wd ? 0.0f : o->step_wd;
    const float keep = o->type->decoupled_wd ? 1.0f - lr * o->step_wd : 1.0f;
    float *s1 = o->state[0], *s2 = o->state[1], *s3 = o->state[2];
    const float bc1 = 1.0f - powf(b1, (float)o->t), bc2 = 1.0f - powf(b2, (float)o->t);
    const float step = lr / bc1, rbc2 = 1.0f / sqrtf(bc2);
    if (!c->amsgrad) {
        DC_FOR_PART(i, n, part, nseg, {
            float gi = g[i] + l2 * w[i];
            float m = s1[i] = b1 * s1[i] + (1 - b1) * gi;
            float v = s2[i] = b2 * s2[i] + (1 - b2) * gi * gi;
            w[i] = w[i] * keep - step * m / (sqrtf(v) * rbc2 + eps);
        });
    } else {
        DC_FOR_PART(i, n, part, nseg, {
            float gi = g[i] + l2 * w[i];
            float m = s1[i] = b1 * s1[i] + (1 - b1) * gi;
            float v = s2[i] = b2 * s2[i] + (1 - b2) * gi * gi;
            float vm = s3[i] = fmaxf(s3[i], v);
            w[i] = w[i] * keep - step * m / (sqrtf(vm) * rbc2 + eps);
        });
    }
}

const dc_optimizer_type dc_adam_type = {
    .name = "Adam", .cfg_size = sizeof(adam_cfg), .fields = adam_fields, .nfields = DC_ARRAY_LEN(adam_fields),
    .nstate = adam_nstate, .update = adam_update,
};
DC_REGISTER_OPTIMIZER(dc_adam_type);

const dc_optimizer_type dc_adamw_type = {
    .name = "AdamW", .cfg_size = sizeof(adam_cfg), .fields = adam_fields, .nfields = DC_ARRAY_LEN(adam_fields),
    .nstate = adam_nstate, .decoupled_wd = true, .update = adam_update,
};
DC_REGISTER_OPTIMIZER(dc_adamw_type);

/* eps <= 0 (or NaN): the default, 1e-8 */
static dc_optimizer *make(const dc_optimizer_type *t, float lr, float beta1, float beta2, float eps) {
    if (!(beta1 >= 0 && beta1 < 1) || !(beta2 >= 0 && beta2 < 1))
        return dc_error_null(DC_ERR_ARG, "%s: betas (%g, %g) must be in [0, 1)", t->name, (double)beta1, (double)beta2);
    return dc_optimizer_make(t, lr, 3, (const char *const[]){"beta1", "beta2", "epsilon"},
                             (const double[]){beta1, beta2, eps > 0 ? eps : NAN});
}

dc_optimizer *dc_adam(float lr, float beta1, float beta2, float eps) { return make(&dc_adam_type, lr, beta1, beta2, eps); }

dc_optimizer *dc_adamw(float lr, float beta1, float beta2, float eps, float weight_decay) {
    dc_optimizer *o = make(&dc_adamw_type, lr, beta1, beta2, eps);
    if (o && dc_optimizer_set_weight_decay(o, weight_decay)) {
        dc_optimizer_free(o);
        return NULL;
    }
    return o;
}
