/* agecl/heads.h - the heads' losses, the relative age position module (RAPL),
 * Adam, the moving average of weights and reference selection.
 * The model they serve is described in MODEL.md sections 3-5 and 7.
 *
 * SHAPES
 * "B rows of n" means a tensor with t->n == B whose other three dimensions hold
 * n elements (a Linear output [B, n, 1, 1] or [B, 1, 1, n] alike). A vector of
 * n means any tensor of n elements. Class indices, age positions and sample
 * indices travel as floats holding integers (exact below 2^24).
 *
 * BETA
 * Gradient outputs take `float beta`: out = computed + beta * out. With beta 0
 * the old value is never read (it may be NaN); beta 1 accumulates, which is how
 * a parameter's gradient sums over the terms of a loss. Forward outputs are
 * overwritten. Every call only enqueues work, except agecl_select_references,
 * which waits (see there).
 *
 * EXPECTED-VALUE AGE (DEX, MODEL.md 3.1)
 *   logits: B rows of n; labels: n (the sorted distinct ages l_k, any values);
 *   ages: B (true ages). Per row, p = softmax(logits) (the row max is subtracted
 *   first), pred[b] = sum_k p_k l_k, abs_err[b] = |ages[b] - pred[b]|,
 *   loss[0] = mean_b abs_err[b] (PyTorch's L1Loss).
 *   With ages NULL only pred is computed (inference); abs_err and loss must then
 *   be NULL too.
 *   Backward (recomputes the softmax; needs no saved state):
 *     dlogits[b,j] = scale / B * sign(pred[b] - ages[b]) * p_j (l_j - pred[b])
 *   where scale is the incoming gradient of the loss (its weight in the total
 *   loss) and sign(0) = 0, as PyTorch's L1Loss backward (sgn) gives.
 *
 * LABEL DISTRIBUTION (DLDL, Gao et al. 2017/2018: a loss beside the L1 of DEX
 * that makes the age softmax a distribution around the true age)
 *   logits, labels, ages as for DEX; sigma > 0 (years). Per row, the target
 *     q_j = exp(-(l_j - age)^2 / (2 sigma^2)) / sum_k exp(-(l_k - age)^2 / (2 sigma^2))
 *   and loss[0] = mean_b sum_j q_j (log q_j - log p_j), p = softmax(logits):
 *   PyTorch's kl_div(log_softmax(z), q, reduction='batchmean').
 *   Backward: dlogits[b,j] = scale / B * (p_j - q_j), with beta.
 *
 * SOFTMAX CROSS-ENTROPY (gender, MODEL.md 3.2; positions, 3.3)
 *   logits: B rows of K; targets: B class indices in [0, K), or -1
 *   (AGECL_IGNORE_CLASS) for a sample whose class is unknown, like PyTorch's
 *   ignore_index=-1. loss[0] = mean over the non-ignored samples of
 *   -log softmax(logits[b])[target[b]]. When every sample is ignored the loss is
 *   0 and so is the gradient (PyTorch would give NaN). Any other target (out of
 *   range, not an integer) makes the loss NaN, so bad labels cannot go unseen;
 *   no memory outside the tensors is touched.
 *   argmax (optional, B): the index of the first largest logit of each row, as
 *   torch.argmax gives it; for accuracy and the confidence score.
 *   Backward: dlogits[b,j] = scale * (softmax_j - [j == target[b]]) / count,
 *   count = the number of non-ignored samples; ignored rows get 0 (+ beta * old).
 *
 * RELATIVE AGE POSITION MODULE (RAPL, MODEL.md 3.3), cheap form
 *   feat F: B rows of C (pooled features); refs R: n rows of C (a constant: no
 *   gradient); p P: n; a: n (the weight of Linear(n -> 1)); bias: 1 (its bias).
 *     gain[c] = sum_k a_k sigmoid(R[k,c] P[k])          (gain: C, an output)
 *     out[b,c] = F[b,c] gain[c] + bias                   (out: B rows of C)
 *   This equals the paper's expanded form, Linear(n -> 1) over k of
 *   X_hat[b,c,k] = F[b,c] sigmoid(R[k,c] P[k]), without the B x C x n tensor.
 *   Backward, from dout (B rows of C) and the gain of the forward pass:
 *     dgain[c]  = sum_b dout[b,c] F[b,c]       (dgain: C, scratch, overwritten)
 *     dfeat     = dout * gain
 *     da[k]     = sum_c dgain[c] s_kc,                s_kc = sigmoid(R[k,c] P[k])
 *     dp[k]     = a_k sum_c dgain[c] s_kc (1 - s_kc) R[k,c]
 *     dbias     = sum_{b,c} dout[b,c]
 *   dfeat, dp, da and dbias all take beta.
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
 * REFERENCE SELECTION (MODEL.md 4)
 *   err: S per-sample absolute errors; pos: S age positions (index of the true
 *   age in the label list); feat: S rows of C; refs: n rows of C (the output R);
 *   index: n (device scratch; on return, for each label, the sample copied into
 *   its row). For each label k, the sample with pos == k and the smallest err
 *   (NaN errors never win; pos outside [0, n) matches no label). Ties are broken
 *   by a per-sample key, agecl_reference_key(seed, i), the smallest key winning:
 *   the keys of one seed are distinct and pseudo-random, so the choice among
 *   tied samples is uniform over seeds and reproducible for a given seed, on any
 *   device, whatever the work-group size. A label with no sample takes the row
 *   of the nearest label that has one (nearest by position distance, the lower
 *   position on a tie). sample (optional, n host ints) receives the sample
 *   chosen for each label, -1 for a label without one; filled (optional)
 *   receives how many labels were so filled. No sample with a valid position at
 *   all: AGECL_E_DATA (R would be undefined). The argmin runs on the device (one
 *   work-group per label scanning S), so the S x C features never leave it; the
 *   call then reads the n indices back (it waits for the queue), resolves the
 *   empty labels on the host, writes the n sources back and enqueues the gather.
 *
 * BATCH METRICS (MODEL.md 7)
 *   out (4 elements) receives, for one batch:
 *     out[AGECL_METRIC_ABS_ERR_SUM]  sum_b abs_err[b]
 *     out[AGECL_METRIC_WITHIN]       #{b : abs_err[b] <= within}   (CS5: within 5)
 *     out[AGECL_METRIC_CORRECT]      #{b : targets[b] >= 0, pred_class[b] == targets[b]}
 *     out[AGECL_METRIC_COUNTED]      #{b : targets[b] >= 0}
 *   pred_class and targets (B each, e.g. the argmax of agecl_softmax_ce_forward
 *   and the gender labels) may both be NULL: the last two are then 0. Read the
 *   four floats per batch and add them up in double on the host (MAE over a set
 *   = total / samples), or point out at row i of a [batches x 4] tensor and read
 *   it once per epoch. Counts are exact (floats hold integers below 2^24). */
#ifndef AGECL_HEADS_H
#define AGECL_HEADS_H

#include <stdint.h>
#include "agecl/runtime.h"
#include "agecl/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- expected-value age (DEX) ---- */

agecl_status agecl_dex_forward(agecl_ctx *ctx, const agecl_tensor *logits,
                               const agecl_tensor *labels, const agecl_tensor *ages,
                               agecl_tensor *pred, agecl_tensor *abs_err, agecl_tensor *loss);

agecl_status agecl_dex_backward(agecl_ctx *ctx, const agecl_tensor *logits,
                                const agecl_tensor *labels, const agecl_tensor *ages,
                                float scale, float beta, agecl_tensor *dlogits);

/* ---- label distribution (KL to a Gaussian over the labels) ---- */

agecl_status agecl_label_dist_forward(agecl_ctx *ctx, const agecl_tensor *logits,
                                      const agecl_tensor *labels, const agecl_tensor *ages,
                                      float sigma, agecl_tensor *loss);

agecl_status agecl_label_dist_backward(agecl_ctx *ctx, const agecl_tensor *logits,
                                       const agecl_tensor *labels, const agecl_tensor *ages,
                                       float sigma, float scale, float beta,
                                       agecl_tensor *dlogits);

/* ---- softmax cross-entropy ---- */

#define AGECL_IGNORE_CLASS (-1)

agecl_status agecl_softmax_ce_forward(agecl_ctx *ctx, const agecl_tensor *logits,
                                      const agecl_tensor *targets, agecl_tensor *loss,
                                      agecl_tensor *argmax);

agecl_status agecl_softmax_ce_backward(agecl_ctx *ctx, const agecl_tensor *logits,
                                       const agecl_tensor *targets, float scale, float beta,
                                       agecl_tensor *dlogits);

/* ---- relative age position module (RAPL) ---- */

agecl_status agecl_rapl_forward(agecl_ctx *ctx, const agecl_tensor *feat,
                                const agecl_tensor *refs, const agecl_tensor *p,
                                const agecl_tensor *a, const agecl_tensor *bias,
                                agecl_tensor *gain, agecl_tensor *out);

agecl_status agecl_rapl_backward(agecl_ctx *ctx, const agecl_tensor *dout,
                                 const agecl_tensor *feat, const agecl_tensor *refs,
                                 const agecl_tensor *p, const agecl_tensor *a,
                                 const agecl_tensor *gain, agecl_tensor *dgain, float beta,
                                 agecl_tensor *dfeat, agecl_tensor *dp, agecl_tensor *da,
                                 agecl_tensor *dbias);

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

/* ---- reference selection ---- */

/* The tie-breaking key of sample i under seed (the kernel computes the same). */
uint32_t agecl_reference_key(uint32_t seed, uint32_t i);

agecl_status agecl_select_references(agecl_ctx *ctx, const agecl_tensor *err,
                                     const agecl_tensor *pos, const agecl_tensor *feat,
                                     uint32_t seed, agecl_tensor *index, agecl_tensor *refs,
                                     int *sample, int *filled);

#ifdef __cplusplus
}
#endif
#endif
