/* src/conv/conv2d_fft.h - what the FFT convolution (conv2d_fft.c) shares with its
 * clFFT helpers (conv2d_fft_clfft.c) and its unit test, which looks into the state
 * to check how a call is cut up (not installed). */
#ifndef AGECL_CONV_CONV2D_FFT_H
#define AGECL_CONV_CONV2D_FFT_H

#include <stddef.h>
#include <clFFT.h>
#include "agecl/runtime.h"
#include "agecl/status.h"
#include "conv/conv2d_algo.h"

/* The workspace each pass of a new plan aims to stay under, in bytes:
 * AGECL_CONV2D_WORKSPACE_LIMIT. Only tests change it, to run many chunks and blocks
 * at small sizes. */
extern size_t agecl__conv2d_fft_budget;

/* What a pass of a state runs (conv2d_fft.c says how). */
typedef struct agecl__fft_pass {
    int nb, chunks;  /* samples per chunk; chunks */
    int blk, blocks; /* channels per block of the blocked side; blocks */
    size_t at[3];    /* floats from the aligned start of the workspace to the spectra of
                        groups A, B and C (C = A op B) */
    size_t real_at;  /* ... to a piece of real planes */
    size_t tmp_at;   /* ... to clFFT's temporary buffer */
    size_t floats;   /* what the pass asks of the workspace, alignment slack included */
} agecl__fft_pass;

/* The state of agecl__conv2d_fft for one description. */
typedef struct agecl__fft_state {
    agecl_ctx *ctx;
    agecl_conv2d_desc d;
    int fh, fw;       /* transform size */
    size_t nf;        /* complex numbers in a half spectrum: fh * (fw/2 + 1) */
    size_t dist;      /* complex numbers from one plane's spectrum to the next */
    size_t piece;     /* planes per transform */
    size_t align;     /* bytes: sub-buffer origins */
    size_t tmp_bytes; /* clFFT's temporary buffer */
    int clfft_held, have_r2c, have_c2r;
    clfftPlanHandle r2c, c2r;
    agecl__fft_pass pass[AGECL_CONV_PASS_COUNT];
} agecl__fft_state;

/* The smallest size >= n with no prime factor but 2, 3, 5 and 7 (what clFFT takes). */
int agecl__fft_smooth_size(int n);

/* clFFT's global state, counted: the first acquire runs clfftSetup, the last release
 * clfftTeardown (which frees every compiled FFT program). Thread-safe. */
agecl_status agecl__clfft_acquire(const char *op);
void agecl__clfft_release(void);

/* A baked batch of `batch` single-precision 2-D transforms of fh x fw real planes
 * (rows fw floats apart, planes fh*fw apart) to or from their half spectra (rows of
 * fw/2+1 complex numbers, planes `dist` complex numbers apart), unscaled both ways:
 * real_to_complex gives the forward (e^-i) transform, else the backward one (e^+i).
 * tmp_bytes: the temporary buffer each enqueue needs. */
agecl_status agecl__clfft_plan(agecl_ctx *ctx, const char *op, int real_to_complex, int fh, int fw,
                               size_t dist, size_t batch, clfftPlanHandle *plan,
                               size_t *tmp_bytes);

/* Enqueue the transform on ctx's queue, from in to out, with tmp as scratch. */
agecl_status agecl__clfft_run(agecl_ctx *ctx, const char *op, clfftPlanHandle plan,
                              int real_to_complex, cl_mem in, cl_mem out, cl_mem tmp);

/* Fail with the name of a clFFT status: AGECL_E_OUT_OF_MEMORY for memory, else
 * AGECL_E_BLAS; the detail reads "<op>: <what>: <status name> (<code>)". */
agecl_status agecl__clfft_fail(clfftStatus status, const char *op, const char *what);

#endif
