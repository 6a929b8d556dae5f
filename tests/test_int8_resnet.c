/* int8 inference of residual networks: the fp32 engine (identity, projection and padded adds, an
 * input scale folded into the first conv, global average pooling) against the model's forward;
 * int8 within 2% (relative L2) of fp32 on a small residual network and on resnet18 and resnet50
 * (64x64, random init, calibrated on formula images); layers the engine cannot run are named. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/model.h"
#include "nn/qnet.h"
#include "nn/quant.h"
#include "siamese.h"
#include "test_util.h"

/* Every residual form the engine runs: an input scale before an unpadded conv, an identity
 * block, a projection block (stride 2, 1x1 conv + batchnorm on the skip) and a padded block like
 * face-api's down blocks (main 2x2 zero-padded to the skip's 3x3). */
#define MIXED                                                                                      \
    "scale(name=input) conv(8,k=3,p=0) bn relu maxpool(2) "                                        \
    "block conv(8,k=3,p=1) bn relu conv(8,k=3,p=1) bn add relu "                                   \
    "block conv(16,k=3,s=2,p=1) bn relu conv(16,k=3,p=1) bn skip conv(16,k=1,s=2,bias=0) bn "      \
    "add relu "                                                                                    \
    "block conv(16,k=3,s=2,p=0) relu conv(16,k=3,p=1) skip conv(16,k=2,s=2,bias=0) add(pad=1) "    \
    "relu avgpool linear(8)"
#define SIDE 24
#define IMG (3 * SIDE * SIDE)
#define DIM 8

/* Batchnorm statistics and scale layers made non-trivial, so that folding them matters. */
static void perturb(siamese_model *m) {
    const sm_param_table *t = sm_net_table(m->net);
    float *buf = sm_net_buffers(m->net), *par = sm_net_params_write(m->net);
    for (int i = 0; i < t->n; i++) {
        const sm_tensor_info *e = &t->t[i];
        const sm_layer *l = &m->arch.layers[e->layer];
        if (e->slot == SM_SLOT_RUNNING_MEAN)
            tu_fill_uniform(buf + e->offset, e->count, -0.2f, 0.2f, 21 + (uint64_t)i);
        if (e->slot == SM_SLOT_RUNNING_VAR)
            tu_fill_uniform(buf + e->offset, e->count, 0.3f, 2.0f, 31 + (uint64_t)i);
        if (l->kind != SM_LAYER_CONV2D && l->kind != SM_LAYER_LINEAR && e->slot == SM_SLOT_WEIGHT)
            tu_fill_uniform(par + e->offset, e->count, 0.5f, 1.5f, 41 + (uint64_t)i);
        if (e->slot == SM_SLOT_BIAS)
            tu_fill_uniform(par + e->offset, e->count, -0.1f, 0.1f, 51 + (uint64_t)i);
    }
}

static siamese_model *mixed_model(void) {
    siamese_model_params p = tu_model_params(MIXED, 3, SIDE, SIDE, 7);
    siamese_model *m = tu_create_model(&p);
    perturb(m);
    return m;
}

static sm_qnet *engine(siamese_model *m, const sm_quant *q) {
    sm_qnet *e = NULL;
    sm_err err;
    sm_err_clear(&err);
    cr_assert_eq(sm_qnet_create(&m->arch, sm_net_table(m->net), sm_net_params(m->net),
                                sm_net_buffers(m->net), q, &e, &err),
                 SIAMESE_OK, "%s", err.msg);
    return e;
}

/* e's forward of n images x into out, which must succeed. */
static void run_ok(sm_qnet *e, const float *x, int n, float *out) {
    sm_err err;
    sm_err_clear(&err);
    cr_assert_eq(sm_qnet_forward(e, x, n, out, &err), SIAMESE_OK, "%s", err.msg);
}

/* The calibration of m over n images x (batches of 16). */
static sm_quant *calibrate(siamese_model *m, const float *x, int n, size_t img, int dim) {
    sm_qnet *f32 = engine(m, NULL);
    sm_quant *q = sm_quant_create(&m->arch);
    cr_assert_not_null(q);
    float *emb = malloc((size_t)16 * (size_t)dim * sizeof(float));
    for (int b = 0; b < n; b += 16) {
        run_ok(f32, x + (size_t)b * img, 16, emb);
        sm_qnet_observe(f32, q);
    }
    cr_assert_eq(q->images, n);
    for (int i = 0; i < q->n; i++)
        cr_assert_leq(q->l[i].in_lo, q->l[i].in_hi, "layer %d saw no values", q->l[i].layer + 1);
    free(emb);
    sm_qnet_free(f32);
    return q;
}

Test(int8_resnet, fp32_engine_matches_the_model) {
    siamese_model *m = mixed_model();
    float x[16 * IMG], want[16 * DIM], got[16 * DIM];
    tu_fill_uniform(x, 16 * IMG, 0.0f, 1.0f, 5);
    cr_assert_eq(siamese_model_embed(m, x, 16, want), SIAMESE_OK);
    sm_qnet *f32 = engine(m, NULL);
    run_ok(f32, x, 16, got);
    double e = tu_max_rel_err_f(got, want, 16 * DIM);
    cr_assert_lt(e, 1e-4, "fp32 engine vs model: max relative error %g", e);
    /* twice: the in-place residual sums leave nothing behind between forwards */
    run_ok(f32, x, 16, got);
    cr_assert_lt(tu_max_rel_err_f(got, want, 16 * DIM), 1e-4);
    sm_qnet_free(f32);
    siamese_model_free(m);
}

/* A padded add without a projection: the block's input itself is the skip, the main branch
 * (unpadded 3x3) two pixels smaller. */
#define PADDED_IDENTITY                                                                            \
    "conv(8,k=3,p=1) relu block conv(8,k=3,p=0) bn relu conv(8,k=1) add(pad=1) relu avgpool "      \
    "linear(8)"

Test(int8_resnet, padded_identity_add_in_fp32_and_int8) {
    siamese_model_params p = tu_model_params(PADDED_IDENTITY, 3, SIDE, SIDE, 11);
    siamese_model *m = tu_create_model(&p);
    perturb(m);
    float *x = malloc(48 * IMG * sizeof(float)), want[16 * DIM], got[16 * DIM];
    tu_fill_uniform(x, 48 * IMG, 0.0f, 1.0f, 12);
    cr_assert_eq(siamese_model_embed(m, x, 16, want), SIAMESE_OK);
    sm_qnet *f32 = engine(m, NULL);
    run_ok(f32, x, 16, got);
    cr_assert_lt(tu_max_rel_err_f(got, want, 16 * DIM), 1e-4);
    sm_quant *q = calibrate(m, x + 16 * IMG, 32, IMG, DIM);
    sm_qnet *i8 = engine(m, q);
    run_ok(i8, x, 16, got);
    double e = tu_rel_l2_f(got, want, 16 * DIM);
    cr_assert_lt(e, 0.02, "int8 vs fp32: relative L2 error %g", e);
    cr_assert_gt(e, 0.0);
    sm_qnet_free(i8);
    sm_qnet_free(f32);
    sm_quant_free(q);
    free(x);
    siamese_model_free(m);
}

Test(int8_resnet, calibration_reads_the_tensors_each_layer_reads) {
    siamese_model *m = mixed_model();
    float *x = malloc(32 * IMG * sizeof(float));
    tu_fill_uniform(x, 32 * IMG, 0.0f, 1.0f, 9);
    sm_quant *q = calibrate(m, x, 32, IMG, DIM);
    /* the first conv reads the images themselves (the input scale is folded into it) */
    cr_assert_eq(q->l[0].layer, 1);
    cr_assert_geq(q->l[0].in_lo, 0.0f);
    cr_assert_leq(q->l[0].in_hi, 1.0f);
    cr_assert_gt(q->l[0].in_hi, 0.95f);
    /* a projection conv reads its block's input: the same range as the block's first conv */
    for (int i = 0; i < q->n; i++) {
        int layer = q->l[i].layer;
        if (m->arch.layers[layer - 1].kind != SM_LAYER_SKIP) continue;
        int first = layer - 1;
        while (m->arch.layers[first].kind != SM_LAYER_BLOCK) first--;
        sm_quant_layer *main = sm_quant_find(q, first + 1);
        cr_assert_eq(q->l[i].in_lo, main->in_lo, "layer %d", layer + 1);
        cr_assert_eq(q->l[i].in_hi, main->in_hi, "layer %d", layer + 1);
    }
    /* the head reads the average pool's input range (relu'd: u8), wider than the pool's output */
    sm_quant_layer *head = &q->l[q->n - 1];
    cr_assert_eq(m->arch.layers[head->layer].kind, SM_LAYER_LINEAR);
    cr_assert_eq(head->in_lo, 0.0f, "the last block's relu output has zeros");
    sm_quant_free(q);
    free(x);
    siamese_model_free(m);
}

Test(int8_resnet, int8_within_2_percent_of_fp32) {
    siamese_model *m = mixed_model();
    float *x = malloc(64 * IMG * sizeof(float));
    tu_fill_uniform(x, 64 * IMG, 0.0f, 1.0f, 9);
    sm_quant *q = calibrate(m, x, 64, IMG, DIM);
    float want[16 * DIM], got[16 * DIM], one[DIM];
    tu_fill_uniform(x, 16 * IMG, 0.0f, 1.0f, 10); /* images the calibration did not see */
    cr_assert_eq(siamese_model_embed(m, x, 16, want), SIAMESE_OK);
    sm_qnet *i8 = engine(m, q);
    run_ok(i8, x, 16, got);
    double e = tu_rel_l2_f(got, want, 16 * DIM);
    cr_log_info("[int8_resnet] mixed residual network: int8 vs fp32 relative L2 %.4f", e);
    cr_assert_lt(e, 0.02, "int8 vs fp32: relative L2 error %g", e);
    cr_assert_gt(e, 0.0, "int8 gave exactly fp32's values: not quantised?");
    run_ok(i8, x + 3 * IMG, 1, one);
    cr_assert_lt(tu_max_rel_err_f(one, got + 3 * DIM, DIM), 1e-5, "batch of one = inside 16");
    char text[8192];
    sm_err err;
    sm_err_clear(&err);
    cr_assert_gt(sm_qnet_describe(i8, 16, text, sizeof text, &err), 0);
    cr_assert(strstr(text, "int8") != NULL, "%s", text);
    sm_qnet_free(i8);
    sm_quant_free(q);
    free(x);
    siamese_model_free(m);
}

/* n RGB side x side images from a formula (smooth gradients and stripes, like photos' range). */
static void formula_images(int n, int side, float *x) {
    for (int k = 0; k < n; k++)
        for (int c = 0; c < 3; c++)
            for (int y = 0; y < side; y++)
                for (int i = 0; i < side; i++) {
                    double v = 0.5 + 0.3 * sin(0.07 * (k + 3) * i + 0.11 * c * y + k) +
                               0.2 * cos(0.05 * (k + 1) * y - 0.3 * c);
                    x[(((size_t)k * 3 + c) * side + y) * side + i] = (float)v;
                }
}

#define RN_SIDE 64
#define RN_IMG (3 * RN_SIDE * RN_SIDE)
#define RN_DIM 128

/* The preset's int8 embeddings of 16 formula images against fp32's (relative L2), calibrated on
 * 48 others. */
static double preset_int8_error(const char *preset) {
    sm_shape in;
    const char *text = sm_arch_preset_text(preset, &in);
    cr_assert_not_null(text);
    siamese_model_params p = tu_model_params(text, 3, RN_SIDE, RN_SIDE, 3);
    siamese_model *m = tu_create_model(&p);
    perturb(m);
    float *x = malloc(64 * RN_IMG * sizeof(float)), *want = malloc(16 * RN_DIM * sizeof(float)),
          *got = malloc(16 * RN_DIM * sizeof(float));
    formula_images(64, RN_SIDE, x);
    sm_quant *q = calibrate(m, x + 16 * RN_IMG, 48, RN_IMG, RN_DIM); /* images 16..63 */
    cr_assert_eq(siamese_model_embed(m, x, 16, want), SIAMESE_OK);
    sm_qnet *i8 = engine(m, q);
    run_ok(i8, x, 16, got);
    double e = tu_rel_l2_f(got, want, 16 * RN_DIM);
    cr_log_info("[int8_resnet] %s 64x64: int8 vs fp32 relative L2 %.4f", preset, e);
    sm_qnet_free(i8);
    sm_quant_free(q);
    free(x);
    free(want);
    free(got);
    siamese_model_free(m);
    return e;
}

Test(int8_resnet, resnet18_within_2_percent_of_fp32) {
    double e = preset_int8_error("resnet18");
    cr_assert_lt(e, 0.02, "resnet18 int8 vs fp32: relative L2 error %g", e);
    cr_assert_gt(e, 0.0);
}

Test(int8_resnet, resnet50_within_2_percent_of_fp32) { /* bottlenecks, a stride-1 projection */
    double e = preset_int8_error("resnet50");
    cr_assert_lt(e, 0.02, "resnet50 int8 vs fp32: relative L2 error %g", e);
    cr_assert_gt(e, 0.0);
}

/* The engine's refusal of text arch names layer `layer` (1-based) and says why. */
static void refused(const char *arch, int layer, const char *why) {
    siamese_model_params p = tu_model_params(arch, 3, 16, 16, 1);
    siamese_model *m = tu_create_model(&p);
    sm_err err;
    sm_err_clear(&err);
    cr_assert_eq(sm_qnet_check(&m->arch, &err), SIAMESE_ERR_UNSUPPORTED, "%s", arch);
    char want[32];
    snprintf(want, sizeof want, "layer %d ", layer);
    cr_assert(strstr(err.msg, want) != NULL && strstr(err.msg, why) != NULL, "%s", err.msg);
    siamese_model_free(m);
}

Test(int8_resnet, layers_it_cannot_run_are_named) {
    refused("conv(8,k=3,p=1) relu conv(8,k=3,p=1,g=2) relu avgpool linear(4)", 3, "grouped");
    refused("conv(8,k=3,p=1) relu block conv(8,k=3,p=1) relu conv(8,k=3,p=1) add avgpool "
            "linear(4)",
            7, "without a relu");
    refused("conv(8,k=3,p=1) relu block conv(8,k=3,p=1) relu conv(8,k=3,p=1) skip conv(8,k=1) "
            "relu conv(8,k=1) add relu avgpool linear(4)",
            9, "skip branch");
    refused("conv(8,k=3,p=1) relu block conv(8,k=3,p=1) relu conv(8,k=3,p=1) relu add relu "
            "avgpool linear(4)",
            8, "not ending with a conv");
    refused("scale conv(8,k=3,p=1) relu avgpool linear(4)", 1, "before an unpadded conv");
}
