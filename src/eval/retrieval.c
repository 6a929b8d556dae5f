/* Retrieval protocol: every query against a gallery, ranked by siamese_knn; Recall@k,
 * precision@k, R-precision and MAP@R as Musgrave et al. 2020 define them (the definitions
 * pytorch-metric-learning uses), with bootstrap intervals over the queries. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/errors.h"
#include "eval/eval.h"
#include "siamese.h"

#define QUERY_BLOCK 512 /* queries per k-NN call: bounds the neighbour lists in memory */

siamese_retrieval_params siamese_retrieval_default_params(void) {
    siamese_retrieval_params p;
    memset(&p, 0, sizeof p);
    p.metric = SIAMESE_METRIC_EUCLIDEAN;
    p.bootstrap = 1000;
    return p;
}

void sm_retrieval_query(const int *neighbours, int k, int label, const int *gallery_labels,
                        int relevant, double out[SM_RETRIEVAL_METRICS]) {
    /* relevant = R, the gallery items sharing the query's label. Musgrave et al.:
     * R-precision = hits in the first R / R; MAP@R = (1/R) sum_{i<=R} P(i) rel(i). */
    int hits = 0, first_hit = -1, hits5 = 0, hits10 = 0, hits_r = 0;
    double ap = 0;
    for (int i = 0; i < k && neighbours[i] >= 0; i++) {
        int rel = gallery_labels[neighbours[i]] == label;
        if (!rel) continue;
        hits++;
        if (first_hit < 0) first_hit = i;
        if (i < 5) hits5++;
        if (i < 10) hits10++;
        if (i < relevant) {
            hits_r++;
            ap += (double)hits / (i + 1);
        }
    }
    out[0] = first_hit == 0;
    out[1] = first_hit >= 0 && first_hit < 5;
    out[2] = first_hit >= 0 && first_hit < 10;
    out[3] = hits5 / 5.0;
    out[4] = hits10 / 10.0;
    out[5] = (double)hits_r / relevant;
    out[6] = ap / relevant;
}

/* R of every query: gallery items with its label, minus the excluded one. */
static int *relevant_counts(const int *ql, int nq, const int *gl, int ng, const int *exclude,
                            int *max_r) {
    int classes = 0;
    for (int i = 0; i < ng; i++)
        if (gl[i] >= classes) classes = gl[i] + 1;
    int *per_class = calloc((size_t)classes + 1, sizeof(int));
    int *r = malloc((size_t)nq * sizeof(int));
    if (!per_class || !r) {
        free(per_class);
        free(r);
        return NULL;
    }
    for (int i = 0; i < ng; i++)
        if (gl[i] >= 0) per_class[gl[i]]++;
    *max_r = 0;
    for (int q = 0; q < nq; q++) {
        r[q] = ql[q] >= 0 && ql[q] < classes ? per_class[ql[q]] : 0;
        if (exclude && exclude[q] >= 0 && ql[q] >= 0 && gl[exclude[q]] == ql[q]) r[q]--;
        if (r[q] > *max_r) *max_r = r[q];
    }
    free(per_class);
    return r;
}

static siamese_interval mean_with_interval(const double *v, int n, int bootstrap, uint64_t seed,
                                           int *weights, double *samples) {
    double sum = 0;
    for (int i = 0; i < n; i++) sum += v[i];
    if (bootstrap <= 0) return sm_interval_none(sum / n);
    for (int b = 0; b < bootstrap; b++) {
        sm_bootstrap_draw(seed, b, n, weights);
        double s = 0;
        for (int i = 0; i < n; i++) s += weights[i] * v[i];
        samples[b] = s / n;
    }
    return sm_interval_from(sum / n, samples, bootstrap);
}

static siamese_status summarize(double *per_query, int n, const siamese_retrieval_params *p,
                                siamese_retrieval *out) {
    siamese_interval *slot[SM_RETRIEVAL_METRICS] = {
        &out->recall_1,     &out->recall_5,    &out->recall_10, &out->precision_5,
        &out->precision_10, &out->r_precision, &out->map_at_r};
    int *weights = malloc((size_t)n * sizeof *weights);
    double *samples = malloc((size_t)(p->bootstrap > 0 ? p->bootstrap : 1) * sizeof *samples);
    double *column = malloc((size_t)n * sizeof *column);
    siamese_status st = weights && samples && column ? SIAMESE_OK : SIAMESE_ERR_NOMEM;
    for (int m = 0; m < SM_RETRIEVAL_METRICS && st == SIAMESE_OK; m++) {
        for (int q = 0; q < n; q++) column[q] = per_query[(size_t)q * SM_RETRIEVAL_METRICS + m];
        *slot[m] =
            mean_with_interval(column, n, p->bootstrap, p->seed + (uint64_t)m, weights, samples);
    }
    free(weights);
    free(samples);
    free(column);
    return st;
}

siamese_status siamese_eval_retrieval(const float *queries, const int *query_labels, int nq,
                                      const float *gallery, const int *gallery_labels, int ng,
                                      int dim, const int *exclude,
                                      const siamese_retrieval_params *params,
                                      siamese_retrieval *out, char *errmsg, size_t errmsg_size) {
    if (!out) return sm_refuse(errmsg, errmsg_size, "retrieval: no output given");
    memset(out, 0, sizeof *out);
    siamese_retrieval_params p = params ? *params : siamese_retrieval_default_params();
    if (!queries || !query_labels || !gallery || !gallery_labels || nq < 1 || ng < 1 || dim < 1 ||
        p.bootstrap < 0)
        return sm_refuse(errmsg, errmsg_size, "no queries or no gallery");
    sm_err err;
    sm_err_clear(&err);
    int max_r = 0;
    int *relevant = relevant_counts(query_labels, nq, gallery_labels, ng, exclude, &max_r);
    if (!relevant)
        return sm_err_out(&err, sm_fail(&err, SIAMESE_ERR_NOMEM, "out of memory"), errmsg,
                          errmsg_size);
    int k = max_r > 10 ? max_r : 10;
    if (k > ng) k = ng;
    int block = nq < QUERY_BLOCK ? nq : QUERY_BLOCK;
    int *nbr = malloc((size_t)block * (size_t)k * sizeof *nbr);
    float *dist = malloc((size_t)block * (size_t)k * sizeof *dist);
    double *per_query = malloc((size_t)nq * SM_RETRIEVAL_METRICS * sizeof *per_query);
    siamese_status st = nbr && dist && per_query ? SIAMESE_OK : SIAMESE_ERR_NOMEM;
    int scored = 0;
    for (int q0 = 0; q0 < nq && st == SIAMESE_OK; q0 += block) {
        int n = nq - q0 < block ? nq - q0 : block;
        st = siamese_knn(p.metric, queries + (size_t)q0 * dim, n, gallery, ng, dim, k,
                         exclude ? exclude + q0 : NULL, nbr, dist);
        for (int q = 0; q < n && st == SIAMESE_OK; q++) {
            if (relevant[q0 + q] <= 0) continue; /* no relevant item: not a query */
            sm_retrieval_query(nbr + (size_t)q * k, k, query_labels[q0 + q], gallery_labels,
                               relevant[q0 + q], per_query + (size_t)scored * SM_RETRIEVAL_METRICS);
            scored++;
        }
    }
    out->queries = scored;
    out->queries_skipped = nq - scored;
    if (st == SIAMESE_OK && scored == 0)
        st = sm_fail(&err, SIAMESE_ERR_DATA,
                     "no query has another image of its class in the gallery");
    else if (st == SIAMESE_OK) st = summarize(per_query, scored, &p, out);
    if (st != SIAMESE_OK && !err.msg[0]) sm_fail(&err, st, "%s", siamese_status_str(st));
    free(relevant);
    free(nbr);
    free(dist);
    free(per_query);
    return sm_err_out(&err, st, errmsg, errmsg_size);
}
