/* The index handle behind siamese_index: rows (embedding, item, label), classes, the model's
 * fingerprint; the rows live in the mapped file until an update copies them to the heap. */
#ifndef SM_INDEX_H
#define SM_INDEX_H

#include "base/errors.h"
#include "model/safetensors.h"
#include "siamese.h"

#define SM_FINGERPRINT_MAX 256
#define SM_INDEX_FORMAT "siamese-index"
#define SM_INDEX_FORMAT_VERSION "1"

struct siamese_index {
    sm_err err;
    sm_st_file *file;     /* the mapped file the rows come from, or NULL */
    const float *vectors; /* [count, dim]: into the mapping, or = owned */
    float *owned;         /* [capacity, dim] heap rows once updated (NULL while mapped) */
    int count, dim, capacity;
    int *labels;  /* [capacity] class of each row, -1 = none */
    char **items; /* [capacity] the file path (absolute when it existed) or name of each row:
                     malloc'd, or pointing into the mapped file's items tensor */
    const char *mapped_items, *mapped_items_end; /* that tensor's bytes (NULL when none) */
    int class_count;
    char **class_names;
    siamese_metric metric;
    char fingerprint[SM_FINGERPRINT_MAX];
    char *model_path; /* as recorded (absolute when the model file existed), may be NULL */
    int *slots;       /* open-addressing table item -> row + 1 (0 = empty), or NULL (stale) */
    int slot_count;   /* a power of two */
    char *path;       /* the file the rows were read from (malloc'd), or NULL */
    int rows_finite;  /* 1 once every row is known to hold finite values */
};

/* Reads a file written by sm_index_write into an empty handle (index->err has the reason). */
siamese_status sm_index_read(siamese_index *index, const char *path);
/* Refuses rows holding NaN or an infinite value (SIAMESE_ERR_FORMAT, naming the file and the
 * first bad row), which would rank as nearest or never, silently. Checked once, at the first
 * use of the rows, not at open: opening maps a large index without reading its rows. */
siamese_status sm_index_check_rows(siamese_index *index);
/* The argument checks siamese_index_search and _search_shards share: refuses
 * (SIAMESE_ERR_INVALID_ARG, the index's message "<search>: <reason> (nq N, k K)") nq < 0, k < 1
 * and, when nq > 0, NULL queries or the output named missing (NULL when every output was given). */
siamese_status sm_index_check_search(siamese_index *index, const char *search, const float *queries,
                                     int nq, int k, const char *missing);
/* Writes the index atomically. */
siamese_status sm_index_write(siamese_index *index, const char *path);

/* Frees an item unless it points into the mapped file. */
void sm_index_free_item(siamese_index *index, char *item);

/* An empty handle (NULL when memory runs out). */
siamese_index *sm_index_alloc(void);

#endif
