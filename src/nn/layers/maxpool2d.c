/* maxpool2d on oneDNN (or maxpool_tiles.c where it fits): PyTorch floor rounding, -inf padding; training keeps the workspace for backward. */
#include "nn/layers/layers.h"

siamese_status sm_maxpool2d_build(sm_builder *b, const sm_layer *layer, const sm_value *in,
                                  int with_diff, sm_value *out) {
    if (sm_maxpool_tiles_fit(b, layer, in))
        return sm_maxpool_tiles_build(b, layer, in, with_diff, out);
    dnnl_dims_t strides = {layer->sh, layer->sw}, kernel = {layer->kh, layer->kw};
    dnnl_dims_t dilation = {0, 0}, pad_l = {layer->ph, layer->pw};
    /* Right padding equal to the left one: integer division gives PyTorch's floor rounding. */
    dnnl_dims_t pad_r = {layer->ph, layer->pw};
    int64_t dst_dims[4] = {b->n, layer->out_shape.c, layer->out_shape.h, layer->out_shape.w};
    dnnl_memory_desc_t dst_any;
    sm_md_any_typed(&dst_any, 4, dst_dims, in->md.data_type);
    dnnl_pooling_v2_desc_t fd;
    SM_DNNL_TRY(dnnl_pooling_v2_forward_desc_init(
                    &fd, b->training ? dnnl_forward_training : dnnl_forward_inference,
                    dnnl_pooling_max, &in->md, &dst_any, strides, kernel, dilation, pad_l, pad_r),
                b->err, "maxpool forward descriptor");
    dnnl_primitive_desc_t fpd = NULL, bpd = NULL;
    siamese_status st = sm_builder_pd(b, &fd, 0, NULL, &fpd, "maxpool forward");
    if (st != SIAMESE_OK) return st;

    const dnnl_memory_desc_t *wmd = dnnl_primitive_desc_query_md(fpd, dnnl_query_workspace_md, 0);
    int has_ws = wmd && dnnl_memory_desc_get_size(wmd) > 0;
    dnnl_memory_t ws = NULL;
    if (has_ws) st = sm_builder_persistent(b, wmd, &ws);
    if (st == SIAMESE_OK)
        st = sm_builder_value(b, in, b->training && with_diff,
                              dnnl_primitive_desc_query_md(fpd, dnnl_query_dst_md, 0), out);
    if (st == SIAMESE_OK) {
        dnnl_exec_arg_t args[] = {
            {DNNL_ARG_SRC, in->mem}, {DNNL_ARG_DST, out->mem}, {DNNL_ARG_WORKSPACE, ws}};
        st = sm_builder_step(b, 0, fpd, args, has_ws ? 3 : 2);
    }
    if (st == SIAMESE_OK && b->training && in->diff) {
        dnnl_pooling_v2_desc_t bd;
        dnnl_status_t s = dnnl_pooling_v2_backward_desc_init(
            &bd, dnnl_pooling_max, &in->md, &out->md, strides, kernel, dilation, pad_l, pad_r);
        if (s != dnnl_success) st = sm_dnnl_fail(s, b->err, "maxpool backward descriptor");
        if (st == SIAMESE_OK) st = sm_builder_begin_group(b);
        if (st == SIAMESE_OK) st = sm_builder_pd(b, &bd, 0, fpd, &bpd, "maxpool backward");
        if (st == SIAMESE_OK) {
            dnnl_exec_arg_t args[] = {{DNNL_ARG_DIFF_DST, out->diff},
                                      {DNNL_ARG_DIFF_SRC, in->diff},
                                      {DNNL_ARG_WORKSPACE, ws}};
            st = sm_builder_step(b, 1, bpd, args, has_ws ? 3 : 2);
        }
    }
    if (bpd) dnnl_primitive_desc_destroy(bpd);
    dnnl_primitive_desc_destroy(fpd);
    return st;
}
