/* Softmax cross-entropy over B rows of K logits, averaged over the samples whose
 * target is not -1 (ignored, as PyTorch's ignore_index). Targets are floats
 * holding class indices. Both kernels run as one work-group (a power of two):
 * the mean needs the count of every row, and the sums run in a fixed order.
 * One work-item handles a whole row (K is 2 or about 100). */

#define IGNORED (-1.0f)

#include "group_sum.clh"

/* A target other than -1 that is not an integer in [0, K) is a caller's error:
 * its loss and gradient become NaN, so it shows. */
static bool valid_target(float t, uint K)
{
    return t >= 0.0f && t < (float)K && t == floor(t);
}

static float row_max(__global const float *z, uint K, uint *argmax)
{
    float m = z[0];
    *argmax = 0;
    for (uint j = 1; j < K; j++)
        if (z[j] > m) m = z[j], *argmax = j; /* the first largest, as torch.argmax */
    return m;
}

static float row_exp_sum(__global const float *z, uint K, float m)
{
    float s = 0.0f;
    for (uint j = 0; j < K; j++) s += exp(z[j] - m);
    return s;
}

__kernel void softmax_ce_forward(__global const float *z, uint z_off,
                                 __global const float *targets, uint t_off,
                                 __global float *loss, uint loss_off,
                                 __global float *argmax, uint argmax_off, uint want_argmax,
                                 uint B, uint K, __local float *scratch)
{
    float partial = 0.0f, counted = 0.0f;
    for (uint b = get_local_id(0); b < B; b += get_local_size(0)) {
        __global const float *row = z + z_off + (size_t)b * K;
        uint best;
        float m = row_max(row, K, &best);
        if (want_argmax) argmax[argmax_off + b] = (float)best;
        float t = targets[t_off + b];
        if (t == IGNORED) continue;
        counted += 1.0f;
        if (!valid_target(t, K)) {
            partial += NAN;
            continue;
        }
        partial += log(row_exp_sum(row, K, m)) + m - row[(uint)t];
    }
    float total = group_sum(partial, scratch);
    float count = group_sum(counted, scratch);
    if (get_local_id(0) == 0) loss[loss_off] = count > 0.0f ? total / count : 0.0f;
}

/* dz_j = scale * (softmax_j - [j == target]) / count; 0 on ignored rows. */
__kernel void softmax_ce_backward(__global const float *z, uint z_off,
                                  __global const float *targets, uint t_off, float scale,
                                  float beta, __global float *dz, uint dz_off, uint B, uint K,
                                  __local float *scratch)
{
    float counted = 0.0f;
    for (uint b = get_local_id(0); b < B; b += get_local_size(0))
        counted += targets[t_off + b] != IGNORED ? 1.0f : 0.0f;
    float count = group_sum(counted, scratch);

    for (uint b = get_local_id(0); b < B; b += get_local_size(0)) {
        __global const float *row = z + z_off + (size_t)b * K;
        __global float *out = dz + dz_off + (size_t)b * K;
        float t = targets[t_off + b];
        if (t == IGNORED) {
            for (uint j = 0; j < K; j++) out[j] = (beta != 0.0f) ? beta * out[j] : 0.0f;
            continue;
        }
        uint best;
        float m = row_max(row, K, &best);
        /* An invalid target turns the whole row to NaN (see valid_target). */
        bool ok = valid_target(t, K);
        float step = scale / count;
        float coef = ok ? step / row_exp_sum(row, K, m) : NAN;
        uint target = ok ? (uint)t : K;
        for (uint j = 0; j < K; j++) {
            float g = coef * exp(row[j] - m) - (j == target ? step : 0.0f);
            out[j] = (beta != 0.0f) ? g + beta * out[j] : g;
        }
    }
}
