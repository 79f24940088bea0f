/* src/runtime/options.c - the switches of a context and the one reader of the
 * environment (agecl/options.h has the table). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "agecl/options.h"
#include "runtime/options_internal.h"
#include "error.h"

static const char *const family_names[] = {"auto", "cpu", "gpu"};
static const char *const gemm_names[] = {"auto", "own", "clblast"};

const char *agecl_family_name(agecl_family f)
{
    return (int)f >= 0 && f <= AGECL_FAMILY_GPU ? family_names[f] : NULL;
}

const char *agecl_gemm_path_name(agecl_gemm_path g)
{
    return (int)g >= 0 && g <= AGECL_GEMM_PATH_CLBLAST ? gemm_names[g] : NULL;
}

void agecl_options_default(agecl_options *o)
{
    memset(o, 0, sizeof *o);
    o->fuse = 1;
}

static const char *var(const char *name)
{
    const char *v = getenv(name);
    return v && *v ? v : NULL;
}

const char *agecl__options_env_device(void) { return var("AGECL_DEVICE"); }

/* *out = the index of v in names[0..n), else fail naming the variable. */
static agecl_status pick(const char *name, const char *v, const char *const *names, int n,
                         int *out)
{
    for (int i = 0; i < n; i++)
        if (!strcmp(v, names[i])) {
            *out = i;
            return AGECL_OK;
        }
    char list[64] = "";
    for (int i = 0; i < n; i++)
        snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", i ? ", " : "", names[i]);
    return agecl__fail(AGECL_E_INVALID_ARG, "%s is '%s'; use one of: %s", name, v, list);
}

static agecl_status copy(const char *name, const char *v, char *dst, size_t len)
{
    if (strlen(v) >= len)
        return agecl__fail(AGECL_E_INVALID_ARG, "%s is longer than %zu characters", name, len - 1);
    memcpy(dst, v, strlen(v) + 1);
    return AGECL_OK;
}

agecl_status agecl_options_from_env(agecl_options *o)
{
    if (!o) return agecl__fail(AGECL_E_INVALID_ARG, "agecl_options_from_env: o is NULL");
    agecl_options_default(o);
    static const char *const bits[] = {"0", "1"};
    const char *v;
    int i;
    if ((v = var("AGECL_DEVICE"))) AGECL_TRY(copy("AGECL_DEVICE", v, o->device, sizeof o->device));
    const char *xdg = var("XDG_CACHE_HOME"), *home = var("HOME");
    if ((v = var("AGECL_CACHE_DIR")))
        AGECL_TRY(copy("AGECL_CACHE_DIR", v, o->cache_dir, sizeof o->cache_dir));
    else if (xdg || home)
        snprintf(o->cache_dir, sizeof o->cache_dir, "%s%s", xdg ? xdg : home,
                 xdg ? "/agecl" : "/.cache/agecl");
    if ((v = var("AGECL_KERNELS"))) {
        AGECL_TRY(pick("AGECL_KERNELS", v, family_names, 3, &i));
        o->kernels = (agecl_family)i;
    }
    if ((v = var("AGECL_GEMM"))) {
        AGECL_TRY(pick("AGECL_GEMM", v, gemm_names, 3, &i));
        o->gemm = (agecl_gemm_path)i;
    }
    if ((v = var("AGECL_CONV_ALGO")))
        AGECL_TRY(copy("AGECL_CONV_ALGO", v, o->conv_algo, sizeof o->conv_algo));
    if ((v = var("AGECL_FUSE"))) AGECL_TRY(pick("AGECL_FUSE", v, bits, 2, &o->fuse));
    if ((v = var("AGECL_PROFILE"))) AGECL_TRY(pick("AGECL_PROFILE", v, bits, 2, &o->profile));
    if ((v = var("AGECL_WERROR"))) AGECL_TRY(pick("AGECL_WERROR", v, bits, 2, &o->werror));
    return AGECL_OK;
}

agecl_status agecl__options_check(const agecl_options *o)
{
    if (!agecl_family_name(o->kernels))
        return agecl__fail(AGECL_E_INVALID_ARG, "options: kernels is %d (auto, cpu or gpu)",
                           (int)o->kernels);
    if (!agecl_gemm_path_name(o->gemm))
        return agecl__fail(AGECL_E_INVALID_ARG, "options: gemm is %d (auto, own or clblast)",
                           (int)o->gemm);
    if ((o->fuse != 0 && o->fuse != 1) || (o->profile != 0 && o->profile != 1) ||
        (o->werror != 0 && o->werror != 1))
        return agecl__fail(AGECL_E_INVALID_ARG, "options: fuse, profile and werror are 0 or 1, "
                           "not %d, %d and %d", o->fuse, o->profile, o->werror);
    if (!memchr(o->device, 0, sizeof o->device) || !memchr(o->cache_dir, 0, sizeof o->cache_dir) ||
        !memchr(o->conv_algo, 0, sizeof o->conv_algo))
        return agecl__fail(AGECL_E_INVALID_ARG, "options: a string field is not terminated");
    return AGECL_OK;
}

int agecl__options_cpu_kernels(const agecl_options *o, const agecl_device_info *info)
{
    if (o->kernels != AGECL_FAMILY_AUTO) return o->kernels == AGECL_FAMILY_CPU;
    return (info->type & CL_DEVICE_TYPE_CPU) != 0;
}
