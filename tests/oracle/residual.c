/* Reference kernels for residual networks in double: global average pooling and batchnorm with fixed statistics (frozen batchnorm, the scale layer). */
#include "oracle.h"

void sm_ref_avgpool_forward(int n, int c, int hw, const double *x /* [n, c, hw] */,
                            double *y /* [n, c] */) {
    for (long i = 0; i < (long)n * c; i++) {
        double sum = 0.0;
        for (int k = 0; k < hw; k++) sum += x[i * hw + k];
        y[i] = sum / hw;
    }
}

void sm_ref_avgpool_backward(int n, int c, int hw, const double *dy /* [n, c] */,
                             double *dx /* [n, c, hw] */) {
    for (long i = 0; i < (long)n * c; i++)
        for (int k = 0; k < hw; k++) dx[i * hw + k] += dy[i] / hw;
}

/* y = gamma (x - mean) invstd + beta with mean and invstd constants:
 * dx += gamma invstd dy, dgamma += sum dy (x - mean) invstd, dbeta += sum dy. */
void sm_ref_batchnorm2d_backward_fixed(int n, int c, int hw, const double *x /* [n, c, hw] */,
                                       const double *gamma /* [c] */, const double *mean /* [c] */,
                                       const double *invstd /* [c] */,
                                       const double *dy /* [n, c, hw] */, double *dx /* or NULL */,
                                       double *dgamma /* or NULL */, double *dbeta /* or NULL */) {
    for (int ch = 0; ch < c; ch++)
        for (int s = 0; s < n; s++)
            for (int k = 0; k < hw; k++) {
                long i = ((long)s * c + ch) * hw + k;
                if (dgamma) dgamma[ch] += dy[i] * (x[i] - mean[ch]) * invstd[ch];
                if (dbeta) dbeta[ch] += dy[i];
                if (dx) dx[i] += gamma[ch] * invstd[ch] * dy[i];
            }
}
