/* int8 quantisation arithmetic: scales from ranges, rounding and saturation, per-channel weight
 * scales, and the calibration record of a network (one entry per conv / linear layer). */
#ifndef SM_QUANT_H
#define SM_QUANT_H

#include <stddef.h>
#include <stdint.h>

#include "nn/arch.h"

/* A value x is stored as q = saturate(round_half_even(x * scale)); x is read back as q / scale.
 * Unsigned tensors (ranges with min >= 0: images, outputs of a relu) use u8 [0, 255], signed
 * ones s8 [-127, 127] (symmetric, so that -x quantises to -q; oneDNN saturates s8 results to
 * [-128, 127]). */
#define SM_QUANT_U8_MAX 255
#define SM_QUANT_S8_MAX 127

/* The scale mapping the range [lo, hi] onto u8 (lo >= 0) or s8 (lo < 0): 255 / hi or
 * 127 / max(|lo|, |hi|). A range that is empty, zero or not finite gives 1. */
float sm_quant_scale(float lo, float hi);
/* 1 when a tensor with this range is stored signed (s8). */
int sm_quant_signed(float lo);

/* round-half-even(x * scale) saturated to [-127, 127] / [0, 255]. */
int8_t sm_quant_s8(float x, float scale);
uint8_t sm_quant_u8(float x, float scale);

/* Per-output-channel weight scales of a weight tensor [out, per] (conv OIHW, linear [out, in]):
 * scales[o] = 127 / max |w[o, :]| (1 for an all-zero channel). */
void sm_quant_weight_scales(const float *w, int out, size_t per, float *scales);
/* q[o, i] = sm_quant_s8(w[o, i], scales[o]). */
void sm_quant_weights(const float *w, int out, size_t per, const float *scales, int8_t *q);

/* Widens [*lo, *hi] to cover x[0..n). NaNs are ignored. */
void sm_quant_observe(const float *x, size_t n, float *lo, float *hi);

/* Calibration of one conv / linear layer: the range of its input over the calibration images
 * and its weights' per-channel scales (after batchnorm folding, see nn/qnet.h). */
typedef struct sm_quant_layer {
    int layer; /* index into arch->layers */
    int out;   /* output channels / features: entries of w_scale */
    float in_lo, in_hi;
    float *w_scale; /* [out], owned */
} sm_quant_layer;

typedef struct sm_quant {
    int n;
    sm_quant_layer l[SM_MAX_LAYERS];
    int images; /* calibration images seen */
} sm_quant;

/* An empty record with one entry per conv / linear layer of arch (ranges empty: lo > hi).
 * Returns NULL when memory runs out. */
sm_quant *sm_quant_create(const sm_arch *arch);
void sm_quant_free(sm_quant *q);
/* The entry of arch layer `layer`, or NULL. */
sm_quant_layer *sm_quant_find(sm_quant *q, int layer);

#endif
