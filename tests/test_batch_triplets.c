/* The triplet-margin loss over a labelled batch: the triplets each mining rule takes and their
 * mean against values worked by hand, finite-difference gradients in double, and the trainer's
 * step with --loss triplet. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "model/model.h"
#include "nn/batch_triplets.h"
#include "nn/net.h"
#include "test_util.h"

/* 1-D: classes 0 0 1 1 at 0, 1, 1.5, 4.5. Distances: (0,1) 1 +, (0,2) 1.5, (0,3) 4.5, (1,2) 0.5,
 * (1,3) 3.5, (2,3) 3 +. */
static const double line4[4] = {0, 1, 1.5, 4.5};
static const int classes4[4] = {0, 0, 1, 1};

static double loss4(siamese_mining mining, double margin, int *active) {
    sm_batch_pairs_work w;
    cr_assert_eq(sm_batch_pairs_work_init(&w, 4, 1), 0);
    memcpy(w.emb, line4, sizeof line4);
    double loss = sm_batch_triplets_loss(&w, SIAMESE_METRIC_EUCLIDEAN, margin, mining, 4, classes4,
                                         1, active);
    sm_batch_pairs_work_free(&w);
    return loss;
}

/* PyTorch's pairwise_distance adds eps to the difference: D(x, y) = |x - y + 1e-6|. */
#define TOL 1e-5

Test(batch_triplets, each_rule_averages_the_expected_triplets) {
    int active = -1;
    /* all, margin 1: (a,p,n) = (0,1,2) 0.5, (0,1,3) 0, (1,0,2) 1.5, (1,0,3) 0, (2,3,0) 2.5,
     * (2,3,1) 3.5, (3,2,0) 0, (3,2,1) 0.5: five above zero, 8.5 in all */
    cr_assert_float_eq(loss4(SIAMESE_MINING_ALL, 1, &active), 8.5 / 5, TOL);
    cr_assert_eq(active, 5);
    cr_assert_float_eq(loss4(SIAMESE_MINING_NONE, 1, &active), 8.5 / 5, TOL);
    /* hard: 0 -> (0,1,2) 0.5; 1 -> (1,0,2) 1.5; 2 -> (2,3,1) 3.5; 3 -> (3,2,1) 0.5 */
    cr_assert_float_eq(loss4(SIAMESE_MINING_HARD, 1, &active), 6.0 / 4, TOL);
    cr_assert_eq(active, 4);
    /* semi-hard: (0,1): nearest negative beyond 1 is 2 at 1.5 -> 0.5; (1,0): beyond 1 is 3 at
     * 3.5 -> 0; (2,3): none beyond 3 -> the farthest, 0 at 1.5 -> 2.5; (3,2): 1 at 3.5 -> 0.5 */
    cr_assert_float_eq(loss4(SIAMESE_MINING_SEMIHARD, 1, &active), 3.5 / 3, TOL);
    cr_assert_eq(active, 3);
    /* margin 3: (1,0,3) joins semi-hard at 0.5 */
    cr_assert_float_eq(loss4(SIAMESE_MINING_SEMIHARD, 3, &active), (2.5 + 0.5 + 4.5 + 2.5) / 4,
                       TOL);
    cr_assert_eq(active, 4);
}

Test(batch_triplets, no_active_triplet_gives_zero_loss_and_gradient) {
    sm_batch_pairs_work w;
    cr_assert_eq(sm_batch_pairs_work_init(&w, 4, 1), 0);
    const double far[4] = {0, 0.1, 10, 10.1}; /* every negative beyond every positive + 1 */
    memcpy(w.emb, far, sizeof far);
    w.grad[0] = 7;
    int active = -1;
    cr_assert_eq(sm_batch_triplets_loss(&w, SIAMESE_METRIC_EUCLIDEAN, 1, SIAMESE_MINING_ALL, 4,
                                        classes4, 1, &active),
                 0.0);
    cr_assert_eq(active, 0);
    for (int i = 0; i < 4; i++) cr_assert_eq(w.grad[i], 0.0);
    /* no positive at all: no triplet */
    const int distinct[4] = {0, 1, 2, 3};
    cr_assert_eq(sm_batch_triplets_loss(&w, SIAMESE_METRIC_EUCLIDEAN, 1, SIAMESE_MINING_HARD, 4,
                                        distinct, 1, &active),
                 0.0);
    cr_assert_eq(active, 0);
    /* a NaN embedding makes the loss NaN, so the trainer sees a broken step */
    w.emb[1] = NAN;
    cr_assert(isnan(sm_batch_triplets_loss(&w, SIAMESE_METRIC_EUCLIDEAN, 1, SIAMESE_MINING_ALL, 4,
                                           classes4, 1, &active)));
    sm_batch_pairs_work_free(&w);
}

#define N 8
#define DIM 5

static const int classes8[N] = {0, 0, 1, 1, 2, 2, 3, 3};

/* Central differences against the analytic gradient; the triplets taken and their being above
 * zero (work->coef) are asserted unchanged at every probe. */
static void gradient_check(siamese_metric metric, siamese_mining mining, double margin,
                           uint64_t seed) {
    sm_batch_pairs_work w;
    cr_assert_eq(sm_batch_pairs_work_init(&w, N, DIM), 0);
    tu_fill_uniform_d(w.emb, N * DIM, -1, 1, seed);
    int active = 0;
    sm_batch_triplets_loss(&w, metric, margin, mining, N, classes8, 1, &active);
    cr_assert(active > 0, "%s, %s: no triplet above zero", siamese_metric_name(metric),
              siamese_mining_name(mining));
    double grad[N * DIM], num[N * DIM], coef[N * N];
    memcpy(grad, w.grad, sizeof grad);
    memcpy(coef, w.coef, sizeof coef);
    const double h = 1e-6;
    for (int i = 0; i < N * DIM; i++) {
        double keep = w.emb[i];
        w.emb[i] = keep + h;
        double lp = sm_batch_triplets_loss(&w, metric, margin, mining, N, classes8, 0, NULL);
        cr_assert_eq(memcmp(coef, w.coef, sizeof coef), 0, "triplets changed at +h, %d", i);
        w.emb[i] = keep - h;
        double lm = sm_batch_triplets_loss(&w, metric, margin, mining, N, classes8, 0, NULL);
        cr_assert_eq(memcmp(coef, w.coef, sizeof coef), 0, "triplets changed at -h, %d", i);
        w.emb[i] = keep;
        num[i] = (lp - lm) / (2 * h);
    }
    double rel = tu_max_rel_err_d(grad, num, N * DIM);
    cr_assert(rel < 1e-6, "%s, %s: max rel err %g", siamese_metric_name(metric),
              siamese_mining_name(mining), rel);
    sm_batch_pairs_work_free(&w);
}

Test(batch_triplets, gradients_match_finite_differences) {
    const siamese_metric metrics[] = {SIAMESE_METRIC_EUCLIDEAN, SIAMESE_METRIC_COSINE,
                                      SIAMESE_METRIC_CORRELATION};
    const siamese_mining rules[] = {SIAMESE_MINING_ALL, SIAMESE_MINING_HARD,
                                    SIAMESE_MINING_SEMIHARD};
    for (int m = 0; m < 3; m++)
        for (int r = 0; r < 3; r++)
            gradient_check(metrics[m], rules[r], metrics[m] == SIAMESE_METRIC_EUCLIDEAN ? 1.2 : 0.5,
                           200 + (uint64_t)(3 * m + r));
}

Test(batch_triplets, names_parse_both_ways) {
    for (int l = SIAMESE_LOSS_CONTRASTIVE; l <= SIAMESE_LOSS_TRIPLET; l++) {
        siamese_loss back;
        cr_assert_eq(siamese_loss_parse(siamese_loss_name((siamese_loss)l), &back), SIAMESE_OK);
        cr_assert_eq((int)back, l);
    }
    siamese_loss x;
    cr_assert_eq(siamese_loss_parse("quadruplet", &x), SIAMESE_ERR_INVALID_ARG);
    cr_assert_eq(siamese_loss_parse(NULL, &x), SIAMESE_ERR_INVALID_ARG);
    cr_assert_str_eq(siamese_loss_name((siamese_loss)7), "unknown");
}

/* ---- the trainer's step on a labelled batch with the triplet loss */

#define C 1
#define H 8
#define W 8
#define IMG (C * H * W)
#define PK 12 /* 4 classes x 3 images */

/* 4 classes x 3 images (test_util's bands). */
static void make_pk_batch(float *images, int *classes, uint64_t seed) {
    tu_band_batch(images, classes, PK, 3, H, W, seed);
}

static siamese_trainer *triplet_trainer(siamese_model **model) {
    siamese_model_params p =
        tu_model_params("conv(4,k=3) relu maxpool(2) linear(16) relu linear(4)", C, H, W, 5);
    *model = tu_create_model(&p);
    siamese_trainer_params tp = siamese_trainer_default_params();
    tp.learning_rate = 5e-3f;
    tp.max_pairs = PK / 2;
    tp.batch_loss = SIAMESE_LOSS_TRIPLET;
    siamese_trainer *t = NULL;
    cr_assert_eq(siamese_trainer_create(*model, &tp, &t), SIAMESE_OK);
    return t;
}

Test(batch_triplets, trainer_step_reports_the_triplet_loss_of_the_embeddings) {
    siamese_model *m;
    siamese_trainer *t = triplet_trainer(&m);
    float images[PK * IMG], emb[PK * 4];
    int classes[PK];
    make_pk_batch(images, classes, 1);
    cr_assert_eq(siamese_model_embed(m, images, PK, emb), SIAMESE_OK);
    sm_batch_pairs_work w;
    cr_assert_eq(sm_batch_pairs_work_init(&w, PK, 4), 0);
    for (int i = 0; i < PK * 4; i++) w.emb[i] = emb[i];
    int want_active = 0;
    double want = sm_batch_triplets_loss(&w, SIAMESE_METRIC_EUCLIDEAN, 2.0, SIAMESE_MINING_ALL, PK,
                                         classes, 0, &want_active);
    float loss;
    int active = 0;
    cr_assert_eq(
        siamese_trainer_step_batch(t, images, classes, PK, SIAMESE_MINING_ALL, &loss, &active),
        SIAMESE_OK, "%s", siamese_trainer_errmsg(t));
    cr_assert_eq(active, want_active);
    cr_assert(fabs(loss - want) <= 1e-5 * fabs(want) + 1e-7, "%g vs %g", (double)loss, want);
    sm_batch_pairs_work_free(&w);
    siamese_trainer_free(t);
    siamese_model_free(m);
}

Test(batch_triplets, trainer_steps_lower_the_loss_and_repeat_bitwise) {
    const siamese_mining rules[] = {SIAMESE_MINING_ALL, SIAMESE_MINING_HARD,
                                    SIAMESE_MINING_SEMIHARD};
    for (int r = 0; r < 3; r++) {
        float params[2][4096];
        float first = 0, last = 0;
        for (int run = 0; run < 2; run++) {
            siamese_model *m;
            siamese_trainer *t = triplet_trainer(&m);
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
        cr_assert(last < 0.5f * first, "%s: loss %g -> %g", siamese_mining_name(rules[r]),
                  (double)first, (double)last);
    }
}

Test(batch_triplets, trainer_refuses_an_unknown_loss) {
    siamese_model_params p =
        tu_model_params("conv(4,k=3) relu maxpool(2) linear(16) relu linear(4)", C, H, W, 5);
    siamese_model *m = tu_create_model(&p);
    siamese_trainer_params tp = siamese_trainer_default_params();
    tp.batch_loss = (siamese_loss)9;
    siamese_trainer *t = NULL;
    cr_assert_eq(siamese_trainer_create(m, &tp, &t), SIAMESE_ERR_INVALID_ARG);
    cr_assert(strstr(siamese_trainer_errmsg(t), "batch loss 9") != NULL, "%s",
              siamese_trainer_errmsg(t));
    siamese_trainer_free(t);
    siamese_model_free(m);
}
