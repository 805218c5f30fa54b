/*
 * mt_resize.h - resizing images and image regions, computed in float.
 *
 * Two methods, with OpenCV's semantics (docs/design.md, 'Resizing'):
 *   MT_INTERP_BILINEAR = cv::INTER_LINEAR: half-pixel centres, source
 *       coordinate (d + 0.5) * in/out - 0.5, edges clamped.
 *   MT_INTERP_AREA = cv::INTER_AREA: when neither axis is enlarged, each
 *       output pixel is the average of the source area it covers (fractions
 *       below 1e-3 of a pixel are ignored, as OpenCV does); otherwise
 *       OpenCV's bilinear variant for INTER_AREA (weights from the pixel
 *       areas, no half-pixel shift).
 * The weights are computed exactly as OpenCV 4.6 computes them; the sums run
 * in float, vertical pass first, so results agree with cv2.resize on float
 * images to float rounding (about 1e-5 on 0..255 values).
 *
 * Crops: a box [x1, y1, x2, y2] is 0-based and INCLUSIVE (docs/design.md,
 * 'Pixels and boxes'), i.e. a (x2-x1+1) x (y2-y1+1) region. Parts of the box outside the image
 * read as black (0) pixels BEFORE normalisation, exactly as if the region had
 * been copied into a zeroed buffer and that buffer resized (the original's pad
 * step; docs/design.md, 'Geometry'). A box with x2 < x1 or y2 < y1 gives a black crop.
 *
 * Tensors written by these functions are CPU float tensors in planar RGB
 * (channel 0 = R); values are (v - norm.mean) * norm.scale. Multi-threaded
 * with the project's pool (rows of one image, or boxes of a batch).
 *
 * Errors: MT_ERR_ARG (sizes, methods), MT_ERR_SHAPE (output tensor),
 * MT_ERR_DEVICE (a GPU tensor), MT_ERR_OOM.
 */
#ifndef MT_RESIZE_H
#define MT_RESIZE_H

#include "image/mt_image.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum mt_interp { MT_INTERP_BILINEAR = 0, MT_INTERP_AREA = 1 } mt_interp;

/* Resizes the whole image to dw x dh into out, a tensor of shape [3, dh, dw]
 * or [1, 3, dh, dw] (any strides: a slice of a batch works). */
mt_status mt_resize_to_tensor(const mt_image *im, int dw, int dh, mt_interp interp, mt_tensor *out,
                              mt_pixel_norm norm);

/* Crops n boxes (boxes[4*i .. 4*i+3] = x1, y1, x2, y2, inclusive) and resizes
 * each to dw x dh into out, a tensor of shape [n, 3, dh, dw]. */
mt_status mt_crop_resize_to_tensor(const mt_image *im, const int32_t *boxes, int64_t n, int dw,
                                   int dh, mt_interp interp, mt_tensor *out, mt_pixel_norm norm);

/* The whole image resized to dw x dh as a new image (values rounded to
 * nearest, ties to even, and clamped to 0..255). */
mt_status mt_resize_image(mt_image **out, const mt_image *im, int dw, int dh, mt_interp interp);

/* Crops n boxes and resizes each to size x size into the uint8 image strip,
 * whose width must be size: box i lands in rows [(first+i)*size, ...). The
 * layout of a sample set (mt_sample.h). */
mt_status mt_crop_resize_strip(const mt_image *im, const int32_t *boxes, int64_t n, int size,
                               mt_interp interp, mt_image *strip, int64_t first);

/* The pw x ph image that the affine map m makes of src (mt_warp_affine's
 * pixels, black outside) resized to size x size into slot `slot` of a strip:
 * the same pixels as mt_warp_affine followed by mt_crop_resize_strip of the
 * whole patch, but only the warped pixels the resize reads are computed
 * (with linear tables, at most 2 size x 2 size of them). */
mt_status mt_warp_resize_strip(const mt_image *src, const double m[6], int pw, int ph, int size,
                               mt_interp interp, mt_image *strip, int64_t slot);

/* A float tensor [C, H, W] or [N, C, H, W] (any strides, CPU) resized to
 * dw x dh per plane, as a new contiguous tensor (no normalisation). */
mt_status mt_resize_tensor(mt_tensor **out, const mt_tensor *src, int dw, int dh,
                           mt_interp interp);

#ifdef __cplusplus
}
#endif

#endif
