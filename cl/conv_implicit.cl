/* Implicit-GEMM convolution (src/conv/conv2d_implicit.c): each pass of the
 * convolution is one product C [M][N] = A [M][K] * B [K][N] whose operands are read
 * straight from the NCHW tensors, never unrolled into memory:
 *
 *   PASS 0 forward          y[b,o,i,j]  = sum_{r=(c,u,v)} W[o,r] * X[b,c,i*S+u-P,j*S+v-P]
 *                           M = c_out, N = n*oh*ow (b,i,j), K = c_in*KK (c,u,v)
 *   PASS 1 backward_data    dx[b,c,y,x] = sum_{(o,u,v)} W[o,c,u,v] * dY[b,o,(y+P-u)/S,(x+P-v)/S]
 *                           M = c_in, N = n*h*w (b,y,x), K = c_out*KK (o,u,v); the dY
 *                           term is 0 unless y+P-u (and x+P-v) is a multiple of S in range
 *   PASS 2 backward_filter  dw[o,(c,u,v)] = sum_{(b,i,j)} dY[b,o,i,j] * X[b,c,i*S+u-P,j*S+v-P]
 *                           M = c_out, N = c_in*KK, K = n*oh*ow
 * (X reads 0 outside the image). Options: -DPASS, the geometry -DKSIZE -DSTRIDE -DPAD,
 * and the tiles -DTM -DTN (C tile of a work-group), -DTK (K slab), -DRM -DRN (C
 * block of a work-item); a work-group is (TN/RN) x (TM/RM) work-items.
 *
 * Per slab of TK values of K, the work-group loads TK x TM of A and TK x TN of B
 * into local memory, each work-item fetching (TM + TN) * TK / work-items elements,
 * neighbouring work-items along the operand's contiguous direction in memory (K for
 * W and for the backward_filter operands, N for the gathered X and dY); the next
 * slab's elements are fetched into registers while the current one is multiplied.
 * Work-item (tx, ty) accumulates rows ty + WY*a and columns tx + WX*b of the tile,
 * so that a step reads one broadcast row value and consecutive column values from
 * local memory; the local arrays have one float of padding per row so the
 * transposing stores do not fall on one bank. Each element of C is summed by one
 * work-item over its K range in a fixed order (fma): deterministic, no atomics.
 *
 * K may be split across work-groups where M x N has too few tiles to fill the device
 * (backward_filter's long reduction, small maps): group id 2 is the part, of part_k
 * values of K each; the parts write their C to out + part*M*N with beta 0 (out is
 * then the workspace), and conv_implicit_reduce adds them in order and applies beta. */
#define KK (KSIZE * KSIZE)
#define WX (TN / RN)
#define WY (TM / RM)
#define NT (WX * WY)
#define LA (TM * TK / NT) /* A elements each work-item loads per slab */
#define LB (TN * TK / NT)

#if (TM * TK) % NT || (TN * TK) % NT || NT % TK || NT % TN
#error "conv_implicit: the tile does not split evenly among the work-items"
#endif

/* Which element of the slab load l of work-item tid is, as (k, index along M or N).
 * A, and B of backward_filter, are contiguous along K: work-items run along K.
 * B of forward and backward_data is contiguous along N: work-items run along N. */
#define A_K(tid, l) ((tid) % TK)
#define A_X(tid, l) ((tid) / TK + (l) * (NT / TK))
#if PASS == 2
#define B_K(tid, l) ((tid) % TK)
#define B_X(tid, l) ((tid) / TK + (l) * (NT / TK))
#else
#define B_K(tid, l) ((tid) / TN + (l) * (NT / TN))
#define B_X(tid, l) ((tid) % TN)
#endif

typedef struct shape {
    uint M, N, K, c_in, h, w, c_out, oh, ow;
} shape;

/* What one row of A or column of B contributes to an element's address (the part
 * fixed along K): a base offset, an image position, and whether the row/column exists. */
typedef struct line {
    uint base;
    int y, x;
    int ok;
} line;

static line a_line(const shape *s, uint a_off, uint m)
{
    line l = {0, 0, 0, m < s->M};
#if PASS == 0 /* W[o][r]: row o */
    l.base = a_off + m * s->K;
#elif PASS == 1 /* W[o][c][uv]: input channel c */
    l.base = a_off + m * KK;
#else /* dY[b][o][ij]: output channel o */
    l.base = a_off + m * s->oh * s->ow;
#endif
    return l;
}

/* The address of A's element at k of row l (A has no holes: fetch checks the edges). */
static uint a_index(const shape *s, line l, uint k)
{
#if PASS == 0
    (void)s;
    return l.base + k;
#elif PASS == 1
    return l.base + (k / KK) * s->M * KK + k % KK;
#else
    uint ohw = s->oh * s->ow;
    return l.base + (k / ohw) * s->c_out * ohw + k % ohw;
#endif
}

static line b_line(const shape *s, uint b_off, uint n)
{
    line l = {0, 0, 0, n < s->N};
#if PASS == 0 /* column (b, i, j): the window's corner in X */
    uint ohw = s->oh * s->ow, ij = n % ohw;
    l.base = b_off + (n / ohw) * s->c_in * s->h * s->w;
    l.y = (int)(ij / s->ow * STRIDE) - PAD;
    l.x = (int)(ij % s->ow * STRIDE) - PAD;
#elif PASS == 1 /* column (b, y, x): y + P, x + P, from which the taps are taken away */
    uint hw = s->h * s->w, yx = n % hw;
    l.base = b_off + (n / hw) * s->c_out * s->oh * s->ow;
    l.y = (int)(yx / s->w) + PAD;
    l.x = (int)(yx % s->w) + PAD;
#else /* column (c, u, v): the tap's offset from an output pixel's position */
    l.base = b_off + (n / KK) * s->h * s->w;
    l.y = (int)(n % KK / KSIZE) - PAD;
    l.x = (int)(n % KSIZE) - PAD;
#endif
    return l;
}

/* The address of B's element at k of column l; *ok cleared where it reads 0 (outside
 * the image, or for backward_data a tap that no output pixel reaches). Branch-free,
 * like fetch, so that a CPU compiler can vectorise the fetch across work-items. */
static uint b_index(const shape *s, line l, uint k, int *ok)
{
#if PASS == 0 /* k = (c, u, v) */
    int y = l.y + (int)(k % KK / KSIZE), x = l.x + (int)(k % KSIZE);
    *ok &= (y >= 0) & (y < (int)s->h) & (x >= 0) & (x < (int)s->w);
    return l.base + ((k / KK) * s->h + (uint)y) * s->w + (uint)x;
#elif PASS == 1 /* k = (o, u, v): dY[b, o, (y+P-u)/S, (x+P-v)/S] */
    int ty = l.y - (int)(k % KK / KSIZE), tx = l.x - (int)(k % KSIZE);
    uint i = (uint)ty / STRIDE, j = (uint)tx / STRIDE; /* huge when negative */
    *ok &= ((uint)ty % STRIDE == 0) & ((uint)tx % STRIDE == 0) & (i < s->oh) & (j < s->ow);
    return l.base + ((k / KK) * s->oh + i) * s->ow + j;
#else /* k = (b, i, j) */
    uint ohw = s->oh * s->ow, ij = k % ohw;
    int y = (int)(ij / s->ow * STRIDE) + l.y, x = (int)(ij % s->ow * STRIDE) + l.x;
    *ok &= (y >= 0) & (y < (int)s->h) & (x >= 0) & (x < (int)s->w);
    return l.base + (k / ohw) * s->c_in * s->h * s->w + (uint)y * s->w + (uint)x;
#endif
}

/* Where C[m][n] goes, past out_off: NCHW y or dx (column = (b, pixel)), or dw's rows. */
static uint c_index(const shape *s, uint m, uint n)
{
#if PASS == 2
    return m * s->N + n;
#else
    uint plane = PASS == 0 ? s->oh * s->ow : s->h * s->w;
    return (n / plane * s->M + m) * plane + n % plane;
#endif
}

/* Fetch the slab starting at k0 into registers (0 past k_end or the matrix edges).
 * Every work-item loads, from the operand's first element where its own is not
 * there, then selects: no branches. */
static void fetch(const shape *s, __global const float *a, uint a_off, __global const float *b,
                  uint b_off, const line *la, const line *lb, uint tid, uint k0, uint k_end,
                  float *ra, float *rb)
{
    for (uint l = 0; l < LA; l++) {
        uint k = k0 + A_K(tid, l);
        int ok = la[l].ok & (k < k_end);
        uint at = a_index(s, la[l], k);
        float v = a[ok ? at : a_off];
        ra[l] = ok ? v : 0.0f;
    }
    for (uint l = 0; l < LB; l++) {
        uint k = k0 + B_K(tid, l);
        int ok = lb[l].ok & (k < k_end);
        uint at = b_index(s, lb[l], k, &ok);
        float v = b[ok ? at : b_off];
        rb[l] = ok ? v : 0.0f;
    }
}

/* Grid (ceil(N/TN) * WX, ceil(M/TM) * WY, parts), work-groups (WX, WY, 1):
 * out[out_off + part*M*N + c_index(m, n)] = C[m][n] over the part's
 * K range [part*part_k, (part+1)*part_k), + beta * out (beta 0: out not read). */
__kernel __attribute__((reqd_work_group_size(WX, WY, 1)))
void conv_implicit(__global const float *a, uint a_off, __global const float *b, uint b_off,
                   __global float *out, uint out_off, float beta, uint M, uint N, uint K,
                   uint part_k, uint c_in, uint h, uint w, uint c_out, uint oh, uint ow)
{
    const shape s = {M, N, K, c_in, h, w, c_out, oh, ow};
    const uint tx = get_local_id(0), ty = get_local_id(1), tid = ty * WX + tx;
    const uint m0 = get_group_id(1) * TM, n0 = get_group_id(0) * TN;
    const uint k_begin = get_group_id(2) * part_k, k_end = min(K, k_begin + part_k);
    __local float as[TK][TM + 1], bs[TK][TN + 1];

    line la[LA], lb[LB];
    for (uint l = 0; l < LA; l++) la[l] = a_line(&s, a_off, m0 + A_X(tid, l));
    for (uint l = 0; l < LB; l++) lb[l] = b_line(&s, b_off, n0 + B_X(tid, l));

    float acc[RM][RN];
    for (uint i = 0; i < RM; i++)
        for (uint j = 0; j < RN; j++) acc[i][j] = 0.0f;

    float ra[LA], rb[LB];
    fetch(&s, a, a_off, b, b_off, la, lb, tid, k_begin, k_end, ra, rb);
    for (uint k0 = k_begin; k0 < k_end; k0 += TK) {
        for (uint l = 0; l < LA; l++) as[A_K(tid, l)][A_X(tid, l)] = ra[l];
        for (uint l = 0; l < LB; l++) bs[B_K(tid, l)][B_X(tid, l)] = rb[l];
        barrier(CLK_LOCAL_MEM_FENCE);
        if (k0 + TK < k_end) fetch(&s, a, a_off, b, b_off, la, lb, tid, k0 + TK, k_end, ra, rb);
        for (uint kk = 0; kk < TK; kk++) {
            float av[RM], bv[RN];
            for (uint i = 0; i < RM; i++) av[i] = as[kk][ty + i * WY];
            for (uint j = 0; j < RN; j++) bv[j] = bs[kk][tx + j * WX];
            for (uint i = 0; i < RM; i++)
                for (uint j = 0; j < RN; j++) acc[i][j] = fma(av[i], bv[j], acc[i][j]);
        }
        barrier(CLK_LOCAL_MEM_FENCE);
    }

    __global float *c = out + out_off + get_group_id(2) * M * N;
    for (uint i = 0; i < RM; i++) {
        uint m = m0 + ty + i * WY;
        if (m >= M) break;
        for (uint j = 0; j < RN; j++) {
            uint n = n0 + tx + j * WX;
            if (n >= N) break;
            uint at = c_index(&s, m, n);
            c[at] = beta != 0.0f ? acc[i][j] + beta * c[at] : acc[i][j];
        }
    }
}

/* Grid (count): out[out_off + i] = sum over the parts, in order, of
 * parts[parts_off + part*count + i], + beta * out (beta 0: out not read). */
__kernel void conv_implicit_reduce(__global const float *parts, uint parts_off, uint n_parts,
                                   __global float *out, uint out_off, uint count, float beta)
{
    uint i = get_global_id(0);
    if (i >= count) return;
    float sum = 0.0f;
    for (uint p = 0; p < n_parts; p++) sum += parts[parts_off + p * count + i];
    out[out_off + i] = beta != 0.0f ? sum + beta * out[out_off + i] : sum;
}
