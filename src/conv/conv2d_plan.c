/* Convolution plans: checking a description, choosing the algorithm, checking the
 * tensors of each call against the plan, and dispatching to the algorithm. */
#include <stdlib.h>
#include "conv/conv2d_plan.h"
#include "core/launch.h"
#include "error.h"

static agecl_status check_desc(const agecl_conv2d_desc *d)
{
    if (d->n <= 0 || d->c_in <= 0 || d->h <= 0 || d->w <= 0 || d->c_out <= 0)
        return agecl__fail(AGECL_E_INVALID_ARG,
                           "conv2d_plan_create: sizes must be positive (n %d, c_in %d, h %d, "
                           "w %d, c_out %d)", d->n, d->c_in, d->h, d->w, d->c_out);
    int shape_ok = (d->kernel == 3 && d->pad == 1) || (d->kernel == 1 && d->pad == 0);
    if (!shape_ok)
        return agecl__fail(AGECL_E_UNSUPPORTED,
                           "conv2d_plan_create: kernel %d with padding %d (supported: kernel 3 "
                           "with padding 1, kernel 1 with padding 0)", d->kernel, d->pad);
    if (d->stride != 1 && d->stride != 2)
        return agecl__fail(AGECL_E_UNSUPPORTED,
                           "conv2d_plan_create: stride %d (supported: 1 and 2)", d->stride);
    return AGECL_OK;
}

agecl_status agecl_conv2d_plan_create(agecl_ctx *ctx, const agecl_conv2d_desc *d,
                                      agecl_conv2d_algo algo, agecl_conv2d_plan **out)
{
    if (!ctx || !d || !out)
        return agecl__fail(AGECL_E_INVALID_ARG, "conv2d_plan_create: ctx, d and out are required");
    *out = NULL;
    if ((int)algo < 0 || algo >= AGECL_CONV_ALGO_COUNT)
        return agecl__fail(AGECL_E_INVALID_ARG, "conv2d_plan_create: unknown algorithm %d",
                           (int)algo);
    AGECL_TRY(check_desc(d));
    agecl_conv2d_plan *p = calloc(1, sizeof *p);
    if (!p) return agecl__fail(AGECL_E_OUT_OF_MEMORY, "conv2d_plan_create: plan");
    p->ctx = ctx;
    p->d = *d;
    p->algo = algo == AGECL_CONV_AUTO ? AGECL_CONV_IM2COL_GEMM : algo;
    p->out_h = (d->h + 2 * d->pad - d->kernel) / d->stride + 1;
    p->out_w = (d->w + 2 * d->pad - d->kernel) / d->stride + 1;
    agecl_status s = AGECL_OK;
    switch (p->algo) {
    case AGECL_CONV_IM2COL_GEMM: s = agecl__conv2d_im2col_prepare(p); break;
    default: s = agecl__fail(AGECL_E_INVALID_ARG, "conv2d_plan_create: unknown algorithm");
    }
    if (s != AGECL_OK) {
        free(p);
        return s;
    }
    *out = p;
    return AGECL_OK;
}

void agecl_conv2d_plan_destroy(agecl_conv2d_plan *p)
{
    free(p);
}

size_t agecl_conv2d_plan_workspace_bytes(const agecl_conv2d_plan *p)
{
    return p ? p->workspace * sizeof(float) : 0;
}

void agecl_conv2d_plan_out_shape(const agecl_conv2d_plan *p, int *n, int *c, int *h, int *w)
{
    if (!p) return;
    if (n) *n = p->d.n;
    if (c) *c = p->d.c_out;
    if (h) *h = p->out_h;
    if (w) *w = p->out_w;
}

agecl_conv2d_algo agecl_conv2d_plan_algo(const agecl_conv2d_plan *p)
{
    return p ? p->algo : AGECL_CONV_AUTO;
}

/* A tensor of the call: present, of exactly the plan's shape, addressable by kernels. */
static agecl_status check_tensor(const agecl_tensor *t, const char *op, const char *name,
                                 int n, int c, int h, int w)
{
    AGECL_TRY(agecl__check_tensor(t, op, name));
    if (t->n != n || t->c != c || t->h != h || t->w != w)
        return agecl__fail(AGECL_E_SHAPE, "%s: %s is %dx%dx%dx%d but the plan expects %dx%dx%dx%d",
                           op, name, t->n, t->c, t->h, t->w, n, c, h, w);
    cl_uint off;
    return agecl__offset(t, name, &off);
}

static agecl_status check_workspace(const agecl_conv2d_plan *p, const agecl_tensor *ws,
                                    const char *op)
{
    if (!p->workspace) return AGECL_OK;
    if (!ws)
        return agecl__fail(AGECL_E_INVALID_ARG, "%s: the plan needs a workspace of %zu bytes",
                           op, p->workspace * sizeof(float));
    AGECL_TRY(agecl__check_tensor(ws, op, "workspace"));
    if (agecl_tensor_numel(ws) < p->workspace)
        return agecl__fail(AGECL_E_SHAPE, "%s: workspace of %zu elements, the plan needs %zu",
                           op, agecl_tensor_numel(ws), p->workspace);
    cl_uint off;
    return agecl__offset(ws, "workspace", &off);
}

/* The tensors every call shares: the input-side tensor (x or dx), the weight-side
 * (wt or dw) and the output-side (y or dy), named as the call names them. */
static agecl_status check_call(const agecl_conv2d_plan *p, const char *op, const agecl_tensor *in,
                               const char *in_name, const agecl_tensor *wt, const char *wt_name,
                               const agecl_tensor *out, const char *out_name,
                               const agecl_tensor *ws)
{
    if (!p) return agecl__fail(AGECL_E_INVALID_ARG, "%s: plan is NULL", op);
    const agecl_conv2d_desc *d = &p->d;
    AGECL_TRY(check_tensor(in, op, in_name, d->n, d->c_in, d->h, d->w));
    AGECL_TRY(check_tensor(wt, op, wt_name, d->c_out, d->c_in, d->kernel, d->kernel));
    AGECL_TRY(check_tensor(out, op, out_name, d->n, d->c_out, p->out_h, p->out_w));
    return check_workspace(p, ws, op);
}

agecl_status agecl_conv2d_forward(agecl_conv2d_plan *p, const agecl_tensor *x,
                                  const agecl_tensor *wt, float beta, agecl_tensor *y,
                                  const agecl_tensor *workspace)
{
    AGECL_TRY(check_call(p, "conv2d_forward", x, "x", wt, "wt", y, "y", workspace));
    switch (p->algo) {
    case AGECL_CONV_IM2COL_GEMM:
        return agecl__conv2d_im2col_forward(p, x, wt, beta, y, workspace);
    default: return agecl__fail(AGECL_E_INVALID_ARG, "conv2d_forward: unknown algorithm");
    }
}

agecl_status agecl_conv2d_backward_data(agecl_conv2d_plan *p, const agecl_tensor *dy,
                                        const agecl_tensor *wt, float beta, agecl_tensor *dx,
                                        const agecl_tensor *workspace)
{
    AGECL_TRY(check_call(p, "conv2d_backward_data", dx, "dx", wt, "wt", dy, "dy", workspace));
    switch (p->algo) {
    case AGECL_CONV_IM2COL_GEMM:
        return agecl__conv2d_im2col_backward_data(p, dy, wt, beta, dx, workspace);
    default: return agecl__fail(AGECL_E_INVALID_ARG, "conv2d_backward_data: unknown algorithm");
    }
}

agecl_status agecl_conv2d_backward_filter(agecl_conv2d_plan *p, const agecl_tensor *x,
                                          const agecl_tensor *dy, float beta, agecl_tensor *dw,
                                          const agecl_tensor *workspace)
{
    AGECL_TRY(check_call(p, "conv2d_backward_filter", x, "x", dw, "dw", dy, "dy", workspace));
    switch (p->algo) {
    case AGECL_CONV_IM2COL_GEMM:
        return agecl__conv2d_im2col_backward_filter(p, x, dy, beta, dw, workspace);
    default: return agecl__fail(AGECL_E_INVALID_ARG, "conv2d_backward_filter: unknown algorithm");
    }
}
