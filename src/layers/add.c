/* The residual add and its backward. */
#include "agecl/layers.h"
#include "error.h"
#include "layers/layer_plan.h"
#include "layers/layer_util.h"

enum { ADD_FORWARD, ADD_BACKWARD };

static cl_uint numel(const agecl_layer_desc *d)
{
    return (cl_uint)d->n * (cl_uint)d->c * (cl_uint)d->h * (cl_uint)d->w;
}

agecl_status agecl__add_plan(agecl_layer_plan *p)
{
    AGECL_TRY(agecl__layer_launch(p->ctx, "elementwise", "add_forward", numel(&p->d),
                                  &p->k[ADD_FORWARD]));
    return agecl__layer_launch(p->ctx, "elementwise", "add_backward", numel(&p->d),
                               &p->k[ADD_BACKWARD]);
}

agecl_status agecl_layer_add_forward(const agecl_layer_plan *p, const agecl_tensor *a,
                                     const agecl_tensor *b, agecl_tensor *y)
{
    static const char op[] = "add_forward";
    cl_uint a_off, b_off, y_off;
    AGECL_TRY(agecl__layer_plan_check(p, op, AGECL_LAYER_ADD, AGECL_LAYER_ADD, a, "a", &a_off));
    AGECL_TRY(agecl__arg_like(b, op, "b", a, "a", &b_off));
    AGECL_TRY(agecl__arg_like(y, op, "y", a, "a", &y_off));
    cl_uint total = numel(&p->d);
    agecl__arg args[] = {AGECL_ARG(a->buf), AGECL_ARG(a_off), AGECL_ARG(b->buf), AGECL_ARG(b_off),
                         AGECL_ARG(y->buf), AGECL_ARG(y_off), AGECL_ARG(total)};
    return agecl__launch_run(p->ctx, &p->k[ADD_FORWARD], AGECL_NARGS(args), args);
}

agecl_status agecl_layer_add_backward(const agecl_layer_plan *p, const agecl_tensor *dy,
                                      float da_acc, agecl_tensor *da, float db_acc,
                                      agecl_tensor *db)
{
    static const char op[] = "add_backward";
    cl_uint dy_off, da_off, db_off;
    AGECL_TRY(agecl__layer_plan_check(p, op, AGECL_LAYER_ADD, AGECL_LAYER_ADD, dy, "dy", &dy_off));
    AGECL_TRY(agecl__arg_like(da, op, "da", dy, "dy", &da_off));
    AGECL_TRY(agecl__arg_like(db, op, "db", dy, "dy", &db_off));
    if (da->buf == db->buf && da->offset == db->offset)
        return agecl__fail(AGECL_E_INVALID_ARG, "%s: da and db are the same tensor", op);
    cl_uint total = numel(&p->d);
    agecl__arg args[] = {AGECL_ARG(dy->buf), AGECL_ARG(dy_off), AGECL_ARG(total),
                         AGECL_ARG(da_acc),  AGECL_ARG(da->buf), AGECL_ARG(da_off),
                         AGECL_ARG(db_acc),  AGECL_ARG(db->buf), AGECL_ARG(db_off)};
    return agecl__launch_run(p->ctx, &p->k[ADD_BACKWARD], AGECL_NARGS(args), args);
}

agecl_status agecl_add_forward(agecl_ctx *ctx, const agecl_tensor *a, const agecl_tensor *b,
                               agecl_tensor *y)
{
    agecl_layer_plan p;
    AGECL_TRY(agecl__layer_plan_for(ctx, "add_forward", AGECL_LAYER_ADD, a, "a", 0, &p));
    return agecl_layer_add_forward(&p, a, b, y);
}

agecl_status agecl_add_backward(agecl_ctx *ctx, const agecl_tensor *dy, float da_acc,
                                agecl_tensor *da, float db_acc, agecl_tensor *db)
{
    agecl_layer_plan p;
    AGECL_TRY(agecl__layer_plan_for(ctx, "add_backward", AGECL_LAYER_ADD, dy, "dy", 0, &p));
    return agecl_layer_add_backward(&p, dy, da_acc, da, db_acc, db);
}
