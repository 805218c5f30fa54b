/*
 * mt_sample.h - MTCNN training crops (docs/design.md, 'Sample generation' and
 * 'Landmark samples').
 *
 * Detection samples of one image and its ground-truth faces: random
 * negatives, near-face negatives, positives and part faces; landmark samples
 * of one annotated face: the plain face crop and shifted crops with mirror
 * and +-rotation augmentation. Every number is a parameter whose default is
 * the seed's value. The seed's bugs are fixed (docs/design.md, 'Seed bugs fixed'):
 * crops hold exactly their side in pixels, targets use the inclusive
 * convention (t = (g - c) / side, side = x2 - x1 + 1), full float precision;
 * mirrored samples get mirrored targets; part faces are judged against every
 * face unless label_by_all_faces is 0. Landmark targets are planar
 * (x1..x5, y1..y5), normalised with mt_landmarks_to_box's offset 0.5.
 *
 * Randomness comes only from the generator passed in: the same seed, image
 * and parameters give the same samples on every machine and thread count.
 *
 * Ownership: a sample set returned through `mt_sample_set **out` belongs to
 * the caller (mt_sample_set_free). Errors: MT_ERR_ARG (parameters), MT_ERR_OOM.
 */
#ifndef MT_SAMPLE_H
#define MT_SAMPLE_H

#include "image/mt_image.h"
#include "image/mt_resize.h"
#include "core/mt_rng.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mt_sample_params {
    int size;         /* side of the samples (12 for PNet, 24, 48) */
    mt_interp interp; /* resize of crops: bilinear (docs/design.md, 'Resizing') */

    /* random negatives (step 1 of docs/design.md, 'Sample generation') */
    int neg_count;       /* accepted per image: 50 */
    int neg_max_tries;   /* draws before giving up (small or crowded images): 5000 */
    int min_crop;        /* smallest side of a negative crop: 12 */
    double neg_max_frac; /* negative sides are < floor(min(W, H) * this): 0.5 */
    double neg_iou;      /* negative when the largest IoU with any face is < this: 0.3 */

    /* per face (step 2) */
    int min_face;           /* faces with max(w, h) below this seed no crops: 20 */
    int near_neg_tries;     /* near-face negative draws per face: 5 */
    int pos_tries;          /* positive / part draws per face: 20 */
    double side_lo;         /* crop side >= floor(side_lo * min(w, h)): 0.8 */
    double side_hi;         /* crop side < ceil(side_hi * max(w, h)): 1.25 */
    double jitter;          /* centre shift in [-jitter * w, jitter * w): 0.2 */
    double pos_iou;         /* positive when IoU >= this: 0.65 */
    double part_iou;        /* part face when part_iou <= IoU < pos_iou: 0.4 */
    int label_by_all_faces; /* 1: label and target by the best face; 0: the seeding face (seed) */
    double mirror_p;        /* probability that a positive or part sample is mirrored, with its
                             * target mirrored too (dx1' = -dx2, dx2' = -dx1): 0, the loader
                             * mirrors at training time (docs/design.md, 'On-line
                             * augmentation') */

    /* landmark samples (docs/design.md, 'Landmark samples') */
    int lmk_min_face;     /* faces with max(w, h) below this are skipped: 40 */
    int lmk_plain;        /* 1: keep the plain ground-truth crop */
    int lmk_shift_tries;  /* shifted crops tried per face: 10 */
    double lmk_iou;       /* a shifted crop is kept when IoU > this: 0.65 */
    double lmk_mirror_p;  /* probability of adding the mirrored crop: 0.5 */
    double lmk_rotate_p;  /* probability of each rotation (+angle, -angle): 0.5 */
    double lmk_angle;     /* degrees: 5 */

    /* hard examples (docs/design.md, 'Hard examples'): the windows a trained stage kept,
     * labelled with neg_iou, part_iou and pos_iou above */
    int win_min_side; /* windows narrower than this once squared and rounded are skipped: 20 */
    int win_neg_max;  /* negatives kept per image, the first in the windows' order: 60 */
    int win_face_min_side; /* positives and part faces narrower than this are dropped (such
                            * windows then give negatives only): 0 */
    /* landmark windows (mt_sample_landmark_windows) */
    double win_lmk_iou; /* a window overlapping a face by at least this frames its points: 0.4 */
    int win_lmk_max;    /* landmark windows kept per face, the first in the windows' order: 10 */
} mt_sample_params;

/* The defaults above, for sample side 12. */
mt_sample_params mt_sample_params_default(void);

enum {
    MT_LABEL_POSITIVE = 1,
    MT_LABEL_NEGATIVE = 0,
    MT_LABEL_PART = -1,
    MT_LABEL_LANDMARK = -2
};
enum { MT_AUG_MIRROR = 1, MT_AUG_ROTATE_POS = 2, MT_AUG_ROTATE_NEG = 4 };

typedef struct mt_sample_set {
    int size;
    int64_t count;
    mt_image *images; /* size x (count * size): sample i is rows [i*size, (i+1)*size) */
    int8_t *label;    /* MT_LABEL_* */
    float *box;       /* 4 per sample: the crop in the source image, inclusive */
    float *target;    /* 4 per sample: bbox regression target (0 for negatives, landmarks) */
    float *landmark;  /* 10 per sample: planar normalised landmarks (0 unless a landmark) */
    float *iou;       /* the IoU that decided the label (landmarks: with their face) */
    int32_t *face;    /* 0-based index of the face the sample came from, -1 for random ones */
    uint8_t *aug;     /* MT_AUG_* bits */
} mt_sample_set;

void mt_sample_set_free(mt_sample_set *s);

/* Detection samples of image im with nfaces ground-truth boxes (4 doubles
 * each, inclusive). seeds (may be NULL: all) marks the faces allowed to seed
 * crops; all faces count for the IoU of every crop. */
mt_status mt_sample_detection(mt_sample_set **out, const mt_image *im, const double *faces,
                              const uint8_t *seeds, int64_t nfaces, const mt_sample_params *p,
                              mt_rng *rng);

/* What became of the windows given to mt_sample_windows (besides the samples). */
typedef struct mt_window_counts {
    int64_t windows; /* given */
    int64_t small;   /* skipped: narrower than win_min_side */
    int64_t outside; /* skipped: reaching outside the image */
    int64_t between; /* dropped: largest IoU in [neg_iou, part_iou) */
    int64_t neg_over; /* dropped: negatives beyond win_neg_max */
    int64_t face_small; /* dropped: positives and part faces narrower than win_face_min_side */
    /* landmark windows only */
    int64_t lmk_far;    /* dropped: largest IoU below win_lmk_iou */
    int64_t lmk_points; /* dropped: a point of the face on or outside the window's edge */
    int64_t lmk_over;   /* dropped: beyond win_lmk_max for their face */
} mt_window_counts;

/* Hard examples of image im: the windows (nwindows boxes, 4 doubles each, inclusive, in
 * the detector's output order) that a trained stage kept, each made square around its
 * centre (the seed's inclusive square: side max(w, h), w = x2 - x1 + 1) and rounded to whole
 * pixels (halves to even, as numpy's round); a window narrower than win_min_side or
 * reaching outside the image is skipped. The rest are labelled by their largest IoU with
 * the nfaces faces (all of them): below neg_iou a negative (the first win_neg_max only),
 * from pos_iou a positive, from part_iou a part face (targeted at that face), otherwise
 * dropped; a positive or part face narrower than win_face_min_side is dropped too. Crops
 * are resized to size with interp. counts (may be NULL) says what was skipped. No
 * randomness. */
mt_status mt_sample_windows(mt_sample_set **out, const mt_image *im, const double *faces,
                            int64_t nfaces, const double *windows, int64_t nwindows,
                            const mt_sample_params *p, mt_window_counts *counts);

/* Landmark samples framed as the cascade frames faces (docs/design.md, 'Landmark windows'):
 * the windows (as for mt_sample_windows: squared, rounded, small and outside ones skipped)
 * that overlap one of the nfaces faces (4 doubles each) by at least win_lmk_iou become
 * landmark samples of that face, its points (10 doubles per face, planar) normalised to the
 * window; a window whose points do not all lie inside it is dropped, and so is any beyond
 * the first win_lmk_max of its face. Box targets are zero. counts (may be NULL) says what
 * was skipped and dropped. No randomness. */
mt_status mt_sample_landmark_windows(mt_sample_set **out, const mt_image *im, const double *faces,
                                     const double *points, int64_t nfaces, const double *windows,
                                     int64_t nwindows, const mt_sample_params *p,
                                     mt_window_counts *counts);

/* Landmark samples of one face: its box (4 doubles, inclusive) and its five
 * points (10 doubles, planar, image coordinates). */
mt_status mt_sample_landmarks(mt_sample_set **out, const mt_image *im, const double box[4],
                              const double pts[10], const mt_sample_params *p, mt_rng *rng);

#ifdef __cplusplus
}
#endif

#endif
