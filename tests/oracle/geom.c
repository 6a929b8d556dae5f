/* Output shapes of convolution and max pooling with PyTorch's floor rounding. */
#include "oracle.h"

#include <limits.h>

/* floor((in + 2 pad - k) / stride) + 1, or 0 when the window does not fit or a field is bad. */
static int floor_output_size(int in, int k, int stride, int pad) {
    if (in <= 0 || k <= 0 || stride <= 0 || pad < 0) return 0;
    long long span = (long long)in + 2LL * pad - k;
    if (span < 0) return 0;
    long long out = span / stride + 1;
    return out > INT_MAX ? 0 : (int)out;
}

/* Elements of a [a, b, c, d] tensor must be countable in a long (indices use long). */
static int element_count_fits(int a, int b, int c, int d) {
    long long limit = LONG_MAX;
    long long count = 1;
    const int dims[4] = {a, b, c, d};
    for (int i = 0; i < 4; i++) {
        if (dims[i] <= 0 || count > limit / dims[i]) return 0;
        count *= dims[i];
    }
    return 1;
}

int sm_conv_geom_finish(sm_conv_geom *g) {
    g->oh = g->ow = 0;
    if (g->n <= 0 || g->c <= 0 || g->o <= 0) return 0;
    if (g->g == 0) g->g = 1;
    if (g->g < 0 || g->c % g->g || g->o % g->g || g->eh < 0 || g->ew < 0) return 0;
    int oh = floor_output_size(g->h + g->eh, g->kh, g->sh, g->ph);
    int ow = floor_output_size(g->w + g->ew, g->kw, g->sw, g->pw);
    if (oh == 0 || ow == 0) return 0;
    if (!element_count_fits(g->n, g->c, g->h, g->w) ||
        !element_count_fits(g->o, g->c / g->g, g->kh, g->kw) ||
        !element_count_fits(g->n, g->o, oh, ow))
        return 0;
    g->oh = oh;
    g->ow = ow;
    return 1;
}

int sm_pool_geom_finish(sm_pool_geom *g) {
    g->oh = g->ow = 0;
    if (g->n <= 0 || g->c <= 0) return 0;
    /* PyTorch: "pad should be at most half of effective kernel size". */
    if (g->ph > g->kh / 2 || g->pw > g->kw / 2) return 0;
    int oh = floor_output_size(g->h, g->kh, g->sh, g->ph);
    int ow = floor_output_size(g->w, g->kw, g->sw, g->pw);
    if (oh == 0 || ow == 0) return 0;
    if (!element_count_fits(g->n, g->c, g->h, g->w) || !element_count_fits(g->n, g->c, oh, ow))
        return 0;
    g->oh = oh;
    g->ow = ow;
    return 1;
}
