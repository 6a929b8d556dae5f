/* relu on oneDNN (standalone; after a conv, batchnorm or add it is fused into them): forward, and backward from the saved output, also for a fused relu. */
#include "nn/layers/layers.h"

siamese_status sm_relu_build(sm_builder *b, const sm_value *in, int with_diff, sm_value *out) {
    dnnl_eltwise_desc_t fd;
    SM_DNNL_TRY(dnnl_eltwise_forward_desc_init(
                    &fd, b->training ? dnnl_forward_training : dnnl_forward_inference,
                    dnnl_eltwise_relu_use_dst_for_bwd, &in->md, 0.0f, 0.0f),
                b->err, "relu forward descriptor");
    dnnl_primitive_desc_t fpd = NULL, bpd = NULL;
    siamese_status st =
        sm_builder_src_dst_forward(b, &fd, in, with_diff, "relu forward", &fpd, out);
    if (st == SIAMESE_OK && b->training && in->diff) {
        dnnl_eltwise_desc_t bd;
        dnnl_status_t s = dnnl_eltwise_backward_desc_init(&bd, dnnl_eltwise_relu_use_dst_for_bwd,
                                                          &in->md, &out->md, 0.0f, 0.0f);
        if (s != dnnl_success) st = sm_dnnl_fail(s, b->err, "relu backward descriptor");
        if (st == SIAMESE_OK) st = sm_builder_begin_group(b);
        if (st == SIAMESE_OK) st = sm_builder_pd(b, &bd, 0, fpd, &bpd, "relu backward");
        if (st == SIAMESE_OK) {
            dnnl_exec_arg_t args[] = {{DNNL_ARG_DST, out->mem},
                                      {DNNL_ARG_DIFF_DST, out->diff},
                                      {DNNL_ARG_DIFF_SRC, in->diff}};
            st = sm_builder_step(b, 1, bpd, args, 3);
        }
    }
    if (bpd) dnnl_primitive_desc_destroy(bpd);
    if (fpd) dnnl_primitive_desc_destroy(fpd);
    return st;
}

siamese_status sm_relu_backward_fused(sm_builder *b, const sm_value *out, dnnl_memory_t diff_src) {
    dnnl_eltwise_desc_t fd, bd;
    dnnl_primitive_desc_t fpd = NULL, bpd = NULL;
    SM_DNNL_TRY(dnnl_eltwise_forward_desc_init(&fd, dnnl_forward_training,
                                               dnnl_eltwise_relu_use_dst_for_bwd, &out->md, 0.0f,
                                               0.0f),
                b->err, "relu forward descriptor");
    SM_DNNL_TRY(dnnl_eltwise_backward_desc_init(&bd, dnnl_eltwise_relu_use_dst_for_bwd, &out->md,
                                                &out->md, 0.0f, 0.0f),
                b->err, "relu backward descriptor");
    siamese_status st = sm_builder_pd(b, &fd, 0, NULL, &fpd, "fused relu forward");
    if (st == SIAMESE_OK) st = sm_builder_pd(b, &bd, 0, fpd, &bpd, "fused relu backward");
    if (st == SIAMESE_OK) {
        dnnl_exec_arg_t args[] = {{DNNL_ARG_DST, out->mem},
                                  {DNNL_ARG_DIFF_DST, out->diff},
                                  {DNNL_ARG_DIFF_SRC, diff_src}};
        st = sm_builder_step(b, 1, bpd, args, 3);
    }
    if (bpd) dnnl_primitive_desc_destroy(bpd);
    if (fpd) dnnl_primitive_desc_destroy(fpd);
    return st;
}
