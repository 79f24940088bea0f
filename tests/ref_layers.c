/* Plain double-precision references of the layers; see ref_layers.h. */
#include <math.h>
#include <stdlib.h>
#include "ref_layers.h"

/* Index of element (b, ch, s) of an n x c x hw tensor. */
static size_t at(int b, int ch, int s, int c, int hw)
{
    return ((size_t)b * c + ch) * hw + s;
}

/* Mean and biased variance of channel ch (two passes). */
static void channel_stats(const double *x, int n, int c, int hw, int ch, double *mean,
                          double *var)
{
    double m = (double)n * hw, sum = 0, sq = 0;
    for (int b = 0; b < n; b++)
        for (int s = 0; s < hw; s++) sum += x[at(b, ch, s, c, hw)];
    double mu = sum / m;
    for (int b = 0; b < n; b++)
        for (int s = 0; s < hw; s++) {
            double d = x[at(b, ch, s, c, hw)] - mu;
            sq += d * d;
        }
    *mean = mu;
    *var = sq / m;
}

void ref_batchnorm_forward_train(const double *x, int n, int c, int hw, const double *gamma,
                                 const double *beta, double eps, double *y, double *mean,
                                 double *var)
{
    for (int ch = 0; ch < c; ch++) {
        double mu, v;
        channel_stats(x, n, c, hw, ch, &mu, &v);
        if (mean) mean[ch] = mu;
        if (var) var[ch] = v;
        double invstd = 1.0 / sqrt(v + eps);
        for (int b = 0; b < n; b++)
            for (int s = 0; s < hw; s++) {
                size_t i = at(b, ch, s, c, hw);
                y[i] = (x[i] - mu) * invstd * gamma[ch] + beta[ch];
            }
    }
}

void ref_batchnorm_update_running(int c, const double *mean, const double *var, double m,
                                  double momentum, double *running_mean, double *running_var)
{
    for (int ch = 0; ch < c; ch++) {
        running_mean[ch] = (1 - momentum) * running_mean[ch] + momentum * mean[ch];
        running_var[ch] = (1 - momentum) * running_var[ch] + momentum * var[ch] * m / (m - 1);
    }
}

void ref_batchnorm_forward_infer(const double *x, int n, int c, int hw, const double *gamma,
                                 const double *beta, const double *running_mean,
                                 const double *running_var, double eps, double *y)
{
    for (int b = 0; b < n; b++)
        for (int ch = 0; ch < c; ch++)
            for (int s = 0; s < hw; s++) {
                size_t i = at(b, ch, s, c, hw);
                y[i] = (x[i] - running_mean[ch]) / sqrt(running_var[ch] + eps) * gamma[ch] +
                       beta[ch];
            }
}

void ref_batchnorm_backward_saved(const double *x, const double *dy, int n, int c, int hw,
                                  const double *gamma, const double *mean, const double *invstd,
                                  double *dx, double *dgamma, double *dbeta)
{
    double m = (double)n * hw;
    for (int ch = 0; ch < c; ch++) {
        double sum_dy = 0, sum_dy_xhat = 0;
        for (int b = 0; b < n; b++)
            for (int s = 0; s < hw; s++) {
                size_t i = at(b, ch, s, c, hw);
                sum_dy += dy[i];
                sum_dy_xhat += dy[i] * (x[i] - mean[ch]) * invstd[ch];
            }
        dgamma[ch] = sum_dy_xhat;
        dbeta[ch] = sum_dy;
        for (int b = 0; b < n; b++)
            for (int s = 0; s < hw; s++) {
                size_t i = at(b, ch, s, c, hw);
                double xhat = (x[i] - mean[ch]) * invstd[ch];
                dx[i] = gamma[ch] * invstd[ch] / m * (m * dy[i] - sum_dy - xhat * sum_dy_xhat);
            }
    }
}

void ref_batchnorm_backward(const double *x, const double *dy, int n, int c, int hw,
                            const double *gamma, double eps, double *dx, double *dgamma,
                            double *dbeta)
{
    double *mean = malloc((size_t)c * sizeof *mean), *invstd = malloc((size_t)c * sizeof *invstd);
    if (!mean || !invstd) abort();
    for (int ch = 0; ch < c; ch++) {
        channel_stats(x, n, c, hw, ch, &mean[ch], &invstd[ch]);
        invstd[ch] = 1.0 / sqrt(invstd[ch] + eps);
    }
    ref_batchnorm_backward_saved(x, dy, n, c, hw, gamma, mean, invstd, dx, dgamma, dbeta);
    free(mean);
    free(invstd);
}

void ref_prelu_forward(const double *x, int n, int c, int hw, const double *slope, double *y)
{
    for (int b = 0; b < n; b++)
        for (int ch = 0; ch < c; ch++)
            for (int s = 0; s < hw; s++) {
                size_t i = at(b, ch, s, c, hw);
                y[i] = x[i] > 0 ? x[i] : slope[ch] * x[i];
            }
}

void ref_prelu_backward(const double *x, const double *dy, int n, int c, int hw,
                        const double *slope, double *dx, double *dslope)
{
    for (int ch = 0; ch < c; ch++) dslope[ch] = 0;
    for (int b = 0; b < n; b++)
        for (int ch = 0; ch < c; ch++)
            for (int s = 0; s < hw; s++) {
                size_t i = at(b, ch, s, c, hw);
                dx[i] = x[i] > 0 ? dy[i] : slope[ch] * dy[i];
                if (!(x[i] > 0)) dslope[ch] += x[i] * dy[i];
            }
}

void ref_batchnorm_prelu_forward_train(const double *x, int n, int c, int hw, const double *gamma,
                                       const double *beta, const double *slope, double eps,
                                       double *y, double *z, double *mean, double *var)
{
    size_t count = (size_t)n * c * hw;
    double *bn = z ? z : malloc(count * sizeof *bn);
    if (!bn) abort();
    ref_batchnorm_forward_train(x, n, c, hw, gamma, beta, eps, bn, mean, var);
    ref_prelu_forward(bn, n, c, hw, slope, y);
    if (!z) free(bn);
}

void ref_batchnorm_prelu_forward_infer(const double *x, int n, int c, int hw, const double *gamma,
                                       const double *beta, const double *slope,
                                       const double *running_mean, const double *running_var,
                                       double eps, double *y)
{
    double *z = malloc((size_t)n * c * hw * sizeof *z);
    if (!z) abort();
    ref_batchnorm_forward_infer(x, n, c, hw, gamma, beta, running_mean, running_var, eps, z);
    ref_prelu_forward(z, n, c, hw, slope, y);
    free(z);
}

void ref_batchnorm_prelu_backward(const double *x, const double *dy, int n, int c, int hw,
                                  const double *gamma, const double *beta, const double *slope,
                                  double eps, double *dx, double *dgamma, double *dbeta,
                                  double *dslope)
{
    size_t count = (size_t)n * c * hw;
    double *z = malloc(count * sizeof *z), *dz = malloc(count * sizeof *dz);
    if (!z || !dz) abort();
    ref_batchnorm_forward_train(x, n, c, hw, gamma, beta, eps, z, NULL, NULL);
    ref_prelu_backward(z, dy, n, c, hw, slope, dz, dslope);
    ref_batchnorm_backward(x, dz, n, c, hw, gamma, eps, dx, dgamma, dbeta);
    free(z);
    free(dz);
}

void ref_add_forward(const double *a, const double *b, size_t count, double *y)
{
    for (size_t i = 0; i < count; i++) y[i] = a[i] + b[i];
}

int ref_subsample_size(int in, int stride)
{
    return (in + stride - 1) / stride;
}

void ref_subsample_forward(const double *x, int n, int c, int h, int w, int stride, double *y)
{
    int oh = ref_subsample_size(h, stride), ow = ref_subsample_size(w, stride);
    for (size_t p = 0; p < (size_t)n * c; p++)
        for (int i = 0; i < oh; i++)
            for (int j = 0; j < ow; j++)
                y[(p * oh + i) * ow + j] = x[(p * h + (size_t)i * stride) * w + (size_t)j * stride];
}

void ref_subsample_backward(const double *dy, int n, int c, int h, int w, int stride, double *dx)
{
    int oh = ref_subsample_size(h, stride), ow = ref_subsample_size(w, stride);
    for (size_t k = 0; k < (size_t)n * c * h * w; k++) dx[k] = 0;
    for (size_t p = 0; p < (size_t)n * c; p++)
        for (int i = 0; i < oh; i++)
            for (int j = 0; j < ow; j++)
                dx[(p * h + (size_t)i * stride) * w + (size_t)j * stride] =
                    dy[(p * oh + i) * ow + j];
}

void ref_avgpool_forward(const double *x, int n, int c, int hw, double *y)
{
    for (size_t p = 0; p < (size_t)n * c; p++) {
        double sum = 0;
        for (int s = 0; s < hw; s++) sum += x[p * hw + s];
        y[p] = sum / hw;
    }
}

void ref_avgpool_backward(const double *dy, int n, int c, int hw, double *dx)
{
    for (size_t p = 0; p < (size_t)n * c; p++)
        for (int s = 0; s < hw; s++) dx[p * hw + s] = dy[p] / hw;
}

void ref_linear_forward(const double *x, int rows, int in, int out, const double *w,
                        const double *bias, double *y)
{
    for (int b = 0; b < rows; b++)
        for (int o = 0; o < out; o++) {
            double sum = bias[o];
            for (int i = 0; i < in; i++) sum += x[(size_t)b * in + i] * w[(size_t)o * in + i];
            y[(size_t)b * out + o] = sum;
        }
}

void ref_linear_backward(const double *x, const double *dy, int rows, int in, int out,
                         const double *w, double *dx, double *dw, double *dbias)
{
    for (int b = 0; b < rows; b++)
        for (int i = 0; i < in; i++) {
            double sum = 0;
            for (int o = 0; o < out; o++) sum += dy[(size_t)b * out + o] * w[(size_t)o * in + i];
            dx[(size_t)b * in + i] = sum;
        }
    for (int o = 0; o < out; o++) {
        double sum_b = 0;
        for (int i = 0; i < in; i++) {
            double sum = 0;
            for (int b = 0; b < rows; b++) sum += dy[(size_t)b * out + o] * x[(size_t)b * in + i];
            dw[(size_t)o * in + i] = sum;
        }
        for (int b = 0; b < rows; b++) sum_b += dy[(size_t)b * out + o];
        dbias[o] = sum_b;
    }
}
