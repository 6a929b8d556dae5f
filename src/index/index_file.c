/* The index file: safetensors with `embeddings` F32 [N, D] first (8-byte aligned, used in place
 * from the mapping), `labels` I32 [N] (-1 = none), `items` U8 [bytes] (N NUL-terminated UTF-8
 * paths or names), and in __metadata__: format "siamese-index", format_version "1", count, dim,
 * metric, fingerprint (siamese_model_fingerprint), model (the model's path) and classes (a JSON
 * array of class names, indexed by the labels). */
#include <jansson.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/number.h"
#include "base/util.h"
#include "index/index.h"

/* ---------------------------------------------------------------- writing */

static char *classes_json(const siamese_index *index) {
    json_t *arr = json_array();
    for (int c = 0; arr && c < index->class_count; c++) {
        if (json_array_append_new(arr, json_string(index->class_names[c])) != 0) {
            json_decref(arr);
            return NULL;
        }
    }
    char *text = arr ? json_dumps(arr, JSON_COMPACT) : NULL;
    json_decref(arr);
    return text;
}

/* All items, each followed by a NUL, in one buffer. */
static unsigned char *items_blob(const siamese_index *index, size_t *size) {
    size_t total = 0;
    for (int i = 0; i < index->count; i++) total += strlen(index->items[i]) + 1;
    unsigned char *blob = malloc(total ? total : 1), *p = blob;
    for (int i = 0; blob && i < index->count; i++) {
        size_t len = strlen(index->items[i]) + 1;
        memcpy(p, index->items[i], len);
        p += len;
    }
    *size = total;
    return blob;
}

siamese_status sm_index_write(siamese_index *index, const char *path) {
    size_t blob_size = 0;
    unsigned char *blob = items_blob(index, &blob_size);
    char *classes = classes_json(index);
    if (!blob || !classes) {
        free(blob);
        free(classes);
        return sm_fail(&index->err, SIAMESE_ERR_NOMEM, "%s: out of memory", path);
    }
    char count[32], dim[32];
    snprintf(count, sizeof count, "%d", index->count);
    snprintf(dim, sizeof dim, "%d", index->dim);
    sm_st_tensor tensors[3] = {
        {"embeddings", SM_DT_F32, 2, {index->count, index->dim}, index->vectors},
        {"labels", SM_DT_I32, 1, {index->count}, index->labels},
        {"items", SM_DT_U8, 1, {(int64_t)blob_size}, blob},
    };
    sm_st_meta meta[] = {
        {"format", SM_INDEX_FORMAT},
        {"format_version", SM_INDEX_FORMAT_VERSION},
        {"count", count},
        {"dim", dim},
        {"metric", siamese_metric_name(index->metric)},
        {"fingerprint", index->fingerprint},
        {"model", index->model_path ? index->model_path : ""},
        {"classes", classes},
    };
    siamese_status status = sm_safetensors_write(path, tensors, 3, meta,
                                                 (int)(sizeof meta / sizeof meta[0]), &index->err);
    free(blob);
    free(classes);
    return status;
}

/* ---------------------------------------------------------------- reading */

static siamese_status bad(siamese_index *index, const char *path, const char *why) {
    return sm_fail(&index->err, SIAMESE_ERR_FORMAT, "%s: not a valid siamese index (%s)", path,
                   why);
}

/* A tensor with the given dtype and shape [rows] or [rows, cols] (cols < 0: 1-D). */
static const sm_st_tensor *tensor_of(const sm_st_file *file, const char *name, sm_dtype dtype,
                                     int64_t rows, int64_t cols) {
    const sm_st_tensor *t = sm_safetensors_find(file, name);
    if (!t || t->dtype != dtype || t->ndim != (cols < 0 ? 1 : 2)) return NULL;
    if ((rows >= 0 && t->shape[0] != rows) || (cols >= 0 && t->shape[1] != cols)) return NULL;
    return t;
}

static siamese_status read_classes(siamese_index *index, const char *path, const char *text) {
    json_error_t jerr;
    json_t *arr = text ? json_loads(text, 0, &jerr) : NULL;
    if (!json_is_array(arr)) {
        json_decref(arr);
        return bad(index, path, "classes is not a JSON array");
    }
    size_t n = json_array_size(arr);
    index->class_names = calloc(n ? n : 1, sizeof(char *));
    for (size_t c = 0; index->class_names && c < n; c++) {
        const char *name = json_string_value(json_array_get(arr, c));
        if (!name) {
            json_decref(arr);
            return bad(index, path, "a class name is not a string");
        }
        index->class_names[c] = sm_strdup(name);
        if (!index->class_names[c]) break;
        index->class_count = (int)c + 1;
    }
    json_decref(arr);
    if (!index->class_names || (size_t)index->class_count != n)
        return sm_fail(&index->err, SIAMESE_ERR_NOMEM, "%s: out of memory", path);
    return SIAMESE_OK;
}

/* Points the count items into the mapped blob (nothing copied), each checked to end inside it. */
static siamese_status read_items(siamese_index *index, const char *path, const sm_st_tensor *t) {
    const char *p = t->data, *end = p + t->shape[0];
    index->items = calloc((size_t)(index->count ? index->count : 1), sizeof(char *));
    if (!index->items) return sm_fail(&index->err, SIAMESE_ERR_NOMEM, "%s: out of memory", path);
    index->mapped_items = t->data;
    index->mapped_items_end = end;
    for (int i = 0; i < index->count; i++) {
        const char *nul = p < end ? memchr(p, '\0', (size_t)(end - p)) : NULL;
        if (!nul) return bad(index, path, "fewer item names than rows");
        index->items[i] = (char *)p; /* read-only mapping: never written, never freed */
        p = nul + 1;
    }
    if (p != end) return bad(index, path, "more item names than rows");
    return SIAMESE_OK;
}

static siamese_status read_labels(siamese_index *index, const char *path, const sm_st_tensor *t) {
    index->labels = malloc((size_t)(index->count ? index->count : 1) * sizeof(int));
    if (!index->labels) return sm_fail(&index->err, SIAMESE_ERR_NOMEM, "%s: out of memory", path);
    memcpy(index->labels, t->data, (size_t)index->count * sizeof(int32_t));
    for (int i = 0; i < index->count; i++)
        if (index->labels[i] < -1 || index->labels[i] >= index->class_count)
            return bad(index, path, "a label is not a class");
    return SIAMESE_OK;
}

siamese_status sm_index_check_rows(siamese_index *index) {
    size_t n = (size_t)index->count * (size_t)index->dim;
    size_t k = index->rows_finite ? n : sm_first_nonfinite(index->vectors, n);
    if (k == n) {
        index->rows_finite = 1;
        return SIAMESE_OK;
    }
    size_t row = k / (size_t)index->dim;
    return sm_fail(&index->err, SIAMESE_ERR_FORMAT,
                   "%s: the embedding of row %zu (%s) holds %s at element %zu: the index cannot be "
                   "used; build it again",
                   index->path ? index->path : "the index", row,
                   index->items[row] ? index->items[row] : "no name",
                   isnan(index->vectors[k]) ? "NaN" : "an infinite value", k % (size_t)index->dim);
}

/* The embeddings in place when aligned for floats (files we write always are), else a copy. */
static siamese_status use_vectors(siamese_index *index, const char *path, const sm_st_tensor *t) {
    if (((uintptr_t)t->data % sizeof(float)) == 0) {
        index->vectors = t->data;
        return SIAMESE_OK;
    }
    size_t bytes = (size_t)index->count * index->dim * sizeof(float);
    index->owned = malloc(bytes ? bytes : 1);
    if (!index->owned) return sm_fail(&index->err, SIAMESE_ERR_NOMEM, "%s: out of memory", path);
    memcpy(index->owned, t->data, bytes);
    index->vectors = index->owned;
    index->capacity = index->count;
    return SIAMESE_OK;
}

static siamese_status read_meta(siamese_index *index, const char *path) {
    const sm_st_file *f = index->file;
    const char *format = sm_safetensors_meta(f, "format");
    const char *version = sm_safetensors_meta(f, "format_version");
    const char *fingerprint = sm_safetensors_meta(f, "fingerprint");
    const char *model = sm_safetensors_meta(f, "model");
    if (!format || strcmp(format, SM_INDEX_FORMAT) != 0)
        return bad(index, path, "no format \"siamese-index\" in its metadata");
    if (!version || strcmp(version, SM_INDEX_FORMAT_VERSION) != 0)
        return bad(index, path, "unknown format_version");
    if (sm_parse_int(sm_safetensors_meta(f, "count"), 0, INT_MAX, &index->count) != 0 ||
        sm_parse_int(sm_safetensors_meta(f, "dim"), 1, INT_MAX, &index->dim) != 0)
        return bad(index, path, "count or dim missing or invalid");
    if (siamese_metric_parse(sm_safetensors_meta(f, "metric"), &index->metric) != SIAMESE_OK)
        return bad(index, path, "unknown metric");
    if (!fingerprint || strlen(fingerprint) >= sizeof index->fingerprint)
        return bad(index, path, "fingerprint missing or too long");
    strcpy(index->fingerprint, fingerprint);
    if (model && *model && !(index->model_path = sm_strdup(model)))
        return sm_fail(&index->err, SIAMESE_ERR_NOMEM, "%s: out of memory", path);
    return read_classes(index, path, sm_safetensors_meta(f, "classes"));
}

siamese_status sm_index_read(siamese_index *index, const char *path) {
    siamese_status status = sm_safetensors_map(path, &index->file, &index->err);
    if (status != SIAMESE_OK) return status;
    status = read_meta(index, path);
    if (status != SIAMESE_OK) return status;
    const sm_st_tensor *emb =
        tensor_of(index->file, "embeddings", SM_DT_F32, index->count, index->dim);
    const sm_st_tensor *labels = tensor_of(index->file, "labels", SM_DT_I32, index->count, -1);
    const sm_st_tensor *items = tensor_of(index->file, "items", SM_DT_U8, -1, -1);
    if (!emb || !labels || !items)
        return bad(index, path,
                   "embeddings [count, dim] F32, labels [count] I32 or items U8 missing");
    status = read_labels(index, path, labels);
    if (status == SIAMESE_OK) status = read_items(index, path, items);
    if (status == SIAMESE_OK) status = use_vectors(index, path, emb);
    if (status == SIAMESE_OK && !(index->path = sm_strdup(path)))
        status = sm_fail(&index->err, SIAMESE_ERR_NOMEM, "%s: out of memory", path);
    return status;
}
