/* The library's own SGEMM for CPU-class devices (cl/gemm_cpu.cl): orientation,
 * packing and launches.
 *
 * The kernel computes C' = A' X with A' read one float per row and step of k,
 * and X one row of nr contiguous floats per step. Either operand is read in
 * place when its layout allows it (A' rows contiguous along k, X rows contiguous
 * along n), else packed first; the product runs as C = op(A) op(B) or as
 * C^T = op(B)^T op(A)^T, whichever packs fewer elements. Of the convolutions'
 * products (src/conv/conv2d_im2col.c), the forward W col packs nothing, the
 * backward data W^T ycol packs W, and the backward filter ycol col^T runs
 * transposed and packs ycol, the smaller operand (beyond those, only a partial
 * last panel of X is packed).
 *
 * Measured on PoCL with AVX-512 (2 Zen 5 cores, bench/bench_gemm.c): blocks of
 * 8 x 32 ran faster than 6 x 32, 12 x 32 about the same, 6 x 64 and 8 x 48
 * slower; reading X in place was as fast as packing it even at m = 256, and
 * saves the packing pass; blocking k did not help. Narrower SIMD gets the
 * classic 6 x 16 block of 8-float vectors (12 accumulators in 16 registers). */
#include <stdio.h>
#include "runtime/ctx.h"
#include "gemm/gemm_cpu.h"
#include "runtime/launch.h"
#include "error.h"

const agecl__gemm_tile agecl__gemm_tile_wide = {8, 32, 16};
const agecl__gemm_tile agecl__gemm_tile_narrow = {6, 16, 8};

#define SLAB_BYTES ((size_t)4 << 20) /* packed X per launch: about what the caches keep */
#define PACK_RUN 256              /* floats a packing work-item reads along a row or column */

/* A matrix operand as the kernels see it: element (i, j) at buf[off + i * rs + j * cs],
 * matrix b of a batch `stride` elements further. */
typedef struct operand {
    cl_mem buf;
    size_t off, rs, cs, stride;
} operand;

/* The product as run: C' (m x n) = A' (m x k) * X (k x n). Either A' = op(A),
 * X = op(B) and C' = C, or (swapped) A' = op(B)^T, X = op(A)^T and C' = C^T. */
typedef struct plan {
    agecl__gemm_tile tile;
    size_t m, n, k;
    operand a, x, c;
    int pack_a;      /* A' packed whole (its rows are not contiguous along k) */
    int x_in_place;  /* X's whole panels read in place, only a partial last panel packed */
    size_t nc;       /* columns of X per launch, a multiple of nr (all when in place) */
    size_t group;    /* batch items per launch */
    size_t x_floats; /* one packed X: a slab of nc columns, or the partial panel */
    size_t a_floats; /* one packed A' */
} plan;

static operand op_of(agecl__matrix mt, size_t stride)
{
    operand o = {mt.buf, mt.offset, mt.ld, 1, stride};
    if (mt.trans) o.rs = 1, o.cs = mt.ld;
    return o;
}

static operand transposed(operand o)
{
    size_t t = o.rs;
    o.rs = o.cs;
    o.cs = t;
    return o;
}

static size_t ceil_div(size_t a, size_t b) { return (a + b - 1) / b; }

static size_t min_size(size_t a, size_t b) { return a < b ? a : b; }

/* Matrices of a group that need their own packed copy (one when shared). */
static size_t items_of(size_t stride, size_t group) { return stride ? group : 1; }

static plan make_plan(agecl__gemm_tile tile, size_t m, size_t n, size_t k, agecl__matrix a,
                      size_t a_stride, agecl__matrix b, size_t b_stride, agecl__matrix c,
                      size_t c_stride, size_t batch)
{
    const size_t mr = tile.mr, nr = tile.nr;
    plan p = {tile, m, n, k, op_of(a, a_stride), op_of(b, b_stride), op_of(c, c_stride), 0, 0,
              0, 1, 0, 0};
    /* Elements packed: a transposed A (straight) or a plain one (swapped) is
     * packed, and likewise for B. */
    size_t straight = (a.trans ? m * k : 0) + (b.trans ? k * n : 0),
           swapped = (a.trans ? 0 : m * k) + (b.trans ? 0 : k * n);
    if (swapped < straight) {
        p.m = n, p.n = m;
        operand t = p.a;
        p.a = transposed(p.x);
        p.x = transposed(t);
        p.c = transposed(p.c);
    }
    p.pack_a = p.a.cs != 1 && p.k > 1;
    p.x_in_place = p.x.cs == 1;
    if (p.x_in_place) {
        p.nc = p.n;
        p.x_floats = p.n % nr ? nr * p.k : 0;
    } else {
        size_t slab_panels = SLAB_BYTES / sizeof(float) / nr / (p.k ? p.k : 1);
        p.nc = min_size(slab_panels ? slab_panels : 1, ceil_div(p.n, nr)) * nr;
        p.x_floats = p.nc * p.k;
    }
    p.a_floats = p.pack_a ? ceil_div(p.m, mr) * mr * p.k : 0;
    size_t per_item = (p.x.stride ? p.x_floats : 0) + (p.a.stride ? p.a_floats : 0);
    size_t fit = SLAB_BYTES / sizeof(float) / (per_item ? per_item : 1);
    p.group = min_size(per_item ? (fit ? fit : 1) : batch, batch);
    return p;
}

/* The packing buffer holds a group's packed X's, then its packed A's. */
static size_t x_part(const plan *p) { return p->x_floats * items_of(p->x.stride, p->group); }

agecl__gemm_tile agecl__gemm_cpu_tile(agecl_ctx *ctx)
{
    cl_uint width = 0;
    clGetDeviceInfo(ctx->device, CL_DEVICE_NATIVE_VECTOR_WIDTH_FLOAT, sizeof width, &width, NULL);
    return width >= 16 ? agecl__gemm_tile_wide : agecl__gemm_tile_narrow;
}

size_t agecl__gemm_cpu_pack_bytes(agecl__gemm_tile tile, size_t m, size_t n, size_t k,
                                  agecl__matrix a, size_t a_stride, agecl__matrix b,
                                  size_t b_stride, size_t batch)
{
    agecl__matrix none = {0};
    plan p = make_plan(tile, m, n, k, a, a_stride, b, b_stride, none, 1, batch);
    return (x_part(&p) + p.a_floats * items_of(p.a.stride, p.group)) * sizeof(float);
}

/* Pack `items` matrices src (rows x cols) into panels of `width` columns at
 * dst_off, dst_stride floats apart. */
static agecl_status pack(agecl_ctx *ctx, const char *options, operand src, size_t rows,
                         size_t cols, size_t width, size_t items, cl_mem dst, size_t dst_off,
                         size_t dst_stride)
{
    size_t prows = 4, panels = PACK_RUN / width ? PACK_RUN / width : 1;
    if (src.cs != 1) prows = PACK_RUN / 4, panels = 1;
    cl_uint r = (cl_uint)rows, c = (cl_uint)cols, w = (cl_uint)width, pr = (cl_uint)prows,
            pn = (cl_uint)panels;
    cl_ulong off = src.off, ps = src.rs, js = src.cs, stride = src.stride, d_off = dst_off,
             d_stride = dst_stride;
    agecl__arg args[] = {AGECL_ARG(r),      AGECL_ARG(c),   AGECL_ARG(w),
                         AGECL_ARG(pr),     AGECL_ARG(pn),  AGECL_ARG(src.buf),
                         AGECL_ARG(off),    AGECL_ARG(ps),  AGECL_ARG(js),
                         AGECL_ARG(stride), AGECL_ARG(dst), AGECL_ARG(d_off),
                         AGECL_ARG(d_stride)};
    size_t global[3] = {ceil_div(rows, prows), ceil_div(cols, width * panels), items};
    size_t local[3] = {1, 1, 1};
    return agecl__run(ctx, "gemm_cpu", options, "gemm_pack", 3, global, local,
                      AGECL_NARGS(args), args);
}

/* Columns j0..j0+cols-1 of C' for the items b0..b0+items-1 (what they need packed is). */
static agecl_status block(agecl_ctx *ctx, const char *options, const plan *p, size_t b0,
                          size_t items, size_t j0, size_t cols, float alpha, float beta,
                          cl_mem packed)
{
    const size_t mr = p->tile.mr, nr = p->tile.nr;
    cl_uint m = (cl_uint)p->m, n = (cl_uint)cols, k = (cl_uint)p->k;
    cl_mem a_buf = p->a.buf;
    cl_ulong a_off = p->a.off + b0 * p->a.stride, a_qs = mr * p->a.rs, a_rs = p->a.rs,
             a_ps = p->a.cs, a_stride = p->a.stride;
    if (p->pack_a) {
        a_buf = packed, a_off = x_part(p), a_qs = p->k * mr, a_rs = 1, a_ps = mr;
        a_stride = p->a.stride ? p->a_floats : 0;
    }
    cl_mem x_buf = packed;
    cl_ulong packed_stride = p->x.stride ? p->x_floats : 0;
    cl_ulong x_off = 0, x_qs = p->k * nr, x_ps = nr, x_stride = packed_stride;
    cl_uint x_full = (cl_uint)ceil_div(cols, nr);
    if (p->x_in_place) {
        x_buf = p->x.buf, x_off = p->x.off + b0 * p->x.stride + j0, x_qs = nr, x_ps = p->x.rs;
        x_stride = p->x.stride, x_full = (cl_uint)(cols / nr);
    }
    cl_ulong c_off = p->c.off + b0 * p->c.stride + j0 * p->c.cs, c_rs = p->c.rs, c_cs = p->c.cs,
             c_stride = p->c.stride;
    agecl__arg args[] = {AGECL_ARG(m),        AGECL_ARG(n),        AGECL_ARG(k),
                         AGECL_ARG(alpha),    AGECL_ARG(beta),     AGECL_ARG(a_buf),
                         AGECL_ARG(a_off),    AGECL_ARG(a_qs),     AGECL_ARG(a_rs),
                         AGECL_ARG(a_ps),     AGECL_ARG(a_stride), AGECL_ARG(x_buf),
                         AGECL_ARG(x_off),    AGECL_ARG(x_qs),     AGECL_ARG(x_ps),
                         AGECL_ARG(x_stride), AGECL_ARG(x_full),   AGECL_ARG(packed),
                         AGECL_ARG(packed_stride), AGECL_ARG(p->c.buf), AGECL_ARG(c_off),
                         AGECL_ARG(c_rs),     AGECL_ARG(c_cs),     AGECL_ARG(c_stride)};
    size_t global[3] = {ceil_div(p->m, mr), ceil_div(cols, nr), items};
    size_t local[3] = {1, 1, 1};
    return agecl__run(ctx, "gemm_cpu", options, "gemm_block", 3, global, local,
                      AGECL_NARGS(args), args);
}

agecl_status agecl__gemm_cpu(agecl_ctx *ctx, agecl__gemm_tile tile, const char *what, size_t m,
                             size_t n, size_t k, float alpha, agecl__matrix a, size_t a_stride,
                             agecl__matrix b, size_t b_stride, float beta, agecl__matrix c,
                             size_t c_stride, size_t batch, cl_mem packed)
{
    const size_t u32 = 0xffffffffu;
    if (m > u32 || n > u32 || k > u32)
        return agecl__fail(AGECL_E_UNSUPPORTED, "%s: a %zu x %zu x %zu product is too large", what,
                           m, n, k);
    if (!m || !n || !batch) return AGECL_OK;
    plan p = make_plan(tile, m, n, k, a, a_stride, b, b_stride, c, c_stride, batch);
    char options[64];
    snprintf(options, sizeof options, "-DMR=%zu -DVW=%zu -DNV=%zu", tile.mr, tile.vw,
             tile.nr / tile.vw);
    for (size_t b0 = 0; b0 < batch; b0 += p.group) {
        size_t items = min_size(p.group, batch - b0);
        if (p.pack_a && (b0 == 0 || p.a.stride)) {
            operand at = transposed(p.a);
            at.off += b0 * at.stride;
            AGECL_TRY(pack(ctx, options, at, p.k, p.m, tile.mr, items_of(at.stride, items),
                           packed, x_part(&p), p.a_floats));
        }
        for (size_t j0 = 0; j0 < p.n; j0 += p.nc) {
            size_t cols = min_size(p.nc, p.n - j0);
            operand xs = p.x;
            xs.off += b0 * xs.stride + j0 * xs.cs;
            size_t packed_cols = cols;
            if (p.x_in_place) {
                xs.off += cols / tile.nr * tile.nr * xs.cs;
                packed_cols = cols % tile.nr;
            }
            if (p.k && packed_cols)
                AGECL_TRY(pack(ctx, options, xs, p.k, packed_cols, tile.nr,
                               items_of(xs.stride, items), packed, 0, p.x_floats));
            AGECL_TRY(block(ctx, options, &p, b0, items, j0, cols, alpha, beta, packed));
        }
    }
    return AGECL_OK;
}
