/* model: inference shared with the trainer (validation is an evaluation). */
#ifndef DC_INFER_H
#define DC_INFER_H

#include "objective.h"
#include "staging.h"

/* Rank r's contiguous part [lo, hi) of rows [r0, r1): every rank's part when a communicator is
 * installed, else all of them. */
void dc_my_part(int64_t r0, int64_t r1, int64_t *lo, int64_t *hi);
/* The sums of a over every rank, into a on every rank. */
dc_status dc_reduce_acc(const dc_model *m, dc_acc *a);
/* Loss and metrics over rows [r0, r1) in inference mode into results[1 + nmetrics]. A
 * collective call: who names the caller in the message of a rank's failure. */
dc_status dc_eval_rows(dc_model *m, const dc_inputs *x, const dc_tensor *y, int64_t r0, int64_t r1, int64_t batch,
                       double *results, const char *who);

#endif
