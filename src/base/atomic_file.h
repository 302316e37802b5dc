/* Atomic file replacement: readers of `path` see either the old file or the complete new
 * one, never a half-written file, even if the process dies or the disk fills up. */
#ifndef DC_ATOMIC_FILE_H
#define DC_ATOMIC_FILE_H

#include "base.h"

#include <stdio.h>

/* dc_write_fn and dc_write_file_atomic are public: include/deepc/base.h. */

#endif
