/* mt_image.c - the image object (with a small cache of freed pixel buffers), crops,
 * mirroring and tensor conversion. */
#include "image/mt_image.h"

#include "core/mt_alloc.h"

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

/* ---- pixel buffers: a small cache of freed ones ------------------------------------------- */

#define CACHE_SLOTS 32
#define CACHE_MAX_BYTES ((size_t)96 << 20)
#define CACHE_MIN_BYTES ((size_t)256 << 10) /* smaller buffers: malloc reuses them well */

static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;
static struct {
    uint8_t *p;
    size_t cap;
} cache[CACHE_SLOTS];
static size_t cache_bytes;
static atomic_size_t live_bytes;

/* A kept buffer of at least need bytes and at most a quarter more, or NULL. */
static uint8_t *cache_take(size_t need, size_t *cap) {
    if (need < CACHE_MIN_BYTES) return NULL;
    pthread_mutex_lock(&cache_lock);
    int best = -1;
    for (int i = 0; i < CACHE_SLOTS; i++)
        if (cache[i].p && cache[i].cap >= need && cache[i].cap - need <= need / 4 &&
            (best < 0 || cache[i].cap < cache[best].cap))
            best = i;
    uint8_t *p = NULL;
    if (best >= 0) {
        p = cache[best].p, *cap = cache[best].cap;
        cache[best].p = NULL;
        cache_bytes -= *cap;
    }
    pthread_mutex_unlock(&cache_lock);
    return p;
}

/* Keeps a buffer if there is room; returns 0 when the caller must free it. */
static int cache_put(uint8_t *p, size_t cap) {
    if (cap < CACHE_MIN_BYTES || cap > CACHE_MAX_BYTES / 4) return 0;
    int kept = 0;
    pthread_mutex_lock(&cache_lock);
    if (cache_bytes + cap <= CACHE_MAX_BYTES)
        for (int i = 0; i < CACHE_SLOTS && !kept; i++)
            if (!cache[i].p) {
                cache[i].p = p, cache[i].cap = cap;
                cache_bytes += cap;
                kept = 1;
            }
    pthread_mutex_unlock(&cache_lock);
    return kept;
}

void mt_image_release_cache(void) {
    pthread_mutex_lock(&cache_lock);
    for (int i = 0; i < CACHE_SLOTS; i++) {
        mt_host_free(cache[i].p, cache[i].cap);
        cache[i].p = NULL;
    }
    cache_bytes = 0;
    pthread_mutex_unlock(&cache_lock);
}

size_t mt_image_bytes_live(void) { return atomic_load(&live_bytes); }

size_t mt_image_bytes_cached(void) {
    pthread_mutex_lock(&cache_lock);
    size_t n = cache_bytes;
    pthread_mutex_unlock(&cache_lock);
    return n;
}

mt_status mt_image_new_uninit(mt_image **out, int width, int height) {
    *out = NULL;
    if (width < 0 || height < 0 || width > MT_IMAGE_MAX_SIDE || height > MT_IMAGE_MAX_SIDE)
        return mt_fail(MT_ERR_ARG, "image: bad size %dx%d (sides must be 0..%d)", width, height,
                       MT_IMAGE_MAX_SIDE);
    mt_image *im = (mt_image *)calloc(1, sizeof *im);
    if (!im) return mt_fail(MT_ERR_OOM, "image: out of memory");
    /* an empty image still owns a (minimal) block: capacity 0 marks views */
    size_t n = mt_image_bytes(width, height), cap = n ? n : 1;
    im->data = cache_take(n, &cap);
    if (!im->data) im->data = (uint8_t *)mt_host_alloc(cap, "image");
    if (!im->data) {
        free(im);
        return MT_ERR_OOM;
    }
    im->width = width;
    im->height = height;
    im->capacity = cap;
    atomic_fetch_add(&live_bytes, cap);
    *out = im;
    return MT_OK;
}

mt_status mt_image_new(mt_image **out, int width, int height) {
    MT_TRY(mt_image_new_uninit(out, width, height));
    memset((*out)->data, 0, mt_image_bytes(width, height));
    return MT_OK;
}

void mt_image_free(mt_image *im) {
    if (!im) return;
    if (im->capacity) {
        atomic_fetch_sub(&live_bytes, im->capacity);
        if (!cache_put(im->data, im->capacity)) mt_host_free(im->data, im->capacity);
    }
    free(im);
}

mt_status mt_image_clone(mt_image **out, const mt_image *src) {
    MT_TRY(mt_image_new_uninit(out, src->width, src->height));
    memcpy((*out)->data, src->data, mt_image_bytes(src->width, src->height));
    return MT_OK;
}

void mt_image_paste(mt_image *dst, const mt_image *src, int x, int y) {
    /* the overlap of src (placed at x, y) with dst, in dst coordinates */
    int64_t ax = x > 0 ? x : 0, ay = y > 0 ? y : 0;
    int64_t bx = (int64_t)x + src->width, by = (int64_t)y + src->height;
    if (bx > dst->width) bx = dst->width;
    if (by > dst->height) by = dst->height;
    if (bx <= ax || by <= ay) return;
    size_t row = (size_t)(bx - ax) * 3u;
    for (int64_t yy = ay; yy < by; yy++)
        memcpy(mt_image_pixel(dst, (int)ax, (int)yy),
               mt_image_pixel(src, (int)(ax - x), (int)(yy - y)), row);
}

mt_status mt_image_crop(mt_image **out, const mt_image *src, int x1, int y1, int x2, int y2) {
    *out = NULL;
    int64_t w = (int64_t)x2 - x1 + 1, h = (int64_t)y2 - y1 + 1;
    if (w < 1 || h < 1 || w > MT_IMAGE_MAX_SIDE || h > MT_IMAGE_MAX_SIDE)
        return mt_fail(MT_ERR_ARG, "crop: box [%d, %d, %d, %d] gives a %lldx%lld image", x1, y1,
                       x2, y2, (long long)w, (long long)h);
    MT_TRY(mt_image_new(out, (int)w, (int)h));
    /* pasting src at (-x1, -y1) copies the in-image part; the rest stays black */
    mt_image_paste(*out, src, -x1, -y1);
    return MT_OK;
}

void mt_image_flip_inplace(mt_image *im) {
    for (int y = 0; y < im->height; y++) {
        uint8_t *a = mt_image_pixel(im, 0, y), *b = mt_image_pixel(im, im->width - 1, y);
        for (; a < b; a += 3, b -= 3) {
            uint8_t t0 = a[0], t1 = a[1], t2 = a[2];
            a[0] = b[0], a[1] = b[1], a[2] = b[2];
            b[0] = t0, b[1] = t1, b[2] = t2;
        }
    }
}

void mt_image_fill(mt_image *im, uint8_t r, uint8_t g, uint8_t b) {
    size_t n = (size_t)im->width * (size_t)im->height;
    uint8_t *p = im->data;
    for (size_t i = 0; i < n; i++, p += 3) p[0] = r, p[1] = g, p[2] = b;
}

mt_status mt_image_to_tensor(const mt_image *const *ims, int n, mt_tensor *out, mt_pixel_norm norm) {
    char s[MT_SHAPE_STR];
    if (mt_tensor_device(out) != MT_CPU)
        return mt_fail(MT_ERR_DEVICE, "to_tensor: the output tensor must be on the cpu");
    if (out->ndim != 4 || out->shape[0] != n || out->shape[1] != 3)
        return mt_fail(MT_ERR_SHAPE, "to_tensor: output %s should be %dx3xHxW",
                       mt_tensor_shape_str(out, s), n);
    int64_t H = out->shape[2], W = out->shape[3];
    for (int i = 0; i < n; i++)
        if (ims[i]->width != W || ims[i]->height != H)
            return mt_fail(MT_ERR_SHAPE, "to_tensor: image %d is %dx%d, the batch is %lldx%lld",
                           i + 1, ims[i]->width, ims[i]->height, (long long)W, (long long)H);
    float *base = mt_tensor_data(out);
    const int64_t *st = out->stride;
    /* a table of the 256 possible values keeps the loop to loads and stores */
    float lut[256];
    for (int v = 0; v < 256; v++) lut[v] = ((float)v - norm.mean) * norm.scale;
    for (int i = 0; i < n; i++) {
        const mt_image *im = ims[i];
        for (int64_t y = 0; y < H; y++) {
            const uint8_t *p = mt_image_pixel(im, 0, (int)y);
            float *r = base + i * st[0] + y * st[2];
            float *g = r + st[1], *b = r + 2 * st[1];
            int64_t sx = st[3];
            for (int64_t x = 0; x < W; x++, p += 3) {
                r[x * sx] = lut[p[0]];
                g[x * sx] = lut[p[1]];
                b[x * sx] = lut[p[2]];
            }
        }
    }
    return MT_OK;
}

static uint8_t to_u8(float v) {
    if (!(v > 0.0f)) return 0; /* NaN too */
    if (v >= 255.0f) return 255;
    return (uint8_t)lrintf(v);
}

mt_status mt_image_from_tensor(mt_image **out, const mt_tensor *t, mt_pixel_norm norm) {
    char s[MT_SHAPE_STR];
    *out = NULL;
    if (mt_tensor_device(t) != MT_CPU)
        return mt_fail(MT_ERR_DEVICE, "from_tensor: the tensor must be on the cpu");
    int c0 = t->ndim - 3;
    if (!((t->ndim == 3) || (t->ndim == 4 && t->shape[0] == 1)) || t->shape[c0] != 3)
        return mt_fail(MT_ERR_SHAPE, "from_tensor: tensor %s should be 3xHxW or 1x3xHxW",
                       mt_tensor_shape_str(t, s));
    int64_t H = t->shape[c0 + 1], W = t->shape[c0 + 2];
    if (H > MT_IMAGE_MAX_SIDE || W > MT_IMAGE_MAX_SIDE)
        return mt_fail(MT_ERR_ARG, "from_tensor: tensor %s is too large for an image",
                       mt_tensor_shape_str(t, s));
    MT_TRY(mt_image_new_uninit(out, (int)W, (int)H));
    const float *base = mt_tensor_data(t);
    int64_t sc = t->stride[c0], sy = t->stride[c0 + 1], sx = t->stride[c0 + 2];
    float inv = norm.scale != 0.0f ? 1.0f / norm.scale : 1.0f;
    for (int64_t y = 0; y < H; y++) {
        uint8_t *p = mt_image_pixel(*out, 0, (int)y);
        for (int64_t x = 0; x < W; x++, p += 3)
            for (int c = 0; c < 3; c++) p[c] = to_u8(base[c * sc + y * sy + x * sx] * inv + norm.mean);
    }
    return MT_OK;
}
