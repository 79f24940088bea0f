/* The exponential moving average of the weights, one work-item per element.
 * ema_update: avg = decay * avg + (1 - decay) * x, in timm's ModelEmaV2 order
 * (one_minus_decay computed by the host in double).
 * ema_swap: exchange a and b, so that one call puts the average in place of the
 * weights and a second call restores them. */
__kernel void ema_update(__global float *avg, uint avg_off, __global const float *x, uint x_off,
                         uint count, float decay, float one_minus_decay)
{
    uint i = get_global_id(0);
    if (i >= count) return;
    avg[avg_off + i] = avg[avg_off + i] * decay + one_minus_decay * x[x_off + i];
}

__kernel void ema_swap(__global float *a, uint a_off, __global float *b, uint b_off, uint count)
{
    uint i = get_global_id(0);
    if (i >= count) return;
    float t = a[a_off + i];
    a[a_off + i] = b[b_off + i];
    b[b_off + i] = t;
}
