/* Per-batch sums for MAE, CS5 and classification accuracy (MODEL.md section 7). */

#include "group_sum.clh"

/* One work-group (a power of two). out: {sum of abs_err, count abs_err <= within,
 * correct classes, counted classes}; has_classes 0: the last two are 0. */
__kernel void batch_metrics(__global const float *abs_err, uint err_off, uint B, float within,
                            __global const float *pred_class, uint pred_off,
                            __global const float *targets, uint t_off, uint has_classes,
                            __global float *out, uint out_off, __local float *scratch)
{
    float sum = 0.0f, inside = 0.0f, correct = 0.0f, counted = 0.0f;
    for (uint b = get_local_id(0); b < B; b += get_local_size(0)) {
        float e = abs_err[err_off + b];
        sum += e;
        inside += e <= within ? 1.0f : 0.0f;
        if (has_classes) {
            float t = targets[t_off + b];
            counted += t >= 0.0f ? 1.0f : 0.0f;
            correct += t >= 0.0f && pred_class[pred_off + b] == t ? 1.0f : 0.0f;
        }
    }
    sum = group_sum(sum, scratch);
    inside = group_sum(inside, scratch);
    correct = group_sum(correct, scratch);
    counted = group_sum(counted, scratch);
    if (get_local_id(0) == 0) {
        out[out_off + 0] = sum;
        out[out_off + 1] = inside;
        out[out_off + 2] = correct;
        out[out_off + 3] = counted;
    }
}
