/* Global average pooling: N x C x H x W to N x C x 1 x 1. */
#include "agecl/layers.h"
#include "error.h"
#include "layers/layer_plan.h"
#include "layers/layer_util.h"

enum { POOL_FORWARD, POOL_BACKWARD };

/* Check that `pooled` is N x C x 1 x 1 for the map `map`. */
static agecl_status check_pooled(const char *op, const agecl_tensor *map, const char *map_name,
                                 const agecl_tensor *pooled, const char *pooled_name)
{
    if (pooled->n != map->n || pooled->c != map->c || pooled->h != 1 || pooled->w != 1)
        return agecl__fail(AGECL_E_SHAPE, "%s: %s is %dx%dx%dx%d but %s %dx%dx%dx%d needs "
                           "%dx%dx1x1", op, pooled_name, pooled->n, pooled->c, pooled->h,
                           pooled->w, map_name, map->n, map->c, map->h, map->w, map->n, map->c);
    return AGECL_OK;
}

/* Forward: a work-item per plane; backward: one per element of dx. */
agecl_status agecl__avgpool_plan(agecl_layer_plan *p)
{
    const agecl_layer_desc *d = &p->d;
    size_t planes = (size_t)d->n * d->c, grid[3] = {(size_t)d->h * d->w, 1, planes};
    AGECL_TRY(agecl__layer_launch(p->ctx, "pool", "avgpool_forward", planes,
                                  &p->k[POOL_FORWARD]));
    return agecl__layer_launch_grid(p->ctx, "pool", "avgpool_backward", grid,
                                    &p->k[POOL_BACKWARD]);
}

agecl_status agecl_layer_avgpool_forward(const agecl_layer_plan *p, const agecl_tensor *x,
                                         agecl_tensor *y)
{
    static const char op[] = "avgpool_forward";
    cl_uint x_off, y_off;
    AGECL_TRY(agecl__layer_plan_check(p, op, AGECL_LAYER_AVGPOOL, AGECL_LAYER_AVGPOOL, x, "x",
                                      &x_off));
    AGECL_TRY(agecl__arg_tensor(y, op, "y", &y_off));
    AGECL_TRY(check_pooled(op, x, "x", y, "y"));
    cl_uint planes = (cl_uint)x->n * (cl_uint)x->c, HW = (cl_uint)x->h * (cl_uint)x->w;
    agecl__arg args[] = {AGECL_ARG(x->buf), AGECL_ARG(x_off),  AGECL_ARG(y->buf),
                         AGECL_ARG(y_off),  AGECL_ARG(planes), AGECL_ARG(HW)};
    return agecl__launch_run(p->ctx, &p->k[POOL_FORWARD], AGECL_NARGS(args), args);
}

agecl_status agecl_layer_avgpool_backward(const agecl_layer_plan *p, const agecl_tensor *dy,
                                          float acc, agecl_tensor *dx)
{
    static const char op[] = "avgpool_backward";
    cl_uint dy_off, dx_off;
    AGECL_TRY(agecl__arg_tensor(dy, op, "dy", &dy_off));
    AGECL_TRY(agecl__layer_plan_check(p, op, AGECL_LAYER_AVGPOOL, AGECL_LAYER_AVGPOOL, dx, "dx",
                                      &dx_off));
    AGECL_TRY(check_pooled(op, dx, "dx", dy, "dy"));
    cl_uint HW = (cl_uint)dx->h * (cl_uint)dx->w;
    agecl__arg args[] = {AGECL_ARG(dy->buf), AGECL_ARG(dy_off), AGECL_ARG(dx->buf),
                         AGECL_ARG(dx_off),  AGECL_ARG(HW),     AGECL_ARG(acc)};
    return agecl__launch_run(p->ctx, &p->k[POOL_BACKWARD], AGECL_NARGS(args), args);
}

agecl_status agecl_avgpool_forward(agecl_ctx *ctx, const agecl_tensor *x, agecl_tensor *y)
{
    agecl_layer_plan p;
    AGECL_TRY(agecl__layer_plan_for(ctx, "avgpool_forward", AGECL_LAYER_AVGPOOL, x, "x", 0, &p));
    return agecl_layer_avgpool_forward(&p, x, y);
}

agecl_status agecl_avgpool_backward(agecl_ctx *ctx, const agecl_tensor *dy, float acc,
                                    agecl_tensor *dx)
{
    static const char op[] = "avgpool_backward";
    agecl_layer_plan p;
    if (!ctx) return agecl__fail(AGECL_E_INVALID_ARG, "%s: ctx is NULL", op);
    cl_uint dy_off;
    AGECL_TRY(agecl__arg_tensor(dy, op, "dy", &dy_off));
    AGECL_TRY(agecl__layer_plan_for(ctx, op, AGECL_LAYER_AVGPOOL, dx, "dx", 0, &p));
    return agecl_layer_avgpool_backward(&p, dy, acc, dx);
}
