/* Reference kernels (tests/oracle): exact values, PyTorch shapes, and central finite-difference
 * gradient checks in double for every layer and for a whole small network. */
#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/rng.h"
#include "oracle/oracle.h"
#include "test_util.h"

#define FD_STEP 1e-6 /* central difference step */
#define FD_TOL 1e-6  /* max relative error allowed between analytic and numeric gradients */

/* ---------------------------------------------------------------- helpers */

static double *zeros(size_t n) {
    double *p = calloc(n ? n : 1, sizeof *p);
    cr_assert_not_null(p, "out of memory");
    return p;
}

static double *uniform(size_t n, double lo, double hi, uint64_t seed) {
    double *p = zeros(n);
    tu_fill_uniform_d(p, n, lo, hi, seed);
    return p;
}

static double dot(const double *a, const double *b, size_t n) {
    double s = 0.0;
    for (size_t i = 0; i < n; i++) s += a[i] * b[i];
    return s;
}

static double max_abs(const double *a, size_t n) {
    double m = 0.0;
    for (size_t i = 0; i < n; i++) m = fmax(m, fabs(a[i]));
    return m;
}

typedef double (*loss_fn)(void *ctx);

/* Max relative error between `analytic` (dL/dp) and central differences of loss over p[0..n).
 * Also asserts the gradient is not trivially zero, so the comparison means something. */
static double fd_error(const char *what, loss_fn loss, void *ctx, double *p, size_t n,
                       const double *analytic) {
    double *numeric = zeros(n);
    for (size_t i = 0; i < n; i++) {
        double saved = p[i];
        p[i] = saved + FD_STEP;
        double plus = loss(ctx);
        p[i] = saved - FD_STEP;
        double minus = loss(ctx);
        p[i] = saved;
        numeric[i] = (plus - minus) / (2.0 * FD_STEP);
    }
    cr_assert_gt(max_abs(analytic, n), 1e-3, "%s: analytic gradient is all (near) zero", what);
    double err = tu_max_rel_err_d(numeric, analytic, n);
    free(numeric);
    cr_log_info("gradcheck %-28s n=%-5zu max rel err %.2e", what, n, err);
    cr_expect_leq(err, FD_TOL, "%s: max relative error %.3e > %.1e", what, err, FD_TOL);
    return err;
}

/* Values 0.01 apart (far beyond FD_STEP) in a seeded random order: pooling windows never tie. */
static double *distinct_values(size_t n, double offset, uint64_t seed) {
    int *order = malloc(n * sizeof *order);
    cr_assert_not_null(order);
    for (size_t i = 0; i < n; i++) order[i] = (int)i;
    sm_rng rng;
    sm_rng_seed(&rng, seed);
    sm_rng_shuffle_int(&rng, order, (int)n);
    double *v = zeros(n);
    for (size_t i = 0; i < n; i++) v[i] = offset + 0.01 * order[i];
    free(order);
    return v;
}

static size_t conv_x_size(const sm_conv_geom *g) { return (size_t)g->n * g->c * g->h * g->w; }
static size_t conv_w_size(const sm_conv_geom *g) {
    return (size_t)g->o * (g->c / (g->g > 0 ? g->g : 1)) * g->kh * g->kw;
}
static size_t conv_y_size(const sm_conv_geom *g) { return (size_t)g->n * g->o * g->oh * g->ow; }
static size_t pool_x_size(const sm_pool_geom *g) { return (size_t)g->n * g->c * g->h * g->w; }
static size_t pool_y_size(const sm_pool_geom *g) { return (size_t)g->n * g->c * g->oh * g->ow; }

/* ---------------------------------------------------------------- geometry */

static int conv_out(int h, int k, int s, int p, int *ow_out) {
    sm_conv_geom g = {.n = 1,
                      .c = 1,
                      .h = h,
                      .w = h,
                      .o = 1,
                      .kh = k,
                      .kw = k,
                      .sh = s,
                      .sw = s,
                      .ph = p,
                      .pw = p};
    int ok = sm_conv_geom_finish(&g);
    if (ow_out) *ow_out = g.ow;
    return ok ? g.oh : 0;
}

static int pool_out(int h, int k, int s, int p) {
    sm_pool_geom g = {
        .n = 1, .c = 1, .h = h, .w = h, .kh = k, .kw = k, .sh = s, .sw = s, .ph = p, .pw = p};
    return sm_pool_geom_finish(&g) ? g.oh : 0;
}

Test(ref_geom, seed_network_shapes) {
    int s1 = conv_out(256, 11, 4, 0, NULL);
    cr_assert_eq(s1, 62);
    int p1 = pool_out(s1, 3, 2, 0);
    cr_assert_eq(p1, 30);
    int s2 = conv_out(p1, 5, 1, 0, NULL);
    cr_assert_eq(s2, 26);
    int p2 = pool_out(s2, 2, 2, 0);
    cr_assert_eq(p2, 13);
    int s3 = conv_out(p2, 3, 1, 0, NULL);
    cr_assert_eq(s3, 11);
    cr_assert_eq(384 * s3 * s3, 46464);
}

Test(ref_geom, floor_rounding_and_padding) {
    cr_assert_eq(pool_out(62, 3, 2, 0), 30);
    cr_assert_eq(pool_out(7, 2, 2, 0), 3); /* ceil mode would give 4 */
    cr_assert_eq(pool_out(5, 3, 2, 1), 3);
    cr_assert_eq(pool_out(6, 3, 3, 1), 2);
    cr_assert_eq(pool_out(3, 3, 1, 0), 1);
    cr_assert_eq(conv_out(10, 3, 3, 0, NULL), 3);
    cr_assert_eq(conv_out(10, 4, 3, 2, NULL), 4);
    cr_assert_eq(conv_out(1, 3, 1, 1, NULL), 1);
    cr_assert_eq(conv_out(4, 2, 1, 3, NULL), 9); /* conv padding may exceed the kernel */

    sm_conv_geom g = {.n = 2,
                      .c = 3,
                      .h = 9,
                      .w = 8,
                      .o = 4,
                      .kh = 3,
                      .kw = 2,
                      .sh = 2,
                      .sw = 3,
                      .ph = 1,
                      .pw = 0};
    cr_assert(sm_conv_geom_finish(&g));
    cr_assert_eq(g.oh, 5);
    cr_assert_eq(g.ow, 3);
    sm_pool_geom pg = {
        .n = 1, .c = 1, .h = 9, .w = 8, .kh = 3, .kw = 2, .sh = 2, .sw = 1, .ph = 1, .pw = 1};
    cr_assert(sm_pool_geom_finish(&pg));
    cr_assert_eq(pg.oh, 5);
    cr_assert_eq(pg.ow, 9);
}

Test(ref_geom, invalid_geometry_is_rejected) {
    cr_assert_eq(pool_out(62, 3, 2, 2), 0); /* PyTorch: padding at most kernel / 2 */
    cr_assert_eq(pool_out(2, 3, 1, 0), 0);  /* window larger than the input */
    cr_assert_eq(pool_out(8, 2, 0, 0), 0);  /* zero stride */
    cr_assert_eq(pool_out(8, 0, 1, 0), 0);  /* zero kernel */
    cr_assert_eq(pool_out(0, 1, 1, 0), 0);  /* empty input */
    cr_assert_eq(conv_out(4, 7, 1, 1, NULL), 0);
    cr_assert_eq(conv_out(8, 3, 1, -1, NULL), 0);
    cr_assert_eq(conv_out(8, 3, -2, 0, NULL), 0);
    int ow = -1;
    cr_assert_eq(conv_out(2147483647, 3, 1, 1000, &ow), 0); /* output width overflows int */
    cr_assert_eq(ow, 0, "rejected geometry must leave oh/ow at 0");

    sm_conv_geom g = {.n = 1, .c = 0, .h = 8, .w = 8, .o = 1, .kh = 3, .kw = 3, .sh = 1, .sw = 1};
    cr_assert_eq(sm_conv_geom_finish(&g), 0);
    g.c = 1;
    g.o = 0;
    cr_assert_eq(sm_conv_geom_finish(&g), 0);
    sm_pool_geom pg = {
        .n = 1, .c = 1, .h = 8, .w = 8, .kh = 3, .kw = 1, .sh = 1, .sw = 1, .ph = 1, .pw = 1};
    cr_assert_eq(sm_pool_geom_finish(&pg), 0); /* pw = 1 > kw / 2 = 0 */
}

/* ---------------------------------------------------------------- exact values */

Test(ref_exact, conv_by_hand) {
    const double x[9] = {1, 2, 3, 4, 5, 6, 7, 8, 9}; /* [1, 1, 3, 3] */
    const double w[4] = {1, 2, 3, 4};                /* [1, 1, 2, 2] */
    const double b[1] = {1};
    double y[4];
    sm_conv_geom g = {.n = 1, .c = 1, .h = 3, .w = 3, .o = 1, .kh = 2, .kw = 2, .sh = 1, .sw = 1};
    cr_assert(sm_conv_geom_finish(&g));
    sm_ref_conv2d_forward(&g, x, w, b, y);
    const double want[4] = {38, 48, 68, 78};
    for (int i = 0; i < 4; i++) cr_expect_float_eq(y[i], want[i], 1e-12, "y[%d] = %g", i, y[i]);

    /* Padding 1, stride 2: windows start at -1 and 1 in each direction. */
    sm_conv_geom gp = g;
    gp.sh = gp.sw = 2;
    gp.ph = gp.pw = 1;
    cr_assert(sm_conv_geom_finish(&gp));
    cr_assert_eq(gp.oh, 2);
    cr_assert_eq(gp.ow, 2);
    sm_ref_conv2d_forward(&gp, x, w, b, y);
    const double want_padded[4] = {5, 19, 37, 78};
    for (int i = 0; i < 4; i++)
        cr_expect_float_eq(y[i], want_padded[i], 1e-12, "padded y[%d] = %g", i, y[i]);

    /* Backward by hand for the unpadded case with dy = 1: dw[i, j] = sum of the covered x. */
    const double dy[4] = {1, 1, 1, 1};
    double dx[9] = {0}, dw[4] = {0}, db[1] = {0};
    sm_ref_conv2d_backward(&g, x, w, dy, dx, dw, db);
    const double want_dw[4] = {1 + 2 + 4 + 5, 2 + 3 + 5 + 6, 4 + 5 + 7 + 8, 5 + 6 + 8 + 9};
    const double want_dx[9] = {1, 3, 2, 4, 10, 6, 3, 7, 4};
    for (int i = 0; i < 4; i++) cr_expect_float_eq(dw[i], want_dw[i], 1e-12, "dw[%d]", i);
    for (int i = 0; i < 9; i++) cr_expect_float_eq(dx[i], want_dx[i], 1e-12, "dx[%d]", i);
    cr_expect_float_eq(db[0], 4.0, 1e-12);
}

Test(ref_exact, conv_without_bias_and_full_padding_windows) {
    /* ph = 3 > kh: the outer output rows see only padding and equal the bias. */
    sm_conv_geom g = {.n = 1,
                      .c = 1,
                      .h = 2,
                      .w = 2,
                      .o = 1,
                      .kh = 2,
                      .kw = 2,
                      .sh = 1,
                      .sw = 1,
                      .ph = 3,
                      .pw = 0};
    cr_assert(sm_conv_geom_finish(&g));
    cr_assert_eq(g.oh, 7);
    cr_assert_eq(g.ow, 1);
    const double x[4] = {1, 2, 3, 4}, w[4] = {1, 1, 1, 1}, b[1] = {0.5};
    double y[7];
    sm_ref_conv2d_forward(&g, x, w, b, y);
    const double want[7] = {0.5, 0.5, 3.5, 10.5, 7.5, 0.5, 0.5};
    for (int i = 0; i < 7; i++) cr_expect_float_eq(y[i], want[i], 1e-12, "y[%d] = %g", i, y[i]);
    sm_ref_conv2d_forward(&g, x, w, NULL, y);
    cr_expect_float_eq(y[3], 10.0, 1e-12);
    cr_expect_float_eq(y[0], 0.0, 1e-12);
}

Test(ref_exact, maxpool_values_and_padding_is_minus_infinity) {
    const double x[16] = {1, 5, 2, 0, 3, 4, 8, 7, -1, -2, -3, -4, 6, -5, -6, 9}; /* [1, 1, 4, 4] */
    sm_pool_geom g = {.n = 1, .c = 1, .h = 4, .w = 4, .kh = 2, .kw = 2, .sh = 2, .sw = 2};
    cr_assert(sm_pool_geom_finish(&g));
    double y[4];
    sm_ref_maxpool2d_forward(&g, x, y);
    const double want[4] = {5, 8, 6, 9};
    for (int i = 0; i < 4; i++) cr_expect_float_eq(y[i], want[i], 1e-15, "y[%d] = %g", i, y[i]);

    /* All-negative input with padding: padded cells must not contribute a 0. */
    const double neg[9] = {-9, -8, -7, -6, -5, -4, -3, -2, -1};
    sm_pool_geom gp = {
        .n = 1, .c = 1, .h = 3, .w = 3, .kh = 3, .kw = 3, .sh = 2, .sw = 2, .ph = 1, .pw = 1};
    cr_assert(sm_pool_geom_finish(&gp));
    cr_assert_eq(gp.oh, 2);
    double yp[4];
    sm_ref_maxpool2d_forward(&gp, neg, yp);
    const double want_p[4] = {-5, -4, -2, -1};
    for (int i = 0; i < 4; i++)
        cr_expect_float_eq(yp[i], want_p[i], 1e-15, "yp[%d] = %g", i, yp[i]);
    double dyp[4] = {1, 10, 100, 1000}, dxp[9] = {0};
    sm_ref_maxpool2d_backward(&gp, neg, dyp, dxp);
    const double want_dxp[9] = {0, 0, 0, 0, 1, 10, 0, 100, 1000};
    for (int i = 0; i < 9; i++) cr_expect_float_eq(dxp[i], want_dxp[i], 1e-15, "dxp[%d]", i);
}

Test(ref_exact, maxpool_ties_go_to_first_in_row_major_order) {
    /* One 3x3 window: maxima 7 at (0, 2), (1, 0) and (2, 2): (0, 2) comes first. */
    const double x[9] = {1, 2, 7, 7, 3, 4, 5, 6, 7};
    sm_pool_geom g = {.n = 1, .c = 1, .h = 3, .w = 3, .kh = 3, .kw = 3, .sh = 1, .sw = 1};
    cr_assert(sm_pool_geom_finish(&g));
    double y[1], dy[1] = {2.5}, dx[9] = {0};
    sm_ref_maxpool2d_forward(&g, x, y);
    cr_expect_float_eq(y[0], 7.0, 1e-15);
    sm_ref_maxpool2d_backward(&g, x, dy, dx);
    for (int i = 0; i < 9; i++)
        cr_expect_float_eq(dx[i], i == 2 ? 2.5 : 0.0, 1e-15, "dx[%d] = %g", i, dx[i]);

    /* Constant input, overlapping windows (k2 s1): each window sends its gradient to its top-left. */
    const double flat[9] = {0};
    sm_pool_geom g2 = {.n = 1, .c = 1, .h = 3, .w = 3, .kh = 2, .kw = 2, .sh = 1, .sw = 1};
    cr_assert(sm_pool_geom_finish(&g2));
    double dy2[4] = {1, 2, 3, 4}, dx2[9] = {0};
    sm_ref_maxpool2d_backward(&g2, flat, dy2, dx2);
    const double want2[9] = {1, 2, 0, 3, 4, 0, 0, 0, 0};
    for (int i = 0; i < 9; i++) cr_expect_float_eq(dx2[i], want2[i], 1e-15, "dx2[%d]", i);
}

Test(ref_exact, relu_gradient_is_zero_at_zero) {
    const double x[4] = {-1.0, 0.0, 2.0, -0.0};
    double y[4], dy[4] = {1, 1, 1, 1}, dx[4] = {0};
    sm_ref_relu_forward(4, x, y);
    sm_ref_relu_backward(4, x, dy, dx);
    const double want_y[4] = {0, 0, 2, 0}, want_dx[4] = {0, 0, 1, 0};
    for (int i = 0; i < 4; i++) {
        cr_expect_float_eq(y[i], want_y[i], 0.0);
        cr_expect_float_eq(dx[i], want_dx[i], 0.0);
    }
}

Test(ref_exact, linear_by_hand) {
    const double x[4] = {1, 2, 3, 4};        /* [2, 2] */
    const double w[6] = {1, 0, 0, 1, 1, -1}; /* [3, 2] */
    const double b[3] = {0.5, -0.5, 0};
    double y[6];
    sm_ref_linear_forward(2, 2, 3, x, w, b, y);
    const double want[6] = {1.5, 1.5, -1, 3.5, 3.5, -1};
    for (int i = 0; i < 6; i++) cr_expect_float_eq(y[i], want[i], 1e-15, "y[%d]", i);
}

Test(ref_exact, backward_adds_into_gradients) {
    sm_conv_geom g = {.n = 2,
                      .c = 2,
                      .h = 5,
                      .w = 4,
                      .o = 3,
                      .kh = 3,
                      .kw = 2,
                      .sh = 2,
                      .sw = 1,
                      .ph = 1,
                      .pw = 1};
    cr_assert(sm_conv_geom_finish(&g));
    size_t nx = conv_x_size(&g), nw = conv_w_size(&g), ny = conv_y_size(&g);
    double *x = uniform(nx, -1, 1, 1), *w = uniform(nw, -1, 1, 2), *dy = uniform(ny, -1, 1, 3);
    double *dx1 = zeros(nx), *dw1 = zeros(nw), *db1 = zeros(3);
    double *dx2 = uniform(nx, -1, 1, 4), *dw2 = uniform(nw, -1, 1, 5), *db2 = uniform(3, -1, 1, 6);
    double *dx2_start = zeros(nx), *dw2_start = zeros(nw), db2_start[3];
    memcpy(dx2_start, dx2, nx * sizeof *dx2);
    memcpy(dw2_start, dw2, nw * sizeof *dw2);
    memcpy(db2_start, db2, sizeof db2_start);
    sm_ref_conv2d_backward(&g, x, w, dy, dx1, dw1, db1);
    sm_ref_conv2d_backward(&g, x, w, dy, dx2, dw2, db2);
    for (size_t i = 0; i < nx; i++) cr_assert_float_eq(dx2[i], dx2_start[i] + dx1[i], 1e-12);
    for (size_t i = 0; i < nw; i++) cr_assert_float_eq(dw2[i], dw2_start[i] + dw1[i], 1e-12);
    for (int i = 0; i < 3; i++) cr_assert_float_eq(db2[i], db2_start[i] + db1[i], 1e-12);

    /* dx = NULL and db = NULL skip those gradients but leave dw the same. */
    double *dw3 = zeros(nw);
    sm_ref_conv2d_backward(&g, x, w, dy, NULL, dw3, NULL);
    for (size_t i = 0; i < nw; i++) cr_assert_float_eq(dw3[i], dw1[i], 0.0);

    /* Linear and ReLU accumulate too. */
    const double lx[6] = {1, 2, 3, 4, 5, 6}, lw6[6] = {1, -1, 0.5, 2, 0, 1}, ldy[4] = {1, 2, 3, 4};
    double ldx[6] = {10, 10, 10, 10, 10, 10}, ldw[6] = {1, 1, 1, 1, 1, 1}, ldb[2] = {7, 7};
    sm_ref_linear_backward(2, 3, 2, lx, lw6, ldy, ldx, ldw, ldb); /* x [2, 3], w [2, 3] */
    /* dx[s, i] = sum_o dy[s, o] w[o, i] */
    const double want_ldx[6] = {10 + 1 * 1 + 2 * 2, 10 + 1 * -1 + 2 * 0, 10 + 1 * 0.5 + 2 * 1,
                                10 + 3 * 1 + 4 * 2, 10 + 3 * -1 + 4 * 0, 10 + 3 * 0.5 + 4 * 1};
    /* dw[o, i] = sum_s dy[s, o] x[s, i] */
    const double want_ldw[6] = {1 + 1 * 1 + 3 * 4, 1 + 1 * 2 + 3 * 5, 1 + 1 * 3 + 3 * 6,
                                1 + 2 * 1 + 4 * 4, 1 + 2 * 2 + 4 * 5, 1 + 2 * 3 + 4 * 6};
    for (int i = 0; i < 6; i++) {
        cr_expect_float_eq(ldx[i], want_ldx[i], 1e-12, "linear dx[%d] = %g", i, ldx[i]);
        cr_expect_float_eq(ldw[i], want_ldw[i], 1e-12, "linear dw[%d] = %g", i, ldw[i]);
    }
    cr_expect_float_eq(ldb[0], 7 + 1 + 3, 1e-12);
    cr_expect_float_eq(ldb[1], 7 + 2 + 4, 1e-12);

    double rx[2] = {1, -1}, rdy[2] = {3, 3}, rdx[2] = {1, 1};
    sm_ref_relu_backward(2, rx, rdy, rdx);
    cr_expect_float_eq(rdx[0], 4.0, 0.0);
    cr_expect_float_eq(rdx[1], 1.0, 0.0);

    free(x), free(w), free(dy), free(dx1), free(dw1), free(db1), free(dx2), free(dw2), free(db2);
    free(dx2_start), free(dw2_start), free(dw3);
}

/* ---------------------------------------------------------------- batchnorm exact values */

Test(ref_exact, batchnorm_running_statistics_and_output) {
    /* x [n=2, c=2, hw=2]. Channel 0 holds {1, 2, 3, 6}: mean 3, biased var 3.5, unbiased 14/3.
     * Channel 1 holds {10, 10, 10, 14}: mean 11, biased var 3, unbiased 4. */
    const double x[8] = {1, 2, 10, 10, 3, 6, 10, 14};
    const double gamma[2] = {2.0, 0.5}, beta[2] = {1.0, -1.0};
    double rm[2] = {0.0, 1.0}, rv[2] = {1.0, 2.0};
    double y[8], mean[2], invstd[2];
    const double eps = 1e-5, momentum = 0.1;
    sm_ref_batchnorm2d_forward_train(2, 2, 2, x, gamma, beta, eps, momentum, rm, rv, y, mean,
                                     invstd);

    cr_expect_float_eq(mean[0], 3.0, 1e-14);
    cr_expect_float_eq(mean[1], 11.0, 1e-14);
    cr_expect_float_eq(invstd[0], 1.0 / sqrt(3.5 + eps), 1e-14);
    cr_expect_float_eq(invstd[1], 1.0 / sqrt(3.0 + eps), 1e-14);
    cr_expect_float_eq(rm[0], 0.9 * 0.0 + 0.1 * 3.0, 1e-14);
    cr_expect_float_eq(rm[1], 0.9 * 1.0 + 0.1 * 11.0, 1e-14);
    cr_expect_float_eq(rv[0], 0.9 * 1.0 + 0.1 * 14.0 / 3.0, 1e-14);
    cr_expect_float_eq(rv[1], 0.9 * 2.0 + 0.1 * 4.0, 1e-14);

    const double s0 = 1.0 / sqrt(3.5 + eps), s1 = 1.0 / sqrt(3.0 + eps);
    const double want_y[8] = {2 * (1 - 3) * s0 + 1,     2 * (2 - 3) * s0 + 1,
                              0.5 * (10 - 11) * s1 - 1, 0.5 * (10 - 11) * s1 - 1,
                              2 * (3 - 3) * s0 + 1,     2 * (6 - 3) * s0 + 1,
                              0.5 * (10 - 11) * s1 - 1, 0.5 * (14 - 11) * s1 - 1};
    for (int i = 0; i < 8; i++) cr_expect_float_eq(y[i], want_y[i], 1e-13, "y[%d] = %g", i, y[i]);

    /* A second step moves the running stats again from where they are. */
    sm_ref_batchnorm2d_forward_train(2, 2, 2, x, gamma, beta, eps, momentum, rm, rv, y, mean,
                                     invstd);
    cr_expect_float_eq(rm[0], 0.9 * 0.3 + 0.1 * 3.0, 1e-14);
    cr_expect_float_eq(rv[1], 0.9 * 2.2 + 0.1 * 4.0, 1e-14);

    /* Inference uses the running stats. */
    sm_ref_batchnorm2d_forward_infer(2, 2, 2, x, gamma, beta, eps, rm, rv, y);
    for (int s = 0; s < 2; s++)
        for (int ch = 0; ch < 2; ch++)
            for (int k = 0; k < 2; k++) {
                int i = (s * 2 + ch) * 2 + k;
                double want = gamma[ch] * (x[i] - rm[ch]) / sqrt(rv[ch] + eps) + beta[ch];
                cr_expect_float_eq(y[i], want, 1e-13, "infer y[%d] = %g", i, y[i]);
            }
    cr_expect_float_eq(y[0],
                       2.0 * (1.0 - 0.57) / sqrt(0.9 * (0.9 + 1.4 / 3.0) + 1.4 / 3.0 + eps) + 1.0,
                       1e-13, "infer y[0] by hand");
}

/* ---------------------------------------------------------------- conv gradcheck */

typedef struct conv_case {
    sm_conv_geom g;
    double *x, *w, *b, *y, *r;
} conv_case;

static double conv_loss(void *ctx) {
    conv_case *cc = ctx;
    sm_ref_conv2d_forward(&cc->g, cc->x, cc->w, cc->b, cc->y);
    return dot(cc->y, cc->r, conv_y_size(&cc->g));
}

static void check_conv(sm_conv_geom g, uint64_t seed) {
    cr_assert(sm_conv_geom_finish(&g), "bad test geometry");
    size_t nx = conv_x_size(&g), nw = conv_w_size(&g), ny = conv_y_size(&g);
    conv_case cc = {.g = g,
                    .x = uniform(nx, -1, 1, seed),
                    .w = uniform(nw, -1, 1, seed + 1),
                    .b = uniform((size_t)g.o, -1, 1, seed + 2),
                    .y = zeros(ny),
                    .r = uniform(ny, -1, 1, seed + 3)};
    double *dx = zeros(nx), *dw = zeros(nw), *db = zeros((size_t)g.o);
    sm_ref_conv2d_backward(&g, cc.x, cc.w, cc.r, dx, dw, db);
    char name[96];
    snprintf(name, sizeof name, "conv k%dx%d s%d,%d p%d,%d", g.kh, g.kw, g.sh, g.sw, g.ph, g.pw);
    char what[128];
    snprintf(what, sizeof what, "%s dx", name);
    fd_error(what, conv_loss, &cc, cc.x, nx, dx);
    snprintf(what, sizeof what, "%s dw", name);
    fd_error(what, conv_loss, &cc, cc.w, nw, dw);
    snprintf(what, sizeof what, "%s db", name);
    fd_error(what, conv_loss, &cc, cc.b, (size_t)g.o, db);
    free(cc.x), free(cc.w), free(cc.b), free(cc.y), free(cc.r), free(dx), free(dw), free(db);
}

/* Channel groups (depthwise at g = c) and extra bottom/right padding (TF's 'same'). */
Test(ref_gradcheck, conv2d_grouped_and_end_padded) {
    const sm_conv_geom cases[] = {
        {.n = 2,
         .c = 4,
         .h = 6,
         .w = 5,
         .o = 4,
         .kh = 3,
         .kw = 3,
         .sh = 1,
         .sw = 1,
         .ph = 1,
         .pw = 1,
         .g = 4},
        {.n = 1,
         .c = 6,
         .h = 8,
         .w = 7,
         .o = 4,
         .kh = 3,
         .kw = 2,
         .sh = 2,
         .sw = 2,
         .ph = 0,
         .pw = 0,
         .g = 2,
         .eh = 1,
         .ew = 1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) check_conv(cases[i], 700 + 10 * i);
}

/* Depthwise by hand: each output channel sees only its own input channel; pe pads one zero row
 * and column at the bottom/right only, so a stride-2 3x3 window over 4x4 starts at 0 and 2. */
Test(ref_exact, grouped_conv_by_hand) {
    double x[32], w[18], y[8];
    for (int i = 0; i < 32; i++) x[i] = i < 16 ? 1.0 : 2.0; /* [1, 2, 4, 4] */
    for (int i = 0; i < 18; i++) w[i] = i < 9 ? 1.0 : 10.0; /* [2, 1, 3, 3] */
    sm_conv_geom g = {.n = 1,
                      .c = 2,
                      .h = 4,
                      .w = 4,
                      .o = 2,
                      .kh = 3,
                      .kw = 3,
                      .sh = 2,
                      .sw = 2,
                      .g = 2,
                      .eh = 1,
                      .ew = 1};
    cr_assert(sm_conv_geom_finish(&g));
    cr_assert_eq(g.oh, 2);
    cr_assert_eq(g.ow, 2);
    sm_ref_conv2d_forward(&g, x, w, NULL, y);
    const double want[8] = {9, 6, 6, 4, 180, 120, 120, 80};
    for (int i = 0; i < 8; i++) cr_expect_float_eq(y[i], want[i], 1e-12, "y[%d] = %g", i, y[i]);
    g.c = 3;
    cr_assert_eq(sm_conv_geom_finish(&g), 0, "2 groups cannot split 3 channels");
}

Test(ref_gradcheck, conv2d_geometries) {
    /* n, c, h, w, o, kh, kw, sh, sw, ph, pw */
    const sm_conv_geom cases[] = {
        {.n = 2,
         .c = 3,
         .h = 7,
         .w = 6,
         .o = 4,
         .kh = 3,
         .kw = 3,
         .sh = 1,
         .sw = 1,
         .ph = 0,
         .pw = 0},
        {.n = 1,
         .c = 2,
         .h = 9,
         .w = 8,
         .o = 3,
         .kh = 3,
         .kw = 2,
         .sh = 2,
         .sw = 2,
         .ph = 1,
         .pw = 0},
        {.n = 2,
         .c = 2,
         .h = 10,
         .w = 11,
         .o = 3,
         .kh = 4,
         .kw = 3,
         .sh = 3,
         .sw = 3,
         .ph = 2,
         .pw = 1},
        {.n = 1,
         .c = 3,
         .h = 5,
         .w = 5,
         .o = 2,
         .kh = 5,
         .kw = 5,
         .sh = 1,
         .sw = 1,
         .ph = 2,
         .pw = 2},
        {.n = 1,
         .c = 2,
         .h = 8,
         .w = 7,
         .o = 2,
         .kh = 1,
         .kw = 1,
         .sh = 2,
         .sw = 3,
         .ph = 0,
         .pw = 0},
        {.n = 2,
         .c = 2,
         .h = 6,
         .w = 9,
         .o = 3,
         .kh = 2,
         .kw = 4,
         .sh = 1,
         .sw = 2,
         .ph = 1,
         .pw = 2},
        {.n = 1,
         .c = 1,
         .h = 4,
         .w = 5,
         .o = 2,
         .kh = 2,
         .kw = 3,
         .sh = 1,
         .sw = 1,
         .ph = 3,
         .pw = 0},
        {.n = 1,
         .c = 3,
         .h = 13,
         .w = 12,
         .o = 2,
         .kh = 5,
         .kw = 4,
         .sh = 3,
         .sw = 2,
         .ph = 0,
         .pw = 1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) check_conv(cases[i], 100 + 10 * i);
}

/* ---------------------------------------------------------------- relu gradcheck */

typedef struct relu_case {
    long n;
    double *x, *y, *r;
} relu_case;

static double relu_loss(void *ctx) {
    relu_case *rc = ctx;
    sm_ref_relu_forward(rc->n, rc->x, rc->y);
    return dot(rc->y, rc->r, (size_t)rc->n);
}

Test(ref_gradcheck, relu) {
    relu_case rc = {
        .n = 200, .x = uniform(200, 0.1, 1.0, 7), .y = zeros(200), .r = uniform(200, -1, 1, 8)};
    for (long i = 0; i < rc.n; i += 2) rc.x[i] = -rc.x[i]; /* |x| >= 0.1: far from the kink */
    double *dx = zeros(200);
    sm_ref_relu_backward(rc.n, rc.x, rc.r, dx);
    fd_error("relu dx", relu_loss, &rc, rc.x, 200, dx);
    free(rc.x), free(rc.y), free(rc.r), free(dx);
}

/* ---------------------------------------------------------------- maxpool gradcheck */

typedef struct pool_case {
    sm_pool_geom g;
    double *x, *y, *r;
} pool_case;

static double pool_loss(void *ctx) {
    pool_case *pc = ctx;
    sm_ref_maxpool2d_forward(&pc->g, pc->x, pc->y);
    return dot(pc->y, pc->r, pool_y_size(&pc->g));
}

static void check_pool(sm_pool_geom g, uint64_t seed) {
    cr_assert(sm_pool_geom_finish(&g), "bad test geometry");
    size_t nx = pool_x_size(&g), ny = pool_y_size(&g);
    pool_case pc = {.g = g,
                    .x = distinct_values(nx, -0.005 * (double)nx, seed),
                    .y = zeros(ny),
                    .r = uniform(ny, -1, 1, seed + 1)};
    double *dx = zeros(nx);
    sm_ref_maxpool2d_backward(&g, pc.x, pc.r, dx);
    char what[96];
    snprintf(what, sizeof what, "maxpool k%dx%d s%d,%d p%d,%d dx", g.kh, g.kw, g.sh, g.sw, g.ph,
             g.pw);
    fd_error(what, pool_loss, &pc, pc.x, nx, dx);
    free(pc.x), free(pc.y), free(pc.r), free(dx);
}

Test(ref_gradcheck, maxpool2d_geometries) {
    const sm_pool_geom cases[] = {
        {.n = 2, .c = 3, .h = 9, .w = 9, .kh = 3, .kw = 3, .sh = 2, .sw = 2, .ph = 0, .pw = 0},
        {.n = 1, .c = 2, .h = 8, .w = 7, .kh = 2, .kw = 2, .sh = 2, .sw = 2, .ph = 0, .pw = 0},
        {.n = 1, .c = 2, .h = 7, .w = 8, .kh = 3, .kw = 3, .sh = 2, .sw = 2, .ph = 1, .pw = 1},
        {.n = 2, .c = 1, .h = 6, .w = 6, .kh = 3, .kw = 3, .sh = 1, .sw = 1, .ph = 1, .pw = 1},
        {.n = 1, .c = 2, .h = 9, .w = 7, .kh = 3, .kw = 2, .sh = 2, .sw = 1, .ph = 1, .pw = 1},
        {.n = 1, .c = 1, .h = 11, .w = 10, .kh = 5, .kw = 4, .sh = 3, .sw = 2, .ph = 2, .pw = 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) check_pool(cases[i], 300 + 10 * i);
}

/* ---------------------------------------------------------------- linear gradcheck */

typedef struct linear_case {
    int n, in, out;
    double *x, *w, *b, *y, *r;
} linear_case;

static double linear_loss(void *ctx) {
    linear_case *lc = ctx;
    sm_ref_linear_forward(lc->n, lc->in, lc->out, lc->x, lc->w, lc->b, lc->y);
    return dot(lc->y, lc->r, (size_t)lc->n * lc->out);
}

Test(ref_gradcheck, linear) {
    const int n = 3, in = 7, out = 5;
    linear_case lc = {.n = n,
                      .in = in,
                      .out = out,
                      .x = uniform((size_t)n * in, -1, 1, 21),
                      .w = uniform((size_t)out * in, -1, 1, 22),
                      .b = uniform((size_t)out, -1, 1, 23),
                      .y = zeros((size_t)n * out),
                      .r = uniform((size_t)n * out, -1, 1, 24)};
    double *dx = zeros((size_t)n * in), *dw = zeros((size_t)out * in), *db = zeros((size_t)out);
    sm_ref_linear_backward(n, in, out, lc.x, lc.w, lc.r, dx, dw, db);
    fd_error("linear dx", linear_loss, &lc, lc.x, (size_t)n * in, dx);
    fd_error("linear dw", linear_loss, &lc, lc.w, (size_t)out * in, dw);
    fd_error("linear db", linear_loss, &lc, lc.b, (size_t)out, db);
    free(lc.x), free(lc.w), free(lc.b), free(lc.y), free(lc.r), free(dx), free(dw), free(db);
}

/* ---------------------------------------------------------------- batchnorm gradcheck */

typedef struct bn_case {
    int n, c, hw;
    double *x, *gamma, *beta, *y, *r, *mean, *invstd;
} bn_case;

static double bn_loss(void *ctx) {
    bn_case *bc = ctx;
    sm_ref_batchnorm2d_forward_train(bc->n, bc->c, bc->hw, bc->x, bc->gamma, bc->beta, 1e-5, 0.1,
                                     NULL, NULL, bc->y, bc->mean, bc->invstd);
    return dot(bc->y, bc->r, (size_t)bc->n * bc->c * bc->hw);
}

Test(ref_gradcheck, batchnorm2d_training) {
    const int n = 3, c = 4, hw = 6;
    size_t nx = (size_t)n * c * hw;
    bn_case bc = {.n = n,
                  .c = c,
                  .hw = hw,
                  .x = uniform(nx, -2, 3, 31),
                  .gamma = uniform((size_t)c, 0.5, 1.5, 32),
                  .beta = uniform((size_t)c, -1, 1, 33),
                  .y = zeros(nx),
                  .r = uniform(nx, -1, 1, 34),
                  .mean = zeros((size_t)c),
                  .invstd = zeros((size_t)c)};
    bn_loss(&bc); /* fills mean / invstd */
    double *dx = zeros(nx), *dgamma = zeros((size_t)c), *dbeta = zeros((size_t)c);
    sm_ref_batchnorm2d_backward(n, c, hw, bc.x, bc.gamma, bc.mean, bc.invstd, bc.r, dx, dgamma,
                                dbeta);
    fd_error("batchnorm dx", bn_loss, &bc, bc.x, nx, dx);
    fd_error("batchnorm dgamma", bn_loss, &bc, bc.gamma, (size_t)c, dgamma);
    fd_error("batchnorm dbeta", bn_loss, &bc, bc.beta, (size_t)c, dbeta);
    free(bc.x), free(bc.gamma), free(bc.beta), free(bc.y), free(bc.r), free(bc.mean),
        free(bc.invstd);
    free(dx), free(dgamma), free(dbeta);
}

/* Frozen batchnorm / scale: the statistics are constants (running ones, or mean 0 and
 * variance 1), so only gamma, beta and x move. */
static double bn_fixed_loss(void *ctx) {
    bn_case *bc = ctx;
    double *var = zeros((size_t)bc->c);
    for (int k = 0; k < bc->c; k++) var[k] = 1.0 / (bc->invstd[k] * bc->invstd[k]);
    sm_ref_batchnorm2d_forward_infer(bc->n, bc->c, bc->hw, bc->x, bc->gamma, bc->beta, 0.0,
                                     bc->mean, var, bc->y);
    free(var);
    return dot(bc->y, bc->r, (size_t)bc->n * bc->c * bc->hw);
}

Test(ref_gradcheck, batchnorm2d_fixed_statistics) {
    const int n = 2, c = 3, hw = 5;
    size_t nx = (size_t)n * c * hw;
    bn_case bc = {.n = n,
                  .c = c,
                  .hw = hw,
                  .x = uniform(nx, -2, 3, 41),
                  .gamma = uniform((size_t)c, 0.5, 1.5, 42),
                  .beta = uniform((size_t)c, -1, 1, 43),
                  .y = zeros(nx),
                  .r = uniform(nx, -1, 1, 44),
                  .mean = uniform((size_t)c, -0.5, 0.5, 45),
                  .invstd = uniform((size_t)c, 0.5, 2.0, 46)};
    double *dx = zeros(nx), *dgamma = zeros((size_t)c), *dbeta = zeros((size_t)c);
    sm_ref_batchnorm2d_backward_fixed(n, c, hw, bc.x, bc.gamma, bc.mean, bc.invstd, bc.r, dx,
                                      dgamma, dbeta);
    fd_error("fixed batchnorm dx", bn_fixed_loss, &bc, bc.x, nx, dx);
    fd_error("fixed batchnorm dgamma", bn_fixed_loss, &bc, bc.gamma, (size_t)c, dgamma);
    fd_error("fixed batchnorm dbeta", bn_fixed_loss, &bc, bc.beta, (size_t)c, dbeta);
    free(bc.x), free(bc.gamma), free(bc.beta), free(bc.y), free(bc.r), free(bc.mean),
        free(bc.invstd);
    free(dx), free(dgamma), free(dbeta);
}

/* Global average pooling. */
typedef struct avgpool_case {
    int n, c, hw;
    double *x, *y, *r;
} avgpool_case;

static double avgpool_loss(void *ctx) {
    avgpool_case *ac = ctx;
    sm_ref_avgpool_forward(ac->n, ac->c, ac->hw, ac->x, ac->y);
    return dot(ac->y, ac->r, (size_t)ac->n * ac->c);
}

Test(ref_gradcheck, avgpool_global) {
    avgpool_case ac = {2, 3, 7, uniform(42, -1, 1, 51), zeros(6), uniform(6, -2, 2, 52)};
    double *dx = zeros(42);
    sm_ref_avgpool_backward(2, 3, 7, ac.r, dx);
    fd_error("avgpool dx", avgpool_loss, &ac, ac.x, 42, dx);
    free(ac.x), free(ac.y), free(ac.r), free(dx);
}

/* ---------------------------------------------------------------- whole network gradcheck */

/* x [2, 3, 15, 15] -> conv1(4, k3, p1) -> relu -> maxpool(3, s2) -> conv2(5, k3, s2) -> relu
 * -> flatten (45) -> fc1(45 -> 8) -> fc2(8 -> 3); loss = sum(y * r). */
typedef struct tiny_net {
    sm_conv_geom c1, c2;
    sm_pool_geom p1;
    int flat, hidden, out;
    double *x, *w1, *b1, *w2, *b2, *w3, *b3, *w4, *b4, *r; /* inputs and parameters */
    double *a1, *h1, *q1, *a2, *h2, *f1, *y;               /* activations */
} tiny_net;

static void tiny_net_init(tiny_net *t) {
    t->c1 = (sm_conv_geom){.n = 2,
                           .c = 3,
                           .h = 15,
                           .w = 15,
                           .o = 4,
                           .kh = 3,
                           .kw = 3,
                           .sh = 1,
                           .sw = 1,
                           .ph = 1,
                           .pw = 1};
    cr_assert(sm_conv_geom_finish(&t->c1));
    t->p1 = (sm_pool_geom){
        .n = 2, .c = 4, .h = t->c1.oh, .w = t->c1.ow, .kh = 3, .kw = 3, .sh = 2, .sw = 2};
    cr_assert(sm_pool_geom_finish(&t->p1));
    t->c2 = (sm_conv_geom){
        .n = 2, .c = 4, .h = t->p1.oh, .w = t->p1.ow, .o = 5, .kh = 3, .kw = 3, .sh = 2, .sw = 2};
    cr_assert(sm_conv_geom_finish(&t->c2));
    t->flat = t->c2.o * t->c2.oh * t->c2.ow;
    cr_assert_eq(t->flat, 45);
    t->hidden = 8;
    t->out = 3;
    t->x = uniform(conv_x_size(&t->c1), 0, 1, 41);
    t->w1 = uniform(conv_w_size(&t->c1), -0.5, 0.5, 42);
    t->b1 = uniform(4, -0.2, 0.2, 43);
    t->w2 = uniform(conv_w_size(&t->c2), -0.5, 0.5, 44);
    t->b2 = uniform(5, -0.2, 0.2, 45);
    t->w3 = uniform((size_t)t->hidden * t->flat, -0.3, 0.3, 46);
    t->b3 = uniform((size_t)t->hidden, -0.2, 0.2, 47);
    t->w4 = uniform((size_t)t->out * t->hidden, -0.5, 0.5, 48);
    t->b4 = uniform((size_t)t->out, -0.2, 0.2, 49);
    t->r = uniform(2 * (size_t)t->out, -1, 1, 50);
    t->a1 = zeros(conv_y_size(&t->c1));
    t->h1 = zeros(conv_y_size(&t->c1));
    t->q1 = zeros(pool_y_size(&t->p1));
    t->a2 = zeros(conv_y_size(&t->c2));
    t->h2 = zeros(conv_y_size(&t->c2));
    t->f1 = zeros(2 * (size_t)t->hidden);
    t->y = zeros(2 * (size_t)t->out);
}

static void tiny_net_free(tiny_net *t) {
    double *all[] = {t->x, t->w1, t->b1, t->w2, t->b2, t->w3, t->b3, t->w4, t->b4,
                     t->r, t->a1, t->h1, t->q1, t->a2, t->h2, t->f1, t->y};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) free(all[i]);
}

static double tiny_net_loss(void *ctx) {
    tiny_net *t = ctx;
    sm_ref_conv2d_forward(&t->c1, t->x, t->w1, t->b1, t->a1);
    sm_ref_relu_forward((long)conv_y_size(&t->c1), t->a1, t->h1);
    sm_ref_maxpool2d_forward(&t->p1, t->h1, t->q1);
    sm_ref_conv2d_forward(&t->c2, t->q1, t->w2, t->b2, t->a2);
    sm_ref_relu_forward((long)conv_y_size(&t->c2), t->a2, t->h2);
    sm_ref_linear_forward(2, t->flat, t->hidden, t->h2, t->w3, t->b3, t->f1); /* flatten is free */
    sm_ref_linear_forward(2, t->hidden, t->out, t->f1, t->w4, t->b4, t->y);
    return dot(t->y, t->r, 2 * (size_t)t->out);
}

/* Asserts every ReLU input is at least `margin` from 0 and every pooling window with a positive
 * maximum wins by at least `margin`, so finite differences never cross a kink or a tie. */
static void assert_away_from_kinks(const tiny_net *t, double margin) {
    size_t n1 = conv_y_size(&t->c1), n2 = conv_y_size(&t->c2);
    for (size_t i = 0; i < n1; i++)
        cr_assert_gt(fabs(t->a1[i]), margin, "conv1 output %zu near 0", i);
    for (size_t i = 0; i < n2; i++)
        cr_assert_gt(fabs(t->a2[i]), margin, "conv2 output %zu near 0", i);
    const sm_pool_geom *g = &t->p1;
    for (int p = 0; p < g->n * g->c; p++)
        for (int oy = 0; oy < g->oh; oy++)
            for (int ox = 0; ox < g->ow; ox++) {
                double best = -INFINITY, second = -INFINITY;
                for (int i = 0; i < g->kh; i++)
                    for (int j = 0; j < g->kw; j++) {
                        int iy = oy * g->sh - g->ph + i, ix = ox * g->sw - g->pw + j;
                        if (iy < 0 || iy >= g->h || ix < 0 || ix >= g->w) continue;
                        double v = t->h1[((long)p * g->h + iy) * g->w + ix];
                        if (v > best) second = best, best = v;
                        else if (v > second) second = v;
                    }
                if (best > 0.0)
                    cr_assert_gt(best - second, margin, "pool window %d/%d/%d nearly tied", p, oy,
                                 ox);
            }
}

Test(ref_gradcheck, whole_small_network) {
    tiny_net t;
    tiny_net_init(&t);
    tiny_net_loss(&t);
    assert_away_from_kinks(&t, 1e-4);

    size_t n_x = conv_x_size(&t.c1), n_w1 = conv_w_size(&t.c1), n_w2 = conv_w_size(&t.c2);
    size_t n_w3 = (size_t)t.hidden * t.flat, n_w4 = (size_t)t.out * t.hidden;
    double *dx = zeros(n_x), *dw1 = zeros(n_w1), *db1 = zeros(4), *dw2 = zeros(n_w2),
           *db2 = zeros(5);
    double *dw3 = zeros(n_w3), *db3 = zeros((size_t)t.hidden), *dw4 = zeros(n_w4);
    double *db4 = zeros((size_t)t.out);
    double *df1 = zeros(2 * (size_t)t.hidden), *dh2 = zeros(conv_y_size(&t.c2));
    double *da2 = zeros(conv_y_size(&t.c2)), *dq1 = zeros(pool_y_size(&t.p1));
    double *dh1 = zeros(conv_y_size(&t.c1)), *da1 = zeros(conv_y_size(&t.c1));

    sm_ref_linear_backward(2, t.hidden, t.out, t.f1, t.w4, t.r, df1, dw4, db4);
    sm_ref_linear_backward(2, t.flat, t.hidden, t.h2, t.w3, df1, dh2, dw3, db3);
    sm_ref_relu_backward((long)conv_y_size(&t.c2), t.a2, dh2, da2);
    sm_ref_conv2d_backward(&t.c2, t.q1, t.w2, da2, dq1, dw2, db2);
    sm_ref_maxpool2d_backward(&t.p1, t.h1, dq1, dh1);
    sm_ref_relu_backward((long)conv_y_size(&t.c1), t.a1, dh1, da1);
    sm_ref_conv2d_backward(&t.c1, t.x, t.w1, da1, dx, dw1, db1);

    fd_error("net x", tiny_net_loss, &t, t.x, n_x, dx);
    fd_error("net conv1.weight", tiny_net_loss, &t, t.w1, n_w1, dw1);
    fd_error("net conv1.bias", tiny_net_loss, &t, t.b1, 4, db1);
    fd_error("net conv2.weight", tiny_net_loss, &t, t.w2, n_w2, dw2);
    fd_error("net conv2.bias", tiny_net_loss, &t, t.b2, 5, db2);
    fd_error("net fc1.weight", tiny_net_loss, &t, t.w3, n_w3, dw3);
    fd_error("net fc1.bias", tiny_net_loss, &t, t.b3, (size_t)t.hidden, db3);
    fd_error("net fc2.weight", tiny_net_loss, &t, t.w4, n_w4, dw4);
    fd_error("net fc2.bias", tiny_net_loss, &t, t.b4, (size_t)t.out, db4);

    double *bufs[] = {dx, dw1, db1, dw2, db2, dw3, db3, dw4, db4, df1, dh2, da2, dq1, dh1, da1};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++) free(bufs[i]);
    tiny_net_free(&t);
}
