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
};

static const char *const names[AGECL_CONV_ALGO_COUNT] = {
    [AGECL_CONV_AUTO] = "auto",           [AGECL_CONV_IM2COL_GEMM] = "im2col",
    [AGECL_CONV_IM2COL_CLBLAST] = "clblast", [AGECL_CONV_WINOGRAD] = "winograd",
    [AGECL_CONV_FFT] = "fft",             [AGECL_CONV_IMPLICIT_GEMM] = "implicit",
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
                       "implicit)", name ? name : "(null)");
}

int agecl_conv2d_algo_supports(agecl_ctx *ctx, const agecl_conv2d_desc *d, agecl_conv2d_algo algo,
                               agecl_conv2d_pass pass)
{
    if (algo == AGECL_CONV_AUTO) return 1;
    const agecl__conv2d_algo *a = agecl__conv2d_algo_of(algo);
    if (!a || !ctx || !d || (int)pass < 0 || pass >= AGECL_CONV_PASS_COUNT) return 0;
    int shape_ok = (d->kernel == 3 && d->pad == 1) || (d->kernel == 1 && d->pad == 0);
    if (d->n <= 0 || d->c_in <= 0 || d->h <= 0 || d->w <= 0 || d->c_out <= 0 || !shape_ok ||
        (d->stride != 1 && d->stride != 2))
        return 0;
    return a->supports(ctx, d, pass);
}
