/* Augmentation: identity is bitwise, draws are seeded per sample, flips are exact, affine maps
 * land where they should, elastic fields are smooth, bounded and land where they should, existing
 * specs keep their bytes, and bad specs name the term. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
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
            sm_augment_apply(&a, sm_augment_sample_seed(7, 0, k, 0), &src, &dst, NULL);
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
    sm_augment_apply(&a, s, &src, &x, NULL);
    sm_augment_apply(&a, s, &src, &y, NULL);
    cr_assert_eq(memcmp(x.data, y.data, bytes_of(&src)), 0);
    cr_assert_neq(memcmp(x.data, src.data, bytes_of(&src)), 0, "koch,photo changed nothing");
    /* every coordinate of the sample seed matters */
    uint64_t others[] = {sm_augment_sample_seed(43, 3, 17, 1), sm_augment_sample_seed(42, 4, 17, 1),
                         sm_augment_sample_seed(42, 3, 18, 1),
                         sm_augment_sample_seed(42, 3, 17, 0)};
    for (int i = 0; i < 4; i++) {
        cr_assert_neq(others[i], s);
        sm_augment_apply(&a, others[i], &src, &z, NULL);
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
        sm_augment_apply(&a, 99, &src, &dst, NULL);
        expect_mirror(&src, &dst);
        sm_image_free(&dst);
    }
    /* flip=0.5 flips about half of the samples, each one exactly or not at all */
    sm_augment a = parse_ok("flip");
    int flipped = 0;
    for (int k = 0; k < 200; k++) {
        sm_image dst = blank_like(&src);
        sm_augment_apply(&a, sm_augment_sample_seed(1, 0, k, 0), &src, &dst, NULL);
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
    sm_augment_apply(&a, 5, &src, &dst, NULL);
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
        sm_augment_apply(&rot, sm_augment_sample_seed(2, 0, k, 0), &disk, &dst, NULL);
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
        sm_augment_apply(&shift, sm_augment_sample_seed(2, 1, k, 0), &disk, &dst, NULL);
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

/* scale=1e-6 (det 1e-12, the smallest the inverse allows) maps the outer columns of a 9000-wide
 * image ~4.5e9 pixels out, past int: each half of the output must still take its own edge (the
 * int conversion, undefined there, gave column 0 to the right half on x86). */
Test(augment, tiny_scales_on_wide_images_take_the_edge_pixels) {
    enum { W = 9000, H = 2 };
    sm_image src = make_image(W, H, 1, 3);
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) src.data[y * W + x] = (uint8_t)(x < W / 2 ? 10 : 240);
    sm_augment a = parse_ok("scale=1e-6:1e-6");
    sm_image dst = blank_like(&src);
    sm_augment_apply(&a, 3, &src, &dst, NULL);
    for (int y = 0; y < H; y++) {
        cr_assert_eq(dst.data[y * W + 0], 10, "row %d, left edge", y);
        cr_assert_eq(dst.data[y * W + W - 1], 240, "row %d, right edge", y);
    }
    sm_image_free(&src);
    sm_image_free(&dst);
}

Test(augment, brightness_scales_every_value_by_one_factor) {
    sm_image src = make_image(20, 10, 3, 9);
    for (size_t i = 0; i < bytes_of(&src); i++)
        src.data[i] = (uint8_t)(src.data[i] / 2); /* < 128 */
    sm_augment a = parse_ok("brightness=0.5");
    sm_image dst = blank_like(&src);
    sm_augment_apply(&a, 11, &src, &dst, NULL);
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
    expect_error("elastic=-1:4", "elastic=-1:4");
    expect_error("elastic=1001:4", "elastic=1001:4");
    expect_error("elastic=34:0.1", "elastic=34:0.1");
    expect_error("elastic=34:101", "elastic=34:101");
    expect_error("elastic=34", "elastic=34");
    expect_error("elastic", "elastic");
    expect_error("elastic=34:four", "elastic=34:four");
    expect_error("elastic=34:4:4", "elastic=34:4:4");
    expect_error("koch,elastic=nan:4", "elastic=nan:4");
    /* and say which number is not one */
    expect_error("koch,elastic=nan:4", "ALPHA 'nan' is not a finite number");
    expect_error("elastic=inf:4", "ALPHA 'inf' is not a finite number");
    expect_error("elastic=34:four", "SIGMA 'four' is not a finite number");
    expect_error("elastic=34:", "SIGMA '' is not a finite number");
    expect_error("elastic=34", "expects ALPHA:SIGMA");
    char msg[64] = "x";
    cr_assert_eq(siamese_augment_check("koch,photo", msg, sizeof msg), SIAMESE_OK);
    cr_assert_str_empty(msg);
    cr_assert_eq(siamese_augment_check(NULL, NULL, 0), SIAMESE_OK);
}

/* FNV-1a of the outputs of 8 samples of spec on a fixed image. */
static uint64_t spec_hash(const char *spec, int w, int h, int c) {
    sm_image src = make_image(w, h, c, 11), dst = blank_like(&src);
    sm_augment a = parse_ok(spec);
    uint64_t hash = 1469598103934665603ull;
    for (int j = 0; j < 8; j++) {
        sm_augment_apply(&a, sm_augment_sample_seed(5, 2, j, j & 1), &src, &dst, NULL);
        for (size_t i = 0; i < bytes_of(&src); i++) hash = (hash ^ dst.data[i]) * 1099511628211ull;
    }
    sm_image_free(&src);
    sm_image_free(&dst);
    return hash;
}

Test(augment, existing_specs_keep_their_bytes) {
    /* recorded before the elastic term was added (its draws come after all the others); the
     * values depend on libm's sin, cos, exp and log, as every run's augmentation does */
    static const struct {
        const char *spec;
        uint64_t rgb, grey; /* 17x13x3, 28x28x1 */
    } golden[] = {
        {"koch", 0x9548a5c5c92ccd5eull, 0xb0483f5038ec23b0ull},
        {"photo", 0x171a540d091c2a77ull, 0xbcf6e8aa2b7f0fe4ull},
        {"koch,photo", 0xce84272929fdfdefull, 0x554ad2bbd93d17dfull},
        {"rotate=30,crop=0.2:0.9", 0xab18b1178c7d0524ull, 0x44fdb305298b8328ull},
        {"flip", 0xd4c44fcb7dac590bull, 0x1d8122d1e3831c57ull},
        {"brightness=0.3,contrast=0.4", 0xc673d7bb93976d4dull, 0xb52162c7981b4ed6ull},
    };
    for (size_t i = 0; i < sizeof golden / sizeof golden[0]; i++) {
        cr_assert_eq(spec_hash(golden[i].spec, 17, 13, 3), golden[i].rgb, "%s", golden[i].spec);
        cr_assert_eq(spec_hash(golden[i].spec, 28, 28, 1), golden[i].grey, "%s", golden[i].spec);
    }
}

/* Applies spec with its own scratch (sized by sm_augment_scratch_floats). */
static void apply_scratch(const sm_augment *a, uint64_t seed, const sm_image *src, sm_image *dst,
                          float **scratch) {
    size_t floats = sm_augment_scratch_floats(a, src->width, src->height);
    cr_assert(floats >= 2 * (size_t)src->width * src->height);
    if (!*scratch) *scratch = malloc(floats * sizeof(float));
    cr_assert(*scratch);
    sm_augment_apply(a, seed, src, dst, *scratch);
}

Test(augment, elastic_is_seeded_per_sample_and_off_at_alpha_zero) {
    sm_augment a = parse_ok("elastic=34:4"), r = parse_ok("rotate=10,elastic=34:4");
    cr_assert_eq(a.elastic_alpha, 34.0);
    cr_assert_eq(a.elastic_sigma, 4.0);
    cr_assert_not(sm_augment_is_identity(&a));
    cr_assert_eq(sm_augment_scratch_floats(&a, 28, 28), 3 * 28 * 28 + 13 + 28 + 28);
    sm_augment off = parse_ok("elastic=0:4"), none = parse_ok("koch");
    cr_assert(sm_augment_is_identity(&off));
    cr_assert_eq(sm_augment_scratch_floats(&off, 28, 28), 0);
    cr_assert_eq(sm_augment_scratch_floats(&none, 28, 28), 0);
    sm_image src = make_image(28, 28, 1, 4);
    sm_image x = blank_like(&src), y = blank_like(&src), z = blank_like(&src);
    float *scratch = NULL;
    uint64_t s = sm_augment_sample_seed(42, 3, 17, 1);
    apply_scratch(&a, s, &src, &x, &scratch);
    apply_scratch(&a, s, &src, &y, &scratch);
    cr_assert_eq(memcmp(x.data, y.data, bytes_of(&src)), 0);
    cr_assert_neq(memcmp(x.data, src.data, bytes_of(&src)), 0, "elastic changed nothing");
    apply_scratch(&a, sm_augment_sample_seed(42, 3, 18, 1), &src, &z, &scratch);
    cr_assert_neq(memcmp(x.data, z.data, bytes_of(&src)), 0, "another sample, the same field");
    /* with a rotation: the same rotation (drawn first), other pixels than the rotation alone */
    sm_augment rot = parse_ok("rotate=10");
    apply_scratch(&r, s, &src, &x, &scratch);
    apply_scratch(&r, s, &src, &y, &scratch);
    cr_assert_eq(memcmp(x.data, y.data, bytes_of(&src)), 0);
    sm_augment_apply(&rot, s, &src, &z, NULL);
    cr_assert_neq(memcmp(x.data, z.data, bytes_of(&src)), 0, "rotate,elastic = rotate alone");
    free(scratch);
    sm_image_free(&src);
    sm_image_free(&x);
    sm_image_free(&y);
    sm_image_free(&z);
}

Test(augment, elastic_with_a_tiny_alpha_is_the_plain_warp) {
    /* alpha 1e-9 moves every sampled point by at most 1e-9 pixels: the same bytes as the spec
     * without it, since the elastic field is drawn after every other value (at 1e-6, a value
     * within about 1e-4 of a rounding boundary on this noisy image may already round the other
     * way) */
    const char *plain[] = {"koch", "photo", "koch,photo", "crop=1:1"};
    sm_image src = make_image(17, 13, 3, 6);
    sm_image x = blank_like(&src), y = blank_like(&src);
    float *scratch = NULL;
    for (size_t i = 0; i < sizeof plain / sizeof plain[0]; i++) {
        char spec[64];
        snprintf(spec, sizeof spec, "%s,elastic=1e-9:2", plain[i]);
        sm_augment p = parse_ok(plain[i]), e = parse_ok(spec);
        for (int k = 0; k < 6; k++) {
            uint64_t s = sm_augment_sample_seed(9, 1, k, 0);
            sm_augment_apply(&p, s, &src, &x, NULL);
            apply_scratch(&e, s, &src, &y, &scratch);
            cr_assert_eq(memcmp(x.data, y.data, bytes_of(&src)), 0, "%s sample %d", spec, k);
        }
    }
    /* alone: the identity map through the bilinear path */
    sm_augment e = parse_ok("elastic=1e-9:2");
    apply_scratch(&e, 3, &src, &y, &scratch);
    cr_assert_eq(memcmp(src.data, y.data, bytes_of(&src)), 0);
    free(scratch);
    sm_image_free(&src);
    sm_image_free(&x);
    sm_image_free(&y);
}

Test(augment, elastic_field_is_bounded_smooth_and_not_zero) {
    const double alpha = 34, sigma = 4;
    int w = 28, h = 28;
    size_t n = (size_t)w * h;
    sm_augment a = parse_ok("elastic=34:4");
    sm_image src = make_image(w, h, 1, 2), dst = blank_like(&src);
    float *field = NULL;
    for (int k = 0; k < 20; k++) {
        apply_scratch(&a, sm_augment_sample_seed(1, 0, k, 0), &src, &dst, &field);
        double max = 0, sq = 0, step = 0;
        for (size_t i = 0; i < 2 * n; i++) {
            max = fmax(max, fabs(field[i]));
            sq += (double)field[i] * field[i];
        }
        for (int p = 0; p < 2; p++) /* horizontal neighbours */
            for (int yy = 0; yy < h; yy++)
                for (int xx = 0; xx + 1 < w; xx++)
                    step += fabs(field[p * n + yy * w + xx + 1] - field[p * n + yy * w + xx]);
        double rms = sqrt(sq / (2 * n)), mean_step = step / (2.0 * h * (w - 1));
        /* a mean of values in [-1, 1] scaled by alpha; the unsmoothed field would have rms
         * alpha / sqrt(3) = 19.6 and neighbour steps of about 2 alpha / 3 = 22.7 */
        cr_assert(max <= alpha, "sample %d: max |d| %g > alpha", k, max);
        cr_assert(rms > 0.02 * alpha && rms < 0.2 * alpha, "sample %d: rms %g", k, rms);
        cr_assert(mean_step < rms / sigma, "sample %d: mean step %g, rms %g", k, mean_step, rms);
    }
    free(field);
    sm_image_free(&src);
    sm_image_free(&dst);
}

Test(augment, elastic_moves_each_pixel_by_its_displacement) {
    /* value = 5 x + 3 y + 20 (x, y pixel coordinates): bilinear sampling of a plane is exact
     * inside the image, so output pixel (x, y) shows the plane at (x + dx, y + dy) */
    int w = 24, h = 20;
    sm_image src;
    cr_assert_eq(sm_image_alloc(&src, w, h, 1, NULL), SIAMESE_OK);
    for (int yy = 0; yy < h; yy++)
        for (int xx = 0; xx < w; xx++) src.data[yy * w + xx] = (uint8_t)(5 * xx + 3 * yy + 20);
    sm_image dst = blank_like(&src);
    sm_augment a = parse_ok("elastic=3:2");
    float *field = NULL;
    int checked = 0, moved = 0;
    for (int k = 0; k < 4; k++) {
        apply_scratch(&a, sm_augment_sample_seed(8, 0, k, 0), &src, &dst, &field);
        for (int yy = 0; yy < h; yy++)
            for (int xx = 0; xx < w; xx++) {
                double px = xx + field[yy * w + xx], py = yy + field[w * h + yy * w + xx];
                if (px < 0 || px > w - 1 || py < 0 || py > h - 1) continue; /* edges extended */
                double want = 5 * px + 3 * py + 20;
                int got = dst.data[yy * w + xx];
                cr_assert(fabs(got - want) <= 0.5 + 1e-4, "sample %d (%d,%d): %d vs %g", k, xx, yy,
                          got, want);
                checked++;
                moved += got != src.data[yy * w + xx];
            }
    }
    cr_assert(checked > 4 * w * h / 2, "only %d interior pixels", checked);
    cr_assert(moved > checked / 4, "only %d of %d pixels moved", moved, checked);
    free(field);
    sm_image_free(&src);
    sm_image_free(&dst);
}

/* Images smaller than the Gaussian (radius 3 sigma up to 300 pixels), the smallest and largest
 * sigma and alpha: the field stays within the scratch sm_augment_scratch_floats sizes (guard
 * floats after it untouched), finite and within alpha, and the same seed gives the same bytes. */
Test(augment, elastic_on_images_smaller_than_its_kernel_stays_in_its_scratch) {
    enum { GUARD = 64 };
    const char *specs[] = {"elastic=1000:100", "elastic=1000:0.5", "koch,photo,elastic=34:100"};
    const int sizes[][2] = {{1, 1}, {1, 5}, {5, 1}, {2, 3}, {3, 301}, {301, 2}};
    for (size_t s = 0; s < sizeof specs / sizeof specs[0]; s++) {
        sm_augment a = parse_ok(specs[s]);
        for (size_t z = 0; z < sizeof sizes / sizeof sizes[0]; z++) {
            int w = sizes[z][0], h = sizes[z][1];
            size_t floats = sm_augment_scratch_floats(&a, w, h), n = (size_t)w * h;
            float *scratch = malloc((floats + GUARD) * sizeof(float));
            cr_assert(scratch);
            for (size_t i = floats; i < floats + GUARD; i++) scratch[i] = -7.0f;
            sm_image src = make_image(w, h, 3, 5), x = blank_like(&src), y = blank_like(&src);
            uint64_t seed = sm_augment_sample_seed(3, 1, (int64_t)z, 0);
            sm_augment_apply(&a, seed, &src, &x, scratch);
            for (size_t i = 0; i < 2 * n; i++)
                cr_assert(isfinite(scratch[i]) && fabs(scratch[i]) <= a.elastic_alpha * 1.0001,
                          "%s %dx%d: d[%zu] = %g", specs[s], w, h, i, scratch[i]);
            for (size_t i = floats; i < floats + GUARD; i++)
                cr_assert_eq(scratch[i], -7.0f, "%s %dx%d: wrote past the scratch", specs[s], w, h);
            sm_augment_apply(&a, seed, &src, &y, scratch);
            cr_assert_eq(memcmp(x.data, y.data, bytes_of(&src)), 0, "%s %dx%d", specs[s], w, h);
            free(scratch);
            sm_image_free(&src);
            sm_image_free(&x);
            sm_image_free(&y);
        }
    }
}
