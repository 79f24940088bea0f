/* Global average pooling over NCHW tensors: each of the N*C planes of HW
 * elements to its mean. */

/* One work-item per plane, summing it in order with Kahan compensation. */
__kernel void avgpool_forward(__global const float *x, uint x_off, __global float *y, uint y_off,
                              uint planes, uint HW)
{
    uint p = get_global_id(0);
    if (p >= planes) return;
    __global const float *row = x + x_off + p * HW;
    float sum = 0.0f, comp = 0.0f;
    for (uint s = 0; s < HW; s++) {
        float v = row[s] - comp;
        float t = sum + v;
        comp = (t - sum) - v;
        sum = t;
    }
    y[y_off + p] = sum / (float)HW;
}

/* dx[p, s] = dy[p] / HW + acc * dx[p, s], over (s, -, p): no division per element. */
__kernel void avgpool_backward(__global const float *dy, uint dy_off, __global float *dx,
                               uint dx_off, uint HW, float acc)
{
    uint s = get_global_id(0), p = get_global_id(2);
    if (s >= HW) return;
    uint i = dx_off + p * HW + s;
    float v = dy[dy_off + p] / (float)HW;
    dx[i] = acc == 0.0f ? v : v + acc * dx[i];
}
