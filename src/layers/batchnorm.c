/* BatchNorm2d, with PReLU as an optional fused epilogue (slope NULL: none):
 * training-mode statistics, normalisation, inference and backward. The kernels
 * (cl/batchnorm.cl, cl/batchnorm_cpu.cl on CPUs) are written once for both
 * epilogues; with the PReLU, the BN output z is never stored (the backward
 * recomputes it from x) and the PReLU's input gradient never leaves the
 * backward kernel. */
#include "agecl/layers.h"
#include "error.h"
#include "layers/batchnorm_sync.h"
#include "layers/layer_plan.h"
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

enum { BN_STATS, BN_TRAIN_APPLY, BN_INFER_APPLY, BN_BACKWARD, BN_SYNC_CORRECT };

/* Whether s synchronises with other ranks. */
static int syncs(const agecl__bn_sync *s) { return s && s->comm && s->comm->size > 1; }

/* The statistics and the backward: one work-group per channel (on CPUs one
 * work-item, taking no local memory); the normalisations element-wise (on
 * CPUs a work-item per plane). */
agecl_status agecl__batchnorm_plan(agecl_layer_plan *p)
{
    const agecl_layer_desc *d = &p->d;
    int prelu = d->op == AGECL_LAYER_BATCHNORM_PRELU;
    const char *prog = program(p->cpu);
    const char *train = prelu ? "batchnorm_prelu_train_apply" : "batchnorm_train_apply";
    const char *infer = prelu ? "batchnorm_prelu_infer_apply" : "batchnorm_infer_apply";
    const char *back = prelu ? "batchnorm_prelu_backward" : "batchnorm_backward";
    size_t C = (size_t)d->c, N = (size_t)d->n, HW = (size_t)d->h * d->w;
    if (p->cpu) {
        size_t per_channel[2] = {C, 1}, per_plane[2] = {C, N};
        AGECL_TRY(agecl__layer_launch_cpu(p->ctx, prog, "batchnorm_stats", per_channel,
                                          &p->k[BN_STATS]));
        AGECL_TRY(agecl__layer_launch_cpu(p->ctx, prog, train, per_plane, &p->k[BN_TRAIN_APPLY]));
        AGECL_TRY(agecl__layer_launch_cpu(p->ctx, prog, infer, per_plane, &p->k[BN_INFER_APPLY]));
        AGECL_TRY(agecl__layer_launch_cpu(p->ctx, prog, back, per_channel, &p->k[BN_BACKWARD]));
    } else {
        size_t train_grid[3] = {HW, C, N}, infer_grid[3] = {HW, C, 1};
        AGECL_TRY(agecl__layer_launch_reduce(p->ctx, prog, "batchnorm_stats", C, &p->k[BN_STATS]));
        AGECL_TRY(agecl__layer_launch_grid(p->ctx, prog, train, train_grid, &p->k[BN_TRAIN_APPLY]));
        AGECL_TRY(agecl__layer_launch_grid(p->ctx, prog, infer, infer_grid, &p->k[BN_INFER_APPLY]));
        AGECL_TRY(agecl__layer_launch_reduce(p->ctx, prog, back, C, &p->k[BN_BACKWARD]));
    }
    /* sync-BN's backward correction (batchnorm_sync.h), on every device */
    size_t grid[3] = {HW, C, N};
    return agecl__layer_launch_grid(p->ctx, "elementwise", "channel_affine_add", grid,
                                    &p->k[BN_SYNC_CORRECT]);
}

/* The op's name for messages: the fused form's with a fused plan. */
static const char *op_name(const agecl_layer_plan *p, const char *fused, const char *plain)
{
    return p && p->d.op == AGECL_LAYER_BATCHNORM_PRELU ? fused : plain;
}

/* The plan (of plain BN, or fused with the PReLU), x against its shape, and the
 * slope present exactly when the plan is the fused one. */
static agecl_status check_plan(const agecl_layer_plan *p, const char *op, const agecl_tensor *x,
                               const agecl_tensor *slope, cl_uint *x_off)
{
    AGECL_TRY(agecl__layer_plan_check(p, op, AGECL_LAYER_BATCHNORM, AGECL_LAYER_BATCHNORM_PRELU,
                                      x, "x", x_off));
    int prelu = p->d.op == AGECL_LAYER_BATCHNORM_PRELU;
    if (prelu && !slope)
        return agecl__fail(AGECL_E_INVALID_ARG, "%s: the plan fuses a PReLU but slope is NULL", op);
    if (!prelu && slope)
        return agecl__fail(AGECL_E_INVALID_ARG, "%s: a slope for a plan without PReLU", op);
    return AGECL_OK;
}

/* Check the per-channel tensors p (all present) and, with the PReLU, the slope
 * tensor `extra`. */
static agecl_status check_channels(const char *op, agecl__channel_arg *p, int count, int C,
                                   agecl__channel_arg *extra)
{
    AGECL_TRY(agecl__layer_channels(op, p, count, C));
    return extra->t ? agecl__layer_channels(op, extra, 1, C) : AGECL_OK;
}

/* The mean and biased variance of each channel into save_mean/save_invstd, and
 * the running statistics updated (unless update_running is 0), after checking
 * momentum, eps and that x has more than one value per channel. */
static agecl_status stats(const agecl_layer_plan *p, const char *op, const agecl_tensor *x,
                          cl_uint x_off, float momentum, float eps, const agecl__channel_arg *s,
                          int update_running)
{
    if (!(eps >= 0.0f) || !(momentum >= 0.0f && momentum <= 1.0f))
        return agecl__fail(AGECL_E_INVALID_ARG, "%s: eps %g must be >= 0 and momentum %g in [0, 1]",
                           op, eps, momentum);
    cl_uint N = (cl_uint)x->n, C = (cl_uint)x->c, HW = (cl_uint)x->h * (cl_uint)x->w;
    if ((size_t)N * HW < 2)
        return agecl__fail(AGECL_E_SHAPE, "%s: expected more than 1 value per channel when "
                           "training (x is %dx%dx%dx%d)", op, x->n, x->c, x->h, x->w);
    const agecl__launch *l = &p->k[BN_STATS];
    float kernel_momentum = update_running ? momentum : 0.0f; /* 0: they stay */
    size_t lbytes = l->local[0] * sizeof(float);
    enum { STATS_LOCALS = 3 };
    agecl__arg args[] = {AGECL_ARG(x->buf), AGECL_ARG(x_off), AGECL_ARG(N), AGECL_ARG(C),
                         AGECL_ARG(HW), AGECL_ARG(kernel_momentum), AGECL_ARG(eps),
                         AGECL_CH_ARGS(s[0]), AGECL_CH_ARGS(s[1]),
                         AGECL_CH_ARGS(s[2]), AGECL_CH_ARGS(s[3]),
                         AGECL_LOCAL(lbytes), AGECL_LOCAL(lbytes), AGECL_LOCAL(lbytes)};
    return agecl__launch_run(p->ctx, l, AGECL_NARGS(args) - (p->cpu ? STATS_LOCALS : 0), args);
}

agecl_status agecl_layer_batchnorm_train(const agecl_layer_plan *p, const agecl_tensor *x,
                                         const agecl_tensor *gamma, const agecl_tensor *beta,
                                         const agecl_tensor *slope, agecl_tensor *running_mean,
                                         agecl_tensor *running_var, float momentum, float eps,
                                         agecl_tensor *y, agecl_tensor *save_mean,
                                         agecl_tensor *save_invstd)
{
    return agecl__batchnorm_train_sync(p, x, gamma, beta, slope, running_mean, running_var,
                                       momentum, eps, y, save_mean, save_invstd, NULL);
}

agecl_status agecl__batchnorm_train_sync(const agecl_layer_plan *p, const agecl_tensor *x,
                                         const agecl_tensor *gamma, const agecl_tensor *beta,
                                         const agecl_tensor *slope, agecl_tensor *running_mean,
                                         agecl_tensor *running_var, float momentum, float eps,
                                         agecl_tensor *y, agecl_tensor *save_mean,
                                         agecl_tensor *save_invstd, agecl__bn_sync *s)
{
    const char *op = op_name(p, "batchnorm_prelu_forward_train",
                             "batchnorm_forward_train");
    cl_uint x_off, y_off;
    AGECL_TRY(check_plan(p, op, x, slope, &x_off));
    AGECL_TRY(agecl__arg_like(y, op, "y", x, "x", &y_off));
    /* The statistics' four first, in the order of the stats kernel. */
    enum { SAVE_MEAN, SAVE_INVSTD, RUN_MEAN, RUN_VAR, GAMMA, BETA };
    agecl__channel_arg c[] = {{save_mean, "save_mean", 0},     {save_invstd, "save_invstd", 0},
                              {running_mean, "running_mean", 0}, {running_var, "running_var", 0},
                              {gamma, "gamma", 0},             {beta, "beta", 0}};
    agecl__channel_arg a = {slope, "slope", 0};
    AGECL_TRY(check_channels(op, c, AGECL_NARGS(c), x->c, &a));
    /* With sync-BN, this rank's statistics, then everyone's (the running ones
     * updated on the host with them). */
    AGECL_TRY(stats(p, op, x, x_off, momentum, eps, c, !syncs(s)));
    if (syncs(s))
        AGECL_TRY(agecl__bn_sync_stats(s, p->ctx, x->c, (double)x->n * x->h * x->w, momentum,
                                       eps, save_mean, save_invstd, running_mean, running_var));

    cl_uint C = (cl_uint)x->c, HW = (cl_uint)x->h * (cl_uint)x->w;
    bn_args l = {.n = 0};
    put(&l, AGECL_ARG(x->buf));
    put(&l, AGECL_ARG(x_off));
    put(&l, AGECL_ARG(C));
    put(&l, AGECL_ARG(HW));
    put_ch(&l, &c[SAVE_MEAN]);
    put_ch(&l, &c[SAVE_INVSTD]);
    put_ch(&l, &c[GAMMA]);
    put_ch(&l, &c[BETA]);
    if (slope) put_ch(&l, &a);
    put(&l, AGECL_ARG(y->buf));
    put(&l, AGECL_ARG(y_off));
    AGECL_TRY(fits(&l, p->k[BN_TRAIN_APPLY].name));
    return agecl__launch_run(p->ctx, &p->k[BN_TRAIN_APPLY], l.n, l.a);
}

agecl_status agecl_layer_batchnorm_infer(const agecl_layer_plan *p, const agecl_tensor *x,
                                         const agecl_tensor *gamma, const agecl_tensor *beta,
                                         const agecl_tensor *slope,
                                         const agecl_tensor *running_mean,
                                         const agecl_tensor *running_var, float eps,
                                         agecl_tensor *y)
{
    const char *op = op_name(p, "batchnorm_prelu_forward_infer",
                             "batchnorm_forward_infer");
    cl_uint x_off, y_off;
    AGECL_TRY(check_plan(p, op, x, slope, &x_off));
    AGECL_TRY(agecl__arg_like(y, op, "y", x, "x", &y_off));
    enum { RUN_MEAN, RUN_VAR, GAMMA, BETA };
    agecl__channel_arg c[] = {{running_mean, "running_mean", 0},
                              {running_var, "running_var", 0},
                              {gamma, "gamma", 0},
                              {beta, "beta", 0}};
    agecl__channel_arg a = {slope, "slope", 0};
    AGECL_TRY(check_channels(op, c, AGECL_NARGS(c), x->c, &a));
    if (!(eps >= 0.0f)) return agecl__fail(AGECL_E_INVALID_ARG, "%s: eps %g must be >= 0", op, eps);
    cl_uint N = (cl_uint)x->n, C = (cl_uint)x->c, HW = (cl_uint)x->h * (cl_uint)x->w;
    bn_args l = {.n = 0};
    put(&l, AGECL_ARG(x->buf));
    put(&l, AGECL_ARG(x_off));
    put(&l, AGECL_ARG(N));
    put(&l, AGECL_ARG(C));
    put(&l, AGECL_ARG(HW));
    put(&l, AGECL_ARG(eps));
    for (int i = RUN_MEAN; i <= BETA; i++) put_ch(&l, &c[i]);
    if (slope) put_ch(&l, &a);
    put(&l, AGECL_ARG(y->buf));
    put(&l, AGECL_ARG(y_off));
    AGECL_TRY(fits(&l, p->k[BN_INFER_APPLY].name));
    return agecl__launch_run(p->ctx, &p->k[BN_INFER_APPLY], l.n, l.a);
}

agecl_status agecl__batchnorm_backward_sync(const agecl_layer_plan *p, const agecl_tensor *x,
                                            const agecl_tensor *dy, const agecl_tensor *gamma,
                                            const agecl_tensor *beta, const agecl_tensor *slope,
                                            const agecl_tensor *save_mean,
                                            const agecl_tensor *save_invstd, float dx_acc,
                                            agecl_tensor *dx, float dparam_acc,
                                            agecl_tensor *dgamma, agecl_tensor *dbeta,
                                            agecl_tensor *dslope, agecl__bn_sync *s)
{
    const char *op = op_name(p, "batchnorm_prelu_backward",
                             "batchnorm_backward");
    cl_uint x_off, dy_off, dx_off;
    AGECL_TRY(check_plan(p, op, x, slope, &x_off));
    AGECL_TRY(agecl__arg_like(dy, op, "dy", x, "x", &dy_off));
    AGECL_TRY(agecl__arg_like(dx, op, "dx", x, "x", &dx_off));
    enum { GAMMA, SAVE_MEAN, SAVE_INVSTD, DGAMMA, DBETA };
    agecl__channel_arg c[] = {{gamma, "gamma", 0},
                              {save_mean, "save_mean", 0},
                              {save_invstd, "save_invstd", 0},
                              {dgamma, "dgamma", 0},
                              {dbeta, "dbeta", 0}};
    /* With the PReLU: beta and the slope (to recompute z), the slope's gradient. */
    agecl__channel_arg e[] = {{beta, "beta", 0}, {slope, "slope", 0}, {dslope, "dslope", 0}};
    AGECL_TRY(agecl__layer_channels(op, c, AGECL_NARGS(c), x->c));
    if (slope) AGECL_TRY(agecl__layer_channels(op, e, AGECL_NARGS(e), x->c));
    cl_uint N = (cl_uint)x->n, C = (cl_uint)x->c, HW = (cl_uint)x->h * (cl_uint)x->w;
    const agecl__launch *k = &p->k[BN_BACKWARD];
    bn_args l = {.n = 0};
    put(&l, AGECL_ARG(x->buf));
    put(&l, AGECL_ARG(x_off));
    put(&l, AGECL_ARG(dy->buf));
    put(&l, AGECL_ARG(dy_off));
    put(&l, AGECL_ARG(N));
    put(&l, AGECL_ARG(C));
    put(&l, AGECL_ARG(HW));
    put_ch(&l, &c[GAMMA]);
    if (slope) {
        put_ch(&l, &e[0]);
        put_ch(&l, &e[1]);
    }
    put_ch(&l, &c[SAVE_MEAN]);
    put_ch(&l, &c[SAVE_INVSTD]);
    put(&l, AGECL_ARG(dx_acc));
    put(&l, AGECL_ARG(dx->buf));
    put(&l, AGECL_ARG(dx_off));
    put(&l, AGECL_ARG(dparam_acc));
    put_ch(&l, &c[DGAMMA]);
    put_ch(&l, &c[DBETA]);
    if (slope) put_ch(&l, &e[2]);
    /* The GPU kernels' local sums (the CPU ones take none). */
    if (!p->cpu)
        for (int i = 0; i < (slope ? 3 : 2); i++) put(&l, AGECL_LOCAL(k->local[0] * sizeof(float)));
    AGECL_TRY(fits(&l, k->name));
    if (!syncs(s)) return agecl__launch_run(p->ctx, k, l.n, l.a);
    double M = (double)N * HW;
    AGECL_TRY(agecl__bn_sync_keep(s, p->ctx, x->c, dgamma, dbeta));
    AGECL_TRY(agecl__launch_run(p->ctx, k, l.n, l.a));
    AGECL_TRY(agecl__bn_sync_correction(s, p->ctx, x->c, M, gamma, save_mean, save_invstd,
                                        dparam_acc, dgamma, dbeta));
    cl_uint zero = 0;
    agecl__arg fix[] = {AGECL_ARG(x->buf),       AGECL_ARG(x_off), AGECL_ARG(C),
                        AGECL_ARG(HW),           AGECL_ARG(s->coef.buf), AGECL_ARG(zero),
                        AGECL_ARG(dx->buf),      AGECL_ARG(dx_off)};
    return agecl__launch_run(p->ctx, &p->k[BN_SYNC_CORRECT], AGECL_NARGS(fix), fix);
}

agecl_status agecl_layer_batchnorm_backward(const agecl_layer_plan *p, const agecl_tensor *x,
                                            const agecl_tensor *dy, const agecl_tensor *gamma,
                                            const agecl_tensor *beta, const agecl_tensor *slope,
                                            const agecl_tensor *save_mean,
                                            const agecl_tensor *save_invstd, float dx_acc,
                                            agecl_tensor *dx, float dparam_acc,
                                            agecl_tensor *dgamma, agecl_tensor *dbeta,
                                            agecl_tensor *dslope)
{
    return agecl__batchnorm_backward_sync(p, x, dy, gamma, beta, slope, save_mean, save_invstd,
                                          dx_acc, dx, dparam_acc, dgamma, dbeta, dslope, NULL);
}

/* The one-shot forms: a plan for x, run once. The fused ones take a slope
 * (NULL is an error here, not "no PReLU"). */
static agecl_status one_shot(agecl_ctx *ctx, const char *op, const agecl_tensor *x,
                             const agecl_tensor *slope, int fused, agecl_layer_plan *p)
{
    if (fused) AGECL_TRY(agecl__check_tensor(slope, op, "slope"));
    return agecl__layer_plan_for(ctx, op, fused ? AGECL_LAYER_BATCHNORM_PRELU
                                                : AGECL_LAYER_BATCHNORM, x, "x", 0, p);
}

agecl_status agecl_batchnorm_forward_train(agecl_ctx *ctx, const agecl_tensor *x,
                                           const agecl_tensor *gamma, const agecl_tensor *beta,
                                           agecl_tensor *running_mean, agecl_tensor *running_var,
                                           float momentum, float eps, agecl_tensor *y,
                                           agecl_tensor *save_mean, agecl_tensor *save_invstd)
{
    agecl_layer_plan p;
    AGECL_TRY(one_shot(ctx, "batchnorm_forward_train", x, NULL, 0, &p));
    return agecl_layer_batchnorm_train(&p, x, gamma, beta, NULL, running_mean, running_var,
                                       momentum, eps, y, save_mean, save_invstd);
}

agecl_status agecl_batchnorm_forward_infer(agecl_ctx *ctx, const agecl_tensor *x,
                                           const agecl_tensor *gamma, const agecl_tensor *beta,
                                           const agecl_tensor *running_mean,
                                           const agecl_tensor *running_var, float eps,
                                           agecl_tensor *y)
{
    agecl_layer_plan p;
    AGECL_TRY(one_shot(ctx, "batchnorm_forward_infer", x, NULL, 0, &p));
    return agecl_layer_batchnorm_infer(&p, x, gamma, beta, NULL, running_mean, running_var, eps,
                                       y);
}

agecl_status agecl_batchnorm_backward(agecl_ctx *ctx, const agecl_tensor *x,
                                      const agecl_tensor *dy, const agecl_tensor *gamma,
                                      const agecl_tensor *save_mean,
                                      const agecl_tensor *save_invstd, float dx_acc,
                                      agecl_tensor *dx, float dparam_acc, agecl_tensor *dgamma,
                                      agecl_tensor *dbeta)
{
    agecl_layer_plan p;
    AGECL_TRY(one_shot(ctx, "batchnorm_backward", x, NULL, 0, &p));
    return agecl_layer_batchnorm_backward(&p, x, dy, gamma, NULL, NULL, save_mean, save_invstd,
                                          dx_acc, dx, dparam_acc, dgamma, dbeta, NULL);
}

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
    agecl_layer_plan p;
    AGECL_TRY(one_shot(ctx, "batchnorm_prelu_forward_train", x, slope, 1, &p));
    return agecl_layer_batchnorm_train(&p, x, gamma, beta, slope, running_mean, running_var,
                                       momentum, eps, y, save_mean, save_invstd);
}

agecl_status agecl_batchnorm_prelu_forward_infer(agecl_ctx *ctx, const agecl_tensor *x,
                                                 const agecl_tensor *gamma,
                                                 const agecl_tensor *beta,
                                                 const agecl_tensor *slope,
                                                 const agecl_tensor *running_mean,
                                                 const agecl_tensor *running_var, float eps,
                                                 agecl_tensor *y)
{
    agecl_layer_plan p;
    AGECL_TRY(one_shot(ctx, "batchnorm_prelu_forward_infer", x, slope, 1, &p));
    return agecl_layer_batchnorm_infer(&p, x, gamma, beta, slope, running_mean, running_var, eps,
                                       y);
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
    agecl_layer_plan p;
    AGECL_TRY(one_shot(ctx, "batchnorm_prelu_backward", x, slope, 1, &p));
    return agecl_layer_batchnorm_backward(&p, x, dy, gamma, beta, slope, save_mean, save_invstd,
                                          dx_acc, dx, dparam_acc, dgamma, dbeta, dslope);
}
