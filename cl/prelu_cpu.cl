/* PReLU backward for CPU devices (PoCL): the kernel, arguments and results of
 * prelu_backward in cl/prelu.cl, with the work laid out for a CPU.
 *
 * One work-item per channel, in a work-group of its own (as cl/im2col_cpu.cl
 * does), visits the channel's N planes x[n, c, :] (HW contiguous floats) in
 * order, vectorised by hand with float16 loads and stores: it writes their dx
 * and sums x * dy where x <= 0. Within a plane 16 lanes each sum every 16th
 * element, the lanes are added pairwise and the tail (HW not a multiple of 16)
 * after; the planes' sums are combined with Kahan summation. The order is fixed,
 * so the slope's gradient is deterministic, and needs no scratch. */

#include "cpu_sums.clh"
#include "vector16.clh"

__kernel void prelu_backward(__global const float *x, uint x_off,
                             __global const float *dy, uint dy_off, uint N, uint C, uint HW,
                             __global const float *slope, uint slope_off,
                             float dx_acc, __global float *dx, uint dx_off,
                             float dslope_acc, __global float *dslope, uint dslope_off)
{
    const uint c = get_global_id(0);
    if (c >= C) return;
    const float a = slope[slope_off + c];
    float sum = 0.0f, comp = 0.0f;
    for (uint n = 0; n < N; n++) {
        const uint base = (n * C + c) * HW;
        __global const float *xp = x + x_off + base, *gp = dy + dy_off + base;
        __global float *dp = dx + dx_off + base;
        float16 acc = (float16)(0.0f);
        uint j = 0;
        for (; j + 16 <= HW; j += 16) {
            float16 v = vload16(0, xp + j), g = vload16(0, gp + j);
            int16 pos = v > 0.0f;
            float16 d = select(a * g, g, pos);
            if (dx_acc != 0.0f) d += dx_acc * vload16(0, dp + j);
            vstore16(d, 0, dp + j);
            acc += select(v * g, (float16)(0.0f), pos);
        }
        float plane = sum16(acc);
        for (; j < HW; j++) {
            float v = xp[j], g = gp[j];
            float d = v > 0.0f ? g : a * g;
            dp[j] = dx_acc == 0.0f ? d : d + dx_acc * dp[j];
            plane += v > 0.0f ? 0.0f : v * g;
        }
        KAHAN_ADD(sum, comp, plane);
    }
    const uint j = dslope_off + c;
    dslope[j] = dslope_acc == 0.0f ? sum : sum + dslope_acc * dslope[j];
}
