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

/* The batches of a data set, gathered into two alternating sets of buffers: while the caller
 * works on one batch, the next is gathered into the other set (on a thread of its own when
 * threaded). Each set holds parts [0, nparts) of up to cap rows, as float32. */
typedef struct dc_feed dc_feed;

/* NULL with the error set on failure. */
dc_feed *dc_feed_new(dc_dataset *ds, int nparts, int64_t cap, bool threaded);
/* Asks for rows idx[0..n) (idx NULL: rows start..start+n) to be gathered into the next set;
 * augment and seed as dc_dataset_gather's. One request at a time: each is taken before the next. */
void dc_feed_submit(dc_feed *f, const int64_t *idx, int64_t start, int64_t n, bool augment, uint64_t seed);
/* Waits for the request and sets bufs[0..nparts) to its buffers, which stay valid until the
 * request after next is submitted; the gather's error, if any, with its message. */
dc_status dc_feed_take(dc_feed *f, float **bufs);
/* Waits for a request not taken (the next batch of an epoch a callback stopped), whose rows are
 * then dropped: the dataset is idle afterwards. */
void dc_feed_settle(dc_feed *f);
/* Stops the thread (after the request in progress) and frees the buffers. NULL is ignored. */
void dc_feed_free(dc_feed *f);

#endif
