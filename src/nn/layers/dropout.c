/* dropout in training plans: a mask drawn from (the net's step seed, layer, element) zeroes each value with probability p and scales the rest by 1 / (1 - p); backward applies the same mask. */

#include "base/rng.h"
#include "nn/layers/layers.h"

typedef struct dropout_pass {
    dnnl_memory_t src, dst; /* forward: x -> y; backward: dy -> dx */
    uint8_t *keep;          /* [count] the forward's mask, read by the backward */
    int64_t count;          /* elements of the buffers, padding included */
    uint32_t threshold;     /* a value is dropped when its 24-bit draw is below this */
    float scale;            /* 1 / (1 - p) */
    const uint64_t *seed;   /* the net's dropout seed, read when the forward runs */
    int layer;
    int backward;
} dropout_pass;

/* Element i's mask bit: a counter-based draw, so the mask depends on neither threads nor order. */
static uint8_t draw_keep(uint64_t base, int64_t i, uint32_t threshold) {
    uint64_t state = base + (uint64_t)i * 0x9E3779B97F4A7C15ull;
    return (uint32_t)(sm_splitmix64(&state) >> 40) >= threshold;
}

static int run_dropout(void *arg) {
    const dropout_pass *a = arg;
    const float *src = sm_memory_data(a->src);
    float *dst = sm_memory_data(a->dst);
    if (!src || !dst) return -1;
    uint8_t *keep = a->keep;
    uint64_t base = sm_seed_mix(*a->seed, (uint64_t)a->layer);
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < a->count; i++) {
        if (!a->backward) keep[i] = draw_keep(base, i, a->threshold);
        dst[i] = keep[i] ? src[i] * a->scale : 0.0f;
    }
    return 0;
}

static siamese_status dropout_step(sm_builder *b, const dropout_pass *pass, dnnl_memory_t src,
                                   dnnl_memory_t dst, int backward) {
    dropout_pass a = *pass;
    a.src = src;
    a.dst = dst;
    a.backward = backward;
    return sm_builder_host_step_copy(b, backward, run_dropout, &a, sizeof a);
}

siamese_status sm_dropout_build(sm_builder *b, const sm_layer *layer, const uint64_t *seed,
                                const sm_value *in, int with_diff, sm_value *out) {
    if (!b->training || layer->drop_p <= 0.0f) { /* the identity */
        *out = *in;
        return SIAMESE_OK;
    }
    sm_value x = *in;
    siamese_status st = SIAMESE_OK;
    if (in->md.data_type != dnnl_f32) { /* bf16 activations: the mask runs on fp32 */
        int64_t dims[DNNL_MAX_NDIMS];
        for (int k = 0; k < in->md.ndims; k++) dims[k] = in->md.dims[k];
        dnnl_memory_desc_t plain;
        sm_md_plain(&plain, in->md.ndims, dims);
        st = sm_builder_conform(b, in, &plain, &x);
    }
    dropout_pass pass = {0};
    pass.count = (int64_t)(dnnl_memory_desc_get_size(&x.md) / sizeof(float));
    pass.threshold = (uint32_t)((double)layer->drop_p * (double)(1u << 24));
    pass.scale = 1.0f / (1.0f - layer->drop_p);
    pass.seed = seed;
    pass.layer = b->layer;
    if (st == SIAMESE_OK) st = sm_builder_value(b, &x, with_diff && x.diff, &x.md, out);
    if (st == SIAMESE_OK) st = sm_builder_blob(b, (size_t)pass.count, (void **)&pass.keep);
    if (st == SIAMESE_OK) st = dropout_step(b, &pass, x.mem, out->mem, 0);
    if (st != SIAMESE_OK || !x.diff || !out->diff) return st;
    st = sm_builder_begin_group(b);
    if (st == SIAMESE_OK) st = dropout_step(b, &pass, out->diff, x.diff, 1);
    return st;
}
