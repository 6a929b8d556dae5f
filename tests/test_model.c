/* Model handles: creation from presets and text, seeded initialization, getters, embedding. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "model/model.h"
#include "test_util.h"

static siamese_model *create(const char *arch, int c, int h, int w, uint64_t seed) {
    siamese_model_params p = tu_model_params(arch, c, h, w, seed);
    return tu_create_model(&p);
}

Test(model, default_params_are_the_recipe) {
    siamese_model_params p = siamese_model_default_params();
    cr_assert_str_eq(p.arch, "seed");
    cr_assert_eq(p.margin, 2.0f);
    cr_assert_eq(p.metric, SIAMESE_METRIC_EUCLIDEAN);
    cr_assert_eq(p.seed, 0);
    cr_assert_eq(p.threads, 0);
    cr_assert_eq(p.channels + p.height + p.width, 0);
}

Test(model, mnist_preset_getters) {
    siamese_model *m = create("mnist", 0, 0, 0, 1);
    cr_assert_eq(siamese_model_channels(m), 1);
    cr_assert_eq(siamese_model_height(m), 28);
    cr_assert_eq(siamese_model_width(m), 28);
    cr_assert_eq(siamese_model_embedding_dim(m), 64);
    cr_assert_eq(siamese_model_param_count(m), 213984);
    cr_assert_eq(siamese_model_margin(m), 2.0f);
    cr_assert_eq(siamese_model_metric(m), SIAMESE_METRIC_EUCLIDEAN);
    cr_assert_str_eq(siamese_model_arch(m),
                     "conv(16,k=3,p=1) batchnorm relu maxpool(2) conv(32,k=3,p=1) batchnorm relu "
                     "maxpool(2) flatten linear(128) relu linear(64)");
    cr_assert(siamese_model_threshold(m) < 0);
    siamese_model_set_threshold(m, 0.75f);
    cr_assert_eq(siamese_model_threshold(m), 0.75f);
    siamese_model_set_threshold(m, NAN);
    cr_assert(siamese_model_threshold(m) < 0);
    cr_assert_str_eq(siamese_model_errmsg(m), "");
    siamese_model_free(m);
    siamese_model_free(NULL);
}

Test(model, text_architecture_and_geometry_override) {
    siamese_model *m = create("conv(3,k=3) relu linear(5)", 2, 9, 7, 0);
    cr_assert_eq(siamese_model_channels(m), 2);
    cr_assert_eq(siamese_model_height(m), 9);
    cr_assert_eq(siamese_model_width(m), 7);
    cr_assert_eq(siamese_model_embedding_dim(m), 5);
    cr_assert_eq(siamese_model_param_count(m), 3 * 2 * 9 + 3 + 5 * 3 * 7 * 5 + 5);
    cr_assert_str_eq(siamese_model_arch(m), "conv(3,k=3) relu flatten linear(5)");
    siamese_model_free(m);
    /* text without geometry: the recipe's 3x256x256; a preset with a partial override */
    m = create("maxpool(64) linear(2)", 0, 0, 0, 0);
    cr_assert_eq(siamese_model_channels(m), 3);
    cr_assert_eq(siamese_model_height(m), 256);
    siamese_model_free(m);
    m = create("omniglot", 0, 0, 96, 0);
    cr_assert_eq(siamese_model_height(m), 52);
    cr_assert_eq(siamese_model_width(m), 96);
    siamese_model_free(m);
}

Test(model, errors_come_back_in_a_handle) {
    siamese_model_params p = siamese_model_default_params();
    siamese_model *m = NULL;
    p.arch = "conv(3,k=3) relu lineer(5)";
    cr_assert_eq(siamese_model_create(&p, &m), SIAMESE_ERR_SPEC);
    cr_assert_not_null(m);
    cr_assert(strstr(siamese_model_errmsg(m), "'lineer'"), "%s", siamese_model_errmsg(m));
    cr_assert_eq(siamese_model_embedding_dim(m), 0);
    float x = 0, y = 0;
    cr_assert_eq(siamese_model_embed(m, &x, 1, &y), SIAMESE_ERR_INVALID_ARG);
    siamese_model_free(m);
    p.arch = "mnist";
    p.height = 1;
    cr_assert_eq(siamese_model_create(&p, &m), SIAMESE_ERR_SHAPE);
    cr_assert(strstr(siamese_model_errmsg(m), "layer"), "%s", siamese_model_errmsg(m));
    siamese_model_free(m);
    p = siamese_model_default_params();
    p.margin = 0;
    cr_assert_eq(siamese_model_create(&p, &m), SIAMESE_ERR_INVALID_ARG);
    cr_assert(strstr(siamese_model_errmsg(m), "margin"));
    siamese_model_free(m);
    p = siamese_model_default_params();
    p.metric = (siamese_metric)7;
    cr_assert_eq(siamese_model_create(&p, &m), SIAMESE_ERR_INVALID_ARG);
    siamese_model_free(m);
    cr_assert_eq(siamese_model_create(&p, NULL), SIAMESE_ERR_INVALID_ARG);
    p = siamese_model_default_params();
    p.threads = SIAMESE_THREADS_MAX + 1; /* more than OpenMP can start: refused, named */
    cr_assert_eq(siamese_model_create(&p, &m), SIAMESE_ERR_INVALID_ARG);
    cr_assert(strstr(siamese_model_errmsg(m), "threads 1025 must be in 0..1024"), "%s",
              siamese_model_errmsg(m));
    siamese_model_free(m);
}

/* A thread count set on a model beyond the limit is taken as the limit, and the model embeds. */
Test(model, threads_beyond_the_limit_are_the_limit) {
    siamese_model_params p = siamese_model_default_params();
    p.arch = "conv(4,k=3) relu linear(3)";
    p.height = p.width = 8;
    p.channels = 1;
    siamese_model *m = NULL;
    cr_assert_eq(siamese_model_create(&p, &m), SIAMESE_OK);
    siamese_model_set_threads(m, 1 << 20);
    float x[64] = {0}, y[3];
    cr_assert_eq(siamese_model_embed(m, x, 1, y), SIAMESE_OK, "%s", siamese_model_errmsg(m));
    siamese_model_free(m);
}

static const char *small_arch = "conv(4,k=3) bn relu maxpool(2) linear(6)";

Test(model, same_seed_same_model) {
    siamese_model *a = create(small_arch, 1, 10, 10, 42), *b = create(small_arch, 1, 10, 10, 42);
    siamese_model *c = create(small_arch, 1, 10, 10, 43);
    size_t n = siamese_model_param_count(a);
    cr_assert(memcmp(sm_net_params(a->net), sm_net_params(b->net), n * sizeof(float)) == 0);
    cr_assert(memcmp(sm_net_params(a->net), sm_net_params(c->net), n * sizeof(float)) != 0);
    float img[3 * 100], ea[3 * 6], eb[3 * 6];
    tu_fill_uniform(img, 300, 0, 1, 5);
    cr_assert_eq(siamese_model_embed(a, img, 3, ea), SIAMESE_OK);
    cr_assert_eq(siamese_model_embed(b, img, 3, eb), SIAMESE_OK);
    cr_assert(memcmp(ea, eb, sizeof ea) == 0);
    siamese_model_free(a);
    siamese_model_free(b);
    siamese_model_free(c);
}

Test(model, embed_in_chunks_matches_single_images) {
    siamese_model *m = create("mnist", 0, 0, 0, 9);
    enum { n = 300 }; /* more than one chunk of 256 */
    float *img = malloc(sizeof(float) * n * 784), *all = malloc(sizeof(float) * n * 64);
    cr_assert(img && all);
    tu_fill_uniform(img, (size_t)n * 784, 0, 1, 8);
    cr_assert_eq(siamese_model_embed(m, img, n, all), SIAMESE_OK, "%s", siamese_model_errmsg(m));
    int picks[4] = {0, 1, 255, 299};
    for (int k = 0; k < 4; k++) {
        float one[64];
        cr_assert_eq(siamese_model_embed(m, img + (size_t)picks[k] * 784, 1, one), SIAMESE_OK);
        double rel = tu_max_rel_err_f(all + (size_t)picks[k] * 64, one, 64);
        cr_assert(rel < 1e-5, "image %d: rel err %g", picks[k], rel);
    }
    cr_assert_eq(siamese_model_embed(m, img, 0, all), SIAMESE_OK);
    cr_assert_eq(siamese_model_embed(m, NULL, 1, all), SIAMESE_ERR_INVALID_ARG);
    free(img);
    free(all);
    siamese_model_free(m);
}
