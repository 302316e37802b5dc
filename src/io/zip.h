/* io: the zip container of .npz archives, read and written member by member.
 *
 * Member names must be plain file names (dc_zip_name_problem), read or written.
 *
 * Reading trusts only the central directory (local headers are checked against it): the
 * end-of-central-directory record is looked for in the last 65557 bytes, zip64 records and
 * extra fields are understood, and every offset and size is checked to lie inside the file
 * before anything is read or allocated. Members are streamed: stored ones straight from the
 * file, deflated ones through zlib's raw inflate, and their CRC-32 is checked at the end.
 *
 * Writing produces what np.savez / np.savez_compressed produce: local headers carrying a zip64
 * extra field (so members may exceed 4 GiB), the central directory, zip64 end records when the
 * archive needs them, and the end-of-central-directory record. */
#ifndef DC_IO_ZIP_H
#define DC_IO_ZIP_H

#include "../base/base.h"

#include <stdio.h>
#include <zlib.h>

/* Most members an archive may have. */
#define DC_ZIP_MAX_MEMBERS 65536

typedef struct dc_zip_entry {
    char *name;         /* NUL-terminated; never empty, holds no NUL */
    uint16_t method;    /* 0 stored, 8 deflated (others are refused when the archive is opened) */
    uint32_t crc;       /* CRC-32 of the uncompressed bytes */
    uint64_t comp_size; /* bytes in the archive */
    uint64_t size;      /* bytes once uncompressed */
    uint64_t local_off; /* offset of the local header */
} dc_zip_entry;

typedef struct dc_zip {
    FILE *f;
    const char *path;
    uint64_t file_size;
    uint64_t cd_off; /* members' data ends before the central directory */
    int n;
    dc_zip_entry *e;
} dc_zip;

/* Why name cannot name a member, or NULL if it can. A member's name becomes a file name when
 * the archive is unpacked, and np.load's keys are often used as file names, so it must be one
 * plain file name: no '/' or '\\' (a path, absolute when it starts with one, or one climbing out
 * of its folder through ".."), and not "." or "..", which name folders. Dots inside a name
 * ("a..b") are harmless without a separator and allowed. The reason reads after "the name". */
const char *dc_zip_name_problem(const char *name);

/* Opens path for reading after checking it is a regular file; its size in *size. NULL with a
 * DC_ERR_IO message naming the file on failure. */
FILE *dc_file_open_read(const char *path, uint64_t *size);

/* Opens an archive and reads its central directory. On failure *z holds nothing to close. */
dc_status dc_zip_open(dc_zip *z, const char *path);
void dc_zip_close(dc_zip *z);

/* One member being read: exactly entry->size bytes come out of dc_zip_read. */
typedef struct dc_zip_reader {
    dc_zip *zip;
    const dc_zip_entry *e;
    char *label;    /* "path:member" for messages */
    uint64_t left;  /* uncompressed bytes still to come */
    uint64_t cleft; /* compressed bytes still in the file */
    uint32_t crc;
    bool inflating, ended;
    z_stream zs;
    unsigned char *in; /* compressed input buffer */
} dc_zip_reader;

/* Checks member i's local header and positions the reader at its data. */
dc_status dc_zip_member_open(dc_zip *z, int i, dc_zip_reader *r);
/* Reads exactly n bytes (n <= the bytes left). */
dc_status dc_zip_read(dc_zip_reader *r, void *buf, size_t n);
/* After all bytes are read: checks that the deflate stream ends there and the CRC-32. */
dc_status dc_zip_member_finish(dc_zip_reader *r);
/* Reads the rest of the member and finishes it: tells whether a member that failed to parse
 * is damaged (CRC-32 or deflate error) rather than merely not what the caller expected. */
dc_status dc_zip_member_check_rest(dc_zip_reader *r);
void dc_zip_member_close(dc_zip_reader *r);

/* Writing an archive into an open, seekable stream (the local header of each member is
 * completed once its size and CRC are known). */
typedef struct dc_zip_writer {
    FILE *f;
    const char *path;
    int n, cap;
    dc_zip_entry *e;
    /* the member being written */
    bool open, deflating;
    uint64_t size, comp;
    uint32_t crc;
    z_stream zs;
    unsigned char *out;
} dc_zip_writer;

void dc_zip_writer_init(dc_zip_writer *w, FILE *f, const char *path);
/* Starts a member (method 8 if deflate, else 0). */
dc_status dc_zip_member_begin(dc_zip_writer *w, const char *name, bool deflate);
dc_status dc_zip_write(dc_zip_writer *w, const void *buf, size_t n);
dc_status dc_zip_member_end(dc_zip_writer *w);
/* Writes the central directory and the end records. */
dc_status dc_zip_writer_finish(dc_zip_writer *w);
/* Frees what the writer holds (also after a failure). */
void dc_zip_writer_free(dc_zip_writer *w);

#endif
