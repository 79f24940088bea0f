/* tests/ref_layers.h - plain C references of the layers of agecl/layers.h, in
 * double precision, written for clarity, not speed.
 *
 * Tensors are packed NCHW arrays; hw = H*W. Per-channel arrays have c
 * elements. Backward references write the gradients (no accumulation) of a
 * scalar loss whose gradient with respect to the output is dy. */
#ifndef AGECL_TESTS_REF_LAYERS_H
#define AGECL_TESTS_REF_LAYERS_H

#include <stddef.h>

/* BatchNorm2d, training mode: mean and biased variance per channel over n, hw;
 * y = (x - mean) / sqrt(var + eps) * gamma + beta. mean, var may be NULL. */
void ref_batchnorm_forward_train(const double *x, int n, int c, int hw, const double *gamma,
                                 const double *beta, double eps, double *y, double *mean,
                                 double *var);
/* running = (1 - momentum) running + momentum batch, with the variance made
 * unbiased (var * m / (m - 1), m = n*hw values per channel). */
void ref_batchnorm_update_running(int c, const double *mean, const double *var, double m,
                                  double momentum, double *running_mean, double *running_var);
/* Inference: y = (x - running_mean) / sqrt(running_var + eps) * gamma + beta. */
void ref_batchnorm_forward_infer(const double *x, int n, int c, int hw, const double *gamma,
                                 const double *beta, const double *running_mean,
                                 const double *running_var, double eps, double *y);
/* Gradients of the training-mode forward (batch statistics) to x, gamma, beta. */
void ref_batchnorm_backward(const double *x, const double *dy, int n, int c, int hw,
                            const double *gamma, double eps, double *dx, double *dgamma,
                            double *dbeta);
/* The same formula evaluated at given statistics (mean, invstd = 1/sqrt(var + eps)),
 * as agecl_batchnorm_backward takes them from the forward. */
void ref_batchnorm_backward_saved(const double *x, const double *dy, int n, int c, int hw,
                                  const double *gamma, const double *mean, const double *invstd,
                                  double *dx, double *dgamma, double *dbeta);

/* PReLU: y = x > 0 ? x : slope[c] x. Backward as PyTorch: the slope side at x == 0. */
void ref_prelu_forward(const double *x, int n, int c, int hw, const double *slope, double *y);
void ref_prelu_backward(const double *x, const double *dy, int n, int c, int hw,
                        const double *slope, double *dx, double *dslope);

/* BatchNorm2d followed by PReLU: the composition of the references above.
 * Training mode: z = the BN output with the batch statistics, y = prelu(z);
 * z, mean, var may be NULL. */
void ref_batchnorm_prelu_forward_train(const double *x, int n, int c, int hw, const double *gamma,
                                       const double *beta, const double *slope, double eps,
                                       double *y, double *z, double *mean, double *var);
/* Inference: z with the running statistics, y = prelu(z). */
void ref_batchnorm_prelu_forward_infer(const double *x, int n, int c, int hw, const double *gamma,
                                       const double *beta, const double *slope,
                                       const double *running_mean, const double *running_var,
                                       double eps, double *y);
/* Gradients of the training-mode composition to x, gamma, beta, slope. */
void ref_batchnorm_prelu_backward(const double *x, const double *dy, int n, int c, int hw,
                                  const double *gamma, const double *beta, const double *slope,
                                  double eps, double *dx, double *dgamma, double *dbeta,
                                  double *dslope);

/* y = a + b over count elements (its backward passes dy to both). */
void ref_add_forward(const double *a, const double *b, size_t count, double *y);

/* ceil(in / stride): the output size of the strided subsample. */
int ref_subsample_size(int in, int stride);
/* y[p,i,j] = x[p,i*s,j*s] for the n*c planes p of an h x w map. */
void ref_subsample_forward(const double *x, int n, int c, int h, int w, int stride, double *y);
/* dx (n x c x h x w) = dy at the strided positions, 0 elsewhere. */
void ref_subsample_backward(const double *dy, int n, int c, int h, int w, int stride, double *dx);

/* Global average pooling: y[p] = mean of plane p (n*c planes of hw). */
void ref_avgpool_forward(const double *x, int n, int c, int hw, double *y);
void ref_avgpool_backward(const double *dy, int n, int c, int hw, double *dx);

/* Linear: y[b,o] = sum_i x[b,i] w[o,i] + bias[o]; x [rows, in], w [out, in]. */
void ref_linear_forward(const double *x, int rows, int in, int out, const double *w,
                        const double *bias, double *y);
/* dx = dy w, dw = dy^T x, dbias = sum over rows of dy. */
void ref_linear_backward(const double *x, const double *dy, int rows, int in, int out,
                         const double *w, double *dx, double *dw, double *dbias);

#endif
