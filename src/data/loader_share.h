/* The loader's data-parallel share (internal, issue 16): each rank prepares only its slice of
 * every global batch. */
#ifndef SM_LOADER_SHARE_H
#define SM_LOADER_SHARE_H

#include "siamese.h"

/* From the next epoch started on, every batch of n pairs holds only part `part` of `parts`: the
 * contiguous slice sm_share_of(n, part, parts) of the whole batch (the same pairs, labels and
 * augmentation as those positions of the whole batch; the rest is neither converted nor
 * augmented). batch->n is the slice's count, 0 when n < parts and part >= n. parts = 1 (the
 * default) is the whole batch. SIAMESE_ERR_INVALID_ARG unless 0 <= part < parts. */
siamese_status sm_loader_set_share(siamese_loader *loader, int part, int parts);
/* siamese_loader_next with the whole batch's pair count in *whole: 0 at the end of the epoch
 * (batch->n alone cannot say so when a share is empty). */
siamese_status sm_loader_next_share(siamese_loader *loader, siamese_batch *batch, int *whole);

#endif
