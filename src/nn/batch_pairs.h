/* Losses over all pairs of a batch of labelled embeddings (P x K batches): pair selection by a
 * mining rule, then the mean of the per-pair contrastive loss over the selected pairs. */
#ifndef SM_BATCH_PAIRS_H
#define SM_BATCH_PAIRS_H

#include <stddef.h>

#include "siamese.h"

/* Scratch for batches of up to max_n embeddings of length dim, allocated once. */
typedef struct sm_batch_pairs_work {
    int max_n, dim;
    double *emb;         /* [max_n, dim] the embeddings in double */
    double *grad;        /* [max_n, dim] dL/d(embedding) */
    double *dist;        /* [max_n, max_n] D(i, j) for i < j */
    unsigned char *pick; /* [max_n, max_n] 1 when pair (i, j), i < j, is selected */
    double *coef;        /* [max_n, max_n] dL/dD(i, j), i < j (nn/batch_triplets.c) */
    double *tmp;         /* [2 * dim] one pair's gradients */
} sm_batch_pairs_work;

/* 0 on success, -1 when memory runs out (or max_n * max_n overflows). */
int sm_batch_pairs_work_init(sm_batch_pairs_work *work, int max_n, int dim);
void sm_batch_pairs_work_free(sm_batch_pairs_work *work);

/* Fills work->dist with D(i, j), i < j, of the n embeddings in work->emb. */
void sm_batch_pairs_distances(sm_batch_pairs_work *work, siamese_metric metric, int n);

/* Where pair (i, j), i != j, lives in an [n, n] pair array: stored once, as (min, max). */
static inline size_t sm_batch_pair_index(int n, int i, int j) {
    return i < j ? (size_t)i * n + j : (size_t)j * n + i;
}

/* D(i, j) from dist, which holds it for i < j only; i != j. */
static inline double sm_batch_pair_dist(const double *dist, int n, int i, int j) {
    return dist[sm_batch_pair_index(n, i, j)];
}

/* The farthest positive (*pos) and nearest negative (*neg) of anchor i; -1 when none. */
void sm_batch_pairs_extremes(int n, const double *dist, const int *classes, int i, int *pos,
                             int *neg);

/* Marks the pairs (i < j) of n embeddings with distances dist that the rule selects and returns
 * how many. Same class = positive (label 0), else negative (label 1).
 *  ALL (and NONE): every pair.
 *  HARD: for every anchor, its farthest positive and its nearest negative.
 *  SEMIHARD: every positive pair and, for every anchor with a positive (farthest at dp), the
 *   negatives with dp < D < dp + margin (FaceNet's semi-hard band); the nearest negative when
 *   the band is empty.
 * A pair picked from both of its ends counts once. */
int sm_batch_pairs_select(siamese_mining mining, double margin, int n, const double *dist,
                          const int *classes, unsigned char *pick);

/* The mean contrastive loss (nn/loss.c's per-pair formula, unchanged) over the pairs selected
 * from emb [n, dim] (in work->emb) with classes [n]; the selection is held fixed for the
 * gradient. When grad is nonzero, work->grad receives dL/d(embedding) [n, dim]: each embedding's
 * gradient summed over its selected pairs. *selected (optional) receives the number of pairs.
 * Loss and gradient are 0 when no pair is selected. */
double sm_batch_pairs_loss(sm_batch_pairs_work *work, siamese_metric metric, double margin,
                           siamese_mining mining, int n, const int *classes, int grad,
                           int *selected);

#endif
