/* Label distribution loss (DLDL): the Kullback-Leibler divergence from a Gaussian
 * over the age labels, centred on the true age, to the softmax of the age logits.
 * Logits are B rows of n, packed; one work-item handles a whole row, so every
 * row's sums run in the same fixed order. */

#include "group_sum.clh"

/* log q_j = -(l_j - age)^2 / (2 sigma^2) - log sum_k exp(-(l_k - age)^2 / (2 sigma^2)),
 * computed with the largest exponent subtracted; returns that log-normaliser. */
static float target_lognorm(__global const float *l, uint n, float age, float inv2s2)
{
    float top = -INFINITY;
    for (uint j = 0; j < n; j++) top = fmax(top, -(l[j] - age) * (l[j] - age) * inv2s2);
    float sum = 0.0f;
    for (uint j = 0; j < n; j++) sum += exp(-(l[j] - age) * (l[j] - age) * inv2s2 - top);
    return top + log(sum);
}

/* log sum_j exp(z_j): the softmax's log-normaliser. */
static float logit_lognorm(__global const float *z, uint n)
{
    float top = z[0];
    for (uint j = 1; j < n; j++) top = fmax(top, z[j]);
    float sum = 0.0f;
    for (uint j = 0; j < n; j++) sum += exp(z[j] - top);
    return top + log(sum);
}

/* Run as one work-group (a power of two) over all B rows, so that the loss is
 * reduced in a fixed order: loss = mean_b sum_j q_j (log q_j - log p_j). */
__kernel void label_dist_forward(__global const float *z, uint z_off,
                                 __global const float *labels, uint labels_off,
                                 __global const float *ages, uint ages_off, float inv2s2,
                                 __global float *loss, uint loss_off, uint B, uint n,
                                 __local float *scratch)
{
    __global const float *l = labels + labels_off;
    float partial = 0.0f;
    for (uint b = get_local_id(0); b < B; b += get_local_size(0)) {
        __global const float *row = z + z_off + (size_t)b * n;
        float age = ages[ages_off + b];
        float qn = target_lognorm(l, n, age, inv2s2), pn = logit_lognorm(row, n);
        float kl = 0.0f;
        for (uint j = 0; j < n; j++) {
            float logq = -(l[j] - age) * (l[j] - age) * inv2s2 - qn;
            kl += exp(logq) * (logq - (row[j] - pn));
        }
        partial += kl;
    }
    float total = group_sum(partial, scratch);
    if (get_local_id(0) == 0) loss[loss_off] = total / (float)B;
}

/* One work-item per row: dz_j = scale / B * (p_j - q_j). */
__kernel void label_dist_backward(__global const float *z, uint z_off,
                                  __global const float *labels, uint labels_off,
                                  __global const float *ages, uint ages_off, float inv2s2,
                                  float scale, float beta, __global float *dz, uint dz_off,
                                  uint B, uint n)
{
    uint b = get_global_id(0);
    if (b >= B) return;
    __global const float *row = z + z_off + (size_t)b * n;
    __global const float *l = labels + labels_off;
    float age = ages[ages_off + b];
    float qn = target_lognorm(l, n, age, inv2s2), pn = logit_lognorm(row, n);
    float coef = scale / (float)B;
    __global float *out = dz + dz_off + (size_t)b * n;
    for (uint j = 0; j < n; j++) {
        float q = exp(-(l[j] - age) * (l[j] - age) * inv2s2 - qn);
        float g = coef * (exp(row[j] - pn) - q);
        out[j] = (beta != 0.0f) ? g + beta * out[j] : g;
    }
}
