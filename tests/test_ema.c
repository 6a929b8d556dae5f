/* The moving average of the weights (siamese train --ema): the update rule and its warm-up
 * against hand-computed values, the swap, and runs: the saved models are the average, and a run
 * interrupted mid-epoch and resumed ends with the uninterrupted run's files, bit for bit. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"
#include "dataset_fixtures.h"
#include "model/model.h"
#include "run/ema.h"
#include "run/run.h"
#include "test_util.h"

/* ---- the rule */

Test(ema, the_decay_warms_up_as_1_plus_t_over_10_plus_t_then_holds) {
    cr_assert_float_eq(sm_ema_decay_at(0.999f, 1), 2.0f / 11.0f, 1e-7);
    cr_assert_float_eq(sm_ema_decay_at(0.999f, 8), 0.5f, 1e-7);
    cr_assert_float_eq(sm_ema_decay_at(0.999f, 990), 0.991f, 1e-7);
    cr_assert_eq(sm_ema_decay_at(0.999f, 8991), 0.999f); /* 8992 / 9001 > 0.999 */
    cr_assert_eq(sm_ema_decay_at(0.999f, 1000000), 0.999f);
    cr_assert_float_eq(sm_ema_decay_at(0.2f, 1), 2.0f / 11.0f, 1e-7); /* below 0.2 */
    cr_assert_eq(sm_ema_decay_at(0.2f, 2), 0.2f);                     /* 3/12 > 0.2 */
}

/* decay 0.2 from params (1, -2, 0.5) and buffers (4, 0); the live values after steps 1, 2, 3 are
 * (2, 0, 1 | 3, 1), (3, 1, -1 | 2, 2), (0, 0, 0 | 1, 1). By hand, s = d s + (1 - d) live:
 * step 1, d = 2/11: s = 2/11 (1, -2, 1/2 | 4, 0) + 9/11 (2, 0, 1 | 3, 1)
 *                     = (20/11, -4/11, 10/11 | 35/11, 9/11);
 * step 2, d = min(0.2, 3/12) = 1/5: s = (152/55, 8/11, -34/55 | 123/55, 97/55);
 * step 3, d = 1/5: s = (152/275, 8/55, -34/275 | 343/275, 317/275). */
Test(ema, the_shadow_moves_by_the_hand_computed_amounts) {
    float params[3] = {1, -2, 0.5f}, buffers[2] = {4, 0};
    sm_ema ema;
    cr_assert_eq(sm_ema_init(&ema, 0.2f, params, 3, buffers, 2), 0);
    cr_assert(sm_ema_on(&ema));
    const float live[3][5] = {{2, 0, 1, 3, 1}, {3, 1, -1, 2, 2}, {0, 0, 0, 1, 1}};
    const double want[3][5] = {
        {20.0 / 11, -4.0 / 11, 10.0 / 11, 35.0 / 11, 9.0 / 11},
        {152.0 / 55, 8.0 / 11, -34.0 / 55, 123.0 / 55, 97.0 / 55},
        {152.0 / 275, 8.0 / 55, -34.0 / 275, 343.0 / 275, 317.0 / 275},
    };
    for (int t = 1; t <= 3; t++) {
        sm_ema_update(&ema, live[t - 1], live[t - 1] + 3, t);
        for (int i = 0; i < 5; i++) {
            float got = i < 3 ? ema.params[i] : ema.buffers[i - 3];
            cr_assert(fabs(got - want[t - 1][i]) < 1e-6, "step %d, value %d: %.9g, want %.9g", t, i,
                      (double)got, want[t - 1][i]);
        }
    }
    /* the starting weights were copied, not aliased */
    cr_assert_eq(params[0], 1.0f);
    cr_assert_eq(buffers[0], 4.0f);
    sm_ema_free(&ema);
    cr_assert(!sm_ema_on(&ema));
}

Test(ema, two_swaps_exchange_and_give_the_live_weights_back_bit_for_bit) {
    float start[4] = {0.1f, 0.2f, 0.3f, 0.4f}, buf_start[1] = {7};
    sm_ema ema;
    cr_assert_eq(sm_ema_init(&ema, 0.9f, start, 4, buf_start, 1), 0);
    float live[4] = {1.0f / 3, -2.5f, 1e-7f, 3e5f}, buf[1] = {-1};
    sm_ema_update(&ema, live, buf, 1);
    float shadow[4], shadow_buf = ema.buffers[0], kept[4] = {1.0f / 3, -2.5f, 1e-7f, 3e5f};
    memcpy(shadow, ema.params, sizeof shadow);
    sm_ema_swap(&ema, live, buf);
    cr_assert_eq(memcmp(live, shadow, sizeof live), 0, "the average is not in the network");
    cr_assert_eq(buf[0], shadow_buf);
    sm_ema_swap(&ema, live, buf);
    cr_assert_eq(memcmp(live, kept, sizeof live), 0, "the live weights did not come back");
    cr_assert_eq(memcmp(ema.params, shadow, sizeof shadow), 0);
    cr_assert_eq(buf[0], -1.0f);
    sm_ema_free(&ema);
}

Test(ema, decay_0_is_off_and_every_call_does_nothing) {
    float params[2] = {1, 2}, buffers[1] = {3};
    sm_ema ema;
    cr_assert_eq(sm_ema_init(&ema, 0.0f, params, 2, buffers, 1), 0);
    cr_assert(!sm_ema_on(&ema));
    sm_ema_update(&ema, params, buffers, 1);
    sm_ema_swap(&ema, params, buffers);
    cr_assert(params[0] == 1 && params[1] == 2 && buffers[0] == 3);
    sm_ema_free(&ema);
}

/* ---- runs on 5 classes x 4 random 12x12 images: 24 training pairs, 6 batches of 4 an epoch */

#define ARCH "conv(4,k=3,s=2) batchnorm relu flatten linear(8)"

static void make_data(const char *dir) {
    cr_assert_eq(mkdir(dir, 0777), 0, "mkdir %s", dir);
    df_make_classes(dir, 5, 4, 12, 12);
}

typedef struct stopper {
    volatile sig_atomic_t stop;
    int64_t at_step;
} stopper;

static void on_event(void *user, const siamese_train_event *e) {
    stopper *s = user;
    if (e->kind == SIAMESE_EVENT_STEP && s->at_step > 0 && e->step == s->at_step) s->stop = 1;
}

static siamese_train_params run_params(float ema) {
    siamese_train_params p = siamese_train_default_params();
    p.arch = ARCH;
    p.channels = 1, p.height = 12, p.width = 12;
    p.batch_size = 4, p.epochs = 3, p.threads = 1, p.seed = 11;
    p.learning_rate = 1e-2f;
    p.ema_decay = ema;
    return p;
}

/* A 3-epoch run into tu_temp/name, stopped after stop_step (0 = never) and resumed. */
static char *train(const char *data, const char *name, float ema, int64_t stop_step) {
    char *run = sm_path_join(tu_temp, name);
    siamese_train_params p = run_params(ema);
    stopper s = {0, stop_step};
    p.callback = on_event;
    p.callback_user = &s;
    p.stop = &s.stop;
    char err[1024];
    siamese_status st = siamese_train(data, run, &p, err, sizeof err);
    if (stop_step > 0) {
        cr_assert_eq(st, SIAMESE_ERR_INTERRUPTED, "%s", err);
        siamese_train_params rp = siamese_train_default_params();
        rp.epochs = 0;
        st = siamese_train_resume(run, &rp, err, sizeof err);
    }
    cr_assert_eq(st, SIAMESE_OK, "%s", err);
    return run;
}

/* Trains p on fresh test data into tu_temp/name: *start is the model the seed makes (the run's
 * starting weights), *saved the run's model.safetensors; returns the run folder. */
static char *train_from_start(const char *name, const siamese_train_params *p,
                              siamese_model **start, siamese_model **saved) {
    char *data = sm_path_join(tu_temp, "data");
    make_data(data);
    char *run = sm_path_join(tu_temp, name), *model_path = sm_path_join(run, "model.safetensors");
    char errmsg[1024];
    cr_assert_eq(siamese_train(data, run, p, errmsg, sizeof errmsg), SIAMESE_OK, "%s", errmsg);
    siamese_model_params mp = siamese_train_model_params(p);
    *start = tu_create_model(&mp);
    *saved = NULL;
    cr_assert_eq(siamese_model_load(model_path, saved), SIAMESE_OK);
    free(model_path), free(data);
    return run;
}

static int same_file(const char *a, const char *b, const char *name) {
    char *pa = sm_path_join(a, name), *pb = sm_path_join(b, name);
    size_t na = 0, nb = 0;
    unsigned char *da = tu_read_file(pa, &na), *db = tu_read_file(pb, &nb);
    cr_assert(da && db, "%s or %s missing", pa, pb);
    int same = na == nb && memcmp(da, db, na) == 0;
    free(da), free(db), free(pa), free(pb);
    return same;
}

TestSuite(ema_run, .init = tu_temp_init, .fini = tu_temp_fini, .timeout = 60);

Test(ema_run, an_interrupted_run_resumes_bit_for_bit_and_saves_the_average) {
    char *data = sm_path_join(tu_temp, "data");
    make_data(data);
    char *whole = train(data, "whole", 0.9f, 0);
    char *mid = train(data, "mid", 0.9f, 8); /* epoch 2, after its second batch */
    char *plain = train(data, "plain", 0.0f, 0);
    cr_assert(same_file(whole, mid, "model.safetensors"),
              "resumed mid-epoch, the --ema run ends with another model");
    cr_assert(same_file(whole, mid, "best.safetensors"), "resumed, another best model");
    cr_assert(!same_file(whole, plain, "model.safetensors"), "--ema saved the live weights");

    /* model.safetensors is the checkpoint's average, not its live weights */
    char *ckpt_path = sm_path_join(whole, "checkpoint.safetensors");
    char *model_path = sm_path_join(whole, "model.safetensors");
    sm_checkpoint ckpt;
    sm_err err = {0};
    cr_assert_eq(sm_checkpoint_load(ckpt_path, &ckpt, &err), SIAMESE_OK, "%s", err.msg);
    cr_assert_not_null(ckpt.ema_params);
    cr_assert_not_null(ckpt.ema_buffers);
    siamese_model *saved = NULL;
    cr_assert_eq(siamese_model_load(model_path, &saved), SIAMESE_OK);
    const sm_param_table *table = sm_net_table(saved->net);
    cr_assert_eq(ckpt.n, table->n_params);
    cr_assert_eq(ckpt.n_buffers, table->n_buffers);
    cr_assert_gt(table->n_buffers, 0);
    cr_assert_eq(memcmp(sm_net_params(saved->net), ckpt.ema_params, ckpt.n * sizeof(float)), 0);
    cr_assert_eq(
        memcmp(sm_net_buffers(saved->net), ckpt.ema_buffers, ckpt.n_buffers * sizeof(float)), 0);
    cr_assert_neq(
        memcmp(sm_net_params(saved->net), sm_net_params(ckpt.model->net), ckpt.n * sizeof(float)),
        0);
    siamese_model_free(saved);
    sm_checkpoint_close(&ckpt);

    /* the live weights trained exactly as without --ema: the checkpoints' models match */
    char *plain_ckpt = sm_path_join(plain, "checkpoint.safetensors");
    sm_checkpoint a, b;
    cr_assert_eq(sm_checkpoint_load(ckpt_path, &a, &err), SIAMESE_OK, "%s", err.msg);
    cr_assert_eq(sm_checkpoint_load(plain_ckpt, &b, &err), SIAMESE_OK, "%s", err.msg);
    cr_assert_null(b.ema_params);
    cr_assert_eq(
        memcmp(sm_net_params(a.model->net), sm_net_params(b.model->net), a.n * sizeof(float)), 0,
        "--ema changed the training of the live weights");
    sm_checkpoint_close(&a);
    sm_checkpoint_close(&b);
    free(plain_ckpt), free(ckpt_path), free(model_path);
    free(whole), free(mid), free(plain), free(data);
}

/* One step (one epoch of one batch of all 24 pairs): the saved model is 2/11 of the starting
 * weights (the model the seed makes) plus 9/11 of the weights after the step (the checkpoint's),
 * the warm-up's decay at t = 1, below --ema 0.9. */
Test(ema_run, after_one_step_the_model_is_the_warmed_up_blend_of_start_and_step) {
    siamese_train_params p = run_params(0.9f);
    p.batch_size = 32, p.epochs = 1;
    siamese_model *start, *saved;
    char *run = train_from_start("one", &p, &start, &saved);
    char *ckpt_path = sm_path_join(run, "checkpoint.safetensors");
    sm_checkpoint ckpt;
    sm_err err = {0};
    cr_assert_eq(sm_checkpoint_load(ckpt_path, &ckpt, &err), SIAMESE_OK, "%s", err.msg);
    cr_assert_eq(ckpt.state.step, 1);
    const float d = 2.0f / 11.0f;
    const float *s0[2] = {sm_net_params(start->net), sm_net_buffers(start->net)};
    const float *s1[2] = {sm_net_params(ckpt.model->net), sm_net_buffers(ckpt.model->net)};
    const float *got[2] = {sm_net_params(saved->net), sm_net_buffers(saved->net)};
    size_t n[2] = {ckpt.n, ckpt.n_buffers};
    double moved = 0;
    for (int k = 0; k < 2; k++)
        for (size_t i = 0; i < n[k]; i++) {
            double want = d * (double)s0[k][i] + (1 - d) * (double)s1[k][i];
            moved = fmax(moved, fabs((double)s1[k][i] - s0[k][i]));
            cr_assert(fabs(got[k][i] - want) <= 1e-6 * (1 + fabs(want)),
                      "%s %zu: %.9g, want %.9g (start %.9g, after the step %.9g)",
                      k ? "buffer" : "parameter", i, (double)got[k][i], want, (double)s0[k][i],
                      (double)s1[k][i]);
        }
    cr_assert_gt(moved, 1e-3, "the step hardly moved the weights: the check proves nothing");
    sm_checkpoint_close(&ckpt);
    siamese_model_free(start);
    siamese_model_free(saved);
    free(ckpt_path), free(run);
}

/* Frozen layers (--freeze) keep their values exactly, in the saved average too: the average of a
 * constant is that constant. d * x + (1 - d) * x rounds to a neighbour of x for a few x in a
 * thousand (before the fix, ~30 of the frozen layers' 840 values after 30 steps). */
Test(ema_run, frozen_layers_are_saved_exactly_as_they_were) {
    siamese_train_params p = run_params(0.9f);
    p.epochs = 5;
    p.freeze = "cnn1,fc1";
    siamese_model *start, *saved;
    char *run = train_from_start("frozen", &p, &start, &saved);
    const sm_param_table *table = sm_net_table(saved->net);
    const float *s0 = sm_net_params(start->net), *got = sm_net_params(saved->net);
    size_t frozen = 0, differ = 0, moved = 0;
    for (int i = 0; i < table->n; i++) {
        const sm_tensor_info *ti = &table->t[i];
        if (ti->role != SM_TENSOR_PARAM) continue;
        int is_frozen = !strncmp(ti->name, "cnn1.", 5) || !strncmp(ti->name, "fc1.", 4);
        for (size_t k = ti->offset; k < ti->offset + ti->count; k++) {
            if (is_frozen) frozen++, differ += memcmp(&s0[k], &got[k], sizeof(float)) != 0;
            else moved += s0[k] != got[k];
        }
    }
    cr_assert_gt(frozen, 800, "the frozen layers are not cnn1 and fc1 (%zu values)", frozen);
    cr_assert_gt(moved, 0, "the batchnorm did not train: the run proves nothing");
    cr_assert_eq(differ, 0, "%zu of the frozen layers' %zu values changed in model.safetensors",
                 differ, frozen);
    siamese_model_free(start);
    siamese_model_free(saved);
    free(run);
}
