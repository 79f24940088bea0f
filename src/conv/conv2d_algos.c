/* The convolution algorithms by id, their names, and what each supports. */
#include <stdio.h>
#include <string.h>
#include "conv/conv2d_algo.h"
#include "error.h"

/* Indexed by agecl_conv2d_algo; NULL for AUTO. Each algorithm adds its line. */
static const agecl__conv2d_algo *const algos[AGECL_CONV_ALGO_COUNT] = {
    [AGECL_CONV_IM2COL_GEMM] = &agecl__conv2d_im2col_gemm,
    [AGECL_CONV_IM2COL_CLBLAST] = &agecl__conv2d_im2col_clblast,
    [AGECL_CONV_WINOGRAD] = &agecl__conv2d_winograd,
    [AGECL_CONV_IMPLICIT_GEMM] = &agecl__conv2d_implicit,
    [AGECL_CONV_FFT] = &agecl__conv2d_fft,
    [AGECL_CONV_WINOGRAD4] = &agecl__conv2d_winograd4,
};

static const char *const names[AGECL_CONV_ALGO_COUNT] = {
    [AGECL_CONV_AUTO] = "auto",           [AGECL_CONV_IM2COL_GEMM] = "im2col",
    [AGECL_CONV_IM2COL_CLBLAST] = "clblast", [AGECL_CONV_WINOGRAD] = "winograd",
    [AGECL_CONV_FFT] = "fft",             [AGECL_CONV_IMPLICIT_GEMM] = "implicit",
    [AGECL_CONV_WINOGRAD4] = "winograd4",
};

const agecl__conv2d_algo *agecl__conv2d_algo_of(agecl_conv2d_algo id)
{
    return (int)id > 0 && id < AGECL_CONV_ALGO_COUNT ? algos[id] : NULL;
}

const char *agecl_conv2d_algo_name(agecl_conv2d_algo algo)
{
    return (int)algo >= 0 && algo < AGECL_CONV_ALGO_COUNT ? names[algo] : NULL;
}

agecl_status agecl_conv2d_algo_parse(const char *name, agecl_conv2d_algo *out)
{
    for (int a = 0; name && a < AGECL_CONV_ALGO_COUNT; a++)
        if (!strcmp(name, names[a])) {
            *out = (agecl_conv2d_algo)a;
            return AGECL_OK;
        }
    return agecl__fail(AGECL_E_INVALID_ARG,
                       "conv2d: unknown algorithm '%s' (auto, im2col, clblast, winograd, fft, "
                       "implicit, winograd4)", name ? name : "(null)");
}

int agecl_conv2d_algo_supports(agecl_ctx *ctx, const agecl_conv2d_desc *d, agecl_conv2d_algo algo,
                               agecl_conv2d_pass pass)
{
    if (algo == AGECL_CONV_AUTO) return 1;
    const agecl__conv2d_algo *a = agecl__conv2d_algo_of(algo);
    if (!a || !ctx || !d || (int)pass < 0 || pass >= AGECL_CONV_PASS_COUNT) return 0;
    if (!agecl__conv2d_sizes_ok(d) || !agecl__conv2d_kernel_ok(d) || !agecl__conv2d_stride_ok(d))
        return 0;
    return a->supports(ctx, d, pass);
}
