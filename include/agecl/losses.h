/* agecl/losses.h - the heads' losses: the expected-value age (DEX) with its L1,
 * the label distribution (KL to a Gaussian over the ages), softmax
 * cross-entropy (gender, age positions). The model they serve is described in
 * MODEL.md section 3.
 *
 * SHAPES
 * "B rows of n" means a tensor with t->n == B whose other three dimensions hold
 * n elements (a Linear output [B, n, 1, 1] or [B, 1, 1, n] alike). A vector of
 * n means any tensor of n elements. Class indices, age positions and sample
 * indices travel as floats holding integers (exact below 2^24).
 *
 * ACCUMULATION ("acc", as in every public header)
 * Gradient outputs take `float acc`: out = computed + acc * out. With acc 0 the
 * old value is never read (it may be NaN); acc 1 accumulates, which is how a
 * parameter's gradient sums over the terms of a loss. Forward outputs are
 * overwritten. Every call only enqueues work.
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
 *   Backward: dlogits[b,j] = scale / B * (p_j - q_j), with acc.
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
 *   count = the number of non-ignored samples; ignored rows get 0 (+ acc * old).
 *
 */
#ifndef AGECL_LOSSES_H
#define AGECL_LOSSES_H

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
                                float scale, float acc, agecl_tensor *dlogits);

/* ---- label distribution (KL to a Gaussian over the labels) ---- */

agecl_status agecl_label_dist_forward(agecl_ctx *ctx, const agecl_tensor *logits,
                                      const agecl_tensor *labels, const agecl_tensor *ages,
                                      float sigma, agecl_tensor *loss);

agecl_status agecl_label_dist_backward(agecl_ctx *ctx, const agecl_tensor *logits,
                                       const agecl_tensor *labels, const agecl_tensor *ages,
                                       float sigma, float scale, float acc,
                                       agecl_tensor *dlogits);

/* ---- softmax cross-entropy ---- */

#define AGECL_IGNORE_CLASS (-1)

agecl_status agecl_softmax_ce_forward(agecl_ctx *ctx, const agecl_tensor *logits,
                                      const agecl_tensor *targets, agecl_tensor *loss,
                                      agecl_tensor *argmax);

agecl_status agecl_softmax_ce_backward(agecl_ctx *ctx, const agecl_tensor *logits,
                                       const agecl_tensor *targets, float scale, float acc,
                                       agecl_tensor *dlogits);

#ifdef __cplusplus
}
#endif
#endif
