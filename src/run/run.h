/* Training runs (internal): resolved configuration, run state, checkpoints and metrics files. */
#ifndef SM_TRAIN_H
#define SM_TRAIN_H

#include <stdint.h>
#include <stdio.h>

#include "base/errors.h"
#include "nn/adam.h"
#include "run/ema.h"
#include "siamese.h"

#define SM_TRAIN_TEXT_MAX 4096

/* Every setting of a run as resolved, with owned strings: written to config.json and read back
 * on resume. */
typedef struct sm_run_config {
    char data_path[SM_TRAIN_TEXT_MAX];
    char arch[SM_TRAIN_TEXT_MAX];
    char sampler[16];
    char augment[1024];
    char init[SM_TRAIN_TEXT_MAX]; /* "" = none */
    char freeze[1024];            /* "" = none */
    char normalize[32];           /* "" = none, "imagenet" */
    siamese_train_params params;  /* string fields point into this struct */
    /* --precision auto or bf16: what the measurement said (filled when the trainer is made) */
    char precision_chosen[8];      /* "fp32" or "bf16"; "" when not measured */
    double precision_fp32_seconds; /* CPU seconds of a forward in fp32; 0 = not timed */
    double precision_bf16_seconds; /* the same in bf16 */
} sm_run_config;

/* Copies params (with defaults for NULL strings) into config and points its strings inside. */
siamese_status sm_run_config_init(sm_run_config *config, const char *data_path,
                                  const siamese_train_params *params, sm_err *err);
/* config.json: every setting plus the library version, written atomically. */
siamese_status sm_run_config_save(const sm_run_config *config, const char *path, sm_err *err);
siamese_status sm_run_config_load(sm_run_config *config, const char *path, sm_err *err);

/* The seed of the run's split and of its test and validation pairs: split_seed, else seed. */
uint64_t sm_run_split_seed(const siamese_train_params *p);

/* The pairs a run with settings p uses on one side of split in epoch (fixed pairs and the test
 * side ignore the epoch): the split's own pairs for pairs splits and pair datasets, else pairs
 * sampled on that side as p's sampler says. err receives the message of the split or dataset
 * that failed. siamese_train_side_pairs is the public face. */
siamese_status sm_train_side_pairs(siamese_dataset *dataset, const siamese_split *split,
                                   const siamese_train_params *p, int side, int epoch,
                                   siamese_pairs *out, sm_err *err);

/* Where a run's seconds went (see siamese_train_event: loop_time, step_time, ...). */
typedef struct sm_run_times {
    double loop, step, eval, save, loader_cpu, step_cpu;
} sm_run_times;

/* Where a run stands: saved in checkpoints. */
typedef struct sm_train_state {
    int epoch;          /* the epoch in progress (or next to start) */
    int batch;          /* the next batch of that epoch */
    int64_t step;       /* training steps done */
    double elapsed;     /* seconds of training before this session */
    double data_wait;   /* seconds waited for data before this session */
    float best_auc;     /* best test ROC AUC so far, -1 when none */
    float best_loss;    /* test loss of the best model */
    int best_epoch;     /* epochs done when the best model was saved (patience counts from it) */
    sm_run_times times; /* up to the checkpoint (0 in checkpoints older than these accounts) */
} sm_train_state;

/* checkpoint.safetensors: the model's tensors, Adam's m and v ("optimizer.exp_avg",
 * "optimizer.exp_avg_sq"), with --ema the averaged weights ("optimizer.ema_params" and, when
 * the network has batchnorm statistics, "optimizer.ema_buffers"; ema NULL or off: none) and the
 * state in __metadata__ ("checkpoint.*"), written atomically. */
siamese_status sm_checkpoint_save(const char *path, siamese_model *model, const sm_adam *adam,
                                  const sm_ema *ema, const sm_train_state *state, sm_err *err);
/* A checkpoint read into memory: the model (owned by the caller once taken), the state, and
 * Adam's moments and the averaged weights, which point into the file until sm_checkpoint_close. */
typedef struct sm_checkpoint {
    struct sm_st_file *file;
    siamese_model *model;
    sm_train_state state;
    int64_t adam_step;
    const float *exp_avg, *exp_avg_sq; /* [n] */
    size_t n;
    const float *ema_params;  /* [n], NULL: a checkpoint of a run without --ema */
    const float *ema_buffers; /* [n_buffers], NULL when ema_params is or n_buffers is 0 */
    size_t n_buffers;
} sm_checkpoint;

/* Reads and validates a checkpoint; nothing is kept on failure. */
siamese_status sm_checkpoint_load(const char *path, sm_checkpoint *ckpt, sm_err *err);
/* Copies the moments and step into adam (initialized for the same parameter count). */
void sm_checkpoint_restore_adam(const sm_checkpoint *ckpt, sm_adam *adam);
/* Copies the averaged weights into ema (on, for the same network); a checkpoint without them
 * for a run with them, or the other way round, is an error naming path. */
siamese_status sm_checkpoint_restore_ema(const sm_checkpoint *ckpt, const char *path, sm_ema *ema,
                                         sm_err *err);
/* Frees the file, and the model unless the caller took it (set ckpt->model = NULL). */
void sm_checkpoint_close(sm_checkpoint *ckpt);

/* The loss history behind loss.png and metrics.jsonl. */
typedef struct sm_train_history {
    double *log_step, *log_loss; /* training loss at each logged batch */
    int n_log, cap_log;
    double *epoch_step, *epoch_loss; /* test loss after each epoch */
    int n_epoch, cap_epoch;
} sm_train_history;

siamese_status sm_history_add_log(sm_train_history *h, double step, double loss);
siamese_status sm_history_add_epoch(sm_train_history *h, double step, double loss);
void sm_history_free(sm_train_history *h);
/* Draws the loss curves (training loss per logged batch, test loss per epoch) of a run whose
 * batch loss is batch_loss. */
siamese_status sm_history_plot(const sm_train_history *h, siamese_loss batch_loss, const char *path,
                               sm_err *err);

/* metrics.jsonl: one JSON object per line, appended and flushed line by line. */
typedef struct sm_metrics_file {
    FILE *fp;
    char path[SM_TRAIN_TEXT_MAX];
} sm_metrics_file;

/* Opens metrics.jsonl. On resume (keep_up_to_step >= 0) the lines after that step are dropped
 * (they belong to steps the checkpoint does not hold) and the kept ones refill history. */
siamese_status sm_metrics_open(sm_metrics_file *m, const char *path, int64_t keep_up_to_step,
                               sm_train_history *history, sm_err *err);
siamese_status sm_metrics_write_event(sm_metrics_file *m, const siamese_train_event *event,
                                      sm_err *err);
void sm_metrics_close(sm_metrics_file *m);

#endif
