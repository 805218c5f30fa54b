/*
 * mt_eval_fddb.c - pixel-grid overlaps of FDDB's ground-truth ellipses and
 * detection rectangles (mt_fddb_overlaps in mt_eval.h).
 *
 * evaluate.cpp draws each region filled into an image-sized mask and counts
 * the pixels of the AND and the OR of two masks. It draws an ellipse with
 * cvEllipse at the centre rounded to whole pixels, radii truncated to
 * integers and the angle (converted from the list's radians) rounded to whole
 * degrees; a rectangle with cvRectangle from the rounded corner (x, y) to the
 * rounded corner (x + w, y + h), both included. Here a pixel belongs to the
 * ellipse when its centre satisfies the ellipse inequality (OpenCV fills a
 * polygon through points of the ellipse, so a boundary pixel can differ), and
 * both regions are clipped to the image when its size is known.
 *
 * An ellipse is stored as one span of columns per row, so the intersection
 * with a rectangle costs one step per row instead of one per pixel.
 */
#include "mt_eval.h"

#include <math.h>
#include <stdlib.h>

#define BIG 1073741824.0 /* coordinates are clamped to +-2^30 before rounding */

typedef struct span_set {
    int64_t y0;      /* first row */
    int64_t rows;    /* number of rows (some may be empty: xl > xr) */
    int64_t *xl, *xr;
    int64_t area;
} span_set;

/* OpenCV's cvRound of a float (cvPointFrom32f): round half to even. */
static int64_t round_f32(double v) {
    if (v != v) return 0;
    if (v > BIG) v = BIG;
    if (v < -BIG) v = -BIG;
    return (int64_t)lrintf((float)v);
}

static int64_t round_f64(double v) {
    if (v != v) return 0;
    if (v > BIG) v = BIG;
    if (v < -BIG) v = -BIG;
    return (int64_t)lrint(v);
}

typedef struct ellipse_px {
    int64_t cx, cy;
    double a, b;         /* radii (at least 0.5, so that a degenerate one is a line) */
    double alpha, beta;  /* cos and sin of the drawing angle */
} ellipse_px;

static void ellipse_params(const mt_fddb_ellipse *e, ellipse_px *p) {
    p->cx = round_f32(e->cx);
    p->cy = round_f32(e->cy);
    double a = fabs(e->major) > BIG ? BIG : (double)(int64_t)fabs(e->major);
    double b = fabs(e->minor) > BIG ? BIG : (double)(int64_t)fabs(e->minor);
    /* EllipsesSingleImage::read: t = (pi - angle) * 180 / pi; EllipseR::display draws at
     * 180 - t degrees, which cv::ellipse rounds to an integer */
    double t = (M_PI - e->angle) * 180.0 / M_PI;
    int64_t deg = round_f64(180.0 - t) % 360;
    if (deg < 0) deg += 360;
    switch (deg) { /* exact values where the trigonometric functions are not */
    case 0: p->alpha = 1; p->beta = 0; break;
    case 90: p->alpha = 0; p->beta = 1; break;
    case 180: p->alpha = -1; p->beta = 0; break;
    case 270: p->alpha = 0; p->beta = -1; break;
    default:
        p->alpha = cos((double)deg * M_PI / 180.0);
        p->beta = sin((double)deg * M_PI / 180.0);
    }
    p->a = a < 0.5 ? 0.5 : a;
    p->b = b < 0.5 ? 0.5 : b;
}

static bool inside(const ellipse_px *p, int64_t x, int64_t y) {
    double dx = (double)(x - p->cx), dy = (double)(y - p->cy);
    double u = dx * p->alpha + dy * p->beta;
    double v = -dx * p->beta + dy * p->alpha;
    /* the tolerance keeps lattice points exactly on the boundary inside after rotation */
    return (u / p->a) * (u / p->a) + (v / p->b) * (v / p->b) <= 1.0 + 1e-9;
}

/* The spans of an ellipse clipped to [0, W) x [0, H) (no clipping when W or H <= 0). */
static mt_status ellipse_spans(const mt_fddb_ellipse *e, int64_t width, int64_t height, span_set *s) {
    ellipse_px p;
    ellipse_params(e, &p);
    double ex = sqrt(p.a * p.a * p.alpha * p.alpha + p.b * p.b * p.beta * p.beta);
    double ey = sqrt(p.a * p.a * p.beta * p.beta + p.b * p.b * p.alpha * p.alpha);
    int64_t y0 = p.cy - (int64_t)ceil(ey) - 1, y1 = p.cy + (int64_t)ceil(ey) + 1;
    int64_t xmin = p.cx - (int64_t)ceil(ex) - 1, xmax = p.cx + (int64_t)ceil(ex) + 1;
    if (width > 0 && height > 0) {
        if (y0 < 0) y0 = 0;
        if (y1 > height - 1) y1 = height - 1;
        if (xmin < 0) xmin = 0;
        if (xmax > width - 1) xmax = width - 1;
    }
    s->y0 = y0;
    s->rows = y1 >= y0 ? y1 - y0 + 1 : 0;
    s->area = 0;
    s->xl = s->xr = NULL;
    if (s->rows == 0) return MT_OK;
    s->xl = malloc((size_t)s->rows * sizeof *s->xl);
    s->xr = malloc((size_t)s->rows * sizeof *s->xr);
    if (!s->xl || !s->xr) {
        free(s->xl);
        free(s->xr);
        s->xl = s->xr = NULL;
        return mt_fail(MT_ERR_OOM, "fddb_overlaps: out of memory for an ellipse of %lld rows",
                       (long long)s->rows);
    }
    /* per row, u^2/a^2 + v^2/b^2 <= 1 is A dx^2 + B dx + C <= 0 */
    double ia = 1.0 / (p.a * p.a), ib = 1.0 / (p.b * p.b);
    double A = p.alpha * p.alpha * ia + p.beta * p.beta * ib;
    for (int64_t r = 0; r < s->rows; r++) {
        int64_t y = y0 + r;
        double dy = (double)(y - p.cy);
        double B = 2.0 * dy * p.alpha * p.beta * (ia - ib);
        double C = dy * dy * (p.beta * p.beta * ia + p.alpha * p.alpha * ib) - 1.0;
        double disc = B * B - 4.0 * A * C;
        double mid = -B / (2.0 * A), half = disc > 0 ? sqrt(disc) / (2.0 * A) : 0.0;
        int64_t xl = p.cx + (int64_t)ceil(mid - half), xr = p.cx + (int64_t)floor(mid + half);
        if (xl > xr) xl = xr = p.cx + (int64_t)llround(mid);
        /* settle the ends with the exact test (the region of a row is an interval) */
        while (xl > xmin && inside(&p, xl - 1, y)) xl--;
        while (xl <= xr && !inside(&p, xl, y)) xl++;
        while (xr < xmax && inside(&p, xr + 1, y)) xr++;
        while (xr >= xl && !inside(&p, xr, y)) xr--;
        if (xl < xmin) xl = xmin;
        if (xr > xmax) xr = xmax;
        s->xl[r] = xl;
        s->xr[r] = xr;
        if (xr >= xl) s->area += xr - xl + 1;
    }
    return MT_OK;
}

typedef struct rect_px {
    int64_t x0, y0, x1, y1; /* inclusive; empty when x1 < x0 or y1 < y0 */
} rect_px;

static rect_px rect_pixels(const mt_fddb_rect *r, int64_t width, int64_t height) {
    int64_t ax = round_f32(r->x), ay = round_f32(r->y);
    int64_t bx = round_f32(r->x + r->w), by = round_f32(r->y + r->h);
    rect_px q = {ax < bx ? ax : bx, ay < by ? ay : by, ax < bx ? bx : ax, ay < by ? by : ay};
    if (width > 0 && height > 0) {
        if (q.x0 < 0) q.x0 = 0;
        if (q.y0 < 0) q.y0 = 0;
        if (q.x1 > width - 1) q.x1 = width - 1;
        if (q.y1 > height - 1) q.y1 = height - 1;
    }
    return q;
}

static int64_t rect_area(const rect_px *q) {
    if (q->x1 < q->x0 || q->y1 < q->y0) return 0;
    return (q->x1 - q->x0 + 1) * (q->y1 - q->y0 + 1);
}

int64_t mt_fddb_rect_area(const mt_fddb_rect *r, int64_t width, int64_t height) {
    rect_px q = rect_pixels(r, width, height);
    return rect_area(&q);
}

int64_t mt_fddb_ellipse_area(const mt_fddb_ellipse *e, int64_t width, int64_t height) {
    span_set s;
    if (ellipse_spans(e, width, height, &s) != MT_OK) return -1;
    free(s.xl);
    free(s.xr);
    return s.area;
}

mt_status mt_fddb_overlaps(const mt_fddb_ellipse *ell, int64_t nell, const mt_fddb_rect *rect,
                           int64_t nrect, int64_t width, int64_t height, double *out) {
    if (nell < 0 || nrect < 0)
        return mt_fail(MT_ERR_ARG, "fddb_overlaps: bad counts %lld and %lld", (long long)nell,
                       (long long)nrect);
    for (int64_t i = 0; i < nell; i++) {
        span_set s;
        MT_TRY(ellipse_spans(&ell[i], width, height, &s));
        for (int64_t j = 0; j < nrect; j++) {
            rect_px q = rect_pixels(&rect[j], width, height);
            int64_t ra = rect_area(&q), inter = 0;
            if (ra > 0) {
                int64_t r0 = q.y0 - s.y0, r1 = q.y1 - s.y0;
                if (r0 < 0) r0 = 0;
                if (r1 > s.rows - 1) r1 = s.rows - 1;
                for (int64_t r = r0; r <= r1; r++) {
                    int64_t lo = s.xl[r] > q.x0 ? s.xl[r] : q.x0;
                    int64_t hi = s.xr[r] < q.x1 ? s.xr[r] : q.x1;
                    if (hi >= lo) inter += hi - lo + 1;
                }
            }
            int64_t uni = s.area + ra - inter;
            out[i * nrect + j] = uni > 0 ? (double)inter / (double)uni : 0.0;
        }
        free(s.xl);
        free(s.xr);
    }
    return MT_OK;
}
