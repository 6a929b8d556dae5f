/* Sharded search (issue 16): every rank searches its shard, rank 0 gathers each rank's k best
 * per query (distance, global row, item, class) and merges them by (distance, global row): the
 * order of the unsharded search, whose distances are the same exact per-pair values. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"
#include "index/index.h"

#ifdef SIAMESE_WITH_MPI
#include <mpi.h>
#endif

/* One neighbour on the wire and in the merge. */
typedef struct hit {
    float distance;
    int32_t class_len; /* -1: no class */
    int64_t row;       /* global; -1: none */
    int32_t item_len;
    int32_t pad;
    const char *item, *class_name; /* into a received buffer (merge only) */
} hit;

void siamese_shard_hits_free(siamese_shard_hits *h) {
    if (!h) return;
    for (int i = 0; h->items && i < h->nq * h->k; i++) {
        free(h->items[i]);
        free(h->classes[i]);
    }
    free(h->distances);
    free(h->rows);
    free(h->items);
    free(h->classes);
    memset(h, 0, sizeof *h);
}

static char *copy_text(const char *s, int len) {
    if (!s || len < 0) return NULL;
    char *c = malloc((size_t)len + 1);
    if (c) {
        memcpy(c, s, (size_t)len);
        c[len] = '\0';
    }
    return c;
}

static siamese_status alloc_hits(siamese_shard_hits *h, int nq, int k) {
    size_t n = (size_t)nq * k;
    h->nq = nq;
    h->k = k;
    h->distances = malloc(n * sizeof *h->distances);
    h->rows = malloc(n * sizeof *h->rows);
    h->items = calloc(n, sizeof *h->items);
    h->classes = calloc(n, sizeof *h->classes);
    return h->distances && h->rows && h->items && h->classes ? SIAMESE_OK : SIAMESE_ERR_NOMEM;
}

/* Slot i of the result from a hit (its texts copied). */
static siamese_status set_hit(siamese_shard_hits *h, size_t i, const hit *x) {
    h->distances[i] = x->distance;
    h->rows[i] = x->row;
    if (x->row < 0) return SIAMESE_OK;
    h->items[i] = copy_text(x->item, x->item_len);
    h->classes[i] = copy_text(x->class_name, x->class_len);
    return h->items[i] && (x->class_len < 0 || h->classes[i]) ? SIAMESE_OK : SIAMESE_ERR_NOMEM;
}

/* The local result as hits with global rows. */
static hit local_hit(const siamese_index *index, int row, float distance, long long offset) {
    hit x;
    memset(&x, 0, sizeof x);
    x.distance = distance;
    x.row = row < 0 ? -1 : offset + row;
    x.class_len = -1;
    if (row < 0) return x;
    x.item = siamese_index_item(index, row);
    x.item_len = (int32_t)strlen(x.item);
    x.class_name = siamese_index_class_name(index, siamese_index_label(index, row));
    if (x.class_name) x.class_len = (int32_t)strlen(x.class_name);
    return x;
}

#ifdef SIAMESE_WITH_MPI

static int compare_hits(const void *pa, const void *pb) {
    const hit *a = pa, *b = pb;
    if ((a->row < 0) != (b->row < 0)) return a->row < 0 ? 1 : -1;
    if (a->distance != b->distance) return a->distance < b->distance ? -1 : 1;
    return (a->row > b->row) - (a->row < b->row);
}

static int mpi_ranks(int *rank) {
    int initialized = 0, finalized = 0, size = 1;
    *rank = 0;
    MPI_Initialized(&initialized);
    MPI_Finalized(&finalized);
    if (!initialized || finalized) return 1;
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    MPI_Comm_rank(MPI_COMM_WORLD, rank);
    return size;
}

/* The hits of n slots as bytes: the headers, then every item and class text. */
static char *pack_hits(const hit *hits, size_t n, size_t *bytes) {
    size_t total = n * sizeof(hit);
    for (size_t i = 0; i < n; i++)
        total += (size_t)hits[i].item_len + (size_t)(hits[i].class_len > 0 ? hits[i].class_len : 0);
    char *buf = malloc(total ? total : 1), *at = buf + n * sizeof(hit);
    if (!buf) return NULL;
    memcpy(buf, hits, n * sizeof(hit));
    for (size_t i = 0; i < n; i++) {
        memcpy(at, hits[i].item ? hits[i].item : "", (size_t)hits[i].item_len);
        at += hits[i].item_len;
        if (hits[i].class_len > 0) memcpy(at, hits[i].class_name, (size_t)hits[i].class_len);
        at += hits[i].class_len > 0 ? hits[i].class_len : 0;
    }
    *bytes = total;
    return buf;
}

/* Points the n hits at the start of buf to their texts after the headers. */
static void unpack_hits(char *buf, size_t n, hit *out) {
    memcpy(out, buf, n * sizeof(hit));
    const char *at = buf + n * sizeof(hit);
    for (size_t i = 0; i < n; i++) {
        out[i].item = at;
        at += out[i].item_len;
        out[i].class_name = out[i].class_len >= 0 ? at : NULL;
        at += out[i].class_len > 0 ? out[i].class_len : 0;
    }
}

/* Rank 0: for every query the k best of the ranks' candidates. */
static siamese_status merge(char *all, const int *counts, const int *displs, int size, int nq,
                            int k, siamese_shard_hits *out) {
    size_t per_rank = (size_t)nq * k;
    hit *cands = malloc((size_t)size * per_rank * sizeof *cands);
    hit *one = malloc((size_t)size * k * sizeof *one);
    siamese_status st = cands && one ? alloc_hits(out, nq, k) : SIAMESE_ERR_NOMEM;
    for (int r = 0; st == SIAMESE_OK && r < size; r++)
        unpack_hits(all + displs[r], per_rank, cands + (size_t)r * per_rank);
    (void)counts;
    for (int q = 0; st == SIAMESE_OK && q < nq; q++) {
        for (int r = 0; r < size; r++)
            memcpy(one + (size_t)r * k, cands + (size_t)r * per_rank + (size_t)q * k,
                   (size_t)k * sizeof *one);
        qsort(one, (size_t)size * k, sizeof *one, compare_hits);
        for (int j = 0; st == SIAMESE_OK && j < k; j++)
            st = set_hit(out, (size_t)q * k + j, &one[j]);
    }
    free(cands);
    free(one);
    return st;
}

/* Gathers every rank's packed hits on rank 0 and merges them there. */
static siamese_status gather_and_merge(const hit *mine, int nq, int k, int rank, int size,
                                       siamese_shard_hits *out) {
    size_t bytes = 0;
    char *packed = pack_hits(mine, (size_t)nq * k, &bytes);
    int ok = packed && bytes <= INT32_MAX, all_ok = 0;
    MPI_Allreduce(&ok, &all_ok, 1, MPI_INT, MPI_LAND, MPI_COMM_WORLD);
    int my_bytes = all_ok ? (int)bytes : 0;
    int *counts = rank == 0 ? calloc((size_t)size, sizeof(int)) : NULL;
    int *displs = rank == 0 ? calloc((size_t)size, sizeof(int)) : NULL;
    MPI_Gather(&my_bytes, 1, MPI_INT, counts, 1, MPI_INT, 0, MPI_COMM_WORLD);
    long long total = 0;
    for (int r = 0; rank == 0 && counts && displs && r < size; r++) {
        displs[r] = (int)total;
        total += counts[r];
    }
    char *all = rank == 0 && total <= INT32_MAX ? malloc(total ? (size_t)total : 1) : NULL;
    MPI_Gatherv(packed, my_bytes, MPI_BYTE, all, counts, displs, MPI_BYTE, 0, MPI_COMM_WORLD);
    siamese_status st = all_ok ? SIAMESE_OK : SIAMESE_ERR_NOMEM;
    if (st == SIAMESE_OK && rank == 0)
        st = all && counts && displs ? merge(all, counts, displs, size, nq, k, out)
                                     : SIAMESE_ERR_NOMEM;
    free(packed);
    free(all);
    free(counts);
    free(displs);
    return st;
}

#else

static int mpi_ranks(int *rank) {
    *rank = 0;
    return 1;
}

static siamese_status gather_and_merge(const hit *mine, int nq, int k, int rank, int size,
                                       siamese_shard_hits *out) {
    (void)mine, (void)nq, (void)k, (void)rank, (void)size, (void)out;
    return SIAMESE_ERR_UNSUPPORTED;
}

#endif

/* This rank's offset: the rows of the shards of the ranks before it. */
static long long rows_before(const siamese_index *index, int size) {
    long long offset = 0;
#ifdef SIAMESE_WITH_MPI
    long long mine = siamese_index_count(index);
    int rank = 0;
    if (size > 1) {
        MPI_Exscan(&mine, &offset, 1, MPI_LONG_LONG, MPI_SUM, MPI_COMM_WORLD);
        MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    }
    if (rank == 0) offset = 0; /* MPI_Exscan leaves rank 0's result undefined */
#else
    (void)index, (void)size;
#endif
    return offset;
}

/* Rank 0's query vectors on every rank (each rank embedded the queries itself, maybe at another
 * precision): the search then equals rank 0's unsharded search. */
static const float *shared_queries(const float *queries, size_t n, int size, float **own) {
#ifdef SIAMESE_WITH_MPI
    if (size > 1) {
        *own = malloc(n ? n * sizeof(float) : 1);
        if (*own) memcpy(*own, queries, n * sizeof(float));
        int ok = *own != NULL && n <= INT32_MAX, all = 0;
        MPI_Allreduce(&ok, &all, 1, MPI_INT, MPI_LAND, MPI_COMM_WORLD);
        if (!all) return NULL;
        MPI_Bcast(*own, (int)n, MPI_FLOAT, 0, MPI_COMM_WORLD);
        return *own;
    }
#else
    (void)n, (void)size, (void)own;
#endif
    return queries;
}

/* Every rank must agree that every local search worked before the collective merge. */
static int all_ranks_ok(int ok, int size) {
#ifdef SIAMESE_WITH_MPI
    int all = ok;
    if (size > 1) MPI_Allreduce(&ok, &all, 1, MPI_INT, MPI_LAND, MPI_COMM_WORLD);
    return all;
#else
    (void)size;
    return ok;
#endif
}

/* This rank's arguments, checked as siamese_index_search checks them (out as its output), then
 * agreed by every rank: refused on one rank, refused on all, so that none goes on alone into the
 * collective calls. A NULL index is refused without a message: there is no handle to hold one. */
static siamese_status check_args_on_all_ranks(siamese_index *index, const float *queries, int nq,
                                              int k, const siamese_shard_hits *out, int size) {
    siamese_status st =
        index ? sm_index_check_search(index, "sharded search", queries, nq, k, out ? NULL : "out")
              : SIAMESE_ERR_INVALID_ARG;
    if (all_ranks_ok(st == SIAMESE_OK, size) || st != SIAMESE_OK) return st;
    return sm_fail(&index->err, SIAMESE_ERR_INVALID_ARG,
                   "sharded search: another rank refused its arguments (nq %d, k %d)", nq, k);
}

siamese_status siamese_index_search_shards(siamese_index *index, const float *queries, int nq,
                                           int k, siamese_shard_hits *out) {
    if (index) sm_err_clear(&index->err);
    if (out) memset(out, 0, sizeof *out);
    int rank = 0, size = mpi_ranks(&rank);
    siamese_status st = check_args_on_all_ranks(index, queries, nq, k, out, size);
    if (st != SIAMESE_OK || nq == 0) return st; /* nq 0 (on every rank): nothing to search */
    float *own_queries = NULL;
    size_t n = (size_t)nq * k;
    int *rows = malloc(n * sizeof *rows);
    float *dist = malloc(n * sizeof *dist);
    hit *mine = malloc(n * sizeof *mine);
    queries = shared_queries(queries, (size_t)nq * siamese_index_dim(index), size, &own_queries);
    st = rows && dist && mine && queries
             ? siamese_index_search(index, queries, nq, k, NULL, rows, dist)
             : sm_fail(&index->err, SIAMESE_ERR_NOMEM, "out of memory");
    long long offset = rows_before(index, size);
    for (size_t i = 0; st == SIAMESE_OK && i < (size_t)nq * k; i++)
        mine[i] = local_hit(index, rows[i], dist[i], offset);
    int ok = all_ranks_ok(st == SIAMESE_OK, size);
    if (st == SIAMESE_OK && !ok)
        st = sm_fail(&index->err, SIAMESE_ERR_IO, "sharded search: another rank failed");
    if (st == SIAMESE_OK && size == 1) {
        st = alloc_hits(out, nq, k);
        for (size_t i = 0; st == SIAMESE_OK && i < (size_t)nq * k; i++)
            st = set_hit(out, i, &mine[i]);
    } else if (st == SIAMESE_OK) {
        st = gather_and_merge(mine, nq, k, rank, size, out);
    }
    if (st != SIAMESE_OK) siamese_shard_hits_free(out);
    if (st == SIAMESE_ERR_NOMEM) sm_fail(&index->err, st, "sharded search: out of memory");
    free(rows);
    free(dist);
    free(mine);
    free(own_queries);
    return st;
}
