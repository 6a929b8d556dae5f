/* Trainer: loss falls on separable pairs, NaN leaves the model untouched, evaluation agrees with
 * embeddings and distances, argument checks. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "model/model.h"
#include "run/trainer.h"
#include "test_util.h"

#define C 1
#define H 8
#define W 8
#define IMG (C * H * W)

static siamese_model *tiny_model(const char *arch, siamese_metric metric) {
    siamese_model_params p = tu_model_params(arch, C, H, W, 3);
    p.metric = metric;
    return tu_create_model(&p);
}

/* Class 0: a bright top half; class 1: a bright bottom half; both with noise. */
static void draw(float *img, int cls, uint64_t seed) {
    tu_fill_uniform(img, IMG, 0.0f, 0.3f, seed);
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++)
            if ((y < H / 2) == (cls == 0)) img[y * W + x] += 0.7f;
}

/* n pairs, alternating similar (label 0) and dissimilar (label 1). */
static void make_batch(float *a, float *b, float *labels, int n, uint64_t seed) {
    for (int i = 0; i < n; i++) {
        int ca = (int)((seed + (uint64_t)i) % 2), similar = i % 2 == 0;
        draw(a + i * IMG, ca, seed * 1000 + (uint64_t)i * 2);
        draw(b + i * IMG, similar ? ca : 1 - ca, seed * 1000 + (uint64_t)i * 2 + 1);
        labels[i] = similar ? 0.0f : 1.0f;
    }
}

static const char *tiny_arch = "conv(4,k=3) bn relu maxpool(2) linear(16) relu linear(4)";

static void train_and_check(siamese_metric metric, float lr) {
    siamese_model *m = tiny_model(tiny_arch, metric);
    siamese_trainer_params tp = siamese_trainer_default_params();
    tp.learning_rate = lr;
    tp.max_pairs = 16;
    siamese_trainer *t = NULL;
    cr_assert_eq(siamese_trainer_create(m, &tp, &t), SIAMESE_OK);
    enum { n = 16 };
    float a[n * IMG], b[n * IMG], y[n], first = 0, last = 0, loss;
    float ea[n * IMG], eb[n * IMG], ey[n], before, after;
    make_batch(ea, eb, ey, n, 999);
    float dist[n];
    cr_assert_eq(siamese_trainer_evaluate(t, ea, eb, ey, n, &before, dist), SIAMESE_OK);
    for (int step = 0; step < 60; step++) {
        make_batch(a, b, y, n, (uint64_t)step + 1);
        cr_assert_eq(siamese_trainer_step(t, a, b, y, n, &loss), SIAMESE_OK, "%s",
                     siamese_trainer_errmsg(t));
        cr_assert(isfinite(loss));
        if (step < 5) first += loss / 5;
        if (step >= 55) last += loss / 5;
    }
    cr_assert_eq(sm_trainer_adam(t)->step, 60);
    cr_assert_eq(siamese_trainer_evaluate(t, ea, eb, ey, n, &after, dist), SIAMESE_OK);
    cr_assert(last < 0.5f * first, "%s: training loss %g -> %g", siamese_metric_name(metric),
              (double)first, (double)last);
    cr_assert(after < 0.5f * before, "%s: held-out loss %g -> %g", siamese_metric_name(metric),
              (double)before, (double)after);
    /* every similar pair now closer than every dissimilar pair */
    float max_similar = 0, min_dissimilar = 1e30f;
    for (int i = 0; i < n; i++) {
        if (ey[i] == 0) max_similar = fmaxf(max_similar, dist[i]);
        else min_dissimilar = fminf(min_dissimilar, dist[i]);
    }
    cr_assert(max_similar < min_dissimilar, "%s: similar up to %g, dissimilar from %g",
              siamese_metric_name(metric), (double)max_similar, (double)min_dissimilar);
    siamese_trainer_free(t);
    siamese_model_free(m);
}

Test(trainer, loss_decreases_euclidean) { train_and_check(SIAMESE_METRIC_EUCLIDEAN, 1e-2f); }
Test(trainer, loss_decreases_cosine) { train_and_check(SIAMESE_METRIC_COSINE, 1e-2f); }

Test(trainer, non_finite_input_leaves_model_untouched) {
    siamese_model *m = tiny_model(tiny_arch, SIAMESE_METRIC_EUCLIDEAN);
    siamese_trainer *t = NULL;
    cr_assert_eq(siamese_trainer_create(m, NULL, &t), SIAMESE_OK);
    enum { n = 4 };
    float a[n * IMG], b[n * IMG], y[n], loss;
    make_batch(a, b, y, n, 5);
    cr_assert_eq(siamese_trainer_step(t, a, b, y, n, &loss), SIAMESE_OK);
    const sm_param_table *table = sm_net_table(m->net);
    size_t np = table->n_params, nb = table->n_buffers;
    float *params = malloc(np * sizeof(float)), *buffers = malloc(nb * sizeof(float));
    float *mom = malloc(np * sizeof(float));
    cr_assert(params && buffers && mom);
    memcpy(params, sm_net_params(m->net), np * sizeof(float));
    memcpy(buffers, sm_net_buffers(m->net), nb * sizeof(float));
    memcpy(mom, sm_trainer_adam(t)->m, np * sizeof(float));
    int64_t batches = sm_net_counters(m->net)[0];
    cr_assert_eq(batches, 1);

    b[3 * IMG + 7] = NAN;
    cr_assert_eq(siamese_trainer_step(t, a, b, y, n, &loss), SIAMESE_ERR_NUMERIC);
    cr_assert(strstr(siamese_trainer_errmsg(t), "not finite"), "%s", siamese_trainer_errmsg(t));
    b[3 * IMG + 7] = INFINITY;
    cr_assert_eq(siamese_trainer_step(t, a, b, y, n, &loss), SIAMESE_ERR_NUMERIC);
    b[3 * IMG + 7] = 0.5f;
    y[1] = NAN;
    cr_assert_eq(siamese_trainer_step(t, a, b, y, n, &loss), SIAMESE_ERR_NUMERIC);

    cr_assert(memcmp(params, sm_net_params(m->net), np * sizeof(float)) == 0, "params changed");
    cr_assert(memcmp(buffers, sm_net_buffers(m->net), nb * sizeof(float)) == 0,
              "running statistics changed");
    cr_assert(memcmp(mom, sm_trainer_adam(t)->m, np * sizeof(float)) == 0, "Adam state changed");
    cr_assert_eq(sm_net_counters(m->net)[0], batches);
    cr_assert_eq(sm_trainer_adam(t)->step, 1);
    /* and training goes on afterwards */
    y[1] = 1.0f;
    cr_assert_eq(siamese_trainer_step(t, a, b, y, n, &loss), SIAMESE_OK);
    cr_assert_eq(sm_trainer_adam(t)->step, 2);
    free(params);
    free(buffers);
    free(mom);
    siamese_trainer_free(t);
    siamese_model_free(m);
}

Test(trainer, evaluate_matches_embeddings_and_distances) {
    siamese_metric metrics[3] = {SIAMESE_METRIC_EUCLIDEAN, SIAMESE_METRIC_COSINE,
                                 SIAMESE_METRIC_CORRELATION};
    for (int k = 0; k < 3; k++) {
        siamese_model *m = tiny_model(tiny_arch, metrics[k]);
        siamese_trainer_params tp = siamese_trainer_default_params();
        tp.max_pairs = 3; /* evaluate 7 pairs in chunks of 3 */
        siamese_trainer *t = NULL;
        cr_assert_eq(siamese_trainer_create(m, &tp, &t), SIAMESE_OK);
        enum { n = 7 };
        float a[n * IMG], b[n * IMG], y[n], dist[n], loss;
        float ea[n * 4], eb[n * 4];
        make_batch(a, b, y, n, 11);
        cr_assert_eq(siamese_trainer_evaluate(t, a, b, y, n, &loss, dist), SIAMESE_OK, "%s",
                     siamese_trainer_errmsg(t));
        cr_assert_eq(siamese_model_embed(m, a, n, ea), SIAMESE_OK);
        cr_assert_eq(siamese_model_embed(m, b, n, eb), SIAMESE_OK);
        double want = 0;
        for (int i = 0; i < n; i++) {
            double d = siamese_distance(metrics[k], ea + 4 * i, eb + 4 * i, 4);
            cr_assert_float_eq(dist[i], d, 1e-4 * (1 + d), "pair %d: %g vs %g", i, (double)dist[i],
                               d);
            double hinge = fmax(0.0, 2.0 - d);
            want += y[i] ? hinge * hinge : d * d;
        }
        want /= n;
        cr_assert_float_eq(loss, want, 1e-4 * (1 + want));
        siamese_trainer_free(t);
        siamese_model_free(m);
    }
}

Test(trainer, rejects_bad_arguments) {
    siamese_model *m = tiny_model(tiny_arch, SIAMESE_METRIC_EUCLIDEAN);
    siamese_trainer_params tp = siamese_trainer_default_params();
    siamese_trainer *t = NULL;
    tp.max_pairs = 0;
    cr_assert_eq(siamese_trainer_create(m, &tp, &t), SIAMESE_ERR_INVALID_ARG);
    cr_assert_not_null(t);
    cr_assert(strstr(siamese_trainer_errmsg(t), "max_pairs"));
    siamese_trainer_free(t);
    tp = siamese_trainer_default_params();
    tp.learning_rate = -1;
    cr_assert_eq(siamese_trainer_create(m, &tp, &t), SIAMESE_ERR_INVALID_ARG);
    siamese_trainer_free(t);
    cr_assert_eq(siamese_trainer_create(NULL, NULL, &t), SIAMESE_ERR_INVALID_ARG);
    siamese_trainer_free(t);

    tp = siamese_trainer_default_params();
    tp.max_pairs = 2;
    cr_assert_eq(siamese_trainer_create(m, &tp, &t), SIAMESE_OK);
    float a[3 * IMG], b[3 * IMG], y[3], loss;
    make_batch(a, b, y, 3, 1);
    cr_assert_eq(siamese_trainer_step(t, a, b, y, 3, &loss), SIAMESE_ERR_INVALID_ARG);
    cr_assert(strstr(siamese_trainer_errmsg(t), "max_pairs"), "%s", siamese_trainer_errmsg(t));
    cr_assert_eq(siamese_trainer_step(t, a, b, y, 0, &loss), SIAMESE_ERR_INVALID_ARG);
    cr_assert_eq(siamese_trainer_step(t, NULL, b, y, 1, &loss), SIAMESE_ERR_INVALID_ARG);
    cr_assert_eq(siamese_trainer_step(NULL, a, b, y, 1, &loss), SIAMESE_ERR_INVALID_ARG);
    siamese_trainer_free(t);
    siamese_trainer_free(NULL);
    siamese_model_free(m);
}

/* Under the Euclidean metric the loss ignores a constant added to both embeddings, so the biases
 * of the affine tail get an exact zero gradient (as in PyTorch) and Adam leaves them alone. */
Test(trainer, euclidean_leaves_affine_tail_biases_alone) {
    const char *arch = "conv(4,k=3) relu flatten linear(8) linear(3)";
    siamese_metric metrics[2] = {SIAMESE_METRIC_EUCLIDEAN, SIAMESE_METRIC_COSINE};
    for (int k = 0; k < 2; k++) {
        siamese_model *m = tiny_model(arch, metrics[k]);
        siamese_trainer *t = NULL;
        cr_assert_eq(siamese_trainer_create(m, NULL, &t), SIAMESE_OK);
        const sm_param_table *table = sm_net_table(m->net);
        const sm_tensor_info *b1 = &table->t[sm_param_table_find(table, "fc1.bias")];
        const sm_tensor_info *b2 = &table->t[sm_param_table_find(table, "fc2.bias")];
        const sm_tensor_info *c1 = &table->t[sm_param_table_find(table, "cnn1.bias")];
        float keep1[8], keep2[3], keepc[4];
        const float *params = sm_net_params(m->net);
        memcpy(keep1, params + b1->offset, sizeof keep1);
        memcpy(keep2, params + b2->offset, sizeof keep2);
        memcpy(keepc, params + c1->offset, sizeof keepc);
        enum { n = 6 };
        float a[n * IMG], b[n * IMG], y[n], loss;
        for (int step = 0; step < 3; step++) {
            make_batch(a, b, y, n, (uint64_t)step + 40);
            cr_assert_eq(siamese_trainer_step(t, a, b, y, n, &loss), SIAMESE_OK);
        }
        int tail_same = memcmp(keep1, params + b1->offset, sizeof keep1) == 0 &&
                        memcmp(keep2, params + b2->offset, sizeof keep2) == 0;
        cr_assert_eq(tail_same, k == 0, "%s: tail biases %s", siamese_metric_name(metrics[k]),
                     tail_same ? "unchanged" : "moved");
        cr_assert(memcmp(keepc, params + c1->offset, sizeof keepc) != 0, "conv bias must train");
        siamese_trainer_free(t);
        siamese_model_free(m);
    }
}
