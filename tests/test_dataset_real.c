/* Integration on the real datasets in ../shared/data: AT&T faces (PGM), the Stanford Dogs subset
 * (JPEG zip, unzipped here), Fashion-MNIST and MNIST (IDX gz): counts, pairs, seeding, loading. */
/* ctest-label: data */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "dataset_fixtures.h"
#include "siamese.h"
#include "test_util.h"

static int same_pairs(const siamese_pairs *x, const siamese_pairs *y) {
    return x->count == y->count && !memcmp(x->items, y->items, (size_t)x->count * sizeof *x->items);
}

static void expect_per_class(siamese_dataset *ds, int classes, int per_class) {
    cr_assert_eq(siamese_dataset_class_count(ds), classes);
    int *count = calloc((size_t)classes, sizeof *count);
    for (int i = 0; i < siamese_dataset_image_count(ds); i++)
        count[siamese_dataset_image_class(ds, i)]++;
    for (int c = 0; c < classes; c++)
        cr_assert_eq(count[c], per_class, "class %s has %d images",
                     siamese_dataset_class_name(ds, c), count[c]);
    free(count);
}

/* The recipe's pairs: k per class each way, reproducible, all guarantees held. */
static void expect_recipe_pairs(siamese_dataset *ds, int want, siamese_pairs *out) {
    siamese_pairs again, other;
    cr_assert_eq(siamese_pairs_recipe(ds, NULL, 0, 3, 2024, out), SIAMESE_OK, "%s",
                 siamese_dataset_errmsg(ds));
    cr_assert_eq(siamese_pairs_recipe(ds, NULL, 0, 3, 2024, &again), SIAMESE_OK);
    cr_assert_eq(siamese_pairs_recipe(ds, NULL, 0, 3, 2025, &other), SIAMESE_OK);
    cr_assert_eq(out->count, want);
    cr_assert(same_pairs(out, &again), "same seed, different pairs");
    cr_assert_not(same_pairs(out, &other), "different seeds, same pairs");
    int similar = 0;
    for (int i = 0; i < out->count; i++) {
        const siamese_pair *p = &out->items[i];
        int ca = siamese_dataset_image_class(ds, p->a), cb = siamese_dataset_image_class(ds, p->b);
        cr_assert_neq(p->a, p->b);
        cr_assert_eq(ca == cb, p->label == 0, "pair %d: classes %d %d label %d", i, ca, cb,
                     p->label);
        similar += p->label == 0;
    }
    cr_assert_eq(similar, want / 2);
    siamese_pairs_free(&again);
    siamese_pairs_free(&other);
}

/* Loads a few batches through the loader (prefetching) and checks their shape and range. */
static void load_some(siamese_dataset *ds, const siamese_pairs *pairs, int count, int channels,
                      int size) {
    siamese_pairs some = {pairs->items, count < pairs->count ? count : pairs->count};
    siamese_loader_params p = siamese_loader_default_params();
    p.channels = channels;
    p.width = p.height = size;
    p.batch_size = 8;
    siamese_loader *ld = NULL;
    cr_assert_eq(siamese_loader_create(ds, &some, &p, &ld), SIAMESE_OK, "%s",
                 siamese_dataset_errmsg(ds));
    cr_assert_eq(siamese_dataset_skipped_count(ds), 0);
    cr_assert_eq(siamese_loader_start_epoch(ld, 0), SIAMESE_OK);
    siamese_batch b;
    int pairs_seen = 0;
    size_t chw = (size_t)channels * size * size;
    for (;;) {
        cr_assert_eq(siamese_loader_next(ld, &b), SIAMESE_OK);
        if (!b.n) break;
        pairs_seen += b.n;
        double sum = 0;
        for (size_t i = 0; i < 2 * (size_t)b.n * chw; i++) {
            cr_assert(b.images[i] >= 0.0f && b.images[i] <= 1.0f);
            sum += b.images[i];
        }
        cr_assert(sum > 0.05 * 2 * b.n * chw, "batch is nearly black");
    }
    cr_assert_eq(pairs_seen, some.count);
    siamese_loader_free(ld);
}

Test(real_data, att_faces) {
    const char *root = tu_data_path("att_faces");
    siamese_dataset *ds = df_open(root, NULL, SIAMESE_OK);
    cr_assert_eq(siamese_dataset_get_kind(ds), SIAMESE_DATASET_FOLDERS);
    /* training/ and testing/ are merged; classes are named by group: 37 + 3 subjects */
    expect_per_class(ds, 40, 10);
    cr_assert_eq(siamese_dataset_image_count(ds), 400);
    cr_assert_str_eq(siamese_dataset_class_name(ds, 0), "testing/s5");
    cr_assert_str_eq(siamese_dataset_class_name(ds, 3), "training/s1");
    cr_assert_str_eq(siamese_dataset_image_name(ds, 0), "testing/s5/1.pgm");
    cr_assert_str_eq(siamese_dataset_image_name(ds, 1), "testing/s5/10.pgm");
    cr_assert_eq(siamese_dataset_verify(ds, NULL), SIAMESE_OK);
    cr_assert_eq(siamese_dataset_skipped_count(ds), 0);
    siamese_pairs pairs;
    expect_recipe_pairs(ds, 240, &pairs);
    load_some(ds, &pairs, 240, 1, 100);
    /* the 80/20 split over pairs */
    siamese_split *s = NULL;
    siamese_pairs train;
    cr_assert_eq(siamese_split_create(ds, SIAMESE_SPLIT_PAIRS, &pairs, 0.8, 1, &s), SIAMESE_OK);
    cr_assert_eq(siamese_split_pairs(s, 0, &train), SIAMESE_OK);
    cr_assert_eq(train.count, 192);
    siamese_pairs_free(&train);
    siamese_split_free(s);
    siamese_pairs_free(&pairs);
    siamese_dataset_free(ds);
    /* one group alone is a dataset too */
    ds = df_open(tu_data_path("att_faces/training"), NULL, SIAMESE_OK);
    expect_per_class(ds, 37, 10);
    siamese_dataset_free(ds);
}

Test(real_data, stanford_dogs_subset) {
    char *dir = tu_make_temp_dir();
    char cmd[8192];
    snprintf(cmd, sizeof cmd, "unzip -q '%s' -d '%s'",
             tu_data_path("stanford_dogs_224/stanford_dogs_224_subset40.zip"), dir);
    cr_assert_eq(system(cmd), 0, "unzip failed: %s", cmd);
    siamese_dataset *ds = df_open(dir, NULL, SIAMESE_OK); /* the root holds only Images/ */
    expect_per_class(ds, 120, 40);
    cr_assert_eq(siamese_dataset_image_count(ds), 4800);
    cr_assert_str_eq(siamese_dataset_class_name(ds, 0), "n02085620-Chihuahua");
    cr_assert_str_eq(siamese_dataset_image_name(ds, 0),
                     "Images/n02085620-Chihuahua/n02085620_10074.jpg");
    siamese_pairs pairs;
    expect_recipe_pairs(ds, 720, &pairs); /* 120 classes x (3 similar + 3 dissimilar) */
    /* pairs split as the recipe does: int(0.8 * 720) = 576 train, 144 test; recorded and reloaded */
    siamese_split *s = NULL, *r = NULL;
    cr_assert_eq(siamese_split_create(ds, SIAMESE_SPLIT_PAIRS, &pairs, 0.8, 7, &s), SIAMESE_OK);
    char path[4200];
    snprintf(path, sizeof path, "%s/split.json", dir);
    cr_assert_eq(siamese_split_save(s, path), SIAMESE_OK);
    cr_assert_eq(siamese_split_load(ds, path, &r), SIAMESE_OK, "%s", siamese_dataset_errmsg(ds));
    siamese_pairs tr, tr2, te;
    cr_assert_eq(siamese_split_pairs(s, 0, &tr), SIAMESE_OK);
    cr_assert_eq(siamese_split_pairs(r, 0, &tr2), SIAMESE_OK);
    cr_assert_eq(siamese_split_pairs(r, 1, &te), SIAMESE_OK);
    cr_assert_eq(tr.count, 576);
    cr_assert_eq(te.count, 144);
    cr_assert(same_pairs(&tr, &tr2));
    /* the recipe's input: RGB 256x256, on a few batches */
    load_some(ds, &tr, 48, 3, 256);
    /* class split: test breeds never seen in training */
    siamese_split *cs = NULL;
    cr_assert_eq(siamese_split_create(ds, SIAMESE_SPLIT_CLASSES, NULL, 0.8, 7, &cs), SIAMESE_OK);
    siamese_pairs ctest;
    cr_assert_eq(siamese_pairs_recipe(ds, cs, 1, 3, 7, &ctest), SIAMESE_OK);
    cr_assert_eq(ctest.count, 24 * 6);
    siamese_pairs_free(&ctest);
    siamese_split_free(cs);
    siamese_pairs_free(&tr);
    siamese_pairs_free(&tr2);
    siamese_pairs_free(&te);
    siamese_split_free(s);
    siamese_split_free(r);
    siamese_pairs_free(&pairs);
    siamese_dataset_free(ds);
    tu_rmtree(dir);
    free(dir);
}

Test(real_data, fashion_mnist) {
    siamese_dataset *ds = df_open(tu_data_path("fashion_mnist"), NULL, SIAMESE_OK);
    cr_assert_eq(siamese_dataset_get_kind(ds), SIAMESE_DATASET_IDX);
    cr_assert_eq(siamese_dataset_image_count(ds), 70000);
    expect_per_class(ds, 10, 7000);
    int want_train[4] = {9, 0, 0, 3}, want_test[4] = {9, 2, 1, 1};
    for (int i = 0; i < 4; i++) {
        cr_assert_eq(siamese_dataset_image_class(ds, i), want_train[i]);
        cr_assert_eq(siamese_dataset_image_class(ds, 60000 + i), want_test[i]);
    }
    cr_assert_str_eq(siamese_dataset_image_name(ds, 60000), "t10k#0");
    siamese_pairs pairs;
    expect_recipe_pairs(ds, 60, &pairs);
    load_some(ds, &pairs, 60, 1, 28);
    siamese_pairs_free(&pairs);
    siamese_dataset_free(ds);
    siamese_dataset_params p = siamese_dataset_default_params();
    p.idx_part = "t10k";
    cr_assert_eq(siamese_dataset_open(tu_data_path("fashion_mnist"), &p, &ds), SIAMESE_OK);
    expect_per_class(ds, 10, 1000);
    siamese_dataset_free(ds);
}

Test(real_data, mnist) {
    siamese_dataset *ds = df_open(tu_data_path("mnist"), NULL, SIAMESE_OK);
    cr_assert_eq(siamese_dataset_image_count(ds), 20000);
    cr_assert_eq(siamese_dataset_class_count(ds), 10);
    cr_assert_str_eq(siamese_dataset_image_name(ds, 0), "train10k#0");
    cr_assert_eq(siamese_dataset_image_class(ds, 0), 5); /* the first MNIST training digit */
    siamese_dataset_free(ds);
}
