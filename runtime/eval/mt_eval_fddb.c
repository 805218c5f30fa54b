/*
 * mt_eval_fddb.c - pixel-grid overlaps of FDDB's ground-truth ellipses and
 * detection rectangles (mt_fddb_overlaps in mt_eval.h).
 *
 * evaluate.cpp draws each region filled into an image-sized mask and counts
 * the pixels of the AND and the OR of two masks. Its regions are drawn with
 * OpenCV: cvEllipse(mask, centre rounded, radii truncated, angle, 0, 360,
 * filled) and cvRectangle(mask, corner, corner, filled). To count the same
 * pixels, this file draws them the way OpenCV 3/4 does (checked pixel for
 * pixel against OpenCV 4.6 on every FDDB ellipse):
 *
 *   ellipse   the angle is rounded to whole degrees; a polygon is built
 *             through points of the ellipse every 5 degrees (18, 30 or 90
 *             for small ones) from a table of sines to 7 decimals, in 16.16
 *             fixed point; the polygon's edges are drawn as 8-connected lines
 *             and its inside filled scanline by scanline;
 *   rectangle every pixel from the rounded corner (x, y) to the rounded corner
 *             (x + w, y + h), both included.
 *
 * Everything is clipped to the image; an image of unknown size is taken to
 * extend without bound to the right and below (pixels at negative
 * coordinates never count, as in any image). A drawn ellipse is kept as a
 * small bitmap over its bounding box with per-row prefix counts, so its
 * intersection with a rectangle costs one step per row.
 *
 * The arithmetic must stay exactly as written (double products and sums in
 * this order, no fused multiply-add): CMakeLists.txt builds this file with
 * -ffp-contract=off.
 */
#include "eval/mt_eval.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define FX_SHIFT 16
#define FX_ONE ((int64_t)1 << FX_SHIFT)
#define FX_HALF (FX_ONE >> 1)
#define BIG 1073741824.0          /* coordinates are clamped to +-2^30 before rounding */
#define UNBOUNDED ((int64_t)1 << 24) /* the size of an image of unknown size */

/* ---- small helpers ---------------------------------------------------------------------------- */

/* Floor division by 2^s (an arithmetic right shift, spelt out for negative values). */
static int64_t asr(int64_t v, int s) {
    return v >= 0 ? v >> s : -((-v - 1) >> s) - 1;
}

static int64_t clamp_round_f32(double v) { /* OpenCV's cvRound of a float: half to even */
    if (v != v) return 0;
    if (v > BIG) v = BIG;
    if (v < -BIG) v = -BIG;
    return (int64_t)lrintf((float)v);
}

static int64_t clamp_round(double v) { /* cvRound of a double: half to even */
    if (v != v) return 0;
    if (v > BIG) v = BIG;
    if (v < -BIG) v = -BIG;
    return (int64_t)lrint(v);
}

/* sin of whole degrees 0..450 rounded to 7 decimals, as float: OpenCV's table */
static float sin_deg[451];
static pthread_once_t sin_once = PTHREAD_ONCE_INIT;

static void sin_init(void) {
    for (int k = 0; k <= 450; k++) {
        double s = sin((double)k * M_PI / 180.0);
        sin_deg[k] = (float)(round(s * 1e7) / 1e7);
    }
}

/* ---- the image and a drawing canvas ------------------------------------------------------------ */

typedef struct fx_pt {
    int64_t x, y; /* 16.16 fixed point */
} fx_pt;

/* One drawn region: flags over a box of the image, with per-row prefix counts. */
typedef struct raster {
    int64_t img_w, img_h; /* clip limits */
    int64_t x0, y0, w, h; /* the canvas box */
    uint8_t *px;          /* w * h flags */
    int32_t *pre;         /* per row r: pre[r * (w + 1) + k] = flags set among the first k */
    int64_t area;
} raster;

static void put(raster *r, int64_t x, int64_t y) {
    if (x < 0 || y < 0 || x >= r->img_w || y >= r->img_h) return;
    x -= r->x0;
    y -= r->y0;
    if (x < 0 || y < 0 || x >= r->w || y >= r->h) return;
    r->px[y * r->w + x] = 1;
}

static void hline(raster *r, int64_t y, int64_t xa, int64_t xb) {
    for (int64_t x = xa; x <= xb; x++) put(r, x, y);
}

/* Keeps the part of segment p1-p2 inside a W x H box (fixed point), as
 * OpenCV's clipLine does; false when nothing is inside. */
static bool clip_segment(int64_t W, int64_t H, fx_pt *p1, fx_pt *p2) {
    if (W <= 0 || H <= 0) return false;
    int64_t right = W - 1, bottom = H - 1;
    int64_t x1 = p1->x, y1 = p1->y, x2 = p2->x, y2 = p2->y;
    int c1 = (x1 < 0) + (x1 > right) * 2 + (y1 < 0) * 4 + (y1 > bottom) * 8;
    int c2 = (x2 < 0) + (x2 > right) * 2 + (y2 < 0) * 4 + (y2 > bottom) * 8;
    if ((c1 & c2) == 0 && (c1 | c2) != 0) {
        int64_t a;
        if (c1 & 12) { /* move the first end onto the top or bottom side */
            a = c1 < 8 ? 0 : bottom;
            x1 += (int64_t)((double)(a - y1) * (double)(x2 - x1) / (double)(y2 - y1));
            y1 = a;
            c1 = (x1 < 0) + (x1 > right) * 2;
        }
        if (c2 & 12) {
            a = c2 < 8 ? 0 : bottom;
            x2 += (int64_t)((double)(a - y2) * (double)(x2 - x1) / (double)(y2 - y1));
            y2 = a;
            c2 = (x2 < 0) + (x2 > right) * 2;
        }
        if ((c1 & c2) == 0 && (c1 | c2) != 0) { /* then onto the left or right side */
            if (c1) {
                a = c1 == 1 ? 0 : right;
                y1 += (int64_t)((double)(a - x1) * (double)(y2 - y1) / (double)(x2 - x1));
                x1 = a;
                c1 = 0;
            }
            if (c2) {
                a = c2 == 1 ? 0 : right;
                y2 += (int64_t)((double)(a - x2) * (double)(y2 - y1) / (double)(x2 - x1));
                x2 = a;
                c2 = 0;
            }
        }
    }
    p1->x = x1, p1->y = y1, p2->x = x2, p2->y = y2;
    return (c1 | c2) == 0;
}

/* An 8-connected line between two fixed-point ends: one pixel per step along
 * the longer axis, the other coordinate advanced by a truncated fixed-point
 * slope from the first end's pixel centre; the second end's pixel is set too. */
static void draw_segment(raster *r, fx_pt a, fx_pt b) {
    if (!clip_segment(r->img_w * FX_ONE, r->img_h * FX_ONE, &a, &b)) return;
    int64_t dx = b.x - a.x, dy = b.y - a.y;
    /* u: the longer axis, walked one pixel at a time in the increasing direction; v: the
     * other, advanced by the slope (ties go along y) */
    const bool along_x = (dx < 0 ? -dx : dx) > (dy < 0 ? -dy : dy);
    int64_t au = along_x ? a.x : a.y, av = along_x ? a.y : a.x;
    int64_t bu = along_x ? b.x : b.y, bv = along_x ? b.y : b.x;
    if (bu < au) {
        int64_t t = au;
        au = bu, bu = t;
        t = av;
        av = bv, bv = t;
    }
    const int64_t step = ((bv - av) * FX_ONE) / ((bu - au) | 1);
    int64_t count = asr(bu - au, FX_SHIFT);
    int64_t u = asr(bu + FX_HALF, FX_SHIFT), v = asr(bv + FX_HALF, FX_SHIFT);
    put(r, along_x ? u : v, along_x ? v : u);
    u = asr(au + FX_HALF, FX_SHIFT);
    int64_t vf = av + FX_HALF; /* fixed point */
    for (; count >= 0; count--, u++, vf += step) {
        v = asr(vf, FX_SHIFT);
        put(r, along_x ? u : v, along_x ? v : u);
    }
}

/* Fills a convex polygon given in fixed point: its edges as lines, then its
 * inside row by row between a left and a right edge walker. */
static void fill_convex(raster *r, const fx_pt *v, int n) {
    int imin = 0;
    int64_t xmin = v[0].x, xmax = v[0].x, ymin = v[0].y, ymax = v[0].y;
    fx_pt prev = v[n - 1];
    for (int i = 0; i < n; i++) {
        if (v[i].y < ymin) {
            ymin = v[i].y;
            imin = i;
        }
        if (v[i].y > ymax) ymax = v[i].y;
        if (v[i].x > xmax) xmax = v[i].x;
        if (v[i].x < xmin) xmin = v[i].x;
        draw_segment(r, prev, v[i]);
        prev = v[i];
    }
    xmin = asr(xmin + FX_HALF, FX_SHIFT);
    xmax = asr(xmax + FX_HALF, FX_SHIFT);
    ymin = asr(ymin + FX_HALF, FX_SHIFT);
    ymax = asr(ymax + FX_HALF, FX_SHIFT);
    if (n < 3 || xmax < 0 || ymax < 0 || xmin >= r->img_w || ymin >= r->img_h) return;
    if (ymax > r->img_h - 1) ymax = r->img_h - 1;

    struct {
        int idx, di;
        int64_t x, dx, ye;
    } e[2] = {{imin, 1, -FX_ONE, 0, ymin}, {imin, n - 1, -FX_ONE, 0, ymin}};
    int edges = n; /* vertices left to walk, shared by both walkers */
    int64_t y = ymin;
    do {
        for (int k = 0; k < 2; k++) {
            if (y < e[k].ye) continue;
            int idx0 = e[k].idx, idx = idx0 + e[k].di;
            if (idx >= n) idx -= n;
            while (edges-- > 0) { /* the next edge that reaches below this row */
                int64_t ty = asr(v[idx].y + FX_HALF, FX_SHIFT);
                if (ty > y) {
                    int64_t xs = v[idx0].x, xe = v[idx].x;
                    e[k].ye = ty;
                    e[k].dx = ((xe - xs) * 2 + (ty - y)) / (2 * (ty - y));
                    e[k].x = xs;
                    e[k].idx = idx;
                    break;
                }
                idx0 = idx;
                idx += e[k].di;
                if (idx >= n) idx -= n;
            }
        }
        if (edges < 0) break;
        if (y >= 0) {
            int left = e[0].x > e[1].x ? 1 : 0;
            int64_t xa = asr(e[left].x + FX_HALF, FX_SHIFT), xb = asr(e[1 - left].x + FX_HALF, FX_SHIFT);
            if (xb >= 0 && xa < r->img_w) {
                if (xa < 0) xa = 0;
                if (xb >= r->img_w) xb = r->img_w - 1;
                hline(r, y, xa, xb);
            }
        }
        e[0].x += e[0].dx;
        e[1].x += e[1].dx;
    } while (++y <= ymax);
}

/* ---- ellipses ---------------------------------------------------------------------------------- */

/* The polygon cv::ellipse fills for a centre and radii in whole pixels and an
 * angle in whole degrees. Returns the number of vertices (at most 76). */
static int ellipse_polygon(int64_t cx, int64_t cy, int64_t ra, int64_t rb, int64_t deg, fx_pt *out) {
    pthread_once(&sin_once, sin_init);
    double fcx = (double)(cx * FX_ONE), fcy = (double)(cy * FX_ONE);
    double fa = (double)(ra * FX_ONE), fb = (double)(rb * FX_ONE);
    int64_t big = ra > rb ? ra : rb;
    int step = big < 3 ? 90 : big < 10 ? 30 : big < 15 ? 18 : 5;
    while (deg < 0) deg += 360;
    while (deg > 360) deg -= 360;
    float alpha = sin_deg[450 - deg], beta = sin_deg[deg]; /* cos and sin of the angle */
    int n = 0;
    for (int i = 0; i < 360 + step; i += step) {
        int a = i > 360 ? 360 : i;
        double x = fa * sin_deg[450 - a];
        double y = fb * sin_deg[a];
        double px = fcx + x * alpha - y * beta;
        double py = fcy + x * beta + y * alpha;
        /* rounded to the nearest fixed-point value in two steps, whole pixels first */
        fx_pt p;
        p.x = clamp_round(px / (double)FX_ONE) * FX_ONE;
        p.y = clamp_round(py / (double)FX_ONE) * FX_ONE;
        p.x += clamp_round(px - (double)p.x);
        p.y += clamp_round(py - (double)p.y);
        if (n == 0 || p.x != out[n - 1].x || p.y != out[n - 1].y) out[n++] = p;
    }
    if (n == 1) { /* a zero-size polygon */
        out[0].x = out[1].x = cx * FX_ONE;
        out[0].y = out[1].y = cy * FX_ONE;
        n = 2;
    }
    return n;
}

static void raster_free(raster *r) {
    free(r->px);
    free(r->pre);
    r->px = NULL;
    r->pre = NULL;
}

/* Draws one FDDB ellipse into a new raster clipped to the image. */
static mt_status ellipse_raster(const mt_fddb_ellipse *e, int64_t img_w, int64_t img_h, raster *r) {
    memset(r, 0, sizeof *r);
    r->img_w = img_w;
    r->img_h = img_h;
    /* EllipseR: centre through cvPointFrom32f, radii cast to int; EllipsesSingleImage
     * turns the angle into t = (pi - angle) * 180 / pi and draws at 180 - t degrees */
    int64_t cx = clamp_round_f32(e->cx), cy = clamp_round_f32(e->cy);
    double fa = fabs(e->major), fb = fabs(e->minor);
    int64_t ra = fa != fa ? 0 : fa > 16384 ? 16384 : (int64_t)fa;
    int64_t rb = fb != fb ? 0 : fb > 16384 ? 16384 : (int64_t)fb;
    double t = (M_PI - e->angle) * 180 / M_PI;
    int64_t deg = clamp_round(180 - t);

    fx_pt v[80];
    int n = ellipse_polygon(cx, cy, ra, rb, deg, v);
    int64_t xmin = v[0].x, xmax = v[0].x, ymin = v[0].y, ymax = v[0].y;
    for (int i = 1; i < n; i++) {
        if (v[i].x < xmin) xmin = v[i].x;
        if (v[i].x > xmax) xmax = v[i].x;
        if (v[i].y < ymin) ymin = v[i].y;
        if (v[i].y > ymax) ymax = v[i].y;
    }
    /* the canvas: the vertices' pixels with a margin, inside the image */
    int64_t x0 = asr(xmin + FX_HALF, FX_SHIFT) - 2, x1 = asr(xmax + FX_HALF, FX_SHIFT) + 2;
    int64_t y0 = asr(ymin + FX_HALF, FX_SHIFT) - 2, y1 = asr(ymax + FX_HALF, FX_SHIFT) + 2;
    if (x0 < 0) x0 = 0;
    if (y0 < 0) y0 = 0;
    if (x1 > img_w - 1) x1 = img_w - 1;
    if (y1 > img_h - 1) y1 = img_h - 1;
    r->x0 = x0;
    r->y0 = y0;
    r->w = x1 >= x0 ? x1 - x0 + 1 : 0;
    r->h = y1 >= y0 ? y1 - y0 + 1 : 0;
    if (r->w == 0 || r->h == 0) {
        r->w = r->h = 0;
        return MT_OK;
    }
    r->px = calloc((size_t)(r->w * r->h), 1);
    r->pre = malloc((size_t)((r->w + 1) * r->h) * sizeof *r->pre);
    if (!r->px || !r->pre) {
        raster_free(r);
        return mt_fail(MT_ERR_OOM, "fddb_overlaps: out of memory for a %lldx%lld ellipse",
                       (long long)r->w, (long long)r->h);
    }
    fill_convex(r, v, n);
    for (int64_t row = 0; row < r->h; row++) {
        int32_t *p = r->pre + row * (r->w + 1);
        const uint8_t *s = r->px + row * r->w;
        p[0] = 0;
        for (int64_t k = 0; k < r->w; k++) p[k + 1] = p[k] + s[k];
        r->area += p[r->w];
    }
    return MT_OK;
}

/* ---- rectangles -------------------------------------------------------------------------------- */

typedef struct rect_px {
    int64_t x0, y0, x1, y1; /* inclusive; empty when x1 < x0 or y1 < y0 */
} rect_px;

static rect_px rect_pixels(const mt_fddb_rect *r, int64_t img_w, int64_t img_h) {
    /* RectangleR: cvRectangle from cvPointFrom32f(x, y) to cvPointFrom32f(x + w, y + h) */
    int64_t ax = clamp_round_f32(r->x), ay = clamp_round_f32(r->y);
    int64_t bx = clamp_round_f32(r->x + r->w), by = clamp_round_f32(r->y + r->h);
    rect_px q = {ax < bx ? ax : bx, ay < by ? ay : by, ax < bx ? bx : ax, ay < by ? by : ay};
    if (q.x0 < 0) q.x0 = 0;
    if (q.y0 < 0) q.y0 = 0;
    if (q.x1 > img_w - 1) q.x1 = img_w - 1;
    if (q.y1 > img_h - 1) q.y1 = img_h - 1;
    return q;
}

static int64_t rect_area(const rect_px *q) {
    if (q->x1 < q->x0 || q->y1 < q->y0) return 0;
    return (q->x1 - q->x0 + 1) * (q->y1 - q->y0 + 1);
}

/* Pixels of the raster inside the rectangle. */
static int64_t raster_count(const raster *r, const rect_px *q) {
    if (r->w == 0 || q->x1 < q->x0 || q->y1 < q->y0) return 0;
    int64_t ya = q->y0 > r->y0 ? q->y0 : r->y0, yb = q->y1 < r->y0 + r->h - 1 ? q->y1 : r->y0 + r->h - 1;
    int64_t xa = q->x0 > r->x0 ? q->x0 : r->x0, xb = q->x1 < r->x0 + r->w - 1 ? q->x1 : r->x0 + r->w - 1;
    if (yb < ya || xb < xa) return 0;
    int64_t n = 0;
    for (int64_t y = ya; y <= yb; y++) {
        const int32_t *p = r->pre + (y - r->y0) * (r->w + 1);
        n += p[xb - r->x0 + 1] - p[xa - r->x0];
    }
    return n;
}

static void image_limits(int64_t width, int64_t height, int64_t *w, int64_t *h) {
    bool known = width > 0 && height > 0;
    *w = known ? width : UNBOUNDED;
    *h = known ? height : UNBOUNDED;
}

/* ---- the entry points -------------------------------------------------------------------------- */

int64_t mt_fddb_rect_area(const mt_fddb_rect *r, int64_t width, int64_t height) {
    int64_t w, h;
    image_limits(width, height, &w, &h);
    rect_px q = rect_pixels(r, w, h);
    return rect_area(&q);
}

int64_t mt_fddb_ellipse_area(const mt_fddb_ellipse *e, int64_t width, int64_t height) {
    int64_t w, h;
    image_limits(width, height, &w, &h);
    raster r;
    if (ellipse_raster(e, w, h, &r) != MT_OK) return -1;
    int64_t area = r.area;
    raster_free(&r);
    return area;
}

mt_status mt_fddb_overlaps(const mt_fddb_ellipse *ell, int64_t nell, const mt_fddb_rect *rect,
                           int64_t nrect, int64_t width, int64_t height, double *out) {
    if (nell < 0 || nrect < 0)
        return mt_fail(MT_ERR_ARG, "fddb_overlaps: bad counts %lld and %lld", (long long)nell,
                       (long long)nrect);
    int64_t w, h;
    image_limits(width, height, &w, &h);
    for (int64_t i = 0; i < nell; i++) {
        raster r;
        MT_TRY(ellipse_raster(&ell[i], w, h, &r));
        for (int64_t j = 0; j < nrect; j++) {
            rect_px q = rect_pixels(&rect[j], w, h);
            int64_t inter = raster_count(&r, &q);
            int64_t uni = r.area + rect_area(&q) - inter;
            out[i * nrect + j] = uni > 0 ? (double)inter / (double)uni : 0.0;
        }
        raster_free(&r);
    }
    return MT_OK;
}
