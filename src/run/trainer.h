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

#endif
