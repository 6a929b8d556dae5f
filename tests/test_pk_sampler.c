/* The P x K sampler and the loader's labelled batches and augmentation: classes and images per
 * batch, seeds, sides of a split, P x K beyond the data, bitwise-unchanged batches without
 * augmentation and reproducible ones with it. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "data/loader_labelled.h"
#include "data/pk_sampler.h"
#include "dataset_fixtures.h"
#include "image/image.h"
#include "test_util.h"

#define CLASSES 6
#define PER_CLASS 5

static siamese_dataset *ds;

/* Classes c0..c5 with 5 images each, except c5 with 2; images 12 x 10 grey PGM. */
static void make_dataset(void) {
    tu_temp_init();
    for (int c = 0; c < CLASSES; c++) {
        char rel[64];
        snprintf(rel, sizeof rel, "c%d", c);
        df_mkdir(tu_temp, rel);
        for (int i = 0; i < (c == CLASSES - 1 ? 2 : PER_CLASS); i++) {
            snprintf(rel, sizeof rel, "c%d/%d.pgm", c, i);
            df_write_pgm(tu_temp, rel, 12, 10, (unsigned)(c * 100 + i + 1));
        }
    }
    cr_assert_eq(siamese_dataset_open(tu_temp, NULL, &ds), SIAMESE_OK);
}

static void drop_dataset(void) {
    siamese_dataset_free(ds);
    ds = NULL;
    tu_temp_fini();
}

TestSuite(pk, .init = make_dataset, .fini = drop_dataset);

Test(pk, plan_counts_the_classes_with_k_images) {
    int batches = 0;
    /* 5 classes have >= 3 images (25 images): two batches of 4 x 3 */
    cr_assert_eq(sm_pk_plan(ds, NULL, 0, 4, 3, &batches), SIAMESE_OK, "%s",
                 siamese_dataset_errmsg(ds));
    cr_assert_eq(batches, 2);
    cr_assert_eq(sm_pk_plan(ds, NULL, 0, 6, 2, &batches), SIAMESE_OK);
    cr_assert_eq(batches, 2); /* 27 images / 12 */
    cr_assert_eq(sm_pk_plan(ds, NULL, 0, 5, 5, &batches), SIAMESE_OK);
    cr_assert_eq(batches, 1);
}

Test(pk, more_than_the_data_allows_is_an_invalid_argument) {
    int batches = 0;
    cr_assert_eq(sm_pk_plan(ds, NULL, 0, 6, 3, &batches), SIAMESE_ERR_INVALID_ARG);
    cr_assert(strstr(siamese_dataset_errmsg(ds), "only 5 such classes") != NULL, "%s",
              siamese_dataset_errmsg(ds));
    cr_assert_eq(sm_pk_plan(ds, NULL, 0, 2, 6, &batches), SIAMESE_ERR_INVALID_ARG);
    cr_assert(strstr(siamese_dataset_errmsg(ds), "only 0 such classes") != NULL);
    cr_assert_eq(sm_pk_plan(ds, NULL, 0, 1, 3, &batches), SIAMESE_ERR_INVALID_ARG);
    cr_assert_eq(sm_pk_plan(ds, NULL, 0, 3, 1, &batches), SIAMESE_ERR_INVALID_ARG);
    sm_pk_batches b;
    cr_assert_eq(sm_pk_sample(ds, NULL, 0, 6, 3, 1, 1, 0, &b), SIAMESE_ERR_INVALID_ARG);
    cr_assert_null(b.images);
}

/* Every batch: P distinct classes, K distinct images of each, on side when split. */
static void check_batches(const sm_pk_batches *b, int p, int k, int batches,
                          const siamese_split *split) {
    cr_assert_eq(b->count, batches * p * k);
    for (int bi = 0; bi < batches; bi++) {
        for (int j = 0; j < p; j++) {
            const int *im = b->images + (bi * p + j) * k, *cl = b->classes + (bi * p + j) * k;
            for (int q = 0; q < j; q++)
                cr_assert_neq(b->classes[(bi * p + q) * k], cl[0], "batch %d repeats a class", bi);
            for (int i = 0; i < k; i++) {
                cr_assert_eq(cl[i], cl[0]);
                cr_assert_eq(siamese_dataset_image_class(ds, im[i]), cl[i]);
                if (split) cr_assert_eq(siamese_split_image_side(split, im[i]), 0);
                for (int q = 0; q < i; q++) cr_assert_neq(im[q], im[i], "repeated image");
            }
        }
    }
}

Test(pk, batches_hold_p_classes_of_k_images_seeded_by_epoch) {
    sm_pk_batches a, b, c;
    cr_assert_eq(sm_pk_sample(ds, NULL, 0, 3, 2, 7, 42, 0, &a), SIAMESE_OK);
    check_batches(&a, 3, 2, 7, NULL);
    cr_assert_eq(sm_pk_sample(ds, NULL, 0, 3, 2, 7, 42, 0, &b), SIAMESE_OK);
    cr_assert_eq(memcmp(a.images, b.images, (size_t)a.count * sizeof(int)), 0);
    sm_pk_batches_free(&b);
    cr_assert_eq(sm_pk_sample(ds, NULL, 0, 3, 2, 7, 42, 1, &b), SIAMESE_OK);
    cr_assert_eq(sm_pk_sample(ds, NULL, 0, 3, 2, 7, 43, 0, &c), SIAMESE_OK);
    cr_assert_neq(memcmp(a.images, b.images, (size_t)a.count * sizeof(int)), 0, "same epochs");
    cr_assert_neq(memcmp(a.images, c.images, (size_t)a.count * sizeof(int)), 0, "same seeds");
    /* over 7 batches of 3 classes every eligible class (all 6 have >= 2 images) comes up */
    int seen[CLASSES] = {0};
    for (int i = 0; i < a.count; i++) seen[a.classes[i]] = 1;
    for (int k = 0; k < CLASSES; k++) cr_assert(seen[k], "class %d never drawn", k);
    sm_pk_batches_free(&a);
    sm_pk_batches_free(&b);
    sm_pk_batches_free(&c);
}

Test(pk, only_the_training_side_of_a_split) {
    siamese_split *split = NULL;
    cr_assert_eq(siamese_split_create(ds, SIAMESE_SPLIT_IMAGES, NULL, 0.6, 5, &split), SIAMESE_OK,
                 "%s", siamese_dataset_errmsg(ds));
    sm_pk_batches a;
    cr_assert_eq(sm_pk_sample(ds, split, 0, 2, 2, 10, 1, 0, &a), SIAMESE_OK, "%s",
                 siamese_dataset_errmsg(ds));
    check_batches(&a, 2, 2, 10, split);
    sm_pk_batches_free(&a);
    siamese_split_free(split);
}

/* ---- loader: labelled batches and augmentation */

static siamese_loader_params grey_params(int batch) {
    siamese_loader_params p = siamese_loader_default_params();
    p.channels = 1;
    p.height = 10;
    p.width = 12;
    p.batch_size = batch;
    p.seed = 9;
    return p;
}

#define CHW (10 * 12)

static void direct_tensor(int image, float *out) {
    siamese_image_options o = siamese_image_default_options();
    o.channels = 1;
    o.width = 12;
    o.height = 10;
    siamese_image im;
    cr_assert_eq(siamese_dataset_load_image(ds, image, &o, &im), SIAMESE_OK);
    cr_assert_eq(sm_image_to_tensor(&im, NULL, NULL, out), SIAMESE_OK);
    siamese_image_free(&im);
}

Test(pk, labelled_loader_serves_the_images_in_order_with_classes) {
    sm_pk_batches b;
    cr_assert_eq(sm_pk_sample(ds, NULL, 0, 2, 3, 3, 7, 0, &b), SIAMESE_OK);
    siamese_loader_params p = grey_params(6);
    siamese_loader *ld = NULL;
    cr_assert_eq(sm_loader_create_labelled(ds, b.images, b.classes, b.count, &p, NULL, &ld),
                 SIAMESE_OK, "%s", siamese_dataset_errmsg(ds));
    cr_assert_eq(siamese_loader_batch_count(ld), 3);
    cr_assert_eq(siamese_loader_start_epoch(ld, 0), SIAMESE_OK);
    float want[CHW];
    int index = 0;
    for (siamese_batch batch;;) {
        cr_assert_eq(siamese_loader_next(ld, &batch), SIAMESE_OK);
        if (batch.n == 0) break;
        cr_assert_eq(batch.n, 6);
        cr_assert_null(batch.second);
        for (int j = 0; j < batch.n; j++, index++) {
            direct_tensor(b.images[index], want);
            cr_assert_eq(memcmp(batch.images + j * CHW, want, sizeof want), 0, "image %d", index);
            cr_assert_eq(batch.labels[j], (float)b.classes[index]);
        }
    }
    cr_assert_eq(index, b.count);
    /* a new epoch's batches replace the images */
    sm_pk_batches next;
    cr_assert_eq(sm_pk_sample(ds, NULL, 0, 2, 3, 3, 7, 1, &next), SIAMESE_OK);
    cr_assert_eq(sm_loader_set_labelled(ld, next.images, next.classes, next.count), SIAMESE_OK);
    cr_assert_eq(siamese_loader_start_epoch(ld, 1), SIAMESE_OK);
    siamese_batch batch;
    cr_assert_eq(siamese_loader_next(ld, &batch), SIAMESE_OK);
    direct_tensor(next.images[0], want);
    cr_assert_eq(memcmp(batch.images, want, sizeof want), 0);
    siamese_loader_free(ld);
    sm_pk_batches_free(&b);
    sm_pk_batches_free(&next);
}

/* All batches of epoch, concatenated (pairs: first images then second images per batch). */
static float *epoch_floats(const char *augment, int prefetch, int epoch, size_t *count) {
    siamese_pairs pairs;
    cr_assert_eq(siamese_pairs_recipe(ds, NULL, 0, 2, 1, &pairs), SIAMESE_OK);
    siamese_loader_params p = grey_params(4);
    p.augment = augment;
    p.prefetch = prefetch;
    siamese_loader *ld = NULL;
    cr_assert_eq(siamese_loader_create(ds, &pairs, &p, &ld), SIAMESE_OK, "%s",
                 siamese_dataset_errmsg(ds));
    cr_assert_eq(siamese_loader_start_epoch(ld, epoch), SIAMESE_OK);
    float *all = malloc((size_t)pairs.count * 2 * CHW * sizeof(float));
    size_t at = 0;
    for (siamese_batch b;;) {
        cr_assert_eq(siamese_loader_next(ld, &b), SIAMESE_OK);
        if (b.n == 0) break;
        memcpy(all + at, b.images, (size_t)b.n * 2 * CHW * sizeof(float));
        at += (size_t)b.n * 2 * CHW;
    }
    *count = at;
    siamese_loader_free(ld);
    siamese_pairs_free(&pairs);
    return all;
}

Test(pk, loader_augmentation_is_seeded_and_absent_when_not_asked) {
    size_t n0, n1, n2, n3, n4, n5;
    float *plain = epoch_floats(NULL, 1, 0, &n0);
    float *none = epoch_floats("none", 0, 0, &n1);
    cr_assert_eq(n0, n1);
    cr_assert_eq(memcmp(plain, none, n0 * sizeof(float)), 0, "'none' changed the batches");
    float *koch = epoch_floats("koch,flip", 1, 0, &n2);
    float *again = epoch_floats("koch,flip", 0, 0, &n3); /* synchronous: same bytes */
    float *later = epoch_floats("koch,flip", 1, 1, &n4);
    float *plain1 = epoch_floats(NULL, 1, 1, &n5);
    cr_assert_eq(memcmp(koch, again, n2 * sizeof(float)), 0, "augmentation not reproducible");
    cr_assert_neq(memcmp(koch, plain, n2 * sizeof(float)), 0, "koch changed nothing");
    /* epoch 1 shuffles differently; compare against its own plain batches */
    cr_assert_neq(memcmp(later, plain1, n4 * sizeof(float)), 0);
    free(plain);
    free(none);
    free(koch);
    free(again);
    free(later);
    free(plain1);
}

Test(pk, loader_rejects_a_bad_augmentation_spec) {
    siamese_pairs pairs;
    cr_assert_eq(siamese_pairs_recipe(ds, NULL, 0, 2, 1, &pairs), SIAMESE_OK);
    siamese_loader_params p = grey_params(4);
    p.augment = "koch,spin=3";
    siamese_loader *ld = NULL;
    cr_assert_eq(siamese_loader_create(ds, &pairs, &p, &ld), SIAMESE_ERR_INVALID_ARG);
    cr_assert(strstr(siamese_loader_errmsg(ld), "spin=3") != NULL, "%s", siamese_loader_errmsg(ld));
    siamese_loader_free(ld);
    siamese_pairs_free(&pairs);
}
