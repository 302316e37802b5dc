/* OneCycleLR: PyTorch 1.13's OneCycleLR with anneal_strategy "cos", three_phase false and
 * cycle_momentum false (the optimiser's momentum or beta1 is not cycled). With M = max_lr (the
 * optimiser's lr when 0), a = M / div_factor and z = a / final_div_factor, two phases of half a
 * cosine each, cos_anneal(from, to, p) = to + (from - to) (1 + cos(pi p)) / 2:
 *   k <= e1 = pct_start T - 1:  cos_anneal(a, M, k / e1)
 *   after:                      cos_anneal(M, z, (k - e1) / (T - 1 - e1))
 * PyTorch's arithmetic, phase ends as doubles (e1 need not be whole, and may be below 0: then
 * the first phase is skipped). A phase of length 0 (e1 = 0, where PyTorch divides by zero)
 * gives its end value. Past step T - 1 the rate stays at z (PyTorch raises an error past T). */
#include "optim.h"

#include <float.h>
#include <math.h>

/* pi as a double: the value of C's M_PI and Python's math.pi */
#define PI 3.141592653589793238462643383279502884

typedef struct one_cycle_cfg {
    int64_t total_steps;
    float max_lr, pct_start, div_factor, final_div_factor;
} one_cycle_cfg;
static const dc_field one_cycle_fields[] = {
    DC_F_INT(one_cycle_cfg, "total_steps", total_steps, 1, DC_SCHED_MAX_STEPS, 1000, DC_FIELD_REQUIRED),
    DC_F_FLOAT(one_cycle_cfg, "max_lr", max_lr, 0, 1e6, 0, 0), /* 0: the optimiser's lr */
    DC_F_FLOAT(one_cycle_cfg, "pct_start", pct_start, 0, 1, 0.3, 0),
    DC_F_FLOAT(one_cycle_cfg, "div_factor", div_factor, FLT_TRUE_MIN, 1e30, 25, 0),
    DC_F_FLOAT(one_cycle_cfg, "final_div_factor", final_div_factor, FLT_TRUE_MIN, 1e30, 1e4, 0),
};

static double anneal(double from, double to, double p) { return to + (from - to) / 2.0 * (cos(PI * p) + 1); }

static double one_cycle_lr_at(const dc_schedule *s, int64_t k, double base) {
    const one_cycle_cfg *c = DC_SCHED_CCFG(s, one_cycle_cfg);
    const double M = c->max_lr > 0 ? (double)c->max_lr : base, a = M / (double)c->div_factor, z = a / (double)c->final_div_factor;
    const double T = (double)c->total_steps, e1 = (double)c->pct_start * T - 1, e2 = T - 1;
    const double x = (double)(k < c->total_steps - 1 ? k : c->total_steps - 1);
    if (x <= e1) return e1 > 0 ? anneal(a, M, x / e1) : M;
    return e2 > e1 ? anneal(M, z, (x - e1) / (e2 - e1)) : z;
}

const dc_schedule_type dc_one_cycle_lr_type = {
    .name = "OneCycleLR", .cfg_size = sizeof(one_cycle_cfg), .fields = one_cycle_fields, .nfields = DC_ARRAY_LEN(one_cycle_fields),
    .lr_at = one_cycle_lr_at,
};
DC_REGISTER_SCHEDULE(dc_one_cycle_lr_type);

dc_schedule *dc_one_cycle_lr(float max_lr, int64_t total_steps) {
    return dc_schedule_make(&dc_one_cycle_lr_type, 2, (const char *const[]){"total_steps", "max_lr"}, (const double[]){(double)total_steps, max_lr});
}
