/*
 * mt_record.h - record files: the training samples of one net input size.
 *
 * A record file holds samples of one side S (12, 24 or 48): the S x S RGB
 * pixels, the label (1 positive, 0 negative, -1 part face, -2 landmark face),
 * the 4 box regression targets, the 10 planar landmark targets (x1..x5,
 * y1..y5, normalised to the crop as mt_sample does), and where the sample came
 * from (the crop box in its source image, its IoU, the face index, the source
 * image's path) for debugging. It replaces the seed's text lists and
 * TFRecords (docs/design.md, 'Record files'; docs/records.md).
 *
 * Layout (little-endian, version 1):
 *
 *   [0, 4096)   two header copies, at offsets 0 and 512 (MT_RECORD_SLOT_BYTES
 *               each, the rest zero):
 *                 0 magic "MTCNNREC"   8 u32 version        12 u32 data offset (4096)
 *                16 u32 S             20 u32 record bytes   24 u32 samples per block
 *                28 u32 flags (0)     32 u64 sequence       40 u64 committed count
 *                48 u64 count of positives, negatives, part faces, landmark faces
 *                80 u32 CRC of the committed samples of the last, partial block
 *                84 u32 (0)           88..123 (0)          124 u32 CRC-32C of bytes 0..123
 *   [4096, ...) blocks: B records of R bytes, then an 8-byte trailer {u32 CRC,
 *               u32 block index}. The CRC is CRC-32C of the block index (u32)
 *               followed by the B records, so a block copied to another place
 *               fails too. The last block may be partial and has no trailer
 *               yet; its CRC lives in the header (the field at 80).
 *
 *   A record (R = 3 S^2 + 148 bytes, MT_RECORD_EXTRA after the pixels):
 *     u8 pixels[3 S^2] (rows of RGB triplets)   i8 label   u8 aug (MT_AUG_* bits)
 *     u16 0   f32 target[4]   f32 landmark[10]   f32 box[4] (crop, inclusive)
 *     f32 iou   i32 face (0-based, -1 none)   char source[64] (NUL-padded)
 *
 *   Sample i lives at 4096 + (i / B) * (B R + 8) + (i % B) * R.
 *
 * Commit protocol: a writer appends records (and the trailers of blocks it
 * completes) after the committed end, fsyncs them, then writes the header
 * copy that is NOT the current one with sequence + 1 and the new count, and
 * fsyncs again. A reader takes the valid copy (magic, version, CRC) with the
 * larger sequence and trusts only its count: whatever a killed writer left
 * behind is beyond that count and invisible; a torn header write leaves the
 * other copy, the previous commit. A writer that opens an existing file
 * checks the partial block's CRC and truncates everything after the
 * committed end, unless a header copy is damaged (then the bytes after the surviving copy's
 * commit may be committed samples, and the writer refuses to open without an explicit
 * rollback). One writer per file at a time (flock).
 *
 * Reading maps the committed part of the file (mmap, read-only), so random
 * access costs no copy and files larger than memory work. Each block is
 * checked against its CRC the first time one of its samples is read
 * (thread-safe; a bad block stays bad) and mt_record_verify checks them all.
 *
 * Ownership: mt_record_open gives one reference to an mt_record_file
 * (mt_record_file_release); readers are shared by loaders with
 * mt_record_file_retain (count changed with atomics). A writer belongs to
 * its creator (mt_record_writer_close commits and frees;
 * mt_record_writer_free discards what was not committed). Errors: MT_ERR_IO
 * (open, read, write, a locked file), MT_ERR_FORMAT (magic, version, sizes,
 * truncation, checksums), MT_ERR_ARG; each message names the file and, where
 * it applies, the sample index and block.
 */
#ifndef MT_RECORD_H
#define MT_RECORD_H

#include "core/mt_common.h"

#ifdef __cplusplus
extern "C" {
#endif

#define MT_RECORD_VERSION 1
#define MT_RECORD_DATA_OFFSET 4096
#define MT_RECORD_SLOT_BYTES 128
#define MT_RECORD_EXTRA 148        /* bytes of a record after its pixels */
#define MT_RECORD_SOURCE_BYTES 64  /* source path field, NUL-padded */
#define MT_RECORD_BLOCK_DEFAULT 256
#define MT_RECORD_MAX_SIZE 1024    /* largest sample side accepted */

/* label classes in the order of the header's counts */
enum { MT_CLASS_POSITIVE = 0, MT_CLASS_NEGATIVE, MT_CLASS_PART, MT_CLASS_LANDMARK, MT_NUM_CLASSES };

/* The class of a label (1, 0, -1, -2), or -1 for any other value. */
int mt_record_class_of(int label);
/* The label of a class. */
int mt_record_label_of(int cls);

/* One sample, decoded. pixels points into the file's map (reading) or to the
 * caller's S x S x 3 bytes (writing). */
typedef struct mt_record_sample {
    const uint8_t *pixels;
    int label;
    int aug;
    float target[4];
    float landmark[10];
    float box[4];
    float iou;
    int32_t face;
    char source[MT_RECORD_SOURCE_BYTES + 1]; /* NUL-terminated */
} mt_record_sample;

/* Sets s->source from a path: a longer one than MT_RECORD_SOURCE_BYTES keeps
 * its end (the file name), marked with a leading "...". */
void mt_record_set_source(mt_record_sample *s, const char *path);

/* Bytes of one record of side S. */
static inline size_t mt_record_bytes(int size) {
    return (size_t)size * (size_t)size * 3u + MT_RECORD_EXTRA;
}

/* ---- reading ----------------------------------------------------------------------------- */

typedef struct mt_record_file {
    int refcount;
    char *path;
    int fd;
    const uint8_t *map;   /* the file from offset 0 to the committed end */
    size_t map_bytes;
    int version;
    int size;             /* S */
    size_t record_bytes;  /* R */
    int64_t block_samples; /* B */
    int64_t count;        /* committed samples */
    int64_t class_count[MT_NUM_CLASSES];
    uint64_t sequence;
    uint32_t tail_crc;
    int64_t nblocks;      /* blocks holding committed samples (the last may be partial) */
    int damaged_copy;     /* the header copy that is neither valid nor blank (-1: none): the
                           * file may have lost its latest commit */
    uint64_t extra_bytes; /* bytes after the committed end (an interrupted writer's, or, with a
                           * damaged copy, possibly committed samples) */
    uint8_t *block_state; /* per block: 0 unchecked, 1 good, 2 bad (atomic access) */
} mt_record_file;

/* Opens a record file for reading. expect_size > 0 requires samples of that
 * side. The header and the file's length are checked here, blocks lazily. */
mt_status mt_record_open(mt_record_file **out, const char *path, int expect_size);
void mt_record_file_retain(mt_record_file *f);
void mt_record_file_release(mt_record_file *f); /* NULL is ignored */

/* Pointer to the encoded record i (0 <= i < count); no check of any kind. */
static inline const uint8_t *mt_record_ptr(const mt_record_file *f, int64_t i) {
    int64_t b = i / f->block_samples, k = i % f->block_samples;
    return f->map + MT_RECORD_DATA_OFFSET +
           (size_t)b * (f->block_samples * f->record_bytes + 8) + (size_t)k * f->record_bytes;
}

/* Checks the block of sample i (once per open file; thread-safe). The error
 * names the file, the sample and the block's sample range. */
mt_status mt_record_check(mt_record_file *f, int64_t i);

/* Sample i, checked and decoded (pixels point into the map). */
mt_status mt_record_read(mt_record_file *f, int64_t i, mt_record_sample *s);

/* Decodes an encoded record of side size (no check). */
void mt_record_decode(const uint8_t *rec, int size, mt_record_sample *s);

/* The label byte of an encoded record of side size. */
static inline int mt_record_label_at(const uint8_t *rec, int size) {
    return (int)(int8_t)rec[(size_t)size * (size_t)size * 3u];
}

/* Checks every block. bad receives the indices of the failing blocks (at most
 * max of them; may be NULL), *nbad their count; labels (may be NULL) the count of each
 * class's labels in the good blocks and, at [MT_NUM_CLASSES], of labels that are no class,
 * to compare with the header's counts. MT_OK even when blocks are bad: the caller reports
 * them. */
mt_status mt_record_verify(mt_record_file *f, int64_t *bad, int64_t max, int64_t *nbad,
                           int64_t labels[MT_NUM_CLASSES + 1]);

/* First and last sample index of block b. */
void mt_record_block_range(const mt_record_file *f, int64_t b, int64_t *first, int64_t *last);

/* ---- writing ----------------------------------------------------------------------------- */

typedef struct mt_record_writer mt_record_writer;

typedef struct mt_record_writer_opts {
    int size;          /* S: required for a new file; checked against an existing one */
    int block_samples; /* B for a new file (0: MT_RECORD_BLOCK_DEFAULT) */
    int replace;       /* 1: write a fresh file under a temporary name, renamed over path by
                        * close (the old file, if any, stays readable until then) */
    int rollback;      /* 1: keep only the first `keep` committed samples of an existing file
                        * (resuming a job whose own bookkeeping lags behind the file's commit):
                        * the class counts and the CRC of the new partial block are recomputed
                        * (the block it is cut from is checked first), a header with the new
                        * count is committed, then the rest is cut off. Readers must not have
                        * the file open. keep beyond the committed count is an error; a
                        * missing file is created when keep is 0. */
    int64_t keep;
} mt_record_writer_opts;

/* Opens path for appending (created when missing) or, with replace, a fresh
 * temporary file. An existing file's uncommitted tail is cut off (with
 * rollback, everything after its first keep samples). */
mt_status mt_record_writer_open(mt_record_writer **out, const char *path,
                                const mt_record_writer_opts *opts);

/* Appends one sample (pixels of S x S x 3 bytes). Not visible to readers until
 * committed. label must be 1, 0, -1 or -2. */
mt_status mt_record_append(mt_record_writer *w, const mt_record_sample *s);

/* Appends an encoded record of the writer's side (copied byte for byte, as
 * merging does). */
mt_status mt_record_append_raw(mt_record_writer *w, const uint8_t *rec);

/* Makes every appended sample durable and visible (fsync, header, fsync). */
mt_status mt_record_commit(mt_record_writer *w);

/* Commits, closes and, in replace mode, renames the file into place; frees w
 * in any case. */
mt_status mt_record_writer_close(mt_record_writer *w);

/* Frees w without committing (an existing file keeps its last commit; a
 * replace-mode temporary file is deleted). NULL is ignored. */
void mt_record_writer_free(mt_record_writer *w);

/* Samples appended so far (committed or not), samples committed, the side,
 * and the counts per class of the appended samples. */
int64_t mt_record_writer_count(const mt_record_writer *w);
int64_t mt_record_writer_committed(const mt_record_writer *w);
int mt_record_writer_size(const mt_record_writer *w);
void mt_record_writer_class_counts(const mt_record_writer *w, int64_t counts[MT_NUM_CLASSES]);
const char *mt_record_writer_path(const mt_record_writer *w);
/* Nonzero once a write of w failed (a full disk): the file keeps its last commit and w
 * refuses more, so that a caller can tell an output failure from an input one. */
int mt_record_writer_broken(const mt_record_writer *w);

#ifdef __cplusplus
}
#endif

#endif
