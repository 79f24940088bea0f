/* Convolution by FFT (clFFT): 3x3 kernels, padding 1, stride 1.
 *
 * Every plane (a channel of a sample, or a c_out x c_in filter) is zero-padded into an
 * fh x fw real plane, fh the smallest size >= max(h + 1, 3) with no prime factor but
 * 2, 3, 5 and 7 (fw likewise from w), and transformed to its half spectrum (clFFT,
 * real to complex, fh * (fw/2 + 1) frequencies). In that domain each pass is, for
 * every frequency, a small complex matrix product over channels (cl/fft_products.cl):
 *
 *   forward          Y[b,o]  = sum_c  X[b,c] conj(W[o,c])     (a correlation)
 *   backward_data    dX[b,c] = sum_o  dY[b,o] W[o,c]           (a convolution)
 *   backward_filter  dW[o,c] = sum_b  conj(dY[b,o]) X[b,c]     (a correlation)
 *
 * and the inverse transform of the product, divided by fh*fw, holds the result
 * circularly shifted: with the planes placed at the origin, the circular correlation
 * z(s) = sum_u w(u) x(s + u) gives y(i) = z(i - 1) (the padding is the zeros at and
 * past h, which fh >= h + 1 keeps from wrapping onto the image), the convolution
 * z(s) = sum_u w(u) dy(s - u) gives dx(i) = z(i + 1), and dw(u) = z(u - 1) (indices
 * modulo fh, the same along the width). The crop kernel reads them with that shift
 * and applies beta.
 *
 * Memory: a pass works on groups of planes in the workspace, A op B -> C above, and
 * keeps it under agecl__conv2d_fft_budget (64 MiB) by cutting the batch into chunks
 * and the channels of the output side (forward: c_out, backward_data: c_in,
 * backward_filter: the c_out of dw) into blocks: of the cuts that fit, the one that
 * moves the least memory by a rough model (call_cost). The spectra of all 256 x 256
 * filters at 14 x 14 or 512 x 512 at 7 x 7 alone pass 64 MiB, so IR-50's deep layers
 * run in blocks. Blocks are the outer loop, so each filter block is transformed once
 * per call, the batch once (one chunk) or once per block; backward_filter adds the
 * chunks' products into the block's spectra and transforms back once per block.
 * Chunks and blocks are evened out, the last one padded with zero planes that nothing
 * reads back.
 *
 * clFFT: two baked plans per state, real to complex and back, each over a fixed
 * `piece` of planes; a group is transformed piece by piece, its spectra rounded up to
 * whole pieces. clFFT takes buffers without offsets, so each call carves the
 * workspace with sub-buffers (host-side views, no device allocation) at origins
 * aligned to CL_DEVICE_MEM_BASE_ADDR_ALIGN: the spectra's plane distance is padded so
 * that every piece starts aligned. clFFT's temporary buffer is a region of the
 * workspace too (clFFT would otherwise allocate one on the first call).
 * clfftBakePlan compiles clFFT's kernels: seconds on PoCL, once per shape while any
 * FFT plan lives (and PoCL keeps compiled kernels on disk). */
#include <stdlib.h>
#include "conv/conv2d_fft.h"
#include "runtime/launch.h"
#include "error.h"

#define PROGRAM "fft_conv"             /* padding and cropping */
#define PRODUCTS "fft_products"        /* the sums over channels */
#define PIECE_FLOATS ((size_t)1 << 19) /* real floats per transform, at most (2 MiB) */
#define FFT_PASSES 4                   /* memory passes of a transform, for call_cost */
#define MAX_SIZE 1023                  /* larger planes take clFFT's multi-pass paths */
#define TI 4                           /* fft_cmac's tile: TI x TJ products per work-item */
#define TJ 4
#define STR(x) #x
#define XSTR(x) STR(x)
#define TILE " -DTI=" XSTR(TI) " -DTJ=" XSTR(TJ)
#define GROUP 64                       /* fft_cmac's work-group: 64 frequencies */

size_t agecl__conv2d_fft_budget = AGECL_CONV2D_WORKSPACE_LIMIT;

enum { GA, GB, GC }; /* a pass's groups of planes: C = A op B (the index of at[]) */

static const char *const op_names[AGECL_CONV_PASS_COUNT] = {
    "conv2d_forward (fft)", "conv2d_backward_data (fft)", "conv2d_backward_filter (fft)"};
/* fft_cmac's conjugations for each pass (see the top). */
static const char *const cmac_options[AGECL_CONV_PASS_COUNT] = {
    "-DCONJ_A=0 -DCONJ_B=1" TILE, "-DCONJ_A=0 -DCONJ_B=0" TILE, "-DCONJ_A=1 -DCONJ_B=0" TILE};

static size_t round_up(size_t x, size_t m) { return (x + m - 1) / m * m; }

static size_t gcd(size_t a, size_t b)
{
    while (b) {
        size_t t = a % b;
        a = b;
        b = t;
    }
    return a;
}

static int ceil_div(int a, int b) { return (a + b - 1) / b; }

static int min_int(int a, int b) { return a < b ? a : b; }

static int supports(agecl_ctx *ctx, const agecl_conv2d_desc *d, agecl_conv2d_pass pass)
{
    (void)ctx;
    (void)pass;
    return d->kernel == 3 && d->pad == 1 && d->stride == 1 && d->h <= MAX_SIZE &&
           d->w <= MAX_SIZE;
}

/* The channels a pass cuts into blocks: y's, dx's, dw's rows. */
static int blocked_channels(const agecl_conv2d_desc *d, int pass)
{
    return pass == AGECL_CONV_BACKWARD_DATA ? d->c_in : d->c_out;
}

/* The planes of each group for chunks of nb samples and blocks of blk channels. */
static void group_planes(const agecl_conv2d_desc *d, int pass, int nb, int blk, size_t g[3])
{
    size_t ci = (size_t)d->c_in, co = (size_t)d->c_out, b = (size_t)nb, k = (size_t)blk;
    if (pass == AGECL_CONV_FORWARD) {
        g[GA] = b * ci, g[GB] = k * ci, g[GC] = b * k;
    } else if (pass == AGECL_CONV_BACKWARD_DATA) {
        g[GA] = b * co, g[GB] = co * k, g[GC] = b * k;
    } else {
        g[GA] = b * k, g[GB] = b * ci, g[GC] = k * ci;
    }
}

static size_t real_plane(const agecl__fft_state *s) { return (size_t)s->fh * s->fw; }

static size_t piece_limit(const agecl__fft_state *s)
{
    size_t p = PIECE_FLOATS / real_plane(s);
    return p > 0 ? p : 1;
}

/* The planes per transform for groups of these sizes: at most piece_limit, and no
 * more than the smallest group, cut evenly (so little is lost to rounding up). */
static size_t piece_for(const agecl__fft_state *s, size_t smallest)
{
    size_t limit = piece_limit(s), pieces = (smallest + limit - 1) / limit;
    return (smallest + pieces - 1) / pieces;
}

static size_t smallest_group(const size_t g[3])
{
    size_t m = g[0] < g[1] ? g[0] : g[1];
    return m < g[2] ? m : g[2];
}

/* An upper bound of the workspace of a pass with these groups, whatever the piece
 * (at most piece_limit and the smallest group) and plane distance chosen later. */
static size_t bound_floats(const agecl__fft_state *s, const size_t g[3])
{
    size_t piece = piece_limit(s) < smallest_group(g) ? piece_limit(s) : smallest_group(g);
    size_t dist = s->nf + s->align / 8;
    size_t f = 0;
    for (int i = 0; i < 3; i++) f += (g[i] + piece - 1) * dist * 2;
    return f + piece * (real_plane(s) + 2 * s->nf) + 3 * s->align / sizeof(float);
}

/* What a call costs with these chunks and blocks, in plane-sized passes over memory:
 * each plane transformed about FFT_PASSES (padding, clFFT's two passes, cropping),
 * and each product reading group A once per tile column of C and group B once per
 * tile row. Blocks are the outer loop: the filter side is transformed once per block,
 * the batch side once per chunk (and again in every block when there are several
 * chunks), the rest once per chunk and block. */
static double call_cost(const agecl_conv2d_desc *d, int pass, int nb, int chunks, int blk,
                        int blocks)
{
    size_t g[3];
    group_planes(d, pass, nb, blk, g);
    int filter = pass == AGECL_CONV_BACKWARD_FILTER;
    int batch_side = filter ? GB : GA, block_side = filter ? GC : GB, run_side = filter ? GA : GC;
    int m = filter ? blk : nb, n = filter ? d->c_in : blk;
    double runs = (double)chunks * blocks, batch_runs = chunks > 1 ? runs : chunks;
    double planes = (double)blocks * (double)g[block_side] +
                    batch_runs * (double)g[batch_side] + runs * (double)g[run_side];
    double reads = (double)g[GA] * ceil_div(n, TJ) + (double)g[GB] * ceil_div(m, TI);
    return FFT_PASSES * planes + runs * reads;
}

/* Chunks and blocks of a pass: of the splits that fit the budget (for each number of
 * blocks, the largest chunks), the cheapest by call_cost, evened out. At worst one
 * sample and one channel (past the budget, if need be). */
static void choose_chunks(const agecl__fft_state *s, int pass, agecl__fft_pass *p)
{
    const agecl_conv2d_desc *d = &s->d;
    size_t budget = agecl__conv2d_fft_budget / sizeof(float), g[3];
    int channels = blocked_channels(d, pass), last_blk = 0;
    double best = -1;
    *p = (agecl__fft_pass){.nb = 1, .chunks = d->n, .blk = 1, .blocks = channels};
    for (int try_blocks = 1; try_blocks <= channels; try_blocks++) {
        int blk = ceil_div(channels, try_blocks);
        if (blk == last_blk) continue; /* the same blocks, evened out */
        last_blk = blk;
        int blocks = ceil_div(channels, blk), lo = 0, hi = d->n;
        while (lo < hi) { /* the most samples that fit (the bound grows with them) */
            int mid = lo + (hi - lo + 1) / 2;
            group_planes(d, pass, mid, blk, g);
            if (bound_floats(s, g) <= budget) lo = mid;
            else hi = mid - 1;
        }
        if (lo == 0) continue;
        int chunks = ceil_div(d->n, lo), nb = ceil_div(d->n, chunks);
        double cost = call_cost(d, pass, nb, chunks, blk, blocks);
        if (best < 0 || cost < best) {
            best = cost;
            *p = (agecl__fft_pass){.nb = nb, .chunks = chunks, .blk = blk, .blocks = blocks};
        }
    }
}

/* Where each region of a pass lies in the workspace, now that the piece is known. */
static void lay_out(const agecl__fft_state *s, int pass, agecl__fft_pass *p)
{
    size_t g[3], at = 0, align_f = s->align / sizeof(float);
    group_planes(&s->d, pass, p->nb, p->blk, g);
    for (int i = 0; i < 3; i++) {
        p->at[i] = at;
        at += round_up(g[i], s->piece) * s->dist * 2; /* whole aligned pieces */
    }
    p->real_at = at;
    at += round_up(s->piece * real_plane(s), align_f);
    p->tmp_at = at;
    at += round_up(s->tmp_bytes / sizeof(float) + 1, align_f);
    p->floats = at + align_f; /* room to align the start */
}

static agecl_status build_kernels(agecl__fft_state *s)
{
    cl_kernel k;
    AGECL_TRY(agecl__kernel(s->ctx, PROGRAM, "", "fft_pad", &k));
    AGECL_TRY(agecl__kernel(s->ctx, PROGRAM, "", "fft_crop", &k));
    for (int pass = 0; pass < AGECL_CONV_PASS_COUNT; pass++)
        AGECL_TRY(agecl__kernel(s->ctx, PRODUCTS, cmac_options[pass], "fft_cmac", &k));
    return AGECL_OK;
}

static agecl_status setup(agecl__fft_state *s)
{
    const agecl_conv2d_desc *d = &s->d;
    const char *op = "conv2d_plan_create (fft)";
    s->fh = agecl__fft_smooth_size(d->h + 1 > 3 ? d->h + 1 : 3);
    s->fw = agecl__fft_smooth_size(d->w + 1 > 3 ? d->w + 1 : 3);
    s->nf = (size_t)s->fh * (size_t)(s->fw / 2 + 1);
    cl_uint bits = 0;
    cl_int err = clGetDeviceInfo(agecl_ctx_cl_device(s->ctx), CL_DEVICE_MEM_BASE_ADDR_ALIGN,
                                 sizeof bits, &bits, NULL);
    if (err != CL_SUCCESS)
        return agecl__cl_fail(err, "conv2d_plan_create (fft): CL_DEVICE_MEM_BASE_ADDR_ALIGN");
    s->align = bits / 8 > 128 ? bits / 8 : 128;

    size_t smallest = (size_t)-1, g[3];
    for (int pass = 0; pass < AGECL_CONV_PASS_COUNT; pass++) {
        choose_chunks(s, pass, &s->pass[pass]);
        group_planes(d, pass, s->pass[pass].nb, s->pass[pass].blk, g);
        if (smallest_group(g) < smallest) smallest = smallest_group(g);
    }
    s->piece = piece_for(s, smallest);
    /* A plane distance that makes a piece of spectra whole alignment units. */
    size_t unit = s->align / 8; /* complex numbers */
    s->dist = round_up(s->nf, unit / gcd(s->piece, unit));

    AGECL_TRY(build_kernels(s));
    AGECL_TRY(agecl__clfft_acquire(op));
    s->clfft_held = 1;
    size_t tmp_r2c, tmp_c2r;
    AGECL_TRY(agecl__clfft_plan(s->ctx, op, 1, s->fh, s->fw, s->dist, s->piece, &s->r2c,
                                &tmp_r2c));
    s->have_r2c = 1;
    AGECL_TRY(agecl__clfft_plan(s->ctx, op, 0, s->fh, s->fw, s->dist, s->piece, &s->c2r,
                                &tmp_c2r));
    s->have_c2r = 1;
    s->tmp_bytes = tmp_r2c > tmp_c2r ? tmp_r2c : tmp_c2r;
    for (int pass = 0; pass < AGECL_CONV_PASS_COUNT; pass++) {
        lay_out(s, pass, &s->pass[pass]);
        if (s->pass[pass].floats > 0xffffffffu)
            return agecl__fail(AGECL_E_UNSUPPORTED,
                               "%s: %s needs %zu workspace elements, past 2^32", op,
                               op_names[pass], s->pass[pass].floats);
    }
    return AGECL_OK;
}

static void destroy(void *state)
{
    agecl__fft_state *s = state;
    if (!s) return;
    if (s->have_r2c) clfftDestroyPlan(&s->r2c);
    if (s->have_c2r) clfftDestroyPlan(&s->c2r);
    if (s->clfft_held) agecl__clfft_release();
    free(s);
}

static agecl_status create(agecl_ctx *ctx, const agecl_conv2d_desc *d, void **state,
                           size_t workspace[AGECL_CONV_PASS_COUNT])
{
    agecl__fft_state *s = calloc(1, sizeof *s);
    if (!s) return agecl__fail(AGECL_E_OUT_OF_MEMORY, "conv2d_plan_create (fft): state");
    s->ctx = ctx;
    s->d = *d;
    agecl_status st = setup(s);
    if (st != AGECL_OK) {
        destroy(s);
        return st;
    }
    for (int pass = 0; pass < AGECL_CONV_PASS_COUNT; pass++) workspace[pass] = s->pass[pass].floats;
    *state = s;
    return AGECL_OK;
}

/* A call's view of the workspace: the caller's buffer, the aligned start of the
 * regions in it, and sub-buffers of the two regions every transform uses. */
typedef struct work {
    cl_mem buf;
    size_t base;      /* floats */
    cl_mem real, tmp; /* sub-buffers */
} work;

static cl_mem sub_buffer(cl_mem buf, size_t at, size_t floats, cl_int *err)
{
    cl_buffer_region r = {at * sizeof(float), floats * sizeof(float)};
    return clCreateSubBuffer(buf, 0, CL_BUFFER_CREATE_TYPE_REGION, &r, err);
}

static void close_work(work *w)
{
    if (w->real) clReleaseMemObject(w->real);
    if (w->tmp) clReleaseMemObject(w->tmp);
}

static agecl_status open_work(const agecl__fft_state *s, const agecl__fft_pass *p,
                              const agecl_tensor *ws, const char *op, work *w)
{
    *w = (work){ws->buf, round_up(ws->offset, s->align / sizeof(float)), NULL, NULL};
    if (w->base + p->floats > 0xffffffffu)
        return agecl__fail(AGECL_E_UNSUPPORTED, "%s: the workspace reaches element %zu, past 2^32",
                           op, w->base + p->floats);
    cl_int err;
    w->real = sub_buffer(w->buf, w->base + p->real_at, s->piece * real_plane(s), &err);
    if (err == CL_SUCCESS)
        w->tmp = sub_buffer(w->buf, w->base + p->tmp_at, s->tmp_bytes / sizeof(float) + 1, &err);
    if (err != CL_SUCCESS) {
        close_work(w);
        return agecl__cl_fail(err, op);
    }
    return AGECL_OK;
}

/* Planes (i, j) of a tensor [.][c][h][w] in the order of cl/fft_conv.cl: the p-th is
 * (i0 + p / nj, j0 + p % nj), nothing past i_end or j_end. */
typedef struct group {
    const agecl_tensor *t;
    const char *name;
    int i0, i_end, j0, j_end, nj;
    size_t count; /* planes, padding included */
} group;

/* The ni x nj planes from (i0, j0) of t, whose planes are (i < n_i, j < n_j). */
static group make_group(const agecl_tensor *t, const char *name, int i0, int ni, int n_i, int j0,
                        int nj, int n_j)
{
    return (group){t, name, i0, min_int(i0 + ni, n_i), j0, min_int(j0 + nj, n_j), nj,
                   (size_t)ni * (size_t)nj};
}

/* The arguments fft_pad and fft_crop share: where g's tensor is and which planes. */
typedef struct group_args {
    cl_uint off, c, h, w, i0, i_end, j0, j_end, nj;
} group_args;

static agecl_status group_args_of(const group *g, group_args *a)
{
    AGECL_TRY(agecl__offset(g->t, g->name, &a->off));
    a->c = (cl_uint)g->t->c, a->h = (cl_uint)g->t->h, a->w = (cl_uint)g->t->w;
    a->i0 = (cl_uint)g->i0, a->i_end = (cl_uint)g->i_end, a->j0 = (cl_uint)g->j0;
    a->j_end = (cl_uint)g->j_end, a->nj = (cl_uint)g->nj;
    return AGECL_OK;
}

/* The piece of spectra that starts at plane `first` of the group at `at`. */
static cl_mem spectra_piece(const agecl__fft_state *s, const work *w, size_t at, size_t first,
                            cl_int *err)
{
    return sub_buffer(w->buf, w->base + at + first * s->dist * 2, s->piece * s->dist * 2, err);
}

/* The spectra of g's planes, zero-padded, at `at`: piece by piece. */
static agecl_status transform(const agecl__fft_state *s, const work *w, const group *g, size_t at,
                              const char *op)
{
    group_args a;
    AGECL_TRY(group_args_of(g, &a));
    cl_uint planes = (cl_uint)s->piece, fh = (cl_uint)s->fh, fw = (cl_uint)s->fw, real_off = 0;
    for (size_t first = 0; first < g->count; first += s->piece) {
        cl_uint p0 = (cl_uint)first;
        agecl__arg args[] = {AGECL_ARG(g->t->buf), AGECL_ARG(a.off), AGECL_ARG(a.c),
                             AGECL_ARG(a.h), AGECL_ARG(a.w), AGECL_ARG(a.i0),
                             AGECL_ARG(a.i_end), AGECL_ARG(a.j0), AGECL_ARG(a.j_end),
                             AGECL_ARG(a.nj), AGECL_ARG(p0), AGECL_ARG(planes),
                             AGECL_ARG(w->real), AGECL_ARG(real_off), AGECL_ARG(fh),
                             AGECL_ARG(fw)};
        size_t global[2] = {fw, planes};
        AGECL_TRY(agecl__run(s->ctx, PROGRAM, "", "fft_pad", 2, global, NULL, AGECL_NARGS(args),
                             args));
        cl_int err;
        cl_mem spectra = spectra_piece(s, w, at, first, &err);
        if (err != CL_SUCCESS) return agecl__cl_fail(err, op);
        agecl_status st = agecl__clfft_run(s->ctx, op, s->r2c, 1, w->real, spectra, w->tmp);
        clReleaseMemObject(spectra);
        AGECL_TRY(st);
    }
    return AGECL_OK;
}

/* g's planes = the inverse transform of the spectra at `at` / (fh*fw), shifted by
 * `shift` (see the top), + beta * g's planes: piece by piece. */
static agecl_status untransform(const agecl__fft_state *s, const work *w, const group *g, size_t at,
                                int shift, float beta, const char *op)
{
    group_args a;
    AGECL_TRY(group_args_of(g, &a));
    cl_uint fh = (cl_uint)s->fh, fw = (cl_uint)s->fw, real_off = 0;
    float scale = 1.0f / (float)real_plane(s);
    /* The last piece's planes past the group hold whatever the workspace held; clFFT
     * transforms real planes two at a time (as one complex transform), so they must be
     * finite: zeros. */
    size_t tail = round_up(g->count, s->piece) - g->count;
    if (tail > 0) {
        agecl_tensor rest = {w->buf, w->base + at + g->count * s->dist * 2, 1, 1, 1,
                             (int)(tail * s->dist * 2), 0};
        AGECL_TRY(agecl_tensor_fill(s->ctx, &rest, 0.0f));
    }
    for (size_t first = 0; first < g->count; first += s->piece) {
        cl_int err;
        cl_mem spectra = spectra_piece(s, w, at, first, &err);
        if (err != CL_SUCCESS) return agecl__cl_fail(err, op);
        agecl_status st = agecl__clfft_run(s->ctx, op, s->c2r, 0, spectra, w->real, w->tmp);
        clReleaseMemObject(spectra);
        AGECL_TRY(st);
        cl_uint p0 = (cl_uint)first;
        cl_uint planes = (cl_uint)(g->count - first < s->piece ? g->count - first : s->piece);
        agecl__arg args[] = {AGECL_ARG(w->real), AGECL_ARG(real_off), AGECL_ARG(fh),
                             AGECL_ARG(fw), AGECL_ARG(shift), AGECL_ARG(scale),
                             AGECL_ARG(g->t->buf), AGECL_ARG(a.off), AGECL_ARG(a.c),
                             AGECL_ARG(a.h), AGECL_ARG(a.w), AGECL_ARG(a.i0),
                             AGECL_ARG(a.i_end), AGECL_ARG(a.j0), AGECL_ARG(a.j_end),
                             AGECL_ARG(a.nj), AGECL_ARG(p0), AGECL_ARG(planes),
                             AGECL_ARG(beta)};
        size_t global[2] = {a.w, planes};
        AGECL_TRY(agecl__run(s->ctx, PROGRAM, "", "fft_crop", 2, global, NULL, AGECL_NARGS(args),
                             args));
    }
    return AGECL_OK;
}

/* One operand of fft_cmac: the group at `at`, element (r, k) in plane r*sr + k*sk. */
typedef struct operand {
    size_t at;
    cl_uint sr, sk;
} operand;

/* For every frequency, C (m x n) (+)= op(A) (m x k) op(B)^T (n x k): the pass's sums. */
static agecl_status products(const agecl__fft_state *s, const work *w, int pass, int m, int n,
                             int k, operand a, operand b, operand c, int accumulate)
{
    cl_uint mm = (cl_uint)m, nn = (cl_uint)n, kk = (cl_uint)k, nf = (cl_uint)s->nf,
            dist = (cl_uint)s->dist, acc = (cl_uint)accumulate;
    cl_uint a_off = (cl_uint)((w->base + a.at) / 2), b_off = (cl_uint)((w->base + b.at) / 2),
            c_off = (cl_uint)((w->base + c.at) / 2);
    agecl__arg args[] = {AGECL_ARG(w->buf), AGECL_ARG(a_off), AGECL_ARG(a.sr), AGECL_ARG(a.sk),
                         AGECL_ARG(w->buf), AGECL_ARG(b_off), AGECL_ARG(b.sr), AGECL_ARG(b.sk),
                         AGECL_ARG(w->buf), AGECL_ARG(c_off), AGECL_ARG(c.sr), AGECL_ARG(c.sk),
                         AGECL_ARG(mm), AGECL_ARG(nn), AGECL_ARG(kk), AGECL_ARG(nf),
                         AGECL_ARG(dist), AGECL_ARG(acc)};
    size_t global[3] = {s->nf, (size_t)ceil_div(m, TI), (size_t)ceil_div(n, TJ)};
    size_t local[3] = {GROUP, 1, 1};
    return agecl__run(s->ctx, PRODUCTS, cmac_options[pass], "fft_cmac", 3, global, local,
                      AGECL_NARGS(args), args);
}

static operand operand_of(const agecl__fft_pass *p, int group, int sr, int sk)
{
    return (operand){p->at[group], (cl_uint)sr, (cl_uint)sk};
}

/* y = x (*) wt + beta y. Blocks of c_out: the filter block's spectra, then per chunk
 * the samples' spectra, their products, and the block of y back. */
static agecl_status forward_blocks(const agecl__fft_state *s, const work *w, const agecl_tensor *x,
                                   const agecl_tensor *wt, float beta, agecl_tensor *y)
{
    const agecl_conv2d_desc *d = &s->d;
    const agecl__fft_pass *p = &s->pass[AGECL_CONV_FORWARD];
    const char *op = op_names[AGECL_CONV_FORWARD];
    int ci = d->c_in, co = d->c_out, nb = p->nb, blk = p->blk;
    for (int b = 0; b < p->blocks; b++) {
        int o0 = b * blk;
        group gw = make_group(wt, "wt", o0, blk, co, 0, ci, ci);
        AGECL_TRY(transform(s, w, &gw, p->at[GB], op));
        for (int c = 0; c < p->chunks; c++) {
            int s0 = c * nb;
            group gx = make_group(x, "x", s0, nb, d->n, 0, ci, ci);
            group gy = make_group(y, "y", s0, nb, d->n, o0, blk, co);
            if (b == 0 || p->chunks > 1) AGECL_TRY(transform(s, w, &gx, p->at[GA], op));
            AGECL_TRY(products(s, w, AGECL_CONV_FORWARD, nb, blk, ci, operand_of(p, GA, ci, 1),
                               operand_of(p, GB, ci, 1), operand_of(p, GC, blk, 1), 0));
            AGECL_TRY(untransform(s, w, &gy, p->at[GC], -1, beta, op));
        }
    }
    return AGECL_OK;
}

/* dx = dL/dx + beta dx. Blocks of c_in: as forward, with dy for x. */
static agecl_status backward_data_blocks(const agecl__fft_state *s, const work *w,
                                         const agecl_tensor *dy, const agecl_tensor *wt,
                                         float beta, agecl_tensor *dx)
{
    const agecl_conv2d_desc *d = &s->d;
    const agecl__fft_pass *p = &s->pass[AGECL_CONV_BACKWARD_DATA];
    const char *op = op_names[AGECL_CONV_BACKWARD_DATA];
    int ci = d->c_in, co = d->c_out, nb = p->nb, blk = p->blk;
    for (int b = 0; b < p->blocks; b++) {
        int c0 = b * blk;
        group gw = make_group(wt, "wt", 0, co, co, c0, blk, ci);
        AGECL_TRY(transform(s, w, &gw, p->at[GB], op));
        for (int c = 0; c < p->chunks; c++) {
            int s0 = c * nb;
            group gdy = make_group(dy, "dy", s0, nb, d->n, 0, co, co);
            group gdx = make_group(dx, "dx", s0, nb, d->n, c0, blk, ci);
            if (b == 0 || p->chunks > 1) AGECL_TRY(transform(s, w, &gdy, p->at[GA], op));
            AGECL_TRY(products(s, w, AGECL_CONV_BACKWARD_DATA, nb, blk, co,
                               operand_of(p, GA, co, 1), operand_of(p, GB, 1, blk),
                               operand_of(p, GC, blk, 1), 0));
            AGECL_TRY(untransform(s, w, &gdx, p->at[GC], 1, beta, op));
        }
    }
    return AGECL_OK;
}

/* dw = dL/dw + beta dw. Blocks of c_out: the products of every chunk added up in the
 * block's spectra, then the block of dw back. */
static agecl_status backward_filter_blocks(const agecl__fft_state *s, const work *w,
                                           const agecl_tensor *x, const agecl_tensor *dy,
                                           float beta, agecl_tensor *dw)
{
    const agecl_conv2d_desc *d = &s->d;
    const agecl__fft_pass *p = &s->pass[AGECL_CONV_BACKWARD_FILTER];
    const char *op = op_names[AGECL_CONV_BACKWARD_FILTER];
    int ci = d->c_in, co = d->c_out, nb = p->nb, blk = p->blk;
    for (int b = 0; b < p->blocks; b++) {
        int o0 = b * blk;
        for (int c = 0; c < p->chunks; c++) {
            int s0 = c * nb;
            group gx = make_group(x, "x", s0, nb, d->n, 0, ci, ci);
            group gdy = make_group(dy, "dy", s0, nb, d->n, o0, blk, co);
            if (b == 0 || p->chunks > 1) AGECL_TRY(transform(s, w, &gx, p->at[GB], op));
            AGECL_TRY(transform(s, w, &gdy, p->at[GA], op));
            AGECL_TRY(products(s, w, AGECL_CONV_BACKWARD_FILTER, blk, ci, nb,
                               operand_of(p, GA, 1, blk), operand_of(p, GB, 1, ci),
                               operand_of(p, GC, ci, 1), c > 0));
        }
        group gdw = make_group(dw, "dw", o0, blk, co, 0, ci, ci);
        AGECL_TRY(untransform(s, w, &gdw, p->at[GC], -1, beta, op));
    }
    return AGECL_OK;
}

static agecl_status run_forward(void *state, const agecl_tensor *x, const agecl_tensor *wt,
                                float beta, agecl_tensor *y, const agecl_tensor *ws)
{
    const agecl__fft_state *s = state;
    work w;
    AGECL_TRY(open_work(s, &s->pass[AGECL_CONV_FORWARD], ws, op_names[AGECL_CONV_FORWARD], &w));
    agecl_status st = forward_blocks(s, &w, x, wt, beta, y);
    close_work(&w);
    return st;
}

static agecl_status run_backward_data(void *state, const agecl_tensor *dy,
                                      const agecl_tensor *wt, float beta, agecl_tensor *dx,
                                      const agecl_tensor *ws)
{
    const agecl__fft_state *s = state;
    work w;
    AGECL_TRY(open_work(s, &s->pass[AGECL_CONV_BACKWARD_DATA], ws,
                        op_names[AGECL_CONV_BACKWARD_DATA], &w));
    agecl_status st = backward_data_blocks(s, &w, dy, wt, beta, dx);
    close_work(&w);
    return st;
}

static agecl_status run_backward_filter(void *state, const agecl_tensor *x,
                                        const agecl_tensor *dy, float beta, agecl_tensor *dw,
                                        const agecl_tensor *ws)
{
    const agecl__fft_state *s = state;
    work w;
    AGECL_TRY(open_work(s, &s->pass[AGECL_CONV_BACKWARD_FILTER], ws,
                        op_names[AGECL_CONV_BACKWARD_FILTER], &w));
    agecl_status st = backward_filter_blocks(s, &w, x, dy, beta, dw);
    close_work(&w);
    return st;
}

const agecl__conv2d_algo agecl__conv2d_fft = {
    .id = AGECL_CONV_FFT,
    .name = "fft",
    .supports = supports,
    .create = create,
    .destroy = destroy,
    .run = {run_forward, run_backward_data, run_backward_filter},
};
