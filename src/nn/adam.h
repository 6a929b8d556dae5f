/* Adam with PyTorch 1.13's exact update over flat parameter, gradient, m and v buffers. */
#ifndef SM_ADAM_H
#define SM_ADAM_H

#include <stddef.h>
#include <stdint.h>

typedef struct sm_adam {
    float lr, beta1, beta2, eps, weight_decay;
    /* fine-tuning: parameters [0, n_backbone) step with backbone_lr instead of lr (a second
     * torch.optim.Adam parameter group); n_backbone = 0 (sm_adam_init's) = one group */
    size_t n_backbone;
    float backbone_lr;
    int64_t step; /* steps taken so far */
    size_t n;     /* number of parameters */
    float *m;     /* [n] first moment (exp_avg) */
    float *v;     /* [n] second moment (exp_avg_sq) */
} sm_adam;

/* Allocates zeroed m and v for n parameters; returns 0 on success, -1 when memory ran out. */
int sm_adam_init(sm_adam *adam, size_t n, float lr, float beta1, float beta2, float eps,
                 float weight_decay);
void sm_adam_free(sm_adam *adam);

/* One update of params [n] from grads [n], exactly as torch.optim.Adam (single-tensor path;
 * with n_backbone > 0 as two parameter groups, the backbone's first). */
void sm_adam_step(sm_adam *adam, float *params, const float *grads);

/* A range [from, to) of parameter elements. */
typedef struct sm_span {
    size_t from, to;
} sm_span;

/* sm_adam_step for the elements inside n_spans disjoint spans only: the others (frozen layers)
 * keep their values and moments exactly, weight decay included, as torch.optim.Adam skips a
 * parameter whose grad is None. */
void sm_adam_step_spans(sm_adam *adam, float *params, const float *grads, const sm_span *spans,
                        int n_spans);

#endif
