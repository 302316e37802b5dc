/* model: what the fit loop and inference share of datasets (dataset.c): the data set itself and
 * the feed that gathers batches of it, on a background thread when prefetching. */
#ifndef DC_MODEL_DATASET_H
#define DC_MODEL_DATASET_H

#include "deepc/model.h"

#include "../base/base.h"

/* Whether the dataset asks for its batches to be prepared on a background thread. */
bool dc_dataset_prefetching(const dc_dataset *ds);

/* Shape-only tensors (no data) like[0..nparts) describing parts [0, nparts) of ds as tensors of
 * all its rows: what the checks of shapes and the step's views of staged batches read. */
dc_status dc_dataset_likes(const dc_dataset *ds, int nparts, dc_tensor *like);

/* The batches of a data set, gathered ahead into sets of buffers: while the caller works on one
 * batch, the next ones are gathered into the others (on a thread of its own when threaded; up to
 * three ahead when a set is small, one when it is large). Each set holds parts [0, nparts) of up
 * to cap rows, as float32. Requests are taken in the order they were submitted. */
typedef struct dc_feed dc_feed;

/* NULL with the error set on failure. */
dc_feed *dc_feed_new(dc_dataset *ds, int nparts, int64_t cap, bool threaded);
/* How many more requests may be submitted now (at least 1 after each take). */
int dc_feed_room(const dc_feed *f);
/* Asks for rows idx[0..n) (idx NULL: rows start..start+n) to be gathered into the next free
 * set; augment and seed as dc_dataset_gather's. The caller keeps to dc_feed_room. */
void dc_feed_submit(dc_feed *f, const int64_t *idx, int64_t start, int64_t n, bool augment, uint64_t seed);
/* Submits rows [ask, end) of the dataset in order, batch rows a request, as far as dc_feed_room
 * allows; returns the first row not yet submitted. */
int64_t dc_feed_fill(dc_feed *f, int64_t ask, int64_t end, int64_t batch);
/* Waits for the oldest request not taken and sets bufs[0..nparts) to its buffers, which stay
 * valid until the next take; the gather's error, if any, with its message. */
dc_status dc_feed_take(dc_feed *f, float **bufs);
/* Drops the requests not taken (the next batches of an epoch a callback stopped), after the one
 * being gathered, if any, is done: the dataset is idle afterwards. */
void dc_feed_settle(dc_feed *f);
/* Stops the thread (after the request in progress) and frees the buffers. NULL is ignored. */
void dc_feed_free(dc_feed *f);

#endif
