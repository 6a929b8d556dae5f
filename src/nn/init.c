/* PyTorch's default initialization (kaiming_uniform_ with a = sqrt(5)) from the model's generator. */
#include "nn/init.h"

#include <math.h>

/* Inputs feeding one output unit: in_channels * kh * kw (conv) or in_features (linear). */
static double layer_fan_in(const sm_layer *l) {
    double features = (double)l->in.c * l->in.h * l->in.w;
    return l->kind == SM_LAYER_CONV2D ? (double)(l->in.c / l->groups) * l->kh * l->kw : features;
}

/* uniform_(-bound, bound): from + (to - from) * u, u in [0, 1). */
static void fill_uniform(float *v, size_t n, double bound, sm_rng *rng) {
    for (size_t i = 0; i < n; i++) v[i] = (float)(-bound + 2.0 * bound * sm_rng_uniform(rng));
}

static void fill_constant(float *v, size_t n, float value) {
    for (size_t i = 0; i < n; i++) v[i] = value;
}

static void init_batchnorm_tensor(const sm_tensor_info *t, float *params, float *buffers,
                                  int64_t *counters) {
    switch (t->slot) {
    case SM_SLOT_WEIGHT:
        fill_constant(params + t->offset, t->count, 1.0f);
        break;
    case SM_SLOT_BIAS:
        fill_constant(params + t->offset, t->count, 0.0f);
        break;
    case SM_SLOT_RUNNING_MEAN:
        fill_constant(buffers + t->offset, t->count, 0.0f);
        break;
    case SM_SLOT_RUNNING_VAR:
        fill_constant(buffers + t->offset, t->count, 1.0f);
        break;
    case SM_SLOT_NUM_BATCHES_TRACKED:
        for (size_t i = 0; i < t->count; i++) counters[t->offset + i] = 0;
        break;
    }
}

void sm_init_params(const sm_param_table *table, const sm_arch *arch, sm_rng *rng, float *params,
                    float *buffers, int64_t *counters) {
    for (int i = 0; i < table->n; i++) {
        const sm_tensor_info *t = &table->t[i];
        const sm_layer *l = &arch->layers[t->layer];
        if (l->kind == SM_LAYER_BATCHNORM2D) {
            init_batchnorm_tensor(t, params, buffers, counters);
            continue;
        }
        double fan_in = layer_fan_in(l);
        double bound = fan_in > 0 ? 1.0 / sqrt(fan_in) : 0.0;
        fill_uniform(params + t->offset, t->count, bound, rng);
    }
}
