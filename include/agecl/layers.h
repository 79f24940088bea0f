/* agecl/layers.h - the IR50 layers other than convolution: batch normalisation,
 * PReLU (and the two fused, BN then PReLU), the residual add, the strided
 * subsample of the 1x1 max-pool shortcut, global average pooling and the fully
 * connected layer; the relative age position module (RAPL) and the selection
 * of its references; forward and backward.
 *
 * TENSORS
 * All tensors are packed NCHW float32 (agecl/tensor.h), any batch size. A
 * per-channel parameter or statistic (BN gamma, beta, running and saved
 * statistics, PReLU slopes, their gradients) is any tensor with exactly C
 * elements; (1, C, 1, 1) is the recommended shape. Outputs must not overlap
 * inputs unless said otherwise.
 *
 * ACCUMULATION ("acc")
 * Every backward output takes an accumulation factor, `acc` (as in every public
 * header; not "beta", which is BN's shift):
 *     out = computed + acc * out
 * acc = 0 overwrites and never reads the old contents (they may be garbage or
 * NaN); acc = 1 adds to them, which is how parameter gradients accumulate and
 * how a tensor used twice (the input of a residual unit) sums its gradients.
 * Where an op has both an input gradient and parameter gradients, they take
 * separate factors (dx_acc, dparam_acc), since a step may accumulate one and
 * overwrite the other. Forward outputs are always overwritten.
 *
 * Reductions (BN statistics, parameter gradients, pooling) run in a fixed
 * order, without atomics, so results are deterministic (bit for bit on one
 * device and work-group size). The per-channel ones (BN, the PReLU backward,
 * the fused BN + PReLU backward) run one work-group per channel: short sums
 * over the batch per spatial position, folded into Kahan-compensated totals
 * (the BN statistics: shifted sums merged by Chan's formula, exact for a large
 * mean), then a pairwise tree across the work-group. Pooling and the bias
 * gradient use Kahan sums.
 *
 * On CPU devices BN, the fused BN + PReLU and the PReLU backward run other
 * kernels (cl/batchnorm_cpu.cl, which holds the fused pair too, cl/prelu_cpu.cl),
 * with the same results up to rounding: one work-item per channel visits its N
 * planes in order, summing each plane with 16 vector lanes (the BN statistics:
 * a plane's mean, then its squared deviations, merged by Chan's formula), the
 * planes' sums Kahan-compensated; the element-wise parts run one work-item per
 * plane. The context's kernel family (agecl/options.h: AGECL_KERNELS=cpu|gpu),
 * read when a plan is made (below; at each call of the one-shot functions),
 * forces either set on any device. */
#ifndef AGECL_LAYERS_H
#define AGECL_LAYERS_H

#include <stdint.h>
#include "agecl/runtime.h"
#include "agecl/status.h"
#include "agecl/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- BatchNorm2d (affine), statistics per channel over N, H, W ----
 *
 * Training mode: with M = N*H*W, mean and biased variance var of each channel,
 *     y = (x - mean) / sqrt(var + eps) * gamma + beta
 *     running_mean = (1 - momentum) running_mean + momentum mean
 *     running_var  = (1 - momentum) running_var  + momentum var * M / (M - 1)
 * (PyTorch's BatchNorm2d: momentum 0.1, eps 1e-5), and keeps for the backward
 *     save_mean = mean, save_invstd = 1 / sqrt(var + eps).
 * M == 1 has no unbiased variance: AGECL_E_SHAPE, as PyTorch refuses it.
 * y has x's shape; every other tensor has C elements. */
agecl_status agecl_batchnorm_forward_train(agecl_ctx *ctx, const agecl_tensor *x,
                                           const agecl_tensor *gamma, const agecl_tensor *beta,
                                           agecl_tensor *running_mean, agecl_tensor *running_var,
                                           float momentum, float eps, agecl_tensor *y,
                                           agecl_tensor *save_mean, agecl_tensor *save_invstd);

/* Inference mode: y = (x - running_mean) / sqrt(running_var + eps) * gamma + beta. */
agecl_status agecl_batchnorm_forward_infer(agecl_ctx *ctx, const agecl_tensor *x,
                                           const agecl_tensor *gamma, const agecl_tensor *beta,
                                           const agecl_tensor *running_mean,
                                           const agecl_tensor *running_var, float eps,
                                           agecl_tensor *y);

/* Training-mode backward, from the x and the saved statistics of the forward:
 *     xhat = (x - save_mean) * save_invstd
 *     dgamma = sum(dy * xhat) + dparam_acc * dgamma,  dbeta = sum(dy) + dparam_acc * dbeta
 *     dx = gamma * save_invstd / M * (M dy - sum(dy) - xhat sum(dy * xhat)) + dx_acc * dx
 * (sums per channel over N, H, W). dy and dx have x's shape. */
agecl_status agecl_batchnorm_backward(agecl_ctx *ctx, const agecl_tensor *x,
                                      const agecl_tensor *dy, const agecl_tensor *gamma,
                                      const agecl_tensor *save_mean,
                                      const agecl_tensor *save_invstd, float dx_acc,
                                      agecl_tensor *dx, float dparam_acc, agecl_tensor *dgamma,
                                      agecl_tensor *dbeta);

/* ---- PReLU, one slope per channel ----
 * y = x > 0 ? x : slope[c] * x. Backward, as PyTorch (at x == 0 the slope side):
 *     dx = (x > 0 ? dy : slope[c] * dy) + dx_acc * dx
 *     dslope[c] = sum over n, h, w of (x > 0 ? 0 : x * dy) + dslope_acc * dslope[c]
 * y, dy, dx have x's shape; slope and dslope have C elements. y may be x. */
agecl_status agecl_prelu_forward(agecl_ctx *ctx, const agecl_tensor *x, const agecl_tensor *slope,
                                 agecl_tensor *y);
agecl_status agecl_prelu_backward(agecl_ctx *ctx, const agecl_tensor *x, const agecl_tensor *dy,
                                  const agecl_tensor *slope, float dx_acc, agecl_tensor *dx,
                                  float dslope_acc, agecl_tensor *dslope);

/* ---- BatchNorm2d followed by PReLU, fused ----
 * The composition prelu(batchnorm(x)) with one slope per channel, in fewer
 * passes over memory: the BN output
 *     z = (x - mean) * save_invstd * gamma + beta
 * is never stored (the backward recomputes it from x and the saved statistics),
 * and the PReLU's input gradient never leaves the backward kernel.
 *
 * Training mode: the statistics, running statistics, save_mean and save_invstd
 * exactly as agecl_batchnorm_forward_train, then
 *     y = z > 0 ? z : slope[c] * z.
 * M == 1 (one value per channel): AGECL_E_SHAPE. y has x's shape (it must not
 * be x: the backward reads x); every other tensor has C elements. */
agecl_status agecl_batchnorm_prelu_forward_train(agecl_ctx *ctx, const agecl_tensor *x,
                                                 const agecl_tensor *gamma,
                                                 const agecl_tensor *beta,
                                                 const agecl_tensor *slope,
                                                 agecl_tensor *running_mean,
                                                 agecl_tensor *running_var, float momentum,
                                                 float eps, agecl_tensor *y,
                                                 agecl_tensor *save_mean,
                                                 agecl_tensor *save_invstd);

/* Inference mode: z with the running statistics (as agecl_batchnorm_forward_infer),
 * y = z > 0 ? z : slope[c] * z. */
agecl_status agecl_batchnorm_prelu_forward_infer(agecl_ctx *ctx, const agecl_tensor *x,
                                                 const agecl_tensor *gamma,
                                                 const agecl_tensor *beta,
                                                 const agecl_tensor *slope,
                                                 const agecl_tensor *running_mean,
                                                 const agecl_tensor *running_var, float eps,
                                                 agecl_tensor *y);

/* Training-mode backward, from the x and the saved statistics of the forward
 * (z recomputed as above, xhat = (x - save_mean) * save_invstd):
 *     dz = z > 0 ? dy : slope[c] * dy                      (PReLU, slope side at 0)
 *     dslope = sum(z > 0 ? 0 : z * dy) + dparam_acc * dslope
 *     dgamma = sum(dz * xhat) + dparam_acc * dgamma,  dbeta = sum(dz) + dparam_acc * dbeta
 *     dx = gamma * save_invstd / M * (M dz - sum(dz) - xhat sum(dz * xhat)) + dx_acc * dx
 * (sums per channel over N, H, W): the results of agecl_prelu_backward on z
 * followed by agecl_batchnorm_backward, up to rounding. dy and dx have x's shape. */
agecl_status agecl_batchnorm_prelu_backward(agecl_ctx *ctx, const agecl_tensor *x,
                                            const agecl_tensor *dy, const agecl_tensor *gamma,
                                            const agecl_tensor *beta, const agecl_tensor *slope,
                                            const agecl_tensor *save_mean,
                                            const agecl_tensor *save_invstd, float dx_acc,
                                            agecl_tensor *dx, float dparam_acc,
                                            agecl_tensor *dgamma, agecl_tensor *dbeta,
                                            agecl_tensor *dslope);

/* ---- Residual add ----
 * y = a + b, all of one shape; y may be a or b. Its backward passes dy to both
 * inputs unchanged, so a caller may simply reuse dy; agecl_add_backward
 * materialises it where the gradients must land in (or add to) other tensors:
 *     da = dy + da_acc * da,  db = dy + db_acc * db   (da and db distinct). */
agecl_status agecl_add_forward(agecl_ctx *ctx, const agecl_tensor *a, const agecl_tensor *b,
                               agecl_tensor *y);
agecl_status agecl_add_backward(agecl_ctx *ctx, const agecl_tensor *dy, float da_acc,
                                agecl_tensor *da, float db_acc, agecl_tensor *db);

/* ---- Strided subsample (max-pool of kernel 1, stride s; PyTorch x[:, :, ::s, ::s]) ----
 * y[n,c,i,j] = x[n,c,i*s,j*s]; y is N x C x ceil(H/s) x ceil(W/s); s >= 1.
 * Backward: dx = (dy at the positions (i*s, j*s), 0 elsewhere) + acc * dx. */
agecl_status agecl_subsample_forward(agecl_ctx *ctx, const agecl_tensor *x, int stride,
                                     agecl_tensor *y);
agecl_status agecl_subsample_backward(agecl_ctx *ctx, const agecl_tensor *dy, int stride,
                                      float acc, agecl_tensor *dx);

/* ---- Global average pooling ----
 * y[n,c] = mean over h, w of x[n,c,h,w]; y is N x C x 1 x 1.
 * Backward: dx[n,c,h,w] = dy[n,c] / (H*W) + acc * dx. */
agecl_status agecl_avgpool_forward(agecl_ctx *ctx, const agecl_tensor *x, agecl_tensor *y);
agecl_status agecl_avgpool_backward(agecl_ctx *ctx, const agecl_tensor *dy, float acc,
                                    agecl_tensor *dx);

/* ---- Plans: a layer made once for a shape, run many times ----
 * Each function above makes what it needs at every call. A plan does that once,
 * as a convolution plan does (agecl/conv.h): made for one op, one input shape
 * and the context's device, it looks its kernels up (building their programs
 * on first use) and chooses their work-group sizes from the device's limits
 * and the kernel family (AGECL_KERNELS, read when the plan is made). A run
 * checks the tensors (the input against the plan's shape: AGECL_E_SHAPE
 * naming both), sets the kernels' arguments and enqueues. The functions above
 * are each a plan made in place, run once and dropped, so both forms give the
 * same results. The model holds a plan per layer.
 *
 *   agecl_layer_desc d = {AGECL_LAYER_BATCHNORM_PRELU, 64, 64, 56, 56, 0};
 *   agecl_layer_plan *p;
 *   agecl_layer_plan_create(ctx, &d, &p);
 *   for (...) agecl_layer_batchnorm_train(p, x, gamma, beta, slope, ...);
 *   agecl_layer_plan_destroy(p);
 *
 * A plan belongs to its context and must not outlive it. Runs on one context
 * are not thread-safe (they set the context's kernels' arguments). */
typedef enum agecl_layer_op {
    AGECL_LAYER_BATCHNORM,       /* agecl_layer_batchnorm_*, slope NULL */
    AGECL_LAYER_BATCHNORM_PRELU, /* agecl_layer_batchnorm_*, with the fused PReLU's slope */
    AGECL_LAYER_PRELU,           /* agecl_layer_prelu_* */
    AGECL_LAYER_ADD,             /* agecl_layer_add_* */
    AGECL_LAYER_SUBSAMPLE,       /* agecl_layer_subsample_*, by desc.stride */
    AGECL_LAYER_AVGPOOL          /* agecl_layer_avgpool_* */
} agecl_layer_op;

typedef struct agecl_layer_desc {
    agecl_layer_op op;
    int n, c, h, w; /* the input's shape: x (a for the add, dy for its backward);
                       the subsample's and pooling's backwards: dx */
    int stride;     /* AGECL_LAYER_SUBSAMPLE: >= 1; ignored otherwise */
} agecl_layer_desc;

typedef struct agecl_layer_plan agecl_layer_plan;

/* AGECL_E_SHAPE for a size below 1, AGECL_E_UNSUPPORTED past 2^32 - 1
 * elements, AGECL_E_INVALID_ARG for an unknown op or a stride below 1; errors
 * of the kernels' programs as agecl_program_build gives them. */
agecl_status agecl_layer_plan_create(agecl_ctx *ctx, const agecl_layer_desc *d,
                                     agecl_layer_plan **out);
void agecl_layer_plan_destroy(agecl_layer_plan *p);

/* Running a plan: the arguments and results of the functions above, the plan
 * in place of the context and the stride. BatchNorm's take the slope, NULL for
 * an AGECL_LAYER_BATCHNORM plan (beta is then unused by the backward) and
 * required for AGECL_LAYER_BATCHNORM_PRELU; the backward's dslope likewise. A
 * plan of another op, or a slope that does not match it: AGECL_E_INVALID_ARG. */
agecl_status agecl_layer_batchnorm_train(const agecl_layer_plan *p, const agecl_tensor *x,
                                         const agecl_tensor *gamma, const agecl_tensor *beta,
                                         const agecl_tensor *slope, agecl_tensor *running_mean,
                                         agecl_tensor *running_var, float momentum, float eps,
                                         agecl_tensor *y, agecl_tensor *save_mean,
                                         agecl_tensor *save_invstd);
agecl_status agecl_layer_batchnorm_infer(const agecl_layer_plan *p, const agecl_tensor *x,
                                         const agecl_tensor *gamma, const agecl_tensor *beta,
                                         const agecl_tensor *slope,
                                         const agecl_tensor *running_mean,
                                         const agecl_tensor *running_var, float eps,
                                         agecl_tensor *y);
agecl_status agecl_layer_batchnorm_backward(const agecl_layer_plan *p, const agecl_tensor *x,
                                            const agecl_tensor *dy, const agecl_tensor *gamma,
                                            const agecl_tensor *beta, const agecl_tensor *slope,
                                            const agecl_tensor *save_mean,
                                            const agecl_tensor *save_invstd, float dx_acc,
                                            agecl_tensor *dx, float dparam_acc,
                                            agecl_tensor *dgamma, agecl_tensor *dbeta,
                                            agecl_tensor *dslope);
agecl_status agecl_layer_prelu_forward(const agecl_layer_plan *p, const agecl_tensor *x,
                                       const agecl_tensor *slope, agecl_tensor *y);
agecl_status agecl_layer_prelu_backward(const agecl_layer_plan *p, const agecl_tensor *x,
                                        const agecl_tensor *dy, const agecl_tensor *slope,
                                        float dx_acc, agecl_tensor *dx, float dslope_acc,
                                        agecl_tensor *dslope);
agecl_status agecl_layer_add_forward(const agecl_layer_plan *p, const agecl_tensor *a,
                                     const agecl_tensor *b, agecl_tensor *y);
agecl_status agecl_layer_add_backward(const agecl_layer_plan *p, const agecl_tensor *dy,
                                      float da_acc, agecl_tensor *da, float db_acc,
                                      agecl_tensor *db);
agecl_status agecl_layer_subsample_forward(const agecl_layer_plan *p, const agecl_tensor *x,
                                           agecl_tensor *y);
agecl_status agecl_layer_subsample_backward(const agecl_layer_plan *p, const agecl_tensor *dy,
                                            float acc, agecl_tensor *dx);
agecl_status agecl_layer_avgpool_forward(const agecl_layer_plan *p, const agecl_tensor *x,
                                         agecl_tensor *y);
agecl_status agecl_layer_avgpool_backward(const agecl_layer_plan *p, const agecl_tensor *dy,
                                          float acc, agecl_tensor *dx);

/* ---- Linear (fully connected, with bias), PyTorch's nn.Linear ----
 * x is read as a [N, in] matrix (in = C*H*W of x, so a N x C x H x W map is
 * flattened as PyTorch's flatten(1) does), y as [N, out] (out = C*H*W of y;
 * N x out x 1 x 1 recommended). weight holds [out, in] row-major (PyTorch's
 * layout; shape (out, in, 1, 1) recommended, any shape of out*in elements
 * accepted), bias holds out elements.
 *     y[b,o] = sum_i x[b,i] weight[o,i] + bias[o]
 * Backward:
 *     dx = dy weight + dx_acc * dx                  ([N, in])
 *     dweight = dy^T x + dparam_acc * dweight       ([out, in])
 *     dbias[o] = sum_b dy[b,o] + dparam_acc * dbias[o]
 * The products run on CLBlast (through the context's temporary buffer). */
agecl_status agecl_linear_forward(agecl_ctx *ctx, const agecl_tensor *x,
                                  const agecl_tensor *weight, const agecl_tensor *bias,
                                  agecl_tensor *y);
agecl_status agecl_linear_backward(agecl_ctx *ctx, const agecl_tensor *x, const agecl_tensor *dy,
                                   const agecl_tensor *weight, float dx_acc, agecl_tensor *dx,
                                   float dparam_acc, agecl_tensor *dweight, agecl_tensor *dbias);

/* ---- Relative age position module (RAPL, MODEL.md 3.3), cheap form ----
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
 *   dfeat, dp, da and dbias all take acc (out = computed + acc * out).
 *
 * "B rows of n": a tensor with t->n == B whose other three dimensions hold n
 * elements; a vector of n: any tensor of n elements. */
agecl_status agecl_rapl_forward(agecl_ctx *ctx, const agecl_tensor *feat,
                                const agecl_tensor *refs, const agecl_tensor *p,
                                const agecl_tensor *a, const agecl_tensor *bias,
                                agecl_tensor *gain, agecl_tensor *out);

agecl_status agecl_rapl_backward(agecl_ctx *ctx, const agecl_tensor *dout,
                                 const agecl_tensor *feat, const agecl_tensor *refs,
                                 const agecl_tensor *p, const agecl_tensor *a,
                                 const agecl_tensor *gain, agecl_tensor *dgain, float acc,
                                 agecl_tensor *dfeat, agecl_tensor *dp, agecl_tensor *da,
                                 agecl_tensor *dbias);

/* ---- Reference selection, the references R of RAPL (MODEL.md 4) ----
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
 *   Unlike the other operations here, it waits for the queue. */

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
