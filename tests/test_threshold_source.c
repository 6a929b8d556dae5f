/* The model's threshold source: saved in __metadata__, read back, cleared by a new threshold;
 * siamese_eval_threshold_at_far on a hand-made case. */
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "siamese.h"
#include "test_util.h"

Test(threshold_source, round_trip_and_cleared_by_a_new_threshold) {
    siamese_model_params p = tu_model_params("conv(3,k=3) relu linear(5)", 1, 8, 8, 3);
    siamese_model *m = tu_create_model(&p);
    cr_assert_str_eq(siamese_model_threshold_source(m), "");
    siamese_model_set_threshold(m, 0.25f);
    siamese_model_set_threshold_source(m, "calibrate: eer on val/ (10 pairs, seed 0)");
    char *dir = tu_make_temp_dir();
    const char *path = tu_path(dir, "m.safetensors");
    cr_assert_eq(siamese_model_save(m, path), SIAMESE_OK);
    siamese_model *back = NULL;
    cr_assert_eq(siamese_model_load(path, &back), SIAMESE_OK);
    cr_assert_eq(siamese_model_threshold(back), 0.25f);
    cr_assert_str_eq(siamese_model_threshold_source(back),
                     "calibrate: eer on val/ (10 pairs, seed 0)");
    siamese_model_set_threshold(back, 0.5f);
    cr_assert_str_eq(siamese_model_threshold_source(back), "");
    siamese_model_set_threshold(back, -1);
    siamese_model_set_threshold_source(back, "ignored without a threshold");
    cr_assert_str_eq(siamese_model_threshold_source(back), "");
    cr_assert_eq(siamese_model_save(back, path), SIAMESE_OK);
    siamese_model_free(back);
    cr_assert_eq(siamese_model_load(path, &back), SIAMESE_OK);
    cr_assert(siamese_model_threshold(back) < 0);
    cr_assert_str_eq(siamese_model_threshold_source(back), "");
    cr_assert_str_eq(siamese_model_threshold_source(NULL), "");
    siamese_model_free(back);
    siamese_model_free(m);
    tu_rmtree(dir);
    free(dir);
}

Test(threshold_source, threshold_at_any_far) {
    /* similar at 1..4, dissimilar at 2.5, 5, 6, 7: FAR <= 0.25 up to t = 4 (TAR 1); FAR 0 up to
     * t = 2 (TAR 0.5) */
    float d[] = {1, 2, 3, 4, 2.5f, 5, 6, 7}, y[] = {0, 0, 0, 0, 1, 1, 1, 1};
    double t, tar;
    cr_assert_eq(siamese_eval_threshold_at_far(d, y, 8, 0.25, &t, &tar), SIAMESE_OK);
    cr_assert_float_eq(t, 4, 1e-12);
    cr_assert_float_eq(tar, 1, 1e-12);
    cr_assert_eq(siamese_eval_threshold_at_far(d, y, 8, 0.1, &t, &tar), SIAMESE_OK);
    cr_assert_float_eq(t, 2, 1e-12);
    cr_assert_float_eq(tar, 0.5, 1e-12);
    float y1[] = {0, 0, 0, 0, 0, 0, 0, 0};
    cr_assert_eq(siamese_eval_threshold_at_far(d, y1, 8, 0.1, &t, &tar), SIAMESE_ERR_DATA);
    cr_assert_eq(siamese_eval_threshold_at_far(d, y, 8, 1.5, &t, &tar), SIAMESE_ERR_INVALID_ARG);
}
