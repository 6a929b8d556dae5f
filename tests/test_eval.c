/* ROC AUC and best-threshold accuracy on hand-computed cases. */
#include <criterion/criterion.h>
#include <math.h>

#include "siamese.h"

Test(eval, auc_perfect_separation) {
    float d[] = {0.1f, 0.2f, 0.9f, 1.5f};
    float y[] = {0, 0, 1, 1};
    cr_assert_float_eq(siamese_roc_auc(d, y, 4), 1.0, 1e-12);
}

Test(eval, auc_reversed_is_zero) {
    float d[] = {0.1f, 0.2f, 0.9f, 1.5f};
    float y[] = {1, 1, 0, 0};
    cr_assert_float_eq(siamese_roc_auc(d, y, 4), 0.0, 1e-12);
}

Test(eval, auc_counts_ties_as_half) {
    /* dissimilar {0.5, 0.9}, similar {0.5, 0.1}: pairs (0.5,0.5)=0.5 (0.5,0.1)=1 (0.9,*)=2 -> 3.5/4 */
    float d[] = {0.5f, 0.9f, 0.5f, 0.1f};
    float y[] = {1, 1, 0, 0};
    cr_assert_float_eq(siamese_roc_auc(d, y, 4), 3.5 / 4.0, 1e-12);
}

Test(eval, auc_needs_both_labels) {
    float d[] = {0.5f, 0.9f};
    float y[] = {1, 1};
    cr_assert(isnan(siamese_roc_auc(d, y, 2)));
}

Test(eval, best_threshold_splits_between_groups) {
    float d[] = {0.1f, 0.3f, 1.1f, 1.7f, 0.2f};
    float y[] = {0, 0, 1, 1, 0};
    float t, acc;
    cr_assert_eq(siamese_best_threshold(d, y, 5, &t, &acc), SIAMESE_OK);
    cr_assert_float_eq(acc, 1.0f, 1e-6);
    cr_assert_float_eq(t, 0.7f, 1e-6);
}

Test(eval, best_threshold_with_overlap) {
    /* sorted: 0.1s 0.2d 0.3s 0.4d: best is t=0.15 (3/4 correct? no: predicts 0.3 dissimilar) */
    float d[] = {0.1f, 0.2f, 0.3f, 0.4f};
    float y[] = {0, 1, 0, 1};
    float t, acc;
    cr_assert_eq(siamese_best_threshold(d, y, 4, &t, &acc), SIAMESE_OK);
    cr_assert_float_eq(acc, 0.75f, 1e-6);
    cr_assert(t > 0.1f && t < 0.2f, "threshold %f", t);
}

Test(eval, centred_threshold_takes_the_widest_span) {
    /* sorted: 0.1s 0.2s 0.3d 0.4s 1.0d 2.0d: 5 of 6 correct on [0.2, 0.3) and on [0.4, 1.0) */
    float d[] = {1.0f, 0.1f, 0.3f, 2.0f, 0.4f, 0.2f};
    float y[] = {1, 0, 1, 1, 0, 0};
    float t, acc, first;
    cr_assert_eq(siamese_best_threshold(d, y, 6, &first, NULL), SIAMESE_OK);
    cr_assert_float_eq(first, 0.25f, 1e-6, "the first span's midpoint");
    cr_assert_eq(siamese_best_threshold_centred(d, y, 6, &t, &acc), SIAMESE_OK);
    cr_assert_float_eq(acc, 5.0f / 6.0f, 1e-6);
    cr_assert_float_eq(t, 0.7f, 1e-6, "the centre of [0.4, 1.0), not %f", t);
}

Test(eval, centred_threshold_spans_groups_at_one_accuracy) {
    /* 0.1s {0.5s 0.5d} 0.9d: 3 of 4 correct from 0.1 to 0.9, across the tie at 0.5 */
    float d[] = {0.5f, 0.9f, 0.1f, 0.5f};
    float y[] = {1, 1, 0, 0};
    float t, acc, first;
    cr_assert_eq(siamese_best_threshold(d, y, 4, &first, NULL), SIAMESE_OK);
    cr_assert_float_eq(first, 0.3f, 1e-6);
    cr_assert_eq(siamese_best_threshold_centred(d, y, 4, &t, &acc), SIAMESE_OK);
    cr_assert_float_eq(acc, 0.75f, 1e-6);
    cr_assert_float_eq(t, 0.5f, 1e-6, "got %f", t);
    /* separated pairs: one span, the same threshold as the first rule */
    float d2[] = {0.1f, 0.3f, 1.1f, 1.7f, 0.2f}, y2[] = {0, 0, 1, 1, 0};
    cr_assert_eq(siamese_best_threshold_centred(d2, y2, 5, &t, &acc), SIAMESE_OK);
    cr_assert_float_eq(t, 0.7f, 1e-6);
    cr_assert_eq(siamese_best_threshold_centred(NULL, NULL, 0, &t, &acc), SIAMESE_ERR_INVALID_ARG);
}

Test(eval, best_threshold_rejects_empty) {
    float t, acc;
    cr_assert_eq(siamese_best_threshold(NULL, NULL, 0, &t, &acc), SIAMESE_ERR_INVALID_ARG);
}
