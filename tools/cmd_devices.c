/* agecl devices, agecl selfcheck */
#include <stdio.h>
#include <string.h>
#include "agecl.h"
#include "commands.h"

static int wants_help(int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) return 1;
    return 0;
}

static void print_device(const agecl_device_info *d)
{
    printf("[%d] %s\n", d->index, d->name);
    printf("    platform        %s (%s)\n", d->platform, d->platform_version);
    printf("    type            %s\n", agecl_device_type_name(d->type));
    printf("    vendor          %s\n", d->vendor);
    printf("    compute units   %u\n", d->compute_units);
    printf("    clock           %u MHz\n", d->clock_mhz);
    printf("    global memory   %.1f GiB (largest buffer %.1f GiB)\n",
           d->global_mem_bytes / 1073741824.0, d->max_alloc_bytes / 1073741824.0);
    printf("    local memory    %.0f KiB\n", d->local_mem_bytes / 1024.0);
    printf("    max work-group  %zu\n", d->max_work_group_size);
    printf("    fp16 / fp64     %s / %s\n", d->fp16 ? "yes" : "no", d->fp64 ? "yes" : "no");
    printf("    driver          %s\n", d->driver_version);
    printf("    version         %s; %s\n", d->device_version, d->opencl_c_version);
}

int cmd_devices(int argc, char **argv)
{
    if (wants_help(argc, argv)) {
        printf("usage: agecl devices\n\n"
               "List every OpenCL platform and device with the index, name and type that\n"
               "--device and AGECL_DEVICE accept. Exits 1 when no platform or device exists.\n");
        return 0;
    }
    if (argc > 1) {
        fprintf(stderr, "agecl devices: unexpected argument '%s'\n", argv[1]);
        return 2;
    }
    int count = 0;
    agecl_status s = agecl_device_count(&count);
    if (s != AGECL_OK) return cli_fail("devices", s);
    if (count == 0) {
        fprintf(stderr, "agecl devices: the OpenCL platforms list no device\n");
        return 1;
    }
    for (int i = 0; i < count; i++) {
        agecl_device_info info;
        s = agecl_device_query(i, &info);
        if (s != AGECL_OK) return cli_fail("devices", s);
        print_device(&info);
    }
    return 0;
}

int cmd_selfcheck(int argc, char **argv)
{
    if (wants_help(argc, argv)) {
        printf("usage: agecl selfcheck [--device SEL]\n\n"
               "Build the library's self-check kernel on each device (or the selected one),\n"
               "run it and compare with the host. Exits 1 if any device fails.\n");
        return 0;
    }
    const char *only = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--device") && i + 1 < argc) only = argv[++i];
        else {
            fprintf(stderr, "agecl selfcheck: unexpected argument '%s'\n", argv[i]);
            return 2;
        }
    }
    int count = 0, failed = 0;
    agecl_status s = agecl_device_count(&count);
    if (s != AGECL_OK) return cli_fail("selfcheck", s);
    int first = 0, last = count - 1;
    if (only) {
        s = agecl_device_select(only, &first);
        if (s != AGECL_OK) return cli_fail("selfcheck", s);
        last = first;
    }
    for (int i = first; i <= last; i++) {
        char sel[16];
        snprintf(sel, sizeof sel, "%d", i);
        agecl_ctx *ctx = NULL;
        s = agecl_ctx_create(&ctx, sel, 0);
        if (s == AGECL_OK) s = agecl_selfcheck(ctx);
        const char *name = ctx ? agecl_ctx_device(ctx)->name : sel;
        if (s == AGECL_OK) printf("[%d] %s: ok\n", i, name);
        else {
            printf("[%d] %s: FAILED: %s: %s\n", i, name, agecl_strerror(s), agecl_last_error());
            failed = 1;
        }
        agecl_ctx_destroy(ctx);
    }
    return failed;
}
