/* Grouped convolutions (g=, depthwise when g equals the channels) and convolutions padded more at the bottom/right than at the top/left (pe=, TF's 'same'), on oneDNN: forward, backward data and backward weights into the flat grads. */
#include "nn/layers/layers.h"

/* oneDNN's grouped weights [g, o/g, c/g, kh, kw] are, plain, PyTorch's [o, c/g, kh, kw]. */
typedef struct grouped_dims {
    dnnl_dims_t strides, pad_l, pad_r;
    int64_t src[4], wei[5], bias[1], dst[4];
} grouped_dims;

static void grouped_dims_fill(grouped_dims *d, const sm_layer *l, int n) {
    int g = l->groups;
    *d = (grouped_dims){.strides = {l->sh, l->sw},
                        .pad_l = {l->ph, l->pw},
                        .pad_r = {l->ph_end, l->pw_end},
                        .src = {n, l->in.c, l->in.h, l->in.w},
                        .wei = {g, l->out / g, l->in.c / g, l->kh, l->kw},
                        .bias = {l->out},
                        .dst = {n, l->out_shape.c, l->out_shape.h, l->out_shape.w}};
}

int sm_conv_is_grouped(const sm_layer *l) {
    return l->kind == SM_LAYER_CONV2D &&
           (l->groups != 1 || l->ph_end != l->ph || l->pw_end != l->pw);
}

static const dnnl_memory_desc_t *query(const_dnnl_primitive_desc_t pd, dnnl_query_t what) {
    return dnnl_primitive_desc_query_md(pd, what, 0);
}

/* The weights in layout md: the flat parameters themselves when md is plain, otherwise a copy
 * refreshed by a reorder step before every use. */
static siamese_status weights_in_layout(sm_builder *b, int backward, const grouped_dims *d,
                                        const dnnl_memory_desc_t *md, float *params,
                                        dnnl_memory_t *mem) {
    dnnl_memory_desc_t plain;
    sm_md_plain(&plain, 5, d->wei);
    if (sm_md_equal(&plain, md)) return sm_builder_external(b, &plain, params, mem);
    dnnl_memory_t user;
    siamese_status st = sm_builder_external(b, &plain, params, &user);
    if (st == SIAMESE_OK) st = sm_builder_persistent(b, md, mem);
    if (st == SIAMESE_OK) st = sm_builder_reorder(b, backward, user, *mem, 0);
    return st;
}

static siamese_status forward_pd(sm_builder *b, const sm_layer *l, const grouped_dims *d,
                                 dnnl_primitive_desc_t *pd) {
    dnnl_data_type_t dt = b->bf16 ? dnnl_bf16 : dnnl_f32;
    dnnl_memory_desc_t src, wei, bias, dst;
    sm_md_any_typed(&src, 4, d->src, dt);
    sm_md_any_typed(&wei, 5, d->wei, dt);
    sm_md_plain(&bias, 1, d->bias);
    sm_md_any_typed(&dst, 4, d->dst, dt);
    dnnl_convolution_desc_t cd;
    SM_DNNL_TRY(dnnl_convolution_forward_desc_init(
                    &cd, b->training ? dnnl_forward_training : dnnl_forward_inference,
                    dnnl_convolution_direct, &src, &wei, l->has_bias ? &bias : NULL, &dst,
                    d->strides, d->pad_l, d->pad_r),
                b->err, "grouped conv forward descriptor");
    return sm_builder_pd(b, &cd, 0, NULL, pd, "grouped conv forward");
}

static siamese_status backward_weights(sm_builder *b, const sm_layer *l, const grouped_dims *d,
                                       const sm_layer_params *p, const sm_value *src,
                                       const sm_value *out, const_dnnl_primitive_desc_t fwd) {
    dnnl_memory_desc_t w_any, b_md;
    sm_md_any(&w_any, 5, d->wei);
    sm_md_plain(&b_md, 1, d->bias);
    dnnl_convolution_desc_t cd;
    SM_DNNL_TRY(dnnl_convolution_backward_weights_desc_init(
                    &cd, dnnl_convolution_direct, &src->md, &w_any, l->has_bias ? &b_md : NULL,
                    &out->md, d->strides, d->pad_l, d->pad_r),
                b->err, "grouped conv backward weights descriptor");
    dnnl_primitive_desc_t pd = NULL;
    siamese_status st = sm_builder_pd(b, &cd, 0, fwd, &pd, "grouped conv backward weights");
    if (st != SIAMESE_OK) return st;
    st = sm_builder_weight_grads(b, pd, src, out, query(pd, dnnl_query_diff_weights_md),
                                 l->has_bias ? &b_md : NULL, 5, d->wei, d->bias, p);
    dnnl_primitive_desc_destroy(pd);
    return st;
}

static siamese_status backward_data(sm_builder *b, const grouped_dims *d, const sm_layer_params *p,
                                    const sm_value *src, const sm_value *out,
                                    const_dnnl_primitive_desc_t fwd, dnnl_memory_t fwd_w) {
    dnnl_memory_desc_t w_any;
    sm_md_any_typed(&w_any, 5, d->wei, b->bf16 ? dnnl_bf16 : dnnl_f32);
    dnnl_convolution_desc_t cd;
    SM_DNNL_TRY(dnnl_convolution_backward_data_desc_init(&cd, dnnl_convolution_direct, &src->md,
                                                         &w_any, &out->md, d->strides, d->pad_l,
                                                         d->pad_r),
                b->err, "grouped conv backward data descriptor");
    dnnl_primitive_desc_t pd = NULL;
    siamese_status st = sm_builder_pd(b, &cd, 0, fwd, &pd, "grouped conv backward data");
    if (st != SIAMESE_OK) return st;
    const dnnl_memory_desc_t *wmd = query(pd, dnnl_query_weights_md);
    dnnl_memory_t w = fwd_w;
    if (!sm_md_equal(wmd, query(fwd, dnnl_query_weights_md)))
        st = weights_in_layout(b, 1, d, wmd, p->w, &w);
    if (st == SIAMESE_OK) {
        dnnl_exec_arg_t args[] = {
            {DNNL_ARG_DIFF_DST, out->diff}, {DNNL_ARG_WEIGHTS, w}, {DNNL_ARG_DIFF_SRC, src->diff}};
        st = sm_builder_step(b, 1, pd, args, 3);
    }
    dnnl_primitive_desc_destroy(pd);
    return st;
}

siamese_status sm_conv_grouped_build(sm_builder *b, const sm_layer *l, const sm_layer_params *p,
                                     const sm_value *in, sm_value *out) {
    grouped_dims d;
    grouped_dims_fill(&d, l, b->n);
    dnnl_primitive_desc_t pd = NULL;
    siamese_status st = forward_pd(b, l, &d, &pd);
    if (st != SIAMESE_OK) return st;

    sm_value src;
    dnnl_memory_t w = NULL, bias = NULL;
    st = sm_builder_conform(b, in, query(pd, dnnl_query_src_md), &src);
    if (st == SIAMESE_OK)
        st = weights_in_layout(b, 0, &d, query(pd, dnnl_query_weights_md), p->w, &w);
    if (st == SIAMESE_OK && l->has_bias) {
        dnnl_memory_desc_t bmd;
        sm_md_plain(&bmd, 1, d.bias);
        st = sm_builder_external(b, &bmd, p->b, &bias);
    }
    int with_diff = b->training && (p->dw || src.diff); /* p->dw is NULL when frozen */
    if (st == SIAMESE_OK)
        st = sm_builder_value(b, &src, with_diff, query(pd, dnnl_query_dst_md), out);
    if (st == SIAMESE_OK) st = sm_builder_forward_step(b, pd, src.mem, w, bias, out);
    if (st == SIAMESE_OK && with_diff) {
        st = sm_builder_begin_group(b);
        if (st == SIAMESE_OK && p->dw) st = backward_weights(b, l, &d, p, &src, out, pd);
        if (st == SIAMESE_OK && src.diff) st = backward_data(b, &d, p, &src, out, pd, w);
    }
    dnnl_primitive_desc_destroy(pd);
    return st;
}
