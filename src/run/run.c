/* The training run: data and split, the epoch loop, evaluation, checkpoints, models and reports. */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/fileio.h"
#include "base/threads.h"
#include "base/util.h"
#include "data/dataset_check.h"
#include "data/loader_chips.h"
#include "data/loader_share.h"
#include "model/align_loader.h"
#include "model/face_align.h"
#include "model/model.h"
#include "run/dist.h"
#include "run/ema.h"
#include "run/run.h"
#include "run/run_lock.h"
#include "run/run_tools.h"
#include "run/trainer.h"

#define SEED_PAIRS 0x50414952ull  /* "PAIR" */
#define SEED_SPLIT 0x53504c54ull  /* "SPLT" */
#define SEED_LOADER 0x4c4f4144ull /* "LOAD" */

/* Everything a run holds; released by run_free. */
typedef struct train_run {
    sm_run_config config;
    char run_dir[SM_TRAIN_TEXT_MAX];
    siamese_dataset *dataset;
    siamese_split *split;
    siamese_pairs train_pairs, test_pairs;
    siamese_loader *train_loader, *test_loader;
    siamese_model *model;
    siamese_trainer *trainer;
    sm_ema ema; /* --ema: the averaged weights (off: all zero) */
    sm_metrics_file metrics;
    sm_train_history history;
    sm_train_state state;
    float *test_distances; /* [test pairs] */
    float *test_labels;    /* [test pairs] */
    double session_start;
    double wait_at_start; /* data wait of earlier sessions plus decoding before the batches */
    double step_seconds;  /* smoothed time per step */
    sm_run_times times;   /* where the seconds went, earlier sessions included (loader_cpu: see
                             current_times) */
    double loader_cpu_at_start; /* loader_cpu of earlier sessions */
    double loop_mark;           /* the training loop's time is counted up to here */
    sm_run_tools tools;         /* P x K batches, validation classes (issue 12) */
    sm_run_lock lock;           /* held while this process writes run_dir */
    char *made_dir;             /* the outermost folder this fresh run created (NULL: none) */
    int made_lock;              /* 1 when this run created run_dir/.lock */
    int over_old_run;           /* 1 when a fresh run's folder held a run (--overwrite) */
    int saved_config;           /* 1 once config.json is written: the run is kept from then on */
    sm_dist *dist;              /* data-parallel ranks (issue 16), NULL = one process */
    sm_loader_chips chips;      /* a model with a face aligner: every loader feeds face chips */
    sm_err err;
} train_run;

static void run_path(const train_run *run, const char *name, char *out, size_t size) {
    snprintf(out, size, "%s/%s", run->run_dir, name);
}

/* Rank 0 of a data-parallel run writes the files and emits the events; the others only train. */
static int writer(const train_run *run) { return sm_dist_rank(run->dist) == 0; }

static void emit(const train_run *run, siamese_train_event *event) {
    const siamese_train_params *p = &run->config.params;
    if (!writer(run)) return;
    if (p->callback) p->callback(p->callback_user, event);
}

static void emit_message(const train_run *run, siamese_event_kind kind, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void emit_message(const train_run *run, siamese_event_kind kind, const char *fmt, ...) {
    char text[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    siamese_train_event e;
    memset(&e, 0, sizeof e);
    e.kind = kind;
    e.message = text;
    emit(run, &e);
}

static void forward_warning(void *user, const char *message) {
    emit_message((const train_run *)user, SIAMESE_EVENT_WARNING, "%s", message);
}

/* ---------------------------------------------------------------- data */

static siamese_status open_dataset(train_run *run) {
    siamese_dataset_params dp = siamese_dataset_default_params();
    dp.warning = forward_warning;
    dp.warning_user = run;
    siamese_status st = siamese_dataset_open(run->config.data_path, &dp, &run->dataset);
    if (st != SIAMESE_OK)
        sm_fail(&run->err, st, "%s",
                run->dataset ? siamese_dataset_errmsg(run->dataset) : "out of memory");
    return st;
}

static siamese_status dataset_error(train_run *run, siamese_status st) {
    return sm_fail(&run->err, st, "%s", siamese_dataset_errmsg(run->dataset));
}

static siamese_status split_error(train_run *run, siamese_status st) {
    return sm_fail(&run->err, st, "%s", siamese_split_errmsg(run->split));
}

/* The split, from split.json when resuming, else made from the seed (save_split records it). */
static siamese_status make_split(train_run *run, int resuming) {
    const siamese_train_params *p = &run->config.params;
    char path[SM_TRAIN_TEXT_MAX + 16];
    run_path(run, "split.json", path, sizeof path);
    siamese_status st;
    if (resuming) {
        st = siamese_split_load(run->dataset, path, &run->split);
        return st == SIAMESE_OK ? st : split_error(run, st);
    }
    siamese_pairs all = {0};
    int class_data = siamese_dataset_class_count(run->dataset) > 0;
    if (p->split == SIAMESE_SPLIT_PAIRS && class_data) {
        st = siamese_pairs_recipe(run->dataset, NULL, 0, p->per_class,
                                  sm_run_split_seed(p) ^ SEED_PAIRS, &all);
        if (st != SIAMESE_OK) return dataset_error(run, st);
    }
    st = siamese_split_create(run->dataset, p->split, all.count ? &all : NULL, p->train_fraction,
                              sm_run_split_seed(p) ^ SEED_SPLIT, &run->split);
    siamese_pairs_free(&all);
    return st == SIAMESE_OK ? st : split_error(run, st);
}

/* A fresh run's split.json. */
static siamese_status save_split(train_run *run) {
    char path[SM_TRAIN_TEXT_MAX + 16];
    run_path(run, "split.json", path, sizeof path);
    siamese_status st = writer(run) ? siamese_split_save(run->split, path) : SIAMESE_OK;
    return st == SIAMESE_OK ? st : split_error(run, st);
}

siamese_status sm_train_side_pairs(siamese_dataset *dataset, const siamese_split *split,
                                   const siamese_train_params *p, int side, int epoch,
                                   siamese_pairs *out, sm_err *err) {
    siamese_status st;
    if (siamese_split_get_kind(split) == SIAMESE_SPLIT_PAIRS ||
        siamese_dataset_class_count(dataset) == 0) {
        st = siamese_split_pairs(split, side, out);
        return st == SIAMESE_OK ? st : sm_fail(err, st, "%s", siamese_split_errmsg(split));
    }
    uint64_t seed = side == 0 ? p->seed : sm_run_split_seed(p); /* test pairs: the split's */
    if (!strcmp(p->sampler, "online")) {
        int count = side == 0 ? p->pairs_per_epoch : (p->pairs_per_epoch + 4) / 5;
        st = siamese_pairs_online(dataset, split, side, count, seed ^ SEED_PAIRS,
                                  side == 0 ? epoch : 0, out);
    } else {
        st = siamese_pairs_recipe(dataset, split, side, p->per_class,
                                  seed ^ SEED_PAIRS ^ (uint64_t)side, out);
    }
    return st == SIAMESE_OK ? st : sm_fail(err, st, "%s", siamese_dataset_errmsg(dataset));
}

siamese_status siamese_train_side_pairs(const char *run_dir, siamese_dataset *dataset,
                                        const siamese_split *split, int side, siamese_pairs *out,
                                        char *errmsg, size_t errmsg_size) {
    sm_err err;
    sm_err_clear(&err);
    siamese_status st = SIAMESE_OK;
    if (out) *out = (siamese_pairs){NULL, 0};
    if (!run_dir || !dataset || !split || !out || side < 0 || side > 1)
        st = sm_fail(&err, SIAMESE_ERR_INVALID_ARG,
                     "side pairs need a run folder, its dataset and split, and a side 0 or 1");
    sm_run_config *config = st == SIAMESE_OK ? malloc(sizeof *config) : NULL;
    if (st == SIAMESE_OK && !config) st = sm_fail(&err, SIAMESE_ERR_NOMEM, "out of memory");
    if (st == SIAMESE_OK) {
        char path[SM_TRAIN_TEXT_MAX + 32];
        snprintf(path, sizeof path, "%s/config.json", run_dir);
        st = sm_run_config_load(config, path, &err);
    }
    if (st == SIAMESE_OK)
        st = sm_train_side_pairs(dataset, split, &config->params, side, 0, out, &err);
    free(config);
    return sm_err_out(&err, st, errmsg, errmsg_size);
}

/* Pairs of one side for one epoch (fixed pairs ignore the epoch). */
static siamese_status side_pairs(train_run *run, int side, int epoch, siamese_pairs *out) {
    const siamese_split *split =
        side == 0 ? sm_run_tools_train_split(&run->tools, run->split) : run->split;
    return sm_train_side_pairs(run->dataset, split, &run->config.params, side, epoch, out,
                               &run->err);
}

static siamese_loader_params loader_params(const train_run *run, int shuffle) {
    const siamese_train_params *p = &run->config.params;
    siamese_loader_params lp = siamese_loader_default_params();
    lp.channels = siamese_model_channels(run->model);
    lp.height = siamese_model_height(run->model);
    lp.width = siamese_model_width(run->model);
    lp.batch_size = p->batch_size;
    lp.shuffle = shuffle;
    lp.seed = p->seed ^ SEED_LOADER;
    lp.cache_bytes = p->cache_bytes;
    lp.fast_jpeg = p->fast_jpeg;
    lp.augment = shuffle ? p->augment : NULL; /* only the training loader shuffles and augments */
    return lp;
}

/* Decoding before the batches (loader creation, new online pairs) is time spent waiting for data
 * too: it counts in data_wait with the waits for batches. */
static siamese_status make_loader(train_run *run, const siamese_pairs *pairs, int shuffle,
                                  siamese_loader **out) {
    siamese_loader_params lp = loader_params(run, shuffle);
    double t0 = sm_now_seconds();
    siamese_status st = sm_loader_create_chips(run->dataset, pairs, &lp, &run->chips, out);
    run->wait_at_start += sm_now_seconds() - t0;
    if (st != SIAMESE_OK)
        sm_fail(&run->err, st, "%s", *out ? siamese_loader_errmsg(*out) : "out of memory");
    return st;
}

/* The epoch's P x K batches (sampler "pk"), drawn fresh every epoch. */
static siamese_status prepare_pk_batches(train_run *run, int epoch) {
    siamese_loader_params lp = loader_params(run, 1);
    double t0 = sm_now_seconds();
    siamese_status st =
        sm_run_tools_pk_loader(&run->tools, run->dataset, run->split, &run->config.params, &lp,
                               epoch, &run->train_loader, &run->err);
    run->wait_at_start += sm_now_seconds() - t0;
    return st;
}

/* Train pairs for epoch: the loader is made once, and given new pairs each epoch when online. */
static siamese_status prepare_train_pairs(train_run *run, int epoch) {
    if (run->tools.pk) return prepare_pk_batches(run, epoch);
    int online = !strcmp(run->config.params.sampler, "online");
    if (run->train_loader && !online) return SIAMESE_OK;
    siamese_pairs_free(&run->train_pairs);
    siamese_status st = side_pairs(run, 0, epoch, &run->train_pairs);
    if (st != SIAMESE_OK) return st;
    if (!run->train_loader) {
        st = make_loader(run, &run->train_pairs, 1, &run->train_loader);
        if (st == SIAMESE_OK) /* each rank prepares only its slice of every batch */
            st = sm_loader_set_share(run->train_loader, sm_dist_rank(run->dist),
                                     sm_dist_size(run->dist));
        return st;
    }
    double t0 = sm_now_seconds();
    st = siamese_loader_set_pairs(run->train_loader, &run->train_pairs);
    run->wait_at_start += sm_now_seconds() - t0;
    return st == SIAMESE_OK
               ? st
               : sm_fail(&run->err, st, "%s", siamese_loader_errmsg(run->train_loader));
}

static siamese_status prepare_test_pairs(train_run *run) {
    siamese_status st = side_pairs(run, 1, 0, &run->test_pairs);
    if (st == SIAMESE_OK) st = make_loader(run, &run->test_pairs, 0, &run->test_loader);
    if (st != SIAMESE_OK) return st;
    size_t n = (size_t)siamese_loader_pair_count(run->test_loader);
    run->test_distances = malloc(n * sizeof(float));
    run->test_labels = malloc(n * sizeof(float));
    return run->test_distances && run->test_labels
               ? SIAMESE_OK
               : sm_fail(&run->err, SIAMESE_ERR_NOMEM, "out of memory");
}

/* ---------------------------------------------------------------- model and trainer */

static siamese_status create_model(train_run *run) {
    siamese_model_params mp = siamese_train_model_params(&run->config.params);
    siamese_status st = siamese_model_create(&mp, &run->model);
    if (st != SIAMESE_OK)
        sm_fail(&run->err, st, "%s",
                run->model ? siamese_model_errmsg(run->model) : "out of memory");
    return st;
}

/* Fine-tuning (issue 13): a new run copies --init's weights by name into its model (the head may
 * be left to its initialization, which the log says); every run, resumed ones too, freezes the
 * --freeze prefixes. */
static siamese_status apply_fine_tuning(train_run *run, int fresh) {
    const sm_run_config *c = &run->config;
    if (fresh && c->init[0]) {
        char left[512];
        siamese_status st = siamese_model_init_from(run->model, c->init, left, sizeof left);
        if (st != SIAMESE_OK)
            return sm_fail(&run->err, st, "init: %s", siamese_model_errmsg(run->model));
        emit_message(run, SIAMESE_EVENT_INFO, "initialized from %s%s%s%s", c->init,
                     left[0] ? "; left to the head's initialization: " : "", left,
                     siamese_model_aligns_faces(run->model)
                         ? "; its face aligner comes too (it never trains; images become its "
                           "face chips)"
                         : "");
    }
    char prefixes[sizeof c->freeze];
    snprintf(prefixes, sizeof prefixes, "%s", c->freeze);
    char *save = NULL;
    for (char *p = strtok_r(prefixes, ",", &save); p; p = strtok_r(NULL, ",", &save)) {
        if (siamese_model_freeze(run->model, p, 1) < 0)
            return sm_fail(&run->err, SIAMESE_ERR_INVALID_ARG, "freeze: %s",
                           siamese_model_errmsg(run->model));
    }
    if (c->freeze[0]) emit_message(run, SIAMESE_EVENT_INFO, "frozen: %s", c->freeze);
    return SIAMESE_OK;
}

/* --precision auto: measures (or reads the cached choice), records it in the configuration and
 * the log; an explicit bf16 that measures slower gets a warning with both timings. */
static void choose_precision(train_run *run) {
    sm_run_config *c = &run->config;
    siamese_precision want = c->params.precision;
    siamese_precision_choice choice;
    if (siamese_precision_choose(run->model, c->params.batch_size, &choice) != SIAMESE_OK) {
        emit_message(run, SIAMESE_EVENT_WARNING, "precision %s: %s", siamese_precision_name(want),
                     siamese_model_errmsg(run->model));
        if (want == SIAMESE_PRECISION_AUTO)
            siamese_model_set_precision(run->model, SIAMESE_PRECISION_FP32);
        return;
    }
    snprintf(c->precision_chosen, sizeof c->precision_chosen, "%s",
             siamese_precision_name(choice.precision));
    c->precision_fp32_seconds = choice.fp32_seconds;
    c->precision_bf16_seconds = choice.bf16_seconds;
    if (want == SIAMESE_PRECISION_AUTO) siamese_model_set_precision(run->model, choice.precision);
    if (choice.bf16_seconds <= 0)
        emit_message(run, SIAMESE_EVENT_INFO,
                     "precision auto: fp32 (this CPU has no bf16 kernels)");
    else if (want == SIAMESE_PRECISION_AUTO)
        emit_message(run, SIAMESE_EVENT_INFO,
                     "precision auto: %s (forward of %d images in CPU time: fp32 %.3g ms, bf16 "
                     "%.3g ms; %s)",
                     c->precision_chosen, choice.batch, 1e3 * choice.fp32_seconds,
                     1e3 * choice.bf16_seconds, choice.from_cache ? "cached" : "measured now");
    else if (choice.bf16_seconds > choice.fp32_seconds)
        emit_message(run, SIAMESE_EVENT_WARNING,
                     "bf16 is slower than fp32 on this CPU (forward of %d images in CPU time: fp32 "
                     "%.3g ms, bf16 %.3g ms); precision auto picks the faster",
                     choice.batch, 1e3 * choice.fp32_seconds, 1e3 * choice.bf16_seconds);
}

/* Data-parallel: every rank starts from rank 0's parameters, precision and Adam state. */
static void share_rank0_model(train_run *run) {
    int precision = (int)siamese_model_precision(run->model);
    sm_dist_broadcast(run->dist, &precision, sizeof precision);
    siamese_model_set_precision(run->model, (siamese_precision)precision);
    sm_net *net = run->model->net;
    sm_dist_broadcast(run->dist, sm_net_params_write(net),
                      sm_net_table(net)->n_params * sizeof(float));
    sm_trainer_set_dist(run->trainer, run->dist);
}

/* --ema: the average starts from the weights training starts from (after --init, and rank 0's on
 * every rank of a data-parallel run); a resumed run then overwrites it from its checkpoint. */
static siamese_status start_ema(train_run *run) {
    sm_net *net = run->model->net;
    const sm_param_table *table = sm_net_table(net);
    if (sm_ema_init(&run->ema, run->config.params.ema_decay, sm_net_params(net), table->n_params,
                    sm_net_buffers(net), table->n_buffers) != 0)
        return sm_fail(&run->err, SIAMESE_ERR_NOMEM,
                       "ema_decay: cannot allocate the averaged weights (%zu floats)",
                       table->n_params + table->n_buffers);
    if (sm_ema_on(&run->ema))
        emit_message(run, SIAMESE_EVENT_INFO,
                     "moving average of the weights (ema_decay %g): the epochs' evaluation and the "
                     "saved models use it",
                     (double)run->ema.decay);
    return SIAMESE_OK;
}

/* The cosine and correlation distances are at most 2: a triplet margin of 2 or more keeps every
 * triplet's loss above zero, so mining and the hinge select nothing. */
static void warn_triplet_margin(train_run *run) {
    const siamese_train_params *p = &run->config.params;
    if (p->loss == SIAMESE_LOSS_TRIPLET && p->metric != SIAMESE_METRIC_EUCLIDEAN && p->margin >= 2)
        emit_message(run, SIAMESE_EVENT_WARNING,
                     "the triplet loss with the %s distance (at most 2) and margin %g: every "
                     "triplet's loss stays above zero; margins such as 0.2 to 0.5 are usual",
                     siamese_metric_name(p->metric), (double)p->margin);
}

static siamese_status create_trainer(train_run *run) {
    const siamese_train_params *p = &run->config.params;
    warn_triplet_margin(run);
    if (p->precision == SIAMESE_PRECISION_AUTO ||
        (p->precision == SIAMESE_PRECISION_BF16 && siamese_bf16_supported()))
        choose_precision(run);
    if (p->precision != SIAMESE_PRECISION_AUTO &&
        siamese_model_set_precision(run->model, p->precision) != p->precision)
        emit_message(run, SIAMESE_EVENT_WARNING,
                     "this CPU has no bf16 kernels (AVX512-BF16): computing in fp32");
    siamese_trainer_params tp = siamese_trainer_default_params();
    tp.learning_rate = p->learning_rate;
    tp.learning_rate_backbone = p->learning_rate_backbone;
    tp.weight_decay = p->weight_decay;
    tp.max_pairs = sm_run_tools_max_pairs(p);
    tp.batch_loss = p->loss;
    siamese_status st = siamese_trainer_create(run->model, &tp, &run->trainer);
    if (st != SIAMESE_OK)
        sm_fail(&run->err, st, "%s",
                run->trainer ? siamese_trainer_errmsg(run->trainer) : "out of memory");
    st = sm_dist_agree(run->dist, st, &run->err);
    if (st == SIAMESE_OK && run->dist) share_rank0_model(run);
    return st == SIAMESE_OK ? start_ema(run) : st;
}

/* ---------------------------------------------------------------- outputs */

static siamese_status save_model(train_run *run, const char *name) {
    if (!writer(run)) return SIAMESE_OK;
    char path[SM_TRAIN_TEXT_MAX + 32];
    run_path(run, name, path, sizeof path);
    siamese_status st = siamese_model_save(run->model, path);
    return st == SIAMESE_OK ? st : sm_fail(&run->err, st, "%s", siamese_model_errmsg(run->model));
}

/* The run's time accounts as they stand now. */
static sm_run_times current_times(const train_run *run) {
    sm_run_times t = run->times;
    t.loader_cpu = run->loader_cpu_at_start + siamese_loader_fill_cpu_seconds(run->train_loader);
    return t;
}

static siamese_status save_checkpoint(train_run *run) {
    if (!writer(run)) return SIAMESE_OK;
    char path[SM_TRAIN_TEXT_MAX + 32];
    run_path(run, "checkpoint.safetensors", path, sizeof path);
    run->state.data_wait = run->wait_at_start + siamese_loader_wait_seconds(run->train_loader);
    run->state.times = current_times(run);
    siamese_status st = sm_checkpoint_save(path, run->model, sm_trainer_adam(run->trainer),
                                           &run->ema, &run->state, &run->err);
    if (st == SIAMESE_OK) emit_message(run, SIAMESE_EVENT_CHECKPOINT, "%s", path);
    return st;
}

static siamese_status draw_loss_plot(train_run *run) {
    if (!writer(run)) return SIAMESE_OK;
    char path[SM_TRAIN_TEXT_MAX + 32];
    run_path(run, "loss.png", path, sizeof path);
    return sm_history_plot(&run->history, run->config.params.loss, path, &run->err);
}

static siamese_status write_metrics(train_run *run, const siamese_train_event *e) {
    return writer(run) ? sm_metrics_write_event(&run->metrics, e, &run->err) : SIAMESE_OK;
}

/* ---------------------------------------------------------------- the loop */

static double session_elapsed(const train_run *run) {
    return sm_now_seconds() - run->session_start;
}

static void fill_progress(const train_run *run, siamese_train_event *e, int epoch, int batch) {
    const siamese_train_params *p = &run->config.params;
    int batches = siamese_loader_batch_count(run->train_loader);
    e->epoch = epoch;
    e->epochs = p->epochs;
    e->batch = batch;
    e->batches = batches;
    e->step = run->state.step;
    e->elapsed = run->state.elapsed + session_elapsed(run);
    e->data_wait = run->wait_at_start + siamese_loader_wait_seconds(run->train_loader);
    double steps_left = (double)(p->epochs - epoch) * batches - (batch + 1);
    e->eta = run->step_seconds * (steps_left > 0 ? steps_left : 0);
    /* a P x K batch of n images counts as n / 2 pairs: the same images per second as pairs */
    double pairs = run->tools.pk ? p->pk_classes * p->pk_images / 2.0 : p->batch_size;
    e->pairs_per_second = run->step_seconds > 0 ? pairs / run->step_seconds : 0;
    sm_run_times t = current_times(run);
    e->loop_time = t.loop, e->step_time = t.step, e->eval_time = t.eval, e->save_time = t.save;
    e->loader_cpu = t.loader_cpu, e->step_cpu = t.step_cpu;
}

/* The training loop's time: from the last mark (the epoch's start, the previous step) to now. */
static void count_loop_time(train_run *run) {
    double now = sm_now_seconds();
    run->times.loop += now - run->loop_mark;
    run->loop_mark = now;
}

/* batch holds this rank's slice of a global batch of whole pairs (all of it in one process). */
static siamese_status train_step(train_run *run, const siamese_batch *batch, int whole, int epoch,
                                 int index, float *loss_out) {
    float loss = NAN;
    const siamese_train_params *p = &run->config.params;
    double lr = sm_run_tools_lr(p, run->state.step, siamese_loader_batch_count(run->train_loader));
    sm_trainer_adam(run->trainer)->lr = (float)lr;
    if (p->learning_rate_backbone > 0) /* the backbone's rate follows the same schedule */
        sm_trainer_adam(run->trainer)->backbone_lr =
            (float)(lr * p->learning_rate_backbone / p->learning_rate);
    double t0 = sm_now_seconds(), cpu0 = sm_process_cpu_seconds();
    siamese_status st = run->tools.pk
                            ? sm_run_tools_step(&run->tools, run->trainer, batch, p->mining, &loss)
                            : sm_trainer_step_share(run->trainer, batch->first, batch->second,
                                                    batch->labels, batch->n, whole, &loss);
    if (st == SIAMESE_ERR_NUMERIC)
        return sm_fail(&run->err, st,
                       "epoch %d, batch %d: the loss or a gradient is not finite (NaN or Inf); "
                       "training stopped, the last checkpoint is kept (try a lower learning rate)",
                       epoch + 1, index + 1);
    if (st != SIAMESE_OK) return sm_fail(&run->err, st, "%s", siamese_trainer_errmsg(run->trainer));
    sm_net *net = run->model->net;
    sm_ema_update(&run->ema, sm_net_params(net), sm_net_buffers(net), run->state.step + 1);
    double dt = sm_now_seconds() - t0;
    run->times.step += dt;
    run->times.step_cpu += sm_process_cpu_seconds() - cpu0;
    count_loop_time(run);
    run->step_seconds = run->step_seconds > 0 ? 0.9 * run->step_seconds + 0.1 * dt : dt;
    run->state.step++;
    *loss_out = loss;
    siamese_train_event e;
    memset(&e, 0, sizeof e);
    e.kind = SIAMESE_EVENT_STEP;
    e.loss = loss;
    e.lr = (float)lr;
    fill_progress(run, &e, epoch, index);
    emit(run, &e);
    if (index % run->config.params.log_every == 0) {
        e.kind = SIAMESE_EVENT_LOG;
        emit(run, &e);
        st = write_metrics(run, &e);
        if (st == SIAMESE_OK &&
            sm_history_add_log(&run->history, (double)run->state.step, loss) != SIAMESE_OK)
            st = sm_fail(&run->err, SIAMESE_ERR_NOMEM, "out of memory");
    }
    return st;
}

/* Test loss, ROC AUC and best-threshold accuracy over the test pairs; with validation classes,
 * their loss and ROC AUC too. */
static siamese_status evaluate(train_run *run, siamese_train_event *e) {
    sm_pair_eval test, val = {NAN, NAN, 0, 0};
    siamese_status st = sm_evaluate_pairs(run->trainer, run->test_loader, run->test_distances,
                                          run->test_labels, &test, &run->err);
    if (st != SIAMESE_OK) {
        sm_err_prefix(&run->err, "evaluation on the test pairs");
        return st;
    }
    if (run->tools.val_loader)
        st = sm_evaluate_pairs(run->trainer, run->tools.val_loader, run->tools.val_distances,
                               run->tools.val_labels, &val, &run->err);
    if (st != SIAMESE_OK) sm_err_prefix(&run->err, "evaluation on the validation pairs");
    e->val_oneshot = NAN;
    if (st == SIAMESE_OK && run->tools.oneshot.n)
        st = sm_val_oneshot_score(&run->tools.oneshot, run->model, &e->val_oneshot, &run->err);
    e->test_loss = test.loss;
    e->test_auc = test.auc;
    e->threshold = test.threshold;
    e->test_accuracy = test.accuracy;
    e->val_loss = val.loss;
    e->val_auc = val.auc;
    return st;
}

/* Data-parallel: the batchnorm statistics in the network become the ranks' mean (one process:
 * nothing to do). */
static void average_batchnorm(train_run *run) {
    sm_net *net = run->model->net;
    sm_dist_average_floats(run->dist, sm_net_buffers(net), sm_net_table(net)->n_buffers);
}

/* Data-parallel: the ranks' batchnorm statistics are averaged, rank 0 evaluates (the others
 * wait) and sends every rank the numbers, so all take the same decisions (best model, patience). */
static siamese_status evaluate_on_rank0(train_run *run, siamese_train_event *e) {
    if (!run->dist) return evaluate(run, e);
    average_batchnorm(run);
    siamese_status st = writer(run) ? evaluate(run, e) : SIAMESE_OK;
    st = sm_dist_agree(run->dist, st, &run->err);
    float v[7] = {e->test_loss, e->test_auc, e->threshold,  e->test_accuracy,
                  e->val_loss,  e->val_auc,  e->val_oneshot};
    sm_dist_broadcast(run->dist, v, sizeof v);
    e->test_loss = v[0], e->test_auc = v[1], e->threshold = v[2], e->test_accuracy = v[3];
    e->val_loss = v[4], e->val_auc = v[5], e->val_oneshot = v[6];
    return st;
}

/* What chooses the best model: the validation classes' one-shot accuracy (val_way > 0) or ROC
 * AUC when the run has them, never the test pairs then; else the test pairs' (the recipe's). */
static float selection_score(const train_run *run, const siamese_train_event *e) {
    if (run->tools.oneshot.n) return e->val_oneshot;
    return run->tools.val_loader ? e->val_auc : e->test_auc;
}

/* The best model so far by the selection score (then loss). */
static int improved(const train_run *run, const siamese_train_event *e) {
    int val = run->tools.val_loader != NULL;
    float auc = selection_score(run, e), loss = val ? e->val_loss : e->test_loss;
    if (run->state.best_auc < 0) return 1;
    if (isfinite(auc) && auc != run->state.best_auc) return auc > run->state.best_auc;
    return loss < run->state.best_loss;
}

/* --ema: exchanges the averaged weights and the live ones in the network. The first call of a
 * pair puts the average in for the epoch's evaluation and models (data-parallel ranks first
 * average their live batchnorm statistics, as a run without --ema does there, so the live
 * weights train on exactly as they would without it; evaluate_on_rank0 then averages the
 * shadow's); the second gives the live weights back for training and the checkpoint. */
static void swap_ema(train_run *run, int in) {
    if (!sm_ema_on(&run->ema)) return;
    if (in) average_batchnorm(run);
    sm_net *net = run->model->net;
    sm_ema_swap(&run->ema, sm_net_params_write(net), sm_net_buffers(net));
}

/* After an epoch: the best model and the last model. */
static siamese_status save_models(train_run *run, const siamese_train_event *e, int epoch) {
    siamese_status st = SIAMESE_OK;
    if (improved(run, e)) {
        int val = run->tools.val_loader != NULL;
        float auc = selection_score(run, e);
        run->state.best_auc = isfinite(auc) ? auc : 0;
        run->state.best_loss = val ? e->val_loss : e->test_loss;
        run->state.best_epoch = epoch + 1;
        st = save_model(run, "best.safetensors");
    }
    return st == SIAMESE_OK ? save_model(run, "model.safetensors") : st;
}

/* Then the epoch's line, the checkpoint and the plot. */
static siamese_status save_progress(train_run *run, const siamese_train_event *e) {
    /* the epoch's line before its checkpoint: a run killed between the two resumes from the
     * previous checkpoint, which drops the line; the other way round the line was lost */
    siamese_status st = write_metrics(run, e);
    if (st == SIAMESE_OK) st = save_checkpoint(run);
    if (st == SIAMESE_OK &&
        sm_history_add_epoch(&run->history, (double)run->state.step, e->test_loss) != SIAMESE_OK)
        st = sm_fail(&run->err, SIAMESE_ERR_NOMEM, "out of memory");
    if (st == SIAMESE_OK) st = draw_loss_plot(run);
    return st;
}

static siamese_status finish_epoch(train_run *run, int epoch, double train_loss) {
    siamese_train_event e;
    memset(&e, 0, sizeof e);
    e.kind = SIAMESE_EVENT_EPOCH;
    e.loss = (float)train_loss;
    e.test_loss = e.test_auc = NAN;
    double t0 = sm_now_seconds();
    swap_ema(run, 1);
    siamese_status st = evaluate_on_rank0(run, &e);
    run->times.eval += sm_now_seconds() - t0;
    if (st != SIAMESE_OK) {
        swap_ema(run, 0);
        return st;
    }
    run->state.epoch = epoch + 1;
    run->state.batch = 0;
    fill_progress(run, &e, epoch, siamese_loader_batch_count(run->train_loader) - 1);
    run->state.elapsed += session_elapsed(run);
    run->session_start = sm_now_seconds();
    siamese_model_set_threshold(run->model, e.threshold);
    siamese_model_set_threshold_source(run->model,
                                       "training: best accuracy on the run's test pairs");
    t0 = sm_now_seconds();
    st = save_models(run, &e, epoch);
    swap_ema(run, 0);
    if (st == SIAMESE_OK) st = save_progress(run, &e);
    run->times.save += sm_now_seconds() - t0;
    st = sm_dist_agree(run->dist, st, &run->err);
    if (st == SIAMESE_OK) emit(run, &e);
    return st;
}

/* Saves where the run stands after an interrupt (the current step is complete). */
static siamese_status stop_requested(train_run *run, int epoch, int next_batch) {
    run->state.epoch = epoch;
    run->state.batch = next_batch;
    run->state.elapsed += session_elapsed(run);
    run->session_start = sm_now_seconds();
    siamese_status st = save_checkpoint(run);
    if (st == SIAMESE_OK) draw_loss_plot(run);
    if (st != SIAMESE_OK) return st;
    return sm_fail(
        &run->err, SIAMESE_ERR_INTERRUPTED,
        "interrupted in epoch %d after batch %d; checkpoint saved: resume the run in %s to go on",
        epoch + 1, next_batch, run->run_dir);
}

/* Data-parallel: a stop asked of any rank (rank 0 gets the Ctrl-C) stops every rank at once. */
static int stop_flag(train_run *run) {
    const volatile sig_atomic_t *stop = run->config.params.stop;
    return sm_dist_any(run->dist, stop && *stop);
}

static siamese_status run_epoch(train_run *run, int epoch) {
    siamese_status st = prepare_train_pairs(run, epoch); /* its message is in run->err */
    if (st != SIAMESE_OK) return st;
    int first = run->state.batch;
    st = siamese_loader_start_epoch_at(run->train_loader, epoch, first);
    if (st != SIAMESE_OK)
        return sm_fail(&run->err, st, "%s", siamese_loader_errmsg(run->train_loader));
    double loss_sum = 0;
    int steps = 0;
    run->loop_mark = sm_now_seconds();
    for (int index = first;; index++) {
        siamese_batch b;
        int whole;
        st = sm_loader_next_share(run->train_loader, &b, &whole);
        if (st != SIAMESE_OK)
            return sm_fail(&run->err, st, "%s", siamese_loader_errmsg(run->train_loader));
        if (whole == 0) break;
        float loss = NAN;
        st = sm_dist_agree(run->dist, train_step(run, &b, whole, epoch, index, &loss), &run->err);
        if (st != SIAMESE_OK) return st;
        loss_sum += loss;
        steps++;
        if (stop_flag(run)) return stop_requested(run, epoch, index + 1);
    }
    return finish_epoch(run, epoch, steps ? loss_sum / steps : NAN);
}

/* Early stopping: patience epochs have passed since the best model (an INFO event says so). */
static int patience_ran_out(const train_run *run) {
    int patience = run->config.params.patience;
    if (patience <= 0 || run->state.epoch - run->state.best_epoch < patience) return 0;
    emit_message(run, SIAMESE_EVENT_INFO,
                 "early stop after epoch %d: no better %s %s for %d epochs (best %.4f after "
                 "epoch %d, kept as best.safetensors)",
                 run->state.epoch, run->tools.val_loader ? "validation" : "test",
                 run->tools.oneshot.n ? "one-shot accuracy" : "ROC AUC", patience,
                 (double)run->state.best_auc, run->state.best_epoch);
    return 1;
}

static siamese_status run_epochs(train_run *run) {
    siamese_status st = SIAMESE_OK;
    for (int epoch = run->state.epoch; st == SIAMESE_OK && epoch < run->config.params.epochs;
         epoch++) {
        if (stop_flag(run)) return stop_requested(run, epoch, run->state.batch);
        st = run_epoch(run, epoch);
        if (st == SIAMESE_OK && patience_ran_out(run)) break;
    }
    return st;
}

/* ---------------------------------------------------------------- setup and teardown */

static void run_free(train_run *run) {
    siamese_loader_free(run->train_loader);
    siamese_loader_free(run->test_loader);
    siamese_pairs_free(&run->train_pairs);
    siamese_pairs_free(&run->test_pairs);
    siamese_split_free(run->split);
    siamese_trainer_free(run->trainer);
    sm_ema_free(&run->ema);
    siamese_model_free(run->model);
    siamese_dataset_free(run->dataset);
    sm_metrics_close(&run->metrics);
    sm_history_free(&run->history);
    sm_run_tools_free(&run->tools);
    sm_dist_free(run->dist);
    sm_run_lock_release(&run->lock);
    free(run->made_dir);
    free(run->test_distances);
    free(run->test_labels);
    free(run);
}

/* What a run writes besides config.json, split.json and metrics.jsonl (which a fresh run writes
 * anew): the checkpoint first, so that a fresh run killed while it clears them leaves nothing to
 * resume; then the models, the loss plot and the page 'siamese report' writes by default. */
static const char *const old_run_outputs[] = {"checkpoint.safetensors", "best.safetensors",
                                              "model.safetensors", "loss.png", "report.html"};

/* A fresh run clears what an earlier run left in its folder before it writes its own first file
 * (split.json), once nothing left can refuse it (folder, lock, --overwrite, network, data and
 * pairs have all passed): refused, it leaves the old run whole; killed before its own first
 * checkpoint, it leaves nothing to resume, never the old run under its new settings, and no old
 * model that 'siamese report' would score as this run's. Over a run (--overwrite) every one of
 * old_run_outputs goes; in a folder that held none, only a stray checkpoint (the files there
 * may be anyone's). Only named files of the run folder itself are removed, never a folder: a
 * data folder above the run folder is safe (one below it, too). */
static siamese_status clear_old_run(train_run *run) {
    if (!writer(run)) return SIAMESE_OK;
    size_t n = run->over_old_run ? sizeof old_run_outputs / sizeof old_run_outputs[0] : 1;
    char path[SM_TRAIN_TEXT_MAX + 32];
    for (size_t i = 0; i < n; i++) {
        run_path(run, old_run_outputs[i], path, sizeof path);
        if (remove(path) != 0 && errno != ENOENT)
            return sm_fail(&run->err, SIAMESE_ERR_IO, "%s: cannot remove the old run's file: %s",
                           path, strerror(errno));
    }
    return SIAMESE_OK;
}

/* Creates the run folder and any missing parents (a resumed run's folder must exist: see
 * check_resume_folder) and takes its lock (a folder another process is training into is refused
 * at once); a fresh run (fresh = 1) refuses one that holds a run already, unless overwrite is set,
 * so an earlier run's model and checkpoint are never lost by mistake. */
static siamese_status make_run_dir(train_run *run, const char *dir, int fresh, int overwrite) {
    if (strlen(dir) >= sizeof run->run_dir)
        return sm_fail(&run->err, SIAMESE_ERR_INVALID_ARG, "%s: path too long", dir);
    strcpy(run->run_dir, dir);
    if (!writer(run)) return SIAMESE_OK; /* data-parallel: rank 0 makes, locks and checks it */
    char path[SM_TRAIN_TEXT_MAX + 32];
    struct stat st;
    if (fresh) run->made_dir = sm_first_missing_dir(dir);
    siamese_status made = fresh ? sm_make_dirs(dir, &run->err) : SIAMESE_OK;
    run_path(run, SM_RUN_LOCK_NAME, path, sizeof path);
    run->made_lock = stat(path, &st) != 0 && errno == ENOENT;
    if (made == SIAMESE_OK) made = sm_run_lock_take(&run->lock, dir, &run->err);
    if (made != SIAMESE_OK) return made;
    run_path(run, "config.json", path, sizeof path);
    run->over_old_run = fresh && stat(path, &st) == 0;
    if (run->over_old_run && !overwrite)
        return sm_fail(&run->err, SIAMESE_ERR_EXISTS,
                       "%s already holds a training run: resume it, choose another folder, or "
                       "overwrite it",
                       dir);
    return SIAMESE_OK;
}

/* A fresh run that fails before its config.json is written leaves nothing usable: removes what
 * it created (its metrics.jsonl in a folder it made, its lock file, the folders it made), so the
 * failure leaves the disk as it found it. A folder that was there keeps its other files. */
static void undo_fresh_run(train_run *run) {
    char path[SM_TRAIN_TEXT_MAX + 32];
    if (run->saved_config || !writer(run)) return;
    sm_metrics_close(&run->metrics);
    if (run->made_dir) {
        run_path(run, "metrics.jsonl", path, sizeof path);
        (void)remove(path);
    }
    if (run->made_lock && run->lock.held) {
        run_path(run, SM_RUN_LOCK_NAME, path, sizeof path);
        (void)remove(path);
    }
    sm_run_lock_release(&run->lock);
    if (run->made_dir) sm_remove_dirs_up_to(run->run_dir, run->made_dir);
}

/* A resume that fails before it trains leaves the folder as it found it: no lock file it made. */
static void undo_resume(train_run *run) {
    char path[SM_TRAIN_TEXT_MAX + 32];
    if (!writer(run) || !run->made_lock || !run->lock.held) return;
    run_path(run, SM_RUN_LOCK_NAME, path, sizeof path);
    (void)remove(path);
    sm_run_lock_release(&run->lock);
}

static siamese_status report_setup(train_run *run) {
    emit_message(
        run, SIAMESE_EVENT_INFO,
        "data: %s (%s, %d classes, %d images); pairs: %d train, %d test; model: %s, "
        "%zu parameters, input %dx%dx%d",
        run->config.data_path, siamese_dataset_kind_name(siamese_dataset_get_kind(run->dataset)),
        siamese_dataset_class_count(run->dataset), siamese_dataset_image_count(run->dataset),
        siamese_loader_pair_count(run->train_loader), siamese_loader_pair_count(run->test_loader),
        run->config.params.arch, siamese_model_param_count(run->model),
        siamese_model_channels(run->model), siamese_model_height(run->model),
        siamese_model_width(run->model));
    char tools[1024];
    sm_run_tools_describe(&run->tools, &run->config.params, tools, sizeof tools);
    if (tools[0]) emit_message(run, SIAMESE_EVENT_INFO, "training: %s", tools);
    return SIAMESE_OK;
}

/* P x K batches and validation classes, when the settings ask for them. */
static siamese_status open_tools(train_run *run) {
    siamese_loader_params lp = loader_params(run, 0);
    return sm_run_tools_open(&run->tools, run->dataset, run->split, &run->config.params, &lp,
                             &run->chips, &run->err);
}

/* Every file decoded once as training decodes it, before any pair is drawn, so that pairs come
 * from usable images and every bad file is named (issue 15); the loaders made before
 * prepare_data ends copy the decoded pixels (within the cache budget) instead of decoding
 * again. Counts as time waiting for data. */
static siamese_status check_files(train_run *run, sm_ds_files *check) {
    siamese_loader_params lp = loader_params(run, 0);
    siamese_image_options o = siamese_image_default_options();
    o.channels = lp.channels, o.width = lp.width, o.height = lp.height, o.fast_jpeg = lp.fast_jpeg;
    double t0 = sm_now_seconds();
    siamese_status st =
        sm_ds_check_files(run->dataset, &o, SIAMESE_DATA_LISTED, lp.cache_bytes, check);
    run->wait_at_start += sm_now_seconds() - t0;
    if (st != SIAMESE_OK) return dataset_error(run, st);
    if (check->usable == 0)
        return sm_fail(&run->err, SIAMESE_ERR_DATA,
                       "%s: none of its %d files decodes as an image (each is named above)",
                       run->config.data_path, check->files);
    return SIAMESE_OK;
}

/* The files' account as a DATA event: to the callback and metrics.jsonl. */
static siamese_status log_files(train_run *run, const sm_ds_files *c) {
    siamese_train_event e;
    memset(&e, 0, sizeof e);
    e.kind = SIAMESE_EVENT_DATA;
    e.files = c->files, e.files_usable = c->usable, e.files_skipped = c->skipped;
    e.files_listed = c->listed;
    e.skipped_names = (const char *const *)c->names;
    e.skipped_reasons = (const char *const *)c->reasons;
    emit(run, &e);
    return write_metrics(run, &e);
}

/* The log's account of the face chips a loader makes as images enter its cache. */
static void chip_progress(void *user, int done, int total, double seconds) {
    const train_run *run = user;
    if (done == 0)
        emit_message(run, SIAMESE_EVENT_INFO,
                     "aligning %d faces: each image's face chip is made once, as the model's "
                     "commands make it (%d landmarks, found %d times)",
                     total, SM_LANDMARKS, SM_ALIGN_PASSES);
    else emit_message(run, SIAMESE_EVENT_INFO, "aligned %d faces in %.1f s", done, seconds);
}

/* A model with a face aligner (siamese import face-api --align, kept by --init and checkpoints)
 * trains on the face chips its commands embed: every loader is given them. */
static void setup_chips(train_run *run) {
    sm_align_loader_chips(run->model, &run->chips);
    run->chips.progress = chip_progress;
    run->chips.progress_user = run;
}

/* 1 when the run has done all its epochs already (resumed when finished, it trains nothing). */
static int all_epochs_done(const train_run *run) {
    return run->state.epoch >= run->config.params.epochs;
}

/* With the dataset open (open_dataset): checks its files, then makes the split, loaders and
 * metrics shared by fresh and resumed runs. */
static siamese_status prepare_data(train_run *run, int resuming) {
    sm_ds_files check;
    memset(&check, 0, sizeof check);
    setup_chips(run);
    siamese_status st = check_files(run, &check);
    if (st == SIAMESE_OK) st = make_split(run, resuming);
    if (st == SIAMESE_OK) st = open_tools(run);
    if (st == SIAMESE_OK) st = prepare_test_pairs(run);
    if (st == SIAMESE_OK) st = prepare_train_pairs(run, run->state.epoch);
    if (st == SIAMESE_OK && !resuming) st = clear_old_run(run);
    if (st == SIAMESE_OK && !resuming) st = save_split(run);
    char path[SM_TRAIN_TEXT_MAX + 32];
    run_path(run, "metrics.jsonl", path, sizeof path);
    if (st == SIAMESE_OK && writer(run))
        st = sm_metrics_open(&run->metrics, path, resuming ? run->state.step : -1, &run->history,
                             &run->err);
    if (st == SIAMESE_OK) st = report_setup(run);
    /* a finished run resumed (to redraw its plot) trains nothing: its log gains no data line */
    if (st == SIAMESE_OK && !(resuming && all_epochs_done(run))) st = log_files(run, &check);
    sm_ds_files_free(&check);
    return st;
}

static siamese_status finish_run(train_run *run, siamese_status st, char *errmsg, size_t size) {
    sm_err_out(&run->err, st, errmsg, size);
    run_free(run);
    return st;
}

static train_run *run_alloc(char *errmsg, size_t size) {
    train_run *run = calloc(1, sizeof *run);
    sm_err oom;
    if (!run) sm_err_out(&oom, sm_fail(&oom, SIAMESE_ERR_NOMEM, "out of memory"), errmsg, size);
    if (run) {
        run->state.best_auc = -1;
        run->session_start = sm_now_seconds();
    }
    return run;
}

/* Data-parallel when started by mpirun (or inside an MPI program) with more than one rank; P x K
 * batches are not split over ranks yet. */
static siamese_status check_dist_sampler(train_run *run) {
    if (run->dist && !strcmp(run->config.params.sampler, "pk"))
        return sm_fail(&run->err, SIAMESE_ERR_UNSUPPORTED,
                       "sampler pk does not train data-parallel yet: run it in one process");
    return SIAMESE_OK;
}

static siamese_status open_dist(train_run *run) {
    siamese_status st = sm_dist_open(1, &run->dist, &run->err);
    return st == SIAMESE_OK ? check_dist_sampler(run) : st;
}

siamese_status siamese_train(const char *data_path, const char *run_dir,
                             const siamese_train_params *params, char *errmsg, size_t errmsg_size) {
    if (!data_path || !run_dir) return sm_refuse(errmsg, errmsg_size, "no data path or run folder");
    train_run *run = run_alloc(errmsg, errmsg_size);
    if (!run) return SIAMESE_ERR_NOMEM;
    siamese_status st = sm_run_config_init(&run->config, data_path, params, &run->err);
    if (st == SIAMESE_OK) st = open_dist(run);
    /* the whole run, decoding included, computes with params->threads */
    sm_threads_scope threads = sm_threads_enter(st == SIAMESE_OK ? run->config.params.threads : 0);
    char path[SM_TRAIN_TEXT_MAX + 32];
    /* DATA first: one that does not open (missing, empty, not a dataset) is refused before the
     * run folder is made and before the network is built */
    if (st == SIAMESE_OK) st = open_dataset(run);
    if (st == SIAMESE_OK) st = make_run_dir(run, run_dir, 1, run->config.params.overwrite);
    st = sm_dist_agree(run->dist, st, &run->err);
    if (st == SIAMESE_OK) st = create_model(run);
    if (st == SIAMESE_OK) st = apply_fine_tuning(run, 1);
    if (st == SIAMESE_OK) st = create_trainer(run);
    if (st == SIAMESE_OK) st = prepare_data(run, 0);
    if (st == SIAMESE_OK && writer(run)) {
        run_path(run, "config.json", path, sizeof path);
        st = sm_run_config_save(&run->config, path, &run->err);
        run->saved_config = st == SIAMESE_OK;
    }
    st = sm_dist_agree(run->dist, st, &run->err);
    if (st != SIAMESE_OK) undo_fresh_run(run);
    if (st == SIAMESE_OK) st = run_epochs(run);
    sm_threads_leave(threads);
    return finish_run(run, st, errmsg, errmsg_size);
}

/* Loads the checkpoint into a fresh trainer and the run state. */
static siamese_status restore_checkpoint(train_run *run) {
    char path[SM_TRAIN_TEXT_MAX + 32];
    run_path(run, "checkpoint.safetensors", path, sizeof path);
    sm_checkpoint ckpt;
    siamese_status st = sm_checkpoint_load(path, &ckpt, &run->err);
    if (st != SIAMESE_OK) return st;
    run->model = ckpt.model;
    ckpt.model = NULL;
    run->state = ckpt.state;
    if (run->config.params.threads > 0)
        siamese_model_set_threads(run->model, run->config.params.threads);
    st = apply_fine_tuning(run, 0);
    if (st == SIAMESE_OK) st = create_trainer(run);
    if (st == SIAMESE_OK) sm_checkpoint_restore_adam(&ckpt, sm_trainer_adam(run->trainer));
    if (st == SIAMESE_OK) st = sm_checkpoint_restore_ema(&ckpt, path, &run->ema, &run->err);
    sm_checkpoint_close(&ckpt);
    run->wait_at_start = run->state.data_wait;
    run->times = run->state.times;
    run->loader_cpu_at_start = run->state.times.loader_cpu;
    return st;
}

/* A run killed before its first checkpoint (still reading its data, or in its first epoch) has
 * nothing to resume: says so plainly instead of failing to open a file the user never saw. */
static siamese_status check_resumable(train_run *run) {
    char config[SM_TRAIN_TEXT_MAX + 32], ckpt[SM_TRAIN_TEXT_MAX + 32];
    run_path(run, "config.json", config, sizeof config);
    run_path(run, "checkpoint.safetensors", ckpt, sizeof ckpt);
    struct stat st;
    if (stat(ckpt, &st) == 0 || errno != ENOENT) return SIAMESE_OK; /* the loads report */
    int has_config = stat(config, &st) == 0;
    return sm_fail(&run->err, SIAMESE_ERR_IO,
                   "%s: nothing to resume: the run stopped before its first checkpoint (%s); start "
                   "it again with the same settings, overwriting this folder",
                   run->run_dir,
                   has_config ? "config.json is there, checkpoint.safetensors is not"
                              : "neither config.json nor checkpoint.safetensors is there");
}

/* --resume names the folder of a run: one that is not there is a typo, never a folder to make
 * (with its parents) nor to leave a lock file in. */
static siamese_status check_resume_folder(train_run *run, const char *dir) {
    struct stat st;
    if (stat(dir, &st) != 0)
        return sm_fail(&run->err, SIAMESE_ERR_IO, "%s: %s", dir,
                       errno == ENOENT ? "no such folder" : strerror(errno));
    if (!S_ISDIR(st.st_mode)) return sm_fail(&run->err, SIAMESE_ERR_IO, "%s: not a folder", dir);
    return SIAMESE_OK;
}

/* A new total of epochs (epochs > 0) must leave something to train: epochs done (those whole
 * before the checkpoint; a run stopped inside epoch k + 1 has done k, and --epochs k + 1 finishes
 * it) or fewer would end the run before where it stands, and the run would then record a total
 * below its own progress. A usage error (SIAMESE_ERR_INVALID_ARG), before any file changes. */
static siamese_status check_new_total(train_run *run, int epochs) {
    int done = run->state.epoch;
    if (epochs <= 0 || epochs > done) return SIAMESE_OK;
    char within[64] = "";
    if (run->state.batch > 0)
        snprintf(within, sizeof within, " (and %d batch%s of epoch %d)", run->state.batch,
                 run->state.batch == 1 ? "" : "es", done + 1);
    return sm_fail(&run->err, SIAMESE_ERR_INVALID_ARG,
                   "%s has done %d epoch%s%s; a total of %d epoch%s would %s: give more than %d",
                   run->run_dir, done, done == 1 ? "" : "s", within, epochs, epochs == 1 ? "" : "s",
                   epochs == done ? "add none" : "end it before now", done);
}

siamese_status siamese_train_resume(const char *run_dir, const siamese_train_params *params,
                                    char *errmsg, size_t errmsg_size) {
    if (!run_dir) return sm_refuse(errmsg, errmsg_size, "no run folder");
    train_run *run = run_alloc(errmsg, errmsg_size);
    if (!run) return SIAMESE_ERR_NOMEM;
    char path[SM_TRAIN_TEXT_MAX + 32];
    siamese_status st = sm_dist_open(1, &run->dist, &run->err);
    if (st == SIAMESE_OK) st = check_resume_folder(run, run_dir);
    if (st == SIAMESE_OK) st = make_run_dir(run, run_dir, 0, 1);
    if (st == SIAMESE_OK) st = check_resumable(run);
    if (st == SIAMESE_OK) {
        run_path(run, "config.json", path, sizeof path);
        st = sm_run_config_load(&run->config, path, &run->err);
    }
    if (st == SIAMESE_OK && params) {
        siamese_train_params *p = &run->config.params;
        p->callback = params->callback;
        p->callback_user = params->callback_user;
        p->stop = params->stop;
        if (params->threads > 0) p->threads = params->threads;
        if (params->epochs > 0) p->epochs = params->epochs;
    }
    if (st == SIAMESE_OK) st = check_dist_sampler(run);
    st = sm_dist_agree(run->dist, st, &run->err);
    sm_threads_scope threads = sm_threads_enter(st == SIAMESE_OK ? run->config.params.threads : 0);
    if (st == SIAMESE_OK) st = restore_checkpoint(run);
    if (st == SIAMESE_OK && params) st = check_new_total(run, params->epochs);
    if (st == SIAMESE_OK) st = open_dataset(run);
    if (st == SIAMESE_OK) st = prepare_data(run, 1);
    /* the new total goes into config.json only once the checkpoint and the data have loaded: a
     * resume that fails leaves the run's files as they were */
    if (st == SIAMESE_OK && params && writer(run))
        st = sm_run_config_save(&run->config, path, &run->err);
    st = sm_dist_agree(run->dist, st, &run->err);
    if (st != SIAMESE_OK) undo_resume(run);
    if (st == SIAMESE_OK && all_epochs_done(run))
        emit_message(run, SIAMESE_EVENT_INFO,
                     "the run has done all its %d epochs: nothing to train (a new total above %d "
                     "trains more)",
                     run->config.params.epochs, run->config.params.epochs);
    else if (st == SIAMESE_OK)
        emit_message(run, SIAMESE_EVENT_INFO, "resuming at epoch %d, batch %d (step %lld)",
                     run->state.epoch + 1, run->state.batch + 1, (long long)run->state.step);
    /* killed after its last checkpoint but before its loss plot, a run draws the plot now */
    if (st == SIAMESE_OK && all_epochs_done(run)) st = draw_loss_plot(run);
    if (st == SIAMESE_OK) st = run_epochs(run);
    sm_threads_leave(threads);
    return finish_run(run, st, errmsg, errmsg_size);
}
