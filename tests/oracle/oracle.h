/* Plain-C reference kernels in double precision: the oracle for tests, never the fast path.
 * All tensors are dense NCHW (images) or [N, F] (features). Backward functions ADD (+=) into
 * the gradients they produce; an input-gradient pointer may be NULL to skip it. */
#ifndef SM_ORACLE_H
#define SM_ORACLE_H

typedef struct sm_conv_geom {
    int n, c, h, w;     /* input  [n, c, h, w] */
    int o, kh, kw;      /* weight [o, c / g, kh, kw] */
    int sh, sw, ph, pw; /* stride, zero padding */
    int oh, ow;         /* output [n, o, oh, ow] = floor((h + 2ph + eh - kh) / sh) + 1 */
    int g;              /* channel groups; 0 means 1 */
    int eh, ew;         /* extra zero padding at the bottom / right (beyond ph, pw) */
} sm_conv_geom;

typedef struct sm_pool_geom {
    int n, c, h, w; /* input  [n, c, h, w] */
    int kh, kw, sh, sw, ph, pw;
    int oh, ow; /* PyTorch floor rounding, padding counts as -inf */
} sm_pool_geom;

/* Fills oh/ow from the other fields; returns 0 if the output would be empty or invalid. */
int sm_conv_geom_finish(sm_conv_geom *g);
int sm_pool_geom_finish(sm_pool_geom *g);

void sm_ref_conv2d_forward(const sm_conv_geom *g, const double *x, const double *w,
                           const double *b /* [o] or NULL */, double *y);
void sm_ref_conv2d_backward(const sm_conv_geom *g, const double *x, const double *w,
                            const double *dy, double *dx /* or NULL */, double *dw,
                            double *db /* or NULL */);

void sm_ref_relu_forward(long n, const double *x, double *y);
void sm_ref_relu_backward(long n, const double *x, const double *dy, double *dx);

void sm_ref_maxpool2d_forward(const sm_pool_geom *g, const double *x, double *y);
void sm_ref_maxpool2d_backward(const sm_pool_geom *g, const double *x, const double *dy,
                               double *dx);

/* y[n, out] = x[n, in] W^T + b; W is [out, in] (PyTorch layout). */
void sm_ref_linear_forward(int n, int in, int out, const double *x, const double *w,
                           const double *b /* or NULL */, double *y);
void sm_ref_linear_backward(int n, int in, int out, const double *x, const double *w,
                            const double *dy, double *dx /* or NULL */, double *dw,
                            double *db /* or NULL */);

/* Training mode: batch statistics (biased variance normalizes), running stats updated as
 * PyTorch does (unbiased variance, running = (1 - momentum) * running + momentum * batch).
 * save_mean / save_invstd: [c], kept for backward. */
void sm_ref_batchnorm2d_forward_train(int n, int c, int hw, const double *x, const double *gamma,
                                      const double *beta, double eps, double momentum,
                                      double *running_mean, double *running_var, double *y,
                                      double *save_mean, double *save_invstd);
void sm_ref_batchnorm2d_forward_infer(int n, int c, int hw, const double *x, const double *gamma,
                                      const double *beta, double eps, const double *running_mean,
                                      const double *running_var, double *y);
void sm_ref_batchnorm2d_backward(int n, int c, int hw, const double *x, const double *gamma,
                                 const double *save_mean, const double *save_invstd,
                                 const double *dy, double *dx, double *dgamma, double *dbeta);

/* Global average pooling: y[n, c] = mean over hw of x[n, c, hw]. */
void sm_ref_avgpool_forward(int n, int c, int hw, const double *x, double *y);
void sm_ref_avgpool_backward(int n, int c, int hw, const double *dy, double *dx);
/* Backward of y = gamma (x - mean) invstd + beta with constant statistics (a frozen batchnorm;
 * the scale layer with mean 0, invstd 1). Any gradient pointer may be NULL. */
void sm_ref_batchnorm2d_backward_fixed(int n, int c, int hw, const double *x, const double *gamma,
                                       const double *mean, const double *invstd, const double *dy,
                                       double *dx, double *dgamma, double *dbeta);

#endif
