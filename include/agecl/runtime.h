/* agecl/runtime.h - devices, contexts and programs.
 *
 * A context (agecl_ctx) owns one OpenCL device, its cl_context and one in-order
 * command queue. Several contexts may live in one process (one per device, or
 * several on the same device); each is used from one thread at a time.
 *
 * Device selectors (agecl_ctx_create, AGECL_DEVICE, --device):
 *   NULL or ""      the AGECL_DEVICE variable if set (agecl_ctx_create_with: the
 *                   options' device), else the first device
 *   "3"             the device with that index in `agecl devices`
 *   "gpu" "cpu" "accelerator" "any"   the first device of that type
 *   anything else   the first device whose "platform / device" name contains it,
 *                   ignoring case ("pocl", "A100", "Intel")
 *
 * Programs are built from the OpenCL C sources embedded in the library, once per
 * context, and cached on disk as program binaries under AGECL_CACHE_DIR, else
 * $XDG_CACHE_HOME/agecl, else ~/.cache/agecl. The key covers the platform, the
 * device, the driver version, the source and the build options; a corrupt,
 * truncated or stale file is rebuilt, never trusted. */
#ifndef AGECL_RUNTIME_H
#define AGECL_RUNTIME_H

#include <stddef.h>
#include <stdio.h>
#ifndef CL_TARGET_OPENCL_VERSION
#define CL_TARGET_OPENCL_VERSION 120 /* agecl needs OpenCL 1.2 and nothing newer */
#endif
#include <CL/cl.h>
#include "agecl/options.h"
#include "agecl/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct agecl_ctx agecl_ctx;

enum {
    AGECL_CTX_PROFILING = 1 << 0, /* time every kernel the library enqueues; also set by
                                     the variable AGECL_PROFILE=1 */
};

/* A description of one OpenCL device, as `agecl devices` prints it. */
typedef struct agecl_device_info {
    int index;                   /* global index across platforms */
    char platform[128];
    char platform_version[128];
    char name[128];
    char vendor[128];
    char driver_version[128];
    char device_version[128];    /* "OpenCL 3.0 PoCL ..." */
    char opencl_c_version[128];
    cl_device_type type;
    unsigned compute_units;
    unsigned clock_mhz;
    unsigned long long global_mem_bytes;
    unsigned long long local_mem_bytes;
    unsigned long long max_alloc_bytes;
    size_t max_work_group_size;
    int fp16, fp64;
} agecl_device_info;

/* Count the OpenCL devices of every platform. AGECL_E_NO_PLATFORM when there is none. */
agecl_status agecl_device_count(int *count);

/* Describe device `index` (0 <= index < count). */
agecl_status agecl_device_query(int index, agecl_device_info *info);

/* Resolve a selector (see above) to a device index without creating a context. */
agecl_status agecl_device_select(const char *selector, int *index);

/* The k-th device (from 0, round-robin) that a type or name selector matches, and
 * how many match (*matches, optional); an index selects that one device (1
 * match). One process per device picks its own with k = its local rank. */
agecl_status agecl_device_select_nth(const char *selector, int k, int *index, int *matches);

/* "gpu", "cpu", "accelerator" or "other". */
const char *agecl_device_type_name(cl_device_type type);

/* The library's version, "0.1.0". */
const char *agecl_version(void);

/* Create a context on the selected device, with the options of the environment
 * (agecl_options_from_env; a bad variable fails here, naming it); flags is a mask
 * of AGECL_CTX_*. A selector that is not NULL or "" overrides AGECL_DEVICE. */
agecl_status agecl_ctx_create(agecl_ctx **out, const char *selector, unsigned flags);

/* Create a context with the caller's options (agecl/options.h); the environment is
 * not read. The device is o->device's selection. */
agecl_status agecl_ctx_create_with(agecl_ctx **out, const agecl_options *o, unsigned flags);

/* The context's options. */
const agecl_options *agecl_ctx_options(const agecl_ctx *ctx);

/* Change the options for the plans created and the calls made from now on. The
 * device, the cache folder and profiling are the context's for life: a change to
 * them fails with AGECL_E_INVALID_ARG. */
agecl_status agecl_ctx_set_options(agecl_ctx *ctx, const agecl_options *o);
void agecl_ctx_destroy(agecl_ctx *ctx);

const agecl_device_info *agecl_ctx_device(const agecl_ctx *ctx);
cl_context agecl_ctx_cl_context(const agecl_ctx *ctx);
cl_command_queue agecl_ctx_queue(const agecl_ctx *ctx);
cl_device_id agecl_ctx_cl_device(const agecl_ctx *ctx);

/* Wait for everything enqueued on the context's queue. */
agecl_status agecl_ctx_finish(agecl_ctx *ctx);

/* The folder of the caches ("" when caching is off: none was asked for, or it
 * cannot be made). */
const char *agecl_ctx_cache_dir(const agecl_ctx *ctx);

/* Program cache statistics of this context since it was created. */
typedef struct agecl_cache_stats {
    int hits;          /* programs loaded from a valid cache file */
    int misses;        /* programs compiled from source (no file) */
    int rejected;      /* cache files found corrupt, truncated or stale, then rebuilt */
    double build_seconds; /* wall time spent creating and building programs */
} agecl_cache_stats;
agecl_cache_stats agecl_ctx_cache_stats(const agecl_ctx *ctx);

/* Build an OpenCL C program from source for the context's device, through the
 * disk cache. On a compiler error: AGECL_E_BUILD, and agecl_last_build_log()
 * holds the log. The caller releases *out with clReleaseProgram. */
agecl_status agecl_program_build(agecl_ctx *ctx, const char *source, const char *options,
                                 cl_program *out);

/* Kernel profiling (contexts created with AGECL_CTX_PROFILING): wait for the
 * queue, then add up the device time of each kernel name since the last reset. */
typedef struct agecl_profile_entry {
    const char *name;
    int calls;
    double ms;
} agecl_profile_entry;
agecl_status agecl_ctx_profile(agecl_ctx *ctx, const agecl_profile_entry **entries, int *count);
void agecl_ctx_profile_reset(agecl_ctx *ctx);

/* Run a small kernel on the context's device and check its result against the
 * host: the self-check of `agecl selfcheck`. */
agecl_status agecl_selfcheck(agecl_ctx *ctx);

#ifdef __cplusplus
}
#endif
#endif
