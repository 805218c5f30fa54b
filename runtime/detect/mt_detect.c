/* mt_detect.c - candidate windows of the cascade (see mt_detect.h). */
#include "detect/mt_detect.h"

#include "core/mt_alloc.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void mt_cands_init(mt_cands *c) { memset(c, 0, sizeof *c); }

void mt_cands_free(mt_cands *c) {
    free(c->box);
    free(c->score);
    free(c->reg);
    free(c->pts);
    free(c->image);
    mt_cands_init(c);
}

mt_status mt_cands_reserve(mt_cands *c, int64_t n) {
    if (n <= c->cap) return MT_OK;
    int64_t cap = c->cap ? c->cap : 256;
    while (cap < n) cap *= 2;
    double *box = (double *)realloc(c->box, (size_t)cap * 4 * sizeof(double));
    if (box) c->box = box;
    double *score = (double *)realloc(c->score, (size_t)cap * sizeof(double));
    if (score) c->score = score;
    double *reg = (double *)realloc(c->reg, (size_t)cap * 4 * sizeof(double));
    if (reg) c->reg = reg;
    double *pts = (double *)realloc(c->pts, (size_t)cap * 10 * sizeof(double));
    if (pts) c->pts = pts;
    int32_t *image = (int32_t *)realloc(c->image, (size_t)cap * sizeof(int32_t));
    if (image) c->image = image;
    if (!box || !score || !reg || !pts || !image)
        return mt_fail(MT_ERR_OOM, "detect: out of memory for %lld candidate windows", (long long)n);
    c->cap = cap;
    return MT_OK;
}

/* Copies window j of src into slot i of dst. */
static void copy_window(mt_cands *dst, int64_t i, const mt_cands *src, int64_t j) {
    memcpy(dst->box + 4 * i, src->box + 4 * j, 4 * sizeof(double));
    dst->score[i] = src->score[j];
    memcpy(dst->reg + 4 * i, src->reg + 4 * j, 4 * sizeof(double));
    memcpy(dst->pts + 10 * i, src->pts + 10 * j, 10 * sizeof(double));
    dst->image[i] = src->image[j];
}

static float at4(const mt_tensor *t, int64_t a, int64_t b, int64_t c, int64_t d) {
    const float *p = mt_tensor_data(t);
    return p[a * t->stride[0] + b * t->stride[1] + c * t->stride[2] + d * t->stride[3]];
}

static float at2(const mt_tensor *t, int64_t a, int64_t b) {
    const float *p = mt_tensor_data(t);
    return p[a * t->stride[0] + b * t->stride[1]];
}

mt_status mt_cands_add_pnet(mt_cands *c, const mt_tensor *prob, const mt_tensor *reg, int batch,
                            double scale, double threshold, int32_t image) {
    char a[MT_SHAPE_STR], b[MT_SHAPE_STR];
    if (mt_tensor_device(prob) != MT_CPU || mt_tensor_device(reg) != MT_CPU)
        return mt_fail(MT_ERR_DEVICE, "detect: PNet outputs must be on the CPU");
    if (prob->ndim != 4 || prob->shape[1] != 2 || reg->ndim != 4 || reg->shape[1] != 4 ||
        reg->shape[0] != prob->shape[0] || reg->shape[2] != prob->shape[2] ||
        reg->shape[3] != prob->shape[3])
        return mt_fail(MT_ERR_SHAPE, "detect: PNet outputs %s and %s are not [N,2,h,w] and [N,4,h,w]",
                       mt_tensor_shape_str(prob, a), mt_tensor_shape_str(reg, b));
    if (batch < 0 || batch >= prob->shape[0])
        return mt_fail(MT_ERR_ARG, "detect: batch item %d out of range", batch + 1);
    if (!(scale > 0)) return mt_fail(MT_ERR_ARG, "detect: scale %g must be positive", scale);
    int64_t h = prob->shape[2], w = prob->shape[3];
    for (int64_t i = 0; i < h; i++) {
        for (int64_t j = 0; j < w; j++) {
            double s = at4(prob, batch, 1, i, j);
            if (!(s >= threshold)) continue;
            MT_TRY(mt_cands_reserve(c, c->n + 1));
            int64_t k = c->n++;
            double *bx = c->box + 4 * k;
            bx[0] = trunc((double)(2 * j + 1) / scale);
            bx[1] = trunc((double)(2 * i + 1) / scale);
            bx[2] = trunc((double)(2 * j + 12) / scale);
            bx[3] = trunc((double)(2 * i + 12) / scale);
            c->score[k] = s;
            for (int r = 0; r < 4; r++) c->reg[4 * k + r] = at4(reg, batch, r, i, j);
            memset(c->pts + 10 * k, 0, 10 * sizeof(double));
            c->image[k] = image;
        }
    }
    return MT_OK;
}

mt_status mt_cands_nms(mt_cands *c, int64_t from, double threshold, mt_overlap kind) {
    int64_t m = c->n - from;
    if (m <= 0) return MT_OK;
    /* scratch: the range's windows (as a set), per-image boxes/scores, picks */
    mt_cands tmp;
    mt_cands_init(&tmp);
    double *boxes = (double *)malloc((size_t)m * 4 * sizeof(double));
    double *scores = (double *)malloc((size_t)m * sizeof(double));
    int64_t *index = (int64_t *)malloc((size_t)m * sizeof(int64_t));
    int64_t *keep = (int64_t *)malloc((size_t)m * sizeof(int64_t));
    char *done = (char *)calloc((size_t)m, 1);
    mt_status st = (boxes && scores && index && keep && done) ? mt_cands_reserve(&tmp, m)
                                                              : mt_fail(MT_ERR_OOM, "detect: out of memory in NMS");
    int64_t out = 0;
    /* images in order of first appearance; each image's survivors in pick order */
    for (int64_t start = 0; st == MT_OK && start < m; start++) {
        if (done[start]) continue;
        int32_t im = c->image[from + start];
        int64_t g = 0;
        for (int64_t k = start; k < m; k++) {
            if (done[k] || c->image[from + k] != im) continue;
            done[k] = 1;
            index[g] = from + k;
            memcpy(boxes + 4 * g, c->box + 4 * (from + k), 4 * sizeof(double));
            scores[g] = c->score[from + k];
            g++;
        }
        int64_t nkeep = 0;
        st = mt_box_nms(boxes, scores, g, threshold, kind, keep, &nkeep);
        for (int64_t k = 0; st == MT_OK && k < nkeep; k++) copy_window(&tmp, out++, c, index[keep[k]]);
    }
    if (st == MT_OK) {
        for (int64_t k = 0; k < out; k++) copy_window(c, from + k, &tmp, k);
        c->n = from + out;
    }
    free(boxes);
    free(scores);
    free(index);
    free(keep);
    free(done);
    mt_cands_free(&tmp);
    return st;
}

void mt_cands_calibrate(mt_cands *c, int plus_one) {
    mt_box_calibrate(c->box, c->reg, c->n, plus_one);
}

void mt_cands_square(mt_cands *c) { mt_box_square(c->box, c->n, MT_SQUARE_REREC); }

void mt_cands_fix(mt_cands *c) { mt_box_fix(c->box, c->n); }

mt_status mt_cands_set_outputs(mt_cands *c, const mt_tensor *prob, const mt_tensor *reg,
                               const mt_tensor *pts) {
    char a[MT_SHAPE_STR], b[MT_SHAPE_STR];
    const mt_tensor *all[3] = {prob, reg, pts};
    for (int k = 0; k < 3; k++)
        if (all[k] && mt_tensor_device(all[k]) != MT_CPU)
            return mt_fail(MT_ERR_DEVICE, "detect: network outputs must be on the CPU");
    if (prob->ndim != 2 || prob->shape[0] != c->n || prob->shape[1] != 2 || reg->ndim != 2 ||
        reg->shape[0] != c->n || reg->shape[1] != 4)
        return mt_fail(MT_ERR_SHAPE, "detect: outputs %s and %s do not fit %lld windows "
                                     "(expected %lldx2 and %lldx4)",
                       mt_tensor_shape_str(prob, a), mt_tensor_shape_str(reg, b), (long long)c->n,
                       (long long)c->n, (long long)c->n);
    if (pts && (pts->ndim != 2 || pts->shape[0] != c->n || pts->shape[1] != 10))
        return mt_fail(MT_ERR_SHAPE, "detect: landmark output %s does not fit %lld windows",
                       mt_tensor_shape_str(pts, a), (long long)c->n);
    for (int64_t k = 0; k < c->n; k++) {
        c->score[k] = at2(prob, k, 1);
        for (int r = 0; r < 4; r++) c->reg[4 * k + r] = at2(reg, k, r);
        for (int r = 0; r < 10; r++) c->pts[10 * k + r] = pts ? at2(pts, k, r) : 0.0;
    }
    return MT_OK;
}

void mt_cands_filter(mt_cands *c, double threshold) {
    int64_t out = 0;
    for (int64_t k = 0; k < c->n; k++) {
        if (!(c->score[k] > threshold)) continue;
        if (out != k) copy_window(c, out, c, k);
        out++;
    }
    c->n = out;
}

void mt_cands_decode_landmarks(mt_cands *c, double offset) {
    for (int64_t k = 0; k < c->n; k++) {
        const double *bx = c->box + 4 * k;
        double w = bx[2] - bx[0] + 1, h = bx[3] - bx[1] + 1;
        double *p = c->pts + 10 * k;
        for (int i = 0; i < 5; i++) {
            p[i] = w * p[i] + bx[0] - offset;
            p[5 + i] = h * p[5 + i] + bx[1] - offset;
        }
    }
}

/* 1 when every number of window k is finite and its box and landmarks lie within the image
 * grown by the image's larger side on each side (no face the cascade can find reaches
 * farther; landmarks far outside would make drawing and alignment meaningless). */
static int window_valid(const mt_cands *c, int64_t k, const int32_t *sizes, int nimages) {
    int32_t im = c->image[k];
    if (im < 0 || im >= nimages) return 0;
    double w = sizes[2 * im], h = sizes[2 * im + 1], s = w > h ? w : h;
    const double *b = c->box + 4 * k;
    if (!(b[0] >= -s && b[2] <= w + s && b[1] >= -s && b[3] <= h + s && b[2] >= -s &&
          b[0] <= w + s && b[3] >= -s && b[1] <= h + s))
        return 0; /* (also false for NaN) */
    const double *p = c->pts + 10 * k;
    for (int i = 0; i < 5; i++)
        if (!(p[i] >= -s && p[i] <= w + s && p[5 + i] >= -s && p[5 + i] <= h + s)) return 0;
    double sum = c->score[k];
    for (int r = 0; r < 4; r++) sum += c->reg[4 * k + r];
    return isfinite(sum);
}

int64_t mt_cands_drop_invalid(mt_cands *c, const int32_t *sizes, int nimages) {
    int64_t out = 0;
    for (int64_t k = 0; k < c->n; k++) {
        if (!window_valid(c, k, sizes, nimages)) continue;
        if (out != k) copy_window(c, out, c, k);
        out++;
    }
    int64_t dropped = c->n - out;
    c->n = out;
    return dropped;
}

/* Crop coordinates stay within +-2^30, so that widths and sums of them fit an int32. */
#define CROP_LIMIT 1073741824

mt_status mt_cands_crop_boxes(const mt_cands *c, int64_t first, int64_t count, int32_t *out) {
    if (first < 0 || count < 0 || first > c->n - count)
        return mt_fail(MT_ERR_ARG, "detect: windows %lld..%lld out of range (%lld windows)",
                       (long long)first + 1, (long long)(first + count), (long long)c->n);
    for (int64_t k = first; k < first + count; k++) {
        const double *b = c->box + 4 * k;
        int32_t *o = out + 4 * (k - first);
        for (int r = 0; r < 4; r++)
            if (!mt_to_i32(trunc(b[r]) - 1.0, -CROP_LIMIT, CROP_LIMIT, &o[r]))
                return mt_fail(MT_ERR_ARG, "detect: window %lld has the box [%g, %g, %g, %g], "
                               "which cannot be cropped (drop_invalid removes such windows)",
                               (long long)k + 1, b[0], b[1], b[2], b[3]);
    }
    return MT_OK;
}

mt_status mt_cands_append(mt_cands *c, const mt_cands *src) {
    MT_TRY(mt_cands_reserve(c, c->n + src->n));
    for (int64_t k = 0; k < src->n; k++) copy_window(c, c->n + k, src, k);
    c->n += src->n;
    return MT_OK;
}
