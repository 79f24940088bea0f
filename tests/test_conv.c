/* 2-D convolution plans (agecl/conv.h) against the double-precision reference
 * (ref_conv.c), the reference against finite differences and a hand-computed case,
 * and the OpenCL calls against PyTorch (tests/fixtures/conv.safetensors).
 *
 * The plans have two paths (conv2d_im2col.c): the CPU one (per-sample products,
 * cl/im2col_cpu.cl, cache-sized chunks) and the GPU one (wide products, permutations,
 * cl/im2col.cl). The random cases run on both, forced with AGECL_KERNELS, whatever
 * the device, and the CPU kernels' vector paths at every row length from 1 to 40
 * (test_row_lengths).
 *
 * Tolerances (max abs error / max abs reference): 1e-5 for y and dx, whose elements
 * are float sums of at most c_in*k*k (here 1170) products; 5e-5 for dw, whose
 * elements are sums over the whole batch, n*out_h*out_w products per weight (up to
 * 3*112*112 = 37632 here), and the rounding of a float sum grows with its length and
 * depends on how the device's GEMM blocks it (measured on PoCL: at most 5e-6 for dw,
 * 1.3e-6 for y and dx). The reference's gradients match central differences to 1e-7
 * (the loss is bilinear, so the differences are exact but for rounding). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "agecl/conv.h"
#include "agecl/safetensors.h"
#include "common.h"
#include "ref_conv.h"

#define TOL 1e-5
#define TOL_DW 5e-5

/* The plan paths, as AGECL_KERNELS names them; plans read the context's kernel
 * family when created. */
static const char *const paths[] = {"cpu", "gpu"};
#define N_PATHS 2

static void use_path(const char *path)
{
    test_use_kernels(strcmp(path, "cpu") ? AGECL_FAMILY_GPU : AGECL_FAMILY_CPU);
}

static void default_path(void) { test_use_kernels(AGECL_FAMILY_AUTO); }

static agecl_conv2d_desc desc(int n, int c_in, int h, int w, int c_out, int kernel, int stride)
{
    return (agecl_conv2d_desc){n, c_in, h, w, c_out, kernel, stride, kernel == 3 ? 1 : 0};
}

static int out_h(const agecl_conv2d_desc *d)
{
    return ref_conv2d_out_size(d->h, d->kernel, d->stride, d->pad);
}

static int out_w(const agecl_conv2d_desc *d)
{
    return ref_conv2d_out_size(d->w, d->kernel, d->stride, d->pad);
}

static size_t x_size(const agecl_conv2d_desc *d) { return (size_t)d->n * d->c_in * d->h * d->w; }

static size_t w_size(const agecl_conv2d_desc *d)
{
    return (size_t)d->c_out * d->c_in * d->kernel * d->kernel;
}

static size_t y_size(const agecl_conv2d_desc *d)
{
    return (size_t)d->n * d->c_out * out_h(d) * out_w(d);
}

static void assert_tensor(agecl_ctx *ctx, const char *what, const agecl_tensor *t,
                          const float *want, size_t n, double tol)
{
    float *got = test_download(ctx, t);
    test_assert_close(what, got, want, n, tol);
    free(got);
}

/* A plan of d and the tensors of its calls, all carved from one arena after a small
 * gap, so that each sits at a non-zero offset of a shared buffer, as a model's do.
 * The whole arena is poisoned first (so an output or workspace element that a call
 * reads before writing, or never writes, shows), then the inputs x, wt and dy get
 * the given values (each may be NULL: left poisoned). Each output is followed at
 * once by GUARD elements that no call may write (guard[i] after y, dx and dw). */
#define GUARD 16
typedef struct conv_run {
    agecl_conv2d_plan *plan;
    agecl_arena arena;
    agecl_tensor x, wt, dy, y, dx, dw, ws, guard[3];
} conv_run;

/* An output of shape (n, c, h, w) and, right after it, its guard. */
static void carve_guarded(agecl_arena *a, agecl_tensor *t, agecl_tensor *guard, int n, int c,
                          int h, int w)
{
    agecl_tensor room;
    size_t numel = (size_t)n * c * h * w;
    TEST_OK(agecl_arena_carve(a, &room, 1, 1, 1, (int)(numel + GUARD)));
    *t = room, t->n = n, t->c = c, t->h = h, t->w = w;
    *guard = room, guard->offset += numel, guard->w = GUARD;
}

static void carve_all(conv_run *r, const agecl_conv2d_desc *d, size_t ws_elems)
{
    agecl_tensor gap;
    int n = d->n, ci = d->c_in, co = d->c_out, k = d->kernel, oh = out_h(d), ow = out_w(d);
    TEST_OK(agecl_arena_carve(&r->arena, &gap, 1, 1, 1, 1));
    TEST_OK(agecl_arena_carve(&r->arena, &r->x, n, ci, d->h, d->w));
    TEST_OK(agecl_arena_carve(&r->arena, &r->wt, co, ci, k, k));
    TEST_OK(agecl_arena_carve(&r->arena, &r->dy, n, co, oh, ow));
    carve_guarded(&r->arena, &r->y, &r->guard[0], n, co, oh, ow);
    carve_guarded(&r->arena, &r->dx, &r->guard[1], n, ci, d->h, d->w);
    carve_guarded(&r->arena, &r->dw, &r->guard[2], co, ci, k, k);
    if (ws_elems) TEST_OK(agecl_arena_carve(&r->arena, &r->ws, 1, 1, 1, (int)ws_elems));
}

/* No call wrote past the end of an output (the CPU col2im once stored a row's last
 * vector one element into the next plane, and past the last plane of dx). */
static void assert_guards(agecl_ctx *ctx, const conv_run *r)
{
    static const char *const after[3] = {"y", "dx", "dw"};
    for (int i = 0; i < 3; i++) {
        float *got = test_download(ctx, &r->guard[i]);
        for (int j = 0; j < GUARD; j++)
            if (memcmp(&got[j], &(float){test_poison_value()}, sizeof(float)))
                fail_msg("element %d after %s was written (%g)", j, after[i], got[j]);
        free(got);
    }
}

static conv_run conv_run_make(agecl_ctx *ctx, const agecl_conv2d_desc *d, const float *x,
                              const float *wt, const float *dy)
{
    conv_run r;
    memset(&r, 0, sizeof r);
    TEST_OK(agecl_conv2d_plan_create(ctx, d, AGECL_CONV_IM2COL_GEMM, &r.plan));
    size_t ws = agecl_conv2d_plan_workspace_bytes(r.plan) / sizeof(float);
    agecl_arena_init_counting(&r.arena);
    carve_all(&r, d, ws);
    TEST_OK(agecl_arena_alloc(ctx, &r.arena, 0));
    agecl_arena_reset(&r.arena);
    carve_all(&r, d, ws);
    agecl_tensor all = {r.arena.buf, 0, 1, 1, 1, (int)r.arena.capacity, 0};
    test_poison(ctx, &all);
    if (x) TEST_OK(agecl_tensor_write(ctx, &r.x, x));
    if (wt) TEST_OK(agecl_tensor_write(ctx, &r.wt, wt));
    if (dy) TEST_OK(agecl_tensor_write(ctx, &r.dy, dy));
    return r;
}

static const agecl_tensor *ws_of(const conv_run *r) { return r->ws.buf ? &r->ws : NULL; }

static void conv_run_all(conv_run *r, float beta)
{
    TEST_OK(agecl_conv2d_forward(r->plan, &r->x, &r->wt, beta, &r->y, ws_of(r)));
    TEST_OK(agecl_conv2d_backward_data(r->plan, &r->dy, &r->wt, beta, &r->dx, ws_of(r)));
    TEST_OK(agecl_conv2d_backward_filter(r->plan, &r->x, &r->dy, beta, &r->dw, ws_of(r)));
}

static void conv_run_free(conv_run *r)
{
    agecl_conv2d_plan_destroy(r->plan);
    agecl_arena_free(&r->arena);
}

/* The inputs of the calls are left as they were. */
static void assert_unchanged(agecl_ctx *ctx, const agecl_tensor *t, const float *want)
{
    float *got = test_download(ctx, t);
    assert_memory_equal(got, want, agecl_tensor_numel(t) * sizeof *got);
    free(got);
}

/* The three calls on random data of shape d, on the current path: first with beta 0
 * into poisoned outputs, then (when beta != 0) with beta into outputs holding random
 * values. */
static void check_case_on_path(const agecl_conv2d_desc *d, uint64_t seed, float beta)
{
    agecl_ctx *ctx = test_ctx();
    int oh = out_h(d), ow = out_w(d);
    size_t nx = x_size(d), nw = w_size(d), ny = y_size(d);
    test_rng r = test_rng_seed(seed);
    float *x = test_random(&r, nx, -1, 1), *wt = test_random(&r, nw, -1, 1);
    float *dy = test_random(&r, ny, -1, 1);
    double *xd = test_to_double(x, nx), *wd = test_to_double(wt, nw);
    double *dyd = test_to_double(dy, ny);
    double *y_ref = malloc(ny * sizeof *y_ref), *dx_ref = malloc(nx * sizeof *dx_ref);
    double *dw_ref = malloc(nw * sizeof *dw_ref);
    assert_true(y_ref && dx_ref && dw_ref);
    ref_conv2d_forward(d, xd, wd, y_ref);
    ref_conv2d_backward_data(d, dyd, wd, dx_ref);
    ref_conv2d_backward_filter(d, xd, dyd, dw_ref);

    conv_run c = conv_run_make(ctx, d, x, wt, dy);
    int sn, sc, sh, sw;
    agecl_conv2d_plan_out_shape(c.plan, &sn, &sc, &sh, &sw);
    assert_true(sn == d->n && sc == d->c_out && sh == oh && sw == ow);
    conv_run_all(&c, 0.0f);
    float *want_y = test_plus_beta(y_ref, NULL, 0, ny);
    float *want_dx = test_plus_beta(dx_ref, NULL, 0, nx);
    float *want_dw = test_plus_beta(dw_ref, NULL, 0, nw);
    assert_tensor(ctx, "forward y", &c.y, want_y, ny, TOL);
    assert_tensor(ctx, "backward_data dx", &c.dx, want_dx, nx, TOL);
    assert_tensor(ctx, "backward_filter dw", &c.dw, want_dw, nw, TOL_DW);
    assert_guards(ctx, &c);
    free(want_y), free(want_dx), free(want_dw);

    if (beta != 0.0f) {
        float *oy = test_random(&r, ny, -1, 1), *odx = test_random(&r, nx, -1, 1);
        float *odw = test_random(&r, nw, -1, 1);
        TEST_OK(agecl_tensor_write(ctx, &c.y, oy));
        TEST_OK(agecl_tensor_write(ctx, &c.dx, odx));
        TEST_OK(agecl_tensor_write(ctx, &c.dw, odw));
        conv_run_all(&c, beta);
        want_y = test_plus_beta(y_ref, oy, beta, ny);
        want_dx = test_plus_beta(dx_ref, odx, beta, nx);
        want_dw = test_plus_beta(dw_ref, odw, beta, nw);
        assert_tensor(ctx, "forward y with beta", &c.y, want_y, ny, TOL);
        assert_tensor(ctx, "backward_data dx with beta", &c.dx, want_dx, nx, TOL);
        assert_tensor(ctx, "backward_filter dw with beta", &c.dw, want_dw, nw, TOL_DW);
        assert_guards(ctx, &c);
        free(want_y), free(want_dx), free(want_dw);
        free(oy), free(odx), free(odw);
    }
    assert_unchanged(ctx, &c.x, x);
    assert_unchanged(ctx, &c.wt, wt);
    assert_unchanged(ctx, &c.dy, dy);
    conv_run_free(&c);
    free(x), free(wt), free(dy), free(xd), free(wd), free(dyd);
    free(y_ref), free(dx_ref), free(dw_ref);
}

/* check_case_on_path on each path. */
static void check_case(const agecl_conv2d_desc *d, uint64_t seed, float beta)
{
    for (int i = 0; i < N_PATHS; i++) {
        use_path(paths[i]);
        check_case_on_path(d, seed, beta);
    }
    default_path();
}

static void test_awkward_shapes(void **state)
{
    (void)state;
    const agecl_conv2d_desc cases[] = {
        desc(3, 5, 7, 7, 7, 3, 1),      desc(3, 5, 15, 15, 7, 3, 2),  /* 15 -> 8 */
        desc(1, 3, 15, 15, 7, 1, 2),    /* 15 -> 8 */
        desc(3, 130, 7, 7, 7, 3, 1),    desc(1, 64, 14, 14, 130, 3, 2),
        desc(3, 64, 1, 1, 7, 3, 1),     desc(3, 5, 1, 1, 3, 3, 2),
        desc(3, 130, 14, 14, 7, 1, 1),  desc(3, 7, 14, 14, 5, 1, 2),
        desc(1, 5, 15, 7, 3, 3, 2),     desc(3, 3, 1, 1, 5, 1, 1),
        desc(64, 3, 7, 7, 5, 3, 2),     desc(3, 64, 14, 14, 64, 3, 1),
        desc(2, 3, 5, 9, 4, 3, 1),      desc(2, 3, 9, 5, 4, 3, 1),
        desc(1, 2, 2, 20, 3, 3, 1),     desc(1, 2, 20, 2, 3, 3, 1),
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) check_case(&cases[i], 100 + i, 0);
}

static void test_beta_accumulates(void **state)
{
    (void)state;
    check_case((agecl_conv2d_desc[]){desc(3, 5, 15, 15, 7, 3, 2)}, 200, 1.0f);
    check_case((agecl_conv2d_desc[]){desc(3, 5, 14, 14, 7, 3, 1)}, 201, 1.0f);
    check_case((agecl_conv2d_desc[]){desc(3, 5, 15, 15, 7, 1, 2)}, 202, 1.0f);
    check_case((agecl_conv2d_desc[]){desc(3, 5, 7, 7, 7, 1, 1)}, 203, -0.5f);
}

static void test_112_small_channels(void **state)
{
    (void)state;
    check_case((agecl_conv2d_desc[]){desc(1, 3, 112, 112, 5, 3, 1)}, 300, 1.0f);
    check_case((agecl_conv2d_desc[]){desc(1, 3, 112, 112, 4, 3, 2)}, 301, 0);
}

/* Every row length from 1 to 40 (and heights 1 to 4 on the way), for the three
 * geometries, on the CPU path: its kernels run along flat planes with stride 1, and
 * whole, partial and overlapping vectors of 16, 8 and 4 with stride 2. (The GPU
 * path's kernels have no such cases, and on PoCL each new global size of theirs
 * compiles them again.) */
static void test_row_lengths(void **state)
{
    (void)state;
    use_path("cpu");
    for (int w = 1; w <= 40; w++) {
        int h = 1 + w % 4;
        check_case_on_path((agecl_conv2d_desc[]){desc(2, 2, h, w, 3, 3, 1)}, 600 + w,
                           w % 2 ? 0 : 1.0f);
        check_case_on_path((agecl_conv2d_desc[]){desc(2, 2, h + 2, w, 3, 3, 2)}, 700 + w,
                           w % 3 ? 0 : 0.5f);
        check_case_on_path((agecl_conv2d_desc[]){desc(1, 2, h, w, 3, 1, 2)}, 800 + w,
                           w % 2 ? 1.0f : 0);
    }
    default_path();
}

/* 64 channels at 112 x 112 need 32 MB of workspace per sample: a batch of 3 runs in
 * chunks (of 2 and 1 on the GPU path, whose chunks fill up to 64 MiB; of 1, or with
 * a cache of 256 MB or more of 2 and 1, on the CPU path, whose chunks fill an eighth
 * of the cache), and the weight gradient adds the chunks up. */
static void test_batch_in_chunks(void **state)
{
    (void)state;
    agecl_conv2d_desc d = desc(3, 64, 112, 112, 3, 3, 1);
    size_t per_sample = (64 * 9 + 3) * 112 * 112 * sizeof(float);
    for (int i = 0; i < N_PATHS; i++) {
        use_path(paths[i]);
        agecl_conv2d_plan *p;
        TEST_OK(agecl_conv2d_plan_create(test_ctx(), &d, AGECL_CONV_IM2COL_GEMM, &p));
        size_t ws = agecl_conv2d_plan_workspace_bytes(p);
        if (strcmp(paths[i], "cpu"))
            assert_int_equal(ws, 2 * per_sample);
        else
            assert_true(ws == per_sample || ws == 2 * per_sample);
        agecl_conv2d_plan_destroy(p);
        check_case_on_path(&d, 400, 1.0f);
    }
    default_path();
}

/* The workspace stays under the limit at every IR-50 shape at batch 64. */
static void test_plans_at_ir50_shapes(void **state)
{
    (void)state;
    const agecl_conv2d_desc ir50[] = {
        desc(64, 3, 112, 112, 64, 3, 1),   desc(64, 64, 112, 112, 64, 3, 1),
        desc(64, 64, 112, 112, 64, 3, 2),  desc(64, 64, 56, 56, 64, 3, 1),
        desc(64, 64, 56, 56, 128, 3, 1),   desc(64, 128, 56, 56, 128, 3, 2),
        desc(64, 64, 56, 56, 128, 1, 2),   desc(64, 128, 28, 28, 128, 3, 1),
        desc(64, 128, 28, 28, 256, 3, 1),  desc(64, 256, 28, 28, 256, 3, 2),
        desc(64, 128, 28, 28, 256, 1, 2),  desc(64, 256, 14, 14, 256, 3, 1),
    };
    for (int pi = 0; pi < N_PATHS; pi++) {
        use_path(paths[pi]);
        for (size_t i = 0; i < sizeof ir50 / sizeof ir50[0]; i++) {
            agecl_conv2d_plan *p;
            TEST_OK(agecl_conv2d_plan_create(test_ctx(), &ir50[i], AGECL_CONV_IM2COL_GEMM, &p));
            for (int pass = 0; pass < AGECL_CONV_PASS_COUNT; pass++)
                assert_int_equal(agecl_conv2d_plan_algo(p, pass), AGECL_CONV_IM2COL_GEMM);
            size_t ws = agecl_conv2d_plan_workspace_bytes(p);
            assert_true(ws > 0 && ws <= AGECL_CONV2D_WORKSPACE_LIMIT);
            agecl_conv2d_plan_destroy(p);
        }
    }
    default_path();
    /* 1x1 stride 1 multiplies x directly: no workspace (the 1x1 stride-1 cases of
     * test_awkward_shapes pass NULL). */
    agecl_conv2d_plan *p;
    agecl_conv2d_desc d = desc(2, 4, 3, 3, 2, 1, 1);
    TEST_OK(agecl_conv2d_plan_create(test_ctx(), &d, AGECL_CONV_IM2COL_GEMM, &p));
    assert_int_equal(agecl_conv2d_plan_workspace_bytes(p), 0);
    agecl_conv2d_plan_destroy(p);
}

/* L = sum(y * g) is linear in x and in wt, so its central differences are exact but
 * for rounding: they must match the reference's backward calls closely. */
static void test_reference_against_finite_differences(void **state)
{
    (void)state;
    const agecl_conv2d_desc cases[] = {desc(2, 3, 5, 4, 2, 3, 1), desc(2, 3, 5, 4, 2, 3, 2),
                                       desc(2, 3, 5, 4, 2, 1, 2), desc(2, 3, 5, 4, 2, 1, 1)};
    for (size_t ci = 0; ci < sizeof cases / sizeof cases[0]; ci++) {
        const agecl_conv2d_desc *d = &cases[ci];
        size_t nx = x_size(d), nw = w_size(d), ny = y_size(d);
        test_rng r = test_rng_seed(500 + ci);
        double *x = malloc(nx * sizeof *x), *wt = malloc(nw * sizeof *wt);
        double *g = malloc(ny * sizeof *g), *y = malloc(ny * sizeof *y);
        double *dx = malloc(nx * sizeof *dx), *dw = malloc(nw * sizeof *dw);
        assert_true(x && wt && g && y && dx && dw);
        for (size_t i = 0; i < nx; i++) x[i] = test_rng_normal(&r);
        for (size_t i = 0; i < nw; i++) wt[i] = test_rng_normal(&r);
        for (size_t i = 0; i < ny; i++) g[i] = test_rng_normal(&r);
        ref_conv2d_backward_data(d, g, wt, dx);
        ref_conv2d_backward_filter(d, x, g, dw);
        /* Perturb every element of x, then of wt. */
        struct { double *v, *grad; size_t n; const char *name; } params[] = {
            {x, dx, nx, "dx"}, {wt, dw, nw, "dw"}};
        for (int pi = 0; pi < 2; pi++) {
            double max_err = 0, max_grad = 0, eps = 1e-4;
            for (size_t i = 0; i < params[pi].n; i++) {
                double keep = params[pi].v[i], loss[2];
                for (int side = 0; side < 2; side++) {
                    params[pi].v[i] = keep + (side ? -eps : eps);
                    ref_conv2d_forward(d, x, wt, y);
                    loss[side] = 0;
                    for (size_t j = 0; j < ny; j++) loss[side] += y[j] * g[j];
                }
                params[pi].v[i] = keep;
                double fd = (loss[0] - loss[1]) / (2 * eps);
                max_err = fmax(max_err, fabs(fd - params[pi].grad[i]));
                max_grad = fmax(max_grad, fabs(params[pi].grad[i]));
            }
            if (max_err > 1e-7 * max_grad)
                fail_msg("case %zu: %s differs from finite differences by %.3g (max %.3g)", ci,
                         params[pi].name, max_err, max_grad);
        }
        free(x), free(wt), free(g), free(y), free(dx), free(dw);
    }
}

/* x = 1..9 in a 3 x 3 image, a 3 x 3 kernel of ones, padding 1: every output is the
 * sum of its pixel's neighbourhood. */
static void test_hand_computed(void **state)
{
    (void)state;
    agecl_ctx *ctx = test_ctx();
    float x[9], ones[9];
    double xd[9], wd[9], y[9];
    for (int i = 0; i < 9; i++) x[i] = (float)(xd[i] = i + 1), ones[i] = (float)(wd[i] = 1);
    const float s1[9] = {12, 21, 16, 27, 45, 33, 24, 39, 28}, s2[4] = {12, 16, 24, 28};
    for (int stride = 1; stride <= 2; stride++) {
        agecl_conv2d_desc d = desc(1, 1, 3, 3, 1, 3, stride);
        const float *want = stride == 1 ? s1 : s2;
        size_t ny = y_size(&d);
        ref_conv2d_forward(&d, xd, wd, y);
        for (size_t i = 0; i < ny; i++) assert_true(y[i] == want[i]);
        conv_run c = conv_run_make(ctx, &d, x, ones, NULL);
        TEST_OK(agecl_conv2d_forward(c.plan, &c.x, &c.wt, 0.0f, &c.y, ws_of(&c)));
        assert_tensor(ctx, "hand-computed y", &c.y, want, ny, 0);
        conv_run_free(&c);
    }
}

static float *read_fixture(agecl_st_file *f, const char *cs, const char *what, int n, int c,
                           int h, int w)
{
    char name[64];
    snprintf(name, sizeof name, "%s.%s", cs, what);
    int shape[4] = {n, c, h, w};
    float *v = malloc((size_t)n * c * h * w * sizeof *v);
    assert_non_null(v);
    TEST_OK(agecl_st_read_f32(f, name, v, (size_t)n * c * h * w, shape, 4));
    return v;
}

/* PyTorch's conv2d and its autograd gradients (tools/fixtures/gen_conv.py). */
static void test_against_pytorch(void **state)
{
    (void)state;
    agecl_ctx *ctx = test_ctx();
    char path[1024];
    agecl_st_file *f;
    TEST_OK(agecl_st_open(test_fixture("conv.safetensors", path, sizeof path), &f));
    const struct { const char *name; agecl_conv2d_desc d; } cases[] = {
        {"k3s1", desc(2, 3, 9, 9, 4, 3, 1)},
        {"k3s2", desc(2, 5, 9, 8, 3, 3, 2)},
        {"k1s2", desc(2, 4, 9, 9, 6, 1, 2)},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *cs = cases[i].name;
        const agecl_conv2d_desc *d = &cases[i].d;
        char key[64];
        snprintf(key, sizeof key, "%s.stride", cs);
        assert_non_null(agecl_st_meta(f, key));
        assert_int_equal(atoi(agecl_st_meta(f, key)), d->stride);
        snprintf(key, sizeof key, "%s.pad", cs);
        assert_non_null(agecl_st_meta(f, key));
        assert_int_equal(atoi(agecl_st_meta(f, key)), d->pad);
        int oh = out_h(d), ow = out_w(d), k = d->kernel;
        float *x = read_fixture(f, cs, "x", d->n, d->c_in, d->h, d->w);
        float *wt = read_fixture(f, cs, "w", d->c_out, d->c_in, k, k);
        float *dy = read_fixture(f, cs, "dy", d->n, d->c_out, oh, ow);
        float *y = read_fixture(f, cs, "y", d->n, d->c_out, oh, ow);
        float *dx = read_fixture(f, cs, "dx", d->n, d->c_in, d->h, d->w);
        float *dw = read_fixture(f, cs, "dw", d->c_out, d->c_in, k, k);
        conv_run c = conv_run_make(ctx, d, x, wt, dy);
        conv_run_all(&c, 0.0f);
        char what[64];
        snprintf(what, sizeof what, "pytorch %s y", cs);
        assert_tensor(ctx, what, &c.y, y, y_size(d), TOL);
        snprintf(what, sizeof what, "pytorch %s dx", cs);
        assert_tensor(ctx, what, &c.dx, dx, x_size(d), TOL);
        snprintf(what, sizeof what, "pytorch %s dw", cs);
        assert_tensor(ctx, what, &c.dw, dw, w_size(d), TOL_DW);
        conv_run_free(&c);
        free(x), free(wt), free(dy), free(y), free(dx), free(dw);
    }
    agecl_st_close(f);
}

/* status, and a detail that names the call (and the tensor, when given). */
static void assert_fails(agecl_status got, agecl_status want, const char *op, const char *name)
{
    assert_int_equal(got, want);
    if (!strstr(agecl_last_error(), op) || (name && !strstr(agecl_last_error(), name)))
        fail_msg("detail '%s' does not name %s %s", agecl_last_error(), op, name ? name : "");
}

static void test_bad_arguments(void **state)
{
    (void)state;
    agecl_ctx *ctx = test_ctx();
    agecl_conv2d_plan *p = NULL;
    agecl_conv2d_desc d = desc(2, 3, 7, 7, 4, 3, 2);
    const char *create = "conv2d_plan_create";
    agecl_conv2d_desc bad = d;
    bad.kernel = 5, bad.pad = 2;
    assert_fails(agecl_conv2d_plan_create(ctx, &bad, AGECL_CONV_AUTO, &p), AGECL_E_UNSUPPORTED,
                 create, "kernel 5");
    bad = d, bad.pad = 0;
    assert_fails(agecl_conv2d_plan_create(ctx, &bad, AGECL_CONV_AUTO, &p), AGECL_E_UNSUPPORTED,
                 create, "padding 0");
    bad = d, bad.stride = 3;
    assert_fails(agecl_conv2d_plan_create(ctx, &bad, AGECL_CONV_AUTO, &p), AGECL_E_UNSUPPORTED,
                 create, "stride 3");
    bad = d, bad.c_in = 0;
    assert_fails(agecl_conv2d_plan_create(ctx, &bad, AGECL_CONV_AUTO, &p), AGECL_E_INVALID_ARG,
                 create, "c_in 0");
    assert_fails(agecl_conv2d_plan_create(ctx, &d, (agecl_conv2d_algo)99, &p),
                 AGECL_E_INVALID_ARG, create, "algorithm");
    assert_fails(agecl_conv2d_plan_create(NULL, &d, AGECL_CONV_AUTO, &p), AGECL_E_INVALID_ARG,
                 create, NULL);
    assert_null(p);

    agecl_conv2d_plan *plan;
    TEST_OK(agecl_conv2d_plan_create(ctx, &d, AGECL_CONV_IM2COL_GEMM, &plan));
    size_t ws_elems = agecl_conv2d_plan_workspace_bytes(plan) / sizeof(float);
    assert_true(ws_elems > 0);
    agecl_tensor work = test_upload(ctx, 1, 1, 1, (int)ws_elems, NULL);
    agecl_tensor x = test_upload(ctx, 2, 3, 7, 7, NULL), wt = test_upload(ctx, 4, 3, 3, 3, NULL);
    agecl_tensor y = test_upload(ctx, 2, 4, 4, 4, NULL);
    agecl_tensor x5 = test_upload(ctx, 2, 5, 7, 7, NULL), w1 = test_upload(ctx, 4, 3, 1, 1, NULL);
    agecl_tensor y8 = test_upload(ctx, 2, 4, 8, 8, NULL);
    const agecl_tensor *ws = &work;
    const char *fwd = "conv2d_forward", *bd = "conv2d_backward_data";
    const char *bf = "conv2d_backward_filter";
    TEST_OK(agecl_conv2d_forward(plan, &x, &wt, 0, &y, ws)); /* the shapes that fit */
    assert_fails(agecl_conv2d_forward(plan, &x5, &wt, 0, &y, ws), AGECL_E_SHAPE, fwd, "x is");
    assert_fails(agecl_conv2d_forward(plan, &x, &w1, 0, &y, ws), AGECL_E_SHAPE, fwd, "wt is");
    assert_fails(agecl_conv2d_forward(plan, &x, &wt, 0, &y8, ws), AGECL_E_SHAPE, fwd, "y is");
    assert_fails(agecl_conv2d_forward(plan, NULL, &wt, 0, &y, ws), AGECL_E_INVALID_ARG, fwd,
                 "x");
    assert_fails(agecl_conv2d_forward(NULL, &x, &wt, 0, &y, ws), AGECL_E_INVALID_ARG, fwd,
                 "plan");
    assert_fails(agecl_conv2d_backward_data(plan, &y8, &wt, 0, &x, ws), AGECL_E_SHAPE, bd,
                 "dy is");
    assert_fails(agecl_conv2d_backward_data(plan, &y, &wt, 0, &x5, ws), AGECL_E_SHAPE, bd,
                 "dx is");
    assert_fails(agecl_conv2d_backward_filter(plan, &x, &y, 0, &w1, ws), AGECL_E_SHAPE, bf,
                 "dw is");
    assert_fails(agecl_conv2d_backward_filter(plan, &x, NULL, 0, &wt, ws), AGECL_E_INVALID_ARG,
                 bf, "dy");
    /* The workspace: missing, or one element short. */
    assert_fails(agecl_conv2d_forward(plan, &x, &wt, 0, &y, NULL), AGECL_E_INVALID_ARG, fwd,
                 "workspace");
    agecl_tensor short_ws;
    TEST_OK(agecl_tensor_view(ws, 0, 1, 1, 1, (int)agecl_tensor_numel(ws) - 1, &short_ws));
    assert_fails(agecl_conv2d_backward_filter(plan, &x, &y, 0, &wt, &short_ws), AGECL_E_SHAPE,
                 bf, "workspace");
    agecl_tensor_free(&x), agecl_tensor_free(&wt), agecl_tensor_free(&y);
    agecl_tensor_free(&x5), agecl_tensor_free(&w1), agecl_tensor_free(&y8);
    agecl_tensor_free(&work);
    agecl_conv2d_plan_destroy(plan);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reference_against_finite_differences),
        cmocka_unit_test(test_hand_computed),
        cmocka_unit_test(test_awkward_shapes),
        cmocka_unit_test(test_beta_accumulates),
        cmocka_unit_test(test_112_small_channels),
        cmocka_unit_test(test_row_lengths),
        cmocka_unit_test(test_batch_in_chunks),
        cmocka_unit_test(test_plans_at_ir50_shapes),
        cmocka_unit_test(test_against_pytorch),
        cmocka_unit_test(test_bad_arguments),
    };
    int failed = TEST_RUN_GROUP(tests, NULL, NULL);
    test_ctx_release();
    return failed;
}
