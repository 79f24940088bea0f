/* The strided subsample: PyTorch's max-pool of kernel 1 and stride s. */
#include "agecl/layers.h"
#include "error.h"
#include "layers/layer_plan.h"
#include "layers/layer_util.h"

enum { SUB_FORWARD, SUB_SCALE, SUB_SCATTER };

static int out_size(int in, int stride) { return (in + stride - 1) / stride; }

/* Check that `small` is `big` subsampled by stride. */
static agecl_status check_pair(const char *op, const agecl_tensor *big, const char *big_name,
                               const agecl_tensor *small, const char *small_name, int stride)
{
    if (small->n != big->n || small->c != big->c || small->h != out_size(big->h, stride) ||
        small->w != out_size(big->w, stride))
        return agecl__fail(AGECL_E_SHAPE, "%s: %s is %dx%dx%dx%d but %s %dx%dx%dx%d with stride "
                           "%d needs %dx%dx%dx%d", op, small_name, small->n, small->c, small->h,
                           small->w, big_name, big->n, big->c, big->h, big->w, stride, big->n,
                           big->c, out_size(big->h, stride), out_size(big->w, stride));
    return AGECL_OK;
}

/* Forward and the backward's scatter: a work-item per output position; the
 * backward's scaling of dx (acc other than 0 and 1): one per element. */
agecl_status agecl__subsample_plan(agecl_layer_plan *p)
{
    const agecl_layer_desc *d = &p->d;
    size_t grid[3] = {(size_t)out_size(d->w, d->stride), (size_t)out_size(d->h, d->stride),
                      (size_t)d->n * d->c};
    size_t total = (size_t)d->n * d->c * d->h * d->w;
    AGECL_TRY(agecl__layer_launch_grid(p->ctx, "elementwise", "subsample_forward", grid,
                                       &p->k[SUB_FORWARD]));
    AGECL_TRY(agecl__layer_launch(p->ctx, "elementwise", "scale", total, &p->k[SUB_SCALE]));
    return agecl__layer_launch_grid(p->ctx, "elementwise", "subsample_scatter_add", grid,
                                    &p->k[SUB_SCATTER]);
}

agecl_status agecl_layer_subsample_forward(const agecl_layer_plan *p, const agecl_tensor *x,
                                           agecl_tensor *y)
{
    static const char op[] = "subsample_forward";
    cl_uint x_off, y_off;
    AGECL_TRY(agecl__layer_plan_check(p, op, AGECL_LAYER_SUBSAMPLE, AGECL_LAYER_SUBSAMPLE, x, "x",
                                      &x_off));
    AGECL_TRY(agecl__arg_tensor(y, op, "y", &y_off));
    int stride = p->d.stride;
    AGECL_TRY(check_pair(op, x, "x", y, "y", stride));
    cl_uint H = (cl_uint)x->h, W = (cl_uint)x->w, OH = (cl_uint)y->h, OW = (cl_uint)y->w,
            s = (cl_uint)stride;
    agecl__arg args[] = {AGECL_ARG(x->buf), AGECL_ARG(x_off), AGECL_ARG(H),  AGECL_ARG(W),
                         AGECL_ARG(y->buf), AGECL_ARG(y_off), AGECL_ARG(OH), AGECL_ARG(OW),
                         AGECL_ARG(s)};
    return agecl__launch_run(p->ctx, &p->k[SUB_FORWARD], AGECL_NARGS(args), args);
}

agecl_status agecl_layer_subsample_backward(const agecl_layer_plan *p, const agecl_tensor *dy,
                                            float acc, agecl_tensor *dx)
{
    static const char op[] = "subsample_backward";
    cl_uint dy_off, dx_off;
    AGECL_TRY(agecl__arg_tensor(dy, op, "dy", &dy_off));
    AGECL_TRY(agecl__layer_plan_check(p, op, AGECL_LAYER_SUBSAMPLE, AGECL_LAYER_SUBSAMPLE, dx,
                                      "dx", &dx_off));
    int stride = p->d.stride;
    AGECL_TRY(check_pair(op, dx, "dx", dy, "dy", stride));
    /* dx = acc * dx (0: zeroed without reading; 1: untouched), then the
     * strided positions get dy added. */
    if (acc == 0.0f) {
        AGECL_TRY(agecl_tensor_fill(p->ctx, dx, 0.0f));
    } else if (acc != 1.0f) {
        cl_uint n = (cl_uint)agecl_tensor_numel(dx);
        agecl__arg args[] = {AGECL_ARG(dx->buf), AGECL_ARG(dx_off), AGECL_ARG(n), AGECL_ARG(acc)};
        AGECL_TRY(agecl__launch_run(p->ctx, &p->k[SUB_SCALE], AGECL_NARGS(args), args));
    }
    cl_uint H = (cl_uint)dx->h, W = (cl_uint)dx->w, OH = (cl_uint)dy->h, OW = (cl_uint)dy->w,
            s = (cl_uint)stride;
    agecl__arg args[] = {AGECL_ARG(dy->buf), AGECL_ARG(dy_off), AGECL_ARG(OH), AGECL_ARG(OW),
                         AGECL_ARG(dx->buf), AGECL_ARG(dx_off), AGECL_ARG(H),  AGECL_ARG(W),
                         AGECL_ARG(s)};
    return agecl__launch_run(p->ctx, &p->k[SUB_SCATTER], AGECL_NARGS(args), args);
}

agecl_status agecl_subsample_forward(agecl_ctx *ctx, const agecl_tensor *x, int stride,
                                     agecl_tensor *y)
{
    agecl_layer_plan p;
    AGECL_TRY(agecl__layer_plan_for(ctx, "subsample_forward", AGECL_LAYER_SUBSAMPLE, x, "x",
                                    stride, &p));
    return agecl_layer_subsample_forward(&p, x, y);
}

agecl_status agecl_subsample_backward(agecl_ctx *ctx, const agecl_tensor *dy, int stride,
                                      float acc, agecl_tensor *dx)
{
    static const char op[] = "subsample_backward";
    agecl_layer_plan p;
    if (!ctx) return agecl__fail(AGECL_E_INVALID_ARG, "%s: ctx is NULL", op);
    cl_uint dy_off;
    AGECL_TRY(agecl__arg_tensor(dy, op, "dy", &dy_off));
    AGECL_TRY(agecl__layer_plan_for(ctx, op, AGECL_LAYER_SUBSAMPLE, dx, "dx", stride, &p));
    return agecl_layer_subsample_backward(&p, dy, acc, dx);
}
