/* tests/ref_conv.h - 2-D convolution in plain C, double precision: the reference the
 * OpenCL convolution (agecl/conv.h) is checked against. Shapes as agecl_conv2d_desc
 * describes them; tensors packed NCHW, weights [c_out][c_in][k][k]. Every call
 * overwrites its output. */
#ifndef AGECL_TESTS_REF_CONV_H
#define AGECL_TESTS_REF_CONV_H

#include "agecl/conv.h"

/* out = (in + 2*pad - kernel) / stride + 1 */
int ref_conv2d_out_size(int in, int kernel, int stride, int pad);

/* y [n, c_out, oh, ow] = conv(x [n, c_in, h, w], wt [c_out, c_in, k, k]) */
void ref_conv2d_forward(const agecl_conv2d_desc *d, const double *x, const double *wt,
                        double *y);

/* dx [n, c_in, h, w] = dL/dx for dy = dL/dy [n, c_out, oh, ow] */
void ref_conv2d_backward_data(const agecl_conv2d_desc *d, const double *dy, const double *wt,
                              double *dx);

/* dw [c_out, c_in, k, k] = dL/dwt, summed over the batch */
void ref_conv2d_backward_filter(const agecl_conv2d_desc *d, const double *x, const double *dy,
                                double *dw);

#endif
