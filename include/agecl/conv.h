/* agecl/conv.h - 2-D convolution (forward, backward to the input, backward to the weights).
 *
 * WHAT IS COMPUTED
 *   x [n, c_in, h, w], weights wt [c_out, c_in, k, k], y [n, c_out, out_h, out_w], all
 *   packed NCHW float32 tensors (the weights as an agecl_tensor of shape
 *   c_out x c_in x k x k); no bias, no dilation, no groups:
 *     y[b,o,i,j] = sum_{c,u,v} wt[o,c,u,v] * x[b, c, i*stride + u - pad, j*stride + v - pad]
 *   with x read as 0 outside the image, and out_h = (h + 2*pad - k) / stride + 1 (same for w).
 *   The backward calls give the gradients of a loss L through y, from dy = dL/dy:
 *     dx = dL/dx  (backward_data)     dw = dL/dwt  (backward_filter)
 *   Supported: k = 3 with pad 1, or k = 1 with pad 0; stride 1 or 2; any sizes
 *   (anything else is AGECL_E_UNSUPPORTED).
 *
 * ACCUMULATION ("acc", as in every public header; BLAS calls it beta)
 *   Every call writes out = computed + acc * out. With acc = 0 the old contents are
 *   never read (they may be garbage or NaN); acc = 1 accumulates, e.g. a weight
 *   gradient summed over the steps of a batch, or an input gradient added to the one
 *   a residual shortcut already left there.
 *
 * PLANS
 *   A plan is made once per shape (desc) and run any number of times:
 *
 *     agecl_conv2d_desc d = {.n = 64, .c_in = 64, .h = 112, .w = 112,
 *                            .c_out = 64, .kernel = 3, .stride = 2, .pad = 1};
 *     agecl_conv2d_plan *p;
 *     AGECL_TRY(agecl_conv2d_plan_create(ctx, &d, AGECL_CONV_AUTO, &p));
 *     size_t ws = agecl_conv2d_plan_workspace_bytes(p);   // carve ws / 4 floats
 *     AGECL_TRY(agecl_conv2d_forward(p, &x, &wt, 0.0f, &y, ws ? &work : NULL));
 *     ...
 *     agecl_conv2d_plan_destroy(p);
 *
 *   Creating a plan checks the description, picks the algorithm, builds its kernels
 *   and sizes the workspace; running one only enqueues work (no device allocation,
 *   no waiting). A plan keeps its context, which must outlive it, and like the
 *   context is used from one thread at a time. The tensors given to a call must have
 *   exactly the plan's shapes (AGECL_E_SHAPE otherwise, naming the tensor).
 *
 * WORKSPACE
 *   The caller lends each call a scratch tensor of at least
 *   agecl_conv2d_plan_workspace_bytes / 4 elements (any shape; e.g. one view of an
 *   arena shared by all the layers of a model, sized by the largest plan). It may be
 *   NULL when that size is 0, and must not overlap the call's other tensors. Its
 *   contents are undefined after a call.
 *
 * ALGORITHMS
 *   Each pass of a plan (forward, backward_data, backward_filter) runs one algorithm;
 *   agecl_conv2d_plan_algo tells which. An explicit algorithm runs every pass it
 *   supports (agecl_conv2d_algo_supports) and leaves the others to IM2COL_GEMM.
 *   AGECL_CONV_AUTO          for each pass, the fastest algorithm for this device and
 *     shape, measured once as cuDNN's find does: every algorithm that supports the
 *     pass runs it (one warm-up, then the median of 3) on scratch tensors of at most
 *     16 samples, allocated and freed while the plan is created. The choice is kept
 *     for the process and in the cache folder (conv_algos.txt beside the program
 *     binaries: one line per device, shape and pass, the last line winning; delete
 *     the file to measure again), so a shape is measured once per device and driver.
 *     The variable AGECL_CONV_ALGO=<name>, read when a plan is created, makes AUTO
 *     plans run that algorithm instead (names: agecl_conv2d_algo_name).
 *   AGECL_CONV_IM2COL_GEMM   unrolls the input patches of a chunk of samples into
 *     a matrix (im2col) and multiplies it with GEMMs. A chunk is as many samples as
 *     fit in its share of workspace (at least one), so the workspace stays bounded
 *     whatever the batch: (c_in*k*k + c_out) * out_h * out_w floats per sample of
 *     the chunk. On CPU devices the share is an eighth of the device's cache (at most
 *     AGECL_CONV2D_WORKSPACE_LIMIT), so that the patches are still cached when the
 *     GEMM reads them, and forward runs one product per sample straight on the
 *     NCHW tensors; elsewhere chunks fill up to
 *     AGECL_CONV2D_WORKSPACE_LIMIT bytes and each call runs one wide product per
 *     chunk. The context's kernel family (agecl/options.h: AGECL_KERNELS=cpu|gpu),
 *     read when a plan is created, forces either path on any device. A 1x1 stride-1 convolution needs no workspace (products
 *     straight on x). At the IR-50 shapes the largest need is 64 channels at 112 x 112
 *     with k = 3, 32.1 MB per sample: every IR-50 plan asks for at most 64 MiB.
 *     (The GEMM also keeps a temporary buffer in the context, grown once, up to about
 *     70 MB at these shapes.) The weight gradient of a multi-chunk batch is summed
 *     chunk by chunk, which changes only its float rounding.
 *   AGECL_CONV_IM2COL_CLBLAST  the same with every product on CLBlast, whatever the
 *     device (on CPUs the wide path), with the parameters `agecl tune` saved for the
 *     device (agecl/clblast_tune.h), else CLBlast's own.
 *   AGECL_CONV_WINOGRAD      F(2x2,3x3) for 3x3 stride-1 convolutions: 4x4 input
 *     tiles and filters transformed, 16 products per chunk of tiles, the outputs
 *     transformed back; backward_data is the same on dy with the filters turned 180
 *     degrees, backward_filter transforms x and dy and sums 16 products. 2.25 times
 *     fewer multiplications than the direct sum; chunks bounded like im2col's (at
 *     most 64 MiB). The kernel family (AGECL_KERNELS), read when a plan is created,
 *     forces its CPU kernels (a work-item per channel, vectors of tiles) or its portable ones.
 *   AGECL_CONV_WINOGRAD4     F(4x4,3x3), the same steps with 6x6 input tiles and 36
 *     products: 4 times fewer multiplications than the direct sum (1.78 times fewer
 *     than F(2x2)) and 1.78 times fewer transformed floats per output, for more
 *     rounding (the transforms' coefficients reach 8 and 1/24: measured errors in
 *     tests/test_conv_winograd.c).
 *   AGECL_CONV_FFT           3x3 stride-1 convolutions as products of clFFT real
 *     transforms of zero-padded planes (sides with factors 2, 3, 5, 7 only), summed
 *     over channels per frequency; chunks of the batch and blocks of channels keep
 *     the workspace under 64 MiB. Creating the plan bakes clFFT's kernels (seconds
 *     on PoCL, which caches them).
 *   AGECL_CONV_IMPLICIT_GEMM every pass as one product whose patch operand is
 *     gathered from the NCHW tensor on the fly: 64x64 output tiles per work-group of
 *     16x16 work-items through local memory (smaller where the device's limits ask),
 *     with the reduction split across work-groups, into the workspace, when a
 *     product has too few tiles to fill the device. Written for GPUs; on PoCL it is
 *     correct but 6 to 70 times slower than im2col.
 *   On the CPU (PoCL, 2 cores) AUTO picks Winograd for IR-50's stride-1 3x3 layers
 *   and im2col for the stem, stride-2 and 1x1 layers; see README.md for figures. */
#ifndef AGECL_CONV_H
#define AGECL_CONV_H

#include <stddef.h>
#include "agecl/status.h"
#include "agecl/runtime.h"
#include "agecl/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The most workspace an im2col plan asks for, unless one sample alone needs more. */
#define AGECL_CONV2D_WORKSPACE_LIMIT ((size_t)64 << 20)

typedef struct agecl_conv2d_desc {
    int n, c_in, h, w;   /* input x: n x c_in x h x w */
    int c_out;           /* output channels */
    int kernel;          /* 3 (pad 1) or 1 (pad 0) */
    int stride;          /* 1 or 2 */
    int pad;
} agecl_conv2d_desc;

typedef enum agecl_conv2d_algo {
    AGECL_CONV_AUTO = 0,        /* measured once per shape and pass, the choice cached */
    AGECL_CONV_IM2COL_GEMM,     /* im2col + the device's GEMM (ours on CPUs, CLBlast else) */
    AGECL_CONV_IM2COL_CLBLAST,  /* im2col + CLBlast, with tuned parameters where saved */
    AGECL_CONV_WINOGRAD,        /* Winograd F(2x2,3x3): 3x3, stride 1 */
    AGECL_CONV_FFT,             /* clFFT: 3x3, stride 1 */
    AGECL_CONV_IMPLICIT_GEMM,   /* one kernel, patches gathered on the fly, local-memory tiles */
    AGECL_CONV_WINOGRAD4,       /* Winograd F(4x4,3x3): 3x3, stride 1 */
    AGECL_CONV_ALGO_COUNT
} agecl_conv2d_algo;

/* The three computations of a plan; each may run a different algorithm. */
typedef enum agecl_conv2d_pass {
    AGECL_CONV_FORWARD = 0,
    AGECL_CONV_BACKWARD_DATA,
    AGECL_CONV_BACKWARD_FILTER,
    AGECL_CONV_PASS_COUNT
} agecl_conv2d_pass;

typedef struct agecl_conv2d_plan agecl_conv2d_plan;

/* Check d (sizes <= 0 or an unknown algo: AGECL_E_INVALID_ARG; a kernel, pad or stride
 * outside the supported set: AGECL_E_UNSUPPORTED), build the kernels, size the output
 * and the workspace. */
agecl_status agecl_conv2d_plan_create(agecl_ctx *ctx, const agecl_conv2d_desc *d,
                                      agecl_conv2d_algo algo, agecl_conv2d_plan **out);
void agecl_conv2d_plan_destroy(agecl_conv2d_plan *p);

/* The workspace each call of this plan needs, in bytes (0: none). */
size_t agecl_conv2d_plan_workspace_bytes(const agecl_conv2d_plan *p);
/* The shape of y (and dy); any pointer may be NULL. */
void agecl_conv2d_plan_out_shape(const agecl_conv2d_plan *p, int *n, int *c, int *h, int *w);
/* The algorithm a pass of the plan runs (never AUTO). */
agecl_conv2d_algo agecl_conv2d_plan_algo(const agecl_conv2d_plan *p, agecl_conv2d_pass pass);

/* "auto", "im2col", "clblast", "winograd", "fft", "implicit", "winograd4"; NULL for anything
 * else. */
const char *agecl_conv2d_algo_name(agecl_conv2d_algo algo);
/* The algorithm of a name above (AGECL_E_INVALID_ARG, listing the names, otherwise). */
agecl_status agecl_conv2d_algo_parse(const char *name, agecl_conv2d_algo *out);
/* Whether `algo` can run `pass` of d on ctx's device (AUTO: always). */
int agecl_conv2d_algo_supports(agecl_ctx *ctx, const agecl_conv2d_desc *d, agecl_conv2d_algo algo,
                               agecl_conv2d_pass pass);

/* y = conv(x, wt) + acc * y. */
agecl_status agecl_conv2d_forward(agecl_conv2d_plan *p, const agecl_tensor *x,
                                  const agecl_tensor *wt, float acc, agecl_tensor *y,
                                  const agecl_tensor *workspace);
/* dx = dL/dx + acc * dx, from dy and the weights. */
agecl_status agecl_conv2d_backward_data(agecl_conv2d_plan *p, const agecl_tensor *dy,
                                        const agecl_tensor *wt, float acc, agecl_tensor *dx,
                                        const agecl_tensor *workspace);
/* dw = dL/dwt + acc * dw, summed over the batch, from x and dy. */
agecl_status agecl_conv2d_backward_filter(agecl_conv2d_plan *p, const agecl_tensor *x,
                                          const agecl_tensor *dy, float acc, agecl_tensor *dw,
                                          const agecl_tensor *workspace);

/* Inference with fixed weights. Some forward algorithms transform the weights on
 * every call (Winograd: U = G g G^T, 16 or 36 floats per weight of 9, which at
 * batch 1 is a good part of the pass); a caller whose weights do not change between
 * calls can keep that transform. agecl_conv2d_plan_prepared_bytes gives its size (0:
 * the plan's forward reads the weights as they are, and the two calls below fail
 * with AGECL_E_INVALID_ARG); agecl_conv2d_prepare writes it from wt into `prepared`
 * (any tensor of at least that many bytes); agecl_conv2d_forward_prepared then runs
 * the forward from it, with the same result as agecl_conv2d_forward on wt, bit for
 * bit, and the same workspace. Prepare again whenever the weights change. */
size_t agecl_conv2d_plan_prepared_bytes(const agecl_conv2d_plan *p);
agecl_status agecl_conv2d_prepare(agecl_conv2d_plan *p, const agecl_tensor *wt,
                                  agecl_tensor *prepared);
agecl_status agecl_conv2d_forward_prepared(agecl_conv2d_plan *p, const agecl_tensor *x,
                                           const agecl_tensor *prepared, float acc,
                                           agecl_tensor *y, const agecl_tensor *workspace);

#ifdef __cplusplus
}
#endif
#endif
