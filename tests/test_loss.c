/* Distances and contrastive loss: hand-computed values, PyTorch eps semantics, gradient checks. */
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "nn/loss.h"
#include "test_util.h"

#define N 6
#define DIM 5

static const siamese_metric metrics[] = {SIAMESE_METRIC_EUCLIDEAN, SIAMESE_METRIC_COSINE,
                                         SIAMESE_METRIC_CORRELATION};

Test(loss, euclidean_adds_eps_to_the_difference) {
    double a[2] = {1, 2}, b[2] = {4, 6};
    double want = sqrt((-3 + 1e-6) * (-3 + 1e-6) + (-4 + 1e-6) * (-4 + 1e-6));
    cr_assert_float_eq(sm_distance_f64(SIAMESE_METRIC_EUCLIDEAN, 2, a, b, NULL, NULL), want, 1e-15);
    cr_assert(fabs(want - 5.0) > 1e-6, "eps must be visible"); /* 5 - 1.4e-6 */
    /* identical vectors: D = sqrt(dim) * eps, not 0 */
    double c[4] = {0.5, -1, 2, 3};
    cr_assert_float_eq(sm_distance_f64(SIAMESE_METRIC_EUCLIDEAN, 4, c, c, NULL, NULL), 2e-6, 1e-18);
    /* order matters: a - b + eps differs from b - a + eps */
    double x[1] = {0.25}, y[1] = {0.0};
    cr_assert_float_eq(sm_distance_f64(SIAMESE_METRIC_EUCLIDEAN, 1, x, y, NULL, NULL), 0.25 + 1e-6,
                       1e-15);
    cr_assert_float_eq(sm_distance_f64(SIAMESE_METRIC_EUCLIDEAN, 1, y, x, NULL, NULL), 0.25 - 1e-6,
                       1e-15);
}

Test(loss, cosine_and_correlation_values) {
    double a[2] = {1, 0}, b[2] = {0, 1}, c[2] = {2, 0}, d[2] = {-3, 0}, z[2] = {0, 0};
    cr_assert_float_eq(sm_distance_f64(SIAMESE_METRIC_COSINE, 2, a, b, NULL, NULL), 1.0, 1e-15);
    cr_assert_float_eq(sm_distance_f64(SIAMESE_METRIC_COSINE, 2, a, c, NULL, NULL), 0.0, 1e-15);
    cr_assert_float_eq(sm_distance_f64(SIAMESE_METRIC_COSINE, 2, a, d, NULL, NULL), 2.0, 1e-15);
    /* a zero vector: cos = 0 (norms clamped to 1e-8), distance 1, finite gradient */
    double ga[2], gb[2];
    cr_assert_float_eq(sm_distance_f64(SIAMESE_METRIC_COSINE, 2, z, a, ga, gb), 1.0, 1e-15);
    for (int i = 0; i < 2; i++) cr_assert(isfinite(ga[i]) && isfinite(gb[i]));
    cr_assert_float_eq(sm_distance_f64(SIAMESE_METRIC_COSINE, 2, z, z, ga, gb), 1.0, 1e-15);
    double u[3] = {1, 2, 3}, v[3] = {2, 4, 6}, w[3] = {3, 2, 1}, k[3] = {5, 5, 5};
    double p[3] = {1, 0, 2}; /* centered: (0,-1,1) vs u centered (-1,0,1): r = 1/2 */
    cr_assert_float_eq(sm_distance_f64(SIAMESE_METRIC_CORRELATION, 3, u, v, NULL, NULL), 0.0,
                       1e-15);
    cr_assert_float_eq(sm_distance_f64(SIAMESE_METRIC_CORRELATION, 3, u, w, NULL, NULL), 2.0,
                       1e-15);
    cr_assert_float_eq(sm_distance_f64(SIAMESE_METRIC_CORRELATION, 3, u, p, NULL, NULL), 0.5,
                       1e-15);
    /* a constant vector has no variance: r = 0, distance 1, finite gradient */
    double gu[3], gk[3];
    cr_assert_float_eq(sm_distance_f64(SIAMESE_METRIC_CORRELATION, 3, u, k, gu, gk), 1.0, 1e-15);
    for (int i = 0; i < 3; i++) cr_assert(isfinite(gu[i]) && isfinite(gk[i]));
    /* correlation ignores offset and scale, cosine does not */
    double s[3] = {11, 12, 13};
    cr_assert_float_eq(sm_distance_f64(SIAMESE_METRIC_CORRELATION, 3, u, s, NULL, NULL), 0.0,
                       1e-15);
    cr_assert(sm_distance_f64(SIAMESE_METRIC_COSINE, 3, u, s, NULL, NULL) > 1e-3);
}

Test(loss, contrastive_hand_computed) {
    /* 1-D embeddings like the recipe's fc3 */
    double e1[3] = {0.5, 0.0, 3.0}, e2[3] = {0.0, 0.5, 0.0}, y[3] = {0, 1, 1};
    double dist[3];
    double d0 = 0.5 + 1e-6, d1 = 0.5 - 1e-6, d2 = 3.0 + 1e-6;
    double want = (d0 * d0 + (2 - d1) * (2 - d1) + 0.0) / 3;
    double loss =
        sm_contrastive_loss_f64(SIAMESE_METRIC_EUCLIDEAN, 2.0, 3, 1, e1, e2, y, dist, NULL, NULL);
    cr_assert_float_eq(loss, want, 1e-14);
    cr_assert_float_eq(dist[0], d0, 1e-15);
    cr_assert_float_eq(dist[1], d1, 1e-15);
    cr_assert_float_eq(dist[2], d2, 1e-15);
    /* gradients: similar 2 D sign / n; dissimilar inside margin -2 (m - D) sign / n; outside 0 */
    double g1[3], g2[3];
    sm_contrastive_loss_f64(SIAMESE_METRIC_EUCLIDEAN, 2.0, 3, 1, e1, e2, y, NULL, g1, g2);
    cr_assert_float_eq(g1[0], 2 * d0 / 3, 1e-14);
    cr_assert_float_eq(g2[0], -2 * d0 / 3, 1e-14);
    cr_assert_float_eq(g1[1], -2 * (2 - d1) * -1.0 / 3, 1e-14); /* a - b < 0 */
    cr_assert_float_eq(g2[1], -2 * (2 - d1) / 3, 1e-14);
    cr_assert_eq(g1[2], 0.0);
    cr_assert_eq(g2[2], 0.0);
    /* soft labels are used as given, like PyTorch */
    double half = 0.5;
    double l = sm_contrastive_loss_f64(SIAMESE_METRIC_EUCLIDEAN, 2.0, 1, 1, e1, e2, &half, NULL,
                                       NULL, NULL);
    cr_assert_float_eq(l, 0.5 * d0 * d0 + 0.5 * (2 - d0) * (2 - d0), 1e-14);
}

Test(loss, hinge_is_exactly_zero_at_and_beyond_the_margin) {
    double a[1] = {2.0 - 1e-6}, b[1] = {0.0}, y[1] = {1}, ga[1], gb[1];
    double l = sm_contrastive_loss_f64(SIAMESE_METRIC_EUCLIDEAN, 2.0, 1, 1, a, b, y, NULL, ga, gb);
    cr_assert_eq(l, 0.0);
    cr_assert_eq(ga[0], 0.0);
    cr_assert_eq(gb[0], 0.0);
}

/* Embeddings for gradient checks with distances kept away from the margin and from zero. */
static void make_pairs(siamese_metric metric, uint64_t seed, double *e1, double *e2, double *y,
                       double *margin) {
    tu_fill_uniform_d(e1, N * DIM, -1, 1, seed);
    tu_fill_uniform_d(e2, N * DIM, -1, 1, seed + 1);
    double dist[N];
    for (int i = 0; i < N; i++) y[i] = i % 2; /* both labels */
    sm_contrastive_loss_f64(metric, 1.0, N, DIM, e1, e2, y, dist, NULL, NULL);
    /* margin between the distances of the two dissimilar pairs closest to the middle, so that
     * one dissimilar pair sits inside the hinge and another outside */
    double lo = 1e300, hi = -1e300;
    for (int i = 1; i < N; i += 2) {
        lo = fmin(lo, dist[i]);
        hi = fmax(hi, dist[i]);
    }
    *margin = 0.5 * (lo + hi);
    for (int i = 1; i < N; i += 2) cr_assert(fabs(dist[i] - *margin) > 1e-3, "pair near margin");
}

static void gradient_check(siamese_metric metric, uint64_t seed) {
    double e1[N * DIM], e2[N * DIM], y[N], margin;
    make_pairs(metric, seed, e1, e2, y, &margin);
    double g1[N * DIM], g2[N * DIM];
    sm_contrastive_loss_f64(metric, margin, N, DIM, e1, e2, y, NULL, g1, g2);
    const double h = 1e-6;
    double *es[2] = {e1, e2}, *gs[2] = {g1, g2};
    double num[N * DIM];
    for (int side = 0; side < 2; side++) {
        for (int i = 0; i < N * DIM; i++) {
            double keep = es[side][i];
            es[side][i] = keep + h;
            double lp =
                sm_contrastive_loss_f64(metric, margin, N, DIM, e1, e2, y, NULL, NULL, NULL);
            es[side][i] = keep - h;
            double lm =
                sm_contrastive_loss_f64(metric, margin, N, DIM, e1, e2, y, NULL, NULL, NULL);
            es[side][i] = keep;
            num[i] = (lp - lm) / (2 * h);
        }
        double rel = tu_max_rel_err_d(gs[side], num, N * DIM);
        cr_assert(rel < 1e-7, "%s side %d: max rel err %g", siamese_metric_name(metric), side, rel);
    }
}

Test(loss, gradient_check_every_metric) {
    for (int m = 0; m < 3; m++)
        for (uint64_t seed = 1; seed <= 5; seed++) gradient_check(metrics[m], seed * 10);
}

Test(loss, distance_gradient_check_every_metric) {
    for (int m = 0; m < 3; m++) {
        double a[DIM], b[DIM], ga[DIM], gb[DIM];
        tu_fill_uniform_d(a, DIM, -1, 1, 7);
        tu_fill_uniform_d(b, DIM, -1, 1, 8);
        sm_distance_f64(metrics[m], DIM, a, b, ga, gb);
        for (int i = 0; i < DIM; i++) {
            double keep = a[i], h = 1e-6;
            a[i] = keep + h;
            double dp = sm_distance_f64(metrics[m], DIM, a, b, NULL, NULL);
            a[i] = keep - h;
            double dm = sm_distance_f64(metrics[m], DIM, a, b, NULL, NULL);
            a[i] = keep;
            cr_assert_float_eq(ga[i], (dp - dm) / (2 * h), 1e-7, "%s a[%d]",
                               siamese_metric_name(metrics[m]), i);
            keep = b[i];
            b[i] = keep + h;
            dp = sm_distance_f64(metrics[m], DIM, a, b, NULL, NULL);
            b[i] = keep - h;
            dm = sm_distance_f64(metrics[m], DIM, a, b, NULL, NULL);
            b[i] = keep;
            cr_assert_float_eq(gb[i], (dp - dm) / (2 * h), 1e-7, "%s b[%d]",
                               siamese_metric_name(metrics[m]), i);
        }
    }
}

Test(loss, float_wrapper_matches_double) {
    for (int m = 0; m < 3; m++) {
        float f1[N * DIM], f2[N * DIM], fy[N], fd[N], fg1[N * DIM], fg2[N * DIM];
        double d1[N * DIM], d2[N * DIM], dy[N], dd[N], dg1[N * DIM], dg2[N * DIM];
        tu_fill_uniform(f1, N * DIM, -1, 1, 3);
        tu_fill_uniform(f2, N * DIM, -1, 1, 4);
        for (int i = 0; i < N * DIM; i++) {
            d1[i] = f1[i];
            d2[i] = f2[i];
        }
        for (int i = 0; i < N; i++) fy[i] = (float)(dy[i] = i % 2);
        double lf = sm_contrastive_loss(metrics[m], 2.0, N, DIM, f1, f2, fy, fd, fg1, fg2);
        double ld = sm_contrastive_loss_f64(metrics[m], 2.0, N, DIM, d1, d2, dy, dd, dg1, dg2);
        cr_assert_eq(lf, ld);
        for (int i = 0; i < N; i++) cr_assert_eq(fd[i], (float)dd[i]);
        for (int i = 0; i < N * DIM; i++) {
            cr_assert_eq(fg1[i], (float)dg1[i]);
            cr_assert_eq(fg2[i], (float)dg2[i]);
        }
        for (int i = 0; i < N; i++)
            cr_assert_eq(siamese_distance(metrics[m], f1 + i * DIM, f2 + i * DIM, DIM), dd[i]);
    }
}

Test(loss, metric_names) {
    siamese_metric m;
    for (int i = 0; i < 3; i++) {
        cr_assert_eq(siamese_metric_parse(siamese_metric_name(metrics[i]), &m), SIAMESE_OK);
        cr_assert_eq(m, metrics[i]);
    }
    cr_assert_str_eq(siamese_metric_name(SIAMESE_METRIC_EUCLIDEAN), "euclidean");
    cr_assert_str_eq(siamese_metric_name(SIAMESE_METRIC_COSINE), "cosine");
    cr_assert_str_eq(siamese_metric_name(SIAMESE_METRIC_CORRELATION), "correlation");
    cr_assert_eq(siamese_metric_parse("manhattan", &m), SIAMESE_ERR_INVALID_ARG);
    cr_assert_eq(siamese_metric_parse(NULL, &m), SIAMESE_ERR_INVALID_ARG);
}
