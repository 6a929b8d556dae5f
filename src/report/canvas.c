/* The cairo canvas shared by the PNG pictures (see canvas.h). */
#include "report/canvas.h"

#include <math.h>
#include <stdio.h>

#include "base/fileio.h"
#include "base/recipe.h"

static cairo_status_t write_to_file(void *closure, const unsigned char *data, unsigned int len) {
    return fwrite(data, 1, len, (FILE *)closure) == len ? CAIRO_STATUS_SUCCESS
                                                        : CAIRO_STATUS_WRITE_ERROR;
}

static siamese_status write_png_atomically(cairo_surface_t *surface, const char *path,
                                           sm_err *err) {
    sm_atomic_file af;
    siamese_status st = sm_atomic_open(&af, path, err);
    if (st != SIAMESE_OK) return st;
    cairo_status_t cs = cairo_surface_write_to_png_stream(surface, write_to_file, af.fp);
    if (cs != CAIRO_STATUS_SUCCESS) {
        sm_atomic_abort(&af);
        return sm_fail(err, cs == CAIRO_STATUS_NO_MEMORY ? SIAMESE_ERR_NOMEM : SIAMESE_ERR_IO,
                       "%s: cannot write PNG: %s", path, cairo_status_to_string(cs));
    }
    return sm_atomic_commit(&af, err);
}

cairo_t *sm_canvas_create(int width, int height, cairo_surface_t **surface) {
    *surface = cairo_image_surface_create(CAIRO_FORMAT_RGB24, width, height);
    cairo_t *cr = cairo_create(*surface);
    cairo_set_source_rgb(cr, 1, 1, 1);
    cairo_paint(cr);
    return cr;
}

siamese_status sm_canvas_finish(cairo_t *cr, cairo_surface_t *surface, const char *path,
                                sm_err *err) {
    siamese_status st = cairo_status(cr) == CAIRO_STATUS_SUCCESS
                            ? write_png_atomically(surface, path, err)
                            : sm_fail(err, SIAMESE_ERR_NOMEM, "%s: cairo drawing failed: %s", path,
                                      cairo_status_to_string(cairo_status(cr)));
    cairo_destroy(cr);
    cairo_surface_destroy(surface);
    return st;
}

void sm_canvas_text(cairo_t *cr, double x, double y, const char *text, double align_x) {
    cairo_text_extents_t ext;
    cairo_text_extents(cr, text, &ext);
    cairo_move_to(cr, x - align_x * ext.width - ext.x_bearing, y);
    cairo_show_text(cr, text);
}

int sm_canvas_image_valid(const sm_plot_image *img) {
    return img->pixels && img->width > 0 && img->height > 0 && img->width <= SM_IMAGE_MAX_SIDE &&
           img->height <= SM_IMAGE_MAX_SIDE && (img->channels == 1 || img->channels == 3);
}

void sm_canvas_image(cairo_t *cr, const sm_plot_image *img, double x, double y, double cell) {
    cairo_surface_t *s = cairo_image_surface_create(CAIRO_FORMAT_RGB24, img->width, img->height);
    cairo_surface_flush(s);
    unsigned char *dst = cairo_image_surface_get_data(s);
    int stride = cairo_image_surface_get_stride(s);
    for (int r = 0; dst && r < img->height; r++) {
        uint32_t *row = (uint32_t *)(void *)(dst + (size_t)r * (size_t)stride);
        const uint8_t *src = img->pixels + (size_t)r * (size_t)img->width * (size_t)img->channels;
        for (int c = 0; c < img->width; c++) {
            const uint8_t *p = src + (size_t)c * (size_t)img->channels;
            uint32_t red = p[0], green = img->channels == 3 ? p[1] : p[0],
                     blue = img->channels == 3 ? p[2] : p[0];
            row[c] = (red << 16) | (green << 8) | blue;
        }
    }
    cairo_surface_mark_dirty(s);
    double scale = fmin(cell / img->width, cell / img->height);
    cairo_save(cr);
    cairo_translate(cr, x + (cell - scale * img->width) / 2, y + (cell - scale * img->height) / 2);
    cairo_scale(cr, scale, scale);
    cairo_set_source_surface(cr, s, 0, 0);
    cairo_pattern_set_filter(cairo_get_source(cr), CAIRO_FILTER_GOOD);
    cairo_paint(cr);
    cairo_restore(cr);
    cairo_surface_destroy(s);
}
