/* optim: update rules over one flat parameter buffer. */
#ifndef DC_OPTIM_H
#define DC_OPTIM_H

#include "../base/base.h"
#include "../kernels/kernels.h"

typedef enum dc_opt_kind { DC_OPT_SGD, DC_OPT_ADAGRAD, DC_OPT_ADADELTA, DC_OPT_RMSPROP, DC_OPT_ADAM, DC_OPT_COUNT } dc_opt_kind;

struct dc_optimizer {
    dc_opt_kind kind;
    float lr, b1, b2, eps, momentum, wd;
    float clipnorm, clipvalue; /* 0 = off */
    bool nesterov;
    int64_t n;      /* parameters the state was made for (0 = none yet) */
    int64_t t;      /* steps taken */
    float *s1, *s2; /* state: momentum/m/accumulators */
    float *clipped; /* the clipped gradient, when clipping is on */
};

/* dc_optimizer_step with the update split over threads by part (NULL: evenly), so each thread
 * updates the rows of each weight that its GEMM slices wrote (dc_part_range). The same result
 * whatever the split. */
dc_status dc_optimizer_step_part(dc_optimizer *o, float *w, const float *g, int64_t n, const dc_part_seg *part, int nseg);

/* Allocates the state for n parameters (zeros) if not done yet; DC_ERR_STATE if made for another n. */
dc_status dc_optimizer_prepare(dc_optimizer *o, int64_t n);

#endif
