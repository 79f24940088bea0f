/* 2-D convolution in plain C (see ref_conv.h). The three calls walk the same
 * loops: every (sample, output channel, output pixel, input channel, tap) that
 * reads an input pixel inside the image; forward sums x * wt into y, the backward
 * calls send dy back along the same connection. */
#include <string.h>
#include "ref_conv.h"

int ref_conv2d_out_size(int in, int kernel, int stride, int pad)
{
    return (in + 2 * pad - kernel) / stride + 1;
}

typedef enum { FORWARD, BACKWARD_DATA, BACKWARD_FILTER } direction;

static void walk(const agecl_conv2d_desc *d, direction dir, const double *x, const double *wt,
                 double *y, double *dx, double *dw, const double *dy)
{
    int k = d->kernel;
    int oh = ref_conv2d_out_size(d->h, k, d->stride, d->pad);
    int ow = ref_conv2d_out_size(d->w, k, d->stride, d->pad);
    for (int b = 0; b < d->n; b++)
        for (int o = 0; o < d->c_out; o++)
            for (int i = 0; i < oh; i++)
                for (int j = 0; j < ow; j++) {
                    size_t yi = (((size_t)b * d->c_out + o) * oh + i) * ow + j;
                    double sum = 0;
                    for (int c = 0; c < d->c_in; c++)
                        for (int u = 0; u < k; u++)
                            for (int v = 0; v < k; v++) {
                                int iy = i * d->stride + u - d->pad;
                                int ix = j * d->stride + v - d->pad;
                                if (iy < 0 || iy >= d->h || ix < 0 || ix >= d->w) continue;
                                size_t xi = (((size_t)b * d->c_in + c) * d->h + iy) * d->w + ix;
                                size_t wi = (((size_t)o * d->c_in + c) * k + u) * k + v;
                                switch (dir) {
                                case FORWARD: sum += x[xi] * wt[wi]; break;
                                case BACKWARD_DATA: dx[xi] += wt[wi] * dy[yi]; break;
                                case BACKWARD_FILTER: dw[wi] += x[xi] * dy[yi]; break;
                                }
                            }
                    if (dir == FORWARD) y[yi] = sum;
                }
}

void ref_conv2d_forward(const agecl_conv2d_desc *d, const double *x, const double *wt,
                        double *y)
{
    walk(d, FORWARD, x, wt, y, NULL, NULL, NULL);
}

void ref_conv2d_backward_data(const agecl_conv2d_desc *d, const double *dy, const double *wt,
                              double *dx)
{
    memset(dx, 0, (size_t)d->n * d->c_in * d->h * d->w * sizeof *dx);
    walk(d, BACKWARD_DATA, NULL, wt, NULL, dx, NULL, dy);
}

void ref_conv2d_backward_filter(const agecl_conv2d_desc *d, const double *x, const double *dy,
                                double *dw)
{
    memset(dw, 0, (size_t)d->c_out * d->c_in * d->kernel * d->kernel * sizeof *dw);
    walk(d, BACKWARD_FILTER, x, NULL, NULL, NULL, dw, dy);
}
