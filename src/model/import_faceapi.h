/* face-api's TF.js weights (manifest + shards, dequantised) and the text helper its importers share. */
#ifndef SM_IMPORT_FACEAPI_H
#define SM_IMPORT_FACEAPI_H

#include <stddef.h>
#include <stdint.h>

#include "base/errors.h"

#define FA_MAX_WEIGHTS 256
#define FA_NAME_MAX 64
#define FA_ARCH_MAX 16384

/* One dequantised tensor of a manifest, in its TF.js layout. */
typedef struct fa_tensor {
    char name[FA_NAME_MAX];
    int ndim;
    int64_t dims[4];
    int64_t count;
    float *data;
    int used; /* set by fa_find: every tensor must find a place */
} fa_tensor;

typedef struct fa_weights {
    fa_tensor t[FA_MAX_WEIGHTS];
    int n;
} fa_weights;

/* Reads dir/manifest_name and its shards into w (uint8/uint16 dequantised, float32 as is); a
 * missing shard or a manifest that does not add up fails naming the file. */
siamese_status fa_read_weights(const char *dir, const char *manifest_name, fa_weights *w,
                               sm_err *err);
void fa_weights_free(fa_weights *w);
/* The tensor named name (marked used), or NULL. */
const fa_tensor *fa_find(fa_weights *w, const char *name);
/* TF's conv filters [kh, kw, ci, co] -> PyTorch's [co, ci, kh, kw] (a depthwise [kh, kw, c, 1]
 * is this with ci = 1, co = c). */
void fa_hwio_to_oihw(const float *src, int64_t kh, int64_t kw, int64_t ci, int64_t co, float *dst);

/* An architecture text being written. */
typedef struct fa_text {
    char buf[FA_ARCH_MAX];
    size_t len;
} fa_text;

void fa_put(fa_text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
