/* Retrieval metrics: Recall@k, precision@k, R-precision and MAP@R against numpy's
 * implementation of Musgrave et al.'s definitions (fixture, ties included) to 1e-9; the public
 * function (siamese_knn ranking) against a brute-force ranking; bad inputs. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "eval/eval.h"
#include "fixtures/eval_metrics.h"
#include "siamese.h"

typedef struct ranked {
    double d;
    int index;
} ranked;

static int by_distance_then_index(const void *a, const void *b) {
    const ranked *x = a, *y = b;
    if (x->d != y->d) return (x->d > y->d) - (x->d < y->d);
    return (x->index > y->index) - (x->index < y->index);
}

/* Means of the per-query metrics from a full distance matrix [nq, ng], self excluded. */
static int score_matrix(const double *dist, const int *ql, int nq, const int *gl, int ng,
                        int self_excluded, double mean[SM_RETRIEVAL_METRICS]) {
    ranked *r = malloc((size_t)ng * sizeof *r);
    int *nbr = malloc((size_t)ng * sizeof *nbr), counted = 0;
    memset(mean, 0, SM_RETRIEVAL_METRICS * sizeof(double));
    for (int q = 0; q < nq; q++) {
        int k = 0, relevant = 0;
        for (int g = 0; g < ng; g++) {
            if (self_excluded && g == q) continue;
            r[k++] = (ranked){dist[(size_t)q * ng + g], g};
            relevant += gl[g] == ql[q];
        }
        if (relevant == 0) continue;
        qsort(r, (size_t)k, sizeof *r, by_distance_then_index);
        for (int i = 0; i < k; i++) nbr[i] = r[i].index;
        double m[SM_RETRIEVAL_METRICS];
        sm_retrieval_query(nbr, k, ql[q], gl, relevant, m);
        for (int j = 0; j < SM_RETRIEVAL_METRICS; j++) mean[j] += m[j];
        counted++;
    }
    for (int j = 0; j < SM_RETRIEVAL_METRICS; j++) mean[j] /= counted;
    free(r);
    free(nbr);
    return counted;
}

Test(eval_retrieval, matches_numpy_definitions_with_ties) {
    static double dist[R_N * R_N];
    for (int i = 0; i < R_N * R_N; i++) dist[i] = R_DIST[i];
    double m[SM_RETRIEVAL_METRICS];
    cr_assert_eq(score_matrix(dist, R_LABELS, R_N, R_LABELS, R_N, 1, m), R_COUNTED);
    const double want[SM_RETRIEVAL_METRICS] = {R_R1, R_R5, R_R10, R_P5, R_P10, R_RPREC, R_MAPR};
    const char *names[] = {"R@1", "R@5", "R@10", "P@5", "P@10", "R-precision", "MAP@R"};
    for (int j = 0; j < SM_RETRIEVAL_METRICS; j++)
        cr_assert(fabs(m[j] - want[j]) < 1e-9, "%s: %.17g, numpy %.17g", names[j], m[j], want[j]);
}

Test(eval_retrieval, one_query_by_hand) {
    /* ranked labels: 1 0 1 1 0 ..., query label 1, R = 3:
     * R-precision = 2/3, MAP@R = (1/1 + 2/3) / 3, Recall@1 = 1, P@5 = 3/5 */
    int gl[] = {1, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0};
    int nbr[] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
    double m[SM_RETRIEVAL_METRICS];
    sm_retrieval_query(nbr, 11, 1, gl, 3, m);
    cr_assert_float_eq(m[0], 1.0, 1e-12);
    cr_assert_float_eq(m[3], 3.0 / 5.0, 1e-12);
    cr_assert_float_eq(m[4], 3.0 / 10.0, 1e-12);
    cr_assert_float_eq(m[5], 2.0 / 3.0, 1e-12);
    cr_assert_float_eq(m[6], (1.0 + 2.0 / 3.0) / 3.0, 1e-12);
    /* the first relevant item at rank 7: Recall@5 0, Recall@10 1 */
    int gl2[] = {0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0};
    sm_retrieval_query(nbr, 11, 1, gl2, 1, m);
    cr_assert(m[0] == 0 && m[1] == 0 && m[2] == 1 && m[5] == 0 && m[6] == 0);
}

Test(eval_retrieval, public_function_equals_a_brute_force_ranking) {
    enum { N = 300, D = 6 };
    static float v[N * D];
    static double dist[N * N];
    int labels[N], exclude[N];
    uint64_t s = 12345;
    for (int i = 0; i < N * D; i++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        v[i] = (float)((s >> 11) * 0x1.0p-53) + (float)((i / D) % 7) * 0.15f;
    }
    for (int i = 0; i < N; i++) labels[i] = i % 7, exclude[i] = i;
    for (int i = 0; i < N; i++)
        for (int j = 0; j < N; j++)
            dist[i * N + j] = siamese_distance(SIAMESE_METRIC_EUCLIDEAN, v + i * D, v + j * D, D);
    double m[SM_RETRIEVAL_METRICS];
    score_matrix(dist, labels, N, labels, N, 1, m);
    siamese_retrieval_params p = siamese_retrieval_default_params();
    p.bootstrap = 200;
    siamese_retrieval r;
    char msg[256];
    cr_assert_eq(
        siamese_eval_retrieval(v, labels, N, v, labels, N, D, exclude, &p, &r, msg, sizeof msg),
        SIAMESE_OK, "%s", msg);
    cr_assert_eq(r.queries, N);
    const siamese_interval *got[] = {&r.recall_1,     &r.recall_5,    &r.recall_10, &r.precision_5,
                                     &r.precision_10, &r.r_precision, &r.map_at_r};
    for (int j = 0; j < SM_RETRIEVAL_METRICS; j++) {
        cr_assert(fabs(got[j]->value - m[j]) < 1e-9, "metric %d: %.17g vs %.17g", j, got[j]->value,
                  m[j]);
        cr_assert(got[j]->low <= got[j]->value && got[j]->value <= got[j]->high);
    }
    cr_assert(r.recall_1.value > 0.3 && r.recall_1.value < 1, "%g", r.recall_1.value);
}

Test(eval_retrieval, queries_without_relevant_items_are_left_out) {
    float v[] = {0, 0.1f, 5, 9};
    int labels[] = {0, 0, 1, 2};
    int exclude[] = {0, 1, 2, 3};
    siamese_retrieval r;
    char msg[256];
    siamese_retrieval_params p = siamese_retrieval_default_params();
    p.bootstrap = 0;
    cr_assert_eq(
        siamese_eval_retrieval(v, labels, 4, v, labels, 4, 1, exclude, &p, &r, msg, sizeof msg),
        SIAMESE_OK);
    cr_assert_eq(r.queries, 2);
    cr_assert_eq(r.queries_skipped, 2);
    cr_assert_float_eq(r.map_at_r.value, 1.0, 1e-12);
    cr_assert(isnan(r.map_at_r.low));
    int single[] = {0, 1, 2, 3};
    cr_assert_eq(
        siamese_eval_retrieval(v, single, 4, v, single, 4, 1, exclude, &p, &r, msg, sizeof msg),
        SIAMESE_ERR_DATA);
    cr_assert(strstr(msg, "no query"), "%s", msg);
    cr_assert_eq(siamese_eval_retrieval(v, labels, 0, v, labels, 4, 1, NULL, &p, &r, msg, 256),
                 SIAMESE_ERR_INVALID_ARG);
    cr_assert_eq(siamese_eval_retrieval(v, labels, 4, v, labels, 4, 1, NULL, &p, NULL, msg, 256),
                 SIAMESE_ERR_INVALID_ARG);
    cr_assert(strstr(msg, "no output"), "%s", msg);
    /* a success after those failures clears the message */
    cr_assert_eq(
        siamese_eval_retrieval(v, labels, 4, v, labels, 4, 1, exclude, &p, &r, msg, sizeof msg),
        SIAMESE_OK);
    cr_assert_str_eq(msg, "");
}
