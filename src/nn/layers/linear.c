/* linear on oneDNN inner products: y = x W^T + b with W in PyTorch's plain [out, in] layout, used in place. */
#include <stdlib.h>

#include "nn/layers/layers.h"

typedef struct linear_mds {
    int64_t wei[2];  /* [out, in] */
    int64_t bias[1]; /* [out] */
    dnnl_memory_desc_t src, w, b, dst_any;
} linear_mds;

static void linear_mds_fill(linear_mds *m, const sm_layer *layer, const sm_value *flat) {
    int64_t n = flat->md.dims[0], in = flat->md.dims[1];
    m->wei[0] = layer->out;
    m->wei[1] = in;
    m->bias[0] = layer->out;
    int64_t dst[2] = {n, layer->out};
    m->src = flat->md;
    sm_md_plain(&m->w, 2, m->wei);
    sm_md_plain(&m->b, 1, m->bias);
    sm_md_any(&m->dst_any, 2, dst);
}

/* dW [out, in] += dY^T X and db [out] += column sums of dY, straight into the flat gradients:
 * one GEMM with beta = 1, no temporary (fc1 of the seed network has 47.6 M weights). */
typedef struct gemm_dw {
    dnnl_memory_t x;  /* [n, in] plain */
    dnnl_memory_t dy; /* [n, out] plain */
    float *dw, *db;
    int64_t n, in, out;
} gemm_dw;

static int run_gemm_dw(void *arg) {
    gemm_dw *g = arg;
    const float *x = sm_memory_data(g->x), *dy = sm_memory_data(g->dy);
    if (!x || !dy) return -1;
    if (dnnl_sgemm('T', 'N', g->out, g->in, g->n, 1.0f, dy, g->out, x, g->in, 1.0f, g->dw, g->in) !=
        dnnl_success)
        return -1;
    if (g->db) {
        for (int64_t o = 0; o < g->out; o++) {
            float s = 0.0f;
            for (int64_t k = 0; k < g->n; k++) s += dy[k * g->out + o];
            g->db[o] += s;
        }
    }
    return 0;
}

static siamese_status gemm_backward_weights(sm_builder *b, const sm_layer *layer,
                                            const linear_mds *m, const sm_layer_params *p,
                                            const sm_value *src, const sm_value *out) {
    gemm_dw *g = malloc(sizeof *g);
    if (!g) return sm_fail(b->err, SIAMESE_ERR_NOMEM, "engine: out of memory");
    g->x = src->mem;
    g->dy = out->diff;
    g->dw = p->dw;
    g->db = layer->has_bias ? p->db : NULL;
    g->n = src->md.dims[0];
    g->in = m->wei[1];
    g->out = m->wei[0];
    return sm_builder_host_step(b, 1, run_gemm_dw, g);
}

static siamese_status backward_weights(sm_builder *b, const sm_layer *layer, linear_mds *m,
                                       const sm_layer_params *p, const sm_value *src,
                                       const sm_value *out, const_dnnl_primitive_desc_t fwd) {
    int64_t dy_dims[2] = {src->md.dims[0], m->wei[0]}, x_dims[2] = {src->md.dims[0], m->wei[1]};
    dnnl_memory_desc_t plain_dy, plain_x;
    sm_md_plain(&plain_dy, 2, dy_dims);
    sm_md_plain(&plain_x, 2, x_dims);
    if (sm_md_equal(&src->md, &plain_x) && sm_md_equal(&out->md, &plain_dy))
        return gemm_backward_weights(b, layer, m, p, src, out);
    dnnl_inner_product_desc_t d;
    SM_DNNL_TRY(dnnl_inner_product_backward_weights_desc_init(
                    &d, &src->md, &m->w, layer->has_bias ? &m->b : NULL, &out->md),
                b->err, "linear backward-weights descriptor");
    dnnl_primitive_desc_t pd = NULL;
    siamese_status st = sm_builder_pd(b, &d, 0, fwd, &pd, "linear backward weights");
    if (st != SIAMESE_OK) return st;
    st = sm_builder_weight_grads(b, pd, src, out, &m->w, layer->has_bias ? &m->b : NULL, 2, m->wei,
                                 m->bias, p);
    dnnl_primitive_desc_destroy(pd);
    return st;
}

static siamese_status backward_data(sm_builder *b, linear_mds *m, const sm_value *src,
                                    const sm_value *out, const_dnnl_primitive_desc_t fwd,
                                    dnnl_memory_t w) {
    dnnl_inner_product_desc_t d;
    SM_DNNL_TRY(dnnl_inner_product_backward_data_desc_init(&d, &src->md, &m->w, &out->md), b->err,
                "linear backward-data descriptor");
    dnnl_primitive_desc_t pd = NULL;
    siamese_status st = sm_builder_pd(b, &d, 0, fwd, &pd, "linear backward data");
    if (st != SIAMESE_OK) return st;
    dnnl_exec_arg_t args[] = {
        {DNNL_ARG_DIFF_DST, out->diff}, {DNNL_ARG_WEIGHTS, w}, {DNNL_ARG_DIFF_SRC, src->diff}};
    st = sm_builder_step(b, 1, pd, args, 3);
    dnnl_primitive_desc_destroy(pd);
    return st;
}

siamese_status sm_linear_build(sm_builder *b, const sm_layer *layer, const sm_layer_params *p,
                               const sm_value *in, sm_value *out) {
    sm_value flat;
    siamese_status st = sm_flatten_build(b, in, &flat);
    if (st != SIAMESE_OK) return st;
    linear_mds m;
    linear_mds_fill(&m, layer, &flat);
    dnnl_inner_product_desc_t d;
    SM_DNNL_TRY(dnnl_inner_product_forward_desc_init(
                    &d, b->training ? dnnl_forward_training : dnnl_forward_inference, &m.src, &m.w,
                    layer->has_bias ? &m.b : NULL, &m.dst_any),
                b->err, "linear forward descriptor");
    dnnl_primitive_desc_t pd = NULL;
    st = sm_builder_pd(b, &d, 0, NULL, &pd, "linear forward");
    if (st != SIAMESE_OK) return st;
    dnnl_memory_t w = NULL, bias = NULL;
    st = sm_builder_external(b, &m.w, p->w, &w);
    if (st == SIAMESE_OK && layer->has_bias) st = sm_builder_external(b, &m.b, p->b, &bias);
    int with_diff = b->training && (p->dw || flat.diff); /* p->dw is NULL when frozen */
    if (st == SIAMESE_OK)
        st = sm_builder_value(b, &flat, with_diff,
                              dnnl_primitive_desc_query_md(pd, dnnl_query_dst_md, 0), out);
    if (st == SIAMESE_OK) st = sm_builder_forward_step(b, pd, flat.mem, w, bias, out);
    if (st == SIAMESE_OK && with_diff) {
        st = sm_builder_begin_group(b);
        if (st == SIAMESE_OK && p->dw) st = backward_weights(b, layer, &m, p, &flat, out, pd);
        if (st == SIAMESE_OK && flat.diff) st = backward_data(b, &m, &flat, out, pd, w);
    }
    dnnl_primitive_desc_destroy(pd);
    return st;
}
