/* mt_draw.c - rectangles, lines, circles and bitmap text on RGB images. */
#include "image/mt_draw.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static void put(mt_image *im, int x, int y, const uint8_t rgb[3]) {
    if (x < 0 || y < 0 || x >= im->width || y >= im->height) return;
    uint8_t *p = mt_image_pixel(im, x, y);
    p[0] = rgb[0], p[1] = rgb[1], p[2] = rgb[2];
}

void mt_draw_fill_rect(mt_image *im, int x1, int y1, int x2, int y2, const uint8_t rgb[3]) {
    if (x1 < 0) x1 = 0;
    if (y1 < 0) y1 = 0;
    if (x2 > im->width - 1) x2 = im->width - 1;
    if (y2 > im->height - 1) y2 = im->height - 1;
    for (int y = y1; y <= y2; y++) {
        uint8_t *p = mt_image_pixel(im, x1, y);
        for (int x = x1; x <= x2; x++, p += 3) p[0] = rgb[0], p[1] = rgb[1], p[2] = rgb[2];
    }
}

/* clamps a coordinate far outside the image to a harmless range (no overflow) */
static int clampc(long v) { return v < -(1 << 24) ? -(1 << 24) : v > (1 << 24) ? (1 << 24) : (int)v; }

void mt_draw_rect(mt_image *im, int x1, int y1, int x2, int y2, const uint8_t rgb[3],
                  int thickness) {
    if (thickness < 1) thickness = 1;
    x1 = clampc(x1), y1 = clampc(y1), x2 = clampc(x2), y2 = clampc(y2);
    int lo = -(thickness - 1) / 2, hi = thickness / 2; /* offsets across an edge */
    mt_draw_fill_rect(im, x1 + lo, y1 + lo, x2 - lo, y1 + hi, rgb); /* top */
    mt_draw_fill_rect(im, x1 + lo, y2 - hi, x2 - lo, y2 - lo, rgb); /* bottom */
    mt_draw_fill_rect(im, x1 + lo, y1 + lo, x1 + hi, y2 - lo, rgb); /* left */
    mt_draw_fill_rect(im, x2 - hi, y1 + lo, x2 - lo, y2 - lo, rgb); /* right */
}

/* Clips the segment (x0, y0)-(x1, y1) to [lo, hi_x] x [lo, hi_y] (Liang-Barsky, in double);
 * 0 when nothing of it is inside. Only a segment leaving that area is moved, so a walk over it
 * is bounded by the image's size, not by the coordinates. */
static int clip_segment(double *x0, double *y0, double *x1, double *y1, double lo, double hi_x,
                        double hi_y) {
    double t0 = 0.0, t1 = 1.0, dx = *x1 - *x0, dy = *y1 - *y0;
    const double p[4] = {-dx, dx, -dy, dy};
    const double q[4] = {*x0 - lo, hi_x - *x0, *y0 - lo, hi_y - *y0};
    for (int k = 0; k < 4; k++) {
        if (p[k] == 0) {
            if (q[k] < 0) return 0;
            continue;
        }
        double t = q[k] / p[k];
        if (p[k] < 0) {
            if (t > t1) return 0;
            if (t > t0) t0 = t;
        } else {
            if (t < t0) return 0;
            if (t < t1) t1 = t;
        }
    }
    double ax = *x0 + t0 * dx, ay = *y0 + t0 * dy, bx = *x0 + t1 * dx, by = *y0 + t1 * dy;
    *x0 = ax, *y0 = ay, *x1 = bx, *y1 = by;
    return 1;
}

void mt_draw_line(mt_image *im, int x0, int y0, int x1, int y1, const uint8_t rgb[3],
                  int thickness) {
    if (thickness < 1) thickness = 1;
    int lo = -(thickness - 1) / 2, hi = thickness / 2;
    int pad = thickness + 1;
    double lo_c = -pad, hx = (double)im->width + pad, hy = (double)im->height + pad;
    if (x0 < lo_c || x0 > hx || y0 < lo_c || y0 > hy || x1 < lo_c || x1 > hx || y1 < lo_c ||
        y1 > hy) {
        double a = x0, b = y0, c = x1, d = y1;
        if (!clip_segment(&a, &b, &c, &d, lo_c, hx, hy)) return;
        x0 = (int)lround(a), y0 = (int)lround(b), x1 = (int)lround(c), y1 = (int)lround(d);
    }
    /* Bresenham, stamping a thickness x thickness square at each step */
    long dx = labs((long)x1 - x0), dy = -labs((long)y1 - y0);
    int sx = x0 < x1 ? 1 : -1, sy = y0 < y1 ? 1 : -1;
    long err = dx + dy;
    for (;;) {
        if (x0 >= -pad && y0 >= -pad && x0 < im->width + pad && y0 < im->height + pad)
            mt_draw_fill_rect(im, x0 + lo, y0 + lo, x0 + hi, y0 + hi, rgb);
        if (x0 == x1 && y0 == y1) break;
        long e2 = 2 * err;
        if (e2 >= dy) err += dy, x0 += sx;
        if (e2 <= dx) err += dx, y0 += sy;
    }
}

void mt_draw_circle(mt_image *im, double cx, double cy, double r, const uint8_t rgb[3], int filled) {
    if (!(r >= 0) || !isfinite(cx) || !isfinite(cy) || !isfinite(r)) return;
    double lo = filled ? -1.0 : (r - 0.5) * (r - 0.5);
    double hi = (r + 0.5) * (r + 0.5);
    if (filled) hi = r * r + 0.25; /* a radius of 0 still marks the centre pixel */
    if (!filled && r < 0.5) lo = -1.0;
    /* the rows and columns it may touch, clipped to the image before any conversion */
    double x0 = fmax(floor(cx - r - 1), 0.0), x1 = fmin(ceil(cx + r + 1), im->width - 1.0);
    double y0 = fmax(floor(cy - r - 1), 0.0), y1 = fmin(ceil(cy + r + 1), im->height - 1.0);
    if (x0 > x1 || y0 > y1) return;
    for (int y = (int)y0; y <= (int)y1; y++)
        for (int x = (int)x0; x <= (int)x1; x++) {
            double d = (x - cx) * (x - cx) + (y - cy) * (y - cy);
            if (d > lo && d <= hi) put(im, x, y, rgb);
        }
}

/* ---- the font ------------------------------------------------------------------------------
 * One glyph per printable ASCII character from ' ' to '~' (lowercase letters
 * use the capitals): 7 rows of 5 pixels, '#' set, '.' clear. */
static const char *const glyphs[] = {
    /* ' ' */ "..... ..... ..... ..... ..... ..... .....",
    /* '!' */ "..#.. ..#.. ..#.. ..#.. ..#.. ..... ..#..",
    /* '"' */ ".#.#. .#.#. ..... ..... ..... ..... .....",
    /* '#' */ ".#.#. .#.#. ##### .#.#. ##### .#.#. .#.#.",
    /* '$' */ "..#.. .#### #.#.. .###. ..#.# ####. ..#..",
    /* '%' */ "##... ##..# ...#. ..#.. .#... #..## ...##",
    /* '&' */ ".##.. #..#. #.#.. .#... #.#.# #..#. .##.#",
    /* ''' */ "..#.. ..#.. ..... ..... ..... ..... .....",
    /* '(' */ "...#. ..#.. .#... .#... .#... ..#.. ...#.",
    /* ')' */ ".#... ..#.. ...#. ...#. ...#. ..#.. .#...",
    /* '*' */ "..... ..#.. #.#.# .###. #.#.# ..#.. .....",
    /* '+' */ "..... ..#.. ..#.. ##### ..#.. ..#.. .....",
    /* ',' */ "..... ..... ..... ..... .##.. ..#.. .#...",
    /* '-' */ "..... ..... ..... ##### ..... ..... .....",
    /* '.' */ "..... ..... ..... ..... ..... .##.. .##..",
    /* '/' */ "..... ....# ...#. ..#.. .#... #.... .....",
    /* '0' */ ".###. #...# #..## #.#.# ##..# #...# .###.",
    /* '1' */ "..#.. .##.. ..#.. ..#.. ..#.. ..#.. .###.",
    /* '2' */ ".###. #...# ....# ...#. ..#.. .#... #####",
    /* '3' */ "##### ...#. ..#.. ...#. ....# #...# .###.",
    /* '4' */ "...#. ..##. .#.#. #..#. ##### ...#. ...#.",
    /* '5' */ "##### #.... ####. ....# ....# #...# .###.",
    /* '6' */ "..##. .#... #.... ####. #...# #...# .###.",
    /* '7' */ "##### ....# ...#. ..#.. .#... .#... .#...",
    /* '8' */ ".###. #...# #...# .###. #...# #...# .###.",
    /* '9' */ ".###. #...# #...# .#### ....# ...#. .##..",
    /* ':' */ "..... .##.. .##.. ..... .##.. .##.. .....",
    /* ';' */ "..... .##.. .##.. ..... .##.. ..#.. .#...",
    /* '<' */ "...#. ..#.. .#... #.... .#... ..#.. ...#.",
    /* '=' */ "..... ..... ##### ..... ##### ..... .....",
    /* '>' */ ".#... ..#.. ...#. ....# ...#. ..#.. .#...",
    /* '?' */ ".###. #...# ....# ...#. ..#.. ..... ..#..",
    /* '@' */ ".###. #...# ....# .##.# #.#.# #.#.# .###.",
    /* 'A' */ ".###. #...# #...# ##### #...# #...# #...#",
    /* 'B' */ "####. #...# #...# ####. #...# #...# ####.",
    /* 'C' */ ".###. #...# #.... #.... #.... #...# .###.",
    /* 'D' */ "###.. #..#. #...# #...# #...# #..#. ###..",
    /* 'E' */ "##### #.... #.... ####. #.... #.... #####",
    /* 'F' */ "##### #.... #.... ####. #.... #.... #....",
    /* 'G' */ ".###. #...# #.... #.### #...# #...# .####",
    /* 'H' */ "#...# #...# #...# ##### #...# #...# #...#",
    /* 'I' */ ".###. ..#.. ..#.. ..#.. ..#.. ..#.. .###.",
    /* 'J' */ "..### ...#. ...#. ...#. ...#. #..#. .##..",
    /* 'K' */ "#...# #..#. #.#.. ##... #.#.. #..#. #...#",
    /* 'L' */ "#.... #.... #.... #.... #.... #.... #####",
    /* 'M' */ "#...# ##.## #.#.# #.#.# #...# #...# #...#",
    /* 'N' */ "#...# #...# ##..# #.#.# #..## #...# #...#",
    /* 'O' */ ".###. #...# #...# #...# #...# #...# .###.",
    /* 'P' */ "####. #...# #...# ####. #.... #.... #....",
    /* 'Q' */ ".###. #...# #...# #...# #.#.# #..#. .##.#",
    /* 'R' */ "####. #...# #...# ####. #.#.. #..#. #...#",
    /* 'S' */ ".#### #.... #.... .###. ....# ....# ####.",
    /* 'T' */ "##### ..#.. ..#.. ..#.. ..#.. ..#.. ..#..",
    /* 'U' */ "#...# #...# #...# #...# #...# #...# .###.",
    /* 'V' */ "#...# #...# #...# #...# #...# .#.#. ..#..",
    /* 'W' */ "#...# #...# #...# #.#.# #.#.# #.#.# .#.#.",
    /* 'X' */ "#...# #...# .#.#. ..#.. .#.#. #...# #...#",
    /* 'Y' */ "#...# #...# .#.#. ..#.. ..#.. ..#.. ..#..",
    /* 'Z' */ "##### ....# ...#. ..#.. .#... #.... #####",
    /* '[' */ ".###. .#... .#... .#... .#... .#... .###.",
    /* '\' */ "..... #.... .#... ..#.. ...#. ....# .....",
    /* ']' */ ".###. ...#. ...#. ...#. ...#. ...#. .###.",
    /* '^' */ "..#.. .#.#. #...# ..... ..... ..... .....",
    /* '_' */ "..... ..... ..... ..... ..... ..... #####",
    /* '`' */ ".#... ..#.. ..... ..... ..... ..... .....",
};
static const char *const glyphs_tail[] = {
    /* '{' */ "...#. ..#.. ..#.. .#... ..#.. ..#.. ...#.",
    /* '|' */ "..#.. ..#.. ..#.. ..#.. ..#.. ..#.. ..#..",
    /* '}' */ ".#... ..#.. ..#.. ...#. ..#.. ..#.. .#...",
    /* '~' */ "..... ..... .#... #.#.# ...#. ..... .....",
};

#define CELL_W 6
#define CELL_H 8

static const char *glyph_of(unsigned char c) {
    if (c >= 'a' && c <= 'z') c = (unsigned char)(c - 'a' + 'A');
    if (c >= ' ' && c <= '`') return glyphs[c - ' '];
    if (c >= '{' && c <= '~') return glyphs_tail[c - '{'];
    return glyphs['?' - ' '];
}

/* Characters drawn at most: a longer text is cut (its width would overflow an int). */
#define MAX_TEXT 4096

void mt_text_size(const char *text, int scale, int *w, int *h) {
    if (scale < 1) scale = 1;
    if (scale > 64) scale = 64;
    size_t n = strnlen(text, MAX_TEXT);
    *w = n ? (int)n * CELL_W * scale - scale : 0; /* no spacing after the last cell */
    *h = n ? (CELL_H - 1) * scale : 0;
}

void mt_draw_text(mt_image *im, int x, int y, const char *text, const uint8_t rgb[3], int scale,
                  const uint8_t *bg) {
    if (scale < 1) scale = 1;
    if (scale > 64) scale = 64;
    x = clampc(x), y = clampc(y);
    if (bg) {
        int w, h;
        mt_text_size(text, scale, &w, &h);
        if (w > 0) mt_draw_fill_rect(im, x - scale, y - scale, x + w + scale - 1, y + h + scale - 1, bg);
    }
    const unsigned char *end = (const unsigned char *)text + strnlen(text, MAX_TEXT);
    for (const unsigned char *c = (const unsigned char *)text; c < end; c++, x += CELL_W * scale) {
        if (x > im->width) break;
        const char *g = glyph_of(*c);
        for (int row = 0; row < 7; row++)
            for (int col = 0; col < 5; col++)
                if (g[row * 6 + col] == '#')
                    mt_draw_fill_rect(im, x + col * scale, y + row * scale, x + (col + 1) * scale - 1,
                                      y + (row + 1) * scale - 1, rgb);
    }
}

_Static_assert(sizeof glyphs / sizeof glyphs[0] == '`' - ' ' + 1, "one glyph per character");
