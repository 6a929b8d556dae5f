/* Verification metrics: AUC, EER, TAR@FAR and accuracies against numpy's definitions (fixture,
 * ties included) to 1e-9, hand-made cases with known answers, bootstrap resamples. */
#include <criterion/criterion.h>
#include <math.h>
#include <omp.h>
#include <stdlib.h>

#include "eval/eval.h"
#include "fixtures/eval_metrics.h"
#include "siamese.h"

#define TOL 1e-9

static void assert_close(double got, double want, const char *what) {
    if (isnan(want)) cr_assert(isnan(got), "%s: got %.17g, want NaN", what, got);
    else cr_assert(fabs(got - want) <= TOL, "%s: got %.17g, want %.17g", what, got, want);
}

static siamese_verification score(const float *d, const float *y, int n, float model_t) {
    siamese_verification_params p = siamese_verification_default_params();
    p.bootstrap = 0;
    p.model_threshold = model_t;
    siamese_verification v;
    cr_assert_eq(siamese_eval_verification(d, y, n, &p, &v), SIAMESE_OK);
    return v;
}

#define CHECK_FIXTURE(P)                                                                           \
    do {                                                                                           \
        siamese_verification v = score(P##_D, P##_Y, P##_N, (float)P##_MODEL_T);                   \
        assert_close(v.auc.value, P##_AUC, #P " auc");                                             \
        assert_close(v.auc.value, siamese_roc_auc(P##_D, P##_Y, P##_N), #P " auc vs roc_auc");     \
        assert_close(v.eer.value, P##_EER, #P " eer");                                             \
        assert_close(v.eer_threshold, P##_EER_T, #P " eer threshold");                             \
        assert_close(v.tar_far_1.value, P##_TAR1, #P " tar@far1%");                                \
        assert_close(v.tar_far_1_threshold, P##_TAR1_T, #P " tar@far1% threshold");                \
        assert_close(v.tar_far_01.value, P##_TAR01, #P " tar@far0.1%");                            \
        assert_close(v.tar_far_01_threshold, P##_TAR01_T, #P " tar@far0.1% threshold");            \
        assert_close(v.accuracy_best.value, P##_ACC_BEST, #P " best accuracy");                    \
        assert_close(v.best_threshold, P##_BEST_T, #P " best threshold");                          \
        assert_close(v.accuracy_model.value, P##_ACC_MODEL, #P " model accuracy");                 \
        cr_assert(isnan(v.auc.low) && isnan(v.auc.high), "no bootstrap, no interval");             \
        cr_assert_eq(v.pairs, P##_N);                                                              \
    } while (0)

Test(eval_verification, matches_numpy_definitions_with_ties) {
    CHECK_FIXTURE(V1);
    CHECK_FIXTURE(V2);
}

Test(eval_verification, best_threshold_agrees_with_the_old_function) {
    float t, acc;
    cr_assert_eq(siamese_best_threshold(V1_D, V1_Y, V1_N, &t, &acc), SIAMESE_OK);
    siamese_verification v = score(V1_D, V1_Y, V1_N, -1);
    cr_assert_float_eq(v.accuracy_best.value, acc, 1e-6);
    cr_assert_float_eq(v.best_threshold, t, 1e-6);
    cr_assert(isnan(v.accuracy_model.value) && isnan(v.model_threshold));
}

Test(eval_verification, eer_hand_made) {
    /* similar {1,2,3,4}, dissimilar {3.5,5,6,7}: at t = 3.5 FAR = FRR = 1/4 */
    float d1[] = {1, 2, 3, 4, 3.5f, 5, 6, 7}, y1[] = {0, 0, 0, 0, 1, 1, 1, 1};
    siamese_verification v = score(d1, y1, 8, -1);
    assert_close(v.eer.value, 0.25, "eer 1");
    assert_close(v.eer_threshold, 3.5, "eer 1 threshold");
    /* similar {1,2}, dissimilar {2,3}: (FAR, FRR) jumps from (0, 1/2) to (1/2, 0) at the tie
     * t = 2; the segment crosses halfway: EER 1/4 at t = 1.5 */
    float d2[] = {1, 2, 2, 3}, y2[] = {0, 0, 1, 1};
    v = score(d2, y2, 4, -1);
    assert_close(v.eer.value, 0.25, "eer 2");
    assert_close(v.eer_threshold, 1.5, "eer 2 threshold");
    /* perfect separation: EER 0 at the last similar distance */
    float d3[] = {1, 2, 5, 6}, y3[] = {0, 0, 1, 1};
    v = score(d3, y3, 4, -1);
    assert_close(v.eer.value, 0, "eer 3");
    assert_close(v.eer_threshold, 2, "eer 3 threshold");
    assert_close(v.auc.value, 1, "auc 3");
}

Test(eval_verification, tar_at_far_hand_made) {
    /* 100 similar at i/8, 1000 dissimilar at 6 + j/64. FAR <= 1%: 10 dissimilar accepted,
     * t = 6 + 9/64, similar i <= 49: TAR 0.50; FAR <= 0.1%: t = 6, TAR 0.49. */
    static float d[1100], y[1100];
    for (int i = 0; i < 100; i++) d[i] = i / 8.0f, y[i] = 0;
    for (int j = 0; j < 1000; j++) d[100 + j] = 6 + j / 64.0f, y[100 + j] = 1;
    siamese_verification v = score(d, y, 1100, 6.0f);
    assert_close(v.tar_far_1.value, 0.50, "tar@1%");
    assert_close(v.tar_far_1_threshold, 6 + 9 / 64.0, "tar@1% threshold");
    assert_close(v.tar_far_01.value, 0.49, "tar@0.1%");
    assert_close(v.tar_far_01_threshold, 6, "tar@0.1% threshold");
    assert_close(v.accuracy_model.value, (49 + 999) / 1100.0, "accuracy at 6");
    /* a dissimilar pair closest of all: nothing but "accept nothing" has FAR <= 0.1% */
    float d2[] = {0.5f, 1, 2, 3}, y2[] = {1, 0, 0, 1};
    v = score(d2, y2, 4, -1);
    assert_close(v.tar_far_01.value, 0, "tar@0.1% none");
    cr_assert(isnan(v.tar_far_01_threshold));
}

Test(eval_verification, weighted_resample_equals_the_expanded_pairs) {
    sm_roc roc;
    sm_roc_counts c;
    cr_assert_eq(sm_roc_build(V1_D, V1_Y, V1_N, &roc), SIAMESE_OK);
    cr_assert_eq(sm_roc_counts_alloc(&roc, &c), SIAMESE_OK);
    int w[V1_N];
    float d[V1_N], y[V1_N];
    for (int b = 0; b < 5; b++) {
        sm_bootstrap_draw(42, b, V1_N, w);
        int m = 0, total = 0;
        for (int i = 0; i < V1_N; i++) {
            total += w[i];
            for (int r = 0; r < w[i]; r++) d[m] = V1_D[i], y[m++] = V1_Y[i];
        }
        cr_assert_eq(total, V1_N);
        sm_roc_count(&roc, w, &c);
        siamese_verification v = score(d, y, m, 1.5f);
        double t;
        assert_close(sm_roc_auc_of(&roc, &c), v.auc.value, "resample auc");
        assert_close(sm_roc_eer(&roc, &c, &t), v.eer.value, "resample eer");
        assert_close(t, v.eer_threshold, "resample eer threshold");
        assert_close(sm_roc_tar_at_far(&roc, &c, 0.01, &t), v.tar_far_1.value, "resample tar");
        assert_close(sm_roc_best_accuracy(&roc, &c, &t), v.accuracy_best.value, "resample best");
        assert_close(sm_roc_accuracy_at(&roc, &c, 1.5), v.accuracy_model.value, "resample acc");
        /* the one-walk summary equals the separate definitions */
        sm_roc_summary r;
        const double far[2] = {0.01, 0.001};
        sm_roc_summarize(&roc, &c, far, 1.5, &r);
        assert_close(r.auc, sm_roc_auc_of(&roc, &c), "summary auc");
        assert_close(r.eer, sm_roc_eer(&roc, &c, &t), "summary eer");
        assert_close(r.eer_threshold, t, "summary eer threshold");
        assert_close(r.tar[0], sm_roc_tar_at_far(&roc, &c, 0.01, &t), "summary tar 1%");
        assert_close(r.tar_threshold[0], t, "summary tar 1% threshold");
        assert_close(r.tar[1], sm_roc_tar_at_far(&roc, &c, 0.001, &t), "summary tar 0.1%");
        assert_close(r.tar_threshold[1], t, "summary tar 0.1% threshold");
        assert_close(r.best_accuracy, sm_roc_best_accuracy(&roc, &c, &t), "summary best");
        assert_close(r.best_threshold, t, "summary best threshold");
        assert_close(r.model_accuracy, sm_roc_accuracy_at(&roc, &c, 1.5), "summary model acc");
        /* weights per sorted position: the same sums as those weights moved to the pairs */
        int by_pair[V1_N];
        for (int i = 0; i < V1_N; i++) {
            int p = 0; /* the sorted position of pair i: count the pairs ranked before it */
            for (int j = 0; j < V1_N; j++) p += V1_D[j] < V1_D[i] || (V1_D[j] == V1_D[i] && j < i);
            by_pair[i] = w[p];
        }
        sm_roc_counts c2;
        cr_assert_eq(sm_roc_counts_alloc(&roc, &c2), SIAMESE_OK);
        sm_roc_count_sorted(&roc, w, &c2);
        sm_roc_count(&roc, by_pair, &c);
        for (int g = 0; g < roc.groups; g++)
            cr_assert(c.similar[g] == c2.similar[g] && c.dissimilar[g] == c2.dissimilar[g]);
        sm_roc_counts_free(&c2);
    }
    sm_roc_counts_free(&c);
    sm_roc_free(&roc);
}

static siamese_verification with_bootstrap(int threads, uint64_t seed) {
    siamese_verification_params p = siamese_verification_default_params();
    p.bootstrap = 300;
    p.seed = seed;
    p.model_threshold = 1.5f;
    omp_set_num_threads(threads);
    siamese_verification v;
    cr_assert_eq(siamese_eval_verification(V1_D, V1_Y, V1_N, &p, &v), SIAMESE_OK);
    return v;
}

Test(eval_verification, bootstrap_intervals_seeded_and_thread_independent) {
    siamese_verification a = with_bootstrap(1, 7), b = with_bootstrap(2, 7),
                         c = with_bootstrap(2, 8);
    const siamese_interval *ia[] = {&a.auc, &a.eer, &a.tar_far_1, &a.accuracy_best,
                                    &a.accuracy_model};
    const siamese_interval *ib[] = {&b.auc, &b.eer, &b.tar_far_1, &b.accuracy_best,
                                    &b.accuracy_model};
    for (int k = 0; k < 5; k++) {
        cr_assert(ia[k]->low <= ia[k]->value + 0.05 && ia[k]->value - 0.05 <= ia[k]->high,
                  "metric %d: %g not near [%g, %g]", k, ia[k]->value, ia[k]->low, ia[k]->high);
        cr_assert(ia[k]->low < ia[k]->high, "metric %d: an interval of width 0", k);
        cr_assert_eq(ia[k]->low, ib[k]->low, "threads changed the interval");
        cr_assert_eq(ia[k]->high, ib[k]->high);
    }
    cr_assert(a.auc.low != c.auc.low || a.auc.high != c.auc.high, "the seed does nothing");
    cr_assert(a.auc.high - a.auc.low < 0.2, "interval [%g, %g] too wide for 160 pairs", a.auc.low,
              a.auc.high);
}

Test(eval_verification, percentile_is_numpys_linear) {
    double v[] = {1, 2, 3, 4, 10};
    cr_assert_float_eq(sm_percentile_sorted(v, 5, 50), 3, 1e-12);
    cr_assert_float_eq(sm_percentile_sorted(v, 5, 97.5), 4 + 0.9 * 6, 1e-12);
    cr_assert_float_eq(sm_percentile_sorted(v, 5, 2.5), 1.1, 1e-12);
    cr_assert_float_eq(sm_percentile_sorted(v, 5, 100), 10, 1e-12);
}

Test(eval_verification, bad_inputs) {
    siamese_verification v;
    float d[] = {1, 2}, same[] = {0, 0}, y[] = {0, 1}, nan_d[] = {1, NAN};
    cr_assert_eq(siamese_eval_verification(d, y, 0, NULL, &v), SIAMESE_ERR_INVALID_ARG);
    cr_assert_eq(siamese_eval_verification(d, same, 2, NULL, &v), SIAMESE_ERR_DATA);
    cr_assert_eq(siamese_eval_verification(nan_d, y, 2, NULL, &v), SIAMESE_ERR_NUMERIC);
    cr_assert_eq(siamese_eval_verification(d, y, 2, NULL, NULL), SIAMESE_ERR_INVALID_ARG);
    float vec[] = {0, 0, 3, 4, 6, 8}, out[2];
    int a[] = {0, 1}, b[] = {1, 2};
    cr_assert_eq(siamese_eval_pair_distances(SIAMESE_METRIC_EUCLIDEAN, vec, 2, a, b, 2, out),
                 SIAMESE_OK);
    cr_assert_float_eq(out[0], 5.0f, 1e-4);
    cr_assert_float_eq(out[1], 5.0f, 1e-4);
}
