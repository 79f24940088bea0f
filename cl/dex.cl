/* Expected-value age (DEX): the softmax expectation of the age labels, its L1 loss
 * and the loss's gradient to the logits. Logits are B rows of n, packed.
 * One work-item handles a whole row (n is the number of age labels, about 100),
 * so every row's sums run in the same fixed order. */

#include "group_sum.clh"

typedef struct {
    float max;  /* the row's largest logit */
    float sum;  /* sum_j exp(z_j - max) */
    float age;  /* sum_j p_j l_j */
} row_softmax;

static row_softmax expectation(__global const float *z, __global const float *labels, uint n)
{
    row_softmax r;
    r.max = z[0];
    for (uint j = 1; j < n; j++) r.max = fmax(r.max, z[j]);
    float weighted = 0.0f;
    r.sum = 0.0f;
    for (uint j = 0; j < n; j++) {
        float e = exp(z[j] - r.max);
        r.sum += e;
        weighted += e * labels[j];
    }
    r.age = weighted / r.sum;
    return r;
}

/* Run as one work-group (a power of two) over all B rows, so that the loss is
 * reduced in a fixed order. has_ages 0: prediction only (ages, abs_err and loss
 * are not touched). */
__kernel void dex_forward(__global const float *z, uint z_off, __global const float *labels,
                          uint labels_off, __global const float *ages, uint ages_off,
                          __global float *pred, uint pred_off, __global float *abs_err,
                          uint err_off, __global float *loss, uint loss_off, uint B, uint n,
                          uint has_ages, __local float *scratch)
{
    float partial = 0.0f;
    for (uint b = get_local_id(0); b < B; b += get_local_size(0)) {
        row_softmax r = expectation(z + z_off + (size_t)b * n, labels + labels_off, n);
        pred[pred_off + b] = r.age;
        if (has_ages) {
            float e = fabs(ages[ages_off + b] - r.age);
            abs_err[err_off + b] = e;
            partial += e;
        }
    }
    if (!has_ages) return; /* uniform across the group: no barrier is skipped by some only */
    float total = group_sum(partial, scratch);
    if (get_local_id(0) == 0) loss[loss_off] = total / (float)B;
}

/* One work-item per row: dz_j = scale / B * sign(pred - age) * p_j (l_j - pred),
 * with sign(0) = 0 (PyTorch's L1Loss gradient). */
__kernel void dex_backward(__global const float *z, uint z_off, __global const float *labels,
                           uint labels_off, __global const float *ages, uint ages_off,
                           float scale, float beta, __global float *dz, uint dz_off, uint B,
                           uint n)
{
    uint b = get_global_id(0);
    if (b >= B) return;
    __global const float *row = z + z_off + (size_t)b * n;
    __global const float *l = labels + labels_off;
    row_softmax r = expectation(row, l, n);
    float d = r.age - ages[ages_off + b];
    float sgn = (d > 0.0f) ? 1.0f : (d < 0.0f) ? -1.0f : 0.0f;
    float coef = scale / (float)B * sgn / r.sum;
    __global float *out = dz + dz_off + (size_t)b * n;
    for (uint j = 0; j < n; j++) {
        float g = coef * exp(row[j] - r.max) * (l[j] - r.age);
        out[j] = (beta != 0.0f) ? g + beta * out[j] : g;
    }
}
