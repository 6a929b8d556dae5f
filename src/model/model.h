/* The model handle behind siamese_model: architecture, engine, and the settings saved with it. */
#ifndef SM_MODEL_H
#define SM_MODEL_H

#include <stdint.h>

#include "base/errors.h"
#include "base/threads.h"
#include "model/safetensors.h"
#include "nn/arch.h"
#include "nn/net.h"
#include "nn/qnet.h"
#include "nn/quant.h"
#include "siamese.h"

#define SM_ARCH_TEXT_MAX (SM_MAX_LAYERS * 128) /* fits any arch sm_arch_format writes */
#define SM_THRESHOLD_SOURCE_MAX 256

struct siamese_model {
    sm_err err;                       /* last error on this handle */
    sm_arch arch;                     /* layers with inferred shapes */
    char arch_text[SM_ARCH_TEXT_MAX]; /* canonical text (sm_arch_format) */
    sm_net *net;                      /* parameters live in the engine's flat buffers */
    float margin;
    siamese_metric metric;
    float threshold;                                /* < 0 when the model carries none */
    char threshold_source[SM_THRESHOLD_SOURCE_MAX]; /* who chose it; "" = unknown */
    uint64_t seed;
    int threads;
    sm_quant *quant;         /* int8 calibration (siamese_model_quantize or the file), or NULL */
    sm_qnet *qnet;           /* the int8 engine while the precision is int8, else NULL */
    siamese_model *aligner;  /* face alignment before embedding (face_align.h), or NULL */
    siamese_model **members; /* an ensemble's networks (ensemble.c), NULL for one network; an */
    int n_members;           /* ensemble has no net, and arch holds only the shared input */
};

/* 1 when the handle holds a network or an ensemble of them (not an error-only handle). */
static inline int sm_model_ready(const siamese_model *model) {
    return model && (model->net || model->n_members > 0);
}
/* The networks that compute a model's embeddings: an ensemble's members, else the model itself. */
static inline int sm_model_n_networks(const siamese_model *model) {
    return model->n_members > 0 ? model->n_members : 1;
}
static inline siamese_model *sm_model_network(const siamese_model *model, int i) {
    return model->n_members > 0 ? model->members[i] : (siamese_model *)model;
}

/* A metadata value that is a finite number fitting a float: 0 and *out set, else -1. */
int sm_meta_float(const char *text, float *out);
/* Tensor helpers of model files (model_io.c), shared with loading weights by name. */
int sm_dtype_fits_role(sm_dtype dtype, sm_tensor_role role);
void sm_format_shape(char *buf, size_t size, int ndim, const int64_t *dims); /* "[64, 3, 7, 7]" */
/* count values of t (F32, F64, F16 or BF16 / I64 or I32) into dst, converted. */
void sm_st_copy_floats(const sm_st_tensor *t, float *dst, size_t count);
void sm_st_copy_counters(const sm_st_tensor *t, int64_t *dst, size_t count);
/* t's values into the net's place for info: its parameters, buffers or counters by info's role. */
void sm_st_copy_to_net(const sm_st_tensor *t, sm_net *net, const sm_tensor_info *info);

/* Allocates a model for arch with an engine and zeroed parameters (no initialization).
 * On failure returns NULL and fills err. Used by create (then sm_init_params) and load. */
siamese_model *sm_model_alloc(const sm_arch *arch, sm_err *err);

/* The input normalisation, one fact in one place: a first scale layer named "input" computes
 * (x - mean[c]) / std[c] on the [0, 1] images every command gives the network (written by
 * --normalize imagenet for torchvision backbones, and by importers with their network's own).
 * It is saved with the model like any layer and never trained: sm_model_alloc freezes it. */
#define SM_INPUT_LAYER "input"
int sm_model_input_layer(const sm_arch *arch); /* 0 when the first layer is it, else -1 */
void sm_model_set_input_normalization(siamese_model *model, const float *mean, const float *std);

/* Returns a handle holding only an error message (NULL if even that allocation fails). */
siamese_model *sm_model_error_handle(const sm_err *err);

/* Starts a call computing with the model's thread count (see base/threads.h); end it with
 * sm_threads_leave before returning. */
sm_threads_scope sm_model_threads_enter(const siamese_model *model);

/* Writes the model's tensors and metadata followed by extra tensors and metadata (checkpoints
 * add the optimizer state), atomically. */
siamese_status sm_model_save_with(siamese_model *model, const char *path, const sm_st_tensor *extra,
                                  int n_extra, const sm_st_meta *extra_meta, int n_extra_meta,
                                  sm_err *err);

/* A model file's own metadata (format, architecture or members, input, embedding_dim, margin,
 * metric, threshold and its source) as entries whose values live in the struct. */
#define SM_MODEL_META_MAX 12 /* room beyond the 8 written today */
typedef struct sm_model_meta {
    char input[64], margin[32], threshold[32], embedding_dim[32], members[16];
    sm_st_meta entries[SM_MODEL_META_MAX];
    int n;
} sm_model_meta;
void sm_model_metadata(const siamese_model *model, sm_model_meta *m);

/* Everything a model's file holds (int8 calibration and face aligner included): tensors and
 * metadata pointing into the model and into keep, until sm_model_parts_free. */
typedef struct sm_model_parts {
    sm_st_tensor *tensors;
    int n;
    const sm_st_meta *meta;
    int n_meta;
    void *keep;
} sm_model_parts;
siamese_status sm_model_describe(siamese_model *model, sm_model_parts *parts, sm_err *err);
void sm_model_parts_free(sm_model_parts *parts);

/* Builds a validated model from a file already read. Tensors whose names start with
 * ignore_prefix (may be NULL) are not the model's and are left to the caller. */
siamese_status sm_model_from_file(const char *path, const sm_st_file *file,
                                  const char *ignore_prefix, siamese_model **out, sm_err *err);

/* int8 (model/quantize.c). use: builds the int8 engine from the calibration and returns INT8,
 * or FP32 with the model's error set (no calibration, an architecture it cannot run). drop:
 * back to the fp32 engine. */
siamese_precision sm_model_use_int8(siamese_model *model);
void sm_model_drop_int8(siamese_model *model);
/* The calibration as safetensors tensors for saving (names and data point into a block
 * *keep, and one metadata entry *meta in it, that the caller frees after writing with *out);
 * n_out = 0 when the model has none. */
siamese_status sm_model_int8_tensors(const siamese_model *model, sm_st_tensor **out, int *n_out,
                                     sm_st_meta **meta, void **keep, sm_err *err);
/* Reads the "int8." tensors of file (if any) into model->quant, checked against its layers. */
siamese_status sm_model_int8_read(siamese_model *model, const char *path, const sm_st_file *file,
                                  sm_err *err);
#define SM_INT8_PREFIX "int8."

/* Ensembles (ensemble.c, ensemble_io.c). */
#define SM_ENSEMBLE_PREFIX "members." /* "members.<i>." before each member's tensors and keys */
#define SM_ENSEMBLE_FORMAT "siamese/ensemble/1" /* an older reader calls it newer than it reads */
/* The ensemble's embeddings of n images, the members' side by side (siamese.h). */
siamese_status sm_ensemble_embed(siamese_model *model, const float *images, int n, float *out);
/* A refusal of what an ensemble cannot do ("freeze", "be frozen"): fills model->err and returns
 * SIAMESE_ERR_UNSUPPORTED. */
siamese_status sm_ensemble_refuse(siamese_model *model, const char *context, const char *action);
/* 1 when file is an ensemble's (its 'format' says so). */
int sm_file_is_ensemble(const sm_st_file *file);
/* Builds the ensemble a file holds (validated whole); the members are loaded as
 * siamese_model_load loads one model (load_one). */
typedef siamese_status (*sm_model_loader)(const char *path, const sm_st_file *file,
                                          siamese_model **out, sm_err *err);
siamese_status sm_ensemble_from_file(const char *path, const sm_st_file *file,
                                     sm_model_loader load_one, siamese_model **out, sm_err *err);
/* Writes an ensemble's file atomically (model_io.c describes each member). */
siamese_status sm_ensemble_save(siamese_model *model, const char *path, sm_err *err);

#endif
