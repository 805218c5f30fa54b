/*
 * mt_tensor.h - float32 tensors: a strided view into a refcounted buffer.
 *
 * A tensor has 0 to 4 dimensions (NCHW order for images), strides in
 * elements, an element offset, and a buffer that lives on one device. Views
 * (reshape, narrow, select, transpose, permute) share the buffer.
 *
 * Ownership: every function that returns a tensor through an `mt_tensor **out`
 * gives the caller one reference, to be dropped with mt_tensor_release. No
 * function takes ownership of its arguments. The C API counts dimensions from
 * 0; the Lua binding adds 1.
 */
#ifndef MT_TENSOR_H
#define MT_TENSOR_H

#include "core/mt_common.h"

#include <stdbool.h>

#ifdef __cplusplus
extern "C" {
#endif

#define MT_MAX_DIMS 4

typedef enum mt_device { MT_CPU = 0, MT_CUDA = 1 } mt_device;
#define MT_NUM_DEVICES 2

/* A block of device memory shared by tensors; freed with its last reference. */
typedef struct mt_buffer {
    int refcount; /* changed with __atomic builtins: views may cross threads */
    mt_device device;
    size_t nbytes;
    void *data; /* host or device pointer, depending on device */
} mt_buffer;

typedef struct mt_tensor {
    int ndim;
    int64_t shape[MT_MAX_DIMS];
    int64_t stride[MT_MAX_DIMS]; /* in elements */
    int64_t offset;              /* in elements, into buf */
    mt_buffer *buf;
    int refcount;
} mt_tensor;

/* Bytes held by live tensor buffers on a device. */
size_t mt_buffer_bytes_live(mt_device dev);

/* Returns "cpu" or "cuda". */
const char *mt_device_name(mt_device d);

/* A new contiguous tensor with uninitialised contents on device dev. */
mt_status mt_tensor_new(mt_tensor **out, mt_device dev, int ndim, const int64_t *shape);

/* A new contiguous tensor filled with value. */
mt_status mt_tensor_full(mt_tensor **out, mt_device dev, int ndim, const int64_t *shape,
                         float value);

/* A view of src's buffer with the given geometry (checked against the buffer). */
mt_status mt_tensor_view(mt_tensor **out, const mt_tensor *src, int ndim, const int64_t *shape,
                         const int64_t *stride, int64_t offset);

void mt_tensor_retain(mt_tensor *t);
void mt_tensor_release(mt_tensor *t); /* NULL is ignored */

int64_t mt_tensor_numel(const mt_tensor *t);
bool mt_tensor_is_contiguous(const mt_tensor *t);
static inline mt_device mt_tensor_device(const mt_tensor *t) { return t->buf->device; }
/* Pointer to element 0 (a device pointer for CUDA tensors). */
static inline float *mt_tensor_data(const mt_tensor *t) { return (float *)t->buf->data + t->offset; }
/* Formats the shape as "2x3" into buf of MT_SHAPE_STR bytes. */
const char *mt_tensor_shape_str(const mt_tensor *t, char *buf);
bool mt_tensor_same_shape(const mt_tensor *a, const mt_tensor *b);

/* Row-major strides of a contiguous tensor of this shape. */
void mt_contiguous_strides(int ndim, const int64_t *shape, int64_t *stride);

/* Gives t the shape (contiguous strides), reusing its buffer when it is large
 * enough and allocating a new one otherwise. Contents are unspecified after a
 * size change. The hot path of layers: outputs are resized, not reallocated. */
mt_status mt_tensor_resize(mt_tensor *t, int ndim, const int64_t *shape);

/* Views. dim, start, index are 0-based. A size of -1 in reshape is inferred. */
mt_status mt_tensor_reshape(mt_tensor **out, const mt_tensor *src, int ndim, const int64_t *shape);
mt_status mt_tensor_narrow(mt_tensor **out, const mt_tensor *src, int dim, int64_t start,
                           int64_t length);
mt_status mt_tensor_select(mt_tensor **out, const mt_tensor *src, int dim, int64_t index);
mt_status mt_tensor_transpose(mt_tensor **out, const mt_tensor *src, int d0, int d1);
mt_status mt_tensor_permute(mt_tensor **out, const mt_tensor *src, const int *order);
mt_status mt_tensor_unsqueeze(mt_tensor **out, const mt_tensor *src, int dim);
mt_status mt_tensor_squeeze(mt_tensor **out, const mt_tensor *src, int dim); /* dim -1: all */

/* src itself (retained) if contiguous, else a contiguous copy on its device. */
mt_status mt_tensor_contiguous(mt_tensor **out, const mt_tensor *src);
/* Always a new contiguous copy. */
mt_status mt_tensor_clone(mt_tensor **out, const mt_tensor *src);
/* A contiguous copy on device dev (src itself, retained, if already there and
 * contiguous). The only way data crosses devices. */
mt_status mt_tensor_to_device(mt_tensor **out, const mt_tensor *src, mt_device dev);

/* Element access through a 0-based multi-index (one entry per dimension). */
mt_status mt_tensor_get(const mt_tensor *t, const int64_t *index, float *value);
mt_status mt_tensor_set(mt_tensor *t, const int64_t *index, float value);

/* Copies host floats in row-major order into t, or t into host floats. */
mt_status mt_tensor_upload(mt_tensor *t, const float *src, int64_t n);
mt_status mt_tensor_download(const mt_tensor *t, float *dst, int64_t n);

#ifdef __cplusplus
}
#endif

#endif
