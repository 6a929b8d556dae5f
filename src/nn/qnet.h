/* The int8 inference engine: conv, batchnorm, scale, relu, maxpool, average pool, flatten,
 * linear and residual blocks on oneDNN's int8 primitives, or in fp32 with the same layouts to
 * calibrate it. */
#ifndef SM_QNET_H
#define SM_QNET_H

#include "base/errors.h"
#include "nn/arch.h"
#include "nn/quant.h"

typedef struct sm_qnet sm_qnet;

/* SIAMESE_OK when the engine can run arch: conv2d (ungrouped, padded alike on both sides; each
 * batchnorm2d or scale right after a conv is folded into it, a scale right before an unpadded
 * conv too), relu, maxpool2d, avgpool, flatten and linear layers starting with a conv or linear,
 * and residual blocks "block ... [skip conv] add relu" (the add padded or not). Otherwise
 * SIAMESE_ERR_UNSUPPORTED naming the first layer it cannot run and why. */
siamese_status sm_qnet_check(const sm_arch *arch, sm_err *err);
/* 1 for a batchnorm or scale layer (folded into the conv before it, nn/qnet_check.c). */
int sm_qnet_is_fold(const sm_layer *l);
/* 1 when layer i is a per-channel scale before an unpadded conv, folded into that conv's weights
 * and bias (the input normalisation of face-api's network). */
int sm_qnet_is_pre_fold(const sm_arch *arch, int i);

/* Builds the engine from the flat parameter and buffer arrays laid out by table. quant = NULL:
 * fp32 (for calibration: sm_qnet_observe records what int8 needs); otherwise int8 with quant's
 * ranges and weight scales. The weights are copied (folded, quantised): later changes to params
 * are not seen. */
siamese_status sm_qnet_create(const sm_arch *arch, const sm_param_table *table, const float *params,
                              const float *buffers, const sm_quant *quant, sm_qnet **out,
                              sm_err *err);
void sm_qnet_free(sm_qnet *q);

/* x: [n, c, h, w] floats; emb: [n, embedding_dim]. Any n >= 1. */
siamese_status sm_qnet_forward(sm_qnet *q, const float *x, int n, float *emb, sm_err *err);

/* Profiling for benchmarks, as sm_net_set_timers: while fwd (arch->n_layers + 1 doubles) is
 * non-NULL every forward adds the process CPU seconds of each step to the entry of its layer (a
 * fused relu or folded batchnorm counts for its conv; slot n_layers: the input and output
 * reorders). */
void sm_qnet_set_timers(sm_qnet *q, double *fwd);

/* fp32 engine only: widens each layer's input range in quant by the values its conv / linear
 * layers read in the last forward (a linear after an average pool: the pool's input), sets the
 * per-channel scales of their (folded) weights and counts the images. */
void sm_qnet_observe(sm_qnet *q, sm_quant *quant);

/* One line per step ("layer  3 convolution jit_int8:avx512_core_vnni") of the plan for batch n;
 * returns the length the full text needs (0 on error). */
size_t sm_qnet_describe(sm_qnet *q, int n, char *buf, size_t size, sm_err *err);

#endif
