/*
 * mt_loader.h - the training data loader: ready-to-train batches from record
 * files, made by background threads.
 *
 * A loader draws every batch from one or more streams; a stream is a pool of
 * record files (taken as one concatenated list) that gives a fixed number of
 * rows per batch. PNet trains on one stream of 384 (a random composition of
 * its merged file); RNet and ONet on four (64 positives, 64 part faces, 192
 * negatives, 64 landmark faces: docs/design.md, 'Training sets and sampling
 * ratios'), rows in stream order.
 *
 * Order: a stream of N samples giving c rows per batch is read in passes of
 * P = floor(N / c) batches; pass p is a fresh permutation of its N samples
 * (keyed by the seed, the stream and p: a 4-round Feistel network over the
 * next power of four, walked back into [0, N)), of which batch k of the pass
 * takes positions [k c, (k + 1) c); the N - P c left over differ from pass to
 * pass. Without shuffling the permutation is the file order. An epoch is P
 * batches with one stream, floor(total samples / batch size) with several
 * (nominal, as the seed counts it), or what the caller sets.
 *
 * Augmentation, per row, from a generator seeded with (seed, batch number):
 * one uniform number decides the mirror (probability mirror_p) and, with the
 * jitter on, four more draw the colour map (mt_augment.h). Positives and
 * landmark faces are mirrored (part faces too with mirror_part), with their
 * box targets (mt_targets_mirror) and landmarks (mt_landmarks_mirror). So
 * batch b is the same for any number of workers and any timing, and a run
 * resumes exactly with start_batch.
 *
 * Threads: `workers` threads fill a ring of `slots` batch buffers ahead of
 * the consumer; mt_loader_next hands out batches strictly in order and waits
 * only when the next one is not ready. Workers touch only the files (mapped,
 * read-only) and their slots' tensors; errors in a worker (a damaged block)
 * travel with its batch and are raised by mt_loader_next for that batch.
 * With workers = 0 the batch after the one handed out is made ahead, in pieces,
 * by the kernel pool's workers while they wait between jobs (mt_threads_idle_*:
 * a training step's serial moments), and mt_loader_next makes the pieces nobody
 * took; without the pool (one thread, or another loader holding its idle work)
 * batches are made on the calling thread.
 *
 * Ownership: the loader retains the files of its streams and owns its slots;
 * a batch from mt_loader_next belongs to the caller until mt_loader_release
 * (before which mt_loader_batch_renew may swap in fresh tensors when someone
 * still holds the old ones). Errors: MT_ERR_ARG (configuration), MT_ERR_OOM,
 * MT_ERR_FORMAT (a damaged file, from next), MT_ERR_IO (threads).
 */
#ifndef MT_LOADER_H
#define MT_LOADER_H

#include "data/mt_augment.h"
#include "data/mt_record.h"
#include "core/mt_tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

#define MT_LOADER_MAX_STREAMS 16
#define MT_LOADER_MAX_SLOTS 64
#define MT_LOADER_MAX_WORKERS 64

typedef struct mt_loader_stream {
    mt_record_file **files; /* nfiles readers (retained by the loader) */
    int nfiles;
    int per_batch;          /* rows of every batch from this stream */
} mt_loader_stream;

typedef struct mt_loader_config {
    int size; /* sample side every file must hold */
    int nstreams;
    mt_loader_stream streams[MT_LOADER_MAX_STREAMS];
    uint64_t seed;
    int shuffle;           /* 1: a new permutation per pass; 0: file order */
    int workers;           /* background threads (0: in the kernel pool's idle time, see above) */
    int slots;             /* batch buffers in the ring (0: workers + 2) */
    int64_t start_batch;   /* number of the first batch (resume) */
    int64_t epoch_batches; /* 0: automatic (see the header) */
    double mirror_p;       /* probability of mirroring a positive or landmark face */
    int mirror_part;       /* 1: part faces are mirrored too */
    int jitter_on;
    mt_jitter jitter;
    mt_pixel_norm norm;    /* MT_NORM_MTCNN for training */
} mt_loader_config;

/* The defaults: one worker, shuffle, mirror 0.5, no jitter, MTCNN normalisation. */
mt_loader_config mt_loader_config_default(void);

typedef struct mt_loader_batch {
    int64_t number; /* 0-based position in the loader's sequence */
    int64_t epoch;  /* number / epoch batches */
    int64_t rows;
    mt_tensor *images;    /* [rows, 3, S, S], normalised */
    mt_tensor *labels;    /* [rows] */
    mt_tensor *boxes;     /* [rows, 4] regression targets */
    mt_tensor *landmarks; /* [rows, 10] planar landmark targets */
    int32_t *stream;      /* per row: the stream (0-based) */
    int32_t *file;        /* ... the file within the stream */
    int64_t *index;       /* ... the sample within the file */
    uint8_t *mirrored;    /* ... 1 when mirrored */
} mt_loader_batch;

typedef struct mt_loader mt_loader;

mt_status mt_loader_new(mt_loader **out, const mt_loader_config *cfg);

/* The next batch in order, waiting for it when needed. On a failed batch the
 * error is returned and the batch counts as taken. MT_ERR_ARG when the next
 * batch's buffer is still held by the caller. */
mt_status mt_loader_next(mt_loader *ld, mt_loader_batch **out);

/* Gives a batch from mt_loader_next back to the ring. */
void mt_loader_release(mt_loader *ld, mt_loader_batch *b);

/* Replaces each tensor of b that anyone but b still references (tensor or
 * buffer reference count above 1) with a new one of the same shape, so that
 * the ring never overwrites data still in use. Calling thread only; b must be
 * held (between next and release). */
mt_status mt_loader_batch_renew(mt_loader_batch *b);

/* Stops the workers (waiting for them) and frees everything. NULL ignored. */
void mt_loader_free(mt_loader *ld);

int64_t mt_loader_epoch_batches(const mt_loader *ld);
/* Batches handed out so far, how many of them the caller had to wait for (all of them with
 * workers = 0), and the seconds it spent waiting. Calling thread only. */
void mt_loader_wait_stats(const mt_loader *ld, int64_t *taken, int64_t *waited, double *seconds);
int64_t mt_loader_batch_rows(const mt_loader *ld);
/* Samples of stream s (all its files). */
int64_t mt_loader_stream_samples(const mt_loader *ld, int s);

#ifdef __cplusplus
}
#endif

#endif
