/* siamese_knn against a brute force over siamese_distance: the same rows in the same order with
 * the same distances, for all three metrics, with exclusions, ties and near-ties. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>

#include "fixtures/knn_numpy.h"
#include "siamese.h"
#include "test_util.h"

typedef struct ref_item {
    double d;
    int index;
} ref_item;

static int ref_cmp(const void *pa, const void *pb) {
    const ref_item *a = pa, *b = pb;
    if (a->d != b->d) return a->d < b->d ? -1 : 1;
    return (a->index > b->index) - (a->index < b->index);
}

/* Brute force: every distance in double, sorted by (distance, index). */
static void brute_force(siamese_metric metric, const float *q, int nq, const float *g, int ng,
                        int dim, int k, const int *exclude, int *idx, float *dist) {
    ref_item *all = malloc((size_t)(ng > 0 ? ng : 1) * sizeof *all);
    cr_assert_not_null(all);
    for (int i = 0; i < nq; i++) {
        int n = 0;
        for (int j = 0; j < ng; j++) {
            if (exclude && exclude[i] == j) continue;
            all[n++] = (ref_item){
                siamese_distance(metric, q + (size_t)i * dim, g + (size_t)j * dim, dim), j};
        }
        qsort(all, (size_t)n, sizeof *all, ref_cmp);
        for (int j = 0; j < k; j++) {
            idx[i * k + j] = j < n ? all[j].index : -1;
            dist[i * k + j] = j < n ? (float)all[j].d : INFINITY;
        }
    }
    free(all);
}

/* Runs both and asserts identical results. */
static void check_same(siamese_metric metric, const float *q, int nq, const float *g, int ng,
                       int dim, int k, const int *exclude) {
    size_t n = (size_t)nq * k;
    int *i1 = malloc(n * sizeof(int)), *i2 = malloc(n * sizeof(int));
    float *d1 = malloc(n * sizeof(float)), *d2 = malloc(n * sizeof(float));
    cr_assert(i1 && i2 && d1 && d2);
    cr_assert_eq(siamese_knn(metric, q, nq, g, ng, dim, k, exclude, i1, d1), SIAMESE_OK);
    brute_force(metric, q, nq, g, ng, dim, k, exclude, i2, d2);
    for (size_t j = 0; j < n; j++) {
        cr_assert_eq(i1[j], i2[j],
                     "%s nq=%d ng=%d dim=%d k=%d: query %zu rank %zu: row %d, brute %d",
                     siamese_metric_name(metric), nq, ng, dim, k, j / k, j % k, i1[j], i2[j]);
        cr_assert(d1[j] == d2[j] || (isinf(d1[j]) && isinf(d2[j])),
                  "%s query %zu rank %zu: distance %.9g, brute %.9g", siamese_metric_name(metric),
                  j / k, j % k, d1[j], d2[j]);
    }
    free(i1);
    free(i2);
    free(d1);
    free(d2);
}

static float *random_rows(int n, int dim, float lo, float hi, uint64_t seed) {
    float *v = malloc((size_t)(n > 0 ? n : 1) * dim * sizeof(float));
    cr_assert_not_null(v);
    tu_fill_uniform(v, (size_t)n * dim, lo, hi, seed);
    return v;
}

static const siamese_metric metrics[] = {SIAMESE_METRIC_EUCLIDEAN, SIAMESE_METRIC_COSINE,
                                         SIAMESE_METRIC_CORRELATION};

Test(knn, random_data_all_metrics) {
    int shapes[][4] = {{1, 5000, 64, 10}, {7, 3000, 256, 5}, {300, 2000, 16, 20}, {3, 100, 3, 1}};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        int nq = shapes[s][0], ng = shapes[s][1], dim = shapes[s][2], k = shapes[s][3];
        float *q = random_rows(nq, dim, -1, 1, 10 + s), *g = random_rows(ng, dim, -1, 1, 20 + s);
        for (int m = 0; m < 3; m++) check_same(metrics[m], q, nq, g, ng, dim, k, NULL);
        free(q);
        free(g);
    }
}

Test(knn, offset_data_for_correlation) {
    /* a large common mean: centring by formula would lose digits; the proof must catch it */
    float *q = random_rows(20, 32, 100, 101, 1), *g = random_rows(4000, 32, 100, 101, 2);
    for (int m = 0; m < 3; m++) check_same(metrics[m], q, 20, g, 4000, 32, 10, NULL);
    free(q);
    free(g);
}

Test(knn, exclude_skips_one_row_per_query) {
    int ng = 1500, dim = 24, k = 7;
    float *g = random_rows(ng, dim, -1, 1, 3);
    int exclude[40];
    for (int i = 0; i < 40; i++) exclude[i] = i % 3 == 0 ? -1 : i * 31;
    /* the queries are gallery rows: each excluded row would otherwise be its own nearest */
    for (int m = 0; m < 3; m++) check_same(metrics[m], g, 40, g, ng, dim, k, exclude);
    int idx[7];
    float d[7];
    cr_assert_eq(
        siamese_knn(SIAMESE_METRIC_EUCLIDEAN, g + 5 * dim, 1, g, ng, dim, k, (int[]){5}, idx, d),
        SIAMESE_OK);
    for (int j = 0; j < k; j++) cr_assert_neq(idx[j], 5);
    free(g);
}

Test(knn, exact_ties_break_by_lower_index) {
    /* 60 copies of 5 distinct rows: every distance is tied 12 ways */
    int ng = 60, dim = 8, k = 30;
    float *base = random_rows(5, dim, -1, 1, 4), *g = malloc((size_t)ng * dim * sizeof(float));
    for (int i = 0; i < ng; i++)
        for (int j = 0; j < dim; j++) g[i * dim + j] = base[(i % 5) * dim + j];
    float *q = random_rows(6, dim, -1, 1, 5);
    for (int m = 0; m < 3; m++) check_same(metrics[m], q, 6, g, ng, dim, k, NULL);
    free(base);
    free(g);
    free(q);
}

Test(knn, near_ties_need_the_exact_recount) {
    /* 3000 rows within 1e-6 of one point: float GEMM keys cannot order them, the proof fails and
     * the query is ranked exactly */
    int ng = 3000, dim = 32, k = 10;
    float *g = random_rows(ng, dim, -1e-6f, 1e-6f, 6), *center = random_rows(1, dim, -1, 1, 7);
    for (int i = 0; i < ng; i++)
        for (int j = 0; j < dim; j++) g[i * dim + j] += center[j];
    float *q = random_rows(3, dim, -1, 1, 8);
    for (int m = 0; m < 3; m++) check_same(metrics[m], q, 3, g, ng, dim, k, NULL);
    free(g);
    free(center);
    free(q);
}

Test(knn, fewer_rows_than_k_pad_with_minus_one) {
    float *g = random_rows(3, 4, -1, 1, 9), *q = random_rows(2, 4, -1, 1, 10);
    int idx[10];
    float d[10];
    cr_assert_eq(siamese_knn(SIAMESE_METRIC_COSINE, q, 2, g, 3, 4, 5, NULL, idx, d), SIAMESE_OK);
    for (int i = 0; i < 2; i++) {
        for (int j = 3; j < 5; j++) {
            cr_assert_eq(idx[i * 5 + j], -1);
            cr_assert(isinf(d[i * 5 + j]));
        }
    }
    check_same(SIAMESE_METRIC_EUCLIDEAN, q, 2, g, 3, 4, 5, NULL);
    check_same(SIAMESE_METRIC_EUCLIDEAN, q, 2, g, 0, 4, 5, NULL);
    free(g);
    free(q);
}

Test(knn, zero_vectors) {
    float g[4 * 3] = {0, 0, 0, 1, 2, 3, 0, 0, 0, -1, 0, 1};
    float q[2 * 3] = {0, 0, 0, 1, 1, 1};
    for (int m = 0; m < 3; m++) check_same(metrics[m], q, 2, g, 4, 3, 4, NULL);
}

Test(knn, rejects_bad_arguments) {
    float v[4] = {0};
    int idx[1];
    float d[1];
    cr_assert_eq(siamese_knn(SIAMESE_METRIC_EUCLIDEAN, v, 1, v, 1, 4, 0, NULL, idx, d),
                 SIAMESE_ERR_INVALID_ARG);
    cr_assert_eq(siamese_knn(SIAMESE_METRIC_EUCLIDEAN, v, 1, v, 1, 0, 1, NULL, idx, d),
                 SIAMESE_ERR_INVALID_ARG);
    cr_assert_eq(siamese_knn((siamese_metric)7, v, 1, v, 1, 4, 1, NULL, idx, d),
                 SIAMESE_ERR_INVALID_ARG);
    cr_assert_eq(siamese_knn(SIAMESE_METRIC_COSINE, v, 1, NULL, 1, 4, 1, NULL, idx, d),
                 SIAMESE_ERR_INVALID_ARG);
    cr_assert_eq(siamese_knn(SIAMESE_METRIC_COSINE, v, 1, v, 1, 4, 1, NULL, NULL, d),
                 SIAMESE_ERR_INVALID_ARG);
}

Test(knn, equals_numpy_brute_force) {
    /* tests/ref/make_knn_fixture.py: numpy float64, sorted by distance then index */
    const int *want_index[] = {knn_index_euclidean, knn_index_cosine, knn_index_correlation};
    const double *want_distance[] = {knn_distance_euclidean, knn_distance_cosine,
                                     knn_distance_correlation};
    for (int m = 0; m < 3; m++) {
        int idx[KNN_NQ * KNN_K];
        float d[KNN_NQ * KNN_K];
        cr_assert_eq(siamese_knn(metrics[m], knn_queries, KNN_NQ, knn_gallery, KNN_NG, KNN_DIM,
                                 KNN_K, NULL, idx, d),
                     SIAMESE_OK);
        for (int j = 0; j < KNN_NQ * KNN_K; j++) {
            cr_assert_eq(idx[j], want_index[m][j], "%s query %d rank %d: row %d, numpy %d",
                         siamese_metric_name(metrics[m]), j / KNN_K, j % KNN_K, idx[j],
                         want_index[m][j]);
            cr_assert_float_eq(d[j], want_distance[m][j], 1e-6 * (1 + want_distance[m][j]),
                               "%s query %d rank %d", siamese_metric_name(metrics[m]), j / KNN_K,
                               j % KNN_K);
        }
    }
}
