/* Reference 2-D batch normalization (per channel over n and h*w), training and inference, in double. */
#include "oracle.h"

#include <math.h>

/* Index of x[s, ch, k] in a dense [n, c, hw] tensor. */
static long at3(int s, int ch, int k, int c, int hw) { return ((long)s * c + ch) * hw + k; }

static double channel_mean(int n, int c, int hw, const double *x, int ch) {
    double sum = 0.0;
    for (int s = 0; s < n; s++)
        for (int k = 0; k < hw; k++) sum += x[at3(s, ch, k, c, hw)];
    return sum / ((double)n * hw);
}

/* Biased variance: mean of squared deviations. */
static double channel_variance(int n, int c, int hw, const double *x, int ch, double mean) {
    double sum = 0.0;
    for (int s = 0; s < n; s++)
        for (int k = 0; k < hw; k++) {
            double d = x[at3(s, ch, k, c, hw)] - mean;
            sum += d * d;
        }
    return sum / ((double)n * hw);
}

/* y = gamma (x - mean) invstd + beta over one channel. */
static void normalize_channel(int n, int c, int hw, const double *x, int ch, double mean,
                              double invstd, double gamma, double beta, double *y) {
    for (int s = 0; s < n; s++)
        for (int k = 0; k < hw; k++) {
            long i = at3(s, ch, k, c, hw);
            y[i] = gamma * (x[i] - mean) * invstd + beta;
        }
}

/* running stats (if not NULL) move toward the batch's mean and unbiased variance; a channel of
 * a single value (PyTorch refuses it) uses the biased variance instead of dividing by zero. */
void sm_ref_batchnorm2d_forward_train(int n, int c, int hw, const double *x /* [n, c, hw] */,
                                      const double *gamma /* [c] */, const double *beta /* [c] */,
                                      double eps, double momentum, double *running_mean /* [c] */,
                                      double *running_var /* [c] */, double *y /* [n, c, hw] */,
                                      double *save_mean /* [c] */, double *save_invstd /* [c] */) {
    double count = (double)n * hw;
    for (int ch = 0; ch < c; ch++) {
        double mean = channel_mean(n, c, hw, x, ch);
        double var = channel_variance(n, c, hw, x, ch, mean);
        double invstd = 1.0 / sqrt(var + eps);
        normalize_channel(n, c, hw, x, ch, mean, invstd, gamma[ch], beta[ch], y);
        save_mean[ch] = mean;
        save_invstd[ch] = invstd;
        double unbiased = count > 1.0 ? var * count / (count - 1.0) : var;
        if (running_mean) running_mean[ch] = (1.0 - momentum) * running_mean[ch] + momentum * mean;
        if (running_var) running_var[ch] = (1.0 - momentum) * running_var[ch] + momentum * unbiased;
    }
}

void sm_ref_batchnorm2d_forward_infer(int n, int c, int hw, const double *x /* [n, c, hw] */,
                                      const double *gamma /* [c] */, const double *beta /* [c] */,
                                      double eps, const double *running_mean /* [c] */,
                                      const double *running_var /* [c] */,
                                      double *y /* [n, c, hw] */) {
    for (int ch = 0; ch < c; ch++)
        normalize_channel(n, c, hw, x, ch, running_mean[ch], 1.0 / sqrt(running_var[ch] + eps),
                          gamma[ch], beta[ch], y);
}

/* Training-mode backward with xhat = (x - mean) invstd and m = n*hw values per channel:
 * dbeta += sum dy, dgamma += sum dy xhat,
 * dx += gamma invstd (dy - sum(dy)/m - xhat sum(dy xhat)/m). */
void sm_ref_batchnorm2d_backward(int n, int c, int hw, const double *x /* [n, c, hw] */,
                                 const double *gamma /* [c] */, const double *save_mean /* [c] */,
                                 const double *save_invstd /* [c] */,
                                 const double *dy /* [n, c, hw] */,
                                 double *dx /* [n, c, hw] or NULL */, double *dgamma /* [c] */,
                                 double *dbeta /* [c] */) {
    double count = (double)n * hw;
    for (int ch = 0; ch < c; ch++) {
        double mean = save_mean[ch], invstd = save_invstd[ch];
        double sum_dy = 0.0, sum_dy_xhat = 0.0;
        for (int s = 0; s < n; s++)
            for (int k = 0; k < hw; k++) {
                long i = at3(s, ch, k, c, hw);
                sum_dy += dy[i];
                sum_dy_xhat += dy[i] * (x[i] - mean) * invstd;
            }
        dbeta[ch] += sum_dy;
        dgamma[ch] += sum_dy_xhat;
        if (!dx) continue;
        double scale = gamma[ch] * invstd;
        for (int s = 0; s < n; s++)
            for (int k = 0; k < hw; k++) {
                long i = at3(s, ch, k, c, hw);
                double xhat = (x[i] - mean) * invstd;
                dx[i] += scale * (dy[i] - sum_dy / count - xhat * sum_dy_xhat / count);
            }
    }
}
