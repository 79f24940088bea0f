/* The exponential moving average of weights (cl/ema.cl). */
#include <math.h>
#include "agecl/optim.h"
#include "runtime/launch.h"
#include "error.h"
#include "runtime/rows.h"

agecl_status agecl_ema_update(agecl_ctx *ctx, double decay, const agecl_tensor *x,
                              agecl_tensor *avg)
{
    const char *op = "ema_update";
    if (!ctx) return agecl__fail(AGECL_E_INVALID_ARG, "%s: ctx is NULL", op);
    if (!(decay >= 0 && decay <= 1))
        return agecl__fail(AGECL_E_INVALID_ARG, "%s: decay %g outside [0, 1]", op, decay);
    cl_uint a_off, x_off;
    AGECL_TRY(agecl__arg_tensor(avg, op, "avg", &a_off));
    cl_uint count = (cl_uint)agecl_tensor_numel(avg);
    AGECL_TRY(agecl__arg_count(x, op, "x", count, NULL, &x_off));
    float d = (float)decay, one_minus = (float)(1 - decay);
    agecl__arg args[] = {AGECL_ARG(avg->buf), AGECL_ARG(a_off), AGECL_ARG(x->buf),
                         AGECL_ARG(x_off), AGECL_ARG(count), AGECL_ARG(d), AGECL_ARG(one_minus)};
    size_t global = count, local = 256;
    return agecl__run(ctx, "ema", "", "ema_update", 1, &global, &local, AGECL_NARGS(args), args);
}

agecl_status agecl_ema_swap(agecl_ctx *ctx, agecl_tensor *a, agecl_tensor *b)
{
    const char *op = "ema_swap";
    if (!ctx) return agecl__fail(AGECL_E_INVALID_ARG, "%s: ctx is NULL", op);
    cl_uint a_off, b_off;
    AGECL_TRY(agecl__arg_tensor(a, op, "a", &a_off));
    cl_uint count = (cl_uint)agecl_tensor_numel(a);
    AGECL_TRY(agecl__arg_count(b, op, "b", count, NULL, &b_off));
    if (a->buf == b->buf && a_off < b_off + count && b_off < a_off + count)
        return agecl__fail(AGECL_E_INVALID_ARG, "%s: a and b overlap", op);
    agecl__arg args[] = {AGECL_ARG(a->buf), AGECL_ARG(a_off), AGECL_ARG(b->buf), AGECL_ARG(b_off),
                         AGECL_ARG(count)};
    size_t global = count, local = 256;
    return agecl__run(ctx, "ema", "", "ema_swap", 1, &global, &local, AGECL_NARGS(args), args);
}
