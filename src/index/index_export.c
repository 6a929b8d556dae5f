/* An index's embeddings for numpy users: PREFIX.npy (float32 [N, D], format 1.0) and
 * PREFIX.paths.txt (one item per line, in row order), each written atomically. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/fileio.h"
#include "index/index.h"

/* The .npy header: magic, version 1.0, a little-endian length, then a dict padded with spaces
 * and a newline so that the data starts at a multiple of 64 bytes. */
static int write_npy_header(FILE *fp, int rows, int cols) {
    char dict[128];
    int n = snprintf(dict, sizeof dict,
                     "{'descr': '<f4', 'fortran_order': False, 'shape': (%d, %d), }", rows, cols);
    size_t total = 10 + (size_t)n + 1, padded = (total + 63) / 64 * 64;
    unsigned short len = (unsigned short)(padded - 10);
    unsigned char magic[10] = {0x93,
                               'N',
                               'U',
                               'M',
                               'P',
                               'Y',
                               1,
                               0,
                               (unsigned char)(len & 0xff),
                               (unsigned char)(len >> 8)};
    if (fwrite(magic, 1, 10, fp) != 10 || fwrite(dict, 1, (size_t)n, fp) != (size_t)n) return -1;
    for (size_t i = total; i < padded; i++)
        if (fputc(' ', fp) == EOF) return -1;
    return fputc('\n', fp) == EOF ? -1 : 0;
}

static siamese_status finish(siamese_index *index, sm_atomic_file *af, int failed) {
    if (failed) return sm_atomic_fail(af, &index->err);
    return sm_atomic_commit(af, &index->err);
}

static siamese_status write_npy(siamese_index *index, const char *path) {
    sm_atomic_file af;
    siamese_status status = sm_atomic_open(&af, path, &index->err);
    if (status != SIAMESE_OK) return status;
    size_t n = (size_t)index->count * index->dim;
    int failed = write_npy_header(af.fp, index->count, index->dim) != 0 ||
                 (n && fwrite(index->vectors, sizeof(float), n, af.fp) != n);
    return finish(index, &af, failed);
}

static siamese_status write_items(siamese_index *index, const char *path) {
    sm_atomic_file af;
    siamese_status status = sm_atomic_open(&af, path, &index->err);
    if (status != SIAMESE_OK) return status;
    int failed = 0;
    for (int i = 0; !failed && i < index->count; i++)
        failed = fprintf(af.fp, "%s\n", index->items[i]) < 0;
    return finish(index, &af, failed);
}

siamese_status siamese_index_export_npy(siamese_index *index, const char *prefix) {
    if (!index || !prefix) return SIAMESE_ERR_INVALID_ARG;
    sm_err_clear(&index->err);
    for (int i = 0; i < index->count; i++)
        if (strchr(index->items[i], '\n'))
            return sm_fail(&index->err, SIAMESE_ERR_UNSUPPORTED,
                           "%s.paths.txt: item %d has a newline in its name", prefix, i);
    size_t len = strlen(prefix) + 16;
    char *npy = malloc(len), *txt = malloc(len);
    siamese_status status = SIAMESE_ERR_NOMEM;
    if (npy && txt) {
        snprintf(npy, len, "%s.npy", prefix);
        snprintf(txt, len, "%s.paths.txt", prefix);
        status = write_npy(index, npy);
        if (status == SIAMESE_OK) status = write_items(index, txt);
    } else {
        sm_fail(&index->err, status, "%s: out of memory", prefix);
    }
    free(npy);
    free(txt);
    return status;
}
