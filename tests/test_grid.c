/* siamese_draw_grid: the PNG has one cell per image (blank cells allowed), the captions' row above
 * each, and bad arguments are refused with a message naming the file. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "siamese.h"
#include "test_util.h"

TestSuite(grid, .init = tu_temp_init, .fini = tu_temp_fini);

static siamese_image gradient(int w, int h, int channels) {
    siamese_image im = {w, h, channels, malloc((size_t)w * h * channels)};
    cr_assert_not_null(im.data);
    for (int i = 0; i < w * h * channels; i++) im.data[i] = (uint8_t)(i * 7);
    return im;
}

Test(grid, draws_rows_of_captioned_cells) {
    siamese_image grey = gradient(20, 30, 1), rgb = gradient(40, 10, 3);
    siamese_captioned_image cells[6] = {
        {&grey, "Query"}, {&rgb, "Dissimilarity: 0.12"},  {NULL, NULL},
        {&rgb, "Query"},  {&grey, "Dissimilarity: 1.50"}, {&grey, "Dissimilarity: 2.00"},
    };
    const char *path = tu_path(tu_temp, "grid.png");
    char why[256] = "unset";
    cr_assert_eq(siamese_draw_grid(path, cells, 2, 3, why, sizeof why), SIAMESE_OK, "%s", why);
    cr_assert_str_empty(why);
    siamese_image_options o = siamese_image_default_options();
    o.width = o.height = 0;
    siamese_image png;
    cr_assert_eq(siamese_image_load(path, &o, &png, why, sizeof why), SIAMESE_OK, "%s", why);
    /* 10 px gaps, 160 px cells, 26 px captions */
    cr_assert_eq(png.width, 10 + 3 * 170);
    cr_assert_eq(png.height, 10 + 2 * (26 + 160 + 10));
    /* the blank cell (row 0, column 2) stays white; the first image is not */
    const uint8_t *blank = png.data + ((size_t)(10 + 26 + 80) * png.width + 10 + 2 * 170 + 80) * 3;
    cr_assert(blank[0] == 255 && blank[1] == 255 && blank[2] == 255);
    int painted = 0;
    for (int x = 10; x < 170; x++) {
        const uint8_t *p = png.data + ((size_t)(10 + 26 + 80) * png.width + x) * 3;
        painted += p[0] != 255 || p[1] != 255 || p[2] != 255;
    }
    cr_assert(painted > 50, "the first image is not drawn (%d pixels)", painted);
    siamese_image_free(&png);
    siamese_image_free(&grey);
    siamese_image_free(&rgb);
}

Test(grid, refuses_bad_arguments) {
    siamese_image bad = {5, 5, 2, NULL};
    uint8_t pixels[50] = {0};
    bad.data = pixels;
    siamese_captioned_image cell = {&bad, "x"};
    const char *path = tu_path(tu_temp, "bad.png");
    char why[256];
    cr_assert_eq(siamese_draw_grid(path, &cell, 1, 1, why, sizeof why), SIAMESE_ERR_INVALID_ARG);
    cr_assert(strstr(why, path), "%s", why);
    cr_assert_eq(siamese_draw_grid(path, &cell, 0, 1, why, sizeof why), SIAMESE_ERR_INVALID_ARG);
    cr_assert_eq(siamese_draw_grid(NULL, &cell, 1, 1, NULL, 0), SIAMESE_ERR_INVALID_ARG);
    cr_assert_eq(tu_count_entries_containing(tu_temp, "bad.png"), 0);
}
