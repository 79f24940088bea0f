/* Inference with each BatchNorm that follows a convolution folded into it
 * (src/model/fold.c): BN(conv(x, w)) = conv(x, w * s) + (beta - mean * s), per output
 * channel o, with s = gamma / sqrt(var + eps) as the BatchNorm's inference kernel
 * computes it. */

/* wf[o][k] = w[o][k] * s[o] for the K weights of each of the C output channels, and
 * bias[o] = beta[o] - mean[o] * s[o], added to bias[o] when acc (an IR unit's two
 * branches end in one bias); a work-item per output channel. */
__kernel void bn_fold(__global const float *w, uint w_off, uint C, uint K,
                      __global const float *gamma, uint gamma_off,
                      __global const float *beta, uint beta_off,
                      __global const float *mean, uint mean_off,
                      __global const float *var, uint var_off, float eps, uint acc,
                      __global float *wf, uint wf_off, __global float *bias, uint bias_off)
{
    uint o = get_global_id(0);
    if (o >= C) return;
    float s = gamma[gamma_off + o] / sqrt(var[var_off + o] + eps);
    for (uint k = 0; k < K; k++) wf[wf_off + o * K + k] = w[w_off + o * K + k] * s;
    float b = beta[beta_off + o] - mean[mean_off + o] * s;
    bias[bias_off + o] = acc ? bias[bias_off + o] + b : b;
}

/* y[n, c, :] = x[n, c, :] + bias[c] over a grid (HW, C, N); y may be x. */
__kernel void channel_bias_add(__global const float *x, uint x_off, uint C, uint HW,
                               __global const float *bias, uint bias_off, __global float *y,
                               uint y_off)
{
    uint hw = get_global_id(0), c = get_global_id(1), n = get_global_id(2);
    if (hw >= HW || c >= C) return;
    uint i = (n * C + c) * HW + hw;
    y[y_off + i] = x[x_off + i] + bias[bias_off + c];
}
