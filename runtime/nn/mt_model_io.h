/*
 * mt_model_io.h - the model file format (".mtn"): a JSON header describing a net
 * (architecture, options, parameter names and shapes) followed by its tensors.
 *
 * Layout, little-endian, version 1:
 *   0  char[8]  magic "MTCNNNET"
 *   8  u32      version (1)
 *  12  u32      header bytes H (JSON text, UTF-8)
 *  16  u32      tensor count T
 *  20  u32      CRC-32C of the JSON text
 *  24  u32      CRC-32C of bytes 0..23
 *  28  u32      0 (reserved)
 *  32  char[H]  JSON text
 *      T tensor records in the .mtt layout of mt_tensor_io.h (each with its own CRCs)
 *      char[8]  "MTNETEND", u32 CRC-32C of every byte before this trailer, u32 0
 * Files are written to a temporary name and renamed into place (mt_file.h), so a
 * crash never leaves a half-written model under the final name. Loading checks
 * every checksum and reports truncation and corruption by name.
 */
#ifndef MT_MODEL_IO_H
#define MT_MODEL_IO_H

#include "core/mt_tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

#define MT_MODEL_FILE_VERSION 1

/* Writes header (len bytes) and n tensors (any device) to path atomically.
 * MT_ERR_IO naming path on failure; nothing is left under path then. */
mt_status mt_model_save(const char *path, const char *header, size_t len, int n,
                        const mt_tensor *const *tensors);

/* Reads a model file: *header (malloc'd, NUL-terminated, *len bytes) and *n CPU
 * tensors in *tensors (a malloc'd array of owned references). Free them with
 * mt_model_free. MT_ERR_IO when the file cannot be read; MT_ERR_FORMAT for a bad
 * magic, version, truncation or checksum mismatch, naming path and the part. */
mt_status mt_model_load(const char *path, char **header, size_t *len, int *n,
                        mt_tensor ***tensors);

void mt_model_free(char *header, int n, mt_tensor **tensors);

#ifdef __cplusplus
}
#endif

#endif
