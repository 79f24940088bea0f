/* The Winograd F(2x2, 3x3) and F(4x4, 3x3) convolutions (src/conv/conv2d_winograd.c,
 * cl/winograd.cl) through the plan API, against the double-precision reference
 * (ref_conv.c), on what tests/test_conv_algos.c does not reach: both kernel families
 * (forced with the context's kernel family, AGECL_KERNELS, whatever the device), every
 * image width from 1 to 40 (the CPU kernels' vector blocks of 4, 8 and 16 tiles, their
 * edges and the part tiles of sizes the tile does not divide), several chunks of a
 * batch (the weight gradient summed across them), 130 channels, batch 64, every 3x3
 * stride-1 shape of IR-50, the workspace bound, and the passes it refuses.
 *
 * Tolerances (max abs error / max abs reference):
 *   F(2x2): 1e-5 for y and dx, sums of up to 9 c_in products through transforms with
 *     coefficients 1 and 1/2; 2e-5 for dw, sums over the whole batch's tiles
 *     (measured on PoCL at these and IR-50's shapes: at most 8.5e-7 for y and dx,
 *     2.5e-6 for dw).
 *   F(4x4): 1e-4 for y and dx, 2e-4 for dw: its transforms have coefficients up to 8
 *     (A^T) and 1/24 (G), and the input's (B^T, up to 5) amplifies the rounding of
 *     each product; test_ir50_shapes prints the measured errors. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "agecl/conv.h"
#include "common.h"
#include "ref_conv.h"

/* The two algorithms and their tolerances (above). */
typedef struct wino {
    agecl_conv2d_algo algo;
    double tol, tol_dw;
} wino;
static const wino winos[] = {{AGECL_CONV_WINOGRAD, 1e-5, 2e-5},
                             {AGECL_CONV_WINOGRAD4, 1e-4, 2e-4}};
#define N_WINOS 2

static const char *const families[] = {"cpu", "gpu"};
#define N_FAMILIES 2

static void use_family(const char *family)
{
    test_use_kernels(strcmp(family, "cpu") ? AGECL_FAMILY_GPU : AGECL_FAMILY_CPU);
}

static agecl_conv2d_desc desc(int n, int c_in, int h, int w, int c_out)
{
    return (agecl_conv2d_desc){n, c_in, h, w, c_out, 3, 1, 1};
}

typedef struct problem {
    agecl_conv2d_desc d;
    size_t nx, nw, ny;
    float *x, *wt, *dy;
    double *ref[AGECL_CONV_PASS_COUNT]; /* y, dx, dw */
} problem;

static problem make_problem(agecl_conv2d_desc d, uint64_t seed)
{
    problem p = {d, (size_t)d.n * d.c_in * d.h * d.w, (size_t)d.c_out * d.c_in * 9,
                 (size_t)d.n * d.c_out * d.h * d.w, NULL, NULL, NULL, {NULL}};
    test_rng rng = test_rng_seed(seed);
    p.x = test_random(&rng, p.nx, -1, 1);
    p.wt = test_random(&rng, p.nw, -1, 1);
    p.dy = test_random(&rng, p.ny, -1, 1);
    double *x = test_to_double(p.x, p.nx), *wt = test_to_double(p.wt, p.nw);
    double *dy = test_to_double(p.dy, p.ny);
    size_t sizes[AGECL_CONV_PASS_COUNT] = {p.ny, p.nx, p.nw};
    for (int pass = 0; pass < AGECL_CONV_PASS_COUNT; pass++) {
        p.ref[pass] = malloc(sizes[pass] * sizeof(double));
        assert_non_null(p.ref[pass]);
    }
    ref_conv2d_forward(&d, x, wt, p.ref[AGECL_CONV_FORWARD]);
    ref_conv2d_backward_data(&d, dy, wt, p.ref[AGECL_CONV_BACKWARD_DATA]);
    ref_conv2d_backward_filter(&d, x, dy, p.ref[AGECL_CONV_BACKWARD_FILTER]);
    free(x), free(wt), free(dy);
    return p;
}

static void free_problem(problem *p)
{
    free(p->x), free(p->wt), free(p->dy);
    for (int pass = 0; pass < AGECL_CONV_PASS_COUNT; pass++) free(p->ref[pass]);
}

/* Every pass of a plan of w for p, with the kernel family of `family`: beta 0 into
 * a poisoned output, then beta 1 onto random values, the workspace poisoned before
 * each call. The largest error of each pass goes to err (when not NULL). */
static void check_plan(const problem *p, const wino *wn, const char *family, uint64_t seed,
                       double err[AGECL_CONV_PASS_COUNT])
{
    const agecl_conv2d_desc *d = &p->d;
    agecl_ctx *ctx = test_ctx();
    use_family(family);
    agecl_conv2d_plan *plan;
    TEST_OK(agecl_conv2d_plan_create(ctx, d, wn->algo, &plan));
    for (int pass = 0; pass < AGECL_CONV_PASS_COUNT; pass++)
        assert_int_equal(agecl_conv2d_plan_algo(plan, pass), wn->algo);
    agecl_tensor x = test_upload(ctx, d->n, d->c_in, d->h, d->w, p->x);
    agecl_tensor wt = test_upload(ctx, d->c_out, d->c_in, 3, 3, p->wt);
    agecl_tensor dy = test_upload(ctx, d->n, d->c_out, d->h, d->w, p->dy);
    size_t wsn = agecl_conv2d_plan_workspace_bytes(plan) / sizeof(float);
    assert_true(wsn > 0);
    agecl_tensor ws = test_upload(ctx, 1, 1, 1, (int)wsn, NULL);
    test_rng rng = test_rng_seed(seed);
    char what[160];
    for (int pass = 0; pass < AGECL_CONV_PASS_COUNT; pass++) {
        agecl_tensor out;
        if (pass == AGECL_CONV_FORWARD) out = test_upload(ctx, d->n, d->c_out, d->h, d->w, NULL);
        else if (pass == AGECL_CONV_BACKWARD_DATA)
            out = test_upload(ctx, d->n, d->c_in, d->h, d->w, NULL);
        else out = test_upload(ctx, d->c_out, d->c_in, 3, 3, NULL);
        size_t n = agecl_tensor_numel(&out);
        for (int round = 0; round < 2; round++) {
            float beta = (float)round, *old = NULL;
            if (round == 1) {
                old = test_random(&rng, n, -1, 1);
                TEST_OK(agecl_tensor_write(ctx, &out, old));
            }
            test_poison(ctx, &ws);
            if (pass == AGECL_CONV_FORWARD)
                TEST_OK(agecl_conv2d_forward(plan, &x, &wt, beta, &out, &ws));
            else if (pass == AGECL_CONV_BACKWARD_DATA)
                TEST_OK(agecl_conv2d_backward_data(plan, &dy, &wt, beta, &out, &ws));
            else
                TEST_OK(agecl_conv2d_backward_filter(plan, &x, &dy, beta, &out, &ws));
            float *want = test_plus_beta(p->ref[pass], old, beta, n);
            float *got = test_download(ctx, &out);
            snprintf(what, sizeof what, "%s %s pass %d n%d %d->%d %dx%d beta %g",
                     agecl_conv2d_algo_name(wn->algo), family, pass, d->n, d->c_in, d->c_out,
                     d->h, d->w, beta);
            double e = test_rel_error(got, want, n, 1e-30);
            if (err && e > err[pass]) err[pass] = e;
            test_assert_close(what, got, want, n,
                              pass == AGECL_CONV_BACKWARD_FILTER ? wn->tol_dw : wn->tol);
            free(want), free(got), free(old);
        }
        agecl_tensor_free(&out);
    }
    agecl_tensor_free(&x), agecl_tensor_free(&wt), agecl_tensor_free(&dy), agecl_tensor_free(&ws);
    agecl_conv2d_plan_destroy(plan);
    test_use_kernels(AGECL_FAMILY_AUTO);
}

static void check_shape(agecl_conv2d_desc d, uint64_t seed)
{
    problem p = make_problem(d, seed);
    for (int a = 0; a < N_WINOS; a++)
        for (int f = 0; f < N_FAMILIES; f++)
            check_plan(&p, &winos[a], families[f], seed + 7 * f + 13 * a, NULL);
    free_problem(&p);
}

/* Widths 1 to 40 (with heights of every remainder modulo 4): on CPUs blocks of 4, 8
 * and 16 tiles (F(2x2): up to 8, 16, 32 columns; F(4x4), at most 8 tiles: up to 16,
 * 32 columns), whole and partial, the first and last blocks of a row, and the loads
 * near the end of the batch. */
static void test_widths(void **state)
{
    (void)state;
    for (int w = 1; w <= 40; w++) check_shape(desc(2, 2, w % 4 + 1 + (w > 20) * 4, w, 3), 100 + w);
}

/* Awkward shapes: one pixel, odd and non-square sizes, 130 channels, batch 64, and a
 * 112 x 112 image. */
static void test_shapes(void **state)
{
    (void)state;
    check_shape(desc(1, 1, 1, 1, 1), 1);
    check_shape(desc(3, 5, 15, 7, 17), 2);
    check_shape(desc(1, 130, 7, 7, 64), 3);
    check_shape(desc(2, 64, 14, 14, 130), 4);
    check_shape(desc(64, 3, 15, 15, 5), 5);
    check_shape(desc(1, 3, 112, 112, 5), 6);
}

/* A batch in several chunks on CPU devices (an eighth of PoCL's cache holds V and M
 * of 3 of these samples for F(2x2); backward_filter takes 3 for its 2048 tiles), so
 * that the weight gradient adds the chunks' products and each chunk writes its own
 * samples. */
static void test_chunks(void **state)
{
    (void)state;
    check_shape(desc(5, 17, 56, 56, 5), 11);
    check_shape(desc(16, 64, 14, 14, 64), 12);
}

/* 3x3 stride-1 convolutions only; every pass of those. */
static void test_supports(void **state)
{
    (void)state;
    agecl_ctx *ctx = test_ctx();
    agecl_conv2d_desc same = desc(2, 3, 8, 8, 4), strided = same, pointwise = same;
    strided.stride = 2;
    pointwise.kernel = 1, pointwise.pad = 0;
    for (int a = 0; a < N_WINOS; a++)
        for (int pass = 0; pass < AGECL_CONV_PASS_COUNT; pass++) {
            agecl_conv2d_algo algo = winos[a].algo;
            assert_true(agecl_conv2d_algo_supports(ctx, &same, algo, pass));
            assert_false(agecl_conv2d_algo_supports(ctx, &strided, algo, pass));
            assert_false(agecl_conv2d_algo_supports(ctx, &pointwise, algo, pass));
        }
}

/* At IR-50's 3x3 stride-1 shapes, batch 64, no plan asks for more than the limit. */
static void test_workspace_bound(void **state)
{
    (void)state;
    const int shapes[][3] = {{3, 112, 64}, {64, 112, 64}, {64, 56, 64},   {64, 56, 128},
                             {128, 28, 128}, {128, 28, 256}, {256, 14, 256}, {512, 7, 512}};
    for (int a = 0; a < N_WINOS; a++)
        for (int f = 0; f < N_FAMILIES; f++) {
            use_family(families[f]);
            for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
                agecl_conv2d_desc d =
                    desc(64, shapes[i][0], shapes[i][1], shapes[i][1], shapes[i][2]);
                agecl_conv2d_plan *p;
                TEST_OK(agecl_conv2d_plan_create(test_ctx(), &d, winos[a].algo, &p));
                assert_true(agecl_conv2d_plan_workspace_bytes(p) <=
                            AGECL_CONV2D_WORKSPACE_LIMIT);
                agecl_conv2d_plan_destroy(p);
            }
        }
    test_use_kernels(AGECL_FAMILY_AUTO);
}

/* IR-50's 3x3 stride-1 convolutions at batch 1 (the channel counts and sizes of its
 * four stages; its 64 channels at 112 x 112, measured once at 8.8e-6 / 7.9e-6 / 1.4e-5
 * for F(4x4), are left out: their double reference alone took a minute of CI's
 * sanitized build), every pass, the CPU kernels and the portable ones; the largest
 * error of each algorithm and pass is printed, so that the figures in this file's
 * header can be checked. */
static void test_ir50_shapes(void **state)
{
    (void)state;
    const int shapes[][3] = {{64, 56, 64}, {128, 28, 128}, {256, 14, 256}, {512, 7, 512}};
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
        problem p = make_problem(desc(1, shapes[i][0], shapes[i][1], shapes[i][1],
                                      shapes[i][2]), 300 + i);
        for (int a = 0; a < N_WINOS; a++) {
            double err[AGECL_CONV_PASS_COUNT] = {0};
            for (int f = 0; f < N_FAMILIES; f++)
                check_plan(&p, &winos[a], families[f], 400 + i, err);
            fprintf(stderr, "%-9s %3d -> %3d at %3d x %3d: errors y %.2e dx %.2e dw %.2e\n",
                    agecl_conv2d_algo_name(winos[a].algo), shapes[i][0], shapes[i][2],
                    shapes[i][1], shapes[i][1], err[0], err[1], err[2]);
        }
        free_problem(&p);
    }
}

/* The forward of one plan from weights prepared once (agecl_conv2d_prepare, into a
 * view 16 floats into a poisoned buffer) equals the plain forward bit for bit, with
 * beta 0 into a poisoned output and beta 1 onto random values. */
static void check_prepared(agecl_conv2d_desc d, const wino *wn, const char *family, uint64_t seed)
{
    agecl_ctx *ctx = test_ctx();
    use_family(family);
    agecl_conv2d_plan *plan;
    TEST_OK(agecl_conv2d_plan_create(ctx, &d, wn->algo, &plan));
    test_rng rng = test_rng_seed(seed);
    size_t nx = (size_t)d.n * d.c_in * d.h * d.w, nw = (size_t)d.c_out * d.c_in * 9;
    size_t ny = (size_t)d.n * d.c_out * d.h * d.w;
    float *hx = test_random(&rng, nx, -1, 1), *hw = test_random(&rng, nw, -1, 1);
    float *old = test_random(&rng, ny, -1, 1);
    agecl_tensor x = test_upload(ctx, d.n, d.c_in, d.h, d.w, hx);
    agecl_tensor wt = test_upload(ctx, d.c_out, d.c_in, 3, 3, hw);
    size_t wsn = agecl_conv2d_plan_workspace_bytes(plan) / sizeof(float);
    size_t pn = agecl_conv2d_plan_prepared_bytes(plan) / sizeof(float);
    assert_true(pn >= nw);
    agecl_tensor ws = test_upload(ctx, 1, 1, 1, (int)wsn, NULL);
    agecl_tensor whole = test_upload(ctx, 1, 1, 1, (int)pn + 16, NULL), prepared;
    TEST_OK(agecl_tensor_view(&whole, 16, 1, 1, 1, (int)pn, &prepared));
    TEST_OK(agecl_conv2d_prepare(plan, &wt, &prepared));
    for (int round = 0; round < 2; round++) {
        float beta = (float)round;
        float *got[2];
        for (int k = 0; k < 2; k++) {
            agecl_tensor y = test_upload(ctx, d.n, d.c_out, d.h, d.w, round ? old : NULL);
            test_poison(ctx, &ws);
            if (k == 0) TEST_OK(agecl_conv2d_forward(plan, &x, &wt, beta, &y, &ws));
            else TEST_OK(agecl_conv2d_forward_prepared(plan, &x, &prepared, beta, &y, &ws));
            got[k] = test_download(ctx, &y);
            agecl_tensor_free(&y);
        }
        if (memcmp(got[0], got[1], ny * sizeof(float)))
            fail_msg("%s %s n%d %d->%d %dx%d beta %g: the prepared forward differs",
                     agecl_conv2d_algo_name(wn->algo), family, d.n, d.c_in, d.c_out, d.h, d.w,
                     beta);
        free(got[0]), free(got[1]);
    }
    /* too small a tensor for the prepared weights */
    agecl_tensor small;
    TEST_OK(agecl_tensor_view(&whole, 0, 1, 1, 1, (int)pn - 1, &small));
    assert_int_equal(agecl_conv2d_prepare(plan, &wt, &small), AGECL_E_SHAPE);
    assert_non_null(strstr(agecl_last_error(), "prepared"));
    free(hx), free(hw), free(old);
    agecl_tensor_free(&x), agecl_tensor_free(&wt), agecl_tensor_free(&ws);
    agecl_tensor_free(&whole);
    agecl_conv2d_plan_destroy(plan);
    test_use_kernels(AGECL_FAMILY_AUTO);
}

/* Prepared weights (agecl_conv2d_prepare): both algorithms and kernel families, at
 * batch 1, odd sizes and a batch in chunks; a plan whose forward reads the weights as
 * they are has none, and says so. */
static void test_prepared(void **state)
{
    (void)state;
    const agecl_conv2d_desc shapes[] = {desc(1, 5, 9, 11, 7), desc(3, 17, 14, 14, 6),
                                        desc(5, 17, 56, 56, 5)};
    for (int a = 0; a < N_WINOS; a++)
        for (int f = 0; f < N_FAMILIES; f++)
            for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++)
                check_prepared(shapes[i], &winos[a], families[f], 500 + 10 * i + 3 * f + a);
    agecl_ctx *ctx = test_ctx();
    agecl_conv2d_desc d = desc(1, 2, 5, 5, 3);
    agecl_conv2d_plan *plan;
    TEST_OK(agecl_conv2d_plan_create(ctx, &d, AGECL_CONV_IM2COL_GEMM, &plan));
    assert_int_equal(agecl_conv2d_plan_prepared_bytes(plan), 0);
    agecl_tensor wt = test_upload(ctx, 3, 2, 3, 3, NULL), t = test_upload(ctx, 1, 1, 1, 64, NULL);
    assert_int_equal(agecl_conv2d_prepare(plan, &wt, &t), AGECL_E_INVALID_ARG);
    assert_non_null(strstr(agecl_last_error(), "im2col"));
    agecl_tensor_free(&wt), agecl_tensor_free(&t);
    agecl_conv2d_plan_destroy(plan);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_widths),          cmocka_unit_test(test_shapes),
        cmocka_unit_test(test_chunks),          cmocka_unit_test(test_supports),
        cmocka_unit_test(test_workspace_bound), cmocka_unit_test(test_ir50_shapes),
        cmocka_unit_test(test_prepared),
    };
    int failed = TEST_RUN_GROUP(tests, NULL, NULL);
    test_ctx_release();
    return failed;
}
