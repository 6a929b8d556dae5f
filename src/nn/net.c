/* The network engine: flat parameter buffers, plans cached per batch size and mode, forward and backward execution. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <omp.h>
#include <oneapi/dnnl/dnnl_debug.h>

#include "base/alloc.h"
#include "base/signal_hold.h"
#include "base/tensor_alloc.h"
#include "base/util.h"
#include "nn/layers/layers.h"
#include "nn/net.h"

struct sm_net {
    sm_arch arch;
    sm_param_table table;
    int max_batch;
    float *params, *grads, *buffers;
    int64_t *counters;
    sm_layer_params lp[SM_MAX_LAYERS];
    dnnl_engine_t engine;
    dnnl_stream_t stream;
    sm_arenas arenas;
    sm_weight_cache weights;           /* the convolutions' weights in their kernels' layouts */
    uint64_t layer_gen[SM_MAX_LAYERS]; /* bumped whenever a layer's parameters may have changed */
    sm_plan **plans;
    int n_plans, cap_plans;
    sm_plan *last_train;        /* plan of the last training forward; backward runs through it */
    sm_grad_ready_fn grad_hook; /* see sm_net_set_grad_hook */
    void *grad_hook_user;
    double *time_fwd, *time_bwd;
    int bf16;         /* convolutions in bf16; linear layers stay fp32 */
    int no_fusion;    /* benchmark toggle SIAMESE_ENGINE_NO_FUSION=1: relu as its own step */
    int no_winograd;  /* benchmark toggle SIAMESE_ENGINE_NO_WINOGRAD=1: direct convolutions only */
    int no_host_pool; /* benchmark toggle SIAMESE_ENGINE_NO_HOST_POOL=1: oneDNN's max pooling only */
    unsigned char frozen[SM_MAX_LAYERS]; /* 1: no gradient for the layer's parameters */
    uint64_t dropout_seed; /* the masks of the next training forward (sm_net_set_dropout_seed) */
};

/* The residual block being built: its input, its main branch's start and output. */
typedef struct block_values {
    int open, has_main;
    sm_value x, main_out;
    unsigned pinned_before;
} block_values;

/* ---- creation ---- */

/* Points each layer's sm_layer_params into the flat buffers, by the table's slots. The values
 * stay zero until sm_init_params or a model file fills them. */
static void map_layer_params(sm_net *net) {
    for (int i = 0; i < net->table.n; i++) {
        const sm_tensor_info *t = &net->table.t[i];
        sm_layer_params *p = &net->lp[t->layer];
        switch (t->slot) {
        case SM_SLOT_WEIGHT:
            p->w = net->params + t->offset;
            p->dw = net->grads + t->offset;
            break;
        case SM_SLOT_BIAS:
            p->b = net->params + t->offset;
            p->db = net->grads + t->offset;
            break;
        case SM_SLOT_RUNNING_MEAN:
            p->running_mean = net->buffers + t->offset;
            break;
        case SM_SLOT_RUNNING_VAR:
            p->running_var = net->buffers + t->offset;
            break;
        case SM_SLOT_NUM_BATCHES_TRACKED:
            p->num_batches_tracked = net->counters + t->offset;
            break;
        }
    }
}

static int shape_equal(sm_shape a, sm_shape b) { return a.c == b.c && a.h == b.h && a.w == b.w; }

static siamese_status check_arch(const sm_arch *arch, sm_err *err) {
    if (arch->n_layers < 1 || arch->n_layers > SM_MAX_LAYERS)
        return sm_fail(err, SIAMESE_ERR_SHAPE, "engine: architecture has %d layers",
                       arch->n_layers);
    sm_shape prev = arch->input;
    for (int i = 0; i < arch->n_layers; i++) {
        const sm_layer *l = &arch->layers[i];
        if (!shape_equal(l->in, prev))
            return sm_fail(err, SIAMESE_ERR_SHAPE,
                           "engine: layer %d input %dx%dx%d does not follow %dx%dx%d", i, l->in.c,
                           l->in.h, l->in.w, prev.c, prev.h, prev.w);
        if (l->out_shape.c < 1 || l->out_shape.h < 1 || l->out_shape.w < 1)
            return sm_fail(err, SIAMESE_ERR_SHAPE, "engine: layer %d has an empty output", i);
        prev = l->out_shape;
    }
    return SIAMESE_OK;
}

siamese_status sm_net_create(const sm_arch *arch, int max_batch, sm_net **out, sm_err *err) {
    *out = NULL;
    if (!arch || max_batch < 1)
        return sm_fail(err, SIAMESE_ERR_INVALID_ARG, "engine: bad architecture or batch %d",
                       max_batch);
    siamese_status st = check_arch(arch, err);
    if (st != SIAMESE_OK) return st;
    sm_net *net = calloc(1, sizeof *net);
    if (!net) return sm_fail(err, SIAMESE_ERR_NOMEM, "engine: out of memory");
    net->arch = *arch;
    net->max_batch = max_batch;
    sm_param_table_build(arch, &net->table);
    net->params = sm_tensor_calloc(net->table.n_params, sizeof(float), 64);
    net->grads = sm_tensor_calloc(net->table.n_params, sizeof(float), 64);
    net->buffers = sm_tensor_calloc(net->table.n_buffers, sizeof(float), 64);
    net->counters = sm_tensor_calloc(net->table.n_counters, sizeof(int64_t), 64);
    if (!net->params || !net->grads || !net->buffers || !net->counters) {
        size_t n_params = net->table.n_params;
        sm_net_free(net);
        return sm_fail(err, SIAMESE_ERR_NOMEM, "engine: cannot allocate %zu parameters", n_params);
    }
    map_layer_params(net);
    for (int i = 0; i < SM_MAX_LAYERS; i++) net->layer_gen[i] = 1;
    net->weights.layer_gen = net->layer_gen;
    net->no_fusion = sm_env_is_one("SIAMESE_ENGINE_NO_FUSION");
    net->no_winograd = sm_env_is_one("SIAMESE_ENGINE_NO_WINOGRAD");
    net->no_host_pool = sm_env_is_one("SIAMESE_ENGINE_NO_HOST_POOL");
    dnnl_status_t s = dnnl_engine_create(&net->engine, dnnl_cpu, 0);
    if (s == dnnl_success)
        s = dnnl_stream_create(&net->stream, net->engine, dnnl_stream_default_flags);
    if (s != dnnl_success) {
        sm_net_free(net);
        return sm_dnnl_fail(s, err, "CPU engine");
    }
    *out = net;
    return SIAMESE_OK;
}

void sm_net_free(sm_net *net) {
    if (!net) return;
    for (int i = 0; i < net->n_plans; i++) sm_plan_free(net->plans[i]);
    free(net->plans);
    sm_arenas_free(&net->arenas);
    sm_weight_cache_free(&net->weights);
    if (net->stream) dnnl_stream_destroy(net->stream);
    if (net->engine) dnnl_engine_destroy(net->engine);
    free(net->params);
    free(net->grads);
    free(net->buffers);
    free(net->counters);
    free(net);
}

const sm_arch *sm_net_arch(const sm_net *net) { return &net->arch; }
const sm_param_table *sm_net_table(const sm_net *net) { return &net->table; }
const float *sm_net_params(const sm_net *net) { return net->params; }

float *sm_net_params_write(sm_net *net) {
    for (int i = 0; i < net->arch.n_layers; i++) net->layer_gen[i]++;
    return net->params;
}

float *sm_net_params_write_trainable(sm_net *net) {
    for (int i = 0; i < net->arch.n_layers; i++)
        if (!net->frozen[i]) net->layer_gen[i]++;
    return net->params;
}
float *sm_net_grads(sm_net *net) { return net->grads; }
float *sm_net_buffers(sm_net *net) { return net->buffers; }
int64_t *sm_net_counters(sm_net *net) { return net->counters; }

void sm_net_zero_grads(sm_net *net) { memset(net->grads, 0, net->table.n_params * sizeof(float)); }

void sm_net_set_dropout_seed(sm_net *net, uint64_t seed) { net->dropout_seed = seed; }

void sm_net_set_timers(sm_net *net, double *fwd, double *bwd) {
    net->time_fwd = fwd;
    net->time_bwd = bwd;
}

int sm_bf16_supported(void) {
    dnnl_cpu_isa_t isa = dnnl_get_effective_cpu_isa();
    return ((unsigned)isa & (unsigned)dnnl_cpu_isa_avx512_core_bf16) ==
           (unsigned)dnnl_cpu_isa_avx512_core_bf16;
}

static void drop_all_plans(sm_net *net);

int sm_net_set_bf16(sm_net *net, int bf16) {
    bf16 = bf16 && sm_bf16_supported();
    if (bf16 != net->bf16) {
        drop_all_plans(net);
        net->bf16 = bf16;
    }
    return bf16;
}

int sm_net_bf16(const sm_net *net) { return net->bf16; }

void sm_net_freeze_layer(sm_net *net, int layer, int params, int stats) {
    if (!net || layer < 0 || layer >= net->arch.n_layers) return;
    sm_layer *l = &net->arch.layers[layer];
    int bn = l->kind == SM_LAYER_BATCHNORM2D;
    if (net->frozen[layer] == (params ? 1 : 0) && (!bn || l->bn_frozen == (stats ? 1 : 0))) return;
    drop_all_plans(net);
    net->frozen[layer] = params ? 1 : 0;
    if (bn) l->bn_frozen = stats ? 1 : 0;
}

int sm_net_layer_frozen(const sm_net *net, int layer) {
    return net && layer >= 0 && layer < net->arch.n_layers && net->frozen[layer];
}

/* ---- plans ---- */

static int layer_has_params(const sm_layer *l) {
    return l->kind == SM_LAYER_CONV2D || l->kind == SM_LAYER_LINEAR ||
           l->kind == SM_LAYER_BATCHNORM2D || l->kind == SM_LAYER_SCALE;
}

static void pin(sm_builder *b, const sm_value *v) { b->pinned |= 1u << v->slot; }

/* block: x stays (pinned) for the skip; the main branch starts from x with its own gradient.
 * skip: the main output stays (pinned); the skip branch starts from x. add: main + skip. */
static siamese_status build_block_marker(sm_builder *b, const sm_layer *l, int relu_next,
                                         block_values *bv, const sm_value *in, sm_value *out,
                                         int *fused_relu) {
    switch (l->kind) {
    case SM_LAYER_BLOCK:
        bv->open = 1;
        bv->has_main = 0;
        bv->x = *in;
        bv->pinned_before = b->pinned;
        pin(b, in);
        return sm_fork_build(b, in, out);
    case SM_LAYER_SKIP:
        bv->main_out = *in;
        bv->has_main = 1;
        pin(b, in);
        *out = bv->x;
        return SIAMESE_OK;
    default: { /* add */
        sm_value main_out = bv->has_main ? bv->main_out : *in;
        const sm_value *skip = bv->has_main ? in : &bv->x;
        pin(b, &main_out);
        int padded = l->add_pad && (main_out.md.dims[2] != skip->md.dims[2] ||
                                    main_out.md.dims[3] != skip->md.dims[3]);
        *fused_relu = relu_next && !padded;
        siamese_status st = padded ? sm_add_padded_build(b, &main_out, skip, out)
                                   : sm_add_build(b, &main_out, skip, *fused_relu, out);
        b->pinned = bv->pinned_before;
        bv->open = 0;
        return st;
    }
    }
}

/* Layer i + 1 is a ReLU, which a conv or batchnorm at i applies itself (fused). */
static int next_is_relu(const sm_net *net, int i) {
    return i + 1 < net->arch.n_layers && net->arch.layers[i + 1].kind == SM_LAYER_RELU;
}

static siamese_status build_layer(sm_net *net, sm_builder *b, int *i, int *grad_needed,
                                  block_values *bv, const sm_value *in, sm_value *out) {
    const sm_layer *l = &net->arch.layers[*i];
    sm_layer_params frozen_params, *p = &net->lp[*i];
    b->layer = *i;
    if (net->frozen[*i]) { /* no weight gradients: the builders skip them when dw/db are NULL */
        frozen_params = *p;
        frozen_params.dw = frozen_params.db = NULL;
        p = &frozen_params;
    } else if (layer_has_params(l)) {
        *grad_needed = 1;
    }
    switch (l->kind) {
    case SM_LAYER_CONV2D: {
        int fuse = !net->no_fusion && next_is_relu(net, *i);
        siamese_status st = sm_conv2d_build(b, l, fuse, p, in, out);
        if (fuse) (*i)++;
        return st;
    }
    case SM_LAYER_RELU:
        return sm_relu_build(b, in, *grad_needed, out);
    case SM_LAYER_MAXPOOL2D:
        return sm_maxpool2d_build(b, l, in, *grad_needed, out);
    case SM_LAYER_LINEAR:
        return sm_linear_build(b, l, p, in, out);
    case SM_LAYER_FLATTEN:
        return sm_flatten_build(b, in, out);
    case SM_LAYER_BATCHNORM2D:
    case SM_LAYER_SCALE: {
        int fuse = !net->no_fusion && next_is_relu(net, *i);
        siamese_status st = sm_batchnorm2d_build(b, l, fuse, p, in, out);
        if (fuse) (*i)++;
        return st;
    }
    case SM_LAYER_AVGPOOL:
        return sm_avgpool_build(b, in, *grad_needed, out);
    case SM_LAYER_DROPOUT:
        return sm_dropout_build(b, l, &net->dropout_seed, in, *grad_needed, out);
    case SM_LAYER_BLOCK:
    case SM_LAYER_SKIP:
    case SM_LAYER_ADD: {
        int fused = 0;
        siamese_status st =
            build_block_marker(b, l, !net->no_fusion && next_is_relu(net, *i), bv, in, out, &fused);
        if (fused) (*i)++;
        return st;
    }
    }
    return sm_fail(b->err, SIAMESE_ERR_SPEC, "engine: layer %d has an unknown kind", *i);
}

static siamese_status build_io(sm_net *net, sm_builder *b, int first, const sm_value *v) {
    sm_plan *plan = b->plan;
    b->layer = net->arch.n_layers;
    if (first) {
        sm_shape s = net->arch.input;
        int64_t dims[4] = {plan->n, s.c, s.h, s.w};
        dnnl_memory_desc_t md;
        sm_md_plain(&md, 4, dims);
        siamese_status st = sm_builder_external(b, &md, NULL, &plan->user_x);
        if (st == SIAMESE_OK) st = sm_builder_reorder(b, 0, plan->user_x, v->mem, 0);
        return st;
    }
    int64_t dims[4];
    for (int k = 0; k < v->md.ndims; k++) dims[k] = v->md.dims[k];
    dnnl_memory_desc_t md;
    sm_md_plain(&md, v->md.ndims, dims);
    siamese_status st = sm_builder_external(b, &md, NULL, &plan->user_emb);
    if (st == SIAMESE_OK) st = sm_builder_reorder(b, 0, v->mem, plan->user_emb, 0);
    if (st == SIAMESE_OK && b->training && v->diff) {
        st = sm_builder_external(b, &md, NULL, &plan->user_demb);
        if (st == SIAMESE_OK) st = sm_builder_begin_group(b);
        if (st == SIAMESE_OK) st = sm_builder_reorder(b, 1, plan->user_demb, v->diff, 0);
    }
    return st;
}

static siamese_status build_plan(sm_net *net, sm_plan *plan, sm_err *err) {
    sm_builder b;
    sm_builder_init(&b, net->engine, &net->arenas, plan, err);
    b.weights = &net->weights;
    b.bf16 = net->bf16;
    b.winograd = !net->no_winograd;
    b.host_pool = !net->no_host_pool;
    sm_shape s = net->arch.input;
    int64_t dims[4] = {plan->n, s.c, s.h, s.w};
    dnnl_memory_desc_t md;
    sm_md_plain(&md, 4, dims);
    sm_value v;
    siamese_status st = sm_builder_value(&b, NULL, 0, &md, &v);
    if (st == SIAMESE_OK) st = build_io(net, &b, 1, &v);
    int grad_needed = 0;
    block_values bv;
    memset(&bv, 0, sizeof bv);
    for (int i = 0; i < net->arch.n_layers && st == SIAMESE_OK; i++) {
        sm_value out;
        st = build_layer(net, &b, &i, &grad_needed, &bv, &v, &out);
        v = out;
    }
    if (st == SIAMESE_OK) st = build_io(net, &b, 0, &v);
    if (st == SIAMESE_OK) return sm_builder_finish(&b);
    sm_builder_abort(&b);
    return st;
}

/* Forgets plan i (its primitives were made for another thread count). */
static void drop_plan(sm_net *net, int i) {
    sm_plan *plan = net->plans[i];
    if (net->last_train == plan) net->last_train = NULL;
    sm_arenas_forget(&net->arenas, plan);
    sm_plan_free(plan);
    net->plans[i] = net->plans[--net->n_plans];
}

static void drop_all_plans(sm_net *net) {
    while (net->n_plans > 0) drop_plan(net, net->n_plans - 1);
}

/* The plan for (n, mode), built on first use. oneDNN's kernels keep the thread count they
 * were created for, so a plan made before omp_set_num_threads() changed it is rebuilt. */
static siamese_status get_plan(sm_net *net, int n, int training, sm_plan **out, sm_err *err) {
    int threads = omp_get_max_threads();
    for (int i = 0; i < net->n_plans; i++) {
        if (net->plans[i]->n == n && net->plans[i]->training == training) {
            if (net->plans[i]->threads == threads) {
                *out = net->plans[i];
                return SIAMESE_OK;
            }
            drop_plan(net, i);
            break;
        }
    }
    siamese_status room = sm_dnnl_jit_room(err);
    if (room != SIAMESE_OK) return room;
    if (sm_grow((void **)&net->plans, &net->cap_plans, net->n_plans + 1, sizeof *net->plans))
        return sm_fail(err, SIAMESE_ERR_NOMEM, "engine: out of memory for plans");
    sm_plan *plan = calloc(1, sizeof *plan);
    if (!plan) return sm_fail(err, SIAMESE_ERR_NOMEM, "engine: out of memory for a plan");
    plan->n = n;
    plan->training = training;
    plan->threads = threads;
    siamese_status st = build_plan(net, plan, err);
    if (st == SIAMESE_OK) st = sm_dnnl_run_room(err);
    if (st != SIAMESE_OK) {
        sm_arenas_forget(&net->arenas, plan);
        sm_plan_free(plan);
        return st;
    }
    net->plans[net->n_plans++] = plan;
    *out = plan;
    return SIAMESE_OK;
}

/* ---- execution ---- */

static siamese_status execute_failed(const sm_net *net, const sm_step *s, dnnl_status_t st,
                                     sm_err *err) {
    const_dnnl_primitive_desc_t pd = NULL;
    dnnl_primitive_kind_t kind = dnnl_undefined_primitive;
    if (dnnl_primitive_get_primitive_desc(s->prim, &pd) == dnnl_success)
        dnnl_primitive_desc_query(pd, dnnl_query_primitive_kind, 0, &kind);
    char what[96];
    if (s->layer < net->arch.n_layers)
        snprintf(what, sizeof what, "%s of layer %d (%s)", dnnl_prim_kind2str(kind), s->layer + 1,
                 net->arch.layers[s->layer].name);
    else snprintf(what, sizeof what, "%s of the network input/output", dnnl_prim_kind2str(kind));
    return sm_dnnl_fail(st, err, what);
}

void sm_net_set_grad_hook(sm_net *net, sm_grad_ready_fn fn, void *user) {
    net->grad_hook = fn;
    net->grad_hook_user = user;
}

static int layer_step(const sm_net *net, const sm_step *s) {
    return s->layer >= 0 && s->layer < net->arch.n_layers;
}

/* 1 when the sequence's layer steps never go back up to a later layer. */
static int layers_descend(const sm_net *net, const sm_seq *seq) {
    int last = net->arch.n_layers;
    for (int i = 0; i < seq->n; i++) {
        if (!layer_step(net, &seq->v[i])) continue;
        if (seq->v[i].layer > last) return 0;
        last = seq->v[i].layer;
    }
    return 1;
}

/* After step i of a descending backward: the layer is final when the next layer step is below. */
static void report_layer_done(sm_net *net, const sm_seq *seq, int i) {
    const sm_step *s = &seq->v[i];
    if (!layer_step(net, s)) return;
    for (int j = i + 1; j < seq->n; j++)
        if (layer_step(net, &seq->v[j])) {
            if (seq->v[j].layer == s->layer) return;
            break;
        }
    dnnl_stream_wait(net->stream);
    net->grad_hook(net->grad_hook_user, s->layer);
}

/* times (when not NULL) gathers each layer's process CPU seconds: comparable on a shared, loaded
 * machine. */
static siamese_status run_steps(sm_net *net, const sm_seq *seq, double *times, int hook,
                                sm_err *err) {
    for (int i = 0; i < seq->n; i++) {
        const sm_step *s = &seq->v[i];
        double t0 = times ? sm_process_cpu_seconds() : 0.0;
        if (s->prim) {
            dnnl_status_t st = dnnl_primitive_execute(s->prim, net->stream, s->nargs, s->args);
            if (st != dnnl_success) return execute_failed(net, s, st, err);
        } else if (s->fn(s->fn_arg) != 0) {
            return sm_fail(err, SIAMESE_ERR_BACKEND, "engine: host step of layer %d failed",
                           s->layer + 1);
        }
        if (times) {
            dnnl_stream_wait(net->stream);
            times[s->layer] += sm_process_cpu_seconds() - t0;
        }
        if (hook) report_layer_done(net, seq, i);
    }
    SM_DNNL_TRY(dnnl_stream_wait(net->stream), err, "stream wait");
    return SIAMESE_OK;
}

/* The steps of a sequence of plan, its cached weights brought up to date first, with asynchronous
 * signals held off its threads (signal_hold.h). */
static siamese_status run_seq(sm_net *net, const sm_plan *plan, const sm_seq *seq, double *times,
                              int hook, sm_err *err) {
    hook = hook && net->grad_hook && layers_descend(net, seq);
    sm_signal_hold hold = sm_signals_hold(0);
    siamese_status st = sm_weight_cache_refresh(&net->weights, plan, net->stream, err);
    if (st == SIAMESE_OK) st = run_steps(net, seq, times, hook, err);
    sm_signals_release(hold);
    return st;
}

siamese_status sm_net_forward(sm_net *net, const float *x, int n, int training, float *emb,
                              sm_err *err) {
    if (!net || !x || !emb || n < 1 || n > net->max_batch)
        return sm_fail(err, SIAMESE_ERR_INVALID_ARG,
                       "engine: forward needs images, an output and 1 <= n <= %d (got %d)",
                       net ? net->max_batch : 0, n);
    training = training ? 1 : 0;
    sm_plan *plan = NULL;
    siamese_status st = get_plan(net, n, training, &plan, err);
    if (st != SIAMESE_OK) return st;
    if (training) net->last_train = NULL;
    SM_DNNL_TRY(dnnl_memory_set_data_handle(plan->user_x, (void *)(uintptr_t)x), err, "set input");
    SM_DNNL_TRY(dnnl_memory_set_data_handle(plan->user_emb, emb), err, "set output");
    st = run_seq(net, plan, &plan->fwd, net->time_fwd, 0, err);
    if (st == SIAMESE_OK && training) net->last_train = plan;
    return st;
}

siamese_status sm_net_backward(sm_net *net, const float *d_emb, sm_err *err) {
    if (!net || !d_emb)
        return sm_fail(err, SIAMESE_ERR_INVALID_ARG, "engine: backward needs d_emb");
    sm_plan *plan = net->last_train;
    if (!plan)
        return sm_fail(err, SIAMESE_ERR_INVALID_ARG,
                       "engine: backward without a completed training forward");
    if (!plan->user_demb) return SIAMESE_OK; /* nothing trainable */
    SM_DNNL_TRY(dnnl_memory_set_data_handle(plan->user_demb, (void *)(uintptr_t)d_emb), err,
                "set d_emb");
    return run_seq(net, plan, &plan->bwd, net->time_bwd, 1, err);
}

/* ---- description (benchmarks) ---- */

size_t sm_net_describe(sm_net *net, int n, int training, char *buf, size_t size, sm_err *err) {
    if (size) buf[0] = '\0';
    sm_plan *plan = NULL;
    if (!net || n < 1 || n > net->max_batch || get_plan(net, n, training ? 1 : 0, &plan, err))
        return 0;
    size_t len = 0;
    const sm_seq *seqs[2] = {&plan->fwd, &plan->bwd};
    for (int k = 0; k < 2; k++) {
        for (int i = 0; i < seqs[k]->n; i++) {
            const sm_step *s = &seqs[k]->v[i];
            const char *impl = "host", *kind = "host";
            const_dnnl_primitive_desc_t pd = NULL;
            if (s->prim && dnnl_primitive_get_primitive_desc(s->prim, &pd) == dnnl_success) {
                dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &impl);
                dnnl_primitive_kind_t pk;
                dnnl_primitive_desc_query(pd, dnnl_query_primitive_kind, 0, &pk);
                kind = dnnl_prim_kind2str(pk);
            }
            int w = snprintf(len < size ? buf + len : NULL, len < size ? size - len : 0,
                             "%s layer %2d %-22s %s\n", k ? "bwd" : "fwd", s->layer, kind, impl);
            if (w > 0) len += (size_t)w;
        }
    }
    return len;
}
