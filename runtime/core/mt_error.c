/* mt_error.c - the thread-local error message of the C core. */
#include "core/mt_common.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#define MT_ERRBUF 1024

static _Thread_local char mt_errbuf[MT_ERRBUF];

mt_status mt_fail(mt_status st, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(mt_errbuf, sizeof mt_errbuf, fmt, ap);
    va_end(ap);
    return st;
}

const char *mt_last_error(void) { return mt_errbuf; }

mt_status mt_error_prefix(mt_status st, const char *prefix) {
    char old[MT_ERRBUF];
    memcpy(old, mt_errbuf, sizeof old);
    size_t n = strlen(prefix);
    if (n > MT_ERRBUF / 2) n = MT_ERRBUF / 2; /* keep room for the original message */
    memcpy(mt_errbuf, prefix, n);
    mt_errbuf[n] = ':';
    mt_errbuf[n + 1] = ' ';
    size_t room = MT_ERRBUF - n - 3;
    size_t m = strlen(old);
    if (m > room) m = room;
    memcpy(mt_errbuf + n + 2, old, m);
    mt_errbuf[n + 2 + m] = '\0';
    return st;
}

/* lock-free, so that setting it from a signal handler is safe */
static atomic_int interrupt_flag;

void mt_interrupt_set(int on) { atomic_store_explicit(&interrupt_flag, on != 0, memory_order_relaxed); }

int mt_interrupted(void) { return atomic_load_explicit(&interrupt_flag, memory_order_relaxed); }

mt_status mt_interrupt_fail(const char *what) {
    return mt_fail(MT_ERR_INTERRUPTED, "%s: interrupted", what);
}

const char *mt_status_name(mt_status st) {
    switch (st) {
    case MT_OK: return "ok";
    case MT_ERR_ARG: return "argument";
    case MT_ERR_SHAPE: return "shape";
    case MT_ERR_DEVICE: return "device";
    case MT_ERR_OOM: return "out of memory";
    case MT_ERR_IO: return "io";
    case MT_ERR_FORMAT: return "format";
    case MT_ERR_CUDA: return "cuda";
    case MT_ERR_UNSUPPORTED: return "unsupported";
    case MT_ERR_INTERRUPTED: return "interrupted";
    }
    return "unknown";
}

const char *mt_shape_str(char *buf, int ndim, const int64_t *shape) {
    size_t n = 0;
    buf[0] = '\0';
    if (ndim == 0) {
        snprintf(buf, MT_SHAPE_STR, "scalar");
        return buf;
    }
    for (int i = 0; i < ndim && n < MT_SHAPE_STR; i++) {
        int w = snprintf(buf + n, MT_SHAPE_STR - n, i ? "x%lld" : "%lld", (long long)shape[i]);
        if (w < 0) break;
        n += (size_t)w;
    }
    return buf;
}
