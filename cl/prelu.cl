/* PReLU with one slope per channel over NCHW tensors (HW = H*W). */

/* Over (s, c, n), s the spatial index: no work-item divides to find its channel. */
__kernel void prelu_forward(__global const float *x, uint x_off, uint C, uint HW,
                            __global const float *slope, uint slope_off,
                            __global float *y, uint y_off)
{
    uint s = get_global_id(0), c = get_global_id(1), n = get_global_id(2);
    if (s >= HW) return;
    uint i = (n * C + c) * HW + s;
    float v = x[x_off + i], a = slope[slope_off + c];
    y[y_off + i] = v > 0.0f ? v : a * v;
}

#include "kahan.clh"

/* One work-group per channel (group id = c), L work-items (a power of two).
 * Work-item i takes the columns x[., c, s] for s = i, i + L, ...: it writes
 * their dx and sums x * dy where x <= 0 over the batch, adding each column's
 * sum to its total (Kahan); a pairwise tree in local memory then gives the
 * slope's gradient. The order is fixed, so the result is deterministic. The
 * barrier after each block of L columns synchronises nothing: it lets PoCL
 * run the loop body across work-items (vectorised), and costs little on GPUs. */
__kernel void prelu_backward(__global const float *x, uint x_off,
                             __global const float *dy, uint dy_off, uint N, uint C, uint HW,
                             __global const float *slope, uint slope_off,
                             float dx_acc, __global float *dx, uint dx_off,
                             float dslope_acc, __global float *dslope, uint dslope_off,
                             __local float *l_sum)
{
    const uint c = get_group_id(0), lid = get_local_id(0), L = get_local_size(0);
    const uint plane = C * HW;
    const float a = slope[slope_off + c];
    float sum = 0.0f, comp = 0.0f;
    for (uint s0 = 0; s0 < HW; s0 += L) {
        const uint s = s0 + lid;
        if (s < HW) {
            float col = 0.0f;
            for (uint n = 0; n < N; n++) {
                const uint i = c * HW + s + n * plane;
                float v = x[x_off + i], g = dy[dy_off + i];
                float d = v > 0.0f ? g : a * g;
                dx[dx_off + i] = dx_acc == 0.0f ? d : d + dx_acc * dx[dx_off + i];
                col += v > 0.0f ? 0.0f : v * g;
            }
            KAHAN_ADD(sum, comp, col);
        }
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    l_sum[lid] = sum;
    for (uint span = L / 2; span > 0; span /= 2) {
        barrier(CLK_LOCAL_MEM_FENCE);
        if (lid < span) l_sum[lid] += l_sum[lid + span];
    }
    if (lid == 0) {
        uint j = dslope_off + c;
        dslope[j] = dslope_acc == 0.0f ? l_sum[0] : l_sum[0] + dslope_acc * dslope[j];
    }
}
