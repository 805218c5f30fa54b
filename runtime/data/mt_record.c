/* mt_record.c - record files: header copies, checked blocks, the mapped reader and the
 * appending writer with its two-step commit (see mt_record.h for the layout). */
#include "data/mt_record.h"

#include "core/mt_file.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "record files are read and written in the host's byte order, which must be little-endian"
#endif

static const char MAGIC[8] = {'M', 'T', 'C', 'N', 'N', 'R', 'E', 'C'};
#define SLOT_OFFSET(k) ((off_t)(k) * 512)
#define MAX_BLOCK_SAMPLES (1 << 20)

int mt_record_class_of(int label) {
    switch (label) {
    case 1: return MT_CLASS_POSITIVE;
    case 0: return MT_CLASS_NEGATIVE;
    case -1: return MT_CLASS_PART;
    case -2: return MT_CLASS_LANDMARK;
    default: return -1;
    }
}

int mt_record_label_of(int cls) {
    static const int labels[MT_NUM_CLASSES] = {1, 0, -1, -2};
    return cls >= 0 && cls < MT_NUM_CLASSES ? labels[cls] : 0;
}

void mt_record_set_source(mt_record_sample *s, const char *src) {
    size_t n = strlen(src);
    if (n > MT_RECORD_SOURCE_BYTES) {
        memcpy(s->source, "...", 3);
        memcpy(s->source + 3, src + n - (MT_RECORD_SOURCE_BYTES - 3), MT_RECORD_SOURCE_BYTES - 3);
        s->source[MT_RECORD_SOURCE_BYTES] = '\0';
        return;
    }
    memcpy(s->source, src, n + 1);
}

/* ---- header ------------------------------------------------------------------------------ */

typedef struct header {
    uint32_t version, data_offset, size, record_bytes, block_samples, flags;
    uint64_t sequence, count, class_count[MT_NUM_CLASSES];
    uint32_t tail_crc;
} header;

static void put32(uint8_t *p, uint32_t v) { memcpy(p, &v, 4); }
static void put64(uint8_t *p, uint64_t v) { memcpy(p, &v, 8); }
static uint32_t get32(const uint8_t *p) {
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}
static uint64_t get64(const uint8_t *p) {
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

static void encode_header(const header *h, uint8_t slot[MT_RECORD_SLOT_BYTES]) {
    memset(slot, 0, MT_RECORD_SLOT_BYTES);
    memcpy(slot, MAGIC, 8);
    put32(slot + 8, h->version);
    put32(slot + 12, h->data_offset);
    put32(slot + 16, h->size);
    put32(slot + 20, h->record_bytes);
    put32(slot + 24, h->block_samples);
    put32(slot + 28, h->flags);
    put64(slot + 32, h->sequence);
    put64(slot + 40, h->count);
    for (int k = 0; k < MT_NUM_CLASSES; k++) put64(slot + 48 + 8 * k, h->class_count[k]);
    put32(slot + 80, h->tail_crc);
    put32(slot + 124, mt_crc32c(0, slot, 124));
}

/* 0: valid; 1: no magic; 2: checksum fails; 3: other version (h->version set) */
static int decode_header(const uint8_t slot[MT_RECORD_SLOT_BYTES], header *h) {
    if (memcmp(slot, MAGIC, 8) != 0) return 1;
    h->version = get32(slot + 8);
    if (mt_crc32c(0, slot, 124) != get32(slot + 124)) return h->version != MT_RECORD_VERSION ? 3 : 2;
    if (h->version != MT_RECORD_VERSION) return 3;
    h->data_offset = get32(slot + 12);
    h->size = get32(slot + 16);
    h->record_bytes = get32(slot + 20);
    h->block_samples = get32(slot + 24);
    h->flags = get32(slot + 28);
    h->sequence = get64(slot + 32);
    h->count = get64(slot + 40);
    for (int k = 0; k < MT_NUM_CLASSES; k++) h->class_count[k] = get64(slot + 48 + 8 * k);
    h->tail_crc = get32(slot + 80);
    return 0;
}

static size_t block_stride(size_t record_bytes, int64_t block_samples) {
    return (size_t)block_samples * record_bytes + 8;
}

/* File offset just past committed sample count (its block's trailer when full). */
static uint64_t committed_end(size_t record_bytes, int64_t block_samples, int64_t count) {
    uint64_t full = (uint64_t)(count / block_samples), rem = (uint64_t)(count % block_samples);
    return MT_RECORD_DATA_OFFSET + full * block_stride(record_bytes, block_samples) +
           rem * record_bytes;
}

static mt_status pread_all(int fd, void *dst, size_t n, off_t off, size_t *got) {
    size_t done = 0;
    while (done < n) {
        ssize_t r = pread(fd, (char *)dst + done, n - done, off + (off_t)done);
        if (r < 0) {
            if (errno == EINTR) continue;
            return MT_ERR_IO;
        }
        if (r == 0) break;
        done += (size_t)r;
    }
    *got = done;
    return MT_OK;
}

static mt_status pwrite_all(int fd, const void *src, size_t n, off_t off) {
    size_t done = 0;
    while (done < n) {
        ssize_t r = pwrite(fd, (const char *)src + done, n - done, off + (off_t)done);
        if (r < 0) {
            if (errno == EINTR) continue;
            return MT_ERR_IO;
        }
        done += (size_t)r;
    }
    return MT_OK;
}

/* 1 when a slot holds only zero bytes (never written: a new file's second copy). */
static int blank_slot(const uint8_t *slot) {
    for (int i = 0; i < MT_RECORD_SLOT_BYTES; i++)
        if (slot[i]) return 0;
    return 1;
}

/* Reads and checks the header of an open file: the valid copy with the larger
 * sequence, then the consistency of its fields. *active: its slot; *damaged: the other
 * slot when it holds something that is not a valid header (a blank one is not damaged),
 * else -1. */
static mt_status read_header(int fd, const char *path, header *h, int *active, int *damaged) {
    uint8_t slots[2][MT_RECORD_SLOT_BYTES];
    int code[2];
    header hs[2];
    for (int k = 0; k < 2; k++) {
        size_t got;
        if (pread_all(fd, slots[k], MT_RECORD_SLOT_BYTES, SLOT_OFFSET(k), &got) != MT_OK)
            return mt_fail(MT_ERR_IO, "%s: read error: %s", path, strerror(errno));
        if (got < MT_RECORD_SLOT_BYTES) {
            if (k == 0 && (got < 8 || memcmp(slots[0], MAGIC, 8) != 0))
                return mt_fail(MT_ERR_FORMAT, "%s: not a record file (no MTCNNREC magic)", path);
            return mt_fail(MT_ERR_FORMAT, "%s: truncated file: the header needs %d bytes, the file "
                           "has %zu", path, MT_RECORD_DATA_OFFSET, (size_t)(k * 512) + got);
        }
        memset(&hs[k], 0, sizeof hs[k]);
        code[k] = decode_header(slots[k], &hs[k]);
    }
    int best = -1;
    for (int k = 0; k < 2; k++)
        if (code[k] == 0 && (best < 0 || hs[k].sequence > hs[best].sequence)) best = k;
    if (best < 0) {
        if (code[0] == 1 && code[1] == 1)
            return mt_fail(MT_ERR_FORMAT, "%s: not a record file (no MTCNNREC magic)", path);
        for (int k = 0; k < 2; k++)
            if (code[k] == 3)
                return mt_fail(MT_ERR_FORMAT, "%s: record format version %u is not supported "
                               "(this build reads version %d)", path, hs[k].version,
                               MT_RECORD_VERSION);
        return mt_fail(MT_ERR_FORMAT, "%s: both header copies fail their checksum: the file is "
                       "damaged", path);
    }
    *h = hs[best];
    *active = best;
    *damaged = code[1 - best] != 0 && !blank_slot(slots[1 - best]) ? 1 - best : -1;
    if (h->data_offset != MT_RECORD_DATA_OFFSET)
        return mt_fail(MT_ERR_FORMAT, "%s: bad header: data offset %u (expected %d)", path,
                       h->data_offset, MT_RECORD_DATA_OFFSET);
    if (h->size < 1 || h->size > MT_RECORD_MAX_SIZE)
        return mt_fail(MT_ERR_FORMAT, "%s: bad header: sample side %u", path, h->size);
    if (h->record_bytes != mt_record_bytes((int)h->size))
        return mt_fail(MT_ERR_FORMAT, "%s: bad header: %u bytes per record, %zu expected for %ux%u "
                       "samples", path, h->record_bytes, mt_record_bytes((int)h->size), h->size,
                       h->size);
    if (h->block_samples < 1 || h->block_samples > MAX_BLOCK_SAMPLES)
        return mt_fail(MT_ERR_FORMAT, "%s: bad header: %u samples per block", path,
                       h->block_samples);
    /* each count at most the total, so that their sum cannot wrap around */
    uint64_t sum = 0;
    int sane = h->count <= ((uint64_t)1 << 40);
    for (int k = 0; k < MT_NUM_CLASSES; k++) {
        sane = sane && h->class_count[k] <= h->count;
        sum += sane ? h->class_count[k] : 0;
    }
    if (!sane || sum != h->count)
        return mt_fail(MT_ERR_FORMAT, "%s: bad header: %" PRIu64 " samples but class counts %"
                       PRIu64 ", %" PRIu64 ", %" PRIu64 ", %" PRIu64, path, h->count,
                       h->class_count[0], h->class_count[1], h->class_count[2],
                       h->class_count[3]);
    return MT_OK;
}

/* The error for a file of len bytes shorter than its committed end. */
static mt_status truncated_error(const char *path, const header *h, uint64_t len) {
    size_t R = h->record_bytes;
    int64_t B = h->block_samples;
    if (len < MT_RECORD_DATA_OFFSET)
        return mt_fail(MT_ERR_FORMAT, "%s: truncated file: the header region needs %d bytes, the "
                       "file has %" PRIu64, path, MT_RECORD_DATA_OFFSET, len);
    size_t stride = block_stride(R, B);
    uint64_t data = len > MT_RECORD_DATA_OFFSET ? len - MT_RECORD_DATA_OFFSET : 0;
    int64_t b = (int64_t)(data / stride);
    uint64_t in = data % stride;
    int64_t sample = b * B + (int64_t)(in / R);
    if (in >= (uint64_t)B * R)
        return mt_fail(MT_ERR_FORMAT, "%s: truncated file: the header commits %" PRIu64
                       " samples but the file ends inside the checksum of block %" PRId64
                       " (samples %" PRId64 "..%" PRId64 ")", path, h->count, b, b * B,
                       b * B + B - 1);
    return mt_fail(MT_ERR_FORMAT, "%s: truncated file: the header commits %" PRIu64 " samples "
                   "but the file ends inside sample %" PRId64 " (block %" PRId64 ")", path,
                   h->count, sample, b);
}

/* ---- reading ----------------------------------------------------------------------------- */

static char *dup_string(const char *s) {
    size_t n = strlen(s);
    char *d = (char *)malloc(n + 1);
    if (d) memcpy(d, s, n + 1);
    return d;
}

mt_status mt_record_open(mt_record_file **out, const char *path, int expect_size) {
    *out = NULL;
    int fd;
    MT_TRY(mt_open_regular(path, 0, &fd));
    header h;
    int active, damaged;
    mt_status st = read_header(fd, path, &h, &active, &damaged);
    if (st != MT_OK) {
        close(fd);
        return st;
    }
    if (expect_size > 0 && (int)h.size != expect_size) {
        close(fd);
        return mt_fail(MT_ERR_FORMAT, "%s: holds %ux%u samples, expected %dx%d", path, h.size,
                       h.size, expect_size, expect_size);
    }
    struct stat sb;
    if (fstat(fd, &sb) != 0) {
        st = mt_fail(MT_ERR_IO, "%s: cannot stat: %s", path, strerror(errno));
        close(fd);
        return st;
    }
    uint64_t end = committed_end(h.record_bytes, h.block_samples, (int64_t)h.count);
    if ((uint64_t)sb.st_size < end) {
        st = truncated_error(path, &h, (uint64_t)sb.st_size);
        close(fd);
        return st;
    }
    mt_record_file *f = (mt_record_file *)calloc(1, sizeof *f);
    if (!f) {
        close(fd);
        return mt_fail(MT_ERR_OOM, "%s: out of memory", path);
    }
    f->refcount = 1;
    f->fd = fd;
    f->damaged_copy = damaged;
    f->extra_bytes = (uint64_t)sb.st_size - end;
    f->version = (int)h.version;
    f->size = (int)h.size;
    f->record_bytes = h.record_bytes;
    f->block_samples = h.block_samples;
    f->count = (int64_t)h.count;
    for (int k = 0; k < MT_NUM_CLASSES; k++) f->class_count[k] = (int64_t)h.class_count[k];
    f->sequence = h.sequence;
    f->tail_crc = h.tail_crc;
    f->nblocks = (f->count + f->block_samples - 1) / f->block_samples;
    f->path = dup_string(path);
    f->block_state = (uint8_t *)calloc((size_t)f->nblocks + 1, 1);
    if (!f->path || !f->block_state) {
        mt_record_file_release(f);
        return mt_fail(MT_ERR_OOM, "%s: out of memory", path);
    }
    void *map = mmap(NULL, (size_t)end, PROT_READ, MAP_SHARED, fd, 0);
    if (map == MAP_FAILED) {
        st = mt_fail(MT_ERR_IO, "%s: cannot map %" PRIu64 " bytes: %s", path, end, strerror(errno));
        mt_record_file_release(f);
        return st;
    }
    f->map = (const uint8_t *)map;
    f->map_bytes = (size_t)end;
    *out = f;
    return MT_OK;
}

void mt_record_file_retain(mt_record_file *f) { __atomic_add_fetch(&f->refcount, 1, __ATOMIC_RELAXED); }

void mt_record_file_release(mt_record_file *f) {
    if (!f || __atomic_sub_fetch(&f->refcount, 1, __ATOMIC_ACQ_REL) != 0) return;
    if (f->map) munmap((void *)f->map, f->map_bytes);
    if (f->fd >= 0) close(f->fd);
    free(f->block_state);
    free(f->path);
    free(f);
}

void mt_record_block_range(const mt_record_file *f, int64_t b, int64_t *first, int64_t *last) {
    *first = b * f->block_samples;
    int64_t l = *first + f->block_samples - 1;
    *last = l < f->count - 1 ? l : f->count - 1;
}

/* 1 when block b matches its checksum (computed now). */
static int block_good(const mt_record_file *f, int64_t b) {
    int64_t first, last;
    mt_record_block_range(f, b, &first, &last);
    int64_t n = last - first + 1;
    const uint8_t *p = mt_record_ptr(f, first);
    uint8_t idx[4];
    put32(idx, (uint32_t)b);
    uint32_t crc = mt_crc32c(0, idx, 4);
    crc = mt_crc32c(crc, p, (size_t)n * f->record_bytes);
    if (n == f->block_samples) {
        const uint8_t *trailer = p + (size_t)n * f->record_bytes;
        return crc == get32(trailer) && get32(trailer + 4) == (uint32_t)b;
    }
    return crc == f->tail_crc;
}

static mt_status bad_block_error(const mt_record_file *f, int64_t i, int64_t b) {
    int64_t first, last;
    mt_record_block_range(f, b, &first, &last);
    return mt_fail(MT_ERR_FORMAT, "%s: sample %" PRId64 " lies in block %" PRId64 " (samples %"
                   PRId64 "..%" PRId64 "), which fails its checksum: the file is damaged (mtcnn "
                   "scripts/records.lua verify lists every bad block)", f->path, i, b, first, last);
}

mt_status mt_record_check(mt_record_file *f, int64_t i) {
    if (i < 0 || i >= f->count)
        return mt_fail(MT_ERR_ARG, "%s: sample %" PRId64 " out of range (%" PRId64 " samples)",
                       f->path, i, f->count);
    int64_t b = i / f->block_samples;
    uint8_t state = __atomic_load_n(&f->block_state[b], __ATOMIC_ACQUIRE);
    if (state == 0) {
        /* two threads may both compute it; they store the same answer */
        state = block_good(f, b) ? 1 : 2;
        __atomic_store_n(&f->block_state[b], state, __ATOMIC_RELEASE);
    }
    return state == 1 ? MT_OK : bad_block_error(f, i, b);
}

void mt_record_decode(const uint8_t *rec, int size, mt_record_sample *s) {
    size_t P = (size_t)size * (size_t)size * 3u;
    const uint8_t *e = rec + P;
    s->pixels = rec;
    s->label = (int)(int8_t)e[0];
    s->aug = e[1];
    memcpy(s->target, e + 4, 16);
    memcpy(s->landmark, e + 20, 40);
    memcpy(s->box, e + 60, 16);
    memcpy(&s->iou, e + 76, 4);
    memcpy(&s->face, e + 80, 4);
    memcpy(s->source, e + 84, MT_RECORD_SOURCE_BYTES);
    s->source[MT_RECORD_SOURCE_BYTES] = '\0';
}

mt_status mt_record_read(mt_record_file *f, int64_t i, mt_record_sample *s) {
    MT_TRY(mt_record_check(f, i));
    mt_record_decode(mt_record_ptr(f, i), f->size, s);
    return MT_OK;
}

mt_status mt_record_verify(mt_record_file *f, int64_t *bad, int64_t max, int64_t *nbad,
                           int64_t labels[MT_NUM_CLASSES + 1]) {
    *nbad = 0;
    if (labels) memset(labels, 0, (MT_NUM_CLASSES + 1) * sizeof *labels);
    for (int64_t b = 0; b < f->nblocks; b++) {
        int good = block_good(f, b);
        __atomic_store_n(&f->block_state[b], (uint8_t)(good ? 1 : 2), __ATOMIC_RELEASE);
        if (!good) {
            if (bad && *nbad < max) bad[*nbad] = b;
            (*nbad)++;
        } else if (labels) {
            int64_t first, last;
            mt_record_block_range(f, b, &first, &last);
            for (int64_t i = first; i <= last; i++) {
                int c = mt_record_class_of(mt_record_label_at(mt_record_ptr(f, i), f->size));
                labels[c < 0 ? MT_NUM_CLASSES : c]++;
            }
        }
    }
    return MT_OK;
}

/* ---- writing ----------------------------------------------------------------------------- */

#define WRITE_BUFFER (1u << 20)

struct mt_record_writer {
    char *path; /* final name */
    char *work; /* the file written: path, or a temporary name in replace mode */
    int fd;
    int replace;
    int size;
    size_t record_bytes;
    int64_t block_samples;
    int64_t committed, count;
    int64_t class_committed[MT_NUM_CLASSES], class_count[MT_NUM_CLASSES];
    uint64_t sequence;
    int active;   /* slot of the committed header */
    uint32_t crc; /* running CRC of the current block (index prefix included) */
    uint8_t *rec; /* one record being encoded */
    uint8_t *buf; /* appended bytes not yet written, starting at file offset buf_off */
    size_t buf_len;
    uint64_t buf_off;
    int broken; /* a write failed: the file keeps its last commit, w refuses more */
};

static mt_status io_error(mt_record_writer *w, const char *what) {
    w->broken = 1;
    return mt_fail(MT_ERR_IO, "%s: %s failed: %s", w->path, what, strerror(errno));
}

static mt_status flush_buffer(mt_record_writer *w) {
    if (w->buf_len == 0) return MT_OK;
    if (pwrite_all(w->fd, w->buf, w->buf_len, (off_t)w->buf_off) != MT_OK) return io_error(w, "write");
    w->buf_off += w->buf_len;
    w->buf_len = 0;
    return MT_OK;
}

static mt_status buffer_bytes(mt_record_writer *w, const void *p, size_t n) {
    while (n > 0) {
        size_t room = WRITE_BUFFER - w->buf_len;
        size_t k = n < room ? n : room;
        memcpy(w->buf + w->buf_len, p, k);
        w->buf_len += k;
        p = (const uint8_t *)p + k;
        n -= k;
        if (w->buf_len == WRITE_BUFFER) MT_TRY(flush_buffer(w));
    }
    return MT_OK;
}

static void fill_header(const mt_record_writer *w, header *h, uint64_t sequence) {
    memset(h, 0, sizeof *h);
    h->version = MT_RECORD_VERSION;
    h->data_offset = MT_RECORD_DATA_OFFSET;
    h->size = (uint32_t)w->size;
    h->record_bytes = (uint32_t)w->record_bytes;
    h->block_samples = (uint32_t)w->block_samples;
    h->sequence = sequence;
    h->count = (uint64_t)w->count;
    for (int k = 0; k < MT_NUM_CLASSES; k++) h->class_count[k] = (uint64_t)w->class_count[k];
    h->tail_crc = w->count % w->block_samples ? w->crc : 0;
}

/* Creates the file `name` (a temporary name) holding an empty committed header (slot 0,
 * sequence 1). */
static mt_status create_empty(mt_record_writer *w, const char *name) {
    /* a new file: nothing at the temporary name is written through (O_EXCL follows no link) */
    unlink(name);
    w->fd = open(name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (w->fd < 0) return mt_fail(MT_ERR_IO, "%s: cannot create: %s", w->path, strerror(errno));
    if (flock(w->fd, LOCK_EX | LOCK_NB) != 0)
        return mt_fail(MT_ERR_IO, "%s: cannot lock: %s", w->path, strerror(errno));
    uint8_t *region = (uint8_t *)calloc(1, MT_RECORD_DATA_OFFSET);
    if (!region) return mt_fail(MT_ERR_OOM, "%s: out of memory", w->path);
    header h;
    fill_header(w, &h, 1);
    encode_header(&h, region);
    mt_status st = pwrite_all(w->fd, region, MT_RECORD_DATA_OFFSET, 0);
    free(region);
    if (st != MT_OK || fsync(w->fd) != 0) return io_error(w, "writing the header");
    w->sequence = 1;
    w->active = 0;
    w->buf_off = MT_RECORD_DATA_OFFSET;
    return MT_OK;
}


/* File offset of sample i. */
static uint64_t sample_offset(const header *h, int64_t i) {
    return MT_RECORD_DATA_OFFSET + (uint64_t)(i / h->block_samples) *
           block_stride(h->record_bytes, h->block_samples) +
           (uint64_t)(i % h->block_samples) * h->record_bytes;
}

/* Adds sign times the classes of samples [first, last) of the file to counts. */
static mt_status count_labels(int fd, const char *path, const header *h, int64_t first,
                              int64_t last, int sign, int64_t *counts) {
    size_t P = (size_t)h->size * h->size * 3u;
    for (int64_t i = first; i < last; i++) {
        int8_t label;
        size_t got = 0;
        if (pread_all(fd, &label, 1, (off_t)(sample_offset(h, i) + P), &got) != MT_OK || got != 1)
            return mt_fail(MT_ERR_IO, "%s: read error: %s", path, strerror(errno));
        int cls = mt_record_class_of(label);
        if (cls < 0)
            return mt_fail(MT_ERR_FORMAT, "%s: sample %" PRId64 " has label %d: the file is "
                           "damaged", path, i, label);
        counts[cls] += sign;
    }
    return MT_OK;
}

/* Rolls the committed file open in w back to its first keep samples (keep < h->count):
 * checks the block that will become partial, recomputes its CRC and the class counts,
 * and commits a header saying so. h is updated to the new commit; the caller cuts the
 * tail. */
static mt_status roll_back(mt_record_writer *w, header *h, int64_t keep) {
    int64_t B = h->block_samples, count = (int64_t)h->count;
    size_t R = h->record_bytes;
    int64_t b = keep / B, rem = keep % B;
    uint32_t tail = 0;
    if (rem > 0) {
        /* the block keeps rem of its n samples: it must be intact before it is re-sealed */
        int64_t n = count - b * B < B ? count - b * B : B;
        size_t bytes = (size_t)n * R + (n == B ? 8 : 0);
        uint8_t *blk = (uint8_t *)malloc(bytes);
        if (!blk) return mt_fail(MT_ERR_OOM, "%s: out of memory", w->path);
        size_t got = 0;
        mt_status st = pread_all(w->fd, blk, bytes, (off_t)sample_offset(h, b * B), &got);
        if (st != MT_OK || got != bytes) {
            free(blk);
            return mt_fail(MT_ERR_IO, "%s: read error: %s", w->path, strerror(errno));
        }
        uint8_t idx[4];
        put32(idx, (uint32_t)b);
        tail = mt_crc32c(mt_crc32c(0, idx, 4), blk, (size_t)rem * R);
        uint32_t whole = mt_crc32c(tail, blk + (size_t)rem * R, (size_t)(n - rem) * R);
        int good = n == B ? whole == get32(blk + (size_t)n * R) &&
                                get32(blk + (size_t)n * R + 4) == (uint32_t)b
                          : whole == h->tail_crc;
        free(blk);
        if (!good)
            return mt_fail(MT_ERR_FORMAT, "%s: block %" PRId64 " (samples %" PRId64 "..%" PRId64
                           ") fails its checksum: cannot roll back a damaged file to %" PRId64
                           " samples", w->path, b, b * B, b * B + n - 1, keep);
    }
    /* count the shorter side: the samples dropped (usually few) or those kept */
    int64_t counts[MT_NUM_CLASSES] = {0, 0, 0, 0};
    if (count - keep <= keep) {
        for (int k = 0; k < MT_NUM_CLASSES; k++) counts[k] = (int64_t)h->class_count[k];
        MT_TRY(count_labels(w->fd, w->path, h, keep, count, -1, counts));
    } else {
        MT_TRY(count_labels(w->fd, w->path, h, 0, keep, 1, counts));
    }
    for (int k = 0; k < MT_NUM_CLASSES; k++)
        if (counts[k] < 0)
            return mt_fail(MT_ERR_FORMAT, "%s: the labels of the samples disagree with the "
                           "header's class counts: the file is damaged", w->path);
    header nh = *h;
    nh.sequence = h->sequence + 1;
    nh.count = (uint64_t)keep;
    for (int k = 0; k < MT_NUM_CLASSES; k++) nh.class_count[k] = (uint64_t)counts[k];
    nh.tail_crc = tail;
    uint8_t slot[MT_RECORD_SLOT_BYTES];
    encode_header(&nh, slot);
    int next = 1 - w->active;
    if (pwrite_all(w->fd, slot, sizeof slot, SLOT_OFFSET(next)) != MT_OK || fsync(w->fd) != 0)
        return io_error(w, "writing the header");
    w->active = next;
    *h = nh;
    return MT_OK;
}

/* Opens the existing file at w->path for appending: header, lock, the partial
 * block's checksum, then cuts the uncommitted tail. */
static mt_status open_existing(mt_record_writer *w, int want_size, int rollback, int64_t keep) {
    MT_TRY(mt_open_regular(w->path, 1, &w->fd));
    if (flock(w->fd, LOCK_EX | LOCK_NB) != 0) {
        if (errno == EWOULDBLOCK)
            return mt_fail(MT_ERR_IO, "%s: another writer has the file open", w->path);
        return mt_fail(MT_ERR_IO, "%s: cannot lock: %s", w->path, strerror(errno));
    }
    header h;
    int damaged;
    MT_TRY(read_header(w->fd, w->path, &h, &w->active, &damaged));
    if (want_size > 0 && (int)h.size != want_size)
        return mt_fail(MT_ERR_FORMAT, "%s: holds %ux%u samples, cannot append %dx%d ones", w->path,
                       h.size, h.size, want_size, want_size);
    if (rollback && (uint64_t)keep > h.count)
        return mt_fail(MT_ERR_FORMAT, "%s: cannot keep %" PRId64 " samples: the file commits only %"
                       PRIu64, w->path, keep, h.count);
    if (rollback && (uint64_t)keep < h.count) {
        struct stat rb;
        if (fstat(w->fd, &rb) != 0)
            return mt_fail(MT_ERR_IO, "%s: cannot stat: %s", w->path, strerror(errno));
        uint64_t end = committed_end(h.record_bytes, h.block_samples, (int64_t)h.count);
        if ((uint64_t)rb.st_size < end) return truncated_error(w->path, &h, (uint64_t)rb.st_size);
        MT_TRY(roll_back(w, &h, keep));
    }
    w->size = (int)h.size;
    w->record_bytes = h.record_bytes;
    w->block_samples = h.block_samples;
    w->count = w->committed = (int64_t)h.count;
    for (int k = 0; k < MT_NUM_CLASSES; k++)
        w->class_count[k] = w->class_committed[k] = (int64_t)h.class_count[k];
    w->sequence = h.sequence;
    uint64_t end = committed_end(w->record_bytes, w->block_samples, w->count);
    struct stat sb;
    if (fstat(w->fd, &sb) != 0) return mt_fail(MT_ERR_IO, "%s: cannot stat: %s", w->path, strerror(errno));
    if ((uint64_t)sb.st_size < end) return truncated_error(w->path, &h, (uint64_t)sb.st_size);
    /* Bytes after the commit are an interrupted writer's, to be cut, only when the latest
     * commit is known: with a damaged header copy they may be samples that copy committed. */
    if (damaged >= 0 && !rollback && (uint64_t)sb.st_size > end)
        return mt_fail(MT_ERR_FORMAT, "%s: header copy %d is damaged and %" PRIu64 " bytes follow "
                       "the commit of the other (%" PRId64 " samples): they may hold committed "
                       "samples, so the file is left as it is (records.lua verify describes it; "
                       "a writer with an explicit keep count may roll it back)", w->path,
                       damaged, (uint64_t)sb.st_size - end, w->count);
    int64_t rem = w->count % w->block_samples;
    if (rem > 0) {
        /* the partial block is extended: its committed part must be intact */
        int64_t b = w->count / w->block_samples;
        size_t n = (size_t)rem * w->record_bytes;
        uint8_t *tmp = (uint8_t *)malloc(n);
        if (!tmp) return mt_fail(MT_ERR_OOM, "%s: out of memory", w->path);
        size_t got = 0;
        off_t off = (off_t)(end - n);
        mt_status st = pread_all(w->fd, tmp, n, off, &got);
        uint8_t idx[4];
        put32(idx, (uint32_t)b);
        uint32_t crc = mt_crc32c(mt_crc32c(0, idx, 4), tmp, got);
        free(tmp);
        if (st != MT_OK) return mt_fail(MT_ERR_IO, "%s: read error: %s", w->path, strerror(errno));
        if (crc != h.tail_crc)
            return mt_fail(MT_ERR_FORMAT, "%s: the last block (samples %" PRId64 "..%" PRId64 ") fails "
                           "its checksum: cannot append to a damaged file", w->path,
                           b * w->block_samples, w->count - 1);
        w->crc = crc;
    }
    if ((uint64_t)sb.st_size > end && ftruncate(w->fd, (off_t)end) != 0)
        return io_error(w, "cutting the uncommitted tail");
    w->buf_off = end;
    return MT_OK;
}

mt_status mt_record_writer_open(mt_record_writer **out, const char *path,
                                const mt_record_writer_opts *opts) {
    *out = NULL;
    mt_record_writer_opts o = {0, 0, 0, 0, 0};
    if (opts) o = *opts;
    if (o.rollback && (o.keep < 0 || o.replace))
        return mt_fail(MT_ERR_ARG, "%s: keep must be a count >= 0, and not with replace", path);
    if (o.size < 0 || o.size > MT_RECORD_MAX_SIZE)
        return mt_fail(MT_ERR_ARG, "%s: sample side %d out of range 1..%d", path, o.size,
                       MT_RECORD_MAX_SIZE);
    if (o.block_samples < 0 || o.block_samples > MAX_BLOCK_SAMPLES)
        return mt_fail(MT_ERR_ARG, "%s: samples per block %d out of range 1..%d", path,
                       o.block_samples, MAX_BLOCK_SAMPLES);
    mt_record_writer *w = (mt_record_writer *)calloc(1, sizeof *w);
    if (!w) return mt_fail(MT_ERR_OOM, "%s: out of memory", path);
    w->fd = -1;
    w->replace = o.replace != 0;
    w->path = dup_string(path);
    w->buf = (uint8_t *)malloc(WRITE_BUFFER);
    size_t n = strlen(path);
    w->work = (char *)malloc(n + 40);
    if (w->work) w->work[0] = '\0';
    if (!w->path || !w->buf || !w->work) {
        mt_record_writer_free(w);
        return mt_fail(MT_ERR_OOM, "%s: out of memory", path);
    }
    struct stat sb;
    int exists = stat(path, &sb) == 0;
    mt_status st;
    if (exists && !w->replace) {
        strcpy(w->work, path);
        st = open_existing(w, o.size, o.rollback, o.keep);
    } else if (o.rollback && o.keep > 0) {
        st = mt_fail(MT_ERR_IO, "%s: cannot keep %" PRId64 " samples: the file does not exist",
                     path, o.keep);
    } else if (o.size <= 0) {
        st = mt_fail(MT_ERR_ARG, "%s: a new record file needs the sample side (size)", path);
    } else {
        w->size = o.size;
        w->record_bytes = mt_record_bytes(o.size);
        w->block_samples = o.block_samples ? o.block_samples : MT_RECORD_BLOCK_DEFAULT;
        snprintf(w->work, n + 40, "%s.tmp.%ld", path, (long)getpid());
        st = create_empty(w, w->work);
        if (st == MT_OK && !w->replace) {
            /* a new file appears complete (an empty committed header) or not at all */
            if (rename(w->work, path) != 0) {
                st = mt_fail(MT_ERR_IO, "%s: cannot rename the new file into place: %s", path,
                             strerror(errno));
            } else {
                strcpy(w->work, path);
                mt_sync_parent_dir(path);
            }
        }
    }
    if (st != MT_OK) {
        char msg[1024];
        snprintf(msg, sizeof msg, "%s", mt_last_error());
        mt_record_writer_free(w);
        return mt_fail(st, "%s", msg);
    }
    *out = w;
    return MT_OK;
}

static mt_status count_and_checksum(mt_record_writer *w, const uint8_t *rec, int label) {
    int cls = mt_record_class_of(label);
    if (cls < 0)
        return mt_fail(MT_ERR_ARG, "%s: sample %" PRId64 ": label %d is not one of 1, 0, -1, -2",
                       w->path, w->count, label);
    if (w->count % w->block_samples == 0) {
        uint8_t idx[4];
        put32(idx, (uint32_t)(w->count / w->block_samples));
        w->crc = mt_crc32c(0, idx, 4);
    }
    w->crc = mt_crc32c(w->crc, rec, w->record_bytes);
    MT_TRY(buffer_bytes(w, rec, w->record_bytes));
    w->count++;
    w->class_count[cls]++;
    if (w->count % w->block_samples == 0) {
        uint8_t trailer[8];
        put32(trailer, w->crc);
        put32(trailer + 4, (uint32_t)(w->count / w->block_samples - 1));
        MT_TRY(buffer_bytes(w, trailer, 8));
    }
    return MT_OK;
}

static mt_status check_usable(const mt_record_writer *w) {
    if (w->broken)
        return mt_fail(MT_ERR_IO, "%s: an earlier write failed; the file keeps its last commit (%"
                       PRId64 " samples)", w->path, w->committed);
    return MT_OK;
}

mt_status mt_record_append_raw(mt_record_writer *w, const uint8_t *rec) {
    MT_TRY(check_usable(w));
    return count_and_checksum(w, rec, mt_record_label_at(rec, w->size));
}

mt_status mt_record_append(mt_record_writer *w, const mt_record_sample *s) {
    MT_TRY(check_usable(w));
    if (!s->pixels) return mt_fail(MT_ERR_ARG, "%s: sample without pixels", w->path);
    if (!w->rec && !(w->rec = (uint8_t *)malloc(w->record_bytes)))
        return mt_fail(MT_ERR_OOM, "%s: out of memory", w->path);
    uint8_t *rec = w->rec;
    size_t P = w->record_bytes - MT_RECORD_EXTRA;
    memcpy(rec, s->pixels, P);
    uint8_t *e = rec + P;
    memset(e, 0, MT_RECORD_EXTRA);
    e[0] = (uint8_t)(int8_t)s->label;
    e[1] = (uint8_t)s->aug;
    memcpy(e + 4, s->target, 16);
    memcpy(e + 20, s->landmark, 40);
    memcpy(e + 60, s->box, 16);
    memcpy(e + 76, &s->iou, 4);
    memcpy(e + 80, &s->face, 4);
    /* (mt_record_sample.source is NUL-terminated within its 65 bytes) */
    memcpy(e + 84, s->source, strnlen(s->source, MT_RECORD_SOURCE_BYTES));
    if (s->label < -128 || s->label > 127)
        return mt_fail(MT_ERR_ARG, "%s: sample %" PRId64 ": label %d is not one of 1, 0, -1, -2",
                       w->path, w->count, s->label);
    return count_and_checksum(w, rec, s->label);
}

mt_status mt_record_commit(mt_record_writer *w) {
    MT_TRY(check_usable(w));
    if (w->count == w->committed) return MT_OK; /* nothing new: the file is as committed */
    MT_TRY(flush_buffer(w));
    if (fsync(w->fd) != 0) return io_error(w, "fsync");
    header h;
    fill_header(w, &h, w->sequence + 1);
    uint8_t slot[MT_RECORD_SLOT_BYTES];
    encode_header(&h, slot);
    int next = 1 - w->active;
    if (pwrite_all(w->fd, slot, sizeof slot, SLOT_OFFSET(next)) != MT_OK) return io_error(w, "writing the header");
    if (fsync(w->fd) != 0) return io_error(w, "fsync");
    w->active = next;
    w->sequence++;
    w->committed = w->count;
    memcpy(w->class_committed, w->class_count, sizeof w->class_count);
    return MT_OK;
}

mt_status mt_record_writer_close(mt_record_writer *w) {
    mt_status st = mt_record_commit(w);
    if (st == MT_OK && w->replace) {
        if (rename(w->work, w->path) != 0) {
            st = mt_fail(MT_ERR_IO, "%s: cannot rename the temporary file into place: %s", w->path,
                         strerror(errno));
        } else {
            strcpy(w->work, w->path); /* nothing left to delete */
            w->replace = 0;
            mt_sync_parent_dir(w->path);
        }
    }
    if (st != MT_OK) {
        char msg[1024];
        snprintf(msg, sizeof msg, "%s", mt_last_error());
        mt_record_writer_free(w);
        return mt_fail(st, "%s", msg);
    }
    mt_record_writer_free(w);
    return MT_OK;
}

void mt_record_writer_free(mt_record_writer *w) {
    if (!w) return;
    if (w->fd >= 0) {
        /* drop what was not committed, so that the file holds exactly its commit (not after
         * a failed write: a header may have reached the disk; the next writer checks) */
        if (strcmp(w->work, w->path) == 0 && w->count != w->committed && !w->broken)
            if (ftruncate(w->fd, (off_t)committed_end(w->record_bytes, w->block_samples,
                                                      w->committed)) != 0) {
                /* the next writer cuts the tail anyway */
            }
        close(w->fd);
        /* a temporary file that never got its final name */
        if (w->work && strcmp(w->work, w->path) != 0) unlink(w->work);
    }
    free(w->rec);
    free(w->buf);
    free(w->work);
    free(w->path);
    free(w);
}

int64_t mt_record_writer_count(const mt_record_writer *w) { return w->count; }
int64_t mt_record_writer_committed(const mt_record_writer *w) { return w->committed; }
int mt_record_writer_size(const mt_record_writer *w) { return w->size; }
const char *mt_record_writer_path(const mt_record_writer *w) { return w->path; }
int mt_record_writer_broken(const mt_record_writer *w) { return w->broken; }
void mt_record_writer_class_counts(const mt_record_writer *w, int64_t counts[MT_NUM_CLASSES]) {
    memcpy(counts, w->class_count, sizeof w->class_count);
}
