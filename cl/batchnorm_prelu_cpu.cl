/* BatchNorm2d followed by PReLU, fused, for CPU devices (PoCL): the kernels,
 * arguments and results of cl/batchnorm_prelu.cl, laid out as
 * cl/batchnorm_cpu.cl lays out BatchNorm: each work-item in a work-group of its
 * own, over whole planes x[n, c, :] (HW contiguous floats), vectorised by hand
 * with float16 loads and stores. With the channel's mean, invstd, gamma, beta
 * and slope a,
 *     z = (x - mean) * (invstd * gamma) + beta,   y = z > 0 ? z : a * z.
 * z is never stored: the backward recomputes it from x with the same
 * expression (BN_Z, contraction off, the same operations in a vector lane as in
 * the scalar tail), so it sees the sign the forward saw.
 *
 * The backward takes one work-item per channel, which visits the N planes of
 * its channel in order: within a plane 16 lanes each sum every 16th element,
 * the lanes are added pairwise and the tail (HW not a multiple of 16) after;
 * the planes' sums are combined with Kahan summation. The order is fixed:
 * deterministic. */

#pragma OPENCL FP_CONTRACT OFF

#include "cpu_sums.clh"

#define BN_Z(x, mu, scale, b) (((x) - (mu)) * (scale) + (b))

/* y = prelu(BN_Z(x)) over one plane. */
inline void apply_plane(__global const float *restrict x, __global float *restrict y, uint HW,
                        float mu, float scale, float b, float a)
{
    uint j = 0;
    for (; j + 16 <= HW; j += 16) {
        float16 z = BN_Z(vload16(0, x + j), mu, scale, b);
        vstore16(select(a * z, z, z > 0.0f), 0, y + j);
    }
    for (; j < HW; j++) {
        float z = BN_Z(x[j], mu, scale, b);
        y[j] = z > 0.0f ? z : a * z;
    }
}

/* The forward kernels: work-item (c, n) takes the plane x[n, c, :]. */

/* Training mode, with the batch statistics saved by batchnorm_stats. */
__kernel void batchnorm_prelu_train_apply(__global const float *x, uint x_off, uint C, uint HW,
                                          __global const float *mean, uint mean_off,
                                          __global const float *invstd, uint invstd_off,
                                          __global const float *gamma, uint gamma_off,
                                          __global const float *beta, uint beta_off,
                                          __global const float *slope, uint slope_off,
                                          __global float *y, uint y_off)
{
    const uint c = get_global_id(0), n = get_global_id(1);
    if (c >= C) return;
    const uint base = (n * C + c) * HW;
    apply_plane(x + x_off + base, y + y_off + base, HW, mean[mean_off + c],
                invstd[invstd_off + c] * gamma[gamma_off + c], beta[beta_off + c],
                slope[slope_off + c]);
}

/* Inference: invstd = 1 / sqrt(running_var + eps). */
__kernel void batchnorm_prelu_infer_apply(__global const float *x, uint x_off, uint N, uint C,
                                          uint HW, float eps,
                                          __global const float *mean, uint mean_off,
                                          __global const float *var, uint var_off,
                                          __global const float *gamma, uint gamma_off,
                                          __global const float *beta, uint beta_off,
                                          __global const float *slope, uint slope_off,
                                          __global float *y, uint y_off)
{
    const uint c = get_global_id(0), n = get_global_id(1);
    if (c >= C || n >= N) return;
    const uint base = (n * C + c) * HW;
    apply_plane(x + x_off + base, y + y_off + base, HW, mean[mean_off + c],
                gamma[gamma_off + c] / sqrt(var[var_off + c] + eps), beta[beta_off + c],
                slope[slope_off + c]);
}

/* Training-mode backward, one work-item per channel. With z recomputed and
 * dz = z > 0 ? dy : a * dy, the sums of dz, dz * (x - mean) and
 * (z > 0 ? 0 : z * dy) (the slope's gradient) over the channel's planes, then
 * dx = gamma * invstd * (dz - mean(dz) - xhat * mean(dz * xhat)) plane by plane. */
__kernel void batchnorm_prelu_backward(__global const float *x, uint x_off,
                                       __global const float *dy, uint dy_off,
                                       uint N, uint C, uint HW,
                                       __global const float *gamma, uint gamma_off,
                                       __global const float *beta, uint beta_off,
                                       __global const float *slope, uint slope_off,
                                       __global const float *mean, uint mean_off,
                                       __global const float *invstd, uint invstd_off,
                                       float dx_acc, __global float *dx, uint dx_off,
                                       float dparam_acc, __global float *dgamma, uint dgamma_off,
                                       __global float *dbeta, uint dbeta_off,
                                       __global float *dslope, uint dslope_off)
{
    const uint c = get_global_id(0);
    if (c >= C) return;
    const float mu = mean[mean_off + c], is = invstd[invstd_off + c], g = gamma[gamma_off + c];
    const float scale = is * g, b = beta[beta_off + c], a = slope[slope_off + c];
    float s_dz = 0.0f, c_dz = 0.0f, s_dzxmu = 0.0f, c_dzxmu = 0.0f, s_da = 0.0f, c_da = 0.0f;
    for (uint n = 0; n < N; n++) {
        const uint base = (n * C + c) * HW;
        __global const float *xp = x + x_off + base, *gp = dy + dy_off + base;
        float16 a_dz = (float16)(0.0f), a_dzxmu = (float16)(0.0f), a_da = (float16)(0.0f);
        uint j = 0;
        for (; j + 16 <= HW; j += 16) {
            float16 v = vload16(0, xp + j), d = vload16(0, gp + j);
            float16 z = BN_Z(v, mu, scale, b);
            int16 pos = z > 0.0f;
            float16 dz = select(a * d, d, pos);
            a_dz += dz;
            a_dzxmu += dz * (v - mu);
            a_da += select(z * d, (float16)(0.0f), pos);
        }
        float p_dz = sum16(a_dz), p_dzxmu = sum16(a_dzxmu), p_da = sum16(a_da);
        for (; j < HW; j++) {
            float v = xp[j], d = gp[j];
            float z = BN_Z(v, mu, scale, b);
            float dz = z > 0.0f ? d : a * d;
            p_dz += dz;
            p_dzxmu += dz * (v - mu);
            p_da += z > 0.0f ? 0.0f : z * d;
        }
        KAHAN_ADD(s_dz, c_dz, p_dz);
        KAHAN_ADD(s_dzxmu, c_dzxmu, p_dzxmu);
        KAHAN_ADD(s_da, c_da, p_da);
    }
    const float sum_dz = s_dz, sum_dz_xhat = s_dzxmu * is;
    const uint gi = dgamma_off + c, bi = dbeta_off + c, ai = dslope_off + c;
    dgamma[gi] = dparam_acc == 0.0f ? sum_dz_xhat : sum_dz_xhat + dparam_acc * dgamma[gi];
    dbeta[bi] = dparam_acc == 0.0f ? sum_dz : sum_dz + dparam_acc * dbeta[bi];
    dslope[ai] = dparam_acc == 0.0f ? s_da : s_da + dparam_acc * dslope[ai];

    const float M = (float)N * (float)HW;
    const float mean_dz = sum_dz / M, mean_dz_xhat = sum_dz_xhat / M;
    for (uint n = 0; n < N; n++) {
        const uint base = (n * C + c) * HW;
        __global const float *xp = x + x_off + base, *gp = dy + dy_off + base;
        __global float *dp = dx + dx_off + base;
        uint j = 0;
        for (; j + 16 <= HW; j += 16) {
            float16 v = vload16(0, xp + j), d = vload16(0, gp + j);
            float16 z = BN_Z(v, mu, scale, b);
            float16 dz = select(a * d, d, z > 0.0f);
            float16 r = scale * (dz - mean_dz - (v - mu) * is * mean_dz_xhat);
            if (dx_acc != 0.0f) r += dx_acc * vload16(0, dp + j);
            vstore16(r, 0, dp + j);
        }
        for (; j < HW; j++) {
            float v = xp[j], d = gp[j];
            float z = BN_Z(v, mu, scale, b);
            float dz = z > 0.0f ? d : a * d;
            float r = scale * (dz - mean_dz - (v - mu) * is * mean_dz_xhat);
            dp[j] = dx_acc == 0.0f ? r : r + dx_acc * dp[j];
        }
    }
}
