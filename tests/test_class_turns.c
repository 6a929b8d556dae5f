/* Rotated classes (siamese train --class-rotations): exact quarter turns of an image, the P x K
 * batches' turned classes (one seeded turn per class and batch) and the loader turning each image
 * by its class's turn before anything else. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "data/loader_labelled.h"
#include "data/pk_sampler.h"
#include "dataset_fixtures.h"
#include "image/image.h"
#include "test_util.h"

#define SIDE 8
#define CHW (SIDE * SIDE)

static siamese_dataset *ds;

/* Classes c0..c3 with 4 images each, 8 x 8 grey PGM. */
static void make_dataset(void) {
    tu_temp_init();
    for (int c = 0; c < 4; c++) {
        char rel[64];
        snprintf(rel, sizeof rel, "c%d", c);
        df_mkdir(tu_temp, rel);
        for (int i = 0; i < 4; i++) {
            snprintf(rel, sizeof rel, "c%d/%d.pgm", c, i);
            df_write_pgm(tu_temp, rel, SIDE, SIDE, (unsigned)(c * 100 + i + 1));
        }
    }
    cr_assert_eq(siamese_dataset_open(tu_temp, NULL, &ds), SIAMESE_OK);
}

static void drop_dataset(void) {
    siamese_dataset_free(ds);
    ds = NULL;
    tu_temp_fini();
}

TestSuite(turns, .init = make_dataset, .fini = drop_dataset);

/* ---- sm_image_turn */

Test(turns, a_quarter_turn_is_counter_clockwise_and_four_are_the_identity) {
    /* 3 wide, 2 high:  1 2 3
     *                  4 5 6   turned counter-clockwise by 90 degrees: 3 6 / 2 5 / 1 4 */
    uint8_t px[6] = {1, 2, 3, 4, 5, 6}, out[6], back[6];
    sm_image src = {3, 2, 1, px}, dst = {0, 0, 0, out}, again = {0, 0, 0, back};
    sm_image_turn(&src, 1, &dst);
    cr_assert_eq(dst.width, 2);
    cr_assert_eq(dst.height, 3);
    const uint8_t want1[6] = {3, 6, 2, 5, 1, 4};
    cr_assert_eq(memcmp(out, want1, 6), 0);
    sm_image_turn(&src, 2, &dst);
    const uint8_t want2[6] = {6, 5, 4, 3, 2, 1};
    cr_assert_eq(dst.width, 3);
    cr_assert_eq(memcmp(out, want2, 6), 0);
    sm_image_turn(&src, 3, &dst);
    const uint8_t want3[6] = {4, 1, 5, 2, 6, 3};
    cr_assert_eq(dst.width, 2);
    cr_assert_eq(memcmp(out, want3, 6), 0);
    /* three turns and one more give the image back; so do 4 and -4 */
    sm_image_turn(&dst, 1, &again);
    cr_assert_eq(again.width, 3);
    cr_assert_eq(memcmp(back, px, 6), 0);
    sm_image_turn(&src, 4, &dst);
    cr_assert_eq(memcmp(out, px, 6), 0);
    sm_image_turn(&src, -1, &dst);
    cr_assert_eq(memcmp(out, want3, 6), 0);
}

Test(turns, channels_move_together) {
    uint8_t px[8] = {1, 2, 3, 4, 5, 6, 7, 8}, out[8]; /* 2 x 2, 2 channels */
    sm_image src = {2, 2, 2, px}, dst = {0, 0, 0, out};
    sm_image_turn(&src, 1, &dst);
    const uint8_t want[8] = {3, 4, 7, 8, 1, 2, 5, 6};
    cr_assert_eq(memcmp(out, want, 8), 0);
}

/* ---- sm_pk_turn_classes */

Test(turns, each_class_of_a_batch_gets_one_seeded_turn) {
    sm_pk_batches a, b;
    int batches = 40, k = 2;
    cr_assert_eq(sm_pk_sample(ds, NULL, 0, 2, k, batches, 5, 0, &a), SIAMESE_OK);
    cr_assert_eq(sm_pk_sample(ds, NULL, 0, 2, k, batches, 5, 0, &b), SIAMESE_OK);
    int *base = malloc((size_t)a.count * sizeof *base);
    memcpy(base, a.classes, (size_t)a.count * sizeof *base);
    sm_pk_turn_classes(&a, k, 4, 5, 0);
    sm_pk_turn_classes(&b, k, 4, 5, 0);
    cr_assert_eq(memcmp(a.classes, b.classes, (size_t)a.count * sizeof *a.classes), 0,
                 "the same seed and epoch give other turns");
    int seen[4] = {0};
    for (int i = 0; i < a.count; i++) {
        cr_assert_eq(a.classes[i] / 4, base[i], "image %d lost its class", i);
        seen[a.classes[i] % 4]++;
        if (i % k) cr_assert_eq(a.classes[i], a.classes[i - 1], "a class's images differ in turn");
    }
    for (int r = 0; r < 4; r++) cr_assert_gt(seen[r], 0, "turn %d never drawn", r);
    /* another epoch draws other turns */
    sm_pk_batches_free(&b);
    cr_assert_eq(sm_pk_sample(ds, NULL, 0, 2, k, batches, 5, 0, &b), SIAMESE_OK);
    sm_pk_turn_classes(&b, k, 4, 5, 1);
    cr_assert_neq(memcmp(a.classes, b.classes, (size_t)a.count * sizeof *a.classes), 0);
    /* two turns: classes 2c and 2c + 1 */
    sm_pk_batches_free(&b);
    cr_assert_eq(sm_pk_sample(ds, NULL, 0, 2, k, batches, 5, 0, &b), SIAMESE_OK);
    sm_pk_turn_classes(&b, k, 2, 5, 0);
    for (int i = 0; i < b.count; i++) cr_assert_eq(b.classes[i] / 2, base[i]);
    free(base);
    sm_pk_batches_free(&a);
    sm_pk_batches_free(&b);
}

/* ---- the loader */

static siamese_loader_params grey_params(int batch) {
    siamese_loader_params p = siamese_loader_default_params();
    p.channels = 1;
    p.height = SIDE;
    p.width = SIDE;
    p.batch_size = batch;
    return p;
}

/* The image as the loader gives it without turns, turned by q quarter turns, as a tensor. */
static void turned_tensor(int image, int q, float *out) {
    siamese_image_options o = siamese_image_default_options();
    o.channels = 1;
    o.width = o.height = SIDE;
    siamese_image im;
    cr_assert_eq(siamese_dataset_load_image(ds, image, &o, &im), SIAMESE_OK);
    uint8_t px[CHW];
    sm_image t = {0, 0, 0, px};
    sm_image_turn(&im, q, &t);
    cr_assert_eq(sm_image_to_tensor(&t, NULL, NULL, out), SIAMESE_OK);
    siamese_image_free(&im);
}

Test(turns, the_loader_turns_each_image_by_its_class_turn) {
    sm_pk_batches b;
    cr_assert_eq(sm_pk_sample(ds, NULL, 0, 2, 2, 12, 3, 0, &b), SIAMESE_OK);
    sm_pk_turn_classes(&b, 2, 4, 3, 0);
    siamese_loader_params p = grey_params(4);
    siamese_loader *ld = NULL;
    cr_assert_eq(sm_loader_create_labelled(ds, b.images, b.classes, b.count, &p, NULL, &ld),
                 SIAMESE_OK);
    cr_assert_eq(sm_loader_set_class_turns(ld, 4), SIAMESE_OK);
    cr_assert_eq(siamese_loader_start_epoch(ld, 0), SIAMESE_OK);
    float want[CHW], plain[CHW];
    int index = 0, turned = 0;
    for (siamese_batch batch;;) {
        cr_assert_eq(siamese_loader_next(ld, &batch), SIAMESE_OK);
        if (batch.n == 0) break;
        for (int j = 0; j < batch.n; j++, index++) {
            int q = b.classes[index] % 4;
            turned_tensor(b.images[index], q, want);
            cr_assert_eq(memcmp(batch.images + j * CHW, want, sizeof want), 0, "image %d", index);
            cr_assert_eq(batch.labels[j], (float)b.classes[index]);
            turned_tensor(b.images[index], 0, plain);
            turned += q != 0 && memcmp(want, plain, sizeof want) != 0;
        }
    }
    cr_assert_eq(index, b.count);
    cr_assert_gt(turned, 0, "no image was turned");
    siamese_loader_free(ld);
    sm_pk_batches_free(&b);
}

Test(turns, the_loader_refuses_quarter_turns_of_a_non_square_input_and_odd_counts) {
    sm_pk_batches b;
    cr_assert_eq(sm_pk_sample(ds, NULL, 0, 2, 2, 2, 3, 0, &b), SIAMESE_OK);
    siamese_loader_params p = grey_params(4);
    p.width = 6;
    siamese_loader *ld = NULL;
    cr_assert_eq(sm_loader_create_labelled(ds, b.images, b.classes, b.count, &p, NULL, &ld),
                 SIAMESE_OK);
    cr_assert_eq(sm_loader_set_class_turns(ld, 4), SIAMESE_ERR_INVALID_ARG);
    cr_assert(strstr(siamese_loader_errmsg(ld), "square") != NULL, "%s", siamese_loader_errmsg(ld));
    cr_assert_eq(sm_loader_set_class_turns(ld, 3), SIAMESE_ERR_INVALID_ARG);
    cr_assert_eq(sm_loader_set_class_turns(ld, 2), SIAMESE_OK, "half turns keep the shape");
    siamese_loader_free(ld);
    sm_pk_batches_free(&b);
}
