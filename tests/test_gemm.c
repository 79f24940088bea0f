/* The library's matrix products (src/gemm/blas.h): our own SGEMM for CPU-class
 * devices (the gemm option, AGECL_GEMM=own) against a double-precision reference,
 * and against CLBlast (AGECL_GEMM=clblast). Our SGEMM runs with both its tiles, whatever the
 * device's SIMD width: "own" through agecl__gemm (the device's tile), "narrow"
 * through agecl__gemm_cpu with the 6 x 16 tile.
 *
 * Tolerance: relative error (max abs difference / max abs reference) at most
 * 4e-6 * sqrt(k): a float dot product of length k rounds about eps * sqrt(k)
 * relative to its size, eps = 6e-8; the bound leaves room for the order of the
 * sums, and is 1.9e-4 at k = 2304, the longest IR50 product of the test. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "common.h"
#include "gemm/blas.h"
#include "runtime/ctx.h"
#include "gemm/gemm_cpu.h"

/* One product: C[b] = alpha op(A[b]) op(B[b]) + beta C[b], b < batch. Every
 * matrix has `pad` extra elements per row (ld > width) and starts `pad * 3`
 * elements into its buffer; matrices of a batch are `pad` elements apart. */
typedef struct gemm_case {
    size_t m, n, k;
    int ta, tb;
    float alpha, beta;
    size_t pad;
    size_t batch;  /* 0: agecl__gemm, else agecl__gemm_batched */
    int share_a;   /* A stride 0 */
    int share_b;   /* B stride 0 */
} gemm_case;

/* A matrix operand in its buffer: op(X)(i, j) at host[off + b*stride + ...]. */
typedef struct stored {
    size_t rows, cols, ld, off, stride, len;
    int trans;
} stored;

static stored layout(size_t op_rows, size_t op_cols, int trans, size_t pad, size_t items,
                     int shared)
{
    stored s = {trans ? op_cols : op_rows, trans ? op_rows : op_cols, 0, 3 * pad, 0, 0, trans};
    s.ld = s.cols + pad;
    s.stride = shared ? 0 : s.rows * s.ld + pad;
    s.len = s.off + (items - 1) * s.stride + s.rows * s.ld;
    return s;
}

/* op(X)(i, j) of matrix b. */
static double at(const float *host, const stored *s, size_t b, size_t i, size_t j)
{
    size_t e = s->trans ? j * s->ld + i : i * s->ld + j;
    return host[s->off + b * s->stride + e];
}

static agecl__matrix as_matrix(const agecl_tensor *t, const stored *s)
{
    return (agecl__matrix){t->buf, s->off, s->ld, s->trans};
}

static int is_inside(const stored *s, size_t items, size_t e)
{
    if (e < s->off) return 0;
    e -= s->off;
    size_t b = s->stride ? e / s->stride : 0;
    if (b >= items) return 0;
    e -= b * s->stride;
    return e < s->rows * s->ld && e % s->ld < s->cols;
}

static double tolerance(size_t k) { return 4e-6 * sqrt((double)(k ? k : 1)); }

/* Our SGEMM with the narrow tile, its packing buffer allocated here. */
static void run_narrow(agecl_ctx *ctx, const gemm_case *g, agecl__matrix a, size_t a_stride,
                       agecl__matrix b, size_t b_stride, agecl__matrix c, size_t c_stride)
{
    size_t items = g->batch ? g->batch : 1;
    agecl__gemm_tile tile = agecl__gemm_tile_narrow;
    size_t bytes = agecl__gemm_cpu_pack_bytes(tile, g->m, g->n, g->k, a, a_stride, b, b_stride,
                                              items);
    agecl_tensor packed = test_upload(ctx, 1, 1, 1, (int)(bytes / sizeof(float) + 1), NULL);
    TEST_OK(agecl__gemm_cpu(ctx, tile, "test_gemm", g->m, g->n, g->k, g->alpha, a, a_stride, b,
                            b_stride, g->beta, c, c_stride, items, packed.buf));
    TEST_OK(agecl_ctx_finish(ctx));
    agecl_tensor_free(&packed);
}

/* Run the case on `path` ("own", "clblast" or "narrow"); check it against the reference,
 * and that C's buffer is untouched outside the matrices. Returns the matrices
 * of C (malloc'd, m*n per item) when `out` is not NULL. */
static void run_case(const gemm_case *g, const char *path, uint64_t seed, float **out)
{
    agecl_ctx *ctx = test_ctx();
    size_t items = g->batch ? g->batch : 1;
    stored sa = layout(g->m, g->k, g->ta, g->pad, items, g->share_a);
    stored sb = layout(g->k, g->n, g->tb, g->pad, items, g->share_b);
    stored sc = layout(g->m, g->n, 0, g->pad, items, 0);
    test_rng r = test_rng_seed(seed);
    float *ha = test_random(&r, sa.len, -1, 1), *hb = test_random(&r, sb.len, -1, 1);
    float *hc = test_random(&r, sc.len, -1, 1);
    if (g->beta == 0.0f)
        for (size_t i = 0; i < sc.len; i++) hc[i] = test_poison_value();
    agecl_tensor ta = test_upload(ctx, 1, 1, 1, (int)sa.len, ha);
    agecl_tensor tb = test_upload(ctx, 1, 1, 1, (int)sb.len, hb);
    agecl_tensor tc = test_upload(ctx, 1, 1, 1, (int)sc.len, hc);

    agecl__matrix a = as_matrix(&ta, &sa), b = as_matrix(&tb, &sb), c = as_matrix(&tc, &sc);
    if (!strcmp(path, "narrow")) {
        run_narrow(ctx, g, a, sa.stride, b, sb.stride, c, sc.stride);
    } else {
        test_use_gemm(strcmp(path, "own") ? AGECL_GEMM_PATH_CLBLAST : AGECL_GEMM_PATH_OWN);
        if (g->batch)
            TEST_OK(agecl__gemm_batched(ctx, "test_gemm", g->m, g->n, g->k, g->alpha, a,
                                        sa.stride, b, sb.stride, g->beta, c, sc.stride,
                                        g->batch));
        else
            TEST_OK(agecl__gemm(ctx, "test_gemm", g->m, g->n, g->k, g->alpha, a, b, g->beta, c));
    }
    float *got_all = test_download(ctx, &tc);

    /* The reference, with op(A) and op(B)^T copied to rows of k doubles. */
    size_t mn = g->m * g->n;
    float *got = malloc(items * mn * sizeof *got), *want = malloc(items * mn * sizeof *want);
    double *ra = malloc(g->m * g->k * sizeof *ra + 1), *rb = malloc(g->n * g->k * sizeof *rb + 1);
    assert_true(got && want && ra && rb);
    for (size_t bi = 0; bi < items; bi++) {
        for (size_t i = 0; i < g->m; i++)
            for (size_t p = 0; p < g->k; p++) ra[i * g->k + p] = at(ha, &sa, bi, i, p);
        for (size_t j = 0; j < g->n; j++)
            for (size_t p = 0; p < g->k; p++) rb[j * g->k + p] = at(hb, &sb, bi, p, j);
        for (size_t i = 0; i < g->m; i++)
            for (size_t j = 0; j < g->n; j++) {
                double sum = 0;
                for (size_t p = 0; p < g->k; p++) sum += ra[i * g->k + p] * rb[j * g->k + p];
                double w = g->alpha * sum;
                if (g->beta != 0.0f) w += g->beta * at(hc, &sc, bi, i, j);
                want[bi * mn + i * g->n + j] = (float)w;
                got[bi * mn + i * g->n + j] = got_all[sc.off + bi * sc.stride + i * sc.ld + j];
            }
    }
    char what[200];
    snprintf(what, sizeof what, "%s: m %zu n %zu k %zu ta %d tb %d alpha %g beta %g pad %zu "
             "batch %zu share_a %d share_b %d", path, g->m, g->n, g->k, g->ta, g->tb,
             (double)g->alpha, (double)g->beta, g->pad, g->batch, g->share_a, g->share_b);
    test_assert_close(what, got, want, items * mn, tolerance(g->k));
    for (size_t e = 0; e < sc.len; e++)
        if (!is_inside(&sc, items, e) && memcmp(&got_all[e], &hc[e], sizeof(float)))
            fail_msg("%s: element %zu of C's buffer, outside the matrices, was written", what, e);

    if (out) *out = got;
    else free(got);
    free(want);
    free(ra);
    free(rb);
    free(got_all);
    free(ha);
    free(hb);
    free(hc);
    agecl_tensor_free(&ta);
    agecl_tensor_free(&tb);
    agecl_tensor_free(&tc);
}

/* Our SGEMM with the device's tile, and with the narrow one. */
static const char *const ours[] = {"own", "narrow"};

/* Sizes around the tiles (8 rows of 32 columns) in each of m, n and k, for the
 * four transposes; beta 0 on a poisoned C. */
static void test_sizes_and_transposes(void **state)
{
    (void)state;
    static const size_t sizes[] = {1, 5, 6, 7, 31, 32, 33, 65, 130};
    uint64_t seed = 100;
    for (int t = 0; t < 4; t++)
        for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
            size_t z = sizes[s];
            gemm_case cases[3] = {{z, 37, 19, t & 1, t >> 1, 1.0f, 0.0f, 0, 0, 0, 0},
                                  {23, z, 65, t & 1, t >> 1, 1.0f, 0.0f, 0, 0, 0, 0},
                                  {33, 70, z, t & 1, t >> 1, 1.0f, 0.0f, 0, 0, 0, 0}};
            for (int i = 0; i < 3; i++, seed++)
                for (int p = 0; p < 2; p++) run_case(&cases[i], ours[p], seed, NULL);
        }
    gemm_case ones = {1, 1, 1, 0, 0, 1.0f, 0.0f, 0, 0, 0, 0};
    for (int p = 0; p < 2; p++) run_case(&ones, ours[p], seed, NULL);
    for (int t = 0; t < 4; t++) {
        gemm_case big = {130, 130, 130, t & 1, t >> 1, 1.0f, 0.0f, 0, 0, 0, 0};
        for (int p = 0; p < 2; p++) run_case(&big, ours[p], ++seed, NULL);
    }
}

/* alpha and beta, offsets and leading dimensions past the width. */
static void test_alpha_beta_offsets(void **state)
{
    (void)state;
    static const float alphas[] = {1.0f, -0.5f, 2.25f}, betas[] = {0.0f, 1.0f, -0.75f};
    uint64_t seed = 200;
    for (int t = 0; t < 4; t++)
        for (int ab = 0; ab < 3; ab++) {
            gemm_case g = {45, 71, 33, t & 1, t >> 1, alphas[ab], betas[(ab + t) % 3],
                           (size_t)(5 + ab), 0, 0, 0};
            gemm_case tall = {200, 9, 40, t & 1, t >> 1, alphas[ab], betas[ab], 3, 0, 0, 0};
            for (int p = 0; p < 2; p++) {
                run_case(&g, ours[p], seed, NULL);
                run_case(&tall, ours[p], seed + 1, NULL);
            }
            seed += 2;
        }
}

/* Products of IR50's convolutions, one sample (per sample, P = out_h * out_w):
 * forward m = c_out, n = P, k = 9 c_in; backward data m = 9 c_in, n = P, k = c_out
 * (A transposed); backward filter m = c_out, n = 9 c_in, k = P (B transposed);
 * and the "cpu" preset's widest one. The last has B transposed and k long
 * enough that B is packed in two slabs. */
static void test_conv_shapes(void **state)
{
    (void)state;
    static const gemm_case cases[] = {
        {64, 196, 576, 0, 0, 1.0f, 0.0f, 0, 0, 0, 0},   /* 64->64 @14 */
        {576, 196, 64, 1, 0, 1.0f, 0.0f, 0, 0, 0, 0},
        {64, 576, 196, 0, 1, 1.0f, 1.0f, 0, 0, 0, 0},
        {256, 196, 2304, 0, 0, 1.0f, 0.0f, 0, 0, 0, 0}, /* stage 3: 256->256 @14 */
        {2304, 196, 256, 1, 0, 1.0f, 0.0f, 0, 0, 0, 0},
        {256, 2304, 196, 0, 1, 1.0f, 1.0f, 0, 0, 0, 0},
        {32, 4096, 288, 0, 0, 1.0f, 0.0f, 0, 0, 0, 0},  /* cpu: 32->32 @64 */
        {260, 250, 4100, 0, 1, 1.0f, 0.5f, 1, 0, 0, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        for (int p = 0; p < 2; p++) run_case(&cases[i], ours[p], 300 + i, NULL);
}

/* Batches: the weights shared (A stride 0) as the convolution's forward shares
 * them, B shared, transposes; a C stride of 0 is refused. */
static void test_batched(void **state)
{
    (void)state;
    uint64_t seed = 400;
    for (int t = 0; t < 4; t++) {
        gemm_case shared_a = {40, 50, 36, t & 1, t >> 1, 1.0f, 0.0f, 1, 3, 1, 0};
        gemm_case shared_b = {70, 20, 17, t & 1, t >> 1, -1.0f, 1.0f, 2, 4, 0, 1};
        for (int p = 0; p < 2; p++) {
            run_case(&shared_a, ours[p], seed, NULL);
            run_case(&shared_b, ours[p], seed + 1, NULL);
        }
        seed += 2;
    }
    gemm_case strided = {9, 33, 5, 0, 0, 0.5f, 0.25f, 4, 5, 0, 0};
    for (int p = 0; p < 2; p++) run_case(&strided, ours[p], seed, NULL);

    agecl_ctx *ctx = test_ctx();
    agecl_tensor t = test_upload(ctx, 1, 1, 1, 64, NULL);
    agecl__matrix m = {t.buf, 0, 8, 0};
    for (int p = 0; p < 2; p++) {
        test_use_gemm(p ? AGECL_GEMM_PATH_OWN : AGECL_GEMM_PATH_CLBLAST);
        assert_int_equal(agecl__gemm_batched(ctx, "test_gemm", 8, 8, 8, 1.0f, m, 0, m, 0, 0.0f, m,
                                             0, 2),
                         AGECL_E_UNSUPPORTED);
        assert_non_null(strstr(agecl_last_error(), "test_gemm"));
    }
    agecl_tensor_free(&t);
}

/* Once the context's temporary buffer has grown, a product allocates nothing. */
static void test_no_allocation_when_warm(void **state)
{
    (void)state;
    agecl_ctx *ctx = test_ctx();
    gemm_case g = {100, 90, 80, 1, 1, 1.0f, 0.0f, 0, 0, 0, 0};
    run_case(&g, "own", 600, NULL);
    cl_mem temp = ctx->gemm_temp;
    size_t bytes = ctx->gemm_temp_bytes;
    assert_non_null(temp);
    run_case(&g, "own", 601, NULL);
    assert_ptr_equal(ctx->gemm_temp, temp);
    assert_int_equal(ctx->gemm_temp_bytes, bytes);
}

/* AGECL_GEMM=clblast and =own give the same products (other values are refused by
 * agecl_options_from_env: tests/test_runtime.c). */
static void test_paths_agree(void **state)
{
    (void)state;
    static const gemm_case cases[] = {
        {33, 70, 65, 0, 0, 1.0f, 0.0f, 0, 0, 0, 0},
        {31, 130, 7, 1, 0, -1.5f, 1.0f, 3, 0, 0, 0},
        {130, 32, 33, 0, 1, 1.0f, 0.5f, 1, 0, 0, 0},
        {64, 196, 576, 1, 1, 1.0f, 0.0f, 0, 0, 0, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        float *own, *blas;
        run_case(&cases[i], "own", 500 + i, &own);
        run_case(&cases[i], "clblast", 500 + i, &blas);
        char what[64];
        snprintf(what, sizeof what, "own against clblast, case %zu", i);
        test_assert_close(what, own, blas, cases[i].m * cases[i].n, 2 * tolerance(cases[i].k));
        free(own);
        free(blas);
    }
    test_use_gemm(AGECL_GEMM_PATH_AUTO);
}

static int teardown(void **state)
{
    (void)state;
    test_ctx_release();
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sizes_and_transposes),
        cmocka_unit_test(test_alpha_beta_offsets),
        cmocka_unit_test(test_conv_shapes),
        cmocka_unit_test(test_batched),
        cmocka_unit_test(test_no_allocation_when_warm),
        cmocka_unit_test(test_paths_agree),
    };
    return TEST_RUN_GROUP(tests, NULL, teardown);
}
