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
#include "restrict.clh"
#include "vector16.clh"

#include "chan_merge.clh"

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

/* The normalisation and the backward, without and with the fused PReLU. The
 * fused backward recomputes z and must see the sign the forward saw: the same
 * expression, with contraction off from there on. */
#define BN_Z(x, mu, scale, b) (((x) - (mu)) * (scale) + (b))
#define BN_PRELU 0
#include "batchnorm_kernels_cpu.clh"
#undef BN_PRELU
#define BN_PRELU 1
#pragma OPENCL FP_CONTRACT OFF
#include "batchnorm_kernels_cpu.clh"
