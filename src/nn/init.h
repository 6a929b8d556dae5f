/* PyTorch's default initialization of a network's parameters from a seeded generator. */
#ifndef SM_INIT_H
#define SM_INIT_H

#include "base/rng.h"
#include "nn/arch.h"

/* conv2d / linear: weight and bias uniform in +-1/sqrt(fan_in) (kaiming_uniform_ with a=sqrt(5));
 * batchnorm2d: weight 1, bias 0, running_mean 0, running_var 1, num_batches_tracked 0.
 * Tensors are filled in table order, so the same seed gives the same model. */
void sm_init_params(const sm_param_table *table, const sm_arch *arch, sm_rng *rng, float *params,
                    float *buffers, int64_t *counters);

#endif
