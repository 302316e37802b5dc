/* StepLR: base gamma^floor(k / step_size) after k optimiser steps (PyTorch's StepLR, counted in
 * optimiser steps). */
#include "optim.h"

#include <math.h>

typedef struct step_cfg {
    int64_t step_size;
    float gamma;
} step_cfg;
static const dc_field step_fields[] = {
    DC_F_INT(step_cfg, "step_size", step_size, 1, DC_SCHED_MAX_STEPS, 1, DC_FIELD_REQUIRED),
    DC_F_FLOAT(step_cfg, "gamma", gamma, 0, 1e3, 0.1, 0),
};

static double step_lr_at(const dc_schedule *s, int64_t k, double base) {
    const step_cfg *c = DC_SCHED_CCFG(s, step_cfg);
    return base * pow((double)c->gamma, (double)(k / c->step_size));
}

const dc_schedule_type dc_step_lr_type = {
    .name = "StepLR", .cfg_size = sizeof(step_cfg), .fields = step_fields, .nfields = DC_ARRAY_LEN(step_fields),
    .lr_at = step_lr_at,
};
DC_REGISTER_SCHEDULE(dc_step_lr_type);

dc_schedule *dc_step_lr(int64_t step_size, float gamma) {
    return dc_schedule_make(&dc_step_lr_type, 2, (const char *const[]){"step_size", "gamma"}, (const double[]){(double)step_size, gamma});
}
