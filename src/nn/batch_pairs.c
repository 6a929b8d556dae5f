/* Batch losses over all pairs of P x K batches: distances of every pair, selection by mining
 * rule (batch-all, hard, semi-hard), the contrastive loss of each selected pair from nn/loss.c. */
#include "nn/batch_pairs.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"
#include "nn/loss.h"

int sm_batch_pairs_work_init(sm_batch_pairs_work *w, int max_n, int dim) {
    memset(w, 0, sizeof *w);
    if (max_n < 1 || dim < 1 || (size_t)max_n > SIZE_MAX / (size_t)max_n / sizeof(double) ||
        (size_t)max_n > SIZE_MAX / (size_t)dim / sizeof(double))
        return -1;
    size_t nn = (size_t)max_n * max_n, nd = (size_t)max_n * dim;
    w->max_n = max_n;
    w->dim = dim;
    w->emb = malloc(nd * sizeof *w->emb);
    w->grad = malloc(nd * sizeof *w->grad);
    w->dist = malloc(nn * sizeof *w->dist);
    w->pick = malloc(nn);
    w->coef = malloc(nn * sizeof *w->coef);
    w->tmp = malloc(2 * (size_t)dim * sizeof *w->tmp);
    if (w->emb && w->grad && w->dist && w->pick && w->coef && w->tmp) return 0;
    sm_batch_pairs_work_free(w);
    return -1;
}

void sm_batch_pairs_work_free(sm_batch_pairs_work *w) {
    free(w->emb);
    free(w->grad);
    free(w->dist);
    free(w->pick);
    free(w->coef);
    free(w->tmp);
    memset(w, 0, sizeof *w);
}

void sm_batch_pairs_distances(sm_batch_pairs_work *w, siamese_metric metric, int n) {
    int dim = w->dim;
    for (int i = 0; i < n; i++)
        for (int j = i + 1; j < n; j++)
            w->dist[(size_t)i * n + j] = sm_distance_f64(metric, dim, w->emb + (size_t)i * dim,
                                                         w->emb + (size_t)j * dim, NULL, NULL);
}

static void mark(unsigned char *pick, int n, int i, int j) {
    pick[sm_batch_pair_index(n, i, j)] = 1;
}

void sm_batch_pairs_extremes(int n, const double *dist, const int *classes, int i, int *pos,
                             int *neg) {
    *pos = *neg = -1;
    for (int j = 0; j < n; j++) {
        if (j == i) continue;
        double d = sm_batch_pair_dist(dist, n, i, j);
        if (classes[j] == classes[i]) {
            if (*pos < 0 || d > sm_batch_pair_dist(dist, n, i, *pos)) *pos = j;
        } else if (*neg < 0 || d < sm_batch_pair_dist(dist, n, i, *neg)) {
            *neg = j;
        }
    }
}

/* Every positive pair, and the anchor's negatives in the band (dp, dp + margin). */
static void select_semihard(double margin, int n, const double *dist, const int *classes, int i,
                            unsigned char *pick) {
    int pos, neg;
    sm_batch_pairs_extremes(n, dist, classes, i, &pos, &neg);
    for (int j = 0; j < n; j++)
        if (j != i && classes[j] == classes[i]) mark(pick, n, i, j);
    if (pos < 0 || neg < 0) return;
    double dp = sm_batch_pair_dist(dist, n, i, pos);
    int banded = 0;
    for (int j = 0; j < n; j++) {
        if (classes[j] == classes[i]) continue;
        double d = sm_batch_pair_dist(dist, n, i, j);
        if (d > dp && d < dp + margin) {
            mark(pick, n, i, j);
            banded = 1;
        }
    }
    if (!banded) mark(pick, n, i, neg);
}

int sm_batch_pairs_select(siamese_mining mining, double margin, int n, const double *dist,
                          const int *classes, unsigned char *pick) {
    memset(pick, 0, (size_t)n * n);
    for (int i = 0; i < n; i++) {
        if (mining == SIAMESE_MINING_HARD) {
            int pos, neg;
            sm_batch_pairs_extremes(n, dist, classes, i, &pos, &neg);
            if (pos >= 0) mark(pick, n, i, pos);
            if (neg >= 0) mark(pick, n, i, neg);
        } else if (mining == SIAMESE_MINING_SEMIHARD) {
            select_semihard(margin, n, dist, classes, i, pick);
        } else {
            for (int j = i + 1; j < n; j++) pick[(size_t)i * n + j] = 1;
        }
    }
    int count = 0;
    for (size_t k = 0; k < (size_t)n * n; k++) count += pick[k];
    return count;
}

double sm_batch_pairs_loss(sm_batch_pairs_work *w, siamese_metric metric, double margin,
                           siamese_mining mining, int n, const int *classes, int grad,
                           int *selected) {
    int dim = w->dim;
    sm_batch_pairs_distances(w, metric, n);
    int count = sm_batch_pairs_select(mining, margin, n, w->dist, classes, w->pick);
    if (selected) *selected = count;
    if (grad) memset(w->grad, 0, (size_t)n * dim * sizeof *w->grad);
    if (count == 0) return 0.0;
    double total = 0;
    double *ga = w->tmp, *gb = w->tmp + dim;
    for (int i = 0; i < n; i++) {
        for (int j = i + 1; j < n; j++) {
            if (!w->pick[(size_t)i * n + j]) continue;
            double y = classes[i] == classes[j] ? 0.0 : 1.0;
            const double *ei = w->emb + (size_t)i * dim, *ej = w->emb + (size_t)j * dim;
            total += sm_contrastive_loss_f64(metric, margin, 1, dim, ei, ej, &y, NULL,
                                             grad ? ga : NULL, grad ? gb : NULL);
            if (!grad) continue;
            double *gi = w->grad + (size_t)i * dim, *gj = w->grad + (size_t)j * dim;
            for (int k = 0; k < dim; k++) {
                gi[k] += ga[k] / count;
                gj[k] += gb[k] / count;
            }
        }
    }
    return total / count;
}

static const char *const mining_names[] = {[SIAMESE_MINING_NONE] = "none",
                                           [SIAMESE_MINING_ALL] = "all",
                                           [SIAMESE_MINING_HARD] = "hard",
                                           [SIAMESE_MINING_SEMIHARD] = "semihard"};
#define N_MININGS ((int)(sizeof mining_names / sizeof mining_names[0]))

const char *siamese_mining_name(siamese_mining mining) {
    return sm_name_of(mining_names, N_MININGS, (int)mining);
}

siamese_status siamese_mining_parse(const char *name, siamese_mining *out) {
    int i = sm_name_index(name, mining_names, N_MININGS);
    if (i < 0 || !out) return SIAMESE_ERR_INVALID_ARG;
    *out = (siamese_mining)i;
    return SIAMESE_OK;
}
