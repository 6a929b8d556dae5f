/* Every file of a dataset checked before training: decoded as training decodes it, the failures
 * marked unusable, warned about and listed with their reasons (issue 15). */
#ifndef SM_DATASET_CHECK_H
#define SM_DATASET_CHECK_H

#include <stddef.h>

#include "siamese.h"

typedef struct sm_ds_files {
    int files;           /* the dataset's images plus the entries skipped while opening it */
    int usable;          /* images that decode */
    int skipped;         /* files and entries skipped (every warning of the dataset) */
    int listed;          /* skipped images with their reasons below (at most max_listed) */
    char **names;        /* [listed] image names (relative to the dataset) */
    char **reasons;      /* [listed] why each was skipped */
    siamese_dataset *ds; /* whose pre-decoded images sm_ds_files_free releases */
} sm_ds_files;

/* Decodes every usable file image of ds with opts (in parallel), marks the ones that fail
 * unusable and warns about them in image order, and fills out. With keep_bytes > 0 and a fixed
 * size in opts, up to keep_bytes of the decoded pixels stay with the dataset until
 * sm_ds_files_free, and loaders created meanwhile with the same options copy them instead of
 * decoding again. SIAMESE_ERR_NOMEM (message in the dataset) when memory runs out; a file that
 * does not decode is not an error. */
siamese_status sm_ds_check_files(siamese_dataset *ds, const siamese_image_options *opts,
                                 int max_listed, size_t keep_bytes, sm_ds_files *out);
/* Frees the lists and releases the dataset's pre-decoded images. */
void sm_ds_files_free(sm_ds_files *c);

#endif
