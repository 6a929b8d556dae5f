/* Charts as inline SVG text in a page: lines, dots and bars on shared axes, with ticks, axis
 * labels, a legend and marked values (a threshold). */
#ifndef SM_SVG_H
#define SM_SVG_H

#include "report/html.h"

typedef enum sm_svg_style { SM_SVG_LINE, SM_SVG_DOTS, SM_SVG_LINE_DOTS, SM_SVG_BARS } sm_svg_style;

typedef struct sm_svg_series {
    const char *label; /* legend text */
    const double *x;   /* [n]; BARS: each bar's left edge */
    const double *y;   /* [n] */
    int n;
    sm_svg_style style;
    double bar_width; /* BARS: in x units */
} sm_svg_series;

typedef struct sm_svg_chart {
    const char *title; /* the figure's caption */
    const char *x_label, *y_label;
    int log_x, log_y;    /* log10 axes labelled in percent (for rates in (0, 1]); points <= 0
                           are left out */
    int integer_x;       /* x ticks at whole numbers only (epochs) */
    double y_min, y_max; /* fixed y range when y_min < y_max, else from the data */
    double mark_x;       /* a dashed vertical line at this x (NaN = none), labelled mark_label */
    const char *mark_label;
    const char *empty_note; /* said instead of a chart without points; NULL = "not yet" */
} sm_svg_chart;

/* A chart with default settings (auto range, linear axes, no mark). */
sm_svg_chart sm_svg_chart_default(const char *title, const char *x_label, const char *y_label);

/* Appends <figure><svg>...</svg><figcaption>title</figcaption></figure>. Non-finite points
 * are skipped; a chart without any point says so in words. */
void sm_svg_draw(sm_html *h, const sm_svg_chart *chart, const sm_svg_series *series, int n_series);

#endif
