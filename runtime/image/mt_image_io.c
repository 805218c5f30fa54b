/* mt_image_io.c - JPEG (TurboJPEG) and PNG (libspng) decoding and encoding. */
#include "image/mt_image_io.h"

#include "core/mt_alloc.h"
#include "core/mt_file.h"

#include <errno.h>
#include <spng.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <turbojpeg.h>

#define DEFAULT_MAX_PIXELS ((int64_t)100 * 1000 * 1000)
/* encoded files above this are refused before reading (a 100-megapixel PNG
 * with poor compression stays well below it) */
#define MAX_FILE_BYTES ((size_t)1 << 30)

static _Atomic int64_t max_pixels_setting = DEFAULT_MAX_PIXELS;

int64_t mt_image_max_pixels(void) { return atomic_load(&max_pixels_setting); }

void mt_image_set_max_pixels(int64_t n) {
    atomic_store(&max_pixels_setting, n > 0 ? n : DEFAULT_MAX_PIXELS);
}

mt_decode_opts mt_decode_opts_default(void) {
    mt_decode_opts o;
    memset(&o, 0, sizeof o);
    return o;
}

static int64_t limit_of(const mt_decode_opts *o) {
    return o && o->max_pixels > 0 ? o->max_pixels : mt_image_max_pixels();
}

static mt_status check_size(const char *name, int w, int h, const mt_decode_opts *o) {
    if (w <= 0 || h <= 0)
        return mt_fail(MT_ERR_FORMAT, "%s: the image has no pixels (%dx%d)", name, w, h);
    int64_t limit = limit_of(o);
    if ((int64_t)w * h > limit)
        return mt_fail(MT_ERR_ARG,
                       "%s: %dx%d is %.1f megapixels, above the limit of %.1f megapixels "
                       "(max_pixels)",
                       name, w, h, (double)w * h / 1e6, (double)limit / 1e6);
    if (w > MT_IMAGE_MAX_SIDE || h > MT_IMAGE_MAX_SIDE)
        return mt_fail(MT_ERR_ARG, "%s: %dx%d has a side above %d pixels", name, w, h,
                       MT_IMAGE_MAX_SIDE);
    return MT_OK;
}

mt_image_format mt_image_sniff(const void *data, size_t n) {
    const uint8_t *p = (const uint8_t *)data;
    static const uint8_t png_sig[8] = {0x89, 'P', 'N', 'G', 0x0d, 0x0a, 0x1a, 0x0a};
    if (n >= 3 && p[0] == 0xff && p[1] == 0xd8 && p[2] == 0xff) return MT_FORMAT_JPEG;
    if (n >= 8 && memcmp(p, png_sig, 8) == 0) return MT_FORMAT_PNG;
    return MT_FORMAT_UNKNOWN;
}

/* A name for formats we recognise but do not read, for the error message. */
static const char *other_format(const uint8_t *p, size_t n) {
    if (n >= 6 && (memcmp(p, "GIF87a", 6) == 0 || memcmp(p, "GIF89a", 6) == 0)) return "GIF";
    if (n >= 2 && p[0] == 'B' && p[1] == 'M') return "BMP";
    if (n >= 12 && memcmp(p, "RIFF", 4) == 0 && memcmp(p + 8, "WEBP", 4) == 0) return "WebP";
    if (n >= 4 && (memcmp(p, "II*\0", 4) == 0 || memcmp(p, "MM\0*", 4) == 0)) return "TIFF";
    return NULL;
}

/* ---- EXIF orientation --------------------------------------------------------------------- */

static unsigned rd16(const uint8_t *p, int le) {
    return le ? (unsigned)(p[0] | p[1] << 8) : (unsigned)(p[0] << 8 | p[1]);
}
static uint32_t rd32(const uint8_t *p, int le) {
    return le ? (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24
              : (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

/* The orientation tag (0x0112) of IFD0 in a TIFF block (an Exif payload):
 * 1..8, or 1 when absent or malformed. Every read is bounds-checked. */
static int tiff_orientation(const uint8_t *p, size_t n) {
    if (n < 8) return 1;
    int le;
    if (p[0] == 'I' && p[1] == 'I') le = 1;
    else if (p[0] == 'M' && p[1] == 'M') le = 0;
    else return 1;
    if (rd16(p + 2, le) != 42) return 1;
    uint32_t ifd = rd32(p + 4, le);
    if (ifd > n || n - ifd < 2) return 1;
    unsigned count = rd16(p + ifd, le);
    for (unsigned i = 0; i < count; i++) {
        size_t e = (size_t)ifd + 2 + 12 * (size_t)i;
        if (e + 12 > n) break;
        if (rd16(p + e, le) == 0x0112 && rd16(p + e + 2, le) == 3 && rd32(p + e + 4, le) >= 1) {
            unsigned v = rd16(p + e + 8, le);
            return v >= 1 && v <= 8 ? (int)v : 1;
        }
    }
    return 1;
}

/* Walks the JPEG markers before the first scan: EXIF orientation (APP1) and
 * Adobe's APP14 (whose CMYK data are stored inverted). */
static void jpeg_markers(const uint8_t *p, size_t n, int *orientation, int *adobe) {
    *orientation = 1;
    *adobe = 0;
    int seen_exif = 0;
    size_t i = 2; /* after SOI */
    while (i + 4 <= n) {
        if (p[i] != 0xff) break;
        uint8_t m = p[i + 1];
        if (m == 0xff) { /* fill byte */
            i++;
            continue;
        }
        if (m == 0x01 || (m >= 0xd0 && m <= 0xd8)) { /* markers without a length */
            i += 2;
            continue;
        }
        if (m == 0xda || m == 0xd9) break; /* start of scan, end of image */
        size_t len = (size_t)p[i + 2] << 8 | p[i + 3];
        if (len < 2 || len > n - i - 2) break;
        const uint8_t *seg = p + i + 4;
        size_t slen = len - 2;
        if (m == 0xe1 && !seen_exif && slen >= 6 && memcmp(seg, "Exif\0\0", 6) == 0) {
            *orientation = tiff_orientation(seg + 6, slen - 6);
            seen_exif = 1;
        }
        if (m == 0xee && slen >= 5 && memcmp(seg, "Adobe", 5) == 0) *adobe = 1;
        i += 2 + len;
    }
}

/* The stored image turned upright for an EXIF orientation 2..8 (a new
 * image; *im is replaced and the old one freed). */
static mt_status apply_orientation(mt_image **im, int orientation) {
    if (orientation <= 1 || orientation > 8) return MT_OK;
    const mt_image *s = *im;
    int W = s->width, H = s->height;
    int swap = orientation >= 5;
    mt_image *d;
    MT_TRY(mt_image_new_uninit(&d, swap ? H : W, swap ? W : H));
    for (int y = 0; y < d->height; y++) {
        uint8_t *q = mt_image_pixel(d, 0, y);
        for (int x = 0; x < d->width; x++, q += 3) {
            int sx, sy;
            switch (orientation) {
            case 2: sx = W - 1 - x, sy = y; break;                 /* mirrored */
            case 3: sx = W - 1 - x, sy = H - 1 - y; break;         /* turned 180 */
            case 4: sx = x, sy = H - 1 - y; break;                 /* upside down */
            case 5: sx = y, sy = x; break;                         /* transposed */
            case 6: sx = y, sy = H - 1 - x; break;                 /* turn 90 clockwise */
            case 7: sx = W - 1 - y, sy = H - 1 - x; break;         /* transversed */
            default: sx = W - 1 - y, sy = x; break;                /* 8: turn 90 anticlockwise */
            }
            const uint8_t *p = mt_image_pixel(s, sx, sy);
            q[0] = p[0], q[1] = p[1], q[2] = p[2];
        }
    }
    mt_image_free(*im);
    *im = d;
    return MT_OK;
}

/* ---- JPEG --------------------------------------------------------------------------------- */

static mt_status jpeg_header(tjhandle tj, const uint8_t *data, size_t n, const char *name, int *w,
                             int *h, int *cs) {
    int subsamp = 0;
    *w = *h = 0;
    *cs = 0;
    if (tjDecompressHeader3(tj, data, (unsigned long)n, w, h, &subsamp, cs) != 0)
        return mt_fail(MT_ERR_FORMAT, "%s: not a readable JPEG file (%s)", name,
                       tjGetErrorStr2(tj));
    /* a header cut short can "succeed" without a frame: sides are 1..65535 */
    if (*w < 1 || *h < 1 || *w > 65535 || *h > 65535)
        return mt_fail(MT_ERR_FORMAT, "%s: truncated or corrupt JPEG header (%s)", name,
                       tjGetErrorStr2(tj));
    return MT_OK;
}

/* Warnings after which the decoded picture is whole and right: stray bytes
 * between markers, odd but harmless headers. Everything else (truncation,
 * damaged entropy data) fails, unless the caller asked for strictness, in
 * which case these fail too. TurboJPEG's warning/fatal code is not reliable
 * after an earlier warning, so the message decides. */
static int benign_jpeg_warning(const char *msg) {
    static const char *const benign[] = {
        "extraneous bytes before marker",
        "unknown JFIF revision",
        "Inconsistent progression sequence",
        "bad ICC marker",
        "Invalid SOS parameters for sequential JPEG",
    };
    for (size_t i = 0; i < sizeof benign / sizeof benign[0]; i++)
        if (strstr(msg, benign[i])) return 1;
    return 0;
}

/* Converts n CMYK pixels to RGB. Adobe files store the inks inverted
 * (255 = no ink), others plain ink amounts. The arithmetic is OpenCV's
 * (value = k - (255 - c) * k / 256 on inverted data), so that CMYK files
 * decode as they do for the reference tools. */
static void cmyk_to_rgb(const uint8_t *src, uint8_t *dst, size_t n, int inverted) {
    for (size_t i = 0; i < n; i++, src += 4, dst += 3) {
        unsigned c = src[0], m = src[1], y = src[2], k = src[3];
        if (!inverted) c = 255 - c, m = 255 - m, y = 255 - y, k = 255 - k;
        dst[0] = (uint8_t)(k - (((255 - c) * k) >> 8));
        dst[1] = (uint8_t)(k - (((255 - m) * k) >> 8));
        dst[2] = (uint8_t)(k - (((255 - y) * k) >> 8));
    }
}

/* A w x h image for a decoder: the buffer of *reuse when it is large enough (the image is
 * then taken from *reuse), else a new one. */
static mt_status target_image(mt_image **im, mt_image **reuse, int w, int h) {
    if (*reuse && (*reuse)->capacity >= mt_image_bytes(w, h)) {
        *im = *reuse;
        *reuse = NULL;
        (*im)->width = w;
        (*im)->height = h;
        return MT_OK;
    }
    return mt_image_new_uninit(im, w, h);
}

static mt_status decode_jpeg(mt_image **out, mt_image **reuse, const uint8_t *data, size_t n,
                             const char *name, const mt_decode_opts *o) {
    tjhandle tj = tjInitDecompress();
    if (!tj) return mt_fail(MT_ERR_OOM, "%s: cannot start the JPEG decoder", name);
    mt_status st = MT_OK;
    uint8_t *cmyk = NULL;
    size_t cmyk_bytes = 0;
    mt_image *im = NULL;
    int w, h, cs, orientation, adobe;
    st = jpeg_header(tj, data, n, name, &w, &h, &cs);
    if (st == MT_OK) st = check_size(name, w, h, o);
    if (st != MT_OK) goto done;
    jpeg_markers(data, n, &orientation, &adobe);
    st = target_image(&im, reuse, w, h);
    if (st != MT_OK) goto done;
    int flags = TJFLAG_LIMITSCANS | (o && o->strict ? TJFLAG_STOPONWARNING : 0);
    int is_cmyk = cs == TJCS_CMYK || cs == TJCS_YCCK;
    int rc;
    if (is_cmyk) {
        /* TurboJPEG decodes such files only to CMYK; the conversion is ours */
        cmyk_bytes = (size_t)w * (size_t)h * 4u;
        cmyk = (uint8_t *)mt_host_alloc(cmyk_bytes, "image: CMYK buffer");
        if (!cmyk) {
            st = mt_error_prefix(MT_ERR_OOM, name);
            goto done;
        }
        rc = tjDecompress2(tj, data, (unsigned long)n, cmyk, w, 0, h, TJPF_CMYK, flags);
    } else {
        rc = tjDecompress2(tj, data, (unsigned long)n, im->data, w, 0, h, TJPF_RGB, flags);
    }
    if (rc != 0) {
        const char *msg = tjGetErrorStr2(tj);
        if (tjGetErrorCode(tj) != TJERR_WARNING || (o && o->strict) || !benign_jpeg_warning(msg)) {
            st = mt_fail(MT_ERR_FORMAT, "%s: truncated or corrupt JPEG file (%s)", name, msg);
            goto done;
        }
    }
    if (is_cmyk) cmyk_to_rgb(cmyk, im->data, (size_t)w * (size_t)h, adobe);
    if (!(o && o->ignore_orientation)) st = apply_orientation(&im, orientation);
done:
    mt_host_free(cmyk, cmyk_bytes);
    tjDestroy(tj);
    if (st != MT_OK) {
        mt_image_free(im);
        im = NULL;
    }
    *out = im;
    return st;
}

/* ---- PNG ---------------------------------------------------------------------------------- */

static spng_ctx *png_open(const uint8_t *data, size_t n, const char *name, mt_status *st) {
    spng_ctx *ctx = spng_ctx_new(0);
    if (!ctx) {
        *st = mt_fail(MT_ERR_OOM, "%s: cannot start the PNG decoder", name);
        return NULL;
    }
    /* bounded metadata: text and unknown chunks cannot take more than this */
    spng_set_chunk_limits(ctx, (size_t)64 << 20, (size_t)64 << 20);
    int rc = spng_set_png_buffer(ctx, data, n);
    if (rc != 0) {
        *st = mt_fail(MT_ERR_FORMAT, "%s: not a readable PNG file (%s)", name, spng_strerror(rc));
        spng_ctx_free(ctx);
        return NULL;
    }
    *st = MT_OK;
    return ctx;
}

static int png_orientation(spng_ctx *ctx) {
    struct spng_exif exif;
    if (spng_get_exif(ctx, &exif) != 0 || !exif.data) return 1;
    return tiff_orientation((const uint8_t *)exif.data, exif.length);
}

static mt_status decode_png(mt_image **out, mt_image **reuse, const uint8_t *data, size_t n,
                            const char *name, const mt_decode_opts *o) {
    mt_status st;
    mt_image *im = NULL;
    uint8_t *rgba = NULL;
    size_t rgba_bytes = 0;
    spng_ctx *ctx = png_open(data, n, name, &st);
    if (!ctx) goto done;
    struct spng_ihdr ihdr;
    int rc = spng_get_ihdr(ctx, &ihdr);
    if (rc != 0) {
        st = mt_fail(MT_ERR_FORMAT, "%s: not a readable PNG file (%s)", name, spng_strerror(rc));
        goto done;
    }
    st = check_size(name, (int)ihdr.width, (int)ihdr.height, o);
    if (st != MT_OK) goto done;
    int w = (int)ihdr.width, h = (int)ihdr.height;
    struct spng_trns trns;
    int has_alpha = ihdr.color_type == SPNG_COLOR_TYPE_GRAYSCALE_ALPHA ||
                    ihdr.color_type == SPNG_COLOR_TYPE_TRUECOLOR_ALPHA ||
                    spng_get_trns(ctx, &trns) == 0;
    st = target_image(&im, reuse, w, h);
    if (st != MT_OK) goto done;
    if (has_alpha && o && o->blend_alpha) {
        rgba_bytes = (size_t)w * (size_t)h * 4u;
        rgba = (uint8_t *)mt_host_alloc(rgba_bytes, "image: RGBA buffer");
        if (!rgba) {
            st = mt_error_prefix(MT_ERR_OOM, name);
            goto done;
        }
        rc = spng_decode_image(ctx, rgba, rgba_bytes, SPNG_FMT_RGBA8, SPNG_DECODE_TRNS);
    } else {
        rc = spng_decode_image(ctx, im->data, mt_image_bytes(w, h), SPNG_FMT_RGB8, 0);
    }
    /* read on to the end: a file cut after its image data lacks IEND */
    if (rc == 0) rc = spng_decode_chunks(ctx);
    if (rc != 0) {
        st = mt_fail(MT_ERR_FORMAT, "%s: truncated or corrupt PNG file (%s)", name,
                     spng_strerror(rc));
        goto done;
    }
    if (rgba) {
        const uint8_t *bg = o->background;
        const uint8_t *p = rgba;
        uint8_t *q = im->data;
        for (size_t i = 0, np = (size_t)w * (size_t)h; i < np; i++, p += 4, q += 3) {
            unsigned a = p[3];
            for (int c = 0; c < 3; c++) q[c] = (uint8_t)((p[c] * a + bg[c] * (255 - a) + 127) / 255);
        }
    }
    if (!(o && o->ignore_orientation)) st = apply_orientation(&im, png_orientation(ctx));
done:
    mt_host_free(rgba, rgba_bytes);
    if (ctx) spng_ctx_free(ctx);
    if (st != MT_OK) {
        mt_image_free(im);
        im = NULL;
    }
    *out = im;
    return st;
}

/* ---- entry points ------------------------------------------------------------------------- */

static mt_status unknown_format(const uint8_t *p, size_t n, const char *name) {
    if (n == 0) return mt_fail(MT_ERR_FORMAT, "%s: empty file, not an image", name);
    const char *other = other_format(p, n);
    if (other)
        return mt_fail(MT_ERR_FORMAT, "%s: %s images are not supported (only JPEG and PNG)", name,
                       other);
    return mt_fail(MT_ERR_FORMAT, "%s: not a JPEG or PNG file", name);
}

mt_status mt_image_probe(const void *data, size_t n, const char *name, const mt_decode_opts *opts,
                         mt_image_format *fmt, int *width, int *height) {
    const uint8_t *p = (const uint8_t *)data;
    *fmt = mt_image_sniff(p, n);
    int w = 0, h = 0, orientation = 1;
    if (*fmt == MT_FORMAT_JPEG) {
        tjhandle tj = tjInitDecompress();
        if (!tj) return mt_fail(MT_ERR_OOM, "%s: cannot start the JPEG decoder", name);
        int cs, adobe;
        mt_status st = jpeg_header(tj, p, n, name, &w, &h, &cs);
        tjDestroy(tj);
        MT_TRY(st);
        jpeg_markers(p, n, &orientation, &adobe);
    } else if (*fmt == MT_FORMAT_PNG) {
        mt_status st;
        spng_ctx *ctx = png_open(p, n, name, &st);
        if (!ctx) return st;
        struct spng_ihdr ihdr;
        int rc = spng_get_ihdr(ctx, &ihdr);
        if (rc == 0) orientation = png_orientation(ctx);
        spng_ctx_free(ctx);
        if (rc != 0)
            return mt_fail(MT_ERR_FORMAT, "%s: not a readable PNG file (%s)", name,
                           spng_strerror(rc));
        w = (int)ihdr.width, h = (int)ihdr.height;
    } else {
        return unknown_format(p, n, name);
    }
    if (opts && opts->ignore_orientation) orientation = 1;
    *width = orientation >= 5 ? h : w;
    *height = orientation >= 5 ? w : h;
    return MT_OK;
}

mt_status mt_image_decode_reuse(mt_image **im, const void *data, size_t n, const char *name,
                                const mt_decode_opts *opts) {
    mt_image *reuse = *im;
    *im = NULL;
    const uint8_t *p = (const uint8_t *)data;
    mt_status st;
    switch (mt_image_sniff(p, n)) {
    case MT_FORMAT_JPEG: st = decode_jpeg(im, &reuse, p, n, name, opts); break;
    case MT_FORMAT_PNG: st = decode_png(im, &reuse, p, n, name, opts); break;
    default: st = unknown_format(p, n, name); break;
    }
    mt_image_free(reuse); /* not taken: too small, or no image */
    return st;
}

mt_status mt_image_decode(mt_image **out, const void *data, size_t n, const char *name,
                          const mt_decode_opts *opts) {
    *out = NULL;
    return mt_image_decode_reuse(out, data, n, name, opts);
}

mt_status mt_image_load(mt_image **out, const char *path, const mt_decode_opts *opts) {
    *out = NULL;
    uint8_t *buf;
    size_t n;
    MT_TRY(mt_read_file(path, &buf, &n, MAX_FILE_BYTES));
    mt_status st = mt_image_decode(out, buf, n, path, opts);
    free(buf);
    return st;
}

/* ---- encoding ----------------------------------------------------------------------------- */

static mt_status encode_jpeg(const mt_image *im, int quality, int subsamp444, uint8_t **data,
                             size_t *n) {
    tjhandle tj = tjInitCompress();
    if (!tj) return mt_fail(MT_ERR_OOM, "encode: cannot start the JPEG encoder");
    unsigned char *buf = NULL;
    unsigned long size = 0;
    mt_status st = MT_OK;
    if (tjCompress2(tj, im->data, im->width, 0, im->height, TJPF_RGB, &buf, &size,
                    subsamp444 ? TJSAMP_444 : TJSAMP_420, quality, TJFLAG_ACCURATEDCT) != 0) {
        st = mt_fail(MT_ERR_FORMAT, "encode: JPEG encoding failed (%s)", tjGetErrorStr2(tj));
    } else {
        *data = (uint8_t *)malloc(size);
        if (!*data) {
            st = mt_fail(MT_ERR_OOM, "encode: out of memory");
        } else {
            memcpy(*data, buf, size);
            *n = size;
        }
    }
    tjFree(buf);
    tjDestroy(tj);
    return st;
}

static mt_status encode_png(const mt_image *im, uint8_t **data, size_t *n) {
    spng_ctx *ctx = spng_ctx_new(SPNG_CTX_ENCODER);
    if (!ctx) return mt_fail(MT_ERR_OOM, "encode: cannot start the PNG encoder");
    spng_set_option(ctx, SPNG_ENCODE_TO_BUFFER, 1);
    struct spng_ihdr ihdr = {0};
    ihdr.width = (uint32_t)im->width;
    ihdr.height = (uint32_t)im->height;
    ihdr.bit_depth = 8;
    ihdr.color_type = SPNG_COLOR_TYPE_TRUECOLOR;
    mt_status st = MT_OK;
    int rc = spng_set_ihdr(ctx, &ihdr);
    if (rc == 0)
        rc = spng_encode_image(ctx, im->data, mt_image_bytes(im->width, im->height), SPNG_FMT_PNG,
                               SPNG_ENCODE_FINALIZE);
    if (rc == 0) {
        int err = 0;
        void *buf = spng_get_png_buffer(ctx, n, &err);
        if (!buf || err) rc = err ? err : SPNG_EMEM;
        else *data = (uint8_t *)buf; /* malloc'ed by libspng, ours to free() */
    }
    if (rc != 0) st = mt_fail(MT_ERR_FORMAT, "encode: PNG encoding failed (%s)", spng_strerror(rc));
    spng_ctx_free(ctx);
    return st;
}

mt_status mt_image_encode(const mt_image *im, mt_image_format fmt, int quality, int subsamp444,
                          uint8_t **data, size_t *n) {
    *data = NULL;
    *n = 0;
    if (im->width < 1 || im->height < 1)
        return mt_fail(MT_ERR_ARG, "encode: cannot encode an empty %dx%d image", im->width,
                       im->height);
    if (fmt == MT_FORMAT_JPEG) {
        if (quality < 1 || quality > 100)
            return mt_fail(MT_ERR_ARG, "encode: JPEG quality %d is not in 1..100", quality);
        return encode_jpeg(im, quality, subsamp444, data, n);
    }
    if (fmt == MT_FORMAT_PNG) return encode_png(im, data, n);
    return mt_fail(MT_ERR_ARG, "encode: unknown format");
}

mt_image_format mt_image_format_of_path(const char *path) {
    const char *dot = strrchr(path, '.');
    const char *slash = strrchr(path, '/');
    if (!dot || (slash && dot < slash)) return MT_FORMAT_UNKNOWN;
    if (strcasecmp(dot, ".jpg") == 0 || strcasecmp(dot, ".jpeg") == 0) return MT_FORMAT_JPEG;
    if (strcasecmp(dot, ".png") == 0) return MT_FORMAT_PNG;
    return MT_FORMAT_UNKNOWN;
}

mt_status mt_image_save(const mt_image *im, const char *path, int quality) {
    mt_image_format fmt = mt_image_format_of_path(path);
    if (fmt == MT_FORMAT_UNKNOWN)
        return mt_fail(MT_ERR_ARG, "%s: unknown image extension (use .jpg, .jpeg or .png)", path);
    uint8_t *buf;
    size_t n;
    mt_status st = mt_image_encode(im, fmt, quality, 0, &buf, &n);
    if (st != MT_OK) return mt_error_prefix(st, path);
    mt_atomic_file af;
    st = mt_atomic_open(&af, path);
    if (st == MT_OK) {
        st = mt_atomic_write(&af, buf, n);
        if (st == MT_OK) st = mt_atomic_commit(&af);
        else mt_atomic_abort(&af);
    }
    free(buf);
    return st;
}
