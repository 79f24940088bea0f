/* The bias of the fully connected layer; the products run on CLBlast. */

/* y[b, o] += bias[o] over a [rows, out] matrix. */
__kernel void linear_bias_add(__global float *y, uint y_off, uint total, uint out,
                              __global const float *bias, uint bias_off)
{
    uint i = get_global_id(0);
    if (i < total) y[y_off + i] += bias[bias_off + i % out];
}

/* dbias[o] = sum_b dy[b, o] + acc * dbias[o]; one work-item per o, summing the
 * rows in order with Kahan compensation (reads of consecutive o coalesce). */
__kernel void linear_bias_backward(__global const float *dy, uint dy_off, uint rows, uint out,
                                   float acc, __global float *dbias, uint dbias_off)
{
    uint o = get_global_id(0);
    if (o >= out) return;
    float sum = 0.0f, comp = 0.0f;
    for (uint b = 0; b < rows; b++) {
        float v = dy[dy_off + b * out + o] - comp;
        float t = sum + v;
        comp = (t - sum) - v;
        sum = t;
    }
    uint j = dbias_off + o;
    dbias[j] = acc == 0.0f ? sum : sum + acc * dbias[j];
}
