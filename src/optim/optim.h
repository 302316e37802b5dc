/* optim: update rules over one flat parameter buffer, and the learning-rate schedules that drive
 * them. Each optimiser is one record (dc_optimizer_type) in its own file under src/optim/: its
 * class name, its hyper-parameters as a field schema over its own config struct, how many state
 * buffers a configuration keeps, and its update. A type registers itself with
 * DC_REGISTER_OPTIMIZER(sym) on a line of its own; the build collects those lines into the
 * registry (dc_optimizer_type_find). Schedules are records the same way (dc_schedule_type,
 * DC_REGISTER_SCHEDULE, dc_schedule_type_find), one file each (sched_*.c). Model files and
 * checkpoints save and restore every optimiser and schedule through the schemas, the state count
 * and the schedule's state vector alone. */
#ifndef DC_OPTIM_H
#define DC_OPTIM_H

#include "deepc/optim.h"

#include "../base/base.h"
#include "../base/schema.h"
#include "../kernels/kernels.h"

#define DC_OPT_MAX_STATE 4

typedef struct dc_optimizer_type {
    const char *name; /* "Adam", as model files and messages name it */
    size_t cfg_size;  /* sizeof its config struct */
    const dc_field *fields; /* its own hyper-parameters (the common ones are dc_optimizer_common_fields) */
    int nfields;
    /* The state buffers (each one float per parameter) this configuration keeps: Adam 2 (3 with
     * AMSGrad), SGD 1 with momentum else 0. Saved in checkpoints as
     * "optimizer.state<k>.<parameter>", k from 1. */
    int (*nstate)(const dc_optimizer *o);
    /* Optional: checks the hyper-parameters together (Nesterov needs momentum > 0). */
    dc_status (*check)(const dc_optimizer *o);
    /* true: weight decay is decoupled (AdamW): w *= 1 - lr wd before the rule's update, rather
     * than wd w added to the gradient (L2, every other type). */
    bool decoupled_wd;
    /* One update of w[0..n) from g (already clipped) at learning rate o->step_lr, with
     * o->t already counting this step; the rule applies the weight decay o->step_wd itself
     * (added to g, or decoupled), which is 0 when optim.c has applied it already. Split over
     * threads by part as DC_FOR_PART does. */
    void (*update)(dc_optimizer *o, float *w, const float *g, int64_t n, const dc_part_seg *part, int nseg);
} dc_optimizer_type;

/* ---- learning-rate schedules ---------------------------------------------------------- */

typedef struct dc_schedule_type {
    const char *name; /* "OneCycleLR", as model files and messages name it */
    size_t cfg_size;
    const dc_field *fields;
    int nfields;
    /* Doubles of state the schedule keeps across steps and epochs (0..DC_SCHEDULE_MAX_STATE),
     * saved in checkpoints; all zero when the schedule is made, and always finite. */
    int nstate;
    /* Optional: checks the options together (warm-up shorter than the schedule). */
    dc_status (*check)(const dc_schedule *s);
    /* The learning rate of the optimiser step that follows `step` steps taken (0 for the
     * first), given the optimiser's own learning rate base_lr. */
    double (*lr_at)(const dc_schedule *s, int64_t step, double base_lr);
    /* Optional: the end of an epoch whose monitored value is `value` (ReduceLROnPlateau). */
    void (*epoch_end)(dc_schedule *s, double value, double base_lr);
    /* Optional: whether v[0..nstate) is a state this schedule can be in (a checkpoint's). */
    dc_status (*check_state)(const dc_schedule *s, const double *v);
} dc_schedule_type;

struct dc_schedule {
    const dc_schedule_type *type;
    bool attached; /* owned by an optimiser (dc_optimizer_set_schedule) */
    double state[DC_SCHEDULE_MAX_STATE];
    _Alignas(max_align_t) unsigned char cfg[]; /* the type's config struct */
};

#define DC_SCHED_CFG(s, T) ((T *)(void *)(s)->cfg)
#define DC_SCHED_CCFG(s, T) ((const T *)(const void *)(s)->cfg)

/* Registers a schedule type (a non-static const dc_schedule_type); one per line. */
#define DC_REGISTER_SCHEDULE(sym) extern const dc_schedule_type sym

int dc_schedule_type_count(void);
const dc_schedule_type *dc_schedule_type_at(int i);
const dc_schedule_type *dc_schedule_type_find(const char *name);
/* A new schedule of type t, every field at its default (required fields then need setting). */
dc_schedule *dc_schedule_create(const dc_schedule_type *t);
/* Checked write of one field by key, then the type's check; the old value stays on failure. */
dc_status dc_schedule_set_field(dc_schedule *s, const char *key, const double *v, int n);
/* The field named key of s, or NULL. */
const dc_field *dc_schedule_field(const dc_schedule *s, const char *key);
/* A schedule of type t with the n fields keys[i] set to vals[i] in order, then checked; NULL
 * with the setter's message (naming the class, the option and its range) on a bad value. */
dc_schedule *dc_schedule_make(const dc_schedule_type *t, int n, const char *const *keys, const double *vals);

/* What dc_optimizer_set_schedule_state checks, without the change: a checkpoint reader checks
 * everything it read before it changes the model. */
dc_status dc_optimizer_check_schedule_state(const dc_optimizer *o, const double *v, int n);

/* The bound of step counts in schedule fields: whole numbers a double holds exactly. */
#define DC_SCHED_MAX_STEPS 1e15

/* ---- optimisers ----------------------------------------------------------------------- */

struct dc_optimizer {
    const dc_optimizer_type *type;
    /* the options every optimiser has (dc_optimizer_common_fields) */
    float lr, wd, clipnorm, clipvalue; /* clipping: 0 = off */
    bool decay_bias_norm;              /* weight decay on 1-D parameters (segments of 0 rows) too */
    int64_t n;      /* parameters the state was made for (0 = none yet) */
    int64_t t;      /* steps taken */
    int nstate;
    float *state[DC_OPT_MAX_STATE]; /* nstate buffers of n floats */
    float *clipped; /* the clipped (or decayed) gradient, when clipping or per-segment decay is on */
    dc_schedule *sched; /* owned; NULL: the learning rate is lr at every step */
    float step_lr, step_wd; /* what the type's update applies in the step being taken */
    _Alignas(max_align_t) unsigned char cfg[]; /* the type's config struct */
};

#define DC_OPT_CFG(o, T) ((T *)(void *)(o)->cfg)
#define DC_OPT_CCFG(o, T) ((const T *)(const void *)(o)->cfg)

/* Registers an optimiser type (a non-static const dc_optimizer_type); one per line. */
#define DC_REGISTER_OPTIMIZER(sym) extern const dc_optimizer_type sym

/* lr, weight_decay, clipnorm, clipvalue, decay_bias_and_norm: fields over struct dc_optimizer. */
extern const dc_field dc_optimizer_common_fields[];
extern const int dc_optimizer_common_nfields;

int dc_optimizer_type_count(void);
const dc_optimizer_type *dc_optimizer_type_at(int i);
const dc_optimizer_type *dc_optimizer_type_find(const char *name);

/* A new optimiser of type t, every field at its default, lr at lr (checked). */
dc_optimizer *dc_optimizer_create(const dc_optimizer_type *t, float lr);
/* dc_optimizer_create with the n fields keys[i] set to vals[i] (NaN: the field's default), then
 * the type's check once; NULL with the setter's message (the class, the option, its range). What
 * the public constructors are made of. */
dc_optimizer *dc_optimizer_make(const dc_optimizer_type *t, float lr, int n, const char *const *keys, const double *vals);
/* Checked write of one field (common or the type's) by key, then the type's check; a key the
 * type lacks is DC_ERR_ARG naming the optimiser and the key. */
dc_status dc_optimizer_set_field(dc_optimizer *o, const char *key, const double *v, int n);
/* The field named key of o (common or the type's) and the struct it lives in, or NULL. */
const dc_field *dc_optimizer_field(const dc_optimizer *o, const char *key, const void **cfg);

/* dc_optimizer_step with the update split over threads by part (NULL: evenly), so each thread
 * updates the rows of each weight that its GEMM slices wrote (dc_part_range). The same result
 * whatever the split. The segments also say which parameters are 1-D (rows 0: biases and
 * normalisation scales and offsets), which the weight decay skips when decay_bias_and_norm is
 * off; without part every parameter decays. */
dc_status dc_optimizer_step_part(dc_optimizer *o, float *w, const float *g, int64_t n, const dc_part_seg *part, int nseg);

/* Allocates the state for n parameters (zeros) if not done yet; DC_ERR_STATE if made for another n. */
dc_status dc_optimizer_prepare(dc_optimizer *o, int64_t n);

#endif
