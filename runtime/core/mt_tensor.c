/* mt_tensor.c - creation, reference counting and views of tensors. */
#include "core/mt_tensor.h"

#include "core/mt_alloc.h"
#include "core/mt_backend.h"

#include <stdlib.h>
#include <string.h>

const char *mt_device_name(mt_device d) { return d == MT_CUDA ? "cuda" : "cpu"; }

/* ---- buffers ---------------------------------------------------------------------------- */

static size_t bytes_live[MT_NUM_DEVICES];

size_t mt_buffer_bytes_live(mt_device dev) {
    return (unsigned)dev < MT_NUM_DEVICES ? __atomic_load_n(&bytes_live[dev], __ATOMIC_RELAXED) : 0;
}

static mt_status buffer_new(mt_buffer **out, mt_device dev, size_t nbytes) {
    const mt_backend *be = mt_backend_for(dev);
    if (!be) return MT_ERR_DEVICE;
    mt_buffer *b = (mt_buffer *)calloc(1, sizeof *b);
    if (!b) return mt_fail(MT_ERR_OOM, "tensor: out of memory");
    mt_status st = be->alloc(nbytes, &b->data);
    if (st != MT_OK) {
        free(b);
        return st;
    }
    b->refcount = 1;
    b->device = dev;
    b->nbytes = nbytes;
    __atomic_add_fetch(&bytes_live[dev], nbytes, __ATOMIC_RELAXED);
    *out = b;
    return MT_OK;
}

static void buffer_release(mt_buffer *b) {
    if (!b) return;
    if (__atomic_sub_fetch(&b->refcount, 1, __ATOMIC_ACQ_REL) != 0) return;
    const mt_backend *be = mt_backend_for(b->device);
    if (be) be->free(b->data, b->nbytes);
    __atomic_sub_fetch(&bytes_live[b->device], b->nbytes, __ATOMIC_RELAXED);
    free(b);
}

/* ---- tensors ---------------------------------------------------------------------------- */

void mt_contiguous_strides(int ndim, const int64_t *shape, int64_t *stride) {
    int64_t s = 1;
    for (int i = ndim - 1; i >= 0; i--) {
        stride[i] = s;
        s *= shape[i] > 0 ? shape[i] : 1;
    }
}

static mt_status check_ndim(int ndim, const char *what) {
    if (ndim < 0 || ndim > MT_MAX_DIMS)
        return mt_fail(MT_ERR_ARG, "%s: %d dimensions (at most %d are supported)", what, ndim,
                       MT_MAX_DIMS);
    return MT_OK;
}

static mt_tensor *tensor_alloc_struct(void) {
    mt_tensor *t = (mt_tensor *)calloc(1, sizeof *t);
    if (!t) mt_fail(MT_ERR_OOM, "tensor: out of memory");
    return t;
}

mt_status mt_tensor_new(mt_tensor **out, mt_device dev, int ndim, const int64_t *shape) {
    int64_t n;
    MT_TRY(check_ndim(ndim, "tensor"));
    MT_TRY(mt_numel_checked(ndim, shape, &n, "tensor"));
    mt_tensor *t = tensor_alloc_struct();
    if (!t) return MT_ERR_OOM;
    mt_status st = buffer_new(&t->buf, dev, (size_t)n * sizeof(float));
    if (st != MT_OK) {
        free(t);
        return st;
    }
    t->ndim = ndim;
    for (int i = 0; i < ndim; i++) t->shape[i] = shape[i];
    mt_contiguous_strides(ndim, shape, t->stride);
    t->refcount = 1;
    *out = t;
    return MT_OK;
}

mt_status mt_tensor_full(mt_tensor **out, mt_device dev, int ndim, const int64_t *shape,
                         float value) {
    mt_tensor *t;
    MT_TRY(mt_tensor_new(&t, dev, ndim, shape));
    mt_status st = mt_backend_for(dev)->fill(t, value);
    if (st != MT_OK) {
        mt_tensor_release(t);
        return st;
    }
    *out = t;
    return MT_OK;
}

/* Checks that every element of a view lies inside the buffer. */
static mt_status check_in_buffer(const mt_buffer *b, int ndim, const int64_t *shape,
                                 const int64_t *stride, int64_t offset, const char *what) {
    int64_t lo = offset, hi = offset;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] == 0) return MT_OK; /* an empty view touches nothing */
        int64_t span = (shape[i] - 1) * stride[i];
        if (span < 0) lo += span;
        else hi += span;
    }
    if (lo < 0 || (size_t)(hi + 1) * sizeof(float) > b->nbytes)
        return mt_fail(MT_ERR_ARG, "%s: view reaches outside its buffer", what);
    return MT_OK;
}

mt_status mt_tensor_view(mt_tensor **out, const mt_tensor *src, int ndim, const int64_t *shape,
                         const int64_t *stride, int64_t offset) {
    MT_TRY(check_ndim(ndim, "view"));
    for (int i = 0; i < ndim; i++)
        if (shape[i] < 0) return mt_fail(MT_ERR_ARG, "view: negative size");
    MT_TRY(check_in_buffer(src->buf, ndim, shape, stride, offset, "view"));
    mt_tensor *t = tensor_alloc_struct();
    if (!t) return MT_ERR_OOM;
    t->ndim = ndim;
    for (int i = 0; i < ndim; i++) {
        t->shape[i] = shape[i];
        t->stride[i] = stride[i];
    }
    t->offset = offset;
    t->buf = src->buf;
    __atomic_add_fetch(&t->buf->refcount, 1, __ATOMIC_RELAXED);
    t->refcount = 1;
    *out = t;
    return MT_OK;
}

void mt_tensor_retain(mt_tensor *t) { __atomic_add_fetch(&t->refcount, 1, __ATOMIC_RELAXED); }

void mt_tensor_release(mt_tensor *t) {
    if (!t) return;
    if (__atomic_sub_fetch(&t->refcount, 1, __ATOMIC_ACQ_REL) != 0) return;
    buffer_release(t->buf);
    free(t);
}

int64_t mt_tensor_numel(const mt_tensor *t) {
    int64_t n = 1;
    for (int i = 0; i < t->ndim; i++) n *= t->shape[i];
    return n;
}

bool mt_tensor_is_contiguous(const mt_tensor *t) {
    int64_t s = 1;
    for (int i = t->ndim - 1; i >= 0; i--) {
        if (t->shape[i] != 1 && t->stride[i] != s) return false;
        s *= t->shape[i];
    }
    return true;
}

const char *mt_tensor_shape_str(const mt_tensor *t, char *buf) {
    return mt_shape_str(buf, t->ndim, t->shape);
}

bool mt_tensor_same_shape(const mt_tensor *a, const mt_tensor *b) {
    if (a->ndim != b->ndim) return false;
    for (int i = 0; i < a->ndim; i++)
        if (a->shape[i] != b->shape[i]) return false;
    return true;
}

mt_status mt_tensor_resize(mt_tensor *t, int ndim, const int64_t *shape) {
    int64_t n;
    MT_TRY(check_ndim(ndim, "resize"));
    MT_TRY(mt_numel_checked(ndim, shape, &n, "resize"));
    size_t need = (size_t)n * sizeof(float);
    if (t->offset != 0 || t->buf->nbytes < need) {
        mt_buffer *b = NULL;
        MT_TRY(buffer_new(&b, t->buf->device, need));
        buffer_release(t->buf);
        t->buf = b;
        t->offset = 0;
    }
    t->ndim = ndim;
    for (int i = 0; i < ndim; i++) t->shape[i] = shape[i];
    mt_contiguous_strides(ndim, shape, t->stride);
    return MT_OK;
}

/* ---- views ------------------------------------------------------------------------------ */

static mt_status check_dim(const mt_tensor *t, int dim, const char *what) {
    if (dim < 0 || dim >= t->ndim)
        return mt_fail(MT_ERR_ARG, "%s: dimension %d out of range for a %d-dimensional tensor",
                       what, dim + 1, t->ndim);
    return MT_OK;
}

mt_status mt_tensor_reshape(mt_tensor **out, const mt_tensor *src, int ndim,
                            const int64_t *shape) {
    char a[MT_SHAPE_STR], b[MT_SHAPE_STR];
    int64_t sh[MT_MAX_DIMS], st[MT_MAX_DIMS];
    int infer = -1;
    int64_t known = 1, total = mt_tensor_numel(src);
    MT_TRY(check_ndim(ndim, "reshape"));
    for (int i = 0; i < ndim; i++) {
        sh[i] = shape[i];
        if (shape[i] == -1) {
            if (infer >= 0) return mt_fail(MT_ERR_ARG, "reshape: more than one size is -1");
            infer = i;
        } else if (shape[i] < 0) {
            return mt_fail(MT_ERR_ARG, "reshape: negative size %lld", (long long)shape[i]);
        } else {
            known *= shape[i];
        }
    }
    if (infer >= 0) {
        if (known == 0 || total % known != 0)
            return mt_fail(MT_ERR_SHAPE, "reshape: cannot infer a size to turn %s into %s",
                           mt_tensor_shape_str(src, a), mt_shape_str(b, ndim, shape));
        sh[infer] = total / known;
        known *= sh[infer];
    }
    if (known != total)
        return mt_fail(MT_ERR_SHAPE, "reshape: %s has %lld elements, %s has %lld",
                       mt_tensor_shape_str(src, a), (long long)total,
                       mt_shape_str(b, ndim, sh), (long long)known);
    if (!mt_tensor_is_contiguous(src))
        return mt_fail(MT_ERR_ARG, "reshape: the %s tensor is not contiguous (call contiguous() "
                                   "first)", mt_tensor_shape_str(src, a));
    mt_contiguous_strides(ndim, sh, st);
    return mt_tensor_view(out, src, ndim, sh, st, src->offset);
}

mt_status mt_tensor_narrow(mt_tensor **out, const mt_tensor *src, int dim, int64_t start,
                           int64_t length) {
    MT_TRY(check_dim(src, dim, "narrow"));
    if (start < 0 || length < 0 || start + length > src->shape[dim]) {
        char s[MT_SHAPE_STR];
        return mt_fail(MT_ERR_ARG, "narrow: elements %lld..%lld of dimension %d are outside %s",
                       (long long)start + 1, (long long)(start + length), dim + 1,
                       mt_tensor_shape_str(src, s));
    }
    int64_t sh[MT_MAX_DIMS];
    memcpy(sh, src->shape, sizeof sh);
    sh[dim] = length;
    return mt_tensor_view(out, src, src->ndim, sh, src->stride,
                          src->offset + start * src->stride[dim]);
}

mt_status mt_tensor_select(mt_tensor **out, const mt_tensor *src, int dim, int64_t index) {
    MT_TRY(check_dim(src, dim, "select"));
    if (index < 0 || index >= src->shape[dim]) {
        char s[MT_SHAPE_STR];
        return mt_fail(MT_ERR_ARG, "select: index %lld out of range 1..%lld of dimension %d of %s",
                       (long long)index + 1, (long long)src->shape[dim], dim + 1,
                       mt_tensor_shape_str(src, s));
    }
    int64_t sh[MT_MAX_DIMS], st[MT_MAX_DIMS];
    int k = 0;
    for (int i = 0; i < src->ndim; i++) {
        if (i == dim) continue;
        sh[k] = src->shape[i];
        st[k] = src->stride[i];
        k++;
    }
    return mt_tensor_view(out, src, k, sh, st, src->offset + index * src->stride[dim]);
}

mt_status mt_tensor_transpose(mt_tensor **out, const mt_tensor *src, int d0, int d1) {
    MT_TRY(check_dim(src, d0, "transpose"));
    MT_TRY(check_dim(src, d1, "transpose"));
    int64_t sh[MT_MAX_DIMS], st[MT_MAX_DIMS];
    memcpy(sh, src->shape, sizeof sh);
    memcpy(st, src->stride, sizeof st);
    sh[d0] = src->shape[d1];
    sh[d1] = src->shape[d0];
    st[d0] = src->stride[d1];
    st[d1] = src->stride[d0];
    return mt_tensor_view(out, src, src->ndim, sh, st, src->offset);
}

mt_status mt_tensor_permute(mt_tensor **out, const mt_tensor *src, const int *order) {
    int64_t sh[MT_MAX_DIMS], st[MT_MAX_DIMS];
    int seen[MT_MAX_DIMS] = {0};
    for (int i = 0; i < src->ndim; i++) {
        int d = order[i];
        if (d < 0 || d >= src->ndim || seen[d])
            return mt_fail(MT_ERR_ARG, "permute: the order is not a permutation of 1..%d",
                           src->ndim);
        seen[d] = 1;
        sh[i] = src->shape[d];
        st[i] = src->stride[d];
    }
    return mt_tensor_view(out, src, src->ndim, sh, st, src->offset);
}

mt_status mt_tensor_unsqueeze(mt_tensor **out, const mt_tensor *src, int dim) {
    if (dim < 0 || dim > src->ndim)
        return mt_fail(MT_ERR_ARG, "unsqueeze: position %d out of range 1..%d", dim + 1,
                       src->ndim + 1);
    if (src->ndim >= MT_MAX_DIMS)
        return mt_fail(MT_ERR_ARG, "unsqueeze: a tensor has at most %d dimensions", MT_MAX_DIMS);
    int64_t sh[MT_MAX_DIMS], st[MT_MAX_DIMS];
    int k = 0;
    for (int i = 0; i <= src->ndim; i++) {
        if (i == dim) {
            sh[i] = 1;
            st[i] = (dim < src->ndim) ? src->stride[dim] * src->shape[dim] : 1;
            continue;
        }
        sh[i] = src->shape[k];
        st[i] = src->stride[k];
        k++;
    }
    return mt_tensor_view(out, src, src->ndim + 1, sh, st, src->offset);
}

mt_status mt_tensor_squeeze(mt_tensor **out, const mt_tensor *src, int dim) {
    if (dim >= 0) {
        MT_TRY(check_dim(src, dim, "squeeze"));
        if (src->shape[dim] != 1) {
            mt_tensor_retain((mt_tensor *)src);
            *out = (mt_tensor *)src;
            return MT_OK;
        }
    }
    int64_t sh[MT_MAX_DIMS], st[MT_MAX_DIMS];
    int k = 0;
    for (int i = 0; i < src->ndim; i++) {
        bool drop = dim < 0 ? src->shape[i] == 1 : i == dim;
        if (drop) continue;
        sh[k] = src->shape[i];
        st[k] = src->stride[i];
        k++;
    }
    return mt_tensor_view(out, src, k, sh, st, src->offset);
}

/* ---- copies ----------------------------------------------------------------------------- */

mt_status mt_tensor_clone(mt_tensor **out, const mt_tensor *src) {
    mt_tensor *t;
    MT_TRY(mt_tensor_new(&t, mt_tensor_device(src), src->ndim, src->shape));
    mt_status st = mt_backend_for(mt_tensor_device(src))->copy(t, src);
    if (st != MT_OK) {
        mt_tensor_release(t);
        return st;
    }
    *out = t;
    return MT_OK;
}

mt_status mt_tensor_contiguous(mt_tensor **out, const mt_tensor *src) {
    if (mt_tensor_is_contiguous(src)) {
        mt_tensor_retain((mt_tensor *)src);
        *out = (mt_tensor *)src;
        return MT_OK;
    }
    return mt_tensor_clone(out, src);
}

mt_status mt_tensor_to_device(mt_tensor **out, const mt_tensor *src, mt_device dev) {
    mt_device from = mt_tensor_device(src);
    if (from == dev) return mt_tensor_contiguous(out, src);
    const mt_backend *target = mt_backend_for(dev);
    if (!target) return MT_ERR_DEVICE;
    mt_tensor *c, *t;
    MT_TRY(mt_tensor_contiguous(&c, src));
    mt_status st = mt_tensor_new(&t, dev, src->ndim, src->shape);
    if (st == MT_OK) {
        size_t nbytes = (size_t)mt_tensor_numel(src) * sizeof(float);
        if (dev == MT_CPU)
            st = mt_backend_for(from)->download(mt_tensor_data(t), mt_tensor_data(c), nbytes);
        else
            st = target->upload(mt_tensor_data(t), mt_tensor_data(c), nbytes);
        if (st != MT_OK) mt_tensor_release(t);
    }
    mt_tensor_release(c);
    if (st == MT_OK) *out = t;
    return st;
}

/* ---- element access --------------------------------------------------------------------- */

static mt_status element_offset(const mt_tensor *t, const int64_t *index, int64_t *off,
                                const char *what) {
    int64_t o = t->offset;
    for (int i = 0; i < t->ndim; i++) {
        if (index[i] < 0 || index[i] >= t->shape[i]) {
            char s[MT_SHAPE_STR];
            return mt_fail(MT_ERR_ARG, "%s: index %lld out of range 1..%lld in dimension %d of %s",
                           what, (long long)index[i] + 1, (long long)t->shape[i], i + 1,
                           mt_tensor_shape_str(t, s));
        }
        o += index[i] * t->stride[i];
    }
    *off = o;
    return MT_OK;
}

mt_status mt_tensor_get(const mt_tensor *t, const int64_t *index, float *value) {
    int64_t off = 0;
    MT_TRY(element_offset(t, index, &off, "get"));
    const mt_backend *be = mt_backend_for(mt_tensor_device(t));
    if (!be) return MT_ERR_DEVICE;
    return be->download(value, (const float *)t->buf->data + off, sizeof(float));
}

mt_status mt_tensor_set(mt_tensor *t, const int64_t *index, float value) {
    int64_t off = 0;
    MT_TRY(element_offset(t, index, &off, "set"));
    const mt_backend *be = mt_backend_for(mt_tensor_device(t));
    if (!be) return MT_ERR_DEVICE;
    return be->upload((float *)t->buf->data + off, &value, sizeof(float));
}

mt_status mt_tensor_upload(mt_tensor *t, const float *src, int64_t n) {
    if (n != mt_tensor_numel(t))
        return mt_fail(MT_ERR_SHAPE, "upload: %lld values for a tensor of %lld elements",
                       (long long)n, (long long)mt_tensor_numel(t));
    mt_device dev = mt_tensor_device(t);
    const mt_backend *be = mt_backend_for(dev);
    if (!be) return MT_ERR_DEVICE;
    if (mt_tensor_is_contiguous(t))
        return be->upload(mt_tensor_data(t), src, (size_t)n * sizeof(float));
    /* strided target: stage through a contiguous tensor on the same device */
    mt_tensor *c;
    MT_TRY(mt_tensor_new(&c, dev, t->ndim, t->shape));
    mt_status st = be->upload(mt_tensor_data(c), src, (size_t)n * sizeof(float));
    if (st == MT_OK) st = be->copy(t, c);
    mt_tensor_release(c);
    return st;
}

mt_status mt_tensor_download(const mt_tensor *t, float *dst, int64_t n) {
    if (n != mt_tensor_numel(t))
        return mt_fail(MT_ERR_SHAPE, "download: room for %lld values, tensor has %lld",
                       (long long)n, (long long)mt_tensor_numel(t));
    mt_tensor *c;
    MT_TRY(mt_tensor_contiguous(&c, t));
    const mt_backend *be = mt_backend_for(mt_tensor_device(c));
    mt_status st = be ? be->download(dst, mt_tensor_data(c), (size_t)n * sizeof(float))
                      : MT_ERR_DEVICE;
    mt_tensor_release(c);
    return st;
}
