/* BatchNorm2d followed by PReLU, fused: one pass over the data for the
 * normalisation and the activation, and one backward kernel for both. */
#include "agecl/layers.h"
#include "core/launch.h"
#include "error.h"
#include "layers/batchnorm_internal.h"
#include "layers/layer_util.h"

/* The program of the fused kernels: cl/batchnorm_prelu_cpu.cl on CPUs. */
static const char *program(int cpu) { return cpu ? "batchnorm_prelu_cpu" : "batchnorm_prelu"; }

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
    if (!ctx) return agecl__fail(AGECL_E_INVALID_ARG, "%s: ctx is NULL", op);
    cl_uint x_off, y_off;
    AGECL_TRY(agecl__arg_tensor(x, op, "x", &x_off));
    AGECL_TRY(agecl__arg_like(y, op, "y", x, "x", &y_off));
    enum { GAMMA, BETA, SLOPE, SAVE_MEAN, SAVE_INVSTD, RUN_MEAN, RUN_VAR };
    agecl__channel_arg p[] = {{gamma, "gamma", 0},
                              {beta, "beta", 0},
                              {slope, "slope", 0},
                              {save_mean, "save_mean", 0},
                              {save_invstd, "save_invstd", 0},
                              {running_mean, "running_mean", 0},
                              {running_var, "running_var", 0}};
    AGECL_TRY(agecl__layer_channels(op, p, AGECL_NARGS(p), x->c));
    int cpu = agecl__layer_cpu(ctx);
    agecl__bn_stats_args stats = {p[SAVE_MEAN], p[SAVE_INVSTD], p[RUN_MEAN], p[RUN_VAR]};
    AGECL_TRY(agecl__batchnorm_stats(ctx, op, cpu, x, x_off, momentum, eps, &stats));

    cl_uint N = (cl_uint)x->n, C = (cl_uint)x->c, HW = (cl_uint)x->h * (cl_uint)x->w;
    agecl__arg apply[] = {AGECL_ARG(x->buf),           AGECL_ARG(x_off),
                          AGECL_ARG(C),                AGECL_ARG(HW),
                          AGECL_CH_ARGS(p[SAVE_MEAN]), AGECL_CH_ARGS(p[SAVE_INVSTD]),
                          AGECL_CH_ARGS(p[GAMMA]),     AGECL_CH_ARGS(p[BETA]),
                          AGECL_CH_ARGS(p[SLOPE]),     AGECL_ARG(y->buf),
                          AGECL_ARG(y_off)};
    if (cpu) {
        size_t count[2] = {C, N};
        return agecl__layer_run_cpu(ctx, program(cpu), "batchnorm_prelu_train_apply", count,
                                    AGECL_NARGS(apply), apply);
    }
    size_t grid[3] = {HW, C, N};
    return agecl__layer_run_grid(ctx, program(cpu), "batchnorm_prelu_train_apply", grid,
                                 AGECL_NARGS(apply), apply);
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
    if (!ctx) return agecl__fail(AGECL_E_INVALID_ARG, "%s: ctx is NULL", op);
    cl_uint x_off, y_off;
    AGECL_TRY(agecl__arg_tensor(x, op, "x", &x_off));
    AGECL_TRY(agecl__arg_like(y, op, "y", x, "x", &y_off));
    enum { GAMMA, BETA, SLOPE, RUN_MEAN, RUN_VAR };
    agecl__channel_arg p[] = {{gamma, "gamma", 0},
                              {beta, "beta", 0},
                              {slope, "slope", 0},
                              {running_mean, "running_mean", 0},
                              {running_var, "running_var", 0}};
    AGECL_TRY(agecl__layer_channels(op, p, AGECL_NARGS(p), x->c));
    if (!(eps >= 0.0f)) return agecl__fail(AGECL_E_INVALID_ARG, "%s: eps %g must be >= 0", op, eps);
    cl_uint N = (cl_uint)x->n, C = (cl_uint)x->c, HW = (cl_uint)x->h * (cl_uint)x->w;
    agecl__arg args[] = {AGECL_ARG(x->buf),          AGECL_ARG(x_off),
                         AGECL_ARG(N),               AGECL_ARG(C),
                         AGECL_ARG(HW),              AGECL_ARG(eps),
                         AGECL_CH_ARGS(p[RUN_MEAN]), AGECL_CH_ARGS(p[RUN_VAR]),
                         AGECL_CH_ARGS(p[GAMMA]),    AGECL_CH_ARGS(p[BETA]),
                         AGECL_CH_ARGS(p[SLOPE]),    AGECL_ARG(y->buf),
                         AGECL_ARG(y_off)};
    int cpu = agecl__layer_cpu(ctx);
    if (cpu) {
        size_t count[2] = {C, N};
        return agecl__layer_run_cpu(ctx, program(cpu), "batchnorm_prelu_infer_apply", count,
                                    AGECL_NARGS(args), args);
    }
    size_t grid[3] = {HW, C, 1};
    return agecl__layer_run_grid(ctx, program(cpu), "batchnorm_prelu_infer_apply", grid,
                                 AGECL_NARGS(args), args);
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
    if (!ctx) return agecl__fail(AGECL_E_INVALID_ARG, "%s: ctx is NULL", op);
    cl_uint x_off, dy_off, dx_off;
    AGECL_TRY(agecl__arg_tensor(x, op, "x", &x_off));
    AGECL_TRY(agecl__arg_like(dy, op, "dy", x, "x", &dy_off));
    AGECL_TRY(agecl__arg_like(dx, op, "dx", x, "x", &dx_off));
    enum { GAMMA, BETA, SLOPE, SAVE_MEAN, SAVE_INVSTD, DGAMMA, DBETA, DSLOPE };
    agecl__channel_arg p[] = {{gamma, "gamma", 0},         {beta, "beta", 0},
                              {slope, "slope", 0},         {save_mean, "save_mean", 0},
                              {save_invstd, "save_invstd", 0}, {dgamma, "dgamma", 0},
                              {dbeta, "dbeta", 0},         {dslope, "dslope", 0}};
    AGECL_TRY(agecl__layer_channels(op, p, AGECL_NARGS(p), x->c));
    cl_uint N = (cl_uint)x->n, C = (cl_uint)x->c, HW = (cl_uint)x->h * (cl_uint)x->w;
    int cpu = agecl__layer_cpu(ctx);
    /* One work-group per channel: the sums, then dx (on CPUs one work-item,
     * taking no local memory: the last BACKWARD_LOCALS arguments). */
    enum { BACKWARD_LOCALS = 3 };
    size_t local = 1;
    if (!cpu)
        AGECL_TRY(agecl__layer_reduce_group(ctx, program(cpu), "batchnorm_prelu_backward", &local));
    size_t global = (size_t)C * local, lbytes = local * sizeof(float);
    agecl__arg args[] = {AGECL_ARG(x->buf),             AGECL_ARG(x_off),
                         AGECL_ARG(dy->buf),            AGECL_ARG(dy_off),
                         AGECL_ARG(N),                  AGECL_ARG(C),
                         AGECL_ARG(HW),                 AGECL_CH_ARGS(p[GAMMA]),
                         AGECL_CH_ARGS(p[BETA]),        AGECL_CH_ARGS(p[SLOPE]),
                         AGECL_CH_ARGS(p[SAVE_MEAN]),   AGECL_CH_ARGS(p[SAVE_INVSTD]),
                         AGECL_ARG(dx_acc),             AGECL_ARG(dx->buf),
                         AGECL_ARG(dx_off),             AGECL_ARG(dparam_acc),
                         AGECL_CH_ARGS(p[DGAMMA]),      AGECL_CH_ARGS(p[DBETA]),
                         AGECL_CH_ARGS(p[DSLOPE]),      AGECL_LOCAL(lbytes),
                         AGECL_LOCAL(lbytes),           AGECL_LOCAL(lbytes)};
    if (cpu) {
        size_t count[2] = {C, 1};
        return agecl__layer_run_cpu(ctx, program(cpu), "batchnorm_prelu_backward", count,
                                    AGECL_NARGS(args) - BACKWARD_LOCALS, args);
    }
    return agecl__run(ctx, program(cpu), "", "batchnorm_prelu_backward", 1, &global, &local,
                      AGECL_NARGS(args), args);
}
