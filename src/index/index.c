/* siamese_index: a searchable set of embeddings with their items, labels and the fingerprint of
 * the model that made them; opened memory-mapped, updated in memory, saved atomically. */
#define _XOPEN_SOURCE 700 /* realpath */
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"
#include "index/fingerprint.h"
#include "index/index.h"

siamese_index *sm_index_alloc(void) { return calloc(1, sizeof(siamese_index)); }

void sm_index_free_item(siamese_index *index, char *item) {
    uintptr_t p = (uintptr_t)item;
    if (p < (uintptr_t)index->mapped_items || p >= (uintptr_t)index->mapped_items_end) free(item);
}

/* A handle carrying only the message, for a failed create or open (or NULL). */
static siamese_index *error_handle(siamese_index *index) {
    siamese_index *e = sm_index_alloc();
    if (e) e->err = index->err;
    siamese_index_free(index);
    return e;
}

siamese_status siamese_index_create(siamese_model *model, const char *model_path,
                                    siamese_index **out) {
    if (!out) return SIAMESE_ERR_INVALID_ARG;
    *out = NULL;
    if (!model) return SIAMESE_ERR_INVALID_ARG;
    siamese_index *index = sm_index_alloc();
    if (!index) return SIAMESE_ERR_NOMEM;
    index->dim = siamese_model_embedding_dim(model);
    index->metric = siamese_model_metric(model);
    siamese_status status =
        siamese_model_fingerprint(model, index->fingerprint, sizeof index->fingerprint);
    if (status != SIAMESE_OK) {
        sm_fail(&index->err, status, "index: the model has no fingerprint");
    } else if (model_path) {
        char *real = realpath(model_path, NULL);
        index->model_path = real ? real : sm_strdup(model_path);
        if (!index->model_path) status = sm_fail(&index->err, SIAMESE_ERR_NOMEM, "out of memory");
    }
    *out = status == SIAMESE_OK ? index : error_handle(index);
    return status;
}

siamese_status siamese_index_open(const char *path, siamese_index **out) {
    if (!out) return SIAMESE_ERR_INVALID_ARG;
    *out = NULL;
    if (!path) return SIAMESE_ERR_INVALID_ARG;
    siamese_index *index = sm_index_alloc();
    if (!index) return SIAMESE_ERR_NOMEM;
    siamese_status status = sm_index_read(index, path);
    if (status == SIAMESE_OK) index->capacity = index->count;
    *out = status == SIAMESE_OK ? index : error_handle(index);
    return status;
}

siamese_status siamese_index_save(siamese_index *index, const char *path) {
    if (!index) return SIAMESE_ERR_INVALID_ARG;
    sm_err_clear(&index->err);
    if (!path) return sm_fail(&index->err, SIAMESE_ERR_INVALID_ARG, "index save: no path given");
    return sm_index_write(index, path);
}

void siamese_index_free(siamese_index *index) {
    if (!index) return;
    for (int i = 0; index->items && i < index->count; i++)
        sm_index_free_item(index, index->items[i]);
    for (int c = 0; index->class_names && c < index->class_count; c++) free(index->class_names[c]);
    free(index->items);
    free(index->labels);
    free(index->class_names);
    free(index->owned);
    free(index->model_path);
    free(index->path);
    free(index->slots);
    sm_safetensors_free(index->file);
    free(index);
}

/* ---------------------------------------------------------------- getters */

const char *siamese_index_errmsg(const siamese_index *index) { return index ? index->err.msg : ""; }
int siamese_index_count(const siamese_index *index) { return index ? index->count : 0; }
int siamese_index_dim(const siamese_index *index) { return index ? index->dim : 0; }
siamese_metric siamese_index_metric(const siamese_index *index) {
    return index ? index->metric : SIAMESE_METRIC_EUCLIDEAN;
}
const char *siamese_index_fingerprint(const siamese_index *index) {
    return index ? index->fingerprint : "";
}
const char *siamese_index_model_path(const siamese_index *index) {
    return index ? index->model_path : NULL;
}
const char *siamese_index_item(const siamese_index *index, int row) {
    return index && row >= 0 && row < index->count ? index->items[row] : NULL;
}
int siamese_index_label(const siamese_index *index, int row) {
    return index && row >= 0 && row < index->count ? index->labels[row] : -1;
}
int siamese_index_class_count(const siamese_index *index) { return index ? index->class_count : 0; }
const char *siamese_index_class_name(const siamese_index *index, int class_index) {
    return index && class_index >= 0 && class_index < index->class_count
               ? index->class_names[class_index]
               : NULL;
}
const float *siamese_index_vector(const siamese_index *index, int row) {
    return index && row >= 0 && row < index->count ? index->vectors + (size_t)row * index->dim
                                                   : NULL;
}

/* ---------------------------------------------------------------- item lookup */

static uint64_t hash_string(const char *s) {
    uint64_t h = 0xcbf29ce484222325ULL;
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 0x100000001b3ULL;
    return h;
}

/* (Re)builds the item table: load factor at most one half. */
static int build_slots(siamese_index *index) {
    int n = 16;
    while (n < 2 * index->count + 2 && n < (1 << 30)) n *= 2;
    free(index->slots);
    index->slots = calloc((size_t)n, sizeof(int));
    if (!index->slots) return -1;
    index->slot_count = n;
    for (int row = 0; row < index->count; row++) {
        size_t s = hash_string(index->items[row]) & (size_t)(n - 1);
        while (index->slots[s]) s = (s + 1) & (size_t)(n - 1);
        index->slots[s] = row + 1;
    }
    return 0;
}

/* Records the item of a new last row: in place, or by a rebuild past half full. */
static int slot_insert(siamese_index *index, int row) {
    if (!index->slots || 2 * (size_t)index->count > (size_t)index->slot_count)
        return build_slots(index);
    size_t mask = (size_t)index->slot_count - 1, s = hash_string(index->items[row]) & mask;
    while (index->slots[s]) s = (s + 1) & mask;
    index->slots[s] = row + 1;
    return 0;
}

static int find_exact(siamese_index *index, const char *item) {
    if (!index->slots && build_slots(index) != 0) {
        for (int row = 0; row < index->count; row++)
            if (strcmp(index->items[row], item) == 0) return row;
        return -1;
    }
    size_t mask = (size_t)index->slot_count - 1, s = hash_string(item) & mask;
    for (; index->slots[s]; s = (s + 1) & mask)
        if (strcmp(index->items[index->slots[s] - 1], item) == 0) return index->slots[s] - 1;
    return -1;
}

/* Items are recorded as absolute paths when the file existed: a path is looked up as given, then
 * resolved. */
int siamese_index_find(siamese_index *index, const char *item) {
    if (!index || !item) return -1;
    int row = find_exact(index, item);
    if (row >= 0) return row;
    char *real = realpath(item, NULL);
    if (real) row = find_exact(index, real);
    free(real);
    return row;
}

/* ---------------------------------------------------------------- updates */

/* Moves the rows to the heap (once) with room for at least need rows. */
static siamese_status reserve(siamese_index *index, int need) {
    if (index->owned && need <= index->capacity) return SIAMESE_OK;
    int cap = index->capacity > 16 ? index->capacity : 16;
    while (cap < need) cap = cap > INT_MAX / 2 ? need : cap * 2;
    float *rows = malloc((size_t)cap * index->dim * sizeof(float));
    int *labels = realloc(index->labels, (size_t)cap * sizeof(int));
    if (labels) index->labels = labels;
    char **items = labels ? realloc(index->items, (size_t)cap * sizeof(char *)) : NULL;
    if (items) index->items = items;
    if (!rows || !labels || !items) {
        free(rows);
        return sm_fail(&index->err, SIAMESE_ERR_NOMEM, "index: out of memory for %d rows", need);
    }
    if (index->count)
        memcpy(rows, index->vectors, (size_t)index->count * index->dim * sizeof(float));
    free(index->owned);
    index->owned = rows;
    index->vectors = rows;
    index->capacity = cap;
    return SIAMESE_OK;
}

/* The index's class for a class name, added when new; -1 when name is NULL. */
static int class_of(siamese_index *index, const char *name) {
    if (!name) return -1;
    for (int c = 0; c < index->class_count; c++)
        if (strcmp(index->class_names[c], name) == 0) return c;
    char **grown = realloc(index->class_names, (size_t)(index->class_count + 1) * sizeof(char *));
    if (!grown) return -2;
    index->class_names = grown;
    if (!(grown[index->class_count] = sm_strdup(name))) return -2;
    return index->class_count++;
}

/* The item recorded for row i of e: the absolute path of its file when it has one that exists,
 * else its path or name as given (in-memory images have names only). */
static char *item_of(const siamese_embeddings *e, int i) {
    const char *path = e->paths ? e->paths[i] : NULL;
    if (!path) return e->names && e->names[i] ? sm_strdup(e->names[i]) : NULL;
    char *real = realpath(path, NULL);
    return real ? real : sm_strdup(path);
}

/* The class of a file without one: the index's class whose name ends the file's folder path
 * ("s1" or "training/s1" for ".../training/s1/3.pgm"), so a re-added file gets its class back;
 * -1 when none does. */
static int class_of_folder(const siamese_index *index, const char *item) {
    const char *slash = strrchr(item, '/');
    if (!slash) return -1;
    size_t folder_len = (size_t)(slash - item);
    for (int c = 0; c < index->class_count; c++) {
        size_t n = strlen(index->class_names[c]);
        if (n < folder_len && item[folder_len - n - 1] == '/' &&
            strncmp(item + folder_len - n, index->class_names[c], n) == 0)
            return c;
    }
    return -1;
}

/* Writes row of e into index row (new or replaced). */
static siamese_status put_row(siamese_index *index, const siamese_embeddings *e, int i) {
    const char *cname = e->labels && e->labels[i] >= 0 && e->labels[i] < e->class_count
                            ? e->class_names[e->labels[i]]
                            : NULL;
    int label = class_of(index, cname);
    char *item = item_of(e, i);
    if (label < -1 || !item) {
        free(item);
        return sm_fail(&index->err, SIAMESE_ERR_NOMEM, "index: out of memory");
    }
    if (label == -1 && e->paths && e->paths[i]) label = class_of_folder(index, item);
    int row = find_exact(index, item);
    if (row < 0) {
        row = index->count++;
        index->items[row] = item;
        if (slot_insert(index, row) != 0) {
            free(index->slots); /* lookups fall back to a scan */
            index->slots = NULL;
        }
    } else {
        free(item);
    }
    index->labels[row] = label;
    memcpy(index->owned + (size_t)row * index->dim, e->vectors + (size_t)i * e->dim,
           (size_t)index->dim * sizeof(float));
    return SIAMESE_OK;
}

siamese_status siamese_index_add(siamese_index *index, const siamese_embeddings *e) {
    if (!index) return SIAMESE_ERR_INVALID_ARG;
    sm_err_clear(&index->err);
    if (!e || e->count < 0 || (e->count > 0 && !e->vectors))
        return sm_fail(&index->err, SIAMESE_ERR_INVALID_ARG, "index add: no embeddings given");
    if (e->count > 0 && e->dim != index->dim)
        return sm_fail(&index->err, SIAMESE_ERR_SHAPE,
                       "index: embeddings of length %d do not fit an index of length %d", e->dim,
                       index->dim);
    if (e->count > INT_MAX - index->count)
        return sm_fail(&index->err, SIAMESE_ERR_LIMIT, "index: too many rows");
    siamese_status status = reserve(index, index->count + e->count);
    index->rows_finite = 0; /* the new rows are checked at their first use */
    for (int i = 0; status == SIAMESE_OK && i < e->count; i++) status = put_row(index, e, i);
    return status;
}

siamese_status siamese_index_remove(siamese_index *index, const char *const *items, int n,
                                    int *removed) {
    if (!index) return SIAMESE_ERR_INVALID_ARG;
    sm_err_clear(&index->err);
    if (n < 0 || (n > 0 && !items))
        return sm_fail(&index->err, SIAMESE_ERR_INVALID_ARG, "index remove: no items given");
    if (removed) *removed = 0;
    siamese_status status = reserve(index, index->count);
    if (status != SIAMESE_OK) return status;
    char *gone = calloc((size_t)(index->count ? index->count : 1), 1);
    if (!gone) return sm_fail(&index->err, SIAMESE_ERR_NOMEM, "index: out of memory");
    int n_gone = 0;
    for (int i = 0; i < n; i++) {
        int row = items[i] ? siamese_index_find(index, items[i]) : -1;
        if (row >= 0 && !gone[row]) {
            gone[row] = 1;
            n_gone++;
        }
    }
    int kept = 0;
    for (int row = 0; row < index->count; row++) {
        if (gone[row]) {
            sm_index_free_item(index, index->items[row]);
            continue;
        }
        if (kept != row) {
            memmove(index->owned + (size_t)kept * index->dim,
                    index->owned + (size_t)row * index->dim, (size_t)index->dim * sizeof(float));
            index->items[kept] = index->items[row];
            index->labels[kept] = index->labels[row];
        }
        kept++;
    }
    index->count = kept;
    free(gone);
    free(index->slots);
    index->slots = NULL;
    if (removed) *removed = n_gone;
    return SIAMESE_OK;
}

/* ---------------------------------------------------------------- model check and search */

siamese_status siamese_index_check_model(siamese_index *index, siamese_model *model) {
    if (!index) return SIAMESE_ERR_INVALID_ARG;
    sm_err_clear(&index->err);
    if (!model) return sm_fail(&index->err, SIAMESE_ERR_INVALID_ARG, "index: no model given");
    char actual[SM_FINGERPRINT_MAX], why[2 * SM_FINGERPRINT_MAX];
    siamese_status status = siamese_model_fingerprint(model, actual, sizeof actual);
    if (status != SIAMESE_OK) return sm_fail(&index->err, status, "the model has no fingerprint");
    if (sm_fingerprint_mismatch(index->fingerprint, actual, why, sizeof why))
        return sm_fail(&index->err, SIAMESE_ERR_FORMAT,
                       "the index was made by another model: %s; rebuild the index with this "
                       "model or search with the model that made it",
                       why);
    return SIAMESE_OK;
}

siamese_status sm_index_check_search(siamese_index *index, const char *search, const float *queries,
                                     int nq, int k, const char *missing) {
    const char *problem = NULL;
    if (nq < 0) problem = "nq (the number of queries) is negative";
    else if (k < 1) problem = "k (neighbours per query) is below 1";
    else if (nq > 0 && !queries) problem = "no queries given (queries is NULL)";
    if (problem)
        return sm_fail(&index->err, SIAMESE_ERR_INVALID_ARG, "%s: %s (nq %d, k %d)", search,
                       problem, nq, k);
    if (nq > 0 && missing)
        return sm_fail(&index->err, SIAMESE_ERR_INVALID_ARG, "%s: no %s given (nq %d, k %d)",
                       search, missing, nq, k);
    return SIAMESE_OK;
}

siamese_status siamese_index_search(siamese_index *index, const float *queries, int nq, int k,
                                    const int *exclude, int *out_index, float *out_distance) {
    if (!index) return SIAMESE_ERR_INVALID_ARG;
    sm_err_clear(&index->err);
    const char *missing = !out_index ? "out_index" : !out_distance ? "out_distance" : NULL;
    siamese_status status = sm_index_check_search(index, "index search", queries, nq, k, missing);
    if (status == SIAMESE_OK) status = sm_index_check_rows(index);
    if (status != SIAMESE_OK) return status;
    status = siamese_knn(index->metric, queries, nq, index->vectors, index->count, index->dim, k,
                         exclude, out_index, out_distance);
    if (status != SIAMESE_OK)
        sm_fail(&index->err, status, "index search: %s", siamese_status_str(status));
    return status;
}
