/* batchnorm2d on oneDNN: batch statistics and PyTorch's running-statistics update in training, running statistics in inference (and in training when frozen), optionally fused with the ReLU after it; the per-channel scale layer as the same primitive. */
#include <stdlib.h>

#include "nn/layers/layers.h"

/* What the running-statistics update needs after a training forward. */
typedef struct running_update {
    dnnl_memory_t mean, var; /* batch statistics (biased variance) */
    float *running_mean, *running_var;
    int64_t *num_batches_tracked;
    int channels;
    double count; /* values per channel: n * h * w */
    double momentum;
} running_update;

/* running = (1 - momentum) * running + momentum * batch, with the unbiased batch variance. */
static int update_running_stats(void *arg) {
    running_update *u = arg;
    void *pm = NULL, *pv = NULL;
    dnnl_memory_get_data_handle(u->mean, &pm);
    dnnl_memory_get_data_handle(u->var, &pv);
    const float *mean = pm, *var = pv;
    double unbias = u->count / (u->count - 1.0);
    for (int c = 0; c < u->channels; c++) {
        u->running_mean[c] =
            (float)(u->momentum * mean[c] + (1.0 - u->momentum) * u->running_mean[c]);
        u->running_var[c] =
            (float)(u->momentum * var[c] * unbias + (1.0 - u->momentum) * u->running_var[c]);
    }
    if (u->num_batches_tracked) (*u->num_batches_tracked)++;
    return 0;
}

static unsigned bn_flags(const sm_layer_params *p) {
    return (p->w ? dnnl_use_scale : 0u) | (p->b ? dnnl_use_shift : 0u);
}

static siamese_status add_running_update(sm_builder *b, const sm_layer *layer,
                                         const sm_layer_params *p, const sm_value *in,
                                         dnnl_memory_t mean, dnnl_memory_t var) {
    running_update *u = calloc(1, sizeof *u);
    if (!u) return sm_fail(b->err, SIAMESE_ERR_NOMEM, "engine: out of memory");
    u->mean = mean;
    u->var = var;
    u->running_mean = p->running_mean;
    u->running_var = p->running_var;
    u->num_batches_tracked = p->num_batches_tracked;
    u->channels = (int)in->md.dims[1];
    u->count = (double)sm_md_elems(&in->md) / (double)u->channels;
    u->momentum = layer->bn_momentum;
    return sm_builder_host_step(b, 0, update_running_stats, u);
}

/* Statistics fixed during training: a frozen batchnorm's running ones, or the scale layer's. */
static int fixed_stats(const sm_layer *layer) {
    return layer->kind == SM_LAYER_SCALE || layer->bn_frozen;
}

static float layer_eps(const sm_layer *layer) {
    return layer->kind == SM_LAYER_SCALE ? 0.0f : layer->bn_eps;
}

/* The scale layer's statistics: mean 0 and variance 1, so that y = weight * x + bias. */
static siamese_status unit_stats(sm_builder *b, const dnnl_memory_desc_t *cmd, int64_t c,
                                 dnnl_memory_t *mean, dnnl_memory_t *var) {
    float *zeros = NULL, *ones = NULL;
    siamese_status st = sm_builder_blob(b, (size_t)c * sizeof(float), (void **)&zeros);
    if (st == SIAMESE_OK) st = sm_builder_blob(b, (size_t)c * sizeof(float), (void **)&ones);
    if (st != SIAMESE_OK) return st;
    for (int64_t i = 0; i < c; i++) ones[i] = 1.0f;
    st = sm_builder_external(b, cmd, zeros, mean);
    if (st == SIAMESE_OK) st = sm_builder_external(b, cmd, ones, var);
    return st;
}

/* The memories a batchnorm step reads besides its input and output. */
typedef struct bn_mems {
    dnnl_memory_t scale, shift, mean, var;
    dnnl_memory_t workspace; /* fused ReLU in training: which outputs were clipped */
} bn_mems;

static siamese_status backward(sm_builder *b, const sm_layer *layer, const sm_layer_params *p,
                               unsigned relu_flag, const sm_value *in, const sm_value *out,
                               const_dnnl_primitive_desc_t fwd, const bn_mems *m) {
    int affine_grads = p->dw || p->db; /* NULL when the layer is frozen */
    if (!affine_grads && !in->diff) return SIAMESE_OK;
    unsigned flags = bn_flags(p) | relu_flag | (fixed_stats(layer) ? dnnl_use_global_stats : 0u);
    dnnl_batch_normalization_desc_t d;
    SM_DNNL_TRY(dnnl_batch_normalization_backward_desc_init(
                    &d, affine_grads ? dnnl_backward : dnnl_backward_data, &in->md, &in->md,
                    layer_eps(layer), flags),
                b->err, "batchnorm backward descriptor");
    siamese_status st = sm_builder_begin_group(b);
    dnnl_primitive_desc_t pd = NULL;
    if (st == SIAMESE_OK) st = sm_builder_pd(b, &d, 0, fwd, &pd, "batchnorm backward");
    if (st != SIAMESE_OK) return st;
    int64_t c[1] = {in->md.dims[1]};
    dnnl_memory_desc_t cmd;
    sm_md_plain(&cmd, 1, c);
    dnnl_memory_t dscale = NULL, dshift = NULL, dsrc = in->diff;
    int dw = affine_grads && p->w, db = affine_grads && p->b;
    if (dw) st = sm_builder_transient(b, &cmd, &dscale);
    if (st == SIAMESE_OK && db) st = sm_builder_transient(b, &cmd, &dshift);
    if (st == SIAMESE_OK && !dsrc) st = sm_builder_transient(b, &in->md, &dsrc);
    if (st == SIAMESE_OK) {
        dnnl_exec_arg_t args[SM_STEP_MAX_ARGS] = {{DNNL_ARG_SRC, in->mem},
                                                  {DNNL_ARG_MEAN, m->mean},
                                                  {DNNL_ARG_VARIANCE, m->var},
                                                  {DNNL_ARG_DIFF_DST, out->diff},
                                                  {DNNL_ARG_DIFF_SRC, dsrc}};
        int nargs = 5;
        if (p->w) {
            args[nargs++] = (dnnl_exec_arg_t){DNNL_ARG_SCALE, m->scale};
            args[nargs++] = (dnnl_exec_arg_t){DNNL_ARG_DIFF_SCALE, dscale};
        }
        if (p->b) args[nargs++] = (dnnl_exec_arg_t){DNNL_ARG_DIFF_SHIFT, dshift};
        if (p->b) args[nargs++] = (dnnl_exec_arg_t){DNNL_ARG_SHIFT, m->shift};
        if (m->workspace) args[nargs++] = (dnnl_exec_arg_t){DNNL_ARG_WORKSPACE, m->workspace};
        st = sm_builder_step(b, 1, pd, args, nargs);
    }
    if (st == SIAMESE_OK && p->w) st = sm_builder_accumulate(b, dscale, 1, c, p->dw);
    if (st == SIAMESE_OK && p->b) st = sm_builder_accumulate(b, dshift, 1, c, p->db);
    dnnl_primitive_desc_destroy(pd);
    return st;
}

/* The fused ReLU's workspace, kept from forward to backward (training only). */
static siamese_status relu_workspace(sm_builder *b, const_dnnl_primitive_desc_t pd,
                                     dnnl_memory_t *ws) {
    *ws = NULL;
    const dnnl_memory_desc_t *md = dnnl_primitive_desc_query_md(pd, dnnl_query_workspace_md, 0);
    if (!md || dnnl_memory_desc_get_size(md) == 0) return SIAMESE_OK;
    return sm_builder_persistent(b, md, ws);
}

siamese_status sm_batchnorm2d_build(sm_builder *b, const sm_layer *layer, int fuse_relu,
                                    const sm_layer_params *p, const sm_value *in, sm_value *out) {
    int64_t c[1] = {in->md.dims[1]};
    int batch_stats = b->training && !fixed_stats(layer);
    if (batch_stats && sm_md_elems(&in->md) / c[0] < 2)
        return sm_fail(b->err, SIAMESE_ERR_SHAPE,
                       "layer %s: batchnorm2d needs more than one value per channel in training",
                       layer->name);
    unsigned relu_flag = fuse_relu ? (unsigned)dnnl_fuse_norm_relu : 0u;
    unsigned flags = bn_flags(p) | relu_flag | (batch_stats ? 0u : dnnl_use_global_stats);
    dnnl_batch_normalization_desc_t d;
    SM_DNNL_TRY(dnnl_batch_normalization_forward_desc_init(
                    &d, b->training ? dnnl_forward_training : dnnl_forward_inference, &in->md,
                    layer_eps(layer), flags),
                b->err, "batchnorm forward descriptor");
    dnnl_primitive_desc_t pd = NULL;
    siamese_status st = sm_builder_pd(b, &d, 0, NULL, &pd, "batchnorm forward");
    if (st != SIAMESE_OK) return st;

    dnnl_memory_desc_t cmd;
    sm_md_plain(&cmd, 1, c);
    bn_mems m = {NULL, NULL, NULL, NULL, NULL};
    if (p->w) st = sm_builder_external(b, &cmd, p->w, &m.scale);
    if (st == SIAMESE_OK && p->b) st = sm_builder_external(b, &cmd, p->b, &m.shift);
    if (st == SIAMESE_OK && layer->kind == SM_LAYER_SCALE) {
        st = unit_stats(b, &cmd, c[0], &m.mean, &m.var);
    } else if (st == SIAMESE_OK && batch_stats) {
        st = sm_builder_persistent(b, &cmd, &m.mean);
        if (st == SIAMESE_OK) st = sm_builder_persistent(b, &cmd, &m.var);
    } else if (st == SIAMESE_OK) {
        st = sm_builder_external(b, &cmd, p->running_mean, &m.mean);
        if (st == SIAMESE_OK) st = sm_builder_external(b, &cmd, p->running_var, &m.var);
    }
    if (st == SIAMESE_OK && b->training && fuse_relu) st = relu_workspace(b, pd, &m.workspace);
    int with_diff = b->training && (in->diff || p->dw || p->db);
    if (st == SIAMESE_OK)
        st = sm_builder_value(b, in, with_diff,
                              dnnl_primitive_desc_query_md(pd, dnnl_query_dst_md, 0), out);
    if (st == SIAMESE_OK) {
        dnnl_exec_arg_t args[SM_STEP_MAX_ARGS] = {{DNNL_ARG_SRC, in->mem},
                                                  {DNNL_ARG_DST, out->mem},
                                                  {DNNL_ARG_MEAN, m.mean},
                                                  {DNNL_ARG_VARIANCE, m.var}};
        int nargs = 4;
        if (p->w) args[nargs++] = (dnnl_exec_arg_t){DNNL_ARG_SCALE, m.scale};
        if (p->b) args[nargs++] = (dnnl_exec_arg_t){DNNL_ARG_SHIFT, m.shift};
        if (m.workspace) args[nargs++] = (dnnl_exec_arg_t){DNNL_ARG_WORKSPACE, m.workspace};
        st = sm_builder_step(b, 0, pd, args, nargs);
    }
    if (st == SIAMESE_OK && batch_stats) st = add_running_update(b, layer, p, in, m.mean, m.var);
    if (st == SIAMESE_OK && with_diff) st = backward(b, layer, p, relu_flag, in, out, pd, &m);
    dnnl_primitive_desc_destroy(pd);
    return st;
}
