/* Golden training runs on AT&T faces: outputs present and valid, loss goes down, resume is exact. */
/* ctest-label: slow */
#include <cairo.h>
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/util.h"
#include "siamese.h"
#include "test_util.h"

#define SMALL_ARCH "conv(8,k=5,s=2) relu maxpool(2) conv(16,k=3) relu linear(16)"

static siamese_train_params small_params(void) {
    siamese_train_params p = siamese_train_default_params();
    p.arch = SMALL_ARCH;
    p.channels = 1;
    p.height = 56;
    p.width = 46;
    p.epochs = 3;
    p.batch_size = 16;
    p.threads = 1;
    p.seed = 7;
    p.log_every = 2;
    p.learning_rate = 1e-3f;
    return p;
}

static const char *faces(void) { return tu_data_path("att_faces/training"); }

static int file_exists(const char *dir, const char *name) {
    char *p = sm_path_join(dir, name);
    struct stat st;
    int ok = stat(p, &st) == 0 && st.st_size > 0;
    free(p);
    return ok;
}

typedef struct stopper {
    volatile sig_atomic_t stop;
    int64_t at_step;
    int epochs_seen;
    float first_loss, last_epoch_loss, last_auc;
    siamese_train_event last_epoch; /* its time accounts */
} stopper;

static void on_event(void *user, const siamese_train_event *e) {
    stopper *s = user;
    if (e->kind == SIAMESE_EVENT_STEP && e->step == 1) s->first_loss = e->loss;
    if (e->kind == SIAMESE_EVENT_STEP && s->at_step > 0 && e->step == s->at_step) s->stop = 1;
    if (e->kind == SIAMESE_EVENT_EPOCH) {
        s->epochs_seen++;
        s->last_epoch_loss = e->loss;
        s->last_auc = e->test_auc;
        s->last_epoch = *e;
    }
}

/* The epoch lines' value of key in metrics.jsonl, in order; returns how many. */
static int epoch_values(const char *metrics, const char *key, double *out, int max) {
    int n = 0;
    for (const char *q = metrics; n < max && (q = strstr(q, "\"event\":\"epoch\"")); q++) {
        const char *v = strstr(q, key);
        cr_assert(v, "no %s in an epoch line", key);
        out[n++] = strtod(v + strlen(key), NULL);
    }
    return n;
}

static unsigned char *read_all(const char *dir, const char *name, size_t *size) {
    char *p = sm_path_join(dir, name);
    unsigned char *data = tu_read_file(p, size);
    free(p);
    return data;
}

Test(train, golden_run_writes_every_output_and_learns, .timeout = 300) {
    char *dir = tu_make_temp_dir();
    char *run = sm_path_join(dir, "run");
    siamese_train_params p = small_params();
    p.epochs = 6;
    stopper s = {0};
    p.callback = on_event;
    p.callback_user = &s;
    char err[1024];
    cr_assert_eq(siamese_train(faces(), run, &p, err, sizeof err), SIAMESE_OK, "%s", err);
    const char *outputs[] = {"model.safetensors", "best.safetensors", "checkpoint.safetensors",
                             "metrics.jsonl",     "loss.png",         "config.json",
                             "split.json"};
    for (size_t i = 0; i < sizeof outputs / sizeof outputs[0]; i++)
        cr_assert(file_exists(run, outputs[i]), "%s missing", outputs[i]);
    cr_assert_eq(s.epochs_seen, 6);
    cr_assert_lt(s.last_epoch_loss, 0.8f * s.first_loss, "loss went from %f to %f",
                 (double)s.first_loss, (double)s.last_epoch_loss);
    cr_assert(s.last_auc > 0.5f, "test AUC %f", (double)s.last_auc);
    /* where the seconds went: the step inside the loop, both inside the run's time */
    const siamese_train_event *t = &s.last_epoch;
    cr_assert(t->step_time > 0 && t->step_time <= t->loop_time, "step %g, loop %g", t->step_time,
              t->loop_time);
    cr_assert_leq(t->loop_time + t->eval_time + t->save_time, t->elapsed);
    cr_assert(t->eval_time > 0 && t->save_time > 0 && t->loader_cpu > 0, "eval %g save %g cpu %g",
              t->eval_time, t->save_time, t->loader_cpu);

    /* The model loads, carries its threshold, and metrics has one epoch line per epoch. */
    char *model_path = sm_path_join(run, "model.safetensors");
    siamese_model *m = NULL;
    cr_assert_eq(siamese_model_load(model_path, &m), SIAMESE_OK, "%s",
                 m ? siamese_model_errmsg(m) : "");
    cr_assert_geq(siamese_model_threshold(m), 0.0f);
    cr_assert_eq(siamese_model_channels(m), 1);
    cr_assert_eq(siamese_model_height(m), 56);
    siamese_model_free(m);
    size_t size;
    char *metrics = (char *)read_all(run, "metrics.jsonl", &size);
    int epochs = 0;
    for (char *q = metrics; (q = strstr(q, "\"event\":\"epoch\"")); q++) epochs++;
    cr_assert_eq(epochs, 6);
    cr_assert(strstr(metrics, "\"test_auc\""));
    cr_assert(strstr(metrics, "\"pairs_per_sec\""));
    cr_assert(strstr(metrics, "\"data_wait\""));
    free(metrics);
    char *png = sm_path_join(run, "loss.png");
    cairo_surface_t *img = cairo_image_surface_create_from_png(png);
    cr_assert_eq(cairo_surface_status(img), CAIRO_STATUS_SUCCESS);
    cairo_surface_destroy(img);
    free(png);
    char *config = (char *)read_all(run, "config.json", &size);
    cr_assert(strstr(config, "\"learning_rate\""));
    cr_assert(strstr(config, "\"seed\": 7"));
    free(config);
    free(model_path);
    free(run);
    tu_rmtree(dir);
    free(dir);
}

/* Runs to the end, or interrupts after stop_step and resumes; returns the final model bytes. */
static unsigned char *train_maybe_interrupted(const char *run, int64_t stop_step, size_t *size) {
    siamese_train_params p = small_params();
    stopper s = {0};
    s.at_step = stop_step;
    p.callback = on_event;
    p.callback_user = &s;
    p.stop = &s.stop;
    char err[1024];
    siamese_status st = siamese_train(faces(), run, &p, err, sizeof err);
    if (stop_step > 0) {
        cr_assert_eq(st, SIAMESE_ERR_INTERRUPTED, "%s", err);
        cr_assert(strstr(err, "resume"), "%s", err);
        cr_assert(file_exists(run, "checkpoint.safetensors"));
        siamese_train_params rp = siamese_train_default_params();
        rp.epochs = 0;
        st = siamese_train_resume(run, &rp, err, sizeof err);
    }
    cr_assert_eq(st, SIAMESE_OK, "%s", err);
    return read_all(run, "model.safetensors", size);
}

Test(train, interrupted_and_resumed_run_is_bitwise_identical, .timeout = 300) {
    char *dir = tu_make_temp_dir();
    char *straight = sm_path_join(dir, "straight"), *mid_epoch = sm_path_join(dir, "mid"),
         *boundary = sm_path_join(dir, "edge");
    size_t n0, n1, n2;
    unsigned char *a = train_maybe_interrupted(straight, 0, &n0);
    /* 37 classes x 6 pairs, 80% = 177 train pairs = 12 batches of 16 per epoch. */
    unsigned char *b = train_maybe_interrupted(mid_epoch, 17, &n1);
    unsigned char *c = train_maybe_interrupted(boundary, 12, &n2);
    cr_assert_eq(n0, n1);
    cr_assert_eq(n0, n2);
    cr_assert(memcmp(a, b, n0) == 0, "resumed mid-epoch differs from the uninterrupted run");
    cr_assert(memcmp(a, c, n0) == 0, "resumed at an epoch boundary differs");
    /* metrics.jsonl of the resumed run has each epoch once */
    size_t size;
    char *metrics = (char *)read_all(mid_epoch, "metrics.jsonl", &size);
    int epochs = 0;
    for (char *q = metrics; (q = strstr(q, "\"event\":\"epoch\"")); q++) epochs++;
    cr_assert_eq(epochs, 3);
    /* the time accounts go on from the checkpoint: they never fall back after the resume */
    double step_time[3], loop_time[3];
    cr_assert_eq(epoch_values(metrics, "\"step_time\":", step_time, 3), 3);
    cr_assert_eq(epoch_values(metrics, "\"loop_time\":", loop_time, 3), 3);
    for (int i = 1; i < 3; i++)
        cr_assert(step_time[i] > step_time[i - 1] && loop_time[i] > loop_time[i - 1],
                  "epoch %d: step_time %g after %g, loop_time %g after %g", i + 1, step_time[i],
                  step_time[i - 1], loop_time[i], loop_time[i - 1]);
    free(metrics);
    free(a);
    free(b);
    free(c);
    free(straight);
    free(mid_epoch);
    free(boundary);
    tu_rmtree(dir);
    free(dir);
}

Test(train, bad_settings_and_data_fail_clearly) {
    char *dir = tu_make_temp_dir();
    char *run = sm_path_join(dir, "run");
    char err[1024];
    siamese_train_params p = small_params();
    p.sampler = "online"; /* online pairs need an image or class split */
    cr_assert_eq(siamese_train(faces(), run, &p, err, sizeof err), SIAMESE_ERR_INVALID_ARG);
    cr_assert(strstr(err, "split"), "%s", err);
    p = small_params();
    cr_assert_neq(siamese_train("/nonexistent/data", run, &p, err, sizeof err), SIAMESE_OK);
    cr_assert(strstr(err, "/nonexistent/data"), "%s", err);
    p.arch = "conv(8,k=99) relu linear(4)";
    cr_assert_neq(siamese_train(faces(), run, &p, err, sizeof err), SIAMESE_OK);
    cr_assert(strlen(err) > 0);
    cr_assert_neq(siamese_train_resume(dir, NULL, err, sizeof err), SIAMESE_OK);
    cr_assert(strstr(err, "config.json"), "%s", err);
    free(run);
    tu_rmtree(dir);
    free(dir);
}
