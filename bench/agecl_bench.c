/* agecl-bench: how fast agecl runs the age model on each OpenCL device, and how
 * close it comes to the device's own ceilings. `agecl-bench --help` says what
 * it measures; bench_util.h lists the sections. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "bench_util.h"

static const char *section_names[] = {"peak", "layers", "ops", "step", "infer"};
#define N_SECTIONS ((int)(sizeof section_names / sizeof section_names[0]))

static void usage(FILE *out)
{
    fprintf(out,
        "usage: agecl-bench [options]\n\n"
        "Measure agecl on every OpenCL device (or the one --device selects):\n"
        "  peak    the device's ceilings: FMA throughput (best of float4/8/16 chains,\n"
        "          GFLOP/s) and float4 copy bandwidth (bytes read + written, GB/s)\n"
        "  layers  every distinct convolution of the preset: forward, backward data,\n"
        "          backward filter, at --batch and at batch 1 (ms, GFLOP/s, %% of FMA peak)\n"
        "  ops     BatchNorm (train), PReLU, add, avgpool, Linear at the model's activation\n"
        "          shapes and --batch (ms, GB/s of ideal traffic, %% of copy peak)\n"
        "  step    a training step: forward, losses and backward (every head), Adam\n"
        "  infer   an inference forward pass\n"
        "Each measurement: --warmup runs, then the median of --runs, each timed on a\n"
        "monotonic clock from the call to the end of agecl_ctx_finish. The %% of peak\n"
        "needs the peak section in the same run; ops whose tensors fit in a cache can\n"
        "pass 100%% of the copy peak, which streams from memory.\n\n"
        "options:\n"
        "  --device SEL     one device: an index, gpu/cpu/accelerator, or part of its name\n"
        "  --preset NAME    ir50 (default), ir34, ir18, cpu, tiny\n"
        "  --batch N        batch size (default 64)\n"
        "  --runs N         timed runs per measurement (default 5)\n"
        "  --warmup N       untimed runs first (default 1)\n"
        "  --only LIST      sections, comma-separated or repeated (default: all)\n"
        "  --algo LIST      convolution algorithms the layers section times, comma-separated:\n"
        "                   auto (the measured choice, default), all, im2col, clblast,\n"
        "                   winograd, fft, implicit, winograd4; a pass an algorithm cannot run is left out\n"
        "  --json           one JSON object per line and measurement, instead of a table\n"
        "  --profile        also the device time per kernel of the step and of inference (a\n"
        "                   profiled context), and each pass's time outside its kernels\n"
        "                   (launches and host work) with its number of launches\n"
        "  --help           this text\n\n"
        "IR50 at batch 64 is slow on a small CPU; for a quick look:\n"
        "  agecl-bench --preset cpu --batch 16 --runs 3\n"
        "Progress goes to stderr. Exit status: 0 when every measurement ran, 1 otherwise,\n"
        "2 on bad usage.\n");
}

/* "--name VALUE" or "--name=VALUE": the value, advancing *i; NULL when argv[*i] is not it. */
static const char *option_value(int argc, char **argv, int *i, const char *name)
{
    size_t len = strlen(name);
    if (strncmp(argv[*i], name, len)) return NULL;
    if (argv[*i][len] == '=') return argv[*i] + len + 1;
    if (argv[*i][len] || *i + 1 >= argc) return NULL;
    return argv[++*i];
}

/* An integer in [min, 1000000]; 0 when s is not one. */
static int int_arg(const char *s, int min, int *out)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (*s == '\0' || *end || v < min || v > 1000000) return 0;
    *out = (int)v;
    return 1;
}

static int add_sections(const char *list, unsigned *mask)
{
    char buf[128];
    snprintf(buf, sizeof buf, "%s", list);
    for (char *tok = strtok(buf, ","); tok; tok = strtok(NULL, ",")) {
        int k = 0;
        while (k < N_SECTIONS && strcmp(tok, section_names[k])) k++;
        if (k == N_SECTIONS) return 0;
        *mask |= 1u << k;
    }
    return 1;
}

/* Add the algorithms of a comma-separated list ("all": every one); 0 if a name is unknown. */
static int add_algos(const char *list, unsigned *mask)
{
    char buf[256];
    snprintf(buf, sizeof buf, "%s", list);
    for (char *save = NULL, *name = strtok_r(buf, ",", &save); name;
         name = strtok_r(NULL, ",", &save)) {
        agecl_conv2d_algo a;
        if (!strcmp(name, "all")) *mask |= (1u << AGECL_CONV_ALGO_COUNT) - 1;
        else if (agecl_conv2d_algo_parse(name, &a) == AGECL_OK) *mask |= 1u << a;
        else return 0;
    }
    return *mask != 0;
}

/* 0 on success, 2 on bad usage (after a message), -1 after --help. */
static int parse(int argc, char **argv, bench_opts *o)
{
    *o = (bench_opts){NULL, "ir50", 64, 5, 1, 0, 0, 0, 0};
    for (int i = 1; i < argc; i++) {
        const char *v, *option = argv[i];
        int ok = 1;
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage(stdout);
            return -1;
        } else if (!strcmp(argv[i], "--json")) {
            o->json = 1;
        } else if (!strcmp(argv[i], "--profile")) {
            o->profile = 1;
        } else if ((v = option_value(argc, argv, &i, "--device"))) {
            o->device = v;
        } else if ((v = option_value(argc, argv, &i, "--preset"))) {
            o->preset = v;
        } else if ((v = option_value(argc, argv, &i, "--batch"))) {
            ok = int_arg(v, 1, &o->batch);
        } else if ((v = option_value(argc, argv, &i, "--runs"))) {
            ok = int_arg(v, 1, &o->runs);
        } else if ((v = option_value(argc, argv, &i, "--warmup"))) {
            ok = int_arg(v, 0, &o->warmup);
        } else if ((v = option_value(argc, argv, &i, "--only"))) {
            ok = add_sections(v, &o->sections);
        } else if ((v = option_value(argc, argv, &i, "--algo"))) {
            ok = add_algos(v, &o->algos);
        } else {
            fprintf(stderr, "agecl-bench: unknown or incomplete option '%s'; see --help\n",
                    argv[i]);
            return 2;
        }
        if (!ok) {
            fprintf(stderr, "agecl-bench: bad value '%s' for %s; see --help\n", v, option);
            return 2;
        }
    }
    if (!o->sections) o->sections = SECTION_ALL;
    if (!o->algos) o->algos = 1u << AGECL_CONV_AUTO;
    return 0;
}

/* Run the chosen sections on one device; the number of sections that failed. */
static int bench_device(const bench_opts *o, int index, const agecl_model_config *cfg)
{
    bench_dev d = {.opt = o, .index = index, .cfg = *cfg};
    char selector[16];
    snprintf(selector, sizeof selector, "%d", index);
    agecl_status s = agecl_ctx_create(&d.ctx, selector, 0);
    if (s != AGECL_OK) {
        bench_report("context", s);
        return 1;
    }
    const agecl_device_info *info = agecl_ctx_device(d.ctx);
    snprintf(d.name, sizeof d.name, "%s", info->name);
    snprintf(d.platform, sizeof d.platform, "%s", info->platform);
    bench_progress("device %d: %s / %s", index, d.platform, d.name);
    int failed = 0;
    for (int k = 0; k < N_SECTIONS; k++) {
        if (!(o->sections & (1u << k))) continue;
        switch (1u << k) {
        case SECTION_PEAK: s = bench_peak(&d); break;
        case SECTION_LAYERS:
            s = bench_convs(&d, o->batch);
            if (s == AGECL_OK && o->batch != 1) s = bench_convs(&d, 1);
            break;
        case SECTION_OPS: s = bench_ops(&d, o->batch); break;
        case SECTION_STEP: s = bench_step(&d); break;
        default: s = bench_infer(&d); break;
        }
        if (s != AGECL_OK) {
            bench_report(section_names[k], s);
            failed++;
        }
    }
    agecl_ctx_destroy(d.ctx);
    return failed;
}

int main(int argc, char **argv)
{
    bench_opts o;
    int rc = parse(argc, argv, &o);
    if (rc) return rc < 0 ? 0 : rc;

    agecl_model_config cfg;
    int ages[BENCH_AGES];
    for (int i = 0; i < BENCH_AGES; i++) ages[i] = i + 1;
    agecl_status s = agecl_model_preset(o.preset, &cfg);
    if (s == AGECL_OK) s = agecl_model_config_set_ages(&cfg, ages, BENCH_AGES);
    if (s != AGECL_OK) {
        bench_report("preset", s);
        return 2;
    }

    int first = 0, count = 0;
    if (o.device) {
        s = agecl_device_select(o.device, &first);
        count = first + 1;
    } else {
        s = agecl_device_count(&count);
    }
    if (s != AGECL_OK) {
        bench_report("devices", s);
        return 1;
    }
    int failed = 0;
    for (int i = first; i < count; i++) failed += bench_device(&o, i, &cfg);
    return failed ? 1 : 0;
}
