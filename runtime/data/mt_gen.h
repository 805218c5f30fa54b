/*
 * mt_gen.h - generating training samples from many images on the thread pool.
 *
 * The driver behind scripts/gen_pnet_data.lua and gen_landmark_data.lua: given
 * a chunk of images (a file and its faces each), it decodes and samples them
 * on the worker pool (mt_parallel_tasks), one image per task, and returns per
 * image its sample set or why it was skipped. Each image draws from its own
 * generator, PCG32 seeded with the run's seed on the stream of the image's
 * index, so the samples depend only on (seed, index, image, faces, params),
 * never on the thread count or on which chunk the image fell in: a run
 * resumed after a kill or split into other chunks gives the same samples.
 * Memory is bounded by the chunk: each decoded image is freed as soon as its
 * crops are cut.
 *
 * Detection (docs/design.md, 'Sample generation'): an image with all its faces
 * (4 doubles each, inclusive) is sampled by mt_sample_detection. Landmarks: an
 * image with one or more faces, each a box (4 doubles) and five points (10
 * doubles, planar x1..x5, y1..y5), sampled by mt_sample_landmarks face after
 * face with the image's generator; the sets are joined (the face index of
 * each sample says which face it came from). Hard examples (docs/design.md,
 * 'Hard examples'): an image with its faces and the windows a trained stage
 * kept on it, labelled by mt_sample_windows; the caller, which ran the
 * detector, may hand over the decoded image instead of its file. Landmark windows
 * (docs/design.md, 'Landmark windows'): the same with each face's five points, the windows
 * framing a face becoming its landmark samples (mt_sample_landmark_windows).
 *
 * A missing file (or one that is not a regular file) is MT_GEN_MISSING; a
 * file that does not decode (truncated, corrupt, unsupported, too large) is
 * MT_GEN_BAD with the decoder's message. Neither stops the chunk. Sampling
 * failures (bad parameters, out of memory) fail the whole call.
 *
 * Ownership: the results belong to the caller (mt_gen_results_clear frees
 * their sets and messages).
 */
#ifndef MT_GEN_H
#define MT_GEN_H

#include "data/mt_sample.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum mt_gen_kind {
    MT_GEN_DETECTION = 0,
    MT_GEN_LANDMARKS = 1,
    MT_GEN_HARD = 2,
    MT_GEN_LANDMARK_WINDOWS = 3
} mt_gen_kind;

/* One image of a chunk. The pointers are the caller's and must stay valid
 * for the call. */
typedef struct mt_gen_image {
    const char *path;     /* the file to decode */
    int64_t index;        /* the image's position in the run: its generator's stream */
    int64_t nfaces;
    const double *boxes;  /* 4 per face, inclusive x1, y1, x2, y2 */
    const double *points; /* landmarks, landmark windows: 10 per face (planar) */
    const mt_image *image; /* hard examples, landmark windows: the decoded image (NULL: decode path) */
    int64_t nwindows;      /* hard examples, landmark windows: the detector's windows, 4 doubles each */
    const double *windows;
} mt_gen_image;

enum { MT_GEN_OK = 0, MT_GEN_MISSING = 1, MT_GEN_BAD = 2 };

typedef struct mt_gen_result {
    int status;             /* MT_GEN_OK, MT_GEN_MISSING or MT_GEN_BAD */
    char *message;          /* why the image was skipped (NULL when OK) */
    int width, height;      /* of the decoded image (0 when skipped) */
    mt_sample_set *samples; /* MT_GEN_OK: its samples (possibly none) */
    mt_window_counts windows; /* hard examples, landmark windows: what became of the windows */
} mt_gen_result;

/* Decodes and samples images[0..n) on the worker pool into out[0..n) (zeroed
 * first). p->size is the samples' side. */
mt_status mt_gen_run(mt_gen_result *out, const mt_gen_image *images, int64_t n, mt_gen_kind kind,
                     const mt_sample_params *p, uint64_t seed);

/* mt_gen_run on a thread of its own (the pool's workers join in), so that the
 * caller can write the previous chunk meanwhile: returns at once. The
 * arguments (images, their paths and faces, out) must stay untouched until
 * mt_gen_wait; p is copied. */
typedef struct mt_gen_job mt_gen_job;
mt_status mt_gen_start(mt_gen_job **job, mt_gen_result *out, const mt_gen_image *images,
                       int64_t n, mt_gen_kind kind, const mt_sample_params *p, uint64_t seed);

/* Waits for the job and frees it; mt_gen_run's status (and message). */
mt_status mt_gen_wait(mt_gen_job *job);

/* Appends the samples of results[0..n) to the record writers, in image order:
 * image i's go to val when mt_gen_split_key(names[i], seed) < val_fraction,
 * else to train, with names[i] as their source. side[i] receives 0 (train),
 * 1 (validation) or -1 (a skipped image). The sets are freed as they are
 * written. Stops at the first writer failure (its status). */
struct mt_record_writer;
mt_status mt_gen_write(mt_gen_result *results, const char *const *names, int64_t n, uint64_t seed,
                       double val_fraction, struct mt_record_writer *train,
                       struct mt_record_writer *val, int8_t *side);

/* Frees the sets and messages of results[0..n) and zeroes them. */
void mt_gen_results_clear(mt_gen_result *results, int64_t n);

/* The validation key of an image: a number in [0, 1) from a hash of its name
 * (the path relative to the images' root) and the run's seed. An image is
 * held out for validation when its key is below the validation fraction, so
 * the split is by source image, stable across runs, resumes and thread
 * counts, and changes with the seed. */
double mt_gen_split_key(const char *name, uint64_t seed);

#ifdef __cplusplus
}
#endif

#endif
