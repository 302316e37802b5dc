/* dist: data parallelism over MPI. Its public calls (dc_dist_init, dc_dist_rank, dc_dist_size,
 * dc_dist_available, dc_dist_set_active, dc_dist_finalize) are declared in deepc/dist.h.
 * The collectives themselves are reached through base's communicator (base/comm.h): while
 * dc_dist_init has succeeded with more than one rank and dc_dist_set_active has not switched it
 * off, dist installs one over MPI_COMM_WORLD, so dc_comm_active() returns it; otherwise (one
 * rank, switched off, finalised, or built without MPI) none is installed and the code below dist
 * works as one process. Nothing outside dist includes this header or calls MPI. */
#ifndef DC_DIST_H
#define DC_DIST_H

#include "deepc/dist.h"

#include "../base/base.h"
#include "../base/comm.h"

/* The largest message one all-reduce or broadcast of floats sends, in floats (16 MiB): a
 * model's gradients are one contiguous buffer, reduced in as few messages of this size as it
 * takes (MPI counts are ints). */
#define DC_DIST_BUCKET ((int64_t)1 << 22)

#endif
