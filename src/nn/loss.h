/* Distances between embeddings and the contrastive loss, with gradients for both embeddings. */
#ifndef SM_LOSS_H
#define SM_LOSS_H

#include "siamese.h"

#define SM_PAIRWISE_EPS 1e-6 /* PyTorch pairwise_distance adds eps to the difference */

/* Double-precision core (used directly by gradient checks).
 * e1, e2: [n, dim]; labels: [n] (0 similar, 1 dissimilar).
 * Returns L = mean((1-y) D^2 + y max(0, m - D)^2). dist (optional) receives D per pair;
 * d_e1 / d_e2 (optional, both or neither) receive dL/de1, dL/de2 (overwritten, not added). */
double sm_contrastive_loss_f64(siamese_metric metric, double margin, int n, int dim,
                               const double *e1, const double *e2, const double *labels,
                               double *dist, double *d_e1, double *d_e2);

/* Float wrapper for the training loop: same contract, float buffers, math done in double. */
double sm_contrastive_loss(siamese_metric metric, double margin, int n, int dim, const float *e1,
                           const float *e2, const float *labels, float *dist, float *d_e1,
                           float *d_e2);

/* The title of a training run's loss chart (loss.png, the report): its training loss is the
 * batch loss, its test loss always the contrastive loss of the test pairs. */
const char *sm_loss_chart_title(siamese_loss batch_loss);

/* Distance of one pair in double, and its gradient (optional) with respect to a and b. */
double sm_distance_f64(siamese_metric metric, int dim, const double *a, const double *b,
                       double *d_a, double *d_b);

#endif
