/* Enumerating OpenCL devices across platforms, and resolving device selectors. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "runtime/ctx.h"
#include "runtime/options_internal.h"
#include "error.h"

#define MAX_PLATFORMS 16
#define MAX_DEVICES 64

static agecl_status list_platforms(cl_platform_id *platforms, cl_uint *count)
{
    cl_int err = clGetPlatformIDs(MAX_PLATFORMS, platforms, count);
    if (err == -1001 /* CL_PLATFORM_NOT_FOUND_KHR */ || (err == CL_SUCCESS && *count == 0))
        return agecl__fail(AGECL_E_NO_PLATFORM,
                           "no OpenCL platform is installed (no ICD in /etc/OpenCL/vendors; "
                           "on Debian, `apt-get install pocl-opencl-icd` gives a CPU device)");
    if (err != CL_SUCCESS) return agecl__cl_fail(err, "clGetPlatformIDs");
    if (*count > MAX_PLATFORMS) *count = MAX_PLATFORMS;
    return AGECL_OK;
}

static cl_uint platform_devices(cl_platform_id p, cl_device_id *devices, cl_uint max)
{
    cl_uint n = 0;
    if (clGetDeviceIDs(p, CL_DEVICE_TYPE_ALL, max, devices, &n) != CL_SUCCESS) return 0;
    return n < max ? n : max;
}

agecl_status agecl_device_count(int *count)
{
    if (!count) return agecl__fail(AGECL_E_INVALID_ARG, "agecl_device_count: count is NULL");
    cl_platform_id platforms[MAX_PLATFORMS];
    cl_uint np = 0;
    *count = 0;
    AGECL_TRY(list_platforms(platforms, &np));
    for (cl_uint i = 0; i < np; i++) {
        cl_device_id devices[MAX_DEVICES];
        *count += (int)platform_devices(platforms[i], devices, MAX_DEVICES);
    }
    return AGECL_OK;
}

agecl_status agecl__device_ids(int index, cl_platform_id *platform, cl_device_id *device)
{
    cl_platform_id platforms[MAX_PLATFORMS];
    cl_uint np = 0;
    AGECL_TRY(list_platforms(platforms, &np));
    int base = 0;
    for (cl_uint i = 0; i < np; i++) {
        cl_device_id devices[MAX_DEVICES];
        int n = (int)platform_devices(platforms[i], devices, MAX_DEVICES);
        if (index >= base && index < base + n) {
            *platform = platforms[i];
            *device = devices[index - base];
            return AGECL_OK;
        }
        base += n;
    }
    return agecl__fail(AGECL_E_NO_DEVICE, "there is no OpenCL device %d (%d devices)", index, base);
}

/* Query a string, truncated to fit buf (the query itself fails on a short buffer). */
static void info_string(cl_device_id d, cl_device_info what, char *buf, size_t len)
{
    size_t need = 0;
    buf[0] = '\0';
    if (clGetDeviceInfo(d, what, 0, NULL, &need) != CL_SUCCESS || need == 0) return;
    char *tmp = malloc(need + 1);
    if (!tmp) return;
    if (clGetDeviceInfo(d, what, need, tmp, NULL) == CL_SUCCESS) {
        tmp[need] = '\0';
        snprintf(buf, len, "%s", tmp);
    }
    free(tmp);
}

static void platform_string(cl_platform_id p, cl_platform_info what, char *buf, size_t len)
{
    size_t need = 0;
    buf[0] = '\0';
    if (clGetPlatformInfo(p, what, 0, NULL, &need) != CL_SUCCESS || need == 0) return;
    char *tmp = malloc(need + 1);
    if (!tmp) return;
    if (clGetPlatformInfo(p, what, need, tmp, NULL) == CL_SUCCESS) {
        tmp[need] = '\0';
        snprintf(buf, len, "%s", tmp);
    }
    free(tmp);
}

static void trim(char *s)
{
    size_t n = strlen(s);
    while (n && isspace((unsigned char)s[n - 1])) s[--n] = '\0';
    size_t lead = strspn(s, " \t");
    if (lead) memmove(s, s + lead, n - lead + 1);
}

agecl_status agecl__device_describe(cl_platform_id p, cl_device_id d, int index,
                                    agecl_device_info *info)
{
    memset(info, 0, sizeof *info);
    info->index = index;
    platform_string(p, CL_PLATFORM_NAME, info->platform, sizeof info->platform);
    platform_string(p, CL_PLATFORM_VERSION, info->platform_version,
                    sizeof info->platform_version);
    info_string(d, CL_DEVICE_NAME, info->name, sizeof info->name);
    info_string(d, CL_DEVICE_VENDOR, info->vendor, sizeof info->vendor);
    info_string(d, CL_DRIVER_VERSION, info->driver_version, sizeof info->driver_version);
    info_string(d, CL_DEVICE_VERSION, info->device_version, sizeof info->device_version);
    info_string(d, CL_DEVICE_OPENCL_C_VERSION, info->opencl_c_version,
                sizeof info->opencl_c_version);
    trim(info->name);
    trim(info->platform);

    cl_uint u = 0;
    cl_ulong ul = 0;
    size_t sz = 0;
    cl_device_fp_config fp = 0;
    if (clGetDeviceInfo(d, CL_DEVICE_TYPE, sizeof info->type, &info->type, NULL) != CL_SUCCESS)
        return agecl__fail(AGECL_E_OPENCL, "cannot query device %d", index);
    if (clGetDeviceInfo(d, CL_DEVICE_MAX_COMPUTE_UNITS, sizeof u, &u, NULL) == CL_SUCCESS)
        info->compute_units = u;
    if (clGetDeviceInfo(d, CL_DEVICE_MAX_CLOCK_FREQUENCY, sizeof u, &u, NULL) == CL_SUCCESS)
        info->clock_mhz = u;
    if (clGetDeviceInfo(d, CL_DEVICE_GLOBAL_MEM_SIZE, sizeof ul, &ul, NULL) == CL_SUCCESS)
        info->global_mem_bytes = ul;
    if (clGetDeviceInfo(d, CL_DEVICE_LOCAL_MEM_SIZE, sizeof ul, &ul, NULL) == CL_SUCCESS)
        info->local_mem_bytes = ul;
    if (clGetDeviceInfo(d, CL_DEVICE_MAX_MEM_ALLOC_SIZE, sizeof ul, &ul, NULL) == CL_SUCCESS)
        info->max_alloc_bytes = ul;
    if (clGetDeviceInfo(d, CL_DEVICE_MAX_WORK_GROUP_SIZE, sizeof sz, &sz, NULL) == CL_SUCCESS)
        info->max_work_group_size = sz;
    if (clGetDeviceInfo(d, CL_DEVICE_DOUBLE_FP_CONFIG, sizeof fp, &fp, NULL) == CL_SUCCESS)
        info->fp64 = fp != 0;
    char ext[8192];
    info_string(d, CL_DEVICE_EXTENSIONS, ext, sizeof ext);
    info->fp16 = strstr(ext, "cl_khr_fp16") != NULL;
    if (strstr(ext, "cl_khr_fp64")) info->fp64 = 1;
    return AGECL_OK;
}

agecl_status agecl_device_query(int index, agecl_device_info *info)
{
    if (!info) return agecl__fail(AGECL_E_INVALID_ARG, "agecl_device_query: info is NULL");
    cl_platform_id p;
    cl_device_id d;
    AGECL_TRY(agecl__device_ids(index, &p, &d));
    return agecl__device_describe(p, d, index, info);
}

const char *agecl_device_type_name(cl_device_type type)
{
    if (type & CL_DEVICE_TYPE_GPU) return "gpu";
    if (type & CL_DEVICE_TYPE_CPU) return "cpu";
    if (type & CL_DEVICE_TYPE_ACCELERATOR) return "accelerator";
    return "other";
}

static int contains_nocase(const char *hay, const char *needle)
{
    size_t n = strlen(needle);
    for (; *hay; hay++)
        if (strncasecmp(hay, needle, n) == 0) return 1;
    return n == 0;
}

static int all_digits(const char *s)
{
    if (!*s) return 0;
    for (; *s; s++)
        if (!isdigit((unsigned char)*s)) return 0;
    return 1;
}

agecl_status agecl_device_select(const char *selector, int *index)
{
    return agecl_device_select_nth(selector, 0, index, NULL);
}

agecl_status agecl_device_select_nth(const char *selector, int k, int *index, int *matches)
{
    if (!index || k < 0)
        return agecl__fail(AGECL_E_INVALID_ARG, "agecl_device_select: index NULL or k %d", k);
    if (!selector || !*selector) selector = agecl__options_env_device();
    if (!selector || !*selector) selector = "any";
    int count = 0;
    AGECL_TRY(agecl_device_count(&count));
    if (count == 0)
        return agecl__fail(AGECL_E_NO_DEVICE, "the OpenCL platforms list no device");

    if (all_digits(selector)) {
        long i = strtol(selector, NULL, 10);
        if (i >= count)
            return agecl__fail(AGECL_E_NO_DEVICE,
                               "device selector '%s': there are only %d devices (0..%d); "
                               "`agecl devices` lists them", selector, count, count - 1);
        *index = (int)i;
        if (matches) *matches = 1;
        return AGECL_OK;
    }

    cl_device_type want = 0;
    if (!strcasecmp(selector, "gpu")) want = CL_DEVICE_TYPE_GPU;
    else if (!strcasecmp(selector, "cpu")) want = CL_DEVICE_TYPE_CPU;
    else if (!strcasecmp(selector, "accelerator")) want = CL_DEVICE_TYPE_ACCELERATOR;
    else if (!strcasecmp(selector, "any")) want = CL_DEVICE_TYPE_ALL;

    char names[2048] = "";
    int found[64], n = 0; /* the matches, of the first 64 devices */
    for (int i = 0; i < count && i < 64; i++) {
        agecl_device_info info;
        if (agecl_device_query(i, &info) != AGECL_OK) continue;
        int match = want ? (info.type & want) != 0
                         : contains_nocase(info.name, selector) ||
                               contains_nocase(info.platform, selector);
        if (match) found[n++] = i;
        size_t used = strlen(names);
        snprintf(names + used, sizeof names - used, "%s%d: %s / %s (%s)", i ? "; " : "", i,
                 info.platform, info.name, agecl_device_type_name(info.type));
    }
    if (n) {
        *index = found[k % n];
        if (matches) *matches = n;
        agecl_clear_error();
        return AGECL_OK;
    }
    return agecl__fail(AGECL_E_NO_DEVICE, "no OpenCL device matches '%s'; the devices are: %s",
                       selector, names);
}
