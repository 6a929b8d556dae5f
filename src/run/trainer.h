/* The trainer behind siamese_trainer (internal): the optimizer state that checkpoints save. */
#ifndef SM_TRAINER_H
#define SM_TRAINER_H

#include "nn/adam.h"
#include "siamese.h"

/* The trainer's Adam state (m, v and step, over the model's flat parameter buffer). Checkpoint
 * code may read it, or overwrite m, v and step to resume a run. */
sm_adam *sm_trainer_adam(siamese_trainer *trainer);
/* Fine-tuning: every parameter but the head's steps with lr (run.c sets it each step, with the
 * schedule, as it sets adam->lr). */
void sm_trainer_set_backbone_lr(siamese_trainer *trainer, float lr);

/* Data-parallel training (issue 16): with a communicator (NULL = one process),
 * siamese_trainer_step takes the same global batch on every rank, runs this rank's contiguous
 * slice (sm_dist_slice), and every rank takes the same Adam step on the sum over the ranks of
 * the gradients of the global batch's mean loss; the loss returned is the global batch's. The
 * gradient sum starts layer by layer during backward when the communicator overlaps. Batchnorm
 * uses each rank's slice statistics (as PyTorch's DistributedDataParallel does). */
typedef struct sm_dist sm_dist;
void sm_trainer_set_dist(siamese_trainer *trainer, sm_dist *dist);
/* The same step when the caller holds only this rank's slice (a, b, labels of count pairs, as
 * sm_dist_slice cuts a global batch of n pairs; a loader with sm_loader_set_share gives it):
 * count must be that slice's size. Without a communicator, siamese_trainer_step of n pairs. */
siamese_status sm_trainer_step_share(siamese_trainer *trainer, const float *a, const float *b,
                                     const float *labels, int count, int n, float *loss);

#endif
