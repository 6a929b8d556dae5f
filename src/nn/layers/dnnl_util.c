/* oneDNN helpers: status mapping, plain memory descriptors, and arenas that memory objects point into. */
#include <stdlib.h>
#include <string.h>

#include "base/memlimit.h"
#include "base/tensor_alloc.h"
#include "nn/layers/layers.h"

static const char *dnnl_status_name(dnnl_status_t st) {
    switch (st) {
    case dnnl_success:
        return "success";
    case dnnl_out_of_memory:
        return "out of memory";
    case dnnl_invalid_arguments:
        return "invalid arguments";
    case dnnl_unimplemented:
        return "no implementation for these shapes";
    case dnnl_iterator_ends:
        return "iterator ends";
    case dnnl_runtime_error:
        return "runtime error";
    case dnnl_not_required:
        return "not required";
    default:
        return "unknown oneDNN status";
    }
}

siamese_status sm_dnnl_fail(dnnl_status_t st, sm_err *err, const char *what) {
    siamese_status status = st == dnnl_out_of_memory ? SIAMESE_ERR_NOMEM : SIAMESE_ERR_BACKEND;
    return sm_fail(err, status, "oneDNN %s: %s", what, dnnl_status_name(st));
}

/* oneDNN's JIT (Xbyak, built without exceptions) writes through a NULL code buffer when it cannot
 * map one. Under an address-space limit a plan is checked twice: before its primitives are
 * created (they JIT most kernels: about 4 MB for the small test runs; 17 MB left crashed once),
 * and once its memory is mapped, before it first runs, because oneDNN generates the gemm kernels
 * of inner products lazily on the first execute (SM_GEMM_JIT_ROOM): the activation arenas mapped
 * in between had taken that room (ulimit -v 150 MB). */
static siamese_status jit_room(size_t need, const char *what, sm_err *err) {
    size_t left = 0;
    if (!sm_address_space_short(need, &left)) return SIAMESE_OK;
    return sm_fail(err, SIAMESE_ERR_NOMEM,
                   "engine: out of memory: %zu MB of address space left under the limit "
                   "(ulimit -v), too little to %s",
                   left >> 20, what);
}

siamese_status sm_dnnl_jit_room(sm_err *err) {
    return jit_room((size_t)32 << 20, "build the network's kernels", err);
}

siamese_status sm_dnnl_run_room(sm_err *err) {
    return jit_room(SM_GEMM_JIT_ROOM, "generate the kernels the network's first run needs", err);
}

static dnnl_format_tag_t plain_tag(int ndims) {
    switch (ndims) {
    case 1:
        return dnnl_a;
    case 2:
        return dnnl_ab;
    case 3:
        return dnnl_abc;
    case 5:
        return dnnl_abcde;
    default:
        return dnnl_abcd;
    }
}

void sm_md_plain(dnnl_memory_desc_t *md, int ndims, const int64_t *dims) {
    dnnl_dims_t d = {0};
    for (int i = 0; i < ndims; i++) d[i] = dims[i];
    dnnl_memory_desc_init_by_tag(md, ndims, d, dnnl_f32, plain_tag(ndims));
}

void sm_md_any(dnnl_memory_desc_t *md, int ndims, const int64_t *dims) {
    sm_md_any_typed(md, ndims, dims, dnnl_f32);
}

void sm_md_any_typed(dnnl_memory_desc_t *md, int ndims, const int64_t *dims, dnnl_data_type_t dt) {
    dnnl_dims_t d = {0};
    for (int i = 0; i < ndims; i++) d[i] = dims[i];
    dnnl_memory_desc_init_by_tag(md, ndims, d, dt, dnnl_format_tag_any);
}

int sm_md_equal(const dnnl_memory_desc_t *a, const dnnl_memory_desc_t *b) {
    return dnnl_memory_desc_equal(a, b);
}

int64_t sm_md_elems(const dnnl_memory_desc_t *md) {
    int64_t n = 1;
    for (int i = 0; i < md->ndims; i++) n *= md->dims[i];
    return n;
}

void *sm_memory_data(const_dnnl_memory_t mem) {
    void *data = NULL;
    return dnnl_memory_get_data_handle(mem, &data) == dnnl_success ? data : NULL;
}

/* ---- arenas ---- */

#define SM_ARENA_ALIGN 64
#define SM_ARENA_PAGE 4096

size_t sm_arena_reserve(sm_arena *a, size_t *cursor, size_t bytes) {
    size_t off = (*cursor + SM_ARENA_ALIGN - 1) / SM_ARENA_ALIGN * SM_ARENA_ALIGN;
    *cursor = off + bytes;
    if (*cursor > a->need) a->need = *cursor;
    return off;
}

siamese_status sm_arena_bind(sm_arena *a, dnnl_memory_t mem, size_t offset, const void *owner,
                             sm_err *err) {
    if (a->n_bind == a->cap_bind) {
        int cap = a->cap_bind ? a->cap_bind * 2 : 32;
        sm_binding *v = realloc(a->bind, (size_t)cap * sizeof *v);
        if (!v) return sm_fail(err, SIAMESE_ERR_NOMEM, "engine: out of memory for bindings");
        a->bind = v;
        a->cap_bind = cap;
    }
    a->bind[a->n_bind].mem = mem;
    a->bind[a->n_bind].offset = offset;
    a->bind[a->n_bind].owner = owner;
    a->n_bind++;
    return SIAMESE_OK;
}

void sm_arena_forget(sm_arena *a, const void *owner) {
    int k = 0;
    for (int i = 0; i < a->n_bind; i++)
        if (a->bind[i].owner != owner) a->bind[k++] = a->bind[i];
    a->n_bind = k;
}

siamese_status sm_arena_commit(sm_arena *a, sm_err *err) {
    if (a->need > a->cap) {
        size_t cap = (a->need + SM_ARENA_PAGE - 1) / SM_ARENA_PAGE * SM_ARENA_PAGE;
        void *p = sm_tensor_alloc(cap, SM_ARENA_PAGE);
        if (!p)
            return sm_fail(err, SIAMESE_ERR_NOMEM,
                           "engine: cannot allocate %zu bytes of "
                           "activation memory",
                           cap);
        memset(p, 0, cap);
        free(a->base);
        a->base = p;
        a->cap = cap;
    }
    if (!a->base) return SIAMESE_OK;
    for (int i = 0; i < a->n_bind; i++)
        SM_DNNL_TRY(dnnl_memory_set_data_handle(a->bind[i].mem, a->base + a->bind[i].offset), err,
                    "set handle");
    return SIAMESE_OK;
}

void sm_arena_free(sm_arena *a) {
    free(a->base);
    free(a->bind);
    memset(a, 0, sizeof *a);
}
