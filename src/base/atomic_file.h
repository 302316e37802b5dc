/* Atomic file replacement: readers of `path` see either the old file or the complete new
 * one, never a half-written file, even if the process dies or the disk fills up. */
#ifndef DC_ATOMIC_FILE_H
#define DC_ATOMIC_FILE_H

#include "base.h"

#include <stdio.h>

/* Writes the content of a file to f; returns DC_OK or a dc_error() status. Failed stdio
 * calls need no checking: the stream's error flag is checked afterwards. */
typedef dc_status (*dc_write_fn)(FILE *f, void *arg);

/* Calls write(f, arg) on "<path>.tmp.<pid>" in path's directory, flushes and fsyncs it,
 * renames it over path and fsyncs the directory. On failure the temporary file is removed,
 * an existing file at path is left untouched, and the status is DC_ERR_IO (naming the
 * path and the system's reason), DC_ERR_ARG or the callback's own status. Temporary files that
 * writers killed mid-write left beside path are removed once their process is gone. */
dc_status dc_write_file_atomic(const char *path, dc_write_fn write, void *arg);

#endif
