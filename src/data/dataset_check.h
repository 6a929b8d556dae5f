/* Every file of a dataset checked before training: decoded as training decodes it, the failures
 * marked unusable, warned about and listed with their reasons (issue 15). */
#ifndef SM_DATASET_CHECK_H
#define SM_DATASET_CHECK_H

#include "siamese.h"

typedef struct sm_ds_files {
    int files;      /* the dataset's images plus the entries skipped while opening it */
    int usable;     /* images that decode */
    int skipped;    /* files and entries skipped (every warning of the dataset) */
    int listed;     /* skipped images with their reasons below (at most max_listed) */
    char **names;   /* [listed] image names (relative to the dataset) */
    char **reasons; /* [listed] why each was skipped */
} sm_ds_files;

/* Decodes every usable file image of ds with opts (in parallel), marks the ones that fail
 * unusable and warns about them in image order, and fills out. SIAMESE_ERR_NOMEM (message in
 * the dataset) when memory runs out; a file that does not decode is not an error. */
siamese_status sm_ds_check_files(siamese_dataset *ds, const siamese_image_options *opts,
                                 int max_listed, sm_ds_files *out);
void sm_ds_files_free(sm_ds_files *c);

#endif
