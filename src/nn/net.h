/* The network engine: runs an sm_arch forward and backward on oneDNN over flat buffers. */
#ifndef SM_NET_H
#define SM_NET_H

#include <stddef.h>
#include <stdint.h>

#include "base/errors.h"
#include "nn/arch.h"

typedef struct sm_net sm_net;

/* Builds the engine for arch. Parameters start at zero (see sm_init_params). max_batch is the
 * largest number of images a forward pass will get (2B for B pairs); primitives and
 * activation memory are created once per batch size actually used and reused afterwards. */
siamese_status sm_net_create(const sm_arch *arch, int max_batch, sm_net **out, sm_err *err);
void sm_net_free(sm_net *net);

const sm_arch *sm_net_arch(const sm_net *net);
const sm_param_table *sm_net_table(const sm_net *net);

/* Flat buffers, laid out by sm_net_table(): PyTorch layouts (conv OIHW, linear [out, in]).
 * params and grads have table->n_params floats; buffers table->n_buffers; counters
 * table->n_counters. sm_net_params is for reading. */
const float *sm_net_params(const sm_net *net);
/* The parameters for writing, between steps: the convolutions' weights are kept in their
 * kernels' layouts and re-laid only when their layer's parameters changed, which these calls
 * say: _write for every layer, _write_trainable for the layers not frozen (an optimizer step
 * that leaves the frozen layers' values exactly as they are). The pointer is for writes until
 * the next sm_net_forward or sm_net_backward; take it again for writes after one (debug builds
 * fail a forward or backward that finds cached weights written behind these calls' back). */
float *sm_net_params_write(sm_net *net);
float *sm_net_params_write_trainable(sm_net *net);
float *sm_net_grads(sm_net *net);
float *sm_net_buffers(sm_net *net);
int64_t *sm_net_counters(sm_net *net);

/* x: [n, c, h, w] plain NCHW floats (n <= max_batch); emb: [n, embedding_dim].
 * training = 1 keeps what backward needs and uses batch statistics in batchnorm. */
siamese_status sm_net_forward(sm_net *net, const float *x, int n, int training, float *emb,
                              sm_err *err);

/* Backpropagates d_emb [n, embedding_dim] through the last training forward and ADDS the
 * parameter gradients into sm_net_grads(). No gradient is computed for the input images. */
siamese_status sm_net_backward(sm_net *net, const float *d_emb, sm_err *err);

void sm_net_zero_grads(sm_net *net);

/* The dropout masks of the training forwards from now on are drawn from seed (with the layer and
 * the element): the same seed gives the same masks. The trainer sets it from its step count
 * before every step, so a resumed run draws the masks the uninterrupted one would. Default 0. */
void sm_net_set_dropout_seed(sm_net *net, uint64_t seed);

/* Data-parallel training (issue 16): while set, backward calls fn(user, layer) as soon as the
 * gradients of that layer and of every layer after it are final (backward finishes layers from
 * the last to the first), so their sum over the ranks can start while the rest runs. Plans whose
 * backward does not finish layers in that order (none today) make no calls. fn = NULL unsets. */
typedef void (*sm_grad_ready_fn)(void *user, int layer);
void sm_net_set_grad_hook(sm_net *net, sm_grad_ready_fn fn, void *user);

/* 1 when oneDNN's effective ISA on this CPU includes the AVX512-BF16 kernels. */
int sm_bf16_supported(void);
/* bf16 = 1 computes the convolutions in bf16 (fp32 master weights, fp32 gradients; linear
 * layers stay fp32); plans are rebuilt on the next call. Returns the setting in effect: 0 when the
 * CPU has no bf16 kernels. */
int sm_net_set_bf16(sm_net *net, int bf16);
int sm_net_bf16(const sm_net *net);

/* Freezing for fine-tuning: params = 1 computes no gradient for the layer's parameters (their
 * entries of sm_net_grads() stay as they are; the backward-weights primitive is not built, and
 * layers before the first trainable one get no backward at all); stats = 1 makes a batchnorm
 * use its running statistics in training too, without updating them. Plans are rebuilt. */
void sm_net_freeze_layer(sm_net *net, int layer, int params, int stats);
int sm_net_layer_frozen(const sm_net *net, int layer);

/* Profiling for benchmarks: while fwd / bwd are non-NULL (arrays of arch->n_layers + 1
 * doubles), every forward / backward adds the CPU seconds of the process (every thread's)
 * spent in each layer to them (a relu
 * fused into the conv before it counts for the conv; slot n_layers: the input and output
 * reorders). Timing waits after every step, so it slows the run slightly. */
void sm_net_set_timers(sm_net *net, double *fwd, double *bwd);

/* Writes one line per step of the plan for batch n ("fwd layer  0 convolution jit:avx512...")
 * naming the oneDNN implementation chosen; builds the plan if needed. Returns the length
 * the full text needs (0 on error, with err filled). */
size_t sm_net_describe(sm_net *net, int n, int training, char *buf, size_t size, sm_err *err);

#endif
