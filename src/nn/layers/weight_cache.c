/* Weights in the layouts the kernels want, shared by a net's plans and re-laid from the plain parameters only when their layer's parameters changed (generation counters), not on every forward and backward. */
#include <stdlib.h>
#include <string.h>

#include "base/tensor_alloc.h"
#include "nn/layers/layers.h"

struct sm_relaid {
    int layer, threads; /* the layer; the thread count its reorder was made for */
    dnnl_memory_desc_t md;
    const float *plain; /* the layer's weights in the flat parameters */
    size_t count;
    dnnl_memory_t src, dst; /* plain, and md over data */
    void *data;
    dnnl_primitive_t reorder;
    uint64_t gen;      /* the layer's generation it holds; 0: none yet */
    uint64_t checksum; /* debug builds: of the plain weights it was made from */
};

static void free_entry(sm_relaid *r) {
    if (r->reorder) dnnl_primitive_destroy(r->reorder);
    if (r->src) dnnl_memory_destroy(r->src);
    if (r->dst) dnnl_memory_destroy(r->dst);
    free(r->data);
}

void sm_weight_cache_free(sm_weight_cache *c) {
    for (int i = 0; i < c->n; i++) free_entry(&c->v[i]);
    free(c->v);
    c->v = NULL;
    c->n = c->cap = 0;
}

/* The entry for (layer, md, threads), or -1. */
static int find_entry(const sm_weight_cache *c, int layer, const dnnl_memory_desc_t *md,
                      int threads) {
    for (int i = 0; i < c->n; i++)
        if (c->v[i].layer == layer && c->v[i].threads == threads && sm_md_equal(&c->v[i].md, md))
            return i;
    return -1;
}

static siamese_status make_entry(sm_builder *b, const dnnl_memory_desc_t *plain_md,
                                 const dnnl_memory_desc_t *md, const float *plain, int *index) {
    sm_weight_cache *c = b->weights;
    if (c->n == c->cap) {
        int cap = c->cap ? c->cap * 2 : 32;
        sm_relaid *v = realloc(c->v, (size_t)cap * sizeof *v);
        if (!v) return sm_fail(b->err, SIAMESE_ERR_NOMEM, "engine: out of memory for weights");
        c->v = v;
        c->cap = cap;
    }
    sm_relaid r = {.layer = b->layer, .threads = b->plan->threads, .md = *md, .plain = plain};
    r.count = (size_t)sm_md_elems(plain_md);
    size_t bytes = dnnl_memory_desc_get_size(md);
    r.data = sm_tensor_alloc(bytes ? bytes : 64, 64);
    if (!r.data)
        return sm_fail(b->err, SIAMESE_ERR_NOMEM, "engine: cannot allocate %zu bytes of weights",
                       bytes);
    dnnl_primitive_desc_t pd = NULL;
    dnnl_status_t s = dnnl_memory_create(&r.src, plain_md, b->engine, (void *)plain);
    if (s == dnnl_success) s = dnnl_memory_create(&r.dst, md, b->engine, r.data);
    if (s == dnnl_success)
        s = dnnl_reorder_primitive_desc_create(&pd, plain_md, b->engine, md, b->engine, NULL);
    if (s == dnnl_success) s = dnnl_primitive_create(&r.reorder, pd);
    if (pd) dnnl_primitive_desc_destroy(pd);
    if (s != dnnl_success) {
        free_entry(&r);
        return sm_dnnl_fail(s, b->err, "weight reorder");
    }
    c->v[c->n] = r;
    *index = c->n++;
    return SIAMESE_OK;
}

siamese_status sm_builder_weights(sm_builder *b, int ndims, const int64_t *dims,
                                  const dnnl_memory_desc_t *md, float *params, dnnl_memory_t *mem) {
    dnnl_memory_desc_t plain;
    sm_md_plain(&plain, ndims, dims);
    if (sm_md_equal(&plain, md)) return sm_builder_external(b, &plain, params, mem);
    sm_plan *plan = b->plan;
    int i = find_entry(b->weights, b->layer, md, plan->threads);
    if (i < 0) {
        siamese_status st = make_entry(b, &plain, md, params, &i);
        if (st != SIAMESE_OK) return st;
    }
    int listed = 0;
    for (int k = 0; k < plan->n_relaid; k++) listed |= plan->relaid[k] == i;
    if (!listed) {
        if (plan->n_relaid == SM_PLAN_RELAID_MAX)
            return sm_fail(b->err, SIAMESE_ERR_LIMIT, "engine: too many weight layouts");
        plan->relaid[plan->n_relaid++] = i;
    }
    *mem = b->weights->v[i].dst;
    return SIAMESE_OK;
}

#ifndef NDEBUG
/* FNV-1a over the weights' 32-bit words (bit patterns, so any write shows). */
static uint64_t checksum(const float *v, size_t count) {
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < count; i++) {
        uint32_t bits;
        memcpy(&bits, &v[i], sizeof bits);
        h = (h ^ bits) * 1099511628211ull;
    }
    return h;
}
#endif

siamese_status sm_weight_cache_refresh(sm_weight_cache *c, const sm_plan *plan,
                                       dnnl_stream_t stream, sm_err *err) {
    for (int k = 0; k < plan->n_relaid; k++) {
        sm_relaid *r = &c->v[plan->relaid[k]];
        uint64_t gen = c->layer_gen[r->layer];
        if (r->gen == gen) {
#ifndef NDEBUG
            if (checksum(r->plain, r->count) != r->checksum)
                return sm_fail(err, SIAMESE_ERR_INVALID_ARG,
                               "engine: layer %d's weights were written without "
                               "sm_net_params_write (the kernels' copy of them is stale)",
                               r->layer + 1);
#endif
            continue;
        }
        dnnl_exec_arg_t args[2] = {{DNNL_ARG_FROM, r->src}, {DNNL_ARG_TO, r->dst}};
        SM_DNNL_TRY(dnnl_primitive_execute(r->reorder, stream, 2, args), err, "weight reorder");
        r->gen = gen;
#ifndef NDEBUG
        r->checksum = checksum(r->plain, r->count);
#endif
    }
    return SIAMESE_OK;
}
