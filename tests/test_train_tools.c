/* Training tools around the run: learning-rate schedules, the tools' settings in config.json
 * (and runs from before them), their checks, and validation classes held out of training. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/split_val.h"
#include "dataset_fixtures.h"
#include "nn/arch.h"
#include "run/run.h"
#include "run/run_tools.h"
#include "test_util.h"

/* ---- schedules */

Test(lr_schedule, warmup_constant_step_and_cosine) {
    const double lr = 0.01;
    /* warmup: lr * (step + 1) / warmup, then the schedule from step 0 of its own */
    cr_assert_float_eq(siamese_lr_at(SIAMESE_LR_CONSTANT, lr, 0, 100, 4, 0, 0.1), 0.0025, 1e-15);
    cr_assert_float_eq(siamese_lr_at(SIAMESE_LR_CONSTANT, lr, 3, 100, 4, 0, 0.1), 0.01, 1e-15);
    cr_assert_float_eq(siamese_lr_at(SIAMESE_LR_CONSTANT, lr, 99, 100, 4, 0, 0.1), 0.01, 1e-15);
    /* step: times gamma every 10 steps after the warmup */
    cr_assert_float_eq(siamese_lr_at(SIAMESE_LR_STEP, lr, 13, 100, 4, 10, 0.1), 0.01, 1e-15);
    cr_assert_float_eq(siamese_lr_at(SIAMESE_LR_STEP, lr, 14, 100, 4, 10, 0.1), 0.001, 1e-15);
    cr_assert_float_eq(siamese_lr_at(SIAMESE_LR_STEP, lr, 34, 100, 4, 10, 0.5), 0.00125, 1e-15);
    /* cosine: lr at the first step after warmup, lr / 2 halfway, 0 at the last step */
    cr_assert_float_eq(siamese_lr_at(SIAMESE_LR_COSINE, lr, 0, 101, 0, 0, 0.1), 0.01, 1e-15);
    cr_assert_float_eq(siamese_lr_at(SIAMESE_LR_COSINE, lr, 50, 101, 0, 0, 0.1), 0.005, 1e-15);
    cr_assert_float_eq(siamese_lr_at(SIAMESE_LR_COSINE, lr, 100, 101, 0, 0, 0.1), 0.0, 1e-15);
    cr_assert_float_eq(siamese_lr_at(SIAMESE_LR_COSINE, lr, 500, 101, 0, 0, 0.1), 0.0, 1e-15);
    cr_assert_float_eq(siamese_lr_at(SIAMESE_LR_COSINE, lr, 10, 111, 10, 0, 0.1), 0.01, 1e-15);
    /* monotone after warmup */
    for (int s = 11; s < 111; s++)
        cr_assert(siamese_lr_at(SIAMESE_LR_COSINE, lr, s, 111, 10, 0, 0.1) <=
                  siamese_lr_at(SIAMESE_LR_COSINE, lr, s - 1, 111, 10, 0, 0.1));
    siamese_lr_schedule k;
    cr_assert_eq(siamese_lr_schedule_parse("cosine", &k), SIAMESE_OK);
    cr_assert_eq(k, SIAMESE_LR_COSINE);
    cr_assert_eq(siamese_lr_schedule_parse("linear", &k), SIAMESE_ERR_INVALID_ARG);
}

Test(lr_schedule, run_steps_span_the_epochs) {
    siamese_train_params p = siamese_train_default_params();
    p.epochs = 6;
    p.learning_rate = 1.0f;
    p.lr_schedule = SIAMESE_LR_STEP;
    p.lr_gamma = 0.5f;
    /* a third of 6 x 10 steps between decays by default, lr_step_epochs x 10 when given */
    cr_assert_float_eq(sm_run_tools_lr(&p, 19, 10), 1.0, 1e-12);
    cr_assert_float_eq(sm_run_tools_lr(&p, 20, 10), 0.5, 1e-12);
    p.lr_step_epochs = 1;
    cr_assert_float_eq(sm_run_tools_lr(&p, 25, 10), 0.25, 1e-12);
    p.lr_schedule = SIAMESE_LR_CONSTANT;
    cr_assert_float_eq(sm_run_tools_lr(&p, 59, 10), 1.0, 1e-12);
}

/* ---- settings */

static siamese_train_params tool_params(void) {
    siamese_train_params p = siamese_train_default_params();
    p.sampler = "pk";
    p.split = SIAMESE_SPLIT_CLASSES;
    p.pk_classes = 12;
    p.pk_images = 5;
    p.mining = SIAMESE_MINING_SEMIHARD;
    p.augment = "koch,flip=0.25";
    p.lr_schedule = SIAMESE_LR_COSINE;
    p.warmup_steps = 77;
    p.lr_step_epochs = 3;
    p.lr_gamma = 0.25f;
    p.patience = 4;
    p.val_fraction = 0.3;
    return p;
}

Test(train_tools_config, settings_survive_save_and_load) {
    char *dir = tu_make_temp_dir();
    const char *path = tu_path(dir, "config.json");
    static sm_run_config c, back;
    sm_err err;
    sm_err_clear(&err);
    siamese_train_params p = tool_params();
    cr_assert_eq(sm_run_config_init(&c, "/data/omniglot", &p, &err), SIAMESE_OK, "%s", err.msg);
    cr_assert_eq(sm_run_config_save(&c, path, &err), SIAMESE_OK, "%s", err.msg);
    cr_assert_eq(sm_run_config_load(&back, path, &err), SIAMESE_OK, "%s", err.msg);
    const siamese_train_params *g = &back.params;
    cr_assert_str_eq(g->sampler, "pk");
    cr_assert_str_eq(g->augment, "koch,flip=0.25");
    cr_assert_eq(g->augment, back.augment, "strings point into the config");
    cr_assert_eq(g->pk_classes, 12);
    cr_assert_eq(g->pk_images, 5);
    cr_assert_eq(g->mining, SIAMESE_MINING_SEMIHARD);
    cr_assert_eq(g->lr_schedule, SIAMESE_LR_COSINE);
    cr_assert_eq(g->warmup_steps, 77);
    cr_assert_eq(g->lr_step_epochs, 3);
    cr_assert_eq(g->lr_gamma, 0.25f);
    cr_assert_eq(g->patience, 4);
    cr_assert_eq(g->val_fraction, 0.3);
    tu_rmtree(dir);
    free(dir);
}

Test(train_tools_config, runs_from_before_the_tools_keep_the_recipe) {
    char *dir = tu_make_temp_dir();
    const char *path = tu_path(dir, "config.json");
    static sm_run_config c, back;
    sm_err err;
    sm_err_clear(&err);
    siamese_train_params p = siamese_train_default_params();
    cr_assert_eq(sm_run_config_init(&c, "/data/dogs", &p, &err), SIAMESE_OK, "%s", err.msg);
    cr_assert_eq(sm_run_config_save(&c, path, &err), SIAMESE_OK, "%s", err.msg);
    /* drop every key the tools added, as a config.json of an older run */
    size_t size;
    char *text = (char *)tu_read_file(path, &size);
    cr_assert_not_null(text);
    char *cut = strstr(text, ",\n  \"augment\"");
    cr_assert_not_null(cut, "%s", text);
    strcpy(cut, "\n}\n");
    FILE *fp = fopen(path, "w");
    fputs(text, fp);
    fclose(fp);
    free(text);
    cr_assert_eq(sm_run_config_load(&back, path, &err), SIAMESE_OK, "%s", err.msg);
    siamese_train_params d = siamese_train_default_params();
    cr_assert_str_eq(back.params.augment, "");
    cr_assert_eq(back.params.pk_classes, d.pk_classes);
    cr_assert_eq(back.params.mining, SIAMESE_MINING_NONE);
    cr_assert_eq(back.params.loss, SIAMESE_LOSS_CONTRASTIVE);
    cr_assert_eq(back.params.lr_schedule, SIAMESE_LR_CONSTANT);
    cr_assert_eq(back.params.lr_gamma, d.lr_gamma);
    cr_assert_eq(back.params.patience, 0);
    cr_assert_eq(back.params.val_fraction, 0.0);
    tu_rmtree(dir);
    free(dir);
}

/* sm_run_config_init fails with INVALID_ARG and a message holding want, and so does the public
 * siamese_train_params_check (what siamese train calls a usage error) with the same message. */
static void expect_rejected(siamese_train_params p, const char *want) {
    static sm_run_config c;
    sm_err err;
    sm_err_clear(&err);
    cr_assert_eq(sm_run_config_init(&c, "/data", &p, &err), SIAMESE_ERR_INVALID_ARG, "%s", want);
    cr_assert(strstr(err.msg, want) != NULL, "'%s' not in '%s'", want, err.msg);
    cr_assert(strstr(err.msg, "--") == NULL, "a library message names a CLI flag: %s", err.msg);
    char msg[SM_ERRMSG_MAX];
    cr_assert_eq(siamese_train_params_check(&p, msg, sizeof msg), SIAMESE_ERR_INVALID_ARG);
    cr_assert_str_eq(msg, err.msg);
}

Test(train_tools_config, settings_that_do_not_fit_are_rejected) {
    siamese_train_params p = siamese_train_default_params();
    char msg[64] = "untouched";
    cr_assert_eq(siamese_train_params_check(&p, msg, sizeof msg), SIAMESE_OK);
    cr_assert_str_eq(msg, "");
    p.batch_size = 70000;
    expect_rejected(p, "batch size 70000 is out of range (1 to 65536)");
    p = siamese_train_default_params();
    p.sampler = "online";
    p.split = SIAMESE_SPLIT_PAIRS;
    expect_rejected(p, "online sampling draws new pairs every epoch");
    p = siamese_train_default_params();
    p.mining = SIAMESE_MINING_HARD;
    expect_rejected(p, "mining hard needs batches of labelled images: use sampler pk");
    p = siamese_train_default_params();
    p.loss = SIAMESE_LOSS_TRIPLET;
    expect_rejected(p, "triplet loss needs batches of labelled images");
    p = tool_params();
    p.loss = (siamese_loss)5;
    expect_rejected(p, "loss 5 is neither");
    p = tool_params();
    p.split = SIAMESE_SPLIT_PAIRS;
    p.val_fraction = 0;
    expect_rejected(p, "split over images or classes");
    p = tool_params();
    p.pk_images = 1;
    expect_rejected(p, "at least 2");
    p = tool_params();
    p.augment = "koch,twist=2";
    expect_rejected(p, "twist=2");
    p = tool_params();
    p.lr_gamma = 0;
    expect_rejected(p, "(0, 1]");
    p = tool_params();
    p.val_fraction = 1;
    expect_rejected(p, "validation share");
    p = tool_params();
    p.warmup_steps = -1;
    expect_rejected(p, "negative");
}

/* Each setting config.json records by name, given a value outside its enum, is named and
 * refused (it would be recorded as SIAMESE_NAME_UNKNOWN, which no resume reads back). */
Test(train_tools_config, settings_outside_their_enum_are_rejected) {
    siamese_train_params p[5];
    for (int i = 0; i < 5; i++) p[i] = siamese_train_default_params();
    p[0].metric = (siamese_metric)99;
    p[1].precision = (siamese_precision)-1;
    p[2].split = (siamese_split_kind)3;
    p[3].mining = (siamese_mining)4;
    p[4].lr_schedule = (siamese_lr_schedule)-1;
    const char *want[] = {"metric 99", "precision -1", "split 3", "mining 4", "lr_schedule -1"};
    for (int i = 0; i < 5; i++) {
        char text[96];
        snprintf(text, sizeof text, "%s is none of its enum's values", want[i]);
        expect_rejected(p[i], text);
    }
}

Test(train_tools_config, the_model_a_run_trains_takes_the_run_settings) {
    siamese_train_params p = siamese_train_default_params();
    p.arch = "mnist";
    p.channels = 1;
    p.height = 28;
    p.width = 28;
    p.embedding_dim = 16;
    p.metric = SIAMESE_METRIC_COSINE;
    p.margin = 0.75f;
    p.seed = 9;
    p.threads = 1;
    siamese_model_params mp = siamese_train_model_params(&p);
    cr_assert_str_eq(mp.arch, "mnist");
    cr_assert(mp.channels == 1 && mp.height == 28 && mp.width == 28 && mp.embedding_dim == 16);
    cr_assert(mp.metric == SIAMESE_METRIC_COSINE && mp.margin == 0.75f && mp.seed == 9);
    siamese_model *model = NULL;
    cr_assert_eq(siamese_model_create(&mp, &model), SIAMESE_OK);
    cr_assert_eq(siamese_model_embedding_dim(model), 16);
    siamese_model_free(model);
    /* the threads and the input normalisation too (not created: imagenet needs 3 channels) */
    p.threads = 3;
    p.normalize = "imagenet";
    mp = siamese_train_model_params(&p);
    cr_assert(mp.threads == 3 && mp.normalize && !strcmp(mp.normalize, "imagenet"));
}

/* ---- the faces preset */

Test(faces_preset, grey_92x112_to_a_128_d_embedding) {
    sm_shape in;
    const char *text = sm_arch_preset_text("faces", &in);
    cr_assert_not_null(text);
    cr_assert(in.c == 1 && in.h == 112 && in.w == 92, "%dx%dx%d", in.c, in.h, in.w);
    sm_arch a;
    sm_err err;
    sm_err_clear(&err);
    cr_assert_eq(sm_arch_parse(text, in, &a, &err), SIAMESE_OK, "%s", err.msg);
    cr_assert_eq(sm_arch_embedding_dim(&a), 128);
    sm_shape last_pool = a.layers[11].out_shape;
    cr_assert(last_pool.c == 128 && last_pool.h == 6 && last_pool.w == 5, "%dx%dx%d", last_pool.c,
              last_pool.h, last_pool.w);
}

/* ---- validation classes */

static siamese_dataset *ds;

static void make_classes(void) {
    tu_temp_init();
    for (int c = 0; c < 10; c++) {
        char rel[64];
        snprintf(rel, sizeof rel, "k%d", c);
        df_mkdir(tu_temp, rel);
        for (int i = 0; i < 3; i++) {
            snprintf(rel, sizeof rel, "k%d/%d.pgm", c, i);
            df_write_pgm(tu_temp, rel, 6, 5, (unsigned)(c * 10 + i + 1));
        }
    }
    cr_assert_eq(siamese_dataset_open(tu_temp, NULL, &ds), SIAMESE_OK);
}

static void drop_classes(void) {
    siamese_dataset_free(ds);
    tu_temp_fini();
}

TestSuite(validation, .init = make_classes, .fini = drop_classes);

Test(validation, held_out_training_classes_never_the_test_side) {
    siamese_split *split = NULL, *val = NULL, *again = NULL;
    cr_assert_eq(siamese_split_create(ds, SIAMESE_SPLIT_CLASSES, NULL, 0.8, 1, &split), SIAMESE_OK);
    cr_assert_eq(sm_split_validation(split, 0.25, 7, &val), SIAMESE_OK, "%s",
                 siamese_dataset_errmsg(ds));
    int train = 0, held = 0;
    for (int c = 0; c < 10; c++) {
        int side = siamese_split_class_side(split, c), v = siamese_split_class_side(val, c);
        if (side == 1) cr_assert_eq(v, -1, "test class %d in the validation split", c);
        if (side == 0) cr_assert(v == 0 || v == 1);
        train += v == 0;
        held += v == 1;
    }
    cr_assert_eq(held, 2); /* round(0.25 x 8) */
    cr_assert_eq(train, 6);
    for (int i = 0; i < siamese_dataset_image_count(ds); i++) {
        int c = siamese_dataset_image_class(ds, i);
        cr_assert_eq(siamese_split_image_side(val, i), siamese_split_class_side(val, c));
    }
    /* the same seed holds out the same classes; recipe pairs come from both sides */
    cr_assert_eq(sm_split_validation(split, 0.25, 7, &again), SIAMESE_OK);
    for (int c = 0; c < 10; c++)
        cr_assert_eq(siamese_split_class_side(val, c), siamese_split_class_side(again, c));
    siamese_pairs pairs;
    cr_assert_eq(siamese_pairs_recipe(ds, val, 1, 3, 5, &pairs), SIAMESE_OK);
    for (int i = 0; i < pairs.count; i++)
        cr_assert_eq(siamese_split_image_side(val, pairs.items[i].a), 1);
    siamese_pairs_free(&pairs);
    siamese_split_free(again);
    siamese_split_free(val);
    siamese_split_free(split);
}

Test(validation, too_few_classes_or_a_pairs_split_are_refused) {
    siamese_split *split = NULL, *val = NULL;
    cr_assert_eq(siamese_split_create(ds, SIAMESE_SPLIT_CLASSES, NULL, 0.3, 1, &split), SIAMESE_OK);
    /* 3 training classes cannot give 2 for validation and keep 2 */
    cr_assert_eq(sm_split_validation(split, 0.5, 7, &val), SIAMESE_ERR_INVALID_ARG);
    cr_assert(strstr(siamese_dataset_errmsg(ds), "3 training classes") != NULL, "%s",
              siamese_dataset_errmsg(ds));
    cr_assert_null(val);
    siamese_split_free(split);
    siamese_pairs all;
    cr_assert_eq(siamese_pairs_recipe(ds, NULL, 0, 2, 1, &all), SIAMESE_OK);
    cr_assert_eq(siamese_split_create(ds, SIAMESE_SPLIT_PAIRS, &all, 0.8, 1, &split), SIAMESE_OK);
    cr_assert_eq(sm_split_validation(split, 0.2, 7, &val), SIAMESE_ERR_INVALID_ARG);
    cr_assert(strstr(siamese_dataset_errmsg(ds), "not over pairs") != NULL);
    siamese_pairs_free(&all);
    siamese_split_free(split);
}
