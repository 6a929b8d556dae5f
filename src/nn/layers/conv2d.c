/* conv2d on oneDNN: forward (optionally fused with ReLU), backward data and backward weights into the flat grads; fp32 or bf16 compute, channel groups (g=, depthwise when g equals the channels) and more padding at the bottom/right (pe=, TF's 'same'), Winograd for fp32 3x3 stride-1 convolutions with 32 or more output channels; weights read in the kernels' layouts from the net's weight cache (weight_cache.c). */
#include <string.h>

#include "nn/layers/layers.h"

typedef struct conv_dims {
    dnnl_dims_t strides, pad_l, pad_r;
    int64_t src[4];      /* [n, c, h, w] */
    int wei_ndims;       /* 4 without groups, 5 with */
    int64_t wei[5];      /* [o, c, kh, kw] OIHW, or grouped [g, o/g, c/g, kh, kw] (goihw: plain,
                          * the same bytes as PyTorch's [o, c/g, kh, kw]) */
    int64_t bias[1];     /* [o] */
    int64_t dst[4];      /* [n, o, oh, ow] */
    dnnl_alg_kind_t alg; /* direct, or winograd when the forward got a Winograd kernel */
} conv_dims;

static void conv_dims_fill(conv_dims *d, const sm_layer *layer, int n) {
    memset(d, 0, sizeof *d);
    d->strides[0] = layer->sh;
    d->strides[1] = layer->sw;
    d->pad_l[0] = layer->ph;
    d->pad_l[1] = layer->pw;
    /* pe= (by default equal to p=, for which oneDNN's integer division gives PyTorch's floor
     * rounding of the output size). */
    d->pad_r[0] = layer->ph_end;
    d->pad_r[1] = layer->pw_end;
    int g = layer->groups;
    int64_t src[4] = {n, layer->in.c, layer->in.h, layer->in.w};
    int64_t wei[4] = {layer->out, layer->in.c, layer->kh, layer->kw};
    int64_t grouped[5] = {g, layer->out / g, layer->in.c / g, layer->kh, layer->kw};
    int64_t dst[4] = {n, layer->out_shape.c, layer->out_shape.h, layer->out_shape.w};
    memcpy(d->src, src, sizeof src);
    d->wei_ndims = g == 1 ? 4 : 5;
    if (g == 1) memcpy(d->wei, wei, sizeof wei);
    else memcpy(d->wei, grouped, sizeof grouped);
    memcpy(d->dst, dst, sizeof dst);
    d->bias[0] = layer->out;
    d->alg = dnnl_convolution_direct;
}

/* oneDNN's fp32 Winograd kernel (F(4x4, 3x3), AVX-512 only) takes 3x3 stride-1 convolutions
 * whose channels are multiples of 16; on resnet18 at 224x224 it needs about half the direct
 * kernel's time forward and backward (bench/README.md). Maps smaller than one 4x4 output tile
 * keep the direct kernel, and so do few channels, where the tile transforms cost more than the
 * multiplications they save: a training step (conv, bn, relu; 128 images, 1 thread) of 16 -> 32
 * channels at 14x14 takes 0.0065 CPU-s with Winograd against 0.0058 direct, 32 -> 16 0.0062 vs
 * 0.0053, 64 -> 16 at 13x13 0.0103 vs 0.0088, but 32 -> 32 0.0098 vs 0.0108 and 16 -> 64 at
 * 26x26 0.034 vs 0.042 (the mnist preset's second conv is 16 -> 32). Its rounding differs from
 * the direct kernel's (resnet50's training output against torchvision: 8e-5 relative instead of
 * 6e-5; SIAMESE_ENGINE_NO_WINOGRAD=1 turns it off). */
static int winograd_fits(const sm_builder *b, const sm_layer *layer) {
    return b->winograd && !b->bf16 && layer->groups == 1 && layer->kh == 3 && layer->kw == 3 &&
           layer->sh == 1 && layer->sw == 1 && layer->in.c % 16 == 0 && layer->out % 16 == 0 &&
           layer->out >= 32 && layer->in.c * layer->out >= 1024 && layer->out_shape.h >= 4 &&
           layer->out_shape.w >= 4;
}

/* A primitive descriptor for a convolution descriptor made by init(alg): with d->alg first, and
 * when that is Winograd and oneDNN has no kernel for it, direct (d->alg is updated). */
typedef dnnl_status_t (*conv_desc_init)(dnnl_convolution_desc_t *cd, const sm_builder *b,
                                        const sm_layer *layer, const conv_dims *d, const void *ctx);

static siamese_status conv_pd(sm_builder *b, const sm_layer *layer, conv_dims *d,
                              conv_desc_init init, const void *ctx, int relu,
                              const_dnnl_primitive_desc_t hint, dnnl_primitive_desc_t *pd,
                              const char *what) {
    dnnl_convolution_desc_t cd;
    if (d->alg == dnnl_convolution_winograd && init(&cd, b, layer, d, ctx) == dnnl_success) {
        dnnl_primitive_attr_t attr = NULL;
        siamese_status st = sm_builder_attr(b, relu, 0, &attr);
        if (st != SIAMESE_OK) return st;
        dnnl_status_t s = dnnl_primitive_desc_create(pd, &cd, attr, b->engine, hint);
        dnnl_primitive_attr_destroy(attr);
        if (s == dnnl_success) return SIAMESE_OK;
        *pd = NULL;
        if (s != dnnl_unimplemented) return sm_dnnl_fail(s, b->err, what);
    }
    conv_dims direct = *d;
    direct.alg = dnnl_convolution_direct;
    SM_DNNL_TRY(init(&cd, b, layer, &direct, ctx), b->err, what);
    siamese_status st = sm_builder_pd(b, &cd, relu, hint, pd, what);
    if (st == SIAMESE_OK && hint == NULL) d->alg = dnnl_convolution_direct;
    return st;
}

static const dnnl_memory_desc_t *query(const_dnnl_primitive_desc_t pd, dnnl_query_t what) {
    return dnnl_primitive_desc_query_md(pd, what, 0);
}

/* Whether oneDNN gave pd its reference kernel ("ref:any"), its fallback when no optimized kernel
 * takes the layouts asked for. */
static int reference_kernel(const_dnnl_primitive_desc_t pd) {
    const char *impl = NULL;
    if (dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &impl) != dnnl_success || !impl)
        return 0;
    return strncmp(impl, "ref", 3) == 0;
}

/* A backward convolution over a plain source and a blocked gradient (a layer of fewer than 16
 * input channels after one of 16 or more outputs: the forward keeps abcd in, aBcd16b out) gets
 * only the reference kernel, 1500 times slower than the others: conv(16,k=3) after conv(8) on
 * 32 13x10 maps took 80 ms backward against 0.05 ms forward. When *pd is that kernel, oneDNN
 * chooses the layouts of the source and the gradients (init over src and out made "any"), and
 * *pd becomes its choice if that is not the reference kernel too; the caller then reads and
 * writes copies in those layouts (sm_builder_backward_copy). */
static siamese_status unless_reference(sm_builder *b, const sm_layer *layer, conv_dims *d,
                                       conv_desc_init init, const sm_value *src,
                                       const sm_value *out, const_dnnl_primitive_desc_t fwd,
                                       dnnl_primitive_desc_t *pd, const char *what) {
    if (!reference_kernel(*pd)) return SIAMESE_OK;
    sm_value any[2] = {*src, *out};
    sm_md_any_typed(&any[0].md, 4, d->src, src->md.data_type);
    sm_md_any_typed(&any[1].md, 4, d->dst, out->md.data_type);
    dnnl_primitive_desc_t chosen = NULL;
    siamese_status st = conv_pd(b, layer, d, init, any, 0, fwd, &chosen, what);
    if (st != SIAMESE_OK) return st;
    if (reference_kernel(chosen)) {
        dnnl_primitive_desc_destroy(chosen);
        return SIAMESE_OK;
    }
    dnnl_primitive_desc_destroy(*pd);
    *pd = chosen;
    return SIAMESE_OK;
}

/* ctx: the sm_value pair {src, out}. */
static dnnl_status_t backward_weights_desc(dnnl_convolution_desc_t *cd, const sm_builder *b,
                                           const sm_layer *layer, const conv_dims *d,
                                           const void *ctx) {
    (void)b;
    const sm_value *v = ctx;
    dnnl_memory_desc_t w_any, b_md;
    sm_md_any(&w_any, d->wei_ndims, d->wei);
    sm_md_plain(&b_md, 1, d->bias);
    return dnnl_convolution_backward_weights_desc_init(cd, d->alg, &v[0].md, &w_any,
                                                       layer->has_bias ? &b_md : NULL, &v[1].md,
                                                       d->strides, d->pad_l, d->pad_r);
}

static siamese_status backward_weights(sm_builder *b, const sm_layer *layer, conv_dims *d,
                                       const sm_layer_params *p, const sm_value *src,
                                       const sm_value *out, const_dnnl_primitive_desc_t fwd) {
    dnnl_memory_desc_t b_md;
    sm_md_plain(&b_md, 1, d->bias);
    const sm_value v[2] = {*src, *out};
    const char *what = "conv backward weights";
    dnnl_primitive_desc_t pd = NULL;
    siamese_status st = conv_pd(b, layer, d, backward_weights_desc, v, 0, fwd, &pd, what);
    if (st == SIAMESE_OK)
        st = unless_reference(b, layer, d, backward_weights_desc, src, out, fwd, &pd, what);
    sm_value read_src = *src, read_out = *out;
    if (st == SIAMESE_OK)
        st = sm_builder_backward_copy(b, src->mem, query(pd, dnnl_query_src_md), &read_src.mem);
    if (st == SIAMESE_OK)
        st = sm_builder_backward_copy(b, out->diff, query(pd, dnnl_query_diff_dst_md),
                                      &read_out.diff);
    if (st == SIAMESE_OK)
        st = sm_builder_weight_grads(
            b, pd, &read_src, &read_out, query(pd, dnnl_query_diff_weights_md),
            layer->has_bias ? &b_md : NULL, d->wei_ndims, d->wei, d->bias, p);
    dnnl_primitive_desc_destroy(pd);
    return st;
}

/* ctx: the sm_value pair {src, out}. */
static dnnl_status_t backward_data_desc(dnnl_convolution_desc_t *cd, const sm_builder *b,
                                        const sm_layer *layer, const conv_dims *d,
                                        const void *ctx) {
    (void)layer;
    const sm_value *v = ctx;
    dnnl_memory_desc_t w_any;
    sm_md_any_typed(&w_any, d->wei_ndims, d->wei, b->bf16 ? dnnl_bf16 : dnnl_f32);
    return dnnl_convolution_backward_data_desc_init(cd, d->alg, &v[0].md, &w_any, &v[1].md,
                                                    d->strides, d->pad_l, d->pad_r);
}

static siamese_status backward_data(sm_builder *b, const sm_layer *layer, conv_dims *d,
                                    const sm_layer_params *p, const sm_value *src,
                                    const sm_value *out, const_dnnl_primitive_desc_t fwd,
                                    dnnl_memory_t fwd_w) {
    const sm_value v[2] = {*src, *out};
    const char *what = "conv backward data";
    dnnl_primitive_desc_t pd = NULL;
    siamese_status st = conv_pd(b, layer, d, backward_data_desc, v, 0, fwd, &pd, what);
    if (st == SIAMESE_OK)
        st = unless_reference(b, layer, d, backward_data_desc, src, out, fwd, &pd, what);
    if (st != SIAMESE_OK) {
        dnnl_primitive_desc_destroy(pd);
        return st;
    }
    const dnnl_memory_desc_t *wmd = query(pd, dnnl_query_weights_md);
    dnnl_memory_t w = fwd_w, diff_dst = NULL, diff_src = src->diff;
    if (!sm_md_equal(wmd, query(fwd, dnnl_query_weights_md)))
        st = sm_builder_weights(b, d->wei_ndims, d->wei, wmd, p->w, &w);
    if (st == SIAMESE_OK)
        st = sm_builder_backward_copy(b, out->diff, query(pd, dnnl_query_diff_dst_md), &diff_dst);
    const dnnl_memory_desc_t *dsrc_md = query(pd, dnnl_query_diff_src_md);
    if (st == SIAMESE_OK && !sm_md_equal(dsrc_md, &src->md))
        st = sm_builder_transient(b, dsrc_md, &diff_src);
    if (st == SIAMESE_OK) {
        dnnl_exec_arg_t args[] = {
            {DNNL_ARG_DIFF_DST, diff_dst}, {DNNL_ARG_WEIGHTS, w}, {DNNL_ARG_DIFF_SRC, diff_src}};
        st = sm_builder_step(b, 1, pd, args, 3);
    }
    if (st == SIAMESE_OK && diff_src != src->diff)
        st = sm_builder_reorder(b, 1, diff_src, src->diff, 0);
    dnnl_primitive_desc_destroy(pd);
    return st;
}

/* Direct fp32 convolutions are built for training in inference plans too: for inference oneDNN
 * 2.6 picks kernels (brgconv) that keep activations channels-last, so on resnet18 every stride-2
 * convolution had its input and output re-laid out between them and the Winograd convolutions
 * and batchnorms, which keep nChw16c (8 of 180 ms of an inference). Winograd ones are built for
 * inference there: that kernel reads weights already transformed into its tiles, which the net's
 * weight cache keeps from one parameter change to the next, while the training kernel transforms
 * them on every call (resnet18's layer4 at 7x7: 12 ms a convolution against 8.5). The price is
 * oneDNN's slow transform when the weights changed (~0.45 CPU-s for resnet18's, once per change;
 * see bench/README.md). Grouped convolutions keep the inference kernels: built for training,
 * face-api's landmark network (depthwise) gives other last bits than the results its import was
 * checked with. */
static dnnl_status_t forward_desc(dnnl_convolution_desc_t *cd, const sm_builder *b,
                                  const sm_layer *layer, const conv_dims *d, const void *ctx) {
    (void)ctx;
    /* bf16: bf16 activations and weight copies, fp32 bias and accumulation. */
    dnnl_data_type_t dt = b->bf16 ? dnnl_bf16 : dnnl_f32;
    dnnl_memory_desc_t src, wei, bias, dst;
    sm_md_any_typed(&src, 4, d->src, dt);
    sm_md_any_typed(&wei, d->wei_ndims, d->wei, dt);
    sm_md_plain(&bias, 1, d->bias);
    sm_md_any_typed(&dst, 4, d->dst, dt);
    int training =
        b->training || (!b->bf16 && layer->groups == 1 && d->alg != dnnl_convolution_winograd);
    return dnnl_convolution_forward_desc_init(
        cd, training ? dnnl_forward_training : dnnl_forward_inference, d->alg, &src, &wei,
        layer->has_bias ? &bias : NULL, &dst, d->strides, d->pad_l, d->pad_r);
}

static siamese_status forward_pd(sm_builder *b, const sm_layer *layer, conv_dims *d, int fuse_relu,
                                 dnnl_primitive_desc_t *pd) {
    if (winograd_fits(b, layer)) d->alg = dnnl_convolution_winograd;
    return conv_pd(b, layer, d, forward_desc, NULL, fuse_relu, NULL, pd, "conv forward");
}

siamese_status sm_conv2d_build(sm_builder *b, const sm_layer *layer, int fuse_relu,
                               const sm_layer_params *p, const sm_value *in, sm_value *out) {
    conv_dims d;
    conv_dims_fill(&d, layer, b->n);
    dnnl_primitive_desc_t pd = NULL;
    siamese_status st = forward_pd(b, layer, &d, fuse_relu, &pd);
    if (st != SIAMESE_OK) return st;

    sm_value src;
    dnnl_memory_t w = NULL, bias = NULL;
    st = sm_builder_conform(b, in, query(pd, dnnl_query_src_md), &src);
    if (st == SIAMESE_OK)
        st = sm_builder_weights(b, d.wei_ndims, d.wei, query(pd, dnnl_query_weights_md), p->w, &w);
    if (st == SIAMESE_OK && layer->has_bias) {
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
        if (st == SIAMESE_OK && fuse_relu) st = sm_relu_backward_fused(b, out, out->diff);
        if (st == SIAMESE_OK && p->dw) st = backward_weights(b, layer, &d, p, &src, out, pd);
        if (st == SIAMESE_OK && src.diff) st = backward_data(b, layer, &d, p, &src, out, pd, w);
    }
    dnnl_primitive_desc_destroy(pd);
    return st;
}
