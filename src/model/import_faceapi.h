/* What face-api's importers share: reading TF.js weights (manifest + shards, dequantised) into a model of one of its networks, and the architecture text helper. */
#ifndef SM_IMPORT_FACEAPI_H
#define SM_IMPORT_FACEAPI_H

#include <stddef.h>
#include <stdint.h>

#include "base/errors.h"
#include "nn/arch.h"
#include "siamese.h"

#define FA_NAME_MAX 64
#define FA_ARCH_MAX 16384

/* An architecture text being written. */
typedef struct fa_text {
    char buf[FA_ARCH_MAX];
    size_t len;
} fa_text;

void fa_put(fa_text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* One of face-api's networks: its manifest in the folder, its architecture text (which starts
 * with the input normalisation, a scale layer "input": (pixel - face-api's mean RGB) / divisor on
 * our pixel / 255), the side of its square RGB input, and where its other parameters come from. */
typedef struct fa_network {
    const char *manifest; /* file name, e.g. "face_recognition_model-weights_manifest.json" */
    const char *what; /* "recognition": "weight 'x' has no place in face-api's <what> network" */
    int side;
    float divisor;
    void (*arch)(fa_text *t);
    /* For our tensor info of layer layer: fills dst itself and returns 1 (fixed weights), or
     * writes face-api's name of the tensor into theirs and returns 0. */
    int (*tensor)(const sm_tensor_info *info, const char *layer, float *dst, char *theirs,
                  size_t size);
} fa_network;

/* Reads dir's manifest and shards (uint8/uint16 dequantised, float32 as is) and makes the model
 * of net with every parameter filled, TF.js layouts turned into PyTorch's (conv filters HWIO ->
 * OIHW, a depthwise [kh, kw, c, 1] as HWIO with one input channel; fc [in, out] -> [out, in]). A
 * missing shard, a manifest that does not add up, a missing, misshapen or unused weight fails
 * naming the file; *out is NULL then. */
siamese_status fa_import(const char *dir, const fa_network *net, siamese_model **out, sm_err *err);

#endif
