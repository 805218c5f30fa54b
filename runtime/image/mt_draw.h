/*
 * mt_draw.h - drawing on images for pictures of results: rectangles, lines,
 * discs and circles, and short text labels in a built-in 5x7 bitmap font.
 *
 * Coordinates are 0-based pixel positions; everything is clipped to the
 * image, so any coordinates are safe. Rectangles are inclusive boxes
 * [x1, y1, x2, y2]; a line thickness t covers t pixels, centred on the box
 * edge (t = 2 adds one pixel inside). Text: each character is a 6 x 8 cell
 * (5 x 7 glyph plus spacing) times scale; letters print as capitals;
 * characters outside printable ASCII print as '?'. Nothing here fails.
 */
#ifndef MT_DRAW_H
#define MT_DRAW_H

#include "image/mt_image.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Fills the inclusive box [x1, y1, x2, y2]. */
void mt_draw_fill_rect(mt_image *im, int x1, int y1, int x2, int y2, const uint8_t rgb[3]);

/* The outline of the inclusive box with lines of the given thickness. */
void mt_draw_rect(mt_image *im, int x1, int y1, int x2, int y2, const uint8_t rgb[3],
                  int thickness);

/* A straight line between two pixel centres, thickness pixels wide. */
void mt_draw_line(mt_image *im, int x0, int y0, int x1, int y1, const uint8_t rgb[3],
                  int thickness);

/* A disc (filled) or a one-pixel circle of radius r around (cx, cy). */
void mt_draw_circle(mt_image *im, double cx, double cy, double r, const uint8_t rgb[3], int filled);

/* Width and height in pixels of text at this scale. */
void mt_text_size(const char *text, int scale, int *w, int *h);

/* Text with its top-left corner at (x, y); bg (may be NULL) fills the text's
 * cells first. */
void mt_draw_text(mt_image *im, int x, int y, const char *text, const uint8_t rgb[3], int scale,
                  const uint8_t *bg);

#ifdef __cplusplus
}
#endif

#endif
