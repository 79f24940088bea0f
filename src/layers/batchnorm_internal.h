/* src/layers/batchnorm_internal.h - what the BatchNorm operations share
 * (batchnorm.c, batchnorm_prelu.c): the training-mode statistics (not installed). */
#ifndef AGECL_LAYERS_BATCHNORM_INTERNAL_H
#define AGECL_LAYERS_BATCHNORM_INTERNAL_H

#include "agecl/runtime.h"
#include "agecl/tensor.h"
#include "layers/layer_util.h"

/* The per-channel tensors the statistics kernel writes, checked. */
typedef struct agecl__bn_stats_args {
    agecl__channel_arg save_mean, save_invstd, running_mean, running_var;
} agecl__bn_stats_args;

/* Check momentum, eps and that x has more than one value per channel, then
 * enqueue the statistics kernel (cl/batchnorm.cl, or cl/batchnorm_cpu.cl when
 * cpu): save_mean, save_invstd and the running statistics of agecl/layers.h's
 * agecl_batchnorm_forward_train. x and the tensors of s are already checked. */
agecl_status agecl__batchnorm_stats(agecl_ctx *ctx, const char *op, int cpu,
                                    const agecl_tensor *x, cl_uint x_off, float momentum,
                                    float eps, const agecl__bn_stats_args *s);

#endif
