/* mt_augment.c - colour jitter and the sample-to-planes conversion of the loader. */
#include "data/mt_augment.h"

#include <math.h>

#define MT_AUGMENT_MAX_SIDE 256 /* run length of the jitter loop */

mt_jitter mt_jitter_default(void) {
    mt_jitter j = {0.2, 0.5, 0.5, 0.2};
    return j;
}

/* RGB -> YIQ (NTSC) and its inverse, computed once from the forward matrix so
 * that the identity jitter maps every pixel to itself up to rounding. */
static const double YIQ[9] = {0.299, 0.587, 0.114, 0.595716, -0.274453, -0.321263,
                              0.211456, -0.522591, 0.311135};

static void invert3(const double *a, double *inv) {
    double c00 = a[4] * a[8] - a[5] * a[7], c01 = a[5] * a[6] - a[3] * a[8],
           c02 = a[3] * a[7] - a[4] * a[6];
    double det = a[0] * c00 + a[1] * c01 + a[2] * c02;
    inv[0] = c00 / det;
    inv[1] = (a[2] * a[7] - a[1] * a[8]) / det;
    inv[2] = (a[1] * a[5] - a[2] * a[4]) / det;
    inv[3] = c01 / det;
    inv[4] = (a[0] * a[8] - a[2] * a[6]) / det;
    inv[5] = (a[2] * a[3] - a[0] * a[5]) / det;
    inv[6] = c02 / det;
    inv[7] = (a[1] * a[6] - a[0] * a[7]) / det;
    inv[8] = (a[0] * a[4] - a[1] * a[3]) / det;
}

static void mul3(const double *a, const double *b, double *out) {
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++)
            out[3 * i + j] = a[3 * i] * b[j] + a[3 * i + 1] * b[3 + j] + a[3 * i + 2] * b[6 + j];
}

void mt_jitter_draw(const mt_jitter *j, const uint8_t *pixels, int64_t npix, mt_rng *rng,
                    mt_colour_map *out) {
    double ub = mt_rng_unit(rng), uc = mt_rng_unit(rng), us = mt_rng_unit(rng),
           uh = mt_rng_unit(rng);
    double bright = (2 * ub - 1) * j->brightness * 255.0;
    double contrast = 1 + (2 * uc - 1) * j->contrast;
    double sat = 1 + (2 * us - 1) * j->saturation;
    double angle = (2 * uh - 1) * j->hue * 2 * M_PI;

    double mean[3] = {0, 0, 0};
    if (contrast != 1 && npix > 0) {
        uint64_t sum[3] = {0, 0, 0};
        for (int64_t i = 0; i < npix; i++)
            for (int c = 0; c < 3; c++) sum[c] += pixels[3 * i + c];
        for (int c = 0; c < 3; c++) mean[c] = (double)sum[c] / (double)npix;
    }
    /* chroma: scale by sat and rotate by angle in the I-Q plane */
    double cs = cos(angle) * sat, sn = sin(angle) * sat;
    double chroma[9] = {1, 0, 0, 0, cs, -sn, 0, sn, cs};
    double inv[9], tmp[9], m[9];
    invert3(YIQ, inv);
    mul3(chroma, YIQ, tmp);
    mul3(inv, tmp, m);
    /* v' = m (contrast v + (1 - contrast) mean + bright) */
    for (int r = 0; r < 3; r++) {
        double t = 0;
        for (int c = 0; c < 3; c++) {
            out->m[3 * r + c] = (float)(m[3 * r + c] * contrast);
            t += m[3 * r + c] * ((1 - contrast) * mean[c] + bright);
        }
        out->t[r] = (float)t;
    }
}

void mt_sample_to_planes(const uint8_t *pixels, int size, int flip, const mt_colour_map *map,
                         mt_pixel_norm norm, float *out) {
    int64_t plane = (int64_t)size * size;
    float *R = out, *G = out + plane, *B = out + 2 * plane;
    if (!map) {
        /* the same float arithmetic as a table of the 256 levels, without building one per
         * sample (a 12x12 sample has fewer values than the table) */
        const float mean = norm.mean, scale = norm.scale;
        for (int y = 0; y < size; y++) {
            const uint8_t *row = pixels + (size_t)y * (size_t)size * 3u;
            int64_t o = (int64_t)y * size;
            for (int x = 0; x < size; x++) {
                const uint8_t *p = row + (size_t)(flip ? size - 1 - x : x) * 3u;
                R[o + x] = ((float)p[0] - mean) * scale;
                G[o + x] = ((float)p[1] - mean) * scale;
                B[o + x] = ((float)p[2] - mean) * scale;
            }
        }
        return;
    }
    const float m00 = map->m[0], m01 = map->m[1], m02 = map->m[2], m10 = map->m[3],
                m11 = map->m[4], m12 = map->m[5], m20 = map->m[6], m21 = map->m[7],
                m22 = map->m[8];
    /* value + 0.5 truncated and clamped to 0..255: rounding halves up without a libm call */
    const float t0 = map->t[0] + 0.5f, t1 = map->t[1] + 0.5f, t2 = map->t[2] + 0.5f;
    const float mean = norm.mean, scale = norm.scale;
    float rr[MT_AUGMENT_MAX_SIDE], gg[MT_AUGMENT_MAX_SIDE], bb[MT_AUGMENT_MAX_SIDE];
    for (int y = 0; y < size; y++) {
        const uint8_t *row = pixels + (size_t)y * (size_t)size * 3u;
        int64_t o = (int64_t)y * size;
        for (int x0 = 0; x0 < size; x0 += MT_AUGMENT_MAX_SIDE) {
            int n = size - x0 < MT_AUGMENT_MAX_SIDE ? size - x0 : MT_AUGMENT_MAX_SIDE;
            /* de-interleave (and mirror) a run of the row, then a loop the compiler vectorises */
            for (int i = 0; i < n; i++) {
                int x = x0 + i;
                const uint8_t *p = row + (size_t)(flip ? size - 1 - x : x) * 3u;
                rr[i] = p[0];
                gg[i] = p[1];
                bb[i] = p[2];
            }
            float *Ro = R + o + x0, *Go = G + o + x0, *Bo = B + o + x0;
            for (int i = 0; i < n; i++) {
                float r = rr[i], g = gg[i], b = bb[i];
                float u0 = m00 * r + m01 * g + m02 * b + t0;
                float u1 = m10 * r + m11 * g + m12 * b + t1;
                float u2 = m20 * r + m21 * g + m22 * b + t2;
                /* integer clamps: a loop without branches, which vectorises */
                int v0 = (int)u0, v1 = (int)u1, v2 = (int)u2;
                v0 = v0 < 0 ? 0 : v0;
                v1 = v1 < 0 ? 0 : v1;
                v2 = v2 < 0 ? 0 : v2;
                v0 = v0 > 255 ? 255 : v0;
                v1 = v1 > 255 ? 255 : v1;
                v2 = v2 > 255 ? 255 : v2;
                Ro[i] = ((float)v0 - mean) * scale; /* an 8-bit value again */
                Go[i] = ((float)v1 - mean) * scale;
                Bo[i] = ((float)v2 - mean) * scale;
            }
        }
    }
}
