/*
 * mt_tensor_io.h - the tensor file format (".mtt").
 *
 * Layout, little-endian, version 1:
 *   0  char[8]  magic "MTTENSOR"
 *   8  u32      version (1)
 *  12  u32      ndim (0..4)
 *  16  i64[4]   shape (unused entries 0)
 *  48  u64      payload bytes (numel * 4)
 *  56  u32      CRC-32C of the payload
 *  60  u32      CRC-32C of bytes 0..59
 *  64  float32[numel] values, row-major
 * Files are written to a temporary name and renamed into place.
 */
#ifndef MT_TENSOR_IO_H
#define MT_TENSOR_IO_H

#include "core/mt_tensor.h"

#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

#define MT_TENSOR_FILE_VERSION 1
#define MT_TENSOR_HEADER_BYTES 64

/* Saves t (any device, any layout) to path. MT_ERR_IO naming path. */
mt_status mt_tensor_save(const mt_tensor *t, const char *path);

/* Loads a CPU tensor. MT_ERR_IO when the file cannot be read, MT_ERR_FORMAT
 * for a bad magic, version, header, size or checksum; messages name path. */
mt_status mt_tensor_load(mt_tensor **out, const char *path);

/* The same record (header + payload) inside an open stream, for container
 * formats such as model files; name is used in messages. */
mt_status mt_tensor_write_stream(const mt_tensor *t, void (*put)(const void *, size_t, void *),
                                 void *ud);
mt_status mt_tensor_read_stream(mt_tensor **out, FILE *f, const char *name);

#ifdef __cplusplus
}
#endif

#endif
