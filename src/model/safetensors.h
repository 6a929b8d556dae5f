/* safetensors files: strict reader and atomic writer of named tensors plus string metadata. */
#ifndef SM_SAFETENSORS_H
#define SM_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#include "base/errors.h"

#define SM_ST_MAX_DIMS 8

typedef enum sm_dtype {
    SM_DT_F32,
    SM_DT_F16,
    SM_DT_BF16,
    SM_DT_F64,
    SM_DT_I64,
    SM_DT_I32,
    SM_DT_U8,
    SM_DT_I8,
    SM_DT_I16,
    SM_DT_U16,
    SM_DT_U32,
    SM_DT_U64,
    SM_DT_BOOL
} sm_dtype;
#define SM_DT_COUNT 13

typedef struct sm_st_tensor {
    const char *name;
    sm_dtype dtype;
    int ndim;
    int64_t shape[SM_ST_MAX_DIMS];
    const void *data; /* little-endian bytes, count(shape) * size(dtype); in a file read by
                        * sm_safetensors_read the data section starts 8-byte aligned, but a
                        * tensor may not be aligned for its dtype: copy with memcpy */
} sm_st_tensor;

typedef struct sm_st_meta {
    const char *key;
    const char *value;
} sm_st_meta;

/* Writes tensors (in the given order) and metadata atomically. */
siamese_status sm_safetensors_write(const char *path, const sm_st_tensor *tensors, int n_tensors,
                                    const sm_st_meta *meta, int n_meta, sm_err *err);

/* A file read fully into memory; tensors point into it and are listed in data order. */
typedef struct sm_st_file sm_st_file;

/* Validates strictly: header length, JSON, dtypes, shapes, offsets contiguous and in bounds,
 * duplicate names, total file length. Errors name the path and the reason. */
siamese_status sm_safetensors_read(const char *path, sm_st_file **out, sm_err *err);
/* The same checks on the file mapped read-only: tensor data stays on disk until touched (a
 * large index opens without reading it). The data section is 8-byte aligned only when the
 * header length is a multiple of 8, as sm_safetensors_write makes it. */
siamese_status sm_safetensors_map(const char *path, sm_st_file **out, sm_err *err);
void sm_safetensors_free(sm_st_file *file);
int sm_safetensors_count(const sm_st_file *file);
const sm_st_tensor *sm_safetensors_get(const sm_st_file *file, int index);
const sm_st_tensor *sm_safetensors_find(const sm_st_file *file, const char *name);
/* A __metadata__ value, or NULL. */
const char *sm_safetensors_meta(const sm_st_file *file, const char *key);

/* The tensors and metadata of file whose names start with prefix, with the prefix taken off
 * ("members.0.fc.weight" -> "fc.weight" for "members.0."): a file of its own for every reader,
 * whose tensor data stays in file (free the view first). */
siamese_status sm_safetensors_view(const sm_st_file *file, const char *prefix, sm_st_file **out,
                                   sm_err *err);

/* Number of __metadata__ entries and the i-th one (key/value point into the file). */
int sm_safetensors_meta_count(const sm_st_file *file);
sm_st_meta sm_safetensors_meta_get(const sm_st_file *file, int index);

/* Elements in a shape; returns 0 and sets *count, or -1 on a negative dim or overflow. */
int sm_st_element_count(int ndim, const int64_t *shape, size_t *count);

size_t sm_dtype_size(sm_dtype dtype);
const char *sm_dtype_name(sm_dtype dtype); /* "F32" ... */
/* Parses a dtype name ("F32"); returns 0 and sets *out, or -1 if the name is unknown. */
int sm_dtype_parse(const char *name, sm_dtype *out);

#endif
