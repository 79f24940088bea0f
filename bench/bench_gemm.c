/* bench_gemm: CLBlast against our own SGEMM (AGECL_GEMM=clblast / own) at the
 * matrix products of the convolutions of IR50 and of the "cpu" preset.
 *
 *   bench_gemm [batch]      (default 8; the device: AGECL_DEVICE, as everywhere)
 *
 * A convolution of a batch runs as im2col + one GEMM per chunk of `s` samples, s as
 * many as fit in AGECL_CONV2D_WORKSPACE_LIMIT (src/conv/conv2d_im2col.c), so with
 * K = c_in*k*k and P = out_h*out_w the products are
 *   forward          m = c_out, n = s*P,    k = K      C = W col
 *   backward data    m = K,     n = s*P,    k = c_out  C = W^T ycol   (A transposed)
 *   backward filter  m = c_out, n = K,      k = s*P    C = ycol col^T (B transposed)
 * Each product runs once per path to warm up, then 5 times per path alternating
 * (clblast, own, clblast, own, ...), each timed from the call to the end of
 * agecl_ctx_finish; the medians are printed as GFLOP/s (2*m*n*k flops) with the
 * ratio own / clblast. The machine may be shared: compare the ratios. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "agecl.h"
#include "agecl/conv.h"
#include "gemm/blas.h"
#include "model_convs.h"

#define RUNS 5

typedef struct product {
    const char *name;
    size_t m, n, k;
    int a_trans, b_trans;
} product;

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void check(agecl_status s, const char *what)
{
    if (s == AGECL_OK) return;
    fprintf(stderr, "bench_gemm: %s: %s\n", what, agecl_last_error());
    exit(1);
}

/* The operands of one product, packed with the smallest leading dimensions. */
typedef struct operands {
    agecl_tensor a, b, c;
} operands;

static void alloc_operands(agecl_ctx *ctx, const product *p, operands *o)
{
    check(agecl_tensor_alloc(ctx, &o->a, 1, 1, (int)p->m, (int)p->k), "A");
    check(agecl_tensor_alloc(ctx, &o->b, 1, 1, (int)p->k, (int)p->n), "B");
    check(agecl_tensor_alloc(ctx, &o->c, 1, 1, (int)p->m, (int)p->n), "C");
    check(agecl_tensor_fill(ctx, &o->a, 0.01f), "fill A");
    check(agecl_tensor_fill(ctx, &o->b, 0.02f), "fill B");
}

static double run_once(agecl_ctx *ctx, const product *p, operands *o)
{
    agecl__matrix a = {o->a.buf, 0, p->a_trans ? p->m : p->k, p->a_trans};
    agecl__matrix b = {o->b.buf, 0, p->b_trans ? p->k : p->n, p->b_trans};
    agecl__matrix c = {o->c.buf, 0, p->n, 0};
    double t0 = now();
    check(agecl__gemm(ctx, p->name, p->m, p->n, p->k, 1.0f, a, b, 0.0f, c), p->name);
    check(agecl_ctx_finish(ctx), "finish");
    return now() - t0;
}

/* The products from now on on CLBlast (path 0) or ours (path 1). */
static void use_path(agecl_ctx *ctx, int path)
{
    agecl_options opt = *agecl_ctx_options(ctx);
    opt.gemm = path ? AGECL_GEMM_PATH_OWN : AGECL_GEMM_PATH_CLBLAST;
    check(agecl_ctx_set_options(ctx, &opt), "options");
}

/* Median seconds of each path, alternating the paths. */
static void time_paths(agecl_ctx *ctx, const product *p, operands *o, double median[2])
{
    double t[2][RUNS];
    for (int path = 0; path < 2; path++) {
        use_path(ctx, path);
        run_once(ctx, p, o);
    }
    for (int r = 0; r < RUNS; r++)
        for (int path = 0; path < 2; path++) {
            use_path(ctx, path);
            t[path][r] = run_once(ctx, p, o);
        }
    for (int path = 0; path < 2; path++) {
        qsort(t[path], RUNS, sizeof t[path][0], cmp_double);
        median[path] = t[path][RUNS / 2];
    }
}

int main(int argc, char **argv)
{
    int batch = argc > 1 ? atoi(argv[1]) : 8;
    if (batch <= 0) {
        fprintf(stderr, "usage: bench_gemm [batch]   (batch > 0, default 8)\n");
        return 2;
    }
    agecl_ctx *ctx;
    check(agecl_ctx_create(&ctx, NULL, 0), "context");
    printf("device: %s\nbatch %d; s = samples per product; median of %d runs after a warm-up, "
           "paths alternated\n",
           agecl_ctx_device(ctx)->name, batch, RUNS);
    printf("%-30s %2s %-7s %6s %6s %6s %9s %9s %6s\n", "convolution (first layer)", "s",
           "product", "m", "n", "k", "clblast", "own", "ratio");
    printf("%-30s %2s %-7s %6s %6s %6s %9s %9s %6s\n", "", "", "", "", "", "", "GFLOP/s",
           "GFLOP/s", "");
    double total_flops = 0, total_time[2] = {0, 0};
    /* the distinct convolutions of IR50 and of the "cpu" preset (model_convs.c) */
    static const char *const presets[] = {"ir50", "cpu"};
    bench_conv_shape shapes[2 * BENCH_MAX_CONVS];
    char names[2 * BENCH_MAX_CONVS][64];
    int n_shapes = 0;
    for (int k = 0; k < 2; k++) {
        agecl_model_config cfg;
        check(agecl_model_preset(presets[k], &cfg), presets[k]);
        int n = bench_model_convs(&cfg, shapes + n_shapes);
        for (int i = 0; i < n; i++)
            snprintf(names[n_shapes + i], sizeof names[0], "%s %s", presets[k],
                     shapes[n_shapes + i].layer);
        n_shapes += n;
    }
    for (int i = 0; i < n_shapes; i++) {
        const bench_conv_shape *sh = &shapes[i];
        int pad = (sh->kernel - 1) / 2;
        size_t out = (size_t)(sh->hw + 2 * pad - sh->kernel) / sh->stride + 1;
        size_t kk = (size_t)sh->c_in * sh->kernel * sh->kernel, pix = out * out;
        size_t per_sample = (kk + (size_t)sh->c_out) * pix * sizeof(float);
        size_t s = AGECL_CONV2D_WORKSPACE_LIMIT / per_sample;
        s = s < 1 ? 1 : s > (size_t)batch ? (size_t)batch : s;
        size_t cout = (size_t)sh->c_out;
        product prods[3] = {{"forward", cout, s * pix, kk, 0, 0},
                            {"bwd_dat", kk, s * pix, cout, 1, 0},
                            {"bwd_flt", cout, kk, s * pix, 0, 1}};
        for (int j = 0; j < 3; j++) {
            const product *p = &prods[j];
            operands o;
            alloc_operands(ctx, p, &o);
            double med[2];
            time_paths(ctx, p, &o, med);
            double flops = 2.0 * p->m * p->n * p->k;
            printf("%-30s %2zu %-7s %6zu %6zu %6zu %9.1f %9.1f %6.2f\n", j ? "" : names[i], s,
                   p->name, p->m, p->n, p->k, flops / med[0] * 1e-9, flops / med[1] * 1e-9,
                   med[0] / med[1]);
            fflush(stdout);
            total_flops += flops;
            total_time[0] += med[0];
            total_time[1] += med[1];
            agecl_tensor_free(&o.a);
            agecl_tensor_free(&o.b);
            agecl_tensor_free(&o.c);
        }
    }
    printf("%-24s %2s %-7s %6s %6s %6s %9.1f %9.1f %6.2f\n", "all, one of each", "", "", "", "",
           "", total_flops / total_time[0] * 1e-9, total_flops / total_time[1] * 1e-9,
           total_time[0] / total_time[1]);
    agecl_ctx_destroy(ctx);
    return 0;
}
