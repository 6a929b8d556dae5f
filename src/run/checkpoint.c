/* Checkpoints: the model, Adam's moments, the averaged weights (--ema) and the run's position in
 * one safetensors file. */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/number.h"
#include "model/face_align_io.h"
#include "model/model.h"
#include "model/safetensors.h"
#include "run/run.h"

#define CKPT_PREFIX "optimizer."

/* Where the run's seconds went (sm_run_times), in its field order; optional when read. */
#define TIME_KEYS 6
static const char *const time_keys[TIME_KEYS] = {"checkpoint.loop_time",  "checkpoint.step_time",
                                                 "checkpoint.eval_time",  "checkpoint.save_time",
                                                 "checkpoint.loader_cpu", "checkpoint.step_cpu"};

static double *time_field(sm_run_times *t, int i) {
    double *fields[TIME_KEYS] = {&t->loop, &t->step,       &t->eval,
                                 &t->save, &t->loader_cpu, &t->step_cpu};
    return fields[i];
}

typedef struct state_text {
    char epoch[32], batch[32], step[32], adam_step[32], elapsed[48], data_wait[48], best_auc[32],
        best_loss[32], best_epoch[32];
    char times[TIME_KEYS][48];
} state_text;

#define BASE_KEYS 9 /* epoch ... best_epoch */
#define STATE_KEYS (BASE_KEYS + TIME_KEYS)

static int describe_state(const sm_train_state *s, const sm_adam *adam, state_text *t,
                          sm_st_meta *meta) {
    snprintf(t->epoch, sizeof t->epoch, "%d", s->epoch);
    snprintf(t->batch, sizeof t->batch, "%d", s->batch);
    snprintf(t->step, sizeof t->step, "%" PRId64, s->step);
    snprintf(t->adam_step, sizeof t->adam_step, "%" PRId64, adam->step);
    snprintf(t->elapsed, sizeof t->elapsed, "%.17g", s->elapsed);
    snprintf(t->data_wait, sizeof t->data_wait, "%.17g", s->data_wait);
    snprintf(t->best_auc, sizeof t->best_auc, "%.9g", (double)s->best_auc);
    snprintf(t->best_loss, sizeof t->best_loss, "%.9g", (double)s->best_loss);
    snprintf(t->best_epoch, sizeof t->best_epoch, "%d", s->best_epoch);
    const char *keys[BASE_KEYS] = {
        "checkpoint.epoch",     "checkpoint.batch",     "checkpoint.step",
        "checkpoint.adam_step", "checkpoint.elapsed",   "checkpoint.data_wait",
        "checkpoint.best_auc",  "checkpoint.best_loss", "checkpoint.best_epoch"};
    const char *values[BASE_KEYS] = {t->epoch,     t->batch,     t->step,
                                     t->adam_step, t->elapsed,   t->data_wait,
                                     t->best_auc,  t->best_loss, t->best_epoch};
    for (int i = 0; i < BASE_KEYS; i++) meta[i] = (sm_st_meta){keys[i], values[i]};
    sm_run_times times = s->times;
    for (int i = 0; i < TIME_KEYS; i++) {
        snprintf(t->times[i], sizeof t->times[i], "%.17g", *time_field(&times, i));
        meta[BASE_KEYS + i] = (sm_st_meta){time_keys[i], t->times[i]};
    }
    return STATE_KEYS;
}

static sm_st_tensor moment_tensor(const char *name, const float *data, size_t n) {
    sm_st_tensor t;
    memset(&t, 0, sizeof t);
    t.name = name;
    t.dtype = SM_DT_F32;
    t.ndim = 1;
    t.shape[0] = (int64_t)n;
    t.data = data;
    return t;
}

/* Adam's moments, then with --ema the averaged parameters and running statistics (the latter
 * only when the network has some: no tensor is empty); returns how many tensors. */
static int optimizer_tensors(const sm_adam *adam, const sm_ema *ema, sm_st_tensor *out) {
    int n = 0;
    out[n++] = moment_tensor(CKPT_PREFIX "exp_avg", adam->m, adam->n);
    out[n++] = moment_tensor(CKPT_PREFIX "exp_avg_sq", adam->v, adam->n);
    if (!sm_ema_on(ema)) return n;
    out[n++] = moment_tensor(CKPT_PREFIX "ema_params", ema->params, ema->n_params);
    if (ema->n_buffers)
        out[n++] = moment_tensor(CKPT_PREFIX "ema_buffers", ema->buffers, ema->n_buffers);
    return n;
}

/* The checkpoint holds the model's face aligner too (face_align_io.c), so a resumed run aligns
 * its images as the run it continues did. */
siamese_status sm_checkpoint_save(const char *path, siamese_model *model, const sm_adam *adam,
                                  const sm_ema *ema, const sm_train_state *state, sm_err *err) {
    state_text text;
    sm_st_meta meta[STATE_KEYS + SM_ALIGN_META];
    int n_meta = describe_state(state, adam, &text, meta), n_align = 0;
    sm_st_tensor *align = NULL;
    char *align_keep = NULL;
    siamese_status st = sm_align_tensors(model, &align, &n_align, meta + n_meta, &align_keep, err);
    sm_st_tensor *extra = st == SIAMESE_OK ? calloc((size_t)n_align + 4, sizeof *extra) : NULL;
    if (st == SIAMESE_OK && !extra) st = sm_fail(err, SIAMESE_ERR_NOMEM, "%s: out of memory", path);
    if (st == SIAMESE_OK) {
        int n_extra = optimizer_tensors(adam, ema, extra);
        for (int i = 0; i < n_align; i++) extra[n_extra + i] = align[i];
        if (n_align) n_meta += SM_ALIGN_META;
        st = sm_model_save_with(model, path, extra, n_extra + n_align, meta, n_meta, err);
    }
    free(extra);
    free(align);
    free(align_keep);
    return st;
}

#define STATE_COUNT_MAX 999999999 /* epochs and batches */

/* The run's time accounts; checkpoints written before them have none (0). */
static siamese_status read_times(const char *path, const sm_st_file *file, sm_run_times *times,
                                 sm_err *err) {
    memset(times, 0, sizeof *times);
    for (int i = 0; i < TIME_KEYS; i++) {
        const char *text = sm_safetensors_meta(file, time_keys[i]);
        double *v = time_field(times, i);
        if (text && (sm_parse_double(text, v) || !isfinite(*v) || *v < 0))
            return sm_fail(err, SIAMESE_ERR_FORMAT, "%s: %s '%s' is not a number of seconds", path,
                           time_keys[i], text);
    }
    return SIAMESE_OK;
}

static siamese_status read_state(const char *path, const sm_st_file *file, sm_train_state *s,
                                 int64_t *adam_step, sm_err *err) {
    int64_t epoch, batch;
    double best_auc, best_loss;
    int bad =
        sm_parse_i64(sm_safetensors_meta(file, "checkpoint.epoch"), 0, STATE_COUNT_MAX, &epoch) ||
        sm_parse_i64(sm_safetensors_meta(file, "checkpoint.batch"), 0, STATE_COUNT_MAX, &batch) ||
        sm_parse_i64(sm_safetensors_meta(file, "checkpoint.step"), 0, INT64_MAX, &s->step) ||
        sm_parse_i64(sm_safetensors_meta(file, "checkpoint.adam_step"), 0, INT64_MAX, adam_step) ||
        sm_parse_double(sm_safetensors_meta(file, "checkpoint.elapsed"), &s->elapsed) ||
        sm_parse_double(sm_safetensors_meta(file, "checkpoint.data_wait"), &s->data_wait) ||
        sm_parse_double(sm_safetensors_meta(file, "checkpoint.best_auc"), &best_auc) ||
        sm_parse_double(sm_safetensors_meta(file, "checkpoint.best_loss"), &best_loss);
    if (bad)
        return sm_fail(err, SIAMESE_ERR_FORMAT,
                       "%s: not a training checkpoint (checkpoint.* metadata missing or malformed)",
                       path);
    s->epoch = (int)epoch;
    s->batch = (int)batch;
    s->best_auc = (float)best_auc;
    s->best_loss = (float)best_loss;
    /* checkpoints from before early stopping: patience counts from the checkpoint's epoch */
    int64_t best_epoch = s->epoch;
    const char *text = sm_safetensors_meta(file, "checkpoint.best_epoch");
    if (text && sm_parse_i64(text, 0, s->epoch, &best_epoch))
        return sm_fail(err, SIAMESE_ERR_FORMAT, "%s: checkpoint.best_epoch '%s' is malformed", path,
                       text);
    s->best_epoch = (int)best_epoch;
    return read_times(path, file, &s->times, err);
}

static siamese_status find_moment(const char *path, const sm_st_file *file, const char *name,
                                  size_t n, const sm_st_tensor **out, sm_err *err) {
    const sm_st_tensor *t = sm_safetensors_find(file, name);
    if (!t || t->dtype != SM_DT_F32 || t->ndim != 1 || t->shape[0] != (int64_t)n)
        return sm_fail(err, SIAMESE_ERR_FORMAT, "%s: tensor '%s' is missing or is not F32 [%zu]",
                       path, name, n);
    *out = t;
    return SIAMESE_OK;
}

/* --ema's averaged weights, when the checkpoint has them: F32 [n] parameters and, for a network
 * with batchnorm statistics, F32 [n_buffers] of them. */
static siamese_status find_ema(const char *path, sm_checkpoint *ckpt, sm_err *err) {
    const sm_st_tensor *params = sm_safetensors_find(ckpt->file, CKPT_PREFIX "ema_params");
    const sm_st_tensor *buffers = sm_safetensors_find(ckpt->file, CKPT_PREFIX "ema_buffers");
    ckpt->n_buffers = sm_net_table(ckpt->model->net)->n_buffers;
    if (buffers && (!params || !ckpt->n_buffers))
        return sm_fail(err, SIAMESE_ERR_FORMAT, "%s: tensor '%s' %s", path,
                       CKPT_PREFIX "ema_buffers",
                       params ? "for a network without running statistics"
                              : "without '" CKPT_PREFIX "ema_params'");
    if (!params) return SIAMESE_OK;
    siamese_status st =
        find_moment(path, ckpt->file, CKPT_PREFIX "ema_params", ckpt->n, &params, err);
    if (st == SIAMESE_OK && ckpt->n_buffers)
        st = find_moment(path, ckpt->file, CKPT_PREFIX "ema_buffers", ckpt->n_buffers, &buffers,
                         err);
    if (st != SIAMESE_OK) return st;
    ckpt->ema_params = params->data;
    ckpt->ema_buffers = ckpt->n_buffers ? buffers->data : NULL;
    return SIAMESE_OK;
}

siamese_status sm_checkpoint_load(const char *path, sm_checkpoint *ckpt, sm_err *err) {
    memset(ckpt, 0, sizeof *ckpt);
    const sm_st_tensor *m = NULL, *v = NULL;
    siamese_status st = sm_safetensors_read(path, &ckpt->file, err);
    if (st == SIAMESE_OK) st = read_state(path, ckpt->file, &ckpt->state, &ckpt->adam_step, err);
    if (st == SIAMESE_OK) st = sm_model_from_file(path, ckpt->file, CKPT_PREFIX, &ckpt->model, err);
    if (st == SIAMESE_OK) st = sm_align_read(ckpt->model, path, ckpt->file, err);
    if (st == SIAMESE_OK) {
        ckpt->n = sm_net_table(ckpt->model->net)->n_params;
        st = find_moment(path, ckpt->file, CKPT_PREFIX "exp_avg", ckpt->n, &m, err);
    }
    if (st == SIAMESE_OK)
        st = find_moment(path, ckpt->file, CKPT_PREFIX "exp_avg_sq", ckpt->n, &v, err);
    if (st == SIAMESE_OK) st = find_ema(path, ckpt, err);
    if (st != SIAMESE_OK) {
        sm_checkpoint_close(ckpt);
        return st;
    }
    ckpt->exp_avg = m->data;
    ckpt->exp_avg_sq = v->data;
    return SIAMESE_OK;
}

void sm_checkpoint_restore_adam(const sm_checkpoint *ckpt, sm_adam *adam) {
    memcpy(adam->m, ckpt->exp_avg, ckpt->n * sizeof(float));
    memcpy(adam->v, ckpt->exp_avg_sq, ckpt->n * sizeof(float));
    adam->step = ckpt->adam_step;
}

siamese_status sm_checkpoint_restore_ema(const sm_checkpoint *ckpt, const char *path, sm_ema *ema,
                                         sm_err *err) {
    int on = sm_ema_on(ema);
    if (on && !ckpt->ema_params)
        return sm_fail(err, SIAMESE_ERR_FORMAT,
                       "%s holds no averaged weights, but the run's config.json asks for them "
                       "(ema_decay %g): it is not this run's checkpoint (a run cannot start its "
                       "moving average midway)",
                       path, (double)ema->decay);
    if (!on && ckpt->ema_params)
        return sm_fail(err, SIAMESE_ERR_FORMAT,
                       "%s holds averaged weights, but the run's config.json has no "
                       "ema_decay: it is not this run's checkpoint",
                       path);
    if (!on) return SIAMESE_OK;
    if (ema->n_params != ckpt->n || ema->n_buffers != ckpt->n_buffers)
        return sm_fail(err, SIAMESE_ERR_FORMAT, "%s: the averaged weights do not fit the network",
                       path);
    memcpy(ema->params, ckpt->ema_params, ckpt->n * sizeof(float));
    if (ckpt->n_buffers) memcpy(ema->buffers, ckpt->ema_buffers, ckpt->n_buffers * sizeof(float));
    return SIAMESE_OK;
}

void sm_checkpoint_close(sm_checkpoint *ckpt) {
    siamese_model_free(ckpt->model);
    sm_safetensors_free(ckpt->file);
    memset(ckpt, 0, sizeof *ckpt);
}
