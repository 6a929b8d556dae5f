/* The loader's face chips (internal, issue 13): images that enter the cache as a model's aligned
 * face chips instead of resized photos, so that training sees what the commands embed. */
#ifndef SM_LOADER_CHIPS_H
#define SM_LOADER_CHIPS_H

#include "base/errors.h"
#include "image/image.h"
#include "siamese.h"

/* Makes the chip (channels x side x side, allocated by the callee) of one decoded photo, which it
 * may change in place (shrink); called from the thread that adds images to the cache, one photo
 * at a time. */
typedef siamese_status (*sm_chip_fn)(void *user, sm_image *photo, int channels, int side,
                                     sm_image *chip, sm_err *err);
/* Told how many images are about to be aligned (done = 0) and when they are (done = total). */
typedef void (*sm_chip_progress_fn)(void *user, int done, int total, double seconds);

typedef struct sm_loader_chips {
    sm_chip_fn make;              /* NULL: no chips, the loader resizes as usual */
    void *user;                   /* given to make */
    siamese_image_options photo;  /* how photos are decoded for make */
    sm_chip_progress_fn progress; /* optional */
    void *progress_user;
} sm_loader_chips;

/* siamese_loader_create whose images are chips (chips->make NULL: the plain loader). The chips
 * are made once, when an image enters the cache, and every image must fit the cache (an error
 * naming --cache-mb otherwise): augmentation and batches then work on the chips as on resized
 * images. The input must be square (width = height = the chip's side). */
siamese_status sm_loader_create_chips(siamese_dataset *dataset, const siamese_pairs *pairs,
                                      const siamese_loader_params *params,
                                      const sm_loader_chips *chips, siamese_loader **out);

#endif
