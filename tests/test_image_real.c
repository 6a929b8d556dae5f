/* Real Stanford Dogs photos from the shared data sets: the exact path matches Pillow's resize, and
 * the JPEG fast path (DCT-scaled decoding) stays close to the exact path. */
/* ctest-label: data */
#include <criterion/criterion.h>
#include <dirent.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "image_fixtures.h"

#define CLASS_DIR "Images/n02085620-Chihuahua"

typedef struct fast_stats {
    int max_diff;
    double mean_diff;
    int scaled_side; /* side of the DCT-scaled decode, 224 when not scaled */
} fast_stats;

static fast_stats compare_paths(const char *dir, int fast, int target) {
    fast_stats s = {0, 0.0, 0};
    char folder[4200];
    snprintf(folder, sizeof folder, "%s/" CLASS_DIR, dir);
    DIR *d = opendir(folder);
    cr_assert_not_null(d);
    struct dirent *e;
    long count = 0;
    double total = 0;
    while ((e = readdir(d))) {
        if (!strstr(e->d_name, ".jpg")) continue;
        char path[4600];
        snprintf(path, sizeof path, "%s/%s", folder, e->d_name);
        size_t size;
        uint8_t *data = tu_read_file(path, &size);
        cr_assert_not_null(data);
        sm_image exact, quick, raw;
        sm_image_options o = if_opts(3, target, target);
        cr_assert_eq(sm_image_load_memory(data, size, path, &o, &exact, NULL), SIAMESE_OK);
        o.fast_jpeg = fast;
        cr_assert_eq(sm_image_load_memory(data, size, path, &o, &quick, NULL), SIAMESE_OK);
        cr_assert_eq(sm_image_decode(data, size, &o, &raw, NULL), SIAMESE_OK);
        s.scaled_side = raw.width;
        int diff = if_max_diff(&exact, &quick);
        cr_assert_geq(diff, 0);
        if (diff > s.max_diff) s.max_diff = diff;
        for (size_t i = 0; i < (size_t)target * target * 3; i++)
            total += abs((int)exact.data[i] - (int)quick.data[i]);
        count += (long)target * target * 3;
        sm_image_free(&exact);
        sm_image_free(&quick);
        sm_image_free(&raw);
        free(data);
    }
    closedir(d);
    cr_assert_gt(count, 0);
    s.mean_diff = total / (double)count;
    return s;
}

Test(image_jpeg_fast, safe_mode_within_3_levels) {
    char *dir = tu_make_temp_dir();
    cr_assert_not_null(dir);
    cr_assert_eq(if_unzip_dogs(dir, CLASS_DIR "/*"), 0);
    /* 224 / 2 = 112 >= 16 x 7: scaled by 1/2; 8 needs 128: not scaled */
    int targets[] = {7, 6, 5, 3};
    for (int i = 0; i < 4; i++) {
        fast_stats s = compare_paths(dir, 1, targets[i]);
        cr_expect_leq(s.max_diff, 3, "target %d: max diff %d", targets[i], s.max_diff);
        cr_expect_lt(s.scaled_side, 224, "target %d was not DCT-scaled", targets[i]);
    }
    fast_stats s = compare_paths(dir, 1, 8);
    cr_expect_eq(s.scaled_side, 224);
    cr_expect_eq(s.max_diff, 0);
    tu_rmtree(dir);
    free(dir);
}

Test(image_jpeg_fast, aggressive_mode_is_close) {
    char *dir = tu_make_temp_dir();
    cr_assert_not_null(dir);
    cr_assert_eq(if_unzip_dogs(dir, CLASS_DIR "/*"), 0);
    int targets[] = {56, 28, 14}; /* scaled image >= 2x the target: 1/2, 1/4, 1/8 */
    int scaled[] = {112, 56, 28};
    for (int i = 0; i < 3; i++) {
        fast_stats s = compare_paths(dir, 2, targets[i]);
        cr_expect_eq(s.scaled_side, scaled[i], "target %d", targets[i]);
        cr_expect_leq(s.max_diff, 20, "target %d: max diff %d", targets[i], s.max_diff);
        cr_expect_lt(s.mean_diff, 2.0, "target %d: mean diff %.3f", targets[i], s.mean_diff);
    }
    /* the fast path never applies when the target is not smaller than half the image */
    fast_stats s = compare_paths(dir, 2, 100); /* 112 < 2 x 100 */
    cr_expect_eq(s.scaled_side, 224);
    cr_expect_eq(s.max_diff, 0);
    tu_rmtree(dir);
    free(dir);
}

/* Real photos: Pillow's convert("RGB").resize((256, 256), BILINEAR), compared by hash and samples. */
Test(image_resize, stanford_dogs_match_pillow) {
    static char lines[8][256];
    int n = if_manifest(IF_DIR "/dogs.txt", lines, 8);
    cr_assert_geq(n, 3);
    char *dir = tu_make_temp_dir();
    cr_assert_not_null(dir);
    for (int i = 0; i < n; i++) {
        char member[200], hash[32];
        int consumed;
        cr_assert_eq(sscanf(lines[i], "%199s %31s%n", member, hash, &consumed), 2);
        cr_assert_eq(if_unzip_dogs(dir, member), 0, "cannot unzip %s", member);
        char path[4400];
        snprintf(path, sizeof path, "%s/%s", dir, member);
        sm_image img;
        sm_err err;
        sm_image_options o = if_opts(3, 256, 256);
        cr_assert_eq(sm_image_load_file(path, &o, &img, &err), SIAMESE_OK, "%s", err.msg);
        char got[32];
        snprintf(got, sizeof got, "%016" PRIx64, if_fnv1a64(img.data, (size_t)256 * 256 * 3));
        cr_expect_str_eq(got, hash, "%s: hash of our 256x256 differs from Pillow's", member);
        const char *p = lines[i] + consumed;
        int x, y, r, g, b, used;
        while (sscanf(p, " %d,%d,%d,%d,%d%n", &x, &y, &r, &g, &b, &used) == 5) {
            const uint8_t *q = img.data + ((size_t)y * 256 + x) * 3;
            cr_expect(q[0] == r && q[1] == g && q[2] == b, "%s pixel (%d,%d)", member, x, y);
            p += used;
        }
        sm_image_free(&img);
    }
    tu_rmtree(dir);
    free(dir);
}
