/* PReLU with one slope per channel. */
#include "agecl/layers.h"
#include "runtime/launch.h"
#include "error.h"
#include "layers/layer_util.h"

agecl_status agecl_prelu_forward(agecl_ctx *ctx, const agecl_tensor *x, const agecl_tensor *slope,
                                 agecl_tensor *y)
{
    static const char op[] = "prelu_forward";
    if (!ctx) return agecl__fail(AGECL_E_INVALID_ARG, "%s: ctx is NULL", op);
    cl_uint x_off, y_off, a_off;
    AGECL_TRY(agecl__arg_tensor(x, op, "x", &x_off));
    AGECL_TRY(agecl__arg_like(y, op, "y", x, "x", &y_off));
    AGECL_TRY(agecl__arg_count(slope, op, "slope", (size_t)x->c, "x's channel count", &a_off));
    cl_uint C = (cl_uint)x->c, HW = (cl_uint)x->h * (cl_uint)x->w;
    agecl__arg args[] = {AGECL_ARG(x->buf),     AGECL_ARG(x_off), AGECL_ARG(C),
                         AGECL_ARG(HW),         AGECL_ARG(slope->buf), AGECL_ARG(a_off),
                         AGECL_ARG(y->buf),     AGECL_ARG(y_off)};
    size_t grid[3] = {HW, C, (size_t)x->n};
    return agecl__layer_run_grid(ctx, "prelu", "prelu_forward", grid, AGECL_NARGS(args), args);
}

agecl_status agecl_prelu_backward(agecl_ctx *ctx, const agecl_tensor *x, const agecl_tensor *dy,
                                  const agecl_tensor *slope, float dx_acc, agecl_tensor *dx,
                                  float dslope_acc, agecl_tensor *dslope)
{
    static const char op[] = "prelu_backward";
    if (!ctx) return agecl__fail(AGECL_E_INVALID_ARG, "%s: ctx is NULL", op);
    cl_uint x_off, dy_off, dx_off, a_off, da_off;
    AGECL_TRY(agecl__arg_tensor(x, op, "x", &x_off));
    AGECL_TRY(agecl__arg_like(dy, op, "dy", x, "x", &dy_off));
    AGECL_TRY(agecl__arg_like(dx, op, "dx", x, "x", &dx_off));
    AGECL_TRY(agecl__arg_count(slope, op, "slope", (size_t)x->c, "x's channel count", &a_off));
    AGECL_TRY(agecl__arg_count(dslope, op, "dslope", (size_t)x->c, "x's channel count",
                               &da_off));
    cl_uint N = (cl_uint)x->n, C = (cl_uint)x->c, HW = (cl_uint)x->h * (cl_uint)x->w;
    int cpu = agecl__layer_cpu(ctx);
    /* One work-group per channel: dx element-wise, the slope's gradient summed
     * (on CPUs one work-item, taking no local memory: the last argument). */
    size_t local = 1;
    if (!cpu) AGECL_TRY(agecl__layer_reduce_group(ctx, "prelu", "prelu_backward", &local));
    size_t global = (size_t)C * local;
    agecl__arg args[] = {AGECL_ARG(x->buf),      AGECL_ARG(x_off),  AGECL_ARG(dy->buf),
                         AGECL_ARG(dy_off),      AGECL_ARG(N),      AGECL_ARG(C),
                         AGECL_ARG(HW),          AGECL_ARG(slope->buf), AGECL_ARG(a_off),
                         AGECL_ARG(dx_acc),      AGECL_ARG(dx->buf), AGECL_ARG(dx_off),
                         AGECL_ARG(dslope_acc),  AGECL_ARG(dslope->buf), AGECL_ARG(da_off),
                         AGECL_LOCAL(local * sizeof(float))};
    if (cpu) {
        size_t count[2] = {C, 1};
        return agecl__layer_run_cpu(ctx, "prelu_cpu", "prelu_backward", count,
                                    AGECL_NARGS(args) - 1, args);
    }
    return agecl__run(ctx, "prelu", "", "prelu_backward", 1, &global, &local, AGECL_NARGS(args),
                      args);
}
