/* io: the header of an .npy file, for readers that map the data rather than load it. */
#ifndef DC_IO_NPY_H
#define DC_IO_NPY_H

#include "deepc/io.h"

#include <stdio.h>

typedef struct dc_npy_info {
    dc_dtype dtype;
    bool swap; /* big-endian elements */
    int ndim;  /* as in the file: 0 for a 0-d array */
    int64_t shape[DC_MAX_DIMS];
    int64_t numel;
    uint64_t data_off; /* where the elements start */
    char descr[32];
} dc_npy_info;

/* Reads and checks the header of the .npy file f (size bytes, named path in messages) from its
 * start, as dc_npy_load does; the data is not read or checked. */
dc_status dc_npy_read_header(FILE *f, const char *path, uint64_t size, dc_npy_info *out);

#endif
