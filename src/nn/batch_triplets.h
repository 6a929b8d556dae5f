/* The triplet-margin loss over P x K batches of labelled embeddings: the triplets a mining rule
 * selects, averaged over those with a nonzero loss (issue 12). */
#ifndef SM_BATCH_TRIPLETS_H
#define SM_BATCH_TRIPLETS_H

#include "nn/batch_pairs.h"

/* The mean of max(0, D(a, p) - D(a, q) + margin) over the triplets of an anchor a, a positive p
 * (a's class, p != a) and a negative q that the rule selects from work->emb [n, dim] with
 * classes [n], counting only the triplets whose loss is nonzero (or NaN):
 *  ALL (and NONE): every triplet.
 *  HARD: per anchor, its farthest positive and its nearest negative (batch-hard).
 *  SEMIHARD: per anchor and positive, the nearest negative farther than the positive; the
 *   farthest negative when none is (FaceNet's semi-hard negatives, with TensorFlow Addons'
 *   fallback).
 * The selection is held fixed for the gradient. When grad is nonzero, work->grad receives
 * dL/d(embedding) [n, dim]. *active (optional) receives the number of triplets averaged (INT_MAX
 * when more: ALL can select up to n^3 / 4). Loss and gradient are 0 when there is none. */
double sm_batch_triplets_loss(sm_batch_pairs_work *work, siamese_metric metric, double margin,
                              siamese_mining mining, int n, const int *classes, int grad,
                              int *active);

#endif
