/* BatchNorm2d followed by PReLU, fused, over NCHW tensors (x[n, c, s], s the
 * spatial index, HW = H*W): the kernels of agecl_batchnorm_prelu_* (see
 * agecl/layers.h). With the channel's mean, invstd, gamma, beta and slope a,
 *     z = (x - mean) * (invstd * gamma) + beta,   y = z > 0 ? z : a * z.
 * The training statistics come from batchnorm_stats (cl/batchnorm.cl), run
 * before. z is never stored: the backward recomputes it from x with the same
 * expression (BN_Z, contraction off), so it sees the sign the forward saw.
 *
 * The backward runs one work-group per channel (group id = c), of L work-items
 * (a power of two), as batchnorm_backward does: work-item i takes the columns
 * x[., c, s] for s = i, i + L, ...; each column is summed over the batch, the
 * column sums are Kahan-added per work-item, then a pairwise tree in local
 * memory combines the L items. The order is fixed: deterministic. */

#pragma OPENCL FP_CONTRACT OFF

#define BN_Z(x, mu, scale, b) (((x) - (mu)) * (scale) + (b))

/* Kahan summation: sum += v, with the lost low bits kept in comp. */
#define KAHAN_ADD(sum, comp, v)       \
    do {                              \
        float y_ = (v) - (comp);      \
        float t_ = (sum) + y_;        \
        (comp) = (t_ - (sum)) - y_;   \
        (sum) = t_;                   \
    } while (0)

/* Training mode, over (s, c, n): no work-item divides to find its channel. The
 * channel's values are read before the bounds check, since c < C always. */
__kernel void batchnorm_prelu_train_apply(__global const float *x, uint x_off, uint C, uint HW,
                                          __global const float *mean, uint mean_off,
                                          __global const float *invstd, uint invstd_off,
                                          __global const float *gamma, uint gamma_off,
                                          __global const float *beta, uint beta_off,
                                          __global const float *slope, uint slope_off,
                                          __global float *y, uint y_off)
{
    uint s = get_global_id(0), c = get_global_id(1), n = get_global_id(2);
    float mu = mean[mean_off + c], scale = invstd[invstd_off + c] * gamma[gamma_off + c],
          b = beta[beta_off + c], a = slope[slope_off + c];
    if (s >= HW) return;
    uint i = (n * C + c) * HW + s;
    float z = BN_Z(x[x_off + i], mu, scale, b);
    y[y_off + i] = z > 0.0f ? z : a * z;
}

/* Inference, with the running statistics: invstd = 1 / sqrt(running_var + eps).
 * Over (s, c), each work-item taking its column over the batch, so that the
 * square root is computed once per column. */
__kernel void batchnorm_prelu_infer_apply(__global const float *x, uint x_off, uint N, uint C,
                                          uint HW, float eps,
                                          __global const float *mean, uint mean_off,
                                          __global const float *var, uint var_off,
                                          __global const float *gamma, uint gamma_off,
                                          __global const float *beta, uint beta_off,
                                          __global const float *slope, uint slope_off,
                                          __global float *y, uint y_off)
{
    uint s = get_global_id(0), c = get_global_id(1);
    float mu = mean[mean_off + c], scale = gamma[gamma_off + c] / sqrt(var[var_off + c] + eps),
          b = beta[beta_off + c], a = slope[slope_off + c];
    if (s >= HW) return;
    for (uint n = 0; n < N; n++) {
        uint i = (n * C + c) * HW + s;
        float z = BN_Z(x[x_off + i], mu, scale, b);
        y[y_off + i] = z > 0.0f ? z : a * z;
    }
}

/* Training-mode backward of one channel per work-group. With z recomputed and
 * dz = z > 0 ? dy : a * dy (the PReLU's input gradient), first the sums of dz,
 * dz * (x - mean) and (z > 0 ? 0 : z * dy) (the slope's gradient), then
 * dx = gamma * invstd * (dz - mean(dz) - xhat * mean(dz * xhat)). */
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
                                       __global float *dslope, uint dslope_off,
                                       __local float *l_dz, __local float *l_dzxmu,
                                       __local float *l_da)
{
    const uint c = get_group_id(0), lid = get_local_id(0), L = get_local_size(0);
    const uint plane = C * HW;
    const float mu = mean[mean_off + c], is = invstd[invstd_off + c], g = gamma[gamma_off + c];
    const float scale = is * g, b = beta[beta_off + c], a = slope[slope_off + c];
    float s_dz = 0.0f, c_dz = 0.0f, s_dzxmu = 0.0f, c_dzxmu = 0.0f, s_da = 0.0f, c_da = 0.0f;
    for (uint s0 = 0; s0 < HW; s0 += L) {
        const uint s = s0 + lid;
        if (s < HW) {
            const uint i0 = c * HW + s;
            float col_dz = 0.0f, col_dzxmu = 0.0f, col_da = 0.0f;
            for (uint n = 0; n < N; n++) {
                float v = x[x_off + i0 + n * plane], d = dy[dy_off + i0 + n * plane];
                float z = BN_Z(v, mu, scale, b);
                float dz = z > 0.0f ? d : a * d;
                col_dz += dz;
                col_dzxmu += dz * (v - mu);
                col_da += z > 0.0f ? 0.0f : z * d;
            }
            KAHAN_ADD(s_dz, c_dz, col_dz);
            KAHAN_ADD(s_dzxmu, c_dzxmu, col_dzxmu);
            KAHAN_ADD(s_da, c_da, col_da);
        }
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    l_dz[lid] = s_dz;
    l_dzxmu[lid] = s_dzxmu;
    l_da[lid] = s_da;
    for (uint span = L / 2; span > 0; span /= 2) {
        barrier(CLK_LOCAL_MEM_FENCE);
        if (lid < span) {
            l_dz[lid] += l_dz[lid + span];
            l_dzxmu[lid] += l_dzxmu[lid + span];
            l_da[lid] += l_da[lid + span];
        }
    }
    barrier(CLK_LOCAL_MEM_FENCE);
    const float sum_dz = l_dz[0], sum_dz_xhat = l_dzxmu[0] * is;
    if (lid == 0) {
        uint gi = dgamma_off + c, bi = dbeta_off + c, ai = dslope_off + c;
        float sum_da = l_da[0];
        dgamma[gi] = dparam_acc == 0.0f ? sum_dz_xhat : sum_dz_xhat + dparam_acc * dgamma[gi];
        dbeta[bi] = dparam_acc == 0.0f ? sum_dz : sum_dz + dparam_acc * dbeta[bi];
        dslope[ai] = dparam_acc == 0.0f ? sum_da : sum_da + dparam_acc * dslope[ai];
    }
    const float M = (float)N * (float)HW;
    const float mean_dz = sum_dz / M, mean_dz_xhat = sum_dz_xhat / M;
    for (uint s0 = 0; s0 < HW; s0 += L) {
        const uint s = s0 + lid;
        if (s < HW) {
            for (uint n = 0; n < N; n++) {
                const uint i = c * HW + s + n * plane;
                float v = x[x_off + i], d = dy[dy_off + i];
                float z = BN_Z(v, mu, scale, b);
                float dz = z > 0.0f ? d : a * d;
                float r = scale * (dz - mean_dz - (v - mu) * is * mean_dz_xhat);
                dx[dx_off + i] = dx_acc == 0.0f ? r : r + dx_acc * dx[dx_off + i];
            }
        }
        barrier(CLK_LOCAL_MEM_FENCE);
    }
}
