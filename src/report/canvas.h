/* The cairo canvas every PNG picture is drawn on (plots, pairs, search grids): a white page,
 * text, images scaled into square cells, and the atomic PNG write. */
#ifndef SM_CANVAS_H
#define SM_CANVAS_H

#include <cairo.h>

#include "base/errors.h"
#include "report/plot.h"

/* A white RGB canvas of width x height; *surface receives its surface. */
cairo_t *sm_canvas_create(int width, int height, cairo_surface_t **surface);

/* Writes the drawing to path as PNG (atomically: nothing left behind on failure) unless cairo
 * failed, then frees the canvas. */
siamese_status sm_canvas_finish(cairo_t *cr, cairo_surface_t *surface, const char *path,
                                sm_err *err);

/* Text with its baseline at y, placed by align_x: 0 starts at x, 0.5 centres on x, 1 ends at x. */
void sm_canvas_text(cairo_t *cr, double x, double y, const char *text, double align_x);

/* 1 when img can be drawn: pixels, 1 (grey) or 3 (RGB) channels, sides up to the image limit. */
int sm_canvas_image_valid(const sm_plot_image *img);

/* Paints img scaled to fit a cell x cell square at (x, y), centred. */
void sm_canvas_image(cairo_t *cr, const sm_plot_image *img, double x, double y, double cell);

#endif
