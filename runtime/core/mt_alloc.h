/*
 * mt_alloc.h - host memory for tensors and buffers.
 *
 * All large host blocks of the core come from here: 64-byte aligned (one
 * cache line, one AVX-512 vector), counted, and retried once after asking the
 * embedding program to free garbage. Lua's collector cannot see C memory, so
 * the Lua binding registers a hook that runs a full collection, as cutorch did.
 */
#ifndef MT_ALLOC_H
#define MT_ALLOC_H

#include "core/mt_common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A hook run when an allocation fails; it should free what it can. */
typedef void (*mt_gc_hook)(void *ud);

/* Installs the hook (NULL removes it). The hook only runs on the thread that
 * installed it, because a Lua state must not be used from two threads. */
void mt_set_gc_hook(mt_gc_hook hook, void *ud);

/* Runs the hook if one is installed and this is its thread. */
void mt_run_gc_hook(void);

/* Allocates nbytes (rounded up to 64) aligned to 64 bytes. On failure runs the
 * hook and tries once more; then returns NULL with an MT_ERR_OOM message that
 * names `what`. A zero-byte request returns a valid unique pointer. */
void *mt_host_alloc(size_t nbytes, const char *what);

/* Frees a block of mt_host_alloc (NULL is ignored). nbytes as allocated. */
void mt_host_free(void *p, size_t nbytes);

/* Bytes currently held by mt_host_alloc blocks. */
size_t mt_host_bytes_live(void);

/* Multiplies the dims of a shape into *numel, failing on overflow or on a
 * count that exceeds what a float buffer can address. */
mt_status mt_numel_checked(int ndim, const int64_t *shape, int64_t *numel, const char *what);

#ifdef __cplusplus
}
#endif

#endif
