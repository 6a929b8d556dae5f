/* The exponential moving average of a network's weights (Polyak averaging, --ema): the update
 * after every optimizer step, with TensorFlow's warm-up of the decay, and the swap with the live
 * weights. */
#include "run/ema.h"

#include <stdlib.h>
#include <string.h>

int sm_ema_on(const sm_ema *ema) { return ema && ema->params != NULL; }

static float *copy_floats(const float *v, size_t n) {
    float *out = malloc((n ? n : 1) * sizeof *out);
    if (out && n) memcpy(out, v, n * sizeof *out);
    return out;
}

int sm_ema_init(sm_ema *ema, float decay, const float *params, size_t n_params,
                const float *buffers, size_t n_buffers) {
    memset(ema, 0, sizeof *ema);
    if (!(decay > 0.0f)) return 0;
    ema->params = copy_floats(params, n_params);
    ema->buffers = copy_floats(buffers, n_buffers);
    if (!ema->params || !ema->buffers) {
        sm_ema_free(ema);
        return -1;
    }
    ema->decay = decay;
    ema->n_params = n_params;
    ema->n_buffers = n_buffers;
    return 0;
}

void sm_ema_free(sm_ema *ema) {
    if (!ema) return;
    free(ema->params);
    free(ema->buffers);
    memset(ema, 0, sizeof *ema);
}

float sm_ema_decay_at(float decay, int64_t t) {
    double warm = (1.0 + (double)t) / (10.0 + (double)t);
    return (double)decay < warm ? decay : (float)warm;
}

/* A value the shadow already equals stays as it is: d * x + (1 - d) * x rounds to a neighbour of
 * x for some x, so a frozen layer's average would drift from its weights by an ulp here and
 * there. */
static void blend(float *shadow, const float *live, size_t n, float d) {
    float c = 1.0f - d;
#pragma omp parallel for schedule(static) if (n > 65536)
    for (size_t i = 0; i < n; i++)
        if (shadow[i] != live[i]) shadow[i] = d * shadow[i] + c * live[i];
}

void sm_ema_update(sm_ema *ema, const float *params, const float *buffers, int64_t t) {
    if (!sm_ema_on(ema)) return;
    float d = sm_ema_decay_at(ema->decay, t);
    blend(ema->params, params, ema->n_params, d);
    blend(ema->buffers, buffers, ema->n_buffers, d);
}

static void exchange(float *a, float *b, size_t n) {
#pragma omp parallel for schedule(static) if (n > 65536)
    for (size_t i = 0; i < n; i++) {
        float x = a[i];
        a[i] = b[i];
        b[i] = x;
    }
}

void sm_ema_swap(sm_ema *ema, float *params, float *buffers) {
    if (!sm_ema_on(ema)) return;
    exchange(ema->params, params, ema->n_params);
    exchange(ema->buffers, buffers, ema->n_buffers);
}
