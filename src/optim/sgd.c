/* SGD with optional momentum and Nesterov's variant, PyTorch's formulas:
 * v = momentum v + g (v starts at g); w -= lr (nesterov ? g + momentum v : v). */
#include "optim.h"

/* The rule's gradient: g plus the L2 weight decay's wd w. */
#define GRAD(i) (g[i] + wd * w[i])

/* [0, 1) for a float: the largest float below 1 */
#define BELOW_ONE (1.0 - 0x1p-24)

typedef struct sgd_cfg {
    float momentum;
    bool nesterov;
} sgd_cfg;
/* momentum before nesterov: files are written in table order, so a reader that sets the fields
 * one by one (the check runs after each) meets the momentum before Nesterov needs it */
static const dc_field sgd_fields[] = {
    DC_F_FLOAT(sgd_cfg, "momentum", momentum, 0, BELOW_ONE, 0, 0), /* 0 or not decides the state buffer */
    DC_F_BOOL(sgd_cfg, "nesterov", nesterov, false, DC_FIELD_RUNTIME),
};

static int sgd_nstate(const dc_optimizer *o) {
    const sgd_cfg *c = DC_OPT_CCFG(o, sgd_cfg);
    return c->momentum > 0 ? 1 : 0;
}

static dc_status sgd_check(const dc_optimizer *o) {
    const sgd_cfg *c = DC_OPT_CCFG(o, sgd_cfg);
    if (c->nesterov && !(c->momentum > 0))
        return dc_error(DC_ERR_ARG, "%s: Nesterov needs a momentum > 0, got momentum %g", o->type->name, (double)c->momentum);
    return DC_OK;
}

/* state[0]: the momentum buffer v */
DC_CLONES static void sgd_update(dc_optimizer *o, float *w, const float *g, int64_t n, const dc_part_seg *part, int nseg) {
    const sgd_cfg *c = DC_OPT_CCFG(o, sgd_cfg);
    const float lr = o->step_lr, wd = o->step_wd, mom = c->momentum;
    float *s1 = o->state[0];
    if (mom == 0) {
        DC_FOR_PART(i, n, part, nseg, w[i] -= lr * GRAD(i););
    } else {
        const bool nest = c->nesterov, first = o->t == 1;
        DC_FOR_PART(i, n, part, nseg, {
            float gi = GRAD(i);
            float v = first ? gi : mom * s1[i] + gi; /* PyTorch starts the buffer at g */
            s1[i] = v;
            w[i] -= lr * (nest ? gi + mom * v : v);
        });
    }
}

const dc_optimizer_type dc_sgd_type = {
    .name = "SGD", .cfg_size = sizeof(sgd_cfg), .fields = sgd_fields, .nfields = DC_ARRAY_LEN(sgd_fields),
    .nstate = sgd_nstate, .check = sgd_check, .update = sgd_update,
};
DC_REGISTER_OPTIMIZER(dc_sgd_type);

dc_optimizer *dc_sgd(float lr, float momentum, bool nesterov) {
    if (!(momentum >= 0 && momentum < 1)) return dc_error_null(DC_ERR_ARG, "SGD: momentum %g is outside [0, 1)", (double)momentum);
    if (nesterov && momentum == 0) return dc_error_null(DC_ERR_ARG, "SGD: Nesterov needs a momentum > 0");
    return dc_optimizer_make(&dc_sgd_type, lr, 2, (const char *const[]){"momentum", "nesterov"},
                             (const double[]){momentum, nesterov});
}
