/* mt_warp.c - rotation matrices, similarity fits, bilinear affine warps, face alignment. */
#include "image/mt_warp.h"

#include "core/mt_threads.h"

#include <math.h>
#include <string.h>

void mt_rotation_matrix(double cx, double cy, double angle_deg, double scale, double m[6]) {
    double t = angle_deg * (3.14159265358979323846 / 180.0);
    double a = scale * cos(t), b = scale * sin(t);
    m[0] = a, m[1] = b, m[2] = (1 - a) * cx - b * cy;
    m[3] = -b, m[4] = a, m[5] = b * cx + (1 - a) * cy;
}

mt_status mt_affine_invert(const double m[6], double inv[6]) {
    double det = m[0] * m[4] - m[1] * m[3];
    if (!(fabs(det) > 1e-12) || !isfinite(det))
        return mt_fail(MT_ERR_ARG, "affine: the matrix is singular (determinant %g)", det);
    double a = m[4] / det, b = -m[1] / det, c = -m[3] / det, d = m[0] / det;
    inv[0] = a, inv[1] = b, inv[2] = -(a * m[2] + b * m[5]);
    inv[3] = c, inv[4] = d, inv[5] = -(c * m[2] + d * m[5]);
    return MT_OK;
}

void mt_affine_points(const double m[6], double *xy, int64_t n) {
    for (int64_t i = 0; i < n; i++) {
        double x = xy[2 * i], y = xy[2 * i + 1];
        xy[2 * i] = m[0] * x + m[1] * y + m[2];
        xy[2 * i + 1] = m[3] * x + m[4] * y + m[5];
    }
}

mt_status mt_similarity_fit(const double *src, const double *dst, int n, double m[6]) {
    if (n < 2) return mt_fail(MT_ERR_ARG, "similarity: needs at least 2 points, got %d", n);
    double sx = 0, sy = 0, dx = 0, dy = 0;
    for (int i = 0; i < n; i++) {
        sx += src[2 * i], sy += src[2 * i + 1];
        dx += dst[2 * i], dy += dst[2 * i + 1];
    }
    sx /= n, sy /= n, dx /= n, dy /= n;
    /* with centred points P, Q the best Q ~ [a -b; b a] P is
     * a = sum(P.Q) / |P|^2, b = sum(P x Q) / |P|^2 */
    double pp = 0, dot = 0, cross = 0;
    for (int i = 0; i < n; i++) {
        double px = src[2 * i] - sx, py = src[2 * i + 1] - sy;
        double qx = dst[2 * i] - dx, qy = dst[2 * i + 1] - dy;
        pp += px * px + py * py;
        dot += px * qx + py * qy;
        cross += px * qy - py * qx;
    }
    if (!(pp > 1e-12) || !isfinite(pp))
        return mt_fail(MT_ERR_ARG, "similarity: the source points coincide");
    double a = dot / pp, b = cross / pp;
    m[0] = a, m[1] = -b, m[2] = dx - (a * sx - b * sy);
    m[3] = b, m[4] = a, m[5] = dy - (b * sx + a * sy);
    return MT_OK;
}

typedef struct warp_job {
    const mt_image *src;
    mt_image *dst;
    double inv[6];
    const uint8_t *border;
} warp_job;

static uint8_t round_u8(float v) {
    if (!(v > 0.0f)) return 0;
    if (v >= 255.0f) return 255;
    /* lrintf's rounding (to nearest, ties to even) without its call: 0 < v < 255 */
    const float big = 12582912.0f; /* 1.5 * 2^23 */
    return (uint8_t)(int)((v + big) - big);
}

void mt_warp_pixel(const mt_image *s, const double inv[6], const uint8_t border[3], int x, int y,
                   uint8_t q[3]) {
    int W = s->width, H = s->height;
    double fx = inv[0] * x + inv[1] * (double)y + inv[2];
    double fy = inv[3] * x + inv[4] * (double)y + inv[5];
    if (!(fx > -1.0 && fx < W && fy > -1.0 && fy < H)) { /* no neighbour inside */
        q[0] = border[0], q[1] = border[1], q[2] = border[2];
        return;
    }
    /* floor without a libm call: fx, fy > -1 here, truncation rounds up below 0 */
    int x0 = (int)fx, y0 = (int)fy;
    if (fx < x0) x0--;
    if (fy < y0) y0--;
    float ax = (float)(fx - x0), ay = (float)(fy - y0);
    float w[4] = {(1 - ax) * (1 - ay), ax * (1 - ay), (1 - ax) * ay, ax * ay};
    float acc[3] = {0, 0, 0};
    for (int k = 0; k < 4; k++) {
        int xx = x0 + (k & 1), yy = y0 + (k >> 1);
        const uint8_t *p = xx >= 0 && xx < W && yy >= 0 && yy < H ? mt_image_pixel(s, xx, yy) : border;
        for (int c = 0; c < 3; c++) acc[c] += w[k] * (float)p[c];
    }
    for (int c = 0; c < 3; c++) q[c] = round_u8(acc[c]);
}

static void warp_rows(void *ctx, int64_t begin, int64_t end, int thread) {
    (void)thread;
    warp_job *j = (warp_job *)ctx;
    for (int64_t y = begin; y < end; y++) {
        uint8_t *q = mt_image_pixel(j->dst, 0, (int)y);
        for (int x = 0; x < j->dst->width; x++, q += 3)
            mt_warp_pixel(j->src, j->inv, j->border, x, (int)y, q);
    }
}

mt_status mt_warp_affine(mt_image **out, const mt_image *src, const double m[6], int dw, int dh,
                         const uint8_t border[3]) {
    *out = NULL;
    if (dw < 1 || dh < 1 || dw > MT_IMAGE_MAX_SIDE || dh > MT_IMAGE_MAX_SIDE)
        return mt_fail(MT_ERR_ARG, "warp_affine: bad output size %dx%d", dw, dh);
    warp_job j;
    MT_TRY(mt_affine_invert(m, j.inv));
    static const uint8_t black[3] = {0, 0, 0};
    j.border = border ? border : black;
    j.src = src;
    MT_TRY(mt_image_new_uninit(out, dw, dh));
    j.dst = *out;
    mt_parallel_for(dh, 1 + 16384 / dw, warp_rows, &j);
    return MT_OK;
}

static const double template112[10] = {38.2946, 51.6963, 73.5318, 51.5014, 56.0252,
                                       71.7366, 41.5493, 92.3655, 70.7299, 92.2041};

void mt_align_template(int w, int h, double out[10]) {
    double s = h / 112.0, shift = (w - 112.0 * s) / 2.0;
    for (int i = 0; i < 5; i++) {
        out[2 * i] = template112[2 * i] * s + shift;
        out[2 * i + 1] = template112[2 * i + 1] * s;
    }
}

mt_status mt_align_face(mt_image **out, const mt_image *src, const double pts[10], int w, int h,
                        double m[6]) {
    *out = NULL;
    if (w < 1 || h < 1 || w > 8192 || h > 8192)
        return mt_fail(MT_ERR_ARG, "align_face: bad output size %dx%d", w, h);
    double dst[10], mm[6];
    mt_align_template(w, h, dst);
    MT_TRY(mt_similarity_fit(pts, dst, 5, mm));
    if (m) memcpy(m, mm, sizeof mm);
    return mt_warp_affine(out, src, mm, w, h, NULL);
}
