/* agecl tune: tune CLBlast's matrix product for a device (agecl/clblast_tune.h). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include "agecl.h"
#include "agecl/clblast_tune.h"
#include "commands.h"

static void tune_usage(FILE *f)
{
    fprintf(f,
        "usage: agecl tune [--device SEL] [--budget SECONDS] [--check]\n\n"
        "Tune CLBlast's SGEMM for a device its database does not know: time a short\n"
        "list of kernel parameters on products shaped like IR50's convolutions, keep\n"
        "the fastest in the cache folder (AGECL_CACHE_DIR, default ~/.cache/agecl) and\n"
        "use it from then on whenever that device multiplies through CLBlast. Every\n"
        "candidate compiles kernels (seconds each on PoCL).\n\n"
        "  --device SEL       index, name or gpu/cpu/any (default: AGECL_DEVICE, else the first)\n"
        "  --budget SECONDS   start no new candidate after this (default 120)\n"
        "  --check            only say whether tuned parameters are saved for the device\n");
}

static void print_line(void *user, const char *line)
{
    (void)user;
    printf("  %s\n", line);
    fflush(stdout);
}

int cmd_tune(int argc, char **argv)
{
    const char *device = NULL;
    double budget = 0;
    int check = 0;
    static const struct option longs[] = {
        {"device", required_argument, 0, 'D'}, {"budget", required_argument, 0, 'b'},
        {"check", no_argument, 0, 'c'}, {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, "h", longs, NULL)) != -1) {
        switch (c) {
        case 'D': device = optarg; break;
        case 'b': if (!cli_number("tune", "--budget", optarg, 0, 86400, &budget)) return 2; break;
        case 'c': check = 1; break;
        case 'h': tune_usage(stdout); return 0;
        default: tune_usage(stderr); return 2;
        }
    }
    if (optind < argc || budget < 0) {
        fprintf(stderr, "agecl tune: unexpected argument (see --help)\n");
        return 2;
    }
    agecl_ctx *ctx = NULL;
    agecl_status s = agecl_ctx_create(&ctx, device, 0);
    if (s != AGECL_OK) return cli_fail("tune", s);
    const agecl_device_info *info = agecl_ctx_device(ctx);
    printf("device [%d] %s (%s)\n", info->index, info->name, info->platform);
    if (check) {
        int has = 0;
        s = agecl_clblast_tuned(ctx, &has);
        if (s == AGECL_OK) printf("CLBlast parameters %s\n", has ? "tuned" : "not tuned");
        agecl_ctx_destroy(ctx);
        return s == AGECL_OK ? 0 : cli_fail("tune --check", s);
    }
    if (!*agecl_ctx_cache_dir(ctx))
        printf("no cache folder: the result applies to this run only\n");
    fflush(stdout);
    agecl_clblast_tune_options opt = {budget, print_line, NULL};
    agecl_clblast_tune_report r;
    s = agecl_clblast_tune_ex(ctx, &opt, &r);
    agecl_ctx_destroy(ctx);
    if (s != AGECL_OK) return cli_fail("tune", s);
    printf("chosen:\n%s", r.chosen);
    if (r.saved) printf("saved to %s\n", r.path);
    printf("CLBlast SGEMM: %.1f GFLOP/s before, %.1f after (%d candidates, %d failed, "
           "%d not tried; %.0f s)\n",
           r.gflops_before, r.gflops_after, r.tried, r.failed, r.skipped, r.seconds);
    return 0;
}
