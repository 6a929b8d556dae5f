/* Adam exactly as torch.optim.Adam (PyTorch 1.13, single-tensor path, float32 tensors).
 *
 * PyTorch keeps the hyperparameters as Python doubles, computes the bias corrections and the
 * step size in double, and rounds every scalar to float when it meets a float tensor. Its AVX2
 * kernels fuse the multiply-adds (add with alpha and addcmul become FMAs), so this file uses
 * fmaf at the same places: the result matches PyTorch bit for bit (checked with torch 1.13).
 *
 *   grad  = fma(param, wd, grad)                      (only when wd != 0)
 *   m     = fma(grad, 1 - beta1, m * beta1)
 *   v     = fma((1 - beta2) * grad, grad, v * beta2)
 *   denom = sqrt(v) / sqrt(1 - beta2^t) + eps
 *   param = param + (-(lr / (1 - beta1^t)) * m) / denom                              */
#include "nn/adam.h"
#include "base/tensor_alloc.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <immintrin.h>

/* The per-step float scalars, already rounded the way PyTorch rounds them. */
typedef struct adam_scalars {
    float beta1, one_minus_beta1, beta2, one_minus_beta2, wd, bc2_sqrt, eps, neg_step_size;
} adam_scalars;

/* The double a Python user would have written for this float: its shortest decimal form
 * (5e-4f -> 0.0005, not 0.000500000023748725). */
static double python_double(float f) {
    char buf[32];
    for (int prec = 1; prec <= 9; prec++) {
        snprintf(buf, sizeof buf, "%.*g", prec, (double)f);
        if (strtof(buf, NULL) == f) return strtod(buf, NULL);
    }
    return (double)f;
}

static adam_scalars step_scalars(const sm_adam *adam, float lr_f) {
    double lr = python_double(lr_f), beta1 = python_double(adam->beta1);
    double beta2 = python_double(adam->beta2), eps = python_double(adam->eps);
    double step = (double)adam->step;
    double bias_correction1 = 1.0 - pow(beta1, step);
    double bias_correction2 = 1.0 - pow(beta2, step);
    adam_scalars s;
    s.beta1 = (float)beta1;
    s.one_minus_beta1 = (float)(1.0 - beta1);
    s.beta2 = (float)beta2;
    s.one_minus_beta2 = (float)(1.0 - beta2);
    s.wd = (float)python_double(adam->weight_decay);
    s.bc2_sqrt = (float)sqrt(bias_correction2);
    s.eps = (float)eps;
    s.neg_step_size = (float)(-(lr / bias_correction1));
    return s;
}

/* The update of elements [0, n); the body is shared by the FMA and the portable build. */
#define ADAM_UPDATE_LOOP(FMA)                                                                      \
    _Pragma("omp parallel for schedule(static)") for (ptrdiff_t i = 0; i < n; i++) {               \
        float g = grads[i];                                                                        \
        if (use_wd) g = FMA(params[i], s.wd, g);                                                   \
        float mi = FMA(g, s.one_minus_beta1, m[i] * s.beta1);                                      \
        float vi = FMA(s.one_minus_beta2 * g, g, v[i] * s.beta2);                                  \
        m[i] = mi;                                                                                 \
        v[i] = vi;                                                                                 \
        float denom = sqrtf(vi) / s.bc2_sqrt + s.eps;                                              \
        params[i] = params[i] + (s.neg_step_size * mi) / denom;                                    \
    }

/* AVX2 + FMA: eight lanes at a time with the same IEEE operations in the same order, so the
 * result is identical to the scalar loop; the tail goes through the scalar body. */
__attribute__((target("avx2,fma"))) static void update_avx2(ptrdiff_t n, adam_scalars s, int use_wd,
                                                            float *params, const float *grads,
                                                            float *m, float *v) {
    const __m256 wd = _mm256_set1_ps(s.wd), b1 = _mm256_set1_ps(s.beta1);
    const __m256 omb1 = _mm256_set1_ps(s.one_minus_beta1), b2 = _mm256_set1_ps(s.beta2);
    const __m256 omb2 = _mm256_set1_ps(s.one_minus_beta2), bc2 = _mm256_set1_ps(s.bc2_sqrt);
    const __m256 eps = _mm256_set1_ps(s.eps), step = _mm256_set1_ps(s.neg_step_size);
    ptrdiff_t blocks = n / 8;
#pragma omp parallel for schedule(static)
    for (ptrdiff_t k = 0; k < blocks; k++) {
        ptrdiff_t i = k * 8;
        __m256 p = _mm256_loadu_ps(params + i), g = _mm256_loadu_ps(grads + i);
        if (use_wd) g = _mm256_fmadd_ps(p, wd, g);
        __m256 mi = _mm256_fmadd_ps(g, omb1, _mm256_mul_ps(_mm256_loadu_ps(m + i), b1));
        __m256 vi =
            _mm256_fmadd_ps(_mm256_mul_ps(omb2, g), g, _mm256_mul_ps(_mm256_loadu_ps(v + i), b2));
        _mm256_storeu_ps(m + i, mi);
        _mm256_storeu_ps(v + i, vi);
        __m256 denom = _mm256_add_ps(_mm256_div_ps(_mm256_sqrt_ps(vi), bc2), eps);
        p = _mm256_add_ps(p, _mm256_div_ps(_mm256_mul_ps(step, mi), denom));
        _mm256_storeu_ps(params + i, p);
    }
    for (ptrdiff_t i = blocks * 8; i < n; i++) {
        float g = grads[i];
        if (use_wd) g = __builtin_fmaf(params[i], s.wd, g);
        float mi = __builtin_fmaf(g, s.one_minus_beta1, m[i] * s.beta1);
        float vi = __builtin_fmaf(s.one_minus_beta2 * g, g, v[i] * s.beta2);
        m[i] = mi;
        v[i] = vi;
        params[i] = params[i] + (s.neg_step_size * mi) / (sqrtf(vi) / s.bc2_sqrt + s.eps);
    }
}

__attribute__((target("fma"))) static void update_fma(ptrdiff_t n, adam_scalars s, int use_wd,
                                                      float *params, const float *grads, float *m,
                                                      float *v) {
    ADAM_UPDATE_LOOP(__builtin_fmaf)
}

static void update_portable(ptrdiff_t n, adam_scalars s, int use_wd, float *params,
                            const float *grads, float *m, float *v) {
    ADAM_UPDATE_LOOP(fmaf)
}

int sm_adam_init(sm_adam *adam, size_t n, float lr, float beta1, float beta2, float eps,
                 float weight_decay) {
    memset(adam, 0, sizeof *adam);
    adam->lr = lr;
    adam->beta1 = beta1;
    adam->beta2 = beta2;
    adam->eps = eps;
    adam->weight_decay = weight_decay;
    adam->n = n;
    if (n == 0) return 0;
    adam->m = sm_tensor_calloc(n, sizeof(float), 64);
    adam->v = sm_tensor_calloc(n, sizeof(float), 64);
    if (!adam->m || !adam->v) {
        sm_adam_free(adam);
        return -1;
    }
    return 0;
}

void sm_adam_free(sm_adam *adam) {
    if (!adam) return;
    free(adam->m);
    free(adam->v);
    adam->m = adam->v = NULL;
}

/* Elements [from, to) with learning rate lr. */
static void update_range(const sm_adam *adam, size_t from, size_t to, float lr, float *params,
                         const float *grads) {
    if (to <= from) return;
    adam_scalars s = step_scalars(adam, lr);
    int use_wd = adam->weight_decay != 0.0f;
    ptrdiff_t n = (ptrdiff_t)(to - from);
    float *p = params + from, *m = adam->m + from, *v = adam->v + from;
    const float *g = grads + from;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        update_avx2(n, s, use_wd, p, g, m, v);
    else if (__builtin_cpu_supports("fma")) update_fma(n, s, use_wd, p, g, m, v);
    else update_portable(n, s, use_wd, p, g, m, v);
}

void sm_adam_step_spans(sm_adam *adam, float *params, const float *grads, const sm_span *spans,
                        int n_spans) {
    adam->step++;
    size_t split = adam->n_backbone < adam->n ? adam->n_backbone : adam->n;
    for (int i = 0; i < n_spans; i++) {
        size_t from = spans[i].from, to = spans[i].to < adam->n ? spans[i].to : adam->n;
        update_range(adam, from, to < split ? to : split, adam->backbone_lr, params, grads);
        update_range(adam, from > split ? from : split, to, adam->lr, params, grads);
    }
}

void sm_adam_step(sm_adam *adam, float *params, const float *grads) {
    sm_span all = {0, adam->n};
    sm_adam_step_spans(adam, params, grads, &all, 1);
}
