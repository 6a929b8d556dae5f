/* The network keeps its convolutions' weights in the kernels' layouts and re-lays them only when
 * the parameters change: every change made through the public API must show in the next
 * embedding. After training steps (all layers, frozen layers, frozen layers with weight decay) a model embeds exactly as the same weights saved and loaded into a fresh model. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "siamese.h"
#include "test_util.h"

TestSuite(param_changes, .init = tu_temp_init, .fini = tu_temp_fini);

#define C 3
#define SIDE 12
#define IMG (C * SIDE * SIDE)
#define N 4
#define DIM 8

/* 16 and 32 channels: oneDNN lays these weights out in blocks, so the kernels read copies. */
static const char *arch = "conv(16,k=3,p=1,name=c1) relu conv(32,k=3,p=1,name=c2) bn relu "
                          "maxpool(2) conv(32,k=3,p=1,name=c3) relu avgpool linear(8,name=fc)";

static void embed(siamese_model *m, const float *x, float *out) {
    cr_assert_eq(siamese_model_embed(m, x, N, out), SIAMESE_OK, "%s", siamese_model_errmsg(m));
}

/* The embeddings of the same weights saved and loaded into a new model. */
static void embed_reloaded(siamese_model *m, const float *x, float *out) {
    char path[4200];
    snprintf(path, sizeof path, "%s/m.safetensors", tu_temp);
    cr_assert_eq(siamese_model_save(m, path), SIAMESE_OK, "%s", siamese_model_errmsg(m));
    siamese_model *back = NULL;
    cr_assert_eq(siamese_model_load(path, &back), SIAMESE_OK, "%s", siamese_model_errmsg(back));
    embed(back, x, out);
    siamese_model_free(back);
}

/* Embeds, trains steps steps, embeds again: the second embedding differs from the first and
 * equals the reloaded model's bit for bit. */
static void check_training_shows(const char *freeze, float weight_decay) {
    siamese_model_params p = tu_model_params(arch, C, SIDE, SIDE, 5);
    siamese_model *m = tu_create_model(&p);
    if (freeze) cr_assert_gt(siamese_model_freeze(m, freeze, 1), 0, "%s", siamese_model_errmsg(m));
    siamese_trainer_params tp = siamese_trainer_default_params();
    tp.max_pairs = N;
    tp.learning_rate = 0.01f;
    tp.weight_decay = weight_decay;
    siamese_trainer *t = NULL;
    cr_assert_eq(siamese_trainer_create(m, &tp, &t), SIAMESE_OK);
    float x[N * IMG], a[N * IMG], b[N * IMG], y[N], loss;
    float before[N * DIM], after[N * DIM], reloaded[N * DIM];
    tu_fill_uniform(x, N * IMG, 0.0f, 1.0f, 1);
    embed(m, x, before);
    for (int step = 0; step < 2; step++) {
        tu_fill_uniform(a, N * IMG, 0.0f, 1.0f, 10 + (uint64_t)step);
        tu_fill_uniform(b, N * IMG, 0.0f, 1.0f, 20 + (uint64_t)step);
        for (int i = 0; i < N; i++) y[i] = (float)(i % 2);
        cr_assert_eq(siamese_trainer_step(t, a, b, y, N, &loss), SIAMESE_OK, "%s",
                     siamese_trainer_errmsg(t));
        embed(m, x, after); /* between the steps too: the inference plan stays built */
    }
    embed_reloaded(m, x, reloaded);
    cr_assert_neq(memcmp(before, after, sizeof after), 0, "training changed nothing");
    cr_assert_eq(memcmp(after, reloaded, sizeof after), 0,
                 "the trained model embeds unlike its own weights loaded afresh");
    siamese_trainer_free(t);
    siamese_model_free(m);
}

Test(param_changes, training_steps_show_in_the_next_embedding) { check_training_shows(NULL, 0); }

Test(param_changes, fine_tuning_with_frozen_layers_shows) { check_training_shows("c1", 0); }

Test(param_changes, weight_decay_with_frozen_layers_shows) { check_training_shows("c2", 0.1f); }

/* A model loaded over another's file embeds as that file's weights, and the first model, used
 * before, is not disturbed by it. */
Test(param_changes, loaded_models_embed_their_own_weights) {
    siamese_model_params p = tu_model_params(arch, C, SIDE, SIDE, 5);
    siamese_model *a = tu_create_model(&p);
    p.seed = 6;
    siamese_model *b = tu_create_model(&p);
    float x[N * IMG], ea[N * DIM], eb[N * DIM], again[N * DIM];
    tu_fill_uniform(x, N * IMG, 0.0f, 1.0f, 2);
    embed(a, x, ea);
    embed(b, x, eb);
    cr_assert_neq(memcmp(ea, eb, sizeof eb), 0);
    embed_reloaded(b, x, again);
    cr_assert_eq(memcmp(eb, again, sizeof eb), 0);
    embed(a, x, again);
    cr_assert_eq(memcmp(ea, again, sizeof eb), 0);
    siamese_model_free(a);
    siamese_model_free(b);
}
