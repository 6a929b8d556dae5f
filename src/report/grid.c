/* The public picture of search results (siamese_draw_grid): rows of captioned images, e.g. a
 * query followed by its neighbours, each under "Dissimilarity: 0.73". */
#include <cairo.h>
#include <math.h>
#include <stdio.h>

#include "base/errors.h"
#include "base/fileio.h"

enum { GRID_CELL = 160, GRID_GAP = 10, GRID_CAPTION = 26, GRID_MAX_CELLS = 10000 };

static cairo_status_t write_to_file(void *closure, const unsigned char *data, unsigned int len) {
    return fwrite(data, 1, len, (FILE *)closure) == len ? CAIRO_STATUS_SUCCESS
                                                        : CAIRO_STATUS_WRITE_ERROR;
}

static siamese_status write_png(cairo_surface_t *surface, const char *path, sm_err *err) {
    sm_atomic_file af;
    siamese_status st = sm_atomic_open(&af, path, err);
    if (st != SIAMESE_OK) return st;
    if (cairo_surface_write_to_png_stream(surface, write_to_file, af.fp) != CAIRO_STATUS_SUCCESS) {
        sm_atomic_abort(&af);
        return sm_fail(err, SIAMESE_ERR_IO, "%s: cannot write PNG", path);
    }
    return sm_atomic_commit(&af, err);
}

static int valid(const siamese_image *im) {
    return im->data && im->width > 0 && im->height > 0 && im->width <= 16384 &&
           im->height <= 16384 && (im->channels == 1 || im->channels == 3);
}

/* Paints an image scaled to fit the cell at (x, y). */
static void paint_image(cairo_t *cr, const siamese_image *im, double x, double y) {
    cairo_surface_t *s = cairo_image_surface_create(CAIRO_FORMAT_RGB24, im->width, im->height);
    cairo_surface_flush(s);
    unsigned char *dst = cairo_image_surface_get_data(s);
    int stride = cairo_image_surface_get_stride(s);
    for (int r = 0; dst && r < im->height; r++) {
        uint32_t *row = (uint32_t *)(void *)(dst + (size_t)r * (size_t)stride);
        const uint8_t *src = im->data + (size_t)r * im->width * im->channels;
        for (int c = 0; c < im->width; c++) {
            const uint8_t *p = src + (size_t)c * im->channels;
            uint32_t red = p[0], green = p[im->channels == 3], blue = p[2 * (im->channels == 3)];
            row[c] = (red << 16) | (green << 8) | blue;
        }
    }
    cairo_surface_mark_dirty(s);
    double scale = fmin((double)GRID_CELL / im->width, (double)GRID_CELL / im->height);
    cairo_save(cr);
    cairo_translate(cr, x + (GRID_CELL - scale * im->width) / 2,
                    y + (GRID_CELL - scale * im->height) / 2);
    cairo_scale(cr, scale, scale);
    cairo_set_source_surface(cr, s, 0, 0);
    cairo_pattern_set_filter(cairo_get_source(cr), CAIRO_FILTER_GOOD);
    cairo_paint(cr);
    cairo_restore(cr);
    cairo_surface_destroy(s);
}

static void caption(cairo_t *cr, const char *text, double center_x, double baseline) {
    cairo_text_extents_t ext;
    cairo_text_extents(cr, text, &ext);
    cairo_move_to(cr, center_x - ext.width / 2 - ext.x_bearing, baseline);
    cairo_show_text(cr, text);
}

static siamese_status draw(const char *path, const siamese_captioned_image *cells, int rows,
                           int cols, sm_err *err) {
    int width = GRID_GAP + cols * (GRID_CELL + GRID_GAP);
    int height = GRID_GAP + rows * (GRID_CAPTION + GRID_CELL + GRID_GAP);
    cairo_surface_t *surface = cairo_image_surface_create(CAIRO_FORMAT_RGB24, width, height);
    cairo_t *cr = cairo_create(surface);
    cairo_set_source_rgb(cr, 1, 1, 1);
    cairo_paint(cr);
    cairo_select_font_face(cr, "sans-serif", CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_BOLD);
    cairo_set_font_size(cr, 13);
    for (int r = 0; r < rows; r++) {
        for (int c = 0; c < cols; c++) {
            const siamese_captioned_image *cell = &cells[(size_t)r * cols + c];
            double x = GRID_GAP + c * (GRID_CELL + GRID_GAP);
            double y = GRID_GAP + r * (GRID_CAPTION + GRID_CELL + GRID_GAP);
            cairo_set_source_rgb(cr, 0, 0, 0);
            if (cell->caption) caption(cr, cell->caption, x + GRID_CELL / 2.0, y + 18);
            if (cell->image) paint_image(cr, cell->image, x, y + GRID_CAPTION);
        }
    }
    siamese_status st = cairo_status(cr) == CAIRO_STATUS_SUCCESS
                            ? write_png(surface, path, err)
                            : sm_fail(err, SIAMESE_ERR_NOMEM, "%s: cairo drawing failed", path);
    cairo_destroy(cr);
    cairo_surface_destroy(surface);
    return st;
}

siamese_status siamese_draw_grid(const char *path, const siamese_captioned_image *cells, int rows,
                                 int cols, char *errmsg, size_t errmsg_size) {
    sm_err err;
    sm_err_clear(&err);
    siamese_status st = SIAMESE_OK;
    if (!path || !cells || rows < 1 || cols < 1 || rows > GRID_MAX_CELLS / cols)
        st = sm_fail(&err, SIAMESE_ERR_INVALID_ARG, "%s: cannot draw a %d x %d grid",
                     path ? path : "grid", rows, cols);
    for (int i = 0; st == SIAMESE_OK && i < rows * cols; i++)
        if (cells[i].image && !valid(cells[i].image))
            st =
                sm_fail(&err, SIAMESE_ERR_INVALID_ARG, "%s: cell %d has an invalid image", path, i);
    if (st == SIAMESE_OK) st = draw(path, cells, rows, cols, &err);
    if (errmsg && errmsg_size) snprintf(errmsg, errmsg_size, "%s", st ? err.msg : "");
    return st;
}
