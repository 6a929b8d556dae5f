/* Reference ReLU, forward and backward, in double (gradient 0 at x = 0, as PyTorch). */
#include "oracle.h"

void sm_ref_relu_forward(long n, const double *x, double *y) {
    for (long i = 0; i < n; i++) y[i] = x[i] > 0.0 ? x[i] : 0.0;
}

/* dx += dy where x > 0; x is the forward input. */
void sm_ref_relu_backward(long n, const double *x, const double *dy, double *dx) {
    for (long i = 0; i < n; i++)
        if (x[i] > 0.0) dx[i] += dy[i];
}
