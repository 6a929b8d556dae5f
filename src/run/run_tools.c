/* The training tools inside a run: P x K batches fed to the trainer's labelled step, validation
 * classes evaluated like the test pairs, and the learning rate of every step. */
#include "run/run_tools.h"
#include "run/run.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/dataset.h"
#include "data/loader_labelled.h"
#include "data/split.h"
#include "data/split_val.h"

#define SEED_VALIDATION 0x56414c53ull /* "VALS" */
#define SEED_PK 0x504b4241ull         /* "PKBA" */
#define SEED_ONESHOT 0x4f4e4553ull    /* "ONES" */

siamese_status sm_evaluate_pairs(siamese_trainer *trainer, siamese_loader *loader, float *distances,
                                 float *labels, sm_pair_eval *out, sm_err *err) {
    *out = (sm_pair_eval){NAN, NAN, 0, 0};
    siamese_status st = siamese_loader_start_epoch(loader, 0);
    const char *failed = siamese_loader_errmsg(loader);
    double loss_sum = 0;
    int seen = 0;
    for (siamese_batch b; st == SIAMESE_OK;) {
        st = siamese_loader_next(loader, &b);
        if (st != SIAMESE_OK || b.n == 0) break;
        float loss;
        st = siamese_trainer_evaluate(trainer, b.first, b.second, b.labels, b.n, &loss,
                                      distances + seen);
        if (st != SIAMESE_OK) failed = siamese_trainer_errmsg(trainer);
        if (st != SIAMESE_OK) break;
        memcpy(labels + seen, b.labels, (size_t)b.n * sizeof *labels);
        loss_sum += (double)loss * b.n;
        seen += b.n;
    }
    if (st == SIAMESE_OK && seen > 0) {
        out->loss = (float)(loss_sum / seen);
        out->auc = (float)siamese_roc_auc(distances, labels, seen);
        siamese_best_threshold(distances, labels, seen, &out->threshold, &out->accuracy);
    }
    return st == SIAMESE_OK ? st : sm_fail(err, st, "%s", failed);
}

/* The validation classes, their recipe pairs and a loader for them. */
static siamese_status open_validation(sm_run_tools *t, siamese_dataset *ds,
                                      const siamese_split *split, const siamese_train_params *p,
                                      const siamese_loader_params *eval_lp, sm_err *err) {
    uint64_t split_seed = sm_run_split_seed(p);
    siamese_status st =
        p->val_groups > 0 ? sm_split_validation_groups(split, p->val_groups,
                                                       split_seed ^ SEED_VALIDATION, &t->val_split)
                          : sm_split_validation(split, p->val_fraction,
                                                split_seed ^ SEED_VALIDATION, &t->val_split);
    if (st == SIAMESE_OK)
        st = siamese_pairs_recipe(ds, t->val_split, 1, p->per_class, split_seed ^ SEED_VALIDATION,
                                  &t->val_pairs);
    if (st != SIAMESE_OK)
        return sm_fail(err, st, "validation classes: %s", siamese_dataset_errmsg(ds));
    st = sm_loader_create_chips(ds, &t->val_pairs, eval_lp, &t->chips, &t->val_loader);
    if (st != SIAMESE_OK)
        return sm_fail(err, st, "validation pairs: %s",
                       t->val_loader ? siamese_loader_errmsg(t->val_loader) : "out of memory");
    size_t n = (size_t)siamese_loader_pair_count(t->val_loader);
    t->val_distances = malloc(n * sizeof(float));
    t->val_labels = malloc(n * sizeof(float));
    if (!t->val_distances || !t->val_labels)
        return sm_fail(err, SIAMESE_ERR_NOMEM, "out of memory");
    if (p->val_way <= 0) return SIAMESE_OK;
    return sm_val_oneshot_open(&t->oneshot, ds, t->val_split, eval_lp, &t->chips, p->val_way,
                               p->val_groups > 0, split_seed ^ SEED_ONESHOT, err);
}

siamese_status sm_run_tools_open(sm_run_tools *t, siamese_dataset *ds, const siamese_split *split,
                                 const siamese_train_params *p,
                                 const siamese_loader_params *eval_lp, const sm_loader_chips *chips,
                                 sm_err *err) {
    memset(t, 0, sizeof *t);
    if (chips) t->chips = *chips;
    siamese_status st = SIAMESE_OK;
    if (p->val_fraction > 0 || p->val_groups > 0)
        st = open_validation(t, ds, split, p, eval_lp, err);
    if (st != SIAMESE_OK || strcmp(p->sampler, "pk") != 0) return st;
    t->pk = 1;
    t->classes = malloc((size_t)p->pk_classes * p->pk_images * sizeof *t->classes);
    if (!t->classes) return sm_fail(err, SIAMESE_ERR_NOMEM, "out of memory");
    st = sm_pk_plan(ds, sm_run_tools_train_split(t, split), 0, p->pk_classes, p->pk_images,
                    &t->pk_batches);
    return st == SIAMESE_OK ? st : sm_fail(err, st, "%s", siamese_dataset_errmsg(ds));
}

void sm_run_tools_free(sm_run_tools *t) {
    sm_pk_batches_free(&t->epoch);
    free(t->classes);
    siamese_loader_free(t->val_loader);
    siamese_pairs_free(&t->val_pairs);
    siamese_split_free(t->val_split);
    free(t->val_distances);
    free(t->val_labels);
    sm_val_oneshot_free(&t->oneshot);
    memset(t, 0, sizeof *t);
}

const siamese_split *sm_run_tools_train_split(const sm_run_tools *t, const siamese_split *split) {
    return t->val_split ? t->val_split : split;
}

int sm_run_tools_max_pairs(const siamese_train_params *p) {
    if (strcmp(p->sampler, "pk") != 0) return p->batch_size;
    int half = (p->pk_classes * p->pk_images + 1) / 2;
    return half > p->batch_size ? half : p->batch_size;
}

siamese_status sm_run_tools_pk_loader(sm_run_tools *t, siamese_dataset *ds,
                                      const siamese_split *split, const siamese_train_params *p,
                                      const siamese_loader_params *lp, int epoch,
                                      siamese_loader **loader, sm_err *err) {
    sm_pk_batches_free(&t->epoch);
    siamese_status st =
        sm_pk_sample(ds, sm_run_tools_train_split(t, split), 0, p->pk_classes, p->pk_images,
                     t->pk_batches, p->seed ^ SEED_PK, epoch, &t->epoch);
    if (st != SIAMESE_OK) return sm_fail(err, st, "%s", siamese_dataset_errmsg(ds));
    int turns = p->class_rotations > 1 ? p->class_rotations : 0;
    if (turns) sm_pk_turn_classes(&t->epoch, p->pk_images, turns, p->seed ^ SEED_PK, epoch);
    if (!*loader) {
        siamese_loader_params pk_lp = *lp;
        pk_lp.batch_size = p->pk_classes * p->pk_images;
        st = sm_loader_create_labelled(ds, t->epoch.images, t->epoch.classes, t->epoch.count,
                                       &pk_lp, &t->chips, loader);
        if (st == SIAMESE_OK && turns) st = sm_loader_set_class_turns(*loader, turns);
    } else {
        st = sm_loader_set_labelled(*loader, t->epoch.images, t->epoch.classes, t->epoch.count);
    }
    if (st != SIAMESE_OK)
        sm_fail(err, st, "%s", *loader ? siamese_loader_errmsg(*loader) : "out of memory");
    return st;
}

siamese_status sm_run_tools_step(sm_run_tools *t, siamese_trainer *trainer,
                                 const siamese_batch *batch, siamese_mining mining, float *loss) {
    for (int i = 0; i < batch->n; i++) t->classes[i] = (int)batch->labels[i];
    if (mining == SIAMESE_MINING_NONE) mining = SIAMESE_MINING_ALL;
    return siamese_trainer_step_batch(trainer, batch->images, t->classes, batch->n, mining, loss,
                                      NULL);
}

double sm_run_tools_lr(const siamese_train_params *p, int64_t step, int batches_per_epoch) {
    int64_t total = (int64_t)p->epochs * batches_per_epoch;
    int64_t every = (int64_t)p->lr_step_epochs * batches_per_epoch;
    if (every <= 0) every = (total + 2) / 3;
    return siamese_lr_at(p->lr_schedule, p->learning_rate, step, total, p->warmup_steps, every,
                         p->lr_gamma);
}

/* Appends the held-out groups of a --val-groups split to out (at n): their names in class
 * order, each once (a grouped dataset's classes are in name order, so a group is contiguous). */
static int describe_groups(const siamese_split *val, char *out, size_t size, int n) {
    const siamese_dataset *ds = val->ds;
    const char *last = NULL;
    size_t last_len = 0;
    for (int c = 0; c < ds->n_classes && (size_t)n < size; c++) {
        const char *name = ds->class_names[c], *slash = strchr(name, '/');
        if (val->class_side[c] != 1 || !slash) continue;
        size_t len = (size_t)(slash - name);
        if (last && len == last_len && !memcmp(name, last, len)) continue;
        n += snprintf(out + n, size - (size_t)n, "%s%.*s", last ? ", " : " (groups ", (int)len,
                      name);
        last = name;
        last_len = len;
    }
    if (last && (size_t)n < size) n += snprintf(out + n, size - (size_t)n, ")");
    return n;
}

void sm_run_tools_describe(const sm_run_tools *t, const siamese_train_params *p, char *out,
                           size_t size) {
    int n = 0;
    out[0] = '\0';
    if (t->pk)
        n += snprintf(out + n, size - (size_t)n,
                      "batches %d x %d (%d per epoch), %s loss, mining %s; ", p->pk_classes,
                      p->pk_images, t->pk_batches, siamese_loss_name(p->loss),
                      siamese_mining_name(p->mining ? p->mining : SIAMESE_MINING_ALL));
    if (p->augment && *p->augment && (size_t)n < size)
        n += snprintf(out + n, size - (size_t)n, "augment %s; ", p->augment);
    if (t->pk && p->class_rotations > 1 && (size_t)n < size)
        n += snprintf(out + n, size - (size_t)n, "each class also turned by %s as classes; ",
                      p->class_rotations == 4 ? "90, 180 and 270 degrees" : "180 degrees");
    if ((p->lr_schedule != SIAMESE_LR_CONSTANT || p->warmup_steps > 0) && (size_t)n < size)
        n += snprintf(out + n, size - (size_t)n, "lr %s (warmup %d steps); ",
                      siamese_lr_schedule_name(p->lr_schedule), p->warmup_steps);
    if (t->val_loader && (size_t)n < size)
        n += snprintf(out + n, size - (size_t)n, "validation: %d pairs of held-out classes",
                      siamese_loader_pair_count(t->val_loader));
    if (t->val_loader && p->val_groups > 0 && (size_t)n < size)
        n = describe_groups(t->val_split, out, size, n);
    if (t->oneshot.n && (size_t)n < size) {
        char line[160];
        sm_val_oneshot_describe(&t->oneshot, line, sizeof line);
        n += snprintf(out + n, size - (size_t)n, ", chosen by %s", line);
    }
    if (t->val_loader && (size_t)n < size) n += snprintf(out + n, size - (size_t)n, "; ");
    if (p->patience > 0 && (size_t)n < size)
        n += snprintf(out + n, size - (size_t)n, "patience %d epochs; ", p->patience);
    if (n >= 2 && (size_t)n <= size) out[n - 2] = '\0';
}
