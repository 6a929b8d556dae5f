/* Validation by whole groups (--val-groups): every class of a held-out top-level folder is on
 * the validation side, none of another's; counts, shares, seeds and the refusals. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "data/split_val.h"
#include "dataset_fixtures.h"
#include "test_util.h"

static siamese_dataset *ds;

/* DATA/g<G>/c<C>/<i>.pgm: 6 groups holding 2..7 classes of 3 images each. */
static void make_groups(void) {
    tu_temp_init();
    for (int g = 0; g < 6; g++) {
        char rel[64];
        snprintf(rel, sizeof rel, "g%d", g);
        df_mkdir(tu_temp, rel);
        for (int c = 0; c < 2 + g; c++) {
            snprintf(rel, sizeof rel, "g%d/c%d", g, c);
            df_mkdir(tu_temp, rel);
            for (int i = 0; i < 3; i++) {
                snprintf(rel, sizeof rel, "g%d/c%d/%d.pgm", g, c, i);
                df_write_pgm(tu_temp, rel, 6, 5, (unsigned)(g * 100 + c * 10 + i + 1));
            }
        }
    }
    cr_assert_eq(siamese_dataset_open(tu_temp, NULL, &ds), SIAMESE_OK);
    cr_assert_eq(siamese_dataset_class_count(ds), 27);
}

static void drop_groups(void) {
    siamese_dataset_free(ds);
    tu_temp_fini();
}

TestSuite(val_groups, .init = make_groups, .fini = drop_groups);

/* The group ("g3") of class c, as the dataset names it ("g3/c1"). */
static void group_of(int c, char *out, size_t size) {
    snprintf(out, size, "%s", siamese_dataset_class_name(ds, c));
    char *slash = strchr(out, '/');
    cr_assert_not_null(slash, "class %s has no group", out);
    *slash = '\0';
}

/* Checks that each group is wholly on one validation side (test classes aside) and returns how
 * many groups are held out. */
static int held_groups(const siamese_split *split, const siamese_split *val) {
    int side_of_group[6] = {-1, -1, -1, -1, -1, -1}, held = 0;
    for (int c = 0; c < siamese_dataset_class_count(ds); c++) {
        char g[64];
        group_of(c, g, sizeof g);
        int gi = g[1] - '0', v = siamese_split_class_side(val, c);
        if (siamese_split_class_side(split, c) == 1) {
            cr_assert_eq(v, -1, "test class %s in the validation split", g);
            continue;
        }
        cr_assert(v == 0 || v == 1);
        if (side_of_group[gi] == -1) {
            side_of_group[gi] = v;
            held += v;
        }
        cr_assert_eq(v, side_of_group[gi], "group %s is split across sides", g);
    }
    for (int i = 0; i < siamese_dataset_image_count(ds); i++)
        cr_assert_eq(siamese_split_image_side(val, i),
                     siamese_split_class_side(val, siamese_dataset_image_class(ds, i)));
    return held;
}

Test(val_groups, a_count_or_a_share_of_whole_groups) {
    siamese_split *split = NULL, *val = NULL, *again = NULL, *share = NULL;
    cr_assert_eq(siamese_split_create(ds, SIAMESE_SPLIT_CLASSES, NULL, 0.9, 1, &split), SIAMESE_OK);
    cr_assert_eq(sm_split_validation_groups(split, 2, 7, &val), SIAMESE_OK, "%s",
                 siamese_dataset_errmsg(ds));
    cr_assert_eq(held_groups(split, val), 2);
    /* the same seed holds out the same groups; a share of 0.5 of 6 groups is 3 */
    cr_assert_eq(sm_split_validation_groups(split, 2, 7, &again), SIAMESE_OK);
    for (int c = 0; c < siamese_dataset_class_count(ds); c++)
        cr_assert_eq(siamese_split_class_side(val, c), siamese_split_class_side(again, c));
    cr_assert_eq(sm_split_validation_groups(split, 0.5, 7, &share), SIAMESE_OK);
    cr_assert_eq(held_groups(split, share), 3);
    /* some other seed holds out some other groups */
    int differs = 0;
    for (uint64_t seed = 8; seed < 40 && !differs; seed++) {
        siamese_split *other = NULL;
        cr_assert_eq(sm_split_validation_groups(split, 2, seed, &other), SIAMESE_OK);
        for (int c = 0; c < siamese_dataset_class_count(ds); c++)
            differs |= siamese_split_class_side(val, c) != siamese_split_class_side(other, c);
        siamese_split_free(other);
    }
    cr_assert(differs, "every seed held out the same groups");
    siamese_split_free(share);
    siamese_split_free(again);
    siamese_split_free(val);
    siamese_split_free(split);
}

Test(val_groups, bad_counts_and_ungrouped_classes_are_refused) {
    siamese_split *split = NULL, *val = NULL;
    cr_assert_eq(siamese_split_create(ds, SIAMESE_SPLIT_CLASSES, NULL, 0.9, 1, &split), SIAMESE_OK);
    /* all 6 groups leave none for training */
    cr_assert_eq(sm_split_validation_groups(split, 6, 7, &val), SIAMESE_ERR_INVALID_ARG);
    cr_assert(strstr(siamese_dataset_errmsg(ds), "keep 1 for training") != NULL, "%s",
              siamese_dataset_errmsg(ds));
    cr_assert_null(val);
    cr_assert_eq(sm_split_validation_groups(split, 1.5, 7, &val), SIAMESE_ERR_INVALID_ARG);
    cr_assert(strstr(siamese_dataset_errmsg(ds), "whole count") != NULL);
    cr_assert_eq(sm_split_validation_groups(split, 0, 7, &val), SIAMESE_ERR_INVALID_ARG);
    cr_assert_eq(sm_split_validation_groups(split, -2, 7, &val), SIAMESE_ERR_INVALID_ARG);
    cr_assert_null(val);
    siamese_split_free(split);
}

Test(val_groups, classes_outside_group_folders_are_refused) {
    siamese_dataset *flat = NULL;
    char dir[512];
    snprintf(dir, sizeof dir, "%s", tu_path(tu_temp, "g5"));
    cr_assert_eq(siamese_dataset_open(dir, NULL, &flat), SIAMESE_OK);
    siamese_split *split = NULL, *val = NULL;
    cr_assert_eq(siamese_split_create(flat, SIAMESE_SPLIT_CLASSES, NULL, 0.8, 1, &split),
                 SIAMESE_OK);
    cr_assert_eq(sm_split_validation_groups(split, 1, 7, &val), SIAMESE_ERR_INVALID_ARG);
    cr_assert(strstr(siamese_dataset_errmsg(flat), "not inside a group folder") != NULL, "%s",
              siamese_dataset_errmsg(flat));
    cr_assert_null(val);
    siamese_split_free(split);
    siamese_dataset_free(flat);
}
