/* src/conv/conv2d_plan.h - the insides of a convolution plan, shared by the
 * algorithms (not installed). */
#ifndef AGECL_CONV_CONV2D_PLAN_H
#define AGECL_CONV_CONV2D_PLAN_H

#include <stddef.h>
#include "agecl/conv.h"

struct agecl_conv2d_plan {
    agecl_ctx *ctx;
    agecl_conv2d_desc d;
    agecl_conv2d_algo algo;  /* never AUTO */
    int out_h, out_w;
    int chunk;               /* samples unrolled at once; 0 when no im2col is needed */
    size_t workspace;        /* elements */
    char geometry[48];       /* im2col build options for the kernel size, stride, pad */
    int cpu;                 /* the CPU path: per-sample products, cl/im2col_cpu.cl and
                                cache-sized chunks (conv2d_im2col.c) */
    const char *program;     /* the kernels' program: "im2col_cpu" or "im2col" */
};

/* Im2col + GEMM (conv2d_im2col.c). The plan part fills chunk and workspace and
 * builds the kernels; the calls get tensors already checked against the plan. */
agecl_status agecl__conv2d_im2col_prepare(agecl_conv2d_plan *p);
agecl_status agecl__conv2d_im2col_forward(const agecl_conv2d_plan *p, const agecl_tensor *x,
                                          const agecl_tensor *wt, float beta, agecl_tensor *y,
                                          const agecl_tensor *ws);
agecl_status agecl__conv2d_im2col_backward_data(const agecl_conv2d_plan *p,
                                                const agecl_tensor *dy, const agecl_tensor *wt,
                                                float beta, agecl_tensor *dx,
                                                const agecl_tensor *ws);
agecl_status agecl__conv2d_im2col_backward_filter(const agecl_conv2d_plan *p,
                                                  const agecl_tensor *x, const agecl_tensor *dy,
                                                  float beta, agecl_tensor *dw,
                                                  const agecl_tensor *ws);

#endif
