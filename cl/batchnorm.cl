/* BatchNorm2d over NCHW tensors (x[n, c, s], s the spatial index, HW = H*W).
 *
 * The per-channel reductions run one work-group per channel (group id = c), of
 * L work-items (a power of two). Work-item i takes the columns x[., c, s] for
 * s = i, i + L, i + 2L, ...: for each, a short loop over the batch (consecutive
 * items read consecutive addresses), whose result it folds into its running
 * totals; a pairwise tree in local memory then combines the L items. The
 * order is fixed, so results are deterministic. The barrier after each block
 * of L columns synchronises nothing: it lets PoCL run the loop body across
 * work-items (vectorised), and costs little on GPUs. */

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

/* The mean and biased variance of each channel, saved for the backward, and
 * the running statistics updated with the unbiased variance. Needs M > 1.
 * Each column's statistics come from sums shifted by its first element (x - shift
 * is exact for values close together: a large mean costs no precision), and are
 * merged (chan_merge) relative to the channel's first element, ref, so that the
 * merged means are small numbers that keep their precision. */
__kernel void batchnorm_stats(__global const float *x, uint x_off, uint N, uint C, uint HW,
                              float momentum, float eps,
                              __global float *save_mean, uint save_mean_off,
                              __global float *save_invstd, uint save_invstd_off,
                              __global float *run_mean, uint run_mean_off,
                              __global float *run_var, uint run_var_off,
                              __local float *l_count, __local float *l_mean, __local float *l_m2)
{
    const uint c = get_group_id(0), lid = get_local_id(0), L = get_local_size(0);
    const float nb = (float)N, ref = x[x_off + c * HW];
    float count = 0.0f, mean = 0.0f, m2 = 0.0f; /* mean relative to ref */
    for (uint s0 = 0; s0 < HW; s0 += L) {
        const uint s = s0 + lid;
        if (s < HW) {
            __global const float *col = x + x_off + c * HW + s;
            const float shift = col[0];
            float sum = 0.0f, sq = 0.0f;
            for (uint n = 0; n < N; n++) {
                float d = col[n * C * HW] - shift;
                sum += d;
                sq += d * d;
            }
            chan_merge(&count, &mean, &m2, nb, (shift - ref) + sum / nb,
                       fmax(sq - sum * (sum / nb), 0.0f));
        }
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    l_count[lid] = count;
    l_mean[lid] = mean;
    l_m2[lid] = m2;
    for (uint span = L / 2; span > 0; span /= 2) {
        barrier(CLK_LOCAL_MEM_FENCE);
        if (lid < span) {
            float na = l_count[lid], ma = l_mean[lid], m2a = l_m2[lid];
            chan_merge(&na, &ma, &m2a, l_count[lid + span], l_mean[lid + span], l_m2[lid + span]);
            l_count[lid] = na;
            l_mean[lid] = ma;
            l_m2[lid] = m2a;
        }
    }
    if (lid == 0) {
        float M = (float)N * (float)HW;
        float var = l_m2[0] / M, unbiased = l_m2[0] / (M - 1.0f);
        float mu = ref + l_mean[0];
        save_mean[save_mean_off + c] = mu;
        save_invstd[save_invstd_off + c] = 1.0f / sqrt(var + eps);
        run_mean[run_mean_off + c] = (1.0f - momentum) * run_mean[run_mean_off + c] + momentum * mu;
        run_var[run_var_off + c] =
            (1.0f - momentum) * run_var[run_var_off + c] + momentum * unbiased;
    }
}

/* The element-wise kernels run over (s, c, n), s the spatial index, so that
 * no work-item divides to find its channel. */

/* y = (x - mean[c]) * invstd[c] * gamma[c] + beta[c] (subtracting the mean
 * first: exact for a large mean). The channel's values are read before the
 * bounds check, since c < C always. */
__kernel void batchnorm_train_apply(__global const float *x, uint x_off, uint C, uint HW,
                                    __global const float *mean, uint mean_off,
                                    __global const float *invstd, uint invstd_off,
                                    __global const float *gamma, uint gamma_off,
                                    __global const float *beta, uint beta_off,
                                    __global float *y, uint y_off)
{
    uint s = get_global_id(0), c = get_global_id(1), n = get_global_id(2);
    float mu = mean[mean_off + c], scale = invstd[invstd_off + c] * gamma[gamma_off + c],
          b = beta[beta_off + c];
    if (s >= HW) return;
    uint i = (n * C + c) * HW + s;
    y[y_off + i] = (x[x_off + i] - mu) * scale + b;
}

/* The same with the running statistics: invstd = 1 / sqrt(running_var + eps).
 * Over (s, c) only, each work-item taking its column over the batch, so that
 * the square root is computed once per column rather than per element. */
__kernel void batchnorm_infer_apply(__global const float *x, uint x_off, uint N, uint C, uint HW,
                                    float eps, __global const float *mean, uint mean_off,
                                    __global const float *var, uint var_off,
                                    __global const float *gamma, uint gamma_off,
                                    __global const float *beta, uint beta_off,
                                    __global float *y, uint y_off)
{
    uint s = get_global_id(0), c = get_global_id(1);
    float mu = mean[mean_off + c], scale = gamma[gamma_off + c] / sqrt(var[var_off + c] + eps),
          b = beta[beta_off + c];
    if (s >= HW) return;
    for (uint n = 0; n < N; n++) {
        uint i = (n * C + c) * HW + s;
        y[y_off + i] = (x[x_off + i] - mu) * scale + b;
    }
}

/* Kahan summation: sum += v, with the lost low bits kept in comp. */
#define KAHAN_ADD(sum, comp, v)       \
    do {                              \
        float y_ = (v) - (comp);      \
        float t_ = (sum) + y_;        \
        (comp) = (t_ - (sum)) - y_;   \
        (sum) = t_;                   \
    } while (0)

/* Training-mode backward of one channel per work-group: first the sums of dy
 * and dy * (x - mean) (per column over the batch, columns Kahan-summed per
 * work-item, then a pairwise tree), then dx. */
__kernel void batchnorm_backward(__global const float *x, uint x_off,
                                 __global const float *dy, uint dy_off, uint N, uint C, uint HW,
                                 __global const float *gamma, uint gamma_off,
                                 __global const float *mean, uint mean_off,
                                 __global const float *invstd, uint invstd_off,
                                 float dx_acc, __global float *dx, uint dx_off,
                                 float dparam_acc, __global float *dgamma, uint dgamma_off,
                                 __global float *dbeta, uint dbeta_off,
                                 __local float *l_dy, __local float *l_dyxmu)
{
    const uint c = get_group_id(0), lid = get_local_id(0), L = get_local_size(0);
    const uint plane = C * HW;
    const float mu = mean[mean_off + c], is = invstd[invstd_off + c];
    float s_dy = 0.0f, c_dy = 0.0f, s_dyxmu = 0.0f, c_dyxmu = 0.0f;
    for (uint s0 = 0; s0 < HW; s0 += L) {
        const uint s = s0 + lid;
        if (s < HW) {
            const uint i0 = c * HW + s;
            float col_dy = 0.0f, col_dyxmu = 0.0f;
            for (uint n = 0; n < N; n++) {
                float g = dy[dy_off + i0 + n * plane];
                col_dy += g;
                col_dyxmu += g * (x[x_off + i0 + n * plane] - mu);
            }
            KAHAN_ADD(s_dy, c_dy, col_dy);
            KAHAN_ADD(s_dyxmu, c_dyxmu, col_dyxmu);
        }
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    l_dy[lid] = s_dy;
    l_dyxmu[lid] = s_dyxmu;
    for (uint span = L / 2; span > 0; span /= 2) {
        barrier(CLK_LOCAL_MEM_FENCE);
        if (lid < span) {
            l_dy[lid] += l_dy[lid + span];
            l_dyxmu[lid] += l_dyxmu[lid + span];
        }
    }
    barrier(CLK_LOCAL_MEM_FENCE);
    const float sum_dy = l_dy[0], sum_dy_xhat = l_dyxmu[0] * is;
    if (lid == 0) {
        uint gi = dgamma_off + c, bi = dbeta_off + c;
        dgamma[gi] = dparam_acc == 0.0f ? sum_dy_xhat : sum_dy_xhat + dparam_acc * dgamma[gi];
        dbeta[bi] = dparam_acc == 0.0f ? sum_dy : sum_dy + dparam_acc * dbeta[bi];
    }
    const float M = (float)N * (float)HW;
    const float k = gamma[gamma_off + c] * is, mean_dy = sum_dy / M, mean_dy_xhat = sum_dy_xhat / M;
    for (uint s0 = 0; s0 < HW; s0 += L) {
        const uint s = s0 + lid;
        if (s < HW) {
            for (uint n = 0; n < N; n++) {
                const uint i = c * HW + s + n * plane;
                float xhat = (x[x_off + i] - mu) * is;
                float v = k * (dy[dy_off + i] - mean_dy - xhat * mean_dy_xhat);
                dx[dx_off + i] = dx_acc == 0.0f ? v : v + dx_acc * dx[dx_off + i];
            }
        }
        barrier(CLK_LOCAL_MEM_FENCE);
    }
}
