/* src/conv/conv2d_algo.h - what a convolution algorithm gives the plan (not installed).
 *
 * An algorithm is a table of functions. The plan (conv2d_plan.c) checks the
 * description and every call's tensors, chooses an algorithm for each pass, creates
 * each chosen algorithm's state once, and calls its run functions; an algorithm
 * never sees a tensor of the wrong shape. Every run function computes
 *   out = result + beta * out    (beta 0: out is never read)
 * on the plan's context queue, enqueueing work only (no waiting, no device
 * allocation); what it needs per call beyond its inputs lives in the workspace the
 * caller lends (ws: at least the elements `create` asked for that pass; NULL when 0;
 * contents undefined between calls). */
#ifndef AGECL_CONV_CONV2D_ALGO_H
#define AGECL_CONV_CONV2D_ALGO_H

#include <stddef.h>
#include "agecl/conv.h"

/* forward(x, wt -> y), backward_data(dy, wt -> dx), backward_filter(x, dy -> dw). */
typedef agecl_status (*agecl__conv2d_run)(void *state, const agecl_tensor *a,
                                          const agecl_tensor *b, float beta, agecl_tensor *out,
                                          const agecl_tensor *ws);

typedef struct agecl__conv2d_algo {
    agecl_conv2d_algo id;
    const char *name;                 /* as agecl_conv2d_algo_name gives it */
    /* Whether the algorithm runs `pass` of d (already checked: sizes positive, kernel 3
     * pad 1 or kernel 1 pad 0, stride 1 or 2) on ctx's device. Cheap; no failure. */
    int (*supports)(agecl_ctx *ctx, const agecl_conv2d_desc *d, agecl_conv2d_pass pass);
    /* Make the state for d, for the passes it supports: build the kernels, allocate
     * what the plan keeps, and give the workspace (floats) each supported pass needs
     * in workspace[pass]. On failure nothing is left allocated. */
    agecl_status (*create)(agecl_ctx *ctx, const agecl_conv2d_desc *d, void **state,
                           size_t workspace[AGECL_CONV_PASS_COUNT]);
    void (*destroy)(void *state);
    agecl__conv2d_run run[AGECL_CONV_PASS_COUNT];
    /* Optional, for a forward that transforms the weights first (NULL: it reads
     * them as they are): the floats of the transformed weights; writing them from
     * wt; and the forward from them (its b), the same result as run[FORWARD]. */
    size_t (*prepared_floats)(const void *state);
    agecl_status (*prepare)(void *state, const agecl_tensor *wt, const agecl_tensor *out);
    agecl__conv2d_run forward_prepared;
} agecl__conv2d_algo;

/* The algorithms (one file each), and the table of them by id (conv2d_algos.c). */
extern const agecl__conv2d_algo agecl__conv2d_im2col_gemm;
extern const agecl__conv2d_algo agecl__conv2d_im2col_clblast;
extern const agecl__conv2d_algo agecl__conv2d_winograd;
extern const agecl__conv2d_algo agecl__conv2d_winograd4;
extern const agecl__conv2d_algo agecl__conv2d_implicit;
extern const agecl__conv2d_algo agecl__conv2d_fft;
const agecl__conv2d_algo *agecl__conv2d_algo_of(agecl_conv2d_algo id);

/* The descriptions every plan accepts (conv.h): positive sizes, and kernel 3 with
 * padding 1 or kernel 1 with padding 0, at stride 1 or 2. */
static inline int agecl__conv2d_sizes_ok(const agecl_conv2d_desc *d)
{
    return d->n > 0 && d->c_in > 0 && d->h > 0 && d->w > 0 && d->c_out > 0;
}

static inline int agecl__conv2d_kernel_ok(const agecl_conv2d_desc *d)
{
    return (d->kernel == 3 && d->pad == 1) || (d->kernel == 1 && d->pad == 0);
}

static inline int agecl__conv2d_stride_ok(const agecl_conv2d_desc *d)
{
    return d->stride == 1 || d->stride == 2;
}

/* Output size of d. */
static inline int agecl__conv2d_out_size(int in, const agecl_conv2d_desc *d)
{
    return (in + 2 * d->pad - d->kernel) / d->stride + 1;
}

#endif
