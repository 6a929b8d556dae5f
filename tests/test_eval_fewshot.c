/* n-way k-shot episodes on hand-made embeddings with known accuracies; Lake's one-shot runs
 * format on a small synthetic runs folder (scored as class_labels.txt says); bad inputs. */
#include <criterion/criterion.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <string.h>

#include "dataset_fixtures.h"
#include "siamese.h"
#include "test_util.h"

static siamese_fewshot run(const float *v, const int *labels, int n, int dim, int way, int shot,
                           int episodes, uint64_t seed) {
    siamese_fewshot_params p = siamese_fewshot_default_params();
    p.way = way, p.shot = shot, p.episodes = episodes, p.seed = seed;
    siamese_fewshot r;
    char msg[256];
    cr_assert_eq(siamese_eval_fewshot(v, labels, n, dim, &p, &r, msg, sizeof msg), SIAMESE_OK, "%s",
                 msg);
    return r;
}

Test(eval_fewshot, separated_clusters_are_always_right) {
    float v[4 * 3 * 2];
    int labels[12];
    for (int i = 0; i < 12; i++) {
        labels[i] = i / 3;
        v[2 * i] = 10.0f * (float)(i / 3) + 0.1f * (float)(i % 3);
        v[2 * i + 1] = 0;
    }
    siamese_fewshot r = run(v, labels, 12, 2, 4, 1, 50, 1);
    cr_assert_eq(r.accuracy.value, 1.0);
    cr_assert_eq(r.queries, 200);
    cr_assert_eq(r.correct, 200);
    r = run(v, labels, 12, 2, 3, 2, 50, 1);
    cr_assert_eq(r.accuracy.value, 1.0);
    cr_assert_eq(r.classes_used, 4);
}

Test(eval_fewshot, one_shot_nearest_support_exact) {
    /* A = {0, 10}, B = {5, 5.1}: an A query is always nearer the B support, a B query always
     * nearer its own: every episode scores exactly 1/2 */
    float v[] = {0, 10, 5, 5.1f};
    int labels[] = {0, 0, 1, 1};
    siamese_fewshot r = run(v, labels, 4, 1, 2, 1, 200, 3);
    cr_assert_float_eq(r.accuracy.value, 0.5, 1e-12);
    cr_assert_float_eq(r.accuracy.low, 0.5, 1e-12);
    cr_assert_float_eq(r.accuracy.high, 0.5, 1e-12);
    cr_assert_eq(r.correct, 200);
}

Test(eval_fewshot, several_shots_use_the_class_mean) {
    /* A = {0, 1, 10}, B = {4, 4, 4}, 2-way 2-shot: the A query is wrong whichever it is when
     * compared with the mean of the other two A images (5.5 vs 4, 5 vs 3, 0.5 vs 6 away), so
     * every episode scores 1/2; with nearest-support it would be right two times in three. */
    float v[] = {0, 1, 10, 4, 4, 4};
    int labels[] = {0, 0, 0, 1, 1, 1};
    siamese_fewshot r = run(v, labels, 6, 1, 2, 2, 300, 5);
    cr_assert_float_eq(r.accuracy.value, 0.5, 1e-12);
}

Test(eval_fewshot, seeded_and_thread_independent) {
    float v[40];
    int labels[40];
    for (int i = 0; i < 40; i++) /* overlapping clusters: some queries go wrong */
        labels[i] = i % 8, v[i] = (float)(i % 8) + 1.5f * sinf(12.9898f * (float)i);
    omp_set_num_threads(1);
    siamese_fewshot a = run(v, labels, 40, 1, 5, 1, 500, 11);
    omp_set_num_threads(2);
    siamese_fewshot b = run(v, labels, 40, 1, 5, 1, 500, 11);
    siamese_fewshot c = run(v, labels, 40, 1, 5, 1, 500, 12);
    cr_assert_eq(a.accuracy.value, b.accuracy.value);
    cr_assert_neq(a.accuracy.value, c.accuracy.value);
    cr_assert(a.accuracy.low < a.accuracy.value && a.accuracy.value < a.accuracy.high);
    cr_assert(a.accuracy.value > 0.2 && a.accuracy.value < 1.0, "%g", a.accuracy.value);
}

Test(eval_fewshot, bad_inputs_say_why) {
    float v[] = {0, 1, 2, 3, 4};
    int labels[] = {0, 0, 1, 1, 2}; /* class 2 has one image */
    siamese_fewshot_params p = siamese_fewshot_default_params();
    siamese_fewshot r;
    char msg[256];
    p.way = 3;
    cr_assert_eq(siamese_eval_fewshot(v, labels, 5, 1, &p, &r, msg, sizeof msg), SIAMESE_ERR_DATA);
    cr_assert(strstr(msg, "3-way 1-shot needs 3 classes with at least 2 images") &&
                  strstr(msg, "only 2 of the 3"),
              "%s", msg);
    p.way = 7;
    cr_assert_eq(siamese_eval_fewshot(v, labels, 5, 1, &p, &r, msg, sizeof msg), SIAMESE_ERR_DATA);
    p.way = 1;
    cr_assert_eq(siamese_eval_fewshot(v, labels, 5, 1, &p, &r, msg, sizeof msg),
                 SIAMESE_ERR_INVALID_ARG);
    cr_assert(strstr(msg, "way must be at least 2") && !strstr(msg, "--"), "%s", msg);
    p.way = 2;
    p.shot = 0;
    cr_assert_eq(siamese_eval_fewshot(v, labels, 5, 1, &p, &r, msg, sizeof msg),
                 SIAMESE_ERR_INVALID_ARG);
    p.shot = 1;
    cr_assert_eq(siamese_eval_fewshot(v, labels, 5, 1, &p, &r, msg, sizeof msg), SIAMESE_OK);
    cr_assert_str_eq(msg, "", "a success leaves the last failure's message: %s", msg);
    cr_assert_eq(r.classes_excluded, 1);
    cr_assert_eq(siamese_eval_fewshot(v, labels, 5, 1, &p, NULL, msg, sizeof msg),
                 SIAMESE_ERR_INVALID_ARG);
    cr_assert(strstr(msg, "no output"), "%s", msg);
}

/* ---- Lake's runs */

static char *tmp;

/* Two runs of three classes: training/classNN.pgm distinct images; test/itemNN.pgm a copy of
 * the training image of a class. class_labels.txt says which; in run02 (four test images) the
 * last line names a wrong class on purpose, so exactly that test image counts as wrong. */
static void make_runs(void) {
    tmp = tu_make_temp_dir();
    const int truth[2][4] = {{2, 3, 1, 0}, {1, 2, 3, 3}};
    for (int r = 1; r <= 2; r++) {
        char rel[128], labels[1024] = "";
        snprintf(rel, sizeof rel, "run%02d", r);
        df_mkdir(tmp, rel);
        snprintf(rel, sizeof rel, "run%02d/training", r);
        df_mkdir(tmp, rel);
        snprintf(rel, sizeof rel, "run%02d/test", r);
        df_mkdir(tmp, rel);
        for (int c = 1; c <= 3; c++) {
            snprintf(rel, sizeof rel, "run%02d/training/class%02d.pgm", r, c);
            df_write_pgm(tmp, rel, 8, 8, (unsigned)(r * 100 + c * 7));
        }
        for (int i = 1; i <= 3 + (r == 2); i++) {
            int c = truth[r - 1][i - 1];
            snprintf(rel, sizeof rel, "run%02d/test/item%02d.pgm", r, i);
            df_write_pgm(tmp, rel, 8, 8, (unsigned)(r * 100 + c * 7));
            int said = r == 2 && i == 4 ? 2 : c;
            size_t used = strlen(labels);
            snprintf(labels + used, sizeof labels - used,
                     "run%02d/test/item%02d.pgm run%02d/training/class%02d.pgm\r\n", r, i, r, said);
        }
        snprintf(rel, sizeof rel, "run%02d/class_labels.txt", r);
        df_write_text(tmp, rel, labels);
    }
}

static void free_runs(void) {
    tu_rmtree(tmp);
    free(tmp);
}

TestSuite(eval_lake, .init = make_runs, .fini = free_runs);

static siamese_model *small_model(void) {
    siamese_model_params p = tu_model_params("conv(3,k=3) relu linear(5)", 1, 8, 8, 3);
    return tu_create_model(&p);
}

Test(eval_lake, scored_as_class_labels_say) {
    cr_assert(siamese_lake_runs_detect(tmp));
    cr_assert(siamese_lake_runs_detect(tu_path(tmp, "run01")));
    cr_assert(!siamese_lake_runs_detect(tu_path(tmp, "run01/test")));
    /* a class data set split into training/<class>/ and test/<class>/ is not a run */
    df_mkdir(tmp, "split");
    df_mkdir(tmp, "split/training");
    df_mkdir(tmp, "split/training/a");
    df_mkdir(tmp, "split/test");
    df_write_pgm(tmp, "split/training/a/1.pgm", 8, 8, 1);
    cr_assert(!siamese_lake_runs_detect(tu_path(tmp, "split")));
    siamese_model *m = small_model();
    siamese_lake_runs r;
    char msg[512];
    cr_assert_eq(siamese_eval_lake_runs(m, tmp, NULL, &r, msg, sizeof msg), SIAMESE_OK, "%s", msg);
    cr_assert_eq(r.run_count, 2);
    cr_assert_str_eq(r.runs[0].name, "run01");
    cr_assert_eq(r.runs[0].correct, 3);
    cr_assert_eq(r.runs[0].total, 3);
    cr_assert_eq(r.runs[1].correct, 3);
    cr_assert_eq(r.runs[1].total, 4);
    cr_assert_eq(r.correct, 6);
    cr_assert_float_eq(r.accuracy, 6.0 / 7.0, 1e-12);
    cr_assert_eq(r.images, 13);
    siamese_lake_runs_free(&r);
    /* one run folder on its own */
    cr_assert_eq(siamese_eval_lake_runs(m, tu_path(tmp, "run02"), NULL, &r, msg, sizeof msg),
                 SIAMESE_OK, "%s", msg);
    cr_assert_eq(r.run_count, 1);
    cr_assert_eq(r.correct, 3);
    siamese_lake_runs_free(&r);
    siamese_lake_runs_free(NULL);
    siamese_model_free(m);
}

Test(eval_lake, missing_class_labels_or_image_is_named) {
    siamese_model *m = small_model();
    siamese_lake_runs r;
    char msg[512];
    cr_assert_eq(remove(tu_path(tmp, "run01/test/item02.pgm")), 0);
    cr_assert_eq(siamese_eval_lake_runs(m, tmp, NULL, &r, msg, sizeof msg), SIAMESE_ERR_IO);
    cr_assert(strstr(msg, "run01/class_labels.txt:2") && strstr(msg, "item02.pgm not found"), "%s",
              msg);
    cr_assert_eq(remove(tu_path(tmp, "run02/class_labels.txt")), 0);
    cr_assert_eq(siamese_eval_lake_runs(m, tu_path(tmp, "run02"), NULL, &r, msg, sizeof msg),
                 SIAMESE_ERR_IO);
    cr_assert(strstr(msg, "run02/class_labels.txt: missing"), "%s", msg);
    cr_assert_eq(r.run_count, 0);
    siamese_model_free(m);
}
