/* Batch losses over all pairs of a labelled batch: the pairs each mining rule selects, the loss
 * against nn/loss.c's per-pair formula, finite-difference gradients in double, and the trainer's
 * step on a P x K batch. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "model/model.h"
#include "nn/batch_pairs.h"
#include "nn/loss.h"
#include "nn/net.h"
#include "test_util.h"

/* The selected pairs as a bit mask over the pairs of 4 images, bit (i * 4 + j). */
static unsigned pair_mask(siamese_mining mining, double margin, const double *emb,
                          const int *classes) {
    sm_batch_pairs_work w;
    cr_assert_eq(sm_batch_pairs_work_init(&w, 4, 1), 0);
    memcpy(w.emb, emb, 4 * sizeof *emb);
    int count = 0;
    sm_batch_pairs_loss(&w, SIAMESE_METRIC_EUCLIDEAN, margin, mining, 4, classes, 0, &count);
    unsigned mask = 0;
    int bits = 0;
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 4; j++)
            if (w.pick[i * 4 + j]) {
                cr_assert(i < j, "pair (%d, %d) stored the wrong way round", i, j);
                mask |= 1u << (i * 4 + j);
                bits++;
            }
    cr_assert_eq(bits, count);
    sm_batch_pairs_work_free(&w);
    return mask;
}

#define P(i, j) (1u << ((i)*4 + (j)))

Test(batch_pairs, each_rule_selects_the_expected_pairs) {
    /* 1-D: classes 0 0 1 1 at 0, 1, 1.5, 4.5. Distances: (0,1) 1 +, (0,2) 1.5, (0,3) 4.5,
     * (1,2) 0.5, (1,3) 3.5, (2,3) 3 +. */
    double emb[4] = {0, 1, 1.5, 4.5};
    int classes[4] = {0, 0, 1, 1};
    unsigned all = P(0, 1) | P(0, 2) | P(0, 3) | P(1, 2) | P(1, 3) | P(2, 3);
    cr_assert_eq(pair_mask(SIAMESE_MINING_ALL, 2, emb, classes), all);
    cr_assert_eq(pair_mask(SIAMESE_MINING_NONE, 2, emb, classes), all);
    /* hard: 0 -> (0,1) (0,2); 1 -> (0,1) (1,2); 2 -> (2,3) (1,2); 3 -> (2,3) (1,3) */
    unsigned hard = P(0, 1) | P(0, 2) | P(1, 2) | P(2, 3) | P(1, 3);
    cr_assert_eq(pair_mask(SIAMESE_MINING_HARD, 2, emb, classes), hard);
    /* semi-hard, margin 1: 0 (dp 1, band 1..2) -> (0,2); 1: band empty -> nearest (1,2);
     * 2 (dp 3, band 3..4): empty -> (1,2); 3 (dp 3): (1,3) at 3.5; plus both positives */
    unsigned semi = P(0, 1) | P(2, 3) | P(0, 2) | P(1, 2) | P(1, 3);
    cr_assert_eq(pair_mask(SIAMESE_MINING_SEMIHARD, 1, emb, classes), semi);
    /* margin 2: the bands widen to (1,3) and (3,5): (0,3) at 4.5 joins through anchor 3 */
    cr_assert_eq(pair_mask(SIAMESE_MINING_SEMIHARD, 2, emb, classes), semi | P(0, 3));
    /* no positive in the batch: hard still takes the nearest negatives, semi-hard none */
    int distinct[4] = {0, 1, 2, 3};
    cr_assert_eq(pair_mask(SIAMESE_MINING_HARD, 2, emb, distinct), P(0, 1) | P(1, 2) | P(2, 3));
    cr_assert_eq(pair_mask(SIAMESE_MINING_SEMIHARD, 2, emb, distinct), 0u);
}

#define N 8
#define DIM 5

static const int classes8[N] = {0, 0, 1, 1, 2, 2, 3, 3};

Test(batch_pairs, batch_all_is_the_mean_of_the_per_pair_formula) {
    sm_batch_pairs_work w;
    cr_assert_eq(sm_batch_pairs_work_init(&w, N, DIM), 0);
    tu_fill_uniform_d(w.emb, N * DIM, -1, 1, 11);
    int count = 0;
    double loss = sm_batch_pairs_loss(&w, SIAMESE_METRIC_EUCLIDEAN, 1.5, SIAMESE_MINING_ALL, N,
                                      classes8, 0, &count);
    cr_assert_eq(count, N * (N - 1) / 2);
    double a[N * (N - 1) / 2 * DIM], b[N * (N - 1) / 2 * DIM], y[N * (N - 1) / 2];
    int k = 0;
    for (int i = 0; i < N; i++)
        for (int j = i + 1; j < N; j++, k++) {
            memcpy(a + k * DIM, w.emb + i * DIM, DIM * sizeof(double));
            memcpy(b + k * DIM, w.emb + j * DIM, DIM * sizeof(double));
            y[k] = classes8[i] == classes8[j] ? 0 : 1;
        }
    double want =
        sm_contrastive_loss_f64(SIAMESE_METRIC_EUCLIDEAN, 1.5, k, DIM, a, b, y, NULL, NULL, NULL);
    cr_assert_float_eq(loss, want, 1e-13);
    sm_batch_pairs_work_free(&w);
}

/* Central differences of the loss against the analytic gradient, the selection held as at the
 * base point (asserted unchanged at every probe, so no probe crosses a selection boundary). */
static void gradient_check(siamese_metric metric, siamese_mining mining, double margin,
                           uint64_t seed) {
    sm_batch_pairs_work w;
    cr_assert_eq(sm_batch_pairs_work_init(&w, N, DIM), 0);
    tu_fill_uniform_d(w.emb, N * DIM, -1, 1, seed);
    int count = 0;
    sm_batch_pairs_loss(&w, metric, margin, mining, N, classes8, 1, &count);
    cr_assert(count > 0);
    double grad[N * DIM], num[N * DIM];
    unsigned char pick[N * N];
    memcpy(grad, w.grad, sizeof grad);
    memcpy(pick, w.pick, sizeof pick);
    const double h = 1e-6;
    for (int i = 0; i < N * DIM; i++) {
        double keep = w.emb[i];
        w.emb[i] = keep + h;
        double lp = sm_batch_pairs_loss(&w, metric, margin, mining, N, classes8, 0, NULL);
        cr_assert_eq(memcmp(pick, w.pick, sizeof pick), 0, "selection changed at +h, %d", i);
        w.emb[i] = keep - h;
        double lm = sm_batch_pairs_loss(&w, metric, margin, mining, N, classes8, 0, NULL);
        cr_assert_eq(memcmp(pick, w.pick, sizeof pick), 0, "selection changed at -h, %d", i);
        w.emb[i] = keep;
        num[i] = (lp - lm) / (2 * h);
    }
    double rel = tu_max_rel_err_d(grad, num, N * DIM);
    cr_assert(rel < 1e-6, "%s, %s: max rel err %g", siamese_metric_name(metric),
              siamese_mining_name(mining), rel);
    sm_batch_pairs_work_free(&w);
}

Test(batch_pairs, gradients_match_finite_differences) {
    const siamese_metric metrics[] = {SIAMESE_METRIC_EUCLIDEAN, SIAMESE_METRIC_COSINE,
                                      SIAMESE_METRIC_CORRELATION};
    const siamese_mining rules[] = {SIAMESE_MINING_ALL, SIAMESE_MINING_HARD,
                                    SIAMESE_MINING_SEMIHARD};
    for (int m = 0; m < 3; m++)
        for (int r = 0; r < 3; r++)
            gradient_check(metrics[m], rules[r], metrics[m] == SIAMESE_METRIC_EUCLIDEAN ? 1.7 : 0.9,
                           100 + (uint64_t)(3 * m + r));
}

Test(batch_pairs, names_parse_both_ways) {
    for (int m = SIAMESE_MINING_NONE; m <= SIAMESE_MINING_SEMIHARD; m++) {
        siamese_mining back;
        cr_assert_eq(siamese_mining_parse(siamese_mining_name((siamese_mining)m), &back),
                     SIAMESE_OK);
        cr_assert_eq((int)back, m);
    }
    siamese_mining x;
    cr_assert_eq(siamese_mining_parse("hardest", &x), SIAMESE_ERR_INVALID_ARG);
    cr_assert_eq(siamese_mining_parse(NULL, &x), SIAMESE_ERR_INVALID_ARG);
}

/* ---- the trainer's step on a labelled batch */

#define C 1
#define H 8
#define W 8
#define IMG (C * H * W)
#define PK 12 /* 4 classes x 3 images */

static const char *tiny_arch = "conv(4,k=3) relu maxpool(2) linear(16) relu linear(4)";

/* 4 classes x 3 images (test_util's bands). */
static void make_pk_batch(float *images, int *classes, uint64_t seed) {
    tu_band_batch(images, classes, PK, 3, H, W, seed);
}

static siamese_trainer *tiny_trainer(siamese_model **model, int max_pairs) {
    siamese_model_params p = tu_model_params(tiny_arch, C, H, W, 5);
    *model = tu_create_model(&p);
    siamese_trainer_params tp = siamese_trainer_default_params();
    tp.learning_rate = 5e-3f;
    tp.max_pairs = max_pairs;
    siamese_trainer *t = NULL;
    cr_assert_eq(siamese_trainer_create(*model, &tp, &t), SIAMESE_OK);
    return t;
}

Test(batch_pairs, trainer_step_loss_is_the_batch_loss_of_the_embeddings) {
    siamese_model *m;
    siamese_trainer *t = tiny_trainer(&m, PK / 2);
    float images[PK * IMG];
    int classes[PK];
    make_pk_batch(images, classes, 1);
    /* the loss the step reports is that of the embeddings before its update */
    float emb[PK * 4];
    cr_assert_eq(siamese_model_embed(m, images, PK, emb), SIAMESE_OK);
    sm_batch_pairs_work w;
    cr_assert_eq(sm_batch_pairs_work_init(&w, PK, 4), 0);
    for (int i = 0; i < PK * 4; i++) w.emb[i] = emb[i];
    int want_pairs = 0;
    double want = sm_batch_pairs_loss(&w, SIAMESE_METRIC_EUCLIDEAN, 2.0, SIAMESE_MINING_HARD, PK,
                                      classes, 0, &want_pairs);
    float loss;
    int pairs = 0;
    cr_assert_eq(
        siamese_trainer_step_batch(t, images, classes, PK, SIAMESE_MINING_HARD, &loss, &pairs),
        SIAMESE_OK, "%s", siamese_trainer_errmsg(t));
    cr_assert_eq(pairs, want_pairs);
    cr_assert(fabs(loss - want) <= 1e-5 * fabs(want) + 1e-7, "%g vs %g", (double)loss, want);
    sm_batch_pairs_work_free(&w);
    siamese_trainer_free(t);
    siamese_model_free(m);
}

Test(batch_pairs, trainer_steps_lower_the_loss_and_repeat_bitwise) {
    const siamese_mining rules[] = {SIAMESE_MINING_ALL, SIAMESE_MINING_HARD,
                                    SIAMESE_MINING_SEMIHARD};
    for (int r = 0; r < 3; r++) {
        float params[2][4096];
        float first = 0, last = 0;
        for (int run = 0; run < 2; run++) {
            siamese_model *m;
            siamese_trainer *t = tiny_trainer(&m, PK / 2);
            float images[PK * IMG], loss = 0;
            int classes[PK];
            for (int step = 0; step < 40; step++) {
                make_pk_batch(images, classes, (uint64_t)step % 5 + 1);
                cr_assert_eq(
                    siamese_trainer_step_batch(t, images, classes, PK, rules[r], &loss, NULL),
                    SIAMESE_OK, "%s", siamese_trainer_errmsg(t));
                if (step < 5) first += loss / 5;
                if (step >= 35) last += loss / 5;
            }
            size_t n = siamese_model_param_count(m);
            cr_assert(n <= 4096);
            memcpy(params[run], sm_net_params(m->net), n * sizeof(float));
            if (run == 1)
                cr_assert_eq(memcmp(params[0], params[1], n * sizeof(float)), 0,
                             "%s: two runs differ", siamese_mining_name(rules[r]));
            siamese_trainer_free(t);
            siamese_model_free(m);
        }
        cr_assert(last < 0.7f * first, "%s: loss %g -> %g", siamese_mining_name(rules[r]),
                  (double)first / 2, (double)last / 2);
    }
}

Test(batch_pairs, trainer_rejects_bad_batches) {
    siamese_model *m;
    siamese_trainer *t = tiny_trainer(&m, 4);
    float images[PK * IMG], loss;
    int classes[PK];
    make_pk_batch(images, classes, 1);
    cr_assert_eq(siamese_trainer_step_batch(t, images, classes, 9, SIAMESE_MINING_ALL, &loss, NULL),
                 SIAMESE_ERR_INVALID_ARG);
    cr_assert(strstr(siamese_trainer_errmsg(t), "2 * max_pairs = 8") != NULL, "%s",
              siamese_trainer_errmsg(t));
    cr_assert_eq(siamese_trainer_step_batch(t, images, classes, 1, SIAMESE_MINING_ALL, &loss, NULL),
                 SIAMESE_ERR_INVALID_ARG);
    cr_assert_eq(siamese_trainer_step_batch(t, images, NULL, 4, SIAMESE_MINING_ALL, &loss, NULL),
                 SIAMESE_ERR_INVALID_ARG);
    cr_assert_eq(
        siamese_trainer_step_batch(NULL, images, classes, 4, SIAMESE_MINING_ALL, &loss, NULL),
        SIAMESE_ERR_INVALID_ARG);
    images[5] = NAN;
    float before[4096];
    size_t n = siamese_model_param_count(m);
    memcpy(before, sm_net_params(m->net), n * sizeof(float));
    cr_assert_eq(siamese_trainer_step_batch(t, images, classes, 8, SIAMESE_MINING_ALL, &loss, NULL),
                 SIAMESE_ERR_NUMERIC);
    cr_assert_eq(memcmp(before, sm_net_params(m->net), n * sizeof(float)), 0);
    siamese_trainer_free(t);
    siamese_model_free(m);
}
