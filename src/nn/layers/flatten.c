/* flatten: [n, c, h, w] in any layout -> [n, c*h*w] in torch .view(n, -1) order; free when already plain. */
#include "nn/layers/layers.h"

siamese_status sm_flatten_build(sm_builder *b, const sm_value *in, sm_value *out) {
    if (in->md.ndims == 2) {
        *out = *in;
        return SIAMESE_OK;
    }
    int64_t dims[4] = {in->md.dims[0], in->md.dims[1], in->md.dims[2], in->md.dims[3]};
    dnnl_memory_desc_t plain;
    sm_md_plain(&plain, 4, dims);
    sm_value nchw;
    siamese_status st = sm_builder_conform(b, in, &plain, &nchw);
    if (st != SIAMESE_OK) return st;
    int64_t flat[2] = {dims[0], dims[1] * dims[2] * dims[3]};
    dnnl_memory_desc_t md;
    sm_md_plain(&md, 2, flat);
    return sm_builder_alias(b, &nchw, &md, out);
}
