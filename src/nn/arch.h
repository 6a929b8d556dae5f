/* Network descriptions: layer kinds, geometry, the text form, presets and the parameter table. */
#ifndef SM_ARCH_H
#define SM_ARCH_H

#include <stddef.h>
#include <stdint.h>

#include "base/errors.h"

#define SM_MAX_LAYERS 256
#define SM_NAME_MAX 32
#define SM_MAX_TENSORS (SM_MAX_LAYERS * 5)

typedef enum sm_layer_kind {
    SM_LAYER_CONV2D,
    SM_LAYER_RELU,
    SM_LAYER_MAXPOOL2D,
    SM_LAYER_LINEAR,
    SM_LAYER_FLATTEN,
    SM_LAYER_BATCHNORM2D,
    SM_LAYER_BLOCK, /* a residual block starts: its input is kept for the skip */
    SM_LAYER_SKIP, /* the main branch ends; the skip branch (a projection) starts from the block input */
    SM_LAYER_ADD,     /* the block ends: main branch + skip branch (or the block input itself) */
    SM_LAYER_AVGPOOL, /* global average pooling: [C, H, W] -> [C, 1, 1] */
    SM_LAYER_SCALE,   /* per-channel affine y = weight[c] * x + bias[c] */
    SM_LAYER_DROPOUT  /* training: zeroes each value with probability p, scales the rest by
                         1 / (1 - p); inference: the identity */
} sm_layer_kind;

#define SM_LAYER_KINDS 12

/* The word of a layer kind in the text form ("conv", "relu", "add", ...). */
const char *sm_layer_kind_name(sm_layer_kind kind);

/* Per-image shape, channels x height x width. After flatten (or a linear layer) h = w = 1. */
typedef struct sm_shape {
    int c, h, w;
} sm_shape;

typedef struct sm_layer {
    sm_layer_kind kind;
    char name[SM_NAME_MAX]; /* parameter prefix ("cnn1", "fc3", "bn1"); "" when it has none */
    int out;                /* conv2d: output channels; linear: output features */
    int kh, kw;             /* conv2d / maxpool2d kernel */
    int sh, sw;             /* stride (maxpool2d default = kernel) */
    int ph, pw;             /* zero padding (conv2d) or -inf padding (maxpool2d) */
    int ph_end, pw_end;     /* conv2d: zero padding at the bottom / right (pe=; default ph, pw) */
    int groups;             /* conv2d: channel groups (g=; in and out channels divide by it) */
    int has_bias;           /* conv2d / linear: 1 unless bias=0 */
    float bn_eps;           /* batchnorm2d, default 1e-5 */
    float bn_momentum;      /* batchnorm2d, default 0.1 */
    int bn_frozen;          /* batchnorm2d: running statistics in training too, never updated */
    int add_pad;            /* add: a smaller main branch is zero-padded at the bottom/right */
    float drop_p;           /* dropout: probability of zeroing a value, in [0, 1), default 0.5 */
    sm_shape in;            /* inferred input shape */
    sm_shape out_shape;     /* inferred output shape */
} sm_layer;

typedef struct sm_arch {
    sm_shape input;
    int n_layers;
    sm_layer layers[SM_MAX_LAYERS];
} sm_arch;

/* Parses text such as "conv(256,k=11,s=4) relu maxpool(3,s=2) conv(256,k=5) ... linear(1)"
 * for images of shape input, infers every shape, and names parameter layers (conv -> cnnN,
 * linear -> fcN, batchnorm -> bnN, counted per kind from 1, unless name= is given).
 * A bad token, or a layer whose shape becomes invalid, fails with SIAMESE_ERR_SPEC or
 * SIAMESE_ERR_SHAPE and a message naming the token or the layer. */
siamese_status sm_arch_parse(const char *text, sm_shape input, sm_arch *arch, sm_err *err);

/* The text and default input of a preset ("seed", "mnist", "omniglot"); NULL if unknown. */
const char *sm_arch_preset_text(const char *name, sm_shape *default_input);

/* Writes the canonical text form of arch into buf (always NUL-terminated); returns its length. */
size_t sm_arch_format(const sm_arch *arch, char *buf, size_t size);

/* Output features of the last layer (the embedding length). */
int sm_arch_embedding_dim(const sm_arch *arch);

/* The head: the index of the last layer with parameters (the embedding layer, "fc"), or -1. */
int sm_arch_head_layer(const sm_arch *arch);

/* --embedding-dim: the last layer, which must be linear, gets dim outputs (its name and bias
 * stay). SIAMESE_ERR_INVALID_ARG for dim outside 1..SM_MAX_EMBEDDING_DIM, SIAMESE_ERR_SPEC
 * when the architecture does not end in a linear layer; arch is unchanged then. */
siamese_status sm_arch_set_embedding_dim(sm_arch *arch, int dim, sm_err *err);

/* ---- the parameter table: every tensor of a model, in PyTorch's state_dict order ---- */

typedef enum sm_tensor_role {
    SM_TENSOR_PARAM,  /* trained by Adam; lives in the flat parameter buffer */
    SM_TENSOR_BUFFER, /* batchnorm running_mean / running_var; lives in the flat buffer array */
    SM_TENSOR_COUNTER /* batchnorm num_batches_tracked (int64); lives in the counter array */
} sm_tensor_role;

/* Which tensor of its layer this is, recorded when the table is built: the one answer to "is
 * this a weight, a bias, ...", so nothing matches name suffixes. The slot fixes the role. */
typedef enum sm_tensor_slot {
    SM_SLOT_WEIGHT,             /* conv OIHW, linear [out, in], batchnorm gamma (PARAM) */
    SM_SLOT_BIAS,               /* conv, linear, batchnorm beta (PARAM) */
    SM_SLOT_RUNNING_MEAN,       /* batchnorm (BUFFER) */
    SM_SLOT_RUNNING_VAR,        /* batchnorm (BUFFER) */
    SM_SLOT_NUM_BATCHES_TRACKED /* batchnorm (COUNTER) */
} sm_tensor_slot;

typedef struct sm_tensor_info {
    char name[SM_NAME_MAX + 24]; /* "cnn1.weight": the layer's name, '.', the slot's name */
    sm_tensor_slot slot;
    sm_tensor_role role;
    int layer; /* index into arch->layers */
    int ndim;
    int64_t dims[4]; /* PyTorch layout: conv OIHW, linear [out, in] */
    size_t offset;   /* element offset in the buffer its role names */
    size_t count;    /* number of elements */
} sm_tensor_info;

typedef struct sm_param_table {
    int n;
    sm_tensor_info t[SM_MAX_TENSORS];
    size_t n_params;   /* floats in the parameter buffer */
    size_t n_buffers;  /* floats in the buffer array */
    size_t n_counters; /* int64 counters */
} sm_param_table;

void sm_param_table_build(const sm_arch *arch, sm_param_table *table);

/* Index of the tensor named name, or -1. */
int sm_param_table_find(const sm_param_table *table, const char *name);

#endif
