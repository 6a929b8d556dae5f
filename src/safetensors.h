/* safetensors files: strict reader and atomic writer of named tensors plus string metadata. */
#ifndef SM_SAFETENSORS_H
#define SM_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#include "errors.h"

#define SM_ST_MAX_DIMS 8

typedef enum sm_dtype { SM_DT_F32, SM_DT_F16, SM_DT_BF16, SM_DT_F64, SM_DT_I64, SM_DT_I32,
                        SM_DT_U8 } sm_dtype;

typedef struct sm_st_tensor {
    const char *name;
    sm_dtype dtype;
    int ndim;
    int64_t shape[SM_ST_MAX_DIMS];
    const void *data;  /* little-endian bytes, count(shape) * size(dtype) */
} sm_st_tensor;

typedef struct sm_st_meta {
    const char *key;
    const char *value;
} sm_st_meta;

/* Writes tensors (in the given order) and metadata atomically. */
siamese_status sm_safetensors_write(const char *path, const sm_st_tensor *tensors, int n_tensors,
                                    const sm_st_meta *meta, int n_meta, sm_err *err);

/* A file read fully into memory; tensors point into it. */
typedef struct sm_st_file sm_st_file;

/* Validates strictly: header length, JSON, dtypes, shapes, offsets contiguous and in bounds,
 * duplicate names, total file length. Errors name the path and the reason. */
siamese_status sm_safetensors_read(const char *path, sm_st_file **out, sm_err *err);
void sm_safetensors_free(sm_st_file *file);
int sm_safetensors_count(const sm_st_file *file);
const sm_st_tensor *sm_safetensors_get(const sm_st_file *file, int index);
const sm_st_tensor *sm_safetensors_find(const sm_st_file *file, const char *name);
/* A __metadata__ value, or NULL. */
const char *sm_safetensors_meta(const sm_st_file *file, const char *key);

size_t sm_dtype_size(sm_dtype dtype);
const char *sm_dtype_name(sm_dtype dtype); /* "F32" ... */

#endif
