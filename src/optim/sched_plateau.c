/* ReduceLROnPlateau: PyTorch 1.13's, counted in epochs (dc_optimizer_epoch_end). An epoch
 * improves when its value beats the best so far: mode min, threshold_mode rel: value <
 * best (1 - threshold); abs: value < best - threshold; mode max: value > best (1 + threshold),
 * value > best + threshold. The first finite value is compared with +inf (min) or -inf (max), as
 * PyTorch's starting best. More than `patience` epochs without improvement lower the rate to
 * max(rate factor, min_lr), when that lowers it by more than eps; the bad-epoch count restarts
 * and the next `cooldown` epochs count none. A value that is not finite counts as a bad epoch
 * (PyTorch would take -inf as a new best in mode min), so the state stays finite for
 * checkpoints. It starts from the optimiser's lr and keeps its own rate from the first
 * reduction on (changing the optimiser's lr after that changes nothing). */
#include "optim.h"

#include <math.h>

/* [0, 1) for a float: the largest float below 1 */
#define BELOW_ONE (1.0 - 0x1p-24)

enum { MODE_MIN, MODE_MAX };
enum { REL, ABS };

typedef struct plateau_cfg {
    int mode, threshold_mode;
    float factor, threshold, min_lr, eps;
    int64_t patience, cooldown;
} plateau_cfg;

static const char *mode_name(int i) { return i == MODE_MAX ? "max" : "min"; }
static const char *threshold_mode_name(int i) { return i == ABS ? "abs" : "rel"; }

static const dc_field plateau_fields[] = {
    DC_F_ENUM(plateau_cfg, "mode", mode, mode_name, 2, MODE_MIN, 0),
    DC_F_FLOAT(plateau_cfg, "factor", factor, 0, BELOW_ONE, 0.1, 0),
    DC_F_INT(plateau_cfg, "patience", patience, 0, 1e9, 10, 0),
    DC_F_FLOAT(plateau_cfg, "threshold", threshold, 0, 1e30, 1e-4, 0),
    DC_F_ENUM(plateau_cfg, "threshold_mode", threshold_mode, threshold_mode_name, 2, REL, 0),
    DC_F_INT(plateau_cfg, "cooldown", cooldown, 0, 1e9, 0, 0),
    DC_F_FLOAT(plateau_cfg, "min_lr", min_lr, 0, 1e6, 0, 0),
    DC_F_FLOAT(plateau_cfg, "eps", eps, 0, 1e30, 1e-8, 0),
};

/* state: the rate (0 until the first reduction: the optimiser's lr), whether a best was seen,
 * the best, the bad epochs counted, the cooldown epochs left */
enum { S_LR, S_HAS_BEST, S_BEST, S_BAD, S_COOLDOWN, S_N };

static double plateau_lr_at(const dc_schedule *s, int64_t k, double base) {
    (void)k;
    return s->state[S_LR] > 0 ? s->state[S_LR] : base;
}

static bool better(const plateau_cfg *c, double a, double best) {
    const double th = c->threshold;
    if (c->mode == MODE_MIN) return c->threshold_mode == REL ? a < best * (1 - th) : a < best - th;
    return c->threshold_mode == REL ? a > best * (th + 1) : a > best + th;
}

static void plateau_epoch_end(dc_schedule *s, double value, double base) {
    const plateau_cfg *c = DC_SCHED_CCFG(s, plateau_cfg);
    double *v = s->state;
    const double best = v[S_HAS_BEST] != 0 ? v[S_BEST] : c->mode == MODE_MIN ? INFINITY : -INFINITY;
    if (isfinite(value) && better(c, value, best)) {
        v[S_BEST] = value;
        v[S_HAS_BEST] = 1;
        v[S_BAD] = 0;
    } else {
        v[S_BAD] += 1;
    }
    if (v[S_COOLDOWN] > 0) { /* bad epochs in the cooldown do not count */
        v[S_COOLDOWN] -= 1;
        v[S_BAD] = 0;
    }
    if (v[S_BAD] > (double)c->patience) {
        const double old = plateau_lr_at(s, 0, base), lr = fmax(old * (double)c->factor, (double)c->min_lr);
        if (old - lr > (double)c->eps) v[S_LR] = lr;
        v[S_COOLDOWN] = (double)c->cooldown;
        v[S_BAD] = 0;
    }
}

static bool whole(double x) { return x >= 0 && x <= 1e15 && x == floor(x); }

static dc_status plateau_check_state(const dc_schedule *s, const double *v) {
    if (!(v[S_LR] >= 0 && v[S_LR] <= 1e6) || (v[S_HAS_BEST] != 0 && v[S_HAS_BEST] != 1) || !whole(v[S_BAD]) || !whole(v[S_COOLDOWN]))
        return dc_error(DC_ERR_ARG,
                        "%s: state [rate %g, has best %g, best %g, bad epochs %g, cooldown %g]: the rate must be in [0, 1e6], has best 0 "
                        "or 1, the counts whole numbers >= 0",
                        s->type->name, v[S_LR], v[S_HAS_BEST], v[S_BEST], v[S_BAD], v[S_COOLDOWN]);
    return DC_OK;
}

const dc_schedule_type dc_reduce_lr_on_plateau_type = {
    .name = "ReduceLROnPlateau", .cfg_size = sizeof(plateau_cfg), .fields = plateau_fields, .nfields = DC_ARRAY_LEN(plateau_fields),
    .nstate = S_N, .lr_at = plateau_lr_at, .epoch_end = plateau_epoch_end, .check_state = plateau_check_state,
};
DC_REGISTER_SCHEDULE(dc_reduce_lr_on_plateau_type);

dc_schedule *dc_reduce_lr_on_plateau(float factor, int64_t patience) {
    return dc_schedule_make(&dc_reduce_lr_on_plateau_type, 2, (const char *const[]){"factor", "patience"},
                            (const double[]){factor, (double)patience});
}
