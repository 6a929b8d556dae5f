/* Inline SVG charts drawn as text: axes with round ticks (or decades in percent on log axes),
 * lines, dots, bars, a legend and a marked value. */
#include "report/svg.h"

#include <math.h>
#include <stdio.h>

/* A small drawing (400 x 290 units, text 13 units) scaled to the figure's width: on a phone
 * 390 px wide a figure is about 360 px, so text stays near 12 px; wider screens scale it up. */
#define W 400.0
#define H 290.0
#define LEFT 64.0
#define RIGHT 20.0 /* room for half the last x tick label */
#define TOP 12.0
#define BOTTOM 44.0
#define FONT_SIZE 13

static const char *const colors[] = {"#1f5fbf", "#d9480f", "#2b8a3e", "#7048e8", "#868e96"};
#define N_COLORS 5

typedef struct axis {
    double lo, hi; /* in transformed units */
    int log;
    int integer; /* ticks at whole numbers only */
} axis;

sm_svg_chart sm_svg_chart_default(const char *title, const char *x_label, const char *y_label) {
    sm_svg_chart c = {title, x_label, y_label, 0, 0, 0, 0, 0, NAN, NULL, NULL};
    return c;
}

/* The value on the axis's scale, or NaN when it cannot be drawn. */
static double to_axis(int log, double v) {
    if (!isfinite(v)) return NAN;
    if (!log) return v;
    return v > 0 ? log10(v) : NAN;
}

static void widen(axis *a, double v) {
    if (!isfinite(v)) return;
    if (v < a->lo) a->lo = v;
    if (v > a->hi) a->hi = v;
}

static int has_bars(const sm_svg_series *s, int n) {
    for (int k = 0; k < n; k++)
        if (s[k].style == SM_SVG_BARS) return 1;
    return 0;
}

/* Ranges from the data (bars reach down to 0 and right to their edge). */
static void data_ranges(const sm_svg_chart *c, const sm_svg_series *s, int n, axis *x, axis *y) {
    *x = (axis){INFINITY, -INFINITY, c->log_x, c->integer_x};
    *y = (axis){INFINITY, -INFINITY, c->log_y, 0};
    for (int k = 0; k < n; k++)
        for (int i = 0; i < s[k].n; i++) {
            double px = to_axis(c->log_x, s[k].x[i]), py = to_axis(c->log_y, s[k].y[i]);
            if (!isfinite(px) || !isfinite(py)) continue;
            widen(x, px);
            widen(y, py);
            if (s[k].style == SM_SVG_BARS) {
                widen(x, to_axis(c->log_x, s[k].x[i] + s[k].bar_width));
                widen(y, 0);
            }
        }
    widen(x, to_axis(c->log_x, c->mark_x));
    int fixed_y = c->y_min < c->y_max;
    if (fixed_y) *y = (axis){c->y_min, c->y_max, c->log_y, 0};
    axis *both[2] = {x, y};
    for (int i = 0; i < 2; i++) {
        axis *a = both[i];
        if (a->log) a->lo = floor(a->lo), a->hi = ceil(a->hi);
        if (a->hi - a->lo < 1e-12) {
            double pad = a->log ? 1 : (fabs(a->lo) > 0 ? fabs(a->lo) * 0.05 : 0.5);
            a->lo -= pad;
            a->hi += pad;
        } else if (!a->log && !(i == 1 && fixed_y) && !has_bars(s, n)) {
            double pad = (a->hi - a->lo) * 0.03; /* dots at the edges stay whole */
            a->lo -= pad;
            a->hi += pad;
        }
    }
}

static double px_x(const axis *a, double v) {
    return LEFT + (v - a->lo) / (a->hi - a->lo) * (W - LEFT - RIGHT);
}
static double px_y(const axis *a, double v) {
    return H - BOTTOM - (v - a->lo) / (a->hi - a->lo) * (H - TOP - BOTTOM);
}

/* A round step giving about five ticks over range. */
static double nice_step(double range) {
    double raw = range / 5, mag = pow(10, floor(log10(raw))), f = raw / mag;
    return (f < 1.5 ? 1 : f < 3.5 ? 2 : f < 7.5 ? 5 : 10) * mag;
}

static void tick_label(char *buf, size_t size, const axis *a, double v, double step) {
    if (a->log) {
        snprintf(buf, size, "%g%%", pow(10, v) * 100);
        return;
    }
    if (fabs(v) < step * 1e-6) {
        snprintf(buf, size, "0");
        return;
    }
    if (fabs(v) >= 1e5 || step < 1e-3) { /* short: "5.2e-4" rather than "0.00052" */
        int e = (int)floor(log10(fabs(v)));
        double scaled_step = step / pow(10, e);
        int decimals = scaled_step >= 1 ? 0 : (int)ceil(-log10(scaled_step) - 1e-9);
        snprintf(buf, size, "%.*fe%d", decimals, v / pow(10, e), e);
        return;
    }
    int decimals = step >= 1 ? 0 : (int)ceil(-log10(step) - 1e-9);
    snprintf(buf, size, "%.*f", decimals, v);
}

static void draw_ticks(sm_html *h, const axis *a, int vertical) {
    double step = a->log ? 1 : nice_step(a->hi - a->lo);
    if (a->integer && step < 1) step = 1;
    double first = ceil(a->lo / step - 1e-9) * step;
    for (int i = 0; i < 40; i++) { /* at most 40 ticks, even when step is lost in v's rounding */
        double v = first + i * step;
        if (!(v <= a->hi + step * 1e-9)) break;
        char label[32];
        tick_label(label, sizeof label, a, v, step);
        if (vertical) {
            double y = px_y(a, v);
            sm_html_printf(h,
                           "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" "
                           "stroke=\"#e3e7ec\"/><text x=\"%.1f\" y=\"%.1f\" "
                           "text-anchor=\"end\" dominant-baseline=\"middle\">%s</text>",
                           LEFT, y, W - RIGHT, y, LEFT - 6, y, label);
        } else {
            double x = px_x(a, v);
            sm_html_printf(h,
                           "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" "
                           "stroke=\"#e3e7ec\"/><text x=\"%.1f\" y=\"%.1f\" "
                           "text-anchor=\"middle\">%s</text>",
                           x, TOP, x, H - BOTTOM, x, H - BOTTOM + 16, label);
        }
    }
}

static void draw_axes(sm_html *h, const sm_svg_chart *c, const axis *x, const axis *y) {
    draw_ticks(h, x, 0);
    draw_ticks(h, y, 1);
    sm_html_printf(h,
                   "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"none\" "
                   "stroke=\"#8a939e\"/>",
                   LEFT, TOP, W - LEFT - RIGHT, H - TOP - BOTTOM);
    sm_html_printf(h, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">", (LEFT + W - RIGHT) / 2,
                   H - 8);
    sm_html_text(h, c->x_label);
    sm_html_printf(h,
                   "</text><text transform=\"translate(14 %.1f) rotate(-90)\" "
                   "text-anchor=\"middle\">",
                   (TOP + H - BOTTOM) / 2);
    sm_html_text(h, c->y_label);
    sm_html_raw(h, "</text>");
}

static void draw_series(sm_html *h, const sm_svg_chart *c, const sm_svg_series *s,
                        const char *color, const axis *x, const axis *y) {
    int line = s->style == SM_SVG_LINE || s->style == SM_SVG_LINE_DOTS;
    int dots = s->style == SM_SVG_DOTS || s->style == SM_SVG_LINE_DOTS;
    if (s->style == SM_SVG_BARS) {
        sm_html_printf(h, "<g fill=\"%s\" fill-opacity=\"0.45\">", color);
        for (int i = 0; i < s->n; i++) {
            double x0 = to_axis(c->log_x, s->x[i]), x1 = to_axis(c->log_x, s->x[i] + s->bar_width);
            double top = to_axis(c->log_y, s->y[i]);
            if (!isfinite(x0) || !isfinite(x1) || !isfinite(top) || s->y[i] <= 0) continue;
            double y0 = px_y(y, top), base = px_y(y, 0);
            sm_html_printf(h, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\"/>",
                           px_x(x, x0), y0, px_x(x, x1) - px_x(x, x0), base - y0);
        }
        sm_html_raw(h, "</g>");
        return;
    }
    if (line) {
        sm_html_printf(h, "<path fill=\"none\" stroke=\"%s\" stroke-width=\"1.5\" d=\"", color);
        int pen_down = 0;
        for (int i = 0; i < s->n; i++) {
            double vx = to_axis(c->log_x, s->x[i]), vy = to_axis(c->log_y, s->y[i]);
            if (!isfinite(vx) || !isfinite(vy)) {
                pen_down = 0;
                continue;
            }
            sm_html_printf(h, "%c%.1f %.1f", pen_down ? 'L' : 'M', px_x(x, vx), px_y(y, vy));
            pen_down = 1;
        }
        sm_html_raw(h, "\"/>");
    }
    if (dots) {
        sm_html_printf(h, "<g fill=\"%s\">", color);
        for (int i = 0; i < s->n; i++) {
            double vx = to_axis(c->log_x, s->x[i]), vy = to_axis(c->log_y, s->y[i]);
            if (isfinite(vx) && isfinite(vy))
                sm_html_printf(h, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3\"/>", px_x(x, vx),
                               px_y(y, vy));
        }
        sm_html_raw(h, "</g>");
    }
}

/* The legend is HTML text under the chart: it wraps on a narrow screen and can be searched. */
static void draw_legend(sm_html *h, const sm_svg_series *s, int n) {
    sm_html_raw(h, "<div class=\"legend\">");
    for (int k = 0; k < n; k++) {
        sm_html_printf(h, "<span><i style=\"background:%s\"></i>", colors[k % N_COLORS]);
        sm_html_text(h, s[k].label);
        sm_html_raw(h, "</span>");
    }
    sm_html_raw(h, "</div>");
}

static void draw_mark(sm_html *h, const sm_svg_chart *c, const axis *x) {
    double v = to_axis(c->log_x, c->mark_x);
    if (!isfinite(v) || v < x->lo || v > x->hi) return;
    double px = px_x(x, v);
    sm_html_printf(h,
                   "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#111\" "
                   "stroke-dasharray=\"5 4\"/><text x=\"%.1f\" y=\"%.1f\">",
                   px, TOP, px, H - BOTTOM, px + 4, TOP + 13);
    sm_html_text(h, c->mark_label);
    sm_html_raw(h, "</text>");
}

static int has_points(const sm_svg_chart *c, const sm_svg_series *s, int n) {
    for (int k = 0; k < n; k++)
        for (int i = 0; i < s[k].n; i++)
            if (isfinite(to_axis(c->log_x, s[k].x[i])) && isfinite(to_axis(c->log_y, s[k].y[i])))
                return 1;
    return 0;
}

void sm_svg_draw(sm_html *h, const sm_svg_chart *c, const sm_svg_series *s, int n) {
    sm_html_raw(h, "<figure>");
    if (!has_points(c, s, n)) {
        sm_html_raw(h, "<p class=\"note\">");
        sm_html_text(h, c->empty_note ? c->empty_note : "No points to draw yet.");
        sm_html_raw(h, "</p>");
    } else {
        axis x, y;
        data_ranges(c, s, n, &x, &y);
        sm_html_printf(h,
                       "<svg viewBox=\"0 0 %.0f %.0f\" "
                       "font-size=\"%d\" font-family=\"system-ui,'DejaVu Sans',sans-serif\" "
                       "role=\"img\"><title>",
                       W, H, FONT_SIZE);
        sm_html_text(h, c->title);
        sm_html_raw(h, "</title>");
        draw_axes(h, c, &x, &y);
        sm_html_printf(h,
                       "<svg x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" "
                       "viewBox=\"%.1f %.1f %.1f %.1f\" overflow=\"hidden\">",
                       LEFT, TOP, W - LEFT - RIGHT, H - TOP - BOTTOM, LEFT, TOP, W - LEFT - RIGHT,
                       H - TOP - BOTTOM);
        for (int k = 0; k < n; k++) draw_series(h, c, &s[k], colors[k % N_COLORS], &x, &y);
        sm_html_raw(h, "</svg>");
        draw_mark(h, c, &x);
        sm_html_raw(h, "</svg>");
        draw_legend(h, s, n);
    }
    sm_html_raw(h, "<figcaption>");
    sm_html_text(h, c->title);
    sm_html_raw(h, "</figcaption></figure>\n");
}
