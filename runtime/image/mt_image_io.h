/*
 * mt_image_io.h - reading and writing JPEG and PNG images.
 *
 * Decoding: JPEG through libjpeg-turbo's TurboJPEG API, PNG through libspng.
 * Every input becomes 8-bit RGB: grey is replicated, CMYK/YCCK JPEGs are
 * converted (Adobe's inverted storage when the APP14 marker says so), 16-bit
 * PNG samples keep their high byte, palettes are expanded, and an alpha
 * channel is dropped (as OpenCV's imread does) or blended over a background.
 * The EXIF orientation of a JPEG (APP1) or PNG (eXIf) is applied, so photos
 * from phones come out upright, as with OpenCV's imread.
 *
 * Bad input never crashes: a missing file is MT_ERR_IO, a truncated, corrupt
 * or unsupported file MT_ERR_FORMAT, an image above the pixel limit
 * MT_ERR_ARG (checked from the header, before any pixel memory is taken);
 * every message names the file.
 *
 * Encoding writes baseline JPEG (quality 1..100, 4:2:0 chroma by default) or
 * 8-bit RGB PNG; files are written to a temporary name and renamed.
 */
#ifndef MT_IMAGE_IO_H
#define MT_IMAGE_IO_H

#include "image/mt_image.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum mt_image_format {
    MT_FORMAT_UNKNOWN = 0,
    MT_FORMAT_JPEG,
    MT_FORMAT_PNG
} mt_image_format;

typedef struct mt_decode_opts {
    int64_t max_pixels;      /* refuse images with more pixels; <= 0: the default limit */
    int ignore_orientation;  /* 1: keep the stored pixel order, ignore EXIF orientation */
    int strict;              /* 1: fail on any decoder warning, not only on truncation */
    int blend_alpha;         /* 1: blend transparent pixels over background; 0: drop alpha */
    uint8_t background[3];   /* RGB background for blend_alpha */
} mt_decode_opts;

/* Options with every field at its default (the default pixel limit, EXIF
 * orientation applied, warnings other than truncation tolerated, alpha
 * dropped). */
mt_decode_opts mt_decode_opts_default(void);

/* The process-wide default pixel limit (100 megapixels at start). */
int64_t mt_image_max_pixels(void);
void mt_image_set_max_pixels(int64_t n); /* n <= 0 restores the start value */

/* The format of an encoded image from its first bytes (UNKNOWN if neither). */
mt_image_format mt_image_sniff(const void *data, size_t n);

/* Width and height from the header only, without decoding the pixels (the
 * size after EXIF orientation unless opts say otherwise). name is used in
 * messages. */
mt_status mt_image_probe(const void *data, size_t n, const char *name, const mt_decode_opts *opts,
                         mt_image_format *fmt, int *width, int *height);

/* Decodes an encoded image held in memory; name is used in messages. */
mt_status mt_image_decode(mt_image **out, const void *data, size_t n, const char *name,
                          const mt_decode_opts *opts);

/* The same into *im, reusing the pixel buffer of the image already there (NULL: none) when
 * it is large enough, else freeing it: a loop that decodes many images of different sizes
 * keeps one buffer instead of paging in a fresh one each time. On failure *im is NULL (the
 * old image freed). */
mt_status mt_image_decode_reuse(mt_image **im, const void *data, size_t n, const char *name,
                                const mt_decode_opts *opts);

/* Reads and decodes the file at path (opts may be NULL for the defaults). */
mt_status mt_image_load(mt_image **out, const char *path, const mt_decode_opts *opts);

/* Encodes im as JPEG (quality 1..100; subsampling 444 or 420) or PNG
 * (quality ignored). *data is malloc'ed: release it with free(). */
mt_status mt_image_encode(const mt_image *im, mt_image_format fmt, int quality, int subsamp444,
                          uint8_t **data, size_t *n);

/* The format named by a path's extension (.jpg, .jpeg, .png; any case). */
mt_image_format mt_image_format_of_path(const char *path);

/* Encodes by the path's extension and writes the file atomically. */
mt_status mt_image_save(const mt_image *im, const char *path, int quality);


#ifdef __cplusplus
}
#endif

#endif
