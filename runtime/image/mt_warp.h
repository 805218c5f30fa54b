/*
 * mt_warp.h - affine warps of images and points, similarity fits, and face
 * alignment onto the five-point template of face recognisers.
 *
 * A 2x3 affine matrix m maps a point (x, y) to
 *   (m[0] x + m[1] y + m[2], m[3] x + m[4] y + m[5])
 * in pixel coordinates (0-based; pixel (x, y) has its centre at (x, y) for
 * the purpose of these maps, as in OpenCV's warpAffine). A warp with m fills
 * output pixel (x, y) from the source at m^-1 (x, y), bilinear, computed in
 * float; source pixels outside the image read as the border colour.
 *
 * Errors: MT_ERR_ARG for a singular matrix, a degenerate point set or a bad
 * output size; MT_ERR_OOM.
 */
#ifndef MT_WARP_H
#define MT_WARP_H

#include "image/mt_image.h"

#ifdef __cplusplus
extern "C" {
#endif

/* OpenCV's getRotationMatrix2D: rotation by angle degrees about (cx, cy)
 * with uniform scale; a positive angle turns the picture anticlockwise as
 * seen on screen (y axis pointing down). */
void mt_rotation_matrix(double cx, double cy, double angle_deg, double scale, double m[6]);

/* The inverse map. MT_ERR_ARG when m is singular. */
mt_status mt_affine_invert(const double m[6], double inv[6]);

/* Maps n points, interleaved (x, y) pairs, in place. */
void mt_affine_points(const double m[6], double *xy, int64_t n);

/* The least-squares similarity (rotation, uniform scale, translation; no
 * reflection) taking src points onto dst points (n interleaved pairs each,
 * n >= 2): the closed form of Umeyama (1991) for 2-D. */
mt_status mt_similarity_fit(const double *src, const double *dst, int n, double m[6]);

/* Pixel (x, y) of the warp whose inverse map is inv (see mt_affine_invert):
 * the bilinear value of src at inv (x, y), border colour outside. */
void mt_warp_pixel(const mt_image *src, const double inv[6], const uint8_t border[3], int x, int y,
                   uint8_t out[3]);

/* A new dw x dh image: src warped by m (bilinear, border colour outside). */
mt_status mt_warp_affine(mt_image **out, const mt_image *src, const double m[6], int dw, int dh,
                         const uint8_t border[3]);

/* The five-point template of face recognisers for a w x h output (left eye,
 * right eye, nose, left and right mouth corner as interleaved pairs). At
 * 112 x 112 it is (38.2946, 51.6963), (73.5318, 51.5014), (56.0252,
 * 71.7366), (41.5493, 92.3655), (70.7299, 92.2041); other sizes scale it by
 * h / 112 and centre it horizontally (so 96 x 112 gives the common
 * template shifted left by 8). */
void mt_align_template(int w, int h, double out[10]);

/* Aligns a face: fits the similarity from its five landmarks (interleaved
 * pairs, image coordinates) onto the template and warps a w x h crop. m (may
 * be NULL) receives the matrix used. */
mt_status mt_align_face(mt_image **out, const mt_image *src, const double pts[10], int w, int h,
                        double m[6]);

#ifdef __cplusplus
}
#endif

#endif
