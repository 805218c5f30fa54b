/*
 * mt_augment.h - on-the-fly augmentation of training samples: the colour
 * jitter drawn per sample, and the conversion of one S x S RGB sample into
 * normalised float planes, mirrored and colour-mapped on the way.
 *
 * The colour jitter (docs/design.md, 'On-line augmentation': the seed's, but
 * per sample on uint8 RGB) is one affine map of (r, g, b): contrast around each channel's
 * mean, a brightness shift, then saturation and hue as a scaling and a
 * rotation of the chroma plane of YIQ. The result is rounded and clamped to
 * 0..255 (halves up), as if the jittered sample were an 8-bit image, then normalised.
 *
 * Nothing here allocates or fails; everything is safe to call from any thread
 * (each with its own generator).
 */
#ifndef MT_AUGMENT_H
#define MT_AUGMENT_H

#include "image/mt_image.h"
#include "core/mt_rng.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Ranges of the jitter; 0 switches a part off. */
typedef struct mt_jitter {
    double brightness; /* shift ~ U[-b, b] of the full range (255 b grey levels) */
    double contrast;   /* factor ~ U[1 - c, 1 + c] around each channel's mean */
    double saturation; /* chroma factor ~ U[1 - s, 1 + s] */
    double hue;        /* chroma rotation ~ U[-h, h] turns */
} mt_jitter;

/* The seed's ranges: brightness 0.2, contrast 0.5, saturation
 * 0.5, hue 0.2. */
mt_jitter mt_jitter_default(void);

/* v' = m v + t per pixel (v = (r, g, b)); m row-major. */
typedef struct mt_colour_map {
    float m[9];
    float t[3];
} mt_colour_map;

/* Draws the colour map of one sample of npix RGB pixels. Always takes exactly
 * four numbers from rng (brightness, contrast, saturation, hue), whatever the
 * ranges, so that the stream of a batch does not depend on them. */
void mt_jitter_draw(const mt_jitter *j, const uint8_t *pixels, int64_t npix, mt_rng *rng,
                    mt_colour_map *out);

/* Writes the size x size RGB sample `pixels` (rows of RGB triplets) into three
 * planes of size^2 floats at out (R, then G, then B), mirrored left-right when
 * flip, colour-mapped when map is not NULL, normalised with norm. */
void mt_sample_to_planes(const uint8_t *pixels, int size, int flip, const mt_colour_map *map,
                         mt_pixel_norm norm, float *out);

#ifdef __cplusplus
}
#endif

#endif
