/* One Adam step, one work-item per parameter, in PyTorch's order of operations:
 * torch.optim.Adam (L2 weight decay added to the gradient: weight_decay = wd,
 * shrink = 1) or torch.optim.AdamW (decoupled: weight_decay = 0, the parameter
 * first multiplied by shrink = 1 - lr * wd).
 * The host computes the step's scalars in double, as PyTorch does in Python:
 * one_minus_b1 = 1 - beta1, one_minus_b2 = 1 - beta2,
 * step_size = lr / (1 - beta1^t), bc2_sqrt = sqrt(1 - beta2^t). */
__kernel void adam_step(__global float *p, uint p_off, __global const float *grad, uint g_off,
                        __global float *m, uint m_off, __global float *v, uint v_off, uint count,
                        float beta1, float one_minus_b1, float beta2, float one_minus_b2,
                        float eps, float weight_decay, float shrink, float step_size,
                        float bc2_sqrt)
{
    uint i = get_global_id(0);
    if (i >= count) return;
    float param = p[p_off + i];
    if (shrink != 1.0f) param *= shrink;
    float g = grad[g_off + i] + weight_decay * param;
    float mi = m[m_off + i] * beta1 + one_minus_b1 * g;
    float vi = v[v_off + i] * beta2 + one_minus_b2 * g * g;
    float denom = sqrt(vi) / bc2_sqrt + eps;
    m[m_off + i] = mi;
    v[v_off + i] = vi;
    p[p_off + i] = param + -step_size * mi / denom; /* addcdiv: self + value * t1 / t2 */
}
