/* data: reading a file that may be gzip-compressed, for the CSV and IDX readers (zlib's gz*
 * functions read plain and gzip files alike).
 *
 * Every reader checks a gzip stream's 8-byte trailer, the CRC-32 and length of the data: zlib
 * checks it when the stream's end is read, reports a bad CRC-32 as a read error, and reports a
 * stream cut short - in its data or in its trailer - only as an early end of file with
 * Z_BUF_ERROR. dc_gz_end turns that into an error, so a reader that has all the bytes it wants
 * still refuses a file whose trailer is missing. */
#ifndef DC_DATA_GZ_H
#define DC_DATA_GZ_H

#include "../base/base.h"

#include <zlib.h>

/* Opens path for reading, plain or gzip; *size (unless size is NULL) receives the file's size
 * in bytes, or UINT64_MAX when it is not a regular file. Files larger than zlib's default 8 KiB
 * buffer get a 128 KiB one, which cuts the number of reads of a large file; small files keep the
 * default, since a larger buffer would cost more to allocate than it saves. NULL with a
 * DC_ERR_IO message naming the file on failure. */
gzFile dc_gz_open(const char *path, uint64_t *size);

/* Turns the error zlib holds for gz into a status naming the file: DC_ERR_IO for a read error,
 * DC_ERR_NOMEM, and DC_ERR_FORMAT for corrupt data (a bad CRC-32 included) or a stream cut
 * short. */
dc_status dc_gz_fail(gzFile gz, const char *path);

/* Reads up to n bytes into buf; *got < n only at the end of the data, which may be an early
 * end (dc_gz_cut says so, dc_gz_end refuses it). Read errors and corrupt data are errors. */
dc_status dc_gz_read(gzFile gz, const char *path, void *buf, size_t n, size_t *got);

/* After a read came up short: did the gzip stream end early, cut before or inside its trailer? */
bool dc_gz_cut(gzFile gz);

/* After a read came up short: DC_OK if the data ended cleanly (a gzip stream's trailer read
 * and its CRC-32 and length checked), else the error, naming the file. */
dc_status dc_gz_end(gzFile gz, const char *path);

#endif
