/* Convolution plans: checking a description, choosing each pass's algorithm,
 * checking the tensors of each call against the plan, and dispatching. */
#include <stdlib.h>
#include "conv/conv2d_plan.h"
#include "runtime/args.h"
#include "runtime/launch.h"
#include "error.h"

static agecl_status check_desc(const agecl_conv2d_desc *d)
{
    if (!agecl__conv2d_sizes_ok(d))
        return agecl__fail(AGECL_E_INVALID_ARG,
                           "conv2d_plan_create: sizes must be positive (n %d, c_in %d, h %d, "
                           "w %d, c_out %d)", d->n, d->c_in, d->h, d->w, d->c_out);
    if (!agecl__conv2d_kernel_ok(d))
        return agecl__fail(AGECL_E_UNSUPPORTED,
                           "conv2d_plan_create: kernel %d with padding %d (supported: kernel 3 "
                           "with padding 1, kernel 1 with padding 0)", d->kernel, d->pad);
    if (!agecl__conv2d_stride_ok(d))
        return agecl__fail(AGECL_E_UNSUPPORTED,
                           "conv2d_plan_create: stride %d (supported: 1 and 2)", d->stride);
    return AGECL_OK;
}

/* The algorithm of plans created with AUTO: the context's conv_algo
 * (AGECL_CONV_ALGO) when set. */
static agecl_status forced_algo(const agecl_ctx *ctx, agecl_conv2d_algo *algo)
{
    const char *force = agecl_ctx_options(ctx)->conv_algo;
    if (*algo != AGECL_CONV_AUTO || !*force) return AGECL_OK;
    agecl_status s = agecl_conv2d_algo_parse(force, algo);
    if (s != AGECL_OK)
        return agecl__fail(s, "conv2d_plan_create: AGECL_CONV_ALGO is '%s' (auto, im2col, "
                              "clblast, winograd, fft, implicit, winograd4)", force);
    return AGECL_OK;
}

/* Choose each pass's algorithm, then create the state of each one chosen. */
static agecl_status choose_and_create(agecl_conv2d_plan *p, agecl_conv2d_algo algo)
{
    const agecl_conv2d_desc *d = &p->d;
    agecl_conv2d_algo chosen[AGECL_CONV_PASS_COUNT] = {algo, algo, algo};
    if (algo == AGECL_CONV_AUTO) AGECL_TRY(agecl__conv2d_find(p->ctx, d, chosen));
    for (int pass = 0; pass < AGECL_CONV_PASS_COUNT; pass++) {
        agecl_conv2d_algo a = chosen[pass];
        if (!agecl_conv2d_algo_supports(p->ctx, d, a, pass)) a = AGECL_CONV_IM2COL_GEMM;
        p->pass[pass] = agecl__conv2d_algo_of(a);
    }
    for (int pass = 0; pass < AGECL_CONV_PASS_COUNT; pass++) {
        const agecl__conv2d_algo *a = p->pass[pass];
        size_t ws[AGECL_CONV_PASS_COUNT] = {0};
        if (p->state[a->id]) continue;
        AGECL_TRY(a->create(p->ctx, d, &p->state[a->id], ws));
        for (int q = 0; q < AGECL_CONV_PASS_COUNT; q++)
            if (p->pass[q] == a && ws[q] > p->workspace) p->workspace = ws[q];
    }
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
    if (algo != AGECL_CONV_AUTO && !agecl__conv2d_algo_of(algo))
        return agecl__fail(AGECL_E_UNSUPPORTED, "conv2d_plan_create: algorithm '%s' is not built "
                           "into this library", agecl_conv2d_algo_name(algo));
    AGECL_TRY(check_desc(d));
    AGECL_TRY(forced_algo(ctx, &algo));
    agecl_conv2d_plan *p = calloc(1, sizeof *p);
    if (!p) return agecl__fail(AGECL_E_OUT_OF_MEMORY, "conv2d_plan_create: plan");
    p->ctx = ctx;
    p->d = *d;
    p->out_h = agecl__conv2d_out_size(d->h, d);
    p->out_w = agecl__conv2d_out_size(d->w, d);
    agecl_status s = choose_and_create(p, algo);
    if (s == AGECL_OK && p->workspace > 0xffffffffu)
        s = agecl__fail(AGECL_E_UNSUPPORTED,
                        "conv2d_plan_create: a workspace of %zu elements, past 2^32", p->workspace);
    if (s != AGECL_OK) {
        agecl_conv2d_plan_destroy(p);
        return s;
    }
    *out = p;
    return AGECL_OK;
}

void agecl_conv2d_plan_destroy(agecl_conv2d_plan *p)
{
    if (!p) return;
    for (int a = 0; a < AGECL_CONV_ALGO_COUNT; a++)
        if (p->state[a]) agecl__conv2d_algo_of((agecl_conv2d_algo)a)->destroy(p->state[a]);
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

agecl_conv2d_algo agecl_conv2d_plan_algo(const agecl_conv2d_plan *p, agecl_conv2d_pass pass)
{
    if (!p || (int)pass < 0 || pass >= AGECL_CONV_PASS_COUNT) return AGECL_CONV_AUTO;
    return p->pass[pass]->id;
}

/* A tensor of the call: present, of exactly the plan's shape, addressable by kernels. */
static agecl_status check_tensor(const agecl_tensor *t, const char *op, const char *name,
                                 int n, int c, int h, int w)
{
    cl_uint off;
    return agecl__arg_shape(t, op, name, n, c, h, w, "the plan", &off);
}

static agecl_status check_workspace(const agecl_conv2d_plan *p, const agecl_tensor *ws,
                                    const char *op)
{
    if (!p->workspace) return AGECL_OK;
    if (!ws)
        return agecl__fail(AGECL_E_INVALID_ARG, "%s: the plan needs a workspace of %zu bytes",
                           op, p->workspace * sizeof(float));
    cl_uint off;
    AGECL_TRY(agecl__arg_tensor(ws, op, "workspace", &off));
    if (agecl_tensor_numel(ws) < p->workspace)
        return agecl__fail(AGECL_E_SHAPE, "%s: workspace of %zu elements, the plan needs %zu",
                           op, agecl_tensor_numel(ws), p->workspace);
    return AGECL_OK;
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

/* Run a pass on the algorithm chosen for it. */
static agecl_status run(const agecl_conv2d_plan *p, agecl_conv2d_pass pass, const agecl_tensor *a,
                        const agecl_tensor *b, float beta, agecl_tensor *out,
                        const agecl_tensor *ws)
{
    const agecl__conv2d_algo *algo = p->pass[pass];
    return algo->run[pass](p->state[algo->id], a, b, beta, out, ws);
}

agecl_status agecl_conv2d_forward(agecl_conv2d_plan *p, const agecl_tensor *x,
                                  const agecl_tensor *wt, float acc, agecl_tensor *y,
                                  const agecl_tensor *workspace)
{
    AGECL_TRY(check_call(p, "conv2d_forward", x, "x", wt, "wt", y, "y", workspace));
    return run(p, AGECL_CONV_FORWARD, x, wt, acc, y, workspace);
}

agecl_status agecl_conv2d_backward_data(agecl_conv2d_plan *p, const agecl_tensor *dy,
                                        const agecl_tensor *wt, float acc, agecl_tensor *dx,
                                        const agecl_tensor *workspace)
{
    AGECL_TRY(check_call(p, "conv2d_backward_data", dx, "dx", wt, "wt", dy, "dy", workspace));
    return run(p, AGECL_CONV_BACKWARD_DATA, dy, wt, acc, dx, workspace);
}

agecl_status agecl_conv2d_backward_filter(agecl_conv2d_plan *p, const agecl_tensor *x,
                                          const agecl_tensor *dy, float acc, agecl_tensor *dw,
                                          const agecl_tensor *workspace)
{
    AGECL_TRY(check_call(p, "conv2d_backward_filter", x, "x", dw, "dw", dy, "dy", workspace));
    return run(p, AGECL_CONV_BACKWARD_FILTER, x, dy, acc, dw, workspace);
}

size_t agecl_conv2d_plan_prepared_bytes(const agecl_conv2d_plan *p)
{
    const agecl__conv2d_algo *a = p ? p->pass[AGECL_CONV_FORWARD] : NULL;
    return a && a->prepared_floats ? a->prepared_floats(p->state[a->id]) * sizeof(float) : 0;
}

/* prepared: a tensor of at least the plan's prepared floats, which its forward
 * algorithm has. */
static agecl_status check_prepared(const agecl_conv2d_plan *p, const agecl_tensor *prepared,
                                   const char *op)
{
    size_t need = agecl_conv2d_plan_prepared_bytes(p) / sizeof(float);
    if (!need)
        return agecl__fail(AGECL_E_INVALID_ARG, "%s: the plan's forward (%s) reads the weights "
                           "as they are (prepared bytes 0): use conv2d_forward", op,
                           p->pass[AGECL_CONV_FORWARD]->name);
    cl_uint off;
    AGECL_TRY(agecl__arg_tensor(prepared, op, "prepared", &off));
    if (agecl_tensor_numel(prepared) < need)
        return agecl__fail(AGECL_E_SHAPE, "%s: prepared has %zu elements, the plan needs %zu", op,
                           agecl_tensor_numel(prepared), need);
    return AGECL_OK;
}

agecl_status agecl_conv2d_prepare(agecl_conv2d_plan *p, const agecl_tensor *wt,
                                  agecl_tensor *prepared)
{
    const char *op = "conv2d_prepare";
    if (!p) return agecl__fail(AGECL_E_INVALID_ARG, "%s: plan is NULL", op);
    AGECL_TRY(check_prepared(p, prepared, op));
    const agecl_conv2d_desc *d = &p->d;
    AGECL_TRY(check_tensor(wt, op, "wt", d->c_out, d->c_in, d->kernel, d->kernel));
    const agecl__conv2d_algo *a = p->pass[AGECL_CONV_FORWARD];
    return a->prepare(p->state[a->id], wt, prepared);
}

agecl_status agecl_conv2d_forward_prepared(agecl_conv2d_plan *p, const agecl_tensor *x,
                                           const agecl_tensor *prepared, float acc,
                                           agecl_tensor *y, const agecl_tensor *workspace)
{
    const char *op = "conv2d_forward_prepared";
    if (!p) return agecl__fail(AGECL_E_INVALID_ARG, "%s: plan is NULL", op);
    const agecl_conv2d_desc *d = &p->d;
    AGECL_TRY(check_prepared(p, prepared, op));
    AGECL_TRY(check_tensor(x, op, "x", d->n, d->c_in, d->h, d->w));
    AGECL_TRY(check_tensor(y, op, "y", d->n, d->c_out, p->out_h, p->out_w));
    AGECL_TRY(check_workspace(p, workspace, op));
    const agecl__conv2d_algo *a = p->pass[AGECL_CONV_FORWARD];
    return a->forward_prepared(p->state[a->id], x, prepared, acc, y, workspace);
}
