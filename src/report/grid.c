/* The public picture of search results (siamese_draw_grid): rows of captioned images, e.g. a
 * query followed by its neighbours, each under "Dissimilarity: 0.73". */

#include "report/canvas.h"
#include "siamese.h"

enum { GRID_CELL = 160, GRID_GAP = 10, GRID_CAPTION = 26, GRID_MAX_CELLS = 10000 };

/* The public image as the canvas draws it. */
static sm_plot_image plot_image(const siamese_image *im) {
    return (sm_plot_image){im->data, im->width, im->height, im->channels};
}

static siamese_status draw(const char *path, const siamese_captioned_image *cells, int rows,
                           int cols, sm_err *err) {
    int width = GRID_GAP + cols * (GRID_CELL + GRID_GAP);
    int height = GRID_GAP + rows * (GRID_CAPTION + GRID_CELL + GRID_GAP);
    cairo_surface_t *surface;
    cairo_t *cr = sm_canvas_create(width, height, &surface);
    cairo_select_font_face(cr, "sans-serif", CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_BOLD);
    cairo_set_font_size(cr, 13);
    for (int r = 0; r < rows; r++) {
        for (int c = 0; c < cols; c++) {
            const siamese_captioned_image *cell = &cells[(size_t)r * cols + c];
            double x = GRID_GAP + c * (GRID_CELL + GRID_GAP);
            double y = GRID_GAP + r * (GRID_CAPTION + GRID_CELL + GRID_GAP);
            cairo_set_source_rgb(cr, 0, 0, 0);
            if (cell->caption) sm_canvas_text(cr, x + GRID_CELL / 2.0, y + 18, cell->caption, 0.5);
            if (cell->image) {
                sm_plot_image im = plot_image(cell->image);
                sm_canvas_image(cr, &im, x, y + GRID_CAPTION, GRID_CELL);
            }
        }
    }
    return sm_canvas_finish(cr, surface, path, err);
}

siamese_status siamese_draw_grid(const char *path, const siamese_captioned_image *cells, int rows,
                                 int cols, char *errmsg, size_t errmsg_size) {
    sm_err err;
    sm_err_clear(&err);
    siamese_status st = SIAMESE_OK;
    if (!path || !cells || rows < 1 || cols < 1 || rows > GRID_MAX_CELLS / cols)
        st = sm_fail(&err, SIAMESE_ERR_INVALID_ARG, "%s: cannot draw a %d x %d grid",
                     path ? path : "grid", rows, cols);
    for (int i = 0; st == SIAMESE_OK && i < rows * cols; i++) {
        if (!cells[i].image) continue;
        sm_plot_image im = plot_image(cells[i].image);
        if (!sm_canvas_image_valid(&im))
            st =
                sm_fail(&err, SIAMESE_ERR_INVALID_ARG, "%s: cell %d has an invalid image", path, i);
    }
    if (st == SIAMESE_OK) st = draw(path, cells, rows, cols, &err);
    return sm_err_out(&err, st, errmsg, errmsg_size);
}
