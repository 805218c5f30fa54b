/*
 * mt_detect.h - the candidate windows of the MTCNN cascade and the steps
 * that turn network outputs into faces.
 *
 * A candidate set holds, per window: the box, the face score, the
 * regression offsets of the last network, the landmarks (after ONet) and the
 * index of the image it belongs to (for batches of images). Boxes are kept
 * in the ORIGINAL's 1-based pixel convention and in double, so that the
 * chain of calibration, rerec and fix reproduces the original cascade's
 * numbers exactly; the binding's faces() converts to
 * the project's 0-based convention, the original's numbers minus 1
 * (docs/design.md, 'Pixels and boxes' and 'Detection').
 *
 * Ownership: a set owns its arrays (mt_cands_free). Errors: MT_ERR_OOM when
 * growing, MT_ERR_SHAPE for network outputs of the wrong shape.
 */
#ifndef MT_DETECT_H
#define MT_DETECT_H

#include "detect/mt_box.h"
#include "core/mt_tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mt_cands {
    int64_t n, cap;
    double *box;   /* 4 per window: x1, y1, x2, y2 (1-based, as the original) */
    double *score; /* face probability of the last network */
    double *reg;   /* 4 per window: dx1, dy1, dx2, dy2 of the last network */
    double *pts;   /* 10 per window: x1..x5, y1..y5 in image pixels (1-based) */
    int32_t *image;
} mt_cands;

void mt_cands_init(mt_cands *c);
void mt_cands_free(mt_cands *c);
mt_status mt_cands_reserve(mt_cands *c, int64_t n);

/* Appends the windows of one PNet output: prob [N,2,h,w] (channel 1 = face),
 * reg [N,4,h,w], item `batch` of the batch, computed at pyramid scale
 * `scale`. Keeps cells with probability >= threshold, in the original's
 * order (by row of the output map, then column), with the window of cell
 * (i, j) being x1 = fix((2j+1)/scale), y1 = fix((2i+1)/scale),
 * x2 = fix((2j+12)/scale), y2 = fix((2i+12)/scale). */
mt_status mt_cands_add_pnet(mt_cands *c, const mt_tensor *prob, const mt_tensor *reg, int batch,
                            double scale, double threshold, int32_t image);

/* Non-maximum suppression of the windows [from, n) of each image separately;
 * the survivors replace them, in the order NMS picked them (highest score
 * first, ties as the original's stable sort). */
mt_status mt_cands_nms(mt_cands *c, int64_t from, double threshold, mt_overlap kind);

/* Calibration with the stored offsets (plus_one: width x2 - x1 + 1 as after
 * RNet/ONet; 0: x2 - x1 as after PNet). */
void mt_cands_calibrate(mt_cands *c, int plus_one);
/* The original's rerec (square around the centre, side max(x2-x1, y2-y1)). */
void mt_cands_square(mt_cands *c);
/* MATLAB fix (truncation toward zero) of every coordinate. */
void mt_cands_fix(mt_cands *c);

/* Stores a network's outputs for every window: prob [n,2] (the face
 * probability is column 1), reg [n,4] and optionally pts [n,10] (planar,
 * fractions of the window), each CPU and any layout. */
mt_status mt_cands_set_outputs(mt_cands *c, const mt_tensor *prob, const mt_tensor *reg,
                               const mt_tensor *pts);

/* Keeps the windows whose score is strictly greater than threshold, in order. */
void mt_cands_filter(mt_cands *c, double threshold);

/* Turns the stored fractions of the windows into image landmarks with the
 * current boxes (before calibration, as the original): x = w * u + x1 - offset,
 * w = x2 - x1 + 1 (likewise y). The original models use offset 1 (their
 * MATLAB formula); models trained here, whose targets are normalised as
 * u = (x - x1 + 0.5) / w, use offset 0.5. */
void mt_cands_decode_landmarks(mt_cands *c, double offset);

/* Removes the windows a damaged model makes (a non-finite score, offset, landmark or box
 * coordinate, or a box or landmark reaching farther from its image than the image's larger
 * side; sizes holds the width and height of each of the nimages images) and returns their
 * count. The survivors keep their order. */
int64_t mt_cands_drop_invalid(mt_cands *c, const int32_t *sizes, int nimages);

/* Integer 0-based inclusive crop boxes of windows first..first+count-1 (0-based;
 * fix()ed boxes minus 1), 4 per window, for mt_crop_resize_to_tensor. MT_ERR_ARG
 * for a range outside the windows, or naming the window when a coordinate is not a
 * number within +-2^30 (no float is cast unchecked). */
mt_status mt_cands_crop_boxes(const mt_cands *c, int64_t first, int64_t count, int32_t *out);

/* Appends the windows of src (all of them). */
mt_status mt_cands_append(mt_cands *c, const mt_cands *src);

#ifdef __cplusplus
}
#endif

#endif
