/* mt_cpu_scratch.c - per-thread, grow-only scratch buffers for the CPU kernels. */
#include "cpu/mt_cpu.h"

#include "core/mt_alloc.h"

typedef struct scratch_slot {
    void *p;
    size_t nbytes;
} scratch_slot;

/* Thread-local: every worker of the pool (and any other calling thread) has its
 * own set, so kernels running in parallel never share one. The pool's workers
 * live as long as the process, and so do their buffers. */
static _Thread_local scratch_slot slots[MT_SCRATCH_SLOTS];

void *mt_cpu_scratch(int slot, size_t nbytes) {
    scratch_slot *s = &slots[slot];
    if (s->p && s->nbytes >= nbytes) return s->p;
    /* grow by at least half again, so that slowly growing requests settle quickly */
    size_t want = nbytes;
    if (want < s->nbytes + s->nbytes / 2) want = s->nbytes + s->nbytes / 2;
    void *p = mt_host_alloc(want, "kernel scratch");
    if (!p) return NULL;
    mt_host_free(s->p, s->nbytes);
    s->p = p;
    s->nbytes = want;
    return p;
}
