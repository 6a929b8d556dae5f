/* Validation splits: training classes held out, drawn from the seed, as a classes split whose
 * side 0 trains and side 1 validates; the test side of the run's split stays out of both. The
 * held-out classes are drawn one by one, or as whole groups (top-level folders: alphabets). */
#include "data/split_val.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/rng.h"
#include "data/dataset.h"
#include "data/split.h"

#define STREAM_VALIDATION 0x56414c4944000000ull /* "VALID" */
#define STREAM_GROUPS 0x56414c4752500000ull     /* "VALGRP" */

/* The classes holding a training image of split (a 0/1 mark per class); returns how many. */
static int training_classes(const siamese_split *split, unsigned char *has_train) {
    const siamese_dataset *ds = split->ds;
    int n = 0;
    for (int i = 0; i < ds->n_images; i++) {
        int c = ds->images[i].class_id;
        if (c >= 0 && split->image_side[i] == 0 && !has_train[c]) has_train[c] = 1, n++;
    }
    return n;
}

static siamese_status check_split(const siamese_split *split, sm_err *err) {
    siamese_dataset *ds = split->ds;
    if (ds->n_classes <= 0)
        return sm_fail(err, SIAMESE_ERR_INVALID_ARG,
                       "%s: validation classes need a dataset with classes", ds->path);
    if (split->kind == SIAMESE_SPLIT_PAIRS)
        return sm_fail(err, SIAMESE_ERR_INVALID_ARG,
                       "validation classes need a split over images or classes, not over pairs");
    return SIAMESE_OK;
}

static siamese_status check_request(const siamese_split *split, double fraction, sm_err *err) {
    siamese_status st = check_split(split, err);
    if (st != SIAMESE_OK) return st;
    if (!(fraction > 0 && fraction < 1))
        return sm_fail(err, SIAMESE_ERR_INVALID_ARG,
                       "the validation share %g must be between 0 and 1", fraction);
    return SIAMESE_OK;
}

/* Marks the validation classes: the first n_val of the training classes in a seeded order. */
static siamese_status pick_classes(const siamese_split *split, double fraction, uint64_t seed,
                                   const unsigned char *has_train, int n_train,
                                   unsigned char *is_val, sm_err *err) {
    siamese_dataset *ds = split->ds;
    int n_val = (int)lround(fraction * n_train);
    if (n_val < 2) n_val = 2;
    if (n_train - n_val < 2)
        return sm_fail(err, SIAMESE_ERR_INVALID_ARG,
                       "%s: %d training classes cannot give 2 or more validation classes and "
                       "keep 2 for training",
                       ds->path, n_train);
    int *order = malloc((size_t)n_train * sizeof *order);
    if (!order) return sm_fail(err, SIAMESE_ERR_NOMEM, "out of memory");
    int k = 0;
    for (int c = 0; c < ds->n_classes; c++)
        if (has_train[c]) order[k++] = c;
    sm_rng rng;
    sm_rng_seed(&rng, sm_seed_mix(seed, STREAM_VALIDATION));
    sm_rng_shuffle_int(&rng, order, n_train);
    for (int i = 0; i < n_val; i++) is_val[order[i]] = 1;
    free(order);
    return SIAMESE_OK;
}

static siamese_status build(const siamese_split *split, const unsigned char *has_train,
                            const unsigned char *is_val, siamese_split *v) {
    siamese_dataset *ds = split->ds;
    v->ds = ds;
    v->kind = SIAMESE_SPLIT_CLASSES;
    v->seed = split->seed;
    v->train_fraction = split->train_fraction;
    v->image_side = malloc((size_t)ds->n_images + 1);
    v->class_side = malloc((size_t)ds->n_classes + 1);
    if (!v->image_side || !v->class_side) return SIAMESE_ERR_NOMEM;
    for (int c = 0; c < ds->n_classes; c++)
        v->class_side[c] = (signed char)(has_train[c] ? is_val[c] : -1);
    for (int i = 0; i < ds->n_images; i++) {
        int c = ds->images[i].class_id;
        v->image_side[i] = (signed char)(c >= 0 && split->image_side[i] == 0 ? is_val[c] : -1);
    }
    return SIAMESE_OK;
}

/* Picks validation classes among the training classes (which of them: is_val). */
typedef siamese_status (*val_picker)(const siamese_split *split, double amount, uint64_t seed,
                                     const unsigned char *has_train, int n_train,
                                     unsigned char *is_val, sm_err *err);

/* The validation split that pick chooses (amount: its fraction or count) out of split's
 * training side. */
static siamese_status validation_split(const siamese_split *split, val_picker pick, double amount,
                                       uint64_t seed, siamese_split **out) {
    siamese_dataset *ds = split->ds;
    siamese_status st = SIAMESE_OK;
    unsigned char *has_train = calloc((size_t)ds->n_classes + 1, 1);
    unsigned char *is_val = calloc((size_t)ds->n_classes + 1, 1);
    siamese_split *v = calloc(1, sizeof *v);
    if (!has_train || !is_val || !v) st = sm_fail(&ds->err, SIAMESE_ERR_NOMEM, "out of memory");
    if (st == SIAMESE_OK)
        st = pick(split, amount, seed, has_train, training_classes(split, has_train), is_val,
                  &ds->err);
    if (st == SIAMESE_OK && build(split, has_train, is_val, v) != SIAMESE_OK)
        st = sm_fail(&ds->err, SIAMESE_ERR_NOMEM, "out of memory");
    free(has_train);
    free(is_val);
    if (st != SIAMESE_OK) siamese_split_free(v);
    else *out = v;
    return st;
}

siamese_status sm_split_validation(const siamese_split *split, double fraction, uint64_t seed,
                                   siamese_split **out) {
    *out = NULL;
    siamese_dataset *ds = split->ds;
    siamese_status st = check_request(split, fraction, &ds->err);
    if (st != SIAMESE_OK) return st;
    return validation_split(split, pick_classes, fraction, seed, out);
}

/* ------------------------------------------------------------------ whole groups */

typedef struct group_key {
    const char *name; /* the class name; its group is the part before the first '/' */
    size_t len;       /* length of the group part */
    int class_id;
} group_key;

static int compare_group_keys(const void *a, const void *b) {
    const group_key *x = a, *y = b;
    size_t n = x->len < y->len ? x->len : y->len;
    int c = memcmp(x->name, y->name, n);
    if (c != 0) return c;
    if (x->len != y->len) return x->len < y->len ? -1 : 1;
    return (x->class_id > y->class_id) - (x->class_id < y->class_id);
}

/* The training classes sorted by group (keys[0..n_train)); group_of[k] = the group ordinal of
 * keys[k]; returns the number of groups, or -1 (message in err) for a class outside a group. */
static int group_training_classes(const siamese_dataset *ds, const unsigned char *has_train,
                                  group_key *keys, int *group_of, sm_err *err) {
    int n = 0;
    for (int c = 0; c < ds->n_classes; c++) {
        if (!has_train[c]) continue;
        const char *slash = strchr(ds->class_names[c], '/');
        if (!slash) {
            sm_fail(err, SIAMESE_ERR_INVALID_ARG,
                    "%s: class '%s' is not inside a group folder (validation groups need "
                    "DATA/GROUP/CLASS/image files, e.g. Omniglot's alphabets)",
                    ds->path, ds->class_names[c]);
            return -1;
        }
        keys[n++] = (group_key){ds->class_names[c], (size_t)(slash - ds->class_names[c]), c};
    }
    qsort(keys, (size_t)n, sizeof *keys, compare_group_keys);
    int groups = 0;
    for (int k = 0; k < n; k++) {
        if (k > 0 && (keys[k].len != keys[k - 1].len ||
                      memcmp(keys[k].name, keys[k - 1].name, keys[k].len) != 0))
            groups++;
        group_of[k] = groups;
    }
    return n > 0 ? groups + 1 : 0;
}

/* How many groups to hold out: a count (>= 1) or a share (in (0, 1)) of n_groups, at least 1,
 * leaving at least 1 group for training; -1 (message in err) when that cannot be. */
static int validation_group_count(const siamese_dataset *ds, double groups, int n_groups,
                                  sm_err *err) {
    int n_val = groups >= 1 ? (int)groups : (int)lround(groups * n_groups);
    if (n_val < 1) n_val = 1;
    if (n_val >= n_groups) {
        sm_fail(err, SIAMESE_ERR_INVALID_ARG,
                "%s: %d group folder%s with training classes cannot give %d for validation and "
                "keep 1 for training",
                ds->path, n_groups, n_groups == 1 ? "" : "s", n_val);
        return -1;
    }
    return n_val;
}

/* Marks the classes of the first n_val groups in a seeded order; checks 2 classes per side. */
static siamese_status pick_groups(const siamese_split *split, double groups, uint64_t seed,
                                  const unsigned char *has_train, int n_train,
                                  unsigned char *is_val, sm_err *err) {
    siamese_dataset *ds = split->ds;
    group_key *keys = malloc(((size_t)n_train + 1) * sizeof *keys);
    int *group_of = malloc(((size_t)n_train + 1) * sizeof *group_of);
    int *order = malloc(((size_t)n_train + 1) * sizeof *order);
    unsigned char *held = calloc((size_t)n_train + 1, 1);
    siamese_status st = SIAMESE_OK;
    if (!keys || !group_of || !order || !held)
        st = sm_fail(err, SIAMESE_ERR_NOMEM, "out of memory");
    int n_groups =
        st == SIAMESE_OK ? group_training_classes(ds, has_train, keys, group_of, err) : 0;
    if (st == SIAMESE_OK && n_groups < 0) st = SIAMESE_ERR_INVALID_ARG;
    if (st == SIAMESE_OK && n_groups == 0)
        st = sm_fail(err, SIAMESE_ERR_INVALID_ARG, "%s: no training classes to hold out", ds->path);
    int n_val = st == SIAMESE_OK ? validation_group_count(ds, groups, n_groups, err) : -1;
    if (st == SIAMESE_OK && n_val < 0) st = SIAMESE_ERR_INVALID_ARG;
    if (st == SIAMESE_OK) {
        for (int g = 0; g < n_groups; g++) order[g] = g;
        sm_rng rng;
        sm_rng_seed(&rng, sm_seed_mix(seed, STREAM_GROUPS));
        sm_rng_shuffle_int(&rng, order, n_groups);
        for (int i = 0; i < n_val; i++) held[order[i]] = 1;
        int n_held = 0;
        for (int k = 0; k < n_train; k++) {
            is_val[keys[k].class_id] = held[group_of[k]];
            n_held += held[group_of[k]];
        }
        if (n_held < 2 || n_train - n_held < 2)
            st = sm_fail(err, SIAMESE_ERR_INVALID_ARG,
                         "%s: %d validation group%s hold %d of the %d training classes; each side "
                         "needs at least 2",
                         ds->path, n_val, n_val == 1 ? "" : "s", n_held, n_train);
    }
    free(keys);
    free(group_of);
    free(order);
    free(held);
    return st;
}

siamese_status sm_split_validation_groups(const siamese_split *split, double groups, uint64_t seed,
                                          siamese_split **out) {
    *out = NULL;
    siamese_dataset *ds = split->ds;
    siamese_status st = check_split(split, &ds->err);
    if (st != SIAMESE_OK) return st;
    if (!(groups > 0 && groups <= 1e6) || (groups >= 1 && groups != floor(groups)))
        return sm_fail(&ds->err, SIAMESE_ERR_INVALID_ARG,
                       "validation groups %g: give a share in (0, 1) or a whole count >= 1",
                       groups);
    return validation_split(split, pick_groups, groups, seed, out);
}
