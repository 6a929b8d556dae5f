/* The int8 inference engine: batchnorm folded into convolutions, per-channel int8 weights, u8/s8
 * activations in NHWC with s32 accumulation, requantised by output scales, relu fused, fp32 at
 * the embedding; the same chain in fp32 records the calibration ranges. */
#include "nn/qnet.h"

#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <oneapi/dnnl/dnnl.h>
#include <oneapi/dnnl/dnnl_debug.h>

#include "base/signal_hold.h"
#include "nn/layers/layers.h"

#define QNET_PLANS 4 /* batch sizes kept built at a time */
#define QNET_STEPS (SM_MAX_LAYERS + 2)

typedef enum qop_kind { QOP_CONV, QOP_LINEAR, QOP_POOL, QOP_RELU } qop_kind;

/* One step of the chain: a conv / linear (with what follows it folded or fused), a maxpool or a
 * relu of its own. */
typedef struct qop {
    qop_kind kind;
    int layer;  /* the arch layer (conv / linear / maxpool / relu) */
    int relu;   /* conv / linear: a relu fused after it */
    int out;    /* output channels / features */
    size_t per; /* weights per output channel */
    float *w;   /* [out, per] fp32, batchnorm folded in */
    float *b;   /* [out] fp32 bias, batchnorm folded in (0 when the layer has none) */
    /* int8 */
    int8_t *wq;      /* [out, per] quantised weights */
    float *bias_acc; /* [out] the bias in accumulator units: b * in_scale * w_scale */
    float *oscale;   /* [out] output scales: out_scale / (in_scale * w_scale) */
    float in_scale;  /* input value x is stored as x * in_scale */
    dnnl_data_type_t in_dt, out_dt;
    dnnl_memory_t wmem; /* weights in the layout the first plan's primitive chose */
    dnnl_memory_desc_t wmd;
} qop;

typedef struct qstep {
    dnnl_primitive_t prim;
    int nargs;
    dnnl_exec_arg_t args[4];
    int layer; /* -1: the input / output reorder */
} qstep;

typedef struct qplan {
    int n, threads;
    qstep steps[QNET_STEPS];
    int n_steps;
    dnnl_memory_t owned[2 * QNET_STEPS]; /* activations and weight copies of this plan */
    int n_owned;
    dnnl_memory_t op_in[SM_MAX_LAYERS]; /* the input of each op (calibration reads it) */
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

/* ---------------------------------------------------------------- what the engine runs */

static int is_fold(const sm_layer *l) {
    return l->kind == SM_LAYER_BATCHNORM2D || l->kind == SM_LAYER_SCALE;
}

siamese_status sm_qnet_check(const sm_arch *arch, sm_err *err) {
    int seen_compute = 0;
    for (int i = 0; i < arch->n_layers; i++) {
        const sm_layer *l = &arch->layers[i];
        int plain_conv = l->kind == SM_LAYER_CONV2D && l->groups == 1 && l->ph_end == l->ph &&
                         l->pw_end == l->pw;
        int ok = plain_conv || l->kind == SM_LAYER_LINEAR || l->kind == SM_LAYER_FLATTEN ||
                 (seen_compute && (l->kind == SM_LAYER_RELU || l->kind == SM_LAYER_MAXPOOL2D)) ||
                 (is_fold(l) && i > 0 && arch->layers[i - 1].kind == SM_LAYER_CONV2D);
        if (!ok)
            return sm_fail(err, SIAMESE_ERR_UNSUPPORTED,
                           "int8: layer %d (%s%s%s) is not supported: the int8 engine runs chains "
                           "of conv (ungrouped, padded alike on both sides), batchnorm after a "
                           "conv, relu, maxpool, flatten and linear "
                           "layers that start with a conv or linear",
                           i + 1, l->name[0] ? l->name : "unnamed",
                           l->kind == SM_LAYER_BLOCK || l->kind == SM_LAYER_ADD ||
                                   l->kind == SM_LAYER_SKIP
                               ? ", a residual block"
                               : "",
                           l->kind == SM_LAYER_AVGPOOL ? ", avgpool" : "");
        if (l->kind == SM_LAYER_CONV2D || l->kind == SM_LAYER_LINEAR) seen_compute = 1;
    }
    return SIAMESE_OK;
}

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

/* Turns the arch into ops: folds batchnorms into the conv before them, fuses a relu right
 * after a conv / linear, drops flatten (a linear reads a 4-D input as PyTorch's view). */
static siamese_status make_ops(sm_qnet *q, const sm_param_table *table, const float *params,
                               const float *buffers, sm_err *err) {
    const sm_arch *arch = &q->arch;
    int tail = -1; /* the last layer taken into a conv / linear op (itself or a folded one) */
    for (int i = 0; i < arch->n_layers; i++) {
        const sm_layer *l = &arch->layers[i];
        qop *op = &q->ops[q->n_ops];
        if (l->kind == SM_LAYER_FLATTEN) continue;
        if (is_fold(l)) {
            layer_tensors t = find_tensors(table, params, buffers, i);
            fold_affine(&q->ops[q->n_ops - 1], l, &t);
            tail = i;
            continue;
        }
        if (l->kind == SM_LAYER_RELU && tail == i - 1 && !q->ops[q->n_ops - 1].relu) {
            q->ops[q->n_ops - 1].relu = 1;
            continue;
        }
        if (l->kind == SM_LAYER_CONV2D || l->kind == SM_LAYER_LINEAR) tail = i;
        q->n_ops++;
        op->in_dt = op->out_dt = dnnl_f32; /* int8 types are set by quantise_ops */
        if (l->kind == SM_LAYER_CONV2D || l->kind == SM_LAYER_LINEAR) {
            siamese_status st = fill_compute_op(op, arch, i, table, params, buffers, err);
            if (st != SIAMESE_OK) return st;
        } else {
            op->kind = l->kind == SM_LAYER_RELU ? QOP_RELU : QOP_POOL;
            op->layer = i;
        }
    }
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

/* int8: per op, its input's scale and type, quantised weights, bias in accumulator units and
 * output scales towards the next conv / linear's input (fp32 after the last one). */
static siamese_status quantise_ops(sm_qnet *q, const sm_quant *quant, sm_err *err) {
    dnnl_data_type_t dt = dnnl_f32;
    for (int k = q->n_ops - 1; k >= 0; k--) { /* backwards: each output takes the next input */
        qop *op = &q->ops[k];
        op->out_dt = dt;
        if (op->kind != QOP_CONV && op->kind != QOP_LINEAR) {
            op->in_dt = dt;
            continue;
        }
        const sm_quant_layer *ql = NULL;
        for (int j = 0; j < quant->n; j++)
            if (quant->l[j].layer == op->layer) ql = &quant->l[j];
        if (!ql || ql->out != op->out)
            return sm_fail(err, SIAMESE_ERR_FORMAT, "int8: no calibration for layer %d (%s)",
                           op->layer + 1, q->arch.layers[op->layer].name);
        float out_scale = 0.0f;
        for (int j = k + 1; j < q->n_ops && out_scale == 0.0f; j++)
            if (q->ops[j].kind <= QOP_LINEAR) out_scale = q->ops[j].in_scale;
        if (!scales_match(op, ql))
            return sm_fail(
                err, SIAMESE_ERR_FORMAT,
                "int8: the calibration of layer %d (%s) does not match its weights (were "
                "they changed after quantising? quantise the model again)",
                op->layer + 1, q->arch.layers[op->layer].name);
        op->in_scale = sm_quant_scale(ql->in_lo, ql->in_hi);
        op->in_dt = sm_quant_signed(ql->in_lo) ? dnnl_s8 : dnnl_u8;
        op->wq = malloc((size_t)op->out * op->per);
        op->bias_acc = malloc((size_t)op->out * sizeof(float));
        op->oscale = malloc((size_t)op->out * sizeof(float));
        if (!op->wq || !op->bias_acc || !op->oscale)
            return sm_fail(err, SIAMESE_ERR_NOMEM, "int8: out of memory for layer %d",
                           op->layer + 1);
        sm_quant_weights(op->w, op->out, op->per, ql->w_scale, op->wq);
        free(op->w); /* only the int8 copy is used from now on */
        op->w = NULL;
        for (int o = 0; o < op->out; o++) {
            double acc_unit = (double)op->in_scale * (double)ql->w_scale[o];
            op->bias_acc[o] = (float)((double)op->b[o] * acc_unit);
            op->oscale[o] = (float)((out_scale > 0.0f ? (double)out_scale : 1.0) / acc_unit);
        }
        dt = op->in_dt;
    }
    if (q->n_ops == 0 || q->ops[0].kind > QOP_LINEAR)
        return sm_fail(err, SIAMESE_ERR_UNSUPPORTED,
                       "int8: the network does not start with a "
                       "conv or linear layer");
    return SIAMESE_OK;
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
    p->n_steps++;
    return SIAMESE_OK;
}

static void md_tagged(dnnl_memory_desc_t *md, int ndims, const int64_t *dims, dnnl_data_type_t dt,
                      dnnl_format_tag_t tag) {
    dnnl_dims_t d = {0};
    for (int i = 0; i < ndims; i++) d[i] = dims[i];
    dnnl_memory_desc_init_by_tag(md, ndims, d, dt, tag);
}

/* A reorder src -> dst as a step (scale != 0: values multiplied by it). */
static siamese_status add_reorder(sm_qnet *q, qplan *p, dnnl_memory_t src, dnnl_memory_t dst,
                                  float scale, sm_err *err) {
    const dnnl_memory_desc_t *smd, *dmd;
    dnnl_memory_get_memory_desc(src, &smd);
    dnnl_memory_get_memory_desc(dst, &dmd);
    dnnl_primitive_attr_t attr = NULL;
    SM_DNNL_TRY(dnnl_primitive_attr_create(&attr), err, "int8 attribute");
    dnnl_status_t s =
        scale != 0.0f ? dnnl_primitive_attr_set_output_scales(attr, 1, 0, &scale) : dnnl_success;
    dnnl_primitive_desc_t pd = NULL;
    if (s == dnnl_success)
        s = dnnl_reorder_primitive_desc_create(&pd, smd, q->engine, dmd, q->engine, attr);
    dnnl_primitive_attr_destroy(attr);
    if (s != dnnl_success) return sm_dnnl_fail(s, err, "int8 input/output reorder");
    dnnl_exec_arg_t args[] = {{DNNL_ARG_FROM, src}, {DNNL_ARG_TO, dst}};
    siamese_status st = add_step(p, pd, args, 2, -1, err);
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
    md_tagged(&plain, ndims, dims, q->int8 ? dnnl_s8 : dnnl_f32, ndims == 4 ? dnnl_abcd : dnnl_ab);
    dnnl_memory_t user = NULL, mem = NULL;
    SM_DNNL_TRY(
        dnnl_memory_create(&user, &plain, q->engine, q->int8 ? (void *)op->wq : (void *)op->w), err,
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

/* Output scales (int8) and a fused relu. */
static siamese_status compute_attr(const sm_qnet *q, const qop *op, dnnl_primitive_attr_t *attr,
                                   sm_err *err) {
    SM_DNNL_TRY(dnnl_primitive_attr_create(attr), err, "int8 attribute");
    dnnl_status_t s = dnnl_success;
    if (q->int8) s = dnnl_primitive_attr_set_output_scales(*attr, op->out, 1 << 1, op->oscale);
    if (s == dnnl_success && op->relu) {
        dnnl_post_ops_t po = NULL;
        s = dnnl_post_ops_create(&po);
        if (s == dnnl_success) s = dnnl_post_ops_append_eltwise(po, 1.0f, dnnl_eltwise_relu, 0, 0);
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

/* A conv or linear op reading *cur (layout *md) into a new activation. */
static siamese_status build_compute(sm_qnet *q, qplan *p, qop *op, dnnl_memory_desc_t *md,
                                    dnnl_memory_t *cur, sm_err *err) {
    const sm_layer *l = &q->arch.layers[op->layer];
    dnnl_data_type_t wdt = q->int8 ? dnnl_s8 : dnnl_f32;
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
    dnnl_primitive_attr_t attr = NULL;
    siamese_status st = compute_attr(q, op, &attr, err);
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
    if (st == SIAMESE_OK) st = new_memory(q, p, &bmd, q->int8 ? op->bias_acc : op->b, &bias, err);
    if (st == SIAMESE_OK) st = new_memory(q, p, &dmd, DNNL_MEMORY_ALLOCATE, &dst, err);
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

/* A maxpool or a standalone relu: same type in and out, NHWC. */
static siamese_status build_simple(sm_qnet *q, qplan *p, const qop *op, dnnl_memory_desc_t *md,
                                   dnnl_memory_t *cur, sm_err *err) {
    const sm_layer *l = &q->arch.layers[op->layer];
    union {
        dnnl_pooling_v2_desc_t pool;
        dnnl_eltwise_desc_t relu;
    } d;
    dnnl_memory_desc_t dmd = *md;
    dnnl_status_t s;
    if (op->kind == QOP_POOL) {
        int64_t dst[4] = {p->n, l->out_shape.c, l->out_shape.h, l->out_shape.w};
        md_tagged(&dmd, 4, dst, md->data_type, dnnl_acdb);
        dnnl_dims_t strides = {l->sh, l->sw}, kernel = {l->kh, l->kw}, dil = {0, 0};
        dnnl_dims_t pad = {l->ph, l->pw};
        s = dnnl_pooling_v2_forward_desc_init(&d.pool, dnnl_forward_inference, dnnl_pooling_max, md,
                                              &dmd, strides, kernel, dil, pad, pad);
    } else {
        s = dnnl_eltwise_forward_desc_init(&d.relu, dnnl_forward_inference, dnnl_eltwise_relu, md,
                                           0.0f, 0.0f);
    }
    dnnl_primitive_desc_t pd = NULL;
    if (s == dnnl_success) s = dnnl_primitive_desc_create(&pd, &d, NULL, q->engine, NULL);
    if (s != dnnl_success)
        return sm_dnnl_fail(s, err, op->kind == QOP_POOL ? "int8 maxpool" : "int8 relu");
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
        st = add_reorder(q, p, p->user_x, cur, q->int8 ? q->ops[0].in_scale : 0.0f, err);
    for (int k = 0; k < q->n_ops && st == SIAMESE_OK; k++) {
        p->op_in[k] = cur;
        qop *op = &q->ops[k];
        st = op->kind <= QOP_LINEAR ? build_compute(q, p, op, &md, &cur, err)
                                    : build_simple(q, p, op, &md, &cur, err);
    }
    if (st != SIAMESE_OK) return st;
    int64_t edims[4];
    for (int k = 0; k < md.ndims; k++) edims[k] = md.dims[k];
    md_tagged(&umd, md.ndims, edims, dnnl_f32, md.ndims == 4 ? dnnl_abcd : dnnl_ab);
    SM_DNNL_TRY(dnnl_memory_create(&p->user_emb, &umd, q->engine, NULL), err, "int8 output");
    return add_reorder(q, p, cur, p->user_emb, 0.0f, err);
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

static double seconds_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
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
    sm_signal_hold hold = sm_signals_hold(0); /* no signal frame over a JIT kernel's heap stack */
    dnnl_status_t s = dnnl_success;
    for (int i = 0; i < p->n_steps && s == dnnl_success; i++) {
        double t0 = q->time ? seconds_now() : 0.0;
        s = dnnl_primitive_execute(p->steps[i].prim, q->stream, p->steps[i].nargs,
                                   p->steps[i].args);
        if (s == dnnl_success && q->time) {
            dnnl_stream_wait(q->stream);
            int layer = p->steps[i].layer;
            q->time[layer < 0 ? q->arch.n_layers : layer] += seconds_now() - t0;
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
        const dnnl_memory_desc_t *md = NULL;
        void *data = NULL;
        dnnl_memory_get_memory_desc(q->last->op_in[k], &md);
        dnnl_memory_get_data_handle(q->last->op_in[k], &data);
        sm_quant_observe(data, (size_t)sm_md_elems(md), &ql->in_lo, &ql->in_hi);
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
