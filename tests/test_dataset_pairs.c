/* Pair samplers and splits: the recipe's counts and guarantees, seeding, and split records. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "dataset_fixtures.h"
#include "siamese.h"
#include "test_util.h"

static char *tmp;
static siamese_dataset *ds;

/* 7 classes: cls_00..cls_05 with 10 images, cls_06 with 4 (fewer than 2k for k = 3). */
static void setup(void) {
    tmp = tu_make_temp_dir();
    cr_assert_not_null(tmp);
    df_make_classes(tmp, 6, 10, 3, 3);
    df_mkdir(tmp, "cls_06");
    for (int j = 0; j < 4; j++) {
        char f[64];
        snprintf(f, sizeof f, "cls_06/x%d.pgm", j);
        df_write_pgm(tmp, f, 3, 3, (unsigned)(900 + j));
    }
    ds = df_open(tmp, NULL, SIAMESE_OK);
}

static void teardown(void) {
    siamese_dataset_free(ds);
    tu_rmtree(tmp);
    free(tmp);
}

TestSuite(pairs, .init = setup, .fini = teardown);

static int same_pairs(const siamese_pairs *x, const siamese_pairs *y) {
    return x->count == y->count && !memcmp(x->items, y->items, (size_t)x->count * sizeof *x->items);
}

static int class_of(int image) { return siamese_dataset_image_class(ds, image); }

Test(pairs, recipe_counts_and_guarantees) {
    siamese_pairs p;
    cr_assert_eq(siamese_pairs_recipe(ds, NULL, 0, 3, 7, &p), SIAMESE_OK, "%s",
                 siamese_dataset_errmsg(ds));
    cr_assert_eq(p.count, 7 * 6);
    int similar_per_class[7] = {0};
    for (int i = 0; i < p.count; i++) {
        const siamese_pair *q = &p.items[i];
        cr_assert_eq(q->label, i < 21 ? 0 : 1, "similar pairs first, then dissimilar");
        cr_assert_neq(q->a, q->b, "pair %d uses one image twice", i);
        if (q->label == 0) {
            cr_assert_eq(class_of(q->a), class_of(q->b), "similar pair %d crosses classes", i);
            similar_per_class[class_of(q->a)]++;
        } else {
            cr_assert_neq(class_of(q->a), class_of(q->b), "dissimilar pair %d in one class", i);
        }
    }
    for (int c = 0; c < 7; c++) cr_assert_eq(similar_per_class[c], 3, "class %d", c);
    /* classes with >= 6 images: their 6 similar images are all distinct, as in the tutorial */
    for (int c = 0; c < 6; c++) {
        int seen[64] = {0};
        for (int m = 0; m < 3; m++) {
            const siamese_pair *q = &p.items[c * 3 + m];
            cr_assert_eq(seen[q->a]++, 0);
            cr_assert_eq(seen[q->b]++, 0);
        }
    }
    /* the 3 dissimilar pairs of one draw use 3 distinct images of each of its two classes */
    for (int c = 0; c < 7; c++) {
        const siamese_pair *d = &p.items[21 + 3 * c];
        for (int m = 1; m < 3; m++) {
            cr_assert_eq(class_of(d[m].a), class_of(d[0].a));
            cr_assert_eq(class_of(d[m].b), class_of(d[0].b));
        }
        if (class_of(d[0].a) != 6)
            cr_assert(d[0].a != d[1].a && d[1].a != d[2].a && d[0].a != d[2].a);
    }
    siamese_pairs_free(&p);
}

Test(pairs, recipe_same_seed_same_pairs_other_seed_differs) {
    siamese_pairs a, b, c;
    cr_assert_eq(siamese_pairs_recipe(ds, NULL, 0, 3, 42, &a), SIAMESE_OK);
    cr_assert_eq(siamese_pairs_recipe(ds, NULL, 0, 3, 42, &b), SIAMESE_OK);
    cr_assert_eq(siamese_pairs_recipe(ds, NULL, 0, 3, 43, &c), SIAMESE_OK);
    cr_assert(same_pairs(&a, &b));
    cr_assert_not(same_pairs(&a, &c));
    siamese_pairs_free(&a);
    siamese_pairs_free(&b);
    siamese_pairs_free(&c);
}

Test(pairs, recipe_per_class_k) {
    siamese_pairs p;
    cr_assert_eq(siamese_pairs_recipe(ds, NULL, 0, 5, 1, &p), SIAMESE_OK);
    cr_assert_eq(p.count, 7 * 10);
    siamese_pairs_free(&p);
    cr_assert_eq(siamese_pairs_recipe(ds, NULL, 0, 0, 1, &p), SIAMESE_ERR_INVALID_ARG);
}

Test(pairs, online_balanced_seeded_by_epoch) {
    siamese_pairs e0, e0b, e1;
    cr_assert_eq(siamese_pairs_online(ds, NULL, 0, 200, 5, 0, &e0), SIAMESE_OK);
    cr_assert_eq(siamese_pairs_online(ds, NULL, 0, 200, 5, 0, &e0b), SIAMESE_OK);
    cr_assert_eq(siamese_pairs_online(ds, NULL, 0, 200, 5, 1, &e1), SIAMESE_OK);
    cr_assert(same_pairs(&e0, &e0b));
    cr_assert_not(same_pairs(&e0, &e1));
    int similar = 0, first_labels_alternate = 1;
    for (int i = 0; i < e0.count; i++) {
        const siamese_pair *q = &e0.items[i];
        cr_assert_neq(q->a, q->b);
        if (q->label == 0) {
            similar++;
            cr_assert_eq(class_of(q->a), class_of(q->b));
        } else {
            cr_assert_neq(class_of(q->a), class_of(q->b));
        }
        if (i > 0 && q->label == e0.items[i - 1].label) first_labels_alternate = 0;
    }
    cr_assert_eq(similar, 100);
    cr_assert_not(first_labels_alternate, "the order is shuffled");
    siamese_pairs_free(&e0);
    siamese_pairs_free(&e0b);
    siamese_pairs_free(&e1);
}

Test(pairs, unusable_images_are_never_drawn) {
    /* a corrupt file in class 0: verify marks it unusable, samplers avoid it */
    char f[4096];
    snprintf(f, sizeof f, "%s", siamese_dataset_image_path(ds, 0));
    FILE *fp = fopen(f, "wb");
    fputs("not an image", fp);
    fclose(fp);
    cr_assert_eq(siamese_dataset_verify(ds, NULL), SIAMESE_OK);
    cr_assert_eq(siamese_dataset_image_usable(ds, 0), 0);
    cr_assert_eq(siamese_dataset_skipped_count(ds), 1);
    siamese_pairs p;
    cr_assert_eq(siamese_pairs_online(ds, NULL, 0, 500, 1, 0, &p), SIAMESE_OK);
    for (int i = 0; i < p.count; i++) cr_assert(p.items[i].a != 0 && p.items[i].b != 0);
    siamese_pairs_free(&p);
}

/* ---- splits */

Test(pairs, pairs_split_is_int_08_n_and_reproducible) {
    siamese_pairs p;
    cr_assert_eq(siamese_pairs_recipe(ds, NULL, 0, 3, 1, &p), SIAMESE_OK);
    siamese_split *s = NULL, *s2 = NULL;
    cr_assert_eq(siamese_split_create(ds, SIAMESE_SPLIT_PAIRS, &p, 0.8, 9, &s), SIAMESE_OK);
    cr_assert_eq(siamese_split_create(ds, SIAMESE_SPLIT_PAIRS, &p, 0.8, 9, &s2), SIAMESE_OK);
    siamese_pairs tr, te, tr2;
    cr_assert_eq(siamese_split_pairs(s, 0, &tr), SIAMESE_OK);
    cr_assert_eq(siamese_split_pairs(s, 1, &te), SIAMESE_OK);
    cr_assert_eq(siamese_split_pairs(s2, 0, &tr2), SIAMESE_OK);
    cr_assert_eq(tr.count, (int)(0.8 * 42)); /* 33 */
    cr_assert_eq(te.count, 42 - 33);
    cr_assert(same_pairs(&tr, &tr2));
    /* every pair lands on exactly one side */
    int used[64] = {0};
    for (int i = 0; i < tr.count + te.count; i++) {
        const siamese_pair *q = i < tr.count ? &tr.items[i] : &te.items[i - tr.count];
        for (int j = 0; j < p.count; j++)
            if (!used[j] && !memcmp(q, &p.items[j], sizeof *q)) {
                used[j] = 1;
                break;
            }
    }
    for (int j = 0; j < p.count; j++) cr_assert(used[j], "pair %d lost", j);
    /* a pairs split has no image sides to sample from */
    siamese_pairs none;
    cr_assert_eq(siamese_pairs_recipe(ds, s, 0, 3, 1, &none), SIAMESE_ERR_INVALID_ARG);
    siamese_pairs_free(&tr);
    siamese_pairs_free(&te);
    siamese_pairs_free(&tr2);
    siamese_pairs_free(&p);
    siamese_split_free(s);
    siamese_split_free(s2);
}

Test(pairs, image_split_keeps_images_on_one_side) {
    siamese_split *s = NULL;
    cr_assert_eq(siamese_split_create(ds, SIAMESE_SPLIT_IMAGES, NULL, 0.8, 3, &s), SIAMESE_OK);
    int train = 0;
    for (int i = 0; i < siamese_dataset_image_count(ds); i++) {
        int side = siamese_split_image_side(s, i);
        cr_assert(side == 0 || side == 1);
        train += side == 0;
    }
    cr_assert_eq(train, 6 * 8 + 3); /* int(0.8 * 10) per class, int(0.8 * 4) for cls_06 */
    for (int side = 0; side < 2; side++) {
        siamese_pairs p;
        cr_assert_eq(siamese_pairs_recipe(ds, s, side, 2, 4, &p), SIAMESE_OK, "%s",
                     siamese_dataset_errmsg(ds));
        for (int i = 0; i < p.count; i++) {
            cr_assert_eq(siamese_split_image_side(s, p.items[i].a), side);
            cr_assert_eq(siamese_split_image_side(s, p.items[i].b), side);
        }
        siamese_pairs_free(&p);
    }
    /* pairs given to an images split follow their images; mixed pairs are dropped */
    siamese_pairs all, tr, te;
    cr_assert_eq(siamese_pairs_online(ds, NULL, 0, 300, 2, 0, &all), SIAMESE_OK);
    siamese_split *s2 = NULL;
    cr_assert_eq(siamese_split_create(ds, SIAMESE_SPLIT_IMAGES, &all, 0.8, 3, &s2), SIAMESE_OK);
    cr_assert_eq(siamese_split_pairs(s2, 0, &tr), SIAMESE_OK);
    cr_assert_eq(siamese_split_pairs(s2, 1, &te), SIAMESE_OK);
    cr_assert(tr.count + te.count < 300 && te.count > 0);
    for (int i = 0; i < te.count; i++) {
        cr_assert_eq(siamese_split_image_side(s2, te.items[i].a), 1);
        cr_assert_eq(siamese_split_image_side(s2, te.items[i].b), 1);
    }
    siamese_pairs_free(&all);
    siamese_pairs_free(&tr);
    siamese_pairs_free(&te);
    siamese_split_free(s);
    siamese_split_free(s2);
}

Test(pairs, class_split_classes_disjoint) {
    siamese_split *s = NULL;
    cr_assert_eq(siamese_split_create(ds, SIAMESE_SPLIT_CLASSES, NULL, 0.8, 11, &s), SIAMESE_OK);
    int train_classes = 0;
    for (int c = 0; c < 7; c++) train_classes += siamese_split_class_side(s, c) == 0;
    cr_assert_eq(train_classes, 5); /* int(0.8 * 7) */
    for (int side = 0; side < 2; side++) {
        siamese_pairs p;
        cr_assert_eq(siamese_pairs_recipe(ds, s, side, 3, 4, &p), SIAMESE_OK);
        cr_assert_eq(p.count, (side ? 2 : 5) * 6);
        for (int i = 0; i < p.count; i++) {
            cr_assert_eq(siamese_split_class_side(s, class_of(p.items[i].a)), side);
            cr_assert_eq(siamese_split_class_side(s, class_of(p.items[i].b)), side);
        }
        siamese_pairs_free(&p);
    }
    siamese_split_free(s);
    /* a failed split is handed out carrying only its message, which the dataset repeats */
    cr_assert_eq(siamese_split_create(ds, SIAMESE_SPLIT_CLASSES, NULL, 0.1, 11, &s),
                 SIAMESE_ERR_DATA);
    cr_assert(strstr(siamese_split_errmsg(s), "leaves a side empty"), "%s",
              siamese_split_errmsg(s));
    cr_assert_str_eq(siamese_dataset_errmsg(ds), siamese_split_errmsg(s));
    siamese_split_free(s);
    cr_assert_eq(siamese_split_create(ds, SIAMESE_SPLIT_CLASSES, NULL, 1.0, 11, &s),
                 SIAMESE_ERR_INVALID_ARG);
    cr_assert(strstr(siamese_split_errmsg(s), "train fraction"), "%s", siamese_split_errmsg(s));
    siamese_split_free(s);
}

/* Functions on a split keep their message on the split, not on the dataset. */
Test(pairs, split_errors_live_on_the_split) {
    siamese_split *s = NULL;
    cr_assert_eq(siamese_split_create(ds, SIAMESE_SPLIT_CLASSES, NULL, 0.8, 11, &s), SIAMESE_OK);
    cr_assert_str_empty(siamese_split_errmsg(s));
    cr_assert_str_empty(siamese_split_errmsg(NULL));
    siamese_pairs p;
    cr_assert_eq(siamese_split_pairs(s, 1, &p), SIAMESE_ERR_DATA); /* made without pairs */
    cr_assert(strstr(siamese_split_errmsg(s), "without pairs"), "%s", siamese_split_errmsg(s));
    cr_assert_eq(siamese_split_pairs(s, 2, &p), SIAMESE_ERR_INVALID_ARG);
    cr_assert(strstr(siamese_split_errmsg(s), "side"), "%s", siamese_split_errmsg(s));
    cr_assert_eq(siamese_split_save(s, "/nonexistent/dir/split.json"), SIAMESE_ERR_IO);
    cr_assert(strstr(siamese_split_errmsg(s), "/nonexistent/dir"), "%s", siamese_split_errmsg(s));
    cr_assert_str_empty(siamese_dataset_errmsg(ds));
    cr_assert_eq(siamese_split_save(s, tu_path(tmp, "split.json")), SIAMESE_OK);
    cr_assert_str_empty(siamese_split_errmsg(s)); /* a success clears the last message */
    siamese_split_free(s);
}

static void check_roundtrip(siamese_split_kind kind, const siamese_pairs *pairs) {
    siamese_split *s = NULL, *r = NULL;
    cr_assert_eq(siamese_split_create(ds, kind, pairs, 0.75, 0xfedcba9876543210ull, &s),
                 SIAMESE_OK);
    const char *path = tu_path(tmp, "split.json");
    cr_assert_eq(siamese_split_save(s, path), SIAMESE_OK, "%s", siamese_dataset_errmsg(ds));
    cr_assert_eq(siamese_split_load(ds, path, &r), SIAMESE_OK, "%s", siamese_dataset_errmsg(ds));
    cr_assert_eq(siamese_split_get_kind(r), kind);
    cr_assert_eq(siamese_split_seed(r), 0xfedcba9876543210ull);
    cr_assert_eq(siamese_split_train_fraction(r), 0.75);
    for (int i = 0; i < siamese_dataset_image_count(ds); i++)
        cr_assert_eq(siamese_split_image_side(r, i), siamese_split_image_side(s, i));
    for (int c = 0; c < siamese_dataset_class_count(ds); c++)
        cr_assert_eq(siamese_split_class_side(r, c), siamese_split_class_side(s, c));
    for (int side = 0; pairs && side < 2; side++) {
        siamese_pairs x, y;
        cr_assert_eq(siamese_split_pairs(s, side, &x), SIAMESE_OK);
        cr_assert_eq(siamese_split_pairs(r, side, &y), SIAMESE_OK);
        cr_assert(same_pairs(&x, &y), "side %d pairs differ after reload", side);
        siamese_pairs_free(&x);
        siamese_pairs_free(&y);
    }
    siamese_split_free(s);
    siamese_split_free(r);
}

Test(pairs, split_record_reload_identical) {
    siamese_pairs p;
    cr_assert_eq(siamese_pairs_recipe(ds, NULL, 0, 3, 1, &p), SIAMESE_OK);
    check_roundtrip(SIAMESE_SPLIT_PAIRS, &p);
    check_roundtrip(SIAMESE_SPLIT_IMAGES, NULL);
    check_roundtrip(SIAMESE_SPLIT_IMAGES, &p);
    check_roundtrip(SIAMESE_SPLIT_CLASSES, NULL);
    check_roundtrip(SIAMESE_SPLIT_CLASSES, &p);
    siamese_pairs_free(&p);
}

Test(pairs, split_record_for_another_dataset_is_rejected) {
    siamese_split *s = NULL, *r = NULL;
    cr_assert_eq(siamese_split_create(ds, SIAMESE_SPLIT_CLASSES, NULL, 0.8, 1, &s), SIAMESE_OK);
    char path[4096];
    snprintf(path, sizeof path, "%s", tu_path(tmp, "split.json"));
    cr_assert_eq(siamese_split_save(s, path), SIAMESE_OK);
    siamese_split_free(s);
    char *other = tu_make_temp_dir();
    df_make_classes(other, 3, 2, 2, 2);
    siamese_dataset *ds2 = df_open(other, NULL, SIAMESE_OK);
    cr_assert_eq(siamese_split_load(ds2, path, &r), SIAMESE_ERR_FORMAT);
    cr_assert(strstr(siamese_dataset_errmsg(ds2), "split.json"), "%s", siamese_dataset_errmsg(ds2));
    cr_assert(strstr(siamese_split_errmsg(r), "split.json"), "%s", siamese_split_errmsg(r));
    siamese_split_free(r);
    siamese_dataset_free(ds2);
    tu_rmtree(other);
    free(other);
    df_write_text(tmp, "bad.json", "{\"format\": \"something else\"}");
    cr_assert_eq(siamese_split_load(ds, tu_path(tmp, "bad.json"), &r), SIAMESE_ERR_FORMAT);
    siamese_split_free(r);
    df_write_text(tmp, "broken.json", "{\"format\": ");
    cr_assert_eq(siamese_split_load(ds, tu_path(tmp, "broken.json"), &r), SIAMESE_ERR_FORMAT);
    siamese_split_free(r);
    cr_assert_eq(siamese_split_load(ds, tu_path(tmp, "missing.json"), &r), SIAMESE_ERR_IO);
    cr_assert(strstr(siamese_split_errmsg(r), "missing.json"), "%s", siamese_split_errmsg(r));
    siamese_split_free(r);
}

Test(pairs, manifest_split_by_images_and_writers) {
    /* pairs written as a manifest read back identically (names relative to its folder) */
    siamese_pairs p;
    cr_assert_eq(siamese_pairs_recipe(ds, NULL, 0, 3, 1, &p), SIAMESE_OK);
    cr_assert_eq(siamese_pairs_write_manifest(ds, &p, tu_path(tmp, "pairs.tsv")), SIAMESE_OK, "%s",
                 siamese_dataset_errmsg(ds));
    siamese_dataset *m = df_open(tu_path(tmp, "pairs.tsv"), NULL, SIAMESE_OK);
    siamese_pairs q;
    cr_assert_eq(siamese_pairs_recipe(m, NULL, 0, 3, 0, &q), SIAMESE_OK);
    cr_assert_eq(q.count, p.count);
    for (int i = 0; i < p.count; i++) {
        cr_assert_str_eq(siamese_dataset_image_name(m, q.items[i].a),
                         siamese_dataset_image_name(ds, p.items[i].a));
        cr_assert_str_eq(siamese_dataset_image_name(m, q.items[i].b),
                         siamese_dataset_image_name(ds, p.items[i].b));
        cr_assert_eq(q.items[i].label, p.items[i].label);
    }
    siamese_split *s = NULL;
    cr_assert_eq(siamese_split_create(m, SIAMESE_SPLIT_CLASSES, NULL, 0.8, 1, &s),
                 SIAMESE_ERR_INVALID_ARG);
    siamese_split_free(s);
    cr_assert_eq(siamese_split_create(m, SIAMESE_SPLIT_IMAGES, NULL, 0.8, 1, &s), SIAMESE_OK);
    siamese_pairs tr;
    cr_assert_eq(siamese_split_pairs(s, 0, &tr), SIAMESE_OK);
    cr_assert(tr.count > 0 && tr.count < q.count);
    siamese_pairs_free(&tr);
    siamese_split_free(s);
    /* recipe layout: the same pairs again, as links */
    cr_assert_eq(siamese_pairs_write_recipe_layout(ds, &p, tu_path(tmp, "recipe")), SIAMESE_OK,
                 "%s", siamese_dataset_errmsg(ds));
    siamese_dataset *r = df_open(tu_path(tmp, "recipe"), NULL, SIAMESE_OK);
    siamese_pairs rp;
    cr_assert_eq(siamese_pairs_recipe(r, NULL, 0, 3, 0, &rp), SIAMESE_OK);
    cr_assert_eq(rp.count, p.count);
    for (int i = 0; i < p.count; i++) {
        size_t n1, n2;
        unsigned char *x = tu_read_file(siamese_dataset_image_path(r, rp.items[i].a), &n1);
        unsigned char *y = tu_read_file(siamese_dataset_image_path(ds, p.items[i].a), &n2);
        cr_assert(x && y && n1 == n2 && !memcmp(x, y, n1), "pair %d first image differs", i);
        free(x);
        free(y);
        cr_assert_eq(rp.items[i].label, p.items[i].label);
    }
    /* writing again over existing files is refused */
    cr_assert_eq(siamese_pairs_write_recipe_layout(ds, &p, tu_path(tmp, "recipe")), SIAMESE_ERR_IO);
    cr_assert(strstr(siamese_dataset_errmsg(ds), "already exists"), "%s",
              siamese_dataset_errmsg(ds));
    siamese_pairs_free(&rp);
    siamese_dataset_free(r);
    siamese_pairs_free(&q);
    siamese_dataset_free(m);
    siamese_pairs_free(&p);
}

/* IDX images come in file order with interleaved labels: the split must still be per class. */
Test(pairs, image_split_of_interleaved_idx_classes_is_per_class) {
    char *dir = tu_make_temp_dir();
    df_write_idx_part(dir, "train", 100, 4, 4, 5, 0); /* labels 0,1,2,3,4,0,1,... */
    siamese_dataset *idx = df_open(dir, NULL, SIAMESE_OK);
    siamese_split *s = NULL;
    cr_assert_eq(siamese_split_create(idx, SIAMESE_SPLIT_IMAGES, NULL, 0.8, 3, &s), SIAMESE_OK);
    int train_per_class[5] = {0};
    for (int i = 0; i < siamese_dataset_image_count(idx); i++)
        if (siamese_split_image_side(s, i) == 0)
            train_per_class[siamese_dataset_image_class(idx, i)]++;
    for (int c = 0; c < 5; c++)
        cr_assert_eq(train_per_class[c], 16, "class %d: %d", c, train_per_class[c]);
    siamese_split_free(s);
    siamese_dataset_free(idx);
    tu_rmtree(dir);
    free(dir);
}
