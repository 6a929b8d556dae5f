/* A training run reports the message of the handle that failed, and its run folder's refusals in
 * the API's words, never a command-line flag. The linker's --wrap (see CMakeLists.txt) lets this
 * test make the evaluation on the test pairs, or the sampling of an epoch's pairs, fail inside a
 * real run on a tiny data set. */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "dataset_fixtures.h"
#include "siamese.h"
#include "test_util.h"

static int fail_evaluate;               /* evaluation fails (the trainer refuses the call) */
static int fail_online_from_epoch = -1; /* online sampling of train pairs fails from this epoch */

siamese_status __real_siamese_trainer_evaluate(siamese_trainer *trainer, const float *a,
                                               const float *b, const float *labels, int n,
                                               float *loss, float *distances);
siamese_status __wrap_siamese_trainer_evaluate(siamese_trainer *trainer, const float *a,
                                               const float *b, const float *labels, int n,
                                               float *loss, float *distances);
siamese_status __real_siamese_pairs_online(siamese_dataset *dataset, const siamese_split *split,
                                           int side, int count, uint64_t seed, int epoch,
                                           siamese_pairs *out);
siamese_status __wrap_siamese_pairs_online(siamese_dataset *dataset, const siamese_split *split,
                                           int side, int count, uint64_t seed, int epoch,
                                           siamese_pairs *out);

/* Without labels the trainer itself refuses, with its own message. */
siamese_status __wrap_siamese_trainer_evaluate(siamese_trainer *trainer, const float *a,
                                               const float *b, const float *labels, int n,
                                               float *loss, float *distances) {
    return __real_siamese_trainer_evaluate(trainer, a, b, fail_evaluate ? NULL : labels, n, loss,
                                           distances);
}

/* Asking for no pairs makes the dataset refuse, with its own message. */
siamese_status __wrap_siamese_pairs_online(siamese_dataset *dataset, const siamese_split *split,
                                           int side, int count, uint64_t seed, int epoch,
                                           siamese_pairs *out) {
    int fail = side == 0 && fail_online_from_epoch >= 0 && epoch >= fail_online_from_epoch;
    return __real_siamese_pairs_online(dataset, split, side, fail ? 0 : count, seed, epoch, out);
}

static siamese_train_params tiny_params(void) {
    siamese_train_params p = siamese_train_default_params();
    p.arch = "conv(4,k=3) relu maxpool(2) linear(8)";
    p.channels = 1;
    p.height = 8;
    p.width = 8;
    p.epochs = 3;
    p.batch_size = 4;
    p.threads = 1;
    p.seed = 3;
    p.log_every = 1;
    p.split = SIAMESE_SPLIT_IMAGES;
    return p;
}

static char *make_data(void) {
    char *dir = tu_make_temp_dir();
    df_make_classes(dir, 4, 6, 8, 8);
    return dir;
}

Test(run_errors, evaluation_failure_reports_the_trainer) {
    char *dir = make_data();
    char err[1024];
    siamese_train_params p = tiny_params();
    fail_evaluate = 1;
    cr_assert_eq(siamese_train(dir, tu_path(dir, "run"), &p, err, sizeof err),
                 SIAMESE_ERR_INVALID_ARG);
    cr_assert(strstr(err, "evaluation on the test pairs"), "%s", err);
    cr_assert(strstr(err, "trainer: NULL images, labels or output"), "%s", err);
    tu_rmtree(dir);
    free(dir);
}

Test(run_errors, pair_sampling_failure_keeps_its_message) {
    char *dir = make_data();
    char err[1024];
    siamese_train_params p = tiny_params();
    p.sampler = "online";
    p.pairs_per_epoch = 16;
    fail_online_from_epoch = 1; /* the first epoch runs, the second cannot sample its pairs */
    cr_assert_eq(siamese_train(dir, tu_path(dir, "run"), &p, err, sizeof err),
                 SIAMESE_ERR_INVALID_ARG);
    cr_assert(strstr(err, "pair count 0 out of range"), "%s", err);
    tu_rmtree(dir);
    free(dir);
}

Test(run_errors, the_same_runs_succeed_without_faults) {
    char *dir = make_data();
    char err[1024];
    siamese_train_params p = tiny_params();
    p.sampler = "online";
    p.pairs_per_epoch = 16;
    cr_assert_eq(siamese_train(dir, tu_path(dir, "run"), &p, err, sizeof err), SIAMESE_OK, "%s",
                 err);
    tu_rmtree(dir);
    free(dir);
}

/* err says what (want) and names no command-line flag: a C caller has none */
static void expect_plain(const char *err, const char *want) {
    cr_assert(strstr(err, want), "'%s' not in '%s'", want, err);
    cr_assert(!strstr(err, "--"), "a library message names a CLI flag: %s", err);
}

Test(run_errors, run_folder_messages_name_api_concepts_not_flags) {
    char *dir = make_data(), *runs = tu_make_temp_dir(); /* a run inside its data is a class */
    char err[1024], run[512];
    snprintf(run, sizeof run, "%s/run", runs);
    siamese_train_params p = tiny_params();
    p.epochs = 1;
    volatile sig_atomic_t stop = 1; /* stops after the first step, its checkpoint saved */
    p.stop = &stop;
    cr_assert_eq(siamese_train(dir, run, &p, err, sizeof err), SIAMESE_ERR_INTERRUPTED, "%s", err);
    expect_plain(err, "checkpoint saved: resume the run in");
    p.stop = NULL;
    cr_assert_eq(siamese_train(dir, run, &p, err, sizeof err), SIAMESE_ERR_EXISTS);
    cr_assert_str_eq(siamese_status_str(SIAMESE_ERR_EXISTS), "already exists");
    expect_plain(err, "already holds a training run: resume it, choose another folder, or "
                      "overwrite it");
    siamese_train_params again = siamese_train_default_params();
    again.epochs = 1;
    cr_assert_eq(siamese_train_resume(run, NULL, err, sizeof err), SIAMESE_OK, "%s", err);
    cr_assert_str_eq(err, "");
    cr_assert_eq(siamese_train_resume(run, &again, err, sizeof err), SIAMESE_ERR_INVALID_ARG);
    expect_plain(err, "has done 1 epoch; a total of 1 epoch would add none: give more than 1");
    cr_assert_eq(siamese_train_resume(tu_path(dir, "missing"), NULL, err, sizeof err),
                 SIAMESE_ERR_IO);
    expect_plain(err, "missing: no such folder");
    cr_assert_eq(siamese_train_resume(tu_path(dir, "cls_00/img_00.pgm"), NULL, err, sizeof err),
                 SIAMESE_ERR_IO);
    expect_plain(err, "img_00.pgm: not a folder");
    cr_assert_eq(siamese_train_resume(tu_path(dir, "cls_00"), NULL, err, sizeof err),
                 SIAMESE_ERR_IO);
    expect_plain(err, "nothing to resume");
    expect_plain(err, "start it again with the same settings, overwriting this folder");
    tu_rmtree(runs);
    free(runs);
    tu_rmtree(dir);
    free(dir);
}
