/* The loader in labelled-image mode (internal): batches of images with their classes, as the
 * P x K sampler orders them, for losses over all pairs of a batch. */
#ifndef SM_LOADER_LABELLED_H
#define SM_LOADER_LABELLED_H

#include "data/loader_chips.h"
#include "siamese.h"

/* A loader over count images (dataset indices) with their classes, served in the given order
 * (params->shuffle is ignored) in batches of params->batch_size images: batch->images holds n
 * images, batch->labels their classes (as floats), batch->second is NULL. Images that fail to
 * decode are skipped with a warning; chips (NULL: none) as sm_loader_create_chips. Errors as
 * siamese_loader_create. */
siamese_status sm_loader_create_labelled(siamese_dataset *dataset, const int *images,
                                         const int *classes, int count,
                                         const siamese_loader_params *params,
                                         const sm_loader_chips *chips, siamese_loader **out);
/* Replaces the images (a new epoch of P x K batches); call siamese_loader_start_epoch after. */
siamese_status sm_loader_set_labelled(siamese_loader *loader, const int *images, const int *classes,
                                      int count);
/* Rotated classes: from the next batch on, an image of class c is turned counter-clockwise by
 * (c % turns) x 360 / turns degrees (turns 2 or 4; 4 needs a square input) before
 * augmentation. Call between epochs. */
siamese_status sm_loader_set_class_turns(siamese_loader *loader, int turns);

#endif
