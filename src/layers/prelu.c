/* PReLU with one slope per channel. */
#include "agecl/layers.h"
#include "error.h"
#include "layers/layer_plan.h"
#include "layers/layer_util.h"

enum { PRELU_FORWARD, PRELU_BACKWARD };

/* The forward is element-wise (one kernel for every device); the backward runs
 * one work-group per channel: dx element-wise, the slope's gradient summed (on
 * CPUs one work-item, taking no local memory). */
agecl_status agecl__prelu_plan(agecl_layer_plan *p)
{
    const agecl_layer_desc *d = &p->d;
    size_t grid[3] = {(size_t)d->h * d->w, (size_t)d->c, (size_t)d->n};
    AGECL_TRY(agecl__layer_launch_grid(p->ctx, "prelu", "prelu_forward", grid,
                                       &p->k[PRELU_FORWARD]));
    if (p->cpu) {
        size_t count[2] = {(size_t)d->c, 1};
        return agecl__layer_launch_cpu(p->ctx, "prelu_cpu", "prelu_backward", count,
                                       &p->k[PRELU_BACKWARD]);
    }
    return agecl__layer_launch_reduce(p->ctx, "prelu", "prelu_backward", (size_t)d->c,
                                      &p->k[PRELU_BACKWARD]);
}

agecl_status agecl_layer_prelu_forward(const agecl_layer_plan *p, const agecl_tensor *x,
                                       const agecl_tensor *slope, agecl_tensor *y)
{
    static const char op[] = "prelu_forward";
    cl_uint x_off, y_off, a_off;
    AGECL_TRY(agecl__layer_plan_check(p, op, AGECL_LAYER_PRELU, AGECL_LAYER_PRELU, x, "x", &x_off));
    AGECL_TRY(agecl__arg_like(y, op, "y", x, "x", &y_off));
    AGECL_TRY(agecl__arg_count(slope, op, "slope", (size_t)x->c, "x's channel count", &a_off));
    cl_uint C = (cl_uint)x->c, HW = (cl_uint)x->h * (cl_uint)x->w;
    agecl__arg args[] = {AGECL_ARG(x->buf),     AGECL_ARG(x_off), AGECL_ARG(C),
                         AGECL_ARG(HW),         AGECL_ARG(slope->buf), AGECL_ARG(a_off),
                         AGECL_ARG(y->buf),     AGECL_ARG(y_off)};
    return agecl__launch_run(p->ctx, &p->k[PRELU_FORWARD], AGECL_NARGS(args), args);
}

agecl_status agecl_layer_prelu_backward(const agecl_layer_plan *p, const agecl_tensor *x,
                                        const agecl_tensor *dy, const agecl_tensor *slope,
                                        float dx_acc, agecl_tensor *dx, float dslope_acc,
                                        agecl_tensor *dslope)
{
    static const char op[] = "prelu_backward";
    cl_uint x_off, dy_off, dx_off, a_off, da_off;
    AGECL_TRY(agecl__layer_plan_check(p, op, AGECL_LAYER_PRELU, AGECL_LAYER_PRELU, x, "x", &x_off));
    AGECL_TRY(agecl__arg_like(dy, op, "dy", x, "x", &dy_off));
    AGECL_TRY(agecl__arg_like(dx, op, "dx", x, "x", &dx_off));
    AGECL_TRY(agecl__arg_count(slope, op, "slope", (size_t)x->c, "x's channel count", &a_off));
    AGECL_TRY(agecl__arg_count(dslope, op, "dslope", (size_t)x->c, "x's channel count",
                               &da_off));
    cl_uint N = (cl_uint)x->n, C = (cl_uint)x->c, HW = (cl_uint)x->h * (cl_uint)x->w;
    const agecl__launch *l = &p->k[PRELU_BACKWARD];
    agecl__arg args[] = {AGECL_ARG(x->buf),      AGECL_ARG(x_off),  AGECL_ARG(dy->buf),
                         AGECL_ARG(dy_off),      AGECL_ARG(N),      AGECL_ARG(C),
                         AGECL_ARG(HW),          AGECL_ARG(slope->buf), AGECL_ARG(a_off),
                         AGECL_ARG(dx_acc),      AGECL_ARG(dx->buf), AGECL_ARG(dx_off),
                         AGECL_ARG(dslope_acc),  AGECL_ARG(dslope->buf), AGECL_ARG(da_off),
                         AGECL_LOCAL(l->local[0] * sizeof(float))};
    /* The CPU kernel takes no local memory: the last argument is left out. */
    return agecl__launch_run(p->ctx, l, AGECL_NARGS(args) - (p->cpu ? 1 : 0), args);
}

agecl_status agecl_prelu_forward(agecl_ctx *ctx, const agecl_tensor *x, const agecl_tensor *slope,
                                 agecl_tensor *y)
{
    agecl_layer_plan p;
    AGECL_TRY(agecl__layer_plan_for(ctx, "prelu_forward", AGECL_LAYER_PRELU, x, "x", 0, &p));
    return agecl_layer_prelu_forward(&p, x, slope, y);
}

agecl_status agecl_prelu_backward(agecl_ctx *ctx, const agecl_tensor *x, const agecl_tensor *dy,
                                  const agecl_tensor *slope, float dx_acc, agecl_tensor *dx,
                                  float dslope_acc, agecl_tensor *dslope)
{
    agecl_layer_plan p;
    AGECL_TRY(agecl__layer_plan_for(ctx, "prelu_backward", AGECL_LAYER_PRELU, x, "x", 0, &p));
    return agecl_layer_prelu_backward(&p, x, dy, slope, dx_acc, dx, dslope_acc, dslope);
}
