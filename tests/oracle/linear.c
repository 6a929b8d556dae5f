/* Reference fully connected layer y = x W^T + b (W is [out, in], PyTorch layout), in double. */
#include "oracle.h"

void sm_ref_linear_forward(int n, int in, int out, const double *x /* [n, in] */,
                           const double *w /* [out, in] */, const double *b /* [out] or NULL */,
                           double *y /* [n, out] */) {
    for (int s = 0; s < n; s++)
        for (int o = 0; o < out; o++) {
            double sum = b ? b[o] : 0.0;
            for (int i = 0; i < in; i++) sum += x[(long)s * in + i] * w[(long)o * in + i];
            y[(long)s * out + o] = sum;
        }
}

/* dx += dy W, dw += dy^T x, db += column sums of dy. */
void sm_ref_linear_backward(int n, int in, int out, const double *x /* [n, in] */,
                            const double *w /* [out, in] */, const double *dy /* [n, out] */,
                            double *dx /* [n, in] or NULL */, double *dw /* [out, in] */,
                            double *db /* [out] or NULL */) {
    for (int s = 0; s < n; s++)
        for (int o = 0; o < out; o++) {
            double d = dy[(long)s * out + o];
            if (db) db[o] += d;
            for (int i = 0; i < in; i++) {
                dw[(long)o * in + i] += d * x[(long)s * in + i];
                if (dx) dx[(long)s * in + i] += d * w[(long)o * in + i];
            }
        }
}
