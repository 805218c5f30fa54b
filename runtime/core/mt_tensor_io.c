/* mt_tensor_io.c - saving and loading single tensors with checksums. */
#include "core/mt_tensor_io.h"

#include "core/mt_alloc.h"
#include "core/mt_file.h"
#include "core/mt_ops.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "the file formats of mtcnn are little-endian; this host is not"
#endif

static const char magic[8] = {'M', 'T', 'T', 'E', 'N', 'S', 'O', 'R'};

static void put_u32(unsigned char *p, uint32_t v) { memcpy(p, &v, 4); }
static void put_u64(unsigned char *p, uint64_t v) { memcpy(p, &v, 8); }
static uint32_t get_u32(const unsigned char *p) {
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}
static uint64_t get_u64(const unsigned char *p) {
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

mt_status mt_tensor_write_stream(const mt_tensor *t, void (*put)(const void *, size_t, void *),
                                 void *ud) {
    mt_tensor *c;
    MT_TRY(mt_tensor_to_device(&c, t, MT_CPU));
    int64_t n = mt_tensor_numel(c);
    const float *data = mt_tensor_data(c);
    unsigned char h[MT_TENSOR_HEADER_BYTES] = {0};
    memcpy(h, magic, 8);
    put_u32(h + 8, MT_TENSOR_FILE_VERSION);
    put_u32(h + 12, (uint32_t)c->ndim);
    for (int i = 0; i < c->ndim; i++) put_u64(h + 16 + 8 * i, (uint64_t)c->shape[i]);
    put_u64(h + 48, (uint64_t)n * 4u);
    put_u32(h + 56, mt_crc32c(0, data, (size_t)n * 4u));
    put_u32(h + 60, mt_crc32c(0, h, 60));
    put(h, sizeof h, ud);
    put(data, (size_t)n * 4u, ud);
    mt_tensor_release(c);
    return MT_OK;
}

typedef struct writer_ctx {
    mt_atomic_file *af;
    mt_status st;
} writer_ctx;

static void put_atomic(const void *p, size_t n, void *ud) {
    writer_ctx *w = (writer_ctx *)ud;
    if (w->st == MT_OK) w->st = mt_atomic_write(w->af, p, n);
}

mt_status mt_tensor_save(const mt_tensor *t, const char *path) {
    mt_atomic_file af;
    MT_TRY(mt_atomic_open(&af, path));
    writer_ctx w = {&af, MT_OK};
    mt_status st = mt_tensor_write_stream(t, put_atomic, &w);
    if (st == MT_OK) st = w.st;
    if (st != MT_OK) {
        mt_atomic_abort(&af);
        return st;
    }
    return mt_atomic_commit(&af);
}

mt_status mt_tensor_read_stream(mt_tensor **out, FILE *f, const char *name) {
    unsigned char h[MT_TENSOR_HEADER_BYTES];
    MT_TRY(mt_read_exact(f, h, sizeof h, name, "the tensor header"));
    if (memcmp(h, magic, 8) != 0)
        return mt_fail(MT_ERR_FORMAT, "%s: not an mtcnn tensor file (bad magic)", name);
    uint32_t version = get_u32(h + 8);
    if (version != MT_TENSOR_FILE_VERSION)
        return mt_fail(MT_ERR_FORMAT, "%s: tensor format version %u, this build reads version %d",
                       name, version, MT_TENSOR_FILE_VERSION);
    if (get_u32(h + 60) != mt_crc32c(0, h, 60))
        return mt_fail(MT_ERR_FORMAT, "%s: corrupted tensor header (checksum mismatch)", name);
    uint32_t ndim = get_u32(h + 12);
    if (ndim > MT_MAX_DIMS)
        return mt_fail(MT_ERR_FORMAT, "%s: %u dimensions in the header (at most %d)", name, ndim,
                       MT_MAX_DIMS);
    int64_t shape[MT_MAX_DIMS], n;
    for (uint32_t i = 0; i < ndim; i++) shape[i] = (int64_t)get_u64(h + 16 + 8 * i);
    if (mt_numel_checked((int)ndim, shape, &n, name) != MT_OK ||
        (uint64_t)n * 4u != get_u64(h + 48))
        return mt_fail(MT_ERR_FORMAT, "%s: inconsistent shape and size in the tensor header",
                       name);
    /* a seekable stream tells how much is left: refuse before allocating */
    long here = ftell(f);
    if (here >= 0 && fseek(f, 0, SEEK_END) == 0) {
        long end = ftell(f);
        fseek(f, here, SEEK_SET);
        if (end >= here && (uint64_t)(end - here) < (uint64_t)n * 4u)
            return mt_fail(MT_ERR_FORMAT,
                           "%s: truncated file: the tensor values need %llu bytes, only %ld left",
                           name, (unsigned long long)n * 4u, end - here);
    }
    mt_tensor *t;
    MT_TRY(mt_tensor_new(&t, MT_CPU, (int)ndim, shape));
    mt_status st = mt_read_exact(f, mt_tensor_data(t), (size_t)n * 4u, name, "the tensor values");
    if (st == MT_OK && mt_crc32c(0, mt_tensor_data(t), (size_t)n * 4u) != get_u32(h + 56))
        st = mt_fail(MT_ERR_FORMAT, "%s: corrupted tensor values (checksum mismatch)", name);
    if (st != MT_OK) {
        mt_tensor_release(t);
        return st;
    }
    *out = t;
    return MT_OK;
}

mt_status mt_tensor_load(mt_tensor **out, const char *path) {
    FILE *f;
    MT_TRY(mt_fopen_regular(path, &f));
    mt_status st = mt_tensor_read_stream(out, f, path);
    if (st == MT_OK) {
        /* trailing bytes mean the file is not what its header says */
        int extra = fgetc(f);
        if (extra != EOF) {
            mt_tensor_release(*out);
            *out = NULL;
            st = mt_fail(MT_ERR_FORMAT, "%s: unexpected bytes after the tensor values", path);
        }
    }
    fclose(f);
    return st;
}
