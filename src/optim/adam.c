/* Adam as PyTorch's torch.optim.Adam (L2 weight decay added to the gradient) or
 * torch.optim.AdamW (decoupled decay), over any region of parameters in one
 * launch (cl/adam.cl). */
#include <math.h>
#include "agecl/optim.h"
#include "runtime/launch.h"
#include "error.h"
#include "runtime/rows.h"

agecl_adam_config agecl_adam_defaults(double lr, double weight_decay)
{
    return (agecl_adam_config){lr, 0.9, 0.999, 1e-8, weight_decay, 0};
}

static agecl_status check_config(const agecl_adam_config *cfg, int t)
{
    const char *op = "adam_step";
    if (!cfg) return agecl__fail(AGECL_E_INVALID_ARG, "%s: cfg is NULL", op);
    if (t < 1) return agecl__fail(AGECL_E_INVALID_ARG, "%s: step %d (steps count from 1)", op, t);
    if (!(cfg->lr >= 0 && isfinite(cfg->lr)))
        return agecl__fail(AGECL_E_INVALID_ARG, "%s: learning rate %g", op, cfg->lr);
    if (!(cfg->beta1 >= 0 && cfg->beta1 < 1) || !(cfg->beta2 >= 0 && cfg->beta2 < 1))
        return agecl__fail(AGECL_E_INVALID_ARG, "%s: betas %g, %g outside [0, 1)", op,
                           cfg->beta1, cfg->beta2);
    if (!(cfg->eps > 0 && isfinite(cfg->eps)))
        return agecl__fail(AGECL_E_INVALID_ARG, "%s: eps %g (must be > 0)", op, cfg->eps);
    if (!(cfg->weight_decay >= 0 && isfinite(cfg->weight_decay)))
        return agecl__fail(AGECL_E_INVALID_ARG, "%s: weight decay %g", op, cfg->weight_decay);
    return AGECL_OK;
}

agecl_status agecl_adam_step(agecl_ctx *ctx, const agecl_adam_config *cfg, int t,
                             agecl_tensor *params, const agecl_tensor *grads, agecl_tensor *m,
                             agecl_tensor *v)
{
    const char *op = "adam_step";
    if (!ctx) return agecl__fail(AGECL_E_INVALID_ARG, "%s: ctx is NULL", op);
    AGECL_TRY(check_config(cfg, t));
    cl_uint p_off, g_off, m_off, v_off;
    AGECL_TRY(agecl__arg_tensor(params, op, "params", &p_off));
    cl_uint count = (cl_uint)agecl_tensor_numel(params);
    AGECL_TRY(agecl__arg_count(grads, op, "grads", count, NULL, &g_off));
    AGECL_TRY(agecl__arg_count(m, op, "m", count, NULL, &m_off));
    AGECL_TRY(agecl__arg_count(v, op, "v", count, NULL, &v_off));

    /* The step's scalars in double, rounded once to float, as PyTorch does. */
    float beta1 = (float)cfg->beta1, one_minus_b1 = (float)(1 - cfg->beta1);
    float beta2 = (float)cfg->beta2, one_minus_b2 = (float)(1 - cfg->beta2);
    float eps = (float)cfg->eps;
    float wd = cfg->decoupled ? 0.0f : (float)cfg->weight_decay;
    float shrink = cfg->decoupled ? (float)(1 - cfg->lr * cfg->weight_decay) : 1.0f;
    float step_size = (float)(cfg->lr / (1 - pow(cfg->beta1, t)));
    float bc2_sqrt = (float)sqrt(1 - pow(cfg->beta2, t));
    agecl__arg args[] = {
        AGECL_ARG(params->buf), AGECL_ARG(p_off), AGECL_ARG(grads->buf), AGECL_ARG(g_off),
        AGECL_ARG(m->buf), AGECL_ARG(m_off), AGECL_ARG(v->buf), AGECL_ARG(v_off),
        AGECL_ARG(count), AGECL_ARG(beta1), AGECL_ARG(one_minus_b1), AGECL_ARG(beta2),
        AGECL_ARG(one_minus_b2), AGECL_ARG(eps), AGECL_ARG(wd), AGECL_ARG(shrink), AGECL_ARG(step_size),
        AGECL_ARG(bc2_sqrt)};
    size_t global = count, local = 256;
    return agecl__run(ctx, "adam", "", "adam_step", 1, &global, &local, AGECL_NARGS(args), args);
}
