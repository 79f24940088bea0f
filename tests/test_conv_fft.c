/* The FFT convolution's own parts (src/conv/conv2d_fft.c), beyond what
 * test_conv_algos checks through the plan: transform sizes, the chunks, blocks and
 * pieces a small workspace budget forces (all three passes against the double
 * reference, beta 0 on poisoned outputs and beta 1), the workspace bound at IR-50's
 * largest filter shapes, clFFT's counted setup (plans outliving others, setup again
 * after the last teardown), and what the algorithm leaves to im2col.
 *
 * Tolerance: 1e-5 relative (max abs error / max abs reference) for every pass; the
 * measured worst here is about 3e-7 (the transforms' rounding, relative to the
 * plane's largest values, and float sums over at most 130 channels or 9 samples). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include "agecl/conv.h"
#include "common.h"
#include "conv/conv2d_fft.h"
#include "ref_conv.h"

#define TOL 1e-5

static agecl_conv2d_desc desc3x3(int n, int c_in, int h, int w, int c_out)
{
    return (agecl_conv2d_desc){n, c_in, h, w, c_out, 3, 1, 1};
}

/* A state of the FFT algorithm for d, made under a workspace budget of `budget` bytes. */
static agecl__fft_state *make_state(agecl_ctx *ctx, const agecl_conv2d_desc *d, size_t budget,
                                    size_t ws[AGECL_CONV_PASS_COUNT])
{
    void *state = NULL;
    agecl__conv2d_fft_budget = budget;
    agecl_status s = agecl__conv2d_fft.create(ctx, d, &state, ws);
    agecl__conv2d_fft_budget = AGECL_CONV2D_WORKSPACE_LIMIT;
    TEST_OK(s);
    return state;
}

/* Run every pass of `state` on random data, beta 0 (outputs poisoned) and beta 1, and
 * compare with the reference. */
static void check_state(agecl_ctx *ctx, agecl__fft_state *state,
                        const size_t ws_floats[AGECL_CONV_PASS_COUNT], uint64_t seed)
{
    const agecl_conv2d_desc *d = &state->d;
    size_t nx = (size_t)d->n * d->c_in * d->h * d->w, nw = (size_t)d->c_out * d->c_in * 9,
           ny = (size_t)d->n * d->c_out * d->h * d->w;
    test_rng r = test_rng_seed(seed);
    float *x = test_random(&r, nx, -1, 1), *wt = test_random(&r, nw, -1, 1),
          *dy = test_random(&r, ny, -1, 1);
    double *xd = test_to_double(x, nx), *wd = test_to_double(wt, nw);
    double *dyd = test_to_double(dy, ny);
    double *ref[3] = {malloc(ny * sizeof(double)), malloc(nx * sizeof(double)),
                      malloc(nw * sizeof(double))};
    assert_true(ref[0] && ref[1] && ref[2]);
    ref_conv2d_forward(d, xd, wd, ref[0]);
    ref_conv2d_backward_data(d, dyd, wd, ref[1]);
    ref_conv2d_backward_filter(d, xd, dyd, ref[2]);

    agecl_tensor tx = test_upload(ctx, d->n, d->c_in, d->h, d->w, x);
    agecl_tensor tw = test_upload(ctx, d->c_out, d->c_in, 3, 3, wt);
    agecl_tensor tdy = test_upload(ctx, d->n, d->c_out, d->h, d->w, dy);
    size_t most = 1;
    for (int p = 0; p < AGECL_CONV_PASS_COUNT; p++)
        if (ws_floats[p] > most) most = ws_floats[p];
    /* The workspace at an offset that is not aligned for sub-buffers. */
    agecl_tensor arena = test_upload(ctx, 1, 1, 1, (int)most + 100, NULL), ws;
    TEST_OK(agecl_tensor_view(&arena, 3, 1, 1, 1, (int)most, &ws));

    const int shapes[3][4] = {{d->n, d->c_out, d->h, d->w},
                              {d->n, d->c_in, d->h, d->w},
                              {d->c_out, d->c_in, 3, 3}};
    const char *names[3] = {"fft y", "fft dx", "fft dw"};
    for (int beta = 0; beta <= 1; beta++)
        for (int p = 0; p < AGECL_CONV_PASS_COUNT; p++) {
            size_t n = (size_t)shapes[p][0] * shapes[p][1] * shapes[p][2] * shapes[p][3];
            float *old = beta ? test_random(&r, n, -1, 1) : NULL;
            agecl_tensor out = test_upload(ctx, shapes[p][0], shapes[p][1], shapes[p][2],
                                           shapes[p][3], old);
            const agecl_tensor *a = p == AGECL_CONV_BACKWARD_DATA ? &tdy : &tx;
            const agecl_tensor *b = p == AGECL_CONV_BACKWARD_FILTER ? &tdy : &tw;
            TEST_OK(agecl__conv2d_fft.run[p](state, a, b, (float)beta, &out, &ws));
            float *got = test_download(ctx, &out), *want = malloc(n * sizeof *want);
            assert_non_null(want);
            for (size_t i = 0; i < n; i++) want[i] = (float)(ref[p][i] + (beta ? old[i] : 0.0));
            test_assert_close(names[p], got, want, n, TOL);
            free(got);
            free(want);
            free(old);
            agecl_tensor_free(&out);
        }
    agecl_tensor_free(&arena);
    agecl_tensor_free(&tx);
    agecl_tensor_free(&tw);
    agecl_tensor_free(&tdy);
    for (int p = 0; p < 3; p++) free(ref[p]);
    free(x), free(wt), free(dy), free(xd), free(wd), free(dyd);
}

static void check(const agecl_conv2d_desc *d, size_t budget, uint64_t seed)
{
    agecl_ctx *ctx = test_ctx();
    size_t ws[AGECL_CONV_PASS_COUNT];
    agecl__fft_state *s = make_state(ctx, d, budget, ws);
    check_state(ctx, s, ws, seed);
    agecl__conv2d_fft.destroy(s);
}

static void test_smooth_sizes(void **unused)
{
    (void)unused;
    const int in[] = {1, 3, 8, 11, 13, 15, 29, 57, 65, 113, 127};
    const int want[] = {1, 3, 8, 12, 14, 15, 30, 60, 70, 120, 128};
    for (size_t i = 0; i < sizeof in / sizeof in[0]; i++)
        assert_int_equal(agecl__fft_smooth_size(in[i]), want[i]);
}

/* Whole batches and channels: tiny and odd planes (3x3 and 3x4 transforms), a
 * non-square one, channels past a tile. */
static void test_passes(void **unused)
{
    (void)unused;
    const agecl_conv2d_desc shapes[] = {desc3x3(1, 1, 1, 1, 1), desc3x3(3, 2, 2, 3, 3),
                                        desc3x3(3, 5, 7, 9, 17), desc3x3(1, 130, 15, 15, 5)};
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++)
        check(&shapes[i], AGECL_CONV2D_WORKSPACE_LIMIT, 10 + i);
}

/* Budgets of a few KiB: with 21 KB every pass cuts the batch into chunks and its
 * channels into blocks (the last one padded), and transforms a group in several
 * pieces, some part-filled; with 48 KB the last chunk is padded. Still exact. */
static void test_chunks_blocks_pieces(void **unused)
{
    (void)unused;
    agecl_ctx *ctx = test_ctx();
    agecl_conv2d_desc d = desc3x3(9, 6, 7, 5, 7);
    const size_t budgets[] = {21000, 48000};
    for (int b = 0; b < 2; b++) {
        size_t ws[AGECL_CONV_PASS_COUNT];
        agecl__fft_state *s = make_state(ctx, &d, budgets[b], ws);
        for (int p = 0; p < AGECL_CONV_PASS_COUNT; p++) {
            const agecl__fft_pass *fp = &s->pass[p];
            assert_true(ws[p] * sizeof(float) <= budgets[b]);
            assert_true(fp->chunks * fp->nb >= d.n && (fp->chunks - 1) * fp->nb < d.n);
            if (b == 0) {
                assert_true(fp->chunks > 1 && fp->blocks > 1);
                assert_true((size_t)fp->nb * d.c_in > s->piece);
            } else {
                assert_true(fp->chunks * fp->nb > d.n);
            }
        }
        check_state(ctx, s, ws, 20 + b);
        agecl__conv2d_fft.destroy(s);
    }
}

/* IR-50's largest filters: the spectra of all 256x256 (14x14) or 512x512 (7x7) filters
 * alone pass 64 MiB, so the filters go in blocks and every pass stays under it. */
static void test_workspace_bound(void **unused)
{
    (void)unused;
    agecl_ctx *ctx = test_ctx();
    const agecl_conv2d_desc shapes[] = {desc3x3(64, 256, 14, 14, 256),
                                        desc3x3(64, 512, 7, 7, 512)};
    for (size_t i = 0; i < 2; i++) {
        size_t ws[AGECL_CONV_PASS_COUNT];
        agecl__fft_state *s = make_state(ctx, &shapes[i], AGECL_CONV2D_WORKSPACE_LIMIT, ws);
        for (int p = 0; p < AGECL_CONV_PASS_COUNT; p++) {
            assert_true(s->pass[p].blocks > 1);
            assert_true(ws[p] * sizeof(float) <= AGECL_CONV2D_WORKSPACE_LIMIT);
        }
        agecl__conv2d_fft.destroy(s);
    }
}

/* clFFT's setup is counted: a state outlives one destroyed before it, and after the
 * last one (teardown) a new state sets clFFT up again. */
static void test_clfft_lifetime(void **unused)
{
    (void)unused;
    agecl_ctx *ctx = test_ctx();
    agecl_conv2d_desc a = desc3x3(2, 3, 7, 7, 4), b = desc3x3(1, 4, 6, 5, 3);
    size_t ws_a[AGECL_CONV_PASS_COUNT], ws_b[AGECL_CONV_PASS_COUNT];
    agecl__fft_state *sa = make_state(ctx, &a, AGECL_CONV2D_WORKSPACE_LIMIT, ws_a);
    agecl__fft_state *sb = make_state(ctx, &b, AGECL_CONV2D_WORKSPACE_LIMIT, ws_b);
    agecl__conv2d_fft.destroy(sa);
    check_state(ctx, sb, ws_b, 30);
    agecl__conv2d_fft.destroy(sb);
    sa = make_state(ctx, &a, AGECL_CONV2D_WORKSPACE_LIMIT, ws_a);
    check_state(ctx, sa, ws_a, 31);
    agecl__conv2d_fft.destroy(sa);
}

/* 3x3 stride 1 only: other shapes are left to im2col through the plan. */
static void test_unsupported(void **unused)
{
    (void)unused;
    agecl_ctx *ctx = test_ctx();
    const agecl_conv2d_desc no[] = {{2, 3, 8, 8, 4, 3, 2, 1}, {2, 3, 8, 8, 4, 1, 1, 0},
                                    desc3x3(1, 1, 1024, 8, 1)};
    for (size_t i = 0; i < sizeof no / sizeof no[0]; i++)
        for (int p = 0; p < AGECL_CONV_PASS_COUNT; p++)
            assert_false(agecl_conv2d_algo_supports(ctx, &no[i], AGECL_CONV_FFT, p));
    agecl_conv2d_desc yes = desc3x3(2, 3, 8, 8, 4);
    for (int p = 0; p < AGECL_CONV_PASS_COUNT; p++)
        assert_true(agecl_conv2d_algo_supports(ctx, &yes, AGECL_CONV_FFT, p));
    agecl_conv2d_plan *plan;
    TEST_OK(agecl_conv2d_plan_create(ctx, &no[0], AGECL_CONV_FFT, &plan));
    for (int p = 0; p < AGECL_CONV_PASS_COUNT; p++)
        assert_int_equal(agecl_conv2d_plan_algo(plan, p), AGECL_CONV_IM2COL_GEMM);
    agecl_conv2d_plan_destroy(plan);
}

static int teardown(void **unused)
{
    (void)unused;
    test_ctx_release();
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_smooth_sizes),       cmocka_unit_test(test_passes),
        cmocka_unit_test(test_chunks_blocks_pieces), cmocka_unit_test(test_workspace_bound),
        cmocka_unit_test(test_clfft_lifetime),     cmocka_unit_test(test_unsupported),
    };
    return TEST_RUN_GROUP(tests, NULL, teardown);
}
