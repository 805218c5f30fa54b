/* mt_cpu_conv_ref.c - the reference convolution and fully connected kernels: plain loops
 * with double accumulators, single-threaded, written for clarity. Every faster kernel set is
 * tested against these (spec/nn_kernels_spec.lua). */
#include "cpu/conv/mt_cpu_conv.h"

#include "cpu/engine/mt_cpu_engine.h"

#include <string.h>

static mt_status conv_forward(const mt_conv_geom *g, const float *x, const float *w,
                              const float *b, const float *prelu, float *y) {
    for (int64_t n = 0; n < g->n; n++)
        for (int64_t co = 0; co < g->cout; co++)
            for (int64_t oy = 0; oy < g->oh; oy++)
                for (int64_t ox = 0; ox < g->ow; ox++) {
                    double s = b ? b[co] : 0.0;
                    for (int64_t ci = 0; ci < g->cin; ci++)
                        for (int64_t ky = 0; ky < g->kh; ky++) {
                            int64_t iy = oy * g->sh - g->ph + ky;
                            if (iy < 0 || iy >= g->h) continue;
                            for (int64_t kx = 0; kx < g->kw; kx++) {
                                int64_t ix = ox * g->sw - g->pw + kx;
                                if (ix < 0 || ix >= g->w) continue;
                                s += (double)x[((n * g->cin + ci) * g->h + iy) * g->w + ix] *
                                     (double)w[((co * g->cin + ci) * g->kh + ky) * g->kw + kx];
                            }
                        }
                    float v = (float)s;
                    if (prelu && v <= 0.0f) v *= prelu[co];
                    y[((n * g->cout + co) * g->oh + oy) * g->ow + ox] = v;
                }
    return MT_OK;
}

static mt_status conv_backward_input(const mt_conv_geom *g, const float *dy, const float *w,
                                     float *dx) {
    memset(dx, 0, sizeof(float) * (size_t)(g->n * g->cin * g->h * g->w));
    for (int64_t n = 0; n < g->n; n++)
        for (int64_t ci = 0; ci < g->cin; ci++)
            for (int64_t iy = 0; iy < g->h; iy++)
                for (int64_t ix = 0; ix < g->w; ix++) {
                    /* gather: every (co, ky, kx) whose window covers (iy, ix) */
                    double s = 0.0;
                    for (int64_t co = 0; co < g->cout; co++)
                        for (int64_t ky = 0; ky < g->kh; ky++) {
                            int64_t ty = iy + g->ph - ky;
                            if (ty < 0 || ty % g->sh) continue;
                            int64_t oy = ty / g->sh;
                            if (oy >= g->oh) continue;
                            for (int64_t kx = 0; kx < g->kw; kx++) {
                                int64_t tx = ix + g->pw - kx;
                                if (tx < 0 || tx % g->sw) continue;
                                int64_t ox = tx / g->sw;
                                if (ox >= g->ow) continue;
                                s += (double)dy[((n * g->cout + co) * g->oh + oy) * g->ow + ox] *
                                     (double)w[((co * g->cin + ci) * g->kh + ky) * g->kw + kx];
                            }
                        }
                    dx[((n * g->cin + ci) * g->h + iy) * g->w + ix] = (float)s;
                }
    return MT_OK;
}

static mt_status conv_backward_params(const mt_conv_geom *g, const float *x, const float *dy,
                                      float *dw, float *db) {
    for (int64_t co = 0; co < g->cout; co++) {
        if (db) {
            double s = 0.0;
            for (int64_t n = 0; n < g->n; n++)
                for (int64_t p = 0; p < g->oh * g->ow; p++)
                    s += dy[(n * g->cout + co) * g->oh * g->ow + p];
            db[co] += (float)s;
        }
        for (int64_t ci = 0; ci < g->cin; ci++)
            for (int64_t ky = 0; ky < g->kh; ky++)
                for (int64_t kx = 0; kx < g->kw; kx++) {
                    double s = 0.0;
                    for (int64_t n = 0; n < g->n; n++)
                        for (int64_t oy = 0; oy < g->oh; oy++) {
                            int64_t iy = oy * g->sh - g->ph + ky;
                            if (iy < 0 || iy >= g->h) continue;
                            for (int64_t ox = 0; ox < g->ow; ox++) {
                                int64_t ix = ox * g->sw - g->pw + kx;
                                if (ix < 0 || ix >= g->w) continue;
                                s += (double)dy[((n * g->cout + co) * g->oh + oy) * g->ow + ox] *
                                     (double)x[((n * g->cin + ci) * g->h + iy) * g->w + ix];
                            }
                        }
                    dw[((co * g->cin + ci) * g->kh + ky) * g->kw + kx] += (float)s;
                }
    }
    return MT_OK;
}

static mt_status linear_forward(int64_t n, int64_t in, int64_t out, const float *x,
                                const float *w, const float *b, const float *prelu, float *y) {
    for (int64_t i = 0; i < n; i++)
        for (int64_t o = 0; o < out; o++) {
            double s = b ? b[o] : 0.0;
            for (int64_t k = 0; k < in; k++) s += (double)x[i * in + k] * (double)w[o * in + k];
            float v = (float)s;
            if (prelu && v <= 0.0f) v *= prelu[o];
            y[i * out + o] = v;
        }
    return MT_OK;
}

static mt_status linear_backward_input(int64_t n, int64_t in, int64_t out, const float *dy,
                                       const float *w, float *dx) {
    for (int64_t i = 0; i < n; i++)
        for (int64_t k = 0; k < in; k++) {
            double s = 0.0;
            for (int64_t o = 0; o < out; o++) s += (double)dy[i * out + o] * (double)w[o * in + k];
            dx[i * in + k] = (float)s;
        }
    return MT_OK;
}

static mt_status linear_backward_params(int64_t n, int64_t in, int64_t out, const float *x,
                                        const float *dy, float *dw, float *db) {
    for (int64_t o = 0; o < out; o++) {
        if (db) {
            double s = 0.0;
            for (int64_t i = 0; i < n; i++) s += dy[i * out + o];
            db[o] += (float)s;
        }
        for (int64_t k = 0; k < in; k++) {
            double s = 0.0;
            for (int64_t i = 0; i < n; i++) s += (double)dy[i * out + o] * (double)x[i * in + k];
            dw[o * in + k] += (float)s;
        }
    }
    return MT_OK;
}

const mt_engine *mt_conv_ref_set(void) {
    static const mt_engine set = MT_CONV_SET("ref");
    return &set;
}
