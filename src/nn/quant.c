/* int8 quantisation arithmetic: scales, round-half-even with saturation, per-channel weight scales, calibration records. */
#include "nn/quant.h"

#include <math.h>
#include <stdlib.h>

int sm_quant_signed(float lo) { return lo < 0.0f; }

float sm_quant_scale(float lo, float hi) {
    if (!isfinite(lo) || !isfinite(hi) || lo > hi) return 1.0f;
    float mag = sm_quant_signed(lo) ? fmaxf(fabsf(lo), fabsf(hi)) : hi;
    if (!(mag > 0.0f)) return 1.0f;
    float qmax = sm_quant_signed(lo) ? (float)SM_QUANT_S8_MAX : (float)SM_QUANT_U8_MAX;
    float s = qmax / mag;
    return isfinite(s) ? s : 1.0f;
}

/* round-half-even of x * scale clamped to [lo, hi] (nearbyintf rounds half to even in the
 * default rounding mode; NaN becomes 0). */
static float quantise_clamped(float x, float scale, float lo, float hi) {
    float v = nearbyintf(x * scale);
    if (isnan(v)) return 0.0f;
    return v < lo ? lo : v > hi ? hi : v;
}

int8_t sm_quant_s8(float x, float scale) {
    return (int8_t)quantise_clamped(x, scale, -(float)SM_QUANT_S8_MAX, (float)SM_QUANT_S8_MAX);
}

uint8_t sm_quant_u8(float x, float scale) {
    return (uint8_t)quantise_clamped(x, scale, 0.0f, (float)SM_QUANT_U8_MAX);
}

void sm_quant_weight_scales(const float *w, int out, size_t per, float *scales) {
    for (int o = 0; o < out; o++) {
        float mag = 0.0f;
        const float *row = w + (size_t)o * per;
        for (size_t i = 0; i < per; i++) mag = fmaxf(mag, fabsf(row[i]));
        scales[o] = sm_quant_scale(-mag, mag);
    }
}

void sm_quant_weights(const float *w, int out, size_t per, const float *scales, int8_t *q) {
    for (int o = 0; o < out; o++)
        for (size_t i = 0; i < per; i++)
            q[(size_t)o * per + i] = sm_quant_s8(w[(size_t)o * per + i], scales[o]);
}

void sm_quant_observe(const float *x, size_t n, float *lo, float *hi) {
    float a = *lo, b = *hi;
    for (size_t i = 0; i < n; i++) {
        if (x[i] < a) a = x[i];
        if (x[i] > b) b = x[i];
    }
    *lo = a;
    *hi = b;
}

sm_quant *sm_quant_create(const sm_arch *arch) {
    sm_quant *q = calloc(1, sizeof *q);
    if (!q) return NULL;
    for (int i = 0; i < arch->n_layers; i++) {
        const sm_layer *l = &arch->layers[i];
        if (l->kind != SM_LAYER_CONV2D && l->kind != SM_LAYER_LINEAR) continue;
        sm_quant_layer *e = &q->l[q->n++];
        e->layer = i;
        e->out = l->out;
        e->in_lo = INFINITY;
        e->in_hi = -INFINITY;
        e->w_scale = calloc((size_t)l->out, sizeof(float));
        if (!e->w_scale) {
            sm_quant_free(q);
            return NULL;
        }
    }
    return q;
}

void sm_quant_free(sm_quant *q) {
    if (!q) return;
    for (int i = 0; i < q->n; i++) free(q->l[i].w_scale);
    free(q);
}

sm_quant_layer *sm_quant_find(sm_quant *q, int layer) {
    for (int i = 0; q && i < q->n; i++)
        if (q->l[i].layer == layer) return &q->l[i];
    return NULL;
}
