/* Verification metrics over pair distances: ROC AUC (rank statistic) and best-accuracy threshold. */
#include <math.h>
#include <stdlib.h>

#include "siamese.h"

typedef struct scored_pair {
    float distance;
    int dissimilar;
} scored_pair;

static int by_distance(const void *a, const void *b) {
    float x = ((const scored_pair *)a)->distance, y = ((const scored_pair *)b)->distance;
    return (x > y) - (x < y);
}

/* Sorted copy of the pairs; NULL when memory runs out. */
static scored_pair *sorted_pairs(const float *distances, const float *labels, int n) {
    scored_pair *p = malloc((size_t)n * sizeof *p);
    if (!p) return NULL;
    for (int i = 0; i < n; i++) {
        p[i].distance = distances[i];
        p[i].dissimilar = labels[i] > 0.5f;
    }
    qsort(p, (size_t)n, sizeof *p, by_distance);
    return p;
}

double siamese_roc_auc(const float *distances, const float *labels, int n) {
    if (n < 2) return NAN;
    scored_pair *p = sorted_pairs(distances, labels, n);
    if (!p) return NAN;
    /* Mann-Whitney U: sum over dissimilar pairs of the number of similar pairs below them. */
    double similar_below = 0, wins = 0;
    long positives = 0, negatives = 0;
    for (int i = 0; i < n;) {
        int j = i, pos = 0, neg = 0;
        while (j < n && p[j].distance == p[i].distance) {
            pos += p[j].dissimilar;
            neg += !p[j].dissimilar;
            j++;
        }
        wins += pos * (similar_below + 0.5 * neg);
        similar_below += neg;
        positives += pos;
        negatives += neg;
        i = j;
    }
    free(p);
    if (positives == 0 || negatives == 0) return NAN;
    return wins / ((double)positives * (double)negatives);
}

siamese_status siamese_best_threshold(const float *distances, const float *labels, int n,
                                      float *threshold, float *accuracy) {
    if (n < 1 || !distances || !labels) return SIAMESE_ERR_INVALID_ARG;
    scored_pair *p = sorted_pairs(distances, labels, n);
    if (!p) return SIAMESE_ERR_NOMEM;
    long dissimilar_total = 0;
    for (int i = 0; i < n; i++) dissimilar_total += p[i].dissimilar;
    /* Threshold below everything: all predicted dissimilar. */
    long correct = dissimilar_total, best = correct;
    double best_t = (double)p[0].distance - 1e-6;
    for (int i = 0; i < n;) {
        int j = i;
        while (j < n && p[j].distance == p[i].distance) {
            correct += p[j].dissimilar ? -1 : 1; /* now predicted similar */
            j++;
        }
        if (correct > best) {
            best = correct;
            best_t = j < n ? 0.5 * ((double)p[i].distance + (double)p[j].distance)
                           : (double)p[i].distance + 1e-6;
        }
        i = j;
    }
    free(p);
    if (threshold) *threshold = (float)best_t;
    if (accuracy) *accuracy = (float)best / (float)n;
    return SIAMESE_OK;
}
