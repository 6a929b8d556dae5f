/* An exponential moving average of a network's weights (--ema, issue 12): its state and update. */
#ifndef SM_EMA_H
#define SM_EMA_H

#include <stddef.h>
#include <stdint.h>

/* A shadow copy of the flat parameter and batchnorm running-statistics buffers (the layouts of
 * sm_net_params and sm_net_buffers; the counters are not averaged). After the optimizer step
 * that makes t steps in all, shadow = d * shadow + (1 - d) * live with
 * d = min(decay, (1 + t) / (10 + t)): the decay warms up, so early shadows are not dominated by
 * the initial weights. decay = 0 (a zeroed struct) is off: every call below does nothing. */
typedef struct sm_ema {
    float decay;      /* in [0, 1) */
    size_t n_params;  /* floats in params */
    size_t n_buffers; /* floats in buffers */
    float *params;    /* [n_params] the averaged parameters */
    float *buffers;   /* [n_buffers] the averaged running statistics */
} sm_ema;

/* decay > 0: allocates the shadow and copies params [n_params] and buffers [n_buffers] into it
 * (the weights the run starts from). Returns 0, or -1 when memory ran out (ema then off). */
int sm_ema_init(sm_ema *ema, float decay, const float *params, size_t n_params,
                const float *buffers, size_t n_buffers);
void sm_ema_free(sm_ema *ema);
/* 1 when the average is kept. */
int sm_ema_on(const sm_ema *ema);

/* The decay of the update after step t (t >= 1: the steps taken, this one included). */
float sm_ema_decay_at(float decay, int64_t t);
/* Moves the shadow towards the live params and buffers after step t (in float; elementwise, so
 * the same bits with any number of threads). */
void sm_ema_update(sm_ema *ema, const float *params, const float *buffers, int64_t t);
/* Exchanges the shadow with the live params and buffers (no allocation): called twice, the
 * first puts the averaged weights in the network for evaluation and saving, the second gives the
 * live weights back, bit for bit. */
void sm_ema_swap(sm_ema *ema, float *params, float *buffers);

#endif
