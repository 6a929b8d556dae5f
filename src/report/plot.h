/* PNG pictures drawn with cairo: the loss curve and grids of image pairs with captions. */
#ifndef SM_PLOT_H
#define SM_PLOT_H

#include <stdint.h>

#include "base/errors.h"

typedef struct sm_plot_series {
    const char *label; /* legend text */
    const double *x;   /* [n] */
    const double *y;   /* [n] */
    int n;
    int markers; /* draw a dot at each point (for sparse series such as per-epoch test loss) */
} sm_plot_series;

/* Draws line series on shared axes (auto-scaled, ticks, labels, legend) and writes the PNG
 * atomically. Non-finite points are skipped. */
siamese_status sm_plot_lines(const char *path, const char *title, const char *x_label,
                             const char *y_label, const sm_plot_series *series, int n_series,
                             sm_err *err);

typedef struct sm_plot_image {
    const uint8_t *pixels; /* interleaved, rows top to bottom */
    int width, height;
    int channels; /* 1 (grey) or 3 (RGB) */
} sm_plot_image;

typedef struct sm_plot_pair {
    sm_plot_image first, second;
    const char *caption; /* drawn above the pair, e.g. "Dissimilarity: 0.73" */
} sm_plot_pair;

/* Draws each pair side by side with its caption above, one pair per row, scaled to a common
 * cell size, and writes the PNG atomically. */
siamese_status sm_plot_pairs(const char *path, const sm_plot_pair *pairs, int n_pairs, sm_err *err);

#endif
