/* agecl/optim.h - the optimiser (Adam, AdamW) and the exponential moving
 * average of the weights (MODEL.md section 5). Every call only enqueues work.
 *
 * ADAM (MODEL.md 5): PyTorch's torch.optim.Adam(weight_decay=wd), amsgrad off,
 * in PyTorch's order of operations, one launch over any number of elements:
 *     g = grad + wd * param          (decoupled, AdamW: param *= 1 - lr * wd; g = grad)
 *     m = beta1 m + (1 - beta1) g;   v = beta2 v + (1 - beta2) g^2
 *     param -= lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)
 *   params, grads, m and v are tensors of equal element count, typically the
 *   whole parameter arena and three arenas carved the same way: weight decay
 *   then applies to every parameter, as MODEL.md asks (arena padding is updated
 *   too; the model never reads it). To exclude some parameters from weight
 *   decay, call it once per region with its own config. m and v start at 0
 *   (agecl_tensor_fill), t counts steps from 1. Zero the gradients before each
 *   step's backward with agecl_tensor_fill(ctx, grads, 0) (one launch over the
 *   gradient arena), or let the first backward write with beta 0.
 *
 */
#ifndef AGECL_OPTIM_H
#define AGECL_OPTIM_H

#include "agecl/runtime.h"
#include "agecl/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Adam ---- */

typedef struct agecl_adam_config {
    double lr;
    double beta1, beta2;   /* 0.9, 0.999 */
    double eps;            /* 1e-8 */
    double weight_decay;   /* 0: none */
    int decoupled;         /* 0: L2 added to the gradient (Adam, MODEL.md);
                              1: decoupled, param *= 1 - lr * weight_decay (AdamW) */
} agecl_adam_config;

/* {lr, 0.9, 0.999, 1e-8, weight_decay, coupled}: MODEL.md's settings. */
agecl_adam_config agecl_adam_defaults(double lr, double weight_decay);

/* One step t >= 1. AGECL_E_INVALID_ARG for lr < 0, betas outside [0, 1),
 * eps <= 0 or weight_decay < 0. */
agecl_status agecl_adam_step(agecl_ctx *ctx, const agecl_adam_config *cfg, int t,
                             agecl_tensor *params, const agecl_tensor *grads, agecl_tensor *m,
                             agecl_tensor *v);

/* ---- exponential moving average of weights ---- */

/* avg = decay avg + (1 - decay) x elementwise (timm's ModelEmaV2), decay in [0, 1]. */
agecl_status agecl_ema_update(agecl_ctx *ctx, double decay, const agecl_tensor *x,
                              agecl_tensor *avg);

/* Exchange the contents of a and b (the same element count, not overlapping). */
agecl_status agecl_ema_swap(agecl_ctx *ctx, agecl_tensor *a, agecl_tensor *b);

#ifdef __cplusplus
}
#endif
#endif
