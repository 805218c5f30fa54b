/*
 * mt_file.h - checksums and crash-safe file writing, shared by every file
 * format of the project (tensors, models, records).
 *
 * A file is never half-written under its final name: writers create
 * "<path>.tmp.<pid>", fsync it, and rename it over the target; the previous
 * version stays readable until the rename.
 */
#ifndef MT_FILE_H
#define MT_FILE_H

#include "core/mt_common.h"

#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

/* CRC-32C (Castagnoli) of a block, continuing from crc (start with 0). The
 * hardware instruction is used when the CPU has it; results are identical. */
uint32_t mt_crc32c(uint32_t crc, const void *data, size_t n);

typedef struct mt_atomic_file {
    FILE *f;
    char *path; /* final name */
    char *tmp;  /* temporary name, renamed to path on commit */
} mt_atomic_file;

/* Creates "<path>.tmp.<pid>" anew for writing (whatever is there removed first; a link is
 * not followed). MT_ERR_IO naming path on failure. */
mt_status mt_atomic_open(mt_atomic_file *af, const char *path);
/* Writes n bytes; MT_ERR_IO (disk full, ...) naming the final path. */
mt_status mt_atomic_write(mt_atomic_file *af, const void *data, size_t n);
/* Flushes, fsyncs and renames onto the final path; closes in any case. */
mt_status mt_atomic_commit(mt_atomic_file *af);
/* Closes and deletes the temporary file (safe after a failed commit too). */
void mt_atomic_abort(mt_atomic_file *af);

/* fsyncs the folder holding path, so that a rename into it is durable. */
void mt_sync_parent_dir(const char *path);

/* Opens path for reading (or, with write, reading and writing) into *fd, refusing anything
 * that is not a regular file (a folder, a device, a FIFO) before a byte is read: the open
 * does not wait (O_NONBLOCK) for a FIFO's writer. MT_ERR_IO naming path and what it is. */
mt_status mt_open_regular(const char *path, int write, int *fd);

/* The same as a stdio stream opened "rb". */
mt_status mt_fopen_regular(const char *path, FILE **f);

/* Reads the whole regular file at path into a malloc'ed buffer (*n bytes, plus a NUL that
 * *n does not count). MT_ERR_IO naming path when it cannot be opened or read or is not a
 * regular file; MT_ERR_ARG when it holds more than max_bytes. */
mt_status mt_read_file(const char *path, uint8_t **data, size_t *n, size_t max_bytes);

/* Reads exactly n bytes at the current position; MT_ERR_FORMAT "truncated"
 * (naming path and what) when the file ends first. */
mt_status mt_read_exact(FILE *f, void *dst, size_t n, const char *path, const char *what);

#ifdef __cplusplus
}
#endif

#endif
