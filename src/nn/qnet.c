/* The int8 inference engine: batchnorm folded into convolutions, per-channel int8 weights, u8/s8
 * activations in NHWC with s32 accumulation, requantised by output scales, relu fused, residual
 * adds as sum post-ops, fp32 at the embedding; the same network in fp32 records the calibration
 * ranges. */
#include "nn/qnet.h"

#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <oneapi/dnnl/dnnl.h>
#include <oneapi/dnnl/dnnl_debug.h>

#include "base/signal_hold.h"
#include "base/util.h"
#include "nn/layers/layers.h"

#define QNET_PLANS 4 /* batch sizes kept built at a time */
#define QNET_STEPS (SM_MAX_LAYERS + 2)

typedef enum qop_kind {
    QOP_CONV,
    QOP_LINEAR,
    QOP_POOL,
    QOP_AVG,
    QOP_RELU,
    QOP_BLOCK,
    QOP_SKIP,
    QOP_ADD
} qop_kind;

/* The residual add's pre-relu sum, when it cannot be fused as a sum post-op into the main
 * branch's last conv (a projection or a padded add): s32 (int8) at SUM_SCALE times the add's
 * output scale, then requantised into u8, which saturates negatives: the relu. */
#define SUM_SCALE 16.0f

/* One step of the network: a conv / linear (with what follows it folded or fused), a maxpool, an
 * average pool or a relu of its own, or a residual block's start, skip branch or add. */
typedef struct qop {
    qop_kind kind;
    int layer;       /* the arch layer (conv / linear / maxpool / relu) */
    int relu;        /* conv / linear / add: a relu fused after it */
    int sum;         /* conv: adds its output into the residual sum (a sum post-op) */
    float sum_scale; /* int8: the old value's scale in the sum (new scale / old scale) */
    int fast;        /* add: no projection, no padding: the main branch's last conv sums into x */
    int range_from;  /* conv / linear: the op whose input calibration reads (an average pool's) */
    int fp32_head;   /* int8: the last linear after an average pool, run in fp32 on the pool's
                        fp32 averages of u8 values (its weights divided by their scale) */
    float lo, hi;    /* fp32: the range of that input in the last forward */
    int out;         /* output channels / features */
    size_t per;      /* weights per output channel */
    float *w;        /* [out, per] fp32, batchnorm folded in */
    float *b;        /* [out] fp32 bias, batchnorm folded in (0 when the layer has none) */
    /* int8 */
    int8_t *wq;      /* [out, per] quantised weights */
    float *bias_acc; /* [out] the bias in accumulator units: b * in_scale * w_scale */
    float *oscale;   /* [out] output scales: out_scale / (in_scale * w_scale) */
    float in_scale;  /* input value x is stored as x * in_scale (add: the sum's scale) */
    float out_scale; /* the scale its output is stored at (0: fp32) */
    dnnl_data_type_t in_dt, out_dt;
    dnnl_memory_t wmem; /* weights in the layout the first plan's primitive chose */
    dnnl_memory_desc_t wmd;
} qop;

typedef struct qstep {
    dnnl_primitive_t prim;
    int nargs;
    dnnl_exec_arg_t args[4];
    int layer;   /* -1: the input / output reorder */
    int observe; /* fp32: the op whose input range is read before this step, or -1 */
    dnnl_memory_t observed;
} qstep;

typedef struct qplan {
    int n, threads;
    qstep steps[QNET_STEPS];
    int n_steps;
    dnnl_memory_t owned[2 * QNET_STEPS]; /* activations and weight copies of this plan */
    int n_owned;
    dnnl_memory_t op_in[SM_MAX_LAYERS]; /* the input of each op when it runs */
    dnnl_memory_t user_x, user_emb;
} qplan;

struct sm_qnet {
    sm_arch arch;
    int int8;
    qop ops[SM_MAX_LAYERS];
    int n_ops;
    dnnl_engine_t engine;
    dnnl_stream_t stream;
    qplan *plans[QNET_PLANS];
    int n_plans;
    qplan *last;  /* plan of the last forward */
    double *time; /* non-NULL: seconds per layer added by every forward (sm_qnet_set_timers) */
};

/* The tensors of layer `layer` in the flat arrays. */
typedef struct layer_tensors {
    const float *w, *b, *mean, *var;
} layer_tensors;

static layer_tensors find_tensors(const sm_param_table *table, const float *params,
                                  const float *buffers, int layer) {
    layer_tensors t = {0};
    for (int i = 0; i < table->n; i++) {
        const sm_tensor_info *info = &table->t[i];
        if (info->layer != layer) continue;
        if (info->slot == SM_SLOT_WEIGHT) t.w = params + info->offset;
        else if (info->slot == SM_SLOT_BIAS) t.b = params + info->offset;
        else if (info->slot == SM_SLOT_RUNNING_MEAN) t.mean = buffers + info->offset;
        else if (info->slot == SM_SLOT_RUNNING_VAR) t.var = buffers + info->offset;
    }
    return t;
}

/* w[o, :] *= g[o]; b[o] = b[o] * g[o] + c[o], with g = gamma / sqrt(var + eps) and
 * c = beta - mean * g for a batchnorm (the scale layer: g = weight, c = bias). */
static void fold_affine(qop *op, const sm_layer *l, const layer_tensors *t) {
    for (int o = 0; o < op->out; o++) {
        double g = t->w ? t->w[o] : 1.0, c = t->b ? t->b[o] : 0.0;
        if (l->kind == SM_LAYER_BATCHNORM2D) {
            g /= sqrt((double)t->var[o] + (double)l->bn_eps);
            c -= (double)t->mean[o] * g;
        }
        for (size_t i = 0; i < op->per; i++) op->w[(size_t)o * op->per + i] *= (float)g;
        op->b[o] = (float)((double)op->b[o] * g + c);
    }
}

static siamese_status fill_compute_op(qop *op, const sm_arch *arch, int i,
                                      const sm_param_table *table, const float *params,
                                      const float *buffers, sm_err *err) {
    const sm_layer *l = &arch->layers[i];
    op->kind = l->kind == SM_LAYER_CONV2D ? QOP_CONV : QOP_LINEAR;
    op->layer = i;
    op->out = l->out;
    op->per = (size_t)l->in.c * (size_t)l->in.h * (size_t)l->in.w;
    if (op->kind == QOP_CONV) op->per = (size_t)l->in.c * (size_t)l->kh * (size_t)l->kw;
    op->w = malloc((size_t)op->out * op->per * sizeof(float));
    op->b = calloc((size_t)op->out, sizeof(float));
    if (!op->w || !op->b)
        return sm_fail(err, SIAMESE_ERR_NOMEM, "int8: out of memory for layer %d", i + 1);
    layer_tensors t = find_tensors(table, params, buffers, i);
    memcpy(op->w, t.w, (size_t)op->out * op->per * sizeof(float));
    if (t.b) memcpy(op->b, t.b, (size_t)op->out * sizeof(float));
    return SIAMESE_OK;
}

static void mark_sums(sm_qnet *q);

/* A per-channel affine x -> g[c] x + h[c] applied to the input of op's conv, folded into it:
 * w[o, c, :] *= g[c]; b[o] += sum over c and the kernel of w[o, c, :] h[c] (exact without
 * padding). */
static void fold_input_affine(qop *op, const layer_tensors *t, int channels) {
    size_t k = op->per / (size_t)channels;
    for (int o = 0; o < op->out; o++) {
        double shift = 0.0;
        for (int c = 0; c < channels; c++) {
            double g = t->w ? t->w[c] : 1.0, h = t->b ? t->b[c] : 0.0;
            float *w = op->w + (size_t)o * op->per + (size_t)c * k;
            for (size_t i = 0; i < k; i++) {
                shift += (double)w[i] * h;
                w[i] = (float)((double)w[i] * g);
            }
        }
        op->b[o] = (float)((double)op->b[o] + shift);
    }
}

static qop_kind op_kind(sm_layer_kind kind) {
    switch (kind) {
    case SM_LAYER_CONV2D:
        return QOP_CONV;
    case SM_LAYER_LINEAR:
        return QOP_LINEAR;
    case SM_LAYER_MAXPOOL2D:
        return QOP_POOL;
    case SM_LAYER_AVGPOOL:
        return QOP_AVG;
    case SM_LAYER_BLOCK:
        return QOP_BLOCK;
    case SM_LAYER_SKIP:
        return QOP_SKIP;
    case SM_LAYER_ADD:
        return QOP_ADD;
    default:
        return QOP_RELU;
    }
}

/* Turns the arch into ops: folds batchnorms and scales into the conv before them (or a scale
 * into the unpadded conv after it), fuses a relu right after a conv / linear / add, drops
 * flatten (a linear reads a 4-D input as PyTorch's view) and dropout (the identity here). */
static siamese_status make_ops(sm_qnet *q, const sm_param_table *table, const float *params,
                               const float *buffers, sm_err *err) {
    const sm_arch *arch = &q->arch;
    int tail = -1; /* the last layer taken into a conv / linear / add op */
    int pre = -1;  /* a scale layer waiting for the conv after it */
    for (int i = 0; i < arch->n_layers; i++) {
        const sm_layer *l = &arch->layers[i];
        qop *op = &q->ops[q->n_ops];
        if (l->kind == SM_LAYER_FLATTEN || l->kind == SM_LAYER_DROPOUT) continue;
        if (sm_qnet_is_pre_fold(arch, i)) {
            pre = i;
            continue;
        }
        if (sm_qnet_is_fold(l)) {
            layer_tensors t = find_tensors(table, params, buffers, i);
            fold_affine(&q->ops[q->n_ops - 1], l, &t);
            tail = i;
            continue;
        }
        if (l->kind == SM_LAYER_RELU && tail == i - 1 && !q->ops[q->n_ops - 1].relu) {
            q->ops[q->n_ops - 1].relu = 1;
            continue;
        }
        if (l->kind == SM_LAYER_CONV2D || l->kind == SM_LAYER_LINEAR || l->kind == SM_LAYER_ADD)
            tail = i;
        q->n_ops++;
        op->in_dt = op->out_dt = dnnl_f32; /* int8 types are set by quantise_ops */
        op->kind = op_kind(l->kind);
        op->layer = i;
        op->range_from = q->n_ops - 1;
        if (op->kind <= QOP_LINEAR) {
            siamese_status st = fill_compute_op(op, arch, i, table, params, buffers, err);
            if (st != SIAMESE_OK) return st;
            if (pre == i - 1) {
                layer_tensors t = find_tensors(table, params, buffers, pre);
                fold_input_affine(op, &t, l->in.c);
            }
            for (int j = q->n_ops - 2; j >= 0 && q->ops[j].kind == QOP_AVG; j--)
                op->range_from = j; /* an average pool narrows the range: read its input's */
        }
    }
    mark_sums(q);
    return SIAMESE_OK;
}

/* 1 when the calibration's weight scales are those of the op's (folded) weights, to 0.1%: a
 * calibration made for other weights is refused. */
static int scales_match(const qop *op, const sm_quant_layer *ql) {
    float *fresh = malloc((size_t)op->out * sizeof(float));
    if (!fresh) return 0;
    sm_quant_weight_scales(op->w, op->out, op->per, fresh);
    int same = 1;
    for (int o = 0; o < op->out && same; o++)
        same = fabsf(fresh[o] - ql->w_scale[o]) <= 1e-3f * fresh[o];
    free(fresh);
    return same;
}

/* Per residual add: whether it is fused into the main branch's last conv (no projection, no
 * padding: that conv sums into the block's input), else a projection conv sums into the main
 * branch's output (no padding), else the add is a reorder into a window of the skip's output. */
static void mark_sums(sm_qnet *q) {
    for (int a = 0; a < q->n_ops; a++) {
        if (q->ops[a].kind != QOP_ADD) continue;
        int skip = -1;
        for (int j = a - 1; j >= 0 && q->ops[j].kind != QOP_BLOCK; j--)
            if (q->ops[j].kind == QOP_SKIP) skip = j;
        int pad = q->arch.layers[q->ops[a].layer].add_pad;
        q->ops[a].fast = skip < 0 && !pad;
        if (!pad) q->ops[a - 1].sum = 1;
        if (q->ops[a].fast) q->ops[a - 1].relu = q->ops[a].relu; /* relu(conv + x) */
    }
}

/* The int8 form of a conv / linear: s8 weights, the bias in accumulator units and the output
 * scales towards out_scale (0: fp32 out). */
static siamese_status quantise_weights(qop *op, const sm_quant_layer *ql, float out_scale,
                                       sm_err *err) {
    op->wq = malloc((size_t)op->out * op->per);
    op->bias_acc = malloc((size_t)op->out * sizeof(float));
    op->oscale = malloc((size_t)op->out * sizeof(float));
    if (!op->wq || !op->bias_acc || !op->oscale)
        return sm_fail(err, SIAMESE_ERR_NOMEM, "int8: out of memory for layer %d", op->layer + 1);
    sm_quant_weights(op->w, op->out, op->per, ql->w_scale, op->wq);
    free(op->w); /* only the int8 copy is used from now on */
    op->w = NULL;
    for (int o = 0; o < op->out; o++) {
        double acc_unit = (double)op->in_scale * (double)ql->w_scale[o];
        op->bias_acc[o] = (float)((double)op->b[o] * acc_unit);
        op->oscale[o] = (float)((out_scale > 0.0f ? (double)out_scale : 1.0) / acc_unit);
    }
    return SIAMESE_OK;
}

/* The calibration entry of a conv / linear op, checked against its weights. */
static siamese_status find_calibration(const sm_qnet *q, const qop *op, const sm_quant *quant,
                                       const sm_quant_layer **out, sm_err *err) {
    const sm_quant_layer *ql = NULL;
    for (int j = 0; j < quant->n; j++)
        if (quant->l[j].layer == op->layer) ql = &quant->l[j];
    if (!ql || ql->out != op->out)
        return sm_fail(err, SIAMESE_ERR_FORMAT, "int8: no calibration for layer %d (%s)",
                       op->layer + 1, q->arch.layers[op->layer].name);
    if (!scales_match(op, ql))
        return sm_fail(err, SIAMESE_ERR_FORMAT,
                       "int8: the calibration of layer %d (%s) does not match its weights (were "
                       "they changed after quantising? quantise the model again)",
                       op->layer + 1, q->arch.layers[op->layer].name);
    *out = ql;
    return SIAMESE_OK;
}

/* Forwards: each conv / linear input's scale and type from its calibrated range; a block's input
 * (read by its main branch and its projection) takes its main branch's first conv's. */
static siamese_status input_scales(sm_qnet *q, const sm_quant *quant, sm_err *err) {
    int block = -1;
    for (int k = 0; k < q->n_ops; k++) {
        qop *op = &q->ops[k];
        if (op->kind == QOP_BLOCK) block = k;
        if (op->kind > QOP_LINEAR) continue;
        const sm_quant_layer *ql = NULL;
        siamese_status st = find_calibration(q, op, quant, &ql, err);
        if (st != SIAMESE_OK) return st;
        op->in_scale = sm_quant_scale(ql->in_lo, ql->in_hi);
        op->in_dt = sm_quant_signed(ql->in_lo) ? dnnl_s8 : dnnl_u8;
        if (block >= 0 && k == block + 1) {
            q->ops[block].in_scale = op->in_scale;
            q->ops[block].in_dt = op->in_dt;
        } else if (block >= 0 && q->ops[k - 1].kind == QOP_SKIP) {
            op->in_scale = q->ops[block].in_scale; /* the same tensor: one scale */
            op->in_dt = q->ops[block].in_dt;
        }
    }
    return SIAMESE_OK;
}

/* int8: backwards, each op's output takes the type and scale its reader wants: the next conv /
 * linear's input (pools pass it through), a residual sum's (the block's input for a fused add,
 * s32 at SUM_SCALE times the add's scale otherwise), fp32 after the last one. */
static siamese_status quantise_ops(sm_qnet *q, const sm_quant *quant, sm_err *err) {
    if (q->n_ops == 0 || q->ops[0].kind > QOP_LINEAR)
        return sm_fail(err, SIAMESE_ERR_UNSUPPORTED,
                       "int8: the network does not start with a conv or linear layer");
    siamese_status st = input_scales(q, quant, err);
    dnnl_data_type_t dt = dnnl_f32;
    float scale = 0.0f;
    int add = -1, block = -1;
    for (int k = q->n_ops - 1; k >= 0 && st == SIAMESE_OK; k--) {
        qop *op = &q->ops[k];
        op->out_dt = dt;
        op->out_scale = scale;
        if (op->kind == QOP_ADD) {
            if (dt == dnnl_f32)
                return sm_fail(err, SIAMESE_ERR_UNSUPPORTED,
                               "int8: the residual add of layer %d is read by no conv or linear",
                               op->layer + 1);
            for (block = k - 1; q->ops[block].kind != QOP_BLOCK; block--) continue;
            add = k;
            op->in_dt = op->fast ? q->ops[block].in_dt : dnnl_s32;
            op->in_scale = op->fast ? scale : SUM_SCALE * scale;
            dt = op->fast ? dt : dnnl_s32;
            scale = op->in_scale;
            continue;
        }
        if (op->kind == QOP_SKIP) { /* the main branch ends in the add's sum too */
            dt = q->ops[add].fast ? q->ops[add].out_dt : dnnl_s32;
            scale = q->ops[add].in_scale;
            continue;
        }
        if (op->kind > QOP_LINEAR) {
            op->in_dt = dt;
            op->in_scale = scale;
            continue;
        }
        const sm_quant_layer *ql = NULL;
        st = find_calibration(q, op, quant, &ql, err);
        op->fp32_head = op->range_from != k && dt == dnnl_f32;
        if (st == SIAMESE_OK && op->fp32_head)
            for (size_t i = 0; i < (size_t)op->out * op->per; i++) op->w[i] /= op->in_scale;
        else if (st == SIAMESE_OK) st = quantise_weights(op, ql, scale, err);
        if (op->sum && add >= 0 && q->ops[add].fast) /* the block's input is the old value */
            op->sum_scale = scale / q->ops[block].in_scale;
        else if (op->sum)
            op->sum_scale = 1.0f; /* the main branch's sum, already in the sum's units */
        dt = op->in_dt;
        scale = op->in_scale;
    }
    return st;
}

/* ---------------------------------------------------------------- plans */

static void plan_free(qplan *p) {
    if (!p) return;
    for (int i = 0; i < p->n_steps; i++) dnnl_primitive_destroy(p->steps[i].prim);
    for (int i = 0; i < p->n_owned; i++) dnnl_memory_destroy(p->owned[i]);
    if (p->user_x) dnnl_memory_destroy(p->user_x);
    if (p->user_emb) dnnl_memory_destroy(p->user_emb);
    free(p);
}

static siamese_status new_memory(sm_qnet *q, qplan *p, const dnnl_memory_desc_t *md, void *handle,
                                 dnnl_memory_t *out, sm_err *err) {
    if (p->n_owned >= 2 * QNET_STEPS)
        return sm_fail(err, SIAMESE_ERR_LIMIT, "int8: too many tensors in a plan");
    SM_DNNL_TRY(dnnl_memory_create(out, md, q->engine, handle), err, "int8 memory");
    p->owned[p->n_owned++] = *out;
    return SIAMESE_OK;
}

/* Creates the primitive of pd as the plan's next step with args. */
static siamese_status add_step(qplan *p, dnnl_primitive_desc_t pd, const dnnl_exec_arg_t *args,
                               int nargs, int layer, sm_err *err) {
    if (p->n_steps >= QNET_STEPS) return sm_fail(err, SIAMESE_ERR_LIMIT, "int8: plan too long");
    qstep *s = &p->steps[p->n_steps];
    SM_DNNL_TRY(dnnl_primitive_create(&s->prim, pd), err, "int8 primitive");
    memcpy(s->args, args, (size_t)nargs * sizeof *args);
    s->nargs = nargs;
    s->layer = layer;
    s->observe = -1;
    s->observed = NULL;
    p->n_steps++;
    return SIAMESE_OK;
}

static void md_tagged(dnnl_memory_desc_t *md, int ndims, const int64_t *dims, dnnl_data_type_t dt,
                      dnnl_format_tag_t tag) {
    dnnl_dims_t d = {0};
    for (int i = 0; i < ndims; i++) d[i] = dims[i];
    dnnl_memory_desc_init_by_tag(md, ndims, d, dt, tag);
}

/* A reorder src -> dst as a step of layer (-1: the input / output); scale != 0: values multiplied
 * by it; sum: added to dst's values. */
static siamese_status add_reorder(sm_qnet *q, qplan *p, dnnl_memory_t src, dnnl_memory_t dst,
                                  float scale, int sum, int layer, sm_err *err) {
    const dnnl_memory_desc_t *smd, *dmd;
    dnnl_memory_get_memory_desc(src, &smd);
    dnnl_memory_get_memory_desc(dst, &dmd);
    dnnl_primitive_attr_t attr = NULL;
    dnnl_post_ops_t po = NULL;
    SM_DNNL_TRY(dnnl_primitive_attr_create(&attr), err, "int8 attribute");
    dnnl_status_t s =
        scale != 0.0f ? dnnl_primitive_attr_set_output_scales(attr, 1, 0, &scale) : dnnl_success;
    if (s == dnnl_success && sum) {
        s = dnnl_post_ops_create(&po);
        if (s == dnnl_success) s = dnnl_post_ops_append_sum(po, 1.0f);
        if (s == dnnl_success) s = dnnl_primitive_attr_set_post_ops(attr, po);
        if (po) dnnl_post_ops_destroy(po);
    }
    dnnl_primitive_desc_t pd = NULL;
    if (s == dnnl_success)
        s = dnnl_reorder_primitive_desc_create(&pd, smd, q->engine, dmd, q->engine, attr);
    dnnl_primitive_attr_destroy(attr);
    if (s != dnnl_success)
        return sm_dnnl_fail(s, err, layer < 0 ? "int8 input/output reorder" : "int8 residual add");
    dnnl_exec_arg_t args[] = {{DNNL_ARG_FROM, src}, {DNNL_ARG_TO, dst}};
    siamese_status st = add_step(p, pd, args, 2, layer, err);
    dnnl_primitive_desc_destroy(pd);
    return st;
}

/* Runs a reorder of the weights now (they never change). */
static siamese_status reorder_now(sm_qnet *q, dnnl_memory_t src, dnnl_memory_t dst, sm_err *err) {
    const dnnl_memory_desc_t *smd, *dmd;
    dnnl_memory_get_memory_desc(src, &smd);
    dnnl_memory_get_memory_desc(dst, &dmd);
    dnnl_primitive_desc_t pd = NULL;
    dnnl_primitive_t prim = NULL;
    SM_DNNL_TRY(dnnl_reorder_primitive_desc_create(&pd, smd, q->engine, dmd, q->engine, NULL), err,
                "int8 weights reorder");
    dnnl_status_t s = dnnl_primitive_create(&prim, pd);
    dnnl_primitive_desc_destroy(pd);
    if (s == dnnl_success) {
        dnnl_exec_arg_t args[] = {{DNNL_ARG_FROM, src}, {DNNL_ARG_TO, dst}};
        s = dnnl_primitive_execute(prim, q->stream, 2, args);
        if (s == dnnl_success) s = dnnl_stream_wait(q->stream);
        dnnl_primitive_destroy(prim);
    }
    return s == dnnl_success ? SIAMESE_OK : sm_dnnl_fail(s, err, "int8 weights reorder");
}

/* The op's weights in the layout md: its cached copy when md matches, else a new copy. */
static siamese_status weights_for(sm_qnet *q, qplan *p, qop *op, int ndims, const int64_t *dims,
                                  const dnnl_memory_desc_t *md, dnnl_memory_t *out, sm_err *err) {
    if (op->wmem && dnnl_memory_desc_equal(&op->wmd, md)) {
        *out = op->wmem;
        return SIAMESE_OK;
    }
    dnnl_memory_desc_t plain;
    md_tagged(&plain, ndims, dims, op->wq ? dnnl_s8 : dnnl_f32, ndims == 4 ? dnnl_abcd : dnnl_ab);
    dnnl_memory_t user = NULL, mem = NULL;
    SM_DNNL_TRY(
        dnnl_memory_create(&user, &plain, q->engine, op->wq ? (void *)op->wq : (void *)op->w), err,
        "int8 weights memory");
    dnnl_status_t s = dnnl_memory_create(&mem, md, q->engine, DNNL_MEMORY_ALLOCATE);
    siamese_status st = s == dnnl_success ? reorder_now(q, user, mem, err)
                                          : sm_dnnl_fail(s, err, "int8 weights memory");
    dnnl_memory_destroy(user);
    if (st != SIAMESE_OK) {
        if (mem) dnnl_memory_destroy(mem);
        return st;
    }
    if (!op->wmem) {
        op->wmem = mem;
        op->wmd = *md;
    } else if (p->n_owned < 2 * QNET_STEPS) {
        p->owned[p->n_owned++] = mem;
    } else {
        dnnl_memory_destroy(mem);
        return sm_fail(err, SIAMESE_ERR_LIMIT, "int8: too many tensors in a plan");
    }
    *out = mem;
    return SIAMESE_OK;
}

/* Output scales (int8), a residual sum (sum_dt: the type of the values it adds to, undef: none)
 * and a fused relu. */
static siamese_status compute_attr(const sm_qnet *q, const qop *op, dnnl_data_type_t sum_dt,
                                   dnnl_primitive_attr_t *attr, sm_err *err) {
    SM_DNNL_TRY(dnnl_primitive_attr_create(attr), err, "int8 attribute");
    dnnl_status_t s = dnnl_success;
    if (op->wq) s = dnnl_primitive_attr_set_output_scales(*attr, op->out, 1 << 1, op->oscale);
    if (s == dnnl_success && (op->relu || sum_dt != dnnl_data_type_undef)) {
        dnnl_post_ops_t po = NULL;
        s = dnnl_post_ops_create(&po);
        if (s == dnnl_success && sum_dt != dnnl_data_type_undef)
            s = dnnl_post_ops_append_sum_v2(po, q->int8 ? op->sum_scale : 1.0f, sum_dt);
        if (s == dnnl_success && op->relu)
            s = dnnl_post_ops_append_eltwise(po, 1.0f, dnnl_eltwise_relu, 0, 0);
        if (s == dnnl_success) s = dnnl_primitive_attr_set_post_ops(*attr, po);
        if (po) dnnl_post_ops_destroy(po);
    }
    if (s != dnnl_success) {
        dnnl_primitive_attr_destroy(*attr);
        *attr = NULL;
        return sm_dnnl_fail(s, err, "int8 attribute");
    }
    return SIAMESE_OK;
}

/* A conv or linear op reading *cur (layout *md) into a new activation, or adding into sum_to (a
 * residual sum). */
static siamese_status build_compute(sm_qnet *q, qplan *p, qop *op, dnnl_memory_t sum_to,
                                    dnnl_memory_desc_t *md, dnnl_memory_t *cur, sm_err *err) {
    const sm_layer *l = &q->arch.layers[op->layer];
    dnnl_data_type_t wdt = op->wq ? dnnl_s8 : dnnl_f32;
    int64_t bias_dims[1] = {op->out};
    dnnl_memory_desc_t wmd, bmd, dmd;
    md_tagged(&bmd, 1, bias_dims, dnnl_f32, dnnl_a);
    int64_t wdims[4];
    int wnd;
    union {
        dnnl_convolution_desc_t conv;
        dnnl_inner_product_desc_t ip;
    } d;
    dnnl_status_t s;
    if (op->kind == QOP_CONV) {
        int64_t w4[4] = {op->out, l->in.c, l->kh, l->kw};
        int64_t dst[4] = {p->n, l->out_shape.c, l->out_shape.h, l->out_shape.w};
        memcpy(wdims, w4, sizeof w4);
        wnd = 4;
        md_tagged(&wmd, 4, wdims, wdt, dnnl_format_tag_any);
        md_tagged(&dmd, 4, dst, op->out_dt, dnnl_acdb);
        dnnl_dims_t strides = {l->sh, l->sw}, pad = {l->ph, l->pw};
        s = dnnl_convolution_forward_desc_init(&d.conv, dnnl_forward_inference,
                                               dnnl_convolution_direct, md, &wmd, &bmd, &dmd,
                                               strides, pad, pad);
    } else {
        wnd = md->ndims;
        wdims[0] = op->out;
        for (int k = 1; k < wnd; k++) wdims[k] = md->dims[k];
        int64_t dst[2] = {p->n, op->out};
        md_tagged(&wmd, wnd, wdims, wdt, dnnl_format_tag_any);
        md_tagged(&dmd, 2, dst, op->out_dt, dnnl_ab);
        s = dnnl_inner_product_forward_desc_init(&d.ip, dnnl_forward_inference, md, &wmd, &bmd,
                                                 &dmd);
    }
    if (s != dnnl_success) {
        char what[96];
        snprintf(what, sizeof what, "int8 descriptor of layer %d (%s)", op->layer + 1, l->name);
        return sm_dnnl_fail(s, err, what);
    }
    dnnl_data_type_t sum_dt = dnnl_data_type_undef;
    void *sum_data = NULL;
    if (sum_to) {
        const dnnl_memory_desc_t *smd = NULL;
        dnnl_memory_get_memory_desc(sum_to, &smd);
        dnnl_memory_get_data_handle(sum_to, &sum_data);
        sum_dt = smd->data_type;
    }
    dnnl_primitive_attr_t attr = NULL;
    siamese_status st = compute_attr(q, op, sum_dt, &attr, err);
    if (st != SIAMESE_OK) return st;
    dnnl_primitive_desc_t pd = NULL;
    s = dnnl_primitive_desc_create(&pd, &d, attr, q->engine, NULL);
    dnnl_primitive_attr_destroy(attr);
    if (s != dnnl_success) {
        char what[96];
        snprintf(what, sizeof what, "int8 %s of layer %d (%s)",
                 op->kind == QOP_CONV ? "convolution" : "inner product", op->layer + 1, l->name);
        return sm_dnnl_fail(s, err, what);
    }
    dnnl_memory_t w = NULL, bias = NULL, dst = NULL;
    st = weights_for(q, p, op, wnd, wdims,
                     dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0), &w, err);
    if (st == SIAMESE_OK) st = new_memory(q, p, &bmd, op->wq ? op->bias_acc : op->b, &bias, err);
    if (st == SIAMESE_OK)
        st = new_memory(q, p, &dmd, sum_to ? sum_data : DNNL_MEMORY_ALLOCATE, &dst, err);
    if (st == SIAMESE_OK) {
        dnnl_exec_arg_t args[] = {{DNNL_ARG_SRC, *cur},
                                  {DNNL_ARG_WEIGHTS, w},
                                  {DNNL_ARG_BIAS, bias},
                                  {DNNL_ARG_DST, dst}};
        st = add_step(p, pd, args, 4, op->layer, err);
    }
    dnnl_primitive_desc_destroy(pd);
    *md = dmd;
    *cur = dst;
    return st;
}

/* A maxpool, an average pool or a standalone relu: same type in and out, NHWC. */
static siamese_status build_simple(sm_qnet *q, qplan *p, const qop *op, dnnl_memory_desc_t *md,
                                   dnnl_memory_t *cur, sm_err *err) {
    const sm_layer *l = &q->arch.layers[op->layer];
    union {
        dnnl_pooling_v2_desc_t pool;
        dnnl_eltwise_desc_t relu;
    } d;
    dnnl_memory_desc_t dmd = *md;
    dnnl_status_t s;
    if (op->kind == QOP_POOL || op->kind == QOP_AVG) {
        int avg = op->kind == QOP_AVG; /* global: one window over the whole map */
        int64_t dst[4] = {p->n, l->out_shape.c, l->out_shape.h, l->out_shape.w};
        const qop *next = op + 1 < q->ops + q->n_ops ? op + 1 : NULL;
        if (avg && next && next->fp32_head && md->data_type != dnnl_f32) {
            /* the averages in fp32 for the head (oneDNN has no u8 -> f32 pooling): the u8
             * values as floats, still in their quantised units */
            dnnl_memory_desc_t fmd;
            dnnl_memory_t f = NULL;
            md_tagged(&fmd, 4, md->dims, dnnl_f32, dnnl_acdb);
            siamese_status st = new_memory(q, p, &fmd, DNNL_MEMORY_ALLOCATE, &f, err);
            if (st == SIAMESE_OK) st = add_reorder(q, p, *cur, f, 0.0f, 0, op->layer, err);
            if (st != SIAMESE_OK) return st;
            *md = fmd;
            *cur = f;
        }
        md_tagged(&dmd, 4, dst, md->data_type, dnnl_acdb);
        dnnl_dims_t strides = {avg ? 1 : l->sh, avg ? 1 : l->sw}, dil = {0, 0};
        dnnl_dims_t kernel = {avg ? l->in.h : l->kh, avg ? l->in.w : l->kw};
        dnnl_dims_t pad = {avg ? 0 : l->ph, avg ? 0 : l->pw};
        s = dnnl_pooling_v2_forward_desc_init(&d.pool, dnnl_forward_inference,
                                              avg ? dnnl_pooling_avg_exclude_padding
                                                  : dnnl_pooling_max,
                                              md, &dmd, strides, kernel, dil, pad, pad);
    } else {
        s = dnnl_eltwise_forward_desc_init(&d.relu, dnnl_forward_inference, dnnl_eltwise_relu, md,
                                           0.0f, 0.0f);
    }
    dnnl_primitive_desc_t pd = NULL;
    if (s == dnnl_success) s = dnnl_primitive_desc_create(&pd, &d, NULL, q->engine, NULL);
    if (s != dnnl_success)
        return sm_dnnl_fail(s, err, op->kind == QOP_RELU ? "int8 relu" : "int8 pooling");
    dnnl_memory_t dst = NULL;
    siamese_status st = new_memory(q, p, &dmd, DNNL_MEMORY_ALLOCATE, &dst, err);
    if (st == SIAMESE_OK) {
        dnnl_exec_arg_t args[] = {{DNNL_ARG_SRC, *cur}, {DNNL_ARG_DST, dst}};
        st = add_step(p, pd, args, 2, op->layer, err);
    }
    dnnl_primitive_desc_destroy(pd);
    *md = dmd;
    *cur = dst;
    return st;
}

/* The tensors of the residual block being built: its input x and its main branch's output. */
typedef struct block_mem {
    dnnl_memory_t x, main;
    dnnl_memory_desc_t x_md, main_md;
    int block; /* its op */
    int in_skip;
} block_mem;

/* A new dense NHWC activation of type dt for layer l's output. */
static siamese_status new_activation(sm_qnet *q, qplan *p, const sm_shape *shape,
                                     dnnl_data_type_t dt, dnnl_memory_desc_t *md,
                                     dnnl_memory_t *out, sm_err *err) {
    int64_t dims[4] = {p->n, shape->c, shape->h, shape->w};
    md_tagged(md, 4, dims, dt, dnnl_acdb);
    return new_memory(q, p, md, DNNL_MEMORY_ALLOCATE, out, err);
}

/* The relu after a sum that is not fused: in int8 the s32 sum requantised into u8 (saturation
 * is the relu), in fp32 an eltwise relu. */
static siamese_status add_sum_relu(sm_qnet *q, qplan *p, const qop *op, dnnl_memory_t sum,
                                   dnnl_memory_desc_t *md, dnnl_memory_t *cur, sm_err *err) {
    const sm_layer *l = &q->arch.layers[op->layer];
    dnnl_memory_t out = NULL;
    siamese_status st =
        new_activation(q, p, &l->out_shape, q->int8 ? op->out_dt : dnnl_f32, md, &out, err);
    if (st != SIAMESE_OK) return st;
    *cur = out;
    if (q->int8)
        return add_reorder(q, p, sum, out, op->out_scale / op->in_scale, 0, op->layer, err);
    dnnl_eltwise_desc_t d;
    const dnnl_memory_desc_t *smd = NULL;
    dnnl_memory_get_memory_desc(sum, &smd);
    dnnl_primitive_desc_t pd = NULL;
    dnnl_status_t s = dnnl_eltwise_forward_desc_init(&d, dnnl_forward_inference, dnnl_eltwise_relu,
                                                     smd, 0.0f, 0.0f);
    if (s == dnnl_success) s = dnnl_primitive_desc_create(&pd, &d, NULL, q->engine, NULL);
    if (s != dnnl_success) return sm_dnnl_fail(s, err, "int8 residual relu");
    dnnl_exec_arg_t args[] = {{DNNL_ARG_SRC, sum}, {DNNL_ARG_DST, out}};
    st = add_step(p, pd, args, 2, op->layer, err);
    dnnl_primitive_desc_destroy(pd);
    return st;
}

/* The residual add that is not fused into a conv. Padded (face-api's down blocks): the main
 * branch's output (smaller) is added into the top-left window of the skip's (the projection's
 * output, or the block's input in the sum's type); then the relu. */
static siamese_status build_add(sm_qnet *q, qplan *p, const qop *op, const block_mem *b,
                                dnnl_memory_desc_t *md, dnnl_memory_t *cur, sm_err *err) {
    const sm_layer *l = &q->arch.layers[op->layer];
    siamese_status st = SIAMESE_OK;
    dnnl_memory_t sum = *cur; /* no padding: the projection already summed into the main output */
    if (l->add_pad) {
        if (!b->in_skip) { /* identity skip: the block's input in the sum's type */
            dnnl_memory_desc_t smd;
            st =
                new_activation(q, p, &l->out_shape, q->int8 ? dnnl_s32 : dnnl_f32, &smd, &sum, err);
            float scale = q->int8 ? op->in_scale / q->ops[b->block].in_scale : 0.0f;
            if (st == SIAMESE_OK) st = add_reorder(q, p, b->x, sum, scale, 0, op->layer, err);
        }
        const dnnl_memory_desc_t *whole = NULL;
        dnnl_memory_get_memory_desc(sum, &whole);
        dnnl_memory_desc_t window;
        dnnl_dims_t offsets = {0, 0, 0, 0};
        void *data = NULL;
        dnnl_memory_get_data_handle(sum, &data);
        dnnl_memory_t view = NULL;
        if (st == SIAMESE_OK && dnnl_memory_desc_init_submemory(&window, whole, b->main_md.dims,
                                                                offsets) != dnnl_success)
            st = sm_fail(err, SIAMESE_ERR_SHAPE, "int8: the padded add of layer %d", op->layer + 1);
        if (st == SIAMESE_OK) st = new_memory(q, p, &window, data, &view, err);
        if (st == SIAMESE_OK) st = add_reorder(q, p, b->main, view, 0.0f, 1, op->layer, err);
    }
    if (st == SIAMESE_OK) st = add_sum_relu(q, p, op, sum, md, cur, err);
    return st;
}

/* One op of the plan; b: the residual block being built. */
static siamese_status build_op(sm_qnet *q, qplan *p, int k, block_mem *b, dnnl_memory_desc_t *md,
                               dnnl_memory_t *cur, sm_err *err) {
    qop *op = &q->ops[k];
    switch (op->kind) {
    case QOP_CONV:
    case QOP_LINEAR: {
        int at = p->n_steps;
        siamese_status st =
            build_compute(q, p, op, op->sum ? (b->in_skip ? b->main : b->x) : NULL, md, cur, err);
        if (st == SIAMESE_OK && !q->int8) {
            p->steps[at].observe = k;
            p->steps[at].observed = p->op_in[op->range_from];
        }
        return st;
    }
    case QOP_BLOCK:
        b->x = *cur;
        b->x_md = *md;
        b->block = k;
        b->in_skip = 0;
        return SIAMESE_OK;
    case QOP_SKIP:
        b->main = *cur;
        b->main_md = *md;
        b->in_skip = 1;
        *cur = b->x;
        *md = b->x_md;
        return SIAMESE_OK;
    case QOP_ADD:
        if (op->fast) return SIAMESE_OK; /* the main branch's last conv summed into x */
        if (!b->in_skip) {
            b->main = *cur;
            b->main_md = *md;
        }
        return build_add(q, p, op, b, md, cur, err);
    default:
        return build_simple(q, p, op, md, cur, err);
    }
}

/* Input reorder (quantising in int8), every op, output reorder to the plain embedding. */
static siamese_status build_plan(sm_qnet *q, qplan *p, sm_err *err) {
    sm_shape in = q->arch.input;
    int64_t xdims[4] = {p->n, in.c, in.h, in.w};
    dnnl_memory_desc_t umd, md;
    md_tagged(&umd, 4, xdims, dnnl_f32, dnnl_abcd);
    md_tagged(&md, 4, xdims, q->int8 ? q->ops[0].in_dt : dnnl_f32, dnnl_acdb);
    SM_DNNL_TRY(dnnl_memory_create(&p->user_x, &umd, q->engine, NULL), err, "int8 input");
    dnnl_memory_t cur = NULL;
    siamese_status st = new_memory(q, p, &md, DNNL_MEMORY_ALLOCATE, &cur, err);
    if (st == SIAMESE_OK)
        st = add_reorder(q, p, p->user_x, cur, q->int8 ? q->ops[0].in_scale : 0.0f, 0, -1, err);
    block_mem b = {0};
    for (int k = 0; k < q->n_ops && st == SIAMESE_OK; k++) {
        p->op_in[k] = cur;
        st = build_op(q, p, k, &b, &md, &cur, err);
    }
    if (st != SIAMESE_OK) return st;
    int64_t edims[4];
    for (int k = 0; k < md.ndims; k++) edims[k] = md.dims[k];
    md_tagged(&umd, md.ndims, edims, dnnl_f32, md.ndims == 4 ? dnnl_abcd : dnnl_ab);
    SM_DNNL_TRY(dnnl_memory_create(&p->user_emb, &umd, q->engine, NULL), err, "int8 output");
    return add_reorder(q, p, cur, p->user_emb, 0.0f, 0, -1, err);
}

/* The plan for n images at the current thread count, built on first use (the oldest of
 * QNET_PLANS is dropped). */
static siamese_status get_plan(sm_qnet *q, int n, qplan **out, sm_err *err) {
    int threads = omp_get_max_threads();
    for (int i = 0; i < q->n_plans; i++)
        if (q->plans[i]->n == n && q->plans[i]->threads == threads) {
            *out = q->plans[i];
            return SIAMESE_OK;
        }
    siamese_status room = sm_dnnl_jit_room(err);
    if (room != SIAMESE_OK) return room;
    qplan *p = calloc(1, sizeof *p);
    if (!p) return sm_fail(err, SIAMESE_ERR_NOMEM, "int8: out of memory for a plan");
    p->n = n;
    p->threads = threads;
    siamese_status st = build_plan(q, p, err);
    if (st == SIAMESE_OK) st = sm_dnnl_run_room(err);
    if (st != SIAMESE_OK) {
        plan_free(p);
        return st;
    }
    if (q->n_plans == QNET_PLANS) {
        if (q->last == q->plans[0]) q->last = NULL;
        plan_free(q->plans[0]);
        memmove(q->plans, q->plans + 1, (QNET_PLANS - 1) * sizeof *q->plans);
        q->n_plans--;
    }
    q->plans[q->n_plans++] = p;
    *out = p;
    return SIAMESE_OK;
}

/* ---------------------------------------------------------------- the engine */

siamese_status sm_qnet_create(const sm_arch *arch, const sm_param_table *table, const float *params,
                              const float *buffers, const sm_quant *quant, sm_qnet **out,
                              sm_err *err) {
    *out = NULL;
    siamese_status st = sm_qnet_check(arch, err);
    if (st != SIAMESE_OK) return st;
    sm_qnet *q = calloc(1, sizeof *q);
    if (!q) return sm_fail(err, SIAMESE_ERR_NOMEM, "int8: out of memory");
    q->arch = *arch;
    q->int8 = quant != NULL;
    st = make_ops(q, table, params, buffers, err);
    if (st == SIAMESE_OK && quant) st = quantise_ops(q, quant, err);
    if (st == SIAMESE_OK) {
        dnnl_status_t s = dnnl_engine_create(&q->engine, dnnl_cpu, 0);
        if (s == dnnl_success)
            s = dnnl_stream_create(&q->stream, q->engine, dnnl_stream_default_flags);
        if (s != dnnl_success) st = sm_dnnl_fail(s, err, "CPU engine");
    }
    if (st != SIAMESE_OK) {
        sm_qnet_free(q);
        return st;
    }
    *out = q;
    return SIAMESE_OK;
}

void sm_qnet_free(sm_qnet *q) {
    if (!q) return;
    for (int i = 0; i < q->n_plans; i++) plan_free(q->plans[i]);
    for (int k = 0; k < q->n_ops; k++) {
        qop *op = &q->ops[k];
        if (op->wmem) dnnl_memory_destroy(op->wmem);
        free(op->w);
        free(op->b);
        free(op->wq);
        free(op->bias_acc);
        free(op->oscale);
    }
    if (q->stream) dnnl_stream_destroy(q->stream);
    if (q->engine) dnnl_engine_destroy(q->engine);
    free(q);
}

/* fp32: the range of the tensor a conv / linear's calibration reads, before its step runs (a
 * residual sum may write over it later). */
static dnnl_status_t observe_step(sm_qnet *q, const qstep *step) {
    dnnl_status_t s = dnnl_stream_wait(q->stream);
    const dnnl_memory_desc_t *md = NULL;
    void *data = NULL;
    if (s == dnnl_success) s = dnnl_memory_get_memory_desc(step->observed, &md);
    if (s == dnnl_success) s = dnnl_memory_get_data_handle(step->observed, &data);
    if (s == dnnl_success) {
        qop *op = &q->ops[step->observe];
        sm_quant_observe(data, (size_t)sm_md_elems(md), &op->lo, &op->hi);
    }
    return s;
}

void sm_qnet_set_timers(sm_qnet *q, double *fwd) {
    if (q) q->time = fwd;
}

siamese_status sm_qnet_forward(sm_qnet *q, const float *x, int n, float *emb, sm_err *err) {
    if (!q || !x || !emb || n < 1)
        return sm_fail(err, SIAMESE_ERR_INVALID_ARG,
                       "int8: forward needs images, an output and n >= 1");
    qplan *p = NULL;
    siamese_status st = get_plan(q, n, &p, err);
    if (st != SIAMESE_OK) return st;
    SM_DNNL_TRY(dnnl_memory_set_data_handle(p->user_x, (void *)(uintptr_t)x), err, "set input");
    SM_DNNL_TRY(dnnl_memory_set_data_handle(p->user_emb, emb), err, "set output");
    q->last = NULL;
    for (int k = 0; k < q->n_ops; k++) {
        q->ops[k].lo = INFINITY;
        q->ops[k].hi = -INFINITY;
    }
    sm_signal_hold hold = sm_signals_hold(0); /* no signal frame over a JIT kernel's heap stack */
    dnnl_status_t s = dnnl_success;
    for (int i = 0; i < p->n_steps && s == dnnl_success; i++) {
        if (p->steps[i].observe >= 0) s = observe_step(q, &p->steps[i]);
        if (s != dnnl_success) break;
        double t0 = q->time ? sm_process_cpu_seconds() : 0.0;
        s = dnnl_primitive_execute(p->steps[i].prim, q->stream, p->steps[i].nargs,
                                   p->steps[i].args);
        if (s == dnnl_success && q->time) {
            dnnl_stream_wait(q->stream);
            int layer = p->steps[i].layer;
            q->time[layer < 0 ? q->arch.n_layers : layer] += sm_process_cpu_seconds() - t0;
        }
    }
    if (s == dnnl_success) s = dnnl_stream_wait(q->stream);
    sm_signals_release(hold);
    if (s != dnnl_success) return sm_dnnl_fail(s, err, "int8 forward");
    q->last = p;
    return SIAMESE_OK;
}

void sm_qnet_observe(sm_qnet *q, sm_quant *quant) {
    if (!q || q->int8 || !q->last || !quant) return;
    for (int k = 0; k < q->n_ops; k++) {
        const qop *op = &q->ops[k];
        sm_quant_layer *ql = op->kind <= QOP_LINEAR ? sm_quant_find(quant, op->layer) : NULL;
        if (!ql) continue;
        if (op->lo <= op->hi) {
            if (op->lo < ql->in_lo) ql->in_lo = op->lo;
            if (op->hi > ql->in_hi) ql->in_hi = op->hi;
        }
        sm_quant_weight_scales(op->w, op->out, op->per, ql->w_scale);
    }
    quant->images += q->last->n;
}

size_t sm_qnet_describe(sm_qnet *q, int n, char *buf, size_t size, sm_err *err) {
    if (size) buf[0] = '\0';
    qplan *p = NULL;
    if (!q || n < 1 || get_plan(q, n, &p, err) != SIAMESE_OK) return 0;
    size_t len = 0;
    for (int i = 0; i < p->n_steps; i++) {
        const char *impl = "?";
        const_dnnl_primitive_desc_t pd = NULL;
        dnnl_primitive_kind_t kind = dnnl_undefined_primitive;
        if (dnnl_primitive_get_primitive_desc(p->steps[i].prim, &pd) == dnnl_success) {
            dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &impl);
            dnnl_primitive_desc_query(pd, dnnl_query_primitive_kind, 0, &kind);
        }
        int w = snprintf(len < size ? buf + len : NULL, len < size ? size - len : 0,
                         "%s layer %2d %-16s %s\n", q->int8 ? "int8" : "fp32", p->steps[i].layer,
                         dnnl_prim_kind2str(kind), impl);
        if (w > 0) len += (size_t)w;
    }
    return len;
}
