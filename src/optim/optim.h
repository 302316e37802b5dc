/* optim: update rules over one flat parameter buffer. Each optimiser is one record
 * (dc_optimizer_type) in its own file under src/optim/: its class name, its hyper-parameters as a
 * field schema over its own config struct, how many state buffers a configuration keeps, and its
 * update. A type registers itself with DC_REGISTER_OPTIMIZER(sym) on a line of its own; the build
 * collects those lines into the registry (dc_optimizer_type_find). Model files and checkpoints
 * save and restore every optimiser through the schema and the state count alone. */
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
    /* The state buffers (each one float per parameter) this configuration keeps: Adam 2, SGD 1
     * with momentum else 0. Saved in checkpoints as "optimizer.state<k>.<parameter>", k from 1. */
    int (*nstate)(const dc_optimizer *o);
    /* Optional: checks the hyper-parameters together (Nesterov needs momentum > 0). */
    dc_status (*check)(const dc_optimizer *o);
    /* One update of w[0..n) from g (already clipped, without weight decay: the rule adds
     * o->wd * w itself), with o->t already counting this step; split over threads by part as
     * DC_FOR_PART does. */
    void (*update)(dc_optimizer *o, float *w, const float *g, int64_t n, const dc_part_seg *part, int nseg);
} dc_optimizer_type;

struct dc_optimizer {
    const dc_optimizer_type *type;
    /* the options every optimiser has (dc_optimizer_common_fields) */
    float lr, wd, clipnorm, clipvalue; /* clipping: 0 = off */
    int64_t n;      /* parameters the state was made for (0 = none yet) */
    int64_t t;      /* steps taken */
    int nstate;
    float *state[DC_OPT_MAX_STATE]; /* nstate buffers of n floats */
    float *clipped; /* the clipped gradient, when clipping is on */
    _Alignas(max_align_t) unsigned char cfg[]; /* the type's config struct */
};

#define DC_OPT_CFG(o, T) ((T *)(void *)(o)->cfg)
#define DC_OPT_CCFG(o, T) ((const T *)(const void *)(o)->cfg)

/* Registers an optimiser type (a non-static const dc_optimizer_type); one per line. */
#define DC_REGISTER_OPTIMIZER(sym) extern const dc_optimizer_type sym

/* lr, weight_decay, clipnorm, clipvalue: fields over struct dc_optimizer itself. */
extern const dc_field dc_optimizer_common_fields[];
extern const int dc_optimizer_common_nfields;

int dc_optimizer_type_count(void);
const dc_optimizer_type *dc_optimizer_type_at(int i);
const dc_optimizer_type *dc_optimizer_type_find(const char *name);

/* A new optimiser of type t, every field at its default, lr at lr (checked). */
dc_optimizer *dc_optimizer_create(const dc_optimizer_type *t, float lr);
/* Checked write of one field (common or the type's) by key, then the type's check; a key the
 * type lacks is DC_ERR_ARG naming the optimiser and the key. */
dc_status dc_optimizer_set_field(dc_optimizer *o, const char *key, const double *v, int n);
/* The field named key of o (common or the type's) and the struct it lives in, or NULL. */
const dc_field *dc_optimizer_field(const dc_optimizer *o, const char *key, const void **cfg);

/* dc_optimizer_step with the update split over threads by part (NULL: evenly), so each thread
 * updates the rows of each weight that its GEMM slices wrote (dc_part_range). The same result
 * whatever the split. */
dc_status dc_optimizer_step_part(dc_optimizer *o, float *w, const float *g, int64_t n, const dc_part_seg *part, int nseg);

/* Allocates the state for n parameters (zeros) if not done yet; DC_ERR_STATE if made for another n. */
dc_status dc_optimizer_prepare(dc_optimizer *o, int64_t n);

#endif
