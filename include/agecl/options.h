/* agecl/options.h - every switch of a context, in one place.
 *
 * A context holds one agecl_options. agecl_ctx_create fills it from the
 * environment, once; agecl_ctx_create_with takes the caller's; agecl_ctx_set_options
 * changes it later (for plans created and calls made afterwards). No op reads the
 * environment itself. None of the switches changes results beyond rounding: they
 * choose among equivalent kernels and paths, and the tests run every path on any
 * device with them.
 *
 *   field      variable          values (default first)
 *   device     AGECL_DEVICE      a device selector (agecl/runtime.h); "" = the first device
 *   cache_dir  AGECL_CACHE_DIR   the folder of program binaries, CLBlast tuning and
 *                                convolution choices; default $XDG_CACHE_HOME/agecl,
 *                                else $HOME/.cache/agecl; "" = no caching
 *   kernels    AGECL_KERNELS     auto | cpu | gpu: the kernel family of the layers,
 *                                im2col and Winograd (auto: the device's type)
 *   gemm       AGECL_GEMM        auto | own | clblast: whose SGEMM runs the products
 *                                (auto: ours on CPUs, CLBlast else)
 *   conv_algo  AGECL_CONV_ALGO   auto | im2col | clblast | winograd | fft | implicit |
 *                                winograd4: the algorithm of AGECL_CONV_AUTO plans (auto:
 *                                measured); checked when a plan is created
 *   fuse       AGECL_FUSE        1 | 0: layers fused, read when a model is created: the
 *                                stem's BatchNorm and PReLU in one kernel, and for
 *                                inference each BatchNorm that follows a convolution
 *                                folded into that convolution's weights (agecl/model.h)
 *   profile    AGECL_PROFILE     0 | 1: time every kernel (as AGECL_CTX_PROFILING)
 *   werror     AGECL_WERROR      0 | 1: build the library's kernels with -Werror, so that
 *                                a compiler warning fails the build, naming the program
 *                                (the test suite turns it on)
 */
#ifndef AGECL_OPTIONS_H
#define AGECL_OPTIONS_H

#include "agecl/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum agecl_family {
    AGECL_FAMILY_AUTO = 0, /* the device's type chooses */
    AGECL_FAMILY_CPU,      /* kernels written for CPU devices (one work-item, loops) */
    AGECL_FAMILY_GPU,      /* kernels written for GPUs (work-groups, local memory) */
} agecl_family;

typedef enum agecl_gemm_path {
    AGECL_GEMM_PATH_AUTO = 0, /* ours on CPU devices, CLBlast else */
    AGECL_GEMM_PATH_OWN,      /* cl/gemm_cpu.cl */
    AGECL_GEMM_PATH_CLBLAST,
} agecl_gemm_path;

typedef struct agecl_options {
    char device[256];
    char cache_dir[1024];
    agecl_family kernels;
    agecl_gemm_path gemm;
    char conv_algo[16]; /* a name of agecl_conv2d_algo_parse; "" = auto */
    int fuse;
    int profile;
    int werror;
} agecl_options;

/* The defaults of the table, without the environment (cache_dir: ""). */
void agecl_options_default(agecl_options *o);

/* The defaults, then every variable of the table that is set and not empty. A value
 * outside the table fails with AGECL_E_INVALID_ARG naming the variable; o then holds
 * what was read before it. */
agecl_status agecl_options_from_env(agecl_options *o);

/* The names of the values, as the variables take them ("auto", "cpu", ...); NULL
 * for a value out of range. */
const char *agecl_family_name(agecl_family f);
const char *agecl_gemm_path_name(agecl_gemm_path g);

#ifdef __cplusplus
}
#endif

#endif
