/* The context's insides, shared by src/runtime (not installed). */
#ifndef AGECL_RUNTIME_CTX_H
#define AGECL_RUNTIME_CTX_H

#include <CL/cl.h>
#include "agecl/runtime.h"

typedef struct agecl__program_entry {
    char *name;        /* embedded source name */
    char *options;
    cl_program program;
} agecl__program_entry;

typedef struct agecl__kernel_entry {
    char *program;     /* embedded source name */
    char *options;
    char *kernel;
    cl_kernel handle;
} agecl__kernel_entry;

typedef struct agecl__profile_event {
    const char *kernel; /* points into a kernel entry, which outlives the event */
    cl_event event;
} agecl__profile_event;

struct agecl_ctx {
    agecl_device_info info;
    cl_platform_id platform;
    cl_device_id device;
    cl_context context;
    cl_command_queue queue;
    unsigned flags;
    agecl_options opt;      /* the switches (agecl/options.h) */
    char cache_dir[1024];   /* "" when caching is off */

    agecl__program_entry *programs;
    int n_programs, cap_programs;
    agecl__kernel_entry *kernels;
    int n_kernels, cap_kernels;

    agecl_cache_stats cache;

    cl_mem gemm_temp;       /* GEMM scratch: CLBlast's temporary buffer, our packed panels */
    size_t gemm_temp_bytes;
    void (*release_gemm)(void); /* set by the GEMM: what to drop before the context goes */

    agecl__profile_event *events;
    int n_events, cap_events;
    agecl_profile_entry *profile;
    int n_profile, cap_profile;
};

/* Find platform and device of a global device index. */
agecl_status agecl__device_ids(int index, cl_platform_id *platform, cl_device_id *device);
/* Fill info from a device id. */
agecl_status agecl__device_describe(cl_platform_id platform, cl_device_id device, int index,
                                    agecl_device_info *info);

/* Keep a profiling event for agecl_ctx_profile (takes ownership of the event). */
agecl_status agecl__profile_add(agecl_ctx *ctx, const char *kernel, cl_event event);
void agecl__profile_clear(agecl_ctx *ctx);

/* The program cache (program_cache.c): build source for ctx's device, trying
 * the disk cache first. */
agecl_status agecl__cache_build(agecl_ctx *ctx, const char *source, const char *options,
                                cl_program *out);
/* Read and verify a program-cache file written for key: a malloc'd payload of
 * *size bytes, or NULL (*bad set when a file was there but did not check out). */
unsigned char *agecl__program_cache_load(const char *path, uint64_t key, size_t *size, int *bad);

/* The cache folder: want (the options' cache_dir), made if missing; "" when want is
 * "" or cannot be made. */
void agecl__cache_dir_init(const char *want, char *dir, size_t len);

#endif
