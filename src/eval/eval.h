/* Evaluation internals: distances grouped for weighted ROC sums, bootstrap resampling. */
#ifndef SM_EVAL_H
#define SM_EVAL_H

#include <stdint.h>

#include "siamese.h"

/* Pair distances sorted ascending and grouped by equal value. A bootstrap resample is a weight
 * per pair; the group sums are all the metrics need. */
typedef struct sm_roc {
    int n;                            /* pairs */
    int groups;                       /* distinct distances */
    double *distance;                 /* [groups] ascending */
    int *group_of;                    /* [n] the group of pair i (input order) */
    int *dissimilar;                  /* [n] 1 when pair i is dissimilar */
    int *group_end;                   /* [groups] one past the last sorted position of each group */
    unsigned char *sorted_dissimilar; /* [n] the label at each sorted position */
} sm_roc;

/* Group sums of one (weighted) pair set: similar and dissimilar pairs at each distance. */
typedef struct sm_roc_counts {
    double *similar;    /* [groups] */
    double *dissimilar; /* [groups] */
    double total_similar, total_dissimilar;
} sm_roc_counts;

siamese_status sm_roc_build(const float *distances, const float *labels, int n, sm_roc *out);
void sm_roc_free(sm_roc *roc);
siamese_status sm_roc_counts_alloc(const sm_roc *roc, sm_roc_counts *out);
void sm_roc_counts_free(sm_roc_counts *c);
/* Sums weights (NULL = every pair once) into the groups. */
void sm_roc_count(const sm_roc *roc, const int *weights, sm_roc_counts *c);
/* The same with weights given per sorted position (a resample drawn in sorted order: one
 * sequential pass, which is what makes bootstrap resamples cheap). */
void sm_roc_count_sorted(const sm_roc *roc, const int *weights, sm_roc_counts *c);
/* sm_roc_build, then c allocated and counting every pair once: the unweighted start of every
 * metric. On failure nothing stays allocated. */
siamese_status sm_roc_build_counted(const float *distances, const float *labels, int n, sm_roc *roc,
                                    sm_roc_counts *c);

/* Metrics of counted pairs ("similar when d <= t"); NaN when a label is missing. */
double sm_roc_auc_of(const sm_roc *roc, const sm_roc_counts *c);
/* Equal error rate (linear interpolation between ROC points), and its threshold. */
double sm_roc_eer(const sm_roc *roc, const sm_roc_counts *c, double *threshold);
/* Largest TAR with FAR <= far, and the threshold giving it (NaN when only "accept nothing"). */
double sm_roc_tar_at_far(const sm_roc *roc, const sm_roc_counts *c, double far, double *threshold);
/* Accuracy of "similar when d <= t". */
double sm_roc_accuracy_at(const sm_roc *roc, const sm_roc_counts *c, double t);
/* Best accuracy over thresholds, and the threshold (midway between neighbouring distances). */
double sm_roc_best_accuracy(const sm_roc *roc, const sm_roc_counts *c, double *threshold);

/* Every verification metric of counted pairs in one walk over the groups; equal to the functions
 * above (which stay the readable definitions). far[2]: the two FAR limits of tar[2]. */
typedef struct sm_roc_summary {
    double auc, eer, eer_threshold;
    double tar[2], tar_threshold[2];
    double best_accuracy, best_threshold;
    double model_accuracy; /* NaN when model_threshold < 0 */
} sm_roc_summary;
void sm_roc_summarize(const sm_roc *roc, const sm_roc_counts *c, const double far[2],
                      double model_threshold, sm_roc_summary *out);

/* ---- bootstrap (bootstrap.c) */
/* counts[i] = how often item i is drawn in resample b of n draws from n items (seeded). */
void sm_bootstrap_draw(uint64_t seed, int b, int n, int *counts);
/* The 95% percentile interval of samples (NaNs dropped; numpy's linear percentile); sorts them. */
siamese_interval sm_interval_from(double value, double *samples, int count);
/* value with low = high = NaN. */
siamese_interval sm_interval_none(double value);
/* numpy.percentile(v, q) with linear interpolation on n sorted values, q in [0, 100]. */
double sm_percentile_sorted(const double *v, int n, double q);

/* ---- retrieval (retrieval.c) */
#define SM_RETRIEVAL_METRICS 7
/* One query's Recall@1/5/10, precision@5/10, R-precision and MAP@R from its ranked gallery
 * neighbours [k] (-1 = none) and R = relevant > 0 (gallery items sharing its label). */
void sm_retrieval_query(const int *neighbours, int k, int label, const int *gallery_labels,
                        int relevant, double out[SM_RETRIEVAL_METRICS]);

#endif
