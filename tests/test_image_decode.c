/* Decode parity: every fixture format/variant decoded and converted like Pillow 9.4 (max diff 0). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "image_fixtures.h"

#define MAX_FIXTURES 128

static void check_decoded(const char *src, const char *expected, int channels) {
    sm_image_options o = if_opts(channels, 0, 0);
    sm_image img, ex;
    sm_err err;
    sm_err_clear(&err);
    siamese_status st = sm_image_load_file(tu_source_path(src), &o, &img, &err);
    cr_assert_eq(st, SIAMESE_OK, "%s: %s", src, err.msg);
    cr_assert_eq(if_read_expected(tu_source_path(expected), &ex), 0, "cannot read %s", expected);
    int diff = if_max_diff(&img, &ex);
    cr_expect_eq(diff, 0, "%s channels %d: max diff %d vs Pillow (%dx%dx%d vs %dx%dx%d)", src,
                 channels, diff, img.width, img.height, img.channels, ex.width, ex.height,
                 ex.channels);
    sm_image_free(&img);
    sm_image_free(&ex);
}

Test(image_decode, every_variant_matches_pillow_rgb_and_l) {
    static char lines[MAX_FIXTURES][256];
    int n = if_manifest(IF_DIR "/manifest.txt", lines, MAX_FIXTURES);
    cr_assert_geq(n, 45, "fixture manifest has only %d entries", n);
    int formats[6] = {0};
    for (int i = 0; i < n; i++) {
        char name[128], fmt[16], base[128], src[200], rgb[200], grey[200];
        cr_assert_eq(sscanf(lines[i], "%127s %15s", name, fmt), 2);
        snprintf(base, sizeof base, "%s", name);
        *strrchr(base, '.') = 0;
        snprintf(src, sizeof src, IF_DIR "/src/%s", name);
        snprintf(rgb, sizeof rgb, IF_DIR "/decoded/%s.rgb.ppm", base);
        snprintf(grey, sizeof grey, IF_DIR "/decoded/%s.l.pgm", base);
        check_decoded(src, rgb, 3);
        check_decoded(src, grey, 1);
        size_t size;
        unsigned char *data = tu_read_file(tu_source_path(src), &size);
        cr_assert_not_null(data);
        formats[sm_image_detect(data, size)]++;
        free(data);
    }
    cr_expect_eq(formats[SM_IMAGE_UNKNOWN], 0);
    for (int f = SM_IMAGE_JPEG; f <= SM_IMAGE_GIF; f++)
        cr_expect_geq(formats[f], 4, "only %d fixtures of %s", formats[f], sm_image_format_name(f));
}

/* channels = 0 keeps the decoded layout. */
static int native_channels(const char *name) {
    sm_image_options o = if_opts(0, 0, 0);
    sm_image img;
    cr_assert_eq(sm_image_load_file(tu_source_path(name), &o, &img, NULL), SIAMESE_OK, "%s", name);
    int c = img.channels;
    cr_expect_eq(img.width, 37);
    cr_expect_eq(img.height, 23);
    sm_image_free(&img);
    return c;
}

Test(image_decode, native_layouts) {
    cr_expect_eq(native_channels(IF_DIR "/src/png_g8.png"), 1);
    cr_expect_eq(native_channels(IF_DIR "/src/png_ga8.png"), 2);
    cr_expect_eq(native_channels(IF_DIR "/src/png_rgb16.png"), 3);
    cr_expect_eq(native_channels(IF_DIR "/src/png_rgba8.png"), 4);
    cr_expect_eq(native_channels(IF_DIR "/src/png_p8_trns.png"), 4);
    cr_expect_eq(native_channels(IF_DIR "/src/jpeg_grey.jpg"), 1);
    cr_expect_eq(native_channels(IF_DIR "/src/jpeg_cmyk.jpg"), 3);
    cr_expect_eq(native_channels(IF_DIR "/src/webp_lossy_alpha.webp"), 4);
    cr_expect_eq(native_channels(IF_DIR "/src/pnm_p4.pnm"), 1);
    cr_expect_eq(native_channels(IF_DIR "/src/gif_plain.gif"), 3);
}

/* The format comes from the bytes: a PNG named .jpg, and a JPEG without extension. */
Test(image_decode, format_from_bytes_not_name) {
    char *dir = tu_make_temp_dir();
    cr_assert_not_null(dir);
    const char *pairs[2][2] = {{IF_DIR "/src/png_rgb8.png", "picture.jpg"},
                               {IF_DIR "/src/jpeg_444.jpg", "noextension"}};
    for (int i = 0; i < 2; i++) {
        size_t size;
        unsigned char *data = tu_read_file(tu_source_path(pairs[i][0]), &size);
        cr_assert_not_null(data);
        char path[4200];
        snprintf(path, sizeof path, "%s/%s", dir, pairs[i][1]);
        FILE *fp = fopen(path, "wb");
        cr_assert_not_null(fp);
        cr_assert_eq(fwrite(data, 1, size, fp), size);
        fclose(fp);
        sm_image a, b;
        sm_image_options o = if_opts(3, 0, 0);
        cr_assert_eq(sm_image_load_file(path, &o, &a, NULL), SIAMESE_OK, "%s", path);
        cr_assert_eq(sm_image_load_memory(data, size, NULL, &o, &b, NULL), SIAMESE_OK);
        cr_expect_eq(if_max_diff(&a, &b), 0);
        sm_image_free(&a);
        sm_image_free(&b);
        free(data);
    }
    tu_rmtree(dir);
    free(dir);
}

Test(image_decode, detect_magic_bytes) {
    cr_expect_eq(sm_image_detect((const uint8_t *)"\xFF\xD8\xFF\xE0", 4), SM_IMAGE_JPEG);
    cr_expect_eq(sm_image_detect((const uint8_t *)"\x89PNG\r\n\x1a\n", 8), SM_IMAGE_PNG);
    cr_expect_eq(sm_image_detect((const uint8_t *)"GIF89a", 6), SM_IMAGE_GIF);
    cr_expect_eq(sm_image_detect((const uint8_t *)"RIFF\0\0\0\0WEBPVP8 ", 16), SM_IMAGE_WEBP);
    cr_expect_eq(sm_image_detect((const uint8_t *)"P5\n", 3), SM_IMAGE_PNM);
    cr_expect_eq(sm_image_detect((const uint8_t *)"P7\n", 3), SM_IMAGE_UNKNOWN);
    cr_expect_eq(sm_image_detect((const uint8_t *)"BM", 2), SM_IMAGE_UNKNOWN);
    cr_expect_eq(sm_image_detect((const uint8_t *)"\x89PN", 3), SM_IMAGE_UNKNOWN);
    cr_expect_eq(sm_image_detect(NULL, 0), SM_IMAGE_UNKNOWN);
}

/* The public wrappers: defaults are the recipe (RGB 256x256), errors come back as text. */
Test(image_decode, public_api) {
    siamese_image_options o = siamese_image_default_options();
    cr_expect_eq(o.channels, 3);
    cr_expect_eq(o.width, 256);
    cr_expect_eq(o.height, 256);
    cr_expect_eq(o.max_side, 16384);
    cr_expect_eq(o.max_pixels, (int64_t)1 << 28);
    siamese_image img;
    char msg[256];
    cr_assert_eq(
        siamese_image_load(tu_source_path(IF_DIR "/src/png_rgb8.png"), NULL, &img, msg, sizeof msg),
        SIAMESE_OK);
    cr_expect_eq(img.width, 256);
    cr_expect_eq(img.height, 256);
    cr_expect_eq(img.channels, 3);
    cr_expect_str_empty(msg);
    siamese_image grey;
    cr_assert_eq(siamese_image_convert(&img, 1, &grey, msg, sizeof msg), SIAMESE_OK);
    cr_expect_eq(grey.channels, 1);
    siamese_image small;
    cr_assert_eq(siamese_image_resize(&grey, 10, 5, &small, msg, sizeof msg), SIAMESE_OK);
    cr_expect_eq(small.width * small.height * small.channels, 50);
    siamese_image_free(&small);
    siamese_image_free(&grey);
    siamese_image_free(&img);
    siamese_image_free(&img); /* freeing an empty image is fine */
    siamese_image_free(NULL);
    cr_expect_eq(siamese_image_load("/nonexistent/x.png", NULL, &img, msg, sizeof msg),
                 SIAMESE_ERR_IO);
    cr_expect(strstr(msg, "/nonexistent/x.png") != NULL, "message: %s", msg);
    cr_expect_null(img.data);
    cr_expect_eq(siamese_image_decode("BM\0\0", 4, NULL, &img, msg, sizeof msg),
                 SIAMESE_ERR_FORMAT);
    cr_expect(strstr(msg, "not a recognized image") != NULL, "message: %s", msg);
    o.channels = 2;
    cr_expect_eq(siamese_image_load(tu_source_path(IF_DIR "/src/png_rgb8.png"), &o, &img, NULL, 0),
                 SIAMESE_ERR_INVALID_ARG);
    o = siamese_image_default_options();
    o.width = 0;
    cr_expect_eq(siamese_image_load(tu_source_path(IF_DIR "/src/png_rgb8.png"), &o, &img, NULL, 0),
                 SIAMESE_ERR_INVALID_ARG);
}
