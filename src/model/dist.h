/* dist: the collectives data-parallel fit and evaluate use (MPI when built with it; with one
 * rank, or without MPI, every call is a no-op that returns DC_OK). */
#ifndef DC_DIST_H
#define DC_DIST_H

#include "../base/base.h"

/* True when fit and evaluate split their rows over the ranks: dc_dist_init ran, there is more
 * than one rank, and dc_dist_set_active has not switched it off. */
bool dc_dist_on(void);

/* The largest message one gradient all-reduce sends, in floats (16 MiB): a model's gradients are
 * one contiguous buffer, reduced in as few messages of this size as it takes. */
#define DC_DIST_BUCKET ((int64_t)1 << 22)

/* In-place sums over every rank. */
dc_status dc_dist_sum_f(float *buf, int64_t n);
dc_status dc_dist_sum_d(double *buf, int n);
/* Rank 0's n floats into buf on every rank. */
dc_status dc_dist_bcast_f(float *buf, int64_t n);
/* Smallest and largest of each v[i] (i < n <= 16) over the ranks. */
dc_status dc_dist_minmax(const int64_t *v, int n, int64_t *lo, int64_t *hi);

/* A collective check point: every rank passes its own status s. If all are DC_OK it returns DC_OK;
 * otherwise every rank returns the status of the lowest failing rank r, with the message
 * "<who>: rank r failed: <that rank's message>", so no rank waits for one that has given up. */
dc_status dc_dist_agree(dc_status s, const char *who);

#endif
