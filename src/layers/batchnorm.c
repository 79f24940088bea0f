/* BatchNorm2d: training-mode statistics, normalisation, inference, backward. */
#include "agecl/layers.h"
#include "core/launch.h"
#include "error.h"
#include "layers/batchnorm_internal.h"
#include "layers/layer_util.h"

agecl_status agecl__batchnorm_stats(agecl_ctx *ctx, const char *op, int cpu,
                                    const agecl_tensor *x, cl_uint x_off, float momentum,
                                    float eps, const agecl__bn_stats_args *s)
{
    if (!(eps >= 0.0f) || !(momentum >= 0.0f && momentum <= 1.0f))
        return agecl__fail(AGECL_E_INVALID_ARG, "%s: eps %g must be >= 0 and momentum %g in [0, 1]",
                           op, eps, momentum);
    cl_uint N = (cl_uint)x->n, C = (cl_uint)x->c, HW = (cl_uint)x->h * (cl_uint)x->w;
    if ((size_t)N * HW < 2)
        return agecl__fail(AGECL_E_SHAPE, "%s: expected more than 1 value per channel when "
                           "training (x is %dx%dx%dx%d)", op, x->n, x->c, x->h, x->w);

    /* One work-group per channel (on CPUs one work-item, taking no local
     * memory: the last STATS_LOCALS arguments). */
    enum { STATS_LOCALS = 3 };
    size_t local = 1;
    if (!cpu) AGECL_TRY(agecl__layer_reduce_group(ctx, "batchnorm", "batchnorm_stats", &local));
    size_t global = (size_t)C * local, lbytes = local * sizeof(float);
    agecl__arg args[] = {AGECL_ARG(x->buf), AGECL_ARG(x_off), AGECL_ARG(N), AGECL_ARG(C),
                         AGECL_ARG(HW), AGECL_ARG(momentum), AGECL_ARG(eps),
                         AGECL_CH_ARGS(s->save_mean), AGECL_CH_ARGS(s->save_invstd),
                         AGECL_CH_ARGS(s->running_mean), AGECL_CH_ARGS(s->running_var),
                         AGECL_LOCAL(lbytes), AGECL_LOCAL(lbytes), AGECL_LOCAL(lbytes)};
    if (cpu) {
        size_t count[2] = {C, 1};
        return agecl__layer_run_cpu(ctx, "batchnorm_cpu", "batchnorm_stats", count,
                                    AGECL_NARGS(args) - STATS_LOCALS, args);
    }
    return agecl__run(ctx, "batchnorm", "", "batchnorm_stats", 1, &global, &local,
                      AGECL_NARGS(args), args);
}

agecl_status agecl_batchnorm_forward_train(agecl_ctx *ctx, const agecl_tensor *x,
                                           const agecl_tensor *gamma, const agecl_tensor *beta,
                                           agecl_tensor *running_mean, agecl_tensor *running_var,
                                           float momentum, float eps, agecl_tensor *y,
                                           agecl_tensor *save_mean, agecl_tensor *save_invstd)
{
    static const char op[] = "batchnorm_forward_train";
    if (!ctx) return agecl__fail(AGECL_E_INVALID_ARG, "%s: ctx is NULL", op);
    cl_uint x_off, y_off;
    AGECL_TRY(agecl__arg_tensor(x, op, "x", &x_off));
    AGECL_TRY(agecl__arg_like(y, op, "y", x, "x", &y_off));
    enum { GAMMA, BETA, SAVE_MEAN, SAVE_INVSTD, RUN_MEAN, RUN_VAR };
    agecl__channel_arg p[] = {{gamma, "gamma", 0},
                              {beta, "beta", 0},
                              {save_mean, "save_mean", 0},
                              {save_invstd, "save_invstd", 0},
                              {running_mean, "running_mean", 0},
                              {running_var, "running_var", 0}};
    AGECL_TRY(agecl__layer_channels(op, p, AGECL_NARGS(p), x->c));
    int cpu = agecl__layer_cpu(ctx);
    agecl__bn_stats_args stats = {p[SAVE_MEAN], p[SAVE_INVSTD], p[RUN_MEAN], p[RUN_VAR]};
    AGECL_TRY(agecl__batchnorm_stats(ctx, op, cpu, x, x_off, momentum, eps, &stats));

    /* Normalisation: element-wise (on CPUs a work-item per plane). */
    cl_uint N = (cl_uint)x->n, C = (cl_uint)x->c, HW = (cl_uint)x->h * (cl_uint)x->w;
    agecl__arg apply[] = {AGECL_ARG(x->buf),         AGECL_ARG(x_off),
                          AGECL_ARG(C),              AGECL_ARG(HW),
                          AGECL_CH_ARGS(p[SAVE_MEAN]), AGECL_CH_ARGS(p[SAVE_INVSTD]),
                          AGECL_CH_ARGS(p[GAMMA]),   AGECL_CH_ARGS(p[BETA]),
                          AGECL_ARG(y->buf),         AGECL_ARG(y_off)};
    if (cpu) {
        size_t count[2] = {C, N};
        return agecl__layer_run_cpu(ctx, "batchnorm_cpu", "batchnorm_train_apply", count,
                                    AGECL_NARGS(apply), apply);
    }
    size_t grid[3] = {HW, C, N};
    return agecl__layer_run_grid(ctx, "batchnorm", "batchnorm_train_apply", grid,
                                 AGECL_NARGS(apply), apply);
}

agecl_status agecl_batchnorm_forward_infer(agecl_ctx *ctx, const agecl_tensor *x,
                                           const agecl_tensor *gamma, const agecl_tensor *beta,
                                           const agecl_tensor *running_mean,
                                           const agecl_tensor *running_var, float eps,
                                           agecl_tensor *y)
{
    static const char op[] = "batchnorm_forward_infer";
    if (!ctx) return agecl__fail(AGECL_E_INVALID_ARG, "%s: ctx is NULL", op);
    cl_uint x_off, y_off;
    AGECL_TRY(agecl__arg_tensor(x, op, "x", &x_off));
    AGECL_TRY(agecl__arg_like(y, op, "y", x, "x", &y_off));
    enum { GAMMA, BETA, RUN_MEAN, RUN_VAR };
    agecl__channel_arg p[] = {{gamma, "gamma", 0},
                              {beta, "beta", 0},
                              {running_mean, "running_mean", 0},
                              {running_var, "running_var", 0}};
    AGECL_TRY(agecl__layer_channels(op, p, AGECL_NARGS(p), x->c));
    if (!(eps >= 0.0f)) return agecl__fail(AGECL_E_INVALID_ARG, "%s: eps %g must be >= 0", op, eps);
    cl_uint N = (cl_uint)x->n, C = (cl_uint)x->c, HW = (cl_uint)x->h * (cl_uint)x->w;
    agecl__arg args[] = {AGECL_ARG(x->buf),        AGECL_ARG(x_off),
                         AGECL_ARG(N),             AGECL_ARG(C),
                         AGECL_ARG(HW),            AGECL_ARG(eps),
                         AGECL_CH_ARGS(p[RUN_MEAN]), AGECL_CH_ARGS(p[RUN_VAR]),
                         AGECL_CH_ARGS(p[GAMMA]),  AGECL_CH_ARGS(p[BETA]),
                         AGECL_ARG(y->buf),        AGECL_ARG(y_off)};
    int cpu = agecl__layer_cpu(ctx);
    if (cpu) {
        size_t count[2] = {C, N};
        return agecl__layer_run_cpu(ctx, "batchnorm_cpu", "batchnorm_infer_apply", count,
                                    AGECL_NARGS(args), args);
    }
    size_t grid[3] = {HW, C, 1};
    return agecl__layer_run_grid(ctx, "batchnorm", "batchnorm_infer_apply", grid,
                                 AGECL_NARGS(args), args);
}

agecl_status agecl_batchnorm_backward(agecl_ctx *ctx, const agecl_tensor *x,
                                      const agecl_tensor *dy, const agecl_tensor *gamma,
                                      const agecl_tensor *save_mean,
                                      const agecl_tensor *save_invstd, float dx_acc,
                                      agecl_tensor *dx, float dparam_acc, agecl_tensor *dgamma,
                                      agecl_tensor *dbeta)
{
    static const char op[] = "batchnorm_backward";
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
    AGECL_TRY(agecl__layer_channels(op, p, AGECL_NARGS(p), x->c));
    cl_uint N = (cl_uint)x->n, C = (cl_uint)x->c, HW = (cl_uint)x->h * (cl_uint)x->w;
    int cpu = agecl__layer_cpu(ctx);
    /* One work-group per channel: the sums, then dx (on CPUs one work-item,
     * taking no local memory: the last BACKWARD_LOCALS arguments). */
    enum { BACKWARD_LOCALS = 2 };
    size_t local = 1;
    if (!cpu) AGECL_TRY(agecl__layer_reduce_group(ctx, "batchnorm", "batchnorm_backward", &local));
    size_t global = (size_t)C * local, lbytes = local * sizeof(float);
    agecl__arg args[] = {AGECL_ARG(x->buf),   AGECL_ARG(x_off),
                         AGECL_ARG(dy->buf),  AGECL_ARG(dy_off),
                         AGECL_ARG(N),        AGECL_ARG(C),
                         AGECL_ARG(HW),       AGECL_CH_ARGS(p[GAMMA]),
                         AGECL_CH_ARGS(p[SAVE_MEAN]), AGECL_CH_ARGS(p[SAVE_INVSTD]),
                         AGECL_ARG(dx_acc),   AGECL_ARG(dx->buf),
                         AGECL_ARG(dx_off),   AGECL_ARG(dparam_acc),
                         AGECL_CH_ARGS(p[DGAMMA]), AGECL_CH_ARGS(p[DBETA]),
                         AGECL_LOCAL(lbytes), AGECL_LOCAL(lbytes)};
    if (cpu) {
        size_t count[2] = {C, 1};
        return agecl__layer_run_cpu(ctx, "batchnorm_cpu", "batchnorm_backward", count,
                                    AGECL_NARGS(args) - BACKWARD_LOCALS, args);
    }
    return agecl__run(ctx, "batchnorm", "", "batchnorm_backward", 1, &global, &local,
                      AGECL_NARGS(args), args);
}
