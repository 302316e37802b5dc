/* data: the sound files' internals shared by the reader (audio.c), the resampler
 * (audio_resample.c) and the spectrograms (audio_mel.c). */
#ifndef DC_DATA_AUDIO_H
#define DC_DATA_AUDIO_H

#include "deepc/data.h"

#include "../base/base.h"

/* The sample rates deepc accepts, in Hz (files, targets of resampling, spectrograms). */
#define DC_AUDIO_MAX_RATE 768000
/* The most frames a sound may have, whatever max_seconds says: 2^31. */
#define DC_AUDIO_MAX_FRAMES ((int64_t)1 << 31)
/* max_seconds when the options say 0. */
#define DC_AUDIO_DEFAULT_MAX_SECONDS 3600.0

/* Resamples x[n] from `from` to `to` Hz into a dc_alloc'd *out of *out_n frames
 * (ceil(n * to / from)); rates already checked. DC_ERR_SHAPE naming `name` for an output over
 * DC_AUDIO_MAX_FRAMES, DC_ERR_NOMEM. */
dc_status dc_audio_resample_raw(const float *x, int64_t n, int64_t from, int64_t to, dc_resample_mode mode,
                                const char *name, float **out, int64_t *out_n);

#endif
