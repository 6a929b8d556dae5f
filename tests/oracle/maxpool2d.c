/* Reference 2-D max pooling, forward and backward, in double.
 * Padding counts as -inf. Ties go to the first maximum in row-major window order, and a NaN
 * wins over everything (the last NaN of a window), exactly as PyTorch's CPU kernel. */
#include "oracle.h"

#include <math.h>

/* Index into x of the maximum of window (oy, ox) in plane x_plane [h, w]; -1 if it has no element. */
static long window_argmax(const sm_pool_geom *g, const double *x_plane, int oy, int ox) {
    long best = -1;
    double best_value = -INFINITY;
    for (int i = 0; i < g->kh; i++) {
        int iy = oy * g->sh - g->ph + i;
        if (iy < 0 || iy >= g->h) continue;
        for (int j = 0; j < g->kw; j++) {
            int ix = ox * g->sw - g->pw + j;
            if (ix < 0 || ix >= g->w) continue;
            long idx = (long)iy * g->w + ix;
            double v = x_plane[idx];
            if (best < 0 || v > best_value || isnan(v)) {
                best = idx;
                best_value = v;
            }
        }
    }
    return best;
}

void sm_ref_maxpool2d_forward(const sm_pool_geom *g, const double *x /* [n, c, h, w] */,
                              double *y /* [n, c, oh, ow] */) {
    long planes = (long)g->n * g->c;
    long in_plane = (long)g->h * g->w, out_plane = (long)g->oh * g->ow;
    for (long p = 0; p < planes; p++)
        for (int oy = 0; oy < g->oh; oy++)
            for (int ox = 0; ox < g->ow; ox++) {
                long best = window_argmax(g, x + p * in_plane, oy, ox);
                y[p * out_plane + (long)oy * g->ow + ox] =
                    best < 0 ? -INFINITY : x[p * in_plane + best];
            }
}

/* dx[argmax of each window] += dy of that window. */
void sm_ref_maxpool2d_backward(const sm_pool_geom *g, const double *x /* [n, c, h, w] */,
                               const double *dy /* [n, c, oh, ow] */,
                               double *dx /* [n, c, h, w] */) {
    long planes = (long)g->n * g->c;
    long in_plane = (long)g->h * g->w, out_plane = (long)g->oh * g->ow;
    for (long p = 0; p < planes; p++)
        for (int oy = 0; oy < g->oh; oy++)
            for (int ox = 0; ox < g->ow; ox++) {
                long best = window_argmax(g, x + p * in_plane, oy, ox);
                if (best >= 0) dx[p * in_plane + best] += dy[p * out_plane + (long)oy * g->ow + ox];
            }
}
