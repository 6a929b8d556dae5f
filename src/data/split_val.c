/* Validation splits: training classes held out, drawn from the seed, as a classes split whose
 * side 0 trains and side 1 validates; the test side of the run's split stays out of both. */
#include "data/split_val.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/rng.h"
#include "data/dataset.h"
#include "data/split.h"

#define STREAM_VALIDATION 0x56414c4944000000ull /* "VALID" */

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

static siamese_status check_request(const siamese_split *split, double fraction, sm_err *err) {
    siamese_dataset *ds = split->ds;
    if (ds->n_classes <= 0)
        return sm_fail(err, SIAMESE_ERR_INVALID_ARG,
                       "%s: validation classes need a dataset with classes", ds->path);
    if (split->kind == SIAMESE_SPLIT_PAIRS)
        return sm_fail(err, SIAMESE_ERR_INVALID_ARG,
                       "validation classes need a split over images or classes, not over pairs");
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

siamese_status sm_split_validation(const siamese_split *split, double fraction, uint64_t seed,
                                   siamese_split **out) {
    *out = NULL;
    siamese_dataset *ds = split->ds;
    siamese_status st = check_request(split, fraction, &ds->err);
    if (st != SIAMESE_OK) return st;
    unsigned char *has_train = calloc((size_t)ds->n_classes + 1, 1);
    unsigned char *is_val = calloc((size_t)ds->n_classes + 1, 1);
    siamese_split *v = calloc(1, sizeof *v);
    if (!has_train || !is_val || !v) st = sm_fail(&ds->err, SIAMESE_ERR_NOMEM, "out of memory");
    if (st == SIAMESE_OK)
        st = pick_classes(split, fraction, seed, has_train, training_classes(split, has_train),
                          is_val, &ds->err);
    if (st == SIAMESE_OK && build(split, has_train, is_val, v) != SIAMESE_OK)
        st = sm_fail(&ds->err, SIAMESE_ERR_NOMEM, "out of memory");
    free(has_train);
    free(is_val);
    if (st != SIAMESE_OK) siamese_split_free(v);
    else *out = v;
    return st;
}
