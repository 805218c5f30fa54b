/* mt_alloc.c - aligned, counted host allocation with a garbage-collection retry. */
#include "core/mt_alloc.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#define MT_ALIGN 64

static mt_gc_hook gc_hook;
static void *gc_hook_ud;
static pthread_t gc_hook_thread;
static atomic_size_t bytes_live;

void mt_set_gc_hook(mt_gc_hook hook, void *ud) {
    gc_hook = hook;
    gc_hook_ud = ud;
    gc_hook_thread = pthread_self();
}

void mt_run_gc_hook(void) {
    if (gc_hook && pthread_equal(gc_hook_thread, pthread_self())) gc_hook(gc_hook_ud);
}

static size_t round_up(size_t n) { return (n + MT_ALIGN - 1) / MT_ALIGN * MT_ALIGN; }

void *mt_host_alloc(size_t nbytes, const char *what) {
    size_t n = round_up(nbytes ? nbytes : 1);
    if (n < nbytes) { /* the rounding wrapped around */
        mt_fail(MT_ERR_OOM, "%s: cannot allocate %zu bytes", what, nbytes);
        return NULL;
    }
    void *p = aligned_alloc(MT_ALIGN, n);
    if (!p) {
        mt_run_gc_hook();
        p = aligned_alloc(MT_ALIGN, n);
    }
    if (!p) {
        mt_fail(MT_ERR_OOM, "%s: out of memory allocating %.1f MiB", what,
                (double)nbytes / (1024.0 * 1024.0));
        return NULL;
    }
    atomic_fetch_add(&bytes_live, n);
    return p;
}

void mt_host_free(void *p, size_t nbytes) {
    if (!p) return;
    atomic_fetch_sub(&bytes_live, round_up(nbytes ? nbytes : 1));
    free(p);
}

size_t mt_host_bytes_live(void) { return atomic_load(&bytes_live); }

mt_status mt_numel_checked(int ndim, const int64_t *shape, int64_t *numel, const char *what) {
    /* 2^60 floats is far beyond any machine; the bound keeps nbytes in size_t */
    const int64_t limit = (int64_t)1 << 60;
    int64_t n = 1;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] < 0) {
            char s[MT_SHAPE_STR];
            return mt_fail(MT_ERR_ARG, "%s: negative size in shape %s", what,
                           mt_shape_str(s, ndim, shape));
        }
        if (shape[i] != 0 && n > limit / shape[i]) {
            char s[MT_SHAPE_STR];
            return mt_fail(MT_ERR_OOM, "%s: shape %s is too large", what,
                           mt_shape_str(s, ndim, shape));
        }
        n *= shape[i];
    }
    *numel = n;
    return MT_OK;
}
