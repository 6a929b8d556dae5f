/* Internal interface of the oneDNN layer wrappers: arenas, plan steps, values and one builder per layer kind. */
#ifndef SM_LAYERS_H
#define SM_LAYERS_H

#include <stddef.h>
#include <stdint.h>

#include <oneapi/dnnl/dnnl.h>

#include "base/errors.h"
#include "nn/arch.h"

/* ---------------------------------------------------------------- dnnl_util.c */

/* Maps a failed oneDNN call to SIAMESE_ERR_BACKEND (or NOMEM) with a message naming what. */
siamese_status sm_dnnl_fail(dnnl_status_t st, sm_err *err, const char *what);
/* SIAMESE_ERR_NOMEM when too little address space is left (ulimit -v) to JIT a plan's kernels. */
siamese_status sm_dnnl_jit_room(sm_err *err);
/* The same once a plan's memory is mapped, before it first runs (oneDNN JITs gemm kernels then). */
siamese_status sm_dnnl_run_room(sm_err *err);
#define SM_DNNL_TRY(call, err, what)                                                               \
    do {                                                                                           \
        dnnl_status_t sm_dnnl_st_ = (call);                                                        \
        if (sm_dnnl_st_ != dnnl_success) return sm_dnnl_fail(sm_dnnl_st_, (err), (what));          \
    } while (0)

/* Plain fp32 descriptors: 1-D [a] (x), 2-D [a, b] (ab), 4-D [a, b, c, d] (abcd = nchw / oihw). */
void sm_md_plain(dnnl_memory_desc_t *md, int ndims, const int64_t *dims);
void sm_md_any(dnnl_memory_desc_t *md, int ndims, const int64_t *dims);
/* Layout left to the primitive, element type dt (f32 or bf16). */
void sm_md_any_typed(dnnl_memory_desc_t *md, int ndims, const int64_t *dims, dnnl_data_type_t dt);
int sm_md_equal(const dnnl_memory_desc_t *a, const dnnl_memory_desc_t *b);
/* Logical element count of a descriptor. */
int64_t sm_md_elems(const dnnl_memory_desc_t *md);
/* The buffer behind a memory object, or NULL when oneDNN gives none (plan steps return -1 then). */
void *sm_memory_data(const_dnnl_memory_t mem);

/* One aligned block that memory objects point into at fixed offsets. Plans reserve from
 * offset 0 (they are never live at the same time); commit grows the block to the largest
 * reservation and re-points every memory object bound to it. */
typedef struct sm_binding {
    dnnl_memory_t mem;
    size_t offset;
    const void *owner; /* the plan the memory belongs to */
} sm_binding;

typedef struct sm_arena {
    char *base;
    size_t cap;  /* bytes allocated */
    size_t need; /* largest end offset any plan reserved */
    sm_binding *bind;
    int n_bind, cap_bind;
} sm_arena;

/* Reserves bytes at *cursor (64-byte aligned); returns the offset and advances the cursor. */
size_t sm_arena_reserve(sm_arena *a, size_t *cursor, size_t bytes);
siamese_status sm_arena_bind(sm_arena *a, dnnl_memory_t mem, size_t offset, const void *owner,
                             sm_err *err);
/* Drops every binding of owner (its memories are about to be destroyed). */
void sm_arena_forget(sm_arena *a, const void *owner);
siamese_status sm_arena_commit(sm_arena *a, sm_err *err);
void sm_arena_free(sm_arena *a);

/* ---------------------------------------------------------------- plan.c */

#define SM_STEP_MAX_ARGS 12

/* A host step; returns 0 on success. */
typedef int (*sm_host_fn)(void *arg);

/* One thing to run: a oneDNN primitive with its arguments, or a host function. */
typedef struct sm_step {
    dnnl_primitive_t prim;
    int nargs;
    dnnl_exec_arg_t args[SM_STEP_MAX_ARGS];
    sm_host_fn fn;
    void *fn_arg;
    int layer; /* for per-layer timing; -1 for the network's input/output reorders */
} sm_step;

typedef struct sm_seq {
    sm_step *v;
    int n, cap;
} sm_seq;

/* Primitives, memories and host-argument blocks owned by one plan, destroyed with it. */
typedef struct sm_owned {
    dnnl_primitive_t *prims;
    int n_prims, cap_prims;
    dnnl_memory_t *mems;
    int n_mems, cap_mems;
    void **blobs;
    int n_blobs, cap_blobs;
} sm_owned;

/* ---------------------------------------------------------------- weight_cache.c */

/* Weights kept in the layout a kernel wants (blocked, or bf16), shared by every plan of a net that
 * wants that layout and re-laid from the plain parameters only when their layer's parameters
 * changed: layer_gen[layer] (the net's, bumped by every writer of the parameters) differs from
 * the generation the copy was made from. */
typedef struct sm_relaid sm_relaid;
typedef struct sm_weight_cache {
    sm_relaid *v;
    int n, cap;
    const uint64_t *layer_gen; /* [SM_MAX_LAYERS] the net's */
} sm_weight_cache;

#define SM_PLAN_RELAID_MAX (SM_MAX_LAYERS * 2)

void sm_weight_cache_free(sm_weight_cache *c);

/* Everything to run one batch size in one mode: forward steps, backward steps (train). */
typedef struct sm_plan {
    int n;
    int training;
    int threads; /* omp_get_max_threads() when the primitives were created */
    sm_seq fwd;
    sm_seq bwd;
    sm_owned own;
    dnnl_memory_t user_x;           /* [n, c, h, w] plain, handle set per call */
    dnnl_memory_t user_emb;         /* [n, emb] plain, handle set per call */
    dnnl_memory_t user_demb;        /* [n, emb] plain, handle set per call (train) */
    int relaid[SM_PLAN_RELAID_MAX]; /* the weight cache's entries its steps read */
    int n_relaid;
} sm_plan;

/* Brings the cached weights plan reads up to date (a reorder for each whose layer's parameters
 * changed since it was made); run before each of the plan's forward and backward sequences. Debug
 * builds also check that no copy they keep was written behind the generation counters' back. */
siamese_status sm_weight_cache_refresh(sm_weight_cache *c, const sm_plan *plan,
                                       dnnl_stream_t stream, sm_err *err);

/* Values take turns in SM_SLOTS regions (each at offset 0): a new value takes the first slot that
 * is neither its input's nor pinned (a residual block pins its input and its main branch's
 * output), so a chain alternates between two slots and a block needs at most four. */
#define SM_SLOTS 4

/* The memory regions plans draw from. Train and inference plans use separate regions so an
 * inference forward never clobbers what a pending backward needs. */
typedef struct sm_arenas {
    sm_arena act;            /* train: every activation and what backward keeps */
    sm_arena diff[SM_SLOTS]; /* train: gradients of activations, one region per value slot */
    sm_arena ping[SM_SLOTS]; /* inference: activations, one region per value slot */
    sm_arena infer_misc;     /* inference: reordered weights and the like */
    sm_arena transient;      /* train backward: weight-gradient temporaries, reset per group */
    sm_arena scratch;        /* every primitive's scratchpad (user-managed), at offset 0 */
} sm_arenas;

/* An activation of the plan: its layout, memory, and (train) the memory of its gradient. */
typedef struct sm_value {
    dnnl_memory_desc_t md;
    dnnl_memory_t mem;
    dnnl_memory_t diff; /* NULL when no gradient is needed for it */
    int slot;      /* picks the inference region ping[slot] and the gradient region diff[slot] */
    size_t offset; /* in its activation region */
    size_t diff_offset; /* in diff[slot] */
} sm_value;

/* Where a layer's tensors live in the flat buffers (NULL when absent). */
typedef struct sm_layer_params {
    float *w, *dw; /* conv OIHW / linear [out, in] / batchnorm weight */
    float *b, *db; /* bias */
    float *running_mean, *running_var;
    int64_t *num_batches_tracked;
} sm_layer_params;

#define SM_MAX_GROUPS (SM_MAX_LAYERS * 4)

typedef struct sm_builder {
    dnnl_engine_t engine;
    sm_plan *plan;
    sm_arenas *arenas;
    int n;
    int training;
    int bf16;        /* convolutions in bf16; linear layers stay fp32 */
    int winograd;    /* fp32 3x3 stride-1 convolutions may use oneDNN's Winograd kernel */
    int host_pool;   /* training max pooling over tiling windows may use maxpool_tiles.c */
    int layer;       /* layer being built (tags steps) */
    unsigned pinned; /* bit s: slot s holds a value still needed (residual blocks) */
    size_t act_cursor, misc_cursor, transient_cursor;
    sm_seq bwd_tmp; /* backward steps in build order */
    int group_start[SM_MAX_GROUPS];
    int n_groups;
    sm_weight_cache *weights; /* the net's kernel-layout weights */
    sm_err *err;
} sm_builder;

siamese_status sm_seq_push(sm_seq *s, const sm_step *step, sm_err *err);
void sm_seq_free(sm_seq *s);
void sm_plan_free(sm_plan *plan);

void sm_builder_init(sm_builder *b, dnnl_engine_t engine, sm_arenas *arenas, sm_plan *plan,
                     sm_err *err);
/* Puts the backward groups in running order and sizes and binds every region. */
siamese_status sm_builder_finish(sm_builder *b);
/* After a failed build: forgets the plan's bindings (its memories are about to be destroyed). */
void sm_builder_abort(sm_builder *b);
/* Forgets plan's bindings in every region; call before sm_plan_free of a built plan. */
void sm_arenas_forget(sm_arenas *arenas, const sm_plan *plan);
/* Frees every region. */
void sm_arenas_free(sm_arenas *arenas);
/* A step running pd's primitive (created here, owned by the plan) with args; binds the pd's
 * scratchpad (user mode) when it has one. The caller keeps and destroys pd. */
siamese_status sm_builder_step(sm_builder *b, int backward, dnnl_primitive_desc_t pd,
                               const dnnl_exec_arg_t *args, int nargs);
/* bytes of zeroed host memory owned by the plan (constants a primitive reads). */
siamese_status sm_builder_blob(sm_builder *b, size_t bytes, void **out);
/* A host function step; the plan takes ownership of arg (malloc'd) and frees it. */
siamese_status sm_builder_host_step(sm_builder *b, int backward, sm_host_fn fn, void *arg);
/* sm_builder_host_step with a malloc'd copy of the size bytes at arg (a pass's settings). */
siamese_status sm_builder_host_step_copy(sm_builder *b, int backward, sm_host_fn fn,
                                         const void *arg, size_t size);
/* Starts a new group of backward steps; groups run in reverse order of creation. */
siamese_status sm_builder_begin_group(sm_builder *b);
/* Attribute with user-managed scratchpad (and optionally fused relu / accumulate). */
siamese_status sm_builder_attr(sm_builder *b, int relu, int sum, dnnl_primitive_attr_t *attr);
/* Creates a primitive descriptor for op_desc with a user-scratchpad attribute. */
siamese_status sm_builder_pd(sm_builder *b, const void *op_desc, int relu,
                             const_dnnl_primitive_desc_t hint, dnnl_primitive_desc_t *pd,
                             const char *what);
/* Memory objects: over external storage, or reserved in a region. */
siamese_status sm_builder_external(sm_builder *b, const dnnl_memory_desc_t *md, void *ptr,
                                   dnnl_memory_t *mem);
siamese_status sm_builder_persistent(sm_builder *b, const dnnl_memory_desc_t *md,
                                     dnnl_memory_t *mem);
siamese_status sm_builder_transient(sm_builder *b, const dnnl_memory_desc_t *md,
                                    dnnl_memory_t *mem);
/* A new activation with layout md following value prev (in the first slot that is neither
 * prev's nor pinned). */
siamese_status sm_builder_value(sm_builder *b, const sm_value *prev, int with_diff,
                                const dnnl_memory_desc_t *md, sm_value *out);
/* in itself (same memory) with a gradient memory of its own in another slot (training). */
siamese_status sm_builder_own_diff(sm_builder *b, const sm_value *in, sm_value *out);
/* The same storage as v seen through another descriptor of equal size (flatten). */
siamese_status sm_builder_alias(sm_builder *b, const sm_value *v, const dnnl_memory_desc_t *md,
                                sm_value *out);
/* The weights of the layer being built (plain params, dims of ndims) in layout md: the flat
 * parameters themselves when md is plain, otherwise the weight cache's copy in md. */
siamese_status sm_builder_weights(sm_builder *b, int ndims, const int64_t *dims,
                                  const dnnl_memory_desc_t *md, float *params, dnnl_memory_t *mem);
/* Reorder from src to dst as a step; sum = 1 accumulates into dst. */
siamese_status sm_builder_reorder(sm_builder *b, int backward, dnnl_memory_t src, dnnl_memory_t dst,
                                  int sum);
/* mem in layout md for a backward step to read: mem itself when it has that layout, else a
 * transient copy made by a backward reorder step (in the current group). */
siamese_status sm_builder_backward_copy(sm_builder *b, dnnl_memory_t mem,
                                        const dnnl_memory_desc_t *md, dnnl_memory_t *copy);
/* Returns in itself when its layout is md, otherwise a new value filled by a reorder (and
 * whose gradient is reordered back in a backward group of its own). */
siamese_status sm_builder_conform(sm_builder *b, const sm_value *in, const dnnl_memory_desc_t *md,
                                  sm_value *out);
/* Accumulates a weight-gradient temporary into the flat gradient buffer (plain layout): a
 * single-threaded host loop for small tensors, a reorder with a sum post-op for large ones. */
siamese_status sm_builder_accumulate(sm_builder *b, dnnl_memory_t tmp, int ndims,
                                     const int64_t *dims, float *grad);
/* The forward half of a layer whose primitive reads SRC and writes DST only (relu, avgpool):
 * its primitive descriptor (*fpd, kept by the caller as its backward's hint and destroyed by it,
 * even on failure), its output value after in, and the step. */
siamese_status sm_builder_src_dst_forward(sm_builder *b, const void *op_desc, const sm_value *in,
                                          int with_diff, const char *what,
                                          dnnl_primitive_desc_t *fpd, sm_value *out);
/* The forward step of primitive pd (conv or inner product): src and weights w, plus bias when
 * it is not NULL, into out. */
siamese_status sm_builder_forward_step(sm_builder *b, dnnl_primitive_desc_t pd, dnnl_memory_t src,
                                       dnnl_memory_t w, dnnl_memory_t bias, const sm_value *out);
/* A backward-weights step of primitive pd (conv or inner product) from src and out's gradient
 * into temporaries of layouts dw_md and db_md (NULL: no bias), then their accumulation into the
 * flat gradients p->dw (w_ndims dims wei) and p->db (dims bias). */
siamese_status sm_builder_weight_grads(sm_builder *b, dnnl_primitive_desc_t pd, const sm_value *src,
                                       const sm_value *out, const dnnl_memory_desc_t *dw_md,
                                       const dnnl_memory_desc_t *db_md, int w_ndims,
                                       const int64_t *wei, const int64_t *bias,
                                       const sm_layer_params *p);

/* ---------------------------------------------------------------- one builder per kind */

/* Each appends its forward steps (and in training its backward group) to the plan and fills
 * out with the layer's output value. */
siamese_status sm_conv2d_build(sm_builder *b, const sm_layer *layer, int fuse_relu,
                               const sm_layer_params *p, const sm_value *in, sm_value *out);
/* [n, c, h, w] in any layout -> [n, c*h*w] plain in torch .view(n, -1) order. */
siamese_status sm_flatten_build(sm_builder *b, const sm_value *in, sm_value *out);
siamese_status sm_relu_build(sm_builder *b, const sm_value *in, int with_diff, sm_value *out);
/* The backward step of a ReLU fused into the primitive that wrote out (a post-op): out's gradient
 * where out > 0, else 0, into diff_src (which may be out->diff itself). */
siamese_status sm_relu_backward_fused(sm_builder *b, const sm_value *out, dnnl_memory_t diff_src);
siamese_status sm_maxpool2d_build(sm_builder *b, const sm_layer *layer, const sm_value *in,
                                  int with_diff, sm_value *out);
/* Whether maxpool_tiles.c takes this pooling: a training plan, windows that tile the map (stride
 * equal to the kernel, no padding) and fp32 input in nChw16c. */
int sm_maxpool_tiles_fit(const sm_builder *b, const sm_layer *layer, const sm_value *in);
/* The host kernel's forward step (and backward group when in has a gradient). */
siamese_status sm_maxpool_tiles_build(sm_builder *b, const sm_layer *layer, const sm_value *in,
                                      int with_diff, sm_value *out);
siamese_status sm_linear_build(sm_builder *b, const sm_layer *layer, const sm_layer_params *p,
                               const sm_value *in, sm_value *out);
/* Residual blocks (nn/layers/residual.c). The main branch of a block starts from main_in, which
 * is in (same memory) with a gradient of its own that backward adds into in's. */
siamese_status sm_fork_build(sm_builder *b, const sm_value *in, sm_value *main_in);
/* out = main_out + skip (then ReLU when fuse_relu); both get out's gradient (through the ReLU). */
siamese_status sm_add_build(sm_builder *b, const sm_value *main_out, const sm_value *skip,
                            int fuse_relu, sm_value *out);
/* out = skip + main_out zero-padded at the bottom/right to skip's size (add(pad=1)); out is
 * plain fp32; main_out gets the window of out's gradient, skip all of it. */
siamese_status sm_add_padded_build(sm_builder *b, const sm_value *main_out, const sm_value *skip,
                                   sm_value *out);
/* dropout (nn/layers/dropout.c): in training plans a new value, masked by a draw from (*seed,
 * layer, element) when the forward runs, with a backward group applying the same mask; in
 * inference plans (or p = 0) out is in itself. */
siamese_status sm_dropout_build(sm_builder *b, const sm_layer *layer, const uint64_t *seed,
                                const sm_value *in, int with_diff, sm_value *out);
/* Global average pooling: [n, c, h, w] -> [n, c, 1, 1]. */
siamese_status sm_avgpool_build(sm_builder *b, const sm_value *in, int with_diff, sm_value *out);
/* batchnorm2d; frozen_stats = 1 uses the running statistics in training too (not updated), and
 * the scale layer is the same primitive over a mean of 0 and a variance of 1 (eps 0). fuse_relu
 * = 1 applies the ReLU after it in the same primitive (backward masks the gradient itself). */
siamese_status sm_batchnorm2d_build(sm_builder *b, const sm_layer *layer, int fuse_relu,
                                    const sm_layer_params *p, const sm_value *in, sm_value *out);

#endif
