/* The residual add and its backward. */
#include "agecl/layers.h"
#include "runtime/launch.h"
#include "error.h"
#include "layers/layer_util.h"

agecl_status agecl_add_forward(agecl_ctx *ctx, const agecl_tensor *a, const agecl_tensor *b,
                               agecl_tensor *y)
{
    static const char op[] = "add_forward";
    if (!ctx) return agecl__fail(AGECL_E_INVALID_ARG, "%s: ctx is NULL", op);
    cl_uint a_off, b_off, y_off;
    AGECL_TRY(agecl__arg_tensor(a, op, "a", &a_off));
    AGECL_TRY(agecl__arg_like(b, op, "b", a, "a", &b_off));
    AGECL_TRY(agecl__arg_like(y, op, "y", a, "a", &y_off));
    cl_uint total = (cl_uint)agecl_tensor_numel(a);
    agecl__arg args[] = {AGECL_ARG(a->buf), AGECL_ARG(a_off), AGECL_ARG(b->buf), AGECL_ARG(b_off),
                         AGECL_ARG(y->buf), AGECL_ARG(y_off), AGECL_ARG(total)};
    return agecl__layer_run(ctx, "elementwise", "add_forward", total, AGECL_NARGS(args), args);
}

agecl_status agecl_add_backward(agecl_ctx *ctx, const agecl_tensor *dy, float da_acc,
                                agecl_tensor *da, float db_acc, agecl_tensor *db)
{
    static const char op[] = "add_backward";
    if (!ctx) return agecl__fail(AGECL_E_INVALID_ARG, "%s: ctx is NULL", op);
    cl_uint dy_off, da_off, db_off;
    AGECL_TRY(agecl__arg_tensor(dy, op, "dy", &dy_off));
    AGECL_TRY(agecl__arg_like(da, op, "da", dy, "dy", &da_off));
    AGECL_TRY(agecl__arg_like(db, op, "db", dy, "dy", &db_off));
    if (da->buf == db->buf && da->offset == db->offset)
        return agecl__fail(AGECL_E_INVALID_ARG, "%s: da and db are the same tensor", op);
    cl_uint total = (cl_uint)agecl_tensor_numel(dy);
    agecl__arg args[] = {AGECL_ARG(dy->buf), AGECL_ARG(dy_off), AGECL_ARG(total),
                         AGECL_ARG(da_acc),  AGECL_ARG(da->buf), AGECL_ARG(da_off),
                         AGECL_ARG(db_acc),  AGECL_ARG(db->buf), AGECL_ARG(db_off)};
    return agecl__layer_run(ctx, "elementwise", "add_backward", total, AGECL_NARGS(args), args);
}
