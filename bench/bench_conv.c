/* bench_conv: time the convolution plans at the shapes of a model preset.
 *
 *   bench_conv [--cpu] [--profile] [--algo NAME] [batch]
 *       (default batch 8; algorithm auto, see agecl/conv.h; the device: AGECL_DEVICE,
 *       as everywhere)
 *
 * The shapes are IR-50's (MODEL.md section 2), or with --cpu those of the "cpu"
 * preset (channels 32/64/128, 64 x 64 inputs), as model_convs.c derives them. For each shape, forward,
 * backward_data and backward_filter each run once to warm up, then 3 times; each run
 * is timed from its enqueue to agecl_ctx_finish, and the median is printed with its
 * rate, 2*N*C_out*OH*OW*C_in*K*K flops per call. With --profile the kernels are
 * timed too, and a "move" column after each call gives the median device time of
 * its data-movement kernels (im2col, col2im and the permutations: everything but
 * the GEMM). The last line adds the shapes up as often as a forward and backward
 * pass of the backbone uses them ("uses" column). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "agecl.h"
#include "agecl/conv.h"
#include "model_convs.h"

enum { FORWARD, BACKWARD_DATA, BACKWARD_FILTER, CALLS };
static const char *call_names[CALLS] = {"forward", "bwd_data", "bwd_filter"};

typedef struct buffers {
    agecl_tensor x, wt, y, dx, dw, dy, ws;
} buffers;

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

static agecl_status run(agecl_conv2d_plan *p, buffers *b, int call)
{
    const agecl_tensor *ws = b->ws.buf ? &b->ws : NULL;
    switch (call) {
    case FORWARD: return agecl_conv2d_forward(p, &b->x, &b->wt, 0.0f, &b->y, ws);
    case BACKWARD_DATA: return agecl_conv2d_backward_data(p, &b->dy, &b->wt, 0.0f, &b->dx, ws);
    default: return agecl_conv2d_backward_filter(p, &b->x, &b->dy, 0.0f, &b->dw, ws);
    }
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median3(double t[3])
{
    qsort(t, 3, sizeof t[0], cmp_double);
    return t[1];
}

/* Device ms of the data-movement kernels since the last profile reset. */
static agecl_status moved_ms(agecl_ctx *ctx, double *ms)
{
    const agecl_profile_entry *e;
    int n;
    agecl_status st = agecl_ctx_profile(ctx, &e, &n);
    if (st != AGECL_OK) return st;
    *ms = 0;
    for (int i = 0; i < n; i++)
        if (!strcmp(e[i].name, "im2col") || !strcmp(e[i].name, "col2im")) *ms += e[i].ms;
    return AGECL_OK;
}

/* Medians of 3 timed runs after one warm-up, in ms: wall time, and (profiling) the
 * data-movement kernels' device time. AGECL_OK or the failure. */
static agecl_status time_call(agecl_ctx *ctx, agecl_conv2d_plan *p, buffers *b, int call,
                              int profile, double *wall, double *move)
{
    double t[3], m[3] = {0};
    agecl_status st = run(p, b, call);
    if (st == AGECL_OK) st = agecl_ctx_finish(ctx);
    for (int i = 0; i < 3 && st == AGECL_OK; i++) {
        if (profile) agecl_ctx_profile_reset(ctx);
        double t0 = now();
        st = run(p, b, call);
        if (st == AGECL_OK) st = agecl_ctx_finish(ctx);
        t[i] = (now() - t0) * 1e3;
        if (st == AGECL_OK && profile) st = moved_ms(ctx, &m[i]);
    }
    if (st != AGECL_OK) return st;
    *wall = median3(t);
    *move = median3(m);
    return AGECL_OK;
}

static agecl_status alloc_buffers(agecl_ctx *ctx, agecl_conv2d_plan *p, const agecl_conv2d_desc *d,
                                  buffers *b)
{
    int n, c, oh, ow, k = d->kernel;
    agecl_conv2d_plan_out_shape(p, &n, &c, &oh, &ow);
    agecl_tensor *all[] = {&b->x, &b->wt, &b->y, &b->dx, &b->dw, &b->dy};
    int shapes[][4] = {{n, d->c_in, d->h, d->w}, {c, d->c_in, k, k}, {n, c, oh, ow},
                       {n, d->c_in, d->h, d->w}, {c, d->c_in, k, k}, {n, c, oh, ow}};
    for (int i = 0; i < 6; i++) {
        agecl_status s = agecl_tensor_alloc(ctx, all[i], shapes[i][0], shapes[i][1],
                                            shapes[i][2], shapes[i][3]);
        if (s == AGECL_OK) s = agecl_tensor_fill(ctx, all[i], 0.01f * (i + 1));
        if (s != AGECL_OK) return s;
    }
    size_t ws = agecl_conv2d_plan_workspace_bytes(p) / sizeof(float);
    return ws ? agecl_tensor_alloc(ctx, &b->ws, 1, 1, 1, (int)ws) : AGECL_OK;
}

static void free_buffers(buffers *b)
{
    agecl_tensor *all[] = {&b->x, &b->wt, &b->y, &b->dx, &b->dw, &b->dy, &b->ws};
    for (int i = 0; i < 7; i++) agecl_tensor_free(all[i]);
}

int main(int argc, char **argv)
{
    int batch = 8, profile = 0, bad = 0;
    agecl_conv2d_algo algo = AGECL_CONV_AUTO;
    const char *preset = "ir50";
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--profile")) {
            profile = 1;
        } else if (!strcmp(argv[i], "--algo") && i + 1 < argc) {
            bad |= agecl_conv2d_algo_parse(argv[++i], &algo) != AGECL_OK;
        } else if (!strcmp(argv[i], "--cpu")) {
            preset = "cpu";
        } else {
            batch = atoi(argv[i]);
            bad |= batch <= 0;
        }
    }
    if (bad) {
        fprintf(stderr, "usage: bench_conv [--cpu] [--profile] [--algo NAME] [batch]   (batch > 0, "
                        "default 8; NAME: auto, im2col, clblast, winograd, fft, implicit, winograd4)\n");
        return 2;
    }
    agecl_model_config cfg;
    bench_conv_shape shapes[BENCH_MAX_CONVS];
    agecl_ctx *ctx;
    if (agecl_model_preset(preset, &cfg) != AGECL_OK ||
        agecl_ctx_create(&ctx, NULL, profile ? AGECL_CTX_PROFILING : 0) != AGECL_OK) {
        fprintf(stderr, "bench_conv: %s\n", agecl_last_error());
        return 1;
    }
    printf("device: %s\nbatch %d; median of 3 runs after a warm-up; ms and GFLOP/s%s\n",
           agecl_ctx_device(ctx)->name, batch,
           profile ? "; move: ms of im2col/col2im/permutations" : "");
    printf("%-27s %4s %7s %9s %8s%s %9s %8s%s %9s %8s%s\n", "first layer", "uses", "ws MB", "fwd ms",
           "GF/s", profile ? "    move" : "", "bwd_d ms", "GF/s", profile ? "    move" : "",
           "bwd_f ms", "GF/s", profile ? "    move" : "");
    double pass_ms[CALLS] = {0}, pass_move[CALLS] = {0}, pass_flops = 0;
    int status = 0;
    int n_shapes = bench_model_convs(&cfg, shapes);
    for (int i = 0; i < n_shapes && !status; i++) {
        const bench_conv_shape *s = &shapes[i];
        agecl_conv2d_desc d = {batch, s->c_in, s->hw, s->hw, s->c_out, s->kernel, s->stride,
                               s->kernel == 3 ? 1 : 0};
        agecl_conv2d_plan *p = NULL;
        buffers b = {0};
        if (agecl_conv2d_plan_create(ctx, &d, algo, &p) != AGECL_OK ||
            alloc_buffers(ctx, p, &d, &b) != AGECL_OK) {
            fprintf(stderr, "bench_conv: %s: %s\n", s->layer, agecl_last_error());
            free_buffers(&b);
            agecl_conv2d_plan_destroy(p);
            status = 1;
            break;
        }
        int oh, ow;
        agecl_conv2d_plan_out_shape(p, NULL, NULL, &oh, &ow);
        double flops = 2.0 * batch * s->c_out * oh * ow * s->c_in * s->kernel * s->kernel;
        printf("%-27s %4d %7.1f", s->layer, s->uses, agecl_conv2d_plan_workspace_bytes(p) / 1e6);
        for (int call = 0; call < CALLS && !status; call++) {
            double ms, move;
            if (time_call(ctx, p, &b, call, profile, &ms, &move) != AGECL_OK) {
                fprintf(stderr, "\nbench_conv: %s %s: %s\n", s->layer, call_names[call],
                        agecl_last_error());
                status = 1;
                break;
            }
            printf(" %9.2f %8.1f", ms, flops / ms * 1e-6);
            if (profile) printf(" %7.2f", move);
            fflush(stdout);
            pass_ms[call] += ms * s->uses;
            pass_move[call] += move * s->uses;
        }
        printf("\n");
        pass_flops += flops * s->uses;
        free_buffers(&b);
        agecl_conv2d_plan_destroy(p);
    }
    if (!status) {
        double total = pass_ms[0] + pass_ms[1] + pass_ms[2];
        printf("backbone convolutions, one pass (%.2f GFLOP forward per image): forward %.1f ms, "
               "backward_data %.1f ms, backward_filter %.1f ms; %.1f ms per batch, %.1f ms per "
               "image, %.1f GFLOP/s\n", pass_flops / batch * 1e-9, pass_ms[0], pass_ms[1],
               pass_ms[2], total, total / batch, 3 * pass_flops / total * 1e-6);
        if (profile)
            printf("of which data movement: forward %.1f ms, backward_data %.1f ms, "
                   "backward_filter %.1f ms; %.1f ms per batch\n", pass_move[0], pass_move[1],
                   pass_move[2], pass_move[0] + pass_move[1] + pass_move[2]);
    }
    agecl_ctx_destroy(ctx);
    return status;
}
