/* Verification metrics over pair distances: ROC AUC (rank statistic), best-accuracy threshold,
 * and the grouped, weighted ROC walk behind EER, TAR@FAR and bootstrap resamples. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "eval/eval.h"
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
    if (!distances || !labels) return NULL;
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

/* The widest span [lo, hi) of thresholds at one accuracy, as the threshold walk finds them. */
typedef struct best_span {
    long best;     /* the accuracy's count of correct pairs */
    double open;   /* where the current span at it began; NaN when not in one */
    double lo, hi; /* the widest so far; hi - lo < 0 before the first */
} best_span;

static void span_step(best_span *s, long correct, double at) {
    if (correct == s->best) {
        if (isnan(s->open)) s->open = at;
    } else if (!isnan(s->open)) {
        if (at - s->open > s->hi - s->lo) s->lo = s->open, s->hi = at;
        s->open = NAN;
    }
}

siamese_status siamese_best_threshold_centred(const float *distances, const float *labels, int n,
                                              float *threshold, float *accuracy) {
    if (n < 1 || !distances || !labels) return SIAMESE_ERR_INVALID_ARG;
    scored_pair *p = sorted_pairs(distances, labels, n);
    if (!p) return SIAMESE_ERR_NOMEM;
    long below = 0; /* correct with the threshold below everything: every pair dissimilar */
    for (int i = 0; i < n; i++) below += p[i].dissimilar;
    long correct = below, best = below;
    for (int i = 0; i < n; i++) { /* the best count, reached after whole groups of a distance */
        correct += p[i].dissimilar ? -1 : 1;
        if ((i + 1 == n || p[i + 1].distance != p[i].distance) && correct > best) best = correct;
    }
    best_span s = {best, NAN, 0, -1};
    correct = below;
    span_step(&s, correct, (double)p[0].distance - 1e-6);
    for (int i = 0; i < n;) { /* accuracy after group [i, j) holds from its distance on */
        int j = i;
        while (j < n && p[j].distance == p[i].distance) correct += p[j++].dissimilar ? -1 : 1;
        span_step(&s, correct, (double)p[i].distance);
        i = j;
    }
    span_step(&s, best - 1, (double)p[n - 1].distance + 1e-6); /* closes a span still open */
    free(p);
    /* a span at the best always closes at a larger distance, so hi > lo */
    if (threshold) *threshold = (float)(0.5 * (s.lo + s.hi));
    if (accuracy) *accuracy = (float)best / (float)n;
    return SIAMESE_OK;
}

/* ---------------------------------------------------------------- grouped, weighted curves */

typedef struct indexed_distance {
    float distance;
    int index;
} indexed_distance;

static int by_distance_then_index(const void *a, const void *b) {
    const indexed_distance *x = a, *y = b;
    if (x->distance != y->distance)
        return (x->distance > y->distance) - (x->distance < y->distance);
    return (x->index > y->index) - (x->index < y->index);
}

void sm_roc_free(sm_roc *roc) {
    if (!roc) return;
    free(roc->distance);
    free(roc->group_of);
    free(roc->dissimilar);
    free(roc->group_end);
    free(roc->sorted_dissimilar);
    memset(roc, 0, sizeof *roc);
}

siamese_status sm_roc_build(const float *distances, const float *labels, int n, sm_roc *out) {
    memset(out, 0, sizeof *out);
    if (n < 1 || !distances || !labels) return SIAMESE_ERR_INVALID_ARG;
    for (int i = 0; i < n; i++)
        if (isnan(distances[i])) return SIAMESE_ERR_NUMERIC;
    indexed_distance *s = malloc((size_t)n * sizeof *s);
    out->distance = malloc((size_t)n * sizeof *out->distance);
    out->group_of = malloc((size_t)n * sizeof *out->group_of);
    out->dissimilar = malloc((size_t)n * sizeof *out->dissimilar);
    out->group_end = malloc((size_t)n * sizeof *out->group_end);
    out->sorted_dissimilar = malloc((size_t)n);
    if (!s || !out->distance || !out->group_of || !out->dissimilar || !out->group_end ||
        !out->sorted_dissimilar) {
        free(s);
        sm_roc_free(out);
        return SIAMESE_ERR_NOMEM;
    }
    for (int i = 0; i < n; i++) {
        s[i] = (indexed_distance){distances[i], i};
        out->dissimilar[i] = labels[i] > 0.5f;
    }
    qsort(s, (size_t)n, sizeof *s, by_distance_then_index);
    for (int i = 0; i < n; i++) {
        if (i == 0 || s[i].distance != s[i - 1].distance)
            out->distance[out->groups++] = (double)s[i].distance;
        out->group_of[s[i].index] = out->groups - 1;
        out->group_end[out->groups - 1] = i + 1;
        out->sorted_dissimilar[i] = (unsigned char)out->dissimilar[s[i].index];
    }
    out->n = n;
    free(s);
    return SIAMESE_OK;
}

siamese_status sm_roc_counts_alloc(const sm_roc *roc, sm_roc_counts *out) {
    memset(out, 0, sizeof *out);
    out->similar = calloc((size_t)roc->groups, sizeof(double));
    out->dissimilar = calloc((size_t)roc->groups, sizeof(double));
    if (out->similar && out->dissimilar) return SIAMESE_OK;
    sm_roc_counts_free(out);
    return SIAMESE_ERR_NOMEM;
}

void sm_roc_counts_free(sm_roc_counts *c) {
    if (!c) return;
    free(c->similar);
    free(c->dissimilar);
    memset(c, 0, sizeof *c);
}

void sm_roc_count(const sm_roc *roc, const int *weights, sm_roc_counts *c) {
    memset(c->similar, 0, (size_t)roc->groups * sizeof(double));
    memset(c->dissimilar, 0, (size_t)roc->groups * sizeof(double));
    for (int i = 0; i < roc->n; i++) {
        double w = weights ? weights[i] : 1;
        if (roc->dissimilar[i]) c->dissimilar[roc->group_of[i]] += w;
        else c->similar[roc->group_of[i]] += w;
    }
    c->total_similar = c->total_dissimilar = 0;
    for (int g = 0; g < roc->groups; g++) {
        c->total_similar += c->similar[g];
        c->total_dissimilar += c->dissimilar[g];
    }
}

siamese_status sm_roc_build_counted(const float *distances, const float *labels, int n, sm_roc *roc,
                                    sm_roc_counts *c) {
    memset(c, 0, sizeof *c);
    siamese_status st = sm_roc_build(distances, labels, n, roc);
    if (st == SIAMESE_OK) st = sm_roc_counts_alloc(roc, c);
    if (st != SIAMESE_OK) {
        sm_roc_free(roc);
        return st;
    }
    sm_roc_count(roc, NULL, c);
    return SIAMESE_OK;
}

void sm_roc_count_sorted(const sm_roc *roc, const int *weights, sm_roc_counts *c) {
    c->total_similar = c->total_dissimilar = 0;
    for (int g = 0, p = 0; g < roc->groups; g++) {
        double s = 0, d = 0;
        for (; p < roc->group_end[g]; p++) {
            if (roc->sorted_dissimilar[p]) d += weights[p];
            else s += weights[p];
        }
        c->similar[g] = s;
        c->dissimilar[g] = d;
        c->total_similar += s;
        c->total_dissimilar += d;
    }
}

double sm_roc_auc_of(const sm_roc *roc, const sm_roc_counts *c) {
    if (c->total_similar <= 0 || c->total_dissimilar <= 0) return NAN;
    /* Mann-Whitney U, as siamese_roc_auc: a tie counts one half. */
    double similar_below = 0, wins = 0;
    for (int g = 0; g < roc->groups; g++) {
        wins += c->dissimilar[g] * (similar_below + 0.5 * c->similar[g]);
        similar_below += c->similar[g];
    }
    return wins / (c->total_similar * c->total_dissimilar);
}

/* ROC point after group g (g = -1: accept nothing): true and false accept rates. */
typedef struct roc_walk {
    double tar, far;
    double accepted_similar, accepted_dissimilar;
} roc_walk;

static void walk_step(const sm_roc_counts *c, int g, roc_walk *w) {
    w->accepted_similar += c->similar[g];
    w->accepted_dissimilar += c->dissimilar[g];
    w->tar = w->accepted_similar / c->total_similar;
    w->far = w->accepted_dissimilar / c->total_dissimilar;
}

double sm_roc_eer(const sm_roc *roc, const sm_roc_counts *c, double *threshold) {
    if (threshold) *threshold = NAN;
    if (c->total_similar <= 0 || c->total_dissimilar <= 0) return NAN;
    /* FAR - FRR rises from -1 (accept nothing, threshold taken as the smallest distance) to +1;
     * the EER is where the segment between two ROC points crosses zero. */
    roc_walk w = {0, 0, 0, 0};
    double prev_diff = -1, prev_far = 0, prev_t = roc->distance[0];
    for (int g = 0; g < roc->groups; g++) {
        walk_step(c, g, &w);
        double diff = w.far - (1 - w.tar);
        if (diff >= 0) {
            double a = -prev_diff / (diff - prev_diff);
            if (threshold) *threshold = prev_t + a * (roc->distance[g] - prev_t);
            return prev_far + a * (w.far - prev_far);
        }
        prev_diff = diff;
        prev_far = w.far;
        prev_t = roc->distance[g];
    }
    return NAN; /* not reached: the last point has diff = +1 */
}

double sm_roc_tar_at_far(const sm_roc *roc, const sm_roc_counts *c, double far, double *threshold) {
    if (threshold) *threshold = NAN;
    if (c->total_similar <= 0 || c->total_dissimilar <= 0) return NAN;
    roc_walk w = {0, 0, 0, 0};
    double best = 0;
    for (int g = 0; g < roc->groups; g++) {
        walk_step(c, g, &w);
        if (w.far > far) break; /* FAR only grows */
        if (w.tar >= best) {
            best = w.tar;
            if (threshold) *threshold = roc->distance[g];
        }
    }
    return best;
}

double sm_roc_accuracy_at(const sm_roc *roc, const sm_roc_counts *c, double t) {
    double total = c->total_similar + c->total_dissimilar, correct = c->total_dissimilar;
    if (total <= 0) return NAN;
    for (int g = 0; g < roc->groups && roc->distance[g] <= t; g++)
        correct += c->similar[g] - c->dissimilar[g];
    return correct / total;
}

double sm_roc_best_accuracy(const sm_roc *roc, const sm_roc_counts *c, double *threshold) {
    double total = c->total_similar + c->total_dissimilar;
    if (threshold) *threshold = NAN;
    if (total <= 0) return NAN;
    /* As siamese_best_threshold: the first maximum, midway to the next distance. */
    double correct = c->total_dissimilar, best = correct, best_t = roc->distance[0] - 1e-6;
    for (int g = 0; g < roc->groups; g++) {
        correct += c->similar[g] - c->dissimilar[g];
        if (correct > best) {
            best = correct;
            best_t = g + 1 < roc->groups ? 0.5 * (roc->distance[g] + roc->distance[g + 1])
                                         : roc->distance[g] + 1e-6;
        }
    }
    if (threshold) *threshold = best_t;
    return best / total;
}

/* The walk of sm_roc_summarize: running sums over the groups seen so far. */
typedef struct summary_walk {
    double similar_below, wins;         /* AUC */
    double accepted_s, accepted_d;      /* ROC point */
    double prev_diff, prev_far, prev_t; /* EER segment */
    int eer_found;
    double correct, best, correct_model; /* accuracies */
} summary_walk;

static void summary_step(const sm_roc *roc, const sm_roc_counts *c, const double far[2],
                         double model_t, int g, summary_walk *w, sm_roc_summary *out) {
    double s = c->similar[g], d = c->dissimilar[g], t = roc->distance[g];
    w->wins += d * (w->similar_below + 0.5 * s);
    w->similar_below += s;
    w->accepted_s += s;
    w->accepted_d += d;
    double tar = w->accepted_s / c->total_similar, fa = w->accepted_d / c->total_dissimilar;
    double diff = fa - (1 - tar);
    if (!w->eer_found && diff >= 0) {
        double a = -w->prev_diff / (diff - w->prev_diff);
        out->eer_threshold = w->prev_t + a * (t - w->prev_t);
        out->eer = w->prev_far + a * (fa - w->prev_far);
        w->eer_found = 1;
    }
    w->prev_diff = diff, w->prev_far = fa, w->prev_t = t;
    for (int k = 0; k < 2; k++)
        if (fa <= far[k]) out->tar[k] = tar, out->tar_threshold[k] = t;
    w->correct += s - d;
    if (w->correct > w->best) {
        w->best = w->correct;
        out->best_threshold = g + 1 < roc->groups ? 0.5 * (t + roc->distance[g + 1]) : t + 1e-6;
    }
    if (t <= model_t) w->correct_model += s - d;
}

void sm_roc_summarize(const sm_roc *roc, const sm_roc_counts *c, const double far[2],
                      double model_threshold, sm_roc_summary *out) {
    double total = c->total_similar + c->total_dissimilar;
    *out = (sm_roc_summary){NAN, NAN, NAN, {0, 0}, {NAN, NAN}, NAN, NAN, NAN};
    if (c->total_similar <= 0 || c->total_dissimilar <= 0) {
        out->tar[0] = out->tar[1] = NAN;
        return;
    }
    summary_walk w = {0, 0, 0, 0, -1, 0, roc->distance[0], 0, 0, 0, 0};
    w.correct = w.best = w.correct_model = c->total_dissimilar;
    out->best_threshold = roc->distance[0] - 1e-6;
    for (int g = 0; g < roc->groups; g++) summary_step(roc, c, far, model_threshold, g, &w, out);
    out->auc = w.wins / (c->total_similar * c->total_dissimilar);
    out->best_accuracy = w.best / total;
    out->model_accuracy = model_threshold >= 0 ? w.correct_model / total : NAN;
}
