/* The loss plot and the pair grid are real PNGs with the expected size and drawn content. */
#include <cairo.h>
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "report/plot.h"
#include "test_util.h"

static int count_non_white(cairo_surface_t *s) {
    int w = cairo_image_surface_get_width(s), h = cairo_image_surface_get_height(s);
    int stride = cairo_image_surface_get_stride(s), n = 0;
    const unsigned char *d = cairo_image_surface_get_data(s);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            uint32_t p = *(const uint32_t *)(const void *)(d + (size_t)y * stride + 4 * x);
            n += (p & 0xFFFFFF) != 0xFFFFFF;
        }
    return n;
}

Test(plot, loss_curve_is_a_png_with_lines) {
    char *dir = tu_make_temp_dir();
    char path[4200];
    snprintf(path, sizeof path, "%s/loss.png", dir);
    double x[50], y[50], ex[5], ey[5];
    for (int i = 0; i < 50; i++) {
        x[i] = 10.0 * i;
        y[i] = 1.6 * exp(-i / 20.0) + 0.1;
    }
    for (int i = 0; i < 5; i++) {
        ex[i] = 100.0 * i;
        ey[i] = 1.2 - 0.1 * i;
    }
    ey[2] = NAN; /* skipped, not drawn */
    sm_plot_series s[2] = {{"train loss", x, y, 50, 0}, {"test loss", ex, ey, 5, 1}};
    sm_err err = {0};
    cr_assert_eq(sm_plot_lines(path, "Contrastive loss", "iteration", "loss", s, 2, &err),
                 SIAMESE_OK, "%s", err.msg);
    cairo_surface_t *png = cairo_image_surface_create_from_png(path);
    cr_assert_eq(cairo_surface_status(png), CAIRO_STATUS_SUCCESS);
    cr_assert_eq(cairo_image_surface_get_width(png), 900);
    cr_assert_gt(count_non_white(png), 2000, "the plot has drawn content");
    cairo_surface_destroy(png);
    tu_rmtree(dir);
    free(dir);
}

Test(plot, pair_grid_has_one_row_per_pair) {
    char *dir = tu_make_temp_dir();
    char path[4200];
    snprintf(path, sizeof path, "%s/pairs.png", dir);
    uint8_t grey[20 * 30], rgb[16 * 16 * 3];
    for (int i = 0; i < 600; i++) grey[i] = (uint8_t)(i % 251);
    memset(rgb, 40, sizeof rgb);
    sm_plot_pair pairs[3];
    for (int i = 0; i < 3; i++) {
        pairs[i].first = (sm_plot_image){grey, 20, 30, 1};
        pairs[i].second = (sm_plot_image){rgb, 16, 16, 3};
        pairs[i].caption = "Dissimilarity: 0.73";
    }
    sm_err err = {0};
    cr_assert_eq(sm_plot_pairs(path, pairs, 3, &err), SIAMESE_OK, "%s", err.msg);
    cairo_surface_t *png = cairo_image_surface_create_from_png(path);
    cr_assert_eq(cairo_surface_status(png), CAIRO_STATUS_SUCCESS);
    int h1 = cairo_image_surface_get_height(png);
    cairo_surface_destroy(png);
    cr_assert_eq(sm_plot_pairs(path, pairs, 1, &err), SIAMESE_OK, "%s", err.msg);
    png = cairo_image_surface_create_from_png(path);
    int h0 = cairo_image_surface_get_height(png);
    cr_assert_gt(count_non_white(png), 192 * 192, "both images and the caption are drawn");
    cairo_surface_destroy(png);
    cr_assert_eq(h1 - h0, 2 * (h0 - 12), "one row per pair");
    tu_rmtree(dir);
    free(dir);
}

Test(plot, bad_folder_fails_and_names_the_path) {
    double x[2] = {0, 1}, y[2] = {1, 0};
    sm_plot_series s = {"loss", x, y, 2, 0};
    sm_err err = {0};
    cr_assert_eq(sm_plot_lines("/nonexistent-folder/loss.png", "t", "x", "y", &s, 1, &err),
                 SIAMESE_ERR_IO);
    cr_assert(strstr(err.msg, "/nonexistent-folder/loss.png"), "%s", err.msg);
}

Test(plot, invalid_image_is_rejected) {
    sm_plot_pair p = {{NULL, 10, 10, 1}, {NULL, 10, 10, 1}, "x"};
    sm_err err = {0};
    cr_assert_eq(sm_plot_pairs("/tmp/never.png", &p, 1, &err), SIAMESE_ERR_INVALID_ARG);
    cr_assert_eq(access("/tmp/never.png", F_OK), -1);
}
