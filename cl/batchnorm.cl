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

#include "chan_merge.clh"
#include "kahan.clh"

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

/* The normalisation and the backward, without and with the fused PReLU. The
 * fused backward recomputes z and must see the sign the forward saw: the same
 * expression, with contraction off from there on. */
#define BN_Z(x, mu, scale, b) (((x) - (mu)) * (scale) + (b))
#define BN_PRELU 0
#include "batchnorm_kernels.clh"
#undef BN_PRELU
#define BN_PRELU 1
#pragma OPENCL FP_CONTRACT OFF
#include "batchnorm_kernels.clh"
