/* src/model/params.h - the named tensors of a model, in one allocation.
 *
 * Parameters are laid out llm.c-style: one buffer of 4P elements holding the
 * values, the gradients, Adam's first and second moments, each region the
 * same layout, so that one Adam launch covers them all and a gradient sits at
 * a fixed distance from its value. Buffers (BatchNorm running statistics, the
 * RAPL references R) live in a second allocation: saved, never optimised.
 * Within a region, weights (two or more dimensions: convolutions, Linear
 * weights) come first and the one-dimensional parameters (BatchNorm, PReLU,
 * biases, rapl.P) after them, so that an optimiser can leave the latter out
 * of weight decay with a second launch instead of a mask. Buffers likewise hold
 * the running statistics (one-dimensional) before rapl.R.
 *
 * An exponential moving average of the weights, once started, is a third
 * allocation laid out as [values | running statistics]: rapl.R, the references
 * of the epoch, has none (every copy of the model uses the same). */
#ifndef AGECL_MODEL_PARAMS_H
#define AGECL_MODEL_PARAMS_H

#include "agecl/tensor.h"

typedef enum { AGECL__PARAM, AGECL__BUFFER } agecl__param_kind;

typedef struct agecl__param {
    char name[64];
    int n, c, h, w;
    int ndim;          /* dimensions in checkpoints, as PyTorch has them: 1, 2 or 4 */
    agecl__param_kind kind;
    agecl_tensor value;
    agecl_tensor grad; /* parameters only */
    agecl_tensor m, v; /* parameters only: Adam's moments */
} agecl__param;

typedef struct agecl__params {
    agecl__param *items;
    int count, cap;
    size_t param_elems;  /* P: elements of one region, aligned */
    size_t weight_elems; /* the weights' part of a region, [0, weight_elems), aligned */
    size_t buffer_elems;
    size_t stat_elems;   /* the running statistics' part of buffers, aligned */
    agecl_arena arena;   /* values | grads | m | v */
    agecl_arena buffers;
    agecl_tensor values, grads, m, v; /* the four regions as flat tensors */
    agecl_tensor stats;  /* the running statistics as a flat tensor */
    int ema_on;          /* the moving average exists */
    int ema_swapped;     /* it sits in values and buffers, the weights in ema */
    agecl_arena ema;     /* its values | its running statistics */
    agecl_tensor ema_values, ema_stats;
} agecl__params;

/* Declare a tensor; returns its index, or -1 when out of memory. Names are
 * copied. All declarations come before agecl__params_alloc. Its checkpoint
 * shape is [c] for (1,c,1,1), [n,c] for (n,c,1,1), else [n,c,h,w]; set ndim
 * after the call to override (a Linear(n -> 1) weight is [1,n]). */
int agecl__params_add(agecl__params *p, agecl__param_kind kind, int n, int c, int h, int w,
                      const char *fmt, ...);

/* Allocate and carve every declared tensor (weights first); zero all four regions
 * and the buffers. */
agecl_status agecl__params_alloc(agecl_ctx *ctx, agecl__params *p);

/* Index of a tensor by name, or -1. */
int agecl__params_find(const agecl__params *p, const char *name);

/* Number of parameter elements (without alignment gaps) and of buffer elements. */
size_t agecl__params_count(const agecl__params *p, agecl__param_kind kind);

/* Start the moving average as a copy of the values and running statistics
 * (nothing when started already). */
agecl_status agecl__params_ema_start(agecl_ctx *ctx, agecl__params *p);

/* The moving average of tensor i into *t: 1 for a parameter or a running
 * statistic once the average has started, else 0 (rapl.R has none). */
int agecl__params_ema_view(const agecl__params *p, int i, agecl_tensor *t);

void agecl__params_free(agecl__params *p);

#endif
