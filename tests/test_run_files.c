/* The files a training run writes and reads back: config.json (every setting survives a save and
 * a load; a missing, unknown or malformed setting is a clear error) and the event JSON lines of
 * metrics.jsonl and 'siamese train --json'. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "run/run.h"
#include "siamese.h"
#include "test_util.h"

/* Settings that differ from every default, so a field that is not saved or not loaded shows. */
static siamese_train_params unusual_params(void) {
    siamese_train_params p = siamese_train_default_params();
    p.arch = "conv(4,k=3) relu linear(2)";
    p.channels = 1;
    p.height = 28;
    p.width = 23;
    p.metric = SIAMESE_METRIC_COSINE;
    p.margin = 1.25f;
    p.learning_rate = 3e-4f;
    p.weight_decay = 1e-5f;
    p.batch_size = 17;
    p.epochs = 7;
    p.seed = 0xfedcba9876543210u; /* above 2^63 */
    p.threads = 3;
    p.sampler = "pk";
    p.per_class = 5;
    p.pairs_per_epoch = 1234;
    p.split = SIAMESE_SPLIT_CLASSES;
    p.train_fraction = 0.7;
    p.log_every = 3;
    p.cache_bytes = (size_t)12345 << 20;
    p.fast_jpeg = 1;
    p.precision = SIAMESE_PRECISION_BF16;
    p.augment = "rotate=10,flip";
    p.pk_classes = 8;
    p.pk_images = 3;
    p.mining = SIAMESE_MINING_HARD;
    p.loss = SIAMESE_LOSS_TRIPLET;
    p.lr_schedule = SIAMESE_LR_STEP;
    p.warmup_steps = 9;
    p.lr_step_epochs = 2;
    p.lr_gamma = 0.5f;
    p.patience = 4;
    p.val_fraction = 0.25;
    return p;
}

static void save_unusual(const char *path) {
    siamese_train_params p = unusual_params();
    static sm_run_config c;
    sm_err err;
    sm_err_clear(&err);
    cr_assert_eq(sm_run_config_init(&c, "/data/faces", &p, &err), SIAMESE_OK, "%s", err.msg);
    cr_assert_eq(sm_run_config_save(&c, path, &err), SIAMESE_OK, "%s", err.msg);
}

Test(run_config, every_setting_survives_save_and_load) {
    char *dir = tu_make_temp_dir();
    char *path = strdup(tu_path(dir, "config.json"));
    save_unusual(path);
    static sm_run_config back;
    sm_err err;
    sm_err_clear(&err);
    cr_assert_eq(sm_run_config_load(&back, path, &err), SIAMESE_OK, "%s", err.msg);
    siamese_train_params want = unusual_params(), *got = &back.params;
    cr_assert_str_eq(back.data_path, "/data/faces");
    cr_assert_str_eq(got->arch, want.arch);
    cr_assert_eq(got->arch, back.arch, "strings point into the config");
    cr_assert_eq(got->channels, want.channels);
    cr_assert_eq(got->height, want.height);
    cr_assert_eq(got->width, want.width);
    cr_assert_eq(got->metric, want.metric);
    cr_assert_eq(got->margin, want.margin);
    cr_assert_eq(got->learning_rate, want.learning_rate);
    cr_assert_eq(got->weight_decay, want.weight_decay);
    cr_assert_eq(got->batch_size, want.batch_size);
    cr_assert_eq(got->epochs, want.epochs);
    cr_assert_eq(got->seed, want.seed);
    cr_assert_eq(got->threads, want.threads);
    cr_assert_str_eq(got->sampler, want.sampler);
    cr_assert_eq(got->per_class, want.per_class);
    cr_assert_eq(got->pairs_per_epoch, want.pairs_per_epoch);
    cr_assert_eq(got->split, want.split);
    cr_assert_eq(got->train_fraction, want.train_fraction);
    cr_assert_eq(got->log_every, want.log_every);
    cr_assert_eq(got->cache_bytes, want.cache_bytes);
    cr_assert_eq(got->fast_jpeg, want.fast_jpeg);
    cr_assert_eq(got->precision, want.precision);
    cr_assert_str_eq(got->augment, want.augment);
    cr_assert_eq(got->pk_classes, want.pk_classes);
    cr_assert_eq(got->pk_images, want.pk_images);
    cr_assert_eq(got->mining, want.mining);
    cr_assert_eq(got->loss, want.loss);
    cr_assert_eq(got->lr_schedule, want.lr_schedule);
    cr_assert_eq(got->warmup_steps, want.warmup_steps);
    cr_assert_eq(got->lr_step_epochs, want.lr_step_epochs);
    cr_assert_eq(got->lr_gamma, want.lr_gamma);
    cr_assert_eq(got->patience, want.patience);
    cr_assert_eq(got->val_fraction, want.val_fraction);
    free(path);
    tu_rmtree(dir);
    free(dir);
}

/* Writes text to path. */
static void write_text(const char *path, const char *text) {
    FILE *fp = fopen(path, "w");
    cr_assert_not_null(fp, "cannot write %s", path);
    fputs(text, fp);
    fclose(fp);
}

/* The saved unusual config with `from` replaced by `to` (the first occurrence). */
static void edit_saved(const char *path, const char *from, const char *to) {
    save_unusual(path);
    FILE *fp = fopen(path, "r");
    cr_assert_not_null(fp);
    char text[8192];
    size_t n = fread(text, 1, sizeof text - 1, fp);
    fclose(fp);
    text[n] = '\0';
    char *at = strstr(text, from);
    cr_assert_not_null(at, "'%s' not in %s", from, text);
    char edited[8192];
    snprintf(edited, sizeof edited, "%.*s%s%s", (int)(at - text), text, to, at + strlen(from));
    write_text(path, edited);
}

/* Loading fails with status and a message naming the file, want1 and want2. */
static void expect_load_error(const char *path, siamese_status status, const char *want1,
                              const char *want2) {
    static sm_run_config back;
    sm_err err;
    sm_err_clear(&err);
    cr_assert_eq(sm_run_config_load(&back, path, &err), status, "%s", err.msg);
    cr_assert(strstr(err.msg, path), "message does not name the file: %s", err.msg);
    cr_assert(strstr(err.msg, want1) && strstr(err.msg, want2), "%s", err.msg);
}

/* Loads path into back, asserting success. */
static void load_ok(const char *path, sm_run_config *back) {
    sm_err err;
    sm_err_clear(&err);
    cr_assert_eq(sm_run_config_load(back, path, &err), SIAMESE_OK, "%s", err.msg);
}

Test(run_config, missing_unknown_or_malformed_settings_are_clear_errors) {
    char *dir = tu_make_temp_dir();
    char *path = strdup(tu_path(dir, "config.json"));
    static const struct {
        const char *from, *to; /* the edit of the saved file */
        siamese_status status;
        const char *want1, *want2; /* in the message */
    } cases[] = {
        {"\"margin\":", "\"marginal\":", SIAMESE_ERR_FORMAT, "unknown setting", "'marginal'"},
        {"\"epochs\": 7,", "", SIAMESE_ERR_FORMAT, "'epochs'", "missing"},
        {"\"epochs\": 7", "\"epochs\": \"seven\"", SIAMESE_ERR_FORMAT, "'epochs'",
         "not an integer"},
        {"\"epochs\": 7", "\"epochs\": 4294967296", SIAMESE_ERR_FORMAT, "'epochs'", "range"},
        {"\"fast_jpeg\": true", "\"fast_jpeg\": 1", SIAMESE_ERR_FORMAT, "'fast_jpeg'",
         "true or false"},
        {"\"cosine\"", "\"manhattan\"", SIAMESE_ERR_FORMAT, "unknown metric", "'manhattan'"},
        {"\"epochs\": 7", "\"epochs\": 0", SIAMESE_ERR_INVALID_ARG, "epochs", "at least 1"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        edit_saved(path, cases[i].from, cases[i].to);
        expect_load_error(path, cases[i].status, cases[i].want1, cases[i].want2);
    }
    write_text(path, "[1, 2]");
    expect_load_error(path, SIAMESE_ERR_FORMAT, "not a JSON object", "");
    free(path);
    tu_rmtree(dir);
    free(dir);
}

Test(run_config, runs_from_before_bf16_load_as_fp32) {
    char *dir = tu_make_temp_dir();
    char *path = strdup(tu_path(dir, "config.json"));
    edit_saved(path, ",\n  \"precision\": \"bf16\"", "");
    static sm_run_config back;
    load_ok(path, &back);
    cr_assert_eq(back.params.precision, SIAMESE_PRECISION_FP32);
    free(path);
    tu_rmtree(dir);
    free(dir);
}

/* Runs from before the triplet loss have no "loss": they load as contrastive (the saved
 * settings say triplet, so a key that kept the saved value or no default would show). */
Test(run_config, runs_from_before_the_triplet_loss_load_as_contrastive) {
    char *dir = tu_make_temp_dir();
    char *path = strdup(tu_path(dir, "config.json"));
    save_unusual(path);
    static sm_run_config back;
    load_ok(path, &back);
    cr_assert_eq(back.params.loss, SIAMESE_LOSS_TRIPLET);
    edit_saved(path, ",\n  \"loss\": \"triplet\"", "");
    load_ok(path, &back);
    cr_assert_eq(back.params.loss, SIAMESE_LOSS_CONTRASTIVE);
    free(path);
    tu_rmtree(dir);
    free(dir);
}

/* Runs from before fine-tuning have no init, freeze or normalize: they load as none, whatever
 * the memory the loader gets held before (a freed block of the config's size, filled with 'x',
 * which malloc hands out again: the loader read these three from uninitialized memory, an init
 * path of garbage or an error; fuzz_regress caught it now and then). */
Test(run_config, runs_from_before_fine_tuning_load_with_none) {
    char *dir = tu_make_temp_dir();
    char *path = strdup(tu_path(dir, "config.json"));
    edit_saved(path, ",\n  \"init\": \"\",\n  \"freeze\": \"\",\n  \"normalize\": \"\"", "");
    static sm_run_config back;
    for (int round = 0; round < 3; round++) {
        volatile char *dirty = malloc(sizeof(sm_run_config));
        cr_assert_not_null(dirty);
        for (size_t i = 0; i < sizeof(sm_run_config); i++) dirty[i] = 'x';
        free((char *)dirty);
        load_ok(path, &back);
        cr_assert_str_empty(back.init, "init: '%.40s'", back.init);
        cr_assert_str_empty(back.freeze, "freeze: '%.40s'", back.freeze);
        cr_assert_str_empty(back.normalize, "normalize: '%.40s'", back.normalize);
    }
    free(path);
    tu_rmtree(dir);
    free(dir);
}

/* What --precision auto measured (not a setting of the params) survives a save and a load. */
Test(run_config, precision_measurements_survive_save_and_load) {
    char *dir = tu_make_temp_dir();
    char *path = strdup(tu_path(dir, "config.json"));
    siamese_train_params p = unusual_params();
    static sm_run_config measured, back;
    sm_err err;
    sm_err_clear(&err);
    cr_assert_eq(sm_run_config_init(&measured, "/data/faces", &p, &err), SIAMESE_OK, "%s", err.msg);
    strcpy(measured.precision_chosen, "bf16");
    measured.precision_fp32_seconds = 0.5;
    measured.precision_bf16_seconds = 0.25;
    cr_assert_eq(sm_run_config_save(&measured, path, &err), SIAMESE_OK, "%s", err.msg);
    load_ok(path, &back);
    cr_assert_str_eq(back.precision_chosen, "bf16");
    cr_assert_eq(back.precision_fp32_seconds, 0.5);
    cr_assert_eq(back.precision_bf16_seconds, 0.25);
    free(path);
    tu_rmtree(dir);
    free(dir);
}

/* ---- the event serializer behind metrics.jsonl and 'siamese train --json' */

Test(train_event_json, epoch_event_fields_counted_from_one) {
    siamese_train_event e;
    memset(&e, 0, sizeof e);
    e.kind = SIAMESE_EVENT_EPOCH;
    e.epoch = 0;
    e.epochs = 3;
    e.batch = 11;
    e.batches = 12;
    e.step = 12;
    e.loss = 0.5f;
    e.test_loss = 0.25f;
    e.test_auc = NAN; /* JSON has no NaN */
    e.test_accuracy = 0.75f;
    e.threshold = 1.5f;
    e.pairs_per_second = 100;
    e.elapsed = 4;
    e.data_wait = 1;
    e.loop_time = 4, e.step_time = 3, e.eval_time = 0.5, e.save_time = 0.25, e.loader_cpu = 0.125;
    e.step_cpu = 6;
    e.val_loss = e.val_auc = NAN; /* no validation classes */
    char line[1024];
    int n = siamese_train_event_json(&e, line, sizeof line);
    cr_assert_eq(n, (int)strlen(line));
    cr_assert_str_eq(line,
                     "{\"event\":\"epoch\",\"epoch\":1,\"epochs\":3,\"batch\":12,\"batches\":12,"
                     "\"step\":12,\"train_loss\":0.5,\"test_loss\":0.25,\"test_auc\":null,"
                     "\"test_accuracy\":0.75,\"threshold\":1.5,\"pairs_per_sec\":100.0,"
                     "\"elapsed\":4.0,\"eta\":0.0,\"data_wait\":1.0,"
                     "\"data_wait_fraction\":0.25,\"loop_time\":4.0,\"step_time\":3.0,"
                     "\"loop_overhead\":0.25,\"step_cpu\":6.0,\"eval_time\":0.5,\"save_time\":0.25,"
                     "\"loader_cpu\":0.125}");
    /* like snprintf: the full length when the buffer is short, the text cut and terminated */
    char small[16];
    cr_assert_eq(siamese_train_event_json(&e, small, sizeof small), n);
    cr_assert_eq(strlen(small), sizeof small - 1);
    cr_assert_eq(siamese_train_event_json(NULL, line, sizeof line), -1);
    /* with validation classes */
    e.val_loss = 0.125f;
    e.val_auc = 0.875f;
    siamese_train_event_json(&e, line, sizeof line);
    cr_assert(strstr(line, "\"threshold\":1.5,\"val_loss\":0.125,\"val_auc\":0.875,"), "%s", line);
}

Test(train_event_json, log_and_message_events) {
    siamese_train_event e;
    memset(&e, 0, sizeof e);
    e.kind = SIAMESE_EVENT_LOG;
    e.epoch = 4;
    e.batch = 9;
    e.loss = 0.125f;
    e.lr = 0.25f;
    char line[1024];
    siamese_train_event_json(&e, line, sizeof line);
    cr_assert(strstr(line, "{\"event\":\"log\",\"epoch\":5,") == line, "%s", line);
    cr_assert(strstr(line, "\"batch\":10,") && strstr(line, "\"train_loss\":0.125,\"lr\":0.25,"),
              "%s", line);
    cr_assert_null(strstr(line, "test_"), "%s", line);
    e.kind = SIAMESE_EVENT_WARNING;
    e.message = "a \"quoted\"\tpath";
    siamese_train_event_json(&e, line, sizeof line);
    cr_assert_str_eq(line, "{\"event\":\"warning\",\"message\":\"a \\\"quoted\\\"\\tpath\"}");
}
