/* The relative age position module (RAPL), cheap form:
 *   gain[c] = sum_k a_k sigmoid(R[k,c] P[k]),  out[b,c] = F[b,c] gain[c] + bias
 * and its backward to F, P, a and bias. F, out and dout are B rows of C; R is
 * n rows of C (n age labels). All sums run in a fixed order. */

#include "group_sum.clh"

static float sigmoid(float x) { return 1.0f / (1.0f + exp(-x)); }

/* One work-item per channel c, summing over the labels k. */
__kernel void rapl_gain(__global const float *R, uint R_off, __global const float *P,
                        uint P_off, __global const float *a, uint a_off, __global float *gain,
                        uint gain_off, uint C, uint n)
{
    uint c = get_global_id(0);
    if (c >= C) return;
    float g = 0.0f;
    for (uint k = 0; k < n; k++)
        g += a[a_off + k] * sigmoid(R[R_off + (size_t)k * C + c] * P[P_off + k]);
    gain[gain_off + c] = g;
}

/* One work-item per element of out. */
__kernel void rapl_apply(__global const float *F, uint F_off, __global const float *gain,
                         uint gain_off, __global const float *bias, uint bias_off,
                         __global float *out, uint out_off, uint B, uint C)
{
    uint i = get_global_id(0);
    if (i >= B * C) return;
    out[out_off + i] = F[F_off + i] * gain[gain_off + i % C] + bias[bias_off];
}

/* One work-item per channel c: dF[:,c] = dout[:,c] gain[c] and
 * dgain[c] = sum_b dout[b,c] F[b,c]. */
__kernel void rapl_backward_channels(__global const float *dout, uint dout_off,
                                     __global const float *F, uint F_off,
                                     __global const float *gain, uint gain_off, float beta,
                                     __global float *dF, uint dF_off, __global float *dgain,
                                     uint dgain_off, uint B, uint C)
{
    uint c = get_global_id(0);
    if (c >= C) return;
    float g = gain[gain_off + c], dg = 0.0f;
    for (uint b = 0; b < B; b++) {
        size_t i = (size_t)b * C + c;
        float d = dout[dout_off + i];
        dg += d * F[F_off + i];
        float v = d * g;
        dF[dF_off + i] = (beta != 0.0f) ? v + beta * dF[dF_off + i] : v;
    }
    dgain[dgain_off + c] = dg;
}

/* One work-group per label k, its work-items striding over the channels:
 * da[k] = sum_c dgain[c] s_kc, dP[k] = a_k sum_c dgain[c] s_kc (1 - s_kc) R[k,c]. */
__kernel void rapl_backward_params(__global const float *dgain, uint dgain_off,
                                   __global const float *R, uint R_off,
                                   __global const float *P, uint P_off,
                                   __global const float *a, uint a_off, float beta,
                                   __global float *dP, uint dP_off, __global float *da,
                                   uint da_off, uint C, __local float *scratch)
{
    uint k = get_group_id(0);
    float pk = P[P_off + k], acc_a = 0.0f, acc_p = 0.0f;
    for (uint c = get_local_id(0); c < C; c += get_local_size(0)) {
        float r = R[R_off + (size_t)k * C + c];
        float s = sigmoid(r * pk), d = dgain[dgain_off + c];
        acc_a += d * s;
        acc_p += d * s * (1.0f - s) * r;
    }
    float sum_a = group_sum(acc_a, scratch);
    float sum_p = group_sum(acc_p, scratch);
    if (get_local_id(0) != 0) return;
    float vp = a[a_off + k] * sum_p;
    da[da_off + k] = (beta != 0.0f) ? sum_a + beta * da[da_off + k] : sum_a;
    dP[dP_off + k] = (beta != 0.0f) ? vp + beta * dP[dP_off + k] : vp;
}

/* One work-group: dbias = sum of all count elements of dout. */
__kernel void rapl_backward_bias(__global const float *dout, uint dout_off, uint count,
                                 float beta, __global float *dbias, uint dbias_off,
                                 __local float *scratch)
{
    float acc = 0.0f;
    for (uint i = get_local_id(0); i < count; i += get_local_size(0)) acc += dout[dout_off + i];
    float total = group_sum(acc, scratch);
    if (get_local_id(0) == 0)
        dbias[dbias_off] = (beta != 0.0f) ? total + beta * dbias[dbias_off] : total;
}
