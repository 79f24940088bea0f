/* src/layers/batchnorm_sync.h - BatchNorm with the statistics of every rank's
 * batch (sync-BN), for data-parallel training (agecl/comm.h).
 *
 * Forward: each rank's statistics kernel runs with momentum 0 (running
 * statistics untouched), the per-channel sums M * mean and M * E[x^2] are
 * summed over the ranks on the host, and the global mean and 1/std replace
 * the rank's in save_mean/save_invstd before the normalisation; the running
 * statistics are updated on the host with the global ones (the unbiased
 * variance of all M values), as one batch of every rank's samples would.
 *
 * Backward: the rank's backward kernel runs as is, with its own sums
 * S1 = sum(dz), S2 = sum(dz * xhat) (which it adds into dbeta and dgamma), so
 * that dx = k (dz - S1/M - xhat S2/M), k = gamma * invstd. The global dx has
 * the sums and counts of every rank instead, and differs from it by
 *     k (S1/M - S1g/Mg) + k xhat (S2/M - S2g/Mg),
 * an affine function of x per channel, which a second kernel adds
 * (channel_affine_add, cl/elementwise.cl). The parameter gradients stay the
 * rank's own: the gradient all-reduce sums them with the others.
 *
 * Each layer costs one small all-reduce forward and one backward, and reads of
 * a few C-float vectors: this is the price of sync-BN, as in PyTorch's
 * SyncBatchNorm. */
#ifndef AGECL_LAYERS_BATCHNORM_SYNC_H
#define AGECL_LAYERS_BATCHNORM_SYNC_H

#include "agecl/comm.h"
#include "agecl/layers.h"

typedef struct agecl__bn_sync {
    const agecl_comm *comm;
    int cmax;          /* the most channels of a layer it serves */
    agecl_tensor coef; /* 2 x cmax on the device: the correction's a, b */
    double *sums;      /* 2 x cmax + 1 */
    float *host;       /* 9 x cmax: 7 of scratch, then dbeta, dgamma kept */
} agecl__bn_sync;

agecl_status agecl__bn_sync_create(agecl_ctx *ctx, const agecl_comm *comm, int cmax,
                                   agecl__bn_sync *s);
void agecl__bn_sync_free(agecl__bn_sync *s);

/* As agecl_layer_batchnorm_train and _backward, over every rank's batch; s
 * NULL (or a comm of one rank): exactly those. */
agecl_status agecl__batchnorm_train_sync(const agecl_layer_plan *p, const agecl_tensor *x,
                                         const agecl_tensor *gamma, const agecl_tensor *beta,
                                         const agecl_tensor *slope, agecl_tensor *running_mean,
                                         agecl_tensor *running_var, float momentum, float eps,
                                         agecl_tensor *y, agecl_tensor *save_mean,
                                         agecl_tensor *save_invstd, agecl__bn_sync *s);
agecl_status agecl__batchnorm_backward_sync(const agecl_layer_plan *p, const agecl_tensor *x,
                                            const agecl_tensor *dy, const agecl_tensor *gamma,
                                            const agecl_tensor *beta, const agecl_tensor *slope,
                                            const agecl_tensor *save_mean,
                                            const agecl_tensor *save_invstd, float dx_acc,
                                            agecl_tensor *dx, float dparam_acc,
                                            agecl_tensor *dgamma, agecl_tensor *dbeta,
                                            agecl_tensor *dslope, agecl__bn_sync *s);

/* The host halves (batchnorm_sync.c), called by the two above around the kernels. */
agecl_status agecl__bn_sync_stats(agecl__bn_sync *s, agecl_ctx *ctx, int C, double M,
                                  float momentum, float eps, agecl_tensor *save_mean,
                                  agecl_tensor *save_invstd, agecl_tensor *running_mean,
                                  agecl_tensor *running_var);
/* Before the backward kernel: keep dgamma and dbeta, whose change gives the
 * rank's sums. */
agecl_status agecl__bn_sync_keep(agecl__bn_sync *s, agecl_ctx *ctx, int C,
                                 const agecl_tensor *dgamma, const agecl_tensor *dbeta);
/* After it (which made dgamma = dparam_acc x kept + the rank's sum, dbeta
 * likewise): the correction's coefficients (folded to dx += a + b x) into s->coef. */
agecl_status agecl__bn_sync_correction(agecl__bn_sync *s, agecl_ctx *ctx, int C, double M,
                                       const agecl_tensor *gamma, const agecl_tensor *save_mean,
                                       const agecl_tensor *save_invstd, float dparam_acc,
                                       const agecl_tensor *dgamma, const agecl_tensor *dbeta);

#endif
