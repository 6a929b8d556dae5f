/* The public picture of pairs (siamese_draw_pairs): captioned pairs of images drawn as one PNG. */
#include <stdlib.h>

#include "report/plot.h"

static sm_plot_image plot_image(const siamese_image *im) {
    sm_plot_image p = {NULL, 0, 0, 0};
    if (im) p = (sm_plot_image){im->data, im->width, im->height, im->channels};
    return p;
}

siamese_status siamese_draw_pairs(const char *path, const siamese_captioned_pair *pairs, int n,
                                  char *errmsg, size_t errmsg_size) {
    sm_err err;
    sm_err_clear(&err);
    siamese_status st = SIAMESE_OK;
    sm_plot_pair *cells = NULL;
    if (!path || !pairs || n < 1)
        st = sm_fail(&err, SIAMESE_ERR_INVALID_ARG, "drawing pairs needs a file name and pairs");
    if (st == SIAMESE_OK && !(cells = calloc((size_t)n, sizeof *cells)))
        st = sm_fail(&err, SIAMESE_ERR_NOMEM, "%s: out of memory for %d pairs", path, n);
    for (int i = 0; st == SIAMESE_OK && i < n; i++) {
        cells[i].first = plot_image(pairs[i].first);
        cells[i].second = plot_image(pairs[i].second);
        cells[i].caption = pairs[i].caption ? pairs[i].caption : "";
    }
    if (st == SIAMESE_OK) st = sm_plot_pairs(path, cells, n, &err);
    free(cells);
    return sm_err_out(&err, st, errmsg, errmsg_size);
}
