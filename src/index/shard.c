/* Sharded indexes (issue 16): an index written as n files "<path>.<r>", each a plain index of a
 * contiguous run of the rows, so shard r of an mpirun search holds global rows in order. */
#include <stdio.h>
#include <string.h>

#include "index/index.h"

#define SM_SHARDS_MAX SIAMESE_INDEX_SHARDS_MAX

/* Shard r of n: rows [r * count / n, (r + 1) * count / n). */
static void shard_rows(int count, int n, int r, int *first, int *rows) {
    long long lo = (long long)r * count / n, hi = (long long)(r + 1) * count / n;
    *first = (int)lo;
    *rows = (int)(hi - lo);
}

/* Writes rows [first, first + rows) as an index file: a view of the handle, nothing copied. */
static siamese_status write_shard(siamese_index *index, int first, int rows, const char *path) {
    siamese_index view = *index;
    view.vectors = index->vectors + (size_t)first * index->dim;
    view.labels = index->labels + first;
    view.items = index->items + first;
    view.count = view.capacity = rows;
    view.slots = NULL;
    view.slot_count = 0;
    siamese_status st = sm_index_write(&view, path);
    if (st != SIAMESE_OK) index->err = view.err;
    return st;
}

siamese_status siamese_index_save_shards(siamese_index *index, const char *path, int n) {
    if (!index) return SIAMESE_ERR_INVALID_ARG;
    sm_err_clear(&index->err);
    if (!path || n < 1 || n > SM_SHARDS_MAX || n > index->count)
        return sm_fail(&index->err, SIAMESE_ERR_INVALID_ARG,
                       "shards: %d shards of %d items: want 1 to min(items, %d)", n, index->count,
                       SM_SHARDS_MAX);
    char name[4096];
    for (int r = 0; r < n; r++) {
        if ((size_t)snprintf(name, sizeof name, "%s.%d", path, r) >= sizeof name)
            return sm_fail(&index->err, SIAMESE_ERR_INVALID_ARG, "%s: path too long", path);
        int first, rows;
        shard_rows(index->count, n, r, &first, &rows);
        siamese_status st = write_shard(index, first, rows, name);
        if (st != SIAMESE_OK) return st;
    }
    return SIAMESE_OK;
}
