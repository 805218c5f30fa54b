/* mt_model_io.c - writing and checking model files (see mt_model_io.h for the layout). */
#include "nn/mt_model_io.h"

#include "core/mt_file.h"
#include "core/mt_tensor_io.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char magic[8] = {'M', 'T', 'C', 'N', 'N', 'N', 'E', 'T'};
static const char end_magic[8] = {'M', 'T', 'N', 'E', 'T', 'E', 'N', 'D'};
#define HEAD_BYTES 32
#define TRAILER_BYTES 16
#define MAX_MODEL_BYTES ((size_t)1 << 31) /* the nets are a few MB */

static void put_u32(unsigned char *p, uint32_t v) { memcpy(p, &v, 4); }
static uint32_t get_u32(const unsigned char *p) {
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}

/* The writer: every byte goes to the temporary file and into the running CRC. */
typedef struct writer {
    mt_atomic_file af;
    uint32_t crc;
    mt_status st;
} writer;

static void put(const void *p, size_t n, void *ud) {
    writer *w = (writer *)ud;
    if (w->st != MT_OK) return;
    w->crc = mt_crc32c(w->crc, p, n);
    w->st = mt_atomic_write(&w->af, p, n);
}

mt_status mt_model_save(const char *path, const char *header, size_t len, int n,
                        const mt_tensor *const *tensors) {
    if (len > 0x7fffffffu || n < 0)
        return mt_fail(MT_ERR_ARG, "%s: model header or tensor count too large", path);
    writer w = {.crc = 0, .st = MT_OK};
    MT_TRY(mt_atomic_open(&w.af, path));
    unsigned char h[HEAD_BYTES] = {0};
    memcpy(h, magic, 8);
    put_u32(h + 8, MT_MODEL_FILE_VERSION);
    put_u32(h + 12, (uint32_t)len);
    put_u32(h + 16, (uint32_t)n);
    put_u32(h + 20, mt_crc32c(0, header, len));
    put_u32(h + 24, mt_crc32c(0, h, 24));
    put(h, sizeof h, &w);
    put(header, len, &w);
    for (int i = 0; i < n && w.st == MT_OK; i++) {
        mt_status st = mt_tensor_write_stream(tensors[i], put, &w);
        if (st != MT_OK) w.st = st;
    }
    if (w.st == MT_OK) {
        unsigned char t[TRAILER_BYTES] = {0};
        memcpy(t, end_magic, 8);
        put_u32(t + 8, w.crc);
        mt_status st = mt_atomic_write(&w.af, t, sizeof t);
        if (st != MT_OK) w.st = st;
    }
    if (w.st != MT_OK) {
        mt_atomic_abort(&w.af);
        return w.st;
    }
    return mt_atomic_commit(&w.af);
}

void mt_model_free(char *header, int n, mt_tensor **tensors) {
    free(header);
    if (tensors)
        for (int i = 0; i < n; i++) mt_tensor_release(tensors[i]);
    free(tensors);
}

static mt_status parse(const char *path, const unsigned char *d, size_t size, char **header,
                       size_t *len, int *count, mt_tensor ***tensors) {
    if (size < 8 || memcmp(d, magic, 8) != 0)
        return mt_fail(MT_ERR_FORMAT, "%s: not an mtcnn model file (bad magic)", path);
    if (size < HEAD_BYTES)
        return mt_fail(MT_ERR_FORMAT, "%s: truncated file: the %d-byte header is incomplete", path,
                       HEAD_BYTES);
    uint32_t version = get_u32(d + 8);
    if (get_u32(d + 24) != mt_crc32c(0, d, 24))
        return mt_fail(MT_ERR_FORMAT, "%s: corrupted model header (checksum mismatch)", path);
    if (version != MT_MODEL_FILE_VERSION)
        return mt_fail(MT_ERR_FORMAT, "%s: model format version %u, this build reads version %d",
                       path, version, MT_MODEL_FILE_VERSION);
    size_t hlen = get_u32(d + 12);
    uint32_t n = get_u32(d + 16);
    if (size < HEAD_BYTES + hlen)
        return mt_fail(MT_ERR_FORMAT, "%s: truncated file: the model description needs %zu bytes, "
                                      "only %zu left", path, hlen, size - HEAD_BYTES);
    if (get_u32(d + 20) != mt_crc32c(0, d + HEAD_BYTES, hlen))
        return mt_fail(MT_ERR_FORMAT, "%s: corrupted model description (checksum mismatch)",
                       path);
    if (size < HEAD_BYTES + hlen + TRAILER_BYTES ||
        memcmp(d + size - TRAILER_BYTES, end_magic, 8) != 0)
        return mt_fail(MT_ERR_FORMAT, "%s: truncated file: the end marker is missing", path);
    if (get_u32(d + size - TRAILER_BYTES + 8) != mt_crc32c(0, d, size - TRAILER_BYTES))
        return mt_fail(MT_ERR_FORMAT, "%s: corrupted model file (checksum mismatch)", path);
    if (n > 100000) return mt_fail(MT_ERR_FORMAT, "%s: implausible tensor count %u", path, n);

    /* the tensor records, through a stream over the bytes between header and trailer */
    size_t body = size - TRAILER_BYTES - HEAD_BYTES - hlen;
    FILE *f = body ? fmemopen((void *)(d + HEAD_BYTES + hlen), body, "rb") : NULL;
    if (body && !f) return mt_fail(MT_ERR_IO, "%s: cannot read the tensors: %s", path, strerror(errno));
    char *h = (char *)malloc(hlen + 1);
    mt_tensor **ts = (mt_tensor **)calloc(n ? n : 1, sizeof *ts);
    mt_status st = MT_OK;
    if (!h || !ts) st = mt_fail(MT_ERR_OOM, "%s: out of memory", path);
    char name[512];
    for (uint32_t i = 0; i < n && st == MT_OK; i++) {
        snprintf(name, sizeof name, "%s: tensor %u of %u", path, i + 1, n);
        if (!f) st = mt_fail(MT_ERR_FORMAT, "%s: missing", name);
        else st = mt_tensor_read_stream(&ts[i], f, name);
    }
    if (st == MT_OK && f && fgetc(f) != EOF)
        st = mt_fail(MT_ERR_FORMAT, "%s: unexpected bytes after the last tensor", path);
    if (f) fclose(f);
    if (st != MT_OK) {
        mt_model_free(h, (int)n, ts);
        return st;
    }
    memcpy(h, d + HEAD_BYTES, hlen);
    h[hlen] = '\0';
    *header = h;
    *len = hlen;
    *count = (int)n;
    *tensors = ts;
    return MT_OK;
}

mt_status mt_model_load(const char *path, char **header, size_t *len, int *n,
                        mt_tensor ***tensors) {
    uint8_t *d = NULL;
    size_t size = 0;
    MT_TRY(mt_read_file(path, &d, &size, MAX_MODEL_BYTES));
    mt_status st = parse(path, d, size, header, len, n, tensors);
    free(d);
    return st;
}
