/* Every distinct convolution of the preset (agecl/conv.h plans): forward,
 * backward to the data and backward to the weights, each timed alone, with
 * 2 * N * C_out * OH * OW * C_in * K * K flops per call. Two summary rows add
 * the shapes up as often as one pass of the backbone runs them. */
#include <stdio.h>
#include "agecl/conv.h"
#include "bench_util.h"
#include "model_convs.h"

enum { FORWARD, BACKWARD_DATA, BACKWARD_FILTER, CALLS };
static const char *call_names[CALLS] = {"conv_forward", "conv_backward_data",
                                        "conv_backward_filter"};

typedef struct conv_run {
    agecl_conv2d_plan *plan;
    int call;
    agecl_tensor x, wt, y, dx, dw, dy, ws;
} conv_run;

static agecl_status run_call(void *arg)
{
    conv_run *r = arg;
    const agecl_tensor *ws = r->ws.buf ? &r->ws : NULL;
    switch (r->call) {
    case FORWARD: return agecl_conv2d_forward(r->plan, &r->x, &r->wt, 0.0f, &r->y, ws);
    case BACKWARD_DATA:
        return agecl_conv2d_backward_data(r->plan, &r->dy, &r->wt, 0.0f, &r->dx, ws);
    default: return agecl_conv2d_backward_filter(r->plan, &r->x, &r->dy, 0.0f, &r->dw, ws);
    }
}

static agecl_status alloc_run(agecl_ctx *ctx, const agecl_conv2d_desc *d, conv_run *r)
{
    int n, c, oh, ow, k = d->kernel;
    agecl_conv2d_plan_out_shape(r->plan, &n, &c, &oh, &ow);
    agecl_tensor *all[] = {&r->x, &r->wt, &r->y, &r->dx, &r->dw, &r->dy};
    int shapes[][4] = {{n, d->c_in, d->h, d->w}, {c, d->c_in, k, k}, {n, c, oh, ow},
                       {n, d->c_in, d->h, d->w}, {c, d->c_in, k, k}, {n, c, oh, ow}};
    unsigned seed = 7;
    for (int i = 0; i < 6; i++)
        AGECL_TRY(bench_random_tensor(ctx, all[i], shapes[i][0], shapes[i][1], shapes[i][2],
                                      shapes[i][3], -1, 1, &seed));
    size_t ws = agecl_conv2d_plan_workspace_bytes(r->plan) / sizeof(float);
    return ws ? agecl_tensor_alloc(ctx, &r->ws, 1, 1, 1, (int)ws) : AGECL_OK;
}

static void free_run(conv_run *r)
{
    agecl_tensor *all[] = {&r->x, &r->wt, &r->y, &r->dx, &r->dw, &r->dy, &r->ws};
    for (int i = 0; i < 7; i++) agecl_tensor_free(all[i]);
    agecl_conv2d_plan_destroy(r->plan);
}

/* Flops of one call of shape s (3x3 convolutions have pad 1, so every output
 * side is (hw - 1) / stride + 1). */
static double conv_flops(const bench_conv_shape *s, int batch)
{
    int oh = (s->hw - 1) / s->stride + 1;
    return 2.0 * batch * s->c_out * oh * oh * s->c_in * s->kernel * s->kernel;
}

/* Time the three calls of one shape on a plan of `algo`; ms[call] gets the medians.
 * A pass that algo cannot run falls back to im2col in the plan: it is timed for the
 * totals but not reported again under algo's name. */
static agecl_status time_shape(bench_dev *d, const bench_conv_shape *s, int batch,
                               agecl_conv2d_algo algo, double ms[CALLS])
{
    agecl_conv2d_desc desc = {batch, s->c_in, s->hw, s->hw, s->c_out, s->kernel, s->stride,
                              s->kernel == 3 ? 1 : 0};
    conv_run r = {0};
    bench_progress("layers, batch %d: plan %d->%d k%d s%d @%d (%s)", batch, s->c_in, s->c_out,
                   s->kernel, s->stride, s->hw, agecl_conv2d_algo_name(algo));
    agecl_status st = agecl_conv2d_plan_create(d->ctx, &desc, algo, &r.plan);
    if (st == AGECL_OK) st = alloc_run(d->ctx, &desc, &r);
    double flops = conv_flops(s, batch);
    char shape[48];
    snprintf(shape, sizeof shape, "%d->%d k%d s%d @%d", s->c_in, s->c_out, s->kernel, s->stride,
             s->hw);
    for (r.call = 0; r.call < CALLS && st == AGECL_OK; r.call++) {
        agecl_conv2d_algo ran = agecl_conv2d_plan_algo(r.plan, (agecl_conv2d_pass)r.call);
        bench_progress("layers, batch %d: %s %s (%s) [%s]", batch, call_names[r.call], shape,
                       s->layer, agecl_conv2d_algo_name(ran));
        st = bench_time(d, run_call, &r, &ms[r.call]);
        if (st != AGECL_OK || (algo != AGECL_CONV_AUTO && ran != algo)) continue;
        bench_result res = bench_result_init("layers", call_names[r.call], shape, batch);
        res.layer = s->layer;
        res.algo = agecl_conv2d_algo_name(ran);
        res.uses = s->uses;
        res.ms = ms[r.call];
        res.gflops = flops / (ms[r.call] * 1e6);
        bench_emit(d, &res);
    }
    free_run(&r);
    return st;
}

/* The shapes of the preset on plans of one algorithm, and the two totals. */
static agecl_status bench_convs_algo(bench_dev *d, int batch, agecl_conv2d_algo algo)
{
    bench_conv_shape shapes[BENCH_MAX_CONVS];
    int n = bench_model_convs(&d->cfg, shapes);
    double infer_ms = 0, train_ms = 0, infer_flops = 0, train_flops = 0;
    for (int i = 0; i < n; i++) {
        const bench_conv_shape *s = &shapes[i];
        double ms[CALLS], flops = s->uses * conv_flops(s, batch);
        AGECL_TRY(time_shape(d, s, batch, algo, ms));
        /* Training runs the forward and both backwards, except the stem's data gradient. */
        infer_ms += s->uses * ms[FORWARD];
        train_ms += s->uses * (ms[FORWARD] + ms[BACKWARD_FILTER]);
        infer_flops += flops;
        train_flops += 2 * flops;
        if (s->needs_dx) {
            train_ms += s->uses * ms[BACKWARD_DATA];
            train_flops += flops;
        }
    }
    /* An algorithm's totals include the passes it left to im2col. */
    const char *label = algo == AGECL_CONV_AUTO ? NULL : agecl_conv2d_algo_name(algo);
    bench_result r = bench_result_init("layers", "convs_inference_pass", "all, x uses", batch);
    r.algo = label;
    r.ms = infer_ms;
    r.gflops = infer_flops / (infer_ms * 1e6);
    bench_emit(d, &r);
    r = bench_result_init("layers", "convs_training_pass", "all, x uses", batch);
    r.algo = label;
    r.ms = train_ms;
    r.gflops = train_flops / (train_ms * 1e6);
    bench_emit(d, &r);
    return AGECL_OK;
}

agecl_status bench_convs(bench_dev *d, int batch)
{
    for (int a = 0; a < AGECL_CONV_ALGO_COUNT; a++)
        if (d->opt->algos & (1u << a)) AGECL_TRY(bench_convs_algo(d, batch, (agecl_conv2d_algo)a));
    return AGECL_OK;
}
