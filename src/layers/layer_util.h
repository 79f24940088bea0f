/* src/layers/layer_util.h - per-channel arguments and the launch sizes shared by
 * the layer operations (not installed); tensors are checked by runtime/args.h. */
#ifndef AGECL_LAYERS_LAYER_UTIL_H
#define AGECL_LAYERS_LAYER_UTIL_H

#include <stddef.h>
#include "agecl/runtime.h"
#include "agecl/tensor.h"
#include "runtime/args.h"
#include "runtime/launch.h"

/* A per-channel tensor argument (BN gamma, PReLU slope, ...): the tensor, its
 * name for messages, and its offset once checked. */
typedef struct agecl__channel_arg {
    const agecl_tensor *t;
    const char *name;
    cl_uint off;
} agecl__channel_arg;

/* The two kernel arguments (buffer, offset) of a checked per-channel tensor. */
#define AGECL_CH_ARGS(a) AGECL_ARG((a).t->buf), AGECL_ARG((a).off)

/* Check that each of the `count` tensors of args holds C elements (x's channel
 * count), and take its offset. */
agecl_status agecl__layer_channels(const char *op, agecl__channel_arg *args, int count, int C);

/* Whether the layers run their CPU kernels (cl/<program>_cpu.cl: a work-item per
 * plane or channel, in work-groups of one, vectorised by hand) rather than the
 * GPU ones: the context's kernel family (agecl/options.h: AGECL_KERNELS), by
 * default the device's type. */
int agecl__layer_cpu(const agecl_ctx *ctx);

/* The launches of the layers, made once by their plans. Work-group sizes are
 * powers of two, the largest the device allows for the kernel up to what is
 * wanted (CL_KERNEL_WORK_GROUP_SIZE). */

/* 1-D, a work-item per element (`count` of them), work-groups of up to 256. */
agecl_status agecl__layer_launch(agecl_ctx *ctx, const char *program, const char *kernel,
                                 size_t count, agecl__launch *out);

/* 3-D over size[0] x size[1] x size[2] work-items (e.g. width, height, planes),
 * with work-groups along dimension 0 only (up to 64 items), so that the indices
 * of dimensions 1 and 2 are uniform in a work-group and no work-item divides to
 * find its row or channel. */
agecl_status agecl__layer_launch_grid(agecl_ctx *ctx, const char *program, const char *kernel,
                                      const size_t size[3], agecl__launch *out);

/* A per-channel reduction: one work-group per channel (`channels` of them), of
 * 64 items on CPUs (PoCL runs a block of 64 columns as vectors), 256 elsewhere.
 * The kernel's local memory scales with the group: launch.local[0]. */
agecl_status agecl__layer_launch_reduce(agecl_ctx *ctx, const char *program, const char *kernel,
                                        size_t channels, agecl__launch *out);

/* A CPU kernel over count[0] x count[1] work-items (channels, samples), each in
 * a work-group of its own. */
agecl_status agecl__layer_launch_cpu(agecl_ctx *ctx, const char *program, const char *kernel,
                                     const size_t count[2], agecl__launch *out);

/* agecl__layer_launch made and run at once (ops without a plan: Linear's bias). */
agecl_status agecl__layer_run(agecl_ctx *ctx, const char *program, const char *kernel,
                              size_t count, int nargs, const agecl__arg *args);

#endif
