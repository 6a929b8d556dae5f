/* int8 inference: the quantisation arithmetic (scales, round-half-even, saturation, per-channel
 * weight scales) against a double reference; the fp32 engine with batchnorm folded against the
 * model's own forward; an int8 forward within 5% (relative L2) of fp32 on a small network; the
 * calibration through a model file; clear failures for uncalibrated models and layers the engine
 * cannot run (residual networks: test_int8_resnet.c). */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "model/model.h"
#include "model/safetensors.h"
#include "nn/qnet.h"
#include "nn/quant.h"
#include "siamese.h"
#include "test_util.h"

/* conv + batchnorm + relu, maxpool, a second conv, and two linear layers with no relu between
 * them (so the last one reads signed s8 values), like the seed network in small. */
#define ARCH                                                                                       \
    "conv(8,k=3,s=2) bn relu maxpool(2) conv(16,k=3,p=1) bn relu flatten linear(32) linear(8)"
#define C 3
#define H 32
#define W 32
#define IMG (C * H * W)
#define DIM 8

/* round-half-even of the float product x * scale, in double, clamped to [lo, hi]. */
static double ref_quantise(float x, float scale, double lo, double hi) {
    volatile float prod = x * scale;
    double v = prod, f = floor(v), frac = v - f;
    double r = frac > 0.5 ? f + 1 : frac < 0.5 ? f : (fmod(f, 2.0) == 0.0 ? f : f + 1);
    return r < lo ? lo : r > hi ? hi : r;
}

Test(int8_arith, scales_from_ranges) {
    cr_assert_float_eq(sm_quant_scale(0.0f, 2.0f), 127.5f, 1e-6, "u8: 255 / max");
    cr_assert_float_eq(sm_quant_scale(-1.0f, 0.5f), 127.0f, 1e-6, "s8: 127 / max |.|");
    cr_assert_float_eq(sm_quant_scale(-0.25f, 4.0f), 127.0f / 4.0f, 1e-6);
    cr_assert_eq(sm_quant_scale(0.0f, 0.0f), 1.0f, "a zero range keeps scale 1");
    cr_assert_eq(sm_quant_scale(1.0f, -1.0f), 1.0f, "an empty range keeps scale 1");
    cr_assert_eq(sm_quant_scale(NAN, 1.0f), 1.0f);
    cr_assert_eq(sm_quant_scale(0.0f, INFINITY), 1.0f);
    cr_assert(sm_quant_signed(-1e-9f));
    cr_assert(!sm_quant_signed(0.0f));
}

Test(int8_arith, rounding_is_half_even_and_saturates) {
    const float halves[] = {0.5f, 1.5f, 2.5f, -0.5f, -1.5f, -2.5f, 126.5f, -126.5f, 254.5f};
    const int8_t want_s8[] = {0, 2, 2, 0, -2, -2, 126, -126, 127};
    const uint8_t want_u8[] = {0, 2, 2, 0, 0, 0, 126, 0, 254};
    for (size_t i = 0; i < sizeof halves / sizeof halves[0]; i++) {
        cr_assert_eq(sm_quant_s8(halves[i], 1.0f), want_s8[i], "s8(%g)", (double)halves[i]);
        cr_assert_eq(sm_quant_u8(halves[i], 1.0f), want_u8[i], "u8(%g)", (double)halves[i]);
    }
    cr_assert_eq(sm_quant_s8(1e9f, 1.0f), 127);
    cr_assert_eq(sm_quant_s8(-1e9f, 1.0f), -127, "symmetric: -128 is never produced");
    cr_assert_eq(sm_quant_u8(1e9f, 1.0f), 255);
    cr_assert_eq(sm_quant_u8(-3.0f, 1.0f), 0);
    cr_assert_eq(sm_quant_s8(NAN, 1.0f), 0);
    float x[4096];
    tu_fill_uniform(x, 4096, -3.0f, 3.0f, 11);
    for (int i = 0; i < 4096; i++) {
        float s = 20.0f + (float)(i % 50); /* products up to +-207: saturation is exercised */
        cr_assert_eq((double)sm_quant_s8(x[i], s), ref_quantise(x[i], s, -127, 127), "x %g s %g",
                     (double)x[i], (double)s);
        cr_assert_eq((double)sm_quant_u8(x[i], s), ref_quantise(x[i], s, 0, 255), "x %g s %g",
                     (double)x[i], (double)s);
    }
}

Test(int8_arith, per_channel_weight_scales) {
    enum { OUT = 6, PER = 50 };
    float w[OUT * PER], scales[OUT];
    int8_t q[OUT * PER];
    tu_fill_uniform(w, OUT * PER, -1.0f, 1.0f, 3);
    for (int i = 0; i < PER; i++) w[2 * PER + i] *= 0.01f; /* a channel 100x smaller */
    memset(w + 4 * PER, 0, PER * sizeof(float));           /* an all-zero channel */
    sm_quant_weight_scales(w, OUT, PER, scales);
    sm_quant_weights(w, OUT, PER, scales, q);
    for (int o = 0; o < OUT; o++) {
        double mag = 0.0;
        for (int i = 0; i < PER; i++) mag = fmax(mag, fabs((double)w[o * PER + i]));
        double want = mag > 0 ? 127.0 / mag : 1.0;
        cr_assert_float_eq(scales[o], want, 1e-6 * want, "channel %d", o);
        int peak = 0;
        for (int i = 0; i < PER; i++) {
            cr_assert_eq((double)q[o * PER + i],
                         ref_quantise(w[o * PER + i], scales[o], -127, 127));
            peak = abs(q[o * PER + i]) > peak ? abs(q[o * PER + i]) : peak;
            /* dequantised within half a step */
            cr_assert_leq(fabs(q[o * PER + i] / (double)scales[o] - w[o * PER + i]),
                          0.5 / scales[o] + 1e-7);
        }
        cr_assert_eq(peak, mag > 0 ? 127 : 0, "channel %d uses the full range", o);
    }
}

/* The small model, its batchnorm statistics made non-trivial so that folding matters. */
static siamese_model *small_model(void) {
    siamese_model_params p = tu_model_params(ARCH, C, H, W, 7);
    siamese_model *m = tu_create_model(&p);
    const sm_param_table *t = sm_net_table(m->net);
    float *buf = sm_net_buffers(m->net), *par = sm_net_params_write(m->net);
    for (int i = 0; i < t->n; i++) {
        const sm_tensor_info *e = &t->t[i];
        if (e->slot == SM_SLOT_RUNNING_MEAN)
            tu_fill_uniform(buf + e->offset, e->count, -0.2f, 0.2f, 21 + (uint64_t)i);
        if (e->slot == SM_SLOT_RUNNING_VAR)
            tu_fill_uniform(buf + e->offset, e->count, 0.3f, 2.0f, 31 + (uint64_t)i);
        if (e->slot == SM_SLOT_BIAS)
            tu_fill_uniform(par + e->offset, e->count, -0.1f, 0.1f, 41 + (uint64_t)i);
    }
    return m;
}

/* Calibrates m's record on 64 random images (the ranges and scales only). */
static sm_quant *calibrate_random(siamese_model *m) {
    sm_qnet *f32 = NULL;
    sm_err err;
    sm_err_clear(&err);
    cr_assert_eq(sm_qnet_create(&m->arch, sm_net_table(m->net), sm_net_params(m->net),
                                sm_net_buffers(m->net), NULL, &f32, &err),
                 SIAMESE_OK, "%s", err.msg);
    sm_quant *q = sm_quant_create(&m->arch);
    cr_assert_not_null(q);
    cr_assert_eq(q->n, 4, "two convs and two linear layers");
    float *x = malloc(64 * IMG * sizeof(float)), emb[64 * DIM];
    tu_fill_uniform(x, 64 * IMG, 0.0f, 1.0f, 99);
    for (int b = 0; b < 2; b++) {
        cr_assert_eq(sm_qnet_forward(f32, x + b * 32 * IMG, 32, emb, &err), SIAMESE_OK, "%s",
                     err.msg);
        sm_qnet_observe(f32, q);
    }
    cr_assert_eq(q->images, 64);
    cr_assert_geq(q->l[0].in_lo, 0.0f, "images are non-negative: u8");
    cr_assert_leq(q->l[0].in_hi, 1.0f);
    cr_assert_gt(q->l[0].in_hi, 0.95f);
    cr_assert_lt(q->l[3].in_lo, 0.0f, "the last linear reads a linear's signed output: s8");
    free(x);
    sm_qnet_free(f32);
    return q;
}

Test(int8_engine, fp32_with_folded_batchnorm_matches_the_model) {
    siamese_model *m = small_model();
    float x[16 * IMG], want[16 * DIM], got[16 * DIM];
    tu_fill_uniform(x, 16 * IMG, 0.0f, 1.0f, 5);
    cr_assert_eq(siamese_model_embed(m, x, 16, want), SIAMESE_OK);
    sm_qnet *f32 = NULL;
    sm_err err;
    sm_err_clear(&err);
    cr_assert_eq(sm_qnet_create(&m->arch, sm_net_table(m->net), sm_net_params(m->net),
                                sm_net_buffers(m->net), NULL, &f32, &err),
                 SIAMESE_OK, "%s", err.msg);
    cr_assert_eq(sm_qnet_forward(f32, x, 16, got, &err), SIAMESE_OK, "%s", err.msg);
    double e = tu_max_rel_err_f(got, want, 16 * DIM);
    cr_assert_lt(e, 1e-4, "fp32 engine vs model: max relative error %g", e);
    sm_qnet_free(f32);
    siamese_model_free(m);
}

Test(int8_engine, int8_forward_within_5_percent_of_fp32) {
    siamese_model *m = small_model();
    sm_quant *q = calibrate_random(m);
    float x[16 * IMG], want[16 * DIM], got[16 * DIM];
    tu_fill_uniform(x, 16 * IMG, 0.0f, 1.0f, 6); /* images the calibration did not see */
    cr_assert_eq(siamese_model_embed(m, x, 16, want), SIAMESE_OK);
    sm_qnet *i8 = NULL;
    sm_err err;
    sm_err_clear(&err);
    cr_assert_eq(sm_qnet_create(&m->arch, sm_net_table(m->net), sm_net_params(m->net),
                                sm_net_buffers(m->net), q, &i8, &err),
                 SIAMESE_OK, "%s", err.msg);
    cr_assert_eq(sm_qnet_forward(i8, x, 16, got, &err), SIAMESE_OK, "%s", err.msg);
    double e = tu_rel_l2_f(got, want, 16 * DIM);
    cr_assert_lt(e, 0.05, "int8 vs fp32: relative L2 error %g", e);
    cr_assert_gt(e, 0.0, "int8 gave exactly fp32's values: not quantised?");
    /* a batch of one gives the same values as inside the batch of 16 */
    float one[DIM];
    cr_assert_eq(sm_qnet_forward(i8, x + 5 * IMG, 1, one, &err), SIAMESE_OK, "%s", err.msg);
    cr_assert_lt(tu_max_rel_err_f(one, got + 5 * DIM, DIM), 1e-5);
    char text[4096];
    cr_assert_gt(sm_qnet_describe(i8, 16, text, sizeof text, &err), 0);
    cr_assert(strstr(text, "int8") != NULL, "%s", text);
    sm_qnet_free(i8);
    sm_quant_free(q);
    siamese_model_free(m);
}

Test(int8_model, calibration_survives_a_model_file, .init = tu_temp_init, .fini = tu_temp_fini) {
    siamese_model *m = small_model();
    cr_assert_eq(siamese_model_set_precision(m, SIAMESE_PRECISION_INT8), SIAMESE_PRECISION_FP32,
                 "int8 without calibration");
    cr_assert(strstr(siamese_model_errmsg(m), "no int8 calibration") != NULL, "%s",
              siamese_model_errmsg(m));
    m->quant = calibrate_random(m);
    cr_assert_eq(siamese_model_set_precision(m, SIAMESE_PRECISION_INT8), SIAMESE_PRECISION_INT8,
                 "%s", siamese_model_errmsg(m));
    cr_assert_eq(siamese_model_precision(m), SIAMESE_PRECISION_INT8);
    float x[8 * IMG], a[8 * DIM], b[8 * DIM], f[8 * DIM];
    tu_fill_uniform(x, 8 * IMG, 0.0f, 1.0f, 8);
    cr_assert_eq(siamese_model_embed(m, x, 8, a), SIAMESE_OK);
    const char *path = tu_path(tu_temp, "int8.safetensors");
    cr_assert_eq(siamese_model_save(m, path), SIAMESE_OK, "%s", siamese_model_errmsg(m));

    sm_st_file *file = NULL;
    sm_err err;
    sm_err_clear(&err);
    cr_assert_eq(sm_safetensors_read(path, &file, &err), SIAMESE_OK, "%s", err.msg);
    const sm_st_tensor *r = sm_safetensors_find(file, "int8.cnn1.input_range");
    const sm_st_tensor *s = sm_safetensors_find(file, "int8.fc2.weight_scale");
    cr_assert_not_null(r);
    cr_assert_not_null(s);
    cr_assert_eq(s->shape[0], DIM);
    cr_assert_not_null(sm_safetensors_find(file, "cnn1.weight"), "fp32 weights kept");
    cr_assert_not_null(sm_safetensors_meta(file, "int8_calibration_images"));
    sm_safetensors_free(file);

    siamese_model *back = NULL;
    cr_assert_eq(siamese_model_load(path, &back), SIAMESE_OK, "%s",
                 back ? siamese_model_errmsg(back) : "");
    cr_assert_eq(siamese_model_int8_images(back), 64);
    cr_assert_eq(siamese_model_precision(back), SIAMESE_PRECISION_FP32, "loads as fp32");
    cr_assert_eq(siamese_model_embed(back, x, 8, f), SIAMESE_OK);
    cr_assert_eq(siamese_model_set_precision(back, SIAMESE_PRECISION_INT8), SIAMESE_PRECISION_INT8);
    cr_assert_eq(siamese_model_embed(back, x, 8, b), SIAMESE_OK);
    cr_assert_arr_eq(a, b, sizeof a, "int8 embeddings differ after save and load");
    cr_assert_lt(tu_rel_l2_f(b, f, 8 * DIM), 0.05);
    cr_assert_eq(siamese_model_set_precision(back, SIAMESE_PRECISION_FP32), SIAMESE_PRECISION_FP32);
    float f2[8 * DIM];
    cr_assert_eq(siamese_model_embed(back, x, 8, f2), SIAMESE_OK);
    cr_assert_arr_eq(f, f2, sizeof f, "back to fp32 gives fp32 again");
    /* weights changed after quantising: the calibration is refused, not silently wrong */
    float *w = sm_net_params_write(back->net); /* cnn1's first channel: 1 x 3 x 3 x 3 weights */
    float mag = 0.0f;
    for (int i = 0; i < 27; i++) mag = fmaxf(mag, fabsf(w[i]));
    w[0] = 2.0f * mag;
    cr_assert_eq(siamese_model_set_precision(back, SIAMESE_PRECISION_INT8), SIAMESE_PRECISION_FP32);
    cr_assert(strstr(siamese_model_errmsg(back), "does not match its weights") != NULL, "%s",
              siamese_model_errmsg(back));
    siamese_model_free(back);
    siamese_model_free(m);
}

Test(int8_model, unsupported_layers_are_refused_with_the_layer_named) {
    siamese_model_params p = tu_model_params(
        "conv(8,k=3,p=1) relu block conv(8,k=3,p=1) relu conv(8,k=3,p=1) add avgpool flatten "
        "linear(4)",
        1, 16, 16, 1);
    siamese_model *m = tu_create_model(&p);
    sm_err err;
    sm_err_clear(&err);
    cr_assert_eq(sm_qnet_check(&m->arch, &err), SIAMESE_ERR_UNSUPPORTED);
    cr_assert(strstr(err.msg, "layer 7") != NULL && strstr(err.msg, "relu") != NULL, "%s", err.msg);
    siamese_model_free(m);
}

Test(int8_model, training_refuses_int8) {
    siamese_train_params p = siamese_train_default_params();
    p.precision = SIAMESE_PRECISION_INT8;
    p.epochs = 1; /* were int8 accepted, the run would stay short */
    char *dir = tu_make_temp_dir(), err[1024];
    const char *run = tu_path(dir, "run");
    cr_assert_eq(siamese_train(tu_data_path("att_faces/training"), run, &p, err, sizeof err),
                 SIAMESE_ERR_INVALID_ARG);
    cr_assert(strstr(err, "int8 is for inference") != NULL, "%s", err);
    tu_rmtree(dir);
    free(dir);
}
