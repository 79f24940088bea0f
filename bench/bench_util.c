/* Timing, random data and output for agecl-bench (see bench_util.h). */
#include "bench_util.h"
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

bench_result bench_result_init(const char *section, const char *name, const char *shape,
                               int batch)
{
    return (bench_result){.section = section, .name = name, .shape = shape, .batch = batch,
                          .ms = -1, .gflops = -1, .gbps = -1, .images_per_s = -1,
                          .time_pct = -1};
}

/* The share of the device's ceiling a rate reaches, in percent; < 0 when unknown. */
static double peak_pct(const bench_dev *d, const bench_result *r)
{
    if (r->gflops >= 0 && d->peak_gflops > 0) return 100.0 * r->gflops / d->peak_gflops;
    if (r->gbps >= 0 && d->peak_gbps > 0) return 100.0 * r->gbps / d->peak_gbps;
    return -1;
}

static void json_string(const char *key, const char *s)
{
    printf(", \"%s\": \"", key);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') printf("\\%c", c);
        else if (c < 0x20) printf("\\u%04x", c);
        else putchar(c);
    }
    putchar('"');
}

static void json_number(const char *key, double v)
{
    if (v >= 0) printf(", \"%s\": %.6g", key, v);
}

static void emit_json(const bench_dev *d, const bench_result *r)
{
    printf("{\"impl\": \"agecl\"");
    json_string("device", d->name);
    json_string("platform", d->platform);
    json_string("preset", d->cfg.preset);
    json_string("section", r->section);
    json_string("name", r->name);
    if (r->shape) json_string("shape", r->shape);
    if (r->layer) json_string("layer", r->layer);
    if (r->algo) json_string("algo", r->algo);
    if (r->batch) printf(", \"batch\": %d", r->batch);
    if (r->uses) printf(", \"uses\": %d", r->uses);
    if (r->calls) printf(", \"calls\": %d", r->calls);
    printf(", \"runs\": %d", d->opt->runs);
    json_number("ms", r->ms);
    json_number("gflops", r->gflops);
    json_number("gbps", r->gbps);
    json_number("peak_pct", peak_pct(d, r));
    json_number("images_per_s", r->images_per_s);
    json_number("time_pct", r->time_pct);
    printf("}\n");
}

/* A number in a column, or "-" when it does not apply. */
static void cell(double v, int width, int decimals)
{
    if (v < 0) printf(" %*s", width, "-");
    else printf(" %*.*f", width, decimals, v);
}

static void emit_row(bench_dev *d, const bench_result *r)
{
    if (!d->header_done) {
        const agecl_device_info *info = agecl_ctx_device(d->ctx);
        printf("\n== %s / %s (%s, %u compute units); preset %s; median of %d runs after %d "
               "warm-up\n", d->platform, d->name, agecl_device_type_name(info->type),
               info->compute_units, d->cfg.preset, d->opt->runs, d->opt->warmup);
        printf("%-7s %-24s %-22s %5s %10s %9s %8s %6s %9s  %s\n", "section", "name", "shape",
               "batch", "ms", "GFLOP/s", "GB/s", "%peak", "img/s", "where");
        d->header_done = 1;
    }
    printf("%-7s %-24s %-22s", r->section, r->name, r->shape ? r->shape : "");
    if (r->batch) printf(" %5d", r->batch);
    else printf(" %5s", "");
    cell(r->ms, 10, 3);
    cell(r->gflops, 9, 1);
    cell(r->gbps, 8, 1);
    cell(peak_pct(d, r), 6, 1);
    cell(r->images_per_s, 9, 1);
    printf(" ");
    if (r->layer) printf(" %s", r->layer);
    if (r->algo) printf(" [%s]", r->algo);
    if (r->uses) printf(" x%d", r->uses);
    if (r->calls) printf(" %d calls", r->calls);
    if (r->time_pct >= 0) printf(" %.1f%% of kernel time", r->time_pct);
    printf("\n");
}

void bench_emit(bench_dev *d, const bench_result *r)
{
    if (d->opt->json) emit_json(d, r);
    else emit_row(d, r);
    fflush(stdout);
}

void bench_progress(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "agecl-bench: ");
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

agecl_status bench_report(const char *what, agecl_status s)
{
    fprintf(stderr, "agecl-bench: %s: %s", what, agecl_strerror(s));
    if (*agecl_last_error()) fprintf(stderr, ": %s", agecl_last_error());
    fputc('\n', stderr);
    return s;
}

double bench_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec * 1e-6;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The median of n values (sorts v). */
static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

agecl_status bench_time(bench_dev *d, bench_fn fn, void *arg, double *ms)
{
    int runs = d->opt->runs;
    double *t = malloc((size_t)runs * sizeof *t);
    if (!t) return agecl__fail(AGECL_E_OUT_OF_MEMORY, "bench_time: %d runs", runs);
    agecl_status s = AGECL_OK;
    for (int i = 0; i < d->opt->warmup && s == AGECL_OK; i++) {
        s = fn(arg);
        if (s == AGECL_OK) s = agecl_ctx_finish(d->ctx);
    }
    for (int i = 0; i < runs && s == AGECL_OK; i++) {
        double t0 = bench_now_ms();
        s = fn(arg);
        if (s == AGECL_OK) s = agecl_ctx_finish(d->ctx);
        t[i] = bench_now_ms() - t0;
    }
    if (s == AGECL_OK) *ms = median(t, runs);
    free(t);
    return s;
}

float bench_uniform(unsigned *seed)
{
    *seed = *seed * 1664525u + 1013904223u;
    return (float)(*seed >> 8) / 16777216.0f;
}

agecl_status bench_random_tensor(agecl_ctx *ctx, agecl_tensor *t, int n, int c, int h, int w,
                                 float lo, float hi, unsigned *seed)
{
    agecl_status s = agecl_tensor_alloc(ctx, t, n, c, h, w);
    if (s != AGECL_OK) return s;
    size_t count = agecl_tensor_numel(t);
    float *p = malloc(count * sizeof *p);
    if (!p) {
        agecl_tensor_free(t);
        return agecl__fail(AGECL_E_OUT_OF_MEMORY, "bench_random_tensor: %zu floats", count);
    }
    for (size_t i = 0; i < count; i++) p[i] = lo + (hi - lo) * bench_uniform(seed);
    s = agecl_tensor_write(ctx, t, p);
    free(p);
    if (s != AGECL_OK) agecl_tensor_free(t);
    return s;
}
