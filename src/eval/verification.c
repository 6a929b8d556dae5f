/* Verification protocol: AUC, EER, TAR@FAR and accuracies of pair distances, with bootstrap
 * intervals from resampled pairs (one sort, then a weighted walk per resample). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "eval/eval.h"
#include "siamese.h"

siamese_verification_params siamese_verification_default_params(void) {
    siamese_verification_params p;
    memset(&p, 0, sizeof p);
    p.model_threshold = -1.0f;
    p.bootstrap = 1000;
    return p;
}

enum { M_AUC, M_EER, M_TAR1, M_TAR01, M_ACC_BEST, M_ACC_MODEL, M_COUNT };

/* Every metric of one counted pair set into m[M_COUNT] (thresholds into out when not NULL). */
static void score(const sm_roc *roc, const sm_roc_counts *c, double model_threshold, double *m,
                  siamese_verification *out) {
    static const double far[2] = {0.01, 0.001};
    sm_roc_summary r;
    sm_roc_summarize(roc, c, far, model_threshold, &r);
    m[M_AUC] = r.auc;
    m[M_EER] = r.eer;
    m[M_TAR1] = r.tar[0];
    m[M_TAR01] = r.tar[1];
    m[M_ACC_BEST] = r.best_accuracy;
    m[M_ACC_MODEL] = r.model_accuracy;
    if (!out) return;
    out->eer_threshold = r.eer_threshold;
    out->tar_far_1_threshold = r.tar_threshold[0];
    out->tar_far_01_threshold = r.tar_threshold[1];
    out->best_threshold = r.best_threshold;
}

/* samples[k * B + b] = metric k of resample b. */
static siamese_status resample(const sm_roc *roc, const siamese_verification_params *p,
                               double *samples) {
    int B = p->bootstrap, failed = 0;
#pragma omp parallel
    {
        sm_roc_counts c;
        int *weights = malloc((size_t)roc->n * sizeof *weights);
        int ok = weights && sm_roc_counts_alloc(roc, &c) == SIAMESE_OK;
#pragma omp for schedule(dynamic, 4)
        for (int b = 0; b < B; b++) {
            if (!ok) continue;
            double m[M_COUNT];
            sm_bootstrap_draw(p->seed, b, roc->n, weights); /* per sorted position */
            sm_roc_count_sorted(roc, weights, &c);
            score(roc, &c, p->model_threshold, m, NULL);
            for (int k = 0; k < M_COUNT; k++) samples[(size_t)k * B + b] = m[k];
        }
        if (!ok) {
#pragma omp atomic write
            failed = 1;
        } else {
            sm_roc_counts_free(&c);
        }
        free(weights);
    }
    return failed ? SIAMESE_ERR_NOMEM : SIAMESE_OK;
}

static siamese_status intervals(const sm_roc *roc, const siamese_verification_params *p,
                                const double *m, siamese_verification *out) {
    siamese_interval *slot[M_COUNT] = {&out->auc,        &out->eer,           &out->tar_far_1,
                                       &out->tar_far_01, &out->accuracy_best, &out->accuracy_model};
    for (int k = 0; k < M_COUNT; k++) *slot[k] = sm_interval_none(m[k]);
    if (p->bootstrap <= 0) return SIAMESE_OK;
    double *samples = malloc((size_t)M_COUNT * (size_t)p->bootstrap * sizeof *samples);
    if (!samples) return SIAMESE_ERR_NOMEM;
    siamese_status st = resample(roc, p, samples);
    for (int k = 0; k < M_COUNT && st == SIAMESE_OK; k++)
        if (!isnan(m[k]))
            *slot[k] = sm_interval_from(m[k], samples + (size_t)k * p->bootstrap, p->bootstrap);
    free(samples);
    return st;
}

siamese_status siamese_eval_verification(const float *distances, const float *labels, int n,
                                         const siamese_verification_params *params,
                                         siamese_verification *out) {
    if (!out) return SIAMESE_ERR_INVALID_ARG;
    memset(out, 0, sizeof *out);
    siamese_verification_params p = params ? *params : siamese_verification_default_params();
    if (n < 1 || !distances || !labels || p.bootstrap < 0 || p.bootstrap > 1000000)
        return SIAMESE_ERR_INVALID_ARG;
    sm_roc roc;
    sm_roc_counts c;
    siamese_status st = sm_roc_build_counted(distances, labels, n, &roc, &c);
    if (st != SIAMESE_OK) return st;
    out->pairs = n;
    out->similar = (int)c.total_similar;
    out->dissimilar = (int)c.total_dissimilar;
    out->model_threshold = p.model_threshold >= 0 ? p.model_threshold : NAN;
    if (out->similar == 0 || out->dissimilar == 0) st = SIAMESE_ERR_DATA;
    double m[M_COUNT];
    if (st == SIAMESE_OK) {
        score(&roc, &c, p.model_threshold, m, out);
        st = intervals(&roc, &p, m, out);
    }
    sm_roc_counts_free(&c);
    sm_roc_free(&roc);
    return st;
}

siamese_status siamese_eval_pair_distances(siamese_metric metric, const float *vectors, int dim,
                                           const int *a, const int *b, int n, float *out) {
    if (!vectors || !a || !b || !out || n < 0 || dim < 1) return SIAMESE_ERR_INVALID_ARG;
#pragma omp parallel for schedule(static)
    for (int i = 0; i < n; i++)
        out[i] = (float)siamese_distance(metric, vectors + (size_t)a[i] * dim,
                                         vectors + (size_t)b[i] * dim, dim);
    return SIAMESE_OK;
}

siamese_status siamese_eval_threshold_at_far(const float *distances, const float *labels, int n,
                                             double far, double *threshold, double *tar) {
    if (n < 1 || !distances || !labels || !(far >= 0 && far <= 1)) return SIAMESE_ERR_INVALID_ARG;
    sm_roc roc;
    sm_roc_counts c;
    siamese_status st = sm_roc_build_counted(distances, labels, n, &roc, &c);
    if (st != SIAMESE_OK) return st;
    double t = NAN, rate = NAN;
    if (c.total_similar <= 0 || c.total_dissimilar <= 0) st = SIAMESE_ERR_DATA;
    else rate = sm_roc_tar_at_far(&roc, &c, far, &t);
    if (threshold) *threshold = t;
    if (tar) *tar = rate;
    sm_roc_counts_free(&c);
    sm_roc_free(&roc);
    return st;
}
