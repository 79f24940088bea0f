/* Element-wise layers: the residual add and the strided subsample (the 1x1
 * max-pool shortcut) over NCHW tensors, forward and backward. */

__kernel void add_forward(__global const float *a, uint a_off, __global const float *b,
                          uint b_off, __global float *y, uint y_off, uint total)
{
    uint i = get_global_id(0);
    if (i < total) y[y_off + i] = a[a_off + i] + b[b_off + i];
}

/* da = dy + da_acc * da, db = dy + db_acc * db; a factor 0 never reads. */
__kernel void add_backward(__global const float *dy, uint dy_off, uint total,
                           float da_acc, __global float *da, uint da_off,
                           float db_acc, __global float *db, uint db_off)
{
    uint i = get_global_id(0);
    if (i >= total) return;
    float g = dy[dy_off + i];
    da[da_off + i] = da_acc == 0.0f ? g : g + da_acc * da[da_off + i];
    db[db_off + i] = db_acc == 0.0f ? g : g + db_acc * db[db_off + i];
}

/* y[p, i, j] = x[p, i*s, j*s], over (j, i, p) for the planes p = n*C + c. */
__kernel void subsample_forward(__global const float *x, uint x_off, uint H, uint W,
                                __global float *y, uint y_off, uint OH, uint OW, uint stride)
{
    uint j = get_global_id(0), i = get_global_id(1), p = get_global_id(2);
    if (j >= OW || i >= OH) return;
    y[y_off + (p * OH + i) * OW + j] = x[x_off + (p * H + i * stride) * W + j * stride];
}

/* The backward's second step, after dx was scaled by acc (or zeroed):
 * dx[p, i*s, j*s] += dy[p, i, j], over (j, i, p). Each dx element is touched by
 * at most one work-item. */
__kernel void subsample_scatter_add(__global const float *dy, uint dy_off, uint OH, uint OW,
                                    __global float *dx, uint dx_off, uint H, uint W, uint stride)
{
    uint j = get_global_id(0), i = get_global_id(1), p = get_global_id(2);
    if (j >= OW || i >= OH) return;
    dx[dx_off + (p * H + i * stride) * W + j * stride] += dy[dy_off + (p * OH + i) * OW + j];
}

/* x *= a, element-wise. */
__kernel void scale(__global float *x, uint x_off, uint n, float a)
{
    uint i = get_global_id(0);
    if (i < n) x[x_off + i] *= a;
}

/* dx[n, c, :] += a[c] + b[c] * x[n, c, :], over a grid (HW, C, N): the
 * correction that turns BatchNorm's backward from one rank's statistics into
 * the statistics of every rank (src/layers/batchnorm_sync.c); coef holds a
 * then b. */
__kernel void channel_affine_add(__global const float *x, uint x_off, uint C, uint HW,
                                 __global const float *coef, uint coef_off, __global float *dx,
                                 uint dx_off)
{
    uint hw = get_global_id(0), c = get_global_id(1), n = get_global_id(2);
    if (hw >= HW || c >= C) return;
    uint i = (n * C + c) * HW + hw;
    dx[dx_off + i] += coef[coef_off + c] + coef[coef_off + C + c] * x[x_off + i];
}
