/* The training tools inside a run (internal, issue 12): P x K batches with mining, validation
 * classes, the learning-rate schedule, and the pair evaluation shared by test and validation. */
#ifndef SM_RUN_TOOLS_H
#define SM_RUN_TOOLS_H

#include <stdint.h>

#include "base/errors.h"
#include "data/loader_chips.h"
#include "data/pk_sampler.h"
#include "run/val_oneshot.h"
#include "siamese.h"

/* Mean loss, ROC AUC, best threshold and its accuracy over a set of pairs. */
typedef struct sm_pair_eval {
    float loss, auc, threshold, accuracy;
} sm_pair_eval;

/* Evaluates every pair of loader (from the start of its epoch 0) with trainer, without updating
 * anything; distances and labels hold the loader's pair count. A non-finite loss (NaN or Inf
 * distances) is reported as NaN fields, not as an error; other failures name the trainer's or
 * the loader's message. */
siamese_status sm_evaluate_pairs(siamese_trainer *trainer, siamese_loader *loader, float *distances,
                                 float *labels, sm_pair_eval *out, sm_err *err);

typedef struct sm_run_tools {
    int pk;                   /* the sampler is "pk" */
    int pk_batches;           /* batches per epoch */
    sm_pk_batches epoch;      /* the epoch's batches */
    int *classes;             /* [P * K]: the current batch's classes */
    siamese_split *val_split; /* held-out training classes (side 1); NULL without them */
    siamese_pairs val_pairs;
    siamese_loader *val_loader;
    float *val_distances, *val_labels; /* [val pairs] */
    sm_val_oneshot oneshot; /* p->val_way > 0: one-shot accuracy on the validation classes */
    sm_loader_chips chips;  /* face chips for every loader (issue 13), or make NULL */
} sm_run_tools;

/* Sets the tools up for a run with settings p on split: the validation classes (or groups) and
 * their pairs and loader (made with eval_lp: no augmentation, no shuffle) when p->val_fraction
 * or p->val_groups > 0 (and their one-shot images when p->val_way > 0), and the P x K plan when p->sampler is "pk" (failing when P x K exceeds
 * the training side). Every image is a face chip when chips->make is set (NULL: none). */
siamese_status sm_run_tools_open(sm_run_tools *t, siamese_dataset *dataset,
                                 const siamese_split *split, const siamese_train_params *p,
                                 const siamese_loader_params *eval_lp, const sm_loader_chips *chips,
                                 sm_err *err);
void sm_run_tools_free(sm_run_tools *t);

/* The split training draws from: side 0 of the validation split when there is one. */
const siamese_split *sm_run_tools_train_split(const sm_run_tools *t, const siamese_split *split);

/* The largest batch of pairs the trainer needs: batch_size, or P x K images / 2 for "pk". */
int sm_run_tools_max_pairs(const siamese_train_params *p);

/* The epoch's P x K batches into *loader (created with lp on first use, its batch size set to
 * P x K, else given the new images). */
siamese_status sm_run_tools_pk_loader(sm_run_tools *t, siamese_dataset *dataset,
                                      const siamese_split *split, const siamese_train_params *p,
                                      const siamese_loader_params *lp, int epoch,
                                      siamese_loader **loader, sm_err *err);

/* One training step on a P x K batch with p's mining (NONE = ALL). */
siamese_status sm_run_tools_step(sm_run_tools *t, siamese_trainer *trainer,
                                 const siamese_batch *batch, siamese_mining mining, float *loss);

/* The learning rate of step under p's schedule over epochs x batches_per_epoch steps. */
double sm_run_tools_lr(const siamese_train_params *p, int64_t step, int batches_per_epoch);

/* One line describing the tools in use ("" when the run uses none). */
void sm_run_tools_describe(const sm_run_tools *t, const siamese_train_params *p, char *out,
                           size_t size);

#endif
