/* CosineWarmup: a linear warm-up from base f to base over W steps, then half a cosine from base
 * down to min_lr at step T, held there after:
 *   k < W:      base (f + (1 - f) k / W)
 *   W <= k < T: min_lr + (base - min_lr) (1 + cos(pi (k - W) / (T - W))) / 2
 *   k >= T:     min_lr
 * PyTorch's SequentialLR of LinearLR(f, 1, W) and CosineAnnealingLR(T - W, min_lr) with the
 * milestone W, up to T (where PyTorch's cosine would turn up again, this one stays at min_lr,
 * as Keras's CosineDecay does). */
#include "optim.h"

#include <math.h>

/* pi as a double: the value of C's M_PI and Python's math.pi */
#define PI 3.141592653589793238462643383279502884

typedef struct cos_cfg {
    int64_t total_steps, warmup_steps;
    float min_lr, warmup_start_factor;
} cos_cfg;
/* total_steps before warmup_steps: a file read in table order meets the bound first */
static const dc_field cos_fields[] = {
    DC_F_INT(cos_cfg, "total_steps", total_steps, 1, DC_SCHED_MAX_STEPS, 1000, DC_FIELD_REQUIRED),
    DC_F_INT(cos_cfg, "warmup_steps", warmup_steps, 0, DC_SCHED_MAX_STEPS, 0, 0),
    DC_F_FLOAT(cos_cfg, "min_lr", min_lr, 0, 1e6, 0, 0),
    DC_F_FLOAT(cos_cfg, "warmup_start_factor", warmup_start_factor, 0, 1, 0, 0),
};

static dc_status cos_check(const dc_schedule *s) {
    const cos_cfg *c = DC_SCHED_CCFG(s, cos_cfg);
    if (c->warmup_steps >= c->total_steps)
        return dc_error(DC_ERR_ARG, "%s: warmup_steps %lld must be below total_steps %lld (the warm-up is part of the schedule)",
                        s->type->name, (long long)c->warmup_steps, (long long)c->total_steps);
    return DC_OK;
}

static double cos_lr_at(const dc_schedule *s, int64_t k, double base) {
    const cos_cfg *c = DC_SCHED_CCFG(s, cos_cfg);
    const int64_t W = c->warmup_steps, T = c->total_steps;
    const double f = c->warmup_start_factor, lo = c->min_lr;
    if (k < W) return base * (f + (1 - f) * (double)k / (double)W);
    if (k >= T) return lo;
    return lo + (base - lo) * (1 + cos(PI * (double)(k - W) / (double)(T - W))) / 2;
}

const dc_schedule_type dc_cosine_warmup_type = {
    .name = "CosineWarmup", .cfg_size = sizeof(cos_cfg), .fields = cos_fields, .nfields = DC_ARRAY_LEN(cos_fields),
    .check = cos_check, .lr_at = cos_lr_at,
};
DC_REGISTER_SCHEDULE(dc_cosine_warmup_type);

dc_schedule *dc_cosine_warmup(int64_t warmup_steps, int64_t total_steps, float min_lr) {
    return dc_schedule_make(&dc_cosine_warmup_type, 3, (const char *const[]){"total_steps", "warmup_steps", "min_lr"},
                            (const double[]){(double)total_steps, (double)warmup_steps, min_lr});
}
