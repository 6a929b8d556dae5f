/* N-way one-shot accuracy on a run's validation classes (internal, issue 12): the images decoded
 * once, embedded with the current weights after every epoch, scored on the same seeded episodes;
 * with class groups (Omniglot's alphabets) each episode stays inside one group. */
#ifndef SM_VAL_ONESHOT_H
#define SM_VAL_ONESHOT_H

#include <stddef.h>
#include <stdint.h>

#include "base/errors.h"
#include "data/loader_chips.h"
#include "siamese.h"

#define SM_VAL_ONESHOT_EPISODES 1000

typedef struct sm_val_oneshot {
    int n;               /* images of the validation classes; 0 = not in use */
    size_t image_floats; /* floats per image tensor */
    float *tensors;      /* [n, C, H, W] as the evaluation loader gives them */
    int *labels;         /* [n] class of each image */
    float *vectors;      /* [n, dim] embeddings of the latest scoring */
    int n_sets;          /* episode sets: groups with >= way classes, or all classes as one */
    int *set_start;      /* [n_sets + 1]: the images of set s are [set_start[s], set_start[s+1]) */
    int way, grouped;    /* grouped: the sets are groups (else all classes together) */
    uint64_t seed;
} sm_val_oneshot;

/* Decodes the images of side 1 of val_split (the validation classes) at lp's geometry, with its
 * normalization and without augmentation (as face chips when chips->make is set). grouped: episodes within one "GROUP/CLASS" group;
 * groups with fewer than way classes of 2+ images are left out (all of them left out: episodes
 * over every validation class). SIAMESE_ERR_INVALID_ARG when fewer than way classes have 2
 * images. */
siamese_status sm_val_oneshot_open(sm_val_oneshot *v, siamese_dataset *ds,
                                   const siamese_split *val_split, const siamese_loader_params *lp,
                                   const sm_loader_chips *chips, int way, int grouped,
                                   uint64_t seed, sm_err *err);

/* Embeds the images with model (inference: batchnorm on running statistics) and returns the
 * share of right answers over SM_VAL_ONESHOT_EPISODES episodes (split evenly over the sets). */
siamese_status sm_val_oneshot_score(sm_val_oneshot *v, siamese_model *model, float *accuracy,
                                    sm_err *err);

/* One line: "20-way one-shot on 3 of 5 groups (93 classes, 1860 images)". */
void sm_val_oneshot_describe(const sm_val_oneshot *v, char *out, size_t size);

void sm_val_oneshot_free(sm_val_oneshot *v);

#endif
