/* PNG pictures drawn with cairo: line plots (loss curves) and captioned grids of image pairs. */
#include "report/plot.h"

#include <cairo.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "report/canvas.h"

#define PLOT_PI 3.14159265358979323846

enum {
    PLOT_WIDTH = 900,
    PLOT_HEIGHT = 560,
    MARGIN_LEFT = 80,
    MARGIN_RIGHT = 30,
    MARGIN_TOP = 50,
    MARGIN_BOTTOM = 60,
    PAIR_CELL = 192,
    PAIR_GAP = 12,
    CAPTION_H = 34
};

static const double palette[][3] = {
    {0.12, 0.47, 0.71}, {0.84, 0.15, 0.16}, {0.17, 0.63, 0.17}, {0.58, 0.40, 0.74}};

typedef struct plot_range {
    double lo, hi;
} plot_range;

static void range_include(plot_range *r, double v) {
    if (!isfinite(v)) return;
    if (v < r->lo) r->lo = v;
    if (v > r->hi) r->hi = v;
}

static void range_finish(plot_range *r) {
    if (r->lo > r->hi) {
        r->lo = 0;
        r->hi = 1;
    }
    if (r->hi - r->lo < 1e-12) {
        r->lo -= 0.5;
        r->hi += 0.5;
    }
}

/* A "nice" tick step (1, 2 or 5 times a power of ten) giving about target ticks. */
static double tick_step(plot_range r, int target) {
    double raw = (r.hi - r.lo) / target, mag = pow(10, floor(log10(raw)));
    double f = raw / mag;
    return mag * (f < 1.5 ? 1 : f < 3.5 ? 2 : f < 7.5 ? 5 : 10);
}

typedef struct plot_frame {
    plot_range x, y;
    double left, right, top, bottom;
} plot_frame;

static double frame_px(const plot_frame *f, double x) {
    return f->left + (x - f->x.lo) / (f->x.hi - f->x.lo) * (f->right - f->left);
}

static double frame_py(const plot_frame *f, double y) {
    return f->bottom - (y - f->y.lo) / (f->y.hi - f->y.lo) * (f->bottom - f->top);
}

static void draw_axes(cairo_t *cr, const plot_frame *f, const char *title, const char *xl,
                      const char *yl) {
    cairo_set_source_rgb(cr, 0, 0, 0);
    cairo_set_line_width(cr, 1);
    cairo_rectangle(cr, f->left, f->top, f->right - f->left, f->bottom - f->top);
    cairo_stroke(cr);
    cairo_set_font_size(cr, 12);
    double sx = tick_step(f->x, 8), sy = tick_step(f->y, 6);
    char buf[64];
    for (double v = ceil(f->x.lo / sx) * sx; v <= f->x.hi + 1e-9 * sx; v += sx) {
        double px = frame_px(f, v);
        cairo_move_to(cr, px, f->bottom);
        cairo_line_to(cr, px, f->bottom + 5);
        cairo_stroke(cr);
        snprintf(buf, sizeof buf, "%g", v);
        sm_canvas_text(cr, px, f->bottom + 20, buf, 0.5);
    }
    for (double v = ceil(f->y.lo / sy) * sy; v <= f->y.hi + 1e-9 * sy; v += sy) {
        double py = frame_py(f, v);
        cairo_set_source_rgb(cr, 0.9, 0.9, 0.9);
        cairo_move_to(cr, f->left, py);
        cairo_line_to(cr, f->right, py);
        cairo_stroke(cr);
        cairo_set_source_rgb(cr, 0, 0, 0);
        snprintf(buf, sizeof buf, "%g", fabs(v) < 1e-12 * sy ? 0.0 : v);
        sm_canvas_text(cr, f->left - 8, py + 4, buf, 1.0);
    }
    sm_canvas_text(cr, (f->left + f->right) / 2, f->bottom + 45, xl, 0.5);
    cairo_save(cr);
    cairo_translate(cr, 20, (f->top + f->bottom) / 2);
    cairo_rotate(cr, -PLOT_PI / 2);
    sm_canvas_text(cr, 0, 0, yl, 0.5);
    cairo_restore(cr);
    cairo_set_font_size(cr, 16);
    sm_canvas_text(cr, (f->left + f->right) / 2, f->top - 18, title, 0.5);
}

static void draw_series(cairo_t *cr, const plot_frame *f, const sm_plot_series *s, int index) {
    const double *c = palette[index % 4];
    cairo_set_source_rgb(cr, c[0], c[1], c[2]);
    cairo_set_line_width(cr, 1.6);
    int pen_down = 0;
    for (int i = 0; i < s->n; i++) {
        if (!isfinite(s->x[i]) || !isfinite(s->y[i])) {
            pen_down = 0;
            continue;
        }
        double px = frame_px(f, s->x[i]), py = frame_py(f, s->y[i]);
        if (pen_down) cairo_line_to(cr, px, py);
        else cairo_move_to(cr, px, py);
        pen_down = 1;
    }
    cairo_stroke(cr);
    for (int i = 0; s->markers && i < s->n; i++) {
        if (!isfinite(s->x[i]) || !isfinite(s->y[i])) continue;
        cairo_arc(cr, frame_px(f, s->x[i]), frame_py(f, s->y[i]), 3.5, 0, 2 * PLOT_PI);
        cairo_fill(cr);
    }
    /* legend entry */
    double ly = f->top + 18 + 18 * index;
    cairo_move_to(cr, f->right - 170, ly - 4);
    cairo_line_to(cr, f->right - 145, ly - 4);
    cairo_stroke(cr);
    cairo_set_source_rgb(cr, 0, 0, 0);
    cairo_set_font_size(cr, 12);
    sm_canvas_text(cr, f->right - 138, ly, s->label ? s->label : "", 0);
}

siamese_status sm_plot_lines(const char *path, const char *title, const char *x_label,
                             const char *y_label, const sm_plot_series *series, int n_series,
                             sm_err *err) {
    plot_frame f = {{INFINITY, -INFINITY},
                    {INFINITY, -INFINITY},
                    MARGIN_LEFT,
                    PLOT_WIDTH - MARGIN_RIGHT,
                    MARGIN_TOP,
                    PLOT_HEIGHT - MARGIN_BOTTOM};
    for (int s = 0; s < n_series; s++)
        for (int i = 0; i < series[s].n; i++) {
            if (!isfinite(series[s].y[i])) continue;
            range_include(&f.x, series[s].x[i]);
            range_include(&f.y, series[s].y[i]);
        }
    range_finish(&f.x);
    range_finish(&f.y);
    double pad = 0.05 * (f.y.hi - f.y.lo);
    f.y.lo -= pad;
    f.y.hi += pad;

    cairo_surface_t *surface;
    cairo_t *cr = sm_canvas_create(PLOT_WIDTH, PLOT_HEIGHT, &surface);
    cairo_select_font_face(cr, "sans-serif", CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_NORMAL);
    draw_axes(cr, &f, title ? title : "", x_label ? x_label : "", y_label ? y_label : "");
    for (int s = 0; s < n_series; s++) draw_series(cr, &f, &series[s], s);
    return sm_canvas_finish(cr, surface, path, err);
}

siamese_status sm_plot_pairs(const char *path, const sm_plot_pair *pairs, int n_pairs,
                             sm_err *err) {
    if (n_pairs < 1 || n_pairs > 1000)
        return sm_fail(err, SIAMESE_ERR_INVALID_ARG, "%s: cannot draw %d pairs", path, n_pairs);
    for (int i = 0; i < n_pairs; i++)
        if (!sm_canvas_image_valid(&pairs[i].first) || !sm_canvas_image_valid(&pairs[i].second))
            return sm_fail(err, SIAMESE_ERR_INVALID_ARG, "%s: pair %d has an invalid image", path,
                           i);
    int width = 2 * PAIR_CELL + 3 * PAIR_GAP;
    int row_h = CAPTION_H + PAIR_CELL + PAIR_GAP;
    cairo_surface_t *surface;
    cairo_t *cr = sm_canvas_create(width, PAIR_GAP + n_pairs * row_h, &surface);
    cairo_select_font_face(cr, "sans-serif", CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_BOLD);
    cairo_set_font_size(cr, 16);
    for (int i = 0; i < n_pairs; i++) {
        double top = PAIR_GAP + (double)i * row_h;
        cairo_set_source_rgb(cr, 0, 0, 0);
        sm_canvas_text(cr, width / 2.0, top + 22, pairs[i].caption ? pairs[i].caption : "", 0.5);
        sm_canvas_image(cr, &pairs[i].first, PAIR_GAP, top + CAPTION_H, PAIR_CELL);
        sm_canvas_image(cr, &pairs[i].second, 2 * PAIR_GAP + PAIR_CELL, top + CAPTION_H, PAIR_CELL);
    }
    return sm_canvas_finish(cr, surface, path, err);
}
