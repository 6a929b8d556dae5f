/* Resize and convert parity with Pillow 9.4 (max diff 0) on the committed fixtures (real photos:
 * test_image_real.c). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "image_fixtures.h"

#define MAX_LINES 128

Test(image_resize, fixtures_match_pillow_bilinear) {
    static char lines[MAX_LINES][256];
    int n = if_manifest(IF_DIR "/resize_manifest.txt", lines, MAX_LINES);
    cr_assert_geq(n, 40, "resize manifest has only %d entries", n);
    int up = 0, down = 0;
    for (int i = 0; i < n; i++) {
        char src[128], mode[8], expected[128], path[300];
        int w, h;
        cr_assert_eq(sscanf(lines[i], "%127s %7s %d %d %127s", src, mode, &w, &h, expected), 5);
        snprintf(path, sizeof path, IF_DIR "/src/%s", src);
        sm_image_options o = if_opts(mode[0] == 'L' ? 1 : 3, w, h);
        sm_image img, ex;
        sm_err err;
        cr_assert_eq(sm_image_load_file(tu_source_path(path), &o, &img, &err), SIAMESE_OK, "%s",
                     err.msg);
        snprintf(path, sizeof path, IF_DIR "/resized/%s", expected);
        sm_image_options raw = if_opts(0, 0, 0); /* expected outputs are 8-bit L/RGB PNGs */
        cr_assert_eq(sm_image_load_file(tu_source_path(path), &raw, &ex, &err), SIAMESE_OK, "%s",
                     err.msg);
        int diff = if_max_diff(&img, &ex);
        cr_expect_eq(diff, 0, "%s: max diff %d vs Pillow", expected, diff);
        if ((int64_t)w * h > 37 * 23) up++;
        else down++;
        sm_image_free(&img);
        sm_image_free(&ex);
    }
    cr_expect_geq(up, 5);
    cr_expect_geq(down, 5);
}

/* Resizing to the same size is a copy; one axis only runs one pass. */
Test(image_resize, identity_and_single_axis) {
    sm_image src;
    sm_image_options o = if_opts(3, 0, 0);
    cr_assert_eq(sm_image_load_file(tu_source_path(IF_DIR "/src/png_rgb8.png"), &o, &src, NULL),
                 SIAMESE_OK);
    sm_image same;
    cr_assert_eq(sm_image_resize(&src, src.width, src.height, &same, NULL), SIAMESE_OK);
    cr_expect_eq(if_max_diff(&same, &src), 0);
    sm_image_free(&same);
    /* resizing a constant image keeps it constant, at every size and channel count */
    for (int c = 1; c <= 4; c++) {
        sm_image flat;
        cr_assert_eq(sm_image_alloc(&flat, 13, 7, c, NULL), SIAMESE_OK);
        memset(flat.data, 173, (size_t)13 * 7 * c);
        int sizes[][2] = {{1, 1}, {5, 7}, {13, 2}, {40, 40}, {256, 3}};
        for (int s = 0; s < 5; s++) {
            sm_image r;
            cr_assert_eq(sm_image_resize(&flat, sizes[s][0], sizes[s][1], &r, NULL), SIAMESE_OK);
            for (size_t i = 0; i < (size_t)r.width * r.height * c; i++)
                cr_assert_eq(r.data[i], 173, "c=%d size %dx%d", c, r.width, r.height);
            sm_image_free(&r);
        }
        sm_image_free(&flat);
    }
    sm_image bad;
    cr_expect_eq(sm_image_resize(&src, 0, 5, &bad, NULL), SIAMESE_ERR_INVALID_ARG);
    cr_expect_null(bad.data);
    sm_image_free(&src);
}

/* Pillow's convert("L") integer luma on extreme and mixed values. */
Test(image_resize, convert_luma_formula) {
    sm_image rgb, l;
    cr_assert_eq(sm_image_alloc(&rgb, 4, 1, 3, NULL), SIAMESE_OK);
    const uint8_t px[12] = {255, 255, 255, 255, 0, 0, 0, 255, 0, 1, 2, 3};
    memcpy(rgb.data, px, 12);
    cr_assert_eq(sm_image_convert(&rgb, 1, &l, NULL), SIAMESE_OK);
    cr_expect_eq(l.data[0], 255);
    cr_expect_eq(l.data[1], (255 * 19595 + 0x8000) >> 16); /* 76 */
    cr_expect_eq(l.data[2], (255 * 38470 + 0x8000) >> 16); /* 150 */
    cr_expect_eq(l.data[3], (1 * 19595 + 2 * 38470 + 3 * 7471 + 0x8000) >> 16);
    sm_image back;
    cr_assert_eq(sm_image_convert(&l, 3, &back, NULL), SIAMESE_OK);
    cr_expect_eq(back.data[3], 76);
    cr_expect_eq(back.data[4], 76);
    cr_expect_eq(back.data[5], 76);
    cr_expect_eq(sm_image_convert(&l, 2, &back, NULL), SIAMESE_ERR_INVALID_ARG);
    sm_image_free(&back);
    sm_image_free(&l);
    sm_image_free(&rgb);
}
