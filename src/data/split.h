/* The split handle's insides (internal): which side each image, class and pair is on. */
#ifndef SM_SPLIT_H
#define SM_SPLIT_H

#include "base/errors.h"
#include "siamese.h"

struct siamese_split {
    siamese_dataset *ds;
    siamese_split_kind kind;
    uint64_t seed;
    double train_fraction;
    signed char *image_side; /* [n_images]: 0 train, 1 test, -1 neither / both */
    signed char *class_side; /* [n_classes] or NULL */
    siamese_pair *pairs[2];  /* train and test pairs when the split has pairs */
    int n_pairs[2];
    int has_pairs;
    sm_err err; /* the last error of a function on this split */
};

#endif
