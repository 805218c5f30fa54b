/*
 * mt_backend.c - the registry of backends. This is the one C file of the
 * runtime that knows whether CUDA was compiled in (MT_WITH_CUDA).
 */
#include "core/mt_backend.h"

#include <string.h>

const mt_backend *mt_backend_for(mt_device dev) {
    switch (dev) {
    case MT_CPU: return mt_cpu_backend();
    case MT_CUDA:
#ifdef MT_WITH_CUDA
        return mt_cuda_backend(); /* NULL with a message when no device is present */
#else
        mt_fail(MT_ERR_DEVICE, "cuda: this build of mtcnn has no CUDA backend (configure with "
                               "-DMT_CUDA=ON on a machine with the CUDA toolkit)");
        return NULL;
#endif
    }
    mt_fail(MT_ERR_DEVICE, "unknown device %d", (int)dev);
    return NULL;
}

bool mt_device_available(mt_device dev) {
    if (dev == MT_CPU) return true;
#ifdef MT_WITH_CUDA
    if (dev == MT_CUDA) return mt_cuda_device_count() > 0;
#endif
    return false;
}

bool mt_cuda_compiled(void) {
#ifdef MT_WITH_CUDA
    return true;
#else
    return false;
#endif
}

mt_status mt_cuda_query(mt_cuda_info *info) {
    memset(info, 0, sizeof *info);
#ifdef MT_WITH_CUDA
    return mt_cuda_device_query(info);
#else
    return mt_fail(MT_ERR_DEVICE, "cuda: this build of mtcnn has no CUDA backend");
#endif
}
