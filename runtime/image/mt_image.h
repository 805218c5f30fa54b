/*
 * mt_image.h - 8-bit RGB images: the object, pixel access, simple copies
 * (crop with zero fill, mirror), conversion to and from float tensors.
 *
 * An image is height rows of width RGB triplets, row-major, no padding
 * (row stride = 3 * width bytes), in memory from mt_host_alloc. Pixel
 * coordinates are 0-based: (x, y) is column x of row y, and pixel (x, y)
 * covers the square [x, x+1) x [y, y+1) with its centre at (x + 0.5, y + 0.5)
 * in continuous coordinates. A box [x1, y1, x2, y2] is INCLUSIVE (docs/design.md,
 * 'Pixels and boxes'): it holds x2 - x1 + 1 columns.
 *
 * Ownership: mt_image_new and every function that returns an image through
 * `mt_image **out` give the caller an image to free with mt_image_free. No
 * function takes ownership of its arguments. Errors: MT_ERR_ARG for bad
 * sizes or arguments, MT_ERR_OOM when memory runs out; messages name the
 * function and the sizes.
 */
#ifndef MT_IMAGE_H
#define MT_IMAGE_H

#include "core/mt_tensor.h"

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mt_image {
    int width, height;
    uint8_t *data;   /* height * width * 3 bytes, RGB, owned */
    size_t capacity; /* bytes allocated at data (0 for a view that owns nothing) */
} mt_image;

/* Largest width or height accepted anywhere (keeps every index in int). */
#define MT_IMAGE_MAX_SIDE (1 << 24)

/* Bytes of pixel data of an image of this size. */
static inline size_t mt_image_bytes(int width, int height) {
    return (size_t)width * (size_t)height * 3u;
}

/* Pointer to pixel (x, y) (no bounds check). */
static inline uint8_t *mt_image_pixel(const mt_image *im, int x, int y) {
    return im->data + ((size_t)y * (size_t)im->width + (size_t)x) * 3u;
}

/* A new width x height image, zero-filled (black). Sizes may be 0. */
mt_status mt_image_new(mt_image **out, int width, int height);
/* The same with unspecified pixels, for producers that write every pixel. */
mt_status mt_image_new_uninit(mt_image **out, int width, int height);
/* Frees the image and its pixels (NULL is ignored). Pixel buffers of a few
 * freed images are kept (at most 96 MiB) and handed to new images of about
 * the same size: a fresh multi-megabyte buffer costs more in page faults than
 * decoding a JPEG into it. */
void mt_image_free(mt_image *im);
/* Pixel bytes of the images alive now (the kept buffers not included). */
size_t mt_image_bytes_live(void);
/* Bytes of the freed buffers kept for reuse. */
size_t mt_image_bytes_cached(void);
/* Frees the kept buffers. */
void mt_image_release_cache(void);
/* A copy of src. */
mt_status mt_image_clone(mt_image **out, const mt_image *src);

/* The region [x1, x2] x [y1, y2] (inclusive) of src as a new image; the parts
 * outside src are black (the original's padding). Needs x2 >= x1 and y2 >= y1. */
mt_status mt_image_crop(mt_image **out, const mt_image *src, int x1, int y1, int x2, int y2);

/* Mirrors im left-right in place. */
void mt_image_flip_inplace(mt_image *im);

/* Fills the whole image with one colour. */
void mt_image_fill(mt_image *im, uint8_t r, uint8_t g, uint8_t b);

/* Pastes src into dst with its top-left corner at (x, y); the parts that fall
 * outside dst are dropped. */
void mt_image_paste(mt_image *dst, const mt_image *src, int x, int y);

/* The affine map applied to pixel values on their way into a tensor:
 * v' = (v - mean) * scale. The project's normalisation is mean 127.5, scale
 * 0.0078125 (= 1/128; docs/design.md, 'Colour and normalisation'); mean 0,
 * scale 1 keeps 0..255. */
typedef struct mt_pixel_norm {
    float mean, scale;
} mt_pixel_norm;
#define MT_NORM_MTCNN ((mt_pixel_norm){127.5f, 0.0078125f})
#define MT_NORM_NONE ((mt_pixel_norm){0.0f, 1.0f})

/* Writes the images into out, a CPU tensor of shape [n, 3, H, W] (any
 * strides), channel planes R, G, B, values normalised by norm. Every image
 * must be W x H. MT_ERR_SHAPE otherwise. */
mt_status mt_image_to_tensor(const mt_image *const *ims, int n, mt_tensor *out, mt_pixel_norm norm);

/* An image from a CPU tensor of shape [3, H, W] or [1, 3, H, W]: values are
 * mapped back with v = v' / scale + mean, rounded to nearest and clamped to
 * 0..255. */
mt_status mt_image_from_tensor(mt_image **out, const mt_tensor *t, mt_pixel_norm norm);

#ifdef __cplusplus
}
#endif

#endif
