/* Plan building: steps, owned oneDNN objects, memory placement in regions, reorders and backward groups. */
#include <stdlib.h>
#include <string.h>

#include "nn/layers/layers.h"

/* ---- growable arrays ---- */

static int grow(void **v, int *cap, int n, size_t elem) {
    if (n < *cap) return 0;
    int c = *cap ? *cap * 2 : 16;
    void *p = realloc(*v, (size_t)c * elem);
    if (!p) return -1;
    *v = p;
    *cap = c;
    return 0;
}

siamese_status sm_seq_push(sm_seq *s, const sm_step *step, sm_err *err) {
    if (grow((void **)&s->v, &s->cap, s->n, sizeof *s->v))
        return sm_fail(err, SIAMESE_ERR_NOMEM, "engine: out of memory for steps");
    s->v[s->n++] = *step;
    return SIAMESE_OK;
}

void sm_seq_free(sm_seq *s) {
    free(s->v);
    memset(s, 0, sizeof *s);
}

static siamese_status own_prim(sm_owned *o, dnnl_primitive_t p, sm_err *err) {
    if (grow((void **)&o->prims, &o->cap_prims, o->n_prims, sizeof *o->prims)) {
        dnnl_primitive_destroy(p);
        return sm_fail(err, SIAMESE_ERR_NOMEM, "engine: out of memory for primitives");
    }
    o->prims[o->n_prims++] = p;
    return SIAMESE_OK;
}

static siamese_status own_mem(sm_owned *o, dnnl_memory_t m, sm_err *err) {
    if (grow((void **)&o->mems, &o->cap_mems, o->n_mems, sizeof *o->mems)) {
        dnnl_memory_destroy(m);
        return sm_fail(err, SIAMESE_ERR_NOMEM, "engine: out of memory for memories");
    }
    o->mems[o->n_mems++] = m;
    return SIAMESE_OK;
}

static siamese_status own_blob(sm_owned *o, void *blob, sm_err *err) {
    if (grow((void **)&o->blobs, &o->cap_blobs, o->n_blobs, sizeof *o->blobs)) {
        free(blob);
        return sm_fail(err, SIAMESE_ERR_NOMEM, "engine: out of memory for host steps");
    }
    o->blobs[o->n_blobs++] = blob;
    return SIAMESE_OK;
}

void sm_plan_free(sm_plan *plan) {
    if (!plan) return;
    sm_owned *o = &plan->own;
    for (int i = 0; i < o->n_prims; i++) dnnl_primitive_destroy(o->prims[i]);
    for (int i = 0; i < o->n_mems; i++) dnnl_memory_destroy(o->mems[i]);
    for (int i = 0; i < o->n_blobs; i++) free(o->blobs[i]);
    free(o->prims);
    free(o->mems);
    free(o->blobs);
    sm_seq_free(&plan->fwd);
    sm_seq_free(&plan->bwd);
    free(plan);
}

/* ---- builder ---- */

#define SM_N_ARENAS (4 + 2 * SM_SLOTS)

static void all_arenas(sm_arenas *a, sm_arena *out[SM_N_ARENAS]) {
    int k = 0;
    out[k++] = &a->act;
    out[k++] = &a->infer_misc;
    out[k++] = &a->transient;
    out[k++] = &a->scratch;
    for (int s = 0; s < SM_SLOTS; s++) {
        out[k++] = &a->diff[s];
        out[k++] = &a->ping[s];
    }
}

void sm_builder_init(sm_builder *b, dnnl_engine_t engine, sm_arenas *arenas, sm_plan *plan,
                     sm_err *err) {
    memset(b, 0, sizeof *b);
    b->engine = engine;
    b->arenas = arenas;
    b->plan = plan;
    b->n = plan->n;
    b->training = plan->training;
    b->err = err;
}

void sm_arenas_forget(sm_arenas *arenas, const sm_plan *plan) {
    sm_arena *all[SM_N_ARENAS];
    all_arenas(arenas, all);
    for (int i = 0; i < SM_N_ARENAS; i++) sm_arena_forget(all[i], plan);
}

void sm_arenas_free(sm_arenas *arenas) {
    sm_arena *all[SM_N_ARENAS];
    all_arenas(arenas, all);
    for (int i = 0; i < SM_N_ARENAS; i++) sm_arena_free(all[i]);
}

void sm_builder_abort(sm_builder *b) {
    sm_seq_free(&b->bwd_tmp);
    sm_arenas_forget(b->arenas, b->plan);
}

siamese_status sm_builder_begin_group(sm_builder *b) {
    if (b->n_groups == SM_MAX_GROUPS)
        return sm_fail(b->err, SIAMESE_ERR_LIMIT, "engine: too many backward groups");
    b->group_start[b->n_groups++] = b->bwd_tmp.n;
    b->transient_cursor = 0;
    return SIAMESE_OK;
}

siamese_status sm_builder_finish(sm_builder *b) {
    siamese_status st = SIAMESE_OK;
    for (int g = b->n_groups - 1; g >= 0 && st == SIAMESE_OK; g--) {
        int end = g + 1 < b->n_groups ? b->group_start[g + 1] : b->bwd_tmp.n;
        for (int i = b->group_start[g]; i < end && st == SIAMESE_OK; i++)
            st = sm_seq_push(&b->plan->bwd, &b->bwd_tmp.v[i], b->err);
    }
    if (st != SIAMESE_OK) {
        sm_builder_abort(b);
        return st;
    }
    sm_seq_free(&b->bwd_tmp);
    sm_arena *all[SM_N_ARENAS];
    all_arenas(b->arenas, all);
    for (int i = 0; i < SM_N_ARENAS; i++) {
        st = sm_arena_commit(all[i], b->err);
        if (st != SIAMESE_OK) {
            sm_builder_abort(b);
            return st;
        }
    }
    return SIAMESE_OK;
}

siamese_status sm_builder_attr(sm_builder *b, int relu, int sum, dnnl_primitive_attr_t *attr) {
    SM_DNNL_TRY(dnnl_primitive_attr_create(attr), b->err, "attribute");
    dnnl_status_t s = dnnl_primitive_attr_set_scratchpad_mode(*attr, dnnl_scratchpad_mode_user);
    if (s == dnnl_success && (relu || sum)) {
        dnnl_post_ops_t po = NULL;
        s = dnnl_post_ops_create(&po);
        if (s == dnnl_success && sum) s = dnnl_post_ops_append_sum(po, 1.0f);
        if (s == dnnl_success && relu)
            s = dnnl_post_ops_append_eltwise(po, 1.0f, dnnl_eltwise_relu, 0.0f, 0.0f);
        if (s == dnnl_success) s = dnnl_primitive_attr_set_post_ops(*attr, po);
        if (po) dnnl_post_ops_destroy(po);
    }
    if (s != dnnl_success) {
        dnnl_primitive_attr_destroy(*attr);
        *attr = NULL;
        return sm_dnnl_fail(s, b->err, "post-ops");
    }
    return SIAMESE_OK;
}

siamese_status sm_builder_pd(sm_builder *b, const void *op_desc, int relu,
                             const_dnnl_primitive_desc_t hint, dnnl_primitive_desc_t *pd,
                             const char *what) {
    dnnl_primitive_attr_t attr = NULL;
    siamese_status st = sm_builder_attr(b, relu, 0, &attr);
    if (st != SIAMESE_OK) return st;
    dnnl_status_t s = dnnl_primitive_desc_create(pd, op_desc, attr, b->engine, hint);
    dnnl_primitive_attr_destroy(attr);
    if (s != dnnl_success) {
        *pd = NULL;
        return sm_dnnl_fail(s, b->err, what);
    }
    return SIAMESE_OK;
}

siamese_status sm_builder_external(sm_builder *b, const dnnl_memory_desc_t *md, void *ptr,
                                   dnnl_memory_t *mem) {
    SM_DNNL_TRY(dnnl_memory_create(mem, md, b->engine, ptr ? ptr : DNNL_MEMORY_NONE), b->err,
                "memory");
    return own_mem(&b->plan->own, *mem, b->err);
}

static siamese_status placed(sm_builder *b, sm_arena *a, size_t offset,
                             const dnnl_memory_desc_t *md, dnnl_memory_t *mem) {
    siamese_status st = sm_builder_external(b, md, NULL, mem);
    if (st != SIAMESE_OK) return st;
    return sm_arena_bind(a, *mem, offset, b->plan, b->err);
}

static siamese_status reserved(sm_builder *b, sm_arena *a, size_t *cursor,
                               const dnnl_memory_desc_t *md, dnnl_memory_t *mem, size_t *off) {
    size_t o = sm_arena_reserve(a, cursor, dnnl_memory_desc_get_size(md));
    if (off) *off = o;
    return placed(b, a, o, md, mem);
}

siamese_status sm_builder_persistent(sm_builder *b, const dnnl_memory_desc_t *md,
                                     dnnl_memory_t *mem) {
    if (b->training) return reserved(b, &b->arenas->act, &b->act_cursor, md, mem, NULL);
    return reserved(b, &b->arenas->infer_misc, &b->misc_cursor, md, mem, NULL);
}

siamese_status sm_builder_transient(sm_builder *b, const dnnl_memory_desc_t *md,
                                    dnnl_memory_t *mem) {
    return reserved(b, &b->arenas->transient, &b->transient_cursor, md, mem, NULL);
}

/* The first slot neither prev's nor pinned. */
static int free_slot(const sm_builder *b, const sm_value *prev) {
    int slot = 0;
    while (slot < SM_SLOTS - 1 && (((b->pinned >> slot) & 1u) || (prev && prev->slot == slot)))
        slot++;
    return slot;
}

siamese_status sm_builder_own_diff(sm_builder *b, const sm_value *in, sm_value *out) {
    *out = *in;
    out->slot = free_slot(b, in);
    size_t cursor = 0;
    return reserved(b, &b->arenas->diff[out->slot], &cursor, &in->md, &out->diff,
                    &out->diff_offset);
}

siamese_status sm_builder_value(sm_builder *b, const sm_value *prev, int with_diff,
                                const dnnl_memory_desc_t *md, sm_value *out) {
    memset(out, 0, sizeof *out);
    out->md = *md;
    out->slot = free_slot(b, prev);
    siamese_status st;
    if (b->training) {
        st = reserved(b, &b->arenas->act, &b->act_cursor, md, &out->mem, &out->offset);
        if (st == SIAMESE_OK && with_diff) {
            size_t cursor = 0;
            st = reserved(b, &b->arenas->diff[out->slot], &cursor, md, &out->diff,
                          &out->diff_offset);
        }
    } else {
        size_t cursor = 0;
        st = reserved(b, &b->arenas->ping[out->slot], &cursor, md, &out->mem, &out->offset);
    }
    return st;
}

siamese_status sm_builder_alias(sm_builder *b, const sm_value *v, const dnnl_memory_desc_t *md,
                                sm_value *out) {
    if (dnnl_memory_desc_get_size(md) > dnnl_memory_desc_get_size(&v->md))
        return sm_fail(b->err, SIAMESE_ERR_SHAPE, "engine: alias larger than its value");
    *out = *v;
    out->md = *md;
    sm_arena *a = b->training ? &b->arenas->act : &b->arenas->ping[v->slot];
    siamese_status st = placed(b, a, v->offset, md, &out->mem);
    if (st == SIAMESE_OK && v->diff)
        st = placed(b, &b->arenas->diff[v->slot], v->diff_offset, md, &out->diff);
    return st;
}

static siamese_status push_step(sm_builder *b, int backward, const sm_step *step) {
    return sm_seq_push(backward ? &b->bwd_tmp : &b->plan->fwd, step, b->err);
}

siamese_status sm_builder_step(sm_builder *b, int backward, dnnl_primitive_desc_t pd,
                               const dnnl_exec_arg_t *args, int nargs) {
    sm_step step;
    memset(&step, 0, sizeof step);
    step.layer = b->layer;
    if (nargs + 1 > SM_STEP_MAX_ARGS)
        return sm_fail(b->err, SIAMESE_ERR_LIMIT, "engine: too many arguments");
    memcpy(step.args, args, (size_t)nargs * sizeof *args);
    step.nargs = nargs;
    SM_DNNL_TRY(dnnl_primitive_create(&step.prim, pd), b->err, "primitive");
    siamese_status st = own_prim(&b->plan->own, step.prim, b->err);
    if (st != SIAMESE_OK) return st;
    const dnnl_memory_desc_t *smd = dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0);
    if (smd && dnnl_memory_desc_get_size(smd) > 0) {
        size_t cursor = 0;
        dnnl_memory_t mem;
        st = reserved(b, &b->arenas->scratch, &cursor, smd, &mem, NULL);
        if (st != SIAMESE_OK) return st;
        step.args[step.nargs].arg = DNNL_ARG_SCRATCHPAD;
        step.args[step.nargs].memory = mem;
        step.nargs++;
    }
    return push_step(b, backward, &step);
}

siamese_status sm_builder_blob(sm_builder *b, size_t bytes, void **out) {
    *out = calloc(1, bytes ? bytes : 1);
    if (!*out) return sm_fail(b->err, SIAMESE_ERR_NOMEM, "engine: out of memory");
    return own_blob(&b->plan->own, *out, b->err);
}

siamese_status sm_builder_host_step(sm_builder *b, int backward, sm_host_fn fn, void *arg) {
    siamese_status st = own_blob(&b->plan->own, arg, b->err);
    if (st != SIAMESE_OK) return st;
    sm_step step;
    memset(&step, 0, sizeof step);
    step.layer = b->layer;
    step.fn = fn;
    step.fn_arg = arg;
    return push_step(b, backward, &step);
}

siamese_status sm_builder_host_step_copy(sm_builder *b, int backward, sm_host_fn fn,
                                         const void *arg, size_t size) {
    void *copy = malloc(size);
    if (!copy) return sm_fail(b->err, SIAMESE_ERR_NOMEM, "engine: out of memory");
    memcpy(copy, arg, size);
    return sm_builder_host_step(b, backward, fn, copy);
}

siamese_status sm_builder_reorder(sm_builder *b, int backward, dnnl_memory_t src, dnnl_memory_t dst,
                                  int sum) {
    const dnnl_memory_desc_t *smd = NULL, *dmd = NULL;
    SM_DNNL_TRY(dnnl_memory_get_memory_desc(src, &smd), b->err, "memory query");
    SM_DNNL_TRY(dnnl_memory_get_memory_desc(dst, &dmd), b->err, "memory query");
    dnnl_primitive_attr_t attr = NULL;
    siamese_status st = sm_builder_attr(b, 0, sum, &attr);
    if (st != SIAMESE_OK) return st;
    dnnl_primitive_desc_t pd = NULL;
    dnnl_status_t s = dnnl_reorder_primitive_desc_create(&pd, smd, b->engine, dmd, b->engine, attr);
    dnnl_primitive_attr_destroy(attr);
    if (s != dnnl_success) return sm_dnnl_fail(s, b->err, "reorder");
    dnnl_exec_arg_t args[2] = {{DNNL_ARG_FROM, src}, {DNNL_ARG_TO, dst}};
    st = sm_builder_step(b, backward, pd, args, 2);
    dnnl_primitive_desc_destroy(pd);
    return st;
}

siamese_status sm_builder_backward_copy(sm_builder *b, dnnl_memory_t mem,
                                        const dnnl_memory_desc_t *md, dnnl_memory_t *copy) {
    const dnnl_memory_desc_t *have = NULL;
    SM_DNNL_TRY(dnnl_memory_get_memory_desc(mem, &have), b->err, "memory query");
    if (sm_md_equal(have, md)) {
        *copy = mem;
        return SIAMESE_OK;
    }
    siamese_status st = sm_builder_transient(b, md, copy);
    if (st == SIAMESE_OK) st = sm_builder_reorder(b, 1, mem, *copy, 0);
    return st;
}

siamese_status sm_builder_conform(sm_builder *b, const sm_value *in, const dnnl_memory_desc_t *md,
                                  sm_value *out) {
    if (sm_md_equal(&in->md, md)) {
        *out = *in;
        return SIAMESE_OK;
    }
    siamese_status st = sm_builder_value(b, in, in->diff != NULL, md, out);
    if (st == SIAMESE_OK) st = sm_builder_reorder(b, 0, in->mem, out->mem, 0);
    if (st == SIAMESE_OK && in->diff) {
        st = sm_builder_begin_group(b);
        if (st == SIAMESE_OK) st = sm_builder_reorder(b, 1, out->diff, in->diff, 0);
    }
    return st;
}

/* grad[0..count) += tmp[0..count), on one thread (tiny tensors: no parallel region). */
typedef struct small_accumulate {
    dnnl_memory_t tmp;
    float *grad;
    int64_t count;
} small_accumulate;

static int run_small_accumulate(void *arg) {
    small_accumulate *a = arg;
    const float *t = sm_memory_data(a->tmp);
    if (!t) return -1;
    for (int64_t i = 0; i < a->count; i++) a->grad[i] += t[i];
    return 0;
}

#define SM_SMALL_ACCUMULATE 16384

siamese_status sm_builder_accumulate(sm_builder *b, dnnl_memory_t tmp, int ndims,
                                     const int64_t *dims, float *grad) {
    const dnnl_memory_desc_t *tmd = NULL;
    SM_DNNL_TRY(dnnl_memory_get_memory_desc(tmp, &tmd), b->err, "memory query");
    dnnl_memory_desc_t md;
    sm_md_plain(&md, ndims, dims);
    if (sm_md_equal(tmd, &md) && sm_md_elems(&md) <= SM_SMALL_ACCUMULATE) {
        small_accumulate *a = malloc(sizeof *a);
        if (!a) return sm_fail(b->err, SIAMESE_ERR_NOMEM, "engine: out of memory");
        a->tmp = tmp;
        a->grad = grad;
        a->count = sm_md_elems(&md);
        return sm_builder_host_step(b, 1, run_small_accumulate, a);
    }
    dnnl_memory_t g;
    siamese_status st = sm_builder_external(b, &md, grad, &g);
    if (st != SIAMESE_OK) return st;
    return sm_builder_reorder(b, 1, tmp, g, 1);
}

siamese_status sm_builder_weight_grads(sm_builder *b, dnnl_primitive_desc_t pd, const sm_value *src,
                                       const sm_value *out, const dnnl_memory_desc_t *dw_md,
                                       const dnnl_memory_desc_t *db_md, int w_ndims,
                                       const int64_t *wei, const int64_t *bias,
                                       const sm_layer_params *p) {
    dnnl_memory_t dw = NULL, db = NULL;
    siamese_status st = sm_builder_transient(b, dw_md, &dw);
    if (st == SIAMESE_OK && db_md) st = sm_builder_transient(b, db_md, &db);
    if (st == SIAMESE_OK) {
        dnnl_exec_arg_t args[] = {{DNNL_ARG_SRC, src->mem},
                                  {DNNL_ARG_DIFF_DST, out->diff},
                                  {DNNL_ARG_DIFF_WEIGHTS, dw},
                                  {DNNL_ARG_DIFF_BIAS, db}};
        st = sm_builder_step(b, 1, pd, args, db_md ? 4 : 3);
    }
    if (st == SIAMESE_OK) st = sm_builder_accumulate(b, dw, w_ndims, wei, p->dw);
    if (st == SIAMESE_OK && db_md) st = sm_builder_accumulate(b, db, 1, bias, p->db);
    return st;
}

siamese_status sm_builder_forward_step(sm_builder *b, dnnl_primitive_desc_t pd, dnnl_memory_t src,
                                       dnnl_memory_t w, dnnl_memory_t bias, const sm_value *out) {
    dnnl_exec_arg_t args[] = {{DNNL_ARG_SRC, src},
                              {DNNL_ARG_WEIGHTS, w},
                              {DNNL_ARG_DST, out->mem},
                              {DNNL_ARG_BIAS, bias}};
    return sm_builder_step(b, 0, pd, args, bias ? 4 : 3);
}

siamese_status sm_builder_src_dst_forward(sm_builder *b, const void *op_desc, const sm_value *in,
                                          int with_diff, const char *what,
                                          dnnl_primitive_desc_t *fpd, sm_value *out) {
    siamese_status st = sm_builder_pd(b, op_desc, 0, NULL, fpd, what);
    if (st != SIAMESE_OK) return st;
    st = sm_builder_value(b, in, b->training && with_diff,
                          dnnl_primitive_desc_query_md(*fpd, dnnl_query_dst_md, 0), out);
    if (st != SIAMESE_OK) return st;
    dnnl_exec_arg_t args[] = {{DNNL_ARG_SRC, in->mem}, {DNNL_ARG_DST, out->mem}};
    return sm_builder_step(b, 0, *fpd, args, 2);
}
