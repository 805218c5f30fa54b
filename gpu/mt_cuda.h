/*
 * mt_cuda.h - the C interface of the CUDA backend (no CUDA headers here, so
 * that C files of the runtime can include it).
 *
 * Only mt_backend.c calls these, and only when MT_WITH_CUDA is defined.
 */
#ifndef MT_CUDA_H
#define MT_CUDA_H

#include "../runtime/mt_backend.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Number of usable CUDA devices (0 without a driver or a GPU). */
int mt_cuda_device_count(void);

/* The CUDA backend, initialised on first use; NULL with an MT_ERR_DEVICE
 * message naming the reason when no device can be used. */
const mt_backend *mt_cuda_backend(void);

/* Describes the current device (mtcnn.cuda.device_info). */
mt_status mt_cuda_device_query(mt_cuda_info *info);

#ifdef __cplusplus
}
#endif

#endif
