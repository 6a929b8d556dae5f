/* ToTensor: CHW floats in [0,1], optional per-channel normalization, no allocation. */
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "image_fixtures.h"

Test(image_tensor, values_and_layout) {
    sm_image img;
    cr_assert_eq(sm_image_alloc(&img, 3, 2, 3, NULL), SIAMESE_OK);
    for (int i = 0; i < 18; i++) img.data[i] = (uint8_t)(i * 15);
    float out[18];
    cr_assert_eq(sm_image_to_tensor(&img, NULL, NULL, out), SIAMESE_OK);
    for (int c = 0; c < 3; c++)
        for (int p = 0; p < 6; p++)
            cr_expect_eq(out[c * 6 + p], (float)img.data[p * 3 + c] / 255.0f, "c%d p%d", c, p);
    const float mean[3] = {0.485f, 0.456f, 0.406f}, std[3] = {0.229f, 0.224f, 0.225f};
    cr_assert_eq(sm_image_to_tensor(&img, mean, std, out), SIAMESE_OK);
    for (int c = 0; c < 3; c++)
        for (int p = 0; p < 6; p++) {
            float want = ((float)img.data[p * 3 + c] / 255.0f - mean[c]) / std[c];
            cr_expect_eq(out[c * 6 + p], want);
        }
    img.data[0] = 255;
    img.data[1] = 0;
    cr_assert_eq(siamese_image_to_tensor(&img, NULL, NULL, out, NULL, 0), SIAMESE_OK);
    cr_expect_eq(out[0], 1.0f);
    cr_expect_eq(out[6], 0.0f);
    cr_expect_eq(sm_image_to_tensor(&img, mean, NULL, out), SIAMESE_ERR_INVALID_ARG);
    const float zero_std[3] = {1, 0, 1};
    cr_expect_eq(sm_image_to_tensor(&img, mean, zero_std, out), SIAMESE_ERR_INVALID_ARG);
    cr_expect_eq(sm_image_to_tensor(&img, NULL, NULL, NULL), SIAMESE_ERR_INVALID_ARG);
    sm_image_free(&img);
    cr_expect_eq(sm_image_to_tensor(&img, NULL, NULL, out), SIAMESE_ERR_INVALID_ARG);
}

Test(image_tensor, grey_image_single_plane) {
    sm_image img;
    sm_image_options o = if_opts(1, 8, 4);
    cr_assert_eq(sm_image_load_file(tu_source_path(IF_DIR "/src/png_g8.png"), &o, &img, NULL),
                 SIAMESE_OK);
    float out[32];
    cr_assert_eq(sm_image_to_tensor(&img, NULL, NULL, out), SIAMESE_OK);
    for (int i = 0; i < 32; i++) {
        cr_expect(out[i] >= 0.0f && out[i] <= 1.0f);
        cr_expect_eq(out[i], img.data[i] / 255.0f);
    }
    sm_image_free(&img);
}

/* Convert, resize and to-tensor say why they refuse, not only a status code. */
Test(image_tensor, public_steps_report_why) {
    siamese_image img;
    cr_assert_eq(sm_image_alloc(&img, 4, 3, 3, NULL), SIAMESE_OK);
    memset(img.data, 7, 36);
    siamese_image empty = {0, 0, 0, NULL}, out;
    char msg[256];
    float t[36];
    const float mean[3] = {0.5f, 0.5f, 0.5f}, zero_std[3] = {1, 0, 1};
    cr_expect_eq(siamese_image_to_tensor(&img, mean, NULL, t, msg, sizeof msg),
                 SIAMESE_ERR_INVALID_ARG);
    cr_expect(strstr(msg, "both mean and std"), "%s", msg);
    cr_expect_eq(siamese_image_to_tensor(&img, mean, zero_std, t, msg, sizeof msg),
                 SIAMESE_ERR_INVALID_ARG);
    cr_expect(strstr(msg, "std[1]"), "%s", msg);
    cr_expect_eq(siamese_image_to_tensor(&empty, NULL, NULL, t, msg, sizeof msg),
                 SIAMESE_ERR_INVALID_ARG);
    cr_expect(strstr(msg, "no pixels"), "%s", msg);
    cr_expect_eq(siamese_image_to_tensor(&img, NULL, NULL, t, msg, sizeof msg), SIAMESE_OK);
    cr_expect_str_empty(msg);
    cr_expect_eq(siamese_image_convert(&img, 2, &out, msg, sizeof msg), SIAMESE_ERR_INVALID_ARG);
    cr_expect(strstr(msg, "2 channels"), "%s", msg);
    cr_expect_null(out.data);
    cr_expect_eq(siamese_image_convert(&empty, 1, &out, msg, sizeof msg), SIAMESE_ERR_INVALID_ARG);
    cr_expect(strstr(msg, "convert: the image has no pixels"), "%s", msg);
    cr_expect_eq(siamese_image_resize(&img, 0, 5, &out, msg, sizeof msg), SIAMESE_ERR_INVALID_ARG);
    cr_expect(strstr(msg, "0x5"), "%s", msg);
    cr_expect_eq(siamese_image_resize(&img, 2, 2, &out, NULL, 0), SIAMESE_OK); /* errmsg optional */
    cr_expect_eq(out.width * out.height * out.channels, 12);
    siamese_image_free(&out);
    sm_image_free(&img);
}
