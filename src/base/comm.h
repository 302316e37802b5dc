/* base: the communicator: the few collectives a data-parallel fit needs (sums, a broadcast, a
 * min/max and an agreement on failure), as function pointers. dist/ makes one over MPI and
 * installs it with dc_comm_install; the trainer and the synchronised batch-norm op only call
 * through it, so nothing below dist/ knows MPI. With no communicator installed (one process),
 * dc_comm_active() is NULL. */
#ifndef DC_COMM_H
#define DC_COMM_H

#include "base.h"

typedef struct dc_comm {
    int rank, size;
    /* In-place sums over every rank. */
    dc_status (*sum_f)(float *buf, int64_t n);
    dc_status (*sum_d)(double *buf, int n);
    /* Rank 0's n floats into buf on every rank. */
    dc_status (*bcast_f)(float *buf, int64_t n);
    /* Smallest and largest of each v[i] (i < n <= 16) over the ranks. */
    dc_status (*minmax)(const int64_t *v, int n, int64_t *lo, int64_t *hi);
    /* A check point: DC_OK when every rank passes DC_OK, else on every rank the lowest failing
     * rank's status, with the message "<who>: rank r failed: <its message>". */
    dc_status (*agree)(dc_status s, const char *who);
} dc_comm;

/* The communicator of a data-parallel run with more than one rank, or NULL. */
const dc_comm *dc_comm_active(void);
/* Installs c (NULL: none; the process works alone). */
void dc_comm_install(const dc_comm *c);

/* The same calls for code that runs with or without a communicator: with c NULL each is the
 * one-process result (sums and broadcasts leave buf as it is, minmax copies v, agree returns s). */
dc_status dc_comm_sum_f(const dc_comm *c, float *buf, int64_t n);
dc_status dc_comm_sum_d(const dc_comm *c, double *buf, int n);
dc_status dc_comm_bcast_f(const dc_comm *c, float *buf, int64_t n);
dc_status dc_comm_minmax(const dc_comm *c, const int64_t *v, int n, int64_t *lo, int64_t *hi);
dc_status dc_comm_agree(const dc_comm *c, dc_status s, const char *who);

#endif
