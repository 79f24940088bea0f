/* BatchNorm2d, with PReLU as an optional fused epilogue (slope NULL: none):
 * training-mode statistics, normalisation, inference and backward. The kernels
 * (cl/batchnorm.cl, cl/batchnorm_cpu.cl on CPUs) are written once for both
 * epilogues; with the PReLU, the BN output z is never stored (the backward
 * recomputes it from x) and the PReLU's input gradient never leaves the
 * backward kernel. */
#include "agecl/layers.h"
#include "runtime/launch.h"
#include "error.h"
#include "layers/layer_util.h"

/* Kernel arguments, gathered in order (the fused backward takes 30); n past
 * the array means one did not fit, which run() reports. */
enum { BN_MAX_ARGS = 32 };
typedef struct bn_args {
    agecl__arg a[BN_MAX_ARGS];
    int n;
} bn_args;

static void put(bn_args *l, agecl__arg a)
{
    if (l->n < BN_MAX_ARGS) l->a[l->n] = a;
    l->n++;
}

/* The two arguments (buffer, offset) of a checked per-channel tensor. */
static void put_ch(bn_args *l, const agecl__channel_arg *c)
{
    put(l, AGECL_ARG(c->t->buf));
    put(l, AGECL_ARG(c->off));
}

static agecl_status fits(const bn_args *l, const char *kernel)
{
    return l->n <= BN_MAX_ARGS ? AGECL_OK
                               : agecl__fail(AGECL_E_UNSUPPORTED, "%s: %d arguments, room for %d",
                                             kernel, l->n, (int)BN_MAX_ARGS);
}

static const char *program(int cpu) { return cpu ? "batchnorm_cpu" : "batchnorm"; }

/* Check the per-channel tensors p (all present) and, with the PReLU, the slope
 * tensor `extra` named `extra_name`. */
static agecl_status check_channels(const char *op, agecl__channel_arg *p, int count, int C,
                                   agecl__channel_arg *extra)
{
    AGECL_TRY(agecl__layer_channels(op, p, count, C));
    return extra->t ? agecl__layer_channels(op, extra, 1, C) : AGECL_OK;
}

/* The mean and biased variance of each channel into save_mean/save_invstd, and
 * the running statistics updated, after checking momentum, eps and that x has
 * more than one value per channel. One work-group per channel (on CPUs one
 * work-item, taking no local memory: the last STATS_LOCALS arguments). */
static agecl_status stats(agecl_ctx *ctx, const char *op, int cpu, const agecl_tensor *x,
                          cl_uint x_off, float momentum, float eps, const agecl__channel_arg *s)
{
    if (!(eps >= 0.0f) || !(momentum >= 0.0f && momentum <= 1.0f))
        return agecl__fail(AGECL_E_INVALID_ARG, "%s: eps %g must be >= 0 and momentum %g in [0, 1]",
                           op, eps, momentum);
    cl_uint N = (cl_uint)x->n, C = (cl_uint)x->c, HW = (cl_uint)x->h * (cl_uint)x->w;
    if ((size_t)N * HW < 2)
        return agecl__fail(AGECL_E_SHAPE, "%s: expected more than 1 value per channel when "
                           "training (x is %dx%dx%dx%d)", op, x->n, x->c, x->h, x->w);
    enum { STATS_LOCALS = 3 };
    size_t local = 1;
    if (!cpu) AGECL_TRY(agecl__layer_reduce_group(ctx, "batchnorm", "batchnorm_stats", &local));
    size_t global = (size_t)C * local, lbytes = local * sizeof(float);
    agecl__arg args[] = {AGECL_ARG(x->buf), AGECL_ARG(x_off), AGECL_ARG(N), AGECL_ARG(C),
                         AGECL_ARG(HW), AGECL_ARG(momentum), AGECL_ARG(eps),
                         AGECL_CH_ARGS(s[0]), AGECL_CH_ARGS(s[1]),
                         AGECL_CH_ARGS(s[2]), AGECL_CH_ARGS(s[3]),
                         AGECL_LOCAL(lbytes), AGECL_LOCAL(lbytes), AGECL_LOCAL(lbytes)};
    if (cpu) {
        size_t count[2] = {C, 1};
        return agecl__layer_run_cpu(ctx, "batchnorm_cpu", "batchnorm_stats", count,
                                    AGECL_NARGS(args) - STATS_LOCALS, args);
    }
    return agecl__run(ctx, "batchnorm", "", "batchnorm_stats", 1, &global, &local,
                      AGECL_NARGS(args), args);
}

static agecl_status forward_train(agecl_ctx *ctx, const char *op, const agecl_tensor *x,
                                  const agecl_tensor *gamma, const agecl_tensor *beta,
                                  const agecl_tensor *slope, agecl_tensor *running_mean,
                                  agecl_tensor *running_var, float momentum, float eps,
                                  agecl_tensor *y, agecl_tensor *save_mean,
                                  agecl_tensor *save_invstd)
{
    if (!ctx) return agecl__fail(AGECL_E_INVALID_ARG, "%s: ctx is NULL", op);
    cl_uint x_off, y_off;
    AGECL_TRY(agecl__arg_tensor(x, op, "x", &x_off));
    AGECL_TRY(agecl__arg_like(y, op, "y", x, "x", &y_off));
    /* The statistics' four first, in the order of the stats kernel. */
    enum { SAVE_MEAN, SAVE_INVSTD, RUN_MEAN, RUN_VAR, GAMMA, BETA };
    agecl__channel_arg p[] = {{save_mean, "save_mean", 0},     {save_invstd, "save_invstd", 0},
                              {running_mean, "running_mean", 0}, {running_var, "running_var", 0},
                              {gamma, "gamma", 0},             {beta, "beta", 0}};
    agecl__channel_arg a = {slope, "slope", 0};
    AGECL_TRY(check_channels(op, p, AGECL_NARGS(p), x->c, &a));
    int cpu = agecl__layer_cpu(ctx);
    AGECL_TRY(stats(ctx, op, cpu, x, x_off, momentum, eps, p));

    /* The normalisation: element-wise (on CPUs a work-item per plane). */
    cl_uint N = (cl_uint)x->n, C = (cl_uint)x->c, HW = (cl_uint)x->h * (cl_uint)x->w;
    bn_args l = {.n = 0};
    put(&l, AGECL_ARG(x->buf));
    put(&l, AGECL_ARG(x_off));
    put(&l, AGECL_ARG(C));
    put(&l, AGECL_ARG(HW));
    put_ch(&l, &p[SAVE_MEAN]);
    put_ch(&l, &p[SAVE_INVSTD]);
    put_ch(&l, &p[GAMMA]);
    put_ch(&l, &p[BETA]);
    if (slope) put_ch(&l, &a);
    put(&l, AGECL_ARG(y->buf));
    put(&l, AGECL_ARG(y_off));
    const char *k = slope ? "batchnorm_prelu_train_apply" : "batchnorm_train_apply";
    AGECL_TRY(fits(&l, k));
    if (cpu) {
        size_t count[2] = {C, N};
        return agecl__layer_run_cpu(ctx, program(cpu), k, count, l.n, l.a);
    }
    size_t grid[3] = {HW, C, N};
    return agecl__layer_run_grid(ctx, program(cpu), k, grid, l.n, l.a);
}

static agecl_status forward_infer(agecl_ctx *ctx, const char *op, const agecl_tensor *x,
                                  const agecl_tensor *gamma, const agecl_tensor *beta,
                                  const agecl_tensor *slope, const agecl_tensor *running_mean,
                                  const agecl_tensor *running_var, float eps, agecl_tensor *y)
{
    if (!ctx) return agecl__fail(AGECL_E_INVALID_ARG, "%s: ctx is NULL", op);
    cl_uint x_off, y_off;
    AGECL_TRY(agecl__arg_tensor(x, op, "x", &x_off));
    AGECL_TRY(agecl__arg_like(y, op, "y", x, "x", &y_off));
    enum { RUN_MEAN, RUN_VAR, GAMMA, BETA };
    agecl__channel_arg p[] = {{running_mean, "running_mean", 0},
                              {running_var, "running_var", 0},
                              {gamma, "gamma", 0},
                              {beta, "beta", 0}};
    agecl__channel_arg a = {slope, "slope", 0};
    AGECL_TRY(check_channels(op, p, AGECL_NARGS(p), x->c, &a));
    if (!(eps >= 0.0f)) return agecl__fail(AGECL_E_INVALID_ARG, "%s: eps %g must be >= 0", op, eps);
    cl_uint N = (cl_uint)x->n, C = (cl_uint)x->c, HW = (cl_uint)x->h * (cl_uint)x->w;
    bn_args l = {.n = 0};
    put(&l, AGECL_ARG(x->buf));
    put(&l, AGECL_ARG(x_off));
    put(&l, AGECL_ARG(N));
    put(&l, AGECL_ARG(C));
    put(&l, AGECL_ARG(HW));
    put(&l, AGECL_ARG(eps));
    for (int i = RUN_MEAN; i <= BETA; i++) put_ch(&l, &p[i]);
    if (slope) put_ch(&l, &a);
    put(&l, AGECL_ARG(y->buf));
    put(&l, AGECL_ARG(y_off));
    const char *k = slope ? "batchnorm_prelu_infer_apply" : "batchnorm_infer_apply";
    AGECL_TRY(fits(&l, k));
    int cpu = agecl__layer_cpu(ctx);
    if (cpu) {
        size_t count[2] = {C, N};
        return agecl__layer_run_cpu(ctx, program(cpu), k, count, l.n, l.a);
    }
    size_t grid[3] = {HW, C, 1};
    return agecl__layer_run_grid(ctx, program(cpu), k, grid, l.n, l.a);
}

static agecl_status backward(agecl_ctx *ctx, const char *op, const agecl_tensor *x,
                             const agecl_tensor *dy, const agecl_tensor *gamma,
                             const agecl_tensor *beta, const agecl_tensor *slope,
                             const agecl_tensor *save_mean, const agecl_tensor *save_invstd,
                             float dx_acc, agecl_tensor *dx, float dparam_acc,
                             agecl_tensor *dgamma, agecl_tensor *dbeta, agecl_tensor *dslope)
{
    if (!ctx) return agecl__fail(AGECL_E_INVALID_ARG, "%s: ctx is NULL", op);
    cl_uint x_off, dy_off, dx_off;
    AGECL_TRY(agecl__arg_tensor(x, op, "x", &x_off));
    AGECL_TRY(agecl__arg_like(dy, op, "dy", x, "x", &dy_off));
    AGECL_TRY(agecl__arg_like(dx, op, "dx", x, "x", &dx_off));
    enum { GAMMA, SAVE_MEAN, SAVE_INVSTD, DGAMMA, DBETA };
    agecl__channel_arg p[] = {{gamma, "gamma", 0},
                              {save_mean, "save_mean", 0},
                              {save_invstd, "save_invstd", 0},
                              {dgamma, "dgamma", 0},
                              {dbeta, "dbeta", 0}};
    /* With the PReLU: beta and the slope (to recompute z), the slope's gradient. */
    agecl__channel_arg e[] = {{beta, "beta", 0}, {slope, "slope", 0}, {dslope, "dslope", 0}};
    AGECL_TRY(agecl__layer_channels(op, p, AGECL_NARGS(p), x->c));
    if (slope) AGECL_TRY(agecl__layer_channels(op, e, AGECL_NARGS(e), x->c));
    cl_uint N = (cl_uint)x->n, C = (cl_uint)x->c, HW = (cl_uint)x->h * (cl_uint)x->w;
    int cpu = agecl__layer_cpu(ctx);
    const char *k = slope ? "batchnorm_prelu_backward" : "batchnorm_backward";
    /* One work-group per channel: the sums, then dx (on CPUs one work-item,
     * taking no local memory: the local arguments are left out). */
    size_t local = 1;
    if (!cpu) AGECL_TRY(agecl__layer_reduce_group(ctx, program(cpu), k, &local));
    size_t global = (size_t)C * local, lbytes = local * sizeof(float);
    bn_args l = {.n = 0};
    put(&l, AGECL_ARG(x->buf));
    put(&l, AGECL_ARG(x_off));
    put(&l, AGECL_ARG(dy->buf));
    put(&l, AGECL_ARG(dy_off));
    put(&l, AGECL_ARG(N));
    put(&l, AGECL_ARG(C));
    put(&l, AGECL_ARG(HW));
    put_ch(&l, &p[GAMMA]);
    if (slope) {
        put_ch(&l, &e[0]);
        put_ch(&l, &e[1]);
    }
    put_ch(&l, &p[SAVE_MEAN]);
    put_ch(&l, &p[SAVE_INVSTD]);
    put(&l, AGECL_ARG(dx_acc));
    put(&l, AGECL_ARG(dx->buf));
    put(&l, AGECL_ARG(dx_off));
    put(&l, AGECL_ARG(dparam_acc));
    put_ch(&l, &p[DGAMMA]);
    put_ch(&l, &p[DBETA]);
    if (slope) put_ch(&l, &e[2]);
    if (cpu) {
        AGECL_TRY(fits(&l, k));
        size_t count[2] = {C, 1};
        return agecl__layer_run_cpu(ctx, program(cpu), k, count, l.n, l.a);
    }
    for (int i = 0; i < (slope ? 3 : 2); i++) put(&l, AGECL_LOCAL(lbytes));
    AGECL_TRY(fits(&l, k));
    return agecl__run(ctx, program(cpu), "", k, 1, &global, &local, l.n, l.a);
}

agecl_status agecl_batchnorm_forward_train(agecl_ctx *ctx, const agecl_tensor *x,
                                           const agecl_tensor *gamma, const agecl_tensor *beta,
                                           agecl_tensor *running_mean, agecl_tensor *running_var,
                                           float momentum, float eps, agecl_tensor *y,
                                           agecl_tensor *save_mean, agecl_tensor *save_invstd)
{
    return forward_train(ctx, "batchnorm_forward_train", x, gamma, beta, NULL, running_mean,
                         running_var, momentum, eps, y, save_mean, save_invstd);
}

agecl_status agecl_batchnorm_forward_infer(agecl_ctx *ctx, const agecl_tensor *x,
                                           const agecl_tensor *gamma, const agecl_tensor *beta,
                                           const agecl_tensor *running_mean,
                                           const agecl_tensor *running_var, float eps,
                                           agecl_tensor *y)
{
    return forward_infer(ctx, "batchnorm_forward_infer", x, gamma, beta, NULL, running_mean,
                         running_var, eps, y);
}

agecl_status agecl_batchnorm_backward(agecl_ctx *ctx, const agecl_tensor *x,
                                      const agecl_tensor *dy, const agecl_tensor *gamma,
                                      const agecl_tensor *save_mean,
                                      const agecl_tensor *save_invstd, float dx_acc,
                                      agecl_tensor *dx, float dparam_acc, agecl_tensor *dgamma,
                                      agecl_tensor *dbeta)
{
    return backward(ctx, "batchnorm_backward", x, dy, gamma, NULL, NULL, save_mean, save_invstd,
                    dx_acc, dx, dparam_acc, dgamma, dbeta, NULL);
}

/* The fused forms: the same with the PReLU's slope (NULL is an error here, not
 * "no PReLU"). */
agecl_status agecl_batchnorm_prelu_forward_train(agecl_ctx *ctx, const agecl_tensor *x,
                                                 const agecl_tensor *gamma,
                                                 const agecl_tensor *beta,
                                                 const agecl_tensor *slope,
                                                 agecl_tensor *running_mean,
                                                 agecl_tensor *running_var, float momentum,
                                                 float eps, agecl_tensor *y,
                                                 agecl_tensor *save_mean,
                                                 agecl_tensor *save_invstd)
{
    static const char op[] = "batchnorm_prelu_forward_train";
    AGECL_TRY(agecl__check_tensor(slope, op, "slope"));
    return forward_train(ctx, op, x, gamma, beta, slope, running_mean, running_var, momentum,
                         eps, y, save_mean, save_invstd);
}

agecl_status agecl_batchnorm_prelu_forward_infer(agecl_ctx *ctx, const agecl_tensor *x,
                                                 const agecl_tensor *gamma,
                                                 const agecl_tensor *beta,
                                                 const agecl_tensor *slope,
                                                 const agecl_tensor *running_mean,
                                                 const agecl_tensor *running_var, float eps,
                                                 agecl_tensor *y)
{
    static const char op[] = "batchnorm_prelu_forward_infer";
    AGECL_TRY(agecl__check_tensor(slope, op, "slope"));
    return forward_infer(ctx, op, x, gamma, beta, slope, running_mean, running_var, eps, y);
}

agecl_status agecl_batchnorm_prelu_backward(agecl_ctx *ctx, const agecl_tensor *x,
                                            const agecl_tensor *dy, const agecl_tensor *gamma,
                                            const agecl_tensor *beta, const agecl_tensor *slope,
                                            const agecl_tensor *save_mean,
                                            const agecl_tensor *save_invstd, float dx_acc,
                                            agecl_tensor *dx, float dparam_acc,
                                            agecl_tensor *dgamma, agecl_tensor *dbeta,
                                            agecl_tensor *dslope)
{
    static const char op[] = "batchnorm_prelu_backward";
    AGECL_TRY(agecl__check_tensor(slope, op, "slope"));
    return backward(ctx, op, x, dy, gamma, beta, slope, save_mean, save_invstd, dx_acc, dx,
                    dparam_acc, dgamma, dbeta, dslope);
}
