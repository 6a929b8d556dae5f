/* Validation splits (internal): a share of the training side's classes held out for model
 * selection and early stopping, so the test side is never used to choose a model. */
#ifndef SM_SPLIT_VAL_H
#define SM_SPLIT_VAL_H

#include <stdint.h>

#include "siamese.h"

/* A classes split over the training side of split: side 1 = round(fraction x the training
 * classes) classes drawn from seed (at least 2), side 0 = the other training classes (at least
 * 2), the test side of split on neither. SIAMESE_ERR_INVALID_ARG (message in the dataset's
 * errmsg) for a dataset without classes, a split without an image side (pairs), a fraction
 * outside (0, 1), or too few classes. */
siamese_status sm_split_validation(const siamese_split *split, double fraction, uint64_t seed,
                                   siamese_split **out);

/* Like sm_split_validation, but holds out whole groups: a class named "GROUP/CLASS" (a dataset
 * of DATA/GROUP/CLASS/ folders, e.g. Omniglot's alphabets) is in group GROUP. groups is a share
 * of the groups holding training classes when in (0, 1) (rounded, at least 1), or a whole count
 * when >= 1; at least 1 group stays for training and each side keeps 2 classes or more. The
 * groups are drawn from seed. SIAMESE_ERR_INVALID_ARG (message in the dataset's errmsg) for a
 * class outside a group folder, a bad groups value or too few groups/classes. */
siamese_status sm_split_validation_groups(const siamese_split *split, double groups, uint64_t seed,
                                          siamese_split **out);

#endif
