/* Triplet-margin loss over P x K batches: triplet selection by mining rule (batch-all,
 * batch-hard, semi-hard), the mean over the triplets with a nonzero loss, and its gradient as
 * weights on the pair distances D(i, j) pushed through nn/loss.c's distance gradients. */
#include "nn/batch_triplets.h"

#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "nn/loss.h"

typedef struct triplet_sum {
    double total;   /* sum of the nonzero losses */
    int64_t active; /* how many there were: up to n^3 / 4, past an int's range */
} triplet_sum;

/* Counts triplet (a, p, q) when its loss is nonzero (or NaN, so that a broken step is seen):
 * adds the loss, and +1 / -1 to the weights of D(a, p) and D(a, q). */
static void add_triplet(sm_batch_pairs_work *w, int n, double margin, int a, int p, int q,
                        triplet_sum *sum) {
    double v = sm_batch_pair_dist(w->dist, n, a, p) - sm_batch_pair_dist(w->dist, n, a, q) + margin;
    if (!(v > 0) && !isnan(v)) return;
    sum->total += v;
    sum->active++;
    w->coef[sm_batch_pair_index(n, a, p)] += 1;
    w->coef[sm_batch_pair_index(n, a, q)] -= 1;
}

/* The semi-hard negative of anchor a whose positive is at dap: the nearest negative farther than
 * dap, else the farthest negative; -1 when a has no negative. */
static int semihard_negative(const double *dist, int n, const int *classes, int a, double dap) {
    int nearest = -1, farthest = -1;
    for (int q = 0; q < n; q++) {
        if (classes[q] == classes[a]) continue;
        double d = sm_batch_pair_dist(dist, n, a, q);
        if (d > dap && (nearest < 0 || d < sm_batch_pair_dist(dist, n, a, nearest))) nearest = q;
        if (farthest < 0 || d > sm_batch_pair_dist(dist, n, a, farthest)) farthest = q;
    }
    return nearest >= 0 ? nearest : farthest;
}

/* The triplets of anchor a under the rule, added to sum. */
static void anchor_triplets(sm_batch_pairs_work *w, siamese_mining mining, double margin, int n,
                            const int *classes, int a, triplet_sum *sum) {
    if (mining == SIAMESE_MINING_HARD) {
        int p, q;
        sm_batch_pairs_extremes(n, w->dist, classes, a, &p, &q);
        if (p >= 0 && q >= 0) add_triplet(w, n, margin, a, p, q, sum);
        return;
    }
    for (int p = 0; p < n; p++) {
        if (p == a || classes[p] != classes[a]) continue;
        if (mining == SIAMESE_MINING_SEMIHARD) {
            int q = semihard_negative(w->dist, n, classes, a, sm_batch_pair_dist(w->dist, n, a, p));
            if (q >= 0) add_triplet(w, n, margin, a, p, q, sum);
            continue;
        }
        for (int q = 0; q < n; q++)
            if (classes[q] != classes[a]) add_triplet(w, n, margin, a, p, q, sum);
    }
}

/* work->grad = sum over pairs of (weight / active) * dD(i, j)/d(embeddings). */
static void pair_weights_to_grad(sm_batch_pairs_work *w, siamese_metric metric, int n,
                                 int64_t active) {
    int dim = w->dim;
    double *ga = w->tmp, *gb = w->tmp + dim;
    memset(w->grad, 0, (size_t)n * dim * sizeof *w->grad);
    for (int i = 0; i < n; i++) {
        for (int j = i + 1; j < n; j++) {
            double c = w->coef[(size_t)i * n + j] / (double)active;
            if (c == 0) continue;
            double *gi = w->grad + (size_t)i * dim, *gj = w->grad + (size_t)j * dim;
            sm_distance_f64(metric, dim, w->emb + (size_t)i * dim, w->emb + (size_t)j * dim, ga,
                            gb);
            for (int k = 0; k < dim; k++) {
                gi[k] += c * ga[k];
                gj[k] += c * gb[k];
            }
        }
    }
}

double sm_batch_triplets_loss(sm_batch_pairs_work *w, siamese_metric metric, double margin,
                              siamese_mining mining, int n, const int *classes, int grad,
                              int *active) {
    sm_batch_pairs_distances(w, metric, n);
    memset(w->coef, 0, (size_t)n * n * sizeof *w->coef);
    triplet_sum sum = {0, 0};
    for (int a = 0; a < n; a++) anchor_triplets(w, mining, margin, n, classes, a, &sum);
    if (active) *active = sum.active > INT_MAX ? INT_MAX : (int)sum.active;
    if (sum.active == 0) {
        if (grad) memset(w->grad, 0, (size_t)n * w->dim * sizeof *w->grad);
        return 0.0;
    }
    if (grad) pair_weights_to_grad(w, metric, n, sum.active);
    return sum.total / (double)sum.active;
}
