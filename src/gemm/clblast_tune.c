/* The search for CLBlast's SGEMM parameters on a device: candidates of each
 * kernel timed on products shaped like IR50's convolutions, within a budget;
 * the best is saved and applied (clblast_params.c keeps and applies it;
 * include/agecl/clblast_tune.h says what and why). */
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "gemm/blas.h"
#include "gemm/clblast_params.h"
#include "gemm/clblast_tune.h"
#include "runtime/ctx.h"
#include "error.h"

#define MAX_SHAPES 8
#define DEFAULT_BUDGET_S 120.0
#define SLOW_FACTOR 3.0 /* a candidate this much slower than the best on a product is dropped */

/* The candidates, best first as far as is known, since the budget may stop the
 * list early; agecl_clblast_tune_ex appends CLBlast's defaults to each list.
 * Xgemm: GEMMK KREG KWG KWI MDIMA MDIMC MWG NDIMB NDIMC NWG SA SB STRM STRN VWM VWN.
 * XgemmDirect: KWID MDIMAD MDIMCD NDIMBD NDIMCD PADA PADB VWMD VWND WGD.
 * CPUs, from timings on PoCL (AMD EPYC, AVX-512): the tiled kernel with 8 x 8
 * results per work-item in 8-wide vectors and no local memory (only cache on a
 * CPU) ran 3 to 4 times faster than the defaults, 4-wide vectors about a third
 * slower; the direct kernel stayed 3 times slower than the tiled one at
 * convolution sizes, and its compilation grows steeply with the results per
 * work-item (minutes at 8 x 8), so only a 4 x 4 one is tried. */
static const size_t cpu_xgemm[][AGECL__XGEMM_PARAMS] = {
    {0, 1, 32, 2, 8, 8, 64, 8, 8, 64, 0, 0, 0, 0, 8, 8},
    {0, 1, 32, 2, 8, 8, 64, 4, 4, 32, 0, 0, 0, 0, 8, 8},
    {0, 1, 32, 2, 16, 16, 128, 8, 8, 64, 0, 0, 0, 0, 8, 8},
    {0, 1, 32, 2, 8, 8, 64, 8, 8, 64, 0, 0, 0, 0, 4, 4},
};
static const size_t cpu_direct[][AGECL__DIRECT_PARAMS] = {
    {2, 8, 8, 8, 8, 0, 0, 4, 4, 32},
};
/* GPUs: 64 to 256 work-items, operands staged in local memory, 4 x 4 to 8 x 8
 * results per work-item (CLBlast's database holds values of this kind). */
static const size_t gpu_xgemm[][AGECL__XGEMM_PARAMS] = {
    {0, 1, 32, 2, 16, 16, 128, 16, 16, 128, 1, 1, 1, 1, 4, 4},
    {0, 1, 16, 2, 16, 16, 64, 16, 16, 64, 1, 1, 0, 0, 2, 2},
    {0, 1, 16, 2, 8, 8, 64, 8, 8, 64, 1, 1, 1, 0, 4, 4},
    {0, 1, 32, 2, 32, 32, 128, 8, 8, 64, 1, 1, 0, 0, 4, 2},
    {0, 1, 32, 2, 8, 8, 32, 32, 32, 64, 1, 1, 0, 0, 4, 2},
};
static const size_t gpu_direct[][AGECL__DIRECT_PARAMS] = {
    {2, 16, 16, 16, 16, 1, 1, 4, 4, 64},
    {2, 8, 8, 8, 8, 1, 1, 2, 2, 32},
    {2, 16, 16, 16, 16, 1, 1, 2, 2, 32},
    {4, 8, 8, 8, 8, 1, 1, 4, 4, 64},
};

/* Products shaped like IR50's convolutions as im2col + GEMM runs them (chunks of
 * samples, see bench/bench_gemm.c): 128 -> 128 channels at 28 x 28, 4 samples
 * (forward, backward data, backward filter), and 256 -> 256 at 14 x 14, one
 * sample, smaller, which places the switch between the two kernels. */
static const agecl__clblast_shape conv_shapes[] = {
    {128, 3136, 1152, 0, 0},
    {1152, 3136, 128, 1, 0},
    {128, 1152, 3136, 0, 1},
    {256, 196, 2304, 0, 0},
};

#define COUNT(a) ((int)(sizeof(a) / sizeof((a)[0])))

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* ---- timing ---- */

typedef struct operands {
    cl_mem a, b, c;
} operands;

static agecl_status alloc_operands(agecl_ctx *ctx, const agecl__clblast_search *s, operands *o)
{
    size_t a = 1, b = 1, c = 1;
    for (int i = 0; i < s->n_shapes; i++) {
        const agecl__clblast_shape *sh = &s->shapes[i];
        if (sh->m * sh->k > a) a = sh->m * sh->k;
        if (sh->k * sh->n > b) b = sh->k * sh->n;
        if (sh->m * sh->n > c) c = sh->m * sh->n;
    }
    size_t sizes[3] = {a, b, c};
    cl_mem *bufs[3] = {&o->a, &o->b, &o->c};
    for (int i = 0; i < 3; i++) {
        cl_int err = 0;
        *bufs[i] = clCreateBuffer(ctx->context, CL_MEM_READ_WRITE, sizes[i] * sizeof(float), NULL,
                                  &err);
        if (err != CL_SUCCESS) return agecl__cl_fail(err, "clblast tune: operand buffer");
        /* Any finite values: the time does not depend on them. */
        float value = 0.01f;
        err = clEnqueueFillBuffer(ctx->queue, *bufs[i], &value, sizeof value, 0,
                                  sizes[i] * sizeof(float), 0, NULL, NULL);
        if (err != CL_SUCCESS) return agecl__cl_fail(err, "clblast tune: filling operands");
    }
    return AGECL_OK;
}

static void free_operands(operands *o)
{
    if (o->a) clReleaseMemObject(o->a);
    if (o->b) clReleaseMemObject(o->b);
    if (o->c) clReleaseMemObject(o->c);
}

static double shape_flops(const agecl__clblast_shape *s) { return 2.0 * s->m * s->n * s->k; }

static agecl_status run_product(agecl_ctx *ctx, const operands *o, const agecl__clblast_shape *s)
{
    agecl__matrix a = {o->a, 0, s->a_trans ? s->m : s->k, s->a_trans};
    agecl__matrix b = {o->b, 0, s->b_trans ? s->k : s->n, s->b_trans};
    agecl__matrix c = {o->c, 0, s->n, 0};
    AGECL_TRY(agecl__gemm_on(ctx, AGECL__GEMM_CLBLAST, "clblast tune", s->m, s->n, s->k, 1.0f, a,
                             b, 0.0f, c));
    return agecl_ctx_finish(ctx);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Seconds of each product: a warm-up (which compiles), then the median of 3.
 * Stops early, *slow = 1, when a product's median is SLOW_FACTOR times the one
 * in `best` (NULL: no bound). */
static agecl_status time_products(agecl_ctx *ctx, const operands *o,
                                  const agecl__clblast_search *s, const double *best,
                                  double *seconds, int *slow)
{
    *slow = 0;
    AGECL_TRY(agecl_ctx_finish(ctx));
    for (int i = 0; i < s->n_shapes; i++) {
        double t[3];
        AGECL_TRY(run_product(ctx, o, &s->shapes[i]));
        for (int r = 0; r < 3; r++) {
            double t0 = now_seconds();
            AGECL_TRY(run_product(ctx, o, &s->shapes[i]));
            t[r] = now_seconds() - t0;
        }
        qsort(t, 3, sizeof t[0], cmp_double);
        seconds[i] = t[1];
        if (best && seconds[i] > SLOW_FACTOR * best[i]) {
            *slow = 1;
            return AGECL_OK;
        }
    }
    return AGECL_OK;
}

static double gflops(const agecl__clblast_search *s, const double *seconds)
{
    double flops = 0, time = 0;
    for (int i = 0; i < s->n_shapes; i++) {
        flops += shape_flops(&s->shapes[i]);
        time += seconds[i];
    }
    return time > 0 ? flops / time * 1e-9 : 0;
}

/* ---- the search ---- */

typedef struct search_state {
    agecl_ctx *ctx;
    const agecl__clblast_search *search;
    const agecl_clblast_tune_options *opt;
    agecl_clblast_tune_report *report;
    operands ops;
    agecl__clblast_limits limits;
    double start, budget;
    int applied; /* the chosen setting is in CLBlast */
} search_state;

static void progress(search_state *st, const char *fmt, ...) AGECL_PRINTF(2, 3);
static void progress(search_state *st, const char *fmt, ...)
{
    if (!st->opt || !st->opt->progress) return;
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    st->opt->progress(st->opt->user, line);
}

static void describe(char *buf, size_t len, const char *const *names, const size_t *values,
                     int count)
{
    size_t used = 0;
    buf[0] = '\0';
    for (int i = 0; i < count; i++)
        used += snprintf(buf + used, used < len ? len - used : 0, "%s%s=%zu", i ? " " : "",
                         names[i], values[i]);
}

/* Give one kernel's candidate to CLBlast. */
typedef agecl_status (*apply_fn)(agecl_ctx *ctx, const size_t *values);

static agecl_status apply_xgemm(agecl_ctx *ctx, const size_t *v)
{
    return agecl__clblast_override(ctx, "Xgemm", agecl__clblast_xgemm_names, v,
                                   AGECL__XGEMM_PARAMS);
}

static agecl_status apply_direct(agecl_ctx *ctx, const size_t *v)
{
    return agecl__clblast_override(ctx, "XgemmDirect", agecl__clblast_direct_names, v,
                                   AGECL__DIRECT_PARAMS);
}

/* One kernel's phase: time each candidate (`apply` gives it to CLBlast) with
 * every product, keep the fastest in *best and its times in best_s. Stops
 * starting candidates at `deadline` (seconds since the start), once one ran. */
static agecl_status phase(search_state *st, const char *kernel, const char *const *names,
                          int count, const size_t *candidates, int n, apply_fn apply,
                          agecl__clblast_params *probe, size_t *probe_values, double deadline,
                          size_t *best, double *best_s, int *found)
{
    const agecl__clblast_search *s = st->search;
    double times[MAX_SHAPES];
    *found = 0;
    for (int c = 0; c < n; c++) {
        const size_t *v = candidates + (size_t)c * count;
        char desc[512];
        describe(desc, sizeof desc, names, v, count);
        if (*found && now_seconds() - st->start > deadline) {
            st->report->skipped++;
            progress(st, "%s %d/%d %s: not tried, the time budget is spent", kernel, c + 1, n,
                     desc);
            continue;
        }
        /* Check against the device with the rest of the setting as it will be. */
        memcpy(probe_values, v, count * sizeof *v);
        char why[160];
        const char *bad = agecl__clblast_why_not(&st->limits, probe, why, sizeof why);
        if (bad) {
            progress(st, "%s %d/%d %s: cannot run here (%s)", kernel, c + 1, n, desc, bad);
            continue;
        }
        st->report->tried++;
        double t0 = now_seconds();
        int slow = 0;
        agecl_status status = apply(st->ctx, v);
        if (status == AGECL_OK)
            status = time_products(st->ctx, &st->ops, s, *found ? best_s : NULL, times, &slow);
        if (status != AGECL_OK) {
            st->report->failed++;
            progress(st, "%s %d/%d %s: failed, skipped (%s)", kernel, c + 1, n, desc,
                     agecl_last_error());
            /* A failed product may leave the queue in error: drain it. */
            clFinish(st->ctx->queue);
            continue;
        }
        if (slow) {
            progress(st, "%s %d/%d %s: over %.0fx slower than the best, dropped (%.1f s)", kernel,
                     c + 1, n, desc, SLOW_FACTOR, now_seconds() - t0);
            continue;
        }
        double total = 0, best_total = 0;
        for (int i = 0; i < s->n_shapes; i++) {
            total += times[i];
            best_total += best_s[i];
        }
        progress(st, "%s %d/%d %s: %.1f GFLOP/s (%.1f s)", kernel, c + 1, n, desc,
                 gflops(s, times), now_seconds() - t0);
        if (!*found || total < best_total) {
            memcpy(best, v, count * sizeof *v);
            memcpy(best_s, times, s->n_shapes * sizeof *times);
            *found = 1;
        }
    }
    return AGECL_OK;
}

static double cube(double x) { return x * x * x; }

/* The switch size: SGEMM runs the direct kernel when m*n*k < size^3. Choose the
 * size that gives the least total time over the products, from each kernel's
 * times; when one kernel wins everywhere, the size stays within a factor 2 of
 * the products measured rather than claiming every size for it. */
static size_t choose_switch(const agecl__clblast_search *s, const double *tiled,
                            const double *direct)
{
    double lo = INFINITY, hi = 0;
    for (int i = 0; i < s->n_shapes; i++) {
        double mnk = (double)s->shapes[i].m * s->shapes[i].n * s->shapes[i].k;
        lo = fmin(lo, mnk);
        hi = fmax(hi, mnk);
    }
    /* Candidate sizes: below every product, then just above each product's m*n*k. */
    size_t options[MAX_SHAPES + 1];
    int n = 0;
    options[n++] = (size_t)fmax(1.0, floor(cbrt(lo) / 2));
    for (int i = 0; i < s->n_shapes; i++) {
        double mnk = (double)s->shapes[i].m * s->shapes[i].n * s->shapes[i].k;
        size_t size = (size_t)floor(cbrt(mnk));
        while (cube((double)size) <= mnk) size++; /* the least size with size^3 > mnk */
        while (size > 1 && cube((double)(size - 1)) > mnk) size--;
        if (mnk >= hi) size = (size_t)ceil(2 * cbrt(hi));
        options[n++] =
            size < AGECL__CLBLAST_MIN_INDIRECT_MAX ? size : AGECL__CLBLAST_MIN_INDIRECT_MAX;
    }
    size_t choice = options[0];
    double best = INFINITY;
    for (int o = 0; o < n; o++) {
        double total = 0;
        for (int i = 0; i < s->n_shapes; i++) {
            double mnk = (double)s->shapes[i].m * s->shapes[i].n * s->shapes[i].k;
            total += mnk < cube((double)options[o]) ? direct[i] : tiled[i];
        }
        if (total < best) {
            best = total;
            choice = options[o];
        }
    }
    return choice;
}

/* Leave CLBlast as the saved file says, else with its generic defaults. */
static void restore(agecl_ctx *ctx)
{
    agecl__clblast_params p;
    int found = 0;
    if (agecl__clblast_load(ctx, &p, &found, NULL, 0) != AGECL_OK || !found)
        p = agecl__clblast_defaults;
    (void)agecl__clblast_apply(ctx, &p);
}

static agecl_status search_run(search_state *st)
{
    agecl_ctx *ctx = st->ctx;
    const agecl__clblast_search *s = st->search;
    agecl_clblast_tune_report *r = st->report;
    double before[MAX_SHAPES], after[MAX_SHAPES], tiled[MAX_SHAPES], direct[MAX_SHAPES];
    int slow = 0, found_x = 0, found_d = 0;

    AGECL_TRY(agecl__clblast_limits_of(ctx, &st->limits));
    AGECL_TRY(alloc_operands(ctx, s, &st->ops));
    progress(st, "before: timing SGEMM with the parameters in use");
    AGECL_TRY(time_products(ctx, &st->ops, s, NULL, before, &slow));
    r->gflops_before = gflops(s, before);
    progress(st, "before: %.1f GFLOP/s", r->gflops_before);

    /* The tiled kernel alone (switch size 1), then the direct one alone (the
     * largest switch size); each phase's probe is the whole setting it checks. */
    agecl__clblast_params probe = agecl__clblast_defaults, chosen = agecl__clblast_defaults;
    probe.min_indirect = 1;
    AGECL_TRY(agecl__clblast_override_routine(ctx, 1));
    AGECL_TRY(phase(st, "Xgemm", agecl__clblast_xgemm_names, AGECL__XGEMM_PARAMS,
                    s->n_xgemm ? &s->xgemm[0][0] : NULL, s->n_xgemm, apply_xgemm, &probe,
                    probe.xgemm, st->budget / 2, chosen.xgemm, tiled, &found_x));
    AGECL_TRY(agecl__clblast_override_routine(ctx, AGECL__CLBLAST_MIN_INDIRECT_MAX));
    if (found_x) AGECL_TRY(apply_xgemm(ctx, chosen.xgemm));
    probe = chosen;
    probe.min_indirect = AGECL__CLBLAST_MIN_INDIRECT_MAX;
    AGECL_TRY(phase(st, "XgemmDirect", agecl__clblast_direct_names, AGECL__DIRECT_PARAMS,
                    s->n_direct ? &s->direct[0][0] : NULL, s->n_direct, apply_direct, &probe,
                    probe.direct, st->budget, chosen.direct, direct, &found_d));
    if (!found_x && !found_d)
        return agecl__fail(AGECL_E_BLAS, "clblast tune on %s: no candidate ran (last: %s)",
                           ctx->info.name, agecl_last_error());
    if (!found_x) chosen.min_indirect = AGECL__CLBLAST_MIN_INDIRECT_MAX;
    else if (!found_d) chosen.min_indirect = 1;
    else chosen.min_indirect = choose_switch(s, tiled, direct);

    AGECL_TRY(agecl__clblast_apply(ctx, &chosen));
    st->applied = 1;
    progress(st, "after: timing SGEMM with the chosen parameters (switch size %zu)",
             chosen.min_indirect);
    AGECL_TRY(time_products(ctx, &st->ops, s, NULL, after, &slow));
    r->gflops_after = gflops(s, after);
    agecl__clblast_format(&chosen, r->chosen, sizeof r->chosen);
    agecl__clblast_mark_applied(ctx);
    if (ctx->cache_dir[0]) {
        AGECL_TRY(agecl__clblast_save(ctx, &chosen, r->gflops_before, r->gflops_after, r->path,
                                      sizeof r->path));
        r->saved = 1;
    }
    return AGECL_OK;
}

agecl_status agecl__clblast_tune_search(agecl_ctx *ctx, const agecl__clblast_search *search,
                                        const agecl_clblast_tune_options *options,
                                        agecl_clblast_tune_report *report)
{
    agecl_clblast_tune_report local;
    if (!report) report = &local;
    memset(report, 0, sizeof *report);
    if (!ctx || !search) return agecl__fail(AGECL_E_INVALID_ARG, "clblast tune: NULL argument");
    if (search->n_shapes < 1 || search->n_shapes > MAX_SHAPES || search->n_xgemm < 0 ||
        search->n_direct < 0)
        return agecl__fail(AGECL_E_INVALID_ARG, "clblast tune: 1 to %d products, and candidate "
                           "counts >= 0", MAX_SHAPES);
    search_state st = {.ctx = ctx, .search = search, .opt = options, .report = report,
                       .start = now_seconds(), .budget = DEFAULT_BUDGET_S};
    if (options && options->budget_seconds > 0) st.budget = options->budget_seconds;
    agecl__clblast_use(ctx); /* "before" is what products would run with */
    agecl_status status = search_run(&st);
    if (status != AGECL_OK && !st.applied) {
        /* Leave no candidate behind; the error detail stays the search's. */
        char detail[1024];
        snprintf(detail, sizeof detail, "%s", agecl_last_error());
        restore(ctx);
        agecl__fail(status, "%s", detail);
    }
    clFinish(ctx->queue);
    free_operands(&st.ops);
    report->seconds = now_seconds() - st.start;
    return status;
}

agecl_status agecl_clblast_tune_ex(agecl_ctx *ctx, const agecl_clblast_tune_options *options,
                                   agecl_clblast_tune_report *report)
{
    if (!ctx) return agecl__fail(AGECL_E_INVALID_ARG, "agecl_clblast_tune: ctx is NULL");
    /* The device type's list, then CLBlast's defaults. */
    enum { LIST_MAX = 8 };
    _Static_assert(COUNT(cpu_xgemm) < LIST_MAX && COUNT(gpu_xgemm) < LIST_MAX &&
                       COUNT(cpu_direct) < LIST_MAX && COUNT(gpu_direct) < LIST_MAX,
                   "candidate lists fit LIST_MAX with the defaults");
    size_t xgemm[LIST_MAX][AGECL__XGEMM_PARAMS], direct[LIST_MAX][AGECL__DIRECT_PARAMS];
    int cpu = (ctx->info.type & CL_DEVICE_TYPE_CPU) != 0;
    int nx = cpu ? COUNT(cpu_xgemm) : COUNT(gpu_xgemm);
    int nd = cpu ? COUNT(cpu_direct) : COUNT(gpu_direct);
    memcpy(xgemm, cpu ? cpu_xgemm : gpu_xgemm, nx * sizeof xgemm[0]);
    memcpy(direct, cpu ? cpu_direct : gpu_direct, nd * sizeof direct[0]);
    memcpy(xgemm[nx++], agecl__clblast_defaults.xgemm, sizeof xgemm[0]);
    memcpy(direct[nd++], agecl__clblast_defaults.direct, sizeof direct[0]);
    agecl__clblast_search s = {(const size_t(*)[AGECL__XGEMM_PARAMS])xgemm, nx,
                               (const size_t(*)[AGECL__DIRECT_PARAMS])direct, nd,
                               conv_shapes, COUNT(conv_shapes)};
    return agecl__clblast_tune_search(ctx, &s, options, report);
}

agecl_status agecl_clblast_tune(agecl_ctx *ctx, agecl_clblast_tune_report *report)
{
    return agecl_clblast_tune_ex(ctx, NULL, report);
}
