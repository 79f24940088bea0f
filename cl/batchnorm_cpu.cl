/* BatchNorm2d for CPU devices (PoCL): the kernels, arguments and results of
 * cl/batchnorm.cl, with the work laid out for a CPU rather than a GPU.
 *
 * Each work-item runs in a work-group of its own (as cl/im2col_cpu.cl does) over
 * whole planes x[n, c, :] (HW contiguous floats), vectorised by hand with float16
 * loads and stores: PoCL then runs plain loops over contiguous memory, with no
 * per-element division and no barriers.
 *
 * The reductions take one work-item per channel, which visits the N planes of its
 * channel in order, so that a channel's sums stay in registers (no scratch, no
 * second kernel) and their order is fixed: deterministic. Within a plane, 16
 * lanes each sum every 16th element, the lanes are added pairwise and the tail
 * (HW not a multiple of 16) after; the planes' sums are combined with Kahan
 * summation (or Chan's merge, for the statistics), so that long reductions
 * (64 x 112 x 112) keep their accuracy. */

#include "cpu_sums.clh"

/* Chan et al.'s merge of statistics (count, mean, m2 = sum of squared
 * deviations) b into a. */
inline void chan_merge(float *count, float *mean, float *m2, float nb, float mean_b, float m2_b)
{
    if (nb == 0.0f) return;
    float nt = *count + nb, d = mean_b - *mean;
    *mean += d * (nb / nt);
    *m2 += m2_b + d * d * (*count * (nb / nt));
    *count = nt;
}

/* Statistics per plane in two passes over it (the second from the cache): the
 * mean of p - shift, then the squared deviations from it, so that neither a
 * large mean nor an outlier costs precision. The planes are merged (chan_merge)
 * relative to the channel's first element, ref. Needs N * HW > 1. */
__kernel void batchnorm_stats(__global const float *x, uint x_off, uint N, uint C, uint HW,
                              float momentum, float eps,
                              __global float *save_mean, uint save_mean_off,
                              __global float *save_invstd, uint save_invstd_off,
                              __global float *run_mean, uint run_mean_off,
                              __global float *run_var, uint run_var_off)
{
    const uint c = get_global_id(0);
    if (c >= C) return;
    const float ref = x[x_off + c * HW], hw = (float)HW;
    float count = 0.0f, mean = 0.0f, m2 = 0.0f; /* mean relative to ref */
    for (uint n = 0; n < N; n++) {
        __global const float *p = x + x_off + (n * C + c) * HW;
        const float shift = p[0];
        float16 acc = (float16)(0.0f);
        uint j = 0;
        for (; j + 16 <= HW; j += 16) acc += vload16(0, p + j) - shift;
        float sum = sum16(acc);
        for (uint t = j; t < HW; t++) sum += p[t] - shift;
        const float m = sum / hw; /* the plane's mean, relative to shift */
        float16 sq = (float16)(0.0f);
        for (j = 0; j + 16 <= HW; j += 16) {
            float16 d = (vload16(0, p + j) - shift) - m;
            sq += d * d;
        }
        float m2_plane = sum16(sq);
        for (uint t = j; t < HW; t++) {
            float d = (p[t] - shift) - m;
            m2_plane += d * d;
        }
        chan_merge(&count, &mean, &m2, hw, (shift - ref) + m, m2_plane);
    }
    const float M = (float)N * hw;
    const float var = m2 / M, unbiased = m2 / (M - 1.0f), mu = ref + mean;
    save_mean[save_mean_off + c] = mu;
    save_invstd[save_invstd_off + c] = 1.0f / sqrt(var + eps);
    run_mean[run_mean_off + c] = (1.0f - momentum) * run_mean[run_mean_off + c] + momentum * mu;
    run_var[run_var_off + c] = (1.0f - momentum) * run_var[run_var_off + c] + momentum * unbiased;
}

/* y = (x - mu) * scale + b over one plane. */
inline void apply_plane(__global const float *restrict x, __global float *restrict y, uint HW,
                        float mu, float scale, float b)
{
    uint j = 0;
    for (; j + 16 <= HW; j += 16) vstore16((vload16(0, x + j) - mu) * scale + b, 0, y + j);
    for (; j < HW; j++) y[j] = (x[j] - mu) * scale + b;
}

/* The element-wise kernels: work-item (c, n) takes the plane x[n, c, :]. */

/* y = (x - mean[c]) * invstd[c] * gamma[c] + beta[c]. */
__kernel void batchnorm_train_apply(__global const float *x, uint x_off, uint C, uint HW,
                                    __global const float *mean, uint mean_off,
                                    __global const float *invstd, uint invstd_off,
                                    __global const float *gamma, uint gamma_off,
                                    __global const float *beta, uint beta_off,
                                    __global float *y, uint y_off)
{
    const uint c = get_global_id(0), n = get_global_id(1);
    if (c >= C) return;
    const uint base = (n * C + c) * HW;
    apply_plane(x + x_off + base, y + y_off + base, HW, mean[mean_off + c],
                invstd[invstd_off + c] * gamma[gamma_off + c], beta[beta_off + c]);
}

/* The same with the running statistics: invstd = 1 / sqrt(running_var + eps). */
__kernel void batchnorm_infer_apply(__global const float *x, uint x_off, uint N, uint C, uint HW,
                                    float eps, __global const float *mean, uint mean_off,
                                    __global const float *var, uint var_off,
                                    __global const float *gamma, uint gamma_off,
                                    __global const float *beta, uint beta_off,
                                    __global float *y, uint y_off)
{
    const uint c = get_global_id(0), n = get_global_id(1);
    if (c >= C || n >= N) return;
    const uint base = (n * C + c) * HW;
    apply_plane(x + x_off + base, y + y_off + base, HW, mean[mean_off + c],
                gamma[gamma_off + c] / sqrt(var[var_off + c] + eps), beta[beta_off + c]);
}

/* Training-mode backward, one work-item per channel: the sums of dy and
 * dy * (x - mean) over the channel's planes, then dx plane by plane. */
__kernel void batchnorm_backward(__global const float *x, uint x_off,
                                 __global const float *dy, uint dy_off, uint N, uint C, uint HW,
                                 __global const float *gamma, uint gamma_off,
                                 __global const float *mean, uint mean_off,
                                 __global const float *invstd, uint invstd_off,
                                 float dx_acc, __global float *dx, uint dx_off,
                                 float dparam_acc, __global float *dgamma, uint dgamma_off,
                                 __global float *dbeta, uint dbeta_off)
{
    const uint c = get_global_id(0);
    if (c >= C) return;
    const float mu = mean[mean_off + c], is = invstd[invstd_off + c];
    float s_dy = 0.0f, c_dy = 0.0f, s_dyxmu = 0.0f, c_dyxmu = 0.0f;
    for (uint n = 0; n < N; n++) {
        const uint base = (n * C + c) * HW;
        __global const float *xp = x + x_off + base, *gp = dy + dy_off + base;
        float16 a_dy = (float16)(0.0f), a_dyxmu = (float16)(0.0f);
        uint j = 0;
        for (; j + 16 <= HW; j += 16) {
            float16 g = vload16(0, gp + j);
            a_dy += g;
            a_dyxmu += g * (vload16(0, xp + j) - mu);
        }
        float p_dy = sum16(a_dy), p_dyxmu = sum16(a_dyxmu);
        for (; j < HW; j++) {
            p_dy += gp[j];
            p_dyxmu += gp[j] * (xp[j] - mu);
        }
        KAHAN_ADD(s_dy, c_dy, p_dy);
        KAHAN_ADD(s_dyxmu, c_dyxmu, p_dyxmu);
    }
    const float sum_dy = s_dy, sum_dy_xhat = s_dyxmu * is;
    const uint gi = dgamma_off + c, bi = dbeta_off + c;
    dgamma[gi] = dparam_acc == 0.0f ? sum_dy_xhat : sum_dy_xhat + dparam_acc * dgamma[gi];
    dbeta[bi] = dparam_acc == 0.0f ? sum_dy : sum_dy + dparam_acc * dbeta[bi];

    const float M = (float)N * (float)HW;
    const float k = gamma[gamma_off + c] * is, mean_dy = sum_dy / M, mean_dy_xhat = sum_dy_xhat / M;
    for (uint n = 0; n < N; n++) {
        const uint base = (n * C + c) * HW;
        __global const float *xp = x + x_off + base, *gp = dy + dy_off + base;
        __global float *dp = dx + dx_off + base;
        uint j = 0;
        if (dx_acc == 0.0f) {
            for (; j + 16 <= HW; j += 16) {
                float16 xhat = (vload16(0, xp + j) - mu) * is;
                vstore16(k * (vload16(0, gp + j) - mean_dy - xhat * mean_dy_xhat), 0, dp + j);
            }
            for (; j < HW; j++) dp[j] = k * (gp[j] - mean_dy - (xp[j] - mu) * is * mean_dy_xhat);
        } else {
            for (; j + 16 <= HW; j += 16) {
                float16 xhat = (vload16(0, xp + j) - mu) * is;
                float16 v = k * (vload16(0, gp + j) - mean_dy - xhat * mean_dy_xhat);
                vstore16(v + dx_acc * vload16(0, dp + j), 0, dp + j);
            }
            for (; j < HW; j++)
                dp[j] = k * (gp[j] - mean_dy - (xp[j] - mu) * is * mean_dy_xhat) + dx_acc * dp[j];
        }
    }
}
