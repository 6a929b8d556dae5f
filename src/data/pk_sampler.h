/* The P x K sampler (internal): batches of P classes x K images each, for losses over all pairs
 * of a batch (batch-all, hard and semi-hard mining). */
#ifndef SM_PK_SAMPLER_H
#define SM_PK_SAMPLER_H

#include <stdint.h>

#include "siamese.h"

/* One epoch of batches: images and their classes, batch b at [b * P * K, (b + 1) * P * K),
 * grouped by class (K images of one class, then K of the next). */
typedef struct sm_pk_batches {
    int *images;
    int *classes;
    int count; /* batches * P * K */
} sm_pk_batches;

/* Checks that side (0 train, 1 test; split NULL = the whole dataset) of a class dataset has at
 * least P classes with K usable images each, and gives the batches an epoch holds: one pass over
 * the images of those classes, at least 1. SIAMESE_ERR_INVALID_ARG (message in the dataset's
 * errmsg) when P x K asks for more than the data has. */
siamese_status sm_pk_plan(siamese_dataset *dataset, const siamese_split *split, int side, int p,
                          int k, int *batches_per_epoch);

/* Draws the epoch's batches from (seed, epoch): the eligible classes in a shuffled order, P at a
 * time (reshuffled when fewer than P remain), K distinct images of each. */
siamese_status sm_pk_sample(siamese_dataset *dataset, const siamese_split *split, int side, int p,
                            int k, int batches, uint64_t seed, int epoch, sm_pk_batches *out);
void sm_pk_batches_free(sm_pk_batches *batches);

/* Rotated classes (siamese train --class-rotations): each class's K images in a batch get one
 * turn r drawn from (seed, epoch, batch position), uniform in [0, turns), and become class
 * c * turns + r, so every turn of a class is a class of its own (the loader turns the images,
 * sm_loader_set_class_turns). turns 2 or 4. */
void sm_pk_turn_classes(sm_pk_batches *batches, int k, int turns, uint64_t seed, int epoch);

#endif
