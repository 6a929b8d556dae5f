/* Residual blocks on oneDNN: the fork of a block's input (its two gradients summed), the add of the main branch and the skip (optionally zero-padding a smaller main branch), and global average pooling. */

#include "nn/layers/layers.h"

siamese_status sm_fork_build(sm_builder *b, const sm_value *in, sm_value *main_in) {
    *main_in = *in;
    if (!b->training || !in->diff) return SIAMESE_OK;
    /* The main branch gets a gradient memory of its own, in a slot neither in's nor pinned; its
     * backward group (made first, so run last) adds it into in's, which the skip wrote. */
    siamese_status st = sm_builder_own_diff(b, in, main_in);
    if (st == SIAMESE_OK) st = sm_builder_begin_group(b);
    if (st == SIAMESE_OK) st = sm_builder_reorder(b, 1, main_in->diff, in->diff, 1);
    return st;
}

siamese_status sm_add_build(sm_builder *b, const sm_value *main_out, const sm_value *skip,
                            int fuse_relu, sm_value *out) {
    sm_value s;
    siamese_status st = sm_builder_conform(b, skip, &main_out->md, &s);
    if (st != SIAMESE_OK) return st;
    dnnl_binary_desc_t d;
    SM_DNNL_TRY(dnnl_binary_desc_init(&d, dnnl_binary_add, &main_out->md, &s.md, &main_out->md),
                b->err, "add descriptor");
    dnnl_primitive_desc_t pd = NULL;
    st = sm_builder_pd(b, &d, fuse_relu, NULL, &pd, "add");
    if (st != SIAMESE_OK) return st;
    int with_diff = b->training && (main_out->diff || s.diff);
    st = sm_builder_value(b, &s, with_diff, &main_out->md, out);
    if (st == SIAMESE_OK) {
        dnnl_exec_arg_t args[] = {
            {DNNL_ARG_SRC_0, main_out->mem}, {DNNL_ARG_SRC_1, s.mem}, {DNNL_ARG_DST, out->mem}};
        st = sm_builder_step(b, 0, pd, args, 3);
    }
    dnnl_primitive_desc_destroy(pd);
    /* Backward: both operands get the output's gradient (through the fused ReLU: computed once,
     * into the main branch's gradient when it has one, and copied from there to the skip's). */
    if (st != SIAMESE_OK || !with_diff) return st;
    st = sm_builder_begin_group(b);
    dnnl_memory_t grad = out->diff;
    if (st == SIAMESE_OK && fuse_relu) {
        grad = main_out->diff ? main_out->diff : out->diff;
        st = sm_relu_backward_fused(b, out, grad);
    }
    if (st == SIAMESE_OK && main_out->diff && grad != main_out->diff)
        st = sm_builder_reorder(b, 1, out->diff, main_out->diff, 0);
    if (st == SIAMESE_OK && s.diff) st = sm_builder_reorder(b, 1, grad, s.diff, 0);
    return st;
}

/* A host step of the padded add: forward dst[n,c,y,x] += src[n,c,y,x] over src's (smaller)
 * window; backward dst = the window of src (the gradient of the zero padding is dropped). */
typedef struct pad_window {
    dnnl_memory_t src, dst;
    int64_t nc, big_h, big_w, h, w; /* images x channels, the large and the small extent */
    int backward;
} pad_window;

static int run_pad_window(void *arg) {
    const pad_window *a = arg;
    const float *src = sm_memory_data(a->src);
    float *dst = sm_memory_data(a->dst);
    if (!src || !dst) return -1;
    for (int64_t i = 0; i < a->nc; i++) {
        for (int64_t y = 0; y < a->h; y++) {
            for (int64_t x = 0; x < a->w; x++) {
                int64_t big = (i * a->big_h + y) * a->big_w + x, small = (i * a->h + y) * a->w + x;
                if (a->backward) dst[small] = src[big];
                else dst[big] += src[small];
            }
        }
    }
    return 0;
}

static siamese_status pad_window_step(sm_builder *b, int backward, dnnl_memory_t src,
                                      dnnl_memory_t dst, const dnnl_memory_desc_t *big,
                                      const dnnl_memory_desc_t *small) {
    pad_window a = {src,
                    dst,
                    big->dims[0] * big->dims[1],
                    big->dims[2],
                    big->dims[3],
                    small->dims[2],
                    small->dims[3],
                    backward};
    return sm_builder_host_step_copy(b, backward, run_pad_window, &a, sizeof a);
}

siamese_status sm_add_padded_build(sm_builder *b, const sm_value *main_out, const sm_value *skip,
                                   sm_value *out) {
    int64_t big_dims[4], small_dims[4];
    for (int k = 0; k < 4; k++) {
        big_dims[k] = skip->md.dims[k];
        small_dims[k] = main_out->md.dims[k];
    }
    dnnl_memory_desc_t big, small;
    sm_md_plain(&big, 4, big_dims);
    sm_md_plain(&small, 4, small_dims);
    int with_diff = b->training && (main_out->diff || skip->diff);
    dnnl_memory_t main_plain = NULL, main_plain_diff = NULL;
    siamese_status st = sm_builder_value(b, skip, with_diff, &big, out);
    if (st == SIAMESE_OK) st = sm_builder_persistent(b, &small, &main_plain);
    if (st == SIAMESE_OK) st = sm_builder_reorder(b, 0, skip->mem, out->mem, 0);
    if (st == SIAMESE_OK) st = sm_builder_reorder(b, 0, main_out->mem, main_plain, 0);
    if (st == SIAMESE_OK) st = pad_window_step(b, 0, main_plain, out->mem, &big, &small);
    if (st != SIAMESE_OK || !with_diff) return st;
    st = sm_builder_begin_group(b);
    if (st == SIAMESE_OK && main_out->diff) {
        st = sm_builder_persistent(b, &small, &main_plain_diff);
        if (st == SIAMESE_OK) st = pad_window_step(b, 1, out->diff, main_plain_diff, &big, &small);
        if (st == SIAMESE_OK) st = sm_builder_reorder(b, 1, main_plain_diff, main_out->diff, 0);
    }
    if (st == SIAMESE_OK && skip->diff) st = sm_builder_reorder(b, 1, out->diff, skip->diff, 0);
    return st;
}

siamese_status sm_avgpool_build(sm_builder *b, const sm_value *in, int with_diff, sm_value *out) {
    dnnl_dims_t kernel = {in->md.dims[2], in->md.dims[3]}, strides = {1, 1};
    dnnl_dims_t dilation = {0, 0}, pad = {0, 0};
    int64_t dst_dims[4] = {in->md.dims[0], in->md.dims[1], 1, 1};
    dnnl_memory_desc_t dst_any;
    sm_md_any_typed(&dst_any, 4, dst_dims, in->md.data_type);
    dnnl_pooling_v2_desc_t fd;
    SM_DNNL_TRY(dnnl_pooling_v2_forward_desc_init(
                    &fd, b->training ? dnnl_forward_training : dnnl_forward_inference,
                    dnnl_pooling_avg_exclude_padding, &in->md, &dst_any, strides, kernel, dilation,
                    pad, pad),
                b->err, "avgpool forward descriptor");
    dnnl_primitive_desc_t fpd = NULL, bpd = NULL;
    siamese_status st =
        sm_builder_src_dst_forward(b, &fd, in, with_diff, "avgpool forward", &fpd, out);
    if (st == SIAMESE_OK && b->training && in->diff) {
        dnnl_pooling_v2_desc_t bd;
        dnnl_status_t s =
            dnnl_pooling_v2_backward_desc_init(&bd, dnnl_pooling_avg_exclude_padding, &in->md,
                                               &out->md, strides, kernel, dilation, pad, pad);
        if (s != dnnl_success) st = sm_dnnl_fail(s, b->err, "avgpool backward descriptor");
        if (st == SIAMESE_OK) st = sm_builder_begin_group(b);
        if (st == SIAMESE_OK) st = sm_builder_pd(b, &bd, 0, fpd, &bpd, "avgpool backward");
        if (st == SIAMESE_OK) {
            dnnl_exec_arg_t args[] = {{DNNL_ARG_DIFF_DST, out->diff},
                                      {DNNL_ARG_DIFF_SRC, in->diff}};
            st = sm_builder_step(b, 1, bpd, args, 2);
        }
    }
    if (bpd) dnnl_primitive_desc_destroy(bpd);
    if (fpd) dnnl_primitive_desc_destroy(fpd);
    return st;
}
