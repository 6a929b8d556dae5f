/* Fine-tuning heads (issue 13): --embedding-dim replaces the last linear layer's outputs (bad
 * dimensions and architectures without a linear head fail clearly) and survives a save and load;
 * --lr-backbone steps every parameter but the head's with its own Adam learning rate; weight decay
 * leaves frozen layers alone. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/recipe.h"
#include "model/model.h"
#include "nn/adam.h"
#include "run/trainer.h"
#include "test_util.h"

TestSuite(finetune_head, .init = tu_temp_init, .fini = tu_temp_fini);

Test(finetune_head, embedding_dim_replaces_the_resnet_fc) {
    siamese_model_params p = tu_model_params("resnet18", 3, 32, 32, 1);
    p.embedding_dim = 40;
    siamese_model *model = tu_create_model(&p);
    cr_assert_eq(siamese_model_embedding_dim(model), 40);
    const sm_param_table *t = sm_net_table(model->net);
    int w = sm_param_table_find(t, "fc.weight"), b = sm_param_table_find(t, "fc.bias");
    cr_assert(w >= 0 && b >= 0, "the head keeps torchvision's name fc");
    cr_assert_eq(t->t[w].dims[0], 40);
    cr_assert_eq(t->t[w].dims[1], 512);
    cr_assert_eq(t->t[b].dims[0], 40);
    cr_assert(strstr(siamese_model_arch(model), "linear(40,name=fc)"), "%s",
              siamese_model_arch(model));
    /* a saved model loads with its new head */
    const char *path = tu_path(tu_temp, "rn.safetensors");
    cr_assert_eq(siamese_model_save(model, path), SIAMESE_OK, "%s", siamese_model_errmsg(model));
    siamese_model *back = NULL;
    cr_assert_eq(siamese_model_load(path, &back), SIAMESE_OK, "%s", siamese_model_errmsg(back));
    cr_assert_eq(siamese_model_embedding_dim(back), 40);
    siamese_model_free(back);
    siamese_model_free(model);
}

Test(finetune_head, bad_embedding_dims_and_headless_architectures_fail) {
    const int bad[] = {-1, SM_MAX_EMBEDDING_DIM + 1};
    for (int i = 0; i < 2; i++) {
        siamese_model_params p = tu_model_params("mnist", 0, 0, 0, 1);
        p.embedding_dim = bad[i];
        siamese_model *model = NULL;
        cr_assert_eq(siamese_model_create(&p, &model), SIAMESE_ERR_INVALID_ARG, "dim %d", bad[i]);
        cr_assert(strstr(siamese_model_errmsg(model), "embedding dimension"), "%s",
                  siamese_model_errmsg(model));
        siamese_model_free(model);
    }
    siamese_model_params p = tu_model_params("conv(8,k=3) relu avgpool", 1, 16, 16, 1);
    p.embedding_dim = 8;
    siamese_model *model = NULL;
    cr_assert_eq(siamese_model_create(&p, &model), SIAMESE_ERR_SPEC);
    cr_assert(strstr(siamese_model_errmsg(model), "ends in 'avgpool', not in a linear head"), "%s",
              siamese_model_errmsg(model));
    siamese_model_free(model);
}

/* One Adam step moves a parameter by about its group's learning rate (m / sqrt(v) = sign(g)
 * at the first step): the backbone by lr_backbone, the head by lr. */
Test(finetune_head, backbone_learning_rate_applies_to_all_but_the_head) {
    siamese_model_params p = tu_model_params("conv(4,k=3) bn relu flatten linear(6)", 1, 8, 8, 2);
    siamese_model *model = tu_create_model(&p);
    siamese_trainer_params tp = siamese_trainer_default_params();
    tp.learning_rate = 1e-2f;
    tp.learning_rate_backbone = 1e-5f;
    tp.max_pairs = 4;
    siamese_trainer *trainer = NULL;
    cr_assert_eq(siamese_trainer_create(model, &tp, &trainer), SIAMESE_OK);
    const sm_param_table *t = sm_net_table(model->net);
    size_t n = t->n_params, head = t->t[sm_param_table_find(t, "fc1.weight")].offset;
    float *before = malloc(n * sizeof *before), a[4 * 64], b[4 * 64], y[4] = {0, 1, 0, 1};
    memcpy(before, sm_net_params(model->net), n * sizeof *before);
    tu_fill_uniform(a, 4 * 64, 0, 1, 3);
    tu_fill_uniform(b, 4 * 64, 0, 1, 4);
    float loss;
    cr_assert_eq(siamese_trainer_step(trainer, a, b, y, 4, &loss), SIAMESE_OK);
    const float *after = sm_net_params(model->net);
    double backbone_max = 0, head_max = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)after[i] - before[i]);
        if (i < head) backbone_max = fmax(backbone_max, d);
        else head_max = fmax(head_max, d);
    }
    cr_assert(backbone_max > 0 && backbone_max < 1.01e-5, "backbone moved %g", backbone_max);
    cr_assert(head_max > 0.5e-2 && head_max < 1.01e-2, "head moved %g", head_max);
    tp.learning_rate_backbone = -1;
    siamese_trainer *bad = NULL;
    cr_assert_eq(siamese_trainer_create(model, &tp, &bad), SIAMESE_ERR_INVALID_ARG);
    siamese_trainer_free(bad);
    siamese_trainer_free(trainer);
    siamese_model_free(model);
    free(before);
}

/* A frozen layer keeps its values and Adam moments bit for bit, weight decay included (PyTorch's
 * Adam skips a parameter without a gradient); the layers after it move. */
Test(finetune_head, weight_decay_leaves_frozen_layers_as_they_are) {
    siamese_model_params p =
        tu_model_params("conv(4,k=3,name=c1) bn relu flatten linear(6,name=fc)", 1, 8, 8, 2);
    siamese_model *model = tu_create_model(&p);
    cr_assert_gt(siamese_model_freeze(model, "c1", 1), 0, "%s", siamese_model_errmsg(model));
    siamese_trainer_params tp = siamese_trainer_default_params();
    tp.learning_rate = 1e-2f;
    tp.weight_decay = 0.5f;
    tp.max_pairs = 4;
    siamese_trainer *trainer = NULL;
    cr_assert_eq(siamese_trainer_create(model, &tp, &trainer), SIAMESE_OK);
    const sm_param_table *t = sm_net_table(model->net);
    const sm_tensor_info *c1 = &t->t[sm_param_table_find(t, "c1.weight")];
    const sm_tensor_info *fc = &t->t[sm_param_table_find(t, "fc.weight")];
    float c1_before[36], fc_before[6], a[4 * 64], b[4 * 64], y[4] = {0, 1, 0, 1}, loss;
    cr_assert_eq(c1->count, 36);
    memcpy(c1_before, sm_net_params(model->net) + c1->offset, sizeof c1_before);
    memcpy(fc_before, sm_net_params(model->net) + fc->offset, sizeof fc_before);
    for (int step = 0; step < 3; step++) {
        tu_fill_uniform(a, 4 * 64, 0, 1, 3 + (uint64_t)step);
        tu_fill_uniform(b, 4 * 64, 0, 1, 9 + (uint64_t)step);
        cr_assert_eq(siamese_trainer_step(trainer, a, b, y, 4, &loss), SIAMESE_OK, "%s",
                     siamese_trainer_errmsg(trainer));
    }
    const sm_adam *adam = sm_trainer_adam(trainer);
    cr_assert_eq(memcmp(c1_before, sm_net_params(model->net) + c1->offset, sizeof c1_before), 0,
                 "weight decay moved the frozen layer");
    for (size_t i = 0; i < c1->count; i++)
        cr_assert(adam->m[c1->offset + i] == 0 && adam->v[c1->offset + i] == 0);
    cr_assert_neq(memcmp(fc_before, sm_net_params(model->net) + fc->offset, sizeof fc_before), 0,
                  "the trainable head did not move");
    siamese_trainer_free(trainer);
    siamese_model_free(model);
}

/* Two groups with equal rates are exactly one group. */
Test(finetune_head, equal_rates_are_one_group_bit_for_bit) {
    float p1[10], p2[10], g[10];
    tu_fill_uniform(p1, 10, -1, 1, 5);
    tu_fill_uniform(g, 10, -1, 1, 6);
    memcpy(p2, p1, sizeof p1);
    sm_adam one, two;
    cr_assert_eq(sm_adam_init(&one, 10, 3e-3f, 0.9f, 0.999f, 1e-8f, 0.01f), 0);
    cr_assert_eq(sm_adam_init(&two, 10, 3e-3f, 0.9f, 0.999f, 1e-8f, 0.01f), 0);
    two.n_backbone = 7;
    two.backbone_lr = 3e-3f;
    for (int s = 0; s < 3; s++) {
        sm_adam_step(&one, p1, g);
        sm_adam_step(&two, p2, g);
    }
    cr_assert_eq(memcmp(p1, p2, sizeof p1), 0);
    sm_adam_free(&one);
    sm_adam_free(&two);
}

/* --normalize imagenet: a frozen first layer "input" computes (x - mean) / std, so a torchvision
 * backbone loaded into it sees what it expects: its embedding of x equals the plain network's
 * embedding of the normalised x; the layer survives save and load, frozen, and training leaves
 * it as it is. */
Test(finetune_head, imagenet_normalisation_is_the_first_layer) {
    enum { S = 32, N = 3 * S * S };
    const float mean[3] = {0.485f, 0.456f, 0.406f}, std[3] = {0.229f, 0.224f, 0.225f};
    siamese_model_params p = tu_model_params("resnet18", 3, S, S, 4);
    siamese_model *plain = tu_create_model(&p);
    const char *path = tu_path(tu_temp, "plain.safetensors");
    cr_assert_eq(siamese_model_save(plain, path), SIAMESE_OK);
    p.normalize = "imagenet";
    siamese_model *norm = tu_create_model(&p);
    cr_assert(!strncmp(siamese_model_arch(norm), "scale(name=input) conv(64", 25), "%s",
              siamese_model_arch(norm));
    char left[256];
    cr_assert_eq(siamese_model_init_from(norm, path, left, sizeof left), SIAMESE_OK, "%s",
                 siamese_model_errmsg(norm));
    cr_assert_str_eq(left, "", "a torchvision-like file leaves nothing but the head");
    float x[N], xn[N], e1[128], e2[128];
    tu_fill_uniform(x, N, 0, 1, 7);
    for (int i = 0; i < N; i++) xn[i] = (x[i] - mean[i / (S * S)]) / std[i / (S * S)];
    cr_assert_eq(siamese_model_embed(plain, xn, 1, e1), SIAMESE_OK);
    cr_assert_eq(siamese_model_embed(norm, x, 1, e2), SIAMESE_OK);
    double err = tu_max_rel_err_f(e2, e1, 128);
    cr_assert(err < 1e-5, "normalised embedding differs by %g", err);
    /* saved and loaded: still first, still frozen */
    const char *npath = tu_path(tu_temp, "norm.safetensors");
    cr_assert_eq(siamese_model_save(norm, npath), SIAMESE_OK);
    siamese_model *back = NULL;
    cr_assert_eq(siamese_model_load(npath, &back), SIAMESE_OK, "%s", siamese_model_errmsg(back));
    cr_assert(sm_net_layer_frozen(back->net, 0));
    cr_assert_eq(siamese_model_embed(back, x, 1, e1), SIAMESE_OK);
    cr_assert(tu_max_rel_err_f(e1, e2, 128) < 1e-6);
    /* a training step leaves it */
    const sm_param_table *t = sm_net_table(back->net);
    const sm_tensor_info *w = &t->t[sm_param_table_find(t, "input.weight")];
    float before[3];
    memcpy(before, sm_net_params(back->net) + w->offset, sizeof before);
    cr_assert_float_eq(before[0], 1.0f / std[0], 1e-6f);
    siamese_trainer_params tp = siamese_trainer_default_params();
    tp.max_pairs = 2;
    siamese_trainer *trainer = NULL;
    cr_assert_eq(siamese_trainer_create(back, &tp, &trainer), SIAMESE_OK);
    float b[2 * N], y[2] = {0, 1}, loss;
    tu_fill_uniform(b, 2 * N, 0, 1, 8);
    float a2[2 * N];
    memcpy(a2, x, sizeof x);
    memcpy(a2 + N, x, sizeof x);
    cr_assert_eq(siamese_trainer_step(trainer, a2, b, y, 2, &loss), SIAMESE_OK);
    cr_assert_eq(memcmp(before, sm_net_params(back->net) + w->offset, sizeof before), 0);
    siamese_trainer_free(trainer);
    siamese_model_free(back);
    siamese_model_free(norm);
    siamese_model_free(plain);
}

Test(finetune_head, bad_normalisations_fail) {
    siamese_model_params p = tu_model_params("mnist", 0, 0, 0, 1);
    p.normalize = "cifar";
    siamese_model *model = NULL;
    cr_assert_eq(siamese_model_create(&p, &model), SIAMESE_ERR_INVALID_ARG);
    cr_assert(strstr(siamese_model_errmsg(model), "unknown input normalisation 'cifar'"));
    siamese_model_free(model);
    p = tu_model_params("mnist", 0, 0, 0, 1); /* the preset's grey input */
    p.normalize = "imagenet";
    cr_assert_eq(siamese_model_create(&p, &model), SIAMESE_ERR_INVALID_ARG);
    cr_assert(strstr(siamese_model_errmsg(model), "RGB input, not 1 channel"), "%s",
              siamese_model_errmsg(model));
    siamese_model_free(model);
}
