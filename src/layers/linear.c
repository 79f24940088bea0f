/* The fully connected layer: products on CLBlast, the bias in cl/linear.cl. */
#include "agecl/layers.h"
#include "gemm/blas.h"
#include "runtime/launch.h"
#include "error.h"
#include "layers/layer_util.h"

/* The sizes of a linear layer: x is [rows, in], y (or dy) is [rows, out]. */
typedef struct linear_dims {
    size_t rows, in, out;
} linear_dims;

/* Check x, y (or dy), weight and bias against each other; give the sizes and offsets. */
static agecl_status check_linear(const char *op, const agecl_tensor *x, const agecl_tensor *y,
                                 const char *y_name, const agecl_tensor *weight,
                                 const char *weight_name, const agecl_tensor *bias,
                                 const char *bias_name, linear_dims *d, cl_uint off[4])
{
    AGECL_TRY(agecl__arg_tensor(x, op, "x", &off[0]));
    AGECL_TRY(agecl__arg_tensor(y, op, y_name, &off[1]));
    if (y->n != x->n)
        return agecl__fail(AGECL_E_SHAPE, "%s: x has %d rows (N) but %s has %d", op, x->n, y_name,
                           y->n);
    d->rows = (size_t)x->n;
    d->in = agecl_tensor_numel(x) / d->rows;
    d->out = agecl_tensor_numel(y) / d->rows;
    char what[96];
    snprintf(what, sizeof what, "out*in = %zu*%zu", d->out, d->in);
    AGECL_TRY(agecl__arg_count(weight, op, weight_name, d->out * d->in, what, &off[2]));
    snprintf(what, sizeof what, "out = %zu", d->out);
    return agecl__arg_count(bias, op, bias_name, d->out, what, &off[3]);
}

static agecl__matrix matrix(const agecl_tensor *t, size_t ld, int trans)
{
    return (agecl__matrix){t->buf, t->offset, ld, trans};
}

agecl_status agecl_linear_forward(agecl_ctx *ctx, const agecl_tensor *x,
                                  const agecl_tensor *weight, const agecl_tensor *bias,
                                  agecl_tensor *y)
{
    static const char op[] = "linear_forward";
    if (!ctx) return agecl__fail(AGECL_E_INVALID_ARG, "%s: ctx is NULL", op);
    linear_dims d;
    cl_uint off[4];
    AGECL_TRY(check_linear(op, x, y, "y", weight, "weight", bias, "bias", &d, off));
    /* y[rows, out] = x[rows, in] weight[out, in]^T, then + bias. */
    AGECL_TRY(agecl__gemm(ctx, "linear_forward: y = x weight^T", d.rows, d.out, d.in, 1.0f,
                          matrix(x, d.in, 0), matrix(weight, d.in, 1), 0.0f,
                          matrix(y, d.out, 0)));
    cl_uint total = (cl_uint)(d.rows * d.out), out = (cl_uint)d.out;
    agecl__arg args[] = {AGECL_ARG(y->buf), AGECL_ARG(off[1]), AGECL_ARG(total), AGECL_ARG(out),
                         AGECL_ARG(bias->buf), AGECL_ARG(off[3])};
    return agecl__layer_run(ctx, "linear", "linear_bias_add", total, AGECL_NARGS(args), args);
}

agecl_status agecl_linear_backward(agecl_ctx *ctx, const agecl_tensor *x, const agecl_tensor *dy,
                                   const agecl_tensor *weight, float dx_acc, agecl_tensor *dx,
                                   float dparam_acc, agecl_tensor *dweight, agecl_tensor *dbias)
{
    static const char op[] = "linear_backward";
    if (!ctx) return agecl__fail(AGECL_E_INVALID_ARG, "%s: ctx is NULL", op);
    linear_dims d;
    cl_uint off[4], w_off, dx_off;
    AGECL_TRY(check_linear(op, x, dy, "dy", dweight, "dweight", dbias, "dbias", &d, off));
    AGECL_TRY(agecl__arg_count(weight, op, "weight", d.out * d.in, "dweight's size", &w_off));
    AGECL_TRY(agecl__arg_like(dx, op, "dx", x, "x", &dx_off));
    /* dx[rows, in] = dy[rows, out] weight[out, in] */
    AGECL_TRY(agecl__gemm(ctx, "linear_backward: dx = dy weight", d.rows, d.in, d.out, 1.0f,
                          matrix(dy, d.out, 0), matrix(weight, d.in, 0), dx_acc,
                          matrix(dx, d.in, 0)));
    /* dweight[out, in] = dy[rows, out]^T x[rows, in] */
    AGECL_TRY(agecl__gemm(ctx, "linear_backward: dweight = dy^T x", d.out, d.in, d.rows, 1.0f,
                          matrix(dy, d.out, 1), matrix(x, d.in, 0), dparam_acc,
                          matrix(dweight, d.in, 0)));
    cl_uint rows = (cl_uint)d.rows, out = (cl_uint)d.out;
    agecl__arg args[] = {AGECL_ARG(dy->buf), AGECL_ARG(off[1]), AGECL_ARG(rows), AGECL_ARG(out),
                         AGECL_ARG(dparam_acc), AGECL_ARG(dbias->buf), AGECL_ARG(off[3])};
    return agecl__layer_run(ctx, "linear", "linear_bias_backward", out, AGECL_NARGS(args), args);
}
