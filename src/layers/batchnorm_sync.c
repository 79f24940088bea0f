/* BatchNorm over every rank's batch: the host halves (see batchnorm_sync.h). */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "error.h"
#include "layers/batchnorm_sync.h"

agecl_status agecl__bn_sync_create(agecl_ctx *ctx, const agecl_comm *comm, int cmax,
                                   agecl__bn_sync *s)
{
    memset(s, 0, sizeof *s);
    s->comm = comm;
    s->cmax = cmax;
    AGECL_TRY(agecl_tensor_alloc(ctx, &s->coef, 1, 2 * cmax, 1, 1));
    s->sums = malloc((2 * (size_t)cmax + 1) * sizeof *s->sums);
    s->host = malloc(9 * (size_t)cmax * sizeof *s->host);
    if (s->sums && s->host) return AGECL_OK;
    agecl__bn_sync_free(s);
    return agecl__fail(AGECL_E_OUT_OF_MEMORY, "sync-BN scratch for %d channels", cmax);
}

void agecl__bn_sync_free(agecl__bn_sync *s)
{
    agecl_tensor_free(&s->coef);
    free(s->sums);
    free(s->host);
    memset(s, 0, sizeof *s);
}

static agecl_status fits(const agecl__bn_sync *s, int C)
{
    return C <= s->cmax ? AGECL_OK
                        : agecl__fail(AGECL_E_SHAPE, "sync-BN: a layer of %d channels, room for %d",
                                      C, s->cmax);
}

agecl_status agecl__bn_sync_stats(agecl__bn_sync *s, agecl_ctx *ctx, int C, double M,
                                  float momentum, float eps, agecl_tensor *save_mean,
                                  agecl_tensor *save_invstd, agecl_tensor *running_mean,
                                  agecl_tensor *running_var)
{
    AGECL_TRY(fits(s, C));
    float *mean = s->host, *invstd = mean + C, *rm = invstd + C, *rv = rm + C;
    double *sum = s->sums, *sumsq = sum + C;
    AGECL_TRY(agecl_tensor_read(ctx, save_mean, mean));
    AGECL_TRY(agecl_tensor_read(ctx, save_invstd, invstd));
    for (int c = 0; c < C; c++) {
        double var = 1.0 / ((double)invstd[c] * invstd[c]) - eps; /* the kernel's biased var */
        sum[c] = M * mean[c];
        sumsq[c] = M * (var + (double)mean[c] * mean[c]);
    }
    sum[2 * C] = M;
    AGECL_TRY(s->comm->allreduce_f64(s->comm, sum, 2 * (size_t)C + 1));
    double Mg = sum[2 * C];
    AGECL_TRY(agecl_tensor_read(ctx, running_mean, rm));
    AGECL_TRY(agecl_tensor_read(ctx, running_var, rv));
    for (int c = 0; c < C; c++) {
        double mu = sum[c] / Mg, var = fmax(sumsq[c] / Mg - mu * mu, 0.0);
        mean[c] = (float)mu;
        invstd[c] = (float)(1.0 / sqrt(var + eps));
        rm[c] = (float)((1.0 - momentum) * rm[c] + momentum * mu);
        rv[c] = (float)((1.0 - momentum) * rv[c] + momentum * var * Mg / (Mg - 1.0));
    }
    AGECL_TRY(agecl_tensor_write(ctx, save_mean, mean));
    AGECL_TRY(agecl_tensor_write(ctx, save_invstd, invstd));
    AGECL_TRY(agecl_tensor_write(ctx, running_mean, rm));
    return agecl_tensor_write(ctx, running_var, rv);
}

agecl_status agecl__bn_sync_keep(agecl__bn_sync *s, agecl_ctx *ctx, int C,
                                 const agecl_tensor *dgamma, const agecl_tensor *dbeta)
{
    AGECL_TRY(fits(s, C));
    AGECL_TRY(agecl_tensor_read(ctx, dbeta, s->host + 7 * (size_t)s->cmax));
    return agecl_tensor_read(ctx, dgamma, s->host + 8 * (size_t)s->cmax);
}

agecl_status agecl__bn_sync_correction(agecl__bn_sync *s, agecl_ctx *ctx, int C, double M,
                                       const agecl_tensor *gamma, const agecl_tensor *save_mean,
                                       const agecl_tensor *save_invstd, float dparam_acc,
                                       const agecl_tensor *dgamma, const agecl_tensor *dbeta)
{
    AGECL_TRY(fits(s, C));
    float *g = s->host, *mean = g + C, *invstd = mean + C, *s1 = invstd + C, *s2 = s1 + C;
    const float *s1_before = s->host + 7 * (size_t)s->cmax, *s2_before = s1_before + s->cmax;
    AGECL_TRY(agecl_tensor_read(ctx, gamma, g));
    AGECL_TRY(agecl_tensor_read(ctx, save_mean, mean));
    AGECL_TRY(agecl_tensor_read(ctx, save_invstd, invstd));
    AGECL_TRY(agecl_tensor_read(ctx, dbeta, s1));
    AGECL_TRY(agecl_tensor_read(ctx, dgamma, s2));
    double *sum = s->sums;
    for (int c = 0; c < C; c++) {
        sum[c] = (double)s1[c] - (double)dparam_acc * s1_before[c];
        sum[C + c] = (double)s2[c] - (double)dparam_acc * s2_before[c];
    }
    sum[2 * C] = M;
    /* the rank's own sums, kept before they become everyone's */
    for (int c = 0; c < C; c++) s1[c] = (float)sum[c], s2[c] = (float)sum[C + c];
    AGECL_TRY(s->comm->allreduce_f64(s->comm, sum, 2 * (size_t)C + 1));
    double Mg = sum[2 * C];
    float *coef = s2 + C; /* a then b: 2C floats, past the sums read above */
    for (int c = 0; c < C; c++) {
        double k = (double)g[c] * invstd[c];
        double a = k * (s1[c] / M - sum[c] / Mg), b = k * (s2[c] / M - sum[C + c] / Mg);
        /* a + b xhat = (a - b mean invstd) + (b invstd) x */
        coef[c] = (float)(a - b * mean[c] * invstd[c]);
        coef[C + c] = (float)(b * invstd[c]);
    }
    agecl_tensor v;
    AGECL_TRY(agecl_tensor_view(&s->coef, 0, 1, 2 * C, 1, 1, &v));
    return agecl_tensor_write(ctx, &v, coef);
}
