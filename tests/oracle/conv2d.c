/* Reference 2-D convolution (cross-correlation, zero padding, channel groups), forward and backward, in double. */
#include "oracle.h"

#include <stddef.h>

/* Index of x[i0, i1, i2, i3] in a dense [d0, d1, d2, d3] tensor (d0 is implied). */
static long at4(int i0, int i1, int i2, int i3, int d1, int d2, int d3) {
    return (((long)i0 * d1 + i1) * d2 + i2) * d3 + i3;
}

/* The first input channel output channel o reads: its group is o / (o_total / g). */
static int group_first_channel(const sm_conv_geom *g, int o) {
    int groups = g->g > 0 ? g->g : 1;
    return o / (g->o / groups) * (g->c / groups);
}

static int group_channels(const sm_conv_geom *g) { return g->c / (g->g > 0 ? g->g : 1); }

/* y[n, o, oh, ow] = b[o] + sum_{c, i, j} x[n, c0 + c, oh*sh - ph + i, ow*sw - pw + j] w[o, c, i, j]
 * over the cg = c / g channels c0.. of o's group (the bottom/right padding only widens h, w). */
void sm_ref_conv2d_forward(const sm_conv_geom *g, const double *x /* [n, c, h, w] */,
                           const double *w /* [o, c / g, kh, kw] */,
                           const double *b /* [o] or NULL */, double *y /* [n, o, oh, ow] */) {
    for (int n = 0; n < g->n; n++)
        for (int o = 0; o < g->o; o++)
            for (int oy = 0; oy < g->oh; oy++)
                for (int ox = 0; ox < g->ow; ox++) {
                    double sum = b ? b[o] : 0.0;
                    int c0 = group_first_channel(g, o), cg = group_channels(g);
                    for (int c = 0; c < cg; c++)
                        for (int i = 0; i < g->kh; i++) {
                            int iy = oy * g->sh - g->ph + i;
                            if (iy < 0 || iy >= g->h) continue;
                            for (int j = 0; j < g->kw; j++) {
                                int ix = ox * g->sw - g->pw + j;
                                if (ix < 0 || ix >= g->w) continue;
                                sum += x[at4(n, c0 + c, iy, ix, g->c, g->h, g->w)] *
                                       w[at4(o, c, i, j, cg, g->kh, g->kw)];
                            }
                        }
                    y[at4(n, o, oy, ox, g->o, g->oh, g->ow)] = sum;
                }
}

/* Adds dL/dx, dL/dw and dL/db for dy = dL/dy, following the forward sum term by term. */
void sm_ref_conv2d_backward(const sm_conv_geom *g, const double *x /* [n, c, h, w] */,
                            const double *w /* [o, c / g, kh, kw] */,
                            const double *dy /* [n, o, oh, ow] */,
                            double *dx /* [n, c, h, w] or NULL */,
                            double *dw /* [o, c / g, kh, kw] */, double *db /* [o] or NULL */) {
    for (int n = 0; n < g->n; n++)
        for (int o = 0; o < g->o; o++)
            for (int oy = 0; oy < g->oh; oy++)
                for (int ox = 0; ox < g->ow; ox++) {
                    double d = dy[at4(n, o, oy, ox, g->o, g->oh, g->ow)];
                    if (db) db[o] += d;
                    int c0 = group_first_channel(g, o), cg = group_channels(g);
                    for (int c = 0; c < cg; c++)
                        for (int i = 0; i < g->kh; i++) {
                            int iy = oy * g->sh - g->ph + i;
                            if (iy < 0 || iy >= g->h) continue;
                            for (int j = 0; j < g->kw; j++) {
                                int ix = ox * g->sw - g->pw + j;
                                if (ix < 0 || ix >= g->w) continue;
                                long xi = at4(n, c0 + c, iy, ix, g->c, g->h, g->w);
                                long wi = at4(o, c, i, j, cg, g->kh, g->kw);
                                dw[wi] += d * x[xi];
                                if (dx) dx[xi] += d * w[wi];
                            }
                        }
                }
}
