/* ExponentialLR: base gamma^k after k optimiser steps (PyTorch's ExponentialLR, counted in
 * optimiser steps; gamma > 1 grows the rate, as a learning-rate range test does). */
#include "optim.h"

#include <math.h>

typedef struct exp_cfg {
    float gamma;
} exp_cfg;
static const dc_field exp_fields[] = {
    DC_F_FLOAT(exp_cfg, "gamma", gamma, 0, 1e3, 0.99, DC_FIELD_REQUIRED),
};

static double exp_lr_at(const dc_schedule *s, int64_t k, double base) {
    return base * pow((double)DC_SCHED_CCFG(s, exp_cfg)->gamma, (double)k);
}

const dc_schedule_type dc_exponential_lr_type = {
    .name = "ExponentialLR", .cfg_size = sizeof(exp_cfg), .fields = exp_fields, .nfields = DC_ARRAY_LEN(exp_fields),
    .lr_at = exp_lr_at,
};
DC_REGISTER_SCHEDULE(dc_exponential_lr_type);

dc_schedule *dc_exponential_lr(float gamma) {
    return dc_schedule_make(&dc_exponential_lr_type, 1, (const char *const[]){"gamma"}, (const double[]){gamma});
}
