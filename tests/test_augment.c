/* Augmentation: identity is bitwise, draws are seeded per sample, flips are exact, affine maps
 * land where they should, and bad specs name the term. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "image/augment.h"
#include "image/image.h"
#include "test_util.h"

static sm_image make_image(int w, int h, int c, unsigned seed) {
    sm_image im;
    cr_assert_eq(sm_image_alloc(&im, w, h, c, NULL), SIAMESE_OK);
    for (size_t i = 0; i < (size_t)w * h * c; i++)
        im.data[i] = (uint8_t)((seed * 2654435761u + i * 40503u) >> 7);
    return im;
}

static sm_image blank_like(const sm_image *src) {
    sm_image im;
    cr_assert_eq(sm_image_alloc(&im, src->width, src->height, src->channels, NULL), SIAMESE_OK);
    memset(im.data, 0x5a, (size_t)src->width * src->height * src->channels);
    return im;
}

static size_t bytes_of(const sm_image *im) { return (size_t)im->width * im->height * im->channels; }

static sm_augment parse_ok(const char *spec) {
    sm_augment a;
    sm_err err;
    sm_err_clear(&err);
    cr_assert_eq(sm_augment_parse(spec, &a, &err), SIAMESE_OK, "%s: %s", spec, err.msg);
    return a;
}

Test(augment, identity_specs_leave_the_bytes_unchanged) {
    const char *specs[] = {"", "none", "koch,none", "rotate=0,translate=0", "flip=0", "crop=1:1"};
    sm_image src = make_image(17, 13, 3, 1);
    for (size_t s = 0; s < sizeof specs / sizeof specs[0]; s++) {
        sm_augment a = parse_ok(specs[s]);
        cr_assert_eq(sm_augment_is_identity(&a), strcmp(specs[s], "crop=1:1") != 0, "%s", specs[s]);
        for (int k = 0; k < 5; k++) {
            sm_image dst = blank_like(&src);
            sm_augment_apply(&a, sm_augment_sample_seed(7, 0, k, 0), &src, &dst);
            /* crop=1:1 asks for the whole image (at a random aspect that never fits, so the
             * whole image): an identity map through the bilinear path */
            cr_assert_eq(memcmp(dst.data, src.data, bytes_of(&src)), 0, "%s sample %d", specs[s],
                         k);
            sm_image_free(&dst);
        }
    }
    sm_image_free(&src);
}

Test(augment, same_seed_same_bytes_other_seeds_differ) {
    sm_augment a = parse_ok("koch,photo");
    sm_image src = make_image(32, 24, 3, 3);
    sm_image x = blank_like(&src), y = blank_like(&src), z = blank_like(&src);
    uint64_t s = sm_augment_sample_seed(42, 3, 17, 1);
    sm_augment_apply(&a, s, &src, &x);
    sm_augment_apply(&a, s, &src, &y);
    cr_assert_eq(memcmp(x.data, y.data, bytes_of(&src)), 0);
    cr_assert_neq(memcmp(x.data, src.data, bytes_of(&src)), 0, "koch,photo changed nothing");
    /* every coordinate of the sample seed matters */
    uint64_t others[] = {sm_augment_sample_seed(43, 3, 17, 1), sm_augment_sample_seed(42, 4, 17, 1),
                         sm_augment_sample_seed(42, 3, 18, 1),
                         sm_augment_sample_seed(42, 3, 17, 0)};
    for (int i = 0; i < 4; i++) {
        cr_assert_neq(others[i], s);
        sm_augment_apply(&a, others[i], &src, &z);
        cr_assert_neq(memcmp(x.data, z.data, bytes_of(&src)), 0, "seed variant %d", i);
    }
    sm_image_free(&src);
    sm_image_free(&x);
    sm_image_free(&y);
    sm_image_free(&z);
}

static void expect_mirror(const sm_image *src, const sm_image *dst) {
    int w = src->width, c = src->channels;
    for (int yy = 0; yy < src->height; yy++)
        for (int xx = 0; xx < w; xx++)
            for (int k = 0; k < c; k++)
                cr_assert_eq(dst->data[((size_t)yy * w + xx) * c + k],
                             src->data[((size_t)yy * w + (w - 1 - xx)) * c + k], "(%d,%d,%d)", xx,
                             yy, k);
}

Test(augment, flip_is_an_exact_mirror_with_and_without_resampling) {
    /* "scale=1:1" forces the resampling path with an identity affine */
    const char *specs[] = {"flip=1", "flip=1,scale=1:1"};
    sm_image src = make_image(15, 9, 3, 5);
    for (int s = 0; s < 2; s++) {
        sm_augment a = parse_ok(specs[s]);
        sm_image dst = blank_like(&src);
        sm_augment_apply(&a, 99, &src, &dst);
        expect_mirror(&src, &dst);
        sm_image_free(&dst);
    }
    /* flip=0.5 flips about half of the samples, each one exactly or not at all */
    sm_augment a = parse_ok("flip");
    int flipped = 0;
    for (int k = 0; k < 200; k++) {
        sm_image dst = blank_like(&src);
        sm_augment_apply(&a, sm_augment_sample_seed(1, 0, k, 0), &src, &dst);
        if (memcmp(dst.data, src.data, bytes_of(&src)) != 0) {
            expect_mirror(&src, &dst);
            flipped++;
        }
        sm_image_free(&dst);
    }
    cr_assert(flipped > 70 && flipped < 130, "flipped %d of 200", flipped);
    sm_image_free(&src);
}

Test(augment, scale_two_about_the_center_on_a_ramp) {
    /* value = 8 * x + 3: bilinear sampling of a linear ramp is exact inside the image */
    sm_image src;
    cr_assert_eq(sm_image_alloc(&src, 16, 4, 1, NULL), SIAMESE_OK);
    for (int yy = 0; yy < 4; yy++)
        for (int xx = 0; xx < 16; xx++) src.data[yy * 16 + xx] = (uint8_t)(8 * xx + 3);
    sm_augment a = parse_ok("scale=2:2");
    sm_image dst = blank_like(&src);
    sm_augment_apply(&a, 5, &src, &dst);
    /* output x takes source point 8 + (x + 0.5 - 8) / 2, i.e. pixel coordinate 3.75 + x / 2 */
    for (int xx = 0; xx < 16; xx++) {
        double want = 8 * (3.75 + xx / 2.0) + 3;
        cr_assert_eq(dst.data[16 + xx], (uint8_t)floor(want + 0.5), "x %d: %d vs %g", xx,
                     dst.data[16 + xx], want);
    }
    sm_image_free(&src);
    sm_image_free(&dst);
}

Test(augment, rotation_keeps_a_centered_disk_and_translation_moves_a_block) {
    int n = 40;
    sm_image disk;
    cr_assert_eq(sm_image_alloc(&disk, n, n, 1, NULL), SIAMESE_OK);
    int inside = 0;
    for (int yy = 0; yy < n; yy++)
        for (int xx = 0; xx < n; xx++) {
            double dx = xx + 0.5 - n / 2.0, dy = yy + 0.5 - n / 2.0;
            int in = dx * dx + dy * dy < 12.0 * 12.0;
            disk.data[yy * n + xx] = in ? 255 : 0;
            inside += in;
        }
    sm_augment rot = parse_ok("rotate=180");
    sm_image dst = blank_like(&disk);
    for (int k = 0; k < 10; k++) {
        sm_augment_apply(&rot, sm_augment_sample_seed(2, 0, k, 0), &disk, &dst);
        int bright = 0, moved = 0;
        for (int i = 0; i < n * n; i++) {
            bright += dst.data[i] >= 128;
            moved += abs((int)dst.data[i] - (int)disk.data[i]) > 128;
        }
        cr_assert(abs(bright - inside) <= inside / 20, "sample %d: %d vs %d", k, bright, inside);
        cr_assert(moved <= inside / 10, "sample %d: %d pixels changed side", k, moved);
    }
    /* a translation of up to 3 pixels moves the disk's center of mass by at most 3 */
    sm_augment shift = parse_ok("translate=3");
    int any = 0;
    for (int k = 0; k < 10; k++) {
        sm_augment_apply(&shift, sm_augment_sample_seed(2, 1, k, 0), &disk, &dst);
        double sx = 0, sw = 0;
        for (int yy = 0; yy < n; yy++)
            for (int xx = 0; xx < n; xx++) {
                sx += dst.data[yy * n + xx] * (xx + 0.5);
                sw += dst.data[yy * n + xx];
            }
        double cx = sx / sw - n / 2.0;
        cr_assert(fabs(cx) <= 3.01, "sample %d: center moved %g", k, cx);
        any |= fabs(cx) > 0.2;
    }
    cr_assert(any, "no sample moved the disk");
    sm_image_free(&disk);
    sm_image_free(&dst);
}

Test(augment, brightness_scales_every_value_by_one_factor) {
    sm_image src = make_image(20, 10, 3, 9);
    for (size_t i = 0; i < bytes_of(&src); i++)
        src.data[i] = (uint8_t)(src.data[i] / 2); /* < 128 */
    sm_augment a = parse_ok("brightness=0.5");
    sm_image dst = blank_like(&src);
    sm_augment_apply(&a, 11, &src, &dst);
    /* recover the factor from the largest value, then check every value against it */
    size_t arg = 0;
    for (size_t i = 0; i < bytes_of(&src); i++)
        if (src.data[i] > src.data[arg]) arg = i;
    double f = (double)dst.data[arg] / src.data[arg];
    cr_assert(f >= 0.49 && f <= 1.51, "factor %g", f);
    for (size_t i = 0; i < bytes_of(&src); i++)
        cr_assert(fabs(dst.data[i] - f * src.data[i]) <= 0.5 + 0.01 * src.data[i], "value %zu", i);
    sm_image_free(&src);
    sm_image_free(&dst);
}

Test(augment, presets_equal_their_terms_and_later_terms_override) {
    sm_augment k = parse_ok("koch"), t = parse_ok("rotate=10,shear=0.3,scale=0.8:1.2,translate=2");
    cr_assert_eq(memcmp(&k, &t, sizeof k), 0);
    sm_augment o = parse_ok("koch,rotate=5,flip");
    cr_assert_eq(o.rotate, 5.0);
    cr_assert_eq(o.flip, 0.5);
    cr_assert_eq(o.shear, 0.3);
    sm_augment p = parse_ok("photo");
    cr_assert(p.crop_lo > 0 && p.flip == 0.5 && p.brightness > 0 && p.contrast > 0);
}

static void expect_error(const char *spec, const char *named) {
    char msg[256];
    cr_assert_eq(siamese_augment_check(spec, msg, sizeof msg), SIAMESE_ERR_INVALID_ARG, "%s", spec);
    cr_assert(strstr(msg, named) != NULL, "'%s': message '%s' does not name '%s'", spec, msg,
              named);
}

Test(augment, bad_specs_name_the_term) {
    expect_error("wobble=1", "wobble=1");
    expect_error("koch,twirl", "twirl");
    expect_error("rotate=200", "rotate=200");
    expect_error("rotate", "rotate");
    expect_error("rotate=ten", "rotate=ten");
    expect_error("shear=-0.1", "shear=-0.1");
    expect_error("scale=1.2:0.8", "scale=1.2:0.8");
    expect_error("scale=0:1", "scale=0:1");
    expect_error("crop=0.5:1.5", "crop=0.5:1.5");
    expect_error("flip=2", "flip=2");
    expect_error("brightness=nan", "brightness=nan");
    expect_error("koch,,flip", "empty term");
    expect_error("koch,", "empty term");
    char msg[64] = "x";
    cr_assert_eq(siamese_augment_check("koch,photo", msg, sizeof msg), SIAMESE_OK);
    cr_assert_str_empty(msg);
    cr_assert_eq(siamese_augment_check(NULL, NULL, 0), SIAMESE_OK);
}
