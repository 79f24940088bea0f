/* src/layers/layer_util.h - per-channel arguments and launch sizes shared by the
 * layer operations (not installed); tensors are checked by runtime/args.h. */
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


/* The local size for `kernel`: `want` (a power of two) or, when the device
 * allows less for that kernel, the largest power of two it allows. */
agecl_status agecl__layer_group(agecl_ctx *ctx, const char *program, const char *kernel,
                                size_t want, size_t *local);

/* The work-group size of a per-channel reduction kernel: 64 on CPUs (PoCL
 * runs a block of 64 columns as vectors), 256 elsewhere; less when the device
 * allows less for that kernel. */
agecl_status agecl__layer_reduce_group(agecl_ctx *ctx, const char *program, const char *kernel,
                                       size_t *local);

/* Whether the layers run their CPU kernels (cl/<program>_cpu.cl: a work-item per
 * plane or channel, in work-groups of one, vectorised by hand) rather than the
 * GPU ones: the context's kernel family (agecl/options.h: AGECL_KERNELS), by
 * default the device's type. */
int agecl__layer_cpu(const agecl_ctx *ctx);

/* Run a CPU kernel over count[0] x count[1] work-items (channels, samples), each
 * in a work-group of its own. */
agecl_status agecl__layer_run_cpu(agecl_ctx *ctx, const char *program, const char *kernel,
                                  const size_t count[2], int nargs, const agecl__arg *args);

/* Run a 1-D kernel of one work-item per element (`count` of them), with a
 * work-group of up to 256 items. */
agecl_status agecl__layer_run(agecl_ctx *ctx, const char *program, const char *kernel,
                              size_t count, int nargs, const agecl__arg *args);

/* Run a 3-D kernel over size[0] x size[1] x size[2] work-items (e.g. width,
 * height, planes), with work-groups along dimension 0 only (up to 64 items), so
 * that the indices of dimensions 1 and 2 are uniform in a work-group and no
 * work-item divides to find its row or channel. */
agecl_status agecl__layer_run_grid(agecl_ctx *ctx, const char *program, const char *kernel,
                                   const size_t size[3], int nargs, const agecl__arg *args);

#endif
