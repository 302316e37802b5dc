/* dc_history internals: the fit loop fills a history with dc_history_record(). */
#ifndef DC_HISTORY_H
#define DC_HISTORY_H

#include "deepc/model.h"

#include "../base/base.h"

dc_history *dc_history_new(void);
/* Stores value v for `key` at epoch index `epoch` (0-based), replacing an earlier value
 * there; a new key creates a series. Series are kept in first-seen order. Epochs a series
 * has no value for hold NaN. The key must be non-empty and free of ',', '"', CR and LF,
 * so that it can be a CSV column name. */
dc_status dc_history_record(dc_history *h, int epoch, const char *key, double v);

/* A deep copy (NULL on failure). */
dc_history *dc_history_clone(const dc_history *h);

#endif
