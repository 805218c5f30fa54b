/*
 * mt_sample.c - planning and cutting MTCNN training crops.
 *
 * Both samplers first plan their samples (crop boxes, labels, targets,
 * augmentation) with the generator, which is cheap and strictly sequential,
 * and then cut all the pixels: detection crops in one multi-threaded batch,
 * landmark crops one by one (few per face, some of them warped).
 */
#include "data/mt_sample.h"

#include "core/mt_alloc.h"
#include "detect/mt_box.h"
#include "image/mt_warp.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

mt_sample_params mt_sample_params_default(void) {
    mt_sample_params p;
    memset(&p, 0, sizeof p);
    p.size = 12;
    p.interp = MT_INTERP_BILINEAR;
    p.neg_count = 50;
    p.neg_max_tries = 5000;
    p.min_crop = 12;
    p.neg_max_frac = 0.5;
    p.neg_iou = 0.3;
    p.min_face = 20;
    p.near_neg_tries = 5;
    p.pos_tries = 20;
    p.side_lo = 0.8;
    p.side_hi = 1.25;
    p.jitter = 0.2;
    p.pos_iou = 0.65;
    p.part_iou = 0.4;
    p.label_by_all_faces = 1;
    p.lmk_min_face = 40;
    p.lmk_plain = 1;
    p.lmk_shift_tries = 10;
    p.lmk_iou = 0.65;
    p.lmk_mirror_p = 0.5;
    p.lmk_rotate_p = 0.5;
    p.lmk_angle = 5.0;
    p.win_min_side = 20;
    p.win_neg_max = 60;
    p.win_face_min_side = 0;
    p.win_lmk_iou = 0.4;
    p.win_lmk_max = 10;
    return p;
}

static mt_status check_params(const mt_sample_params *p) {
    if (p->size < 1 || p->size > 4096)
        return mt_fail(MT_ERR_ARG, "sample: size %d is not in 1..4096", p->size);
    if (p->interp != MT_INTERP_BILINEAR && p->interp != MT_INTERP_AREA)
        return mt_fail(MT_ERR_ARG, "sample: unknown interpolation %d", (int)p->interp);
    if (p->neg_count < 0 || p->neg_max_tries < 0 || p->near_neg_tries < 0 || p->pos_tries < 0 ||
        p->lmk_shift_tries < 0)
        return mt_fail(MT_ERR_ARG, "sample: counts and tries must not be negative");
    if (p->min_crop < 1) return mt_fail(MT_ERR_ARG, "sample: min_crop must be at least 1");
    if (p->win_min_side < 1 || p->win_neg_max < 0 || p->win_lmk_max < 0 ||
        p->win_face_min_side < 0)
        return mt_fail(MT_ERR_ARG, "sample: need win_min_side >= 1, win_neg_max >= 0, "
                       "win_lmk_max >= 0 and win_face_min_side >= 0");
    if (!(p->win_lmk_iou > 0 && p->win_lmk_iou <= 1))
        return mt_fail(MT_ERR_ARG, "sample: win_lmk_iou %g is not in (0, 1]", p->win_lmk_iou);
    /* (bounded, so that a side or shift computed from a face stays an exact integer) */
    if (!(p->side_lo > 0) || !(p->side_hi >= p->side_lo) || !(p->side_hi <= 100))
        return mt_fail(MT_ERR_ARG, "sample: need 0 < side_lo <= side_hi <= 100, got %g and %g",
                       p->side_lo, p->side_hi);
    if (!(p->jitter >= 0 && p->jitter <= 100) || !(p->neg_max_frac > 0 && p->neg_max_frac <= 1))
        return mt_fail(MT_ERR_ARG, "sample: need jitter in [0, 100] and neg_max_frac in (0, 1], "
                       "got %g and %g", p->jitter, p->neg_max_frac);
    if (!(fabs(p->lmk_angle) <= 360))
        return mt_fail(MT_ERR_ARG, "sample: lmk_angle %g is not in [-360, 360]", p->lmk_angle);
    if (!(p->mirror_p >= 0 && p->mirror_p <= 1) || !(p->lmk_mirror_p >= 0 && p->lmk_mirror_p <= 1) ||
        !(p->lmk_rotate_p >= 0 && p->lmk_rotate_p <= 1))
        return mt_fail(MT_ERR_ARG, "sample: probabilities must be in [0, 1]");
    if (!(p->part_iou <= p->pos_iou))
        return mt_fail(MT_ERR_ARG, "sample: part_iou %g is above pos_iou %g", p->part_iou,
                       p->pos_iou);
    return MT_OK;
}

/* Faces and landmarks come from annotation files: each number must be finite and within
 * +-MT_IMAGE_MAX_SIDE, so that every crop side, shift and box computed from it is an exact
 * integer (no float is cast out of range). */
static mt_status check_coords(const double *v, int64_t n, int per, const char *what) {
    for (int64_t i = 0; i < n * per; i++)
        if (!(fabs(v[i]) <= MT_IMAGE_MAX_SIDE))
            return mt_fail(MT_ERR_ARG, "sample: %s %lld has the coordinate %g: coordinates must "
                           "be finite and within +-%d", what, (long long)(i / per) + 1, v[i],
                           MT_IMAGE_MAX_SIDE);
    return MT_OK;
}

/* ---- planned samples ----------------------------------------------------------------------- */

typedef struct item {
    int32_t box[4];
    int8_t label;
    uint8_t aug;
    int32_t face;
    float iou;
    float target[4];
    float lmk[10];
} item;

typedef struct plan_list {
    item *v;
    int64_t n, cap;
} plan_list;

static item *plan_add(plan_list *l) {
    if (l->n == l->cap) {
        int64_t cap = l->cap ? 2 * l->cap : 64;
        item *v = (item *)realloc(l->v, (size_t)cap * sizeof *v);
        if (!v) return NULL;
        l->v = v, l->cap = cap;
    }
    item *it = l->v + l->n++;
    memset(it, 0, sizeof *it);
    it->face = -1;
    return it;
}

/* a uniform integer in [lo, hi); lo when the range is empty (numpy would raise) */
static int64_t draw(mt_rng *r, int64_t lo, int64_t hi) { return mt_rng_range(r, lo, hi); }

/* the largest IoU of crop c with the faces, and which face has it (-1: none) */
static double best_iou(const double *c, const double *faces, int64_t n, int64_t *which) {
    double best = 0.0;
    *which = -1;
    for (int64_t i = 0; i < n; i++) {
        double o = mt_box_overlap(c, faces + 4 * i, MT_OVERLAP_UNION);
        if (o > best || *which < 0) best = o, *which = i;
    }
    return best;
}

static void set_box(item *it, const double *c) {
    for (int k = 0; k < 4; k++) it->box[k] = (int32_t)c[k];
}

/* The square crop of side s with its top-left corner at (x, y), as a box. */
static void square_box(double *c, int64_t x, int64_t y, int64_t s) {
    c[0] = (double)x, c[1] = (double)y, c[2] = (double)(x + s - 1), c[3] = (double)(y + s - 1);
}

static mt_status oom(void) { return mt_fail(MT_ERR_OOM, "sample: out of memory"); }

/* The sides and shifts of the crops drawn around a w x h face (positives, part faces and
 * shifted landmark crops): sides in [side_lo, side_hi), shifts within +-jx, +-jy. */
typedef struct shift_range {
    int64_t side_lo, side_hi, jx, jy;
} shift_range;

static shift_range shift_range_of(double w, double h, const mt_sample_params *p) {
    shift_range r = {(int64_t)floor(fmin(w, h) * p->side_lo),
                     (int64_t)ceil(fmax(w, h) * p->side_hi), (int64_t)trunc(w * p->jitter),
                     (int64_t)trunc(h * p->jitter)};
    return r;
}

/* Draws a crop's side s and shift (dx, dy), in that order; false when s < 1. */
static bool draw_shift(mt_rng *rng, const shift_range *r, int64_t *s, int64_t *dx, int64_t *dy) {
    *s = draw(rng, r->side_lo, r->side_hi);
    *dx = draw(rng, -r->jx, r->jx);
    *dy = draw(rng, -r->jy, r->jy);
    return *s >= 1;
}

static void set_target(item *it, const double *crop, const double *face) {
    double t[4];
    mt_box_targets(crop, face, 1, t);
    for (int k = 0; k < 4; k++) it->target[k] = (float)t[k];
}

/* Plans crop c with its label, the face it overlaps most (which: -1 none) and that IoU o;
 * positives and part faces are targeted at that face. NULL when out of memory. */
static item *add_labelled(plan_list *l, const double *c, int8_t label, int64_t which, double o,
                          const double *faces) {
    item *it = plan_add(l);
    if (!it) return NULL;
    set_box(it, c);
    it->label = label;
    it->face = (int32_t)which;
    it->iou = (float)o;
    if (label != MT_LABEL_NEGATIVE) set_target(it, c, faces + 4 * which);
    return it;
}

/* Plans crop c as a negative when its best IoU with the faces is below neg_iou (*taken, unless
 * NULL, says whether it was); face: the face it was drawn near (-1: none). Returns MT_ERR_OOM
 * only. */
static mt_status add_negative(plan_list *l, const double *c, const double *faces, int64_t nf,
                              double neg_iou, int32_t face, bool *taken) {
    int64_t which;
    double o = best_iou(c, faces, nf, &which);
    bool take = o < neg_iou;
    if (taken) *taken = take;
    if (!take) return MT_OK;
    return add_labelled(l, c, MT_LABEL_NEGATIVE, face, o, faces) ? MT_OK : oom();
}

/* ---- sample sets --------------------------------------------------------------------------- */

void mt_sample_set_free(mt_sample_set *s) {
    if (!s) return;
    mt_image_free(s->images);
    free(s->label);
    free(s->box);
    free(s->target);
    free(s->landmark);
    free(s->iou);
    free(s->face);
    free(s->aug);
    free(s);
}

/* A set holding the planned items' numbers; the pixels are cut afterwards. */
static mt_status set_from_plan(mt_sample_set **out, const plan_list *l, int size) {
    *out = NULL;
    if (l->n * (int64_t)size > MT_IMAGE_MAX_SIDE)
        return mt_fail(MT_ERR_ARG, "sample: %lld samples of side %d do not fit in one strip",
                       (long long)l->n, size);
    mt_sample_set *s = (mt_sample_set *)calloc(1, sizeof *s);
    if (!s) return oom();
    size_t n = (size_t)l->n + 1; /* + 1: never a zero-byte request */
    s->size = size;
    s->count = l->n;
    s->label = (int8_t *)malloc(n);
    s->box = (float *)malloc(n * 4 * sizeof(float));
    s->target = (float *)malloc(n * 4 * sizeof(float));
    s->landmark = (float *)malloc(n * 10 * sizeof(float));
    s->iou = (float *)malloc(n * sizeof(float));
    s->face = (int32_t *)malloc(n * sizeof(int32_t));
    s->aug = (uint8_t *)malloc(n);
    if (!s->label || !s->box || !s->target || !s->landmark || !s->iou || !s->face || !s->aug) {
        mt_sample_set_free(s);
        return oom();
    }
    mt_status st = mt_image_new_uninit(&s->images, size, (int)(l->n * size));
    if (st != MT_OK) {
        mt_sample_set_free(s);
        return st;
    }
    for (int64_t i = 0; i < l->n; i++) {
        const item *it = l->v + i;
        s->label[i] = it->label;
        s->aug[i] = it->aug;
        s->face[i] = it->face;
        s->iou[i] = it->iou;
        for (int k = 0; k < 4; k++) s->box[4 * i + k] = (float)it->box[k];
        memcpy(s->target + 4 * i, it->target, sizeof it->target);
        memcpy(s->landmark + 10 * i, it->lmk, sizeof it->lmk);
    }
    *out = s;
    return MT_OK;
}

/* Cuts the pixels of the planned items into set s (crop boxes wholly or partly inside im). */
static mt_status cut_plan(mt_sample_set *s, const mt_image *im, const plan_list *l,
                          const mt_sample_params *p) {
    if (l->n == 0) return MT_OK;
    int32_t *boxes = (int32_t *)malloc((size_t)l->n * 4 * sizeof(int32_t));
    if (!boxes) return oom();
    for (int64_t i = 0; i < l->n; i++) memcpy(boxes + 4 * i, l->v[i].box, 16);
    mt_status st = mt_crop_resize_strip(im, boxes, l->n, p->size, p->interp, s->images, 0);
    free(boxes);
    return st;
}

/* ---- detection samples (docs/design.md, 'Sample generation') ------------------------------- */

/* Plans the crops of one image; returns MT_ERR_OOM only. */
static mt_status plan_detection(plan_list *l, int W, int H, const double *faces,
                                const uint8_t *seeds, int64_t nf, const mt_sample_params *p,
                                mt_rng *rng) {
    int min_wh = W < H ? W : H;
    int64_t neg_hi = (int64_t)floor(min_wh * p->neg_max_frac); /* exclusive */
    double c[4];
    int64_t which;

    /* 1. random negatives anywhere in the image */
    if (neg_hi > p->min_crop) {
        int accepted = 0;
        for (int tries = 0; accepted < p->neg_count && tries < p->neg_max_tries; tries++) {
            int64_t s = draw(rng, p->min_crop, neg_hi);
            int64_t x = draw(rng, 0, W - s), y = draw(rng, 0, H - s);
            square_box(c, x, y, s);
            bool taken;
            MT_TRY(add_negative(l, c, faces, nf, p->neg_iou, -1, &taken));
            accepted += taken;
        }
    }

    /* 2. crops around each face large enough and inside the image at its corner */
    for (int64_t f = 0; f < nf; f++) {
        const double *g = faces + 4 * f;
        double x1 = g[0], y1 = g[1];
        double w = g[2] - g[0] + 1, h = g[3] - g[1] + 1;
        if ((seeds && !seeds[f]) || fmax(w, h) < p->min_face || x1 < 0 || y1 < 0) continue;

        /* near-face negatives: a crop whose corner lies on the face */
        for (int t = 0; t < p->near_neg_tries && neg_hi > p->min_crop; t++) {
            int64_t s = draw(rng, p->min_crop, neg_hi);
            int64_t dx = draw(rng, (int64_t)trunc(fmax((double)-s, -x1)), (int64_t)trunc(w));
            int64_t dy = draw(rng, (int64_t)trunc(fmax((double)-s, -y1)), (int64_t)trunc(h));
            int64_t nx1 = (int64_t)trunc(fmax(0.0, x1 + dx)), ny1 = (int64_t)trunc(fmax(0.0, y1 + dy));
            if (nx1 + s > W || ny1 + s > H) continue;
            square_box(c, nx1, ny1, s);
            MT_TRY(add_negative(l, c, faces, nf, p->neg_iou, (int32_t)f, NULL));
        }

        /* positives and part faces: the face's square, rescaled and shifted */
        const shift_range sr = shift_range_of(w, h, p);
        for (int t = 0; t < p->pos_tries; t++) {
            int64_t s, dx, dy;
            if (!draw_shift(rng, &sr, &s, &dx, &dy)) continue;
            int64_t nx1 = (int64_t)floor(fmax(x1 + w / 2 + (double)dx - (double)s / 2, 0.0));
            int64_t ny1 = (int64_t)floor(fmax(y1 + h / 2 + (double)dy - (double)s / 2, 0.0));
            if (nx1 + s > W || ny1 + s > H) continue;
            square_box(c, nx1, ny1, s);
            double o;
            if (p->label_by_all_faces) {
                o = best_iou(c, faces, nf, &which);
            } else {
                o = mt_box_overlap(c, g, MT_OVERLAP_UNION);
                which = f;
            }
            int8_t label;
            if (o >= p->pos_iou) label = MT_LABEL_POSITIVE;
            else if (o >= p->part_iou) label = MT_LABEL_PART;
            else continue;
            item *it = add_labelled(l, c, label, which, o, faces);
            if (!it) return oom();
            /* no draw unless asked for: the default stream stays the seed's */
            if (p->mirror_p > 0 && mt_rng_unit(rng) < p->mirror_p) {
                double t[4] = {it->target[0], it->target[1], it->target[2], it->target[3]};
                mt_targets_mirror(t);
                for (int k = 0; k < 4; k++) it->target[k] = (float)t[k];
                it->aug |= MT_AUG_MIRROR;
            }
        }
    }
    return MT_OK;
}

/* Flips sample i of a strip left-right. */
static void flip_sample(mt_image *strip, int64_t i) {
    int S = strip->width;
    mt_image view = {S, S, strip->data + (size_t)i * S * S * 3, 0};
    mt_image_flip_inplace(&view);
}

mt_status mt_sample_detection(mt_sample_set **out, const mt_image *im, const double *faces,
                              const uint8_t *seeds, int64_t nfaces, const mt_sample_params *p,
                              mt_rng *rng) {
    *out = NULL;
    MT_TRY(check_params(p));
    MT_TRY(check_coords(faces, nfaces, 4, "face"));
    if (im->width < 1 || im->height < 1)
        return mt_fail(MT_ERR_ARG, "sample: the image is empty (%dx%d)", im->width, im->height);
    plan_list l = {NULL, 0, 0};
    mt_status st = plan_detection(&l, im->width, im->height, faces, seeds, nfaces, p, rng);
    if (st == MT_OK) st = set_from_plan(out, &l, p->size);
    if (st == MT_OK) st = cut_plan(*out, im, &l, p);
    for (int64_t i = 0; st == MT_OK && i < l.n; i++)
        if (l.v[i].aug & MT_AUG_MIRROR) flip_sample((*out)->images, i);
    free(l.v);
    if (st != MT_OK) {
        mt_sample_set_free(*out);
        *out = NULL;
    }
    return st;
}

/* ---- hard examples (docs/design.md, 'Hard examples') ------------------------------------- */

/* x rounded to the nearest integer, halves to the even one (numpy's round), whatever the
 * floating-point rounding mode. */
static double round_even(double x) {
    double r = floor(x), d = x - r;
    if (d > 0.5 || (d == 0.5 && fmod(r, 2.0) != 0.0)) r += 1.0;
    return r;
}

/* Window w made square and rounded into c; false (counted in k) when it is too small or
 * reaches outside the W x H image. */
static bool take_window(double c[4], const double *w, int W, int H, const mt_sample_params *p,
                        mt_window_counts *k) {
    memcpy(c, w, 4 * sizeof *c);
    mt_box_square(c, 1, MT_SQUARE_INCLUSIVE);
    for (int j = 0; j < 4; j++) c[j] = round_even(c[j]);
    if (!(c[2] - c[0] + 1 >= p->win_min_side)) { /* (a NaN window too) */
        k->small++;
        return false;
    }
    if (c[0] < 0 || c[1] < 0 || c[2] > W - 1 || c[3] > H - 1) {
        k->outside++;
        return false;
    }
    return true;
}

/* Plans the labelled windows of one image; returns MT_ERR_OOM only. */
static mt_status plan_windows(plan_list *l, int W, int H, const double *faces, int64_t nf,
                              const double *windows, int64_t nw, const mt_sample_params *p,
                              mt_window_counts *k) {
    int64_t negatives = 0, which;
    for (int64_t i = 0; i < nw; i++) {
        double c[4];
        if (!take_window(c, windows + 4 * i, W, H, p, k)) continue;
        double o = best_iou(c, faces, nf, &which);
        int8_t label;
        if (o < p->neg_iou) {
            if (negatives == p->win_neg_max) {
                k->neg_over++;
                continue;
            }
            negatives++;
            label = MT_LABEL_NEGATIVE;
        } else if (o >= p->pos_iou) {
            label = MT_LABEL_POSITIVE;
        } else if (o >= p->part_iou) {
            label = MT_LABEL_PART;
        } else {
            k->between++;
            continue;
        }
        /* (after the negatives' count, so that it changes no negative) */
        if (label != MT_LABEL_NEGATIVE && c[2] - c[0] + 1 < p->win_face_min_side) {
            k->face_small++;
            continue;
        }
        if (!add_labelled(l, c, label, which, o, faces)) return oom();
    }
    return MT_OK;
}

/* The common start of the window samplers: zeroed counts (k, and *counts unless NULL) that
 * say how many windows were given, then the parameters and the image checked. */
static mt_status start_windows(const mt_image *im, int64_t nwindows, const mt_sample_params *p,
                               mt_window_counts *k, mt_window_counts *counts) {
    memset(k, 0, sizeof *k);
    k->windows = nwindows;
    if (counts) *counts = *k;
    MT_TRY(check_params(p));
    if (im->width < 1 || im->height < 1)
        return mt_fail(MT_ERR_ARG, "sample: the image is empty (%dx%d)", im->width, im->height);
    return MT_OK;
}

/* Cuts the planned windows l (planned with status st) into *out, frees the plan and, when all
 * went well, hands over the counts k. */
static mt_status cut_windows(mt_sample_set **out, const mt_image *im, plan_list *l,
                             const mt_sample_params *p, mt_status st, const mt_window_counts *k,
                             mt_window_counts *counts) {
    if (st == MT_OK) st = set_from_plan(out, l, p->size);
    if (st == MT_OK) st = cut_plan(*out, im, l, p);
    free(l->v);
    if (st != MT_OK) {
        mt_sample_set_free(*out);
        *out = NULL;
        return st;
    }
    if (counts) *counts = *k;
    return MT_OK;
}

mt_status mt_sample_windows(mt_sample_set **out, const mt_image *im, const double *faces,
                            int64_t nfaces, const double *windows, int64_t nwindows,
                            const mt_sample_params *p, mt_window_counts *counts) {
    *out = NULL;
    mt_window_counts k;
    MT_TRY(start_windows(im, nwindows, p, &k, counts));
    if (nwindows < 0 || nfaces < 0 || (nwindows > 0 && !windows) || (nfaces > 0 && !faces))
        return mt_fail(MT_ERR_ARG, "sample: windows or faces missing");
    plan_list l = {NULL, 0, 0};
    mt_status st = plan_windows(&l, im->width, im->height, faces, nfaces, windows, nwindows, p, &k);
    return cut_windows(out, im, &l, p, st, &k, counts);
}

/* ---- landmark samples (docs/design.md, 'Landmark samples') --------------------------------- */

static int landmarks_inside(const float *u) {
    for (int k = 0; k < 10; k++)
        if (!(u[k] > 0.0f && u[k] < 1.0f)) return 0;
    return 1;
}

static void set_landmarks(item *it, const double *pts, const double *box) {
    double u[10];
    mt_landmarks_to_box(pts, box, 0.5, u);
    for (int k = 0; k < 10; k++) it->lmk[k] = (float)u[k];
}

static void mirror_item(item *dst, const item *src) {
    *dst = *src;
    double u[10];
    for (int k = 0; k < 10; k++) u[k] = src->lmk[k];
    mt_landmarks_mirror(u);
    for (int k = 0; k < 10; k++) dst->lmk[k] = (float)u[k];
    dst->aug |= MT_AUG_MIRROR;
}

/* the rotation of a crop's augmentation: about the crop's centre */
static void crop_rotation(const int32_t *box, double angle, double m[6]) {
    mt_rotation_matrix((box[0] + box[2]) / 2.0, (box[1] + box[3]) / 2.0, angle, 1.0, m);
}

static mt_status plan_landmarks(plan_list *l, int W, int H, const double *gb, const double *pts,
                                const mt_sample_params *p, mt_rng *rng) {
    double g[4] = {floor(gb[0]), floor(gb[1]), floor(gb[2]), floor(gb[3])};
    double w = g[2] - g[0] + 1, h = g[3] - g[1] + 1;
    if (fmax(w, h) < p->lmk_min_face || g[0] < 0 || g[1] < 0) return MT_OK;
    item *it;
    if (p->lmk_plain) {
        if (!(it = plan_add(l))) return oom();
        set_box(it, g);
        it->label = MT_LABEL_LANDMARK;
        it->face = 0;
        it->iou = 1.0f;
        set_landmarks(it, pts, g);
    }
    const shift_range sr = shift_range_of(w, h, p);
    for (int t = 0; t < p->lmk_shift_tries; t++) {
        int64_t s, dx, dy;
        if (!draw_shift(rng, &sr, &s, &dx, &dy)) continue;
        int64_t nx1 = (int64_t)floor(fmax(g[0] + w / 2 - (double)s / 2 + (double)dx, 0.0));
        int64_t ny1 = (int64_t)floor(fmax(g[1] + h / 2 - (double)s / 2 + (double)dy, 0.0));
        if (nx1 + s > W || ny1 + s > H) continue;
        double c[4];
        square_box(c, nx1, ny1, s);
        double o = mt_box_overlap(c, g, MT_OVERLAP_UNION);
        if (!(o > p->lmk_iou)) continue;
        if (!(it = plan_add(l))) return oom();
        set_box(it, c);
        it->label = MT_LABEL_LANDMARK;
        it->face = 0;
        it->iou = (float)o;
        set_landmarks(it, pts, c);
        item base = *it;
        if (mt_rng_unit(rng) < p->lmk_mirror_p) {
            if (!(it = plan_add(l))) return oom();
            mirror_item(it, &base);
        }
        for (int sign = 1; sign >= -1; sign -= 2) {
            if (!(mt_rng_unit(rng) < p->lmk_rotate_p)) continue;
            double m[6], q[10], xy[10];
            crop_rotation(base.box, sign * p->lmk_angle, m);
            for (int k = 0; k < 5; k++) xy[2 * k] = pts[k], xy[2 * k + 1] = pts[5 + k];
            mt_affine_points(m, xy, 5);
            for (int k = 0; k < 5; k++) q[k] = xy[2 * k], q[5 + k] = xy[2 * k + 1];
            if (!(it = plan_add(l))) return oom();
            *it = base;
            it->aug = sign > 0 ? MT_AUG_ROTATE_POS : MT_AUG_ROTATE_NEG;
            set_landmarks(it, q, c);
            item rotated = *it;
            if (!(it = plan_add(l))) return oom();
            mirror_item(it, &rotated);
        }
    }
    /* drop samples whose points leave the crop (step 4) */
    int64_t k = 0;
    for (int64_t i = 0; i < l->n; i++)
        if (landmarks_inside(l->v[i].lmk)) l->v[k++] = l->v[i];
    l->n = k;
    return MT_OK;
}

/* Cuts one planned landmark sample into slot i of the strip. */
static mt_status cut_landmark(const mt_image *im, const item *it, const mt_sample_params *p,
                              mt_image *strip, int64_t i) {
    mt_status st;
    if (it->aug & (MT_AUG_ROTATE_POS | MT_AUG_ROTATE_NEG)) {
        double m[6];
        double angle = (it->aug & MT_AUG_ROTATE_POS) ? p->lmk_angle : -p->lmk_angle;
        crop_rotation(it->box, angle, m);
        /* the rotated image seen through the crop: shift the output origin (only the
         * rotated pixels that the resize reads are computed) */
        m[2] -= it->box[0];
        m[5] -= it->box[1];
        int pw = it->box[2] - it->box[0] + 1, ph = it->box[3] - it->box[1] + 1;
        st = mt_warp_resize_strip(im, m, pw, ph, p->size, p->interp, strip, i);
    } else {
        st = mt_crop_resize_strip(im, it->box, 1, p->size, p->interp, strip, i);
    }
    if (st == MT_OK && (it->aug & MT_AUG_MIRROR)) flip_sample(strip, i);
    return st;
}

mt_status mt_sample_landmarks(mt_sample_set **out, const mt_image *im, const double box[4],
                              const double pts[10], const mt_sample_params *p, mt_rng *rng) {
    *out = NULL;
    MT_TRY(check_params(p));
    MT_TRY(check_coords(box, 1, 4, "box"));
    MT_TRY(check_coords(pts, 1, 10, "landmark set"));
    if (im->width < 1 || im->height < 1)
        return mt_fail(MT_ERR_ARG, "sample: the image is empty (%dx%d)", im->width, im->height);
    plan_list l = {NULL, 0, 0};
    mt_status st = plan_landmarks(&l, im->width, im->height, box, pts, p, rng);
    if (st == MT_OK) st = set_from_plan(out, &l, p->size);
    size_t tile = (size_t)p->size * p->size * 3;
    for (int64_t i = 0; st == MT_OK && i < l.n; i++) {
        const item *a = l.v + i, *b = i > 0 ? l.v + i - 1 : NULL;
        if (b && (a->aug & MT_AUG_MIRROR) && !(b->aug & MT_AUG_MIRROR) &&
            a->aug == (b->aug | MT_AUG_MIRROR) &&
            memcmp(a->box, b->box, sizeof a->box) == 0) {
            /* the mirror of the sample just cut: flip its pixels rather than cut them again */
            uint8_t *px = (*out)->images->data;
            memcpy(px + (size_t)i * tile, px + (size_t)(i - 1) * tile, tile);
            flip_sample((*out)->images, i);
            continue;
        }
        st = cut_landmark(im, a, p, (*out)->images, i);
    }
    free(l.v);
    if (st != MT_OK) {
        mt_sample_set_free(*out);
        *out = NULL;
    }
    return st;
}

/* ---- landmark windows (docs/design.md, 'Landmark windows') ------------------------------- */

/* Plans the landmark windows of one image (kept: nf counters, zeroed); returns MT_ERR_OOM
 * only. */
static mt_status plan_landmark_windows(plan_list *l, int W, int H, const double *faces,
                                       const double *points, int64_t nf, const double *windows,
                                       int64_t nw, const mt_sample_params *p, mt_window_counts *k,
                                       int64_t *kept) {
    for (int64_t i = 0; i < nw; i++) {
        double c[4];
        if (!take_window(c, windows + 4 * i, W, H, p, k)) continue;
        int64_t which;
        double o = best_iou(c, faces, nf, &which);
        if (which < 0 || !(o >= p->win_lmk_iou)) {
            k->lmk_far++;
            continue;
        }
        if (kept[which] >= p->win_lmk_max) {
            k->lmk_over++;
            continue;
        }
        item framed;
        memset(&framed, 0, sizeof framed);
        set_landmarks(&framed, points + 10 * which, c);
        if (!landmarks_inside(framed.lmk)) {
            k->lmk_points++;
            continue;
        }
        item *it = plan_add(l);
        if (!it) return oom();
        set_box(it, c);
        it->label = MT_LABEL_LANDMARK;
        it->face = (int32_t)which;
        it->iou = (float)o;
        memcpy(it->lmk, framed.lmk, sizeof it->lmk);
        kept[which]++;
    }
    return MT_OK;
}

mt_status mt_sample_landmark_windows(mt_sample_set **out, const mt_image *im, const double *faces,
                                     const double *points, int64_t nfaces, const double *windows,
                                     int64_t nwindows, const mt_sample_params *p,
                                     mt_window_counts *counts) {
    *out = NULL;
    mt_window_counts k;
    MT_TRY(start_windows(im, nwindows, p, &k, counts));
    if (nwindows < 0 || nfaces < 0 || (nwindows > 0 && !windows) ||
        (nfaces > 0 && (!faces || !points)))
        return mt_fail(MT_ERR_ARG, "sample: windows, faces or points missing");
    MT_TRY(check_coords(faces, nfaces, 4, "face"));
    MT_TRY(check_coords(points, nfaces, 10, "landmark set"));
    int64_t *kept = (int64_t *)calloc((size_t)nfaces + 1, sizeof *kept);
    if (!kept) return oom();
    plan_list l = {NULL, 0, 0};
    mt_status st = plan_landmark_windows(&l, im->width, im->height, faces, points, nfaces,
                                         windows, nwindows, p, &k, kept);
    free(kept);
    return cut_windows(out, im, &l, p, st, &k, counts);
}
